/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vhci_hcd's status files as the 6.1 kernel prints them, port choice by
 * speed half and controller set, and the --vhci/--pin list syntax; and the
 * sysfs writes a program keeps after it stops being root. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel/sysfs.h"
#include "usbip/usbip_proto.h"
#include "kernel/vhci.h"

/* vhci_hcd.0's status with port 0 in use, printed by port_show_vhci() */
static const char status0[] =
	"hub port sta spd dev      sockfd local_busid\n"
	"hs  0000 006 003 00110002 000005 3-1\n"
	"hs  0001 004 000 00000000 000000 0-0\n"
	"ss  0002 004 000 00000000 000000 0-0\n"
	"ss  0003 004 000 00000000 000000 0-0\n";
/* controller 1 (status.1): ports continue the numbering */
static const char status1[] =
	"hub port sta spd dev      sockfd local_busid\n"
	"hs  0004 004 000 00000000 000000 0-0\n"
	"hs  0005 004 000 00000000 000000 0-0\n"
	"ss  0006 006 005 00020003 000007 5-1\n"
	"ss  0007 004 000 00000000 000000 0-0\n";
/* kernels before 5.x printed the sockfd as a pointer */
static const char old_format[] =
	"hub port sta spd dev      sockfd local_busid\n"
	"hs  0000 004 000 00000000 0000000000000000 0-0\n";

static void parse_both(struct vhci_port *ports, size_t *n)
{
	char why[200];

	*n = 0;
	assert_int_equal(vhci_parse_status(status0, 0, ports, 16, n, why, sizeof(why)), 0);
	assert_int_equal(vhci_parse_status(status1, 1, ports, 16, n, why, sizeof(why)), 0);
	assert_int_equal(*n, 8);
}

static void test_parse(void **state)
{
	struct vhci_port ports[16];
	size_t n;
	char why[200];

	(void)state;
	parse_both(ports, &n);
	assert_int_equal(ports[0].port, 0);
	assert_int_equal(ports[0].status, VHCI_ST_USED);
	assert_int_equal(ports[0].speed, 3);
	assert_int_equal(ports[0].devid, 0x00110002);
	assert_string_equal(ports[0].local_busid, "3-1");
	assert_false(ports[0].superspeed);
	assert_true(ports[2].superspeed);
	assert_int_equal(ports[6].port, 6);
	assert_int_equal(ports[6].controller, 1);
	assert_int_equal(ports[6].status, VHCI_ST_USED);
	n = 0;
	assert_int_equal(vhci_parse_status(old_format, 0, ports, 16, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ports[0].status, VHCI_ST_NULL);
}

static void test_parse_refusals(void **state)
{
	static const struct { const char *text; int want; const char *why; } rows[] = {
		{ "hdr\nxx  0000 004 000 00000000 000000 0-0\n", USBWS_ERR_INVAL,
		  "vhci status line 2 does not parse: \"xx  0000 004 000 00000000 000000 0-0\"" },
		{ "hdr\nhs  0000 004\n", USBWS_ERR_INVAL, "vhci status line 2 does not parse: \"hs  0000 004\"" },
		{ "hdr\nhs  0000 004 000 00000000 000000 0-0\nhs  0001 004 000 00000000 000000 0-0\n"
		  "hs  0002 004 000 00000000 000000 0-0\n", USBWS_ERR_NOSPACE, "more than 2 vhci ports" },
	};
	struct vhci_port ports[2];
	char why[200];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		n = 0;
		assert_usbws_err(vhci_parse_status(rows[i].text, 0, ports, 2, &n, why, sizeof(why)), rows[i].want);
		assert_string_equal(why, rows[i].why);
	}
}

static void test_pick(void **state)
{
	struct vhci_port ports[16];
	struct vhci_set only1;
	char why[200];
	size_t n;

	(void)state;
	parse_both(ports, &n);
	/* high speed: the hs half, port 0 is taken */
	assert_int_equal(vhci_pick(ports, n, USBIP_SPEED_HIGH, NULL)->port, 1);
	assert_int_equal(vhci_pick(ports, n, USBIP_SPEED_LOW, NULL)->port, 1);
	/* SuperSpeed and faster: the ss half */
	assert_int_equal(vhci_pick(ports, n, USBIP_SPEED_SUPER, NULL)->port, 2);
	assert_int_equal(vhci_pick(ports, n, USBIP_SPEED_SUPER_PLUS, NULL)->port, 2);
	/* pinned to controller 1 */
	assert_int_equal(vhci_parse_set("vhci_hcd.1", &only1, why, sizeof(why)), 0);
	assert_int_equal(vhci_pick(ports, n, USBIP_SPEED_HIGH, &only1)->port, 4);
	assert_int_equal(vhci_pick(ports, n, USBIP_SPEED_SUPER, &only1)->port, 7);
	/* full */
	ports[4].status = ports[5].status = VHCI_ST_USED;
	assert_null(vhci_pick(ports, n, USBIP_SPEED_HIGH, &only1));
	ports[7].status = VHCI_ST_NOTASSIGNED;
	assert_null(vhci_pick(ports, n, USBIP_SPEED_SUPER, &only1));
}

static void test_sets(void **state)
{
	struct vhci_set set;
	char why[200];

	(void)state;
	assert_int_equal(vhci_parse_set("0,2,vhci_hcd.5", &set, why, sizeof(why)), 0);
	assert_true(set.restricted);
	assert_true(set.allowed[0] && set.allowed[2] && set.allowed[5]);
	assert_false(set.allowed[1] || set.allowed[3]);
	static const char *const bad[] = { "", "x", "1,", ",1", "128", "vhci_hcd.", "1;2", "-1", "99999999999999999999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_usbws_err(vhci_parse_set(bad[i], &set, why, sizeof(why)), USBWS_ERR_INVAL);
		assert_non_null(strstr(why, "expected vhci_hcd numbers like 0,2 or vhci_hcd.3, each below 128"));
	}
}

static void slurp(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	fclose(f);
}

/* A held path is written through the fd opened at sysfs_hold: the file
 * opened then gets the write even once the path names another (as a
 * process that dropped root can no longer open the path itself). */
static void test_sysfs_hold(void **state)
{
	char dir[] = "/tmp/usbws-hold-XXXXXX", path[128], moved[128], got[32];
	FILE *f;
	int i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	sysfs_set_root(dir);
	snprintf(path, sizeof(path), "%s/attach", dir);
	snprintf(moved, sizeof(moved), "%s/attach.held", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("previous contents, longer", f);
	fclose(f);
	assert_int_equal(sysfs_hold("attach"), 0);
	/* twice is once */
	assert_int_equal(sysfs_hold("%s", "attach"), 0);
	assert_int_equal(rename(path, moved), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(sysfs_write("16 5 65537 3", "attach"), 0);
	slurp(moved, got, sizeof(got));
	/* the whole file is the last write, as sysfs has it */
	assert_string_equal(got, "16 5 65537 3");
	slurp(path, got, sizeof(got));
	assert_string_equal(got, "");
	/* an unheld path is opened as before */
	assert_usbws_err(sysfs_write("16", "detach"), USBWS_ERR_SYSTEM);
	assert_int_equal(errno, ENOENT);
	/* a missing file cannot be held; a full table says so */
	assert_usbws_err(sysfs_hold("detach"), USBWS_ERR_SYSTEM);
	assert_int_equal(errno, ENOENT);
	for (i = 1; i < SYSFS_MAX_HELD; i++) {
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		fclose(fopen(path, "w"));
		assert_int_equal(sysfs_hold("f%d", i), 0);
	}
	snprintf(path, sizeof(path), "%s/one-more", dir);
	fclose(fopen(path, "w"));
	assert_usbws_err(sysfs_hold("one-more"), USBWS_ERR_SYSTEM);
	assert_int_equal(errno, ENOSPC);
	/* the fds stay open for the process's life: the files go, the test's tree too */
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_sets),
		cmocka_unit_test(test_sysfs_hold),
	};

	return cmocka_run_group_tests_name("vhci", tests, NULL, NULL);
}
