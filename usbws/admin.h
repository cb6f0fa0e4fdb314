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
/* A device object's "vendor:product", or "" without them */
void admin_vid_pid(char *out, size_t cap, json_t *device);
/* "45s", "3m05s", "2h07m", "3d04h" */
void admin_human_duration(char *out, size_t cap, json_int_t seconds);

struct table;
/* Prints t and frees it: the exit status, 1 after logging why when t is
 * NULL (out of memory) or could not be written. */
int admin_table_done(struct table *t, FILE *out);

#endif
