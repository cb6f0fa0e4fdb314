/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_LOCALDEV_H
#define USBWS_LOCALDEV_H

/* The node's own USB devices, read through sysfs.c (usbdev.h). */

#include <stdio.h>

struct json_t;

/* The devices as a JSON array of device objects (ctl.h) with "state",
 * "driver" and usb.ids names, in *out: an empty array without USB.  Fails
 * with USBWS_ERR_SYSTEM (errno) when sysfs cannot be read, or
 * USBWS_ERR_NOMEM. */
int localdev_json(struct json_t **out);

/* Prints the devices as JSON ({"devices": [...]}) or as a table.
 * Returns 0, or 1 after logging why sysfs could not be read. */
int localdev_list(FILE *out, int json);

#endif
