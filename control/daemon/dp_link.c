/* The dataplane link (see dp_link.h): hiredis async over libevent. A connection that fails,
 * drops or stops answering polls is freed and retried with exponential backoff. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>

#include "dp_link.h"

struct pending {
	dp_reply_fn fn;
	void *arg;
};

#define POLL_CMDS 4 /* GENERATIONS, GENSTATS, STATS, OUTPUTS */

struct poll_round {
	json_t *replies[POLL_CMDS];
	char errors[POLL_CMDS][256];
	int outstanding;
	bool lost; /* a reply of this round never came: the link went */
};

static struct {
	struct event_base *base;
	char path[108]; /* sun_path */
	unsigned poll_ms;
	struct dp_link_hooks hooks;
	redisAsyncContext *ac;
	bool up;
	unsigned backoff_ms;
	unsigned connects;
	struct event *retry_ev, *poll_ev;
	bool poll_in_flight;
	struct timeval poll_sent;
	char last_error[512];
} L;

static void schedule_retry(void);

bool dp_link_up(void)
{
	return L.up;
}

const char *dp_link_last_error(void)
{
	return L.last_error;
}

unsigned dp_link_connects(void)
{
	return L.connects;
}

static void link_lost(const char *why)
{
	bool was_up = L.up;

	L.ac = NULL;
	L.up = false;
	L.poll_in_flight = false;
	snprintf(L.last_error, sizeof(L.last_error), "%s", why);
	if (was_up) {
		fprintf(stderr, "fanout-control: dataplane link lost: %s; reconnecting\n", why);
		if (L.hooks.disconnected)
			L.hooks.disconnected(why);
	}
	schedule_retry();
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	if (status != REDIS_OK) {
		char why[512];
		snprintf(why, sizeof(why), "connect to '%s': %s", L.path, ac->errstr);
		L.ac = NULL; /* hiredis frees it after this callback */
		snprintf(L.last_error, sizeof(L.last_error), "%s", why);
		schedule_retry();
		return;
	}
	L.up = true;
	L.backoff_ms = DP_BACKOFF_MIN_MS;
	L.connects++;
	L.last_error[0] = '\0';
	fprintf(stderr, "fanout-control: dataplane connected on %s\n", L.path);
	if (L.hooks.connected)
		L.hooks.connected();
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	char why[512];

	if (L.ac != ac && L.ac != NULL)
		return;
	if (status == REDIS_OK)
		snprintf(why, sizeof(why), "dataplane closed the connection");
	else
		snprintf(why, sizeof(why), "%s", ac->errstr[0] ? ac->errstr : "connection error");
	link_lost(why);
}

static void try_connect(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	redisAsyncContext *ac = redisAsyncConnectUnix(L.path);

	if (ac == NULL) {
		snprintf(L.last_error, sizeof(L.last_error), "connect to '%s': out of memory", L.path);
		schedule_retry();
		return;
	}
	if (ac->err) {
		snprintf(L.last_error, sizeof(L.last_error),
			 "connect to '%s': %s; is fanout-dataplane running with --control %s?", L.path, ac->errstr,
			 L.path);
		redisAsyncFree(ac);
		schedule_retry();
		return;
	}
	redisLibeventAttach(ac, L.base);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	L.ac = ac;
}

static void schedule_retry(void)
{
	struct timeval tv = { .tv_sec = L.backoff_ms / 1000, .tv_usec = (L.backoff_ms % 1000) * 1000 };

	if (L.retry_ev == NULL)
		return;
	evtimer_add(L.retry_ev, &tv);
	L.backoff_ms = L.backoff_ms * 2 > DP_BACKOFF_MAX_MS ? DP_BACKOFF_MAX_MS : L.backoff_ms * 2;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct pending *p = privdata;
	redisReply *r = reply;
	(void)ac;

	if (r == NULL)
		p->fn(p->arg, NULL, L.last_error[0] ? L.last_error : "dataplane connection lost");
	else if (r->type == REDIS_REPLY_ERROR)
		p->fn(p->arg, r, r->str);
	else
		p->fn(p->arg, r, NULL);
	free(p);
}

int dp_link_cmd(dp_reply_fn fn, void *arg, int argc, const char **argv, const size_t *lens)
{
	struct pending *p;

	if (!L.up || L.ac == NULL)
		return -1;
	p = malloc(sizeof(*p));
	if (p == NULL)
		return -1;
	p->fn = fn;
	p->arg = arg;
	if (redisAsyncCommandArgv(L.ac, on_reply, p, argc, argv, lens) != REDIS_OK) {
		free(p);
		return -1;
	}
	return 0;
}

void dp_link_flush(void)
{
	if (L.up && L.ac != NULL)
		redisAsyncHandleWrite(L.ac);
}

int dp_link_cmdv(dp_reply_fn fn, void *arg, int argc, const char **argv)
{
	size_t lens[16];

	if (argc < 0 || argc > 16)
		return -1;
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	return dp_link_cmd(fn, arg, argc, argv, lens);
}

/* ---------------------------------------------------------------- polling */

static struct poll_round round_;

static void on_poll_reply(void *arg, redisReply *r, const char *err)
{
	json_t **slot = arg;
	size_t idx = (size_t)(slot - round_.replies);

	if (err == NULL && r != NULL && r->type == REDIS_REPLY_STRING)
		*slot = json_loadb(r->str, r->len, JSON_ALLOW_NUL, NULL);
	if (*slot == NULL)
		snprintf(round_.errors[idx], sizeof(round_.errors[idx]), "%s",
			 err ? (strncmp(err, "ERR ", 4) == 0 ? err + 4 : err) : "reply is not JSON");
	if (r == NULL)
		round_.lost = true;
	if (--round_.outstanding > 0)
		return;
	L.poll_in_flight = false;
	/* A round the link lost (replies NULL without an answer: "connection lost") is no answer: the
	 * last figures stay. Only the dataplane's own error reply replaces them. */
	if (L.hooks.polled && L.up)
		L.hooks.polled(round_.replies[0], round_.replies[1], round_.replies[2], round_.replies[3],
			       round_.replies[3] || round_.lost ? NULL : round_.errors[3]);
	for (int i = 0; i < POLL_CMDS; i++) {
		json_decref(round_.replies[i]);
		round_.replies[i] = NULL;
		round_.errors[i][0] = '\0';
	}
	round_.lost = false;
}

static long ms_since(const struct timeval *t)
{
	struct timeval now;

	event_base_gettimeofday_cached(L.base, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_usec - t->tv_usec) / 1000;
}

static void on_poll_tick(evutil_socket_t fd, short what, void *arg)
{
	static const char *cmds[POLL_CMDS] = { "GENERATIONS", "GENSTATS", "STATS", "OUTPUTS" };
	(void)fd, (void)what, (void)arg;

	if (!L.up)
		return;
	if (L.poll_in_flight) {
		long stuck = ms_since(&L.poll_sent);
		long limit = 4l * L.poll_ms > DP_POLL_STUCK_MIN_MS ? 4l * L.poll_ms : DP_POLL_STUCK_MIN_MS;
		if (stuck > limit) {
			char why[128];
			snprintf(why, sizeof(why), "dataplane did not answer a poll in %ld ms", stuck);
			redisAsyncContext *ac = L.ac;
			snprintf(L.last_error, sizeof(L.last_error), "%s", why);
			L.ac = NULL; /* on_disconnect from the free below sees a stale context */
			link_lost(why);
			redisAsyncFree(ac); /* pending callbacks get NULL replies */
		}
		return;
	}
	round_.outstanding = POLL_CMDS;
	L.poll_in_flight = true;
	event_base_gettimeofday_cached(L.base, &L.poll_sent);
	for (int i = 0; i < POLL_CMDS; i++) {
		if (dp_link_cmdv(on_poll_reply, &round_.replies[i], 1, &cmds[i]) != 0)
			round_.outstanding--;
	}
	if (round_.outstanding == 0)
		L.poll_in_flight = false;
}

int dp_link_start(struct event_base *base, const char *path, unsigned poll_ms, const struct dp_link_hooks *hooks)
{
	struct timeval tv = { .tv_sec = poll_ms / 1000, .tv_usec = (poll_ms % 1000) * 1000 };

	if (strlen(path) >= sizeof(L.path)) {
		fprintf(stderr, "fanout-control: --dataplane '%s' is longer than %zu bytes; use a shorter path\n", path,
			sizeof(L.path) - 1);
		return -1;
	}
	L.base = base;
	snprintf(L.path, sizeof(L.path), "%s", path);
	L.poll_ms = poll_ms;
	L.hooks = *hooks;
	L.backoff_ms = DP_BACKOFF_MIN_MS;
	snprintf(L.last_error, sizeof(L.last_error), "not connected yet to '%s'", path);
	L.retry_ev = evtimer_new(base, try_connect, NULL);
	L.poll_ev = event_new(base, -1, EV_PERSIST, on_poll_tick, NULL);
	if (L.retry_ev == NULL || L.poll_ev == NULL || event_add(L.poll_ev, &tv) != 0)
		return -1;
	try_connect(-1, 0, NULL);
	return 0;
}

void dp_link_stop(void)
{
	redisAsyncContext *ac = L.ac;

	if (L.poll_ev)
		event_free(L.poll_ev);
	if (L.retry_ev)
		event_free(L.retry_ev);
	L.poll_ev = L.retry_ev = NULL;
	L.hooks.disconnected = NULL;
	L.hooks.polled = NULL;
	L.ac = NULL;
	L.up = false;
	if (ac != NULL)
		redisAsyncFree(ac);
}
