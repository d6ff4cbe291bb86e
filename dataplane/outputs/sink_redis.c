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
 * count ring_full drops: they never wait for it.
 *
 * With `cluster: true` the sink writes to a Redis Cluster: redis: is a seed node; the thread reads
 * the slot map (CLUSTER SLOTS), keeps one connection per primary and sends each batch as one
 * pipeline per primary, every entry to the primary of its stream key's hash slot
 * (redis_cluster.h). MOVED updates the slot and re-reads the map, ASK sends the entry to the named
 * node behind ASKING, TRYAGAIN/CLUSTERDOWN and lost connections keep the entry for the next round.
 * An entry that cannot be sent this round keeps every later entry of its stream back too (they
 * share the slot), so a stream's entries reach Redis in order and the id rule above still tells a
 * retry from a new entry. With wait_replicas, a primary's part of a batch counts as written only
 * when WAIT confirms that many of its replicas have it (at most the replicas the map lists for it,
 * so a shard whose replica took over alone is not stalled); otherwise it is sent again. */
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
#include "redis_cluster.h"
#include "resp_enc.h"

#define SINK_PAYLOAD_MAX 65536

/* Commands being written for one connection; the buffer only grows. */
struct obuf {
	char *p;
	size_t len, cap;
};

struct sink {
	const struct fo_sink_config *cfg;
	redisContext *c;
	uint64_t last_ms; /* the last id given: last_ms-seq */
	uint32_t seq;
	uint32_t n; /* entries in batch[], oldest first; kept across a reconnect */
	struct fo_out_msg **batch;
	char *key; /* expanded stream key */
	size_t key_cap;
	uint8_t *pbuf;   /* a chained payload, flattened */
	struct obuf out; /* the batch's commands, RESP (resp_enc.h) */
	uint32_t backoff_ms;
	char maxlen[24];
	char addr[160];
	struct cluster *cl; /* cluster: true */
};

/* One primary's connection and its part of the round's batch. */
struct cnode {
	redisContext *c;
	struct obuf out; /* its commands this round */
	uint32_t *idx;   /* batch positions sent to it this round, in order */
	uint32_t n_idx;
	uint64_t retry_at_us; /* after a failed connect: not before */
	uint32_t backoff_ms;
	bool ever;
};

enum { R_KEEP = 0, R_DONE, R_DUP, R_FAILED };

struct cluster {
	struct rc_map map;
	struct cnode nodes[RC_MAX_NODES]; /* nodes[i] is map.nodes[i] */
	uint16_t *ask;                    /* per batch position: the node an ASK named, or RC_NODE_NONE */
	uint8_t *res;                     /* per batch position: this round's outcome (R_*) */
	struct rc_map next;               /* the map being read */
	uint8_t blocked[RC_SLOTS / 8];    /* slots held back this round: later entries of theirs wait too */
	bool stale;                       /* re-read the map before the next round */
	uint64_t map_at_us;
	_Atomic uint32_t nodes_seen, covered; /* for fo_sink_write_json on the main lcore */
};

static void free_cluster(struct cluster *cl)
{
	if (!cl)
		return;
	for (uint32_t i = 0; i < RC_MAX_NODES; i++) {
		free(cl->nodes[i].idx);
		free(cl->nodes[i].out.p);
	}
	free(cl->ask);
	free(cl->res);
	free(cl);
}

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
	if (cfg->cluster) {
		s->cl = calloc(1, sizeof(*s->cl));
		if (s->cl) {
			s->cl->ask = malloc(cfg->batch * sizeof(*s->cl->ask));
			s->cl->res = calloc(cfg->batch, sizeof(*s->cl->res));
			for (uint32_t i = 0; i < RC_MAX_NODES && s->cl->ask && s->cl->res; i++)
				if ((s->cl->nodes[i].idx = malloc(cfg->batch * sizeof(uint32_t))) == NULL)
					break;
		}
		if (!s->cl || !s->cl->ask || !s->cl->res || !s->cl->nodes[RC_MAX_NODES - 1].idx) {
			snprintf(err, errlen, "sinks[%u]: out of memory", o->idx);
			free_cluster(s->cl);
			free(s->batch);
			free(s->key);
			free(s->pbuf);
			free(s);
			return -1;
		}
		for (uint32_t i = 0; i < cfg->batch; i++)
			s->cl->ask[i] = RC_NODE_NONE;
		rc_map_clear(&s->cl->map);
		s->cl->stale = true;
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
static bool setup_cmd(struct fo_output *o, redisContext *c, const char *addr, int argc, const char **argv,
		      const char *what)
{
	redisReply *r = redisCommandArgv(c, argc, argv, NULL);
	if (!r) {
		fo_out_set_error(o, "%s %s: %s", what, addr, c->errstr);
		return false;
	}
	bool ok = r->type != REDIS_REPLY_ERROR;
	if (!ok)
		fo_out_set_error(o, "%s %s: %.*s", what, addr, (int)r->len, r->str);
	freeReplyObject(r);
	return ok;
}

/* A logged-in connection to host:port or the unix socket (host NULL), the database selected; NULL
 * with last_error set when any step fails. addr: how errors name it. */
static redisContext *open_conn(struct fo_output *o, const struct fo_sink_config *cfg, const char *host, uint16_t port,
			       const char *addr)
{
	struct timeval tv = { .tv_sec = cfg->timeout_ms / 1000, .tv_usec = (cfg->timeout_ms % 1000) * 1000 };
	redisContext *c = host ? redisConnectWithTimeout(host, port, tv)
			       : redisConnectUnixWithTimeout(cfg->unix_path, tv);
	if (!c || c->err) {
		fo_out_set_error(o, "connect %s: %s", addr, c ? c->errstr : "out of memory");
		if (c)
			redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	if (host)
		redisEnableKeepAlive(c);
	if (cfg->password) {
		const char *argv[3] = { "AUTH", cfg->username ? cfg->username : cfg->password, cfg->password };
		if (!setup_cmd(o, c, addr, cfg->username ? 3 : 2, argv, "AUTH")) {
			redisFree(c);
			return NULL;
		}
	}
	if (cfg->db) {
		char db[16];
		snprintf(db, sizeof(db), "%u", cfg->db);
		const char *argv[2] = { "SELECT", db };
		if (!setup_cmd(o, c, addr, 2, argv, "SELECT")) {
			redisFree(c);
			return NULL;
		}
	}
	return c;
}

static bool try_connect(struct fo_output *o, struct sink *s)
{
	s->c = open_conn(o, s->cfg, s->cfg->unix_path ? NULL : s->cfg->host, s->cfg->port, s->addr);
	if (!s->c)
		return false;
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

/* Room for n more bytes in b. */
static bool out_room(struct obuf *b, size_t n)
{
	if (b->len + n <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 65536;
	while (cap < b->len + n)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p)
		return false;
	b->p = p;
	b->cap = cap;
	return true;
}

/* One entry's XADD to the stream key (already expanded into s->key, klen bytes), formatted into b.
 * False when the buffer cannot grow (out of memory). */
static bool append_xadd(struct sink *s, struct obuf *b, size_t klen, struct fo_out_msg *m)
{
	uint32_t plen;
	const uint8_t *pl = fo_out_payload(m, s->pbuf, SINK_PAYLOAD_MAX, &plen);
	char client[24];
	size_t clen = m->client_id_len;
	const char *cid = (const char *)m->client_id;
	if (!clen) {
		clen = (size_t)snprintf(client, sizeof(client), "%u.%u.%u.%u:%u", m->client_ip >> 24,
					(m->client_ip >> 16) & 255, (m->client_ip >> 8) & 255, m->client_ip & 255,
					m->client_port);
		cid = client;
	}
	/* The array header, 18 arguments' framing, the variable bytes (key, topic, payload, client), and
	 * 256 for the fixed ones: 40 bytes of names, maxlen, id, qos, ts_us and gen (at most 20 + 41 + 2 +
	 * 20 + 10 digits). */
	if (!out_room(b, 32 + 18 * fo_resp_bulk_room(0) + klen + m->topic_len + plen + clen + 256))
		return false;
	char *p = b->p + b->len;
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
	b->len = (size_t)(p - b->p);
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
	s->out.len = 0;
	uint32_t sent = 0;
	for (; sent < s->n; sent++) {
		struct fo_out_msg *m = s->batch[sent];
		if (m->attempts == 0)
			assign_id(s, m);
		size_t klen = fo_out_tmpl_expand(m->tmpl, m->topic, m->topic_len, s->key, s->key_cap);
		if (!append_xadd(s, &s->out, klen, m))
			break; /* out of memory: send what fits, the rest waits for the next batch */
		if (m->attempts < UINT8_MAX)
			m->attempts++;
	}
	if (sent == 0 || redisAppendFormattedCommand(s->c, s->out.p, s->out.len) != REDIS_OK) {
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

/* ---- Redis Cluster ---- */

#define CL_REFRESH_GAP_US 100000u /* the map is read at most this often */

static void cl_drop_conn(struct fo_output *o, struct cluster *cl, uint32_t i)
{
	if (cl->nodes[i].c) {
		redisFree(cl->nodes[i].c);
		cl->nodes[i].c = NULL;
	}
	atomic_store(&o->st.connected, 0);
	cl->stale = true;
}

/* The connection to node i, opened when needed; NULL while it cannot be opened (then it is not tried
 * again before its backoff has passed, and the map is to be read again: its primary may have moved). */
static redisContext *cl_conn(struct fo_output *o, struct sink *s, uint32_t i)
{
	struct cluster *cl = s->cl;
	struct cnode *n = &cl->nodes[i];
	if (n->c)
		return n->c;
	uint64_t now = fo_out_mono_us();
	if (now < n->retry_at_us)
		return NULL;
	char addr[RC_HOST_MAX + 8];
	snprintf(addr, sizeof(addr), "%s:%u", cl->map.nodes[i].host, cl->map.nodes[i].port);
	n->c = open_conn(o, s->cfg, cl->map.nodes[i].host, cl->map.nodes[i].port, addr);
	if (!n->c) {
		o->st.connect_failures++;
		uint32_t max = s->cfg->reconnect_max_ms;
		n->backoff_ms = n->backoff_ms == 0 ? s->cfg->reconnect_min_ms
						   : (n->backoff_ms * 2 < max ? n->backoff_ms * 2 : max);
		n->retry_at_us = now + (uint64_t)n->backoff_ms * 1000u;
		cl->stale = true;
		atomic_store(&o->st.connected, 0);
		return NULL;
	}
	if (n->ever)
		o->st.reconnects++;
	n->ever = true;
	n->backoff_ms = 0;
	n->retry_at_us = 0;
	return n->c;
}

/* Reads the slot map from the first node that answers CLUSTER SLOTS (the known primaries, then the
 * seed). Connections to primaries that stay are kept under their new index, the others closed.
 * False when no node answered. */
static bool cl_refresh(struct fo_output *o, struct sink *s)
{
	struct cluster *cl = s->cl;
	cl->map_at_us = fo_out_mono_us();
	bool read = false;
	for (uint32_t i = 0; i <= cl->map.n_nodes && !read; i++) {
		bool seed = i == cl->map.n_nodes;
		const char *host = seed ? s->cfg->host : cl->map.nodes[i].host;
		redisContext *c = seed ? open_conn(o, s->cfg, s->cfg->host, s->cfg->port, s->addr) : cl_conn(o, s, i);
		if (!c) {
			if (seed)
				o->st.connect_failures++;
			continue;
		}
		redisReply *r = redisCommand(c, "CLUSTER SLOTS");
		if (!r) {
			fo_out_set_error(o, "CLUSTER SLOTS %s: %s", seed ? s->addr : host, c->errstr);
			if (!seed)
				cl_drop_conn(o, cl, i);
		} else if (rc_map_from_slots(&cl->next, r, host) != 0) {
			fo_out_set_error(o, "CLUSTER SLOTS %s: not a slots reply%s%.*s", seed ? s->addr : host,
					 r->type == REDIS_REPLY_ERROR ? ": " : "",
					 r->type == REDIS_REPLY_ERROR ? (int)r->len : 0, r->str ? r->str : "");
		} else {
			read = true;
		}
		if (r)
			freeReplyObject(r);
		if (seed)
			redisFree(c);
	}
	if (!read)
		return false;
	o->st.map_refreshes++;
	/* The new order of the nodes: each kept primary takes its connection (and buffers) along; the
	 * left-over entries fill the other places with their connections closed. */
	struct cnode old[RC_MAX_NODES];
	bool taken[RC_MAX_NODES] = { false }, placed[RC_MAX_NODES] = { false };
	memcpy(old, cl->nodes, sizeof(old));
	for (uint32_t j = 0; j < cl->next.n_nodes; j++)
		for (uint32_t i = 0; i < cl->map.n_nodes; i++)
			if (!taken[i] && old[i].c && cl->map.nodes[i].port == cl->next.nodes[j].port &&
			    strcmp(cl->map.nodes[i].host, cl->next.nodes[j].host) == 0) {
				cl->nodes[j] = old[i];
				taken[i] = placed[j] = true;
				break;
			}
	uint32_t k = 0;
	for (uint32_t j = 0; j < RC_MAX_NODES; j++) {
		if (placed[j])
			continue;
		while (taken[k])
			k++;
		cl->nodes[j] = old[k];
		taken[k] = true;
		if (cl->nodes[j].c) {
			redisFree(cl->nodes[j].c);
			cl->nodes[j].c = NULL;
		}
		cl->nodes[j].retry_at_us = 0;
		cl->nodes[j].backoff_ms = 0;
	}
	memcpy(&cl->map, &cl->next, sizeof(cl->map));
	for (uint32_t i = 0; i < s->cfg->batch; i++)
		cl->ask[i] = RC_NODE_NONE; /* node indexes changed; the owner answers ASK again if need be */
	atomic_store(&cl->nodes_seen, cl->map.n_nodes);
	atomic_store(&cl->covered, cl->map.covered);
	cl->stale = cl->map.covered < RC_SLOTS;
	if (cl->stale) {
		fo_out_set_error(o, "cluster map: %u of %u slots served", cl->map.covered, RC_SLOTS);
		atomic_store(&o->st.connected, 0);
	} else if (!atomic_load(&o->st.connected)) {
		o->st.connected_since_ms = fo_out_wall_ms();
		atomic_store(&o->st.connected, 1);
	}
	return true;
}

/* Holds slot back for the rest of the round. */
static void cl_block(struct cluster *cl, uint16_t slot)
{
	cl->blocked[slot >> 3] |= (uint8_t)(1u << (slot & 7));
}

static bool cl_is_blocked(const struct cluster *cl, uint16_t slot)
{
	return cl->blocked[slot >> 3] & (1u << (slot & 7));
}

/* One reply of a node's pipeline for batch position i: its outcome (R_*), or R_KEEP for another
 * round (redirection, transient error). */
static uint8_t cl_outcome(struct fo_output *o, struct sink *s, uint32_t node, uint32_t i, const redisReply *r)
{
	struct cluster *cl = s->cl;
	if (r->type != REDIS_REPLY_ERROR)
		return R_DONE;
	struct rc_redirect red;
	enum rc_redirect_kind kind = rc_parse_redirect(r->str, r->len, &red);
	if (kind != RC_NOT_REDIRECT) {
		const char *host = red.host[0] ? red.host : cl->map.nodes[node].host;
		uint16_t to = rc_map_node(&cl->map, host, strlen(host), red.port);
		o->st.redirects++;
		if (kind == RC_MOVED) {
			if (to != RC_NODE_NONE && cl->map.slot_node[red.slot] == RC_NODE_NONE)
				cl->map.covered++;
			cl->map.slot_node[red.slot] = to;
			cl->ask[i] = RC_NODE_NONE;
			cl->stale = true;
		} else {
			cl->ask[i] = to;
		}
		return R_KEEP;
	}
	struct fo_out_msg *m = s->batch[i];
	if (m->attempts > 1 && is_dup_error(r))
		return R_DUP; /* the lost reply's XADD had been done */
	o->st.errors++;
	fo_out_set_error(o, "XADD %s:%u: %.*s", cl->map.nodes[node].host, cl->map.nodes[node].port, (int)r->len,
			 r->str);
	if (rc_error_is_transient(r->str, r->len)) {
		cl->stale = true;
		return R_KEEP;
	}
	return R_FAILED;
}

/* Reads node's replies for this round into cl->res. */
static void cl_read_node(struct fo_output *o, struct sink *s, uint32_t node, uint32_t need)
{
	struct cluster *cl = s->cl;
	struct cnode *cn = &cl->nodes[node];
	bool lost = false;
	for (uint32_t k = 0; k < cn->n_idx && !lost; k++) {
		uint32_t i = cn->idx[k];
		redisReply *r = NULL;
		if (cl->ask[i] != RC_NODE_NONE) { /* ASKING's +OK */
			if (redisGetReply(cn->c, (void **)&r) != REDIS_OK || r == NULL) {
				lost = true;
				break;
			}
			freeReplyObject(r);
			r = NULL;
		}
		if (redisGetReply(cn->c, (void **)&r) != REDIS_OK || r == NULL) {
			lost = true;
			break;
		}
		cl->res[i] = cl_outcome(o, s, node, i, r);
		if (cl->ask[i] != RC_NODE_NONE && cl->res[i] != R_KEEP)
			cl->ask[i] = RC_NODE_NONE; /* ASK holds for one command */
		freeReplyObject(r);
	}
	bool confirmed = true;
	if (!lost && need) {
		redisReply *r = NULL;
		if (redisGetReply(cn->c, (void **)&r) != REDIS_OK || r == NULL) {
			lost = true;
		} else {
			confirmed = r->type == REDIS_REPLY_INTEGER && r->integer >= (long long)need;
			if (!confirmed) {
				o->st.unreplicated++;
				fo_out_set_error(o, "WAIT %u %s:%u: %lld replicas", need, cl->map.nodes[node].host,
						 cl->map.nodes[node].port,
						 r->type == REDIS_REPLY_INTEGER ? r->integer : -1ll);
				cl->stale = true; /* a replica may have failed: the map says how many there are */
			}
			freeReplyObject(r);
		}
	}
	if (lost) {
		fo_out_set_error(o, "write %s:%u: %s", cl->map.nodes[node].host, cl->map.nodes[node].port,
				 cn->c->errstr[0] ? cn->c->errstr : "connection lost");
		o->st.errors++;
		cl_drop_conn(o, cl, node);
	}
	if (lost || !confirmed) /* written perhaps, but not known to be on the replicas: sent again */
		for (uint32_t k = 0; k < cn->n_idx; k++)
			if (cl->res[cn->idx[k]] == R_DONE || cl->res[cn->idx[k]] == R_DUP)
				cl->res[cn->idx[k]] = R_KEEP;
}

/* One round: every entry of the batch that can be sent goes to its primary, one pipeline per
 * primary; what comes back finishes the entries or keeps them, in order, for the next round. */
static void cl_write_batch(struct fo_output *o, struct sink *s)
{
	struct cluster *cl = s->cl;
	uint64_t t0 = fo_out_mono_us();
	if (cl->stale && (cl->map.n_nodes == 0 || t0 - cl->map_at_us >= CL_REFRESH_GAP_US))
		cl_refresh(o, s);
	memset(cl->blocked, 0, sizeof(cl->blocked));
	for (uint32_t k = 0; k < RC_MAX_NODES; k++) {
		cl->nodes[k].n_idx = 0;
		cl->nodes[k].out.len = 0;
	}
	bool held = false;
	for (uint32_t i = 0; i < s->n; i++) {
		struct fo_out_msg *m = s->batch[i];
		cl->res[i] = R_KEEP;
		size_t klen = fo_out_tmpl_expand(m->tmpl, m->topic, m->topic_len, s->key, s->key_cap);
		uint16_t slot = rc_key_slot(s->key, klen);
		uint16_t node = cl->ask[i] != RC_NODE_NONE ? cl->ask[i] : cl->map.slot_node[slot];
		if (cl_is_blocked(cl, slot) || node == RC_NODE_NONE || !cl_conn(o, s, node)) {
			cl_block(cl, slot);
			held = true;
			continue;
		}
		struct cnode *cn = &cl->nodes[node];
		size_t mark = cn->out.len;
		if (m->attempts == 0)
			assign_id(s, m);
		static const char asking[] = "*1\r\n$6\r\nASKING\r\n";
		if (cl->ask[i] != RC_NODE_NONE) {
			if (!out_room(&cn->out, sizeof(asking))) {
				cl_block(cl, slot);
				held = true;
				continue;
			}
			memcpy(cn->out.p + cn->out.len, asking, sizeof(asking) - 1);
			cn->out.len += sizeof(asking) - 1;
		}
		if (!append_xadd(s, &cn->out, klen, m)) {
			cn->out.len = mark; /* out of memory: this entry and its stream wait */
			cl_block(cl, slot);
			held = true;
			continue;
		}
		cn->idx[cn->n_idx++] = i;
		if (m->attempts < UINT8_MAX)
			m->attempts++;
	}
	uint32_t need[RC_MAX_NODES];
	for (uint32_t k = 0; k < cl->map.n_nodes; k++) {
		struct cnode *cn = &cl->nodes[k];
		uint32_t reps = cl->map.nodes[k].replicas == UINT8_MAX ? 0 : cl->map.nodes[k].replicas;
		need[k] = s->cfg->wait_replicas < reps ? s->cfg->wait_replicas : reps;
		if (cn->n_idx == 0)
			continue;
		if (need[k]) {
			char w[96], *p = w;
			p = fo_resp_array(p, 3);
			p = fo_resp_bulk(p, "WAIT", 4);
			p = fo_resp_bulk_i64(p, need[k]);
			p = fo_resp_bulk_i64(p, s->cfg->timeout_ms / 2);
			if (out_room(&cn->out, (size_t)(p - w))) {
				memcpy(cn->out.p + cn->out.len, w, (size_t)(p - w));
				cn->out.len += (size_t)(p - w);
			} else {
				cn->n_idx = 0;
			}
		}
		if (cn->n_idx && redisAppendFormattedCommand(cn->c, cn->out.p, cn->out.len) != REDIS_OK) {
			fo_out_set_error(o, "batch for %s:%u: out of memory", cl->map.nodes[k].host,
					 cl->map.nodes[k].port);
			o->st.errors++;
			cl_drop_conn(o, cl, k); /* nothing of it was sent; a fresh connection starts clean */
			cn->n_idx = 0;
		}
	}
	for (uint32_t k = 0; k < cl->map.n_nodes; k++)
		if (cl->nodes[k].n_idx)
			cl_read_node(o, s, k, need[k]);
	uint32_t w = 0, done = 0, n = s->n;
	for (uint32_t i = 0; i < n; i++) {
		struct fo_out_msg *m = s->batch[i];
		switch (cl->res[i]) {
		case R_DUP:
			o->st.dup_suppressed++;
			/* fallthrough */
		case R_DONE:
			fo_out_finish(o, m, true);
			done++;
			break;
		case R_FAILED:
			fo_out_finish(o, m, false);
			done++;
			break;
		default:
			s->batch[w] = m;
			cl->ask[w] = cl->ask[i];
			w++;
		}
	}
	for (uint32_t i = w; i < n; i++)
		cl->ask[i] = RC_NODE_NONE;
	s->n = w;
	o->st.inflight = s->n;
	if (done) {
		o->st.batches++;
		o->st.batched += done;
		fo_out_hist_add(o->st.batch_hist, done);
		fo_out_rtt_add(o, fo_out_mono_us() - t0);
	}
	bool all_up = !held && cl->map.covered == RC_SLOTS && !cl->stale;
	if (all_up && !atomic_load(&o->st.connected)) {
		o->st.connected_since_ms = fo_out_wall_ms();
		atomic_store(&o->st.connected, 1);
	} else if (!all_up && cl->map.covered < RC_SLOTS) {
		atomic_store(&o->st.connected, 0);
	}
	if (!done && s->n)
		fo_out_sleep_us(1000); /* nothing could be finished: the cluster is changing */
}

static void *cluster_thread(struct fo_output *o, struct sink *s)
{
	uint64_t idle_us = 10, stop_deadline = 0;
	for (;;) {
		if (atomic_load_explicit(&o->stop, memory_order_acquire)) {
			if (!stop_deadline)
				stop_deadline = fo_out_mono_us() + (uint64_t)s->cfg->timeout_ms * 1000u;
			if ((s->n == 0 && rte_ring_count(o->ring) == 0) || fo_out_mono_us() > stop_deadline)
				break;
		}
		if (s->n && s->n < s->cfg->batch) /* entries held back: the other streams go on */
			s->n += rte_ring_sc_dequeue_burst(o->ring, (void **)s->batch + s->n, s->cfg->batch - s->n,
							  NULL);
		if (s->n == 0 && !fill_batch(o, s)) {
			fo_out_sleep_us(idle_us);
			idle_us = idle_us * 2 < 1000 ? idle_us * 2 : 1000;
			if (s->cl->stale && fo_out_mono_us() - s->cl->map_at_us >= CL_REFRESH_GAP_US)
				cl_refresh(o, s); /* idle: learn the cluster before entries come */
			continue;
		}
		idle_us = 10;
		cl_write_batch(o, s);
	}
	discard_all(o, s);
	for (uint32_t k = 0; k < RC_MAX_NODES; k++)
		if (s->cl->nodes[k].c) {
			redisFree(s->cl->nodes[k].c);
			s->cl->nodes[k].c = NULL;
		}
	atomic_store(&o->st.connected, 0);
	return NULL;
}

void *fo_sink_thread(void *arg)
{
	struct fo_output *o = arg;
	struct sink *s = o->impl;
	if (s->cl)
		return cluster_thread(o, s);
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
	fprintf(f, ",\"cluster\":%s", s->cl ? "true" : "false");
	if (s->cl)
		fprintf(f, ",\"cluster_nodes\":%u,\"cluster_slots\":%u,\"wait_replicas\":%u",
			atomic_load(&s->cl->nodes_seen), atomic_load(&s->cl->covered), s->cfg->wait_replicas);
	fprintf(f, ",\"user\":");
	fo_json_cstr(f, s->cfg->username ? s->cfg->username : "");
	fprintf(f, ",\"auth\":%s,\"db\":%u,\"batch\":%u,\"batch_us\":%u,\"maxlen\":%" PRIu64 ",\"puback\":\"%s\"",
		s->cfg->password ? "true" : "false", s->cfg->db, s->cfg->batch, s->cfg->batch_us, s->cfg->maxlen,
		s->cfg->puback == FO_PUBACK_WRITTEN ? "written" : "accepted");
}
