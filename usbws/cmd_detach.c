/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws detach: detach a device from vhci_hcd. */

#include <stdio.h>

#include "admin.h"
#include "cmd.h"

const char cmd_detach_usage[] =
	"usage: usbws detach --port N [--verbose]\n"
	"\n"
	"On the proxy's host: asks usbws-proxy, through its control socket proxy.sock,\n"
	"to detach vhci_hcd port N (see usbws port); it closes that node's tunnel with\n"
	"the reason, and the node gives the device back.\n"
	"\n"
	"  --port N                  the vhci_hcd port (required)\n"
	"  --verbose                 log more\n"
	"  -h, --help                show this help\n"
	"\n"
	"--busid, other commands' option, is refused; --json is accepted and ignored.\n";

int cmd_detach(const struct cmd *cmd, int argc, char **argv)
{
	struct cmd_admin_args args;
	int rc = cmd_admin_parse(cmd, ADMIN_TAKES_PORT, argc, argv, &args);

	if (rc)
		return rc;
	if (args.help)
		return cmd_help(cmd);
	return admin_detach(args.port, stdout);
}
