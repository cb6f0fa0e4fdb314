/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "kernel/kdev.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/byteorder.h"
#include "base/log.h"
#include "base/monoclock.h"
#include "usbip/relay.h"
#include "kernel/sysfs.h"
#include "kernel/usbdev.h"
#include "base/usbws_err.h"

#define KDEV_CHUNK (64u << 10)
#define KDEV_HIGH_WATER (256u << 10)
/* one chunk may land above the mark, and a chunk's headers are rebuilt */
#define KDEV_SLACK (2 * KDEV_CHUNK)
#define VUDC_PREFIX "usbip-vudc."

/* usbip-host: a real device on this node */

static int host_open(struct kdev *k, char *why, size_t why_cap)
{
	struct usbdev d;
	int rc;

	rc = usbdev_bind(k->name, k->orig_driver, sizeof(k->orig_driver), why, why_cap);
	if (rc < 0)
		return rc;
	/* orig is "" when it was bound to usbip-host before we came */
	k->bound_by_us = k->orig_driver[0] != '\0';
	if (k->bound_by_us)
		log_info("bound %s to usbip-host (it was on %s)", k->name, k->orig_driver);
	rc = usbdev_read(k->name, &d);
	if (rc < 0)
		return usbws_why(why, why_cap, rc, "%s vanished: %s", k->name, strerror(errno));
	if (d.stub_status != STUB_AVAILABLE)
		return usbws_why(why, why_cap, USBWS_ERR_BUSY, "%s is %s, not available for export", k->name,
				 usbdev_state(&d));
	k->info = d.info;
	memcpy(k->serial, d.serial, sizeof(k->serial));
	memcpy(k->ifs, d.ifs, sizeof(k->ifs));
	k->devid = d.info.busnum << 16 | d.info.devnum;
	return 0;
}

static int host_give_socket(struct kdev *k, int fd, char *why, size_t why_cap)
{
	return usbdev_give_socket(k->name, fd, why, why_cap);
}

/* A file the export cannot go without: held, or why says which and why not. */
static int hold(char *why, size_t why_cap, const char *path)
{
	if (sysfs_hold("%s", path) == 0)
		return 0;
	return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "cannot open %s/%s for writing: %s", sysfs_root(), path,
			 strerror(errno));
}

/* One that only some kernels have: usbdev_unbind tries rebind, then drivers_probe. */
static int hold_if_there(char *why, size_t why_cap, const char *path)
{
	return sysfs_exists("%s", path) ? hold(why, why_cap, path) : 0;
}

/* usbdev_give_socket's, usbdev_unbind's and (after an expiry) usbdev_bind's
 * writes; a device bound before usbws came is left bound, so only its
 * socket is written. */
static int host_hold(struct kdev *k, char *why, size_t why_cap)
{
	static const char *const stub[] = { "match_busid", "bind", "unbind" };
	char path[128];
	size_t i;
	int rc;

	snprintf(path, sizeof(path), "bus/usb/devices/%s/usbip_sockfd", k->name);
	rc = hold(why, why_cap, path);
	if (rc < 0 || !k->bound_by_us)
		return rc;
	for (i = 0; i < sizeof(stub) / sizeof(stub[0]); i++) {
		snprintf(path, sizeof(path), "bus/usb/drivers/usbip-host/%s", stub[i]);
		rc = hold(why, why_cap, path);
		if (rc < 0)
			return rc;
	}
	rc = hold_if_there(why, why_cap, "bus/usb/drivers/usbip-host/rebind");
	if (rc == 0)
		rc = hold_if_there(why, why_cap, "bus/usb/drivers_probe");
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "bus/usb/drivers/%s/bind", k->orig_driver);
	rc = hold(why, why_cap, path);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "bus/usb/drivers/%s/unbind", k->orig_driver);
	return hold(why, why_cap, path);
}

static void host_close(struct kdev *k)
{
	char why[256];

	if (!k->bound_by_us)
		return;
	if (usbdev_unbind(k->name, k->orig_driver, why, sizeof(why)) < 0)
		log_warn("%s", why);
	else
		log_info("gave %s back to %s", k->name, k->orig_driver);
}

static const struct kdev_ops host_ops = {
	.kind = "usbip-host",
	.open = host_open,
	.give_socket = host_give_socket,
	.hold = host_hold,
	.close = host_close,
};

/* usbip-vudc: a Linux gadget whose UDC is usbip-vudc.N */

static uint32_t gadget_speed(const char *name)
{
	static const struct { const char *name; uint32_t speed; } speeds[] = {
		{ "low-speed", USBIP_SPEED_LOW }, { "full-speed", USBIP_SPEED_FULL },
		{ "high-speed", USBIP_SPEED_HIGH }, { "super-speed", USBIP_SPEED_SUPER },
		{ "super-speed-plus", USBIP_SPEED_SUPER_PLUS },
	};
	char v[32];
	size_t i;

	if (sysfs_read(v, sizeof(v), "class/udc/%s/current_speed", name) >= 0)
		for (i = 0; i < sizeof(speeds) / sizeof(speeds[0]); i++)
			if (strcmp(v, speeds[i].name) == 0)
				return speeds[i].speed;
	/* vudc reports UNKNOWN until a host attaches; it is a high-speed UDC */
	return USBIP_SPEED_HIGH;
}

static int vudc_open(struct kdev *k, char *why, size_t why_cap)
{
	struct usbip_usb_device *u = &k->info;
	uint8_t desc[18];
	unsigned long status;
	int n;

	if (!sysfs_exists("devices/platform/%s", k->name))
		return usbws_why(why, why_cap, USBWS_ERR_NO_DRIVER, "no %s: is the usbip-vudc module loaded?", k->name);
	n = sysfs_read_bin(desc, sizeof(desc), "devices/platform/%s/dev_desc", k->name);
	if (n != (int)sizeof(desc) || desc[1] != 1)
		return usbws_why(why, why_cap, USBWS_ERR_NO_GADGET,
				 "%s has no gadget bound (dev_desc: %s); write %s to a gadget's UDC first", k->name,
				 n < 0 ? strerror(errno) : "short", k->name);
	if (sysfs_read_ulong(&status, 10, "devices/platform/%s/usbip_status", k->name) == 0 &&
	    status != STUB_AVAILABLE)
		return usbws_why(why, why_cap, USBWS_ERR_BUSY, "%s is in use (usbip_status %lu)", k->name, status);
	memset(u, 0, sizeof(*u));
	snprintf(u->busid, sizeof(u->busid), "%s", k->name);
	if (sysfs_resolve(u->path, sizeof(u->path), "devices/platform/%s", k->name) < 0)
		snprintf(u->path, sizeof(u->path), "/sys/devices/platform/%s", k->name);
	u->b_device_class = desc[4];
	u->b_device_subclass = desc[5];
	u->b_device_protocol = desc[6];
	u->id_vendor = get_le16(desc + 8);
	u->id_product = get_le16(desc + 10);
	u->bcd_device = get_le16(desc + 12);
	u->b_num_configurations = desc[17];
	u->speed = gadget_speed(k->name);
	/* as usbip's own vudc driver: the gadget's devid is 0 */
	k->devid = 0;
	return 0;
}

static int vudc_give_socket(struct kdev *k, int fd, char *why, size_t why_cap)
{
	char num[16];

	snprintf(num, sizeof(num), "%d", fd);
	if (sysfs_write(num, "devices/platform/%s/usbip_sockfd", k->name) < 0)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "%s refused the socket: %s", k->name, strerror(errno));
	return 0;
}

static int vudc_hold(struct kdev *k, char *why, size_t why_cap)
{
	char path[128];

	snprintf(path, sizeof(path), "devices/platform/%s/usbip_sockfd", k->name);
	return hold(why, why_cap, path);
}

static void vudc_close(struct kdev *k)
{
	(void)k;
}

static const struct kdev_ops vudc_ops = {
	.kind = "usbip-vudc",
	.open = vudc_open,
	.give_socket = vudc_give_socket,
	.hold = vudc_hold,
	.close = vudc_close,
};

int kdev_open(struct kdev **out, const char *spec, size_t window, char *why, size_t why_cap)
{
	struct usbip_validator_config validator_config = { 0 };
	struct kdev *k = calloc(1, sizeof(*k));
	int rc;

	*out = NULL;
	if (!k)
		return usbws_why(why, why_cap, USBWS_ERR_NOMEM, "out of memory");
	k->fd = -1;
	k->ops = strncmp(spec, VUDC_PREFIX, strlen(VUDC_PREFIX)) == 0 ? &vudc_ops : &host_ops;
	if (strlen(spec) >= sizeof(k->name) || !*spec || strchr(spec, '/')) {
		free(k);
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "\"%s\" is not a busid", spec);
	}
	snprintf(k->name, sizeof(k->name), "%s", spec);
	usbip_limits_default(&validator_config.limits);
	validator_config.clock_ns = monotonic_clock_ns;
	k->validator = usbip_validator_new(&validator_config);
	k->rx_scratch = malloc(KDEV_CHUNK);
	if (!k->validator || !k->rx_scratch) {
		kdev_close(k);
		return usbws_why(why, why_cap, USBWS_ERR_NOMEM, "out of memory");
	}
	rc = k->ops->open(k, why, why_cap);
	if (rc < 0) {
		kdev_close(k);
		return rc;
	}
	usbip_framer_init(&k->to_dev, USBIP_FLOW_TO_DEVICE, k->validator);
	usbip_framer_start_urb_phase(&k->to_dev);
	usbip_framer_init(&k->from_dev, USBIP_FLOW_FROM_DEVICE, k->validator);
	usbip_framer_start_urb_phase(&k->from_dev);
	ring_init(&k->to_kernel, 0, KDEV_HIGH_WATER + KDEV_SLACK);
	/* the replies the proxy has not acknowledged stay here: the window */
	ring_init(&k->tx, 0, window + KDEV_SLACK);
	k->high_water = KDEV_HIGH_WATER;
	k->tx_high_water = window;
	*out = k;
	return 0;
}

void kdev_close(struct kdev *k)
{
	if (!k)
		return;
	if (k->fd >= 0)
		close(k->fd);
	if (k->validator)
		k->ops->close(k);
	usbip_validator_free(k->validator);
	ring_free(&k->to_kernel);
	ring_free(&k->tx);
	free(k->rx_scratch);
	free(k);
}

int kdev_hold_files(struct kdev *k, char *why, size_t why_cap)
{
	return k->ops->hold(k, why, why_cap);
}

int kdev_start(struct kdev *k, char *why, size_t why_cap)
{
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "socketpair: %s", strerror(errno));
	rc = k->ops->give_socket(k, sv[1], why, why_cap);
	if (rc < 0) {
		close(sv[0]);
		close(sv[1]);
		return rc;
	}
	/* the kernel holds its own reference now */
	close(sv[1]);
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	k->fd = sv[0];
	return 0;
}

int kdev_feed(struct kdev *k, const uint8_t *buf, size_t len, size_t *used)
{
	int rc;

	*used = 0;
	while (*used < len && ring_len(&k->to_kernel) < k->high_water) {
		size_t n = len - *used < KDEV_CHUNK ? len - *used : KDEV_CHUNK;

		/* the OP_REP_UNEXPORT that ends the stream is the node's business */
		rc = relay_chunk_devid(&k->to_dev, buf + *used, n, &k->to_kernel, k->devid);
		if (rc < 0)
			return rc;
		*used += n;
	}
	return 0;
}

short kdev_poll_events(const struct kdev *k)
{
	short ev = 0;

	if (k->fd < 0 || k->kernel_eof)
		return 0;
	if (ring_len(&k->tx) < k->tx_high_water)
		ev |= POLLIN;
	if (ring_len(&k->to_kernel))
		ev |= POLLOUT;
	return ev;
}

int kdev_io(struct kdev *k, short revents)
{
	ssize_t n;
	int rc;

	if (k->fd < 0 || k->kernel_eof)
		return 0;
	if (revents & POLLOUT) {
		while (ring_len(&k->to_kernel)) {
			size_t run;
			const uint8_t *p = ring_peek(&k->to_kernel, 0, &run);

			n = send(k->fd, p, run, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				if (errno == EPIPE || errno == ECONNRESET) {
					k->kernel_eof = 1;
					return 0;
				}
				return USBWS_ERR_SYSTEM;
			}
			ring_consume(&k->to_kernel, (size_t)n);
		}
	}
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		while (ring_len(&k->tx) < k->tx_high_water) {
			n = recv(k->fd, k->rx_scratch, KDEV_CHUNK, 0);
			if (n == 0 || (n < 0 && errno == ECONNRESET)) {
				k->kernel_eof = 1;
				return 0;
			}
			if (n < 0)
				return errno == EAGAIN || errno == EINTR ? 0 : USBWS_ERR_SYSTEM;
			rc = relay_chunk(&k->from_dev, k->rx_scratch, (size_t)n, &k->tx, NULL, NULL);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

void kdev_stop(struct kdev *k)
{
	if (k->fd >= 0 && !k->kernel_eof)
		shutdown(k->fd, SHUT_WR);
}

int kdev_quiesced(const struct kdev *k)
{
	if (k->fd >= 0 && !k->kernel_eof)
		return 0;
	return usbip_framer_at_boundary(&k->from_dev) ? 1 : -1;
}
