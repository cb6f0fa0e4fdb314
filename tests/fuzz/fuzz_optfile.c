/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target for the programs' options files (optfile_parse and the
 * merge of optfile_argv), which an operator writes and root reads.  Input:
 * a file's text.  Checks that a refusal says why, names the file and line
 * and carries no control character into the log; that what passes becomes
 * only --KEY[=VALUE] elements of known keys, file keys only, with printable
 * values, each from a line the file has; that the command line replaces the
 * file's values of what it gives; and that the same text read again as a
 * later file replaces every value of the first.
 */
#include <string.h>

#include "base/optfile.h"
#include "base/usbws_err.h"
#include "base/utf8.h"
#include "fuzz_common.h"

/* the kinds usbws-proxy's table holds */
static const struct option options[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "cert", required_argument, NULL, 'c' },
	{ "crl", required_argument, NULL, 'r' },
	{ "pin", required_argument, NULL, 'P' },
	{ "usbip-listen", required_argument, NULL, 'u' },
	{ "usbip-listen-public", no_argument, NULL, 'E' },
	{ "color", optional_argument, NULL, 'C' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "config", required_argument, NULL, 'F' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};
static const char *const repeatable[] = { "crl", "pin", NULL };
static const char *const cmdline_only[] = { "config", "help", "version", NULL };
static const struct optfile_spec spec = { options, "vhV", repeatable, cmdline_only };

static void check_refusal(const char *why, size_t cap)
{
	size_t len = strnlen(why, cap), i;

	FUZZ_ASSERT(len < cap);
	FUZZ_ASSERT(strncmp(why, "fuzz.conf:", 10) == 0);
	for (i = 0; i < len; i++)
		FUZZ_ASSERT((unsigned char)why[i] >= 0x20 && why[i] != 0x7f);
	/* a quoted word is cut on a character's boundary */
	FUZZ_ASSERT(utf8_printable(why, len));
}

/* One element the files gave: a known key a file may hold, as its kind
 * wants it, from a line the file has. */
static void check_element(const struct optfile *f, int index, const char *element, unsigned int lines,
			  const char *want_name)
{
	const char *eq = strchr(element, '='), *name;
	size_t klen;
	unsigned int line;
	int i, found = -1;

	FUZZ_ASSERT(strncmp(element, "--", 2) == 0);
	klen = eq ? (size_t)(eq - element) - 2 : strlen(element) - 2;
	for (i = 0; options[i].name; i++)
		if (strlen(options[i].name) == klen && memcmp(options[i].name, element + 2, klen) == 0)
			found = i;
	FUZZ_ASSERT(found >= 0);
	FUZZ_ASSERT(strcmp(options[found].name, "config") && strcmp(options[found].name, "help") &&
		    strcmp(options[found].name, "version"));
	if (options[found].has_arg == no_argument)
		FUZZ_ASSERT(!eq);
	if (options[found].has_arg == required_argument)
		FUZZ_ASSERT(eq && eq[1]);
	if (eq) {
		FUZZ_ASSERT(utf8_printable(eq + 1, strlen(eq + 1)));
		FUZZ_ASSERT(eq[1] != ' ' && eq[strlen(eq) - 1] != ' ');
	}
	FUZZ_ASSERT(optfile_origin(f, index, &name, &line) == 1);
	FUZZ_ASSERT(strcmp(name, want_name) == 0);
	FUZZ_ASSERT(line >= 1 && line <= lines);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *cmdline[] = { (char *)"prog", (char *)"--crl", (char *)"x.crl", (char *)"-v", NULL };
	const char *text = (const char *)data;
	unsigned int lines = 1;
	struct optfile *f;
	char why[512], **argv;
	int rc, argc, first_argc, i;
	size_t k;

	for (k = 0; k < size; k++)
		lines += data[k] == '\n';
	if (optfile_new(&spec, &f) < 0)
		return 0;
	why[0] = '\0';
	rc = optfile_parse(f, "fuzz.conf", text, size, why, sizeof(why));
	FUZZ_ASSERT(rc == 0 || rc == USBWS_ERR_OPTFILE || rc == USBWS_ERR_NOMEM);
	if (rc < 0) {
		if (rc == USBWS_ERR_OPTFILE)
			check_refusal(why, sizeof(why));
		/* nothing of a refused file stays */
		FUZZ_ASSERT(optfile_argv(f, 4, cmdline, &argc, &argv) == 0 && argc == 4);
		optfile_free(f);
		return 0;
	}
	if (optfile_argv(f, 4, cmdline, &argc, &argv) < 0)
		goto out;
	FUZZ_ASSERT(argc >= 4 && argv[argc] == NULL);
	FUZZ_ASSERT(strcmp(argv[0], "prog") == 0 && strcmp(argv[argc - 3], "--crl") == 0 &&
		    strcmp(argv[argc - 2], "x.crl") == 0 && strcmp(argv[argc - 1], "-v") == 0);
	for (i = 1; i < argc - 3; i++) {
		check_element(f, i, argv[i], lines, "fuzz.conf");
		/* the command line gives --crl and -v: none of the file's */
		FUZZ_ASSERT(strncmp(argv[i], "--crl=", 6) != 0 && strcmp(argv[i], "--verbose") != 0);
	}
	first_argc = argc;
	/* the same text again, later: it replaces each of the first's keys */
	rc = optfile_parse(f, "fuzz2.conf", text, size, why, sizeof(why));
	FUZZ_ASSERT(rc == 0 || rc == USBWS_ERR_NOMEM);
	if (rc < 0 || optfile_argv(f, 1, cmdline, &argc, &argv) < 0)
		goto out;
	FUZZ_ASSERT(argc >= first_argc - 3 && argv[argc] == NULL);
	for (i = 1; i < argc; i++)
		check_element(f, i, argv[i], lines, "fuzz2.conf");
out:
	optfile_free(f);
	return 0;
}
