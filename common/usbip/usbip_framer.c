/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "usbip/usbip_framer.h"

#include <string.h>

#include "base/byteorder.h"
#include "base/usbws_err.h"

enum framer_state {
	FR_PEEK,        /* first 4 bytes of a message: OP or URB? */
	FR_OP_HEAD,
	FR_URB_HEAD,
	FR_BUSID,
	FR_DEVCOUNT,
	FR_DEVICE,
	FR_INTERFACE,
	FR_DATA,
	FR_ISO,
	FR_END,         /* message done; END event not yet delivered */
};

#define PEEK_SIZE 4

static void gather(struct usbip_framer *f, int state, uint32_t want)
{
	f->_state = state;
	f->_want = want;
	f->_have = 0;
	f->_item_offset = f->_offset;
}

static void next_message(struct usbip_framer *f)
{
	gather(f, FR_PEEK, PEEK_SIZE);
	f->_message_offset = f->_offset;
}

void usbip_framer_init(struct usbip_framer *f, enum usbip_flow flow, struct usbip_validator *validator)
{
	memset(f, 0, sizeof(*f));
	f->_flow = flow;
	f->_validator = validator;
	usbip_limits_default(&f->_own_limits);
	f->_limits = validator ? usbip_validator_limits(validator) : &f->_own_limits;
	f->_phase = USBIP_PHASE_OP;
	next_message(f);
}

void usbip_framer_start_urb_phase(struct usbip_framer *f)
{
	f->_phase = USBIP_PHASE_URB;
}

int usbip_framer_at_boundary(const struct usbip_framer *f)
{
	return f->_err == 0 && f->_state == FR_PEEK && f->_have == 0;
}

enum usbip_phase usbip_framer_phase(const struct usbip_framer *f)
{
	return f->_phase;
}

int usbip_framer_closed(const struct usbip_framer *f)
{
	return f->_phase == USBIP_PHASE_CLOSED;
}

int usbip_framer_error(const struct usbip_framer *f)
{
	return f->_err;
}

int usbip_framer_in_op(const struct usbip_framer *f)
{
	return f->_message_is_op;
}

static struct usbip_flow_stats *flow_stats(struct usbip_framer *f)
{
	return f->_validator ? usbip_validator_flow(f->_validator, f->_flow) : NULL;
}

/* Which OP messages may travel this way, and where each leaves the stream. */
static int op_route(struct usbip_framer *f, const struct usbip_op_common *op)
{
	int to_device = f->_flow == USBIP_FLOW_TO_DEVICE;
	int ok = op->status == USBIP_ST_OK;

	if (f->_phase == USBIP_PHASE_URB) {
		/* Only the unexport pair may interrupt a URB stream. */
		if (op->code != (to_device ? USBIP_OP_REP_UNEXPORT : USBIP_OP_REQ_UNEXPORT))
			return USBWS_ERR_PHASE;
	}
	f->_phase_after = f->_phase;
	switch (op->code) {
	case USBIP_OP_REQ_DEVLIST:
		if (!to_device)
			return USBWS_ERR_WRONG_WAY;
		f->_state = FR_END;
		return 0;
	case USBIP_OP_REQ_IMPORT:
		if (!to_device)
			return USBWS_ERR_WRONG_WAY;
		f->_phase_after = USBIP_PHASE_URB;
		gather(f, FR_BUSID, USBIP_BUSID_SIZE);
		return 0;
	case USBIP_OP_REP_EXPORT:
		if (!to_device)
			return USBWS_ERR_WRONG_WAY;
		if (ok)
			f->_phase_after = USBIP_PHASE_URB;
		f->_state = FR_END;
		return 0;
	case USBIP_OP_REP_UNEXPORT:
		if (!to_device)
			return USBWS_ERR_WRONG_WAY;
		f->_phase_after = USBIP_PHASE_CLOSED;
		f->_state = FR_END;
		return 0;
	case USBIP_OP_REP_DEVLIST:
		if (to_device)
			return USBWS_ERR_WRONG_WAY;
		if (ok)
			gather(f, FR_DEVCOUNT, USBIP_DEVLIST_COUNT_SIZE);
		else
			f->_state = FR_END;
		return 0;
	case USBIP_OP_REP_IMPORT:
		if (to_device)
			return USBWS_ERR_WRONG_WAY;
		if (ok) {
			f->_phase_after = USBIP_PHASE_URB;
			gather(f, FR_DEVICE, USBIP_USB_DEVICE_SIZE);
		} else {
			f->_state = FR_END;
		}
		return 0;
	case USBIP_OP_REQ_EXPORT:
	case USBIP_OP_REQ_UNEXPORT:
		if (to_device)
			return USBWS_ERR_WRONG_WAY;
		f->_phase_after = op->code == USBIP_OP_REQ_EXPORT ? USBIP_PHASE_URB : USBIP_PHASE_CLOSED;
		gather(f, FR_DEVICE, USBIP_USB_DEVICE_SIZE);
		return 0;
	}
	return USBWS_ERR_UNKNOWN_OP;
}

/* After the header or the data: descriptors, or the end. */
static void after_data(struct usbip_framer *f)
{
	if (f->_iso_left)
		gather(f, FR_ISO, USBIP_ISO_DESC_SIZE);
	else
		f->_state = FR_END;
}

static int urb_header(struct usbip_framer *f, struct usbip_event *ev)
{
	struct usbip_header *hdr = &ev->u.urb.hdr;
	struct usbip_flow_stats *stats;
	uint32_t tbl, expected_actual;
	int rc;

	rc = usbip_header_decode(f->_stash, f->_have, f->_limits, hdr);
	if (rc < 0)
		return rc;
	memset(&ev->u.urb.match, 0, sizeof(ev->u.urb.match));
	if (f->_flow == USBIP_FLOW_TO_DEVICE) {
		rc = usbip_validator_cmd(f->_validator, hdr);
		if (rc < 0)
			return rc;
		tbl = hdr->base.command == USBIP_CMD_SUBMIT ? hdr->u.cmd_submit.transfer_buffer_length : 0;
		expected_actual = 0;
		ev->u.urb.data_len = usbip_urb_data_length(hdr, 0);
	} else {
		rc = usbip_validator_ret(f->_validator, hdr, &ev->u.urb.match);
		if (rc < 0)
			return rc;
		tbl = ev->u.urb.match.transfer_buffer_length;
		expected_actual = hdr->base.command == USBIP_RET_SUBMIT ? hdr->u.ret_submit.actual_length : 0;
		ev->u.urb.data_len = usbip_urb_data_length(hdr, ev->u.urb.match.direction);
	}
	ev->u.urb.iso_count = usbip_urb_iso_count(hdr);
	usbip_iso_check_init(&f->_iso_check, tbl, expected_actual);

	stats = flow_stats(f);
	stats->payload_bytes += ev->u.urb.data_len;
	f->_data_left = ev->u.urb.data_len;
	f->_iso_left = ev->u.urb.iso_count;
	f->_phase_after = USBIP_PHASE_URB;
	ev->type = USBIP_EV_URB;
	if (f->_data_left)
		f->_state = FR_DATA;
	else
		after_data(f);
	return 1;
}

/* The first four bytes tell an OP message (version 0x0111 in the top half)
 * from a URB (command 1..4): no valid URB command starts with 0x0111. */
static int classify(struct usbip_framer *f)
{
	uint32_t word = get_be32(f->_stash);
	int is_op = (word >> 16) == USBIP_VERSION;
	int is_urb = word >= USBIP_CMD_SUBMIT && word <= USBIP_RET_UNLINK;

	if (f->_phase == USBIP_PHASE_CLOSED)
		return USBWS_ERR_AFTER_UNEXPORT;
	if (f->_phase == USBIP_PHASE_OP) {
		if (is_urb)
			return USBWS_ERR_PHASE;
		/* anything else is an op_common with the wrong version */
		if (!is_op)
			return USBWS_ERR_VERSION;
	} else if (!is_op && !is_urb) {
		return USBWS_ERR_UNKNOWN_CMD;
	}
	if (is_urb && !f->_validator)
		return USBWS_ERR_PHASE;
	f->_message_is_op = is_op;
	f->_state = is_op ? FR_OP_HEAD : FR_URB_HEAD;
	f->_want = is_op ? USBIP_OP_COMMON_SIZE : USBIP_HEADER_SIZE;
	return 0;
}

static void count_op(struct usbip_framer *f)
{
	struct usbip_flow_stats *stats = flow_stats(f);

	if (stats)
		stats->ops++;
}

/* A stashed item is complete: decode it, move on, maybe yield an event. */
static int item_done(struct usbip_framer *f, struct usbip_event *ev)
{
	int rc;

	ev->offset = f->_item_offset;
	switch (f->_state) {
	case FR_PEEK:
		return classify(f);
	case FR_OP_HEAD:
		rc = usbip_op_common_decode(f->_stash, f->_have, &ev->u.op);
		if (rc < 0)
			return rc;
		f->_op_code = ev->u.op.code;
		f->_op_status = ev->u.op.status;
		ev->offset = f->_message_offset;
		rc = op_route(f, &ev->u.op);
		if (rc < 0)
			return rc;
		count_op(f);
		ev->type = USBIP_EV_OP;
		return 1;
	case FR_URB_HEAD:
		ev->offset = f->_message_offset;
		return urb_header(f, ev);
	case FR_BUSID:
		rc = usbip_busid_decode(f->_stash, f->_have, ev->u.busid);
		if (rc < 0)
			return rc;
		f->_state = FR_END;
		ev->type = USBIP_EV_BUSID;
		return 1;
	case FR_DEVCOUNT:
		f->_devices_left = get_be32(f->_stash);
		if (f->_devices_left > f->_limits->max_devices)
			return USBWS_ERR_TOO_MANY_DEVICES;
		if (f->_devices_left)
			gather(f, FR_DEVICE, USBIP_USB_DEVICE_SIZE);
		else
			f->_state = FR_END;
		return 0;
	case FR_DEVICE:
		rc = usbip_usb_device_decode(f->_stash, f->_have, &ev->u.device);
		if (rc < 0)
			return rc;
		ev->type = USBIP_EV_DEVICE;
		if (f->_op_code != USBIP_OP_REP_DEVLIST) {
			f->_state = FR_END;
			return 1;
		}
		f->_devices_left--;
		f->_interfaces_left = ev->u.device.b_num_interfaces;
		goto devlist_next;
	case FR_INTERFACE:
		usbip_usb_interface_decode(f->_stash, f->_have, &ev->u.interface);
		ev->type = USBIP_EV_INTERFACE;
		f->_interfaces_left--;
		goto devlist_next;
	case FR_ISO:
		usbip_iso_desc_decode(f->_stash, f->_have, &ev->u.iso);
		rc = usbip_iso_check_next(&f->_iso_check, &ev->u.iso);
		if (rc < 0)
			return rc;
		if (--f->_iso_left == 0) {
			rc = usbip_iso_check_done(&f->_iso_check);
			if (rc < 0)
				return rc;
			f->_state = FR_END;
		} else {
			gather(f, FR_ISO, USBIP_ISO_DESC_SIZE);
		}
		ev->type = USBIP_EV_ISO;
		return 1;
	}
	return USBWS_ERR_INVAL;

devlist_next:
	if (f->_interfaces_left)
		gather(f, FR_INTERFACE, USBIP_USB_INTERFACE_SIZE);
	else if (f->_devices_left)
		gather(f, FR_DEVICE, USBIP_USB_DEVICE_SIZE);
	else
		f->_state = FR_END;
	return 1;
}

int usbip_framer_feed(struct usbip_framer *f, const uint8_t *buf, size_t len, size_t *used,
		      struct usbip_event *ev)
{
	struct usbip_flow_stats *stats;
	size_t pos = 0, n;
	int rc;

	*used = 0;
	if (f->_err)
		return f->_err;
	for (;;) {
		if (f->_state == FR_END) {
			ev->type = USBIP_EV_END;
			ev->offset = f->_offset;
			f->_phase = f->_phase_after;
			next_message(f);
			rc = 1;
			break;
		}
		if (pos == len) {
			rc = 0;
			break;
		}
		if (f->_state == FR_DATA) {
			n = len - pos < f->_data_left ? len - pos : f->_data_left;
			ev->type = USBIP_EV_DATA;
			ev->offset = f->_offset;
			ev->u.data.ptr = buf + pos;
			ev->u.data.len = n;
			pos += n;
			f->_offset += n;
			f->_data_left -= (uint32_t)n;
			if (!f->_data_left)
				after_data(f);
			rc = 1;
			break;
		}
		n = f->_want - f->_have;
		if (n > len - pos)
			n = len - pos;
		memcpy(f->_stash + f->_have, buf + pos, n);
		f->_have += (uint32_t)n;
		pos += n;
		f->_offset += n;
		if (f->_have < f->_want)
			continue;
		rc = item_done(f, ev);
		if (rc != 0)
			break;
	}
	*used = pos;
	stats = flow_stats(f);
	if (stats)
		stats->bytes += pos;
	if (rc < 0)
		f->_err = rc;
	return rc;
}

int usbip_framer_feed_request(struct usbip_framer *f, const uint8_t *buf, size_t len, size_t *used,
			      struct usbip_request *req)
{
	struct usbip_event ev;
	size_t n;
	int rc;

	*used = 0;
	for (;;) {
		rc = usbip_framer_feed(f, buf + *used, len - *used, &n, &ev);
		*used += n;
		if (rc <= 0)
			return rc;
		if (ev.type == USBIP_EV_OP)
			req->code = ev.u.op.code;
		else if (ev.type == USBIP_EV_BUSID)
			memcpy(req->busid, ev.u.busid, sizeof(req->busid));
		else if (ev.type == USBIP_EV_END) {
			if (req->code == USBIP_OP_REQ_DEVLIST || req->code == USBIP_OP_REQ_IMPORT)
				return 1;
			/* refused for good, like any framing error */
			f->_err = USBWS_ERR_PHASE;
			return f->_err;
		}
	}
}

int usbip_framer_decode_devlist(const uint8_t *buf, size_t len, struct usbip_exported_device *devs,
				uint32_t max, uint32_t *ndevs)
{
	struct usbip_framer f;
	struct usbip_event ev;
	size_t used, pos = 0;
	uint32_t nif = 0;
	int rc;

	*ndevs = 0;
	usbip_framer_init(&f, USBIP_FLOW_FROM_DEVICE, NULL);
	for (;;) {
		rc = usbip_framer_feed(&f, buf + pos, len - pos, &used, &ev);
		pos += used;
		if (rc < 0)
			return rc;
		if (rc == 0)
			return USBWS_ERR_TRUNCATED;
		switch (ev.type) {
		case USBIP_EV_OP:
			if (ev.u.op.code != USBIP_OP_REP_DEVLIST)
				return USBWS_ERR_UNKNOWN_OP;
			if (ev.u.op.status != USBIP_ST_OK)
				return USBWS_ERR_REFUSED;
			break;
		case USBIP_EV_DEVICE:
			if (*ndevs >= max)
				return USBWS_ERR_TOO_MANY_DEVICES;
			devs[(*ndevs)++].udev = ev.u.device;
			nif = 0;
			break;
		case USBIP_EV_INTERFACE:
			devs[*ndevs - 1].interfaces[nif++] = ev.u.interface;
			break;
		case USBIP_EV_END:
			return (int)pos;
		default:
			return USBWS_ERR_INVAL;
		}
	}
}
