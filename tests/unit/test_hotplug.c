/* SPDX-License-Identifier: GPL-2.0-or-later */
/* --match VID:PID parsing and which devices a hotplug filter takes. */
#include "testutil.h"

#include <string.h>

#include "usbws/hotplug_match.h"

static void test_parse_accepts(void **state)
{
	static const struct { const char *text; uint16_t vendor, product; } rows[] = {
		{ "0525:a4a5", 0x0525, 0xa4a5 },
		{ "0525:A4A5", 0x0525, 0xa4a5 },
		{ "1d6B:0002", 0x1d6b, 0x0002 },
		{ "ffff:ffff", 0xffff, 0xffff },
		{ "0000:0000", 0x0000, 0x0000 },
		/* lsusb pads to four digits; fewer are the same number */
		{ "525:1", 0x0525, 0x0001 },
	};
	struct hotplug_match m;
	char why[200];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(&m, 0xee, sizeof(m));
		assert_int_equal(hotplug_parse_match(rows[i].text, &m, why, sizeof(why)), 0);
		assert_int_equal(m.vendor, rows[i].vendor);
		assert_int_equal(m.product, rows[i].product);
	}
}

static void test_parse_refuses(void **state)
{
	static const struct { const char *text; const char *why; } rows[] = {
		{ "0525a4a5", "no colon between vendor and product; expected VID:PID in hex, e.g. 0525:a4a5" },
		{ "", "no colon between vendor and product; expected VID:PID in hex, e.g. 0525:a4a5" },
		{ ":a4a5", "the vendor ID is missing; expected VID:PID in hex, e.g. 0525:a4a5" },
		{ "0525:", "the product ID is missing; expected VID:PID in hex, e.g. 0525:a4a5" },
		{ "05z5:a4a5", "the vendor ID \"05z5\" is not hexadecimal; expected VID:PID in hex, e.g. 0525:a4a5" },
		{ "0525:a4g5", "the product ID \"a4g5\" is not hexadecimal; expected VID:PID in hex, e.g. 0525:a4a5" },
		{ "0x25:a4a5", "the vendor ID \"0x25\" is not hexadecimal; expected VID:PID in hex, e.g. 0525:a4a5" },
		{ "0525:*", "the product ID \"*\" is not hexadecimal; expected VID:PID in hex, e.g. 0525:a4a5" },
		{ "0525:a4a5:1", "more than one colon; expected VID:PID in hex, e.g. 0525:a4a5" },
		{ "00525:a4a5", "the vendor ID \"00525\" is longer than 4 hex digits; expected VID:PID in hex, e.g. 0525:a4a5" },
		{ "0525:a4a55", "the product ID \"a4a55\" is longer than 4 hex digits; expected VID:PID in hex, e.g. 0525:a4a5" },
		{ " 0525:a4a5", "the vendor ID \" 0525\" is longer than 4 hex digits; expected VID:PID in hex, e.g. 0525:a4a5" },
		{ "-525:a4a5", "the vendor ID \"-525\" is not hexadecimal; expected VID:PID in hex, e.g. 0525:a4a5" },
	};
	struct hotplug_match m = { 0x1111, 0x2222 };
	char why[200];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_usbws_err(hotplug_parse_match(rows[i].text, &m, why, sizeof(why)), USBWS_ERR_INVAL);
		assert_string_equal(why, rows[i].why);
		/* a refused value leaves the output alone */
		assert_int_equal(m.vendor, 0x1111);
		assert_int_equal(m.product, 0x2222);
	}
	/* a short why buffer is cut, not overrun */
	assert_usbws_err(hotplug_parse_match("zz:1", &m, why, 8), USBWS_ERR_INVAL);
	assert_string_equal(why, "the ven");
}

static void test_matches(void **state)
{
	struct hotplug_filter f = { .n_matches = 2, .matches = { { 0x0525, 0xa4a5 }, { 0x1050, 0x0407 } } };
	struct hotplug_filter all = { .all = 1 };
	struct hotplug_filter none = { 0 };

	(void)state;
	assert_true(hotplug_matches(&f, 0x0525, 0xa4a5));
	assert_true(hotplug_matches(&f, 0x1050, 0x0407));
	/* both IDs must agree, each with its own match */
	assert_false(hotplug_matches(&f, 0x0525, 0x0407));
	assert_false(hotplug_matches(&f, 0x1050, 0xa4a5));
	assert_false(hotplug_matches(&f, 0x0525, 0xa4a4));
	assert_false(hotplug_matches(&f, 0xa4a5, 0x0525));
	assert_true(hotplug_matches(&all, 0x0000, 0x0000));
	assert_true(hotplug_matches(&all, 0xffff, 0x1234));
	assert_false(hotplug_matches(&none, 0x0525, 0xa4a5));
}

static void test_parse_then_match(void **state)
{
	struct hotplug_filter f = { 0 };
	char why[200];

	(void)state;
	assert_int_equal(hotplug_parse_match("0525:A4A5", &f.matches[f.n_matches++], why, sizeof(why)), 0);
	assert_true(hotplug_matches(&f, 0x0525, 0xa4a5));
	assert_false(hotplug_matches(&f, 0x0525, 0xa4a6));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_accepts),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_matches),
		cmocka_unit_test(test_parse_then_match),
	};

	return cmocka_run_group_tests_name("hotplug", tests, NULL, NULL);
}
