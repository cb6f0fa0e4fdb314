/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "usbip/usbip_validator.h"

#include <stdlib.h>
#include <string.h>

#include "base/usbws_err.h"

#define MAX_INFLIGHT_LIMIT (1u << 20)
/* A table is made at the first URB, this large (2 KiB), doubles as URBs
 * pile up, up to what max_inflight needs, and goes when usbip_validator_trim
 * finds it empty: an idle tunnel (most of a fleet's) holds none, and never
 * pays for the 4096 slots a busy one may use. */
#define FIRST_BITS 6

struct urb_slot {
	uint32_t seqnum;
	uint8_t used;
	uint8_t command;             /* USBIP_CMD_SUBMIT or USBIP_CMD_UNLINK */
	uint8_t direction;
	uint8_t ep;
	uint32_t transfer_buffer_length;
	uint32_t number_of_packets;
	uint32_t unlink_seqnum;
	uint64_t sent_ns;
};

struct usbip_validator {
	struct usbip_validator_config cfg;
	struct urb_slot *slots;      /* open addressing, linear probing */
	uint32_t mask;
	unsigned int bits;
	unsigned int max_bits;       /* what max_inflight needs at most half full */
	uint32_t inflight;           /* submits + unlinks in the table */
	uint32_t submits;
	uint32_t unlinks;
	struct usbip_flow_stats flow[2];
	struct usbip_rtt_stats rtt;
};

struct usbip_validator *usbip_validator_new(const struct usbip_validator_config *cfg)
{
	struct usbip_validator *v;
	unsigned int bits = 1;

	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	if (cfg)
		v->cfg = *cfg;
	else
		usbip_limits_default(&v->cfg.limits);
	if (v->cfg.limits.max_inflight == 0 || v->cfg.limits.max_inflight > MAX_INFLIGHT_LIMIT ||
	    v->cfg.limits.max_iso_packets > USBIP_MAX_ISO_PACKETS ||
	    v->cfg.limits.max_transfer > USBIP_MAX_TRANSFER_LIMIT)
		goto fail;
	/* Submits and unlinks each have max_inflight; keep the table at most
	 * half full with both, so probes stay short. */
	while ((1u << bits) < 4 * v->cfg.limits.max_inflight)
		bits++;
	v->max_bits = bits;
	v->bits = bits < FIRST_BITS ? bits : FIRST_BITS;
	v->mask = (1u << v->bits) - 1;
	v->rtt.min_ns = UINT64_MAX;
	return v;
fail:
	free(v);
	return NULL;
}

void usbip_validator_free(struct usbip_validator *v)
{
	if (!v)
		return;
	free(v->slots);
	free(v);
}

const struct usbip_limits *usbip_validator_limits(const struct usbip_validator *v)
{
	return &v->cfg.limits;
}

uint32_t usbip_validator_inflight(const struct usbip_validator *v)
{
	return v->inflight;
}

uint32_t usbip_validator_table_slots(const struct usbip_validator *v)
{
	return v->slots ? v->mask + 1 : 0;
}

void usbip_validator_trim(struct usbip_validator *v)
{
	if (v->inflight)
		return;
	free(v->slots);
	v->slots = NULL;
	v->bits = v->max_bits < FIRST_BITS ? v->max_bits : FIRST_BITS;
	v->mask = (1u << v->bits) - 1;
}

struct usbip_flow_stats *usbip_validator_flow(struct usbip_validator *v, enum usbip_flow flow)
{
	return &v->flow[flow == USBIP_FLOW_FROM_DEVICE];
}

const struct usbip_rtt_stats *usbip_validator_rtt(const struct usbip_validator *v)
{
	return &v->rtt;
}

static uint32_t home_slot(const struct usbip_validator *v, uint32_t seqnum)
{
	/* Fibonacci hashing: the kernel hands out consecutive seqnums, and the
	 * top bits of the product spread them over the whole table. */
	return (uint32_t)(seqnum * 0x9E3779B1u) >> (32 - v->bits);
}

static struct urb_slot *slot_find(struct usbip_validator *v, uint32_t seqnum)
{
	uint32_t i = home_slot(v, seqnum);

	if (!v->slots)
		return NULL;
	while (v->slots[i].used) {
		if (v->slots[i].seqnum == seqnum)
			return &v->slots[i];
		i = (i + 1) & v->mask;
	}
	return NULL;
}

/* Twice the slots, every entry at its new home.  Returns 0 or
 * USBWS_ERR_NOMEM (the old table stays). */
static int table_grow(struct usbip_validator *v)
{
	struct urb_slot *old = v->slots, *slots;
	uint32_t old_size = v->mask + 1, i, j;

	slots = calloc((size_t)old_size * 2, sizeof(*slots));
	if (!slots)
		return USBWS_ERR_NOMEM;
	v->slots = slots;
	v->bits++;
	v->mask = old_size * 2 - 1;
	for (i = 0; i < old_size; i++) {
		if (!old[i].used)
			continue;
		for (j = home_slot(v, old[i].seqnum); slots[j].used; j = (j + 1) & v->mask)
			;
		slots[j] = old[i];
	}
	free(old);
	return 0;
}

/* A free slot for seqnum, the table grown first when it would pass half
 * full; NULL when out of memory. */
static struct urb_slot *slot_insert(struct usbip_validator *v, uint32_t seqnum)
{
	uint32_t i;

	if (!v->slots && !(v->slots = calloc((size_t)v->mask + 1, sizeof(*v->slots))))
		return NULL;
	if (2 * (v->inflight + 1) > v->mask + 1 && v->bits < v->max_bits && table_grow(v) < 0)
		return NULL;
	i = home_slot(v, seqnum);
	while (v->slots[i].used)
		i = (i + 1) & v->mask;
	v->slots[i].used = 1;
	v->slots[i].seqnum = seqnum;
	v->inflight++;
	return &v->slots[i];
}

/* Backward-shift deletion keeps every probe chain unbroken without
 * tombstones, so the table never degrades over a long session. */
static void slot_remove(struct usbip_validator *v, struct urb_slot *slot)
{
	uint32_t hole = (uint32_t)(slot - v->slots);
	uint32_t j = hole;

	if (slot->command == USBIP_CMD_SUBMIT)
		v->submits--;
	else
		v->unlinks--;

	for (;;) {
		uint32_t home;

		j = (j + 1) & v->mask;
		if (!v->slots[j].used)
			break;
		home = home_slot(v, v->slots[j].seqnum);
		/* The entry at j may move into the hole only if its home is not
		 * cyclically inside (hole, j]. */
		if (((j - home) & v->mask) >= ((j - hole) & v->mask)) {
			v->slots[hole] = v->slots[j];
			hole = j;
		}
	}
	v->slots[hole].used = 0;
	v->inflight--;
}

static uint64_t now_ns(const struct usbip_validator *v)
{
	return v->cfg.clock_ns ? v->cfg.clock_ns(v->cfg.ctx) : 0;
}

int usbip_validator_cmd(struct usbip_validator *v, const struct usbip_header *hdr)
{
	struct usbip_flow_stats *flow = &v->flow[USBIP_FLOW_TO_DEVICE];
	struct urb_slot *slot;

	if (hdr->base.command != USBIP_CMD_SUBMIT && hdr->base.command != USBIP_CMD_UNLINK)
		return hdr->base.command == USBIP_RET_SUBMIT || hdr->base.command == USBIP_RET_UNLINK ?
		       USBWS_ERR_WRONG_WAY : USBWS_ERR_UNKNOWN_CMD;
	if (slot_find(v, hdr->base.seqnum))
		return USBWS_ERR_DUPLICATE_SEQNUM;
	/* unlinks have a budget of their own: a driver that cancels all its
	 * URBs at once must not hit the limit its submits already use */
	if ((hdr->base.command == USBIP_CMD_SUBMIT ? v->submits : v->unlinks) >= v->cfg.limits.max_inflight)
		return USBWS_ERR_INFLIGHT;

	slot = slot_insert(v, hdr->base.seqnum);
	if (!slot)
		return USBWS_ERR_NOMEM;
	slot->command = (uint8_t)hdr->base.command;
	slot->sent_ns = now_ns(v);
	if (hdr->base.command == USBIP_CMD_SUBMIT) {
		slot->direction = (uint8_t)hdr->base.direction;
		slot->ep = (uint8_t)hdr->base.ep;
		slot->transfer_buffer_length = hdr->u.cmd_submit.transfer_buffer_length;
		slot->number_of_packets = hdr->u.cmd_submit.number_of_packets;
		v->submits++;
		flow->submits++;
	} else {
		slot->unlink_seqnum = hdr->u.cmd_unlink.unlink_seqnum;
		v->unlinks++;
		flow->unlinks++;
	}
	return 0;
}

static void record_rtt(struct usbip_validator *v, const struct urb_slot *slot,
		       struct usbip_urb_match *match)
{
	uint64_t rtt;

	if (!v->cfg.clock_ns)
		return;
	rtt = now_ns(v) - slot->sent_ns;
	match->rtt_ns = rtt;
	usbip_validator_rtt_record(&v->rtt, rtt);
	if (v->cfg.on_rtt)
		v->cfg.on_rtt(v->cfg.ctx, slot->seqnum, rtt);
}

int usbip_validator_ret(struct usbip_validator *v, const struct usbip_header *hdr,
			struct usbip_urb_match *out)
{
	struct usbip_flow_stats *flow = &v->flow[USBIP_FLOW_FROM_DEVICE];
	struct usbip_urb_match match = {0};
	struct urb_slot *slot, *target;
	int rc;

	if (hdr->base.command != USBIP_RET_SUBMIT && hdr->base.command != USBIP_RET_UNLINK)
		return hdr->base.command == USBIP_CMD_SUBMIT || hdr->base.command == USBIP_CMD_UNLINK ?
		       USBWS_ERR_WRONG_WAY : USBWS_ERR_UNKNOWN_CMD;
	slot = slot_find(v, hdr->base.seqnum);
	if (!slot || slot->command != (hdr->base.command == USBIP_RET_SUBMIT ?
				       USBIP_CMD_SUBMIT : USBIP_CMD_UNLINK))
		return USBWS_ERR_UNSOLICITED;

	if (hdr->base.command == USBIP_RET_SUBMIT) {
		rc = usbip_check_ret_submit(&hdr->u.ret_submit, slot->transfer_buffer_length,
					    slot->number_of_packets);
		if (rc < 0)
			return rc;
		match.direction = slot->direction;
		match.ep = slot->ep;
		match.transfer_buffer_length = slot->transfer_buffer_length;
		match.number_of_packets = slot->number_of_packets;
		record_rtt(v, slot, &match);
		flow->submits++;
	} else {
		/* Any RET_UNLINK completes its target, whatever the status, as
		 * vhci_rx.c gives the URB back: the stub may complete a URB it
		 * was unlinking with status 0 and then send only the RET_UNLINK,
		 * so waiting for a RET_SUBMIT would leak the slot forever. */
		target = slot_find(v, slot->unlink_seqnum);
		if (target && target->command == USBIP_CMD_SUBMIT) {
			slot_remove(v, target);
			/* the removal may have shifted our own slot */
			slot = slot_find(v, hdr->base.seqnum);
		}
		flow->unlinks++;
	}
	slot_remove(v, slot);
	if (out)
		*out = match;
	return 0;
}

static unsigned int rtt_bucket(uint64_t ns)
{
	unsigned int e;

	if (ns < (1u << USBIP_RTT_SUB_BITS))
		return (unsigned int)ns;
	e = 63u - (unsigned int)__builtin_clzll(ns);
	return ((e - USBIP_RTT_SUB_BITS + 1) << USBIP_RTT_SUB_BITS) |
	       (unsigned int)((ns >> (e - USBIP_RTT_SUB_BITS)) & ((1u << USBIP_RTT_SUB_BITS) - 1));
}

static uint64_t rtt_bucket_upper(unsigned int b)
{
	unsigned int e, sub;
	uint64_t lower, width;

	if (b < (1u << USBIP_RTT_SUB_BITS))
		return b;
	e = (b >> USBIP_RTT_SUB_BITS) + USBIP_RTT_SUB_BITS - 1;
	sub = b & ((1u << USBIP_RTT_SUB_BITS) - 1);
	width = 1ull << (e - USBIP_RTT_SUB_BITS);
	lower = (1ull << e) | (uint64_t)sub * width;
	return lower + (width - 1);
}

void usbip_validator_rtt_record(struct usbip_rtt_stats *rtt, uint64_t ns)
{
	if (rtt->count == 0 || ns < rtt->min_ns)
		rtt->min_ns = ns;
	if (ns > rtt->max_ns)
		rtt->max_ns = ns;
	rtt->count++;
	rtt->sum_ns += ns;
	rtt->hist[rtt_bucket(ns)]++;
}

void usbip_validator_rtt_buckets(const struct usbip_rtt_stats *rtt, const uint64_t *bounds_ns, size_t nbounds,
				 uint64_t *counts)
{
	unsigned int b;
	size_t i = 0;

	memset(counts, 0, (nbounds + 1) * sizeof(*counts));
	for (b = 0; b < USBIP_RTT_BUCKETS; b++) {
		if (!rtt->hist[b])
			continue;
		/* the fine buckets ascend: the coarse one only moves on */
		while (i < nbounds && rtt_bucket_upper(b) > bounds_ns[i])
			i++;
		counts[i] += rtt->hist[b];
	}
}

uint64_t usbip_validator_rtt_percentile(const struct usbip_rtt_stats *rtt, double p)
{
	uint64_t rank, seen = 0, upper;
	unsigned int b;

	if (rtt->count == 0)
		return 0;
	if (p <= 0)
		return rtt->min_ns;
	rank = (uint64_t)(p / 100.0 * (double)rtt->count + 0.999999);
	if (rank < 1)
		rank = 1;
	for (b = 0; b < USBIP_RTT_BUCKETS; b++) {
		seen += rtt->hist[b];
		if (seen >= rank) {
			upper = rtt_bucket_upper(b);
			return upper < rtt->max_ns ? upper : rtt->max_ns;
		}
	}
	return rtt->max_ns;
}
