/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws port: on the proxy's host, the devices attached to vhci_hcd. */

#include <stdio.h>

#include "admin.h"
#include "cmd.h"

const char cmd_port_usage[] =
	"usage: usbws port [--json] [--verbose]\n"
	"\n"
	"On the proxy's host: the devices usbws-proxy attached to vhci_hcd, asked through\n"
	"its control socket proxy.sock: port, controller, half (hs or ss), the node and\n"
	"its busid for the device, the local busid, vendor and product.\n"
	"\n"
	"  --json                    print JSON (default: a table)\n"
	"  --verbose                 log more\n"
	"  -h, --help                show this help\n"
	"\n"
	"--busid and --port, other commands' options, are refused.\n";

int cmd_port(const struct cmd *cmd, int argc, char **argv)
{
	struct cmd_admin_args args;
	int rc = cmd_admin_parse(cmd, ADMIN_TAKES_NONE, argc, argv, &args);

	if (rc)
		return rc;
	if (args.help)
		return cmd_help(cmd);
	return admin_ports(args.json, stdout);
}
