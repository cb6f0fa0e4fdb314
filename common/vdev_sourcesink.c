/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Bulk source and sink for benchmarks: every IN transfer carries the
 * pattern i % 63, every OUT transfer must carry it too.  A mismatch fails
 * that URB with -EILSEQ and is counted, so a benchmark can prove the bytes
 * arrived intact, not just that they arrived.
 */
#include <errno.h>
#include <stdlib.h>

#include "usbws_err.h"
#include "vdev.h"

#define EP_IN 1
#define EP_OUT 2

struct sourcesink {
	struct vdev dev;
	uint64_t bad_transfers;
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

static void ss_bulk(struct vdev *d, struct vdev_urb *u)
{
	struct sourcesink *ss = d->priv;
	uint32_t i;

	if (u->direction == USBIP_DIR_IN && u->ep == EP_IN) {
		for (i = 0; i < u->length; i++)
			u->in[i] = vdev_pattern_byte(i);
		u->actual = u->length;
	} else if (u->direction == USBIP_DIR_OUT && u->ep == EP_OUT) {
		for (i = 0; i < u->length; i++) {
			if (u->out[i] != vdev_pattern_byte(i)) {
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

	if (!ss)
		return USBWS_ERR_NOMEM;
	ss->dev.priv = ss;
	vdev_init_common(&ss->dev, &sourcesink_ops, &desc, busid);
	*out = &ss->dev;
	return 0;
}
