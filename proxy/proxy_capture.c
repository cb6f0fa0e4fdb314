/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Captures: a tunnel's cleartext USB/IP, both ways, as pcapng
 * (usbip_pcapng.h), into --capture DIR (a file per tunnel, from its export
 * to its end) or to `usbws capture` (a pipe whose read end proxy.sock hands
 * the client, from its request until it stops).
 *
 * Every byte of a tunnel's URB stream passes proxy_capture_relay, on the
 * tunnel's thread, and so does every capture of it: its writer, its
 * buffer and its descriptor are the tunnel's, with no lock, and go along
 * when the tunnel moves to another thread.  proxy.sock (threads[0]) starts
 * and stops a capture by a message in the tunnel's mailbox, and learns of
 * its start and end by one in its own; px->capture_slots is how it finds
 * the tunnel meanwhile.
 *
 * A file is written as the stream goes, each write whole (a regular file
 * may block briefly, as a disk does).  A pipe is never waited for: what
 * its reader has not taken waits in a bounded buffer, and while that holds
 * more than PROXY_CAPTURE_BACKLOG new messages are left out and counted;
 * past PROXY_CAPTURE_LIMIT the capture ends.  A write that fails (a full
 * disk, a reader gone) ends the capture with a line saying so: the tunnel
 * never notices.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/monoclock.h"
#include "base/usbws_err.h"
#include "proxy.h"
#include "proxy_int.h"
#include "usbip/relay.h"

/* A capture that has ended keeps trying to hand its last bytes to a slow
 * reader for this long. */
#define CAPTURE_LINGER_MS 5000
/* What a pipe holds before a write to it would wait: a reader that keeps
 * up never makes the capture leave anything out. */
#define CAPTURE_PIPE_SIZE (1 << 20)

enum capture_end {
	END_STOPPED, /* usbws capture asked */
	END_COUNT,   /* its --count is reached */
	END_GONE,    /* the tunnel ended */
	END_FAILED,  /* a write, or memory, failed: why */
};

struct proxy_capture {
	struct proxy_capture *next;
	uint64_t id;    /* usbws capture's; 0: --capture DIR's */
	uint64_t count; /* packets it ends after; 0: no end */
	int fd;
	struct usbip_pcapng w;
	struct ring out; /* blocks not written yet */
	int error;       /* the writer's first failure */
	int ending;      /* finished; its last bytes still on their way */
	int64_t ending_since;
	enum capture_end end;
	char why[160];   /* for END_FAILED */
	char where[320]; /* for log lines: "into DIR/FILE", "for usbws capture" */
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int proxy_capture_open_dir(struct proxy *px, char *why, size_t why_cap)
{
	const char *dir = px->cfg->capture_dir;
	struct passwd *pw;
	int e;

	px->capture_dir = -1;
	if (!dir)
		return 0;
	/* O_PATH: a directory this user may write but not list is fine */
	px->capture_dir = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (px->capture_dir < 0)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "--capture %s: %s", dir,
				 errno == ENOTDIR ? "not a directory" : strerror(errno));
	if (faccessat(px->capture_dir, ".", W_OK | X_OK, AT_EACCESS) == 0)
		return 0;
	e = errno;
	pw = getpwuid(geteuid());
	usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "--capture %s: cannot write there as user %s: %s", dir,
		  pw ? pw->pw_name : "?", strerror(e));
	close(px->capture_dir);
	px->capture_dir = -1;
	return USBWS_ERR_SYSTEM;
}

void proxy_capture_close_dir(struct proxy *px)
{
	if (px->capture_dir >= 0)
		close(px->capture_dir);
	px->capture_dir = -1;
}

static struct proxy_capture_slot *find_slot(struct proxy *px, uint64_t id)
{
	unsigned int i;

	for (i = 0; id && i < PROXY_MAX_CAPTURES; i++)
		if (px->capture_slots[i].id == id)
			return &px->capture_slots[i];
	return NULL;
}

/* What waits goes to the descriptor, as far as it takes it.  Returns 0, or
 * USBWS_ERR_SYSTEM with errno. */
static int flush(struct proxy_capture *c)
{
	const uint8_t *p;
	size_t n;
	ssize_t w;

	while (ring_len(&c->out)) {
		p = ring_peek(&c->out, 0, &n);
		w = write(c->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return 0;
		if (w < 0)
			return USBWS_ERR_SYSTEM;
		ring_consume(&c->out, (size_t)w);
	}
	return 0;
}

static void fail(struct proxy_capture *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct proxy_capture *c, const char *fmt, ...)
{
	va_list ap;

	if (c->end == END_FAILED)
		return;
	c->end = END_FAILED;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

static const char *end_text(const struct tunnel *t, const struct proxy_capture *c, char *buf, size_t cap)
{
	switch (c->end) {
	case END_STOPPED: return "stopped";
	case END_COUNT:
		snprintf(buf, cap, "its count of %llu packets is reached", (unsigned long long)c->count);
		return buf;
	case END_GONE: return t->px->stopping ? "the proxy is stopping" : "the device's tunnel ended";
	case END_FAILED: return c->why;
	}
	return "?";
}

/* The end is said: a log line, and for usbws capture a message to
 * threads[0], where its client waits; the capture goes. */
static void report(struct tunnel *t, struct proxy_capture *c)
{
	const struct usbip_pcapng_stats *s = &c->w.stats;
	struct proxy *px = t->px;
	struct proxy_capture_slot *slot;
	struct proxy_msg *m;
	char buf[64], left_out[160] = "", lost[80] = "";
	const char *why = end_text(t, c, buf, sizeof(buf));

	if (s->dropped)
		snprintf(left_out, sizeof(left_out), "; %llu left out, as its reader fell %u KiB behind",
			 (unsigned long long)s->dropped, PROXY_CAPTURE_BACKLOG >> 10);
	if (ring_len(&c->out))
		snprintf(lost, sizeof(lost), "; its last %zu bytes could not be written", ring_len(&c->out));
	if (c->end == END_FAILED)
		log_warn("node %s: capture of busid %s %s stopped: %s (the tunnel goes on); %llu packets%s%s",
			 t->node, t->busid, c->where, why, (unsigned long long)s->packets, left_out, lost);
	else
		log_info("node %s: capture of busid %s %s ended (%s): %llu packets in %llu frames, %llu bytes%s%s",
			 t->node, t->busid, c->where, why, (unsigned long long)s->packets,
			 (unsigned long long)s->frames, (unsigned long long)s->bytes, left_out, lost);
	if (!c->id)
		return;
	proxy_thread_lock(px);
	slot = find_slot(px, c->id);
	if (slot)
		slot->t = NULL;
	m = proxy_thread_msg_new(PROXY_MSG_CAPTURED);
	if (m) {
		m->capture_id = c->id;
		m->failed = c->end == END_FAILED;
		m->capture = *s;
		m->unwritten = ring_len(&c->out);
		snprintf(m->why, sizeof(m->why), "%s", why);
		proxy_thread_post(&px->threads[0], m);
	}
	proxy_thread_unlock(px);
}

static void unlink_capture(struct tunnel *t, struct proxy_capture *c)
{
	struct proxy_capture **pp;

	for (pp = &t->captures; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			return;
		}
}

static void capture_free(struct proxy_capture *c)
{
	if (c->fd >= 0)
		close(c->fd);
	usbip_pcapng_free(&c->w);
	ring_free(&c->out);
	free(c);
}

/* The capture is over: its close goes into the stream, and what waits goes
 * out, now or (a pipe, unless linger is 0) within CAPTURE_LINGER_MS. */
static void finish(struct tunnel *t, struct proxy_capture *c, enum capture_end end, int linger)
{
	if (!c->ending) {
		if (c->end != END_FAILED)
			c->end = end;
		c->ending = 1;
		c->ending_since = monotonic_ms();
		if (c->end != END_FAILED && usbip_pcapng_finish(&c->w, now_us(), &c->out) < 0)
			fail(c, "it fell more than %u MiB behind its reader", PROXY_CAPTURE_LIMIT >> 20);
	}
	/* after a failure too: what waits is whole blocks, a valid file */
	if (flush(c) < 0 && c->end != END_FAILED)
		fail(c, "cannot write: %s", errno == EPIPE ? "its reader went away" : strerror(errno));
	if (c->end != END_FAILED && ring_len(&c->out) && linger &&
	    monotonic_ms() - c->ending_since < CAPTURE_LINGER_MS)
		return;
	unlink_capture(t, c);
	report(t, c);
	capture_free(c);
}

/* After t's stream moved: each capture writes what it has, and ends when
 * its writer failed or its count is reached. */
static void after_relay(struct tunnel *t)
{
	struct proxy_capture *c, *next;

	for (c = t->captures; c; c = next) {
		next = c->next;
		if (c->ending) {
			finish(t, c, c->end, 1);
			continue;
		}
		if (c->error == USBWS_ERR_NOSPACE)
			fail(c, "it fell more than %u MiB behind its reader", PROXY_CAPTURE_LIMIT >> 20);
		else if (c->error < 0)
			fail(c, "%s", usbws_strerror(c->error));
		else if (flush(c) < 0)
			fail(c, "cannot write: %s", errno == EPIPE ? "its reader went away" : strerror(errno));
		if (c->end == END_FAILED)
			finish(t, c, END_FAILED, 0);
		else if (usbip_pcapng_done(&c->w))
			finish(t, c, END_COUNT, 1);
	}
}

struct tap_ctx {
	struct tunnel *t;
	enum usbip_flow flow;
	uint64_t now_us;
};

static void tap_event(void *ctx, const struct usbip_event *ev)
{
	struct tap_ctx *tap = ctx;
	struct proxy_capture *c;
	int rc;

	for (c = tap->t->captures; c; c = c->next) {
		if (c->ending || c->error)
			continue;
		rc = usbip_pcapng_event(&c->w, tap->flow, ev, tap->now_us, &c->out);
		if (rc < 0)
			c->error = rc;
	}
}

int proxy_capture_relay(struct tunnel *t, enum usbip_flow flow, const uint8_t *in, size_t len, struct ring *out,
			int (*on_op)(void *ctx, const struct usbip_event *ev), void *ctx)
{
	struct usbip_framer *f = flow == USBIP_FLOW_TO_DEVICE ? &t->to_node : &t->from_node;
	struct tap_ctx tap_ctx = { t, flow, 0 };
	struct relay_tap tap = { tap_event, &tap_ctx };
	int rc;

	if (!t->captures)
		return relay_chunk(f, in, len, out, on_op, ctx);
	tap_ctx.now_us = now_us();
	rc = relay_chunk_tap(f, in, len, out, on_op, ctx, &tap);
	after_relay(t);
	return rc;
}

/* A capture of t into fd, started: its headers are written.  NULL after
 * closing fd, with why filled. */
static struct proxy_capture *capture_new(struct tunnel *t, int fd, uint64_t id, uint64_t count, const char *where,
					 char *why, size_t why_cap)
{
	const struct usbip_pcapng_config cfg = {
		.backlog_max = PROXY_CAPTURE_BACKLOG,
		.max_packets = count,
		/* as many as the validator lets be in flight: submits and unlinks */
		.max_tracked = 2 * USBIP_DEFAULT_MAX_INFLIGHT,
	};
	struct proxy_capture *c = calloc(1, sizeof(*c));
	char comment[400];

	if (!c) {
		close(fd);
		usbws_why(why, why_cap, USBWS_ERR_NOMEM, "out of memory");
		return NULL;
	}
	c->fd = fd;
	c->id = id;
	c->count = count;
	snprintf(c->where, sizeof(c->where), "%s", where);
	usbip_pcapng_init(&c->w, &cfg);
	ring_init(&c->out, 0, PROXY_CAPTURE_LIMIT);
	snprintf(comment, sizeof(comment),
		 "busid %s of node %s (its %s, %04x:%04x); 192.0.2.1:49152 is the importer's side (vhci_hcd or a "
		 "USB/IP client), 192.0.2.2:3240 the node's",
		 t->busid, t->node, t->node_busid, t->dev.id_vendor, t->dev.id_product);
	if (usbip_pcapng_start(&c->w, "usbws-proxy " PACKAGE_VERSION, comment, now_us(), &c->out) < 0) {
		usbws_why(why, why_cap, USBWS_ERR_NOMEM, "out of memory");
		capture_free(c);
		return NULL;
	}
	if (flush(c) < 0) {
		usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "cannot write: %s", strerror(errno));
		capture_free(c);
		return NULL;
	}
	c->next = t->captures;
	t->captures = c;
	return c;
}

/* The part of a name that came from a peer, as the file name holds it:
 * each byte outside [A-Za-z0-9._-] as '_'. */
static void name_part(char *out, size_t cap, const char *in)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < cap; i++)
		out[i] = strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-", in[i]) ? in[i]
													    : '_';
	out[i] = '\0';
}

void proxy_capture_exported(struct tunnel *t)
{
	struct proxy *px = t->px;
	char node[CERTID_MAX + 1], when[32], name[160], where[sizeof(name) + 256], why[200];
	time_t now = time(NULL);
	struct tm tm;
	int fd = -1, i;

	if (px->capture_dir < 0 || t->closing)
		return;
	name_part(node, sizeof(node), t->node);
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
	/* the same device again within a second (a replacement) gets its own */
	for (i = 1; i < 100 && fd < 0; i++) {
		if (i == 1)
			snprintf(name, sizeof(name), "%s_%s_%s.pcapng", t->busid, node, when);
		else
			snprintf(name, sizeof(name), "%s_%s_%s-%d.pcapng", t->busid, node, when, i);
		fd = openat(px->capture_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	snprintf(where, sizeof(where), "into %s/%s", px->cfg->capture_dir, name);
	if (fd < 0) {
		log_warn("node %s: cannot capture busid %s: cannot create %s/%s: %s (the tunnel goes on)", t->node,
			 t->busid, px->cfg->capture_dir, name, strerror(errno));
		return;
	}
	if (!capture_new(t, fd, 0, 0, where, why, sizeof(why))) {
		log_warn("node %s: cannot capture busid %s %s: %s (the tunnel goes on)", t->node, t->busid, where,
			 why);
		return;
	}
	log_info("node %s: capturing busid %s %s", t->node, t->busid, where);
}

int proxy_capture_trim(struct tunnel *t)
{
	struct proxy_capture *c;
	int waiting = 0;

	if (!t->captures)
		return 0;
	after_relay(t);
	for (c = t->captures; c; c = c->next) {
		if (!c->ending)
			usbip_pcapng_trim(&c->w);
		ring_trim(&c->out);
		waiting |= ring_len(&c->out) != 0;
	}
	return waiting;
}

void proxy_capture_tunnel_gone(struct tunnel *t)
{
	struct proxy *px = t->px;
	struct proxy_msg *m;
	unsigned int i;

	while (t->captures)
		finish(t, t->captures, END_GONE, 0);
	/* asked for, its start still in t's mailbox: it never starts */
	for (i = 0; i < PROXY_MAX_CAPTURES; i++) {
		if (!px->capture_slots[i].id || px->capture_slots[i].t != t)
			continue;
		px->capture_slots[i].t = NULL;
		m = proxy_thread_msg_new(PROXY_MSG_CAPTURED);
		if (!m)
			continue;
		m->capture_id = px->capture_slots[i].id;
		snprintf(m->why, sizeof(m->why), "device %s went away", t->busid);
		proxy_thread_post(&px->threads[0], m);
	}
}

/* CAPTURE, on t's thread: the pipe m holds becomes a capture of t. */
static void start_requested(struct proxy_msg *m)
{
	struct tunnel *t = m->t;
	struct proxy *px = t->px;
	struct proxy_capture_slot *slot = find_slot(px, m->capture_id);
	struct proxy_msg *reply;
	char why[240];
	int fd = m->fd;

	/* its slot went with its tunnel: the message should have too */
	if (!slot || slot->t != t)
		return;
	reply = proxy_thread_msg_new(PROXY_MSG_CAPTURED);
	if (!reply)
		return;
	reply->capture_id = m->capture_id;
	if (t->closing || !t->exported) {
		snprintf(reply->why, sizeof(reply->why), "device %s is going away", t->busid);
	} else {
		m->fd = -1;
		if (capture_new(t, fd, m->capture_id, m->count, "for usbws capture", why, sizeof(why))) {
			reply->started = 1;
			log_info("node %s: capturing busid %s for usbws capture", t->node, t->busid);
		} else {
			snprintf(reply->why, sizeof(reply->why), "cannot capture %s: %s", t->busid, why);
		}
	}
	if (!reply->started)
		slot->t = NULL;
	proxy_thread_post(&px->threads[0], reply);
}

void proxy_capture_message(struct proxy_thread *th, struct proxy_msg *m)
{
	struct proxy *px = th->px;
	struct proxy_capture_slot *slot;
	struct proxy_capture *c;

	switch (m->kind) {
	case PROXY_MSG_CAPTURE: start_requested(m); return;
	case PROXY_MSG_CAPTURE_STOP:
		for (c = m->t->captures; c; c = c->next)
			if (c->id == m->capture_id && !c->ending) {
				finish(m->t, c, END_STOPPED, 1);
				/* an idle tunnel's tick would not come back to a
				 * capture left waiting on a full pipe */
				proxy_tunnel_busy(m->t);
				break;
			}
		return;
	case PROXY_MSG_CAPTURED:
		slot = find_slot(px, m->capture_id);
		if (!slot)
			return;
		if (m->started) {
			if (slot->client)
				proxy_control_capture_started(slot->client);
			return;
		}
		if (slot->client)
			proxy_control_capture_ended(slot->client, m);
		memset(slot, 0, sizeof(*slot));
		return;
	default: return;
	}
}

int64_t proxy_capture_request(struct tunnel *t, struct lws *client, uint64_t count, int *read_fd, char *why,
			      size_t why_cap)
{
	struct proxy *px = t->px;
	struct proxy_capture_slot *slot = NULL;
	struct proxy_msg *m;
	unsigned int i;
	int p[2];

	for (i = 0; i < PROXY_MAX_CAPTURES && !slot; i++)
		if (!px->capture_slots[i].id)
			slot = &px->capture_slots[i];
	if (!slot)
		return usbws_why(why, why_cap, USBWS_ERR_BUSY,
				 "%d captures are running, the most this proxy runs at once: stop one first",
				 PROXY_MAX_CAPTURES);
	if (pipe2(p, O_CLOEXEC) < 0)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "cannot make the capture's pipe: %s",
				 strerror(errno));
	/* the proxy's end never waits; the reader's may */
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	fcntl(p[1], F_SETPIPE_SZ, CAPTURE_PIPE_SIZE);
	m = proxy_thread_msg_new(PROXY_MSG_CAPTURE);
	if (!m) {
		close(p[0]);
		close(p[1]);
		return usbws_why(why, why_cap, USBWS_ERR_NOMEM, "out of memory");
	}
	*slot = (struct proxy_capture_slot){ .id = ++px->capture_next_id, .t = t, .client = client };
	m->t = t;
	m->fd = p[1];
	m->capture_id = slot->id;
	m->count = count;
	proxy_thread_post(t->th, m);
	*read_fd = p[0];
	return (int64_t)slot->id;
}

void proxy_capture_client_stop(struct proxy *px, uint64_t id)
{
	struct proxy_capture_slot *slot = find_slot(px, id);
	struct proxy_msg *m;

	if (!slot || !slot->t)
		return;
	m = proxy_thread_msg_new(PROXY_MSG_CAPTURE_STOP);
	if (!m)
		return;
	m->t = slot->t;
	m->capture_id = id;
	proxy_thread_post(slot->t->th, m);
}

void proxy_capture_client_gone(struct proxy *px, uint64_t id)
{
	struct proxy_capture_slot *slot = find_slot(px, id);

	if (!slot)
		return;
	slot->client = NULL;
	if (slot->t)
		proxy_capture_client_stop(px, id);
	else
		memset(slot, 0, sizeof(*slot));
}
