/* Lock-free neighbour table (see neighbour.h).
 *
 * A slot holds four 64-bit atomics. The key word carries the address, a 15-bit generation and
 * a static bit; the MAC word carries the 48-bit MAC, a valid bit and the generation of the key
 * it was written for. Every change of a slot's address (claiming a free slot, evicting an
 * entry in favour of another) gives it a new generation, and a reader takes a MAC only when
 * the MAC word's generation equals the key word's it matched: a slot reused under a reader's
 * feet is seen as "unresolved", never as another address's MAC (the generation would have to come
 * round, 32767 reuses of that slot, between the reader's two loads). Writers change words with
 * CAS loops and never wait for each other; a stale write tagged with an old generation is
 * harmless. Key word 0 (never used) ends a probe; a freed slot keeps its generation with
 * address 0 and is skipped. An address lives within FO_NEIGH_WAYS slots of its hash, so
 * every probe is bounded (oa_find_bounded in oa_table.h).
 *
 * An IPv6 table (conf.ipv6) keys its slots by a seeded 32-bit hash of the address in place of the
 * IPv4 address, and keeps the address itself in two more words, written by the claimer after it
 * won the slot. A reader takes an entry only when key, address words and the MAC's generation all
 * agree: one it catches half-written is unresolved for that look, never another address's MAC. */
#include "neighbour.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "oa_table.h"

#define GEN_MASK 0x7fffu
#define KEY_STATIC (1ull << 47)
#define MAC_VALID (1ull << 63)
#define MAC_BITS 0xffffffffffffull
#define SEEN_FLAGGED (1ull << 63) /* in seen_ms: the ager has announced this entry as stale */

struct slot {
	_Atomic uint64_t key;      /* KEY_STATIC | gen << 32 | ip; 0 = never used; ip 0 = free */
	_Atomic uint64_t mac;      /* MAC_VALID | gen << 48 | MAC */
	_Atomic uint64_t seen_ms;  /* created, or last confirmed by an ARP from it (| SEEN_FLAGGED) */
	_Atomic uint64_t asked_ms; /* last ARP request sent for it (0 = none) */
	_Atomic uint64_t used_ms;  /* last time an lcore resolved it to send (0 = never): entries the
				    * appliance sends to outrank those merely learnt (a flood of requests) */
	_Atomic uint64_t a6[2];    /* IPv6 tables: the address (its two halves as stored in memory) */
};

#define LINE 64

/* Read-only after creation first, then what writers change on their own cache lines, so
 * learning under a flood does not keep evicting the line every lookup reads. */
struct fo_neigh_table {
	uint32_t mask;
	uint32_t ways;
	uint64_t seed[2];
	uint32_t max_age_ms, pending_ms;
	bool v6;
	uint64_t req_interval_us;  /* request budget: 1 s / requests_per_s (0 = no limit) */
	uint64_t req_tolerance_us; /* how far ahead of now the budget may be spent (the burst) */
	_Alignas(LINE) _Atomic uint64_t version;
	_Atomic uint32_t count;
	_Alignas(LINE) _Atomic uint64_t req_tat_us; /* GCRA theoretical arrival time of the next request */
	uint32_t age_cursor;                        /* fo_neigh_age's position: one ager at a time */
	_Alignas(LINE) struct slot slots[];
};

static inline uint32_t key_ip(uint64_t k)
{
	return (uint32_t)k;
}
static inline uint32_t key_gen(uint64_t k)
{
	return (uint32_t)(k >> 32) & GEN_MASK;
}
static inline uint32_t mac_gen(uint64_t m)
{
	return (uint32_t)(m >> 48) & GEN_MASK;
}
static inline uint64_t make_key(uint32_t gen, uint32_t ip, uint64_t flags)
{
	return flags | (uint64_t)gen << 32 | ip;
}
/* 1..GEN_MASK: a freed slot (address 0) never reads as never used (key 0). */
static inline uint32_t next_gen(uint32_t g)
{
	return g % GEN_MASK + 1;
}
static inline bool mac_for(uint64_t m, uint64_t k)
{
	return (m & MAC_VALID) && mac_gen(m) == key_gen(k);
}

/* Keyed mix (murmur3's finaliser around a 128-bit per-process key). */
static inline uint32_t hash_ip(const struct fo_neigh_table *t, uint32_t ip)
{
	uint64_t x = ((uint64_t)ip << 32 | ip) ^ t->seed[0];
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x ^= t->seed[1];
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return (uint32_t)x;
}

static uint64_t mac_word(const uint8_t m[6], uint32_t gen)
{
	uint64_t w = 0;
	for (int i = 0; i < 6; i++)
		w = w << 8 | m[i];
	return w | (uint64_t)gen << 48 | MAC_VALID;
}

static void mac_bytes(uint64_t w, uint8_t mac[6])
{
	for (int i = 5; i >= 0; i--, w >>= 8)
		mac[i] = (uint8_t)w;
}

static void bump(struct fo_neigh_table *t)
{
	atomic_fetch_add_explicit(&t->version, 1, memory_order_release);
}

struct fo_neigh_table *fo_neigh_create(const struct fo_neigh_conf *c)
{
	uint32_t n = 16;
	while (n < c->capacity && n < (1u << 30))
		n <<= 1;
	size_t size = sizeof(struct fo_neigh_table) + (size_t)n * sizeof(struct slot); /* a multiple of LINE */
	struct fo_neigh_table *t = aligned_alloc(LINE, size);
	if (!t)
		return NULL;
	memset(t, 0, size);
	t->mask = n - 1;
	t->ways = n < FO_NEIGH_WAYS ? n : FO_NEIGH_WAYS;
	t->seed[0] = c->seed[0];
	t->seed[1] = c->seed[1];
	t->max_age_ms = c->max_age_ms;
	t->pending_ms = c->pending_ms;
	t->v6 = c->ipv6;
	if (c->requests_per_s) {
		uint64_t burst = c->requests_per_s / 10 > 16 ? c->requests_per_s / 10 : 16;
		t->req_interval_us = 1000000 / c->requests_per_s ? 1000000 / c->requests_per_s : 1;
		t->req_tolerance_us = t->req_interval_us * (burst - 1);
	}
	return t;
}

void fo_neigh_destroy(struct fo_neigh_table *t)
{
	free(t);
}

/* One pass over ip's window: its slot if present, else the first free slot and the entry to
 * evict: the oldest pending one (asked for, unanswered: cheap to lose, asked again if real),
 * else the resolved one least recently confirmed or used to send; never a static one. Preferring
 * pending entries keeps established neighbours when a flood of spoofed sources makes us ask for
 * many addresses that never answer; counting use keeps the clients we send to when a flood of
 * requests fills the table with senders we never need. */
struct probe {
	uint32_t ip;
	const uint64_t *a6; /* IPv6 tables: the address words */
	bool want_old;
	struct slot *hit, *free, *old;
	uint64_t hit_key, free_key, old_key, old_seen;
	bool old_pending;
};

/* Whether slot s holds the IPv6 address a6 (always true in an IPv4 table: a6 NULL). */
static inline bool a6_is(const struct slot *s, const uint64_t *a6)
{
	return !a6 || (atomic_load_explicit((_Atomic uint64_t *)&s->a6[0], memory_order_acquire) == a6[0] &&
		       atomic_load_explicit((_Atomic uint64_t *)&s->a6[1], memory_order_acquire) == a6[1]);
}

static enum oa_seen probe_look(const void *tab, uint32_t i, void *q)
{
	const struct fo_neigh_table *t = tab;
	struct probe *pr = q;
	struct slot *s = (struct slot *)&t->slots[i];
	uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
	if (k == 0) { /* never used: nothing was ever placed beyond it for this window */
		if (!pr->free) {
			pr->free = s;
			pr->free_key = 0;
		}
		return OA_EMPTY;
	}
	uint32_t kip = key_ip(k);
	if (kip == pr->ip && a6_is(s, pr->a6)) {
		pr->hit = s;
		pr->hit_key = k;
		return OA_HIT;
	}
	if (kip == 0) {
		if (!pr->free) {
			pr->free = s;
			pr->free_key = k;
		}
	} else if (pr->want_old && !(k & KEY_STATIC)) {
		uint64_t seen = atomic_load_explicit(&s->seen_ms, memory_order_relaxed) & ~SEEN_FLAGGED;
		uint64_t used = atomic_load_explicit(&s->used_ms, memory_order_relaxed);
		if (used > seen)
			seen = used;
		bool pending = !mac_for(atomic_load_explicit(&s->mac, memory_order_relaxed), k);
		if (!pr->old || (pending && !pr->old_pending) || (pending == pr->old_pending && seen < pr->old_seen)) {
			pr->old = s;
			pr->old_key = k;
			pr->old_seen = seen;
			pr->old_pending = pending;
		}
	}
	return OA_OTHER;
}

static void probe(const struct fo_neigh_table *t, uint32_t ip, const uint64_t *a6, struct probe *pr, bool want_old)
{
	pr->ip = ip;
	pr->a6 = a6;
	pr->want_old = want_old;
	pr->hit = pr->free = pr->old = NULL;
	(void)oa_find_bounded(t, t->mask, hash_ip(t, ip), t->ways, pr, probe_look);
}

/* Take slot s, seen holding `was`, for ip; false when another writer changed it first. The
 * times are stored before the key so that the ager never judges the new entry by the old one's
 * age (a lost race leaves them on a slot someone else owns: at worst an age off by a moment). */
static bool claim(struct slot *s, uint64_t was, uint32_t ip, const uint64_t *a6, uint64_t now_ms, uint64_t asked_ms,
		  uint64_t flags, uint64_t *key)
{
	uint32_t g = next_gen(key_gen(was));
	atomic_store_explicit(&s->seen_ms, now_ms, memory_order_relaxed);
	atomic_store_explicit(&s->asked_ms, asked_ms, memory_order_relaxed);
	atomic_store_explicit(&s->used_ms, asked_ms, memory_order_relaxed); /* asked for: needed */
	*key = make_key(g, ip, flags);
	if (!atomic_compare_exchange_strong_explicit(&s->key, &was, *key, memory_order_acq_rel, memory_order_acquire))
		return false;
	if (a6) { /* only the winner writes them: until then readers find the old words and miss */
		atomic_store_explicit(&s->a6[0], a6[0], memory_order_release);
		atomic_store_explicit(&s->a6[1], a6[1], memory_order_release);
	}
	/* No MAC yet for this generation (unless a learner already wrote one). */
	uint64_t m = atomic_load_explicit(&s->mac, memory_order_acquire);
	while (mac_gen(m) != g && !atomic_compare_exchange_weak_explicit(&s->mac, &m, (uint64_t)g << 48,
									 memory_order_release, memory_order_acquire))
		;
	return true;
}

/* Store mac for the entry keyed k in s: REFRESHED, RESOLVED or MOVED, or INVALID when the slot
 * no longer holds k (the caller probes again). */
static enum fo_neigh_result set_mac(struct fo_neigh_table *t, struct slot *s, uint64_t k, const uint8_t mac[6])
{
	uint64_t w = mac_word(mac, key_gen(k));
	uint64_t m = atomic_load_explicit(&s->mac, memory_order_acquire);
	for (;;) {
		if (m == w)
			return FO_NEIGH_REFRESHED;
		if (atomic_load_explicit(&s->key, memory_order_acquire) != k)
			return FO_NEIGH_INVALID;
		if (atomic_compare_exchange_weak_explicit(&s->mac, &m, w, memory_order_release, memory_order_acquire))
			break;
	}
	bump(t);
	return mac_for(m, k) ? FO_NEIGH_MOVED : FO_NEIGH_RESOLVED;
}

#define RETRIES 4 /* probes after a lost race before giving up (each loss means another writer progressed) */

static enum fo_neigh_result learn(struct fo_neigh_table *t, uint32_t ip, const uint64_t *a6, const uint8_t mac[6],
				  uint64_t now_ms, bool create)
{
	if (ip == 0)
		return FO_NEIGH_INVALID;
	for (int attempt = 0; attempt < RETRIES; attempt++) {
		struct probe pr;
		probe(t, ip, a6, &pr, false);
		if (pr.hit) {
			if (pr.hit_key & KEY_STATIC) {
				uint64_t m = atomic_load_explicit(&pr.hit->mac, memory_order_acquire);
				return (m & MAC_BITS) == (mac_word(mac, 0) & MAC_BITS) ? FO_NEIGH_STATIC_SAME
										       : FO_NEIGH_STATIC_CONFLICT;
			}
			enum fo_neigh_result r = set_mac(t, pr.hit, pr.hit_key, mac);
			if (r == FO_NEIGH_INVALID)
				continue;
			atomic_store_explicit(&pr.hit->seen_ms, now_ms, memory_order_relaxed);
			return r;
		}
		if (!create)
			return FO_NEIGH_ABSENT;
		if (!pr.free)
			return FO_NEIGH_NO_ROOM;
		uint64_t k;
		atomic_fetch_add_explicit(&t->count, 1, memory_order_relaxed); /* before the slot is live: see count */
		if (claim(pr.free, pr.free_key, ip, a6, now_ms, 0, 0, &k)) {
			(void)set_mac(t, pr.free, k, mac);
			return FO_NEIGH_CREATED;
		}
		atomic_fetch_sub_explicit(&t->count, 1, memory_order_relaxed);
		/* lost the slot: maybe to another lcore learning the same address; probe again */
	}
	return FO_NEIGH_NO_ROOM;
}

enum fo_neigh_result fo_neigh_add_static(struct fo_neigh_table *t, uint32_t ip, const uint8_t mac[6])
{
	if (ip == 0)
		return FO_NEIGH_INVALID;
	struct probe pr;
	probe(t, ip, NULL, &pr, false);
	if (pr.hit && (pr.hit_key & KEY_STATIC)) {
		uint64_t m = atomic_load_explicit(&pr.hit->mac, memory_order_acquire);
		return (m & MAC_BITS) == (mac_word(mac, 0) & MAC_BITS) ? FO_NEIGH_STATIC_SAME
								       : FO_NEIGH_STATIC_CONFLICT;
	}
	struct slot *s = pr.hit ? pr.hit : pr.free; /* a learnt entry for it becomes the static one */
	uint64_t was = pr.hit ? pr.hit_key : pr.free_key, k;
	if (!s)
		return FO_NEIGH_NO_ROOM;
	if (!claim(s, was, ip, NULL, 0, 0, KEY_STATIC, &k))
		return FO_NEIGH_NO_ROOM;
	if (!pr.hit) /* before any lcore runs: no race to order against */
		atomic_fetch_add_explicit(&t->count, 1, memory_order_relaxed);
	atomic_store_explicit(&s->mac, mac_word(mac, key_gen(k)), memory_order_release);
	bump(t);
	return FO_NEIGH_CREATED;
}

/* Readers load each key word once: the word that matched is the one handed back. */
struct find_query {
	uint32_t ip;
	const uint64_t *a6;
	uint64_t key;
};

static enum oa_seen find_look(const void *tab, uint32_t i, void *q)
{
	const struct fo_neigh_table *t = tab;
	struct find_query *fq = q;
	fq->key = atomic_load_explicit((_Atomic uint64_t *)&t->slots[i].key, memory_order_acquire);
	if (fq->key == 0)
		return OA_EMPTY;
	return key_ip(fq->key) == fq->ip && a6_is(&t->slots[i], fq->a6) ? OA_HIT : OA_OTHER;
}

/* The slot holding ip and its key, or NULL. */
static const struct slot *find(const struct fo_neigh_table *t, uint32_t ip, const uint64_t *a6, uint64_t *key)
{
	struct find_query q = { .ip = ip, .a6 = a6 };
	uint32_t i = oa_find_bounded(t, t->mask, hash_ip(t, ip), t->ways, &q, find_look);
	if (i == OA_NONE || q.key == 0)
		return NULL;
	*key = q.key;
	return &t->slots[i];
}

static bool resolve(const struct fo_neigh_table *t, uint32_t ip, const uint64_t *a6, uint64_t now_ms, uint8_t mac[6],
		    bool *stale)
{
	*stale = false;
	if (ip == 0)
		return false;
	uint64_t k;
	const struct slot *s = find(t, ip, a6, &k);
	if (!s)
		return false;
	uint64_t m = atomic_load_explicit((_Atomic uint64_t *)&s->mac, memory_order_acquire);
	if (!mac_for(m, k))
		return false;
	mac_bytes(m, mac);
	if (!(k & KEY_STATIC) && t->max_age_ms) {
		uint64_t seen = atomic_load_explicit((_Atomic uint64_t *)&s->seen_ms, memory_order_relaxed) &
				~SEEN_FLAGGED;
		*stale = now_ms > seen && now_ms - seen >= t->max_age_ms / 2;
	}
	return true;
}

bool fo_neigh_resolve(const struct fo_neigh_table *t, uint32_t ip, uint64_t now_ms, uint8_t mac[6], bool *stale)
{
	return resolve(t, ip, NULL, now_ms, mac, stale);
}

enum fo_neigh_result fo_neigh_learn(struct fo_neigh_table *t, uint32_t ip, const uint8_t mac[6], uint64_t now_ms,
				    bool create)
{
	return learn(t, ip, NULL, mac, now_ms, create);
}

bool fo_neigh_lookup(const struct fo_neigh_table *t, uint32_t ip, uint8_t mac[6])
{
	bool stale;
	return fo_neigh_resolve(t, ip, 0, mac, &stale);
}

/* At most one request per interval_ms per entry: the lcore whose CAS moves asked_ms asks. */
static bool may_ask(struct slot *s, uint64_t now_ms, uint32_t interval_ms)
{
	uint64_t last = atomic_load_explicit(&s->asked_ms, memory_order_relaxed);
	/* now_ms < last: another lcore asked after this one read its clock (or both read 0,
	 * stored as 1); a plain unsigned difference would wrap and ask again. */
	if (last != 0 && (now_ms < last || now_ms - last < interval_ms))
		return false;
	return atomic_compare_exchange_strong_explicit(&s->asked_ms, &last, now_ms ? now_ms : 1, memory_order_relaxed,
						       memory_order_relaxed);
}

static bool should_request(struct fo_neigh_table *t, uint32_t ip, const uint64_t *a6, uint64_t now_ms,
			   uint32_t interval_ms, bool *evicted)
{
	*evicted = false;
	if (ip == 0)
		return false;
	for (int attempt = 0; attempt < RETRIES; attempt++) {
		struct probe pr;
		probe(t, ip, a6, &pr, true);
		if (pr.hit)
			return !(pr.hit_key & KEY_STATIC) && may_ask(pr.hit, now_ms, interval_ms);
		struct slot *s = pr.free ? pr.free : pr.old;
		if (!s)
			return false; /* a window of static entries only */
		uint64_t k;
		if (pr.free)
			atomic_fetch_add_explicit(&t->count, 1, memory_order_relaxed);
		if (claim(s, pr.free ? pr.free_key : pr.old_key, ip, a6, now_ms, now_ms ? now_ms : 1, 0, &k)) {
			if (!pr.free) {
				*evicted = true;
				bump(t); /* the victim's MAC must leave readers' caches */
			}
			return true;
		}
		if (pr.free)
			atomic_fetch_sub_explicit(&t->count, 1, memory_order_relaxed);
	}
	return false;
}

bool fo_neigh_should_request(struct fo_neigh_table *t, uint32_t ip, uint64_t now_ms, uint32_t interval_ms,
			     bool *evicted)
{
	return should_request(t, ip, NULL, now_ms, interval_ms, evicted);
}

bool fo_neigh_request_allowed(struct fo_neigh_table *t, uint64_t now_ms)
{
	if (t->req_interval_us == 0)
		return true;
	uint64_t now = now_ms * 1000;
	uint64_t tat = atomic_load_explicit(&t->req_tat_us, memory_order_relaxed);
	for (;;) {
		uint64_t start = tat > now ? tat : now;
		if (start - now > t->req_tolerance_us)
			return false;
		if (atomic_compare_exchange_weak_explicit(&t->req_tat_us, &tat, start + t->req_interval_us,
							  memory_order_relaxed, memory_order_relaxed))
			return true;
	}
}

uint32_t fo_neigh_age(struct fo_neigh_table *t, uint64_t now_ms, uint32_t slots, uint32_t *resolved, uint32_t *pending)
{
	uint32_t n_res = 0, n_pend = 0;
	if (slots > t->mask + 1)
		slots = t->mask + 1;
	for (uint32_t n = 0; n < slots; n++) {
		struct slot *s = &t->slots[t->age_cursor];
		t->age_cursor = (t->age_cursor + 1) & t->mask;
		uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
		if (key_ip(k) == 0 || (k & KEY_STATIC))
			continue;
		uint64_t seen_word = atomic_load_explicit(&s->seen_ms, memory_order_relaxed);
		uint64_t seen = seen_word & ~SEEN_FLAGGED;
		bool res = mac_for(atomic_load_explicit(&s->mac, memory_order_acquire), k);
		uint32_t limit = res ? t->max_age_ms : t->pending_ms;
		if (limit == 0 || now_ms < seen)
			continue;
		if (now_ms - seen < limit) {
			/* Half-way through a resolved entry's life: move the version once, so that workers
			 * that cached its MAC look it up again and, if they still use it, ask for it
			 * (fo_neigh_resolve says stale) before it expires. A confirmation (seen_ms stored
			 * anew) clears the flag. */
			if (res && !(seen_word & SEEN_FLAGGED) && now_ms - seen >= limit / 2 &&
			    atomic_compare_exchange_strong_explicit(&s->seen_ms, &seen_word, seen_word | SEEN_FLAGGED,
								    memory_order_relaxed, memory_order_relaxed))
				bump(t);
			continue;
		}
		/* The CAS fails when the entry changed since it was read (claimed anew): left alone. */
		if (!atomic_compare_exchange_strong_explicit(&s->key, &k, make_key(key_gen(k), 0, 0),
							     memory_order_acq_rel, memory_order_relaxed))
			continue;
		atomic_fetch_sub_explicit(&t->count, 1, memory_order_relaxed);
		if (res) {
			n_res++;
			bump(t);
		} else {
			n_pend++;
		}
	}
	*resolved = n_res;
	*pending = n_pend;
	return n_res + n_pend;
}

/* The count goes up before a slot becomes live and down after it is freed, so it never
 * drops below the live entries (no wrap when the ager frees a slot whose claimer has not
 * counted it yet); it may run ahead by the claims under way, hence the clamp. */
uint32_t fo_neigh_count(const struct fo_neigh_table *t)
{
	uint32_t n = atomic_load_explicit(&((struct fo_neigh_table *)t)->count, memory_order_relaxed);
	return n > t->mask + 1 ? t->mask + 1 : n;
}

uint32_t fo_neigh_capacity(const struct fo_neigh_table *t)
{
	return t->mask + 1;
}

uint32_t fo_neigh_home(const struct fo_neigh_table *t, uint32_t ip)
{
	return hash_ip(t, ip) & t->mask;
}

uint64_t fo_neigh_version(const struct fo_neigh_table *t)
{
	return atomic_load_explicit(&((struct fo_neigh_table *)t)->version, memory_order_acquire);
}

uint32_t fo_neigh_foreach(const struct fo_neigh_table *t, void (*fn)(void *, uint32_t, const uint8_t[6]), void *arg)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i <= t->mask; i++) {
		const struct slot *s = &t->slots[i];
		uint64_t k = atomic_load_explicit((_Atomic uint64_t *)&s->key, memory_order_acquire);
		if (key_ip(k) == 0)
			continue;
		uint64_t m = atomic_load_explicit((_Atomic uint64_t *)&s->mac, memory_order_acquire);
		if (!mac_for(m, k))
			continue;
		uint8_t mac[6];
		mac_bytes(m, mac);
		fn(arg, key_ip(k), mac);
		n++;
	}
	return n;
}

bool fo_neigh_arp_input(struct fo_neigh_table *t, struct fo_counters *c, bool request, uint32_t sender_ip,
			const uint8_t sender_mac[6], uint32_t own_ip, uint32_t netmask, uint64_t now_ms)
{
	if (!fo_neigh_on_link(sender_ip, own_ip, netmask)) {
		fo_count_drop(c, FO_DROP_ARP_OFF_LINK);
		return false;
	}
	switch (fo_neigh_learn(t, sender_ip, sender_mac, now_ms, request)) {
	case FO_NEIGH_CREATED:
	case FO_NEIGH_RESOLVED:
	case FO_NEIGH_MOVED: c->ev[FO_EV_ARP_LEARNT]++; return true;
	case FO_NEIGH_REFRESHED:
	case FO_NEIGH_STATIC_SAME: return true;
	case FO_NEIGH_NO_ROOM:
		c->ev[FO_EV_ARP_NOT_LEARNT]++;
		return true; /* only a request creates: answered all the same */
	case FO_NEIGH_STATIC_CONFLICT:
		if (request)
			return true; /* the answer carries only our own address */
		fo_count_drop(c, FO_DROP_ARP_STATIC_CONFLICT);
		return false;
	case FO_NEIGH_ABSENT:
	case FO_NEIGH_INVALID:
	default: fo_count_drop(c, FO_DROP_ARP_UNSOLICITED); return false;
	}
}

static bool next_hop(struct fo_neigh_table *t, struct fo_counters *c, uint32_t nh, const uint64_t *a6, bool on_link,
		     uint64_t now_ms, uint32_t retry_ms, uint8_t mac[6], bool *ask)
{
	bool stale, evicted = false, ok;
	*ask = false;
	if ((ok = resolve(t, nh, a6, now_ms, mac, &stale))) {
		/* In use: remember it (at most every 100 ms; lcores resolve again only when the table's
		 * version moved, so this is off the per-packet path). */
		uint64_t k;
		struct slot *s = (struct slot *)find(t, nh, a6, &k);
		if (s && now_ms - atomic_load_explicit(&s->used_ms, memory_order_relaxed) >= 100)
			atomic_store_explicit(&s->used_ms, now_ms, memory_order_relaxed);
		if (stale)
			*ask = should_request(t, nh, a6, now_ms, retry_ms, &evicted);
	} else if (on_link) {
		*ask = should_request(t, nh, a6, now_ms, retry_ms, &evicted);
	}
	if (evicted)
		c->ev[a6 ? FO_EV_ND_EVICTED : FO_EV_ARP_EVICTED]++;
	if (*ask && !fo_neigh_request_allowed(t, now_ms)) {
		*ask = false; /* the entry is pending (or stale) all the same: asked again after retry_ms */
		c->ev[a6 ? FO_EV_ND_SOLICITATION_LIMITED : FO_EV_ARP_REQUEST_LIMITED]++;
	}
	return ok;
}

bool fo_neigh_next_hop(struct fo_neigh_table *t, struct fo_counters *c, uint32_t nh, uint32_t own_ip, uint32_t netmask,
		       uint64_t now_ms, uint32_t retry_ms, uint8_t mac[6], bool *ask)
{
	return next_hop(t, c, nh, NULL, fo_neigh_on_link(nh, own_ip, netmask), now_ms, retry_ms, mac, ask);
}

/* An IPv6 table's key for a: its two words, and a seeded 32-bit hash of them that is never 0 (a
 * free slot's address). */
static uint32_t key6(const struct fo_neigh_table *t, const uint8_t a[16], uint64_t w[2])
{
	memcpy(w, a, 16);
	uint32_t h = hash_ip(t, (uint32_t)(w[0] ^ w[0] >> 32)) ^
		     hash_ip(t, (uint32_t)(w[1] ^ w[1] >> 32) ^ 0x9e3779b9u);
	return h ? h : 1;
}

enum fo_neigh_result fo_neigh6_learn(struct fo_neigh_table *t, const uint8_t a[16], const uint8_t mac[6],
				     uint64_t now_ms, bool create)
{
	uint64_t w[2];
	uint32_t k = key6(t, a, w);
	return learn(t, k, w, mac, now_ms, create);
}

bool fo_neigh6_resolve(const struct fo_neigh_table *t, const uint8_t a[16], uint64_t now_ms, uint8_t mac[6],
		       bool *stale)
{
	uint64_t w[2];
	uint32_t k = key6(t, a, w);
	return resolve(t, k, w, now_ms, mac, stale);
}

bool fo_neigh6_nd_input(struct fo_neigh_table *t, struct fo_counters *c, bool solicit, const uint8_t sender[16],
			const uint8_t mac[6], bool on_link, uint64_t now_ms)
{
	if (!on_link) {
		fo_count_drop(c, FO_DROP_ND_OFF_LINK);
		return false;
	}
	switch (fo_neigh6_learn(t, sender, mac, now_ms, solicit)) {
	case FO_NEIGH_CREATED:
	case FO_NEIGH_RESOLVED:
	case FO_NEIGH_MOVED: c->ev[FO_EV_ND_LEARNT]++; return true;
	case FO_NEIGH_REFRESHED:
	case FO_NEIGH_STATIC_SAME: return true;
	case FO_NEIGH_NO_ROOM:
		c->ev[FO_EV_ND_NOT_LEARNT]++;
		return true; /* only a solicitation creates: answered all the same */
	case FO_NEIGH_STATIC_CONFLICT:
	case FO_NEIGH_ABSENT:
	case FO_NEIGH_INVALID:
	default: fo_count_drop(c, FO_DROP_ND_UNSOLICITED); return false;
	}
}

bool fo_neigh6_next_hop(struct fo_neigh_table *t, struct fo_counters *c, const uint8_t nh[16], bool on_link,
			uint64_t now_ms, uint32_t retry_ms, uint8_t mac[6], bool *ask)
{
	uint64_t w[2];
	uint32_t k = key6(t, nh, w);
	return next_hop(t, c, k, w, on_link, now_ms, retry_ms, mac, ask);
}
