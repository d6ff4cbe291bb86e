/* Hash helpers shared by the broker engine's open-addressing tables (sessions, topic
 * registry, client topic maps, subscriptions). Header-only, pure C. Tables use linear
 * probing with backward-shift deletion, so there are no tombstones to age out. */
#ifndef FANOUT_BROKER_HASH_H
#define FANOUT_BROKER_HASH_H

#include <stddef.h>
#include <stdint.h>

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

/* FNV-1a over bytes, then mixed: topic names and client ids are short. */
static inline uint32_t bh_bytes(const uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return bh_mix64(h);
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
