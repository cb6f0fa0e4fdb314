/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The HTTP answers the node judges while it sets up a link: the end of a
 * head, an HTTP proxy's answer to CONNECT, the WebSocket upgrade answer
 * (common/tunnel/httpreply.c). */
#include "testutil.h"

#include <string.h>

#include "tunnel/httpreply.h"

/* RFC 6455 1.3's example: the key "dGhlIHNhbXBsZSBub25jZQ==" gives this accept */
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define PROTO "usbws.v1"

static void test_head_len(void **state)
{
	/* len 0: the input's strlen */
	static const struct { const char *name, *in; size_t len, want; } rows[] = {
		{ "empty", "", 0, 0 },
		{ "no blank line yet", "HTTP/1.1 200 OK\r\nServer: x\r\n", 0, 0 },
		{ "bare LFs do not end it", "HTTP/1.1 200 OK\n\n", 0, 0 },
		{ "status line only", "HTTP/1.1 200 OK\r\n\r\n", 0, 19 },
		{ "frames follow", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi", 0, 56 },
		{ "the first blank line", "A\r\n\r\nB\r\n\r\n", 0, 5 },
		{ "a NUL does not hide the end", "HTTP/1.1 200\0x\r\n\r\n", 18, 18 },
		{ "the end cut off", "HTTP/1.1 200 OK\r\n\r\n", 18, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		print_message("head_len: %s\n", rows[i].name);
		assert_int_equal(httpreply_head_len(rows[i].in, rows[i].len ? rows[i].len : strlen(rows[i].in)),
				 rows[i].want);
	}
}

static void test_connect(void **state)
{
	static const struct { const char *name, *head; int want; } rows[] = {
		{ "tinyproxy", "HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n", 0 },
		{ "squid", "HTTP/1.1 200 Connection established\r\n\r\n", 0 },
		{ "bare 200", "HTTP/1.1 200\r\n\r\n", 0 },
		{ "refused", "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", USBWS_ERR_HTTP_STATUS },
		{ "auth wanted", "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", USBWS_ERR_HTTP_STATUS },
		{ "not HTTP", "SSH-2.0-OpenSSH_9.2\r\n\r\n", USBWS_ERR_HTTP_STATUS },
		{ "HTTP/2 status line", "HTTP/2 200\r\n\r\n", USBWS_ERR_HTTP_STATUS },
		{ "too short", "HTTP/1.1 20", USBWS_ERR_HTTP_STATUS },
		{ "empty", "", USBWS_ERR_HTTP_STATUS },
		{ "200 in a header", "HTTP/1.1 502 Bad Gateway\r\nX: HTTP/1.1 200\r\n\r\n", USBWS_ERR_HTTP_STATUS },
		{ "2000 is not 200", "HTTP/1.1 2000 OK\r\n\r\n", USBWS_ERR_HTTP_STATUS },
		{ "HTTP/1.2 is no HTTP/1.x we know", "HTTP/1.2 200 OK\r\n\r\n", USBWS_ERR_HTTP_STATUS },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		print_message("connect: %s\n", rows[i].name);
		assert_usbws_err(httpreply_connect(rows[i].head, strlen(rows[i].head)), rows[i].want);
	}
}

static void test_upgrade(void **state)
{
	static const struct { const char *name, *head; int want; } rows[] = {
		{ "libwebsockets 4.1",
		  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Accept: " ACCEPT "\r\nSec-WebSocket-Protocol: " PROTO "\r\n\r\n", 0 },
		{ "names in any case, no space",
		  "HTTP/1.1 101 Switching Protocols\r\nsec-websocket-protocol:" PROTO "\r\n"
		  "SEC-WEBSOCKET-ACCEPT:   " ACCEPT "\r\n\r\n", 0 },
		{ "first of two wins",
		  "HTTP/1.1 101 x\r\nSec-WebSocket-Accept: " ACCEPT "\r\nSec-WebSocket-Accept: nope\r\n"
		  "Sec-WebSocket-Protocol: " PROTO "\r\n\r\n", 0 },
		{ "not 101", "HTTP/1.1 403 Forbidden\r\nSec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
		  USBWS_ERR_HTTP_STATUS },
		{ "HTTP/1.0", "HTTP/1.0 101 Switching Protocols\r\n\r\n", USBWS_ERR_HTTP_STATUS },
		{ "no accept", "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Protocol: " PROTO "\r\n\r\n",
		  USBWS_ERR_WS_ACCEPT },
		{ "another key's accept",
		  "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: AAAALMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
		  "Sec-WebSocket-Protocol: " PROTO "\r\n\r\n", USBWS_ERR_WS_ACCEPT },
		{ "accept cut short",
		  "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ\r\n"
		  "Sec-WebSocket-Protocol: " PROTO "\r\n\r\n", USBWS_ERR_WS_ACCEPT },
		{ "space before the colon",
		  "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept : " ACCEPT "\r\n"
		  "Sec-WebSocket-Protocol: " PROTO "\r\n\r\n", USBWS_ERR_WS_ACCEPT },
		{ "accept only after the head",
		  "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Protocol: " PROTO "\r\n\r\n"
		  "\r\nSec-WebSocket-Accept: " ACCEPT "\r\n", USBWS_ERR_WS_ACCEPT },
		{ "no subprotocol", "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
		  USBWS_ERR_WS_SUBPROTOCOL },
		{ "a subprotocol that only starts like ours",
		  "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: " ACCEPT "\r\n"
		  "Sec-WebSocket-Protocol: " PROTO "0\r\n\r\n", USBWS_ERR_WS_SUBPROTOCOL },
		{ "an accept with more after it",
		  "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: " ACCEPT "x\r\n"
		  "Sec-WebSocket-Protocol: " PROTO "\r\n\r\n", USBWS_ERR_WS_ACCEPT },
		{ "trailing blanks are not the value",
		  "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: " ACCEPT " \t\r\n"
		  "Sec-WebSocket-Protocol: " PROTO "\r\n\r\n", 0 },
		{ "1010 is not 101",
		  "HTTP/1.1 1010 Switching Protocols\r\nSec-WebSocket-Accept: " ACCEPT "\r\n"
		  "Sec-WebSocket-Protocol: " PROTO "\r\n\r\n", USBWS_ERR_HTTP_STATUS },
		{ "another subprotocol",
		  "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: " ACCEPT "\r\n"
		  "Sec-WebSocket-Protocol: usbws.v2\r\n\r\n", USBWS_ERR_WS_SUBPROTOCOL },
	};
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		print_message("upgrade: %s\n", rows[i].name);
		/* what read_head hands over: the head alone, frames after it left out */
		len = httpreply_head_len(rows[i].head, strlen(rows[i].head));
		if (!len)
			len = strlen(rows[i].head);
		assert_usbws_err(httpreply_upgrade(rows[i].head, len, ACCEPT, PROTO), rows[i].want);
	}
}

static void test_header(void **state)
{
	static const char head[] = "HTTP/1.1 101 x\r\nUpgrade: websocket\r\nX-Empty:\r\nX-Last: tail";
	size_t vlen;
	const char *v;

	(void)state;
	v = httpreply_header(head, strlen(head), "upgrade", &vlen);
	assert_non_null(v);
	assert_int_equal(vlen, 9);
	assert_memory_equal(v, "websocket", 9);
	v = httpreply_header(head, strlen(head), "X-Empty", &vlen);
	assert_non_null(v);
	assert_int_equal(vlen, 0);
	/* a value cut off by the end of the input ends there */
	v = httpreply_header(head, strlen(head), "X-Last", &vlen);
	assert_non_null(v);
	assert_int_equal(vlen, 4);
	assert_null(httpreply_header(head, strlen(head), "HTTP/1.1 101 x", &vlen));
	assert_null(httpreply_header(head, strlen(head), "Missing", &vlen));
	assert_null(httpreply_header(head, 20, "Upgrade", &vlen));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head_len),
		cmocka_unit_test(test_connect),
		cmocka_unit_test(test_upgrade),
		cmocka_unit_test(test_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
