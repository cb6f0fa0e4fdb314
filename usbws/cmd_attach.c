/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws attach: on the proxy's host, a device held on demand into vhci_hcd. */

#include <stdio.h>

#include "cmd.h"
#include "proxyctl.h"

const char cmd_attach_usage[] =
	"usage: usbws attach --device ID [--vhci vhci_hcd.N] [--timeout SECONDS] [--verbose]\n"
	"\n"
	"On the proxy's host: asks usbws-proxy, through its control socket proxy.sock,\n"
	"to attach a device to vhci_hcd, where this host's applications see it as a\n"
	"local USB device.  It is for devices the policy holds on demand (usbws nodes\n"
	"shows them as held).  When the device's node is resuming its link, the device\n"
	"is attached as soon as the node is back, and this waits for that.\n"
	"\n"
	"  -d, --device ID           the device's stable address (see usbws nodes)\n"
	"  --vhci vhci_hcd.N         attach to that controller (or a list: 0,1); default:\n"
	"                            any --vhci, --pin and the policy allow\n"
	"  --timeout SECONDS         how long to wait for a resuming node (default " CMD_STR(
		ADMIN_DEFAULT_ATTACH_TIMEOUT) ")\n"
					      "  -v, --verbose             log more\n"
					      "  -h, --help                show this help\n"
					      "\n"
					      "Other commands' options (--busid, --port, --node) are refused; --json is\n"
					      "accepted and ignored.\n";

int cmd_attach(const struct cmd *cmd, int argc, char **argv)
{
	struct cmd_admin_args args;
	int rc = cmd_admin_parse(cmd, ADMIN_TAKES_DEVICE | ADMIN_MAY_VHCI | ADMIN_MAY_TIMEOUT, argc, argv, &args);

	if (rc)
		return rc;
	if (args.help)
		return cmd_help(cmd);
	return proxyctl_attach(args.device, args.vhci, args.timeout, stdout);
}
