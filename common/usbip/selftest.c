/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "usbip/selftest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/byteorder.h"
#include "base/usbws_err.h"

void selftest_bytes_free(struct selftest_bytes *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

int selftest_bytes_append(struct selftest_bytes *b, const void *data, size_t len)
{
	if (b->cap - b->len < len) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *p;

		while (cap - b->len < len)
			cap *= 2;
		p = realloc(b->buf, cap);
		if (!p)
			return USBWS_ERR_NOMEM;
		b->buf = p;
		b->cap = cap;
	}
	if (len)
		memcpy(b->buf + b->len, data, len);
	b->len += len;
	return 0;
}

/* --- the sample session ------------------------------------------------ */

static const struct usbip_usb_device sample_device = {
	.path = "/sys/devices/platform/dummy_hcd.0/usb1/1-1",
	.busid = "1-1",
	.busnum = 1,
	.devnum = 2,
	.speed = USBIP_SPEED_HIGH,
	.id_vendor = 0x0525,
	.id_product = 0xa4a5,
	.bcd_device = 0x0100,
	.b_configuration_value = 1,
	.b_num_configurations = 1,
	.b_num_interfaces = 1,
};

#define SAMPLE_DEVID ((1u << 16) | 2u)

static int put_urb(struct selftest_bytes *b, const struct usbip_header *hdr, uint32_t cmd_direction,
		   const uint8_t *data, uint32_t data_len,
		   const struct usbip_iso_packet_descriptor *iso, uint32_t niso)
{
	uint8_t *tmp;
	size_t cap = USBIP_HEADER_SIZE + data_len + (size_t)niso * USBIP_ISO_DESC_SIZE;
	int rc;

	tmp = malloc(cap);
	if (!tmp)
		return USBWS_ERR_NOMEM;
	rc = usbip_encode_urb(tmp, cap, hdr, cmd_direction, data, data_len, iso, niso);
	if (rc >= 0)
		rc = selftest_bytes_append(b, tmp, (size_t)rc);
	free(tmp);
	return rc;
}

static struct usbip_header cmd_submit(uint32_t seqnum, uint32_t dir, uint32_t ep, uint32_t len,
				      uint32_t npackets, const uint8_t setup[8])
{
	struct usbip_header h = {
		.base = { USBIP_CMD_SUBMIT, seqnum, SAMPLE_DEVID, dir, ep },
	};

	h.u.cmd_submit.transfer_buffer_length = len;
	h.u.cmd_submit.number_of_packets = npackets;
	if (setup)
		memcpy(h.u.cmd_submit.setup, setup, 8);
	return h;
}

static struct usbip_header ret_submit(uint32_t seqnum, uint32_t actual, uint32_t npackets)
{
	struct usbip_header h = { .base = { USBIP_RET_SUBMIT, seqnum, 0, 0, 0 } };

	h.u.ret_submit.actual_length = actual;
	h.u.ret_submit.number_of_packets = npackets;
	return h;
}

static void fill_pattern(uint8_t *p, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 31u + i * 7u + (i >> 8));
}

#define TRY(expr) do { rc = (expr); if (rc < 0) goto out; } while (0)

int selftest_sample_session_build(struct selftest_sample_session *s)
{
	static const uint8_t get_device_desc[8] = { 0x80, 0x06, 0x00, 0x01, 0x00, 0x00, 0x12, 0x00 };
	static const uint8_t device_desc[18] = {
		0x12, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x40, 0x25, 0x05,
		0xa5, 0xa4, 0x00, 0x01, 0x01, 0x02, 0x03, 0x01,
	};
	/* READ(10) of one 512-byte block at LBA 0, wrapped in a BOT CBW */
	static const uint8_t cbw[31] = {
		'U', 'S', 'B', 'C', 0x01, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x80, 0x00, 0x0a,
		0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
	};
	static const uint8_t csw[13] = { 'U', 'S', 'B', 'S', 0x01, 0x00, 0x00, 0x00 };
	struct usbip_iso_packet_descriptor iso_cmd[3], iso_ret[3];
	uint8_t op[USBIP_OP_COMMON_SIZE + USBIP_USB_DEVICE_SIZE];
	uint8_t sector[512], hid[64], iso_data[400];
	struct usbip_header h;
	uint32_t i;
	int rc;

	memset(s, 0, sizeof(*s));
	fill_pattern(sector, sizeof(sector), 1);
	fill_pattern(hid, sizeof(hid), 2);
	fill_pattern(iso_data, sizeof(iso_data), 3);

	/* from the device: export request */
	TRY(usbip_encode_op_device(op, sizeof(op), USBIP_OP_REQ_EXPORT, 0, &sample_device));
	TRY(selftest_bytes_append(&s->from_device, op, (size_t)rc));
	/* toward the device: export accepted */
	TRY(usbip_op_common_encode(op, sizeof(op), USBIP_OP_REP_EXPORT, USBIP_ST_OK));
	TRY(selftest_bytes_append(&s->to_device, op, (size_t)rc));

	/* 1: GET_DESCRIPTOR(DEVICE) on ep0 */
	h = cmd_submit(1, USBIP_DIR_IN, 0, 18, 0, get_device_desc);
	TRY(put_urb(&s->to_device, &h, 0, NULL, 0, NULL, 0));
	/* 2..4: BOT read of one sector: CBW out, data in, CSW in */
	h = cmd_submit(2, USBIP_DIR_OUT, 2, sizeof(cbw), 0, NULL);
	TRY(put_urb(&s->to_device, &h, 0, cbw, sizeof(cbw), NULL, 0));
	h = cmd_submit(3, USBIP_DIR_IN, 1, sizeof(sector), 0, NULL);
	TRY(put_urb(&s->to_device, &h, 0, NULL, 0, NULL, 0));
	h = cmd_submit(4, USBIP_DIR_IN, 1, sizeof(csw), 0, NULL);
	TRY(put_urb(&s->to_device, &h, 0, NULL, 0, NULL, 0));
	/* 5: interrupt IN, as in the HID capture (number_of_packets 0xffffffff) */
	h = cmd_submit(5, USBIP_DIR_IN, 1, sizeof(hid), USBIP_NON_ISO_PACKETS, NULL);
	TRY(put_urb(&s->to_device, &h, 0, NULL, 0, NULL, 0));
	/* 6: ISO IN, three packets of 192 bytes */
	for (i = 0; i < 3; i++)
		iso_cmd[i] = (struct usbip_iso_packet_descriptor){ i * 192, 192, 0, -18 /* -EXDEV */ };
	h = cmd_submit(6, USBIP_DIR_IN, 3, 3 * 192, 3, NULL);
	TRY(put_urb(&s->to_device, &h, 0, NULL, 0, iso_cmd, 3));
	/* 7: bulk IN that 8 cancels */
	h = cmd_submit(7, USBIP_DIR_IN, 1, sizeof(sector), 0, NULL);
	TRY(put_urb(&s->to_device, &h, 0, NULL, 0, NULL, 0));
	h = (struct usbip_header){ .base = { USBIP_CMD_UNLINK, 8, SAMPLE_DEVID, 0, 0 } };
	h.u.cmd_unlink.unlink_seqnum = 7;
	TRY(put_urb(&s->to_device, &h, 0, NULL, 0, NULL, 0));
	s->urbs = 7;

	h = ret_submit(1, sizeof(device_desc), 0);
	TRY(put_urb(&s->from_device, &h, USBIP_DIR_IN, device_desc, sizeof(device_desc), NULL, 0));
	h = ret_submit(2, sizeof(cbw), 0);
	TRY(put_urb(&s->from_device, &h, USBIP_DIR_OUT, NULL, 0, NULL, 0));
	h = ret_submit(3, sizeof(sector), 0);
	TRY(put_urb(&s->from_device, &h, USBIP_DIR_IN, sector, sizeof(sector), NULL, 0));
	h = ret_submit(4, sizeof(csw), 0);
	TRY(put_urb(&s->from_device, &h, USBIP_DIR_IN, csw, sizeof(csw), NULL, 0));
	h = ret_submit(5, sizeof(hid), 0);
	TRY(put_urb(&s->from_device, &h, USBIP_DIR_IN, hid, sizeof(hid), NULL, 0));
	/* the ISO reply carries only the bytes received, 192 + 192 + 16 */
	iso_ret[0] = (struct usbip_iso_packet_descriptor){ 0, 192, 192, 0 };
	iso_ret[1] = (struct usbip_iso_packet_descriptor){ 192, 192, 192, 0 };
	iso_ret[2] = (struct usbip_iso_packet_descriptor){ 384, 192, 16, 0 };
	h = ret_submit(6, sizeof(iso_data), 3);
	TRY(put_urb(&s->from_device, &h, USBIP_DIR_IN, iso_data, sizeof(iso_data), iso_ret, 3));
	h = (struct usbip_header){ .base = { USBIP_RET_UNLINK, 8, 0, 0, 0 } };
	h.u.ret_unlink.status = -104; /* -ECONNRESET: caught in flight, no RET_SUBMIT for 7 */
	TRY(put_urb(&s->from_device, &h, 0, NULL, 0, NULL, 0));

	TRY(usbip_encode_op_device(op, sizeof(op), USBIP_OP_REQ_UNEXPORT, 0, &sample_device));
	TRY(selftest_bytes_append(&s->from_device, op, (size_t)rc));
	TRY(usbip_op_common_encode(op, sizeof(op), USBIP_OP_REP_UNEXPORT, USBIP_ST_OK));
	TRY(selftest_bytes_append(&s->to_device, op, (size_t)rc));
	rc = 0;
out:
	if (rc < 0)
		selftest_sample_session_free(s);
	return rc;
}

void selftest_sample_session_free(struct selftest_sample_session *s)
{
	selftest_bytes_free(&s->to_device);
	selftest_bytes_free(&s->from_device);
}

/* --- event log ----------------------------------------------------------- */

static int log_u32(struct selftest_bytes *log, uint32_t v)
{
	uint8_t b[4];

	put_be32(b, v);
	return selftest_bytes_append(log, b, sizeof(b));
}

static int log_u32s(struct selftest_bytes *log, const uint32_t *v, size_t n)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++)
		rc = log_u32(log, v[i]);
	return rc;
}

int selftest_event_log_append(struct selftest_bytes *log, const struct usbip_event *ev)
{
	const struct usbip_header *h = &ev->u.urb.hdr;
	int rc;

	if (ev->type == USBIP_EV_DATA)
		return selftest_bytes_append(log, ev->u.data.ptr, ev->u.data.len);
	rc = log_u32(log, ev->type);
	if (rc == 0)
		rc = log_u32s(log, (const uint32_t[]){ (uint32_t)(ev->offset >> 32), (uint32_t)ev->offset }, 2);
	if (rc < 0)
		return rc;
	switch (ev->type) {
	case USBIP_EV_OP:
		return log_u32s(log, (const uint32_t[]){ ev->u.op.version, ev->u.op.code, ev->u.op.status }, 3);
	case USBIP_EV_BUSID:
		return selftest_bytes_append(log, ev->u.busid, sizeof(ev->u.busid));
	case USBIP_EV_DEVICE: {
		const struct usbip_usb_device *d = &ev->u.device;

		rc = selftest_bytes_append(log, d->path, sizeof(d->path));
		if (rc == 0)
			rc = selftest_bytes_append(log, d->busid, sizeof(d->busid));
		if (rc == 0)
			rc = log_u32s(log, (const uint32_t[]){ d->busnum, d->devnum, d->speed, d->id_vendor,
					 d->id_product, d->bcd_device, d->b_device_class, d->b_device_subclass,
					 d->b_device_protocol, d->b_configuration_value,
					 d->b_num_configurations, d->b_num_interfaces }, 12);
		return rc;
	}
	case USBIP_EV_INTERFACE:
		return log_u32s(log, (const uint32_t[]){ ev->u.interface.b_interface_class,
				 ev->u.interface.b_interface_subclass,
				 ev->u.interface.b_interface_protocol }, 3);
	case USBIP_EV_URB:
		rc = log_u32s(log, (const uint32_t[]){ h->base.command, h->base.seqnum, h->base.devid,
				 h->base.direction, h->base.ep, ev->u.urb.data_len, ev->u.urb.iso_count,
				 ev->u.urb.match.direction, ev->u.urb.match.ep,
				 ev->u.urb.match.transfer_buffer_length }, 10);
		if (rc < 0)
			return rc;
		/* the five words after the basic header, whatever the command */
		if (h->base.command == USBIP_CMD_SUBMIT) {
			rc = log_u32s(log, &h->u.cmd_submit.transfer_flags, 5);
			if (rc == 0)
				rc = selftest_bytes_append(log, h->u.cmd_submit.setup, 8);
			return rc;
		}
		if (h->base.command == USBIP_RET_SUBMIT)
			return log_u32s(log, (const uint32_t[]){ (uint32_t)h->u.ret_submit.status,
					 h->u.ret_submit.actual_length, h->u.ret_submit.start_frame,
					 h->u.ret_submit.number_of_packets, h->u.ret_submit.error_count }, 5);
		if (h->base.command == USBIP_CMD_UNLINK)
			return log_u32(log, h->u.cmd_unlink.unlink_seqnum);
		return log_u32(log, (uint32_t)h->u.ret_unlink.status);
	case USBIP_EV_ISO:
		return log_u32s(log, (const uint32_t[]){ ev->u.iso.offset, ev->u.iso.length,
				 ev->u.iso.actual_length, (uint32_t)ev->u.iso.status }, 4);
	case USBIP_EV_END:
	case USBIP_EV_DATA:
		return 0;
	}
	return USBWS_ERR_INVAL;
}

int selftest_frame_all(struct usbip_framer *f, const uint8_t *buf, size_t len, size_t chunk,
		       struct selftest_bytes *log)
{
	struct usbip_event ev;
	size_t pos = 0, used;
	int rc;

	if (chunk == 0)
		chunk = len ? len : 1;
	for (;;) {
		size_t n = len - pos < chunk ? len - pos : chunk;
		const uint8_t *p = buf + pos;

		pos += n;
		/* drain every event this chunk yields, including a trailing END */
		for (;;) {
			rc = usbip_framer_feed(f, p, n, &used, &ev);
			p += used;
			n -= used;
			if (rc <= 0)
				break;
			if (log) {
				int lrc = selftest_event_log_append(log, &ev);

				if (lrc < 0)
					return lrc;
			}
		}
		if (rc < 0)
			return rc;
		if (pos == len)
			break;
	}
	return usbip_framer_at_boundary(f) ? 0 : USBWS_ERR_TRUNCATED;
}

/* --- the self-check ------------------------------------------------------ */

struct selftest {
	FILE *out;
	unsigned int passed;
	unsigned int failed;
};

static void check(struct selftest *t, int ok, const char *what)
{
	fprintf(t->out, "  [%s] %s\n", ok ? " ok " : "FAIL", what);
	if (ok)
		t->passed++;
	else
		t->failed++;
}

/* Frames both directions of s, to-device first so every RET finds its CMD. */
static int frame_session(const struct selftest_sample_session *s, size_t chunk,
			 struct selftest_bytes *log, struct usbip_validator **vout)
{
	struct usbip_validator *v = usbip_validator_new(NULL);
	struct usbip_framer to, from;
	int rc;

	if (!v)
		return USBWS_ERR_NOMEM;
	usbip_framer_init(&to, USBIP_FLOW_TO_DEVICE, v);
	usbip_framer_init(&from, USBIP_FLOW_FROM_DEVICE, v);
	rc = selftest_frame_all(&to, s->to_device.buf, s->to_device.len, chunk, log);
	if (rc == 0)
		rc = selftest_frame_all(&from, s->from_device.buf, s->from_device.len, chunk, log);
	if (vout && rc == 0)
		*vout = v;
	else
		usbip_validator_free(v);
	return rc;
}

struct bad_stream {
	const char *what;
	size_t offset;        /* byte of the from-device stream to overwrite */
	uint8_t value[4];
	int want;
};

int selftest_run(FILE *out)
{
	struct selftest t = { out, 0, 0 };
	struct selftest_sample_session s;
	struct selftest_bytes whole = {0}, bytewise = {0}, chunked = {0};
	struct usbip_validator *v = NULL;
	struct usbip_flow_stats *to, *from;
	char line[160];
	int rc;
	size_t i;
	/* offsets into the from-device stream: REQ_EXPORT is 320 bytes, then
	 * RET_SUBMIT seq 1 (48 + 18), seq 2 (48), ... */
	const size_t ret1 = USBIP_OP_COMMON_SIZE + USBIP_USB_DEVICE_SIZE;
	const struct bad_stream bad[] = {
		{ "wrong USB/IP version is refused", 0, { 0x01, 0x10 }, USBWS_ERR_VERSION },
		{ "unknown URB command is refused", ret1, { 0, 0, 0, 9 }, USBWS_ERR_UNKNOWN_CMD },
		{ "unsolicited RET_SUBMIT seqnum is refused", ret1 + 4, { 0, 0, 0x0d, 0x05 }, USBWS_ERR_UNSOLICITED },
		{ "actual_length above the request is refused", ret1 + 24, { 0, 0, 0, 19 }, USBWS_ERR_ACTUAL_LENGTH },
		{ "a CMD_SUBMIT from the device is refused", ret1, { 0, 0, 0, 1 }, USBWS_ERR_WRONG_WAY },
		{ "bogus ISO packet count is refused", ret1 + 32, { 0, 0, 0x10, 0 }, USBWS_ERR_ISO_COUNT },
	};

	fprintf(out, "usbws protocol self-check (codec, framer, URB validator)\n");
	fprintf(out, "The WSS tunnel is not built yet; this exercises the protocol core it will use.\n\n");

	rc = selftest_sample_session_build(&s);
	if (rc < 0) {
		fprintf(out, "cannot build the sample session: %s\n", usbws_strerror(rc));
		return rc;
	}
	snprintf(line, sizeof(line), "built a sample session: %zu bytes toward the device, %zu back, %u URBs",
		 s.to_device.len, s.from_device.len, s.urbs);
	check(&t, 1, line);

	rc = frame_session(&s, 0, &whole, &v);
	snprintf(line, sizeof(line), "framed and validated it in one piece (%s)", usbws_strerror(rc));
	check(&t, rc == 0, line);
	if (v) {
		to = usbip_validator_flow(v, USBIP_FLOW_TO_DEVICE);
		from = usbip_validator_flow(v, USBIP_FLOW_FROM_DEVICE);
		snprintf(line, sizeof(line),
			 "counted %llu submits + %llu unlink out, %llu submits + %llu unlink back, %u left in flight",
			 (unsigned long long)to->submits, (unsigned long long)to->unlinks,
			 (unsigned long long)from->submits, (unsigned long long)from->unlinks,
			 usbip_validator_inflight(v));
		check(&t, to->submits == 7 && to->unlinks == 1 && from->submits == 6 && from->unlinks == 1 &&
		      usbip_validator_inflight(v) == 0 && to->bytes == s.to_device.len &&
		      from->bytes == s.from_device.len, line);
		usbip_validator_free(v);
	}

	rc = frame_session(&s, 1, &bytewise, NULL);
	check(&t, rc == 0 && bytewise.len == whole.len && memcmp(bytewise.buf, whole.buf, whole.len) == 0,
	      "one byte at a time gives exactly the same events");
	rc = frame_session(&s, 7, &chunked, NULL);
	check(&t, rc == 0 && chunked.len == whole.len && memcmp(chunked.buf, whole.buf, whole.len) == 0,
	      "7-byte chunks give exactly the same events");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct selftest_sample_session m;
		size_t n = bad[i].value[2] || bad[i].value[3] || bad[i].offset >= ret1 ? 4 : 2;

		if (selftest_sample_session_build(&m) < 0)
			break;
		memcpy(m.from_device.buf + bad[i].offset, bad[i].value, n);
		rc = frame_session(&m, 3, NULL, NULL);
		snprintf(line, sizeof(line), "%s: \"%s\"", bad[i].what, usbws_strerror(rc));
		check(&t, rc == bad[i].want, line);
		selftest_sample_session_free(&m);
	}

	fprintf(out, "\n%u passed, %u failed\n", t.passed, t.failed);
	selftest_bytes_free(&whole);
	selftest_bytes_free(&bytewise);
	selftest_bytes_free(&chunked);
	selftest_sample_session_free(&s);
	return (int)t.failed;
}
