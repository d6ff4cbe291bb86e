/* ARP neighbour table of one port: IPv4 -> MAC, learnt by rx lcores from ARP and read by
 * every lcore that builds frames. Lock-free (C11 atomics, open addressing, entries never
 * move), so rx lcores write and workers read without waiting on each other. Pure C. */
#ifndef FANOUT_NEIGHBOUR_H
#define FANOUT_NEIGHBOUR_H

#include <stdbool.h>
#include <stdint.h>

struct fo_neigh_table;

/* capacity is rounded up to a power of two; NULL on allocation failure. */
struct fo_neigh_table *fo_neigh_create(uint32_t capacity);
void fo_neigh_destroy(struct fo_neigh_table *t);

/* Learn or refresh ip -> mac. Returns 1 when the entry is new or its MAC changed,
 * 0 when unchanged, -1 when the table is full or ip is 0. */
int fo_neigh_update(struct fo_neigh_table *t, uint32_t ip, const uint8_t mac[6]);

/* true and *mac filled when ip is resolved. */
bool fo_neigh_lookup(const struct fo_neigh_table *t, uint32_t ip, uint8_t mac[6]);

/* Unresolved ip: true when the caller should send an ARP request now (at most one per
 * interval_ms per address across all lcores). Creates a pending entry. */
bool fo_neigh_should_request(struct fo_neigh_table *t, uint32_t ip, uint64_t now_ms, uint32_t interval_ms);

uint32_t fo_neigh_count(const struct fo_neigh_table *t);

/* Changes whenever an entry is added or its MAC changes: a reader that cached a lookup made
 * at version v may keep using it while the version is still v. */
uint64_t fo_neigh_version(const struct fo_neigh_table *t);

/* Iterate resolved entries (stats); returns entries visited. */
uint32_t fo_neigh_foreach(const struct fo_neigh_table *t,
			  void (*fn)(void *arg, uint32_t ip, const uint8_t mac[6]), void *arg);

#endif
