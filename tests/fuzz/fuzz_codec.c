/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target for the codec.  The first byte picks a decoder; whatever it
 * accepts must survive encode and decode again unchanged, so the encoder
 * never writes what the decoder refuses and nothing is lost on the way.
 */
#include <string.h>

#include "fuzz_common.h"
#include "usbip/usbip_codec.h"
#include "usbip/usbip_framer.h"

static void same_device(const struct usbip_usb_device *a, const struct usbip_usb_device *b)
{
	FUZZ_ASSERT(strcmp(a->path, b->path) == 0);
	FUZZ_ASSERT(strcmp(a->busid, b->busid) == 0);
	FUZZ_ASSERT(a->busnum == b->busnum && a->devnum == b->devnum && a->speed == b->speed);
	FUZZ_ASSERT(a->id_vendor == b->id_vendor && a->id_product == b->id_product);
	FUZZ_ASSERT(a->bcd_device == b->bcd_device && a->b_device_class == b->b_device_class);
	FUZZ_ASSERT(a->b_device_subclass == b->b_device_subclass);
	FUZZ_ASSERT(a->b_device_protocol == b->b_device_protocol);
	FUZZ_ASSERT(a->b_configuration_value == b->b_configuration_value);
	FUZZ_ASSERT(a->b_num_configurations == b->b_num_configurations);
	FUZZ_ASSERT(a->b_num_interfaces == b->b_num_interfaces);
}

static void fuzz_urb(const uint8_t *data, size_t size, const struct usbip_limits *lim,
		     const struct usbip_header *cmd)
{
	static uint8_t out[USBIP_HEADER_SIZE + (1 << 16) + USBIP_MAX_ISO_PACKETS * USBIP_ISO_DESC_SIZE];
	struct usbip_iso_packet_descriptor iso[USBIP_MAX_ISO_PACKETS];
	struct usbip_urb_view v, w;
	uint32_t i;
	int n, m;

	n = usbip_decode_urb(data, size, lim, cmd, &v);
	if (n < 0)
		return;
	FUZZ_ASSERT((size_t)n <= size);
	for (i = 0; i < v.niso; i++)
		usbip_iso_desc_decode(v.iso + i * USBIP_ISO_DESC_SIZE, USBIP_ISO_DESC_SIZE, &iso[i]);
	m = usbip_encode_urb(out, sizeof(out), &v.hdr, cmd ? cmd->base.direction : 0, v.data, v.data_len,
			     iso, v.niso);
	FUZZ_ASSERT(m == n);
	FUZZ_ASSERT(usbip_decode_urb(out, (size_t)m, lim, cmd, &w) == n);
	FUZZ_ASSERT(memcmp(&v.hdr, &w.hdr, sizeof(v.hdr)) == 0);
	FUZZ_ASSERT(v.data_len == w.data_len && memcmp(v.data, w.data, v.data_len) == 0);
	FUZZ_ASSERT(memcmp(v.iso, w.iso, (size_t)v.niso * USBIP_ISO_DESC_SIZE) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct usbip_exported_device devs[8], again[8];
	static uint8_t out[8 * (USBIP_USB_DEVICE_SIZE + USBIP_MAX_INTERFACES * 4) + 64];
	struct usbip_limits lim;
	struct usbip_op_common op;
	struct usbip_usb_device dev, dev2;
	struct usbip_header hdr, hdr2;
	char busid[USBIP_BUSID_SIZE], busid2[USBIP_BUSID_SIZE];
	uint32_t n, n2, i;
	uint8_t sel;
	int rc;

	if (size < 1)
		return 0;
	sel = data[0];
	data++;
	size--;
	usbip_limits_default(&lim);
	/* keep transfers small enough for the static output buffer */
	lim.max_transfer = 1 << 16;

	switch (sel % 7) {
	case 0:
		if (usbip_op_common_decode(data, size, &op) < 0)
			break;
		FUZZ_ASSERT(usbip_op_common_encode(out, sizeof(out), op.code, op.status) == 8);
		FUZZ_ASSERT(memcmp(out, data, 8) == 0);
		break;
	case 1:
		if (usbip_busid_decode(data, size, busid) < 0)
			break;
		FUZZ_ASSERT(usbip_busid_encode(out, sizeof(out), busid) == USBIP_BUSID_SIZE);
		FUZZ_ASSERT(usbip_busid_decode(out, USBIP_BUSID_SIZE, busid2) == USBIP_BUSID_SIZE);
		FUZZ_ASSERT(strcmp(busid, busid2) == 0);
		break;
	case 2:
		if (usbip_usb_device_decode(data, size, &dev) < 0)
			break;
		FUZZ_ASSERT(usbip_usb_device_encode(out, sizeof(out), &dev) == USBIP_USB_DEVICE_SIZE);
		FUZZ_ASSERT(usbip_usb_device_decode(out, USBIP_USB_DEVICE_SIZE, &dev2) == USBIP_USB_DEVICE_SIZE);
		same_device(&dev, &dev2);
		break;
	case 3:
		if (usbip_header_decode(data, size, &lim, &hdr) < 0)
			break;
		FUZZ_ASSERT(usbip_header_encode(out, sizeof(out), &hdr) == USBIP_HEADER_SIZE);
		FUZZ_ASSERT(usbip_header_decode(out, USBIP_HEADER_SIZE, &lim, &hdr2) == USBIP_HEADER_SIZE);
		FUZZ_ASSERT(memcmp(&hdr, &hdr2, sizeof(hdr)) == 0);
		break;
	case 4:
		fuzz_urb(data, size, &lim, NULL);
		break;
	case 5:
		/* a CMD_SUBMIT header, then a RET_SUBMIT answering it */
		if (usbip_header_decode(data, size, &lim, &hdr) < 0 || hdr.base.command != USBIP_CMD_SUBMIT)
			break;
		fuzz_urb(data + USBIP_HEADER_SIZE, size - USBIP_HEADER_SIZE, &lim, &hdr);
		break;
	case 6:
		rc = usbip_framer_decode_devlist(data, size, devs, 8, &n);
		if (rc < 0)
			break;
		rc = usbip_encode_devlist(out, sizeof(out), devs, n);
		FUZZ_ASSERT(rc > 0);
		FUZZ_ASSERT(usbip_framer_decode_devlist(out, (size_t)rc, again, 8, &n2) == rc);
		FUZZ_ASSERT(n == n2);
		for (i = 0; i < n; i++) {
			same_device(&devs[i].udev, &again[i].udev);
			FUZZ_ASSERT(memcmp(devs[i].interfaces, again[i].interfaces,
					   devs[i].udev.b_num_interfaces * sizeof(devs[i].interfaces[0])) == 0);
		}
		break;
	}
	return 0;
}
