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
#include "table.h"

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

/* "vendor : product" from usb.ids, for the last column */
static void names(char *out, size_t cap, json_t *o)
{
	snprintf(out, cap, "%s : %s", or_unknown(admin_str(o, "vendor_name"), "unknown vendor"),
		 or_unknown(admin_str(o, "product_name"), "unknown product"));
}

/* A table's rows, one an entry of array: fill(entry, row, scratch) fills row. */
static int print_rows(const struct table_column *cols, size_t ncols, json_t *array,
		      void (*fill)(json_t *entry, const char **row, char (*scratch)[128]), FILE *out)
{
	struct table *t = table_new(cols, ncols);
	const char *row[16];
	char scratch[16][128];
	json_t *e;
	size_t i;

	json_array_foreach(array, i, e)
	{
		fill(e, row, scratch);
		if (t && table_add(t, row) < 0) {
			table_free(t);
			t = NULL;
		}
	}
	return admin_table_done(t, out);
}

static const struct table_column port_cols[] = {
	{ "PORT", TABLE_RIGHT },       { "VHCI", TABLE_LEFT },
	{ "HUB", TABLE_LEFT },         { "VID:PID", TABLE_LEFT },
	{ "NODE", TABLE_LEFT },        { "NODE BUSID", TABLE_LEFT },
	{ "LOCAL BUSID", TABLE_LEFT }, { "VENDOR : PRODUCT", TABLE_LEFT },
};

static void port_row(json_t *p, const char **row, char (*s)[128])
{
	snprintf(s[0], sizeof(s[0]), "%lld", (long long)admin_num(p, "port"));
	snprintf(s[1], sizeof(s[1]), "vhci_hcd.%lld", (long long)admin_num(p, "controller"));
	admin_vid_pid(s[2], sizeof(s[2]), json_object_get(p, "device"));
	names(s[3], sizeof(s[3]), p);
	row[0] = s[0];
	row[1] = s[1];
	row[2] = admin_str(p, "hub");
	row[3] = s[2];
	row[4] = admin_str(p, "node");
	row[5] = admin_str(p, "node_busid");
	row[6] = admin_str(p, "local_busid");
	row[7] = s[3];
}

static const struct table_column reexport_cols[] = {
	{ "USB/IP BUSID", TABLE_LEFT }, { "VID:PID", TABLE_LEFT },  { "NODE", TABLE_LEFT },
	{ "NODE BUSID", TABLE_LEFT },   { "IMPORTER", TABLE_LEFT }, { "FOR", TABLE_RIGHT },
};

static void reexport_row(json_t *p, const char **row, char (*s)[128])
{
	admin_vid_pid(s[0], sizeof(s[0]), json_object_get(p, "device"));
	admin_human_duration(s[1], sizeof(s[1]), admin_num(p, "imported_seconds"));
	row[0] = admin_str(p, "busid");
	row[1] = s[0];
	row[2] = admin_str(p, "node");
	row[3] = admin_str(p, "node_busid");
	row[4] = admin_str(p, "importer");
	row[5] = s[1];
}

int proxyctl_ports(int json, FILE *out)
{
	json_t *o, *ports, *reexports;
	int rc = 0;

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
	if (json_array_size(ports))
		rc |= print_rows(port_cols, sizeof(port_cols) / sizeof(port_cols[0]), ports, port_row, out);
	/* two tables, a blank line between */
	if (json_array_size(ports) && json_array_size(reexports))
		fputc('\n', out);
	if (json_array_size(reexports))
		rc |= print_rows(reexport_cols, sizeof(reexport_cols) / sizeof(reexport_cols[0]), reexports,
				 reexport_row, out);
	json_decref(o);
	return rc;
}

static const struct table_column device_cols[] = {
	{ "NODE", TABLE_LEFT },    { "DEVICE", TABLE_LEFT },
	{ "STATE", TABLE_LEFT },   { "AT", TABLE_LEFT },
	{ "VID:PID", TABLE_LEFT }, { "NODE BUSID", TABLE_LEFT },
	{ "LINK", TABLE_LEFT },    { "FROM", TABLE_LEFT },
	{ "UP", TABLE_RIGHT },     { "IN", TABLE_RIGHT },
	{ "OUT", TABLE_RIGHT },    { "URBS", TABLE_RIGHT },
	{ "P50", TABLE_RIGHT },    { "VENDOR : PRODUCT", TABLE_LEFT },
};

/* A device of usbws nodes; its node's name and address are its own fields too. */
static void device_row(json_t *d, const char **row, char (*s)[128])
{
	json_int_t us = admin_num(d, "rtt_p50_us");

	admin_vid_pid(s[0], sizeof(s[0]), d);
	admin_human_duration(s[1], sizeof(s[1]), (json_int_t)time(NULL) - admin_num(d, "connected_since"));
	admin_human_bytes(s[2], sizeof(s[2]), admin_num(d, "bytes_from_node"));
	admin_human_bytes(s[3], sizeof(s[3]), admin_num(d, "bytes_to_node"));
	snprintf(s[4], sizeof(s[4]), "%lld", (long long)admin_num(d, "urbs"));
	if (!us)
		s[5][0] = '\0';
	else if (us < 10000)
		snprintf(s[5], sizeof(s[5]), "%lld us", (long long)us);
	else
		snprintf(s[5], sizeof(s[5]), "%lld ms", (long long)(us / 1000));
	names(s[6], sizeof(s[6]), d);
	row[0] = admin_str(d, "node");
	row[1] = admin_str(d, "id");
	row[2] = admin_str(d, "state");
	row[3] = admin_str(d, "attached_to");
	row[4] = s[0];
	row[5] = admin_str(d, "node_busid");
	row[6] = admin_str(d, "link");
	row[7] = admin_str(d, "address");
	row[8] = s[1];
	row[9] = s[2];
	row[10] = s[3];
	row[11] = s[4];
	row[12] = s[5];
	row[13] = s[6];
}

int proxyctl_nodes(int json, const char *node_glob, FILE *out)
{
	json_t *o, *nodes, *n, *all;
	size_t i, j;
	int rc = 0;

	if (ask(request("nodes", "--node", "node", node_glob), &o))
		return 1;
	nodes = json_object_get(o, "nodes");
	if (json) {
		print_json(o, out);
		json_decref(o);
		return 0;
	}
	/* one table of every node's devices, in the proxy's order */
	all = json_array();
	json_array_foreach(nodes, i, n)
	{
		json_t *d;

		json_array_foreach(json_object_get(n, "devices"), j, d) json_array_append(all, d);
	}
	if (json_array_size(all) == 0)
		fprintf(out,
			node_glob ? "no node matching %s has a device on this proxy\n"
				  : "no node has a device on this proxy\n",
			node_glob);
	else
		rc = print_rows(device_cols, sizeof(device_cols) / sizeof(device_cols[0]), all, device_row, out);
	json_decref(all);
	json_decref(o);
	return rc;
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
