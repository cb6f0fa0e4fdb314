/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_USBDEV_H
#define USBWS_USBDEV_H
/*
 * The node's real USB devices and the kernel's usbip-host driver, all
 * through sysfs.c: reading a device as USB/IP describes it, binding it to
 * usbip-host and back, and handing the stub its socket.
 */
#include <stddef.h>

#include "usbip/usbip_proto.h"

/* usbip-host's usbip_status values (SDEV_ST_*) */
enum usbdev_stub_status {
	STUB_NOT_BOUND = 0,
	STUB_AVAILABLE = 1,
	STUB_USED = 2,
	STUB_ERROR = 3,
};

/* A string descriptor holds at most 126 characters. */
#define USBDEV_SERIAL_SIZE 127

struct usbdev {
	struct usbip_usb_device info;
	struct usbip_usb_interface ifs[USBIP_MAX_INTERFACES];
	char driver[64];             /* the device's driver, "" when none */
	char serial[USBDEV_SERIAL_SIZE]; /* its USB serial number, "" when it has none */
	int stub_status;             /* enum usbdev_stub_status */
	int is_hub;
	int on_vhci;                 /* imported into this machine by vhci_hcd */
	char vendor_name[128];       /* from usb.ids, may be "" */
	char product_name[128];
};

/* Reads /sys/bus/usb/devices/BUSID.  Returns 0, or USBWS_ERR_SYSTEM with
 * errno (ENODEV: no such device; EINVAL: not a busid). */
int usbdev_read(const char *busid, struct usbdev *d);

/* Calls fn for each USB device (interfaces skipped), in busid order.
 * Stops at fn's first non-zero return, which it returns.  Fails with
 * USBWS_ERR_SYSTEM (errno: ENOENT without USB) or USBWS_ERR_NOMEM. */
int usbdev_scan(int (*fn)(void *ctx, const struct usbdev *d), void *ctx);

/* Why this device cannot be exported, or NULL when it can. */
const char *usbdev_refusal(const struct usbdev *d);

/* "available", "exported", "bound" (to usbip-host, idle), "error",
 * "imported" (on vhci here), "hub" */
const char *usbdev_state(const struct usbdev *d);

/*
 * Binds BUSID to usbip-host as `usbip bind` does: match_busid, unbind from
 * the current driver, bind.  orig gets the driver it had ("" if none, or
 * if already bound to usbip-host).  Returns 0, or a negative enum
 * usbws_err with why filled.
 */
int usbdev_bind(const char *busid, char *orig, size_t orig_cap, char *why, size_t why_cap);

/* Gives BUSID back: unbind from usbip-host, match_busid del, and let the
 * kernel probe it again; if orig names a driver that did not take it, bind
 * to orig.  Returns 0, or a negative enum usbws_err with why filled. */
int usbdev_unbind(const char *busid, const char *orig, char *why, size_t why_cap);

/* Hands fd to the stub (usbip_sockfd); the caller then closes its copy.
 * Returns 0, or USBWS_ERR_SYSTEM with why filled. */
int usbdev_give_socket(const char *busid, int fd, char *why, size_t why_cap);

/* Reads the stub's usbip_status (enum usbdev_stub_status). */
int usbdev_stub_status(const char *busid);

#endif
