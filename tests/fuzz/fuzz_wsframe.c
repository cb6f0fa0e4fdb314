/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target for the WebSocket frame parser, differential: the same bytes
 * parsed whole and in fuzzer-chosen chunks must give the same events (runs
 * of DATA merged), the same payload bytes and the same error.
 * Input: a flags byte (bit 0: parse as a server, expecting masked frames;
 * the rest seeds the chunk sizes), then the frames.
 */
#include <string.h>

#include "fuzz_common.h"
#include "usbip/selftest.h"
#include "tunnel/wsframe.h"

static int run(const uint8_t *data, size_t size, int server, uint32_t seed, struct selftest_bytes *log)
{
	uint8_t *work = malloc(size ? size : 1);
	struct ws_parser p;
	struct ws_event ev;
	size_t pos = 0, used;
	int rc = 0, in_data = 0;

	FUZZ_ASSERT(work);
	memcpy(work, data, size);
	wsframe_parser_init(&p, server, 4096);
	while (pos < size) {
		size_t n = size - pos;
		uint8_t *b = work + pos;

		if (seed) {
			seed = seed * 1103515245u + 12345u;
			if (n > 1 + (seed >> 16) % 32)
				n = 1 + (seed >> 16) % 32;
		}
		pos += n;
		while ((rc = wsframe_parse(&p, b, n, &used, &ev)) > 0) {
			uint8_t tag[2] = { (uint8_t)ev.type, (uint8_t)ev.opcode };

			FUZZ_ASSERT(used <= n);
			if (ev.type != WS_EV_DATA || !in_data)
				selftest_bytes_append(log, tag, 2);
			in_data = ev.type == WS_EV_DATA;
			if (ev.type == WS_EV_DATA) {
				FUZZ_ASSERT(ev.u.data.ptr >= work && ev.u.data.ptr + ev.u.data.len <= work + size);
				selftest_bytes_append(log, ev.u.data.ptr, ev.u.data.len);
			} else if (ev.type == WS_EV_CONTROL) {
				FUZZ_ASSERT(ev.u.control.len <= WS_MAX_CONTROL);
				selftest_bytes_append(log, ev.u.control.payload, ev.u.control.len);
			}
			b += used;
			n -= used;
		}
		if (rc < 0)
			break;
		FUZZ_ASSERT(used == n);
	}
	free(work);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct selftest_bytes whole = {0}, chunked = {0};
	int server, rw, rc;

	if (size < 1)
		return 0;
	server = data[0] & 1;
	rw = run(data + 1, size - 1, server, 0, &whole);
	rc = run(data + 1, size - 1, server, data[0] | 0x100u, &chunked);
	FUZZ_ASSERT(rw == rc);
	FUZZ_ASSERT(whole.len == chunked.len);
	FUZZ_ASSERT(whole.len == 0 || memcmp(whole.buf, chunked.buf, whole.len) == 0);
	selftest_bytes_free(&whole);
	selftest_bytes_free(&chunked);
	return 0;
}
