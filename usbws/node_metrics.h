/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_NODE_METRICS_H
#define USBWS_NODE_METRICS_H

/*
 * usbws connect --metrics-listen: /metrics for one export.  The export's
 * loop runs without threads and never blocks on a scraper: it publishes a
 * copy of its counters at most twice a second (node_metrics_publish), and
 * a thread of this module serves the last copy from a libwebsockets
 * context of its own (net/metrics_http).
 */
#include <stddef.h>
#include <stdint.h>

#include "usbip/usbip_validator.h"

/* Rules are the codes USBWS_ERR_TRUNCATED (-10) to -55, as the proxy's. */
#define NODE_METRICS_RULES 56

/* What one export has counted since it started. */
struct node_metrics_view {
	struct usbip_flow_stats to_device, from_device; /* URBs */
	struct usbip_rtt_stats rtt;                     /* the device's own round trips */
	struct usbip_rtt_stats handshakes;              /* connect, TLS and the upgrade */
	uint64_t bytes_from_proxy, bytes_to_proxy;      /* the USB/IP stream over the link */
	uint64_t reconnects, resumptions, failed_attempts;
	uint64_t violations[NODE_METRICS_RULES];
	int link_up;  /* a connection to the proxy is up */
	int exported; /* the proxy confirmed the export */
};

struct node_metrics;

/* Binds spec (as root, should the port need it); 0 or a code, with why
 * filled. */
int node_metrics_start(struct node_metrics **out, const char *spec, char *why, size_t why_cap);
/* Starts answering, on a thread of its own: after root is dropped, so no
 * HTTP is ever parsed as root.  NULL is fine. */
int node_metrics_serve(struct node_metrics *m, char *why, size_t why_cap);
void node_metrics_publish(struct node_metrics *m, const struct node_metrics_view *v);
/* Stops the thread and frees m; NULL is fine. */
void node_metrics_stop(struct node_metrics *m);

#endif
