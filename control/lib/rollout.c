/* The rollout state machine (see rollout.h). Time comes in with the samples and operator calls,
 * so tests drive it with made-up clocks; nothing here does I/O. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rollout.h"

static const char *const state_names[] = {
	[RO_IDLE] = "idle",
	[RO_RUNNING] = "running",
	[RO_PAUSED] = "paused",
	[RO_HELD] = "held",
	[RO_PROMOTING] = "promoting",
	[RO_PROMOTED] = "promoted",
	[RO_ROLLED_BACK] = "rolled_back",
	[RO_ABORTED] = "aborted",
};

const char *ro_state_name(enum ro_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

int ro_state_from_name(const char *s, enum ro_state *out)
{
	for (unsigned i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (strcmp(s, state_names[i]) == 0) {
			*out = (enum ro_state)i;
			return 0;
		}
	return -1;
}

const char *ro_mode_name(enum ro_mode m)
{
	return m == RO_MODE_MIRROR ? "mirror" : "split";
}

bool ro_active(const struct rollout *r)
{
	return r->state == RO_RUNNING || r->state == RO_PAUSED || r->state == RO_HELD || r->state == RO_PROMOTING;
}

void ro_plan_default(struct ro_plan *p)
{
	static const uint16_t steps[] = { 100, 500, 2500, 5000, 10000 };

	memset(p, 0, sizeof(*p));
	p->n_steps = sizeof(steps) / sizeof(steps[0]);
	memcpy(p->steps_bp, steps, sizeof(steps));
	p->hold_ms = RO_DEFAULT_HOLD_MS;
	p->mode = RO_MODE_SPLIT;
	p->auto_advance = true;
}

/* A decimal with at most two fractional digits, as basis points of a percent; -1 if malformed. */
static long percent_to_bp(const char *s, size_t len)
{
	long whole = 0, frac = 0;
	size_t i = 0, digits = 0, fdigits = 0;

	while (i < len && isdigit((unsigned char)s[i]) && digits < 4) {
		whole = whole * 10 + (s[i++] - '0');
		digits++;
	}
	if (digits == 0 && !(i < len && s[i] == '.'))
		return -1;
	if (i < len && s[i] == '.') {
		i++;
		while (i < len && isdigit((unsigned char)s[i]) && fdigits < 2) {
			frac = frac * 10 + (s[i++] - '0');
			fdigits++;
		}
		if (fdigits == 0 && digits == 0)
			return -1;
		if (fdigits == 1)
			frac *= 10;
	}
	if (i != len)
		return -1;
	return whole * 100 + frac;
}

int ro_parse_steps(const char *s, size_t len, struct ro_plan *p, char *err, size_t errlen)
{
	unsigned n = 0;
	size_t i = 0;
	uint16_t steps[RO_MAX_STEPS];

	while (i <= len) {
		size_t j = i;
		while (j < len && s[j] != ',')
			j++;
		size_t a = i, b = j;
		while (a < b && isspace((unsigned char)s[a]))
			a++;
		while (b > a && isspace((unsigned char)s[b - 1]))
			b--;
		if (b > a && s[b - 1] == '%')
			b--;
		long bp = percent_to_bp(s + a, b - a);
		if (bp <= 0 || bp > RO_SHARE_MAX) {
			snprintf(err, errlen,
				 "STEPS '%.*s': each step is a percent in (0, 100] with at most two decimals, "
				 "e.g. STEPS 1,5,25,50,100",
				 (int)(len > 80 ? 80 : len), s);
			return -1;
		}
		if (n == RO_MAX_STEPS) {
			snprintf(err, errlen, "STEPS: more than %d steps; use fewer", RO_MAX_STEPS);
			return -1;
		}
		if (n > 0 && bp <= steps[n - 1]) {
			snprintf(err, errlen, "STEPS: %.2f%% after %.2f%%; steps must go strictly up", bp / 100.0,
				 steps[n - 1] / 100.0);
			return -1;
		}
		steps[n++] = (uint16_t)bp;
		i = j + 1;
	}
	p->n_steps = n;
	memcpy(p->steps_bp, steps, n * sizeof(steps[0]));
	return 0;
}

int ro_parse_hold(const char *s, size_t len, uint64_t *ms, char *err, size_t errlen)
{
	char buf[32];
	char *end;
	double mult = 1000.0;

	if (len == 0 || len >= sizeof(buf) || !isdigit((unsigned char)s[0]))
		goto bad;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	double v = strtod(buf, &end);
	if (errno || !isfinite(v) || v < 0)
		goto bad;
	if (strcmp(end, "ms") == 0)
		mult = 1.0;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		mult = 1000.0;
	else if (strcmp(end, "m") == 0)
		mult = 60000.0;
	else if (strcmp(end, "h") == 0)
		mult = 3600000.0;
	else
		goto bad;
	v *= mult;
	if (v > (double)RO_MAX_HOLD_MS) {
		snprintf(err, errlen, "HOLD '%s' is longer than 7 days; use a shorter hold", buf);
		return -1;
	}
	*ms = (uint64_t)v;
	return 0;
bad:
	snprintf(err, errlen, "HOLD '%.*s': expected a duration like 10s, 500ms, 2m or plain seconds",
		 (int)(len > 40 ? 40 : len), s);
	return -1;
}

int ro_parse_mode(const char *s, size_t len, enum ro_mode *m, char *err, size_t errlen)
{
	if (len == 5 && strncasecmp(s, "split", 5) == 0)
		*m = RO_MODE_SPLIT;
	else if (len == 6 && strncasecmp(s, "mirror", 6) == 0)
		*m = RO_MODE_MIRROR;
	else {
		snprintf(err, errlen, "MODE '%.*s': use split or mirror", (int)(len > 40 ? 40 : len), s);
		return -1;
	}
	return 0;
}

void ro_init(struct rollout *r)
{
	memset(r, 0, sizeof(*r));
	ro_plan_default(&r->plan);
	r->state = RO_IDLE;
}

static void no_decision(struct ro_decision *d)
{
	d->action = RO_ACT_NONE;
	d->share_bp = 0;
	d->reason[0] = '\0';
}

static void enter_step(struct rollout *r, unsigned step, uint64_t now_ms, struct ro_decision *d)
{
	r->step = step;
	r->share_bp = r->plan.steps_bp[step];
	r->step_started_ms = now_ms;
	r->have_base = false;
	r->figures_valid = false;
	r->state = RO_RUNNING;
	r->reason[0] = '\0';
	d->action = RO_ACT_SET_SHARE;
	d->share_bp = r->share_bp;
	snprintf(d->reason, sizeof(d->reason), "step %u/%u: %.2f%%", step + 1, r->plan.n_steps, r->share_bp / 100.0);
}

int ro_start(struct rollout *r, const struct ro_plan *plan, uint32_t canary_id, uint64_t now_ms, struct ro_decision *d,
	     char *err, size_t errlen)
{
	no_decision(d);
	if (ro_active(r)) {
		snprintf(err, errlen, "a rollout of generation %u is %s; ROLLOUT ABORT or PROMOTE it first",
			 r->generation, ro_state_name(r->state));
		return -1;
	}
	if (canary_id == 0) {
		snprintf(err, errlen, "no canary generation to roll out; CONFIG APPLY a config first");
		return -1;
	}
	if (plan->n_steps == 0 || plan->n_steps > RO_MAX_STEPS || plan->n_gates > RO_MAX_GATES) {
		snprintf(err, errlen, "rollout plan needs 1..%d steps and at most %d gates", RO_MAX_STEPS,
			 RO_MAX_GATES);
		return -1;
	}
	memset(r, 0, sizeof(*r));
	r->plan = *plan;
	r->generation = canary_id;
	r->started_ms = now_ms;
	enter_step(r, 0, now_ms, d);
	return 0;
}

uint64_t ro_out_dropped(const struct ro_gen_counts *c)
{
	return c->out_failed + c->out_ring_full + c->out_pool_empty;
}

static double ratio(uint64_t num, uint64_t den)
{
	return den ? (double)num / (double)den : 0.0;
}

int ro_window_figures(const struct ro_sample *from, const struct ro_sample *to, struct gate_figures *f,
		      uint64_t *canary_msgs)
{
	const struct ro_gen_counts *c0 = &from->canary, *c1 = &to->canary, *s0 = &from->stable, *s1 = &to->stable;

	if (c1->msgs < c0->msgs || c1->drops < c0->drops || c1->route_dropped < c0->route_dropped ||
	    c1->error_replies < c0->error_replies || c1->out_failed < c0->out_failed ||
	    c1->out_ring_full < c0->out_ring_full || c1->out_pool_empty < c0->out_pool_empty)
		return -1;
	uint64_t cm = c1->msgs - c0->msgs;
	uint64_t cd = (c1->drops - c0->drops) + (c1->route_dropped - c0->route_dropped);
	double canary_drop = ratio(cd, cm);
	double stable_drop = 0.0;

	/* the stable side may have been replaced under us; then it contributes nothing */
	if (from->stable_id == to->stable_id && s1->msgs >= s0->msgs && s1->drops >= s0->drops &&
	    s1->route_dropped >= s0->route_dropped)
		stable_drop = ratio((s1->drops - s0->drops) + (s1->route_dropped - s0->route_dropped),
				    s1->msgs - s0->msgs);
	f->v[GATE_DROP_RATE] = canary_drop;
	f->v[GATE_ERROR_RATE] = ratio(c1->error_replies - c0->error_replies, cm);
	/* p99 of this window's samples when the dataplane gave its buckets, else the cumulative one */
	f->v[GATE_P99_US] = (c0->have_hist && c1->have_hist ? (double)ro_window_quantile_ns(c0, c1, 0.99)
							    : (double)c1->p99_ns) /
			    1000.0;
	f->v[GATE_DELTA_DROP_RATE] = canary_drop - stable_drop;
	/* the canary's sink/bridge routes: entries dropped in the window (failed, ring full, pool empty) */
	f->v[GATE_SINK_ERRORS] = (double)(ro_out_dropped(c1) - ro_out_dropped(c0));
	*canary_msgs = cm;
	return 0;
}

uint64_t ro_window_quantile_ns(const struct ro_gen_counts *from, const struct ro_gen_counts *to, double q)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < RO_LAT_BUCKETS; i++)
		total += to->lat_count[i] >= from->lat_count[i] ? to->lat_count[i] - from->lat_count[i] : 0;
	if (total == 0)
		return 0;
	uint64_t want = (uint64_t)(q * (double)total);
	if (want == 0)
		want = 1;
	uint64_t acc = 0;
	for (unsigned i = 0; i < RO_LAT_BUCKETS; i++) {
		acc += to->lat_count[i] >= from->lat_count[i] ? to->lat_count[i] - from->lat_count[i] : 0;
		if (acc >= want)
			return to->lat_upper_ns[i];
	}
	return to->lat_upper_ns[RO_LAT_BUCKETS - 1];
}

static void advance(struct rollout *r, uint64_t now_ms, struct ro_decision *d)
{
	if (r->step + 1 < r->plan.n_steps) {
		enter_step(r, r->step + 1, now_ms, d);
		return;
	}
	r->state = RO_PROMOTING;
	d->action = RO_ACT_PROMOTE;
	d->share_bp = 0;
	snprintf(d->reason, sizeof(d->reason), "all %u steps passed", r->plan.n_steps);
}

void ro_on_sample(struct rollout *r, const struct ro_sample *s, struct ro_decision *d)
{
	no_decision(d);
	if (r->state != RO_RUNNING)
		return;
	if (s->canary_id != r->generation) {
		r->have_base = false; /* not ours (yet): re-take the window when it is */
		return;
	}
	if (!r->have_base || s->t_ms < r->base.t_ms) {
		r->base = *s;
		r->have_base = true;
		return;
	}
	struct gate_figures f;
	uint64_t msgs;
	if (ro_window_figures(&r->base, s, &f, &msgs) != 0) {
		r->base = *s; /* counters restarted: start the window again */
		return;
	}
	r->figures = f;
	r->window_msgs = msgs;
	r->figures_valid = true;

	bool held = s->t_ms >= r->step_started_ms + r->plan.hold_ms;
	if (!held && msgs < RO_MIN_WINDOW_MSGS)
		return;
	for (unsigned i = 0; i < r->plan.n_gates; i++) {
		const struct gate *g = &r->plan.gates[i];
		if (gate_passes(g, &f))
			continue;
		char gt[GATE_TEXT_MAX + 32];
		r->failed = true;
		r->failed_gate = *g;
		r->failed_value = gate_value(g, &f);
		snprintf(r->reason, sizeof(r->reason),
			 "gate %s failed: %s = %.6g (threshold %.6g) at step %u/%u (%.2f%%)",
			 gate_format(g, gt, sizeof(gt)), gate_metric_name(g->metric), r->failed_value, g->threshold,
			 r->step + 1, r->plan.n_steps, r->share_bp / 100.0);
		r->state = RO_ROLLED_BACK;
		r->ended_ms = s->t_ms;
		r->share_bp = 0;
		d->action = RO_ACT_ROLLBACK;
		snprintf(d->reason, sizeof(d->reason), "%s", r->reason);
		return;
	}
	if (!held)
		return;
	if (!r->plan.auto_advance) {
		r->state = RO_HELD;
		return;
	}
	advance(r, s->t_ms, d);
}

int ro_pause(struct rollout *r, uint64_t now_ms, char *err, size_t errlen)
{
	(void)now_ms;
	if (r->state != RO_RUNNING && r->state != RO_HELD) {
		snprintf(err, errlen, "no running rollout to pause (rollout is %s)", ro_state_name(r->state));
		return -1;
	}
	r->state = RO_PAUSED;
	return 0;
}

int ro_resume(struct rollout *r, uint64_t now_ms, struct ro_decision *d, char *err, size_t errlen)
{
	no_decision(d);
	if (r->state == RO_PAUSED) {
		/* judge the step afresh (the paused time is not part of its hold) and re-assert its
		 * share, which a failed push may have left unapplied */
		enter_step(r, r->step, now_ms, d);
		return 0;
	}
	if (r->state == RO_HELD) {
		advance(r, now_ms, d);
		return 0;
	}
	snprintf(err, errlen, "no paused or held rollout to resume (rollout is %s)", ro_state_name(r->state));
	return -1;
}

int ro_promote(struct rollout *r, uint64_t now_ms, struct ro_decision *d, char *err, size_t errlen)
{
	(void)now_ms;
	no_decision(d);
	if (!ro_active(r) || r->state == RO_PROMOTING) {
		snprintf(err, errlen, "no rollout to promote (rollout is %s)", ro_state_name(r->state));
		return -1;
	}
	r->state = RO_PROMOTING;
	d->action = RO_ACT_PROMOTE;
	snprintf(d->reason, sizeof(d->reason), "operator promoted at step %u/%u", r->step + 1, r->plan.n_steps);
	return 0;
}

int ro_abort(struct rollout *r, uint64_t now_ms, struct ro_decision *d, char *err, size_t errlen)
{
	no_decision(d);
	if (!ro_active(r)) {
		snprintf(err, errlen, "no rollout to abort (rollout is %s)", ro_state_name(r->state));
		return -1;
	}
	r->state = RO_ABORTED;
	r->ended_ms = now_ms;
	r->share_bp = 0;
	snprintf(r->reason, sizeof(r->reason), "aborted by the operator at step %u/%u", r->step + 1, r->plan.n_steps);
	d->action = RO_ACT_ROLLBACK;
	snprintf(d->reason, sizeof(d->reason), "%s", r->reason);
	return 0;
}

void ro_rollback(struct rollout *r, uint64_t now_ms, const char *reason, struct ro_decision *d)
{
	no_decision(d);
	if (ro_active(r)) {
		r->state = RO_ROLLED_BACK;
		r->ended_ms = now_ms;
		r->share_bp = 0;
		snprintf(r->reason, sizeof(r->reason), "%s", reason);
	}
	d->action = RO_ACT_ROLLBACK;
	snprintf(d->reason, sizeof(d->reason), "%s", reason);
}

void ro_promoted_after_end(struct rollout *r, uint32_t generation, uint64_t now_ms, const char *why)
{
	if (r->generation != generation || (r->state != RO_ROLLED_BACK && r->state != RO_ABORTED))
		return;
	snprintf(r->reason, sizeof(r->reason), "%s, after the rollout was %s", why ? why : "promoted",
		 r->state == RO_ABORTED ? "aborted" : "rolled back");
	r->state = RO_PROMOTED;
	r->ended_ms = now_ms;
	r->failed = false;
}

void ro_promote_done(struct rollout *r, uint64_t now_ms, bool ok, const char *why)
{
	if (r->state != RO_PROMOTING)
		return;
	if (ok) {
		r->state = RO_PROMOTED;
		r->ended_ms = now_ms;
		snprintf(r->reason, sizeof(r->reason), "%s", why ? why : "promoted");
	} else {
		r->state = RO_HELD; /* RESUME or PROMOTE tries again */
		snprintf(r->reason, sizeof(r->reason), "promote failed: %s", why ? why : "?");
	}
}
