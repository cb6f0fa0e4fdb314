/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "usbip/usbip_pcapng.h"

#include <stdlib.h>
#include <string.h>

#include "base/byteorder.h"
#include "base/usbws_err.h"

/* pcapng (draft-ietf-opsawg-pcapng) */
#define BT_SHB 0x0a0d0d0au
#define BT_IDB 0x00000001u
#define BT_EPB 0x00000006u
#define BYTE_ORDER_MAGIC 0x1a2b3c4du
#define OPT_END 0
#define OPT_COMMENT 1
#define SHB_USERAPPL 4
#define IF_NAME 2
#define IF_DESCRIPTION 3
/* an enhanced packet block without its data: type, length, interface,
 * timestamp (2), captured and original length; the length again after */
#define EPB_HEAD 28
#define EPB_TAIL 4
#define IP_HEADER 20
#define TCP_HEADER 20

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_PSH 0x08
#define TCP_ACK 0x10

enum flow_state {
	BETWEEN,   /* the next event of this flow starts a message */
	RECORDING, /* a message that goes into the capture */
	LEAVING,   /* a message left out, or one the capture began inside */
};

#define INTERFACE_NAME "usbip"
#define INTERFACE_DESCRIPTION                                                                               \
	"USB/IP: 192.0.2.1:49152 is the importer's side (vhci_hcd or a USB/IP client), 192.0.2.2:3240 the " \
	"device's (the node)"

void usbip_pcapng_init(struct usbip_pcapng *w, const struct usbip_pcapng_config *cfg)
{
	memset(w, 0, sizeof(*w));
	w->_cfg = *cfg;
}

void usbip_pcapng_free(struct usbip_pcapng *w)
{
	free(w->_flow[0]._seg);
	free(w->_flow[1]._seg);
	free(w->_cmds);
	memset(w, 0, sizeof(*w));
}

void usbip_pcapng_trim(struct usbip_pcapng *w)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (!w->_flow[i]._seg_len) {
			free(w->_flow[i]._seg);
			w->_flow[i]._seg = NULL;
		}
	}
	if (!w->_ncmds) {
		free(w->_cmds);
		w->_cmds = NULL;
		w->_cmds_cap = 0;
	}
}

int usbip_pcapng_done(const struct usbip_pcapng *w)
{
	return w->_done;
}

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

size_t usbip_pcapng_frames_size(size_t n)
{
	size_t frames = n ? (n + USBIP_PCAPNG_SEGMENT_MAX - 1) / USBIP_PCAPNG_SEGMENT_MAX : 1;

	return frames * (EPB_HEAD + EPB_TAIL + IP_HEADER + TCP_HEADER + 3) + n;
}

/* An option's bytes: code, length, value padded to 4. */
static size_t option_size(const char *value)
{
	return value ? 4 + pad4(strlen(value)) : 0;
}

static uint8_t *put_option(uint8_t *p, uint16_t code, const char *value)
{
	size_t len;

	if (!value)
		return p;
	len = strlen(value);
	put_le16(p, code);
	put_le16(p + 2, (uint16_t)len);
	memcpy(p + 4, value, len);
	memset(p + 4 + len, 0, pad4(len) - len);
	return p + 4 + pad4(len);
}

/* A block of type with body bytes (already in place after its 8-byte
 * head), its length at both ends. */
static void close_block(uint8_t *p, uint32_t type, size_t total)
{
	put_le32(p, type);
	put_le32(p + 4, (uint32_t)total);
	put_le32(p + total - 4, (uint32_t)total);
}

static int put_headers(const char *application, const char *comment, struct ring *out)
{
	size_t shb, idb;
	uint8_t *p, *o;

	/* an option's length field is 16 bits */
	if ((application && strlen(application) > 0xfff0) || (comment && strlen(comment) > 0xfff0))
		return USBWS_ERR_NOSPACE;
	shb = 8 + 16 + option_size(application) + option_size(comment) + 4 + 4;
	idb = 8 + 8 + option_size(INTERFACE_NAME) + option_size(INTERFACE_DESCRIPTION) + 4 + 4;
	p = ring_reserve(out, shb + idb);
	if (!p)
		return USBWS_ERR_NOSPACE;
	put_le32(p + 8, BYTE_ORDER_MAGIC);
	put_le16(p + 12, 1); /* version 1.0 */
	put_le16(p + 14, 0);
	/* the section's length: unknown, the file grows as it is written */
	put_le32(p + 16, 0xffffffffu);
	put_le32(p + 20, 0xffffffffu);
	o = put_option(p + 24, SHB_USERAPPL, application);
	o = put_option(o, OPT_COMMENT, comment);
	put_le32(o, OPT_END);
	close_block(p, BT_SHB, shb);
	p += shb;
	put_le16(p + 8, USBIP_PCAPNG_LINKTYPE);
	put_le16(p + 10, 0);
	put_le32(p + 12, 0); /* no snapshot length: every byte is kept */
	o = put_option(p + 16, IF_NAME, INTERFACE_NAME);
	o = put_option(o, IF_DESCRIPTION, INTERFACE_DESCRIPTION);
	put_le32(o, OPT_END);
	close_block(p, BT_IDB, idb);
	ring_commit(out, shb + idb);
	return 0;
}

/* The Internet checksum's running sum over len bytes (RFC 1071); an odd
 * last byte is padded with zero. */
static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* One TCP segment of flow carrying len bytes of payload, as a packet
 * block; the flow's sequence number moves past it (and past a SYN or
 * FIN).  Returns 0 or USBWS_ERR_NOSPACE. */
static int put_frame(struct usbip_pcapng *w, enum usbip_flow flow, uint8_t flags, const uint8_t *payload,
		     size_t len, uint64_t now_us, struct ring *out)
{
	const int to_device = flow == USBIP_FLOW_TO_DEVICE;
	struct usbip_pcapng_flow *f = &w->_flow[flow], *other = &w->_flow[!flow];
	size_t packet = IP_HEADER + TCP_HEADER + len, total = EPB_HEAD + pad4(packet) + EPB_TAIL;
	uint8_t *p = ring_reserve(out, total), *ip, *tcp, pseudo[12];
	uint32_t sum;

	if (!p)
		return USBWS_ERR_NOSPACE;
	put_le32(p + 8, 0); /* the interface */
	put_le32(p + 12, (uint32_t)(now_us >> 32));
	put_le32(p + 16, (uint32_t)now_us);
	put_le32(p + 20, (uint32_t)packet);
	put_le32(p + 24, (uint32_t)packet);
	ip = p + EPB_HEAD;
	ip[0] = 0x45; /* IPv4, a 20-byte header */
	ip[1] = 0;
	put_be16(ip + 2, (uint16_t)packet);
	put_be16(ip + 4, w->_ip_id++);
	put_be16(ip + 6, 0x4000); /* don't fragment */
	ip[8] = 64;
	ip[9] = 6; /* TCP */
	put_be16(ip + 10, 0);
	put_be32(ip + 12, to_device ? USBIP_PCAPNG_IMPORTER_ADDR : USBIP_PCAPNG_DEVICE_ADDR);
	put_be32(ip + 16, to_device ? USBIP_PCAPNG_DEVICE_ADDR : USBIP_PCAPNG_IMPORTER_ADDR);
	put_be16(ip + 10, fold(sum16(0, ip, IP_HEADER)));
	tcp = ip + IP_HEADER;
	put_be16(tcp, to_device ? USBIP_PCAPNG_IMPORTER_PORT : USBIP_PCAPNG_DEVICE_PORT);
	put_be16(tcp + 2, to_device ? USBIP_PCAPNG_DEVICE_PORT : USBIP_PCAPNG_IMPORTER_PORT);
	put_be32(tcp + 4, f->_seq);
	/* everything the other side sent so far is acknowledged; a first SYN
	 * acknowledges nothing */
	put_be32(tcp + 8, flags == TCP_SYN ? 0 : other->_seq);
	tcp[12] = 5 << 4; /* a 20-byte header */
	tcp[13] = flags;
	put_be16(tcp + 14, 65535);
	put_be16(tcp + 16, 0);
	put_be16(tcp + 18, 0);
	if (len)
		memcpy(tcp + TCP_HEADER, payload, len);
	memset(tcp + TCP_HEADER + len, 0, pad4(packet) - packet);
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 6;
	put_be16(pseudo + 10, (uint16_t)(TCP_HEADER + len));
	sum = sum16(sum16(0, pseudo, sizeof(pseudo)), tcp, TCP_HEADER + len);
	put_be16(tcp + 16, fold(sum));
	close_block(p, BT_EPB, total);
	ring_commit(out, total);
	f->_seq += (uint32_t)len + ((flags & (TCP_SYN | TCP_FIN)) ? 1 : 0);
	w->stats.frames++;
	return 0;
}

int usbip_pcapng_start(struct usbip_pcapng *w, const char *application, const char *comment, uint64_t now_us,
		       struct ring *out)
{
	int rc;

	if (w->_started)
		return 0;
	rc = put_headers(application, comment, out);
	/* the importer connects to the device */
	if (rc == 0)
		rc = put_frame(w, USBIP_FLOW_TO_DEVICE, TCP_SYN, NULL, 0, now_us, out);
	if (rc == 0)
		rc = put_frame(w, USBIP_FLOW_FROM_DEVICE, TCP_SYN | TCP_ACK, NULL, 0, now_us, out);
	if (rc == 0)
		rc = put_frame(w, USBIP_FLOW_TO_DEVICE, TCP_ACK, NULL, 0, now_us, out);
	if (rc == 0)
		w->_started = 1;
	return rc;
}

/* What is gathered of flow's message goes out as one segment. */
static int flush_segment(struct usbip_pcapng *w, enum usbip_flow flow, uint64_t now_us, struct ring *out)
{
	struct usbip_pcapng_flow *f = &w->_flow[flow];
	int rc;

	if (!f->_seg_len)
		return 0;
	rc = put_frame(w, flow, TCP_PSH | TCP_ACK, f->_seg, f->_seg_len, now_us, out);
	f->_seg_len = 0;
	return rc;
}

/* Bytes of a recorded message, gathered into frames. */
static int gather(struct usbip_pcapng *w, enum usbip_flow flow, const uint8_t *p, size_t len, uint64_t now_us,
		  struct ring *out)
{
	struct usbip_pcapng_flow *f = &w->_flow[flow];
	size_t n;
	int rc;

	if (!f->_seg) {
		f->_seg = malloc(USBIP_PCAPNG_SEGMENT_MAX);
		if (!f->_seg)
			return USBWS_ERR_NOMEM;
	}
	w->stats.bytes += len;
	while (len) {
		n = USBIP_PCAPNG_SEGMENT_MAX - f->_seg_len;
		if (n > len)
			n = len;
		memcpy(f->_seg + f->_seg_len, p, n);
		f->_seg_len += n;
		p += n;
		len -= n;
		if (f->_seg_len == USBIP_PCAPNG_SEGMENT_MAX) {
			rc = flush_segment(w, flow, now_us, out);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static int find_cmd(const struct usbip_pcapng *w, uint32_t seqnum)
{
	uint32_t i;

	for (i = 0; i < w->_ncmds; i++)
		if (w->_cmds[i].seqnum == seqnum)
			return (int)i;
	return -1;
}

static void forget_cmd(struct usbip_pcapng *w, int i)
{
	if (i >= 0)
		w->_cmds[i] = w->_cmds[--w->_ncmds];
}

/* A recorded command awaits its reply.  Returns 0, or -1 when there is no
 * room (max_tracked, or memory). */
static int remember_cmd(struct usbip_pcapng *w, const struct usbip_header *hdr)
{
	struct usbip_pcapng_cmd *more;
	uint32_t cap;

	if (w->_ncmds == w->_cfg.max_tracked)
		return -1;
	if (w->_ncmds == w->_cmds_cap) {
		cap = w->_cmds_cap ? w->_cmds_cap * 2 : 16;
		if (cap > w->_cfg.max_tracked)
			cap = w->_cfg.max_tracked;
		more = realloc(w->_cmds, cap * sizeof(*more));
		if (!more)
			return -1;
		w->_cmds = more;
		w->_cmds_cap = cap;
	}
	w->_cmds[w->_ncmds++] = (struct usbip_pcapng_cmd){
		.seqnum = hdr->base.seqnum,
		.is_unlink = hdr->base.command == USBIP_CMD_UNLINK,
		.unlink_seqnum = hdr->base.command == USBIP_CMD_UNLINK ? hdr->u.cmd_unlink.unlink_seqnum : 0,
	};
	return 0;
}

/* Whether the message hdr starts goes into the capture. */
static enum flow_state begin_message(struct usbip_pcapng *w, enum usbip_flow flow, const struct usbip_header *hdr,
				     const struct ring *out)
{
	int behind = ring_len(out) > w->_cfg.backlog_max, i;

	if (w->_done)
		return LEAVING;
	if (flow == USBIP_FLOW_TO_DEVICE) {
		if (behind || remember_cmd(w, hdr) < 0) {
			/* a left-out unlink's answer is left out too, so it must
			 * end its target's wait here: no RET_SUBMIT of an
			 * unlinked URB may ever come to end it */
			if (hdr->base.command == USBIP_CMD_UNLINK)
				forget_cmd(w, find_cmd(w, hdr->u.cmd_unlink.unlink_seqnum));
			w->stats.dropped++;
			return LEAVING;
		}
		return RECORDING;
	}
	i = find_cmd(w, hdr->base.seqnum);
	if (i < 0) {
		w->stats.skipped++;
		return LEAVING;
	}
	/* a RET_UNLINK completes its target too, as the validator has it:
	 * no RET_SUBMIT of that seqnum follows */
	if (w->_cmds[i].is_unlink && hdr->base.command == USBIP_RET_UNLINK) {
		uint32_t target = w->_cmds[i].unlink_seqnum;

		forget_cmd(w, i);
		forget_cmd(w, find_cmd(w, target));
	} else {
		forget_cmd(w, i);
	}
	if (behind) {
		w->stats.dropped++;
		return LEAVING;
	}
	return RECORDING;
}

int usbip_pcapng_event(struct usbip_pcapng *w, enum usbip_flow flow, const struct usbip_event *ev, uint64_t now_us,
		       struct ring *out)
{
	struct usbip_pcapng_flow *f = &w->_flow[flow];
	uint8_t bytes[USBIP_HEADER_SIZE];
	int rc = 0;

	if (!w->_started || w->_finished)
		return 0;
	switch (ev->type) {
	case USBIP_EV_URB:
		f->_state = begin_message(w, flow, &ev->u.urb.hdr, out);
		if (f->_state != RECORDING)
			return 0;
		usbip_header_encode(bytes, sizeof(bytes), &ev->u.urb.hdr);
		rc = gather(w, flow, bytes, USBIP_HEADER_SIZE, now_us, out);
		break;
	case USBIP_EV_DATA:
		if (f->_state == RECORDING)
			rc = gather(w, flow, ev->u.data.ptr, ev->u.data.len, now_us, out);
		break;
	case USBIP_EV_ISO:
		if (f->_state != RECORDING)
			return 0;
		usbip_iso_desc_encode(bytes, USBIP_ISO_DESC_SIZE, &ev->u.iso);
		rc = gather(w, flow, bytes, USBIP_ISO_DESC_SIZE, now_us, out);
		break;
	case USBIP_EV_END:
		if (f->_state == RECORDING) {
			rc = flush_segment(w, flow, now_us, out);
			w->stats.packets++;
			if (w->_cfg.max_packets && w->stats.packets >= w->_cfg.max_packets)
				w->_done = 1;
		}
		f->_state = BETWEEN;
		break;
	default: return 0;
	}
	if (rc < 0) {
		/* a message cut short has no end: nothing more goes in */
		w->_finished = 1;
		f->_seg_len = 0;
	}
	return rc;
}

int usbip_pcapng_finish(struct usbip_pcapng *w, uint64_t now_us, struct ring *out)
{
	int rc;

	if (!w->_started || w->_finished)
		return 0;
	w->_finished = 1;
	rc = flush_segment(w, USBIP_FLOW_TO_DEVICE, now_us, out);
	if (rc == 0)
		rc = flush_segment(w, USBIP_FLOW_FROM_DEVICE, now_us, out);
	if (rc == 0)
		rc = put_frame(w, USBIP_FLOW_TO_DEVICE, TCP_FIN | TCP_ACK, NULL, 0, now_us, out);
	if (rc == 0)
		rc = put_frame(w, USBIP_FLOW_FROM_DEVICE, TCP_FIN | TCP_ACK, NULL, 0, now_us, out);
	if (rc == 0)
		rc = put_frame(w, USBIP_FLOW_TO_DEVICE, TCP_ACK, NULL, 0, now_us, out);
	return rc;
}
