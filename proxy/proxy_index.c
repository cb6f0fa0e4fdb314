/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The tunnels by identity, by address and by session.  Every export, resume
 * and collision check asks which tunnels share one of these; walking all
 * tunnels for it made each handshake cost O(N) cache misses, and a ramp or
 * a storm of N nodes O(N^2): at 10,000 tunnels, two thirds of the proxy's
 * CPU (doc/performance.md).
 *
 * One chained hash table per key.  A tunnel is filed under the key it has
 * when added, with that key's hash kept, so that it is found and unlinked
 * by the hash even after the key changed (a session is wiped in place when
 * it ends); lookups compare the key as it is now, so a changed key is never
 * matched.  Chains stay about one long: the table doubles past one entry a
 * bucket.
 */
#include <stdlib.h>
#include <string.h>

#include "base/usbws_err.h"
#include "proxy_int.h"

#define FIRST_BUCKETS 64

static const char *key_of(const struct tunnel *t, enum tunnel_key which)
{
	switch (which) {
	case TUNNEL_BY_NODE: return t->node;
	case TUNNEL_BY_ADDRESS: return t->busid;
	default: return t->session;
	}
}

/* FNV-1a: short keys, and no adversary can pick them to collide beyond
 * what its own certificate or address allows */
static uint32_t key_hash(const char *key)
{
	uint32_t h = 2166136261u;

	while (*key)
		h = (h ^ (uint8_t)*key++) * 16777619u;
	return h;
}

int proxy_index_init(struct proxy *px)
{
	int i;

	for (i = 0; i < TUNNEL_KEYS; i++) {
		px->index[i].buckets = calloc(FIRST_BUCKETS, sizeof(*px->index[i].buckets));
		if (!px->index[i].buckets)
			return USBWS_ERR_NOMEM;
		px->index[i].mask = FIRST_BUCKETS - 1;
	}
	return 0;
}

void proxy_index_free(struct proxy *px)
{
	int i;

	for (i = 0; i < TUNNEL_KEYS; i++) {
		free(px->index[i].buckets);
		memset(&px->index[i], 0, sizeof(px->index[i]));
	}
}

/* Twice the buckets, every entry by its kept hash; on no memory the chains
 * just grow longer. */
static void grow(struct tunnel_index *ix, enum tunnel_key which)
{
	size_t size = (size_t)ix->mask + 1, i;
	struct tunnel **buckets = calloc(size * 2, sizeof(*buckets));

	if (!buckets)
		return;
	for (i = 0; i < size; i++) {
		struct tunnel *t = ix->buckets[i], *next;

		for (; t; t = next) {
			struct tunnel **head = &buckets[t->key_hash[which] & (size * 2 - 1)];

			next = t->key_next[which];
			t->key_next[which] = *head;
			*head = t;
		}
	}
	free(ix->buckets);
	ix->buckets = buckets;
	ix->mask = (uint32_t)(size * 2 - 1);
}

void proxy_index_add(struct proxy *px, enum tunnel_key which, struct tunnel *t)
{
	struct tunnel_index *ix = &px->index[which];
	struct tunnel **head;

	proxy_index_del(px, which, t);
	if (ix->count >= (size_t)ix->mask + 1)
		grow(ix, which);
	t->key_hash[which] = key_hash(key_of(t, which));
	head = &ix->buckets[t->key_hash[which] & ix->mask];
	t->key_next[which] = *head;
	*head = t;
	t->key_filed[which] = 1;
	ix->count++;
}

void proxy_index_del(struct proxy *px, enum tunnel_key which, struct tunnel *t)
{
	struct tunnel_index *ix = &px->index[which];
	struct tunnel **pp;

	if (!t->key_filed[which])
		return;
	for (pp = &ix->buckets[t->key_hash[which] & ix->mask]; *pp; pp = &(*pp)->key_next[which]) {
		if (*pp == t) {
			*pp = t->key_next[which];
			break;
		}
	}
	t->key_next[which] = NULL;
	t->key_filed[which] = 0;
	ix->count--;
}

/* The first tunnel after t in t's chain (or in key's, from the start when
 * t is NULL) whose key is key now. */
static struct tunnel *match_from(struct tunnel *t, enum tunnel_key which, const char *key)
{
	for (; t; t = t->key_next[which])
		if (strcmp(key_of(t, which), key) == 0)
			return t;
	return NULL;
}

struct tunnel *proxy_index_first(const struct proxy *px, enum tunnel_key which, const char *key)
{
	const struct tunnel_index *ix = &px->index[which];

	if (!key[0])
		return NULL;
	return match_from(ix->buckets[key_hash(key) & ix->mask], which, key);
}

struct tunnel *proxy_index_next(const struct tunnel *t, enum tunnel_key which, const char *key)
{
	return match_from(t->key_next[which], which, key);
}
