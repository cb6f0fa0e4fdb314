/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A hostile or broken node for tests: connects like usbws connect (WSS,
 * client certificate), sends the frames it is given in order, and prints
 * what comes back: text frames as "text: ...", the close as "closed: ...".
 *   wspeer --url URL --cert F --key F --ca F [--protocol P] [--text JSON | --hex BYTES]...
 * Exits 0 when the proxy closed the connection, 1 on a connection error,
 * 2 on a timeout (5 s) with the connection still open.
 */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_FRAMES 16

struct frame {
	int binary;
	size_t len;
	unsigned char data[LWS_PRE + 4096];
};

static struct frame frames[MAX_FRAMES];
static int nframes, sent, done, result = 2;

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
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
		if (sent < nframes) {
			struct frame *f = &frames[sent++];

			lws_write(wsi, f->data + LWS_PRE, f->len, f->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
			lws_callback_on_writable(wsi);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (!lws_frame_is_binary(wsi))
			printf("text: %.*s\n", (int)len, (char *)in);
		else
			printf("binary: %zu bytes\n", len);
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		printf("closed: %.*s\n", len > 2 ? (int)len - 2 : 0, len > 2 ? (char *)in + 2 : "");
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
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
	int i, port;

	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--url")) url = argv[i + 1];
		else if (!strcmp(argv[i], "--cert")) cert = argv[i + 1];
		else if (!strcmp(argv[i], "--key")) key = argv[i + 1];
		else if (!strcmp(argv[i], "--ca")) ca = argv[i + 1];
		else if (!strcmp(argv[i], "--protocol")) subprotocol = argv[i + 1];
		else if ((!strcmp(argv[i], "--text") || !strcmp(argv[i], "--hex")) && nframes < MAX_FRAMES) {
			struct frame *f = &frames[nframes++];
			const char *s = argv[i + 1];

			f->binary = argv[i][2] == 'h';
			if (!f->binary) {
				f->len = strlen(s) < 4096 ? strlen(s) : 4096;
				memcpy(f->data + LWS_PRE, s, f->len);
			} else {
				for (; s[0] && s[1] && f->len < 4096; s += 2)
					f->data[LWS_PRE + f->len++] = (unsigned char)(hexval(s[0]) << 4 | hexval(s[1]));
			}
		}
	}
	if (!url || !cert || !key || !ca) {
		fprintf(stderr, "usage: wspeer --url URL --cert F --key F --ca F [--text S | --hex H]...\n");
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
	deadline = time(NULL) + 5;
	while (!done && time(NULL) < deadline)
		lws_service(ctx, 100);
	lws_context_destroy(ctx);
	fflush(stdout);
	return result;
}
