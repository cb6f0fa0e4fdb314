/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target for the HTTP answers the node reads while it sets up a link
 * (httpreply.c): an HTTP proxy's answer to CONNECT and the WebSocket
 * upgrade answer.  Input: the bytes as they come off the socket, head and
 * what follows it (not NUL-terminated).  Checks that the head ends at the
 * first blank line whatever the read sizes, that a header's value lies
 * inside the head, and that an accepted answer has what it must.
 */
#include <string.h>

#include "fuzz_common.h"
#include "tunnel/httpreply.h"
#include "base/usbws_err.h"

/* RFC 6455 1.3's example key gives this accept */
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define PROTO "usbws.v1"

static void check_header(const char *head, size_t len, const char *name, int must)
{
	size_t vlen = 0;
	const char *v = httpreply_header(head, len, name, &vlen);

	FUZZ_ASSERT(v || !must);
	if (v)
		FUZZ_ASSERT(v > head && v + vlen <= head + len && !memchr(v, '\r', vlen));
}

static void judge(const char *head, size_t len)
{
	int rc = httpreply_connect(head, len);

	FUZZ_ASSERT(rc == 0 || rc == USBWS_ERR_HTTP_STATUS);
	/* the status is the whole code: a reason or the line's end follows */
	if (rc == 0)
		FUZZ_ASSERT(len >= 13 && memcmp(head, "HTTP/1.", 7) == 0 && memcmp(head + 8, " 200", 4) == 0 &&
			    (head[12] == ' ' || head[12] == '\r'));
	rc = httpreply_upgrade(head, len, ACCEPT, PROTO);
	FUZZ_ASSERT(rc == 0 || rc == USBWS_ERR_HTTP_STATUS || rc == USBWS_ERR_WS_ACCEPT ||
		    rc == USBWS_ERR_WS_SUBPROTOCOL);
	if (rc == 0)
		FUZZ_ASSERT(len >= 13 && memcmp(head, "HTTP/1.1 101", 12) == 0 && (head[12] == ' ' || head[12] == '\r'));
	check_header(head, len, "Sec-WebSocket-Accept", rc == 0 || rc == USBWS_ERR_WS_SUBPROTOCOL);
	check_header(head, len, "Sec-WebSocket-Protocol", rc == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t head, have = 0, got = 0;
	uint32_t seed;
	char *buf;

	if (size < 1 || size > 2 * HTTPREPLY_MAX_HEAD)
		return 0;
	seed = data[0] | 0x100u;
	data++;
	size--;
	/* exactly the input's size, so that ASan sees any read past it */
	buf = malloc(size ? size : 1);
	FUZZ_ASSERT(buf);
	memcpy(buf, data, size);
	head = httpreply_head_len(buf, size);
	if (head) {
		FUZZ_ASSERT(head >= 4 && head <= size && memcmp(buf + head - 4, "\r\n\r\n", 4) == 0);
		FUZZ_ASSERT(httpreply_head_len(buf, head - 1) == 0);
	}
	/* as read_head sees it: the bytes arrive in fuzzer-chosen reads, the
	 * head is found once, the same whatever the reads */
	while (have < size && !got) {
		seed = seed * 1103515245u + 12345u;
		have += 1 + (seed >> 16) % 64;
		if (have > size)
			have = size;
		got = httpreply_head_len(buf, have);
	}
	FUZZ_ASSERT(got == head);
	if (head)
		judge(buf, head);
	/* and a head cut off anywhere, which the judges must not read past */
	judge(buf, size);
	free(buf);
	return 0;
}
