/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The node's link state machine (usbws/link.c), on a fake clock.  Areas:
 * transitions (one row per state and event that matters), backoff, the
 * backoff's reset, the stop conditions, and resuming versus exporting
 * afresh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "usbws/link.h"

#define T0 1000000   /* any time will do; not 0, which a clock never reads */
#define SESSION "00112233445566778899aabbccddeeff"
#define RESUME_SECONDS 60
/* lost links come back scattered: rnd picks where in the second */
#define SCATTER_RND 500

static const struct link_policy policy = {
	.backoff_first_ms = 1000, .backoff_max_ms = 30000, .backoff_reset_ms = 10000, .scatter_ms = 1000,
	.retries = 0,
};

/* --- transitions */

enum given {
	G_START,            /* link_init: waiting, due at once */
	G_WAITING,          /* lost a link that had no session; due at T0 + SCATTER_RND */
	G_WAITING_SESSION,  /* lost a link whose session the proxy keeps; same retry time */
	G_UP_FRESH,         /* connected, exporting afresh, not welcomed yet */
	G_UP_SESSION,       /* welcomed, with a session */
	G_RESUMING,         /* reconnected with a session, the proxy not answered yet */
	G_STOPPED,          /* gave up: the connection would be refused again */
};

enum event {
	E_EARLY,            /* link_due before retry_at */
	E_DUE,              /* link_due at retry_at */
	E_EXPIRED,          /* link_due at the resume time; the device can be exported again */
	E_EXPIRED_STUCK,    /* link_due at the resume time; the device cannot */
	E_CONNECTED,
	E_CONNECT_FAILED,
	E_CONNECT_REFUSED,  /* failed, and would fail again */
	E_WELCOME,          /* with a session */
	E_RESUMED,
	E_LOST,
	E_START_FAILED,
	E_RESUME_REFUSED,
	E_EXPORT_REFUSED,
};

static void given(struct link *l, enum given g, int stopping)
{
	link_init(l, &policy, T0);
	switch (g) {
	case G_START:
		break;
	case G_STOPPED:
		assert_int_equal(link_connect_failed(l, T0, 0, 1), LINK_STOP);
		break;
	case G_WAITING:
		assert_int_equal(link_connected(l, T0), LINK_EXPORT);
		assert_int_equal(link_lost(l, T0, SCATTER_RND), LINK_RECONNECT);
		break;
	case G_UP_FRESH:
		assert_int_equal(link_connected(l, T0), LINK_EXPORT);
		break;
	case G_UP_SESSION:
	case G_WAITING_SESSION:
	case G_RESUMING:
		assert_int_equal(link_connected(l, T0), LINK_EXPORT);
		link_welcome(l, T0, SESSION, RESUME_SECONDS);
		if (g == G_UP_SESSION)
			break;
		assert_int_equal(link_lost(l, T0, SCATTER_RND), LINK_RECONNECT);
		if (g == G_RESUMING)
			assert_int_equal(link_connected(l, T0 + SCATTER_RND), LINK_RESUME);
		break;
	}
	if (stopping)
		link_request_stop(l);
}

static enum link_action happen(struct link *l, enum event e)
{
	int64_t due = T0 + SCATTER_RND, expiry = T0 + RESUME_SECONDS * 1000;

	switch (e) {
	case E_EARLY: return link_due(l, due - 1, 1);
	case E_DUE: return link_due(l, due, 1);
	case E_EXPIRED: return link_due(l, expiry, 1);
	case E_EXPIRED_STUCK: return link_due(l, expiry, 0);
	case E_CONNECTED: return link_connected(l, due);
	case E_CONNECT_FAILED: return link_connect_failed(l, due, 0, 0);
	case E_CONNECT_REFUSED: return link_connect_failed(l, due, 0, 1);
	case E_WELCOME: link_welcome(l, due, SESSION, RESUME_SECONDS); return LINK_NOTHING;
	case E_RESUMED: link_resumed(l, due); return LINK_NOTHING;
	case E_LOST: return link_lost(l, due, 0);
	case E_START_FAILED: return link_start_failed(l, due, 0);
	case E_RESUME_REFUSED: return link_resume_refused(l, due);
	case E_EXPORT_REFUSED: return link_export_refused(l, due, 0);
	}
	fail();
	return LINK_NOTHING;
}

static void test_transitions(void **state)
{
	static const struct {
		const char *name;
		enum given given;
		int stopping;
		enum event event;
		enum link_state state;
		enum link_action action;
		enum link_stop_reason reason;
		int session;
	} rows[] = {
		{ "start: the first attempt is due at once", G_START, 0, E_DUE, LINK_WAITING, LINK_CONNECT, 0, 0 },
		{ "start: connected, no session: export", G_START, 0, E_CONNECTED, LINK_UP, LINK_EXPORT, 0, 0 },
		{ "start: connecting failed: retry", G_START, 0, E_CONNECT_FAILED, LINK_WAITING, LINK_RETRY, 0, 0 },
		{ "start: refused for good: stop", G_START, 0, E_CONNECT_REFUSED, LINK_STOPPED, LINK_STOP,
		  LINK_STOP_REFUSED, 0 },
		{ "start: no link to lose", G_START, 0, E_LOST, LINK_WAITING, LINK_NOTHING, 0, 0 },
		{ "start: no resume to refuse", G_START, 0, E_RESUME_REFUSED, LINK_WAITING, LINK_NOTHING, 0, 0 },
		{ "start: no export to refuse", G_START, 0, E_EXPORT_REFUSED, LINK_WAITING, LINK_NOTHING, 0, 0 },
		{ "start: no resume to confirm", G_START, 0, E_RESUMED, LINK_WAITING, LINK_NOTHING, 0, 0 },
		{ "start, stopping: due means stop", G_START, 1, E_DUE, LINK_STOPPED, LINK_STOP, LINK_STOP_REQUESTED, 0 },
		{ "start, stopping: a failed connect stops", G_START, 1, E_CONNECT_FAILED, LINK_STOPPED, LINK_STOP,
		  LINK_STOP_REQUESTED, 0 },
		{ "start, stopping: refused for good is a failure", G_START, 1, E_CONNECT_REFUSED, LINK_STOPPED,
		  LINK_STOP, LINK_STOP_REFUSED, 0 },
		/* the node unexports on it, then stops */
		{ "start, stopping: a connection still exports", G_START, 1, E_CONNECTED, LINK_UP, LINK_EXPORT, 0, 0 },

		{ "waiting: not yet due", G_WAITING, 0, E_EARLY, LINK_WAITING, LINK_NOTHING, 0, 0 },
		{ "waiting: due", G_WAITING, 0, E_DUE, LINK_WAITING, LINK_CONNECT, 0, 0 },
		{ "waiting: no session to expire", G_WAITING, 0, E_EXPIRED, LINK_WAITING, LINK_CONNECT, 0, 0 },
		{ "waiting: connected, no session: export", G_WAITING, 0, E_CONNECTED, LINK_UP, LINK_EXPORT, 0, 0 },
		{ "waiting: connecting failed: retry", G_WAITING, 0, E_CONNECT_FAILED, LINK_WAITING, LINK_RETRY, 0, 0 },
		{ "waiting, stopping: stop before it is due", G_WAITING, 1, E_EARLY, LINK_STOPPED, LINK_STOP,
		  LINK_STOP_REQUESTED, 0 },

		{ "session waiting: not yet due", G_WAITING_SESSION, 0, E_EARLY, LINK_WAITING, LINK_NOTHING, 0, 1 },
		{ "session waiting: due", G_WAITING_SESSION, 0, E_DUE, LINK_WAITING, LINK_CONNECT, 0, 1 },
		{ "session waiting: connected: resume", G_WAITING_SESSION, 0, E_CONNECTED, LINK_RESUMING, LINK_RESUME,
		  0, 1 },
		{ "session waiting: connecting failed keeps the session", G_WAITING_SESSION, 0, E_CONNECT_FAILED,
		  LINK_WAITING, LINK_RETRY, 0, 1 },
		{ "session waiting: expired: release", G_WAITING_SESSION, 0, E_EXPIRED, LINK_WAITING, LINK_RELEASE, 0,
		  0 },
		{ "session waiting: expired, device not retakable: stop", G_WAITING_SESSION, 0, E_EXPIRED_STUCK,
		  LINK_STOPPED, LINK_STOP, LINK_STOP_EXPIRED, 0 },
		{ "session waiting, stopping: the stop comes first", G_WAITING_SESSION, 1, E_EXPIRED, LINK_STOPPED,
		  LINK_STOP, LINK_STOP_REQUESTED, 1 },

		{ "up: welcome brings the session", G_UP_FRESH, 0, E_WELCOME, LINK_UP, LINK_NOTHING, 0, 1 },
		{ "up: lost: reconnect", G_UP_FRESH, 0, E_LOST, LINK_WAITING, LINK_RECONNECT, 0, 0 },
		{ "up: the export could not start: retry", G_UP_FRESH, 0, E_START_FAILED, LINK_WAITING, LINK_RETRY, 0,
		  0 },
		{ "up: export refused for now: retry", G_UP_FRESH, 0, E_EXPORT_REFUSED, LINK_WAITING, LINK_RETRY, 0, 0 },
		{ "up: no resume to refuse", G_UP_FRESH, 0, E_RESUME_REFUSED, LINK_UP, LINK_NOTHING, 0, 0 },
		{ "up: no resume to confirm", G_UP_FRESH, 0, E_RESUMED, LINK_UP, LINK_NOTHING, 0, 0 },
		{ "up: nothing is due", G_UP_FRESH, 0, E_DUE, LINK_UP, LINK_NOTHING, 0, 0 },
		{ "up: already connected", G_UP_FRESH, 0, E_CONNECTED, LINK_UP, LINK_NOTHING, 0, 0 },
		{ "up: already connected, cannot fail to", G_UP_FRESH, 0, E_CONNECT_FAILED, LINK_UP, LINK_NOTHING, 0,
		  0 },
		{ "up, stopping: lost ends it", G_UP_FRESH, 1, E_LOST, LINK_STOPPED, LINK_STOP, LINK_STOP_REQUESTED, 0 },
		{ "up, stopping: a refusal ends it", G_UP_FRESH, 1, E_EXPORT_REFUSED, LINK_STOPPED, LINK_STOP,
		  LINK_STOP_REQUESTED, 0 },
		{ "up, stopping: so does a failed start", G_UP_FRESH, 1, E_START_FAILED, LINK_STOPPED, LINK_STOP,
		  LINK_STOP_REQUESTED, 0 },

		{ "up with a session: lost keeps it", G_UP_SESSION, 0, E_LOST, LINK_WAITING, LINK_RECONNECT, 0, 1 },
		{ "up with a session: a failed start keeps it", G_UP_SESSION, 0, E_START_FAILED, LINK_WAITING,
		  LINK_RETRY, 0, 1 },
		{ "up with a session: refused drops it", G_UP_SESSION, 0, E_EXPORT_REFUSED, LINK_WAITING, LINK_RETRY, 0,
		  0 },

		{ "resuming: resumed", G_RESUMING, 0, E_RESUMED, LINK_UP, LINK_NOTHING, 0, 1 },
		{ "resuming: no session: afresh, at once", G_RESUMING, 0, E_RESUME_REFUSED, LINK_WAITING,
		  LINK_RECONNECT, 0, 0 },
		{ "resuming: lost keeps the session", G_RESUMING, 0, E_LOST, LINK_WAITING, LINK_RECONNECT, 0, 1 },
		{ "resuming: the hello could not go: retry", G_RESUMING, 0, E_START_FAILED, LINK_WAITING, LINK_RETRY, 0,
		  1 },
		{ "resuming: refused for now drops the session", G_RESUMING, 0, E_EXPORT_REFUSED, LINK_WAITING,
		  LINK_RETRY, 0, 0 },
		{ "resuming: nothing is due", G_RESUMING, 0, E_EXPIRED, LINK_RESUMING, LINK_NOTHING, 0, 1 },
		{ "resuming, stopping: no session ends it", G_RESUMING, 1, E_RESUME_REFUSED, LINK_STOPPED, LINK_STOP,
		  LINK_STOP_REQUESTED, 0 },
		{ "resuming, stopping: lost ends it", G_RESUMING, 1, E_LOST, LINK_STOPPED, LINK_STOP,
		  LINK_STOP_REQUESTED, 1 },

		{ "stopped: nothing is due", G_STOPPED, 0, E_DUE, LINK_STOPPED, LINK_NOTHING, LINK_STOP_REFUSED, 0 },
		{ "stopped: no connection", G_STOPPED, 0, E_CONNECTED, LINK_STOPPED, LINK_NOTHING, LINK_STOP_REFUSED,
		  0 },
		{ "stopped: no attempt", G_STOPPED, 0, E_CONNECT_FAILED, LINK_STOPPED, LINK_NOTHING, LINK_STOP_REFUSED,
		  0 },
		{ "stopped: no link", G_STOPPED, 0, E_LOST, LINK_STOPPED, LINK_NOTHING, LINK_STOP_REFUSED, 0 },
	};
	struct link l;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum link_action act;

		given(&l, rows[i].given, rows[i].stopping);
		act = happen(&l, rows[i].event);
		if (act != rows[i].action || l.state != rows[i].state || l.stop_reason != rows[i].reason ||
		    link_has_session(&l) != rows[i].session)
			fail_msg("%s: action %d state %d reason %d session %d; want %d %d %d %d", rows[i].name, act,
				 l.state, l.stop_reason, link_has_session(&l), rows[i].action, rows[i].state,
				 rows[i].reason, rows[i].session);
	}
}

/* No session, and the proxy keeps the connection ("fresh"): only a link
 * resuming takes it, and exports on that connection.  Each row: from a
 * given state, link_resume_refused_fresh, and what it leads to. */
static void test_transitions_fresh(void **state)
{
	static const struct {
		const char *name;
		enum given given;
		int stopping;
		enum link_state state;
		enum link_action action;
		enum link_stop_reason reason;
		int session;
	} rows[] = {
		{ "resuming: export on the kept connection", G_RESUMING, 0, LINK_UP, LINK_EXPORT, 0, 0 },
		{ "resuming, stopping: it ends", G_RESUMING, 1, LINK_STOPPED, LINK_STOP, LINK_STOP_REQUESTED, 0 },
		{ "start: no connection to export on", G_START, 0, LINK_WAITING, LINK_NOTHING, 0, 0 },
		{ "session waiting: no connection either", G_WAITING_SESSION, 0, LINK_WAITING, LINK_NOTHING, 0, 1 },
		{ "up: no resume to refuse", G_UP_FRESH, 0, LINK_UP, LINK_NOTHING, 0, 0 },
		{ "up with a session: a stray no-session keeps it", G_UP_SESSION, 0, LINK_UP, LINK_NOTHING, 0, 1 },
		{ "stopped: no resume", G_STOPPED, 0, LINK_STOPPED, LINK_NOTHING, LINK_STOP_REFUSED, 0 },
	};
	struct link l;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum link_action act;

		given(&l, rows[i].given, rows[i].stopping);
		act = link_resume_refused_fresh(&l, T0 + SCATTER_RND);
		if (act != rows[i].action || l.state != rows[i].state || l.stop_reason != rows[i].reason ||
		    link_has_session(&l) != rows[i].session)
			fail_msg("%s: action %d state %d reason %d session %d; want %d %d %d %d", rows[i].name,
				 act, l.state, l.stop_reason, link_has_session(&l), rows[i].action, rows[i].state,
				 rows[i].reason, rows[i].session);
	}
}

/* When the next attempt comes after a lost link or a refused resume. */
static void test_retry_times(void **state)
{
	struct link l;

	(void)state;
	/* a lost link: within the scatter, spread by rnd */
	given(&l, G_UP_FRESH, 0);
	assert_int_equal(link_lost(&l, T0 + 5000, 0), LINK_RECONNECT);
	assert_int_equal(l.retry_at, T0 + 5000);
	given(&l, G_UP_FRESH, 0);
	assert_int_equal(link_lost(&l, T0 + 5000, 999), LINK_RECONNECT);
	assert_int_equal(l.retry_at, T0 + 5999);
	given(&l, G_UP_FRESH, 0);
	assert_int_equal(link_lost(&l, T0 + 5000, 1000), LINK_RECONNECT);
	assert_int_equal(l.retry_at, T0 + 5000);
	/* losing a link is no failed attempt */
	assert_int_equal(l.attempts, 0);
	/* the proxy has no session: a fresh export at once */
	given(&l, G_RESUMING, 0);
	assert_int_equal(link_resume_refused(&l, T0 + 7000), LINK_RECONNECT);
	assert_int_equal(l.retry_at, T0 + 7000);
	assert_int_equal(l.attempts, 0);
	assert_int_equal(link_due(&l, T0 + 7000, 1), LINK_CONNECT);
}

/* --- backoff */

static void test_backoff_growth_and_cap(void **state)
{
	static const struct {
		unsigned int attempts;
		uint32_t rnd;
		int64_t want;
	} rows[] = {
		/* full jitter: rnd picks a point in [step / 2, step] */
		{ 1, 0, 500 }, { 1, 500, 1000 }, { 1, 501, 500 }, { 1, 250, 750 },
		{ 2, 0, 1000 }, { 2, 1000, 2000 },
		{ 3, 0, 2000 }, { 3, 2000, 4000 },
		{ 4, 0, 4000 }, { 4, 4000, 8000 },
		{ 5, 0, 8000 }, { 5, 8000, 16000 },
		/* 32 s is past the cap */
		{ 6, 0, 15000 }, { 6, 15000, 30000 }, { 6, 15001, 15000 },
		{ 7, 15000, 30000 }, { 40, 15000, 30000 }, { UINT32_MAX, 0, 15000 }, { UINT32_MAX, 15000, 30000 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (link_backoff_ms(&policy, rows[i].attempts, rows[i].rnd) != rows[i].want)
			fail_msg("attempt %u, rnd %u: %lld ms, want %lld", rows[i].attempts, (unsigned int)rows[i].rnd,
				 (long long)link_backoff_ms(&policy, rows[i].attempts, rows[i].rnd),
				 (long long)rows[i].want);
}

/* A cap that is not a power of two times the first wait, and one at it. */
static void test_backoff_odd_caps(void **state)
{
	struct link_policy p = policy;

	(void)state;
	p.backoff_max_ms = 5000;
	assert_int_equal(link_backoff_ms(&p, 3, 2000), 4000);
	assert_int_equal(link_backoff_ms(&p, 4, 2500), 5000);
	assert_int_equal(link_backoff_ms(&p, 4, 0), 2500);
	p.backoff_max_ms = 1000;
	assert_int_equal(link_backoff_ms(&p, 1, 500), 1000);
	assert_int_equal(link_backoff_ms(&p, 9, 500), 1000);
}

/* Failed attempts in a row wait longer each time, up to the cap. */
static void test_backoff_through_failures(void **state)
{
	static const int64_t step[] = { 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000 };
	struct link l;
	int64_t now = T0;
	size_t i;

	(void)state;
	link_init(&l, &policy, now);
	for (i = 0; i < sizeof(step) / sizeof(step[0]); i++) {
		assert_int_equal(link_due(&l, now, 1), LINK_CONNECT);
		/* the longest wait the step allows */
		assert_int_equal(link_connect_failed(&l, now, (uint32_t)(step[i] / 2), 0), LINK_RETRY);
		assert_int_equal(l.attempts, i + 1);
		assert_int_equal(l.retry_at - now, step[i]);
		assert_int_equal(link_due(&l, l.retry_at - 1, 1), LINK_NOTHING);
		now = l.retry_at;
	}
	/* a connection that fails to start counts too */
	assert_int_equal(link_connected(&l, now), LINK_EXPORT);
	assert_int_equal(link_start_failed(&l, now, 15000), LINK_RETRY);
	assert_int_equal(l.attempts, i + 1);
	assert_int_equal(l.retry_at - now, 30000);
}

/* --- the backoff starts over after a link that lasted */

static void fail_three_times(struct link *l)
{
	link_init(l, &policy, T0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(link_connect_failed(l, T0, 0, 0), LINK_RETRY);
	assert_int_equal(l->attempts, 3);
}

static void test_backoff_reset_after_10s_up(void **state)
{
	struct link l;

	(void)state;
	fail_three_times(&l);
	assert_int_equal(link_connected(&l, T0), LINK_EXPORT);
	link_tick(&l, T0 + 9999);
	assert_int_equal(l.attempts, 3);
	link_tick(&l, T0 + 10000);
	assert_int_equal(l.attempts, 0);
	/* the next failure starts from the first step again */
	assert_int_equal(link_lost(&l, T0 + 10000, 0), LINK_RECONNECT);
	assert_int_equal(link_connect_failed(&l, T0 + 11000, 500, 0), LINK_RETRY);
	assert_int_equal(l.attempts, 1);
	assert_int_equal(l.retry_at, T0 + 12000);
}

/* The welcome is when the export was confirmed: ten seconds from it. */
static void test_backoff_reset_counts_from_welcome(void **state)
{
	struct link l;

	(void)state;
	fail_three_times(&l);
	assert_int_equal(link_connected(&l, T0), LINK_EXPORT);
	link_welcome(&l, T0 + 4000, SESSION, RESUME_SECONDS);
	link_tick(&l, T0 + 13999);
	assert_int_equal(l.attempts, 3);
	link_tick(&l, T0 + 14000);
	assert_int_equal(l.attempts, 0);
}

/* A link the proxy drops before ten seconds keeps backing off. */
static void test_backoff_kept_when_dropped_early(void **state)
{
	struct link l;

	(void)state;
	fail_three_times(&l);
	assert_int_equal(link_connected(&l, T0), LINK_EXPORT);
	link_tick(&l, T0 + 9000);
	assert_int_equal(link_export_refused(&l, T0 + 9500, 0), LINK_RETRY);
	assert_int_equal(l.attempts, 4);
	/* and the clock does not run while down */
	link_tick(&l, T0 + 60000);
	assert_int_equal(l.attempts, 4);
}

/* Resuming is no success until the proxy says so: ten seconds from then. */
static void test_backoff_reset_waits_for_resumed(void **state)
{
	struct link l;

	(void)state;
	given(&l, G_WAITING_SESSION, 0);
	assert_int_equal(link_connect_failed(&l, T0 + 1000, 0, 0), LINK_RETRY);
	assert_int_equal(link_connect_failed(&l, T0 + 2000, 0, 0), LINK_RETRY);
	assert_int_equal(link_connected(&l, T0 + 3000), LINK_RESUME);
	link_tick(&l, T0 + 20000);
	assert_int_equal(l.attempts, 2);
	link_resumed(&l, T0 + 20000);
	link_tick(&l, T0 + 29999);
	assert_int_equal(l.attempts, 2);
	link_tick(&l, T0 + 30000);
	assert_int_equal(l.attempts, 0);
}

/* --- stop conditions */

static void test_stop_retries_exhausted(void **state)
{
	struct link_policy p = policy;
	struct link l;

	(void)state;
	p.retries = 3;
	link_init(&l, &p, T0);
	assert_int_equal(link_connect_failed(&l, T0, 0, 0), LINK_RETRY);
	assert_int_equal(link_connect_failed(&l, T0, 0, 0), LINK_RETRY);
	assert_int_equal(link_connect_failed(&l, T0, 0, 0), LINK_STOP);
	assert_int_equal(l.state, LINK_STOPPED);
	assert_int_equal(l.stop_reason, LINK_STOP_RETRIES);
	assert_int_equal(l.attempts, 3);

	/* lost links are not failed attempts; refusals and failed starts are */
	link_init(&l, &p, T0);
	assert_int_equal(link_connect_failed(&l, T0, 0, 0), LINK_RETRY);
	assert_int_equal(link_connected(&l, T0), LINK_EXPORT);
	assert_int_equal(link_lost(&l, T0, 0), LINK_RECONNECT);
	assert_int_equal(link_connected(&l, T0), LINK_EXPORT);
	assert_int_equal(link_export_refused(&l, T0, 0), LINK_RETRY);
	assert_int_equal(link_connected(&l, T0), LINK_EXPORT);
	assert_int_equal(link_start_failed(&l, T0, 0), LINK_STOP);
	assert_int_equal(l.stop_reason, LINK_STOP_RETRIES);

	/* one retry: the first failure is the last */
	p.retries = 1;
	link_init(&l, &p, T0);
	assert_int_equal(link_connect_failed(&l, T0, 0, 0), LINK_STOP);
	assert_int_equal(l.stop_reason, LINK_STOP_RETRIES);

	/* 0: never gives up */
	link_init(&l, &policy, T0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(link_connect_failed(&l, T0, 0, 0), LINK_RETRY);
}

/* A link that lasted starts the count over. */
static void test_stop_retries_count_in_a_row(void **state)
{
	struct link_policy p = policy;
	struct link l;

	(void)state;
	p.retries = 2;
	link_init(&l, &p, T0);
	assert_int_equal(link_connect_failed(&l, T0, 0, 0), LINK_RETRY);
	assert_int_equal(link_connected(&l, T0 + 1000), LINK_EXPORT);
	link_tick(&l, T0 + 11000);
	assert_int_equal(link_lost(&l, T0 + 11000, 0), LINK_RECONNECT);
	assert_int_equal(link_connect_failed(&l, T0 + 12000, 0, 0), LINK_RETRY);
	assert_int_equal(link_connect_failed(&l, T0 + 13000, 0, 0), LINK_STOP);
}

static void test_stop_requested(void **state)
{
	struct link l;

	(void)state;
	/* while waiting: at the next round, due or not */
	given(&l, G_WAITING, 0);
	assert_int_equal(link_due(&l, T0, 1), LINK_NOTHING);
	link_request_stop(&l);
	assert_int_equal(link_due(&l, T0, 1), LINK_STOP);
	assert_int_equal(l.stop_reason, LINK_STOP_REQUESTED);
	/* while connected: the link stays for the unexport, and ends with it */
	given(&l, G_UP_SESSION, 0);
	link_request_stop(&l);
	assert_int_equal(l.state, LINK_UP);
	link_tick(&l, T0 + 1000);
	assert_int_equal(l.state, LINK_UP);
	assert_int_equal(link_lost(&l, T0 + 2000, 0), LINK_STOP);
	assert_int_equal(l.stop_reason, LINK_STOP_REQUESTED);
	assert_int_equal(link_due(&l, T0 + 3000, 1), LINK_NOTHING);
}

/* The proxy keeps a session resume_seconds after its link went, no longer. */
static void test_stop_resume_time_passed(void **state)
{
	struct link l;
	int64_t expiry = T0 + RESUME_SECONDS * 1000;

	(void)state;
	given(&l, G_WAITING_SESSION, 0);
	assert_int_equal(link_due(&l, expiry - 1, 0), LINK_CONNECT);
	assert_true(link_has_session(&l));
	assert_int_equal(link_due(&l, expiry, 0), LINK_STOP);
	assert_int_equal(l.stop_reason, LINK_STOP_EXPIRED);
	assert_false(link_has_session(&l));
	/* a device that can be taken again is released, and the link goes on */
	given(&l, G_WAITING_SESSION, 0);
	assert_int_equal(link_due(&l, expiry, 1), LINK_RELEASE);
	assert_int_equal(link_due(&l, expiry, 1), LINK_CONNECT);
	assert_int_equal(link_connected(&l, expiry), LINK_EXPORT);
	/* the time told by the welcome counts, not a default */
	given(&l, G_UP_FRESH, 0);
	link_welcome(&l, T0, SESSION, 5);
	assert_int_equal(link_lost(&l, T0 + 1000, 0), LINK_RECONNECT);
	assert_int_equal(link_due(&l, T0 + 5999, 1), LINK_CONNECT);
	assert_int_equal(link_due(&l, T0 + 6000, 1), LINK_RELEASE);
	assert_int_equal(l.resume_seconds, 5);
}

/* --- resume or export afresh */

static void test_resume_or_afresh(void **state)
{
	struct link l;

	(void)state;
	/* the first connection exports */
	link_init(&l, &policy, T0);
	assert_int_equal(link_connected(&l, T0), LINK_EXPORT);
	/* lost before the welcome: no session yet, so afresh */
	assert_int_equal(link_lost(&l, T0, 0), LINK_RECONNECT);
	assert_int_equal(link_connected(&l, T0 + 1000), LINK_EXPORT);
	/* a proxy that offers no session: afresh every time */
	link_welcome(&l, T0 + 1000, "", RESUME_SECONDS);
	assert_false(link_has_session(&l));
	assert_int_equal(link_lost(&l, T0 + 2000, 0), LINK_RECONNECT);
	assert_int_equal(link_connected(&l, T0 + 3000), LINK_EXPORT);
	/* one that does: resumed, as often as the link goes */
	link_welcome(&l, T0 + 3000, SESSION, RESUME_SECONDS);
	assert_string_equal(l.session, SESSION);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(link_lost(&l, T0 + 4000, 0), LINK_RECONNECT);
		assert_int_equal(link_connected(&l, T0 + 5000), LINK_RESUME);
		assert_int_equal(l.state, LINK_RESUMING);
		link_resumed(&l, T0 + 5000);
		assert_int_equal(l.state, LINK_UP);
	}
	assert_int_equal(l.resumes, 3);
	assert_int_equal(l.reconnects, 5);
	/* the proxy forgot it: afresh */
	assert_int_equal(link_lost(&l, T0 + 6000, 0), LINK_RECONNECT);
	assert_int_equal(link_connected(&l, T0 + 7000), LINK_RESUME);
	assert_int_equal(link_resume_refused(&l, T0 + 7000), LINK_RECONNECT);
	assert_int_equal(link_connected(&l, T0 + 7000), LINK_EXPORT);
	assert_int_equal(l.resumes, 3);
}

/* A proxy that keeps the connection after no-session: the export goes on
 * it, with no new connection, no wait and no failed attempt; the next
 * welcome's session is resumed as any other. */
static void test_resume_refused_fresh(void **state)
{
	struct link l;

	(void)state;
	given(&l, G_RESUMING, 0);
	assert_int_equal(l.reconnects, 1);
	assert_int_equal(link_resume_refused_fresh(&l, T0 + 7000), LINK_EXPORT);
	assert_int_equal(l.state, LINK_UP);
	assert_false(link_has_session(&l));
	assert_int_equal(l.reconnects, 1);
	assert_int_equal(l.attempts, 0);
	assert_int_equal(l.up_since, T0 + 7000);
	/* UP: no connection is due, nor a release of the session it had */
	assert_int_equal(link_due(&l, T0 + RESUME_SECONDS * 1000, 1), LINK_NOTHING);
	/* a second no-session on the same connection is no transition */
	assert_int_equal(link_resume_refused_fresh(&l, T0 + 7000), LINK_NOTHING);
	assert_int_equal(link_resume_refused(&l, T0 + 7000), LINK_NOTHING);
	assert_int_equal(l.state, LINK_UP);
	link_welcome(&l, T0 + 7100, SESSION, RESUME_SECONDS);
	assert_int_equal(link_lost(&l, T0 + 8000, 0), LINK_RECONNECT);
	assert_int_equal(link_connected(&l, T0 + 8000), LINK_RESUME);
	link_resumed(&l, T0 + 8000);
	assert_int_equal(l.resumes, 1);

	/* the backoff after earlier failures starts over ten seconds after the
	 * export on the kept connection, as after a welcome */
	given(&l, G_WAITING_SESSION, 0);
	assert_int_equal(link_connect_failed(&l, T0 + 1000, 0, 0), LINK_RETRY);
	assert_int_equal(link_connected(&l, T0 + 3000), LINK_RESUME);
	assert_int_equal(link_resume_refused_fresh(&l, T0 + 3000), LINK_EXPORT);
	link_tick(&l, T0 + 12999);
	assert_int_equal(l.attempts, 1);
	link_tick(&l, T0 + 13000);
	assert_int_equal(l.attempts, 0);
}

/* The resume time runs from when the session lost its link, through
 * reconnects that did not resume, until one does. */
static void test_resume_clock(void **state)
{
	struct link l;
	int64_t expiry = T0 + RESUME_SECONDS * 1000;

	(void)state;
	given(&l, G_WAITING_SESSION, 0);
	assert_int_equal(link_connected(&l, T0 + 10000), LINK_RESUME);
	assert_int_equal(link_lost(&l, T0 + 20000, 0), LINK_RECONNECT);
	assert_int_equal(link_connect_failed(&l, T0 + 30000, 0, 0), LINK_RETRY);
	assert_int_equal(link_due(&l, expiry - 1, 1), LINK_CONNECT);
	assert_int_equal(link_due(&l, expiry, 1), LINK_RELEASE);

	/* a resume starts it over */
	given(&l, G_RESUMING, 0);
	link_resumed(&l, T0 + 10000);
	assert_int_equal(link_lost(&l, T0 + 50000, 0), LINK_RECONNECT);
	assert_int_equal(link_due(&l, expiry + 10000, 1), LINK_CONNECT);
	assert_int_equal(link_due(&l, T0 + 50000 + RESUME_SECONDS * 1000, 1), LINK_RELEASE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* transitions */
		cmocka_unit_test(test_transitions),
		cmocka_unit_test(test_transitions_fresh),
		cmocka_unit_test(test_retry_times),
		/* backoff */
		cmocka_unit_test(test_backoff_growth_and_cap),
		cmocka_unit_test(test_backoff_odd_caps),
		cmocka_unit_test(test_backoff_through_failures),
		/* backoff reset */
		cmocka_unit_test(test_backoff_reset_after_10s_up),
		cmocka_unit_test(test_backoff_reset_counts_from_welcome),
		cmocka_unit_test(test_backoff_kept_when_dropped_early),
		cmocka_unit_test(test_backoff_reset_waits_for_resumed),
		/* stop conditions */
		cmocka_unit_test(test_stop_retries_exhausted),
		cmocka_unit_test(test_stop_retries_count_in_a_row),
		cmocka_unit_test(test_stop_requested),
		cmocka_unit_test(test_stop_resume_time_passed),
		/* resume or afresh */
		cmocka_unit_test(test_resume_or_afresh),
		cmocka_unit_test(test_resume_refused_fresh),
		cmocka_unit_test(test_resume_clock),
	};

	return cmocka_run_group_tests_name("link", tests, NULL, NULL);
}
