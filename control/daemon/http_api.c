/* The HTTP API (see http_api.h). Each route of http_route.c's table builds the argv of a RESP
 * command and calls ctl_dispatch, so both front ends behave the same; refusals are 400, an unreachable dataplane 503. */
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
#include "http_route.h"
#include "metrics.h"

static struct evhttp *http;
static struct http_policy policy;
static char listen_host[256];

struct pending {
	struct evhttp_request *req;
	bool dead; /* the connection closed before the dataplane answered */
};

static const char *reason_of(int code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	default: return "Service Unavailable";
	}
}

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
	evhttp_send_reply(req, code, reason_of(code), b);
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

static enum http_method method_of(enum evhttp_cmd_type m)
{
	return m == EVHTTP_REQ_GET ? HTTP_M_GET : m == EVHTTP_REQ_POST ? HTTP_M_POST : HTTP_M_OTHER;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct http_request r = {
		.method = method_of(evhttp_request_get_command(req)),
		.path = evhttp_uri_get_path(uri),
		.query = evhttp_uri_get_query(uri),
		.host = evhttp_find_header(h, "Host"),
		.origin = evhttp_find_header(h, "Origin"),
		.authorization = evhttp_find_header(h, "Authorization"),
		.content_type = evhttp_find_header(h, "Content-Type"),
		.body_len = evbuffer_get_length(in),
	};
	struct http_route o;
	(void)arg;

	if (r.path == NULL || *r.path == '\0')
		r.path = "/";
	r.body = r.body_len ? (const char *)evbuffer_pullup(in, -1) : "";
	if (r.body == NULL) {
		send_error(req, 503, "out of memory");
		return;
	}
	http_route(&policy, &r, &o);
	switch (o.action) {
	case HTTP_DASHBOARD: {
		struct evbuffer *b = evbuffer_new();
		evbuffer_add_reference(b, fo_dashboard_html, fo_dashboard_html_len, NULL, NULL);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/html; charset=utf-8");
		evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
		evhttp_add_header(evhttp_request_get_output_headers(req), "Referrer-Policy", "no-referrer");
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Security-Policy",
				  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
				  "connect-src 'self'; img-src 'self'; frame-ancestors 'none'");
		evhttp_add_header(evhttp_request_get_output_headers(req), "X-Frame-Options", "DENY");
		evhttp_send_reply(req, 200, "OK", b);
		evbuffer_free(b);
		break;
	}
	case HTTP_METRICS: {
		struct evbuffer *b = evbuffer_new();
		metrics_write(b);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  "text/plain; version=0.0.4; charset=utf-8");
		evhttp_send_reply(req, 200, "OK", b);
		evbuffer_free(b);
		break;
	}
	case HTTP_DISPATCH: dispatch(req, o.argc, o.argv, o.lens); break;
	default:
		if (o.refusal < CTL_REFUSED_MAX)
			ctl_refused[o.refusal]++;
		if (o.status == 401)
			evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
					  "Bearer realm=\"fanout\"");
		send_error(req, o.status, o.error);
		break;
	}
	http_route_free(&o); /* argv pointed into o and the request; dispatch copies what it keeps */
}

int http_api_start(struct event_base *base, const char *listen, const char *token, const char *const *allow_hosts,
		   unsigned n_allow_hosts)
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
	if (n_allow_hosts > HTTP_MAX_ALLOW_HOSTS) {
		fprintf(stderr, "fanout-control: at most %d --http-allow-host names\n", HTTP_MAX_ALLOW_HOSTS);
		return -1;
	}
	snprintf(listen_host, sizeof(listen_host), "%s", host);
	policy = (struct http_policy){ .token = token,
				       .token_len = strlen(token),
				       .listen_host = listen_host,
				       .port = (unsigned)port,
				       .n_allow_hosts = n_allow_hosts };
	for (unsigned i = 0; i < n_allow_hosts; i++)
		policy.allow_hosts[i] = allow_hosts[i];
	http = evhttp_new(base);
	if (http == NULL)
		return -1;
	evhttp_set_max_body_size(http, HTTP_MAX_BODY);
	evhttp_set_max_headers_size(http, HTTP_MAX_HEADERS);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_gencb(http, on_request, NULL);
	if (evhttp_bind_socket(http, host, (uint16_t)port) != 0) {
		fprintf(stderr,
			"fanout-control: --http %s: cannot bind (%s); is the port in use? choose another with --http\n",
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
