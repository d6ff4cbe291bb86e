/* fanout-control's RESP server (fanoutctl, redis-cli): loopback TCP and/or a unix socket,
 * libevent bufferevents, requests parsed and gated by resp_conn.c (bounds before buffering,
 * AUTH with the token), one request in flight per client. */
#ifndef FANOUT_CONTROL_RESP_SERVER_H
#define FANOUT_CONTROL_RESP_SERVER_H

#include <event2/event.h>

/* listen: "host:port" or NULL/"" for none; unix_path: NULL for none; token: what AUTH must give
 * (kept by the caller). -1 with a message on stderr. */
int resp_server_start(struct event_base *base, const char *listen, const char *unix_path, const char *token);
void resp_server_stop(void);

#endif
