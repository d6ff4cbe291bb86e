/* Lock-free neighbour table (see neighbour.h). A slot's key is claimed once with a CAS and
 * never released, so readers can probe without any lock; the MAC is one 64-bit word
 * (48 bits of address + a valid bit) stored atomically. */
#include "neighbour.h"

#include <stdatomic.h>
#include <stdlib.h>

#define MAC_VALID (1ull << 63)

struct slot {
	_Atomic uint32_t ip;
	_Atomic uint64_t mac;       /* MAC_VALID | 48-bit address */
	_Atomic uint64_t asked_ms;  /* last ARP request sent for it */
};

struct fo_neigh_table {
	uint32_t mask;
	_Atomic uint32_t count;
	_Atomic uint64_t version;   /* bumped after any entry is added or changes its MAC */
	struct slot slots[];
};

static inline uint32_t hash_ip(uint32_t ip)
{
	ip ^= ip >> 16;
	ip *= 0x7feb352dU;
	ip ^= ip >> 15;
	ip *= 0x846ca68bU;
	return ip ^ (ip >> 16);
}

static uint64_t mac_word(const uint8_t m[6])
{
	uint64_t w = 0;
	for (int i = 0; i < 6; i++)
		w = w << 8 | m[i];
	return w | MAC_VALID;
}

struct fo_neigh_table *fo_neigh_create(uint32_t capacity)
{
	uint32_t n = 16;
	while (n < capacity && n < (1u << 30))
		n <<= 1;
	struct fo_neigh_table *t = calloc(1, sizeof(*t) + (size_t)n * sizeof(struct slot));
	if (!t)
		return NULL;
	t->mask = n - 1;
	return t;
}

void fo_neigh_destroy(struct fo_neigh_table *t) { free(t); }

/* Find ip's slot, claiming an empty one when create is set. */
static struct slot *find(struct fo_neigh_table *t, uint32_t ip, bool create)
{
	uint32_t i = hash_ip(ip) & t->mask;
	for (uint32_t n = 0; n <= t->mask; n++, i = (i + 1) & t->mask) {
		struct slot *s = &t->slots[i];
		uint32_t k = atomic_load_explicit(&s->ip, memory_order_acquire);
		if (k == ip)
			return s;
		if (k == 0) {
			if (!create)
				return NULL;
			uint32_t expect = 0;
			if (atomic_compare_exchange_strong_explicit(&s->ip, &expect, ip, memory_order_acq_rel,
								    memory_order_acquire)) {
				atomic_fetch_add_explicit(&t->count, 1, memory_order_relaxed);
				return s;
			}
			if (expect == ip)
				return s;
		}
	}
	return NULL;
}

int fo_neigh_update(struct fo_neigh_table *t, uint32_t ip, const uint8_t mac[6])
{
	if (ip == 0)
		return -1;
	struct slot *s = find(t, ip, true);
	if (!s)
		return -1;
	uint64_t w = mac_word(mac);
	uint64_t old = atomic_exchange_explicit(&s->mac, w, memory_order_release);
	if (old == w)
		return 0;
	atomic_fetch_add_explicit(&t->version, 1, memory_order_release);
	return 1;
}

uint64_t fo_neigh_version(const struct fo_neigh_table *t)
{
	return atomic_load_explicit(&((struct fo_neigh_table *)t)->version, memory_order_acquire);
}

bool fo_neigh_lookup(const struct fo_neigh_table *t, uint32_t ip, uint8_t mac[6])
{
	struct slot *s = find((struct fo_neigh_table *)t, ip, false);
	if (!s)
		return false;
	uint64_t w = atomic_load_explicit(&s->mac, memory_order_acquire);
	if (!(w & MAC_VALID))
		return false;
	for (int i = 5; i >= 0; i--, w >>= 8)
		mac[i] = (uint8_t)w;
	return true;
}

bool fo_neigh_should_request(struct fo_neigh_table *t, uint32_t ip, uint64_t now_ms, uint32_t interval_ms)
{
	if (ip == 0)
		return false;
	struct slot *s = find(t, ip, true);
	if (!s)
		return false;
	uint64_t last = atomic_load_explicit(&s->asked_ms, memory_order_relaxed);
	/* now_ms < last: another lcore asked after this one read its clock (or both read 0,
	 * stored as 1); a plain unsigned difference would wrap and ask again. */
	if (last != 0 && (now_ms < last || now_ms - last < interval_ms))
		return false;
	return atomic_compare_exchange_strong_explicit(&s->asked_ms, &last, now_ms ? now_ms : 1,
						       memory_order_relaxed, memory_order_relaxed);
}

uint32_t fo_neigh_count(const struct fo_neigh_table *t)
{
	return atomic_load_explicit(&((struct fo_neigh_table *)t)->count, memory_order_relaxed);
}

uint32_t fo_neigh_foreach(const struct fo_neigh_table *t, void (*fn)(void *, uint32_t, const uint8_t[6]), void *arg)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i <= t->mask; i++) {
		const struct slot *s = &t->slots[i];
		uint32_t ip = atomic_load_explicit((_Atomic uint32_t *)&s->ip, memory_order_acquire);
		if (!ip)
			continue;
		uint8_t mac[6];
		if (fo_neigh_lookup(t, ip, mac)) {
			fn(arg, ip, mac);
			n++;
		}
	}
	return n;
}
