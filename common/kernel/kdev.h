/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_KDEV_H
#define USBWS_KDEV_H
/*
 * A kernel-side USB/IP device on the node: a real device bound to
 * usbip-host, or a gadget on a usbip-vudc UDC.  The kernel gets one end of
 * a socketpair; usbws keeps the other and relays it.  Both directions go
 * through a framer and one validator, so nothing malformed from the proxy
 * reaches the kernel, and the kernel's replies are checked too.  Memory:
 * each direction stops being read above its high-water mark.
 */
#include <stddef.h>
#include <stdint.h>

#include "base/ring.h"
#include "kernel/usbdev.h"
#include "usbip/usbip_framer.h"

struct kdev;

/* The two ways into the kernel.  Each returns 0, or a negative enum
 * usbws_err with why filled. */
struct kdev_ops {
	const char *kind;            /* "usbip-host" or "usbip-vudc" */
	/* Fills k->info/ifs; may bind the device (and note it to undo). */
	int (*open)(struct kdev *k, char *why, size_t why_cap);
	int (*give_socket)(struct kdev *k, int fd, char *why, size_t why_cap);
	/* Opens (sysfs_hold) every file the export may write from now on. */
	int (*hold)(struct kdev *k, char *why, size_t why_cap);
	/* Undoes open's binding, when it made one. */
	void (*close)(struct kdev *k);
};

struct kdev {
	const struct kdev_ops *ops;
	char name[USBIP_BUSID_SIZE];     /* busid, or the vudc's name */
	struct usbip_usb_device info;
	char serial[USBDEV_SERIAL_SIZE]; /* "" when none (a vudc's gadget shows none) */
	struct usbip_usb_interface ifs[USBIP_MAX_INTERFACES];
	uint32_t devid;                  /* what the kernel's side expects in CMD headers */
	char orig_driver[64];            /* bound to usbip-host by us: the driver to give it back to */
	int bound_by_us;
	int fd;                          /* our end of the socketpair, -1 before start */
	int kernel_eof;                  /* the kernel closed its end */
	struct usbip_validator *validator;
	struct usbip_framer to_dev;      /* CMD_* from the proxy */
	struct usbip_framer from_dev;    /* RET_* from the kernel */
	struct ring to_kernel;
	struct ring tx; /* for the proxy, kept until it acknowledges */
	uint8_t *rx_scratch;
	size_t high_water;               /* toward the kernel */
	size_t tx_high_water;            /* toward the proxy: the resume window */
};

/* spec: a busid (usbip-host) or "usbip-vudc.N"; the kernel is not read
 * while window bytes wait for the proxy.  Returns 0, or a negative enum
 * usbws_err with why filled (no such device, a hub, the driver missing,
 * ...). */
int kdev_open(struct kdev **out, const char *spec, size_t window, char *why, size_t why_cap);
/* Unbinds what open bound; closes the socket (the kernel sees EOF). */
void kdev_close(struct kdev *k);
/* After open, before dropping root: opens every sysfs file that giving the
 * socket, giving the device back and binding it again will write, so that
 * they still can be written afterwards.  Returns 0, or a negative enum
 * usbws_err with why filled. */
int kdev_hold_files(struct kdev *k, char *why, size_t why_cap);

/* After OP_REP_EXPORT: make the socketpair and hand one end over.
 * Returns 0, or a negative enum usbws_err with why filled. */
int kdev_start(struct kdev *k, char *why, size_t why_cap);

/* Bytes from the proxy.  *used may be short of len while the kernel is
 * behind.  Returns 0, or a negative enum usbws_err (the proxy broke the
 * protocol). */
int kdev_feed(struct kdev *k, const uint8_t *buf, size_t len, size_t *used);

/* Poll interest for k->fd (0 when none). */
short kdev_poll_events(const struct kdev *k);
/* Reads from and writes to the kernel as revents allow.  Returns 0, or a
 * negative enum usbws_err: the kernel broke the protocol, or
 * USBWS_ERR_SYSTEM when the socket failed.  k->kernel_eof tells that the
 * kernel closed it. */
int kdev_io(struct kdev *k, short revents);

static inline struct ring *kdev_tx(struct kdev *k)
{
	return &k->tx;
}

/* Stops taking commands: the kernel reads EOF, unlinks what is in flight
 * and closes its end, after which nothing more comes. */
void kdev_stop(struct kdev *k);
/* After kdev_stop: 1 when the kernel's replies ended between messages (an
 * unexport may follow), 0 while the kernel still has its end, -1 when it
 * stopped in the middle of a reply. */
int kdev_quiesced(const struct kdev *k);

/* What the node reads of a device, without reaching into it. */
static inline const char *kdev_kind(const struct kdev *k) { return k->ops->kind; }
static inline const char *kdev_name(const struct kdev *k) { return k->name; }
static inline const struct usbip_usb_device *kdev_info(const struct kdev *k) { return &k->info; }
static inline const struct usbip_usb_interface *kdev_ifs(const struct kdev *k) { return k->ifs; }
static inline const char *kdev_serial(const struct kdev *k)
{
	return k->serial;
}
static inline struct usbip_validator *kdev_validator(const struct kdev *k) { return k->validator; }
/* Our end of the socketpair, to poll with kdev_poll_events; -1 before kdev_start. */
static inline int kdev_fd(const struct kdev *k) { return k->fd; }
/* The kernel closed its end: the device went away or was taken down. */
static inline int kdev_kernel_eof(const struct kdev *k) { return k->kernel_eof; }
/* The proxy's commands stand between two messages. */
static inline int kdev_commands_at_boundary(const struct kdev *k) { return usbip_framer_at_boundary(&k->to_dev); }
/* The proxy's unexport reply came: its command stream is over. */
static inline int kdev_closed(const struct kdev *k) { return usbip_framer_closed(&k->to_dev); }
/* The driver usbws took the device from to bind it, and gives it back to;
 * NULL when the device was bound to usbip-host already. */
static inline const char *kdev_taken_from(const struct kdev *k) { return k->bound_by_us ? k->orig_driver : NULL; }

#endif
