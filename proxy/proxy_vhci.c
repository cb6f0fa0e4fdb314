/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The proxy's vhci_hcd backend: each exported device is attached to a free
 * vhci port of its speed, through a socketpair whose other end is adopted
 * as an importer (proxy_usbip.c) that starts in the URB phase.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/monoclock.h"
#include "proxy.h"
#include "proxy_int.h"
#include "kernel/sysfs.h"
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

int proxy_vhci_init(struct proxy *px, char *why, size_t why_cap)
{
	static struct lws_protocols protocols[4];
	const char *mode = px->cfg->vhci ? px->cfg->vhci : "auto";
	struct lws_context_creation_info info;
	char vhci_why[200];
	unsigned int i;
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
	protocols[0] = proxy_usbip_protocol;
	protocols[1] = proxy_control_protocol;
	protocols[2] = proxy_control_client_protocol;
	for (i = 0; i < px->nthreads; i++) {
		memset(&info, 0, sizeof(info));
		info.vhost_name = "local";
		/* raw sockets only: the WSS vhost is the one HTTP server (proxy.c) */
		info.port = CONTEXT_PORT_NO_LISTEN;
		info.protocols = protocols;
		info.user = &px->threads[i];
		info.retry_and_idle_policy = &proxy_no_validity;
		px->threads[i].local_vh = lws_create_vhost(px->threads[i].ctx, &info);
		if (!px->threads[i].local_vh)
			return usbws_why(why, why_cap, USBWS_ERR_LWS, "cannot create the local vhost");
	}
	return proxy_control_open(px, why, why_cap);
}

void proxy_vhci_free(struct proxy *px)
{
	free(px->pins);
	free(px->claims);
	px->claims = NULL;
	px->nclaims = 0;
	proxy_control_close(px);
}

/* acc narrowed to what with allows too */
static void narrow(struct vhci_set *acc, const struct vhci_set *with)
{
	size_t c;

	if (!with || !with->restricted)
		return;
	if (!acc->restricted) {
		*acc = *with;
		return;
	}
	for (c = 0; c < VHCI_MAX_CONTROLLERS; c++)
		acc->allowed[c] = acc->allowed[c] && with->allowed[c];
}

const struct tunnel *proxy_vhci_claim_tunnel(const struct vhci_claim *c)
{
	return c->imp ? c->imp->t : c->t;
}

void proxy_vhci_claims_move(struct tunnel *t, const struct importer *from, struct importer *to)
{
	struct proxy *px = t->px;
	size_t i;

	for (i = 0; i < px->nclaims; i++)
		if (px->claims[i].imp == from && (from || px->claims[i].t == t)) {
			px->claims[i].imp = to;
			px->claims[i].t = t;
		}
}

int proxy_vhci_pending(const struct tunnel *t)
{
	size_t i;

	for (i = 0; i < t->px->nclaims; i++)
		if (!t->px->claims[i].imp && t->px->claims[i].t == t)
			return 1;
	return 0;
}

int proxy_vhci_where(const struct tunnel *t, char *out, size_t cap)
{
	size_t i;

	for (i = 0; i < t->px->nclaims; i++)
		if (proxy_vhci_claim_tunnel(&t->px->claims[i]) == t)
			return snprintf(out, cap, "vhci_hcd.%u port %u", t->px->claims[i].controller,
					t->px->claims[i].port);
	return snprintf(out, cap, "a vhci_hcd port");
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

	for (i = 0; i < px->nclaims; i++) {
		const struct tunnel *t = proxy_vhci_claim_tunnel(&px->claims[i]);

		/* one replaced on another thread lets go of its port soon */
		if (t && t->exported && !t->closing && strcmp(t->node, node) == 0)
			n++;
	}
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

static void unclaim(struct proxy *px, unsigned int port)
{
	size_t i;

	for (i = 0; i < px->nclaims; i++) {
		if (px->claims[i].port == port) {
			px->claims[i] = px->claims[--px->nclaims];
			return;
		}
	}
}

void proxy_vhci_abandon(struct proxy *px, unsigned int port)
{
	char why[200];

	/* fails harmlessly when the kernel already let the port go */
	vhci_detach(port, why, sizeof(why));
	unclaim(px, port);
}

/* fd, the socket behind vhci_hcd's port, watched on t's thread (this
 * one) as t's importer.  Returns 0, or a negative enum usbws_err with why
 * filled after giving the port up. */
static int bind_port(struct tunnel *t, int fd, unsigned int port, char *why, size_t why_cap)
{
	lws_sock_file_fd_type u;
	struct importer *imp;
	struct lws *wsi;
	size_t i;

	/* an importer took the device while the socket was on its way, or it
	 * is going */
	if (t->imp || t->closing) {
		close(fd);
		proxy_vhci_abandon(t->px, port);
		return usbws_why(why, why_cap, USBWS_ERR_BUSY, "%s was taken or closed while being attached",
				 t->busid);
	}
	u.sockfd = fd;
	/* a failed adoption closes the descriptor itself */
	wsi = lws_adopt_descriptor_vhost(t->th->local_vh, LWS_ADOPT_SOCKET, u, proxy_usbip_protocol.name, NULL);
	if (!wsi) {
		proxy_vhci_abandon(t->px, port);
		return usbws_why(why, why_cap, USBWS_ERR_LWS, "cannot adopt the vhci socket");
	}
	imp = lws_wsi_user(wsi);
	imp->t = t;
	imp->vhci_port = (int)port;
	imp->peer[0] = '\0';
	t->imp = imp;
	for (i = 0; i < t->px->nclaims; i++)
		if (t->px->claims[i].port == port)
			t->px->claims[i].imp = imp;
	return 0;
}

void proxy_vhci_message(struct proxy_thread *th, struct proxy_msg *m)
{
	char why[200];
	int fd = m->fd;

	(void)th;
	m->fd = -1;
	if (bind_port(m->t, fd, m->port, why, sizeof(why)) == 0)
		return;
	/* as an attach that fails at once: a device held on demand says so
	 * in its listing, any other's tunnel ends */
	log_warn("node %s: %s could not be attached: %s", m->t->node, m->t->busid, why);
	if (m->t->offer == OFFER_HOLD)
		snprintf(m->t->attach_error, sizeof(m->t->attach_error), "%s", why);
	else
		proxy_tunnel_fail(m->t, "vhci", why);
}

/* Under px->lock, on any thread: the port is picked and attached here,
 * its socket watched on t's thread. */
int proxy_vhci_attach(struct tunnel *t, const struct vhci_set *only, char *why, size_t why_cap)
{
	struct proxy *px = t->px;
	struct vhci_port *ports;
	const struct vhci_port *p;
	struct vhci_set both, narrowed;
	const struct vhci_set *set;
	struct vhci_claim *more;
	struct vhci_port port;
	struct proxy_msg *m;
	char where[160];
	size_t n;
	int sv[2], reserved, rc;
	uint32_t devid;

	if (!px->vhci_on)
		return usbws_why(why, why_cap, USBWS_ERR_NO_DRIVER,
				 "vhci_hcd is not in use on this proxy (--vhci none, or the module is not loaded)");
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
	narrowed = *allowed_for(px, t->node, &both, &reserved);
	narrow(&narrowed, &t->vhci_only);
	narrow(&narrowed, only);
	set = &narrowed;
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
	if (!more) {
		close(sv[0]);
		close(sv[1]);
		free(ports);
		return usbws_why(why, why_cap, USBWS_ERR_NOMEM, "out of memory for the vhci claim");
	}
	px->claims = more;
	port = *p;
	free(ports);
	/* claimed before the kernel has it: no one else picks the port */
	px->claims[px->nclaims++] = (struct vhci_claim){ .port = port.port,
							 .controller = port.controller,
							 .superspeed = port.superspeed,
							 .t = t,
							 .since = time(NULL) };
	devid = t->dev.busnum << 16 | t->dev.devnum;
	/* what vhci_hcd sends before our end is watched waits in the socket */
	rc = vhci_attach(port.port, sv[1], devid, t->dev.speed, why, why_cap);
	/* the kernel holds its own reference */
	close(sv[1]);
	if (rc < 0) {
		close(sv[0]);
		unclaim(px, port.port);
		return rc;
	}
	log_info("node %s: busid %s (its %s) attached to vhci_hcd.%u port %u", t->node, t->busid, t->node_busid,
		 port.controller, port.port);
	if (t->th == proxy_self)
		return bind_port(t, sv[0], port.port, why, why_cap);
	/* t's thread watches the socket */
	m = proxy_thread_msg_new(PROXY_MSG_VHCI);
	if (!m) {
		close(sv[0]);
		proxy_vhci_abandon(px, port.port);
		return usbws_why(why, why_cap, USBWS_ERR_NOMEM, "out of memory to hand the vhci socket over");
	}
	m->t = t;
	m->fd = sv[0];
	m->port = port.port;
	proxy_thread_post(t->th, m);
	return 0;
}

void proxy_vhci_released(struct importer *imp)
{
	struct proxy *px = imp->px;
	struct tunnel *t = imp->t;
	char why[200];

	if (imp->vhci_port < 0)
		return;
	/* fails harmlessly when the kernel already let the port go */
	if (vhci_detach((unsigned int)imp->vhci_port, why, sizeof(why)) == 0)
		log_info("detached vhci port %d", imp->vhci_port);
	unclaim(px, (unsigned int)imp->vhci_port);
	/* a device held on demand goes back to being held, its tunnel
	 * untouched; any other was taken from its application */
	if (t && !t->closing && t->offer == OFFER_HOLD) {
		log_info("node %s: busid %s held again", t->node, t->busid);
		imp->vhci_port = -1;
		return;
	}
	if (t && !t->closing) {
		snprintf(why, sizeof(why), "vhci_hcd port %d was detached on the proxy", imp->vhci_port);
		imp->t = NULL;
		t->imp = NULL;
		proxy_tunnel_fail(t, "detached", why);
	}
	imp->vhci_port = -1;
}
