/* Config generations (docs/control.md): the live routing state is one pointer to a
 * struct fo_genset {stable, canary, share, mode}. Workers read it without locks once per
 * burst and report a quiescent state after; the main lcore builds a new set, publishes it
 * with one atomic store, watches the workers' quiescent states for at most 100 ms and frees
 * the old one, or hands it to an rte_rcu_qsbr defer queue that it polls: no worker ever waits. Counters a rollout decision needs are kept per lcore and per
 * generation slot (FO_GEN_SLOTS), summed by readers. */
#ifndef FANOUT_GENERATION_H
#define FANOUT_GENERATION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "fanout/stats_schema.h"
#include "latency_hist.h"
#include "route_table.h"

#define FO_GEN_SLOTS 8 /* generations whose counters are kept: 2 live + retired */
#define FO_GEN_SLOT_NONE 0xffu
#define FO_MAX_ROUTE_MATCH 64  /* routes one publish is sent through; more count as route_unserved */
#define FO_SHARE_MAX 10000u    /* basis points */
#define FO_SWAP_OBSERVE_MS 100 /* how long a swap waits at most to see every worker pass */

enum fo_gen_mode { FO_GEN_SPLIT = 0, FO_GEN_MIRROR = 1 };

/* One lcore's counters for one generation slot (fields: FO_FOREACH_GEN in fanout/stats_schema.h).
 * Written only by that lcore; output threads count out_written and out_failed in their own. Each
 * slot starts a cache line: the compiler adds neighbouring counters 16 bytes at a time, and such
 * a load or store across two lines (one per message, fo_wr_account) cannot be forwarded. */
struct fo_gen_ctr {
	FO_FOREACH_GEN(FO_SCHEMA_FIELD_)
	uint64_t lat_max; /* rx -> tx, TSC cycles */
	uint64_t lat[FO_LAT_BUCKETS];
} __attribute__((aligned(64)));

/* One worker's (or one output thread's) counters for one route of one generation: a cache line
 * (fields: FO_FOREACH_ROUTE). UDP routes: matched, copies, dropped. Sink and bridge routes: workers
 * count matched, queued, ring_full, pool_empty; the output thread (row FO_RCTR_OUT_ROW + output)
 * written and failed. */
struct fo_route_ctr {
	FO_FOREACH_ROUTE(FO_SCHEMA_FIELD_)
};
#define FO_RCTR_OUT_ROW 16 /* FO_MAX_WORKERS: the first output thread's row */
#define FO_RCTR_ROWS (FO_RCTR_OUT_ROW + FO_MAX_SINKS + FO_MAX_BRIDGES)

struct fo_generation {
	uint32_t id;
	uint8_t slot;
	uint64_t fingerprint;
	uint64_t created_ms;   /* wall clock (Unix epoch ms) */
	struct fo_config *cfg; /* owned; its routes are this generation's content */
	struct route_table *rt;
	uint16_t (*dest_port)[FO_MAX_ROUTE_DESTS]; /* per route and destination: output port index */
	struct fo_route_ctr *rctr;                 /* [row * rstride + route], row = worker or output */
	uint32_t rstride;
	uint32_t refs;                     /* genset references; main lcore only */
	struct fo_generation *zombie_next; /* retired but entries still in outputs (outputs.h) */
};

struct fo_genset {
	struct fo_generation *stable;
	struct fo_generation *canary; /* NULL when none is loaded */
	uint32_t share_bp;            /* 0..10000 */
	uint8_t mode;                 /* enum fo_gen_mode */
};

extern _Atomic(struct fo_genset *) fo_genset;

/* Worker side. */
static inline struct fo_genset *fo_genset_read(void)
{
	return atomic_load_explicit(&fo_genset, memory_order_acquire);
}
static inline bool fo_genset_is_canary(const struct fo_genset *gs, uint32_t client_hash)
{
	return gs->canary != NULL && client_hash % FO_SHARE_MAX < gs->share_bp;
}
/* Register worker idx as an RCU reader (main lcore, before launch); quiescent report after
 * each worker stage call; offline when the worker stops for good. */
void fo_gen_worker_online(uint32_t idx);
void fo_gen_worker_quiescent(uint32_t idx);
void fo_gen_worker_offline(uint32_t idx);

/* Main lcore. boot takes the ownership of nothing: the boot config stays fo_dp.cfg's and
 * generation 1 works on a copy of its routes. */
int fo_gen_init(const char *boot_path, uint32_t n_workers, char *err, size_t errlen);
void fo_gen_poll(void); /* reclaims retired sets whose grace period is over */
void fo_gen_fini(void);

/* Control operations (main lcore). Each writes its JSON reply to out and returns 0, or returns
 * -1 with err set to "what is wrong; what to do". t0 is the TSC when the command arrived. */
int fo_gen_diff(const char *yaml, size_t len, FILE *out, char *err, size_t errlen);
int fo_gen_load(const char *yaml, size_t len, uint32_t id, bool as_stable, uint64_t t0, FILE *out, char *err,
		size_t errlen);
int fo_gen_set_share(uint32_t bp, uint64_t t0, FILE *out, char *err, size_t errlen);
int fo_gen_set_mode(enum fo_gen_mode mode, uint64_t t0, FILE *out, char *err, size_t errlen);
int fo_gen_promote(uint64_t t0, FILE *out, char *err, size_t errlen);
int fo_gen_rollback(uint64_t t0, FILE *out, char *err, size_t errlen);

void fo_gen_write_generations(FILE *f);
void fo_gen_write_genstats(FILE *f); /* {"uptime_ms":..,"generations":[...]} */
void fo_gen_write_routes(FILE *f);
/* Route r of generation g summed over every worker and output row. */
void fo_gen_route_sum(const struct fo_generation *g, uint32_t r, struct fo_route_ctr *t);
/* Readers outside the main lcore: fn for every route of live generation id (stable or canary),
 * under the lock that keeps the set from being freed; false when id is not live. */
bool fo_gen_route_walk(uint32_t id,
		       void (*fn)(void *arg, const char *route, const char *kind, const struct fo_route_ctr *t),
		       void *arg);

/* A summary for readers outside the main lcore (DPDK telemetry thread). */
struct fo_gen_summary {
	uint32_t stable_id, canary_id, share_bp, mode;
	uint64_t swaps;
};
void fo_gen_summary_get(struct fo_gen_summary *s);
/* Per-generation counters summed over lcores, since the generation was created.
 * Returns false when no kept slot holds generation id. */
bool fo_gen_counters(uint32_t id, struct fo_gen_ctr *out, const char **role);

#endif
