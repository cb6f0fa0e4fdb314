/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_PROXY_H
#define USBWS_PROXY_H

#include <signal.h>

struct proxy_config {
	const char *listen;         /* HOST:PORT for WSS */
	const char *cert;           /* server certificate (PEM) */
	const char *key;            /* its private key */
	const char *ca;             /* the CA that signs node certificates */
	const char *usbip_listen;   /* HOST:PORT for the USB/IP re-export, or NULL */
	const char *vhci;           /* "auto" (default, NULL), "none", or a vhci_hcd list: 0,1 */
	const char *const *pins;    /* NODE=LIST: that node's devices go to these vhci_hcd only */
	size_t npins;
	const char *sysfs_root;     /* NULL: /sys or $USBWS_SYSFS_ROOT */
	int verbose;
};

/* Runs the proxy until *stop is set.  Returns 0, or 1 after logging why it
 * could not start. */
int proxy_run(const struct proxy_config *cfg, volatile sig_atomic_t *stop);

#endif
