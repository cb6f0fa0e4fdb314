/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A hostile or broken proxy for tests: serves WSS with a client
 * certificate required (like usbws-proxy), accepts one `usbws connect`,
 * waits for its hello and OP_REQ_EXPORT, answers the welcome and
 * OP_REP_EXPORT (status 0), then runs the steps it is given, in order.
 * With --as lister it takes a `usbws list --remote` instead, and runs the
 * steps at once (a --text step is its answer).
 *   fakeproxy --cert F --key F --ca F [--as exporter|lister] [--busid B] [--rep HEX] [--timeout S] STEP...
 * Steps (tests/wssteps.h): --text JSON, --hex BYTES, --wait N (until N binary
 * bytes in all, the export request's 320 included, have come from the
 * node), --close REASON, --fail REASON.  --rep replaces the OP_REP_EXPORT bytes.
 * It prints "listening on port N" first, then what the node sends: text
 * frames as "text: ...", binary frames as "binary: N bytes", and how the
 * connection ended: "closed by the node: CODE REASON" when a close frame
 * came, "closed without a close frame" when it did not, then
 * "connection closed" and the binary bytes received as
 * "binary in (N bytes): HEX" (the first 1 KiB of them).
 * Exits 0 when the connection was closed, 2 on a timeout (10 s unless
 * --timeout).
 */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wssteps.h"

/* op_common and usbip_usb_device: what the node sends before anything else */
#define EXPORT_REQUEST_SIZE 320

static struct wssteps script = { .prog = "fakeproxy" };
static int connected, close_seen, lister, result = 2;
static const char *busid = "1-1";

/* The welcome names the node by its certificate, as usbws-proxy does. */
static void fill_welcome(struct lws *wsi, struct wsstep *s)
{
	char big[sizeof(union lws_tls_cert_info_results) + 128], node[128] = "(no CN)", json[512];
	union lws_tls_cert_info_results *ci = (union lws_tls_cert_info_results *)big;

	if (lws_tls_peer_cert_info(wsi, LWS_TLS_CERT_INFO_COMMON_NAME, ci, sizeof(big) - sizeof(*ci) +
				   sizeof(ci->ns.name)) == 0 && ci->ns.len > 0)
		snprintf(node, sizeof(node), "%.*s", ci->ns.len, ci->ns.name);
	printf("node %s connected\n", node);
	snprintf(json, sizeof(json), "{\"type\":\"welcome\",\"version\":1,\"node\":\"%s\",\"busid\":\"%s\"}", node,
		 busid);
	wsstep_set_text(s, json);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		/* one node per run: a second one is a test's mistake */
		if (connected)
			return -1;
		connected = 1;
		if (!lister)
			fill_welcome(wsi, &script.steps[1]);
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return wssteps_run(&script, wsi);
	case LWS_CALLBACK_RECEIVE:
		wssteps_received(&script, wsi, in, len);
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		close_seen = 1;
		printf("closed by the node: %u %.*s\n", len >= 2 ? ((unsigned char *)in)[0] << 8 | ((unsigned char *)in)[1] : 0,
		       len > 2 ? (int)len - 2 : 0, len > 2 ? (char *)in + 2 : "");
		return 0;
	case LWS_CALLBACK_CLOSED:
		/* a close of our own making, at the timeout, is no result */
		if (script.timed_out)
			return 0;
		if (!close_seen && !script.we_closed)
			printf("closed without a close frame\n");
		printf("connection closed\n");
		result = 0;
		script.done = 1;
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

int main(int argc, char **argv)
{
	static const struct lws_protocols protocols[] = {
		{ "usbws.v1", callback, 0, 65536, 0, NULL, 0 },
		{ NULL, NULL, 0, 0, 0, NULL, 0 },
	};
	struct lws_context_creation_info info;
	const char *cert = NULL, *key = NULL, *ca = NULL, *rep = "0111 0006 00000000";
	struct lws_context *ctx;
	int i, timeout = 10;

	for (i = 1; i + 1 < argc; i += 2)
		if (!strcmp(argv[i], "--as"))
			lister = !strcmp(argv[i + 1], "lister");
	/* the export handshake, then the test's own steps */
	if (!lister) {
		wssteps_add(&script, WSSTEP_WAIT)->wait_bytes = EXPORT_REQUEST_SIZE;
		wssteps_add(&script, WSSTEP_TEXT);   /* the welcome, once the node's CN is known */
		wssteps_add(&script, WSSTEP_BINARY); /* OP_REP_EXPORT */
	}
	for (i = 1; i + 1 < argc; i += 2) {
		const char *arg = argv[i + 1];

		if (!strcmp(argv[i], "--as"))
			continue;
		else if (!strcmp(argv[i], "--cert"))
			cert = arg;
		else if (!strcmp(argv[i], "--key")) key = arg;
		else if (!strcmp(argv[i], "--ca")) ca = arg;
		else if (!strcmp(argv[i], "--busid")) busid = arg;
		else if (!strcmp(argv[i], "--rep")) rep = arg;
		else if (!strcmp(argv[i], "--timeout")) timeout = atoi(arg);
		else
			wssteps_option(&script, argv[i], arg);
	}
	if (!lister)
		wsstep_set_hex(&script.steps[2], rep);
	if (!cert || !key || !ca) {
		fprintf(stderr,
			"usage: fakeproxy --cert F --key F --ca F [--as exporter|lister] [--busid B] [--rep HEX] [--timeout S] "
			"[--text S | --hex H | --wait N | --close REASON | --fail REASON]...\n");
		return 2;
	}
	lws_set_log_level(0, NULL);
	memset(&info, 0, sizeof(info));
	info.port = 0;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.ssl_cert_filepath = cert;
	info.ssl_private_key_filepath = key;
	info.ssl_ca_filepath = ca;
	/* mutual TLS, as usbws-proxy: the node must present its certificate */
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT |
		       LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
	ctx = lws_create_context(&info);
	if (!ctx) {
		fprintf(stderr, "fakeproxy: cannot serve WSS (check --cert, --key, --ca)\n");
		return 2;
	}
	printf("listening on port %d\n", lws_get_vhost_listen_port(lws_get_vhost_by_name(ctx, "default")));
	fflush(stdout);
	wssteps_serve(&script, ctx, timeout);
	return result;
}
