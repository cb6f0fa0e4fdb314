/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws selftest: the USB/IP protocol core checked on a sample session. */

#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "usbip/selftest.h"

const char cmd_selftest_usage[] =
	"usage: usbws selftest\n"
	"\n"
	"Checks the USB/IP protocol core (codec, framer, validator) on a complete sample\n"
	"session, framed whole, a byte at a time and in 7-byte chunks, and on corrupted\n"
	"streams.  Prints one line per check and \"N passed, N failed\"; exits 1 when a\n"
	"check failed.  It takes no options but:\n"
	"\n"
	"  -h, --help                show this help\n";

int cmd_selftest(const struct cmd *cmd, int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return cmd_help(cmd);
	if (argc > 1) {
		fprintf(stderr, "usbws selftest: unexpected argument '%s' (it takes none)\n", argv[1]);
		return CMD_USAGE_ERROR;
	}
	return selftest_run(stdout) == 0 ? 0 : 1;
}
