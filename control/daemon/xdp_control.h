/* fanout-control's side of the XDP pre-filter: the blocklist and the rate limit, written into the
 * maps the dataplane pinned (their directories come from its last STATS, ports[].xdp_pins). Each
 * call opens the pins, acts on every port behind the pre-filter and closes them again. What
 * succeeded is also kept in state.json and applied again to the maps of a restarted dataplane. */
#ifndef FANOUT_CONTROL_XDP_CONTROL_H
#define FANOUT_CONTROL_XDP_CONTROL_H

#include <stddef.h>

#include <jansson.h>

/* A reply, or NULL with err set. Words need not be NUL-terminated (len bytes). */
json_t *xdpc_status(char *err, size_t errlen);
json_t *xdpc_block_add(const char *word, size_t len, char *err, size_t errlen);
json_t *xdpc_block_del(const char *word, size_t len, char *err, size_t errlen);
json_t *xdpc_block_list(char *err, size_t errlen);
json_t *xdpc_limit_set(const char *pps, size_t pps_len, const char *burst, size_t burst_len, char *err, size_t errlen);

/* After each STATS poll: a port whose pins hold a program not seen before (the dataplane started
 * or restarted) gets the desired blocklist and rate limit of state.json. */
void xdpc_on_stats(void);

#endif
