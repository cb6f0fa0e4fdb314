/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The node's side of the tunnel: a libwebsockets client that proves its
 * identity with its certificate, exports one device, and runs it through
 * vdev_stream.  The same connection code asks a proxy for its listing.
 */
#include "node.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "log.h"
#include "lwslog.h"
#include "usbws_err.h"
#include "vdev_stream.h"

#define NODE_RX_CHUNK (64u << 10)
#define NODE_MAX_TRANSFER (1u << 20)
#define NODE_HIGH_WATER (256u << 10)
#define UNEXPORT_GRACE_SECONDS 3
#define TICK_US (250 * LWS_US_PER_MS)

enum node_mode { MODE_EXPORT, MODE_LIST };

struct node {
	const struct node_config *cfg;
	enum node_mode mode;
	struct lws_context *ctx;
	struct lws *wsi;
	lws_sorted_usec_list_t tick;  /* wakes the loop to check deadlines */
	time_t connect_deadline;
	int done;
	int failed;
	int established;

	struct vdev *dev;
	struct vdev_stream vs;
	struct usbip_framer op;       /* the proxy's OP_REP_EXPORT */
	uint16_t op_code;
	int exported;
	int listed;
	int unexport_queued;
	time_t unexport_deadline;
	struct buf in;                /* from the proxy, not yet taken */
	int rx_paused;
	char *text_out;               /* one pending JSON frame */
	struct buf text_in;
};

static void finish(struct node *n, int failed)
{
	n->done = 1;
	n->failed |= failed;
}

static void kick(struct node *n)
{
	if (n->wsi)
		lws_callback_on_writable(n->wsi);
}

static int queue_export(struct node *n)
{
	uint8_t req[USBIP_OP_COMMON_SIZE + USBIP_USB_DEVICE_SIZE];
	int len = usbip_encode_op_device(req, sizeof(req), USBIP_OP_REQ_EXPORT, 0, &n->dev->info);

	n->text_out = ctl_hello_export(&n->dev->info, n->dev->interfaces);
	if (len < 0 || !n->text_out || buf_append(vdev_stream_tx(&n->vs), req, (size_t)len) < 0)
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
	if (!n->exported || !n->wsi) {
		finish(n, 0);
		return;
	}
	len = usbip_encode_op_device(req, sizeof(req), USBIP_OP_REQ_UNEXPORT, 0, &n->dev->info);
	buf_append(vdev_stream_tx(&n->vs), req, (size_t)len);
	log_info("unexporting %s", n->dev->info.busid);
	kick(n);
}

/* Moves buffered input into the device as far as its replies allow. */
static int pump(struct node *n)
{
	size_t used;
	int rc;

	rc = vdev_stream_feed(&n->vs, buf_data(&n->in), buf_len(&n->in), &used);
	buf_consume(&n->in, used);
	if (rc < 0)
		return rc;
	if (buf_len(vdev_stream_tx(&n->vs)))
		kick(n);
	if (buf_len(&n->in) && !n->rx_paused) {
		n->rx_paused = 1;
		lws_rx_flow_control(n->wsi, 0);
	} else if (!buf_len(&n->in) && n->rx_paused) {
		n->rx_paused = 0;
		lws_rx_flow_control(n->wsi, 1);
	}
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

static int on_writeable(struct node *n)
{
	static uint8_t frame[LWS_PRE + USBWS_CTL_MAX];
	struct buf *tx = vdev_stream_tx(&n->vs);
	size_t len;

	if (n->done)
		return -1;
	if (n->text_out) {
		len = strlen(n->text_out);
		if (len > USBWS_CTL_MAX)
			len = USBWS_CTL_MAX;
		memcpy(frame + LWS_PRE, n->text_out, len);
		free(n->text_out);
		n->text_out = NULL;
		if (lws_write(n->wsi, frame + LWS_PRE, len, LWS_WRITE_TEXT) < (int)len)
			return -1;
	} else if (n->mode == MODE_EXPORT && buf_len(tx)) {
		len = buf_len(tx) < NODE_RX_CHUNK ? buf_len(tx) : NODE_RX_CHUNK;
		if (lws_write(n->wsi, buf_data(tx), len, LWS_WRITE_BINARY) < (int)len)
			return -1;
		buf_consume(tx, len);
		if (pump(n) < 0)
			return -1;
	}
	if (n->text_out || (n->mode == MODE_EXPORT && buf_len(tx)))
		kick(n);
	return 0;
}

static int verify_server_cert(void *user, size_t preverify_ok)
{
	X509_STORE_CTX *xctx = user;
	char subject[256] = "?";
	X509 *cert;

	if (preverify_ok)
		return 0;
	cert = X509_STORE_CTX_get_current_cert(xctx);
	if (cert)
		X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
	log_err("the proxy's certificate was rejected: %s (subject %s); check --ca and the host name in --url",
		X509_verify_cert_error_string(X509_STORE_CTX_get_error(xctx)), subject);
	return 1;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct node *n = lws_get_opaque_user_data(wsi);
	int rc;

	if (reason == LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION)
		return verify_server_cert(user, len);
	if (!n)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		log_err("cannot connect to %s: %s", n->cfg->url, in ? (const char *)in : "unknown error");
		n->wsi = NULL;
		finish(n, 1);
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		n->established = 1;
		log_info("connected to %s", n->cfg->url);
		if (n->mode == MODE_LIST)
			n->text_out = ctl_hello_list();
		else if (queue_export(n) < 0)
			return -1;
		kick(n);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (lws_frame_is_binary(wsi)) {
			rc = on_binary(n, in, len);
			if (rc < 0) {
				log_err("the proxy broke the USB/IP protocol: %s", usbws_strerror(rc));
				finish(n, 1);
				return -1;
			}
		} else {
			on_text(n, in, len, lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi));
		}
		return n->done ? -1 : 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return on_writeable(n);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len > 2)
			log_info("the proxy closed the connection: %.*s", (int)(len - 2), (const char *)in + 2);
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		n->wsi = NULL;
		if (!n->done)
			log_err("the connection to %s closed", n->cfg->url);
		finish(n, !n->unexport_queued && n->mode == MODE_EXPORT);
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{ USBWS_SUBPROTOCOL, callback, 0, NODE_RX_CHUNK, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static int start(struct node *n)
{
	struct lws_context_creation_info info;
	struct lws_client_connect_info ci;
	struct lws_vhost *vh;
	char url[512], host[256];
	const char *scheme, *address, *path;
	int port;

	snprintf(url, sizeof(url), "%s", n->cfg->url);
	if (lws_parse_uri(url, &scheme, &address, &port, &path) || strcmp(scheme, "wss") != 0) {
		log_err("--url %s: expected wss://HOST[:PORT]/usbip", n->cfg->url);
		return -1;
	}
	snprintf(host, sizeof(host), "%s", address);
	lwslog_init(n->cfg->verbose);
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.pt_serv_buf_size = NODE_RX_CHUNK + LWS_PRE;
	n->ctx = lws_create_context(&info);
	if (!n->ctx)
		return -1;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.client_ssl_cert_filepath = n->cfg->cert;
	info.client_ssl_private_key_filepath = n->cfg->key;
	info.client_ssl_ca_filepath = n->cfg->ca;
	/* only --ca vouches for the proxy, never the system's CA bundle */
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
	info.ssl_client_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
	vh = lws_create_vhost(n->ctx, &info);
	if (!vh) {
		log_err("cannot set up TLS: check --cert, --key and --ca");
		return -1;
	}
	if (n->cfg->http_proxy) {
		const char *p = n->cfg->http_proxy;

		if (strncmp(p, "http://", 7) == 0)
			p += 7;
		if (lws_set_proxy(vh, p)) {
			log_err("--proxy %s: expected http://[user:pass@]host:port", n->cfg->http_proxy);
			return -1;
		}
	}
	memset(&ci, 0, sizeof(ci));
	ci.context = n->ctx;
	ci.vhost = vh;
	ci.address = host;
	ci.port = port;
	ci.path = path[0] == '/' ? path : USBWS_PATH;
	ci.host = host;
	ci.origin = host;
	/* verify the proxy's certificate chain and its name */
	ci.ssl_connection = LCCSCF_USE_SSL;
	ci.protocol = USBWS_SUBPROTOCOL;
	ci.local_protocol_name = USBWS_SUBPROTOCOL;
	ci.opaque_user_data = n;
	ci.pwsi = &n->wsi;
	if (!lws_client_connect_via_info(&ci)) {
		log_err("cannot start connecting to %s", n->cfg->url);
		return -1;
	}
	return 0;
}

static void tick(lws_sorted_usec_list_t *sul)
{
	struct node *n = lws_container_of(sul, struct node, tick);

	lws_sul_schedule(n->ctx, 0, &n->tick, tick, TICK_US);
}

static int run(struct node *n, volatile sig_atomic_t *stop)
{
	int rc = start(n);

	if (rc == 0) {
		n->connect_deadline = time(NULL) + n->cfg->connect_timeout;
		lws_sul_schedule(n->ctx, 0, &n->tick, tick, TICK_US);
	}
	while (rc == 0 && !n->done) {
		/* a proxy that refuses our certificate after a TLS 1.3 handshake
		 * may never answer the upgrade: do not wait for it forever */
		if (!n->established && time(NULL) > n->connect_deadline) {
			log_err("no WebSocket handshake from %s within %d s; if the proxy logged "
				"'client certificate rejected', check this node's --cert", n->cfg->url,
				n->cfg->connect_timeout);
			n->failed = 1;
			break;
		}
		if (*stop)
			queue_unexport(n);
		if (n->unexport_queued && time(NULL) > n->unexport_deadline) {
			log_warn("no unexport confirmation from the proxy; closing anyway");
			break;
		}
		if (lws_service(n->ctx, 0) < 0)
			break;
	}
	if (n->ctx) {
		lws_sul_cancel(&n->tick);
		lws_context_destroy(n->ctx);
	}
	free(n->text_out);
	buf_free(&n->in);
	buf_free(&n->text_in);
	/* success is an outcome, not the absence of an error callback: the
	 * export was confirmed (or we were told to stop), or the list printed */
	if (n->mode == MODE_EXPORT && !n->exported && !*stop)
		n->failed = 1;
	if (n->mode == MODE_LIST && !n->listed)
		n->failed = 1;
	return rc < 0 || n->failed ? 1 : 0;
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
	if (vdev_stream_init(&n.vs, n.dev, NODE_MAX_TRANSFER, NODE_HIGH_WATER, LWS_PRE) < 0) {
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
	buf_init(&n.in, 0, 1);
	buf_init(&n.vs.tx, LWS_PRE, 1);
	return run(&n, stop);
}
