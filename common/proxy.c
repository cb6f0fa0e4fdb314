/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "proxy.h"

#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lwslog.h"
#include "netaddr.h"
#include "proxy_int.h"

/* The part of a vhost both listeners share: where it listens, and px. */
static int listen_info(struct proxy *px, const char *option, const char *spec,
		       struct lws_context_creation_info *info, char host[256])
{
	char port[16];

	if (netaddr_split(spec, host, 256, port, sizeof(port)) < 0) {
		log_err("%s %s: expected HOST:PORT", option, spec);
		return -1;
	}
	memset(info, 0, sizeof(*info));
	info->port = atoi(port);
	info->iface = strcmp(host, "0.0.0.0") == 0 ? NULL : host;
	info->user = px;
	return 0;
}

static int make_vhost_wss(struct proxy *px, const struct proxy_config *cfg)
{
	static struct lws_protocols protocols[2];
	struct lws_context_creation_info info;
	struct lws_vhost *vh;
	char host[256];

	if (listen_info(px, "--listen", cfg->listen, &info, host) < 0)
		return -1;
	/* first, so that the certificate verification callback reaches it */
	protocols[0] = proxy_tunnel_protocol;
	info.vhost_name = "usbws";
	info.protocols = protocols;
	info.ssl_cert_filepath = cfg->cert;
	info.ssl_private_key_filepath = cfg->key;
	info.ssl_ca_filepath = cfg->ca;
	/* mutual TLS, TLS 1.2 or later, and only --ca vouches for nodes */
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT |
		       LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
	info.ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
	vh = lws_create_vhost(px->ctx, &info);
	if (!vh) {
		log_err("cannot serve WSS on %s: check --cert, --key and --ca, and that the port is free",
			cfg->listen);
		return -1;
	}
	log_info("listening for nodes on %s (port %d)", cfg->listen, lws_get_vhost_listen_port(vh));
	return 0;
}

static int make_vhost_usbip(struct proxy *px, const struct proxy_config *cfg)
{
	static struct lws_protocols protocols[2];
	struct lws_context_creation_info info;
	struct lws_vhost *vh;
	char host[256];

	if (listen_info(px, "--usbip-listen", cfg->usbip_listen, &info, host) < 0)
		return -1;
	protocols[0] = proxy_usbip_protocol;
	info.vhost_name = "usbip";
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG;
	info.listen_accept_role = "raw-skt";
	info.listen_accept_protocol = proxy_usbip_protocol.name;
	vh = lws_create_vhost(px->ctx, &info);
	if (!vh) {
		log_err("cannot listen for USB/IP importers on %s", cfg->usbip_listen);
		return -1;
	}
	log_info("re-exporting devices over USB/IP on %s (port %d)", cfg->usbip_listen,
		 lws_get_vhost_listen_port(vh));
	return 0;
}

static void tick(lws_sorted_usec_list_t *sul)
{
	struct proxy *px = (struct proxy *)((char *)sul - offsetof(struct proxy, tick));

	proxy_tunnel_tick(px);
	lws_sul_schedule(px->ctx, 0, &px->tick, tick, LWS_US_PER_SEC);
}

int proxy_run(const struct proxy_config *cfg, volatile sig_atomic_t *stop)
{
	struct lws_context_creation_info info;
	struct proxy px;

	memset(&px, 0, sizeof(px));
	px.cfg = cfg;
	lwslog_init(cfg->verbose);
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.pt_serv_buf_size = PROXY_RX_CHUNK + LWS_PRE;
	info.user = &px;
	px.ctx = lws_create_context(&info);
	if (!px.ctx) {
		log_err("cannot create the libwebsockets context");
		return 1;
	}
	/* the control socket answers before nodes can come */
	if (proxy_vhci_init(&px) < 0 || make_vhost_wss(&px, cfg) < 0 ||
	    (cfg->usbip_listen && make_vhost_usbip(&px, cfg) < 0)) {
		lws_context_destroy(px.ctx);
		proxy_vhci_free(&px);
		return 1;
	}
	lws_sul_schedule(px.ctx, 0, &px.tick, tick, LWS_US_PER_SEC);
	while (!*stop)
		if (lws_service(px.ctx, 0) < 0)
			break;
	log_info("stopping");
	px.stopping = 1;
	lws_sul_schedule(px.ctx, 0, &px.tick, NULL, LWS_SET_TIMER_USEC_CANCEL);
	/* closing every socket detaches every vhci port; parked tunnels go too */
	lws_context_destroy(px.ctx);
	proxy_tunnel_free_all(&px);
	proxy_vhci_free(&px);
	return 0;
}
