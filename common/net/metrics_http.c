/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "net/metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/promtext.h"
#include "base/usbws_err.h"
#include "net/netaddr.h"

#define METRICS_HTTP_CHUNK (16u << 10)

/* One scrape: the answer, and how much of it has gone. */
struct metrics_conn {
	struct buf body;
	size_t sent;
	int counted; /* it holds one of the METRICS_HTTP_MAX_CLIENTS */
};

static struct metrics_http *owner(struct lws *wsi)
{
	return (struct metrics_http *)lws_get_protocol(wsi)->user;
}

static int answer_status(struct lws *wsi, unsigned int status)
{
	/* lws writes the status page and closes or keeps the connection */
	if (lws_return_http_status(wsi, status, NULL))
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int start_answer(struct lws *wsi, struct metrics_conn *c, const char *path)
{
	struct metrics_http *m = owner(wsi);
	uint8_t headers[LWS_PRE + 512], *p = headers + LWS_PRE, *end = headers + sizeof(headers) - 1;

	if (strcmp(path, "/metrics") != 0)
		return answer_status(wsi, HTTP_STATUS_NOT_FOUND);
	if (m->clients >= METRICS_HTTP_MAX_CLIENTS)
		return answer_status(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE);
	m->clients++;
	c->counted = 1;
	m->scrapes++;
	buf_init(&c->body, LWS_PRE, METRICS_HTTP_MAX_BODY);
	c->sent = 0;
	if (m->render(m->render_ctx, &c->body) < 0)
		return answer_status(wsi, HTTP_STATUS_INTERNAL_SERVER_ERROR);
	if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, PROMTEXT_CONTENT_TYPE, buf_len(&c->body), &p, end) ||
	    lws_finalize_write_http_header(wsi, headers + LWS_PRE, &p, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int send_more(struct lws *wsi, struct metrics_conn *c)
{
	uint8_t chunk[LWS_PRE + METRICS_HTTP_CHUNK];
	size_t left = buf_len(&c->body) - c->sent, n = left < METRICS_HTTP_CHUNK ? left : METRICS_HTTP_CHUNK;
	int last = n == left;

	/* copied: what lws may write in front of a chunk is the chunk before */
	memcpy(chunk + LWS_PRE, buf_data(&c->body) + c->sent, n);
	if (lws_write(wsi, chunk + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
		return -1;
	c->sent += n;
	if (!last) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	buf_free(&c->body);
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static void finish(struct lws *wsi, struct metrics_conn *c)
{
	if (!c)
		return;
	buf_free(&c->body);
	if (c->counted) {
		owner(wsi)->clients--;
		c->counted = 0;
	}
}

static int metrics_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct metrics_conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		/* a keep-alive connection's next request starts afresh */
		finish(wsi, c);
		return start_answer(wsi, c, in);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (!c || !c->counted || c->sent >= buf_len(&c->body))
			return 0;
		return send_more(wsi, c);
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP: finish(wsi, c); return 0;
	default: break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* The address lws is to bind, checked and tried first: lws itself would
 * say only "ERROR on binding fd N to port P (-1 98)". */
static int check_spec(const char *spec, char *host, size_t host_cap, int *port, char *why, size_t why_cap)
{
	char port_s[8], *end;
	struct sockaddr_storage ss;
	socklen_t len;
	long p;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (netaddr_split(spec, host, host_cap, port_s, sizeof(port_s)) < 0)
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "'%s' is not ADDR:PORT", spec);
	p = strtol(port_s, &end, 10);
	if (*end || p < 1 || p > 65535)
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "'%s': the port must be a number from 1 to 65535",
				 spec);
	*port = (int)p;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)p);
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)p);
		len = sizeof(struct sockaddr_in6);
	} else {
		return usbws_why(why, why_cap, USBWS_ERR_INVAL,
				 "'%s': the address must be numeric (127.0.0.1, 0.0.0.0, ::1)", spec);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "%s: socket: %s", spec, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		int err = errno;

		close(fd);
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "cannot listen on %s: %s%s", spec, strerror(err),
				 err == EADDRINUSE ? " (is another program serving metrics there?)" : "");
	}
	close(fd);
	return 0;
}

int metrics_http_listen(struct metrics_http *m, struct lws_context *ctx, const char *spec,
			metrics_http_render_fn render, void *render_ctx, char *why, size_t why_cap)
{
	struct lws_context_creation_info info;
	char host[64];
	int port = 0, rc;

	rc = check_spec(spec, host, sizeof(host), &port, why, why_cap);
	if (rc < 0)
		return rc;
	memset(m->protocols, 0, sizeof(m->protocols));
	m->protocols[0].name = "usbws-metrics";
	m->protocols[0].callback = metrics_callback;
	m->protocols[0].per_session_data_size = sizeof(struct metrics_conn);
	m->protocols[0].user = m;
	m->render = render;
	m->render_ctx = render_ctx;
	m->clients = 0;
	memset(&info, 0, sizeof(info));
	info.vhost_name = "usbws-metrics";
	info.port = port;
	info.iface = host;
	info.protocols = m->protocols;
	/* an IPv6 address serves IPv6 alone, as every usbws listener does */
	if (strchr(host, ':'))
		info.options |= LWS_SERVER_OPTION_IPV6_V6ONLY_MODIFY | LWS_SERVER_OPTION_IPV6_V6ONLY_VALUE;
	else
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	m->vh = lws_create_vhost(ctx, &info);
	if (!m->vh)
		return usbws_why(why, why_cap, USBWS_ERR_LWS,
				 "cannot listen on %s: libwebsockets refused the vhost", spec);
	return 0;
}
