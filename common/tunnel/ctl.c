/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tunnel/ctl.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/usbws_err.h"
#include "base/utf8.h"
#include "tunnel/resume.h"

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

/* Adds "window" to o when there is one. */
static json_t *with_window(json_t *o, uint64_t window)
{
	if (o && window)
		json_object_set_new(o, "window", json_integer((json_int_t)window));
	return o;
}

/* Only the exported device: the node's other devices are its own business,
 * and no one on the proxy's side is shown them (doc/protocol.md). */

char *ctl_hello_export(const struct usbip_usb_device *dev, const struct usbip_usb_interface *ifs,
		       const char *serial, uint64_t window)
{
	json_t *device = ctl_device_json(dev, ifs, NULL);

	/* the proxy derives the device's stable address from it */
	if (device && serial && serial[0])
		json_object_set_new(device, "serial", json_string(serial));
	return dump(with_window(json_pack("{s:s, s:i, s:s, s:o}", "type", "hello", "version", USBWS_CTL_VERSION,
					  "role", "export", "device", device),
				window));
}

char *ctl_hello_list(void)
{
	return dump(json_pack("{s:s, s:i, s:s}", "type", "hello", "version", USBWS_CTL_VERSION, "role", "list"));
}

char *ctl_welcome(const char *node, const char *busid, const char *session, unsigned int resume_seconds,
		  uint64_t window)
{
	if (!session)
		return dump(json_pack("{s:s, s:i, s:s, s:s}", "type", "welcome", "version", USBWS_CTL_VERSION,
				      "node", node, "busid", busid));
	return dump(with_window(json_pack("{s:s, s:i, s:s, s:s, s:s, s:i}", "type", "welcome", "version",
					  USBWS_CTL_VERSION, "node", node, "busid", busid, "session", session,
					  "resume_seconds", (int)resume_seconds),
				window));
}

char *ctl_hello_resume(const char *session, uint64_t received, uint64_t window)
{
	return dump(
		with_window(json_pack("{s:s, s:i, s:s, s:s, s:I}", "type", "hello", "version", USBWS_CTL_VERSION,
				      "role", "resume", "session", session, "received", (json_int_t)received),
			    window));
}

char *ctl_resumed(uint64_t received, uint64_t window)
{
	return dump(
		with_window(json_pack("{s:s, s:I}", "type", "resumed", "received", (json_int_t)received), window));
}

char *ctl_ack(uint64_t received)
{
	return dump(json_pack("{s:s, s:I}", "type", "ack", "received", (json_int_t)received));
}

char *ctl_error(const char *code, const char *message)
{
	return dump(json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "message", message));
}

char *ctl_error_fresh(const char *code, const char *message)
{
	return dump(json_pack("{s:s, s:s, s:s, s:o}", "type", "error", "code", code, "message", message, "fresh",
			      json_true()));
}

static int copy_string(json_t *o, const char *key, char *dst, size_t size, char *why, size_t why_cap)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "field \"%s\" missing or not a string", key);
	if (json_string_length(v) >= size)
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "field \"%s\" longer than %zu bytes", key, size - 1);
	/* every field ends up in a log line or on a terminal: the peer's
	 * control characters (JSON lets it escape any) are masked there */
	log_printable(dst, size, json_string_value(v), json_string_length(v));
	return 0;
}

/* As copy_string, for a sentence meant for a log: a longer one is cut
 * (marked "...") rather than refused, so the reason still arrives. */
static int copy_string_cut(json_t *o, const char *key, char *dst, size_t size, char *why, size_t why_cap)
{
	json_t *v = json_object_get(o, key);
	size_t len;

	if (!json_is_string(v))
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "field \"%s\" missing or not a string", key);
	len = json_string_length(v);
	if (len < size)
		return copy_string(o, key, dst, size, why, why_cap);
	log_printable(dst, size - 3, json_string_value(v), len);
	strcat(dst, "...");
	return 0;
}

static int hex_field(json_t *o, const char *key, unsigned int digits, unsigned long *out)
{
	json_t *v = json_object_get(o, key);
	const char *s;
	char *end;

	if (!json_is_string(v))
		return USBWS_ERR_INVAL;
	s = json_string_value(v);
	if (strlen(s) != digits || strspn(s, "0123456789abcdefABCDEF") != digits)
		return USBWS_ERR_INVAL;
	*out = strtoul(s, &end, 16);
	return 0;
}

static int hex_byte(json_t *o, const char *key, uint8_t *out)
{
	unsigned long v;

	if (hex_field(o, key, 2, &v) < 0)
		return USBWS_ERR_INVAL;
	*out = (uint8_t)v;
	return 0;
}

/* One device object as ctl_device_json writes it, checked field by field,
 * so what a node claims is rebuilt, never passed on as it came. */
static int parse_device(json_t *o, struct usbip_usb_device *dev, struct usbip_usb_interface *ifs,
			char *why, size_t why_cap)
{
	json_t *list, *it, *v;
	unsigned long vendor, product, class;
	size_t i;

	memset(dev, 0, sizeof(*dev));
	if (!json_is_object(o))
		goto bad;
	v = json_object_get(o, "busid");
	if (!json_is_string(v) || json_string_length(v) >= sizeof(dev->busid))
		goto bad;
	log_printable(dev->busid, sizeof(dev->busid), json_string_value(v), json_string_length(v));
	if (hex_field(o, "vendor", 4, &vendor) < 0 || hex_field(o, "product", 4, &product) < 0 ||
	    hex_field(o, "class", 2, &class) < 0)
		goto bad;
	dev->id_vendor = (uint16_t)vendor;
	dev->id_product = (uint16_t)product;
	dev->b_device_class = (uint8_t)class;
	v = json_object_get(o, "speed");
	dev->speed = USBIP_SPEED_UNKNOWN;
	for (i = 0; json_is_string(v) && i <= USBIP_SPEED_SUPER_PLUS; i++)
		if (strcmp(json_string_value(v), ctl_speed_name((uint32_t)i)) == 0)
			dev->speed = (uint32_t)i;
	list = json_object_get(o, "interfaces");
	if (!json_is_array(list) || json_array_size(list) > USBIP_MAX_INTERFACES)
		goto bad;
	json_array_foreach(list, i, it) {
		if (hex_byte(it, "class", &ifs[i].b_interface_class) < 0 ||
		    hex_byte(it, "subclass", &ifs[i].b_interface_subclass) < 0 ||
		    hex_byte(it, "protocol", &ifs[i].b_interface_protocol) < 0)
			goto bad;
	}
	dev->b_num_interfaces = (uint8_t)json_array_size(list);
	return 0;
bad:
	return usbws_why(why, why_cap, USBWS_ERR_INVAL,
			 "a device needs busid, vendor and product (4 hex digits), class, and at most %d interfaces "
			 "with class, subclass and protocol (2 hex digits)", USBIP_MAX_INTERFACES);
}

static int session_field(json_t *o, char *dst, char *why, size_t why_cap)
{
	if (copy_string(o, "session", dst, CTL_SESSION_HEX + 1, why, why_cap) < 0)
		return USBWS_ERR_INVAL;
	if (strlen(dst) != CTL_SESSION_HEX || strspn(dst, "0123456789abcdef") != CTL_SESSION_HEX)
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "field \"session\" must be %d lowercase hex digits",
				 CTL_SESSION_HEX);
	return 0;
}

/* "window", when given: a byte count no smaller than the smallest resume
 * window (a peer that acknowledged less often than a quarter of it would
 * stall the sender). */
static int window_field(json_t *o, uint64_t *out, char *why, size_t why_cap)
{
	json_t *v = json_object_get(o, "window");

	*out = 0;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < RESUME_MIN_WINDOW)
		return usbws_why(why, why_cap, USBWS_ERR_INVAL,
				 "field \"window\" must be a byte count of at least %u", RESUME_MIN_WINDOW);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* A stream offset: a JSON integer from 0 up (jansson's are 63 bits). */
static int offset_field(json_t *o, uint64_t *out, char *why, size_t why_cap)
{
	json_t *v = json_object_get(o, "received");

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "field \"received\" missing or not a byte count");
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* A hello for export: the exported device.  Nodes of usbws 0.1.0 also sent
 * "devices", their unexported devices; that field is ignored unread, as the
 * proxy shows them to no one. */
/* A serial names a device for good (its stable address on the proxy): it
 * is refused, never masked, when it holds what no descriptor should. */
static int serial_field(json_t *device, char *dst, char *why, size_t why_cap)
{
	json_t *v = json_object_get(device, "serial");
	const unsigned char *s;
	size_t i, len;

	if (!v)
		return 0;
	if (!json_is_string(v))
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "field \"serial\" is not a string");
	s = (const unsigned char *)json_string_value(v);
	len = json_string_length(v);
	if (len == 0 || len > CTL_SERIAL_MAX)
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "field \"serial\" must be 1..%d bytes",
				 CTL_SERIAL_MAX);
	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return usbws_why(why, why_cap, USBWS_ERR_INVAL,
					 "field \"serial\" holds a control character at byte %zu", i);
	/* and what a terminal would take as one (C1, bidi overrides) */
	if (!utf8_printable(s, len))
		return usbws_why(why, why_cap, USBWS_ERR_INVAL,
				 "field \"serial\" holds a character that would rewrite how it is shown (C1, bidi)");
	memcpy(dst, s, len + 1);
	return 0;
}

static int parse_hello_export(json_t *hello, struct ctl_msg *msg, char *why, size_t why_cap)
{
	struct usbip_usb_device dev;
	json_t *device = json_object_get(hello, "device");

	if (parse_device(device, &dev, msg->ifs, why, why_cap) < 0 ||
	    serial_field(device, msg->serial, why, why_cap) < 0)
		return USBWS_ERR_INVAL;
	msg->nifs = dev.b_num_interfaces;
	memcpy(msg->busid, dev.busid, sizeof(msg->busid));
	return 0;
}

int ctl_parse(const char *text, size_t len, struct ctl_msg *msg, char *why, size_t why_cap)
{
	json_error_t jerr;
	json_t *o, *v;
	const char *type;
	int rc = USBWS_ERR_INVAL;

	memset(msg, 0, sizeof(msg[0]));
	if (len > USBWS_LIST_MAX)
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "control message of %zu bytes exceeds %d", len,
				 USBWS_LIST_MAX);
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "malformed JSON at line %d column %d: %s", jerr.line,
				 jerr.column, jerr.text);
	if (!json_is_object(o)) {
		usbws_why(why, why_cap, USBWS_ERR_INVAL, "control message is not a JSON object");
		goto out;
	}
	v = json_object_get(o, "type");
	if (!json_is_string(v)) {
		usbws_why(why, why_cap, USBWS_ERR_INVAL, "field \"type\" missing or not a string");
		goto out;
	}
	type = json_string_value(v);
	if (strcmp(type, "hello") == 0) {
		msg->type = CTL_HELLO;
		v = json_object_get(o, "version");
		if (!json_is_integer(v) || json_integer_value(v) != USBWS_CTL_VERSION) {
			usbws_why(why, why_cap, USBWS_ERR_INVAL, "unsupported protocol version (this side speaks %d)", USBWS_CTL_VERSION);
			goto out;
		}
		if (copy_string(o, "role", msg->role, sizeof(msg->role), why, why_cap) < 0)
			goto out;
		if (strcmp(msg->role, "export") != 0 && strcmp(msg->role, "list") != 0 &&
		    strcmp(msg->role, "resume") != 0) {
			usbws_why(why, why_cap, USBWS_ERR_INVAL, "unknown role \"%s\" (export, list or resume)", msg->role);
			goto out;
		}
		if (strcmp(msg->role, "export") == 0 && parse_hello_export(o, msg, why, why_cap) < 0)
			goto out;
		if (strcmp(msg->role, "resume") == 0 && (session_field(o, msg->session, why, why_cap) < 0 ||
							 offset_field(o, &msg->received, why, why_cap) < 0))
			goto out;
		if (strcmp(msg->role, "list") != 0 && window_field(o, &msg->window, why, why_cap) < 0)
			goto out;
	} else if (strcmp(type, "welcome") == 0) {
		msg->type = CTL_WELCOME;
		if (copy_string(o, "node", msg->node, sizeof(msg->node), why, why_cap) < 0 ||
		    copy_string(o, "busid", msg->busid, sizeof(msg->busid), why, why_cap) < 0)
			goto out;
		/* without a session the proxy does not offer resumption */
		if (json_object_get(o, "session")) {
			v = json_object_get(o, "resume_seconds");
			if (session_field(o, msg->session, why, why_cap) < 0)
				goto out;
			if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 86400) {
				usbws_why(why, why_cap, USBWS_ERR_INVAL, "field \"resume_seconds\" must be 1..86400");
				goto out;
			}
			msg->resume_seconds = (unsigned int)json_integer_value(v);
			if (window_field(o, &msg->window, why, why_cap) < 0)
				goto out;
		}
	} else if (strcmp(type, "resumed") == 0 || strcmp(type, "ack") == 0) {
		msg->type = type[0] == 'r' ? CTL_RESUMED : CTL_ACK;
		if (offset_field(o, &msg->received, why, why_cap) < 0)
			goto out;
		if (msg->type == CTL_RESUMED && window_field(o, &msg->window, why, why_cap) < 0)
			goto out;
	} else if (strcmp(type, "nodes") == 0) {
		msg->type = CTL_NODES;
	} else if (strcmp(type, "error") == 0) {
		msg->type = CTL_ERROR;
		if (copy_string(o, "code", msg->code, sizeof(msg->code), why, why_cap) < 0 ||
		    copy_string_cut(o, "message", msg->message, sizeof(msg->message), why, why_cap) < 0)
			goto out;
		/* absent from an older proxy's errors: the connection closes */
		v = json_object_get(o, "fresh");
		if (v && !json_is_boolean(v)) {
			usbws_why(why, why_cap, USBWS_ERR_INVAL, "field \"fresh\" must be true or false");
			goto out;
		}
		msg->fresh = json_is_true(v);
	} else {
		usbws_why(why, why_cap, USBWS_ERR_INVAL, "unknown message type \"%.40s\"", type);
		goto out;
	}
	rc = 0;
out:
	json_decref(o);
	return rc;
}
