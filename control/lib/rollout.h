/* The rollout state machine: a plan (steps in percent, a hold per step, a mode, gates) walks a
 * canary generation's share up, judging the gates on every dataplane sample. Pure: samples and
 * operator actions in, decisions (set share, promote, rollback) out; fanout-control executes them. */
#ifndef FANOUT_CONTROL_ROLLOUT_H
#define FANOUT_CONTROL_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/stats_schema.h"
#include "gates.h"

#define RO_MAX_STEPS 16
#define RO_MAX_GATES 8
#define RO_SHARE_MAX 10000     /* basis points */
#define RO_MIN_WINDOW_MSGS 100 /* rate gates are judged mid-hold only on this many canary msgs */
#define RO_DEFAULT_HOLD_MS 10000
#define RO_MAX_HOLD_MS (7ull * 24 * 3600 * 1000)

enum ro_mode { RO_MODE_SPLIT, RO_MODE_MIRROR };

enum ro_state {
	RO_IDLE,      /* never started */
	RO_RUNNING,   /* holding the current step, judging gates */
	RO_PAUSED,    /* operator pause: gates not judged, share kept */
	RO_HELD,      /* AUTO no: the step passed; RESUME goes to the next step (or promotes) */
	RO_PROMOTING, /* PROMOTE sent to the dataplane */
	RO_PROMOTED,
	RO_ROLLED_BACK, /* by a failed gate or the operator */
	RO_ABORTED,
};

struct ro_plan {
	unsigned n_steps;
	uint16_t steps_bp[RO_MAX_STEPS]; /* strictly ascending, 1..10000 */
	uint64_t hold_ms;
	enum ro_mode mode;
	unsigned n_gates;
	struct gate gates[RO_MAX_GATES];
	bool auto_advance;
};

/* The dataplane's latency histogram buckets (GENSTATS latency_hist: [index, upper ns, count]). */
#define RO_LAT_BUCKETS 320

/* One generation's cumulative counters as GENSTATS reports them: every per-generation counter
 * of the schema (FO_FOREACH_GEN in fanout/stats_schema.h), read by series_rollout_sample. The
 * gates use msgs, drops, route_dropped, error_replies and the sink/bridge drops out_failed,
 * out_ring_full, out_pool_empty (0 when the generation has no sink or bridge route). */
struct ro_gen_counts {
	FO_FOREACH_GEN(FO_SCHEMA_FIELD_)
	uint64_t p99_ns;                    /* cumulative histogram's p99 (when no buckets came) */
	bool have_hist;                     /* lat_count/lat_upper_ns were filled */
	uint64_t lat_count[RO_LAT_BUCKETS]; /* cumulative count per bucket */
	uint64_t lat_upper_ns[RO_LAT_BUCKETS];
};

/* p-quantile (0..1) of the samples added between two cumulative histograms, as the bucket's
 * upper bound in ns; 0 when the window holds no sample. */
uint64_t ro_window_quantile_ns(const struct ro_gen_counts *from, const struct ro_gen_counts *to, double q);

struct ro_sample {
	uint64_t t_ms;
	uint32_t stable_id, canary_id; /* 0 = none */
	struct ro_gen_counts stable, canary;
};

/* A generation's sink/bridge drops: out_failed + out_ring_full + out_pool_empty. */
uint64_t ro_out_dropped(const struct ro_gen_counts *c);

enum ro_action { RO_ACT_NONE, RO_ACT_SET_SHARE, RO_ACT_PROMOTE, RO_ACT_ROLLBACK };

struct ro_decision {
	enum ro_action action;
	uint16_t share_bp;
	char reason[200];
};

struct rollout {
	struct ro_plan plan;
	enum ro_state state;
	uint32_t generation; /* the canary being rolled out */
	unsigned step;       /* index into plan.steps_bp */
	uint16_t share_bp;   /* the share the rollout last asked for */
	uint64_t started_ms, step_started_ms, ended_ms;
	/* the hold window: counters at its start (not persisted; re-taken from the next sample) */
	bool have_base;
	struct ro_sample base;
	/* last judged figures */
	bool figures_valid;
	struct gate_figures figures;
	uint64_t window_msgs;
	/* why it ended */
	bool failed;
	struct gate failed_gate;
	double failed_value;
	char reason[200];
};

void ro_plan_default(struct ro_plan *p);
/* "1,5,25,50,100" percent (decimals to 0.01 allowed) */
int ro_parse_steps(const char *s, size_t len, struct ro_plan *p, char *err, size_t errlen);
/* "10s", "500ms", "2m", or plain seconds */
int ro_parse_hold(const char *s, size_t len, uint64_t *ms, char *err, size_t errlen);
int ro_parse_mode(const char *s, size_t len, enum ro_mode *m, char *err, size_t errlen);
const char *ro_mode_name(enum ro_mode m);
const char *ro_state_name(enum ro_state s);
int ro_state_from_name(const char *s, enum ro_state *out);
bool ro_active(const struct rollout *r); /* running, paused, held or promoting */

void ro_init(struct rollout *r);
int ro_start(struct rollout *r, const struct ro_plan *plan, uint32_t canary_id, uint64_t now_ms, struct ro_decision *d,
	     char *err, size_t errlen);
void ro_on_sample(struct rollout *r, const struct ro_sample *s, struct ro_decision *d);
int ro_pause(struct rollout *r, uint64_t now_ms, char *err, size_t errlen);
int ro_resume(struct rollout *r, uint64_t now_ms, struct ro_decision *d, char *err, size_t errlen);
int ro_promote(struct rollout *r, uint64_t now_ms, struct ro_decision *d, char *err, size_t errlen);
int ro_abort(struct rollout *r, uint64_t now_ms, struct ro_decision *d, char *err, size_t errlen);
/* Always succeeds: an active rollout ends rolled back; the decision is ROLLBACK either way. */
void ro_rollback(struct rollout *r, uint64_t now_ms, const char *reason, struct ro_decision *d);
/* The dataplane answered a PROMOTE decision. */
void ro_promote_done(struct rollout *r, uint64_t now_ms, bool ok, const char *why);
/* The dataplane confirmed `generation` as stable outside a rollout (an operator PROMOTE): a
 * rollout of that generation which had ended rolled back or aborted -- a ROLLBACK served just
 * before a PROMOTE sent at the same time, say -- is recorded as promoted, so its state does
 * not say "rolled back" while the generation serves everyone. Any other rollout is left alone. */
void ro_promoted_after_end(struct rollout *r, uint32_t generation, uint64_t now_ms, const char *why);

/* Figures over a window: `to` minus `from`; -1 when a counter went backwards (dataplane restart). */
int ro_window_figures(const struct ro_sample *from, const struct ro_sample *to, struct gate_figures *f,
		      uint64_t *canary_msgs);

#endif
