/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Prometheus' text format as common/base/promtext.c writes it: the exact
 * bytes, escaping, cumulative buckets, and a full buffer said. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "base/promtext.h"
#include "base/usbws_err.h"

static void assert_text(struct buf *b, const char *want)
{
	assert_int_equal(buf_len(b), strlen(want));
	assert_memory_equal(buf_data(b), want, strlen(want));
}

static void families_and_samples_are_written_exactly(void **state)
{
	const struct promtext_label labels[] = { { "node", "gw-17" }, { "direction", "to_device" } };
	struct buf b;

	(void)state;
	buf_init(&b, 0, 4096);
	assert_int_equal(promtext_family(&b, "usbws_bytes_total", PROMTEXT_COUNTER, "Bytes."), 0);
	assert_int_equal(promtext_sample(&b, "usbws_bytes_total", labels, 2, 18446744073709551615ull), 0);
	assert_int_equal(promtext_sample(&b, "usbws_up", NULL, 0, 1), 0);
	assert_int_equal(promtext_sample_double(&b, "usbws_ratio", NULL, 0, 0.5), 0);
	assert_text(&b,
		    "# HELP usbws_bytes_total Bytes.\n"
		    "# TYPE usbws_bytes_total counter\n"
		    "usbws_bytes_total{node=\"gw-17\",direction=\"to_device\"} 18446744073709551615\n"
		    "usbws_up 1\n"
		    "usbws_ratio 0.5\n");
	buf_free(&b);
}

static void label_values_escape_backslash_quote_and_newline(void **state)
{
	static const struct {
		const char *value, *written;
	} cases[] = {
		{ "plain", "x{l=\"plain\"} 0\n" },
		{ "a\"b", "x{l=\"a\\\"b\"} 0\n" },
		{ "a\\b", "x{l=\"a\\\\b\"} 0\n" },
		{ "a\nb", "x{l=\"a\\nb\"} 0\n" },
		{ "\"\\\n", "x{l=\"\\\"\\\\\\n\"} 0\n" },
		{ "", "x{l=\"\"} 0\n" },
		{ "gw-17 \xc3\xa9", "x{l=\"gw-17 \xc3\xa9\"} 0\n" },
	};
	struct buf b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct promtext_label l = { "l", cases[i].value };

		buf_init(&b, 0, 4096);
		assert_int_equal(promtext_sample(&b, "x", &l, 1, 0), 0);
		assert_text(&b, cases[i].written);
		buf_free(&b);
	}
}

static void histograms_are_cumulative_and_end_at_inf(void **state)
{
	const double bounds[] = { 0.001, 0.01 };
	const uint64_t counts[] = { 2, 0, 3 };
	const struct promtext_histogram h = { bounds, 2, counts, 1.5 };
	const struct promtext_label l = { "node", "n" };
	struct buf b;

	(void)state;
	buf_init(&b, 0, 4096);
	assert_int_equal(promtext_histogram(&b, "rtt_seconds", &l, 1, &h), 0);
	assert_text(&b,
		    "rtt_seconds_bucket{node=\"n\",le=\"0.001\"} 2\n"
		    "rtt_seconds_bucket{node=\"n\",le=\"0.01\"} 2\n"
		    "rtt_seconds_bucket{node=\"n\",le=\"+Inf\"} 5\n"
		    "rtt_seconds_sum{node=\"n\"} 1.5\n"
		    "rtt_seconds_count{node=\"n\"} 5\n");
	buf_free(&b);
	buf_init(&b, 0, 4096);
	assert_int_equal(promtext_histogram(&b, "h", NULL, 0, &h), 0);
	assert_true(memmem(buf_data(&b), buf_len(&b), "h_bucket{le=\"+Inf\"} 5\n", 22) != NULL);
	buf_free(&b);
}

static void a_full_buffer_is_said(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 0, 16);
	assert_int_equal(promtext_family(&b, "usbws_bytes_total", PROMTEXT_COUNTER, "Bytes."), USBWS_ERR_NOSPACE);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(families_and_samples_are_written_exactly),
		cmocka_unit_test(label_values_escape_backslash_quote_and_newline),
		cmocka_unit_test(histograms_are_cumulative_and_end_at_inf),
		cmocka_unit_test(a_full_buffer_is_said),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
