/* The predefined-topic tables of a generation (predef_table.h): the per-client rule order, the
 * merge of a rule's topics over the global ones, both lookups, and the build's refusals; a
 * random set checked against a plain model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fanout/client_hash.h"
#include "predef_table.h"

#define U8(s) ((const uint8_t *)(s))

static const struct predef_table *table_of(const struct predef_set *s, const char *cid)
{
	uint16_t n = (uint16_t)strlen(cid);
	return predef_client_table(s, U8(cid), n, fo_client_id_hash(U8(cid), n));
}

static uint16_t id_of(const struct predef_table *t, const char *name)
{
	uint16_t n = (uint16_t)strlen(name);
	return predef_id(t, U8(name), n, predef_name_hash(U8(name), n));
}

static void expect_name(const struct predef_table *t, uint16_t id, const char *name)
{
	uint16_t len = 0;
	uint32_t h = 0;
	const uint8_t *n = predef_name(t, id, &len, &h);
	if (!name) {
		assert_null(n);
		return;
	}
	assert_non_null(n);
	assert_int_equal(len, strlen(name));
	assert_memory_equal(n, name, len);
	assert_int_equal(h, predef_name_hash(U8(name), len));
}

static void test_global_and_client_tables(void **state)
{
	(void)state;
	static const struct broker_predefined global[] = { { 1, "g/one" }, { 2, "g/two" }, { 900, "g/far" } };
	static const struct broker_predefined dev7[] = { { 2, "d/7/two" }, { 5, "g/one" }, { 6, "d/7/six" } };
	static const struct broker_predefined devs[] = { { 40, "d/any" } };
	static const struct broker_predefined later[] = { { 41, "never" } };
	const struct broker_client_predefined rules[] = {
		{ U8("dev-7"), 5, false, dev7, 3 },  { U8("dev-"), 4, true, devs, 1 },
		{ U8("dev-8"), 5, false, later, 1 }, /* after the prefix that names dev-8: never decides */
		{ U8("dev-7"), 5, false, later, 1 }, /* a second rule for dev-7: never decides */
		{ U8("solo"), 4, false, NULL, 0 },   /* no topics of its own: the global ones */
	};
	const char *err = "unset";
	struct predef_set *s = predef_set_build(global, 3, rules, 5, 64, &err);
	assert_non_null(s);
	assert_null(err);

	/* a client no rule names (and one without a ClientId): the global table */
	const struct predef_table *g = table_of(s, "other");
	assert_int_equal(predef_table_size(g), 3);
	assert_ptr_equal(predef_client_table(s, NULL, 0, 0), g);
	assert_ptr_equal(predef_global_table(s), g);
	expect_name(g, 1, "g/one");
	expect_name(g, 900, "g/far");
	expect_name(g, 3, NULL);
	assert_int_equal(id_of(g, "g/two"), 2);
	assert_int_equal(id_of(g, "d/7/two"), 0);
	assert_int_equal(id_of(g, "g/tw"), 0);

	/* dev-7: its own topics over the global ones; a global topic whose id (2) or name (g/one) it
	 * uses is left out */
	const struct predef_table *t7 = table_of(s, "dev-7");
	assert_int_equal(predef_table_size(t7), 4);
	expect_name(t7, 2, "d/7/two");
	expect_name(t7, 5, "g/one");
	expect_name(t7, 1, NULL);
	expect_name(t7, 900, "g/far");
	assert_int_equal(id_of(t7, "g/one"), 5);
	assert_int_equal(id_of(t7, "g/two"), 0);
	assert_int_equal(id_of(t7, "d/7/six"), 6);

	/* the prefix rule: dev-8 (its exact rule comes later), dev-, dev-77 */
	const struct predef_table *tp = table_of(s, "dev-8");
	assert_ptr_equal(table_of(s, "dev-"), tp);
	assert_ptr_equal(table_of(s, "dev-77"), tp);
	assert_int_equal(id_of(tp, "d/any"), 40);
	assert_int_equal(id_of(tp, "never"), 0);
	assert_int_equal(id_of(tp, "g/two"), 2);
	assert_ptr_not_equal(table_of(s, "dev"), tp); /* shorter than the prefix */

	assert_true(predef_set_per_client(s));
	assert_false(predef_set_per_client(NULL));
	/* the union of the names */
	static const char *const named[] = { "g/one", "g/two", "g/far", "d/7/two", "d/7/six", "d/any", "never" };
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		uint16_t n = (uint16_t)strlen(named[i]);
		assert_true(predef_set_names(s, U8(named[i]), n, predef_name_hash(U8(named[i]), n)));
	}
	assert_false(predef_set_names(s, U8("g/on"), 4, predef_name_hash(U8("g/on"), 4)));
	assert_false(predef_set_names(NULL, U8("g/one"), 5, predef_name_hash(U8("g/one"), 5)));
	const struct predef_table *ts = table_of(s, "solo");
	assert_int_equal(predef_table_size(ts), 3);
	assert_int_equal(id_of(ts, "g/far"), 900);
	predef_set_free(s);
}

static void test_empty_and_refused(void **state)
{
	(void)state;
	const char *err = "unset";
	assert_null(predef_set_build(NULL, 0, NULL, 0, 64, &err));
	assert_null(err); /* nothing predefined: no set, not an error */
	const struct broker_client_predefined empty_rule[] = { { U8("x"), 1, false, NULL, 0 } };
	assert_null(predef_set_build(NULL, 0, empty_rule, 1, 64, &err));
	assert_null(err);
	/* a rule's table may be empty while others are not: that client has none */
	static const struct broker_predefined one[] = { { 3, "a" } };
	const struct broker_client_predefined two[] = { { U8("x"), 1, false, NULL, 0 }, { U8("y"), 1, false, one, 1 } };
	struct predef_set *s = predef_set_build(NULL, 0, two, 2, 64, &err);
	assert_non_null(s);
	assert_null(table_of(s, "x"));
	assert_null(table_of(s, "z"));
	assert_int_equal(id_of(table_of(s, "y"), "a"), 3);
	assert_true(predef_set_per_client(s));
	assert_int_equal(id_of(NULL, "a"), 0);
	expect_name(NULL, 3, NULL);
	predef_set_free(s);
	predef_set_free(NULL);

	static const struct {
		struct broker_predefined p[2];
		uint32_t n;
		const char *why;
	} bad[] = {
		{ { { 0, "a" } }, 1, "reserved" },
		{ { { 0xFFFF, "a" } }, 1, "reserved" },
		{ { { 1, "a/+" } }, 1, "valid topic name" },
		{ { { 1, "" } }, 1, "valid topic name" },
		{ { { 1, "abcdefghi" } }, 1, "valid topic name" }, /* longer than max_len 8 */
		{ { { 1, "a" }, { 1, "b" } }, 2, "duplicate topic id" },
		{ { { 1, "a" }, { 2, "a" } }, 2, "duplicate topic name" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		assert_null(predef_set_build(bad[i].p, bad[i].n, NULL, 0, 8, &err));
		assert_non_null(err);
		assert_non_null(strstr(err, bad[i].why));
		/* the same list in a rule */
		const struct broker_client_predefined r[] = { { U8("c"), 1, false, bad[i].p, bad[i].n } };
		err = NULL;
		assert_null(predef_set_build(NULL, 0, r, 1, 8, &err));
		assert_non_null(strstr(err, bad[i].why));
	}
	const struct broker_client_predefined noid[] = { { U8(""), 0, false, one, 1 } };
	assert_null(predef_set_build(NULL, 0, noid, 1, 8, &err));
	assert_non_null(strstr(err, "ClientId"));
	const struct broker_client_predefined anyone[] = { { U8(""), 0, true, one, 1 } };
	s = predef_set_build(NULL, 0, anyone, 1, 8, &err);
	assert_non_null(s); /* an empty prefix names every client with a ClientId, and none without */
	assert_int_equal(id_of(table_of(s, "q"), "a"), 3);
	predef_set_free(s);
	s = predef_set_build(one, 1, NULL, 0, 8, &err);
	assert_false(predef_set_per_client(s)); /* the global table alone */
	assert_ptr_equal(table_of(s, "any"), predef_client_table(s, NULL, 0, 0));
	assert_ptr_equal(predef_global_table(s), predef_client_table(s, NULL, 0, 0));
	predef_set_free(s);
}

/* Random rules and lists against a model: the first rule naming the client decides, its topics
 * win over the global ones by id and by name. */
static void test_random_against_model(void **state)
{
	(void)state;
	enum { RULES = 40, TOPICS = 12, ROUNDS = 30 };
	srand(7);
	static char names[RULES + 1][TOPICS][16];
	static char cids[RULES][8];
	for (int round = 0; round < ROUNDS; round++) {
		struct broker_predefined lists[RULES + 1][TOPICS];
		uint32_t n[RULES + 1];
		for (int l = 0; l <= RULES; l++) {
			n[l] = (uint32_t)(rand() % TOPICS);
			for (uint32_t k = 0; k < n[l]; k++) {
				/* unique within a list: id and name from k, with overlaps across lists */
				snprintf(names[l][k], sizeof(names[l][k]), "t/%u",
					 (unsigned)(k * 3 + (unsigned)rand() % 3));
				lists[l][k].id = (uint16_t)(k * 5 + 1 + (unsigned)rand() % 5);
				lists[l][k].name = names[l][k];
			}
			/* drop duplicates of the name the random offsets may have made */
			uint32_t w = 0;
			for (uint32_t k = 0; k < n[l]; k++) {
				bool dup = false;
				for (uint32_t j = 0; j < w; j++)
					dup = dup || strcmp(lists[l][j].name, lists[l][k].name) == 0;
				if (!dup)
					lists[l][w++] = lists[l][k];
			}
			n[l] = w;
		}
		struct broker_client_predefined rules[RULES];
		for (int r = 0; r < RULES; r++) {
			int len = 1 + rand() % 3;
			for (int i = 0; i < len; i++)
				cids[r][i] = (char)('a' + rand() % 3);
			rules[r] = (struct broker_client_predefined){ U8(cids[r]), (uint8_t)len, rand() % 3 == 0,
								      lists[r + 1], n[r + 1] };
		}
		const char *err;
		struct predef_set *s = predef_set_build(lists[0], n[0], rules, RULES, 64, &err);
		assert_null(err);
		for (int q = 0; q < 200; q++) {
			char cid[4];
			int clen = 1 + rand() % 3;
			for (int i = 0; i < clen; i++)
				cid[i] = (char)('a' + rand() % 3);
			int rule = -1;
			for (int r = 0; r < RULES && rule < 0; r++) {
				const struct broker_client_predefined *x = &rules[r];
				if (x->prefix
					    ? clen >= x->client_id_len &&
						      memcmp(cid, x->client_id, x->client_id_len) == 0
					    : clen == x->client_id_len && memcmp(cid, x->client_id, (size_t)clen) == 0)
					rule = r;
			}
			const struct predef_table *t = predef_client_table(s, U8(cid), (uint16_t)clen,
									   fo_client_id_hash(U8(cid), (uint32_t)clen));
			const struct broker_predefined *own = rule >= 0 ? rules[rule].topics : NULL;
			uint32_t n_own = rule >= 0 ? rules[rule].n_topics : 0;
			uint32_t expect = n_own;
			for (uint16_t id = 1; id < TOPICS * 5 + 6; id++) {
				const char *want = NULL;
				for (uint32_t k = 0; k < n_own; k++)
					if (own[k].id == id)
						want = own[k].name;
				for (uint32_t k = 0; !want && k < n[0]; k++) {
					if (lists[0][k].id != id)
						continue;
					bool shadowed = false;
					for (uint32_t j = 0; j < n_own; j++)
						shadowed = shadowed || strcmp(own[j].name, lists[0][k].name) == 0;
					if (!shadowed) {
						want = lists[0][k].name;
						expect++;
					}
				}
				expect_name(t, id, want);
				if (want)
					assert_int_equal(id_of(t, want), id);
			}
			assert_int_equal(predef_table_size(t), expect);
			for (int l = 0; l <= RULES; l++)
				for (uint32_t k = 0; k < n[l]; k++) {
					uint16_t nl = (uint16_t)strlen(lists[l][k].name);
					assert_true(predef_set_names(s, U8(lists[l][k].name), nl,
								     predef_name_hash(U8(lists[l][k].name), nl)));
				}
		}
		predef_set_free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_global_and_client_tables),
		cmocka_unit_test(test_empty_and_refused),
		cmocka_unit_test(test_random_against_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
