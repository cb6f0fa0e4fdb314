/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_NODE_H
#define USBWS_NODE_H

#include <signal.h>

#define NODE_DEFAULT_CONNECT_TIMEOUT 10
/* Mobile links: carrier NATs forget idle flows after 30 s and more, so a
 * ping every 15 s keeps them; a link silent for 45 s is dead. */
#define NODE_DEFAULT_PING_INTERVAL 15
#define NODE_DEFAULT_PING_TIMEOUT 45
#define NODE_DEFAULT_BACKOFF_MAX 30

struct node_config {
	const char *url;            /* wss://HOST[:PORT]/usbip */
	const char *cert;           /* the node's certificate, its identity */
	const char *key;
	const char *ca;             /* the CA that signs the proxy's certificate */
	const char *http_proxy;     /* http://[user:pass@]host:port, or NULL */
	const char *virtual_spec;   /* export: storage:PATH or sourcesink */
	const char *virtual_busid;  /* the busid a virtual device goes by (default 1-1) */
	const char *device;         /* or: a busid (usbip-host) or usbip-vudc.N */
	int connect_timeout;        /* seconds to a WebSocket handshake */
	int ping_interval;          /* seconds between pings; 0: none */
	int ping_timeout;           /* seconds of silence that mean the link is dead */
	int backoff_max;            /* seconds: the longest wait between attempts */
	unsigned int retries;       /* attempts in a row before giving up; 0: never */
	size_t resume_window;       /* bytes kept until the proxy acknowledges them */
	const char *user;           /* export: who parses the network, once the device's files are open */
	const char *metrics_listen; /* export: ADDR:PORT for /metrics, or NULL */
	int verbose;
};

/* The exit status of an export the proxy's policy refuses: the device is
 * not offered again until something changes (the unit does not restart
 * it, hotplug waits for a replug), as trying again would only loop. */
#define NODE_EXIT_POLICY 3

/* Exports one device until *stop, then unexports it, through as many
 * connections as it takes.  Returns 0, NODE_EXIT_POLICY, or 1 after
 * logging why. */
int node_export_run(const struct node_config *cfg, volatile sig_atomic_t *stop);

/* Asks the proxy for its listing: returns 0 with *listing, the proxy's
 * "nodes" message without its "type" (json_decref), or 1 after logging
 * why. */
struct json_t;
int node_list_remote(const struct node_config *cfg, volatile sig_atomic_t *stop, struct json_t **listing);

#endif
