/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Options files (common/base/optfile.c): what a file may say, what it is
 * refused for and with which words, and how files and the command line
 * make one argv. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/optfile.h"

/* a program like usbws-proxy, smaller */
static const struct option options[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "usbip-listen", required_argument, NULL, 'u' },
	{ "usbip-listen-public", no_argument, NULL, 'E' },
	{ "cert", required_argument, NULL, 'c' },
	{ "crl", required_argument, NULL, 'r' },
	{ "pin", required_argument, NULL, 'P' },
	{ "color", optional_argument, NULL, 'C' },
	{ "config", required_argument, NULL, 'F' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};
static const char *const repeatable[] = { "crl", "pin", NULL };
static const char *const cmdline_only[] = { "config", "help", "version", NULL };
static const struct optfile_spec spec = { options, "vhV", repeatable, cmdline_only };

#define MAX_ARGS 16

/* "a b c" as an argv (words split at '|', so that a word may hold blanks) */
static int split(const char *line, char *buf, size_t cap, char **argv)
{
	int argc = 0;
	char *p;

	snprintf(buf, cap, "%s", line);
	for (p = strtok(buf, "|"); p && argc < MAX_ARGS - 1; p = strtok(NULL, "|"))
		argv[argc++] = p;
	argv[argc] = NULL;
	return argc;
}

/* an argv as "a|b|c" */
static void join(int argc, char **argv, char *out, size_t cap)
{
	size_t used = 0;
	int i;

	out[0] = '\0';
	for (i = 0; i < argc; i++)
		used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? "|" : "", argv[i]);
}

static void test_refused(void **state)
{
	/* len 0: the text's strlen */
	static const struct {
		const char *name, *text;
		size_t len;
		int want;
		const char *why;
	} rows[] = {
		{ "a misspelt key", "# hi\n\nlisen = 0.0.0.0:443\n", 0, USBWS_ERR_OPTFILE,
		  "t.conf:3: unknown option 'lisen' (did you mean 'listen'?)" },
		{ "an abbreviation is no key", "usbip-listen-p\n", 0, USBWS_ERR_OPTFILE,
		  "t.conf:1: unknown option 'usbip-listen-p' (did you mean 'usbip-listen-public'?)" },
		{ "nothing near", "frobnicate = 1\n", 0, USBWS_ERR_OPTFILE,
		  "t.conf:1: unknown option 'frobnicate'" },
		{ "no key matches in another case", "Listen = x\n", 0, USBWS_ERR_OPTFILE,
		  "t.conf:1: unknown option 'Listen' (did you mean 'listen'?)" },
		{ "the dashes of the command line", "--listen = 0.0.0.0:443\n", 0, USBWS_ERR_OPTFILE,
		  "t.conf:1: '--listen': write the option's name without its dashes, as 'listen'" },
		{ "no '=' before the value", "listen 0.0.0.0:443\n", 0, USBWS_ERR_OPTFILE,
		  "t.conf:1: 'listen' and its value need a '=' between them" },
		{ "no key", " = 1\n", 0, USBWS_ERR_OPTFILE, "t.conf:1: no option name before the '='" },
		{ "a value missing", "cert\n", 0, USBWS_ERR_OPTFILE,
		  "t.conf:1: 'cert' needs a value: 'cert = VALUE'" },
		{ "an empty value", "cert =   \n", 0, USBWS_ERR_OPTFILE,
		  "t.conf:1: 'cert' needs a value: 'cert = VALUE'" },
		{ "a value for a flag", "verbose = 2\n", 0, USBWS_ERR_OPTFILE,
		  "t.conf:1: 'verbose' is a flag: write it alone, or '= yes' or '= no', not '= 2'" },
		{ "a flag's empty value", "verbose =\n", 0, USBWS_ERR_OPTFILE,
		  "t.conf:1: 'verbose' is a flag: write it alone, or '= yes' or '= no', not '= '" },
		{ "yes in capitals", "verbose = YES\n", 0, USBWS_ERR_OPTFILE,
		  "t.conf:1: 'verbose' is a flag: write it alone, or '= yes' or '= no', not '= YES'" },
		{ "a key twice", "listen = a:1\ncert = c\nlisten = b:2\n", 0, USBWS_ERR_OPTFILE,
		  "t.conf:3: 'listen' again (first on line 1); it takes one value" },
		{ "a flag twice, yes and no", "verbose\nverbose = no\n", 0, USBWS_ERR_OPTFILE,
		  "t.conf:2: 'verbose' again (first on line 1); it takes one value" },
		{ "an include", "config = other.conf\n", 0, USBWS_ERR_OPTFILE,
		  "t.conf:1: 'config' belongs on the command line, not in a file" },
		{ "help", "help\n", 0, USBWS_ERR_OPTFILE,
		  "t.conf:1: 'help' belongs on the command line, not in a file" },
		{ "a NUL byte", "cert = a\0b\n", 11, USBWS_ERR_OPTFILE, "t.conf:1: a NUL byte" },
		{ "a NUL in a comment", "# a\0\n", 5, USBWS_ERR_OPTFILE, "t.conf:1: a NUL byte" },
		{ "an escape", "cert = \x1b[2Jx\n", 0, USBWS_ERR_OPTFILE, "t.conf:1: a control character (0x1b)" },
		{ "a lone CR inside", "cert = a\rb\n", 0, USBWS_ERR_OPTFILE,
		  "t.conf:1: a control character (0x0d)" },
		{ "DEL", "# \x7f\n", 0, USBWS_ERR_OPTFILE, "t.conf:1: a control character (0x7f)" },
		{ "Latin-1, not UTF-8", "cert = caf\xe9.pem\n", 0, USBWS_ERR_OPTFILE,
		  "t.conf:1: not printable UTF-8 (a malformed sequence, a C1 control or a bidi mark)" },
		{ "an overlong '/'",
		  "cert = \xc0\xaf"
		  "etc\n",
		  0, USBWS_ERR_OPTFILE,
		  "t.conf:1: not printable UTF-8 (a malformed sequence, a C1 control or a bidi mark)" },
		{ "a bidi override in a comment",
		  "# \xe2\x80\xae"
		  "evil\n",
		  0, USBWS_ERR_OPTFILE,
		  "t.conf:1: not printable UTF-8 (a malformed sequence, a C1 control or a bidi mark)" },
		{ "a C1 control",
		  "cert = a\xc2\x9b"
		  "b\n",
		  0, USBWS_ERR_OPTFILE,
		  "t.conf:1: not printable UTF-8 (a malformed sequence, a C1 control or a bidi mark)" },
		{ "a tab inside a value", "cert = a\tb\n", 0, USBWS_ERR_OPTFILE,
		  "t.conf:1: a tab inside the value of 'cert'" },
		{ "a long key quoted short",
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa = 1\n", 0,
		  USBWS_ERR_OPTFILE, "t.conf:1: unknown option 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'" },
		{ "a long UTF-8 key cut between characters",
		  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		  "a\xc3\xa9\xc3\xa9 = 1\n",
		  0, USBWS_ERR_OPTFILE,
		  "t.conf:1: unknown option '\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		  "a...'" },
		{ "the last line without a newline still counts", "cert = a\nlisten", 0, USBWS_ERR_OPTFILE,
		  "t.conf:2: 'listen' needs a value: 'listen = VALUE'" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct optfile *f;
		char why[256] = "";
		int argc;
		char **argv, *args[] = { "prog", NULL };

		print_message("refused: %s\n", rows[i].name);
		assert_int_equal(optfile_new(&spec, &f), 0);
		assert_usbws_err(optfile_parse(f, "t.conf", rows[i].text,
					       rows[i].len ? rows[i].len : strlen(rows[i].text), why, sizeof(why)),
				 rows[i].want);
		assert_string_equal(why, rows[i].why);
		/* a refused file leaves nothing behind */
		assert_int_equal(optfile_argv(f, 1, args, &argc, &argv), 0);
		assert_int_equal(argc, 1);
		optfile_free(f);
	}
}

/* up to three files ('|' splits the command line and the result) */
struct merge_row {
	const char *name, *files[3], *cmdline, *want;
};

/* Each row's files, merged with its command line, give its argv. */
static void merge_rows(const struct optfile_spec *sp, const struct merge_row *rows, size_t nrows)
{
	size_t i, k;

	for (i = 0; i < nrows; i++) {
		char buf[512], got[1024], why[256] = "", *args[MAX_ARGS], **argv;
		int argc, n = split(rows[i].cmdline, buf, sizeof(buf), args);
		struct optfile *f;

		print_message("merged: %s\n", rows[i].name);
		assert_int_equal(optfile_new(sp, &f), 0);
		for (k = 0; k < 3 && rows[i].files[k]; k++) {
			char name[16];

			snprintf(name, sizeof(name), "%zu.conf", k);
			assert_usbws_err(optfile_parse(f, name, rows[i].files[k], strlen(rows[i].files[k]), why,
						       sizeof(why)),
					 0);
		}
		assert_int_equal(optfile_argv(f, n, args, &argc, &argv), 0);
		assert_null(argv[argc]);
		join(argc, argv, got, sizeof(got));
		assert_string_equal(got, rows[i].want);
		/* the command line is left as it was */
		join(n, args, got, sizeof(got));
		assert_string_equal(got, rows[i].cmdline);
		optfile_free(f);
	}
}

static void test_merged(void **state)
{
	static const struct merge_row rows[] = {
		{ "no file", { NULL }, "prog|--listen|a:1", "prog|--listen|a:1" },
		{ "one file, every form",
		  { "# the proxy\n"
		    "\n"
		    "  listen   =   0.0.0.0:443   \n"
		    "\tcert\t=\t/etc/usbws/proxy pem.pem\n"
		    "usbip-listen-public\n"
		    "verbose = yes\n"
		    "crl = a.crl\n"
		    "crl = b.crl\n"
		    "pin = cam # 7=vhci_hcd.1\n"
		    "color\n"
		    "# the end\n" },
		  "prog",
		  "prog|--listen=0.0.0.0:443|--cert=/etc/usbws/proxy pem.pem|--usbip-listen-public|--verbose|"
		  "--crl=a.crl|--crl=b.crl|--pin=cam # 7=vhci_hcd.1|--color" },
		{ "an optional value given", { "color = never\n" }, "prog", "prog|--color=never" },
		{ "= no is not given", { "verbose = no\nlisten = a:1\n" }, "prog", "prog|--listen=a:1" },
		{ "CRLF line ends", { "listen = a:1\r\ncert = c\r\n" }, "prog", "prog|--listen=a:1|--cert=c" },
		{ "a value with '=' and quotes, as is",
		  { "pin = \"cam=7\"=vhci_hcd.0\n" },
		  "prog",
		  "prog|--pin=\"cam=7\"=vhci_hcd.0" },
		{ "UTF-8 in a value",
		  { "cert = /etc/usbws/n\xc5\x93ud.pem\n" },
		  "prog",
		  "prog|--cert=/etc/usbws/n\xc5\x93ud.pem" },
		{ "the command line comes after, for getopt's last-wins",
		  { "listen = a:1\n" },
		  "prog|--listen|b:2",
		  "prog|--listen|b:2" },
		{ "the command line replaces a repeatable option's values",
		  { "crl = a\ncrl = b\npin = x=0\n" },
		  "prog|--crl=c",
		  "prog|--pin=x=0|--crl=c" },
		{ "through an abbreviation",
		  { "crl = a\nusbip-listen = u:1\n" },
		  "prog|--cr|c|--usbip-listen-p",
		  "prog|--usbip-listen=u:1|--cr|c|--usbip-listen-p" },
		{ "through a short option", { "verbose\nlisten = a:1\n" }, "prog|-v", "prog|--listen=a:1|-v" },
		{ "a later file replaces an earlier one's key",
		  { "listen = a:1\ncrl = a\ncrl = b\ncert = c1\n", "crl = z\nlisten = b:2\n", NULL },
		  "prog",
		  "prog|--cert=c1|--crl=z|--listen=b:2" },
		{ "a later file's = no takes a flag back",
		  { "verbose\nlisten = a:1\n", "verbose = no\n" },
		  "prog",
		  "prog|--listen=a:1" },
		{ "three files, the last says",
		  { "listen = a:1\n", "listen = b:2\n", "listen = c:3\n" },
		  "prog",
		  "prog|--listen=c:3" },
		{ "non-options and -- pass through",
		  { "listen = a:1\n" },
		  "prog|stray|--|--listen",
		  "prog|--listen=a:1|stray|--|--listen" },
		{ "a command line getopt refuses replaces nothing",
		  { "listen = a:1\n", "crl = x\n" },
		  "prog|--crl|y|--bogus",
		  "prog|--listen=a:1|--crl=x|--crl|y|--bogus" },
		{ "a missing value refuses the line too", { "crl = x\n" }, "prog|--crl", "prog|--crl=x|--crl" },
	};

	(void)state;
	merge_rows(&spec, rows, sizeof(rows) / sizeof(rows[0]));
}

/* Names that are one setting (connect's device) are replaced together. */
static void test_one_setting(void **state)
{
	static const char *const one[] = { "listen", "usbip-listen", "usbip-listen-public", NULL };
	static const struct optfile_spec grouped = { options, "vhV", repeatable, cmdline_only, one };
	static const struct merge_row rows[] = {
		{ "the command line gives another of them: the file's goes",
		  { "listen = a:1\ncert = c\n" },
		  "prog|--usbip-listen|u:1",
		  "prog|--cert=c|--usbip-listen|u:1" },
		{ "a flag of them on the command line replaces a file's value",
		  { "usbip-listen = u:1\n" },
		  "prog|--usbip-listen-p",
		  "prog|--usbip-listen-p" },
		{ "a later file gives another: the earlier one's goes",
		  { "listen = a:1\nusbip-listen-public\n", "usbip-listen = u:2\n" },
		  "prog",
		  "prog|--usbip-listen=u:2" },
		{ "one file may give several of them",
		  { "listen = a:1\nusbip-listen = u:1\n" },
		  "prog",
		  "prog|--listen=a:1|--usbip-listen=u:1" },
		{ "none of them on the command line: the file's stay",
		  { "listen = a:1\n" },
		  "prog|--cert|c",
		  "prog|--listen=a:1|--cert|c" },
	};

	(void)state;
	merge_rows(&grouped, rows, sizeof(rows) / sizeof(rows[0]));
}

static void test_origin(void **state)
{
	static const char one[] = "# one\nlisten = a:1\ncrl = a\n\ncrl = b\n";
	static const char two[] = "\n\n\ncert = c\nlisten = b:2\n";
	char *args[] = { "prog", "--pin", "x=0", NULL }, **argv, why[128];
	const char *name = NULL;
	unsigned int line = 0;
	struct optfile *f;
	int argc;

	(void)state;
	assert_int_equal(optfile_new(&spec, &f), 0);
	assert_int_equal(optfile_parse(f, "one.conf", one, strlen(one), why, sizeof(why)), 0);
	assert_int_equal(optfile_parse(f, "two.conf", two, strlen(two), why, sizeof(why)), 0);
	assert_int_equal(optfile_argv(f, 3, args, &argc, &argv), 0);
	/* prog --crl=a --crl=b --cert=c --listen=b:2 --pin x=0 */
	assert_int_equal(argc, 7);
	assert_int_equal(optfile_origin(f, 0, &name, &line), 0);
	assert_int_equal(optfile_origin(f, 1, &name, &line), 1);
	assert_string_equal(name, "one.conf");
	assert_int_equal(line, 3);
	assert_int_equal(optfile_origin(f, 2, &name, &line), 1);
	assert_int_equal(line, 5);
	assert_int_equal(optfile_origin(f, 3, &name, &line), 1);
	assert_string_equal(name, "two.conf");
	assert_int_equal(line, 4);
	assert_string_equal(argv[4], "--listen=b:2");
	assert_int_equal(optfile_origin(f, 4, &name, &line), 1);
	assert_int_equal(line, 5);
	assert_int_equal(optfile_origin(f, 5, &name, &line), 0);
	assert_int_equal(optfile_origin(f, 6, &name, &line), 0);
	assert_int_equal(optfile_origin(f, 7, &name, &line), 0);
	assert_int_equal(optfile_origin(f, -1, &name, &line), 0);
	optfile_free(f);
}

static void test_scan(void **state)
{
	static const struct {
		const char *name, *cmdline, *option;
		int want;
		const char *values; /* '|'-joined; "-" for a flag's NULL */
	} rows[] = {
		{ "none", "prog|--listen|a:1", "config", 0, "" },
		{ "in order, every form", "prog|--config|a|--listen=x|--config=b|--conf|c", "config", 3, "a|b|c" },
		{ "none among them", "prog|--config|a|--config|none|--config|c", "config", 3, "a|none|c" },
		{ "a short flag", "prog|-vV|--help", "help", 1, "-" },
		{ "after --, nothing", "prog|--|--config|a", "config", 0, "" },
		{ "an unknown option", "prog|--config|a|--bogus", "config", USBWS_ERR_INVAL, "" },
		{ "an ambiguous abbreviation", "prog|--usbip-l|x", "config", USBWS_ERR_INVAL, "" },
		{ "a value missing", "prog|--config", "config", USBWS_ERR_INVAL, "" },
		{ "no such option", "prog", "frobnicate", USBWS_ERR_INVAL, "" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char buf[256], got[256] = "", *args[MAX_ARGS], before[256], after[256];
		const char *values[4];
		int n = split(rows[i].cmdline, buf, sizeof(buf), args), rc, k;
		size_t used = 0;

		print_message("scan: %s\n", rows[i].name);
		join(n, args, before, sizeof(before));
		rc = optfile_scan(&spec, n, args, rows[i].option, values, 4);
		assert_int_equal(rc, rows[i].want);
		for (k = 0; k < rc && k < 4; k++)
			used += (size_t)snprintf(got + used, sizeof(got) - used, "%s%s", k ? "|" : "",
						 values[k] ? values[k] : "-");
		assert_string_equal(got, rows[i].values);
		/* getopt_long reorders what it scans: not this argv */
		join(n, args, after, sizeof(after));
		assert_string_equal(after, before);
	}
}

/* The limits: a line of OPTFILE_MAX_LINE bytes passes and one more does
 * not; a file of more than OPTFILE_MAX_FILE bytes or OPTFILE_MAX_VALUES
 * values is refused. */
static void test_limits(void **state)
{
	size_t cap = OPTFILE_MAX_FILE + 2, len, i;
	char *text = malloc(cap), why[256];
	struct optfile *f;

	(void)state;
	assert_non_null(text);
	assert_int_equal(optfile_new(&spec, &f), 0);
	/* "cert = " and 4089 bytes of value: 4096 */
	len = (size_t)snprintf(text, cap, "cert = ");
	memset(text + len, 'x', OPTFILE_MAX_LINE - len);
	assert_int_equal(optfile_parse(f, "t.conf", text, OPTFILE_MAX_LINE, why, sizeof(why)), 0);
	/* a CRLF line's CR counts */
	text[OPTFILE_MAX_LINE] = '\r';
	assert_int_equal(optfile_parse(f, "t.conf", text, OPTFILE_MAX_LINE + 1, why, sizeof(why)),
			 USBWS_ERR_OPTFILE);
	assert_string_equal(why, "t.conf:1: line longer than 4096 bytes");
	text[OPTFILE_MAX_LINE] = 'x';
	assert_int_equal(optfile_parse(f, "t.conf", text, OPTFILE_MAX_LINE + 1, why, sizeof(why)),
			 USBWS_ERR_OPTFILE);
	assert_string_equal(why, "t.conf:1: line longer than 4096 bytes");

	memset(text, '\n', cap);
	assert_int_equal(optfile_parse(f, "big.conf", text, OPTFILE_MAX_FILE, why, sizeof(why)), 0);
	assert_int_equal(optfile_parse(f, "big.conf", text, OPTFILE_MAX_FILE + 1, why, sizeof(why)),
			 USBWS_ERR_OPTFILE);
	assert_string_equal(why, "big.conf: larger than 1048576 bytes (1 MiB), the most an options file may hold");

	for (len = 0, i = 0; i <= OPTFILE_MAX_VALUES; i++)
		len += (size_t)snprintf(text + len, cap - len, "crl = %zu\n", i);
	assert_int_equal(optfile_parse(f, "many.conf", text, len, why, sizeof(why)), USBWS_ERR_OPTFILE);
	assert_string_equal(why, "many.conf:4097: more than 4096 options in one file");
	/* exactly as many pass */
	assert_int_equal(optfile_parse(f, "many.conf", text, len - strlen("crl = 4096\n"), why, sizeof(why)), 0);
	optfile_free(f);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused), cmocka_unit_test(test_merged), cmocka_unit_test(test_one_setting),
		cmocka_unit_test(test_origin),  cmocka_unit_test(test_scan),   cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
