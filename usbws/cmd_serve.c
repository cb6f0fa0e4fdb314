/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws serve: virtual devices over plain USB/IP TCP, as usbipd serves. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>

#include "cmd.h"
#include "base/log.h"
#include "base/stopsig.h"
#include "base/usbws_err.h"
#include "vdev/usbip_server.h"
#include "vdev/vdev.h"

#define MAX_VIRTUAL 32

/* one line of the text a line */
/* clang-format off */
const char cmd_serve_usage[] =
	"usage: usbws serve --listen ADDR:PORT --virtual SPEC [--virtual SPEC...]\n"
	"                   [--verbose]\n"
	"\n"
	"Serves virtual devices over plain USB/IP TCP, as usbipd does: usbip list -r\n"
	"and usbip attach work against it.  The devices get busids 1-1, 1-2, ... in\n"
	"the order given.\n"
	"\n"
	"  -l, --listen ADDR:PORT    the address to listen on (required; [IPv6]:PORT;\n"
	"                            port 0 picks a free one, which the log says)\n"
	"  --virtual SPEC            a device: storage:PATH (mass storage on an image\n"
	"                            file) or sourcesink (required; repeatable, up to\n"
	"                            " CMD_STR(MAX_VIRTUAL) ")\n"
	"  -v, --verbose             log every connection\n"
	"  -h, --help                show this help\n";
/* clang-format on */

int cmd_serve(const struct cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "virtual", required_argument, NULL, 'V' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, CMD_HELP },
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
	while ((c = getopt_long(argc, argv, "l:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen = optarg;
			break;
		case 'V':
			if (n == MAX_VIRTUAL) {
				fprintf(stderr, "usbws serve: at most %d virtual devices\n", MAX_VIRTUAL);
				return CMD_USAGE_ERROR;
			}
			specs[n++] = optarg;
			break;
		case 'v': log_init("usbws", LOG_LEVEL_DEBUG); break;
		case CMD_HELP:
			return cmd_help(cmd);
		default:
			return CMD_USAGE_ERROR;
		}
	}
	if (cmd_no_more_args(cmd, argc, argv))
		return CMD_USAGE_ERROR;
	if (!listen || n == 0) {
		fprintf(stderr, "usbws serve: needs --listen ADDR:PORT and at least one --virtual SPEC\n");
		return CMD_USAGE_ERROR;
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
		fprintf(stderr, "usbws serve: cannot listen on %s (--listen): %s%s\n", listen, why,
			rc == USBWS_ERR_SYSTEM && errno == EADDRINUSE
				? " (is usbipd or another usbws serve "
				  "listening there? stop it, or give another port)"
				: "");
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
