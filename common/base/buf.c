/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "base/buf.h"

#include <stdlib.h>
#include <string.h>

#include "base/usbws_err.h"

void buf_init(struct buf *b, size_t headroom, size_t limit)
{
	memset(b, 0, sizeof(*b));
	b->headroom = headroom;
	b->off = headroom;
	b->limit = limit;
}

void buf_free(struct buf *b)
{
	free(b->mem);
	buf_init(b, b->headroom, b->limit);
}

uint8_t *buf_reserve(struct buf *b, size_t n)
{
	size_t need;

	if (n > b->limit - b->len)
		return NULL;
	need = b->off + b->len + n;
	if (need > b->alloc && b->off > b->headroom) {
		/* slide the data back to the front before growing */
		memmove(b->mem + b->headroom, b->mem + b->off, b->len);
		b->off = b->headroom;
		need = b->off + b->len + n;
	}
	/* allocate even for n == 0, so a successful reserve is never NULL */
	if (need > b->alloc || !b->mem) {
		size_t alloc = b->alloc ? b->alloc : b->headroom + 4096;
		uint8_t *mem;

		while (alloc < need)
			alloc *= 2;
		if (alloc > b->headroom + b->limit)
			alloc = b->headroom + b->limit;
		mem = realloc(b->mem, alloc);
		if (!mem)
			return NULL;
		b->mem = mem;
		b->alloc = alloc;
	}
	return b->mem + b->off + b->len;
}

void buf_commit(struct buf *b, size_t n)
{
	b->len += n;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
	uint8_t *p = buf_reserve(b, n);

	if (!p)
		return USBWS_ERR_NOSPACE;
	memcpy(p, data, n);
	buf_commit(b, n);
	return 0;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		b->off = b->headroom;
		return;
	}
	b->off += n;
	b->len -= n;
}
