/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A control socket client's exchange apart from I/O (ctlsock_conn): the
 * request line in any pieces, the answer out in any pieces, answers given
 * later, the limits; and a descriptor handed over a socket pair. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/ctlsock.h"

static int calls;

/* Echoes the request inside a JSON object; "null" makes no answer. */
static char *echo(void *ctx, const char *request)
{
	char *out;

	(void)ctx;
	calls++;
	if (strcmp(request, "null") == 0)
		return NULL;
	out = malloc(strlen(request) + 16);
	sprintf(out, "{\"got\":\"%s\"}", request);
	return out;
}

static void test_feed(void **state)
{
	static const struct { const char *name; const char *pieces[4]; int want_rc; const char *want_answer; } rows[] = {
		{ "one piece", { "status\n" }, 1, "{\"got\":\"status\"}\n" },
		{ "byte by byte", { "s", "t", "a", "t\n" }, 1, "{\"got\":\"stat\"}\n" },
		{ "newline alone last", { "ports", "\n" }, 1, "{\"got\":\"ports\"}\n" },
		{ "bytes after the newline ignored", { "a\nb\n" }, 1, "{\"got\":\"a\"}\n" },
		{ "no newline yet", { "status" }, 0, NULL },
		{ "empty line", { "\n" }, 1, "{\"got\":\"\"}\n" },
		{ "no answer", { "null\n" }, 1, "" },
	};
	size_t i, j, len;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct ctlsock_conn c;
		const char *p;
		int rc = 0;

		print_message("feed: %s\n", rows[i].name);
		calls = 0;
		ctlsock_conn_init(&c, 1000);
		assert_int_equal(c.deadline_ms, 1000 + CTLSOCK_DEADLINE_MS);
		for (j = 0; j < 4 && rows[i].pieces[j]; j++)
			rc = ctlsock_conn_feed(&c, 0, rows[i].pieces[j], strlen(rows[i].pieces[j]), echo, NULL);
		assert_int_equal(rc, rows[i].want_rc);
		p = ctlsock_conn_pending(&c, &len);
		if (!rows[i].want_answer) {
			assert_null(p);
			assert_int_equal(len, 0);
			assert_int_equal(calls, 0);
		} else {
			assert_non_null(p);
			assert_int_equal(len, strlen(rows[i].want_answer));
			assert_memory_equal(p, rows[i].want_answer, len);
			assert_int_equal(calls, 1);
			/* answered once: more bytes change nothing */
			assert_int_equal(ctlsock_conn_feed(&c, 0, "x\n", 2, echo, NULL), 1);
			assert_int_equal(calls, 1);
		}
		ctlsock_conn_free(&c);
	}
}

static void test_sent_in_pieces(void **state)
{
	struct ctlsock_conn c;
	const char *p;
	size_t len;

	(void)state;
	ctlsock_conn_init(&c, 0);
	assert_int_equal(ctlsock_conn_feed(&c, 0, "abc\n", 4, echo, NULL), 1);
	p = ctlsock_conn_pending(&c, &len);
	assert_int_equal(len, 14);
	assert_int_equal(ctlsock_conn_sent(&c, 5), 0);
	p = ctlsock_conn_pending(&c, &len);
	assert_int_equal(len, 9);
	assert_memory_equal(p, "\":\"abc\"}\n", 9);
	assert_int_equal(ctlsock_conn_sent(&c, 9), 1);
	ctlsock_conn_pending(&c, &len);
	assert_int_equal(len, 0);
	ctlsock_conn_free(&c);
}

static void test_limits(void **state)
{
	struct ctlsock_conn c;
	char *big = malloc(CTLSOCK_MAX_LINE);
	size_t len;

	(void)state;
	/* the longest line ctlsock_call could read back: CTLSOCK_MAX_LINE - 2 and a newline */
	memset(big, 'x', CTLSOCK_MAX_LINE);
	big[CTLSOCK_MAX_LINE - 2] = '\n';
	ctlsock_conn_init(&c, 0);
	assert_int_equal(ctlsock_conn_feed(&c, 0, big, 1000, echo, NULL), 0);
	assert_int_equal(ctlsock_conn_feed(&c, 0, big + 1000, CTLSOCK_MAX_LINE - 1 - 1000, echo, NULL), 1);
	ctlsock_conn_pending(&c, &len);
	assert_int_equal(len, CTLSOCK_MAX_LINE - 2 + 11);
	ctlsock_conn_free(&c);
	/* one byte more is refused, newline or not */
	big[CTLSOCK_MAX_LINE - 2] = 'x';
	ctlsock_conn_init(&c, 0);
	assert_usbws_err(ctlsock_conn_feed(&c, 0, big, CTLSOCK_MAX_LINE - 1, echo, NULL), USBWS_ERR_NOSPACE);
	ctlsock_conn_free(&c);
	big[CTLSOCK_MAX_LINE - 1] = '\n';
	ctlsock_conn_init(&c, 0);
	assert_usbws_err(ctlsock_conn_feed(&c, 0, big, CTLSOCK_MAX_LINE, echo, NULL), USBWS_ERR_NOSPACE);
	ctlsock_conn_free(&c);
	/* the deadline: for the request, then again from the answer on */
	ctlsock_conn_init(&c, 5000);
	assert_false(ctlsock_conn_expired(&c, 5000 + CTLSOCK_DEADLINE_MS - 1));
	assert_true(ctlsock_conn_expired(&c, 5000 + CTLSOCK_DEADLINE_MS));
	assert_int_equal(ctlsock_conn_feed(&c, 9000, "late\n", 5, echo, NULL), 1);
	assert_false(ctlsock_conn_expired(&c, 9000 + CTLSOCK_DEADLINE_MS - 1));
	assert_true(ctlsock_conn_expired(&c, 9000 + CTLSOCK_DEADLINE_MS));
	ctlsock_conn_free(&c);
	free(big);
}

/* An answer made later than the request, and a second line after it,
 * each behind what is still unsent. */
static void test_later_answers(void **state)
{
	struct ctlsock_conn c;
	const char *p;
	size_t len;

	(void)state;
	ctlsock_conn_init(&c, 0);
	assert_usbws_err(ctlsock_conn_answer(&c, "early"), USBWS_ERR_INVAL);
	assert_int_equal(ctlsock_conn_feed(&c, 0, "null\n", 5, echo, NULL), 1);
	ctlsock_conn_pending(&c, &len);
	assert_int_equal(len, 0);
	assert_usbws_err(ctlsock_conn_answer(&c, "{\"ok\":true}"), USBWS_OK);
	p = ctlsock_conn_pending(&c, &len);
	assert_int_equal(len, 12);
	assert_memory_equal(p, "{\"ok\":true}\n", 12);
	assert_int_equal(ctlsock_conn_sent(&c, 4), 0);
	assert_usbws_err(ctlsock_conn_answer(&c, "{\"end\":1}"), USBWS_OK);
	p = ctlsock_conn_pending(&c, &len);
	assert_int_equal(len, 8 + 10);
	assert_memory_equal(p, "\":true}\n{\"end\":1}\n", 18);
	assert_int_equal(ctlsock_conn_sent(&c, 18), 1);
	ctlsock_conn_free(&c);
}

/* A pipe's read end, handed over with "hello", reads what its write end
 * writes; bytes without one give none. */
static void test_fd_passing(void **state)
{
	int sv[2], p[2], got = -2, n;
	char buf[16];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(ctlsock_send_fd(sv[0], "hello", 5, p[0]), 5);
	close(p[0]);
	n = ctlsock_recv_fd(sv[1], buf, sizeof(buf), &got);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_true(got >= 0);
	assert_int_equal(write(p[1], "pcap", 4), 4);
	assert_int_equal(read(got, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "pcap", 4);
	close(got);
	close(p[1]);
	/* plain bytes: no descriptor */
	assert_int_equal(write(sv[0], "x", 1), 1);
	assert_int_equal(ctlsock_recv_fd(sv[1], buf, sizeof(buf), &got), 1);
	assert_int_equal(got, -1);
	/* the end of the stream */
	close(sv[0]);
	assert_int_equal(ctlsock_recv_fd(sv[1], buf, sizeof(buf), &got), 0);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_feed),       cmocka_unit_test(test_sent_in_pieces),
		cmocka_unit_test(test_limits),     cmocka_unit_test(test_later_answers),
		cmocka_unit_test(test_fd_passing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
