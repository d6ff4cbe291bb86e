/* Predefined-topic tables of a generation (predef_table.h). Built once per generation on the
 * control side; lookups are a binary search by id, an open-addressing probe by name, and for
 * the client's rule a probe by ClientId plus a scan of the prefix rules before it. */
#include <stdlib.h>
#include <string.h>

#include "fanout/client_hash.h"
#include "predef_table.h"
#include "topic_match.h"

struct predef_item {
	uint16_t id;
	uint16_t len;
	uint32_t hash;
	const uint8_t *name; /* in the set's own storage */
};

struct predef_table {
	struct predef_item *items; /* sorted by id */
	uint32_t n;
	uint32_t *by_name; /* [mask + 1]: item index + 1, 0 = empty */
	uint32_t mask;
};

struct predef_rule {
	uint8_t cid[23];
	uint8_t len;
	bool prefix;
	uint32_t table; /* index into tables */
};

struct predef_set {
	struct predef_table *tables; /* [0] = global, then one per rule */
	uint32_t n_tables;
	struct predef_rule *rules;
	uint32_t n_rules;
	uint32_t *by_cid; /* exact rules: rule index + 1, 0 = empty */
	uint32_t cid_mask;
	uint32_t *prefixes; /* prefix rules' indexes, in order */
	uint32_t n_prefixes;
	uint8_t *names;          /* every name once per table it is in */
	struct predef_table all; /* every name of every table once (ids not used) */
};

uint32_t predef_name_hash(const uint8_t *name, uint16_t len)
{
	return fo_client_id_hash(name, len);
}

static uint32_t pow2_above(uint32_t n)
{
	uint32_t m = 4;
	while (m < 2 * n)
		m <<= 1;
	return m;
}

static int cmp_item(const void *a, const void *b)
{
	const struct predef_item *x = a, *y = b;
	return (int)x->id - (int)y->id;
}

static bool same_name(const struct predef_item *it, const uint8_t *name, uint16_t len)
{
	return it->len == len && memcmp(it->name, name, len) == 0;
}

static const struct predef_item *find_name(const struct predef_table *t, const uint8_t *name, uint16_t len, uint32_t h)
{
	for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
		uint32_t x = t->by_name[i];
		if (x == 0)
			return NULL;
		const struct predef_item *it = &t->items[x - 1];
		if (it->hash == h && same_name(it, name, len))
			return it;
	}
}

static const struct predef_item *find_id(const struct predef_table *t, uint16_t id)
{
	/* ids numbered 1..n (the usual list) sit at their own index: the items are sorted and
	 * unique, so an item found there is the one */
	if (id >= 1 && id <= t->n && t->items[id - 1].id == id)
		return &t->items[id - 1];
	uint32_t lo = 0, hi = t->n;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (t->items[mid].id == id)
			return &t->items[mid];
		if (t->items[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Checks one list: ids 1..65534, valid names, both unique. */
static const char *check_list(const struct broker_predefined *p, uint32_t n, uint16_t max_len)
{
	for (uint32_t i = 0; i < n; i++) {
		if (p[i].id == 0 || p[i].id == 0xFFFF)
			return "predefined topic id 0x0000 and 0xFFFF are reserved";
		if (!p[i].name || !topic_name_valid((const uint8_t *)p[i].name, strlen(p[i].name), max_len))
			return "predefined topic name must be a valid topic name (no wildcards) within max_topic_len";
		for (uint32_t j = 0; j < i; j++) {
			if (p[j].id == p[i].id)
				return "predefined topics: duplicate topic id";
			if (strcmp(p[j].name, p[i].name) == 0)
				return "predefined topics: duplicate topic name";
		}
	}
	return NULL;
}

/* Appends one entry to table t (its items have room), copying the name into *store. */
static void add_item(struct predef_table *t, const struct broker_predefined *p, uint8_t **store)
{
	uint16_t len = (uint16_t)strlen(p->name);
	memcpy(*store, p->name, len);
	t->items[t->n++] = (struct predef_item){
		.id = p->id, .len = len, .hash = predef_name_hash(*store, len), .name = *store
	};
	*store += len;
}

static bool in_list(const struct broker_predefined *own, uint32_t n, const struct broker_predefined *p)
{
	for (uint32_t i = 0; i < n; i++)
		if (own[i].id == p->id || strcmp(own[i].name, p->name) == 0)
			return true;
	return false;
}

/* Sorts the table by id and indexes it by name. */
static int index_table(struct predef_table *t)
{
	qsort(t->items, t->n, sizeof(*t->items), cmp_item);
	t->mask = pow2_above(t->n) - 1;
	t->by_name = calloc(t->mask + 1, sizeof(*t->by_name));
	if (!t->by_name)
		return -1;
	for (uint32_t k = 0; k < t->n; k++) {
		uint32_t i = t->items[k].hash & t->mask;
		while (t->by_name[i] != 0)
			i = (i + 1) & t->mask;
		t->by_name[i] = k + 1;
	}
	return 0;
}

void predef_set_free(struct predef_set *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->n_tables; i++) {
		free(s->tables[i].items);
		free(s->tables[i].by_name);
	}
	free(s->tables);
	free(s->rules);
	free(s->by_cid);
	free(s->prefixes);
	free(s->names);
	free(s->all.items);
	free(s->all.by_name);
	free(s);
}

static size_t list_bytes(const struct broker_predefined *p, uint32_t n)
{
	size_t sum = 0;
	for (uint32_t i = 0; i < n; i++)
		sum += strlen(p[i].name);
	return sum;
}

struct predef_set *predef_set_build(const struct broker_predefined *global, uint32_t n_global,
				    const struct broker_client_predefined *rules, uint32_t n_rules, uint16_t max_len,
				    const char **err)
{
	*err = NULL;
	bool any = n_global > 0;
	if ((n_global && !global) || (n_rules && !rules))
		return *err = "predefined topics: count without entries", NULL;
	if ((*err = check_list(global, n_global, max_len)) != NULL)
		return NULL;
	for (uint32_t r = 0; r < n_rules; r++) {
		const struct broker_client_predefined *cr = &rules[r];
		if (cr->client_id_len > 23 || (!cr->prefix && cr->client_id_len == 0) || (cr->n_topics && !cr->topics))
			return *err = "client predefined topics: a ClientId is 1..23 bytes (a prefix 0..23)", NULL;
		if ((*err = check_list(cr->topics, cr->n_topics, max_len)) != NULL)
			return NULL;
		any = any || cr->n_topics > 0;
	}
	if (!any)
		return NULL;
	struct predef_set *s = calloc(1, sizeof(*s));
	if (!s)
		return *err = "predefined topics: out of memory", NULL;
	size_t bytes = list_bytes(global, n_global) * (n_rules + 1);
	for (uint32_t r = 0; r < n_rules; r++)
		bytes += list_bytes(rules[r].topics, rules[r].n_topics);
	s->names = malloc(bytes ? bytes : 1);
	s->tables = calloc(n_rules + 1, sizeof(*s->tables));
	s->rules = calloc(n_rules ? n_rules : 1, sizeof(*s->rules));
	s->cid_mask = pow2_above(n_rules) - 1;
	s->by_cid = calloc(s->cid_mask + 1, sizeof(*s->by_cid));
	s->prefixes = calloc(n_rules ? n_rules : 1, sizeof(*s->prefixes));
	if (!s->names || !s->tables || !s->rules || !s->by_cid || !s->prefixes)
		goto oom;
	uint8_t *store = s->names;
	s->n_tables = n_rules + 1;
	for (uint32_t t = 0; t < s->n_tables; t++) {
		const struct broker_client_predefined *cr = t ? &rules[t - 1] : NULL;
		uint32_t own = cr ? cr->n_topics : 0;
		struct predef_table *tb = &s->tables[t];
		tb->items = calloc(own + n_global ? own + n_global : 1, sizeof(*tb->items));
		if (!tb->items)
			goto oom;
		for (uint32_t i = 0; i < own; i++)
			add_item(tb, &cr->topics[i], &store);
		for (uint32_t i = 0; i < n_global; i++)
			if (!cr || !in_list(cr->topics, own, &global[i]))
				add_item(tb, &global[i], &store);
		if (index_table(tb) != 0)
			goto oom;
	}
	for (uint32_t r = 0; r < n_rules; r++) {
		struct predef_rule *pr = &s->rules[r];
		pr->len = rules[r].client_id_len;
		memcpy(pr->cid, rules[r].client_id, pr->len);
		pr->prefix = rules[r].prefix;
		pr->table = r + 1;
		if (pr->prefix) {
			s->prefixes[s->n_prefixes++] = r;
			continue;
		}
		uint32_t i = fo_client_id_hash(pr->cid, pr->len) & s->cid_mask;
		while (s->by_cid[i] != 0) {
			const struct predef_rule *o = &s->rules[s->by_cid[i] - 1];
			if (o->len == pr->len && memcmp(o->cid, pr->cid, pr->len) == 0)
				break; /* a later rule for the same ClientId never wins */
			i = (i + 1) & s->cid_mask;
		}
		if (s->by_cid[i] == 0)
			s->by_cid[i] = r + 1;
	}
	/* The union of the names, so a fan-out of a name no client has predefined looks no further. */
	uint32_t total = 0;
	for (uint32_t t = 0; t < s->n_tables; t++)
		total += s->tables[t].n;
	s->all.items = calloc(total ? total : 1, sizeof(*s->all.items));
	s->all.mask = pow2_above(total) - 1;
	s->all.by_name = calloc(s->all.mask + 1, sizeof(*s->all.by_name));
	if (!s->all.items || !s->all.by_name)
		goto oom;
	for (uint32_t t = 0; t < s->n_tables; t++)
		for (uint32_t k = 0; k < s->tables[t].n; k++) {
			const struct predef_item *it = &s->tables[t].items[k];
			if (find_name(&s->all, it->name, it->len, it->hash))
				continue;
			s->all.items[s->all.n] = *it;
			uint32_t i = it->hash & s->all.mask;
			while (s->all.by_name[i] != 0)
				i = (i + 1) & s->all.mask;
			s->all.by_name[i] = ++s->all.n;
		}
	s->n_rules = n_rules;
	return s;
oom:
	predef_set_free(s);
	return *err = "predefined topics: out of memory", NULL;
}

const struct predef_table *predef_client_table(const struct predef_set *s, const uint8_t *cid, uint16_t clen,
					       uint32_t cid_hash)
{
	if (!s)
		return NULL;
	uint32_t best = s->n_rules; /* none */
	if (clen > 0 && clen <= 23 && s->n_rules > 0)
		for (uint32_t i = cid_hash & s->cid_mask; s->by_cid[i] != 0; i = (i + 1) & s->cid_mask) {
			const struct predef_rule *r = &s->rules[s->by_cid[i] - 1];
			if (r->len == clen && memcmp(r->cid, cid, clen) == 0) {
				best = s->by_cid[i] - 1;
				break;
			}
		}
	for (uint32_t k = 0; k < s->n_prefixes && s->prefixes[k] < best; k++) {
		const struct predef_rule *r = &s->rules[s->prefixes[k]];
		if (clen >= r->len && memcmp(r->cid, cid, r->len) == 0) {
			best = s->prefixes[k];
			break;
		}
	}
	const struct predef_table *t = &s->tables[best < s->n_rules ? s->rules[best].table : 0];
	return t->n ? t : NULL;
}

const struct predef_table *predef_global_table(const struct predef_set *s)
{
	return s && s->tables[0].n ? &s->tables[0] : NULL;
}

const uint8_t *predef_name(const struct predef_table *t, uint16_t id, uint16_t *len, uint32_t *name_hash)
{
	const struct predef_item *it = t ? find_id(t, id) : NULL;
	if (!it)
		return NULL;
	*len = it->len;
	if (name_hash)
		*name_hash = it->hash;
	return it->name;
}

uint16_t predef_id(const struct predef_table *t, const uint8_t *name, uint16_t len, uint32_t name_hash)
{
	const struct predef_item *it = t ? find_name(t, name, len, name_hash) : NULL;
	return it ? it->id : 0;
}

bool predef_set_per_client(const struct predef_set *s)
{
	return s && s->n_rules > 0;
}

bool predef_set_names(const struct predef_set *s, const uint8_t *name, uint16_t len, uint32_t name_hash)
{
	return s && find_name(&s->all, name, len, name_hash) != NULL;
}

uint32_t predef_table_size(const struct predef_table *t)
{
	return t ? t->n : 0;
}
