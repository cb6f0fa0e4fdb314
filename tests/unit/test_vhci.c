/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vhci_hcd's status files as the 6.1 kernel prints them, port choice by
 * speed half and controller set, and the --vhci/--pin list syntax. */
#include "testutil.h"

#include <string.h>

#include "usbip_proto.h"
#include "vhci.h"

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
	static const struct { const char *text; const char *why; } rows[] = {
		{ "hdr\nxx  0000 004 000 00000000 000000 0-0\n",
		  "vhci status line 2 does not parse: \"xx  0000 004 000 00000000 000000 0-0\"" },
		{ "hdr\nhs  0000 004\n", "vhci status line 2 does not parse: \"hs  0000 004\"" },
		{ "hdr\nhs  0000 004 000 00000000 000000 0-0\nhs  0001 004 000 00000000 000000 0-0\n"
		  "hs  0002 004 000 00000000 000000 0-0\n", "more than 2 vhci ports" },
	};
	struct vhci_port ports[2];
	char why[200];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		n = 0;
		assert_int_equal(vhci_parse_status(rows[i].text, 0, ports, 2, &n, why, sizeof(why)), -1);
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
		assert_int_equal(vhci_parse_set(bad[i], &set, why, sizeof(why)), -1);
		assert_non_null(strstr(why, "expected vhci_hcd numbers like 0,2 or vhci_hcd.3, each below 128"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_sets),
	};

	return cmocka_run_group_tests_name("vhci", tests, NULL, NULL);
}
