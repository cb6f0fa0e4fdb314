/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws port: on the proxy's host, its vhci_hcd attachments and USB/IP re-exports. */

#include <stdio.h>

#include "cmd.h"
#include "proxyctl.h"

const char cmd_port_usage[] = "usage: usbws port [--json] [--verbose]\n"
			      "\n"
			      "On the proxy's host: the devices usbws-proxy attached to vhci_hcd (port,\n"
			      "controller, half hs or ss, the node and its busid for the device, the local\n"
			      "busid, vendor and product) and those it re-exports over USB/IP (address, node,\n"
			      "importer), asked through its control socket proxy.sock.\n"
			      "\n"
			      "  --json                    print JSON (default: a table)\n"
			      "  -v, --verbose             log more\n"
			      "  -h, --help                show this help\n"
			      "\n"
			      "Other commands' options (--busid, --port, --device, --vhci, --node, --timeout)\n"
			      "are refused.\n";

int cmd_port(const struct cmd *cmd, int argc, char **argv)
{
	struct cmd_admin_args args;
	int rc = cmd_admin_parse(cmd, ADMIN_TAKES_NONE, argc, argv, &args);

	if (rc)
		return rc;
	if (args.help)
		return cmd_help(cmd);
	return proxyctl_ports(args.json, stdout);
}
