/* fanoutctl's human output: each function turns one fanout-control JSON reply into text.
 * Pure (json_t in, malloc'd string out; the caller frees), so test/unit/test_fanoutctl_render.c
 * checks the tables and their units without a server. The reply shapes are fanout-control's
 * (docs/control.md); a member a renderer does not know is printed by the generic renderer,
 * whose units come from the member's name (see fctl_render_value). */
#ifndef FANOUTCTL_RENDER_H
#define FANOUTCTL_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* What a renderer needs besides the reply: the wall clock (for "12 s ago") and the screen. */
struct fctl_view {
	int64_t now_ms; /* wall clock, ms since the epoch */
	int width;      /* terminal columns (0: no limit) */
};

/* One value with the unit its member name implies: "*_ms" a duration, "*_ns" a latency,
 * "*_us" microseconds, "*_bp" basis points as %, "*_rate"/"*_share" a fraction as %,
 * "*_pct" a percentage, "*_bytes" a size, "*_per_s"/"*_s" (rates) per second ... */
char *fctl_render_value(const char *key, const json_t *v, const struct fctl_view *view);

char *fctl_render_status(const json_t *status, const struct fctl_view *view);
char *fctl_render_stats(const json_t *stats, const struct fctl_view *view);
/* One frame of `fanoutctl top`: STATS plus ROLLOUT STATUS (any may be NULL). prev_stats, the
 * previous frame's STATS, gives the rates fanout-control does not (drops per reason); err, if not
 * NULL, is shown in place of the dataplane's figures, e.g. "dataplane unreachable". */
char *fctl_render_top(const json_t *stats, const json_t *prev_stats, const json_t *rollout, const char *err,
		      const struct fctl_view *view);
char *fctl_render_sessions(const json_t *reply, const struct fctl_view *view);
char *fctl_render_topics(const json_t *reply, const struct fctl_view *view);
char *fctl_render_subscriptions(const json_t *reply, const struct fctl_view *view);
/* ROUTES: per generation, the UDP routes (matched/copies/dropped) and the sink and bridge routes
 * (matched, queued, written, dropped by reason, backlog). */
char *fctl_render_routes(const json_t *reply, const struct fctl_view *view);
/* OUTPUTS: one row per sink and bridge (connection, backlog, written/s, totals, reconnects, batch
 * round trip), then each one's server, errors and batch sizes. */
char *fctl_render_outputs(const json_t *reply, const struct fctl_view *view);
/* Whether an OUTPUTS (or STATS) reply holds stale figures: fanout-control has lost the dataplane. */
bool fctl_reply_stale(const json_t *reply);
char *fctl_render_config_changes(const json_t *reply, const struct fctl_view *view);
char *fctl_render_config_history(const json_t *reply, const struct fctl_view *view);
char *fctl_render_config_show(const json_t *reply, const struct fctl_view *view);
char *fctl_render_rollout(const json_t *reply, const struct fctl_view *view);
/* The reply to rollout pause/resume/promote/abort/rollback; rollback states the time it took. */
char *fctl_render_rollout_action(const char *verb, const json_t *reply, const struct fctl_view *view);
char *fctl_render_history(const json_t *reply, const struct fctl_view *view);
/* XDP: each port's pins, rate limit and verdicts; BLOCK LIST/ADD/DEL; LIMIT SET. */
char *fctl_render_xdp(const json_t *reply, const struct fctl_view *view);
char *fctl_render_block(const json_t *reply, const struct fctl_view *view);
char *fctl_render_limit(const json_t *reply, const struct fctl_view *view);
/* FLEET STATUS: one row per member appliance (link, dataplane, generations, share, its rollout)
 * and the fleet rollout; FLEET STATS: each member's totals and their sum; FLEET ROLLOUT (and
 * the replies of FLEET START, ABORT, ROLLBACK): the fleet rollout and each member's part. */
char *fctl_render_fleet_status(const json_t *reply, const struct fctl_view *view);
char *fctl_render_fleet_stats(const json_t *reply, const struct fctl_view *view);
char *fctl_render_fleet_rollout(const json_t *reply, const struct fctl_view *view);
/* Any object: "member: value" lines, nested objects indented, units from member names. */
char *fctl_render_generic(const json_t *reply, const struct fctl_view *view);

/* Whether a STATUS reply says fanout-control has no link to the dataplane. */
bool fctl_status_dataplane_down(const json_t *status);

#endif
