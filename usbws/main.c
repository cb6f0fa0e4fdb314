/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws: the node-side front end.  Argument parsing and wiring only. */

#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "hotplug.h"
#include "localdev.h"
#include "base/log.h"
#include "node.h"
#include "base/numarg.h"
#include "tunnel/resume.h"
#include "usbip/selftest.h"
#include "base/stopsig.h"
#include "kernel/sysfs.h"
#include "vdev/usbip_server.h"
#include "base/usbws_err.h"
#include "vdev/vdev.h"

#define MAX_VIRTUAL 32

static void usage(FILE *out)
{
	fprintf(out,
		"usage: usbws COMMAND [OPTIONS]\n"
		"\n"
		"Commands:\n"
		"  selftest     check the USB/IP protocol core (codec, framer, validator)\n"
		"  serve        serve virtual devices over plain USB/IP TCP, as usbipd does:\n"
		"                 usbws serve --listen ADDR:PORT --virtual SPEC [--virtual SPEC...]\n"
		"               SPEC is storage:PATH (mass storage on an image file) or sourcesink\n"
		"\n"
		"  connect      export a device to a usbws-proxy over WebSocket/TLS:\n"
		"                 usbws connect --url wss://HOST:PORT/usbip --cert FILE --key FILE --ca FILE\n"
		"                   (--busid BUSID | --device usbip-vudc.N | --virtual SPEC [--busid BUSID]\n"
		"                    | --match VID:PID [--match VID:PID...] | --all)\n"
		"                   [--proxy http://[user:pass@]host:port]\n"
		"                   [--ping-interval SECS] [--ping-timeout SECS] [--backoff-max SECS]\n"
		"                   [--retries N] [--resume-window BYTES] [--user USER]\n"
		"               reconnects forever (backoff with jitter up to --backoff-max, 30 s),\n"
		"               resuming the session the proxy keeps; pings every 15 s, and a\n"
		"               link silent for 45 s is dead\n"
		"               --match/--all export each matching device while it is plugged in\n"
		"               --user: parse the network as USER once the device's files are open\n"
		"  list         list what a proxy has: usbws list --remote URL --json --cert .. --key .. --ca ..\n"
		"               or this node's own USB devices: usbws list --local [--json]\n"
		"  bind         usbws bind --busid BUSID: give a device to usbip-host\n"
		"  unbind       usbws unbind --busid BUSID: give it back to its own driver\n"
		"  status       usbws status [--json]: the running tunnels of this node\n"
		"  disconnect   usbws disconnect --busid BUSID: stop the connect exporting BUSID\n"
		"  port         usbws port [--json]: on the proxy's host, devices attached to vhci_hcd\n"
		"  detach       usbws detach --port N: detach one of them\n"
		"\n"
		"Options (before the command):\n"
		"  --sysfs-root DIR  where sysfs is (default /sys, or $USBWS_SYSFS_ROOT)\n"
		"  -h, --help        show this help\n"
		"  -V, --version     show the version\n"
		"Control sockets live in /run/usbws, or $USBWS_RUN_DIR.\n");
}

static int need_file(const char *cmd, const char *opt, const char *path)
{
	if (path)
		return 1;
	fprintf(stderr, "usbws %s: %s FILE is required\n", cmd, opt);
	return 0;
}

static int option_by_val(const struct option *opts, int val)
{
	int i;

	for (i = 0; opts[i].name; i++)
		if (opts[i].val == val)
			return i;
	return 0;
}

/* connect and list --remote share the TLS options */
static int cmd_tunnel(int argc, char **argv, int list)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "remote", required_argument, NULL, 'r' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'a' },
		{ "proxy", required_argument, NULL, 'p' },
		{ "virtual", required_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'd' },
		{ "local", no_argument, NULL, 'L' },
		{ "connect-timeout", required_argument, NULL, 't' },
		{ "busid", required_argument, NULL, 'b' },
		{ "device", required_argument, NULL, 'D' },
		{ "match", required_argument, NULL, 'm' },
		{ "all", no_argument, NULL, 'A' },
		{ "ping-interval", required_argument, NULL, 'I' },
		{ "ping-timeout", required_argument, NULL, 'T' },
		{ "backoff-max", required_argument, NULL, 'B' },
		{ "retries", required_argument, NULL, 'R' },
		{ "resume-window", required_argument, NULL, 'W' },
		{ "user", required_argument, NULL, 'U' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = list ? "list" : "connect";
	/* which of the two ways to pick devices was used, for the conflict message */
	const char *one_device = NULL, *hotplug = NULL, *busid = NULL;
	struct hotplug_filter filter = { 0 };
	char why[160];
	struct node_config cfg = {
		.connect_timeout = NODE_DEFAULT_CONNECT_TIMEOUT, .ping_interval = NODE_DEFAULT_PING_INTERVAL,
		.ping_timeout = NODE_DEFAULT_PING_TIMEOUT, .backoff_max = NODE_DEFAULT_BACKOFF_MAX,
		.resume_window = RESUME_DEFAULT_WINDOW,
	};
	unsigned long long number;
	volatile sig_atomic_t *stop;
	int c, json = 0, local = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u': case 'r': cfg.url = optarg; break;
		case 'c': cfg.cert = optarg; break;
		case 'k': cfg.key = optarg; break;
		case 'a': cfg.ca = optarg; break;
		case 'p': cfg.http_proxy = optarg; break;
		case 'v': cfg.virtual_spec = optarg; one_device = "--virtual"; break;
		case 'b': case 'D':
			cfg.device = optarg;
			one_device = c == 'b' ? "--busid" : "--device";
			busid = c == 'b' ? optarg : NULL;
			break;
		case 'A': filter.all = 1; hotplug = "--all"; break;
		case 'm':
			if (filter.n_matches == HOTPLUG_MAX_MATCHES) {
				fprintf(stderr, "usbws %s: at most %d --match options\n", cmd, HOTPLUG_MAX_MATCHES);
				return 2;
			}
			if (hotplug_parse_match(optarg, &filter.matches[filter.n_matches++], why, sizeof(why)) < 0) {
				fprintf(stderr, "usbws %s: --match %s: %s\n", cmd, optarg, why);
				return 2;
			}
			hotplug = "--match";
			break;
		case 'j': json = 1; break;
		case 'L': local = list; break;
		case 'U': cfg.user = optarg; break;
		case 't':
			cfg.connect_timeout = atoi(optarg);
			if (cfg.connect_timeout <= 0) {
				fprintf(stderr, "usbws %s: --connect-timeout needs a positive number of seconds\n", cmd);
				return 2;
			}
			break;
		case 'I': case 'T': case 'B': case 'R':
			if (parse_count(optarg, 0, 86400, 0, &number) < 0) {
				fprintf(stderr, "usbws %s: --%s needs a number of %s from 0 to 86400, not '%s'\n", cmd,
					opts[option_by_val(opts, c)].name, c == 'R' ? "attempts" : "seconds", optarg);
				return 2;
			}
			if (c == 'R')
				cfg.retries = (unsigned int)number;
			else
				*(c == 'I' ? &cfg.ping_interval : c == 'T' ? &cfg.ping_timeout : &cfg.backoff_max) = (int)number;
			break;
		case 'W':
			if (parse_count(optarg, RESUME_MIN_WINDOW, 1u << 30, 1, &number) < 0) {
				fprintf(stderr, "usbws %s: --resume-window needs a size from 256K to 1G (K and M suffixes), "
					"not '%s'\n", cmd, optarg);
				return 2;
			}
			cfg.resume_window = (size_t)number;
			break;
		case 'd': cfg.verbose = 1; log_init("usbws", LOG_LEVEL_DEBUG); break;
		default: return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "usbws %s: unexpected argument '%s'\n", cmd, argv[optind]);
		return 2;
	}
	if (hotplug && list) {
		fprintf(stderr, "usbws list: %s is for usbws connect\n", hotplug);
		return 2;
	}
	if (cfg.user && list) {
		fprintf(stderr, "usbws list: --user is for usbws connect\n");
		return 2;
	}
	/* before any device is bound, or any child started */
	if (cfg.user && !getpwnam(cfg.user)) {
		fprintf(stderr, "usbws connect: --user %s: no such user (give an existing one, e.g. nobody)\n",
			cfg.user);
		return 2;
	}
	if (filter.all && filter.n_matches) {
		fprintf(stderr, "usbws connect: --all already exports every device; drop --match or --all\n");
		return 2;
	}
	if (hotplug && one_device) {
		fprintf(stderr, "usbws connect: %s and %s do not go together: %s exports one device, %s every "
				"matching device while it is plugged in; give one of them\n",
			hotplug, one_device, one_device, hotplug);
		return 2;
	}
	if (cfg.ping_interval && cfg.ping_timeout <= cfg.ping_interval) {
		fprintf(stderr, "usbws %s: --ping-timeout (%d s) must be longer than --ping-interval (%d s)\n", cmd,
			cfg.ping_timeout, cfg.ping_interval);
		return 2;
	}
	if (cfg.backoff_max < 1) {
		fprintf(stderr, "usbws %s: --backoff-max must be at least 1 second\n", cmd);
		return 2;
	}
	if (local)
		return localdev_list(stdout, json);
	if (!cfg.url) {
		fprintf(stderr, "usbws %s: %s wss://HOST:PORT/usbip is required\n", cmd, list ? "--remote" : "--url");
		return 2;
	}
	if (!need_file(cmd, "--cert", cfg.cert) || !need_file(cmd, "--key", cfg.key) || !need_file(cmd, "--ca", cfg.ca))
		return 2;
	if (list && !json) {
		fprintf(stderr, "usbws list --remote: only --json output exists so far\n");
		return 2;
	}
	/* a virtual device goes by a busid too (1-1 unless told): devices of
	 * one node must differ in it, as the proxy keeps one connection per
	 * node and busid */
	if (cfg.virtual_spec && busid && cfg.device == busid) {
		cfg.virtual_busid = busid;
		cfg.device = NULL;
	}
	if (!list && !hotplug && !cfg.virtual_spec == !cfg.device) {
		fprintf(stderr, "usbws connect: one of --busid BUSID, --device usbip-vudc.N, --virtual SPEC "
				"(storage:PATH or sourcesink), --match VID:PID or --all is required\n");
		return 2;
	}
	stop = stopsig_install();
	if (hotplug)
		return hotplug_run(&cfg, &filter, stop);
	return list ? node_list_remote(&cfg, stop) : node_export_run(&cfg, stop);
}

static int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "virtual", required_argument, NULL, 'v' },
		{ "verbose", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct vdev *devs[MAX_VIRTUAL];
	const char *specs[MAX_VIRTUAL];
	const char *listen = NULL;
	char why[256];
	struct usbip_server *srv;
	volatile sig_atomic_t *stop;
	int c, n = 0, i, rc, ret = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "l:v:d", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen = optarg;
			break;
		case 'v':
			if (n == MAX_VIRTUAL) {
				fprintf(stderr, "usbws serve: at most %d virtual devices\n", MAX_VIRTUAL);
				return 2;
			}
			specs[n++] = optarg;
			break;
		case 'd':
			log_init("usbws", LOG_LEVEL_DEBUG);
			break;
		default:
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "usbws serve: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!listen || n == 0) {
		fprintf(stderr, "usbws serve: needs --listen ADDR:PORT and at least one --virtual SPEC\n");
		return 2;
	}
	for (i = 0; i < n; i++) {
		char busid[USBIP_BUSID_SIZE];

		snprintf(busid, sizeof(busid), "1-%d", i + 1);
		rc = vdev_open(specs[i], busid, &devs[i], why, sizeof(why));
		if (rc < 0) {
			fprintf(stderr, "usbws serve: --virtual %s: %s\n", specs[i], why);
			goto out;
		}
	}
	rc = usbip_server_new(listen, devs, (size_t)n, &srv, why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr, "usbws serve: --listen %s: %s\n", listen, why);
		goto out;
	}
	stop = stopsig_install();
	log_info("serving %d virtual device%s on %s (port %d)", n, n == 1 ? "" : "s", listen,
		 usbip_server_port(srv));
	for (c = 0; c < n; c++)
		log_info("  %s  %04x:%04x  %s", devs[c]->info.busid, devs[c]->info.id_vendor,
			 devs[c]->info.id_product, specs[c]);
	rc = usbip_server_run(srv, stop);
	usbip_server_free(srv);
	ret = rc < 0 ? 1 : 0;
	if (rc == 0)
		log_info("stopped");
out:
	while (i-- > 0)
		vdev_close(devs[i]);
	return ret;
}

/* bind, unbind, status, disconnect, port, detach: one option each at most */
static int cmd_admin(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "busid", required_argument, NULL, 'b' },
		{ "port", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *busid = NULL, *port = NULL;
	int c, json = 0, wants_busid, wants_port;
	unsigned long port_nr = 0;
	char *end;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b': busid = optarg; break;
		case 'p': port = optarg; break;
		case 'j': json = 1; break;
		case 'd': log_init("usbws", LOG_LEVEL_DEBUG); break;
		default: return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "usbws %s: unexpected argument '%s'\n", cmd, argv[optind]);
		return 2;
	}
	wants_busid = strcmp(cmd, "bind") == 0 || strcmp(cmd, "unbind") == 0 || strcmp(cmd, "disconnect") == 0;
	wants_port = strcmp(cmd, "detach") == 0;
	if (wants_busid != (busid != NULL)) {
		fprintf(stderr, wants_busid ? "usbws %s: --busid BUSID is required\n" : "usbws %s: takes no --busid\n", cmd);
		return 2;
	}
	if (wants_port != (port != NULL)) {
		fprintf(stderr, wants_port ? "usbws %s: --port N is required\n" : "usbws %s: takes no --port\n", cmd);
		return 2;
	}
	if (port) {
		errno = 0;
		port_nr = strtoul(port, &end, 10);
		if (!*port || *end || errno || port_nr > 65535) {
			fprintf(stderr, "usbws %s: --port wants a vhci port number, not '%s'\n", cmd, port);
			return 2;
		}
	}
	if (strcmp(cmd, "bind") == 0)
		return admin_bind(busid, stdout);
	if (strcmp(cmd, "unbind") == 0)
		return admin_unbind(busid, stdout);
	if (strcmp(cmd, "disconnect") == 0)
		return admin_disconnect(busid, stdout);
	if (strcmp(cmd, "status") == 0)
		return admin_status(json, stdout);
	if (strcmp(cmd, "port") == 0)
		return admin_ports(json, stdout);
	return admin_detach((unsigned int)port_nr, stdout);
}

static int cmd_selftest(int argc, char **argv)
{
	if (argc > 1) {
		fprintf(stderr, "usbws selftest: unexpected argument '%s' (it takes none)\n", argv[1]);
		return 2;
	}
	return usbws_selftest(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "sysfs-root", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const admin_cmds[] = { "bind", "unbind", "status", "disconnect", "port", "detach" };
	const char *sysfs = NULL;
	size_t i;
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
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usbws: no command given (try 'usbws --help')\n");
		return 2;
	}
	log_init("usbws", LOG_LEVEL_INFO);
	sysfs_set_root(sysfs);
	for (i = 0; i < sizeof(admin_cmds) / sizeof(admin_cmds[0]); i++)
		if (strcmp(argv[optind], admin_cmds[i]) == 0)
			return cmd_admin(argc - optind, argv + optind);
	if (strcmp(argv[optind], "selftest") == 0)
		return cmd_selftest(argc - optind, argv + optind);
	if (strcmp(argv[optind], "serve") == 0)
		return cmd_serve(argc - optind, argv + optind);
	if (strcmp(argv[optind], "connect") == 0)
		return cmd_tunnel(argc - optind, argv + optind, 0);
	if (strcmp(argv[optind], "list") == 0)
		return cmd_tunnel(argc - optind, argv + optind, 1);
	fprintf(stderr, "usbws: unknown command '%s' (try 'usbws --help')\n", argv[optind]);
	return 2;
}
