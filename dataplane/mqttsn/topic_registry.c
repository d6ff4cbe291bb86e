/* Topic registry of one worker: open-addressing index (oa_table.h: linear probing,
 * backward-shift deletion) over fixed entry slots; names are stored in one slab of max_len bytes per
 * entry, so interning never allocates. See topic_registry.h. */
#include "topic_registry.h"

#include <stdlib.h>
#include <string.h>

#include "broker_hash.h"
#include "oa_table.h"

struct topic_entry {
	uint32_t hash;
	uint32_t refcnt;
	uint16_t len;
	uint8_t kind;
	uint8_t used;
};

struct topic_registry {
	uint32_t max;
	uint16_t max_len;
	uint32_t count;
	uint32_t names_live;
	struct topic_entry *e; /* [max + 1]; index = id, 0 unused */
	uint8_t *names;        /* [(max + 1) * max_len] */
	uint32_t *free_ids;
	uint32_t n_free;
	uint32_t *slots; /* id or 0 */
	uint32_t mask;
};

static uint32_t key_hash(enum topic_kind kind, const uint8_t *name, uint16_t len)
{
	return bh_bytes(name, len, (uint64_t)kind + 1u);
}

struct topic_registry *topic_registry_create(uint32_t max_topics, uint16_t max_len)
{
	if (max_topics == 0 || max_topics > TOPIC_REGISTRY_MAX || max_len == 0)
		return NULL;
	struct topic_registry *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->max = max_topics;
	r->max_len = max_len;
	uint32_t nslots = bh_slots_for(max_topics);
	r->mask = nslots - 1;
	r->e = calloc(max_topics + 1u, sizeof(*r->e));
	r->names = calloc((size_t)(max_topics + 1u) * max_len, 1);
	r->free_ids = calloc(max_topics, sizeof(*r->free_ids));
	r->slots = calloc(nslots, sizeof(*r->slots));
	if (!r->e || !r->names || !r->free_ids || !r->slots) {
		topic_registry_destroy(r);
		return NULL;
	}
	/* Pop order hands out 1, 2, 3, ... first: predictable ids for tests and humans. */
	for (uint32_t i = 0; i < max_topics; i++)
		r->free_ids[i] = max_topics - i;
	r->n_free = max_topics;
	return r;
}

void topic_registry_destroy(struct topic_registry *r)
{
	if (!r)
		return;
	free(r->e);
	free(r->names);
	free(r->free_ids);
	free(r->slots);
	free(r);
}

static uint8_t *name_at(const struct topic_registry *r, uint32_t id)
{
	return r->names + (size_t)id * r->max_len;
}

struct name_key {
	enum topic_kind kind;
	const uint8_t *name;
	uint16_t len;
	uint32_t hash;
};

static bool entry_is(const void *tab, uint32_t id, const void *q)
{
	const struct topic_registry *r = tab;
	const struct name_key *k = q;
	const struct topic_entry *e = &r->e[id];
	return e->hash == k->hash && e->kind == k->kind && e->len == k->len &&
	       memcmp(name_at(r, id), k->name, k->len) == 0;
}

static uint32_t entry_hash(const void *tab, uint32_t id)
{
	return ((const struct topic_registry *)tab)->e[id].hash;
}

static uint32_t lookup_slot(const struct topic_registry *r, enum topic_kind kind, const uint8_t *name, uint16_t len,
			    uint32_t h)
{
	struct name_key k = { .kind = kind, .name = name, .len = len, .hash = h };
	return oa_ids_find(r->slots, r->mask, 0, h, r, &k, entry_is);
}

uint32_t topic_registry_find(const struct topic_registry *r, enum topic_kind kind, const uint8_t *name, uint16_t len)
{
	if (len == 0 || len > r->max_len)
		return TOPIC_NONE;
	uint32_t h = key_hash(kind, name, len);
	return r->slots[lookup_slot(r, kind, name, len, h)];
}

uint32_t topic_registry_intern(struct topic_registry *r, enum topic_kind kind, const uint8_t *name, uint16_t len)
{
	if (len == 0 || len > r->max_len)
		return TOPIC_NONE;
	uint32_t h = key_hash(kind, name, len);
	uint32_t slot = lookup_slot(r, kind, name, len, h);
	if (r->slots[slot])
		return r->slots[slot];
	if (r->n_free == 0)
		return TOPIC_NONE;
	uint32_t id = r->free_ids[--r->n_free];
	struct topic_entry *e = &r->e[id];
	*e = (struct topic_entry){ .hash = h, .len = len, .kind = (uint8_t)kind, .used = 1 };
	memcpy(name_at(r, id), name, len);
	r->slots[slot] = id;
	r->count++;
	if (kind == TOPIC_KIND_NAME)
		r->names_live++;
	return id;
}

static void remove_entry(struct topic_registry *r, uint32_t id)
{
	struct topic_entry *e = &r->e[id];
	uint32_t i = lookup_slot(r, (enum topic_kind)e->kind, name_at(r, id), e->len, e->hash);
	oa_ids_erase(r->slots, r->mask, 0, i, r, entry_hash);
	if (e->kind == TOPIC_KIND_NAME)
		r->names_live--;
	e->used = 0;
	r->count--;
	r->free_ids[r->n_free++] = id;
}

static bool live(const struct topic_registry *r, uint32_t id)
{
	return id != TOPIC_NONE && id <= r->max && r->e[id].used;
}

void topic_registry_ref(struct topic_registry *r, uint32_t id)
{
	if (live(r, id))
		r->e[id].refcnt++;
}

void topic_registry_unref(struct topic_registry *r, uint32_t id)
{
	if (!live(r, id) || r->e[id].refcnt == 0)
		return;
	if (--r->e[id].refcnt == 0)
		remove_entry(r, id);
}

void topic_registry_drop_unused(struct topic_registry *r, uint32_t id)
{
	if (live(r, id) && r->e[id].refcnt == 0)
		remove_entry(r, id);
}

bool topic_registry_live(const struct topic_registry *r, enum topic_kind kind, uint32_t id)
{
	return live(r, id) && r->e[id].kind == (uint8_t)kind;
}

const uint8_t *topic_registry_name(const struct topic_registry *r, uint32_t id, uint16_t *len)
{
	if (!live(r, id)) {
		*len = 0;
		return NULL;
	}
	*len = r->e[id].len;
	return name_at(r, id);
}

uint32_t topic_registry_refs(const struct topic_registry *r, uint32_t id)
{
	return live(r, id) ? r->e[id].refcnt : 0;
}

uint32_t topic_registry_count(const struct topic_registry *r)
{
	return r->count;
}

uint32_t topic_registry_name_count(const struct topic_registry *r)
{
	return r->names_live;
}
