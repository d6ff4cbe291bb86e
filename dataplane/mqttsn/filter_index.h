/* Index of one worker's wildcard subscription filters, so a PUBLISH finds the filters that
 * may match its topic without scanning them all: a trie over topic levels whose edges are
 * '+', '#' or a literal level's 32-bit hash. A match walks the topic's levels once, following
 * at each node the literal edge and '+' and collecting '#' (MQTT 3.1.1 4.7), so its cost
 * depends on the topic's depth and on the filters that share its path, not on how many
 * filters there are. Filters are keyed by their registry entry (topic_registry.h).
 *
 * Candidates, not matches: two literal levels with the same hash share a node, so a filter
 * whose path only collides with the topic's is reported too; every filter that matches is
 * reported, exactly once. Callers confirm with topic_match().
 *
 * Fixed capacity, allocated at create, no allocation afterwards. A filter that would need
 * more trie nodes than are free goes to an overflow list that every match reports (the old
 * linear scan, for that filter only; filter_index_overflow() counts them). Pure C. */
#ifndef FANOUT_FILTER_INDEX_H
#define FANOUT_FILTER_INDEX_H

#include <stdint.h>

#define FI_NODES_PER_FILTER 4u /* trie nodes reserved per filter of capacity */

struct filter_index;

/* Up to max_filters filters at once, with entry ids 1..max_entries, each filter at most
 * max_len bytes. NULL on bad sizes (0, max_entries >= 2^30) or no memory. */
struct filter_index *filter_index_create(uint32_t max_filters, uint32_t max_entries, uint16_t max_len);
void filter_index_destroy(struct filter_index *x);

/* Index a valid wildcard filter under entry; -1 when the entry is out of range or already
 * indexed, the filter is empty or longer than max_len, or max_filters are indexed. */
int filter_index_add(struct filter_index *x, uint32_t entry, const uint8_t *filter, uint16_t len);
void filter_index_remove(struct filter_index *x, uint32_t entry); /* not indexed: no-op */

/* Calls fn(ctx, entry) for every candidate filter of topic (len bytes, a valid name).
 * Returns how many were reported. */
typedef void (*filter_index_fn)(void *ctx, uint32_t entry);
uint32_t filter_index_match(struct filter_index *x, const uint8_t *topic, uint16_t len, filter_index_fn fn, void *ctx);

uint32_t filter_index_count(const struct filter_index *x);    /* indexed filters */
uint32_t filter_index_overflow(const struct filter_index *x); /* of which in the overflow list */
uint32_t filter_index_nodes(const struct filter_index *x);    /* trie nodes in use, root excluded */

#endif
