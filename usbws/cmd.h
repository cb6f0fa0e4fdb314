/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_CMD_H
#define USBWS_CMD_H
/*
 * The usbws commands: main.c holds the table of them and dispatches,
 * each cmd_NAME.c parses one command's line and runs it, and cmd.c holds
 * the argument helpers they share.
 *
 * A command is called with argv[0] its own name and returns the process's
 * exit status, as main() would: 0, 1 when the work failed, CMD_USAGE_ERROR
 * when the command line is wrong (after saying why on stderr).  Its usage
 * text starts with "usage: usbws NAME" and names every option its getopt
 * table holds, with its argument and default (tests/bats/cli.bats checks).
 *
 * cmd.c's helpers are the front end too, as main.c was: they say on
 * stderr what is wrong with the command line (getopt_long already does
 * for an unknown option) and return 0 or CMD_USAGE_ERROR, the exit
 * status, not an enum usbws_err.
 */
#include <getopt.h>
#include <stdio.h>

#include "hotplug.h"
#include "node.h"
#include "base/optfile.h"

#define CMD_USAGE_ERROR 2

/* A numeric default in a usage text: "(default " CMD_STR(NODE_DEFAULT_PING_INTERVAL) ")" */
#define CMD_STR(x) CMD_STR_(x)
#define CMD_STR_(x) #x

struct cmd {
	const char *name;
	const char *summary;    /* one line, for usbws --help */
	int (*run)(const struct cmd *cmd, int argc, char **argv);
	const char *usage;      /* for usbws NAME --help */
};

/* The node's commands. */
int cmd_selftest(const struct cmd *cmd, int argc, char **argv);
int cmd_serve(const struct cmd *cmd, int argc, char **argv);
int cmd_connect(const struct cmd *cmd, int argc, char **argv);
int cmd_list(const struct cmd *cmd, int argc, char **argv);
int cmd_bind(const struct cmd *cmd, int argc, char **argv);
int cmd_unbind(const struct cmd *cmd, int argc, char **argv);
int cmd_status(const struct cmd *cmd, int argc, char **argv);
int cmd_disconnect(const struct cmd *cmd, int argc, char **argv);
extern const char cmd_selftest_usage[], cmd_serve_usage[], cmd_connect_usage[], cmd_list_usage[],
	cmd_bind_usage[], cmd_unbind_usage[], cmd_status_usage[], cmd_disconnect_usage[];

/* The proxy host's commands: they talk to usbws-proxy's proxy.sock. */
int cmd_port(const struct cmd *cmd, int argc, char **argv);
int cmd_detach(const struct cmd *cmd, int argc, char **argv);
int cmd_nodes(const struct cmd *cmd, int argc, char **argv);
int cmd_attach(const struct cmd *cmd, int argc, char **argv);
int cmd_capture(const struct cmd *cmd, int argc, char **argv);
extern const char cmd_port_usage[], cmd_detach_usage[], cmd_nodes_usage[], cmd_attach_usage[], cmd_capture_usage[];

/* Prints the command's usage on stdout; returns 0, the status of --help. */
int cmd_help(const struct cmd *cmd);

/* Every command takes -h/--help: CMD_HELP is its getopt value. */
#define CMD_HELP 'h'

/* Returns 0, or CMD_USAGE_ERROR after saying that argv[optind] is one
 * argument too many. */
int cmd_no_more_args(const struct cmd *cmd, int argc, char **argv);

/*
 * connect and list: one set of options serves both (connect's --url,
 * --cert, --key and --ca do for list --remote too): cmd_link_options holds
 * them, with these values.
 */
/* a few values a line */
/* clang-format off */
enum cmd_link_opt {
	LINK_URL = 'u',
	LINK_REMOTE = 'r',
	LINK_CERT = 'c',
	LINK_KEY = 'k',
	LINK_CA = 'a',
	LINK_PROXY = 'p',
	LINK_CONNECT_TIMEOUT = 't',
	LINK_PING_INTERVAL = 'I',
	LINK_PING_TIMEOUT = 'T',
	LINK_BACKOFF_MAX = 'B',
	LINK_RETRIES = 'R',
	LINK_RESUME_WINDOW = 'W',
	LINK_VERBOSE = 'v',
	/* long options without a letter */
	LINK_LOG_LEVEL = 0x100,
	LINK_METRICS_LISTEN,
	LINK_CONFIG, /* connect's options files (list refuses them) */
	LINK_INSTANCE,
	/* the device to export (list accepts them too, and ignores them) */
	LINK_BUSID = 'b',
	LINK_DEVICE = 'd',
	LINK_VIRTUAL = 'V',
	LINK_MATCH = 'm',
	LINK_ALL = 'A',
	LINK_USER = 'U',
	/* list's (connect accepts them too, and ignores them) */
	LINK_JSON = 'j',
	LINK_LOCAL = 'l',
};
/* clang-format on */

/* connect's and list's short options, for getopt_long and the options
 * files' scan of the command line alike: usbip's letters where it has the
 * option (list -r -l, attach -b -d), each its long option's value above */
#define CMD_LINK_SHORT_OPTIONS "r:lb:d:vh"

/* What connect's and list's command lines say. */
struct cmd_link_args {
	struct node_config node;
	struct hotplug_filter filter;
	const char *one_device;   /* "--busid", "--device", "--virtual": the last one given */
	const char *hotplug;      /* "--match" or "--all": the last one given */
	const char *busid;        /* --busid's value, unless a --device came after it */
	const char *config;       /* the last --config FILE (connect read it already) */
	const char *instance;     /* --instance NAME */
	int json;
	int local;
	int help;                 /* -h/--help was given: print the usage and exit 0 */
};

/* The defaults: node.h's and resume.h's. */
void cmd_link_args_init(struct cmd_link_args *args);

/* The link's options in connect's and list's usage texts. */
#define CMD_LINK_OPTIONS_HELP                                                                                                                                      \
	"  --cert FILE               this node's certificate, PEM (required)\n"                                                                                    \
	"  --key FILE                its private key, PEM (required)\n"                                                                                            \
	"  --ca FILE                 the CA that signs the proxy's certificate\n"                                                                                  \
	"                            (required)\n"                                                                                                                 \
	"  --proxy http://[user:pass@]host:port\n"                                                                                                                 \
	"                            go out through this HTTP CONNECT proxy\n"                                                                                     \
	"                            (default: none, direct)\n"                                                                                                    \
	"  --connect-timeout SECS    wait this long for the WebSocket handshake\n"                                                                                 \
	"                            (default " CMD_STR(                                                                                                           \
		NODE_DEFAULT_CONNECT_TIMEOUT) ")\n"                                                                                                                \
					      "  --ping-interval SECS      ping a proxy quiet this long, plus a quarter of\n"                                      \
					      "                            the rest of the timeout (default " CMD_STR(                                             \
						      NODE_DEFAULT_PING_INTERVAL) "; 0: never)\n"                                                                  \
										  "  --ping-timeout SECS       a link silent this long is dead (default " CMD_STR( \
											  NODE_DEFAULT_PING_TIMEOUT) ")\n"

/* connect's and list's getopt table, one for both */
extern const struct option cmd_link_options[];

/* Parses connect's or list's line into args (defaults first).  Returns 0
 * (see args->help), or CMD_USAGE_ERROR after saying why. */
int cmd_link_parse(const struct cmd *cmd, int argc, char **argv, struct cmd_link_args *args);

/* The same, of the argv optfile_argv made of files and the command line:
 * an option refused there is also said to come from its file's line. */
int cmd_link_parse_from(const struct cmd *cmd, int argc, char **argv, const struct optfile *files,
			struct cmd_link_args *args);

/* The checks of the keepalive and backoff options both commands make. */
int cmd_link_check_timers(const struct cmd *cmd, const struct cmd_link_args *args);

/* The checks of the proxy's URL (url_option: "--url" or "--remote") and
 * of --cert, --key and --ca. */
int cmd_link_check_tls(const struct cmd *cmd, const char *url_option, const struct cmd_link_args *args);

/*
 * The local admin commands (bind, unbind, status, disconnect, and the
 * proxy host's port, nodes, attach, detach) share one option set
 * (--busid, --port, --device, --vhci, --node, --timeout, --json,
 * --verbose): each refuses by name what it does not take ("usbws status:
 * takes no --busid"), and those without a JSON output accept --json and
 * ignore it.
 */
enum cmd_admin_opt {
	ADMIN_BUSID = 'b',
	ADMIN_PORT = 'p',
	ADMIN_JSON = 'j',
	ADMIN_VERBOSE = 'v',
	ADMIN_DEVICE = 'd',
	ADMIN_VHCI = 'H',
	ADMIN_NODE = 'n',
	ADMIN_TIMEOUT = 't',
};

/* What a command takes, as a mask: TAKES_ options are required, MAY_
 * options optional; anything else is refused. */
enum cmd_admin_takes {
	ADMIN_TAKES_NONE = 0,
	ADMIN_TAKES_BUSID = 1 << 0,
	ADMIN_TAKES_PORT = 1 << 1,
	ADMIN_TAKES_DEVICE = 1 << 2,
	ADMIN_TAKES_PORT_OR_DEVICE = 1 << 3, /* exactly one of the two */
	ADMIN_MAY_VHCI = 1 << 4,
	ADMIN_MAY_NODE = 1 << 5,
	ADMIN_MAY_TIMEOUT = 1 << 6,
};

/* The end of the node's admin commands' usage texts, which refuse the
 * proxy host's options */
#define CMD_ADMIN_NODE_USAGE_TAIL                                                      \
	"  -v, --verbose             log more\n"                                       \
	"  -h, --help                show this help\n"                                 \
	"\n"                                                                           \
	"The proxy host's options (--port, --device, --vhci, --node, --timeout) are\n" \
	"refused; --json is accepted and ignored.\n"

/* How long usbws attach waits for a node that is resuming, by default. */
#define ADMIN_DEFAULT_ATTACH_TIMEOUT 60

struct cmd_admin_args {
	const char *busid;
	unsigned int port;
	int have_port;
	const char *device;   /* a stable address, as usbws nodes shows it */
	const char *vhci;     /* vhci_hcd.N or a controller list, or NULL */
	const char *node;     /* a node pattern, or NULL */
	unsigned int timeout; /* seconds */
	int json;
	int help;                 /* -h/--help was given: print the usage and exit 0 */
};

/* the six admin commands' getopt table, one for all */
extern const struct option cmd_admin_options[];

/* Parses an admin command's line.  Returns 0 (see args->help), or
 * CMD_USAGE_ERROR after saying why. */
int cmd_admin_parse(const struct cmd *cmd, unsigned int takes, int argc, char **argv, struct cmd_admin_args *args);

#endif
