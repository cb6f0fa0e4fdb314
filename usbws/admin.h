/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_ADMIN_H
#define USBWS_ADMIN_H
/*
 * The local administration commands: usbws bind/unbind (usbip-host) and
 * status/disconnect (running `usbws connect`s, through their control
 * sockets).  Each prints its result and returns the exit status.  The
 * proxy host's commands are in proxyctl.h.
 */
#include <jansson.h>
#include <stdio.h>

int admin_bind(const char *busid, FILE *out);
int admin_unbind(const char *busid, FILE *out);
int admin_status(int json, FILE *out);
int admin_disconnect(const char *busid, FILE *out);

/* The answer to one request on the control socket at path, as JSON in
 * *out.  Fails with USBWS_ERR_NOMEM, or USBWS_ERR_SYSTEM with errno:
 * ctlsock_call's (why filled), or EPROTO for an answer that is not JSON
 * and ENODATA for none. */
int admin_call(const char *path, const char *request, json_t **out, char *why, size_t why_cap);

/* An answer's fields: 0 and "" when missing. */
json_int_t admin_num(json_t *o, const char *key);
const char *admin_str(json_t *o, const char *key);
/* "12 MiB", "40 KiB", "512 B" */
void admin_human_bytes(char *out, size_t cap, json_int_t n);

#endif
