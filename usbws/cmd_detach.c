/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws detach: a vhci_hcd port, or a device by its stable address. */

#include <stdio.h>

#include "cmd.h"
#include "proxyctl.h"

const char cmd_detach_usage[] = "usage: usbws detach (--port N | --device ID) [--verbose]\n"
				"\n"
				"On the proxy's host: asks usbws-proxy, through its control socket proxy.sock,\n"
				"to detach a device from vhci_hcd.  A device held on demand is held again, its\n"
				"tunnel untouched (usbws attach takes it again; a pending attach is cancelled);\n"
				"any other device's tunnel is closed with the reason, and its node gives the\n"
				"device back.\n"
				"\n"
				"  -p, --port N              the vhci_hcd port (see usbws port)\n"
				"  -d, --device ID           the device's stable address (see usbws nodes)\n"
				"  -v, --verbose             log more\n"
				"  -h, --help                show this help\n"
				"\n"
				"Other commands' options (--busid, --vhci, --node, --timeout) are refused;\n"
				"--json is accepted and ignored.\n";

int cmd_detach(const struct cmd *cmd, int argc, char **argv)
{
	struct cmd_admin_args args;
	int rc = cmd_admin_parse(cmd, ADMIN_TAKES_PORT_OR_DEVICE, argc, argv, &args);

	if (rc)
		return rc;
	if (args.help)
		return cmd_help(cmd);
	return args.have_port ? proxyctl_detach_port(args.port, stdout)
			      : proxyctl_detach_device(args.device, stdout);
}
