/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A hostile or broken node for tests: connects like usbws connect (WSS,
 * client certificate), runs the steps it is given in order, and prints
 * what comes back: text frames as "text: ...", binary frames as
 * "binary: N bytes", the close as "closed: ...", then "connection closed"
 * and, last, the binary bytes received as "binary in (N bytes): HEX"
 * (the first 1 KiB of them).
 *   wspeer --url URL --cert F --key F --ca F [--protocol P] [--timeout S] STEP...
 * Steps:
 *   --text JSON     a text frame
 *   --hex BYTES     a binary frame; anything but hex digits is skipped, so
 *                   fields may be spaced out
 *   --wait N        wait until N binary bytes in all have come from the
 *                   proxy (to answer a command an importer really sent)
 *   --close REASON  close cleanly (1000) with REASON
 * Exits 0 when the connection was closed (by either side), 1 on a
 * connection error, 2 on a timeout (5 s unless --timeout) with the
 * connection still open.
 */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_STEPS 16
#define MAX_FRAME 4096
/* the echo printed at the end; tests look at headers, not bulk data */
#define MAX_DUMP 1024

enum step_kind { STEP_TEXT, STEP_BINARY, STEP_WAIT, STEP_CLOSE };

struct step {
	enum step_kind kind;
	size_t len;
	size_t wait_bytes;
	unsigned char data[LWS_PRE + MAX_FRAME];
};

static struct step steps[MAX_STEPS];
static int nsteps, next_step, done, timed_out, result = 2;
static size_t rx_total;
static unsigned char rx_dump[MAX_DUMP];

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

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

/* Runs steps until one has to wait: for the socket, or for the proxy's bytes. */
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
	(void)user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		printf("connection error: %s\n", in ? (char *)in : "?");
		result = 1;
		done = 1;
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return run_steps(wsi);
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (!lws_frame_is_binary(wsi)) {
			printf("text: %.*s\n", (int)len, (char *)in);
			return 0;
		}
		printf("binary: %zu bytes\n", len);
		if (rx_total < MAX_DUMP)
			memcpy(rx_dump + rx_total, in, len < MAX_DUMP - rx_total ? len : MAX_DUMP - rx_total);
		rx_total += len;
		/* a waiting step may go on now */
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		printf("closed: %.*s\n", len > 2 ? (int)len - 2 : 0, len > 2 ? (char *)in + 2 : "");
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		/* a close of our own making, at the timeout, is no result */
		if (timed_out)
			return 0;
		printf("connection closed\n");
		result = 0;
		done = 1;
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
	time_t deadline;
	int i, port, timeout = 5;
	size_t k;

	for (i = 1; i + 1 < argc; i += 2) {
		const char *arg = argv[i + 1];
		struct step *s = &steps[nsteps];

		if (!strcmp(argv[i], "--url")) url = arg;
		else if (!strcmp(argv[i], "--cert")) cert = arg;
		else if (!strcmp(argv[i], "--key")) key = arg;
		else if (!strcmp(argv[i], "--ca")) ca = arg;
		else if (!strcmp(argv[i], "--protocol")) subprotocol = arg;
		else if (!strcmp(argv[i], "--timeout")) timeout = atoi(arg);
		else if (nsteps == MAX_STEPS) {
			fprintf(stderr, "wspeer: at most %d steps\n", MAX_STEPS);
			return 2;
		} else if (!strcmp(argv[i], "--text") || !strcmp(argv[i], "--close")) {
			s->kind = argv[i][2] == 't' ? STEP_TEXT : STEP_CLOSE;
			s->len = strlen(arg) < MAX_FRAME ? strlen(arg) : MAX_FRAME;
			/* a close reason must fit a control frame with its code */
			if (s->kind == STEP_CLOSE && s->len > 123)
				s->len = 123;
			memcpy(s->data + LWS_PRE, arg, s->len);
			nsteps++;
		} else if (!strcmp(argv[i], "--hex")) {
			s->kind = STEP_BINARY;
			s->len = parse_hex(s->data + LWS_PRE, arg);
			nsteps++;
		} else if (!strcmp(argv[i], "--wait")) {
			s->kind = STEP_WAIT;
			s->wait_bytes = strtoul(arg, NULL, 0);
			nsteps++;
		}
	}
	if (!url || !cert || !key || !ca) {
		fprintf(stderr, "usage: wspeer --url URL --cert F --key F --ca F [--timeout S] "
				"[--text S | --hex H | --wait N | --close REASON]...\n");
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
	deadline = time(NULL) + timeout;
	while (!done && time(NULL) < deadline)
		lws_service(ctx, 100);
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
