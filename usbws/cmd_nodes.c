/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws nodes: on the proxy's host, its fleet. */

#include <stdio.h>

#include "cmd.h"
#include "proxyctl.h"

const char cmd_nodes_usage[] = "usage: usbws nodes [--node PATTERN] [--json] [--verbose]\n"
			       "\n"
			       "On the proxy's host: every node with a device on usbws-proxy, asked through its\n"
			       "control socket proxy.sock, without a node certificate.  For each node: since\n"
			       "when and from where it is connected; for each device: its stable address (the\n"
			       "id usbws attach takes, the busid usbip sees), its state (attached, re-exported,\n"
			       "offered over USB/IP, or held on demand), where it is attached, the bytes and\n"
			       "URBs it carried and the median URB round trip.\n"
			       "\n"
			       "  --node PATTERN            only nodes whose identity matches (fnmatch: gw-1*)\n"
			       "  --json                    print JSON (default: a table)\n"
			       "  -v, --verbose             log more\n"
			       "  -h, --help                show this help\n"
			       "\n"
			       "Other commands' options (--busid, --port, --device, --vhci, --timeout) are\n"
			       "refused.\n";

int cmd_nodes(const struct cmd *cmd, int argc, char **argv)
{
	struct cmd_admin_args args;
	int rc = cmd_admin_parse(cmd, ADMIN_MAY_NODE, argc, argv, &args);

	if (rc)
		return rc;
	if (args.help)
		return cmd_help(cmd);
	return proxyctl_nodes(args.json, args.node, stdout);
}
