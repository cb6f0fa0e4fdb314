/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "httpreply.h"

#include <string.h>
#include <strings.h>

#include "usbws_err.h"

size_t httpreply_head_len(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 4 <= len; i++)
		if (buf[i] == '\r' && memcmp(buf + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	return 0;
}

/* Does buf[0..len) start with the string s? */
static int starts(const char *buf, size_t len, const char *s)
{
	size_t n = strlen(s);

	return len >= n && memcmp(buf, s, n) == 0;
}

int httpreply_connect(const char *head, size_t len)
{
	/* any HTTP/1.x; the status is the 3 digits after "HTTP/1.x " */
	if (!starts(head, len, "HTTP/1.") || len < 12 || memcmp(head + 8, " 200", 4) != 0)
		return USBWS_ERR_HTTP_STATUS;
	return 0;
}

const char *httpreply_header(const char *head, size_t len, const char *name, size_t *value_len)
{
	size_t n = strlen(name), i = 0;

	/* a header starts after a line break: never the status line */
	while (i + 2 <= len) {
		const char *p, *eol;
		size_t left;

		if (head[i] != '\r' || head[i + 1] != '\n') {
			i++;
			continue;
		}
		i += 2;
		p = head + i;
		left = len - i;
		if (left <= n || strncasecmp(p, name, n) != 0 || p[n] != ':')
			continue;
		p += n + 1;
		left -= n + 1;
		while (left && *p == ' ') {
			p++;
			left--;
		}
		eol = memchr(p, '\r', left);
		*value_len = eol ? (size_t)(eol - p) : left;
		return p;
	}
	return NULL;
}

/* The header's value starts with want (what the old strncmp checked). */
static int value_starts(const char *head, size_t len, const char *name, const char *want)
{
	size_t vlen;
	const char *v = httpreply_header(head, len, name, &vlen);

	return v && starts(v, vlen, want);
}

int httpreply_upgrade(const char *head, size_t len, const char *accept, const char *subprotocol)
{
	if (!starts(head, len, "HTTP/1.1 101"))
		return USBWS_ERR_HTTP_STATUS;
	if (!value_starts(head, len, "Sec-WebSocket-Accept", accept))
		return USBWS_ERR_WS_ACCEPT;
	if (!value_starts(head, len, "Sec-WebSocket-Protocol", subprotocol))
		return USBWS_ERR_WS_SUBPROTOCOL;
	return 0;
}
