/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBIP_PROTO_H
#define USBIP_PROTO_H

/*
 * USB/IP wire constants and the host-order structures the codec decodes
 * into.  Nothing here is laid out like the wire: the codec reads and writes
 * every field by offset, so no packed struct ever aliases network bytes.
 */

#include <stdint.h>

#define USBIP_VERSION 0x0111

#define USBIP_OP_REQUEST 0x8000
#define USBIP_OP_REPLY 0x0000
#define USBIP_OP_IMPORT 0x03
#define USBIP_OP_DEVLIST 0x05
#define USBIP_OP_EXPORT 0x06
#define USBIP_OP_UNEXPORT 0x07

#define USBIP_OP_REQ_IMPORT (USBIP_OP_REQUEST | USBIP_OP_IMPORT)
#define USBIP_OP_REP_IMPORT (USBIP_OP_REPLY | USBIP_OP_IMPORT)
#define USBIP_OP_REQ_DEVLIST (USBIP_OP_REQUEST | USBIP_OP_DEVLIST)
#define USBIP_OP_REP_DEVLIST (USBIP_OP_REPLY | USBIP_OP_DEVLIST)
#define USBIP_OP_REQ_EXPORT (USBIP_OP_REQUEST | USBIP_OP_EXPORT)
#define USBIP_OP_REP_EXPORT (USBIP_OP_REPLY | USBIP_OP_EXPORT)
#define USBIP_OP_REQ_UNEXPORT (USBIP_OP_REQUEST | USBIP_OP_UNEXPORT)
#define USBIP_OP_REP_UNEXPORT (USBIP_OP_REPLY | USBIP_OP_UNEXPORT)

enum usbip_op_status {
	USBIP_ST_OK = 0,
	USBIP_ST_NA = 1,
	USBIP_ST_DEV_BUSY = 2,
	USBIP_ST_DEV_ERR = 3,
	USBIP_ST_NODEV = 4,
	USBIP_ST_ERROR = 5,
};

#define USBIP_CMD_SUBMIT 0x0001
#define USBIP_CMD_UNLINK 0x0002
#define USBIP_RET_SUBMIT 0x0003
#define USBIP_RET_UNLINK 0x0004

#define USBIP_DIR_OUT 0
#define USBIP_DIR_IN 1

/* number_of_packets on a non-ISO URB: the document says 0xffffffff, the
 * kernel and the document's own capture send 0.  Both mean "not ISO". */
#define USBIP_NON_ISO_PACKETS 0xffffffffu

/* the kernel's usb_device_speed */
enum usbip_speed {
	USBIP_SPEED_UNKNOWN = 0,
	USBIP_SPEED_LOW = 1,
	USBIP_SPEED_FULL = 2,
	USBIP_SPEED_HIGH = 3,
	USBIP_SPEED_WIRELESS = 4,
	USBIP_SPEED_SUPER = 5,
	USBIP_SPEED_SUPER_PLUS = 6,
};

#define USBIP_OP_COMMON_SIZE 8
#define USBIP_PATH_SIZE 256
#define USBIP_BUSID_SIZE 32
#define USBIP_USB_DEVICE_SIZE 312
#define USBIP_USB_INTERFACE_SIZE 4
#define USBIP_HEADER_SIZE 48
#define USBIP_ISO_DESC_SIZE 16
#define USBIP_DEVLIST_COUNT_SIZE 4

/* USB_MAXINTERFACES in the kernel */
#define USBIP_MAX_INTERFACES 32
/* USBIP_MAX_ISO_PACKETS in drivers/usb/usbip/usbip_common.h */
#define USBIP_MAX_ISO_PACKETS 1024

struct usbip_op_common {
	uint16_t version;
	uint16_t code;
	uint32_t status;
};

struct usbip_usb_interface {
	uint8_t b_interface_class;
	uint8_t b_interface_subclass;
	uint8_t b_interface_protocol;
};

struct usbip_usb_device {
	char path[USBIP_PATH_SIZE];
	char busid[USBIP_BUSID_SIZE];
	uint32_t busnum;
	uint32_t devnum;
	uint32_t speed;
	uint16_t id_vendor;
	uint16_t id_product;
	uint16_t bcd_device;
	uint8_t b_device_class;
	uint8_t b_device_subclass;
	uint8_t b_device_protocol;
	uint8_t b_configuration_value;
	uint8_t b_num_configurations;
	uint8_t b_num_interfaces;
};

struct usbip_header_basic {
	uint32_t command;
	uint32_t seqnum;
	uint32_t devid;
	uint32_t direction;
	uint32_t ep;
};

struct usbip_cmd_submit {
	uint32_t transfer_flags;
	uint32_t transfer_buffer_length;
	uint32_t start_frame;
	uint32_t number_of_packets;
	uint32_t interval;
	uint8_t setup[8];
};

struct usbip_ret_submit {
	int32_t status;
	uint32_t actual_length;
	uint32_t start_frame;
	uint32_t number_of_packets;
	uint32_t error_count;
};

struct usbip_cmd_unlink {
	uint32_t unlink_seqnum;
};

struct usbip_ret_unlink {
	int32_t status;
};

struct usbip_header {
	struct usbip_header_basic base;
	union {
		struct usbip_cmd_submit cmd_submit;
		struct usbip_ret_submit ret_submit;
		struct usbip_cmd_unlink cmd_unlink;
		struct usbip_ret_unlink ret_unlink;
	} u;
};

struct usbip_iso_packet_descriptor {
	uint32_t offset;
	uint32_t length;
	uint32_t actual_length;
	int32_t status;
};

#endif
