/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The URB validator: seqnum table under load, limits, round-trip times. */
#include "testutil.h"

#include <string.h>

struct fake_clock {
	uint64_t now;
	uint32_t last_seqnum;
	uint64_t last_rtt;
	unsigned int calls;
};

static uint64_t fake_now(void *ctx)
{
	return ((struct fake_clock *)ctx)->now;
}

static void fake_on_rtt(void *ctx, uint32_t seqnum, uint64_t rtt)
{
	struct fake_clock *c = ctx;

	c->last_seqnum = seqnum;
	c->last_rtt = rtt;
	c->calls++;
}

static struct usbip_validator *new_validator(uint32_t max_inflight, struct fake_clock *clock)
{
	struct usbip_validator_config cfg = {0};

	usbip_limits_default(&cfg.limits);
	cfg.limits.max_inflight = max_inflight;
	if (clock) {
		cfg.clock_ns = fake_now;
		cfg.on_rtt = fake_on_rtt;
		cfg.ctx = clock;
	}
	return usbip_validator_new(&cfg);
}

static void test_rejects_unusable_limits(void **state)
{
	struct usbip_validator_config cfg = {0};

	assert_null(new_validator(0, NULL));
	assert_null(new_validator((1u << 20) + 1, NULL));
	/* a PDU's length must fit an int */
	usbip_limits_default(&cfg.limits);
	cfg.limits.max_transfer = USBIP_MAX_TRANSFER_LIMIT + 1;
	assert_null(usbip_validator_new(&cfg));
	struct usbip_validator *v = new_validator(1u << 20, NULL);

	assert_non_null(v);
	usbip_validator_free(v);
	usbip_validator_free(NULL);
}

static void test_round_trip_time(void **state)
{
	struct fake_clock clock = { .now = 1000 };
	struct usbip_validator *v = new_validator(16, &clock);
	struct usbip_header cmd = make_cmd_submit(42, USBIP_DIR_IN, 1, 512, 0);
	struct usbip_header ret = make_ret_submit(42, 512, 0);
	struct usbip_urb_match m;
	const struct usbip_rtt_stats *rtt;

	assert_usbws_err(usbip_validator_cmd(v, &cmd), 0);
	clock.now = 251000;
	assert_usbws_err(usbip_validator_ret(v, &ret, &m), 0);
	assert_int_equal(m.rtt_ns, 250000);
	assert_int_equal(m.direction, USBIP_DIR_IN);
	assert_int_equal(m.ep, 1);
	assert_int_equal(m.transfer_buffer_length, 512);
	assert_int_equal(clock.calls, 1);
	assert_int_equal(clock.last_seqnum, 42);
	assert_int_equal(clock.last_rtt, 250000);
	rtt = usbip_validator_rtt(v);
	assert_int_equal(rtt->count, 1);
	assert_int_equal(rtt->min_ns, 250000);
	assert_int_equal(rtt->max_ns, 250000);
	assert_int_equal(rtt->sum_ns, 250000);
	/* an unlink round trip is not a URB round trip */
	assert_usbws_err(usbip_validator_cmd(v, &cmd), 0);
	cmd = make_cmd_unlink(43, 42);
	assert_usbws_err(usbip_validator_cmd(v, &cmd), 0);
	ret = make_ret_unlink(43, -104);
	assert_usbws_err(usbip_validator_ret(v, &ret, NULL), 0);
	assert_int_equal(rtt->count, 1);
	assert_int_equal(usbip_validator_inflight(v), 0);
	usbip_validator_free(v);
}

static void test_percentiles(void **state)
{
	struct usbip_rtt_stats rtt;
	uint64_t i, p50, p99;

	memset(&rtt, 0, sizeof(rtt));
	assert_int_equal(usbip_validator_rtt_percentile(&rtt, 50), 0);
	for (i = 1; i <= 1000; i++)
		usbip_validator_rtt_record(&rtt, i * 1000);
	p50 = usbip_validator_rtt_percentile(&rtt, 50);
	p99 = usbip_validator_rtt_percentile(&rtt, 99);
	/* log-linear buckets: within 12.5% above the true value, never below */
	assert_true(p50 >= 500000 && p50 <= 562500);
	assert_true(p99 >= 990000 && p99 <= 1113750);
	assert_int_equal(usbip_validator_rtt_percentile(&rtt, 100), 1000000);
	assert_int_equal(usbip_validator_rtt_percentile(&rtt, 0), 1000);
	/* tiny values land in exact buckets */
	memset(&rtt, 0, sizeof(rtt));
	usbip_validator_rtt_record(&rtt, 3);
	usbip_validator_rtt_record(&rtt, 5);
	assert_int_equal(usbip_validator_rtt_percentile(&rtt, 50), 3);
	assert_int_equal(usbip_validator_rtt_percentile(&rtt, 100), 5);
	/* and the largest value does not overflow the table */
	usbip_validator_rtt_record(&rtt, UINT64_MAX);
	assert_int_equal(usbip_validator_rtt_percentile(&rtt, 100), UINT64_MAX);
}

static void test_inflight_limit(void **state)
{
	struct usbip_validator *v = new_validator(3, NULL);
	struct usbip_header h;
	uint32_t s;

	for (s = 1; s <= 3; s++) {
		h = make_cmd_submit(s, USBIP_DIR_OUT, 2, 8, 0);
		assert_usbws_err(usbip_validator_cmd(v, &h), 0);
	}
	h = make_cmd_submit(4, USBIP_DIR_OUT, 2, 8, 0);
	assert_usbws_err(usbip_validator_cmd(v, &h), USBWS_ERR_INFLIGHT);
	h = make_ret_submit(2, 8, 0);
	assert_usbws_err(usbip_validator_ret(v, &h, NULL), 0);
	h = make_cmd_submit(4, USBIP_DIR_OUT, 2, 8, 0);
	assert_usbws_err(usbip_validator_cmd(v, &h), 0);
	assert_int_equal(usbip_validator_inflight(v), 3);
	usbip_validator_free(v);
}

/*
 * Thousands of URBs completing in a scrambled order, checked against a plain
 * array: every reply must find exactly its own command, and removals (which
 * shift neighbours back) must never lose or invent an entry.
 */
/* An idle tunnel's table is small; it grows only as far as URBs pile up,
 * and never past what max_inflight needs half full. */
static void test_table_grows_lazily(void **state)
{
	struct usbip_validator *v = new_validator(4096, NULL);
	struct usbip_header h;
	uint32_t i;

	/* no table until the first URB */
	assert_int_equal(usbip_validator_table_slots(v), 0);
	for (i = 0; i < 32; i++) {
		h = make_cmd_submit(i, 0, 1, 512, 0);
		assert_usbws_err(usbip_validator_cmd(v, &h), 0);
	}
	assert_int_equal(usbip_validator_table_slots(v), 64);
	h = make_cmd_submit(32, 0, 1, 512, 0);
	assert_usbws_err(usbip_validator_cmd(v, &h), 0);
	assert_int_equal(usbip_validator_table_slots(v), 128);
	for (i = 33; i < 4096; i++) {
		h = make_cmd_submit(i, 0, 1, 512, 0);
		assert_usbws_err(usbip_validator_cmd(v, &h), 0);
	}
	/* 4096 submits and room for as many unlinks, at most half full */
	assert_int_equal(usbip_validator_table_slots(v), 8192);
	for (i = 0; i < 4096; i++) {
		h = make_cmd_unlink(100000 + i, i);
		assert_usbws_err(usbip_validator_cmd(v, &h), 0);
	}
	assert_int_equal(usbip_validator_table_slots(v), 16384);
	usbip_validator_free(v);
	v = new_validator(4, NULL);
	h = make_cmd_submit(1, 0, 1, 512, 0);
	assert_usbws_err(usbip_validator_cmd(v, &h), 0);
	assert_int_equal(usbip_validator_table_slots(v), 16);
	usbip_validator_free(v);
}

/* An emptied table goes, and comes back at its first size with the
 * validator's state intact; one in use stays. */
static void test_trim_frees_only_an_empty_table(void **state)
{
	struct usbip_validator *v = new_validator(4096, NULL);
	struct usbip_urb_match m;
	struct usbip_header h;
	uint32_t i;

	for (i = 0; i < 100; i++) {
		h = make_cmd_submit(i, 0, 1, 512, 0);
		assert_usbws_err(usbip_validator_cmd(v, &h), 0);
	}
	assert_int_equal(usbip_validator_table_slots(v), 256);
	usbip_validator_trim(v);
	assert_int_equal(usbip_validator_table_slots(v), 256);
	for (i = 0; i < 100; i++) {
		h = make_ret_submit(i, 0, 0);
		assert_usbws_err(usbip_validator_ret(v, &h, &m), 0);
	}
	usbip_validator_trim(v);
	assert_int_equal(usbip_validator_table_slots(v), 0);
	assert_int_equal(usbip_validator_inflight(v), 0);
	/* a reply for a URB that the trimmed table never saw is refused */
	h = make_ret_submit(5, 0, 0);
	assert_usbws_err(usbip_validator_ret(v, &h, &m), USBWS_ERR_UNSOLICITED);
	h = make_cmd_submit(200, 0, 1, 512, 0);
	assert_usbws_err(usbip_validator_cmd(v, &h), 0);
	assert_int_equal(usbip_validator_table_slots(v), 64);
	h = make_ret_submit(200, 0, 0);
	assert_usbws_err(usbip_validator_ret(v, &h, &m), 0);
	assert_int_equal(usbip_validator_flow(v, USBIP_FLOW_TO_DEVICE)->submits, 101);
	usbip_validator_free(v);
}

static void test_table_against_reference(void **state)
{
	enum { N = 4096, ROUNDS = 20 };
	static uint32_t outstanding[N];
	static uint8_t live[N];
	struct usbip_validator *v = new_validator(N, NULL);
	struct usbip_urb_match m;
	struct usbip_header h;
	uint32_t rng = 7, next_seq = 0xfffff000u; /* wraps through 0 */
	size_t nlive = 0, i;
	int round;

	for (round = 0; round < ROUNDS; round++) {
		/* fill to the limit */
		for (i = 0; i < N; i++) {
			if (live[i])
				continue;
			outstanding[i] = next_seq++;
			h = make_cmd_submit(outstanding[i], i & 1, (uint32_t)(i % 16), (uint32_t)i, 0);
			assert_usbws_err(usbip_validator_cmd(v, &h), 0);
			live[i] = 1;
			nlive++;
		}
		assert_int_equal(usbip_validator_inflight(v), N);
		h = make_cmd_submit(next_seq, 0, 0, 0, 0);
		assert_usbws_err(usbip_validator_cmd(v, &h), USBWS_ERR_INFLIGHT);
		/* complete a random two thirds */
		for (i = 0; i < N * 2 / 3; i++) {
			size_t k;

			rng = rng * 1664525u + 1013904223u;
			k = (rng >> 8) % N;
			h = make_ret_submit(outstanding[k], 0, 0);
			if (!live[k]) {
				assert_usbws_err(usbip_validator_ret(v, &h, &m), USBWS_ERR_UNSOLICITED);
				continue;
			}
			assert_usbws_err(usbip_validator_ret(v, &h, &m), 0);
			assert_int_equal(m.transfer_buffer_length, k);
			assert_int_equal(m.direction, k & 1);
			assert_int_equal(m.ep, k % 16);
			live[k] = 0;
			nlive--;
		}
		assert_int_equal(usbip_validator_inflight(v), nlive);
		/* every survivor is still there, every completed one gone */
		for (i = 0; i < N; i++) {
			h = make_cmd_submit(outstanding[i], 0, 0, 0, 0);
			if (live[i])
				assert_usbws_err(usbip_validator_cmd(v, &h), USBWS_ERR_DUPLICATE_SEQNUM);
		}
	}
	usbip_validator_free(v);
}

/* The stub can complete a URB it is unlinking with status 0 and send only
 * the RET_UNLINK: the target must be freed then too, or every such race
 * leaks a slot until the session dies of USBWS_ERR_INFLIGHT. */
static void test_unlink_status_zero_frees_target(void **state)
{
	struct usbip_validator *v = new_validator(8, NULL);
	struct usbip_header h;
	uint32_t s;

	for (s = 1; s < 200; s += 2) {
		h = make_cmd_submit(s, USBIP_DIR_IN, 1, 64, 0);
		assert_usbws_err(usbip_validator_cmd(v, &h), 0);
		h = make_cmd_unlink(s + 1, s);
		assert_usbws_err(usbip_validator_cmd(v, &h), 0);
		h = make_ret_unlink(s + 1, 0);
		assert_usbws_err(usbip_validator_ret(v, &h, NULL), 0);
	}
	assert_int_equal(usbip_validator_inflight(v), 0);
	usbip_validator_free(v);
}

/* Cancelling everything at once: unlinks have their own budget. */
static void test_unlinks_have_their_own_budget(void **state)
{
	struct usbip_validator *v = new_validator(8, NULL);
	struct usbip_header h;
	uint32_t s;

	for (s = 1; s <= 8; s++) {
		h = make_cmd_submit(s, USBIP_DIR_IN, 1, 64, 0);
		assert_usbws_err(usbip_validator_cmd(v, &h), 0);
	}
	for (s = 1; s <= 8; s++) {
		h = make_cmd_unlink(100 + s, s);
		assert_usbws_err(usbip_validator_cmd(v, &h), 0);
	}
	assert_int_equal(usbip_validator_inflight(v), 16);
	h = make_cmd_unlink(200, 1);
	assert_usbws_err(usbip_validator_cmd(v, &h), USBWS_ERR_INFLIGHT);
	for (s = 1; s <= 8; s++) {
		h = make_ret_unlink(100 + s, -104);
		assert_usbws_err(usbip_validator_ret(v, &h, NULL), 0);
	}
	assert_int_equal(usbip_validator_inflight(v), 0);
	usbip_validator_free(v);
}

static void test_flow_counters(void **state)
{
	struct usbip_validator *v = new_validator(8, NULL);
	struct usbip_header h;

	h = make_cmd_submit(1, USBIP_DIR_IN, 1, 8, 0);
	assert_usbws_err(usbip_validator_cmd(v, &h), 0);
	h = make_cmd_unlink(2, 1);
	assert_usbws_err(usbip_validator_cmd(v, &h), 0);
	/* the URB completed before the unlink reached it: its reply, then
	 * the unlink's with status 0 */
	h = make_ret_submit(1, 8, 0);
	assert_usbws_err(usbip_validator_ret(v, &h, NULL), 0);
	h = make_ret_unlink(2, 0);
	assert_usbws_err(usbip_validator_ret(v, &h, NULL), 0);
	assert_int_equal(usbip_validator_flow(v, USBIP_FLOW_TO_DEVICE)->submits, 1);
	assert_int_equal(usbip_validator_flow(v, USBIP_FLOW_TO_DEVICE)->unlinks, 1);
	assert_int_equal(usbip_validator_flow(v, USBIP_FLOW_FROM_DEVICE)->submits, 1);
	assert_int_equal(usbip_validator_flow(v, USBIP_FLOW_FROM_DEVICE)->unlinks, 1);
	/* commands and replies are refused on the other's side */
	assert_usbws_err(usbip_validator_cmd(v, &h), USBWS_ERR_WRONG_WAY);
	h = make_cmd_submit(3, USBIP_DIR_IN, 1, 8, 0);
	assert_usbws_err(usbip_validator_ret(v, &h, NULL), USBWS_ERR_WRONG_WAY);
	usbip_validator_free(v);
}

/* Round trips put in Prometheus' coarser buckets: each lands under the
 * first bound its fine bucket's upper end does not pass. */
static void test_rtt_coarse_buckets(void **state)
{
	const uint64_t bounds[] = { 100000, 1000000, 5000000 }; /* 100 us, 1 ms, 5 ms */
	const uint64_t want[] = { 2, 1, 1, 1 };
	struct usbip_rtt_stats a;
	uint64_t counts[4];
	size_t i;

	(void)state;
	memset(&a, 0, sizeof(a));
	usbip_validator_rtt_record(&a, 50000);       /* 50 us */
	usbip_validator_rtt_record(&a, 3);           /* an exact small bucket */
	usbip_validator_rtt_record(&a, 800000);      /* 800 us */
	usbip_validator_rtt_record(&a, 2000000);     /* 2 ms */
	usbip_validator_rtt_record(&a, 7000000000u); /* 7 s */
	usbip_validator_rtt_buckets(&a, bounds, 3, counts);
	for (i = 0; i < 4; i++)
		assert_int_equal(counts[i], want[i]);
	/* nothing recorded: every bucket empty */
	memset(&a, 0, sizeof(a));
	usbip_validator_rtt_buckets(&a, bounds, 3, counts);
	for (i = 0; i < 4; i++)
		assert_int_equal(counts[i], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rejects_unusable_limits),
		cmocka_unit_test(test_round_trip_time),
		cmocka_unit_test(test_percentiles),
		cmocka_unit_test(test_inflight_limit),
		cmocka_unit_test(test_table_grows_lazily),
		cmocka_unit_test(test_trim_frees_only_an_empty_table),
		cmocka_unit_test(test_table_against_reference),
		cmocka_unit_test(test_unlink_status_zero_frees_target),
		cmocka_unit_test(test_unlinks_have_their_own_budget),
		cmocka_unit_test(test_flow_counters),
		cmocka_unit_test(test_rtt_coarse_buckets),
	};

	return cmocka_run_group_tests_name("validator", tests, NULL, NULL);
}
