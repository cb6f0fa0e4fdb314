/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "usbip/usbip_codec.h"

#include <string.h>

#include "base/byteorder.h"
#include "base/usbws_err.h"

void usbip_limits_default(struct usbip_limits *lim)
{
	lim->max_transfer = USBIP_DEFAULT_MAX_TRANSFER;
	lim->max_iso_packets = USBIP_MAX_ISO_PACKETS;
	lim->max_inflight = USBIP_DEFAULT_MAX_INFLIGHT;
	lim->max_devices = USBIP_DEFAULT_MAX_DEVICES;
}

static int op_code_known(uint16_t code)
{
	switch (code) {
	case USBIP_OP_REQ_IMPORT: case USBIP_OP_REP_IMPORT:
	case USBIP_OP_REQ_DEVLIST: case USBIP_OP_REP_DEVLIST:
	case USBIP_OP_REQ_EXPORT: case USBIP_OP_REP_EXPORT:
	case USBIP_OP_REQ_UNEXPORT: case USBIP_OP_REP_UNEXPORT:
		return 1;
	}
	return 0;
}

int usbip_op_common_decode(const uint8_t *buf, size_t len, struct usbip_op_common *op)
{
	if (len < USBIP_OP_COMMON_SIZE)
		return USBWS_ERR_TRUNCATED;
	op->version = get_be16(buf);
	op->code = get_be16(buf + 2);
	op->status = get_be32(buf + 4);
	if (op->version != USBIP_VERSION)
		return USBWS_ERR_VERSION;
	if (!op_code_known(op->code))
		return USBWS_ERR_UNKNOWN_OP;
	return USBIP_OP_COMMON_SIZE;
}

int usbip_op_common_encode(uint8_t *buf, size_t cap, uint16_t code, uint32_t status)
{
	if (!op_code_known(code))
		return USBWS_ERR_UNKNOWN_OP;
	if (cap < USBIP_OP_COMMON_SIZE)
		return USBWS_ERR_NOSPACE;
	put_be16(buf, USBIP_VERSION);
	put_be16(buf + 2, code);
	put_be32(buf + 4, status);
	return USBIP_OP_COMMON_SIZE;
}

/* Copies a fixed-size wire string, which must carry its NUL inside size. */
/* Paths and busids name sysfs entries: a control character in one is a
 * peer trying to forge log lines or drive a terminal (usbip list -r prints
 * them as they are), never a real device. */
static int string_decode(const uint8_t *src, size_t size, char *dst)
{
	const uint8_t *end = memchr(src, 0, size);

	if (!end)
		return USBWS_ERR_STRING;
	for (const uint8_t *p = src; p < end; p++)
		if (*p < 0x20 || *p == 0x7f)
			return USBWS_ERR_STRING_CONTROL;
	memcpy(dst, src, size);
	return 0;
}

/* Writes str NUL-padded to size; refuses a string that would not fit with
 * its terminator, since the peer's decoder would reject it. */
static int string_encode(uint8_t *dst, size_t size, const char *str)
{
	size_t n = strnlen(str, size);

	if (n >= size)
		return USBWS_ERR_STRING;
	memcpy(dst, str, n);
	memset(dst + n, 0, size - n);
	return 0;
}

int usbip_busid_decode(const uint8_t *buf, size_t len, char busid[USBIP_BUSID_SIZE])
{
	int rc;

	if (len < USBIP_BUSID_SIZE)
		return USBWS_ERR_TRUNCATED;
	rc = string_decode(buf, USBIP_BUSID_SIZE, busid);
	return rc < 0 ? rc : USBIP_BUSID_SIZE;
}

int usbip_busid_encode(uint8_t *buf, size_t cap, const char *busid)
{
	int rc;

	if (cap < USBIP_BUSID_SIZE)
		return USBWS_ERR_NOSPACE;
	rc = string_encode(buf, USBIP_BUSID_SIZE, busid);
	return rc < 0 ? rc : USBIP_BUSID_SIZE;
}

/* Offsets inside the 312-byte struct usbip_usb_device.  The protocol
 * document is off by one from bcdDevice on; these follow the packed struct
 * the kernel tools actually send. */
enum {
	UDEV_PATH = 0,
	UDEV_BUSID = 256,
	UDEV_BUSNUM = 288,
	UDEV_DEVNUM = 292,
	UDEV_SPEED = 296,
	UDEV_ID_VENDOR = 300,
	UDEV_ID_PRODUCT = 302,
	UDEV_BCD_DEVICE = 304,
	UDEV_CLASS = 306,
	UDEV_SUBCLASS = 307,
	UDEV_PROTOCOL = 308,
	UDEV_CONFIG_VALUE = 309,
	UDEV_NUM_CONFIGS = 310,
	UDEV_NUM_INTERFACES = 311,
};

static int usb_device_check(const struct usbip_usb_device *dev)
{
	if (dev->speed > USBIP_SPEED_SUPER_PLUS)
		return USBWS_ERR_SPEED;
	if (dev->b_num_interfaces > USBIP_MAX_INTERFACES)
		return USBWS_ERR_TOO_MANY_INTERFACES;
	return 0;
}

int usbip_usb_device_decode(const uint8_t *buf, size_t len, struct usbip_usb_device *dev)
{
	int rc;

	if (len < USBIP_USB_DEVICE_SIZE)
		return USBWS_ERR_TRUNCATED;
	rc = string_decode(buf + UDEV_PATH, USBIP_PATH_SIZE, dev->path);
	if (rc < 0)
		return rc;
	rc = string_decode(buf + UDEV_BUSID, USBIP_BUSID_SIZE, dev->busid);
	if (rc < 0)
		return rc;
	dev->busnum = get_be32(buf + UDEV_BUSNUM);
	dev->devnum = get_be32(buf + UDEV_DEVNUM);
	dev->speed = get_be32(buf + UDEV_SPEED);
	dev->id_vendor = get_be16(buf + UDEV_ID_VENDOR);
	dev->id_product = get_be16(buf + UDEV_ID_PRODUCT);
	dev->bcd_device = get_be16(buf + UDEV_BCD_DEVICE);
	dev->b_device_class = buf[UDEV_CLASS];
	dev->b_device_subclass = buf[UDEV_SUBCLASS];
	dev->b_device_protocol = buf[UDEV_PROTOCOL];
	dev->b_configuration_value = buf[UDEV_CONFIG_VALUE];
	dev->b_num_configurations = buf[UDEV_NUM_CONFIGS];
	dev->b_num_interfaces = buf[UDEV_NUM_INTERFACES];
	rc = usb_device_check(dev);
	return rc < 0 ? rc : USBIP_USB_DEVICE_SIZE;
}

int usbip_usb_device_encode(uint8_t *buf, size_t cap, const struct usbip_usb_device *dev)
{
	int rc;

	if (cap < USBIP_USB_DEVICE_SIZE)
		return USBWS_ERR_NOSPACE;
	rc = usb_device_check(dev);
	if (rc < 0)
		return rc;
	rc = string_encode(buf + UDEV_PATH, USBIP_PATH_SIZE, dev->path);
	if (rc < 0)
		return rc;
	rc = string_encode(buf + UDEV_BUSID, USBIP_BUSID_SIZE, dev->busid);
	if (rc < 0)
		return rc;
	put_be32(buf + UDEV_BUSNUM, dev->busnum);
	put_be32(buf + UDEV_DEVNUM, dev->devnum);
	put_be32(buf + UDEV_SPEED, dev->speed);
	put_be16(buf + UDEV_ID_VENDOR, dev->id_vendor);
	put_be16(buf + UDEV_ID_PRODUCT, dev->id_product);
	put_be16(buf + UDEV_BCD_DEVICE, dev->bcd_device);
	buf[UDEV_CLASS] = dev->b_device_class;
	buf[UDEV_SUBCLASS] = dev->b_device_subclass;
	buf[UDEV_PROTOCOL] = dev->b_device_protocol;
	buf[UDEV_CONFIG_VALUE] = dev->b_configuration_value;
	buf[UDEV_NUM_CONFIGS] = dev->b_num_configurations;
	buf[UDEV_NUM_INTERFACES] = dev->b_num_interfaces;
	return USBIP_USB_DEVICE_SIZE;
}

int usbip_usb_interface_decode(const uint8_t *buf, size_t len, struct usbip_usb_interface *intf)
{
	if (len < USBIP_USB_INTERFACE_SIZE)
		return USBWS_ERR_TRUNCATED;
	intf->b_interface_class = buf[0];
	intf->b_interface_subclass = buf[1];
	intf->b_interface_protocol = buf[2];
	return USBIP_USB_INTERFACE_SIZE;
}

int usbip_usb_interface_encode(uint8_t *buf, size_t cap, const struct usbip_usb_interface *intf)
{
	if (cap < USBIP_USB_INTERFACE_SIZE)
		return USBWS_ERR_NOSPACE;
	buf[0] = intf->b_interface_class;
	buf[1] = intf->b_interface_subclass;
	buf[2] = intf->b_interface_protocol;
	buf[3] = 0;
	return USBIP_USB_INTERFACE_SIZE;
}

static int iso_count_check(uint32_t number_of_packets, const struct usbip_limits *lim)
{
	if (usbip_is_iso(number_of_packets) && number_of_packets > lim->max_iso_packets)
		return USBWS_ERR_ISO_COUNT;
	return 0;
}

/* What a header alone can prove; shared by decode and encode so that we
 * never send what we would refuse to receive. */
static int header_check(const struct usbip_header *hdr, const struct usbip_limits *lim)
{
	switch (hdr->base.command) {
	case USBIP_CMD_SUBMIT:
		if (hdr->base.direction > USBIP_DIR_IN)
			return USBWS_ERR_DIRECTION;
		if (hdr->base.ep > 15)
			return USBWS_ERR_ENDPOINT;
		if (hdr->u.cmd_submit.transfer_buffer_length > lim->max_transfer)
			return USBWS_ERR_TRANSFER_LENGTH;
		return iso_count_check(hdr->u.cmd_submit.number_of_packets, lim);
	case USBIP_RET_SUBMIT:
		if (hdr->u.ret_submit.actual_length > lim->max_transfer)
			return USBWS_ERR_TRANSFER_LENGTH;
		return iso_count_check(hdr->u.ret_submit.number_of_packets, lim);
	case USBIP_CMD_UNLINK:
	case USBIP_RET_UNLINK:
		return 0;
	}
	return USBWS_ERR_UNKNOWN_CMD;
}

int usbip_header_decode(const uint8_t *buf, size_t len, const struct usbip_limits *lim,
			struct usbip_header *hdr)
{
	int rc;

	if (len < USBIP_HEADER_SIZE)
		return USBWS_ERR_TRUNCATED;
	memset(hdr, 0, sizeof(*hdr));
	hdr->base.command = get_be32(buf);
	hdr->base.seqnum = get_be32(buf + 4);
	hdr->base.devid = get_be32(buf + 8);
	hdr->base.direction = get_be32(buf + 12);
	hdr->base.ep = get_be32(buf + 16);
	switch (hdr->base.command) {
	case USBIP_CMD_SUBMIT:
		hdr->u.cmd_submit.transfer_flags = get_be32(buf + 20);
		hdr->u.cmd_submit.transfer_buffer_length = get_be32(buf + 24);
		hdr->u.cmd_submit.start_frame = get_be32(buf + 28);
		hdr->u.cmd_submit.number_of_packets = get_be32(buf + 32);
		hdr->u.cmd_submit.interval = get_be32(buf + 36);
		memcpy(hdr->u.cmd_submit.setup, buf + 40, 8);
		break;
	case USBIP_RET_SUBMIT:
		hdr->u.ret_submit.status = (int32_t)get_be32(buf + 20);
		hdr->u.ret_submit.actual_length = get_be32(buf + 24);
		hdr->u.ret_submit.start_frame = get_be32(buf + 28);
		hdr->u.ret_submit.number_of_packets = get_be32(buf + 32);
		hdr->u.ret_submit.error_count = get_be32(buf + 36);
		break;
	case USBIP_CMD_UNLINK:
		hdr->u.cmd_unlink.unlink_seqnum = get_be32(buf + 20);
		break;
	case USBIP_RET_UNLINK:
		hdr->u.ret_unlink.status = (int32_t)get_be32(buf + 20);
		break;
	}
	rc = header_check(hdr, lim);
	return rc < 0 ? rc : USBIP_HEADER_SIZE;
}

int usbip_header_encode(uint8_t *buf, size_t cap, const struct usbip_header *hdr)
{
	struct usbip_limits lim;
	int rc;

	/* The encoder bounds only by the protocol's own maxima; a sender
	 * with tighter limits checks them before it builds the URB. */
	lim.max_transfer = UINT32_MAX;
	lim.max_iso_packets = USBIP_MAX_ISO_PACKETS;
	rc = header_check(hdr, &lim);
	if (rc < 0)
		return rc;
	if (cap < USBIP_HEADER_SIZE)
		return USBWS_ERR_NOSPACE;
	memset(buf, 0, USBIP_HEADER_SIZE);
	put_be32(buf, hdr->base.command);
	put_be32(buf + 4, hdr->base.seqnum);
	put_be32(buf + 8, hdr->base.devid);
	put_be32(buf + 12, hdr->base.direction);
	put_be32(buf + 16, hdr->base.ep);
	switch (hdr->base.command) {
	case USBIP_CMD_SUBMIT:
		put_be32(buf + 20, hdr->u.cmd_submit.transfer_flags);
		put_be32(buf + 24, hdr->u.cmd_submit.transfer_buffer_length);
		put_be32(buf + 28, hdr->u.cmd_submit.start_frame);
		put_be32(buf + 32, hdr->u.cmd_submit.number_of_packets);
		put_be32(buf + 36, hdr->u.cmd_submit.interval);
		memcpy(buf + 40, hdr->u.cmd_submit.setup, 8);
		break;
	case USBIP_RET_SUBMIT:
		put_be32(buf + 20, (uint32_t)hdr->u.ret_submit.status);
		put_be32(buf + 24, hdr->u.ret_submit.actual_length);
		put_be32(buf + 28, hdr->u.ret_submit.start_frame);
		put_be32(buf + 32, hdr->u.ret_submit.number_of_packets);
		put_be32(buf + 36, hdr->u.ret_submit.error_count);
		break;
	case USBIP_CMD_UNLINK:
		put_be32(buf + 20, hdr->u.cmd_unlink.unlink_seqnum);
		break;
	case USBIP_RET_UNLINK:
		put_be32(buf + 20, (uint32_t)hdr->u.ret_unlink.status);
		break;
	}
	return USBIP_HEADER_SIZE;
}

int usbip_iso_desc_decode(const uint8_t *buf, size_t len, struct usbip_iso_packet_descriptor *iso)
{
	if (len < USBIP_ISO_DESC_SIZE)
		return USBWS_ERR_TRUNCATED;
	iso->offset = get_be32(buf);
	iso->length = get_be32(buf + 4);
	iso->actual_length = get_be32(buf + 8);
	iso->status = (int32_t)get_be32(buf + 12);
	return USBIP_ISO_DESC_SIZE;
}

int usbip_iso_desc_encode(uint8_t *buf, size_t cap, const struct usbip_iso_packet_descriptor *iso)
{
	if (cap < USBIP_ISO_DESC_SIZE)
		return USBWS_ERR_NOSPACE;
	put_be32(buf, iso->offset);
	put_be32(buf + 4, iso->length);
	put_be32(buf + 8, iso->actual_length);
	put_be32(buf + 12, (uint32_t)iso->status);
	return USBIP_ISO_DESC_SIZE;
}

void usbip_iso_check_init(struct usbip_iso_check *chk, uint32_t transfer_buffer_length,
			  uint32_t expected_actual)
{
	chk->transfer_buffer_length = transfer_buffer_length;
	chk->expected_actual = expected_actual;
	chk->sum_actual = 0;
}

int usbip_iso_check_next(struct usbip_iso_check *chk, const struct usbip_iso_packet_descriptor *iso)
{
	if (iso->offset > chk->transfer_buffer_length ||
	    iso->length > chk->transfer_buffer_length - iso->offset)
		return USBWS_ERR_ISO_DESC;
	if (iso->actual_length > iso->length)
		return USBWS_ERR_ISO_DESC;
	chk->sum_actual += iso->actual_length;
	if (chk->sum_actual > chk->expected_actual)
		return USBWS_ERR_ISO_TOTAL;
	return 0;
}

int usbip_iso_check_done(const struct usbip_iso_check *chk)
{
	return chk->sum_actual == chk->expected_actual ? 0 : USBWS_ERR_ISO_TOTAL;
}

uint32_t usbip_urb_data_length(const struct usbip_header *hdr, uint32_t cmd_direction)
{
	switch (hdr->base.command) {
	case USBIP_CMD_SUBMIT:
		return hdr->base.direction == USBIP_DIR_OUT ? hdr->u.cmd_submit.transfer_buffer_length : 0;
	case USBIP_RET_SUBMIT:
		return cmd_direction == USBIP_DIR_IN ? hdr->u.ret_submit.actual_length : 0;
	}
	return 0;
}

uint32_t usbip_urb_iso_count(const struct usbip_header *hdr)
{
	switch (hdr->base.command) {
	case USBIP_CMD_SUBMIT:
		return usbip_iso_count(hdr->u.cmd_submit.number_of_packets);
	case USBIP_RET_SUBMIT:
		return usbip_iso_count(hdr->u.ret_submit.number_of_packets);
	}
	return 0;
}

int usbip_check_ret_submit(const struct usbip_ret_submit *ret, uint32_t cmd_transfer_length,
			   uint32_t cmd_number_of_packets)
{
	if (ret->actual_length > cmd_transfer_length)
		return USBWS_ERR_ACTUAL_LENGTH;
	if (usbip_iso_count(ret->number_of_packets) != usbip_iso_count(cmd_number_of_packets))
		return USBWS_ERR_ISO_COUNT;
	return 0;
}

int usbip_encode_op_device(uint8_t *buf, size_t cap, uint16_t code, uint32_t status,
			   const struct usbip_usb_device *dev)
{
	int rc;

	if (cap < USBIP_OP_COMMON_SIZE + USBIP_USB_DEVICE_SIZE)
		return USBWS_ERR_NOSPACE;
	rc = usbip_op_common_encode(buf, cap, code, status);
	if (rc < 0)
		return rc;
	rc = usbip_usb_device_encode(buf + USBIP_OP_COMMON_SIZE, cap - USBIP_OP_COMMON_SIZE, dev);
	return rc < 0 ? rc : USBIP_OP_COMMON_SIZE + USBIP_USB_DEVICE_SIZE;
}

int usbip_encode_req_import(uint8_t *buf, size_t cap, const char *busid)
{
	int rc;

	if (cap < USBIP_OP_COMMON_SIZE + USBIP_BUSID_SIZE)
		return USBWS_ERR_NOSPACE;
	usbip_op_common_encode(buf, cap, USBIP_OP_REQ_IMPORT, USBIP_ST_OK);
	rc = usbip_busid_encode(buf + USBIP_OP_COMMON_SIZE, cap - USBIP_OP_COMMON_SIZE, busid);
	return rc < 0 ? rc : USBIP_OP_COMMON_SIZE + USBIP_BUSID_SIZE;
}

int usbip_encode_rep_import(uint8_t *buf, size_t cap, uint32_t status, const struct usbip_usb_device *dev)
{
	if (status != USBIP_ST_OK)
		return usbip_op_common_encode(buf, cap, USBIP_OP_REP_IMPORT, status);
	return usbip_encode_op_device(buf, cap, USBIP_OP_REP_IMPORT, status, dev);
}

int usbip_encode_devlist_head(uint8_t *buf, size_t cap, uint32_t ndevs)
{
	if (cap < USBIP_DEVLIST_HEAD_SIZE)
		return USBWS_ERR_NOSPACE;
	usbip_op_common_encode(buf, cap, USBIP_OP_REP_DEVLIST, USBIP_ST_OK);
	put_be32(buf + USBIP_OP_COMMON_SIZE, ndevs);
	return USBIP_DEVLIST_HEAD_SIZE;
}

int usbip_encode_devlist_device(uint8_t *buf, size_t cap, const struct usbip_usb_device *dev,
				const struct usbip_usb_interface *ifs)
{
	size_t pos;
	uint32_t j;
	int rc;

	rc = usbip_usb_device_encode(buf, cap, dev);
	if (rc < 0)
		return rc;
	pos = (size_t)rc;
	for (j = 0; j < dev->b_num_interfaces; j++) {
		rc = usbip_usb_interface_encode(buf + pos, cap - pos, &ifs[j]);
		if (rc < 0)
			return rc;
		pos += (size_t)rc;
	}
	return (int)pos;
}

int usbip_encode_devlist(uint8_t *buf, size_t cap, const struct usbip_exported_device *devs,
			 uint32_t ndevs)
{
	size_t pos;
	uint32_t i;
	int rc;

	rc = usbip_encode_devlist_head(buf, cap, ndevs);
	if (rc < 0)
		return rc;
	pos = (size_t)rc;
	for (i = 0; i < ndevs; i++) {
		rc = usbip_encode_devlist_device(buf + pos, cap - pos, &devs[i].udev, devs[i].interfaces);
		if (rc < 0)
			return rc;
		pos += (size_t)rc;
	}
	return (int)pos;
}

int usbip_encode_urb(uint8_t *buf, size_t cap, const struct usbip_header *hdr, uint32_t cmd_direction,
		     const uint8_t *data, uint32_t data_len,
		     const struct usbip_iso_packet_descriptor *iso, uint32_t niso)
{
	uint64_t need;
	uint32_t i;
	int rc;

	if (data_len != usbip_urb_data_length(hdr, cmd_direction) || niso != usbip_urb_iso_count(hdr))
		return USBWS_ERR_INVAL;
	/* in 64 bits, so no sum can wrap on a 32-bit size_t */
	need = USBIP_HEADER_SIZE + (uint64_t)data_len + (uint64_t)niso * USBIP_ISO_DESC_SIZE;
	if (need > INT32_MAX)
		return USBWS_ERR_TRANSFER_LENGTH;
	if (cap < need)
		return USBWS_ERR_NOSPACE;
	rc = usbip_header_encode(buf, cap, hdr);
	if (rc < 0)
		return rc;
	if (data_len)
		memcpy(buf + USBIP_HEADER_SIZE, data, data_len);
	for (i = 0; i < niso; i++)
		usbip_iso_desc_encode(buf + USBIP_HEADER_SIZE + data_len + (size_t)i * USBIP_ISO_DESC_SIZE,
				      USBIP_ISO_DESC_SIZE, &iso[i]);
	return (int)need;
}

int usbip_decode_urb(const uint8_t *buf, size_t len, const struct usbip_limits *lim,
		     const struct usbip_header *cmd, struct usbip_urb_view *view)
{
	struct usbip_iso_packet_descriptor iso;
	struct usbip_iso_check chk;
	uint32_t cmd_direction = USBIP_DIR_OUT;
	uint64_t need;
	size_t i;
	int rc;

	rc = usbip_header_decode(buf, len, lim, &view->hdr);
	if (rc < 0)
		return rc;
	if (view->hdr.base.command == USBIP_RET_SUBMIT) {
		if (!cmd || cmd->base.command != USBIP_CMD_SUBMIT || cmd->base.seqnum != view->hdr.base.seqnum)
			return USBWS_ERR_UNSOLICITED;
		rc = usbip_check_ret_submit(&view->hdr.u.ret_submit, cmd->u.cmd_submit.transfer_buffer_length,
					    cmd->u.cmd_submit.number_of_packets);
		if (rc < 0)
			return rc;
		cmd_direction = cmd->base.direction;
		usbip_iso_check_init(&chk, cmd->u.cmd_submit.transfer_buffer_length,
				     view->hdr.u.ret_submit.actual_length);
	} else if (view->hdr.base.command == USBIP_CMD_SUBMIT) {
		usbip_iso_check_init(&chk, view->hdr.u.cmd_submit.transfer_buffer_length, 0);
	}
	view->data_len = usbip_urb_data_length(&view->hdr, cmd_direction);
	view->niso = usbip_urb_iso_count(&view->hdr);
	/* ISO count times descriptor size is checked against the buffer
	 * before any descriptor is read. */
	need = USBIP_HEADER_SIZE + (uint64_t)view->data_len + (uint64_t)view->niso * USBIP_ISO_DESC_SIZE;
	if (need > INT32_MAX)
		return USBWS_ERR_TRANSFER_LENGTH;
	if (len < need)
		return USBWS_ERR_TRUNCATED;
	view->data = buf + USBIP_HEADER_SIZE;
	view->iso = view->data + view->data_len;
	for (i = 0; i < view->niso; i++) {
		usbip_iso_desc_decode(view->iso + i * USBIP_ISO_DESC_SIZE, USBIP_ISO_DESC_SIZE, &iso);
		rc = usbip_iso_check_next(&chk, &iso);
		if (rc < 0)
			return rc;
	}
	if (view->niso) {
		rc = usbip_iso_check_done(&chk);
		if (rc < 0)
			return rc;
	}
	return (int)need;
}
