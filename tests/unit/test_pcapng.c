/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A USB/IP session as pcapng (common/usbip/usbip_pcapng.c): the session is
 * relayed through a framer and validator as the proxy relays it, with the
 * writer tapping it, and the capture is read back block by block, packet
 * by packet: every length, checksum and sequence number checked, and the
 * TCP payload of each direction compared with the bytes relayed. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "base/byteorder.h"
#include "base/ring.h"
#include "usbip/relay.h"
#include "usbip/usbip_pcapng.h"

#define NOW_US 1700000000123456ull
#define BIG_IN 100000u /* two frames: 65495 and the rest */
#define OUT_LEN 3000u

/* ---- the session: messages of both directions in the order they are relayed */

struct message {
	enum usbip_flow flow;
	uint8_t bytes[USBIP_HEADER_SIZE + BIG_IN + 2 * USBIP_ISO_DESC_SIZE];
	size_t len;
};

static size_t put_urb(uint8_t *p, const struct usbip_header *h)
{
	assert_int_equal(usbip_header_encode(p, USBIP_HEADER_SIZE, h), USBIP_HEADER_SIZE);
	return USBIP_HEADER_SIZE;
}

static void pattern(uint8_t *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + seed);
}

/* A message of flow: the header h, then len bytes of pattern seed, then
 * niso ISO descriptors. */
static void add(struct message *m, size_t *n, enum usbip_flow flow, struct usbip_header h, size_t len,
		unsigned int seed, const struct usbip_iso_packet_descriptor *iso, size_t niso)
{
	struct message *msg = &m[(*n)++];
	size_t i;

	msg->flow = flow;
	msg->len = put_urb(msg->bytes, &h);
	pattern(msg->bytes + msg->len, len, seed);
	msg->len += len;
	for (i = 0; i < niso; i++)
		msg->len += (size_t)usbip_iso_desc_encode(msg->bytes + msg->len, USBIP_ISO_DESC_SIZE, &iso[i]);
}

/* 0 CMD 1 IN 100000 on ep 1, 1 CMD 2 OUT 3000 on ep 2, 2 RET 1 (100000
 * bytes), 3 RET 2, 4 CMD 3 IN 512 (never answered), 5 CMD_UNLINK 4 of 3,
 * 6 RET_UNLINK 4, 7 CMD 5 ISO OUT of two packets, 8 RET 5, 9 CMD 6 IN on
 * ep 0, 10 RET 6 failed (a stall). */
static size_t make_session(struct message *m)
{
	struct usbip_iso_packet_descriptor iso[2] = { { .offset = 0, .length = 100 },
						      { .offset = 100, .length = 100 } };
	const enum usbip_flow to = USBIP_FLOW_TO_DEVICE, from = USBIP_FLOW_FROM_DEVICE;
	struct usbip_header h;
	size_t n = 0;

	add(m, &n, to, make_cmd_submit(1, USBIP_DIR_IN, 1, BIG_IN, 0), 0, 0, NULL, 0);
	add(m, &n, to, make_cmd_submit(2, USBIP_DIR_OUT, 2, OUT_LEN, 0), OUT_LEN, 2, NULL, 0);
	add(m, &n, from, make_ret_submit(1, BIG_IN, 0), BIG_IN, 1, NULL, 0);
	add(m, &n, from, make_ret_submit(2, OUT_LEN, 0), 0, 0, NULL, 0);
	add(m, &n, to, make_cmd_submit(3, USBIP_DIR_IN, 1, 512, 0), 0, 0, NULL, 0);
	add(m, &n, to, make_cmd_unlink(4, 3), 0, 0, NULL, 0);
	add(m, &n, from, make_ret_unlink(4, -104), 0, 0, NULL, 0);
	add(m, &n, to, make_cmd_submit(5, USBIP_DIR_OUT, 3, 200, 2), 200, 5, iso, 2);
	iso[0].actual_length = iso[1].actual_length = 100;
	add(m, &n, from, make_ret_submit(5, 200, 2), 0, 0, iso, 2);
	add(m, &n, to, make_cmd_submit(6, USBIP_DIR_IN, 0, 64, 0), 0, 0, NULL, 0);
	h = make_ret_submit(6, 0, 0);
	h.u.ret_submit.status = -32;
	add(m, &n, from, h, 0, 0, NULL, 0);
	return n;
}

#define SESSION_MAX 16

/* ---- relaying it, tapped */

struct tapped {
	struct usbip_pcapng w;
	struct ring out; /* the capture */
	enum usbip_flow flow;
	int on; /* the capture has started */
	int rc; /* the writer's first error */
};

static void on_event(void *ctx, const struct usbip_event *ev)
{
	struct tapped *t = ctx;
	int rc;

	if (!t->on)
		return;
	rc = usbip_pcapng_event(&t->w, t->flow, ev, NOW_US, &t->out);
	if (rc < 0 && t->rc == 0)
		t->rc = rc;
}

struct relay {
	struct usbip_validator *v;
	struct usbip_framer f[2];
	struct ring relayed[2]; /* what went on, each direction, while the capture ran */
	struct ring sink;
	struct tapped tap;
};

static void relay_open(struct relay *r, const struct usbip_pcapng_config *cfg, size_t out_limit)
{
	int i;

	memset(r, 0, sizeof(*r));
	r->v = usbip_validator_new(NULL);
	assert_non_null(r->v);
	for (i = 0; i < 2; i++) {
		usbip_framer_init(&r->f[i], (enum usbip_flow)i, r->v);
		usbip_framer_start_urb_phase(&r->f[i]);
		ring_init(&r->relayed[i], 0, 1u << 20);
	}
	ring_init(&r->sink, 0, 1u << 20);
	ring_init(&r->tap.out, 0, out_limit);
	usbip_pcapng_init(&r->tap.w, cfg);
}

static void relay_start(struct relay *r)
{
	assert_usbws_err(usbip_pcapng_start(&r->tap.w, "usbws test", "a test session", NOW_US, &r->tap.out),
			 USBWS_OK);
	r->tap.on = 1;
}

static void relay_close(struct relay *r)
{
	int i;

	usbip_pcapng_free(&r->tap.w);
	ring_free(&r->tap.out);
	ring_free(&r->sink);
	for (i = 0; i < 2; i++)
		ring_free(&r->relayed[i]);
	usbip_validator_free(r->v);
}

/* Relays bytes [from, to) of m in chunks of chunk bytes. */
static void relay_part(struct relay *r, const struct message *m, size_t from, size_t to, size_t chunk)
{
	struct relay_tap tap = { on_event, &r->tap };
	size_t pos, n;

	r->tap.flow = m->flow;
	for (pos = from; pos < to; pos += n) {
		n = to - pos < chunk ? to - pos : chunk;
		assert_usbws_err(relay_chunk_tap(&r->f[m->flow], m->bytes + pos, n,
						 r->tap.on ? &r->relayed[m->flow] : &r->sink, NULL, NULL, &tap),
				 USBWS_OK);
	}
}

/* ---- reading the capture back */

struct frame {
	enum usbip_flow flow;
	uint8_t flags;
	size_t len; /* TCP payload */
};

struct capture {
	uint8_t *bytes;
	size_t len;
	struct frame frames[64];
	size_t nframes;
	uint8_t *payload[2];
	size_t payload_len[2];
	char comment[64];
};

/* RFC 1071, written again here rather than borrowed from the writer */
static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t checksum(uint32_t sum, const uint8_t *p, size_t len)
{
	sum = sum16(sum, p, len);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* A block at p, of type, whose length is the same at both ends: its length. */
static size_t block(const uint8_t *p, size_t left, uint32_t type)
{
	size_t total;

	assert_true(left >= 12);
	assert_int_equal(get_le32(p), type);
	total = get_le32(p + 4);
	assert_true(total >= 12 && total % 4 == 0 && total <= left);
	assert_int_equal(get_le32(p + total - 4), total);
	return total;
}

/* One packet: IPv4 and TCP headers right for its direction, checksums
 * valid, sequence numbers where its direction stands, the other side's
 * acknowledged. */
static void read_packet(struct capture *c, const uint8_t *ip, size_t len, uint32_t seq[2])
{
	const uint8_t *tcp = ip + 20;
	uint8_t pseudo[12];
	enum usbip_flow flow;
	size_t payload;
	uint8_t flags;

	assert_true(len >= 40);
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(get_be16(ip + 2), len);
	assert_int_equal(ip[9], 6);
	assert_int_equal(checksum(0, ip, 20), 0);
	flow = get_be32(ip + 12) == USBIP_PCAPNG_IMPORTER_ADDR ? USBIP_FLOW_TO_DEVICE : USBIP_FLOW_FROM_DEVICE;
	assert_int_equal(get_be32(ip + 12),
			 flow == USBIP_FLOW_TO_DEVICE ? USBIP_PCAPNG_IMPORTER_ADDR : USBIP_PCAPNG_DEVICE_ADDR);
	assert_int_equal(get_be32(ip + 16),
			 flow == USBIP_FLOW_TO_DEVICE ? USBIP_PCAPNG_DEVICE_ADDR : USBIP_PCAPNG_IMPORTER_ADDR);
	assert_int_equal(get_be16(tcp),
			 flow == USBIP_FLOW_TO_DEVICE ? USBIP_PCAPNG_IMPORTER_PORT : USBIP_PCAPNG_DEVICE_PORT);
	assert_int_equal(get_be16(tcp + 2),
			 flow == USBIP_FLOW_TO_DEVICE ? USBIP_PCAPNG_DEVICE_PORT : USBIP_PCAPNG_IMPORTER_PORT);
	assert_int_equal(tcp[12] >> 4, 5);
	flags = tcp[13];
	payload = len - 40;
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 6;
	put_be16(pseudo + 10, (uint16_t)(len - 20));
	/* over the pseudo-header and the segment, its checksum included */
	assert_int_equal(checksum(sum16(sum16(0, pseudo, 12), tcp, len - 20), NULL, 0), 0);
	assert_int_equal(get_be32(tcp + 4), seq[flow]);
	if (flags != 0x02) /* all but the first SYN acknowledge the other side */
		assert_int_equal(get_be32(tcp + 8), seq[!flow]);
	seq[flow] += (uint32_t)payload + ((flags & 0x03) ? 1 : 0);
	assert_true(c->nframes < sizeof(c->frames) / sizeof(c->frames[0]));
	c->frames[c->nframes++] = (struct frame){ flow, flags, payload };
	c->payload[flow] = realloc(c->payload[flow], c->payload_len[flow] + payload + 1);
	memcpy(c->payload[flow] + c->payload_len[flow], tcp + 20, payload);
	c->payload_len[flow] += payload;
}

static void read_capture(struct ring *out, struct capture *c)
{
	uint32_t seq[2] = { 0, 0 };
	const uint8_t *p;
	size_t pos, total, caplen;

	memset(c, 0, sizeof(*c));
	c->len = ring_len(out);
	c->bytes = malloc(c->len + 1);
	ring_copy_out(out, 0, c->bytes, c->len);
	/* the section header: byte order, version 1.0, and its comment */
	total = block(c->bytes, c->len, 0x0a0d0d0a);
	assert_int_equal(get_le32(c->bytes + 8), 0x1a2b3c4d);
	assert_int_equal(get_le16(c->bytes + 12), 1);
	for (pos = 24; pos + 4 <= total - 4 && get_le16(c->bytes + pos);) {
		size_t olen = get_le16(c->bytes + pos + 2);

		if (get_le16(c->bytes + pos) == 1 && olen < sizeof(c->comment))
			memcpy(c->comment, c->bytes + pos + 4, olen);
		pos += 4 + ((olen + 3) & ~(size_t)3);
	}
	pos = total;
	/* the interface: raw IPv4, every byte kept */
	total = block(c->bytes + pos, c->len - pos, 1);
	assert_int_equal(get_le16(c->bytes + pos + 8), USBIP_PCAPNG_LINKTYPE);
	assert_int_equal(get_le32(c->bytes + pos + 12), 0);
	pos += total;
	while (pos < c->len) {
		p = c->bytes + pos;
		total = block(p, c->len - pos, 6);
		assert_int_equal(get_le32(p + 8), 0);
		assert_int_equal((uint64_t)get_le32(p + 12) << 32 | get_le32(p + 16), NOW_US);
		caplen = get_le32(p + 20);
		assert_int_equal(get_le32(p + 24), caplen);
		assert_int_equal(total, 28 + ((caplen + 3) & ~(size_t)3) + 4);
		read_packet(c, p + 28, caplen, seq);
		pos += total;
	}
}

static void capture_free(struct capture *c)
{
	free(c->bytes);
	free(c->payload[0]);
	free(c->payload[1]);
}

static int same_bytes(const struct ring *r, const uint8_t *p, size_t len)
{
	uint8_t *copy;
	int same;

	if (ring_len(r) != len)
		return 0;
	copy = malloc(len + 1);
	ring_copy_out(r, 0, copy, len);
	same = memcmp(copy, p, len) == 0;
	free(copy);
	return same;
}

static const struct usbip_pcapng_config roomy = { .backlog_max = 4u << 20, .max_tracked = 64 };

/* The whole session, any chunking: each direction's TCP payload is the
 * bytes relayed, each message starts a frame, the 100000-byte reply takes
 * two, and the file is the same whatever the chunks. */
static void test_whole_session(void **state)
{
	static const size_t chunks[] = { 1, 7, 48, 4096, 1u << 20 };
	struct message *m = calloc(SESSION_MAX, sizeof(*m));
	uint8_t *first = NULL;
	size_t n = make_session(m), i, k, first_len = 0, frame_of_big = 0;

	(void)state;
	for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		struct relay r;
		struct capture c;
		size_t data_frames = 0;

		print_message("chunks of %zu bytes\n", chunks[k]);
		relay_open(&r, &roomy, 8u << 20);
		relay_start(&r);
		for (i = 0; i < n; i++)
			relay_part(&r, &m[i], 0, m[i].len, chunks[k]);
		assert_usbws_err(r.tap.rc, USBWS_OK);
		assert_usbws_err(usbip_pcapng_finish(&r.tap.w, NOW_US, &r.tap.out), USBWS_OK);
		/* a second finish adds nothing */
		i = ring_len(&r.tap.out);
		assert_usbws_err(usbip_pcapng_finish(&r.tap.w, NOW_US, &r.tap.out), USBWS_OK);
		assert_int_equal(ring_len(&r.tap.out), i);
		read_capture(&r.tap.out, &c);
		assert_string_equal(c.comment, "a test session");
		assert_true(same_bytes(&r.relayed[0], c.payload[0], c.payload_len[0]));
		assert_true(same_bytes(&r.relayed[1], c.payload[1], c.payload_len[1]));
		assert_int_equal(r.tap.w.stats.packets, n);
		assert_int_equal(r.tap.w.stats.dropped, 0);
		assert_int_equal(r.tap.w.stats.skipped, 0);
		assert_int_equal(r.tap.w.stats.bytes, c.payload_len[0] + c.payload_len[1]);
		assert_int_equal(r.tap.w.stats.frames, c.nframes);
		/* SYN, SYN-ACK, ACK first; FIN-ACK both ways and an ACK last */
		assert_int_equal(c.frames[0].flags, 0x02);
		assert_int_equal(c.frames[1].flags, 0x12);
		assert_int_equal(c.frames[2].flags, 0x10);
		assert_int_equal(c.frames[c.nframes - 3].flags, 0x11);
		assert_int_equal(c.frames[c.nframes - 2].flags, 0x11);
		assert_int_equal(c.frames[c.nframes - 1].flags, 0x10);
		assert_int_equal(c.frames[c.nframes - 3].flow, USBIP_FLOW_TO_DEVICE);
		assert_int_equal(c.frames[c.nframes - 2].flow, USBIP_FLOW_FROM_DEVICE);
		/* one frame per message, but two for the big reply */
		for (i = 0; i < c.nframes; i++)
			if (c.frames[i].len) {
				assert_int_equal(c.frames[i].flags, 0x18);
				data_frames++;
				if (c.frames[i].len == USBIP_PCAPNG_SEGMENT_MAX)
					frame_of_big = i;
			}
		assert_int_equal(data_frames, n + 1);
		assert_int_equal(c.frames[frame_of_big + 1].len,
				 USBIP_HEADER_SIZE + BIG_IN - USBIP_PCAPNG_SEGMENT_MAX);
		if (!first) {
			first = malloc(c.len);
			memcpy(first, c.bytes, c.len);
			first_len = c.len;
		} else {
			assert_int_equal(c.len, first_len);
			assert_memory_equal(c.bytes, first, first_len);
		}
		capture_free(&c);
		relay_close(&r);
	}
	free(first);
	free(m);
}

/* A capture that starts in the middle: the message it starts inside is
 * left out, and so is each reply to a command from before it. */
static void test_starts_midway(void **state)
{
	static const struct {
		const char *name;
		size_t start_msg;  /* the message the capture starts in */
		size_t start_byte; /* ... this many bytes into it */
		uint64_t want_packets, want_skipped;
	} rows[] = {
		{ "before the first message", 0, 0, 11, 0 },
		{ "after CMD 1: RET 1 is left out", 1, 0, 9, 1 },
		{ "inside CMD 2's data: it and RET 1, RET 2 are left out", 1, 100, 7, 2 },
		{ "after both commands: both replies left out", 2, 0, 7, 2 },
		{ "inside RET 1's data: it and RET 2 are left out", 2, 70000, 7, 1 },
		{ "after CMD_UNLINK 4: RET_UNLINK 4 left out", 6, 0, 4, 1 },
	};
	struct message *m = calloc(SESSION_MAX, sizeof(*m));
	size_t n = make_session(m), i, k;

	(void)state;
	for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
		struct relay r;
		struct capture c;

		print_message("%s\n", rows[k].name);
		relay_open(&r, &roomy, 8u << 20);
		for (i = 0; i < n; i++) {
			if (i < rows[k].start_msg) {
				relay_part(&r, &m[i], 0, m[i].len, 4096);
			} else if (i == rows[k].start_msg) {
				relay_part(&r, &m[i], 0, rows[k].start_byte, 4096);
				relay_start(&r);
				relay_part(&r, &m[i], rows[k].start_byte, m[i].len, 4096);
			} else {
				relay_part(&r, &m[i], 0, m[i].len, 4096);
			}
		}
		assert_usbws_err(usbip_pcapng_finish(&r.tap.w, NOW_US, &r.tap.out), USBWS_OK);
		assert_int_equal(r.tap.w.stats.packets, rows[k].want_packets);
		assert_int_equal(r.tap.w.stats.skipped, rows[k].want_skipped);
		assert_int_equal(r.tap.w.stats.dropped, 0);
		read_capture(&r.tap.out, &c);
		/* what is recorded is whole messages, and a tail of the relayed bytes */
		assert_true(c.payload_len[0] <= ring_len(&r.relayed[0]));
		assert_true(c.payload_len[1] <= ring_len(&r.relayed[1]));
		assert_int_equal(r.tap.w.stats.bytes, c.payload_len[0] + c.payload_len[1]);
		capture_free(&c);
		relay_close(&r);
	}
	free(m);
}

/* A writer behind (out not drained): a message starting past backlog_max
 * is left out whole, its reply too, and the stream reads on unbroken. */
static void test_behind(void **state)
{
	static const struct {
		const char *name;
		size_t backlog_max;
		uint32_t max_tracked;
		uint64_t want_packets, want_dropped, want_skipped;
	} rows[] = {
		/* CMD 1, CMD 2 and RET 1 go in; RET 2 and the commands after
		 * start behind, and the replies to those are skipped */
		{ "behind after the big reply", 10000, 64, 3, 5, 3 },
		/* CMD 1 and CMD 2 go in; RET 1 and RET 2 start behind */
		{ "behind after two commands", 3000, 64, 2, 6, 3 },
		/* one command tracked at a time: CMD 1, RET 1 and CMD 3 go in;
		 * its unlink finds no room and is left out, and so ends CMD 3's
		 * wait (usbip-host answers the unlink alone): the commands
		 * after it go in again */
		{ "one command in flight at most", 4u << 20, 1, 7, 2, 2 },
	};
	struct message *m = calloc(SESSION_MAX, sizeof(*m));
	size_t n = make_session(m), i, k;

	(void)state;
	for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
		struct usbip_pcapng_config cfg = { .backlog_max = rows[k].backlog_max,
						   .max_tracked = rows[k].max_tracked };
		struct relay r;
		struct capture c;

		print_message("%s\n", rows[k].name);
		relay_open(&r, &cfg, 8u << 20);
		relay_start(&r);
		for (i = 0; i < n; i++)
			relay_part(&r, &m[i], 0, m[i].len, 4096);
		assert_usbws_err(r.tap.rc, USBWS_OK);
		assert_usbws_err(usbip_pcapng_finish(&r.tap.w, NOW_US, &r.tap.out), USBWS_OK);
		assert_int_equal(r.tap.w.stats.packets, rows[k].want_packets);
		assert_int_equal(r.tap.w.stats.dropped, rows[k].want_dropped);
		assert_int_equal(r.tap.w.stats.skipped, rows[k].want_skipped);
		/* sequence numbers run on unbroken (read_capture checks) */
		read_capture(&r.tap.out, &c);
		assert_int_equal(r.tap.w.stats.bytes, c.payload_len[0] + c.payload_len[1]);
		capture_free(&c);
		relay_close(&r);
	}
	free(m);
}

/* A header-only message of one direction, as the framer reports it. */
static void message(struct usbip_pcapng *w, enum usbip_flow flow, uint32_t command, uint32_t seqnum,
		    uint32_t unlink_seqnum, struct ring *out)
{
	struct usbip_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = USBIP_EV_URB;
	ev.u.urb.hdr.base.command = command;
	ev.u.urb.hdr.base.seqnum = seqnum;
	if (command == USBIP_CMD_UNLINK)
		ev.u.urb.hdr.u.cmd_unlink.unlink_seqnum = unlink_seqnum;
	assert_usbws_err(usbip_pcapng_event(w, flow, &ev, NOW_US, out), USBWS_OK);
	ev.type = USBIP_EV_END;
	assert_usbws_err(usbip_pcapng_event(w, flow, &ev, NOW_US, out), USBWS_OK);
}

/* Behind, an unlink is left out while its target was recorded: usbip-host
 * answers the unlink alone, so the target must stop waiting then, or a long
 * capture fills max_tracked with URBs that never answer and records
 * nothing more. */
static void test_unlink_left_out_frees_its_target(void **state)
{
	const struct usbip_pcapng_config cfg = { .backlog_max = 1u << 20, .max_tracked = 2 };
	struct usbip_pcapng w;
	struct ring out, big;
	uint32_t round, seq = 1;

	(void)state;
	ring_init(&out, 0, 64u << 20);
	ring_init(&big, 0, 4u << 20);
	/* a reader 2 MiB behind */
	{
		uint8_t *fill = calloc(1, 2u << 20);

		assert_usbws_err(ring_append(&big, fill, 2u << 20), USBWS_OK);
		free(fill);
	}
	usbip_pcapng_init(&w, &cfg);
	assert_usbws_err(usbip_pcapng_start(&w, "test", "", NOW_US, &out), USBWS_OK);
	for (round = 0; round < 8; round++, seq += 2) {
		/* the submit goes in; then the reader falls behind, and the
		 * unlink and its answer are left out */
		message(&w, USBIP_FLOW_TO_DEVICE, USBIP_CMD_SUBMIT, seq, 0, &out);
		message(&w, USBIP_FLOW_TO_DEVICE, USBIP_CMD_UNLINK, seq + 1, seq, &big);
		message(&w, USBIP_FLOW_FROM_DEVICE, USBIP_RET_UNLINK, seq + 1, 0, &big);
	}
	/* caught up: a submit and its answer still go in */
	message(&w, USBIP_FLOW_TO_DEVICE, USBIP_CMD_SUBMIT, seq, 0, &out);
	message(&w, USBIP_FLOW_FROM_DEVICE, USBIP_RET_SUBMIT, seq, 0, &out);
	assert_int_equal(w.stats.packets, 8 + 2);
	assert_int_equal(w.stats.dropped, 8);
	assert_int_equal(w.stats.skipped, 8);
	usbip_pcapng_free(&w);
	ring_free(&out);
	ring_free(&big);
}

/* max_packets: done after that many; nothing more is recorded. */
static void test_count(void **state)
{
	struct usbip_pcapng_config cfg = roomy;
	struct message *m = calloc(SESSION_MAX, sizeof(*m));
	size_t n = make_session(m), i;
	struct relay r;
	struct capture c;

	(void)state;
	cfg.max_packets = 3;
	relay_open(&r, &cfg, 8u << 20);
	relay_start(&r);
	for (i = 0; i < n; i++) {
		relay_part(&r, &m[i], 0, m[i].len, 4096);
		assert_int_equal(usbip_pcapng_done(&r.tap.w), i >= 2);
	}
	assert_usbws_err(usbip_pcapng_finish(&r.tap.w, NOW_US, &r.tap.out), USBWS_OK);
	assert_int_equal(r.tap.w.stats.packets, 3);
	read_capture(&r.tap.out, &c);
	/* CMD 1 and CMD 2 one way, RET 1 the other */
	assert_int_equal(c.payload_len[0], m[0].len + m[1].len);
	assert_int_equal(c.payload_len[1], m[2].len);
	capture_free(&c);
	relay_close(&r);
	free(m);
}

/* out's hard limit: at the start, and in the middle of a message, which
 * ends the capture (nothing more is recorded, not even its close). */
static void test_out_full(void **state)
{
	struct message *m = calloc(SESSION_MAX, sizeof(*m));
	size_t n = make_session(m), i, len;
	struct usbip_pcapng w;
	struct ring out;
	struct relay r;

	(void)state;
	usbip_pcapng_init(&w, &roomy);
	ring_init(&out, 0, 100);
	assert_usbws_err(usbip_pcapng_start(&w, "usbws test", NULL, NOW_US, &out), USBWS_ERR_NOSPACE);
	usbip_pcapng_free(&w);
	ring_free(&out);

	/* room for the headers and a few frames, not RET 1's first 65495 bytes */
	relay_open(&r, &roomy, 60000);
	relay_start(&r);
	for (i = 0; i < n; i++)
		relay_part(&r, &m[i], 0, m[i].len, 4096);
	assert_usbws_err(r.tap.rc, USBWS_ERR_NOSPACE);
	assert_int_equal(r.tap.w.stats.packets, 2);
	len = ring_len(&r.tap.out);
	assert_usbws_err(usbip_pcapng_finish(&r.tap.w, NOW_US, &r.tap.out), USBWS_OK);
	assert_int_equal(ring_len(&r.tap.out), len);
	relay_close(&r);
	free(m);
}

/* The frames a message of n bytes takes fit what frames_size says. */
static void test_frames_size(void **state)
{
	static const size_t sizes[] = { 48, 65495, 65496, BIG_IN + 48 };
	struct message *m = calloc(1, sizeof(*m));
	size_t k, before, frames;

	(void)state;
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct usbip_pcapng_config cfg = roomy;
		struct usbip_header h = make_cmd_submit(1, USBIP_DIR_OUT, 1, (uint32_t)(sizes[k] - 48), 0);
		struct relay r;

		print_message("a message of %zu bytes\n", sizes[k]);
		m->flow = USBIP_FLOW_TO_DEVICE;
		m->len = put_urb(m->bytes, &h);
		pattern(m->bytes + m->len, sizes[k] - 48, 9);
		m->len = sizes[k];
		relay_open(&r, &cfg, 8u << 20);
		relay_start(&r);
		before = ring_len(&r.tap.out);
		relay_part(&r, m, 0, m->len, 4096);
		frames = (sizes[k] + USBIP_PCAPNG_SEGMENT_MAX - 1) / USBIP_PCAPNG_SEGMENT_MAX;
		/* at most 3 bytes of padding a frame */
		assert_true(ring_len(&r.tap.out) - before <= usbip_pcapng_frames_size(sizes[k]));
		assert_true(ring_len(&r.tap.out) - before + 3 * frames >= usbip_pcapng_frames_size(sizes[k]));
		relay_close(&r);
	}
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_session), cmocka_unit_test(test_starts_midway),
		cmocka_unit_test(test_behind),        cmocka_unit_test(test_unlink_left_out_frees_its_target),
		cmocka_unit_test(test_count),         cmocka_unit_test(test_out_full),
		cmocka_unit_test(test_frames_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
