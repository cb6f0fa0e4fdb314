/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws list: this node's own USB devices, or what a proxy has of this node's. */

#include <stdio.h>

#include "cmd.h"
#include "localdev.h"
#include "node.h"
#include "base/stopsig.h"

const char cmd_list_usage[] =
	"usage: usbws list --local [--json]\n"
	"       usbws list --remote wss://HOST:PORT/usbip --json --cert FILE --key FILE\n"
	"                  --ca FILE [OPTIONS]\n"
	"\n"
	"Lists this node's own USB devices (--local), read from sysfs, or asks a\n"
	"usbws-proxy which devices of this node it has (--remote).\n"
	"\n"
	"  --local                   this node's devices, from sysfs\n"
	"  --remote wss://HOST:PORT/usbip\n"
	"                            the proxy to ask (--url is another name)\n"
	"  --json                    print JSON (default: a table; --remote prints\n"
	"                            only JSON)\n"
	"\n"
	"With --remote, the link options of usbws connect:\n"
	"  --cert FILE               this node's certificate, PEM (required)\n"
	"  --key FILE                its private key, PEM (required)\n"
	"  --ca FILE                 the CA that signs the proxy's certificate\n"
	"                            (required)\n"
	"  --proxy http://[user:pass@]host:port\n"
	"                            go out through this HTTP CONNECT proxy\n"
	"                            (default: none, direct)\n"
	"  --connect-timeout SECS    wait this long for the WebSocket handshake\n"
	"                            (default " CMD_STR(NODE_DEFAULT_CONNECT_TIMEOUT) ")\n"
	"  --ping-interval SECS      ping the proxy this often (default " CMD_STR(NODE_DEFAULT_PING_INTERVAL)
	"; 0: never)\n"
	"  --ping-timeout SECS       a link silent this long is dead (default "
	CMD_STR(NODE_DEFAULT_PING_TIMEOUT) ")\n"
	"  --verbose                 log more\n"
	"  -h, --help                show this help\n"
	"\n"
	"So that one set of options serves connect and list, list also accepts,\n"
	"checks and ignores connect's --backoff-max SECS, --retries N,\n"
	"--resume-window BYTES, --busid BUSID, --device usbip-vudc.N and\n"
	"--virtual SPEC; it refuses --match, --all and --user, which are for\n"
	"usbws connect only.\n";

int cmd_list(const struct cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, LINK_URL },
		{ "remote", required_argument, NULL, LINK_REMOTE },
		{ "cert", required_argument, NULL, LINK_CERT },
		{ "key", required_argument, NULL, LINK_KEY },
		{ "ca", required_argument, NULL, LINK_CA },
		{ "proxy", required_argument, NULL, LINK_PROXY },
		{ "virtual", required_argument, NULL, LINK_VIRTUAL },
		{ "json", no_argument, NULL, LINK_JSON },
		{ "verbose", no_argument, NULL, LINK_VERBOSE },
		{ "local", no_argument, NULL, LINK_LOCAL },
		{ "connect-timeout", required_argument, NULL, LINK_CONNECT_TIMEOUT },
		{ "busid", required_argument, NULL, LINK_BUSID },
		{ "device", required_argument, NULL, LINK_DEVICE },
		{ "match", required_argument, NULL, LINK_MATCH },
		{ "all", no_argument, NULL, LINK_ALL },
		{ "ping-interval", required_argument, NULL, LINK_PING_INTERVAL },
		{ "ping-timeout", required_argument, NULL, LINK_PING_TIMEOUT },
		{ "backoff-max", required_argument, NULL, LINK_BACKOFF_MAX },
		{ "retries", required_argument, NULL, LINK_RETRIES },
		{ "resume-window", required_argument, NULL, LINK_RESUME_WINDOW },
		{ "user", required_argument, NULL, LINK_USER },
		{ "help", no_argument, NULL, CMD_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct cmd_link_args args;
	int c, rc;

	cmd_link_args_init(&args);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == CMD_HELP)
			return cmd_help(cmd);
		rc = cmd_link_option(cmd, opts, c, optarg, &args);
		if (rc)
			return rc;
	}
	if (cmd_no_more_args(cmd, argc, argv))
		return CMD_USAGE_ERROR;
	if (args.hotplug) {
		fprintf(stderr, "usbws list: %s is for usbws connect\n", args.hotplug);
		return CMD_USAGE_ERROR;
	}
	if (args.node.user) {
		fprintf(stderr, "usbws list: --user is for usbws connect\n");
		return CMD_USAGE_ERROR;
	}
	if (cmd_link_check_timers(cmd, &args))
		return CMD_USAGE_ERROR;
	if (args.local)
		return localdev_list(stdout, args.json);
	if (cmd_link_check_tls(cmd, "--remote", &args))
		return CMD_USAGE_ERROR;
	if (!args.json) {
		fprintf(stderr, "usbws list --remote: only --json output exists so far\n");
		return CMD_USAGE_ERROR;
	}
	return node_list_remote(&args.node, stopsig_install());
}
