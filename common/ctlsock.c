/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ctlsock.h"
#include "monoclock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CLIENT_TIMEOUT_MS 500
#define CALL_TIMEOUT_MS 5000

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
		return -1;
	}
	memcpy(a->sun_path, path, strlen(path));
	return 0;
}

static int connect_to(const char *path)
{
	struct sockaddr_un a;
	int fd;

	if (make_addr(&a, path) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int ctlsock_listen(const char *name)
{
	struct sockaddr_un a;
	char path[sizeof(a.sun_path)];
	int fd;

	ctlsock_path(path, sizeof(path), name);
	if (make_addr(&a, path) < 0)
		return -1;
	if (mkdir(ctlsock_dir(), 0700) < 0 && errno != EEXIST)
		return -1;
	fd = connect_to(path);
	if (fd >= 0) {
		close(fd);
		errno = EADDRINUSE;
		return -1;
	}
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || chmod(path, 0600) < 0 || listen(fd, 8) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Reads up to a newline (or EOF), within timeout_ms.  Returns the length
 * or -1 (errno ETIMEDOUT, EMSGSIZE). */
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
			return -1;
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return -1;
		if (!p.revents)
			continue;
		n = read(fd, out + have, cap - 1 - have);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -1;
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
			return -1;
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

			if (poll(&p, 1, CLIENT_TIMEOUT_MS) <= 0)
				return -1;
			continue;
		}
		if (n < 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

int ctlsock_call(const char *path, const char *request, char *reply, size_t cap)
{
	int fd = connect_to(path), rc;

	if (fd < 0)
		return -1;
	rc = write_all(fd, request, strlen(request)) < 0 || write_all(fd, "\n", 1) < 0 ? -1
		: read_line(fd, reply, cap, CALL_TIMEOUT_MS);
	close(fd);
	return rc < 0 ? -1 : 0;
}

void ctlsock_serve(int listen_fd, char *(*answer)(void *ctx, const char *request), void *ctx)
{
	char *line = malloc(CTLSOCK_MAX_LINE), *reply;
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd >= 0 && line && read_line(fd, line, CTLSOCK_MAX_LINE, CLIENT_TIMEOUT_MS) >= 0) {
		reply = answer(ctx, line);
		if (reply) {
			write_all(fd, reply, strlen(reply));
			write_all(fd, "\n", 1);
		}
		free(reply);
	}
	if (fd >= 0)
		close(fd);
	free(line);
}

int ctlsock_each(const char *prefix, int (*fn)(void *ctx, const char *path), void *ctx)
{
	struct dirent **names;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int n, i, rc = 0;

	n = scandir(ctlsock_dir(), &names, NULL, alphasort);
	if (n < 0)
		return errno == ENOENT ? 0 : -1;
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
