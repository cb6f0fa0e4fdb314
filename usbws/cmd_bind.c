/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws bind: give a device to usbip-host. */

#include <stdio.h>

#include "admin.h"
#include "cmd.h"

const char cmd_bind_usage[] = "usage: usbws bind --busid BUSID [--verbose]\n"
			      "\n"
			      "Gives the device BUSID to usbip-host, as usbip bind does: adds it to\n"
			      "match_busid, unbinds it from its driver, binds it to usbip-host.  The driver\n"
			      "it had is remembered in the run directory, for usbws unbind.\n"
			      "\n"
			      "  -b, --busid BUSID         the device (required)\n" CMD_ADMIN_NODE_USAGE_TAIL;

int cmd_bind(const struct cmd *cmd, int argc, char **argv)
{
	struct cmd_admin_args args;
	int rc = cmd_admin_parse(cmd, ADMIN_TAKES_BUSID, argc, argv, &args);

	if (rc)
		return rc;
	if (args.help)
		return cmd_help(cmd);
	return admin_bind(args.busid, stdout);
}
