/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The byte accounting behind session resumption (common/tunnel/resume.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "tunnel/resume.h"
#include "testutil.h"
#include "base/usbws_err.h"

static void fill(struct ring *b, uint8_t first, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t v = (uint8_t)(first + i);

		assert_int_equal(ring_append(b, &v, 1), 0);
	}
}

/* The first byte not yet written. */
static uint8_t first_unsent(const struct resume_stream *rs, const struct ring *out)
{
	size_t len;
	const uint8_t *p = resume_unsent_span(rs, out, &len);

	assert_non_null(p);
	assert_true(len > 0);
	return p[0];
}

/* Written bytes stay until acknowledged; an ack drops exactly those. */
static void test_ack_drops_what_the_peer_has(void **state)
{
	struct resume_stream rs;
	struct ring out;

	(void)state;
	resume_init(&rs);
	ring_init(&out, 0, 1024);
	fill(&out, 0, 100);
	assert_int_equal(resume_unsent(&rs, &out), 100);
	resume_wrote(&rs, 60);
	assert_int_equal(resume_unsent(&rs, &out), 40);
	assert_int_equal(first_unsent(&rs, &out), 60);
	assert_int_equal(ring_len(&out), 100);
	assert_usbws_err(resume_acked(&rs, &out, 50), 0);
	assert_int_equal(ring_len(&out), 50);
	assert_int_equal(ring_peek(&out, 0, &(size_t){ 0 })[0], 50);
	assert_int_equal(rs.sent, 10);
	assert_true(rs.acked == 50);
	/* an ack of everything written empties the kept part */
	assert_usbws_err(resume_acked(&rs, &out, 60), 0);
	assert_int_equal(rs.sent, 0);
	assert_int_equal(first_unsent(&rs, &out), 60);
	ring_free(&out);
}

/* Offsets outside [acked, acked + sent] are a broken peer. */
static void test_impossible_offsets_are_refused(void **state)
{
	struct resume_stream rs;
	struct ring out;

	(void)state;
	resume_init(&rs);
	ring_init(&out, 0, 1024);
	fill(&out, 0, 100);
	resume_wrote(&rs, 80);
	assert_usbws_err(resume_acked(&rs, &out, 81), USBWS_ERR_RESUME_OFFSET);
	assert_usbws_err(resume_acked(&rs, &out, 30), 0);
	assert_usbws_err(resume_acked(&rs, &out, 29), USBWS_ERR_RESUME_OFFSET);
	assert_usbws_err(resume_rewind(&rs, &out, 10), USBWS_ERR_RESUME_OFFSET);
	/* nothing moved */
	assert_true(rs.acked == 30);
	assert_int_equal(rs.sent, 50);
	assert_int_equal(ring_len(&out), 70);
	ring_free(&out);
}

/* After a reconnect the peer holds some of what went: the rest goes again,
 * byte for byte, before anything new. */
static void test_rewind_resends_from_the_peer_offset(void **state)
{
	struct resume_stream rs;
	struct ring out;

	(void)state;
	resume_init(&rs);
	ring_init(&out, 0, 1024);
	fill(&out, 0, 200);
	resume_wrote(&rs, 150);
	assert_usbws_err(resume_acked(&rs, &out, 40), 0);
	/* the link dies; 120 bytes had arrived */
	assert_usbws_err(resume_rewind(&rs, &out, 120), 0);
	assert_int_equal(rs.sent, 0);
	assert_int_equal(resume_unsent(&rs, &out), 80);
	assert_int_equal(first_unsent(&rs, &out), 120);
	/* the peer may hold exactly what was acknowledged, or all that went */
	resume_wrote(&rs, 80);
	assert_usbws_err(resume_rewind(&rs, &out, 120), 0);
	assert_int_equal(resume_unsent(&rs, &out), 80);
	/* what went on a connection that died is resent, never counted twice */
	assert_usbws_err(resume_rewind(&rs, &out, 200), USBWS_ERR_RESUME_OFFSET);
	resume_wrote(&rs, 80);
	assert_usbws_err(resume_rewind(&rs, &out, 200), 0);
	assert_int_equal(resume_unsent(&rs, &out), 0);
	assert_int_equal(ring_len(&out), 0);
	ring_free(&out);
}

/* Kept bytes that wrap in the ring are resent whole, in order, in at
 * most two spans, after a rewind into either part. */
static void test_rewind_across_the_wrap(void **state)
{
	static const struct {
		const char *name;
		uint64_t peer_has;
	} rows[] = {
		{ "peer holds bytes before the wrap", 3200 },
		{ "peer holds bytes past the wrap", 4500 },
		{ "peer holds only what was acknowledged", 2500 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct resume_stream rs;
		struct ring out;
		size_t len, got = 0;
		const uint8_t *p;

		print_message("%s\n", rows[i].name);
		resume_init(&rs);
		ring_init(&out, 0, 4096);
		fill(&out, 0, 3000);
		resume_wrote(&rs, 3000);
		assert_usbws_err(resume_acked(&rs, &out, 2500), 0);
		/* 3000 more: the ring's 4096 bytes end inside them */
		fill(&out, (uint8_t)3000, 3000);
		resume_wrote(&rs, 2000);
		assert_usbws_err(resume_rewind(&rs, &out, rows[i].peer_has), 0);
		assert_int_equal(resume_unsent(&rs, &out), 6000 - rows[i].peer_has);
		while ((p = resume_unsent_span(&rs, &out, &len))) {
			for (size_t j = 0; j < len; j++)
				assert_int_equal(p[j], (uint8_t)(rows[i].peer_has + got + j));
			got += len;
			resume_wrote(&rs, len);
		}
		assert_int_equal(got, 6000 - rows[i].peer_has);
		assert_usbws_err(resume_acked(&rs, &out, 6000), 0);
		assert_int_equal(ring_len(&out), 0);
		ring_free(&out);
	}
}

static void test_acks_every_so_often(void **state)
{
	struct resume_stream rs;

	(void)state;
	resume_init(&rs);
	assert_false(resume_ack_due(&rs, 1));
	resume_received(&rs, 1);
	assert_false(resume_ack_due(&rs, 0));
	assert_true(resume_ack_due(&rs, 1));
	resume_received(&rs, RESUME_ACK_EVERY - 1);
	assert_true(resume_ack_due(&rs, 0));
	resume_ack_queued(&rs);
	assert_false(resume_ack_due(&rs, 1));
	assert_true(rs.ack_sent == RESUME_ACK_EVERY);
}

/* A peer that keeps a larger window hears every quarter of it; one that
 * keeps the smallest, or does not say, every RESUME_ACK_EVERY. */
static void test_acks_every_quarter_window(void **state)
{
	static const struct {
		uint64_t window, every;
	} rows[] = {
		{ 0, RESUME_ACK_EVERY },
		{ RESUME_MIN_WINDOW, RESUME_ACK_EVERY },
		{ RESUME_DEFAULT_WINDOW, RESUME_DEFAULT_WINDOW / 4 },
		{ 1u << 30, 1u << 28 },
	};
	struct resume_stream rs;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		resume_init(&rs);
		resume_peer_window(&rs, rows[i].window);
		resume_received(&rs, rows[i].every - 1);
		assert_false(resume_ack_due(&rs, 0));
		/* the tail still goes on the timer */
		assert_true(resume_ack_due(&rs, 1));
		resume_received(&rs, 1);
		assert_true(resume_ack_due(&rs, 0));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ack_drops_what_the_peer_has),
		cmocka_unit_test(test_impossible_offsets_are_refused),
		cmocka_unit_test(test_rewind_resends_from_the_peer_offset),
		cmocka_unit_test(test_rewind_across_the_wrap),
		cmocka_unit_test(test_acks_every_so_often),
		cmocka_unit_test(test_acks_every_quarter_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
