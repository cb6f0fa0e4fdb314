/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The stream framer: chunking equivalence, exact event sequences, phases,
 * and malformed streams, each with its specific error. */
#include "testutil.h"

#include <string.h>

#include "base/byteorder.h"

static void frame_sample(size_t chunk, const size_t *cuts, struct selftest_bytes *log,
			 struct usbip_flow_stats stats[2])
{
	struct selftest_sample_session s;
	struct usbip_validator *v = usbip_validator_new(NULL);
	struct usbip_framer to, from;

	assert_non_null(v);
	assert_int_equal(selftest_sample_session_build(&s), 0);
	usbip_framer_init(&to, USBIP_FLOW_TO_DEVICE, v);
	usbip_framer_init(&from, USBIP_FLOW_FROM_DEVICE, v);
	if (cuts) {
		/* irregular chunks: sizes taken in turn from cuts[] */
		const struct selftest_bytes *streams[2] = { &s.to_device, &s.from_device };
		struct usbip_framer *fr[2] = { &to, &from };
		int k;

		for (k = 0; k < 2; k++) {
			size_t pos = 0, c = 0;

			while (pos < streams[k]->len) {
				size_t n = cuts[c++ % 16];
				struct usbip_event ev;
				size_t used;
				int rc;

				if (n > streams[k]->len - pos)
					n = streams[k]->len - pos;
				const uint8_t *p = streams[k]->buf + pos;
				size_t left = n;

				while ((rc = usbip_framer_feed(fr[k], p, left, &used, &ev)) > 0) {
					assert_int_equal(selftest_event_log_append(log, &ev), 0);
					p += used;
					left -= used;
				}
				assert_int_equal(rc, 0);
				assert_int_equal(used, left);
				pos += n;
			}
			assert_true(usbip_framer_at_boundary(fr[k]));
		}
	} else {
		assert_usbws_err(selftest_frame_all(&to, s.to_device.buf, s.to_device.len, chunk, log), 0);
		assert_usbws_err(selftest_frame_all(&from, s.from_device.buf, s.from_device.len, chunk, log), 0);
	}
	stats[0] = *usbip_validator_flow(v, USBIP_FLOW_TO_DEVICE);
	stats[1] = *usbip_validator_flow(v, USBIP_FLOW_FROM_DEVICE);
	assert_int_equal(stats[0].bytes, s.to_device.len);
	assert_int_equal(stats[1].bytes, s.from_device.len);
	assert_int_equal(usbip_validator_inflight(v), 0);
	assert_int_equal(usbip_framer_phase(&to), USBIP_PHASE_CLOSED);
	assert_int_equal(usbip_framer_phase(&from), USBIP_PHASE_CLOSED);
	usbip_validator_free(v);
	selftest_sample_session_free(&s);
}

static void test_chunking_equivalence(void **state)
{
	struct selftest_bytes whole = {0};
	struct usbip_flow_stats ws[2], cs[2];
	size_t chunk;
	uint32_t seed = 12345;
	int round;

	frame_sample(0, NULL, &whole, ws);
	assert_true(whole.len > 2000);
	for (chunk = 1; chunk <= 97; chunk++) {
		struct selftest_bytes log = {0};

		frame_sample(chunk, NULL, &log, cs);
		assert_int_equal(log.len, whole.len);
		assert_memory_equal(log.buf, whole.buf, whole.len);
		assert_memory_equal(cs, ws, sizeof(ws));
		selftest_bytes_free(&log);
	}
	for (round = 0; round < 200; round++) {
		struct selftest_bytes log = {0};
		size_t cuts[16];
		int i;

		for (i = 0; i < 16; i++) {
			seed = seed * 1103515245u + 12345u;
			cuts[i] = 1 + (seed >> 16) % 400;
		}
		frame_sample(0, cuts, &log, cs);
		assert_int_equal(log.len, whole.len);
		assert_memory_equal(log.buf, whole.buf, whole.len);
		selftest_bytes_free(&log);
	}
	selftest_bytes_free(&whole);
}

/* Exactly which events, where, for a small export stream fed in pieces. */
static void test_event_sequence(void **state)
{
	struct usbip_exported_device d = make_device(5, 1);
	struct usbip_validator *v = usbip_validator_new(NULL);
	struct usbip_header h = make_cmd_submit(9, USBIP_DIR_OUT, 2, 10, 0);
	struct usbip_framer to, from;
	struct usbip_event ev;
	uint8_t buf[400], data[10] = "0123456789";
	size_t used, n;

	usbip_framer_init(&from, USBIP_FLOW_FROM_DEVICE, v);
	n = (size_t)usbip_encode_op_device(buf, sizeof(buf), USBIP_OP_REQ_EXPORT, 0, &d.udev);
	/* 5 bytes: nothing yet */
	assert_int_equal(usbip_framer_feed(&from, buf, 5, &used, &ev), 0);
	assert_int_equal(used, 5);
	assert_int_equal(usbip_framer_feed(&from, buf + 5, n - 5, &used, &ev), 1);
	assert_int_equal(ev.type, USBIP_EV_OP);
	assert_int_equal(ev.offset, 0);
	assert_int_equal(ev.u.op.code, USBIP_OP_REQ_EXPORT);
	assert_int_equal(used, 3);
	assert_int_equal(usbip_framer_feed(&from, buf + 8, n - 8, &used, &ev), 1);
	assert_int_equal(ev.type, USBIP_EV_DEVICE);
	assert_int_equal(ev.offset, 8);
	assert_string_equal(ev.u.device.busid, "3-5");
	assert_int_equal(used, 312);
	assert_int_equal(usbip_framer_feed(&from, buf + n, 0, &used, &ev), 1);
	assert_int_equal(ev.type, USBIP_EV_END);
	assert_int_equal(ev.offset, 320);
	assert_int_equal(usbip_framer_feed(&from, buf + n, 0, &used, &ev), 0);
	assert_int_equal(usbip_framer_phase(&from), USBIP_PHASE_URB);

	usbip_framer_init(&to, USBIP_FLOW_TO_DEVICE, v);
	usbip_framer_start_urb_phase(&to);
	n = (size_t)usbip_encode_urb(buf, sizeof(buf), &h, 0, data, 10, NULL, 0);
	assert_int_equal(usbip_framer_feed(&to, buf, 52, &used, &ev), 1);
	assert_int_equal(ev.type, USBIP_EV_URB);
	assert_int_equal(ev.u.urb.hdr.base.seqnum, 9);
	assert_int_equal(ev.u.urb.data_len, 10);
	assert_int_equal(used, 48);
	/* data comes back as a span of the caller's own buffer */
	assert_int_equal(usbip_framer_feed(&to, buf + 48, 4, &used, &ev), 1);
	assert_int_equal(ev.type, USBIP_EV_DATA);
	assert_ptr_equal(ev.u.data.ptr, buf + 48);
	assert_int_equal(ev.u.data.len, 4);
	assert_int_equal(ev.offset, 48);
	assert_int_equal(usbip_framer_feed(&to, buf + 52, n - 52, &used, &ev), 1);
	assert_int_equal(ev.type, USBIP_EV_DATA);
	assert_ptr_equal(ev.u.data.ptr, buf + 52);
	assert_int_equal(ev.u.data.len, 6);
	assert_memory_equal(ev.u.data.ptr, "456789", 6);
	assert_int_equal(usbip_framer_feed(&to, buf + n, 0, &used, &ev), 1);
	assert_int_equal(ev.type, USBIP_EV_END);
	assert_int_equal(ev.offset, 58);
	assert_true(usbip_framer_at_boundary(&to));
	assert_int_equal(usbip_validator_inflight(v), 1);
	usbip_validator_free(v);
}

/* --- stream scripts ---------------------------------------------------- */

enum step_kind {
	S_END = 0,
	S_OP,        /* a = code, b = status */
	S_OPDEV,     /* a = code */
	S_IMPORT,    /* OP_REQ_IMPORT busid "1-1" */
	S_DEVLIST,   /* a = device count */
	S_CMD,       /* a = seqnum, b = direction, c = length, d = packets */
	S_UNLINK,    /* a = seqnum, b = target */
	S_RET,       /* a = seqnum, b = answered direction, c = actual, d = packets */
	S_RETUNLINK, /* a = seqnum, b = status */
	S_RAW,       /* a = one big-endian word */
	S_TRUNC,     /* a CMD_SUBMIT header cut to 20 bytes, then end of stream */
};

#define TO USBIP_FLOW_TO_DEVICE
#define FROM USBIP_FLOW_FROM_DEVICE

struct step {
	enum step_kind kind;
	enum usbip_flow flow;
	uint32_t a, b, c, d;
};

struct script_row {
	const char *name;
	int urb_phase;               /* start both streams in the URB phase */
	uint32_t max_inflight;       /* 0: default */
	uint32_t max_devices;
	struct step steps[8];
	int want;
	int fail_step;               /* which step must raise it */
};

static size_t encode_step(const struct step *st, uint8_t *buf, size_t cap)
{
	struct usbip_exported_device d[3] = { make_device(1, 1), make_device(2, 0), make_device(3, 2) };
	struct usbip_iso_packet_descriptor iso[4];
	struct usbip_header h;
	static uint8_t data[4096];
	uint32_t i;
	int n = -1;

	switch (st->kind) {
	case S_OP: n = usbip_op_common_encode(buf, cap, (uint16_t)st->a, st->b); break;
	case S_OPDEV: n = usbip_encode_op_device(buf, cap, (uint16_t)st->a, 0, &d[0].udev); break;
	case S_IMPORT: n = usbip_encode_req_import(buf, cap, "1-1"); break;
	case S_DEVLIST: n = usbip_encode_devlist(buf, cap, d, st->a); break;
	case S_CMD:
		h = make_cmd_submit(st->a, st->b, 1, st->c, st->d);
		for (i = 0; i < usbip_iso_count(st->d); i++)
			iso[i] = (struct usbip_iso_packet_descriptor){ i * (st->c / st->d), st->c / st->d, 0, 0 };
		n = usbip_encode_urb(buf, cap, &h, 0, data, st->b == USBIP_DIR_OUT ? st->c : 0, iso,
				     usbip_iso_count(st->d));
		break;
	case S_UNLINK:
		h = make_cmd_unlink(st->a, st->b);
		n = usbip_encode_urb(buf, cap, &h, 0, NULL, 0, NULL, 0);
		break;
	case S_RET:
		h = make_ret_submit(st->a, st->c, st->d);
		memset(iso, 0, sizeof(iso));
		n = usbip_encode_urb(buf, cap, &h, st->b, data, st->b == USBIP_DIR_IN ? st->c : 0, iso,
				     usbip_iso_count(st->d));
		break;
	case S_RETUNLINK:
		h = make_ret_unlink(st->a, (int32_t)st->b);
		n = usbip_encode_urb(buf, cap, &h, 0, NULL, 0, NULL, 0);
		break;
	case S_RAW:
		put_be32(buf, st->a);
		memset(buf + 4, 0, 60);
		n = 64;
		break;
	case S_TRUNC:
		h = make_cmd_submit(st->a, USBIP_DIR_IN, 1, 8, 0);
		n = usbip_header_encode(buf, cap, &h) > 0 ? 20 : -1;
		break;
	case S_END:
		break;
	}
	assert_true(n > 0);
	return (size_t)n;
}

/* Runs a script; returns the first error and sets *at to its step. */
static int run_script(const struct script_row *row, int *at)
{
	struct usbip_validator_config cfg = {0};
	struct usbip_validator *v;
	struct usbip_framer fr[2];
	static uint8_t buf[8192];
	int i, rc = 0;

	usbip_limits_default(&cfg.limits);
	if (row->max_inflight)
		cfg.limits.max_inflight = row->max_inflight;
	if (row->max_devices)
		cfg.limits.max_devices = row->max_devices;
	v = usbip_validator_new(&cfg);
	assert_non_null(v);
	usbip_framer_init(&fr[TO], TO, v);
	usbip_framer_init(&fr[FROM], FROM, v);
	if (row->urb_phase) {
		usbip_framer_start_urb_phase(&fr[TO]);
		usbip_framer_start_urb_phase(&fr[FROM]);
	}
	*at = -1;
	for (i = 0; i < 8 && row->steps[i].kind != S_END; i++) {
		size_t n = encode_step(&row->steps[i], buf, sizeof(buf));

		rc = selftest_frame_all(&fr[row->steps[i].flow], buf, n, 0, NULL);
		if (rc < 0) {
			*at = i;
			break;
		}
	}
	if (rc < 0 && rc != USBWS_ERR_TRUNCATED) {
		/* errors are sticky: the same framer refuses even a valid byte */
		struct usbip_event ev;
		size_t used;
		uint8_t zero = 0;

		assert_int_equal(usbip_framer_feed(&fr[row->steps[i].flow], &zero, 1, &used, &ev), rc);
		assert_int_equal(used, 0);
	}
	usbip_validator_free(v);
	return rc;
}

static void test_stream_scripts(void **state)
{
	static const struct script_row rows[] = {
		{ "full export session", 0, 0, 0, {
			{ S_OPDEV, FROM, USBIP_OP_REQ_EXPORT }, { S_OP, TO, USBIP_OP_REP_EXPORT, 0 },
			{ S_CMD, TO, 1, USBIP_DIR_IN, 64, 0 }, { S_RET, FROM, 1, USBIP_DIR_IN, 64, 0 },
			{ S_OPDEV, FROM, USBIP_OP_REQ_UNEXPORT }, { S_OP, TO, USBIP_OP_REP_UNEXPORT, 0 } }, 0, -1 },
		{ "import session", 0, 0, 0, {
			{ S_IMPORT, TO }, { S_OPDEV, FROM, USBIP_OP_REP_IMPORT },
			{ S_CMD, TO, 1, USBIP_DIR_OUT, 512, 0 }, { S_RET, FROM, 1, USBIP_DIR_OUT, 512, 0 } }, 0, -1 },
		{ "device listing", 0, 0, 0, {
			{ S_OP, TO, USBIP_OP_REQ_DEVLIST, 0 }, { S_DEVLIST, FROM, 3 } }, 0, -1 },
		{ "URB before the import", 0, 0, 0, {
			{ S_CMD, TO, 1, USBIP_DIR_IN, 8, 0 } }, USBWS_ERR_PHASE, 0 },
		{ "URB after a refused export", 0, 0, 0, {
			{ S_OPDEV, FROM, USBIP_OP_REQ_EXPORT }, { S_OP, TO, USBIP_OP_REP_EXPORT, USBIP_ST_NA },
			{ S_CMD, TO, 1, USBIP_DIR_IN, 8, 0 } }, USBWS_ERR_PHASE, 2 },
		{ "URB after a failed import", 0, 0, 0, {
			{ S_IMPORT, TO }, { S_OP, FROM, USBIP_OP_REP_IMPORT, USBIP_ST_NODEV },
			{ S_RET, FROM, 1, USBIP_DIR_IN, 8, 0 } }, USBWS_ERR_PHASE, 2 },
		{ "wrong version in the OP phase", 0, 0, 0, {
			{ S_RAW, TO, 0x01100005 } }, USBWS_ERR_VERSION, 0 },
		{ "OP_REQ_EXPORT toward the device", 0, 0, 0, {
			{ S_OPDEV, TO, USBIP_OP_REQ_EXPORT } }, USBWS_ERR_WRONG_WAY, 0 },
		{ "OP_REQ_IMPORT from the device", 0, 0, 0, {
			{ S_IMPORT, FROM } }, USBWS_ERR_WRONG_WAY, 0 },
		{ "OP_REP_DEVLIST toward the device", 0, 0, 0, {
			{ S_DEVLIST, TO, 1 } }, USBWS_ERR_WRONG_WAY, 0 },
		{ "RET_SUBMIT toward the device", 1, 0, 0, {
			{ S_RET, TO, 1, USBIP_DIR_OUT, 0, 0 } }, USBWS_ERR_WRONG_WAY, 0 },
		{ "CMD_SUBMIT from the device", 1, 0, 0, {
			{ S_CMD, FROM, 1, USBIP_DIR_IN, 8, 0 } }, USBWS_ERR_WRONG_WAY, 0 },
		{ "OP_REQ_DEVLIST in the URB phase", 1, 0, 0, {
			{ S_OP, TO, USBIP_OP_REQ_DEVLIST, 0 } }, USBWS_ERR_PHASE, 0 },
		{ "OP_REQ_EXPORT in the URB phase", 1, 0, 0, {
			{ S_OPDEV, FROM, USBIP_OP_REQ_EXPORT } }, USBWS_ERR_PHASE, 0 },
		{ "garbage word in the URB phase", 1, 0, 0, {
			{ S_RAW, TO, 0xdeadbeef } }, USBWS_ERR_UNKNOWN_CMD, 0 },
		{ "unsolicited RET_SUBMIT", 1, 0, 0, {
			{ S_CMD, TO, 1, USBIP_DIR_IN, 8, 0 }, { S_RET, FROM, 2, USBIP_DIR_IN, 8, 0 } },
			USBWS_ERR_UNSOLICITED, 1 },
		{ "RET_SUBMIT answered twice", 1, 0, 0, {
			{ S_CMD, TO, 1, USBIP_DIR_IN, 8, 0 }, { S_RET, FROM, 1, USBIP_DIR_IN, 8, 0 },
			{ S_RET, FROM, 1, USBIP_DIR_IN, 8, 0 } }, USBWS_ERR_UNSOLICITED, 2 },
		{ "duplicate outstanding seqnum", 1, 0, 0, {
			{ S_CMD, TO, 5, USBIP_DIR_IN, 8, 0 }, { S_CMD, TO, 5, USBIP_DIR_IN, 8, 0 } },
			USBWS_ERR_DUPLICATE_SEQNUM, 1 },
		{ "unlink reusing an outstanding seqnum", 1, 0, 0, {
			{ S_CMD, TO, 5, USBIP_DIR_IN, 8, 0 }, { S_UNLINK, TO, 5, 5 } },
			USBWS_ERR_DUPLICATE_SEQNUM, 1 },
		{ "seqnum reused after its reply", 1, 0, 0, {
			{ S_CMD, TO, 5, USBIP_DIR_IN, 8, 0 }, { S_RET, FROM, 5, USBIP_DIR_IN, 8, 0 },
			{ S_CMD, TO, 5, USBIP_DIR_OUT, 8, 0 }, { S_RET, FROM, 5, USBIP_DIR_OUT, 8, 0 } }, 0, -1 },
		{ "actual_length above the request", 1, 0, 0, {
			{ S_CMD, TO, 1, USBIP_DIR_IN, 8, 0 }, { S_RET, FROM, 1, USBIP_DIR_IN, 9, 0 } },
			USBWS_ERR_ACTUAL_LENGTH, 1 },
		{ "ISO reply to a non-ISO command", 1, 0, 0, {
			{ S_CMD, TO, 1, USBIP_DIR_OUT, 8, 0 }, { S_RET, FROM, 1, USBIP_DIR_OUT, 8, 2 } },
			USBWS_ERR_ISO_COUNT, 1 },
		{ "RET_SUBMIT after a successful unlink", 1, 0, 0, {
			{ S_CMD, TO, 7, USBIP_DIR_IN, 8, 0 }, { S_UNLINK, TO, 8, 7 },
			{ S_RETUNLINK, FROM, 8, (uint32_t)-104 }, { S_RET, FROM, 7, USBIP_DIR_IN, 8, 0 } },
			USBWS_ERR_UNSOLICITED, 3 },
		{ "RET_SUBMIT after a RET_UNLINK with status 0", 1, 0, 0, {
			{ S_CMD, TO, 7, USBIP_DIR_IN, 8, 0 }, { S_UNLINK, TO, 8, 7 },
			{ S_RETUNLINK, FROM, 8, 0 }, { S_RET, FROM, 7, USBIP_DIR_IN, 8, 0 } },
			USBWS_ERR_UNSOLICITED, 3 },
		{ "unlink of a URB already answered", 1, 0, 0, {
			{ S_CMD, TO, 7, USBIP_DIR_IN, 8, 0 }, { S_RET, FROM, 7, USBIP_DIR_IN, 8, 0 },
			{ S_UNLINK, TO, 8, 7 }, { S_RETUNLINK, FROM, 8, 0 } }, 0, -1 },
		{ "RET_UNLINK answering a submit", 1, 0, 0, {
			{ S_CMD, TO, 7, USBIP_DIR_IN, 8, 0 }, { S_RETUNLINK, FROM, 7, (uint32_t)-104 } },
			USBWS_ERR_UNSOLICITED, 1 },
		{ "RET_SUBMIT answering an unlink", 1, 0, 0, {
			{ S_CMD, TO, 7, USBIP_DIR_IN, 8, 0 }, { S_UNLINK, TO, 8, 7 },
			{ S_RET, FROM, 8, USBIP_DIR_IN, 0, 0 } }, USBWS_ERR_UNSOLICITED, 2 },
		{ "more URBs in flight than allowed", 1, 2, 0, {
			{ S_CMD, TO, 1, USBIP_DIR_IN, 8, 0 }, { S_CMD, TO, 2, USBIP_DIR_IN, 8, 0 },
			{ S_CMD, TO, 3, USBIP_DIR_IN, 8, 0 } }, USBWS_ERR_INFLIGHT, 2 },
		{ "device list longer than allowed", 0, 0, 2, {
			{ S_OP, TO, USBIP_OP_REQ_DEVLIST, 0 }, { S_DEVLIST, FROM, 3 } },
			USBWS_ERR_TOO_MANY_DEVICES, 1 },
		{ "bytes after OP_REP_UNEXPORT", 1, 0, 0, {
			{ S_OP, TO, USBIP_OP_REP_UNEXPORT, 0 }, { S_CMD, TO, 1, USBIP_DIR_IN, 8, 0 } },
			USBWS_ERR_AFTER_UNEXPORT, 1 },
		{ "bytes after OP_REQ_UNEXPORT", 1, 0, 0, {
			{ S_OPDEV, FROM, USBIP_OP_REQ_UNEXPORT }, { S_OPDEV, FROM, USBIP_OP_REQ_UNEXPORT } },
			USBWS_ERR_AFTER_UNEXPORT, 1 },
		{ "stream ends inside a header", 1, 0, 0, {
			{ S_TRUNC, TO, 1 } }, USBWS_ERR_TRUNCATED, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int at, rc;

		print_message("# %s\n", rows[i].name);
		rc = run_script(&rows[i], &at);
		assert_usbws_err(rc, rows[i].want);
		assert_int_equal(at, rows[i].fail_step);
	}
}

/* The first word tells OP from URB even when it arrives a byte at a time. */
static void test_unexport_interrupts_urb_stream(void **state)
{
	struct usbip_validator *v = usbip_validator_new(NULL);
	struct usbip_exported_device d = make_device(1, 1);
	struct selftest_bytes log = {0}, stream = {0};
	struct usbip_header h = make_ret_submit(1, 4, 0);
	struct usbip_framer to, from;
	uint8_t buf[400];
	int n;

	usbip_framer_init(&to, TO, v);
	usbip_framer_init(&from, FROM, v);
	usbip_framer_start_urb_phase(&to);
	usbip_framer_start_urb_phase(&from);
	n = usbip_encode_urb(buf, sizeof(buf), &(struct usbip_header){ .base = { USBIP_CMD_SUBMIT, 1, 0, 1, 1 },
			     .u.cmd_submit = { .transfer_buffer_length = 4 } }, 0, NULL, 0, NULL, 0);
	assert_usbws_err(selftest_frame_all(&to, buf, (size_t)n, 1, NULL), 0);
	n = usbip_encode_urb(buf, sizeof(buf), &h, USBIP_DIR_IN, (const uint8_t *)"abcd", 4, NULL, 0);
	selftest_bytes_append(&stream, buf, (size_t)n);
	n = usbip_encode_op_device(buf, sizeof(buf), USBIP_OP_REQ_UNEXPORT, 0, &d.udev);
	selftest_bytes_append(&stream, buf, (size_t)n);
	assert_usbws_err(selftest_frame_all(&from, stream.buf, stream.len, 1, &log), 0);
	assert_int_equal(usbip_framer_phase(&from), USBIP_PHASE_CLOSED);
	assert_int_equal(usbip_validator_flow(v, FROM)->ops, 1);
	assert_int_equal(usbip_validator_flow(v, FROM)->submits, 1);
	selftest_bytes_free(&log);
	selftest_bytes_free(&stream);
	usbip_validator_free(v);
}

/* A request other than a listing or an import is refused, for good. */
static void test_request_refusal_is_sticky(void **state)
{
	struct usbip_framer f;
	struct usbip_request req = {0};
	uint8_t buf[8], listing[8];
	size_t used;

	usbip_framer_init(&f, TO, NULL);
	usbip_op_common_encode(buf, sizeof(buf), USBIP_OP_REP_EXPORT, 0);
	usbip_op_common_encode(listing, sizeof(listing), USBIP_OP_REQ_DEVLIST, 0);
	assert_usbws_err(usbip_framer_feed_request(&f, buf, sizeof(buf), &used, &req), USBWS_ERR_PHASE);
	assert_usbws_err(usbip_framer_feed_request(&f, listing, sizeof(listing), &used, &req), USBWS_ERR_PHASE);
	assert_int_equal(used, 0);
}

/* A stream that only lists devices needs no validator, and refuses URBs. */
static void test_listing_without_validator(void **state)
{
	struct usbip_framer f;
	uint8_t buf[64];
	struct usbip_header h = make_cmd_submit(1, USBIP_DIR_IN, 1, 8, 0);
	int n;

	usbip_framer_init(&f, TO, NULL);
	n = usbip_op_common_encode(buf, sizeof(buf), USBIP_OP_REQ_DEVLIST, 0);
	assert_usbws_err(selftest_frame_all(&f, buf, (size_t)n, 0, NULL), 0);
	usbip_framer_start_urb_phase(&f);
	n = usbip_header_encode(buf, sizeof(buf), &h);
	assert_usbws_err(selftest_frame_all(&f, buf, (size_t)n, 0, NULL), USBWS_ERR_PHASE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunking_equivalence),
		cmocka_unit_test(test_event_sequence),
		cmocka_unit_test(test_stream_scripts),
		cmocka_unit_test(test_unexport_interrupts_urb_stream),
		cmocka_unit_test(test_listing_without_validator),
		cmocka_unit_test(test_request_refusal_is_sticky),
	};

	return cmocka_run_group_tests_name("framer", tests, NULL, NULL);
}
