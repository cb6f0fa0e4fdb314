/* SPDX-License-Identifier: GPL-2.0-or-later */
/* How a log line finds its form (common/base/log.c): JOURNAL_STREAM's
 * value against stderr's device and inode, and the names of the levels. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/log.h"

static void journal_stream_names_exactly_one_device_and_inode(void **state)
{
	static const struct {
		const char *value;
		dev_t dev;
		ino_t ino;
		int is;
	} cases[] = {
		{ "8:1234", 8, 1234, 1 },
		{ "64769:18446744073709551615", 64769, (ino_t)18446744073709551615ull, 1 },
		{ "8:1234", 8, 1235, 0 },  /* another file on the same device */
		{ "8:1234", 9, 1234, 0 },  /* the same inode on another device */
		{ "8:1234x", 8, 1234, 0 }, /* trailing garbage */
		{ "8:", 8, 0, 0 },         /* no inode */
		{ ":1234", 0, 1234, 0 },   /* no device */
		{ "8;1234", 8, 1234, 0 },  /* not the separator */
		{ "", 0, 0, 0 },
		{ NULL, 0, 0, 0 }, /* not under systemd */
		{ "8:1234:5", 8, 1234, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case %zu: %s\n", i, cases[i].value ? cases[i].value : "(unset)");
		assert_int_equal(log_journal_stream_is(cases[i].value, cases[i].dev, cases[i].ino), cases[i].is);
	}
}

static void levels_parse_by_name_and_short_name(void **state)
{
	static const struct {
		const char *name;
		int rc;
		enum log_level level;
	} cases[] = {
		{ "error", 0, LOG_LEVEL_ERR },
		{ "err", 0, LOG_LEVEL_ERR },
		{ "warning", 0, LOG_LEVEL_WARN },
		{ "warn", 0, LOG_LEVEL_WARN },
		{ "info", 0, LOG_LEVEL_INFO },
		{ "debug", 0, LOG_LEVEL_DEBUG },
		{ "Debug", -1, 0 },
		{ "", -1, 0 },
		{ "infos", -1, 0 },
		{ "3", -1, 0 },
	};
	enum log_level level;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		level = LOG_LEVEL_INFO;
		assert_int_equal(log_parse_level(cases[i].name, &level), cases[i].rc);
		if (cases[i].rc == 0)
			assert_int_equal(level, cases[i].level);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(journal_stream_names_exactly_one_device_and_inode),
		cmocka_unit_test(levels_parse_by_name_and_short_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
