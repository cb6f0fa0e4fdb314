/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vdev/vdev_stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/monoclock.h"
#include "base/usbws_err.h"

int vdev_stream_init(struct vdev_stream *s, struct vdev *dev, uint32_t max_transfer,
		     size_t high_water, size_t headroom)
{
	struct usbip_validator_config cfg = {0};
	size_t largest_reply;

	memset(s, 0, sizeof(*s));
	usbip_limits_default(&cfg.limits);
	cfg.limits.max_transfer = max_transfer;
	cfg.clock_ns = monotonic_clock_ns;
	s->validator = usbip_validator_new(&cfg);
	s->out_data = malloc(max_transfer ? max_transfer : 1);
	if (!s->validator || !s->out_data) {
		vdev_stream_free(s);
		return USBWS_ERR_NOMEM;
	}
	s->dev = dev;
	s->max_transfer = max_transfer;
	s->high_water = high_water;
	largest_reply = USBIP_HEADER_SIZE + (size_t)max_transfer +
			(size_t)USBIP_MAX_ISO_PACKETS * USBIP_ISO_DESC_SIZE;
	ring_init(&s->tx, headroom, high_water + largest_reply);
	usbip_framer_init(&s->rx, USBIP_FLOW_TO_DEVICE, s->validator);
	usbip_framer_start_urb_phase(&s->rx);
	return 0;
}

void vdev_stream_free(struct vdev_stream *s)
{
	usbip_validator_free(s->validator);
	free(s->out_data);
	ring_free(&s->tx);
	s->validator = NULL;
	s->out_data = NULL;
}

/* Answers the complete command in s->cmd into the tx buffer. */
static int answer(struct vdev_stream *s)
{
	const struct usbip_header *cmd = &s->cmd;
	struct usbip_header ret;
	struct usbip_iso_packet_descriptor iso = { 0, 0, 0, -EPIPE };
	struct vdev_urb u;
	uint32_t niso = 0, in_room = 0, i;
	uint8_t *p;
	size_t reply_len;
	int rc;

	memset(&ret, 0, sizeof(ret));
	ret.base.seqnum = cmd->base.seqnum;
	if (cmd->base.command == USBIP_CMD_UNLINK) {
		/* every URB is answered as soon as it arrives, so an unlink
		 * always comes too late: status 0, as the stub says then */
		ret.base.command = USBIP_RET_UNLINK;
		p = ring_reserve(&s->tx, USBIP_HEADER_SIZE);
		if (!p)
			return USBWS_ERR_NOSPACE;
		usbip_header_encode(p, USBIP_HEADER_SIZE, &ret);
		ring_commit(&s->tx, USBIP_HEADER_SIZE);
		return usbip_validator_ret(s->validator, &ret, NULL);
	}

	ret.base.command = USBIP_RET_SUBMIT;
	memset(&u, 0, sizeof(u));
	u.ep = cmd->base.ep;
	u.direction = cmd->base.direction;
	u.length = cmd->u.cmd_submit.transfer_buffer_length;
	memcpy(u.setup, cmd->u.cmd_submit.setup, 8);
	u.out = s->out_data;
	if (u.direction == USBIP_DIR_IN)
		in_room = u.length;
	niso = usbip_iso_count(cmd->u.cmd_submit.number_of_packets);
	p = ring_reserve(&s->tx, USBIP_HEADER_SIZE + (size_t)in_room + (size_t)niso * USBIP_ISO_DESC_SIZE);
	if (!p)
		return USBWS_ERR_NOSPACE;
	u.in = p + USBIP_HEADER_SIZE;
	if (niso) {
		/* no virtual device has an isochronous endpoint */
		u.status = -EPIPE;
		u.actual = 0;
	} else {
		vdev_submit(s->dev, &u);
	}
	if (u.actual > u.length)
		u.actual = u.length;
	ret.u.ret_submit.status = u.status;
	ret.u.ret_submit.actual_length = u.actual;
	ret.u.ret_submit.number_of_packets = niso ? cmd->u.cmd_submit.number_of_packets : 0;
	usbip_header_encode(p, USBIP_HEADER_SIZE, &ret);
	reply_len = USBIP_HEADER_SIZE + (u.direction == USBIP_DIR_IN ? u.actual : 0);
	for (i = 0; i < niso; i++)
		usbip_iso_desc_encode(p + reply_len + (size_t)i * USBIP_ISO_DESC_SIZE, USBIP_ISO_DESC_SIZE, &iso);
	ring_commit(&s->tx, reply_len + (size_t)niso * USBIP_ISO_DESC_SIZE);
	s->urbs++;
	rc = usbip_validator_ret(s->validator, &ret, NULL);
	return rc;
}

int vdev_stream_feed(struct vdev_stream *s, const uint8_t *buf, size_t len, size_t *used)
{
	struct usbip_event ev;
	size_t pos = 0, n;
	int rc;

	*used = 0;
	for (;;) {
		/* back-pressure: take no new command while replies pile up */
		if (usbip_framer_at_boundary(&s->rx) && ring_len(&s->tx) >= s->high_water)
			break;
		rc = usbip_framer_feed(&s->rx, buf + pos, len - pos, &n, &ev);
		pos += n;
		if (rc < 0)
			return rc;
		if (rc == 0)
			break;
		switch (ev.type) {
		case USBIP_EV_URB:
			s->cmd = ev.u.urb.hdr;
			s->out_have = 0;
			break;
		case USBIP_EV_DATA:
			memcpy(s->out_data + s->out_have, ev.u.data.ptr, ev.u.data.len);
			s->out_have += (uint32_t)ev.u.data.len;
			break;
		case USBIP_EV_END:
			if (usbip_framer_closed(&s->rx))
				break;
			rc = answer(s);
			if (rc < 0)
				return rc;
			break;
		default:
			break;
		}
	}
	*used = pos;
	return 0;
}
