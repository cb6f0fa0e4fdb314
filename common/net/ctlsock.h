/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_CTLSOCK_H
#define USBWS_CTLSOCK_H
/*
 * Local control sockets under the run directory (/run/usbws, or
 * $USBWS_RUN_DIR): each `usbws connect` listens on connect-NAME.sock, the
 * proxy on proxy.sock.  A request is one line of JSON, the answer one line
 * of JSON, then the server closes.  The sockets steer devices: the
 * directory is 0750 and each socket 0660, both of group CTLSOCK_GROUP, so
 * that root and that group's members may use them and nobody else; with
 * no such group, 0700 and 0600 as they were.
 *
 * Serving never blocks the event loop it runs in, which also carries the
 * tunnels: each client's request is read as it arrives and its answer
 * written as the socket takes it.  A client that has not sent its request
 * within CTLSOCK_DEADLINE_MS, or not taken its answer within as long
 * again, is closed.  At
 * most CTLSOCK_MAX_CLIENTS are served at once; more wait in the listen
 * backlog until one is done.
 */
#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#define CTLSOCK_MAX_LINE 65536        /* a request, its newline included */
/* An answer: `usbws nodes` of a proxy at its 10,000 tunnels is some 7 MiB */
#define CTLSOCK_MAX_ANSWER (32u << 20)
#define CTLSOCK_DEADLINE_MS 2000      /* for the request, then again for the answer */
#define CTLSOCK_MAX_CLIENTS 32        /* served at once */
#define CTLSOCK_PROXY "proxy.sock"
#define CTLSOCK_CONNECT_PREFIX "connect-"
#define CTLSOCK_GROUP "usbws" /* may use the sockets, when it exists */

/* The socket name of the `usbws connect` exporting busid (or, for a
 * virtual device, "virtual-PID"): connect-BUSID.sock. */
void ctlsock_connect_name(char *out, size_t cap, const char *busid);

const char *ctlsock_dir(void);
/* Path of a socket in the run directory; "" when it would not fit. */
void ctlsock_path(char *out, size_t cap, const char *name);

/* Creates the directory and listens (non-blocking) on name: returns the
 * fd, or USBWS_ERR_SYSTEM with errno.  The directory, when ours (and not
 * sticky, as /tmp), and the socket are given to CTLSOCK_GROUP, or kept
 * private when it does not exist or this user may not give them to it
 * (then one info line says so).  A socket file nobody answers on is stale
 * and replaced; one that answers means another process owns the name:
 * errno EADDRINUSE. */
int ctlsock_listen(const char *name);

/* 1 when a process listens on path, 0 when none does (no file, or one
 * nobody answers on: a program that stopped being root cannot unlink its
 * socket from root's directory, so the file stays when it exits).
 * USBWS_ERR_SYSTEM with errno when this user cannot tell, why saying so:
 * "cannot reach PATH: Permission denied (it belongs to group usbws: add
 * this user to it, or run as root)". */
int ctlsock_answers(const char *path, char *why, size_t why_cap);

/* Sends one request line and reads the one-line answer into reply.
 * Returns 0, or USBWS_ERR_SYSTEM with errno (ENOENT/ECONNREFUSED: nobody
 * there; EACCES: this user may not, why naming who may, as above). */
int ctlsock_call(const char *path, const char *request, char *reply, size_t cap, char *why, size_t why_cap);

/* A connection to the socket at path, for a client that talks longer
 * than one exchange.  Returns the socket, or USBWS_ERR_SYSTEM with errno
 * and why as ctlsock_call says it. */
int ctlsock_dial(const char *path, char *why, size_t why_cap);
/* Sends line and a newline in one write, waiting for the socket as
 * ctlsock_call does.  Returns 0, or USBWS_ERR_SYSTEM with errno. */
int ctlsock_send_line(int sock, const char *line);

/*
 * A descriptor handed over with the first byte of some data (SCM_RIGHTS),
 * as proxy.sock hands `usbws capture` its capture stream.  send_fd never
 * waits: it returns the bytes sent (fd went with them), or
 * USBWS_ERR_SYSTEM with errno (EAGAIN: nothing sent, try again).
 * recv_fd waits as read(2) does: it returns the bytes read (0 at the end)
 * with *fd the descriptor that came with them, or -1, or USBWS_ERR_SYSTEM
 * with errno; any further descriptor is closed.
 */
int ctlsock_send_fd(int sock, const void *data, size_t len, int fd);
int ctlsock_recv_fd(int sock, void *buf, size_t cap, int *fd);

/* Makes the answer to one request line: a malloc'd string without its
 * newline, or NULL (the client is closed unanswered). */
typedef char *(*ctlsock_answer_fn)(void *ctx, const char *request);

/*
 * One client's exchange, apart from I/O: the caller feeds in the bytes its
 * socket gives and sends what pending() shows.  The caller zero-fills it
 * and calls init; fields with a leading _ are private.
 */
struct ctlsock_conn {
	int64_t deadline_ms;          /* monotonic_ms(): past it the client is closed */
	char *_buf;                   /* the request, then the answer and its newline */
	size_t _len, _cap, _sent;
	int _answered;
};

void ctlsock_conn_init(struct ctlsock_conn *c, int64_t now_ms);
void ctlsock_conn_free(struct ctlsock_conn *c);
/* Takes request bytes that arrived at now_ms.  Returns 0 while the line is
 * incomplete; 1 when it is complete and answered (pending() then has the
 * answer, and the deadline is now_ms + CTLSOCK_DEADLINE_MS: a server late
 * to read a request in time must not drop its answer; bytes after the
 * newline are ignored); USBWS_ERR_NOSPACE for a line longer than
 * CTLSOCK_MAX_LINE - 2 bytes, USBWS_ERR_NOMEM. */
int ctlsock_conn_feed(struct ctlsock_conn *c, int64_t now_ms, const char *in, size_t len, ctlsock_answer_fn answer,
		      void *ctx);
/* Once answered: reply and a newline go after whatever of the answer is
 * still to be sent, for a server that answers later than the request (the
 * answer function returned NULL) or says more on the same connection.
 * Returns 0 or USBWS_ERR_NOMEM. */
int ctlsock_conn_answer(struct ctlsock_conn *c, const char *reply);
/* The answer's bytes not sent yet; NULL (*len 0) before it exists. */
const char *ctlsock_conn_pending(const struct ctlsock_conn *c, size_t *len);
/* n of them went out; returns 1 once the whole answer has. */
int ctlsock_conn_sent(struct ctlsock_conn *c, size_t n);
int ctlsock_conn_expired(const struct ctlsock_conn *c, int64_t now_ms);

/* A control socket served from a poll loop (the node's). */
struct ctlsock_server {
	int listen_fd;                /* -1: none */
	ctlsock_answer_fn answer;
	void *ctx;
	size_t _n;
	struct ctlsock_client {
		int fd;
		struct ctlsock_conn conn;
	} _clients[CTLSOCK_MAX_CLIENTS];
};

#define CTLSOCK_SERVER_POLLFDS (CTLSOCK_MAX_CLIENTS + 1)

void ctlsock_server_init(struct ctlsock_server *s, int listen_fd, ctlsock_answer_fn answer, void *ctx);
/* Fills pfd (room for CTLSOCK_SERVER_POLLFDS) with what to watch: the
 * listener while below the cap, and each client.  Returns how many; lowers
 * *timeout_ms to the nearest deadline. */
size_t ctlsock_server_pollfds(struct ctlsock_server *s, struct pollfd *pfd, int *timeout_ms);
/* After poll, with what pollfds filled: accepts, reads, answers, writes,
 * and closes the clients that are done or past their deadline. */
void ctlsock_server_serve(struct ctlsock_server *s, const struct pollfd *pfd, size_t n);
/* Closes the clients (the listener stays the caller's). */
void ctlsock_server_close(struct ctlsock_server *s);

/* Calls fn with the path of every socket whose name starts with prefix.
 * Stops at and returns fn's first non-zero return; USBWS_ERR_SYSTEM with
 * why filled when the directory cannot be read (none is no socket: 0). */
int ctlsock_each(const char *prefix, int (*fn)(void *ctx, const char *path), void *ctx, char *why, size_t why_cap);

#endif
