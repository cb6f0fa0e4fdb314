/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_CTLSOCK_H
#define USBWS_CTLSOCK_H
/*
 * Local control sockets under the run directory (/run/usbws, or
 * $USBWS_RUN_DIR): each `usbws connect` listens on connect-NAME.sock, the
 * proxy on proxy.sock.  A request is one line of JSON, the answer one line
 * of JSON, then the server closes.  The directory is root's (0700): the
 * sockets steer devices.
 */
#include <stddef.h>

#define CTLSOCK_MAX_LINE 65536
#define CTLSOCK_PROXY "proxy.sock"
#define CTLSOCK_CONNECT_PREFIX "connect-"

/* The socket name of the `usbws connect` exporting busid (or, for a
 * virtual device, "virtual-PID"): connect-BUSID.sock. */
void ctlsock_connect_name(char *out, size_t cap, const char *busid);

const char *ctlsock_dir(void);
/* Path of a socket in the run directory; "" when it would not fit. */
void ctlsock_path(char *out, size_t cap, const char *name);

/* Creates the directory and listens (non-blocking) on name.  A socket
 * file nobody answers on is stale and replaced; one that answers means
 * another process owns the name: -1 with errno EADDRINUSE. */
int ctlsock_listen(const char *name);

/* Sends one request line and reads the one-line answer into reply.
 * Returns 0, or -1 with errno (ENOENT/ECONNREFUSED: nobody there). */
int ctlsock_call(const char *path, const char *request, char *reply, size_t cap);

/* Server side, for a poll loop: accepts one client, reads its line
 * (bounded in size and time), hands it to answer, writes the malloc'd
 * answer back.  Never blocks for long; a client that sends nothing within
 * the timeout is dropped. */
void ctlsock_serve(int listen_fd, char *(*answer)(void *ctx, const char *request), void *ctx);

/* Calls fn with the path of every socket whose name starts with prefix. */
int ctlsock_each(const char *prefix, int (*fn)(void *ctx, const char *path), void *ctx);

#endif
