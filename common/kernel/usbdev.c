/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "kernel/usbdev.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/usbws_err.h"
#include "kernel/sysfs.h"
#include "kernel/usbids.h"

#define USB_CLASS_HUB 0x09
#define STUB_DRIVER "usbip-host"

static unsigned long attr(const char *busid, const char *name, int base)
{
	unsigned long v;

	return sysfs_read_ulong(&v, base, "bus/usb/devices/%s/%s", busid, name) < 0 ? 0 : v;
}

/* sysfs gives the speed in Mb/s */
static uint32_t speed_of(const char *busid)
{
	char v[16];

	if (sysfs_read(v, sizeof(v), "bus/usb/devices/%s/speed", busid) < 0)
		return USBIP_SPEED_UNKNOWN;
	if (strcmp(v, "1.5") == 0)
		return USBIP_SPEED_LOW;
	switch (strtoul(v, NULL, 10)) {
	case 12: return USBIP_SPEED_FULL;
	case 480: return USBIP_SPEED_HIGH;
	case 5000: return USBIP_SPEED_SUPER;
	case 10000:
	case 20000: return USBIP_SPEED_SUPER_PLUS;
	default: return USBIP_SPEED_UNKNOWN;
	}
}

struct iface_scan {
	struct usbdev *d;
	size_t prefix_len;
	unsigned int n;
};

static int add_interface(void *ctx, const char *name)
{
	struct iface_scan *s = ctx;
	struct usbip_usb_interface *i;
	const char *busid = s->d->info.busid;

	/* interfaces are BUSID:CONFIG.NUMBER */
	if (strncmp(name, busid, s->prefix_len) != 0 || name[s->prefix_len] != ':')
		return 0;
	if (s->n == USBIP_MAX_INTERFACES)
		return 0;
	i = &s->d->ifs[s->n++];
	i->b_interface_class = (uint8_t)attr(name, "bInterfaceClass", 16);
	i->b_interface_subclass = (uint8_t)attr(name, "bInterfaceSubClass", 16);
	i->b_interface_protocol = (uint8_t)attr(name, "bInterfaceProtocol", 16);
	return 0;
}

int usbdev_read(const char *busid, struct usbdev *d)
{
	struct usbip_usb_device *u = &d->info;
	struct iface_scan scan;

	memset(d, 0, sizeof(*d));
	if (strlen(busid) >= sizeof(u->busid) || strchr(busid, '/') || strchr(busid, ':') || busid[0] == '.') {
		errno = EINVAL;
		return USBWS_ERR_SYSTEM;
	}
	if (!sysfs_exists("bus/usb/devices/%s/idVendor", busid)) {
		errno = ENODEV;
		return USBWS_ERR_SYSTEM;
	}
	snprintf(u->busid, sizeof(u->busid), "%s", busid);
	if (sysfs_resolve(u->path, sizeof(u->path), "bus/usb/devices/%s", busid) < 0)
		snprintf(u->path, sizeof(u->path), "/sys/bus/usb/devices/%s", busid);
	u->busnum = (uint32_t)attr(busid, "busnum", 10);
	u->devnum = (uint32_t)attr(busid, "devnum", 10);
	u->speed = speed_of(busid);
	u->id_vendor = (uint16_t)attr(busid, "idVendor", 16);
	u->id_product = (uint16_t)attr(busid, "idProduct", 16);
	u->bcd_device = (uint16_t)attr(busid, "bcdDevice", 16);
	u->b_device_class = (uint8_t)attr(busid, "bDeviceClass", 16);
	u->b_device_subclass = (uint8_t)attr(busid, "bDeviceSubClass", 16);
	u->b_device_protocol = (uint8_t)attr(busid, "bDeviceProtocol", 16);
	u->b_configuration_value = (uint8_t)attr(busid, "bConfigurationValue", 10);
	u->b_num_configurations = (uint8_t)attr(busid, "bNumConfigurations", 10);
	scan.d = d;
	scan.prefix_len = strlen(busid);
	scan.n = 0;
	sysfs_list(add_interface, &scan, "bus/usb/devices/%s", busid);
	u->b_num_interfaces = (uint8_t)scan.n;
	/* the stable part of the device's address on the proxy; a serial
	 * the kernel shows with control characters is no identity */
	if (sysfs_read(d->serial, sizeof(d->serial), "bus/usb/devices/%s/serial", busid) < 0 ||
	    strcspn(d->serial,
		    "\x01\x02\x03\x04\x05\x06\x07\x08\t\n\v\f\r\x0e\x0f\x10\x11\x12\x13\x14\x15"
		    "\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f") != strlen(d->serial))
		d->serial[0] = '\0';
	if (sysfs_link_name(d->driver, sizeof(d->driver), "bus/usb/devices/%s/driver", busid) < 0)
		d->driver[0] = '\0';
	d->stub_status = strcmp(d->driver, STUB_DRIVER) == 0 ? usbdev_stub_status(busid) : STUB_NOT_BOUND;
	d->is_hub = u->b_device_class == USB_CLASS_HUB;
	d->on_vhci = strstr(u->path, "/vhci_hcd.") != NULL;
	usbids_lookup(u->id_vendor, u->id_product, d->vendor_name, sizeof(d->vendor_name), d->product_name,
		      sizeof(d->product_name));
	return 0;
}

struct dev_scan {
	int (*fn)(void *ctx, const struct usbdev *d);
	void *ctx;
	struct usbdev d;
};

static int visit(void *ctx, const char *name)
{
	struct dev_scan *s = ctx;

	if (strchr(name, ':') || usbdev_read(name, &s->d) < 0)
		return 0;
	return s->fn(s->ctx, &s->d);
}

int usbdev_scan(int (*fn)(void *ctx, const struct usbdev *d), void *ctx)
{
	struct dev_scan *s = malloc(sizeof(*s));
	int rc;

	if (!s)
		return USBWS_ERR_NOMEM;
	s->fn = fn;
	s->ctx = ctx;
	rc = sysfs_list(visit, s, "bus/usb/devices");
	free(s);
	return rc;
}

const char *usbdev_refusal(const struct usbdev *d)
{
	if (d->is_hub)
		return "it is a hub; usbip-host does not export hubs, export the devices behind it";
	if (d->on_vhci)
		return "it is attached through vhci_hcd (imported from elsewhere); exporting it again would loop";
	return NULL;
}

const char *usbdev_state(const struct usbdev *d)
{
	static const char *const stub[] = { "available", "bound", "exported", "error" };

	if (d->is_hub)
		return "hub";
	if (d->on_vhci)
		return "imported";
	if (d->stub_status < 0 || d->stub_status > STUB_ERROR)
		return "error";
	return stub[d->stub_status];
}

int usbdev_stub_status(const char *busid)
{
	unsigned long v;

	if (sysfs_read_ulong(&v, 10, "bus/usb/devices/%s/usbip_status", busid) < 0)
		return STUB_NOT_BOUND;
	return v <= STUB_ERROR ? (int)v : STUB_ERROR;
}

static int match_busid(const char *verb, const char *busid)
{
	char line[64];

	snprintf(line, sizeof(line), "%s %s", verb, busid);
	return sysfs_write(line, "bus/usb/drivers/" STUB_DRIVER "/match_busid");
}

int usbdev_bind(const char *busid, char *orig, size_t orig_cap, char *why, size_t why_cap)
{
	struct usbdev d;
	const char *refusal;
	int rc;

	orig[0] = '\0';
	rc = usbdev_read(busid, &d);
	if (rc < 0)
		return usbws_why(why, why_cap, rc, "no USB device %s: %s", busid, strerror(errno));
	refusal = usbdev_refusal(&d);
	if (refusal)
		return usbws_why(why, why_cap, USBWS_ERR_NOT_EXPORTABLE, "%s cannot be exported: %s", busid, refusal);
	if (strcmp(d.driver, STUB_DRIVER) == 0)
		return 0;
	if (!sysfs_exists("bus/usb/drivers/" STUB_DRIVER))
		return usbws_why(why, why_cap, USBWS_ERR_NO_DRIVER,
				 "the usbip-host driver is not loaded (modprobe usbip-host)");
	if (match_busid("add", busid) < 0)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "usbip-host refused match_busid add %s: %s", busid,
				 strerror(errno));
	if (d.driver[0] && sysfs_write(busid, "bus/usb/drivers/%s/unbind", d.driver) < 0) {
		rc = usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "cannot unbind %s from %s: %s", busid, d.driver,
			       strerror(errno));
		match_busid("del", busid);
		return rc;
	}
	if (sysfs_write(busid, "bus/usb/drivers/" STUB_DRIVER "/bind") < 0) {
		rc = usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "usbip-host refused to bind %s: %s", busid,
			       strerror(errno));
		match_busid("del", busid);
		if (d.driver[0])
			sysfs_write(busid, "bus/usb/drivers/%s/bind", d.driver);
		return rc;
	}
	snprintf(orig, orig_cap, "%s", d.driver);
	return 0;
}

int usbdev_unbind(const char *busid, const char *orig, char *why, size_t why_cap)
{
	char driver[64];

	if (sysfs_link_name(driver, sizeof(driver), "bus/usb/devices/%s/driver", busid) >= 0 &&
	    strcmp(driver, STUB_DRIVER) == 0 && sysfs_write(busid, "bus/usb/drivers/" STUB_DRIVER "/unbind") < 0)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "usbip-host refused to unbind %s: %s", busid,
				 strerror(errno));
	if (match_busid("del", busid) < 0 && errno != ENODEV && errno != ENOENT)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "usbip-host refused match_busid del %s: %s", busid,
				 strerror(errno));
	/* rebind makes the driver core probe the device again, as usbip does */
	if (sysfs_write(busid, "bus/usb/drivers/" STUB_DRIVER "/rebind") < 0 &&
	    sysfs_write(busid, "bus/usb/drivers_probe") < 0)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "cannot have %s probed again: %s", busid,
				 strerror(errno));
	if (orig && orig[0] && strcmp(orig, STUB_DRIVER) != 0 &&
	    (sysfs_link_name(driver, sizeof(driver), "bus/usb/devices/%s/driver", busid) < 0 ||
	     strcmp(driver, orig) != 0) &&
	    sysfs_write(busid, "bus/usb/drivers/%s/bind", orig) < 0)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "%s did not go back to %s: %s", busid, orig,
				 strerror(errno));
	return 0;
}

int usbdev_give_socket(const char *busid, int fd, char *why, size_t why_cap)
{
	char num[16];

	snprintf(num, sizeof(num), "%d", fd);
	if (sysfs_write(num, "bus/usb/devices/%s/usbip_sockfd", busid) < 0)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "usbip-host refused the socket for %s: %s", busid,
				 strerror(errno));
	return 0;
}
