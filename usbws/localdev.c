/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "localdev.h"

#include <jansson.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "table.h"
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

static int print_table(json_t *devices, FILE *out)
{
	static const struct table_column cols[] = {
		{ "BUSID", TABLE_LEFT },
		{ "VID:PID", TABLE_LEFT },
		{ "SPEED", TABLE_LEFT },
		{ "CLASS", TABLE_LEFT },
		{ "DRIVER", TABLE_LEFT },
		{ "STATE", TABLE_LEFT },
		{ "VENDOR : PRODUCT", TABLE_LEFT },
	};
	struct table *t = table_new(cols, sizeof(cols) / sizeof(cols[0]));
	json_t *d;
	size_t i;

	json_array_foreach(devices, i, d)
	{
		char id[32], name[512];
		const char *row[] = { admin_str(d, "busid"),
				      id,
				      admin_str(d, "speed"),
				      admin_str(d, "class"),
				      admin_str(d, "driver"),
				      admin_str(d, "state"),
				      name };

		admin_vid_pid(id, sizeof(id), d);
		snprintf(name, sizeof(name), "%s : %s",
			 *admin_str(d, "vendor_name") ? admin_str(d, "vendor_name") : "unknown vendor",
			 *admin_str(d, "product_name") ? admin_str(d, "product_name") : "unknown product");
		if (t && table_add(t, row) < 0) {
			table_free(t);
			t = NULL;
		}
	}
	return admin_table_done(t, out);
}

int localdev_list(FILE *out, int json)
{
	json_t *devices;
	int rc;

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
	if (json_array_size(devices) == 0) {
		fprintf(out, "no USB devices on this node\n");
		json_decref(devices);
		return 0;
	}
	rc = print_table(devices, out);
	json_decref(devices);
	return rc;
}
