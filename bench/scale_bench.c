/* fanout-scale-bench: memory and match cost of ONE worker's broker engine
 * (dataplane/mqttsn/mqttsn_broker.h) as its tables grow: 1M sessions, 1M registered
 * topics, 100k subscriptions (10 % wildcard). Pure C, no DPDK, no network: the engine is
 * driven through broker_handle() with real encoded MQTT-SN messages (mqttsn_encode) from
 * distinct (ip, port) clients, and a broker_io that counts and discards every output.
 *
 * Every point creates a broker sized for it, fills it (CONNECT, REGISTER, SUBSCRIBE, each
 * checked: a refused message is an error), measures memory, then times PUBLISHes:
 *   exact  PUBLISH (QoS 0, normal topic id) through broker_handle to a topic with exactly one
 *          exact subscriber and no matching wildcard filter (fan-out 1);
 *   wild   the same to a topic matched by exactly one wildcard filter and no exact one;
 *   fwd    broker_fanout() by name (a publish another worker accepted) to the exact topics;
 *   spread exact again, over up to 16384 distinct topics instead of the series' probe set.
 * Fan-out stays 1 at every size, so the figures are lookup cost, not copying. exact, wild and
 * fwd publish to the same number of distinct topics at every point of a series (as many as
 * its smallest point has: fixed working set, growing tables), in random order; spread's
 * working set grows with the table, so it shows what caches and the TLB add.
 *
 * Topic t (0 <= t < topics) is "s/<t/4>/<t%4>/v", REGISTERed by session t % sessions. Group
 * g = t/4: exact subscriptions take topics of even groups, wildcard filters odd groups, one
 * group each, four shapes in turn: s/g/+/v, s/g/#, +/g/k/v, s/g/k/#.
 *
 * Series (full mode; --quick divides every size by 10, the sessions series stopping at 100k):
 *   subs-exact  sessions = topics = 1M, subscriptions 1k, 10k, 100k, all exact
 *   subs-wild   same, all wildcard
 *   subs-mixed  same, 10 % wildcard (the 100k point is the target configuration)
 *   sessions    sessions = topics = 1k .. 1M, subscriptions = sessions / 10, 10 % wildcard
 * The growth ratio of a series is cost(largest) / cost(smallest); the exact-topic target is
 * ratio <= log(largest) / log(smallest) ("no faster than log(subscriptions)"), judged
 * on exact and fwd (spread's working set grows with the table, so it is shown, not judged).
 *
 * Memory: mallinfo2() (in-use heap, including mmap'd blocks) before and after broker_create()
 * is what the engine allocated; RSS (/proc/self/statm) after the fill is what it touched.
 * Target: 1M sessions (with the tables above) in <= 512 MiB.
 *
 * --callgrind OUT: run under `valgrind --tool=callgrind --instr-atstart=no
 * --callgrind-out-file=OUT`; each timed loop is then instrumented alone and dumped
 * (OUT.<n>), and the table shows instructions per publish (Ir) instead of ns. Given without
 * valgrind, the bench re-runs itself that way. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#else
#define HAVE_CALLGRIND 0
#define RUNNING_ON_VALGRIND 0
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(x) ((void)(x))
#endif

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#include "mqttsn_broker.h"
#include "mqttsn_codec.h"

#define BUDGET_BYTES (512ull << 20) /* 1M sessions in <= 512 MiB */
#define BUDGET_SESSIONS 1000000ull
#define TOPIC_LEN_DEFAULT 255 /* mqttsn.max_topic_len default (dataplane/config/config.h) */
#define GROUP 4u              /* topics per group */
#define MAX_PROBES 16384u
#define MSG_MAX 64u
#define NAME_MAX_B 48u
#define PAYLOAD_LEN 16u

/* ------------------------------------------------------------------ sink io */

struct sink {
	uint64_t sends, publishes, binds, holds, releases;
	uint8_t last[MSG_MAX];
	uint16_t last_len;
	struct fo_client last_to;
};

static int sink_send(void *ctx, const struct fo_client *to, const uint8_t *msg, uint16_t len)
{
	struct sink *s = ctx;
	s->sends++;
	s->last_to = *to;
	s->last_len = len < MSG_MAX ? len : MSG_MAX;
	memcpy(s->last, msg, s->last_len);
	return 0;
}

static int sink_publish(void *ctx, const struct fo_client *to, const uint8_t *hdr, uint16_t hdr_len, void *payload)
{
	(void)to, (void)hdr, (void)hdr_len, (void)payload;
	((struct sink *)ctx)->publishes++;
	return 0;
}

static void sink_bind(void *ctx, void *payload, const uint8_t *data, uint16_t len)
{
	(void)payload, (void)data, (void)len;
	((struct sink *)ctx)->binds++;
}

static void sink_hold(void *ctx, void *payload)
{
	(void)payload;
	((struct sink *)ctx)->holds++;
}

static void sink_release(void *ctx, void *payload)
{
	(void)payload;
	((struct sink *)ctx)->releases++;
}

/* ------------------------------------------------------------------ helpers */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}

static uint64_t rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, res = 0;
	if (f) {
		if (fscanf(f, "%lu %lu", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static struct fo_client client_of(uint32_t i)
{
	return (struct fo_client){ .ip = 0x0a000000u | (i >> 14), .port = (uint16_t)(1024u + (i & 0x3fffu)) };
}

static int topic_name(char *buf, uint32_t t)
{
	return snprintf(buf, NAME_MAX_B, "s/%u/%u/v", t / GROUP, t % GROUP);
}

/* Wildcard filter number i on group g. Shape i % 4; k is the topic of the group it names. */
static int filter_name(char *buf, uint32_t i, uint32_t g, uint32_t *k)
{
	*k = i / 4 % GROUP;
	switch (i % 4) {
	case 0: *k = (i / 4 + 1) % GROUP; return snprintf(buf, NAME_MAX_B, "s/%u/+/v", g);
	case 1: *k = (i / 4 + 2) % GROUP; return snprintf(buf, NAME_MAX_B, "s/%u/#", g);
	case 2: return snprintf(buf, NAME_MAX_B, "+/%u/%u/v", g, *k);
	default: return snprintf(buf, NAME_MAX_B, "s/%u/%u/#", g, *k);
	}
}

/* Spread n picks over m slots (n <= m): pick j -> slot. */
static uint32_t spread(uint32_t j, uint32_t n, uint32_t m)
{
	return (uint32_t)((uint64_t)j * m / n);
}

/* ------------------------------------------------------------------ a point */

struct point_cfg {
	const char *series;
	uint32_t sessions, topics, subs, wild; /* wild of subs are wildcard filters */
};

struct cost {
	double ns;     /* median ns per publish over the repetitions */
	double ns_min; /* best repetition */
	double ir;     /* callgrind: instructions per publish, else 0 */
	uint32_t probes;
};

struct point {
	struct point_cfg c;
	uint32_t probes_exact, probes_wild; /* the series' fixed probe set sizes */
	bool ok;
	char err[160];
	uint64_t alloc_bytes, rss_create, rss_fill;
	double connect_ns, register_ns, subscribe_ns; /* per message, fill */
	struct cost exact, wild, fwd, spread;
};

struct bench {
	bool quick, callgrind;
	const char *cg_out;
	unsigned cg_dumps;
	uint32_t reps, loop; /* repetitions of loop publishes */
	struct sink sink;
	struct broker_io io;
	/* per-run scratch, sized for the largest point and allocated before any measurement */
	uint32_t max_topics;
	uint16_t *tid;            /* [topic] id its registering session was given */
	uint8_t (*msgs)[MSG_MAX]; /* probe PUBLISH messages */
	uint16_t *msg_len;
	struct fo_client *from;
	uint32_t *probe_topic;
	uint32_t *order; /* a random permutation of loop probe indexes */
};

static void fail(struct point *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct point *p, const char *fmt, ...)
{
	if (p->ok) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(p->err, sizeof(p->err), fmt, ap);
		va_end(ap);
	}
	p->ok = false;
}

static int handle(struct bench *B, struct broker *b, uint32_t client, const struct mqttsn_msg *m,
		  struct broker_result *res)
{
	uint8_t buf[MSG_MAX];
	int n = mqttsn_encode(m, buf, sizeof(buf));
	if (n <= 0)
		return -1;
	struct fo_client from = client_of(client);
	broker_handle(b, &from, buf, (uint16_t)n, NULL, 1000, res);
	(void)B;
	return 0;
}

/* The reply just sent, decoded (REGACK/SUBACK/CONNACK). */
static bool last_reply(struct bench *B, struct mqttsn_msg *r)
{
	return mqttsn_decode(B->sink.last, B->sink.last_len, r) == MQTTSN_OK;
}

static void fill(struct bench *B, struct broker *b, struct point *p)
{
	const struct point_cfg *c = &p->c;
	struct broker_result res;
	struct mqttsn_msg m, r = { 0 };
	char name[NAME_MAX_B];

	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < c->sessions && p->ok; i++) {
		char id[16];
		int n = snprintf(id, sizeof(id), "c%u", i);
		m = (struct mqttsn_msg){ .type = MQTTSN_CONNECT };
		m.u.connect.flags = MQTTSN_FLAG_CLEAN;
		m.u.connect.protocol_id = MQTTSN_PROTOCOL_ID;
		m.u.connect.duration = 600;
		m.u.connect.client_id = (const uint8_t *)id;
		m.u.connect.client_id_len = (uint16_t)n;
		handle(B, b, i, &m, &res);
		if (res.fate != FO_FATE_DELIVERED)
			fail(p, "CONNECT %u refused (fate %d)", i, (int)res.fate);
	}
	uint64_t t1 = now_ns();
	for (uint32_t t = 0; t < c->topics && p->ok; t++) {
		int n = topic_name(name, t);
		m = (struct mqttsn_msg){ .type = MQTTSN_REGISTER };
		m.u.reg.msg_id = (uint16_t)(t | 1);
		m.u.reg.topic_name = (const uint8_t *)name;
		m.u.reg.topic_name_len = (uint16_t)n;
		handle(B, b, t % c->sessions, &m, &res);
		if (res.fate != FO_FATE_DELIVERED || !last_reply(B, &r) || r.type != MQTTSN_REGACK ||
		    r.u.regack.return_code != MQTTSN_RC_ACCEPTED) {
			fail(p, "REGISTER of topic %u refused (return code %u)", t, r.u.regack.return_code);
			break;
		}
		B->tid[t] = r.u.regack.topic_id;
	}
	uint64_t t2 = now_ns();
	/* Exact subscriptions: distinct topics of even groups; wildcard: distinct odd groups. */
	uint32_t n_exact = c->subs - c->wild, groups = c->topics / GROUP;
	for (uint32_t j = 0; j < c->subs && p->ok; j++) {
		int n;
		uint32_t k;
		bool wild = j < c->wild;
		uint32_t idx = wild ? j : j - c->wild;
		if (wild)
			n = filter_name(name, idx, 2 * spread(idx, c->wild, groups / 2) + 1, &k);
		else
			n = topic_name(name,
				       GROUP * 2 * spread(idx / GROUP, (n_exact + GROUP - 1) / GROUP, groups / 2) +
					       idx % GROUP);
		m = (struct mqttsn_msg){ .type = MQTTSN_SUBSCRIBE };
		m.u.subscribe.flags = MQTTSN_TOPIC_NORMAL;
		m.u.subscribe.msg_id = (uint16_t)(j | 1);
		m.u.subscribe.topic_name = (const uint8_t *)name;
		m.u.subscribe.topic_name_len = (uint16_t)n;
		uint32_t who = (uint32_t)((uint64_t)j * 2654435761u % c->sessions);
		handle(B, b, who, &m, &res);
		if (res.fate != FO_FATE_DELIVERED || !last_reply(B, &r) || r.type != MQTTSN_SUBACK ||
		    r.u.suback.return_code != MQTTSN_RC_ACCEPTED)
			fail(p, "SUBSCRIBE %u refused (return code %u)", j, r.u.suback.return_code);
	}
	uint64_t t3 = now_ns();
	p->connect_ns = (double)(t1 - t0) / c->sessions;
	p->register_ns = (double)(t2 - t1) / c->topics;
	p->subscribe_ns = c->subs ? (double)(t3 - t2) / c->subs : 0;
	if (p->ok && (broker_session_count(b) != c->sessions || broker_subscription_count(b) != c->subs))
		fail(p, "tables hold %u sessions, %u subscriptions", broker_session_count(b),
		     broker_subscription_count(b));
}

/* The topics a kind of probe publishes to: want of them (at most MAX_PROBES) spread over
 * the subscribed ones. */
static uint32_t pick_probes(struct bench *B, const struct point_cfg *c, bool wild, uint32_t want)
{
	uint32_t n_exact = c->subs - c->wild, groups = c->topics / GROUP;
	uint32_t have = wild ? c->wild : n_exact, n = have < want ? have : want;
	if (n > MAX_PROBES)
		n = MAX_PROBES;
	char name[NAME_MAX_B];
	for (uint32_t i = 0; i < n; i++) {
		uint32_t idx = spread(i, n, have), t, k;
		if (wild) {
			uint32_t g = 2 * spread(idx, c->wild, groups / 2) + 1;
			filter_name(name, idx, g, &k);
			t = g * GROUP + k;
		} else {
			t = GROUP * 2 * spread(idx / GROUP, (n_exact + GROUP - 1) / GROUP, groups / 2) + idx % GROUP;
		}
		B->probe_topic[i] = t;
	}
	return n;
}

static void build_publishes(struct bench *B, const struct point_cfg *c, uint32_t n)
{
	static const uint8_t data[PAYLOAD_LEN] = "0123456789abcdef";
	for (uint32_t i = 0; i < n; i++) {
		uint32_t t = B->probe_topic[i];
		struct mqttsn_msg m = { .type = MQTTSN_PUBLISH };
		m.u.publish.flags = MQTTSN_FLAG_QOS0 | MQTTSN_TOPIC_NORMAL;
		m.u.publish.topic_id = B->tid[t];
		m.u.publish.data = data;
		m.u.publish.data_len = PAYLOAD_LEN;
		int len = mqttsn_encode(&m, B->msgs[i], MSG_MAX);
		B->msg_len[i] = (uint16_t)(len > 0 ? len : 0);
		B->from[i] = client_of(t % c->sessions);
	}
}

static void build_order(struct bench *B, uint32_t n)
{
	for (uint32_t i = 0; i < B->loop; i++)
		B->order[i] = (uint32_t)(rng() % n);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Reads the callgrind dump just written: "totals: <Ir>" (or "summary:"). */
static double cg_read_last(struct bench *B)
{
	char path[512];
	snprintf(path, sizeof(path), "%s.%u", B->cg_out, ++B->cg_dumps);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[512];
	double ir = -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "totals:", 7) || !strncmp(line, "summary:", 8))
			ir = strtod(strchr(line, ':') + 1, NULL);
	}
	fclose(f);
	return ir;
}

/* kind: 0 handle (exact/wild), 1 broker_fanout by name */
static void time_publishes(struct bench *B, struct broker *b, struct point *p, uint32_t n, bool by_name,
			   struct cost *out)
{
	static const uint8_t data[PAYLOAD_LEN] = "0123456789abcdef";
	char(*names)[NAME_MAX_B] = NULL;
	uint16_t *nlen = NULL;
	struct broker_result res;
	out->probes = n;
	if (n == 0)
		return;
	if (by_name) {
		names = malloc((size_t)n * sizeof(*names));
		nlen = malloc((size_t)n * sizeof(*nlen));
		if (!names || !nlen) {
			fail(p, "out of memory (%u probes)", n);
			goto out;
		}
		for (uint32_t i = 0; i < n; i++)
			nlen[i] = (uint16_t)topic_name(names[i], B->probe_topic[i]);
	}
	/* Warm-up and check: every probe once, exactly one copy each (a wildcard subscriber's
	 * first copy of a name waits for the REGACK of our REGISTER, answered here as a client
	 * would; later copies do not wait). */
	for (uint32_t i = 0; i < n; i++) {
		uint64_t before = B->sink.publishes;
		uint32_t held = broker_held_count(b);
		if (by_name)
			broker_fanout(b, (const uint8_t *)names[i], nlen[i], 0, (void *)data, PAYLOAD_LEN, 1000);
		else
			broker_handle(b, &B->from[i], B->msgs[i], B->msg_len[i], (void *)data, 1000, &res);
		struct mqttsn_msg reg;
		if (broker_held_count(b) > held && last_reply(B, &reg) && reg.type == MQTTSN_REGISTER) {
			struct mqttsn_msg ack = { .type = MQTTSN_REGACK };
			ack.u.regack.topic_id = reg.u.reg.topic_id;
			ack.u.regack.msg_id = reg.u.reg.msg_id;
			ack.u.regack.return_code = MQTTSN_RC_ACCEPTED;
			uint8_t buf[MSG_MAX];
			int len = mqttsn_encode(&ack, buf, sizeof(buf));
			struct fo_client to = B->sink.last_to;
			if (len > 0)
				broker_handle(b, &to, buf, (uint16_t)len, NULL, 1000, &res);
		}
		if (B->sink.publishes - before != 1) {
			fail(p, "probe topic %u: %u copies, expected 1", B->probe_topic[i],
			     (uint32_t)(B->sink.publishes - before));
			goto out;
		}
	}
	double *ns = calloc(B->reps, sizeof(double));
	if (!ns) {
		fail(p, "out of memory");
		goto out;
	}
	uint64_t sends0 = B->sink.sends, pubs0 = B->sink.publishes;
	for (uint32_t r = 0; r < B->reps; r++) {
		build_order(B, n);
		if (B->callgrind) {
			CALLGRIND_START_INSTRUMENTATION;
			CALLGRIND_ZERO_STATS;
		}
		uint64_t t0 = now_ns();
		if (by_name) {
			for (uint32_t k = 0; k < B->loop; k++) {
				uint32_t i = B->order[k];
				broker_fanout(b, (const uint8_t *)names[i], nlen[i], 0, (void *)data, PAYLOAD_LEN,
					      1000);
			}
		} else {
			for (uint32_t k = 0; k < B->loop; k++) {
				uint32_t i = B->order[k];
				broker_handle(b, &B->from[i], B->msgs[i], B->msg_len[i], (void *)data, 1000, &res);
			}
		}
		uint64_t t1 = now_ns();
		if (B->callgrind) {
			CALLGRIND_DUMP_STATS_AT(p->c.series);
			CALLGRIND_STOP_INSTRUMENTATION;
			double ir = cg_read_last(B);
			if (r == 0 || (ir >= 0 && ir / B->loop < out->ir))
				out->ir = ir / B->loop;
		}
		ns[r] = (double)(t1 - t0) / B->loop;
	}
	qsort(ns, B->reps, sizeof(double), cmp_double);
	out->ns = ns[B->reps / 2];
	out->ns_min = ns[0];
	free(ns);
	if (B->sink.publishes - pubs0 != (uint64_t)B->reps * B->loop || B->sink.sends != sends0)
		fail(p, "timed loop: %u copies, %u other messages (expected one copy each)",
		     (uint32_t)(B->sink.publishes - pubs0), (uint32_t)(B->sink.sends - sends0));
out:
	free(names);
	free(nlen);
}

static void run_point(struct bench *B, struct point *p)
{
	const struct point_cfg *c = &p->c;
	p->ok = true;
	struct broker_config cfg = {
		.max_sessions = c->sessions,
		/* every registered name, every filter, the names wildcard deliveries intern */
		.max_topics = c->topics + c->wild + 64,
		/* a REGISTER per topic, an entry per exact SUBSCRIBE, one per wildcard copy */
		.max_client_topics = c->topics + c->subs + MAX_PROBES + 64,
		.max_subscriptions = c->subs ? c->subs : 1,
		.max_inflight = 1024,
		.max_inflight_per_session = 8,
		.retry_interval_ms = 1000,
		.retry_limit = 3,
		.max_topic_len = TOPIC_LEN_DEFAULT,
		.gateway_id = 1,
		.expiry_scan_per_tick = 64,
	};
	const char *err = NULL;
	malloc_trim(0);
	uint64_t rss0 = rss_bytes(), heap0 = heap_in_use();
	struct broker *b = broker_create(&cfg, &B->io, NULL, &err);
	if (!b) {
		snprintf(p->err, sizeof(p->err), "broker_create: %s", err ? err : "?");
		p->ok = false;
		return;
	}
	p->alloc_bytes = heap_in_use() - heap0;
	p->rss_create = rss_bytes() - rss0;
	fill(B, b, p);
	p->rss_fill = rss_bytes() - rss0;
	if (p->ok) {
		uint32_t n = pick_probes(B, c, false, p->probes_exact);
		build_publishes(B, c, n);
		time_publishes(B, b, p, n, false, &p->exact);
		if (p->ok)
			time_publishes(B, b, p, n, true, &p->fwd);
		n = pick_probes(B, c, true, p->probes_wild);
		build_publishes(B, c, n);
		if (p->ok)
			time_publishes(B, b, p, n, false, &p->wild);
		n = pick_probes(B, c, false, MAX_PROBES);
		build_publishes(B, c, n);
		if (p->ok && !B->callgrind)
			time_publishes(B, b, p, n, false, &p->spread);
	}
	broker_destroy(b);
	if (B->sink.holds != B->sink.releases)
		fail(p, "payload holds %u != releases %u", (uint32_t)B->sink.holds, (uint32_t)B->sink.releases);
}

/* ------------------------------------------------------------------ report */

/* ns: the best repetition, the one least disturbed by whatever else runs on the machine
 * (the median is in the JSON too). */
static double metric(const struct bench *B, const struct cost *c)
{
	return B->callgrind ? c->ir : c->ns_min;
}

static void print_point(const struct bench *B, const struct point *p)
{
	const struct point_cfg *c = &p->c;
	if (!p->ok) {
		printf("%-11s %8u %8u %7u %6u  FAILED: %s\n", c->series, c->sessions, c->topics, c->subs, c->wild,
		       p->err);
		return;
	}
	char f[4][16];
	const struct cost *cs[4] = { &p->exact, &p->wild, &p->fwd, &p->spread };
	for (int k = 0; k < 4; k++) {
		if (cs[k]->probes && metric(B, cs[k]) > 0)
			snprintf(f[k], sizeof(f[k]), "%.1f", metric(B, cs[k]));
		else
			snprintf(f[k], sizeof(f[k]), "-");
	}
	printf("%-11s %8u %8u %7u %6u %9.1f %8.1f %6.0f %6.0f %6.0f %6u %8s %5u %8s %8s %8s\n", c->series, c->sessions,
	       c->topics, c->subs, c->wild, p->alloc_bytes / 1048576.0, p->rss_fill / 1048576.0,
	       (double)p->alloc_bytes / c->sessions, p->connect_ns, p->register_ns, p->exact.probes, f[0],
	       p->wild.probes, f[1], f[2], f[3]);
	fflush(stdout);
}

struct growth {
	const char *series;
	const char *what;
	uint32_t from, to;
	double ratio, log_ratio;
	bool applies; /* the exact-topic target */
};

#define N_SERIES 4
static const char *const series_names[N_SERIES] = { "subs-exact", "subs-wild", "subs-mixed", "sessions" };

static uint32_t growths(const struct bench *B, const struct point *pts, uint32_t np, struct growth *g)
{
	uint32_t ng = 0;
	for (uint32_t s = 0; s < N_SERIES; s++) {
		const struct point *first = NULL, *last = NULL;
		for (uint32_t i = 0; i < np; i++) {
			if (strcmp(pts[i].c.series, series_names[s]) != 0 || !pts[i].ok)
				continue;
			if (!first)
				first = &pts[i];
			last = &pts[i];
		}
		if (!first || first == last)
			continue;
		bool by_sessions = s == 3;
		uint32_t a = by_sessions ? first->c.sessions : first->c.subs,
			 z = by_sessions ? last->c.sessions : last->c.subs;
		static const char *const what[4] = { "exact", "wild", "fwd", "spread" };
		for (int k = 0; k < 4; k++) {
			const struct cost *cf = k == 0   ? &first->exact
						: k == 1 ? &first->wild
						: k == 2 ? &first->fwd
							 : &first->spread;
			const struct cost *cl = k == 0   ? &last->exact
						: k == 1 ? &last->wild
						: k == 2 ? &last->fwd
							 : &last->spread;
			if (cf->probes == 0 || cl->probes == 0 || metric(B, cf) <= 0)
				continue;
			g[ng++] = (struct growth){ .series = series_names[s],
						   .what = what[k],
						   .from = a,
						   .to = z,
						   .ratio = metric(B, cl) / metric(B, cf),
						   .log_ratio = log((double)z) / log((double)a),
						   .applies = k == 0 || k == 2 };
		}
	}
	return ng;
}

static int write_json(const struct bench *B, const char *path, const struct point *pts, uint32_t np,
		      const struct growth *g, uint32_t ng, const struct point *full)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "fanout-scale-bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "{\n  \"mode\": \"%s\",\n  \"metric\": \"%s\",\n  \"loop\": %u,\n  \"reps\": %u,\n",
		B->quick ? "quick" : "full", B->callgrind ? "instructions_per_publish" : "ns_per_publish", B->loop,
		B->reps);
	fprintf(f, "  \"budget_bytes_per_session\": %.1f,\n", (double)BUDGET_BYTES / BUDGET_SESSIONS);
	if (full && full->ok)
		fprintf(f,
			"  \"scale_point\": {\"sessions\": %u, \"alloc_bytes\": %" PRIu64 ", \"rss_bytes\": %" PRIu64
			", \"alloc_bytes_per_session\": %.1f, \"within_budget\": %s},\n",
			full->c.sessions, full->alloc_bytes, full->rss_fill,
			(double)full->alloc_bytes / full->c.sessions,
			(double)full->alloc_bytes / full->c.sessions <= (double)BUDGET_BYTES / BUDGET_SESSIONS
				? "true"
				: "false");
	fprintf(f, "  \"points\": [\n");
	for (uint32_t i = 0; i < np; i++) {
		const struct point *p = &pts[i];
		fprintf(f,
			"    {\"series\": \"%s\", \"sessions\": %u, \"topics\": %u, \"subscriptions\": %u, "
			"\"wildcard\": %u, \"ok\": %s",
			p->c.series, p->c.sessions, p->c.topics, p->c.subs, p->c.wild, p->ok ? "true" : "false");
		if (!p->ok)
			fprintf(f, ", \"error\": \"%s\"", p->err);
		else
			fprintf(f,
				", \"alloc_bytes\": %" PRIu64 ", \"rss_after_create\": %" PRIu64
				", \"rss_after_fill\": %" PRIu64 ", \"alloc_bytes_per_session\": %.1f"
				", \"connect_ns\": %.1f, \"register_ns\": %.1f, \"subscribe_ns\": %.1f"
				", \"exact\": {\"ns\": %.1f, \"ns_min\": %.1f, \"ir\": %.1f, \"probes\": %u}"
				", \"wild\": {\"ns\": %.1f, \"ns_min\": %.1f, \"ir\": %.1f, \"probes\": %u}"
				", \"fwd\": {\"ns\": %.1f, \"ns_min\": %.1f, \"ir\": %.1f, \"probes\": %u}"
				", \"spread\": {\"ns\": %.1f, \"ns_min\": %.1f, \"probes\": %u}",
				p->alloc_bytes, p->rss_create, p->rss_fill, (double)p->alloc_bytes / p->c.sessions,
				p->connect_ns, p->register_ns, p->subscribe_ns, p->exact.ns, p->exact.ns_min,
				p->exact.ir, p->exact.probes, p->wild.ns, p->wild.ns_min, p->wild.ir, p->wild.probes,
				p->fwd.ns, p->fwd.ns_min, p->fwd.ir, p->fwd.probes, p->spread.ns, p->spread.ns_min,
				p->spread.probes);
		fprintf(f, "}%s\n", i + 1 < np ? "," : "");
	}
	fprintf(f, "  ],\n  \"growth\": [\n");
	for (uint32_t i = 0; i < ng; i++)
		fprintf(f,
			"    {\"series\": \"%s\", \"publish\": \"%s\", \"from\": %u, \"to\": %u, \"ratio\": %.3f, "
			"\"log_ratio\": %.3f, \"target_applies\": %s, \"within_log\": %s}%s\n",
			g[i].series, g[i].what, g[i].from, g[i].to, g[i].ratio, g[i].log_ratio,
			g[i].applies ? "true" : "false", g[i].ratio <= g[i].log_ratio ? "true" : "false",
			i + 1 < ng ? "," : "");
	fprintf(f, "  ]\n}\n");
	return fclose(f) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *f)
{
	fprintf(f, "usage: fanout-scale-bench [--quick] [--json FILE] [--series NAME] [--reps N] [--loop N]\n"
		   "                          [--check] [--check-growth] [--callgrind OUT]\n"
		   "  --quick         smaller tables (sessions/topics 100k, subscriptions 100..10k), < 10 s\n"
		   "  --sessions N    largest session count (default 1M, quick 100k)\n"
		   "  --topics N      registered topics (default = sessions; also caps the sessions series)\n"
		   "  --subs N        largest subscription count (default 100k, quick 10k)\n"
		   "  --series NAME   only subs-exact, subs-wild, subs-mixed or sessions\n"
		   "  --check         exit 1 when a point fails or allocated bytes per session of the\n"
		   "                  sessions=topics, subscriptions=sessions/10 configuration exceed\n"
		   "                  512 MiB / 1M sessions (skipped under ASan)\n"
		   "  --check-growth  also exit 1 when exact-topic cost grows faster than log\n"
		   "  --reps N        repetitions per figure (default 5; 1 under callgrind)\n"
		   "  --loop N        publishes per repetition (default 200000, quick 50000, callgrind 20000)\n"
		   "  --json FILE     every figure, also the median and best of the repetitions\n"
		   "  --callgrind OUT instructions per publish (re-runs itself under valgrind)\n");
}

static int reexec_under_callgrind(int argc, char **argv, const char *out)
{
	char **av = calloc((size_t)argc + 8, sizeof(char *));
	char of[600];
	if (!av)
		return 1;
	snprintf(of, sizeof(of), "--callgrind-out-file=%s", out);
	int k = 0;
	av[k++] = "valgrind";
	av[k++] = "--tool=callgrind";
	av[k++] = "--instr-atstart=no";
	av[k++] = "-q";
	av[k++] = of;
	for (int i = 0; i < argc; i++)
		av[k++] = argv[i];
	av[k] = NULL;
	execvp("valgrind", av);
	fprintf(stderr, "fanout-scale-bench: cannot run valgrind: %s\n", strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "json", required_argument, NULL, 'j' },
		{ "series", required_argument, NULL, 's' },
		{ "reps", required_argument, NULL, 'r' },
		{ "loop", required_argument, NULL, 'l' },
		{ "check", no_argument, NULL, 'c' },
		{ "check-growth", no_argument, NULL, 'g' },
		{ "callgrind", required_argument, NULL, 'C' },
		{ "sessions", required_argument, NULL, 'S' },
		{ "topics", required_argument, NULL, 'T' },
		{ "subs", required_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench *B = calloc(1, sizeof(*B));
	const char *json = NULL, *only = NULL;
	bool check = false, check_growth = false;
	uint32_t reps = 0, loop = 0, o_sessions = 0, o_topics = 0, o_subs = 0;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'q': B->quick = true; break;
		case 'j': json = optarg; break;
		case 's': only = optarg; break;
		case 'r': reps = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'l': loop = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'c': check = true; break;
		case 'g': check = check_growth = true; break;
		case 'C':
			B->callgrind = true;
			B->cg_out = optarg;
			break;
		case 'S': o_sessions = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'T': o_topics = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'U': o_subs = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (B->callgrind) {
		if (!HAVE_CALLGRIND) {
			fprintf(stderr, "fanout-scale-bench: built without valgrind/callgrind.h\n");
			return 2;
		}
		if (!RUNNING_ON_VALGRIND)
			return reexec_under_callgrind(argc, argv, B->cg_out);
	}
	B->reps = reps ? reps : B->callgrind ? 1 : 5;
	B->loop = loop ? loop : B->callgrind ? 20000 : B->quick ? 50000 : 200000;
	B->io = (struct broker_io){ .ctx = &B->sink,
				    .send = sink_send,
				    .send_publish = sink_publish,
				    .payload_bind = sink_bind,
				    .payload_hold = sink_hold,
				    .payload_release = sink_release };

	/* Points. */
	uint32_t big = o_sessions ? o_sessions : B->quick ? 100000 : 1000000;
	uint32_t big_topics = o_topics ? o_topics : big;
	uint32_t top_subs = o_subs ? o_subs : B->quick ? 10000 : 100000;
	uint32_t sub_sizes[3], sess_sizes[8], n_sess = 0;
	for (int i = 0; i < 3; i++)
		sub_sizes[i] = top_subs / (uint32_t)pow(10, 2 - i);
	for (uint32_t n = 1000; n <= big && n_sess < 8; n *= 10)
		sess_sizes[n_sess++] = n;
	if (n_sess == 0)
		sess_sizes[n_sess++] = big;
	static struct point pts[20]; /* zeroed: a figure not measured stays 0 */
	uint32_t np = 0;
	for (int s = 0; s < 3; s++) {
		if (only && strcmp(only, series_names[s]) != 0)
			continue;
		for (int i = 0; i < 3; i++) {
			uint32_t n = sub_sizes[i];
			pts[np++].c = (struct point_cfg){ .series = series_names[s],
							  .sessions = big,
							  .topics = big_topics,
							  .subs = n,
							  .wild = s == 0   ? 0
								  : s == 1 ? n
									   : n / 10 };
		}
	}
	if (!only || strcmp(only, "sessions") == 0) {
		for (uint32_t i = 0; i < n_sess; i++) {
			uint32_t n = sess_sizes[i];
			pts[np++].c = (struct point_cfg){ .series = "sessions",
							  .sessions = n,
							  .topics = n < big_topics ? n : big_topics,
							  .subs = n / 10,
							  .wild = n / 100 };
		}
	}
	if (np == 0) {
		fprintf(stderr, "fanout-scale-bench: no series named %s\n", only);
		return 2;
	}
	/* Every point of a series publishes to as many distinct topics as its smallest has. */
	for (uint32_t i = 0; i < np; i++) {
		uint32_t pe = MAX_PROBES, pw = MAX_PROBES;
		for (uint32_t j = 0; j < np; j++) {
			if (strcmp(pts[j].c.series, pts[i].c.series) != 0)
				continue;
			uint32_t e = pts[j].c.subs - pts[j].c.wild, w = pts[j].c.wild;
			if (e && e < pe)
				pe = e;
			if (w && w < pw)
				pw = w;
		}
		pts[i].probes_exact = pe;
		pts[i].probes_wild = pw;
	}

	/* Scratch for the largest point, before any memory is measured. */
	B->max_topics = big_topics > sess_sizes[n_sess - 1] ? big_topics : sess_sizes[n_sess - 1];
	B->tid = calloc(B->max_topics, sizeof(*B->tid));
	B->msgs = calloc(MAX_PROBES, sizeof(*B->msgs));
	B->msg_len = calloc(MAX_PROBES, sizeof(*B->msg_len));
	B->from = calloc(MAX_PROBES, sizeof(*B->from));
	B->probe_topic = calloc(MAX_PROBES, sizeof(*B->probe_topic));
	B->order = calloc(B->loop, sizeof(*B->order));
	if (!B->tid || !B->msgs || !B->msg_len || !B->from || !B->probe_topic || !B->order) {
		fprintf(stderr, "fanout-scale-bench: out of memory\n");
		return 1;
	}
	memset(B->tid, 0, B->max_topics * sizeof(*B->tid));
	memset(B->order, 0, B->loop * sizeof(*B->order));

	printf("fanout-scale-bench: %s mode, %s per publish (best of %u x %u publishes; fan-out 1);\n"
	       "conn/reg: ns per CONNECT/REGISTER during the fill\n",
	       B->quick ? "quick" : "full", B->callgrind ? "instructions (callgrind Ir)" : "ns", B->reps, B->loop);
	printf("%-11s %8s %8s %7s %6s %9s %8s %6s %6s %6s %6s %8s %5s %8s %8s %8s\n", "series", "sessions", "topics",
	       "subs", "wild", "alloc_MiB", "rss_MiB", "B/sess", "conn", "reg", "probes", "exact", "probes", "wild",
	       "fwd", "spread");
	for (uint32_t i = 0; i < np; i++) {
		run_point(B, &pts[i]);
		print_point(B, &pts[i]);
	}

	struct growth g[N_SERIES * 4];
	uint32_t ng = growths(B, pts, np, g);
	bool growth_ok = true, all_ok = true;
	printf("\ngrowth of the %s per publish, largest / smallest table:\n", B->callgrind ? "instructions" : "time");
	for (uint32_t i = 0; i < ng; i++) {
		bool within = g[i].ratio <= g[i].log_ratio;
		if (g[i].applies && !within)
			growth_ok = false;
		printf("  %-11s %-6s %7u -> %7u: x%.2f (log ratio %.2f)%s\n", g[i].series, g[i].what, g[i].from,
		       g[i].to, g[i].ratio, g[i].log_ratio,
		       !g[i].applies ? ""
		       : within      ? "  within log"
				     : "  FASTER THAN LOG");
	}
	/* The memory target: the point with sessions = topics and subscriptions = sessions / 10
	 * (the target ratios), largest such. */
	const struct point *full = NULL;
	for (uint32_t i = 0; i < np; i++) {
		all_ok &= pts[i].ok;
		if (pts[i].ok && pts[i].c.topics == pts[i].c.sessions && pts[i].c.subs == pts[i].c.sessions / 10 &&
		    pts[i].c.wild == pts[i].c.subs / 10 && (!full || pts[i].c.sessions >= full->c.sessions))
			full = &pts[i];
	}
	bool mem_ok = true;
	if (full) {
		double per = (double)full->alloc_bytes / full->c.sessions,
		       budget = (double)BUDGET_BYTES / BUDGET_SESSIONS;
		mem_ok = per <= budget;
		printf("\nmemory at %u sessions, %u topics, %u subscriptions: allocated %.1f MiB (%.0f B/session), "
		       "RSS after fill %.1f MiB; budget %.0f B/session (512 MiB per 1M): %s%s\n",
		       full->c.sessions, full->c.topics, full->c.subs, full->alloc_bytes / 1048576.0, per,
		       full->rss_fill / 1048576.0, budget, mem_ok ? "within" : "OVER",
		       UNDER_ASAN ? " (ASan build: allocator figures are not the engine's)" : "");
		if (UNDER_ASAN)
			mem_ok = true;
	}
	if (json && write_json(B, json, pts, np, g, ng, full) != 0)
		return 1;
	free(B->tid);
	free(B->msgs);
	free(B->msg_len);
	free(B->from);
	free(B->probe_topic);
	free(B->order);
	free(B);
	if (check && (!all_ok || !mem_ok || (check_growth && !growth_ok)))
		return 1;
	return 0;
}
