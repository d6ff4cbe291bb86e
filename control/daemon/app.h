/* What the parts of fanout-control share: options, the desired state, the latest dataplane
 * view and the sample series. One instance, owned by fanout_control.c; everything runs on
 * its single libevent loop, so no locks. */
#ifndef FANOUT_CONTROL_APP_H
#define FANOUT_CONTROL_APP_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>

#include "series.h"
#include "state_store.h"

struct ctl_opts {
	const char *dataplane;
	const char *state_dir;
	const char *listen;    /* host:port, "" = off */
	const char *unix_path; /* NULL = off */
	const char *http;      /* host:port, "" = off */
	unsigned poll_ms;
	const char *token_file;      /* NULL = STATE_DIR/control.token */
	const char *allow_hosts[16]; /* --http-allow-host */
	unsigned n_allow_hosts;
	const char *members[16]; /* --member specs (fleet mode; no --dataplane) */
	unsigned n_members;
};

struct ctl_dpview {
	json_t *generations, *genstats, *stats; /* last poll's replies (may be NULL) */
	uint64_t t_ms;                          /* when they arrived */
	json_t *prev_stats, *prev_genstats;     /* the poll before, for STATS rates */
	uint64_t prev_t_ms;
	/* OUTPUTS (sinks and bridges): the last reply and the one before (for rates), when
	 * they arrived, and why the last poll got none ("" when it did) */
	json_t *outputs, *prev_outputs;
	uint64_t outputs_t_ms, prev_outputs_t_ms;
	char outputs_error[256];
	bool synced; /* reconciliation done since the last connect */
	char reconcile_error[512];
};

struct ctl_app {
	struct ctl_opts opt;
	char token[257]; /* CTL_TOKEN_MAX + 1 */
	struct event_base *base;
	struct ctl_state st;
	uint64_t started_ms;
	struct ctl_dpview dp;
	struct series series;
	unsigned save_failures;
};

extern struct ctl_app app;

uint64_t wall_ms(void);
uint64_t mono_ns(void);
/* Persist app.st; a failure is logged and counted (the daemon keeps serving). */
int app_persist(void);

#endif
