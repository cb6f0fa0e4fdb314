/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_HTTPREPLY_H
#define USBWS_HTTPREPLY_H
/*
 * The two HTTP/1.1 answers the node reads while it sets up a link: an HTTP
 * proxy's answer to CONNECT, and usbws-proxy's answer to the WebSocket
 * upgrade (RFC 6455 4.1).  Pure: wsclient.c reads the bytes, these judge
 * them.  Nothing here needs the input NUL-terminated, and nothing looks
 * past the head: WebSocket frames may follow it in the same read.
 */
#include <stddef.h>

#define HTTPREPLY_MAX_HEAD 8192      /* a longer head is refused */
#define HTTPREPLY_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* The length of the head in buf[0..len), through its blank line
 * ("\r\n\r\n"), or 0 while the blank line has not come. */
size_t httpreply_head_len(const char *buf, size_t len);

/* A CONNECT answer: 0 when its status is 200 (the tunnel is open), or
 * USBWS_ERR_HTTP_STATUS. */
int httpreply_connect(const char *head, size_t len);

/*
 * An upgrade answer: 0 when it is "HTTP/1.1 101", its Sec-WebSocket-Accept
 * is accept (base64 of SHA-1 of the key and HTTPREPLY_WS_GUID, the caller's
 * to compute) and its Sec-WebSocket-Protocol is subprotocol, exactly.
 * Else USBWS_ERR_HTTP_STATUS, USBWS_ERR_WS_ACCEPT or USBWS_ERR_WS_SUBPROTOCOL,
 * checked in that order.
 */
int httpreply_upgrade(const char *head, size_t len, const char *accept, const char *subprotocol);

/* The value of header name (case-insensitive) in the head, leading spaces
 * skipped, up to its line's end; the first of several wins.  NULL when
 * absent. */
const char *httpreply_header(const char *head, size_t len, const char *name, size_t *value_len);

#endif
