/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The proxy's WebSocket protocol: one exported device per tunnel, one
 * tunnel per connection at a time.  The node's identity is one field of its
 * certificate (certid.h), checked during the TLS handshake, and one
 * identity has one live connection per device it exports: a newer export
 * of the same node busid, or a resume, takes over from the older
 * connection, which is closed with the reason.  Bytes from the node are
 * framed and validated, then relayed to the importer; the importer's bytes
 * come the other way in proxy_usbip.c.  A tunnel whose connection is lost
 * is parked with its importer for resume_seconds, and a node that names its
 * session on a new connection carries on from the byte each side holds
 * (resume.h).
 */
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "balancer.h"
#include "certid.h"
#include "devaddr.h"
#include "tunnel/ctl.h"
#include "base/log.h"
#include "base/monoclock.h"
#include "net/netaddr.h"
#include "proxy.h"
#include "proxy_int.h"
#include "base/usbws_err.h"
#include "tunnel/wsframe.h"

/* Data moved: the next tick sends the acknowledgement it may call for,
 * and frees what has drained. */
void proxy_tunnel_busy(struct tunnel *t)
{
	if (lws_dll2_is_detached(&t->busy))
		lws_dll2_add_tail(&t->busy, &t->th->busy);
}

/* Files t under the second its next timer falls in: the end of its
 * resume time while parked, else its keepalive timeout or its next ping.
 * Never under a second the tick has served; a live tunnel without
 * keepalive has no timer. */
/* A live tunnel's keepalive deadlines, which tunnel_due acts on and
 * tunnel_file files by.  In milliseconds: whole seconds would let a 3 s
 * timeout fire after 2 s of silence. */
static int64_t tunnel_timeout_at(const struct tunnel *t)
{
	return t->last_rx_ms + (int64_t)t->px->cfg->ping_timeout * 1000;
}

/* Only a quiet link needs a ping, and a busy one is not quiet; the tick
 * comes once a second: half a tick early is on time. */
static int64_t tunnel_ping_at(const struct tunnel *t)
{
	return (t->last_rx_ms > t->last_ping_ms ? t->last_rx_ms : t->last_ping_ms) +
		(int64_t)t->px->cfg->ping_interval * 1000 - 500;
}

static void tunnel_file(struct tunnel *t)
{
	const struct proxy_config *cfg = t->px->cfg;
	int64_t due;

	if (!t->wsi) {
		due = (t->parked_since + cfg->resume_seconds) * 1000 - time(NULL) * 1000 + monotonic_ms();
	} else if (cfg->ping_interval) {
		due = tunnel_timeout_at(t) < tunnel_ping_at(t) ? tunnel_timeout_at(t) : tunnel_ping_at(t);
	} else {
		lws_dll2_remove(&t->wheel);
		return;
	}
	due /= 1000;
	if (due <= t->th->wheel_second)
		due = t->th->wheel_second + 1;
	/* the slot being served is never the one filed into */
	if (due > t->th->wheel_second + PROXY_WHEEL_SLOTS - 1)
		due = t->th->wheel_second + PROXY_WHEEL_SLOTS - 1;
	lws_dll2_remove(&t->wheel);
	lws_dll2_add_tail(&t->wheel, &t->th->wheel[due % PROXY_WHEEL_SLOTS]);
}

void proxy_tunnel_kick(struct tunnel *t)
{
	/* whatever is written may drain, and its buffer go */
	proxy_tunnel_busy(t);
	if (t->wsi)
		lws_callback_on_writable(t->wsi);
}

static void queue_text(struct tunnel *t, char *json)
{
	if (!json || t->ntext == sizeof(t->text_queue) / sizeof(t->text_queue[0])) {
		free(json);
		return;
	}
	t->text_queue[t->ntext++] = json;
	proxy_tunnel_kick(t);
}

static void list_unlink(struct tunnel *t)
{
	/* a tunnel refused at its open was never in the list */
	if (!t->prev && t->px->tunnels != t)
		return;
	if (t->prev)
		t->prev->next = t->next;
	else
		t->px->tunnels = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->next = t->prev = NULL;
	t->px->ntunnels--;
}

static void list_push_front(struct tunnel *t)
{
	t->prev = NULL;
	t->next = t->px->tunnels;
	if (t->next)
		t->next->prev = t;
	t->px->tunnels = t;
	t->px->ntunnels++;
}

static void tunnel_free(struct tunnel *t)
{
	enum tunnel_key which;

	proxy_capture_tunnel_gone(t);
	proxy_usbip_detach(t);
	proxy_thread_forget(t);
	/* one refused at its open was never counted, nor listed */
	if (t->prev || t->px->tunnels == t)
		t->th->load--;
	list_unlink(t);
	lws_dll2_remove(&t->busy);
	lws_dll2_remove(&t->wheel);
	for (which = 0; which < TUNNEL_KEYS; which++)
		proxy_index_del(t->px, which, t);
	if (t->node_conn)
		t->node_conn->t = NULL;
	while (t->ntext)
		free(t->text_queue[--t->ntext]);
	X509_free(t->cert);
	sk_X509_pop_free(t->chain, X509_free);
	proxy_metrics_retire(t);
	usbip_validator_free(t->validator);
	ring_free(&t->tx);
	buf_free(&t->text_in);
	free(t);
}

/* The connection of an older tunnel that has been taken over closes, with
 * why; a link that is only half-open would never let the close frame out,
 * so it goes after a few seconds regardless. */
static void close_superseded(struct lws *wsi, struct node_conn *c, const char *why)
{
	if (c)
		snprintf(c->close_reason, sizeof(c->close_reason), "%s", why);
	lws_callback_on_writable(wsi);
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, 3);
}

/* Tells the node why, then closes its tunnel; nothing else is touched.  A
 * parked tunnel has no one to tell: its session just ends. */
void proxy_tunnel_fail(struct tunnel *t, const char *code, const char *why)
{
	struct proxy *px = t->px;

	if (t->closing)
		return;
	proxy_thread_lock(px);
	log_warn("node %s: closing its tunnel: %s", t->node, why);
	/* waiting for a session from another thread, its connection gone:
	 * freed when the session comes (resume_arrived) */
	if (!t->wsi && t->resume_waiting) {
		t->closing = 1;
		proxy_thread_unlock(px);
		return;
	}
	if (!t->wsi) {
		tunnel_free(t);
		proxy_thread_unlock(px);
		return;
	}
	queue_text(t, ctl_error(code, why));
	snprintf(t->close_reason, sizeof(t->close_reason), "%s", why);
	t->closing = 1;
	ring_consume(&t->tx, ring_len(&t->tx));
	t->rs.sent = 0;
	proxy_usbip_detach(t);
	proxy_tunnel_kick(t);
	proxy_thread_unlock(px);
}

/* The ending replace_older gives an older tunnel of a device: out of
 * listings and beyond a resume, its importer let go, its connection
 * closed within a few seconds even when the link is half-open. */
static void supersede(struct tunnel *u, const char *why)
{
	proxy_thread_lock(u->px);
	u->px->metrics.replaced++;
	proxy_thread_unlock(u->px);
	u->exported = 0;
	u->session[0] = 0;
	proxy_index_del(u->px, TUNNEL_BY_SESSION, u);
	if (!u->wsi) {
		tunnel_free(u);
		return;
	}
	proxy_usbip_detach(u);
	queue_text(u, ctl_error("replaced", why));
	snprintf(u->close_reason, sizeof(u->close_reason), "%s", why);
	u->closing = 1;
	ring_consume(&u->tx, ring_len(&u->tx));
	u->rs.sent = 0;
	close_superseded(u->wsi, NULL, why);
}

/* Fails t on its own thread, beyond a resume too when how says so. */
static void end_here(struct tunnel *t, const char *code, const char *why, enum proxy_fail how)
{
	struct lws *wsi = t->wsi;

	if (how == PROXY_FAIL_REPLACED) {
		supersede(t, why);
		return;
	}
	if (how == PROXY_FAIL_FOREVER) {
		t->session[0] = 0;
		t->exported = 0;
		proxy_index_del(t->px, TUNNEL_BY_SESSION, t);
	}
	proxy_tunnel_fail(t, code, why);
	/* a stalled link must not keep it open */
	if (how == PROXY_FAIL_FOREVER && wsi)
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, 3);
}

void proxy_tunnel_end(struct tunnel *t, const char *code, const char *why, enum proxy_fail how)
{
	struct proxy_msg *m;

	if (t->th == proxy_self) {
		end_here(t, code, why, how);
		return;
	}
	/* out of listings, and beyond a resume, at once; its thread does
	 * the rest */
	if (how != PROXY_FAIL_ONCE) {
		t->exported = 0;
		proxy_index_del(t->px, TUNNEL_BY_SESSION, t);
	}
	m = proxy_thread_msg_new(PROXY_MSG_FAIL);
	if (!m) {
		log_err("node %s: out of memory to end its tunnel on its thread: %s", t->node, why);
		return;
	}
	m->t = t;
	m->forever = (int)how;
	snprintf(m->code, sizeof(m->code), "%s", code);
	snprintf(m->why, sizeof(m->why), "%s", why);
	proxy_thread_post(t->th, m);
}

/* The importer waits while the node holds a window's worth unacknowledged. */
static void importer_resume_if_room(struct tunnel *t)
{
	if (t->imp && t->imp->rx_paused && ring_len(&t->tx) < t->px->cfg->resume_window) {
		t->imp->rx_paused = 0;
		lws_rx_flow_control(t->imp->wsi, 1);
	}
}

/* Who a listing is for, and so what it shows.  A node sees its own exported
 * devices and nothing of any other node's: tenants of one proxy do not learn
 * of each other.  An operator (the policy names its certificate) sees the
 * whole fleet. */
struct listing_scope {
	const char *node; /* the only node shown, or NULL: every node */
};

/* A tunnel on its way out is not shown, as in the devlist. */
static int scope_shows(const struct listing_scope *scope, const struct tunnel *t)
{
	return t->exported && !t->closing && (!scope->node || strcmp(t->node, scope->node) == 0);
}

/* One entry per node with a device shown, in the order each node's newest
 * export comes, its devices newest first: one pass, each node found in a
 * map, so an operator's listing of a whole fleet costs O(N). */
static char *nodes_listing(struct proxy *px, const struct listing_scope *scope)
{
	json_t *root = json_pack("{s:s, s:[]}", "type", "nodes", "nodes");
	json_t *nodes = json_object_get(root, "nodes"), *by_node = json_object();
	struct tunnel *t;
	char *s = NULL;

	if (!root || !by_node)
		goto out;
	for (t = px->tunnels; t; t = t->next) {
		json_t *devs;

		if (!scope_shows(scope, t))
			continue;
		devs = json_object_get(by_node, t->node);
		if (!devs) {
			json_t *node = json_pack("{s:s, s:[]}", "node", t->node, "devices");

			if (!node)
				goto out;
			devs = json_object_get(node, "devices");
			json_object_set(by_node, t->node, devs);
			json_array_append_new(nodes, node);
		}
		json_array_append_new(devs, ctl_device_json(&t->dev, t->ifs, t->imp ? "imported" : "exported"));
	}
	s = json_dumps(root, JSON_COMPACT);
out:
	json_decref(by_node);
	json_decref(root);
	return s;
}

static int reply_op(struct tunnel *t, uint16_t code, uint32_t status)
{
	uint8_t rep[USBIP_OP_COMMON_SIZE];

	usbip_op_common_encode(rep, sizeof(rep), code, status);
	if (ring_append(&t->tx, rep, sizeof(rep)) < 0)
		return USBWS_ERR_NOSPACE;
	proxy_tunnel_kick(t);
	return 0;
}

static void new_session(char out[CTL_SESSION_HEX + 1])
{
	uint8_t raw[CTL_SESSION_HEX / 2];
	size_t i;

	RAND_bytes(raw, sizeof(raw));
	for (i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* An exported tunnel goes first in the list, numbered, so that exported
 * tunnels run newest first: a devlist streamed over many writes resumes
 * from a number, whatever came and went meanwhile (proxy_usbip.c). */
static void move_to_front(struct tunnel *t)
{
	list_unlink(t);
	list_push_front(t);
	t->list_seq = ++t->px->list_seq;
}

/* t has just exported what older tunnels of its identity export under the
 * same node busid: the node restarted (its old link half-open, or parked
 * for a resume that will never come), or a second device holds the same
 * certificate.  One identity, one live connection per device: the older
 * ones end now, their importers and vhci ports with them, rather than
 * after the keepalive or resume time.  A run of takeovers, each soon after
 * the last, is two devices fighting: past PROXY_LOOP_REPLACEMENTS it is
 * said once per PROXY_LOOP_SECONDS instead of once each. */
static void replace_older(struct tunnel *t)
{
	struct tunnel *u, *next;
	time_t now = time(NULL);
	char why[CERTID_MAX + 48];

	snprintf(why, sizeof(why), "replaced by a newer connection of %s", t->node);
	for (u = proxy_index_first(t->px, TUNNEL_BY_ADDRESS, t->busid); u; u = next) {
		next = proxy_index_next(u, TUNNEL_BY_ADDRESS, t->busid);
		if (u == t || !u->exported || u->closing || strcmp(u->node, t->node) != 0)
			continue;
		if (u->replacements && now - u->replaced_at <= PROXY_LOOP_SECONDS) {
			t->replacements = u->replacements + 1;
			t->replaced_since = u->replaced_since;
			t->loop_warned = u->loop_warned;
		} else {
			t->replacements = 1;
			t->replaced_since = now;
			t->loop_warned = 0;
		}
		t->replaced_at = now;
		if (t->replacements <= PROXY_LOOP_REPLACEMENTS) {
			log_info("node %s: a newer connection exports its %s again; ending the older one "
				 "(busid %s, %s): %s", t->node, t->node_busid, u->busid,
				 u->wsi ? "connected" : "waiting for a resume", why);
		} else if (!t->loop_warned || now - t->loop_warned >= PROXY_LOOP_SECONDS) {
			log_warn("node %s: replacement loop: its %s has changed connections %u times in %ld s; "
				 "two live devices seem to share this identity (a copied certificate?); said again "
				 "at most once every %d s", t->node, t->node_busid, t->replacements,
				 (long)(now - t->replaced_since), PROXY_LOOP_SECONDS);
			t->loop_warned = now;
		} else {
			log_debug("node %s: its %s replaced again (%u times)", t->node, t->node_busid, t->replacements);
		}
		/* an attach asked for while it was parked is this one's now */
		if (u->attach_pending && t->offer == OFFER_HOLD) {
			t->attach_pending = 1;
			t->attach_only = u->attach_only;
		}
		/* out of listings and beyond a resume at once, whenever the
		 * old connection finally closes */
		proxy_tunnel_end(u, "replaced", why, PROXY_FAIL_REPLACED);
	}
}

static int over_tunnel_cap(struct tunnel *t, const char *busid);

#define NODE_BUSID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"

/* Another device holds t's address.  Settled the same whatever the order
 * of their exports (doc/fleet.md):
 * - the same node's device on the same port, or parked: the same device
 *   come back, which replace_older lets take over;
 * - the same node's live device on another port: two devices sharing a
 *   serial (or a replug behind a half-open link, which the keepalive ends
 *   soon): t is refused, and told of address=port;
 * - another node's device (2^64 tries to make on purpose): the identity
 *   that sorts first holds the address.
 * Returns 0 when t may have it, or USBWS_ERR_REFUSED after failing t. */
static int settle_collision(struct tunnel *t, struct tunnel *u)
{
	char why[300];

	if (strcmp(u->node, t->node) == 0) {
		if (!u->wsi || strcmp(u->node_busid, t->node_busid) == 0)
			return 0;
		snprintf(why, sizeof(why),
			 "address %s is held by this node's %s: two devices with one serial? "
			 "give %04x:%04x address=port in the policy (doc/fleet.md)",
			 t->busid, u->node_busid, t->dev.id_vendor, t->dev.id_product);
		log_warn("node %s: its %s would take address %s of its own %s: refused", t->node, t->node_busid,
			 t->busid, u->node_busid);
		proxy_tunnel_fail(t, "address", why);
		return USBWS_ERR_REFUSED;
	}
	if (strcmp(t->node, u->node) < 0) {
		snprintf(why, sizeof(why), "address %s goes to node %s, whose identity sorts first (doc/fleet.md)",
			 t->busid, t->node);
		log_warn("node %s: its %s takes address %s from node %s's %s, whose identity sorts after", t->node,
			 t->node_busid, t->busid, u->node, u->node_busid);
		proxy_tunnel_end(u, "address", why, PROXY_FAIL_FOREVER);
		return 0;
	}
	snprintf(why, sizeof(why), "address %s is held by node %s, whose identity sorts first (doc/fleet.md)",
		 t->busid, u->node);
	log_warn("node %s: its %s would take address %s of node %s's %s: refused", t->node, t->node_busid,
		 t->busid, u->node, u->node_busid);
	proxy_tunnel_fail(t, "address", why);
	return USBWS_ERR_REFUSED;
}

/* The device's stable address into t->busid, any collision settled. */
static int assign_address(struct tunnel *t)
{
	struct devaddr_source src = {
		.node = t->node,
		.vid = t->dev.id_vendor,
		.pid = t->dev.id_product,
		.node_busid = t->node_busid,
		/* the hello's serial is that of the device it named */
		.serial = strcmp(t->node_busid, t->hello_busid) == 0 ? t->serial : NULL,
		.ignore_serial = t->ignore_serial,
	};
	struct tunnel *u, *next;
	int by_serial = devaddr_make(&src, t->busid);

	if (by_serial < 0) {
		proxy_tunnel_fail(t, "address", "cannot derive this device's address (SHA-256 unavailable)");
		return by_serial;
	}
	proxy_index_add(t->px, TUNNEL_BY_ADDRESS, t);
	for (u = proxy_index_first(t->px, TUNNEL_BY_ADDRESS, t->busid); u; u = next) {
		next = proxy_index_next(u, TUNNEL_BY_ADDRESS, t->busid);
		if (u == t || !u->exported || u->closing)
			continue;
		if (settle_collision(t, u) < 0)
			return USBWS_ERR_REFUSED;
	}
	t->address_by_serial = by_serial;
	return 0;
}

static int op_end(struct tunnel *t);

/* OP messages from the node: the export and, at the end, the unexport. */
static int on_node_op(void *ctx, const struct usbip_event *ev)
{
	struct tunnel *t = ctx;
	struct proxy *px = t->px;
	int rc;

	switch (ev->type) {
	case USBIP_EV_OP:
		t->op_code = ev->u.op.code;
		return 0;
	case USBIP_EV_DEVICE:
		if (t->op_code == USBIP_OP_REQ_EXPORT)
			t->dev = ev->u.device;
		return 0;
	case USBIP_EV_END:
		break;
	default:
		return 0;
	}
	proxy_thread_lock(px);
	rc = op_end(t);
	proxy_thread_unlock(px);
	/* its file is opened outside the lock every thread shares */
	if (rc == 0 && t->op_code == USBIP_OP_REQ_EXPORT && t->exported)
		proxy_capture_exported(t);
	return rc;
}

/* An OP message from the node is whole: an export or an unexport, each a
 * control event.  Under px->lock. */
static int op_end(struct tunnel *t)
{
	struct proxy *px = t->px;
	int rc;

	if (t->op_code == USBIP_OP_REQ_EXPORT) {
		char node_busid[USBIP_BUSID_SIZE];
		unsigned int bus = ++px->next_bus;

		memcpy(node_busid, t->dev.busid, sizeof(node_busid));
		/* again, for the device the export names, which may not be the
		 * hello's */
		if (over_tunnel_cap(t, node_busid))
			return USBWS_ERR_REFUSED;
		memcpy(t->node_busid, t->dev.busid, sizeof(t->node_busid));
		/* it reaches logs, tables and the address: what a busid or a
		 * gadget's name holds, nothing else */
		if (strspn(node_busid, NODE_BUSID_CHARS) != strlen(node_busid) || !node_busid[0]) {
			proxy_tunnel_fail(t, "usbip",
					  "the exported device's busid holds characters other than "
					  "A-Z a-z 0-9 . _ : -");
			return USBWS_ERR_REFUSED;
		}
		if (proxy_policy_apply(t) < 0 || assign_address(t) < 0)
			return USBWS_ERR_REFUSED;
		memcpy(t->dev.busid, t->busid, sizeof(t->busid));
		snprintf(t->dev.path, sizeof(t->dev.path), "/usbws/%s/%s", t->node, node_busid);
		t->dev.busnum = bus;
		t->dev.devnum = 1;
		t->exported = 1;
		proxy_thread_lock(px);
		px->metrics.exports++;
		proxy_thread_unlock(px);
		move_to_front(t);
		log_info("node %s exported %04x:%04x (its %s) as busid %s, by its %s", t->node, t->dev.id_vendor,
			 t->dev.id_product, node_busid, t->busid, t->address_by_serial ? "serial" : "port");
		replace_older(t);
		if (px->cfg->resume_seconds > 0) {
			new_session(t->session);
			proxy_index_add(px, TUNNEL_BY_SESSION, t);
		}
		queue_text(t,
			   ctl_welcome(t->node, t->busid, t->session[0] ? t->session : NULL,
				       (unsigned int)px->cfg->resume_seconds, px->cfg->resume_window));
		rc = reply_op(t, USBIP_OP_REP_EXPORT, USBIP_ST_OK);
		/* vhci_hcd sends its first commands once attached: they queue
		 * behind the reply */
		if (rc == 0 && t->offer == OFFER_ATTACH && px->vhci_on) {
			char why[400];
			int err = proxy_vhci_attach(t, NULL, why, sizeof(why));

			if (err < 0)
				proxy_tunnel_fail(t, err == USBWS_ERR_NODE_LIMIT ? "limit" : "vhci", why);
		} else if (rc == 0 && t->attach_pending) {
			/* asked for while the device's older tunnel waited for a
			 * resume that became this fresh export */
			proxy_control_resumed(t);
		}
		return rc;
	}
	if (t->op_code == USBIP_OP_REQ_UNEXPORT) {
		log_info("node %s unexported busid %s", t->node, t->busid);
		t->exported = 0;
		t->session[0] = 0;
		proxy_usbip_detach(t);
		snprintf(t->close_reason, sizeof(t->close_reason), "device unexported");
		t->closing = 1;
		return reply_op(t, USBIP_OP_REP_UNEXPORT, USBIP_ST_OK);
	}
	return 0;
}

/* Bytes of one frame the importer may wait for: a node's frame (up to
 * 128 KiB) comes in TLS records of 16 KiB, and one write to the importer
 * for each record was twice the sends, wakeups and epoll_ctl calls of one
 * for the frame. */
#define PROXY_IMPORTER_BATCH (64u << 10)

/* in, len: part of a binary frame; frame_done when it is the last. */
static void node_binary(struct tunnel *t, const uint8_t *in, size_t len, int frame_done)
{
	struct importer *imp = t->imp;
	struct ring discard;
	int rc;

	proxy_tunnel_busy(t);

	if (!t->hello_seen) {
		proxy_tunnel_fail(t, "protocol", "USB/IP data before the hello message");
		return;
	}
	resume_received(&t->rs, len);
	/* without a session the node keeps nothing for us to acknowledge, and
	 * counts what it sent as acknowledged already */
	if (t->session[0] && resume_ack_due(&t->rs, 0)) {
		t->ack_due = 1;
		proxy_tunnel_kick(t);
	}
	if (imp) {
		rc = proxy_capture_relay(t, USBIP_FLOW_FROM_DEVICE, in, len, &imp->out, on_node_op, t);
	} else {
		/* replies for an importer that has left go nowhere, but are
		 * still checked (and captured: the node sent them) */
		ring_init(&discard, 0, PROXY_BUF_LIMIT);
		rc = proxy_capture_relay(t, USBIP_FLOW_FROM_DEVICE, in, len, &discard, on_node_op, t);
		ring_free(&discard);
	}
	if (rc < 0) {
		char why[120];

		snprintf(why, sizeof(why), "USB/IP protocol violation: %s", usbws_strerror(rc));
		proxy_metrics_violation(t->px, PROXY_FROM_NODE, rc);
		proxy_tunnel_fail(t, "usbip", why);
		return;
	}
	if (t->imp) {
		if (frame_done || ring_len(&t->imp->out) >= PROXY_IMPORTER_BATCH)
			proxy_usbip_kick(t->imp);
		if (ring_len(&t->imp->out) >= PROXY_HIGH_WATER)
			lws_rx_flow_control(t->wsi, 0);
	}
}

/* The other tunnels of self's node: live, waiting for their export (a
 * refused resume's connection too), parked for a resume, or closing (a
 * node that never reads its close would keep those around), but not
 * listings, and not the one an export of busid (the node's name for its
 * device) is about to replace. */
static unsigned int node_tunnels(const struct proxy *px, const struct tunnel *self, const char *busid)
{
	const struct tunnel *t;
	unsigned int n = 0;

	for (t = proxy_index_first(px, TUNNEL_BY_NODE, self->node); t;
	     t = proxy_index_next(t, TUNNEL_BY_NODE, self->node)) {
		if (t == self || (!t->hello_seen && !t->resume_refused))
			continue;
		if (t->exported && !t->closing && busid[0] && strcmp(t->node_busid, busid) == 0)
			continue;
		n++;
	}
	return n;
}

/* One node may not take every tunnel (and so the memory and ports behind
 * them): past --max-tunnels-per-node its next export is refused, and the
 * node tries again later, as a parked tunnel may expire meanwhile. */
static int over_tunnel_cap(struct tunnel *t, const char *busid)
{
	const struct proxy_config *cfg = t->px->cfg;
	char why[300];

	if (node_tunnels(t->px, t, busid) < cfg->max_tunnels_per_node)
		return 0;
	snprintf(why, sizeof(why), "node %s already has %u tunnels, live or kept for a resume, the most this proxy "
		 "allows one node (--max-tunnels-per-node); end one, or let a lost one's %d s resume time pass",
		 t->node, cfg->max_tunnels_per_node, cfg->resume_seconds);
	proxy_tunnel_fail(t, "limit", why);
	return 1;
}

/* No session to resume for t: told so, and (unless at its cap) that it
 * may export afresh on this connection. */
static void refuse_resume(struct tunnel *t, const char *session)
{
	char why[320];

	snprintf(why, sizeof(why),
		 "no session %.8s... for node %s here: it ended, expired after %d s, or "
		 "this proxy restarted",
		 session, t->node, t->px->cfg->resume_seconds);
	/* at its cap the node gets no connection to hold: it comes back
	 * on a new one, and is refused there as any export would be */
	if (node_tunnels(t->px, t, "") >= t->px->cfg->max_tunnels_per_node) {
		proxy_tunnel_fail(t, "no-session", why);
		return;
	}
	/* a fleet back after a restart: one handshake each, not two.
	 * t never exported, so its stream, framers and window are new */
	log_info("node %s: %s; it may export afresh on this connection", t->node, why);
	queue_text(t, ctl_error_fresh("no-session", why));
	t->hello_seen = 0;
	t->resume_refused = 1;
}

/* old, rewound to what the node has, takes over t's connection c (both
 * on this thread); t goes. */
static void resume_bind(struct node_conn *c, struct tunnel *t, struct tunnel *old, uint64_t received,
			uint32_t window)
{
	log_info("node %s resumed busid %s after %ld s: it had %llu bytes, this proxy %llu", t->node, old->busid,
		 old->parked_since ? (long)(time(NULL) - old->parked_since) : 0L, (unsigned long long)received,
		 (unsigned long long)old->rs.received);
	old->wsi = t->wsi;
	old->node_conn = c;
	old->parked_since = 0;
	old->last_rx_ms = old->last_ping_ms = monotonic_ms();
	tunnel_file(old);
	old->connected_since = t->connected_since;
	memcpy(old->peer, t->peer, sizeof(old->peer));
	old->resumes++;
	proxy_thread_lock(old->px);
	old->px->metrics.resumed++;
	proxy_thread_unlock(old->px);
	/* revocation is checked against the certificate of the live link */
	X509_free(old->cert);
	sk_X509_pop_free(old->chain, X509_free);
	old->cert = t->cert;
	old->chain = t->chain;
	t->cert = NULL;
	t->chain = NULL;
	t->node_conn = NULL;
	tunnel_free(t);
	c->t = old;
	queue_text(old, ctl_resumed(old->rs.received, old->px->cfg->resume_window));
	old->rs.ack_sent = old->rs.received;
	resume_peer_window(&old->rs, window);
	if (old->imp && ring_len(&old->imp->out) >= PROXY_HIGH_WATER)
		lws_rx_flow_control(old->wsi, 0);
	proxy_tunnel_kick(old);
	proxy_control_resumed(old);
}

/* On old's thread: the resume is possible from here (old is rewound to
 * received, its older connection let go).  Returns 0, or -1 after failing
 * old, with why filled. */
static int resume_prepare(struct tunnel *old, const char *node, uint64_t received, char *why, size_t why_cap)
{
	int rc = resume_rewind(&old->rs, &old->tx, received);

	if (rc < 0) {
		snprintf(why, why_cap, "cannot resume at byte %llu: %s", (unsigned long long)received,
			 usbws_strerror(rc));
		proxy_tunnel_fail(old, "protocol", why);
		return -1;
	}
	if (old->wsi) {
		/* the node saw its link die before we did */
		char replaced[CERTID_MAX + 48];

		snprintf(replaced, sizeof(replaced), "replaced by a newer connection of %s", node);
		log_info("node %s: a newer connection resumes busid %s; closing the old one: %s", node, old->busid,
			 replaced);
		old->node_conn->t = NULL;
		close_superseded(old->wsi, old->node_conn, replaced);
		old->wsi = NULL;
		old->node_conn = NULL;
	}
	return 0;
}

/* A node names the session of a tunnel it lost: the tunnel moves to this
 * connection and both sides carry on from what the other holds.  When the
 * tunnel lives on another thread, it (and its importer) moves here first:
 * a tunnel's connection, importer and vhci socket share a thread. */
static void resume_session(struct node_conn *c, const struct ctl_msg *msg)
{
	struct tunnel *t = c->t, *old;
	struct proxy_msg *m;
	char why[320];

	for (old = proxy_index_first(t->px, TUNNEL_BY_SESSION, msg->session); old;
	     old = proxy_index_next(old, TUNNEL_BY_SESSION, msg->session))
		if (old != t && !old->closing)
			break;
	/* a session is its identity's alone; the node is told what it would
	 * be told of a session that does not exist, the log says more */
	if (old && strcmp(old->node, t->node) != 0) {
		log_warn("node %s named session %.8s... of node %s: refused, a session is resumed only by its own "
			 "identity",
			 t->node, msg->session, old->node);
		old = NULL;
	}
	if (!old) {
		refuse_resume(t, msg->session);
		return;
	}
	if (old->th == t->th) {
		if (resume_prepare(old, t->node, msg->received, why, sizeof(why)) < 0) {
			proxy_tunnel_fail(t, "protocol", why);
			return;
		}
		resume_bind(c, t, old, msg->received, msg->window);
		return;
	}
	/* nobody else resumes it meanwhile; t waits for it, and is kept
	 * should its connection go first */
	m = proxy_thread_msg_new(PROXY_MSG_RESUME);
	if (!m) {
		proxy_tunnel_fail(t, "protocol", "out of memory to move the session to this connection");
		return;
	}
	proxy_index_del(t->px, TUNNEL_BY_SESSION, old);
	t->resume_waiting = 1;
	memcpy(m->session, msg->session, sizeof(m->session));
	m->t = old;
	m->t2 = t;
	m->from = t->th;
	m->received = msg->received;
	m->window = msg->window;
	proxy_thread_post(old->th, m);
}

/* RESUME, on old's thread: old is rewound and goes to the resuming
 * connection's thread, its importer's socket with it. */
static void resume_move(struct proxy_msg *m)
{
	struct tunnel *old = m->t, *t = m->t2;
	struct proxy_msg *reply = proxy_thread_msg_new(PROXY_MSG_RESUMED);
	int rc;

	if (!reply) {
		proxy_tunnel_fail(old, "protocol", "out of memory to move the session");
		return;
	}
	reply->t2 = t;
	memcpy(reply->session, m->session, sizeof(reply->session));
	reply->received = m->received;
	reply->window = m->window;
	if (resume_prepare(old, t->node, m->received, reply->why, sizeof(reply->why)) < 0) {
		snprintf(reply->code, sizeof(reply->code), "protocol");
		proxy_thread_post(m->from, reply);
		return;
	}
	rc = proxy_usbip_take(old, reply);
	if (rc == USBWS_ERR_BUSY && proxy_usbip_after_write(old->imp, m) == 0) {
		/* lws holds part of a write to the importer: the move waits
		 * until it is out (asked again then; rewinding is idempotent) */
		free(reply);
		return;
	}
	if (rc < 0) {
		snprintf(reply->code, sizeof(reply->code), "protocol");
		snprintf(reply->why, sizeof(reply->why), "cannot move busid %s's importer to this connection: %s",
			 old->busid, usbws_strerror(rc));
		proxy_tunnel_fail(old, "protocol", reply->why);
		proxy_thread_post(m->from, reply);
		return;
	}
	lws_dll2_remove(&old->wheel);
	lws_dll2_remove(&old->busy);
	log_info("node %s: busid %s goes to service thread %u, where it resumes%s", old->node, old->busid,
		 m->from->index, reply->fd >= 0 ? ", its importer with it" : "");
	reply->t = old;
	/* the reply first: whatever else was asked of old follows it */
	proxy_thread_post(m->from, reply);
	proxy_thread_move(old, m->from);
}

/* RESUMED, on the resuming connection's thread: old is here now (or there
 * was no session after all). */
static void resume_arrived(struct proxy_msg *m)
{
	struct tunnel *old = m->t, *t = m->t2;
	struct node_conn *c = t->node_conn;

	t->resume_waiting = 0;
	if (old) {
		proxy_usbip_give(old, m);
		/* failed on its way (it has no connection to close): gone */
		if (old->closing) {
			tunnel_free(old);
			old = NULL;
		} else if (old->exported) {
			proxy_index_add(old->px, TUNNEL_BY_SESSION, old);
		}
	}
	if (!c || t->closing) {
		/* the connection went while the session moved: parked here */
		if (old) {
			if (!old->parked_since)
				old->parked_since = time(NULL);
			tunnel_file(old);
		}
		tunnel_free(t);
		return;
	}
	if (!old && m->code[0]) {
		proxy_tunnel_fail(t, m->code, m->why);
		return;
	}
	if (!old) {
		refuse_resume(t, m->session);
		return;
	}
	resume_bind(c, t, old, m->received, m->window);
}

void proxy_tunnel_message(struct proxy_thread *th, struct proxy_msg *m)
{
	(void)th;
	switch (m->kind) {
	case PROXY_MSG_FAIL: end_here(m->t, m->code, m->why, (enum proxy_fail)m->forever); break;
	case PROXY_MSG_RESUME: resume_move(m); break;
	case PROXY_MSG_RESUMED: resume_arrived(m); break;
	default: break;
	}
}

static void node_text(struct node_conn *c, const void *in, size_t len, int final)
{
	struct tunnel *t = c->t;
	const char *text = in;
	struct ctl_msg msg;
	char why[200];
	int rc;

	/* a message in one frame is parsed where lws holds it; only one in
	 * fragments is gathered, and its buffer is not kept afterwards: an
	 * idle tunnel holds none */
	if (!final || buf_len(&t->text_in)) {
		if (buf_append(&t->text_in, in, len) < 0) {
			buf_free(&t->text_in);
			proxy_tunnel_fail(t, "bad-json", "control message too long");
			return;
		}
		if (!final)
			return;
		text = (const char *)buf_data(&t->text_in);
		len = buf_len(&t->text_in);
	}
	rc = ctl_parse(text, len, &msg, why, sizeof(why));
	buf_free(&t->text_in);
	if (rc < 0) {
		char reason[240];

		snprintf(reason, sizeof(reason), "malformed control message: %s", why);
		proxy_tunnel_fail(t, "bad-json", reason);
		return;
	}
	switch (msg.type) {
	case CTL_HELLO:
		/* a node with a valid certificate has said who it is: it
		 * leaves the caps on connections not yet authenticated */
		proxy_listen_authenticated(t->wsi);
		if (t->hello_seen) {
			proxy_tunnel_fail(t, "protocol", "second hello");
			return;
		}
		if (t->resume_refused && strcmp(msg.role, "export") != 0) {
			snprintf(why, sizeof(why),
				 "hello with role %s after no-session: only an export may follow on this connection",
				 msg.role);
			proxy_tunnel_fail(t, "protocol", why);
			return;
		}
		if (strcmp(msg.role, "list") == 0) {
			int operator= proxy_policy_operator(t->px, t->cert);
			struct listing_scope scope = { .node = operator? NULL : t->node };

			log_info("%s asked for the listing%s",
				 t->node, operator? " (operator: the whole fleet)" : "");
			queue_text(t, nodes_listing(t->px, &scope));
			snprintf(t->close_reason, sizeof(t->close_reason), "listing sent");
			t->closing = 1;
			return;
		}
		t->hello_seen = 1;
		if (strcmp(msg.role, "resume") == 0) {
			resume_session(c, &msg);
			return;
		}
		/* a node back from a dead link, at its cap, replaces its own
		 * older tunnel of this device rather than being refused */
		snprintf(t->hello_busid, sizeof(t->hello_busid), "%s", msg.busid);
		memcpy(t->serial, msg.serial, sizeof(t->serial));
		t->nifs = msg.nifs;
		resume_peer_window(&t->rs, msg.window);
		if (over_tunnel_cap(t, t->hello_busid))
			return;
		log_info("node %s connected", t->node);
		/* REQ_EXPORT carries no interfaces; listings take them from here */
		memcpy(t->ifs, msg.ifs, sizeof(t->ifs));
		return;
	case CTL_ACK:
		/* without a session nothing is kept to drop */
		if (!t->session[0])
			return;
		rc = resume_acked(&t->rs, &t->tx, msg.received);
		proxy_tunnel_busy(t);
		if (rc < 0) {
			snprintf(why, sizeof(why), "acknowledged byte %llu: %s", (unsigned long long)msg.received,
				 usbws_strerror(rc));
			proxy_tunnel_fail(t, "protocol", why);
			return;
		}
		importer_resume_if_room(t);
		return;
	case CTL_ERROR:
		log_warn("node %s reports: %s (%s)", t->node, msg.message, msg.code);
		return;
	default:
		proxy_tunnel_fail(t, "protocol", "unexpected control message from a node");
		return;
	}
}

/*
 * The writes of SERVER_WRITEABLE return what its callback returns to lws:
 * 0, or -1 to close the connection (a write that failed, or a close that
 * is due).
 */

/* The message at the head of the queue, one fragment of at most
 * USBWS_CTL_MAX per call: a listing can be far longer than one frame, and
 * what lws holds for a slow node stays one fragment. */
static int write_text_fragment(struct tunnel *t)
{
	/* each thread writes its own */
	static _Thread_local uint8_t frame[LWS_PRE + USBWS_CTL_MAX];
	char *s = t->text_queue[0];
	int kind = t->text_off ? LWS_WRITE_CONTINUATION : LWS_WRITE_TEXT;
	size_t n;

	if (!t->text_off)
		t->text_len = strlen(s);
	n = t->text_len - t->text_off;
	if (n > USBWS_CTL_MAX) {
		n = USBWS_CTL_MAX;
		kind |= LWS_WRITE_NO_FIN;
	}
	memcpy(frame + LWS_PRE, s + t->text_off, n);
	t->text_off += n;
	if (t->text_off == t->text_len) {
		free(s);
		memmove(t->text_queue, t->text_queue + 1, --t->ntext * sizeof(t->text_queue[0]));
		t->text_off = 0;
	}
	return lws_write(t->wsi, frame + LWS_PRE, n, (enum lws_write_protocol)kind) < (int)n ? -1 : 0;
}

static int write_text(struct tunnel *t, char *s, enum lws_write_protocol kind)
{
	/* each thread writes its own */
	static _Thread_local uint8_t frame[LWS_PRE + USBWS_CTL_MAX];
	size_t n = s ? strlen(s) : 0;

	if (n > USBWS_CTL_MAX)
		n = USBWS_CTL_MAX;
	memcpy(frame + LWS_PRE, s ? s : "", n);
	free(s);
	return lws_write(t->wsi, frame + LWS_PRE, n, kind) < (int)n ? -1 : 0;
}

/* One write per call: a ping, a control message, an ack, then the stream. */
static int write_queued(struct tunnel *t)
{
	uint8_t saved[LWS_PRE], *span;
	size_t n;
	int rc;

	/* nothing comes between the fragments of a message */
	if (t->ping_due && !t->text_off) {
		t->ping_due = 0;
		if (write_text(t, strdup("usbws"), LWS_WRITE_PING) < 0)
			return -1;
	} else if (t->ntext) {
		if (write_text_fragment(t) < 0)
			return -1;
	} else if (t->ack_due && t->session[0] && !t->closing) {
		t->ack_due = 0;
		resume_ack_queued(&t->rs);
		if (write_text(t, ctl_ack(t->rs.received), LWS_WRITE_TEXT) < 0)
			return -1;
	} else if (resume_unsent(&t->rs, &t->tx)) {
		/* large frames mean fewer poll rounds; see PROXY_WRITE_MAX */
		span = (uint8_t *)resume_unsent_span(&t->rs, &t->tx, &n);
		if (n > PROXY_WRITE_MAX)
			n = PROXY_WRITE_MAX;
		/* sent in place: lws writes the frame header into the LWS_PRE
		 * bytes in front of the span (the ring's headroom, or ring
		 * bytes that may be kept for a resend) and has copied whatever
		 * it keeps by the time it returns, so they are put back (lws
		 * 4.1's lws_write never closes or frees the connection inside
		 * the call, so tx is still there) */
		memcpy(saved, span - LWS_PRE, LWS_PRE);
		/* counted before the write: a write that fails may still have
		 * put part of the frame on the wire, and the node counts what
		 * arrives; the bytes stay in tx until acknowledged either way */
		resume_wrote(&t->rs, n);
		rc = lws_write(t->wsi, span, n, LWS_WRITE_BINARY);
		memcpy(span - LWS_PRE, saved, LWS_PRE);
		if (rc < (int)n)
			return -1;
		/* without a session nothing is ever resent */
		if (!t->session[0])
			resume_acked(&t->rs, &t->tx, t->rs.acked + t->rs.sent);
		importer_resume_if_room(t);
	} else if (t->closing) {
		lws_close_reason(t->wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)t->close_reason,
				 strlen(t->close_reason));
		return -1;
	}
	if (t->ntext || t->ping_due || t->ack_due || resume_unsent(&t->rs, &t->tx) || t->closing)
		lws_callback_on_writable(t->wsi);
	return 0;
}

const char *proxy_tunnel_state(const struct tunnel *t)
{
	if (t->imp)
		return t->imp->vhci_port >= 0 ? "attached" : "re-exported";
	return t->offer == OFFER_HOLD ? "held" : "offered";
}

int proxy_tunnel_offered(const struct tunnel *t)
{
	return t->exported && !t->closing;
}

void proxy_tunnel_stats(const struct tunnel *t, struct tunnel_stats *out)
{
	if (t->th != proxy_self) {
		*out = t->stats;
		return;
	}
	out->to_device = *usbip_validator_flow(t->validator, USBIP_FLOW_TO_DEVICE);
	out->from_device = *usbip_validator_flow(t->validator, USBIP_FLOW_FROM_DEVICE);
	out->rtt = *usbip_validator_rtt(t->validator);
	out->inflight = usbip_validator_inflight(t->validator);
}

/* An alert the proxy sends while a handshake is under way, as
 * usbws_tls_refusals_total counts it: the certificate alerts follow a
 * verification the callback below refused and counted; a TLS 1.2 client
 * without a certificate gets handshake_failure (40), which cannot be told
 * from any other, and counts as "handshake". */
static enum proxy_refusal refusal_of_alert(int alert)
{
	switch (alert) {
	case SSL_AD_BAD_CERTIFICATE:
	case SSL_AD_UNSUPPORTED_CERTIFICATE:
	case SSL_AD_CERTIFICATE_REVOKED:
	case SSL_AD_CERTIFICATE_EXPIRED:
	case SSL_AD_CERTIFICATE_UNKNOWN:
	case SSL_AD_UNKNOWN_CA:
	case SSL_AD_ACCESS_DENIED: return PROXY_REFUSALS;
	case 116: return PROXY_REFUSAL_NO_CERTIFICATE; /* TLS 1.3's certificate_required */
	default: return PROXY_REFUSAL_HANDSHAKE;
	}
}

/* A failed verification as usbws_tls_refusals_total counts it. */
static enum proxy_refusal refusal_of(int x509_err)
{
	switch (x509_err) {
	case X509_V_ERR_CERT_REVOKED: return PROXY_REFUSAL_REVOKED;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID: return PROXY_REFUSAL_EXPIRED;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: return PROXY_REFUSAL_UNKNOWN_CA;
	default: return PROXY_REFUSAL_BAD_CERTIFICATE;
	}
}

/* OpenSSL's verdict on each certificate of the chain, and then ours on the
 * node's own: it must name exactly one identity (certid.h).  Returns 0 to
 * go on, 1 to refuse the handshake. */
static int verify_client_cert(struct lws *wsi, X509_STORE_CTX *xctx, size_t preverify_ok)
{
	struct proxy *px = ((struct proxy_thread *)lws_get_vhost_user(lws_get_vhost(wsi)))->px;
	X509 *cert = X509_STORE_CTX_get_current_cert(xctx);
	char subject[256], serial[80], name[CERTID_MAX + 1];
	int err;

	if (preverify_ok && X509_STORE_CTX_get_error_depth(xctx) > 0)
		return 0;
	certid_subject(cert, subject, sizeof(subject));
	certid_serial(cert, serial, sizeof(serial));
	if (!preverify_ok) {
		err = X509_STORE_CTX_get_error(xctx);
		proxy_metrics_refusal(px, refusal_of(err));
		log_warn("client certificate rejected: %s (subject %s, serial %s); a node needs a certificate signed "
			 "by --ca, valid now and not revoked", X509_verify_cert_error_string(err), subject, serial);
		return 1;
	}
	err = certid_get(cert, px->cfg->identity, name);
	if (err < 0) {
		proxy_metrics_refusal(px, PROXY_REFUSAL_BAD_IDENTITY);
		log_warn("client certificate rejected: %s (subject %s, serial %s, --identity %s)", usbws_strerror(err),
			 subject, serial, certid_source_name(px->cfg->identity));
		/* the node is told "bad certificate" */
		X509_STORE_CTX_set_error(xctx, X509_V_ERR_CERT_REJECTED);
		return 1;
	}
	return 0;
}

/* Handshakes (TLS, the upgrade) anyone can fail at will: a few lines a
 * window for the whole proxy, then a sum (tick).  Refusals are rare next
 * to everything else: they take the lock. */
static int refusal_shown(struct proxy *px)
{
	int shown;

	proxy_thread_lock(px);
	shown = log_limit_allow(&px->tls_refusals, monotonic_ms());
	proxy_thread_unlock(px);
	return shown;
}

/* Every alert the proxy sends during a handshake explains a refusal; the
 * one that matters most is "certificate required" (no client certificate),
 * which never reaches the verification callback. */
static void tls_info(const SSL *ssl, int where, int ret)
{
	struct proxy_thread *th = proxy_self;
	char peer[NETADDR_STRLEN];

	if (!(where & SSL_CB_ALERT) || !(where & SSL_CB_WRITE) || (ret >> 8) != SSL3_AL_FATAL)
		return;
	/* a peer that connects and leaves without a byte was refused
	 * nothing: OpenSSL answers its EOF with a decode_error alert */
	if (BIO_number_read(SSL_get_rbio(ssl)) == 0)
		return;
	netaddr_peer(SSL_get_fd(ssl), peer, sizeof(peer));
	if (!th)
		return;
	if (SSL_in_init(ssl))
		proxy_metrics_refusal(th->px, refusal_of_alert(ret & 0xff));
	if (!refusal_shown(th->px))
		return;
	/* TLS 1.3's certificate_required (116) is missing from OpenSSL 3.0's names */
	if ((ret & 0xff) == 116)
		log_warn("TLS handshake with %s refused: certificate required (the node sent no client certificate)",
			 peer);
	else
		log_warn("TLS handshake with %s refused: %s", peer, SSL_alert_desc_string_long(ret));
}

static void tunnel_open(struct node_conn *c, struct lws *wsi)
{
	/* the validator times each URB's round trip for `usbws nodes` and /metrics */
	struct usbip_validator_config validator_config = { .clock_ns = monotonic_clock_ns };
	struct proxy_thread *th = lws_get_vhost_user(lws_get_vhost(wsi));
	struct proxy *px = th->px;
	SSL *ssl = lws_get_ssl(wsi);
	STACK_OF(X509) *chain = ssl ? SSL_get_peer_cert_chain(ssl) : NULL;
	struct tunnel *t = calloc(1, sizeof(*t));
	int rc;

	c->t = t;
	if (!t)
		return;
	t->px = px;
	t->th = th;
	t->wsi = wsi;
	t->node_conn = c;
	t->last_rx_ms = t->last_ping_ms = monotonic_ms();
	t->connected_since = time(NULL);
	netaddr_peer(lws_get_socket_fd(wsi), t->peer, sizeof(t->peer));
	/* the name the handshake checked, read again from the same field; or
	 * the certificate a balancer forwarded, checked at the upgrade */
	if (ssl) {
		t->cert = SSL_get1_peer_certificate(ssl);
	} else {
		t->cert = c->balanced_cert;
		c->balanced_cert = NULL;
		if (c->balanced_peer[0])
			memcpy(t->peer, c->balanced_peer, sizeof(t->peer));
	}
	rc = certid_get(t->cert, px->cfg->identity, t->node);
	if (rc < 0) {
		log_warn("a connection without a usable identity is refused: %s", usbws_strerror(rc));
		goto refuse;
	}
	t->chain = chain ? X509_chain_up_ref(chain) : NULL;
	usbip_limits_default(&validator_config.limits);
	t->validator = usbip_validator_new(&validator_config);
	if (!t->validator) {
		log_warn("node %s: out of memory for its URB firewall; refusing the connection", t->node);
		goto refuse;
	}
	usbip_framer_init(&t->from_node, USBIP_FLOW_FROM_DEVICE, t->validator);
	usbip_framer_init(&t->to_node, USBIP_FLOW_TO_DEVICE, t->validator);
	usbip_framer_start_urb_phase(&t->to_node);
	/* the window, plus one more read from the importer */
	ring_init(&t->tx, LWS_PRE, px->cfg->resume_window + 2 * PROXY_RX_CHUNK);
	buf_init(&t->text_in, 0, USBWS_CTL_MAX);
	list_push_front(t);
	th->load++;
	tunnel_file(t);
	proxy_index_add(px, TUNNEL_BY_NODE, t);
	log_debug("TLS client %s connected", t->node);
	return;
refuse:
	X509_free(t->cert);
	sk_X509_pop_free(t->chain, X509_free);
	free(t);
	c->t = NULL;
}

/* A node that closes for a reason of its own (it found our stream broken,
 * say) is worth a line; a normal close is said by "disconnected". */
static void log_peer_close(const struct tunnel *t, const uint8_t *payload, size_t len)
{
	char reason[WS_MAX_CLOSE_REASON + 1];
	unsigned int code;

	if (len < 2)
		return;
	code = (unsigned int)(payload[0] << 8 | payload[1]);
	if (code == WS_CLOSE_NORMAL || code == WS_CLOSE_GOING_AWAY)
		return;
	log_printable(reason, sizeof(reason), payload + 2, len - 2);
	log_warn("node %s closed its connection with status %u: %s", t->node, code,
		 reason[0] ? reason : "no reason given");
}

/* The connection is gone.  An exported device with a session waits for
 * its node; anything else ends here. */
static void tunnel_closed(struct node_conn *c)
{
	struct tunnel *t = c->t;

	c->t = NULL;
	if (!t)
		return;
	t->node_conn = NULL;
	t->wsi = NULL;
	/* its session is on its way from another thread: that decides */
	if (t->resume_waiting)
		return;
	if (t->peer_closed && !usbip_framer_at_boundary(&t->from_node) && !usbip_framer_error(&t->from_node) && !t->closing) {
		log_warn("node %s: closing its tunnel: USB/IP protocol violation: %s", t->node,
			 usbws_strerror(USBWS_ERR_STREAM_TRUNCATED));
		proxy_metrics_violation(t->px, PROXY_FROM_NODE, USBWS_ERR_STREAM_TRUNCATED);
		t->closing = 1;
	}
	if (t->exported && t->session[0] && !t->closing && !t->peer_closed && !t->px->stopping) {
		t->parked_since = time(NULL);
		t->ack_due = t->ping_due = 0;
		tunnel_file(t);
		/* replies that came before the link died are whole: they go now,
		 * not when a frame the dead link cut short would have ended */
		if (t->imp && ring_len(&t->imp->out))
			proxy_usbip_kick(t->imp);
		log_warn("node %s: connection lost; keeping busid %s%s for %d s for it to resume", t->node,
			 t->busid, t->imp ? " and its importer" : "", t->px->cfg->resume_seconds);
		return;
	}
	if (t->hello_seen)
		log_info("node %s disconnected%s%s", t->node, t->busid[0] ? ", busid " : "", t->busid);
	tunnel_free(t);
}

/* Frees what drained, and asks for the acknowledgement the node's data
 * calls for.  Returns 1 while t should stay busy. */
static int tunnel_trim(struct tunnel *t)
{
	int busy;

	if (t->wsi && t->session[0] && resume_ack_due(&t->rs, 1)) {
		t->ack_due = 1;
		proxy_tunnel_kick(t);
	}
	/* a drained buffer is not kept: idle tunnels are most of a fleet,
	 * and a busy one grows it back at once */
	ring_trim(&t->tx);
	usbip_validator_trim(t->validator);
	busy = t->ack_due || ring_allocated(&t->tx) || usbip_validator_table_slots(t->validator);
	if (t->imp) {
		ring_trim(&t->imp->out);
		busy |= ring_allocated(&t->imp->out) != 0;
	}
	/* a capture's slow reader is waited for here, once a second */
	busy |= proxy_capture_trim(t);
	return busy;
}

/* A quiet link gets its ping at once when nothing else waits to go out:
 * asking lws for a writable callback instead costs two epoll_ctl calls a
 * ping, most of an idle fleet's system time. */
static void tunnel_ping(struct tunnel *t)
{
	uint8_t frame[LWS_PRE + 8];

	if (t->ntext || t->text_off || t->ack_due || t->closing || t->peer_closed ||
	    resume_unsent(&t->rs, &t->tx) || lws_partial_buffered(t->wsi)) {
		t->ping_due = 1;
		proxy_tunnel_kick(t);
		return;
	}
	memcpy(frame + LWS_PRE, "usbws", 5);
	if (lws_write(t->wsi, frame + LWS_PRE, 5, LWS_WRITE_PING) < 5)
		lws_set_timeout(t->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* What falls due of t, filed under this second: its resume time ends, its
 * keepalive times out, or it needs a ping.  Returns 0, or -1 when t is
 * gone. */
static int tunnel_due(struct tunnel *t, time_t now, int64_t now_ms)
{
	const struct proxy_config *cfg = t->px->cfg;

	/* its fate is the session's, on its way from another thread: off
	 * the wheel until then (the session's tunnel is filed when it comes) */
	if (t->resume_waiting)
		return -1;
	if (!t->wsi) {
		if (now - t->parked_since < cfg->resume_seconds)
			return 0;
		log_warn("node %s did not resume within %d s; detaching busid %s", t->node, cfg->resume_seconds,
			 t->busid);
		tunnel_free(t);
		return -1;
	}
	if (!cfg->ping_interval)
		return 0;
	if (now_ms >= tunnel_timeout_at(t)) {
		log_warn("node %s: nothing heard for %ld s (keepalive timeout); dropping its connection", t->node,
			 (long)((now_ms - t->last_rx_ms) / 1000));
		t->last_rx_ms = now_ms;
		lws_set_timeout(t->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return 0;
	}
	if (now_ms >= tunnel_ping_at(t)) {
		t->last_ping_ms = now_ms;
		tunnel_ping(t);
	}
	return 0;
}

static void tunnel_tick(struct proxy_thread *th, time_t now, int64_t now_ms)
{
	struct tunnel *t;
	int64_t second;
	unsigned int hidden, slots;

	if (th->index == 0 && (hidden = log_limit_flush(&th->px->tls_refusals, now_ms)))
		log_warn("refused %u more TLS handshakes or upgrades in the last %d s", hidden,
			 LOG_LIMIT_WINDOW_MS / 1000);
	lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1, lws_dll2_get_head(&th->busy))
	{
		t = lws_container_of(d, struct tunnel, busy);
		if (!tunnel_trim(t))
			lws_dll2_remove(&t->busy);
	}
	lws_end_foreach_dll_safe(d, d1);

	/* every second since the last tick, should the loop have stalled;
	 * after a stall longer than the wheel, each slot once, as if the last
	 * tick had been a wheel ago, so what is filed again lands ahead of now */
	if (now_ms / 1000 - th->wheel_second > PROXY_WHEEL_SLOTS)
		th->wheel_second = now_ms / 1000 - PROXY_WHEEL_SLOTS;
	slots = 0;
	for (second = th->wheel_second + 1; second <= now_ms / 1000 && slots < PROXY_WHEEL_SLOTS;
	     second++, slots++) {
		lws_dll2_owner_t *slot = &th->wheel[second % PROXY_WHEEL_SLOTS];

		/* what is filed again goes to a later slot (tunnel_file) */
		th->wheel_second = second;
		while (slot->head) {
			t = lws_container_of(slot->head, struct tunnel, wheel);
			lws_dll2_remove(&t->wheel);
			if (tunnel_due(t, now, now_ms) == 0)
				tunnel_file(t);
		}
	}
	th->wheel_second = now_ms / 1000;
}

/* Under px->lock: a tunnel that is due may end (and its parked session
 * with it), and a stalled tick is short next to what a lock per tunnel
 * would cost. */
void proxy_tunnel_tick(struct proxy_thread *th)
{
	proxy_thread_lock(th->px);
	tunnel_tick(th, time(NULL), monotonic_ms());
	proxy_thread_unlock(th->px);
}

unsigned int proxy_tunnel_revoke(struct proxy *px, X509_STORE *store)
{
	struct tunnel *t, *next;
	char subject[256], serial[80];
	unsigned int n = 0;

	for (t = px->tunnels; t; t = next) {
		next = t->next;
		if (!t->cert || t->closing || !proxy_trust_revoked(store, t->cert, t->chain))
			continue;
		certid_subject(t->cert, subject, sizeof(subject));
		certid_serial(t->cert, serial, sizeof(serial));
		log_warn("node %s: certificate revoked (serial %s, subject %s); %s", t->node, serial, subject,
			 t->wsi ? "cutting off its connection" : "ending its parked session");
		n++;
		proxy_tunnel_end(t, "revoked", "this node's certificate has been revoked", PROXY_FAIL_FOREVER);
	}
	return n;
}

void proxy_tunnel_free_all(struct proxy *px)
{
	while (px->tunnels)
		tunnel_free(px->tunnels);
}

/* A refused upgrade, in a line that tls_refusals limits. */
static void refuse_upgrade(struct lws *wsi, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void refuse_upgrade(struct lws *wsi, const char *fmt, ...)
{
	struct proxy_thread *th = lws_get_vhost_user(lws_get_vhost(wsi));
	char peer[NETADDR_STRLEN], line[640];
	va_list ap;

	if (!th)
		return;
	proxy_metrics_refusal(th->px, PROXY_REFUSAL_UPGRADE);
	if (!refusal_shown(th->px))
		return;
	netaddr_peer(lws_get_socket_fd(wsi), peer, sizeof(peer));
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_warn("refused a WebSocket upgrade from %s: %s", peer, line);
}

static int has_header(struct lws *wsi, const char *name)
{
	return lws_hdr_custom_length(wsi, name, (int)strlen(name)) >= 0;
}

/* Checks the certificate as the TLS handshake checks a node's: signed by
 * --ca, valid now, a client certificate, not revoked by --crl (the store a
 * reload replaces).  Returns 0, or 1 after logging why not. */
static int verify_balanced_cert(struct lws *wsi, struct proxy_thread *th, X509 *cert)
{
	X509_STORE_CTX *xctx = X509_STORE_CTX_new();
	char subject[256], serial[80];
	int ok = 0;

	if (xctx && X509_STORE_CTX_init(xctx, SSL_CTX_get_cert_store(th->wss_ssl), cert, NULL)) {
		X509_STORE_CTX_set_purpose(xctx, X509_PURPOSE_SSL_CLIENT);
		ok = X509_verify_cert(xctx) == 1;
	}
	if (!ok) {
		certid_subject(cert, subject, sizeof(subject));
		certid_serial(cert, serial, sizeof(serial));
		refuse_upgrade(wsi,
			       "the certificate the balancer forwarded is rejected: %s (subject %s, serial %s)",
			       xctx ? X509_verify_cert_error_string(X509_STORE_CTX_get_error(xctx))
				    : "out of memory",
			       subject, serial);
	}
	X509_STORE_CTX_free(xctx);
	ERR_clear_error();
	return !ok;
}

/*
 * A connection without TLS came through --balancer-listen, from a
 * --trusted-balancer: the node's identity is the certificate in its
 * header, which the balancer verified and which is verified here again, so
 * --crl, its reloads and --identity hold as they do for a direct node.
 * Returns 0 with c->balanced_cert set, or 1 after logging why not.
 */
static int balanced_identity(struct lws *wsi, struct node_conn *c)
{
	struct proxy_thread *th = lws_get_vhost_user(lws_get_vhost(wsi));
	struct proxy *px = th->px;
	int nlen = (int)strlen(BALANCER_CERT_HEADER), len, rc;
	char name[CERTID_MAX + 1], why[200], *value;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	X509 *cert;

	/* the listener refused everyone else; a plain connection from
	 * anywhere else would be a bug that names nodes at will */
	if (getpeername(lws_get_socket_fd(wsi), (struct sockaddr *)&ss, &sslen) < 0 ||
	    !balancer_trusted(px->cfg->trusted, px->cfg->ntrusted, (struct sockaddr *)&ss, sslen)) {
		refuse_upgrade(wsi, "plain HTTP from an address that is not a --trusted-balancer");
		return 1;
	}
	len = lws_hdr_custom_length(wsi, BALANCER_CERT_HEADER, nlen);
	if (len < 0 || len > BALANCER_CERT_MAX) {
		refuse_upgrade(wsi, "%s (X-Usbws-Client-Cert %s)", usbws_strerror(USBWS_ERR_CERT_HEADER),
			       len < 0 ? "missing" : "too long");
		return 1;
	}
	value = malloc((size_t)len + 1);
	if (!value || lws_hdr_custom_copy(wsi, value, len + 1, BALANCER_CERT_HEADER, nlen) != len) {
		free(value);
		refuse_upgrade(wsi, "cannot read the X-Usbws-Client-Cert header");
		return 1;
	}
	rc = balancer_cert_decode(value, (size_t)len, &cert, why, sizeof(why));
	free(value);
	if (rc < 0) {
		refuse_upgrade(wsi, "%s", why);
		return 1;
	}
	if (verify_balanced_cert(wsi, th, cert)) {
		X509_free(cert);
		return 1;
	}
	rc = certid_get(cert, px->cfg->identity, name);
	if (rc < 0) {
		refuse_upgrade(wsi, "the forwarded certificate names no node: %s (--identity %s)",
			       usbws_strerror(rc), certid_source_name(px->cfg->identity));
		X509_free(cert);
		return 1;
	}
	/* the node's own address, as the balancer saw it; else the balancer's */
	len = lws_hdr_total_length(wsi, WSI_TOKEN_X_FORWARDED_FOR);
	if (len > 0 && len < 256) {
		char xff[256];

		lws_hdr_copy(wsi, xff, sizeof(xff), WSI_TOKEN_X_FORWARDED_FOR);
		balancer_forwarded_for(xff, c->balanced_peer, sizeof(c->balanced_peer));
	}
	c->balanced_cert = cert;
	return 0;
}

/* Only WebSocket upgrades to USBWS_PATH that ask for our subprotocol; a
 * node's identity from its TLS handshake, or from a trusted balancer. */
static int filter_connection(struct lws *wsi, struct node_conn *c)
{
	char uri[64] = "", proto[128] = "";

	lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
	lws_hdr_copy(wsi, proto, sizeof(proto), WSI_TOKEN_PROTOCOL);
	if (strcmp(uri, USBWS_PATH) != 0 || !strstr(proto, USBWS_SUBPROTOCOL)) {
		struct proxy_thread *th = lws_get_vhost_user(lws_get_vhost(wsi));
		char peer[NETADDR_STRLEN], shown_uri[sizeof(uri)], shown_proto[sizeof(proto)];

		if (!th || !refusal_shown(th->px))
			return 1;
		netaddr_peer(lws_get_socket_fd(wsi), peer, sizeof(peer));
		log_printable(shown_uri, sizeof(shown_uri), uri, strlen(uri));
		log_printable(shown_proto, sizeof(shown_proto), proto, strlen(proto));
		log_warn("refused a WebSocket upgrade from %s to '%s' with subprotocol '%s' (want %s, %s)", peer,
			 shown_uri, shown_proto, USBWS_PATH, USBWS_SUBPROTOCOL);
		return 1;
	}
	if (!lws_get_ssl(wsi))
		return !c || balanced_identity(wsi, c);
	/* a node that speaks TLS to us names itself by its certificate; a
	 * header claiming otherwise is an attempt, or a balancer pointed at
	 * the wrong port */
	if (has_header(wsi, BALANCER_CERT_HEADER) || has_header(wsi, BALANCER_IDENTITY_HEADER)) {
		refuse_upgrade(wsi,
			       "it carries an X-Usbws-Client-Cert or X-Usbws-Identity header on --listen; only "
			       "a --trusted-balancer may, on --balancer-listen");
		return 1;
	}
	return 0;
}

/* The vhost's TLS context is made: it verifies nodes against the store
 * of --ca and --crl, which a reload replaces (proxy_trust.c). */
static int tls_context_made(SSL_CTX *ssl_ctx, struct lws_vhost *vh)
{
	struct proxy_thread *th = lws_get_vhost_user(vh);

	SSL_CTX_set_info_callback(ssl_ctx, tls_info);
	/* a resumed TLS session skips certificate verification: a node revoked
	 * or expired since its first handshake would get back in that way.  A
	 * full handshake on each reconnect costs a node nothing it notices. */
	SSL_CTX_set_session_cache_mode(ssl_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ssl_ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ssl_ctx, 0);
	if (!th->px->store)
		return 1;
	SSL_CTX_set1_cert_store(ssl_ctx, th->px->store);
	th->wss_ssl = ssl_ctx;
	return 0;
}

static int tunnel_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct node_conn *c;
	struct tunnel *t;

	/* these two come before there is a connection: user is OpenSSL's */
	if (reason == LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION)
		return verify_client_cert(wsi, user, len);
	if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS)
		return tls_context_made(user, in);
	c = user;
	t = c ? c->t : NULL;
	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		proxy_thread_lock(proxy_self->px);
		tunnel_open(c, wsi);
		proxy_thread_unlock(proxy_self->px);
		return c->t ? 0 : -1;
	case LWS_CALLBACK_RECEIVE:
		if (!t || t->closing)
			return 0;
		t->last_rx_ms = monotonic_ms();
		/* the data path takes no lock: what it changes is this
		 * thread's (an export or a failure takes it) */
		if (lws_frame_is_binary(wsi)) {
			node_binary(t, in, len, !lws_remaining_packet_payload(wsi));
			return 0;
		}
		proxy_thread_lock(t->px);
		node_text(c, in, len, lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi));
		proxy_thread_unlock(proxy_self->px);
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (t) {
			t->peer_closed = 1;
			log_peer_close(t, in, len);
		}
		return 0;
	case LWS_CALLBACK_RECEIVE_PONG:
		if (t)
			t->last_rx_ms = monotonic_ms();
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (t)
			return write_queued(t);
		/* a connection whose tunnel moved on to a newer one is closing */
		if (c && c->close_reason[0])
			lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)c->close_reason,
					 strlen(c->close_reason));
		return -1;
	case LWS_CALLBACK_CLOSED:
		proxy_thread_lock(proxy_self->px);
		tunnel_closed(c);
		proxy_thread_unlock(proxy_self->px);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		/* refused between the upgrade's check and its end */
		if (c) {
			X509_free(c->balanced_cert);
			c->balanced_cert = NULL;
		}
		proxy_listen_closed(wsi);
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: return filter_connection(wsi, c);
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

const struct lws_protocols proxy_tunnel_protocol = {
	.name = USBWS_SUBPROTOCOL,
	.callback = tunnel_callback,
	.per_session_data_size = sizeof(struct node_conn),
	.rx_buffer_size = PROXY_RX_CHUNK,
	.tx_packet_size = PROXY_TX_PACKET,
};
