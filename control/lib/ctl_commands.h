/* fanout-control's commands as one list: the RESP server, the HTTP routes (which build these
 * commands), HELP, COMMAND, the error texts and fanoutctl's help all read it. commands.c binds each
 * entry to its handler; this header and ctl_commands.c are pure (no libevent, no app state). */
#ifndef FANOUT_CONTROL_CTL_COMMANDS_H
#define FANOUT_CONTROL_CTL_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

#include "rollout.h"

/* X(id, name, sub, min, max, args, help): id names the handler (commands.c's h_<id>); sub is the
 * second word of a two-word command ("" for none); min/max count the arguments after the command
 * word(s). */
#define CTL_COMMANDS(X) \
	X(status, "STATUS", "", 0, 0, "", "control, dataplane link, generations, rollout summary") \
	X(stats, "STATS", "", 0, 0, "", "latest dataplane stats with per-second rates and per-generation figures") \
	X(outputs, "OUTPUTS", "", 0, 0, "", "sinks and bridges (the dataplane's last OUTPUTS) with rates") \
	X(generations, "GENERATIONS", "", 0, 0, "", "the dataplane's generations and the desired state") \
	X(schema, "SCHEMA", "", 0, 0, "", "every counter of the stats schema: family, name, unit, description") \
	X(series, "SERIES", "", 0, 2, "[SINCE t_ms]", "the sample series the rollout gates judge") \
	X(sessions, "SESSIONS", "", 0, 2, "[COUNT n]", "MQTT-SN sessions (proxied to the dataplane)") \
	X(topics, "TOPICS", "", 0, 2, "[COUNT n]", "registered topic names (proxied to the dataplane)") \
	X(subscriptions, "SUBSCRIPTIONS", "", 0, 2, "[COUNT n]", "subscriptions (proxied to the dataplane)") \
	X(routes, "ROUTES", "", 0, 0, "", "stable and canary routes with counters (proxied to the dataplane)") \
	X(history, "HISTORY", "", 0, 2, "[COUNT n]", "rollout and config events, newest last") \
	X(config_apply, "CONFIG", "APPLY", 1, 2, "<yaml> [NOW]", \
	  "new generation: canary at share 0, or with NOW straight to stable") \
	X(config_diff, "CONFIG", "DIFF", 1, 1, "<yaml>", "what <yaml> would change against stable") \
	X(config_history, "CONFIG", "HISTORY", 0, 0, "", "config versions and the desired state") \
	X(config_show, "CONFIG", "SHOW", 1, 1, "<id>", "one config version with its text") \
	X(rollout_start, "ROLLOUT", "START", 0, 2 * (4 + RO_MAX_GATES), \
	  "[STEPS 1,5,25,50,100] [HOLD 10s] [MODE split|mirror] [AUTO yes|no] [GATE expr]...", \
	  "start a rollout of the canary generation") \
	X(rollout_status, "ROLLOUT", "STATUS", 0, 0, "", "the plan, step, share and the gates' latest values") \
	X(rollout_pause, "ROLLOUT", "PAUSE", 0, 0, "", "hold the current step") \
	X(rollout_resume, "ROLLOUT", "RESUME", 0, 0, "", "continue a paused rollout") \
	X(rollout_promote, "ROLLOUT", "PROMOTE", 0, 0, "", "the canary becomes stable") \
	X(rollout_abort, "ROLLOUT", "ABORT", 0, 0, "", "stop the rollout and set the share to 0") \
	X(rollout_rollback, "ROLLOUT", "ROLLBACK", 0, 0, "", "share 0 in one swap, recorded with the time it took") \
	X(xdp, "XDP", "", 0, 0, "", \
	  "the XDP pre-filter of each port behind one: pins, rate limit, blocklist, verdicts") \
	X(block_add, "BLOCK", "ADD", 1, 1, "<prefix>", \
	  "drop a source (IPv4 or IPv6 address or prefix) in the XDP pre-filter") \
	X(block_del, "BLOCK", "DEL", 1, 1, "<prefix>", "take a prefix off the XDP pre-filter's blocklist") \
	X(block_list, "BLOCK", "LIST", 0, 0, "", \
	  "the XDP pre-filter's blocklist with the packets each prefix dropped") \
	X(limit_set, "LIMIT", "SET", 1, 2, "<pps> [burst]", \
	  "packets/s each source may send the appliance through the XDP pre-filter (0: no limit); burst default pps") \
	X(fleet_status, "FLEET", "STATUS", 0, 0, "", \
	  "every member appliance: link, dataplane, generations, share, its rollout; and the fleet rollout") \
	X(fleet_stats, "FLEET", "STATS", 0, 0, "", "every member's totals and rates, and their sum") \
	X(fleet_apply, "FLEET", "APPLY", 2, 3, "<appliance|*> <yaml> [NOW]", \
	  "CONFIG APPLY on one member (or * for every member): a canary at share 0, or with NOW straight to stable") \
	X(fleet_start, "FLEET", "START", 0, 2 * (4 + RO_MAX_GATES), \
	  "[ORDER fleet|each] [STEPS 1,5,25,50,100] [HOLD 10s] [MODE split|mirror] [GATE expr]...", \
	  "roll the members' canaries out: every appliance at each step together, or one appliance at a time") \
	X(fleet_rollout, "FLEET", "ROLLOUT", 0, 0, "", "the fleet rollout: order, step, each member's state") \
	X(fleet_abort, "FLEET", "ABORT", 0, 0, "", "stop the fleet rollout: ROLLBACK on every member") \
	X(fleet_rollback, "FLEET", "ROLLBACK", 0, 0, "", "share 0 on every member at once (ROLLOUT ROLLBACK on each)")

enum ctl_cmd_id {
#define CTL_CMD_ENUM(id, ...) CTL_CMD_##id,
	CTL_COMMANDS(CTL_CMD_ENUM)
#undef CTL_CMD_ENUM
		CTL_CMD_MAX
};

struct ctl_cmd_info {
	const char *name, *sub; /* sub: "" for a one-word command */
	int min, max;           /* arguments after the command word(s) */
	const char *args, *help;
};

extern const struct ctl_cmd_info ctl_cmd_info[CTL_CMD_MAX];

/* The longest argv any command takes, its words included: the union is as large as its largest
 * member, so argv arrays sized from it hold every command the table allows. */
union ctl_argc_sizes {
#define CTL_CMD_SIZE(id, name, sub, min, max, ...) char id[1 + (sizeof(sub) > 1) + (max)];
	CTL_COMMANDS(CTL_CMD_SIZE)
#undef CTL_CMD_SIZE
};
#define CTL_MAX_ARGC ((int)sizeof(union ctl_argc_sizes))

/* The entry argv names with its argument count in range: its id, or -1 with err set (unknown
 * command, unknown subcommand, or too few/many arguments; the text lists what would do). */
int ctl_cmd_find(int argc, const char *const *argv, const size_t *lens, char *err, size_t errlen);
/* Words of an entry (1 or 2): where its arguments start in argv. */
int ctl_cmd_words(int id);
/* "CONFIG APPLY <yaml> [NOW]" into buf. */
void ctl_cmd_synopsis(int id, char *buf, size_t n);
/* Redis's COMMAND arity: the argc with the words when fixed, else minus the least argc. */
int ctl_cmd_arity(int id);
bool ctl_word_is(const char *a, size_t len, const char *word);

#endif
