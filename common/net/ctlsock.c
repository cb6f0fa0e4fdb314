/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "net/ctlsock.h"
#include "base/monoclock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/usbws_err.h"

#define CALL_TIMEOUT_MS 5000
#define CONN_FIRST_CAP 256
#define READ_CHUNK 4096

const char *ctlsock_dir(void)
{
	const char *d = getenv("USBWS_RUN_DIR");

	return d && *d ? d : "/run/usbws";
}

void ctlsock_path(char *out, size_t cap, const char *name)
{
	if ((size_t)snprintf(out, cap, "%s/%s", ctlsock_dir(), name) >= cap)
		out[0] = '\0';
}

void ctlsock_connect_name(char *out, size_t cap, const char *busid)
{
	snprintf(out, cap, CTLSOCK_CONNECT_PREFIX "%s.sock", busid);
}

static int make_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (!*path || strlen(path) >= sizeof(a->sun_path)) {
		errno = ENAMETOOLONG;
		return USBWS_ERR_SYSTEM;
	}
	memcpy(a->sun_path, path, strlen(path));
	return 0;
}

static int connect_to(const char *path)
{
	struct sockaddr_un a;
	int fd;

	if (make_addr(&a, path) < 0)
		return USBWS_ERR_SYSTEM;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return USBWS_ERR_SYSTEM;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return USBWS_ERR_SYSTEM;
	}
	return fd;
}

/* The group that may use the sockets, or (gid_t)-1 when there is none. */
static gid_t shared_group(void)
{
	struct group *g = getgrnam(CTLSOCK_GROUP);

	return g ? g->gr_gid : (gid_t)-1;
}

/*
 * Makes the run directory, or brings one we own to what the sockets need:
 * 0750 and group *gid, or 0700 when there is no group.  One we do not own
 * is left alone, and so is a sticky one ($USBWS_RUN_DIR=/tmp: everyone's).
 * When the directory cannot be given to the group (a user outside it),
 * *gid becomes -1 and *refused errno's: the sockets stay the user's own.
 */
static int prepare_dir(gid_t *gid, int *refused)
{
	const char *dir = ctlsock_dir();
	struct stat st;
	mode_t mode;
	int fd, e;

	/* made private: it opens to the group once it is the group's */
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return USBWS_ERR_SYSTEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return USBWS_ERR_SYSTEM;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (st.st_uid != geteuid() || (st.st_mode & S_ISVTX)) {
		close(fd);
		return 0;
	}
	if (*gid != (gid_t)-1 && st.st_gid != *gid && fchown(fd, (uid_t)-1, *gid) < 0) {
		*refused = errno;
		*gid = (gid_t)-1;
	}
	/* the group's read and search bits, no one else's; setgid kept */
	mode = (*gid != (gid_t)-1 ? 0750 : 0700) | (st.st_mode & S_ISGID);
	if ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0)
		goto fail;
	close(fd);
	return 0;
fail:
	e = errno;
	close(fd);
	errno = e;
	return USBWS_ERR_SYSTEM;
}

/* The socket file: 0660 and group gid, or 0600 without one.  Called before
 * listen(), so nobody connects in between. */
static int share_socket(const char *path, gid_t gid, int *refused)
{
	if (gid != (gid_t)-1 && fchownat(AT_FDCWD, path, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW) < 0) {
		*refused = errno;
		gid = (gid_t)-1;
	}
	/* by name, in a directory that may not be ours: never through a
	 * symlink someone swapped in since the bind */
	if (gid == (gid_t)-1)
		return 0;
	return fchmodat(AT_FDCWD, path, 0660, AT_SYMLINK_NOFOLLOW) < 0 ? USBWS_ERR_SYSTEM : 0;
}

/* Binds fd to a, the file made 0600 from the start: a socket file is
 * never open to others between its bind and its chmod. */
static int bind_private(int fd, const struct sockaddr_un *a)
{
	mode_t old = umask(0177);
	int rc = bind(fd, (const struct sockaddr *)a, sizeof(*a));

	umask(old);
	return rc;
}

int ctlsock_listen(const char *name)
{
	struct sockaddr_un a;
	char path[sizeof(a.sun_path)];
	gid_t gid = shared_group();
	int fd, refused = 0, group_missing = gid == (gid_t)-1;

	ctlsock_path(path, sizeof(path), name);
	if (make_addr(&a, path) < 0)
		return USBWS_ERR_SYSTEM;
	if (prepare_dir(&gid, &refused) < 0)
		return USBWS_ERR_SYSTEM;
	fd = connect_to(path);
	if (fd >= 0) {
		close(fd);
		errno = EADDRINUSE;
		return USBWS_ERR_SYSTEM;
	}
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return USBWS_ERR_SYSTEM;
	if (bind_private(fd, &a) < 0 || share_socket(path, gid, &refused) < 0 || listen(fd, 8) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return USBWS_ERR_SYSTEM;
	}
	/* news, not a failure: the sockets work, for their owner and root */
	if (group_missing)
		log_info("%s: only its owner and root may use it (there is no group " CTLSOCK_GROUP ")", path);
	else if (refused)
		log_info("%s: only its owner and root may use it (cannot give it to group " CTLSOCK_GROUP ": %s)",
			 path, strerror(refused));
	return fd;
}

/*
 * Why a client was refused path: who may use it.  The socket says, or,
 * when it cannot even be looked at, the directory that stopped us.
 */
static void access_hint(const char *path, char *out, size_t cap)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)], name[64];
	mode_t group_bits = S_IWGRP;
	struct stat st;
	struct group *g;
	struct passwd *pw;
	char *slash;

	out[0] = '\0';
	if (stat(path, &st) < 0) {
		snprintf(dir, sizeof(dir), "%s", path);
		slash = strrchr(dir, '/');
		if (errno != EACCES || !slash)
			return;
		*(slash == dir ? slash + 1 : slash) = '\0';
		if (stat(dir, &st) < 0)
			return;
		group_bits = S_IXGRP;
	} else if (S_ISDIR(st.st_mode)) {
		group_bits = S_IRGRP | S_IXGRP;
	}
	/* root's group is no advice: nobody should join it for this */
	if ((st.st_mode & group_bits) == group_bits && st.st_gid != 0) {
		g = getgrgid(st.st_gid);
		if (g)
			snprintf(name, sizeof(name), "%s", g->gr_name);
		else
			snprintf(name, sizeof(name), "%u", (unsigned int)st.st_gid);
		snprintf(out, cap, " (it belongs to group %s: add this user to it, or run as root)", name);
		return;
	}
	if (!st.st_uid) {
		snprintf(out, cap, " (only root may use it: run as root)");
		return;
	}
	pw = getpwuid(st.st_uid);
	if (pw)
		snprintf(name, sizeof(name), "%s", pw->pw_name);
	else
		snprintf(name, sizeof(name), "uid %u", (unsigned int)st.st_uid);
	snprintf(out, cap, " (only %s may use it: run as %s, or as root)", name, name);
}

/* what for why: "VERB PATH: strerror", and who may when that is the trouble */
static int refusal(char *why, size_t why_cap, const char *verb, const char *path)
{
	int e = errno;
	char hint[256] = "";

	if (e == EACCES || e == EPERM)
		access_hint(path, hint, sizeof(hint));
	errno = e;
	return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "%s %s: %s%s", verb, path, strerror(e), hint);
}

int ctlsock_answers(const char *path, char *why, size_t why_cap)
{
	int fd = connect_to(path);

	if (fd >= 0) {
		close(fd);
		return 1;
	}
	if (errno == ENOENT || errno == ECONNREFUSED)
		return 0;
	return refusal(why, why_cap, "cannot reach", path);
}

/* The client's side, which may block: reads up to a newline (or EOF),
 * within timeout_ms.  Returns the length, or USBWS_ERR_SYSTEM (errno
 * ETIMEDOUT, EMSGSIZE, or read's). */
static int read_line(int fd, char *out, size_t cap, int timeout_ms)
{
	int64_t t0 = monotonic_ms();
	size_t have = 0;

	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		long left = (long)(timeout_ms - (monotonic_ms() - t0));
		ssize_t n;
		char *nl;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return USBWS_ERR_SYSTEM;
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return USBWS_ERR_SYSTEM;
		if (!p.revents)
			continue;
		n = read(fd, out + have, cap - 1 - have);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return USBWS_ERR_SYSTEM;
		have += (size_t)n;
		out[have] = '\0';
		nl = strchr(out, '\n');
		if (nl) {
			*nl = '\0';
			return (int)(nl - out);
		}
		if (n == 0)
			return (int)have;
		if (have == cap - 1) {
			errno = EMSGSIZE;
			return USBWS_ERR_SYSTEM;
		}
	}
}

static int write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { fd, POLLOUT, 0 };

			if (poll(&p, 1, CALL_TIMEOUT_MS) <= 0)
				return USBWS_ERR_SYSTEM;
			continue;
		}
		if (n < 0)
			return USBWS_ERR_SYSTEM;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

int ctlsock_dial(const char *path, char *why, size_t why_cap)
{
	int fd = connect_to(path);

	return fd < 0 ? refusal(why, why_cap, "cannot reach", path) : fd;
}

int ctlsock_send_line(int sock, const char *line)
{
	size_t len = strlen(line);
	char *whole = malloc(len + 1);
	int rc;

	/* one write: a server that acts on the first bytes may close before
	 * a second one */
	if (!whole) {
		errno = ENOMEM;
		return USBWS_ERR_SYSTEM;
	}
	memcpy(whole, line, len);
	whole[len] = '\n';
	rc = write_all(sock, whole, len + 1);
	free(whole);
	return rc;
}

int ctlsock_send_fd(int sock, const void *data, size_t len, int fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	ssize_t n;

	memset(&control, 0, sizeof(control));
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n < 0 ? USBWS_ERR_SYSTEM : (int)n;
}

int ctlsock_recv_fd(int sock, void *buf, size_t cap, int *fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	ssize_t n;

	*fd = -1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return USBWS_ERR_SYSTEM;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		size_t i, count;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < count; i++) {
			int got;

			memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*fd < 0)
				*fd = got;
			else
				close(got);
		}
	}
	return (int)n;
}

int ctlsock_call(const char *path, const char *request, char *reply, size_t cap, char *why, size_t why_cap)
{
	int fd = connect_to(path), rc;

	if (fd < 0)
		return refusal(why, why_cap, "cannot reach", path);
	rc = write_all(fd, request, strlen(request));
	if (rc == 0)
		rc = write_all(fd, "\n", 1);
	if (rc == 0)
		rc = read_line(fd, reply, cap, CALL_TIMEOUT_MS);
	if (rc < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "%s did not answer: %s", path, strerror(e));
	}
	close(fd);
	return 0;
}

void ctlsock_conn_init(struct ctlsock_conn *c, int64_t now_ms)
{
	*c = (struct ctlsock_conn){ .deadline_ms = now_ms + CTLSOCK_DEADLINE_MS };
}

void ctlsock_conn_free(struct ctlsock_conn *c)
{
	free(c->_buf);
	c->_buf = NULL;
	c->_len = c->_cap = c->_sent = 0;
}

/* Room for need bytes and a NUL, grown as the request grows: most are a
 * few dozen bytes, and 32 idle clients should not pin 2 MiB. */
static int conn_reserve(struct ctlsock_conn *c, size_t need)
{
	size_t cap = c->_cap ? c->_cap : CONN_FIRST_CAP;
	char *b;

	while (cap < need + 1)
		cap *= 2;
	if (cap == c->_cap)
		return 0;
	b = realloc(c->_buf, cap);
	if (!b)
		return USBWS_ERR_NOMEM;
	c->_buf = b;
	c->_cap = cap;
	return 0;
}

int ctlsock_conn_feed(struct ctlsock_conn *c, int64_t now_ms, const char *in, size_t len, ctlsock_answer_fn answer,
		      void *ctx)
{
	const char *nl;
	char *reply;
	size_t take, rlen;

	if (c->_answered)
		return 1;
	nl = memchr(in, '\n', len);
	take = nl ? (size_t)(nl - in) : len;
	/* the line, its newline and a NUL fit CTLSOCK_MAX_LINE, as ctlsock_call reads */
	if (c->_len + take > CTLSOCK_MAX_LINE - 2)
		return USBWS_ERR_NOSPACE;
	if (conn_reserve(c, c->_len + take) < 0)
		return USBWS_ERR_NOMEM;
	memcpy(c->_buf + c->_len, in, take);
	c->_len += take;
	c->_buf[c->_len] = '\0';
	if (!nl)
		return 0;
	c->_answered = 1;
	c->deadline_ms = now_ms + CTLSOCK_DEADLINE_MS;
	reply = answer(ctx, c->_buf);
	c->_len = 0;
	if (reply) {
		rlen = strlen(reply);
		if (conn_reserve(c, rlen + 1) < 0) {
			free(reply);
			return USBWS_ERR_NOMEM;
		}
		memcpy(c->_buf, reply, rlen);
		c->_buf[rlen] = '\n';
		c->_len = rlen + 1;
		free(reply);
	}
	return 1;
}

int ctlsock_conn_answer(struct ctlsock_conn *c, const char *reply)
{
	size_t unsent = c->_len - c->_sent, rlen = strlen(reply);

	if (!c->_answered)
		return USBWS_ERR_INVAL;
	if (unsent)
		memmove(c->_buf, c->_buf + c->_sent, unsent);
	c->_len = unsent;
	c->_sent = 0;
	if (conn_reserve(c, unsent + rlen + 1) < 0)
		return USBWS_ERR_NOMEM;
	memcpy(c->_buf + unsent, reply, rlen);
	c->_buf[unsent + rlen] = '\n';
	c->_len = unsent + rlen + 1;
	return 0;
}

const char *ctlsock_conn_pending(const struct ctlsock_conn *c, size_t *len)
{
	*len = c->_answered ? c->_len - c->_sent : 0;
	return c->_answered ? c->_buf + c->_sent : NULL;
}

int ctlsock_conn_sent(struct ctlsock_conn *c, size_t n)
{
	c->_sent += n;
	return c->_answered && c->_sent >= c->_len;
}

int ctlsock_conn_expired(const struct ctlsock_conn *c, int64_t now_ms)
{
	return now_ms >= c->deadline_ms;
}

void ctlsock_server_init(struct ctlsock_server *s, int listen_fd, ctlsock_answer_fn answer, void *ctx)
{
	memset(s, 0, sizeof(*s));
	s->listen_fd = listen_fd;
	s->answer = answer;
	s->ctx = ctx;
}

size_t ctlsock_server_pollfds(struct ctlsock_server *s, struct pollfd *pfd, int *timeout_ms)
{
	int64_t now = monotonic_ms();
	size_t i, k = 0;

	if (s->listen_fd < 0)
		return 0;
	/* at the cap the listener is not watched: newcomers wait in the backlog */
	if (s->_n < CTLSOCK_MAX_CLIENTS)
		pfd[k++] = (struct pollfd){ s->listen_fd, POLLIN, 0 };
	for (i = 0; i < s->_n; i++) {
		struct ctlsock_client *cl = &s->_clients[i];
		int64_t left = cl->conn.deadline_ms - now;
		size_t pending;

		ctlsock_conn_pending(&cl->conn, &pending);
		pfd[k++] = (struct pollfd){ cl->fd, pending ? POLLOUT : POLLIN, 0 };
		if (left < *timeout_ms)
			*timeout_ms = left < 0 ? 0 : (int)left;
	}
	return k;
}

/* Sends what the socket takes now.  Returns 1 when the answer is all out,
 * 0 when more is to come, or USBWS_ERR_SYSTEM. */
static int client_write(struct ctlsock_client *cl)
{
	size_t len;
	const char *p = ctlsock_conn_pending(&cl->conn, &len);
	ssize_t n;

	if (!len)
		return 1;
	n = send(cl->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : USBWS_ERR_SYSTEM;
	return ctlsock_conn_sent(&cl->conn, (size_t)n);
}

/* Reads what has arrived.  Returns 0 to go on, 1 when the answer is all
 * out, or a negative enum usbws_err to close: USBWS_ERR_TRUNCATED when the
 * client left before its request was complete, ctlsock_conn_feed's codes. */
static int client_io(struct ctlsock_server *s, struct ctlsock_client *cl, short revents)
{
	char in[READ_CHUNK];
	size_t pending;
	ssize_t n;
	int rc;

	ctlsock_conn_pending(&cl->conn, &pending);
	if (pending || (revents & POLLOUT))
		return client_write(cl);
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return 0;
	n = recv(cl->fd, in, sizeof(in), MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : USBWS_ERR_SYSTEM;
	if (n == 0)
		return USBWS_ERR_TRUNCATED;
	rc = ctlsock_conn_feed(&cl->conn, monotonic_ms(), in, (size_t)n, s->answer, s->ctx);
	if (rc < 0)
		return rc;
	/* most answers fit the socket's buffer at once */
	return rc == 1 ? client_write(cl) : 0;
}

static void accept_clients(struct ctlsock_server *s)
{
	while (s->_n < CTLSOCK_MAX_CLIENTS) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0)
			return;
		s->_clients[s->_n].fd = fd;
		ctlsock_conn_init(&s->_clients[s->_n].conn, monotonic_ms());
		s->_n++;
	}
}

static void drop_client(struct ctlsock_server *s, size_t i)
{
	close(s->_clients[i].fd);
	ctlsock_conn_free(&s->_clients[i].conn);
	s->_clients[i] = s->_clients[--s->_n];
}

void ctlsock_server_serve(struct ctlsock_server *s, const struct pollfd *pfd, size_t n)
{
	int64_t now;
	size_t i, k;

	/* the clients first, while pfd's order still matches them */
	for (k = 0; k < n; k++) {
		if (pfd[k].fd == s->listen_fd || !pfd[k].revents)
			continue;
		for (i = 0; i < s->_n; i++) {
			if (s->_clients[i].fd == pfd[k].fd) {
				int rc = client_io(s, &s->_clients[i], pfd[k].revents);

				if (rc == USBWS_ERR_NOSPACE || rc == USBWS_ERR_NOMEM)
					log_warn("control socket: a request %s; closed that client", rc == USBWS_ERR_NOSPACE ?
						 "too long" : "could not be answered (out of memory)");
				if (rc != 0)
					drop_client(s, i);
				break;
			}
		}
	}
	now = monotonic_ms();
	for (i = s->_n; i-- > 0;) {
		if (!ctlsock_conn_expired(&s->_clients[i].conn, now))
			continue;
		log_info("control socket: a client did not complete its request within %d ms; closed it",
			 CTLSOCK_DEADLINE_MS);
		drop_client(s, i);
	}
	for (k = 0; k < n; k++)
		if (pfd[k].fd == s->listen_fd && (pfd[k].revents & POLLIN))
			accept_clients(s);
}

void ctlsock_server_close(struct ctlsock_server *s)
{
	while (s->_n)
		drop_client(s, s->_n - 1);
}

int ctlsock_each(const char *prefix, int (*fn)(void *ctx, const char *path), void *ctx, char *why, size_t why_cap)
{
	struct dirent **names;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int n, i, rc = 0;

	n = scandir(ctlsock_dir(), &names, NULL, alphasort);
	if (n < 0 && errno == ENOENT)
		return 0;
	if (n < 0)
		return refusal(why, why_cap, "cannot list the control sockets in", ctlsock_dir());
	for (i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		size_t len = strlen(name);

		if (!rc && strncmp(name, prefix, strlen(prefix)) == 0 && len > 5 &&
		    strcmp(name + len - 5, ".sock") == 0) {
			ctlsock_path(path, sizeof(path), name);
			if (path[0])
				rc = fn(ctx, path);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}
