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
#include <time.h>

#include "base/buf.h"
#include "tunnel/wsframe.h"

struct wsclient;
struct ssl_ctx_st;

struct wsclient_config {
	const char *url;         /* wss://HOST[:PORT]/PATH */
	const char *cert, *key, *ca;
	const char *http_proxy;  /* http://[user:pass@]host:port or NULL */
	const char *subprotocol;
	int timeout_seconds;
	/* from wsclient_tls_load, used instead of reading cert, key and ca
	 * again at each connection; NULL: read them */
	struct ssl_ctx_st *tls;
};

/* Reads cfg's cert, key and ca once into a TLS context for every later
 * connection: a program that stops being root keeps its key without being
 * able to read the file.  Returns it (SSL_CTX_free), or NULL after logging
 * why. */
struct ssl_ctx_st *wsclient_tls_load(const struct wsclient_config *cfg);
void wsclient_tls_free(struct ssl_ctx_st *tls);

/* Connects and upgrades.  Returns NULL after logging one line that says
 * which step failed and why; *fatal then tells that trying again would fail
 * the same way (a certificate refused either way, a bad URL or file). */
struct wsclient *wsclient_open(const struct wsclient_config *cfg, int *fatal);
void wsclient_close(struct wsclient *c);
int wsclient_fd(const struct wsclient *c);
/* After wsclient_read returned 1: the status of the peer's close frame
 * (1000 for a normal close), or 0 when the connection just ended. */
int wsclient_close_code(const struct wsclient *c);

/* Queues one whole text frame (copied). */
int wsclient_send_text(struct wsclient *c, const char *text);

/* Queues a close frame: code, then reason cut to the 123 bytes a control
 * frame has room for.  The caller stops sending data after it. */
int wsclient_send_close(struct wsclient *c, uint16_t code, const char *reason);

/* Queues a ping; the peer's pong, like any other byte, moves last_rx. */
int wsclient_ping(struct wsclient *c);
/* monotonic_ms() of the last read that brought bytes. */
int64_t wsclient_last_rx_ms(const struct wsclient *c);

/*
 * Writes queued control frames, then binary frames of data (at most 256 KiB
 * each, masked into a frame buffer of its own: data is left as it was).
 * *taken says how much of data went into frames; a frame the socket has
 * only taken in part is finished first on the next call.  Returns 0, or -1
 * when the connection failed.
 */
int wsclient_send(struct wsclient *c, const uint8_t *data, size_t len, size_t *taken);

/* True while queued bytes wait for the socket. */
int wsclient_want_write(const struct wsclient *c);
/* Before closing: writes what is queued, waiting up to timeout_ms for a
 * socket that has no room (a close reason is worth a moment, not more). */
void wsclient_flush(struct wsclient *c, int timeout_ms);

/*
 * Reads what the socket has and parses it; calls on_event for every
 * event (DATA pointers are valid only during the call).  Pings are
 * answered.  Returns 0, 1 when the peer closed (reason in why), or -1 on
 * an error (logged).
 */
int wsclient_read(struct wsclient *c, int (*on_event)(void *ctx, const struct ws_event *ev), void *ctx,
		  char *why, size_t why_size);

#endif
