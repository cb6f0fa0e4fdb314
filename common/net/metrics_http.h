/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_METRICS_HTTP_H
#define USBWS_METRICS_HTTP_H

/*
 * /metrics over plain HTTP, as Prometheus scrapes it: a vhost of its own,
 * listening on exactly the address given, added to a libwebsockets
 * context, which does all of the HTTP.  Every other path is 404.  Each
 * scrape asks render() for the whole answer, which is sent from one
 * bounded buffer; more than METRICS_HTTP_MAX_CLIENTS scrapes at once get
 * 503.  Everything runs on the thread that services the context.
 */
#include <libwebsockets.h>
#include <stddef.h>

#include "base/buf.h"

#define METRICS_HTTP_MAX_CLIENTS 4
/* A scrape's answer; at 64 bytes a series, room for 250,000 of them */
#define METRICS_HTTP_MAX_BODY (16u << 20)

/* Fills out (empty, headroom LWS_PRE, limit METRICS_HTTP_MAX_BODY) with
 * the exposition; 0, or a code (the scrape gets 500). */
typedef int (*metrics_http_render_fn)(void *ctx, struct buf *out);

struct metrics_http {
	struct lws_protocols protocols[2]; /* the vhost's, which lws keeps a pointer to */
	metrics_http_render_fn render;
	void *render_ctx;
	struct lws_vhost *vh;
	unsigned int clients;
	unsigned long scrapes;
};

/* Checks spec (ADDR:PORT, a numeric address and a port from 1), binds it
 * once to say clearly why it cannot be had, then adds the vhost to ctx.
 * Returns 0 or a code, with why filled. */
int metrics_http_listen(struct metrics_http *m, struct lws_context *ctx, const char *spec,
			metrics_http_render_fn render, void *render_ctx, char *why, size_t why_cap);

#endif
