/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_BUF_H
#define USBWS_BUF_H

/*
 * The one byte buffer: a FIFO with a hard size limit and headroom kept free
 * in front of the data, so a WebSocket write can frame it in place (lws
 * needs LWS_PRE writable bytes before what it sends).  Memory grows on
 * demand up to the limit and is never more than limit + headroom.
 */

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *mem;
	size_t headroom;
	size_t off;       /* data starts at mem + off, off >= headroom */
	size_t len;
	size_t alloc;     /* bytes allocated at mem */
	size_t limit;     /* most data bytes ever held */
};

void buf_init(struct buf *b, size_t headroom, size_t limit);
void buf_free(struct buf *b);

static inline size_t buf_len(const struct buf *b) { return b->len; }
static inline size_t buf_space(const struct buf *b) { return b->limit - b->len; }
/* First data byte; the headroom bytes before it are the caller's to scribble on. */
static inline uint8_t *buf_data(const struct buf *b) { return b->mem ? b->mem + b->off : NULL; }

/* Room for n more bytes at the end, or NULL when that would pass the limit
 * (or memory ran out).  Nothing is added until buf_commit. */
uint8_t *buf_reserve(struct buf *b, size_t n);
void buf_commit(struct buf *b, size_t n);
/* Returns 0 or USBWS_ERR_NOSPACE. */
int buf_append(struct buf *b, const void *data, size_t n);
void buf_consume(struct buf *b, size_t n);

#endif
