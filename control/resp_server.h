/* fanout-control's RESP server (fanoutctl, redis-cli): loopback TCP and/or a unix socket,
 * libevent bufferevents, requests parsed by hiredis's reader, one request in flight per client. */
#ifndef FANOUT_CONTROL_RESP_SERVER_H
#define FANOUT_CONTROL_RESP_SERVER_H

#include <event2/event.h>

#define RESP_MAX_PENDING_INPUT (64u << 20) /* a client buffering more without a full request is cut */
#define RESP_MAX_ARGS 64

/* listen: "host:port" or NULL/"" for none; unix_path: NULL for none. -1 with a message on stderr. */
int resp_server_start(struct event_base *base, const char *listen, const char *unix_path);
void resp_server_stop(void);

#endif
