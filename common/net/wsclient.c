/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "net/wsclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tunnel/ctl.h"
#include "tunnel/httpreply.h"
#include "tunnel/wsurl.h"
#include "base/log.h"
#include "base/monoclock.h"
#include "net/netaddr.h"
#include "net/tlsfiles.h"
#include "base/usbws_err.h"

#define RX_CHUNK (64u << 10)
#define MAX_FRAME_OUT (256u << 10)
#define MAX_HTTP_HEAD HTTPREPLY_MAX_HEAD

struct wsclient {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	const char *url;
	int timeout;
	struct ws_parser parser;
	struct buf out;              /* whole text and control frames, masked */
	/* the write in progress, repeated unchanged until it completes */
	size_t cur_len;
	int cur_is_out;
	uint8_t *frame;              /* one binary frame, masked: the caller's bytes stay as they were */
	uint8_t rx[RX_CHUNK];
	size_t pre_len;              /* bytes read past the upgrade answer */
	int64_t last_rx_ms;
	int close_code;              /* the peer's close frame, 1005 when it had none */
	int fatal;                   /* a retry would fail the same way */
	int close_sent;              /* a connection has one close frame each way */
	char verify_why[512];        /* verify_cb's verdict on the proxy's certificate */
};

/* Why a TLS call failed, into why: the proxy refused our certificate (its
 * alert says so; *fatal is set), a stop signal cut the call short
 * (USBWS_ERR_INTERRUPTED: the caller's news, not an error), or the
 * library's reason, or errno's. */
static int ssl_why(int *fatal, const char *what, const char *url, char *why, size_t why_cap)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;
	int rc;

	if (reason && strstr(reason, "alert") && ERR_GET_LIB(e) == ERR_LIB_SSL) {
		rc = usbws_why(why, why_cap, USBWS_ERR_CERT_REFUSED, "the proxy at %s refused this node's certificate: "
			       "%s (check --cert and --key, and that the proxy's --ca signed them)", url, reason);
		*fatal = 1;
	} else if (!reason && errno == EINTR) {
		rc = usbws_why(why, why_cap, USBWS_ERR_INTERRUPTED, "%s %s interrupted", what, url);
	} else {
		rc = usbws_why(why, why_cap, reason ? USBWS_ERR_TLS : USBWS_ERR_SYSTEM, "%s %s failed: %s", what,
			       url,
			       reason          ? reason
				       : errno ? strerror(errno)
					       : "the other side closed the connection");
	}
	ERR_clear_error();
	return rc;
}

/* OpenSSL's callback: the connection's verify_why keeps the verdict for
 * tls_setup to return. */
static int verify_cb(int ok, X509_STORE_CTX *xctx)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct wsclient *c = ssl ? SSL_get_app_data(ssl) : NULL;
	char subject[256] = "?";
	X509 *cert;

	if (ok)
		return 1;
	cert = X509_STORE_CTX_get_current_cert(xctx);
	if (cert)
		X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
	if (c)
		snprintf(c->verify_why, sizeof(c->verify_why), "the proxy's certificate was rejected: %s (subject "
			 "%s); check --ca and the host name in --url",
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(xctx)), subject);
	return 0;
}

static char *base64(const uint8_t *in, size_t len, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

/* Whether a TLS read that returned n <= 0 met the end of the connection:
 * the peer's close_notify, or a close without one. */
static int tls_closed(struct wsclient *c, int n)
{
	int e = SSL_get_error(c->ssl, n);
	unsigned long q = ERR_peek_last_error();

	return e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && !q && errno == 0) ||
		(ERR_GET_LIB(q) == ERR_LIB_SSL && ERR_GET_REASON(q) == SSL_R_UNEXPECTED_EOF_WHILE_READING);
}

/* Reads an HTTP response head through rd (plain or TLS) into buf; returns
 * its length and leaves any bytes after it in buf too (*total).  buf stays
 * NUL-terminated for the log lines that quote it; httpreply judges it.
 * Fails with USBWS_ERR_TRUNCATED when the peer closed the connection
 * first, USBWS_ERR_SYSTEM (errno: the read's, when it failed) or, for a
 * head longer than buf, USBWS_ERR_NOSPACE. */
static int read_head(struct wsclient *c, int tls, char *buf, size_t cap, size_t *total)
{
	size_t have = 0, head;

	while (have < cap - 1) {
		int n;

		errno = 0;
		n = tls ? SSL_read(c->ssl, buf + have, (int)(cap - 1 - have))
			: (int)recv(c->fd, buf + have, 1, 0); /* never read past a proxy's head */
		if (n == 0 && !tls)
			return USBWS_ERR_TRUNCATED;
		if (n <= 0)
			return tls && tls_closed(c, n) ? USBWS_ERR_TRUNCATED : USBWS_ERR_SYSTEM;
		have += (size_t)n;
		buf[have] = 0;
		head = httpreply_head_len(buf, have);
		if (head) {
			*total = have;
			return (int)head;
		}
	}
	return USBWS_ERR_NOSPACE;
}

static int proxy_connect(struct wsclient *c, const char *proxy, const char *host, const char *port, char *why,
			 size_t why_cap)
{
	char creds[256] = "", phost[256], pport[16], auth[512] = "", req[1024], head[MAX_HTTP_HEAD];
	const char *hostport = proxy, *at;
	size_t total;
	int n, head_len, rc;

	if (strncmp(hostport, "http://", 7) == 0)
		hostport += 7;
	at = strrchr(hostport, '@');
	if (at) {
		char b64[400];

		if ((size_t)(at - hostport) >= sizeof(creds))
			return usbws_why(why, why_cap, USBWS_ERR_INVAL, "--proxy: user:pass longer than %zu bytes",
					 sizeof(creds) - 1);
		memcpy(creds, hostport, (size_t)(at - hostport));
		snprintf(auth, sizeof(auth), "Proxy-Authorization: Basic %s\r\n",
			 base64((const uint8_t *)creds, strlen(creds), b64));
		hostport = at + 1;
	}
	if (netaddr_split(hostport, phost, sizeof(phost), pport, sizeof(pport)) < 0)
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "--proxy %s: expected http://[user:pass@]host:port",
				 proxy);
	c->fd = netaddr_connect_host(phost, pport, c->timeout);
	if (c->fd < 0)
		return usbws_why(why, why_cap, c->fd, "cannot reach the HTTP proxy %s:%s: %s", phost, pport,
				 strerror(errno));
	n = snprintf(req, sizeof(req), "CONNECT %s:%s HTTP/1.1\r\nHost: %s:%s\r\n%s\r\n", host, port, host, port,
		     auth);
	if (send(c->fd, req, (size_t)n, MSG_NOSIGNAL) != n ||
	    (head_len = read_head(c, 0, head, sizeof(head), &total)) < 0)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "the HTTP proxy %s:%s did not answer CONNECT", phost,
				 pport);
	rc = httpreply_connect(head, (size_t)head_len);
	if (rc < 0)
		return usbws_why(why, why_cap, rc, "the HTTP proxy refused CONNECT %s:%s: %.*s", host, port,
				 (int)strcspn(head, "\r\n"), head);
	return 0;
}

static int tls_load(int *fatal, const struct wsclient_config *cfg, SSL_CTX **out, char *why, size_t why_cap)
{
	const struct tlsfiles files = { .cert = cfg->cert, .key = cfg->key, .ca = cfg->ca };
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int rc;

	*out = NULL;
	if (!ctx)
		return ssl_why(fatal, "making a TLS context for", cfg->url, why, why_cap);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	rc = tlsfiles_load(ctx, &files, why, why_cap);
	if (rc < 0) {
		*fatal = 1;
		SSL_CTX_free(ctx);
		return rc;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
	*out = ctx;
	return 0;
}

int wsclient_tls_load(const struct wsclient_config *cfg, SSL_CTX **out, char *why, size_t why_cap)
{
	int fatal = 0;

	return tls_load(&fatal, cfg, out, why, why_cap);
}

void wsclient_tls_free(SSL_CTX *tls)
{
	SSL_CTX_free(tls);
}

static int tls_setup(struct wsclient *c, const struct wsclient_config *cfg, const char *host, char *why,
		     size_t why_cap)
{
	X509_VERIFY_PARAM *param;
	unsigned char ip[16];
	int rc;

	if (cfg->tls && SSL_CTX_up_ref(cfg->tls) == 1) {
		c->ctx = cfg->tls;
	} else if (!cfg->tls) {
		rc = tls_load(&c->fatal, cfg, &c->ctx, why, why_cap);
		if (rc < 0)
			return rc;
	}
	if (!c->ctx)
		return usbws_why(why, why_cap, USBWS_ERR_TLS, "cannot share the TLS context for %s", cfg->url);
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl)
		return ssl_why(&c->fatal, "setting up TLS for", cfg->url, why, why_cap);
	SSL_set_app_data(c->ssl, c);
	param = SSL_get0_param(c->ssl);
	/* the name in the URL must be the proxy's, as a DNS name or an IP */
	if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1) {
		X509_VERIFY_PARAM_set1_ip_asc(param, host);
	} else {
		SSL_set_tlsext_host_name(c->ssl, host);
		X509_VERIFY_PARAM_set1_host(param, host, 0);
	}
	SSL_set_mode(c->ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_set_fd(c->ssl, c->fd);
	if (SSL_connect(c->ssl) != 1) {
		if (SSL_get_verify_result(c->ssl) == X509_V_OK)
			return ssl_why(&c->fatal, "TLS handshake with", cfg->url, why, why_cap);
		c->fatal = 1;
		ERR_clear_error();
		if (!c->verify_why[0])
			snprintf(c->verify_why, sizeof(c->verify_why), "the proxy's certificate was rejected: %s",
				 X509_verify_cert_error_string(SSL_get_verify_result(c->ssl)));
		return usbws_why(why, why_cap, USBWS_ERR_CERT_REFUSED, "%s", c->verify_why);
	}
	return 0;
}

static int upgrade(struct wsclient *c, const struct wsclient_config *cfg, const struct wsurl *u, char *why,
		   size_t why_cap)
{
	uint8_t key[16], sha[EVP_MAX_MD_SIZE];
	char key64[32], expect[64], req[1024], head[MAX_HTTP_HEAD], both[128], host[sizeof(u->host) + 2];
	unsigned int shalen;
	size_t total;
	int n, head_len, rc;

	RAND_bytes(key, sizeof(key));
	base64(key, sizeof(key), key64);
	/* an IPv6 address goes in brackets in Host, as in the URL */
	snprintf(host, sizeof(host), strchr(u->host, ':') ? "[%s]" : "%s", u->host);
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n"
		     "Origin: https://%s\r\n\r\n",
		     u->path, host, u->port, key64, cfg->subprotocol, host);
	if (SSL_write(c->ssl, req, n) != n) {
		char one;

		/* With TLS 1.3 the proxy judges our certificate after the
		 * handshake and may hang up while we write: its alert, if it is
		 * still there to read, says why. */
		ERR_clear_error();
		SSL_read(c->ssl, &one, 1);
		if (ERR_peek_last_error())
			rc = ssl_why(&c->fatal, "sending the upgrade to", cfg->url, why, why_cap);
		else
			rc = usbws_why(why, why_cap, USBWS_ERR_TLS, "the proxy at %s closed the connection right after "
				       "the TLS handshake; if its log says 'client certificate rejected', check this "
				       "node's --cert", cfg->url);
		/* a proxy that is up and hangs up at once judged our certificate */
		c->fatal = 1;
		return rc;
	}
	head_len = read_head(c, 1, head, sizeof(head), &total);
	if (head_len == USBWS_ERR_TRUNCATED && strcmp(u->path, USBWS_PATH) != 0) {
		c->fatal = 1;
		return usbws_why(why, why_cap, head_len,
				 "%s closed the connection without answering the WebSocket "
				 "upgrade to %s: usbws-proxy serves only the path %s (--url wss://%s:%s%s)",
				 cfg->url, u->path, USBWS_PATH, host, u->port, USBWS_PATH);
	}
	if (head_len == USBWS_ERR_TRUNCATED)
		return usbws_why(why, why_cap, head_len,
				 "%s closed the connection without answering the WebSocket "
				 "upgrade; the proxy's log says why",
				 cfg->url);
	if (head_len < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "no WebSocket handshake from %s within %d s; if "
					 "the proxy logged 'client certificate rejected', check this node's --cert",
					 cfg->url, c->timeout);
		return ssl_why(&c->fatal, "reading the upgrade answer from", cfg->url, why, why_cap);
	}
	snprintf(both, sizeof(both), "%s%s", key64, HTTPREPLY_WS_GUID);
	EVP_Digest(both, strlen(both), sha, &shalen, EVP_sha1(), NULL);
	base64(sha, shalen, expect);
	rc = httpreply_upgrade(head, (size_t)head_len, expect, cfg->subprotocol);
	if (rc == USBWS_ERR_HTTP_STATUS)
		return usbws_why(why, why_cap, rc, "%s answered the upgrade with '%.*s'", cfg->url,
				 (int)strcspn(head, "\r\n"), head);
	if (rc == USBWS_ERR_WS_ACCEPT)
		return usbws_why(why, why_cap, rc, "%s answered the upgrade with a wrong Sec-WebSocket-Accept",
				 cfg->url);
	if (rc < 0)
		return usbws_why(why, why_cap, rc, "%s did not agree to the %s subprotocol", cfg->url,
				 cfg->subprotocol);
	/* frames may already follow the head */
	c->pre_len = total - (size_t)head_len;
	memcpy(c->rx, head + head_len, c->pre_len);
	return 0;
}

int wsclient_open(const struct wsclient_config *cfg, struct wsclient **out, int *fatal, char *why, size_t why_cap)
{
	struct wsclient *c = calloc(1, sizeof(*c));
	struct wsurl u;
	char url_why[256];
	struct timeval none = { 0, 0 };
	int rc;

	*out = NULL;
	*fatal = 0;
	if (!c)
		return usbws_why(why, why_cap, USBWS_ERR_NOMEM, "connecting to %s: out of memory", cfg->url);
	c->fd = -1;
	c->frame = malloc(WS_MAX_HEADER + MAX_FRAME_OUT);
	if (!c->frame) {
		rc = usbws_why(why, why_cap, USBWS_ERR_NOMEM, "connecting to %s: out of memory", cfg->url);
		goto fail;
	}
	c->url = cfg->url;
	c->timeout = cfg->timeout_seconds;
	buf_init(&c->out, 0, 4 * (WS_MAX_HEADER + 65536));
	wsframe_parser_init(&c->parser, 0, 16u << 20);
	rc = wsurl_parse(cfg->url, &u, url_why, sizeof(url_why));
	if (rc < 0) {
		rc = usbws_why(why, why_cap, rc, "--url %s: %s", cfg->url, url_why);
		c->fatal = 1;
		goto fail;
	}

	if (cfg->http_proxy) {
		rc = proxy_connect(c, cfg->http_proxy, u.host, u.port, why, why_cap);
		if (rc < 0)
			goto fail;
	} else {
		c->fd = netaddr_connect_host(u.host, u.port, c->timeout);
		if (c->fd < 0) {
			if (errno == EINTR)
				rc = usbws_why(why, why_cap, USBWS_ERR_INTERRUPTED, "connecting to %s interrupted",
					       cfg->url);
			else
				rc = usbws_why(why, why_cap, c->fd, "cannot connect to %s: %s", cfg->url,
					       strerror(errno));
			goto fail;
		}
	}
	rc = tls_setup(c, cfg, u.host, why, why_cap);
	if (rc == 0)
		rc = upgrade(c, cfg, &u, why, why_cap);
	if (rc < 0)
		goto fail;
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	c->last_rx_ms = monotonic_ms();
	*out = c;
	return 0;

fail:
	*fatal = c->fatal;
	wsclient_close(c);
	return rc;
}

void wsclient_close(struct wsclient *c)
{
	if (!c)
		return;
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->ctx)
		SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	buf_free(&c->out);
	free(c->frame);
	free(c);
}

int wsclient_close_code(const struct wsclient *c)
{
	return c->close_code;
}

int wsclient_fd(const struct wsclient *c)
{
	return c->fd;
}

/* A whole masked frame into the out queue. */
static int queue_frame(struct wsclient *c, enum ws_opcode op, const void *data, size_t len)
{
	uint8_t mask[4], *p;
	size_t h;

	RAND_bytes(mask, sizeof(mask));
	p = buf_reserve(&c->out, WS_MAX_HEADER + len);
	if (!p)
		return USBWS_ERR_NOSPACE;
	h = wsframe_header_encode(p, op, 1, len, mask);
	memcpy(p + h, data, len);
	wsframe_mask(p + h, len, mask, 0);
	buf_commit(&c->out, h + len);
	return 0;
}

int wsclient_send_text(struct wsclient *c, const char *text)
{
	return queue_frame(c, WS_OP_TEXT, text, strlen(text));
}

int wsclient_send_close(struct wsclient *c, uint16_t code, const char *reason)
{
	uint8_t payload[WS_MAX_CLOSE_REASON + 2];
	size_t rl = strlen(reason) < WS_MAX_CLOSE_REASON ? strlen(reason) : WS_MAX_CLOSE_REASON;

	if (c->close_sent)
		return 0;
	c->close_sent = 1;
	payload[0] = (uint8_t)(code >> 8);
	payload[1] = (uint8_t)code;
	memcpy(payload + 2, reason, rl);
	return queue_frame(c, WS_OP_CLOSE, payload, rl + 2);
}

int wsclient_flush(struct wsclient *c, int timeout_ms, char *why, size_t why_cap)
{
	int64_t deadline = monotonic_ms() + timeout_ms;
	struct pollfd pfd = { c->fd, POLLOUT, 0 };
	size_t taken;
	int rc;

	while ((rc = wsclient_send(c, NULL, 0, &taken, why, why_cap)) == 0 && wsclient_want_write(c)) {
		int64_t left = deadline - monotonic_ms();

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return 0;
	}
	return rc;
}

int wsclient_want_write(const struct wsclient *c)
{
	return c->cur_len || buf_len(&c->out);
}

int wsclient_ping(struct wsclient *c)
{
	return queue_frame(c, WS_OP_PING, "usbws", 5);
}

int64_t wsclient_last_rx_ms(const struct wsclient *c)
{
	return c->last_rx_ms;
}

int wsclient_send(struct wsclient *c, const uint8_t *data, size_t len, size_t *taken, char *why, size_t why_cap)
{
	*taken = 0;
	for (;;) {
		int n;

		if (!c->cur_len) {
			if (buf_len(&c->out)) {
				c->cur_is_out = 1;
				c->cur_len = buf_len(&c->out);
			} else if (len > *taken) {
				size_t payload = len - *taken < MAX_FRAME_OUT ? len - *taken : MAX_FRAME_OUT;
				uint8_t mask[4];
				size_t h;

				/* masked as it is copied: the caller keeps its bytes
				 * unmasked, to send again after a reconnect */
				RAND_bytes(mask, sizeof(mask));
				h = wsframe_header_encode(c->frame, WS_OP_BINARY, 1, payload, mask);
				wsframe_mask_copy(c->frame + h, data + *taken, payload, mask, 0);
				*taken += payload;
				c->cur_is_out = 0;
				c->cur_len = h + payload;
			} else {
				return 0;
			}
		}
		n = SSL_write(c->ssl, c->cur_is_out ? buf_data(&c->out) : c->frame, (int)c->cur_len);
		if (n <= 0) {
			int e = SSL_get_error(c->ssl, n);

			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
				return 0;
			return ssl_why(&c->fatal, "writing to", c->url, why, why_cap);
		}
		if (c->cur_is_out)
			buf_consume(&c->out, c->cur_len);
		c->cur_len = 0;
	}
}

int wsclient_read(struct wsclient *c, int (*on_event)(void *ctx, const struct ws_event *ev), void *ctx,
		  char *why, size_t why_cap)
{
	struct ws_event ev;
	size_t len, pos = 0, used;
	int n, rc;

	if (c->pre_len) {
		len = c->pre_len;
		c->pre_len = 0;
	} else {
		n = SSL_read(c->ssl, c->rx, sizeof(c->rx));
		if (n <= 0) {
			int e = SSL_get_error(c->ssl, n);

			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return 0;
			if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0)) {
				snprintf(why, why_cap, "the connection was closed");
				return 1;
			}
			return ssl_why(&c->fatal, "reading from", c->url, why, why_cap);
		}
		len = (size_t)n;
		c->last_rx_ms = monotonic_ms();
	}
	while ((rc = wsframe_parse(&c->parser, c->rx + pos, len - pos, &used, &ev)) > 0) {
		pos += used;
		if (ev.type != WS_EV_CONTROL) {
			if (on_event(ctx, &ev) == 0)
				continue;
			/* what came after is the next call's: a caller that
			 * goes on with this connection loses nothing */
			memmove(c->rx, c->rx + pos, len - pos);
			c->pre_len = len - pos;
			return 3;
		}
		if (ev.opcode == WS_OP_PING) {
			queue_frame(c, WS_OP_PONG, ev.u.control.payload, ev.u.control.len);
		} else if (ev.opcode == WS_OP_CLOSE) {
			size_t rl = ev.u.control.len > 2 ? ev.u.control.len - 2 : 0;

			log_printable(why, why_cap, ev.u.control.payload + 2, rl);
			c->close_code = ev.u.control.len >= 2 ? ev.u.control.payload[0] << 8 | ev.u.control.payload[1] : 1005;
			if (!c->close_sent)
				queue_frame(c, WS_OP_CLOSE, ev.u.control.payload, ev.u.control.len >= 2 ? 2 : 0);
			c->close_sent = 1;
			return 1;
		}
	}
	if (rc < 0)
		return usbws_why(why, why_cap, rc, "the proxy sent a broken WebSocket frame: %s", usbws_strerror(rc));
	return 2;
}
