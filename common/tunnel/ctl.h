/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_CTL_H
#define USBWS_CTL_H

/*
 * JSON control messages, the WebSocket text frames between node and proxy
 * (doc/protocol.md).  Building and parsing only: no I/O.  Every message is
 * an object with a string "type"; parsing checks the type and the fields
 * that type needs, and explains what is wrong.
 */

#include <stddef.h>
#include <stdint.h>

#include "usbip/usbip_proto.h"

#define USBWS_SUBPROTOCOL "usbws.v1"
#define USBWS_PATH "/usbip"
#define USBWS_CTL_VERSION 1
/* The longest control message a node sends, and the fragment size of the
 * one that may be longer, a listing */
#define USBWS_CTL_MAX 65536
/* --max-tunnels-per-node's ceiling: the devices one node's listing may hold */
#define CTL_MAX_TUNNELS_PER_NODE 4096
/* What one device object in a listing can take, with 32 interfaces and a
 * state (ctl_device_json; test_ctl checks it) */
#define CTL_DEVICE_JSON_MAX 2048
/* The longest message of all, a listing (doc/protocol.md): a node is shown
 * only its own devices, at most CTL_MAX_TUNNELS_PER_NODE of them, and the
 * envelope with the node's name fits in what is left.  An operator's
 * listing of the whole fleet is bounded by this too, which holds some
 * 12,000 devices of 700 bytes; a larger fleet is seen with usbws nodes on
 * the proxy's host. */
#define USBWS_LIST_MAX (CTL_MAX_TUNNELS_PER_NODE * CTL_DEVICE_JSON_MAX + USBWS_CTL_MAX)

enum ctl_type {
	CTL_HELLO = 1,     /* node -> proxy: role "export" (with device) or "list" */
	CTL_WELCOME,       /* proxy -> node: identity seen, busid given */
	CTL_NODES,         /* proxy -> lister: the listing */
	CTL_ERROR,         /* either way, before a close */
	CTL_RESUMED,       /* proxy -> node: the session goes on; how much of its stream the proxy has */
	CTL_ACK,           /* either way: how much of the peer's stream has arrived */
};

#define CTL_SESSION_HEX 32                 /* a session id: 128 random bits in hex */
/* A USB serial number as the node read it: a string descriptor holds at
 * most 126 UTF-16 units, which is what this many bytes of UTF-8 holds for
 * the serials devices carry (ASCII digits and letters, in practice). */
#define CTL_SERIAL_MAX 126

struct ctl_msg {
	enum ctl_type type;
	char role[16];                     /* hello: export, list or resume */
	char session[CTL_SESSION_HEX + 1]; /* hello resume; welcome (empty: not resumable) */
	uint64_t received;                 /* hello resume, resumed, ack: stream bytes held */
	/* hello export and resume, welcome with a session, resumed: how many
	 * bytes the sender keeps unacknowledged (its resume window); 0 when
	 * not given (an older peer), and then it is RESUME_MIN_WINDOW */
	uint64_t window;
	unsigned int resume_seconds;       /* welcome */
	char node[128];                    /* welcome */
	char busid[USBIP_BUSID_SIZE];      /* welcome; hello export: the node's busid */
	char code[32];                     /* error */
	char message[256];                 /* error */
	int fresh;                         /* error: the connection stays open for a hello to export afresh */
	char serial[CTL_SERIAL_MAX + 1];   /* hello export: the device's USB serial, "" when none */
	struct usbip_usb_interface ifs[USBIP_MAX_INTERFACES];  /* hello export */
	unsigned int nifs;
};

/* JSON for one device, as listings show it; NULL state omits "state". */
struct json_t;
struct json_t *ctl_device_json(const struct usbip_usb_device *dev, const struct usbip_usb_interface *ifs,
			       const char *state);

/* Each returns a malloc'd NUL-terminated string, or NULL when out of memory. */
/* serial: the device's USB serial number, or NULL/"" when it has none.
 * window: the sender's resume window, which tells the peer how often to
 * acknowledge (0: left out). */
char *ctl_hello_export(const struct usbip_usb_device *dev, const struct usbip_usb_interface *ifs,
		       const char *serial, uint64_t window);
char *ctl_hello_list(void);
/* session may be NULL: the proxy does not keep this tunnel for a resume */
char *ctl_welcome(const char *node, const char *busid, const char *session, unsigned int resume_seconds,
		  uint64_t window);
char *ctl_hello_resume(const char *session, uint64_t received, uint64_t window);
char *ctl_resumed(uint64_t received, uint64_t window);
char *ctl_ack(uint64_t received);
char *ctl_error(const char *code, const char *message);
/* As ctl_error, with "fresh": true: the sender keeps the connection open,
 * and the peer may send one hello with role export on it (doc/protocol.md:
 * a resume the proxy cannot honour costs no second handshake). */
char *ctl_error_fresh(const char *code, const char *message);

/* Parses one text message of at most USBWS_LIST_MAX bytes (each receiver
 * bounds its own buffer lower where it can).  Returns 0, or USBWS_ERR_INVAL
 * with why filled. */
int ctl_parse(const char *text, size_t len, struct ctl_msg *msg, char *why, size_t why_cap);

const char *ctl_speed_name(uint32_t speed);

#endif
