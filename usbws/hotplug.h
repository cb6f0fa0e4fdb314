/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_HOTPLUG_H
#define USBWS_HOTPLUG_H
/*
 * `usbws connect --match VID:PID` / `--all`: a supervisor that exports
 * every matching USB device of the node, one forked node_export_run()
 * per device, for as long as the device is plugged in.  It learns of
 * plugs from udev and, because netlink drops events when its buffer
 * overflows (and a fake sysfs tree sends none), also rescans sysfs every
 * HOTPLUG_RESCAN_MS.  The matching is pure, so it is tested on its own.
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"

#define HOTPLUG_MAX_MATCHES 32
#define HOTPLUG_RESCAN_MS 2000

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

/*
 * Runs the supervisor until *stop (SIGTERM/SIGINT, see stopsig.h): each
 * matching device that usbdev_refusal() allows is exported by a child
 * running node_export_run() on a copy of *node with device set to its
 * busid.  A device that leaves has its child stopped with SIGTERM; a child
 * that fails while its device stays is restarted after a backoff (1 s,
 * doubling to 30 s); one that exits 0 was stopped on request (`usbws
 * disconnect`) and is left alone until the device is plugged in again.
 * On *stop every child gets SIGTERM, then SIGKILL after
 * HOTPLUG_STOP_GRACE_SECONDS.  Returns 0, or 1 after logging why it could
 * not start.
 */
#define HOTPLUG_STOP_GRACE_SECONDS 10
int hotplug_run(const struct node_config *node, const struct hotplug_filter *filter, volatile sig_atomic_t *stop);

#endif
