/* The HTTP checks and the route table (see http_route.h). Order: Host and Origin (403), method
 * (405), GET / (the page holds no data: no token), token (401), Content-Type (415), body size
 * (413, the route's limit), then the route (404, or 400 for a body that is not what it takes). */
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

static int n_words(const struct http_route_def *d)
{
	return d->cmd[1] ? 2 : 1;
}

/* The command's words, then the path's {param} when the pattern has one. */
static void b_words(struct http_route *o, const struct http_request *r, const struct http_route_def *d,
		    const char *param)
{
	(void)r;
	words(o, n_words(d) + (param != NULL), (const char *[]){ d->cmd[0], d->cmd[1] ? d->cmd[1] : param, param });
}

/* An optional numeric query parameter turned into "KEY value". */
static void b_query(struct http_route *o, const struct http_request *r, const struct http_route_def *d,
		    const char *param)
{
	bool too_long;
	const char *v = query_param(r->query, d->query, o->num, sizeof(o->num), &too_long);

	(void)param;
	if (too_long) {
		char e[80];
		snprintf(e, sizeof(e), "%s: at most %zu characters", d->query, sizeof(o->num) - 1);
		refuse(o, 400, CTL_REFUSED_MAX, e);
		return;
	}
	words(o, v ? 3 : 1, (const char *[]){ d->cmd[0], d->key, v });
}

static void b_page(struct http_route *o, const struct http_request *r, const struct http_route_def *d,
		   const char *param)
{
	(void)r, (void)param;
	o->action = d->action;
}

static json_t *body_object(struct http_route *o, const struct http_request *r, const char *example)
{
	json_error_t je;
	json_t *j = r->body_len ? json_loadb(r->body, r->body_len, 0, &je) : json_object();

	if (!json_is_object(j)) {
		char e[sizeof(o->error)];
		snprintf(e, sizeof(e), "body: expected a JSON object like %s%s%s", example, j ? "" : "; ",
			 j ? "" : je.text);
		refuse(o, 400, CTL_REFUSED_MAX, e);
		json_decref(j);
		return NULL;
	}
	o->body = j;
	return j;
}

/* {"steps":[1,5],"hold_s":10,"mode":"split","gates":["drop_rate<0.01"],"auto":true} -> ROLLOUT START ...;
 * for FLEET START "order":"fleet"|"each" in place of "auto" (so the longest argv is the same) */
static void b_rollout_start(struct http_route *o, const struct http_request *r, const struct http_route_def *d,
			    const char *param)
{
	static const char ex[] =
		"{\"steps\":[1,5,25,50,100],\"hold_s\":10,\"mode\":\"split\",\"gates\":[\"drop_rate<0.01\"],"
		"\"auto\":true}";
	json_t *j = body_object(o, r, ex), *v;
	size_t i;
	int argc = 2;

	(void)param;
	if (j == NULL)
		return;
	o->argv[0] = d->cmd[0], o->argv[1] = d->cmd[1];
	if ((v = json_object_get(j, "steps")) != NULL) {
		json_t *s;
		if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > RO_MAX_STEPS) {
			refuse(o, 400, CTL_REFUSED_MAX,
			       "steps: expected an array of 1..16 percents, e.g. [1,5,25,50,100]");
			return;
		}
		json_array_foreach(v, i, s)
		{
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
	bool fleet = strcmp(d->cmd[0], "FLEET") == 0; /* FLEET START: ORDER instead of AUTO */
	if (fleet && json_object_get(j, "auto") != NULL) {
		refuse(o, 400, CTL_REFUSED_MAX,
		       "auto: a fleet rollout runs every member with AUTO no and moves them on itself; use \"order\"");
		return;
	}
	if (fleet && (v = json_object_get(j, "order")) != NULL)
		o->argv[argc++] = "ORDER", o->argv[argc++] = json_is_string(v) ? json_string_value(v) : "?";
	if (!fleet && (v = json_object_get(j, "auto")) != NULL)
		o->argv[argc++] = "AUTO",
		o->argv[argc++] = json_is_true(v) || (json_is_string(v) && !strcmp(json_string_value(v), "yes")) ? "yes"
														 : "no";
	if ((v = json_object_get(j, "gates")) != NULL) {
		json_t *g;
		if (!json_is_array(v) || json_array_size(v) > RO_MAX_GATES) {
			refuse(o, 400, CTL_REFUSED_MAX,
			       "gates: expected an array of at most 8 strings like \"drop_rate<0.01\"");
			return;
		}
		json_array_foreach(v, i, g) o->argv[argc++] = "GATE",
					    o->argv[argc++] = json_is_string(g) ? json_string_value(g) : "?";
	}
	_Static_assert(2 + 2 * 4 + 2 * RO_MAX_GATES <= HTTP_MAX_ARGV, "argv holds the longest ROLLOUT START");
	o->action = HTTP_DISPATCH;
	o->argc = argc;
	for (int k = 0; k < argc; k++)
		o->lens[k] = strlen(o->argv[k]);
}

/* {"prefix":"198.18.0.0/24"} -> BLOCK ADD|DEL <prefix>; {"pps":1000,"burst":50} -> LIMIT SET <pps> [burst] */
static void b_xdp(struct http_route *o, const struct http_request *r, const struct http_route_def *d, const char *param)
{
	bool limit = !strcmp(d->cmd[0], "LIMIT");
	json_t *j = body_object(o, r, limit ? "{\"pps\":1000,\"burst\":50}" : "{\"prefix\":\"198.18.0.0/24\"}");
	json_t *v, *b;
	int argc = 3;

	(void)param;
	if (j == NULL)
		return;
	o->argv[0] = d->cmd[0], o->argv[1] = d->cmd[1];
	if (!limit) {
		v = json_object_get(j, "prefix");
		if (!json_is_string(v)) {
			refuse(o, 400, CTL_REFUSED_MAX,
			       "body: \"prefix\" must hold an address or prefix, e.g. \"198.18.0.0/24\"");
			return;
		}
		o->argv[2] = json_string_value(v);
	} else {
		v = json_object_get(j, "pps");
		b = json_object_get(j, "burst");
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    (b && (!json_is_integer(b) || json_integer_value(b) < 0))) {
			refuse(o, 400, CTL_REFUSED_MAX,
			       "body: \"pps\" (and \"burst\") must be integers >= 0, e.g. {\"pps\":1000}");
			return;
		}
		snprintf(o->num, sizeof(o->num), "%lld", (long long)json_integer_value(v));
		o->argv[2] = o->num;
		if (b) {
			snprintf(o->hold, sizeof(o->hold), "%lld", (long long)json_integer_value(b));
			o->argv[argc++] = o->hold;
		}
	}
	o->action = HTTP_DISPATCH;
	o->argc = argc;
	for (int k = 0; k < argc; k++)
		o->lens[k] = strlen(o->argv[k]);
}

/* {"yaml":"...","now":false} -> CONFIG APPLY <yaml> [NOW] | CONFIG DIFF <yaml> */
static void b_config(struct http_route *o, const struct http_request *r, const struct http_route_def *d,
		     const char *param)
{
	bool diff = !strcmp(d->cmd[1], "DIFF");
	json_t *j = body_object(o, r, "{\"yaml\":\"<the config text>\",\"now\":false}"), *y, *n;
	bool too_long;
	const char *qnow = query_param(r->query, "now", o->num, sizeof(o->num), &too_long);

	(void)param;
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
	o->argv[0] = d->cmd[0], o->lens[0] = strlen(d->cmd[0]);
	o->argv[1] = d->cmd[1], o->lens[1] = strlen(d->cmd[1]);
	o->argv[2] = json_string_value(y), o->lens[2] = json_string_length(y);
	o->argv[3] = "NOW", o->lens[3] = 3;
	o->argc = !diff && now ? 4 : 3;
}

#define SMALL HTTP_MAX_SMALL_BODY
/* Every route. GETs take no body; a POST's body is JSON of at most max_body bytes. The command
 * words name an entry of ctl_commands.h (the unit tests check each one is there). */
const struct http_route_def http_routes[] = {
	{ HTTP_M_GET, "/", HTTP_DASHBOARD, b_page, { NULL, NULL }, NULL, NULL, 0, "the dashboard (HTML; no token)" },
	{ HTTP_M_GET, "/metrics", HTTP_METRICS, b_page, { NULL, NULL }, NULL, NULL, 0, "Prometheus text" },
	{ HTTP_M_GET, "/api/status", HTTP_DISPATCH, b_words, { "STATUS", NULL }, NULL, NULL, 0, "STATUS" },
	{ HTTP_M_GET, "/api/stats", HTTP_DISPATCH, b_words, { "STATS", NULL }, NULL, NULL, 0, "STATS" },
	{ HTTP_M_GET, "/api/outputs", HTTP_DISPATCH, b_words, { "OUTPUTS", NULL }, NULL, NULL, 0, "OUTPUTS" },
	{ HTTP_M_GET,
	  "/api/generations",
	  HTTP_DISPATCH,
	  b_words,
	  { "GENERATIONS", NULL },
	  NULL,
	  NULL,
	  0,
	  "GENERATIONS" },
	{ HTTP_M_GET,
	  "/api/rollout",
	  HTTP_DISPATCH,
	  b_words,
	  { "ROLLOUT", "STATUS" },
	  NULL,
	  NULL,
	  0,
	  "ROLLOUT STATUS" },
	{ HTTP_M_GET,
	  "/api/history",
	  HTTP_DISPATCH,
	  b_query,
	  { "HISTORY", NULL },
	  "count",
	  "COUNT",
	  0,
	  "HISTORY [COUNT count]" },
	{ HTTP_M_GET, "/api/schema", HTTP_DISPATCH, b_words, { "SCHEMA", NULL }, NULL, NULL, 0, "SCHEMA" },
	{ HTTP_M_GET,
	  "/api/series",
	  HTTP_DISPATCH,
	  b_query,
	  { "SERIES", NULL },
	  "since",
	  "SINCE",
	  0,
	  "SERIES [SINCE since]" },
	{ HTTP_M_GET,
	  "/api/sessions",
	  HTTP_DISPATCH,
	  b_query,
	  { "SESSIONS", NULL },
	  "count",
	  "COUNT",
	  0,
	  "SESSIONS [COUNT count]" },
	{ HTTP_M_GET,
	  "/api/topics",
	  HTTP_DISPATCH,
	  b_query,
	  { "TOPICS", NULL },
	  "count",
	  "COUNT",
	  0,
	  "TOPICS [COUNT count]" },
	{ HTTP_M_GET,
	  "/api/subscriptions",
	  HTTP_DISPATCH,
	  b_query,
	  { "SUBSCRIPTIONS", NULL },
	  "count",
	  "COUNT",
	  0,
	  "SUBSCRIPTIONS [COUNT count]" },
	{ HTTP_M_GET, "/api/routes", HTTP_DISPATCH, b_words, { "ROUTES", NULL }, NULL, NULL, 0, "ROUTES" },
	{ HTTP_M_GET, "/api/config", HTTP_DISPATCH, b_words, { "CONFIG", "HISTORY" }, NULL, NULL, 0, "CONFIG HISTORY" },
	{ HTTP_M_GET,
	  "/api/config/{id}",
	  HTTP_DISPATCH,
	  b_words,
	  { "CONFIG", "SHOW" },
	  NULL,
	  NULL,
	  0,
	  "CONFIG SHOW id" },
	{ HTTP_M_POST,
	  "/api/config",
	  HTTP_DISPATCH,
	  b_config,
	  { "CONFIG", "APPLY" },
	  NULL,
	  NULL,
	  HTTP_MAX_BODY,
	  "CONFIG APPLY; body {\"yaml\":\"...\",\"now\":false} (or ?now=1)" },
	{ HTTP_M_POST,
	  "/api/config/diff",
	  HTTP_DISPATCH,
	  b_config,
	  { "CONFIG", "DIFF" },
	  NULL,
	  NULL,
	  HTTP_MAX_BODY,
	  "CONFIG DIFF; body {\"yaml\":\"...\"}" },
	{ HTTP_M_GET, "/api/fleet", HTTP_DISPATCH, b_words, { "FLEET", "STATUS" }, NULL, NULL, 0, "FLEET STATUS" },
	{ HTTP_M_GET, "/api/fleet/stats", HTTP_DISPATCH, b_words, { "FLEET", "STATS" }, NULL, NULL, 0, "FLEET STATS" },
	{ HTTP_M_GET,
	  "/api/fleet/rollout",
	  HTTP_DISPATCH,
	  b_words,
	  { "FLEET", "ROLLOUT" },
	  NULL,
	  NULL,
	  0,
	  "FLEET ROLLOUT" },
	{ HTTP_M_POST,
	  "/api/fleet/rollout/start",
	  HTTP_DISPATCH,
	  b_rollout_start,
	  { "FLEET", "START" },
	  NULL,
	  NULL,
	  SMALL,
	  "FLEET START; body "
	  "{\"order\":\"fleet\"|\"each\",\"steps\":[..],\"hold_s\":N,\"mode\":\"..\",\"gates\":[..]}" },
	{ HTTP_M_POST,
	  "/api/fleet/rollout/abort",
	  HTTP_DISPATCH,
	  b_words,
	  { "FLEET", "ABORT" },
	  NULL,
	  NULL,
	  SMALL,
	  "FLEET ABORT" },
	{ HTTP_M_POST,
	  "/api/fleet/rollout/rollback",
	  HTTP_DISPATCH,
	  b_words,
	  { "FLEET", "ROLLBACK" },
	  NULL,
	  NULL,
	  SMALL,
	  "FLEET ROLLBACK" },
	{ HTTP_M_POST,
	  "/api/rollout/start",
	  HTTP_DISPATCH,
	  b_rollout_start,
	  { "ROLLOUT", "START" },
	  NULL,
	  NULL,
	  SMALL,
	  "ROLLOUT START; body {\"steps\":[..],\"hold_s\":N,\"mode\":\"..\",\"gates\":[..],\"auto\":bool}" },
	{ HTTP_M_POST,
	  "/api/rollout/pause",
	  HTTP_DISPATCH,
	  b_words,
	  { "ROLLOUT", "PAUSE" },
	  NULL,
	  NULL,
	  SMALL,
	  "ROLLOUT PAUSE" },
	{ HTTP_M_POST,
	  "/api/rollout/resume",
	  HTTP_DISPATCH,
	  b_words,
	  { "ROLLOUT", "RESUME" },
	  NULL,
	  NULL,
	  SMALL,
	  "ROLLOUT RESUME" },
	{ HTTP_M_POST,
	  "/api/rollout/promote",
	  HTTP_DISPATCH,
	  b_words,
	  { "ROLLOUT", "PROMOTE" },
	  NULL,
	  NULL,
	  SMALL,
	  "ROLLOUT PROMOTE" },
	{ HTTP_M_POST,
	  "/api/rollout/abort",
	  HTTP_DISPATCH,
	  b_words,
	  { "ROLLOUT", "ABORT" },
	  NULL,
	  NULL,
	  SMALL,
	  "ROLLOUT ABORT" },
	{ HTTP_M_POST,
	  "/api/rollout/rollback",
	  HTTP_DISPATCH,
	  b_words,
	  { "ROLLOUT", "ROLLBACK" },
	  NULL,
	  NULL,
	  SMALL,
	  "ROLLOUT ROLLBACK" },
	{ HTTP_M_GET, "/api/xdp", HTTP_DISPATCH, b_words, { "XDP", NULL }, NULL, NULL, 0, "XDP" },
	{ HTTP_M_GET, "/api/xdp/block", HTTP_DISPATCH, b_words, { "BLOCK", "LIST" }, NULL, NULL, 0, "BLOCK LIST" },
	{ HTTP_M_POST,
	  "/api/xdp/block/add",
	  HTTP_DISPATCH,
	  b_xdp,
	  { "BLOCK", "ADD" },
	  NULL,
	  NULL,
	  SMALL,
	  "BLOCK ADD; body {\"prefix\":\"198.18.0.0/24\"}" },
	{ HTTP_M_POST,
	  "/api/xdp/block/del",
	  HTTP_DISPATCH,
	  b_xdp,
	  { "BLOCK", "DEL" },
	  NULL,
	  NULL,
	  SMALL,
	  "BLOCK DEL; body {\"prefix\":\"198.18.0.0/24\"}" },
	{ HTTP_M_POST,
	  "/api/xdp/limit",
	  HTTP_DISPATCH,
	  b_xdp,
	  { "LIMIT", "SET" },
	  NULL,
	  NULL,
	  SMALL,
	  "LIMIT SET; body {\"pps\":1000,\"burst\":50} (pps 0: no limit)" },
};
const size_t http_n_routes = sizeof(http_routes) / sizeof(http_routes[0]);

/* The route for method and path; *param points at the {param} segment when the pattern has one. */
static const struct http_route_def *find_route(enum http_method m, const char *p, const char **param)
{
	*param = NULL;
	for (size_t i = 0; i < http_n_routes; i++) {
		const struct http_route_def *d = &http_routes[i];
		const char *brace = strchr(d->path, '{');
		if (d->method != m)
			continue;
		if (brace == NULL && !strcmp(p, d->path))
			return d;
		size_t pl = brace ? (size_t)(brace - d->path) : 0;
		if (brace != NULL && !strncmp(p, d->path, pl) && p[pl] != '\0') {
			*param = p + pl;
			return d;
		}
	}
	return NULL;
}

size_t http_route_list(char *buf, size_t n)
{
	size_t at = 0;

	if (n)
		buf[0] = '\0';
	for (size_t i = 0; i < http_n_routes && at < n; i++) {
		int k = snprintf(buf + at, n - at, "%s%s %s", i ? ", " : "",
				 http_routes[i].method == HTTP_M_GET ? "GET" : "POST", http_routes[i].path);
		at += k > 0 ? (size_t)k : 0;
	}
	return at;
}

static void no_route(struct http_route *o)
{
	static const char head[] = "no such route; routes (docs/control.md): ";

	refuse(o, 404, CTL_REFUSED_MAX, head);
	http_route_list(o->error + sizeof(head) - 1, sizeof(o->error) - (sizeof(head) - 1));
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
		refuse(o, 403, CTL_REFUSED_HTTP_ORIGIN,
		       "cross-origin requests are refused (Origin is not an allowed host)");
		return;
	}
	if (r->method == HTTP_M_OTHER) {
		refuse(o, 405, CTL_REFUSED_MAX, "use GET or POST");
		return;
	}
	const char *p = r->path ? r->path : "/", *param;
	const struct http_route_def *d = find_route(r->method, p, &param);
	if (d != NULL && d->action == HTTP_DASHBOARD) { /* the page holds no data: no token */
		o->action = HTTP_DASHBOARD;
		return;
	}
	if (!http_bearer_ok(pol, r->authorization)) {
		refuse(o, 401, CTL_REFUSED_HTTP_AUTH,
		       "send Authorization: Bearer <token> (the token is in fanout-control's STATE_DIR/" CTL_TOKEN_FILE
		       "; `fanoutctl dashboard` prints the dashboard's URL with it)");
		return;
	}
	if (r->method == HTTP_M_POST) {
		uint32_t max = d ? d->max_body : HTTP_MAX_SMALL_BODY;
		if (!http_is_json(r->content_type)) {
			refuse(o, 415, CTL_REFUSED_HTTP_CONTENT_TYPE,
			       "POST bodies must be Content-Type: application/json");
			return;
		}
		if (r->body_len > max) {
			refuse(o, 413, CTL_REFUSED_HTTP_BODY_SIZE,
			       max == HTTP_MAX_BODY ? "body above 1 MiB" : "body above 64 KiB");
			return;
		}
	}
	if (d == NULL) {
		no_route(o);
		return;
	}
	d->build(o, r, d, param);
}

void http_route_free(struct http_route *o)
{
	json_decref(o->body);
	o->body = NULL;
}
