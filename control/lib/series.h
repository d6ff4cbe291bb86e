/* Recent samples of the dataplane for charts and rates: one point per poll, rates per second
 * from counter deltas, in a fixed ring. Also turns a GENSTATS reply into a rollout sample. */
#ifndef FANOUT_CONTROL_SERIES_H
#define FANOUT_CONTROL_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rollout.h"

#define SERIES_CAP 1200 /* 5 minutes at the default 250 ms poll */
#define SERIES_MAX_GENS 8

struct series_gen {
	uint32_t id;
	char role[8];                        /* stable, canary, retired */
	double msg_rate;                     /* msgs per second */
	double drop_rate;                    /* (drops + route_dropped) per msg over the interval */
	double error_rate;                   /* error_replies per msg over the interval */
	double p99_us;                       /* cumulative */
	FO_FOREACH_GEN_MSG(FO_SCHEMA_FIELD_) /* raw counters (fanout/stats_schema.h) for the next delta */
};

struct series_point {
	uint64_t t_ms;
	double rx_rate, delivery_rate, drop_rate, out_drop_rate; /* per second */
	unsigned n_gens;
	struct series_gen gen[SERIES_MAX_GENS];
	uint16_t share_bp;
	int rollout_step; /* 1-based step of a running rollout, 0 none */
};

struct series {
	struct series_point pts[SERIES_CAP];
	size_t head, n; /* pts[head] is the oldest */
	bool have_prev;
	uint64_t prev_t_ms, prev_rx, prev_deliveries, prev_dropped, prev_out_dropped;
	struct series_point prev_gens; /* raw counters of the previous poll */
};

void series_init(struct series *s);
/* Adds a point from one poll's replies (any may be NULL). */
void series_add(struct series *s, uint64_t t_ms, json_t *generations, json_t *genstats, json_t *stats,
		uint16_t share_bp, int rollout_step);
const struct series_point *series_last(const struct series *s);
/* {"points":[...]} of points newer than since_ms */
json_t *series_json(const struct series *s, uint64_t since_ms);
json_t *series_point_rates_json(const struct series_point *p);

/* A rollout sample from GENERATIONS (ids) and GENSTATS (counters); -1 if they are unusable. */
int series_rollout_sample(json_t *generations, json_t *genstats, uint64_t t_ms, struct ro_sample *out);

uint64_t json_u64(json_t *o, const char *key);

#endif
