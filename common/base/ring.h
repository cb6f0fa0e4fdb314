/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_RING_H
#define USBWS_RING_H

/*
 * A byte FIFO that never slides its data: the stream's unacknowledged
 * bytes can stay where they were written while new ones go in behind them
 * and acknowledged ones leave at the front, at no cost per byte kept.
 *
 * Memory is allocated on first use, doubles from RING_FIRST_CAP as the data
 * needs it, and stops at the limit (the last step may be short of a power
 * of two, so a 1152 KiB window takes 1152 KiB, not 2 MiB); ring_trim gives
 * it all back when the ring is empty, so an idle ring holds nothing.
 *
 * Producers get contiguous room: ring_reserve hands out the bytes after the
 * data even when they run past the end of the ring, into a spill area just
 * after it, and ring_commit copies what landed there to the front.  The
 * spill is as large as the largest reserve that ever crossed the end, and
 * no larger than the limit.  Consumers read one or two spans (ring_peek).
 *
 * headroom bytes are kept writable in front of the ring's first byte, for
 * a writer that scribbles in front of what it is given; in front of a span
 * that starts anywhere else lie the ring's own bytes.
 */

#include <stddef.h>
#include <stdint.h>

#define RING_FIRST_CAP 4096u

struct ring {
	uint8_t *_mem; /* _headroom, then _cap ring bytes, then _spill */
	size_t _headroom;
	size_t _cap; /* 0 until the first byte */
	size_t _spill;
	size_t _head; /* index of the first data byte, < _cap */
	size_t _len;
	size_t _limit; /* most data bytes ever held */
};

void ring_init(struct ring *r, size_t headroom, size_t limit);
/* Frees the memory; the ring stays usable, empty, with the same limit. */
void ring_free(struct ring *r);

static inline size_t ring_len(const struct ring *r)
{
	return r->_len;
}
static inline size_t ring_space(const struct ring *r)
{
	return r->_limit - r->_len;
}
/* Bytes allocated, for accounting and tests. */
static inline size_t ring_allocated(const struct ring *r)
{
	return r->_mem ? r->_headroom + r->_cap + r->_spill : 0;
}

/* Room for n contiguous bytes after the data, or NULL when that would pass
 * the limit (or memory ran out).  Nothing is added until ring_commit; the
 * pointer is good until the next call that changes the ring. */
uint8_t *ring_reserve(struct ring *r, size_t n);
/* Adds the first n bytes of the last reservation. */
void ring_commit(struct ring *r, size_t n);
/* Returns 0 or USBWS_ERR_NOSPACE; copies in at most two pieces. */
int ring_append(struct ring *r, const void *data, size_t n);

/* The contiguous bytes that start skip bytes into the data: *len of them
 * (0, and NULL returned, when skip >= ring_len).  A second call with skip
 * moved on by *len gives the rest after a wrap. */
const uint8_t *ring_peek(const struct ring *r, size_t skip, size_t *len);
/* Copies n bytes from skip bytes into the data to dst; n must fit. */
void ring_copy_out(const struct ring *r, size_t skip, void *dst, size_t n);
/* Drops n bytes (all of them when n >= ring_len) from the front. */
void ring_consume(struct ring *r, size_t n);
/* Empty: frees the memory.  Returns 1 when it did. */
int ring_trim(struct ring *r);

#endif
