/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_LINK_H
#define USBWS_LINK_H
/*
 * The node's link to the proxy as a state machine: when to connect,
 * whether a new connection resumes the session or exports afresh, how long
 * to back off, and when to give up.  Pure: no I/O and no clock.  The caller
 * passes the time (monotonic milliseconds) and, where a wait is drawn, a
 * random number; it does the I/O the returned action names.
 *
 *   WAITING --connected--> RESUMING (a session to resume) or UP (afresh)
 *   RESUMING --resumed, or refused with the connection kept--> UP
 *   RESUMING, UP --lost, refused--> WAITING, or STOPPED when stopping
 *   WAITING --due--> connect, release an expired session, or STOPPED
 *
 * Read the fields; change them only through the functions below.
 */
#include <stdint.h>

#include "tunnel/ctl.h"

/* What the caller chooses: the retry policy, as data. */
struct link_policy {
	int64_t backoff_first_ms;  /* the first failure's wait, before jitter */
	int64_t backoff_max_ms;    /* no wait is longer (--backoff-max) */
	int64_t backoff_reset_ms;  /* a link up this long was a success: backoff starts over */
	int64_t scatter_ms;        /* a lost link is tried again within this, spread at random */
	unsigned int retries;      /* failed attempts in a row before giving up; 0: never */
};

enum link_state {
	LINK_WAITING,    /* no connection: the next attempt is due at retry_at */
	LINK_RESUMING,   /* connected, asked to resume: the stream waits for the proxy's offset */
	LINK_UP,         /* connected; the stream flows (a fresh export's from its request on) */
	LINK_STOPPED,    /* no more connections; stop_reason says why */
};

/* What the caller does next. */
enum link_action {
	LINK_NOTHING,
	LINK_CONNECT,    /* open a connection now */
	LINK_EXPORT,     /* connected: export the device afresh */
	LINK_RESUME,     /* connected: ask the proxy to resume the session */
	LINK_RECONNECT,  /* the link was lost: connect again at retry_at */
	LINK_RETRY,      /* an attempt failed: connect again at retry_at, after a backoff */
	LINK_RELEASE,    /* the proxy let the session go: give the device back; the next export is fresh */
	LINK_STOP,       /* stopped (state LINK_STOPPED): stop_reason says why */
};

enum link_stop_reason {
	LINK_STOP_NONE,
	LINK_STOP_REQUESTED,  /* asked to stop: the only success */
	LINK_STOP_REFUSED,    /* the connection failed in a way that would fail again */
	LINK_STOP_RETRIES,    /* policy.retries attempts failed in a row */
	LINK_STOP_EXPIRED,    /* the session expired, and the device cannot be exported again */
};

struct link {
	struct link_policy policy;
	enum link_state state;
	enum link_stop_reason stop_reason;
	int stopping;                        /* asked to stop: no new connection */
	unsigned int attempts;               /* failed in a row */
	int64_t retry_at;                    /* WAITING: when to connect */
	int64_t up_since;                    /* the connection, then the export or resume, was confirmed */
	/* the session the proxy keeps for this node; empty: none, export afresh */
	char session[CTL_SESSION_HEX + 1];
	unsigned int resume_seconds;         /* how long the proxy keeps it without a link */
	int down;                            /* the session has had no link since down_since */
	int64_t down_since;
	int ever_connected;
	uint64_t reconnects, resumes;
};

void link_init(struct link *l, const struct link_policy *policy, int64_t now);

/* Asked to stop: no connection is opened from now on, and the one there is
 * ends the link when it goes. */
void link_request_stop(struct link *l);

/* While WAITING, each round: LINK_STOP when stopping; LINK_RELEASE when the
 * proxy's resume time has passed since the session lost its link (or
 * LINK_STOP, LINK_STOP_EXPIRED, when !may_reexport: the device, once given
 * back, could not be taken again); LINK_CONNECT when retry_at has come;
 * else LINK_NOTHING.  Call again after LINK_RELEASE. */
enum link_action link_due(struct link *l, int64_t now, int may_reexport);

/* A connection is open: LINK_RESUME (state RESUMING) when there is a
 * session, else LINK_EXPORT (state UP). */
enum link_action link_connected(struct link *l, int64_t now);

/* Opening a connection failed; final: it would fail the same way again.
 * LINK_STOP (REQUESTED when stopping and not final, REFUSED when final,
 * RETRIES when that many failed in a row) or LINK_RETRY. */
enum link_action link_connect_failed(struct link *l, int64_t now, uint32_t rnd, int final);

/* The proxy confirmed the export, offering session (may be empty: none)
 * for resume_seconds. */
void link_welcome(struct link *l, int64_t now, const char *session, unsigned int resume_seconds);
/* The proxy resumed the session: RESUMING becomes UP. */
void link_resumed(struct link *l, int64_t now);

/* The connection is gone: LINK_STOP (REQUESTED) when stopping, else
 * LINK_RECONNECT within policy.scatter_ms.  The session, if any, is kept
 * for a resume. */
enum link_action link_lost(struct link *l, int64_t now, uint32_t rnd);
/* The export could not start on a new connection: the connection is given
 * up and the attempt counts as failed, as in link_connect_failed. */
enum link_action link_start_failed(struct link *l, int64_t now, uint32_t rnd);
/* The proxy has no session to resume: the connection is given up and the
 * next one, at once, exports afresh. */
enum link_action link_resume_refused(struct link *l, int64_t now);
/* The proxy has no session to resume, and keeps the connection for an
 * export ("fresh"): the session is dropped and LINK_EXPORT (state UP) says
 * export afresh on it.  When stopping, as link_resume_refused. */
enum link_action link_resume_refused_fresh(struct link *l, int64_t now);
/* The proxy refused the export for now (no vhci port, over this node's
 * limit): the session is dropped and the attempt counts as failed. */
enum link_action link_export_refused(struct link *l, int64_t now, uint32_t rnd);

/* Each round while connected: a link UP for policy.backoff_reset_ms was a
 * success, and the backoff starts over. */
void link_tick(struct link *l, int64_t now);

/* The wait after the attempts-th failure in a row: full jitter over an
 * exponential step, first, 2 first, 4 first... up to max; rnd picks a
 * point in [step / 2, step]. */
int64_t link_backoff_ms(const struct link_policy *policy, unsigned int attempts, uint32_t rnd);

static inline int link_has_session(const struct link *l) { return l->session[0] != '\0'; }

#endif
