/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The node's side of the tunnel: a WebSocket client (wsclient) that proves
 * its identity with its certificate and exports one device: a virtual one
 * run here (vdev_stream) or a kernel one behind a socketpair (kdev), each
 * behind export_ops.  The export outlives its connections: pings find a
 * dead link, reconnects back off with jitter, and a session the proxy still
 * holds resumes from the byte it has (resume.h), the device untouched.  A
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
#include <sys/socket.h>
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
#include "net/wsclient.h"

#define NODE_RX_CHUNK (64u << 10)
#define NODE_MAX_TRANSFER (1u << 20)
#define UNEXPORT_GRACE_SECONDS 3
#define POLL_MS 250
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_RESET_MS 10000
#define CLOSE_FLUSH_MS 1000

enum node_mode { MODE_EXPORT, MODE_LIST };

/* Where the connection is.  Binary bytes go out only when UP: after a
 * resume they wait for the offset the proxy holds. */
enum link_state { LINK_DOWN, LINK_HELLO, LINK_UP };

struct node;

/* The exported device: what it is, and how its URB stream runs. */
struct export_ops {
	const char *kind;
	const struct usbip_usb_device *(*info)(struct node *n);
	const struct usbip_usb_interface *(*ifs)(struct node *n);
	struct buf *(*tx)(struct node *n);                  /* bytes for the proxy */
	struct usbip_validator *(*validator)(struct node *n);
	int (*start)(struct node *n, char *why, size_t why_cap);  /* the proxy confirmed the export */
	/* Commands from the proxy; *used may fall short while the device is busy. */
	int (*feed)(struct node *n, const uint8_t *in, size_t len, size_t *used);
	int (*closed)(struct node *n);                      /* the unexport reply came */
	/* Stop taking commands; then quiesced says 1 when the outbound stream
	 * is between messages (an unexport may follow), 0 while it is not, or
	 * USBWS_ERR_STREAM_TRUNCATED when it never will be. */
	void (*stop)(struct node *n);
	int (*quiesced)(struct node *n);
	short (*poll_events)(struct node *n);
	int (*io)(struct node *n, short revents);
};

struct node {
	const struct node_config *cfg;
	enum node_mode mode;
	struct wsclient *ws;
	struct ssl_ctx_st *tls;       /* --user: cert and key, read while root */
	enum link_state link;
	int done;
	int failed;

	/* reconnecting */
	unsigned int attempts;        /* failed in a row */
	int64_t next_attempt_ms;      /* monotonic */
	int64_t last_ping_ms;
	int64_t next_ack_ms;
	uint64_t reconnects, resumes;
	int ever_connected;
	const char *drop_link;        /* set while parsing: give up the connection after */
	int retry_now;
	/* resuming */
	struct resume_stream rs;
	char session[CTL_SESSION_HEX + 1];  /* empty: nothing to resume */
	unsigned int resume_seconds;
	int64_t down_since_ms;        /* 0 while the link is up */
	int64_t up_since_ms;          /* the export or resume was confirmed */

	const struct export_ops *ops;
	int dev_closed;               /* given back after a session ended; reopened to export */
	struct vdev *dev;             /* virtual */
	struct vdev_stream vs;
	struct kdev *kd;              /* kernel */
	struct usbip_framer op;       /* the proxy's OP_REP_EXPORT */
	int exported;
	int listed;
	int stopping;                 /* asked to stop, or the device went away */
	int unexport_queued;
	time_t unexport_deadline;
	struct buf in;                /* from the proxy, not yet taken */
	struct buf text_in;
	char proxy_busid[USBIP_BUSID_SIZE];
	uint64_t bytes_from_proxy;    /* USB/IP bytes, both ways */
	uint64_t bytes_to_proxy;
	time_t started;
	time_t exported_at;
	int ctl_fd;
	struct ctlsock_server ctl;    /* the clients of ctl_fd */
	char ctl_path[108];
};

/* virtual devices */

static const struct usbip_usb_device *virt_info(struct node *n) { return &n->dev->info; }
static const struct usbip_usb_interface *virt_ifs(struct node *n) { return n->dev->interfaces; }
static struct buf *virt_tx(struct node *n) { return vdev_stream_tx(&n->vs); }
static struct usbip_validator *virt_validator(struct node *n) { return n->vs.validator; }
static int virt_start(struct node *n, char *why, size_t why_cap) { (void)n; (void)why; (void)why_cap; return 0; }
static int virt_closed(struct node *n) { return n->vs.rx.phase == USBIP_PHASE_CLOSED; }
static void virt_stop(struct node *n) { (void)n; }
/* the device adds whole replies only */
static int virt_quiesced(struct node *n) { (void)n; return 1; }
static short virt_poll_events(struct node *n) { (void)n; return 0; }
static int virt_io(struct node *n, short revents) { (void)n; (void)revents; return 0; }

static int virt_feed(struct node *n, const uint8_t *in, size_t len, size_t *used)
{
	return vdev_stream_feed(&n->vs, in, len, used);
}

static const struct export_ops virtual_ops = {
	.kind = "virtual", .info = virt_info, .ifs = virt_ifs, .tx = virt_tx, .validator = virt_validator,
	.start = virt_start, .feed = virt_feed, .closed = virt_closed, .stop = virt_stop,
	.quiesced = virt_quiesced, .poll_events = virt_poll_events, .io = virt_io,
};

/* kernel devices: usbip-host or usbip-vudc, through a socketpair */

static const struct usbip_usb_device *kern_info(struct node *n) { return &n->kd->info; }
static const struct usbip_usb_interface *kern_ifs(struct node *n) { return n->kd->ifs; }
static struct buf *kern_tx(struct node *n) { return kdev_tx(n->kd); }
static struct usbip_validator *kern_validator(struct node *n) { return n->kd->validator; }
static int kern_closed(struct node *n) { return n->kd->to_dev.phase == USBIP_PHASE_CLOSED; }
static short kern_poll_events(struct node *n) { return kdev_poll_events(n->kd); }

static int kern_start(struct node *n, char *why, size_t why_cap)
{
	int rc = kdev_start(n->kd, why, why_cap);

	if (rc == 0)
		log_info("%s %s has its socket; relaying", n->kd->ops->kind, n->kd->name);
	return rc;
}

static int kern_feed(struct node *n, const uint8_t *in, size_t len, size_t *used)
{
	return kdev_feed(n->kd, in, len, used);
}

/* The kernel tears the connection down when it reads EOF, unlinking what
 * is in flight, and then closes its end: after that nothing more comes. */
static void kern_stop(struct node *n)
{
	if (n->kd->fd >= 0 && !n->kd->kernel_eof)
		shutdown(n->kd->fd, SHUT_WR);
}

static int kern_quiesced(struct node *n)
{
	if (n->kd->fd >= 0 && !n->kd->kernel_eof)
		return 0;
	return usbip_framer_at_boundary(&n->kd->from_dev) ? 1 : USBWS_ERR_STREAM_TRUNCATED;
}

static int kern_io(struct node *n, short revents)
{
	int was_eof = n->kd->kernel_eof, rc = kdev_io(n->kd, revents);

	if (rc < 0)
		return rc;
	if (n->kd->kernel_eof && !was_eof && !n->stopping) {
		log_err("%s closed its end of the connection: %s went away or was taken down",
			n->kd->ops->kind, n->kd->name);
		n->stopping = 1;
		n->failed = 1;
	}
	return 0;
}

static const struct export_ops kernel_ops = {
	.kind = "kernel", .info = kern_info, .ifs = kern_ifs, .tx = kern_tx, .validator = kern_validator,
	.start = kern_start, .feed = kern_feed, .closed = kern_closed, .stop = kern_stop,
	.quiesced = kern_quiesced, .poll_events = kern_poll_events, .io = kern_io,
};

static void finish(struct node *n, int failed)
{
	n->done = 1;
	n->failed |= failed;
}

/* A failure with its sentence: a stop signal's is news, not an error. */
static void log_failure(int rc, const char *why)
{
	if (rc == USBWS_ERR_INTERRUPTED)
		log_info("%s", why);
	else
		log_err("%s", why);
}

/* The proxy's stream broke a rule: the node says which, in its log and in
 * its close frame (so the proxy's log names it too), and stops. */
static void protocol_violation(struct node *n, int rc)
{
	char reason[WS_MAX_CLOSE_REASON + 1];

	log_err("the proxy broke the USB/IP protocol: %s", usbws_strerror(rc));
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

static int queue_export(struct node *n)
{
	uint8_t req[USBIP_OP_COMMON_SIZE + USBIP_USB_DEVICE_SIZE];
	int len = usbip_encode_op_device(req, sizeof(req), USBIP_OP_REQ_EXPORT, 0, n->ops->info(n));

	if (send_text(n, ctl_hello_export(n->ops->info(n), n->ops->ifs(n))) < 0 || len < 0 ||
	    buf_append(n->ops->tx(n), req, (size_t)len) < 0)
		return USBWS_ERR_NOMEM;
	/* the export request is binary: it goes with the rest of the stream */
	n->link = LINK_UP;
	return 0;
}

/* Called each round once stopping: the unexport goes out when the
 * device's own stream is between messages. */
static void queue_unexport(struct node *n)
{
	uint8_t req[USBIP_OP_COMMON_SIZE + USBIP_USB_DEVICE_SIZE];
	int len, ready;

	if (!n->unexport_deadline) {
		n->unexport_deadline = time(NULL) + UNEXPORT_GRACE_SECONDS;
		if (n->mode == MODE_EXPORT && n->exported)
			n->ops->stop(n);
	}
	if (n->unexport_queued)
		return;
	if (!n->exported || !n->ws) {
		finish(n, 0);
		return;
	}
	ready = n->ops->quiesced(n);
	if (ready == 0)
		return;
	if (ready < 0) {
		log_warn("the device stopped in the middle of a reply; closing without an unexport");
		finish(n, 0);
		return;
	}
	n->unexport_queued = 1;
	len = usbip_encode_op_device(req, sizeof(req), USBIP_OP_REQ_UNEXPORT, 0, n->ops->info(n));
	buf_append(n->ops->tx(n), req, (size_t)len);
	log_info("unexporting %s", n->ops->info(n)->busid);
}

/* Moves buffered input into the device as far as its replies allow. */
static int pump(struct node *n)
{
	size_t used;
	int rc;

	if (n->mode != MODE_EXPORT || !n->exported || n->dev_closed)
		return 0;
	rc = n->ops->feed(n, buf_data(&n->in), buf_len(&n->in), &used);
	buf_consume(&n->in, used);
	if (rc < 0)
		return rc;
	if (n->ops->closed(n)) {
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

			if (n->ops->start(n, why, sizeof(why)) < 0) {
				log_err("%s", why);
				finish(n, 1);
				return 0;
			}
			n->exported = 1;
			n->exported_at = time(NULL);
		}
	}
	return 0;
}

static int on_binary(struct node *n, const uint8_t *in, size_t len)
{
	size_t taken = 0;
	int rc;

	if (n->mode != MODE_EXPORT || n->link != LINK_UP)
		return USBWS_ERR_PHASE;
	n->bytes_from_proxy += len;
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

/* Full jitter over an exponential step: 1, 2, 4 ... up to the cap. */
static int64_t backoff_ms(const struct node *n)
{
	int64_t step = BACKOFF_FIRST_MS, cap = (int64_t)n->cfg->backoff_max * 1000;

	for (unsigned int i = 1; i < n->attempts && step < cap; i++)
		step *= 2;
	if (step > cap)
		step = cap;
	return step / 2 + rand() % (step / 2 + 1);
}

/* A failed attempt: wait longer each time, or give up when told to. */
static void schedule_retry(struct node *n)
{
	int64_t wait;

	n->attempts++;
	if (n->cfg->retries && n->attempts >= n->cfg->retries) {
		log_err("giving up after %u attempts (--retries)", n->attempts);
		finish(n, 1);
		return;
	}
	wait = backoff_ms(n);
	n->next_attempt_ms = monotonic_ms() + wait;
	log_info("attempt %u failed; next in %.1f s", n->attempts, wait / 1000.0);
}

/* The link is gone: resume later if the proxy keeps a session, else start
 * over. */
static void link_lost(struct node *n, const char *why)
{
	if (!n->ws)
		return;
	wsclient_close(n->ws);
	n->ws = NULL;
	n->link = LINK_DOWN;
	buf_consume(&n->text_in, buf_len(&n->text_in));
	if (n->stopping || n->done) {
		finish(n, 0);
		return;
	}
	if (!n->down_since_ms)
		n->down_since_ms = monotonic_ms();
	/* a fleet that lost its proxy should not come back in one wave */
	n->next_attempt_ms = monotonic_ms() + rand() % BACKOFF_FIRST_MS;
	if (n->session[0])
		log_warn("lost the proxy (%s); the device stays exported, resuming within %u s", why,
			 n->resume_seconds);
	else
		log_warn("lost the proxy (%s); reconnecting", why);
}

/* The proxy's ack moves the front of what must be kept. */
static void on_ack(struct node *n, uint64_t upto, int rewind)
{
	int rc = rewind ? resume_rewind(&n->rs, n->ops->tx(n), upto) : resume_acked(&n->rs, n->ops->tx(n), upto);

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
		 n->ops->info(n)->busid, msg->busid, msg->node,
		 msg->session[0] ? "" : " (the proxy offers no session resumption)");
	snprintf(n->proxy_busid, sizeof(n->proxy_busid), "%s", msg->busid);
	memcpy(n->session, msg->session, sizeof(n->session));
	n->resume_seconds = msg->resume_seconds;
	n->up_since_ms = monotonic_ms();
	n->down_since_ms = 0;
}

static void on_error(struct node *n, const struct ctl_msg *msg)
{
	/* the proxy forgot us (restarted, or we were away too long) */
	if (strcmp(msg->code, "no-session") == 0 && n->link == LINK_HELLO) {
		log_warn("the proxy has no session to resume (%s); exporting afresh", msg->message);
		n->session[0] = 0;
		n->drop_link = "session gone";
		n->retry_now = 1;
		return;
	}
	log_err("the proxy refused: %s (%s)", msg->message, msg->code);
	/* ports may free up, and so may this node's share of the proxy (its
	 * own lost tunnels expire): both are tried again with backoff, never
	 * at once; anything else would be refused again */
	if (strcmp(msg->code, "vhci") == 0 || strcmp(msg->code, "limit") == 0) {
		n->session[0] = 0;
		n->drop_link = msg->code[0] == 'v' ? "no vhci_hcd port" : "over this node's limit on the proxy";
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
	} else if (msg.type == CTL_RESUMED && n->link == LINK_HELLO) {
		log_info("resumed session with the proxy: it had %llu bytes, this node %llu",
			 (unsigned long long)msg.received, (unsigned long long)n->rs.received);
		n->link = LINK_UP;
		n->up_since_ms = monotonic_ms();
		n->down_since_ms = 0;
		n->resumes++;
		on_ack(n, msg.received, 1);
	} else if (msg.type == CTL_ACK && n->link == LINK_UP) {
		on_ack(n, msg.received, 0);
	} else if (msg.type == CTL_ERROR) {
		on_error(n, &msg);
	} else if (msg.type == CTL_NODES && n->mode == MODE_LIST) {
		json_t *o = json_loadb((const char *)buf_data(&n->text_in), buf_len(&n->text_in), 0, NULL);

		json_object_del(o, "type");
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(o);
		n->listed = 1;
		finish(n, 0);
	} else {
		log_err("unexpected control message from the proxy");
		finish(n, 1);
	}
	buf_consume(&n->text_in, buf_len(&n->text_in));
}

/* wsclient events: binary data is the USB/IP stream, text the JSON.
 * Returns 1 to stop reading (the link is given up), else 0. */
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
	return (n->done && n->failed) || n->drop_link ? 1 : 0;
}

/* A normal close that leaves the device's command stream inside a message:
 * the rest will never come, and nothing of it reached the device. */
static int device_stream_cut(struct node *n)
{
	if (n->mode != MODE_EXPORT || n->dev_closed)
		return 0;
	if (!n->exported)
		return !usbip_framer_at_boundary(&n->op);
	pump(n);
	return buf_len(&n->in) || !usbip_framer_at_boundary(n->kd ? &n->kd->to_dev : &n->vs.rx);
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
		if (n->drop_link) {
			const char *reason = n->drop_link;
			int now = n->retry_now;

			n->drop_link = NULL;
			n->retry_now = 0;
			link_lost(n, reason);
			if (now)
				n->next_attempt_ms = monotonic_ms();
			else
				schedule_retry(n);
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
				link_lost(n, why[0] ? why : "closed without a reason");
			}
			return;
		}
		if (rc < 0 || rc == 3) {
			if (n->done)
				return;
			link_lost(n, "connection error");
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
	if (n->unexport_queued || n->stopping)
		return "stopping";
	if (n->link != LINK_UP)
		return n->exported ? "resuming" : "connecting";
	return n->exported ? "exported" : "connecting";
}

static char *answer_control(void *ctx, const char *request)
{
	struct node *n = ctx;
	json_t *req = json_loads(request, 0, NULL), *o;
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	char *out;

	if (cmd && strcmp(cmd, "disconnect") == 0) {
		log_info("disconnect requested through the control socket");
		n->stopping = 1;
		o = json_pack("{s:b}", "ok", 1);
	} else if (cmd && strcmp(cmd, "status") == 0 && n->dev_closed) {
		o = json_pack("{s:b, s:s, s:s, s:s, s:i}", "ok", 1, "busid", n->cfg->device ? n->cfg->device : "",
			      "url", n->cfg->url, "state", "waiting for the device", "pid", (int)getpid());
	} else if (cmd && strcmp(cmd, "status") == 0) {
		const struct usbip_usb_device *d = n->ops->info(n);
		struct usbip_validator *v = n->ops->validator(n);
		const struct usbip_flow_stats *to = usbip_validator_flow(v, USBIP_FLOW_TO_DEVICE);
		time_t now = time(NULL);

		o = json_pack("{s:b, s:s, s:s, s:o, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:i}", "ok", 1,
			      "busid", d->busid, "kind", n->kd ? n->kd->ops->kind : "virtual",
			      "device", ctl_device_json(d, n->ops->ifs(n), NULL), "url", n->cfg->url,
			      "proxy_busid", n->proxy_busid, "state", state_name(n),
			      "uptime_seconds", (json_int_t)(now - n->started),
			      "exported_seconds", (json_int_t)(n->exported ? now - n->exported_at : 0),
			      "bytes_from_proxy", (json_int_t)n->bytes_from_proxy,
			      "bytes_to_proxy", (json_int_t)n->bytes_to_proxy, "urbs", (json_int_t)to->submits,
			      "urbs_in_flight", (json_int_t)usbip_validator_inflight(v),
			      "pid", (int)getpid());
		json_object_set_new(o, "reconnects", json_integer((json_int_t)n->reconnects));
		json_object_set_new(o, "resumes", json_integer((json_int_t)n->resumes));
		json_object_set_new(o, "unacked_bytes", json_integer((json_int_t)n->rs.sent));
	} else {
		o = json_pack("{s:b, s:s}", "ok", 0, "error", "unknown request; expected {\"cmd\": \"status\"} or {\"cmd\": \"disconnect\"}");
	}
	json_decref(req);
	out = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return out;
}

static int open_device(struct node *n, const struct node_config *cfg, char *why, size_t why_cap);
static void close_device(struct node *n);

/* The proxy no longer holds the session: the device side starts over, a
 * kernel device by giving its socket back (the stub lets go of it, and a
 * device usbws bound goes back to its driver) and, when reopen is set,
 * taking it again for the next export, which may fail (why says why). */
static int reset_export(struct node *n, int reopen, char *why, size_t why_cap)
{
	int rc;

	if (n->exported) {
		close_device(n);
		n->dev_closed = 1;
	} else if (!n->dev_closed) {
		buf_consume(n->ops->tx(n), buf_len(n->ops->tx(n)));
	}
	if (n->dev_closed && reopen) {
		rc = open_device(n, n->cfg, why, why_cap);
		if (rc < 0)
			return rc;
		n->dev_closed = 0;
	}
	n->exported = 0;
	n->session[0] = 0;
	n->proxy_busid[0] = 0;
	n->down_since_ms = 0;
	resume_init(&n->rs);
	usbip_framer_init(&n->op, USBIP_FLOW_TO_DEVICE, NULL);
	buf_consume(&n->in, buf_len(&n->in));
	return 0;
}

static void link_open(struct node *n, volatile sig_atomic_t *stop)
{
	struct wsclient_config wc = {
		.url = n->cfg->url, .cert = n->cfg->cert, .key = n->cfg->key, .ca = n->cfg->ca,
		.http_proxy = n->cfg->http_proxy, .subprotocol = USBWS_SUBPROTOCOL,
		.timeout_seconds = n->cfg->connect_timeout, .tls = n->tls,
	};
	char why[1024];
	int fatal, rc;

	rc = wsclient_open(&wc, &n->ws, &fatal, why, sizeof(why));
	if (rc < 0) {
		log_failure(rc, why);
		if (*stop && !fatal && n->mode == MODE_EXPORT) {
			log_info("stopped while connecting to %s", n->cfg->url);
			finish(n, 0);
		} else if (fatal || n->mode == MODE_LIST || *stop) {
			if (fatal && n->mode == MODE_EXPORT)
				log_err("not retrying: the same connection would be refused again");
			finish(n, 1);
		} else {
			schedule_retry(n);
		}
		return;
	}
	n->last_ping_ms = monotonic_ms();
	n->next_ack_ms = monotonic_ms() + 1000;
	n->up_since_ms = monotonic_ms();
	if (n->mode == MODE_LIST) {
		log_info("connected to %s", n->cfg->url);
		if (send_text(n, ctl_hello_list()) < 0)
			finish(n, 1);
		return;
	}
	if (n->ever_connected)
		n->reconnects++;
	n->ever_connected = 1;
	if (n->session[0]) {
		log_info("connected to %s; resuming session %.8s... (this node has %llu bytes of its stream)",
			 n->cfg->url, n->session, (unsigned long long)n->rs.received);
		n->link = LINK_HELLO;
		rc = send_text(n, ctl_hello_resume(n->session, n->rs.received));
	} else {
		log_info("connected to %s", n->cfg->url);
		rc = reset_export(n, 1, why, sizeof(why));
		if (rc < 0)
			log_err("%s", why);
		else
			rc = queue_export(n);
	}
	if (rc < 0) {
		link_lost(n, "cannot start the export");
		schedule_retry(n);
	}
}

/* Past the proxy's resume time it has let the device go: so does the node. */
static void check_resume_expiry(struct node *n)
{
	if (!n->session[0] || !n->down_since_ms || n->ws)
		return;
	if (monotonic_ms() - n->down_since_ms < (int64_t)n->resume_seconds * 1000)
		return;
	/* binding it again would make a new usbip_sockfd, root's to open:
	 * stopping now beats failing at the next export's socket */
	if (n->cfg->user && n->kd && n->kd->bound_by_us) {
		log_err("no reconnect within %u s: the proxy has let the session go; giving %s back to %s and "
			"stopping, as %s cannot bind it again (start usbws connect again to export it)",
			n->resume_seconds, n->kd->name, n->kd->orig_driver, n->cfg->user);
		reset_export(n, 0, NULL, 0);
		finish(n, 1);
		return;
	}
	log_warn("no reconnect within %u s: the proxy has let the session go; releasing %s until it is back",
		 n->resume_seconds, n->ops->info(n)->busid);
	reset_export(n, 0, NULL, 0);
}

/* Pings while the link is quiet, and drops a link that stays silent. */
static void keepalive(struct node *n)
{
	int64_t now = monotonic_ms();

	if (!n->ws || !n->cfg->ping_interval)
		return;
	if (now - wsclient_last_rx_ms(n->ws) >= (int64_t)n->cfg->ping_timeout * 1000) {
		char why[96];

		snprintf(why, sizeof(why), "nothing heard for %d s: keepalive timeout", n->cfg->ping_timeout);
		link_lost(n, why);
		return;
	}
	if (now - n->last_ping_ms >= (int64_t)n->cfg->ping_interval * 1000) {
		wsclient_ping(n->ws);
		n->last_ping_ms = now;
	}
}

static void send_acks(struct node *n)
{
	int tail = monotonic_ms() >= n->next_ack_ms;

	if (!n->ws || n->link != LINK_UP || !n->session[0] || !resume_ack_due(&n->rs, tail))
		return;
	if (send_text(n, ctl_ack(n->rs.received)) == 0)
		resume_ack_queued(&n->rs);
	n->next_ack_ms = monotonic_ms() + 1000;
}

static void write_out(struct node *n, struct buf *tx)
{
	size_t taken = 0;
	char why[512];
	int rc;

	if (n->link == LINK_UP)
		rc = wsclient_send(n->ws, resume_unsent_data(&n->rs, tx), resume_unsent(&n->rs, tx), &taken, why,
				   sizeof(why));
	else
		rc = wsclient_send(n->ws, NULL, 0, &taken, why, sizeof(why));
	resume_wrote(&n->rs, taken);
	n->bytes_to_proxy += taken;
	/* a proxy that offers no session never acknowledges: keep nothing */
	if (n->proxy_busid[0] && !n->session[0])
		on_ack(n, n->rs.acked + n->rs.sent, 0);
	if (rc < 0) {
		log_failure(rc, why);
		link_lost(n, "write failed");
	}
}

/* list_tx: a listing's (empty) stream; an export's is its device's */
static int run(struct node *n, struct buf *list_tx, volatile sig_atomic_t *stop)
{
	n->next_attempt_ms = monotonic_ms();
	while (!n->done) {
		/* the link, the device, then the control socket's listener and clients */
		struct pollfd pfd[2 + CTLSOCK_SERVER_POLLFDS] = { { -1, 0, 0 }, { -1, 0, 0 } };
		struct buf *tx;
		int timeout = POLL_MS, rc;
		size_t nctl;

		if (*stop)
			n->stopping = 1;
		if (!n->ws) {
			if (n->stopping) {
				finish(n, 0);
				break;
			}
			check_resume_expiry(n);
			if (!n->done && monotonic_ms() >= n->next_attempt_ms)
				link_open(n, stop);
			if (n->done)
				break;
		}
		if (n->ws && n->stopping)
			queue_unexport(n);
		if (n->done)
			break;
		if (n->unexport_deadline && time(NULL) > n->unexport_deadline) {
			log_warn("no unexport confirmation from the proxy; closing anyway");
			break;
		}
		keepalive(n);
		/* a link that lasted is a success: backoff starts over; one the
		 * proxy drops at once (no vhci port, say) keeps backing off */
		if (n->attempts && n->ws && n->link == LINK_UP && monotonic_ms() - n->up_since_ms >= BACKOFF_RESET_MS)
			n->attempts = 0;
		/* the device may have been reopened */
		tx = n->mode == MODE_LIST ? list_tx : n->dev_closed ? NULL : n->ops->tx(n);
		if (n->ws && tx) {
			send_acks(n);
			write_out(n, tx);
		}
		/* replies left the buffer: the device may take more commands */
		if ((rc = pump(n)) < 0) {
			protocol_violation(n, rc);
			break;
		}
		if (n->ws) {
			pfd[0].fd = wsclient_fd(n->ws);
			if (buf_space(&n->in) >= NODE_RX_CHUNK)
				pfd[0].events |= POLLIN;
			if (wsclient_want_write(n->ws) || (tx && n->link == LINK_UP && resume_unsent(&n->rs, tx)))
				pfd[0].events |= POLLOUT;
		} else if (n->next_attempt_ms - monotonic_ms() < timeout) {
			timeout = (int)(n->next_attempt_ms - monotonic_ms());
			if (timeout < 0)
				timeout = 0;
		}
		if (n->mode == MODE_EXPORT && !n->dev_closed && (pfd[1].events = n->ops->poll_events(n)))
			pfd[1].fd = n->kd->fd;
		nctl = ctlsock_server_pollfds(&n->ctl, pfd + 2, &timeout);
		if (poll(pfd, 2 + nctl, timeout) < 0 && errno != EINTR)
			break;
		/* never blocks: a silent client must not stall the link */
		ctlsock_server_serve(&n->ctl, pfd + 2, nctl);
		if (pfd[1].revents && n->ops->io(n, pfd[1].revents) < 0) {
			log_err("%s %s broke the USB/IP protocol; closing", n->kd->ops->kind, n->kd->name);
			finish(n, 1);
			break;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			read_available(n);
	}
	if (n->ws) {
		char why[512];
		int rc;

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
	if (n->mode == MODE_EXPORT && !n->exported && !*stop && !n->stopping)
		n->failed = 1;
	if (n->mode == MODE_LIST && !n->listed)
		n->failed = 1;
	return n->failed ? 1 : 0;
}

/* The control socket is named after the device, connect-BUSID.sock, so
 * that `usbws disconnect --busid` finds it; virtual devices, several per
 * node, go by process. */
static int open_control(struct node *n, char *why, size_t why_cap)
{
	char name[64], virt[32];

	snprintf(virt, sizeof(virt), "virtual-%ld", (long)getpid());
	ctlsock_connect_name(name, sizeof(name), n->kd ? n->kd->name : virt);
	ctlsock_path(n->ctl_path, sizeof(n->ctl_path), name);
	n->ctl_fd = ctlsock_listen(name);
	if (n->ctl_fd < 0) {
		if (errno == EADDRINUSE)
			return usbws_why(why, why_cap, n->ctl_fd, "another usbws connect already exports %s (%s answers)",
					 n->ops->info(n)->busid, n->ctl_path);
		return usbws_why(why, why_cap, n->ctl_fd, "cannot listen on %s: %s", n->ctl_path, strerror(errno));
	}
	ctlsock_server_init(&n->ctl, n->ctl_fd, answer_control, n);
	return 0;
}

/* Last of all: `usbws disconnect` waits for the socket to go, and by then
 * the device must be back with its driver. */
static void close_control(struct node *n)
{
	if (n->ctl_fd < 0)
		return;
	ctlsock_server_close(&n->ctl);
	close(n->ctl_fd);
	unlink(n->ctl_path);
}

static int open_device(struct node *n, const struct node_config *cfg, char *why, size_t why_cap)
{
	char vwhy[256];
	int rc;

	if (cfg->device) {
		rc = kdev_open(&n->kd, cfg->device, cfg->resume_window, why, why_cap);
		if (rc < 0)
			return rc;
		n->ops = &kernel_ops;
		return 0;
	}
	rc = vdev_open(cfg->virtual_spec, cfg->virtual_busid ? cfg->virtual_busid : "1-1", &n->dev, vwhy, sizeof(vwhy));
	if (rc < 0)
		return usbws_why(why, why_cap, rc, "--virtual %s: %s", cfg->virtual_spec, vwhy);
	rc = vdev_stream_init(&n->vs, n->dev, NODE_MAX_TRANSFER, cfg->resume_window, 0);
	if (rc < 0) {
		vdev_close(n->dev);
		return usbws_why(why, why_cap, rc, "--virtual %s: %s", cfg->virtual_spec, usbws_strerror(rc));
	}
	n->ops = &virtual_ops;
	return 0;
}

static void close_device(struct node *n)
{
	if (n->kd) {
		kdev_close(n->kd);
		return;
	}
	vdev_stream_free(&n->vs);
	vdev_close(n->dev);
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
	rc = n->kd ? kdev_hold_files(n->kd, user_why, sizeof(user_why)) : 0;
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
	n.ctl_fd = -1;
	ctlsock_server_init(&n.ctl, -1, NULL, NULL);
	n.started = time(NULL);
	srand((unsigned int)(time(NULL) ^ getpid()));
	err = open_device(&n, cfg, why, sizeof(why));
	if (err < 0) {
		log_err("%s", why);
		return 1;
	}
	err = open_control(&n, why, sizeof(why));
	if (err == 0)
		err = drop_privileges(&n, why, sizeof(why));
	if (err < 0) {
		log_failure(err, why);
	} else {
		usbip_framer_init(&n.op, USBIP_FLOW_TO_DEVICE, NULL);
		buf_init(&n.in, 0, 2 * NODE_RX_CHUNK);
		buf_init(&n.text_in, 0, USBWS_CTL_MAX);
		rc = run(&n, NULL, stop);
	}
	if (!n.dev_closed)
		close_device(&n);
	close_control(&n);
	wsclient_tls_free(n.tls);
	return rc;
}

int node_list_remote(const struct node_config *cfg, volatile sig_atomic_t *stop)
{
	struct node n;
	struct buf tx;
	int rc;

	memset(&n, 0, sizeof(n));
	n.cfg = cfg;
	n.mode = MODE_LIST;
	n.ctl_fd = -1;
	ctlsock_server_init(&n.ctl, -1, NULL, NULL);
	/* a listing may be longer than any other message: this node's own
	 * devices, as many as the proxy's caps allow */
	buf_init(&n.text_in, 0, USBWS_LIST_MAX);
	buf_init(&n.in, 0, NODE_RX_CHUNK);
	buf_init(&tx, 0, 1);
	rc = run(&n, &tx, stop);
	buf_free(&tx);
	return rc;
}
