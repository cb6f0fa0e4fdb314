/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ctl.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usbws_err.h"

const char *ctl_speed_name(uint32_t speed)
{
	static const char *const names[] = { "unknown", "low", "full", "high", "wireless", "super", "super-plus" };

	return speed < sizeof(names) / sizeof(names[0]) ? names[speed] : "unknown";
}

static json_t *hex(unsigned int v, int digits)
{
	char s[8];

	snprintf(s, sizeof(s), "%0*x", digits, v);
	return json_string(s);
}

json_t *ctl_device_json(const struct usbip_usb_device *dev, const struct usbip_usb_interface *ifs,
			const char *state)
{
	json_t *o = json_object(), *list = json_array();
	unsigned int i;

	if (!o || !list) {
		json_decref(o);
		json_decref(list);
		return NULL;
	}
	for (i = 0; i < dev->b_num_interfaces; i++)
		json_array_append_new(list, json_pack("{s:o, s:o, s:o}", "class", hex(ifs[i].b_interface_class, 2),
						       "subclass", hex(ifs[i].b_interface_subclass, 2),
						       "protocol", hex(ifs[i].b_interface_protocol, 2)));
	json_object_set_new(o, "busid", json_string(dev->busid));
	json_object_set_new(o, "vendor", hex(dev->id_vendor, 4));
	json_object_set_new(o, "product", hex(dev->id_product, 4));
	json_object_set_new(o, "speed", json_string(ctl_speed_name(dev->speed)));
	json_object_set_new(o, "class", hex(dev->b_device_class, 2));
	json_object_set_new(o, "interfaces", list);
	if (state)
		json_object_set_new(o, "state", json_string(state));
	return o;
}

static char *dump(json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

char *ctl_hello_export(const struct usbip_usb_device *dev, const struct usbip_usb_interface *ifs)
{
	return dump(json_pack("{s:s, s:i, s:s, s:o}", "type", "hello", "version", USBWS_CTL_VERSION,
			      "role", "export", "device", ctl_device_json(dev, ifs, NULL)));
}

char *ctl_hello_list(void)
{
	return dump(json_pack("{s:s, s:i, s:s}", "type", "hello", "version", USBWS_CTL_VERSION, "role", "list"));
}

char *ctl_welcome(const char *node, const char *busid)
{
	return dump(json_pack("{s:s, s:i, s:s, s:s}", "type", "welcome", "version", USBWS_CTL_VERSION,
			      "node", node, "busid", busid));
}

char *ctl_error(const char *code, const char *message)
{
	return dump(json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "message", message));
}

static int copy_string(json_t *o, const char *key, char *dst, size_t size, char *why, size_t why_size)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v)) {
		snprintf(why, why_size, "field \"%s\" missing or not a string", key);
		return USBWS_ERR_INVAL;
	}
	if (json_string_length(v) >= size) {
		snprintf(why, why_size, "field \"%s\" longer than %zu bytes", key, size - 1);
		return USBWS_ERR_INVAL;
	}
	snprintf(dst, size, "%s", json_string_value(v));
	return 0;
}

static int hex_byte(json_t *o, const char *key, uint8_t *out)
{
	json_t *v = json_object_get(o, key);
	const char *s;
	char *end;
	unsigned long n;

	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	n = strtoul(s, &end, 16);
	if (strlen(s) != 2 || *end || n > 0xff)
		return -1;
	*out = (uint8_t)n;
	return 0;
}

/* The interface list a node's hello carries for its device. */
static int parse_interfaces(json_t *hello, struct ctl_msg *msg, char *why, size_t why_size)
{
	json_t *dev = json_object_get(hello, "device"), *list, *it;
	size_t i;

	if (!json_is_object(dev)) {
		snprintf(why, why_size, "hello for export has no \"device\" object");
		return USBWS_ERR_INVAL;
	}
	list = json_object_get(dev, "interfaces");
	if (!json_is_array(list) || json_array_size(list) > USBIP_MAX_INTERFACES) {
		snprintf(why, why_size, "device \"interfaces\" must be an array of at most %d", USBIP_MAX_INTERFACES);
		return USBWS_ERR_INVAL;
	}
	json_array_foreach(list, i, it) {
		if (hex_byte(it, "class", &msg->ifs[i].b_interface_class) < 0 ||
		    hex_byte(it, "subclass", &msg->ifs[i].b_interface_subclass) < 0 ||
		    hex_byte(it, "protocol", &msg->ifs[i].b_interface_protocol) < 0) {
			snprintf(why, why_size, "interface %zu needs class, subclass and protocol as 2-digit hex", i);
			return USBWS_ERR_INVAL;
		}
	}
	msg->nifs = (unsigned int)json_array_size(list);
	return 0;
}

int ctl_parse(const char *text, size_t len, struct ctl_msg *msg, char *why, size_t why_size)
{
	json_error_t jerr;
	json_t *o, *v;
	const char *type;
	int rc = USBWS_ERR_INVAL;

	memset(msg, 0, sizeof(msg[0]));
	if (len > USBWS_CTL_MAX) {
		snprintf(why, why_size, "control message of %zu bytes exceeds %d", len, USBWS_CTL_MAX);
		return USBWS_ERR_INVAL;
	}
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o) {
		snprintf(why, why_size, "malformed JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		return USBWS_ERR_INVAL;
	}
	if (!json_is_object(o)) {
		snprintf(why, why_size, "control message is not a JSON object");
		goto out;
	}
	v = json_object_get(o, "type");
	if (!json_is_string(v)) {
		snprintf(why, why_size, "field \"type\" missing or not a string");
		goto out;
	}
	type = json_string_value(v);
	if (strcmp(type, "hello") == 0) {
		msg->type = CTL_HELLO;
		v = json_object_get(o, "version");
		if (!json_is_integer(v) || json_integer_value(v) != USBWS_CTL_VERSION) {
			snprintf(why, why_size, "unsupported protocol version (this side speaks %d)", USBWS_CTL_VERSION);
			goto out;
		}
		if (copy_string(o, "role", msg->role, sizeof(msg->role), why, why_size) < 0)
			goto out;
		if (strcmp(msg->role, "export") != 0 && strcmp(msg->role, "list") != 0) {
			snprintf(why, why_size, "unknown role \"%s\" (export or list)", msg->role);
			goto out;
		}
		if (strcmp(msg->role, "export") == 0 && parse_interfaces(o, msg, why, why_size) < 0)
			goto out;
	} else if (strcmp(type, "welcome") == 0) {
		msg->type = CTL_WELCOME;
		if (copy_string(o, "node", msg->node, sizeof(msg->node), why, why_size) < 0 ||
		    copy_string(o, "busid", msg->busid, sizeof(msg->busid), why, why_size) < 0)
			goto out;
	} else if (strcmp(type, "nodes") == 0) {
		msg->type = CTL_NODES;
	} else if (strcmp(type, "error") == 0) {
		msg->type = CTL_ERROR;
		if (copy_string(o, "code", msg->code, sizeof(msg->code), why, why_size) < 0 ||
		    copy_string(o, "message", msg->message, sizeof(msg->message), why, why_size) < 0)
			goto out;
	} else {
		snprintf(why, why_size, "unknown message type \"%.40s\"", type);
		goto out;
	}
	rc = 0;
out:
	json_decref(o);
	return rc;
}
