/* fanout-control's HTTP requests without libevent: the Host, Origin, token, Content-Type and
 * body-size checks and the route table that turns a request into the argv of a RESP command
 * (ctl_dispatch). http_api.c only moves bytes between libevent and http_route(); the unit tests
 * and fuzz/fuzz_control_http.c drive it with plain strings. */
#ifndef FANOUT_CONTROL_HTTP_ROUTE_H
#define FANOUT_CONTROL_HTTP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ctl_auth.h"
#include "ctl_commands.h"
#include "rollout.h"

#define HTTP_MAX_BODY (1u << 20)        /* POST /api/config: a config text as JSON */
#define HTTP_MAX_SMALL_BODY (64u << 10) /* every other POST */
#define HTTP_MAX_HEADERS (16u << 10)    /* request line + headers */
#define HTTP_MAX_ALLOW_HOSTS 16
/* The most words a route builds: the longest command of ctl_commands.h (ROLLOUT START with STEPS,
 * HOLD, MODE, AUTO and RO_MAX_GATES gates). */
#define HTTP_MAX_ARGV CTL_MAX_ARGC

enum http_method { HTTP_M_GET, HTTP_M_POST, HTTP_M_OTHER };

struct http_policy {
	const char *token; /* NUL-terminated; the Bearer token every route but GET / needs */
	size_t token_len;
	const char *listen_host; /* the host part of --http */
	unsigned port;
	const char *allow_hosts[HTTP_MAX_ALLOW_HOSTS]; /* --http-allow-host: name or name:port */
	unsigned n_allow_hosts;
};

/* One request; header values NULL when absent. */
struct http_request {
	enum http_method method;
	const char *path;  /* "/api/status" (not decoded) */
	const char *query; /* "count=20" or NULL */
	const char *host, *origin, *authorization, *content_type;
	const char *body;
	size_t body_len;
};

enum http_action {
	HTTP_REFUSE,    /* reply status with {"error": error} */
	HTTP_DASHBOARD, /* GET /: the page */
	HTTP_METRICS,   /* GET /metrics */
	HTTP_DISPATCH,  /* ctl_dispatch(argc, argv, lens) */
};

struct http_route {
	enum http_action action;
	int status;               /* HTTP_REFUSE: 400, 401, 403, 404, 405, 413, 415 */
	enum ctl_refusal refusal; /* counted refusals (401, 403, 413, 415); CTL_REFUSED_MAX otherwise */
	char error[1024];         /* a 404 lists every route */
	int argc;
	const char *argv[HTTP_MAX_ARGV]; /* point into the request, the storage below or literals */
	size_t lens[HTTP_MAX_ARGV];
	/* storage */
	json_t *body;
	char steps[RO_MAX_STEPS * 12 + 1], hold[32], num[24];
};

/* One route: method and path ("/api/config/{id}": one more segment, the command's argument), what
 * it does (the page, the metrics, or the command of ctl_commands.h named by cmd, built by build
 * from the query or body), the largest body a POST takes, and what it returns. */
struct http_route_def {
	enum http_method method;
	const char *path;
	enum http_action action;
	void (*build)(struct http_route *o, const struct http_request *r, const struct http_route_def *d,
		      const char *param);
	const char *cmd[2];
	const char *query, *key; /* an optional query parameter passed as "key value" */
	uint32_t max_body;
	const char *returns;
};
extern const struct http_route_def http_routes[];
extern const size_t http_n_routes;
/* "GET /, GET /metrics, ..." into buf (truncated to n); the length it wanted. */
size_t http_route_list(char *buf, size_t n);

/* Fills out (always); call http_route_free(out) after the dispatch. */
void http_route(const struct http_policy *pol, const struct http_request *req, struct http_route *out);
void http_route_free(struct http_route *out);

/* The single checks, for tests. */
bool http_host_allowed(const struct http_policy *pol, const char *host);
bool http_origin_allowed(const struct http_policy *pol, const char *origin);
bool http_bearer_ok(const struct http_policy *pol, const char *authorization);
bool http_is_json(const char *content_type);

#endif
