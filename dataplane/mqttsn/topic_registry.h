/* Per-worker topic registry: interns topic names (and the wildcard filters subscriptions
 * use) so each gets one id, a 32-bit index the engine's other tables key on. The 16-bit
 * topic id a client sees is per client (spec 7.3): each client's map (mqttsn_session.h)
 * pairs it with the registry id, and equals the registry id whenever that id is free in
 * the client's map and <= 65534 (so a registry of at most 65534 entries hands every client
 * the same id for the same name). Entries are reference counted by client maps and
 * subscriptions and recycled at zero (a predefined topic's name too: its id is a
 * generation's, predef_table.h). Fixed capacity,
 * allocated at create, no locks. */
#ifndef FANOUT_TOPIC_REGISTRY_H
#define FANOUT_TOPIC_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#define TOPIC_NONE 0u /* never a valid id */
#define TOPIC_REGISTRY_MAX (1u << 26)

/* Names and filters live in separate key spaces: a filter entry's id is internal (it
 * indexes the subscription lists) and never handed to a client. */
enum topic_kind { TOPIC_KIND_NAME = 0, TOPIC_KIND_FILTER = 1 };

struct topic_registry;

/* max_topics in 1..TOPIC_REGISTRY_MAX, max_len >= 1; NULL on bad sizes or no memory. */
struct topic_registry *topic_registry_create(uint32_t max_topics, uint16_t max_len);
void topic_registry_destroy(struct topic_registry *r);

/* Id of name, or TOPIC_NONE. */
uint32_t topic_registry_find(const struct topic_registry *r, enum topic_kind kind, const uint8_t *name, uint16_t len);
/* Id of name, creating it (with no references) when absent; TOPIC_NONE when the registry
 * is full or len is 0 or too long. A caller that then adds no reference calls
 * topic_registry_drop_unused() so the entry does not linger. */
uint32_t topic_registry_intern(struct topic_registry *r, enum topic_kind kind, const uint8_t *name, uint16_t len);
void topic_registry_ref(struct topic_registry *r, uint32_t id);
void topic_registry_unref(struct topic_registry *r, uint32_t id); /* frees at zero */
void topic_registry_drop_unused(struct topic_registry *r, uint32_t id);

/* True when id is a live entry of that kind. */
bool topic_registry_live(const struct topic_registry *r, enum topic_kind kind, uint32_t id);
const uint8_t *topic_registry_name(const struct topic_registry *r, uint32_t id, uint16_t *len);
uint32_t topic_registry_refs(const struct topic_registry *r, uint32_t id);

uint32_t topic_registry_count(const struct topic_registry *r);      /* live entries, both kinds */
uint32_t topic_registry_name_count(const struct topic_registry *r); /* live names */

#endif
