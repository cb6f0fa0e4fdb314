/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws capture: on the proxy's host, a device's USB/IP as pcapng. */

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/numarg.h"
#include "cmd.h"
#include "proxyctl.h"

const char cmd_capture_usage[] = "usage: usbws capture -d ID [--duration SECONDS] [--count N] [--verbose] FILE\n"
				 "\n"
				 "On the proxy's host: asks usbws-proxy, through its control socket proxy.sock,\n"
				 "for the cleartext USB/IP of a device's tunnel, both ways, and writes it to\n"
				 "FILE as pcapng (- for standard output), which this user opens: the file is\n"
				 "theirs, not the proxy's.  It runs until Ctrl-C (SIGINT or SIGTERM), SECONDS\n"
				 "or N packets, or until the device's tunnel ends, then says what it captured.\n"
				 "tshark and Wireshark read it as USB/IP on TCP port 3240:\n"
				 "  tshark -r FILE -d tcp.port==3240,usbip\n"
				 "\n"
				 "  -d, --device ID           the device's stable address (see usbws nodes)\n"
				 "  --duration SECONDS        stop after this long (default: no limit)\n"
				 "  --count N                 stop after N USB/IP packets (default: no limit)\n"
				 "  -v, --verbose             log more\n"
				 "  -h, --help                show this help\n";

int cmd_capture(const struct cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' }, { "duration", required_argument, NULL, 'T' },
		{ "count", required_argument, NULL, 'n' },  { "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, CMD_HELP },    { NULL, 0, NULL, 0 },
	};
	const char *device = NULL, *file;
	unsigned long long duration = 0, count = 0;
	int c;

	/* 0: getopt starts afresh, and takes options after FILE too (main's
	 * "+" would otherwise carry over) */
	optind = 0;
	/* usbip's letter for a device, as attach and detach take it */
	while ((c = getopt_long(argc, argv, "d:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': device = optarg; break;
		case 'T':
			if (numarg_parse(optarg, 1, 86400, 0, &duration) < 0) {
				fprintf(stderr,
					"usbws capture: --duration wants seconds from 1 to 86400, not '%s'\n",
					optarg);
				return CMD_USAGE_ERROR;
			}
			break;
		case 'n':
			if (numarg_parse(optarg, 1, 1000000000000ull, 0, &count) < 0) {
				fprintf(stderr,
					"usbws capture: --count wants a number of packets from 1 to 10^12, not '%s'\n",
					optarg);
				return CMD_USAGE_ERROR;
			}
			break;
		case 'v': log_set_level(LOG_LEVEL_DEBUG); break;
		case CMD_HELP: return cmd_help(cmd);
		default: return CMD_USAGE_ERROR;
		}
	}
	if (!device) {
		fprintf(stderr, "usbws capture: --device ID is required (usbws nodes lists them)\n");
		return CMD_USAGE_ERROR;
	}
	if (optind >= argc) {
		fprintf(stderr, "usbws capture: FILE is required (- for standard output)\n");
		return CMD_USAGE_ERROR;
	}
	file = argv[optind++];
	if (cmd_no_more_args(cmd, argc, argv))
		return CMD_USAGE_ERROR;
	if (strcmp(file, "-") == 0 && isatty(STDOUT_FILENO)) {
		fprintf(stderr,
			"usbws capture: standard output is a terminal: give a FILE, or pipe it "
			"(usbws capture --device ID - | tshark -r -)\n");
		return CMD_USAGE_ERROR;
	}
	return proxyctl_capture(device, file, (unsigned int)duration, (uint64_t)count);
}
