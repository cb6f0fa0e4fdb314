/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_UTF8_H
#define USBWS_UTF8_H

#include <stddef.h>

/* 1 when len bytes are strict UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF) holding nothing that could rewrite a
 * log line or how a terminal shows it: C0, DEL, C1, the line and
 * paragraph separators, and the bidi marks, embeddings, overrides and
 * isolates.  Names that reach logs and tables pass it (identities, USB
 * serials); else 0. */
int utf8_printable(const void *text, size_t len);

#endif
