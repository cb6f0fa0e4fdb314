/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The argument helpers the usbws commands share (cmd.h). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "base/log.h"
#include "base/numarg.h"
#include "net/tlsfiles.h"
#include "tunnel/resume.h"
#include "tunnel/wsurl.h"

int cmd_help(const struct cmd *cmd)
{
	fputs(cmd->usage, stdout);
	return 0;
}

int cmd_no_more_args(const struct cmd *cmd, int argc, char **argv)
{
	if (optind >= argc)
		return 0;
	fprintf(stderr, "usbws %s: unexpected argument '%s'\n", cmd->name, argv[optind]);
	return CMD_USAGE_ERROR;
}

static const char *option_name(const struct option *opts, int val)
{
	int i;

	for (i = 0; opts[i].name; i++)
		if (opts[i].val == val)
			return opts[i].name;
	return "?";
}

void cmd_link_args_init(struct cmd_link_args *args)
{
	memset(args, 0, sizeof(*args));
	args->node.connect_timeout = NODE_DEFAULT_CONNECT_TIMEOUT;
	args->node.ping_interval = NODE_DEFAULT_PING_INTERVAL;
	args->node.ping_timeout = NODE_DEFAULT_PING_TIMEOUT;
	args->node.backoff_max = NODE_DEFAULT_BACKOFF_MAX;
	args->node.resume_window = RESUME_DEFAULT_WINDOW;
}

const struct option cmd_link_options[] = {
	{ "url", required_argument, NULL, LINK_URL },
	{ "remote", required_argument, NULL, LINK_REMOTE },
	{ "cert", required_argument, NULL, LINK_CERT },
	{ "key", required_argument, NULL, LINK_KEY },
	{ "ca", required_argument, NULL, LINK_CA },
	{ "proxy", required_argument, NULL, LINK_PROXY },
	{ "virtual", required_argument, NULL, LINK_VIRTUAL },
	{ "json", no_argument, NULL, LINK_JSON },
	{ "verbose", no_argument, NULL, LINK_VERBOSE },
	{ "log-level", required_argument, NULL, LINK_LOG_LEVEL },
	{ "metrics-listen", required_argument, NULL, LINK_METRICS_LISTEN },
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
	{ "config", required_argument, NULL, LINK_CONFIG },
	{ "instance", required_argument, NULL, LINK_INSTANCE },
	{ "help", no_argument, NULL, CMD_HELP },
	{ NULL, 0, NULL, 0 },
};

const struct option cmd_admin_options[] = {
	{ "busid", required_argument, NULL, ADMIN_BUSID },
	{ "port", required_argument, NULL, ADMIN_PORT },
	{ "device", required_argument, NULL, ADMIN_DEVICE },
	{ "vhci", required_argument, NULL, ADMIN_VHCI },
	{ "node", required_argument, NULL, ADMIN_NODE },
	{ "timeout", required_argument, NULL, ADMIN_TIMEOUT },
	{ "json", no_argument, NULL, ADMIN_JSON },
	{ "verbose", no_argument, NULL, ADMIN_VERBOSE },
	{ "help", no_argument, NULL, CMD_HELP },
	{ NULL, 0, NULL, 0 },
};

static int link_option(const struct cmd *cmd, const struct option *opts, int c, const char *arg,
		       struct cmd_link_args *args)
{
	struct node_config *cfg = &args->node;
	struct hotplug_filter *filter = &args->filter;
	unsigned long long number;
	enum log_level level;
	char why[160];

	switch (c) {
	case LINK_URL: case LINK_REMOTE: cfg->url = arg; break;
	case LINK_CERT: cfg->cert = arg; break;
	case LINK_KEY: cfg->key = arg; break;
	case LINK_CA: cfg->ca = arg; break;
	case LINK_PROXY: cfg->http_proxy = arg; break;
	case LINK_VIRTUAL: cfg->virtual_spec = arg; args->one_device = "--virtual"; break;
	case LINK_BUSID: case LINK_DEVICE:
		cfg->device = arg;
		args->one_device = c == LINK_BUSID ? "--busid" : "--device";
		args->busid = c == LINK_BUSID ? arg : NULL;
		break;
	case LINK_ALL: filter->all = 1; args->hotplug = "--all"; break;
	case LINK_MATCH:
		if (filter->n_matches == HOTPLUG_MAX_MATCHES) {
			fprintf(stderr, "usbws %s: at most %d --match options\n", cmd->name, HOTPLUG_MAX_MATCHES);
			return CMD_USAGE_ERROR;
		}
		if (hotplug_parse_match(arg, &filter->matches[filter->n_matches++], why, sizeof(why)) < 0) {
			fprintf(stderr, "usbws %s: --match %s: %s\n", cmd->name, arg, why);
			return CMD_USAGE_ERROR;
		}
		args->hotplug = "--match";
		break;
	case LINK_JSON: args->json = 1; break;
	case LINK_LOCAL: args->local = 1; break;
	case LINK_USER: cfg->user = arg; break;
	case LINK_METRICS_LISTEN: cfg->metrics_listen = arg; break;
	case LINK_CONFIG: args->config = arg; break;
	case LINK_INSTANCE: args->instance = arg; break;
	case LINK_CONNECT_TIMEOUT:
		cfg->connect_timeout = atoi(arg);
		if (cfg->connect_timeout <= 0) {
			fprintf(stderr, "usbws %s: --connect-timeout needs a positive number of seconds\n", cmd->name);
			return CMD_USAGE_ERROR;
		}
		break;
	case LINK_PING_INTERVAL: case LINK_PING_TIMEOUT: case LINK_BACKOFF_MAX: case LINK_RETRIES:
		if (numarg_parse(arg, 0, 86400, 0, &number) < 0) {
			fprintf(stderr, "usbws %s: --%s needs a number of %s from 0 to 86400, not '%s'\n", cmd->name,
				option_name(opts, c), c == LINK_RETRIES ? "attempts" : "seconds", arg);
			return CMD_USAGE_ERROR;
		}
		if (c == LINK_RETRIES)
			cfg->retries = (unsigned int)number;
		else if (c == LINK_PING_INTERVAL)
			cfg->ping_interval = (int)number;
		else if (c == LINK_PING_TIMEOUT)
			cfg->ping_timeout = (int)number;
		else
			cfg->backoff_max = (int)number;
		break;
	case LINK_RESUME_WINDOW:
		if (numarg_parse(arg, RESUME_MIN_WINDOW, 1u << 30, 1, &number) < 0) {
			fprintf(stderr, "usbws %s: --resume-window needs a size from 256K to 1G (K and M suffixes), "
				"not '%s'\n", cmd->name, arg);
			return CMD_USAGE_ERROR;
		}
		cfg->resume_window = (size_t)number;
		break;
	case LINK_VERBOSE:
		cfg->verbose = 1;
		log_set_level(LOG_LEVEL_DEBUG);
		break;
	case LINK_LOG_LEVEL:
		if (log_parse_level(arg, &level) < 0) {
			fprintf(stderr, "usbws %s: --log-level is error, warning, info or debug, not '%s'\n",
				cmd->name, arg);
			return CMD_USAGE_ERROR;
		}
		cfg->verbose = level == LOG_LEVEL_DEBUG;
		log_set_level(level);
		break;
	default: return CMD_USAGE_ERROR;
	}
	return 0;
}

int cmd_link_parse(const struct cmd *cmd, int argc, char **argv, struct cmd_link_args *args)
{
	return cmd_link_parse_from(cmd, argc, argv, NULL, args);
}

int cmd_link_parse_from(const struct cmd *cmd, int argc, char **argv, const struct optfile *files,
			struct cmd_link_args *args)
{
	const char *file;
	unsigned int line;
	int c, rc;

	cmd_link_args_init(args);
	optind = 1;
	while ((c = getopt_long(argc, argv, CMD_LINK_SHORT_OPTIONS, cmd_link_options, NULL)) != -1) {
		if (c == CMD_HELP) {
			args->help = 1;
			return 0;
		}
		rc = link_option(cmd, cmd_link_options, c, optarg, args);
		if (rc) {
			/* a file's option is one element: "--KEY=VALUE" */
			if (optfile_origin(files, optind - 1, &file, &line))
				fprintf(stderr, "usbws %s: %s:%u: where that option was given\n", cmd->name, file,
					line);
			return rc;
		}
	}
	return cmd_no_more_args(cmd, argc, argv) ? CMD_USAGE_ERROR : 0;
}

int cmd_link_check_timers(const struct cmd *cmd, const struct cmd_link_args *args)
{
	const struct node_config *cfg = &args->node;

	if (cfg->ping_interval && cfg->ping_timeout <= cfg->ping_interval) {
		fprintf(stderr, "usbws %s: --ping-timeout (%d s) must be longer than --ping-interval (%d s)\n",
			cmd->name, cfg->ping_timeout, cfg->ping_interval);
		return CMD_USAGE_ERROR;
	}
	if (cfg->backoff_max < 1) {
		fprintf(stderr, "usbws %s: --backoff-max must be at least 1 second\n", cmd->name);
		return CMD_USAGE_ERROR;
	}
	return 0;
}

static int need_file(const struct cmd *cmd, const char *option, const char *path)
{
	if (path)
		return 0;
	fprintf(stderr, "usbws %s: %s FILE is required\n", cmd->name, option);
	return CMD_USAGE_ERROR;
}

int cmd_link_check_tls(const struct cmd *cmd, const char *url_option, const struct cmd_link_args *args)
{
	const struct node_config *cfg = &args->node;
	struct wsurl url;
	char why[1024];

	if (!cfg->url) {
		fprintf(stderr, "usbws %s: %s wss://HOST:PORT/usbip is required\n", cmd->name, url_option);
		return CMD_USAGE_ERROR;
	}
	if (wsurl_parse(cfg->url, &url, why, sizeof(why)) < 0) {
		fprintf(stderr, "usbws %s: %s %s: %s\n", cmd->name, url_option, cfg->url, why);
		return CMD_USAGE_ERROR;
	}
	if (need_file(cmd, "--cert", cfg->cert) || need_file(cmd, "--key", cfg->key) ||
	    need_file(cmd, "--ca", cfg->ca))
		return CMD_USAGE_ERROR;
	/* now, before a device is bound or a connection tried; each connection
	 * loads them again (a renewed certificate is taken), and says the same */
	if (tlsfiles_check(&(struct tlsfiles){ .cert = cfg->cert, .key = cfg->key, .ca = cfg->ca }, why,
			   sizeof(why)) < 0) {
		fprintf(stderr, "usbws %s: %s\n", cmd->name, why);
		return CMD_USAGE_ERROR;
	}
	return 0;
}

/* A given option the command does not take, or a required one missing:
 * said, and CMD_USAGE_ERROR. */
static int admin_option_fits(const struct cmd *cmd, const char *name, const char *arg_name, int given, int takes,
			     int requires)
{
	if (given && !takes) {
		fprintf(stderr, "usbws %s: takes no --%s\n", cmd->name, name);
		return CMD_USAGE_ERROR;
	}
	if (!given && requires) {
		fprintf(stderr, "usbws %s: --%s %s is required\n", cmd->name, name, arg_name);
		return CMD_USAGE_ERROR;
	}
	return 0;
}

/* getopt's letters for what a command takes: a letter it does not take
 * is an invalid option, as one its help does not name */
static const char *admin_short_options(unsigned int takes, char out[16])
{
	snprintf(out, 16, "%s%s%svh", takes & ADMIN_TAKES_BUSID ? "b:" : "",
		 takes & (ADMIN_TAKES_PORT | ADMIN_TAKES_PORT_OR_DEVICE) ? "p:" : "",
		 takes & (ADMIN_TAKES_DEVICE | ADMIN_TAKES_PORT_OR_DEVICE) ? "d:" : "");
	return out;
}

int cmd_admin_parse(const struct cmd *cmd, unsigned int takes, int argc, char **argv, struct cmd_admin_args *args)
{
	const int either = (takes & ADMIN_TAKES_PORT_OR_DEVICE) != 0;
	const char *port = NULL, *timeout = NULL;
	char shorts[16];
	unsigned long long nr;
	int c;

	memset(args, 0, sizeof(*args));
	args->timeout = ADMIN_DEFAULT_ATTACH_TIMEOUT;
	optind = 1;
	while ((c = getopt_long(argc, argv, admin_short_options(takes, shorts), cmd_admin_options, NULL)) != -1) {
		switch (c) {
		case ADMIN_BUSID: args->busid = optarg; break;
		case ADMIN_PORT: port = optarg; break;
		case ADMIN_DEVICE: args->device = optarg; break;
		case ADMIN_VHCI: args->vhci = optarg; break;
		case ADMIN_NODE: args->node = optarg; break;
		case ADMIN_TIMEOUT: timeout = optarg; break;
		case ADMIN_JSON: args->json = 1; break;
		case ADMIN_VERBOSE: log_set_level(LOG_LEVEL_DEBUG); break;
		case CMD_HELP: args->help = 1; return 0;
		default: return CMD_USAGE_ERROR;
		}
	}
	if (cmd_no_more_args(cmd, argc, argv) ||
	    admin_option_fits(cmd, "busid", "BUSID", args->busid != NULL, takes & ADMIN_TAKES_BUSID,
			      takes & ADMIN_TAKES_BUSID) ||
	    admin_option_fits(cmd, "port", "N", port != NULL,
			      takes & (ADMIN_TAKES_PORT | ADMIN_TAKES_PORT_OR_DEVICE), takes & ADMIN_TAKES_PORT) ||
	    admin_option_fits(cmd, "device", "ID", args->device != NULL,
			      takes & (ADMIN_TAKES_DEVICE | ADMIN_TAKES_PORT_OR_DEVICE),
			      takes & ADMIN_TAKES_DEVICE) ||
	    admin_option_fits(cmd, "vhci", "vhci_hcd.N", args->vhci != NULL, takes & ADMIN_MAY_VHCI, 0) ||
	    admin_option_fits(cmd, "node", "PATTERN", args->node != NULL, takes & ADMIN_MAY_NODE, 0) ||
	    admin_option_fits(cmd, "timeout", "SECONDS", timeout != NULL, takes & ADMIN_MAY_TIMEOUT, 0))
		return CMD_USAGE_ERROR;
	if (either && (port != NULL) == (args->device != NULL)) {
		fprintf(stderr, "usbws %s: give either --port N or --device ID\n", cmd->name);
		return CMD_USAGE_ERROR;
	}
	if (port) {
		if (numarg_parse(port, 0, 65535, 0, &nr) < 0) {
			fprintf(stderr, "usbws %s: --port wants a vhci port number, not '%s'\n", cmd->name, port);
			return CMD_USAGE_ERROR;
		}
		args->port = (unsigned int)nr;
		args->have_port = 1;
	}
	if (timeout) {
		if (numarg_parse(timeout, 0, 86400, 0, &nr) < 0) {
			fprintf(stderr, "usbws %s: --timeout wants seconds from 0 to 86400, not '%s'\n", cmd->name,
				timeout);
			return CMD_USAGE_ERROR;
		}
		args->timeout = (unsigned int)nr;
	}
	return 0;
}
