/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Prometheus' text format as common/base/promtext.c writes it: the exact
 * bytes, escaping, cumulative buckets in seconds, and a full buffer said
 * once and for good. */
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

static void assert_contains(struct buf *b, const char *want)
{
	assert_non_null(memmem(buf_data(b), buf_len(b), want, strlen(want)));
}

static void families_and_samples_are_written_exactly(void **state)
{
	const struct promtext_label labels[] = { { "node", "gw-17" }, { "direction", "to_device" } };
	struct buf b;
	struct promtext p = { &b, 0 };

	(void)state;
	buf_init(&b, 0, 4096);
	promtext_family(&p, "usbws_bytes_total", PROMTEXT_COUNTER, "Bytes.");
	promtext_sample(&p, "usbws_bytes_total", labels, 2, 18446744073709551615ull);
	promtext_sample(&p, "usbws_up", NULL, 0, 1);
	assert_int_equal(p.rc, 0);
	assert_text(&b,
		    "# HELP usbws_bytes_total Bytes.\n"
		    "# TYPE usbws_bytes_total counter\n"
		    "usbws_bytes_total{node=\"gw-17\",direction=\"to_device\"} 18446744073709551615\n"
		    "usbws_up 1\n");
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
		struct promtext p = { &b, 0 };

		buf_init(&b, 0, 4096);
		promtext_sample(&p, "x", &l, 1, 0);
		assert_int_equal(p.rc, 0);
		assert_text(&b, cases[i].written);
		buf_free(&b);
	}
}

static void histograms_are_cumulative_in_seconds_and_end_at_inf(void **state)
{
	static const uint64_t bounds[] = { 1000000, 10000000, 2500000000u }; /* 1 ms, 10 ms, 2.5 s */
	static const uint64_t counts[] = { 2, 0, 3, 1 };
	static const uint64_t none[PROMTEXT_HANDSHAKE_BOUNDS + 1];
	const struct promtext_histogram h = { bounds, 3, counts, 1500000001 };
	const struct promtext_histogram empty = { promtext_handshake_bounds_ns, PROMTEXT_HANDSHAKE_BOUNDS, none,
						  0 };
	const struct promtext_label l = { "node", "n" };
	struct buf b;
	struct promtext p = { &b, 0 };

	(void)state;
	buf_init(&b, 0, 4096);
	promtext_histogram(&p, "rtt_seconds", &l, 1, &h);
	assert_int_equal(p.rc, 0);
	assert_text(&b,
		    "rtt_seconds_bucket{node=\"n\",le=\"0.001\"} 2\n"
		    "rtt_seconds_bucket{node=\"n\",le=\"0.01\"} 2\n"
		    "rtt_seconds_bucket{node=\"n\",le=\"2.5\"} 5\n"
		    "rtt_seconds_bucket{node=\"n\",le=\"+Inf\"} 6\n"
		    "rtt_seconds_sum{node=\"n\"} 1.500000001\n"
		    "rtt_seconds_count{node=\"n\"} 6\n");
	buf_free(&b);
	/* whole seconds as integers, and no labels */
	buf_init(&b, 0, 4096);
	promtext_histogram(&p, "h", NULL, 0, &empty);
	assert_int_equal(p.rc, 0);
	assert_contains(&b, "h_bucket{le=\"0.005\"} 0\n");
	assert_contains(&b, "h_bucket{le=\"10\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
	buf_free(&b);
}

static void a_full_buffer_is_said_and_sticks(void **state)
{
	struct buf b;
	struct promtext p = { &b, 0 };

	(void)state;
	buf_init(&b, 0, 16);
	promtext_family(&p, "usbws_bytes_total", PROMTEXT_COUNTER, "Bytes.");
	assert_int_equal(p.rc, USBWS_ERR_NOSPACE);
	promtext_sample(&p, "x", NULL, 0, 1);
	assert_int_equal(p.rc, USBWS_ERR_NOSPACE);
	assert_true(buf_len(&b) <= 16);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(families_and_samples_are_written_exactly),
		cmocka_unit_test(label_values_escape_backslash_quote_and_newline),
		cmocka_unit_test(histograms_are_cumulative_in_seconds_and_end_at_inf),
		cmocka_unit_test(a_full_buffer_is_said_and_sticks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
