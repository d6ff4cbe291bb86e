/* fanout-control's desired state and history, persisted as JSON in STATE_DIR/state.json.
 * Written atomically (temp file, fsync, rename, fsync of the directory) after every change,
 * read back on start, so the control plane survives its own restart. */
#ifndef FANOUT_CONTROL_STATE_STORE_H
#define FANOUT_CONTROL_STATE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rollout.h"

#define ST_FILE "state.json"
#define ST_FORMAT 1
#define ST_MAX_VERSIONS 256 /* older versions not stable/canary are forgotten beyond this */
#define ST_MAX_HISTORY 1000 /* events kept, newest last */

struct st_version {
	uint32_t id;     /* the generation id pushed with CONFIG LOAD .. ID */
	char sha256[65]; /* of text */
	char *text;      /* the YAML as applied */
	uint64_t created_ms;
	char outcome[24]; /* canary, stable, promoted, rolled_back, superseded, retired */
};

struct st_rollback_timing {
	bool set;
	uint64_t t_ms;         /* wall clock when the operator's ROLLBACK arrived */
	uint64_t total_ns;     /* from receiving it to the dataplane's reply */
	uint64_t published_ns; /* the dataplane's own part (its reply) */
	char by[16];           /* operator, gate, abort */
};

struct ctl_state {
	uint32_t last_id;              /* highest generation id issued or seen on the dataplane */
	uint32_t stable_id, canary_id; /* desired; 0 = none (stable 0: keep what the dataplane runs) */
	uint16_t share_bp;
	enum ro_mode mode;
	struct st_version *versions; /* ascending id */
	size_t n_versions, cap_versions;
	struct rollout rollout;
	struct st_rollback_timing last_rollback;
	json_t *history; /* array of {"t_ms":N,"event":"..",...}, oldest first */
	/* the XDP pre-filter's desired state, applied to each new program the dataplane pins:
	 * {"block":["198.18.0.0/24",...],"rate_pps":N,"rate_burst":M} */
	json_t *xdp;
};
#define ST_MAX_XDP_BLOCK 8192 /* prefixes kept (4096 per address family in the maps) */

void st_init(struct ctl_state *st);
void st_free(struct ctl_state *st);

/* 0 with st filled (an absent file is an empty state), or -1 with a message naming the file and the fix. */
int st_load(const char *dir, struct ctl_state *st, char *err, size_t errlen);
int st_save(const char *dir, const struct ctl_state *st, char *err, size_t errlen);

/* Whole state <-> JSON (the state.json document). */
json_t *st_to_json(const struct ctl_state *st);
int st_from_json(json_t *doc, struct ctl_state *st, char *err, size_t errlen);

struct st_version *st_version_add(struct ctl_state *st, uint32_t id, const char *text, size_t len, uint64_t now_ms);
struct st_version *st_version_find(const struct ctl_state *st, uint32_t id);
void st_version_outcome(struct ctl_state *st, uint32_t id, const char *outcome);
json_t *st_version_json(const struct st_version *v, bool with_text);

/* Appends {"t_ms":now,"event":type, ...detail's members}; detail (may be NULL) is consumed. */
void st_event(struct ctl_state *st, uint64_t now_ms, const char *type, json_t *detail);

json_t *st_rollout_json(const struct rollout *r);
int st_rollout_from_json(json_t *j, struct rollout *r, char *err, size_t errlen);

#endif
