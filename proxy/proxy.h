/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_PROXY_H
#define USBWS_PROXY_H

#include <signal.h>
#include <stddef.h>

#include "balancer.h"
#include "certid.h"

/* as the node's: a ping every 15 s keeps carrier NATs open */
#define PROXY_DEFAULT_PING_INTERVAL 15
#define PROXY_DEFAULT_PING_TIMEOUT 45
/* Per node, so that one node cannot starve the others: tunnels (live, or
 * parked for a resume), enough for a gateway with a hub full of devices;
 * vhci_hcd ports, one controller's worth (8 hs + 8 ss). */
#define PROXY_DEFAULT_MAX_TUNNELS_PER_NODE 32
#define PROXY_DEFAULT_MAX_PORTS_PER_NODE 16
/* vhci_hcd ports this proxy reads: 128 controllers of 8 + 8 */
#define PROXY_MAX_VHCI_PORTS 2048

/* Connections not yet authenticated: a fleet of 1,000 behind one carrier
 * NAT address reconnecting at once fits under both caps. */
#define PROXY_DEFAULT_UNAUTH_PER_SOURCE 1024
#define PROXY_DEFAULT_UNAUTH_START 2048
#define PROXY_DEFAULT_UNAUTH_RATE 30
#define PROXY_DEFAULT_UNAUTH_FULL 4096
#define PROXY_DEFAULT_AUTH_TIMEOUT 10
#define PROXY_DEFAULT_USBIP_MAX_CLIENTS 256
#define PROXY_DEFAULT_USBIP_MAX_PER_SOURCE 16
#define PROXY_DEFAULT_USBIP_TIMEOUT 10
#define PROXY_DEFAULT_POLICY "/etc/usbws/proxy.policy"

/* --threads: at most this many service threads */
#define PROXY_MAX_THREADS_OPTION 64

enum proxy_event_loop {
	PROXY_LOOP_LIBEV, /* libev on epoll, through lws's plugin; poll() without it */
	PROXY_LOOP_POLL,  /* lws's own poll() loop */
};

struct proxy_config {
	const char *listen;         /* HOST:PORT for WSS */
	const char *balancer_listen;        /* HOST:PORT for a balancer's plain HTTP, or NULL */
	const struct balancer_net *trusted; /* --trusted-balancer: only these may use it */
	size_t ntrusted;
	const char *cert;           /* server certificate (PEM) */
	const char *key;            /* its private key */
	const char *ca;             /* the CA that signs node certificates */
	const char *const *crls;    /* PEM CRL files of that CA, checked at TLS, reread on SIGHUP */
	size_t ncrls;
	enum certid_source identity;/* which certificate field names a node (default: the CN) */
	const char *usbip_listen;   /* HOST:PORT for the USB/IP re-export, or NULL */
	int usbip_listen_public;    /* serve it off loopback too (--usbip-listen-public) */
	const char *vhci;           /* "auto" (default, NULL), "none", or a vhci_hcd list: 0,1 */
	const char *policy;         /* the policy file (policy.h), or NULL: attach (or export) all */
	const char *const *pins;    /* NODE=LIST: that node's devices go to these vhci_hcd only */
	size_t npins;
	const char *sysfs_root;     /* NULL: /sys or $USBWS_SYSFS_ROOT */
	int ping_interval;          /* seconds between pings to a node; 0: none */
	int ping_timeout;           /* seconds of silence after which a node's link is dead */
	int resume_seconds;         /* how long a lost node's session (and vhci port) is kept */
	size_t resume_window;       /* bytes kept per tunnel until the node acknowledges them */
	unsigned int unauth_per_source;   /* pending WSS connections from one address */
	unsigned int unauth_start, unauth_rate, unauth_full;  /* random early drop, and the cap */
	int auth_timeout;                 /* seconds to complete TLS, the upgrade and the hello */
	unsigned int usbip_max_clients;   /* USB/IP importer connections at once */
	unsigned int usbip_max_per_source;  /* of those, from one address */
	int usbip_timeout;                /* seconds for an importer to send its request */
	unsigned int max_tunnels_per_node;  /* live and parked; an export past it is refused ("limit") */
	unsigned int max_ports_per_node;    /* vhci_hcd ports held at once */
	const char *user;                 /* become this user once set up, or NULL */
	enum proxy_event_loop event_loop;
	unsigned int threads; /* service threads; 0: one per online CPU */
	const char *metrics_listen; /* ADDR:PORT for /metrics, or NULL */
	int metrics_node_labels;    /* per-device series (usbws_device_*) */
	const char *capture_dir;    /* --capture: each tunnel's USB/IP as pcapng there, or NULL */
	int verbose;
};

/* Runs the proxy until *stop is set; each time *reload is set, it clears it
 * and rereads --ca, --crl and --policy.  Returns 0, or 1 after logging why it could
 * not start. */
int proxy_run(const struct proxy_config *cfg, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload);

#endif
