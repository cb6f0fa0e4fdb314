/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws disconnect: stop the usbws connect exporting a device. */

#include <stdio.h>

#include "admin.h"
#include "cmd.h"

const char cmd_disconnect_usage[] =
	"usage: usbws disconnect --busid BUSID [--verbose]\n"
	"\n"
	"Asks the usbws connect exporting BUSID, through its control socket, to unexport\n"
	"and stop (giving the device back to its driver if it bound it), and waits\n"
	"until it has.\n"
	"\n"
	"  -b, --busid BUSID         the device (required)\n" CMD_ADMIN_NODE_USAGE_TAIL;

int cmd_disconnect(const struct cmd *cmd, int argc, char **argv)
{
	struct cmd_admin_args args;
	int rc = cmd_admin_parse(cmd, ADMIN_TAKES_BUSID, argc, argv, &args);

	if (rc)
		return rc;
	if (args.help)
		return cmd_help(cmd);
	return admin_disconnect(args.busid, stdout);
}
