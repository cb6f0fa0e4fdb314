/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A hostile or broken proxy for tests: serves WSS with a client
 * certificate required (like usbws-proxy), accepts one `usbws connect`,
 * waits for its hello and OP_REQ_EXPORT, answers the welcome and
 * OP_REP_EXPORT (status 0), then runs the steps it is given, in order.
 *   fakeproxy --cert F --key F --ca F [--busid B] [--rep HEX] [--timeout S] STEP...
 * Steps are wspeer's: --text JSON, --hex BYTES, --wait N (until N binary
 * bytes in all, the export request's 320 included, have come from the
 * node), --close REASON.  --rep replaces the OP_REP_EXPORT bytes.
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
#include <time.h>

#define MAX_STEPS 20
#define MAX_FRAME 4096
#define MAX_DUMP 1024
/* op_common and usbip_usb_device: what the node sends before anything else */
#define EXPORT_REQUEST_SIZE 320

enum step_kind { STEP_TEXT, STEP_BINARY, STEP_WAIT, STEP_CLOSE };

struct step {
	enum step_kind kind;
	size_t len;
	size_t wait_bytes;
	unsigned char data[LWS_PRE + MAX_FRAME];
};

static struct step steps[MAX_STEPS];
static int nsteps, next_step, done, timed_out, connected, close_seen, we_closed, result = 2;
static const char *busid = "1-1";
static size_t rx_total;
static unsigned char rx_dump[MAX_DUMP];

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Anything but hex digits is skipped, so fields may be spaced out. */
static size_t parse_hex(unsigned char *out, const char *s)
{
	size_t n = 0;
	int hi = -1, v;

	for (; *s && n < MAX_FRAME; s++) {
		v = hexval(*s);
		if (v < 0)
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			out[n++] = (unsigned char)(hi << 4 | v);
			hi = -1;
		}
	}
	return n;
}

static struct step *add_step(enum step_kind kind)
{
	struct step *s;

	if (nsteps == MAX_STEPS) {
		fprintf(stderr, "fakeproxy: at most %d steps\n", MAX_STEPS);
		exit(2);
	}
	s = &steps[nsteps++];
	s->kind = kind;
	return s;
}

static void set_text(struct step *s, const char *text, size_t max)
{
	s->len = strlen(text) < max ? strlen(text) : max;
	memcpy(s->data + LWS_PRE, text, s->len);
}

/* The welcome names the node by its certificate, as usbws-proxy does. */
static void fill_welcome(struct lws *wsi, struct step *s)
{
	char big[sizeof(union lws_tls_cert_info_results) + 128], node[128] = "(no CN)", json[512];
	union lws_tls_cert_info_results *ci = (union lws_tls_cert_info_results *)big;

	if (lws_tls_peer_cert_info(wsi, LWS_TLS_CERT_INFO_COMMON_NAME, ci, sizeof(big) - sizeof(*ci) +
				   sizeof(ci->ns.name)) == 0 && ci->ns.len > 0)
		snprintf(node, sizeof(node), "%.*s", ci->ns.len, ci->ns.name);
	printf("node %s connected\n", node);
	snprintf(json, sizeof(json), "{\"type\":\"welcome\",\"version\":1,\"node\":\"%s\",\"busid\":\"%s\"}", node,
		 busid);
	set_text(s, json, MAX_FRAME);
}

/* Runs steps until one has to wait: for the socket, or for the node's bytes. */
static int run_steps(struct lws *wsi)
{
	struct step *s;

	if (next_step == nsteps)
		return 0;
	s = &steps[next_step];
	switch (s->kind) {
	case STEP_WAIT:
		if (rx_total < s->wait_bytes)
			return 0;
		next_step++;
		break;
	case STEP_CLOSE:
		printf("closing: %.*s\n", (int)s->len, (char *)s->data + LWS_PRE);
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, s->data + LWS_PRE, s->len);
		we_closed = 1;
		next_step++;
		return -1;
	default:
		lws_write(wsi, s->data + LWS_PRE, s->len, s->kind == STEP_BINARY ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
		next_step++;
		break;
	}
	lws_callback_on_writable(wsi);
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		/* one node per run: a second one is a test's mistake */
		if (connected)
			return -1;
		connected = 1;
		fill_welcome(wsi, &steps[1]);
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return run_steps(wsi);
	case LWS_CALLBACK_RECEIVE:
		if (!lws_frame_is_binary(wsi)) {
			printf("text: %.*s\n", (int)len, (char *)in);
			return 0;
		}
		printf("binary: %zu bytes\n", len);
		if (rx_total < MAX_DUMP)
			memcpy(rx_dump + rx_total, in, len < MAX_DUMP - rx_total ? len : MAX_DUMP - rx_total);
		rx_total += len;
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		close_seen = 1;
		printf("closed by the node: %u %.*s\n", len >= 2 ? ((unsigned char *)in)[0] << 8 | ((unsigned char *)in)[1] : 0,
		       len > 2 ? (int)len - 2 : 0, len > 2 ? (char *)in + 2 : "");
		return 0;
	case LWS_CALLBACK_CLOSED:
		/* a close of our own making, at the timeout, is no result */
		if (timed_out)
			return 0;
		if (!close_seen && !we_closed)
			printf("closed without a close frame\n");
		printf("connection closed\n");
		result = 0;
		done = 1;
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
	time_t deadline;
	int i, timeout = 10;
	size_t k;

	/* the export handshake, then the test's own steps */
	add_step(STEP_WAIT)->wait_bytes = EXPORT_REQUEST_SIZE;
	add_step(STEP_TEXT);             /* the welcome, once the node's CN is known */
	add_step(STEP_BINARY);           /* OP_REP_EXPORT */
	for (i = 1; i + 1 < argc; i += 2) {
		const char *arg = argv[i + 1];

		if (!strcmp(argv[i], "--cert")) cert = arg;
		else if (!strcmp(argv[i], "--key")) key = arg;
		else if (!strcmp(argv[i], "--ca")) ca = arg;
		else if (!strcmp(argv[i], "--busid")) busid = arg;
		else if (!strcmp(argv[i], "--rep")) rep = arg;
		else if (!strcmp(argv[i], "--timeout")) timeout = atoi(arg);
		else if (!strcmp(argv[i], "--text")) set_text(add_step(STEP_TEXT), arg, MAX_FRAME);
		/* a close reason must fit a control frame with its code */
		else if (!strcmp(argv[i], "--close")) set_text(add_step(STEP_CLOSE), arg, 123);
		else if (!strcmp(argv[i], "--wait")) add_step(STEP_WAIT)->wait_bytes = strtoul(arg, NULL, 0);
		else if (!strcmp(argv[i], "--hex")) {
			struct step *s = add_step(STEP_BINARY);

			s->len = parse_hex(s->data + LWS_PRE, arg);
		}
	}
	steps[2].len = parse_hex(steps[2].data + LWS_PRE, rep);
	if (!cert || !key || !ca) {
		fprintf(stderr, "usage: fakeproxy --cert F --key F --ca F [--busid B] [--rep HEX] [--timeout S] "
				"[--text S | --hex H | --wait N | --close REASON]...\n");
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
	deadline = time(NULL) + timeout;
	while (!done && time(NULL) < deadline) {
		lws_service(ctx, 100);
		fflush(stdout);
	}
	if (!done) {
		timed_out = 1;
		printf("timed out with the connection open\n");
	}
	lws_context_destroy(ctx);
	printf("binary in (%zu bytes): ", rx_total);
	for (k = 0; k < rx_total && k < MAX_DUMP; k++)
		printf("%02x", rx_dump[k]);
	printf("\n");
	fflush(stdout);
	return result;
}
