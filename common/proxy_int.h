/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_PROXY_INT_H
#define USBWS_PROXY_INT_H

/* State shared by the proxy's two lws protocols. */

#include <libwebsockets.h>

#include "buf.h"
#include "ctl.h"
#include "resume.h"
#include "usbip_framer.h"
#include "vhci.h"

/* Per-direction buffering: reading from the source stops at HIGH_WATER,
 * and one more read (at most RX_CHUNK) may still land. */
#define PROXY_RX_CHUNK (64u << 10)
#define PROXY_HIGH_WATER (256u << 10)
#define PROXY_BUF_LIMIT (PROXY_HIGH_WATER + 2 * PROXY_RX_CHUNK)
/* Largest single write.  libwebsockets keeps whatever part of a write the
 * socket refuses, so a tunnel holds at most 2 x (PROXY_BUF_LIMIT +
 * PROXY_WRITE_MAX) = 1 MiB on the proxy, however slow either side is. */
#define PROXY_WRITE_MAX (128u << 10)

struct importer;
struct tunnel;

/* A node's WebSocket connection; its tunnel may move on to a newer one. */
struct conn {
	struct tunnel *t;
};

/* One exported device.  It lives on the heap, not in the connection: when
 * the connection is lost it is kept (parked, wsi NULL) for resume_seconds,
 * its vhci port and importer untouched, so the node can resume it. */
struct tunnel {
	struct tunnel *next;
	struct proxy *px;
	struct lws *wsi;                  /* NULL while parked */
	struct conn *conn;
	char session[CTL_SESSION_HEX + 1];
	struct resume_stream rs;          /* tx keeps what the node has not acknowledged */
	time_t parked_since;
	int64_t last_rx_ms, last_ping_ms;  /* monotonic_ms() */
	int ping_due;
	int peer_closed;                  /* the node closed on purpose: it is not coming back */
	int ack_due;
	uint64_t resumes;
	char node[128];                   /* certificate subject CN */
	char busid[USBIP_BUSID_SIZE];     /* as the proxy exports it */
	char node_busid[USBIP_BUSID_SIZE];/* as the node calls it */
	struct usbip_usb_device dev;
	struct usbip_usb_interface ifs[USBIP_MAX_INTERFACES];
	int hello_seen;
	int exported;
	uint16_t op_code;
	struct usbip_validator *validator;
	struct usbip_framer from_node;    /* RET_* and OP requests */
	struct usbip_framer to_node;      /* the importer's CMD_* */
	struct buf tx;                    /* binary bytes for the node, kept until acknowledged */
	char *text_queue[4];              /* JSON frames for the node */
	unsigned int ntext;
	struct buf text_in;               /* a JSON frame arriving in fragments */
	struct json_t *local_devices;     /* the node's own USB devices, from its hello */
	struct importer *imp;
	int closing;                      /* close once the queues are sent */
	char close_reason[124];
};

struct importer {
	struct proxy *px;
	struct lws *wsi;
	struct usbip_framer op;           /* OP phase */
	struct usbip_request req;
	struct buf out;                   /* bytes for the importer */
	struct tunnel *t;
	int close_when_sent;
	int rx_paused;
	int vhci_port;                    /* the vhci_hcd port behind this socket, or -1 (TCP) */
};

/* A vhci_hcd port this proxy attached, until the socket behind it closes. */
struct vhci_claim {
	unsigned int port;
	unsigned int controller;
	int superspeed;
	struct importer *imp;             /* its socket; imp->t is NULL once the tunnel is gone */
	time_t since;
};

struct proxy {
	const struct proxy_config *cfg;
	struct lws_context *ctx;
	lws_sorted_usec_list_t tick;      /* once a second: pings, acks, expiry */
	int stopping;                     /* lost connections are not kept for a resume */
	struct tunnel *tunnels;
	unsigned int next_bus;
	struct lws_vhost *local_vh;       /* adopts vhci sockets and the control socket */
	int control_listening;
	struct lws *control_wsi;          /* proxy.sock's listener, not watched while at the cap */
	unsigned int control_clients;     /* served now, at most CTLSOCK_MAX_CLIENTS */
	int vhci_on;
	struct vhci_set vhci_allowed;
	struct vhci_pin *pins;
	size_t npins;
	struct vhci_claim *claims;
	size_t nclaims;
};

struct vhci_pin {
	char node[128];                   /* certificate CN */
	struct vhci_set set;
};

extern const struct lws_protocols proxy_tunnel_protocol;
extern const struct lws_protocols proxy_usbip_protocol;

struct tunnel *proxy_find_busid(struct proxy *px, const char *busid);
/* Called by either side when the importer goes away. */
void proxy_detach_importer(struct tunnel *t);
/* Queue bytes for the node and ask for a write. */
void tunnel_kick(struct tunnel *t);
/* The once-a-second walk over tunnels (proxy_tunnel.c). */
void proxy_tunnel_tick(struct proxy *px);
void proxy_tunnel_free_all(struct proxy *px);
void importer_kick(struct importer *imp);

/* proxy_vhci.c */
/* Reads --vhci and --pin and makes the local vhost.  Returns 0 or -1. */
int proxy_vhci_init(struct proxy *px);
void proxy_vhci_free(struct proxy *px);
/* The node's export was accepted: attach it to a vhci_hcd port when vhci
 * is on.  Returns 0, or -1 after failing the tunnel (no port, ...). */
int proxy_vhci_attach(struct tunnel *t);
/* An importer socket closed: a vhci one gives its port back. */
void proxy_vhci_released(struct importer *imp);
/* Fail a tunnel with a reason for the node (proxy_tunnel.c). */
void tunnel_fail(struct tunnel *t, const char *code, const char *why);

#endif
