/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target for the framer and validator, differential: the same two
 * streams framed whole and in fuzzer-chosen chunks must give identical
 * events, errors and counters.
 *
 * Input: flags byte (bit 0: start in the URB phase; the rest seeds the
 * chunk sizes), a big-endian u16 length of the toward-device stream, that
 * stream, then the from-device stream.
 */
#include <string.h>

#include "base/byteorder.h"
#include "fuzz_common.h"
#include "usbip/selftest.h"
#include "base/usbws_err.h"

struct run {
	struct selftest_bytes log;
	int rc[2];
	struct usbip_flow_stats stats[2];
	uint32_t inflight;
};

/* Feeds with chunk sizes drawn from seed; seed 0 feeds everything at once. */
static int feed(struct usbip_framer *f, const uint8_t *buf, size_t len, uint32_t seed,
		struct selftest_bytes *log)
{
	struct usbip_event ev;
	size_t pos = 0, used;
	int rc = 0;

	while (pos < len || rc > 0) {
		size_t n = len - pos;
		const uint8_t *p = buf + pos;

		if (seed) {
			seed = seed * 1103515245u + 12345u;
			if (n > 1 + (seed >> 16) % 64)
				n = 1 + (seed >> 16) % 64;
		}
		pos += n;
		while ((rc = usbip_framer_feed(f, p, n, &used, &ev)) > 0) {
			FUZZ_ASSERT(used <= n);
			if (ev.type == USBIP_EV_DATA)
				FUZZ_ASSERT(ev.u.data.ptr >= buf && ev.u.data.ptr + ev.u.data.len <= buf + len);
			FUZZ_ASSERT(selftest_event_log_append(log, &ev) == 0);
			p += used;
			n -= used;
		}
		if (rc < 0)
			return rc;
		FUZZ_ASSERT(used == n);
	}
	return usbip_framer_at_boundary(f) ? 0 : USBWS_ERR_TRUNCATED;
}

static void run_streams(const uint8_t *to, size_t to_len, const uint8_t *from, size_t from_len,
			int urb_phase, uint32_t seed, struct run *r)
{
	struct usbip_validator_config cfg = {0};
	struct usbip_validator *v;
	struct usbip_framer f[2];

	usbip_limits_default(&cfg.limits);
	/* small limits so the fuzzer can reach them */
	cfg.limits.max_inflight = 16;
	cfg.limits.max_devices = 4;
	cfg.limits.max_transfer = 4096;
	cfg.limits.max_iso_packets = 32;
	v = usbip_validator_new(&cfg);
	FUZZ_ASSERT(v);
	usbip_framer_init(&f[0], USBIP_FLOW_TO_DEVICE, v);
	usbip_framer_init(&f[1], USBIP_FLOW_FROM_DEVICE, v);
	if (urb_phase) {
		usbip_framer_start_urb_phase(&f[0]);
		usbip_framer_start_urb_phase(&f[1]);
	}
	r->rc[0] = feed(&f[0], to, to_len, seed, &r->log);
	r->rc[1] = feed(&f[1], from, from_len, seed, &r->log);
	r->stats[0] = *usbip_validator_flow(v, USBIP_FLOW_TO_DEVICE);
	r->stats[1] = *usbip_validator_flow(v, USBIP_FLOW_FROM_DEVICE);
	r->inflight = usbip_validator_inflight(v);
	FUZZ_ASSERT(r->stats[0].bytes <= to_len && r->stats[1].bytes <= from_len);
	usbip_validator_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole = {0}, chunked = {0};
	size_t split;
	uint32_t seed;

	if (size < 3)
		return 0;
	split = get_be16(data + 1);
	seed = data[0] | 0x100u;
	data += 3;
	size -= 3;
	if (split > size)
		split = size;
	run_streams(data, split, data + split, size - split, seed & 1, 0, &whole);
	run_streams(data, split, data + split, size - split, seed & 1, seed, &chunked);
	FUZZ_ASSERT(whole.rc[0] == chunked.rc[0] && whole.rc[1] == chunked.rc[1]);
	FUZZ_ASSERT(whole.log.len == chunked.log.len);
	FUZZ_ASSERT(whole.log.len == 0 || memcmp(whole.log.buf, chunked.log.buf, whole.log.len) == 0);
	FUZZ_ASSERT(whole.inflight == chunked.inflight);
	/* counters match too, except bytes: a failing chunk stops early */
	FUZZ_ASSERT(whole.stats[0].submits == chunked.stats[0].submits);
	FUZZ_ASSERT(whole.stats[1].submits == chunked.stats[1].submits);
	FUZZ_ASSERT(whole.stats[0].payload_bytes == chunked.stats[0].payload_bytes);
	FUZZ_ASSERT(whole.stats[1].payload_bytes == chunked.stats[1].payload_bytes);
	if (whole.rc[0] == 0 && whole.rc[1] == 0)
		FUZZ_ASSERT(whole.stats[0].bytes == split && whole.stats[1].bytes == size - split);
	selftest_bytes_free(&whole.log);
	selftest_bytes_free(&chunked.log);
	return 0;
}
