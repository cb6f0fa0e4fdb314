/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which addresses are loopback (common/net/netaddr.c): what keeps the
 * proxy's unauthenticated USB/IP re-export off the network unless asked. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "net/netaddr.h"

static void test_is_loopback(void **state)
{
	static const struct {
		const char *name, *addr;
		int want;
	} rows[] = {
		{ "IPv4 loopback", "127.0.0.1", 1 },
		{ "all of 127/8", "127.255.255.254", 1 },
		{ "127/8's first", "127.0.0.0", 1 },
		{ "just below 127/8", "126.255.255.255", 0 },
		{ "just above 127/8", "128.0.0.0", 0 },
		{ "IPv4 any", "0.0.0.0", 0 },
		{ "a LAN address", "192.168.1.10", 0 },
		{ "IPv6 loopback", "::1", 1 },
		{ "IPv6 any", "::", 0 },
		{ "IPv4 loopback mapped into IPv6", "::ffff:127.0.0.1", 1 },
		{ "a LAN address mapped into IPv6", "::ffff:10.0.0.1", 0 },
		{ "IPv4-compatible 127.0.0.1 (deprecated, not loopback)", "::127.0.0.1", 0 },
		{ "link-local", "fe80::1", 0 },
		{ "::2", "::2", 0 },
		{ "a global IPv6 address", "2001:db8::1", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sockaddr_in in4 = { .sin_family = AF_INET };
		struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
		const struct sockaddr *sa;

		print_message("is_loopback: %s\n", rows[i].name);
		if (inet_pton(AF_INET, rows[i].addr, &in4.sin_addr) == 1) {
			sa = (const struct sockaddr *)&in4;
		} else {
			assert_int_equal(inet_pton(AF_INET6, rows[i].addr, &in6.sin6_addr), 1);
			sa = (const struct sockaddr *)&in6;
		}
		assert_int_equal(netaddr_is_loopback(sa), rows[i].want);
	}
}

static void test_is_loopback_other_families(void **state)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX, .sun_path = "/run/usbws/proxy.sock" };
	/* 127.0.0.1's bytes, but not an IPv4 address */
	struct sockaddr raw = { .sa_family = AF_UNSPEC, .sa_data = { 0, 0, 127, 0, 0, 1 } };

	(void)state;
	assert_int_equal(netaddr_is_loopback((const struct sockaddr *)&un), 0);
	assert_int_equal(netaddr_is_loopback(&raw), 0);
}

static void test_loopback_only(void **state)
{
	static const struct {
		const char *name, *spec;
		int want;
		const char *want_why;
	} rows[] = {
		{ "IPv4 loopback", "127.0.0.1:3240", 0, "" },
		{ "elsewhere in 127/8", "127.0.0.2:3240", 0, "" },
		{ "IPv6 loopback", "[::1]:3240", 0, "" },
		{ "mapped loopback", "[::ffff:127.0.0.1]:3240", 0, "" },
		{ "localhost, from /etc/hosts", "localhost:3240", 0, "" },
		{ "IPv4 any", "0.0.0.0:3240", USBWS_ERR_NOT_LOOPBACK, "not a loopback address" },
		{ "IPv6 any", "[::]:3240", USBWS_ERR_NOT_LOOPBACK, "not a loopback address" },
		{ "a LAN address", "192.168.1.10:3240", USBWS_ERR_NOT_LOOPBACK, "not a loopback address" },
		{ "a global IPv6 address", "[2001:db8::1]:3240", USBWS_ERR_NOT_LOOPBACK, "not a loopback address" },
		{ "no port", "127.0.0.1", USBWS_ERR_INVAL, "expected HOST:PORT (an IPv6 host in brackets)" },
		/* the last colon ends the host: brackets are only needed for clarity */
		{ "IPv6 loopback without brackets", "::1:3240", 0, "" },
		{ "IPv6 any without brackets", ":::3240", USBWS_ERR_NOT_LOOPBACK, "not a loopback address" },
		{ "no host", ":3240", USBWS_ERR_INVAL, "expected HOST:PORT (an IPv6 host in brackets)" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char why[128] = "";

		print_message("loopback_only: %s\n", rows[i].name);
		assert_usbws_err(netaddr_loopback_only(rows[i].spec, why, sizeof(why)), rows[i].want);
		assert_string_equal(why, rows[i].want_why);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_loopback),
		cmocka_unit_test(test_is_loopback_other_families),
		cmocka_unit_test(test_loopback_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
