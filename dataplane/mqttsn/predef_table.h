/* Predefined topics of one generation (mqttsn.predefined_topics, mqttsn.client_predefined): the
 * global table and the per-client ones, each precomputed as a sorted id -> name array and a
 * name -> id hash, so the engine resolves an id and picks a copy's id without allocating. Built
 * on the control side with the generation's config; a worker only reads it. Pure. */
#ifndef FANOUT_PREDEF_TABLE_H
#define FANOUT_PREDEF_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "mqttsn_broker.h"

struct predef_set;
struct predef_table;

/* The tables of the global list and the per-client rules: a rule's table is its own topics
 * over the global ones (a global topic whose id or name the rule uses is not in it). Ids must
 * be 1..65534 and names valid and unique within each list. NULL with *err on a bad list or no
 * memory; an empty set (no topics anywhere) is NULL with *err NULL. */
struct predef_set *predef_set_build(const struct broker_predefined *global, uint32_t n_global,
				    const struct broker_client_predefined *rules, uint32_t n_rules, uint16_t max_len,
				    const char **err);
void predef_set_free(struct predef_set *s);

/* The table of the client: the first rule naming its ClientId (exact, or a prefix of it), else
 * the global table. cid_hash is fo_client_id_hash(cid, clen). NULL when the client has no
 * predefined topics. */
const struct predef_table *predef_client_table(const struct predef_set *s, const uint8_t *cid, uint16_t clen,
					       uint32_t cid_hash);

/* The global table (a client no rule names), NULL when it is empty. */
const struct predef_table *predef_global_table(const struct predef_set *s);

/* The name of a predefined id, NULL when the table has none; *name_hash (when not NULL) gets its
 * predef_name_hash(). */
const uint8_t *predef_name(const struct predef_table *t, uint16_t id, uint16_t *len, uint32_t *name_hash);

/* The hash predef_id() takes: once per name, then any number of tables. */
uint32_t predef_name_hash(const uint8_t *name, uint16_t len);
/* The predefined id of a name, 0 when the table has none. */
uint16_t predef_id(const struct predef_table *t, const uint8_t *name, uint16_t len, uint32_t name_hash);

/* Whether the set has per-client rules (else every client has its global table). */
bool predef_set_per_client(const struct predef_set *s);

/* Whether some table of the set (global or a client's) has the name. */
bool predef_set_names(const struct predef_set *s, const uint8_t *name, uint16_t len, uint32_t name_hash);

/* Entries of a table (for listings and tests). */
uint32_t predef_table_size(const struct predef_table *t);

#endif
