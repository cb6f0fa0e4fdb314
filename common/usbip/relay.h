/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_RELAY_H
#define USBWS_RELAY_H

/*
 * Relaying a USB/IP stream: the bytes passed on are rebuilt from the
 * framer's events, so only what the framer and validator accepted ever
 * reaches the other side (the kernel, eventually), and headers arrive
 * there canonical, with padding zeroed.  Data is copied once, into out.
 */

#include "base/ring.h"
#include "usbip/usbip_framer.h"

/* Appends the wire bytes of a URB-phase event (URB header, data span, ISO
 * descriptor) to out; other events add nothing.  Returns 0 or
 * USBWS_ERR_NOSPACE. */
int relay_event(struct ring *out, const struct usbip_event *ev);

/* Feeds buf through f and relays every URB event into out.  OP events are
 * handed to on_op (may be NULL) and not relayed.  Returns 0 or the first
 * error from the framer, relay_event or on_op. */
int relay_chunk(struct usbip_framer *f, const uint8_t *buf, size_t len, struct ring *out,
		int (*on_op)(void *ctx, const struct usbip_event *ev), void *ctx);

/* What sees a stream as it is relayed (a capture): event is called with
 * each URB-phase event relay_chunk_tap has just relayed into out, the
 * message's END included, and can neither change nor fail the relay. */
struct relay_tap {
	void (*event)(void *ctx, const struct usbip_event *ev);
	void *ctx;
};

/* As relay_chunk, with tap (NULL: none) seeing what is relayed. */
int relay_chunk_tap(struct usbip_framer *f, const uint8_t *buf, size_t len, struct ring *out,
		    int (*on_op)(void *ctx, const struct usbip_event *ev), void *ctx, const struct relay_tap *tap);

/* As relay_chunk with no on_op, every URB header's devid replaced by
 * devid: the one who numbered the device (the proxy) is not the one who
 * checks the number (usbip-host, which drops a command with another). */
int relay_chunk_devid(struct usbip_framer *f, const uint8_t *buf, size_t len, struct ring *out, uint32_t devid);

#endif
