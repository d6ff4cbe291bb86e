/* Subscription table of one worker; see subscription_table.h. Node pool with a free
 * stack, per-entry list heads indexed by registry id, (session, entry) open-addressing
 * index (oa_table.h), dense wildcard array with positions per entry. */
#include "subscription_table.h"

#include <stdlib.h>
#include <string.h>

#include "broker_hash.h"
#include "oa_table.h"

struct subscription_table {
	uint32_t max;
	uint32_t count;
	uint32_t max_entries;
	struct sub_node *n;
	uint32_t *free_stack;
	uint32_t n_free;
	uint32_t *head;  /* [max_entries + 1] entry -> first node */
	uint32_t *slots; /* node or SUB_NONE */
	uint32_t mask;
	uint32_t *wild; /* wildcard entries with subscribers */
	uint32_t n_wild;
	uint32_t *wild_pos; /* [max_entries + 1] position in wild[] */
};

static uint32_t pair_hash(uint32_t session, uint32_t entry)
{
	return bh_key64(((uint64_t)session << 32) | entry | (1ULL << 62));
}

struct subscription_table *subscription_table_create(uint32_t max_subscriptions, uint32_t max_entries)
{
	if (max_subscriptions == 0 || max_subscriptions >= SUB_NONE / 4 || max_entries == 0 ||
	    max_entries >= (1u << 29))
		return NULL;
	struct subscription_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->max = max_subscriptions;
	t->max_entries = max_entries;
	uint32_t ns = bh_slots_for(max_subscriptions);
	t->mask = ns - 1;
	t->n = calloc(max_subscriptions, sizeof(*t->n));
	t->free_stack = calloc(max_subscriptions, sizeof(*t->free_stack));
	t->head = malloc((size_t)(max_entries + 1u) * sizeof(uint32_t));
	t->slots = malloc((size_t)ns * sizeof(uint32_t));
	t->wild = calloc(max_entries, sizeof(*t->wild));
	t->wild_pos = calloc(max_entries + 1u, sizeof(*t->wild_pos));
	if (!t->n || !t->free_stack || !t->head || !t->slots || !t->wild || !t->wild_pos) {
		subscription_table_destroy(t);
		return NULL;
	}
	memset(t->head, 0xff, (size_t)(max_entries + 1u) * sizeof(uint32_t));
	memset(t->slots, 0xff, (size_t)ns * sizeof(uint32_t));
	for (uint32_t i = 0; i < max_subscriptions; i++)
		t->free_stack[i] = max_subscriptions - 1 - i;
	t->n_free = max_subscriptions;
	return t;
}

void subscription_table_destroy(struct subscription_table *t)
{
	if (!t)
		return;
	free(t->n);
	free(t->free_stack);
	free(t->head);
	free(t->slots);
	free(t->wild);
	free(t->wild_pos);
	free(t);
}

struct pair_key {
	uint32_t session;
	uint32_t entry;
};

static bool node_is(const void *tab, uint32_t x, const void *q)
{
	const struct sub_node *n = &((const struct subscription_table *)tab)->n[x];
	const struct pair_key *k = q;
	return n->session == k->session && n->entry == k->entry;
}

static uint32_t node_hash(const void *tab, uint32_t x)
{
	const struct sub_node *n = &((const struct subscription_table *)tab)->n[x];
	return pair_hash(n->session, n->entry);
}

static uint32_t slot_of(const struct subscription_table *t, uint32_t session, uint32_t entry)
{
	struct pair_key k = { .session = session, .entry = entry };
	return oa_ids_find(t->slots, t->mask, SUB_NONE, pair_hash(session, entry), t, &k, node_is);
}

uint32_t sub_find(const struct subscription_table *t, uint32_t session, uint32_t entry)
{
	return t->slots[slot_of(t, session, entry)];
}

uint32_t sub_add(struct subscription_table *t, uint32_t *session_head, uint32_t session, uint32_t entry, uint8_t qos,
		 bool wildcard, bool *created)
{
	*created = false;
	if (entry == 0 || entry > t->max_entries)
		return SUB_NONE;
	uint32_t slot = slot_of(t, session, entry);
	uint32_t x = t->slots[slot];
	if (x != SUB_NONE) {
		t->n[x].qos = qos & 3u;
		return x;
	}
	if (t->n_free == 0)
		return SUB_NONE;
	x = t->free_stack[--t->n_free];
	struct sub_node *n = &t->n[x];
	*n = (struct sub_node){ .session = session,
				.s_next = *session_head,
				.s_prev = SUB_NONE,
				.t_next = t->head[entry],
				.t_prev = SUB_NONE,
				.entry = entry,
				.qos = qos & 3u,
				.wildcard = wildcard };
	if (*session_head != SUB_NONE)
		t->n[*session_head].s_prev = x;
	*session_head = x;
	if (t->head[entry] != SUB_NONE)
		t->n[t->head[entry]].t_prev = x;
	else if (wildcard) {
		t->wild_pos[entry] = t->n_wild;
		t->wild[t->n_wild++] = entry;
	}
	t->head[entry] = x;
	t->slots[slot] = x;
	t->count++;
	*created = true;
	return x;
}

void sub_remove(struct subscription_table *t, uint32_t *session_head, uint32_t x)
{
	if (x >= t->max)
		return;
	struct sub_node *n = &t->n[x];
	uint32_t i = slot_of(t, n->session, n->entry);
	if (t->slots[i] != x)
		return; /* not live */
	oa_ids_erase(t->slots, t->mask, SUB_NONE, i, t, node_hash);

	if (n->s_prev != SUB_NONE)
		t->n[n->s_prev].s_next = n->s_next;
	else
		*session_head = n->s_next;
	if (n->s_next != SUB_NONE)
		t->n[n->s_next].s_prev = n->s_prev;

	if (n->t_prev != SUB_NONE)
		t->n[n->t_prev].t_next = n->t_next;
	else
		t->head[n->entry] = n->t_next;
	if (n->t_next != SUB_NONE)
		t->n[n->t_next].t_prev = n->t_prev;

	if (n->wildcard && t->head[n->entry] == SUB_NONE) {
		uint32_t pos = t->wild_pos[n->entry];
		uint32_t last = t->wild[--t->n_wild];
		t->wild[pos] = last;
		t->wild_pos[last] = pos;
	}
	t->free_stack[t->n_free++] = x;
	t->count--;
}

const struct sub_node *sub_get(const struct subscription_table *t, uint32_t x)
{
	return x < t->max ? &t->n[x] : NULL;
}

uint32_t sub_first(const struct subscription_table *t, uint32_t entry)
{
	return entry <= t->max_entries ? t->head[entry] : SUB_NONE;
}

uint32_t sub_wildcard_count(const struct subscription_table *t)
{
	return t->n_wild;
}

uint32_t sub_wildcard_at(const struct subscription_table *t, uint32_t i)
{
	return i < t->n_wild ? t->wild[i] : 0;
}

uint32_t sub_count(const struct subscription_table *t)
{
	return t->count;
}
