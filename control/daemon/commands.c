/* The handlers of ctl_commands.h's table (see commands.h) and the execution of desired-state
 * changes against the dataplane: CONFIG APPLY, rollout decisions (share, promote, rollback) and the
 * push of the desired state when the dataplane (re)connects. Desired state is saved after every change. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "app.h"
#include "commands.h"
#include "counter_schema.h"
#include "ctl_commands.h"
#include "ctl_auth.h"
#include "dp_link.h"
#include "fleet.h"
#include "fanout/dp_commands.h"
#include "outputs_view.h"
#include "xdp_control.h"

#define OP_MAX_CMDS 4

struct op;
typedef void (*op_finish_fn)(struct op *op);

struct op_slot {
	struct op *op;
	int idx;
};

struct op {
	struct ctl_completion done;
	bool has_done;
	op_finish_fn finish;
	int n_sent, outstanding;
	bool failed;
	char err[CTL_ERR_MAX];
	json_t *replies[OP_MAX_CMDS];
	struct op_slot slots[OP_MAX_CMDS];
	uint64_t t0_ns;
	/* CONFIG APPLY */
	uint32_t id;
	char *text;
	size_t len;
	bool now;
	/* decisions */
	struct ro_decision d;
	char by[16];
	enum ro_mode mode;
	uint32_t canary_at_send;
	uint64_t share_seq; /* share_seq when a share-changing command was sent */
};

/* Bumped by every decision that sets the desired share (a step's CANARY SHARE, ROLLBACK). A CANARY SHARE
 * whose reply comes after a later decision was taken (e.g. ROLLBACK from another connection or a gate,
 * sent while the share was in flight) must not make its share the desired one again: the dataplane applied
 * both in order and ends at the later one, and so must the desired state pushed on the next reconnect. */
static uint64_t share_seq;

/* PROMOTEs sent and not answered yet, and the generation the last one promotes. Once a PROMOTE lands
 * there is no canary: a ROLLBACK (or ABORT) sent behind it would answer "share 0" while the promoted
 * generation serves everyone, so they are refused until the PROMOTE is answered. */
static unsigned promotes_in_flight;
static uint32_t promoting_id;

/* ---------------------------------------------------------------- helpers */

/* One call of a table entry: argv[a..argc) are its arguments, checked against the entry's
 * arity before the handler runs. */
struct ctl_call {
	int argc, a;
	const char **argv;
	const size_t *lens;
	json_t **reply;
	char *err;
	size_t errlen;
	const struct ctl_completion *done;
};

bool ctl_err_is_dp_down(const char *err)
{
	return err != NULL && strncmp(err, CTL_DP_DOWN, strlen(CTL_DP_DOWN)) == 0;
}

static int dp_down(char *err, size_t errlen)
{
	snprintf(err, errlen, "%s (%s); start fanout-dataplane with --control %s, or fix fanout-control --dataplane",
		 CTL_DP_DOWN, dp_link_last_error(), app.opt.dataplane);
	return CTL_ERR;
}

static json_t *reply_to_json(redisReply *r)
{
	json_t *j;

	if (r == NULL)
		return json_null();
	switch (r->type) {
	case REDIS_REPLY_STRING:
		j = json_loadb(r->str, r->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL); /* client ids may hold NUL */
		return j ? j : json_stringn(r->str, r->len);
	case REDIS_REPLY_STATUS: return json_stringn(r->str, r->len);
	case REDIS_REPLY_INTEGER: return json_integer(r->integer);
	default: return json_null();
	}
}

static struct op *op_new(const struct ctl_completion *done, op_finish_fn finish)
{
	struct op *op = calloc(1, sizeof(*op));

	if (op == NULL)
		return NULL;
	if (done != NULL && done->fn != NULL) {
		op->done = *done;
		op->has_done = true;
	}
	op->finish = finish;
	op->t0_ns = mono_ns();
	return op;
}

static void op_free(struct op *op)
{
	for (int i = 0; i < OP_MAX_CMDS; i++)
		json_decref(op->replies[i]);
	free(op->text);
	free(op);
}

/* Reply to whoever asked (reply consumed) and free the op. */
static void op_complete(struct op *op, json_t *reply, const char *err)
{
	if (op->has_done)
		op->done.fn(op->done.ctx, err ? NULL : reply, err);
	if (err != NULL || !op->has_done)
		json_decref(reply);
	op_free(op);
}

static void op_on_reply(void *arg, redisReply *r, const char *err)
{
	struct op_slot *s = arg;
	struct op *op = s->op;

	if (err != NULL && !op->failed) {
		op->failed = true;
		if (r == NULL)
			snprintf(op->err, sizeof(op->err),
				 "%s (%s); the desired state is kept and pushed when it reconnects", CTL_DP_DOWN, err);
		else
			snprintf(op->err, sizeof(op->err), "%s", strncmp(err, "ERR ", 4) == 0 ? err + 4 : err);
	}
	if (err == NULL)
		op->replies[s->idx] = reply_to_json(r);
	if (--op->outstanding == 0)
		op->finish(op);
}

/* Queue one command of op; -1 when the link is down (nothing queued). */
static int op_send(struct op *op, int argc, const char **argv, const size_t *lens)
{
	size_t l[FO_DP_MAX_ARGS];
	int idx = op->n_sent;

	if (idx >= OP_MAX_CMDS || argc < 0 || (unsigned)argc > FO_DP_MAX_ARGS)
		return -1;
	if (lens == NULL) {
		for (int i = 0; i < argc; i++)
			l[i] = strlen(argv[i]);
		lens = l;
	}
	op->slots[idx].op = op;
	op->slots[idx].idx = idx;
	if (dp_link_cmd(op_on_reply, &op->slots[idx], argc, argv, lens) != 0)
		return -1;
	op->n_sent++;
	op->outstanding++;
	return 0;
}

/* op_send of a literal list of words: the count comes from the list. */
#define OP_SEND(op, ...) \
	op_send((op), (int)(sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(const char *)), \
		(const char *[]){ __VA_ARGS__ }, NULL)

/* After the last op_send: nothing queued means the link was down. */
static int op_launch(struct op *op, char *err, size_t errlen)
{
	if (op->n_sent == 0) {
		op_free(op);
		return dp_down(err, errlen);
	}
	return CTL_PENDING;
}

static uint64_t dp_max_id(void)
{
	uint64_t m = 0;
	json_t *gens = json_object_get(app.dp.genstats, "generations"), *g;
	size_t i;

	m = json_u64(json_object_get(app.dp.generations, "stable"), "id");
	uint64_t c = json_u64(json_object_get(app.dp.generations, "canary"), "id");
	if (c > m)
		m = c;
	json_array_foreach(gens, i, g) if (json_u64(g, "id") > m) m = json_u64(g, "id");
	return m;
}

static uint32_t next_id(void)
{
	uint64_t m = dp_max_id();

	if (m > app.st.last_id)
		app.st.last_id = (uint32_t)m;
	return app.st.last_id + 1;
}

static json_t *desired_json(void)
{
	return json_pack("{s:o,s:o,s:I,s:s}", "stable", app.st.stable_id ? json_integer(app.st.stable_id) : json_null(),
			 "canary", app.st.canary_id ? json_integer(app.st.canary_id) : json_null(), "share_bp",
			 (json_int_t)app.st.share_bp, "mode", ro_mode_name(app.st.mode));
}

static json_t *rollout_status_json(void)
{
	const struct rollout *r = &app.st.rollout;
	json_t *j = st_rollout_json(r);

	if (r->figures_valid) {
		json_t *f = json_object();
		for (int m = 0; m < GATE_METRIC_MAX; m++)
			json_object_set_new(f, gate_metric_name((enum gate_metric)m), json_real(r->figures.v[m]));
		json_object_set_new(f, "window_msgs", json_integer((json_int_t)r->window_msgs));
		json_object_set_new(j, "figures", f);
	}
	if (r->state == RO_RUNNING) {
		uint64_t now = wall_ms(), end = r->step_started_ms + r->plan.hold_ms;
		json_object_set_new(j, "hold_left_ms", json_integer(end > now ? (json_int_t)(end - now) : 0));
	}
	return j;
}

static json_t *last_rollback_json(void)
{
	const struct st_rollback_timing *t = &app.st.last_rollback;

	if (!t->set)
		return json_null();
	return json_pack("{s:I,s:I,s:I,s:s}", "t_ms", (json_int_t)t->t_ms, "total_ns", (json_int_t)t->total_ns,
			 "published_ns", (json_int_t)t->published_ns, "by", t->by);
}

/* ---------------------------------------------------------------- decisions */

static int exec_decision(const struct ro_decision *d, const char *by, uint64_t t0_ns, const struct ctl_completion *done,
			 char *err, size_t errlen);

static void finish_share(struct op *op)
{
	json_t *r = op->replies[0];

	if (op->failed) {
		char e[200];
		st_event(&app.st, wall_ms(), "share_failed",
			 json_pack("{s:I,s:s}", "share_bp", (json_int_t)op->d.share_bp, "error", op->err));
		if (app.st.rollout.state == RO_RUNNING && ro_pause(&app.st.rollout, wall_ms(), e, sizeof(e)) == 0)
			snprintf(app.st.rollout.reason, sizeof(app.st.rollout.reason),
				 "paused: CANARY SHARE %u failed (%.100s); ROLLOUT RESUME retries", op->d.share_bp,
				 op->err);
		app_persist();
		op_complete(op, NULL, op->err);
		return;
	}
	bool superseded = op->share_seq != share_seq;
	if (!superseded)
		app.st.share_bp = op->d.share_bp;
	json_t *ev = json_pack("{s:I,s:I,s:s,s:s}", "share_bp", (json_int_t)op->d.share_bp, "published_ns",
			       (json_int_t)json_u64(r, "published_ns"), "by", op->by, "reason", op->d.reason);
	if (superseded && ev != NULL)
		json_object_set_new(ev, "superseded", json_true());
	st_event(&app.st, wall_ms(), "share", ev);
	app_persist();
	json_t *reply = rollout_status_json();
	json_object_set_new(reply, "published_ns", json_integer((json_int_t)json_u64(r, "published_ns")));
	op_complete(op, reply, NULL);
}

static void promote_desired(uint32_t canary)
{
	if (app.st.stable_id)
		st_version_outcome(&app.st, app.st.stable_id, "superseded");
	st_version_outcome(&app.st, canary, "promoted");
	app.st.stable_id = canary;
	app.st.canary_id = 0;
	app.st.share_bp = 0;
}

static void finish_promote(struct op *op)
{
	uint64_t now = wall_ms();

	if (promotes_in_flight > 0)
		promotes_in_flight--;

	if (op->failed) {
		ro_promote_done(&app.st.rollout, now, false, op->err);
		st_event(&app.st, now, "promote_failed", json_pack("{s:s}", "error", op->err));
		app_persist();
		op_complete(op, NULL, op->err);
		return;
	}
	uint32_t stable = (uint32_t)json_u64(op->replies[0], "stable");
	if (stable == 0)
		stable = op->canary_at_send;
	promote_desired(stable);
	ro_promote_done(&app.st.rollout, now, true, op->d.reason);
	ro_promoted_after_end(&app.st.rollout, stable, now, op->d.reason);
	st_event(&app.st, now, "promote",
		 json_pack("{s:I,s:s,s:s}", "stable", (json_int_t)stable, "by", op->by, "reason", op->d.reason));
	app_persist();
	op_complete(op, json_pack("{s:I,s:o}", "stable", (json_int_t)stable, "rollout", rollout_status_json()), NULL);
}

static void finish_rollback(struct op *op)
{
	uint64_t now = wall_ms();
	uint64_t total = mono_ns() - op->t0_ns;

	if (op->failed) {
		st_event(&app.st, now, "rollback_failed",
			 json_pack("{s:s,s:s,s:s}", "by", op->by, "reason", op->d.reason, "error", op->err));
		app_persist();
		op_complete(op, NULL, op->err);
		return;
	}
	uint64_t published = json_u64(op->replies[0], "published_ns");
	struct st_rollback_timing *t = &app.st.last_rollback;
	t->set = true;
	t->t_ms = now - total / 1000000;
	t->total_ns = total;
	t->published_ns = published;
	snprintf(t->by, sizeof(t->by), "%s", op->by);
	if (op->canary_at_send)
		st_version_outcome(&app.st, op->canary_at_send, "rolled_back");
	uint64_t all_workers = json_u64(op->replies[0], "all_workers_ns");
	st_event(&app.st, now, "rollback",
		 json_pack("{s:s,s:s,s:I,s:I,s:I,s:o}", "by", op->by, "reason", op->d.reason, "total_ns",
			   (json_int_t)total, "published_ns", (json_int_t)published, "all_workers_ns",
			   (json_int_t)all_workers, "canary",
			   op->canary_at_send ? json_integer(op->canary_at_send) : json_null()));
	app_persist();
	op_complete(op,
		    json_pack("{s:i,s:I,s:I,s:I,s:s,s:s,s:o}", "share_bp", 0, "published_ns", (json_int_t)published,
			      "all_workers_ns", (json_int_t)all_workers, "total_ns", (json_int_t)total, "by", op->by,
			      "reason", op->d.reason, "rollout", rollout_status_json()),
		    NULL);
}

/* Runs a decision against the dataplane: CTL_PENDING, CTL_ERR (err set) or CTL_DONE (nothing to do). */
static int exec_decision(const struct ro_decision *d, const char *by, uint64_t t0_ns, const struct ctl_completion *done,
			 char *err, size_t errlen)
{
	struct op *op;
	char num[16];

	if (d->action == RO_ACT_NONE)
		return CTL_DONE;
	if (d->action == RO_ACT_ROLLBACK)
		app.st.share_bp = 0; /* desired first: whatever happens to the link, share 0 is what gets pushed;
				      * saved when the reply comes, so the fsync is not part of the rollback */
	op = op_new(done, d->action == RO_ACT_SET_SHARE ? finish_share
			  : d->action == RO_ACT_PROMOTE ? finish_promote
							: finish_rollback);
	if (op == NULL) {
		snprintf(err, errlen, "out of memory");
		return CTL_ERR;
	}
	op->t0_ns = t0_ns;
	op->d = *d;
	op->canary_at_send = app.st.canary_id;
	if (d->action == RO_ACT_SET_SHARE || d->action == RO_ACT_ROLLBACK)
		op->share_seq = ++share_seq;
	snprintf(op->by, sizeof(op->by), "%s", by);
	snprintf(num, sizeof(num), "%u", d->share_bp);
	if (d->action == RO_ACT_SET_SHARE)
		OP_SEND(op, "CANARY", "SHARE", num);
	else if (d->action == RO_ACT_PROMOTE)
		OP_SEND(op, "PROMOTE");
	else if (OP_SEND(op, "ROLLBACK") == 0)
		dp_link_flush();
	if (op->n_sent > 0 && d->action == RO_ACT_PROMOTE) {
		promotes_in_flight++;
		promoting_id = op->canary_at_send;
	}
	if (op->n_sent == 0) {
		char e[CTL_ERR_MAX];
		dp_down(e, sizeof(e));
		if (d->action == RO_ACT_ROLLBACK) {
			snprintf(err, errlen, "%s; share 0 is recorded and will be pushed when it reconnects", e);
			st_event(&app.st, wall_ms(), "rollback_pending",
				 json_pack("{s:s,s:s}", "by", by, "reason", d->reason));
		} else {
			snprintf(err, errlen, "%s", e);
			if (d->action == RO_ACT_PROMOTE)
				ro_promote_done(&app.st.rollout, wall_ms(), false, "dataplane unreachable");
			else if (app.st.rollout.state == RO_RUNNING) {
				char e2[200];
				ro_pause(&app.st.rollout, wall_ms(), e2, sizeof(e2));
				snprintf(app.st.rollout.reason, sizeof(app.st.rollout.reason),
					 "paused: dataplane unreachable at step change; ROLLOUT RESUME retries");
			}
		}
		app_persist();
		op_free(op);
		return CTL_ERR;
	}
	return CTL_PENDING;
}

void ctl_on_sample(const struct ro_sample *s)
{
	struct ro_decision d;
	enum ro_state before = app.st.rollout.state;
	char err[CTL_ERR_MAX];

	if (!app.dp.synced)
		return;
	ro_on_sample(&app.st.rollout, s, &d);
	if (d.action != RO_ACT_NONE) {
		const char *by = d.action == RO_ACT_ROLLBACK ? "gate" : "rollout";
		if (d.action == RO_ACT_ROLLBACK)
			st_event(&app.st, s->t_ms, "gate_failed",
				 json_pack("{s:s,s:f,s:f,s:I}", "gate",
					   gate_metric_name(app.st.rollout.failed_gate.metric), "value",
					   app.st.rollout.failed_value, "threshold",
					   app.st.rollout.failed_gate.threshold, "generation",
					   (json_int_t)app.st.rollout.generation));
		if (exec_decision(&d, by, mono_ns(), NULL, err, sizeof(err)) == CTL_ERR)
			fprintf(stderr, "fanout-control: rollout decision (%s) not applied: %s\n", d.reason, err);
	} else if (app.st.rollout.state != before) {
		st_event(&app.st, s->t_ms, "rollout_held",
			 json_pack("{s:I,s:I}", "step", (json_int_t)app.st.rollout.step + 1, "share_bp",
				   (json_int_t)app.st.rollout.share_bp));
		app_persist();
	}
}

/* ---------------------------------------------------------------- proxied commands */

static void finish_proxy(struct op *op)
{
	json_t *r = op->replies[0];

	op->replies[0] = NULL;
	op_complete(op, r ? r : json_null(), op->failed ? op->err : NULL);
}

/* The command as it came, answered by the dataplane. */
static int proxy(const struct ctl_call *c)
{
	struct op *op = op_new(c->done, finish_proxy);

	if (op == NULL)
		return snprintf(c->err, c->errlen, "out of memory"), CTL_ERR;
	op_send(op, c->argc, c->argv, c->lens);
	return op_launch(op, c->err, c->errlen);
}

#define h_routes proxy
#define h_config_diff proxy

/* ---------------------------------------------------------------- CONFIG APPLY */

static void finish_apply(struct op *op)
{
	uint64_t now = wall_ms();
	json_t *r = op->replies[0];

	if (op->failed) {
		st_event(&app.st, now, "config_refused",
			 json_pack("{s:I,s:s}", "id", (json_int_t)op->id, "error", op->err));
		app_persist();
		op_complete(op, NULL, op->err);
		return;
	}
	uint32_t id = (uint32_t)json_u64(r, "generation");
	if (id == 0)
		id = op->id;
	struct st_version *v = st_version_add(&app.st, id, op->text, op->len, now);
	if (v == NULL) {
		op_complete(op, NULL,
			    "dataplane answered with a generation id fanout-control already has; "
			    "check that no one else loads configs on the dataplane socket");
		return;
	}
	char sha[65];
	memcpy(sha, v->sha256, sizeof(sha));
	const struct st_version *old = app.st.canary_id ? st_version_find(&app.st, app.st.canary_id) : NULL;
	if (old != NULL && strcmp(old->outcome, "canary") == 0)
		st_version_outcome(&app.st, app.st.canary_id, "superseded");
	if (op->now) {
		if (app.st.stable_id)
			st_version_outcome(&app.st, app.st.stable_id, "superseded");
		st_version_outcome(&app.st, id, "stable");
		app.st.stable_id = id;
	} else {
		st_version_outcome(&app.st, id, "canary");
	}
	app.st.canary_id = op->now ? 0 : id;
	app.st.share_bp = 0;
	json_t *changes = json_object_get(r, "changes");
	st_event(&app.st, now, "config_apply",
		 json_pack("{s:I,s:s,s:s,s:I}", "id", (json_int_t)id, "as", op->now ? "stable" : "canary", "sha256",
			   sha, "changes", (json_int_t)json_array_size(changes)));
	app_persist();
	op_complete(op,
		    json_pack("{s:I,s:s,s:s,s:O}", "generation", (json_int_t)id, "as", op->now ? "stable" : "canary",
			      "sha256", sha, "changes", changes ? changes : json_array()),
		    NULL);
}

/* CONFIG APPLY <yaml> [NOW] */
static int h_config_apply(const struct ctl_call *c)
{
	const char *yaml = c->argv[c->a];
	size_t len = c->lens[c->a];
	bool now = c->argc == c->a + 2;
	char idbuf[16];

	if (now && !ctl_word_is(c->argv[c->a + 1], c->lens[c->a + 1], "NOW"))
		return snprintf(c->err, c->errlen, "CONFIG APPLY: the argument after the text can only be NOW"),
		       CTL_ERR;
	if (ro_active(&app.st.rollout)) {
		snprintf(c->err, c->errlen,
			 "a rollout of generation %u is %s; ROLLOUT ABORT or ROLLOUT PROMOTE it before applying a "
			 "config",
			 app.st.rollout.generation, ro_state_name(app.st.rollout.state));
		return CTL_ERR;
	}
	if (!dp_link_up())
		return dp_down(c->err, c->errlen);
	struct op *op = op_new(c->done, finish_apply);
	if (op == NULL || (op->text = malloc(len + 1)) == NULL) {
		free(op);
		return snprintf(c->err, c->errlen, "out of memory"), CTL_ERR;
	}
	memcpy(op->text, yaml, len);
	op->text[len] = '\0';
	op->len = len;
	op->now = now;
	op->id = next_id();
	snprintf(idbuf, sizeof(idbuf), "%u", op->id);
	OP_SEND(op, "CONFIG", "LOAD", op->text, "ID", idbuf, "AS", now ? "stable" : "canary");
	return op_launch(op, c->err, c->errlen);
}

/* ---------------------------------------------------------------- ROLLOUT START */

static void finish_start(struct op *op)
{
	uint64_t now = wall_ms();

	if (op->failed) {
		app.st.rollout.state = RO_ABORTED;
		app.st.rollout.ended_ms = now;
		snprintf(app.st.rollout.reason, sizeof(app.st.rollout.reason), "start failed: %.150s", op->err);
		st_event(&app.st, now, "rollout_start_failed", json_pack("{s:s}", "error", op->err));
		app_persist();
		op_complete(op, NULL, op->err);
		return;
	}
	app.st.mode = op->mode;
	if (op->share_seq == share_seq)
		app.st.share_bp = op->d.share_bp;
	st_version_outcome(&app.st, app.st.rollout.generation, "canary");
	json_t *plan = st_rollout_json(&app.st.rollout);
	st_event(&app.st, now, "rollout_start",
		 json_pack("{s:I,s:O}", "generation", (json_int_t)app.st.rollout.generation, "plan",
			   json_object_get(plan, "plan")));
	json_decref(plan);
	app_persist();
	op_complete(op, rollout_status_json(), NULL);
}

static int h_rollout_start(const struct ctl_call *c)
{
	struct ro_plan plan;
	struct ro_decision d;

	ro_plan_default(&plan);
	for (int i = c->a; i < c->argc; i += 2) {
		const char *k = c->argv[i], *v = i + 1 < c->argc ? c->argv[i + 1] : NULL;
		size_t kl = c->lens[i], vl = i + 1 < c->argc ? c->lens[i + 1] : 0;

		if (v == NULL) {
			snprintf(c->err, c->errlen,
				 "ROLLOUT START: '%.*s' needs a value; e.g. ROLLOUT START STEPS 1,5,25,50,100 HOLD 10s "
				 "MODE split GATE drop_rate<0.01 AUTO yes",
				 (int)(kl > 40 ? 40 : kl), k);
			return CTL_ERR;
		}
		if (ctl_word_is(k, kl, "STEPS")) {
			if (ro_parse_steps(v, vl, &plan, c->err, c->errlen) != 0)
				return CTL_ERR;
		} else if (ctl_word_is(k, kl, "HOLD")) {
			if (ro_parse_hold(v, vl, &plan.hold_ms, c->err, c->errlen) != 0)
				return CTL_ERR;
		} else if (ctl_word_is(k, kl, "MODE")) {
			if (ro_parse_mode(v, vl, &plan.mode, c->err, c->errlen) != 0)
				return CTL_ERR;
		} else if (ctl_word_is(k, kl, "GATE")) {
			if (plan.n_gates == RO_MAX_GATES) {
				snprintf(c->err, c->errlen, "ROLLOUT START: more than %d gates; use fewer",
					 RO_MAX_GATES);
				return CTL_ERR;
			}
			if (gate_parse(v, vl, &plan.gates[plan.n_gates], c->err, c->errlen) != 0)
				return CTL_ERR;
			plan.n_gates++;
		} else if (ctl_word_is(k, kl, "AUTO")) {
			if (ctl_word_is(v, vl, "yes"))
				plan.auto_advance = true;
			else if (ctl_word_is(v, vl, "no"))
				plan.auto_advance = false;
			else {
				snprintf(c->err, c->errlen, "ROLLOUT START: AUTO '%.*s'; use AUTO yes or AUTO no",
					 (int)(vl > 20 ? 20 : vl), v);
				return CTL_ERR;
			}
		} else {
			snprintf(c->err, c->errlen,
				 "ROLLOUT START: unknown option '%.*s'; options are STEPS, HOLD, MODE, GATE, AUTO",
				 (int)(kl > 40 ? 40 : kl), k);
			return CTL_ERR;
		}
	}
	if (!dp_link_up())
		return dp_down(c->err, c->errlen);
	if (app.st.canary_id == 0) {
		snprintf(c->err, c->errlen, "no canary generation to roll out; CONFIG APPLY <yaml> loads one");
		return CTL_ERR;
	}
	if (ro_start(&app.st.rollout, &plan, app.st.canary_id, wall_ms(), &d, c->err, c->errlen) != 0)
		return CTL_ERR;
	struct op *op = op_new(c->done, finish_start);
	if (op == NULL)
		return snprintf(c->err, c->errlen, "out of memory"), CTL_ERR;
	char num[16];
	snprintf(num, sizeof(num), "%u", d.share_bp);
	op->d = d;
	op->mode = plan.mode;
	op->share_seq = ++share_seq;
	OP_SEND(op, "CANARY", "MODE", ro_mode_name(plan.mode));
	OP_SEND(op, "CANARY", "SHARE", num);
	int rc = op_launch(op, c->err, c->errlen);
	if (rc == CTL_ERR)
		ro_init(&app.st.rollout);
	return rc;
}

/* ---------------------------------------------------------------- the table */

static json_t *status_json(void)
{
	json_t *dp = json_pack("{s:b,s:s,s:I,s:b,s:o}", "up", dp_link_up(), "socket", app.opt.dataplane, "connects",
			       (json_int_t)dp_link_connects(), "synced", app.dp.synced, "last_poll_ms",
			       app.dp.t_ms ? json_integer((json_int_t)app.dp.t_ms) : json_null());
	if (!dp_link_up())
		json_object_set_new(dp, "error", json_string(dp_link_last_error()));
	if (app.dp.reconcile_error[0])
		json_object_set_new(dp, "reconcile_error", json_string(app.dp.reconcile_error));
	json_t *st = json_pack(
		"{s:{s:s,s:i,s:I,s:s,s:i,s:s,s:s},s:o,s:O?,s:o,s:o,s:o}", "control", "version", FANOUT_VERSION, "pid",
		(int)getpid(), "uptime_ms", (json_int_t)(wall_ms() - app.started_ms), "state_dir", app.opt.state_dir,
		"state_save_failures", (int)app.save_failures, "http", app.opt.http ? app.opt.http : "", "listen",
		app.opt.listen ? app.opt.listen : "", "dataplane", dp, "generations", app.dp.generations, "desired",
		desired_json(), "rollout", rollout_status_json(), "last_rollback", last_rollback_json());
	json_t *refused = json_object();
	for (int i = 0; i < CTL_REFUSED_MAX; i++)
		json_object_set_new(refused, ctl_refusal_names[i], json_integer((json_int_t)ctl_refused[i]));
	json_object_set_new(json_object_get(st, "control"), "refused", refused);
	json_t *outs = ov_summary(app.dp.outputs);
	if (st != NULL && outs != NULL)
		json_object_set_new(st, "outputs", outs);
	else
		json_decref(outs);
	return st;
}

/* OUTPUTS: the dataplane's last OUTPUTS reply (sinks and bridges, unchanged) with per-second
 * "rates" per output against the poll before, "sampled_ms" and "dataplane_up" (false: these are
 * the last figures it gave, as STATS does). */
static int h_outputs(const struct ctl_call *c)
{
	if (app.dp.outputs == NULL) {
		if (!dp_link_up())
			return dp_down(c->err, c->errlen);
		if (app.dp.outputs_error[0])
			snprintf(c->err, c->errlen, "the dataplane did not answer OUTPUTS (%s)", app.dp.outputs_error);
		else
			snprintf(c->err, c->errlen, "no outputs from the dataplane yet; try again after --poll-ms");
		return CTL_ERR;
	}
	double dt = app.dp.prev_outputs != NULL && app.dp.outputs_t_ms > app.dp.prev_outputs_t_ms
			    ? (double)(app.dp.outputs_t_ms - app.dp.prev_outputs_t_ms) / 1000.0
			    : 0.0;
	json_t *j = ov_with_rates(app.dp.outputs, app.dp.prev_outputs, dt);
	if (j == NULL) {
		snprintf(c->err, c->errlen,
			 "the dataplane's OUTPUTS reply is not a JSON object; are fanout-control and "
			 "fanout-dataplane the same version?");
		return CTL_ERR;
	}
	json_object_set_new(j, "dataplane_up", json_boolean(dp_link_up()));
	json_object_set_new(j, "sampled_ms", json_integer((json_int_t)app.dp.outputs_t_ms));
	if (dt > 0)
		json_object_set_new(j, "interval_ms", json_integer((json_int_t)(dt * 1000.0 + 0.5)));
	if (app.dp.outputs_error[0] && dp_link_up())
		json_object_set_new(j, "poll_error", json_string(app.dp.outputs_error));
	*c->reply = j;
	return CTL_DONE;
}

/* Per-second rates of every integer member of cur present in prev (objects recursed). */
static json_t *rates_of(json_t *cur, json_t *prev, double dt_s)
{
	json_t *out = json_object(), *v;
	const char *k;

	json_object_foreach(cur, k, v)
	{
		json_t *pv = json_object_get(prev, k);
		if (json_is_object(v) && json_is_object(pv))
			json_object_set_new(out, k, rates_of(v, pv, dt_s));
		else if (json_is_integer(v) && json_is_integer(pv) && json_integer_value(v) >= json_integer_value(pv))
			json_object_set_new(out, k,
					    json_real((double)(json_integer_value(v) - json_integer_value(pv)) / dt_s));
	}
	return out;
}

/* STATS "rates": keys as in totals (rx, delivered, answered, dropped, drops{reason}), deliveries,
 * out_sent, out_dropped; plus the series point (per-generation msg_rate, drop_rate, ...). */
static json_t *stats_rates(const struct series_point *p)
{
	json_t *r = p ? series_point_rates_json(p) : json_object();
	double dt = app.dp.t_ms > app.dp.prev_t_ms ? (double)(app.dp.t_ms - app.dp.prev_t_ms) / 1000.0 : 0.0;
	json_t *t = json_object_get(app.dp.stats, "totals"), *pt = json_object_get(app.dp.prev_stats, "totals");

	if (dt <= 0 || !json_is_object(t) || !json_is_object(pt))
		return r;
	json_t *tr = rates_of(t, pt, dt);
	json_t *out = json_object_get(tr, "out"), *ev = json_object_get(tr, "events");
	json_object_del(r, "drops");
	json_object_update(r, tr);
	json_object_del(r, "out");
	json_object_del(r, "events");
	json_object_del(r, "mqttsn_rx");
	if (json_object_get(out, "sent"))
		json_object_set(r, "out_sent", json_object_get(out, "sent"));
	if (json_object_get(out, "dropped"))
		json_object_set(r, "out_dropped", json_object_get(out, "dropped"));
	if (json_object_get(ev, "deliveries"))
		json_object_set(r, "deliveries", json_object_get(ev, "deliveries"));
	json_decref(tr);
	return r;
}

/* Each generation of GENSTATS with its own "rates" (msgs, deliveries, drops per second; drop_rate,
 * error_rate per msg; p99_ns as reported). */
static json_t *generations_with_rates(void)
{
	json_t *gens = json_deep_copy(json_object_get(app.dp.genstats, "generations")), *g, *pg;
	json_t *prev = json_object_get(app.dp.prev_genstats, "generations");
	double dt = app.dp.t_ms > app.dp.prev_t_ms ? (double)(app.dp.t_ms - app.dp.prev_t_ms) / 1000.0 : 0.0;
	size_t i, j;

	json_array_foreach(gens, i, g)
	{
		json_t *r = json_object();
		json_array_foreach(prev, j, pg)
		{
			if (json_u64(pg, "id") != json_u64(g, "id") || dt <= 0)
				continue;
			uint64_t m = json_u64(g, "msgs"), pm = json_u64(pg, "msgs");
			uint64_t d = json_u64(g, "drops") + json_u64(g, "route_dropped");
			uint64_t pd = json_u64(pg, "drops") + json_u64(pg, "route_dropped");
			uint64_t e = json_u64(g, "error_replies"), pe = json_u64(pg, "error_replies");
			uint64_t dl = json_u64(g, "deliveries"), pdl = json_u64(pg, "deliveries");
			if (m < pm || d < pd || e < pe || dl < pdl)
				break;
			json_object_set_new(r, "msgs", json_real((double)(m - pm) / dt));
			json_object_set_new(r, "deliveries", json_real((double)(dl - pdl) / dt));
			json_object_set_new(r, "drops", json_real((double)(d - pd) / dt));
			json_object_set_new(r, "drop_rate",
					    json_real(m > pm ? (double)(d - pd) / (double)(m - pm) : 0.0));
			json_object_set_new(r, "error_rate",
					    json_real(m > pm ? (double)(e - pe) / (double)(m - pm) : 0.0));
			break;
		}
		json_object_set_new(r, "p99_ns",
				    json_integer((json_int_t)json_u64(json_object_get(g, "latency_ns"), "p99")));
		json_object_set_new(g, "rates", r);
	}
	return gens;
}

static int h_stats(const struct ctl_call *c)
{
	const struct series_point *p = series_last(&app.series);

	if (app.dp.stats == NULL) {
		if (!dp_link_up())
			return dp_down(c->err, c->errlen);
		snprintf(c->err, c->errlen, "no stats from the dataplane yet; try again after --poll-ms");
		return CTL_ERR;
	}
	json_t *j = json_deep_copy(app.dp.stats);
	if (!json_is_object(j)) {
		json_decref(j);
		j = json_pack("{s:O}", "stats", app.dp.stats);
	}
	json_object_set_new(j, "dataplane_up", json_boolean(dp_link_up()));
	json_object_set_new(j, "sampled_ms", json_integer((json_int_t)app.dp.t_ms));
	json_object_set_new(j, "rates", stats_rates(p));
	if (app.dp.genstats != NULL)
		json_object_set_new(j, "generations", generations_with_rates());
	*c->reply = j;
	return CTL_DONE;
}

/* An optional "KEY n" (n >= min) at argv[a]; 0 when absent. */
static int parse_opt_num(const struct ctl_call *c, const char *key, long min, long *out)
{
	char buf[24];
	char *end;

	*out = 0;
	if (c->argc == c->a)
		return 0;
	if (c->argc != c->a + 2 || !ctl_word_is(c->argv[c->a], c->lens[c->a], key) || c->lens[c->a + 1] == 0 ||
	    c->lens[c->a + 1] >= sizeof(buf)) {
		snprintf(c->err, c->errlen, "expected %s n, e.g. %.*s %s 20", key, (int)c->lens[0], c->argv[0], key);
		return -1;
	}
	memcpy(buf, c->argv[c->a + 1], c->lens[c->a + 1]);
	buf[c->lens[c->a + 1]] = '\0';
	errno = 0;
	*out = strtol(buf, &end, 10);
	if (errno || *end || *out < min) {
		snprintf(c->err, c->errlen, "%s '%s': use a number of at least %ld", key, buf, min);
		return -1;
	}
	return 0;
}

static int done_with(const struct ctl_call *c, json_t *j)
{
	*c->reply = j;
	return CTL_DONE;
}

static int h_status(const struct ctl_call *c)
{
	return done_with(c, status_json());
}

static int h_generations(const struct ctl_call *c)
{
	return done_with(c, json_pack("{s:O?,s:O?,s:o}", "dataplane", app.dp.generations, "genstats", app.dp.genstats,
				      "desired", desired_json()));
}

static int h_schema(const struct ctl_call *c)
{
	return done_with(c, cs_schema_json());
}

static int h_series(const struct ctl_call *c)
{
	long since;

	if (parse_opt_num(c, "SINCE", 0, &since) != 0)
		return CTL_ERR;
	return done_with(c, series_json(&app.series, (uint64_t)since));
}

/* SESSIONS, TOPICS, SUBSCRIPTIONS [COUNT n]: checked here, answered by the dataplane. */
static int h_listing(const struct ctl_call *c)
{
	long count;

	if (parse_opt_num(c, "COUNT", 1, &count) != 0)
		return CTL_ERR;
	return proxy(c);
}

#define h_sessions h_listing
#define h_topics h_listing
#define h_subscriptions h_listing

static int h_history(const struct ctl_call *c)
{
	long count;

	if (parse_opt_num(c, "COUNT", 1, &count) != 0)
		return CTL_ERR;
	size_t n = json_array_size(app.st.history);
	size_t from = count > 0 && (size_t)count < n ? n - (size_t)count : 0;
	json_t *ev = json_array();
	for (size_t i = from; i < n; i++)
		json_array_append(ev, json_array_get(app.st.history, i));
	return done_with(c, json_pack("{s:I,s:o}", "total", (json_int_t)n, "events", ev));
}

static int h_config_history(const struct ctl_call *c)
{
	json_t *vs = json_array();

	for (size_t i = 0; i < app.st.n_versions; i++)
		json_array_append_new(vs, st_version_json(&app.st.versions[i], false));
	return done_with(c, json_pack("{s:o,s:o}", "versions", vs, "desired", desired_json()));
}

static int h_config_show(const struct ctl_call *c)
{
	char buf[16];
	size_t l = c->lens[c->a];

	if (l == 0 || l >= sizeof(buf)) {
		snprintf(c->err, c->errlen, "CONFIG SHOW: give a version id from CONFIG HISTORY");
		return CTL_ERR;
	}
	memcpy(buf, c->argv[c->a], l);
	buf[l] = '\0';
	const struct st_version *v = st_version_find(&app.st, (uint32_t)strtoul(buf, NULL, 10));
	if (v == NULL) {
		snprintf(c->err, c->errlen, "no config version '%s'; CONFIG HISTORY lists them", buf);
		return CTL_ERR;
	}
	return done_with(c, st_version_json(v, true));
}

static int h_rollout_status(const struct ctl_call *c)
{
	return done_with(c, rollout_status_json());
}

static int h_rollout_pause(const struct ctl_call *c)
{
	struct rollout *r = &app.st.rollout;
	uint64_t now = wall_ms();

	if (ro_pause(r, now, c->err, c->errlen) != 0)
		return CTL_ERR;
	st_event(&app.st, now, "rollout_pause", json_pack("{s:I}", "step", (json_int_t)r->step + 1));
	app_persist();
	return done_with(c, rollout_status_json());
}

static int h_rollout_resume(const struct ctl_call *c)
{
	struct rollout *r = &app.st.rollout;
	struct ro_decision d = { .action = RO_ACT_NONE };
	uint64_t t0 = mono_ns(), now = wall_ms();

	if (ro_resume(r, now, &d, c->err, c->errlen) != 0)
		return CTL_ERR;
	st_event(&app.st, now, "rollout_resume", json_pack("{s:I}", "step", (json_int_t)r->step + 1));
	app_persist();
	if (d.action == RO_ACT_NONE)
		return done_with(c, rollout_status_json());
	return exec_decision(&d, "operator", t0, c->done, c->err, c->errlen);
}

static int h_rollout_promote(const struct ctl_call *c)
{
	struct rollout *r = &app.st.rollout;
	struct ro_decision d = { .action = RO_ACT_NONE };
	uint64_t t0 = mono_ns();

	if (ro_active(r)) {
		if (ro_promote(r, wall_ms(), &d, c->err, c->errlen) != 0)
			return CTL_ERR;
	} else {
		if (app.st.canary_id == 0) {
			snprintf(c->err, c->errlen, "no canary generation to promote; CONFIG APPLY <yaml> loads one");
			return CTL_ERR;
		}
		d.action = RO_ACT_PROMOTE;
		snprintf(d.reason, sizeof(d.reason), "operator promoted generation %u", app.st.canary_id);
	}
	return exec_decision(&d, "operator", t0, c->done, c->err, c->errlen);
}

/* ABORT and ROLLBACK behind a PROMOTE in flight would answer "share 0" while the promoted
 * generation serves everyone. */
static int refuse_behind_promote(const struct ctl_call *c)
{
	if (promotes_in_flight == 0)
		return 0;
	snprintf(c->err, c->errlen,
		 "a PROMOTE of generation %u is in flight: once it lands that generation serves everyone and there is "
		 "no canary to roll back; to go back, CONFIG APPLY <the previous yaml> NOW",
		 promoting_id);
	return -1;
}

static int h_rollout_abort(const struct ctl_call *c)
{
	struct ro_decision d = { .action = RO_ACT_NONE };
	uint64_t t0 = mono_ns();

	if (refuse_behind_promote(c) != 0 || ro_abort(&app.st.rollout, wall_ms(), &d, c->err, c->errlen) != 0)
		return CTL_ERR;
	return exec_decision(&d, "abort", t0, c->done, c->err, c->errlen);
}

static int h_rollout_rollback(const struct ctl_call *c)
{
	struct ro_decision d = { .action = RO_ACT_NONE };
	uint64_t t0 = mono_ns();

	if (refuse_behind_promote(c) != 0)
		return CTL_ERR;
	ro_rollback(&app.st.rollout, wall_ms(), "operator rollback", &d);
	return exec_decision(&d, "operator", t0, c->done, c->err, c->errlen);
}

/* XDP, BLOCK, LIMIT: the pre-filter's pinned maps (xdp_control.c). */
static int done_or_err(const struct ctl_call *c, json_t *j)
{
	return j ? done_with(c, j) : CTL_ERR;
}

static int h_xdp(const struct ctl_call *c)
{
	return done_or_err(c, xdpc_status(c->err, c->errlen));
}

static int h_block_add(const struct ctl_call *c)
{
	return done_or_err(c, xdpc_block_add(c->argv[c->a], c->lens[c->a], c->err, c->errlen));
}

static int h_block_del(const struct ctl_call *c)
{
	return done_or_err(c, xdpc_block_del(c->argv[c->a], c->lens[c->a], c->err, c->errlen));
}

static int h_block_list(const struct ctl_call *c)
{
	return done_or_err(c, xdpc_block_list(c->err, c->errlen));
}

static int h_limit_set(const struct ctl_call *c)
{
	bool b = c->argc > c->a + 1;
	return done_or_err(c, xdpc_limit_set(c->argv[c->a], c->lens[c->a], b ? c->argv[c->a + 1] : NULL,
					     b ? c->lens[c->a + 1] : 0, c->err, c->errlen));
}

/* FLEET ...: fleet.c, over the member appliances' fanout-controls. */
static int fleet_call(const struct ctl_call *c, int id)
{
	return fleet_cmd(id, c->argc, c->a, c->argv, c->lens, c->reply, c->err, c->errlen, c->done);
}

#define CTL_FLEET_HANDLER(x) \
	static int h_fleet_##x(const struct ctl_call *c) \
	{ \
		return fleet_call(c, CTL_CMD_fleet_##x); \
	}
CTL_FLEET_HANDLER(status)
CTL_FLEET_HANDLER(stats)
CTL_FLEET_HANDLER(apply)
CTL_FLEET_HANDLER(start)
CTL_FLEET_HANDLER(rollout)
CTL_FLEET_HANDLER(abort)
CTL_FLEET_HANDLER(rollback)
#undef CTL_FLEET_HANDLER

/* The table of ctl_commands.h bound to its handlers: an entry without a handler does not compile. */
static int (*const handlers[CTL_CMD_MAX])(const struct ctl_call *c) = {
#define CTL_CMD_HANDLER(id, ...) [CTL_CMD_##id] = h_##id,
	CTL_COMMANDS(CTL_CMD_HANDLER)
#undef CTL_CMD_HANDLER
};

int ctl_dispatch(int argc, const char **argv, const size_t *lens, json_t **reply, char *err, size_t errlen,
		 const struct ctl_completion *done)
{
	*reply = NULL;
	int id = ctl_cmd_find(argc, argv, lens, err, errlen);
	if (id < 0)
		return CTL_ERR;
	if (fleet_members() > 0 && strcmp(ctl_cmd_info[id].name, "FLEET") != 0 && id != CTL_CMD_schema &&
	    id != CTL_CMD_history) {
		snprintf(err, errlen,
			 "this fanout-control runs a fleet (--member) and has no dataplane of its own: FLEET STATUS, "
			 "FLEET STATS, FLEET APPLY, FLEET START, FLEET ROLLOUT, FLEET ABORT, FLEET ROLLBACK; one "
			 "appliance's %s goes to that appliance's fanout-control",
			 ctl_cmd_info[id].name);
		return CTL_ERR;
	}
	const struct ctl_call c = { .argc = argc,
				    .a = ctl_cmd_words(id),
				    .argv = argv,
				    .lens = lens,
				    .reply = reply,
				    .err = err,
				    .errlen = errlen,
				    .done = done };
	return handlers[id](&c);
}

/* ---------------------------------------------------------------- reconciliation */

static void finish_reconcile(struct op *op)
{
	uint64_t now = wall_ms();

	app.dp.synced = true;
	if (op->failed) {
		snprintf(app.dp.reconcile_error, sizeof(app.dp.reconcile_error), "%.400s", op->err);
		fprintf(stderr, "fanout-control: pushing the desired state failed: %s\n", op->err);
		st_event(&app.st, now, "reconcile_failed", json_pack("{s:s}", "error", op->err));
	} else {
		app.dp.reconcile_error[0] = '\0';
		if (op->n_sent > 0)
			st_event(&app.st, now, "reconciled",
				 json_pack("{s:i,s:o}", "commands", op->n_sent, "desired", desired_json()));
	}
	app_persist();
	op_complete(op, NULL, NULL);
}

/* A version pushed again needs an id the dataplane has not seen; renumber it if so. */
static uint32_t pushable_id(uint32_t id, uint64_t seen_max)
{
	if (id > seen_max)
		return id;
	struct st_version *v = st_version_find(&app.st, id);
	if (v == NULL)
		return 0;
	uint32_t nid = (uint32_t)(seen_max > app.st.last_id ? seen_max : app.st.last_id) + 1;
	char *text = strdup(v->text);
	if (text == NULL || st_version_add(&app.st, nid, text, strlen(text), wall_ms()) == NULL) {
		free(text);
		return 0;
	}
	struct st_version *nv = st_version_find(&app.st, nid);
	v = st_version_find(&app.st, id); /* the array may have moved */
	snprintf(nv->outcome, sizeof(nv->outcome), "%s", v ? v->outcome : "");
	free(text);
	st_event(&app.st, wall_ms(), "renumbered",
		 json_pack("{s:I,s:I,s:s}", "from", (json_int_t)id, "to", (json_int_t)nid, "why",
			   "the dataplane has seen that id (restarted with other state); pushed again under a new id"));
	if (app.st.stable_id == id)
		app.st.stable_id = nid;
	if (app.st.canary_id == id)
		app.st.canary_id = nid;
	if (app.st.rollout.generation == id)
		app.st.rollout.generation = nid;
	return nid;
}

static void on_reconcile_view(struct op *view)
{
	json_t *g = view->replies[0], *gs = view->replies[1];
	struct ctl_state *st = &app.st;
	uint64_t now = wall_ms();

	if (view->failed || !json_is_object(g)) {
		snprintf(app.dp.reconcile_error, sizeof(app.dp.reconcile_error), "GENERATIONS: %.400s",
			 view->failed ? view->err : "reply is not a JSON object");
		app.dp.synced = true; /* nothing to compare against; keep serving what works */
		op_complete(view, NULL, NULL);
		return;
	}
	json_decref(app.dp.generations);
	app.dp.generations = json_incref(g);
	json_decref(app.dp.genstats);
	app.dp.genstats = json_incref(gs);
	uint32_t dp_stable = (uint32_t)json_u64(json_object_get(g, "stable"), "id");
	uint32_t dp_canary = (uint32_t)json_u64(json_object_get(g, "canary"), "id");
	uint32_t dp_share = (uint32_t)json_u64(g, "share_bp");
	const char *dp_mode = json_string_value(json_object_get(g, "mode"));
	uint64_t seen = dp_max_id();
	op_complete(view, NULL, NULL);

	/* A PROMOTE that landed before we could record it */
	if (st->rollout.state == RO_PROMOTING) {
		if (dp_stable == st->rollout.generation && st->canary_id == dp_stable) {
			promote_desired(dp_stable);
			ro_promote_done(&st->rollout, now, true, "promoted (confirmed after reconnect)");
		} else {
			ro_promote_done(&st->rollout, now, false, "dataplane reconnected before PROMOTE was confirmed");
		}
	}
	if (seen > st->last_id)
		st->last_id = (uint32_t)seen;

	struct op *op = op_new(NULL, finish_reconcile);
	if (op == NULL)
		return;
	bool push_stable = st->stable_id != 0 && dp_stable != st->stable_id;
	bool push_canary = st->canary_id != 0 && (push_stable || dp_canary != st->canary_id);
	bool canary_loaded = push_canary || (st->canary_id != 0 && dp_canary == st->canary_id);
	char idbuf[2][16], share[16];

	if (push_stable) {
		uint32_t id = pushable_id(st->stable_id, seen);
		struct st_version *v = st_version_find(st, id);
		if (v == NULL) {
			snprintf(op->err, sizeof(op->err), "desired stable version %u has no text in state.json",
				 st->stable_id);
			op->failed = true;
		} else {
			snprintf(idbuf[0], sizeof(idbuf[0]), "%u", id);
			OP_SEND(op, "CONFIG", "LOAD", v->text, "ID", idbuf[0], "AS", "stable");
			if (id > seen)
				seen = id;
		}
	}
	if (push_canary && !op->failed) {
		uint32_t id = pushable_id(st->canary_id, seen);
		struct st_version *v = st_version_find(st, id);
		if (v == NULL) {
			snprintf(op->err, sizeof(op->err), "desired canary version %u has no text in state.json",
				 st->canary_id);
			op->failed = true;
		} else {
			snprintf(idbuf[1], sizeof(idbuf[1]), "%u", id);
			OP_SEND(op, "CONFIG", "LOAD", v->text, "ID", idbuf[1], "AS", "canary");
		}
	}
	if (canary_loaded && !op->failed) {
		if (push_canary || dp_mode == NULL || strcmp(dp_mode, ro_mode_name(st->mode)) != 0)
			OP_SEND(op, "CANARY", "MODE", ro_mode_name(st->mode));
		if ((push_canary ? 0u : dp_share) != st->share_bp) {
			snprintf(share, sizeof(share), "%u", st->share_bp);
			OP_SEND(op, "CANARY", "SHARE", share);
		}
	} else if (!op->failed && dp_canary != 0 && dp_share != 0 && st->share_bp == 0 && st->stable_id != 0) {
		OP_SEND(op, "ROLLBACK");
	}
	if (op->n_sent > 0) {
		fprintf(stderr, "fanout-control: pushing desired state (%d command(s)) to the dataplane\n", op->n_sent);
		return;
	}
	finish_reconcile(op);
}

void ctl_reconcile(void)
{
	struct op *op = op_new(NULL, on_reconcile_view);

	app.dp.synced = false;
	if (op == NULL)
		return;
	OP_SEND(op, "GENERATIONS");
	OP_SEND(op, "GENSTATS");
	if (op->n_sent == 0)
		op_free(op);
}
