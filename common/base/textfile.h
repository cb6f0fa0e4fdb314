/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_TEXTFILE_H
#define USBWS_TEXTFILE_H

/*
 * A configuration file read whole, for a parser that takes a buffer (the
 * options files, the policy): a regular file only (a FIFO in its place
 * must not hang the program), at most max bytes.
 */
#include <stddef.h>

/* Fills *text (malloc'd, not NUL-terminated; the caller frees it) and
 * *len.  Returns 0; USBWS_ERR_SYSTEM (errno's text); not_regular, for
 * anything but a regular file; or USBWS_ERR_NOMEM.  A file longer than max
 * is read to max + 1 bytes, so the parser can say it is too large.  why
 * names the path. */
int textfile_read(const char *path, size_t max, int not_regular, char **text, size_t *len, char *why,
		  size_t why_cap);

#endif
