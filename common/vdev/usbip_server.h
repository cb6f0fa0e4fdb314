/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_USBIP_SERVER_H
#define USBWS_USBIP_SERVER_H

/*
 * A USB/IP TCP server, as usbipd speaks it, for devices that live in this
 * process: OP_REQ_DEVLIST lists them, OP_REQ_IMPORT hands one to a single
 * importer at a time, and the URB stream runs through vdev_stream.  Stock
 * clients (usbip list -r, usbip attach) and the test client talk to it.
 */

#include <signal.h>
#include <stddef.h>

#include "vdev/vdev.h"

struct usbip_server;

/* Listens on spec (HOST:PORT); the server borrows devs.  Returns 0 with
 * *out, or a negative enum usbws_err with why filled. */
int usbip_server_new(const char *spec, struct vdev **devs, size_t ndevs, struct usbip_server **out, char *why,
		     size_t why_cap);
/* Serves until *stop becomes non-zero.  Returns 0 or a negative enum usbws_err. */
int usbip_server_run(struct usbip_server *s, volatile sig_atomic_t *stop);
void usbip_server_free(struct usbip_server *s);

/* The port actually bound (useful after listening on port 0), or
 * USBWS_ERR_SYSTEM. */
int usbip_server_port(const struct usbip_server *s);

#endif
