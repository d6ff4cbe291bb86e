/* The HTTP checks and routes (see http_route.h). Order: Host and Origin (403), method (405),
 * GET / (the page holds no data: no token), token (401), Content-Type (415), body size (413),
 * then the route (404, or 400 for a body that is not what the route takes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_route.h"

static void refuse(struct http_route *o, int status, enum ctl_refusal why, const char *msg)
{
	o->action = HTTP_REFUSE;
	o->status = status;
	o->refusal = why;
	snprintf(o->error, sizeof(o->error), "%s", msg);
}

/* host equals name, or name:port (ASCII case-insensitive). */
static bool host_is(const char *host, const char *name, unsigned port)
{
	size_t nl = strlen(name);
	char p[8];

	if (nl == 0 || strncasecmp(host, name, nl) != 0)
		return false;
	if (host[nl] == '\0')
		return true;
	snprintf(p, sizeof(p), ":%u", port);
	return strcmp(host + nl, p) == 0;
}

bool http_host_allowed(const struct http_policy *pol, const char *host)
{
	static const char *const local[] = { "localhost", "127.0.0.1", "[::1]" };

	if (host == NULL || *host == '\0')
		return false;
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		if (host_is(host, local[i], pol->port))
			return true;
	if (pol->listen_host && host_is(host, pol->listen_host, pol->port))
		return true;
	for (unsigned i = 0; i < pol->n_allow_hosts && i < HTTP_MAX_ALLOW_HOSTS; i++)
		if (pol->allow_hosts[i] && host_is(host, pol->allow_hosts[i], pol->port))
			return true;
	return false;
}

bool http_origin_allowed(const struct http_policy *pol, const char *origin)
{
	const char *hp;

	if (origin == NULL)
		return true; /* not a browser's cross-site request (curl, Prometheus, fanoutctl) */
	if (!strncasecmp(origin, "http://", 7))
		hp = origin + 7;
	else if (!strncasecmp(origin, "https://", 8))
		hp = origin + 8;
	else
		return false; /* "null" (sandboxed frames, file:) and anything else */
	if (strchr(hp, '/') != NULL)
		return false;
	return http_host_allowed(pol, hp);
}

bool http_bearer_ok(const struct http_policy *pol, const char *a)
{
	if (a == NULL || pol->token == NULL || strncasecmp(a, "Bearer ", 7) != 0)
		return false;
	a += 7;
	while (*a == ' ')
		a++;
	size_t n = strlen(a);
	while (n > 0 && (a[n - 1] == ' ' || a[n - 1] == '\t'))
		n--;
	return ctl_token_eq(pol->token, pol->token_len, a, n);
}

bool http_is_json(const char *ct)
{
	if (ct == NULL)
		return false;
	while (*ct == ' ')
		ct++;
	if (strncasecmp(ct, "application/json", 16) != 0)
		return false;
	ct += 16;
	while (*ct == ' ')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* The value of key in "a=1&b=2" copied into buf; NULL when absent, "" when empty. */
static const char *query_param(const char *q, const char *key, char *buf, size_t n, bool *too_long)
{
	size_t kl = strlen(key);

	*too_long = false;
	while (q && *q) {
		const char *amp = strchr(q, '&');
		size_t len = amp ? (size_t)(amp - q) : strlen(q);
		if (len > kl && q[kl] == '=' && !strncmp(q, key, kl)) {
			size_t vl = len - kl - 1;
			if (vl >= n) {
				*too_long = true;
				return NULL;
			}
			memcpy(buf, q + kl + 1, vl);
			buf[vl] = '\0';
			return buf;
		}
		q = amp ? amp + 1 : NULL;
	}
	return NULL;
}

static void words(struct http_route *o, int argc, const char *const *argv)
{
	o->action = HTTP_DISPATCH;
	o->argc = argc;
	for (int i = 0; i < argc; i++) {
		o->argv[i] = argv[i];
		o->lens[i] = strlen(argv[i]);
	}
}

/* GET with an optional numeric query parameter turned into "KEY value". */
static void get_with(struct http_route *o, const char *q, const char *cmd, const char *param, const char *key)
{
	bool too_long;
	const char *v = query_param(q, param, o->num, sizeof(o->num), &too_long);

	if (too_long) {
		char e[80];
		snprintf(e, sizeof(e), "%s: at most %zu characters", param, sizeof(o->num) - 1);
		refuse(o, 400, CTL_REFUSED_MAX, e);
		return;
	}
	words(o, v ? 3 : 1, (const char *[]){ cmd, key, v });
}

static json_t *body_object(struct http_route *o, const struct http_request *r, const char *example)
{
	json_error_t je;
	json_t *j = r->body_len ? json_loadb(r->body, r->body_len, 0, &je) : json_object();

	if (!json_is_object(j)) {
		char e[sizeof(o->error)];
		snprintf(e, sizeof(e), "body: expected a JSON object like %s%s%s", example, j ? "" : "; ", j ? "" : je.text);
		refuse(o, 400, CTL_REFUSED_MAX, e);
		json_decref(j);
		return NULL;
	}
	o->body = j;
	return j;
}

/* {"steps":[1,5],"hold_s":10,"mode":"split","gates":["drop_rate<0.01"],"auto":true} -> ROLLOUT START ... */
static void rollout_start(struct http_route *o, const struct http_request *r)
{
	static const char ex[] = "{\"steps\":[1,5,25,50,100],\"hold_s\":10,\"mode\":\"split\",\"gates\":[\"drop_rate<0.01\"],"
				 "\"auto\":true}";
	json_t *j = body_object(o, r, ex), *v;
	size_t i;
	int argc = 2;

	if (j == NULL)
		return;
	o->argv[0] = "ROLLOUT", o->argv[1] = "START";
	if ((v = json_object_get(j, "steps")) != NULL) {
		json_t *s;
		if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > RO_MAX_STEPS) {
			refuse(o, 400, CTL_REFUSED_MAX, "steps: expected an array of 1..16 percents, e.g. [1,5,25,50,100]");
			return;
		}
		json_array_foreach(v, i, s) {
			size_t at = strlen(o->steps);
			double p = json_number_value(s);
			if (!json_is_number(s) || !(p > 0 && p <= 100)) {
				refuse(o, 400, CTL_REFUSED_MAX, "steps: each step is a number of percent in (0, 100]");
				return;
			}
			snprintf(o->steps + at, sizeof(o->steps) - at, "%s%.2f", i ? "," : "", p);
		}
		o->argv[argc++] = "STEPS", o->argv[argc++] = o->steps;
	}
	if ((v = json_object_get(j, "hold_s")) != NULL) {
		double h = json_number_value(v);
		if (!json_is_number(v) || !(h >= 0 && h <= 86400.0 * 365)) {
			refuse(o, 400, CTL_REFUSED_MAX, "hold_s: expected seconds, e.g. 10");
			return;
		}
		snprintf(o->hold, sizeof(o->hold), "%.3fs", h);
		o->argv[argc++] = "HOLD", o->argv[argc++] = o->hold;
	}
	if ((v = json_object_get(j, "mode")) != NULL)
		o->argv[argc++] = "MODE", o->argv[argc++] = json_is_string(v) ? json_string_value(v) : "?";
	if ((v = json_object_get(j, "auto")) != NULL)
		o->argv[argc++] = "AUTO",
		o->argv[argc++] = json_is_true(v) || (json_is_string(v) && !strcmp(json_string_value(v), "yes")) ? "yes" : "no";
	if ((v = json_object_get(j, "gates")) != NULL) {
		json_t *g;
		if (!json_is_array(v) || json_array_size(v) > RO_MAX_GATES) {
			refuse(o, 400, CTL_REFUSED_MAX, "gates: expected an array of at most 8 strings like \"drop_rate<0.01\"");
			return;
		}
		json_array_foreach(v, i, g)
			o->argv[argc++] = "GATE", o->argv[argc++] = json_is_string(g) ? json_string_value(g) : "?";
	}
	_Static_assert(2 + 2 * 4 + 2 * RO_MAX_GATES <= HTTP_MAX_ARGV, "argv holds the longest ROLLOUT START");
	o->action = HTTP_DISPATCH;
	o->argc = argc;
	for (int k = 0; k < argc; k++)
		o->lens[k] = strlen(o->argv[k]);
}

/* {"yaml":"...","now":false} -> CONFIG APPLY <yaml> [NOW] | CONFIG DIFF <yaml> */
static void config_post(struct http_route *o, const struct http_request *r, bool diff)
{
	json_t *j = body_object(o, r, "{\"yaml\":\"<the config text>\",\"now\":false}"), *y, *n;
	bool too_long;
	const char *qnow = query_param(r->query, "now", o->num, sizeof(o->num), &too_long);

	if (j == NULL)
		return;
	y = json_object_get(j, "yaml");
	if (!json_is_string(y) || json_string_length(y) == 0) {
		refuse(o, 400, CTL_REFUSED_MAX, "body: \"yaml\" must hold the config text, e.g. {\"yaml\":\"...\"}");
		return;
	}
	n = json_object_get(j, "now");
	bool now = json_is_true(n) || (qnow && strcmp(qnow, "0") != 0);
	o->action = HTTP_DISPATCH;
	o->argv[0] = "CONFIG", o->lens[0] = 6;
	o->argv[1] = diff ? "DIFF" : "APPLY", o->lens[1] = strlen(o->argv[1]);
	o->argv[2] = json_string_value(y), o->lens[2] = json_string_length(y);
	o->argv[3] = "NOW", o->lens[3] = 3;
	o->argc = !diff && now ? 4 : 3;
}

static void route_get(struct http_route *o, const struct http_request *r)
{
	const char *p = r->path;

	if (!strcmp(p, "/metrics"))
		o->action = HTTP_METRICS;
	else if (!strcmp(p, "/api/status"))
		words(o, 1, (const char *[]){ "STATUS" });
	else if (!strcmp(p, "/api/stats"))
		words(o, 1, (const char *[]){ "STATS" });
	else if (!strcmp(p, "/api/outputs"))
		words(o, 1, (const char *[]){ "OUTPUTS" });
	else if (!strcmp(p, "/api/generations"))
		words(o, 1, (const char *[]){ "GENERATIONS" });
	else if (!strcmp(p, "/api/rollout"))
		words(o, 2, (const char *[]){ "ROLLOUT", "STATUS" });
	else if (!strcmp(p, "/api/history"))
		get_with(o, r->query, "HISTORY", "count", "COUNT");
	else if (!strcmp(p, "/api/schema"))
		words(o, 1, (const char *[]){ "SCHEMA" });
	else if (!strcmp(p, "/api/series"))
		get_with(o, r->query, "SERIES", "since", "SINCE");
	else if (!strcmp(p, "/api/sessions"))
		get_with(o, r->query, "SESSIONS", "count", "COUNT");
	else if (!strcmp(p, "/api/topics"))
		get_with(o, r->query, "TOPICS", "count", "COUNT");
	else if (!strcmp(p, "/api/subscriptions"))
		get_with(o, r->query, "SUBSCRIPTIONS", "count", "COUNT");
	else if (!strcmp(p, "/api/routes"))
		words(o, 1, (const char *[]){ "ROUTES" });
	else if (!strcmp(p, "/api/config"))
		words(o, 2, (const char *[]){ "CONFIG", "HISTORY" });
	else if (!strncmp(p, "/api/config/", 12) && p[12])
		words(o, 3, (const char *[]){ "CONFIG", "SHOW", p + 12 });
	else
		refuse(o, 404, CTL_REFUSED_MAX,
		       "no such route; see docs/control.md (GET /api/status, /api/stats, /api/outputs, /api/generations, "
		       "/api/rollout, /api/history, /api/series, /api/schema, /api/sessions, /metrics, /)");
}

static bool is_rollout_verb(const char *v)
{
	return !strcmp(v, "pause") || !strcmp(v, "resume") || !strcmp(v, "promote") || !strcmp(v, "abort") ||
	       !strcmp(v, "rollback");
}

void http_route(const struct http_policy *pol, const struct http_request *r, struct http_route *o)
{
	memset(o, 0, sizeof(*o));
	o->refusal = CTL_REFUSED_MAX;
	if (!http_host_allowed(pol, r->host)) {
		refuse(o, 403, CTL_REFUSED_HTTP_HOST,
		       "Host is not this server's address; use http://127.0.0.1:PORT/ or allow the name with "
		       "fanout-control --http-allow-host NAME");
		return;
	}
	if (!http_origin_allowed(pol, r->origin)) {
		refuse(o, 403, CTL_REFUSED_HTTP_ORIGIN, "cross-origin requests are refused (Origin is not an allowed host)");
		return;
	}
	if (r->method == HTTP_M_OTHER) {
		refuse(o, 405, CTL_REFUSED_MAX, "use GET or POST");
		return;
	}
	const char *p = r->path ? r->path : "/";
	if (r->method == HTTP_M_GET && !strcmp(p, "/")) {
		o->action = HTTP_DASHBOARD;
		return;
	}
	if (!http_bearer_ok(pol, r->authorization)) {
		refuse(o, 401, CTL_REFUSED_HTTP_AUTH,
		       "send Authorization: Bearer <token> (the token is in fanout-control's STATE_DIR/" CTL_TOKEN_FILE
		       "; `fanoutctl dashboard` prints the dashboard's URL with it)");
		return;
	}
	if (r->method == HTTP_M_GET) {
		struct http_request g = *r;
		g.path = p;
		route_get(o, &g);
		return;
	}
	if (!http_is_json(r->content_type)) {
		refuse(o, 415, CTL_REFUSED_HTTP_CONTENT_TYPE, "POST bodies must be Content-Type: application/json");
		return;
	}
	bool cfg = !strcmp(p, "/api/config") || !strcmp(p, "/api/config/diff");
	if (r->body_len > (cfg ? HTTP_MAX_BODY : HTTP_MAX_SMALL_BODY)) {
		refuse(o, 413, CTL_REFUSED_HTTP_BODY_SIZE, cfg ? "body above 1 MiB" : "body above 64 KiB");
		return;
	}
	if (cfg) {
		config_post(o, r, p[11] == '/');
		return;
	}
	if (!strcmp(p, "/api/rollout/start")) {
		rollout_start(o, r);
		return;
	}
	if (!strncmp(p, "/api/rollout/", 13) && is_rollout_verb(p + 13)) {
		words(o, 2, (const char *[]){ "ROLLOUT", p + 13 });
		return;
	}
	refuse(o, 404, CTL_REFUSED_MAX, "no such route; POST /api/config, /api/config/diff, "
					"/api/rollout/{start,pause,resume,promote,abort,rollback}");
}

void http_route_free(struct http_route *o)
{
	json_decref(o->body);
	o->body = NULL;
}
