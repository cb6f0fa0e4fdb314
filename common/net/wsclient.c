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

#include "tunnel/httpreply.h"
#include "base/log.h"
#include "base/monoclock.h"
#include "net/netaddr.h"
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
};

static void log_ssl_error(int *fatal, const char *what, const char *url)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	if (reason && strstr(reason, "alert") && ERR_GET_LIB(e) == ERR_LIB_SSL) {
		log_err("the proxy at %s refused this node's certificate: %s (check --cert and --key, and that "
			"the proxy's --ca signed them)", url, reason);
		*fatal = 1;
	} else if (!reason && errno == EINTR) {
		/* a stop signal: the caller says so */
		log_info("%s %s interrupted", what, url);
	} else {
		log_err("%s %s failed: %s", what, url, reason ? reason : strerror(errno));
	}
	ERR_clear_error();
}

static int verify_cb(int ok, X509_STORE_CTX *xctx)
{
	char subject[256] = "?";
	X509 *cert;

	if (ok)
		return 1;
	cert = X509_STORE_CTX_get_current_cert(xctx);
	if (cert)
		X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
	log_err("the proxy's certificate was rejected: %s (subject %s); check --ca and the host name in --url",
		X509_verify_cert_error_string(X509_STORE_CTX_get_error(xctx)), subject);
	return 0;
}

static char *base64(const uint8_t *in, size_t len, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

/* Reads an HTTP response head through rd (plain or TLS) into buf; returns
 * its length and leaves any bytes after it in buf too (*total).  buf stays
 * NUL-terminated for the log lines that quote it; httpreply judges it. */
static int read_head(struct wsclient *c, int tls, char *buf, size_t cap, size_t *total)
{
	size_t have = 0, head;

	while (have < cap - 1) {
		int n = tls ? SSL_read(c->ssl, buf + have, (int)(cap - 1 - have))
			    : (int)recv(c->fd, buf + have, 1, 0);  /* never read past a proxy's head */

		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = 0;
		head = httpreply_head_len(buf, have);
		if (head) {
			*total = have;
			return (int)head;
		}
	}
	return -1;
}

static int proxy_connect(struct wsclient *c, const char *proxy, const char *host, const char *port)
{
	char creds[256] = "", phost[256], pport[16], auth[512] = "", req[1024], head[MAX_HTTP_HEAD];
	const char *hostport = proxy, *at;
	size_t total;
	int n, head_len;

	if (strncmp(hostport, "http://", 7) == 0)
		hostport += 7;
	at = strrchr(hostport, '@');
	if (at) {
		char b64[400];

		if ((size_t)(at - hostport) >= sizeof(creds))
			return -1;
		memcpy(creds, hostport, (size_t)(at - hostport));
		snprintf(auth, sizeof(auth), "Proxy-Authorization: Basic %s\r\n",
			 base64((const uint8_t *)creds, strlen(creds), b64));
		hostport = at + 1;
	}
	if (netaddr_split(hostport, phost, sizeof(phost), pport, sizeof(pport)) < 0) {
		log_err("--proxy %s: expected http://[user:pass@]host:port", proxy);
		return -1;
	}
	c->fd = netaddr_connect_host(phost, pport, c->timeout);
	if (c->fd < 0) {
		log_err("cannot reach the HTTP proxy %s:%s: %s", phost, pport, strerror(errno));
		return -1;
	}
	n = snprintf(req, sizeof(req), "CONNECT %s:%s HTTP/1.1\r\nHost: %s:%s\r\n%s\r\n", host, port, host, port,
		     auth);
	if (send(c->fd, req, (size_t)n, MSG_NOSIGNAL) != n ||
	    (head_len = read_head(c, 0, head, sizeof(head), &total)) < 0) {
		log_err("the HTTP proxy %s:%s did not answer CONNECT", phost, pport);
		return -1;
	}
	if (httpreply_connect(head, (size_t)head_len) < 0) {
		log_err("the HTTP proxy refused CONNECT %s:%s: %.*s", host, port, (int)strcspn(head, "\r\n"), head);
		return -1;
	}
	return 0;
}

static SSL_CTX *tls_load(int *fatal, const struct wsclient_config *cfg)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_load_verify_locations(ctx, cfg->ca, NULL) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, cfg->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_ssl_error(fatal, "loading --cert, --key and --ca for", cfg->url);
		*fatal = 1;
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
	return ctx;
}

SSL_CTX *wsclient_tls_load(const struct wsclient_config *cfg)
{
	int fatal = 0;

	return tls_load(&fatal, cfg);
}

void wsclient_tls_free(SSL_CTX *tls)
{
	SSL_CTX_free(tls);
}

static int tls_setup(struct wsclient *c, const struct wsclient_config *cfg, const char *host)
{
	X509_VERIFY_PARAM *param;
	unsigned char ip[16];

	if (cfg->tls && SSL_CTX_up_ref(cfg->tls) == 1)
		c->ctx = cfg->tls;
	else if (!cfg->tls)
		c->ctx = tls_load(&c->fatal, cfg);
	if (!c->ctx)
		return -1;
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl)
		return -1;
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
			log_ssl_error(&c->fatal, "TLS handshake with", cfg->url);
		else
			c->fatal = 1;  /* verify_cb said why */
		ERR_clear_error();
		return -1;
	}
	return 0;
}

static int upgrade(struct wsclient *c, const struct wsclient_config *cfg, const char *host, const char *port,
		   const char *path)
{
	uint8_t key[16], sha[EVP_MAX_MD_SIZE];
	char key64[32], expect[64], req[1024], head[MAX_HTTP_HEAD], both[128];
	unsigned int shalen;
	size_t total;
	int n, head_len, rc;

	RAND_bytes(key, sizeof(key));
	base64(key, sizeof(key), key64);
	n = snprintf(req, sizeof(req),
		     "GET /%s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n"
		     "Origin: https://%s\r\n\r\n", path, host, port, key64, cfg->subprotocol, host);
	if (SSL_write(c->ssl, req, n) != n) {
		char one;

		/* With TLS 1.3 the proxy judges our certificate after the
		 * handshake and may hang up while we write: its alert, if it is
		 * still there to read, says why. */
		ERR_clear_error();
		SSL_read(c->ssl, &one, 1);
		if (ERR_peek_last_error())
			log_ssl_error(&c->fatal, "sending the upgrade to", cfg->url);
		else
			log_err("the proxy at %s closed the connection right after the TLS handshake; if its log "
				"says 'client certificate rejected', check this node's --cert", cfg->url);
		/* a proxy that is up and hangs up at once judged our certificate */
		c->fatal = 1;
		return -1;
	}
	head_len = read_head(c, 1, head, sizeof(head), &total);
	if (head_len < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			log_err("no WebSocket handshake from %s within %d s; if the proxy logged "
				"'client certificate rejected', check this node's --cert", cfg->url, c->timeout);
		else
			log_ssl_error(&c->fatal, "reading the upgrade answer from", cfg->url);
		return -1;
	}
	snprintf(both, sizeof(both), "%s%s", key64, HTTPREPLY_WS_GUID);
	EVP_Digest(both, strlen(both), sha, &shalen, EVP_sha1(), NULL);
	base64(sha, shalen, expect);
	rc = httpreply_upgrade(head, (size_t)head_len, expect, cfg->subprotocol);
	if (rc == USBWS_ERR_HTTP_STATUS) {
		log_err("%s answered the upgrade with '%.*s'", cfg->url, (int)strcspn(head, "\r\n"), head);
		return -1;
	}
	if (rc == USBWS_ERR_WS_ACCEPT) {
		log_err("%s answered the upgrade with a wrong Sec-WebSocket-Accept", cfg->url);
		return -1;
	}
	if (rc < 0) {
		log_err("%s did not agree to the %s subprotocol", cfg->url, cfg->subprotocol);
		return -1;
	}
	/* frames may already follow the head */
	c->pre_len = total - (size_t)head_len;
	memcpy(c->rx, head + head_len, c->pre_len);
	return 0;
}

struct wsclient *wsclient_open(const struct wsclient_config *cfg, int *fatal)
{
	struct wsclient *c = calloc(1, sizeof(*c));
	char url[512], hostport[520], host[256], port[16], *p, *path;
	const char *bracket;
	struct timeval none = { 0, 0 };

	*fatal = 0;
	if (!c)
		return NULL;
	c->fd = -1;
	c->frame = malloc(WS_MAX_HEADER + MAX_FRAME_OUT);
	if (!c->frame)
		goto fail;
	c->url = cfg->url;
	c->timeout = cfg->timeout_seconds;
	buf_init(&c->out, 0, 4 * (WS_MAX_HEADER + 65536));
	wsframe_parser_init(&c->parser, 0, 16u << 20);
	snprintf(url, sizeof(url), "%s", cfg->url);
	if (strncmp(url, "wss://", 6) != 0)
		goto bad_url;
	p = url + 6;
	path = strchr(p, '/');
	if (path)
		*path++ = 0;
	else
		path = "";
	/* without a port, wss means 443 */
	bracket = *p == '[' ? strchr(p, ']') : NULL;
	snprintf(hostport, sizeof(hostport), (bracket ? bracket[1] == ':' : strchr(p, ':') != NULL) ? "%s" : "%s:443", p);
	if (netaddr_split(hostport, host, sizeof(host), port, sizeof(port)) < 0)
		goto bad_url;

	if (cfg->http_proxy) {
		if (proxy_connect(c, cfg->http_proxy, host, port) < 0)
			goto fail;
	} else {
		c->fd = netaddr_connect_host(host, port, c->timeout);
		if (c->fd < 0) {
			if (errno == EINTR)
				log_info("connecting to %s interrupted", cfg->url);
			else
				log_err("cannot connect to %s: %s", cfg->url, strerror(errno));
			goto fail;
		}
	}
	if (tls_setup(c, cfg, host) < 0 || upgrade(c, cfg, host, port, path) < 0)
		goto fail;
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	c->last_rx_ms = monotonic_ms();
	return c;

bad_url:
	log_err("--url %s: expected wss://HOST[:PORT]/usbip", cfg->url);
	c->fatal = 1;
fail:
	*fatal = c->fatal;
	wsclient_close(c);
	return NULL;
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

void wsclient_flush(struct wsclient *c, int timeout_ms)
{
	int64_t deadline = monotonic_ms() + timeout_ms;
	struct pollfd pfd = { c->fd, POLLOUT, 0 };
	size_t taken;

	while (wsclient_send(c, NULL, 0, &taken) == 0 && wsclient_want_write(c)) {
		int64_t left = deadline - monotonic_ms();

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return;
	}
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

int wsclient_send(struct wsclient *c, const uint8_t *data, size_t len, size_t *taken)
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
				memcpy(c->frame + h, data + *taken, payload);
				wsframe_mask(c->frame + h, payload, mask, 0);
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
			log_ssl_error(&c->fatal, "writing to", c->url);
			return -1;
		}
		if (c->cur_is_out)
			buf_consume(&c->out, c->cur_len);
		c->cur_len = 0;
	}
}

int wsclient_read(struct wsclient *c, int (*on_event)(void *ctx, const struct ws_event *ev), void *ctx,
		  char *why, size_t why_size)
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
				snprintf(why, why_size, "the connection was closed");
				return 1;
			}
			log_ssl_error(&c->fatal, "reading from", c->url);
			return -1;
		}
		len = (size_t)n;
		c->last_rx_ms = monotonic_ms();
	}
	while ((rc = wsframe_parse(&c->parser, c->rx + pos, len - pos, &used, &ev)) > 0) {
		pos += used;
		if (ev.type != WS_EV_CONTROL) {
			if (on_event(ctx, &ev) < 0)
				return -1;
			continue;
		}
		if (ev.opcode == WS_OP_PING) {
			queue_frame(c, WS_OP_PONG, ev.u.control.payload, ev.u.control.len);
		} else if (ev.opcode == WS_OP_CLOSE) {
			size_t rl = ev.u.control.len > 2 ? ev.u.control.len - 2 : 0;

			log_printable(why, why_size, ev.u.control.payload + 2, rl);
			c->close_code = ev.u.control.len >= 2 ? ev.u.control.payload[0] << 8 | ev.u.control.payload[1] : 1005;
			if (!c->close_sent)
				queue_frame(c, WS_OP_CLOSE, ev.u.control.payload, ev.u.control.len >= 2 ? 2 : 0);
			c->close_sent = 1;
			return 1;
		}
	}
	if (rc < 0) {
		log_err("the proxy sent a broken WebSocket frame: %s", usbws_strerror(rc));
		return -1;
	}
	return 2;
}
