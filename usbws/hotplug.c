/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "hotplug.h"

#include <errno.h>
#include <libudev.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net/ctlsock.h"
#include "net/svcnotify.h"
#include "base/log.h"
#include "base/monoclock.h"
#include "kernel/sysfs.h"
#include "kernel/usbdev.h"
#include "base/usbws_err.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000
/* a child that lasted this long was healthy: its next failure is not part
 * of a crash loop, so the backoff starts over */
#define BACKOFF_RESET_MS 60000
/* a burst of udev events is one rescan; the rest wait for the next round */
#define UDEV_DRAIN_MAX 256

/* The supervisor's entry for one busid seen in sysfs (not node.c's struct
 * export: this one's export runs in a child), kept while the device is
 * present or its child still runs. */
struct hotplug_child {
	struct hotplug_child *next;
	char busid[USBIP_BUSID_SIZE];
	uint16_t vendor, product;
	/* a replug into the same port keeps the busid but not the devnum */
	uint32_t devnum;
	unsigned int seen;           /* the scan generation that last found it */
	int present;
	int wanted;                  /* matches the filter and may be exported */
	int held;                    /* its export ended with 0: stopped on request */
	pid_t pid;                   /* its running child, 0 when none */
	int terminating;             /* the child was sent SIGTERM */
	int exited;                  /* the child was reaped, not yet reported */
	int exit_status;             /* from waitpid() */
	int64_t started_at, start_at, kill_at;
	int backoff_ms;
};

struct supervisor {
	const struct node_config *node;
	const struct hotplug_filter *filter;
	volatile sig_atomic_t *stop;
	struct udev *udev;
	struct udev_monitor *monitor;
	struct hotplug_child *children;
	unsigned int generation;
	int scanned_once;
	int scan_error;              /* the errno last reported, so it is logged once */
	pid_t pid;
	sigset_t run_mask; /* the mask ppoll waits with and children run with */
};

static void describe_exit(int status, char *out, size_t cap)
{
	if (WIFEXITED(status))
		snprintf(out, cap, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, cap, "killed by signal %d, %s", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(out, cap, "wait status %#x", (unsigned int)status);
}

static struct hotplug_child *find_busid(struct supervisor *s, const char *busid)
{
	struct hotplug_child *c;

	for (c = s->children; c; c = c->next)
		if (strcmp(c->busid, busid) == 0)
			return c;
	return NULL;
}

static struct hotplug_child *find_pid(struct supervisor *s, pid_t pid)
{
	struct hotplug_child *c;

	for (c = s->children; c; c = c->next)
		if (c->pid == pid)
			return c;
	return NULL;
}

/* netlink: the monitor is only a hint to rescan early, so failing to get
 * one (no netlink in a container, no permission) costs latency, not
 * correctness */
static void open_monitor(struct supervisor *s)
{
	int err = 0;

	s->udev = udev_new();
	if (!s->udev) {
		err = errno;
		goto fail;
	}
	s->monitor = udev_monitor_new_from_netlink(s->udev, "udev");
	if (!s->monitor ||
	    udev_monitor_filter_add_match_subsystem_devtype(s->monitor, "usb", "usb_device") < 0 ||
	    udev_monitor_enable_receiving(s->monitor) < 0) {
		err = errno;
		goto fail;
	}
	return;
fail:
	log_info("no udev events (%s); noticing USB devices by rescanning sysfs every %d s only",
		 err ? strerror(err) : "libudev failed", HOTPLUG_RESCAN_MS / 1000);
	udev_monitor_unref(s->monitor);
	udev_unref(s->udev);
	s->monitor = NULL;
	s->udev = NULL;
}

static void close_monitor(struct supervisor *s)
{
	udev_monitor_unref(s->monitor);
	udev_unref(s->udev);
	s->monitor = NULL;
	s->udev = NULL;
}

/* Empties the monitor's socket.  What the events say does not matter: a
 * rescan reads the truth from sysfs, and a lost event (ENOBUFS) is made up
 * for by that same rescan. */
static void drain_monitor(struct supervisor *s)
{
	struct udev_device *dev;
	int n;

	for (n = 0; n < UDEV_DRAIN_MAX && (dev = udev_monitor_receive_device(s->monitor)); n++) {
		log_debug("udev: %s %s", udev_device_get_action(dev) ? udev_device_get_action(dev) : "?",
			  udev_device_get_sysname(dev) ? udev_device_get_sysname(dev) : "?");
		udev_device_unref(dev);
	}
}

static void stop_child(struct hotplug_child *c, int64_t now)
{
	if (!c->pid || c->terminating)
		return;
	kill(c->pid, SIGTERM);
	c->terminating = 1;
	c->kill_at = now + HOTPLUG_STOP_GRACE_SECONDS * 1000;
}

static void device_left(struct hotplug_child *c, int64_t now)
{
	c->present = 0;
	if (c->pid && !c->terminating) {
		log_info("device %s left; stopping its export", c->busid);
		stop_child(c, now);
	} else if (c->wanted) {
		log_info("device %s left", c->busid);
	}
}

static void device_arrived(struct supervisor *s, struct hotplug_child *c, const struct usbdev *d)
{
	const struct usbip_usb_device *u = &d->info;
	const char *refusal = usbdev_refusal(d);
	int matched = hotplug_matches(s->filter, u->id_vendor, u->id_product);

	c->vendor = u->id_vendor;
	c->product = u->id_product;
	c->devnum = u->devnum;
	c->present = 1;
	c->wanted = matched && !refusal;
	c->held = 0;
	c->start_at = 0;
	c->backoff_ms = BACKOFF_FIRST_MS;
	if (c->wanted)
		log_info("device %s (%04x:%04x) %s; exporting it", c->busid, c->vendor, c->product,
			 s->scanned_once ? "plugged in" : "present");
	else if (matched && !s->filter->all)
		/* asked for by name: say why nothing happens */
		log_info("device %s (%04x:%04x) matches but is not exported: %s", c->busid, c->vendor, c->product,
			 refusal);
	else
		log_debug("device %s (%04x:%04x) is not exported: %s", c->busid, c->vendor, c->product,
			  matched ? refusal : "no --match names it");
}

static int on_device(void *ctx, const struct usbdev *d)
{
	struct supervisor *s = ctx;
	const struct usbip_usb_device *u = &d->info;
	struct hotplug_child *c = find_busid(s, u->busid);

	if (c && c->present && c->devnum == u->devnum && c->vendor == u->id_vendor && c->product == u->id_product) {
		c->seen = s->generation;
		return 0;
	}
	if (c && c->present)
		/* unplugged and another one plugged in between two scans */
		device_left(c, monotonic_ms());
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c) {
			log_err("%s: out of memory; %s is not watched", __func__, u->busid);
			return 0;
		}
		snprintf(c->busid, sizeof(c->busid), "%s", u->busid);
		c->next = s->children;
		s->children = c;
	}
	c->seen = s->generation;
	device_arrived(s, c, d);
	return 0;
}

static void scan(struct supervisor *s, int64_t now)
{
	struct hotplug_child *c;
	int err;

	s->generation++;
	if (usbdev_scan(on_device, s) < 0 && errno != ENOENT) {
		/* a failed listing says nothing about what left: keep it all */
		err = errno;
		if (err != s->scan_error)
			log_warn("cannot list USB devices under %s/bus/usb/devices: %s; trying again in %d s",
				 sysfs_root(), strerror(err), HOTPLUG_RESCAN_MS / 1000);
		s->scan_error = err;
		return;
	}
	s->scan_error = 0;
	for (c = s->children; c; c = c->next)
		if (c->present && c->seen != s->generation)
			device_left(c, now);
	if (!s->scanned_once) {
		for (c = s->children; c && !c->wanted; c = c->next)
			;
		if (!c)
			log_info("no USB device to export yet; waiting for one to be plugged in");
	}
	s->scanned_once = 1;
}

static int reap(struct supervisor *s)
{
	struct hotplug_child *c;
	int status, n = 0;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		c = find_pid(s, pid);
		if (!c)
			continue;
		c->pid = 0;
		c->exited = 1;
		c->exit_status = status;
		n++;
	}
	return n;
}

/* A killed child could not remove its control socket; left there, `usbws
 * status` would list a tunnel that is gone. */
static void remove_control_socket(const struct hotplug_child *c)
{
	char name[64], path[256];

	ctlsock_connect_name(name, sizeof(name), c->busid);
	ctlsock_path(path, sizeof(path), name);
	if (path[0] && unlink(path) == 0)
		log_debug("removed %s, left by the killed export of %s", path, c->busid);
}

/* After a scan, so that a child that ended because its device was
 * unplugged is not scheduled for a restart. */
static void report_exit(struct hotplug_child *c, int64_t now)
{
	char how[96];

	c->exited = 0;
	describe_exit(c->exit_status, how, sizeof(how));
	if (WIFSIGNALED(c->exit_status))
		remove_control_socket(c);
	if (c->terminating) {
		c->terminating = 0;
		log_info("export of %s stopped (%s)", c->busid, how);
		return;
	}
	if (!c->present) {
		log_info("export of %s ended (%s)", c->busid, how);
		return;
	}
	if (WIFEXITED(c->exit_status) && WEXITSTATUS(c->exit_status) == 0) {
		/* only a stop request (usbws disconnect) ends an export with 0;
		 * restarting it would undo the request */
		c->held = 1;
		log_info("export of %s stopped on request (%s); it is exported again when it is plugged in again",
			 c->busid, how);
		return;
	}
	if (WIFEXITED(c->exit_status) && WEXITSTATUS(c->exit_status) == NODE_EXIT_POLICY) {
		c->held = 1;
		log_info("export of %s refused by the proxy's policy (%s); it is offered again when it is plugged "
			 "in again",
			 c->busid, how);
		return;
	}
	if (now - c->started_at >= BACKOFF_RESET_MS)
		c->backoff_ms = BACKOFF_FIRST_MS;
	c->start_at = now + c->backoff_ms;
	log_info("export of %s ended (%s); restarting it in %d s", c->busid, how, c->backoff_ms / 1000);
	c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

static __attribute__((noreturn)) void child_main(struct supervisor *s, const struct hotplug_child *c)
{
	static char program[sizeof("usbws[]") + USBIP_BUSID_SIZE];
	struct node_config cfg = *s->node;
	int rc;

	/* the monitor is the supervisor's; the child must not hold its socket */
	close_monitor(s);
	signal(SIGCHLD, SIG_DFL);
	/* a supervisor killed outright cannot stop its children: they stop
	 * themselves rather than export on, unwatched and unrestartable */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sigprocmask(SIG_SETMASK, &s->run_mask, NULL);
	if (getppid() != s->pid)
		_exit(1);
	/* several exports share one log: each line says whose it is */
	snprintf(program, sizeof(program), "usbws[%s]", c->busid);
	/* the supervisor speaks for the unit; systemd would refuse (and log)
	 * a child's notifications anyway */
	svcnotify_forget();
	log_init(program, log_get_level());
	cfg.device = c->busid;
	rc = node_export_run(&cfg, s->stop);
	fflush(NULL);
	/* _exit: the supervisor's atexit handlers are not the child's to run */
	_exit(rc);
}

static void start_child(struct supervisor *s, struct hotplug_child *c, int64_t now)
{
	pid_t pid;

	/* what stdio holds would otherwise be written twice */
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_err("cannot start the export of %s: fork: %s; trying again in %d s", c->busid, strerror(errno),
			c->backoff_ms / 1000);
		c->start_at = now + c->backoff_ms;
		return;
	}
	if (pid == 0)
		child_main(s, c);
	c->pid = pid;
	c->started_at = now;
	log_info("export of %s started (pid %ld)", c->busid, (long)pid);
}

/* Acts on what reap() and scan() found: reports exits, forgets devices
 * that are gone, kills children that ignore SIGTERM, starts what is due. */
static void settle(struct supervisor *s, int64_t now)
{
	struct hotplug_child **link = &s->children, *c;

	while ((c = *link)) {
		if (c->exited)
			report_exit(c, now);
		if (!c->present && !c->pid) {
			*link = c->next;
			free(c);
			continue;
		}
		if (c->pid && c->terminating && now >= c->kill_at) {
			log_warn("export of %s did not stop within %d s of SIGTERM; killing it", c->busid,
				 HOTPLUG_STOP_GRACE_SECONDS);
			kill(c->pid, SIGKILL);
			c->kill_at = INT64_MAX;
		}
		if (c->present && c->wanted && !c->held && !c->pid && now >= c->start_at && !*s->stop)
			start_child(s, c, now);
		link = &c->next;
	}
}

/* Milliseconds until something is due: the next rescan, a restart, a
 * SIGKILL. */
static int64_t next_due(struct supervisor *s, int64_t next_scan, int64_t now)
{
	int64_t due = next_scan;
	struct hotplug_child *c;

	for (c = s->children; c; c = c->next) {
		if (c->present && c->wanted && !c->held && !c->pid && c->start_at < due)
			due = c->start_at;
		if (c->pid && c->terminating && c->kill_at < due)
			due = c->kill_at;
	}
	return due > now ? due - now : 0;
}

static void wait_ms(struct supervisor *s, int64_t ms, struct pollfd *pfd)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000 };

	/* signals are blocked except in here: a SIGCHLD or SIGTERM that
	 * comes just before the wait still ends it */
	if (ppoll(pfd, pfd ? 1 : 0, &ts, &s->run_mask) < 0 && errno != EINTR)
		log_warn("%s: ppoll: %s", __func__, strerror(errno));
}

static int children_left(struct supervisor *s)
{
	struct hotplug_child *c;
	int n = 0;

	for (c = s->children; c; c = c->next)
		n += c->pid != 0;
	return n;
}

/* On SIGTERM/SIGINT: every export unexports (and gives its device back)
 * before the supervisor exits. */
static void stop_all(struct supervisor *s)
{
	int64_t now = monotonic_ms(), deadline = now + HOTPLUG_STOP_GRACE_SECONDS * 1000;
	struct hotplug_child *c;
	int n = children_left(s), killed = 0;

	if (n)
		log_info("stopping %d export%s", n, n == 1 ? "" : "s");
	for (c = s->children; c; c = c->next) {
		c->present = 0;
		stop_child(c, now);
	}
	while (children_left(s)) {
		now = monotonic_ms();
		if (!killed && now >= deadline) {
			for (c = s->children; c; c = c->next)
				if (c->pid) {
					log_warn("export of %s did not stop within %d s; killing it", c->busid,
						 HOTPLUG_STOP_GRACE_SECONDS);
					kill(c->pid, SIGKILL);
				}
			killed = 1;
		}
		if (!reap(s))
			wait_ms(s, killed ? 1000 : deadline - now, NULL);
		for (c = s->children; c; c = c->next)
			if (c->exited)
				report_exit(c, now);
	}
}

static void describe_filter(const struct hotplug_filter *f, char *out, size_t cap)
{
	size_t i, len;

	if (f->all) {
		snprintf(out, cap, "every USB device but hubs and vhci_hcd imports");
		return;
	}
	len = (size_t)snprintf(out, cap, "USB devices matching");
	for (i = 0; i < f->n_matches && len < cap; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s %04x:%04x", i ? "," : "", f->matches[i].vendor,
					f->matches[i].product);
}

/* The unit (Type=notify) is ready once the devices plugged in at the start
 * are being exported; its status counts the exports, and its watchdog is
 * fed while this loop turns (at least every HOTPLUG_RESCAN_MS). */
static void notify_service(struct supervisor *s)
{
	const struct hotplug_child *c;
	unsigned int n = 0;

	for (c = s->children; c; c = c->next)
		n += c->pid != 0;
	svcnotify_ready();
	svcnotify_status("exporting %u device%s", n, n == 1 ? "" : "s");
	svcnotify_watchdog();
}

static void on_sigchld(int sig)
{
	/* nothing to do: being delivered ends ppoll(), and reap() follows */
	(void)sig;
}

int hotplug_run(const struct node_config *node, const struct hotplug_filter *filter, volatile sig_atomic_t *stop)
{
	struct supervisor s = { .node = node, .filter = filter, .stop = stop, .pid = getpid() };
	struct sigaction sa, old_chld;
	sigset_t blocked;
	struct hotplug_child *c;
	int64_t now, next_scan = 0;
	int rescan = 0;
	char what[64 + HOTPLUG_MAX_MATCHES * 11];

	sigemptyset(&blocked);
	sigaddset(&blocked, SIGCHLD);
	sigaddset(&blocked, SIGTERM);
	sigaddset(&blocked, SIGINT);
	if (sigprocmask(SIG_BLOCK, &blocked, &s.run_mask) < 0) {
		log_err("%s: sigprocmask: %s", __func__, strerror(errno));
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, &old_chld);
	open_monitor(&s);
	describe_filter(filter, what, sizeof(what));
	log_info("exporting %s to %s, as they are plugged in", what, node->url);
	while (!*stop) {
		struct pollfd pfd = { s.monitor ? udev_monitor_get_fd(s.monitor) : -1, POLLIN, 0 };

		now = monotonic_ms();
		if (reap(&s) || rescan || now >= next_scan) {
			scan(&s, now);
			next_scan = now + HOTPLUG_RESCAN_MS;
			rescan = 0;
		}
		settle(&s, now);
		notify_service(&s);
		wait_ms(&s, next_due(&s, next_scan, now), &pfd);
		if (pfd.revents && s.monitor) {
			drain_monitor(&s);
			rescan = 1;
		}
	}
	stop_all(&s);
	close_monitor(&s);
	while ((c = s.children)) {
		s.children = c->next;
		free(c);
	}
	sigaction(SIGCHLD, &old_chld, NULL);
	sigprocmask(SIG_SETMASK, &s.run_mask, NULL);
	log_info("stopped");
	return 0;
}
