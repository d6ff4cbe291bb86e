/* The HTTP API (see http_api.h). Each route builds the argv of a RESP command and calls
 * ctl_dispatch, so both front ends behave the same; refusals are 400, an unreachable dataplane 503. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <sys/queue.h>

#include <event2/keyvalq_struct.h>

#include "app.h"
#include "commands.h"
#include "dashboard_html.h"
#include "http_api.h"
#include "metrics.h"

static struct evhttp *http;

struct pending {
	struct evhttp_request *req;
	bool dead; /* the connection closed before the dataplane answered */
};

static void send_json(struct evhttp_request *req, int code, json_t *j)
{
	struct evbuffer *b = evbuffer_new();
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	if (s != NULL) {
		evbuffer_add(b, s, strlen(s));
		evbuffer_add(b, "\n", 1);
	}
	free(s);
	evhttp_send_reply(req, code, code == 200 ? "OK" : code == 400 ? "Bad Request" : code == 404 ? "Not Found"
						: code == 405 ? "Method Not Allowed" : "Service Unavailable", b);
	evbuffer_free(b);
}

static void send_error(struct evhttp_request *req, int code, const char *err)
{
	json_t *j = json_pack("{s:s}", "error", err);

	send_json(req, code, j);
	json_decref(j);
}

static void send_result(struct evhttp_request *req, json_t *reply, const char *err)
{
	if (err != NULL)
		send_error(req, ctl_err_is_dp_down(err) ? 503 : 400, err);
	else
		send_json(req, 200, reply);
}

static void on_conn_close(struct evhttp_connection *conn, void *arg)
{
	struct pending *p = arg;
	(void)conn;

	p->dead = true;
}

static void on_done(void *ctx, json_t *reply, const char *err)
{
	struct pending *p = ctx;

	if (!p->dead) {
		evhttp_connection_set_closecb(evhttp_request_get_connection(p->req), NULL, NULL);
		send_result(p->req, reply, err);
	}
	json_decref(reply);
	free(p);
}

static void dispatch(struct evhttp_request *req, int argc, const char **argv, const size_t *lens)
{
	char err[CTL_ERR_MAX];
	json_t *reply = NULL;
	struct pending *p = calloc(1, sizeof(*p));
	struct ctl_completion done = { on_done, p };

	if (p == NULL) {
		send_error(req, 503, "out of memory");
		return;
	}
	p->req = req;
	int rc = ctl_dispatch(argc, argv, lens, &reply, err, sizeof(err), &done);
	if (rc == CTL_PENDING) {
		evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_conn_close, p);
		return;
	}
	free(p);
	send_result(req, reply, rc == CTL_ERR ? err : NULL);
	json_decref(reply);
}

/* The most words a route builds: ROLLOUT START with STEPS, HOLD, MODE, AUTO and RO_MAX_GATES gates. */
#define HTTP_MAX_WORDS (2 + 2 * (4 + RO_MAX_GATES))

static void dispatch_words(struct evhttp_request *req, int argc, const char **argv)
{
	size_t lens[HTTP_MAX_WORDS];

	if (argc < 0 || argc > HTTP_MAX_WORDS) {
		send_error(req, 400, "too many arguments");
		return;
	}
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	dispatch(req, argc, argv, lens);
}

/* GET with an optional numeric query parameter turned into "KEY value". */
static void get_with(struct evhttp_request *req, const char *cmd, const char *param, const char *key,
		     struct evkeyvalq *q)
{
	const char *v = evhttp_find_header(q, param);
	const char *argv[3] = { cmd, key, v };

	dispatch_words(req, v ? 3 : 1, argv);
}

static char *body_of(struct evhttp_request *req, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	char *s = malloc(n + 1);

	if (s == NULL)
		return NULL;
	evbuffer_copyout(in, s, n);
	s[n] = '\0';
	*len = n;
	return s;
}

/* {"steps":[1,5],"hold_s":10,"mode":"split","gates":["drop_rate<0.01"],"auto":true} -> ROLLOUT START ... */
static void rollout_start(struct evhttp_request *req)
{
	size_t len;
	char *body = body_of(req, &len);
	json_error_t je;
	json_t *j = body && len ? json_loadb(body, len, 0, &je) : json_object();
	const char *argv[HTTP_MAX_WORDS];
	char steps[RO_MAX_STEPS * 12 + 1] = "", hold[32];
	int argc = 2;
	json_t *v;
	size_t i;

	free(body);
	if (!json_is_object(j)) {
		char e[300];
		snprintf(e, sizeof(e), "body: expected a JSON object like {\"steps\":[1,5,25,50,100],\"hold_s\":10,"
				       "\"mode\":\"split\",\"gates\":[\"drop_rate<0.01\"],\"auto\":true}%s%s",
			 j ? "" : "; ", j ? "" : je.text);
		send_error(req, 400, e);
		json_decref(j);
		return;
	}
	argv[0] = "ROLLOUT", argv[1] = "START";
	if ((v = json_object_get(j, "steps")) != NULL) {
		if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > RO_MAX_STEPS) {
			send_error(req, 400, "steps: expected an array of 1..16 percents, e.g. [1,5,25,50,100]");
			json_decref(j);
			return;
		}
		json_t *s;
		json_array_foreach(v, i, s) {
			size_t at = strlen(steps);
			snprintf(steps + at, sizeof(steps) - at, "%s%.2f", i ? "," : "", json_number_value(s));
		}
		argv[argc++] = "STEPS", argv[argc++] = steps;
	}
	if ((v = json_object_get(j, "hold_s")) != NULL) {
		snprintf(hold, sizeof(hold), "%.3fs", json_number_value(v));
		argv[argc++] = "HOLD", argv[argc++] = hold;
	}
	if ((v = json_object_get(j, "mode")) != NULL)
		argv[argc++] = "MODE", argv[argc++] = json_is_string(v) ? json_string_value(v) : "?";
	if ((v = json_object_get(j, "auto")) != NULL)
		argv[argc++] = "AUTO", argv[argc++] = json_is_true(v) || (json_is_string(v) && !strcmp(json_string_value(v), "yes")) ? "yes" : "no";
	if ((v = json_object_get(j, "gates")) != NULL) {
		json_t *g;
		if (!json_is_array(v) || json_array_size(v) > RO_MAX_GATES) {
			send_error(req, 400, "gates: expected an array of at most 8 strings like \"drop_rate<0.01\"");
			json_decref(j);
			return;
		}
		json_array_foreach(v, i, g)
			argv[argc++] = "GATE", argv[argc++] = json_is_string(g) ? json_string_value(g) : "?";
	}
	dispatch_words(req, argc, argv);
	json_decref(j); /* argv pointed into j; dispatch copies what it keeps */
}

static void on_request(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = evhttp_uri_get_path(uri);
	const char *query = evhttp_uri_get_query(uri);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	struct evkeyvalq q;
	(void)arg;

	TAILQ_INIT(&q);
	if (query)
		evhttp_parse_query_str(query, &q);
	if (path == NULL)
		path = "/";
	if (m == EVHTTP_REQ_GET) {
		if (!strcmp(path, "/")) {
			struct evbuffer *b = evbuffer_new();
			evbuffer_add_reference(b, fo_dashboard_html, fo_dashboard_html_len, NULL, NULL);
			evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/html; charset=utf-8");
			evhttp_send_reply(req, 200, "OK", b);
			evbuffer_free(b);
		} else if (!strcmp(path, "/metrics")) {
			struct evbuffer *b = evbuffer_new();
			metrics_write(b);
			evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
					  "text/plain; version=0.0.4; charset=utf-8");
			evhttp_send_reply(req, 200, "OK", b);
			evbuffer_free(b);
		} else if (!strcmp(path, "/api/status"))
			dispatch_words(req, 1, (const char *[]){ "STATUS" });
		else if (!strcmp(path, "/api/stats"))
			dispatch_words(req, 1, (const char *[]){ "STATS" });
		else if (!strcmp(path, "/api/outputs"))
			dispatch_words(req, 1, (const char *[]){ "OUTPUTS" });
		else if (!strcmp(path, "/api/generations"))
			dispatch_words(req, 1, (const char *[]){ "GENERATIONS" });
		else if (!strcmp(path, "/api/rollout"))
			dispatch_words(req, 2, (const char *[]){ "ROLLOUT", "STATUS" });
		else if (!strcmp(path, "/api/history"))
			get_with(req, "HISTORY", "count", "COUNT", &q);
		else if (!strcmp(path, "/api/series"))
			get_with(req, "SERIES", "since", "SINCE", &q);
		else if (!strcmp(path, "/api/sessions"))
			get_with(req, "SESSIONS", "count", "COUNT", &q);
		else if (!strcmp(path, "/api/topics"))
			get_with(req, "TOPICS", "count", "COUNT", &q);
		else if (!strcmp(path, "/api/subscriptions"))
			get_with(req, "SUBSCRIPTIONS", "count", "COUNT", &q);
		else if (!strcmp(path, "/api/routes"))
			dispatch_words(req, 1, (const char *[]){ "ROUTES" });
		else if (!strcmp(path, "/api/config"))
			dispatch_words(req, 2, (const char *[]){ "CONFIG", "HISTORY" });
		else if (!strncmp(path, "/api/config/", 12) && path[12])
			dispatch_words(req, 3, (const char *[]){ "CONFIG", "SHOW", path + 12 });
		else
			send_error(req, 404, "no such route; see docs/control.md (GET /api/status, /api/stats, /api/outputs, "
					     "/api/generations, /api/rollout, /api/history, /api/series, /api/sessions, /metrics, /)");
	} else if (m == EVHTTP_REQ_POST) {
		if (!strcmp(path, "/api/config") || !strcmp(path, "/api/config/diff")) {
			size_t len = 0;
			char *body = body_of(req, &len);
			const char *now = evhttp_find_header(&q, "now");
			bool diff = path[11] == '/';
			const char *argv[4] = { "CONFIG", diff ? "DIFF" : "APPLY", body, "NOW" };
			size_t lens[4] = { 6, diff ? 4 : 5, len, 3 };
			if (body == NULL)
				send_error(req, 503, "out of memory");
			else if (len == 0)
				send_error(req, 400, "POST the config YAML as the request body");
			else
				dispatch(req, !diff && now && strcmp(now, "0") ? 4 : 3, argv, lens);
			free(body);
		} else if (!strcmp(path, "/api/rollout/start")) {
			rollout_start(req);
		} else if (!strncmp(path, "/api/rollout/", 13) &&
			   (!strcmp(path + 13, "pause") || !strcmp(path + 13, "resume") || !strcmp(path + 13, "promote") ||
			    !strcmp(path + 13, "abort") || !strcmp(path + 13, "rollback"))) {
			dispatch_words(req, 2, (const char *[]){ "ROLLOUT", path + 13 });
		} else {
			send_error(req, 404, "no such route; POST /api/config, /api/rollout/{start,pause,resume,promote,abort,rollback}");
		}
	} else {
		send_error(req, 405, "use GET or POST");
	}
	evhttp_clear_headers(&q);
}

int http_api_start(struct event_base *base, const char *listen)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	char *end;

	if (colon == NULL || (size_t)(colon - listen) >= sizeof(host) || colon == listen) {
		fprintf(stderr, "fanout-control: --http '%s': expected host:port, e.g. 127.0.0.1:7380\n", listen);
		return -1;
	}
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port == 0 || port > 65535) {
		fprintf(stderr, "fanout-control: --http '%s': port must be 1..65535\n", listen);
		return -1;
	}
	http = evhttp_new(base);
	if (http == NULL)
		return -1;
	evhttp_set_max_body_size(http, HTTP_MAX_BODY);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_gencb(http, on_request, NULL);
	if (evhttp_bind_socket(http, host, (uint16_t)port) != 0) {
		fprintf(stderr, "fanout-control: --http %s: cannot bind (%s); is the port in use? choose another with --http\n",
			listen, strerror(errno));
		evhttp_free(http);
		http = NULL;
		return -1;
	}
	return 0;
}

void http_api_stop(void)
{
	if (http)
		evhttp_free(http);
	http = NULL;
}
