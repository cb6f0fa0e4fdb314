/* SPDX-License-Identifier: GPL-2.0-or-later */
/* JSON control messages: what is built, what is accepted, and the exact
 * reason for what is refused. */
#include "testutil.h"

#include <jansson.h>
#include <string.h>

#include "tunnel/ctl.h"

static void test_hello_roundtrip(void **state)
{
	struct usbip_exported_device d = make_device(3, 2);
	struct ctl_msg msg;
	char why[256], *text;
	json_t *o;

	text = ctl_hello_export(&d.udev, d.interfaces, "FP-0042 rev.B", 4u << 20);
	assert_non_null(text);
	assert_usbws_err(ctl_parse(text, strlen(text), &msg, why, sizeof(why)), 0);
	assert_int_equal(msg.type, CTL_HELLO);
	assert_string_equal(msg.role, "export");
	assert_true(msg.window == 4u << 20);
	assert_string_equal(msg.serial, "FP-0042 rev.B");
	assert_int_equal(msg.nifs, 2);
	assert_int_equal(msg.ifs[1].b_interface_class, 0x09);
	/* the node's other devices stay on the node */
	o = json_loads(text, 0, NULL);
	assert_null(json_object_get(o, "devices"));
	json_decref(o);
	free(text);
	/* a device without a serial says nothing of one */
	text = ctl_hello_export(&d.udev, d.interfaces, NULL, 0);
	assert_null(strstr(text, "serial"));
	/* nor of a window when it has none to tell (an older node's hello) */
	assert_null(strstr(text, "window"));
	assert_usbws_err(ctl_parse(text, strlen(text), &msg, why, sizeof(why)), 0);
	assert_string_equal(msg.serial, "");
	assert_true(msg.window == 0);
	free(text);
}

/* A serial becomes part of a stable address: refused, never masked. */
static void test_serial_refusals(void **state)
{
	static const struct {
		const char *serial_json, *why;
	} cases[] = {
		{ "42", "field \"serial\" is not a string" },
		{ "\"\"", "field \"serial\" must be 1..126 bytes" },
		{ "\"ab\\u0007cd\"", "field \"serial\" holds a control character at byte 2" },
		{ "\"ab\\u007f\"", "field \"serial\" holds a control character at byte 2" },
		{ "\"ab\\u0085\"",
		  "field \"serial\" holds a character that would rewrite how it is shown (C1, bidi)" },
		{ "\"ab\\u202ecd\"",
		  "field \"serial\" holds a character that would rewrite how it is shown (C1, bidi)" },
	};
	char text[600], why[256], longer[CTL_SERIAL_MAX + 4];
	struct ctl_msg msg;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text),
			 "{\"type\":\"hello\",\"version\":1,\"role\":\"export\","
			 "\"device\":{\"busid\":\"1-1\",\"vendor\":\"0525\",\"product\":\"a4a5\","
			 "\"class\":\"00\",\"interfaces\":[],\"serial\":%s}}",
			 cases[i].serial_json);
		assert_usbws_err(ctl_parse(text, strlen(text), &msg, why, sizeof(why)), USBWS_ERR_INVAL);
		assert_string_equal(why, cases[i].why);
	}
	memset(longer, 'x', CTL_SERIAL_MAX + 1);
	longer[CTL_SERIAL_MAX + 1] = 0;
	snprintf(text, sizeof(text),
		 "{\"type\":\"hello\",\"version\":1,\"role\":\"export\","
		 "\"device\":{\"busid\":\"1-1\",\"vendor\":\"0525\",\"product\":\"a4a5\","
		 "\"class\":\"00\",\"interfaces\":[],\"serial\":\"%s\"}}",
		 longer);
	assert_usbws_err(ctl_parse(text, strlen(text), &msg, why, sizeof(why)), USBWS_ERR_INVAL);
	assert_string_equal(why, "field \"serial\" must be 1..126 bytes");
	longer[CTL_SERIAL_MAX] = 0;
	snprintf(text, sizeof(text),
		 "{\"type\":\"hello\",\"version\":1,\"role\":\"export\","
		 "\"device\":{\"busid\":\"1-1\",\"vendor\":\"0525\",\"product\":\"a4a5\","
		 "\"class\":\"00\",\"interfaces\":[],\"serial\":\"%s\"}}",
		 longer);
	assert_usbws_err(ctl_parse(text, strlen(text), &msg, why, sizeof(why)), 0);
	assert_string_equal(msg.serial, longer);
}

/* What a node of 0.1.0 sent: its own devices, malformed or not, are not
 * read, so they reach no listing, and the hello is still taken. */
static void test_old_hello_devices_ignored(void **state)
{
	static const char *const hellos[] = {
		"{\"type\":\"hello\",\"version\":1,\"role\":\"export\","
		"\"device\":{\"busid\":\"1-1\",\"vendor\":\"0525\",\"product\":\"a4a5\",\"speed\":\"high\","
		"\"class\":\"00\",\"interfaces\":[]},"
		"\"devices\":[{\"busid\":\"2-1\",\"vendor\":\"046d\",\"product\":\"c52b\",\"speed\":\"full\","
		"\"class\":\"00\",\"interfaces\":[],\"state\":\"imported\",\"evil\":\"<script>\"}]}",
		"{\"type\":\"hello\",\"version\":1,\"role\":\"export\",\"device\":{\"busid\":\"1-1\","
		"\"vendor\":\"0525\",\"product\":\"a4a5\",\"class\":\"00\",\"interfaces\":[]},\"devices\":{}}",
	};
	struct ctl_msg msg;
	char why[256];
	size_t i;

	for (i = 0; i < sizeof(hellos) / sizeof(hellos[0]); i++) {
		assert_usbws_err(ctl_parse(hellos[i], strlen(hellos[i]), &msg, why, sizeof(why)), 0);
		assert_string_equal(msg.role, "export");
		assert_int_equal(msg.nifs, 0);
	}
}

/* A listing's size is bounded from its device count (USBWS_LIST_MAX): the
 * largest device object must fit CTL_DEVICE_JSON_MAX. */
static void test_device_json_bound(void **state)
{
	struct usbip_exported_device d = make_device(0xffff, USBIP_MAX_INTERFACES);
	json_t *o;
	char *s;

	memset(d.udev.busid, '9', sizeof(d.udev.busid) - 1);
	d.udev.busid[sizeof(d.udev.busid) - 1] = 0;
	d.udev.speed = USBIP_SPEED_SUPER_PLUS;
	o = ctl_device_json(&d.udev, d.interfaces, "imported");
	s = json_dumps(o, JSON_COMPACT);
	assert_non_null(s);
	print_message("# largest device object: %zu bytes\n", strlen(s));
	assert_true(strlen(s) + 1 <= CTL_DEVICE_JSON_MAX);
	free(s);
	json_decref(o);
}

static void test_other_messages(void **state)
{
	struct ctl_msg msg;
	char why[256], *text;

	text = ctl_welcome("node-1", "4-1", NULL, 0, 1u << 20);
	assert_usbws_err(ctl_parse(text, strlen(text), &msg, why, sizeof(why)), 0);
	assert_int_equal(msg.type, CTL_WELCOME);
	assert_string_equal(msg.node, "node-1");
	assert_string_equal(msg.busid, "4-1");
	assert_string_equal(msg.session, "");
	/* no session, nothing kept, no window to tell */
	assert_true(msg.window == 0);
	free(text);
	text = ctl_welcome("node-1", "4-1", "0123456789abcdef0123456789abcdef", 60, 1u << 20);
	assert_usbws_err(ctl_parse(text, strlen(text), &msg, why, sizeof(why)), 0);
	assert_string_equal(msg.session, "0123456789abcdef0123456789abcdef");
	assert_int_equal(msg.resume_seconds, 60);
	assert_true(msg.window == 1u << 20);
	free(text);
	/* offsets past 2^32: a long-lived tunnel moves more than 4 GiB */
	text = ctl_hello_resume("0123456789abcdef0123456789abcdef", 5000000000ull, 1u << 30);
	assert_usbws_err(ctl_parse(text, strlen(text), &msg, why, sizeof(why)), 0);
	assert_string_equal(msg.role, "resume");
	assert_true(msg.received == 5000000000ull);
	assert_true(msg.window == 1u << 30);
	free(text);
	text = ctl_resumed(7, 256u << 10);
	assert_usbws_err(ctl_parse(text, strlen(text), &msg, why, sizeof(why)), 0);
	assert_int_equal(msg.type, CTL_RESUMED);
	assert_true(msg.received == 7);
	assert_true(msg.window == 256u << 10);
	free(text);
	text = ctl_ack(65536);
	assert_usbws_err(ctl_parse(text, strlen(text), &msg, why, sizeof(why)), 0);
	assert_int_equal(msg.type, CTL_ACK);
	assert_true(msg.received == 65536);
	free(text);
	text = ctl_error("usbip", "USB/IP protocol violation");
	assert_usbws_err(ctl_parse(text, strlen(text), &msg, why, sizeof(why)), 0);
	assert_int_equal(msg.type, CTL_ERROR);
	assert_string_equal(msg.code, "usbip");
	/* without "fresh" (every error an older proxy sends) the connection closes */
	assert_false(msg.fresh);
	free(text);
	/* a peer's text cannot forge log lines: control characters are masked */
	text = ctl_error("usbip", "bad\nusbws: error: forged\t\x1b[2J");
	assert_usbws_err(ctl_parse(text, strlen(text), &msg, why, sizeof(why)), 0);
	assert_string_equal(msg.message, "bad?usbws: error: forged??[2J");
	free(text);
	text = ctl_hello_list();
	assert_usbws_err(ctl_parse(text, strlen(text), &msg, why, sizeof(why)), 0);
	assert_string_equal(msg.role, "list");
	free(text);
}

/* The error that keeps the connection open for an export afresh, as built
 * and as a peer may write it. */
static void test_error_fresh(void **state)
{
	/* want: 1 or 0, or -1 for a refusal ("fresh" must be a JSON boolean) */
	static const struct {
		const char *name, *fresh_json;
		int want;
	} rows[] = {
		{ "fresh", ",\"fresh\":true", 1 },
		{ "explicitly not fresh", ",\"fresh\":false", 0 },
		{ "an older proxy's, without the field", "", 0 },
		{ "fresh as a string", ",\"fresh\":\"yes\"", -1 },
		{ "fresh as a number", ",\"fresh\":1", -1 },
		{ "fresh as null", ",\"fresh\":null", -1 },
	};
	struct ctl_msg msg;
	char why[256], json[200], *text;
	json_t *o;
	size_t i;

	(void)state;
	text = ctl_error_fresh("no-session", "no session 00112233... for node n here");
	assert_non_null(text);
	assert_usbws_err(ctl_parse(text, strlen(text), &msg, why, sizeof(why)), 0);
	assert_int_equal(msg.type, CTL_ERROR);
	assert_string_equal(msg.code, "no-session");
	assert_string_equal(msg.message, "no session 00112233... for node n here");
	assert_true(msg.fresh);
	/* a JSON true, which is what an older node ignores unread */
	o = json_loads(text, 0, NULL);
	assert_true(json_is_true(json_object_get(o, "fresh")));
	json_decref(o);
	free(text);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		print_message("# %s\n", rows[i].name);
		snprintf(json, sizeof(json), "{\"type\":\"error\",\"code\":\"no-session\",\"message\":\"m\"%s}",
			 rows[i].fresh_json);
		if (rows[i].want < 0) {
			assert_usbws_err(ctl_parse(json, strlen(json), &msg, why, sizeof(why)), USBWS_ERR_INVAL);
			assert_string_equal(why, "field \"fresh\" must be true or false");
			continue;
		}
		assert_usbws_err(ctl_parse(json, strlen(json), &msg, why, sizeof(why)), 0);
		assert_int_equal(msg.fresh, rows[i].want);
	}
}

static void test_refusals(void **state)
{
	static const struct {
		const char *name, *json, *why;
	} rows[] = {
		{ "truncated", "{\"type\":\"hello\",",
		  "malformed JSON at line 1 column 16: string or '}' expected near end of file" },
		{ "not an object", "[1,2]", "control message is not a JSON object" },
		{ "no type", "{\"version\":1}", "field \"type\" missing or not a string" },
		{ "type not a string", "{\"type\":7}", "field \"type\" missing or not a string" },
		{ "unknown type", "{\"type\":\"reboot\"}", "unknown message type \"reboot\"" },
		{ "duplicate key", "{\"type\":\"hello\",\"type\":\"error\"}", "malformed JSON at line 1" },
		{ "wrong version", "{\"type\":\"hello\",\"version\":2,\"role\":\"list\"}",
		  "unsupported protocol version (this side speaks 1)" },
		{ "unknown role", "{\"type\":\"hello\",\"version\":1,\"role\":\"admin\"}",
		  "unknown role \"admin\" (export, list or resume)" },
		{ "resume without session", "{\"type\":\"hello\",\"version\":1,\"role\":\"resume\",\"received\":0}",
		  "field \"session\" missing or not a string" },
		{ "session in capitals",
		  "{\"type\":\"hello\",\"version\":1,\"role\":\"resume\",\"received\":0,"
		  "\"session\":\"0123456789ABCDEF0123456789ABCDEF\"}",
		  "field \"session\" must be 32 lowercase hex digits" },
		{ "negative offset", "{\"type\":\"ack\",\"received\":-1}",
		  "field \"received\" missing or not a byte count" },
		{ "offset as a string", "{\"type\":\"resumed\",\"received\":\"12\"}",
		  "field \"received\" missing or not a byte count" },
		{ "welcome with a session and no time",
		  "{\"type\":\"welcome\",\"node\":\"n\",\"busid\":\"1-1\","
		  "\"session\":\"0123456789abcdef0123456789abcdef\"}",
		  "field \"resume_seconds\" must be 1..86400" },
		{ "export without device", "{\"type\":\"hello\",\"version\":1,\"role\":\"export\"}",
		  "a device needs busid, vendor and product" },
		{ "vendor not hex",
		  "{\"type\":\"hello\",\"version\":1,\"role\":\"export\",\"device\":{\"busid\":\"1-1\","
		  "\"vendor\":\"05zz\",\"product\":\"a4a5\",\"class\":\"00\",\"interfaces\":[]}}",
		  "a device needs busid, vendor and product" },
		{ "33 interfaces", NULL, "a device needs busid" },
		{ "welcome without busid", "{\"type\":\"welcome\",\"node\":\"n\"}",
		  "field \"busid\" missing or not a string" },
		/* a window under the smallest would have the receiver acknowledge
		 * too rarely for the sender to go on */
		{ "window too small", "{\"type\":\"resumed\",\"received\":0,\"window\":65536}",
		  "field \"window\" must be a byte count of at least 262144" },
		{ "window as a string",
		  "{\"type\":\"hello\",\"version\":1,\"role\":\"resume\",\"received\":0,"
		  "\"session\":\"0123456789abcdef0123456789abcdef\",\"window\":\"1M\"}",
		  "field \"window\" must be a byte count of at least 262144" },
		{ "error code too long",
		  "{\"type\":\"error\",\"code\":\"0123456789012345678901234567890123\",\"message\":\"m\"}",
		  "field \"code\" longer than 31 bytes" },
	};
	char big[4096], why[256], *huge;
	struct ctl_msg msg;
	size_t i, k;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *json = rows[i].json;

		if (!json) {
			k = (size_t)snprintf(big, sizeof(big), "{\"type\":\"hello\",\"version\":1,\"role\":\"export\","
					     "\"device\":{\"busid\":\"1-1\",\"vendor\":\"0525\",\"product\":\"a4a5\","
					     "\"class\":\"00\",\"interfaces\":[");
			for (int j = 0; j < 33; j++)
				k += (size_t)snprintf(big + k, sizeof(big) - k, "%s{\"class\":\"08\",\"subclass\":\"06\","
						      "\"protocol\":\"50\"}", j ? "," : "");
			snprintf(big + k, sizeof(big) - k, "]}}");
			json = big;
		}
		print_message("# %s\n", rows[i].name);
		assert_usbws_err(ctl_parse(json, strlen(json), &msg, why, sizeof(why)), USBWS_ERR_INVAL);
		if (strncmp(why, rows[i].why, strlen(rows[i].why)) != 0) {
			print_error("why: %s\nwant prefix: %s\n", why, rows[i].why);
			fail();
		}
	}
	/* longer than any message, a listing included, may be */
	huge = malloc(USBWS_LIST_MAX + 1);
	assert_non_null(huge);
	memset(huge, ' ', USBWS_LIST_MAX + 1);
	assert_usbws_err(ctl_parse(huge, USBWS_LIST_MAX + 1, &msg, why, sizeof(why)), USBWS_ERR_INVAL);
	assert_string_equal(why, "control message of 8454145 bytes exceeds 8454144");
	free(huge);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_roundtrip),
		cmocka_unit_test(test_serial_refusals),
		cmocka_unit_test(test_old_hello_devices_ignored),
		cmocka_unit_test(test_device_json_bound),
		cmocka_unit_test(test_other_messages),
		cmocka_unit_test(test_error_fresh),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests_name("ctl", tests, NULL, NULL);
}
