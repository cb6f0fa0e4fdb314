/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_RESUME_H
#define USBWS_RESUME_H

/*
 * Byte accounting that lets a tunnel's USB/IP stream survive a new
 * connection (doc/protocol.md, "Resumption").  Pure: no I/O.
 *
 * Sending: the outgoing ring holds every byte the peer has not yet
 * acknowledged, followed by those not yet written.  A write moves `sent`
 * on; an acknowledgement drops bytes from the front.  After a reconnect the
 * peer names the offset it holds and writing starts again from there, so
 * the outgoing ring's limit is the resume window: a sender whose peer
 * stops acknowledging stops producing.
 *
 * Receiving: count what arrived, and say so now and then.
 */

#include <stdint.h>

#include "base/ring.h"

/* Acknowledge at least this often (bytes), and on a timer for the tail; a
 * peer that says its window acknowledges every quarter of it instead.  An
 * acknowledgement is a TLS record, a wakeup and a JSON parse on each side:
 * every 64 KiB, they were most of what resumption cost a bulk transfer. */
#define RESUME_ACK_EVERY (64u << 10)
#define RESUME_MIN_WINDOW (256u << 10)
#define RESUME_DEFAULT_WINDOW (1u << 20)
#define RESUME_DEFAULT_SECONDS 60

struct resume_stream {
	uint64_t acked;      /* stream offset of the outgoing ring's first byte */
	size_t sent;         /* of the outgoing ring, bytes written on this connection */
	uint64_t received;   /* stream bytes that arrived from the peer */
	uint64_t ack_sent;   /* the last count we told the peer */
	uint64_t ack_every;  /* 0: RESUME_ACK_EVERY (resume_peer_window) */
};

static inline void resume_init(struct resume_stream *rs) { *rs = (struct resume_stream){ 0 }; }

/* What is still to write; the first contiguous part of it (*len bytes, a
 * second call after resume_wrote gives the part after a wrap); and noting
 * that n bytes of it went. */
static inline size_t resume_unsent(const struct resume_stream *rs, const struct ring *out)
{
	return ring_len(out) - rs->sent;
}
static inline const uint8_t *resume_unsent_span(const struct resume_stream *rs, const struct ring *out, size_t *len)
{
	return ring_peek(out, rs->sent, len);
}
static inline void resume_wrote(struct resume_stream *rs, size_t n) { rs->sent += n; }

/* The peer has `upto` bytes of our stream: drop them.  Returns 0, or
 * USBWS_ERR_RESUME_OFFSET when upto is behind an earlier acknowledgement or
 * beyond what was ever sent. */
int resume_acked(struct resume_stream *rs, struct ring *out, uint64_t upto);
/* A new connection, on which the peer holds `peer_has` bytes: drop those
 * and write the rest again from the start.  Same checks as resume_acked. */
int resume_rewind(struct resume_stream *rs, struct ring *out, uint64_t peer_has);

static inline void resume_received(struct resume_stream *rs, size_t n) { rs->received += n; }
/* The peer keeps up to window bytes of its stream unacknowledged (0: it
 * did not say, so the smallest): acknowledge every quarter of it. */
static inline void resume_peer_window(struct resume_stream *rs, uint64_t window)
{
	rs->ack_every = window / 4 > RESUME_ACK_EVERY ? window / 4 : 0;
}
/* True when an acknowledgement should go: a quarter of the peer's window
 * (at least RESUME_ACK_EVERY bytes) came, or (on the timer, tail set)
 * anything came, since the last one. */
static inline int resume_ack_due(const struct resume_stream *rs, int tail)
{
	return rs->received - rs->ack_sent >= (tail ? 1 : rs->ack_every ? rs->ack_every : RESUME_ACK_EVERY);
}
static inline void resume_ack_queued(struct resume_stream *rs) { rs->ack_sent = rs->received; }

#endif
