/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_PROMTEXT_H
#define USBWS_PROMTEXT_H

/*
 * Prometheus' text exposition format (version 0.0.4), written into a buf:
 * a family's HELP and TYPE lines, then its samples.  Label values are
 * escaped as the format says (backslash, double quote, newline); names are
 * the caller's constants.  No I/O.  Each function returns 0, or
 * USBWS_ERR_NOSPACE when out passed its limit (what was written of the
 * line stays: the caller drops the whole answer).
 */
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define PROMTEXT_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct promtext_label {
	const char *name;
	const char *value;
};

enum promtext_type { PROMTEXT_COUNTER, PROMTEXT_GAUGE, PROMTEXT_HISTOGRAM };

int promtext_family(struct buf *out, const char *name, enum promtext_type type, const char *help);
int promtext_sample(struct buf *out, const char *name, const struct promtext_label *labels, size_t nlabels,
		    uint64_t value);
int promtext_sample_double(struct buf *out, const char *name, const struct promtext_label *labels, size_t nlabels,
			   double value);

/* A histogram's buckets: counts[i] observations of at most bounds[i] and
 * above bounds[i - 1] (not cumulative); counts[nbounds] those above the
 * last bound.  Written as name_bucket{le=...} (cumulative, ending with
 * le="+Inf"), name_sum and name_count. */
struct promtext_histogram {
	const double *bounds;
	size_t nbounds;
	const uint64_t *counts;
	double sum;
};

int promtext_histogram(struct buf *out, const char *name, const struct promtext_label *labels, size_t nlabels,
		       const struct promtext_histogram *h);

#endif
