/* The one command dispatcher of fanout-control, shared by the RESP server and the HTTP API:
 * the table of ctl_commands.h, each entry bound to its handler in commands.c. Local commands answer at once; commands that need the
 * dataplane answer later through a completion, exactly once. */
#ifndef FANOUT_CONTROL_COMMANDS_H
#define FANOUT_CONTROL_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "rollout.h"

enum { CTL_ERR = -1, CTL_DONE = 0, CTL_PENDING = 1 };

/* Errors that mean "the dataplane could not be reached" start with this (fanoutctl exit 4, HTTP 503). */
#define CTL_DP_DOWN "dataplane unreachable"
#define CTL_ERR_MAX 512

/* reply: owned by the callee (NULL when err is set); err: NULL on success. */
typedef void (*ctl_done_fn)(void *ctx, json_t *reply, const char *err);

struct ctl_completion {
	ctl_done_fn fn;
	void *ctx;
};

/* CTL_DONE with *reply set, CTL_ERR with err set, or CTL_PENDING: done->fn will be called once.
 * argv[i] need not be NUL-terminated (lens[i] bytes). */
int ctl_dispatch(int argc, const char **argv, const size_t *lens, json_t **reply, char *err, size_t errlen,
		 const struct ctl_completion *done);

bool ctl_err_is_dp_down(const char *err);

/* A poll's rollout sample: the rollout judges it; its decisions are executed. */
void ctl_on_sample(const struct ro_sample *s);

/* The dataplane (re)connected: compare its generations with the desired state, push what differs. */
void ctl_reconcile(void);

#endif
