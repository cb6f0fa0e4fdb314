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

/*
 * The caller owns the framer (it may sit inside another struct) and starts
 * it with usbip_framer_init.  Its fields are private: they carry a leading
 * '_', and only usbip_framer.c reads or writes them.  Everyone else asks
 * through the functions below.
 */
struct usbip_framer {
	enum usbip_flow _flow;
	enum usbip_phase _phase;
	struct usbip_validator *_validator;  /* borrowed; required for the URB phase */
	const struct usbip_limits *_limits;
	struct usbip_limits _own_limits;     /* used when _validator is NULL */

	int _state;
	int _err;                            /* sticky; 0 while healthy */
	int _message_is_op;                  /* the current (or just ended) message is OP_* */
	uint64_t _offset;                    /* bytes consumed so far */
	uint64_t _item_offset;               /* where the stashed item began */
	uint64_t _message_offset;            /* where the current message began */

	/* the item being gathered: a header or fixed-size body */
	uint8_t _stash[USBIP_USB_DEVICE_SIZE];
	uint32_t _have;
	uint32_t _want;

	/* the message in progress */
	uint16_t _op_code;
	uint32_t _op_status;
	uint32_t _devices_left;
	uint32_t _interfaces_left;
	uint32_t _data_left;
	uint32_t _iso_left;
	struct usbip_iso_check _iso_check;
	enum usbip_phase _phase_after;       /* phase once this message ends */
};

/*
 * Start (or restart) f in the OP phase for one direction of a stream.  The
 * validator is borrowed: it must outlive f, and it may be shared by both
 * directions of one session.  It may be NULL for a stream that only ever
 * carries OP messages (a device listing, an import request); a URB on such
 * a stream is refused.
 */
void usbip_framer_init(struct usbip_framer *f, enum usbip_flow flow, struct usbip_validator *validator);

/* Skip the OP phase, for a stream whose import happened elsewhere (the
 * kernel's side of a socketpair sees only URBs).  Call right after init. */
void usbip_framer_start_urb_phase(struct usbip_framer *f);

/*
 * Consume bytes from buf until one event is ready.  Returns 1 with *ev
 * filled, 0 when every byte is consumed and no event is ready, or a negative
 * enum usbws_err.  *used is always set to the bytes consumed by this call.
 * Call again with the rest (possibly len 0) until it returns 0: an END may be
 * pending after the last byte.  A DATA event points into buf: it is valid
 * only as long as the caller keeps buf.  An error is sticky: every later
 * call returns it again without reading.
 */
int usbip_framer_feed(struct usbip_framer *f, const uint8_t *buf, size_t len, size_t *used,
		      struct usbip_event *ev);

/* True between messages: no error, and nothing partial is buffered. */
int usbip_framer_at_boundary(const struct usbip_framer *f);

/* The phase the stream is in now; it changes when an END is delivered. */
enum usbip_phase usbip_framer_phase(const struct usbip_framer *f);

/* True once an unexport has ended the stream (USBIP_PHASE_CLOSED). */
int usbip_framer_closed(const struct usbip_framer *f);

/* The sticky error (a negative enum usbws_err), or 0 while healthy. */
int usbip_framer_error(const struct usbip_framer *f);

/* True when the message of the last event is an OP_* message, not a URB.
 * Holds from its OP event through its END, however it is chunked. */
int usbip_framer_in_op(const struct usbip_framer *f);

/* What an importer asks for in the OP phase. */
struct usbip_request {
	uint16_t code;                   /* USBIP_OP_REQ_DEVLIST or USBIP_OP_REQ_IMPORT */
	char busid[USBIP_BUSID_SIZE];    /* for an import */
};

/*
 * Reads one importer request with f (a USBIP_FLOW_TO_DEVICE framer in the
 * OP phase).  Returns 1 when a whole request has arrived (*req filled), 0
 * when buf ran out first (*req keeps the part seen, so pass the same *req
 * again), or a negative enum usbws_err; anything but a device list or
 * import request is USBWS_ERR_PHASE, and sticks like a framing error.
 * *used is as for usbip_framer_feed.
 */
int usbip_framer_feed_request(struct usbip_framer *f, const uint8_t *buf, size_t len, size_t *used,
			      struct usbip_request *req);

/* Decode a complete OP_REP_DEVLIST held in buf, for a listing client.
 * Fills up to max devices (with interfaces) into the caller's devs; *ndevs
 * gets the count.  Returns bytes consumed or a negative enum usbws_err
 * (USBWS_ERR_TRUNCATED when buf ends before the reply does). */
int usbip_framer_decode_devlist(const uint8_t *buf, size_t len, struct usbip_exported_device *devs,
				uint32_t max, uint32_t *ndevs);

#endif
