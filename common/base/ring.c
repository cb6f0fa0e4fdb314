/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "base/ring.h"

#include <stdlib.h>
#include <string.h>

#include "base/usbws_err.h"

void ring_init(struct ring *r, size_t headroom, size_t limit)
{
	memset(r, 0, sizeof(*r));
	r->_headroom = headroom;
	r->_limit = limit;
}

void ring_free(struct ring *r)
{
	free(r->_mem);
	ring_init(r, r->_headroom, r->_limit);
}

static inline uint8_t *base(const struct ring *r)
{
	return r->_mem + r->_headroom;
}

/* i < 2 * cap */
static inline size_t wrap(const struct ring *r, size_t i)
{
	return i >= r->_cap ? i - r->_cap : i;
}

/* Reallocates for cap ring bytes and spill bytes after them, keeping the
 * data in ring order.  Returns 0 or USBWS_ERR_NOMEM (nothing changed). */
static int resize(struct ring *r, size_t cap, size_t spill)
{
	size_t old = r->_cap, alloc = r->_headroom + cap + spill;
	uint8_t *mem = realloc(r->_mem, alloc ? alloc : 1);

	if (!mem)
		return USBWS_ERR_NOMEM;
	r->_mem = mem;
	r->_cap = cap;
	r->_spill = spill;
	if (cap > old && r->_head + r->_len > old) {
		/* the data wrapped in the old ring: its front part [0, front)
		 * follows on past the old end, or, when that is longer than
		 * the room gained, the back part moves up to the new end */
		size_t front = r->_head + r->_len - old, back = old - r->_head;

		if (front <= cap - old) {
			memcpy(base(r) + old, base(r), front);
		} else {
			memmove(base(r) + cap - back, base(r) + r->_head, back);
			r->_head = cap - back;
		}
	}
	return 0;
}

/* Room for need data bytes in all, need <= limit. */
static int make_room(struct ring *r, size_t need)
{
	size_t cap = r->_cap ? r->_cap : RING_FIRST_CAP;

	if (r->_mem && need <= r->_cap)
		return 0;
	while (cap < need)
		cap = cap > r->_limit / 2 ? r->_limit : cap * 2;
	if (cap > r->_limit)
		cap = r->_limit;
	return resize(r, cap, r->_spill);
}

uint8_t *ring_reserve(struct ring *r, size_t n)
{
	size_t tail;

	if (n > r->_limit - r->_len || make_room(r, r->_len + n) < 0)
		return NULL;
	tail = wrap(r, r->_head + r->_len);
	/* past the end only when the data does not wrap already: then the
	 * free bytes are the end and the front, and the spill stands in for
	 * the front until ring_commit */
	if (tail + n > r->_cap && tail + n - r->_cap > r->_spill && resize(r, r->_cap, tail + n - r->_cap) < 0)
		return NULL;
	return base(r) + tail;
}

void ring_commit(struct ring *r, size_t n)
{
	size_t tail = wrap(r, r->_head + r->_len);

	if (tail + n > r->_cap)
		memcpy(base(r), base(r) + r->_cap, tail + n - r->_cap);
	r->_len += n;
}

int ring_append(struct ring *r, const void *data, size_t n)
{
	size_t tail, first;

	if (!n)
		return 0;
	if (n > r->_limit - r->_len || make_room(r, r->_len + n) < 0)
		return USBWS_ERR_NOSPACE;
	tail = wrap(r, r->_head + r->_len);
	first = r->_cap - tail < n ? r->_cap - tail : n;
	memcpy(base(r) + tail, data, first);
	memcpy(base(r), (const uint8_t *)data + first, n - first);
	r->_len += n;
	return 0;
}

const uint8_t *ring_peek(const struct ring *r, size_t skip, size_t *len)
{
	size_t at;

	if (skip >= r->_len) {
		*len = 0;
		return NULL;
	}
	at = wrap(r, r->_head + skip);
	*len = r->_len - skip < r->_cap - at ? r->_len - skip : r->_cap - at;
	return base(r) + at;
}

void ring_copy_out(const struct ring *r, size_t skip, void *dst, size_t n)
{
	uint8_t *to = dst;

	while (n) {
		size_t run;
		const uint8_t *p = ring_peek(r, skip, &run);

		if (!p)
			return;
		if (run > n)
			run = n;
		memcpy(to, p, run);
		to += run;
		skip += run;
		n -= run;
	}
}

void ring_consume(struct ring *r, size_t n)
{
	if (n >= r->_len) {
		/* empty: the next bytes go in at the front, in one piece */
		r->_len = 0;
		r->_head = 0;
		return;
	}
	r->_head = wrap(r, r->_head + n);
	r->_len -= n;
}

int ring_trim(struct ring *r)
{
	if (r->_len || !r->_mem)
		return 0;
	ring_free(r);
	return 1;
}
