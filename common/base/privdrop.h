/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_PRIVDROP_H
#define USBWS_PRIVDROP_H

/*
 * Once a program has bound its sockets and opened the few files only root
 * may open, it becomes an ordinary user before it parses anything from the
 * network: TLS, WebSocket and JSON parsers then run with no more power
 * than that user has.
 */
#include <stddef.h>

/* Becomes user (its uid, its primary group, no supplementary groups),
 * irrevocably: returns 0, or a negative enum usbws_err with why filled
 * (nothing changed, or the process must not go on). */
int privdrop_to(const char *user, char *why, size_t why_cap);

#endif
