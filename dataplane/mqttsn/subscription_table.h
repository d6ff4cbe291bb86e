/* Subscriptions of one worker: one node per (session, registry entry) with its granted
 * QoS, linked twice — into the entry's subscriber list (exact names and wildcard filters
 * are both registry entries, see topic_registry.h) and into the session's list (cleanup).
 * Wildcard filters that have subscribers are also kept in a dense array (a publish finds
 * the ones that match through filter_index.h, not by scanning it).
 * Fixed capacity, (session, entry) index for O(1) SUBSCRIBE/UNSUBSCRIBE. */
#ifndef FANOUT_SUBSCRIPTION_TABLE_H
#define FANOUT_SUBSCRIPTION_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#define SUB_NONE UINT32_MAX

struct sub_node {
	uint32_t session;
	uint32_t s_next, s_prev; /* session list */
	uint32_t t_next, t_prev; /* entry (topic/filter) list */
	uint32_t entry : 29;     /* registry id (< TOPIC_REGISTRY_MAX) */
	uint32_t qos : 2;        /* granted: 0..2 */
	uint32_t wildcard : 1;
};

struct subscription_table;

/* max_entries = registry capacity (entry ids 1..max_entries, at most 2^29 - 1). NULL on
 * bad sizes. */
struct subscription_table *subscription_table_create(uint32_t max_subscriptions, uint32_t max_entries);
void subscription_table_destroy(struct subscription_table *t);

uint32_t sub_find(const struct subscription_table *t, uint32_t session, uint32_t entry);
/* Add (or update the QoS of) the subscription; *session_head is the session's list head.
 * SUB_NONE when full. *created tells whether it is new (caller takes a registry ref). */
uint32_t sub_add(struct subscription_table *t, uint32_t *session_head, uint32_t session, uint32_t entry, uint8_t qos,
		 bool wildcard, bool *created);
void sub_remove(struct subscription_table *t, uint32_t *session_head, uint32_t node);

const struct sub_node *sub_get(const struct subscription_table *t, uint32_t node);
uint32_t sub_first(const struct subscription_table *t, uint32_t entry); /* entry's list */
uint32_t sub_wildcard_count(const struct subscription_table *t);
uint32_t sub_wildcard_at(const struct subscription_table *t, uint32_t i);
uint32_t sub_count(const struct subscription_table *t);

#endif
