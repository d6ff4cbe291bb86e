/* cmocka tests for fanout-control's front-end guards: the token (control/lib/ctl_auth.c), the HTTP
 * checks and routes (control/lib/http_route.c), the RESP request bounds (include/fanout/resp_frame.h),
 * the RESP AUTH gate (control/lib/resp_conn.c) and the command tables (control/lib/ctl_commands.h) they
 * all answer from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl_auth.h"
#include "ctl_commands.h"
#include "fanout/dp_commands.h"
#include "http_route.h"
#include "resp_conn.h"

#define TOKEN "0123456789abcdef0123456789abcdef"
#define CTL_ERR_MAX_TEST 512 /* commands.h's CTL_ERR_MAX */

static const struct http_policy pol = {
	.token = TOKEN,
	.token_len = sizeof(TOKEN) - 1,
	.listen_host = "127.0.0.1",
	.port = 7380,
	.allow_hosts = { "fanout.lab", "ops.example:8443" },
	.n_allow_hosts = 2,
};

static struct http_request get(const char *path)
{
	return (struct http_request){
		.method = HTTP_M_GET, .path = path, .host = "127.0.0.1:7380", .authorization = "Bearer " TOKEN
	};
}

static struct http_request post(const char *path, const char *body)
{
	return (struct http_request){ .method = HTTP_M_POST,
				      .path = path,
				      .host = "127.0.0.1:7380",
				      .authorization = "Bearer " TOKEN,
				      .content_type = "application/json",
				      .body = body,
				      .body_len = strlen(body) };
}

static int route(const struct http_request *r, struct http_route *o)
{
	http_route(&pol, r, o);
	return o->action == HTTP_REFUSE ? o->status : o->action == HTTP_DISPATCH ? 200 : 0;
}

/* ---- token -------------------------------------------------------------------------------- */

static void test_token_eq(void **state)
{
	(void)state;
	assert_true(ctl_token_eq(TOKEN, 32, TOKEN, 32));
	assert_false(ctl_token_eq(TOKEN, 32, TOKEN, 31));
	assert_false(ctl_token_eq(TOKEN, 32, TOKEN "x", 33));
	assert_false(ctl_token_eq(TOKEN, 32, "1123456789abcdef0123456789abcdef", 32));
	assert_false(ctl_token_eq(TOKEN, 32, "", 0));
	assert_false(ctl_token_eq("", 0, "", 0)); /* no token configured never matches */
}

static void test_token_file(void **state)
{
	char dir[] = "/tmp/fo-token-XXXXXX", path[64], tok[CTL_TOKEN_MAX + 1], tok2[CTL_TOKEN_MAX + 1], err[512];
	struct stat sb;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, CTL_TOKEN_FILE);
	/* fanoutctl's side never creates it */
	assert_int_equal(ctl_token_load(path, false, tok, sizeof(tok), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--token-file"));
	/* first start: 64 hex digits, mode 0600 */
	assert_int_equal(ctl_token_load(path, true, tok, sizeof(tok), err, sizeof(err)), 0);
	assert_int_equal(strlen(tok), 2 * CTL_TOKEN_BYTES);
	assert_int_equal(strspn(tok, "0123456789abcdef"), 2 * CTL_TOKEN_BYTES);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* later starts reuse it */
	assert_int_equal(ctl_token_load(path, true, tok2, sizeof(tok2), err, sizeof(err)), 0);
	assert_string_equal(tok, tok2);
	/* readable by others: the daemon refuses it, naming the fix */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(ctl_token_load(path, true, tok2, sizeof(tok2), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "chmod 600"));
	/* an operator's own token: printable, long enough */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("short\n", f);
	fclose(f);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(ctl_token_load(path, true, tok2, sizeof(tok2), err, sizeof(err)), -1);
	f = fopen(path, "w");
	fputs("my-own-token-with.enough~chars\n", f);
	fclose(f);
	assert_int_equal(ctl_token_load(path, true, tok2, sizeof(tok2), err, sizeof(err)), 0);
	assert_string_equal(tok2, "my-own-token-with.enough~chars");
	f = fopen(path, "w");
	fputs("has a space in the middle of it\n", f);
	fclose(f);
	assert_int_equal(ctl_token_load(path, true, tok2, sizeof(tok2), err, sizeof(err)), -1);
	unlink(path);
	rmdir(dir);
}

/* ---- HTTP --------------------------------------------------------------------------------- */

static void test_http_host(void **state)
{
	(void)state;
	assert_true(http_host_allowed(&pol, "127.0.0.1:7380"));
	assert_true(http_host_allowed(&pol, "localhost:7380"));
	assert_true(http_host_allowed(&pol, "LOCALHOST:7380"));
	assert_true(http_host_allowed(&pol, "[::1]:7380"));
	assert_true(http_host_allowed(&pol, "fanout.lab:7380"));
	assert_true(http_host_allowed(&pol, "fanout.lab"));
	assert_true(http_host_allowed(&pol, "ops.example:8443"));
	assert_false(http_host_allowed(&pol, "ops.example:7380:8443"));
	assert_false(http_host_allowed(&pol, NULL));
	assert_false(http_host_allowed(&pol, ""));
	assert_false(http_host_allowed(&pol, "127.0.0.1:7381"));
	assert_false(http_host_allowed(&pol, "127.0.0.1:73800"));
	assert_false(http_host_allowed(&pol, "evil.example:7380")); /* DNS rebinding: the attacker's name */
	assert_false(http_host_allowed(&pol, "127.0.0.1.evil.example:7380"));
	assert_false(http_host_allowed(&pol, "localhost.:7380"));
	assert_false(http_host_allowed(&pol, "fanout.lab.evil:7380"));
}

static void test_http_origin(void **state)
{
	(void)state;
	assert_true(http_origin_allowed(&pol, NULL));
	assert_true(http_origin_allowed(&pol, "http://127.0.0.1:7380"));
	assert_true(http_origin_allowed(&pol, "http://localhost:7380"));
	assert_true(http_origin_allowed(&pol, "https://ops.example:8443"));
	assert_false(http_origin_allowed(&pol, "null"));
	assert_false(http_origin_allowed(&pol, "http://evil.example"));
	assert_false(http_origin_allowed(&pol, "http://127.0.0.1:8080")); /* another local service's page */
	assert_false(http_origin_allowed(&pol, "http://127.0.0.1:7380/x"));
	assert_false(http_origin_allowed(&pol, "file://"));
	assert_false(http_origin_allowed(&pol, ""));
}

static void test_http_bearer_content_type(void **state)
{
	(void)state;
	assert_true(http_bearer_ok(&pol, "Bearer " TOKEN));
	assert_true(http_bearer_ok(&pol, "bearer  " TOKEN " "));
	assert_false(http_bearer_ok(&pol, NULL));
	assert_false(http_bearer_ok(&pol, TOKEN));
	assert_false(http_bearer_ok(&pol, "Basic " TOKEN));
	assert_false(http_bearer_ok(&pol, "Bearer " TOKEN "0"));
	assert_false(http_bearer_ok(&pol, "Bearer "));
	assert_true(http_is_json("application/json"));
	assert_true(http_is_json("Application/JSON; charset=utf-8"));
	assert_false(http_is_json(NULL));
	assert_false(http_is_json("text/plain"));
	assert_false(http_is_json("application/jsonx"));
	assert_false(http_is_json("application/x-www-form-urlencoded"));
	assert_false(http_is_json("multipart/form-data; boundary=x"));
}

static void test_http_refusals(void **state)
{
	struct http_route o;
	struct http_request r;
	(void)state;

	r = get("/api/status");
	r.authorization = NULL;
	assert_int_equal(route(&r, &o), 401);
	assert_int_equal(o.refusal, CTL_REFUSED_HTTP_AUTH);
	r = get("/metrics");
	r.authorization = "Bearer wrong";
	assert_int_equal(route(&r, &o), 401);
	r = get("/api/status");
	r.host = "evil.example:7380";
	assert_int_equal(route(&r, &o), 403);
	assert_int_equal(o.refusal, CTL_REFUSED_HTTP_HOST);
	r = get("/api/status");
	r.origin = "http://evil.example";
	assert_int_equal(route(&r, &o), 403);
	assert_int_equal(o.refusal, CTL_REFUSED_HTTP_ORIGIN);
	r = get("/");
	r.host = "evil.example:7380"; /* the page too: a rebinding page must not even load it */
	assert_int_equal(route(&r, &o), 403);
	r = get("/");
	r.authorization = NULL; /* the page itself holds no data */
	http_route(&pol, &r, &o);
	assert_int_equal(o.action, HTTP_DASHBOARD);
	r = post("/api/rollout/pause", "");
	r.content_type = "text/plain";
	assert_int_equal(route(&r, &o), 415);
	assert_int_equal(o.refusal, CTL_REFUSED_HTTP_CONTENT_TYPE);
	r = post("/api/rollout/pause", "");
	r.content_type = NULL;
	assert_int_equal(route(&r, &o), 415);
	r = post("/api/rollout/start", "{}");
	r.body_len = HTTP_MAX_SMALL_BODY + 1;
	assert_int_equal(route(&r, &o), 413);
	assert_int_equal(o.refusal, CTL_REFUSED_HTTP_BODY_SIZE);
	r = post("/api/config", "{}");
	r.body_len = HTTP_MAX_BODY + 1;
	assert_int_equal(route(&r, &o), 413);
	r = get("/api/status");
	r.method = HTTP_M_OTHER;
	assert_int_equal(route(&r, &o), 405);
	assert_int_equal(route(&(struct http_request){ .method = HTTP_M_GET,
						       .path = "/nope",
						       .host = "localhost:7380",
						       .authorization = "Bearer " TOKEN },
			       &o),
			 404);
}

static void test_http_routes(void **state)
{
	struct http_route o;
	struct http_request r;
	(void)state;

	r = get("/api/sessions");
	r.query = "x=1&count=25";
	assert_int_equal(route(&r, &o), 200);
	assert_int_equal(o.argc, 3);
	assert_string_equal(o.argv[0], "SESSIONS");
	assert_string_equal(o.argv[1], "COUNT");
	assert_string_equal(o.argv[2], "25");
	r.query = "count=123456789012345678901234567890";
	assert_int_equal(route(&r, &o), 400);
	r = get("/api/config/7");
	assert_int_equal(route(&r, &o), 200);
	assert_int_equal(o.argc, 3);
	assert_string_equal(o.argv[2], "7");
	r = get("/metrics");
	http_route(&pol, &r, &o);
	assert_int_equal(o.action, HTTP_METRICS);

	/* the argv that once overflowed the stack: 8 gates and every other option (26 words) */
	r = post("/api/rollout/start",
		 "{\"steps\":[1,5,25,50,100],\"hold_s\":1.5,\"mode\":\"split\",\"auto\":false,"
		 "\"gates\":[\"drop_rate<0.1\",\"drop_rate<0.2\",\"drop_rate<0.3\",\"drop_rate<0.4\","
		 "\"error_rate<0.1\",\"error_rate<0.2\",\"p99_us<100\",\"sink_errors<1\"]}");
	assert_int_equal(route(&r, &o), 200);
	assert_int_equal(o.argc, 26);
	assert_string_equal(o.argv[3], "1.00,5.00,25.00,50.00,100.00");
	assert_string_equal(o.argv[24], "GATE");
	assert_string_equal(o.argv[25], "sink_errors<1");
	assert_int_equal(o.lens[25], strlen("sink_errors<1"));
	http_route_free(&o);
	r = post("/api/rollout/start",
		 "{\"gates\":[\"a<1\",\"a<1\",\"a<1\",\"a<1\",\"a<1\",\"a<1\",\"a<1\",\"a<1\",\"a<1\"]}");
	assert_int_equal(route(&r, &o), 400);
	http_route_free(&o);
	r = post("/api/rollout/start", "{\"steps\":[1,\"x\"]}");
	assert_int_equal(route(&r, &o), 400);
	http_route_free(&o);
	r = post("/api/rollout/start", "[1,2]");
	assert_int_equal(route(&r, &o), 400);
	http_route_free(&o);
	/* FLEET START: "order" in place of "auto", so the longest argv is 26 words too */
	r = post("/api/fleet/rollout/start",
		 "{\"order\":\"each\",\"steps\":[50,100],\"hold_s\":2,\"mode\":\"split\","
		 "\"gates\":[\"a<1\",\"a<1\",\"a<1\",\"a<1\",\"a<1\",\"a<1\",\"a<1\",\"sink_errors<1\"]}");
	assert_int_equal(route(&r, &o), 200);
	assert_int_equal(o.argc, 26);
	assert_string_equal(o.argv[0], "FLEET");
	assert_string_equal(o.argv[1], "START");
	assert_string_equal(o.argv[8], "ORDER");
	assert_string_equal(o.argv[9], "each");
	assert_string_equal(o.argv[25], "sink_errors<1");
	http_route_free(&o);
	r = post("/api/fleet/rollout/start", "{\"auto\":true}");
	assert_int_equal(route(&r, &o), 400);
	http_route_free(&o);
	r = post("/api/rollout/start", "{\"order\":\"each\"}"); /* not an option of one appliance's rollout */
	assert_int_equal(route(&r, &o), 200);
	assert_int_equal(o.argc, 2);
	http_route_free(&o);
	r = get("/api/fleet/stats");
	assert_int_equal(route(&r, &o), 200);
	assert_string_equal(o.argv[0], "FLEET");
	assert_string_equal(o.argv[1], "STATS");
	http_route_free(&o);

	r = post("/api/config", "{\"yaml\":\"a: 1\\u0000b\",\"now\":true}");
	assert_int_equal(route(&r, &o), 400); /* NUL is not accepted in JSON strings */
	http_route_free(&o);
	r = post("/api/config", "{\"yaml\":\"routes: []\\n\",\"now\":true}");
	assert_int_equal(route(&r, &o), 200);
	assert_int_equal(o.argc, 4);
	assert_string_equal(o.argv[1], "APPLY");
	assert_int_equal(o.lens[2], 11);
	assert_string_equal(o.argv[3], "NOW");
	http_route_free(&o);
	r = post("/api/config/diff", "{\"yaml\":\"routes: []\\n\"}");
	assert_int_equal(route(&r, &o), 200);
	assert_int_equal(o.argc, 3);
	assert_string_equal(o.argv[1], "DIFF");
	http_route_free(&o);
	r = post("/api/config", "{\"yml\":\"x\"}");
	assert_int_equal(route(&r, &o), 400);
	http_route_free(&o);
	r = post("/api/rollout/abort", "");
	assert_int_equal(route(&r, &o), 200);
	assert_string_equal(o.argv[1], "ABORT");
	http_route_free(&o);
}

/* ---- RESP bounds -------------------------------------------------------------------------- */

static const struct fo_resp_limits small = { .max_args = 4, .max_bulk = 16, .max_request = 64, .max_pending = 128 };

static int scan(const char *s)
{
	struct fo_resp_frame f;
	fo_resp_frame_init(&f, &small);
	return fo_resp_frame_scan(&f, s, strlen(s));
}

static void test_resp_frame(void **state)
{
	struct fo_resp_frame f;
	(void)state;

	assert_int_equal(scan("*1\r\n$4\r\nPING\r\n*2\r\n$1\r\na\r\n$0\r\n\r\n"), FO_RESP_OK);
	assert_int_equal(scan("*0\r\n"), FO_RESP_OK);
	assert_int_equal(scan("*5\r\n"), FO_RESP_E_ARGS);
	assert_int_equal(scan("*2147483647\r\n"), FO_RESP_E_ARGS);
	assert_int_equal(scan("*99999999999999999999999\r\n"), FO_RESP_E_PROTOCOL);
	assert_int_equal(scan("*1\r\n$17\r\n"), FO_RESP_E_BULK);
	assert_int_equal(scan("*-1\r\n"), FO_RESP_E_PROTOCOL);
	assert_int_equal(scan("*1\r\n$-1\r\n"), FO_RESP_E_PROTOCOL);
	assert_int_equal(scan("PING\r\n"), FO_RESP_E_PROTOCOL);
	assert_int_equal(scan("*1\r\n:1\r\n"), FO_RESP_E_PROTOCOL);
	assert_int_equal(scan("*1\n"), FO_RESP_E_PROTOCOL);
	assert_int_equal(scan("*\r\n"), FO_RESP_E_PROTOCOL);
	assert_int_equal(scan("*1 \r\n"), FO_RESP_E_PROTOCOL);
	assert_int_equal(scan("*4\r\n$16\r\n0123456789abcdef\r\n$16\r\n0123456789abcdef\r\n$16\r\n"),
			 FO_RESP_E_REQUEST);
	/* byte by byte gives the same verdicts */
	const char *ok = "*2\r\n$3\r\nabc\r\n$2\r\nde\r\n*1\r\n$4\r\nPING\r\n";
	fo_resp_frame_init(&f, &small);
	for (size_t i = 0; ok[i]; i++)
		assert_int_equal(fo_resp_frame_scan(&f, ok + i, 1), FO_RESP_OK);
	assert_int_equal(f.state, 0);
	fo_resp_frame_init(&f, &small);
	const char *bad = "*1\r\n$3\r\nabc\r\n*9\r\n";
	int e = FO_RESP_OK;
	for (size_t i = 0; bad[i] && e == FO_RESP_OK; i++)
		e = fo_resp_frame_scan(&f, bad + i, 1);
	assert_int_equal(e, FO_RESP_E_ARGS);
	assert_int_equal(fo_resp_frame_scan(&f, "*1\r\n", 4), FO_RESP_E_ARGS); /* sticky */
	/* a long line without its newline */
	assert_int_equal(scan("*00000000000000000000000001\r\n"), FO_RESP_E_PROTOCOL);
}

/* ---- RESP connection: AUTH gate and bounds ------------------------------------------------- */

static enum resp_step next(struct resp_conn *c, const char **reply)
{
	struct resp_cmd cmd;
	enum resp_step s = resp_conn_next(c, &cmd);
	*reply = cmd.reply;
	resp_cmd_done(&cmd);
	return s;
}

static int feed(struct resp_conn *c, const char *s)
{
	const char *why;
	enum ctl_refusal r;
	return resp_conn_feed(c, s, strlen(s), &why, &r);
}

static void test_resp_auth(void **state)
{
	struct resp_conn c;
	const char *rep;
	(void)state;

	assert_int_equal(resp_conn_init(&c, TOKEN), 0);
	assert_int_equal(feed(&c, "*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nGET\r\n$1\r\na\r\n$1\r\nb\r\n"), 0);
	assert_int_equal(next(&c, &rep), RESP_REPLY);
	assert_memory_equal(rep, "-NOAUTH", 7);
	assert_int_equal(next(&c, &rep), RESP_REPLY);
	assert_memory_equal(rep, "-NOAUTH", 7);
	assert_int_equal(next(&c, &rep), RESP_NONE);
	assert_int_equal(feed(&c, "*2\r\n$4\r\nAUTH\r\n$5\r\nwrong\r\n"), 0);
	assert_int_equal(next(&c, &rep), RESP_REPLY);
	assert_memory_equal(rep, "-WRONGPASS", 10);
	assert_int_equal(feed(&c, "*3\r\n$4\r\nAUTH\r\n$5\r\nadmin\r\n$32\r\n" TOKEN "\r\n"), 0);
	assert_int_equal(next(&c, &rep), RESP_REPLY);
	assert_memory_equal(rep, "-WRONGPASS", 10); /* only the default user */
	assert_false(c.authed);
	assert_int_equal(feed(&c, "*3\r\n$4\r\nauth\r\n$7\r\ndefault\r\n$32\r\n" TOKEN "\r\n"), 0);
	assert_int_equal(next(&c, &rep), RESP_REPLY);
	assert_string_equal(rep, "+OK\r\n");
	assert_true(c.authed);
	assert_int_equal(feed(&c, "*1\r\n$4\r\nPING\r\n*2\r\n$6\r\nSTATUS\r\n$1\r\nx\r\n*1\r\n$4\r\nQUIT\r\n"), 0);
	assert_int_equal(next(&c, &rep), RESP_REPLY);
	assert_string_equal(rep, "+PONG\r\n");
	struct resp_cmd cmd;
	assert_int_equal(resp_conn_next(&c, &cmd), RESP_DISPATCH);
	assert_int_equal(cmd.argc, 2);
	assert_int_equal(cmd.lens[0], 6);
	resp_cmd_done(&cmd);
	assert_int_equal(next(&c, &rep), RESP_REPLY_CLOSE);
	resp_conn_free(&c);

	/* AUTH TOKEN alone; three wrong tries close */
	assert_int_equal(resp_conn_init(&c, TOKEN), 0);
	assert_int_equal(feed(&c, "*2\r\n$4\r\nAUTH\r\n$32\r\n" TOKEN "\r\n"), 0);
	assert_int_equal(next(&c, &rep), RESP_REPLY);
	assert_true(c.authed);
	resp_conn_free(&c);
	assert_int_equal(resp_conn_init(&c, TOKEN), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(feed(&c, "*2\r\n$4\r\nAUTH\r\n$1\r\nx\r\n"), 0);
	assert_int_equal(next(&c, &rep), RESP_REPLY);
	assert_int_equal(next(&c, &rep), RESP_REPLY);
	assert_int_equal(next(&c, &rep), RESP_REPLY_CLOSE);
	resp_conn_free(&c);
	/* QUIT before AUTH is fine; an empty array is refused, the connection stays */
	assert_int_equal(resp_conn_init(&c, TOKEN), 0);
	assert_int_equal(feed(&c, "*0\r\n*1\r\n$4\r\nQUIT\r\n"), 0);
	assert_int_equal(next(&c, &rep), RESP_REPLY);
	assert_memory_equal(rep, "-ERR", 4);
	assert_int_equal(next(&c, &rep), RESP_REPLY_CLOSE);
	resp_conn_free(&c);
}

static void test_resp_bounds(void **state)
{
	struct resp_conn c;
	const char *why;
	enum ctl_refusal r;
	char hdr[64];
	(void)state;

	/* the attack: *2147483647 then endless $0: refused at the header, nothing buffered */
	assert_int_equal(resp_conn_init(&c, TOKEN), 0);
	assert_int_equal(resp_conn_feed(&c, "*2147483647\r\n", 13, &why, &r), -1);
	assert_int_equal(r, CTL_REFUSED_RESP_LIMIT);
	assert_memory_equal(why, "-ERR too many arguments", 23);
	assert_int_equal(c.reader->len - c.reader->pos, 0);
	resp_conn_free(&c);
	/* the longest command of the table passes (ROLLOUT START with every option: 2 + 2 * (4 + 8)
	 * words), one more argument does not */
	assert_int_equal(RESP_MAX_ARGS, 2 + 2 * (4 + RO_MAX_GATES));
	assert_int_equal(resp_conn_init(&c, TOKEN), 0);
	snprintf(hdr, sizeof(hdr), "*%d\r\n", RESP_MAX_ARGS);
	assert_int_equal(feed(&c, hdr), 0);
	for (int i = 0; i < RESP_MAX_ARGS; i++)
		assert_int_equal(feed(&c, "$0\r\n\r\n"), 0);
	snprintf(hdr, sizeof(hdr), "*%d\r\n", RESP_MAX_ARGS + 1);
	assert_int_equal(resp_conn_feed(&c, hdr, strlen(hdr), &why, &r), -1);
	assert_memory_equal(why, "-ERR too many arguments", 23);
	resp_conn_free(&c);
	/* a bulk above 1 MiB is refused at its header */
	assert_int_equal(resp_conn_init(&c, TOKEN), 0);
	snprintf(hdr, sizeof(hdr), "*3\r\n$6\r\nCONFIG\r\n$5\r\nAPPLY\r\n$%u\r\n", RESP_MAX_BULK + 1);
	assert_int_equal(resp_conn_feed(&c, hdr, strlen(hdr), &why, &r), -1);
	assert_memory_equal(why, "-ERR argument above", 19);
	resp_conn_free(&c);
	/* one of exactly 1 MiB is taken */
	assert_int_equal(resp_conn_init(&c, TOKEN), 0);
	snprintf(hdr, sizeof(hdr), "*3\r\n$6\r\nCONFIG\r\n$5\r\nAPPLY\r\n$%u\r\n", RESP_MAX_BULK);
	assert_int_equal(feed(&c, hdr), 0);
	char *big = malloc(RESP_MAX_BULK + 2);
	assert_non_null(big);
	memset(big, 'a', RESP_MAX_BULK);
	memcpy(big + RESP_MAX_BULK, "\r\n", 2);
	assert_int_equal(resp_conn_feed(&c, big, RESP_MAX_BULK + 2, &why, &r), 0);
	free(big);
	struct resp_cmd cmd;
	c.authed = true;
	assert_int_equal(resp_conn_next(&c, &cmd), RESP_DISPATCH);
	assert_int_equal(cmd.lens[2], RESP_MAX_BULK);
	resp_cmd_done(&cmd);
	resp_conn_free(&c);
	/* garbage closes */
	assert_int_equal(resp_conn_init(&c, TOKEN), 0);
	assert_int_equal(resp_conn_feed(&c, "GET / HTTP/1.1\r\n", 16, &why, &r), -1);
	assert_int_equal(r, CTL_REFUSED_RESP_PROTOCOL);
	resp_conn_free(&c);
}

/* ---- command tables ----------------------------------------------------------------------- */

static int find(int argc, const char *const *argv, char *err, size_t n)
{
	size_t lens[CTL_MAX_ARGC + 1];
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	return ctl_cmd_find(argc, argv, lens, err, n);
}

static void test_cmd_table(void **state)
{
	char err[CTL_ERR_MAX_TEST], syn[192];
	const char *argv[CTL_MAX_ARGC + 1];
	int longest = 0;
	(void)state;

	for (int i = 0; i < CTL_CMD_MAX; i++) {
		const struct ctl_cmd_info *c = &ctl_cmd_info[i];
		assert_non_null(c->name);
		assert_true(strlen(c->help) > 10);
		assert_true(c->min >= 0 && c->min <= c->max);
		assert_true(ctl_cmd_words(i) + c->max <= CTL_MAX_ARGC);
		if (ctl_cmd_words(i) + c->max > longest)
			longest = ctl_cmd_words(i) + c->max;
		for (int j = 0; j < i; j++) /* no entry hides another */
			assert_false(!strcmp(c->name, ctl_cmd_info[j].name) && !strcmp(c->sub, ctl_cmd_info[j].sub));
		/* every count from min to max is found, one below and one above is refused with the usage */
		ctl_cmd_synopsis(i, syn, sizeof(syn));
		for (int n = 0; n <= c->max + 1; n++) {
			int argc = 0;
			argv[argc++] = c->name;
			if (c->sub[0])
				argv[argc++] = c->sub;
			for (int k = 0; k < n; k++)
				argv[argc++] = "1";
			int id = find(argc, argv, err, sizeof(err));
			if (n >= c->min && n <= c->max) {
				assert_int_equal(id, i);
			} else {
				assert_int_equal(id, -1);
				assert_non_null(strstr(err, syn));
			}
		}
		if (c->min > 0) {
			argv[0] = c->name, argv[1] = c->sub;
			assert_int_equal(find(c->sub[0] ? 2 : 1, argv, err, sizeof(err)), -1);
		}
	}
	assert_int_equal(longest, CTL_MAX_ARGC); /* the computed bound is the table's, not a guess */
	/* case does not matter; unknown names and subcommands are refused with what would do */
	argv[0] = "rollout", argv[1] = "Pause";
	assert_int_equal(find(2, argv, err, sizeof(err)), CTL_CMD_rollout_pause);
	argv[0] = "NOSUCH";
	assert_int_equal(find(1, argv, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown command 'NOSUCH'"));
	for (int i = 0; i < CTL_CMD_MAX; i++)
		assert_non_null(strstr(err, ctl_cmd_info[i].name));
	argv[0] = "CONFIG", argv[1] = "BURN";
	assert_int_equal(find(2, argv, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "CONFIG APPLY <yaml> [NOW]"));
	assert_non_null(strstr(err, "CONFIG SHOW <id>"));
	assert_int_equal(find(0, argv, err, sizeof(err)), -1);
	assert_int_equal(ctl_cmd_arity(CTL_CMD_status), 1);
	assert_int_equal(ctl_cmd_arity(CTL_CMD_config_apply), -3);
}

static void test_resp_help_command(void **state)
{
	struct resp_conn c;
	struct resp_cmd cmd;
	char syn[192];
	(void)state;

	char *help = resp_conn_help_text();
	assert_non_null(help);
	for (int i = 0; i < CTL_CMD_MAX; i++) {
		ctl_cmd_synopsis(i, syn, sizeof(syn));
		assert_non_null(strstr(help, syn));
		assert_non_null(strstr(help, ctl_cmd_info[i].help));
	}
	for (int i = 0; i < RESP_CONN_CMDS; i++) {
		assert_non_null(resp_conn_cmds[i].fn);
		assert_true(strlen(resp_conn_cmds[i].help) > 10);
		assert_non_null(strstr(help, resp_conn_cmds[i].name));
		assert_true(1 + resp_conn_cmds[i].max <= RESP_MAX_ARGS);
	}
	free(help);

	assert_int_equal(resp_conn_init(&c, TOKEN), 0);
	c.authed = true;
	assert_int_equal(feed(&c, "*1\r\n$4\r\nHELP\r\n*1\r\n$7\r\nCOMMAND\r\n*2\r\n$7\r\nCOMMAND\r\n$5\r\nCOUNT\r\n"
				  "*2\r\n$7\r\nCOMMAND\r\n$4\r\nDOCS\r\n*3\r\n$4\r\nPING\r\n$1\r\na\r\n$1\r\nb\r\n"
				  "*2\r\n$4\r\nPING\r\n$2\r\nhi\r\n"),
			 0);
	assert_int_equal(resp_conn_next(&c, &cmd), RESP_REPLY);
	assert_non_null(strstr(cmd.reply, "ROLLOUT START [STEPS"));
	resp_cmd_done(&cmd);
	/* COMMAND: one [name, arity, args, help] per entry of both tables */
	assert_int_equal(resp_conn_next(&c, &cmd), RESP_REPLY);
	char head[16];
	snprintf(head, sizeof(head), "*%d\r\n", RESP_CONN_CMDS + CTL_CMD_MAX);
	assert_memory_equal(cmd.reply, head, strlen(head));
	assert_non_null(strstr(cmd.reply, "$12\r\nconfig|apply\r\n:-3\r\n"));
	assert_non_null(strstr(cmd.reply, "$6\r\nstatus\r\n:1\r\n"));
	assert_non_null(strstr(cmd.reply, "$4\r\nauth\r\n:-2\r\n"));
	resp_cmd_done(&cmd);
	assert_int_equal(resp_conn_next(&c, &cmd), RESP_REPLY);
	snprintf(head, sizeof(head), ":%d\r\n", RESP_CONN_CMDS + CTL_CMD_MAX);
	assert_string_equal(cmd.reply, head);
	resp_cmd_done(&cmd);
	assert_int_equal(resp_conn_next(&c, &cmd), RESP_REPLY);
	assert_string_equal(cmd.reply, "*0\r\n");
	resp_cmd_done(&cmd);
	assert_int_equal(resp_conn_next(&c, &cmd), RESP_REPLY); /* PING takes one argument at most */
	assert_memory_equal(cmd.reply, "-ERR wrong number of arguments for 'PING'", 41);
	resp_cmd_done(&cmd);
	assert_int_equal(resp_conn_next(&c, &cmd), RESP_REPLY);
	assert_string_equal(cmd.reply, "$2\r\nhi\r\n");
	resp_cmd_done(&cmd);
	resp_conn_free(&c);
}

static void test_http_table(void **state)
{
	struct http_route o;
	struct http_request r;
	char err[CTL_ERR_MAX_TEST];
	(void)state;

	/* every route answers: the command it names is in the table with the words it builds */
	for (size_t i = 0; i < http_n_routes; i++) {
		const struct http_route_def *d = &http_routes[i];
		char path[64];
		assert_non_null(d->build);
		assert_true(strlen(d->returns) > 2);
		snprintf(path, sizeof(path), "%.*s%s", (int)strcspn(d->path, "{"), d->path,
			 strchr(d->path, '{') ? "7" : "");
		const char *w = d->cmd[0] ? d->cmd[0] : "";
		r = d->method == HTTP_M_GET ? get(path)
					    : post(path, !strcmp(w, "CONFIG")  ? "{\"yaml\":\"routes: []\"}"
							 : !strcmp(w, "BLOCK") ? "{\"prefix\":\"198.18.0.0/24\"}"
							 : !strcmp(w, "LIMIT") ? "{\"pps\":1000,\"burst\":50}"
									       : "{}");
		http_route(&pol, &r, &o);
		assert_int_equal(o.action, d->action);
		if (d->action == HTTP_DISPATCH) {
			assert_string_equal(o.argv[0], d->cmd[0]);
			assert_true(find(o.argc, o.argv, err, sizeof(err)) >= 0);
			if (d->query) { /* and with the query parameter */
				http_route_free(&o);
				r.query = d->query[0] == 'c' ? "count=5" : "since=5";
				http_route(&pol, &r, &o);
				assert_int_equal(o.argc, 3);
				assert_true(find(o.argc, o.argv, err, sizeof(err)) >= 0);
			}
		}
		http_route_free(&o);
	}
	/* the XDP routes' bodies: the words they build, and what they refuse */
	r = post("/api/xdp/limit", "{\"pps\":1000,\"burst\":50}");
	http_route(&pol, &r, &o);
	assert_int_equal(o.argc, 4);
	assert_string_equal(o.argv[2], "1000");
	assert_string_equal(o.argv[3], "50");
	http_route_free(&o);
	r = post("/api/xdp/block/del", "{\"prefix\":\"2001:db8::/32\"}");
	http_route(&pol, &r, &o);
	assert_int_equal(o.argc, 3);
	assert_string_equal(o.argv[1], "DEL");
	assert_string_equal(o.argv[2], "2001:db8::/32");
	http_route_free(&o);
	r = post("/api/xdp/block/add", "{}");
	assert_int_equal(route(&r, &o), 400);
	http_route_free(&o);
	r = post("/api/xdp/limit", "{\"pps\":-1}");
	assert_int_equal(route(&r, &o), 400);
	http_route_free(&o);
	r = post("/api/xdp/limit", "{\"pps\":10,\"burst\":\"x\"}");
	assert_int_equal(route(&r, &o), 400);
	http_route_free(&o);
	/* a 404 lists every route, GET and POST */
	r = get("/api/nope");
	assert_int_equal(route(&r, &o), 404);
	for (size_t i = 0; i < http_n_routes; i++) {
		char want[80];
		snprintf(want, sizeof(want), "%s %s", http_routes[i].method == HTTP_M_GET ? "GET" : "POST",
			 http_routes[i].path);
		assert_non_null(strstr(o.error, want));
	}
	assert_true(http_route_list(NULL, 0) < sizeof(o.error) - 64);
	r = post("/api/rollout/nope", "{}");
	assert_int_equal(route(&r, &o), 404);
	assert_non_null(strstr(o.error, "POST /api/rollout/rollback"));
	r = get("/api/rollout/pause"); /* a POST route asked with GET */
	assert_int_equal(route(&r, &o), 404);
}

/* The dataplane socket's table (its handlers are bound in dataplane/mgmt/control_socket.c, where an
 * entry without one does not compile): sane entries, and the argument bound is its longest. */
static void test_dp_table(void **state)
{
	static const struct {
		const char *name, *sub;
		unsigned min, max;
		const char *args, *help;
	} dp[] = {
#define DP_ENTRY(id, name, sub, min, max, args, help) { name, sub, min, max, args, help },
		FO_DP_COMMANDS(DP_ENTRY)
#undef DP_ENTRY
	};
	unsigned longest = 0;
	(void)state;

	for (size_t i = 0; i < sizeof(dp) / sizeof(dp[0]); i++) {
		unsigned words = dp[i].sub[0] ? 2 : 1;
		assert_true(strlen(dp[i].help) > 10);
		assert_true(dp[i].min <= dp[i].max);
		assert_true(words + dp[i].max <= FO_DP_MAX_ARGS);
		if (words + dp[i].max > longest)
			longest = words + dp[i].max;
		for (size_t j = 0; j < i; j++)
			assert_false(!strcmp(dp[i].name, dp[j].name) && !strcmp(dp[i].sub, dp[j].sub));
	}
	assert_int_equal(longest, FO_DP_MAX_ARGS);
	assert_int_equal(FO_DP_MAX_ARGS, 7); /* CONFIG LOAD <yaml> ID n AS stable */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_eq),
		cmocka_unit_test(test_token_file),
		cmocka_unit_test(test_http_host),
		cmocka_unit_test(test_http_origin),
		cmocka_unit_test(test_http_bearer_content_type),
		cmocka_unit_test(test_http_refusals),
		cmocka_unit_test(test_http_routes),
		cmocka_unit_test(test_resp_frame),
		cmocka_unit_test(test_resp_auth),
		cmocka_unit_test(test_resp_bounds),
		cmocka_unit_test(test_cmd_table),
		cmocka_unit_test(test_resp_help_command),
		cmocka_unit_test(test_http_table),
		cmocka_unit_test(test_dp_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
