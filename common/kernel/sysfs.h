/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_SYSFS_H
#define USBWS_SYSFS_H
/*
 * Every sysfs access of usbws goes through here, relative to one root:
 * /sys, or $USBWS_SYSFS_ROOT, or what sysfs_set_root() was given.  Tests
 * point it at a fake tree and read back what was written.  Paths are
 * printf formats relative to the root ("bus/usb/devices/%s/busnum").
 * Failures return USBWS_ERR_SYSTEM with errno set, so the caller can say
 * what it was doing and why the kernel refused.
 */
#include <stddef.h>

void sysfs_set_root(const char *root);
const char *sysfs_root(void);

/* Reads a whole attribute, trailing newline removed.  Returns its length. */
int sysfs_read(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Reads an attribute as a number in base (10 or 16). */
int sysfs_read_ulong(unsigned long *out, int base, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Reads a binary attribute: up to cap bytes. */
int sysfs_read_bin(void *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Writes value in one write(2), as the kernel's store methods expect. */
int sysfs_write(const char *value, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Opens a file for writing now and keeps the fd, at most SYSFS_MAX_HELD of
 * them: every later sysfs_write to the same path goes through it.  The
 * permission is checked at open, so a program holds what it will write and
 * then stops being root, keeping exactly these writes.  Holding a
 * path twice holds it once.  Returns 0, or USBWS_ERR_SYSTEM with errno
 * set (ENOSPC when the table is full). */
#define SYSFS_MAX_HELD 16
int sysfs_hold(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The last component of a symbolic link's target (a driver's name). */
int sysfs_link_name(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The resolved path, with the root replaced by "/sys" so that it reads
 * as the kernel's own. */
int sysfs_resolve(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* 1 when the path exists, else 0; a path too long to make is a failure
 * (USBWS_ERR_SYSTEM), which reads as true. */
int sysfs_exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Calls fn with each entry name in a directory, "." and ".." excepted,
 * in sorted order.  Stops at and returns fn's first non-zero return. */
int sysfs_list(int (*fn)(void *ctx, const char *name), void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
