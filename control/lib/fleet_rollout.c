/* The fleet rollout's state machine (see fleet_rollout.h). */
#include <stdio.h>
#include <string.h>

#include "ctl_commands.h"
#include "fleet_rollout.h"

static const char *const state_names[] = {
	[FL_IDLE] = "idle",         [FL_RUNNING] = "running",         [FL_PROMOTING] = "promoting",
	[FL_PROMOTED] = "promoted", [FL_ROLLED_BACK] = "rolled_back", [FL_ABORTED] = "aborted",
};

const char *fl_state_name(enum fl_state s)
{
	return s <= FL_ABORTED ? state_names[s] : "?";
}

const char *fl_order_name(enum fl_order o)
{
	return o == FL_ORDER_EACH ? "each" : "fleet";
}

const char *fl_act_name(enum fl_act a)
{
	switch (a) {
	case FL_ACT_START: return "start";
	case FL_ACT_RESUME: return "resume";
	case FL_ACT_ROLLBACK: return "rollback";
	default: return "none";
	}
}

int fl_parse_order(const char *s, size_t len, enum fl_order *o, char *err, size_t errlen)
{
	if (ctl_word_is(s, len, "fleet"))
		*o = FL_ORDER_FLEET;
	else if (ctl_word_is(s, len, "each"))
		*o = FL_ORDER_EACH;
	else {
		snprintf(err, errlen,
			 "ORDER '%.*s': use ORDER fleet (every appliance at each step together) or ORDER each (one "
			 "appliance at a time)",
			 (int)(len > 20 ? 20 : len), s);
		return -1;
	}
	return 0;
}

bool fl_active(const struct fleet_rollout *f)
{
	return f->state == FL_RUNNING || f->state == FL_PROMOTING;
}

void fl_init(struct fleet_rollout *f)
{
	memset(f, 0, sizeof(*f));
	f->failed_member = -1;
}

void fl_set_members(struct fleet_rollout *f, unsigned n_members, const char *const *names)
{
	f->n_members = n_members > FL_MAX_MEMBERS ? FL_MAX_MEMBERS : n_members;
	for (unsigned i = 0; i < f->n_members; i++)
		snprintf(f->names[i], sizeof(f->names[i]), "%s", names[i]);
}

static void send(struct fleet_rollout *f, unsigned i, enum fl_act a, enum fl_act *acts)
{
	acts[i] = a;
	f->m[i].inflight = a;
}

static void no_acts(const struct fleet_rollout *f, enum fl_act *acts)
{
	for (unsigned i = 0; i < f->n_members; i++)
		acts[i] = FL_ACT_NONE;
}

int fl_start(struct fleet_rollout *f, enum fl_order order, unsigned n_members, const char *const *names,
	     unsigned n_steps, uint64_t now_ms, enum fl_act *acts, char *err, size_t errlen)
{
	if (fl_active(f)) {
		snprintf(err, errlen, "a fleet rollout is %s; FLEET ABORT or FLEET ROLLBACK it first",
			 fl_state_name(f->state));
		return -1;
	}
	if (n_members == 0 || n_members > FL_MAX_MEMBERS || n_steps == 0) {
		snprintf(err, errlen, "no members to roll out to; start fanout-control with --member");
		return -1;
	}
	fl_init(f);
	fl_set_members(f, n_members, names);
	f->state = FL_RUNNING;
	f->order = order;
	f->n_steps = n_steps;
	f->started_ms = now_ms;
	no_acts(f, acts);
	for (unsigned i = 0; i < n_members; i++)
		if (order == FL_ORDER_FLEET || i == 0)
			send(f, i, FL_ACT_START, acts);
	snprintf(f->reason, sizeof(f->reason), "started");
	return 0;
}

/* Ends the rollout and asks for ROLLBACK (each still to deliver until answered): every member
 * when the operator asks (every), else the members the fleet started or is starting: a member
 * it never started (one at a time: not its turn yet; one that refused ROLLOUT START) may run a
 * rollout of its own, which is not the fleet's to end. */
static void roll_back_all(struct fleet_rollout *f, enum fl_state st, int who, const char *why, uint64_t now_ms,
			  enum fl_act *acts, bool every)
{
	f->state = st;
	f->ended_ms = now_ms;
	f->failed_member = who;
	snprintf(f->reason, sizeof(f->reason), "%s", why);
	for (unsigned i = 0; i < f->n_members; i++) {
		if (!every && !f->m[i].started && f->m[i].inflight != FL_ACT_START)
			continue;
		f->m[i].rollback_due = true;
		send(f, i, FL_ACT_ROLLBACK, acts);
	}
}

static void resume(struct fleet_rollout *f, unsigned i, enum fl_act *acts)
{
	send(f, i, FL_ACT_RESUME, acts);
}

static bool busy(const struct fleet_rollout *f, unsigned i)
{
	return f->m[i].inflight != FL_ACT_NONE;
}

static bool member_failed(enum ro_state s)
{
	return s == RO_ROLLED_BACK || s == RO_ABORTED || s == RO_IDLE;
}

void fl_on_views(struct fleet_rollout *f, const struct fl_view *v, uint64_t now_ms, enum fl_act *acts)
{
	char why[320];

	no_acts(f, acts);
	if (f->state == FL_RUNNING) {
		for (unsigned i = 0; i < f->n_members; i++) {
			if (!v[i].up) {
				snprintf(why, sizeof(why), "appliance %s unreachable at step %u/%u", f->names[i],
					 (f->order == FL_ORDER_FLEET ? f->step : 0) + 1, f->n_steps);
				roll_back_all(f, FL_ROLLED_BACK, (int)i, why, now_ms, acts, false);
				return;
			}
			if (f->m[i].started && !busy(f, i) && v[i].fresh && member_failed(v[i].state)) {
				snprintf(why, sizeof(why), "appliance %s: %s", f->names[i],
					 v[i].reason[0] ? v[i].reason : ro_state_name(v[i].state));
				roll_back_all(f, FL_ROLLED_BACK, (int)i, why, now_ms, acts, false);
				return;
			}
		}
		if (f->order == FL_ORDER_FLEET) {
			for (unsigned i = 0; i < f->n_members; i++)
				if (!f->m[i].started || busy(f, i) || !v[i].fresh || v[i].state != RO_HELD ||
				    v[i].step != f->step)
					return;
			if (f->step + 1 < f->n_steps)
				f->step++;
			else
				f->state = FL_PROMOTING;
			for (unsigned i = 0; i < f->n_members; i++)
				resume(f, i, acts);
			return;
		}
		unsigned c = f->current;
		if (!f->m[c].started || busy(f, c) || !v[c].fresh || v[c].state != RO_HELD)
			return;
		if (v[c].step + 1 < f->n_steps) {
			resume(f, c, acts);
			return;
		}
		f->m[c].done = true;
		if (c + 1 < f->n_members) {
			f->current = c + 1;
			send(f, c + 1, FL_ACT_START, acts);
			return;
		}
		f->state = FL_PROMOTING;
		for (unsigned i = 0; i < f->n_members; i++)
			resume(f, i, acts);
		return;
	}
	if (f->state == FL_PROMOTING) {
		bool all = true;
		for (unsigned i = 0; i < f->n_members; i++) {
			if (!busy(f, i) && v[i].up && v[i].fresh) {
				if (v[i].state == RO_PROMOTED)
					f->m[i].promoted = true;
				else if (v[i].state == RO_HELD)
					resume(f, i, acts); /* its PROMOTE failed: again */
			}
			all = all && f->m[i].promoted;
		}
		if (all) {
			f->state = FL_PROMOTED;
			f->ended_ms = now_ms;
			snprintf(f->reason, sizeof(f->reason), "all %u steps passed on all %u appliances", f->n_steps,
				 f->n_members);
		}
		return;
	}
	/* ended: ROLLBACKs a member missed go out when it is back */
	for (unsigned i = 0; i < f->n_members; i++)
		if (f->m[i].rollback_due && !busy(f, i) && v[i].up)
			send(f, i, FL_ACT_ROLLBACK, acts);
}

void fl_cmd_done(struct fleet_rollout *f, unsigned i, enum fl_act act, const char *err, uint64_t now_ms,
		 enum fl_act *acts)
{
	char why[320];

	no_acts(f, acts);
	if (i >= f->n_members)
		return;
	if (f->m[i].inflight != act)
		return; /* a START or RESUME answered after a ROLLBACK was sent behind it */
	f->m[i].inflight = FL_ACT_NONE;
	if (act == FL_ACT_ROLLBACK) {
		if (err == NULL)
			f->m[i].rollback_due = false;
		return;
	}
	if (err == NULL) {
		if (act == FL_ACT_START)
			f->m[i].started = true;
		return;
	}
	if (f->state != FL_RUNNING && f->state != FL_PROMOTING)
		return;
	snprintf(why, sizeof(why), "appliance %s refused %s: %.200s", f->names[i],
		 act == FL_ACT_START ? "ROLLOUT START" : "ROLLOUT RESUME", err);
	if (f->state == FL_PROMOTING) {
		snprintf(f->reason, sizeof(f->reason), "%.290s; RESUME is sent again", why);
		return; /* some members may be promoted already: the promote is retried, not undone */
	}
	roll_back_all(f, FL_ROLLED_BACK, (int)i, why, now_ms, acts, false);
}

int fl_stop(struct fleet_rollout *f, bool aborted, const char *by, uint64_t now_ms, enum fl_act *acts, char *err,
	    size_t errlen)
{
	char why[320];

	if (f->state == FL_PROMOTING) {
		snprintf(err, errlen,
			 "the fleet rollout is promoting: appliances that promoted have no canary left to roll back; "
			 "to go back, FLEET APPLY <the previous yaml> NOW");
		return -1;
	}
	no_acts(f, acts);
	if (f->n_members == 0) {
		snprintf(err, errlen, "no members; start fanout-control with --member");
		return -1;
	}
	snprintf(why, sizeof(why), "%s by %s", aborted ? "aborted" : "rolled back", by);
	if (f->state == FL_RUNNING || !aborted)
		roll_back_all(f, f->state == FL_RUNNING ? (aborted ? FL_ABORTED : FL_ROLLED_BACK) : f->state, -1,
			      f->state == FL_RUNNING ? why : f->reason, now_ms, acts, true);
	else {
		snprintf(err, errlen, "no fleet rollout to abort (it is %s)", fl_state_name(f->state));
		return -1;
	}
	return 0;
}
