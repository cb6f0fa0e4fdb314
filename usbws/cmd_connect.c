/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws connect: export a device, or each matching one, to a usbws-proxy. */

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "hotplug.h"
#include "node.h"
#include "base/optfile_load.h"
#include "base/stopsig.h"
#include "net/svcnotify.h"
#include "base/usbws_err.h"
#include "tunnel/resume.h"

_Static_assert(RESUME_DEFAULT_WINDOW == 1u << 20, "the usage below says --resume-window is 1M by default");

/* the text as --help prints it, one line a line */
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
	"  --metrics-listen ADDR:PORT\n"
	"                            serve Prometheus metrics of the export at\n"
	"                            http://ADDR:PORT/metrics (a numeric address;\n"
	"                            one device: not with --match or --all)\n"
	"  --log-level LEVEL         error, warning, info (default) or debug\n"
	"  -v, --verbose             log more: --log-level debug\n"
	"  --config FILE|none        read options from FILE first, KEY = VALUE lines\n"
	"                            (repeatable, later files win; default\n"
	"                            /etc/usbws/connect.conf when it exists; none:\n"
	"                            no file); the command line wins over files\n"
	"  --instance NAME           read /etc/usbws/NAME.conf too, after them, when\n"
	"                            it exists; with no DEVICE given, export the busid\n"
	"                            NAME (usbws-connect@NAME.service)\n"
	"  -h, --help                show this help\n"
	"\n"
	"--json and -l, --local, usbws list's, are accepted and ignored.\n";
/* clang-format on */

/* What connect's options files may hold: every option but these. */
static const char *const repeatable[] = { "match", NULL };
static const char *const cmdline_only[] = { "config", "instance", "help", NULL };
/* what to export is one setting: --busid on the command line replaces a
 * file's virtual or all, as a later file's device replaces an earlier one's */
static const char *const one_device[] = { "busid", "device", "virtual", "match", "all", NULL };
static const struct optfile_spec spec = { cmd_link_options, CMD_LINK_SHORT_OPTIONS, repeatable, cmdline_only,
					  one_device };

/* The instance's file, when it is there. */
static int read_instance(const struct cmd *cmd, struct optfile *files, int argc, char **argv)
{
	const char *name;
	char path[4096], why[512];
	int n = optfile_scan(&spec, argc, argv, "instance", &name, 1);

	if (n == USBWS_ERR_NOMEM) {
		fprintf(stderr, "usbws %s: out of memory\n", cmd->name);
		return 1;
	}
	/* none; or a line getopt_long refuses, which the parse says why of */
	if (n <= 0)
		return 0;
	if (n > 1) {
		fprintf(stderr, "usbws %s: --instance is given %d times; give it once\n", cmd->name, n);
		return CMD_USAGE_ERROR;
	}
	/* a unit's %i never holds a '/': a name that does could read any file */
	if (!*name || name[0] == '.' || strchr(name, '/')) {
		fprintf(stderr, "usbws %s: --instance '%s': a name, without '/', not starting with '.'\n",
			cmd->name, name);
		return CMD_USAGE_ERROR;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.conf", optfile_load_dir(), name) >= sizeof(path)) {
		fprintf(stderr, "usbws %s: --instance '%s': too long a name\n", cmd->name, name);
		return CMD_USAGE_ERROR;
	}
	n = optfile_load(files, path, why, sizeof(why));
	if (n == USBWS_ERR_SYSTEM && errno == ENOENT)
		return 0;
	if (n < 0) {
		fprintf(stderr, "usbws %s: %s\n", cmd->name, why);
		return CMD_USAGE_ERROR;
	}
	return 0;
}

/* The options files, then the command line: *argc and *argv become both.
 * Returns 0, or the exit status after saying why. */
static int read_files(const struct cmd *cmd, struct optfile **files, int *argc, char ***argv)
{
	char why[512];
	int rc;

	if (optfile_new(&spec, files) < 0) {
		fprintf(stderr, "usbws %s: out of memory\n", cmd->name);
		return 1;
	}
	/* a broken file must not hide --help; a command line getopt refuses
	 * is said by the loop that reads it (INVAL) */
	rc = optfile_scan(&spec, *argc, *argv, "help", NULL, 0);
	if (rc == USBWS_ERR_NOMEM) {
		fprintf(stderr, "usbws %s: out of memory\n", cmd->name);
		return 1;
	}
	if (rc != 0)
		return 0;
	rc = optfile_load_given(*files, &spec, *argc, *argv, "config", "connect.conf", why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr, "usbws %s: %s\n", cmd->name, why);
		return CMD_USAGE_ERROR;
	}
	rc = read_instance(cmd, *files, *argc, *argv);
	if (rc)
		return rc;
	if (optfile_argv(*files, *argc, *argv, argc, argv) < 0) {
		fprintf(stderr, "usbws %s: out of memory\n", cmd->name);
		return 1;
	}
	return 0;
}

int cmd_connect(const struct cmd *cmd, int argc, char **argv)
{
	/* static: the node's settings point into it for the process's life */
	static struct optfile *files;
	struct cmd_link_args args;
	struct node_config *cfg = &args.node;
	volatile sig_atomic_t *stop;
	int rc = read_files(cmd, &files, &argc, &argv);

	if (rc)
		return rc;
	rc = cmd_link_parse_from(cmd, argc, argv, files, &args);
	if (rc)
		return rc;
	if (args.help)
		return cmd_help(cmd);
	/* usbws-connect@1-1.service exports 1-1 unless a file says otherwise */
	if (args.instance && !args.one_device && !args.hotplug) {
		cfg->device = args.busid = args.instance;
		args.one_device = "--busid";
	}
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
	if (args.hotplug && cfg->metrics_listen) {
		fprintf(stderr,
			"usbws connect: --metrics-listen serves one export's metrics; with %s each device "
			"is a process of its own: run one usbws connect --busid per device instead\n",
			args.hotplug);
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
	svcnotify_init();
	if (args.hotplug)
		return hotplug_run(cfg, &args.filter, stop);
	return node_export_run(cfg, stop);
}
