/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "wssteps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* a close reason must fit a control frame (125 bytes) with its code */
#define MAX_CLOSE_REASON 123

struct wsstep *wssteps_add(struct wssteps *ws, enum wsstep_kind kind)
{
	struct wsstep *s;

	if (ws->n == WSSTEPS_MAX) {
		fprintf(stderr, "%s: at most %d steps\n", ws->prog, WSSTEPS_MAX);
		exit(2);
	}
	s = &ws->steps[ws->n++];
	s->kind = kind;
	return s;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

void wsstep_set_hex(struct wsstep *s, const char *hex)
{
	int hi = -1, v;

	for (s->len = 0; *hex && s->len < WSSTEPS_MAX_FRAME; hex++) {
		v = hexval(*hex);
		if (v < 0)
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			s->data[LWS_PRE + s->len++] = (unsigned char)(hi << 4 | v);
			hi = -1;
		}
	}
}

void wsstep_set_text(struct wsstep *s, const char *text)
{
	size_t max = s->kind == WSSTEP_CLOSE ? MAX_CLOSE_REASON : WSSTEPS_MAX_FRAME;

	s->len = strlen(text) < max ? strlen(text) : max;
	memcpy(s->data + LWS_PRE, text, s->len);
}

int wssteps_option(struct wssteps *ws, const char *opt, const char *arg)
{
	if (!strcmp(opt, "--text"))
		wsstep_set_text(wssteps_add(ws, WSSTEP_TEXT), arg);
	else if (!strcmp(opt, "--close") || !strcmp(opt, "--fail")) {
		struct wsstep *s = wssteps_add(ws, WSSTEP_CLOSE);

		s->status = opt[2] == 'c' ? LWS_CLOSE_STATUS_NORMAL : LWS_CLOSE_STATUS_PROTOCOL_ERR;
		wsstep_set_text(s, arg);
	}
	else if (!strcmp(opt, "--hex"))
		wsstep_set_hex(wssteps_add(ws, WSSTEP_BINARY), arg);
	else if (!strcmp(opt, "--wait"))
		wssteps_add(ws, WSSTEP_WAIT)->wait_bytes = strtoul(arg, NULL, 0);
	else
		return 0;
	return 1;
}

int wssteps_run(struct wssteps *ws, struct lws *wsi)
{
	struct wsstep *s;

	if (ws->next == ws->n)
		return 0;
	s = &ws->steps[ws->next];
	switch (s->kind) {
	case WSSTEP_WAIT:
		if (ws->rx_total < s->wait_bytes)
			return 0;
		ws->next++;
		break;
	case WSSTEP_CLOSE:
		printf("closing: %.*s\n", (int)s->len, (char *)s->data + LWS_PRE);
		lws_close_reason(wsi, s->status, s->data + LWS_PRE, s->len);
		ws->we_closed = 1;
		ws->next++;
		return -1;
	default:
		lws_write(wsi, s->data + LWS_PRE, s->len,
			  s->kind == WSSTEP_BINARY ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
		ws->next++;
		break;
	}
	lws_callback_on_writable(wsi);
	return 0;
}

void wssteps_received(struct wssteps *ws, struct lws *wsi, const void *in, size_t len)
{
	if (!lws_frame_is_binary(wsi)) {
		printf("text: %.*s\n", (int)len, (const char *)in);
		return;
	}
	printf("binary: %zu bytes\n", len);
	if (ws->rx_total < WSSTEPS_MAX_DUMP)
		memcpy(ws->rx_dump + ws->rx_total, in,
		       len < WSSTEPS_MAX_DUMP - ws->rx_total ? len : WSSTEPS_MAX_DUMP - ws->rx_total);
	ws->rx_total += len;
	lws_callback_on_writable(wsi);
}

void wssteps_serve(struct wssteps *ws, struct lws_context *ctx, int timeout_s)
{
	time_t deadline = time(NULL) + timeout_s;
	size_t k;

	while (!ws->done && time(NULL) < deadline) {
		lws_service(ctx, 100);
		fflush(stdout);
	}
	if (!ws->done) {
		ws->timed_out = 1;
		printf("timed out with the connection open\n");
	}
	lws_context_destroy(ctx);
	printf("binary in (%zu bytes): ", ws->rx_total);
	for (k = 0; k < ws->rx_total && k < WSSTEPS_MAX_DUMP; k++)
		printf("%02x", ws->rx_dump[k]);
	printf("\n");
	fflush(stdout);
}
