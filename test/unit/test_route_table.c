/* Unit tests for dataplane/route/route_table.c: exact filters (hashed) and wildcard filters (scanned)
 * both match, several routes may share one filter, '$' topics are not matched by filters that
 * start with a wildcard, results come back in route order and the `max` cap keeps the lowest
 * route indexes, an empty table matches nothing, the table owns its filters, exact filters whose
 * hashes collide stay apart, and a full table (1000 exact + 24 wildcard routes, loaded from YAML)
 * agrees with a brute-force topic_match() over every route for many random topics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "route_table.h"
#include "topic_match.h"

/* A config holding only routes (all route_table_build reads), freed with fo_config_free. */
static struct fo_config *routes_cfg(const char *const *filters, uint32_t n)
{
	struct fo_config *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	if (n == 0)
		return c;
	c->routes = calloc(n, sizeof(*c->routes));
	assert_non_null(c->routes);
	c->n_routes = n;
	for (uint32_t i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "r%u", i);
		c->routes[i].name = strdup(name);
		c->routes[i].filter = strdup(filters[i]);
		c->routes[i].to = calloc(1, sizeof(*c->routes[i].to));
		assert_non_null(c->routes[i].name);
		assert_non_null(c->routes[i].filter);
		assert_non_null(c->routes[i].to);
		c->routes[i].to[0] = (struct fo_route_dest){ .ip = 0xc6120002u, .port = (uint16_t)(9000 + i) };
		c->routes[i].n_to = 1;
		assert_true(topic_filter_valid((const uint8_t *)filters[i], strlen(filters[i]), 65535));
	}
	return c;
}

static uint32_t match(const struct route_table *t, const char *topic, uint16_t *out, uint32_t max)
{
	return route_table_match(t, (const uint8_t *)topic, (uint16_t)strlen(topic), out, max, NULL);
}

/* The table's answer for topic equals want[0..n_want) (route indexes, in order). */
static void expect(const struct route_table *t, const char *topic, const uint16_t *want, uint32_t n_want)
{
	uint16_t out[FO_MAX_ROUTES + 1];
	memset(out, 0xAB, sizeof(out));
	uint32_t n = match(t, topic, out, FO_MAX_ROUTES);
	bool same = n == n_want;
	for (uint32_t i = 0; same && i < n; i++)
		same = out[i] == want[i];
	if (!same) {
		print_message("topic \"%s\": got %u routes [", topic, n);
		for (uint32_t i = 0; i < n && i < 32; i++)
			print_message("%s%u", i ? " " : "", out[i]);
		print_message("], wanted %u [", n_want);
		for (uint32_t i = 0; i < n_want && i < 32; i++)
			print_message("%s%u", i ? " " : "", want[i]);
		print_message("]\n");
	}
	assert_true(same);
	assert_int_equal(out[n], 0xABAB); /* nothing written past the count */
}

#define EXPECT(t, topic, ...) \
	do { \
		static const uint16_t want_[] = { __VA_ARGS__ }; \
		expect(t, topic, want_, sizeof(want_) / sizeof(want_[0])); \
	} while (0)
#define EXPECT_NONE(t, topic) expect(t, topic, NULL, 0)

static void test_exact_and_wildcard(void **state)
{
	(void)state;
	static const char *const f[] = {
		"sensors/room1/temp", /* 0 exact */
		"sensors/+/temp",     /* 1 */
		"sensors/#",          /* 2 */
		"alarms",             /* 3 exact */
		"+",                  /* 4 */
		"+/+",                /* 5 */
		"/leading",           /* 6 exact, empty first level */
		"+/leading",          /* 7 */
		"a/b/",               /* 8 exact, empty last level */
		"a/+/+",              /* 9 */
	};
	struct fo_config *c = routes_cfg(f, 10);
	struct route_table *t = route_table_build(c);
	assert_non_null(t);
	assert_int_equal(route_table_size(t), 10);

	EXPECT(t, "sensors/room1/temp", 0, 1, 2);
	EXPECT(t, "sensors/room2/temp", 1, 2);
	EXPECT(t, "sensors/room1/humidity", 2);
	EXPECT(t, "sensors", 2, 4); /* "a/#" also matches "a" */
	EXPECT(t, "sensors/x", 2, 5);
	EXPECT(t, "alarms", 3, 4);
	EXPECT(t, "alarms/fire", 5);
	EXPECT(t, "/leading", 5, 6, 7);
	EXPECT(t, "x/leading", 5, 7);
	EXPECT(t, "a/b/", 8, 9);
	EXPECT(t, "a/b/c", 9);
	EXPECT_NONE(t, "a/b/c/d");
	EXPECT_NONE(t, "sensor/room1/temp/x");
	/* Exact matching is byte-exact: no prefix, no case folding, no trailing slash. */
	EXPECT(t, "Alarms", 4);
	EXPECT(t, "alarm", 4);
	EXPECT(t, "alarms/", 5);
	EXPECT(t, "sensors/room1/tem", 2);
	route_table_free(t);
	fo_config_free(c);
}

static void test_shared_filters(void **state)
{
	(void)state;
	/* Several routes with one filter each get reported, exact and wildcard alike, merged in order. */
	static const char *const f[] = {
		"x/y", "q/#", "x/y", "x/+", "other", "x/y", "x/+", "#", "x/y",
	};
	struct fo_config *c = routes_cfg(f, 9);
	struct route_table *t = route_table_build(c);
	assert_non_null(t);
	EXPECT(t, "x/y", 0, 2, 3, 5, 6, 7, 8);
	EXPECT(t, "x/z", 3, 6, 7);
	EXPECT(t, "other", 4, 7);
	EXPECT(t, "q", 1, 7);
	route_table_free(t);
	fo_config_free(c);
}

static void test_dollar_topics(void **state)
{
	(void)state;
	static const char *const f[] = {
		"#",          /* 0: not for $ topics */
		"+/stats",    /* 1: not for $ topics */
		"$SYS/stats", /* 2: exact */
		"$SYS/#",     /* 3 */
		"$SYS/+",     /* 4 */
		"+/+",        /* 5: not for $ topics */
		"a/$SYS",     /* 6: exact, '$' not first */
		"a/+",        /* 7 */
	};
	struct fo_config *c = routes_cfg(f, 8);
	struct route_table *t = route_table_build(c);
	assert_non_null(t);
	EXPECT(t, "$SYS/stats", 2, 3, 4);
	EXPECT(t, "$SYS/other", 3, 4);
	EXPECT(t, "$SYS", 3);
	EXPECT_NONE(t, "$other/stats");
	EXPECT(t, "sys/stats", 0, 1, 5);
	EXPECT(t, "a/$SYS", 0, 5, 6, 7); /* '$' only matters as the topic's first byte */
	route_table_free(t);
	fo_config_free(c);
}

static void test_max_cap(void **state)
{
	(void)state;
	/* Every route matches "m/n"; exact ones are found first by the hash, wildcard ones later,
	 * but the cap must still keep the lowest indexes. Exact routes sit at high indexes too. */
	static const char *const f[] = {
		"+/n", "m/n", "#", "m/+", "m/n", "+/+", "m/#", "m/n", "+/#", "m/n",
	};
	struct fo_config *c = routes_cfg(f, 10);
	struct route_table *t = route_table_build(c);
	assert_non_null(t);
	for (uint32_t max = 1; max <= 12; max++) {
		uint16_t out[16];
		memset(out, 0xAB, sizeof(out));
		uint32_t n = match(t, "m/n", out, max);
		assert_int_equal(n, max < 10 ? max : 10);
		for (uint32_t i = 0; i < n; i++)
			assert_int_equal(out[i], i);
		assert_int_equal(out[n], 0xABAB);
	}
	/* Only exact routes low, wildcards high: the cap drops the wildcard ones. */
	static const char *const g[] = { "k", "k", "k", "+", "#", "k" };
	route_table_free(t);
	fo_config_free(c);
	c = routes_cfg(g, 6);
	t = route_table_build(c);
	uint16_t out[8];
	assert_int_equal(match(t, "k", out, 3), 3);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 1);
	assert_int_equal(out[2], 2);
	assert_int_equal(match(t, "k", out, 5), 5);
	assert_int_equal(out[3], 3);
	assert_int_equal(out[4], 4);
	/* max 0 writes nothing. */
	out[0] = 0xABAB;
	assert_int_equal(match(t, "k", out, 0), 0);
	assert_int_equal(out[0], 0xABAB);
	route_table_free(t);
	fo_config_free(c);
}

static void test_empty_table(void **state)
{
	(void)state;
	struct fo_config *c = routes_cfg(NULL, 0);
	struct route_table *t = route_table_build(c);
	assert_non_null(t);
	assert_int_equal(route_table_size(t), 0);
	uint16_t out[4] = { 0xABAB, 0xABAB, 0xABAB, 0xABAB };
	assert_int_equal(match(t, "a/b", out, 4), 0);
	assert_int_equal(route_table_match(t, (const uint8_t *)"", 0, out, 4, NULL), 0);
	assert_int_equal(out[0], 0xABAB);
	route_table_free(t);
	fo_config_free(c);
	/* NULL table: nothing matches, size 0, free is a no-op. */
	assert_int_equal(match(NULL, "a", out, 4), 0);
	assert_int_equal(route_table_size(NULL), 0);
	route_table_free(NULL);
}

/* The table copies what it needs: it outlives the config it was built from. */
static void test_outlives_config(void **state)
{
	(void)state;
	static const char *const f[] = { "a/b", "a/+", "c" };
	struct fo_config *c = routes_cfg(f, 3);
	struct route_table *t = route_table_build(c);
	assert_non_null(t);
	fo_config_free(c);
	EXPECT(t, "a/b", 0, 1);
	EXPECT(t, "c", 2);
	route_table_free(t);
}

/* FNV-1a, as route_table.c hashes exact filters; used only to find colliding filters. If the
 * table's hash changes, the test still checks correctness, it just collides less. */
static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h ? h : 1;
}

struct hv {
	uint32_t h, i;
};

static int cmp_hv(const void *a, const void *b)
{
	const struct hv *x = a, *y = b;
	return x->h < y->h ? -1 : x->h > y->h ? 1 : (x->i < y->i ? -1 : x->i > y->i);
}

/* "c/" and 7 letters, scattered over the index (decimal suffixes alone never collide in FNV-1a). */
static void collision_candidate(uint32_t i, char *s)
{
	uint64_t x = (uint64_t)i * 2654435761u;
	memcpy(s, "c/", 2);
	for (int k = 0; k < 7; k++, x /= 26)
		s[2 + k] = (char)('a' + x % 26);
	s[9] = '\0';
}

static void test_hash_collisions(void **state)
{
	(void)state;
	/* Birthday search for two short filters with the same 32-bit hash (about 10 expected). */
	enum { N = 300000 };
	struct hv *v = malloc(N * sizeof(*v));
	assert_non_null(v);
	char a[16] = "", b[16] = "";
	for (uint32_t i = 0; i < N; i++) {
		char s[16];
		collision_candidate(i, s);
		v[i] = (struct hv){ fnv1a(s), i };
	}
	qsort(v, N, sizeof(*v), cmp_hv);
	for (uint32_t i = 1; i < N && a[0] == '\0'; i++)
		if (v[i].h == v[i - 1].h) {
			collision_candidate(v[i - 1].i, a);
			collision_candidate(v[i].i, b);
		}
	free(v);
	assert_true(a[0] != '\0'); /* deterministic: this search finds some */
	assert_int_equal(fnv1a(a), fnv1a(b));
	const char *const f[] = { a, "z", b, a, "c/+" };
	struct fo_config *c = routes_cfg(f, 5);
	struct route_table *t = route_table_build(c);
	assert_non_null(t);
	EXPECT(t, a, 0, 3, 4);
	EXPECT(t, b, 2, 4);
	EXPECT(t, "z", 1);
	route_table_free(t);
	fo_config_free(c);
}

/* ---------------------------------------------------------------- many routes, cross-checked */

static uint64_t rng_state = 0x243F6A8885A308D3ull;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 33) % n;
}

static const char *const levels[] = { "dev", "sensors", "temp", "a", "b", "", "$SYS", "x1", "room7", "$q" };
#define N_LEVELS (sizeof(levels) / sizeof(levels[0]))

/* A random topic name of 1..5 levels from a small vocabulary, so exact filters get hit. */
static void random_topic(char *buf, size_t n)
{
	size_t off = 0;
	uint32_t k = 1 + rnd(5);
	for (uint32_t i = 0; i < k; i++)
		off += (size_t)snprintf(buf + off, n - off, "%s%s", i ? "/" : "", levels[rnd(N_LEVELS)]);
}

static const char *const wild[24] = {
	"#",         "+",    "+/+",    "+/temp",   "dev/#",     "dev/+/temp", "$SYS/#", "$SYS/+",   "sensors/+/+/#",
	"+/+/+/+/+", "a/#",  "a/+",    "+/a/#",    "b/+/b",     "+//#",       "/+",     "+/$SYS/#", "x1/+/x1",
	"room7/#",   "$q/+", "temp/#", "+/+/temp", "sensors/#", "dev/+/+/+",
};

static void test_many_routes_cross_check(void **state)
{
	(void)state;
	/* 1000 exact + 24 wildcard routes (FO_MAX_ROUTES), wildcards spread among them, loaded from
	 * YAML the way a generation is. Exact filters repeat, so many routes share one. */
	size_t cap = 256 * 1024, off = 0;
	char *yaml = malloc(cap);
	assert_non_null(yaml);
	off += (size_t)snprintf(yaml + off, cap - off,
				"ports: [{device: net_af_packet0, ipv4: 198.18.0.1/24}]\n"
				"lcores: [{lcore: 1, roles: [rx, worker, tx]}]\n"
				"routes:\n");
	uint32_t w = 0;
	for (uint32_t i = 0; i < FO_MAX_ROUTES; i++) {
		char filter[128];
		if (w < 24 && i % 42 == 7)
			snprintf(filter, sizeof(filter), "%s", wild[w++]);
		else
			do
				random_topic(filter, sizeof(filter));
			while (filter[0] == '\0'); /* "" is no filter */
		off += (size_t)snprintf(yaml + off, cap - off,
					"  - {name: r%u, filter: \"%s\", to: [\"198.18.0.%u:%u\"]}\n", i, filter,
					2 + i % 250, 1000 + i);
		assert_true(off < cap);
	}
	assert_int_equal(w, 24);
	struct fo_config *c = NULL;
	char err[512] = "";
	int rc = fo_config_parse(yaml, off, &c, err, sizeof(err));
	if (rc != 0)
		print_message("%s\n", err);
	assert_int_equal(rc, 0);
	free(yaml);
	assert_int_equal(c->n_routes, FO_MAX_ROUTES);
	uint32_t n_wild = 0;
	for (uint32_t i = 0; i < c->n_routes; i++)
		n_wild += topic_filter_is_wildcard((const uint8_t *)c->routes[i].filter, strlen(c->routes[i].filter));
	assert_int_equal(n_wild, 24);

	struct route_table *t = route_table_build(c);
	assert_non_null(t);
	assert_int_equal(route_table_size(t), FO_MAX_ROUTES);

	static uint16_t want[FO_MAX_ROUTES], got[FO_MAX_ROUTES + 1];
	uint64_t total = 0, topics_hit = 0, exact_hits = 0;
	for (uint32_t it = 0; it < 20000; it++) {
		char topic[128];
		if (it % 4 == 0) /* an exact filter itself */
			snprintf(topic, sizeof(topic), "%s", c->routes[rnd(c->n_routes)].filter);
		else
			random_topic(topic, sizeof(topic));
		size_t tl = strlen(topic);
		if (!topic_name_valid((const uint8_t *)topic, tl, 65535))
			continue; /* a wildcard filter picked above */
		uint32_t n_want = 0;
		for (uint32_t r = 0; r < c->n_routes; r++)
			if (topic_match((const uint8_t *)c->routes[r].filter, strlen(c->routes[r].filter),
					(const uint8_t *)topic, tl))
				want[n_want++] = (uint16_t)r;
		uint32_t n = route_table_match(t, (const uint8_t *)topic, (uint16_t)tl, got, FO_MAX_ROUTES, NULL);
		if (n != n_want || memcmp(got, want, n * sizeof(got[0])) != 0) {
			print_message("topic \"%s\": table %u routes, brute force %u\n", topic, n, n_want);
			fail();
		}
		/* Capped at a few: the prefix of the full answer. */
		uint32_t max = 1 + rnd(8);
		uint32_t all = 0;
		n = route_table_match(t, (const uint8_t *)topic, (uint16_t)tl, got, max, &all);
		assert_int_equal(n, n_want < max ? n_want : max);
		assert_int_equal(all, n_want); /* the cap never hides how many matched */
		assert_memory_equal(got, want, n * sizeof(got[0]));
		total += n_want;
		topics_hit += n_want > 0;
		for (uint32_t k = 0; k < n_want; k++)
			exact_hits += !topic_filter_is_wildcard((const uint8_t *)c->routes[want[k]].filter,
								strlen(c->routes[want[k]].filter));
	}
	/* The test is only worth something if both kinds matched often. */
	assert_true(topics_hit > 10000);
	assert_true(exact_hits > 5000);
	assert_true(total - exact_hits > 10000);
	route_table_free(t);
	fo_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_and_wildcard), cmocka_unit_test(test_shared_filters),
		cmocka_unit_test(test_dollar_topics),      cmocka_unit_test(test_max_cap),
		cmocka_unit_test(test_empty_table),        cmocka_unit_test(test_outlives_config),
		cmocka_unit_test(test_hash_collisions),    cmocka_unit_test(test_many_routes_cross_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
