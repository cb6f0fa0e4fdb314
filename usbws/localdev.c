/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "localdev.h"

#include <jansson.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/ctl.h"
#include "base/log.h"
#include "base/usbws_err.h"
#include "kernel/sysfs.h"
#include "kernel/usbdev.h"
#include "usbip/usbip_proto.h"

static json_t *device_json(const struct usbdev *d)
{
	json_t *o = ctl_device_json(&d->info, d->ifs, usbdev_state(d));

	json_object_set_new(o, "vendor_name", json_string(d->vendor_name));
	json_object_set_new(o, "product_name", json_string(d->product_name));
	json_object_set_new(o, "driver", d->driver[0] ? json_string(d->driver) : json_null());
	return o;
}

static int add_device(void *ctx, const struct usbdev *d)
{
	return json_array_append_new(ctx, device_json(d)) == 0 ? 0 : USBWS_ERR_NOMEM;
}

int localdev_json(json_t **out)
{
	json_t *devices = json_array();
	int rc;

	*out = NULL;
	if (!devices)
		return USBWS_ERR_NOMEM;
	rc = usbdev_scan(add_device, devices);
	if (rc < 0 && errno != ENOENT) {
		json_decref(devices);
		return rc;
	}
	*out = devices;
	return 0;
}

int localdev_list(FILE *out, int json)
{
	json_t *devices, *d;
	size_t i;

	if (localdev_json(&devices) < 0) {
		log_err("cannot list USB devices under %s/bus/usb/devices: %s", sysfs_root(), strerror(errno));
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
		const char *vname = json_string_value(json_object_get(d, "vendor_name"));
		const char *pname = json_string_value(json_object_get(d, "product_name"));

		fprintf(out, "%-12s %s:%s  %-10s class %s  %-12s %-9s %s%s%s\n",
			json_string_value(json_object_get(d, "busid")), json_string_value(json_object_get(d, "vendor")),
			json_string_value(json_object_get(d, "product")), json_string_value(json_object_get(d, "speed")),
			json_string_value(json_object_get(d, "class")), json_is_string(drv) ? json_string_value(drv) : "-",
			json_string_value(json_object_get(d, "state")), *vname ? vname : "unknown vendor",
			" : ", *pname ? pname : "unknown product");
	}
	if (json_array_size(devices) == 0)
		fprintf(out, "no USB devices on this node\n");
	json_decref(devices);
	return 0;
}
