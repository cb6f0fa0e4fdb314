/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_WSCLIENT_H
#define USBWS_WSCLIENT_H

/*
 * The node's WebSocket client: TCP (optionally through an HTTP CONNECT
 * proxy), TLS with a client certificate, the RFC 6455 upgrade, then frames
 * through wsframe.  Setup is blocking and bounded by a deadline; after it
 * the socket is non-blocking and the caller polls wsclient_fd().
 */

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "wsframe.h"

struct wsclient;

struct wsclient_config {
	const char *url;         /* wss://HOST[:PORT]/PATH */
	const char *cert, *key, *ca;
	const char *http_proxy;  /* http://[user:pass@]host:port or NULL */
	const char *subprotocol;
	int timeout_seconds;
};

/* Connects and upgrades.  Returns NULL after logging one line that says
 * which step failed and why. */
struct wsclient *wsclient_open(const struct wsclient_config *cfg);
void wsclient_close(struct wsclient *c);
int wsclient_fd(const struct wsclient *c);

/* Queues one whole text frame (copied). */
int wsclient_send_text(struct wsclient *c, const char *text);

/*
 * Sends binary frames straight from src (at most 64 KiB per frame), which
 * must have WS_MAX_HEADER bytes of headroom: the header is written there
 * and the payload masked in place.  Bytes leave src as they are written.
 * Returns 0, or -1 when the connection failed.
 */
int wsclient_flush(struct wsclient *c, struct buf *src);

/* True while queued bytes wait for the socket. */
int wsclient_want_write(const struct wsclient *c);

/*
 * Reads what the socket has and parses it; calls on_event for every
 * event (DATA pointers are valid only during the call).  Pings are
 * answered.  Returns 0, 1 when the peer closed (reason in why), or -1 on
 * an error (logged).
 */
int wsclient_read(struct wsclient *c, int (*on_event)(void *ctx, const struct ws_event *ev), void *ctx,
		  char *why, size_t why_size);

#endif
