/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws connect: export a device, or each matching one, to a usbws-proxy. */

#include <pwd.h>
#include <signal.h>
#include <stdio.h>

#include "cmd.h"
#include "hotplug.h"
#include "node.h"
#include "base/stopsig.h"
#include "tunnel/resume.h"

_Static_assert(RESUME_DEFAULT_WINDOW == 1u << 20, "the usage below says --resume-window is 1M by default");

/* one line of the text a line */
/* clang-format off */
const char cmd_connect_usage[] =
	"usage: usbws connect --url wss://HOST:PORT/usbip --cert FILE --key FILE\n"
	"                     --ca FILE DEVICE [OPTIONS]\n"
	"\n"
	"Exports a device to a usbws-proxy over WebSocket/TLS.  Reconnects forever,\n"
	"with backoff and jitter, resuming the session the proxy keeps.\n"
	"\n"
	"DEVICE, one of:\n"
	"  -b, --busid BUSID         a USB device of this node, bound to usbip-host\n"
	"                            first\n"
	"  -d, --device usbip-vudc.N the gadget on that usbip-vudc UDC\n"
	"  --virtual SPEC            a virtual device: storage:PATH (mass storage on\n"
	"                            an image file) or sourcesink; with --busid BUSID\n"
	"                            it goes by that busid (default 1-1)\n"
	"  --match VID:PID           each device with these IDs while it is plugged\n"
	"                            in, one child each (repeatable, up to " CMD_STR(HOTPLUG_MAX_MATCHES) ")\n"
	"  --all                     each device of this node but hubs and imported\n"
	"                            ones\n"
	"\n"
	"Options:\n"
	"  --url wss://HOST:PORT/usbip\n"
	"                            the proxy (required; -r, --remote is another\n"
	"                            name; without a path, /usbip)\n"
	CMD_LINK_OPTIONS_HELP
	"  --backoff-max SECS        the longest wait between attempts (default "
	CMD_STR(NODE_DEFAULT_BACKOFF_MAX) ")\n"
	"  --retries N               give up after N failed attempts in a row\n"
	"                            (default 0: never)\n"
	"  --resume-window BYTES     bytes kept until the proxy acknowledges them,\n"
	"                            256K to 1G, K and M suffixes (default 1M)\n"
	"  --user USER               parse the network as USER once the device's\n"
	"                            files are open (default: the user that started\n"
	"                            it)\n"
	"  -v, --verbose             log more\n"
	"  -h, --help                show this help\n"
	"\n"
	"--json and -l, --local, usbws list's, are accepted and ignored.\n";
/* clang-format on */

int cmd_connect(const struct cmd *cmd, int argc, char **argv)
{
	struct cmd_link_args args;
	struct node_config *cfg = &args.node;
	volatile sig_atomic_t *stop;
	int rc = cmd_link_parse(cmd, argc, argv, &args);

	if (rc)
		return rc;
	if (args.help)
		return cmd_help(cmd);
	/* before any device is bound, or any child started */
	if (cfg->user && !getpwnam(cfg->user)) {
		fprintf(stderr, "usbws connect: --user %s: no such user (give an existing one, e.g. nobody)\n",
			cfg->user);
		return CMD_USAGE_ERROR;
	}
	if (args.filter.all && args.filter.n_matches) {
		fprintf(stderr, "usbws connect: --all already exports every device; drop --match or --all\n");
		return CMD_USAGE_ERROR;
	}
	if (args.hotplug && args.one_device) {
		fprintf(stderr, "usbws connect: %s and %s do not go together: %s exports one device, %s every "
				"matching device while it is plugged in; give one of them\n",
			args.hotplug, args.one_device, args.one_device, args.hotplug);
		return CMD_USAGE_ERROR;
	}
	/* a virtual device goes by a busid too (1-1 unless told): devices of
	 * one node must differ in it, as the proxy keeps one connection per
	 * node and busid */
	if (cfg->virtual_spec && args.busid && cfg->device == args.busid) {
		cfg->virtual_busid = args.busid;
		cfg->device = NULL;
	}
	if (!args.hotplug && !cfg->virtual_spec == !cfg->device) {
		fprintf(stderr, "usbws connect: one of --busid BUSID, --device usbip-vudc.N, --virtual SPEC "
				"(storage:PATH or sourcesink), --match VID:PID or --all is required\n");
		return CMD_USAGE_ERROR;
	}
	/* the files last: the command line's own mistakes are said first */
	if (cmd_link_check_timers(cmd, &args) || cmd_link_check_tls(cmd, "--url", &args))
		return CMD_USAGE_ERROR;
	stop = stopsig_install();
	if (args.hotplug)
		return hotplug_run(cfg, &args.filter, stop);
	return node_export_run(cfg, stop);
}
