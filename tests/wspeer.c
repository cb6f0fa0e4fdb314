/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A hostile or broken node for tests: connects like usbws connect (WSS,
 * client certificate), runs the steps it is given in order, and prints
 * what comes back: text frames as "text: ...", binary frames as
 * "binary: N bytes", the close as "closed: ...", then "connection closed"
 * and, last, the binary bytes received as "binary in (N bytes): HEX"
 * (the first 1 KiB of them).
 *   wspeer --url URL --cert F --key F --ca F [--protocol P] [--timeout S]
 *          [--header 'Name: value']... STEP...
 * --header adds a line to the upgrade request (at most 4), as a node that
 * tries to name itself through a balancer would.
 * Steps (tests/wssteps.h): --text JSON, --hex BYTES, --wait N (until N
 * binary bytes in all have come from the proxy, to answer a command an
 * importer really sent), --close REASON, --fail REASON.
 * Exits 0 when the connection was closed (by either side), 1 on a
 * connection error, 2 on a timeout (5 s unless --timeout) with the
 * connection still open.
 *
 * --connections N (given before the steps) makes it a load: N connections
 * at once, each sending the --text and --hex steps in order (--wait and
 * --close do not apply), held open until --timeout.  It prints the first
 * error message that comes back, "all N welcomed" once each has had its
 * welcome, and at the end "connections: N, established E, failed F,
 * welcomed W, refused R, closed C"; it exits 0 when all N were welcomed.
 * One process stands in for a fleet of devices behind one certificate;
 * it keeps at most 16 handshakes under way.  Connection N (from 1) sends
 * an OP_REQ_EXPORT with busid 1-N whatever the script says: the proxy keeps
 * one connection per identity and busid, and one node's devices differ in
 * their busids.
 */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wssteps.h"

static struct wssteps script = { .prog = "wspeer" };
static int result = 2;

/* --connections: each connection's place in the script, and the tally */
struct peer {
	int next;
	int number;   /* from 1, in the order connections were established */
};
static int connections = 1, started, established, failed, welcomed, refused, closed;
static const char *headers[4];
static int nheaders;
static struct lws_client_connect_info ci;

/* A few handshakes at a time, as a fleet's would arrive: a thousand at once
 * would time out in the listen backlog rather than test the proxy. */
#define LOAD_HANDSHAKES 16

static void start_more(void)
{
	while (started < connections && started - established - failed < LOAD_HANDSHAKES) {
		started++;
		lws_client_connect_via_info(&ci);
	}
}

static int contains(const void *in, size_t len, const char *what)
{
	return memmem(in, len, what, strlen(what)) != NULL;
}

static int load_callback(struct lws *wsi, enum lws_callback_reasons reason, struct peer *pe, void *in, size_t len)
{
	static unsigned char frame[LWS_PRE + WSSTEPS_MAX_FRAME];
	struct wsstep *s;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		printf("connection error: %s\n", in ? (char *)in : "?");
		failed++;
		start_more();
		if (++closed == connections)
			script.done = 1;
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (++closed == connections)
			script.done = 1;
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		pe->number = ++established;
		start_more();
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		while (pe->next < script.n && script.steps[pe->next].kind != WSSTEP_TEXT &&
		       script.steps[pe->next].kind != WSSTEP_BINARY)
			pe->next++;
		if (pe->next == script.n)
			return 0;
		s = &script.steps[pe->next++];
		/* lws masks a client's payload in place: the script stays as it was */
		memcpy(frame + LWS_PRE, s->data + LWS_PRE, s->len);
		/* OP_REQ_EXPORT: op_common (8), then path[256] and busid[32] */
		if (s->kind == WSSTEP_BINARY && s->len >= 8 + 256 + 32 && frame[LWS_PRE + 2] == 0x80 &&
		    frame[LWS_PRE + 3] == 0x06) {
			memset(frame + LWS_PRE + 8 + 256, 0, 32);
			snprintf((char *)frame + LWS_PRE + 8 + 256, 32, "1-%d", pe->number);
		}
		lws_write(wsi, frame + LWS_PRE, s->len, s->kind == WSSTEP_BINARY ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (lws_frame_is_binary(wsi))
			return 0;
		if (contains(in, len, "\"type\":\"welcome\"") && ++welcomed == connections)
			printf("all %d welcomed\n", connections);
		if (contains(in, len, "\"type\":\"error\"") && !refused++)
			printf("text: %.*s\n", (int)len, (const char *)in);
		return 0;
	default:
		return 0;
	}
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	if (reason == LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER) {
		char **p = in;
		int i, n;

		for (i = 0; i < nheaders; i++) {
			n = snprintf(*p, len, "%s\r\n", headers[i]);
			if (n < 0 || (size_t)n >= len)
				return -1;
			*p += n;
			len -= (size_t)n;
		}
		return 0;
	}
	if (connections > 1)
		return load_callback(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		printf("connection error: %s\n", in ? (char *)in : "?");
		result = 1;
		script.done = 1;
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return wssteps_run(&script, wsi);
	case LWS_CALLBACK_CLIENT_RECEIVE:
		wssteps_received(&script, wsi, in, len);
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		printf("closed: %.*s\n", len > 2 ? (int)len - 2 : 0, len > 2 ? (char *)in + 2 : "");
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		/* a close of our own making, at the timeout, is no result */
		if (script.timed_out)
			return 0;
		printf("connection closed\n");
		result = 0;
		script.done = 1;
		return 0;
	default:
		return 0;
	}
}

int main(int argc, char **argv)
{
	static const struct lws_protocols protocols[] = {
		{ "usbws.v1", callback, sizeof(struct peer), 65536, 0, NULL, 0 },
		{ NULL, NULL, 0, 0, 0, NULL, 0 },
	};
	struct lws_context_creation_info info;
	const char *url = NULL, *cert = NULL, *key = NULL, *ca = NULL, *scheme, *address, *path;
	const char *subprotocol = "usbws.v1";
	char pathbuf[256];
	struct lws_context *ctx;
	char urlbuf[512];
	int i, port, timeout = 5;

	for (i = 1; i + 1 < argc; i += 2) {
		const char *arg = argv[i + 1];

		if (!strcmp(argv[i], "--url")) url = arg;
		else if (!strcmp(argv[i], "--cert")) cert = arg;
		else if (!strcmp(argv[i], "--key")) key = arg;
		else if (!strcmp(argv[i], "--ca")) ca = arg;
		else if (!strcmp(argv[i], "--protocol")) subprotocol = arg;
		else if (!strcmp(argv[i], "--timeout")) timeout = atoi(arg);
		else if (!strcmp(argv[i], "--connections")) connections = atoi(arg) > 1 ? atoi(arg) : 1;
		else if (!strcmp(argv[i], "--header") && nheaders < 4)
			headers[nheaders++] = arg;
		else
			wssteps_option(&script, argv[i], arg);
	}
	if (!url || !cert || !key || !ca) {
		fprintf(stderr, "usage: wspeer --url URL --cert F --key F --ca F [--timeout S] "
				"[--text S | --hex H | --wait N | --close REASON | --fail REASON]...\n");
		return 2;
	}
	lws_set_log_level(0, NULL);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
	info.client_ssl_cert_filepath = cert;
	info.client_ssl_private_key_filepath = key;
	info.client_ssl_ca_filepath = ca;
	ctx = lws_create_context(&info);
	snprintf(urlbuf, sizeof(urlbuf), "%s", url);
	if (!ctx || lws_parse_uri(urlbuf, &scheme, &address, &port, &path))
		return 2;
	memset(&ci, 0, sizeof(ci));
	ci.context = ctx;
	ci.address = address;
	ci.port = port;
	/* lws_parse_uri drops the leading slash */
	snprintf(pathbuf, sizeof(pathbuf), "/%s", path);
	ci.path = pathbuf;
	ci.host = address;
	ci.origin = address;
	ci.ssl_connection = LCCSCF_USE_SSL;
	ci.protocol = subprotocol;
	if (connections > 1)
		start_more();
	else
		lws_client_connect_via_info(&ci);
	wssteps_serve(&script, ctx, timeout);
	if (connections > 1) {
		printf("connections: %d, established %d, failed %d, welcomed %d, refused %d, closed %d\n",
		       connections, established, failed, welcomed, refused, closed);
		return welcomed == connections ? 0 : 2;
	}
	return result;
}
