/* Hash helpers shared by the broker engine's open-addressing tables (sessions, topic
 * registry, client topic maps, subscriptions). Header-only, pure C. The tables probe and
 * delete through oa_table.h: linear probing with backward-shift deletion, so there are no
 * tombstones to age out. */
#ifndef FANOUT_BROKER_HASH_H
#define FANOUT_BROKER_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Per-process secret mixed into every hash of attacker-chosen keys (addresses, client ids,
 * topic names, filter levels): without it a sender could aim its keys at one probe chain.
 * Set once by bh_seed_init() before any table is created (the dataplane does it at start);
 * 0 until then (unit tests that want it call bh_seed_init() or set bh_seed). */
extern uint64_t bh_seed;
/* Per-process key of bh_prf64 (values a sender must echo to prove its address). */
extern uint64_t bh_prf_key[2];
/* Fills bh_seed from getrandom(); returns 0, or -1 when the kernel gave no randomness. */
int bh_seed_init(void);

/* splitmix64 finaliser: cheap and mixes every input bit into the low bits we mask. */
static inline uint32_t bh_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return (uint32_t)x;
}

/* A key of up to 64 bits (addresses, index pairs) with the process seed. */
static inline uint32_t bh_key64(uint64_t x)
{
	return bh_mix64(x ^ bh_seed);
}

/* The worker that owns a client (source address and port): seeded, so a sender cannot
 * choose ports that all land on one worker; a different function from the session index's.
 * Every packet asks: one worker needs no hash, and a power of two no division (same answers). */
static inline uint32_t bh_worker_of(uint32_t ip, uint16_t port, uint32_t n_workers)
{
	if (n_workers <= 1)
		return 0;
	uint32_t h = bh_key64(((uint64_t)ip << 16 | port) ^ 0x3c6ef372fe94f82bULL);
	return (n_workers & (n_workers - 1)) == 0 ? h & (n_workers - 1) : h % n_workers;
}

/* FNV-1a over bytes, then mixed: topic names and client ids are short. */
static inline uint32_t bh_bytes(const uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed ^ bh_seed;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return bh_mix64(h);
}

/* SipHash-2-4 of one 64-bit word under bh_prf_key: a keyed PRF, so values derived from a
 * counter (proof MsgIds and TopicIds) cannot be predicted from the ones a sender has seen. */
static inline uint64_t bh_rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}
#define BH_SIPROUND(v0, v1, v2, v3) \
	do { \
		v0 += v1; \
		v1 = bh_rotl(v1, 13); \
		v1 ^= v0; \
		v0 = bh_rotl(v0, 32); \
		v2 += v3; \
		v3 = bh_rotl(v3, 16); \
		v3 ^= v2; \
		v0 += v3; \
		v3 = bh_rotl(v3, 21); \
		v3 ^= v0; \
		v2 += v1; \
		v1 = bh_rotl(v1, 17); \
		v1 ^= v2; \
		v2 = bh_rotl(v2, 32); \
	} while (0)
static inline uint64_t bh_prf64(uint64_t m)
{
	uint64_t k0 = bh_prf_key[0], k1 = bh_prf_key[1];
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
	uint64_t b = (uint64_t)8 << 56;
	v3 ^= m;
	BH_SIPROUND(v0, v1, v2, v3);
	BH_SIPROUND(v0, v1, v2, v3);
	v0 ^= m;
	v3 ^= b;
	BH_SIPROUND(v0, v1, v2, v3);
	BH_SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	BH_SIPROUND(v0, v1, v2, v3);
	BH_SIPROUND(v0, v1, v2, v3);
	BH_SIPROUND(v0, v1, v2, v3);
	BH_SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/* Smallest power of two >= 2 * n (load factor <= 0.5), at least 16. */
static inline uint32_t bh_slots_for(uint32_t n)
{
	uint64_t want = (uint64_t)n * 2u, s = 16;
	while (s < want)
		s <<= 1;
	return (uint32_t)s;
}

/* Backward-shift deletion step: may the element at slot j whose home slot is k move
 * into the hole at i? (true when k is not cyclically inside (i, j]). */
static inline int bh_can_shift(uint32_t i, uint32_t j, uint32_t k)
{
	if (i <= j)
		return k <= i || k > j;
	return k <= i && k > j;
}

#endif
