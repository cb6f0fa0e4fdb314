/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A hostile or broken node for tests: connects like usbws connect (WSS,
 * client certificate), runs the steps it is given in order, and prints
 * what comes back: text frames as "text: ...", binary frames as
 * "binary: N bytes", the close as "closed: ...", then "connection closed"
 * and, last, the binary bytes received as "binary in (N bytes): HEX"
 * (the first 1 KiB of them).
 *   wspeer --url URL --cert F --key F --ca F [--protocol P] [--timeout S] STEP...
 * Steps (tests/wssteps.h): --text JSON, --hex BYTES, --wait N (until N
 * binary bytes in all have come from the proxy, to answer a command an
 * importer really sent), --close REASON, --fail REASON.
 * Exits 0 when the connection was closed (by either side), 1 on a
 * connection error, 2 on a timeout (5 s unless --timeout) with the
 * connection still open.
 */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wssteps.h"

static struct wssteps script = { .prog = "wspeer" };
static int result = 2;

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	(void)user;
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
		{ "usbws.v1", callback, 0, 65536, 0, NULL, 0 },
		{ NULL, NULL, 0, 0, 0, NULL, 0 },
	};
	struct lws_context_creation_info info;
	struct lws_client_connect_info ci;
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
	lws_client_connect_via_info(&ci);
	wssteps_serve(&script, ctx, timeout);
	return result;
}
