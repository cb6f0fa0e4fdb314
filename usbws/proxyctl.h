/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_PROXYCTL_H
#define USBWS_PROXYCTL_H
/*
 * The proxy host's commands, through usbws-proxy's proxy.sock: its vhci
 * ports and re-exports (usbws port), its fleet (usbws nodes), devices
 * held on demand (usbws attach, usbws detach), and a device's USB/IP as
 * pcapng (usbws capture).  Each prints its result and returns the exit
 * status.
 */
#include <stdint.h>
#include <stdio.h>

int proxyctl_ports(int json, FILE *out);
/* node_glob: only nodes it matches (fnmatch), or NULL */
int proxyctl_nodes(int json, const char *node_glob, FILE *out);
/* vhci: "vhci_hcd.N" or a controller list, or NULL for any; waits up to
 * timeout_s for a node that is resuming */
int proxyctl_attach(const char *id, const char *vhci, unsigned int timeout_s, FILE *out);
int proxyctl_detach_port(unsigned int port, FILE *out);
int proxyctl_detach_device(const char *id, FILE *out);
/* Captures device id into file ("-": standard output) until SIGINT or
 * SIGTERM, duration_s seconds (0: no limit) or count packets (0: no
 * limit), or until the proxy ends it; says what it captured on stderr. */
int proxyctl_capture(const char *id, const char *file, unsigned int duration_s, uint64_t count);

#endif
