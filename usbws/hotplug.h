/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_HOTPLUG_H
#define USBWS_HOTPLUG_H
/*
 * `usbws connect --match VID:PID` / `--all`: a supervisor that exports
 * every matching USB device of the node, one forked node_export_run()
 * per device, for as long as the device is plugged in.  It learns of
 * plugs from udev and, because netlink drops events when its buffer
 * overflows (and a fake sysfs tree sends none), also rescans sysfs every
 * HOTPLUG_RESCAN_MS.  Which devices it takes is hotplug_match.h.
 */
#include <signal.h>

#include "hotplug_match.h"
#include "node.h"

#define HOTPLUG_RESCAN_MS 2000

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
