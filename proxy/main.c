/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws-proxy: the cloud-side front end.  Argument parsing and wiring only. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "certid.h"
#include "tunnel/ctl.h"
#include "base/log.h"
#include "base/numarg.h"
#include "base/usbws_err.h"
#include "base/optfile_load.h"
#include "proxy.h"
#include "tunnel/resume.h"
#include "base/stopsig.h"
#include "net/tlsfiles.h"

#define MAX_PINS 256
#define MAX_CRLS 64
#define MAX_TRUSTED 64
/* long options without a short one */
enum { OPT_LOG_LEVEL = 0x100, OPT_METRICS_LISTEN, OPT_METRICS_NODE_LABELS };

static void usage(FILE *out)
{
	fprintf(out,
		"usage: usbws-proxy --cert FILE --key FILE --ca FILE [OPTIONS]\n"
		"\n"
		"Accepts nodes over WebSocket/TLS (path /usbip, subprotocol usbws.v1) with\n"
		"mutual TLS, attaches their devices to vhci_hcd, and can re-export them\n"
		"over plain USB/IP.  usbws port and usbws detach talk to its control\n"
		"socket, /run/usbws/proxy.sock (or $USBWS_RUN_DIR/proxy.sock).\n"
		"\n"
		"  --listen ADDR:PORT        WSS address (default 0.0.0.0:443)\n"
		"  --cert FILE               server certificate, PEM\n"
		"  --key FILE                its private key, PEM\n"
		"  --ca FILE                 CA certificate that signs node certificates\n"
		"  --crl FILE                that CA's revocation list, PEM (repeatable); a revoked\n"
		"                            node is refused; SIGHUP rereads --ca and every --crl\n"
		"                            and cuts off connected nodes revoked since\n"
		"  --identity cn|san-dns|san-uri\n"
		"                            the certificate field that names a node: its one CN\n"
		"                            (default), or its one DNS or URI subjectAltName; at\n"
		"                            most 64 bytes of printable UTF-8, else it is refused\n"
		"  --balancer-listen ADDR:PORT\n"
		"                            plain HTTP for a load balancer that ends the nodes'\n"
		"                            TLS and forwards their verified certificate in the\n"
		"                            X-Usbws-Client-Cert header (doc/fleet.md); only for\n"
		"                            --trusted-balancer addresses\n"
		"  --trusted-balancer ADDR[/PREFIX]\n"
		"                            the balancer's address, numeric (repeatable); other\n"
		"                            peers of --balancer-listen are refused\n"
		"  --usbip-listen ADDR:PORT  serve the exported devices to USB/IP importers\n"
		"                            (default: none); a loopback address only\n"
		"                            (127.0.0.0/8, ::1, or a name of only those)\n"
		"  --usbip-listen-public     serve --usbip-listen on any address: USB/IP has no\n"
		"                            authentication, so anyone who reaches it can take\n"
		"                            a device (a warning at each start says so)\n"
		"  --vhci auto|none|LIST     attach exported devices to this host's vhci_hcd:\n"
		"                            auto (default) when it is loaded, none, or only the\n"
		"                            listed controllers (0,1 or vhci_hcd.0,vhci_hcd.1)\n"
		"  --policy FILE|none        which exports to accept and where each goes, and\n"
		"                            who holds the operator role (usbws-proxy.policy(5));\n"
		"                            default " PROXY_DEFAULT_POLICY " when it exists;\n"
		"                            SIGHUP rereads it\n"
		"  --pin NODE=LIST           NODE's devices only ever go to these vhci_hcd\n"
		"                            (repeatable; NODE is the node's identity)\n"
		"  --max-tunnels-per-node N  devices one node may export at once, live or kept\n"
		"                            for a resume (default 32, at most 4096)\n"
		"  --max-ports-per-node N    vhci_hcd ports one node may hold (default 16)\n"
		"  --sysfs-root DIR          where sysfs is (default /sys, or $USBWS_SYSFS_ROOT)\n"
		"  --ping-interval SECS      ping a node quiet this long (default 15; 0: never)\n"
		"  --ping-timeout SECS       drop a node's link silent this long (default 45)\n"
		"  --resume-time SECS        keep a lost node's device attached this long for it\n"
		"                            to resume (default 60; 0: no resumption)\n"
		"  --resume-window BYTES     per tunnel, bytes kept until the node acknowledges\n"
		"                            them (default 1M)\n"
		"  --auth-timeout SECS       close a WSS connection that has not finished TLS, the\n"
		"                            upgrade and its hello this long after it came (default 10)\n"
		"  --max-startups START:RATE:FULL\n"
		"                            WSS connections not yet authenticated: past START drop\n"
		"                            RATE%% of new ones, rising to all at FULL (default\n"
		"                            2048:30:4096)\n"
		"  --max-startups-per-source N\n"
		"                            of those, at most N from one IPv4 address or IPv6 /64\n"
		"                            (default 1024: a fleet behind carrier NAT shares one)\n"
		"  --usbip-max-clients N     USB/IP importer connections at once (default 256)\n"
		"  --usbip-max-per-source N  importers from one address that have not yet sent\n"
		"                            their request (default 16)\n"
		"  --usbip-timeout SECS      close an importer that has sent no request this long\n"
		"                            after it came (default 10)\n"
		"  --user USER               once its sockets and vhci_hcd's files are open,\n"
		"                            become USER before parsing anything from the network\n"
		"                            (default: stay the user that started it)\n"
		"  --event-loop libev|poll   libev on epoll (default; needs Debian's\n"
		"                            libwebsockets-evlib-ev, else poll), or lws's poll()\n"
		"  --threads N               service threads, each with its share of the tunnels\n"
		"                            (default: one per online CPU; 1 to 64)\n"
		"  --capture DIR             write each tunnel's USB/IP, both ways, into DIR as\n"
		"                            pcapng, a file per tunnel (default: none)\n"
		"  --metrics-listen ADDR:PORT\n"
		"                            serve Prometheus metrics at http://ADDR:PORT/metrics\n"
		"                            (plain HTTP: a numeric address only a scraper\n"
		"                            reaches; default: none)\n"
		"  --metrics-node-labels on|off\n"
		"                            per-device series labelled with node and device\n"
		"                            (default on; off for large fleets)\n"
		"  --log-level LEVEL         error, warning, info (default) or debug\n"
		"  -v, --verbose             log more: --log-level debug\n"
		"  --config FILE|none        read options from FILE first, KEY = VALUE lines\n"
		"                            (repeatable, later files win; default\n"
		"                            /etc/usbws/proxy.conf when it exists; none: no\n"
		"                            file); the command line wins over files\n"
		"  -h, --help                show this help\n"
		"  -V, --version             show the version\n");
}

/* The options files, then the command line: *argc and *argv become both.
 * Returns 0, or the exit status after saying why. */
static int read_files(const struct optfile_spec *spec, struct optfile **files, int *argc, char ***argv)
{
	char why[512];
	int help, version;

	if (optfile_new(spec, files) < 0) {
		fprintf(stderr, "usbws-proxy: out of memory\n");
		return 1;
	}
	/* a broken file must not hide --help or --version; a command line
	 * getopt refuses is said by the loop that reads it (INVAL) */
	help = optfile_scan(spec, *argc, *argv, "help", NULL, 0);
	version = optfile_scan(spec, *argc, *argv, "version", NULL, 0);
	if (help == USBWS_ERR_NOMEM || version == USBWS_ERR_NOMEM) {
		fprintf(stderr, "usbws-proxy: out of memory\n");
		return 1;
	}
	if (help != 0 || version != 0)
		return 0;
	if (optfile_load_given(*files, spec, *argc, *argv, "config", "proxy.conf", why, sizeof(why)) < 0) {
		fprintf(stderr, "usbws-proxy: %s\n", why);
		return 2;
	}
	if (optfile_argv(*files, *argc, *argv, argc, argv) < 0) {
		fprintf(stderr, "usbws-proxy: out of memory\n");
		return 1;
	}
	return 0;
}

static int given(const char *what, const char *path)
{
	if (!path)
		fprintf(stderr, "usbws-proxy: %s FILE is required\n", what);
	return path != NULL;
}

/* proxy_trust.c reads the CRLs once the proxy runs: a file it could not
 * read is said now, as tlsfiles says the others */
static int crl_readable(const char *path)
{
	if (access(path, R_OK) == 0)
		return 1;
	fprintf(stderr, "usbws-proxy: cannot read the CRL %s (--crl): %s%s\n", path, strerror(errno),
		errno == EACCES ? " (run as a user that may read it)" : "");
	return 0;
}

/* START:RATE:FULL, as OpenSSH's MaxStartups; a lone N is N:100:N. */
static int parse_startups(const char *arg, struct proxy_config *cfg)
{
	unsigned long long start, rate, full;
	char part[3][24];
	int n = sscanf(arg, "%23[0-9]:%23[0-9]:%23[0-9]", part[0], part[1], part[2]);

	if (n == 1 && strchr(arg, ':') == NULL) {
		if (numarg_parse(part[0], 1, 1000000, 0, &full) < 0)
			return -1;
		cfg->unauth_start = cfg->unauth_full = (unsigned int)full;
		cfg->unauth_rate = 100;
		return 0;
	}
	if (n != 3 || numarg_parse(part[0], 1, 1000000, 0, &start) < 0 || numarg_parse(part[1], 0, 100, 0, &rate) < 0 ||
	    numarg_parse(part[2], 1, 1000000, 0, &full) < 0 || start > full ||
	    strlen(arg) != strlen(part[0]) + strlen(part[1]) + strlen(part[2]) + 2)
		return -1;
	cfg->unauth_start = (unsigned int)start;
	cfg->unauth_rate = (unsigned int)rate;
	cfg->unauth_full = (unsigned int)full;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "balancer-listen", required_argument, NULL, 'B' },
		{ "trusted-balancer", required_argument, NULL, 't' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'a' },
		{ "crl", required_argument, NULL, 'r' },
		{ "identity", required_argument, NULL, 'i' },
		{ "usbip-listen", required_argument, NULL, 'u' },
		{ "usbip-listen-public", no_argument, NULL, 'E' },
		{ "vhci", required_argument, NULL, 'H' },
		{ "pin", required_argument, NULL, 'P' },
		{ "policy", required_argument, NULL, 'Y' },
		{ "sysfs-root", required_argument, NULL, 's' },
		{ "ping-interval", required_argument, NULL, 'I' },
		{ "ping-timeout", required_argument, NULL, 'T' },
		{ "resume-time", required_argument, NULL, 'R' },
		{ "resume-window", required_argument, NULL, 'W' },
		{ "auth-timeout", required_argument, NULL, 'A' },
		{ "max-startups", required_argument, NULL, 'M' },
		{ "max-startups-per-source", required_argument, NULL, 'S' },
		{ "usbip-max-clients", required_argument, NULL, 'C' },
		{ "usbip-max-per-source", required_argument, NULL, 'D' },
		{ "usbip-timeout", required_argument, NULL, 'U' },
		{ "max-tunnels-per-node", required_argument, NULL, 'N' },
		{ "max-ports-per-node", required_argument, NULL, 'O' },
		{ "user", required_argument, NULL, 'Z' },
		{ "event-loop", required_argument, NULL, 'L' },
		{ "threads", required_argument, NULL, 'j' },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN },
		{ "metrics-node-labels", required_argument, NULL, OPT_METRICS_NODE_LABELS },
		{ "capture", required_argument, NULL, 'K' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "config", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	enum log_level log_level = LOG_LEVEL_INFO;
	struct proxy_config cfg = {
		.listen = "0.0.0.0:443",
		.metrics_node_labels = 1,
		.ping_interval = PROXY_DEFAULT_PING_INTERVAL,
		.ping_timeout = PROXY_DEFAULT_PING_TIMEOUT,
		.resume_seconds = RESUME_DEFAULT_SECONDS,
		.resume_window = RESUME_DEFAULT_WINDOW,
		.auth_timeout = PROXY_DEFAULT_AUTH_TIMEOUT,
		.unauth_per_source = PROXY_DEFAULT_UNAUTH_PER_SOURCE,
		.unauth_start = PROXY_DEFAULT_UNAUTH_START,
		.unauth_rate = PROXY_DEFAULT_UNAUTH_RATE,
		.unauth_full = PROXY_DEFAULT_UNAUTH_FULL,
		.usbip_max_clients = PROXY_DEFAULT_USBIP_MAX_CLIENTS,
		.usbip_max_per_source = PROXY_DEFAULT_USBIP_MAX_PER_SOURCE,
		.usbip_timeout = PROXY_DEFAULT_USBIP_TIMEOUT,
		.max_tunnels_per_node = PROXY_DEFAULT_MAX_TUNNELS_PER_NODE,
		.max_ports_per_node = PROXY_DEFAULT_MAX_PORTS_PER_NODE,
	};
	unsigned long long number;
	const char *pins[MAX_PINS];
	const char *crls[MAX_CRLS];
	struct balancer_net trusted[MAX_TRUSTED];
	/* what the options files may hold: every option but cmdline_only's */
	static const char *const repeatable[] = { "crl", "trusted-balancer", "pin", NULL };
	static const char *const cmdline_only[] = { "config", "help", "version", NULL };
	static const char short_options[] = "vhV";
	const struct optfile_spec spec = { opts, short_options, repeatable, cmdline_only };
	/* static: cfg points into it for the process's life */
	static struct optfile *files;
	const char *file;
	unsigned int line;
	char why[1024];
	size_t i;
	int c;

	c = read_files(&spec, &files, &argc, &argv);
	if (c)
		return c;
	while ((c = getopt_long(argc, argv, short_options, opts, NULL)) != -1) {
		switch (c) {
		case 'l': cfg.listen = optarg; break;
		case 'c': cfg.cert = optarg; break;
		case 'k': cfg.key = optarg; break;
		case 'a': cfg.ca = optarg; break;
		case 'r':
			if (cfg.ncrls == MAX_CRLS) {
				fprintf(stderr, "usbws-proxy: at most %d --crl options\n", MAX_CRLS);
				goto refused;
			}
			crls[cfg.ncrls++] = optarg;
			break;
		case 'i':
			if (certid_parse_source(optarg, &cfg.identity) < 0) {
				fprintf(stderr, "usbws-proxy: --identity needs cn, san-dns or san-uri, not '%s'\n",
					optarg);
				goto refused;
			}
			break;
		case 'B': cfg.balancer_listen = optarg; break;
		case 't':
			if (cfg.ntrusted == MAX_TRUSTED) {
				fprintf(stderr, "usbws-proxy: at most %d --trusted-balancer options\n",
					MAX_TRUSTED);
				goto refused;
			}
			if (balancer_parse_net(optarg, &trusted[cfg.ntrusted], why, sizeof(why)) < 0) {
				fprintf(stderr, "usbws-proxy: --trusted-balancer %s\n", why);
				goto refused;
			}
			cfg.ntrusted++;
			break;
		case 'u': cfg.usbip_listen = optarg; break;
		case 'E': cfg.usbip_listen_public = 1; break;
		case 'H': cfg.vhci = optarg; break;
		case 's': cfg.sysfs_root = optarg; break;
		case 'I': case 'T': case 'R':
			if (numarg_parse(optarg, 0, 86400, 0, &number) < 0) {
				fprintf(stderr, "usbws-proxy: --%s needs seconds from 0 to 86400, not '%s'\n",
					c == 'I' ? "ping-interval" : c == 'T' ? "ping-timeout" : "resume-time", optarg);
				goto refused;
			}
			*(c == 'I' ? &cfg.ping_interval : c == 'T' ? &cfg.ping_timeout : &cfg.resume_seconds) = (int)number;
			break;
		case 'W':
			if (numarg_parse(optarg, RESUME_MIN_WINDOW, 1u << 30, 1, &number) < 0) {
				fprintf(stderr, "usbws-proxy: --resume-window needs a size from 256K to 1G (K and M "
					"suffixes), not '%s'\n", optarg);
				goto refused;
			}
			cfg.resume_window = (size_t)number;
			break;
		case 'A': case 'U':
			if (numarg_parse(optarg, 1, 3600, 0, &number) < 0) {
				fprintf(stderr, "usbws-proxy: --%s needs seconds from 1 to 3600, not '%s'\n",
					c == 'A' ? "auth-timeout" : "usbip-timeout", optarg);
				goto refused;
			}
			*(c == 'A' ? &cfg.auth_timeout : &cfg.usbip_timeout) = (int)number;
			break;
		case 'S': case 'C': case 'D':
			if (numarg_parse(optarg, 1, 1000000, 0, &number) < 0) {
				fprintf(stderr, "usbws-proxy: --%s needs a count from 1 to 1000000, not '%s'\n",
					c == 'S' ? "max-startups-per-source" : c == 'C' ? "usbip-max-clients" :
					"usbip-max-per-source", optarg);
				goto refused;
			}
			*(c == 'S' ? &cfg.unauth_per_source : c == 'C' ? &cfg.usbip_max_clients :
				     &cfg.usbip_max_per_source) = (unsigned int)number;
			break;
		case 'M':
			if (parse_startups(optarg, &cfg) < 0) {
				fprintf(stderr, "usbws-proxy: --max-startups needs START:RATE:FULL with RATE a "
					"percentage and START <= FULL, not '%s'\n", optarg);
				goto refused;
			}
			break;
		case 'N':
			if (numarg_parse(optarg, 1, CTL_MAX_TUNNELS_PER_NODE, 0, &number) < 0) {
				fprintf(stderr, "usbws-proxy: --max-tunnels-per-node needs a count from 1 to %d, not '%s'\n",
					CTL_MAX_TUNNELS_PER_NODE, optarg);
				goto refused;
			}
			cfg.max_tunnels_per_node = (unsigned int)number;
			break;
		case 'O':
			if (numarg_parse(optarg, 1, PROXY_MAX_VHCI_PORTS, 0, &number) < 0) {
				fprintf(stderr, "usbws-proxy: --max-ports-per-node needs a count from 1 to %d, not '%s'\n",
					PROXY_MAX_VHCI_PORTS, optarg);
				goto refused;
			}
			cfg.max_ports_per_node = (unsigned int)number;
			break;
		case 'P':
			if (cfg.npins == MAX_PINS) {
				fprintf(stderr, "usbws-proxy: at most %d --pin options\n", MAX_PINS);
				goto refused;
			}
			pins[cfg.npins++] = optarg;
			break;
		case 'Y': cfg.policy = optarg; break;
		case 'Z': cfg.user = optarg; break;
		case 'L':
			if (strcmp(optarg, "libev") != 0 && strcmp(optarg, "poll") != 0) {
				fprintf(stderr, "usbws-proxy: --event-loop is libev or poll, not '%s'\n", optarg);
				goto refused;
			}
			cfg.event_loop = strcmp(optarg, "poll") == 0 ? PROXY_LOOP_POLL : PROXY_LOOP_LIBEV;
			break;
		case 'j':
			if (numarg_parse(optarg, 1, PROXY_MAX_THREADS_OPTION, 0, &number) < 0) {
				fprintf(stderr, "usbws-proxy: --threads needs a number from 1 to %d, not '%s'\n",
					PROXY_MAX_THREADS_OPTION, optarg);
				goto refused;
			}
			cfg.threads = (unsigned int)number;
			break;
		case 'v': log_level = LOG_LEVEL_DEBUG; break;
		case OPT_METRICS_LISTEN: cfg.metrics_listen = optarg; break;
		case OPT_METRICS_NODE_LABELS:
			if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0) {
				fprintf(stderr, "usbws-proxy: --metrics-node-labels is on or off, not '%s'\n",
					optarg);
				goto refused;
			}
			cfg.metrics_node_labels = strcmp(optarg, "on") == 0;
			break;
		case OPT_LOG_LEVEL:
			if (log_parse_level(optarg, &log_level) < 0) {
				fprintf(stderr,
					"usbws-proxy: --log-level is error, warning, info or debug, not '%s'\n",
					optarg);
				goto refused;
			}
			break;
		case 'F': break; /* read before this loop */
		case 'K': cfg.capture_dir = optarg; break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("usbws-proxy %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "usbws-proxy: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (cfg.usbip_listen_public && !cfg.usbip_listen) {
		fprintf(stderr, "usbws-proxy: --usbip-listen-public goes with --usbip-listen ADDR:PORT\n");
		return 2;
	}
	/* one without the other is a balancer no one may use, or a trust
	 * that nothing reads: either is a slip */
	if (!cfg.balancer_listen != !cfg.ntrusted) {
		fprintf(stderr,
			"usbws-proxy: --balancer-listen ADDR:PORT and --trusted-balancer ADDR go together\n");
		return 2;
	}
	cfg.trusted = trusted;
	cfg.pins = pins;
	cfg.crls = crls;
	/* the default file applies only where it exists; one named must */
	if (!cfg.policy && access(PROXY_DEFAULT_POLICY, F_OK) == 0)
		cfg.policy = PROXY_DEFAULT_POLICY;
	if (cfg.policy && strcmp(cfg.policy, "none") == 0)
		cfg.policy = NULL;
	if (cfg.ping_interval && cfg.ping_timeout <= cfg.ping_interval) {
		fprintf(stderr, "usbws-proxy: --ping-timeout (%d s) must be longer than --ping-interval (%d s)\n",
			cfg.ping_timeout, cfg.ping_interval);
		return 2;
	}
	if (!given("--cert", cfg.cert) || !given("--key", cfg.key) || !given("--ca", cfg.ca))
		return 2;
	/* lws loads them itself, and says only that it could not */
	if (tlsfiles_check(&(struct tlsfiles){ .cert = cfg.cert, .key = cfg.key, .ca = cfg.ca }, why,
			   sizeof(why)) < 0) {
		fprintf(stderr, "usbws-proxy: %s\n", why);
		return 2;
	}
	for (i = 0; i < cfg.ncrls; i++)
		if (!crl_readable(crls[i]))
			return 2;
	cfg.verbose = log_level == LOG_LEVEL_DEBUG;
	log_init("usbws-proxy", log_level);
	return proxy_run(&cfg, stopsig_install(), stopsig_install_reload());
refused:
	/* a file's option is one element: "--KEY=VALUE" */
	if (optfile_origin(files, optind - 1, &file, &line))
		fprintf(stderr, "usbws-proxy: %s:%u: where that option was given\n", file, line);
	return 2;
}
