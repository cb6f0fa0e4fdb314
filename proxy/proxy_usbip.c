/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The proxy's USB/IP re-export (--usbip-listen): a raw TCP protocol that
 * answers OP_REQ_DEVLIST with the devices nodes have exported and
 * OP_REQ_IMPORT by splicing the importer into that device's tunnel.
 * Stock clients (usbip list -r, usbip attach) speak to it unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "proxy.h"
#include "proxy_int.h"
#include "base/usbws_err.h"

void proxy_usbip_kick(struct importer *imp)
{
	if (imp->wsi)
		lws_callback_on_writable(imp->wsi);
}

struct tunnel *proxy_usbip_find_busid(struct proxy *px, const char *busid)
{
	struct tunnel *t;

	for (t = proxy_index_first(px, TUNNEL_BY_ADDRESS, busid); t;
	     t = proxy_index_next(t, TUNNEL_BY_ADDRESS, busid))
		if (t->exported && !t->closing)
			return t;
	return NULL;
}

/* A move that waited for imp's output is asked again. */
static void move_again(struct importer *imp)
{
	struct proxy_msg *m = imp->move_waiting;

	if (!m)
		return;
	imp->move_waiting = NULL;
	proxy_thread_post(imp->th, m);
}

int proxy_usbip_after_write(struct importer *imp, const struct proxy_msg *m)
{
	struct proxy_msg *again = proxy_thread_msg_new(m->kind);

	if (!again)
		return USBWS_ERR_NOMEM;
	*again = *m;
	memset(&again->list, 0, sizeof(again->list));
	/* what m held is again's now */
	again->fd = -1;
	again->e = NULL;
	again->saved = NULL;
	again->store = NULL;
	imp->move_waiting = again;
	proxy_usbip_kick(imp);
	return 0;
}

void proxy_usbip_detach(struct tunnel *t)
{
	struct importer *imp = t->imp;

	if (!imp)
		return;
	/* asked again without its importer: whatever follows for t (its
	 * end) answers it */
	move_again(imp);
	t->imp = NULL;
	imp->t = NULL;
	imp->close_when_sent = 1;
	proxy_usbip_kick(imp);
	if (t->wsi)
		lws_rx_flow_control(t->wsi, 1);
	/* a command cut off halfway, or refused, may have reached the node
	 * in part: the stream cannot carry another importer's commands */
	if (!usbip_framer_at_boundary(&t->to_node) && !t->closing) {
		log_warn("node %s: its importer %s; closing the tunnel, whose stream may hold part of it",
			 t->node, usbip_framer_error(&t->to_node) ? "broke the USB/IP protocol" : "left in the middle of a URB");
		snprintf(t->close_reason, sizeof(t->close_reason), "importer left mid-URB");
		t->closing = 1;
		proxy_tunnel_kick(t);
	}
	log_info("busid %s released by its importer", t->busid);
}

/* What a devlist shows: every device exported and not going away (this
 * listener is not a tenant's view, doc/protocol.md), up to a list_seq. */
static int devlist_shows(const struct tunnel *t, uint64_t below)
{
	/* a device held on demand is reached through `usbws attach` only */
	return t->exported && !t->closing && t->offer != OFFER_HOLD && t->list_seq && t->list_seq < below;
}

/* Adds devlist records while imp->out is under its high water, newest
 * export first.  The count went out first: a device exported since is not
 * in this list, and one that left is a record this importer will never get,
 * so it is dropped to ask again.  Returns 0, or a negative enum usbws_err
 * with why filled. */
static int devlist_fill(struct importer *imp, char *why, size_t why_cap)
{
	struct tunnel *t;
	uint8_t *p;
	int rc;

	for (t = imp->px->tunnels; t && imp->devlist_left; t = t->next) {
		if (!devlist_shows(t, imp->devlist_below))
			continue;
		if (ring_len(&imp->out) >= PROXY_HIGH_WATER)
			return 0;
		p = ring_reserve(&imp->out, USBIP_DEVLIST_DEVICE_MAX);
		if (!p && ring_len(&imp->out))
			return 0;
		if (!p)
			return usbws_why(why, why_cap, USBWS_ERR_NOMEM,
					 "USB/IP importer: out of memory for its device list; dropping it");
		rc = usbip_encode_devlist_device(p, USBIP_DEVLIST_DEVICE_MAX, &t->dev, t->ifs);
		if (rc < 0)
			return usbws_why(why, why_cap, rc, "USB/IP importer: cannot list busid %s: %s; dropping it",
					 t->busid, usbws_strerror(rc));
		ring_commit(&imp->out, (size_t)rc);
		imp->devlist_below = t->list_seq;
		imp->devlist_left--;
	}
	if (imp->devlist_left)
		return usbws_why(why, why_cap, USBWS_ERR_LIST_CHANGED, "USB/IP importer: %u devices of its list left "
				 "while it was being sent; dropping it to ask again", imp->devlist_left);
	return 0;
}

/* OP_REP_DEVLIST for any number of devices: the count now, the records as
 * the importer takes them, so a list costs one bounded buffer.  Returns 0,
 * or a negative enum usbws_err with why filled. */
static int reply_devlist(struct importer *imp, char *why, size_t why_cap)
{
	struct tunnel *t;
	uint32_t n = 0;
	uint8_t *p;

	for (t = imp->px->tunnels; t; t = t->next)
		n += (uint32_t)devlist_shows(t, UINT64_MAX);
	p = ring_reserve(&imp->out, USBIP_DEVLIST_HEAD_SIZE);
	if (!p)
		return usbws_why(why, why_cap, USBWS_ERR_NOSPACE,
				 "USB/IP importer: no room for its device list; dropping it");
	ring_commit(&imp->out, (size_t)usbip_encode_devlist_head(p, USBIP_DEVLIST_HEAD_SIZE, n));
	imp->devlist_left = n;
	/* exports from now on are newer: not in this list */
	imp->devlist_below = imp->px->list_seq + 1;
	imp->close_when_sent = 1;
	return devlist_fill(imp, why, why_cap);
}

static int move_importer(struct importer *imp, struct tunnel *t);

static int reply_import(struct importer *imp)
{
	uint8_t rep[USBIP_REP_IMPORT_MAX];
	struct tunnel *t = proxy_usbip_find_busid(imp->px, imp->req.busid);
	int n;

	/* the device's tunnel is another thread's: the importer joins it
	 * there, which answers (the client waits for the answer) */
	if (t && t->th != imp->th)
		return move_importer(imp, t);

	if (!t || t->offer == OFFER_HOLD || t->imp || proxy_vhci_pending(t) ||
	    usbip_validator_inflight(t->validator)) {
		const char *why = !t ? "no such device" : t->offer == OFFER_HOLD ? "held until usbws attach asks for it"
										 : "already imported";

		log_info("import of %s refused: %s", imp->req.busid, why);
		n = usbip_encode_rep_import(rep, sizeof(rep), t ? USBIP_ST_DEV_BUSY : USBIP_ST_NODEV, NULL);
		imp->close_when_sent = 1;
		return ring_append(&imp->out, rep, (size_t)n);
	}
	n = usbip_encode_rep_import(rep, sizeof(rep), USBIP_ST_OK, &t->dev);
	if (ring_append(&imp->out, rep, (size_t)n) < 0)
		return USBWS_ERR_NOSPACE;
	t->imp = imp;
	imp->t = t;
	/* an imported device may stay idle as long as it likes */
	proxy_listen_settled(imp->wsi);
	log_info("busid %s (node %s) imported", t->busid, t->node);
	return 0;
}

/* What of imp goes with its socket to another thread. */
static struct importer *save_importer(const struct importer *imp)
{
	struct importer *saved = malloc(sizeof(*saved));

	if (saved)
		*saved = *imp;
	return saved;
}

/* imp's socket, out of its thread's loop, into m (fd, saved, e); imp's
 * wsi then closes on its own without side effects.  Returns 0 or a
 * negative enum usbws_err. */
static int detach_importer(struct importer *imp, struct proxy_msg *m)
{
	struct importer *saved = save_importer(imp);
	int fd;

	if (!saved)
		return USBWS_ERR_NOMEM;
	fd = proxy_thread_take_socket(imp->th, imp->wsi);
	if (fd < 0) {
		free(saved);
		return fd;
	}
	m->fd = fd;
	m->saved = saved;
	/* the admission goes with it (a TCP importer's); its owner is the
	 * new connection, until then none (the tick skips it) */
	m->e = lws_get_opaque_user_data(imp->wsi);
	lws_set_opaque_user_data(imp->wsi, NULL);
	if (m->e)
		m->e->owner = NULL;
	imp->moving = 1;
	return 0;
}

/* A TCP importer asks for t, another thread's: it moves there, request
 * and all.  Returns USBWS_ERR_MOVED (the connection closes here), or
 * another negative enum usbws_err. */
static int move_importer(struct importer *imp, struct tunnel *t)
{
	struct proxy_msg *m = proxy_thread_msg_new(PROXY_MSG_IMPORT);
	int rc;

	if (!m)
		return USBWS_ERR_NOMEM;
	rc = detach_importer(imp, m);
	if (rc < 0) {
		free(m);
		return rc;
	}
	m->t = t;
	m->l = &imp->px->usbip;
	proxy_thread_post(t->th, m);
	return USBWS_ERR_MOVED;
}

/* Adopts a moved importer's socket on th into vh: the new connection's
 * state is what it had.  NULL when lws could not adopt it (the socket is
 * closed then). */
static struct importer *adopt_importer(struct proxy_thread *th, struct lws_vhost *vh, struct proxy_msg *m)
{
	lws_adopt_desc_t desc;
	struct importer *imp;
	struct lws *wsi;

	memset(&desc, 0, sizeof(desc));
	desc.vh = vh;
	desc.type = LWS_ADOPT_SOCKET;
	desc.fd.sockfd = m->fd;
	desc.vh_prot_name = proxy_usbip_protocol.name;
	desc.opaque = m->e;
	m->l->adopting = m->e;
	wsi = lws_adopt_descriptor_vhost_via_info(&desc);
	m->l->adopting = NULL;
	/* lws has the socket now, or has closed it */
	m->fd = -1;
	if (!wsi)
		return NULL;
	imp = lws_wsi_user(wsi);
	ring_free(&imp->out);
	*imp = *m->saved;
	imp->th = th;
	imp->wsi = wsi;
	imp->moving = 0;
	/* its OP phase is over; the framer must not point into the old
	 * connection's memory */
	usbip_framer_init(&imp->op, USBIP_FLOW_TO_DEVICE, NULL);
	free(m->saved);
	m->saved = NULL;
	if (m->e) {
		/* it weighs on this thread now */
		imp->px->threads[m->e->group].load--;
		th->load++;
		m->e->owner = wsi;
		m->e->group = th->index;
		m->e = NULL;
	}
	if (imp->rx_paused)
		lws_rx_flow_control(wsi, 0);
	proxy_usbip_kick(imp);
	return imp;
}

void proxy_usbip_message(struct proxy_thread *th, struct proxy_msg *m)
{
	struct importer *imp;

	/* its connection counted while it moved; on its thread now, it may
	 * count on */
	imp = adopt_importer(th, th->vh[PROXY_LISTEN_USBIP], m);
	if (!imp) {
		log_warn("USB/IP importer: cannot take over its connection on service thread %u", th->index);
		return;
	}
	if (reply_import(imp) < 0)
		lws_set_timeout(imp->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

int proxy_usbip_take(struct tunnel *t, struct proxy_msg *m)
{
	struct importer *imp = t->imp;
	int rc;

	if (!imp)
		return 0;
	/* what lws holds of a write would be lost with the old connection */
	if (lws_partial_buffered(imp->wsi))
		return USBWS_ERR_BUSY;
	rc = detach_importer(imp, m);
	if (rc < 0)
		return rc;
	m->l = &imp->px->usbip;
	/* its vhci claim waits for it on the other side */
	proxy_vhci_claims_move(t, imp, NULL);
	t->imp = NULL;
	lws_set_timeout(imp->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
	return 0;
}

void proxy_usbip_give(struct tunnel *t, struct proxy_msg *m)
{
	struct proxy_thread *th = t->th;
	struct importer *imp;
	int vhci_port;

	if (m->fd < 0 || !m->saved)
		return;
	vhci_port = m->saved->vhci_port;
	imp = adopt_importer(th, vhci_port >= 0 ? th->local_vh : th->vh[PROXY_LISTEN_USBIP], m);
	if (!imp) {
		/* the socket is closed: vhci_hcd lets the port go */
		log_warn("node %s: busid %s lost its importer moving to service thread %u", t->node, t->busid,
			 th->index);
		if (vhci_port >= 0)
			proxy_vhci_abandon(t->px, (unsigned int)vhci_port);
		if (!usbip_framer_at_boundary(&t->to_node))
			proxy_tunnel_fail(t, "detached", "its importer was lost in the middle of a URB");
		return;
	}
	imp->t = t;
	t->imp = imp;
	proxy_vhci_claims_move(t, NULL, imp);
}

/* A failure of the framer, the relay or a reply as a sentence for the log:
 * a full buffer is the proxy's lack, not a rule the importer broke. */
static int importer_failed(const struct importer *imp, int rc, char *why, size_t why_cap)
{
	const char *who = imp->vhci_port >= 0 ? "vhci_hcd" : "USB/IP importer";

	if (rc == USBWS_ERR_NOSPACE || rc == USBWS_ERR_NOMEM)
		return usbws_why(why, why_cap, rc, "%s: %s; dropping it", who, usbws_strerror(rc));
	proxy_metrics_violation(imp->px, PROXY_FROM_IMPORTER, rc);
	return usbws_why(why, why_cap, rc, "%s broke the protocol: %s; dropping it", who, usbws_strerror(rc));
}

/* OP phase: one request, answered.  Returns bytes consumed, or a negative
 * enum usbws_err with why filled. */
static int op_phase(struct importer *imp, const uint8_t *in, size_t len, char *why, size_t why_cap)
{
	size_t pos = 0, used;
	int rc;

	while (!imp->t && !imp->close_when_sent) {
		rc = usbip_framer_feed_request(&imp->op, in + pos, len - pos, &used, &imp->req);
		pos += used;
		if (rc < 0)
			return importer_failed(imp, rc, why, why_cap);
		if (rc == 0)
			break;
		if (imp->req.code == USBIP_OP_REQ_DEVLIST)
			rc = reply_devlist(imp, why, why_cap);
		else if ((rc = reply_import(imp)) < 0 && rc != USBWS_ERR_MOVED)
			rc = importer_failed(imp, rc, why, why_cap);
		if (rc < 0)
			return rc;
	}
	return (int)pos;
}

/* Returns 0, or a negative enum usbws_err with why filled: drop the importer. */
static int importer_rx(struct importer *imp, const uint8_t *in, size_t len, char *why, size_t why_cap)
{
	struct tunnel *t;
	int rc;

	/* the OP phase reads what every thread shares; the URB phase is this
	 * thread's own */
	if (!imp->t) {
		proxy_thread_lock(imp->px);
		rc = op_phase(imp, in, len, why, why_cap);
		proxy_thread_unlock(imp->px);
		if (rc < 0)
			return rc;
	} else {
		rc = 0;
	}
	in += rc;
	len -= (size_t)rc;
	proxy_usbip_kick(imp);
	t = imp->t;
	if (!t || !len)
		return 0;
	rc = proxy_capture_relay(t, USBIP_FLOW_TO_DEVICE, in, len, &t->tx, NULL, NULL);
	if (rc < 0)
		return importer_failed(imp, rc, why, why_cap);
	proxy_tunnel_kick(t);
	/* the window: what the node has not acknowledged counts */
	if (ring_len(&t->tx) >= t->px->cfg->resume_window) {
		imp->rx_paused = 1;
		lws_rx_flow_control(imp->wsi, 0);
	}
	return 0;
}

/* RAW_WRITEABLE: returns what the callback returns to lws, 0 or -1 to close. */
static int importer_writeable(struct importer *imp)
{
	char why[200];
	uint8_t *p;
	size_t n;

	/* nothing more goes out before the move lws's write held back */
	if (imp->move_waiting) {
		if (!lws_partial_buffered(imp->wsi))
			move_again(imp);
		else
			proxy_usbip_kick(imp);
		return 0;
	}
	if (imp->devlist_left && devlist_fill(imp, why, sizeof(why)) < 0) {
		log_warn("%s", why);
		return -1;
	}
	/* one span of the ring per write: a raw write writes nothing in front
	 * of its bytes (lws's raw role has no framing), so a span that starts
	 * inside the ring is safe to hand over as it is */
	p = (uint8_t *)ring_peek(&imp->out, 0, &n);
	if (n) {
		/* large writes mean fewer poll rounds; see PROXY_WRITE_MAX */
		if (n > PROXY_WRITE_MAX)
			n = PROXY_WRITE_MAX;
		if (lws_write(imp->wsi, p, n, LWS_WRITE_RAW) < (int)n)
			return -1;
		ring_consume(&imp->out, n);
		if (imp->t && imp->t->wsi && ring_len(&imp->out) < PROXY_HIGH_WATER)
			lws_rx_flow_control(imp->t->wsi, 1);
	}
	if (ring_len(&imp->out) || imp->devlist_left)
		proxy_usbip_kick(imp);
	else if (imp->close_when_sent)
		return -1;
	return 0;
}

static int usbip_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct importer *imp = user;
	char why[200];
	int rc;

	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT:
		memset(imp, 0, sizeof(*imp));
		imp->th = lws_get_vhost_user(lws_get_vhost(wsi));
		imp->px = imp->th->px;
		imp->wsi = wsi;
		imp->vhci_port = -1;
		imp->since = time(NULL);
		netaddr_peer(lws_get_socket_fd(wsi), imp->peer, sizeof(imp->peer));
		usbip_framer_init(&imp->op, USBIP_FLOW_TO_DEVICE, NULL);
		ring_init(&imp->out, LWS_PRE, PROXY_BUF_LIMIT);
		return 0;
	case LWS_CALLBACK_RAW_RX:
		if (imp->close_when_sent || imp->moving)
			return 0;
		rc = importer_rx(imp, in, len, why, sizeof(why));
		if (rc == USBWS_ERR_MOVED)
			return -1;
		if (rc < 0) {
			log_warn("%s", why);
			return -1;
		}
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE:
		if (imp->moving)
			return 0;
		if (!imp->devlist_left && !imp->move_waiting)
			return importer_writeable(imp);
		proxy_thread_lock(imp->px);
		rc = importer_writeable(imp);
		proxy_thread_unlock(imp->px);
		return rc;
	case LWS_CALLBACK_RAW_CLOSE:
		imp->wsi = NULL;
		/* moved to another thread: all it had went along */
		if (imp->moving)
			return 0;
		proxy_thread_lock(imp->px);
		/* first: the tunnel may end below, and its end answers the
		 * move (proxy_thread_forget) */
		move_again(imp);
		proxy_vhci_released(imp);
		if (imp->t)
			proxy_usbip_detach(imp->t);
		proxy_thread_unlock(imp->px);
		ring_free(&imp->out);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		proxy_listen_closed(wsi);
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		/* every protocol of every vhost hears of it: draining twice
		 * finds nothing the second time */
		if (proxy_self)
			proxy_thread_drain(proxy_self);
		return 0;
	default:
		return 0;
	}
}

const struct lws_protocols proxy_usbip_protocol = {
	.name = "usbws-usbip",
	.callback = usbip_callback,
	.per_session_data_size = sizeof(struct importer),
	.rx_buffer_size = PROXY_RX_CHUNK,
	.tx_packet_size = PROXY_TX_PACKET,
};
