/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The node's side of the tunnel: a WebSocket client (wsclient) that proves
 * its identity with its certificate and exports one device: a virtual one
 * run here (vdev_stream) or a kernel one behind a socketpair (kdev), each
 * behind export_ops.  The export outlives its connections: pings find a
 * dead link, reconnects back off with jitter, and a session the proxy still
 * holds resumes from the byte it has (resume.h), the device untouched.
 * When to connect, resume, back off or give up is decided by link.h; this
 * file does the I/O it asks for.  A
 * control socket answers `usbws status` and `usbws disconnect`.  The same
 * connection code asks a proxy for its listing.  Frames are parsed in
 * blocks by wsframe: libwebsockets 4.1's client parser went byte by byte
 * and capped bulk OUT throughput.
 */
#include "node.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tunnel/ctl.h"
#include "net/ctlsock.h"
#include "kernel/kdev.h"
#include "base/log.h"
#include "base/monoclock.h"
#include "base/privdrop.h"
#include "tunnel/resume.h"
#include "base/usbws_err.h"
#include "vdev/vdev_stream.h"
#include "net/svcnotify.h"
#include "node_metrics.h"
#include "net/wsclient.h"

#include "link.h"

#define NODE_RX_CHUNK (64u << 10)
#define NODE_MAX_TRANSFER (1u << 20)
#define UNEXPORT_GRACE_SECONDS 3
#define POLL_MS 250
/* What the watchdog allows a dial: this many --connect-timeouts (the
 * addresses, the CONNECT proxy, TLS) and this much for DNS. */
#define NODE_DIAL_WATCHDOG_TIMEOUTS 4
#define NODE_DIAL_WATCHDOG_SLACK_S 60
/* how often the loop reports what it does (systemd's status and watchdog,
 * the copy /metrics serves): so stale they may be, and never at every
 * turn of a busy loop */
#define NODE_REPORT_EVERY_MS 500
#define CLOSE_FLUSH_MS 1000

/* The link's policy (link.h): the first wait, and how long a link must
 * last for the backoff to start over */
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_RESET_MS 10000

enum node_mode { MODE_EXPORT, MODE_LIST };

/* What becomes of the connection once the parser is done with it: given
 * up, or (DROP_FRESH_EXPORT) kept for an export afresh. */
enum node_drop { DROP_NONE, DROP_SESSION_GONE, DROP_REFUSED, DROP_FRESH_EXPORT };

struct export;

/* The exported device: what it is, and how its URB stream runs. */
struct export_ops {
	const char *(*kind)(const struct export *x);        /* "virtual", "usbip-host", "usbip-vudc" */
	/* a kernel device's busid or UDC; NULL for a virtual one, of which
	 * a node may run several */
	const char *(*name)(const struct export *x);
	const struct usbip_usb_device *(*info)(const struct export *x);
	const struct usbip_usb_interface *(*ifs)(const struct export *x);
	const char *(*serial)(const struct export *x);       /* NULL or "" when none */
	struct ring *(*tx)(struct export *x);                /* bytes for the proxy */
	struct usbip_validator *(*validator)(const struct export *x);
	/* the proxy confirmed the export: a code, with why filled */
	int (*start)(struct export *x, char *why, size_t why_cap);
	/* Commands from the proxy; *used may fall short while the device is busy. */
	int (*feed)(struct export *x, const uint8_t *in, size_t len, size_t *used);
	int (*at_boundary)(const struct export *x);          /* the commands are between messages */
	int (*closed)(const struct export *x);               /* the unexport reply came */
	/* Stop taking commands; then quiesced says 1 when the outbound stream
	 * is between messages (an unexport may follow), -1 when it never will. */
	void (*stop)(struct export *x);
	int (*quiesced)(const struct export *x);
	int (*fd)(const struct export *x);                   /* polled for poll_events, when any */
	short (*poll_events)(const struct export *x);
	/* Returns 0, 1 when the device went away just now, or a negative
	 * enum usbws_err: the device broke the protocol. */
	int (*io)(struct export *x, short revents);
	/* The driver usbws took the device from, when it bound it. */
	const char *(*taken_from)(const struct export *x);
	/* Before root is dropped: opens every file the export writes later. */
	int (*hold_files)(struct export *x, char *why, size_t why_cap);
	void (*close)(struct export *x);
};

struct export {
	const struct export_ops *ops;
	int closed;                   /* given back after a session ended; reopened to export */
	struct vdev *vdev;            /* virtual */
	struct vdev_stream vs;
	struct kdev *kd;              /* kernel */
};

struct node_stats {
	time_t started;
	time_t exported_at;
	uint64_t bytes_from_proxy;    /* USB/IP bytes, both ways */
	uint64_t bytes_to_proxy;
};

/* `usbws status` and `usbws disconnect` */
struct node_control {
	int fd;
	struct ctlsock_server server; /* the clients of fd */
	char path[108];
};

struct node {
	const struct node_config *cfg;
	enum node_mode mode;
	int done;
	int failed;
	struct link link;             /* when to connect, resume, back off or give up */
	int refused_by_policy;        /* the proxy's policy refused the device: NODE_EXIT_POLICY */

	/* the connection, while there is one */
	struct wsclient *ws;
	struct ssl_ctx_st *tls;       /* --user: cert and key, read while root */
	int64_t last_ping_ms;
	int64_t next_ack_ms;
	enum node_drop drop;          /* set while parsing: give up the connection after */
	const char *drop_why;
	struct buf text_in;

	/* the export's USB/IP stream, which outlives its connections */
	struct export dev;
	struct resume_stream rs;
	struct usbip_framer op;       /* the proxy's OP_REP_EXPORT */
	struct buf in;                /* from the proxy, not yet taken */
	int exported;
	int listed;
	json_t *listing; /* list: the proxy's answer, without its "type" */
	int unexport_queued;
	time_t unexport_deadline;
	char proxy_busid[USBIP_BUSID_SIZE];

	struct node_stats stats;
	struct node_control ctl;

	/* --metrics-listen: what only this file counts */
	struct node_metrics *metrics;
	int64_t reported_at; /* the last report (NODE_REPORT_EVERY_MS) */
	struct usbip_rtt_stats handshakes;
	uint64_t failed_attempts;
	uint64_t violations[NODE_METRICS_RULES];
};

/* virtual devices */

static const char *virt_kind(const struct export *x) { (void)x; return "virtual"; }
static const char *virt_name(const struct export *x) { (void)x; return NULL; }
static const struct usbip_usb_device *virt_info(const struct export *x) { return &x->vdev->info; }
static const struct usbip_usb_interface *virt_ifs(const struct export *x) { return x->vdev->interfaces; }
static const char *virt_serial(const struct export *x)
{
	return vdev_serial(x->vdev);
}
static struct ring *virt_tx(struct export *x)
{
	return vdev_stream_tx(&x->vs);
}
static struct usbip_validator *virt_validator(const struct export *x) { return vdev_stream_validator(&x->vs); }
static int virt_start(struct export *x, char *why, size_t why_cap) { (void)x; (void)why; (void)why_cap; return 0; }
static int virt_at_boundary(const struct export *x) { return vdev_stream_at_boundary(&x->vs); }
static int virt_closed(const struct export *x) { return vdev_stream_closed(&x->vs); }
static void virt_stop(struct export *x) { (void)x; }
/* the device adds whole replies only */
static int virt_quiesced(const struct export *x) { (void)x; return 1; }
static int virt_fd(const struct export *x) { (void)x; return -1; }
static short virt_poll_events(const struct export *x) { (void)x; return 0; }
static int virt_io(struct export *x, short revents) { (void)x; (void)revents; return 0; }
static const char *virt_taken_from(const struct export *x) { (void)x; return NULL; }
static int virt_hold_files(struct export *x, char *why, size_t why_cap) { (void)x; (void)why; (void)why_cap; return 0; }

static int virt_feed(struct export *x, const uint8_t *in, size_t len, size_t *used)
{
	return vdev_stream_feed(&x->vs, in, len, used);
}

static void virt_close(struct export *x)
{
	vdev_stream_free(&x->vs);
	vdev_close(x->vdev);
}

static const struct export_ops virtual_ops = {
	.kind = virt_kind,
	.name = virt_name,
	.info = virt_info,
	.ifs = virt_ifs,
	.serial = virt_serial,
	.tx = virt_tx,
	.validator = virt_validator,
	.start = virt_start,
	.feed = virt_feed,
	.at_boundary = virt_at_boundary,
	.closed = virt_closed,
	.stop = virt_stop,
	.quiesced = virt_quiesced,
	.fd = virt_fd,
	.poll_events = virt_poll_events,
	.io = virt_io,
	.taken_from = virt_taken_from,
	.hold_files = virt_hold_files,
	.close = virt_close,
};

/* kernel devices: usbip-host or usbip-vudc, through a socketpair */

static const char *kern_kind(const struct export *x) { return kdev_kind(x->kd); }
static const char *kern_name(const struct export *x) { return kdev_name(x->kd); }
static const struct usbip_usb_device *kern_info(const struct export *x) { return kdev_info(x->kd); }
static const struct usbip_usb_interface *kern_ifs(const struct export *x) { return kdev_ifs(x->kd); }
static const char *kern_serial(const struct export *x)
{
	return kdev_serial(x->kd);
}
static struct ring *kern_tx(struct export *x)
{
	return kdev_tx(x->kd);
}
static struct usbip_validator *kern_validator(const struct export *x) { return kdev_validator(x->kd); }
static int kern_at_boundary(const struct export *x) { return kdev_commands_at_boundary(x->kd); }
static int kern_closed(const struct export *x) { return kdev_closed(x->kd); }
/* The kernel tears the connection down when it reads EOF, unlinking what
 * is in flight, and then closes its end: after that nothing more comes. */
static void kern_stop(struct export *x) { kdev_stop(x->kd); }
static int kern_quiesced(const struct export *x) { return kdev_quiesced(x->kd); }
static int kern_fd(const struct export *x) { return kdev_fd(x->kd); }
static short kern_poll_events(const struct export *x) { return kdev_poll_events(x->kd); }
static const char *kern_taken_from(const struct export *x) { return kdev_taken_from(x->kd); }
static void kern_close(struct export *x) { kdev_close(x->kd); }

static int kern_hold_files(struct export *x, char *why, size_t why_cap)
{
	return kdev_hold_files(x->kd, why, why_cap);
}

static int kern_start(struct export *x, char *why, size_t why_cap)
{
	int rc = kdev_start(x->kd, why, why_cap);

	if (rc == 0)
		log_info("%s %s has its socket; relaying", kdev_kind(x->kd), kdev_name(x->kd));
	return rc;
}

static int kern_feed(struct export *x, const uint8_t *in, size_t len, size_t *used)
{
	return kdev_feed(x->kd, in, len, used);
}

static int kern_io(struct export *x, short revents)
{
	int was_eof = kdev_kernel_eof(x->kd), rc = kdev_io(x->kd, revents);

	if (rc < 0)
		return rc;
	return kdev_kernel_eof(x->kd) && !was_eof;
}

static const struct export_ops kernel_ops = {
	.kind = kern_kind,
	.name = kern_name,
	.info = kern_info,
	.ifs = kern_ifs,
	.serial = kern_serial,
	.tx = kern_tx,
	.validator = kern_validator,
	.start = kern_start,
	.feed = kern_feed,
	.at_boundary = kern_at_boundary,
	.closed = kern_closed,
	.stop = kern_stop,
	.quiesced = kern_quiesced,
	.fd = kern_fd,
	.poll_events = kern_poll_events,
	.io = kern_io,
	.taken_from = kern_taken_from,
	.hold_files = kern_hold_files,
	.close = kern_close,
};

/* A stop signal during a blocking step is no failure: said, not shouted. */
static void log_failure(int rc, const char *why)
{
	if (rc == USBWS_ERR_INTERRUPTED)
		log_info("%s", why);
	else
		log_err("%s", why);
}

static void finish(struct node *n, int failed)
{
	n->done = 1;
	n->failed |= failed;
}

/* The proxy's stream broke a rule: the node says which, in its log and in
 * its close frame (so the proxy's log names it too), and stops. */
static void protocol_violation(struct node *n, int rc)
{
	char reason[WS_MAX_CLOSE_REASON + 1];

	log_err("the proxy broke the USB/IP protocol: %s", usbws_strerror(rc));
	if (rc <= USBWS_ERR_TRUNCATED && -rc < NODE_METRICS_RULES)
		n->violations[-rc]++;
	snprintf(reason, sizeof(reason), "USB/IP protocol violation: %s", usbws_strerror(rc));
	if (n->ws)
		wsclient_send_close(n->ws, WS_CLOSE_PROTOCOL_ERROR, reason);
	finish(n, 1);
}

static int send_text(struct node *n, char *json)
{
	int rc = json ? wsclient_send_text(n->ws, json) : USBWS_ERR_NOMEM;

	free(json);
	return rc;
}

/* the export request is binary: it goes with the rest of the stream */
static int queue_export(struct node *n)
{
	struct export *x = &n->dev;
	uint8_t req[USBIP_OP_COMMON_SIZE + USBIP_USB_DEVICE_SIZE];
	int len = usbip_encode_op_device(req, sizeof(req), USBIP_OP_REQ_EXPORT, 0, x->ops->info(x));

	if (send_text(n,
		      ctl_hello_export(x->ops->info(x), x->ops->ifs(x), x->ops->serial(x), n->cfg->resume_window)) <
		    0 ||
	    len < 0 || ring_append(x->ops->tx(x), req, (size_t)len) < 0)
		return USBWS_ERR_NOMEM;
	return 0;
}

/* Called each round once stopping: the unexport goes out when the
 * device's own stream is between messages. */
static void queue_unexport(struct node *n)
{
	struct export *x = &n->dev;
	uint8_t req[USBIP_OP_COMMON_SIZE + USBIP_USB_DEVICE_SIZE];
	int len, ready;

	if (!n->unexport_deadline) {
		n->unexport_deadline = time(NULL) + UNEXPORT_GRACE_SECONDS;
		if (n->mode == MODE_EXPORT && n->exported)
			x->ops->stop(x);
	}
	if (n->unexport_queued)
		return;
	if (!n->exported || !n->ws) {
		finish(n, 0);
		return;
	}
	ready = x->ops->quiesced(x);
	if (ready == 0)
		return;
	if (ready < 0) {
		log_warn("the device stopped in the middle of a reply; closing without an unexport");
		finish(n, 0);
		return;
	}
	n->unexport_queued = 1;
	len = usbip_encode_op_device(req, sizeof(req), USBIP_OP_REQ_UNEXPORT, 0, x->ops->info(x));
	ring_append(x->ops->tx(x), req, (size_t)len);
	log_info("unexporting %s", x->ops->info(x)->busid);
}

/* Moves buffered input into the device as far as its replies allow. */
static int pump(struct node *n)
{
	struct export *x = &n->dev;
	size_t used;
	int rc;

	if (n->mode != MODE_EXPORT || !n->exported || x->closed)
		return 0;
	rc = x->ops->feed(x, buf_data(&n->in), buf_len(&n->in), &used);
	buf_consume(&n->in, used);
	if (rc < 0)
		return rc;
	/* pump runs after every read and once per turn of the loop: the
	 * confirmation is one event, logged once */
	if (x->ops->closed(x) && !n->done) {
		log_info("the proxy confirmed the unexport");
		finish(n, 0);
	}
	return 0;
}

/* Before the export is confirmed: the proxy's OP_REP_EXPORT. */
static int export_reply(struct node *n, const uint8_t *in, size_t len, size_t *taken)
{
	struct usbip_event ev;
	size_t used;
	int rc;

	*taken = 0;
	while (!n->exported) {
		rc = usbip_framer_feed(&n->op, in + *taken, len - *taken, &used, &ev);
		*taken += used;
		if (rc <= 0)
			return rc;
		if (ev.type == USBIP_EV_OP) {
			if (ev.u.op.code != USBIP_OP_REP_EXPORT)
				return USBWS_ERR_PHASE;
			if (ev.u.op.status != USBIP_ST_OK) {
				log_err("the proxy refused the export (USB/IP status %u)", ev.u.op.status);
				finish(n, 1);
				return 0;
			}
		} else if (ev.type == USBIP_EV_END) {
			char why[256];

			if (n->dev.ops->start(&n->dev, why, sizeof(why)) < 0) {
				log_err("%s", why);
				finish(n, 1);
				return 0;
			}
			n->exported = 1;
			n->stats.exported_at = time(NULL);
			svcnotify_ready();
		}
	}
	return 0;
}

/* Binary bytes flow only on an export's link that is up: after a resume
 * they wait for the offset the proxy holds. */
static int streaming(const struct node *n)
{
	return n->mode == MODE_EXPORT && n->link.state == LINK_UP;
}

static int on_binary(struct node *n, const uint8_t *in, size_t len)
{
	size_t taken = 0;
	int rc;

	if (!streaming(n))
		return USBWS_ERR_PHASE;
	n->stats.bytes_from_proxy += len;
	resume_received(&n->rs, len);
	if (!n->exported) {
		rc = export_reply(n, in, len, &taken);
		if (rc < 0 || !n->exported)
			return rc;
	}
	if (buf_append(&n->in, in + taken, len - taken) < 0)
		return USBWS_ERR_NOSPACE;
	return pump(n);
}

static uint32_t jitter(void)
{
	return (uint32_t)rand();
}

static void close_connection(struct node *n)
{
	wsclient_close(n->ws);
	n->ws = NULL;
	buf_consume(&n->text_in, buf_len(&n->text_in));
}

/* An attempt failed (act, from the link): say when the next one comes, or
 * give up. */
static void attempt_failed(struct node *n, enum link_action act, int64_t now)
{
	n->failed_attempts++;
	if (act == LINK_RETRY) {
		log_info("attempt %u failed; next in %.1f s", n->link.attempts, (n->link.retry_at - now) / 1000.0);
		/* the unit is up and doing its job, which now is retrying; a
		 * node that waited for the proxy to be ready would hold up the
		 * gateway's boot for as long as the network is down */
		svcnotify_ready();
	} else if (act == LINK_STOP && n->link.stop_reason == LINK_STOP_RETRIES) {
		log_err("giving up after %u attempts (--retries)", n->link.attempts);
		finish(n, 1);
	}
}

/* The connection is gone, and the link decided act: resume later if the
 * proxy keeps a session, else start over. */
static void connection_gone(struct node *n, enum link_action act, const char *why, int64_t now)
{
	if (n->done)
		return;
	if (act == LINK_STOP && n->link.stop_reason == LINK_STOP_REQUESTED) {
		finish(n, 0);
		return;
	}
	if (link_has_session(&n->link))
		log_warn("lost the proxy (%s); the device stays exported, resuming within %u s", why,
			 n->link.resume_seconds);
	else
		log_warn("lost the proxy (%s); reconnecting", why);
	attempt_failed(n, act, now);
}

static void lose_link(struct node *n, const char *why)
{
	int64_t now = monotonic_ms();

	if (!n->ws)
		return;
	close_connection(n);
	connection_gone(n, link_lost(&n->link, now, jitter()), why, now);
}

/* The proxy's ack moves the front of what must be kept. */
static void on_ack(struct node *n, uint64_t upto, int rewind)
{
	struct ring *tx = n->dev.ops->tx(&n->dev);
	int rc = rewind ? resume_rewind(&n->rs, tx, upto) : resume_acked(&n->rs, tx, upto);

	if (rc < 0) {
		log_err("the proxy %s offset %llu, outside what this node sent (%llu..%llu): %s",
			rewind ? "resumed at" : "acknowledged", (unsigned long long)upto,
			(unsigned long long)n->rs.acked, (unsigned long long)(n->rs.acked + n->rs.sent),
			usbws_strerror(rc));
		finish(n, 1);
	}
}

static void on_welcome(struct node *n, const struct ctl_msg *msg)
{
	log_info("exported %s as busid %s on the proxy, which knows this node as %s%s",
		 n->dev.ops->info(&n->dev)->busid, msg->busid, msg->node,
		 msg->session[0] ? "" : " (the proxy offers no session resumption)");
	snprintf(n->proxy_busid, sizeof(n->proxy_busid), "%s", msg->busid);
	resume_peer_window(&n->rs, msg->window);
	link_welcome(&n->link, monotonic_ms(), msg->session, msg->resume_seconds);
}

static void on_error(struct node *n, const struct ctl_msg *msg)
{
	/* the proxy forgot us (restarted, or we were away too long); one
	 * that says "fresh" takes the export on this connection, an older
	 * one closes it */
	if (strcmp(msg->code, "no-session") == 0 && n->link.state == LINK_RESUMING) {
		log_warn("the proxy has no session to resume (%s)%s", msg->message,
			 msg->fresh ? "" : "; exporting afresh on a new connection");
		n->drop = msg->fresh ? DROP_FRESH_EXPORT : DROP_SESSION_GONE;
		n->drop_why = "session gone";
		return;
	}
	log_err("the proxy refused: %s (%s)", msg->message, msg->code);
	if (strcmp(msg->code, "policy") == 0) {
		log_err("not trying again: the proxy's policy decides this device, and would refuse it again "
			"(exit status %d)",
			NODE_EXIT_POLICY);
		n->refused_by_policy = 1;
	}
	/* ports may free up, and so may this node's share of the proxy (its
	 * own lost tunnels expire), and an address held by a half-open link:
	 * all are tried again with backoff, never at once; anything else
	 * would be refused again */
	if (strcmp(msg->code, "vhci") == 0 || strcmp(msg->code, "limit") == 0 ||
	    strcmp(msg->code, "address") == 0) {
		n->drop = DROP_REFUSED;
		n->drop_why = msg->code[0] == 'v' ? "no vhci_hcd port"
			: msg->code[0] == 'l'     ? "over this node's limit on the proxy"
						  : "its address is held on the proxy";
		return;
	}
	finish(n, 1);
}

static void on_text(struct node *n, const void *in, size_t len, int final)
{
	struct ctl_msg msg;
	char why[200];

	if (buf_append(&n->text_in, in, len) < 0) {
		log_err("the proxy sent an oversized control message");
		finish(n, 1);
		return;
	}
	if (!final)
		return;
	if (ctl_parse((const char *)buf_data(&n->text_in), buf_len(&n->text_in), &msg, why, sizeof(why)) < 0) {
		log_err("the proxy sent a malformed control message: %s", why);
		finish(n, 1);
	} else if (msg.type == CTL_WELCOME && n->mode == MODE_EXPORT && !n->proxy_busid[0]) {
		on_welcome(n, &msg);
	} else if (msg.type == CTL_RESUMED && n->link.state == LINK_RESUMING) {
		log_info("resumed session with the proxy: it had %llu bytes, this node %llu",
			 (unsigned long long)msg.received, (unsigned long long)n->rs.received);
		link_resumed(&n->link, monotonic_ms());
		resume_peer_window(&n->rs, msg.window);
		on_ack(n, msg.received, 1);
	} else if (msg.type == CTL_ACK && streaming(n) && !link_has_session(&n->link)) {
		/* a proxy without sessions has nothing to acknowledge: this node
		 * counted its bytes as acknowledged when it sent them */
		log_debug("an acknowledgement without a session (%llu bytes), ignored",
			  (unsigned long long)msg.received);
	} else if (msg.type == CTL_ACK && streaming(n)) {
		on_ack(n, msg.received, 0);
	} else if (msg.type == CTL_ERROR) {
		on_error(n, &msg);
	} else if (msg.type == CTL_NODES && n->mode == MODE_LIST) {
		/* ctl_parse took it: it loads again */
		n->listing = json_loadb((const char *)buf_data(&n->text_in), buf_len(&n->text_in), 0, NULL);
		json_object_del(n->listing, "type");
		n->listed = n->listing != NULL;
		if (!n->listed)
			log_err("out of memory for the proxy's listing");
		finish(n, !n->listed);
	} else {
		log_err("unexpected control message from the proxy");
		finish(n, 1);
	}
	buf_consume(&n->text_in, buf_len(&n->text_in));
}

/* wsclient events: binary data is the USB/IP stream, text the JSON. */
static int on_ws_event(void *ctx, const struct ws_event *ev)
{
	struct node *n = ctx;
	int rc;

	if (ev->opcode == WS_OP_BINARY) {
		if (ev->type != WS_EV_DATA)
			return 0;
		rc = on_binary(n, ev->u.data.ptr, ev->u.data.len);
		if (rc < 0) {
			protocol_violation(n, rc);
			return 1;
		}
		return 0;
	}
	if (ev->type == WS_EV_DATA)
		on_text(n, ev->u.data.ptr, ev->u.data.len, 0);
	else
		on_text(n, "", 0, 1);
	/* the connection is given up after the parser is done with it */
	return (n->done && n->failed) || n->drop ? 1 : 0;
}

static void start_export(struct node *n, int64_t now);

/* The proxy has no session, and keeps the connection: the device side
 * starts over as on a new connection, and the export goes on this one. */
static void fresh_export(struct node *n)
{
	int64_t now = monotonic_ms();
	enum link_action act = link_resume_refused_fresh(&n->link, now);

	n->drop = DROP_NONE;
	n->drop_why = NULL;
	if (act != LINK_EXPORT) {
		close_connection(n);
		connection_gone(n, act, "session gone", now);
		return;
	}
	log_info("exporting afresh on this connection");
	start_export(n, now);
}

/* The proxy answered in a way that ends this connection (on_error). */
static void drop_connection(struct node *n)
{
	int64_t now = monotonic_ms();
	enum link_action act = n->drop == DROP_SESSION_GONE ? link_resume_refused(&n->link, now)
							    : link_export_refused(&n->link, now, jitter());
	const char *why = n->drop_why;

	n->drop = DROP_NONE;
	n->drop_why = NULL;
	close_connection(n);
	connection_gone(n, act, why, now);
}

/* A normal close that leaves the device's command stream inside a message:
 * the rest will never come, and nothing of it reached the device. */
static int device_stream_cut(struct node *n)
{
	if (n->mode != MODE_EXPORT || n->dev.closed)
		return 0;
	if (!n->exported)
		return !usbip_framer_at_boundary(&n->op);
	pump(n);
	return buf_len(&n->in) || !n->dev.ops->at_boundary(&n->dev);
}

/* Reads while there is room to put what arrives. */
static void read_available(struct node *n)
{
	char why[512];
	int rc;

	while (n->ws && !n->done && buf_space(&n->in) >= NODE_RX_CHUNK) {
		rc = wsclient_read(n->ws, on_ws_event, n, why, sizeof(why));
		if (rc < 0)
			log_failure(rc, why);
		if (n->drop == DROP_FRESH_EXPORT) {
			fresh_export(n);
			continue;
		}
		if (n->drop) {
			drop_connection(n);
			return;
		}
		if (rc == 0)
			return;
		if (rc == 1) {
			if (wsclient_close_code(n->ws) == WS_CLOSE_NORMAL && device_stream_cut(n)) {
				protocol_violation(n, USBWS_ERR_STREAM_TRUNCATED);
			} else if (n->unexport_queued || n->mode == MODE_LIST) {
				log_info("the proxy closed the connection: %s", why[0] ? why : "no reason given");
				finish(n, !n->unexport_queued);
			} else if (!n->done) {
				lose_link(n, why[0] ? why : "closed without a reason");
			}
			return;
		}
		if (rc < 0 || rc == 3) {
			if (n->done)
				return;
			lose_link(n, "connection error");
			return;
		}
		if ((rc = pump(n)) < 0) {
			protocol_violation(n, rc);
			return;
		}
	}
}

/* `usbws status` and `usbws disconnect`, through the control socket */
static const char *state_name(const struct node *n)
{
	if (n->unexport_queued || n->link.stopping)
		return "stopping";
	if (n->link.state != LINK_UP)
		return n->exported ? "resuming" : "connecting";
	return n->exported ? "exported" : "connecting";
}

static json_t *status_json(struct node *n)
{
	struct export *x = &n->dev;
	const struct usbip_usb_device *d = x->ops->info(x);
	struct usbip_validator *v = x->ops->validator(x);
	const struct usbip_flow_stats *to = usbip_validator_flow(v, USBIP_FLOW_TO_DEVICE);
	time_t now = time(NULL);
	json_t *o;

	o = json_pack("{s:b, s:s, s:s, s:o, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:i}", "ok", 1,
		      "busid", d->busid, "kind", x->ops->kind(x),
		      "device", ctl_device_json(d, x->ops->ifs(x), NULL), "url", n->cfg->url,
		      "proxy_busid", n->proxy_busid, "state", state_name(n),
		      "uptime_seconds", (json_int_t)(now - n->stats.started),
		      "exported_seconds", (json_int_t)(n->exported ? now - n->stats.exported_at : 0),
		      "bytes_from_proxy", (json_int_t)n->stats.bytes_from_proxy,
		      "bytes_to_proxy", (json_int_t)n->stats.bytes_to_proxy, "urbs", (json_int_t)to->submits,
		      "urbs_in_flight", (json_int_t)usbip_validator_inflight(v),
		      "pid", (int)getpid());
	json_object_set_new(o, "reconnects", json_integer((json_int_t)n->link.reconnects));
	json_object_set_new(o, "resumes", json_integer((json_int_t)n->link.resumes));
	json_object_set_new(o, "unacked_bytes", json_integer((json_int_t)n->rs.sent));
	return o;
}

static char *answer_control(void *ctx, const char *request)
{
	struct node *n = ctx;
	json_t *req = json_loads(request, 0, NULL), *o;
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	char *out;

	if (cmd && strcmp(cmd, "disconnect") == 0) {
		log_info("disconnect requested through the control socket");
		link_request_stop(&n->link);
		o = json_pack("{s:b}", "ok", 1);
	} else if (cmd && strcmp(cmd, "status") == 0 && n->dev.closed) {
		o = json_pack("{s:b, s:s, s:s, s:s, s:i}", "ok", 1, "busid", n->cfg->device ? n->cfg->device : "",
			      "url", n->cfg->url, "state", "waiting for the device", "pid", (int)getpid());
	} else if (cmd && strcmp(cmd, "status") == 0) {
		o = status_json(n);
	} else {
		o = json_pack("{s:b, s:s}", "ok", 0, "error", "unknown request; expected {\"cmd\": \"status\"} or {\"cmd\": \"disconnect\"}");
	}
	json_decref(req);
	out = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return out;
}

static int open_device(struct node *n, char *why, size_t why_cap);

/* The proxy no longer holds the session: the device side starts over, a
 * kernel device by giving its socket back (the stub lets go of it, and a
 * device usbws bound goes back to its driver) and, when reopen is set,
 * taking it again for the next export. */
static int reset_export(struct node *n, int reopen, char *why, size_t why_cap)
{
	struct export *x = &n->dev;
	int rc;

	if (n->exported) {
		x->ops->close(x);
		x->closed = 1;
	} else if (!x->closed) {
		ring_consume(x->ops->tx(x), ring_len(x->ops->tx(x)));
	}
	if (x->closed && reopen) {
		rc = open_device(n, why, why_cap);
		if (rc < 0)
			return rc;
		x->closed = 0;
	}
	n->exported = 0;
	n->proxy_busid[0] = 0;
	resume_init(&n->rs);
	usbip_framer_init(&n->op, USBIP_FLOW_TO_DEVICE, NULL);
	buf_consume(&n->in, buf_len(&n->in));
	return 0;
}

/* A fresh export on the connection there is: the device reopened, its
 * stream new, the hello and OP_REQ_EXPORT queued.  A failure gives the
 * connection up and counts as a failed attempt. */
static void start_export(struct node *n, int64_t now)
{
	char why[1024];
	int rc = reset_export(n, 1, why, sizeof(why));

	if (rc < 0)
		log_err("%s", why);
	else
		rc = queue_export(n);
	if (rc < 0) {
		close_connection(n);
		connection_gone(n, link_start_failed(&n->link, now, jitter()), "cannot start the export", now);
	}
}

static void connect_link(struct node *n, volatile sig_atomic_t *stop)
{
	struct wsclient_config wc = {
		.url = n->cfg->url, .cert = n->cfg->cert, .key = n->cfg->key, .ca = n->cfg->ca,
		.http_proxy = n->cfg->http_proxy, .subprotocol = USBWS_SUBPROTOCOL,
		.timeout_seconds = n->cfg->connect_timeout, .tls = n->tls,
	};
	enum link_action act;
	char why[1024];
	int64_t now, dialled_us;
	int fatal, rc;

	dialled_us = monotonic_us();
	/* the dial blocks (DNS, each address for --connect-timeout, a CONNECT
	 * proxy, TLS): the watchdog must not take it for a hung node */
	svcnotify_watchdog_stretch(
		(int64_t)(NODE_DIAL_WATCHDOG_TIMEOUTS * n->cfg->connect_timeout + NODE_DIAL_WATCHDOG_SLACK_S) *
		1000);
	rc = wsclient_open(&wc, &n->ws, &fatal, why, sizeof(why));
	svcnotify_watchdog_restore();
	now = monotonic_ms();
	if (rc == 0)
		usbip_validator_rtt_record(&n->handshakes, (uint64_t)(monotonic_us() - dialled_us) * 1000u);
	if (rc < 0) {
		log_failure(rc, why);
		/* a stop that came while connecting */
		if (*stop)
			link_request_stop(&n->link);
		/* a listing is asked for once */
		act = link_connect_failed(&n->link, now, jitter(), fatal || n->mode == MODE_LIST);
		if (act == LINK_STOP && n->link.stop_reason == LINK_STOP_REQUESTED) {
			log_info("stopped while connecting to %s", n->cfg->url);
			finish(n, 0);
		} else if (act == LINK_STOP && n->link.stop_reason == LINK_STOP_REFUSED) {
			if (fatal && n->mode == MODE_EXPORT)
				log_err("not retrying: the same connection would be refused again");
			finish(n, 1);
		} else {
			attempt_failed(n, act, now);
		}
		return;
	}
	n->last_ping_ms = now;
	n->next_ack_ms = now + 1000;
	act = link_connected(&n->link, now);
	if (n->mode == MODE_LIST) {
		log_info("connected to %s", n->cfg->url);
		if (send_text(n, ctl_hello_list()) < 0)
			finish(n, 1);
		return;
	}
	if (act == LINK_RESUME) {
		log_info("connected to %s; resuming session %.8s... (this node has %llu bytes of its stream)",
			 n->cfg->url, n->link.session, (unsigned long long)n->rs.received);
		rc = send_text(n, ctl_hello_resume(n->link.session, n->rs.received, n->cfg->resume_window));
		if (rc < 0) {
			close_connection(n);
			connection_gone(n, link_start_failed(&n->link, now, jitter()), "cannot resume", now);
		}
		return;
	}
	log_info("connected to %s", n->cfg->url);
	start_export(n, now);
}

/* Whether a device given back can be taken again: not one usbws bound as
 * root when it runs as --user, as binding it again would make a new
 * usbip_sockfd, root's to open. */
static int device_retakable(const struct node *n)
{
	return !n->cfg->user || n->mode != MODE_EXPORT || n->dev.closed || !n->dev.ops->taken_from(&n->dev);
}

/* No connection: stop, give the device of an expired session back, or
 * connect when it is time. */
static void while_down(struct node *n, volatile sig_atomic_t *stop)
{
	struct export *x = &n->dev;

	for (;;) {
		switch (link_due(&n->link, monotonic_ms(), device_retakable(n))) {
		case LINK_CONNECT:
			connect_link(n, stop);
			return;
		case LINK_RELEASE:
			log_warn("no reconnect within %u s: the proxy has let the session go; releasing %s until it is back",
				 n->link.resume_seconds, x->ops->info(x)->busid);
			reset_export(n, 0, NULL, 0);
			continue;
		case LINK_STOP:
			if (n->link.stop_reason == LINK_STOP_EXPIRED) {
				/* stopping now beats failing at the next export's socket */
				log_err("no reconnect within %u s: the proxy has let the session go; giving %s back to %s and "
					"stopping, as %s cannot bind it again (start usbws connect again to export it)",
					n->link.resume_seconds, x->ops->name(x), x->ops->taken_from(x), n->cfg->user);
				reset_export(n, 0, NULL, 0);
				finish(n, 1);
			} else {
				finish(n, 0);
			}
			return;
		default:
			return;
		}
	}
}

/*
 * Drops a link that stays silent, and pings one that is quiet.  The proxy
 * pings a link quiet for --ping-interval; the node waits a quarter of the
 * way on towards the timeout, so that an idle tunnel costs one PING and
 * its PONG an interval rather than two of each (10,000 tunnels make that
 * the proxy's idle load), while a proxy that never pings is still pinged
 * well before the node would give up.
 */
static void keepalive(struct node *n)
{
	int64_t now = monotonic_ms(), last_rx, quiet_ms;

	if (!n->ws || !n->cfg->ping_interval)
		return;
	last_rx = wsclient_last_rx_ms(n->ws);
	quiet_ms = (int64_t)n->cfg->ping_interval * 1000 +
		(int64_t)(n->cfg->ping_timeout - n->cfg->ping_interval) * 1000 / 4;
	if (now - last_rx >= (int64_t)n->cfg->ping_timeout * 1000) {
		char why[96];

		snprintf(why, sizeof(why), "nothing heard for %d s: keepalive timeout", n->cfg->ping_timeout);
		lose_link(n, why);
		return;
	}
	if (now - (last_rx > n->last_ping_ms ? last_rx : n->last_ping_ms) >= quiet_ms) {
		wsclient_ping(n->ws);
		n->last_ping_ms = now;
	}
}

static void send_acks(struct node *n)
{
	int tail = monotonic_ms() >= n->next_ack_ms;

	if (!n->ws || !streaming(n) || !link_has_session(&n->link) || !resume_ack_due(&n->rs, tail))
		return;
	if (send_text(n, ctl_ack(n->rs.received)) == 0)
		resume_ack_queued(&n->rs);
	n->next_ack_ms = monotonic_ms() + 1000;
}

static void write_out(struct node *n, struct ring *tx)
{
	const uint8_t *span = NULL;
	size_t len = 0, taken;
	char why[256];
	int rc;

	/* the unsent bytes are one span, or two when they wrap in the ring:
	 * the second goes only once the first went whole */
	do {
		if (streaming(n))
			span = resume_unsent_span(&n->rs, tx, &len);
		rc = wsclient_send(n->ws, span, len, &taken, why, sizeof(why));
		resume_wrote(&n->rs, taken);
		n->stats.bytes_to_proxy += taken;
	} while (rc == 0 && len && taken == len);
	/* a proxy that offers no session never acknowledges: keep nothing */
	if (n->proxy_busid[0] && !link_has_session(&n->link))
		on_ack(n, n->rs.acked + n->rs.sent, 0);
	if (rc < 0) {
		log_failure(rc, why);
		lose_link(n, "write failed");
	}
}

/* Waits for the link, the device and the control socket, and serves what
 * is ready.  Returns 0, or an enum usbws_err with why filled when the node
 * must stop at once: poll() failed (USBWS_ERR_SYSTEM), or the device
 * broke the protocol or its socket failed (its code). */
static int poll_once(struct node *n, struct ring *tx, char *why, size_t why_cap)
{
	/* the link, the device, then the control socket's listener and clients */
	struct pollfd pfd[2 + CTLSOCK_SERVER_POLLFDS] = { { -1, 0, 0 }, { -1, 0, 0 } };
	struct export *x = &n->dev;
	int timeout = POLL_MS, rc;
	size_t nctl;

	if (n->ws) {
		pfd[0].fd = wsclient_fd(n->ws);
		if (buf_space(&n->in) >= NODE_RX_CHUNK)
			pfd[0].events |= POLLIN;
		if (wsclient_want_write(n->ws) || (tx && streaming(n) && resume_unsent(&n->rs, tx)))
			pfd[0].events |= POLLOUT;
	} else if (n->link.retry_at - monotonic_ms() < timeout) {
		timeout = (int)(n->link.retry_at - monotonic_ms());
		if (timeout < 0)
			timeout = 0;
	}
	if (n->mode == MODE_EXPORT && !x->closed && (pfd[1].events = x->ops->poll_events(x)))
		pfd[1].fd = x->ops->fd(x);
	nctl = ctlsock_server_pollfds(&n->ctl.server, pfd + 2, &timeout);
	if (poll(pfd, 2 + nctl, timeout) < 0 && errno != EINTR)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "cannot wait for the link and the device: %s",
				 strerror(errno));
	/* never blocks: a silent client must not stall the link */
	ctlsock_server_serve(&n->ctl.server, pfd + 2, nctl);
	if (pfd[1].revents) {
		rc = x->ops->io(x, pfd[1].revents);
		if (rc == USBWS_ERR_SYSTEM)
			return usbws_why(why, why_cap, rc, "%s %s: its socket failed: %s; closing",
					 x->ops->kind(x), x->ops->name(x), strerror(errno));
		if (rc < 0)
			return usbws_why(why, why_cap, rc, "%s %s broke the USB/IP protocol: %s; closing",
					 x->ops->kind(x), x->ops->name(x), usbws_strerror(rc));
		if (rc > 0 && !n->link.stopping) {
			log_err("%s closed its end of the connection: %s went away or was taken down",
				x->ops->kind(x), x->ops->name(x));
			link_request_stop(&n->link);
			n->failed = 1;
		}
	}
	if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
		read_available(n);
	return 0;
}

/* What systemd shows of an export (the unit is Type=notify), and its
 * watchdog, which this loop feeds for as long as it turns. */
static void notify_service(struct node *n)
{
	const char *busid;

	if (n->mode != MODE_EXPORT)
		return;
	/* a device given back while the proxy is away is closed: its info
	 * is gone with it, its name is not */
	if (!n->dev.closed)
		busid = n->dev.ops->info(&n->dev)->busid;
	else
		busid = n->cfg->device ? n->cfg->device : n->cfg->virtual_busid ? n->cfg->virtual_busid : "1-1";
	if (n->dev.closed)
		svcnotify_status("waiting for %s, released while the proxy was away (%s)", busid, n->cfg->url);
	else if (n->link.state == LINK_UP && n->exported)
		svcnotify_status("exported %s to %s as %s", busid, n->cfg->url, n->proxy_busid);
	else
		svcnotify_status("%s %s to %s", state_name(n), busid, n->cfg->url);
	svcnotify_watchdog();
}

/* --metrics-listen: a fresh copy for the metrics thread */
static void publish_metrics(struct node *n)
{
	struct node_metrics_view v;
	struct export *x = &n->dev;
	struct usbip_validator *val;

	if (!n->metrics)
		return;
	memset(&v, 0, sizeof(v));
	if (!x->closed && (val = x->ops->validator(x))) {
		v.to_device = *usbip_validator_flow(val, USBIP_FLOW_TO_DEVICE);
		v.from_device = *usbip_validator_flow(val, USBIP_FLOW_FROM_DEVICE);
		v.rtt = *usbip_validator_rtt(val);
	}
	v.handshakes = n->handshakes;
	v.bytes_from_proxy = n->stats.bytes_from_proxy;
	v.bytes_to_proxy = n->stats.bytes_to_proxy;
	v.reconnects = n->link.reconnects;
	v.resumptions = n->link.resumes;
	v.failed_attempts = n->failed_attempts;
	memcpy(v.violations, n->violations, sizeof(v.violations));
	v.link_up = n->ws != NULL;
	v.exported = n->exported;
	node_metrics_publish(n->metrics, &v);
}

/* list_tx: a listing's (empty) stream; an export's is its device's */
static int run(struct node *n, struct ring *list_tx, volatile sig_atomic_t *stop)
{
	const struct link_policy policy = {
		.backoff_first_ms = BACKOFF_FIRST_MS, .backoff_max_ms = (int64_t)n->cfg->backoff_max * 1000,
		.backoff_reset_ms = BACKOFF_RESET_MS, .scatter_ms = BACKOFF_FIRST_MS, .retries = n->cfg->retries,
	};
	struct ring *tx;
	char why[256];
	int64_t now;
	int rc;

	link_init(&n->link, &policy, monotonic_ms());
	while (!n->done) {
		if (*stop)
			link_request_stop(&n->link);
		if (!n->ws) {
			while_down(n, stop);
			if (n->done)
				break;
		}
		if (n->ws && n->link.stopping)
			queue_unexport(n);
		if (n->done)
			break;
		if (n->unexport_deadline && time(NULL) > n->unexport_deadline) {
			log_warn("no unexport confirmation from the proxy; closing anyway");
			break;
		}
		keepalive(n);
		now = monotonic_ms();
		link_tick(&n->link, now);
		if (now - n->reported_at >= NODE_REPORT_EVERY_MS) {
			n->reported_at = now;
			notify_service(n);
			publish_metrics(n);
		}
		/* the device may have been reopened */
		tx = n->mode == MODE_LIST ? list_tx : n->dev.closed ? NULL : n->dev.ops->tx(&n->dev);
		if (n->ws && tx) {
			send_acks(n);
			write_out(n, tx);
		}
		/* replies left the buffer: the device may take more commands */
		if ((rc = pump(n)) < 0) {
			protocol_violation(n, rc);
			break;
		}
		if ((rc = poll_once(n, tx, why, sizeof(why))) < 0) {
			log_err("%s", why);
			finish(n, 1);
			break;
		}
	}
	if (n->ws) {
		/* what is queued last, a confirmation or a close, is worth a moment */
		rc = wsclient_flush(n->ws, CLOSE_FLUSH_MS, why, sizeof(why));
		if (rc < 0)
			log_failure(rc, why);
		wsclient_close(n->ws);
		n->ws = NULL;
	}
	buf_free(&n->in);
	buf_free(&n->text_in);
	/* success is an outcome: the export was confirmed (or we were told to
	 * stop), or the list printed */
	if (n->mode == MODE_EXPORT && !n->exported && !*stop && !n->link.stopping)
		n->failed = 1;
	if (n->mode == MODE_LIST && !n->listed)
		n->failed = 1;
	if (n->refused_by_policy)
		return NODE_EXIT_POLICY;
	return n->failed ? 1 : 0;
}

/* The control socket is named after the device, connect-BUSID.sock, so
 * that `usbws disconnect --busid` finds it; virtual devices, several per
 * node, go by process. */
static int open_control(struct node *n, char *why, size_t why_cap)
{
	struct export *x = &n->dev;
	char name[64], virt[32];

	snprintf(virt, sizeof(virt), "virtual-%ld", (long)getpid());
	ctlsock_connect_name(name, sizeof(name), x->ops->name(x) ? x->ops->name(x) : virt);
	ctlsock_path(n->ctl.path, sizeof(n->ctl.path), name);
	n->ctl.fd = ctlsock_listen(name);
	if (n->ctl.fd < 0) {
		if (errno == EADDRINUSE)
			return usbws_why(why, why_cap, n->ctl.fd, "another usbws connect already exports %s (%s answers)",
					 x->ops->info(x)->busid, n->ctl.path);
		return usbws_why(why, why_cap, n->ctl.fd, "cannot listen on %s: %s", n->ctl.path, strerror(errno));
	}
	ctlsock_server_init(&n->ctl.server, n->ctl.fd, answer_control, n);
	return 0;
}

/* Last of all: `usbws disconnect` waits for the socket to go, and by then
 * the device must be back with its driver. */
static void close_control(struct node *n)
{
	if (n->ctl.fd < 0)
		return;
	ctlsock_server_close(&n->ctl.server);
	close(n->ctl.fd);
	unlink(n->ctl.path);
}

static int open_device(struct node *n, char *why, size_t why_cap)
{
	const struct node_config *cfg = n->cfg;
	struct export *x = &n->dev;
	char vwhy[256];
	int rc;

	if (cfg->device) {
		rc = kdev_open(&x->kd, cfg->device, cfg->resume_window, why, why_cap);
		if (rc < 0)
			return rc;
		x->ops = &kernel_ops;
		return 0;
	}
	rc = vdev_open(cfg->virtual_spec, cfg->virtual_busid ? cfg->virtual_busid : "1-1", &x->vdev, vwhy,
		       sizeof(vwhy));
	if (rc < 0)
		return usbws_why(why, why_cap, rc, "--virtual %s: %s", cfg->virtual_spec, vwhy);
	rc = vdev_stream_init(&x->vs, x->vdev, NODE_MAX_TRANSFER, cfg->resume_window, 0);
	if (rc < 0) {
		vdev_close(x->vdev);
		return usbws_why(why, why_cap, rc, "--virtual %s: %s", cfg->virtual_spec, usbws_strerror(rc));
	}
	x->ops = &virtual_ops;
	return 0;
}

/* The device is bound and the control socket listens: what is left to do
 * as root is reading the key and the sysfs writes of the export's life,
 * and those are done or opened now.  TLS, WebSocket and JSON then run as
 * cfg->user.  Without --user nothing changes, and nothing is said: the
 * systemd unit runs as root with no capability to change users with. */
static int drop_privileges(struct node *n, char *why, size_t why_cap)
{
	struct wsclient_config wc = {
		.url = n->cfg->url, .cert = n->cfg->cert, .key = n->cfg->key, .ca = n->cfg->ca,
	};
	char user_why[256];
	int rc;

	if (!n->cfg->user)
		return 0;
	/* the key stays root's to read; a renewed certificate needs a restart */
	rc = wsclient_tls_load(&wc, &n->tls, why, why_cap);
	if (rc < 0)
		return rc;
	rc = n->dev.ops->hold_files(&n->dev, user_why, sizeof(user_why));
	if (rc == 0)
		rc = privdrop_to(n->cfg->user, user_why, sizeof(user_why));
	if (rc < 0)
		return usbws_why(why, why_cap, rc, "--user %s: %s", n->cfg->user, user_why);
	log_info("running as %s (uid %u)", n->cfg->user, (unsigned int)getuid());
	return 0;
}

int node_export_run(const struct node_config *cfg, volatile sig_atomic_t *stop)
{
	struct node n;
	char why[1024];
	int rc = 1, err;

	memset(&n, 0, sizeof(n));
	n.cfg = cfg;
	n.mode = MODE_EXPORT;
	n.ctl.fd = -1;
	ctlsock_server_init(&n.ctl.server, -1, NULL, NULL);
	n.stats.started = time(NULL);
	srand((unsigned int)(time(NULL) ^ getpid()));
	err = open_device(&n, why, sizeof(why));
	if (err < 0) {
		log_err("%s", why);
		return 1;
	}
	err = open_control(&n, why, sizeof(why));
	if (err == 0 && cfg->metrics_listen)
		err = node_metrics_start(&n.metrics, cfg->metrics_listen, why, sizeof(why));
	if (err == 0)
		err = drop_privileges(&n, why, sizeof(why));
	if (err == 0)
		err = node_metrics_serve(n.metrics, why, sizeof(why));
	if (err < 0) {
		log_failure(err, why);
	} else {
		usbip_framer_init(&n.op, USBIP_FLOW_TO_DEVICE, NULL);
		buf_init(&n.in, 0, 2 * NODE_RX_CHUNK);
		buf_init(&n.text_in, 0, USBWS_CTL_MAX);
		rc = run(&n, NULL, stop);
	}
	if (!n.dev.closed)
		n.dev.ops->close(&n.dev);
	node_metrics_stop(n.metrics);
	close_control(&n);
	wsclient_tls_free(n.tls);
	return rc;
}

int node_list_remote(const struct node_config *cfg, volatile sig_atomic_t *stop, json_t **listing)
{
	struct node n;
	struct ring tx;
	int rc;

	*listing = NULL;
	memset(&n, 0, sizeof(n));
	n.cfg = cfg;
	n.mode = MODE_LIST;
	n.ctl.fd = -1;
	ctlsock_server_init(&n.ctl.server, -1, NULL, NULL);
	/* a listing may be longer than any other message: this node's own
	 * devices, as many as the proxy's caps allow */
	buf_init(&n.text_in, 0, USBWS_LIST_MAX);
	buf_init(&n.in, 0, NODE_RX_CHUNK);
	ring_init(&tx, 0, 1);
	rc = run(&n, &tx, stop);
	ring_free(&tx);
	if (rc == 0)
		*listing = n.listing;
	else
		json_decref(n.listing);
	return rc;
}
