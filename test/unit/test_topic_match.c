/* Unit tests for dataplane/mqttsn/topic_match.c: every example of MQTT 3.1.1 section 4.7, the
 * edge cases around empty levels, wildcards and lengths, and a seeded cross-check
 * against a reference matcher that splits into level arrays and recurses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "topic_match.h"

#define BIG_MAX 65535u

static bool name_ok(const char *s)
{
	return topic_name_valid((const uint8_t *)s, strlen(s), BIG_MAX);
}

static bool filter_ok(const char *s)
{
	return topic_filter_valid((const uint8_t *)s, strlen(s), BIG_MAX);
}

static bool wild(const char *s)
{
	return topic_filter_is_wildcard((const uint8_t *)s, strlen(s));
}

static bool match(const char *filter, const char *topic)
{
	return topic_match((const uint8_t *)filter, strlen(filter), (const uint8_t *)topic, strlen(topic));
}

struct match_case {
	const char *filter;
	const char *topic;
	bool expect;
};

static void run_cases(const struct match_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_true(filter_ok(c[i].filter));
		assert_true(name_ok(c[i].topic));
		if (match(c[i].filter, c[i].topic) != c[i].expect) {
			print_error("filter \"%s\" topic \"%s\": expected %s\n", c[i].filter, c[i].topic,
				    c[i].expect ? "match" : "no match");
			fail();
		}
	}
}

/* ---- 4.7.1.2 multi-level wildcard ---- */
static void test_spec_hash(void **state)
{
	(void)state;
	static const struct match_case cases[] = {
		{ "sport/tennis/player1/#", "sport/tennis/player1", true },
		{ "sport/tennis/player1/#", "sport/tennis/player1/ranking", true },
		{ "sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true },
		{ "sport/#", "sport", true },
		{ "#", "sport", true },
		{ "#", "sport/tennis/player1", true },
		{ "sport/tennis/#", "sport/tennis", true },
		{ "sport/tennis/#", "sport/tennis/player1", true },
		{ "sport/tennis/#", "sport/tennisX", false },
		{ "sport/tennis/#", "sport", false },
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));

	assert_true(filter_ok("#"));
	assert_true(filter_ok("sport/tennis/#"));
	assert_false(filter_ok("sport/tennis#"));
	assert_false(filter_ok("sport/tennis/#/ranking"));
}

/* ---- 4.7.1.3 single-level wildcard ---- */
static void test_spec_plus(void **state)
{
	(void)state;
	static const struct match_case cases[] = {
		{ "sport/tennis/+", "sport/tennis/player1", true },
		{ "sport/tennis/+", "sport/tennis/player2", true },
		{ "sport/tennis/+", "sport/tennis/player1/ranking", false },
		{ "sport/+", "sport", false },
		{ "sport/+", "sport/", true },
		{ "+/+", "/finance", true },
		{ "/+", "/finance", true },
		{ "+", "/finance", false },
		{ "sport/+/player1", "sport/tennis/player1", true },
		{ "sport/+/player1", "sport/tennis/player2", false },
		{ "+/tennis/#", "sport/tennis", true },
		{ "+/tennis/#", "sport/tennis/player1/ranking", true },
		{ "+/tennis/#", "sport/golf", false },
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));

	assert_true(filter_ok("+"));
	assert_true(filter_ok("+/tennis/#"));
	assert_false(filter_ok("sport+"));
	assert_true(filter_ok("sport/+/player1"));
}

/* ---- 4.7.2 topics beginning with '$' ---- */
static void test_spec_dollar(void **state)
{
	(void)state;
	static const struct match_case cases[] = {
		{ "#", "$SYS/broker/load", false },
		{ "#", "$SYS", false },
		{ "+", "$SYS", false },
		{ "+/monitor/Clients", "$SYS/monitor/Clients", false },
		{ "+/#", "$SYS/monitor", false },
		{ "$SYS/#", "$SYS/monitor/Clients", true },
		{ "$SYS/#", "$SYS", true },
		{ "$SYS/monitor/+", "$SYS/monitor/Clients", true },
		{ "$SYS/monitor/Clients", "$SYS/monitor/Clients", true },
		/* only the first character counts: '$' deeper in a topic is ordinary */
		{ "a/+", "a/$SYS", true },
		{ "a/#", "a/$x/y", true },
		{ "#", "x$", true },
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
	/* a literal level starting with '$' is fine, a '+' glued to it is not */
	assert_false(filter_ok("$+"));
	assert_true(filter_ok("$"));
	assert_true(match("$", "$"));
	assert_false(match("+", "$"));
}

/* ---- 4.7.3 topic semantic and usage ---- */
static void test_spec_semantics(void **state)
{
	(void)state;
	static const struct match_case cases[] = {
		{ "ACCOUNTS", "ACCOUNTS", true },
		{ "ACCOUNTS", "Accounts", false },
		{ "Accounts payable", "Accounts payable", true },
		{ "/finance", "/finance", true },
		{ "/finance", "finance", false },
		{ "finance", "/finance", false },
		{ "/", "/", true },
		{ "+/+", "/", true },
		{ "#", "/", true },
		{ "/#", "/", true },
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
	assert_true(name_ok("/"));
	assert_true(filter_ok("/"));
	assert_true(name_ok("Accounts payable"));
}

static void test_validity_edges(void **state)
{
	(void)state;
	/* empty strings are never valid (4.7.3) */
	assert_false(topic_name_valid((const uint8_t *)"", 0, BIG_MAX));
	assert_false(topic_filter_valid((const uint8_t *)"", 0, BIG_MAX));
	assert_false(topic_name_valid(NULL, 0, BIG_MAX));
	assert_false(topic_filter_valid(NULL, 0, BIG_MAX));

	/* names carry no wildcards */
	assert_false(name_ok("+"));
	assert_false(name_ok("#"));
	assert_false(name_ok("a/+"));
	assert_false(name_ok("a/#"));
	assert_false(name_ok("a+b"));
	assert_false(name_ok("a#"));
	assert_true(name_ok("a"));
	assert_true(name_ok("a/"));
	assert_true(name_ok("a//b"));
	assert_true(name_ok("//"));
	assert_true(name_ok("$SYS/x"));

	/* filters: wildcards occupy whole levels, '#' last */
	assert_true(filter_ok("#"));
	assert_true(filter_ok("+"));
	assert_true(filter_ok("+/+"));
	assert_true(filter_ok("/+"));
	assert_true(filter_ok("+/"));
	assert_true(filter_ok("/#"));
	assert_true(filter_ok("+/#"));
	assert_true(filter_ok("a//+//#"));
	assert_true(filter_ok("a/"));
	assert_false(filter_ok("a/#/b"));
	assert_false(filter_ok("#/"));
	assert_false(filter_ok("#/a"));
	assert_false(filter_ok("##"));
	assert_false(filter_ok("a+"));
	assert_false(filter_ok("+a"));
	assert_false(filter_ok("a/+b/c"));
	assert_false(filter_ok("++"));
	assert_false(filter_ok("a/b#"));
	assert_false(filter_ok("#b"));
	assert_false(filter_ok("+#"));
	assert_false(filter_ok("a/#b"));

	/* NUL anywhere is invalid, in names and filters */
	static const uint8_t nul_mid[] = { 'a', 0, 'b' };
	static const uint8_t nul_end[] = { 'a', '/', 0 };
	static const uint8_t nul_only[] = { 0 };
	assert_false(topic_name_valid(nul_mid, sizeof(nul_mid), BIG_MAX));
	assert_false(topic_name_valid(nul_end, sizeof(nul_end), BIG_MAX));
	assert_false(topic_name_valid(nul_only, sizeof(nul_only), BIG_MAX));
	assert_false(topic_filter_valid(nul_mid, sizeof(nul_mid), BIG_MAX));
	assert_false(topic_filter_valid(nul_end, sizeof(nul_end), BIG_MAX));
	assert_false(topic_filter_valid(nul_only, sizeof(nul_only), BIG_MAX));

	/* lengths are explicit: bytes past len are not looked at */
	assert_true(topic_name_valid((const uint8_t *)"ab+", 2, BIG_MAX));
	assert_true(topic_filter_valid((const uint8_t *)"a/#/b", 3, BIG_MAX));
}

static void test_max_len(void **state)
{
	(void)state;
	const uint8_t *abc = (const uint8_t *)"a/b/c";

	assert_true(topic_name_valid(abc, 5, 5));
	assert_false(topic_name_valid(abc, 5, 4));
	assert_true(topic_name_valid(abc, 4, 4));
	assert_true(topic_filter_valid(abc, 5, 5));
	assert_false(topic_filter_valid(abc, 5, 4));
	assert_false(topic_name_valid(abc, 1, 0));
	assert_false(topic_filter_valid(abc, 1, 0));
	assert_true(topic_name_valid(abc, 1, 1));
	assert_true(topic_filter_valid((const uint8_t *)"#", 1, 1));

	/* MQTT's own cap, 65535 bytes, at and just past the boundary */
	static uint8_t big[65536];
	memset(big, 'x', sizeof(big));
	for (size_t i = 1; i < sizeof(big); i += 2)
		big[i] = '/';
	assert_true(topic_name_valid(big, 65535, 65535));
	assert_false(topic_name_valid(big, 65536, 65535));
	assert_true(topic_filter_valid(big, 65535, 65535));
	assert_false(topic_filter_valid(big, 65536, 65535));
	assert_true(topic_match(big, 65535, big, 65535));
	big[65534] = '#';
	assert_true(topic_filter_valid(big, 65535, 65535));
	assert_true(topic_match(big, 65535, big, 65533));
	big[0] = '+';
	assert_true(topic_match(big, 65535, big + 2, 65531) == false); /* one level short */
}

static void test_wildcard_flag(void **state)
{
	(void)state;
	assert_true(wild("#"));
	assert_true(wild("+"));
	assert_true(wild("a/+/b"));
	assert_true(wild("a/#"));
	assert_false(wild("a/b"));
	assert_false(wild("/"));
	assert_false(wild("$SYS/x"));
	assert_false(topic_filter_is_wildcard((const uint8_t *)"a/#", 2));
}

static void test_levels_edges(void **state)
{
	(void)state;
	static const struct match_case cases[] = {
		/* '#' alone: every non-'$' topic, including empty levels */
		{ "#", "a", true },
		{ "#", "/", true },
		{ "#", "a/", true },
		{ "#", "//", true },
		/* '+' alone: exactly one level, so any '/' in the topic defeats it */
		{ "+", "a", true },
		{ "+", "a/", false },
		{ "+", "/", false },
		{ "+", "a/b", false },
		/* trailing '/' is an extra empty level */
		{ "a", "a/", false },
		{ "a/", "a", false },
		{ "a/", "a/", true },
		{ "a/+", "a/", true },
		{ "a/+", "a", false },
		{ "a/#", "a/", true },
		{ "a/#", "a", true },
		{ "a/+/#", "a", false },
		{ "a/+/#", "a/", true },
		{ "a/+/#", "a/b", true },
		{ "a/+/#", "a/b/c/d", true },
		/* empty levels */
		{ "a//b", "a//b", true },
		{ "a/+/b", "a//b", true },
		{ "a//b", "a/b", false },
		{ "a/b", "a//b", false },
		{ "+/+/+", "//", true },
		{ "+/+", "//", false },
		{ "//#", "//", true },
		{ "//#", "/", true }, /* "#" also matches its parent, the second empty level */
		{ "//#", "a/", false },
		{ "//#", "a", false },
		/* prefixes and lengths */
		{ "a/b", "a/bc", false },
		{ "a/bc", "a/b", false },
		{ "ab", "a", false },
		{ "a", "ab", false },
		{ "a/+", "a/b/c", false },
		{ "+/b", "/b", true },
		{ "+/b", "a/b/", false },
		{ "a/b/c", "a/b/c", true },
		{ "a/b/c", "a/b/d", false },
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));

	/* NULL and empty inputs never match and never crash */
	assert_false(topic_match(NULL, 0, (const uint8_t *)"a", 1));
	assert_false(topic_match((const uint8_t *)"a", 1, NULL, 0));
	assert_false(topic_match((const uint8_t *)"", 0, (const uint8_t *)"a", 1));
}

/* ---- reference implementation: split into level arrays, match recursively ---- */

struct ref_level {
	const uint8_t *p;
	size_t n;
};

/* out must hold len + 1 entries (a string of len bytes has at most len + 1 levels). */
static size_t ref_split(const uint8_t *s, size_t len, struct ref_level *out)
{
	size_t count = 0, start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '/') {
			out[count].p = s + start;
			out[count].n = i - start;
			count++;
			start = i + 1;
		}
	}
	return count;
}

static bool ref_level_is(const struct ref_level *l, const char *lit)
{
	return l->n == strlen(lit) && memcmp(l->p, lit, l->n) == 0;
}

static bool ref_level_has(const struct ref_level *l, uint8_t c)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->p[i] == c)
			return true;
	return false;
}

static bool ref_has_nul(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == 0)
			return true;
	return false;
}

#define REF_MAX 256

static bool ref_name_valid(const uint8_t *s, size_t len, size_t max_len)
{
	struct ref_level lv[REF_MAX + 1];

	if (len < 1 || len > max_len || len > REF_MAX || ref_has_nul(s, len))
		return false;
	size_t n = ref_split(s, len, lv);
	for (size_t i = 0; i < n; i++)
		if (ref_level_has(&lv[i], '+') || ref_level_has(&lv[i], '#'))
			return false;
	return true;
}

static bool ref_filter_valid(const uint8_t *s, size_t len, size_t max_len)
{
	struct ref_level lv[REF_MAX + 1];

	if (len < 1 || len > max_len || len > REF_MAX || ref_has_nul(s, len))
		return false;
	size_t n = ref_split(s, len, lv);
	for (size_t i = 0; i < n; i++) {
		if (ref_level_has(&lv[i], '+') && !ref_level_is(&lv[i], "+"))
			return false;
		if (ref_level_has(&lv[i], '#') && !(ref_level_is(&lv[i], "#") && i == n - 1))
			return false;
	}
	return true;
}

static bool ref_match_levels(const struct ref_level *f, size_t nf, const struct ref_level *t, size_t nt)
{
	if (nf == 0)
		return nt == 0;
	if (ref_level_is(&f[0], "#"))
		return true; /* the parent level itself, or any number of children */
	if (nt == 0)
		return false;
	if (!ref_level_is(&f[0], "+") && !(f[0].n == t[0].n && memcmp(f[0].p, t[0].p, f[0].n) == 0))
		return false;
	return ref_match_levels(f + 1, nf - 1, t + 1, nt - 1);
}

static bool ref_match(const uint8_t *f, size_t flen, const uint8_t *t, size_t tlen)
{
	struct ref_level fl[REF_MAX + 1], tl[REF_MAX + 1];
	size_t nf = ref_split(f, flen, fl);
	size_t nt = ref_split(t, tlen, tl);

	if (t[0] == '$' && (ref_level_is(&fl[0], "+") || ref_level_is(&fl[0], "#")))
		return false;
	return ref_match_levels(fl, nf, tl, nt);
}

/* xorshift64*: fixed seed, same sequence on every platform */
static uint64_t rng_state = 0x5eed70b1c5eed001ull;

static uint32_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

/* Small level alphabet so matches are frequent; includes wildcards in bad places,
 * '$' levels, empty levels and (rarely) NUL, so both validity and matching get exercised. */
static const char *const gen_levels[] = {
	"", "a", "b", "ab", "ba", "$SYS", "$", "x$", "+", "#", "+", "#", "a+", "#b", "+#", " ", "A",
};
#define N_GEN_LEVELS (sizeof(gen_levels) / sizeof(gen_levels[0]))

static size_t gen_string(uint8_t *buf, size_t cap, bool wildcards)
{
	size_t nlev = 1 + rng() % 5, len = 0;

	for (size_t l = 0; l < nlev; l++) {
		const char *lev;
		do {
			lev = gen_levels[rng() % N_GEN_LEVELS];
		} while (!wildcards && (strchr(lev, '+') || strchr(lev, '#')) && rng() % 8 != 0);
		if (l > 0 && len < cap)
			buf[len++] = '/';
		for (size_t i = 0; lev[i] != '\0' && len < cap; i++)
			buf[len++] = (uint8_t)lev[i];
	}
	if (len > 0 && rng() % 64 == 0)
		buf[rng() % len] = 0;
	return len;
}

static void test_random_cross_check(void **state)
{
	(void)state;
	uint8_t f[64], t[64];
	unsigned pairs = 0, matched = 0, valid_pairs = 0, bad_filters = 0, bad_names = 0;

	for (unsigned iter = 0; iter < 200000; iter++) {
		size_t flen = gen_string(f, sizeof(f), true);
		size_t tlen = gen_string(t, sizeof(t), false);
		size_t max_len = (rng() % 4 == 0) ? 1 + rng() % 16 : 64;

		bool fv = topic_filter_valid(f, flen, max_len);
		bool tv = topic_name_valid(t, tlen, max_len);
		if (fv != ref_filter_valid(f, flen, max_len) || tv != ref_name_valid(t, tlen, max_len)) {
			print_error("validity mismatch: filter \"%.*s\" (%d) name \"%.*s\" (%d) max %zu\n", (int)flen,
				    (const char *)f, fv, (int)tlen, (const char *)t, tv, max_len);
			fail();
		}
		/* the same bytes as the other kind: a name is a filter, never the reverse with wildcards */
		assert_true(topic_filter_valid(t, tlen, max_len) == ref_filter_valid(t, tlen, max_len));
		assert_true(topic_name_valid(f, flen, max_len) == ref_name_valid(f, flen, max_len));
		bad_filters += !fv;
		bad_names += !tv;

		/* always call match: invalid input must be memory-safe even if the answer is unspecified */
		bool m = topic_match(f, flen, t, tlen);
		pairs++;
		if (!fv || !tv)
			continue;
		valid_pairs++;
		assert_true(topic_filter_is_wildcard(f, flen) ==
			    (memchr(f, '+', flen) != NULL || memchr(f, '#', flen) != NULL));
		if (m != ref_match(f, flen, t, tlen)) {
			print_error("match mismatch: filter \"%.*s\" topic \"%.*s\": got %d\n", (int)flen,
				    (const char *)f, (int)tlen, (const char *)t, m);
			fail();
		}
		matched += m;
		/* a name used as a filter matches itself */
		assert_true(topic_match(t, tlen, t, tlen));
	}
	print_message("cross-check: %u pairs, %u valid, %u matched, %u bad filters, %u bad names\n", pairs, valid_pairs,
		      matched, bad_filters, bad_names);
	/* guard against a generator that drifted into testing nothing */
	assert_true(valid_pairs > 20000);
	assert_true(matched > 2000);
	assert_true(valid_pairs - matched > 2000);
	assert_true(bad_filters > 2000);
	assert_true(bad_names > 1000);
}

static bool covers(const char *o, const char *i)
{
	return topic_filter_covers((const uint8_t *)o, strlen(o), (const uint8_t *)i, strlen(i));
}

/* topic_filter_covers: the cases an interest-following bridge meets, then a cross-check against
 * topic_match over every filter and name of a small alphabet: when outer covers inner, every name
 * inner matches, outer matches; when it does not, some name shows it. */
static void test_filter_covers(void **state)
{
	(void)state;
	assert_true(covers("#", "a/b"));
	assert_true(covers("#", "#"));
	assert_true(covers("fleet/#", "fleet/+/t"));
	assert_true(covers("fleet/#", "fleet/#"));
	assert_true(covers("fleet/#", "fleet"));
	assert_true(covers("fleet/+", "fleet/a"));
	assert_true(covers("fleet/+", "fleet/+"));
	assert_true(covers("a/b", "a/b"));
	assert_true(covers("+/#", "a"));
	assert_false(covers("fleet/+", "fleet/#"));
	assert_false(covers("fleet/+", "fleet/a/b"));
	assert_false(covers("fleet/a", "fleet/+"));
	assert_false(covers("fleet/#", "other/#"));
	assert_false(covers("+/t", "#"));
	assert_false(covers("a/b", "a"));
	assert_false(covers("a", "a/b"));
	assert_false(covers("#", "$SYS/x"));
	assert_true(covers("$SYS/#", "$SYS/x"));
	assert_false(covers("", "a"));
	assert_false(covers("a", ""));

	/* every filter of up to 3 levels over {a, b, +, #} (and names over {a, b, c}) */
	static const char *const lv[] = { "a", "b", "+", "#" };
	char f[64][16];
	size_t nf = 0;
	for (int n = 1; n <= 3; n++) {
		int combos = 1;
		for (int k = 0; k < n; k++)
			combos *= 4;
		for (int c = 0; c < combos; c++) {
			char buf[16] = "";
			int x = c;
			bool ok = true;
			for (int k = 0; k < n; k++) {
				const char *l = lv[x % 4];
				x /= 4;
				if (l[0] == '#' && k != n - 1)
					ok = false;
				if (k)
					strcat(buf, "/");
				strcat(buf, l);
			}
			if (ok && nf < 64)
				strcpy(f[nf++], buf);
		}
	}
	/* every name of 1..4 levels over {a, b, c} */
	static char names[120][8];
	size_t nn = 0;
	for (int n = 1; n <= 4; n++) {
		int combos = 1;
		for (int k = 0; k < n; k++)
			combos *= 3;
		for (int c = 0; c < combos; c++) {
			char *p = names[nn++];
			int x = c;
			for (int k = 0; k < n; k++) {
				if (k)
					*p++ = '/';
				*p++ = (char)('a' + x % 3);
				x /= 3;
			}
			*p = '\0';
		}
	}
	for (size_t o = 0; o < nf; o++)
		for (size_t i = 0; i < nf; i++) {
			bool cov = covers(f[o], f[i]), witness = false;
			for (size_t t = 0; t < nn; t++) {
				const char *nm = names[t];
				bool mi = topic_match((const uint8_t *)f[i], strlen(f[i]), (const uint8_t *)nm,
						      strlen(nm));
				bool mo = topic_match((const uint8_t *)f[o], strlen(f[o]), (const uint8_t *)nm,
						      strlen(nm));
				if (mi && !mo)
					witness = true;
			}
			if (cov && witness)
				fail_msg("'%s' said to cover '%s', but a name matches only the inner one", f[o], f[i]);
			if (!cov && !witness)
				fail_msg("'%s' said not to cover '%s', but no name shows it", f[o], f[i]);
		}
}

static bool utf8_name_ok(const char *s, size_t n)
{
	return topic_name_valid((const uint8_t *)s, n, 1000);
}

/* Names and filters are UTF-8 (MQTT-SN 5.3.12, MQTT 3.1.1 1.5.3): well-formed sequences pass,
 * everything RFC 3629 forbids is refused, in names and filters alike. */
static void test_utf8(void **state)
{
	(void)state;
	assert_true(utf8_name_ok("caf\xc3\xa9/\xe2\x82\xac", 9)); /* é, € */
	assert_true(utf8_name_ok("\xf0\x9f\x98\x80", 4));         /* U+1F600 */
	assert_true(utf8_name_ok("\xf4\x8f\xbf\xbf", 4));         /* U+10FFFF, the last */
	assert_true(utf8_name_ok("\xed\x9f\xbf", 3));             /* U+D7FF, below the surrogates */
	assert_true(utf8_name_ok("\xee\x80\x80", 3));             /* U+E000, above them */
	assert_true(utf8_name_ok("\xc2\x80", 2));                 /* U+0080, the first 2-byte one */
	assert_false(utf8_name_ok("\xc3", 1));                    /* cut short */
	assert_false(utf8_name_ok("a\xe2\x82", 3));               /* cut short */
	assert_false(utf8_name_ok("\x80", 1));                    /* a lone continuation byte */
	assert_false(utf8_name_ok("\xc0\xaf", 2));                /* overlong '/' */
	assert_false(utf8_name_ok("\xc1\xbf", 2));                /* overlong */
	assert_false(utf8_name_ok("\xe0\x9f\xbf", 3));            /* overlong 3-byte */
	assert_false(utf8_name_ok("\xf0\x8f\xbf\xbf", 4));        /* overlong 4-byte */
	assert_false(utf8_name_ok("\xed\xa0\x80", 3));            /* U+D800, a surrogate */
	assert_false(utf8_name_ok("\xed\xbf\xbf", 3));            /* U+DFFF */
	assert_false(utf8_name_ok("\xf4\x90\x80\x80", 4));        /* U+110000 */
	assert_false(utf8_name_ok("\xf5\x80\x80\x80", 4));
	assert_false(utf8_name_ok("\xff", 1));
	assert_false(utf8_name_ok("\xc3\x28", 2)); /* a bad second byte */
	assert_false(utf8_name_ok("\xe2\x28\xa1", 3));
	assert_false(utf8_name_ok("\xf0\x90\x28\xbc", 4));
	assert_true(topic_filter_valid((const uint8_t *)"caf\xc3\xa9/+/#", 9, 100));
	assert_false(topic_filter_valid((const uint8_t *)"caf\xc3/+", 6, 100));
	assert_false(topic_filter_valid((const uint8_t *)"\xed\xa0\x80/#", 5, 100));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_hash),
		cmocka_unit_test(test_spec_plus),
		cmocka_unit_test(test_spec_dollar),
		cmocka_unit_test(test_spec_semantics),
		cmocka_unit_test(test_validity_edges),
		cmocka_unit_test(test_max_len),
		cmocka_unit_test(test_wildcard_flag),
		cmocka_unit_test(test_levels_edges),
		cmocka_unit_test(test_random_cross_check),
		cmocka_unit_test(test_filter_covers),
		cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
