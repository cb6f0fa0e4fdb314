/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws status: the running tunnels of this node. */

#include <stdio.h>

#include "admin.h"
#include "cmd.h"

const char cmd_status_usage[] = "usage: usbws status [--json] [--verbose]\n"
				"\n"
				"The running usbws connect processes of this node, through their control\n"
				"sockets: busid, kind, state, the proxy's busid for the device, uptime, URBs\n"
				"and bytes each way.\n"
				"\n"
				"  --json                    print JSON (default: a table)\n"
				"  -v, --verbose             log more\n"
				"  -h, --help                show this help\n"
				"\n"
				"Other commands' options (--busid, --port, --device, --vhci, --node, --timeout)\n"
				"are refused.\n";

int cmd_status(const struct cmd *cmd, int argc, char **argv)
{
	struct cmd_admin_args args;
	int rc = cmd_admin_parse(cmd, ADMIN_TAKES_NONE, argc, argv, &args);

	if (rc)
		return rc;
	if (args.help)
		return cmd_help(cmd);
	return admin_status(args.json, stdout);
}
