/* fanout-control's HTTP side on loopback: the /api/... routes mapped onto the same dispatcher as
 * RESP, GET /metrics (Prometheus) and GET / (the dashboard, embedded at build time). Every request
 * goes through http_route() (Host, Origin, token, Content-Type, body size, route). */
#ifndef FANOUT_CONTROL_HTTP_API_H
#define FANOUT_CONTROL_HTTP_API_H

#include <event2/event.h>

/* token: the Bearer token; allow_hosts: --http-allow-host names (n of them). */
int http_api_start(struct event_base *base, const char *listen, const char *token, const char *const *allow_hosts,
		   unsigned n_allow_hosts);
void http_api_stop(void);

#endif
