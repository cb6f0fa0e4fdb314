/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBIP_CODEC_H
#define USBIP_CODEC_H

/*
 * USB/IP wire codec.  Pure functions over (buf, len): no I/O, no allocation.
 *
 * Decoders return the number of bytes consumed (> 0) or a negative
 * enum usbws_err; USBWS_ERR_TRUNCATED means the buffer ends before the
 * item does.  Encoders return the number of bytes written or
 * USBWS_ERR_NOSPACE when cap is too small; they refuse to emit anything the
 * matching decoder would reject.
 */

#include <stddef.h>
#include <stdint.h>

#include "usbip/usbip_proto.h"

struct usbip_limits {
	uint32_t max_transfer;     /* largest transfer_buffer_length / actual_length */
	uint32_t max_iso_packets;  /* at most USBIP_MAX_ISO_PACKETS */
	uint32_t max_inflight;     /* outstanding CMD_SUBMIT + CMD_UNLINK */
	uint32_t max_devices;      /* entries in one OP_REP_DEVLIST */
};

/* 16 MiB matches usbfs's default per-process transfer memory cap. */
#define USBIP_DEFAULT_MAX_TRANSFER (16u << 20)
/* A whole PDU's length must fit an int, as the codec returns it. */
#define USBIP_MAX_TRANSFER_LIMIT (0x7fffffffu - USBIP_HEADER_SIZE - USBIP_MAX_ISO_PACKETS * USBIP_ISO_DESC_SIZE)
/* Per session; each slot of the table costs 32 bytes, four per URB. */
#define USBIP_DEFAULT_MAX_INFLIGHT 1024u
#define USBIP_DEFAULT_MAX_DEVICES 4096u

void usbip_limits_default(struct usbip_limits *lim);

/* An ISO URB has a packet count other than 0 and 0xffffffff.  (The kernel
 * decides by the endpoint's type; Linux sends 0 on every non-ISO URB, so
 * the count is enough for Linux peers, see doc/protocol.md.) */
static inline int usbip_is_iso(uint32_t number_of_packets)
{
	return number_of_packets != 0 && number_of_packets != USBIP_NON_ISO_PACKETS;
}

static inline uint32_t usbip_iso_count(uint32_t number_of_packets)
{
	return usbip_is_iso(number_of_packets) ? number_of_packets : 0;
}

/* op_common: checks the version and that the code is one we know. */
int usbip_op_common_decode(const uint8_t *buf, size_t len, struct usbip_op_common *op);
int usbip_op_common_encode(uint8_t *buf, size_t cap, uint16_t code, uint32_t status);

/* busid[32] (OP_REQ_IMPORT body): must be NUL-terminated inside 32 bytes. */
int usbip_busid_decode(const uint8_t *buf, size_t len, char busid[USBIP_BUSID_SIZE]);
int usbip_busid_encode(uint8_t *buf, size_t cap, const char *busid);

/* struct usbip_usb_device, 312 bytes: strings terminated, speed known,
 * bNumInterfaces at most 32. */
int usbip_usb_device_decode(const uint8_t *buf, size_t len, struct usbip_usb_device *dev);
int usbip_usb_device_encode(uint8_t *buf, size_t cap, const struct usbip_usb_device *dev);

/* struct usbip_usb_interface, 4 bytes including one pad byte. */
int usbip_usb_interface_decode(const uint8_t *buf, size_t len, struct usbip_usb_interface *intf);
int usbip_usb_interface_encode(uint8_t *buf, size_t cap, const struct usbip_usb_interface *intf);

/* The 48-byte URB header.  Checks what the header alone can show: command,
 * direction, endpoint, transfer length and ISO count against lim. */
int usbip_header_decode(const uint8_t *buf, size_t len, const struct usbip_limits *lim,
			struct usbip_header *hdr);
int usbip_header_encode(uint8_t *buf, size_t cap, const struct usbip_header *hdr);

int usbip_iso_desc_decode(const uint8_t *buf, size_t len, struct usbip_iso_packet_descriptor *iso);
int usbip_iso_desc_encode(uint8_t *buf, size_t cap, const struct usbip_iso_packet_descriptor *iso);

/*
 * Running check of a URB's ISO descriptors.  Every packet must lie inside the
 * transfer buffer and hold no more than its length; the actual lengths must
 * add up to the URB's actual length (0 for a CMD_SUBMIT, as the kernel's stub
 * requires).  Call usbip_iso_check_next for each descriptor in order, then
 * usbip_iso_check_done.
 */
struct usbip_iso_check {
	uint32_t transfer_buffer_length;
	uint32_t expected_actual;
	uint64_t sum_actual;
};

void usbip_iso_check_init(struct usbip_iso_check *chk, uint32_t transfer_buffer_length,
			  uint32_t expected_actual);
int usbip_iso_check_next(struct usbip_iso_check *chk, const struct usbip_iso_packet_descriptor *iso);
int usbip_iso_check_done(const struct usbip_iso_check *chk);

/*
 * Bytes of transfer buffer that follow a URB header.  For a RET_SUBMIT the
 * answer depends on the direction of the CMD_SUBMIT it answers, which the
 * caller passes as cmd_direction (ignored for other commands).
 */
uint32_t usbip_urb_data_length(const struct usbip_header *hdr, uint32_t cmd_direction);
uint32_t usbip_urb_iso_count(const struct usbip_header *hdr);

/* Checks a RET_SUBMIT against the CMD_SUBMIT it answers: actual_length no
 * more than was asked for, and the same ISO packet count. */
int usbip_check_ret_submit(const struct usbip_ret_submit *ret, uint32_t cmd_transfer_length,
			   uint32_t cmd_number_of_packets);

/*
 * Whole-PDU helpers for callers that hold a complete message.
 */

/* op_common followed by a usbip_usb_device: OP_REQ_EXPORT, OP_REQ_UNEXPORT,
 * and a successful OP_REP_IMPORT. */
int usbip_encode_op_device(uint8_t *buf, size_t cap, uint16_t code, uint32_t status,
			   const struct usbip_usb_device *dev);
int usbip_encode_req_import(uint8_t *buf, size_t cap, const char *busid);

struct usbip_exported_device {
	struct usbip_usb_device udev;
	struct usbip_usb_interface interfaces[USBIP_MAX_INTERFACES];
};

/*
 * The replies of a USB/IP server, written here once for every server in
 * the project (the userspace one in vdev/, the proxy's re-export).
 */

/* OP_REP_IMPORT.  With status USBIP_ST_OK: the op_common, then dev, the
 * device now imported.  With any other status (USBIP_ST_NODEV,
 * USBIP_ST_DEV_BUSY): the op_common alone, and dev may be NULL.  Returns
 * the bytes written (at most USBIP_REP_IMPORT_MAX) or a negative enum
 * usbws_err. */
#define USBIP_REP_IMPORT_MAX (USBIP_OP_COMMON_SIZE + USBIP_USB_DEVICE_SIZE)
int usbip_encode_rep_import(uint8_t *buf, size_t cap, uint32_t status, const struct usbip_usb_device *dev);

/* OP_REP_DEVLIST in pieces, so that a list too long to hold at once can be
 * written as the peer takes it: the head (status OK and the count), then
 * for each device its record and its dev->b_num_interfaces interface
 * records, read from ifs.  Each returns the bytes written or
 * USBWS_ERR_NOSPACE (or the device encoder's refusal). */
#define USBIP_DEVLIST_HEAD_SIZE (USBIP_OP_COMMON_SIZE + USBIP_DEVLIST_COUNT_SIZE)
#define USBIP_DEVLIST_DEVICE_MAX (USBIP_USB_DEVICE_SIZE + USBIP_MAX_INTERFACES * USBIP_USB_INTERFACE_SIZE)
int usbip_encode_devlist_head(uint8_t *buf, size_t cap, uint32_t ndevs);
int usbip_encode_devlist_device(uint8_t *buf, size_t cap, const struct usbip_usb_device *dev,
				const struct usbip_usb_interface *ifs);

/* A complete OP_REP_DEVLIST with status OK, from the pieces above. */
int usbip_encode_devlist(uint8_t *buf, size_t cap, const struct usbip_exported_device *devs,
			 uint32_t ndevs);

/* Header, then data_len bytes of transfer buffer, then niso descriptors.
 * data_len and niso must agree with the header (for a RET_SUBMIT, given the
 * direction of the command it answers). */
int usbip_encode_urb(uint8_t *buf, size_t cap, const struct usbip_header *hdr, uint32_t cmd_direction,
		     const uint8_t *data, uint32_t data_len,
		     const struct usbip_iso_packet_descriptor *iso, uint32_t niso);

/* A decoded URB PDU; data and iso point into the caller's buffer. */
struct usbip_urb_view {
	struct usbip_header hdr;
	const uint8_t *data;
	uint32_t data_len;
	const uint8_t *iso;    /* niso raw 16-byte descriptors */
	uint32_t niso;
};

/*
 * Decode one complete URB PDU.  For a RET_SUBMIT, cmd is the CMD_SUBMIT it
 * answers (its direction frames the data and its length bounds
 * actual_length); pass NULL for the other commands.
 */
int usbip_decode_urb(const uint8_t *buf, size_t len, const struct usbip_limits *lim,
		     const struct usbip_header *cmd, struct usbip_urb_view *view);

#endif
