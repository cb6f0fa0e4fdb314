/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_VDEV_STREAM_H
#define USBWS_VDEV_STREAM_H

/*
 * Runs a virtual device on a USB/IP URB stream: CMD_* bytes in, RET_*
 * bytes out, with no I/O of its own.  Input is framed and validated like
 * any peer's; replies go to a bounded buffer, and input stops being taken
 * while that buffer is above its high-water mark, so a reader that does not
 * drain never makes the device session grow.
 */

#include <stddef.h>
#include <stdint.h>

#include "base/ring.h"
#include "usbip/usbip_framer.h"
#include "vdev/vdev.h"

struct vdev_stream {
	struct vdev *dev;
	struct usbip_validator *validator;
	struct usbip_framer rx;
	struct usbip_header cmd;     /* the command being received */
	uint8_t *out_data;           /* its OUT data, max_transfer bytes */
	uint32_t out_have;
	uint32_t max_transfer;
	struct ring tx; /* replies not yet taken by the caller */
	size_t high_water;
	uint64_t urbs;
};

/* max_transfer bounds one URB; tx holds at most high_water plus one reply
 * (and may allocate one more reply's worth of spill, for a reply written
 * across the ring's end).  headroom is kept in front of the ring. */
int vdev_stream_init(struct vdev_stream *s, struct vdev *dev, uint32_t max_transfer,
		     size_t high_water, size_t headroom);
void vdev_stream_free(struct vdev_stream *s);

/*
 * Takes bytes from the importer.  *used may be less than len when the
 * reply buffer is full: drain it and feed the rest again.  Returns 0 or a
 * negative enum usbws_err (the stream broke a rule; close it).
 */
int vdev_stream_feed(struct vdev_stream *s, const uint8_t *buf, size_t len, size_t *used);

static inline struct ring *vdev_stream_tx(struct vdev_stream *s)
{
	return &s->tx;
}
static inline struct usbip_validator *vdev_stream_validator(const struct vdev_stream *s) { return s->validator; }
/* The importer's commands stand between two messages. */
static inline int vdev_stream_at_boundary(const struct vdev_stream *s) { return usbip_framer_at_boundary(&s->rx); }
/* The importer's unexport reply came: its command stream is over. */
static inline int vdev_stream_closed(const struct vdev_stream *s) { return usbip_framer_closed(&s->rx); }

#endif
