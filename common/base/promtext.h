/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_PROMTEXT_H
#define USBWS_PROMTEXT_H

/*
 * Prometheus' text exposition format (version 0.0.4), written into a buf:
 * a family's HELP and TYPE lines, then its samples.  Label values are
 * escaped as the format says (backslash, double quote, newline); names are
 * the caller's constants.  No I/O.
 *
 * The first failure (the buf passed its limit: USBWS_ERR_NOSPACE) sticks in
 * rc and every later call does nothing, so a caller writes a whole answer
 * and looks once: a failed answer is dropped whole.
 */
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define PROMTEXT_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct promtext {
	struct buf *out;
	int rc;
};

struct promtext_label {
	const char *name;
	const char *value;
};

enum promtext_type { PROMTEXT_COUNTER, PROMTEXT_GAUGE, PROMTEXT_HISTOGRAM };

void promtext_family(struct promtext *p, const char *name, enum promtext_type type, const char *help);
void promtext_sample(struct promtext *p, const char *name, const struct promtext_label *labels, size_t nlabels,
		     uint64_t value);

/* A histogram of durations, bounds in nanoseconds (ascending), written in
 * seconds: counts[i] observations of at most bounds_ns[i] and above
 * bounds_ns[i - 1] (not cumulative); counts[nbounds] those above the last
 * bound.  Written as name_bucket{le=...} (cumulative, ending with
 * le="+Inf"), name_sum and name_count. */
struct promtext_histogram {
	const uint64_t *bounds_ns;
	size_t nbounds;
	const uint64_t *counts;
	uint64_t sum_ns;
};

void promtext_histogram(struct promtext *p, const char *name, const struct promtext_label *labels, size_t nlabels,
			const struct promtext_histogram *h);

/* The buckets usbws-proxy and usbws connect both give the families of the
 * same name: a URB's round trip, 100 us (a local control transfer) to 5 s
 * (a stalled device); a handshake, 5 ms to 10 s. */
#define PROMTEXT_URB_BOUNDS 15
#define PROMTEXT_HANDSHAKE_BOUNDS 11
extern const uint64_t promtext_urb_bounds_ns[PROMTEXT_URB_BOUNDS];
extern const uint64_t promtext_handshake_bounds_ns[PROMTEXT_HANDSHAKE_BOUNDS];

#endif
