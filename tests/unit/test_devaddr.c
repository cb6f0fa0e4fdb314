/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Stable device addresses (proxy/devaddr.c): a pure function of who the
 * node is and what the device is, never of when either came. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "proxy/devaddr.h"
#include "testutil.h"

static int make(const char *node, const char *serial, const char *busid, int ignore_serial,
		char out[USBIP_BUSID_SIZE])
{
	struct devaddr_source src = {
		.node = node,
		.vid = 0x0525,
		.pid = 0xa4a5,
		.serial = serial,
		.node_busid = busid,
		.ignore_serial = ignore_serial,
	};

	return devaddr_make(&src, out);
}

/* The mapping is written down (doc/fleet.md) and must not drift: these
 * are what Python's hashlib computes from that description. */
static void test_known_answers(void **state)
{
	char id[USBIP_BUSID_SIZE];

	(void)state;
	assert_int_equal(make("gw-17", "FP-0042", "1-1", 0, id), 1);
	assert_string_equal(id, "gw-17-cf3a287cbce0d616");
	assert_int_equal(make("gw-17", NULL, "1-1", 0, id), 0);
	assert_string_equal(id, "gw-17-4ef05bf274bfce3a");
	assert_int_equal(make("gw-17", "", "1-1", 0, id), 0);
	assert_string_equal(id, "gw-17-4ef05bf274bfce3a");
}

/* A device with a serial keeps its address on any port; one without keeps
 * it on its port; address=port puts a serial aside. */
static void test_what_the_address_follows(void **state)
{
	char a[USBIP_BUSID_SIZE], b[USBIP_BUSID_SIZE];

	(void)state;
	make("gw-17", "FP-0042", "1-1", 0, a);
	make("gw-17", "FP-0042", "3-4.2", 0, b);
	assert_string_equal(a, b);
	make("gw-17", NULL, "1-1", 0, a);
	make("gw-17", NULL, "1-2", 0, b);
	assert_string_not_equal(a, b);
	make("gw-17", "FP-0042", "1-1", 1, a);
	make("gw-17", NULL, "1-1", 0, b);
	assert_string_equal(a, b);
	/* another node's device of the same serial is another device */
	make("gw-17", "FP-0042", "1-1", 0, a);
	make("gw-18", "FP-0042", "1-1", 0, b);
	assert_string_not_equal(a + 6, b + 6);
	/* a serial that reads like a busid is still a serial */
	make("gw-17", "1-1", "9-9", 0, a);
	make("gw-17", NULL, "1-1", 0, b);
	assert_string_not_equal(a, b);
	/* fields end where they end: "ab"+"c" is not "a"+"bc" */
	make("gw-1", "7x", "1-1", 0, a);
	make("gw-17", "x", "1-1", 0, b);
	assert_string_not_equal(a + 5, b + 6);
}

/* The prefix is for people: at most 14 bytes of the identity, anything
 * outside [A-Za-z0-9._-] as '_'; the whole fits a USB/IP busid. */
static void test_prefix_and_length(void **state)
{
	char id[USBIP_BUSID_SIZE], longest[65];

	(void)state;
	make("gw 17/\xc3\xa9t\xc3\xa9", NULL, "1-1", 0, id);
	assert_memory_equal(id, "gw_17___t__-", 12);
	memset(longest, 'n', 64);
	longest[64] = 0;
	make(longest, "S", "1-1", 0, id);
	assert_int_equal(strlen(id), DEVADDR_PREFIX_MAX + 1 + DEVADDR_HASH_HEX);
	assert_int_equal(strlen(id), USBIP_BUSID_SIZE - 1);
	assert_memory_equal(id, "nnnnnnnnnnnnnn-", 15);
	assert_int_equal(strspn(id + 15, "0123456789abcdef"), DEVADDR_HASH_HEX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_what_the_address_follows),
		cmocka_unit_test(test_prefix_and_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
