/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The proxy's vhci_hcd backend: each exported device is attached to a free
 * vhci port of its speed, through a socketpair whose other end is adopted
 * as an importer (proxy_usbip.c) that starts in the URB phase.  Also the
 * control socket that `usbws port` and `usbws detach` talk to.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tunnel/ctl.h"
#include "net/ctlsock.h"
#include "base/log.h"
#include "base/monoclock.h"
#include "proxy.h"
#include "proxy_int.h"
#include "kernel/sysfs.h"
#include "kernel/usbids.h"
#include "base/usbws_err.h"

static int parse_pins(struct proxy *px, char *why, size_t why_cap)
{
	const struct proxy_config *cfg = px->cfg;
	char set_why[200];
	size_t i, c;
	int rc;

	px->pins = calloc(cfg->npins ? cfg->npins : 1, sizeof(*px->pins));
	if (!px->pins)
		return usbws_why(why, why_cap, USBWS_ERR_NOMEM, "--pin: out of memory");
	for (i = 0; i < cfg->npins; i++) {
		const char *eq = strrchr(cfg->pins[i], '=');
		size_t len = eq ? (size_t)(eq - cfg->pins[i]) : 0;

		if (!eq || len == 0 || len >= sizeof(px->pins[i].node))
			return usbws_why(why, why_cap, USBWS_ERR_INVAL, "--pin %s: expected NODE=LIST, e.g. camera-7=2,3",
					 cfg->pins[i]);
		rc = vhci_parse_set(eq + 1, &px->pins[i].set, set_why, sizeof(set_why));
		if (rc < 0)
			return usbws_why(why, why_cap, rc, "--pin %s: %s", cfg->pins[i], set_why);
		memcpy(px->pins[i].node, cfg->pins[i], len);
		px->reserved.restricted = 1;
		for (c = 0; c < VHCI_MAX_CONTROLLERS; c++)
			px->reserved.allowed[c] |= px->pins[i].set.allowed[c];
	}
	px->npins = cfg->npins;
	return 0;
}

/*
 * The control socket: one request line, one answer line.  lws watches the
 * listener and each client (a raw socket); ctlsock_conn keeps each
 * exchange, so a client that sends its request slowly, or never, costs a
 * slot and never a wait: the tunnels share this loop.
 */
static char *answer_control(void *ctx, const char *request);

struct control_client {
	struct ctlsock_conn conn;
};

#define CONTROL_WRITE_CHUNK 4096

/* As every lws callback: 0, or -1 to close the connection. */
static int control_client_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
				   size_t len)
{
	struct proxy *px = lws_get_vhost_user(lws_get_vhost(wsi));
	struct control_client *cc = user;
	uint8_t out[LWS_PRE + CONTROL_WRITE_CHUNK];
	const char *p;
	size_t n;
	int rc;

	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT:
		ctlsock_conn_init(&cc->conn, monotonic_ms());
		px->control_clients++;
		/* the request in time, or lws closes it (Debian's lws 4.1.6 does
		 * not export lws_set_timeout_us: whole seconds it is) */
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, (CTLSOCK_DEADLINE_MS + 999) / 1000);
		return 0;
	case LWS_CALLBACK_RAW_RX:
		rc = ctlsock_conn_feed(&cc->conn, monotonic_ms(), in, len, answer_control, px);
		if (rc < 0) {
			log_warn("control socket: a request %s; closed that client",
				 rc == USBWS_ERR_NOSPACE ? "too long" : "could not be answered (out of memory)");
			return -1;
		}
		if (rc == 1) {
			/* then the answer out in time: a loop that was late to read
			 * the request (its timers run first) does not drop the answer */
			lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, (CTLSOCK_DEADLINE_MS + 999) / 1000);
			lws_callback_on_writable(wsi);
		}
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE:
		p = ctlsock_conn_pending(&cc->conn, &n);
		if (!p)
			return 0;
		/* lws sends what the socket refused before it calls here again:
		 * nothing pending means all of it is out */
		if (!n)
			return -1;
		if (n > CONTROL_WRITE_CHUNK)
			n = CONTROL_WRITE_CHUNK;
		memcpy(out + LWS_PRE, p, n);
		if (lws_write(wsi, out + LWS_PRE, n, LWS_WRITE_RAW) < (int)n)
			return -1;
		ctlsock_conn_sent(&cc->conn, n);
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE:
		if (!ctlsock_conn_pending(&cc->conn, &n) && ctlsock_conn_expired(&cc->conn, monotonic_ms()))
			log_info("control socket: a client did not complete its request within %d ms; closed it",
				 CTLSOCK_DEADLINE_MS);
		ctlsock_conn_free(&cc->conn);
		if (px->control_clients-- == CTLSOCK_MAX_CLIENTS && px->control_wsi)
			lws_rx_flow_control(px->control_wsi, 1);
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols control_client_protocol = {
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
		if (!lws_adopt_descriptor_vhost(px->local_vh, LWS_ADOPT_SOCKET, u, control_client_protocol.name, NULL))
			log_warn("control socket: cannot adopt a client");
	}
	if (px->control_clients >= CTLSOCK_MAX_CLIENTS)
		lws_rx_flow_control(wsi, 0);
}

static int control_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct proxy *px = lws_get_vhost_user(lws_get_vhost(wsi));

	(void)user;
	(void)in;
	(void)len;
	if (reason == LWS_CALLBACK_RAW_RX_FILE)
		accept_control(px, wsi);
	else if (reason == LWS_CALLBACK_RAW_CLOSE_FILE)
		px->control_wsi = NULL;
	return 0;
}

static const struct lws_protocols control_protocol = {
	.name = "usbws-control",
	.callback = control_callback,
};

static int open_control(struct proxy *px, char *why, size_t why_cap)
{
	lws_sock_file_fd_type u;
	char path[108];

	u.filefd = ctlsock_listen(CTLSOCK_PROXY);
	ctlsock_path(path, sizeof(path), CTLSOCK_PROXY);
	if (u.filefd < 0)
		return usbws_why(why, why_cap, u.filefd, "cannot listen on %s: %s", path,
				 errno == EADDRINUSE ? "another usbws-proxy answers there" : strerror(errno));
	/* lws polls the listening socket; accept_control takes the clients */
	px->control_wsi = lws_adopt_descriptor_vhost(px->local_vh, LWS_ADOPT_RAW_FILE_DESC, u, control_protocol.name,
						     NULL);
	if (!px->control_wsi) {
		close(u.filefd);
		return usbws_why(why, why_cap, USBWS_ERR_LWS, "cannot watch %s", path);
	}
	px->control_listening = 1;
	log_info("control socket %s", path);
	return 0;
}

int proxy_vhci_init(struct proxy *px, char *why, size_t why_cap)
{
	static struct lws_protocols protocols[4];
	const char *mode = px->cfg->vhci ? px->cfg->vhci : "auto";
	struct lws_context_creation_info info;
	char vhci_why[200];
	int rc;

	sysfs_set_root(px->cfg->sysfs_root);
	rc = parse_pins(px, why, why_cap);
	if (rc < 0)
		return rc;
	if (strcmp(mode, "none") == 0) {
		px->vhci_on = 0;
	} else if (strcmp(mode, "auto") == 0) {
		px->vhci_on = vhci_present();
		if (!px->vhci_on)
			log_info("vhci_hcd is not loaded (%s/devices/platform/vhci_hcd.0): devices are only "
				 "re-exported", sysfs_root());
	} else {
		rc = vhci_parse_set(mode, &px->vhci_allowed, vhci_why, sizeof(vhci_why));
		if (rc < 0)
			return usbws_why(why, why_cap, rc, "--vhci %s", vhci_why);
		if (!vhci_present())
			return usbws_why(why, why_cap, USBWS_ERR_NO_DRIVER,
					 "--vhci %s: vhci_hcd is not loaded (modprobe vhci-hcd)", mode);
		px->vhci_on = 1;
	}
	if (px->vhci_on) {
		/* now, while the proxy may still be root (--user) */
		rc = vhci_open_control(vhci_why, sizeof(vhci_why));
		if (rc < 0)
			return usbws_why(why, why_cap, rc, "%s: the proxy needs write access to vhci_hcd's attach and "
					 "detach (root, or the group the unit grants them to), or --vhci none", vhci_why);
		log_info("attaching exported devices to vhci_hcd (%s)", mode);
	}
	memset(&info, 0, sizeof(info));
	protocols[0] = proxy_usbip_protocol;
	protocols[1] = control_protocol;
	protocols[2] = control_client_protocol;
	info.vhost_name = "local";
	/* raw sockets only: the WSS vhost is the one HTTP server (proxy.c) */
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.user = px;
	px->local_vh = lws_create_vhost(px->ctx, &info);
	if (!px->local_vh)
		return usbws_why(why, why_cap, USBWS_ERR_LWS, "cannot create the local vhost");
	return open_control(px, why, why_cap);
}

void proxy_vhci_free(struct proxy *px)
{
	char path[108];

	free(px->pins);
	free(px->claims);
	px->claims = NULL;
	px->nclaims = 0;
	if (!px->control_listening)
		return;
	ctlsock_path(path, sizeof(path), CTLSOCK_PROXY);
	unlink(path);
}

/* The controllers a node may use.  A pinned node: its pins, within --vhci.
 * Any other node: what --vhci allows less every pinned controller, as a pin
 * reserves its controllers for its tenant; *reserved_out then says some
 * were taken out. */
static const struct vhci_set *allowed_for(struct proxy *px, const char *node, struct vhci_set *both,
					   int *reserved_out)
{
	size_t i, c;

	*reserved_out = 0;
	for (i = 0; i < px->npins; i++) {
		if (strcmp(px->pins[i].node, node) != 0)
			continue;
		if (!px->vhci_allowed.restricted)
			return &px->pins[i].set;
		*both = px->pins[i].set;
		for (c = 0; c < VHCI_MAX_CONTROLLERS; c++)
			both->allowed[c] &= px->vhci_allowed.allowed[c];
		return both;
	}
	if (!px->reserved.restricted)
		return &px->vhci_allowed;
	both->restricted = 1;
	for (c = 0; c < VHCI_MAX_CONTROLLERS; c++) {
		int base = !px->vhci_allowed.restricted || px->vhci_allowed.allowed[c];

		both->allowed[c] = base && !px->reserved.allowed[c];
		*reserved_out |= base && px->reserved.allowed[c];
	}
	return both;
}

static int claimed(struct proxy *px, unsigned int port)
{
	size_t i;

	for (i = 0; i < px->nclaims; i++)
		if (px->claims[i].port == port)
			return 1;
	return 0;
}

static void describe_set(const struct vhci_set *set, char *out, size_t cap)
{
	size_t c, n = 0;

	if (!set->restricted) {
		snprintf(out, cap, "any vhci_hcd");
		return;
	}
	n = (size_t)snprintf(out, cap, "vhci_hcd");
	for (c = 0; c < VHCI_MAX_CONTROLLERS && n < cap; c++)
		if (set->allowed[c])
			n += (size_t)snprintf(out + n, cap - n, "%s%zu", n == 8 ? "." : ",", c);
}

/* The vhci_hcd ports a node holds now: a port whose tunnel is gone is on
 * its way back and counts for no one. */
static unsigned int ports_held(const struct proxy *px, const char *node)
{
	unsigned int n = 0;
	size_t i;

	for (i = 0; i < px->nclaims; i++)
		if (px->claims[i].imp->t && strcmp(px->claims[i].imp->t->node, node) == 0)
			n++;
	return n;
}

/* Picks a port no claim holds: between a port freeing itself in the kernel
 * and our socket's close, the status file shows it free but it is ours. */
static const struct vhci_port *pick_unclaimed(struct proxy *px, struct vhci_port *ports, size_t n,
					      uint32_t speed, const struct vhci_set *set)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (claimed(px, ports[i].port))
			ports[i].status = VHCI_ST_USED;
	return vhci_pick(ports, n, speed, set);
}

int proxy_vhci_attach(struct tunnel *t, char *why, size_t why_cap)
{
	struct proxy *px = t->px;
	struct vhci_port *ports;
	const struct vhci_port *p;
	struct vhci_set both;
	const struct vhci_set *set;
	struct vhci_claim *more;
	struct importer *imp;
	lws_sock_file_fd_type u;
	struct lws *wsi;
	char where[160];
	size_t n;
	int sv[2], reserved, rc;
	uint32_t devid;

	if (!px->vhci_on)
		return 0;
	if (ports_held(px, t->node) >= px->cfg->max_ports_per_node)
		return usbws_why(why, why_cap, USBWS_ERR_NODE_LIMIT, "node %s already holds %u vhci_hcd ports, the most "
				 "this proxy allows one node (--max-ports-per-node); end one of its exports first",
				 t->node, px->cfg->max_ports_per_node);
	ports = calloc(PROXY_MAX_VHCI_PORTS, sizeof(*ports));
	if (!ports)
		return usbws_why(why, why_cap, USBWS_ERR_NOMEM, "out of memory");
	rc = vhci_scan(ports, PROXY_MAX_VHCI_PORTS, &n, why, why_cap);
	if (rc < 0) {
		free(ports);
		return rc;
	}
	set = allowed_for(px, t->node, &both, &reserved);
	p = pick_unclaimed(px, ports, n, t->dev.speed, set);
	if (!p) {
		char pinned[160] = "";

		/* an unpinned node is told where it may go and what it may not use */
		describe_set(reserved ? &px->vhci_allowed : set, where, sizeof(where));
		if (reserved) {
			describe_set(&px->reserved, pinned, sizeof(pinned));
			rc = usbws_why(why, why_cap, USBWS_ERR_NO_PORT, "no free vhci_hcd port for a %s device in %s for "
				       "node %s; %s is reserved by --pin for other nodes",
				       t->dev.speed >= USBIP_SPEED_SUPER ? "SuperSpeed" : "high/full/low-speed", where,
				       t->node, pinned);
		} else {
			rc = usbws_why(why, why_cap, USBWS_ERR_NO_PORT,
				       "no free vhci_hcd port for a %s device in %s for node %s",
				       t->dev.speed >= USBIP_SPEED_SUPER ? "SuperSpeed" : "high/full/low-speed", where,
				       t->node);
		}
		free(ports);
		return rc;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		free(ports);
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "socketpair: %s", strerror(errno));
	}
	more = realloc(px->claims, (px->nclaims + 1) * sizeof(*more));
	u.sockfd = sv[0];
	wsi = more ? lws_adopt_descriptor_vhost(px->local_vh, LWS_ADOPT_SOCKET, u, proxy_usbip_protocol.name, NULL)
		   : NULL;
	if (more)
		px->claims = more;
	if (!wsi) {
		close(sv[1]);
		/* a failed adoption closes the descriptor itself */
		if (!more)
			close(sv[0]);
		free(ports);
		return usbws_why(why, why_cap, more ? USBWS_ERR_LWS : USBWS_ERR_NOMEM, "cannot adopt the vhci socket");
	}
	imp = lws_wsi_user(wsi);
	imp->t = t;
	imp->vhci_port = (int)p->port;
	t->imp = imp;
	px->claims[px->nclaims++] = (struct vhci_claim){ .port = p->port, .controller = p->controller,
		.superspeed = p->superspeed, .imp = imp, .since = time(NULL) };
	devid = t->dev.busnum << 16 | t->dev.devnum;
	rc = vhci_attach(p->port, sv[1], devid, t->dev.speed, why, why_cap);
	if (rc < 0) {
		close(sv[1]);
		imp->close_when_sent = 1;
		proxy_usbip_kick(imp);
		free(ports);
		return rc;
	}
	/* the kernel holds its own reference */
	close(sv[1]);
	log_info("node %s: busid %s (its %s) attached to vhci_hcd.%u port %u", t->node, t->busid, t->node_busid,
		 p->controller, p->port);
	free(ports);
	return 0;
}

void proxy_vhci_released(struct importer *imp)
{
	struct proxy *px = imp->px;
	struct tunnel *t = imp->t;
	char why[200];
	size_t i;

	if (imp->vhci_port < 0)
		return;
	/* fails harmlessly when the kernel already let the port go */
	if (vhci_detach((unsigned int)imp->vhci_port, why, sizeof(why)) == 0)
		log_info("detached vhci port %d", imp->vhci_port);
	for (i = 0; i < px->nclaims; i++) {
		if (px->claims[i].port == (unsigned int)imp->vhci_port) {
			px->claims[i] = px->claims[--px->nclaims];
			break;
		}
	}
	if (t && !t->closing) {
		snprintf(why, sizeof(why), "vhci_hcd port %d was detached on the proxy", imp->vhci_port);
		imp->t = NULL;
		t->imp = NULL;
		proxy_tunnel_fail(t, "detached", why);
	}
	imp->vhci_port = -1;
}

static json_t *port_json(const struct vhci_claim *c, const struct vhci_port *ports, size_t n)
{
	struct tunnel *t = c->imp->t;
	char vendor[128], product[128];
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
	usbids_lookup(t->dev.id_vendor, t->dev.id_product, vendor, sizeof(vendor), product, sizeof(product));
	json_object_set_new(o, "node", json_string(t->node));
	json_object_set_new(o, "node_busid", json_string(t->node_busid));
	json_object_set_new(o, "busid", json_string(t->busid));
	json_object_set_new(o, "vendor_name", json_string(vendor));
	json_object_set_new(o, "product_name", json_string(product));
	json_object_set_new(o, "device", ctl_device_json(&t->dev, t->ifs, NULL));
	return o;
}

static json_t *answer_ports(struct proxy *px)
{
	struct vhci_port *ports = calloc(PROXY_MAX_VHCI_PORTS, sizeof(*ports));
	json_t *list = json_array();
	char why[200];
	size_t i, n = 0;

	if (ports && px->vhci_on && vhci_scan(ports, PROXY_MAX_VHCI_PORTS, &n, why, sizeof(why)) < 0)
		n = 0;
	for (i = 0; i < px->nclaims; i++)
		json_array_append_new(list, port_json(&px->claims[i], ports, n));
	free(ports);
	return json_pack("{s:b, s:b, s:o}", "ok", 1, "vhci", px->vhci_on, "ports", list);
}

static json_t *answer_detach(struct proxy *px, json_t *req)
{
	json_t *port = json_object_get(req, "port");
	char why[200];
	size_t i;

	if (!json_is_integer(port))
		return json_pack("{s:b, s:s}", "ok", 0, "error", "detach needs \"port\": N");
	for (i = 0; i < px->nclaims; i++) {
		if (px->claims[i].port != (unsigned int)json_integer_value(port))
			continue;
		/* the kernel shuts the socket; its close finishes the job */
		if (vhci_detach(px->claims[i].port, why, sizeof(why)) < 0)
			return json_pack("{s:b, s:s}", "ok", 0, "error", why);
		log_info("vhci port %u detached on request", px->claims[i].port);
		if (px->claims[i].imp->t)
			proxy_tunnel_fail(px->claims[i].imp->t, "detached", "detached on the proxy with usbws detach");
		return json_pack("{s:b}", "ok", 1);
	}
	snprintf(why, sizeof(why), "port %lld is not attached by this proxy (see usbws port)",
		 (long long)json_integer_value(port));
	return json_pack("{s:b, s:s}", "ok", 0, "error", why);
}

static char *answer_control(void *ctx, const char *request)
{
	struct proxy *px = ctx;
	json_t *req = json_loads(request, 0, NULL), *o;
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	char *out;

	if (cmd && strcmp(cmd, "ports") == 0)
		o = answer_ports(px);
	else if (cmd && strcmp(cmd, "detach") == 0)
		o = answer_detach(px, req);
	else
		o = json_pack("{s:b, s:s}", "ok", 0, "error",
			      "unknown request; expected {\"cmd\": \"ports\"} or {\"cmd\": \"detach\", \"port\": N}");
	json_decref(req);
	out = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return out;
}
