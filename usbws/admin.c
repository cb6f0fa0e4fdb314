/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "admin.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/ctlsock.h"
#include "base/log.h"
#include "base/usbws_err.h"
#include "kernel/usbdev.h"
#include "table.h"

#define BOUND_PREFIX "bound-"

/* usbws bind remembers the driver it took a device from, so that unbind
 * gives it back even from another process. */
static void bound_path(char *out, size_t cap, const char *busid)
{
	char name[64];

	snprintf(name, sizeof(name), BOUND_PREFIX "%s", busid);
	ctlsock_path(out, cap, name);
}

int admin_bind(const char *busid, FILE *out)
{
	char orig[64], why[256], path[256];
	FILE *f;

	if (usbdev_bind(busid, orig, sizeof(orig), why, sizeof(why)) < 0) {
		log_err("%s", why);
		return 1;
	}
	if (!orig[0]) {
		fprintf(out, "%s was already bound to usbip-host\n", busid);
		return 0;
	}
	bound_path(path, sizeof(path), busid);
	if (mkdir(ctlsock_dir(), 0700) < 0 && errno != EEXIST)
		f = NULL;
	else
		f = fopen(path, "w");
	if (f) {
		fprintf(f, "%s\n", orig);
		fclose(f);
	} else {
		log_warn("cannot record %s's driver in %s: %s; unbind will let the kernel choose", busid, path,
			 strerror(errno));
	}
	fprintf(out, "bound %s to usbip-host (it was on %s)\n", busid, orig);
	return 0;
}

/* 1 when a usbws connect exports busid, 0 when none does (a connect --user
 * leaves its socket file behind: nobody answers there), or a code with why
 * filled when this user may not ask. */
static int connect_socket(char *out, size_t cap, const char *busid, char *why, size_t why_cap)
{
	char name[64];

	ctlsock_connect_name(name, sizeof(name), busid);
	ctlsock_path(out, cap, name);
	return ctlsock_answers(out, why, why_cap);
}

int admin_unbind(const char *busid, FILE *out)
{
	char orig[64] = "", why[512], path[256];
	struct usbdev d;
	FILE *f;
	int exporting;

	if (usbdev_read(busid, &d) < 0) {
		log_err("no USB device %s: %s", busid, strerror(errno));
		return 1;
	}
	exporting = connect_socket(path, sizeof(path), busid, why, sizeof(why));
	if (exporting < 0) {
		log_err("%s", why);
		return 1;
	}
	if (d.stub_status == STUB_USED || exporting) {
		log_err("%s is being exported; stop that first with usbws disconnect --busid %s", busid, busid);
		return 1;
	}
	if (d.stub_status == STUB_NOT_BOUND) {
		log_err("%s is not bound to usbip-host (its driver: %s)", busid, d.driver[0] ? d.driver : "none");
		return 1;
	}
	bound_path(path, sizeof(path), busid);
	f = fopen(path, "r");
	if (f) {
		if (!fgets(orig, sizeof(orig), f))
			orig[0] = '\0';
		orig[strcspn(orig, "\n")] = '\0';
		fclose(f);
	}
	if (usbdev_unbind(busid, orig, why, sizeof(why)) < 0) {
		log_err("%s", why);
		return 1;
	}
	unlink(path);
	if (usbdev_read(busid, &d) == 0 && d.driver[0])
		fprintf(out, "unbound %s from usbip-host; it is on %s again\n", busid, d.driver);
	else
		fprintf(out, "unbound %s from usbip-host\n", busid);
	return 0;
}

/* The answer to one request, as JSON in *out.  Fails with USBWS_ERR_NOMEM,
 * or USBWS_ERR_SYSTEM with errno: ctlsock_call's (why filled), or EPROTO
 * for an answer that is not JSON and ENODATA for none. */
int admin_call(const char *path, const char *request, json_t **out, char *why, size_t why_cap)
{
	/* untouched pages cost nothing: most answers are a few hundred bytes */
	char *reply = malloc(CTLSOCK_MAX_ANSWER);
	int rc;

	*out = NULL;
	if (!reply)
		return USBWS_ERR_NOMEM;
	rc = ctlsock_call(path, request, reply, CTLSOCK_MAX_ANSWER, why, why_cap);
	if (rc == 0) {
		*out = json_loads(reply, 0, NULL);
		/* the callers' messages quote errno: not one left from before */
		if (!*out) {
			errno = reply[0] ? EPROTO : ENODATA;
			rc = USBWS_ERR_SYSTEM;
		}
	}
	free(reply);
	return rc;
}

struct status_walk {
	json_t *tunnels;
	int refused; /* sockets this user may not use: said, and the exit status */
};

static int add_status(void *ctx, const char *path)
{
	struct status_walk *w = ctx;
	char why[512];
	json_t *o;

	if (admin_call(path, "{\"cmd\":\"status\"}", &o, why, sizeof(why)) < 0 && errno == EACCES) {
		log_err("%s", why);
		w->refused++;
	}
	/* a socket nobody answers on was left by a process that died */
	if (o && json_is_true(json_object_get(o, "ok"))) {
		json_object_del(o, "ok");
		json_array_append_new(w->tunnels, o);
	} else {
		json_decref(o);
	}
	return 0;
}

void admin_human_bytes(char *out, size_t cap, json_int_t n)
{
	if (n >= 10 << 20)
		snprintf(out, cap, "%lld MiB", (long long)(n >> 20));
	else if (n >= 10 << 10)
		snprintf(out, cap, "%lld KiB", (long long)(n >> 10));
	else
		snprintf(out, cap, "%lld B", (long long)n);
}

void admin_vid_pid(char *out, size_t cap, json_t *device)
{
	const char *v = admin_str(device, "vendor"), *p = admin_str(device, "product");

	snprintf(out, cap, *v || *p ? "%s:%s" : "", v, p);
}

void admin_human_duration(char *out, size_t cap, json_int_t seconds)
{
	long long s = seconds > 0 ? (long long)seconds : 0;

	if (s < 60)
		snprintf(out, cap, "%llds", s);
	else if (s < 3600)
		snprintf(out, cap, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, cap, "%lldh%02lldm", s / 3600, s / 60 % 60);
	else
		snprintf(out, cap, "%lldd%02lldh", s / 86400, s / 3600 % 24);
}

int admin_table_done(struct table *t, FILE *out)
{
	int rc = t ? table_print(t, out) : USBWS_ERR_NOMEM;

	table_free(t);
	if (rc == USBWS_ERR_NOMEM)
		log_err("out of memory");
	else if (rc < 0)
		log_err("cannot write the table: %s", strerror(errno));
	return rc < 0 ? 1 : 0;
}

json_int_t admin_num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

const char *admin_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static int print_status_table(json_t *tunnels, FILE *out)
{
	static const struct table_column cols[] = {
		{ "BUSID", TABLE_LEFT }, { "VID:PID", TABLE_LEFT },     { "KIND", TABLE_LEFT },
		{ "STATE", TABLE_LEFT }, { "PROXY BUSID", TABLE_LEFT }, { "UP", TABLE_RIGHT },
		{ "URBS", TABLE_RIGHT }, { "FROM PROXY", TABLE_RIGHT }, { "TO PROXY", TABLE_RIGHT },
		{ "URL", TABLE_LEFT },
	};
	struct table *table = table_new(cols, sizeof(cols) / sizeof(cols[0]));
	json_t *t;
	size_t i;

	json_array_foreach(tunnels, i, t)
	{
		json_t *d = json_object_get(t, "device");
		char id[32], up[32], urbs[32], to[32], from[32];
		const char *row[] = { admin_str(t, "busid"),
				      id,
				      admin_str(t, "kind"),
				      admin_str(t, "state"),
				      admin_str(t, "proxy_busid"),
				      up,
				      urbs,
				      from,
				      to,
				      admin_str(t, "url") };

		admin_vid_pid(id, sizeof(id), d);
		admin_human_duration(up, sizeof(up), admin_num(t, "uptime_seconds"));
		snprintf(urbs, sizeof(urbs), "%lld", (long long)admin_num(t, "urbs"));
		admin_human_bytes(from, sizeof(from), admin_num(t, "bytes_from_proxy"));
		admin_human_bytes(to, sizeof(to), admin_num(t, "bytes_to_proxy"));
		if (table && table_add(table, row) < 0) {
			table_free(table);
			table = NULL;
		}
	}
	return admin_table_done(table, out);
}

int admin_status(int json, FILE *out)
{
	struct status_walk w = { .tunnels = json_array() };
	json_t *tunnels = w.tunnels;
	char why[512];
	int rc;

	if (ctlsock_each(CTLSOCK_CONNECT_PREFIX, add_status, &w, why, sizeof(why)) < 0) {
		log_err("%s", why);
		json_decref(tunnels);
		return 1;
	}
	if (json) {
		json_t *root = json_pack("{s:o}", "tunnels", tunnels);

		json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', out);
		json_decref(root);
		return w.refused ? 1 : 0;
	}
	if (json_array_size(tunnels) == 0) {
		if (!w.refused)
			fprintf(out, "no tunnels running\n");
		json_decref(tunnels);
		return w.refused ? 1 : 0;
	}
	rc = print_status_table(tunnels, out);
	json_decref(tunnels);
	return w.refused ? 1 : rc;
}

int admin_disconnect(const char *busid, FILE *out)
{
	char path[256], why[512];
	json_t *o;
	int rc;

	rc = connect_socket(path, sizeof(path), busid, why, sizeof(why));
	if (rc < 0) {
		log_err("%s", why);
		return 1;
	}
	if (rc == 0) {
		log_err("no usbws connect is exporting %s (no %s)", busid, path);
		return 1;
	}
	admin_call(path, "{\"cmd\":\"disconnect\"}", &o, why, sizeof(why));
	if (!o || !json_is_true(json_object_get(o, "ok"))) {
		log_err("the usbws connect for %s did not answer on %s", busid, path);
		json_decref(o);
		return 1;
	}
	json_decref(o);
	/* the process unexports and gives the device back; wait for it so
	 * that the next command finds the device free */
	for (int i = 0; i < 100 && ctlsock_answers(path, NULL, 0) == 1; i++)
		usleep(100 * 1000);
	if (ctlsock_answers(path, NULL, 0) == 1) {
		log_warn("%s: asked to disconnect, still running after 10 s", busid);
		return 1;
	}
	fprintf(out, "disconnected %s\n", busid);
	return 0;
}
