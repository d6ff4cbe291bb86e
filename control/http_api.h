/* fanout-control's HTTP side on loopback: the /api/... routes mapped onto the same dispatcher as
 * RESP, GET /metrics (Prometheus) and GET / (the dashboard, embedded at build time). */
#ifndef FANOUT_CONTROL_HTTP_API_H
#define FANOUT_CONTROL_HTTP_API_H

#include <event2/event.h>

#define HTTP_MAX_BODY (64u << 20)

int http_api_start(struct event_base *base, const char *listen);
void http_api_stop(void);

#endif
