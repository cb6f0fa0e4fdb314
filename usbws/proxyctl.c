/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "proxyctl.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "base/log.h"
#include "base/monoclock.h"
#include "base/stopsig.h"
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

/* How long the proxy may take to answer a capture, and to end one asked to
 * stop (it may wait a few seconds for a slow reader itself). */
#define CAPTURE_ANSWER_MS 10000
#define CAPTURE_END_MS 10000
#define CAPTURE_CHUNK (64u << 10)

/* One capture's connection to the proxy and its output. */
struct capture_session {
	const char *file;
	int out_fd;      /* FILE, or standard output */
	int created;     /* FILE did not exist before: removed when refused */
	int sock;        /* proxy.sock */
	int stream;      /* the pipe the proxy writes the pcapng into */
	char line[8192]; /* what came from the proxy, up to a newline */
	size_t line_len;
	uint64_t written;
};

/* FILE for writing, as the user who runs this: never truncated before the
 * proxy says yes, never left behind when it says no. */
static int open_output(struct capture_session *s)
{
	if (strcmp(s->file, "-") == 0) {
		s->out_fd = STDOUT_FILENO;
		return 0;
	}
	/* a device's traffic (keystrokes, disk blocks): not for everyone */
	s->out_fd = open(s->file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	s->created = s->out_fd >= 0;
	if (s->out_fd < 0 && errno == EEXIST)
		s->out_fd = open(s->file, O_WRONLY | O_CLOEXEC);
	if (s->out_fd < 0) {
		log_err("cannot write %s: %s", s->file, strerror(errno));
		return 1;
	}
	return 0;
}

static void close_session(struct capture_session *s, int refused)
{
	if (s->sock >= 0)
		close(s->sock);
	if (s->stream >= 0)
		close(s->stream);
	if (s->out_fd > STDERR_FILENO)
		close(s->out_fd);
	if (refused && s->created)
		unlink(s->file);
}

/* The next line from the proxy (what: "an answer", "the capture's end",
 * for messages), waiting until deadline (monotonic ms), a descriptor that
 * comes with it in *fd (when fd is not NULL).  Returns the parsed line, or
 * NULL after saying why. */
static json_t *read_answer(struct capture_session *s, const char *what, int64_t deadline, int *fd)
{
	struct pollfd p;
	int64_t left;
	char *nl;
	json_t *o;
	int got, n;

	for (;;) {
		nl = memchr(s->line, '\n', s->line_len);
		if (nl) {
			*nl = '\0';
			o = json_loads(s->line, 0, NULL);
			s->line_len -= (size_t)(nl + 1 - s->line);
			memmove(s->line, nl + 1, s->line_len);
			if (!o)
				log_err("usbws-proxy's answer is not JSON");
			return o;
		}
		if (s->line_len == sizeof(s->line)) {
			log_err("usbws-proxy's answer is too long");
			return NULL;
		}
		p = (struct pollfd){ s->sock, POLLIN, 0 };
		left = deadline - monotonic_ms();
		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			log_err("usbws-proxy did not send %s within %d s", what, CAPTURE_ANSWER_MS / 1000);
			return NULL;
		}
		n = ctlsock_recv_fd(s->sock, s->line + s->line_len, sizeof(s->line) - s->line_len, &got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_err("usbws-proxy closed the connection without %s%s%s", what, n < 0 ? ": " : "",
				n < 0 ? strerror(errno) : "");
			return NULL;
		}
		if (got >= 0 && fd && *fd < 0)
			*fd = got;
		else if (got >= 0)
			close(got);
		s->line_len += (size_t)n;
	}
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return USBWS_ERR_SYSTEM;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Asks for the capture.  Returns 0 with s->stream the pcapng to copy, or
 * 1 after saying why not. */
static int start_capture(struct capture_session *s, const char *id, uint64_t count)
{
	json_t *req = request("capture", "--device", "device", id), *o;
	char path[256], why[512], *line;

	if (req && count && json_object_set_new(req, "count", json_integer((json_int_t)count)) < 0) {
		json_decref(req);
		req = NULL;
	}
	line = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!line) {
		log_err("out of memory");
		return 1;
	}
	ctlsock_path(path, sizeof(path), CTLSOCK_PROXY);
	s->sock = ctlsock_dial(path, why, sizeof(why));
	if (s->sock < 0 || ctlsock_send_line(s->sock, line) < 0) {
		free(line);
		if (s->sock < 0 && errno == EACCES)
			log_err("%s", why);
		else
			log_err("no usbws-proxy answers on %s: %s", path, strerror(errno));
		return 1;
	}
	free(line);
	o = read_answer(s, "an answer", monotonic_ms() + CAPTURE_ANSWER_MS, &s->stream);
	if (!o)
		return 1;
	if (!json_is_true(json_object_get(o, "ok"))) {
		log_err("%s", *admin_str(o, "error") ? admin_str(o, "error") : "the proxy refused");
		json_decref(o);
		return 1;
	}
	if (s->stream < 0) {
		log_err("usbws-proxy sent no capture stream with its answer");
		json_decref(o);
		return 1;
	}
	log_info("capturing %s (node %s's %s) into %s; Ctrl-C stops", id, admin_str(o, "node"),
		 admin_str(o, "node_busid"), strcmp(s->file, "-") == 0 ? "standard output" : s->file);
	json_decref(o);
	return 0;
}

/* Says what was captured, from the proxy's last line.  Returns the exit
 * status. */
static int report_capture(struct capture_session *s, const char *id, json_t *end)
{
	json_int_t dropped = admin_num(end, "dropped"), unwritten = admin_num(end, "unwritten");
	const char *why = admin_str(end, "end");
	int ok = json_is_true(json_object_get(end, "ok"));

	if (!ok)
		log_err("the capture of %s stopped: %s", id, why);
	else if (strcmp(why, "stopped") != 0)
		log_info("the capture of %s ended: %s", id, why);
	if (dropped)
		log_warn("%lld packets were left out: this side fell behind the device", (long long)dropped);
	if (unwritten)
		log_warn("the last %lld bytes never came: %s is cut short", (long long)unwritten, s->file);
	log_info("captured %lld packets of %s (%lld bytes of USB/IP) in %lld frames, %llu bytes into %s",
		 (long long)admin_num(end, "packets"), id, (long long)admin_num(end, "bytes"),
		 (long long)admin_num(end, "frames"), (unsigned long long)s->written,
		 strcmp(s->file, "-") == 0 ? "standard output" : s->file);
	return ok ? 0 : 1;
}

int proxyctl_capture(const char *id, const char *file, unsigned int duration_s, uint64_t count)
{
	struct capture_session s = { .file = file, .out_fd = -1, .sock = -1, .stream = -1 };
	volatile sig_atomic_t *stop = stopsig_install();
	int64_t until = 0, stop_deadline = 0;
	static uint8_t buf[CAPTURE_CHUNK];
	json_t *end = NULL;
	int stream_open = 1, rc;
	struct stat st;
	ssize_t n;

	if (open_output(&s))
		return 1;
	if (start_capture(&s, id, count)) {
		close_session(&s, 1);
		return 1;
	}
	/* an older file of that name goes now, not before the proxy said yes */
	if (!s.created && fstat(s.out_fd, &st) == 0 && S_ISREG(st.st_mode) && ftruncate(s.out_fd, 0) < 0) {
		log_err("cannot write %s: %s", file, strerror(errno));
		close_session(&s, 0);
		return 1;
	}
	if (duration_s)
		until = monotonic_ms() + (int64_t)duration_s * 1000;
	/* until the stream ends and the proxy has said why */
	while (stream_open || !end) {
		struct pollfd p[2] = { { stream_open ? s.stream : -1, POLLIN, 0 },
				       { end ? -1 : s.sock, POLLIN, 0 } };
		int64_t now = monotonic_ms();

		if (!stop_deadline && (*stop || (until && now >= until))) {
			/* any line asks the proxy to stop; one that cannot be
			 * sent met a capture that has just ended by itself, and
			 * its last line is read all the same */
			if (ctlsock_send_line(s.sock, "{\"cmd\":\"stop\"}") < 0)
				log_debug("cannot ask usbws-proxy to stop the capture: %s", strerror(errno));
			stop_deadline = now + CAPTURE_END_MS;
		}
		if (stop_deadline && now >= stop_deadline) {
			log_err("usbws-proxy did not end the capture within %d s of being asked",
				CAPTURE_END_MS / 1000);
			break;
		}
		/* a signal interrupts the wait; a fifth of a second bounds a race with it */
		if (poll(p, 2, 200) < 0 && errno != EINTR)
			break;
		if (p[0].revents) {
			n = read(s.stream, buf, sizeof(buf));
			if (n < 0 && errno != EINTR && errno != EAGAIN) {
				log_err("cannot read the capture stream: %s", strerror(errno));
				break;
			}
			if (n == 0)
				stream_open = 0;
			if (n > 0) {
				if (write_all(s.out_fd, buf, (size_t)n) < 0) {
					log_err("cannot write %s: %s; the capture stops",
						strcmp(file, "-") == 0 ? "standard output" : file, strerror(errno));
					break;
				}
				s.written += (uint64_t)n;
			}
		}
		/* the last line may have come with the answer */
		if (!end && (p[1].revents || memchr(s.line, '\n', s.line_len))) {
			end = read_answer(&s, "the capture's end", monotonic_ms() + CAPTURE_END_MS, NULL);
			if (!end)
				break;
		}
	}
	if (!end || stream_open) {
		/* cut short here: closing the connection stops it on the proxy */
		json_decref(end);
		close_session(&s, 0);
		return 1;
	}
	rc = report_capture(&s, id, end);
	json_decref(end);
	close_session(&s, 0);
	return rc;
}
