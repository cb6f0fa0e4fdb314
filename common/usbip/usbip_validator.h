/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBIP_VALIDATOR_H
#define USBIP_VALIDATOR_H

/*
 * The URB validator: the state shared by the two directions of one USB/IP
 * session.  It remembers every outstanding CMD_SUBMIT and CMD_UNLINK by
 * seqnum, so that it can
 *   - tell how much data follows a RET_SUBMIT (the direction of the command
 *     it answers decides),
 *   - refuse replies nobody asked for, duplicate seqnums, and
 *     actual_length beyond what was requested,
 *   - forget a URB that a successful RET_UNLINK cancelled.
 * It also counts URBs and round-trip times.  All memory is allocated once,
 * in usbip_validator_new(); checking a PDU never allocates.
 */

#include <stdint.h>

#include "usbip/usbip_codec.h"

/* Log-linear histogram: 8 buckets per power of two of nanoseconds, so a
 * percentile read from it is within 12.5% of the true value. */
#define USBIP_RTT_SUB_BITS 3
#define USBIP_RTT_BUCKETS (64 << USBIP_RTT_SUB_BITS)

struct usbip_rtt_stats {
	uint64_t count;
	uint64_t sum_ns;
	uint64_t min_ns;
	uint64_t max_ns;
	uint32_t hist[USBIP_RTT_BUCKETS];
};

enum usbip_flow {
	USBIP_FLOW_TO_DEVICE = 0,    /* OP requests from the importer, CMD_* */
	USBIP_FLOW_FROM_DEVICE = 1,  /* OP replies from the exporter, RET_* */
};

struct usbip_flow_stats {
	uint64_t bytes;          /* every byte framed in this direction */
	uint64_t payload_bytes;  /* transfer-buffer bytes only */
	uint64_t submits;        /* CMD_SUBMIT or RET_SUBMIT */
	uint64_t unlinks;        /* CMD_UNLINK or RET_UNLINK */
	uint64_t ops;            /* OP_* messages */
};

struct usbip_validator_config {
	struct usbip_limits limits;
	/* Monotonic clock for round-trip times; NULL records none.  Injected so
	 * the validator stays free of system calls and tests stay exact. */
	uint64_t (*clock_ns)(void *ctx);
	/* Called with every completed URB's round trip; may be NULL. */
	void (*on_rtt)(void *ctx, uint32_t seqnum, uint64_t rtt_ns);
	void *ctx;
};

/* What the validator knows of the command a RET_* answers. */
struct usbip_urb_match {
	uint32_t direction;
	uint32_t ep;
	uint32_t transfer_buffer_length;
	uint32_t number_of_packets;
	uint64_t rtt_ns;                /* 0 without a clock */
};

struct usbip_validator;

/* Returns NULL when out of memory or when cfg's limits are unusable
 * (max_inflight 0 or above 1<<20, max_transfer above
 * USBIP_MAX_TRANSFER_LIMIT).  cfg == NULL uses the defaults.  max_inflight
 * bounds outstanding CMD_SUBMITs and, separately, outstanding CMD_UNLINKs. */
struct usbip_validator *usbip_validator_new(const struct usbip_validator_config *cfg);
void usbip_validator_free(struct usbip_validator *v);

const struct usbip_limits *usbip_validator_limits(const struct usbip_validator *v);

/* A CMD_SUBMIT or CMD_UNLINK header bound for the device. */
int usbip_validator_cmd(struct usbip_validator *v, const struct usbip_header *hdr);

/* A RET_SUBMIT or RET_UNLINK header from the device.  On success fills
 * *match (may be NULL) from the command it answers. */
int usbip_validator_ret(struct usbip_validator *v, const struct usbip_header *hdr,
			struct usbip_urb_match *match);

/* Number of CMD_SUBMIT/CMD_UNLINK still waiting for their reply. */
uint32_t usbip_validator_inflight(const struct usbip_validator *v);

/* Slots in the seqnum table now: it starts small and doubles as URBs pile
 * up, up to what max_inflight needs (memory per idle tunnel). */
uint32_t usbip_validator_table_slots(const struct usbip_validator *v);
/* Frees the seqnum table when no URB is in flight; the next URB makes it
 * again.  For idle tunnels, from a timer rather than after every URB. */
void usbip_validator_trim(struct usbip_validator *v);

struct usbip_flow_stats *usbip_validator_flow(struct usbip_validator *v, enum usbip_flow flow);
const struct usbip_rtt_stats *usbip_validator_rtt(const struct usbip_validator *v);

/* The upper bound of the histogram bucket holding percentile p (0..100). */
uint64_t usbip_validator_rtt_percentile(const struct usbip_rtt_stats *rtt, double p);
void usbip_validator_rtt_record(struct usbip_rtt_stats *rtt, uint64_t ns);
/* The round trips in coarser buckets, for Prometheus: counts[i] of at
 * most bounds_ns[i] (ascending) and above the bound before, counts[nbounds]
 * above the last.  A fine bucket goes where its upper end falls, so a
 * count may sit one coarse bucket low by up to 12.5% of its value. */
void usbip_validator_rtt_buckets(const struct usbip_rtt_stats *rtt, const uint64_t *bounds_ns, size_t nbounds,
				 uint64_t *counts);

#endif
