/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A fleet of N usbws nodes in one process, for bench/scale and
 * tests/bats/scale.bats: each node is its own identity (CN=scale-00001...,
 * certificates signed here with the test CA's key) and speaks the real
 * protocol over its own connection: TCP, TLS with its certificate, the
 * upgrade to /usbip, the hello, the export, pings and pongs, and after a
 * lost link the resume, the way usbws connect does (usbws/link.c is
 * compiled in: the same scatter, backoff and fresh export).  One thread,
 * epoll, non-blocking OpenSSL; nothing but the layer libraries and
 * OpenSSL, so what the driver costs is mostly TLS itself (with OpenSSL
 * 3.0, about what the proxy spends per handshake: bench/scale shows both).
 *
 *   scalenodes --connect 127.0.0.1:PORT --ca-cert ca.pem --ca-key ca.key
 *              --nodes N [--sources K] [--max-inflight C] [--ping-interval S]
 *              [--ping-timeout S] [--backoff-max S] [--connect-timeout S]
 *
 * Until every node has been up once (the ramp), at most C handshakes are
 * under way, so the rate is the proxy's, not its admission's; after that,
 * each node reconnects on its own timing, uncapped.  Sources: connections
 * come from K addresses, 127.1.0.1 on (the proxy admits per source), with
 * IP_BIND_ADDRESS_NO_PORT so the ports spread too.  Pings as usbws
 * connect's (usbws/node.c keepalive): a node pings when it has heard
 * nothing for S seconds plus a quarter of the rest of the timeout, so a
 * pinging proxy keeps it quiet; each node's clock starts at its own
 * connect.
 *
 * Lines on stdout:
 *   ready nodes=N certs_ms=T                     certificates made
 *   all-up nodes=N secs=S handshakes=H rate=R    the ramp is done (R: H/S)
 *   status up=U inflight=I ...                   on SIGUSR1, and at the end
 *   mark                                         on SIGUSR2: a storm starts now
 *   back-all ms=M handshakes=H per-node=X max=K  every node is up again
 *                                                since the mark: how long,
 *                                                TLS handshakes since then
 * SIGTERM or SIGINT ends it (status 0).  Exit 1 on a setup error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "base/buf.h"
#include "base/monoclock.h"
#include "base/numarg.h"
#include "tunnel/ctl.h"
#include "tunnel/httpreply.h"
#include "tunnel/wsframe.h"
#include "usbip/usbip_codec.h"
#include "usbws/link.h"

/* as usbws/node.c: the first wait, and how long a link must last for the
 * backoff to start over */
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_RESET_MS 10000
/* the node's tail acknowledgement comes on its one-second timer */
#define ACK_DELAY_MS 1000
/* the RFC 6455 sample key and its answer: the proxy's check is the point,
 * not the key's randomness */
#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/* a control message or upgrade head longer than this is refused */
#define TEXT_MAX 16384
#define OUT_MAX 65536
/* descriptors beyond the nodes' own: stdio, epoll, signalfd, slack */
#define FD_SLACK 64

enum phase {
	PH_IDLE,       /* no connection; the link says when */
	PH_CONNECTING, /* TCP connect under way */
	PH_TLS,        /* TLS handshake */
	PH_UPGRADE,    /* the GET is out, the 101 not in yet */
	PH_OPEN,       /* WebSocket open: hello sent, waiting for the proxy's yes */
	PH_UP,         /* exported or resumed */
};

struct snode {
	unsigned int id;
	enum phase phase;
	int fd;
	SSL *ssl;
	uint32_t events; /* what epoll watches for fd */
	struct link link;
	struct ws_parser wp;
	struct buf head, text, out;
	uint8_t rep[USBIP_OP_COMMON_SIZE];
	size_t rep_len;
	uint64_t received; /* the proxy's stream bytes of this session */
	uint64_t ack_sent;
	int64_t connect_by, last_rx, last_ping, ack_at;
	int64_t deadline;
	size_t heap_at;          /* 1 + index in the timer heap; 0: not in it */
	int queued;              /* in the ramp's queue */
	int inflight;            /* counted in g.inflight */
	int back;                /* up again since the mark */
	unsigned int handshakes; /* TLS handshakes since the mark */
};

struct counts {
	unsigned long long handshakes, connects, lost, refused, timeouts, tls, upgrade, no_session, fresh,
		other_error;
};

static struct {
	struct snode *nodes;
	unsigned int n;
	unsigned int sources;
	unsigned int max_inflight;
	int64_t ping_ms, ping_timeout_ms, connect_timeout_ms;
	struct sockaddr_in proxy;
	SSL_CTX *ctx;
	X509 **certs;
	EVP_PKEY *key;
	char *hello;
	uint8_t export_req[USBIP_OP_COMMON_SIZE + USBIP_USB_DEVICE_SIZE];
	struct link_policy policy;
	int ep;
	unsigned int up, inflight, back;
	int ramp_done;
	int64_t ramp_start, mark;
	struct counts c;
	unsigned long long ramp_handshakes, mark_handshakes;
	struct snode **heap;
	size_t heap_len;
	struct snode **queue; /* the ramp's FIFO of nodes due to connect */
	size_t q_head, q_len;
	uint64_t rnd;
} g;

static uint32_t rnd32(void)
{
	/* xorshift64*: masks and jitter, not secrets */
	g.rnd ^= g.rnd >> 12;
	g.rnd ^= g.rnd << 25;
	g.rnd ^= g.rnd >> 27;
	return (uint32_t)((g.rnd * 0x2545F4914F6CDD1DULL) >> 32);
}

static void die(const char *what)
{
	fprintf(stderr, "scalenodes: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* ---- the timer heap: each node has one deadline */

static int earlier(size_t a, size_t b)
{
	return g.heap[a]->deadline < g.heap[b]->deadline;
}

static void heap_swap(size_t a, size_t b)
{
	struct snode *t = g.heap[a];

	g.heap[a] = g.heap[b];
	g.heap[b] = t;
	g.heap[a]->heap_at = a + 1;
	g.heap[b]->heap_at = b + 1;
}

static void heap_fix(size_t i)
{
	while (i > 0 && earlier(i, (i - 1) / 2)) {
		heap_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < g.heap_len && earlier(l, m))
			m = l;
		if (r < g.heap_len && earlier(r, m))
			m = r;
		if (m == i)
			return;
		heap_swap(i, m);
		i = m;
	}
}

static void timer_set(struct snode *n, int64_t when)
{
	n->deadline = when;
	if (!n->heap_at) {
		g.heap[g.heap_len] = n;
		n->heap_at = ++g.heap_len;
	}
	heap_fix(n->heap_at - 1);
}

static void timer_clear(struct snode *n)
{
	size_t i = n->heap_at - 1;

	if (!n->heap_at)
		return;
	n->heap_at = 0;
	if (i == --g.heap_len)
		return;
	g.heap[i] = g.heap[g.heap_len];
	g.heap[i]->heap_at = i + 1;
	heap_fix(i);
}

/* ---- certificates: one key, a certificate per node, signed here */

static X509 *load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f)
		fclose(f);
	return x;
}

static EVP_PKEY *load_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

	if (f)
		fclose(f);
	return k;
}

static X509 *node_cert(unsigned int id, X509 *ca, EVP_PKEY *ca_key)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509_EXTENSION *eku;
	X509V3_CTX v3;
	char cn[32];

	snprintf(cn, sizeof(cn), "scale-%05u", id);
	if (!x || !name || !X509_set_version(x, 2) || !ASN1_INTEGER_set(X509_get_serialNumber(x), 100000 + id) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_subject_name(x, name) || !X509_set_issuer_name(x, X509_get_subject_name(ca)) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 30) || !X509_set_pubkey(x, g.key))
		die("cannot build a node certificate");
	X509V3_set_ctx(&v3, ca, x, NULL, NULL, 0);
	eku = X509V3_EXT_conf_nid(NULL, &v3, NID_ext_key_usage, "clientAuth");
	if (!eku || !X509_add_ext(x, eku, -1) || !X509_sign(x, ca_key, EVP_sha256()))
		die("cannot sign a node certificate");
	X509_EXTENSION_free(eku);
	X509_NAME_free(name);
	return x;
}

static void make_certs(const char *ca_path, const char *ca_key_path)
{
	X509 *ca = load_cert(ca_path);
	EVP_PKEY *ca_key = load_key(ca_key_path);
	int64_t t0 = monotonic_ms();

	if (!ca || !ca_key)
		die("cannot read --ca-cert or --ca-key");
	g.key = EVP_EC_gen("P-256");
	if (!g.key)
		die("cannot make the nodes' key");
	g.certs = calloc(g.n, sizeof(*g.certs));
	if (!g.certs)
		die("out of memory");
	for (unsigned int i = 0; i < g.n; i++)
		g.certs[i] = node_cert(i + 1, ca, ca_key);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	printf("ready nodes=%u certs_ms=%lld\n", g.n, (long long)(monotonic_ms() - t0));
}

/* The node never reuses a TLS session (nor does the proxy offer one), and
 * needs no check of the proxy's certificate for a benchmark; X25519, as an
 * OpenSSL client offers first. */
static void make_ctx(void)
{
	g.ctx = SSL_CTX_new(TLS_client_method());
	if (!g.ctx || !SSL_CTX_set1_groups_list(g.ctx, "X25519"))
		die("cannot set up TLS");
	SSL_CTX_set_verify(g.ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(g.ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(g.ctx, SSL_OP_NO_TICKET);
	/* ten thousand idle connections must not each hold 32 KiB of buffers */
	SSL_CTX_set_mode(g.ctx,
			 SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

/* ---- the device every node exports: the sourcesink's identity */

static void make_hello(void)
{
	struct usbip_usb_device dev = {
		.path = "/sys/devices/scale",
		.busid = "1-1",
		.busnum = 1,
		.devnum = 1,
		.speed = USBIP_SPEED_HIGH,
		.id_vendor = 0x0525,
		.id_product = 0xa4a0,
		.bcd_device = 0x0100,
		.b_device_class = 0xff,
		.b_configuration_value = 1,
		.b_num_configurations = 1,
		.b_num_interfaces = 1,
	};
	struct usbip_usb_interface ifs[1] = { { 0xff, 0, 0 } };

	g.hello = ctl_hello_export(&dev, ifs, NULL, 0);
	if (!g.hello ||
	    usbip_encode_op_device(g.export_req, sizeof(g.export_req), USBIP_OP_REQ_EXPORT, 0, &dev) !=
		    (int)sizeof(g.export_req))
		die("cannot encode the export");
}

/* ---- a node's connection */

static void watch(struct snode *n, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = n };

	if (n->events == events)
		return;
	if (epoll_ctl(g.ep, n->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, n->fd, &ev) < 0)
		die("epoll_ctl failed");
	n->events = events;
}

static void inflight_done(struct snode *n)
{
	if (!n->inflight)
		return;
	n->inflight = 0;
	g.inflight--;
}

static void close_conn(struct snode *n)
{
	if (n->ssl)
		SSL_free(n->ssl);
	n->ssl = NULL;
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
	n->events = 0;
	buf_free(&n->head);
	buf_free(&n->text);
	buf_free(&n->out);
	if (n->phase == PH_UP)
		g.up--;
	n->phase = PH_IDLE;
	inflight_done(n);
}

static void schedule_retry(struct snode *n)
{
	if (n->link.state == LINK_STOPPED)
		timer_clear(n);
	else
		timer_set(n, n->link.retry_at);
}

/* Opening failed before the WebSocket was open: back off, as the node. */
static void connect_failed(struct snode *n, unsigned long long *counter)
{
	int64_t now = monotonic_ms();

	(*counter)++;
	close_conn(n);
	link_connect_failed(&n->link, now, rnd32(), 0);
	schedule_retry(n);
}

/* The open link went: resume within the scatter, as the node. */
static void lose(struct snode *n)
{
	int64_t now = monotonic_ms();

	g.c.lost++;
	close_conn(n);
	link_lost(&n->link, now, rnd32());
	schedule_retry(n);
}

static int flush(struct snode *n)
{
	while (buf_len(&n->out)) {
		int w = SSL_write(n->ssl, buf_data(&n->out), (int)buf_len(&n->out));

		if (w > 0) {
			buf_consume(&n->out, (size_t)w);
			continue;
		}
		switch (SSL_get_error(n->ssl, w)) {
		case SSL_ERROR_WANT_WRITE:
		case SSL_ERROR_WANT_READ: return 0;
		default: ERR_clear_error(); return -1;
		}
	}
	/* an idle node keeps no buffer */
	buf_free(&n->out);
	return 0;
}

static int queue_frame(struct snode *n, enum ws_opcode op, const void *data, size_t len)
{
	uint8_t hdr[WS_MAX_HEADER], mask[4];
	uint32_t m = rnd32();
	uint8_t *p;
	size_t hl;

	memcpy(mask, &m, sizeof(mask));
	hl = wsframe_header_encode(hdr, op, 1, len, mask);
	p = buf_reserve(&n->out, hl + len);
	if (!p)
		return -1;
	memcpy(p, hdr, hl);
	memcpy(p + hl, data, len);
	wsframe_mask(p + hl, len, mask, 0);
	buf_commit(&n->out, hl + len);
	return 0;
}

static int queue_text(struct snode *n, char *text)
{
	int rc = text ? queue_frame(n, WS_OP_TEXT, text, strlen(text)) : -1;

	free(text);
	return rc;
}

static int queue_export(struct snode *n)
{
	n->received = n->ack_sent = 0;
	n->rep_len = 0;
	if (queue_frame(n, WS_OP_TEXT, g.hello, strlen(g.hello)) < 0)
		return -1;
	return queue_frame(n, WS_OP_BINARY, g.export_req, sizeof(g.export_req));
}

/* When a quiet link gets the node's ping, as in usbws/node.c. */
static int64_t ping_due(const struct snode *n)
{
	int64_t quiet = g.ping_ms + (g.ping_timeout_ms - g.ping_ms) / 4;

	if (!g.ping_ms)
		return INT64_MAX;
	return (n->last_rx > n->last_ping ? n->last_rx : n->last_ping) + quiet;
}

static void arm_open(struct snode *n)
{
	int64_t when = n->last_rx + g.ping_timeout_ms;

	if (ping_due(n) < when)
		when = ping_due(n);
	if (n->ack_at && n->ack_at < when)
		when = n->ack_at;
	timer_set(n, when);
}

static void now_up(struct snode *n)
{
	int64_t now = monotonic_ms();

	n->phase = PH_UP;
	g.up++;
	inflight_done(n);
	if (link_has_session(&n->link) && n->received > n->ack_sent)
		n->ack_at = now + ACK_DELAY_MS;
	arm_open(n);
	if (!g.ramp_done && g.up == g.n) {
		double secs = (now - g.ramp_start) / 1000.0;

		g.ramp_done = 1;
		g.ramp_handshakes = g.c.handshakes;
		printf("all-up nodes=%u secs=%.3f handshakes=%llu rate=%.0f\n", g.n, secs, g.c.handshakes,
		       secs > 0 ? g.c.handshakes / secs : 0.0);
	}
	if (g.mark && !n->back) {
		n->back = 1;
		if (++g.back == g.n) {
			unsigned int max = 0;

			for (unsigned int i = 0; i < g.n; i++)
				if (g.nodes[i].handshakes > max)
					max = g.nodes[i].handshakes;
			printf("back-all ms=%lld handshakes=%llu per-node=%.2f max=%u\n",
			       (long long)(now - g.mark), g.c.handshakes - g.mark_handshakes,
			       (double)(g.c.handshakes - g.mark_handshakes) / g.n, max);
		}
	}
}

/* The WebSocket is open: resume the session, or export afresh. */
static int ws_open(struct snode *n)
{
	int64_t now = monotonic_ms();

	n->phase = PH_OPEN;
	n->last_rx = now;
	n->last_ping = now;
	n->ack_at = 0;
	buf_free(&n->head);
	wsframe_parser_init(&n->wp, 0, OUT_MAX);
	if (link_connected(&n->link, now) == LINK_RESUME)
		return queue_text(n, ctl_hello_resume(n->link.session, n->received, 0));
	return queue_export(n);
}

/* A control message from the proxy; returns -1 when the connection is
 * given up (the node is rescheduled). */
static int on_text(struct snode *n)
{
	const char *text = (const char *)buf_data(&n->text);
	size_t len = buf_len(&n->text);
	int64_t now = monotonic_ms();
	struct ctl_msg msg;
	char why[200];

	if (ctl_parse(text, len, &msg, why, sizeof(why)) < 0) {
		fprintf(stderr, "scalenodes: node %u: a malformed control message: %s\n", n->id, why);
		lose(n);
		return -1;
	}
	if (msg.type == CTL_WELCOME && n->phase == PH_OPEN) {
		link_welcome(&n->link, now, msg.session, msg.resume_seconds);
	} else if (msg.type == CTL_RESUMED && n->link.state == LINK_RESUMING) {
		link_resumed(&n->link, now);
		now_up(n);
	} else if (msg.type == CTL_ERROR && strcmp(msg.code, "no-session") == 0 && n->link.state == LINK_RESUMING) {
		g.c.no_session++;
		if (msg.fresh) {
			/* one handshake per reconnect: the export goes on this connection */
			g.c.fresh++;
			link_resume_refused_fresh(&n->link, now);
			buf_consume(&n->text, len);
			return queue_export(n);
		}
		close_conn(n);
		link_resume_refused(&n->link, now);
		schedule_retry(n);
		return -1;
	} else if (msg.type == CTL_ERROR) {
		g.c.other_error++;
		if (g.c.other_error <= 5)
			fprintf(stderr, "scalenodes: node %u: the proxy refused: %s (%s)\n", n->id, msg.message,
				msg.code);
		close_conn(n);
		link_export_refused(&n->link, now, rnd32());
		schedule_retry(n);
		return -1;
	}
	/* acks and anything else a node may ignore */
	buf_consume(&n->text, len);
	return 0;
}

/* The proxy's stream: its first 8 bytes answer the export. */
static int on_binary(struct snode *n, const uint8_t *p, size_t len)
{
	struct usbip_op_common op;
	size_t take;

	n->received += len;
	if (n->phase != PH_OPEN || n->link.state != LINK_UP || n->rep_len == sizeof(n->rep))
		return 0;
	take = len < sizeof(n->rep) - n->rep_len ? len : sizeof(n->rep) - n->rep_len;
	memcpy(n->rep + n->rep_len, p, take);
	n->rep_len += take;
	if (n->rep_len < sizeof(n->rep))
		return 0;
	if (usbip_op_common_decode(n->rep, sizeof(n->rep), &op) < 0 || op.code != USBIP_OP_REP_EXPORT ||
	    op.status != 0) {
		fprintf(stderr, "scalenodes: node %u: the export was refused\n", n->id);
		g.c.other_error++;
		lose(n);
		return -1;
	}
	now_up(n);
	return 0;
}

static int on_frames(struct snode *n, uint8_t *p, size_t len)
{
	struct ws_event ev;
	size_t used;
	int rc;

	while ((rc = wsframe_parse(&n->wp, p, len, &used, &ev)) != 0) {
		p += used;
		len -= used;
		if (rc < 0) {
			lose(n);
			return -1;
		}
		if (ev.type == WS_EV_DATA && ev.opcode == WS_OP_TEXT) {
			if (buf_append(&n->text, ev.u.data.ptr, ev.u.data.len) < 0) {
				lose(n);
				return -1;
			}
		} else if (ev.type == WS_EV_DATA) {
			if (on_binary(n, ev.u.data.ptr, ev.u.data.len) < 0)
				return -1;
		} else if (ev.type == WS_EV_MESSAGE_END && ev.opcode == WS_OP_TEXT) {
			if (on_text(n) < 0)
				return -1;
		} else if (ev.type == WS_EV_CONTROL && ev.opcode == WS_OP_PING) {
			if (queue_frame(n, WS_OP_PONG, ev.u.control.payload, ev.u.control.len) < 0) {
				lose(n);
				return -1;
			}
		} else if (ev.type == WS_EV_CONTROL && ev.opcode == WS_OP_CLOSE) {
			lose(n);
			return -1;
		}
	}
	return 0;
}

static int on_head(struct snode *n, uint8_t *p, size_t len)
{
	size_t hl;

	if (buf_append(&n->head, p, len) < 0) {
		connect_failed(n, &g.c.upgrade);
		return -1;
	}
	hl = httpreply_head_len((const char *)buf_data(&n->head), buf_len(&n->head));
	if (!hl)
		return 0;
	if (httpreply_upgrade((const char *)buf_data(&n->head), hl, WS_ACCEPT, USBWS_SUBPROTOCOL) < 0) {
		connect_failed(n, &g.c.upgrade);
		return -1;
	}
	/* frames may follow the head in the same read */
	len = buf_len(&n->head) - hl;
	memmove(p, buf_data(&n->head) + hl, len);
	if (ws_open(n) < 0) {
		lose(n);
		return -1;
	}
	return len ? on_frames(n, p, len) : 0;
}

static void read_some(struct snode *n)
{
	static uint8_t rx[16384];

	while (n->fd >= 0) {
		int r = SSL_read(n->ssl, rx, sizeof(rx));

		if (r <= 0) {
			int e = SSL_get_error(n->ssl, r);

			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return;
			ERR_clear_error();
			if (n->phase == PH_UPGRADE)
				connect_failed(n, &g.c.upgrade);
			else
				lose(n);
			return;
		}
		n->last_rx = monotonic_ms();
		if (n->phase == PH_UPGRADE ? on_head(n, rx, (size_t)r) < 0 : on_frames(n, rx, (size_t)r) < 0)
			return;
	}
}

static void send_upgrade(struct snode *n)
{
	char req[400];
	int len = snprintf(req, sizeof(req),
			   "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			   "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n"
			   "Sec-WebSocket-Protocol: " USBWS_SUBPROTOCOL "\r\n\r\n",
			   USBWS_PATH, inet_ntoa(g.proxy.sin_addr), ntohs(g.proxy.sin_port));

	buf_append(&n->out, req, (size_t)len);
	n->phase = PH_UPGRADE;
}

static void handshake(struct snode *n)
{
	int r = SSL_connect(n->ssl);

	if (r == 1) {
		g.c.handshakes++;
		n->handshakes++;
		send_upgrade(n);
		return;
	}
	switch (SSL_get_error(n->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE: return;
	default: ERR_clear_error(); connect_failed(n, &g.c.tls);
	}
}

static void start_tls(struct snode *n)
{
	n->ssl = SSL_new(g.ctx);
	if (!n->ssl || !SSL_set_fd(n->ssl, n->fd) || SSL_use_certificate(n->ssl, g.certs[n->id - 1]) != 1 ||
	    SSL_use_PrivateKey(n->ssl, g.key) != 1)
		die("cannot set up a node's TLS");
	n->phase = PH_TLS;
	handshake(n);
}

static void start_connect(struct snode *n)
{
	unsigned int src = (n->id - 1) % g.sources + 1;
	struct sockaddr_in from = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(0x7f010000u | src),
	};
	int one = 1;

	g.c.connects++;
	n->inflight = 1;
	g.inflight++;
	n->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (n->fd < 0)
		die("out of sockets (raise the hard RLIMIT_NOFILE)");
	setsockopt(n->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	setsockopt(n->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(n->fd, (struct sockaddr *)&from, sizeof(from)) < 0)
		die("cannot bind a source address in 127.1.0.0/16");
	n->connect_by = monotonic_ms() + g.connect_timeout_ms;
	timer_set(n, n->connect_by);
	if (connect(n->fd, (struct sockaddr *)&g.proxy, sizeof(g.proxy)) < 0 && errno != EINPROGRESS) {
		connect_failed(n, &g.c.refused);
		return;
	}
	n->phase = PH_CONNECTING;
	watch(n, EPOLLOUT);
}

/* What epoll should watch, and when the node's timer fires, for its phase. */
static void rewatch(struct snode *n)
{
	uint32_t ev = EPOLLIN;

	if (n->fd < 0)
		return;
	if (n->phase == PH_CONNECTING || buf_len(&n->out) || (n->ssl && SSL_want_write(n->ssl)))
		ev |= EPOLLOUT;
	watch(n, ev);
	if (n->phase == PH_OPEN || n->phase == PH_UP)
		arm_open(n);
}

static void on_event(struct snode *n, uint32_t events)
{
	if (n->fd < 0)
		return;
	if (n->phase == PH_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		getsockopt(n->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			connect_failed(n, &g.c.refused);
			return;
		}
		start_tls(n);
	} else if (n->phase == PH_TLS) {
		handshake(n);
	}
	if (n->fd >= 0 && n->phase >= PH_UPGRADE && flush(n) < 0) {
		if (n->phase == PH_UPGRADE)
			connect_failed(n, &g.c.upgrade);
		else
			lose(n);
	}
	if (n->fd >= 0 && n->phase >= PH_UPGRADE && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		read_some(n);
	/* what the frames answered (pongs, an export) goes at once */
	if (n->fd >= 0 && n->phase >= PH_UPGRADE && buf_len(&n->out) && flush(n) < 0)
		lose(n);
	rewatch(n);
}

/* ---- timers */

static void due_to_connect(struct snode *n)
{
	if (!g.ramp_done && g.inflight >= g.max_inflight) {
		/* the ramp's cap: wait in line */
		timer_clear(n);
		n->queued = 1;
		g.queue[(g.q_head + g.q_len++) % g.n] = n;
		return;
	}
	start_connect(n);
}

static void on_timer(struct snode *n, int64_t now)
{
	switch (n->phase) {
	case PH_IDLE:
		if (n->link.state == LINK_STOPPED) {
			timer_clear(n);
			return;
		}
		for (;;) {
			enum link_action act = link_due(&n->link, now, 1);

			if (act == LINK_CONNECT) {
				due_to_connect(n);
			} else if (act == LINK_RELEASE) {
				continue;
			} else if (act == LINK_STOP) {
				timer_clear(n);
			} else {
				timer_set(n, n->link.retry_at);
			}
			return;
		}
	case PH_CONNECTING:
	case PH_TLS:
	case PH_UPGRADE: connect_failed(n, &g.c.timeouts); return;
	case PH_OPEN:
	case PH_UP:
		if (now - n->last_rx >= g.ping_timeout_ms) {
			g.c.timeouts++;
			lose(n);
			return;
		}
		link_tick(&n->link, now);
		if (now >= ping_due(n)) {
			n->last_ping = now;
			queue_frame(n, WS_OP_PING, NULL, 0);
		}
		if (n->ack_at && now >= n->ack_at) {
			n->ack_at = 0;
			n->ack_sent = n->received;
			queue_text(n, ctl_ack(n->received));
		}
		if (flush(n) < 0) {
			lose(n);
			return;
		}
		rewatch(n);
		return;
	}
}

static void run_timers(void)
{
	int64_t now = monotonic_ms();

	while (g.heap_len && g.heap[0]->deadline <= now)
		on_timer(g.heap[0], now);
	/* the ramp: a finished handshake lets the next in line start */
	while (g.q_len && (g.ramp_done || g.inflight < g.max_inflight)) {
		struct snode *n = g.queue[g.q_head];

		g.q_head = (g.q_head + 1) % g.n;
		g.q_len--;
		n->queued = 0;
		if (n->phase == PH_IDLE)
			start_connect(n);
	}
}

/* ---- signals and the loop */

static void status(void)
{
	printf("status up=%u inflight=%u queued=%zu connects=%llu handshakes=%llu lost=%llu refused=%llu "
	       "timeouts=%llu tls=%llu upgrade=%llu no-session=%llu fresh=%llu errors=%llu\n",
	       g.up, g.inflight, g.q_len, g.c.connects, g.c.handshakes, g.c.lost, g.c.refused, g.c.timeouts,
	       g.c.tls, g.c.upgrade, g.c.no_session, g.c.fresh, g.c.other_error);
}

static int on_signal(int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGUSR1) {
			status();
		} else if (si.ssi_signo == SIGUSR2) {
			g.mark = monotonic_ms();
			g.mark_handshakes = g.c.handshakes;
			g.back = 0;
			for (unsigned int i = 0; i < g.n; i++)
				g.nodes[i].back = g.nodes[i].handshakes = 0;
			printf("mark\n");
		} else {
			return 1;
		}
	}
	return 0;
}

static int run(void)
{
	struct epoll_event evs[256];
	sigset_t set;
	int sfd;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	g.ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || g.ep < 0 ||
	    epoll_ctl(g.ep, EPOLL_CTL_ADD, sfd, &(struct epoll_event){ .events = EPOLLIN, .data.ptr = NULL }) < 0)
		die("cannot set up epoll");
	g.ramp_start = monotonic_ms();
	for (unsigned int i = 0; i < g.n; i++)
		timer_set(&g.nodes[i], g.ramp_start);
	for (;;) {
		int timeout = -1, k;

		run_timers();
		if (g.heap_len) {
			int64_t wait = g.heap[0]->deadline - monotonic_ms();

			timeout = wait < 0 ? 0 : wait > 1000 ? 1000 : (int)wait;
		}
		k = epoll_wait(g.ep, evs, 256, timeout);
		if (k < 0 && errno != EINTR)
			die("epoll_wait failed");
		for (int i = 0; i < k; i++) {
			if (!evs[i].data.ptr) {
				if (on_signal(sfd)) {
					status();
					return 0;
				}
				continue;
			}
			on_event(evs[i].data.ptr, evs[i].events);
		}
	}
}

static unsigned int number(const char *opt, const char *s, unsigned long long min, unsigned long long max)
{
	unsigned long long v;

	if (numarg_parse(s, min, max, 0, &v) < 0) {
		fprintf(stderr, "scalenodes: --%s needs a number from %llu to %llu, not '%s'\n", opt, min, max, s);
		exit(1);
	}
	return (unsigned int)v;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit failed");
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("cannot raise RLIMIT_NOFILE to its hard limit");
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)g.n + FD_SLACK) {
		fprintf(stderr, "scalenodes: %u nodes need %u descriptors; the hard limit is %llu (ulimit -Hn)\n",
			g.n, g.n + FD_SLACK, (unsigned long long)rl.rlim_max);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "ca-cert", required_argument, NULL, 'C' },
		{ "ca-key", required_argument, NULL, 'K' },
		{ "nodes", required_argument, NULL, 'n' },
		{ "sources", required_argument, NULL, 's' },
		{ "max-inflight", required_argument, NULL, 'm' },
		{ "ping-interval", required_argument, NULL, 'i' },
		{ "ping-timeout", required_argument, NULL, 't' },
		{ "backoff-max", required_argument, NULL, 'b' },
		{ "connect-timeout", required_argument, NULL, 'T' },
		{ 0 },
	};
	const char *target = NULL, *ca = NULL, *ca_key = NULL;
	unsigned int backoff_max = 30;
	char host[64], *colon;
	int c;

	g.sources = 64;
	g.max_inflight = 128;
	g.ping_ms = 15000;
	g.ping_timeout_ms = 45000;
	g.connect_timeout_ms = 10000;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': target = optarg; break;
		case 'C': ca = optarg; break;
		case 'K': ca_key = optarg; break;
		case 'n': g.n = number("nodes", optarg, 1, 100000); break;
		case 's': g.sources = number("sources", optarg, 1, 65534); break;
		case 'm': g.max_inflight = number("max-inflight", optarg, 1, 100000); break;
		case 'i': g.ping_ms = 1000LL * number("ping-interval", optarg, 0, 3600); break;
		case 't': g.ping_timeout_ms = 1000LL * number("ping-timeout", optarg, 1, 3600); break;
		case 'b': backoff_max = number("backoff-max", optarg, 1, 3600); break;
		case 'T': g.connect_timeout_ms = 1000LL * number("connect-timeout", optarg, 1, 3600); break;
		default: return 1;
		}
	}
	if (!target || !ca || !ca_key || !g.n || optind != argc) {
		fprintf(stderr,
			"usage: scalenodes --connect IP:PORT --ca-cert F --ca-key F --nodes N [--sources K] "
			"[--max-inflight C] [--ping-interval S] [--ping-timeout S] [--backoff-max S] "
			"[--connect-timeout S]\n");
		return 1;
	}
	snprintf(host, sizeof(host), "%s", target);
	colon = strrchr(host, ':');
	g.proxy.sin_family = AF_INET;
	if (!colon || (*colon = '\0', inet_pton(AF_INET, host, &g.proxy.sin_addr) != 1))
		die("--connect needs IPv4-ADDRESS:PORT");
	g.proxy.sin_port = htons((uint16_t)number("connect", colon + 1, 1, 65535));
	g.policy = (struct link_policy){
		.backoff_first_ms = BACKOFF_FIRST_MS,
		.backoff_max_ms = (int64_t)backoff_max * 1000,
		.backoff_reset_ms = BACKOFF_RESET_MS,
		.scatter_ms = BACKOFF_FIRST_MS,
	};
	g.rnd = (uint64_t)monotonic_us() * 0x9E3779B97F4A7C15ULL | 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	g.nodes = calloc(g.n, sizeof(*g.nodes));
	g.heap = calloc(g.n, sizeof(*g.heap));
	g.queue = calloc(g.n, sizeof(*g.queue));
	if (!g.nodes || !g.heap || !g.queue)
		die("out of memory");
	make_hello();
	make_ctx();
	make_certs(ca, ca_key);
	for (unsigned int i = 0; i < g.n; i++) {
		struct snode *n = &g.nodes[i];

		n->id = i + 1;
		n->fd = -1;
		link_init(&n->link, &g.policy, monotonic_ms());
		buf_init(&n->head, 0, HTTPREPLY_MAX_HEAD);
		buf_init(&n->text, 0, TEXT_MAX);
		buf_init(&n->out, 0, OUT_MAX);
	}
	return run();
}
