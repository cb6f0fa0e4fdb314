/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Writes the seed inputs for the fuzz targets into DIR/codec and
 * DIR/framer: valid PDUs of every kind and the sample session, laid out as
 * each target reads its input.  libFuzzer grows the corpus from these;
 * `make fuzz-seeds` regenerates them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "byteorder.h"
#include "selftest.h"
#include "usbws_err.h"

static const char *outdir;

static int write_seed(const char *target, const char *name, uint8_t sel_or_flags,
		      const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, int with_split)
{
	char path[4096];
	uint8_t hdr[3];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/seed-%s", outdir, target, name);
	f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "gen_seeds: %s: %s\n", path, strerror(errno));
		return -1;
	}
	hdr[0] = sel_or_flags;
	put_be16(hdr + 1, (uint16_t)alen);
	fwrite(hdr, 1, with_split ? 3 : 1, f);
	fwrite(a, 1, alen, f);
	if (b)
		fwrite(b, 1, blen, f);
	return fclose(f);
}

int main(int argc, char **argv)
{
	struct usbws_sample_session s;
	struct usbip_usb_device dev = { .path = "/sys/devices/platform/vhci_hcd.0/usb1/1-1",
					.busid = "1-1", .busnum = 1, .devnum = 2,
					.speed = USBIP_SPEED_SUPER, .id_vendor = 0x1d6b,
					.id_product = 0x0104, .b_num_interfaces = 2 };
	struct usbip_exported_device devs[2];
	struct usbip_header cmd = { .base = { USBIP_CMD_SUBMIT, 1, 0x10002, USBIP_DIR_OUT, 2 } };
	struct usbip_header ret = { .base = { USBIP_RET_SUBMIT, 1 } };
	uint8_t buf[4096], data[64];
	size_t half;
	int n, m;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds DIR\n");
		return 2;
	}
	outdir = argv[1];
	snprintf((char *)buf, sizeof(buf), "%s/codec", outdir);
	mkdir((char *)buf, 0755);
	snprintf((char *)buf, sizeof(buf), "%s/framer", outdir);
	mkdir((char *)buf, 0755);
	snprintf((char *)buf, sizeof(buf), "%s/wsframe", outdir);
	mkdir((char *)buf, 0755);
	memset(data, 0x5a, sizeof(data));

	/* codec: selector byte, then one PDU */
	n = usbip_op_common_encode(buf, sizeof(buf), USBIP_OP_REQ_DEVLIST, 0);
	write_seed("codec", "op", 0, buf, (size_t)n, NULL, 0, 0);
	n = usbip_busid_encode(buf, sizeof(buf), "1-1.2");
	write_seed("codec", "busid", 1, buf, (size_t)n, NULL, 0, 0);
	n = usbip_usb_device_encode(buf, sizeof(buf), &dev);
	write_seed("codec", "device", 2, buf, (size_t)n, NULL, 0, 0);
	cmd.u.cmd_submit.transfer_buffer_length = 64;
	n = usbip_encode_urb(buf, sizeof(buf), &cmd, 0, data, 64, NULL, 0);
	write_seed("codec", "header", 3, buf, 48, NULL, 0, 0);
	write_seed("codec", "cmd-out", 4, buf, (size_t)n, NULL, 0, 0);
	ret.u.ret_submit.actual_length = 64;
	m = usbip_encode_urb(buf + 48, sizeof(buf) - 48, &ret, USBIP_DIR_OUT, NULL, 0, NULL, 0);
	write_seed("codec", "cmd-ret", 5, buf, 48 + (size_t)m, NULL, 0, 0);
	devs[0].udev = dev;
	devs[0].interfaces[0] = (struct usbip_usb_interface){ 8, 6, 0x50 };
	devs[0].interfaces[1] = (struct usbip_usb_interface){ 3, 0, 0 };
	devs[1].udev = dev;
	devs[1].udev.b_num_interfaces = 0;
	n = usbip_encode_devlist(buf, sizeof(buf), devs, 2);
	write_seed("codec", "devlist", 6, buf, (size_t)n, NULL, 0, 0);

	/* framer: flags, split, toward-device stream, from-device stream */
	if (usbws_sample_session_build(&s) < 0)
		return 1;
	write_seed("framer", "session", 0, s.to_device.buf, s.to_device.len,
		   s.from_device.buf, s.from_device.len, 1);
	write_seed("framer", "session-chunked", 0x7e, s.to_device.buf, s.to_device.len,
		   s.from_device.buf, s.from_device.len, 1);
	/* the URB part alone, after the 8-byte REP_EXPORT and 320-byte REQ_EXPORT */
	write_seed("framer", "urbs", 1, s.to_device.buf + 8, s.to_device.len - 16,
		   s.from_device.buf + 320, s.from_device.len - 640, 1);
	half = s.from_device.len / 2;
	write_seed("framer", "truncated", 0, s.to_device.buf, s.to_device.len,
		   s.from_device.buf, half, 1);
	usbws_sample_session_free(&s);
	/* wsframe: flags (bit 0 server), then frames: RFC 6455 5.7 examples */
	write_seed("wsframe", "hello", 0, (const uint8_t *)"\x81\x05Hello", 7, NULL, 0, 0);
	write_seed("wsframe", "hello-masked", 1,
		   (const uint8_t *)"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11, NULL, 0, 0);
	write_seed("wsframe", "fragments-ping", 2,
		   (const uint8_t *)"\x01\x03Hel\x89\x05Hello\x80\x02lo", 16, NULL, 0, 0);
	buf[0] = 0x82;
	buf[1] = 126;
	buf[2] = 1;
	buf[3] = 0;
	memset(buf + 4, 0xab, 256);
	write_seed("wsframe", "binary-256", 0, buf, 260, NULL, 0, 0);

	n = usbip_encode_devlist(buf, sizeof(buf), devs, 2);
	write_seed("framer", "devlist", 0, (const uint8_t *)"\x01\x11\x80\x05\0\0\0\0", 8, buf, (size_t)n, 1);
	return 0;
}
