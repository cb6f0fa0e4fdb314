/* SPDX-License-Identifier: GPL-2.0-or-later */
/* URB counts and the sampled round trip (common/usbip/urb_rtt.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "testutil.h"
#include "usbip/urb_rtt.h"

static void seen(struct urb_rtt *r, uint32_t command, uint32_t seqnum, int64_t at_us)
{
	struct usbip_header h;

	memset(&h, 0, sizeof(h));
	h.base.command = command;
	h.base.seqnum = seqnum;
	urb_rtt_seen(r, &h, at_us);
}

static void test_counts_and_one_sample_at_a_time(void **state)
{
	struct urb_rtt r;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(urb_rtt_p50_us(&r), 0);
	/* 1 is timed; 2 is sent while 1 is, and is only counted */
	seen(&r, USBIP_CMD_SUBMIT, 1, 1000);
	seen(&r, USBIP_CMD_SUBMIT, 2, 1100);
	seen(&r, USBIP_RET_SUBMIT, 2, 1900);
	seen(&r, USBIP_RET_SUBMIT, 1, 3000);
	seen(&r, USBIP_CMD_UNLINK, 3, 3000);
	assert_int_equal(r.submitted, 2);
	assert_int_equal(r.completed, 2);
	assert_int_equal(r.unlinks, 1);
	assert_int_equal(r.samples, 1);
	/* 2000 us is in [1024, 2048): its middle, 1024 * 181/128 */
	assert_int_equal(r.buckets[10], 1);
	assert_int_equal(urb_rtt_p50_us(&r), 1448);
}

/* The median bucket: three fast, two slow. */
static void test_median(void **state)
{
	static const int64_t trips[] = { 100, 120, 5000000, 110, 4000000 };
	struct urb_rtt r;
	size_t i;

	(void)state;
	memset(&r, 0, sizeof(r));
	for (i = 0; i < sizeof(trips) / sizeof(trips[0]); i++) {
		seen(&r, USBIP_CMD_SUBMIT, (uint32_t)i, 10000000 * (int64_t)(i + 1));
		seen(&r, USBIP_RET_SUBMIT, (uint32_t)i, 10000000 * (int64_t)(i + 1) + trips[i]);
	}
	assert_int_equal(r.samples, 5);
	/* 100..120 us: [64, 128) */
	assert_int_equal(urb_rtt_p50_us(&r), 90);
}

/* A command never answered stops blocking the sampler after
 * URB_RTT_STALE_US; its late answer is not taken for the new one's. */
static void test_stale_sample_replaced(void **state)
{
	struct urb_rtt r;

	(void)state;
	memset(&r, 0, sizeof(r));
	seen(&r, USBIP_CMD_SUBMIT, 7, 1);
	seen(&r, USBIP_CMD_SUBMIT, 8, URB_RTT_STALE_US - 1);
	assert_int_equal(r.timing_seqnum, 7);
	seen(&r, USBIP_CMD_SUBMIT, 9, URB_RTT_STALE_US + 2);
	assert_int_equal(r.timing_seqnum, 9);
	seen(&r, USBIP_RET_SUBMIT, 7, URB_RTT_STALE_US + 3);
	assert_int_equal(r.samples, 0);
	seen(&r, USBIP_RET_SUBMIT, 9, URB_RTT_STALE_US + 4);
	assert_int_equal(r.samples, 1);
	assert_int_equal(r.buckets[1], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_and_one_sample_at_a_time),
		cmocka_unit_test(test_median),
		cmocka_unit_test(test_stale_sample_replaced),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
