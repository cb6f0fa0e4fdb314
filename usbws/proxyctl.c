/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "proxyctl.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "base/log.h"
#include "base/monoclock.h"
#include "base/usbws_err.h"
#include "net/ctlsock.h"

/* How often a waiting attach asks again. */
#define POLL_MS 200

/* A request with one argument from the command line, option naming it
 * in messages; JSON strings are UTF-8, and an argument that is not is
 * refused here rather than left out.  NULL after saying why. */
static json_t *request(const char *cmd, const char *option, const char *key, const char *value)
{
	json_t *req = json_pack("{s:s}", "cmd", cmd), *v = value ? json_string(value) : NULL;

	if (value && !v) {
		log_err("%s: not valid UTF-8", option);
		json_decref(req);
		return NULL;
	}
	if (!req || (v && json_object_set_new(req, key, v) < 0)) {
		log_err("out of memory");
		json_decref(req);
		return NULL;
	}
	return req;
}

/* One request and its answer; a refusal's "error" is logged, and 1
 * returned.  A NULL request was refused already. */
static int ask(json_t *req, json_t **answer)
{
	char path[256], why[512], *line = req ? json_dumps(req, JSON_COMPACT) : NULL;
	int rc;

	*answer = NULL;
	if (!req)
		return 1;
	json_decref(req);
	if (!line) {
		log_err("out of memory");
		return 1;
	}
	ctlsock_path(path, sizeof(path), CTLSOCK_PROXY);
	rc = admin_call(path, line, answer, why, sizeof(why));
	free(line);
	if (rc < 0) {
		/* refused: why already names who may use the socket */
		if (errno == EACCES)
			log_err("%s", why);
		else if (errno == EMSGSIZE)
			log_err("the answer of usbws-proxy on %s is larger than %u MiB", path,
				CTLSOCK_MAX_ANSWER >> 20);
		else
			log_err("no usbws-proxy answers on %s: %s", path, strerror(errno));
		return 1;
	}
	if (!json_is_true(json_object_get(*answer, "ok"))) {
		log_err("%s", *admin_str(*answer, "error") ? admin_str(*answer, "error") : "the proxy refused");
		json_decref(*answer);
		*answer = NULL;
		return 1;
	}
	return 0;
}

static void print_json(json_t *o, FILE *out)
{
	json_object_del(o, "ok");
	json_dumpf(o, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', out);
}

static const char *or_unknown(const char *s, const char *unknown)
{
	return *s ? s : unknown;
}

int proxyctl_ports(int json, FILE *out)
{
	json_t *o, *ports, *reexports, *p;
	size_t i;

	if (ask(request("ports", NULL, NULL, NULL), &o))
		return 1;
	ports = json_object_get(o, "ports");
	reexports = json_object_get(o, "reexports");
	if (json) {
		print_json(o, out);
		json_decref(o);
		return 0;
	}
	if (json_array_size(ports) == 0 && json_array_size(reexports) == 0)
		fprintf(out, "no devices attached to vhci_hcd or re-exported by this proxy\n");
	json_array_foreach(ports, i, p)
	{
		json_t *d = json_object_get(p, "device");

		fprintf(out, "port %-3lld vhci_hcd.%lld %s  %s:%s  node %s busid %s (here %s)  %s : %s\n",
			(long long)admin_num(p, "port"), (long long)admin_num(p, "controller"),
			admin_str(p, "hub"), admin_str(d, "vendor"), admin_str(d, "product"), admin_str(p, "node"),
			admin_str(p, "node_busid"), admin_str(p, "local_busid"),
			or_unknown(admin_str(p, "vendor_name"), "unknown vendor"),
			or_unknown(admin_str(p, "product_name"), "unknown product"));
	}
	json_array_foreach(reexports, i, p)
	{
		json_t *d = json_object_get(p, "device");

		fprintf(out, "usbip %s  %s:%s  node %s busid %s  imported by %s for %lld s\n",
			admin_str(p, "busid"), admin_str(d, "vendor"), admin_str(d, "product"),
			admin_str(p, "node"), admin_str(p, "node_busid"), admin_str(p, "importer"),
			(long long)admin_num(p, "imported_seconds"));
	}
	json_decref(o);
	return 0;
}

static void print_device(json_t *d, FILE *out)
{
	char from[32], to[32], rtt[32];
	json_int_t us = admin_num(d, "rtt_p50_us");

	admin_human_bytes(from, sizeof(from), admin_num(d, "bytes_from_node"));
	admin_human_bytes(to, sizeof(to), admin_num(d, "bytes_to_node"));
	if (!us)
		snprintf(rtt, sizeof(rtt), "-");
	else if (us < 10000)
		snprintf(rtt, sizeof(rtt), "%lld us", (long long)us);
	else
		snprintf(rtt, sizeof(rtt), "%lld ms", (long long)(us / 1000));
	fprintf(out, "  %-31s %-11s %s:%s its %-8s %s%s%s  in %s out %s  %lld URBs  p50 %s  %s : %s\n",
		admin_str(d, "id"), admin_str(d, "state"), admin_str(d, "vendor"), admin_str(d, "product"),
		admin_str(d, "node_busid"), *admin_str(d, "attached_to") ? "at " : "", admin_str(d, "attached_to"),
		strcmp(admin_str(d, "link"), "connected") ? "  (node resuming)" : "", from, to,
		(long long)admin_num(d, "urbs"), rtt, or_unknown(admin_str(d, "vendor_name"), "unknown vendor"),
		or_unknown(admin_str(d, "product_name"), "unknown product"));
}

int proxyctl_nodes(int json, const char *node_glob, FILE *out)
{
	json_t *o, *nodes, *n, *d;
	size_t i, j;

	if (ask(request("nodes", "--node", "node", node_glob), &o))
		return 1;
	nodes = json_object_get(o, "nodes");
	if (json) {
		print_json(o, out);
	} else if (json_array_size(nodes) == 0) {
		fprintf(out,
			node_glob ? "no node matching %s has a device on this proxy\n"
				  : "no node has a device on this proxy\n",
			node_glob);
	} else {
		json_array_foreach(nodes, i, n)
		{
			time_t since = (time_t)admin_num(n, "connected_since");
			char when[32];

			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&since));
			fprintf(out, "%s  connected since %s  from %s\n", admin_str(n, "node"), when,
				admin_str(n, "address"));
			json_array_foreach(json_object_get(n, "devices"), j, d) print_device(d, out);
		}
	}
	json_decref(o);
	return 0;
}

/* The device as the proxy shows it now, or NULL (said why). */
static json_t *device_now(const char *id)
{
	json_t *o, *d;

	if (ask(request("device", "--device", "device", id), &o))
		return NULL;
	d = json_incref(json_object_get(o, "device"));
	json_decref(o);
	return d;
}

/* A node that is resuming: the proxy attaches when it is back, and this
 * waits to say so. */
static int wait_attached(const char *id, unsigned int timeout_s, FILE *out)
{
	int64_t deadline = monotonic_ms() + (int64_t)timeout_s * 1000;
	struct timespec pause = { .tv_sec = 0, .tv_nsec = POLL_MS * 1000000L };
	json_t *d;

	for (;;) {
		d = device_now(id);
		if (!d)
			return 1;
		if (strcmp(admin_str(d, "state"), "attached") == 0) {
			fprintf(out, "attached %s (node %s's %s) at %s\n", id, admin_str(d, "node"),
				admin_str(d, "node_busid"), admin_str(d, "attached_to"));
			json_decref(d);
			return 0;
		}
		if (!json_is_true(json_object_get(d, "attach_pending"))) {
			log_err("%s was not attached: %s", id,
				or_unknown(admin_str(d, "attach_error"), "the attach was cancelled"));
			json_decref(d);
			return 1;
		}
		json_decref(d);
		if (monotonic_ms() >= deadline) {
			log_err("%s: its node has not resumed within %u s; the attach stays pending until it does "
				"(usbws detach --device %s cancels it)",
				id, timeout_s, id);
			return 1;
		}
		nanosleep(&pause, NULL);
	}
}

int proxyctl_attach(const char *id, const char *vhci, unsigned int timeout_s, FILE *out)
{
	json_t *req = request("attach", "--device", "device", id), *o, *v = vhci ? json_string(vhci) : NULL;
	int pending;

	if (req && vhci && (!v || json_object_set_new(req, "vhci", v) < 0)) {
		log_err("--vhci: not valid UTF-8");
		json_decref(req);
		return 1;
	}
	if (ask(req, &o))
		return 1;
	pending = json_is_true(json_object_get(o, "pending"));
	if (!pending)
		fprintf(out, "attached %s at %s\n", id, admin_str(o, "attached_to"));
	json_decref(o);
	if (!pending)
		return 0;
	log_info("%s: its node is resuming; it is attached once the node is back (waiting up to %u s)", id,
		 timeout_s);
	return wait_attached(id, timeout_s, out);
}

int proxyctl_detach_port(unsigned int port, FILE *out)
{
	json_t *o;

	json_t *req = request("detach", NULL, NULL, NULL);

	if (req && json_object_set_new(req, "port", json_integer(port)) < 0) {
		json_decref(req);
		req = NULL;
		log_err("out of memory");
	}
	if (ask(req, &o))
		return 1;
	fprintf(out, "detached port %u\n", port);
	json_decref(o);
	return 0;
}

int proxyctl_detach_device(const char *id, FILE *out)
{
	json_t *o;

	if (ask(request("detach", "--device", "device", id), &o))
		return 1;
	if (json_is_true(json_object_get(o, "cancelled")))
		fprintf(out, "cancelled the pending attach of %s\n", id);
	else
		fprintf(out, "detached %s from port %lld\n", id, (long long)admin_num(o, "port"));
	json_decref(o);
	return 0;
}
