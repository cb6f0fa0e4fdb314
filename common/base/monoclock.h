/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_MONOCLOCK_H
#define USBWS_MONOCLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC: deadlines and silences that a changed
 * wall clock must not stretch or cut short. */
static inline int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Microseconds on the same clock: URB round trips on a LAN are shorter
 * than a millisecond. */
static inline int64_t monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Nanoseconds on the same clock, in the form a URB validator's clock_ns
 * takes (usbip_validator.h): each side times the round trips it sees. */
static inline uint64_t monotonic_clock_ns(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
