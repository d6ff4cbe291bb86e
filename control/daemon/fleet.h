/* The fleet (fanout-control --member ...): a link to each member appliance's fanout-control
 * (RESP over TCP or a unix socket, AUTH with its token, replies read through fleet_reply's
 * bounds), its poll (STATUS, STATS, ROLLOUT STATUS), the FLEET commands and the fleet rollout
 * (fleet_rollout.c) executed against the members. One libevent loop; nothing blocks. */
#ifndef FANOUT_CONTROL_FLEET_H
#define FANOUT_CONTROL_FLEET_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "commands.h"
#include "fleet_member.h"

#define FLEET_BACKOFF_MIN_MS 100
#define FLEET_BACKOFF_MAX_MS 5000
#define FLEET_STUCK_MIN_MS \
	5000 /* a reply missing this long (or 4 polls) drops the link: a member answers
				 * after its own dataplane did, two hops */

/* Loads each member's token and starts the links; -1 with a message on stderr. */
int fleet_start(struct event_base *base, const struct fl_member_spec *ms, unsigned n, unsigned poll_ms);
void fleet_stop(void);
unsigned fleet_members(void); /* 0: not a fleet */

/* The FLEET commands (ctl_commands.h), called by commands.c's handlers: argv[a..argc) are the
 * arguments. Same contract as ctl_dispatch. */
int fleet_cmd(int id, int argc, int a, const char **argv, const size_t *lens, json_t **reply, char *err, size_t errlen,
	      const struct ctl_completion *done);

/* The fleet's /metrics section. */
void fleet_metrics(struct evbuffer *o);

#endif
