/* Session table and client topic maps of one worker. Sessions live in a fixed array
 * (index = handle) with a free stack; two open-addressing indexes (address, client id)
 * store session indexes; the Wireless Node Ids of clients behind forwarders sit in a side
 * pool indexed by session (a session's `forwarded` bit says whether to look), so a direct
 * client pays nothing for them; an IPv6 client's address sits in a side array by session index (its
 * `v6` bit says whether to look; the session's `ip` holds the 32-bit key of its /64), the map pool
 * has its own two, (session, topic id) and (session,
 * registry entry). All linear probing with backward-shift deletion (oa_table.h); see
 * mqttsn_session.h. */
#include "mqttsn_session.h"

#include <stdlib.h>
#include <string.h>

#include "broker_hash.h"
#include "fanout/client_hash.h"
#include "oa_table.h"

#define SLOT_EMPTY UINT32_MAX

struct session_table {
	uint32_t max;
	uint32_t count;
	struct mqttsn_session *s;
	uint32_t *free_stack;
	uint32_t n_free;
	uint32_t *by_addr;  /* session index or SLOT_EMPTY */
	uint8_t (*ip6)[16]; /* by session: the IPv6 address of a `v6` session */
	uint32_t *by_id;
	uint32_t *cid_hash; /* by session: fo_client_id_hash of its ClientId (0 without one) */
	uint32_t smask;

	struct node_entry *nodes; /* node ids of forwarded sessions */
	uint32_t *node_free;
	uint32_t *node_slots; /* by session */
	uint32_t node_max, node_n_free, nmask;

	uint32_t map_max;
	uint32_t map_count;
	struct ctmap_entry *m;
	uint32_t *map_free;
	uint32_t map_n_free;
	uint32_t *map_slots;  /* by (session, tid) */
	uint32_t *map_tslots; /* by (session, registry entry) */
	uint32_t mmask;

	uint32_t *presence; /* shared with the other workers (session_table_set_presence), or NULL */
	uint32_t pmask;
};

struct node_entry {
	uint32_t session;
	uint8_t len;
	uint8_t id[SESSION_NODE_ID_MAX];
};

static uint32_t node_hash(uint32_t session)
{
	return bh_key64((uint64_t)session | (1ULL << 62));
}

static bool node_is(const void *tab, uint32_t x, const void *q)
{
	return ((const struct session_table *)tab)->nodes[x].session == *(const uint32_t *)q;
}

static uint32_t node_entry_hash(const void *tab, uint32_t x)
{
	return node_hash(((const struct session_table *)tab)->nodes[x].session);
}

static uint32_t node_slot(const struct session_table *t, uint32_t session)
{
	return oa_ids_find(t->node_slots, t->nmask, SLOT_EMPTY, node_hash(session), t, &session, node_is);
}

/* The node id entry of a forwarded session. */
static const struct node_entry *node_of(const struct session_table *t, uint32_t session)
{
	return &t->nodes[t->node_slots[node_slot(t, session)]];
}

static uint32_t addr_hash(const struct session_addr *a)
{
	uint32_t h = bh_key64(((uint64_t)a->ip << 16) | a->port);
	if (__builtin_expect(a->ip6 != NULL, 0))
		h ^= bh_bytes(a->ip6, 16, 0x1b6a);
	return a->node_len ? h ^ bh_bytes(a->node, a->node_len, 0x90de) : h;
}

/* The address a stored session is indexed by. */
static struct session_addr addr_of(const struct session_table *t, uint32_t x)
{
	const struct mqttsn_session *s = &t->s[x];
	struct session_addr a = { .ip = s->ip, .port = s->port, .ip6 = s->v6 ? t->ip6[x] : NULL };
	if (s->forwarded) {
		const struct node_entry *n = node_of(t, x);
		a.node_len = n->len;
		a.node = n->id;
	}
	return a;
}

static uint32_t id_hash(const uint8_t *id, uint8_t len)
{
	return bh_bytes(id, len, 0x5e55);
}

static uint32_t tid_hash(uint32_t session, uint16_t tid)
{
	return bh_key64(((uint64_t)session << 16) | tid | (1ULL << 63));
}

static uint32_t topic_hash(uint32_t session, uint32_t topic)
{
	return bh_key64(((uint64_t)session << 32) | topic | (1ULL << 61));
}

struct session_table *session_table_create(uint32_t max_sessions, uint32_t max_client_topics, uint32_t max_nodes,
					   bool ipv6)
{
	if (max_sessions == 0 || max_sessions >= SLOT_EMPTY / 4 || max_client_topics == 0 ||
	    max_client_topics >= SLOT_EMPTY / 4 || max_nodes > max_sessions)
		return NULL;
	struct session_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->max = max_sessions;
	uint32_t ns = bh_slots_for(max_sessions);
	t->smask = ns - 1;
	t->s = calloc(max_sessions, sizeof(*t->s));
	t->free_stack = calloc(max_sessions, sizeof(*t->free_stack));
	t->by_addr = malloc((size_t)ns * sizeof(uint32_t));
	if (ipv6) /* touched only by IPv6 sessions */
		t->ip6 = malloc((size_t)max_sessions * sizeof(*t->ip6));
	t->by_id = malloc((size_t)ns * sizeof(uint32_t));
	t->cid_hash = calloc(max_sessions, sizeof(*t->cid_hash));
	t->node_max = max_nodes;
	uint32_t nn = max_nodes ? bh_slots_for(max_nodes) : 1;
	t->nmask = nn - 1;
	t->nodes = calloc(max_nodes ? max_nodes : 1, sizeof(*t->nodes));
	t->node_free = calloc(max_nodes ? max_nodes : 1, sizeof(*t->node_free));
	t->node_slots = malloc((size_t)nn * sizeof(uint32_t));
	t->map_max = max_client_topics;
	uint32_t nm = bh_slots_for(max_client_topics);
	t->mmask = nm - 1;
	t->m = calloc(max_client_topics, sizeof(*t->m));
	t->map_free = calloc(max_client_topics, sizeof(*t->map_free));
	t->map_slots = malloc((size_t)nm * sizeof(uint32_t));
	t->map_tslots = malloc((size_t)nm * sizeof(uint32_t));
	if (!t->s || !t->free_stack || !t->by_addr || (ipv6 && !t->ip6) || !t->by_id || !t->cid_hash || !t->nodes ||
	    !t->node_free || !t->node_slots || !t->m || !t->map_free || !t->map_slots || !t->map_tslots) {
		session_table_destroy(t);
		return NULL;
	}
	memset(t->by_addr, 0xff, (size_t)ns * sizeof(uint32_t));
	memset(t->by_id, 0xff, (size_t)ns * sizeof(uint32_t));
	memset(t->node_slots, 0xff, (size_t)nn * sizeof(uint32_t));
	for (uint32_t i = 0; i < t->node_max; i++)
		t->node_free[i] = t->node_max - 1 - i;
	t->node_n_free = t->node_max;
	memset(t->map_slots, 0xff, (size_t)nm * sizeof(uint32_t));
	memset(t->map_tslots, 0xff, (size_t)nm * sizeof(uint32_t));
	for (uint32_t i = 0; i < max_sessions; i++)
		t->free_stack[i] = max_sessions - 1 - i;
	t->n_free = max_sessions;
	for (uint32_t i = 0; i < max_client_topics; i++)
		t->map_free[i] = max_client_topics - 1 - i;
	t->map_n_free = max_client_topics;
	return t;
}

void session_table_destroy(struct session_table *t)
{
	if (!t)
		return;
	free(t->s);
	free(t->free_stack);
	free(t->by_addr);
	free(t->ip6);
	free(t->by_id);
	free(t->cid_hash);
	free(t->nodes);
	free(t->node_free);
	free(t->node_slots);
	free(t->m);
	free(t->map_free);
	free(t->map_slots);
	free(t->map_tslots);
	free(t);
}

/* ---- address index ---- */

static bool node_eq(const struct session_addr *a, const struct session_addr *b)
{
	return a->node_len == b->node_len && (a->node_len == 0 || memcmp(a->node, b->node, a->node_len) == 0);
}

static bool ip6_eq(const struct session_addr *a, const struct session_addr *b)
{
	return a->ip6 == NULL ? b->ip6 == NULL : b->ip6 != NULL && memcmp(a->ip6, b->ip6, 16) == 0;
}

/* A lookup's key as addr_slot probes with it: ip and port read once into locals (registers), not
 * reread from the caller's session_addr, whose fields were just stored one by one (a wider load
 * of them cannot be forwarded from those stores). */
struct addr_probe {
	uint32_t ip;
	uint16_t port;
	bool v6;
	const struct session_addr *a;
};

static bool session_at_addr(const void *tab, uint32_t x, const void *q)
{
	const struct session_table *t = tab;
	const struct mqttsn_session *s = &t->s[x];
	const struct addr_probe *p = q;
	if (s->ip != p->ip || s->port != p->port || s->v6 != p->v6)
		return false;
	const struct session_addr *k = p->a;
	if (p->v6 && memcmp(t->ip6[x], k->ip6, 16) != 0)
		return false;
	if (!s->forwarded)
		return k->node_len == 0;
	const struct node_entry *n = node_of(t, x);
	return n->len == k->node_len && memcmp(n->id, k->node, n->len) == 0;
}

static uint32_t session_addr_hash(const void *tab, uint32_t x)
{
	struct session_addr a = addr_of(tab, x);
	return addr_hash(&a);
}

static uint32_t addr_slot(const struct session_table *t, const struct session_addr *a)
{
	const struct addr_probe p = { .ip = a->ip, .port = a->port, .v6 = a->ip6 != NULL, .a = a };
	return oa_ids_find(t->by_addr, t->smask, SLOT_EMPTY, addr_hash(a), t, &p, session_at_addr);
}

static void addr_unindex(struct session_table *t, uint32_t idx)
{
	struct session_addr a = addr_of(t, idx);
	uint32_t i = addr_slot(t, &a);
	oa_ids_erase(t->by_addr, t->smask, SLOT_EMPTY, i, t, session_addr_hash);
}

uint32_t session_find_addr(const struct session_table *t, const struct session_addr *a)
{
	if (a->node_len > SESSION_NODE_ID_MAX)
		return SESSION_NONE;
	return t->by_addr[addr_slot(t, a)];
}

/* ---- node ids ---- */

static void node_put(struct session_table *t, uint32_t idx)
{
	if (!t->s[idx].forwarded)
		return;
	uint32_t i = node_slot(t, idx);
	t->node_free[t->node_n_free++] = t->node_slots[i];
	oa_ids_erase(t->node_slots, t->nmask, SLOT_EMPTY, i, t, node_entry_hash);
	t->s[idx].forwarded = 0;
}

/* Gives session idx the node id of a (none when a has none); false when the pool is full. */
static bool node_set(struct session_table *t, uint32_t idx, const struct session_addr *a)
{
	if (a->node_len == 0) {
		node_put(t, idx);
		return true;
	}
	uint32_t i = node_slot(t, idx);
	if (!t->s[idx].forwarded) {
		if (t->node_n_free == 0)
			return false;
		t->node_slots[i] = t->node_free[--t->node_n_free];
		t->nodes[t->node_slots[i]].session = idx;
		t->s[idx].forwarded = 1;
	}
	struct node_entry *n = &t->nodes[t->node_slots[i]];
	n->len = a->node_len;
	memcpy(n->id, a->node, a->node_len);
	return true;
}

const uint8_t *session_ip6(const struct session_table *t, const struct mqttsn_session *s)
{
	return s->v6 ? t->ip6[s - t->s] : NULL;
}

const uint8_t *session_node(const struct session_table *t, const struct mqttsn_session *s, uint8_t *len)
{
	if (!s->forwarded) {
		*len = 0;
		return NULL;
	}
	const struct node_entry *n = node_of(t, (uint32_t)(s - t->s));
	*len = n->len;
	return n->id;
}

bool session_nodes_full(const struct session_table *t)
{
	return t->node_n_free == 0;
}

/* ---- client id index ---- */

struct id_key {
	const uint8_t *id;
	uint8_t len;
};

static bool session_has_id(const void *tab, uint32_t x, const void *q)
{
	const struct mqttsn_session *s = &((const struct session_table *)tab)->s[x];
	const struct id_key *k = q;
	return s->client_id_len == k->len && memcmp(s->client_id, k->id, k->len) == 0;
}

static uint32_t session_id_hash(const void *tab, uint32_t x)
{
	const struct mqttsn_session *s = &((const struct session_table *)tab)->s[x];
	return id_hash(s->client_id, s->client_id_len);
}

static uint32_t id_slot(const struct session_table *t, const uint8_t *id, uint8_t len)
{
	struct id_key k = { .id = id, .len = len };
	return oa_ids_find(t->by_id, t->smask, SLOT_EMPTY, id_hash(id, len), t, &k, session_has_id);
}

static void id_unindex(struct session_table *t, uint32_t idx)
{
	const struct mqttsn_session *s = &t->s[idx];
	if (s->client_id_len == 0)
		return;
	uint32_t i = id_slot(t, s->client_id, s->client_id_len);
	if (t->by_id[i] != idx)
		return;
	oa_ids_erase(t->by_id, t->smask, SLOT_EMPTY, i, t, session_id_hash);
}

uint32_t session_find_client_id(const struct session_table *t, const uint8_t *id, uint8_t len)
{
	if (len == 0 || len > SESSION_CLIENT_ID_MAX)
		return SESSION_NONE;
	return t->by_id[id_slot(t, id, len)];
}

/* ---- sessions ---- */

uint32_t session_presence_slot(const uint8_t *id, uint8_t len, uint32_t mask)
{
	return bh_bytes(id, len, 0x9e3779b9) & mask;
}

void session_presence_add(uint32_t *presence, uint32_t mask, const uint8_t *id, uint8_t len, int delta)
{
	/* Sequentially consistent: a worker announcing a ClientId and then reading the others'
	 * counts, and another doing the same, cannot both miss each other. */
	__atomic_fetch_add(&presence[session_presence_slot(id, len, mask)], (uint32_t)delta, __ATOMIC_SEQ_CST);
}

uint32_t session_presence_get(const uint32_t *presence, uint32_t mask, const uint8_t *id, uint8_t len)
{
	return __atomic_load_n(&presence[session_presence_slot(id, len, mask)], __ATOMIC_SEQ_CST);
}

void session_table_set_presence(struct session_table *t, uint32_t *presence, uint32_t mask)
{
	t->presence = presence;
	t->pmask = mask;
}

uint32_t session_alloc(struct session_table *t, const struct session_addr *a, uint16_t ifindex, const uint8_t *id,
		       uint8_t id_len)
{
	if (t->n_free == 0 || id_len > SESSION_CLIENT_ID_MAX || a->node_len > SESSION_NODE_ID_MAX ||
	    (a->node_len && t->node_n_free == 0) || (a->ip6 && !t->ip6))
		return SESSION_NONE;
	uint32_t aslot = addr_slot(t, a);
	if (t->by_addr[aslot] != SLOT_EMPTY)
		return SESSION_NONE;
	uint32_t islot = SLOT_EMPTY;
	if (id_len) {
		islot = id_slot(t, id, id_len);
		if (t->by_id[islot] != SLOT_EMPTY)
			return SESSION_NONE;
	}
	uint32_t idx = t->free_stack[--t->n_free];
	struct mqttsn_session *s = &t->s[idx];
	*s = (struct mqttsn_session){
		.ip = a->ip,
		.port = a->port,
		.ifindex = ifindex,
		.map_head = SESSION_NONE,
		.sub_head = SESSION_NONE,
		.inflight_head = SESSION_NONE,
		.used = 1,
		.v6 = a->ip6 != NULL,
		.client_id_len = id_len,
	};
	if (a->ip6)
		memcpy(t->ip6[idx], a->ip6, 16);
	if (id_len)
		memcpy(s->client_id, id, id_len);
	t->cid_hash[idx] = id_len ? fo_client_id_hash(id, id_len) : 0;
	node_set(t, idx, a); /* room checked above */
	t->by_addr[aslot] = idx;
	if (id_len) {
		t->by_id[islot] = idx;
		if (t->presence)
			session_presence_add(t->presence, t->pmask, id, id_len, 1);
	}
	t->count++;
	return idx;
}

uint32_t session_client_id_hash(const struct session_table *t, uint32_t idx)
{
	return t->cid_hash[idx];
}

void session_free(struct session_table *t, uint32_t idx)
{
	if (idx >= t->max || !t->s[idx].used)
		return;
	addr_unindex(t, idx);
	id_unindex(t, idx);
	if (t->presence && t->s[idx].client_id_len)
		session_presence_add(t->presence, t->pmask, t->s[idx].client_id, t->s[idx].client_id_len, -1);
	node_put(t, idx);
	t->s[idx].used = 0;
	t->free_stack[t->n_free++] = idx;
	t->count--;
}

int session_move(struct session_table *t, uint32_t idx, const struct session_addr *a, uint16_t ifindex)
{
	struct mqttsn_session *s = &t->s[idx];
	struct session_addr cur = addr_of(t, idx);
	if (cur.ip == a->ip && cur.port == a->port && node_eq(&cur, a) && ip6_eq(&cur, a)) {
		s->ifindex = ifindex;
		return 0;
	}
	if (a->node_len > SESSION_NODE_ID_MAX || t->by_addr[addr_slot(t, a)] != SLOT_EMPTY ||
	    (a->node_len && !s->forwarded && t->node_n_free == 0) || (a->ip6 && !t->ip6))
		return -1;
	addr_unindex(t, idx);
	s->ip = a->ip;
	s->port = a->port;
	s->ifindex = ifindex;
	s->v6 = a->ip6 != NULL;
	if (a->ip6)
		memcpy(t->ip6[idx], a->ip6, 16);
	node_set(t, idx, a); /* room checked above */
	t->by_addr[addr_slot(t, a)] = idx;
	return 0;
}

struct mqttsn_session *session_get(struct session_table *t, uint32_t idx)
{
	return idx < t->max && t->s[idx].used ? &t->s[idx] : NULL;
}

const struct mqttsn_session *session_get_const(const struct session_table *t, uint32_t idx)
{
	return idx < t->max && t->s[idx].used ? &t->s[idx] : NULL;
}

uint32_t session_count(const struct session_table *t)
{
	return t->count;
}

uint32_t session_capacity(const struct session_table *t)
{
	return t->max;
}

/* ---- client topic maps ---- */

/* Both map indexes key on (session, value): the client's topic id or the registry entry. */
struct map_key {
	uint32_t session;
	uint32_t value;
};

static bool map_has_tid(const void *tab, uint32_t x, const void *q)
{
	const struct ctmap_entry *e = &((const struct session_table *)tab)->m[x];
	const struct map_key *k = q;
	return e->session == k->session && e->tid == k->value;
}

static bool map_has_topic(const void *tab, uint32_t x, const void *q)
{
	const struct ctmap_entry *e = &((const struct session_table *)tab)->m[x];
	const struct map_key *k = q;
	return e->session == k->session && e->topic == k->value;
}

static uint32_t map_tid_hash(const void *tab, uint32_t x)
{
	const struct ctmap_entry *e = &((const struct session_table *)tab)->m[x];
	return tid_hash(e->session, e->tid);
}

static uint32_t map_topic_hash(const void *tab, uint32_t x)
{
	const struct ctmap_entry *e = &((const struct session_table *)tab)->m[x];
	return topic_hash(e->session, e->topic);
}

static uint32_t map_slot(const struct session_table *t, uint32_t session, uint16_t tid)
{
	struct map_key k = { .session = session, .value = tid };
	return oa_ids_find(t->map_slots, t->mmask, SLOT_EMPTY, tid_hash(session, tid), t, &k, map_has_tid);
}

static uint32_t map_tslot(const struct session_table *t, uint32_t session, uint32_t topic)
{
	struct map_key k = { .session = session, .value = topic };
	return oa_ids_find(t->map_tslots, t->mmask, SLOT_EMPTY, topic_hash(session, topic), t, &k, map_has_topic);
}

uint32_t ctmap_find(const struct session_table *t, uint32_t session, uint16_t tid)
{
	return t->map_slots[map_slot(t, session, tid)];
}

uint32_t ctmap_find_topic(const struct session_table *t, uint32_t session, uint32_t topic)
{
	return t->map_tslots[map_tslot(t, session, topic)];
}

/* Links a new entry (session, topic) under tid; the caller found both index slots empty. */
static uint32_t map_insert(struct session_table *t, uint32_t session, uint32_t topic, uint16_t tid, uint32_t slot,
			   uint32_t tslot)
{
	uint32_t e = t->map_free[--t->map_n_free];
	struct mqttsn_session *s = &t->s[session];
	t->m[e] = (struct ctmap_entry){
		.session = session, .next = s->map_head, .prev = SESSION_NONE, .topic = topic, .tid = tid
	};
	if (s->map_head != SESSION_NONE)
		t->m[s->map_head].prev = e;
	s->map_head = e;
	t->map_slots[slot] = e;
	t->map_tslots[tslot] = e;
	t->map_count++;
	return e;
}

uint32_t ctmap_add(struct session_table *t, uint32_t session, uint32_t topic, bool *created)
{
	*created = false;
	if (session >= t->max || !t->s[session].used)
		return SESSION_NONE;
	uint32_t tslot = map_tslot(t, session, topic);
	if (t->map_tslots[tslot] != SLOT_EMPTY)
		return t->map_tslots[tslot];
	if (t->map_n_free == 0)
		return SESSION_NONE;
	/* The client's id: the registry entry when it is free in this client's map (always so
	 * while the registry stays within 16 bits), else the next free one. Bounded by the id
	 * space; only a client holding tens of thousands of topics probes far. */
	uint32_t tid = topic <= CTMAP_TID_MAX ? topic : (topic - 1) % CTMAP_TID_MAX + 1;
	uint32_t slot = map_slot(t, session, (uint16_t)tid);
	for (uint32_t tries = 1; t->map_slots[slot] != SLOT_EMPTY; tries++) {
		if (tries == CTMAP_TID_MAX)
			return SESSION_NONE; /* the client holds every id */
		tid = tid == CTMAP_TID_MAX ? 1 : tid + 1;
		slot = map_slot(t, session, (uint16_t)tid);
	}
	*created = true;
	return map_insert(t, session, topic, (uint16_t)tid, slot, tslot);
}

uint32_t ctmap_add_tid(struct session_table *t, uint32_t session, uint32_t topic, uint16_t tid)
{
	if (session >= t->max || !t->s[session].used || tid == 0 || tid > CTMAP_TID_MAX || t->map_n_free == 0)
		return SESSION_NONE;
	uint32_t tslot = map_tslot(t, session, topic);
	uint32_t slot = map_slot(t, session, tid);
	if (t->map_tslots[tslot] != SLOT_EMPTY || t->map_slots[slot] != SLOT_EMPTY)
		return SESSION_NONE;
	return map_insert(t, session, topic, tid, slot, tslot);
}

void ctmap_remove(struct session_table *t, uint32_t e)
{
	if (e >= t->map_max)
		return;
	struct ctmap_entry *me = &t->m[e];
	uint32_t i = map_slot(t, me->session, me->tid);
	if (t->map_slots[i] != e)
		return; /* not live */
	oa_ids_erase(t->map_slots, t->mmask, SLOT_EMPTY, i, t, map_tid_hash);
	oa_ids_erase(t->map_tslots, t->mmask, SLOT_EMPTY, map_tslot(t, me->session, me->topic), t, map_topic_hash);
	struct mqttsn_session *s = &t->s[me->session];
	if (me->prev != SESSION_NONE)
		t->m[me->prev].next = me->next;
	else
		s->map_head = me->next;
	if (me->next != SESSION_NONE)
		t->m[me->next].prev = me->prev;
	t->map_free[t->map_n_free++] = e;
	t->map_count--;
}

struct ctmap_entry *ctmap_get(struct session_table *t, uint32_t e)
{
	return e < t->map_max ? &t->m[e] : NULL;
}

uint32_t ctmap_count(const struct session_table *t)
{
	return t->map_count;
}
