/* SPDX-License-Identifier: GPL-2.0-or-later */
/* WebSocket framing: the examples of RFC 6455 section 5.7, chunking
 * equivalence, encoder round trips, and malformed frames. */
#include "testutil.h"

#include <string.h>

#include "tunnel/wsframe.h"

/* Parses all of buf in chunks of `chunk` (0 = whole) into a flat log:
 * for each event its type and opcode, then the bytes it carries.  Runs of
 * DATA events are logged as one, since their split follows the chunks. */
static int parse_log(int server, const uint8_t *in, size_t len, size_t chunk, uint8_t *log, size_t *log_len)
{
	static uint8_t work[200000];
	struct ws_parser p;
	struct ws_event ev;
	size_t pos = 0, used;
	int rc = 0, in_data = 0;

	assert_true(len <= sizeof(work));
	memcpy(work, in, len);
	wsframe_parser_init(&p, server, 1 << 20);
	*log_len = 0;
	if (!chunk)
		chunk = len ? len : 1;
	while (pos < len) {
		size_t n = len - pos < chunk ? len - pos : chunk;
		uint8_t *b = work + pos;

		pos += n;
		while ((rc = wsframe_parse(&p, b, n, &used, &ev)) > 0) {
			b += used;
			n -= used;
			if (ev.type != WS_EV_DATA || !in_data) {
				log[(*log_len)++] = (uint8_t)ev.type;
				log[(*log_len)++] = (uint8_t)ev.opcode;
			}
			in_data = ev.type == WS_EV_DATA;
			if (ev.type == WS_EV_DATA) {
				memcpy(log + *log_len, ev.u.data.ptr, ev.u.data.len);
				*log_len += ev.u.data.len;
			} else if (ev.type == WS_EV_CONTROL) {
				memcpy(log + *log_len, ev.u.control.payload, ev.u.control.len);
				*log_len += ev.u.control.len;
			}
		}
		if (rc < 0)
			return rc;
	}
	return rc;
}

static void expect_log(int server, const char *hex, const uint8_t *want, size_t want_len)
{
	static uint8_t in[200000], log[400000], first[400000];
	size_t n = hex_decode(hex, in, sizeof(in)), len, first_len, chunk;

	assert_usbws_err(parse_log(server, in, n, 0, first, &first_len), 0);
	assert_int_equal(first_len, want_len);
	assert_memory_equal(first, want, want_len);
	for (chunk = 1; chunk <= 11; chunk++) {
		assert_usbws_err(parse_log(server, in, n, chunk, log, &len), 0);
		assert_int_equal(len, first_len);
		assert_memory_equal(log, first, len);
	}
}

#define EV(t, o) (uint8_t)(t), (uint8_t)(o)

static void test_rfc_examples(void **state)
{
	/* 5.7: a single-frame unmasked text message */
	const uint8_t hello[] = { EV(WS_EV_DATA, WS_OP_TEXT), 'H', 'e', 'l', 'l', 'o', EV(WS_EV_MESSAGE_END, WS_OP_TEXT) };
	/* a fragmented unmasked text message: one message, one end */
	const uint8_t frag[] = { EV(WS_EV_DATA, WS_OP_TEXT), 'H', 'e', 'l', 'l', 'o', EV(WS_EV_MESSAGE_END, WS_OP_TEXT) };
	const uint8_t ping[] = { EV(WS_EV_CONTROL, WS_OP_PING), 'H', 'e', 'l', 'l', 'o' };
	const uint8_t pong[] = { EV(WS_EV_CONTROL, WS_OP_PONG), 'H', 'e', 'l', 'l', 'o' };

	expect_log(0, "810548656c6c6f", hello, sizeof(hello));
	expect_log(1, "818537fa213d7f9f4d5158", hello, sizeof(hello));
	expect_log(0, "010348656c 80026c6f", frag, sizeof(frag));
	expect_log(0, "890548656c6c6f", ping, sizeof(ping));
	expect_log(1, "8a8537fa213d7f9f4d5158", pong, sizeof(pong));
}

static void test_long_frames_roundtrip(void **state)
{
	static const uint64_t lengths[] = { 0, 1, 125, 126, 127, 256, 65535, 65536, 100000 };
	static const size_t chunks[] = { 0, 1, 7, 1000 };
	static uint8_t frame[WS_MAX_HEADER + 100000], payload[100000], log[200100];
	const uint8_t mask[4] = { 0x11, 0x22, 0x33, 0x44 };
	size_t i, k, c, log_len, h;
	int masked;

	for (k = 0; k < sizeof(payload); k++)
		payload[k] = (uint8_t)(k * 7 + 3);
	for (i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		uint64_t n = lengths[i];

		for (masked = 0; masked < 2; masked++) {
			h = wsframe_header_encode(frame, WS_OP_BINARY, 1, n, masked ? mask : NULL);
			assert_int_equal(h, (n < 126 ? 2 : n <= 0xffff ? 4 : 10) + (masked ? 4 : 0));
			memcpy(frame + h, payload, n);
			if (masked)
				wsframe_mask(frame + h, n, mask, 0);
			for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
				size_t at = 0;

				assert_usbws_err(parse_log(masked, frame, h + n, chunks[c], log, &log_len), 0);
				if (n) {
					assert_int_equal(log[0], WS_EV_DATA);
					assert_int_equal(log[1], WS_OP_BINARY);
					assert_memory_equal(log + 2, payload, n);
					at = 2 + n;
				}
				assert_int_equal(log_len, at + 2);
				assert_int_equal(log[at], WS_EV_MESSAGE_END);
				assert_int_equal(log[at + 1], WS_OP_BINARY);
			}
		}
	}
}

static void test_mask_offsets(void **state)
{
	uint8_t a[37], b[37];
	const uint8_t mask[4] = { 0xde, 0xad, 0xbe, 0xef };
	size_t i, split;

	for (split = 0; split <= sizeof(a); split++) {
		for (i = 0; i < sizeof(a); i++)
			a[i] = b[i] = (uint8_t)i;
		wsframe_mask(a, sizeof(a), mask, 0);
		wsframe_mask(b, split, mask, 0);
		wsframe_mask(b + split, sizeof(b) - split, mask, split);
		assert_memory_equal(a, b, sizeof(a));
		for (i = 0; i < sizeof(a); i++)
			assert_int_equal(a[i], (uint8_t)i ^ mask[i & 3]);
	}
}

/* Masking while copying gives what masking in place gives, at any payload
 * offset, and leaves the source as it was. */
static void test_mask_copy(void **state)
{
	uint8_t src[37], want[37], dst[37 + 1];
	const uint8_t mask[4] = { 0x12, 0x9a, 0x3c, 0xf5 };
	size_t i, len;
	uint64_t offset;

	(void)state;
	for (len = 0; len <= sizeof(src); len++) {
		for (offset = 0; offset < 8; offset++) {
			for (i = 0; i < sizeof(src); i++)
				src[i] = want[i] = (uint8_t)(i * 13 + 1);
			memset(dst, 0xee, sizeof(dst));
			wsframe_mask(want, len, mask, offset);
			wsframe_mask_copy(dst, src, len, mask, offset);
			assert_memory_equal(dst, want, len);
			/* not a byte past len */
			assert_int_equal(dst[len], 0xee);
			for (i = 0; i < sizeof(src); i++)
				assert_int_equal(src[i], (uint8_t)(i * 13 + 1));
		}
	}
}

static void test_malformed(void **state)
{
	static const struct { const char *name; int server; const char *hex; int want; } rows[] = {
		{ "RSV1 set", 0, "c10548656c6c6f", USBWS_ERR_WS_RSV },
		{ "RSV3 set", 0, "910548656c6c6f", USBWS_ERR_WS_RSV },
		{ "opcode 3", 0, "830548656c6c6f", USBWS_ERR_WS_OPCODE },
		{ "opcode 0xb", 0, "8b00", USBWS_ERR_WS_OPCODE },
		{ "fragmented ping", 0, "0900", USBWS_ERR_WS_CONTROL },
		{ "ping of 126 bytes", 0, "897e007e", USBWS_ERR_WS_CONTROL },
		{ "unmasked frame to a server", 1, "810548656c6c6f", USBWS_ERR_WS_MASK },
		{ "masked frame to a client", 0, "818537fa213d7f9f4d5158", USBWS_ERR_WS_MASK },
		{ "64-bit length with MSB set", 0, "827f8000000000000001", USBWS_ERR_WS_LENGTH },
		{ "frame over the limit", 0, "827f0000000000200000", USBWS_ERR_WS_LENGTH },
		{ "continuation with no message", 0, "800100", USBWS_ERR_WS_FRAGMENT },
		{ "new message inside a message", 0, "0101418101 42", USBWS_ERR_WS_FRAGMENT },
	};
	static uint8_t log[1024];
	uint8_t in[64];
	size_t i, n, len;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		print_message("# %s\n", rows[i].name);
		n = hex_decode(rows[i].hex, in, sizeof(in));
		assert_usbws_err(parse_log(rows[i].server, in, n, 0, log, &len), rows[i].want);
		assert_usbws_err(parse_log(rows[i].server, in, n, 1, log, &len), rows[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_examples), cmocka_unit_test(test_long_frames_roundtrip),
		cmocka_unit_test(test_mask_offsets), cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_mask_copy),
	};

	return cmocka_run_group_tests_name("wsframe", tests, NULL, NULL);
}
