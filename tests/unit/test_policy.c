/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The proxy's policy file (proxy/policy.c): what it refuses, and with
 * which words; what it decides for a device; who holds the operator role;
 * reading it from a file. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxy/policy.h"

#define FILE_NAME "/etc/usbws/proxy.policy"

/* The example of usbws-proxy.policy(5); the line numbers below count on it. */
static const char example[] = "# who holds the operator role (any line matching is enough)\n"          /* 1 */
			      "operator cn=ops-*\n"                                                    /* 2 */
			      "operator ou=\"Fleet Operators\"\n"                                      /* 3 */
			      "operator san-dns=*.ops.example.com\n"                                   /* 4 */
			      "operator san-uri=spiffe://example.com/ops/*\n"                          /* 5 */
			      "\n"                                                                     /* 6 */
			      "# device rules: the first rule whose every condition matches decides\n" /* 7 */
			      "attach    node=gw-*  device=0525:a4a5  vhci=0,1\n"                      /* 8 */
			      "export    node=gw-1? class=08\n"                                        /* 9 */
			      "on-demand node=gw-17 serial=FP-*\n"                                     /* 10 */
			      "deny      class=e0\n"                                                   /* 11 */
			      "attach    device=1d6b:*  address=port\n"                                /* 12 */
			      "default   deny\n";                                                      /* 13 */

static struct policy *parse_ok(const char *text, size_t len)
{
	struct policy *p = NULL;
	char why[512] = "";
	int rc = policy_parse(text, len, FILE_NAME, &p, why, sizeof(why));

	if (rc != 0)
		fail_msg("refused: %s (%s)", why, usbws_strerror(rc));
	assert_non_null(p);
	return p;
}

/* A file of n copies of line. */
static char *repeat(const char *line, size_t n, size_t *len)
{
	size_t l = strlen(line), i;
	char *s = malloc(l * n + 1);

	assert_non_null(s);
	for (i = 0; i < n; i++)
		memcpy(s + i * l, line, l);
	s[l * n] = '\0';
	*len = l * n;
	return s;
}

static void test_every_refusal_names_file_line_and_reason(void **state)
{
	static const struct {
		const char *name, *text;
		size_t len; /* 0: strlen */
		const char *want;
	} rows[] = {
		{ "a misspelt action", "# 1\n\n# 3\nattach node=a\n#5\n\nalow node=gw-1\n", 0,
		  FILE_NAME
		  ":7: unknown action 'alow' (expected attach, export, on-demand, deny, default or operator)" },
		{ "keywords are lower case", "Attach\n", 0,
		  FILE_NAME
		  ":1: unknown action 'Attach' (expected attach, export, on-demand, deny, default or operator)" },
		{ "a long unknown word is cut in the message",
		  "attachattachattachattachattachattachattachattach\n", 0,
		  FILE_NAME
		  ":1: unknown action 'attachattachattachattachattachattachatta...' (expected attach, export, "
		  "on-demand, deny, default or operator)" },
		{ "a tab in a quoted word is shown as '?'", "\"at\ttach\"\n", 0,
		  FILE_NAME
		  ":1: unknown action 'at?tach' (expected attach, export, on-demand, deny, default or operator)" },
		{ "...and in a vhci= list", "attach vhci=\"0,\t1\"\n", 0,
		  FILE_NAME ":1: vhci=\"0,?1\": expected vhci_hcd numbers like 0,2 or vhci_hcd.3, each below 128" },
		{ "a rule with no action", "node=gw-1 device=0525:a4a5\n", 0,
		  FILE_NAME
		  ":1: a rule with no action: it starts with 'node=gw-1' (expected attach, export, on-demand, "
		  "deny, default or operator first)" },
		{ "a PID one digit short", "\n\nattach device=0525:a4a\n", 0,
		  FILE_NAME ":3: device=0525:a4a: expected VID:PID in hex (e.g. 0525:a4a5), either half may be *" },
		{ "no colon", "attach device=0525a4a5\n", 0,
		  FILE_NAME ":1: device=0525a4a5: expected VID:PID in hex (e.g. 0525:a4a5), either half may be *" },
		{ "not hex", "attach device=05g5:a4a5\n", 0,
		  FILE_NAME
		  ":1: device=05g5:a4a5: expected VID:PID in hex (e.g. 0525:a4a5), either half may be *" },
		{ "a third part", "attach device=0525:a4a5:1\n", 0,
		  FILE_NAME
		  ":1: device=0525:a4a5:1: expected VID:PID in hex (e.g. 0525:a4a5), either half may be *" },
		{ "a half that is a glob, not *", "attach device=05*:a4a5\n", 0,
		  FILE_NAME ":1: device=05*:a4a5: expected VID:PID in hex (e.g. 0525:a4a5), either half may be *" },
		{ "a VID with a sign", "attach device=+525:a4a5\n", 0,
		  FILE_NAME
		  ":1: device=+525:a4a5: expected VID:PID in hex (e.g. 0525:a4a5), either half may be *" },
		{ "a class of one digit", "deny class=8\n", 0,
		  FILE_NAME ":1: class=8: expected a class code as 2 hex digits (e.g. 08)" },
		{ "a class of three digits", "deny class=008\n", 0,
		  FILE_NAME ":1: class=008: expected a class code as 2 hex digits (e.g. 08)" },
		{ "a class is no glob", "deny class=*\n", 0,
		  FILE_NAME ":1: class=*: expected a class code as 2 hex digits (e.g. 08)" },
		{ "vhci= on export", "\n\n\nexport vhci=0\n", 0, FILE_NAME ":4: vhci= only applies to attach" },
		{ "vhci= on on-demand", "on-demand vhci=0\n", 0, FILE_NAME ":1: vhci= only applies to attach" },
		{ "vhci= on deny", "deny vhci=0\n", 0, FILE_NAME ":1: vhci= only applies to attach" },
		{ "vhci= on a default that exports", "default export vhci=0\n", 0,
		  FILE_NAME ":1: vhci= only applies to attach" },
		{ "a vhci list that does not parse", "attach vhci=0,x\n", 0,
		  FILE_NAME ":1: vhci=\"0,x\": expected vhci_hcd numbers like 0,2 or vhci_hcd.3, each below 128" },
		{ "a controller past the last", "attach vhci=128\n", 0,
		  FILE_NAME ":1: vhci=\"128\": expected vhci_hcd numbers like 0,2 or vhci_hcd.3, each below 128" },
		{ "a second default", "\ndefault attach\n# 3\n\n\n\n\n\ndefault deny\n", 0,
		  FILE_NAME ":9: a second default (the first is on line 2)" },
		{ "a condition twice", "\n\n\n\nattach node=a node=b\n", 0, FILE_NAME ":5: node= given twice" },
		{ "an option twice", "attach address=port address=serial\n", 0,
		  FILE_NAME ":1: address= given twice" },
		{ "twice, the second empty", "attach serial=a serial=\n", 0, FILE_NAME ":1: serial= given twice" },
		{ "an unterminated quote", "\n\n\n\n\noperator ou=\"Fleet Operators\n", 0,
		  FILE_NAME ":6: unterminated quote" },
		{ "a quote closed on the next line", "deny serial=\"a\nb\"\n", 0,
		  FILE_NAME ":1: unterminated quote" },
		{ "an unknown key", "attach vendor=0525\n", 0,
		  FILE_NAME
		  ":1: unknown key 'vendor=' (expected node=, device=, class=, serial=, vhci= or address=)" },
		{ "a key in capitals", "attach NODE=gw-1\n", 0,
		  FILE_NAME
		  ":1: unknown key 'NODE=' (expected node=, device=, class=, serial=, vhci= or address=)" },
		{ "an empty key", "attach =gw-1\n", 0,
		  FILE_NAME ":1: unknown key '=' (expected node=, device=, class=, serial=, vhci= or address=)" },
		{ "a word that is no KEY=VALUE", "attach gw-1\n", 0,
		  FILE_NAME ":1: 'gw-1': expected KEY=VALUE (node=, device=, class=, serial=, vhci= or address=)" },
		{ "a quoted '=' is no separator", "attach \"node=gw-1\"x\n", 0,
		  FILE_NAME ":1: 'node=gw-1x': expected KEY=VALUE (node=, device=, class=, serial=, vhci= or "
			    "address=)" },
		{ "an empty node=", "attach node=\n", 0, FILE_NAME ":1: node= has no value" },
		{ "an empty quoted serial=", "attach serial=\"\"\n", 0, FILE_NAME ":1: serial= has no value" },
		{ "an empty device=", "attach device=\n", 0, FILE_NAME ":1: device= has no value" },
		{ "an empty vhci=", "attach vhci=\n", 0, FILE_NAME ":1: vhci= has no value" },
		{ "an empty operator glob", "operator cn=\n", 0, FILE_NAME ":1: cn= has no value" },
		{ "a NUL byte", "deny class=e0\nattach node=a\0b\n", 30, FILE_NAME ":2: a NUL byte" },
		{ "an escape", "deny node=\x1b[2J\n", 0, FILE_NAME ":1: a control character (0x1b)" },
		{ "a bare CR inside a line", "deny\rclass=e0\n", 0, FILE_NAME ":1: a control character (0x0d)" },
		{ "DEL", "deny node=a\x7f\n", 0, FILE_NAME ":1: a control character (0x7f)" },
		{ "a control character in a comment", "# a\x01\n", 0, FILE_NAME ":1: a control character (0x01)" },
		{ "an unknown address", "attach address=busid\n", 0,
		  FILE_NAME ":1: address=busid: expected serial or port" },
		{ "address= on deny", "deny address=port\n", 0,
		  FILE_NAME ":1: address= does not apply to deny: a denied device has no address" },
		{ "default without an action", "default\n", 0,
		  FILE_NAME ":1: default needs an action first (attach, export, on-demand or deny)" },
		{ "default with an option first", "default vhci=0 attach\n", 0,
		  FILE_NAME ":1: default needs an action first (attach, export, on-demand or deny)" },
		{ "default with an unknown action", "default allow\n", 0,
		  FILE_NAME ":1: default: unknown action 'allow' (expected attach, export, on-demand or deny)" },
		{ "default is no action of default", "default default\n", 0,
		  FILE_NAME ":1: default: unknown action 'default' (expected attach, export, on-demand or deny)" },
		{ "default with a condition", "default attach node=gw-*\n", 0,
		  FILE_NAME ":1: node= is a condition, and default takes none: it applies when no rule matches" },
		{ "operator alone", "operator\n", 0,
		  FILE_NAME ":1: operator needs FIELD=GLOB (cn=, ou=, san-dns= or san-uri=)" },
		{ "operator with two", "operator cn=a ou=b\n", 0,
		  FILE_NAME ":1: operator takes one FIELD=GLOB: give each on a line of its own" },
		{ "operator without '='", "operator ops\n", 0,
		  FILE_NAME ":1: 'ops': expected FIELD=GLOB (cn=, ou=, san-dns= or san-uri=)" },
		{ "operator with an unknown field", "operator o=Example\n", 0,
		  FILE_NAME ":1: unknown field 'o=' (expected cn=, ou=, san-dns= or san-uri=)" },
		{ "operator by the --identity spelling of a SAN", "operator san=a\n", 0,
		  FILE_NAME ":1: unknown field 'san=' (expected cn=, ou=, san-dns= or san-uri=)" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct policy *p = (struct policy *)1;
		char why[512] = "";
		size_t len = rows[i].len ? rows[i].len : strlen(rows[i].text);

		print_message("%s\n", rows[i].name);
		assert_usbws_err(policy_parse(rows[i].text, len, FILE_NAME, &p, why, sizeof(why)),
				 USBWS_ERR_POLICY);
		assert_null(p);
		assert_string_equal(why, rows[i].want);
	}
}

/* The limits, each refused with its own sentence, and each reached exactly. */
static void test_limits(void **state)
{
	char line[POLICY_MAX_LINE + 3], why[512];
	struct policy *p;
	size_t len;
	char *text;

	(void)state;
	/* 1024 bytes and a newline: taken */
	memset(line, ' ', sizeof(line));
	memcpy(line, "deny", 4);
	line[POLICY_MAX_LINE - 1] = '#';
	line[POLICY_MAX_LINE] = '\n';
	p = parse_ok(line, POLICY_MAX_LINE + 1);
	assert_int_equal(policy_rules(p), 1);
	policy_free(p);
	/* 1024 bytes, a CR and a newline: the CR counts */
	line[POLICY_MAX_LINE] = '\r';
	line[POLICY_MAX_LINE + 1] = '\n';
	assert_usbws_err(policy_parse(line, POLICY_MAX_LINE + 2, FILE_NAME, &p, why, sizeof(why)),
			 USBWS_ERR_POLICY);
	assert_string_equal(why, FILE_NAME ":1: line longer than 1024 bytes");
	/* 1025 bytes, the last line, no newline */
	line[POLICY_MAX_LINE] = ' ';
	text = malloc(POLICY_MAX_LINE + 16);
	assert_non_null(text);
	memcpy(text, "deny\n", 5);
	memcpy(text + 5, line, POLICY_MAX_LINE + 1);
	assert_usbws_err(policy_parse(text, POLICY_MAX_LINE + 6, FILE_NAME, &p, why, sizeof(why)),
			 USBWS_ERR_POLICY);
	assert_string_equal(why, FILE_NAME ":2: line longer than 1024 bytes");
	assert_null(p);
	free(text);

	/* 10000 rules, then one more */
	text = repeat("deny class=e0\n", POLICY_MAX_RULES, &len);
	p = parse_ok(text, len);
	assert_int_equal(policy_rules(p), POLICY_MAX_RULES);
	policy_free(p);
	free(text);
	text = repeat("deny class=e0\n", POLICY_MAX_RULES + 1, &len);
	assert_usbws_err(policy_parse(text, len, FILE_NAME, &p, why, sizeof(why)), USBWS_ERR_POLICY);
	assert_string_equal(why, FILE_NAME ":10001: more than 10000 rules");
	free(text);

	/* operator lines have a cap of their own */
	text = repeat("operator cn=ops-*\n", POLICY_MAX_RULES, &len);
	p = parse_ok(text, len);
	assert_int_equal(policy_operators(p), POLICY_MAX_RULES);
	assert_int_equal(policy_rules(p), 0);
	policy_free(p);
	free(text);
	text = repeat("operator cn=ops-*\n", POLICY_MAX_RULES + 1, &len);
	assert_usbws_err(policy_parse(text, len, FILE_NAME, &p, why, sizeof(why)), USBWS_ERR_POLICY);
	assert_string_equal(why, FILE_NAME ":10001: more than 10000 operator lines");
	free(text);

	/* 1 MiB of comments is a policy; one byte more is not */
	text = repeat("# sixteen bytes\n", POLICY_MAX_FILE / 16, &len);
	assert_int_equal(len, POLICY_MAX_FILE);
	p = parse_ok(text, len);
	assert_int_equal(policy_rules(p), 0);
	policy_free(p);
	assert_usbws_err(policy_parse(text, len + 1, FILE_NAME, &p, why, sizeof(why)), USBWS_ERR_POLICY);
	assert_string_equal(why, FILE_NAME ": larger than 1048576 bytes (1 MiB), the most a policy file may hold");
	assert_null(p);
	free(text);
}

/* What parses, and how many rules and operator lines it makes. */
static void test_accepted(void **state)
{
	static const struct {
		const char *name, *text;
		size_t len; /* 0: strlen */
		unsigned int rules, operators;
	} rows[] = {
		{ "the man page's example", example, 0, 5, 4 },
		{ "an empty file", "", 0, 0, 0 },
		{ "comments and blank lines", "# a\n\n   \t\n   # b\n#\n", 0, 0, 0 },
		{ "a last line without a newline", "deny class=e0\nattach", 0, 2, 0 },
		{ "CRLF line ends", "operator cn=a\r\ndeny class=e0\r\ndefault attach\r\n", 0, 1, 1 },
		{ "a comment after the words", "deny class=e0 # Wireless controllers\n", 0, 1, 0 },
		{ "a comment right after a word is part of it", "deny serial=a#1\n", 0, 1, 0 },
		{ "a quote inside a value", "deny serial=a\" \"b\n", 0, 1, 0 },
		{ "a quoted '#'", "deny serial=\"# not a comment\"\n", 0, 1, 0 },
		{ "tabs between words", "attach\tnode=a\t\tdevice=*:*\n", 0, 1, 0 },
		{ "every key once",
		  "attach node=a device=0525:A4A5 class=ff serial=x vhci=vhci_hcd.0,2 address=port\n", 0, 1, 0 },
		{ "a rule with no condition", "export\n", 0, 1, 0 },
		{ "default with options", "default attach vhci=1 address=port\n", 0, 0, 0 },
		{ "default on-demand", "default on-demand address=port\n", 0, 0, 0 },
		{ "an unknown action after a comment is a comment", "# alow\n", 0, 0, 0 },
		{ "text after the length given is not read", "deny\nbogus", 5, 1, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct policy *p;

		print_message("%s\n", rows[i].name);
		p = parse_ok(rows[i].text, rows[i].len ? rows[i].len : strlen(rows[i].text));
		assert_int_equal(policy_rules(p), rows[i].rules);
		assert_int_equal(policy_operators(p), rows[i].operators);
		policy_free(p);
	}
}

struct dev_row {
	const char *name;
	const char *node;
	uint16_t vid, pid;
	uint8_t dev_class;
	const char *ifs; /* the interfaces' classes, nifs bytes */
	size_t nifs;
	const char *serial;
	enum policy_action action;
	unsigned int line;
	enum policy_address address;
	const char *vhci; /* NULL: unrestricted; else the controllers allowed, e.g. "01" */
};

static void check_decisions(const char *text, const struct dev_row *rows, size_t n)
{
	struct policy *p = text ? parse_ok(text, strlen(text)) : NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct dev_row *r = &rows[i];
		struct policy_device dev = { r->node, r->vid,   r->pid, r->dev_class, (const uint8_t *)r->ifs,
					     r->nifs, r->serial };
		struct policy_decision d;
		unsigned int c;

		print_message("%s\n", r->name);
		memset(&d, 0xa5, sizeof(d));
		policy_decide(p, &dev, &d);
		assert_string_equal(policy_action_name(d.action), policy_action_name(r->action));
		assert_int_equal(d.line, r->line);
		assert_int_equal(d.address, r->address);
		assert_int_equal(d.vhci.restricted, r->vhci != NULL);
		for (c = 0; c < VHCI_MAX_CONTROLLERS; c++)
			assert_int_equal(d.vhci.allowed[c], r->vhci && c < 10 && strchr(r->vhci, (int)('0' + c)));
	}
	policy_free(p);
}

static void test_first_matching_rule_decides(void **state)
{
	static const struct dev_row rows[] = {
		{ "gw-1's gadget, attached to vhci_hcd.0 or .1", "gw-1", 0x0525, 0xa4a5, 0, "", 0, NULL,
		  POLICY_ATTACH, 8, POLICY_ADDRESS_SERIAL, "01" },
		{ "gw-12's mass storage (an interface class), exported", "gw-12", 0x0781, 0x5567, 0, "\x08", 1,
		  "4C53000", POLICY_EXPORT, 9, POLICY_ADDRESS_SERIAL, NULL },
		{ "the gadget on gw-12: the earlier rule wins", "gw-12", 0x0525, 0xa4a5, 0, "\x08", 1, NULL,
		  POLICY_ATTACH, 8, POLICY_ADDRESS_SERIAL, "01" },
		{ "a device class matches class= too", "gw-10", 0x1234, 0x5678, 0x08, "", 0, NULL, POLICY_EXPORT,
		  9, POLICY_ADDRESS_SERIAL, NULL },
		{ "gw-1? is one character more, not none", "gw-1", 0x0781, 0x5567, 0, "\x08", 1, NULL, POLICY_DENY,
		  13, POLICY_ADDRESS_SERIAL, NULL },
		{ "...and not two", "gw-100", 0x0781, 0x5567, 0, "\x08", 1, NULL, POLICY_DENY, 13,
		  POLICY_ADDRESS_SERIAL, NULL },
		{ "the fingerprint reader, held on demand", "gw-17", 0x27c6, 0x5395, 0xff, "\xff", 1, "FP-0042",
		  POLICY_ON_DEMAND, 10, POLICY_ADDRESS_SERIAL, NULL },
		{ "the reader on another node", "gw-18", 0x27c6, 0x5395, 0xff, "\xff", 1, "FP-0042", POLICY_DENY,
		  13, POLICY_ADDRESS_SERIAL, NULL },
		{ "serials are case-sensitive", "gw-17", 0x27c6, 0x5395, 0xff, "\xff", 1, "fp-0042", POLICY_DENY,
		  13, POLICY_ADDRESS_SERIAL, NULL },
		{ "no serial never matches serial=FP-*", "gw-17", 0x27c6, 0x5395, 0xff, "\xff", 1, NULL,
		  POLICY_DENY, 13, POLICY_ADDRESS_SERIAL, NULL },
		{ "an empty serial is none", "gw-17", 0x27c6, 0x5395, 0xff, "\xff", 1, "", POLICY_DENY, 13,
		  POLICY_ADDRESS_SERIAL, NULL },
		{ "bluetooth in the third interface: denied", "gw-30", 0x8087, 0x0a2b, 0xef, "\xff\x03\xe0", 3,
		  NULL, POLICY_DENY, 11, POLICY_ADDRESS_SERIAL, NULL },
		{ "a Linux Foundation gadget, addressed by port", "cam-1", 0x1d6b, 0x0104, 0xef, "\x08\x02", 2,
		  "x", POLICY_ATTACH, 12, POLICY_ADDRESS_PORT, NULL },
		{ "nothing matches: the default line", "cam-1", 0x046d, 0xc52b, 0, "\x03", 1, NULL, POLICY_DENY,
		  13, POLICY_ADDRESS_SERIAL, NULL },
		{ "a device with no node matches no node=", NULL, 0x0525, 0xa4a5, 0, "", 0, NULL, POLICY_DENY, 13,
		  POLICY_ADDRESS_SERIAL, NULL },
		{ "interfaces past nifs are not read", "gw-31", 0x8087, 0x0a2b, 0xef, "\xff\xe0", 1, NULL,
		  POLICY_DENY, 13, POLICY_ADDRESS_SERIAL, NULL },
	};

	(void)state;
	check_decisions(example, rows, sizeof(rows) / sizeof(rows[0]));
}

static void test_defaults(void **state)
{
	static const struct dev_row none[] = {
		{ "no policy file: attach, as before policies", "gw-1", 1, 2, 0, "", 0, NULL, POLICY_ATTACH, 0,
		  POLICY_ADDRESS_SERIAL, NULL },
	};
	static const struct dev_row closed[] = {
		{ "no default line: deny, from no line", "gw-1", 1, 2, 0, "", 0, NULL, POLICY_DENY, 0,
		  POLICY_ADDRESS_SERIAL, NULL },
		{ "a rule still matches", "gw-1", 0x0525, 0xa4a5, 0, "", 0, NULL, POLICY_EXPORT, 2,
		  POLICY_ADDRESS_SERIAL, NULL },
	};
	static const struct dev_row open[] = {
		{ "the default line, wherever it is, with its options", "gw-1", 1, 2, 0, "", 0, NULL,
		  POLICY_ATTACH, 1, POLICY_ADDRESS_PORT, "2" },
		{ "rules after it still come first", "gw-1", 0x0525, 0xa4a5, 0, "", 0, "s", POLICY_ON_DEMAND, 3,
		  POLICY_ADDRESS_SERIAL, NULL },
		{ "serial=* takes no empty serial", "gw-1", 0x0525, 0xa4a5, 0, "", 0, "", POLICY_ATTACH, 1,
		  POLICY_ADDRESS_PORT, "2" },
		{ "...nor a missing one", "gw-1", 0x0525, 0xa4a5, 0, "", 0, NULL, POLICY_ATTACH, 1,
		  POLICY_ADDRESS_PORT, "2" },
		{ "device= ignores case, either half may be *", "gw-1", 0xabcd, 0x0001, 0, "", 0, NULL,
		  POLICY_EXPORT, 4, POLICY_ADDRESS_SERIAL, NULL },
		{ "...the other half", "gw-1", 0x0002, 0xabcd, 0, "", 0, NULL, POLICY_EXPORT, 5,
		  POLICY_ADDRESS_SERIAL, NULL },
		{ "a quoted glob with a blank", "gw 1", 0x0003, 0x0003, 0, "", 0, NULL, POLICY_DENY, 6,
		  POLICY_ADDRESS_SERIAL, NULL },
		{ "fnmatch with no flags: * crosses '/' and a leading '.'", ".gw/9", 0x0004, 0x0004, 0, "", 0,
		  NULL, POLICY_EXPORT, 7, POLICY_ADDRESS_SERIAL, NULL },
		{ "a bracket class", "gw-b", 0x0005, 0x0005, 0, "", 0, NULL, POLICY_EXPORT, 8,
		  POLICY_ADDRESS_SERIAL, NULL },
		{ "class=00 is a class like another", "gw-c", 0x0006, 0x0006, 0, "", 0, NULL, POLICY_ON_DEMAND, 9,
		  POLICY_ADDRESS_SERIAL, NULL },
		{ "a default that holds on demand", "gw-d", 0x0007, 0x0007, 0x0e, "\x0e", 1, NULL, POLICY_ATTACH,
		  1, POLICY_ADDRESS_PORT, "2" },
	};

	(void)state;
	check_decisions(NULL, none, 1);
	check_decisions("# closes by default\n"
			"export device=0525:a4a5\n",
			closed, sizeof(closed) / sizeof(closed[0]));
	check_decisions("default attach vhci=vhci_hcd.2 address=port\n" /* 1 */
			"\n"                                            /* 2 */
			"on-demand device=0525:A4A5 serial=*\n"         /* 3 */
			"export device=ABCD:*\n"                        /* 4 */
			"export device=*:abcd\n"                        /* 5 */
			"deny node=\"gw 1\"\n"                          /* 6 */
			"export node=*9\n"                              /* 7 */
			"export node=gw-[a-b]\n"                        /* 8 */
			"on-demand class=00 device=0006:0006\n",        /* 9 */
			open, sizeof(open) / sizeof(open[0]));
}

static void test_operator_role(void **state)
{
	static const char *const ou_fleet[] = { "Engineering", "Fleet Operators" };
	static const char *const ou_other[] = { "Fleet", "Fleet Operators (former)" };
	static const char *const ou_empty[] = { "", NULL };
	static const char *const dns_ops[] = { "node-1.example.com", "alice.ops.example.com" };
	static const char *const dns_apex[] = { "ops.example.com" };
	static const char *const uri_ops[] = { "spiffe://example.com/ops/alice" };
	static const char *const uri_deep[] = { "spiffe://example.com/ops/team/alice" };
	static const char *const uri_other[] = { "spiffe://example.org/ops/alice" };
	static const struct {
		const char *name;
		struct policy_subject s;
		int want;
	} rows[] = {
		{ "a CN by pattern", { .cn = "ops-alice" }, 1 },
		{ "a node's CN", { .cn = "gw-17" }, 0 },
		{ "a CN is matched whole", { .cn = "x-ops-alice" }, 0 },
		{ "an OU with a blank, quoted in the file, second of two",
		  { .cn = "alice", .ou = ou_fleet, .nou = 2 },
		  1 },
		{ "OUs that only start or end alike", { .cn = "alice", .ou = ou_other, .nou = 2 }, 0 },
		{ "the OU past nou is not read", { .cn = "alice", .ou = ou_fleet, .nou = 1 }, 0 },
		{ "a DNS SAN, second of two", { .san_dns = dns_ops, .nsan_dns = 2 }, 1 },
		{ "the apex is not under *.", { .san_dns = dns_apex, .nsan_dns = 1 }, 0 },
		{ "a URI SAN", { .san_uri = uri_ops, .nsan_uri = 1 }, 1 },
		{ "* crosses '/' in a URI", { .san_uri = uri_deep, .nsan_uri = 1 }, 1 },
		{ "another trust domain", { .san_uri = uri_other, .nsan_uri = 1 }, 0 },
		{ "a URI in the DNS field is no URI", { .san_dns = uri_ops, .nsan_dns = 1 }, 0 },
		{ "a DNS name in the CN is no DNS SAN", { .cn = "alice.ops.example.com" }, 0 },
		{ "nothing at all", { 0 }, 0 },
	};
	static const struct policy_subject empty = { .cn = "", .ou = ou_empty, .nou = 2 };
	static const struct policy_subject ops = { .cn = "ops-alice" };
	struct policy *p;
	size_t i;

	(void)state;
	p = parse_ok(example, strlen(example));
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		print_message("%s\n", rows[i].name);
		assert_int_equal(policy_is_operator(p, &rows[i].s), rows[i].want);
	}
	assert_int_equal(policy_is_operator(p, NULL), 0);
	policy_free(p);

	/* an empty or missing value is no value, even for * */
	p = parse_ok("operator cn=*\noperator ou=*\n", 28);
	assert_int_equal(policy_is_operator(p, &empty), 0);
	assert_int_equal(policy_is_operator(p, &ops), 1);
	policy_free(p);
	/* no operator lines, or no policy: nobody */
	p = parse_ok("attach\n", 7);
	assert_int_equal(policy_is_operator(p, &ops), 0);
	policy_free(p);
	assert_int_equal(policy_is_operator(NULL, &ops), 0);
}

static void test_load(void **state)
{
	char dir[] = "/tmp/test_policy.XXXXXX", path[256], why[512], want[512];
	struct policy *p;
	size_t len;
	char *big;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));

	snprintf(path, sizeof(path), "%s/proxy.policy", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(example, f);
	fclose(f);
	assert_usbws_err(policy_load(path, &p, why, sizeof(why)), 0);
	assert_int_equal(policy_rules(p), 5);
	assert_int_equal(policy_operators(p), 4);
	policy_free(p);

	/* a refusal names the path it was given */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("deny\n\ndefault alow\n", f);
	fclose(f);
	assert_usbws_err(policy_load(path, &p, why, sizeof(why)), USBWS_ERR_POLICY);
	assert_null(p);
	snprintf(want, sizeof(want),
		 "%s:3: default: unknown action 'alow' (expected attach, export, on-demand or deny)", path);
	assert_string_equal(why, want);

	/* one byte over 1 MiB */
	big = repeat("# sixteen bytes\n", POLICY_MAX_FILE / 16, &len);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(big, 1, len, f), len);
	fputc('\n', f);
	fclose(f);
	free(big);
	assert_usbws_err(policy_load(path, &p, why, sizeof(why)), USBWS_ERR_POLICY);
	snprintf(want, sizeof(want), "%s: larger than 1048576 bytes (1 MiB), the most a policy file may hold",
		 path);
	assert_string_equal(why, want);
	unlink(path);

	/* no file */
	errno = 0;
	assert_usbws_err(policy_load(path, &p, why, sizeof(why)), USBWS_ERR_SYSTEM);
	assert_int_equal(errno, ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(why, want);
	assert_null(p);

	/* a directory, and a FIFO that nobody writes (it must not hang) */
	assert_usbws_err(policy_load(dir, &p, why, sizeof(why)), USBWS_ERR_POLICY);
	snprintf(want, sizeof(want), "%s: not a regular file", dir);
	assert_string_equal(why, want);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_usbws_err(policy_load(path, &p, why, sizeof(why)), USBWS_ERR_POLICY);
	snprintf(want, sizeof(want), "%s: not a regular file", path);
	assert_string_equal(why, want);
	assert_null(p);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(policy_action_name(POLICY_ATTACH), "attach");
	assert_string_equal(policy_action_name(POLICY_EXPORT), "export");
	assert_string_equal(policy_action_name(POLICY_ON_DEMAND), "on-demand");
	assert_string_equal(policy_action_name(POLICY_DENY), "deny");
	assert_string_equal(policy_action_name((enum policy_action)42), "?");
	assert_int_equal(policy_rules(NULL), 0);
	assert_int_equal(policy_operators(NULL), 0);
	policy_free(NULL);
	assert_string_equal(usbws_strerror(USBWS_ERR_POLICY),
			    "the policy file is malformed; fix the line named and load it again");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_refusal_names_file_line_and_reason),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_first_matching_rule_decides),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_operator_role),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
