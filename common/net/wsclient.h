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

/*
 * The failures below come with a sentence in why that says which step
 * failed and why, for one log line; USBWS_ERR_INTERRUPTED means a stop
 * signal cut a blocking call short, which is news rather than an error.
 * A few hundred bytes of why is enough, unless a peer's answer is long.
 */

/* Reads cfg's cert, key and ca once into a TLS context for every later
 * connection: a program that stops being root keeps its key without being
 * able to read the file.  Returns 0 with *out (SSL_CTX_free), or a
 * negative enum usbws_err with why filled. */
int wsclient_tls_load(const struct wsclient_config *cfg, struct ssl_ctx_st **out, char *why, size_t why_cap);
void wsclient_tls_free(struct ssl_ctx_st *tls);

/* Connects and upgrades.  Returns 0 with *out, or a negative enum
 * usbws_err with why filled; *fatal then tells that trying again would
 * fail the same way (a certificate refused either way, a bad URL or
 * file). */
int wsclient_open(const struct wsclient_config *cfg, struct wsclient **out, int *fatal, char *why, size_t why_cap);
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
 * only taken in part is finished first on the next call.  Returns 0, or a
 * negative enum usbws_err with why filled when the connection failed.
 */
int wsclient_send(struct wsclient *c, const uint8_t *data, size_t len, size_t *taken, char *why, size_t why_cap);

/* True while queued bytes wait for the socket. */
int wsclient_want_write(const struct wsclient *c);
/* Before closing: writes what is queued, waiting up to timeout_ms for a
 * socket that has no room (a close reason is worth a moment, not more).
 * Returns 0, also when the time ran out, or wsclient_send's failure. */
int wsclient_flush(struct wsclient *c, int timeout_ms, char *why, size_t why_cap);

/*
 * Reads what the socket has and parses it; calls on_event for every
 * event (DATA pointers are valid only during the call), which returns 0
 * to go on or non-zero to stop there.  Pings are answered.  Returns 0 when
 * there is nothing to read now, 1 when the peer closed (reason in why), 2
 * when it read and there may be more, 3 when on_event stopped it (what
 * it read past that event is kept for the next call), or a negative enum
 * usbws_err with why filled.
 */
int wsclient_read(struct wsclient *c, int (*on_event)(void *ctx, const struct ws_event *ev), void *ctx,
		  char *why, size_t why_cap);

#endif
