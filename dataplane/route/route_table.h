/* A generation's compiled routes: which routes a topic name matches. Exact filters are found
 * through a hash of the filter; wildcard filters are scanned. Built once on the main lcore
 * when a generation is created (never on a worker); matching allocates nothing. Pure C. */
#ifndef FANOUT_ROUTE_TABLE_H
#define FANOUT_ROUTE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct route_table;

/* Compiles cfg->routes (already validated by the config loader). NULL on allocation failure. */
struct route_table *route_table_build(const struct fo_config *cfg);
void route_table_free(struct route_table *t);

/* Indexes (into cfg->routes) of the routes whose filter matches topic, at most max of them (the
 * lowest), in route order. Returns how many were written; *total (when not NULL) gets how many
 * routes matched in all, which is more than that when the cap cut some off. */
uint32_t route_table_match(const struct route_table *t, const uint8_t *topic, uint16_t len, uint16_t *out, uint32_t max,
			   uint32_t *total);

uint32_t route_table_size(const struct route_table *t);

#endif
