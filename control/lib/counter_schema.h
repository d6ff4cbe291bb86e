/* The dataplane's counter schema (fanout/stats_schema.h) as tables fanout-control walks: the
 * Prometheus series of /metrics, the JSON of /api/schema the dashboard reads, and the counter
 * names the rollout gates and charts take from GENSTATS all come from here. */
#ifndef FANOUT_CONTROL_COUNTER_SCHEMA_H
#define FANOUT_CONTROL_COUNTER_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "fanout/stats_schema.h"

/* One entry of a struct family: see the column list at the top of fanout/stats_schema.h. */
struct cs_entry {
	const char *field, *key, *unit, *metric, *reason, *help;
};

struct cs_list {
	const struct cs_entry *e;
	size_t n;
};

/* The struct families' sub-lists, by where their values sit in the dataplane's replies. */
extern const struct cs_list cs_lcore_rx, cs_lcore_out;                /* STATS totals, totals.out */
extern const struct cs_list cs_lcore_loop;                            /* STATS lcores[] */
extern const struct cs_list cs_gen_msg, cs_gen_out, cs_gen_lat;       /* GENSTATS generation, .outputs, .latency_ns */
extern const struct cs_list cs_route_any, cs_route_udp, cs_route_out; /* STATS routes.{stable,canary}[] */
extern const struct cs_list cs_output_worker, cs_output_thread;       /* OUTPUTS sinks[]/bridges[] */

/* A JSON object of one series source and its labels, preformatted (`a="x",b="y"`, escaped). */
struct cs_row {
	json_t *o;
	char labels[320];
};

/* Prometheus series of list l over rows: one HELP/TYPE per metric (entries sharing a metric get
 * reason="..." and a HELP naming each reason), a sample per row holding the entry's key. Entries
 * whose reason is "*" are sums of a labelled family and are skipped. */
void cs_prom(struct evbuffer *o, const struct cs_list *l, const struct cs_row *rows, size_t n_rows);
/* The same for a labelled family (drops, out drops, events) from one {name: value} object. */
void cs_prom_labelled(struct evbuffer *o, const char *metric, const char *help, const char *label, json_t *obj);
/* The same over rows: each row's labels come before label="name". */
void cs_prom_labelled_rows(struct evbuffer *o, const char *metric, const char *help, const char *label,
			   const struct cs_row *rows, size_t n_rows);
/* Appends `s` to a row's labels with the value escaped for the exposition format. */
void cs_label(struct cs_row *r, const char *name, const char *value);

/* {"families":[{"family":..,"metric":..,"help":..,"entries":[{"name","key","unit","metric",
 * "reason","description"}]}]}: every counter, for the dashboard. */
json_t *cs_schema_json(void);

#endif
