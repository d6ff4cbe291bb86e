/* fanout-xadd-baseline: the pipelined XADD baseline for the Redis Streams sink.
 *
 * Writes N stream entries of the sink's shape to one Redis over one connection, in pipelined
 * batches: append B XADDs to the output buffer, then read B replies (the first read flushes the
 * buffer), and again. Each entry is what dataplane/outputs/sink_redis.c writes for a publish:
 *
 *   XADD <key> MAXLEN ~ <maxlen> <ms>-<seq> topic <topic> payload <bytes> client <clientid>
 *        qos <q> ts_us <wall us> gen <generation>
 *
 * with explicit, strictly increasing ids (one counter over all keys), key = the stream template
 * with {topic} replaced, topics and clients cycled like bench/workload.py's steady.pcap (entry n:
 * client p(n % clients), topic (n / clients) % topics, payload = n big-endian + (n + i) & 0xff).
 * Reports entries/s and the batch round trip (from the flush of a batch to its last reply:
 * p50/p99/max) as JSON on stdout (and --json FILE). Bounded by --entries and --max-seconds.
 *
 *   fanout-xadd-baseline --redis 127.0.0.1:6390 --entries 1000000 --batch 256 --payload 64
 *   fanout-xadd-baseline --redis /run/redis/redis.sock --batch 16 --json /tmp/base.json
 *
 * By default each entry is appended with redisAppendCommandArgv(), as the sink does; --raw formats
 * the whole batch's RESP into one buffer and appends it once (hiredis then only writes it and parses
 * the replies): what a writer without hiredis's per-command formatting costs.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#define MAX_TOPICS 65536
#define MAX_CLIENTS 65536
#define HIST 24 /* log2 buckets as the sink's rtt_hist: bucket = bit length of the value in us */

struct opts {
	const char *redis;
	uint64_t entries;
	uint32_t batch;
	uint32_t payload;
	uint32_t topics;
	uint32_t clients;
	uint64_t maxlen;
	const char *topic_pattern; /* "{t}" = topic index */
	const char *stream;        /* "{topic}" = the topic */
	const char *client_prefix;
	int qos;
	uint32_t gen;
	double max_seconds;
	const char *json;
	bool flush; /* FLUSHALL before the run */
	bool raw;   /* format the batch's RESP here, one append per batch (no hiredis formatting) */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000u;
}

/* Replaces every occurrence of `what` in tmpl by `with`. */
static char *subst(const char *tmpl, const char *what, const char *with)
{
	size_t wl = strlen(what), nl = strlen(with), n = 0;
	for (const char *p = strstr(tmpl, what); p != NULL; p = strstr(p + wl, what))
		n++;
	char *out = malloc(strlen(tmpl) + n * nl + 1);
	if (out == NULL)
		return NULL;
	char *o = out;
	for (const char *p = tmpl;;) {
		const char *q = strstr(p, what);
		if (q == NULL) {
			strcpy(o, p);
			break;
		}
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, with, nl);
		o += nl;
		p = q + wl;
	}
	return out;
}

/* Decimal digits of v at p; returns the end. */
static char *put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10u);
		v /= 10u;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* --raw: one RESP bulk string ("$<len>\r\n<bytes>\r\n") at p; returns the end. */
static char *put_bulk(char *p, const void *s, size_t l)
{
	*p++ = '$';
	p = put_u64(p, l);
	*p++ = '\r';
	*p++ = '\n';
	memcpy(p, s, l);
	p += l;
	*p++ = '\r';
	*p++ = '\n';
	return p;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *sorted, size_t n, double q)
{
	if (n == 0)
		return 0;
	size_t i = (size_t)(q * (double)n);
	if (i >= n)
		i = n - 1;
	return sorted[i];
}

static void usage(FILE *f)
{
	fputs("usage: fanout-xadd-baseline --redis HOST:PORT|/unix/path [--entries N] [--batch B]\n"
	      "         [--payload BYTES] [--topics T] [--clients C] [--maxlen M] [--qos Q] [--gen G]\n"
	      "         [--topic-pattern bench/t{t}] [--stream fanout:{topic}] [--client-prefix p]\n"
	      "         [--max-seconds S] [--flushall] [--raw] [--json FILE]\n"
	      "Pipelined XADDs of the Redis Streams sink's entry shape over one connection; JSON result.\n"
	      "--raw: the batch's RESP is formatted here into one buffer and appended at once, instead of\n"
	      "one redisAppendCommandArgv() per entry (as the sink does): the client-side cost floor.\n",
	      f);
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
		return -1;
	*v = x;
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {
		.redis = NULL,
		.entries = 1000000,
		.batch = 256,
		.payload = 64,
		.topics = 4,
		.clients = 4,
		.maxlen = 1000000,
		.topic_pattern = "bench/t{t}",
		.stream = "fanout:{topic}",
		.client_prefix = "p",
		.qos = 0,
		.gen = 1,
		.max_seconds = 60.0,
		.json = NULL,
		.flush = false,
	};
	static const struct option lo[] = {
		{ "redis", required_argument, NULL, 'r' },
		{ "entries", required_argument, NULL, 'n' },
		{ "batch", required_argument, NULL, 'b' },
		{ "payload", required_argument, NULL, 'p' },
		{ "topics", required_argument, NULL, 't' },
		{ "clients", required_argument, NULL, 'c' },
		{ "maxlen", required_argument, NULL, 'm' },
		{ "qos", required_argument, NULL, 'q' },
		{ "gen", required_argument, NULL, 'g' },
		{ "topic-pattern", required_argument, NULL, 'T' },
		{ "stream", required_argument, NULL, 'S' },
		{ "client-prefix", required_argument, NULL, 'C' },
		{ "max-seconds", required_argument, NULL, 'x' },
		{ "json", required_argument, NULL, 'j' },
		{ "flushall", no_argument, NULL, 'F' },
		{ "raw", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	uint64_t v;
	while ((ch = getopt_long(argc, argv, "r:n:b:p:t:c:m:q:g:T:S:C:x:j:FRh", lo, NULL)) != -1) {
		switch (ch) {
		case 'r': o.redis = optarg; break;
		case 'T': o.topic_pattern = optarg; break;
		case 'S': o.stream = optarg; break;
		case 'C': o.client_prefix = optarg; break;
		case 'j': o.json = optarg; break;
		case 'F': o.flush = true; break;
		case 'R': o.raw = true; break;
		case 'x': o.max_seconds = atof(optarg); break;
		case 'h': usage(stdout); return 0;
		case 'q':
			if (strcmp(optarg, "-1") == 0) {
				o.qos = -1;
				break;
			}
			/* fall through */
		default:
			if (ch == '?' || parse_u64(optarg, &v) != 0) {
				usage(stderr);
				return 2;
			}
			switch (ch) {
			case 'n': o.entries = v; break;
			case 'b': o.batch = (uint32_t)v; break;
			case 'p': o.payload = (uint32_t)v; break;
			case 't': o.topics = (uint32_t)v; break;
			case 'c': o.clients = (uint32_t)v; break;
			case 'm': o.maxlen = v; break;
			case 'q': o.qos = (int)v; break;
			case 'g': o.gen = (uint32_t)v; break;
			}
		}
	}
	if (o.redis == NULL || o.batch < 1 || o.batch > 1000000 || o.payload > 65535 || o.topics < 1 ||
	    o.topics > MAX_TOPICS || o.clients < 1 || o.clients > MAX_CLIENTS || o.qos < -1 || o.qos > 1 ||
	    o.max_seconds <= 0) {
		usage(stderr);
		return 2;
	}

	redisContext *rc;
	struct timeval tv = { .tv_sec = 5, .tv_usec = 0 };
	if (o.redis[0] == '/') {
		rc = redisConnectUnixWithTimeout(o.redis, tv);
	} else {
		char host[256];
		const char *colon = strrchr(o.redis, ':');
		if (colon == NULL || (size_t)(colon - o.redis) >= sizeof(host) || parse_u64(colon + 1, &v) != 0 ||
		    v == 0 || v > 65535) {
			fprintf(stderr, "--redis: HOST:PORT or an absolute unix socket path\n");
			return 2;
		}
		memcpy(host, o.redis, (size_t)(colon - o.redis));
		host[colon - o.redis] = '\0';
		rc = redisConnectWithTimeout(host, (int)v, tv);
	}
	if (rc == NULL || rc->err) {
		fprintf(stderr, "connect %s: %s\n", o.redis, rc ? rc->errstr : "out of memory");
		return 1;
	}
	struct timeval io = { .tv_sec = 10, .tv_usec = 0 };
	redisSetTimeout(rc, io);
	if (o.flush) {
		redisReply *r = redisCommand(rc, "FLUSHALL");
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			fprintf(stderr, "FLUSHALL: %s\n", r ? r->str : rc->errstr);
			return 1;
		}
		freeReplyObject(r);
	}

	/* Per-topic and per-client strings, prepared once (the sink expands its template per entry;
	 * the baseline measures Redis and the pipeline, not string building). */
	char **topic = calloc(o.topics, sizeof(*topic)), **key = calloc(o.topics, sizeof(*key));
	char **client = calloc(o.clients, sizeof(*client));
	uint8_t *payload = malloc(o.payload + 4);
	size_t nb = (size_t)((o.entries + o.batch - 1) / o.batch);
	uint64_t *rtt = malloc((nb ? nb : 1) * sizeof(*rtt));
	size_t raw_cap = 0;
	char *raw = NULL;
	if (topic == NULL || key == NULL || client == NULL || payload == NULL || rtt == NULL) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	for (uint32_t t = 0; t < o.topics; t++) {
		char num[16];
		snprintf(num, sizeof(num), "%" PRIu32, t);
		topic[t] = subst(o.topic_pattern, "{t}", num);
		key[t] = topic[t] ? subst(o.stream, "{topic}", topic[t]) : NULL;
		if (key[t] == NULL) {
			fprintf(stderr, "out of memory\n");
			return 1;
		}
	}
	for (uint32_t c = 0; c < o.clients; c++) {
		client[c] = malloc(strlen(o.client_prefix) + 12);
		if (client[c] == NULL) {
			fprintf(stderr, "out of memory\n");
			return 1;
		}
		sprintf(client[c], "%s%" PRIu32, o.client_prefix, c);
	}
	if (o.raw) {
		size_t longest = 0;
		for (uint32_t t = 0; t < o.topics; t++)
			longest = strlen(key[t]) + strlen(topic[t]) > longest ? strlen(key[t]) + strlen(topic[t])
									      : longest;
		raw_cap = (size_t)o.batch * (o.payload + longest + strlen(o.client_prefix) + 512);
		if ((raw = malloc(raw_cap)) == NULL) {
			fprintf(stderr, "out of memory\n");
			return 1;
		}
	}
	char maxlen_s[24], qos_s[8], gen_s[16];
	snprintf(maxlen_s, sizeof(maxlen_s), "%" PRIu64, o.maxlen);
	snprintf(qos_s, sizeof(qos_s), "%d", o.qos);
	snprintf(gen_s, sizeof(gen_s), "%" PRIu32, o.gen);

	const uint64_t id_ms = wall_us() / 1000u;
	const uint64_t deadline = mono_ns() + (uint64_t)(o.max_seconds * 1e9);
	uint64_t sent = 0, ok = 0, errors = 0, batches = 0, rtt_sum = 0;
	char first_error[256] = "";
	bool io_failed = false, timed_out = false;
	const uint64_t t0 = mono_ns();
	while (sent < o.entries) {
		if (mono_ns() > deadline) {
			timed_out = true;
			break;
		}
		uint32_t n = (uint32_t)((o.entries - sent) < o.batch ? (o.entries - sent) : o.batch);
		char *rp = raw;
		for (uint32_t i = 0; i < n; i++) {
			uint64_t e = sent + i;
			uint32_t c = (uint32_t)(e % o.clients), t = (uint32_t)((e / o.clients) % o.topics);
			payload[0] = (uint8_t)(e >> 24);
			payload[1] = (uint8_t)(e >> 16);
			payload[2] = (uint8_t)(e >> 8);
			payload[3] = (uint8_t)e;
			for (uint32_t k = 4; k < o.payload; k++)
				payload[k] = (uint8_t)(e + k - 4);
			char id[48], ts[24];
			if (o.raw) {
				char *q = put_u64(id, id_ms);
				*q++ = '-';
				*put_u64(q, e + 1) = '\0';
				*put_u64(ts, wall_us()) = '\0';
			} else {
				snprintf(id, sizeof(id), "%" PRIu64 "-%" PRIu64, id_ms, e + 1);
				snprintf(ts, sizeof(ts), "%" PRIu64, wall_us());
			}
			const char *argv_[18];
			size_t len_[18];
			int a = 0;
#define ARG(s, l) (argv_[a] = (s), len_[a] = (l), a++)
#define SARG(s) ARG((s), strlen(s))
			SARG("XADD");
			SARG(key[t]);
			if (o.maxlen) {
				SARG("MAXLEN");
				SARG("~");
				SARG(maxlen_s);
			}
			SARG(id);
			SARG("topic");
			SARG(topic[t]);
			SARG("payload");
			ARG((const char *)payload, o.payload);
			SARG("client");
			SARG(client[c]);
			SARG("qos");
			SARG(qos_s);
			SARG("ts_us");
			SARG(ts);
			SARG("gen");
			SARG(gen_s);
#undef SARG
#undef ARG
			if (o.raw) {
				*rp++ = '*';
				rp = put_u64(rp, (uint64_t)a);
				*rp++ = '\r';
				*rp++ = '\n';
				for (int k = 0; k < a; k++)
					rp = put_bulk(rp, argv_[k], len_[k]);
			} else if (redisAppendCommandArgv(rc, a, argv_, len_) != REDIS_OK) {
				fprintf(stderr, "append: %s\n", rc->errstr);
				return 1;
			}
		}
		if (o.raw && redisAppendFormattedCommand(rc, raw, (size_t)(rp - raw)) != REDIS_OK) {
			fprintf(stderr, "append: %s\n", rc->errstr);
			return 1;
		}
		uint64_t b0 = mono_ns();
		for (uint32_t i = 0; i < n; i++) {
			redisReply *r = NULL;
			if (redisGetReply(rc, (void **)&r) != REDIS_OK || r == NULL) {
				snprintf(first_error, sizeof(first_error), "I/O: %s", rc->errstr);
				io_failed = true;
				break;
			}
			if (r->type == REDIS_REPLY_ERROR) {
				if (errors++ == 0)
					snprintf(first_error, sizeof(first_error), "%s", r->str);
			} else {
				ok++;
			}
			freeReplyObject(r);
		}
		uint64_t b1 = mono_ns();
		if (io_failed)
			break;
		rtt[batches++] = (b1 - b0) / 1000u;
		rtt_sum += (b1 - b0) / 1000u;
		sent += n;
	}
	const uint64_t t1 = mono_ns();
	for (char *q = first_error; *q; q++)
		if (*q == '"' || *q == '\\' || (unsigned char)*q < 0x20)
			*q = '\'';
	double secs = (double)(t1 - t0) / 1e9;

	uint64_t rtt_max = 0, hist[HIST] = { 0 };
	for (size_t i = 0; i < batches; i++) {
		if (rtt[i] > rtt_max)
			rtt_max = rtt[i];
		unsigned b = rtt[i] ? 64u - (unsigned)__builtin_clzll(rtt[i]) : 0;
		hist[b < HIST ? b : HIST - 1]++;
	}
	char hs[HIST * 24] = "";
	for (size_t i = 0, off = 0; i < HIST; i++)
		off += (size_t)snprintf(hs + off, sizeof(hs) - off, "%s%" PRIu64, i ? "," : "", hist[i]);
	qsort(rtt, batches, sizeof(*rtt), cmp_u64);

	char buf[4096];
	int len = snprintf(
		buf, sizeof(buf),
		"{\"tool\":\"fanout-xadd-baseline\",\"redis\":\"%s\",\"connection\":\"%s\",\"entries\":%" PRIu64
		",\"written\":%" PRIu64 ",\"errors\":%" PRIu64
		",\"first_error\":\"%s\",\"io_failed\":%s,\"timed_out\":%s"
		",\"batch\":%" PRIu32 ",\"batches\":%" PRIu64 ",\"payload_bytes\":%" PRIu32 ",\"topics\":%" PRIu32
		",\"clients\":%" PRIu32 ",\"maxlen\":%" PRIu64
		",\"qos\":%d,\"stream\":\"%s\",\"raw\":%s,\"elapsed_s\":%.6f"
		",\"entries_per_s\":%.1f,\"batch_rtt_us\":{\"p50\":%" PRIu64 ",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64
		",\"max\":%" PRIu64 ",\"mean\":%.1f,\"n\":%" PRIu64 "},\"rtt_hist\":[%s]}\n",
		o.redis, o.redis[0] == '/' ? "unix" : "tcp", o.entries, ok, errors, first_error,
		io_failed ? "true" : "false", timed_out ? "true" : "false", o.batch, batches, o.payload, o.topics,
		o.clients, o.maxlen, o.qos, o.stream, o.raw ? "true" : "false", secs,
		secs > 0 ? (double)ok / secs : 0.0, pct(rtt, batches, 0.50), pct(rtt, batches, 0.90),
		pct(rtt, batches, 0.99), rtt_max, batches ? (double)rtt_sum / (double)batches : 0.0, batches, hs);
	if (len < 0 || (size_t)len >= sizeof(buf)) {
		fprintf(stderr, "result too long\n");
		return 1;
	}
	fputs(buf, stdout);
	if (o.json != NULL) {
		FILE *f = fopen(o.json, "w");
		if (f == NULL || fputs(buf, f) < 0 || fclose(f) != 0) {
			fprintf(stderr, "%s: %s\n", o.json, strerror(errno));
			return 1;
		}
	}
	redisFree(rc);
	return (io_failed || errors) ? 1 : 0;
}
