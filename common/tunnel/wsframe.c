/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tunnel/wsframe.h"

#include <string.h>

#include "base/usbws_err.h"

enum { WS_HEAD, WS_PAYLOAD, WS_END };

void wsframe_parser_init(struct ws_parser *p, int expect_masked, uint64_t max_frame)
{
	memset(p, 0, sizeof(*p));
	p->expect_masked = expect_masked;
	p->max_frame = max_frame;
	p->state = WS_HEAD;
	p->want = 2;
}

void wsframe_mask(uint8_t *buf, size_t len, const uint8_t mask[4], uint64_t offset)
{
	wsframe_mask_copy(buf, buf, len, mask, offset);
}

void wsframe_mask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t mask[4], uint64_t offset)
{
	uint8_t m[8];
	uint64_t w;
	size_t i = 0, k;

	for (k = 0; k < 8; k++)
		m[k] = mask[(offset + k) & 3];
	memcpy(&w, m, 8);
	/* eight bytes at a time: the rotation of the mask repeats every 4;
	 * dst may be src, as each word is read before it is written */
	for (; i + 8 <= len; i += 8) {
		uint64_t v;

		memcpy(&v, src + i, 8);
		v ^= w;
		memcpy(dst + i, &v, 8);
	}
	for (; i < len; i++)
		dst[i] = src[i] ^ m[i & 7];
}

size_t wsframe_header_encode(uint8_t out[WS_MAX_HEADER], enum ws_opcode opcode, int fin, uint64_t len,
			     const uint8_t *mask)
{
	size_t n = 2;
	int k;

	out[0] = (uint8_t)((fin ? 0x80 : 0) | opcode);
	if (len < 126) {
		out[1] = (uint8_t)len;
	} else if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		n = 4;
	} else {
		out[1] = 127;
		for (k = 0; k < 8; k++)
			out[2 + k] = (uint8_t)(len >> (56 - 8 * k));
		n = 10;
	}
	if (mask) {
		out[1] |= 0x80;
		memcpy(out + n, mask, 4);
		n += 4;
	}
	return n;
}

/* The first two bytes tell how long the rest of the header is. */
static int head_start(struct ws_parser *p)
{
	uint8_t b0 = p->hdr[0], b1 = p->hdr[1], len7 = b1 & 0x7f;

	if (b0 & 0x70)
		return USBWS_ERR_WS_RSV;
	p->fin = b0 >> 7;
	p->opcode = b0 & 0x0f;
	p->masked = b1 >> 7;
	switch (p->opcode) {
	case WS_OP_CONTINUATION: case WS_OP_TEXT: case WS_OP_BINARY:
		break;
	case WS_OP_CLOSE: case WS_OP_PING: case WS_OP_PONG:
		if (!p->fin || len7 > WS_MAX_CONTROL)
			return USBWS_ERR_WS_CONTROL;
		break;
	default:
		return USBWS_ERR_WS_OPCODE;
	}
	if (p->masked != p->expect_masked)
		return USBWS_ERR_WS_MASK;
	p->want = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (p->masked ? 4 : 0);
	return 0;
}

static int head_done(struct ws_parser *p)
{
	uint8_t len7 = p->hdr[1] & 0x7f;
	size_t off = 2;
	int k;

	if (len7 == 126) {
		p->left = (uint64_t)p->hdr[2] << 8 | p->hdr[3];
		off = 4;
	} else if (len7 == 127) {
		if (p->hdr[2] & 0x80)
			return USBWS_ERR_WS_LENGTH;
		p->left = 0;
		for (k = 0; k < 8; k++)
			p->left = p->left << 8 | p->hdr[2 + k];
		off = 10;
	} else {
		p->left = len7;
	}
	if (p->masked)
		memcpy(p->mask, p->hdr + off, 4);
	if (p->opcode < WS_OP_CLOSE) {
		if (p->left > p->max_frame)
			return USBWS_ERR_WS_LENGTH;
		if ((p->opcode == WS_OP_CONTINUATION) != (p->message != 0))
			return USBWS_ERR_WS_FRAGMENT;
		if (p->opcode != WS_OP_CONTINUATION)
			p->message = p->opcode;
	}
	p->pos = 0;
	p->control_len = 0;
	p->state = WS_PAYLOAD;
	return 0;
}

/* After a frame's payload: a control frame or a final data frame yields
 * an event; anything else goes straight on to the next header. */
static int frame_done(struct ws_parser *p, struct ws_event *ev)
{
	p->state = WS_HEAD;
	p->want = 2;
	p->have = 0;
	if (p->opcode >= WS_OP_CLOSE) {
		ev->type = WS_EV_CONTROL;
		ev->opcode = p->opcode;
		memcpy(ev->u.control.payload, p->control, p->control_len);
		ev->u.control.len = p->control_len;
		return 1;
	}
	if (p->fin) {
		ev->type = WS_EV_MESSAGE_END;
		ev->opcode = p->message;
		p->message = 0;
		return 1;
	}
	return 0;
}

int wsframe_parse(struct ws_parser *p, uint8_t *buf, size_t len, size_t *used, struct ws_event *ev)
{
	size_t pos = 0, n;
	int rc = 0;

	*used = 0;
	if (p->err)
		return p->err;
	for (;;) {
		if (p->state == WS_END) {
			rc = frame_done(p, ev);
			if (rc)
				break;
			continue;
		}
		if (p->state == WS_PAYLOAD) {
			if (p->left == 0) {
				p->state = WS_END;
				continue;
			}
			if (pos == len)
				break;
			n = len - pos < p->left ? len - pos : (size_t)p->left;
			if (p->masked)
				wsframe_mask(buf + pos, n, p->mask, p->pos);
			p->pos += n;
			p->left -= n;
			if (p->opcode >= WS_OP_CLOSE) {
				memcpy(p->control + p->control_len, buf + pos, n);
				p->control_len += n;
				pos += n;
				continue;
			}
			ev->type = WS_EV_DATA;
			ev->opcode = p->message;
			ev->u.data.ptr = buf + pos;
			ev->u.data.len = n;
			pos += n;
			if (p->left == 0)
				p->state = WS_END;
			rc = 1;
			break;
		}
		/* WS_HEAD */
		if (pos == len)
			break;
		n = p->want - p->have < len - pos ? p->want - p->have : len - pos;
		memcpy(p->hdr + p->have, buf + pos, n);
		p->have += n;
		pos += n;
		if (p->have < p->want)
			continue;
		rc = p->have == 2 ? head_start(p) : 0;
		if (rc == 0 && p->have == p->want)
			rc = head_done(p);
		if (rc < 0)
			break;
	}
	*used = pos;
	if (rc < 0)
		p->err = rc;
	return rc;
}
