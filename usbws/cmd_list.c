/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws list: this node's own USB devices, or what a proxy has of this node's. */

#include <stdio.h>

#include <jansson.h>

#include "admin.h"
#include "cmd.h"
#include "localdev.h"
#include "node.h"
#include "base/stopsig.h"
#include "table.h"

/* the text as --help prints it, one line a line */
/* clang-format off */
const char cmd_list_usage[] =
	"usage: usbws list --local [--json]\n"
	"       usbws list --remote wss://HOST:PORT/usbip [--json] --cert FILE\n"
	"                  --key FILE --ca FILE [OPTIONS]\n"
	"\n"
	"Lists this node's own USB devices (--local), read from sysfs, or asks a\n"
	"usbws-proxy which devices of this node it has (--remote).\n"
	"\n"
	"  -l, --local               this node's devices, from sysfs\n"
	"  -r, --remote wss://HOST:PORT/usbip\n"
	"                            the proxy to ask (--url is another name)\n"
	"  --json                    print JSON (default: a table)\n"
	"\n"
	"With --remote, the link options of usbws connect:\n"
	CMD_LINK_OPTIONS_HELP
	"  --log-level LEVEL         error, warning, info (default) or debug\n"
	"  -v, --verbose             log more: --log-level debug\n"
	"  -h, --help                show this help\n"
	"\n"
	"So that one set of options serves connect and list, list also accepts,\n"
	"checks and ignores connect's --backoff-max SECS, --retries N,\n"
	"--resume-window BYTES, -b, --busid BUSID, -d, --device usbip-vudc.N and\n"
	"--virtual SPEC; it refuses --match, --all, --user, --metrics-listen\n"
	"ADDR:PORT, --config FILE and --instance NAME, which are for usbws connect\n"
	"only (list reads no options file).\n";
/* clang-format on */

/* What the proxy has of this node's (of every node's, for an operator):
 * every field is the proxy's, made printable by the table. */
static int print_remote(json_t *listing, FILE *out)
{
	static const struct table_column cols[] = {
		{ "NODE", TABLE_LEFT },  { "BUSID", TABLE_LEFT }, { "VID:PID", TABLE_LEFT },
		{ "SPEED", TABLE_LEFT }, { "CLASS", TABLE_LEFT }, { "STATE", TABLE_LEFT },
	};
	struct table *t = table_new(cols, sizeof(cols) / sizeof(cols[0]));
	json_t *n, *d;
	size_t i, j;

	json_array_foreach(json_object_get(listing, "nodes"), i, n)
	{
		json_array_foreach(json_object_get(n, "devices"), j, d)
		{
			char id[32];
			const char *row[] = { admin_str(n, "node"),  admin_str(d, "busid"), id,
					      admin_str(d, "speed"), admin_str(d, "class"), admin_str(d, "state") };

			admin_vid_pid(id, sizeof(id), d);
			if (t && table_add(t, row) < 0) {
				table_free(t);
				t = NULL;
			}
		}
	}
	if (t && table_rows(t) == 0) {
		table_free(t);
		fprintf(out, "the proxy has no device of this node\n");
		return 0;
	}
	return admin_table_done(t, out);
}

int cmd_list(const struct cmd *cmd, int argc, char **argv)
{
	struct cmd_link_args args;
	json_t *listing;
	int rc = cmd_link_parse(cmd, argc, argv, &args);

	if (rc)
		return rc;
	if (args.help)
		return cmd_help(cmd);
	if (args.hotplug) {
		fprintf(stderr, "usbws list: %s is for usbws connect\n", args.hotplug);
		return CMD_USAGE_ERROR;
	}
	if (args.node.user || args.node.metrics_listen) {
		fprintf(stderr, "usbws list: %s is for usbws connect\n",
			args.node.user ? "--user" : "--metrics-listen");
		return CMD_USAGE_ERROR;
	}
	if (args.config || args.instance) {
		fprintf(stderr, "usbws list: %s is for usbws connect\n", args.config ? "--config" : "--instance");
		return CMD_USAGE_ERROR;
	}
	if (cmd_link_check_timers(cmd, &args))
		return CMD_USAGE_ERROR;
	if (args.local)
		return localdev_list(stdout, args.json);
	if (cmd_link_check_tls(cmd, "--remote", &args))
		return CMD_USAGE_ERROR;
	rc = node_list_remote(&args.node, stopsig_install(), &listing);
	if (rc)
		return rc;
	if (args.json) {
		json_dumpf(listing, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
	} else {
		rc = print_remote(listing, stdout);
	}
	json_decref(listing);
	return rc;
}
