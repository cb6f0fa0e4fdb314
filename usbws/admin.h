/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_ADMIN_H
#define USBWS_ADMIN_H
/*
 * The local administration commands: usbws bind/unbind (usbip-host),
 * status/disconnect (running `usbws connect`s, through their control
 * sockets), port/detach (the proxy's vhci ports, through proxy.sock).
 * Each prints its result and returns the exit status.
 */
#include <stdio.h>

int admin_bind(const char *busid, FILE *out);
int admin_unbind(const char *busid, FILE *out);
int admin_status(int json, FILE *out);
int admin_disconnect(const char *busid, FILE *out);
int admin_ports(int json, FILE *out);
int admin_detach(unsigned int port, FILE *out);

#endif
