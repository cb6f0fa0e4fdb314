/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The byte ring that keeps unacknowledged bytes in place (common/base/ring.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/ring.h"
#include "base/usbws_err.h"
#include "testutil.h"

/* Byte i of a stream is (uint8_t)(i * 7 + i / 251): no period that a
 * power-of-two capacity could hide. */
static uint8_t stream_byte(size_t i)
{
	return (uint8_t)(i * 7 + i / 251);
}

static void put(struct ring *r, size_t *next, size_t n)
{
	uint8_t *tmp = malloc(n ? n : 1);

	assert_non_null(tmp);
	for (size_t i = 0; i < n; i++)
		tmp[i] = stream_byte(*next + i);
	assert_usbws_err(ring_append(r, tmp, n), 0);
	*next += n;
	free(tmp);
}

/* The ring holds exactly stream bytes [first, first + ring_len). */
static void assert_holds(const struct ring *r, size_t first)
{
	size_t skip = 0, run, spans = 0;
	const uint8_t *p;

	while ((p = ring_peek(r, skip, &run))) {
		assert_true(run > 0);
		for (size_t i = 0; i < run; i++)
			if (p[i] != stream_byte(first + skip + i))
				fail_msg("byte %zu of the ring is %u, want %u", skip + i, p[i],
					 stream_byte(first + skip + i));
		skip += run;
		spans++;
	}
	assert_int_equal(skip, ring_len(r));
	assert_true(spans <= 2);
}

/* An idle ring holds no memory; the first byte allocates the first step. */
static void test_lazy_and_trim(void **state)
{
	struct ring r;
	size_t next = 0;

	(void)state;
	ring_init(&r, 16, 1 << 20);
	assert_int_equal(ring_allocated(&r), 0);
	assert_int_equal(ring_trim(&r), 0);
	put(&r, &next, 10);
	assert_int_equal(ring_allocated(&r), 16 + RING_FIRST_CAP);
	/* not while it holds data */
	assert_int_equal(ring_trim(&r), 0);
	assert_int_equal(ring_len(&r), 10);
	ring_consume(&r, 10);
	assert_int_equal(ring_trim(&r), 1);
	assert_int_equal(ring_allocated(&r), 0);
	/* usable again, same limit */
	assert_int_equal(ring_space(&r), 1 << 20);
	put(&r, &next, 5000);
	assert_int_equal(ring_allocated(&r), 16 + 8192);
	assert_holds(&r, 10);
	ring_free(&r);
	assert_int_equal(ring_allocated(&r), 0);
	assert_int_equal(ring_len(&r), 0);
}

/* Bytes written across the end come back in order, in two spans. */
static void test_wrap_around(void **state)
{
	struct ring r;
	size_t next = 0, first = 0, run;
	const uint8_t *p;

	(void)state;
	ring_init(&r, 0, RING_FIRST_CAP);
	put(&r, &next, 3000);
	ring_consume(&r, 2500);
	first = 2500;
	put(&r, &next, 3000);
	assert_int_equal(ring_len(&r), 3500);
	p = ring_peek(&r, 0, &run);
	assert_non_null(p);
	assert_int_equal(run, RING_FIRST_CAP - 2500);
	p = ring_peek(&r, run, &run);
	assert_non_null(p);
	assert_int_equal(run, 3500 - (RING_FIRST_CAP - 2500));
	assert_holds(&r, first);
	/* a peek that starts in the second span */
	p = ring_peek(&r, 2000, &run);
	assert_int_equal(run, 1500);
	assert_int_equal(p[0], stream_byte(first + 2000));
	assert_null(ring_peek(&r, 3500, &run));
	assert_int_equal(run, 0);
	/* consuming into the second span */
	ring_consume(&r, 2000);
	first += 2000;
	assert_holds(&r, first);
	/* full to the byte, no growth past the limit */
	put(&r, &next, RING_FIRST_CAP - ring_len(&r));
	assert_int_equal(ring_space(&r), 0);
	assert_int_equal(ring_allocated(&r), RING_FIRST_CAP);
	assert_holds(&r, first);
	ring_free(&r);
}

/* Growth keeps the order whichever part of wrapped data has to move. */
static void test_growth_with_data_wrapped(void **state)
{
	static const struct {
		const char *name;
		size_t limit;
		size_t want_cap;
	} rows[] = {
		/* doubling: the front part follows on past the old end */
		{ "doubling", 1 << 20, 2 * RING_FIRST_CAP },
		/* the limit stops the step short: the back part moves up */
		{ "short last step", RING_FIRST_CAP + 1000, RING_FIRST_CAP + 1000 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct ring r;
		size_t next = 0, first = 3000;

		print_message("%s\n", rows[i].name);
		ring_init(&r, 8, rows[i].limit);
		put(&r, &next, RING_FIRST_CAP);
		ring_consume(&r, 3000);
		/* now [3000, 4096) and [0, 2000) */
		put(&r, &next, 2000);
		assert_int_equal(ring_allocated(&r), 8 + RING_FIRST_CAP);
		put(&r, &next, rows[i].want_cap - ring_len(&r));
		assert_int_equal(ring_allocated(&r), 8 + rows[i].want_cap);
		assert_int_equal(ring_space(&r), rows[i].limit - rows[i].want_cap);
		assert_holds(&r, first);
		ring_consume(&r, 1234);
		first += 1234;
		put(&r, &next, 1234);
		assert_holds(&r, first);
		ring_free(&r);
	}
}

/* Never past the limit, and a refusal changes nothing. */
static void test_limits(void **state)
{
	static const struct {
		const char *name;
		size_t limit, fill, ask;
		int want;
	} rows[] = {
		{ "fits exactly", 5000, 4000, 1000, 0 },
		{ "one byte over", 5000, 4000, 1001, USBWS_ERR_NOSPACE },
		{ "over from empty", 100, 0, 101, USBWS_ERR_NOSPACE },
		{ "zero bytes when full", 100, 100, 0, 0 },
		{ "limit below the first step", 100, 60, 40, 0 },
		{ "limit not a power of two", 3 * RING_FIRST_CAP, 9000, 3 * RING_FIRST_CAP - 9000, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct ring r;
		size_t next = 0;
		uint8_t *tmp = calloc(1, rows[i].ask + 1);

		print_message("%s\n", rows[i].name);
		ring_init(&r, 0, rows[i].limit);
		put(&r, &next, rows[i].fill);
		assert_usbws_err(ring_append(&r, tmp, rows[i].ask), rows[i].want);
		if (rows[i].want < 0) {
			assert_null(ring_reserve(&r, rows[i].ask));
			assert_int_equal(ring_len(&r), rows[i].fill);
			assert_holds(&r, 0);
		} else {
			assert_int_equal(ring_len(&r), rows[i].fill + rows[i].ask);
			assert_true(ring_allocated(&r) <= rows[i].limit);
		}
		free(tmp);
		ring_free(&r);
	}
}

/* A reservation is contiguous even across the end; commit puts the bytes
 * that went past it at the front, and only those committed count. */
static void test_reserve_across_the_end(void **state)
{
	struct ring r;
	size_t next = 0, first = 4000, run;
	uint8_t *p;

	(void)state;
	ring_init(&r, 0, RING_FIRST_CAP);
	put(&r, &next, 4000);
	ring_consume(&r, 4000);
	/* empty: starts again at the front, no spill */
	p = ring_reserve(&r, RING_FIRST_CAP);
	assert_non_null(p);
	assert_ptr_equal(p, r._mem);
	assert_int_equal(ring_allocated(&r), RING_FIRST_CAP);

	put(&r, &next, 4000);
	first = 4000;
	ring_consume(&r, 3000);
	first += 3000;
	/* tail at 4000: 96 bytes to the end, 200 asked */
	p = ring_reserve(&r, 200);
	assert_non_null(p);
	assert_int_equal(ring_allocated(&r), RING_FIRST_CAP + 104);
	for (size_t i = 0; i < 200; i++)
		p[i] = stream_byte(next + i);
	ring_commit(&r, 150);
	next += 150;
	assert_int_equal(ring_len(&r), 1150);
	assert_holds(&r, first);
	ring_peek(&r, 0, &run);
	assert_int_equal(run, 1096);
	/* a smaller crossing reuses the spill */
	ring_consume(&r, 1150);
	first += 1150;
	put(&r, &next, 4090);
	ring_consume(&r, 4000);
	first += 4000;
	p = ring_reserve(&r, 50);
	assert_non_null(p);
	assert_int_equal(ring_allocated(&r), RING_FIRST_CAP + 104);
	for (size_t i = 0; i < 50; i++)
		p[i] = stream_byte(next + i);
	ring_commit(&r, 50);
	next += 50;
	assert_holds(&r, first);
	/* when the data wraps the free bytes are contiguous: no spill */
	p = ring_reserve(&r, 1000);
	assert_ptr_equal(p, r._mem + 44);
	ring_free(&r);
}

/* Headroom sits in front of the ring's first byte. */
static void test_headroom(void **state)
{
	struct ring r;
	size_t next = 0, run;
	const uint8_t *p;

	(void)state;
	ring_init(&r, 16, 1 << 16);
	put(&r, &next, 100);
	p = ring_peek(&r, 0, &run);
	assert_ptr_equal(p, r._mem + 16);
	ring_copy_out(&r, 0, (uint8_t[100]){ 0 }, 100);
	ring_free(&r);
}

/* A long random run against a flat model: every byte, every span. */
static void test_random_against_a_model(void **state)
{
	struct ring r;
	size_t next = 0, first = 0;
	uint8_t out[3000];
	unsigned seed = 14;

	(void)state;
	ring_init(&r, 4, 10000);
	for (int round = 0; round < 20000; round++) {
		size_t n = (size_t)(rand_r(&seed) % 3000);

		switch (rand_r(&seed) % 4) {
		case 0:
			if (n <= ring_space(&r))
				put(&r, &next, n);
			else
				assert_usbws_err(ring_append(&r, out, n), USBWS_ERR_NOSPACE);
			break;
		case 1: {
			uint8_t *p = ring_reserve(&r, n);
			size_t keep = n ? (size_t)rand_r(&seed) % (n + 1) : 0;

			if (n > ring_space(&r)) {
				assert_null(p);
				break;
			}
			assert_non_null(p);
			for (size_t i = 0; i < keep; i++)
				p[i] = stream_byte(next + i);
			ring_commit(&r, keep);
			next += keep;
			break;
		}
		case 2:
			if (n > ring_len(&r))
				n = ring_len(&r);
			ring_copy_out(&r, 0, out, n);
			for (size_t i = 0; i < n; i++)
				assert_int_equal(out[i], stream_byte(first + i));
			ring_consume(&r, n);
			first += n;
			break;
		default: ring_trim(&r); break;
		}
		assert_int_equal(ring_len(&r), next - first);
		/* the limit, plus at most one reservation's spill */
		assert_true(ring_allocated(&r) <= 4 + 10000 + 3000);
		if (round % 97 == 0)
			assert_holds(&r, first);
	}
	assert_holds(&r, first);
	ring_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lazy_and_trim),
		cmocka_unit_test(test_wrap_around),
		cmocka_unit_test(test_growth_with_data_wrapped),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_reserve_across_the_end),
		cmocka_unit_test(test_headroom),
		cmocka_unit_test(test_random_against_a_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
