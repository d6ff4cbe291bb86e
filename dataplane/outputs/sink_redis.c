/* The Redis Streams sink (docs/outputs.md): one control thread per sink drains its ring and
 * writes pipelined batches of
 *   XADD <stream> MAXLEN ~ <maxlen> <ms>-<seq> topic <t> payload <p> client <c> qos <q> ts_us <us> gen <id>
 * over one hiredis connection (TCP or unix socket, AUTH with a password or an ACL user and
 * password, SELECT). A batch closes when it holds `batch` entries or `batch_us` after its first
 * entry. Entry ids are chosen here, strictly increasing across all streams (the receive time in
 * ms, a sequence within the ms), so a batch whose replies were lost with the connection is sent
 * again with the same ids after the reconnect: Redis refuses an id that is not above the
 * stream's top ("equal or smaller"), which is how a retry of an entry it already has is told
 * from a new one -- written once, never twice. Reconnects back off from reconnect_min_ms
 * doubling to reconnect_max_ms. While the sink cannot write, its ring fills and the workers
 * count ring_full drops: they never wait for it. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dataplane.h"
#include "json_out.h"
#include "outputs.h"
#include "resp_enc.h"

#define SINK_PAYLOAD_MAX 65536

struct sink {
	const struct fo_sink_config *cfg;
	redisContext *c;
	uint64_t last_ms; /* the last id given: last_ms-seq */
	uint32_t seq;
	uint32_t n; /* entries in batch[], oldest first; kept across a reconnect */
	struct fo_out_msg **batch;
	char *key; /* expanded stream key */
	size_t key_cap;
	uint8_t *pbuf; /* a chained payload, flattened */
	char *out;     /* the batch's commands, RESP (resp_enc.h) */
	size_t out_len, out_cap;
	uint32_t backoff_ms;
	char maxlen[24];
	char addr[160];
};

int fo_sink_prepare(struct fo_output *o, const struct fo_sink_config *cfg, char *err, size_t errlen)
{
	struct sink *s = calloc(1, sizeof(*s));
	if (s) {
		s->batch = calloc(cfg->batch, sizeof(*s->batch));
		s->key_cap = FO_MAX_TEMPLATE_LEN + FO_MAX_TOPIC_LEN_LIMIT + 1;
		s->key = malloc(s->key_cap);
		s->pbuf = malloc(SINK_PAYLOAD_MAX);
	}
	if (!s || !s->batch || !s->key || !s->pbuf) {
		if (s) {
			free(s->batch);
			free(s->key);
			free(s->pbuf);
		}
		free(s);
		snprintf(err, errlen, "sinks[%u]: out of memory", o->idx);
		return -1;
	}
	s->cfg = cfg;
	s->backoff_ms = cfg->reconnect_min_ms;
	snprintf(s->maxlen, sizeof(s->maxlen), "%" PRIu64, cfg->maxlen);
	if (cfg->unix_path)
		snprintf(s->addr, sizeof(s->addr), "%s", cfg->unix_path);
	else
		snprintf(s->addr, sizeof(s->addr), "%s:%u", cfg->host, cfg->port);
	o->impl = s;
	return 0;
}

static void disconnect(struct fo_output *o, struct sink *s)
{
	if (s->c) {
		redisFree(s->c);
		s->c = NULL;
	}
	atomic_store(&o->st.connected, 0);
}

/* A command on a fresh connection (AUTH, SELECT); false with last_error set when it fails. */
static bool setup_cmd(struct fo_output *o, struct sink *s, int argc, const char **argv, const char *what)
{
	redisReply *r = redisCommandArgv(s->c, argc, argv, NULL);
	if (!r) {
		fo_out_set_error(o, "%s %s: %s", what, s->addr, s->c->errstr);
		return false;
	}
	bool ok = r->type != REDIS_REPLY_ERROR;
	if (!ok)
		fo_out_set_error(o, "%s %s: %.*s", what, s->addr, (int)r->len, r->str);
	freeReplyObject(r);
	return ok;
}

static bool try_connect(struct fo_output *o, struct sink *s)
{
	const struct fo_sink_config *cfg = s->cfg;
	struct timeval tv = { .tv_sec = cfg->timeout_ms / 1000, .tv_usec = (cfg->timeout_ms % 1000) * 1000 };
	s->c = cfg->unix_path ? redisConnectUnixWithTimeout(cfg->unix_path, tv)
			      : redisConnectWithTimeout(cfg->host, cfg->port, tv);
	if (!s->c || s->c->err) {
		fo_out_set_error(o, "connect %s: %s", s->addr, s->c ? s->c->errstr : "out of memory");
		disconnect(o, s);
		return false;
	}
	redisSetTimeout(s->c, tv);
	if (!cfg->unix_path)
		redisEnableKeepAlive(s->c);
	if (cfg->password) {
		const char *argv[3] = { "AUTH", cfg->username ? cfg->username : cfg->password, cfg->password };
		if (!setup_cmd(o, s, cfg->username ? 3 : 2, argv, "AUTH")) {
			disconnect(o, s);
			return false;
		}
	}
	if (cfg->db) {
		char db[16];
		snprintf(db, sizeof(db), "%u", cfg->db);
		const char *argv[2] = { "SELECT", db };
		if (!setup_cmd(o, s, 2, argv, "SELECT")) {
			disconnect(o, s);
			return false;
		}
	}
	atomic_store(&o->st.connected, 1);
	o->st.connected_since_ms = fo_out_wall_ms();
	return true;
}

/* The id of an entry: its receive time in ms, or the last id's ms when that is later (ids only
 * grow), with a sequence within the ms. Given once; a retry reuses it. */
static void assign_id(struct sink *s, struct fo_out_msg *m)
{
	uint64_t ms = fo_out_wall_us(m->rx_tsc) / 1000u;
	if (ms <= s->last_ms) {
		ms = s->last_ms;
		s->seq++;
	} else {
		s->seq = 0;
	}
	s->last_ms = ms;
	m->stream_id_ms = ms;
	m->stream_id_seq = s->seq;
}

/* Room for n more bytes of commands in s->out (the sink thread's own buffer; it only grows). */
static bool out_room(struct sink *s, size_t n)
{
	if (s->out_len + n <= s->out_cap)
		return true;
	size_t cap = s->out_cap ? s->out_cap : 65536;
	while (cap < s->out_len + n)
		cap *= 2;
	char *b = realloc(s->out, cap);
	if (!b)
		return false;
	s->out = b;
	s->out_cap = cap;
	return true;
}

/* One entry's XADD, formatted into s->out. False when the buffer cannot grow (out of memory). */
static bool append_xadd(struct sink *s, struct fo_out_msg *m)
{
	size_t klen = fo_out_tmpl_expand(m->tmpl, m->topic, m->topic_len, s->key, s->key_cap);
	uint32_t plen;
	const uint8_t *pl = fo_out_payload(m, s->pbuf, SINK_PAYLOAD_MAX, &plen);
	char client[INET6_ADDRSTRLEN + 8];
	size_t clen = m->client_id_len;
	const char *cid = (const char *)m->client_id;
	if (!clen && m->client_v6) {
		char a[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, m->client_ip6, a, sizeof(a));
		clen = (size_t)snprintf(client, sizeof(client), "[%s]:%u", a, m->client_port);
		cid = client;
	} else if (!clen) {
		clen = (size_t)snprintf(client, sizeof(client), "%u.%u.%u.%u:%u", m->client_ip >> 24,
					(m->client_ip >> 16) & 255, (m->client_ip >> 8) & 255, m->client_ip & 255,
					m->client_port);
		cid = client;
	}
	/* The array header, 18 arguments' framing, the variable bytes (key, topic, payload, client), and
	 * 256 for the fixed ones: 40 bytes of names, maxlen, id, qos, ts_us and gen (at most 20 + 41 + 2 +
	 * 20 + 10 digits). */
	if (!out_room(s, 32 + 18 * fo_resp_bulk_room(0) + klen + m->topic_len + plen + clen + 256))
		return false;
	char *p = s->out + s->out_len;
	p = fo_resp_array(p, s->cfg->maxlen ? 18 : 15);
	p = fo_resp_bulk(p, "XADD", 4);
	p = fo_resp_bulk(p, s->key, klen);
	if (s->cfg->maxlen) {
		p = fo_resp_bulk(p, "MAXLEN", 6);
		p = fo_resp_bulk(p, "~", 1);
		p = fo_resp_bulk_str(p, s->maxlen);
	}
	char id[48], *e = fo_resp_u64(id, m->stream_id_ms);
	*e++ = '-';
	e = fo_resp_u64(e, m->stream_id_seq);
	p = fo_resp_bulk(p, id, (size_t)(e - id));
	p = fo_resp_bulk(p, "topic", 5);
	p = fo_resp_bulk(p, m->topic, m->topic_len);
	p = fo_resp_bulk(p, "payload", 7);
	p = fo_resp_bulk(p, pl, plen);
	p = fo_resp_bulk(p, "client", 6);
	p = fo_resp_bulk(p, cid, clen);
	p = fo_resp_bulk(p, "qos", 3);
	p = fo_resp_bulk_i64(p, m->qos);
	p = fo_resp_bulk(p, "ts_us", 5);
	p = fo_resp_bulk_i64(p, (int64_t)fo_out_wall_us(m->rx_tsc));
	p = fo_resp_bulk(p, "gen", 3);
	p = fo_resp_bulk_i64(p, ((const struct fo_generation *)m->gen)->id);
	s->out_len = (size_t)(p - s->out);
	return true;
}

static bool is_dup_error(const redisReply *r)
{
	return r->str && strstr(r->str, "equal or smaller") != NULL;
}

/* Sends the batch and reads its replies. Entries whose reply arrived are finished and removed;
 * on a lost connection the rest stay, in order, for the next connection. */
static void write_batch(struct fo_output *o, struct sink *s)
{
	/* The whole batch formatted into one buffer, handed to hiredis in one piece; hiredis only reads
	 * the replies, one per command, in order. */
	s->out_len = 0;
	uint32_t sent = 0;
	for (; sent < s->n; sent++) {
		struct fo_out_msg *m = s->batch[sent];
		if (m->attempts == 0)
			assign_id(s, m);
		if (!append_xadd(s, m))
			break; /* out of memory: send what fits, the rest waits for the next batch */
		if (m->attempts < UINT8_MAX)
			m->attempts++;
	}
	if (sent == 0 || redisAppendFormattedCommand(s->c, s->out, s->out_len) != REDIS_OK) {
		fo_out_set_error(o, "batch of %u: out of memory", s->n);
		o->st.errors++;
		fo_out_sleep_us(1000);
		return;
	}
	uint64_t t0 = fo_out_mono_us();
	uint32_t done = 0;
	for (; done < sent; done++) {
		struct fo_out_msg *m = s->batch[done];
		redisReply *r = NULL;
		if (redisGetReply(s->c, (void **)&r) != REDIS_OK || r == NULL) {
			fo_out_set_error(o, "write %s: %s", s->addr,
					 s->c->errstr[0] ? s->c->errstr : "connection lost");
			o->st.errors++;
			disconnect(o, s);
			break;
		}
		if (r->type == REDIS_REPLY_ERROR) {
			if (m->attempts > 1 && is_dup_error(r)) {
				o->st.dup_suppressed++; /* the lost reply's XADD had been done */
				fo_out_finish(o, m, true);
			} else {
				o->st.errors++;
				fo_out_set_error(o, "XADD: %.*s", (int)r->len, r->str);
				fo_out_finish(o, m, false);
			}
		} else {
			fo_out_finish(o, m, true);
		}
		freeReplyObject(r);
	}
	if (done) {
		uint64_t rtt = fo_out_mono_us() - t0;
		o->st.batches++;
		o->st.batched += done;
		fo_out_hist_add(o->st.batch_hist, done);
		fo_out_rtt_add(o, rtt);
	}
	memmove(s->batch, s->batch + done, (s->n - done) * sizeof(*s->batch));
	s->n -= done;
	o->st.inflight = s->n;
}

/* Fills the batch: what the ring has now, then more until it is full or batch_us has passed
 * since the first entry. Returns false when the ring stayed empty. */
static bool fill_batch(struct fo_output *o, struct sink *s)
{
	uint32_t cap = s->cfg->batch;
	s->n += rte_ring_sc_dequeue_burst(o->ring, (void **)s->batch + s->n, cap - s->n, NULL);
	if (s->n == 0)
		return false;
	uint64_t t_first = fo_out_mono_us();
	while (s->n < cap && !atomic_load_explicit(&o->stop, memory_order_relaxed)) {
		uint64_t waited = fo_out_mono_us() - t_first;
		if (waited >= s->cfg->batch_us)
			break;
		uint64_t left = s->cfg->batch_us - waited;
		fo_out_sleep_us(left < 50 ? left : 50);
		s->n += rte_ring_sc_dequeue_burst(o->ring, (void **)s->batch + s->n, cap - s->n, NULL);
	}
	o->st.inflight = s->n;
	return true;
}

static void discard_all(struct fo_output *o, struct sink *s)
{
	for (uint32_t i = 0; i < s->n; i++) {
		o->st.discarded++;
		fo_out_finish(o, s->batch[i], false);
	}
	s->n = 0;
	struct fo_out_msg *m;
	while (rte_ring_sc_dequeue(o->ring, (void **)&m) == 0) {
		o->st.discarded++;
		fo_out_finish(o, m, false);
	}
	o->st.inflight = 0;
}

void *fo_sink_thread(void *arg)
{
	struct fo_output *o = arg;
	struct sink *s = o->impl;
	uint64_t idle_us = 10, stop_deadline = 0;
	bool ever_connected = false;
	for (;;) {
		if (atomic_load_explicit(&o->stop, memory_order_acquire)) {
			/* The workers have stopped: write what is left while the timeout allows. */
			if (!stop_deadline)
				stop_deadline = fo_out_mono_us() + (uint64_t)s->cfg->timeout_ms * 1000u;
			if ((s->n == 0 && rte_ring_count(o->ring) == 0) || !s->c || fo_out_mono_us() > stop_deadline)
				break;
		}
		if (!s->c) {
			if (try_connect(o, s)) {
				if (ever_connected)
					o->st.reconnects++;
				ever_connected = true;
				s->backoff_ms = s->cfg->reconnect_min_ms;
				continue;
			}
			o->st.connect_failures++;
			for (uint64_t t = 0; t < s->backoff_ms && !atomic_load(&o->stop); t += 10)
				fo_out_sleep_us(10000);
			s->backoff_ms = s->backoff_ms * 2 < s->cfg->reconnect_max_ms ? s->backoff_ms * 2
										     : s->cfg->reconnect_max_ms;
			continue;
		}
		if (s->n == 0 && !fill_batch(o, s)) {
			fo_out_sleep_us(idle_us); /* idle: back off to 1 ms between looks at the ring */
			idle_us = idle_us * 2 < 1000 ? idle_us * 2 : 1000;
			continue;
		}
		idle_us = 10;
		write_batch(o, s);
	}
	discard_all(o, s);
	disconnect(o, s);
	return NULL;
}

void fo_sink_write_json(FILE *f, const struct fo_output *o)
{
	const struct sink *s = o->impl;
	fprintf(f, ",\"redis\":");
	fo_json_cstr(f, s ? s->addr : "");
	if (!s)
		return;
	fprintf(f, ",\"user\":");
	fo_json_cstr(f, s->cfg->username ? s->cfg->username : "");
	fprintf(f, ",\"auth\":%s,\"db\":%u,\"batch\":%u,\"batch_us\":%u,\"maxlen\":%" PRIu64 ",\"puback\":\"%s\"",
		s->cfg->password ? "true" : "false", s->cfg->db, s->cfg->batch, s->cfg->batch_us, s->cfg->maxlen,
		s->cfg->puback == FO_PUBACK_WRITTEN ? "written" : "accepted");
}
