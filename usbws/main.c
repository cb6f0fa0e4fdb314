/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws: the node-side front end.  Argument parsing and wiring only. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "selftest.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: usbws COMMAND [OPTIONS]\n"
		"\n"
		"Commands:\n"
		"  selftest     check the USB/IP protocol core (codec, framer, validator)\n"
		"\n"
		"Options:\n"
		"  -h, --help     show this help\n"
		"  -V, --version  show the version\n"
		"\n"
		"The WSS tunnel commands (connect, list, bind) are not in this release yet.\n");
}

static int cmd_selftest(int argc, char **argv)
{
	if (argc > 1) {
		fprintf(stderr, "usbws selftest: unexpected argument '%s' (it takes none)\n", argv[1]);
		return 2;
	}
	return usbws_selftest(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	/* options before the command only: "+" stops at the first non-option */
	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("usbws %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usbws: no command given (try 'usbws --help')\n");
		return 2;
	}
	if (strcmp(argv[optind], "selftest") == 0)
		return cmd_selftest(argc - optind, argv + optind);
	fprintf(stderr, "usbws: unknown command '%s' (try 'usbws --help')\n", argv[optind]);
	return 2;
}
