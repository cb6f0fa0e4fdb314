/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "kernel/sysfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "base/log.h"
#include "base/usbws_err.h"

static char root_dir[PATH_MAX];

/* sysfs_hold's fds, by the path they were opened at */
static struct {
	char path[PATH_MAX];
	int fd;
} held[SYSFS_MAX_HELD];
static unsigned int n_held;

void sysfs_set_root(const char *root)
{
	size_t n;

	if (!root || !*root)
		root = getenv("USBWS_SYSFS_ROOT");
	if (!root || !*root)
		root = "/sys";
	n = (size_t)snprintf(root_dir, sizeof(root_dir), "%s", root);
	while (n > 1 && root_dir[n - 1] == '/')
		root_dir[--n] = '\0';
}

const char *sysfs_root(void)
{
	if (!root_dir[0])
		sysfs_set_root(NULL);
	return root_dir;
}

static int make_path(char *path, size_t cap, const char *fmt, va_list ap)
{
	int n = snprintf(path, cap, "%s/", sysfs_root());
	int m = vsnprintf(path + n, cap - (size_t)n, fmt, ap);

	if (m < 0 || (size_t)(n + m) >= cap) {
		errno = ENAMETOOLONG;
		return USBWS_ERR_SYSTEM;
	}
	return 0;
}

#define WITH_PATH(path, fmt)                                   \
	char path[PATH_MAX];                                   \
	do {                                                   \
		va_list ap;                                    \
		int bad;                                       \
		va_start(ap, fmt);                             \
		bad = make_path(path, sizeof(path), fmt, ap);  \
		va_end(ap);                                    \
		if (bad)                                       \
			return USBWS_ERR_SYSTEM;               \
	} while (0)

static int read_file(const char *path, void *out, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t have = 0;
	ssize_t n;

	if (fd < 0)
		return USBWS_ERR_SYSTEM;
	while (have < cap && (n = read(fd, (char *)out + have, cap - have)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			have = (size_t)-1;
			break;
		}
		have += (size_t)n;
	}
	n = errno;
	close(fd);
	errno = (int)n;
	return have == (size_t)-1 ? USBWS_ERR_SYSTEM : (int)have;
}

int sysfs_read(char *out, size_t cap, const char *fmt, ...)
{
	int n;
	WITH_PATH(path, fmt);

	n = read_file(path, out, cap - 1);
	if (n < 0)
		return n;
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		n--;
	out[n] = '\0';
	return n;
}

int sysfs_read_ulong(unsigned long *out, int base, const char *fmt, ...)
{
	char text[32], *end;
	int n;
	WITH_PATH(path, fmt);

	n = read_file(path, text, sizeof(text) - 1);
	if (n < 0)
		return n;
	text[n] = '\0';
	errno = 0;
	*out = strtoul(text, &end, base);
	if (end == text || errno) {
		errno = EINVAL;
		return USBWS_ERR_SYSTEM;
	}
	return 0;
}

int sysfs_read_bin(void *out, size_t cap, const char *fmt, ...)
{
	WITH_PATH(path, fmt);
	return read_file(path, out, cap);
}

/* The fd held for path, or -1 when there is none. */
static int held_fd(const char *path)
{
	for (unsigned int i = 0; i < n_held; i++)
		if (strcmp(held[i].path, path) == 0)
			return held[i].fd;
	return -1;
}

/* Writes value to a held fd as sysfs_write would to its path: 0, or
 * USBWS_ERR_SYSTEM with errno. */
static int write_held(int fd, const char *value)
{
	size_t len = strlen(value);
	struct statfs fs;
	ssize_t n;

	/* a sysfs attribute takes each write whole, whatever the offset */
	n = pwrite(fd, value, len, 0);
	if (n != (ssize_t)len) {
		if (n >= 0)
			errno = EIO;
		return USBWS_ERR_SYSTEM;
	}
	/* a fake tree's file holds exactly the last write, as with O_TRUNC */
	if (fstatfs(fd, &fs) == 0 && fs.f_type != SYSFS_MAGIC && ftruncate(fd, (off_t)len) < 0)
		return USBWS_ERR_SYSTEM;
	return 0;
}

int sysfs_write(const char *value, const char *fmt, ...)
{
	size_t len = strlen(value);
	ssize_t n;
	int fd, saved;
	WITH_PATH(path, fmt);

	fd = held_fd(path);
	if (fd >= 0) {
		/* a held fd outlives the permission to open the path again */
		n = write_held(fd, value) < 0 ? -1 : (ssize_t)len;
		saved = errno;
		log_debug("sysfs: wrote \"%s\" to %s (held): %s", value, path, n < 0 ? strerror(saved) : "ok");
		errno = saved;
		return n < 0 ? USBWS_ERR_SYSTEM : 0;
	}
	/* O_TRUNC is ignored by sysfs and keeps a fake tree's file exact */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return USBWS_ERR_SYSTEM;
	n = write(fd, value, len);
	saved = errno;
	close(fd);
	log_debug("sysfs: wrote \"%s\" to %s: %s", value, path,
		  n == (ssize_t)len ? "ok" : strerror(n < 0 ? saved : EIO));
	if (n != (ssize_t)len) {
		errno = n < 0 ? saved : EIO;
		return USBWS_ERR_SYSTEM;
	}
	return 0;
}

int sysfs_hold(const char *fmt, ...)
{
	int fd;
	WITH_PATH(path, fmt);

	if (held_fd(path) >= 0)
		return 0;
	if (n_held == SYSFS_MAX_HELD) {
		errno = ENOSPC;
		return USBWS_ERR_SYSTEM;
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return USBWS_ERR_SYSTEM;
	memcpy(held[n_held].path, path, sizeof(path));
	held[n_held++].fd = fd;
	return 0;
}

int sysfs_link_name(char *out, size_t cap, const char *fmt, ...)
{
	char target[PATH_MAX];
	const char *slash;
	ssize_t n;
	WITH_PATH(path, fmt);

	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return USBWS_ERR_SYSTEM;
	target[n] = '\0';
	slash = strrchr(target, '/');
	return snprintf(out, cap, "%s", slash ? slash + 1 : target);
}

int sysfs_resolve(char *out, size_t cap, const char *fmt, ...)
{
	char real[PATH_MAX], rroot[PATH_MAX];
	size_t rlen;
	WITH_PATH(path, fmt);

	if (!realpath(path, real) || !realpath(sysfs_root(), rroot))
		return USBWS_ERR_SYSTEM;
	rlen = strlen(rroot);
	if (strncmp(real, rroot, rlen) != 0 || (real[rlen] != '/' && real[rlen] != '\0')) {
		errno = EXDEV;
		return USBWS_ERR_SYSTEM;
	}
	return snprintf(out, cap, "/sys%s", real + rlen);
}

int sysfs_exists(const char *fmt, ...)
{
	struct stat st;
	WITH_PATH(path, fmt);
	return stat(path, &st) == 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strverscmp((*a)->d_name, (*b)->d_name);
}

int sysfs_list(int (*fn)(void *ctx, const char *name), void *ctx, const char *fmt, ...)
{
	struct dirent **names;
	int n, i, rc = 0;
	WITH_PATH(path, fmt);

	n = scandir(path, &names, NULL, by_name);
	if (n < 0)
		return USBWS_ERR_SYSTEM;
	for (i = 0; i < n; i++) {
		const char *name = names[i]->d_name;

		if (!rc && strcmp(name, ".") != 0 && strcmp(name, "..") != 0)
			rc = fn(ctx, name);
		free(names[i]);
	}
	free(names);
	return rc;
}
