/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_WSURL_H
#define USBWS_WSURL_H
/*
 * The proxy's URL as the node is given it, wss://HOST[:PORT][/PATH], taken
 * apart before any connection is tried, so that a mistyped one is refused
 * at once with what is wrong in it, not by a failure at some later step.
 * Pure: no I/O, no name resolution.
 */
#include <stddef.h>

#define WSURL_DEFAULT_PORT "443"

struct wsurl {
	char host[256]; /* a name, or an address (an IPv6 one without its brackets) */
	char port[6];   /* 1 to 65535; WSURL_DEFAULT_PORT when the URL has none */
	char path[256]; /* from its '/'; USBWS_PATH, the path usbws-proxy serves, when the URL has none */
};

/* Parses url into out.  Returns 0, or USBWS_ERR_URL with why saying what
 * is wrong (the scheme, a missing host, a port that is no number from 1
 * to 65535, an IPv6 address without brackets, ...) and what is expected;
 * the caller names the option and the URL before it. */
int wsurl_parse(const char *url, struct wsurl *out, char *why, size_t why_cap);

#endif
