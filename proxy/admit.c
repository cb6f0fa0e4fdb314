/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "admit.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "base/usbws_err.h"

#define ADMIT_BUCKETS 1024u

/* A source: an IPv4 address, or the /64 of an IPv6 one. */
struct admit_source {
	struct admit_source *next;
	uint8_t key[9];               /* family, then 4 or 8 bytes */
	unsigned int count;
};

struct admit {
	struct admit_policy policy;
	size_t count;
	struct admit_entry *oldest, *newest;   /* pending, in arrival order */
	struct admit_source *buckets[ADMIT_BUCKETS];
};

/* 0 for an address family that is not IP (it is counted as one source). */
static void source_key(const struct sockaddr *sa, socklen_t len, uint8_t key[9])
{
	memset(key, 0, 9);
	if (sa && sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa && sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		/* an IPv4 peer on a dual-stack socket is that IPv4 address */
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			key[0] = 4;
			memcpy(key + 1, a6->s6_addr + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, a6->s6_addr, 8);
		}
	}
}

static unsigned int bucket_of(const uint8_t key[9])
{
	uint32_t h = 2166136261u;   /* FNV-1a */

	for (int i = 0; i < 9; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % ADMIT_BUCKETS;
}

static struct admit_source **find_source(struct admit *a, const uint8_t key[9])
{
	struct admit_source **pp = &a->buckets[bucket_of(key)];

	while (*pp && memcmp((*pp)->key, key, 9) != 0)
		pp = &(*pp)->next;
	return pp;
}

struct admit *admit_new(const struct admit_policy *policy)
{
	struct admit *a = calloc(1, sizeof(*a));

	if (a)
		a->policy = *policy;
	return a;
}

void admit_free(struct admit *a)
{
	if (!a)
		return;
	for (unsigned int i = 0; i < ADMIT_BUCKETS; i++) {
		while (a->buckets[i]) {
			struct admit_source *s = a->buckets[i];

			a->buckets[i] = s->next;
			free(s);
		}
	}
	free(a);
}

/* Between start and full the share dropped rises from rate to 100 %. */
static int early_drop(const struct admit_policy *p, size_t count, uint32_t random)
{
	unsigned int percent;

	if (count < p->start || p->full <= p->start)
		return 0;
	percent = p->rate + (unsigned int)((100u - p->rate) * (count - p->start) / (p->full - p->start));
	return random % 100u < percent;
}

int admit_try(struct admit *a, const struct sockaddr *sa, socklen_t len, uint32_t random, int64_t now_ms,
	      struct admit_entry **out)
{
	struct admit_source **pp, *src;
	struct admit_entry *e;
	uint8_t key[9];

	*out = NULL;
	if (a->count >= a->policy.full)
		return USBWS_ERR_ADMIT_FULL;
	source_key(sa, len, key);
	pp = find_source(a, key);
	if (*pp && (*pp)->count >= a->policy.per_source)
		return USBWS_ERR_ADMIT_SOURCE;
	if (early_drop(&a->policy, a->count, random))
		return USBWS_ERR_ADMIT_DROPPED;
	e = calloc(1, sizeof(*e));
	if (!e)
		return USBWS_ERR_NOMEM;
	src = *pp;
	if (!src) {
		src = calloc(1, sizeof(*src));
		if (!src) {
			free(e);
			return USBWS_ERR_NOMEM;
		}
		memcpy(src->key, key, sizeof(key));
		*pp = src;
	}
	src->count++;
	a->count++;
	e->_src = src;
	e->_deadline_ms = now_ms + a->policy.timeout_ms;
	e->_pending = 1;
	e->_prev = a->newest;
	if (a->newest)
		a->newest->_next = e;
	else
		a->oldest = e;
	a->newest = e;
	*out = e;
	return 0;
}

void admit_settle(struct admit *a, struct admit_entry *e)
{
	struct admit_source **pp;

	if (!e->_pending)
		return;
	if (--e->_src->count == 0) {
		pp = find_source(a, e->_src->key);
		*pp = e->_src->next;
		free(e->_src);
	}
	e->_src = NULL;
	if (e->_prev)
		e->_prev->_next = e->_next;
	else
		a->oldest = e->_next;
	if (e->_next)
		e->_next->_prev = e->_prev;
	else
		a->newest = e->_prev;
	e->_prev = e->_next = NULL;
	e->_pending = 0;
}

void admit_done(struct admit *a, struct admit_entry *e)
{
	if (!e)
		return;
	admit_settle(a, e);
	a->count--;
	free(e);
}

struct admit_entry *admit_expired(struct admit *a, int64_t now_ms, unsigned int group)
{
	struct admit_entry *e;

	/* another group's expired entries wait for their own caller, which
	 * comes within a second: the walk stays short */
	for (e = a->oldest; e && e->_deadline_ms <= now_ms; e = e->_next) {
		if (e->group == group) {
			admit_settle(a, e);
			return e;
		}
	}
	return NULL;
}

size_t admit_count(const struct admit *a)
{
	return a->count;
}

size_t admit_source_count(const struct admit *a, const struct sockaddr *sa, socklen_t len)
{
	struct admit_source *const *pp;
	uint8_t key[9];

	source_key(sa, len, key);
	pp = find_source((struct admit *)a, key);
	return *pp ? (*pp)->count : 0;
}
