/* Wildcard filter index of one worker; see filter_index.h. Trie nodes live in a fixed pool
 * (node 0 is the root). A node's '+' and '#' children are direct links; literal children are
 * found through one open-addressing table keyed by (parent node, level hash), linear probing
 * with backward-shift deletion like the engine's other tables (oa_table.h). A node counts
 * the filters whose path runs through it and is freed when the last one goes. */
#include "filter_index.h"

#include <stdlib.h>
#include <string.h>

#include "broker_hash.h"
#include "oa_table.h"

#define FI_NONE UINT32_MAX
#define FI_OVF (1u << 31) /* where[]: in the overflow list at this position */

struct fi_node {
	uint32_t parent;
	uint32_t label;   /* literal level hash (nodes reached by '+'/'#' do not use it) */
	uint32_t refs;    /* filters whose path includes this node */
	uint32_t filters; /* first filter ending here, chained through next[] */
	uint32_t plus;    /* child by '+' */
	uint32_t hash;    /* child by '#' */
};

struct fi_frame {
	uint32_t node;
	uint32_t off; /* where the level the node's children consume starts; len + 1: none left */
};

struct filter_index {
	uint32_t max_filters, max_entries;
	uint16_t max_len;
	uint32_t count;
	uint32_t *where; /* [max_entries + 1] terminal node, FI_OVF | position, or FI_NONE */
	uint32_t *next;  /* [max_entries + 1] next filter ending at the same node */
	uint32_t *ovf;
	uint32_t n_ovf;
	struct fi_node *n;
	uint32_t max_nodes; /* root included */
	uint32_t *free_stack;
	uint32_t n_free;
	uint32_t *slots; /* literal edges: child node or FI_NONE */
	uint32_t mask;
	struct fi_frame *stack; /* match scratch: trie depth + 2 frames */
	uint32_t stack_cap;
};

/* One pass over the level starting at off: its hash (bh_bytes' FNV-1a, then mixed) and
 * where it ends (the '/' after it, or len). Levels are short: no memchr call. */
static inline uint32_t level_scan(const uint8_t *s, uint32_t len, uint32_t off, uint32_t *end)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ 0x1e7e1u ^ bh_seed;
	uint32_t i = off;
	for (; i < len && s[i] != '/'; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	*end = i;
	return bh_mix64(h);
}

static uint32_t edge_hash(uint32_t parent, uint32_t label)
{
	return bh_key64(((uint64_t)parent << 32) | label);
}

struct filter_index *filter_index_create(uint32_t max_filters, uint32_t max_entries, uint16_t max_len)
{
	if (max_filters == 0 || max_entries == 0 || max_entries >= (1u << 30) || max_len == 0)
		return NULL;
	if (max_filters > max_entries)
		max_filters = max_entries;
	uint64_t nodes = (uint64_t)max_filters * FI_NODES_PER_FILTER + 1u;
	if (nodes > (1u << 30))
		nodes = 1u << 30;
	struct filter_index *x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->max_filters = max_filters;
	x->max_entries = max_entries;
	x->max_len = max_len;
	x->max_nodes = (uint32_t)nodes;
	uint32_t ns = bh_slots_for(x->max_nodes);
	x->mask = ns - 1;
	/* A filter of max_len bytes has at most max_len + 1 levels: the trie is no deeper. */
	x->stack_cap = (uint32_t)max_len + 3u;
	x->where = malloc(((size_t)max_entries + 1u) * sizeof(uint32_t));
	x->next = malloc(((size_t)max_entries + 1u) * sizeof(uint32_t));
	x->ovf = malloc((size_t)max_filters * sizeof(uint32_t));
	x->n = calloc(x->max_nodes, sizeof(*x->n));
	x->free_stack = malloc((size_t)x->max_nodes * sizeof(uint32_t));
	x->slots = malloc((size_t)ns * sizeof(uint32_t));
	x->stack = malloc((size_t)x->stack_cap * sizeof(*x->stack));
	if (!x->where || !x->next || !x->ovf || !x->n || !x->free_stack || !x->slots || !x->stack) {
		filter_index_destroy(x);
		return NULL;
	}
	memset(x->where, 0xff, ((size_t)max_entries + 1u) * sizeof(uint32_t));
	memset(x->slots, 0xff, (size_t)ns * sizeof(uint32_t));
	x->n[0] = (struct fi_node){ .parent = FI_NONE, .filters = FI_NONE, .plus = FI_NONE, .hash = FI_NONE };
	for (uint32_t i = 1; i < x->max_nodes; i++)
		x->free_stack[x->n_free++] = x->max_nodes - i;
	return x;
}

void filter_index_destroy(struct filter_index *x)
{
	if (!x)
		return;
	free(x->where);
	free(x->next);
	free(x->ovf);
	free(x->n);
	free(x->free_stack);
	free(x->slots);
	free(x->stack);
	free(x);
}

/* ---- literal edges ---- */

struct edge_key {
	uint32_t parent;
	uint32_t label;
};

static bool edge_is(const void *tab, uint32_t c, const void *q)
{
	const struct fi_node *n = &((const struct filter_index *)tab)->n[c];
	const struct edge_key *k = q;
	return n->parent == k->parent && n->label == k->label;
}

static uint32_t edge_hash_of(const void *tab, uint32_t c)
{
	const struct fi_node *n = &((const struct filter_index *)tab)->n[c];
	return edge_hash(n->parent, n->label);
}

static uint32_t edge_slot(const struct filter_index *x, uint32_t parent, uint32_t label)
{
	struct edge_key k = { .parent = parent, .label = label };
	return oa_ids_find(x->slots, x->mask, FI_NONE, edge_hash(parent, label), x, &k, edge_is);
}

static void edge_delete(struct filter_index *x, uint32_t c)
{
	oa_ids_erase(x->slots, x->mask, FI_NONE, edge_slot(x, x->n[c].parent, x->n[c].label), x, edge_hash_of);
}

/* ---- add / remove ---- */

enum { LV_LITERAL, LV_PLUS, LV_HASH };

/* The level starting at off: its kind, hash and the offset after it (len + 1 at the end). */
static int level_at(const uint8_t *f, uint32_t len, uint32_t off, uint32_t *label, uint32_t *next)
{
	uint32_t end;
	*label = level_scan(f, len, off, &end);
	*next = end + 1;
	if (end - off == 1 && f[off] == '+')
		return LV_PLUS;
	if (end - off == 1 && f[off] == '#')
		return LV_HASH;
	return LV_LITERAL;
}

static uint32_t child(const struct filter_index *x, uint32_t node, int kind, uint32_t label)
{
	if (kind == LV_PLUS)
		return x->n[node].plus;
	if (kind == LV_HASH)
		return x->n[node].hash;
	return x->slots[edge_slot(x, node, label)];
}

int filter_index_add(struct filter_index *x, uint32_t entry, const uint8_t *filter, uint16_t len)
{
	if (entry == 0 || entry > x->max_entries || x->where[entry] != FI_NONE || len == 0 || len > x->max_len ||
	    x->count >= x->max_filters)
		return -1;
	/* Nodes the path lacks: every level from the first missing one on. */
	uint32_t node = 0, off = 0, need = 0, label = 0, nxt;
	while (off <= len) {
		int kind = level_at(filter, len, off, &label, &nxt);
		uint32_t c = need ? FI_NONE : child(x, node, kind, label);
		if (c == FI_NONE)
			need++;
		else
			node = c;
		off = nxt;
	}
	if (need > x->n_free) {
		x->where[entry] = FI_OVF | x->n_ovf;
		x->ovf[x->n_ovf++] = entry;
		x->count++;
		return 0;
	}
	node = 0;
	for (off = 0; off <= len; off = nxt) {
		int kind = level_at(filter, len, off, &label, &nxt);
		uint32_t c = child(x, node, kind, label);
		if (c == FI_NONE) {
			c = x->free_stack[--x->n_free];
			x->n[c] = (struct fi_node){ .parent = node,
						    .label = kind == LV_LITERAL ? label : 0,
						    .filters = FI_NONE,
						    .plus = FI_NONE,
						    .hash = FI_NONE };
			if (kind == LV_PLUS)
				x->n[node].plus = c;
			else if (kind == LV_HASH)
				x->n[node].hash = c;
			else
				x->slots[edge_slot(x, node, label)] = c;
		}
		x->n[c].refs++;
		node = c;
	}
	x->next[entry] = x->n[node].filters;
	x->n[node].filters = entry;
	x->where[entry] = node;
	x->count++;
	return 0;
}

void filter_index_remove(struct filter_index *x, uint32_t entry)
{
	if (entry == 0 || entry > x->max_entries || x->where[entry] == FI_NONE)
		return;
	uint32_t w = x->where[entry];
	x->where[entry] = FI_NONE;
	x->count--;
	if (w & FI_OVF) {
		uint32_t pos = w & ~FI_OVF, last = x->ovf[--x->n_ovf];
		x->ovf[pos] = last;
		if (last != entry)
			x->where[last] = FI_OVF | pos;
		return;
	}
	uint32_t *link = &x->n[w].filters;
	while (*link != entry)
		link = &x->next[*link];
	*link = x->next[entry];
	for (uint32_t c = w; c != 0;) {
		uint32_t p = x->n[c].parent;
		if (--x->n[c].refs == 0) {
			if (x->n[p].plus == c)
				x->n[p].plus = FI_NONE;
			else if (x->n[p].hash == c)
				x->n[p].hash = FI_NONE;
			else
				edge_delete(x, c);
			x->free_stack[x->n_free++] = c;
		}
		c = p;
	}
}

/* ---- match ---- */

static uint32_t report(const struct filter_index *x, uint32_t first, filter_index_fn fn, void *ctx)
{
	uint32_t k = 0;
	for (uint32_t e = first; e != FI_NONE; e = x->next[e], k++)
		fn(ctx, e);
	return k;
}

uint32_t filter_index_match(struct filter_index *x, const uint8_t *topic, uint16_t len, filter_index_fn fn, void *ctx)
{
	if (x->count == 0)
		return 0;
	uint32_t k = 0;
	for (uint32_t i = 0; i < x->n_ovf; i++, k++)
		fn(ctx, x->ovf[i]);
	if (x->count == x->n_ovf)
		return k;
	/* A '$' topic is not matched by a filter starting with a wildcard (4.7.2). */
	const int dollar = len > 0 && topic[0] == '$';
	const uint32_t end = (uint32_t)len + 1u;
	uint32_t sp = 0;
	x->stack[sp++] = (struct fi_frame){ .node = 0, .off = 0 };
	while (sp) {
		struct fi_frame f = x->stack[--sp];
		const struct fi_node *n = &x->n[f.node];
		int wild_ok = !(dollar && f.node == 0);
		if (n->hash != FI_NONE && wild_ok)
			k += report(x, x->n[n->hash].filters, fn, ctx); /* "a/#" also matches "a" */
		if (f.off == end) {
			k += report(x, n->filters, fn, ctx);
			continue;
		}
		uint32_t e, label = level_scan(topic, len, f.off, &e);
		/* Each frame pushes at most two and the trie is at most stack_cap - 2 deep, so
		 * the stack never holds more than depth + 1 frames. */
		if (n->plus != FI_NONE && wild_ok)
			x->stack[sp++] = (struct fi_frame){ .node = n->plus, .off = e + 1 };
		uint32_t c = x->slots[edge_slot(x, f.node, label)];
		if (c != FI_NONE)
			x->stack[sp++] = (struct fi_frame){ .node = c, .off = e + 1 };
	}
	return k;
}

uint32_t filter_index_count(const struct filter_index *x)
{
	return x->count;
}

uint32_t filter_index_overflow(const struct filter_index *x)
{
	return x->n_ovf;
}

uint32_t filter_index_nodes(const struct filter_index *x)
{
	return x->max_nodes - 1u - x->n_free;
}
