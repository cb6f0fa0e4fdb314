/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_URB_RTT_H
#define USBWS_URB_RTT_H
/*
 * URB counts and round-trip times of one tunnel, in constant memory: a
 * CMD_SUBMIT is timed when no other is being timed, and its RET_SUBMIT
 * closes the sample into a histogram of powers of two.  Sampling one at a
 * time costs nothing per URB beyond a compare, and a median from buckets
 * is what an operator reads ("p50 about 2 ms"), not a benchmark.
 */
#include <stdint.h>

#include "usbip/usbip_framer.h"

/* Bucket b counts round trips of [2^b, 2^(b+1)) microseconds; the last
 * holds everything longer (about 35 minutes and up). */
#define URB_RTT_BUCKETS 32
/* A command not answered in this long (unlinked, or the device died)
 * stops being timed: another takes its place. */
#define URB_RTT_STALE_US (10 * 1000 * 1000)

struct urb_rtt {
	uint64_t submitted;          /* CMD_SUBMITs toward the device */
	uint64_t completed;          /* RET_SUBMITs back */
	uint64_t unlinks;            /* CMD_UNLINKs toward the device */
	uint64_t samples;
	uint64_t buckets[URB_RTT_BUCKETS];
	uint32_t timing_seqnum;
	int64_t timing_since_us;     /* 0: nothing being timed */
};

/* A URB header seen on its way to the device (CMD_*) or back (RET_*),
 * at now_us on a monotonic clock. */
void urb_rtt_seen(struct urb_rtt *r, const struct usbip_header *h, int64_t now_us);

/* The median round trip in microseconds, as the geometric middle of its
 * bucket; 0 before the first sample. */
uint64_t urb_rtt_p50_us(const struct urb_rtt *r);

#endif
