/* MQTT topic names and filters: validation and matching with '+' and '#' as MQTT 3.1.1
 * section 4.7 defines them (MQTT-SN uses the same rules). Pure C, byte strings with
 * explicit lengths (not NUL-terminated), no allocation. Used by the broker engine. */
#ifndef FANOUT_TOPIC_MATCH_H
#define FANOUT_TOPIC_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A topic name a client may publish to: 1..max_len bytes of well-formed UTF-8 (MQTT-SN 5.3.12), no '+'
 * or '#', no NUL. */
bool topic_name_valid(const uint8_t *name, size_t len, size_t max_len);

/* A subscription filter: 1..max_len bytes of well-formed UTF-8, no NUL; '+' must occupy a whole level;
 * '#' must occupy a whole level and be the last one. */
bool topic_filter_valid(const uint8_t *filter, size_t len, size_t max_len);

/* True when the filter contains '+' or '#'. Assumes a valid filter. */
bool topic_filter_is_wildcard(const uint8_t *filter, size_t len);

/* True when topic name matches filter. Both assumed valid. Topics starting with '$'
 * are not matched by filters starting with a wildcard (MQTT 3.1.1 4.7.2).
 * "a/#" matches "a" and "a/b/c"; "+" matches "" level (e.g. "+/b" matches "/b"). */
bool topic_match(const uint8_t *filter, size_t flen, const uint8_t *topic, size_t tlen);

/* True when every topic name that inner matches, outer matches too ("fleet/#" covers "fleet/+/t"
 * and "fleet"; "+/t" does not cover "#"). Both assumed valid filters (or names). */
bool topic_filter_covers(const uint8_t *outer, size_t olen, const uint8_t *inner, size_t ilen);

#endif
