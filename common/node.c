/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The node's side of the tunnel: a WebSocket client (wsclient) that proves
 * its identity with its certificate, exports one device, and runs it
 * through vdev_stream.  The same connection code asks a proxy for its
 * listing.  Frames are parsed in blocks by wsframe: libwebsockets 4.1's
 * client parser went byte by byte and capped bulk OUT throughput.
 */
#include "node.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "localdev.h"
#include "log.h"
#include "usbws_err.h"
#include "vdev_stream.h"
#include "wsclient.h"

#define NODE_RX_CHUNK (64u << 10)
#define NODE_MAX_TRANSFER (1u << 20)
#define NODE_HIGH_WATER (256u << 10)
#define UNEXPORT_GRACE_SECONDS 3
#define POLL_MS 250

enum node_mode { MODE_EXPORT, MODE_LIST };

struct node {
	const struct node_config *cfg;
	enum node_mode mode;
	struct wsclient *ws;
	int done;
	int failed;

	struct vdev *dev;
	struct vdev_stream vs;
	struct usbip_framer op;       /* the proxy's OP_REP_EXPORT */
	int exported;
	int listed;
	int unexport_queued;
	time_t unexport_deadline;
	struct buf in;                /* from the proxy, not yet taken */
	struct buf text_in;
};

static void finish(struct node *n, int failed)
{
	n->done = 1;
	n->failed |= failed;
}

static int queue_export(struct node *n)
{
	uint8_t req[USBIP_OP_COMMON_SIZE + USBIP_USB_DEVICE_SIZE];
	int len = usbip_encode_op_device(req, sizeof(req), USBIP_OP_REQ_EXPORT, 0, &n->dev->info);

	char *hello = ctl_hello_export(&n->dev->info, n->dev->interfaces, localdev_json());
	int rc = hello ? wsclient_send_text(n->ws, hello) : USBWS_ERR_NOMEM;

	free(hello);
	if (rc < 0 || len < 0 || buf_append(vdev_stream_tx(&n->vs), req, (size_t)len) < 0)
		return USBWS_ERR_NOMEM;
	return 0;
}

static void queue_unexport(struct node *n)
{
	uint8_t req[USBIP_OP_COMMON_SIZE + USBIP_USB_DEVICE_SIZE];
	int len;

	if (n->unexport_queued)
		return;
	n->unexport_queued = 1;
	n->unexport_deadline = time(NULL) + UNEXPORT_GRACE_SECONDS;
	if (!n->exported || !n->ws) {
		finish(n, 0);
		return;
	}
	len = usbip_encode_op_device(req, sizeof(req), USBIP_OP_REQ_UNEXPORT, 0, &n->dev->info);
	buf_append(vdev_stream_tx(&n->vs), req, (size_t)len);
	log_info("unexporting %s", n->dev->info.busid);
}

/* Moves buffered input into the device as far as its replies allow. */
static int pump(struct node *n)
{
	size_t used;
	int rc;

	if (n->mode != MODE_EXPORT || !n->exported)
		return 0;
	rc = vdev_stream_feed(&n->vs, buf_data(&n->in), buf_len(&n->in), &used);
	buf_consume(&n->in, used);
	if (rc < 0)
		return rc;
	if (n->vs.rx.phase == USBIP_PHASE_CLOSED) {
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
			n->exported = 1;
		}
	}
	return 0;
}

static int on_binary(struct node *n, const uint8_t *in, size_t len)
{
	size_t taken = 0;
	int rc;

	if (n->mode != MODE_EXPORT)
		return USBWS_ERR_PHASE;
	if (!n->exported) {
		rc = export_reply(n, in, len, &taken);
		if (rc < 0 || !n->exported)
			return rc;
	}
	if (buf_append(&n->in, in + taken, len - taken) < 0)
		return USBWS_ERR_NOSPACE;
	return pump(n);
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
	} else if (msg.type == CTL_WELCOME) {
		log_info("exported %s as busid %s on the proxy, which knows this node as %s",
			 n->dev->info.busid, msg.busid, msg.node);
	} else if (msg.type == CTL_ERROR) {
		log_err("the proxy refused: %s (%s)", msg.message, msg.code);
		finish(n, 1);
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
			log_err("the proxy broke the USB/IP protocol: %s", usbws_strerror(rc));
			finish(n, 1);
			return -1;
		}
		return 0;
	}
	if (ev->type == WS_EV_DATA)
		on_text(n, ev->u.data.ptr, ev->u.data.len, 0);
	else
		on_text(n, "", 0, 1);
	return n->done && n->failed ? -1 : 0;
}

/* Reads while there is room to put what arrives. */
static void read_available(struct node *n)
{
	char why[128];
	int rc;

	while (!n->done && buf_space(&n->in) >= NODE_RX_CHUNK) {
		rc = wsclient_read(n->ws, on_ws_event, n, why, sizeof(why));
		if (rc == 0)
			return;
		if (rc == 1) {
			if (!n->done) {
				log_info("the proxy closed the connection: %s", why[0] ? why : "no reason given");
				finish(n, !n->unexport_queued);
			}
			return;
		}
		if (rc < 0) {
			finish(n, 1);
			return;
		}
		if (pump(n) < 0) {
			log_err("the proxy broke the USB/IP protocol");
			finish(n, 1);
			return;
		}
	}
}

static int run(struct node *n, volatile sig_atomic_t *stop)
{
	struct wsclient_config wc = {
		.url = n->cfg->url, .cert = n->cfg->cert, .key = n->cfg->key, .ca = n->cfg->ca,
		.http_proxy = n->cfg->http_proxy, .subprotocol = USBWS_SUBPROTOCOL,
		.timeout_seconds = n->cfg->connect_timeout,
	};
	struct buf *tx = vdev_stream_tx(&n->vs);
	char *hello;

	n->ws = wsclient_open(&wc);
	if (!n->ws)
		return 1;
	log_info("connected to %s", n->cfg->url);
	if (n->mode == MODE_LIST) {
		hello = ctl_hello_list();
		if (!hello || wsclient_send_text(n->ws, hello) < 0)
			finish(n, 1);
		free(hello);
	} else if (queue_export(n) < 0) {
		finish(n, 1);
	}
	while (!n->done) {
		struct pollfd pfd = { wsclient_fd(n->ws), 0, 0 };

		if (*stop)
			queue_unexport(n);
		if (n->unexport_queued && time(NULL) > n->unexport_deadline) {
			log_warn("no unexport confirmation from the proxy; closing anyway");
			break;
		}
		if (wsclient_flush(n->ws, tx) < 0) {
			finish(n, 1);
			break;
		}
		/* replies left the buffer: the device may take more commands */
		if (pump(n) < 0) {
			finish(n, 1);
			break;
		}
		if (buf_space(&n->in) >= NODE_RX_CHUNK)
			pfd.events |= POLLIN;
		if (wsclient_want_write(n->ws) || buf_len(tx))
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, POLL_MS) < 0 && errno != EINTR)
			break;
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
			read_available(n);
	}
	/* a last flush carries a confirmation or close reply that is queued */
	wsclient_flush(n->ws, tx);
	wsclient_close(n->ws);
	n->ws = NULL;
	buf_free(&n->in);
	buf_free(&n->text_in);
	/* success is an outcome: the export was confirmed (or we were told to
	 * stop), or the list printed */
	if (n->mode == MODE_EXPORT && !n->exported && !*stop)
		n->failed = 1;
	if (n->mode == MODE_LIST && !n->listed)
		n->failed = 1;
	return n->failed ? 1 : 0;
}

int node_export_run(const struct node_config *cfg, volatile sig_atomic_t *stop)
{
	struct node n;
	const char *why;
	int rc;

	memset(&n, 0, sizeof(n));
	n.cfg = cfg;
	n.mode = MODE_EXPORT;
	rc = vdev_open(cfg->virtual_spec, "1-1", &n.dev, &why);
	if (rc < 0) {
		log_err("--virtual %s: %s", cfg->virtual_spec, why ? why : usbws_strerror(rc));
		return 1;
	}
	if (vdev_stream_init(&n.vs, n.dev, NODE_MAX_TRANSFER, NODE_HIGH_WATER, WS_MAX_HEADER) < 0) {
		vdev_close(n.dev);
		return 1;
	}
	usbip_framer_init(&n.op, USBIP_FLOW_TO_DEVICE, NULL);
	buf_init(&n.in, 0, 2 * NODE_RX_CHUNK);
	buf_init(&n.text_in, 0, USBWS_CTL_MAX);
	rc = run(&n, stop);
	vdev_stream_free(&n.vs);
	vdev_close(n.dev);
	return rc;
}

int node_list_remote(const struct node_config *cfg, volatile sig_atomic_t *stop)
{
	struct node n;

	memset(&n, 0, sizeof(n));
	n.cfg = cfg;
	n.mode = MODE_LIST;
	buf_init(&n.text_in, 0, USBWS_CTL_MAX);
	buf_init(&n.in, 0, NODE_RX_CHUNK);
	buf_init(&n.vs.tx, WS_MAX_HEADER, 1);
	return run(&n, stop);
}
