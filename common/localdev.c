/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "localdev.h"

#include <jansson.h>
#include <libudev.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "log.h"
#include "usbip_proto.h"

static unsigned long attr_hex(struct udev_device *d, const char *name)
{
	const char *v = udev_device_get_sysattr_value(d, name);

	return v ? strtoul(v, NULL, 16) : 0;
}

static unsigned long attr_dec(struct udev_device *d, const char *name)
{
	const char *v = udev_device_get_sysattr_value(d, name);

	return v ? strtoul(v, NULL, 10) : 0;
}

/* sysfs gives the speed in Mb/s */
static uint32_t speed_of(struct udev_device *d)
{
	const char *v = udev_device_get_sysattr_value(d, "speed");
	unsigned long mbps = v ? strtoul(v, NULL, 10) : 0;

	if (!v)
		return USBIP_SPEED_UNKNOWN;
	if (strcmp(v, "1.5") == 0)
		return USBIP_SPEED_LOW;
	return mbps == 12 ? USBIP_SPEED_FULL : mbps == 480 ? USBIP_SPEED_HIGH :
	       mbps == 5000 ? USBIP_SPEED_SUPER : mbps >= 10000 ? USBIP_SPEED_SUPER_PLUS : USBIP_SPEED_UNKNOWN;
}

static void read_interfaces(struct udev *udev, struct udev_device *dev, struct usbip_usb_device *info,
			    struct usbip_usb_interface *ifs)
{
	struct udev_enumerate *e = udev_enumerate_new(udev);
	struct udev_list_entry *it;
	unsigned int n = 0;

	udev_enumerate_add_match_parent(e, dev);
	udev_enumerate_add_match_subsystem(e, "usb");
	udev_enumerate_add_match_property(e, "DEVTYPE", "usb_interface");
	udev_enumerate_scan_devices(e);
	udev_list_entry_foreach(it, udev_enumerate_get_list_entry(e)) {
		struct udev_device *i = udev_device_new_from_syspath(udev, udev_list_entry_get_name(it));

		if (!i)
			continue;
		if (n < USBIP_MAX_INTERFACES && attr_dec(i, "bAlternateSetting") == 0) {
			ifs[n].b_interface_class = (uint8_t)attr_hex(i, "bInterfaceClass");
			ifs[n].b_interface_subclass = (uint8_t)attr_hex(i, "bInterfaceSubClass");
			ifs[n].b_interface_protocol = (uint8_t)attr_hex(i, "bInterfaceProtocol");
			n++;
		}
		udev_device_unref(i);
	}
	udev_enumerate_unref(e);
	info->b_num_interfaces = (uint8_t)n;
}

json_t *localdev_json(void)
{
	struct udev *udev = udev_new();
	struct udev_enumerate *e;
	struct udev_list_entry *it;
	json_t *devices;

	if (!udev)
		return NULL;
	devices = json_array();
	e = udev_enumerate_new(udev);
	udev_enumerate_add_match_subsystem(e, "usb");
	udev_enumerate_add_match_property(e, "DEVTYPE", "usb_device");
	udev_enumerate_scan_devices(e);
	udev_list_entry_foreach(it, udev_enumerate_get_list_entry(e)) {
		struct udev_device *d = udev_device_new_from_syspath(udev, udev_list_entry_get_name(it));
		struct usbip_usb_interface ifs[USBIP_MAX_INTERFACES];
		struct usbip_usb_device info;
		const char *driver;
		json_t *o;

		if (!d)
			continue;
		memset(&info, 0, sizeof(info));
		memset(ifs, 0, sizeof(ifs));
		snprintf(info.busid, sizeof(info.busid), "%s", udev_device_get_sysname(d));
		info.id_vendor = (uint16_t)attr_hex(d, "idVendor");
		info.id_product = (uint16_t)attr_hex(d, "idProduct");
		info.b_device_class = (uint8_t)attr_hex(d, "bDeviceClass");
		info.speed = speed_of(d);
		read_interfaces(udev, d, &info, ifs);
		driver = udev_device_get_driver(d);
		o = ctl_device_json(&info, ifs, NULL);
		json_object_set_new(o, "driver", driver ? json_string(driver) : json_null());
		json_array_append_new(devices, o);
		udev_device_unref(d);
	}
	udev_enumerate_unref(e);
	udev_unref(udev);
	return devices;
}

int localdev_list(FILE *out, int json)
{
	json_t *devices = localdev_json(), *d;
	size_t i;

	if (!devices) {
		log_err("cannot open libudev");
		return 1;
	}
	if (json) {
		json_t *root = json_pack("{s:o}", "devices", devices);

		json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', out);
		json_decref(root);
		return 0;
	}
	json_array_foreach(devices, i, d) {
		json_t *drv = json_object_get(d, "driver");

		fprintf(out, "%-12s %s:%s  %-10s class %s  %s\n", json_string_value(json_object_get(d, "busid")),
			json_string_value(json_object_get(d, "vendor")), json_string_value(json_object_get(d, "product")),
			json_string_value(json_object_get(d, "speed")), json_string_value(json_object_get(d, "class")),
			json_is_string(drv) ? json_string_value(drv) : "-");
	}
	if (json_array_size(devices) == 0)
		fprintf(out, "no USB devices on this node\n");
	json_decref(devices);
	return 0;
}
