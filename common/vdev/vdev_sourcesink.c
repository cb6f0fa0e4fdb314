/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Bulk source and sink for benchmarks: every IN transfer carries the
 * pattern i % 63, every OUT transfer must carry it too.  A mismatch fails
 * that URB with -EILSEQ and is counted, so a benchmark can prove the bytes
 * arrived intact, not just that they arrived.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/usbws_err.h"
#include "vdev/vdev.h"

#define EP_IN 1
#define EP_OUT 2

/* Longest transfer answered from the precomputed pattern; longer ones
 * are filled and checked piecewise. */
#define PATTERN_SIZE (1u << 20)

struct sourcesink {
	struct vdev dev;
	uint64_t bad_transfers;
	/* the pattern, computed once: memcpy and memcmp against it keep the
	 * benchmark device from costing more than the transport it measures */
	uint8_t pattern[PATTERN_SIZE];
};

static const uint8_t ss_device_desc[18] = {
	18, 1, 0x00, 0x02, 0xff, 0, 0, 64,
	0x25, 0x05, 0xa0, 0xa4,   /* 0525:a4a0, the kernel's gadget zero */
	0x00, 0x01, 1, 2, 0, 1,
};

static const uint8_t ss_config_desc[32] = {
	9, 2, 32, 0, 1, 1, 0, 0x80, 50,
	9, 4, 0, 0, 2, 0xff, 0, 0, 0,
	7, 5, 0x80 | EP_IN, 2, 0x00, 0x02, 0,
	7, 5, EP_OUT, 2, 0x00, 0x02, 0,
};

static const char *const ss_strings[] = { "usbws", "usbws source/sink" };

/* Transfers longer than the table are taken in pieces that are whole
 * periods of 63, so each piece starts where the pattern starts. */
#define PATTERN_CHUNK (PATTERN_SIZE - PATTERN_SIZE % 63)

static void ss_bulk(struct vdev *d, struct vdev_urb *u)
{
	struct sourcesink *ss = d->priv;
	uint32_t off, n;

	if (u->direction == USBIP_DIR_IN && u->ep == EP_IN) {
		for (off = 0; off < u->length; off += n) {
			n = u->length - off < PATTERN_CHUNK ? u->length - off : PATTERN_CHUNK;
			memcpy(u->in + off, ss->pattern, n);
		}
		u->actual = u->length;
	} else if (u->direction == USBIP_DIR_OUT && u->ep == EP_OUT) {
		for (off = 0; off < u->length; off += n) {
			n = u->length - off < PATTERN_CHUNK ? u->length - off : PATTERN_CHUNK;
			if (memcmp(u->out + off, ss->pattern, n) != 0) {
				ss->bad_transfers++;
				u->status = -EILSEQ;
				return;
			}
		}
		u->actual = u->length;
	} else {
		u->status = -EPIPE;
	}
}

static void ss_destroy(struct vdev *d)
{
	free(d->priv);
}

static const struct vdev_ops sourcesink_ops = {
	.kind = "sourcesink",
	.bulk = ss_bulk,
	.destroy = ss_destroy,
};

int vdev_sourcesink_open(const char *busid, struct vdev **out)
{
	struct vdev_descriptors desc = { ss_device_desc, ss_config_desc, ss_strings, 2 };
	struct sourcesink *ss = calloc(1, sizeof(*ss));
	uint32_t i;

	if (!ss)
		return USBWS_ERR_NOMEM;
	for (i = 0; i < PATTERN_SIZE; i++)
		ss->pattern[i] = vdev_pattern_byte(i);
	ss->dev.priv = ss;
	vdev_init_common(&ss->dev, &sourcesink_ops, &desc, busid);
	*out = &ss->dev;
	return 0;
}
