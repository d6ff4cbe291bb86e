/* What changes between two loaded configs: route additions, removals and changes, the admission
 * rules and the predefined topics (what a new generation brings), and every other key, which only a restart can apply. Pure:
 * used by the control socket's CONFIG DIFF / CONFIG LOAD and by unit tests. */
#ifndef FANOUT_CONFIG_DIFF_H
#define FANOUT_CONFIG_DIFF_H

#include <stdint.h>

#include "config.h"

/* op is "add", "remove" or "change"; route is the route name; detail says what changed. */
typedef void (*fo_route_change_fn)(void *ctx, const char *op, const char *route, const char *detail);
/* key names a config key that differs and needs a restart, e.g. "ports[0].ipv4". */
typedef void (*fo_restart_key_fn)(void *ctx, const char *key);
/* key names a part of a generation other than its routes ("security.admission"); detail says how. */
typedef void (*fo_gen_key_fn)(void *ctx, const char *key, const char *detail);

/* Reports every difference from `from` to `to`. Returns the number of route changes plus generation
 * keys (fo_config_gen_keys, not reported here) plus restart-only differences (0 = the same config).
 * Either callback may be NULL. */
unsigned fo_config_diff(const struct fo_config *from, const struct fo_config *to, fo_route_change_fn on_route,
			fo_restart_key_fn on_restart, void *ctx);

/* Number of keys outside "routes:" that differ (they need a restart). */
unsigned fo_config_restart_keys(const struct fo_config *from, const struct fo_config *to, fo_restart_key_fn on_restart,
				void *ctx);

/* Generation keys outside "routes:" that differ: mqttsn.predefined_topics and
 * mqttsn.client_predefined, reported together as "mqttsn.predefined_topics", and
 * security.admission and security.admission_unlisted, reported together as "security.admission":
 * 0, 1 or 2. */
unsigned fo_config_gen_keys(const struct fo_config *from, const struct fo_config *to, fo_gen_key_fn on_key, void *ctx);

/* A 64-bit fingerprint of the routes (FNV-1a over their canonical form): equal routes, equal value. */
uint64_t fo_routes_fingerprint(const struct fo_config *cfg);
/* The same over everything a generation holds: the routes, the admission rules, then the
 * predefined topics. */
uint64_t fo_generation_fingerprint(const struct fo_config *cfg);

#endif
