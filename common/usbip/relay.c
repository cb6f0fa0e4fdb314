/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "usbip/relay.h"

#include "base/usbws_err.h"

int relay_event(struct ring *out, const struct usbip_event *ev)
{
	uint8_t *p;

	switch (ev->type) {
	case USBIP_EV_URB:
		p = ring_reserve(out, USBIP_HEADER_SIZE);
		if (!p)
			return USBWS_ERR_NOSPACE;
		usbip_header_encode(p, USBIP_HEADER_SIZE, &ev->u.urb.hdr);
		ring_commit(out, USBIP_HEADER_SIZE);
		return 0;
	case USBIP_EV_DATA: return ring_append(out, ev->u.data.ptr, ev->u.data.len);
	case USBIP_EV_ISO:
		p = ring_reserve(out, USBIP_ISO_DESC_SIZE);
		if (!p)
			return USBWS_ERR_NOSPACE;
		usbip_iso_desc_encode(p, USBIP_ISO_DESC_SIZE, &ev->u.iso);
		ring_commit(out, USBIP_ISO_DESC_SIZE);
		return 0;
	default:
		return 0;
	}
}

/* devid, when not NULL, replaces every URB header's */
static int relay_loop(struct usbip_framer *f, const uint8_t *buf, size_t len, struct ring *out,
		      int (*on_op)(void *ctx, const struct usbip_event *ev), void *ctx, const uint32_t *devid,
		      const struct relay_tap *tap)
{
	struct usbip_event ev;
	size_t pos = 0, used;
	int rc;

	for (;;) {
		rc = usbip_framer_feed(f, buf + pos, len - pos, &used, &ev);
		pos += used;
		if (rc <= 0)
			return rc;
		/* an OP message can span chunks: the framer remembers its kind */
		if (usbip_framer_in_op(f)) {
			rc = on_op ? on_op(ctx, &ev) : 0;
		} else {
			if (devid && ev.type == USBIP_EV_URB)
				ev.u.urb.hdr.base.devid = *devid;
			rc = relay_event(out, &ev);
			if (rc == 0 && tap)
				tap->event(tap->ctx, &ev);
		}
		if (rc < 0)
			return rc;
	}
}

int relay_chunk(struct usbip_framer *f, const uint8_t *buf, size_t len, struct ring *out,
		int (*on_op)(void *ctx, const struct usbip_event *ev), void *ctx)
{
	return relay_loop(f, buf, len, out, on_op, ctx, NULL, NULL);
}

int relay_chunk_tap(struct usbip_framer *f, const uint8_t *buf, size_t len, struct ring *out,
		    int (*on_op)(void *ctx, const struct usbip_event *ev), void *ctx, const struct relay_tap *tap)
{
	return relay_loop(f, buf, len, out, on_op, ctx, NULL, tap);
}

int relay_chunk_devid(struct usbip_framer *f, const uint8_t *buf, size_t len, struct ring *out, uint32_t devid)
{
	return relay_loop(f, buf, len, out, NULL, NULL, &devid, NULL);
}
