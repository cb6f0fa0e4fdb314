/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_DEVADDR_H
#define USBWS_DEVADDR_H
/*
 * A device's stable address on the proxy: the busid that `usbip list -r`
 * and `usbip attach -b` see, and the id `usbws attach --device` takes.  It
 * is a pure function of the node's identity and the device's own identity,
 * so it is the same across reconnects, resumptions, proxy restarts and any
 * order in which nodes come (doc/fleet.md):
 *
 *   PREFIX-HASH   PREFIX: the identity's first DEVADDR_PREFIX_MAX bytes,
 *                 each outside [A-Za-z0-9._-] written as '_' (for people);
 *                 HASH: the first 64 bits of SHA-256, in hex, over the
 *                 identity and either "serial", vendor:product and the USB
 *                 serial, or "port", vendor:product and the node's busid.
 *
 * At most 14 + 1 + 16 = 31 bytes: a USB/IP busid field holds 31 and a NUL.
 */
#include <stdint.h>

#include "usbip/usbip_proto.h"

#define DEVADDR_PREFIX_MAX 14
#define DEVADDR_HASH_HEX 16

/* What the address is made from: the serial when there is one and the
 * policy does not say otherwise, else the port the device sits on. */
struct devaddr_source {
	const char *node; /* the identity from the certificate */
	uint16_t vid, pid;
	const char *serial;     /* NULL or "": the device has none */
	const char *node_busid; /* the node's name for the device */
	int ignore_serial;      /* the policy's address=port */
};

/* Writes the address to out.  Returns 1 when the serial made it, 0 when
 * the port did, or USBWS_ERR_INVAL when a field is too long to hash (the
 * identity, serial and busid have their own bounds far below) or SHA-256
 * is unavailable. */
int devaddr_make(const struct devaddr_source *src, char out[USBIP_BUSID_SIZE]);

#endif
