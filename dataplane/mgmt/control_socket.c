/* The dataplane's control socket: RESP over a unix stream socket, served by the main lcore
 * between its stats/signal checks (never by a packet lcore). Requests are parsed with
 * hiredis's reader, the same codec the control plane and redis-cli use, so
 * `redis-cli -s SOCKET INFO` works. The commands are control_socket.h's table. Listings of
 * worker tables (SESSIONS, TOPICS, SUBSCRIPTIONS) are asked of the workers and answered when
 * every worker has filled its part between bursts; the client's later commands wait. */
#include <ctype.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <hiredis/hiredis.h> /* redisReaderCreate() builds redisReply objects */

#include "control_socket.h"
#include "dataplane.h"
#include "fanout/resp_frame.h"
#include "outputs.h"
#include "fanout/client_hash.h"
#include "json_out.h"

#define CTL_MAX_CLIENTS 16
#define CTL_LIST_DEFAULT 1000 /* rows per listing unless COUNT says otherwise */
#define CTL_LIST_MAX 100000
#define CTL_LIST_TIMEOUT_MS 2000 /* workers that do not answer a listing in time: error */

struct ctl_client {
	int fd;
	redisReader *reader;
	struct fo_resp_frame frame; /* bounds checked before the reader buffers anything */
	redisReply *waiting;        /* a listing command not yet started (another one runs) */
	bool listing;               /* this client's listing runs on the workers */
};

static struct {
	bool busy;
	int kind;
	uint32_t limit;
	uint64_t started_ms;
	struct ctl_client *owner;
} listing;

static int listen_fd = -1;
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static struct ctl_client clients[CTL_MAX_CLIENTS];

int fo_ctl_open(const char *path, mode_t mode, const char *group)
{
	gid_t gid = (gid_t)-1;
	if (group) {
		struct group *g = getgrnam(group);
		if (!g) {
			fprintf(stderr,
				"--control-group: no group '%s' on this host; create it (groupadd %s) or pick "
				"another\n",
				group, group);
			return -1;
		}
		gid = g->gr_gid;
	}
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "control socket '%s': path longer than %zu bytes; choose a shorter one\n", path,
			sizeof(sa.sun_path) - 1);
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "control socket: socket(): %s\n", strerror(errno));
		return -1;
	}
	unlink(path); /* a stale socket from a previous run */
	mode_t old = umask(0777 & ~mode);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0 || (group && chown(path, (uid_t)-1, gid) != 0) || chmod(path, mode) != 0 || listen(fd, 16) != 0) {
		fprintf(stderr, "control socket '%s': %s; check the directory exists and is writable\n", path,
			strerror(errno));
		close(fd);
		return -1;
	}
	snprintf(sock_path, sizeof(sock_path), "%s", path);
	listen_fd = fd;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		clients[i].fd = -1;
	return 0;
}

static void drop_client(struct ctl_client *c)
{
	close(c->fd);
	redisReaderFree(c->reader);
	if (c->waiting)
		freeReplyObject(c->waiting);
	if (listing.owner == c)
		listing.owner = NULL; /* the workers finish; nobody gets the answer */
	c->fd = -1;
	c->reader = NULL;
	c->waiting = NULL;
	c->listing = false;
}

/* Blocking-ish write of a whole reply: replies are small and the peer is a local tool;
 * a peer that stops reading is dropped after a bounded wait rather than stalling stats. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			if (poll(&p, 1, 1000) <= 0)
				return -1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return -1;
	}
	return 0;
}

static int reply_bulk(int fd, const char *s, size_t len)
{
	char hdr[32];
	int h = snprintf(hdr, sizeof(hdr), "$%zu\r\n", len);
	if (write_all(fd, hdr, (size_t)h) || write_all(fd, s, len) || write_all(fd, "\r\n", 2))
		return -1;
	return 0;
}

static int reply_error(int fd, const char *msg)
{
	char b[640];
	int n = snprintf(b, sizeof(b), "-ERR %s\r\n", msg);
	return write_all(fd, b, (size_t)n);
}

/* INFO: redis-style "key:value" lines, grouped in sections. */
static int cmd_info(int fd)
{
	struct fo_counters t;
	fo_stats_sum(&t);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return reply_error(fd, "out of memory");
	double up = (double)(rte_get_tsc_cycles() - fo_dp.start_tsc) / (double)fo_dp.tsc_hz;
	fprintf(f,
		"# Server\r\nfanout_version:%s\r\nprocess:fanout-dataplane\r\nuptime_s:%.3f\r\nworkers:%u\r\n"
		"tx_lcores:%u\r\nports:%u\r\n",
		FANOUT_VERSION, up, fo_dp.n_workers, fo_dp.n_tx, fo_dp.n_ports);
	uint64_t sessions = 0, topics = 0, subs = 0, inflight = 0;
	for (uint32_t w = 0; w < fo_dp.n_workers; w++) {
		const struct broker *b = fo_dp.workers[w].broker;
		if (!b)
			continue;
		sessions += broker_session_count(b);
		topics += broker_topic_count(b);
		subs += broker_subscription_count(b);
		inflight += broker_inflight_count(b);
	}
	fprintf(f, "\r\n# Mqttsn\r\nsessions:%lu\r\ntopics:%lu\r\nsubscriptions:%lu\r\ninflight_qos1:%lu\r\n", sessions,
		topics, subs, inflight);
	int64_t in_pipe = (int64_t)t.rx - (int64_t)fo_counters_finished(&t);
	fprintf(f, "\r\n# Stats\r\n");
#define INFO_LINE_(field, ...) fprintf(f, #field ":%lu\r\n", t.field);
	FO_FOREACH_LCORE(INFO_LINE_)
#undef INFO_LINE_
	fprintf(f, "in_pipeline:%ld\r\ndeliveries:%lu\r\n", in_pipe, t.ev[FO_EV_DELIVERIES]);
	fprintf(f, "\r\n# Drops\r\n");
	for (int i = 0; i < FO_DROP_MAX; i++)
		if (t.drop[i])
			fprintf(f, "drop_%s:%lu\r\n", fo_drop_names[i], t.drop[i]);
	for (int i = 0; i < FO_OUT_DROP_MAX; i++)
		if (t.out_drop[i])
			fprintf(f, "out_drop_%s:%lu\r\n", fo_out_drop_names[i], t.out_drop[i]);
	if (fclose(f) != 0) {
		free(buf);
		return reply_error(fd, "out of memory");
	}
	int rc = reply_bulk(fd, buf, len);
	free(buf);
	return rc;
}

/* Runs fn(f) into a memory stream and replies with it as one bulk string. */
static int reply_json(int fd, void (*fn)(FILE *f))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return reply_error(fd, "out of memory");
	fn(f);
	if (fclose(f) != 0) {
		free(buf);
		return reply_error(fd, "out of memory");
	}
	int rc = reply_bulk(fd, buf, len);
	free(buf);
	return rc;
}

static void write_stats(FILE *f)
{
	fo_stats_write_json_stream(f, "control");
}

/* A generation operation: op writes its JSON into a stream or fails with err. */
typedef int (*gen_op)(const redisReply *r, uint64_t t0, FILE *out, char *err, size_t errlen);

static int run_gen_op(int fd, const redisReply *r, uint64_t t0, gen_op op)
{
	char err[1024] = "";
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return reply_error(fd, "out of memory");
	int rc = op(r, t0, f, err, sizeof(err));
	if (fclose(f) != 0) {
		free(buf);
		return reply_error(fd, "out of memory");
	}
	int wrc = rc == 0 ? reply_bulk(fd, buf, len) : reply_error(fd, err);
	free(buf);
	return wrc;
}

static bool arg_is(const redisReply *r, size_t i, const char *s)
{
	return i < r->elements && r->element[i]->type == REDIS_REPLY_STRING && r->element[i]->len == strlen(s) &&
	       strncasecmp(r->element[i]->str, s, r->element[i]->len) == 0;
}

static bool arg_u32(const redisReply *r, size_t i, uint32_t max, uint32_t *out)
{
	if (i >= r->elements || r->element[i]->type != REDIS_REPLY_STRING)
		return false;
	const char *s = r->element[i]->str;
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end || end != s + r->element[i]->len || errno || v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

static int op_diff(const redisReply *r, uint64_t t0, FILE *out, char *err, size_t errlen)
{
	(void)t0;
	return fo_gen_diff(r->element[2]->str, r->element[2]->len, out, err, errlen);
}

static int op_load(const redisReply *r, uint64_t t0, FILE *out, char *err, size_t errlen)
{
	uint32_t id = 0;
	bool as_stable = false;
	for (size_t i = 3; i < r->elements; i += 2) {
		if (arg_is(r, i, "ID") && arg_u32(r, i + 1, INT32_MAX, &id) && id > 0)
			continue;
		if (arg_is(r, i, "AS") && (arg_is(r, i + 1, "stable") || arg_is(r, i + 1, "canary"))) {
			as_stable = arg_is(r, i + 1, "stable");
			continue;
		}
		snprintf(err, errlen,
			 "CONFIG LOAD: unexpected argument %zu; usage: CONFIG LOAD <yaml text> [ID n>0] "
			 "[AS canary|stable]",
			 i);
		return -1;
	}
	return fo_gen_load(r->element[2]->str, r->element[2]->len, id, as_stable, t0, out, err, errlen);
}

static int op_share(const redisReply *r, uint64_t t0, FILE *out, char *err, size_t errlen)
{
	uint32_t bp;
	if (!arg_u32(r, 2, FO_SHARE_MAX, &bp)) {
		snprintf(err, errlen, "usage: CANARY SHARE <basis points 0..10000> (100 = 1 %%)");
		return -1;
	}
	return fo_gen_set_share(bp, t0, out, err, errlen);
}

static int op_mode(const redisReply *r, uint64_t t0, FILE *out, char *err, size_t errlen)
{
	if (!(arg_is(r, 2, "split") || arg_is(r, 2, "mirror"))) {
		snprintf(err, errlen, "usage: CANARY MODE split|mirror");
		return -1;
	}
	return fo_gen_set_mode(arg_is(r, 2, "mirror") ? FO_GEN_MIRROR : FO_GEN_SPLIT, t0, out, err, errlen);
}

static int op_promote(const redisReply *r, uint64_t t0, FILE *out, char *err, size_t errlen)
{
	(void)r;
	return fo_gen_promote(t0, out, err, errlen);
}

static int op_rollback(const redisReply *r, uint64_t t0, FILE *out, char *err, size_t errlen)
{
	(void)r;
	return fo_gen_rollback(t0, out, err, errlen);
}

/* ------------------------------------------------------------------ listings */

static const char *const list_names[] = { "sessions", "topics", "subscriptions" };

static void free_rows(void)
{
	for (uint32_t w = 0; w < fo_dp.n_workers; w++) {
		free(fo_dp.workers[w].exp.rows);
		fo_dp.workers[w].exp.rows = NULL;
	}
}

/* Ask every worker for its part. Returns < 0 (and replies) when it cannot start. */
static int start_listing(struct ctl_client *c, const redisReply *r, int kind)
{
	uint32_t limit = CTL_LIST_DEFAULT;
	if (r->elements > 1 && !(r->elements == 3 && arg_is(r, 1, "COUNT") && arg_u32(r, 2, CTL_LIST_MAX, &limit))) {
		char msg[128];
		snprintf(msg, sizeof(msg), "usage: %s [COUNT n] (n up to %u)", r->element[0]->str, CTL_LIST_MAX);
		return reply_error(c->fd, msg);
	}
	if (atomic_load(&fo_dp.phase) != FO_RUN)
		return reply_error(c->fd, "the dataplane is shutting down; listings need running workers");
	uint32_t per = limit; /* each worker may hold all of them */
	for (uint32_t w = 0; w < fo_dp.n_workers; w++) {
		struct fo_export *e = &fo_dp.workers[w].exp;
		e->rows = per ? malloc((size_t)per * sizeof(*e->rows)) : NULL;
		if (per && !e->rows) {
			free_rows();
			return reply_error(c->fd, "out of memory for the listing; ask for fewer rows with COUNT");
		}
	}
	listing.busy = true;
	listing.kind = kind;
	listing.limit = limit;
	listing.owner = c;
	listing.started_ms = fo_now_ms();
	c->listing = true;
	for (uint32_t w = 0; w < fo_dp.n_workers; w++) {
		struct fo_export *e = &fo_dp.workers[w].exp;
		e->kind = kind;
		e->limit = per;
		e->n = 0;
		e->total = 0;
		e->cursor = 0;
		atomic_store_explicit(&e->state, FO_EXPORT_REQUESTED, memory_order_release);
	}
	return 0;
}

static void write_row(FILE *f, int kind, uint32_t w, const struct broker_export_row *r, const struct fo_genset *gs,
		      uint64_t now_ms)
{
	fprintf(f, "{\"worker\":%u", w);
	if (kind == BROKER_EXPORT_TOPICS) {
		fprintf(f, ",\"id\":%u,\"name\":", r->topic_id);
		fo_json_str(f, r->name, r->name_len);
		fprintf(f, "%s}", r->name_truncated ? ",\"name_truncated\":true" : "");
		return;
	}
	fprintf(f, ",\"client_id\":");
	fo_json_str(f, r->client_id, r->client_id_len);
	fprintf(f, ",\"ip\":");
	if (r->v6) {
		char a[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, r->ip6, a, sizeof(a));
		fo_json_str(f, (const uint8_t *)a, strlen(a));
	} else {
		fo_json_ip(f, r->ip);
	}
	fprintf(f, ",\"port\":%u", r->port);
	if (kind == BROKER_EXPORT_SESSIONS) {
		uint32_t h = r->client_id_len ? fo_client_id_hash(r->client_id, r->client_id_len)
					      : fo_client_hash(r->ip, r->port);
		fprintf(f,
			",\"keepalive_s\":%u,\"idle_ms\":%" PRIu64
			",\"subscriptions\":%u,\"inflight\":%u,\"side\":\"%s\"}",
			r->keepalive_s, now_ms > r->last_rx_ms ? now_ms - r->last_rx_ms : 0, r->subscriptions,
			r->inflight, fo_genset_is_canary(gs, h) ? "canary" : "stable");
		return;
	}
	fprintf(f, ",\"filter\":");
	fo_json_str(f, r->name, r->name_len);
	fprintf(f, ",\"qos\":%u%s}", r->qos, r->name_truncated ? ",\"filter_truncated\":true" : "");
}

static void finish_listing(void)
{
	struct ctl_client *c = listing.owner;
	if (c) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		if (f) {
			uint64_t total = 0;
			for (uint32_t w = 0; w < fo_dp.n_workers; w++)
				total += fo_dp.workers[w].exp.total;
			fprintf(f, "{\"total\":%" PRIu64 ",\"%s\":[", total, list_names[listing.kind]);
			const struct fo_genset *gs = fo_genset_read();
			uint64_t now = fo_now_ms();
			uint32_t shown = 0;
			for (uint32_t w = 0; w < fo_dp.n_workers; w++) {
				const struct fo_export *e = &fo_dp.workers[w].exp;
				for (uint32_t i = 0; i < e->n && shown < listing.limit; i++, shown++) {
					if (shown)
						fputc(',', f);
					write_row(f, listing.kind, w, &e->rows[i], gs, now);
				}
			}
			fprintf(f, "],\"shown\":%u}", shown);
		}
		if (!f || fclose(f) != 0 || reply_bulk(c->fd, buf, len) != 0)
			drop_client(c);
		else
			c->listing = false;
		free(buf);
	}
	for (uint32_t w = 0; w < fo_dp.n_workers; w++)
		atomic_store(&fo_dp.workers[w].exp.state, FO_EXPORT_IDLE);
	free_rows();
	listing.busy = false;
	listing.owner = NULL;
}

/* Called every poll: completes the running listing when every worker is done. A worker
 * that does not answer in time (stopped lcore) fails the listing; its rows are not freed
 * until it has answered, since it may still be writing them. */
static void check_listing(void)
{
	if (!listing.busy)
		return;
	bool done = true;
	for (uint32_t w = 0; w < fo_dp.n_workers; w++)
		if (atomic_load_explicit(&fo_dp.workers[w].exp.state, memory_order_acquire) != FO_EXPORT_DONE)
			done = false;
	if (done) {
		finish_listing();
		return;
	}
	if (listing.owner && fo_now_ms() - listing.started_ms > CTL_LIST_TIMEOUT_MS) {
		struct ctl_client *c = listing.owner;
		listing.owner = NULL;
		c->listing = false;
		if (reply_error(c->fd, "the workers did not answer the listing in 2 s; is the dataplane overloaded or "
				       "stopping? try again") != 0)
			drop_client(c);
	}
}

/* ------------------------------------------------------------------ the command table */

/* A handler answers on c->fd. Returns < 0 when the connection should close, 1 when the command
 * waits for its listing, 2 when it waits for another client's listing to end. */
typedef int (*dp_handler)(struct ctl_client *c, const redisReply *r, uint64_t t0);

static int dp_ping(struct ctl_client *c, const redisReply *r, uint64_t t0)
{
	(void)t0;
	return r->elements > 1 ? reply_bulk(c->fd, r->element[1]->str, r->element[1]->len)
			       : write_all(c->fd, "+PONG\r\n", 7);
}

static int dp_info(struct ctl_client *c, const redisReply *r, uint64_t t0)
{
	(void)r, (void)t0;
	return cmd_info(c->fd);
}

#define DP_JSON(id, fn) \
	static int dp_##id(struct ctl_client *c, const redisReply *r, uint64_t t0) \
	{ \
		(void)r, (void)t0; \
		return reply_json(c->fd, fn); \
	}
DP_JSON(stats, write_stats)
DP_JSON(generations, fo_gen_write_generations)
DP_JSON(genstats, fo_gen_write_genstats)
DP_JSON(routes, fo_gen_write_routes)
DP_JSON(outputs, fo_outputs_write_json)

static int listing_cmd(struct ctl_client *c, const redisReply *r, int kind)
{
	if (listing.busy)
		return 2;
	int rc = start_listing(c, r, kind);
	return rc < 0 ? rc : c->listing ? 1 : 0;
}

static int dp_sessions(struct ctl_client *c, const redisReply *r, uint64_t t0)
{
	(void)t0;
	return listing_cmd(c, r, BROKER_EXPORT_SESSIONS);
}

static int dp_topics(struct ctl_client *c, const redisReply *r, uint64_t t0)
{
	(void)t0;
	return listing_cmd(c, r, BROKER_EXPORT_TOPICS);
}

static int dp_subscriptions(struct ctl_client *c, const redisReply *r, uint64_t t0)
{
	(void)t0;
	return listing_cmd(c, r, BROKER_EXPORT_SUBSCRIPTIONS);
}

#define DP_GEN(id, op) \
	static int dp_##id(struct ctl_client *c, const redisReply *r, uint64_t t0) \
	{ \
		return run_gen_op(c->fd, r, t0, op); \
	}
DP_GEN(config_diff, op_diff)
DP_GEN(config_load, op_load)
DP_GEN(canary_share, op_share)
DP_GEN(canary_mode, op_mode)
DP_GEN(promote, op_promote)
DP_GEN(rollback, op_rollback)

static int dp_rxpace(struct ctl_client *c, const redisReply *r, uint64_t t0)
{
	uint32_t pidx, pps;

	(void)t0;
	if (!arg_u32(r, 1, UINT16_MAX, &pidx) || !arg_u32(r, 2, UINT32_MAX, &pps) || pidx >= fo_dp.n_ports)
		return reply_error(c->fd, "usage: RXPACE <port index> <packets/s per rx queue, 0 = off>");
	atomic_store(&fo_dp.ports[pidx].rx_pace_pps, pps);
	return write_all(c->fd, "+OK\r\n", 5);
}

static int dp_quit(struct ctl_client *c, const redisReply *r, uint64_t t0)
{
	(void)r, (void)t0;
	write_all(c->fd, "+OK\r\n", 5);
	return -1;
}

static int dp_help(struct ctl_client *c, const redisReply *r, uint64_t t0);
static int dp_command(struct ctl_client *c, const redisReply *r, uint64_t t0);

static const struct dp_cmd {
	const char *name, *sub;
	uint32_t min, max;
	const char *args, *help;
	dp_handler fn;
} dp_cmds[] = {
#define FO_DP_CMD_ENTRY(id, name, sub, min, max, args, help) { name, sub, min, max, args, help, dp_##id },
	FO_DP_COMMANDS(FO_DP_CMD_ENTRY)
#undef FO_DP_CMD_ENTRY
};
#define DP_N_CMDS (sizeof(dp_cmds) / sizeof(dp_cmds[0]))

static uint32_t dp_words(const struct dp_cmd *d)
{
	return d->sub[0] ? 2 : 1;
}

static int dp_help(struct ctl_client *c, const redisReply *r, uint64_t t0)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)r, (void)t0;
	if (!f)
		return reply_error(c->fd, "out of memory");
	for (size_t i = 0; i < DP_N_CMDS; i++)
		fprintf(f, "%s%s%s%s%s\n    %s\n", dp_cmds[i].name, dp_cmds[i].sub[0] ? " " : "", dp_cmds[i].sub,
			dp_cmds[i].args[0] ? " " : "", dp_cmds[i].args, dp_cmds[i].help);
	if (fclose(f) != 0) {
		free(buf);
		return reply_error(c->fd, "out of memory");
	}
	int rc = reply_bulk(c->fd, buf, len);
	free(buf);
	return rc;
}

/* Redis's COMMAND: names in lower case, a subcommand as "config|load". With an argument other
 * than COUNT (redis-cli asks COMMAND DOCS on connect) an empty list. */
static int dp_command(struct ctl_client *c, const redisReply *r, uint64_t t0)
{
	char *buf = NULL, name[48], hdr[24];
	size_t len = 0;

	(void)t0;
	if (r->elements == 2 && arg_is(r, 1, "COUNT")) {
		int n = snprintf(hdr, sizeof(hdr), ":%zu\r\n", DP_N_CMDS);
		return write_all(c->fd, hdr, (size_t)n);
	}
	if (r->elements == 2)
		return write_all(c->fd, "*0\r\n", 4);
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return reply_error(c->fd, "out of memory");
	fprintf(f, "*%zu\r\n", DP_N_CMDS);
	for (size_t i = 0; i < DP_N_CMDS; i++) {
		const struct dp_cmd *d = &dp_cmds[i];
		int w = (int)dp_words(d);
		snprintf(name, sizeof(name), "%s%s%s", d->name, d->sub[0] ? "|" : "", d->sub);
		for (char *p = name; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		fprintf(f, "*4\r\n$%zu\r\n%s\r\n:%d\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n", strlen(name), name,
			d->min == d->max ? w + (int)d->min : -(w + (int)d->min), strlen(d->args), d->args,
			strlen(d->help), d->help);
	}
	if (fclose(f) != 0) {
		free(buf);
		return reply_error(c->fd, "out of memory");
	}
	int rc = write_all(c->fd, buf, len);
	free(buf);
	return rc;
}

/* The entry r names with its argument count in range, or NULL with msg saying what would do. */
static const struct dp_cmd *dp_find(const redisReply *r, char *msg, size_t n)
{
	const struct dp_cmd *named = NULL;
	size_t at = 0;

	for (size_t i = 0; i < DP_N_CMDS; i++) {
		const struct dp_cmd *d = &dp_cmds[i];
		if (!arg_is(r, 0, d->name))
			continue;
		named = d;
		if (d->sub[0] && !arg_is(r, 1, d->sub))
			continue;
		uint32_t nargs = (uint32_t)r->elements - dp_words(d);
		if (nargs >= d->min && nargs <= d->max)
			return d;
		snprintf(msg, n, "wrong number of arguments for '%s%s%s'; usage: %s%s%s%s%s", d->name,
			 d->sub[0] ? " " : "", d->sub, d->name, d->sub[0] ? " " : "", d->sub, d->args[0] ? " " : "",
			 d->args);
		return NULL;
	}
	if (named) {
		at = (size_t)snprintf(msg, n, "usage:");
		for (size_t i = 0; i < DP_N_CMDS && at < n; i++)
			if (!strcmp(dp_cmds[i].name, named->name))
				at += (size_t)snprintf(msg + at, n - at, "%s %s %s%s%s", at > 6 ? " |" : "",
						       named->name, dp_cmds[i].sub, dp_cmds[i].args[0] ? " " : "",
						       dp_cmds[i].args);
		return NULL;
	}
	at = (size_t)snprintf(msg, n, "unknown command '%.40s'; try", r->element[0]->str);
	for (size_t i = 0; i < DP_N_CMDS && at < n; i++) {
		bool again = i > 0 && !strcmp(dp_cmds[i - 1].name, dp_cmds[i].name);
		at += (size_t)snprintf(msg + at, n - at, "%s%s%s%s",
				       again ? "|"
				       : i   ? ", "
					     : " ",
				       again ? "" : dp_cmds[i].name, !again && dp_cmds[i].sub[0] ? " " : "",
				       dp_cmds[i].sub);
	}
	return NULL;
}

/* Returns < 0 when the connection should close, 1 when the command waits for a listing. */
static int execute(struct ctl_client *c, const redisReply *r)
{
	uint64_t t0 = rte_get_tsc_cycles();
	char msg[512];

	if (r->type != REDIS_REPLY_ARRAY || r->elements == 0)
		return reply_error(c->fd, "expected a command as an array of bulk strings");
	for (size_t i = 0; i < r->elements; i++)
		if (r->element[i]->type != REDIS_REPLY_STRING)
			return reply_error(c->fd, "expected a command as an array of bulk strings");
	const struct dp_cmd *d = dp_find(r, msg, sizeof(msg));
	return d ? d->fn(c, r, t0) : reply_error(c->fd, msg);
}

static void run_commands(struct ctl_client *c);

static void serve_client(struct ctl_client *c)
{
	char buf[4096];
	for (;;) {
		ssize_t n = read(c->fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			drop_client(c);
			return;
		}
		if (n < 0)
			break;
		int e = fo_resp_feed(&c->frame, c->reader, buf, (size_t)n);
		if (e != FO_RESP_OK) {
			char msg[160];
			snprintf(msg, sizeof(msg), "%s (at most %u arguments, %u bytes per command); closing",
				 fo_resp_frame_strerror(e), FO_CTL_MAX_ARGS, FO_CTL_MAX_REQUEST);
			reply_error(c->fd, msg);
			drop_client(c);
			return;
		}
	}
	run_commands(c);
}

/* Executes the client's parsed commands in order; stops while one of them waits. */
static void run_commands(struct ctl_client *c)
{
	while (c->fd >= 0 && !c->listing) {
		redisReply *reply = c->waiting;
		c->waiting = NULL;
		if (!reply) {
			void *next = NULL;
			if (redisReaderGetReply(c->reader, &next) != REDIS_OK) {
				reply_error(c->fd, "protocol error: expected RESP");
				drop_client(c);
				return;
			}
			if (!next)
				return;
			reply = next;
		}
		int rc = execute(c, reply);
		if (rc == 2) { /* another client's listing runs: keep the command for later */
			c->waiting = reply;
			return;
		}
		freeReplyObject(reply);
		if (rc < 0) {
			drop_client(c);
			return;
		}
	}
}

void fo_ctl_poll(int timeout_ms)
{
	if (listen_fd < 0) {
		if (timeout_ms > 0)
			usleep((useconds_t)timeout_ms * 1000);
		return;
	}
	struct pollfd pfd[CTL_MAX_CLIENTS + 1];
	struct ctl_client *owner[CTL_MAX_CLIENTS + 1];
	int n = 0;
	pfd[n].fd = listen_fd;
	pfd[n].events = POLLIN;
	owner[n++] = NULL;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (clients[i].fd >= 0) {
			pfd[n].fd = clients[i].fd;
			pfd[n].events = POLLIN;
			owner[n++] = &clients[i];
		}
	if (listing.busy)
		timeout_ms = 1;
	int ready = poll(pfd, (nfds_t)n, timeout_ms);
	check_listing();
	for (int i = 0; i < CTL_MAX_CLIENTS; i++) /* commands held back by a listing */
		if (clients[i].fd >= 0 && !listing.busy && (clients[i].waiting || clients[i].listing == false))
			run_commands(&clients[i]);
	if (ready <= 0)
		return;
	for (int i = 1; i < n; i++)
		if (pfd[i].revents && owner[i]->fd >= 0)
			serve_client(owner[i]);
	if (pfd[0].revents & POLLIN) {
		int fd;
		while ((fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
			int slot = -1;
			for (int i = 0; i < CTL_MAX_CLIENTS; i++)
				if (clients[i].fd < 0) {
					slot = i;
					break;
				}
			redisReader *rd = slot >= 0 ? redisReaderCreate() : NULL;
			if (!rd) {
				static const char busy[] = "-ERR too many control connections\r\n";
				(void)!write(fd, busy, sizeof(busy) - 1);
				close(fd);
				continue;
			}
			clients[slot] = (struct ctl_client){ .fd = fd, .reader = rd };
			fo_resp_frame_init(&clients[slot].frame, &(struct fo_resp_limits)FO_CTL_RESP_LIMITS);
			rd->maxbuf = 0; /* keep the buffer: config texts may be large */
		}
	}
}

void fo_ctl_close(void)
{
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (clients[i].fd >= 0)
			drop_client(&clients[i]);
	if (listen_fd >= 0) {
		close(listen_fd);
		unlink(sock_path);
		listen_fd = -1;
	}
}
