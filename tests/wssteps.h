/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_TESTS_WSSTEPS_H
#define USBWS_TESTS_WSSTEPS_H
/*
 * The scripted side of the test peers tests/wspeer (a fake node) and
 * tests/fakeproxy (a fake proxy): the steps a test gives on the command
 * line, run in order from the writable callback, and what came back.
 * Steps:
 *   --text JSON     a text frame
 *   --hex BYTES     a binary frame; anything but hex digits is skipped, so
 *                   fields may be spaced out
 *   --wait N        wait until N binary bytes in all have come from the
 *                   peer (to answer a command it really sent)
 *   --close REASON  close cleanly (1000) with REASON
 *   --fail REASON   close as on a protocol error (1002) with REASON
 */
#include <libwebsockets.h>
#include <stddef.h>

#define WSSTEPS_MAX 20
#define WSSTEPS_MAX_FRAME 4096
/* the echo printed at the end; tests look at headers, not bulk data */
#define WSSTEPS_MAX_DUMP 1024

enum wsstep_kind { WSSTEP_TEXT, WSSTEP_BINARY, WSSTEP_WAIT, WSSTEP_CLOSE };

struct wsstep {
	enum wsstep_kind kind;
	size_t len;
	size_t wait_bytes;
	enum lws_close_status status; /* of a close */
	unsigned char data[LWS_PRE + WSSTEPS_MAX_FRAME];
};

struct wssteps {
	const char *prog; /* for messages */
	struct wsstep steps[WSSTEPS_MAX];
	int n, next;
	int we_closed;
	int done;      /* the connection ended (or could not be made) */
	int timed_out; /* the time ran out first; its close is no result */
	size_t rx_total;
	unsigned char rx_dump[WSSTEPS_MAX_DUMP];
};

/* Appends a step; a script longer than WSSTEPS_MAX exits with status 2. */
struct wsstep *wssteps_add(struct wssteps *ws, enum wsstep_kind kind);
/* Takes --text/--hex/--wait/--close/--fail ARG as a step: 1, or 0 for another option. */
int wssteps_option(struct wssteps *ws, const char *opt, const char *arg);
/* Sets a binary step's bytes from hex, a text step's from text. */
void wsstep_set_hex(struct wsstep *s, const char *hex);
void wsstep_set_text(struct wsstep *s, const char *text);

/* For the writable callback: runs steps until one has to wait, for the
 * socket or for the peer's bytes; -1 once a close step ran. */
int wssteps_run(struct wssteps *ws, struct lws *wsi);
/* For the receive callback: prints the frame as "text: ..." or "binary: N
 * bytes", records binary bytes, and lets a waiting step go on. */
void wssteps_received(struct wssteps *ws, struct lws *wsi, const void *in, size_t len);
/* Services ctx until ws->done or timeout_s seconds, then destroys it and
 * prints "binary in (N bytes): HEX", the first WSSTEPS_MAX_DUMP of them
 * (after "timed out with the connection open" when the time ran out). */
void wssteps_serve(struct wssteps *ws, struct lws_context *ctx, int timeout_s);

#endif
