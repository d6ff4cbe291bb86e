/* Unit tests for dataplane/base/oa_table.h, the open addressing every probing table uses. Two
 * small tables stand in for the real ones: an index table (slots hold entry numbers, as the
 * session, topic and subscription indexes do) and a table whose slots hold the entries (as
 * the per-source quota and the route table do). Their hashes are chosen by the test, so
 * collisions, wrap-around and probe runs are placed exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "oa_table.h"

#define NSLOTS 16u
#define MASK (NSLOTS - 1)
#define EMPTY_ID UINT32_MAX
#define MAX_ENTRIES 64u

/* ---- index table: entries in a pool, slots hold their numbers ---- */

struct ent {
	uint32_t key;
	uint32_t home; /* the test's hash for key */
};

struct itab {
	struct ent e[MAX_ENTRIES];
	uint32_t n;
	uint32_t slots[NSLOTS];
};

static bool ent_is(const void *tab, uint32_t id, const void *q)
{
	return ((const struct itab *)tab)->e[id].key == *(const uint32_t *)q;
}

static uint32_t ent_hash(const void *tab, uint32_t id)
{
	return ((const struct itab *)tab)->e[id].home;
}

static void itab_init(struct itab *t)
{
	memset(t, 0, sizeof(*t));
	for (uint32_t i = 0; i < NSLOTS; i++)
		t->slots[i] = EMPTY_ID;
}

/* Entry number of key, or EMPTY_ID. */
static uint32_t itab_find(const struct itab *t, uint32_t key, uint32_t home)
{
	return t->slots[oa_ids_find(t->slots, MASK, EMPTY_ID, home, t, &key, ent_is)];
}

/* Returns the slot it went to; the key must be absent. */
static uint32_t itab_add(struct itab *t, uint32_t key, uint32_t home)
{
	uint32_t s = oa_ids_find(t->slots, MASK, EMPTY_ID, home, t, &key, ent_is);
	assert_int_equal(t->slots[s], EMPTY_ID);
	t->e[t->n] = (struct ent){ .key = key, .home = home };
	t->slots[s] = t->n++;
	return s;
}

static bool itab_del(struct itab *t, uint32_t key, uint32_t home)
{
	uint32_t s = oa_ids_find(t->slots, MASK, EMPTY_ID, home, t, &key, ent_is);
	if (t->slots[s] == EMPTY_ID)
		return false;
	oa_ids_erase(t->slots, MASK, EMPTY_ID, s, t, ent_hash);
	return true;
}

static uint32_t slot_of_key(const struct itab *t, uint32_t key)
{
	for (uint32_t i = 0; i < NSLOTS; i++)
		if (t->slots[i] != EMPTY_ID && t->e[t->slots[i]].key == key)
			return i;
	return EMPTY_ID;
}

/* Linear probing's invariant: no empty slot between an entry's home and its slot. */
static void assert_reachable(const struct itab *t)
{
	for (uint32_t i = 0; i < NSLOTS; i++) {
		if (t->slots[i] == EMPTY_ID)
			continue;
		for (uint32_t j = t->e[t->slots[i]].home & MASK; j != i; j = (j + 1) & MASK)
			assert_int_not_equal(t->slots[j], EMPTY_ID);
	}
}

static void test_insert_find_delete(void **state)
{
	(void)state;
	struct itab t;
	itab_init(&t);
	assert_int_equal(itab_find(&t, 7, 3), EMPTY_ID);
	assert_int_equal(itab_add(&t, 7, 3), 3);
	assert_int_equal(itab_add(&t, 9, 5), 5);
	assert_int_equal(t.e[itab_find(&t, 7, 3)].key, 7);
	assert_int_equal(t.e[itab_find(&t, 9, 5)].key, 9);
	/* Same home as 7 but another key: not found, and its insert slot is the next one. */
	assert_int_equal(itab_find(&t, 8, 3), EMPTY_ID);
	assert_int_equal(itab_add(&t, 8, 3), 4);
	assert_true(itab_del(&t, 7, 3));
	assert_false(itab_del(&t, 7, 3));
	assert_int_equal(itab_find(&t, 7, 3), EMPTY_ID);
	/* 8 moved back to its home once 7 left it. */
	assert_int_equal(slot_of_key(&t, 8), 3);
	assert_int_equal(t.slots[4], EMPTY_ID);
	assert_int_equal(t.e[itab_find(&t, 9, 5)].key, 9);
	assert_reachable(&t);
}

static void test_wrap_around(void **state)
{
	(void)state;
	struct itab t;
	itab_init(&t);
	/* Three keys homed at the last slot run over into slots 0 and 1. */
	assert_int_equal(itab_add(&t, 1, MASK), MASK);
	assert_int_equal(itab_add(&t, 2, MASK), 0);
	assert_int_equal(itab_add(&t, 3, MASK), 1);
	/* One homed at 0 goes after them. */
	assert_int_equal(itab_add(&t, 4, 0), 2);
	/* A hash past the mask lands on hash & mask. */
	assert_int_equal(t.e[itab_find(&t, 4, NSLOTS)].key, 4);
	assert_true(itab_del(&t, 1, MASK));
	assert_int_equal(slot_of_key(&t, 2), MASK);
	assert_int_equal(slot_of_key(&t, 3), 0);
	assert_int_equal(slot_of_key(&t, 4), 1);
	assert_int_equal(t.slots[2], EMPTY_ID);
	for (uint32_t k = 2; k <= 3; k++)
		assert_int_equal(t.e[itab_find(&t, k, MASK)].key, k);
	assert_int_equal(t.e[itab_find(&t, 4, 0)].key, 4);
	assert_reachable(&t);
}

static void test_delete_in_chain(void **state)
{
	(void)state;
	struct itab t;
	itab_init(&t);
	/* Slots 4..8: A B C (home 4), D (home 5), E (home 8, at its home). */
	assert_int_equal(itab_add(&t, 'A', 4), 4);
	assert_int_equal(itab_add(&t, 'B', 4), 5);
	assert_int_equal(itab_add(&t, 'C', 4), 6);
	assert_int_equal(itab_add(&t, 'D', 5), 7);
	assert_int_equal(itab_add(&t, 'E', 8), 8);
	assert_true(itab_del(&t, 'B', 4));
	/* C fills B's hole; D (home 5) follows into C's; E stays at its home. */
	assert_int_equal(slot_of_key(&t, 'A'), 4);
	assert_int_equal(slot_of_key(&t, 'C'), 5);
	assert_int_equal(slot_of_key(&t, 'D'), 6);
	assert_int_equal(t.slots[7], EMPTY_ID);
	assert_int_equal(slot_of_key(&t, 'E'), 8);
	assert_int_equal(t.e[itab_find(&t, 'C', 4)].key, 'C');
	assert_int_equal(t.e[itab_find(&t, 'D', 5)].key, 'D');
	assert_int_equal(t.e[itab_find(&t, 'E', 8)].key, 'E');
	assert_int_equal(itab_find(&t, 'B', 4), EMPTY_ID);
	/* Deleting the head of the chain keeps the rest reachable too. */
	assert_true(itab_del(&t, 'A', 4));
	assert_int_equal(slot_of_key(&t, 'C'), 4);
	assert_int_equal(slot_of_key(&t, 'D'), 5);
	assert_int_equal(itab_find(&t, 'A', 4), EMPTY_ID);
	assert_reachable(&t);
}

static void test_full_but_one(void **state)
{
	(void)state;
	struct itab t;
	itab_init(&t);
	/* Every slot but one taken, all homed at 0: an absent key's probe runs to the last
	 * empty slot, wherever it starts. */
	for (uint32_t k = 0; k < NSLOTS - 1; k++)
		assert_int_equal(itab_add(&t, 100 + k, 0), k);
	assert_int_equal(oa_ids_find(t.slots, MASK, EMPTY_ID, 0, &t, &(uint32_t){ 1 }, ent_is), MASK);
	assert_int_equal(oa_ids_find(t.slots, MASK, EMPTY_ID, 3, &t, &(uint32_t){ 1 }, ent_is), MASK);
	assert_int_equal(t.e[itab_find(&t, 114, 0)].key, 114);
	/* Emptying from the front shifts the run back a slot each time. */
	for (uint32_t k = 0; k < NSLOTS - 1; k++) {
		assert_true(itab_del(&t, 100 + k, 0));
		for (uint32_t m = k + 1; m < NSLOTS - 1; m++)
			assert_int_equal(slot_of_key(&t, 100 + m), m - k - 1);
		assert_reachable(&t);
	}
	for (uint32_t i = 0; i < NSLOTS; i++)
		assert_int_equal(t.slots[i], EMPTY_ID);
}

/* Random inserts and deletes against a brute-force model: the probe and the shift must agree
 * with it after every step, with homes crowded into a few slots so runs overlap and wrap. */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545F4914F6CDD1Dull) >> 32) % n;
}

static void test_random_model(void **state)
{
	(void)state;
	for (int round = 0; round < 200; round++) {
		struct itab t;
		itab_init(&t);
		bool in[MAX_ENTRIES] = { false };
		uint32_t live = 0;
		for (int step = 0; step < 300; step++) {
			uint32_t key = rnd(MAX_ENTRIES);
			uint32_t home = (key * 7u + 13u) % 5u + MASK - 2u; /* homes 13..17: across the wrap */
			if (in[key]) {
				assert_true(itab_del(&t, key, home));
				in[key] = false;
				live--;
			} else if (live < NSLOTS - 1) {
				if (t.n == MAX_ENTRIES) { /* pool used up: start over with the live keys */
					struct itab u;
					itab_init(&u);
					for (uint32_t k = 0; k < MAX_ENTRIES; k++)
						if (in[k])
							itab_add(&u, k, (k * 7u + 13u) % 5u + MASK - 2u);
					t = u;
				}
				itab_add(&t, key, home);
				in[key] = true;
				live++;
			}
			for (uint32_t k = 0; k < MAX_ENTRIES; k++) {
				uint32_t id = itab_find(&t, k, (k * 7u + 13u) % 5u + MASK - 2u);
				if (in[k])
					assert_int_equal(t.e[id].key, k);
				else
					assert_int_equal(id, EMPTY_ID);
			}
			assert_reachable(&t);
		}
	}
}

/* ---- slots holding entries: a count per address, empty at count 0 ---- */

struct cell {
	uint32_t addr;
	uint32_t home;
	uint16_t n;
};

struct ctab {
	struct cell c[NSLOTS];
	uint32_t probes; /* slots a lookup looked at */
};

static enum oa_seen cell_look(const void *tab, uint32_t i, void *q)
{
	struct ctab *t = (struct ctab *)tab;
	t->probes++;
	if (t->c[i].n == 0)
		return OA_EMPTY;
	return t->c[i].addr == *(const uint32_t *)q ? OA_HIT : OA_OTHER;
}

static bool cell_empty(const void *tab, uint32_t i)
{
	return ((const struct ctab *)tab)->c[i].n == 0;
}

static uint32_t cell_hash(const void *tab, uint32_t i)
{
	return ((const struct ctab *)tab)->c[i].home;
}

static void cell_move(void *tab, uint32_t to, uint32_t from)
{
	struct ctab *t = tab;
	t->c[to] = t->c[from];
}

static void cell_clear(void *tab, uint32_t i)
{
	((struct ctab *)tab)->c[i].n = 0;
}

static uint32_t ctab_put(struct ctab *t, uint32_t addr, uint32_t home)
{
	uint32_t s = oa_find(t, MASK, home, &addr, cell_look);
	t->c[s] = (struct cell){ .addr = addr, .home = home, .n = (uint16_t)(t->c[s].n + 1u) };
	return s;
}

static void test_entries_in_slots(void **state)
{
	(void)state;
	struct ctab t;
	memset(&t, 0, sizeof(t));
	assert_int_equal(ctab_put(&t, 10, 14), 14);
	assert_int_equal(ctab_put(&t, 11, 14), 15);
	assert_int_equal(ctab_put(&t, 12, 15), 0);
	assert_int_equal(ctab_put(&t, 11, 14), 15); /* same address: same slot */
	assert_int_equal(t.c[15].n, 2);
	oa_erase(&t, MASK, oa_find(&t, MASK, 14, &(uint32_t){ 10 }, cell_look), cell_empty, cell_hash, cell_move,
		 cell_clear);
	assert_int_equal(t.c[14].addr, 11);
	assert_int_equal(t.c[14].n, 2);
	assert_int_equal(t.c[15].addr, 12);
	assert_int_equal(t.c[0].n, 0);
	uint32_t s = oa_find(&t, MASK, 14, &(uint32_t){ 10 }, cell_look);
	assert_int_equal(t.c[s].n, 0); /* gone: the probe ends on the empty slot */
	assert_int_equal(s, 0);
}

static void test_bounded_probe(void **state)
{
	(void)state;
	struct ctab t;
	memset(&t, 0, sizeof(t));
	/* Slots 14, 15, 0, 1 taken by others, homed at 14. */
	for (uint32_t a = 0; a < 4; a++)
		ctab_put(&t, 20 + a, 14);
	/* A window of 4 from 14 holds no free slot and not the key. */
	t.probes = 0;
	assert_int_equal(oa_find_bounded(&t, MASK, 14, 4, &(uint32_t){ 99 }, cell_look), OA_NONE);
	assert_int_equal(t.probes, 4);
	/* A key inside the window is found, at the cost of its position. */
	t.probes = 0;
	assert_int_equal(oa_find_bounded(&t, MASK, 14, 4, &(uint32_t){ 22 }, cell_look), 0);
	assert_int_equal(t.probes, 3);
	/* A window of 5 reaches the empty slot 2. */
	assert_int_equal(oa_find_bounded(&t, MASK, 14, 5, &(uint32_t){ 99 }, cell_look), 2);
	/* An empty slot ends the probe before the window does. */
	t.probes = 0;
	assert_int_equal(oa_find_bounded(&t, MASK, 5, 8, &(uint32_t){ 99 }, cell_look), 5);
	assert_int_equal(t.probes, 1);
	/* Window 0 looks at nothing. */
	t.probes = 0;
	assert_int_equal(oa_find_bounded(&t, MASK, 14, 0, &(uint32_t){ 20 }, cell_look), OA_NONE);
	assert_int_equal(t.probes, 0);
	/* A completely full table: the bounded probe stops after its window, never loops. */
	for (uint32_t a = 0; a < NSLOTS; a++)
		t.c[a] = (struct cell){ .addr = 200 + a, .home = a, .n = 1 };
	t.probes = 0;
	assert_int_equal(oa_find_bounded(&t, MASK, 3, NSLOTS, &(uint32_t){ 99 }, cell_look), OA_NONE);
	assert_int_equal(t.probes, NSLOTS);
	assert_int_equal(oa_find_bounded(&t, MASK, 3, NSLOTS - 1, &(uint32_t){ 202 }, cell_look), OA_NONE);
	assert_int_equal(oa_find_bounded(&t, MASK, 3, NSLOTS, &(uint32_t){ 202 }, cell_look), 2);
	assert_int_equal(oa_find_bounded(&t, MASK, 2, NSLOTS, &(uint32_t){ 203 }, cell_look), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_find_delete), cmocka_unit_test(test_wrap_around),
		cmocka_unit_test(test_delete_in_chain),    cmocka_unit_test(test_full_but_one),
		cmocka_unit_test(test_random_model),       cmocka_unit_test(test_entries_in_slots),
		cmocka_unit_test(test_bounded_probe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
