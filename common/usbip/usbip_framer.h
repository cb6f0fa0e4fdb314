/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBIP_FRAMER_H
#define USBIP_FRAMER_H

/*
 * Incremental USB/IP stream framer, one per direction of a session.
 *
 * The caller feeds bytes as they arrive, in chunks of any size, and gets
 * back events.  Every event except USBIP_EV_DATA is the same however the
 * stream is chunked; DATA events are spans of the caller's own buffer (no
 * copy), so their boundaries follow the chunks but their concatenation does
 * not.  Headers are verified before their bodies are trusted, every length
 * is bounded by the session's limits, and a RET_* is framed using the
 * validator's record of the command it answers.
 *
 * A stream starts in the OP phase (OP_REQ/OP_REP messages).  It moves to
 * the URB phase after OP_REQ_IMPORT or a successful OP_REP_EXPORT (toward
 * the device), or after a successful OP_REP_IMPORT or OP_REQ_EXPORT (from
 * the device).  In the URB phase an OP_REQ_UNEXPORT (from the device) or
 * OP_REP_UNEXPORT (toward it) ends the stream; any byte after it is an
 * error.  Errors are sticky.
 */

#include <stddef.h>
#include <stdint.h>

#include "usbip/usbip_codec.h"
#include "usbip/usbip_validator.h"

enum usbip_event_type {
	USBIP_EV_OP = 1,     /* u.op: an op_common, its body follows */
	USBIP_EV_BUSID,      /* u.busid: the body of OP_REQ_IMPORT */
	USBIP_EV_DEVICE,     /* u.device: export/unexport/import body or a devlist entry */
	USBIP_EV_INTERFACE,  /* u.interface: a devlist interface record */
	USBIP_EV_URB,        /* u.urb: a checked URB header */
	USBIP_EV_DATA,       /* u.data: a span of transfer buffer, inside the fed buffer */
	USBIP_EV_ISO,        /* u.iso: one checked ISO packet descriptor */
	USBIP_EV_END,        /* the message begun by the last OP or URB event is complete */
};

struct usbip_event {
	enum usbip_event_type type;
	uint64_t offset;     /* stream offset of the event's first byte (END: one past the message) */
	union {
		struct usbip_op_common op;
		char busid[USBIP_BUSID_SIZE];
		struct usbip_usb_device device;
		struct usbip_usb_interface interface;
		struct {
			struct usbip_header hdr;
			uint32_t data_len;          /* transfer-buffer bytes that follow */
			uint32_t iso_count;         /* descriptors after the data */
			struct usbip_urb_match match; /* RET_*: the command answered */
		} urb;
		struct {
			const uint8_t *ptr;
			size_t len;
		} data;
		struct usbip_iso_packet_descriptor iso;
	} u;
};

enum usbip_phase {
	USBIP_PHASE_OP,
	USBIP_PHASE_URB,
	USBIP_PHASE_CLOSED,
};

struct usbip_framer {
	enum usbip_flow flow;
	enum usbip_phase phase;
	struct usbip_validator *validator;   /* required for the URB phase */
	const struct usbip_limits *limits;
	struct usbip_limits own_limits;      /* used when validator is NULL */

	int state;
	int err;                             /* sticky; 0 while healthy */
	int message_is_op;                   /* the current (or just ended) message is OP_* */
	uint64_t offset;                     /* bytes consumed so far */
	uint64_t item_offset;                /* where the stashed item began */
	uint64_t message_offset;             /* where the current message began */

	/* the item being gathered: a header or fixed-size body */
	uint8_t stash[USBIP_USB_DEVICE_SIZE];
	uint32_t have;
	uint32_t want;

	/* the message in progress */
	uint16_t op_code;
	uint32_t op_status;
	uint32_t devices_left;
	uint32_t interfaces_left;
	uint32_t data_left;
	uint32_t iso_left;
	struct usbip_iso_check iso_check;
	enum usbip_phase phase_after;        /* phase once this message ends */
};

/* validator may be NULL for a stream that only ever carries OP messages
 * (a device listing); a URB on such a stream is refused. */
void usbip_framer_init(struct usbip_framer *f, enum usbip_flow flow, struct usbip_validator *validator);

/* Skip the OP phase, for a stream whose import happened elsewhere (the
 * kernel's side of a socketpair sees only URBs). */
void usbip_framer_start_urb_phase(struct usbip_framer *f);

/*
 * Consume bytes from buf until one event is ready.  Returns 1 with *ev
 * filled, 0 when every byte is consumed and no event is ready, or a negative
 * enum usbws_err.  *used is always set to the bytes consumed by this call.
 * Call again with the rest (possibly len 0) until it returns 0: an END may be
 * pending after the last byte.
 */
int usbip_framer_feed(struct usbip_framer *f, const uint8_t *buf, size_t len, size_t *used,
		      struct usbip_event *ev);

/* True between messages: nothing partial is buffered. */
int usbip_framer_at_boundary(const struct usbip_framer *f);

/* What an importer asks for in the OP phase. */
struct usbip_request {
	uint16_t code;                   /* USBIP_OP_REQ_DEVLIST or USBIP_OP_REQ_IMPORT */
	char busid[USBIP_BUSID_SIZE];    /* for an import */
};

/*
 * Reads one importer request with f (a USBIP_FLOW_TO_DEVICE framer in the
 * OP phase).  Returns 1 when a whole request has arrived (*req filled), 0
 * when buf ran out first (*req keeps the part seen), or a negative enum
 * usbws_err; anything but a device list or import request is
 * USBWS_ERR_PHASE.  *used is as for usbip_framer_feed.
 */
int usbip_request_feed(struct usbip_framer *f, const uint8_t *buf, size_t len, size_t *used,
		       struct usbip_request *req);

/* Decode a complete OP_REP_DEVLIST held in buf, for a listing client.
 * Fills up to max devices (with interfaces); *ndevs gets the count.
 * Returns bytes consumed or a negative enum usbws_err. */
int usbip_decode_devlist(const uint8_t *buf, size_t len, struct usbip_exported_device *devs,
			 uint32_t max, uint32_t *ndevs);

#endif
