/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws-proxy: the cloud-side front end.  Argument parsing and wiring only. */

#include <getopt.h>
#include <stdio.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: usbws-proxy [OPTIONS]\n"
		"\n"
		"  -h, --help     show this help\n"
		"  -V, --version  show the version\n"
		"\n"
		"The WSS server is not in this release yet: this build carries the\n"
		"protocol core only (see 'usbws selftest').\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("usbws-proxy %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	fprintf(stderr, "usbws-proxy: the WSS server is not implemented in this release; "
		"nothing to run (see 'usbws-proxy --help')\n");
	return 1;
}
