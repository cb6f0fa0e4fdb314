/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "usbip/urb_rtt.h"

static unsigned int bucket_of(uint64_t us)
{
	unsigned int b = 0;

	while (us > 1 && b < URB_RTT_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	return b;
}

void urb_rtt_seen(struct urb_rtt *r, const struct usbip_header *h, int64_t now_us)
{
	switch (h->base.command) {
	case USBIP_CMD_SUBMIT:
		r->submitted++;
		if (r->timing_since_us && now_us - r->timing_since_us < URB_RTT_STALE_US)
			return;
		r->timing_seqnum = h->base.seqnum;
		/* a clock that starts at 0 would read as "nothing timed" */
		r->timing_since_us = now_us ? now_us : 1;
		return;
	case USBIP_CMD_UNLINK:
		r->unlinks++;
		return;
	case USBIP_RET_SUBMIT:
		r->completed++;
		if (!r->timing_since_us || h->base.seqnum != r->timing_seqnum)
			return;
		r->buckets[bucket_of(now_us > r->timing_since_us ? (uint64_t)(now_us - r->timing_since_us) : 0)]++;
		r->samples++;
		r->timing_since_us = 0;
		return;
	default:
		return;
	}
}

uint64_t urb_rtt_p50_us(const struct urb_rtt *r)
{
	uint64_t seen = 0;
	unsigned int b;

	if (!r->samples)
		return 0;
	for (b = 0; b < URB_RTT_BUCKETS; b++) {
		seen += r->buckets[b];
		if (2 * seen >= r->samples)
			break;
	}
	if (b == URB_RTT_BUCKETS)
		b--;
	/* [2^b, 2^(b+1)): its geometric middle, 2^b * sqrt(2) (181/128) */
	return b == 0 ? 1 : ((uint64_t)1 << b) * 181 / 128;
}
