/* Route matching for one generation (route_table.h). Exact filters live in an open-addressing
 * hash keyed by the filter bytes (oa_table.h; one probe sequence per publish); wildcard filters
 * in a list tested with topic_match(). A topic may match both kinds: the results are merged in
 * route order so a route is reported once. */
#include "route_table.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "oa_table.h"
#include "topic_match.h"

struct exact_slot {
	uint32_t hash;
	uint16_t route; /* UINT16_MAX = empty */
};

struct route_table {
	uint32_t n_routes;
	const char **filter; /* per route, points into owned copies */
	uint16_t *filter_len;
	struct exact_slot *slots;
	uint32_t mask;  /* slots - 1 */
	uint16_t *wild; /* wildcard route indexes, ascending */
	uint32_t n_wild;
	char **owned;
};

static uint32_t hash_bytes(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h ? h : 1;
}

/* An exact filter looked up, or NULL while building (then only empty slots end the probe). */
struct exact_key {
	const uint8_t *topic;
	uint16_t len;
	uint32_t hash;
};

static enum oa_seen exact_look(const void *tab, uint32_t s, void *q)
{
	const struct route_table *t = tab;
	const struct exact_key *k = q;
	uint16_t r = t->slots[s].route;
	if (r == UINT16_MAX)
		return OA_EMPTY;
	if (k && t->slots[s].hash == k->hash && t->filter_len[r] == k->len &&
	    memcmp(t->filter[r], k->topic, k->len) == 0)
		return OA_HIT;
	return OA_OTHER;
}

struct route_table *route_table_build(const struct fo_config *cfg)
{
	struct route_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	uint32_t n = cfg->n_routes;
	t->n_routes = n;
	uint32_t cap = 8;
	while (cap < 2 * n)
		cap <<= 1;
	t->mask = cap - 1;
	t->slots = malloc(cap * sizeof(*t->slots));
	t->filter = calloc(n ? n : 1, sizeof(*t->filter));
	t->filter_len = calloc(n ? n : 1, sizeof(*t->filter_len));
	t->wild = calloc(n ? n : 1, sizeof(*t->wild));
	t->owned = calloc(n ? n : 1, sizeof(*t->owned));
	if (!t->slots || !t->filter || !t->filter_len || !t->wild || !t->owned) {
		route_table_free(t);
		return NULL;
	}
	for (uint32_t i = 0; i < cap; i++)
		t->slots[i].route = UINT16_MAX;
	for (uint32_t i = 0; i < n; i++) {
		size_t len = strlen(cfg->routes[i].filter);
		t->owned[i] = malloc(len + 1);
		if (!t->owned[i]) {
			route_table_free(t);
			return NULL;
		}
		memcpy(t->owned[i], cfg->routes[i].filter, len + 1);
		t->filter[i] = t->owned[i];
		t->filter_len[i] = (uint16_t)len;
		if (topic_filter_is_wildcard((const uint8_t *)t->filter[i], len)) {
			t->wild[t->n_wild++] = (uint16_t)i;
			continue;
		}
		uint32_t h = hash_bytes((const uint8_t *)t->filter[i], len);
		uint32_t s = oa_find(t, t->mask, h, NULL, exact_look);
		t->slots[s] = (struct exact_slot){ .hash = h, .route = (uint16_t)i };
	}
	return t;
}

void route_table_free(struct route_table *t)
{
	if (!t)
		return;
	if (t->owned)
		for (uint32_t i = 0; i < t->n_routes; i++)
			free(t->owned[i]);
	free(t->owned);
	free(t->slots);
	free(t->filter);
	free(t->filter_len);
	free(t->wild);
	free(t);
}

uint32_t route_table_size(const struct route_table *t)
{
	return t ? t->n_routes : 0;
}

static void insert_sorted(uint16_t *out, uint32_t *n, uint32_t max, uint16_t r)
{
	uint32_t i = *n;
	if (i == max) {
		if (r > out[max - 1])
			return; /* full and later than everything kept */
		i--;
	} else {
		(*n)++;
	}
	while (i > 0 && out[i - 1] > r) {
		out[i] = out[i - 1];
		i--;
	}
	out[i] = r;
}

uint32_t route_table_match(const struct route_table *t, const uint8_t *topic, uint16_t len, uint16_t *out, uint32_t max,
			   uint32_t *total)
{
	uint32_t n = 0, all = 0;
	if (total)
		*total = 0;
	if (!t || t->n_routes == 0)
		return 0;
	/* Exact routes: every slot of the probe sequence with this hash and these bytes (several
	 * routes may share one filter). */
	struct exact_key k = { .topic = topic, .len = len, .hash = hash_bytes(topic, len) };
	for (uint32_t s = oa_find(t, t->mask, k.hash, &k, exact_look); t->slots[s].route != UINT16_MAX;
	     s = oa_find(t, t->mask, s + 1, &k, exact_look)) {
		all++;
		if (max)
			insert_sorted(out, &n, max, t->slots[s].route);
	}
	for (uint32_t i = 0; i < t->n_wild; i++) {
		uint16_t r = t->wild[i];
		if (topic_match((const uint8_t *)t->filter[r], t->filter_len[r], topic, len)) {
			all++;
			if (max)
				insert_sorted(out, &n, max, r);
		}
	}
	if (total)
		*total = all;
	return n;
}
