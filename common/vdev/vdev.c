/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vdev/vdev.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/usbws_err.h"

#define USB_DIR_IN 0x80
#define USB_TYPE_MASK 0x60
#define USB_TYPE_STANDARD 0x00
#define USB_RECIP_MASK 0x1f
#define USB_RECIP_DEVICE 0x00
#define USB_RECIP_INTERFACE 0x01
#define USB_RECIP_ENDPOINT 0x02

enum {
	REQ_GET_STATUS = 0x00,
	REQ_CLEAR_FEATURE = 0x01,
	REQ_SET_FEATURE = 0x03,
	REQ_SET_ADDRESS = 0x05,
	REQ_GET_DESCRIPTOR = 0x06,
	REQ_GET_CONFIGURATION = 0x08,
	REQ_SET_CONFIGURATION = 0x09,
	REQ_GET_INTERFACE = 0x0a,
	REQ_SET_INTERFACE = 0x0b,
};

enum {
	DT_DEVICE = 1,
	DT_CONFIG = 2,
	DT_STRING = 3,
	DT_INTERFACE = 4,
	DT_DEVICE_QUALIFIER = 6,
};

#define FEATURE_ENDPOINT_HALT 0

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

void vdev_init_common(struct vdev *d, const struct vdev_ops *ops, const struct vdev_descriptors *desc,
		      const char *busid)
{
	const uint8_t *cfg = desc->config;
	uint16_t total = le16(cfg + 2);
	uint16_t pos;
	unsigned int nif = 0;

	d->ops = ops;
	d->desc = *desc;
	memset(&d->info, 0, sizeof(d->info));
	snprintf(d->info.path, sizeof(d->info.path), "/usbws/virtual/%s", busid);
	snprintf(d->info.busid, sizeof(d->info.busid), "%s", busid);
	d->info.busnum = 1;
	d->info.devnum = 2;
	d->info.speed = USBIP_SPEED_HIGH;
	d->info.id_vendor = le16(desc->device + 8);
	d->info.id_product = le16(desc->device + 10);
	d->info.bcd_device = le16(desc->device + 12);
	d->info.b_device_class = desc->device[4];
	d->info.b_device_subclass = desc->device[5];
	d->info.b_device_protocol = desc->device[6];
	d->info.b_num_configurations = desc->device[17];
	d->info.b_configuration_value = 0;
	/* the interface list a USB/IP listing shows comes from alt setting 0 */
	for (pos = cfg[0]; pos + 2 <= total && cfg[pos] >= 2; pos = (uint16_t)(pos + cfg[pos])) {
		if (cfg[pos + 1] == DT_INTERFACE && cfg[pos + 3] == 0 && nif < USBIP_MAX_INTERFACES) {
			d->interfaces[nif].b_interface_class = cfg[pos + 5];
			d->interfaces[nif].b_interface_subclass = cfg[pos + 6];
			d->interfaces[nif].b_interface_protocol = cfg[pos + 7];
			nif++;
		}
	}
	d->info.b_num_interfaces = (uint8_t)nif;
}

int vdev_open(const char *spec, const char *busid, struct vdev **out, char *why, size_t why_cap)
{
	int rc;

	if (strncmp(spec, "storage:", 8) == 0)
		return vdev_storage_open(spec + 8, busid, out, why, why_cap);
	if (strcmp(spec, "sourcesink") != 0)
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "unknown virtual device (use storage:PATH or sourcesink)");
	rc = vdev_sourcesink_open(busid, out);
	return rc < 0 ? usbws_why(why, why_cap, rc, "%s", usbws_strerror(rc)) : rc;
}

void vdev_close(struct vdev *d)
{
	if (d)
		d->ops->destroy(d);
}

static uint32_t reply(struct vdev_urb *u, const void *data, uint32_t len)
{
	uint32_t n = len < u->length ? len : u->length;

	memcpy(u->in, data, n);
	return n;
}

const char *vdev_serial(const struct vdev *d)
{
	uint8_t index = d->desc.device[16];

	return index && index <= d->desc.nstrings ? d->desc.strings[index - 1] : NULL;
}

static int string_descriptor(const struct vdev *d, uint8_t index, struct vdev_urb *u)
{
	uint8_t buf[255];
	const char *s;
	size_t i, n;

	if (index == 0) {
		static const uint8_t langs[4] = { 4, DT_STRING, 0x09, 0x04 }; /* en-US */

		u->actual = reply(u, langs, sizeof(langs));
		return 0;
	}
	if (index > d->desc.nstrings)
		return -EPIPE;
	s = d->desc.strings[index - 1];
	n = strlen(s);
	if (n > 126)
		n = 126;
	buf[0] = (uint8_t)(2 + 2 * n);
	buf[1] = DT_STRING;
	for (i = 0; i < n; i++) {
		buf[2 + 2 * i] = (uint8_t)s[i];
		buf[3 + 2 * i] = 0;
	}
	u->actual = reply(u, buf, buf[0]);
	return 0;
}

static int get_descriptor(struct vdev *d, uint8_t type, uint8_t index, struct vdev_urb *u)
{
	uint8_t qual[10];

	switch (type) {
	case DT_DEVICE:
		u->actual = reply(u, d->desc.device, d->desc.device[0]);
		return 0;
	case DT_CONFIG:
		if (index != 0)
			return -EPIPE;
		u->actual = reply(u, d->desc.config, le16(d->desc.config + 2));
		return 0;
	case DT_STRING:
		return string_descriptor(d, index, u);
	case DT_DEVICE_QUALIFIER:
		/* same device at the other speed: class, packet size and
		 * configuration count as in the device descriptor */
		qual[0] = sizeof(qual);
		qual[1] = DT_DEVICE_QUALIFIER;
		memcpy(qual + 2, d->desc.device + 2, 2);
		memcpy(qual + 4, d->desc.device + 4, 4);
		qual[8] = d->desc.device[17];
		qual[9] = 0;
		u->actual = reply(u, qual, sizeof(qual));
		return 0;
	}
	return -EPIPE;
}

static uint8_t *halt_mask(struct vdev *d, uint8_t ep_addr)
{
	return ep_addr & USB_DIR_IN ? &d->halted_in : &d->halted_out;
}

static int standard_request(struct vdev *d, struct vdev_urb *u)
{
	const uint8_t *s = u->setup;
	uint8_t recip = s[0] & USB_RECIP_MASK;
	uint16_t value = le16(s + 2), index = le16(s + 4);
	uint8_t status[2] = { 0, 0 };
	uint8_t ep_bit = (uint8_t)(1u << (index & 0x0f));

	switch (s[1]) {
	case REQ_GET_STATUS:
		if (recip == USB_RECIP_ENDPOINT)
			status[0] = (*halt_mask(d, (uint8_t)index) & ep_bit) ? 1 : 0;
		u->actual = reply(u, status, 2);
		return 0;
	case REQ_CLEAR_FEATURE:
	case REQ_SET_FEATURE:
		if (recip != USB_RECIP_ENDPOINT)
			return 0;   /* remote wakeup and test modes: nothing to do */
		if (value != FEATURE_ENDPOINT_HALT)
			return -EPIPE;
		if (s[1] == REQ_SET_FEATURE) {
			*halt_mask(d, (uint8_t)index) |= ep_bit;
		} else {
			*halt_mask(d, (uint8_t)index) &= (uint8_t)~ep_bit;
			if (d->ops->clear_halt)
				d->ops->clear_halt(d, (uint8_t)index);
		}
		return 0;
	case REQ_SET_ADDRESS:
		return 0;
	case REQ_GET_DESCRIPTOR:
		return get_descriptor(d, (uint8_t)(value >> 8), (uint8_t)value, u);
	case REQ_GET_CONFIGURATION:
		u->actual = reply(u, &d->configuration, 1);
		return 0;
	case REQ_SET_CONFIGURATION:
		if (value != 0 && value != d->desc.config[5])
			return -EPIPE;
		d->configuration = (uint8_t)value;
		d->info.b_configuration_value = (uint8_t)value;
		d->halted_in = d->halted_out = 0;
		return 0;
	case REQ_GET_INTERFACE:
		u->actual = reply(u, status, 1);
		return 0;
	case REQ_SET_INTERFACE:
		/* every interface here has only alternate setting 0 */
		return value == 0 ? 0 : -EPIPE;
	}
	return -EPIPE;
}

void vdev_reset(struct vdev *d)
{
	d->configuration = 0;
	d->info.b_configuration_value = 0;
	d->halted_in = d->halted_out = 0;
	if (d->ops->reset)
		d->ops->reset(d);
}

void vdev_submit(struct vdev *d, struct vdev_urb *u)
{
	u->actual = 0;
	u->status = 0;
	if (u->ep == 0) {
		if ((u->setup[0] & USB_TYPE_MASK) == USB_TYPE_STANDARD)
			u->status = standard_request(d, u);
		else
			u->status = d->ops->control ? d->ops->control(d, u) : -EPIPE;
		return;
	}
	if ((u->direction == USBIP_DIR_IN ? d->halted_in : d->halted_out) & (1u << u->ep)) {
		u->status = -EPIPE;
		return;
	}
	if (!d->configuration) {
		/* an unconfigured device has no bulk endpoints yet */
		u->status = -EPIPE;
		return;
	}
	d->ops->bulk(d, u);
}
