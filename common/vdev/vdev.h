/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_VDEV_H
#define USBWS_VDEV_H

/*
 * Userspace USB devices.  A vdev answers CMD_SUBMITs synchronously: the
 * common code here handles the standard control requests from the
 * device's descriptors, and each kind (storage, sourcesink) supplies its
 * class requests and bulk endpoints through struct vdev_ops.
 */

#include <stddef.h>
#include <stdint.h>

#include "usbip/usbip_proto.h"

/* One URB to answer.  out holds OUT data (length cmd_length); in has room
 * for cmd_length bytes of IN data.  The handler sets actual and status. */
struct vdev_urb {
	uint32_t ep;              /* endpoint number, 0..15 */
	uint32_t direction;       /* USBIP_DIR_IN or USBIP_DIR_OUT */
	uint8_t setup[8];         /* control transfers only */
	uint32_t length;          /* transfer_buffer_length */
	const uint8_t *out;
	uint8_t *in;
	uint32_t actual;
	int32_t status;           /* 0, or a negative errno as the kernel reports it */
};

struct vdev;

struct vdev_ops {
	const char *kind;
	/* Class or vendor control request; return 0 when handled, or a
	 * negative errno (-EPIPE stalls).  That is the URB's status for the
	 * wire, as the kernel reports it, not an enum usbws_err. */
	int (*control)(struct vdev *d, struct vdev_urb *u);
	/* Bulk transfer on a non-zero endpoint. */
	void (*bulk)(struct vdev *d, struct vdev_urb *u);
	/* CLEAR_FEATURE(ENDPOINT_HALT) on ep_addr (with the direction bit). */
	void (*clear_halt)(struct vdev *d, uint8_t ep_addr);
	/* Back to the state after a USB reset (a new importer); may be NULL. */
	void (*reset)(struct vdev *d);
	void (*destroy)(struct vdev *d);
};

struct vdev_descriptors {
	const uint8_t *device;       /* 18 bytes */
	const uint8_t *config;       /* full configuration, wTotalLength bytes */
	const char *const *strings;  /* index 1.. ; index 0 is the language table */
	unsigned int nstrings;
};

struct vdev {
	const struct vdev_ops *ops;
	struct vdev_descriptors desc;
	struct usbip_usb_device info;
	struct usbip_usb_interface interfaces[USBIP_MAX_INTERFACES];
	uint8_t configuration;
	uint8_t halted_in;            /* bit n: IN endpoint n halted */
	uint8_t halted_out;
	void *priv;
};

/*
 * Creates a device from a spec:
 *   storage:PATH   USB mass storage (BOT, SCSI) backed by the image at PATH
 *   sourcesink     bulk IN source of a known pattern, bulk OUT sink that checks it
 * busid names it in listings.  Returns 0, or a negative enum usbws_err
 * with why filled by a sentence for the user.
 */
int vdev_open(const char *spec, const char *busid, struct vdev **out, char *why, size_t why_cap);
void vdev_close(struct vdev *d);

/* The string its device descriptor names as iSerialNumber, or NULL. */
const char *vdev_serial(const struct vdev *d);

/* A new importer gets a device as after a USB reset: unconfigured, no
 * halted endpoints, class state cleared. */
void vdev_reset(struct vdev *d);

/* Answers one URB. */
void vdev_submit(struct vdev *d, struct vdev_urb *u);

/* For backends: fill in info and interfaces from the descriptors. */
void vdev_init_common(struct vdev *d, const struct vdev_ops *ops, const struct vdev_descriptors *desc,
		      const char *busid);

/* The byte pattern sourcesink sends and expects: offset i in a transfer
 * carries i % 63, as the kernel's gadget zero does. */
static inline uint8_t vdev_pattern_byte(uint32_t i)
{
	return (uint8_t)(i % 63);
}

int vdev_storage_open(const char *path, const char *busid, struct vdev **out, char *why, size_t why_cap);
int vdev_sourcesink_open(const char *busid, struct vdev **out);

#endif
