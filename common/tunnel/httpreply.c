/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tunnel/httpreply.h"

#include <string.h>
#include <strings.h>

#include "base/usbws_err.h"

size_t httpreply_head_len(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 4 <= len; i++)
		if (buf[i] == '\r' && memcmp(buf + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	return 0;
}

/* The status line is "HTTP/1.x CODE", then a reason or the line's end:
 * "HTTP/1.1 2000" is not 200. */
static int status_is(const char *head, size_t len, const char *version, const char *code)
{
	size_t n = strlen(version);

	if (len < n + 5 || memcmp(head, version, n) != 0 || head[n] != ' ' || memcmp(head + n + 1, code, 3) != 0)
		return 0;
	return head[n + 4] == ' ' || head[n + 4] == '\r';
}

int httpreply_connect(const char *head, size_t len)
{
	/* any HTTP/1.x */
	if (!status_is(head, len, "HTTP/1.0", "200") && !status_is(head, len, "HTTP/1.1", "200"))
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

/* The header's value is want, whole: "usbws.v10" is not "usbws.v1".
 * Trailing blanks are not part of a value (RFC 9110 5.5). */
static int value_is(const char *head, size_t len, const char *name, const char *want)
{
	size_t vlen;
	const char *v = httpreply_header(head, len, name, &vlen);

	if (!v)
		return 0;
	while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	return vlen == strlen(want) && memcmp(v, want, vlen) == 0;
}

int httpreply_upgrade(const char *head, size_t len, const char *accept, const char *subprotocol)
{
	if (!status_is(head, len, "HTTP/1.1", "101"))
		return USBWS_ERR_HTTP_STATUS;
	if (!value_is(head, len, "Sec-WebSocket-Accept", accept))
		return USBWS_ERR_WS_ACCEPT;
	if (!value_is(head, len, "Sec-WebSocket-Protocol", subprotocol))
		return USBWS_ERR_WS_SUBPROTOCOL;
	return 0;
}
