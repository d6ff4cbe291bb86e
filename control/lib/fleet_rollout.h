/* A rollout over a fleet: every member's fanout-control runs the same plan (steps, hold, mode,
 * gates) with AUTO no, so each member judges its own gates on its own dataplane and stops `held`
 * after each step's hold; this state machine moves them on. Fleet-wide order: every member at the
 * same step, the next step only when all of them are held. One at a time: member after member,
 * each through every step, staying at the last step's share until the last member has passed,
 * then all are promoted together. A member that rolled back (a gate, its operator) or that cannot
 * be reached rolls back every member the fleet started at once. Pure: views in, per-member
 * actions out. */
#ifndef FANOUT_CONTROL_FLEET_ROLLOUT_H
#define FANOUT_CONTROL_FLEET_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleet_member.h"
#include "rollout.h"

enum fl_order { FL_ORDER_FLEET, FL_ORDER_EACH };
enum fl_state { FL_IDLE, FL_RUNNING, FL_PROMOTING, FL_PROMOTED, FL_ROLLED_BACK, FL_ABORTED };
enum fl_act { FL_ACT_NONE, FL_ACT_START, FL_ACT_RESUME, FL_ACT_ROLLBACK };

/* A member as the fleet last saw it: up = its link is up; fresh = the ROLLOUT STATUS below was
 * asked after the fleet's last command to the member was answered (an older one may predate it). */
struct fl_view {
	bool up, fresh;
	enum ro_state state;
	unsigned step; /* 0-based, as ROLLOUT STATUS "step" */
	char reason[200];
};

struct fl_member_ro {
	bool started;         /* ROLLOUT START answered OK */
	enum fl_act inflight; /* the command sent and not answered yet (NONE: idle) */
	bool rollback_due;    /* ROLLBACK to deliver (sent again when the member is back) */
	bool done;            /* one at a time: held at the last step */
	bool promoted;
};

struct fleet_rollout {
	enum fl_state state;
	enum fl_order order;
	unsigned n_members, n_steps;
	char names[FL_MAX_MEMBERS][FL_NAME_MAX + 1];
	unsigned step;    /* fleet-wide: the step every member is at */
	unsigned current; /* one at a time: the member going through its steps */
	struct fl_member_ro m[FL_MAX_MEMBERS];
	uint64_t started_ms, ended_ms;
	int failed_member; /* -1: none */
	char reason[320];
};

const char *fl_state_name(enum fl_state s);
const char *fl_order_name(enum fl_order o);
int fl_parse_order(const char *s, size_t len, enum fl_order *o, char *err, size_t errlen);
const char *fl_act_name(enum fl_act a);
bool fl_active(const struct fleet_rollout *f); /* running or promoting */

void fl_init(struct fleet_rollout *f);
/* The members a ROLLBACK outside a rollout goes to (fl_start sets them too). */
void fl_set_members(struct fleet_rollout *f, unsigned n_members, const char *const *names);
/* acts[n_members] out. -1 with err when a rollout is active or the plan is empty. */
int fl_start(struct fleet_rollout *f, enum fl_order order, unsigned n_members, const char *const *names,
	     unsigned n_steps, uint64_t now_ms, enum fl_act *acts, char *err, size_t errlen);
/* Judges the members' views (views[n_members]); acts[n_members] out. */
void fl_on_views(struct fleet_rollout *f, const struct fl_view *views, uint64_t now_ms, enum fl_act *acts);
/* The command act sent to member i was answered (or could not be sent); err NULL when it
 * succeeded. A START or RESUME that failed rolls back every member: acts[n_members] out. */
void fl_cmd_done(struct fleet_rollout *f, unsigned i, enum fl_act act, const char *err, uint64_t now_ms,
		 enum fl_act *acts);
/* Operator ABORT (aborted = true) or ROLLBACK: every member gets ROLLBACK. -1 with err while
 * members are being promoted (there is no canary left on those that were). */
int fl_stop(struct fleet_rollout *f, bool aborted, const char *by, uint64_t now_ms, enum fl_act *acts, char *err,
	    size_t errlen);

#endif
