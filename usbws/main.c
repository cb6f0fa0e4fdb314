/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws: the node-side front end.  The global options, the table of
 * commands and the dispatch; each command is in its cmd_NAME.c. */

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "base/log.h"
#include "kernel/sysfs.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const struct cmd node_commands[] = {
	{ "selftest", "check the USB/IP protocol core (codec, framer, validator)", cmd_selftest, cmd_selftest_usage },
	{ "serve", "serve virtual devices over plain USB/IP TCP, as usbipd does", cmd_serve, cmd_serve_usage },
	{ "connect", "export a device to a usbws-proxy over WebSocket/TLS", cmd_connect, cmd_connect_usage },
	{ "list", "list this node's USB devices, or what a proxy has of them", cmd_list, cmd_list_usage },
	{ "bind", "give a device to usbip-host", cmd_bind, cmd_bind_usage },
	{ "unbind", "give a device back to its own driver", cmd_unbind, cmd_unbind_usage },
	{ "status", "the running tunnels of this node", cmd_status, cmd_status_usage },
	{ "disconnect", "stop the usbws connect exporting a device", cmd_disconnect, cmd_disconnect_usage },
};

/* Run where usbws-proxy runs: they talk to its control socket, proxy.sock. */
static const struct cmd proxy_host_commands[] = {
	{ "nodes", "the nodes and devices of usbws-proxy's fleet", cmd_nodes, cmd_nodes_usage },
	{ "port", "the devices usbws-proxy attached to vhci_hcd or re-exports", cmd_port, cmd_port_usage },
	{ "attach", "attach a device held on demand to vhci_hcd", cmd_attach, cmd_attach_usage },
	{ "detach", "detach a device from vhci_hcd", cmd_detach, cmd_detach_usage },
	{ "capture", "write a device's USB/IP to a pcapng file", cmd_capture, cmd_capture_usage },
};

static const struct {
	const char *title;
	const struct cmd *cmds;
	size_t n;
} groups[] = {
	{ "Commands on the node", node_commands, N_OF(node_commands) },
	{ "Commands on the proxy's host (through usbws-proxy's proxy.sock)", proxy_host_commands,
	  N_OF(proxy_host_commands) },
};

static void usage(FILE *out)
{
	size_t g, i;

	fprintf(out, "usage: usbws COMMAND [OPTIONS]\n"
		     "       usbws COMMAND --help\n");
	for (g = 0; g < N_OF(groups); g++) {
		fprintf(out, "\n%s:\n", groups[g].title);
		for (i = 0; i < groups[g].n; i++)
			fprintf(out, "  %-12s %s\n", groups[g].cmds[i].name, groups[g].cmds[i].summary);
	}
	fprintf(out,
		"\n"
		"Options (before the command):\n"
		"  --sysfs-root DIR  where sysfs is (default /sys, or $USBWS_SYSFS_ROOT)\n"
		"  -h, --help        show this help\n"
		"  -V, --version     show the version\n"
		"Control sockets live in /run/usbws, or $USBWS_RUN_DIR.\n");
}

static const struct cmd *find_command(const char *name)
{
	size_t g, i;

	for (g = 0; g < N_OF(groups); g++)
		for (i = 0; i < groups[g].n; i++)
			if (strcmp(groups[g].cmds[i].name, name) == 0)
				return &groups[g].cmds[i];
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "sysfs-root", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd *cmd;
	const char *sysfs = NULL;
	int c;

	/* options before the command only: "+" stops at the first non-option */
	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("usbws %s\n", PACKAGE_VERSION);
			return 0;
		case 's':
			sysfs = optarg;
			break;
		default:
			usage(stderr);
			return CMD_USAGE_ERROR;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usbws: no command given (try 'usbws --help')\n");
		return CMD_USAGE_ERROR;
	}
	log_init("usbws", LOG_LEVEL_INFO);
	sysfs_set_root(sysfs);
	cmd = find_command(argv[optind]);
	if (!cmd) {
		fprintf(stderr, "usbws: unknown command '%s' (try 'usbws --help')\n", argv[optind]);
		return CMD_USAGE_ERROR;
	}
	return cmd->run(cmd, argc - optind, argv + optind);
}
