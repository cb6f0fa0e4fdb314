/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws list: this node's own USB devices, or what a proxy has of this node's. */

#include <stdio.h>

#include "cmd.h"
#include "localdev.h"
#include "node.h"
#include "base/stopsig.h"

/* one line of the text a line */
/* clang-format off */
const char cmd_list_usage[] =
	"usage: usbws list --local [--json]\n"
	"       usbws list --remote wss://HOST:PORT/usbip --json --cert FILE --key FILE\n"
	"                  --ca FILE [OPTIONS]\n"
	"\n"
	"Lists this node's own USB devices (--local), read from sysfs, or asks a\n"
	"usbws-proxy which devices of this node it has (--remote).\n"
	"\n"
	"  -l, --local               this node's devices, from sysfs\n"
	"  -r, --remote wss://HOST:PORT/usbip\n"
	"                            the proxy to ask (--url is another name)\n"
	"  --json                    print JSON (default: a table; --remote prints\n"
	"                            only JSON)\n"
	"\n"
	"With --remote, the link options of usbws connect:\n"
	CMD_LINK_OPTIONS_HELP
	"  -v, --verbose             log more\n"
	"  -h, --help                show this help\n"
	"\n"
	"So that one set of options serves connect and list, list also accepts,\n"
	"checks and ignores connect's --backoff-max SECS, --retries N,\n"
	"--resume-window BYTES, -b, --busid BUSID, -d, --device usbip-vudc.N and\n"
	"--virtual SPEC; it refuses --match, --all and --user, which are for\n"
	"usbws connect only.\n";
/* clang-format on */

int cmd_list(const struct cmd *cmd, int argc, char **argv)
{
	struct cmd_link_args args;
	int rc = cmd_link_parse(cmd, argc, argv, &args);

	if (rc)
		return rc;
	if (args.help)
		return cmd_help(cmd);
	if (args.hotplug) {
		fprintf(stderr, "usbws list: %s is for usbws connect\n", args.hotplug);
		return CMD_USAGE_ERROR;
	}
	if (args.node.user) {
		fprintf(stderr, "usbws list: --user is for usbws connect\n");
		return CMD_USAGE_ERROR;
	}
	if (cmd_link_check_timers(cmd, &args))
		return CMD_USAGE_ERROR;
	if (args.local)
		return localdev_list(stdout, args.json);
	if (!args.json) {
		fprintf(stderr, "usbws list --remote: only --json output exists so far\n");
		return CMD_USAGE_ERROR;
	}
	if (cmd_link_check_tls(cmd, "--remote", &args))
		return CMD_USAGE_ERROR;
	return node_list_remote(&args.node, stopsig_install());
}
