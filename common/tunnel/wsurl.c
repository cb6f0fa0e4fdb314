/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tunnel/wsurl.h"

#include <string.h>
#include <strings.h>

#include "base/usbws_err.h"
#include "tunnel/ctl.h"

#define EXPECTED "expected wss://HOST[:PORT]" USBWS_PATH

/* What a host name or an IP address may hold ([] and : are taken apart
 * before); anything else would only fail at name resolution, less clearly. */
static const char HOST_CHARS[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_";

static int bad(char *why, size_t why_cap, const char *what)
{
	return usbws_why(why, why_cap, USBWS_ERR_URL, "%s", what);
}

static int scheme(const char *url, const char **rest, char *why, size_t why_cap)
{
	const char *sep = strstr(url, "://");
	size_t len = sep ? (size_t)(sep - url) : 0;

	if (!sep || len == 0 || strcspn(url, "/") < len)
		return bad(why, why_cap, "no scheme: " EXPECTED);
	*rest = sep + 3;
	if (len == 3 && strncasecmp(url, "wss", 3) == 0)
		return 0;
	if (len == 2 && strncasecmp(url, "ws", 2) == 0)
		return bad(why, why_cap, "ws:// is not encrypted, and usbws-proxy speaks only TLS: " EXPECTED);
	if ((len == 5 && strncasecmp(url, "https", 5) == 0) || (len == 4 && strncasecmp(url, "http", 4) == 0))
		return bad(why, why_cap,
			   "the scheme is wss:// (a WebSocket over TLS), not http:// or https://: " EXPECTED);
	return bad(why, why_cap, "the scheme is wss://: " EXPECTED);
}

/* The len bytes after the ':': 1 to 65535 in decimal, as written
 * (leading zeros are refused with the rest, so it fits out->port). */
static int port_of(const char *port, size_t len, struct wsurl *out, char *why, size_t why_cap)
{
	unsigned long n = 0;
	size_t i;

	if (len == 0)
		return bad(why, why_cap, "no port after ':': " EXPECTED " (the port is 443 when left out)");
	for (i = 0; i < len && port[i] >= '0' && port[i] <= '9' && n <= 65535; i++)
		n = n * 10 + (unsigned long)(port[i] - '0');
	if (i < len || n < 1 || n > 65535 || port[0] == '0')
		return bad(why, why_cap, "the port is not a number from 1 to 65535: " EXPECTED);
	memcpy(out->port, port, len);
	out->port[len] = '\0';
	return 0;
}

/* host[:port] or [v6][:port], len bytes of it, into out */
static int authority(const char *a, size_t len, struct wsurl *out, char *why, size_t why_cap)
{
	const char *host = a, *port = NULL, *end = a + len;
	size_t hlen;

	if (memchr(a, '@', len))
		return bad(why, why_cap,
			   "it names a user (user@): the node proves who it is with --cert, not in "
			   "the URL; " EXPECTED);
	if (*a == '[') {
		const char *close = memchr(a, ']', len);

		if (!close)
			return bad(why, why_cap, "no ']' closes the IPv6 address: wss://[ADDRESS]:PORT" USBWS_PATH);
		host = a + 1;
		hlen = (size_t)(close - host);
		if (close + 1 < end && close[1] != ':')
			return bad(why, why_cap,
				   "after the IPv6 address's ']' comes ':PORT' or the path: "
				   "wss://[ADDRESS]:PORT" USBWS_PATH);
		if (close + 1 < end)
			port = close + 2;
		if (hlen == 0 || strspn(host, "0123456789abcdefABCDEF:.") < hlen || !memchr(host, ':', hlen))
			return bad(why, why_cap,
				   "only an IPv6 address goes in brackets: wss://[ADDRESS]:PORT" USBWS_PATH);
	} else {
		const char *colon = memchr(a, ':', len);

		if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
			return bad(why, why_cap,
				   "an IPv6 address goes in brackets: wss://[ADDRESS]:PORT" USBWS_PATH);
		hlen = colon ? (size_t)(colon - a) : len;
		if (colon)
			port = colon + 1;
		if (hlen == 0)
			return bad(why, why_cap, "no host: " EXPECTED);
		if (strspn(host, HOST_CHARS) < hlen)
			return bad(why, why_cap,
				   "the host holds a character no host name or address has: " EXPECTED);
	}
	if (hlen >= sizeof(out->host))
		return bad(why, why_cap, "the host is longer than 255 bytes");
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	if (!port) {
		strcpy(out->port, WSURL_DEFAULT_PORT);
		return 0;
	}
	return port_of(port, (size_t)(end - port), out, why, why_cap);
}

int wsurl_parse(const char *url, struct wsurl *out, char *why, size_t why_cap)
{
	const char *a = url, *path;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!url || !*url)
		return bad(why, why_cap, "empty: " EXPECTED);
	rc = scheme(url, &a, why, why_cap);
	if (rc < 0)
		return rc;
	path = a + strcspn(a, "/?#");
	rc = authority(a, (size_t)(path - a), out, why, why_cap);
	if (rc < 0)
		return rc;
	if (*path && *path != '/')
		return bad(why, why_cap, "a query or fragment needs a path before it: " EXPECTED);
	for (i = 0; path[i]; i++)
		if ((unsigned char)path[i] <= ' ' || path[i] == 0x7f)
			return bad(why, why_cap, "the path holds a space or a control character: " EXPECTED);
	/* usbws-proxy serves one path: a URL without one means it */
	if (!*path || strcmp(path, "/") == 0)
		path = USBWS_PATH;
	if (strlen(path) >= sizeof(out->path))
		return bad(why, why_cap, "the path is longer than 255 bytes: " EXPECTED);
	strcpy(out->path, path);
	return 0;
}
