/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "link.h"

#include <string.h>

static enum link_action stopped(struct link *l, enum link_stop_reason why)
{
	l->state = LINK_STOPPED;
	l->stop_reason = why;
	return LINK_STOP;
}

static void forget_session(struct link *l)
{
	l->session[0] = '\0';
}

void link_init(struct link *l, const struct link_policy *policy, int64_t now)
{
	memset(l, 0, sizeof(*l));
	l->policy = *policy;
	l->state = LINK_WAITING;
	l->retry_at = now;
}

void link_request_stop(struct link *l)
{
	l->stopping = 1;
}

int64_t link_backoff_ms(const struct link_policy *policy, unsigned int attempts, uint32_t rnd)
{
	int64_t step = policy->backoff_first_ms, cap = policy->backoff_max_ms;

	for (unsigned int i = 1; i < attempts && step < cap; i++)
		step *= 2;
	if (step > cap)
		step = cap;
	return step / 2 + (int64_t)(rnd % (uint64_t)(step / 2 + 1));
}

/* One more failure in a row: wait longer each time, or give up when told to. */
static enum link_action attempt_failed(struct link *l, int64_t now, uint32_t rnd)
{
	l->attempts++;
	if (l->policy.retries && l->attempts >= l->policy.retries)
		return stopped(l, LINK_STOP_RETRIES);
	l->retry_at = now + link_backoff_ms(&l->policy, l->attempts, rnd);
	return LINK_RETRY;
}

enum link_action link_due(struct link *l, int64_t now, int may_reexport)
{
	if (l->state != LINK_WAITING)
		return LINK_NOTHING;
	if (l->stopping)
		return stopped(l, LINK_STOP_REQUESTED);
	/* past the proxy's resume time it has let the device go: so does the node */
	if (link_has_session(l) && l->down && now - l->down_since >= (int64_t)l->resume_seconds * 1000) {
		forget_session(l);
		l->down = 0;
		return may_reexport ? LINK_RELEASE : stopped(l, LINK_STOP_EXPIRED);
	}
	return now >= l->retry_at ? LINK_CONNECT : LINK_NOTHING;
}

enum link_action link_connected(struct link *l, int64_t now)
{
	if (l->state != LINK_WAITING)
		return LINK_NOTHING;
	if (l->ever_connected)
		l->reconnects++;
	l->ever_connected = 1;
	l->up_since = now;
	if (link_has_session(l)) {
		l->state = LINK_RESUMING;
		return LINK_RESUME;
	}
	/* the export request goes with the rest of the stream, at once */
	l->state = LINK_UP;
	l->down = 0;
	return LINK_EXPORT;
}

enum link_action link_connect_failed(struct link *l, int64_t now, uint32_t rnd, int final)
{
	if (l->state != LINK_WAITING)
		return LINK_NOTHING;
	if (final)
		return stopped(l, LINK_STOP_REFUSED);
	if (l->stopping)
		return stopped(l, LINK_STOP_REQUESTED);
	return attempt_failed(l, now, rnd);
}

void link_welcome(struct link *l, int64_t now, const char *session, unsigned int resume_seconds)
{
	size_t len = strnlen(session, CTL_SESSION_HEX);

	memcpy(l->session, session, len);
	l->session[len] = '\0';
	l->resume_seconds = resume_seconds;
	l->up_since = now;
	l->down = 0;
}

void link_resumed(struct link *l, int64_t now)
{
	if (l->state != LINK_RESUMING)
		return;
	l->state = LINK_UP;
	l->up_since = now;
	l->down = 0;
	l->resumes++;
}

/* The connection went: the session, if any, waits for a resume from now. */
static int went_down(struct link *l, int64_t now)
{
	if (l->state != LINK_RESUMING && l->state != LINK_UP)
		return 0;
	l->state = LINK_WAITING;
	if (!l->down) {
		l->down = 1;
		l->down_since = now;
	}
	return 1;
}

enum link_action link_lost(struct link *l, int64_t now, uint32_t rnd)
{
	if (!went_down(l, now))
		return LINK_NOTHING;
	if (l->stopping)
		return stopped(l, LINK_STOP_REQUESTED);
	/* a fleet that lost its proxy should not come back in one wave */
	l->retry_at = now + (int64_t)(rnd % (uint64_t)(l->policy.scatter_ms > 0 ? l->policy.scatter_ms : 1));
	return LINK_RECONNECT;
}

enum link_action link_start_failed(struct link *l, int64_t now, uint32_t rnd)
{
	enum link_action act = link_lost(l, now, rnd);

	return act == LINK_RECONNECT ? attempt_failed(l, now, rnd) : act;
}

enum link_action link_resume_refused(struct link *l, int64_t now)
{
	enum link_action act;

	if (l->state != LINK_RESUMING)
		return LINK_NOTHING;
	forget_session(l);
	act = link_lost(l, now, 0);
	if (act == LINK_RECONNECT)
		l->retry_at = now;
	return act;
}

enum link_action link_resume_refused_fresh(struct link *l, int64_t now)
{
	if (l->state != LINK_RESUMING)
		return LINK_NOTHING;
	if (l->stopping)
		return link_resume_refused(l, now);
	/* as link_connected does for a connection without a session */
	forget_session(l);
	l->state = LINK_UP;
	l->up_since = now;
	l->down = 0;
	return LINK_EXPORT;
}

enum link_action link_export_refused(struct link *l, int64_t now, uint32_t rnd)
{
	if (l->state != LINK_RESUMING && l->state != LINK_UP)
		return LINK_NOTHING;
	forget_session(l);
	return link_start_failed(l, now, rnd);
}

void link_tick(struct link *l, int64_t now)
{
	/* one the proxy drops at once (no vhci port, say) keeps backing off */
	if (l->state == LINK_UP && l->attempts && now - l->up_since >= l->policy.backoff_reset_ms)
		l->attempts = 0;
}
