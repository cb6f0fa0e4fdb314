/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * proxy.sock: the proxy host's view of its fleet and its hands on it,
 * without a node certificate.  `usbws port` (vhci_hcd attachments and
 * USB/IP re-exports), `usbws nodes` (every node and device, with its
 * stable address, state and traffic), `usbws attach --device` and
 * `usbws detach` (a device held on demand, or a vhci port).  One JSON
 * request line, one JSON answer line (ctlsock.h); a request that cannot be
 * answered is told why in "error", and nothing else is touched.
 *
 * `usbws capture` stays: its answer comes once its capture has started on
 * the device's thread (proxy_capture.c), with the read end of the
 * capture's pipe (SCM_RIGHTS); any line it sends then stops the capture,
 * and one more line reports the end before the connection closes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fnmatch.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/monoclock.h"
#include "base/usbws_err.h"
#include "certid.h"
#include "kernel/usbids.h"
#include "kernel/vhci.h"
#include "net/ctlsock.h"
#include "proxy.h"
#include "proxy_int.h"
#include "tunnel/ctl.h"

/*
 * The control socket: one request line, one answer line.  lws watches the
 * listener and each client (a raw socket); ctlsock_conn keeps each
 * exchange, so a client that sends its request slowly, or never, costs a
 * slot and never a wait: the tunnels share this loop.
 */
static char *answer_control(void *ctx, const char *request);

struct control_client {
	struct ctlsock_conn conn;
	struct proxy *px;
	struct lws *wsi;
	int counted;         /* in px->control_clients: all but a running capture's */
	uint64_t capture_id; /* usbws capture's connection: its capture; else 0 */
	int deferred;        /* its answer waits for the capture to start */
	char *ready;         /* ... and is this */
	int pass_fd;         /* the capture's stream, handed over with the answer; or -1 */
	int stop_asked;
	int closing; /* its last line is queued: closed once that is out */
};

/* A fleet's listing runs to megabytes: it goes out in large writes, each
 * from a buffer of its own rather than the stack. */
#define CONTROL_WRITE_CHUNK (64u << 10)

/* cc no longer counts against CTLSOCK_MAX_CLIENTS: it is gone, or it is a
 * capture that runs (px->capture_slots caps those) */
static void uncount(struct control_client *cc)
{
	struct proxy *px = cc->px;

	if (!cc->counted)
		return;
	cc->counted = 0;
	if (px->control_clients-- == CTLSOCK_MAX_CLIENTS && px->control_wsi)
		lws_rx_flow_control(px->control_wsi, 1);
}

/* A capture's answer is out: its connection waits, without a deadline,
 * for the client to stop it or for the capture to end. */
static void capture_running(struct control_client *cc)
{
	lws_set_timeout(cc->wsi, NO_PENDING_TIMEOUT, 0);
	uncount(cc);
}

/* The last line for a capture's client: closed once it has taken it. */
static void last_line(struct control_client *cc, json_t *o)
{
	char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	cc->closing = 1;
	if (!line || ctlsock_conn_answer(&cc->conn, line) < 0) {
		free(line);
		lws_set_timeout(cc->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return;
	}
	free(line);
	lws_set_timeout(cc->wsi, PENDING_TIMEOUT_USER_OK, (CTLSOCK_DEADLINE_MS + 999) / 1000);
	lws_callback_on_writable(cc->wsi);
}

void proxy_control_capture_started(struct lws *client)
{
	struct control_client *cc = lws_wsi_user(client);

	cc->deferred = 0;
	if (ctlsock_conn_answer(&cc->conn, cc->ready ? cc->ready : "{\"ok\":true}") < 0) {
		lws_set_timeout(client, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return;
	}
	free(cc->ready);
	cc->ready = NULL;
	lws_callback_on_writable(client);
}

void proxy_control_capture_ended(struct lws *client, const struct proxy_msg *m)
{
	struct control_client *cc = lws_wsi_user(client);
	const struct usbip_pcapng_stats *s = &m->capture;

	/* it never started: the answer is a refusal, and no stream goes */
	if (cc->deferred) {
		cc->deferred = 0;
		if (cc->pass_fd >= 0)
			close(cc->pass_fd);
		cc->pass_fd = -1;
		last_line(cc, json_pack("{s:b, s:s}", "ok", 0, "error", m->why));
		return;
	}
	last_line(cc,
		  json_pack("{s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "ok", !m->failed, "end", m->why, "packets",
			    (json_int_t)s->packets, "frames", (json_int_t)s->frames, "bytes", (json_int_t)s->bytes,
			    "dropped", (json_int_t)s->dropped, "skipped", (json_int_t)s->skipped, "unwritten",
			    (json_int_t)m->unwritten));
}

/* As every lws callback: 0, or -1 to close the connection. */
static int control_client_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
				   size_t len)
{
	struct proxy *px = ((struct proxy_thread *)lws_get_vhost_user(lws_get_vhost(wsi)))->px;
	struct control_client *cc = user;
	static uint8_t out[LWS_PRE + CONTROL_WRITE_CHUNK];
	const char *p;
	size_t n;
	int rc;

	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT:
		memset(cc, 0, sizeof(*cc));
		ctlsock_conn_init(&cc->conn, monotonic_ms());
		cc->px = px;
		cc->wsi = wsi;
		cc->pass_fd = -1;
		cc->counted = 1;
		px->control_clients++;
		/* the request in time, or lws closes it (Debian's lws 4.1.6 does
		 * not export lws_set_timeout_us: whole seconds it is) */
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, (CTLSOCK_DEADLINE_MS + 999) / 1000);
		return 0;
	case LWS_CALLBACK_RAW_RX:
		/* a capture's client says anything: it is to stop */
		if (cc->capture_id && ctlsock_conn_pending(&cc->conn, &n)) {
			if (!cc->stop_asked) {
				cc->stop_asked = 1;
				proxy_thread_lock(px);
				proxy_capture_client_stop(px, cc->capture_id);
				proxy_thread_unlock(px);
			}
			return 0;
		}
		rc = ctlsock_conn_feed(&cc->conn, monotonic_ms(), in, len, answer_control, cc);
		if (rc < 0) {
			log_warn("control socket: a request %s; closed that client",
				 rc == USBWS_ERR_NOSPACE ? "too long" : "could not be answered (out of memory)");
			return -1;
		}
		if (rc == 1) {
			/* then the answer out in time: a loop that was late to read
			 * the request (its timers run first) does not drop the answer */
			lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, (CTLSOCK_DEADLINE_MS + 999) / 1000);
			/* a capture's answer comes when it has started */
			if (!cc->deferred)
				lws_callback_on_writable(wsi);
		}
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE:
		p = ctlsock_conn_pending(&cc->conn, &n);
		if (!p)
			return 0;
		/* lws sends what the socket refused before it calls here again:
		 * nothing pending means all of it is out; a running capture's
		 * connection stays until its last line */
		if (!n)
			return cc->capture_id && !cc->closing && !cc->deferred ? 0 : -1;
		if (n > CONTROL_WRITE_CHUNK)
			n = CONTROL_WRITE_CHUNK;
		if (cc->pass_fd >= 0) {
			/* the stream goes with the answer's first bytes; lws holds
			 * nothing of this connection's yet, so writing beside it is
			 * safe */
			rc = ctlsock_send_fd(lws_get_socket_fd(wsi), p, n, cc->pass_fd);
			if (rc < 0 && errno == EAGAIN) {
				lws_callback_on_writable(wsi);
				return 0;
			}
			if (rc < 0)
				return -1;
			close(cc->pass_fd);
			cc->pass_fd = -1;
			n = (size_t)rc;
		} else {
			memcpy(out + LWS_PRE, p, n);
			if (lws_write(wsi, out + LWS_PRE, n, LWS_WRITE_RAW) < (int)n)
				return -1;
		}
		if (ctlsock_conn_sent(&cc->conn, n) && cc->capture_id && !cc->closing)
			capture_running(cc);
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE:
		if (!ctlsock_conn_pending(&cc->conn, &n) && ctlsock_conn_expired(&cc->conn, monotonic_ms()))
			log_info("control socket: a client did not complete its request within %d ms; closed it",
				 CTLSOCK_DEADLINE_MS);
		if (cc->capture_id) {
			proxy_thread_lock(px);
			proxy_capture_client_gone(px, cc->capture_id);
			proxy_thread_unlock(px);
		}
		if (cc->pass_fd >= 0)
			close(cc->pass_fd);
		free(cc->ready);
		ctlsock_conn_free(&cc->conn);
		uncount(cc);
		return 0;
	default:
		return 0;
	}
}

const struct lws_protocols proxy_control_client_protocol = {
	.name = "usbws-control-client",
	.callback = control_client_callback,
	.per_session_data_size = sizeof(struct control_client),
};

/* The listener: takes clients while there is room, then stops watching
 * it, so that newcomers wait in the backlog instead of waking us. */
static void accept_control(struct proxy *px, struct lws *wsi)
{
	lws_sock_file_fd_type u;

	while (px->control_clients < CTLSOCK_MAX_CLIENTS) {
		u.sockfd = accept4(lws_get_socket_fd(wsi), NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (u.sockfd < 0)
			break;
		/* adopting runs RAW_ADOPT, which counts the client; a failure closes the fd */
		if (!lws_adopt_descriptor_vhost(px->threads[0].local_vh, LWS_ADOPT_SOCKET, u,
						proxy_control_client_protocol.name, NULL))
			log_warn("control socket: cannot adopt a client");
	}
	if (px->control_clients >= CTLSOCK_MAX_CLIENTS)
		lws_rx_flow_control(wsi, 0);
}

static int control_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct proxy *px = ((struct proxy_thread *)lws_get_vhost_user(lws_get_vhost(wsi)))->px;

	(void)user;
	(void)in;
	(void)len;
	if (reason == LWS_CALLBACK_RAW_RX_FILE)
		accept_control(px, wsi);
	else if (reason == LWS_CALLBACK_RAW_CLOSE_FILE)
		px->control_wsi = NULL;
	return 0;
}

const struct lws_protocols proxy_control_protocol = {
	.name = "usbws-control",
	.callback = control_callback,
};

int proxy_control_open(struct proxy *px, char *why, size_t why_cap)
{
	lws_sock_file_fd_type u;
	char path[108];

	u.filefd = ctlsock_listen(CTLSOCK_PROXY);
	ctlsock_path(path, sizeof(path), CTLSOCK_PROXY);
	if (u.filefd < 0)
		return usbws_why(why, why_cap, u.filefd, "cannot listen on %s: %s", path,
				 errno == EADDRINUSE ? "another usbws-proxy answers there" : strerror(errno));
	/* lws polls the listening socket; accept_control takes the clients */
	px->control_wsi = lws_adopt_descriptor_vhost(px->threads[0].local_vh, LWS_ADOPT_RAW_FILE_DESC, u,
						     proxy_control_protocol.name, NULL);
	if (!px->control_wsi) {
		close(u.filefd);
		return usbws_why(why, why_cap, USBWS_ERR_LWS, "cannot watch %s", path);
	}
	px->control_listening = 1;
	log_info("control socket %s", path);
	return 0;
}

void proxy_control_close(struct proxy *px)
{
	char path[108];

	if (!px->control_listening)
		return;
	ctlsock_path(path, sizeof(path), CTLSOCK_PROXY);
	unlink(path);
	px->control_listening = 0;
}

/* Whose device t is, its address (under key) and its names from usb.ids. */
static void name_device(json_t *o, const struct tunnel *t, const char *key)
{
	char vendor[128], product[128];

	usbids_lookup(t->dev.id_vendor, t->dev.id_product, vendor, sizeof(vendor), product, sizeof(product));
	json_object_set_new(o, key, json_string(t->busid));
	json_object_set_new(o, "node", json_string(t->node));
	json_object_set_new(o, "node_busid", json_string(t->node_busid));
	json_object_set_new(o, "vendor_name", json_string(vendor));
	json_object_set_new(o, "product_name", json_string(product));
}

static json_t *port_json(const struct vhci_claim *c, const struct vhci_port *ports, size_t n)
{
	const struct tunnel *t = proxy_vhci_claim_tunnel(c);
	const char *local = "";
	json_t *o;
	size_t i;

	for (i = 0; i < n; i++)
		if (ports[i].port == c->port)
			local = ports[i].local_busid;
	o = json_pack("{s:i, s:i, s:s, s:s, s:I}", "port", (int)c->port, "controller", (int)c->controller, "hub",
		      c->superspeed ? "ss" : "hs", "local_busid", local, "attached_seconds",
		      (json_int_t)(time(NULL) - c->since));
	if (!t)
		return o;
	name_device(o, t, "busid");
	json_object_set_new(o, "device", ctl_device_json(&t->dev, t->ifs, NULL));
	return o;
}

/* A word of a request, quoted back in a refusal: at most 40 bytes, each
 * outside printable ASCII as '?', so that a cut never splits a character
 * and the answer stays valid JSON; "..." when it was longer. */
static const char *shown(char out[48], const char *s)
{
	size_t i;

	for (i = 0; s[i] && i < 40; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	snprintf(out + i, 4, "%s", s[i] ? "..." : "");
	return out;
}

static json_t *refusal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static json_t *refusal(const char *fmt, ...)
{
	char why[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s}", "ok", 0, "error", why);
}

static const char *offer_name(enum offer o)
{
	switch (o) {
	case OFFER_ATTACH: return "attach";
	case OFFER_EXPORT: return "export";
	case OFFER_HOLD: return "on-demand";
	}
	return "?";
}

/* attached (vhci_hcd), re-exported (a USB/IP importer), held (on demand,
 * nobody has it) or offered (over USB/IP, nobody has it) */
static json_t *device_json(const struct tunnel *t)
{
	struct tunnel_stats stats;
	const struct usbip_flow_stats *to = &stats.to_device, *from = &stats.from_device;
	const struct usbip_rtt_stats *rtt = &stats.rtt;
	uint64_t p50_ns;
	char where[80];
	json_t *o = ctl_device_json(&t->dev, t->ifs, proxy_tunnel_state(t));

	if (!o)
		return NULL;
	proxy_tunnel_stats(t, &stats);
	p50_ns = usbip_validator_rtt_percentile(rtt, 50);
	name_device(o, t, "id");
	if (t->address_by_serial)
		json_object_set_new(o, "serial", json_string(t->serial));
	json_object_set_new(o, "addressed_by", json_string(t->address_by_serial ? "serial" : "port"));
	json_object_set_new(o, "offer", json_string(offer_name(t->offer)));
	json_object_set_new(o, "policy_line", json_integer(t->policy_line));
	json_object_set_new(o, "link", json_string(t->wsi ? "connected" : "resuming"));
	json_object_set_new(o, "connected_since", json_integer((json_int_t)t->connected_since));
	json_object_set_new(o, "address", json_string(t->peer));
	json_object_set_new(o, "resumptions", json_integer((json_int_t)t->resumes));
	json_object_set_new(o, "bytes_from_node", json_integer((json_int_t)from->bytes));
	json_object_set_new(o, "bytes_to_node", json_integer((json_int_t)to->bytes));
	json_object_set_new(o, "urbs", json_integer((json_int_t)to->submits));
	json_object_set_new(o, "urbs_completed", json_integer((json_int_t)from->submits));
	/* the upper bound of its histogram bucket, within 12.5% */
	json_object_set_new(o, "rtt_p50_us", json_integer((json_int_t)(rtt->count ? p50_ns / 1000 : 0)));
	if (t->imp && t->imp->vhci_port >= 0) {
		proxy_vhci_where(t, where, sizeof(where));
		json_object_set_new(o, "attached_to", json_string(where));
	} else if (t->imp) {
		json_object_set_new(o, "attached_to", json_string(t->imp->peer));
	}
	if (t->attach_pending)
		json_object_set_new(o, "attach_pending", json_true());
	if (t->attach_error[0])
		json_object_set_new(o, "attach_error", json_string(t->attach_error));
	return o;
}

/* Request fields are checked as a node's are: anything else is named. */
static json_t *unexpected_field(json_t *req, const char *cmd, const char *const *allowed)
{
	const char *key;
	char word[48];
	json_t *v;
	size_t i;

	json_object_foreach(req, key, v) {
		int known = strcmp(key, "cmd") == 0;

		for (i = 0; allowed[i] && !known; i++)
			known = strcmp(key, allowed[i]) == 0;
		if (!known)
			return refusal("%s takes no field \"%s\"", cmd, shown(word, key));
	}
	return NULL;
}

/* A device id as `usbws nodes` shows it: the stable address (devaddr.h). */
#define DEVICE_ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
static const char *device_id(json_t *req, json_t **refused)
{
	json_t *v = json_object_get(req, "device");
	const char *id = json_string_value(v);
	size_t len = id ? strlen(id) : 0;
	char word[48];

	*refused = NULL;
	if (!json_is_string(v) || len == 0) {
		*refused = refusal("needs \"device\": an id as usbws nodes shows it");
		return NULL;
	}
	if (len >= USBIP_BUSID_SIZE || strspn(id, DEVICE_ID_CHARS) != len) {
		*refused = refusal("'%s' is not a device id (PREFIX-HASH, at most %d bytes of [A-Za-z0-9._-]; "
				   "usbws nodes lists them)",
				   shown(word, id), USBIP_BUSID_SIZE - 1);
		return NULL;
	}
	return id;
}

static struct tunnel *find_device(struct proxy *px, const char *id)
{
	struct tunnel *t;

	for (t = px->tunnels; t; t = t->next)
		if (proxy_tunnel_offered(t) && strcmp(t->busid, id) == 0)
			return t;
	return NULL;
}

/* The device a request names, or NULL with *refused saying why: an id
 * that is none, or no such device here. */
static struct tunnel *requested_device(struct proxy *px, json_t *req, json_t **refused)
{
	const char *id = device_id(req, refused);
	struct tunnel *t;

	if (!id)
		return NULL;
	t = find_device(px, id);
	if (!t)
		*refused = refusal("no device %s on this proxy (usbws nodes lists them)", id);
	return t;
}

static json_t *reexport_json(const struct tunnel *t)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I}", "busid", t->busid, "node", t->node, "node_busid",
			      t->node_busid, "importer", t->imp->peer, "imported_seconds",
			      (json_int_t)(time(NULL) - t->imp->since));

	if (o)
		json_object_set_new(o, "device", ctl_device_json(&t->dev, t->ifs, NULL));
	return o;
}

static json_t *answer_ports(struct proxy *px, json_t *req)
{
	static const char *const fields[] = { NULL };
	struct vhci_port *ports;
	json_t *list, *reexports, *bad = unexpected_field(req, "ports", fields);
	const struct tunnel *t;
	char why[200];
	size_t i, n = 0;

	if (bad)
		return bad;
	ports = calloc(PROXY_MAX_VHCI_PORTS, sizeof(*ports));
	list = json_array();
	reexports = json_array();
	if (ports && px->vhci_on && vhci_scan(ports, PROXY_MAX_VHCI_PORTS, &n, why, sizeof(why)) < 0)
		n = 0;
	for (i = 0; i < px->nclaims; i++)
		json_array_append_new(list, port_json(&px->claims[i], ports, n));
	free(ports);
	for (t = px->tunnels; t; t = t->next)
		if (proxy_tunnel_offered(t) && t->imp && t->imp->vhci_port < 0)
			json_array_append_new(reexports, reexport_json(t));
	return json_pack("{s:b, s:b, s:o, s:o}", "ok", 1, "vhci", px->vhci_on, "ports", list, "reexports", reexports);
}

/* The kernel shuts the port's socket; its close does the rest
 * (proxy_vhci_released): a device held on demand is held again, any
 * other's tunnel ends, and its node gives the device back. */
static json_t *detach_claim(struct vhci_claim *c)
{
	struct tunnel *t = c->imp ? c->imp->t : c->t;
	unsigned int port = c->port;
	char why[200], id[USBIP_BUSID_SIZE];

	if (vhci_detach(port, why, sizeof(why)) < 0)
		return refusal("%s", why);
	log_info("vhci port %u detached on request", port);
	/* a parked tunnel is freed by its failure: its id is kept first */
	snprintf(id, sizeof(id), "%s", t ? t->busid : "");
	if (t && t->offer != OFFER_HOLD)
		proxy_tunnel_end(t, "detached", "detached on the proxy with usbws detach", PROXY_FAIL_ONCE);
	return json_pack("{s:b, s:i, s:s}", "ok", 1, "port", (int)port, "device", id);
}

static json_t *answer_detach(struct proxy *px, json_t *req)
{
	static const char *const fields[] = { "port", "device", NULL };
	json_t *port = json_object_get(req, "port"), *bad = unexpected_field(req, "detach", fields);
	struct tunnel *t;
	const char *id;
	size_t i;

	if (bad)
		return bad;
	if (!port) {
		t = requested_device(px, req, &bad);
		if (!t)
			return bad;
		id = t->busid;
		if (t->attach_pending) {
			t->attach_pending = 0;
			log_info("node %s: the pending attach of %s is cancelled", t->node, t->busid);
			return json_pack("{s:b, s:s, s:b}", "ok", 1, "device", t->busid, "cancelled", 1);
		}
		if (!t->imp)
			return refusal("%s is not attached: it is %s", id, proxy_tunnel_state(t));
		if (t->imp->vhci_port < 0)
			return refusal("%s is imported over USB/IP by %s, not attached here: that importer detaches it", id,
				       t->imp->peer);
		for (i = 0; i < px->nclaims && px->claims[i].imp != t->imp; i++)
			;
		return i < px->nclaims ? detach_claim(&px->claims[i]) : refusal("%s: its vhci port is not this proxy's", id);
	}
	if (!json_is_integer(port) || json_integer_value(port) < 0)
		return refusal("detach needs \"port\": N (a vhci_hcd port, usbws port) or \"device\": ID");
	for (i = 0; i < px->nclaims; i++)
		if (px->claims[i].port == (unsigned int)json_integer_value(port))
			return detach_claim(&px->claims[i]);
	return refusal("port %lld is not attached by this proxy (see usbws port)", (long long)json_integer_value(port));
}

#define NODE_PATTERN_STARS 4

static unsigned int stars(const char *s)
{
	unsigned int n = 0;

	for (; *s; s++)
		n += *s == '*';
	return n;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "node")),
		      json_string_value(json_object_get(*(json_t *const *)b, "node")));
}

/* Every node with an exported device, sorted by name, each device with
 * its stable address, state and traffic.  "node": a glob narrows it. */
static json_t *answer_nodes(struct proxy *px, json_t *req)
{
	static const char *const fields[] = { "node", NULL };
	json_t *pattern = json_object_get(req, "node"), *bad = unexpected_field(req, "nodes", fields);
	json_t *by_node, *entry, *sorted, **all;
	const char *glob = json_string_value(pattern), *key;
	const struct tunnel *t;
	size_t i, n;

	if (bad)
		return bad;
	if (pattern && (!glob || !glob[0] || strlen(glob) > CERTID_MAX ||
			strcspn(glob, "\x01\x02\x03\x04\x05\x06\x07\x08\t\n\v\f\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16"
				      "\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f") != strlen(glob)))
		return refusal("\"node\" must be a pattern of 1..%d printable bytes (fnmatch, e.g. gw-*)", CERTID_MAX);
	/* fnmatch backtracks: each '*' multiplies its worst case, which would
	 * hold up every tunnel on this loop */
	if (glob && stars(glob) > NODE_PATTERN_STARS)
		return refusal("\"node\" may hold at most %d '*'", NODE_PATTERN_STARS);
	by_node = json_object();
	for (t = px->tunnels; t; t = t->next) {
		if (!proxy_tunnel_offered(t) || (glob && fnmatch(glob, t->node, 0) != 0))
			continue;
		entry = json_object_get(by_node, t->node);
		if (!entry) {
			entry = json_pack("{s:s, s:I, s:s, s:[]}", "node", t->node, "connected_since",
					  (json_int_t)t->connected_since, "address", t->peer, "devices");
			json_object_set_new(by_node, t->node, entry);
		} else if ((json_int_t)t->connected_since < json_integer_value(json_object_get(entry, "connected_since"))) {
			json_object_set_new(entry, "connected_since", json_integer((json_int_t)t->connected_since));
		}
		json_array_append_new(json_object_get(entry, "devices"), device_json(t));
	}
	n = json_object_size(by_node);
	all = calloc(n ? n : 1, sizeof(*all));
	sorted = json_array();
	i = 0;
	json_object_foreach(by_node, key, entry)
		if (all)
			all[i++] = entry;
	if (all) {
		qsort(all, i, sizeof(*all), by_name);
		for (n = 0; n < i; n++)
			json_array_append(sorted, all[n]);
	}
	free(all);
	json_decref(by_node);
	return json_pack("{s:b, s:o}", "ok", 1, "nodes", sorted);
}

static json_t *answer_device(struct proxy *px, json_t *req)
{
	static const char *const fields[] = { "device", NULL };
	json_t *bad = unexpected_field(req, "device", fields);
	struct tunnel *t;

	if (bad)
		return bad;
	t = requested_device(px, req, &bad);
	if (!t)
		return bad;
	return json_pack("{s:b, s:o}", "ok", 1, "device", device_json(t));
}

/* "vhci": "vhci_hcd.N", or a list as --vhci takes it ("0,1") */
static int attach_set(json_t *req, struct vhci_set *set, json_t **refused)
{
	json_t *v = json_object_get(req, "vhci");
	const char *s = json_string_value(v);
	char why[200];

	memset(set, 0, sizeof(*set));
	*refused = NULL;
	if (!v)
		return 0;
	if (!s) {
		*refused = refusal("\"vhci\" must be a controller: vhci_hcd.N, or a list such as 0,1");
		return USBWS_ERR_INVAL;
	}
	if (strncmp(s, "vhci_hcd.", 9) == 0)
		s += 9;
	if (vhci_parse_set(s, set, why, sizeof(why)) < 0) {
		*refused = refusal("\"vhci\": %s", why);
		return USBWS_ERR_INVAL;
	}
	return 0;
}

static json_t *answer_attach(struct proxy *px, json_t *req)
{
	static const char *const fields[] = { "device", "vhci", NULL };
	json_t *bad = unexpected_field(req, "attach", fields);
	struct tunnel_stats stats;
	struct vhci_set only;
	struct tunnel *t;
	const char *id;
	char why[400], where[80];

	if (bad)
		return bad;
	id = device_id(req, &bad);
	if (!id || attach_set(req, &only, &bad) < 0)
		return bad;
	t = find_device(px, id);
	if (!t)
		return refusal("no device %s on this proxy (usbws nodes lists them)", id);
	if (t->offer == OFFER_EXPORT)
		return refusal("%s is offered over USB/IP only (policy line %u): usbip attach -r reaches it, not "
			       "usbws attach", id, t->policy_line);
	if (t->imp && t->imp->vhci_port >= 0) {
		proxy_vhci_where(t, where, sizeof(where));
		return refusal("%s is already attached (%s)", id, where);
	}
	if (t->imp)
		return refusal("%s is imported over USB/IP by %s", id, t->imp->peer);
	if (proxy_vhci_pending(t))
		return refusal("%s is being attached", id);
	if (!px->vhci_on)
		return refusal("vhci_hcd is not in use on this proxy (--vhci none, or the module is not loaded)");
	proxy_tunnel_stats(t, &stats);
	if (stats.inflight)
		return refusal("%s still has URBs of its last importer in flight; try again in a moment", id);
	t->attach_error[0] = '\0';
	if (!t->wsi) {
		/* the kernel would time out enumerating a device whose node is
		 * away: it is attached the moment the node resumes */
		t->attach_pending = 1;
		t->attach_only = only;
		log_info("node %s: %s is to be attached once its node resumes", t->node, t->busid);
		return json_pack("{s:b, s:s, s:b}", "ok", 1, "device", t->busid, "pending", 1);
	}
	if (proxy_vhci_attach(t, &only, why, sizeof(why)) < 0)
		return refusal("%s", why);
	proxy_vhci_where(t, where, sizeof(where));
	return json_pack("{s:b, s:s, s:s}", "ok", 1, "device", t->busid, "attached_to", where);
}

/* usbws capture --device ID [--count N]: answered once the capture runs
 * (NULL now), or refused. */
static json_t *answer_capture(struct control_client *cc, json_t *req)
{
	static const char *const fields[] = { "device", "count", NULL };
	json_t *count = json_object_get(req, "count"), *bad = unexpected_field(req, "capture", fields), *ready;
	struct tunnel *t;
	char why[200];
	int64_t id;
	int fd;

	if (bad)
		return bad;
	if (count && (!json_is_integer(count) || json_integer_value(count) < 1))
		return refusal("\"count\" must be a number of packets, 1 or more");
	t = requested_device(cc->px, req, &bad);
	if (!t)
		return bad;
	id = proxy_capture_request(t, cc->wsi, count ? (uint64_t)json_integer_value(count) : 0, &fd, why,
				   sizeof(why));
	if (id < 0)
		return refusal("%s", why);
	ready = json_pack("{s:b, s:s, s:s, s:s}", "ok", 1, "device", t->busid, "node", t->node, "node_busid",
			  t->node_busid);
	cc->ready = ready ? json_dumps(ready, JSON_COMPACT) : NULL;
	json_decref(ready);
	cc->capture_id = (uint64_t)id;
	cc->pass_fd = fd;
	cc->deferred = 1;
	return NULL;
}

void proxy_control_resumed(struct tunnel *t)
{
	if (!t->attach_pending)
		return;
	t->attach_pending = 0;
	if (proxy_vhci_attach(t, &t->attach_only, t->attach_error, sizeof(t->attach_error)) < 0)
		log_warn("node %s: %s could not be attached as asked: %s", t->node, t->busid, t->attach_error);
}

static const struct {
	const char *cmd;
	json_t *(*answer)(struct proxy *px, json_t *req);
	int traffic; /* shows traffic, which each service thread copies for it */
} answers[] = {
	{ "ports", answer_ports, 0 },   { "nodes", answer_nodes, 1 },   { "device", answer_device, 1 },
	{ "attach", answer_attach, 0 }, { "detach", answer_detach, 0 },
};

/* What a client is told when not even a refusal can be made. */
#define NO_ANSWER "{\"ok\":false,\"error\":\"out of memory\"}"

static char *answer_control(void *ctx, const char *request)
{
	struct control_client *cc = ctx;
	struct proxy *px = cc->px;
	json_error_t jerr;
	json_t *req = json_loads(request, JSON_REJECT_DUPLICATES, &jerr), *o = NULL;
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	char *out, word[48];
	size_t i;

	if (!req) {
		o = refusal("the request is not JSON: %s at column %d", shown(word, jerr.text), jerr.column);
	} else if (!cmd) {
		o = refusal("the request needs \"cmd\": ports, nodes, device, attach, detach or capture");
	} else if (strcmp(cmd, "capture") == 0) {
		/* not in the table: it keeps its connection, which it needs */
		proxy_thread_lock(px);
		o = answer_capture(cc, req);
		proxy_thread_unlock(px);
	} else {
		for (i = 0; i < sizeof(answers) / sizeof(answers[0]); i++)
			if (strcmp(cmd, answers[i].cmd) == 0)
				break;
		if (i == sizeof(answers) / sizeof(answers[0])) {
			o = refusal("unknown \"cmd\" \"%s\": ports, nodes, device, attach, detach or capture",
				    shown(word, cmd));
		} else {
			/* not under the lock: the threads take it to copy */
			if (answers[i].traffic)
				proxy_thread_snapshot(px);
			/* every answer reads what the threads share */
			proxy_thread_lock(px);
			o = answers[i].answer(px, req);
			proxy_thread_unlock(px);
		}
	}
	json_decref(req);
	/* a capture's answer comes later */
	if (!o && cc->deferred)
		return NULL;
	out = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return out ? out : strdup(NO_ANSWER);
}
