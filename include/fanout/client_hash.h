/* The stable hash of a client's identity (IPv4 source address and UDP port). The dataplane
 * uses it to pick the worker that owns a client; the rollout split (hash mod 10000 < share)
 * will use it too, so a device always lands on the same side. Never change it lightly:
 * changing it moves every client to another worker and another rollout side. */
#ifndef FANOUT_CLIENT_HASH_H
#define FANOUT_CLIENT_HASH_H

#include <stdint.h>

static inline uint32_t fo_client_hash(uint32_t ip, uint16_t port)
{
	uint64_t x = ((uint64_t)ip << 16) | port;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return (uint32_t)x;
}

#endif
