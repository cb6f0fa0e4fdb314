/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The proxy's URL taken apart before any connection (common/tunnel/wsurl.c):
 * what it accepts, and for each mistake the sentence that says what is
 * wrong. */
#include "testutil.h"

#include <string.h>

#include "tunnel/wsurl.h"

static void test_accepted(void **state)
{
	static const struct {
		const char *name, *url, *host, *port, *path;
	} rows[] = {
		{ "the usual", "wss://proxy.example:443/usbip", "proxy.example", "443", "/usbip" },
		{ "no port: 443", "wss://proxy.example/usbip", "proxy.example", "443", "/usbip" },
		{ "no path: the proxy's", "wss://localhost:8443", "localhost", "8443", "/usbip" },
		{ "a bare slash: the proxy's", "wss://localhost:8443/", "localhost", "8443", "/usbip" },
		{ "neither", "wss://10.0.0.1", "10.0.0.1", "443", "/usbip" },
		{ "another path is kept", "wss://h:1/tenant/usbip?x=1", "h", "1", "/tenant/usbip?x=1" },
		{ "IPv6 in brackets", "wss://[::1]:8443/usbip", "::1", "8443", "/usbip" },
		{ "IPv6 without a port", "wss://[2001:db8::7]/usbip", "2001:db8::7", "443", "/usbip" },
		{ "IPv6, nothing after", "wss://[::1]", "::1", "443", "/usbip" },
		{ "the scheme in capitals", "WSS://H:65535", "H", "65535", "/usbip" },
		{ "underscores and dashes", "wss://edge_1-a.example:2", "edge_1-a.example", "2", "/usbip" },
	};
	struct wsurl u;
	char why[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		print_message("%s: %s\n", rows[i].name, rows[i].url);
		assert_usbws_err(wsurl_parse(rows[i].url, &u, why, sizeof(why)), 0);
		assert_string_equal(u.host, rows[i].host);
		assert_string_equal(u.port, rows[i].port);
		assert_string_equal(u.path, rows[i].path);
	}
}

#define EXPECTED "expected wss://HOST[:PORT]/usbip"

static void test_refused(void **state)
{
	static const struct {
		const char *name, *url, *why;
	} rows[] = {
		{ "empty", "", "empty: " EXPECTED },
		{ "no scheme", "localhost:443/usbip", "no scheme: " EXPECTED },
		{ "a scheme after a slash is none", "h/x://y", "no scheme: " EXPECTED },
		{ "plain WebSocket", "ws://h/usbip",
		  "ws:// is not encrypted, and usbws-proxy speaks only TLS: " EXPECTED },
		{ "https", "https://h/usbip",
		  "the scheme is wss:// (a WebSocket over TLS), not http:// or https://: " EXPECTED },
		{ "http", "http://localhost:1/usbip",
		  "the scheme is wss:// (a WebSocket over TLS), not http:// or https://: " EXPECTED },
		{ "another", "ftp://h/usbip", "the scheme is wss://: " EXPECTED },
		{ "no host", "wss:///usbip", "no host: " EXPECTED },
		{ "a port, no host", "wss://:443/usbip", "no host: " EXPECTED },
		{ "nothing at all", "wss://", "no host: " EXPECTED },
		{ "port 0", "wss://h:0/usbip", "the port is not a number from 1 to 65535: " EXPECTED },
		{ "port 65536", "wss://h:65536/usbip", "the port is not a number from 1 to 65535: " EXPECTED },
		{ "a huge port", "wss://h:99999999999999999999/usbip",
		  "the port is not a number from 1 to 65535: " EXPECTED },
		{ "a named port", "wss://h:https/usbip", "the port is not a number from 1 to 65535: " EXPECTED },
		{ "a signed port", "wss://h:+443/usbip", "the port is not a number from 1 to 65535: " EXPECTED },
		{ "leading zeros", "wss://h:0000000443/usbip",
		  "the port is not a number from 1 to 65535: " EXPECTED },
		{ "a colon, no port", "wss://h:/usbip",
		  "no port after ':': " EXPECTED " (the port is 443 when left out)" },
		{ "IPv6 bare", "wss://::1:443/usbip",
		  "an IPv6 address goes in brackets: wss://[ADDRESS]:PORT/usbip" },
		{ "IPv6 unclosed", "wss://[::1:443/usbip",
		  "no ']' closes the IPv6 address: wss://[ADDRESS]:PORT/usbip" },
		{ "a name in brackets", "wss://[proxy]:443/usbip",
		  "only an IPv6 address goes in brackets: wss://[ADDRESS]:PORT/usbip" },
		{ "empty brackets", "wss://[]:443/usbip",
		  "only an IPv6 address goes in brackets: wss://[ADDRESS]:PORT/usbip" },
		{ "junk after the brackets", "wss://[::1]x/usbip",
		  "after the IPv6 address's ']' comes ':PORT' or the path: wss://[ADDRESS]:PORT/usbip" },
		{ "a user", "wss://me@h/usbip",
		  "it names a user (user@): the node proves who it is with --cert, not in the URL; " EXPECTED },
		{ "a space in the host", "wss://a b/usbip",
		  "the host holds a character no host name or address has: " EXPECTED },
		{ "a control character in the host", "wss://a\x1b[2Jb/usbip",
		  "the host holds a character no host name or address has: " EXPECTED },
		{ "a space in the path", "wss://h/us bip",
		  "the path holds a space or a control character: " EXPECTED },
		{ "a newline in the path", "wss://h/usbip\r\nX: y",
		  "the path holds a space or a control character: " EXPECTED },
		{ "a query without a path", "wss://h:1?x",
		  "a query or fragment needs a path before it: " EXPECTED },
	};
	struct wsurl u;
	char why[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		print_message("%s\n", rows[i].name);
		why[0] = '\0';
		assert_usbws_err(wsurl_parse(rows[i].url, &u, why, sizeof(why)), USBWS_ERR_URL);
		assert_string_equal(why, rows[i].why);
	}
}

static void test_lengths(void **state)
{
	char url[600], why[256];
	struct wsurl u;

	(void)state;
	/* a host of 255 bytes fits, 256 do not */
	snprintf(url, sizeof(url), "wss://%0255d:1/usbip", 0);
	assert_usbws_err(wsurl_parse(url, &u, why, sizeof(why)), 0);
	assert_int_equal(strlen(u.host), 255);
	snprintf(url, sizeof(url), "wss://%0256d:1/usbip", 0);
	assert_usbws_err(wsurl_parse(url, &u, why, sizeof(why)), USBWS_ERR_URL);
	assert_string_equal(why, "the host is longer than 255 bytes");
	/* a path of 255 bytes fits, 256 do not */
	snprintf(url, sizeof(url), "wss://h/%0254d", 0);
	assert_usbws_err(wsurl_parse(url, &u, why, sizeof(why)), 0);
	assert_int_equal(strlen(u.path), 255);
	snprintf(url, sizeof(url), "wss://h/%0255d", 0);
	assert_usbws_err(wsurl_parse(url, &u, why, sizeof(why)), USBWS_ERR_URL);
	assert_string_equal(why, "the path is longer than 255 bytes: " EXPECTED);
	/* NULL why is allowed, as everywhere */
	assert_usbws_err(wsurl_parse("ws://h", &u, NULL, 0), USBWS_ERR_URL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
