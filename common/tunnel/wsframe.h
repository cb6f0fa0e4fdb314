/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_WSFRAME_H
#define USBWS_WSFRAME_H

/*
 * WebSocket framing (RFC 6455), pure: no I/O, no allocation.  The parser
 * is incremental like the USB/IP framer, and hands payload over in blocks,
 * unmasked in place, so a 64 KiB frame costs one pass, not one call per
 * byte.  Extensions are not supported: any RSV bit is an error.
 */

#include <stddef.h>
#include <stdint.h>

enum ws_opcode {
	WS_OP_CONTINUATION = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xa,
};

#define WS_MAX_HEADER 14
#define WS_MAX_CONTROL 125
/* a close frame's payload is its 2-byte status, then the reason */
#define WS_MAX_CLOSE_REASON (WS_MAX_CONTROL - 2)
/* close statuses (RFC 6455, 7.4.1) */
#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_GOING_AWAY 1001
#define WS_CLOSE_PROTOCOL_ERROR 1002

enum ws_event_type {
	WS_EV_DATA = 1,      /* u.data: payload of a text or binary message, unmasked */
	WS_EV_MESSAGE_END,   /* the text or binary message is complete */
	WS_EV_CONTROL,       /* u.control: a whole ping, pong or close frame */
};

struct ws_event {
	enum ws_event_type type;
	enum ws_opcode opcode;          /* the message's (DATA, MESSAGE_END) or the frame's */
	union {
		struct {
			uint8_t *ptr;   /* inside the caller's buffer */
			size_t len;
		} data;
		struct {
			uint8_t payload[WS_MAX_CONTROL];
			size_t len;
		} control;
	} u;
};

struct ws_parser {
	int expect_masked;              /* a server's parser: every frame masked */
	uint64_t max_frame;             /* longest data frame accepted */
	int state;
	int err;
	uint8_t hdr[WS_MAX_HEADER];
	size_t have, want;
	uint8_t opcode, fin, masked;
	uint8_t mask[4];
	uint64_t left;                  /* payload bytes still to come */
	uint64_t pos;                   /* payload bytes seen in this frame */
	enum ws_opcode message;         /* text/binary in progress, or 0 */
	uint8_t control[WS_MAX_CONTROL];
	size_t control_len;
};

void wsframe_parser_init(struct ws_parser *p, int expect_masked, uint64_t max_frame);

/*
 * Consumes bytes until an event is ready: returns 1 with *ev, 0 when all of
 * buf is consumed, or a negative enum usbws_err (sticky).  Payload is
 * unmasked in place in buf.  Call again (len may be 0) until 0: a
 * MESSAGE_END can follow the last byte.
 */
int wsframe_parse(struct ws_parser *p, uint8_t *buf, size_t len, size_t *used, struct ws_event *ev);

/* Writes a frame header (2 to 14 bytes) and returns its length.  mask may
 * be NULL (a server's frames); a client passes 4 random bytes. */
size_t wsframe_header_encode(uint8_t out[WS_MAX_HEADER], enum ws_opcode opcode, int fin, uint64_t len,
			     const uint8_t *mask);

/* XORs buf with mask, starting at payload offset `offset` (for chunks). */
void wsframe_mask(uint8_t *buf, size_t len, const uint8_t mask[4], uint64_t offset);
/* The same into dst, in one pass: src stays unmasked (a sender keeps it
 * for a resend).  dst and src do not overlap. */
void wsframe_mask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t mask[4], uint64_t offset);

#endif
