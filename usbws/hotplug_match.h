/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_HOTPLUG_MATCH_H
#define USBWS_HOTPLUG_MATCH_H
/*
 * Which USB devices `usbws connect --match VID:PID` / `--all` exports.
 * Pure, apart from the supervisor (hotplug.h), so that it is tested on
 * its own.
 */
#include <stddef.h>
#include <stdint.h>

#define HOTPLUG_MAX_MATCHES 32

/* One --match: a vendor and product ID, both exact. */
struct hotplug_match {
	uint16_t vendor;
	uint16_t product;
};

/* Which devices the supervisor exports: all of them, or those matching
 * one of matches[0..n_matches). */
struct hotplug_filter {
	int all;
	size_t n_matches;
	struct hotplug_match matches[HOTPLUG_MAX_MATCHES];
};

/* Parses "VID:PID", one to four hex digits each, either case.  Returns 0,
 * or USBWS_ERR_INVAL with why filled by a sentence that names the bad
 * part (the caller names the option). */
int hotplug_parse_match(const char *text, struct hotplug_match *m, char *why, size_t why_cap);

/* True when a device with these IDs is one the filter asks for. */
int hotplug_matches(const struct hotplug_filter *f, uint16_t vendor, uint16_t product);

#endif
