/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Admission of unauthenticated connections (proxy/admit.c). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "proxy/admit.h"
#include "testutil.h"
#include "base/usbws_err.h"

/* A socket address for text: "192.0.2.1" or "2001:db8::1". */
static socklen_t addr(const char *text, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(text, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &a->sin6_addr), 1);
		return sizeof(*a);
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;

	a->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, text, &a->sin_addr), 1);
	return sizeof(*a);
}

static int try(struct admit *a, const char *text, uint32_t random, int64_t now, struct admit_entry **e)
{
	struct sockaddr_storage ss;
	socklen_t len = addr(text, &ss);

	return admit_try(a, (struct sockaddr *)&ss, len, random, now, e);
}

/* Which addresses count as one source. */
static void test_sources(void **state)
{
	static const struct {
		const char *first, *second;
		int same;
	} rows[] = {
		{ "192.0.2.1", "192.0.2.1", 1 },
		{ "192.0.2.1", "192.0.2.2", 0 },
		/* one host owns a whole /64 */
		{ "2001:db8:1:2::1", "2001:db8:1:2:ffff::9", 1 },
		{ "2001:db8:1:2::1", "2001:db8:1:3::1", 0 },
		/* an IPv4 peer on a dual-stack socket is that IPv4 address */
		{ "::ffff:192.0.2.1", "192.0.2.1", 1 },
		{ "::ffff:192.0.2.1", "::ffff:192.0.2.2", 0 },
	};
	struct admit_policy policy = { .per_source = 1, .start = 100, .rate = 30, .full = 100, .timeout_ms = 1000 };

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct admit *a = admit_new(&policy);
		struct admit_entry *e1, *e2;

		assert_usbws_err(try(a, rows[i].first, 0, 0, &e1), 0);
		assert_usbws_err(try(a, rows[i].second, 0, 0, &e2), rows[i].same ? USBWS_ERR_ADMIT_SOURCE : 0);
		assert_int_equal(admit_count(a), rows[i].same ? 1 : 2);
		/* a settled entry leaves its source's cap */
		admit_settle(a, e1);
		if (rows[i].same)
			assert_usbws_err(try(a, rows[i].second, 0, 0, &e2), 0);
		assert_int_equal(admit_count(a), 2);
		admit_done(a, e1);
		admit_done(a, e2);
		assert_int_equal(admit_count(a), 0);
		admit_free(a);
	}
}

/* Per source, then random early drop from start, then nothing past full;
 * a finished entry makes room again. */
static void test_caps_and_early_drop(void **state)
{
	struct admit_policy policy = { .per_source = 3, .start = 4, .rate = 50, .full = 6, .timeout_ms = 1000 };
	struct admit *a = admit_new(&policy);
	struct admit_entry *e[8], *x;

	(void)state;
	assert_usbws_err(try(a, "192.0.2.1", 0, 0, &e[0]), 0);
	assert_usbws_err(try(a, "192.0.2.1", 0, 0, &e[1]), 0);
	assert_usbws_err(try(a, "192.0.2.1", 0, 0, &e[2]), 0);
	assert_usbws_err(try(a, "192.0.2.1", 0, 0, &x), USBWS_ERR_ADMIT_SOURCE);
	assert_null(x);
	assert_usbws_err(try(a, "192.0.2.2", 99, 0, &e[3]), 0);
	/* 4 in: past start, 50 % dropped; random % 100 below 50 is a drop */
	assert_usbws_err(try(a, "192.0.2.3", 49, 0, &x), USBWS_ERR_ADMIT_DROPPED);
	assert_usbws_err(try(a, "192.0.2.3", 50, 0, &e[4]), 0);
	/* 5 in: halfway from start to full, 75 % */
	assert_usbws_err(try(a, "192.0.2.4", 74, 0, &x), USBWS_ERR_ADMIT_DROPPED);
	assert_usbws_err(try(a, "192.0.2.4", 75, 0, &e[5]), 0);
	assert_usbws_err(try(a, "192.0.2.5", 99, 0, &x), USBWS_ERR_ADMIT_FULL);
	assert_int_equal(admit_count(a), 6);
	assert_int_equal(admit_source_count(a, NULL, 0), 0);
	/* a settled entry still counts in all; a done one does not */
	admit_settle(a, e[0]);
	assert_usbws_err(try(a, "192.0.2.1", 99, 0, &x), USBWS_ERR_ADMIT_FULL);
	assert_int_equal(admit_source_count(a, NULL, 0), 0);
	admit_done(a, e[0]);
	admit_done(a, e[3]);
	assert_int_equal(admit_count(a), 4);
	assert_usbws_err(try(a, "192.0.2.1", 99, 0, &e[0]), 0);
	for (int i = 0; i < 6; i++)
		if (i != 3)
			admit_done(a, e[i]);
	assert_int_equal(admit_count(a), 0);
	admit_free(a);
}

/* Each group (a service thread of the proxy) is handed its own expired
 * entries, oldest first, past another group's that wait at the front. */
static void test_expiry_by_group(void **state)
{
	struct admit_policy policy = { .per_source = 10, .start = 10, .full = 10, .timeout_ms = 1000 };
	struct admit *a = admit_new(&policy);
	struct admit_entry *e[3];

	(void)state;
	assert_usbws_err(try(a, "192.0.2.1", 0, 0, &e[0]), 0);
	assert_usbws_err(try(a, "192.0.2.1", 0, 100, &e[1]), 0);
	assert_usbws_err(try(a, "192.0.2.1", 0, 200, &e[2]), 0);
	e[0]->group = 1;
	e[2]->group = 1;
	assert_null(admit_expired(a, 999, 1));
	assert_null(admit_expired(a, 1050, 0));
	assert_ptr_equal(admit_expired(a, 1100, 0), e[1]);
	assert_ptr_equal(admit_expired(a, 1100, 1), e[0]);
	assert_null(admit_expired(a, 1100, 1));
	assert_ptr_equal(admit_expired(a, 1200, 1), e[2]);
	assert_null(admit_expired(a, 5000, 0));
	assert_null(admit_expired(a, 5000, 1));
	for (int i = 0; i < 3; i++)
		admit_done(a, e[i]);
	admit_free(a);
}

/* Deadlines come oldest first, each once; settled entries have none. */
static void test_expiry_in_arrival_order(void **state)
{
	struct admit_policy policy = { .per_source = 10, .start = 10, .full = 10, .timeout_ms = 1000 };
	struct admit *a = admit_new(&policy);
	struct admit_entry *e[3];

	(void)state;
	assert_usbws_err(try(a, "192.0.2.1", 0, 0, &e[0]), 0);
	assert_usbws_err(try(a, "192.0.2.1", 0, 100, &e[1]), 0);
	assert_usbws_err(try(a, "192.0.2.1", 0, 200, &e[2]), 0);
	admit_settle(a, e[1]);
	assert_null(admit_expired(a, 999, 0));
	assert_ptr_equal(admit_expired(a, 1000, 0), e[0]);
	assert_null(admit_expired(a, 1100, 0));
	assert_ptr_equal(admit_expired(a, 1200, 0), e[2]);
	assert_null(admit_expired(a, 5000, 0));
	/* expired entries still count until their connection is gone */
	assert_int_equal(admit_count(a), 3);
	for (int i = 0; i < 3; i++)
		admit_done(a, e[i]);
	assert_int_equal(admit_count(a), 0);
	admit_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sources),
		cmocka_unit_test(test_caps_and_early_drop),
		cmocka_unit_test(test_expiry_in_arrival_order),
		cmocka_unit_test(test_expiry_by_group),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
