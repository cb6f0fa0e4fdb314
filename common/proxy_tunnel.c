/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The proxy's WebSocket protocol: one tunnel per connection, one exported
 * device per tunnel.  The node's identity is its certificate's CN.  Bytes
 * from the node are framed and validated, then relayed to the importer;
 * the importer's bytes come the other way in proxy_usbip.c.
 */
#include <jansson.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "log.h"
#include "proxy.h"
#include "proxy_int.h"
#include "relay.h"
#include "usbws_err.h"

void tunnel_kick(struct tunnel *t)
{
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
	tunnel_kick(t);
}

/* Tells the node why, then closes its tunnel; nothing else is touched. */
void tunnel_fail(struct tunnel *t, const char *code, const char *why)
{
	if (t->closing)
		return;
	log_warn("node %s: closing its tunnel: %s", t->node, why);
	queue_text(t, ctl_error(code, why));
	snprintf(t->close_reason, sizeof(t->close_reason), "%s", why);
	t->closing = 1;
	buf_consume(&t->tx, buf_len(&t->tx));
	proxy_detach_importer(t);
	tunnel_kick(t);
}

static char *nodes_listing(struct proxy *px)
{
	json_t *root = json_pack("{s:s, s:[]}", "type", "nodes", "nodes");
	json_t *nodes = json_object_get(root, "nodes");
	struct tunnel *t, *u;
	char *s;

	for (t = px->tunnels; t; t = t->next) {
		json_t *node, *devs;
		int seen = 0;

		/* one entry per node name that has a device exported */
		if (!t->exported)
			continue;
		for (u = px->tunnels; u != t; u = u->next)
			if (u->exported && strcmp(u->node, t->node) == 0)
				seen = 1;
		if (seen)
			continue;
		node = json_pack("{s:s, s:[]}", "node", t->node, "devices");
		devs = json_object_get(node, "devices");
		for (u = t; u; u = u->next) {
			if (strcmp(u->node, t->node) != 0 || !u->exported)
				continue;
			json_array_append_new(devs, ctl_device_json(&u->dev, u->ifs, u->imp ? "imported" : "exported"));
		}
		/* what the node has but does not export, as its latest hello said */
		for (u = px->tunnels; u; u = u->next) {
			if (strcmp(u->node, t->node) == 0 && u->exported && u->local_devices) {
				json_array_extend(devs, u->local_devices);
				break;
			}
		}
		json_array_append_new(nodes, node);
	}
	s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}

static int reply_op(struct tunnel *t, uint16_t code, uint32_t status)
{
	uint8_t rep[USBIP_OP_COMMON_SIZE];

	usbip_op_common_encode(rep, sizeof(rep), code, status);
	if (buf_append(&t->tx, rep, sizeof(rep)) < 0)
		return USBWS_ERR_NOSPACE;
	tunnel_kick(t);
	return 0;
}

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
	if (t->op_code == USBIP_OP_REQ_EXPORT) {
		char node_busid[USBIP_BUSID_SIZE];
		unsigned int bus = ++px->next_bus;

		memcpy(node_busid, t->dev.busid, sizeof(node_busid));
		memcpy(t->node_busid, t->dev.busid, sizeof(t->node_busid));
		/* busids must be unique on the proxy whatever the nodes call them */
		snprintf(t->busid, sizeof(t->busid), "%u-1", bus);
		memcpy(t->dev.busid, t->busid, sizeof(t->busid));
		snprintf(t->dev.path, sizeof(t->dev.path), "/usbws/%s/%s", t->node, node_busid);
		t->dev.busnum = bus;
		t->dev.devnum = 1;
		t->exported = 1;
		log_info("node %s exported %04x:%04x (its %s) as busid %s", t->node, t->dev.id_vendor,
			 t->dev.id_product, node_busid, t->busid);
		queue_text(t, ctl_welcome(t->node, t->busid));
		rc = reply_op(t, USBIP_OP_REP_EXPORT, USBIP_ST_OK);
		/* vhci_hcd sends its first commands once attached: they queue
		 * behind the reply */
		if (rc == 0)
			proxy_vhci_attach(t);
		return rc;
	}
	if (t->op_code == USBIP_OP_REQ_UNEXPORT) {
		log_info("node %s unexported busid %s", t->node, t->busid);
		t->exported = 0;
		proxy_detach_importer(t);
		snprintf(t->close_reason, sizeof(t->close_reason), "device unexported");
		t->closing = 1;
		return reply_op(t, USBIP_OP_REP_UNEXPORT, USBIP_ST_OK);
	}
	return 0;
}

static void node_binary(struct tunnel *t, const uint8_t *in, size_t len)
{
	struct importer *imp = t->imp;
	struct buf discard;
	int rc;

	if (!t->hello_seen) {
		tunnel_fail(t, "protocol", "USB/IP data before the hello message");
		return;
	}
	if (imp) {
		rc = relay_chunk(&t->from_node, in, len, &imp->out, on_node_op, t);
	} else {
		/* replies for an importer that has left go nowhere, but are
		 * still checked */
		buf_init(&discard, 0, PROXY_BUF_LIMIT);
		rc = relay_chunk(&t->from_node, in, len, &discard, on_node_op, t);
		buf_free(&discard);
	}
	if (rc < 0) {
		char why[120];

		snprintf(why, sizeof(why), "USB/IP protocol violation: %s", usbws_strerror(rc));
		tunnel_fail(t, "usbip", why);
		return;
	}
	if (t->imp) {
		importer_kick(t->imp);
		if (buf_len(&t->imp->out) >= PROXY_HIGH_WATER)
			lws_rx_flow_control(t->wsi, 0);
	}
}

static void node_text(struct tunnel *t, const void *in, size_t len, int final)
{
	struct ctl_msg msg;
	char why[200];

	if (buf_append(&t->text_in, in, len) < 0) {
		tunnel_fail(t, "bad-json", "control message too long");
		return;
	}
	if (!final)
		return;
	if (ctl_parse((const char *)buf_data(&t->text_in), buf_len(&t->text_in), &msg, why, sizeof(why)) < 0) {
		char reason[240];

		snprintf(reason, sizeof(reason), "malformed control message: %s", why);
		buf_consume(&t->text_in, buf_len(&t->text_in));
		tunnel_fail(t, "bad-json", reason);
		return;
	}
	buf_consume(&t->text_in, buf_len(&t->text_in));
	if (msg.type != CTL_HELLO || t->hello_seen) {
		json_decref(msg.devices);
		msg.devices = NULL;
	}
	switch (msg.type) {
	case CTL_HELLO:
		if (t->hello_seen) {
			tunnel_fail(t, "protocol", "second hello");
			return;
		}
		if (strcmp(msg.role, "list") == 0) {
			json_decref(msg.devices);
			log_info("%s asked for the listing", t->node);
			queue_text(t, nodes_listing(t->px));
			snprintf(t->close_reason, sizeof(t->close_reason), "listing sent");
			t->closing = 1;
			return;
		}
		t->hello_seen = 1;
		log_info("node %s connected", t->node);
		/* REQ_EXPORT carries no interfaces; listings take them from here */
		memcpy(t->ifs, msg.ifs, sizeof(t->ifs));
		t->local_devices = msg.devices;
		return;
	case CTL_ERROR:
		log_warn("node %s reports: %s (%s)", t->node, msg.message, msg.code);
		return;
	default:
		tunnel_fail(t, "protocol", "unexpected control message from a node");
		return;
	}
}

static int write_queued(struct tunnel *t)
{
	static uint8_t frame[LWS_PRE + USBWS_CTL_MAX];
	size_t n;

	if (t->ntext) {
		char *s = t->text_queue[0];

		n = strlen(s);
		if (n > USBWS_CTL_MAX)
			n = USBWS_CTL_MAX;
		memcpy(frame + LWS_PRE, s, n);
		free(s);
		memmove(t->text_queue, t->text_queue + 1, --t->ntext * sizeof(t->text_queue[0]));
		if (lws_write(t->wsi, frame + LWS_PRE, n, LWS_WRITE_TEXT) < (int)n)
			return -1;
	} else if (buf_len(&t->tx)) {
		/* large frames mean fewer poll rounds; see PROXY_WRITE_MAX */
		n = buf_len(&t->tx) < PROXY_WRITE_MAX ? buf_len(&t->tx) : PROXY_WRITE_MAX;
		if (lws_write(t->wsi, buf_data(&t->tx), n, LWS_WRITE_BINARY) < (int)n)
			return -1;
		buf_consume(&t->tx, n);
		if (t->imp && t->imp->rx_paused && buf_len(&t->tx) < PROXY_HIGH_WATER) {
			t->imp->rx_paused = 0;
			lws_rx_flow_control(t->imp->wsi, 1);
		}
	} else if (t->closing) {
		lws_close_reason(t->wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)t->close_reason,
				 strlen(t->close_reason));
		return -1;
	}
	if (t->ntext || buf_len(&t->tx) || t->closing)
		lws_callback_on_writable(t->wsi);
	return 0;
}

static int verify_client_cert(void *user, size_t preverify_ok)
{
	X509_STORE_CTX *xctx = user;
	char subject[256] = "?";
	X509 *cert;
	int err;

	if (preverify_ok)
		return 0;
	err = X509_STORE_CTX_get_error(xctx);
	cert = X509_STORE_CTX_get_current_cert(xctx);
	if (cert)
		X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
	log_warn("client certificate rejected: %s (subject %s); a node needs a certificate signed by --ca "
		 "and valid now", X509_verify_cert_error_string(err), subject);
	return 1;
}

/* Every alert the proxy sends during a handshake explains a refusal; the
 * one that matters most is "certificate required" (no client certificate),
 * which never reaches the verification callback. */
static void tls_info(const SSL *ssl, int where, int ret)
{
	(void)ssl;
	if (!(where & SSL_CB_ALERT) || !(where & SSL_CB_WRITE) || (ret >> 8) != SSL3_AL_FATAL)
		return;
	/* TLS 1.3's certificate_required (116) is missing from OpenSSL 3.0's names */
	if ((ret & 0xff) == 116)
		log_warn("TLS handshake with a node refused: certificate required (the node sent no client certificate)");
	else
		log_warn("TLS handshake with a node refused: %s", SSL_alert_desc_string_long(ret));
}

static void tunnel_open(struct tunnel *t, struct lws *wsi)
{
	struct proxy *px = lws_get_vhost_user(lws_get_vhost(wsi));
	char big[sizeof(union lws_tls_cert_info_results) + 128];
	union lws_tls_cert_info_results *ci = (union lws_tls_cert_info_results *)big;

	memset(t, 0, sizeof(*t));
	t->px = px;
	t->wsi = wsi;
	if (lws_tls_peer_cert_info(wsi, LWS_TLS_CERT_INFO_COMMON_NAME, ci, sizeof(big) - sizeof(*ci) +
				   sizeof(ci->ns.name)) == 0 && ci->ns.len > 0)
		snprintf(t->node, sizeof(t->node), "%.*s", ci->ns.len, ci->ns.name);
	else
		snprintf(t->node, sizeof(t->node), "(no CN)");
	t->validator = usbip_validator_new(NULL);
	usbip_framer_init(&t->from_node, USBIP_FLOW_FROM_DEVICE, t->validator);
	usbip_framer_init(&t->to_node, USBIP_FLOW_TO_DEVICE, t->validator);
	usbip_framer_start_urb_phase(&t->to_node);
	buf_init(&t->tx, LWS_PRE, PROXY_BUF_LIMIT);
	buf_init(&t->text_in, 0, USBWS_CTL_MAX);
	t->next = px->tunnels;
	px->tunnels = t;
	log_debug("TLS client %s connected", t->node);
}

static void tunnel_closed(struct tunnel *t)
{
	struct tunnel **pp;

	if (t->hello_seen)
		log_info("node %s disconnected%s%s", t->node, t->busid[0] ? ", busid " : "", t->busid);
	proxy_detach_importer(t);
	for (pp = &t->px->tunnels; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	while (t->ntext)
		free(t->text_queue[--t->ntext]);
	json_decref(t->local_devices);
	usbip_validator_free(t->validator);
	buf_free(&t->tx);
	buf_free(&t->text_in);
	t->wsi = NULL;
}

/* Only WebSocket upgrades to USBWS_PATH that ask for our subprotocol. */
static int filter_connection(struct lws *wsi)
{
	char uri[64] = "", proto[128] = "";

	lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
	lws_hdr_copy(wsi, proto, sizeof(proto), WSI_TOKEN_PROTOCOL);
	if (strcmp(uri, USBWS_PATH) != 0 || !strstr(proto, USBWS_SUBPROTOCOL)) {
		log_warn("refused a WebSocket upgrade to '%s' with subprotocol '%s' (want %s, %s)", uri, proto,
			 USBWS_PATH, USBWS_SUBPROTOCOL);
		return 1;
	}
	return 0;
}

static int tunnel_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct tunnel *t = user;

	switch (reason) {
	case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
		return verify_client_cert(user, len);
	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
		SSL_CTX_set_info_callback(user, tls_info);
		return 0;
	case LWS_CALLBACK_ESTABLISHED:
		tunnel_open(t, wsi);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (t->closing)
			return 0;
		if (lws_frame_is_binary(wsi))
			node_binary(t, in, len);
		else
			node_text(t, in, len, lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi));
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return write_queued(t);
	case LWS_CALLBACK_CLOSED:
		tunnel_closed(t);
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return filter_connection(wsi);
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

const struct lws_protocols proxy_tunnel_protocol = {
	.name = USBWS_SUBPROTOCOL,
	.callback = tunnel_callback,
	.per_session_data_size = sizeof(struct tunnel),
	.rx_buffer_size = PROXY_RX_CHUNK,
};
