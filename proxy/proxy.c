/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "proxy.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/monoclock.h"
#include "base/privdrop.h"
#include "base/usbws_err.h"
#include "net/lwslog.h"
#include "net/netaddr.h"
#include "net/svcnotify.h"
#include "proxy_int.h"

_Thread_local struct proxy_thread *proxy_self;

/* secs_since_valid_hangup 0: lws arms no validity timer at all */
const lws_retry_bo_t proxy_no_validity = { 0 };

/* What sets the listeners apart, besides what their config says. */
struct listener_kind {
	const char *vhost_name;
	const struct lws_protocols *protocol;
	int tls;                          /* WSS: mutual TLS with --cert, --key, --ca, --crl */
	int http;                         /* serves HTTP (and the upgrade) */
	lws_adoption_type adopt_type;
	int adopt_by_name;                /* a raw socket names its protocol; HTTP picks its own */
	const char *option;               /* for l's log lines: the option, what a late peer */
	const char *expiry_what;          /* failed to do, and the caps a refusal names */
	const char *source_flag, *full_flag;
	const char *no_vhost;             /* the error when lws makes no vhost */
	const char *serving, *warning;    /* "<serving> on ADDR (port N)<warning>" */
};

static const struct listener_kind nodes_listener = {
	.vhost_name = "usbws",
	/* the certificate verification callback must reach the tunnel protocol */
	.protocol = &proxy_tunnel_protocol,
	.tls = 1,
	.http = 1,
	.adopt_type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP | LWS_ADOPT_ALLOW_SSL,
	.option = "--listen",
	.expiry_what = "no authenticated hello",
	.source_flag = "--max-startups-per-source",
	.full_flag = "--max-startups",
	.no_vhost = "cannot serve WSS: check --cert, --key and --ca",
	.serving = "listening for nodes",
	.warning = "",
};

/* A balancer ends the nodes' TLS and forwards their certificates in a
 * header (proxy_tunnel.c); a peer outside --trusted-balancer is refused as
 * soon as it is accepted.  Its connections all come from a few addresses:
 * the per-source cap is the global one. */
static const struct listener_kind balancer_listener = {
	.vhost_name = "usbws-balanced",
	.protocol = &proxy_tunnel_protocol,
	.http = 1,
	.adopt_type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP,
	.option = "--balancer-listen",
	.expiry_what = "no authenticated hello",
	.source_flag = "--max-startups",
	.full_flag = "--max-startups",
	.no_vhost = "cannot make the balancer's vhost",
	.serving = "listening for nodes through a balancer",
	.warning = "; plain HTTP: keep it on loopback or a network only the balancer reaches",
};

static const struct listener_kind importers_listener = {
	.vhost_name = "usbip",
	.protocol = &proxy_usbip_protocol,
	.adopt_type = LWS_ADOPT_SOCKET,
	.adopt_by_name = 1,
	.option = "--usbip-listen",
	.expiry_what = "no USB/IP request",
	.source_flag = "--usbip-max-per-source",
	.full_flag = "--usbip-max-clients",
	.no_vhost = "cannot make the USB/IP vhost",
	.serving = "re-exporting devices over USB/IP",
	.warning = "; it has no authentication: keep it on loopback or a trusted network",
};

/* Mutual TLS, TLS 1.2 or later, and only --ca vouches for nodes; the
 * vhost's LOAD_EXTRA_SERVER_VERIFY_CERTS callback puts px->store (--ca and
 * --crl, checked before lws sees them) in its TLS context. */
static void tls_options(const struct proxy_config *cfg, struct lws_context_creation_info *info)
{
	info->ssl_cert_filepath = cfg->cert;
	info->ssl_private_key_filepath = cfg->key;
	info->ssl_ca_filepath = cfg->ca;
	info->options = LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT | LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
	info->ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
}

/*
 * th's vhost for what l admits.  lws picks an HTTP connection's vhost again
 * by its Host header among the vhosts of its port, and every vhost without
 * a listener shares one: only the WSS one may be a server (port
 * NO_LISTEN_SERVER).  Returns 0 or a code, with why filled.
 */
static int listener_vhost(struct proxy_thread *th, struct proxy_listener *l, const struct listener_kind *kind,
			  char *why, size_t why_cap)
{
	struct lws_context_creation_info info;

	memset(&info, 0, sizeof(info));
	if (kind->tls)
		tls_options(th->px->cfg, &info);
	info.vhost_name = kind->vhost_name;
	info.protocols = l->protocols;
	/* lws picks an upgrade's vhost again by its Host header among the
	 * HTTP ones: the WSS vhost (the first) unless the Host names the
	 * other.  Both serve the same protocol, which tells a node's TLS from
	 * a balancer's plain connection by the socket, never by the vhost. */
	info.port = kind->http ? CONTEXT_PORT_NO_LISTEN_SERVER : CONTEXT_PORT_NO_LISTEN;
	info.user = th;
	info.retry_and_idle_policy = &proxy_no_validity;
	th->vh[l->slot] = lws_create_vhost(th->ctx, &info);
	if (!th->vh[l->slot])
		return usbws_why(why, why_cap, kind->tls ? USBWS_ERR_TLS : USBWS_ERR_LWS, "%s", kind->no_vhost);
	if (kind->tls && !th->wss_ssl)
		return usbws_why(why, why_cap, USBWS_ERR_TLS,
				 "cannot serve WSS: the TLS context never reached the CRL setup");
	return 0;
}

/* A listener: a vhost on every thread, then its sockets on spec, which
 * threads[0] watches and accepts from.  Returns 0 or a code, with why
 * filled. */
static int open_listener(struct proxy *px, struct proxy_listener *l, enum proxy_listener_slot slot,
			 const struct listener_kind *kind, const char *spec, const struct admit_policy *policy,
			 char *why, size_t why_cap)
{
	unsigned int i;
	int rc;

	l->protocols[0] = *kind->protocol;
	l->slot = slot;
	for (i = 0; i < px->nthreads; i++) {
		rc = listener_vhost(&px->threads[i], l, kind, why, why_cap);
		if (rc < 0)
			return rc;
	}
	l->option = kind->option;
	l->spec = spec;
	l->expiry_what = kind->expiry_what;
	l->source_flag = kind->source_flag;
	l->full_flag = kind->full_flag;
	l->policy = *policy;
	l->adopt_type = kind->adopt_type;
	l->protocol = kind->adopt_by_name ? kind->protocol->name : NULL;
	rc = proxy_listen_open(px, l, why, why_cap);
	if (rc < 0)
		return rc;
	log_info("%s on %s (port %d)%s", kind->serving, spec, l->port, kind->warning);
	return 0;
}

#define USBIP_RISK "USB/IP has no authentication: anyone who reaches it can take a device"

/* The re-export trusts whoever connects: off loopback only when asked, and
 * then said at every start. */
static int check_usbip_exposure(const struct proxy_config *cfg, char *why, size_t why_cap)
{
	char addr_why[320];
	int rc = netaddr_loopback_only(cfg->usbip_listen, addr_why, sizeof(addr_why));

	if (rc == USBWS_ERR_NOT_LOOPBACK && cfg->usbip_listen_public) {
		log_warn("--usbip-listen %s: %s, served as --usbip-listen-public asks; " USBIP_RISK,
			 cfg->usbip_listen, addr_why);
		return 0;
	}
	if (rc == USBWS_ERR_NOT_LOOPBACK)
		return usbws_why(why, why_cap, rc,
				 "--usbip-listen %s: %s; " USBIP_RISK
				 ". Add --usbip-listen-public to serve it there anyway",
				 cfg->usbip_listen, addr_why);
	if (rc < 0)
		return usbws_why(why, why_cap, rc, "--usbip-listen %s: %s", cfg->usbip_listen, addr_why);
	return 0;
}

static int open_listeners(struct proxy *px, const struct proxy_config *cfg, char *why, size_t why_cap)
{
	const struct admit_policy nodes = {
		.per_source = cfg->unauth_per_source, .start = cfg->unauth_start, .rate = cfg->unauth_rate,
		.full = cfg->unauth_full, .timeout_ms = (int64_t)cfg->auth_timeout * 1000,
	};
	/* every connection comes from the balancer's few addresses */
	const struct admit_policy balanced = {
		.per_source = cfg->unauth_full,
		.start = cfg->unauth_start,
		.rate = cfg->unauth_rate,
		.full = cfg->unauth_full,
		.timeout_ms = (int64_t)cfg->auth_timeout * 1000,
	};
	/* importers never authenticate: the cap holds them all, and the
	 * deadline only until their request is answered */
	const struct admit_policy importers = {
		.per_source = cfg->usbip_max_per_source, .start = cfg->usbip_max_clients,
		.full = cfg->usbip_max_clients, .timeout_ms = (int64_t)cfg->usbip_timeout * 1000,
	};
	int rc = 0;

	/* before anything listens: a refused start serves no one */
	if (cfg->usbip_listen)
		rc = check_usbip_exposure(cfg, why, why_cap);
	if (rc == 0)
		rc = proxy_trust_load(cfg, &px->store, why, why_cap);
	if (rc == 0)
		rc = open_listener(px, &px->wss, PROXY_LISTEN_NODES, &nodes_listener, cfg->listen, &nodes, why,
				   why_cap);
	if (rc == 0 && cfg->balancer_listen) {
		px->balancer.trusted = cfg->trusted;
		px->balancer.ntrusted = cfg->ntrusted;
		rc = open_listener(px, &px->balancer, PROXY_LISTEN_BALANCER, &balancer_listener,
				   cfg->balancer_listen, &balanced, why, why_cap);
	}
	if (rc == 0 && cfg->usbip_listen)
		rc = open_listener(px, &px->usbip, PROXY_LISTEN_USBIP, &importers_listener, cfg->usbip_listen,
				   &importers, why, why_cap);
	if (rc == 0)
		rc = proxy_metrics_open(px, why, why_cap);
	return rc;
}

/* What systemd shows of the proxy (the unit is Type=notify), and its
 * watchdog, fed only while every thread's tick runs: one stuck thread
 * strands its tunnels as surely as a stuck proxy strands all of them. */
static void notify_service(struct proxy *px, unsigned int tunnels, int64_t now)
{
	const int64_t every = svcnotify_watchdog_interval_ms();
	unsigned int i;

	svcnotify_status("%u tunnel%s", tunnels, tunnels == 1 ? "" : "s");
	if (!every)
		return;
	for (i = 0; i < px->nthreads; i++)
		if (now - __atomic_load_n(&px->threads[i].ticked_ms, __ATOMIC_RELAXED) > every)
			return;
	svcnotify_watchdog();
}

static void tick(lws_sorted_usec_list_t *sul)
{
	struct proxy_thread *th = lws_container_of(sul, struct proxy_thread, tick);
	struct proxy *px = th->px;
	int64_t now = monotonic_ms();
	unsigned int tunnels;

	__atomic_store_n(&th->ticked_ms, now, __ATOMIC_RELAXED);
	proxy_tunnel_tick(th);
	/* the admission tables are every thread's */
	proxy_thread_lock(px);
	proxy_listen_tick(&px->wss, th);
	proxy_listen_tick(&px->balancer, th);
	proxy_listen_tick(&px->usbip, th);
	tunnels = px->ntunnels;
	proxy_thread_unlock(px);
	if (th->index == 0)
		notify_service(px, tunnels, now);
	lws_sul_schedule(th->ctx, 0, &th->tick, tick, LWS_US_PER_SEC);
}

/* Everything only root may do is done: listening sockets, the control
 * socket, vhci_hcd's attach and detach, the key.  What follows parses the
 * network, and need not be root. */
static int drop_privileges(const struct proxy_config *cfg, char *why, size_t why_cap)
{
	char user_why[200];
	int rc;

	if (!cfg->user) {
		if (geteuid() == 0)
			log_warn("running as root: --user USER would parse the network as USER (usbws-proxy(8))");
		return 0;
	}
	rc = privdrop_to(cfg->user, user_why, sizeof(user_why));
	if (rc < 0)
		return usbws_why(why, why_cap, rc, "--user %s: %s", cfg->user, user_why);
	log_info("running as %s (uid %u)", cfg->user, (unsigned int)getuid());
	return 0;
}

/* th's context, on its own event loop.  All are made here, one after
 * another, before any thread serves: lws 4.1 allocates OpenSSL indexes
 * anew for each context, which a handshake on another thread would read
 * halfway.  Returns 0, or USBWS_ERR_LWS. */
static int thread_context(struct proxy *px, struct proxy_thread *th, unsigned int index)
{
	struct lws_context_creation_info info;
	int before[64], nbefore, rc;

	th->px = px;
	th->index = index;
	th->wheel_second = monotonic_ms() / 1000;
	th->epoll_fd = -1;
	pthread_mutex_init(&th->mbox_lock, NULL);
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	/* OpenSSL's global setup, once */
	if (index == 0)
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.pt_serv_buf_size = PROXY_RX_CHUNK + LWS_PRE;
	/* a balancer's upgrade carries the node's certificate (balancer.h) */
	info.max_http_header_data = 8192;
	info.user = th;
	proxy_thread_epoll_before(before, &nbefore, 64);
	rc = proxy_loop_create(th, &info);
	if (rc == 0 && th->evloop)
		th->epoll_fd = proxy_thread_epoll_after(before, nbefore);
	return rc;
}

/* Closing every socket detaches every vhci port; parked tunnels go too. */
static void teardown(struct proxy *px)
{
	unsigned int i;

	proxy_thread_stop(px);
	/* nothing is posted from now on */
	px->stopping = 1;
	for (i = 0; i < px->nthreads; i++) {
		struct proxy_thread *th = &px->threads[i];

		if (!th->ctx)
			continue;
		/* its callbacks run here now, as its own */
		proxy_self = th;
		lws_sul_schedule(th->ctx, 0, &th->tick, NULL, LWS_SET_TIMER_USEC_CANCEL);
		lws_context_destroy(th->ctx);
		th->ctx = NULL;
		proxy_loop_free(th);
	}
	proxy_self = &px->threads[0];
	proxy_tunnel_free_all(px);
	proxy_capture_close_dir(px);
	/* what was posted as the contexts went is let go, before what it
	 * holds (admissions, vhci claims) is */
	for (i = 0; i < px->nthreads; i++)
		proxy_thread_free_mailbox(&px->threads[i]);
	proxy_listen_close(&px->wss);
	proxy_listen_close(&px->balancer);
	proxy_listen_close(&px->usbip);
	proxy_vhci_free(px);
	proxy_metrics_close(px);
	proxy_policy_free(px);
	proxy_index_free(px);
	X509_STORE_free(px->store);
	free(px->threads);
}

int proxy_run(const struct proxy_config *cfg, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload)
{
	struct proxy px;
	struct proxy_thread *main_th;
	char why[512];
	unsigned int i;
	int rc = 0, failed = 0;

	memset(&px, 0, sizeof(px));
	px.cfg = cfg;
	px.capture_dir = -1;
	px.nthreads = cfg->threads ? cfg->threads : proxy_thread_default_count();
	proxy_listen_raise_fd_limit();
	lwslog_init(cfg->verbose, px.nthreads);
	svcnotify_init();
	/* jansson seeds its hashes once, and glibc reads the time zone once,
	 * before any thread needs them */
	json_object_seed(0);
	tzset();
	px.threads = calloc(px.nthreads, sizeof(*px.threads));
	if (!px.threads || proxy_thread_init_lock(&px) < 0) {
		log_err("out of memory for the service threads");
		free(px.threads);
		return 1;
	}
	main_th = &px.threads[0];
	proxy_self = main_th;
	for (i = 0; i < px.nthreads && rc == 0; i++)
		rc = thread_context(&px, &px.threads[i], i);
	if (rc < 0) {
		log_err("cannot create the libwebsockets context");
		teardown(&px);
		return 1;
	}
	/* the control socket answers before nodes can come */
	rc = proxy_index_init(&px);
	if (rc < 0)
		snprintf(why, sizeof(why), "out of memory for the tunnel index");
	if (rc == 0)
		rc = proxy_policy_load(&px, why, sizeof(why));
	if (rc == 0)
		rc = proxy_vhci_init(&px, why, sizeof(why));
	if (rc == 0)
		rc = open_listeners(&px, cfg, why, sizeof(why));
	if (rc == 0)
		rc = drop_privileges(cfg, why, sizeof(why));
	/* as the user that writes there */
	if (rc == 0)
		rc = proxy_capture_open_dir(&px, why, sizeof(why));
	for (i = 0; i < px.nthreads && rc == 0; i++) {
		lws_sul_schedule(px.threads[i].ctx, 0, &px.threads[i].tick, tick, LWS_US_PER_SEC);
		proxy_loop_timers_changed(&px.threads[i]);
	}
	if (rc == 0)
		rc = proxy_thread_start(&px, why, sizeof(why));
	if (rc < 0) {
		log_err("%s", why);
		teardown(&px);
		return 1;
	}
	if (px.nthreads > 1)
		log_info("serving on %u threads", px.nthreads);
	/* every listener is open and every thread serves: a node may come */
	svcnotify_ready();
	svcnotify_status("0 tunnels");
	/* a signal ends the wait early, so a SIGHUP is seen at once */
	while (!*stop) {
		if (proxy_loop_run_once(main_th) < 0) {
			log_err("the event loop failed: %s", usbws_strerror(USBWS_ERR_LWS));
			failed = 1;
			break;
		}
		if (reload && *reload) {
			*reload = 0;
			proxy_thread_lock(&px);
			proxy_trust_reload(&px);
			proxy_policy_reload(&px);
			proxy_thread_unlock(&px);
			proxy_loop_timers_changed(main_th);
		}
	}
	log_info("stopping");
	svcnotify_stopping();
	teardown(&px);
	return failed || __atomic_load_n(&px.worker_failed, __ATOMIC_ACQUIRE);
}
