/* Stable hashes of a client's identity. fo_client_hash (IPv4 source address and UDP port)
 * stands for a client without a ClientId; the worker that owns a client is picked by the
 * seeded bh_worker_of (dataplane/base/broker_hash.h). fo_client_id_hash (the MQTT-SN ClientId) picks its
 * rollout side: canary when hash % 10000 < share, so a device stays on one side as the share
 * grows and keeps its side across address changes; a client without a ClientId (QoS -1
 * publishes, empty ids) uses fo_client_hash. Never change either lightly: changing them moves
 * every client to another rollout side. Tests re-implement them. */
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

static inline uint32_t fo_client_id_hash(const uint8_t *id, uint32_t len)
{
	uint64_t x = 0xcbf29ce484222325ULL; /* FNV-1a 64, then a murmur3 finaliser */
	for (uint32_t i = 0; i < len; i++) {
		x ^= id[i];
		x *= 0x100000001b3ULL;
	}
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return (uint32_t)x;
}

#endif
