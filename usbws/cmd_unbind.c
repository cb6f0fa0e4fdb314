/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws unbind: give a device back to its own driver. */

#include <stdio.h>

#include "admin.h"
#include "cmd.h"

const char cmd_unbind_usage[] = "usage: usbws unbind --busid BUSID [--verbose]\n"
				"\n"
				"Takes the device BUSID from usbip-host and has the kernel probe it again; if the\n"
				"driver it had before usbws bind did not take it back, binds it to that driver.\n"
				"A device being exported is refused: stop it with usbws disconnect first.\n"
				"\n"
				"  -b, --busid BUSID         the device (required)\n" CMD_ADMIN_NODE_USAGE_TAIL;

int cmd_unbind(const struct cmd *cmd, int argc, char **argv)
{
	struct cmd_admin_args args;
	int rc = cmd_admin_parse(cmd, ADMIN_TAKES_BUSID, argc, argv, &args);

	if (rc)
		return rc;
	if (args.help)
		return cmd_help(cmd);
	return admin_unbind(args.busid, stdout);
}
