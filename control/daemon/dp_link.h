/* fanout-control's link to the dataplane control socket: one hiredis async connection on the
 * libevent loop, reconnecting with backoff while the dataplane is absent, and the periodic poll
 * (GENERATIONS, GENSTATS, STATS, OUTPUTS). Nothing here blocks. */
#ifndef FANOUT_CONTROL_DP_LINK_H
#define FANOUT_CONTROL_DP_LINK_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <jansson.h>

#define DP_BACKOFF_MIN_MS 100
#define DP_BACKOFF_MAX_MS 5000
#define DP_POLL_STUCK_MIN_MS 3000 /* a poll unanswered this long (or 4 polls) => reconnect */

/* The reply, or r NULL / an error: err says what (the dataplane's -ERR text, or the link's). */
typedef void (*dp_reply_fn)(void *arg, redisReply *r, const char *err);

struct dp_link_hooks {
	void (*connected)(void);
	void (*disconnected)(const char *why);
	/* one poll's parsed replies; any may be NULL (command failed or not JSON). outputs_err says
	 * why OUTPUTS is NULL (the dataplane's error), or
	 * is NULL. */
	void (*polled)(json_t *generations, json_t *genstats, json_t *stats, json_t *outputs, const char *outputs_err);
};

int dp_link_start(struct event_base *base, const char *path, unsigned poll_ms, const struct dp_link_hooks *hooks);
void dp_link_stop(void);
bool dp_link_up(void);
const char *dp_link_last_error(void);
unsigned dp_link_connects(void); /* successful connections so far */

/* Queue a command; -1 (fn never called) when the link is down. Replies come in order. */
int dp_link_cmd(dp_reply_fn fn, void *arg, int argc, const char **argv, const size_t *lens);
/* Write queued commands now instead of on the next loop turn (for ROLLBACK's latency). */
void dp_link_flush(void);
/* Same, argv NUL-terminated strings. */
int dp_link_cmdv(dp_reply_fn fn, void *arg, int argc, const char **argv);

#endif
