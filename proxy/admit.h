/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_ADMIT_H
#define USBWS_ADMIT_H

/*
 * Admission control for a listener whose peers have not yet proved who
 * they are: what an unauthenticated peer can cost is bounded here.
 *
 * Each accepted connection takes an entry until the caller says it is done
 * (authenticated, or closed).  An entry is pending until it is settled
 * (the peer proved itself, or its request was answered).  New entries are
 * refused past a cap on pending ones per source (an IPv4 address, or an
 * IPv6 /64: one host can have a whole /64) and past a cap on all entries;
 * between `start` and `full` a growing share is dropped at random, as
 * OpenSSH's MaxStartups does, so that a flood cannot lock out everyone else
 * and still leaves room for a fleet coming back at once.  Pending entries
 * carry a deadline; all share one timeout, so the oldest is always first
 * and expiry costs nothing per idle entry.
 *
 * Pure bookkeeping: no sockets, no clock, no randomness of its own; the
 * caller passes the time and a random number.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct admit_policy {
	unsigned int per_source;  /* pending entries from one source */
	unsigned int start;       /* past this many entries, drop at random... */
	unsigned int rate;        /* ...this percentage, rising linearly to 100 at full */
	unsigned int full;        /* never more entries than this */
	int64_t timeout_ms;       /* a pending entry is expired this long after it came */
};

/* The caller's handle on one admitted connection. */
struct admit_entry {
	struct admit_entry *_prev, *_next;  /* the pending FIFO, oldest first */
	struct admit_source *_src;
	int64_t _deadline_ms;
	int _pending;
	void *owner;                        /* the caller's: its connection... */
	void *owner_ctx;                    /* ...and whatever else it needs */
	unsigned int group;                 /* whose admit_expired returns it (0 when new) */
	int64_t accepted_ms;                /* the caller's: when it came */
};

struct admit;

/* Returns a new table, or NULL when out of memory. */
struct admit *admit_new(const struct admit_policy *policy);
void admit_free(struct admit *a);

/* Admits a connection from sa: returns 0 with *out set (owner NULL, pending
 * until now_ms + timeout), or USBWS_ERR_ADMIT_SOURCE, USBWS_ERR_ADMIT_FULL,
 * USBWS_ERR_ADMIT_DROPPED, USBWS_ERR_NOMEM.  random is a uniformly random
 * 32-bit number for the early drop. */
int admit_try(struct admit *a, const struct sockaddr *sa, socklen_t len, uint32_t random, int64_t now_ms,
	      struct admit_entry **out);

/* The entry stops being pending (it authenticated, or, for a listener
 * whose clients never do, its request was answered): it no longer counts
 * toward its source's cap, has no deadline, but counts toward the global
 * cap until admit_done. */
void admit_settle(struct admit *a, struct admit_entry *e);

/* The connection is gone: the entry is freed. */
void admit_done(struct admit *a, struct admit_entry *e);

/* The oldest pending entry of group whose deadline has passed, settled so
 * it is returned once, or NULL.  The caller closes its owner, then
 * admit_done.  (The proxy's service threads are the groups: each closes
 * its own connections.) */
struct admit_entry *admit_expired(struct admit *a, int64_t now_ms, unsigned int group);

/* Entries in the table, and pending entries from sa's source. */
size_t admit_count(const struct admit *a);
size_t admit_source_count(const struct admit *a, const struct sockaddr *sa, socklen_t len);

#endif
