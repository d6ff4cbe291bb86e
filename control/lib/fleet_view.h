/* What a fleet fanout-control shows of its members: their STATS totals summed, FLEET STATUS and
 * FLEET STATS replies, and the /metrics series with an appliance label, all from the members'
 * own STATUS and STATS replies. Pure (jansson and evbuffers only), unit-tested. */
#ifndef FANOUT_CONTROL_FLEET_VIEW_H
#define FANOUT_CONTROL_FLEET_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "fleet_rollout.h"

/* The label value of the summed series in /metrics: no member name can hold '*'. */
#define FV_SUM_LABEL "*"

struct fv_member {
	const char *name, *endpoint;
	bool up;           /* the link to the member's fanout-control */
	const char *error; /* why not, when !up */
	uint64_t polled_ms;
	json_t *status;  /* its last STATUS reply (NULL before the first) */
	json_t *stats;   /* its last STATS reply */
	json_t *rollout; /* its last ROLLOUT STATUS reply */
	/* the fleet's last ROLLBACK of it: decided -> its reply, and its own total_ns (-1: none) */
	int64_t rollback_ns, rollback_member_ns;
};

/* acc += add over every number of add (objects recursively, same keys; numbers only, arrays,
 * strings and booleans are left out). acc must be an object. */
void fv_sum_into(json_t *acc, json_t *add);
/* {"members":[{"name","endpoint","up","error"?,"polled_ms","dataplane_up","stable","canary",
 * "share_bp","mode","rollout":{"state","step","share_bp","reason"}}],"up":N,"total":N,
 * "fleet_rollout":{...}} */
json_t *fv_status(const struct fv_member *m, size_t n, const struct fleet_rollout *f);
/* {"members":[{"name","up","dataplane_up","totals","rates"}],"sum":{"totals","rates"},"members_summed":N}:
 * the sum covers the members whose STATS came with the dataplane up. */
json_t *fv_stats(const struct fv_member *m, size_t n);
json_t *fv_rollout_json(const struct fleet_rollout *f, const struct fv_member *m, size_t n);
/* The fleet's /metrics section: per member (label appliance) and summed (appliance="*"). */
void fv_metrics(struct evbuffer *o, const struct fv_member *m, size_t n, const struct fleet_rollout *f);

#endif
