/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The USB/IP codec: the document's HID capture, round trips of every PDU,
 * the packed device layout, and malformed input with its specific error. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "base/byteorder.h"

/* The capture in the kernel's usbip_protocol document, verbatim. */
static const char cmd_intr_in[] =
	"00000001 00000d05 0001000f 00000001 00000001 00000200 00000040 ffffffff 00000000 00000004 00000000 00000000";
static const char cmd_intr_out[] =
	"00000001 00000d06 0001000f 00000000 00000001 00000000 00000040 ffffffff 00000000 00000004 00000000 00000000"
	"ffffffff860008a784ce5ae212376300000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";
static const char ret_intr_out[] =
	"00000003 00000d06 00000000 00000000 00000000 00000000 00000040 ffffffff 00000000 00000000 00000000 00000000";
static const char ret_intr_in[] =
	"00000003 00000d05 00000000 00000000 00000000 00000000 00000040 ffffffff 00000000 00000000 00000000 00000000"
	"ffffffff860011a784ce5ae2123763612891b1020100000400000000000000000000000000000000000000000000000000000000000000000000000000000000";

static struct usbip_limits lim;

static int setup_limits(void **state)
{
	usbip_limits_default(&lim);
	return 0;
}

static void test_hid_capture_cmd_in(void **state)
{
	struct usbip_urb_view v;
	uint8_t buf[256];
	size_t n = hex_decode(cmd_intr_in, buf, sizeof(buf));

	assert_int_equal(n, 48);
	assert_usbws_err(usbip_decode_urb(buf, n, &lim, NULL, &v), 48);
	assert_int_equal(v.hdr.base.command, USBIP_CMD_SUBMIT);
	assert_int_equal(v.hdr.base.seqnum, 0xd05);
	assert_int_equal(v.hdr.base.devid, 0x0001000f);
	assert_int_equal(v.hdr.base.direction, USBIP_DIR_IN);
	assert_int_equal(v.hdr.base.ep, 1);
	assert_int_equal(v.hdr.u.cmd_submit.transfer_flags, 0x200);
	assert_int_equal(v.hdr.u.cmd_submit.transfer_buffer_length, 64);
	assert_int_equal(v.hdr.u.cmd_submit.start_frame, 0xffffffff);
	/* the capture has 0 where the text says 0xffffffff: both mean non-ISO */
	assert_int_equal(v.hdr.u.cmd_submit.number_of_packets, 0);
	assert_int_equal(v.hdr.u.cmd_submit.interval, 4);
	assert_memory_equal(v.hdr.u.cmd_submit.setup, "\0\0\0\0\0\0\0\0", 8);
	assert_int_equal(v.data_len, 0);
	assert_int_equal(v.niso, 0);
}

static void test_hid_capture_cmd_out(void **state)
{
	struct usbip_urb_view v;
	uint8_t buf[256];
	size_t n = hex_decode(cmd_intr_out, buf, sizeof(buf));

	assert_int_equal(n, 48 + 64);
	assert_usbws_err(usbip_decode_urb(buf, n, &lim, NULL, &v), 112);
	assert_int_equal(v.hdr.base.seqnum, 0xd06);
	assert_int_equal(v.hdr.base.direction, USBIP_DIR_OUT);
	assert_int_equal(v.hdr.base.ep, 1);
	assert_int_equal(v.hdr.u.cmd_submit.transfer_flags, 0);
	assert_int_equal(v.hdr.u.cmd_submit.transfer_buffer_length, 64);
	assert_int_equal(v.data_len, 64);
	assert_ptr_equal(v.data, buf + 48);
	assert_memory_equal(v.data, "\xff\xff\xff\xff\x86\x00\x08\xa7\x84\xce\x5a\xe2\x12\x37\x63", 15);
}

static void test_hid_capture_ret_out(void **state)
{
	struct usbip_header cmd;
	struct usbip_urb_view v;
	uint8_t cbuf[256], buf[256];
	size_t n = hex_decode(ret_intr_out, buf, sizeof(buf));

	hex_decode(cmd_intr_out, cbuf, sizeof(cbuf));
	assert_usbws_err(usbip_header_decode(cbuf, 48, &lim, &cmd), 48);
	assert_int_equal(n, 48);
	/* an OUT reply carries no data even though actual_length is 64 */
	assert_usbws_err(usbip_decode_urb(buf, n, &lim, &cmd, &v), 48);
	assert_int_equal(v.hdr.base.command, USBIP_RET_SUBMIT);
	assert_int_equal(v.hdr.base.seqnum, 0xd06);
	assert_int_equal(v.hdr.base.devid, 0);
	assert_int_equal(v.hdr.u.ret_submit.status, 0);
	assert_int_equal(v.hdr.u.ret_submit.actual_length, 64);
	assert_int_equal(v.hdr.u.ret_submit.start_frame, 0xffffffff);
	assert_int_equal(v.hdr.u.ret_submit.number_of_packets, 0);
	assert_int_equal(v.hdr.u.ret_submit.error_count, 0);
	assert_int_equal(v.data_len, 0);
}

static void test_hid_capture_ret_in(void **state)
{
	struct usbip_header cmd;
	struct usbip_urb_view v;
	uint8_t cbuf[256], buf[256];
	size_t n = hex_decode(ret_intr_in, buf, sizeof(buf));

	hex_decode(cmd_intr_in, cbuf, sizeof(cbuf));
	assert_usbws_err(usbip_header_decode(cbuf, 48, &lim, &cmd), 48);
	assert_int_equal(n, 112);
	assert_usbws_err(usbip_decode_urb(buf, n, &lim, &cmd, &v), 112);
	assert_int_equal(v.hdr.base.seqnum, 0xd05);
	assert_int_equal(v.hdr.u.ret_submit.actual_length, 64);
	assert_int_equal(v.data_len, 64);
	assert_memory_equal(v.data, "\xff\xff\xff\xff\x86\x00\x11\xa7\x84\xce\x5a\xe2\x12\x37\x63\x61\x28\x91\xb1\x02\x01", 21);
	/* the reply answers the IN command, not the OUT one */
	hex_decode(cmd_intr_out, cbuf, sizeof(cbuf));
	assert_usbws_err(usbip_header_decode(cbuf, 48, &lim, &cmd), 48);
	assert_usbws_err(usbip_decode_urb(buf, n, &lim, &cmd, &v), USBWS_ERR_UNSOLICITED);
}

/* The whole capture as two streams through the framer and validator. */
static void test_hid_capture_streams(void **state)
{
	struct usbip_validator *val = usbip_validator_new(NULL);
	struct usbip_framer to, from;
	uint8_t out[512], back[512];
	size_t no, nb;

	no = hex_decode(cmd_intr_in, out, sizeof(out));
	no += hex_decode(cmd_intr_out, out + no, sizeof(out) - no);
	nb = hex_decode(ret_intr_out, back, sizeof(back));
	nb += hex_decode(ret_intr_in, back + nb, sizeof(back) - nb);
	usbip_framer_init(&to, USBIP_FLOW_TO_DEVICE, val);
	usbip_framer_init(&from, USBIP_FLOW_FROM_DEVICE, val);
	usbip_framer_start_urb_phase(&to);
	usbip_framer_start_urb_phase(&from);
	assert_usbws_err(selftest_frame_all(&to, out, no, 5, NULL), 0);
	assert_int_equal(usbip_validator_inflight(val), 2);
	assert_usbws_err(selftest_frame_all(&from, back, nb, 5, NULL), 0);
	assert_int_equal(usbip_validator_inflight(val), 0);
	assert_int_equal(usbip_validator_flow(val, USBIP_FLOW_FROM_DEVICE)->payload_bytes, 64);
	assert_int_equal(usbip_validator_flow(val, USBIP_FLOW_TO_DEVICE)->payload_bytes, 64);
	usbip_validator_free(val);
}

/* struct usbip_usb_device is 312 packed bytes; the document's REP_IMPORT
 * table is one off from bcdDevice on, so check the real offsets. */
static void test_device_layout(void **state)
{
	struct usbip_exported_device d = make_device(7, 2);
	uint8_t buf[USBIP_OP_COMMON_SIZE + USBIP_USB_DEVICE_SIZE];

	d.udev.b_device_class = 0xe0;
	d.udev.b_num_configurations = 3;
	assert_usbws_err(usbip_encode_op_device(buf, sizeof(buf), USBIP_OP_REP_IMPORT, 0, &d.udev),
			 (int)sizeof(buf));
	assert_string_equal((char *)buf + 8, d.udev.path);
	assert_string_equal((char *)buf + 8 + 0x100, "3-7");
	assert_int_equal(get_be32(buf + 0x128), 3);       /* busnum */
	assert_int_equal(get_be32(buf + 0x12c), 17);      /* devnum */
	assert_int_equal(get_be32(buf + 0x130), USBIP_SPEED_HIGH);
	assert_int_equal(get_be16(buf + 0x134), 0x1007);  /* idVendor */
	assert_int_equal(get_be16(buf + 0x136), 0x2007);  /* idProduct */
	assert_int_equal(get_be16(buf + 0x138), 0x0100);  /* bcdDevice */
	assert_int_equal(buf[0x13a], 0xe0);               /* bDeviceClass, not 0x139 */
	assert_int_equal(buf[0x13b], 0x02);
	assert_int_equal(buf[0x13c], 0x01);
	assert_int_equal(buf[0x13d], 1);                  /* bConfigurationValue */
	assert_int_equal(buf[0x13e], 3);                  /* bNumConfigurations */
	assert_int_equal(buf[0x13f], 2);                  /* bNumInterfaces */
}

/* OP_REP_DEVLIST offsets as the document gives them for device 0 and 1. */
static void test_devlist_layout(void **state)
{
	struct usbip_exported_device devs[2] = { make_device(1, 2), make_device(2, 1) };
	uint8_t buf[1024];
	int n = usbip_encode_devlist(buf, sizeof(buf), devs, 2);
	size_t second = 0xc + 0x138 + 2 * 4;

	assert_int_equal(n, 12 + 2 * 312 + 3 * 4);
	assert_int_equal(get_be16(buf), USBIP_VERSION);
	assert_int_equal(get_be16(buf + 2), USBIP_OP_REP_DEVLIST);
	assert_int_equal(get_be32(buf + 8), 2);
	assert_int_equal(get_be32(buf + 0x12c), 3);
	assert_int_equal(get_be16(buf + 0x138), 0x1001);
	assert_int_equal(buf[0x143], 2);
	assert_int_equal(buf[0x144], 0x08);  /* interface 0 class */
	assert_int_equal(buf[0x147], 0);     /* pad */
	assert_int_equal(buf[0x148], 0x09);  /* interface 1 class */
	assert_string_equal((char *)buf + second + 0x100, "3-2");
}

/* --- round trips of every PDU ------------------------------------------ */

static void roundtrip_op_device(uint16_t code, uint32_t status)
{
	struct usbip_exported_device d = make_device(4, 1);
	struct usbip_usb_device back;
	struct usbip_op_common op;
	uint8_t buf[400], again[400];
	int n;

	n = usbip_encode_op_device(buf, sizeof(buf), code, status, &d.udev);
	assert_int_equal(n, 320);
	assert_usbws_err(usbip_op_common_decode(buf, (size_t)n, &op), 8);
	assert_int_equal(op.version, USBIP_VERSION);
	assert_int_equal(op.code, code);
	assert_int_equal(op.status, status);
	assert_usbws_err(usbip_usb_device_decode(buf + 8, (size_t)n - 8, &back), 312);
	assert_memory_equal(&back, &d.udev, sizeof(back));
	assert_int_equal(usbip_encode_op_device(again, sizeof(again), code, status, &back), n);
	assert_memory_equal(buf, again, (size_t)n);
}

static void test_roundtrip_req_export(void **state) { roundtrip_op_device(USBIP_OP_REQ_EXPORT, 0); }
static void test_roundtrip_req_unexport(void **state) { roundtrip_op_device(USBIP_OP_REQ_UNEXPORT, 0); }
static void test_roundtrip_rep_import(void **state) { roundtrip_op_device(USBIP_OP_REP_IMPORT, 0); }

/* The import reply both servers send: the device after OK, the status
 * alone after a refusal. */
static void test_rep_import(void **state)
{
	static const struct { uint32_t status; int len; } rows[] = {
		{ USBIP_ST_OK, USBIP_OP_COMMON_SIZE + USBIP_USB_DEVICE_SIZE },
		{ USBIP_ST_NODEV, USBIP_OP_COMMON_SIZE },
		{ USBIP_ST_DEV_BUSY, USBIP_OP_COMMON_SIZE },
	};
	struct usbip_exported_device d = make_device(5, 1);
	uint8_t buf[USBIP_REP_IMPORT_MAX], want[USBIP_REP_IMPORT_MAX];
	struct usbip_op_common op;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct usbip_usb_device *dev = rows[i].status == USBIP_ST_OK ? &d.udev : NULL;

		assert_int_equal(usbip_encode_rep_import(buf, sizeof(buf), rows[i].status, dev), rows[i].len);
		assert_usbws_err(usbip_op_common_decode(buf, (size_t)rows[i].len, &op), 8);
		assert_int_equal(op.code, USBIP_OP_REP_IMPORT);
		assert_int_equal(op.status, rows[i].status);
		if (dev) {
			assert_int_equal(usbip_encode_op_device(want, sizeof(want), USBIP_OP_REP_IMPORT, 0, dev),
					 rows[i].len);
			assert_memory_equal(buf, want, (size_t)rows[i].len);
		}
	}
	assert_usbws_err(usbip_encode_rep_import(buf, USBIP_REP_IMPORT_MAX - 1, USBIP_ST_OK, &d.udev),
			 USBWS_ERR_NOSPACE);
}

static void test_roundtrip_op_only(void **state)
{
	static const struct { uint16_t code; uint32_t status; } rows[] = {
		{ USBIP_OP_REQ_DEVLIST, 0 },
		{ USBIP_OP_REP_IMPORT, USBIP_ST_NODEV },
		{ USBIP_OP_REP_EXPORT, USBIP_ST_OK },
		{ USBIP_OP_REP_EXPORT, USBIP_ST_DEV_BUSY },
		{ USBIP_OP_REP_UNEXPORT, USBIP_ST_OK },
		{ USBIP_OP_REP_DEVLIST, USBIP_ST_ERROR },
	};
	struct usbip_op_common op;
	uint8_t buf[8];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(usbip_op_common_encode(buf, sizeof(buf), rows[i].code, rows[i].status), 8);
		assert_usbws_err(usbip_op_common_decode(buf, 8, &op), 8);
		assert_int_equal(op.code, rows[i].code);
		assert_int_equal(op.status, rows[i].status);
	}
}

static void test_roundtrip_req_import(void **state)
{
	struct usbip_op_common op;
	char busid[USBIP_BUSID_SIZE];
	uint8_t buf[64];

	assert_int_equal(usbip_encode_req_import(buf, sizeof(buf), "1-1.4.3"), 40);
	assert_usbws_err(usbip_op_common_decode(buf, 40, &op), 8);
	assert_int_equal(op.code, USBIP_OP_REQ_IMPORT);
	assert_usbws_err(usbip_busid_decode(buf + 8, 32, busid), 32);
	assert_string_equal(busid, "1-1.4.3");
	/* the unused bytes are zero */
	assert_memory_equal(buf + 8 + 8, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 24);
}

static void test_roundtrip_devlist(void **state)
{
	static const uint32_t counts[] = { 0, 1, 3 };
	struct usbip_exported_device devs[3], back[3];
	uint8_t buf[2048];
	uint32_t nback, i, c;
	int n;

	devs[0] = make_device(1, 0);
	devs[1] = make_device(2, 4);
	devs[2] = make_device(3, USBIP_MAX_INTERFACES);
	for (c = 0; c < 3; c++) {
		n = usbip_encode_devlist(buf, sizeof(buf), devs, counts[c]);
		assert_true(n >= 12);
		assert_usbws_err(usbip_framer_decode_devlist(buf, (size_t)n, back, 3, &nback), n);
		assert_int_equal(nback, counts[c]);
		for (i = 0; i < nback; i++) {
			assert_memory_equal(&back[i].udev, &devs[i].udev, sizeof(back[i].udev));
			assert_memory_equal(back[i].interfaces, devs[i].interfaces,
					    devs[i].udev.b_num_interfaces * sizeof(devs[i].interfaces[0]));
		}
	}
	/* a listing longer than the caller's array is refused, not overrun */
	n = usbip_encode_devlist(buf, sizeof(buf), devs, 3);
	assert_usbws_err(usbip_framer_decode_devlist(buf, (size_t)n, back, 2, &nback), USBWS_ERR_TOO_MANY_DEVICES);
	/* and a truncated one is reported as such */
	assert_usbws_err(usbip_framer_decode_devlist(buf, (size_t)n - 1, back, 3, &nback), USBWS_ERR_TRUNCATED);
	/* a refused listing is an error, not an empty list */
	n = usbip_op_common_encode(buf, sizeof(buf), USBIP_OP_REP_DEVLIST, USBIP_ST_ERROR);
	assert_usbws_err(usbip_framer_decode_devlist(buf, (size_t)n, back, 3, &nback), USBWS_ERR_REFUSED);
}

struct urb_row {
	const char *name;
	struct usbip_header hdr;
	uint32_t cmd_direction;   /* RET_SUBMIT: direction of the answered command */
	uint32_t cmd_length;      /* RET_SUBMIT: its transfer_buffer_length */
	uint32_t data_len;
	uint32_t niso;
};

static void fill_iso(struct usbip_iso_packet_descriptor *iso, uint32_t n, uint32_t pkt, int ret,
		     uint32_t actual_total)
{
	uint32_t i, left = actual_total;

	for (i = 0; i < n; i++) {
		uint32_t a = ret ? (left < pkt ? left : pkt) : 0;

		iso[i] = (struct usbip_iso_packet_descriptor){ i * pkt, pkt, a, ret ? 0 : -18 };
		left -= a;
	}
}

static void test_roundtrip_urbs(void **state)
{
	struct urb_row rows[] = {
		{ "CMD_SUBMIT control IN", make_cmd_submit(1, USBIP_DIR_IN, 0, 18, 0), 0, 0, 0, 0 },
		{ "CMD_SUBMIT bulk OUT", make_cmd_submit(2, USBIP_DIR_OUT, 2, 4096, 0), 0, 0, 4096, 0 },
		{ "CMD_SUBMIT zero-length OUT", make_cmd_submit(3, USBIP_DIR_OUT, 2, 0, 0xffffffff), 0, 0, 0, 0 },
		{ "CMD_SUBMIT ISO IN", make_cmd_submit(4, USBIP_DIR_IN, 3, 8 * 64, 8), 0, 0, 0, 8 },
		{ "CMD_SUBMIT ISO OUT", make_cmd_submit(5, USBIP_DIR_OUT, 3, 4 * 64, 4), 0, 0, 256, 4 },
		{ "RET_SUBMIT bulk IN", make_ret_submit(6, 300, 0), USBIP_DIR_IN, 512, 300, 0 },
		{ "RET_SUBMIT bulk OUT", make_ret_submit(7, 4096, 0), USBIP_DIR_OUT, 4096, 0, 0 },
		{ "RET_SUBMIT ISO IN", make_ret_submit(8, 100, 8), USBIP_DIR_IN, 512, 100, 8 },
		{ "RET_SUBMIT ISO OUT", make_ret_submit(9, 256, 4), USBIP_DIR_OUT, 256, 0, 4 },
		{ "CMD_UNLINK", make_cmd_unlink(10, 6), 0, 0, 0, 0 },
		{ "RET_UNLINK", make_ret_unlink(10, -104), 0, 0, 0, 0 },
	};
	static uint8_t data[4096], buf[48 + 4096 + 16 * 8], again[sizeof(buf)];
	struct usbip_iso_packet_descriptor iso[8], isoback;
	struct usbip_urb_view v;
	size_t i, k;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13 + 5);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct urb_row *r = &rows[i];
		struct usbip_header cmd;
		int ret = r->hdr.base.command == USBIP_RET_SUBMIT;
		int n;

		print_message("# %s\n", r->name);
		r->hdr.u.cmd_submit.transfer_flags ^= ret ? 0 : 0x200;   /* a non-zero field */
		if (r->hdr.base.command == USBIP_CMD_SUBMIT)
			memcpy(r->hdr.u.cmd_submit.setup, "\x80\x06\x00\x01\x00\x00\x12\x00", 8);
		fill_iso(iso, r->niso, r->niso ? (ret ? r->cmd_length : r->hdr.u.cmd_submit.transfer_buffer_length) / r->niso : 0,
			 ret, ret ? r->hdr.u.ret_submit.actual_length : 0);
		n = usbip_encode_urb(buf, sizeof(buf), &r->hdr, r->cmd_direction, data, r->data_len, iso, r->niso);
		assert_int_equal(n, 48 + r->data_len + 16 * r->niso);
		cmd = make_cmd_submit(r->hdr.base.seqnum, r->cmd_direction, 1, r->cmd_length, r->niso);
		assert_usbws_err(usbip_decode_urb(buf, (size_t)n, &lim, ret ? &cmd : NULL, &v), n);
		assert_memory_equal(&v.hdr, &r->hdr, sizeof(v.hdr));
		assert_int_equal(v.data_len, r->data_len);
		assert_memory_equal(v.data, data, r->data_len);
		assert_int_equal(v.niso, r->niso);
		for (k = 0; k < r->niso; k++) {
			usbip_iso_desc_decode(v.iso + 16 * k, 16, &isoback);
			assert_memory_equal(&isoback, &iso[k], sizeof(isoback));
		}
		assert_int_equal(usbip_encode_urb(again, sizeof(again), &v.hdr, r->cmd_direction, v.data,
						  v.data_len, iso, v.niso), n);
		assert_memory_equal(buf, again, (size_t)n);
	}
}

static void test_encoder_refuses(void **state)
{
	struct usbip_exported_device d = make_device(1, 1);
	struct usbip_header h = make_cmd_submit(1, USBIP_DIR_OUT, 1, 64, 0);
	uint8_t buf[512], data[64] = {0};
	char long_busid[40];

	/* data length must match what the header promises */
	assert_usbws_err(usbip_encode_urb(buf, sizeof(buf), &h, 0, data, 63, NULL, 0), USBWS_ERR_INVAL);
	assert_usbws_err(usbip_encode_urb(buf, 100, &h, 0, data, 64, NULL, 0), USBWS_ERR_NOSPACE);
	h.base.ep = 16;
	assert_usbws_err(usbip_encode_urb(buf, sizeof(buf), &h, 0, data, 64, NULL, 0), USBWS_ERR_ENDPOINT);
	memset(long_busid, 'x', sizeof(long_busid) - 1);
	long_busid[sizeof(long_busid) - 1] = 0;
	assert_usbws_err(usbip_encode_req_import(buf, sizeof(buf), long_busid), USBWS_ERR_STRING);
	d.udev.b_num_interfaces = 33;
	assert_usbws_err(usbip_encode_op_device(buf, sizeof(buf), USBIP_OP_REQ_EXPORT, 0, &d.udev),
			 USBWS_ERR_TOO_MANY_INTERFACES);
	assert_usbws_err(usbip_op_common_encode(buf, sizeof(buf), 0x8009, 0), USBWS_ERR_UNKNOWN_OP);
	assert_usbws_err(usbip_op_common_encode(buf, 7, USBIP_OP_REQ_DEVLIST, 0), USBWS_ERR_NOSPACE);
	/* lengths add up in 64 bits: no wrap on a 32-bit size_t, no overflow */
	h = make_cmd_submit(1, USBIP_DIR_OUT, 1, 0xfffffff0u, 0);
	assert_usbws_err(usbip_encode_urb(buf, 64, &h, 0, data, 0xfffffff0u, NULL, 0), USBWS_ERR_TRANSFER_LENGTH);
}

/* --- malformed input: each case expects its own error --------------------- */

enum base_pdu { B_OP, B_BUSID, B_DEVICE, B_CMD_OUT, B_CMD_ISO, B_RET_IN, B_RET_ISO };
enum decoder { D_OP, D_BUSID, D_DEVICE, D_HEADER, D_URB };

struct bad_row {
	const char *name;
	enum base_pdu base;
	enum decoder decoder;
	size_t patch_at;      /* where to write patch (width bytes, big-endian) */
	uint32_t patch;
	unsigned int width;   /* 0: no patch */
	size_t truncate_by;   /* bytes cut off the end */
	int want;
	size_t fill_at;       /* then fill_len bytes of 'A' from here */
	size_t fill_len;
};

/* Builds a valid PDU of the given kind; *cmd gets the command a RET answers. */
static size_t build_base(enum base_pdu base, uint8_t *buf, size_t cap, struct usbip_header *cmd)
{
	struct usbip_exported_device d = make_device(1, 1);
	struct usbip_iso_packet_descriptor iso[3];
	struct usbip_header h;
	uint8_t data[96];
	int n = -1;

	memset(data, 0xa5, sizeof(data));
	switch (base) {
	case B_OP:
		n = usbip_op_common_encode(buf, cap, USBIP_OP_REQ_DEVLIST, 0);
		break;
	case B_BUSID:
		n = usbip_busid_encode(buf, cap, "1-1");
		break;
	case B_DEVICE:
		n = usbip_usb_device_encode(buf, cap, &d.udev);
		break;
	case B_CMD_OUT:
		h = make_cmd_submit(1, USBIP_DIR_OUT, 2, 64, 0);
		n = usbip_encode_urb(buf, cap, &h, 0, data, 64, NULL, 0);
		break;
	case B_CMD_ISO:
		h = make_cmd_submit(2, USBIP_DIR_OUT, 3, 96, 3);
		fill_iso(iso, 3, 32, 0, 0);
		n = usbip_encode_urb(buf, cap, &h, 0, data, 96, iso, 3);
		break;
	case B_RET_IN:
		*cmd = make_cmd_submit(3, USBIP_DIR_IN, 1, 64, 0);
		h = make_ret_submit(3, 64, 0);
		n = usbip_encode_urb(buf, cap, &h, USBIP_DIR_IN, data, 64, NULL, 0);
		break;
	case B_RET_ISO:
		*cmd = make_cmd_submit(4, USBIP_DIR_IN, 3, 96, 3);
		h = make_ret_submit(4, 80, 3);
		fill_iso(iso, 3, 32, 1, 80);
		n = usbip_encode_urb(buf, cap, &h, USBIP_DIR_IN, data, 80, iso, 3);
		break;
	}
	assert_true(n > 0);
	return (size_t)n;
}

static void test_malformed(void **state)
{
	/* ISO descriptor fields in B_CMD_ISO start at 48 + 96, in B_RET_ISO at 48 + 80 */
	const size_t ci = 48 + 96, ri = 48 + 80;
	const struct bad_row rows[] = {
		{ "op_common truncated", B_OP, D_OP, 0, 0, 0, 1, USBWS_ERR_TRUNCATED },
		{ "op_common version 0x0110", B_OP, D_OP, 0, 0x0110, 2, 0, USBWS_ERR_VERSION },
		{ "op_common version 0", B_OP, D_OP, 0, 0, 2, 0, USBWS_ERR_VERSION },
		{ "op_common version byte-swapped", B_OP, D_OP, 0, 0x1101, 2, 0, USBWS_ERR_VERSION },
		{ "op code 0x8004", B_OP, D_OP, 2, 0x8004, 2, 0, USBWS_ERR_UNKNOWN_OP },
		{ "op code 0x0008", B_OP, D_OP, 2, 0x0008, 2, 0, USBWS_ERR_UNKNOWN_OP },
		{ "op code 0xffff", B_OP, D_OP, 2, 0xffff, 2, 0, USBWS_ERR_UNKNOWN_OP },
		{ "busid without NUL", B_BUSID, D_BUSID, 0, 0, 0, 0, USBWS_ERR_STRING, 0, 32 },
		{ "busid truncated", B_BUSID, D_BUSID, 0, 0, 0, 1, USBWS_ERR_TRUNCATED },
		{ "device path without NUL", B_DEVICE, D_DEVICE, 0, 0, 0, 0, USBWS_ERR_STRING, 0, 256 },
		{ "device busid without NUL", B_DEVICE, D_DEVICE, 0, 0, 0, 0, USBWS_ERR_STRING, 256, 32 },
		{ "device busid NUL only in the next field", B_DEVICE, D_DEVICE, 0, 0, 0, 0, USBWS_ERR_STRING, 257, 31 },
		{ "busid with an ESC", B_BUSID, D_BUSID, 0, 0x1b, 1, 0, USBWS_ERR_STRING_CONTROL },
		{ "device busid with a newline", B_DEVICE, D_DEVICE, 256, '\n', 1, 0, USBWS_ERR_STRING_CONTROL },
		{ "device path with DEL", B_DEVICE, D_DEVICE, 0, 0x7f, 1, 0, USBWS_ERR_STRING_CONTROL },
		{ "device speed 7", B_DEVICE, D_DEVICE, 296, 7, 4, 0, USBWS_ERR_SPEED },
		{ "device speed 0xffffffff", B_DEVICE, D_DEVICE, 296, 0xffffffff, 4, 0, USBWS_ERR_SPEED },
		{ "device with 33 interfaces", B_DEVICE, D_DEVICE, 311, 33, 1, 0, USBWS_ERR_TOO_MANY_INTERFACES },
		{ "device truncated", B_DEVICE, D_DEVICE, 0, 0, 0, 1, USBWS_ERR_TRUNCATED },
		{ "URB header truncated", B_CMD_OUT, D_HEADER, 0, 0, 0, 65, USBWS_ERR_TRUNCATED },
		{ "URB command 0", B_CMD_OUT, D_HEADER, 0, 0, 4, 0, USBWS_ERR_UNKNOWN_CMD },
		{ "URB command 5", B_CMD_OUT, D_HEADER, 0, 5, 4, 0, USBWS_ERR_UNKNOWN_CMD },
		{ "URB command with high bit", B_CMD_OUT, D_HEADER, 0, 0x80000001, 4, 0, USBWS_ERR_UNKNOWN_CMD },
		{ "CMD_SUBMIT direction 2", B_CMD_OUT, D_HEADER, 12, 2, 4, 0, USBWS_ERR_DIRECTION },
		{ "CMD_SUBMIT endpoint 16", B_CMD_OUT, D_HEADER, 16, 16, 4, 0, USBWS_ERR_ENDPOINT },
		{ "CMD_SUBMIT length above maximum", B_CMD_OUT, D_HEADER, 24, USBIP_DEFAULT_MAX_TRANSFER + 1, 4, 0, USBWS_ERR_TRANSFER_LENGTH },
		{ "CMD_SUBMIT negative length", B_CMD_OUT, D_HEADER, 24, 0xffffffff, 4, 0, USBWS_ERR_TRANSFER_LENGTH },
		{ "CMD_SUBMIT 1025 ISO packets", B_CMD_OUT, D_HEADER, 32, 1025, 4, 0, USBWS_ERR_ISO_COUNT },
		{ "CMD_SUBMIT 0x80000000 ISO packets", B_CMD_OUT, D_HEADER, 32, 0x80000000, 4, 0, USBWS_ERR_ISO_COUNT },
		{ "RET_SUBMIT actual_length above maximum", B_RET_IN, D_HEADER, 24, USBIP_DEFAULT_MAX_TRANSFER + 1, 4, 0, USBWS_ERR_TRANSFER_LENGTH },
		{ "RET_SUBMIT 2000 ISO packets", B_RET_IN, D_HEADER, 32, 2000, 4, 0, USBWS_ERR_ISO_COUNT },
		{ "CMD_SUBMIT OUT data truncated", B_CMD_OUT, D_URB, 0, 0, 0, 1, USBWS_ERR_TRUNCATED },
		{ "ISO count beyond the buffer", B_CMD_ISO, D_URB, 32, 4, 4, 0, USBWS_ERR_TRUNCATED },
		{ "ISO descriptors truncated", B_CMD_ISO, D_URB, 0, 0, 0, 8, USBWS_ERR_TRUNCATED },
		{ "ISO offset beyond the buffer", B_CMD_ISO, D_URB, ci + 16, 97, 4, 0, USBWS_ERR_ISO_DESC },
		{ "ISO offset+length wraps", B_CMD_ISO, D_URB, ci + 4, 0xfffffff0, 4, 0, USBWS_ERR_ISO_DESC },
		{ "ISO packet past the end", B_CMD_ISO, D_URB, ci + 32, 80, 4, 0, USBWS_ERR_ISO_DESC },
		{ "ISO actual above packet length", B_RET_ISO, D_URB, ri + 8, 33, 4, 0, USBWS_ERR_ISO_DESC },
		{ "ISO actual lengths short of actual_length", B_RET_ISO, D_URB, ri + 32 + 8, 15, 4, 0, USBWS_ERR_ISO_TOTAL },
		{ "ISO actual lengths beyond actual_length", B_RET_ISO, D_URB, ri + 32 + 8, 17, 4, 0, USBWS_ERR_ISO_TOTAL },
		{ "CMD_SUBMIT ISO with non-zero actual lengths", B_CMD_ISO, D_URB, ci + 8, 1, 4, 0, USBWS_ERR_ISO_TOTAL },
		{ "RET_SUBMIT ISO count differs from the command", B_RET_ISO, D_URB, 32, 2, 4, 0, USBWS_ERR_ISO_COUNT },
		{ "RET_SUBMIT non-ISO answering ISO", B_RET_ISO, D_URB, 32, 0xffffffff, 4, 0, USBWS_ERR_ISO_COUNT },
		{ "RET_SUBMIT actual_length above request", B_RET_IN, D_URB, 24, 65, 4, 0, USBWS_ERR_ACTUAL_LENGTH },
		{ "RET_SUBMIT seqnum of another command", B_RET_IN, D_URB, 4, 99, 4, 0, USBWS_ERR_UNSOLICITED },
		{ "RET_SUBMIT IN data truncated", B_RET_IN, D_URB, 0, 0, 0, 1, USBWS_ERR_TRUNCATED },
	};
	uint8_t buf[1024];
	size_t i;

	assert_true(sizeof(rows) / sizeof(rows[0]) >= 30);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct bad_row *r = &rows[i];
		struct usbip_header cmd, hdr;
		struct usbip_usb_device dev;
		struct usbip_op_common op;
		struct usbip_urb_view v;
		char busid[USBIP_BUSID_SIZE];
		size_t n = build_base(r->base, buf, sizeof(buf), &cmd);
		int rc = 0;

		print_message("# %s\n", r->name);
		memset(buf + r->fill_at, 'A', r->fill_len);
		if (r->width == 1)
			buf[r->patch_at] = (uint8_t)r->patch;
		else if (r->width == 2)
			put_be16(buf + r->patch_at, (uint16_t)r->patch);
		else if (r->width == 4)
			put_be32(buf + r->patch_at, r->patch);
		n -= r->truncate_by;
		switch (r->decoder) {
		case D_OP: rc = usbip_op_common_decode(buf, n, &op); break;
		case D_BUSID: rc = usbip_busid_decode(buf, n, busid); break;
		case D_DEVICE: rc = usbip_usb_device_decode(buf, n, &dev); break;
		case D_HEADER: rc = usbip_header_decode(buf, n, &lim, &hdr); break;
		case D_URB:
			rc = usbip_decode_urb(buf, n, &lim, r->base >= B_RET_IN ? &cmd : NULL, &v);
			break;
		}
		assert_usbws_err(rc, r->want);
	}
}

static void test_strerror_covers_every_code(void **state)
{
	int e;

	for (e = 0; e >= -40; e--) {
		const char *s = usbws_strerror(e);

		assert_non_null(s);
		assert_true(strlen(s) > 0);
	}
	assert_string_equal(usbws_strerror(USBWS_ERR_UNSOLICITED),
			    "reply to a seqnum that is not outstanding (unsolicited)");
	assert_string_equal(usbws_strerror(-999), "unknown error");
}

/* usbws_why: the code back, the sentence cut to the buffer, errno kept. */
static void test_why(void **state)
{
	char why[16];

	(void)state;
	errno = ENOENT;
	assert_usbws_err(usbws_why(why, sizeof(why), USBWS_ERR_SYSTEM, "open %s: %s", "/x", strerror(errno)),
			 USBWS_ERR_SYSTEM);
	assert_string_equal(why, "open /x: No suc");
	assert_int_equal(errno, ENOENT);
	assert_usbws_err(usbws_why(NULL, 0, USBWS_ERR_INVAL, "%s", "nowhere to go"), USBWS_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hid_capture_cmd_in),
		cmocka_unit_test(test_hid_capture_cmd_out),
		cmocka_unit_test(test_hid_capture_ret_out),
		cmocka_unit_test(test_hid_capture_ret_in),
		cmocka_unit_test(test_hid_capture_streams),
		cmocka_unit_test(test_device_layout),
		cmocka_unit_test(test_devlist_layout),
		cmocka_unit_test(test_roundtrip_req_export),
		cmocka_unit_test(test_roundtrip_req_unexport),
		cmocka_unit_test(test_roundtrip_rep_import),
		cmocka_unit_test(test_rep_import),
		cmocka_unit_test(test_roundtrip_op_only),
		cmocka_unit_test(test_roundtrip_req_import),
		cmocka_unit_test(test_roundtrip_devlist),
		cmocka_unit_test(test_roundtrip_urbs),
		cmocka_unit_test(test_encoder_refuses),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_strerror_covers_every_code),
		cmocka_unit_test(test_why),
	};

	return cmocka_run_group_tests_name("codec", tests, setup_limits, NULL);
}
