/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBIP_PCAPNG_H
#define USBIP_PCAPNG_H

/*
 * A USB/IP session as a pcapng capture that Wireshark and tshark decode
 * (tshark -r FILE -d tcp.port==3240,usbip): the URB messages of both
 * directions, rebuilt from the framer's events byte for byte as
 * relay_event writes them, carried as one TCP connection over raw IPv4
 * (LINKTYPE_IPV4) between two fixed documentation addresses (RFC 5737):
 *
 *   192.0.2.1:49152  the importer's side (vhci_hcd, or a USB/IP client): CMD_*
 *   192.0.2.2:3240   the device's side (the node): RET_*
 *
 * Pure: the caller hands in events and a clock, and whole pcapng blocks are
 * appended to a ring it writes wherever it likes.
 *
 * Each message starts a frame of its own, and a frame holds one message or
 * a part of one (at most USBIP_PCAPNG_SEGMENT_MAX bytes): Wireshark's
 * dissector takes the rest of a frame as the body of a failed RET_SUBMIT.
 * A capture may start at any moment: it records from the next message on,
 * and leaves out a reply to a command it did not record (Wireshark would
 * read the reply with the wrong length, and lose its place in the stream).
 * When the caller falls behind, a message that starts while more than
 * backlog_max bytes wait in out is left out whole and counted; the TCP
 * stream stays whole, since a message begun is always finished.
 *
 * The caller zero-fills nothing: usbip_pcapng_init sets every field.
 * Fields with a leading _ are private.
 */

#include <stddef.h>
#include <stdint.h>

#include "base/ring.h"
#include "usbip/usbip_framer.h"

#define USBIP_PCAPNG_IMPORTER_ADDR 0xc0000201u /* 192.0.2.1 */
#define USBIP_PCAPNG_IMPORTER_PORT 49152
#define USBIP_PCAPNG_DEVICE_ADDR 0xc0000202u /* 192.0.2.2 */
#define USBIP_PCAPNG_DEVICE_PORT 3240
/* TCP payload of one frame: an IPv4 datagram's total length is 16 bits */
#define USBIP_PCAPNG_SEGMENT_MAX (65535u - 40u)
/* LINKTYPE_IPV4: each packet starts with its IPv4 header */
#define USBIP_PCAPNG_LINKTYPE 228

struct usbip_pcapng_stats {
	uint64_t packets; /* USB/IP messages recorded, whole */
	uint64_t frames;  /* packet blocks, the TCP handshake and close included */
	uint64_t bytes;   /* USB/IP bytes recorded */
	uint64_t dropped; /* messages left out: the caller fell behind, or too many commands in flight */
	uint64_t skipped; /* replies to commands the capture did not record */
};

struct usbip_pcapng_config {
	size_t backlog_max;   /* a message starting while out holds more is left out */
	uint64_t max_packets; /* done once this many are recorded; 0: never */
	uint32_t max_tracked; /* recorded commands awaiting their reply, at most */
};

struct usbip_pcapng_cmd {
	uint32_t seqnum;
	uint32_t unlink_seqnum; /* a CMD_UNLINK's target */
	int is_unlink;
};

struct usbip_pcapng_flow {
	uint32_t _seq; /* TCP sequence number of its next byte */
	int _state;    /* between messages, recording one, or leaving one out */
	uint8_t *_seg; /* the frame being gathered, USBIP_PCAPNG_SEGMENT_MAX bytes */
	size_t _seg_len;
};

struct usbip_pcapng {
	struct usbip_pcapng_stats stats;
	struct usbip_pcapng_config _cfg;
	struct usbip_pcapng_flow _flow[2]; /* by enum usbip_flow */
	struct usbip_pcapng_cmd *_cmds;    /* recorded commands awaiting their reply */
	uint32_t _ncmds, _cmds_cap;
	uint16_t _ip_id;
	int _started, _done, _finished;
};

void usbip_pcapng_init(struct usbip_pcapng *w, const struct usbip_pcapng_config *cfg);
/* Frees what w holds; w may be initialised again. */
void usbip_pcapng_free(struct usbip_pcapng *w);

/*
 * The section header (application and comment, UTF-8, in its options;
 * either may be NULL), the interface, and the TCP handshake, into out.
 * Returns 0 or USBWS_ERR_NOSPACE (out's limit, or memory).
 */
int usbip_pcapng_start(struct usbip_pcapng *w, const char *application, const char *comment, uint64_t now_us,
		       struct ring *out);

/*
 * One event of flow's URB phase, as relay_event relayed it (OP events add
 * nothing).  now_us: microseconds since the epoch.  Returns 0, or
 * USBWS_ERR_NOMEM (a frame's buffer) or USBWS_ERR_NOSPACE (out is full in
 * the middle of a message: the caller fell behind beyond its limit); after
 * an error w records nothing more.
 */
int usbip_pcapng_event(struct usbip_pcapng *w, enum usbip_flow flow, const struct usbip_event *ev, uint64_t now_us,
		       struct ring *out);

/* 1 once max_packets messages are recorded: events add nothing more. */
int usbip_pcapng_done(const struct usbip_pcapng *w);

/*
 * The end: what is gathered of a message cut short, then the TCP close,
 * into out.  Idempotent.  Returns 0 or USBWS_ERR_NOSPACE.
 */
int usbip_pcapng_finish(struct usbip_pcapng *w, uint64_t now_us, struct ring *out);

/* Frees the buffers that hold nothing now: an idle capture keeps none. */
void usbip_pcapng_trim(struct usbip_pcapng *w);

/* Bytes of the frames that carry a message of n bytes, for sizing out. */
size_t usbip_pcapng_frames_size(size_t n);

#endif
