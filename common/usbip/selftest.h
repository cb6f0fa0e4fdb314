/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_SELFTEST_H
#define USBWS_SELFTEST_H

/*
 * A complete USB/IP exported-device session, built with the codec, and the
 * tools to prove the framer reads it identically however it is chunked.
 * Used by `usbws selftest` and by the unit tests.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "usbip/usbip_framer.h"

struct selftest_bytes {
	uint8_t *buf;
	size_t len;
	size_t cap;
};

void selftest_bytes_free(struct selftest_bytes *b);
int selftest_bytes_append(struct selftest_bytes *b, const void *data, size_t len);

/* Both directions of one session: export, enumeration reads, mass-storage
 * bulk traffic, the HID capture from the protocol document, an ISO IN URB,
 * a cancelled URB, and unexport. */
struct selftest_sample_session {
	struct selftest_bytes to_device;
	struct selftest_bytes from_device;
	unsigned int urbs;              /* CMD_SUBMITs in the session */
};

int selftest_sample_session_build(struct selftest_sample_session *s);
void selftest_sample_session_free(struct selftest_sample_session *s);

/* Appends a chunking-independent record of ev to log: every field of every
 * event, with DATA reduced to its bytes. */
int selftest_event_log_append(struct selftest_bytes *log, const struct usbip_event *ev);

/*
 * Frame buf with f, feeding chunks of at most `chunk` bytes (0 = all at
 * once), recording events into log.  Returns 0 when the stream ends on a
 * message boundary, else the framer's error (or USBWS_ERR_TRUNCATED).
 */
int selftest_frame_all(struct usbip_framer *f, const uint8_t *buf, size_t len, size_t chunk,
		       struct selftest_bytes *log);

/* The protocol self-check behind `usbws selftest`: returns how many checks
 * failed (0: all passed), or a negative enum usbws_err when it could not
 * run.  Writes a readable account to out. */
int selftest_run(FILE *out);

#endif
