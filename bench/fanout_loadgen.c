/* fanout-loadgen: load generator and correctness checker for the Fanout appliance.
 * Simulates MQTT-SN publishers and subscribers over kernel UDP sockets (one socket and
 * source port per client) driven by epoll loops, and reports loss, duplicates, order and
 * latency. It sees the gateway only through the wire protocol (mqttsn_codec for bytes). */

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "mqttsn_codec.h"

/* ---- limits and defaults (the one place they are chosen) ---- */

#define LG_DEFAULT_PORT 1883 /* MQTT-SN port the appliance listens on by default */
#define LG_HDR_LEN 16u       /* our payload header, see lg_hdr_put() */
#define LG_MAGIC 0x1Au       /* top 5 bits of the payload's first 16-bit word */
#define LG_PAYLOAD_MAX 1400u /* one datagram, no IP fragmentation on a 1500 MTU */
#define LG_TOPIC_MAX 256u    /* bytes incl. NUL, topic names and filters */
#define LG_RX_BUF 65536u     /* largest MQTT-SN message */
#define LG_RX_BURST 64       /* datagrams per socket per wakeup: no socket starves others */
#define LG_EVENTS 256
#define LG_SEQWIN_MIN 1024u      /* reorder window per (subscriber, publisher), bits, power of 2 */
#define LG_SEQWIN_DEFAULT 65536u /* without --count; with it the window covers the whole run */
#define LG_SEQWIN_MAX (1u << 31)
#define LG_DEDUP_MB 512u    /* memory budget for all windows together */
#define LG_SPIN_NS 20000u   /* sleep shorter than this is a busy poll: timer slack is larger */
#define LG_TICK_NS 1000000u /* retransmission / timeout scan period */
#define LG_KEEPALIVE_SCAN_NS 100000000u
#define LG_DISCONNECT_WAIT_MS 1000u
#define LG_MAX_CLIENTS 60000u /* one UDP source port each */
#define LG_MAX_WINDOW 4096u
#define LG_MAX_THREADS 64u
#define LG_MAX_TOPICS 65536u
#define LG_MAX_NAMES (4u << 20) /* publishers x topics names kept in memory */

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull

enum { LG_OK = 0, LG_AGAIN = 1, LG_ERR = -1 };

struct lg_config {
	struct sockaddr_in gw;
	char gw_str[80];
	bool has_bind;
	struct in_addr bind_addr;
	uint32_t n_pub, n_sub;
	double rate;       /* msgs/s per publisher, 0 = as fast as the window allows */
	double total_rate; /* msgs/s over all publishers; split evenly; 0 = unused */
	double duration_s; /* send phase length; 0 = bounded by count only */
	uint64_t count;    /* per publisher (subscribe-only: per subscriber); 0 = unbounded */
	uint32_t payload;
	const char *topic;
	uint32_t topics; /* distinct {i} values actually used */
	int qos;         /* -1, 0, 1, 2 */
	long predefined; /* base predefined topic id, -1 = none */
	bool short_topic;
	bool qosm1_connect;
	uint32_t window;
	uint32_t retry_ms, retries;
	const char *filter;
	int sub_qos;
	uint32_t keepalive_s;
	uint32_t connect_timeout_ms;
	uint32_t drain_ms;
	const char *json;
	bool expect_no_loss, subscribe_only, quiet;
	uint32_t threads;
	uint32_t burst;
	uint32_t bucket_ms; /* token bucket depth: how far a stalled loop may catch up */
	uint32_t connect_burst;
	char id_prefix[12];
};

static struct lg_config g_cfg;
static atomic_int g_stop;          /* SIGINT/SIGTERM: finish the send phase early */
static atomic_int g_fatal;         /* a thread hit a usage/connection error: everyone stops */
static atomic_uint g_done_threads; /* threads whose publishers have all finished */
static _Atomic uint64_t g_send_done_ns;
static _Atomic uint64_t g_t0; /* common start of the send phase */
static pthread_barrier_t g_barrier;
static uint8_t g_pad[LG_PAYLOAD_MAX];

static uint64_t lg_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* ---- topic patterns and matching (local on purpose: checks the dataplane's matcher) ---- */

/* Expand {pub}, {sub}, {i} in pat; a placeholder given a negative value is an error.
 * Returns the length, or -1 (unknown/unavailable placeholder or too long). */
static int lg_expand(const char *pat, long pub, long sub, long i, char *out, size_t cap)
{
	size_t o = 0;
	for (const char *p = pat; *p;) {
		long v = -1;
		size_t skip = 0;
		if (*p == '{') {
			if (strncmp(p, "{pub}", 5) == 0) {
				v = pub;
				skip = 5;
			} else if (strncmp(p, "{sub}", 5) == 0) {
				v = sub;
				skip = 5;
			} else if (strncmp(p, "{i}", 3) == 0) {
				v = i;
				skip = 3;
			} else
				return -1;
			if (v < 0)
				return -1;
			int n = snprintf(out + o, cap - o, "%ld", v);
			if (n < 0 || (size_t)n >= cap - o)
				return -1;
			o += (size_t)n;
			p += skip;
			continue;
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = *p++;
	}
	if (o >= cap)
		return -1;
	out[o] = '\0';
	return (int)o;
}

static bool lg_name_valid(const char *t)
{
	return t[0] != '\0' && strpbrk(t, "+#") == NULL && strlen(t) < LG_TOPIC_MAX;
}

/* '+' and '#' must each be a whole level; '#' only as the last level. */
static bool lg_filter_valid(const char *f)
{
	if (f[0] == '\0' || strlen(f) >= LG_TOPIC_MAX)
		return false;
	for (const char *l = f;;) {
		size_t n = strcspn(l, "/");
		if (memchr(l, '+', n) && !(n == 1 && l[0] == '+'))
			return false;
		if (memchr(l, '#', n) && !(n == 1 && l[0] == '#' && l[1] == '\0'))
			return false;
		if (l[n] == '\0')
			return true;
		l += n + 1;
	}
}

/* MQTT 3.1.1 4.7 semantics: "a/#" matches "a"; "+" matches an empty level; filters
 * starting with a wildcard do not match topics starting with '$'. */
static bool lg_topic_match(const char *f, const char *t)
{
	if (t[0] == '$' && (f[0] == '+' || f[0] == '#'))
		return false;
	for (;;) {
		if (f[0] == '#')
			return true;
		size_t fl = strcspn(f, "/"), tl = strcspn(t, "/");
		if (!(fl == 1 && f[0] == '+') && (fl != tl || memcmp(f, t, fl) != 0))
			return false;
		f += fl;
		t += tl;
		if (*f == '\0')
			return *t == '\0';
		if (*t == '\0')
			return strcmp(f, "/#") == 0;
		f++;
		t++;
	}
}

/* ---- latency histogram: log buckets with 64 linear sub-buckets (< 1.6 % error) ---- */

#define LG_HIST_SUB_BITS 6u
#define LG_HIST_SUB (1u << LG_HIST_SUB_BITS)
#define LG_HIST_LINEAR (2u * LG_HIST_SUB)
#define LG_HIST_BUCKETS (LG_HIST_LINEAR + (64u - LG_HIST_SUB_BITS - 1u) * LG_HIST_SUB)

struct lg_hist {
	uint64_t n, max, sum;
	uint64_t b[LG_HIST_BUCKETS];
};

static unsigned lg_hist_index(uint64_t v)
{
	if (v < LG_HIST_LINEAR)
		return (unsigned)v;
	unsigned m = 63u - (unsigned)__builtin_clzll(v); /* >= 7 */
	unsigned sub = (unsigned)(v >> (m - LG_HIST_SUB_BITS)) - LG_HIST_SUB;
	return LG_HIST_LINEAR + (m - LG_HIST_SUB_BITS - 1u) * LG_HIST_SUB + sub;
}

/* Highest value that lands in bucket idx. */
static uint64_t lg_hist_high(unsigned idx)
{
	if (idx < LG_HIST_LINEAR)
		return idx;
	unsigned g = (idx - LG_HIST_LINEAR) / LG_HIST_SUB, sub = (idx - LG_HIST_LINEAR) % LG_HIST_SUB;
	unsigned shift = g + 1u;
	uint64_t low = (uint64_t)(LG_HIST_SUB + sub) << shift;
	return low + ((uint64_t)1 << shift) - 1u;
}

static void lg_hist_add(struct lg_hist *h, uint64_t v)
{
	h->b[lg_hist_index(v)]++;
	h->n++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

static void lg_hist_merge(struct lg_hist *d, const struct lg_hist *s)
{
	for (unsigned i = 0; i < LG_HIST_BUCKETS; i++)
		d->b[i] += s->b[i];
	d->n += s->n;
	d->sum += s->sum;
	if (s->max > d->max)
		d->max = s->max;
}

/* Smallest bucket bound at or below which pct percent of the samples lie (capped by max). */
static uint64_t lg_hist_pct(const struct lg_hist *h, double pct)
{
	if (h->n == 0)
		return 0;
	uint64_t rank = (uint64_t)ceil(pct / 100.0 * (double)h->n), cum = 0;
	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < LG_HIST_BUCKETS; i++) {
		cum += h->b[i];
		if (cum >= rank) {
			uint64_t v = lg_hist_high(i);
			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

/* ---- duplicate / order tracking per (subscriber, publisher) ---- */

enum lg_seq_verdict { SEQ_NEW, SEQ_LATE, SEQ_TOO_OLD, SEQ_DUP };

/* Window size in bits, a power of 2, fixed before the run: with --count it covers every
 * sequence number (exact duplicate detection) as far as the memory budget allows. */
static uint64_t g_win_bits = LG_SEQWIN_DEFAULT;

struct lg_seqwin {
	uint64_t hi;     /* highest sequence seen + 1; 0 = none yet */
	uint64_t *retx;  /* sequences of which a retransmitted copy arrived; allocated on first */
	uint64_t bits[]; /* g_win_bits bits */
};

static struct lg_seqwin *lg_seqwin_new(void)
{
	return calloc(1, sizeof(struct lg_seqwin) + g_win_bits / 8u);
}

static void lg_bit_set(uint64_t *b, uint64_t s)
{
	b[(s & (g_win_bits - 1u)) / 64u] |= 1ull << (s % 64u);
}
static void lg_bit_clr(uint64_t *b, uint64_t s)
{
	b[(s & (g_win_bits - 1u)) / 64u] &= ~(1ull << (s % 64u));
}
static bool lg_bit_get(const uint64_t *b, uint64_t s)
{
	return b[(s & (g_win_bits - 1u)) / 64u] >> (s % 64u) & 1u;
}

static enum lg_seq_verdict lg_seqwin_add(struct lg_seqwin *w, uint32_t seq32)
{
	uint64_t seq = seq32;
	if (seq >= w->hi) {
		if (seq - w->hi >= g_win_bits) {
			memset(w->bits, 0, g_win_bits / 8u);
			if (w->retx)
				memset(w->retx, 0, g_win_bits / 8u);
		} else {
			for (uint64_t s = w->hi; s < seq; s++) {
				lg_bit_clr(w->bits, s);
				if (w->retx)
					lg_bit_clr(w->retx, s);
			}
		}
		if (w->retx)
			lg_bit_clr(w->retx, seq);
		lg_bit_set(w->bits, seq);
		w->hi = seq + 1;
		return SEQ_NEW;
	}
	if (w->hi - seq > g_win_bits)
		return SEQ_TOO_OLD; /* cannot tell new from duplicate: counted unique and late */
	if (lg_bit_get(w->bits, seq))
		return SEQ_DUP;
	lg_bit_set(w->bits, seq);
	return SEQ_LATE;
}

/* ---- topic id -> name, learnt from the gateway's REGISTER and our SUBACK ---- */

struct lg_tmap_ent {
	bool used;
	uint16_t id;
	char *name;
};

struct lg_tmap {
	struct lg_tmap_ent *e;
	uint32_t cap, n;
};

static struct lg_tmap_ent *lg_tmap_slot(const struct lg_tmap *m, uint16_t id)
{
	uint32_t i = (uint32_t)id * 2654435761u & (m->cap - 1u);
	while (m->e[i].used && m->e[i].id != id)
		i = (i + 1u) & (m->cap - 1u);
	return &m->e[i];
}

static const char *lg_tmap_get(const struct lg_tmap *m, uint16_t id)
{
	if (m->cap == 0)
		return NULL;
	struct lg_tmap_ent *e = lg_tmap_slot(m, id);
	return e->used ? e->name : NULL;
}

static int lg_tmap_put(struct lg_tmap *m, uint16_t id, const char *name, size_t len)
{
	if ((m->n + 1u) * 2u > m->cap) {
		struct lg_tmap old = *m;
		m->cap = old.cap ? old.cap * 2u : 16u;
		m->e = calloc(m->cap, sizeof *m->e);
		if (!m->e) {
			*m = old;
			return -1;
		}
		m->n = 0;
		for (uint32_t i = 0; i < old.cap; i++)
			if (old.e[i].used) {
				*lg_tmap_slot(m, old.e[i].id) = old.e[i];
				m->n++;
			}
		free(old.e);
	}
	char *s = malloc(len + 1u);
	if (!s)
		return -1;
	memcpy(s, name, len);
	s[len] = '\0';
	struct lg_tmap_ent *e = lg_tmap_slot(m, id);
	if (e->used) {
		free(e->name);
	} else {
		m->n++;
	}
	*e = (struct lg_tmap_ent){ .used = true, .id = id, .name = s };
	return 0;
}

static void lg_tmap_free(struct lg_tmap *m)
{
	for (uint32_t i = 0; i < m->cap; i++)
		if (m->e[i].used)
			free(m->e[i].name);
	free(m->e);
	*m = (struct lg_tmap){ 0 };
}

/* ---- payload header: 16 bytes, network order ----
 * u16 magic(5 bits) | payload length(11 bits), u16 retransmitted(1 bit) | publisher index(15 bits),
 * u32 sequence, u64 send time (CLOCK_MONOTONIC ns; shared by all network namespaces of a host).
 * The retransmitted bit lets a subscriber blame a duplicate on a publisher's DUP retransmission. */

#define LG_HDR_RETX 0x8000u /* in the publisher word: this copy is a retransmission */

struct lg_hdr {
	uint16_t len;
	uint16_t pub; /* 15 bits */
	bool retx;
	uint32_t seq;
	uint64_t ts_ns;
};

static void lg_hdr_put(uint8_t *b, const struct lg_hdr *h)
{
	uint16_t w0 = (uint16_t)(LG_MAGIC << 11 | (h->len & 0x7FFu));
	b[0] = (uint8_t)(w0 >> 8);
	b[1] = (uint8_t)w0;
	uint16_t pw = (uint16_t)((h->pub & 0x7FFFu) | (h->retx ? LG_HDR_RETX : 0u));
	b[2] = (uint8_t)(pw >> 8);
	b[3] = (uint8_t)pw;
	for (int i = 0; i < 4; i++)
		b[4 + i] = (uint8_t)(h->seq >> (24 - 8 * i));
	for (int i = 0; i < 8; i++)
		b[8 + i] = (uint8_t)(h->ts_ns >> (56 - 8 * i));
}

static bool lg_hdr_get(const uint8_t *b, size_t n, struct lg_hdr *h)
{
	if (n < LG_HDR_LEN)
		return false;
	uint16_t w0 = (uint16_t)(b[0] << 8 | b[1]);
	if ((w0 >> 11) != LG_MAGIC)
		return false;
	h->len = w0 & 0x7FFu;
	h->pub = (uint16_t)(b[2] << 8 | b[3]);
	h->retx = (h->pub & LG_HDR_RETX) != 0;
	h->pub &= 0x7FFFu;
	h->seq = 0;
	for (int i = 0; i < 4; i++)
		h->seq = h->seq << 8 | b[4 + i];
	h->ts_ns = 0;
	for (int i = 0; i < 8; i++)
		h->ts_ns = h->ts_ns << 8 | b[8 + i];
	return h->len == n;
}

/* ---- clients ---- */

enum lg_kind { LG_PUB, LG_SUB };
enum lg_state {
	ST_IDLE,
	ST_CONNECTING,
	ST_SUBSCRIBING,
	ST_REGISTERING,
	ST_READY,
	ST_DISCONNECTING,
	ST_CLOSED,
	ST_DEAD
};

struct lg_inflight {
	bool used;
	bool released; /* QoS 2: PUBREC seen, PUBREL sent, waiting for PUBCOMP */
	uint8_t tries; /* transmissions so far (of the PUBLISH, then of the PUBREL) */
	uint16_t msg_id;
	uint32_t seq;
	uint32_t t;        /* topic index */
	uint64_t first_ns; /* payload timestamp, identical in every copy */
	uint64_t last_ns;
};

struct lg_client {
	int fd;
	uint8_t kind, state;
	bool connected; /* CONNACK seen: owes a DISCONNECT and keepalive */
	uint16_t local_port;
	uint32_t idx;
	char id[MQTTSN_CLIENT_ID_MAX + 1];
	uint16_t next_msg_id, pending_id;
	uint64_t step_ns, req_ns, last_tx_ns;

	/* publisher */
	char **names;        /* topic name per topic index */
	uint16_t *topic_ids; /* from REGACK */
	uint64_t *accepted;  /* per topic index: sent and not rejected */
	uint32_t n_names, reg_next;
	struct lg_inflight *inflight;
	uint16_t *free_slots;
	uint32_t n_free;
	uint16_t *slot_gen;
	uint32_t seq;
	bool stopped;
	double next_due;
	uint64_t sent, acked, rejected, unacked, retrans, send_errs, eagain, late_acks, behind;
	uint64_t last_send_ns;

	/* subscriber */
	char filter[LG_TOPIC_MAX];
	uint8_t granted_qos;
	struct lg_seqwin **wins; /* per publisher index, allocated on first message */
	uint32_t n_wins;
	struct lg_tmap tmap;
	uint64_t rx, unique, dups, dup_flagged, ooo, too_old, unexpected, wrong_topic, unknown_topic;
	uint64_t bad_payload, foreign, expected;
	uint64_t last_rx_ns;
};

struct lg_worker {
	uint32_t id;
	pthread_t th;
	int ep;
	bool pwait2;
	struct lg_client **cl;
	uint32_t n;
	uint32_t n_busy, n_ready, n_closing;
	bool send_done;
	uint64_t next_scan_ns, next_ka_ns;
	uint64_t pingreq, pingresp, decode_err, odd_type, icmp_err, gw_disconnect, qos2, disc_noreply;
	uint64_t ctl_send_fail, rx_err;
	uint8_t *rxbuf;
	struct lg_hist hist;
};

static struct lg_client *g_pubs, *g_subs;
static struct lg_worker *g_workers;

static void lg_set_state(struct lg_worker *w, struct lg_client *c, uint8_t st)
{
	bool was_busy = c->state == ST_CONNECTING || c->state == ST_SUBSCRIBING || c->state == ST_REGISTERING;
	bool is_busy = st == ST_CONNECTING || st == ST_SUBSCRIBING || st == ST_REGISTERING;
	w->n_busy += (uint32_t)is_busy - (uint32_t)was_busy;
	w->n_ready += (uint32_t)(st == ST_READY) - (uint32_t)(c->state == ST_READY);
	w->n_closing += (uint32_t)(st == ST_DISCONNECTING) - (uint32_t)(c->state == ST_DISCONNECTING);
	c->state = st;
}

static const char *lg_kind_name(const struct lg_client *c)
{
	return c->kind == LG_PUB ? "publisher" : "subscriber";
}

/* First fatal error wins the message; the others are counted. */
static void lg_client_fail(const struct lg_client *c, const char *what, const char *hint)
{
	if (atomic_fetch_add(&g_fatal, 1) != 0)
		return;
	fprintf(stderr, "fanout-loadgen: %s %u (client id \"%s\", udp %s:%u -> %s): %s; %s\n", lg_kind_name(c), c->idx,
		c->id, g_cfg.has_bind ? inet_ntoa(g_cfg.bind_addr) : "*", c->local_port, g_cfg.gw_str, what, hint);
}

static void lg_fail(const char *msg)
{
	if (atomic_fetch_add(&g_fatal, 1) == 0)
		fprintf(stderr, "fanout-loadgen: %s\n", msg);
}

static uint16_t lg_next_msg_id(struct lg_client *c)
{
	if (++c->next_msg_id == 0)
		c->next_msg_id = 1;
	return c->next_msg_id;
}

static int lg_send(struct lg_client *c, const struct mqttsn_msg *m, uint64_t now)
{
	uint8_t buf[LG_TOPIC_MAX + 64];
	int n = mqttsn_encode(m, buf, sizeof buf);
	if (n < 0) {
		errno = EINVAL;
		return LG_ERR;
	}
	ssize_t r = send(c->fd, buf, (size_t)n, 0);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ? LG_AGAIN : LG_ERR;
	c->last_tx_ns = now;
	return LG_OK;
}

static int lg_send_connect(struct lg_client *c, uint64_t now)
{
	struct mqttsn_msg m = { .type = MQTTSN_CONNECT };
	m.u.connect.flags = MQTTSN_FLAG_CLEAN;
	m.u.connect.protocol_id = MQTTSN_PROTOCOL_ID;
	m.u.connect.duration = (uint16_t)g_cfg.keepalive_s;
	m.u.connect.client_id = (const uint8_t *)c->id;
	m.u.connect.client_id_len = (uint16_t)strlen(c->id);
	return lg_send(c, &m, now);
}

static int lg_send_subscribe(struct lg_client *c, bool dup, uint64_t now)
{
	struct mqttsn_msg m = { .type = MQTTSN_SUBSCRIBE };
	m.u.subscribe.flags = (uint8_t)(mqttsn_qos_flags(g_cfg.sub_qos) | MQTTSN_TOPIC_NORMAL |
					(dup ? MQTTSN_FLAG_DUP : 0));
	m.u.subscribe.msg_id = c->pending_id;
	m.u.subscribe.topic_name = (const uint8_t *)c->filter;
	m.u.subscribe.topic_name_len = (uint16_t)strlen(c->filter);
	return lg_send(c, &m, now);
}

static int lg_send_register(struct lg_client *c, uint64_t now)
{
	struct mqttsn_msg m = { .type = MQTTSN_REGISTER };
	m.u.reg.topic_id = 0;
	m.u.reg.msg_id = c->pending_id;
	m.u.reg.topic_name = (const uint8_t *)c->names[c->reg_next];
	m.u.reg.topic_name_len = (uint16_t)strlen(c->names[c->reg_next]);
	return lg_send(c, &m, now);
}

static int lg_send_simple(struct lg_client *c, uint8_t type, uint64_t now)
{
	struct mqttsn_msg m = { .type = type }; /* PINGREQ without client id, DISCONNECT without duration */
	return lg_send(c, &m, now);
}

static int lg_send_ack(struct lg_worker *w, struct lg_client *c, uint8_t type, uint16_t topic_id, uint16_t msg_id,
		       uint64_t now)
{
	struct mqttsn_msg m = { .type = type };
	if (type == MQTTSN_PUBACK) {
		m.u.puback.topic_id = topic_id;
		m.u.puback.msg_id = msg_id;
		m.u.puback.return_code = MQTTSN_RC_ACCEPTED;
	} else if (type == MQTTSN_PUBREC || type == MQTTSN_PUBREL || type == MQTTSN_PUBCOMP) {
		m.u.pubx.msg_id = msg_id;
	} else {
		m.u.regack.topic_id = topic_id;
		m.u.regack.msg_id = msg_id;
		m.u.regack.return_code = MQTTSN_RC_ACCEPTED;
	}
	int rc = lg_send(c, &m, now);
	if (rc != LG_OK)
		w->ctl_send_fail++; /* the gateway retransmits what we failed to acknowledge */
	return rc;
}

static void lg_pub_topic(const struct lg_client *c, uint32_t t, uint8_t *ttype, uint16_t *tid)
{
	if (g_cfg.predefined >= 0) {
		*ttype = MQTTSN_TOPIC_PREDEFINED;
		*tid = (uint16_t)(g_cfg.predefined + (long)t);
	} else if (g_cfg.short_topic) {
		*ttype = MQTTSN_TOPIC_SHORT;
		*tid = (uint16_t)((uint8_t)c->names[t][0] << 8 | (uint8_t)c->names[t][1]);
	} else {
		*ttype = MQTTSN_TOPIC_NORMAL;
		*tid = c->topic_ids[t];
	}
}

/* PUBLISH header, our 16-byte header and the padding go out as one datagram from three
 * pieces, so the padding is never copied per message. */
static int lg_send_publish(struct lg_client *c, uint32_t seq, uint32_t t, uint16_t msg_id, bool dup, uint64_t ts,
			   uint64_t now)
{
	uint8_t ttype, mh[16], body[LG_HDR_LEN];
	uint16_t tid;
	lg_pub_topic(c, t, &ttype, &tid);
	uint8_t flags = (uint8_t)(mqttsn_qos_flags(g_cfg.qos) | ttype | (dup ? MQTTSN_FLAG_DUP : 0));
	int hl = mqttsn_encode_publish_hdr(mh, sizeof mh, flags, tid, msg_id, g_cfg.payload);
	if (hl < 0) {
		errno = EINVAL;
		return LG_ERR;
	}
	lg_hdr_put(body, &(struct lg_hdr){ .len = (uint16_t)g_cfg.payload,
					   .pub = (uint16_t)c->idx,
					   .retx = dup,
					   .seq = seq,
					   .ts_ns = ts });
	struct iovec iov[3] = {
		{ .iov_base = mh, .iov_len = (size_t)hl },
		{ .iov_base = body, .iov_len = LG_HDR_LEN },
		{ .iov_base = g_pad, .iov_len = g_cfg.payload - LG_HDR_LEN },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = g_cfg.payload > LG_HDR_LEN ? 3 : 2 };
	if (sendmsg(c->fd, &msg, 0) < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ? LG_AGAIN : LG_ERR;
	c->last_tx_ns = now;
	c->last_send_ns = now;
	return LG_OK;
}

/* ---- setup: socket, CONNECT, SUBSCRIBE / REGISTER ---- */

static int lg_open_socket(struct lg_worker *w, struct lg_client *c)
{
	char msg[256];
	c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		snprintf(msg, sizeof msg, "%s %u: socket: %s%s", lg_kind_name(c), c->idx, strerror(errno),
			 errno == EMFILE || errno == ENFILE ? "; raise `ulimit -n` or use fewer clients" : "");
		lg_fail(msg);
		return -1;
	}
	if (c->kind == LG_SUB) {
		int sz = 4 << 20; /* absorbs fan-out bursts; the kernel caps it at rmem_max */
		(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	}
	if (g_cfg.has_bind) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr = g_cfg.bind_addr };
		if (bind(c->fd, (struct sockaddr *)&a, sizeof a) < 0) {
			snprintf(msg, sizeof msg,
				 "%s %u: bind %s: %s; --bind must be an address of this host (this netns)",
				 lg_kind_name(c), c->idx, inet_ntoa(g_cfg.bind_addr), strerror(errno));
			lg_fail(msg);
			return -1;
		}
	}
	if (connect(c->fd, (const struct sockaddr *)&g_cfg.gw, sizeof g_cfg.gw) < 0) {
		snprintf(msg, sizeof msg, "%s %u: connect udp to %s: %s; check --gateway and the route to it",
			 lg_kind_name(c), c->idx, g_cfg.gw_str, strerror(errno));
		lg_fail(msg);
		return -1;
	}
	struct sockaddr_in la;
	socklen_t ll = sizeof la;
	if (getsockname(c->fd, (struct sockaddr *)&la, &ll) == 0)
		c->local_port = ntohs(la.sin_port);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		snprintf(msg, sizeof msg, "epoll_ctl: %s", strerror(errno));
		lg_fail(msg);
		return -1;
	}
	return 0;
}

static bool lg_pub_needs_register(void)
{
	return g_cfg.predefined < 0 && !g_cfg.short_topic;
}

static void lg_setup_fail_send(struct lg_client *c, const char *what)
{
	char m[160];
	snprintf(m, sizeof m, "cannot send %s: %s", what, strerror(errno));
	lg_client_fail(c, m,
		       errno == ECONNREFUSED ? "nothing listens on that UDP port (ICMP port unreachable); start the "
					       "appliance or fix --gateway"
					     : "check --gateway, --bind and the route to the gateway");
}

static void lg_start_client(struct lg_worker *w, struct lg_client *c, uint64_t now)
{
	if (lg_open_socket(w, c) < 0)
		return;
	c->step_ns = c->req_ns = now;
	if (c->kind == LG_PUB && g_cfg.qos < 0 && !g_cfg.qosm1_connect) {
		lg_set_state(w, c, ST_READY); /* QoS -1 needs no connection (spec 6.8) */
		return;
	}
	lg_set_state(w, c, ST_CONNECTING);
	if (lg_send_connect(c, now) == LG_ERR)
		lg_setup_fail_send(c, "CONNECT");
}

static void lg_begin_register(struct lg_worker *w, struct lg_client *c, uint64_t now)
{
	c->pending_id = lg_next_msg_id(c);
	c->step_ns = c->req_ns = now;
	lg_set_state(w, c, ST_REGISTERING);
	if (lg_send_register(c, now) == LG_ERR)
		lg_setup_fail_send(c, "REGISTER");
}

static void lg_on_connack(struct lg_worker *w, struct lg_client *c, const struct mqttsn_msg *m, uint64_t now)
{
	if (c->state != ST_CONNECTING)
		return; /* answer to a retransmitted CONNECT */
	if (m->u.connack.return_code != MQTTSN_RC_ACCEPTED) {
		char what[96];
		snprintf(what, sizeof what, "CONNACK return code %u (%s)", m->u.connack.return_code,
			 m->u.connack.return_code == MQTTSN_RC_CONGESTION ? "congestion" : "rejected");
		lg_client_fail(c, what, "the gateway refused the session: check its client limits and logs");
		return;
	}
	c->connected = true;
	if (c->kind == LG_SUB) {
		c->pending_id = lg_next_msg_id(c);
		c->step_ns = c->req_ns = now;
		lg_set_state(w, c, ST_SUBSCRIBING);
		if (lg_send_subscribe(c, false, now) == LG_ERR)
			lg_setup_fail_send(c, "SUBSCRIBE");
	} else if (lg_pub_needs_register()) {
		c->reg_next = 0;
		lg_begin_register(w, c, now);
	} else {
		lg_set_state(w, c, ST_READY);
	}
}

static void lg_on_suback(struct lg_worker *w, struct lg_client *c, const struct mqttsn_msg *m)
{
	if (c->kind != LG_SUB || c->state != ST_SUBSCRIBING || m->u.suback.msg_id != c->pending_id)
		return;
	if (m->u.suback.return_code != MQTTSN_RC_ACCEPTED) {
		char what[LG_TOPIC_MAX + 64];
		snprintf(what, sizeof what, "SUBACK for \"%s\" return code %u", c->filter, m->u.suback.return_code);
		lg_client_fail(c, what, "check the filter (--filter) and the gateway's subscription limits");
		return;
	}
	c->granted_qos = (uint8_t)mqttsn_flags_qos(m->u.suback.flags);
	uint16_t tid = m->u.suback.topic_id;
	if (tid != 0 && !strpbrk(c->filter, "+#") && lg_tmap_put(&c->tmap, tid, c->filter, strlen(c->filter)) < 0) {
		lg_fail("out of memory");
		return;
	}
	lg_set_state(w, c, ST_READY);
}

static void lg_on_regack(struct lg_worker *w, struct lg_client *c, const struct mqttsn_msg *m, uint64_t now)
{
	if (c->kind != LG_PUB || c->state != ST_REGISTERING || m->u.regack.msg_id != c->pending_id)
		return;
	if (m->u.regack.return_code != MQTTSN_RC_ACCEPTED) {
		char what[LG_TOPIC_MAX + 64];
		snprintf(what, sizeof what, "REGACK for \"%s\" return code %u", c->names[c->reg_next],
			 m->u.regack.return_code);
		lg_client_fail(c, what, "check the topic pattern (--topic) and the gateway's topic table size");
		return;
	}
	c->topic_ids[c->reg_next] = m->u.regack.topic_id;
	if (++c->reg_next < c->n_names)
		lg_begin_register(w, c, now);
	else
		lg_set_state(w, c, ST_READY);
}

/* Retransmit the pending setup request, or give up once the step is older than the timeout. */
static void lg_setup_scan(struct lg_worker *w, uint64_t now)
{
	uint64_t retry = (uint64_t)g_cfg.retry_ms * NS_PER_MS, tmo = (uint64_t)g_cfg.connect_timeout_ms * NS_PER_MS;
	for (uint32_t i = 0; i < w->n; i++) {
		struct lg_client *c = w->cl[i];
		if (c->state != ST_CONNECTING && c->state != ST_SUBSCRIBING && c->state != ST_REGISTERING)
			continue;
		if (now - c->step_ns >= tmo) {
			char what[LG_TOPIC_MAX + 96];
			if (c->state == ST_CONNECTING)
				snprintf(what, sizeof what, "no CONNACK within %u ms", g_cfg.connect_timeout_ms);
			else if (c->state == ST_SUBSCRIBING)
				snprintf(what, sizeof what, "no SUBACK for \"%s\" within %u ms", c->filter,
					 g_cfg.connect_timeout_ms);
			else
				snprintf(what, sizeof what, "no REGACK for \"%s\" within %u ms", c->names[c->reg_next],
					 g_cfg.connect_timeout_ms);
			lg_client_fail(
				c, what,
				c->state == ST_CONNECTING
					? "check that the appliance is running and reachable at --gateway (address, "
					  "port, "
					  "route/netns, ARP), that --bind is right, or raise --connect-timeout-ms"
					: "the gateway accepted the session but did not answer; check its logs and "
					  "counters");
			return;
		}
		if (now - c->req_ns < retry)
			continue;
		c->req_ns = now;
		int rc = c->state == ST_CONNECTING    ? lg_send_connect(c, now)
			 : c->state == ST_SUBSCRIBING ? lg_send_subscribe(c, true, now)
						      : lg_send_register(c, now);
		if (rc == LG_ERR)
			lg_setup_fail_send(c, c->state == ST_CONNECTING    ? "CONNECT"
					      : c->state == ST_SUBSCRIBING ? "SUBSCRIBE"
									   : "REGISTER");
	}
}

/* ---- receive path ---- */

static void lg_on_publish(struct lg_worker *w, struct lg_client *c, const struct mqttsn_msg *m, uint64_t now)
{
	uint8_t flags = m->u.publish.flags;
	int qos = mqttsn_flags_qos(flags);
	if (qos == 1) {
		lg_send_ack(w, c, MQTTSN_PUBACK, m->u.publish.topic_id, m->u.publish.msg_id, now);
	} else if (qos == 2) {
		/* counted on arrival; a copy the gateway resends before our PUBREC reached it carries DUP and
		 * is told apart by the sequence window. The PUBREL that follows is answered by lg_dispatch. */
		w->qos2++;
		lg_send_ack(w, c, MQTTSN_PUBREC, 0, m->u.publish.msg_id, now);
	}
	if (c->kind != LG_SUB) {
		w->odd_type++;
		return;
	}
	c->rx++;
	c->last_rx_ns = now;

	struct lg_hdr h;
	if (!lg_hdr_get(m->u.publish.data, m->u.publish.data_len, &h)) {
		c->bad_payload++;
		return;
	}
	lg_hist_add(&w->hist, now > h.ts_ns ? now - h.ts_ns : 0);
	if (h.pub >= c->n_wins) {
		c->foreign++; /* a publisher index we were not told about (--publishers) */
		return;
	}
	if (!g_cfg.subscribe_only) {
		const struct lg_client *p = &g_pubs[h.pub];
		const char *want = p->names[p->n_names > 1 ? h.seq % p->n_names : 0];
		if (!lg_topic_match(c->filter, want)) {
			c->unexpected++; /* delivered to a subscriber whose filter does not match */
			return;
		}
		uint8_t tt = flags & MQTTSN_FLAG_TOPIC_MASK;
		uint16_t tid = m->u.publish.topic_id;
		if (tt == MQTTSN_TOPIC_NORMAL) {
			const char *got = lg_tmap_get(&c->tmap, tid);
			if (!got)
				c->unknown_topic++;
			else if (strcmp(got, want) != 0)
				c->wrong_topic++;
		} else if (tt == MQTTSN_TOPIC_SHORT) {
			if (strlen(want) != 2 || (uint16_t)((uint8_t)want[0] << 8 | (uint8_t)want[1]) != tid)
				c->wrong_topic++;
		}
	}
	struct lg_seqwin *sw = c->wins[h.pub];
	if (!sw) {
		sw = c->wins[h.pub] = lg_seqwin_new();
		if (!sw) {
			lg_fail("out of memory (sequence windows)");
			return;
		}
	}
	enum lg_seq_verdict v = lg_seqwin_add(sw, h.seq);
	bool retx_seen = h.retx || (sw->retx && lg_bit_get(sw->retx, h.seq));
	if (h.retx && v != SEQ_TOO_OLD) {
		if (!sw->retx && !(sw->retx = calloc(1, g_win_bits / 8u))) {
			lg_fail("out of memory (sequence windows)");
			return;
		}
		lg_bit_set(sw->retx, h.seq);
	}
	switch (v) {
	case SEQ_NEW: c->unique++; break;
	case SEQ_LATE:
		c->unique++;
		c->ooo++;
		break;
	case SEQ_TOO_OLD:
		c->unique++;
		c->ooo++;
		c->too_old++;
		break;
	case SEQ_DUP:
		/* DUP-flagged delivery, or a copy of a message its publisher retransmitted with DUP */
		if ((flags & MQTTSN_FLAG_DUP) || retx_seen)
			c->dup_flagged++;
		else
			c->dups++;
		break;
	}
}

static struct lg_inflight *lg_pub_slot(struct lg_client *c, uint16_t id)
{
	if (g_cfg.qos < 1 || id == 0)
		return NULL;
	struct lg_inflight *f = &c->inflight[(uint32_t)(id - 1u) % g_cfg.window];
	return f->used && f->msg_id == id ? f : NULL;
}

static void lg_pub_slot_free(struct lg_client *c, struct lg_inflight *f)
{
	f->used = false;
	c->free_slots[c->n_free++] = (uint16_t)(f - c->inflight);
}

static void lg_on_puback(struct lg_worker *w, struct lg_client *c, const struct mqttsn_msg *m)
{
	if (c->kind != LG_PUB)
		return;
	uint16_t id = m->u.puback.msg_id;
	uint8_t rc = m->u.puback.return_code;
	if (g_cfg.qos < 1 || id == 0) {
		/* QoS 0/-1 error report: the message id is 0, the topic id tells us which topic */
		if (rc == MQTTSN_RC_ACCEPTED)
			return;
		c->rejected++;
		for (uint32_t t = 0; t < c->n_names; t++) {
			uint8_t tt;
			uint16_t tid;
			lg_pub_topic(c, t, &tt, &tid);
			if (tid == m->u.puback.topic_id && c->accepted[t] > 0) {
				c->accepted[t]--;
				break;
			}
		}
		return;
	}
	struct lg_inflight *f = lg_pub_slot(c, id);
	if (!f) {
		c->late_acks++; /* after we gave up, or a second PUBACK */
		return;
	}
	if (g_cfg.qos == 2 && (rc == MQTTSN_RC_ACCEPTED || f->released)) {
		w->odd_type++; /* a QoS 2 PUBLISH is answered by PUBREC, or refused by a PUBACK with an error */
		return;
	}
	if (rc == MQTTSN_RC_ACCEPTED) {
		c->acked++;
	} else {
		c->rejected++;
		c->accepted[f->t]--;
	}
	lg_pub_slot_free(c, f);
}

/* QoS 2, publisher side: PUBREC -> PUBREL (again for a repeated PUBREC), PUBCOMP completes. */
static void lg_on_pubrec(struct lg_worker *w, struct lg_client *c, const struct mqttsn_msg *m, uint64_t now)
{
	if (c->kind != LG_PUB || g_cfg.qos != 2) {
		w->odd_type++;
		return;
	}
	uint16_t id = m->u.pubx.msg_id;
	struct lg_inflight *f = lg_pub_slot(c, id);
	if (!f)
		c->late_acks++; /* gave up on it; the gateway still holds it until our PUBREL */
	else if (!f->released)
		*f = (struct lg_inflight){ .used = true,
					   .released = true,
					   .tries = 1,
					   .msg_id = id,
					   .seq = f->seq,
					   .t = f->t,
					   .first_ns = f->first_ns,
					   .last_ns = now };
	lg_send_ack(w, c, MQTTSN_PUBREL, 0, id, now);
}

static void lg_on_pubcomp(struct lg_worker *w, struct lg_client *c, const struct mqttsn_msg *m)
{
	if (c->kind != LG_PUB || g_cfg.qos != 2) {
		w->odd_type++;
		return;
	}
	struct lg_inflight *f = lg_pub_slot(c, m->u.pubx.msg_id);
	if (!f || !f->released) {
		c->late_acks++; /* after we gave up, a second PUBCOMP, or one before its PUBREC */
		return;
	}
	c->acked++;
	lg_pub_slot_free(c, f);
}

static void lg_dispatch(struct lg_worker *w, struct lg_client *c, const uint8_t *buf, size_t len, uint64_t now)
{
	struct mqttsn_msg m;
	if (mqttsn_decode(buf, len, &m) != MQTTSN_OK) {
		w->decode_err++;
		return;
	}
	switch (m.type) {
	case MQTTSN_CONNACK: lg_on_connack(w, c, &m, now); break;
	case MQTTSN_SUBACK: lg_on_suback(w, c, &m); break;
	case MQTTSN_REGACK: lg_on_regack(w, c, &m, now); break;
	case MQTTSN_PUBLISH: lg_on_publish(w, c, &m, now); break;
	case MQTTSN_PUBACK: lg_on_puback(w, c, &m); break;
	case MQTTSN_PUBREC: lg_on_pubrec(w, c, &m, now); break;
	case MQTTSN_PUBREL: /* QoS 2 delivery to a subscriber: complete it (again, if our PUBCOMP was lost) */
		if (c->kind == LG_SUB)
			lg_send_ack(w, c, MQTTSN_PUBCOMP, 0, m.u.pubx.msg_id, now);
		else
			w->odd_type++;
		break;
	case MQTTSN_PUBCOMP: lg_on_pubcomp(w, c, &m); break;
	case MQTTSN_PINGRESP: w->pingresp++; break;
	case MQTTSN_PINGREQ: lg_send_simple(c, MQTTSN_PINGRESP, now); break;
	case MQTTSN_REGISTER:
		if (c->kind == LG_SUB && lg_tmap_put(&c->tmap, m.u.reg.topic_id, (const char *)m.u.reg.topic_name,
						     m.u.reg.topic_name_len) < 0) {
			lg_fail("out of memory (topic map)");
			return;
		}
		lg_send_ack(w, c, MQTTSN_REGACK, m.u.reg.topic_id, m.u.reg.msg_id, now);
		break;
	case MQTTSN_DISCONNECT:
		if (c->state == ST_DISCONNECTING) {
			lg_set_state(w, c, ST_CLOSED);
		} else {
			w->gw_disconnect++;
			if (c->state == ST_CONNECTING || c->state == ST_SUBSCRIBING || c->state == ST_REGISTERING)
				lg_client_fail(c, "the gateway sent DISCONNECT during setup",
					       "check the gateway's logs and client limits");
			c->connected = false;
			lg_set_state(w, c, ST_DEAD);
		}
		break;
	default: w->odd_type++; break;
	}
}

static void lg_rx(struct lg_worker *w, struct lg_client *c)
{
	for (int i = 0; i < LG_RX_BURST; i++) {
		ssize_t n = recv(c->fd, w->rxbuf, LG_RX_BUF, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == ECONNREFUSED) {
				w->icmp_err++;
				if (c->state == ST_CONNECTING || c->state == ST_SUBSCRIBING ||
				    c->state == ST_REGISTERING)
					lg_client_fail(c, "gateway answered with ICMP port unreachable",
						       "nothing listens on that UDP port: start the appliance or fix "
						       "--gateway IP:PORT");
				continue;
			}
			if (errno == EINTR)
				continue;
			w->rx_err++;
			return;
		}
		lg_dispatch(w, c, w->rxbuf, (size_t)n, lg_now());
	}
}

static void lg_poll(struct lg_worker *w, uint64_t timeout_ns)
{
	struct epoll_event ev[LG_EVENTS];
	int n;
	if (timeout_ns < LG_SPIN_NS) {
		n = epoll_wait(w->ep, ev, LG_EVENTS, 0);
	} else if (w->pwait2) {
		struct timespec ts = { .tv_sec = (time_t)(timeout_ns / NS_PER_S),
				       .tv_nsec = (long)(timeout_ns % NS_PER_S) };
		n = epoll_pwait2(w->ep, ev, LG_EVENTS, &ts, NULL);
		if (n < 0 && errno == ENOSYS) {
			w->pwait2 = false; /* kernel older than 5.11: millisecond sleeps */
			n = 0;
		}
	} else {
		n = epoll_wait(w->ep, ev, LG_EVENTS, (int)((timeout_ns + NS_PER_MS - 1) / NS_PER_MS));
	}
	for (int i = 0; i < n; i++)
		lg_rx(w, ev[i].data.ptr);
}

/* ---- phases ---- */

static int lg_setup_phase(struct lg_worker *w)
{
	uint32_t next = 0;
	for (;;) {
		uint64_t now = lg_now();
		if (atomic_load(&g_fatal))
			return -1;
		if (atomic_load(&g_stop)) {
			lg_fail("interrupted during setup");
			return -1;
		}
		while (next < w->n && w->n_busy < g_cfg.connect_burst && !atomic_load(&g_fatal))
			lg_start_client(w, w->cl[next++], now);
		if (w->n_ready == w->n)
			return 0;
		if (now >= w->next_scan_ns) {
			lg_setup_scan(w, now);
			w->next_scan_ns = now + 10u * LG_TICK_NS; /* retries are hundreds of ms apart */
		}
		lg_poll(w, LG_TICK_NS);
	}
}

static void lg_pub_give_up(struct lg_client *c, struct lg_inflight *f)
{
	c->unacked++;
	lg_pub_slot_free(c, f);
}

static void lg_pub_retransmit(struct lg_client *c, uint64_t now)
{
	uint64_t retry = (uint64_t)g_cfg.retry_ms * NS_PER_MS;
	for (uint32_t s = 0; s < g_cfg.window && c->n_free < g_cfg.window; s++) {
		struct lg_inflight *f = &c->inflight[s];
		if (!f->used)
			continue;
		if (c->state != ST_READY) {
			lg_pub_give_up(c, f);
			continue;
		}
		if (now - f->last_ns < retry)
			continue;
		if (f->tries > g_cfg.retries) {
			lg_pub_give_up(c, f);
			continue;
		}
		struct mqttsn_msg rel = { .type = MQTTSN_PUBREL, .u.pubx.msg_id = f->msg_id };
		int rc = f->released ? lg_send(c, &rel, now)
				     : lg_send_publish(c, f->seq, f->t, f->msg_id, true, f->first_ns, now);
		if (rc == LG_OK) {
			f->tries++;
			c->retrans++;
		}
		f->last_ns = now; /* a failed send waits one retry period too */
	}
}

/* Send what the token bucket allows. Returns the time the next message is due
 * (0 = now, UINT64_MAX = nothing to send). */
static uint64_t lg_pub_tick(struct lg_client *c, uint64_t now, uint64_t t0, double interval)
{
	if (c->stopped)
		return UINT64_MAX;
	/* rate-limited: every message scheduled inside --duration goes out, even if the loop wakes late */
	double end = (double)t0 + g_cfg.duration_s * 1e9;
	if (c->state != ST_READY || atomic_load(&g_stop) || atomic_load(&g_fatal) ||
	    (g_cfg.count && c->seq >= g_cfg.count) ||
	    (g_cfg.duration_s > 0 && (interval > 0 ? c->next_due >= end : (double)now >= end))) {
		c->stopped = true;
		return UINT64_MAX;
	}
	if (interval > 0) {
		double depth = interval * g_cfg.burst, ms = g_cfg.bucket_ms * 1e6;
		if (depth < ms)
			depth = ms;
		if (c->next_due < (double)now - depth) { /* stalled longer than the bucket: those tokens are gone */
			c->behind += (uint64_t)(((double)now - depth - c->next_due) / interval);
			c->next_due = (double)now - depth;
		}
	}
	for (uint32_t b = 0; b < g_cfg.burst; b++) {
		if ((g_cfg.count && c->seq >= g_cfg.count) ||
		    (g_cfg.duration_s > 0 && interval > 0 && c->next_due >= end))
			return 0;
		if (interval > 0 && (double)now < c->next_due)
			return (uint64_t)c->next_due;
		if (g_cfg.qos >= 1 && c->n_free == 0)
			return UINT64_MAX; /* window full: a PUBACK or PUBCOMP wakes us */
		uint32_t seq = c->seq, t = c->n_names > 1 ? seq % c->n_names : 0;
		uint16_t msg_id = 0;
		uint32_t slot = 0;
		if (g_cfg.qos >= 1) {
			slot = c->free_slots[c->n_free - 1];
			/* ids of slot s are s+1, s+1+W, ...: the PUBACK's id finds its slot directly */
			uint32_t gens = (65535u - 1u - slot) / g_cfg.window + 1u;
			c->slot_gen[slot] = (uint16_t)((c->slot_gen[slot] + 1u) % gens);
			msg_id = (uint16_t)(slot + 1u + (uint32_t)c->slot_gen[slot] * g_cfg.window);
		}
		int rc = lg_send_publish(c, seq, t, msg_id, false, now, now);
		if (rc == LG_AGAIN) {
			c->eagain++;
			return 0;
		}
		if (rc == LG_ERR) {
			c->send_errs++;
			return 0;
		}
		if (g_cfg.qos >= 1) {
			c->n_free--;
			c->inflight[slot] = (struct lg_inflight){ .used = true,
								  .tries = 1,
								  .msg_id = msg_id,
								  .seq = seq,
								  .t = t,
								  .first_ns = now,
								  .last_ns = now };
		}
		c->seq++;
		c->sent++;
		c->accepted[t]++;
		c->next_due += interval;
	}
	return 0;
}

static void lg_keepalive(struct lg_worker *w, uint64_t now)
{
	if (g_cfg.keepalive_s == 0)
		return;
	uint64_t half = (uint64_t)g_cfg.keepalive_s * NS_PER_S / 2u;
	for (uint32_t i = 0; i < w->n; i++) {
		struct lg_client *c = w->cl[i];
		if (c->connected && c->state == ST_READY && now - c->last_tx_ns >= half &&
		    lg_send_simple(c, MQTTSN_PINGREQ, now) == LG_OK)
			w->pingreq++;
	}
}

static bool lg_subs_have_count(const struct lg_worker *w)
{
	for (uint32_t i = 0; i < w->n; i++)
		if (w->cl[i]->kind == LG_SUB && w->cl[i]->state == ST_READY && w->cl[i]->unique < g_cfg.count)
			return false;
	return true;
}

static void lg_run_phase(struct lg_worker *w)
{
	uint64_t t0 = atomic_load(&g_t0);
	double rate = g_cfg.total_rate > 0 ? g_cfg.total_rate / g_cfg.n_pub : g_cfg.rate;
	double interval = rate > 0 ? 1e9 / rate : 0;
	for (uint32_t i = 0; i < w->n; i++) {
		struct lg_client *c = w->cl[i];
		/* spread publishers over one interval so they do not send in lockstep */
		c->next_due = (double)t0 + interval * c->idx / (g_cfg.n_pub ? g_cfg.n_pub : 1);
	}
	uint64_t next_retrans = 0;
	for (;;) {
		uint64_t now = lg_now(), due = UINT64_MAX;
		if (atomic_load(&g_fatal))
			return;
		if (!w->send_done) {
			bool busy = false, scan = now >= next_retrans;
			for (uint32_t i = 0; i < w->n; i++) {
				struct lg_client *c = w->cl[i];
				if (c->kind != LG_PUB)
					continue;
				uint64_t d = lg_pub_tick(c, now, t0, interval);
				if (d < due)
					due = d;
				if (g_cfg.qos >= 1 && c->n_free < g_cfg.window) {
					if (scan)
						lg_pub_retransmit(c, now);
					busy |= c->n_free < g_cfg.window;
				}
				busy |= !c->stopped;
			}
			if (scan)
				next_retrans = now + LG_TICK_NS;
			if (g_cfg.subscribe_only)
				busy = !(atomic_load(&g_stop) ||
					 (g_cfg.duration_s > 0 && (double)(now - t0) >= g_cfg.duration_s * 1e9) ||
					 (g_cfg.count && lg_subs_have_count(w)));
			if (!busy) {
				w->send_done = true;
				if (atomic_fetch_add(&g_done_threads, 1) + 1 == g_cfg.threads)
					atomic_store(&g_send_done_ns, now);
			}
		}
		if (atomic_load(&g_done_threads) == g_cfg.threads) {
			uint64_t done = atomic_load(&g_send_done_ns);
			if (done && now >= done + (uint64_t)g_cfg.drain_ms * NS_PER_MS)
				return;
		}
		if (now >= w->next_ka_ns) {
			lg_keepalive(w, now);
			w->next_ka_ns = now + LG_KEEPALIVE_SCAN_NS;
		}
		uint64_t tmo = LG_TICK_NS;
		if (due != UINT64_MAX)
			tmo = due <= now ? 0 : due - now < tmo ? due - now : tmo;
		lg_poll(w, tmo);
	}
}

static void lg_disconnect_phase(struct lg_worker *w)
{
	uint64_t start = lg_now(), retry = (uint64_t)g_cfg.retry_ms * NS_PER_MS;
	uint64_t limit = (uint64_t)LG_DISCONNECT_WAIT_MS * NS_PER_MS;
	if (retry > limit / 2)
		retry = limit / 2;
	for (uint32_t i = 0; i < w->n; i++) {
		struct lg_client *c = w->cl[i];
		if (c->connected && c->state != ST_DEAD) {
			lg_send_simple(c, MQTTSN_DISCONNECT, start);
			lg_set_state(w, c, ST_DISCONNECTING);
		}
	}
	bool resent = false;
	for (uint64_t now = start; w->n_closing > 0 && now - start < limit; now = lg_now()) {
		if (!resent && now - start >= retry) {
			for (uint32_t i = 0; i < w->n; i++)
				if (w->cl[i]->state == ST_DISCONNECTING)
					lg_send_simple(w->cl[i], MQTTSN_DISCONNECT, now);
			resent = true;
		}
		lg_poll(w, LG_TICK_NS);
	}
	w->disc_noreply += w->n_closing;
	for (uint32_t i = 0; i < w->n; i++) {
		struct lg_client *c = w->cl[i];
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
	}
}

static void *lg_worker_main(void *arg)
{
	struct lg_worker *w = arg;
	(void)lg_setup_phase(w);
	if (pthread_barrier_wait(&g_barrier) == PTHREAD_BARRIER_SERIAL_THREAD && !atomic_load(&g_fatal)) {
		atomic_store(&g_t0, lg_now());
		if (g_cfg.subscribe_only) {
			printf("ready\n");
			fflush(stdout);
		}
	}
	pthread_barrier_wait(&g_barrier);
	if (!atomic_load(&g_fatal))
		lg_run_phase(w);
	lg_disconnect_phase(w);
	return NULL;
}

/* ---- accounting and report ---- */

struct lg_totals {
	uint64_t sent, acked, rejected, unacked, retrans, send_errs, eagain, late_acks, behind;
	uint64_t expected, rx, unique, lost, excess, dups, dup_flagged, ooo, too_old, unexpected, wrong_topic,
		unknown_topic, bad_payload, foreign;
	bool expected_known;
	double send_s, deliver_s;
	uint64_t sub_min, sub_max;
	uint32_t sub_min_idx, sub_max_idx;
	uint64_t pingreq, pingresp, decode_err, odd_type, icmp_err, gw_disconnect, qos2, disc_noreply, ctl_send_fail,
		rx_err;
	struct lg_hist hist;
	int exit_code;
	char verdict[160];
};

static uint64_t lg_expected_for(const char *filter)
{
	uint64_t n = 0;
	for (uint32_t p = 0; p < g_cfg.n_pub; p++)
		for (uint32_t t = 0; t < g_pubs[p].n_names; t++)
			if (g_pubs[p].accepted[t] && lg_topic_match(filter, g_pubs[p].names[t]))
				n += g_pubs[p].accepted[t];
	return n;
}

static void lg_account(struct lg_totals *T)
{
	uint64_t t0 = atomic_load(&g_t0), last_send = t0, last_rx = t0;
	for (uint32_t i = 0; i < g_cfg.n_pub && !g_cfg.subscribe_only; i++) {
		const struct lg_client *c = &g_pubs[i];
		T->sent += c->sent;
		T->acked += c->acked;
		T->rejected += c->rejected;
		T->unacked += c->unacked;
		T->retrans += c->retrans;
		T->send_errs += c->send_errs;
		T->eagain += c->eagain;
		T->late_acks += c->late_acks;
		T->behind += c->behind;
		if (c->last_send_ns > last_send)
			last_send = c->last_send_ns;
	}
	T->expected_known = !g_cfg.subscribe_only || g_cfg.count > 0;
	bool shared_filter = strstr(g_cfg.filter, "{sub}") == NULL;
	uint64_t shared_exp = 0;
	if (!g_cfg.subscribe_only && shared_filter && g_cfg.n_sub)
		shared_exp = lg_expected_for(g_subs[0].filter);
	T->sub_min = UINT64_MAX;
	for (uint32_t i = 0; i < g_cfg.n_sub; i++) {
		struct lg_client *c = &g_subs[i];
		c->expected = g_cfg.subscribe_only ? g_cfg.count
			      : shared_filter      ? shared_exp
						   : lg_expected_for(c->filter);
		T->expected += c->expected;
		T->rx += c->rx;
		T->unique += c->unique;
		if (c->expected > c->unique)
			T->lost += c->expected - c->unique;
		else
			T->excess += c->unique - c->expected;
		T->dups += c->dups;
		T->dup_flagged += c->dup_flagged;
		T->ooo += c->ooo;
		T->too_old += c->too_old;
		T->unexpected += c->unexpected;
		T->wrong_topic += c->wrong_topic;
		T->unknown_topic += c->unknown_topic;
		T->bad_payload += c->bad_payload;
		T->foreign += c->foreign;
		if (c->unique < T->sub_min) {
			T->sub_min = c->unique;
			T->sub_min_idx = i;
		}
		if (c->unique > T->sub_max || i == 0) {
			T->sub_max = c->unique;
			T->sub_max_idx = i;
		}
		if (c->last_rx_ns > last_rx)
			last_rx = c->last_rx_ns;
	}
	if (g_cfg.n_sub == 0)
		T->sub_min = 0;
	if (!T->expected_known)
		T->lost = T->excess = 0;
	for (uint32_t i = 0; i < g_cfg.threads; i++) {
		const struct lg_worker *w = &g_workers[i];
		T->pingreq += w->pingreq;
		T->pingresp += w->pingresp;
		T->decode_err += w->decode_err;
		T->odd_type += w->odd_type;
		T->icmp_err += w->icmp_err;
		T->gw_disconnect += w->gw_disconnect;
		T->qos2 += w->qos2;
		T->disc_noreply += w->disc_noreply;
		T->ctl_send_fail += w->ctl_send_fail;
		T->rx_err += w->rx_err;
		lg_hist_merge(&T->hist, &w->hist);
	}
	T->send_s = (double)(last_send - t0) / 1e9;
	T->deliver_s = (double)(last_rx - t0) / 1e9;

	T->exit_code = 0;
	snprintf(T->verdict, sizeof T->verdict, "%s",
		 g_cfg.expect_no_loss ? "pass" : "not checked (no --expect-no-loss)");
	if (g_cfg.expect_no_loss) {
		char *v = T->verdict;
		size_t cap = sizeof T->verdict, o = 0;
#define LG_FAIL_IF(cond, fmt, val) \
	do { \
		if (cond) { \
			T->exit_code = 1; \
			o += (size_t)snprintf(v + o, cap - o, "%s" fmt, o ? ", " : "fail: ", val); \
			if (o >= cap) \
				o = cap - 1; \
		} \
	} while (0)
		LG_FAIL_IF(T->lost > 0, "%" PRIu64 " lost", T->lost);
		LG_FAIL_IF(T->dups > 0, "%" PRIu64 " duplicated", T->dups);
		LG_FAIL_IF(T->unexpected > 0, "%" PRIu64 " misrouted", T->unexpected);
		LG_FAIL_IF(T->wrong_topic > 0, "%" PRIu64 " wrong topic", T->wrong_topic);
		LG_FAIL_IF(T->bad_payload > 0, "%" PRIu64 " bad payload", T->bad_payload);
#undef LG_FAIL_IF
	}
}

static double lg_rate(uint64_t n, double s)
{
	return s > 0 ? (double)n / s : 0.0;
}
static double lg_us(uint64_t ns)
{
	return (double)ns / 1e3;
}

static void lg_report_text(FILE *f, const struct lg_totals *T)
{
	fprintf(f,
		"fanout-loadgen: %u publisher(s) -> %u subscriber(s) via %s, QoS %d (subscribers QoS %d), payload %u "
		"B, %u thread(s)\n",
		g_cfg.subscribe_only ? 0 : g_cfg.n_pub, g_cfg.n_sub, g_cfg.gw_str, g_cfg.qos, g_cfg.sub_qos,
		g_cfg.payload, g_cfg.threads);
	if (!g_cfg.subscribe_only) {
		fprintf(f, "  sent          %12" PRIu64 " msgs in %.3f s (%.1f msgs/s)\n", T->sent, T->send_s,
			lg_rate(T->sent, T->send_s));
		if (g_cfg.qos >= 1)
			fprintf(f,
				"  %s %12" PRIu64 " msgs; rejected %" PRIu64 " msgs; unacked after %u retries %" PRIu64
				" msgs; retransmitted %" PRIu64 " %s; late %s %" PRIu64 "\n",
				g_cfg.qos == 2 ? "completed    " : "acked        ", T->acked, T->rejected,
				g_cfg.retries, T->unacked, T->retrans, g_cfg.qos == 2 ? "PUBLISH/PUBREL" : "msgs",
				g_cfg.qos == 2 ? "PUBREC/PUBCOMP/PUBACKs" : "PUBACKs", T->late_acks);
		else
			fprintf(f, "  rejected      %12" PRIu64 " msgs (PUBACK with error code)\n", T->rejected);
		if (T->send_errs || T->eagain)
			fprintf(f, "  send errors   %12" PRIu64 " msgs; socket full (retried) %" PRIu64 " times\n",
				T->send_errs, T->eagain);
		if (T->behind)
			fprintf(f,
				"  behind        %12" PRIu64
				" msgs not sent: the loop stalled longer than --bucket-ms %u ms "
				"(CPU busy? try --threads)\n",
				T->behind, g_cfg.bucket_ms);
	}
	if (T->expected_known)
		fprintf(f, "  expected      %12" PRIu64 " msgs\n", T->expected);
	else
		fprintf(f, "  expected               n/a (subscribe-only without --count)\n");
	fprintf(f, "  received      %12" PRIu64 " msgs (%" PRIu64 " unique) in %.3f s (%.1f msgs/s delivered)\n", T->rx,
		T->unique, T->deliver_s, lg_rate(T->rx, T->deliver_s));
	if (T->expected_known)
		fprintf(f, "  lost          %12" PRIu64 " msgs; beyond expected %" PRIu64 " msgs\n", T->lost,
			T->excess);
	fprintf(f,
		"  duplicated    %12" PRIu64 " msgs; with DUP flag %" PRIu64 " msgs; out of order %" PRIu64
		" msgs (%" PRIu64 " older than the %" PRIu64 "-message window)\n",
		T->dups, T->dup_flagged, T->ooo, T->too_old, g_win_bits);
	fprintf(f,
		"  misrouted     %12" PRIu64 " msgs; wrong topic id %" PRIu64 " msgs; unknown topic id %" PRIu64
		" msgs; bad payload %" PRIu64 " msgs; unknown publisher %" PRIu64 " msgs\n",
		T->unexpected, T->wrong_topic, T->unknown_topic, T->bad_payload, T->foreign);
	fprintf(f,
		"  latency       p50 %.1f us; p95 %.1f us; p99 %.1f us; max %.1f us; mean %.1f us (%" PRIu64
		" samples)\n",
		lg_us(lg_hist_pct(&T->hist, 50)), lg_us(lg_hist_pct(&T->hist, 95)), lg_us(lg_hist_pct(&T->hist, 99)),
		lg_us(T->hist.max), T->hist.n ? lg_us(T->hist.sum / T->hist.n) : 0.0, T->hist.n);
	if (g_cfg.n_sub)
		fprintf(f,
			"  per subscriber min %" PRIu64 " msgs (subscriber %u); max %" PRIu64
			" msgs (subscriber %u) unique received\n",
			T->sub_min, T->sub_min_idx, T->sub_max, T->sub_max_idx);
	fprintf(f,
		"  protocol      PINGREQ sent %" PRIu64 "; PINGRESP %" PRIu64 "; decode errors %" PRIu64
		"; unexpected types %" PRIu64 "; ICMP unreachable %" PRIu64 "; gateway DISCONNECTs %" PRIu64
		"; DISCONNECT unanswered %" PRIu64 "\n",
		T->pingreq, T->pingresp, T->decode_err, T->odd_type, T->icmp_err, T->gw_disconnect, T->disc_noreply);
	fprintf(f, "  result        %s\n", T->verdict);
}

static void lg_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void lg_report_json(FILE *f, const struct lg_totals *T)
{
	fprintf(f, "{\n  \"version\": 1,\n  \"config\": {\"gateway\": ");
	lg_json_str(f, g_cfg.gw_str);
	fprintf(f,
		", \"publishers\": %u, \"subscribers\": %u, \"qos\": %d, \"sub_qos\": %d, \"payload_bytes\": %u, "
		"\"rate_msgs_per_s\": %.3f, \"total_rate_msgs_per_s\": %.3f, \"duration_s\": %.3f, \"count\": %" PRIu64
		", \"topic\": ",
		g_cfg.subscribe_only ? 0 : g_cfg.n_pub, g_cfg.n_sub, g_cfg.qos, g_cfg.sub_qos, g_cfg.payload,
		g_cfg.rate, g_cfg.total_rate, g_cfg.duration_s, g_cfg.count);
	lg_json_str(f, g_cfg.topic);
	fprintf(f, ", \"topics\": %u, \"filter\": ", g_cfg.topics);
	lg_json_str(f, g_cfg.filter);
	fprintf(f, ", \"window\": %u, \"threads\": %u, \"subscribe_only\": %s},\n", g_cfg.window, g_cfg.threads,
		g_cfg.subscribe_only ? "true" : "false");
	fprintf(f,
		"  \"publish\": {\"sent_msgs\": %" PRIu64 ", \"acked_msgs\": %" PRIu64 ", \"rejected_msgs\": %" PRIu64
		", \"unacked_msgs\": %" PRIu64 ", \"retransmitted_msgs\": %" PRIu64 ", \"late_acks\": %" PRIu64
		", \"send_errors\": %" PRIu64 ", \"socket_full\": %" PRIu64 ", \"behind_schedule_msgs\": %" PRIu64
		", \"elapsed_s\": %.6f, \"rate_msgs_per_s\": %.3f},\n",
		T->sent, T->acked, T->rejected, T->unacked, T->retrans, T->late_acks, T->send_errs, T->eagain,
		T->behind, T->send_s, lg_rate(T->sent, T->send_s));
	fprintf(f, "  \"deliver\": {\"expected_msgs\": ");
	if (T->expected_known)
		fprintf(f, "%" PRIu64 ", \"lost_msgs\": %" PRIu64 ", \"excess_msgs\": %" PRIu64, T->expected, T->lost,
			T->excess);
	else
		fprintf(f, "null, \"lost_msgs\": null, \"excess_msgs\": null");
	fprintf(f,
		", \"received_msgs\": %" PRIu64 ", \"unique_msgs\": %" PRIu64 ", \"duplicated_msgs\": %" PRIu64
		", \"dup_flagged_msgs\": %" PRIu64 ", \"out_of_order_msgs\": %" PRIu64 ", \"too_old_msgs\": %" PRIu64
		", \"misrouted_msgs\": %" PRIu64 ", \"wrong_topic_msgs\": %" PRIu64 ", \"unknown_topic_msgs\": %" PRIu64
		", \"bad_payload_msgs\": %" PRIu64 ", \"unknown_publisher_msgs\": %" PRIu64
		", \"elapsed_s\": %.6f, \"rate_msgs_per_s\": %.3f},\n",
		T->rx, T->unique, T->dups, T->dup_flagged, T->ooo, T->too_old, T->unexpected, T->wrong_topic,
		T->unknown_topic, T->bad_payload, T->foreign, T->deliver_s, lg_rate(T->rx, T->deliver_s));
	fprintf(f,
		"  \"latency_us\": {\"samples\": %" PRIu64
		", \"p50\": %.3f, \"p95\": %.3f, \"p99\": %.3f, \"max\": %.3f, \"mean\": %.3f},\n",
		T->hist.n, lg_us(lg_hist_pct(&T->hist, 50)), lg_us(lg_hist_pct(&T->hist, 95)),
		lg_us(lg_hist_pct(&T->hist, 99)), lg_us(T->hist.max), T->hist.n ? lg_us(T->hist.sum / T->hist.n) : 0.0);
	fprintf(f,
		"  \"subscribers\": {\"received_min_msgs\": %" PRIu64
		", \"received_min_index\": %u, \"received_max_msgs\": %" PRIu64 ", \"received_max_index\": %u},\n",
		T->sub_min, T->sub_min_idx, T->sub_max, T->sub_max_idx);
	fprintf(f,
		"  \"protocol\": {\"pingreq_sent\": %" PRIu64 ", \"pingresp\": %" PRIu64 ", \"decode_errors\": %" PRIu64
		", \"unexpected_types\": %" PRIu64 ", \"icmp_unreachable\": %" PRIu64
		", \"gateway_disconnects\": %" PRIu64 ", \"qos2_received\": %" PRIu64
		", \"disconnect_unanswered\": %" PRIu64 ", \"ack_send_failures\": %" PRIu64
		", \"recv_errors\": %" PRIu64 "},\n",
		T->pingreq, T->pingresp, T->decode_err, T->odd_type, T->icmp_err, T->gw_disconnect, T->qos2,
		T->disc_noreply, T->ctl_send_fail, T->rx_err);
	fprintf(f, "  \"result\": {\"exit_code\": %d, \"checked\": %s, \"pass\": %s, \"verdict\": ", T->exit_code,
		g_cfg.expect_no_loss ? "true" : "false", T->exit_code == 0 ? "true" : "false");
	lg_json_str(f, T->verdict);
	fprintf(f, "}\n}\n");
}

/* ---- self-test: the pure pieces, no network ---- */

static int lg_self_test(void)
{
	int fails = 0, checks = 0;
#define LG_CHECK(cond) \
	do { \
		checks++; \
		if (!(cond)) { \
			fails++; \
			fprintf(stderr, "self-test: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		} \
	} while (0)
	static const struct {
		const char *f, *t;
		bool m;
	} mt[] = {
		{ "a/b", "a/b", true },
		{ "a/b", "a/c", false },
		{ "a/b", "a/b/c", false },
		{ "a/b/c", "a/b", false },
		{ "a/+", "a/b", true },
		{ "a/+", "a/b/c", false },
		{ "a/+", "a/", true },
		{ "a/+", "a", false },
		{ "+/b", "/b", true },
		{ "+", "a", true },
		{ "+", "a/b", false },
		{ "+/+", "a/b", true },
		{ "#", "a", true },
		{ "#", "a/b/c", true },
		{ "a/#", "a", true },
		{ "a/#", "a/b/c", true },
		{ "a/#", "ab", false },
		{ "a/#", "b/a", false },
		{ "a/+/c", "a/x/c", true },
		{ "a/+/c", "a/x/d", false },
		{ "+/+/#", "a/b", true },
		{ "#", "$SYS/x", false },
		{ "+/x", "$SYS/x", false },
		{ "$SYS/#", "$SYS/x", true },
		{ "sensors/+/temp", "sensors/12/temp", true },
		{ "sensors/+/temp", "sensors/12/hum", false },
		{ "a//b", "a//b", true },
		{ "a/+/b", "a//b", true },
		{ "ab", "a", false },
	};
	for (size_t i = 0; i < sizeof mt / sizeof mt[0]; i++) {
		bool got = lg_topic_match(mt[i].f, mt[i].t);
		checks++;
		if (got != mt[i].m) {
			fails++;
			fprintf(stderr, "self-test: match(\"%s\", \"%s\") = %d, want %d\n", mt[i].f, mt[i].t, got,
				mt[i].m);
		}
	}
	LG_CHECK(lg_filter_valid("a/+/#"));
	LG_CHECK(lg_filter_valid("#"));
	LG_CHECK(lg_filter_valid("+"));
	LG_CHECK(!lg_filter_valid("a/#/b"));
	LG_CHECK(!lg_filter_valid("a+/b"));
	LG_CHECK(!lg_filter_valid("a/b#"));
	LG_CHECK(!lg_filter_valid(""));
	LG_CHECK(lg_name_valid("a/b"));
	LG_CHECK(!lg_name_valid("a/+"));

	char buf[64];
	LG_CHECK(lg_expand("sensors/{pub}/t{i}", 7, -1, 3, buf, sizeof buf) > 0 && strcmp(buf, "sensors/7/t3") == 0);
	LG_CHECK(lg_expand("s/{sub}", -1, 42, -1, buf, sizeof buf) > 0 && strcmp(buf, "s/42") == 0);
	LG_CHECK(lg_expand("s/{sub}", 1, -1, 1, buf, sizeof buf) < 0);
	LG_CHECK(lg_expand("s/{bogus}", 1, 1, 1, buf, sizeof buf) < 0);
	LG_CHECK(lg_expand("0123456789", 1, 1, 1, buf, 8) < 0);

	/* histogram: bucket bounds are consistent and percentiles within 1/64 */
	for (uint64_t v = 1; v < (1ull << 62); v = v * 3 + 1) {
		unsigned i = lg_hist_index(v);
		LG_CHECK(i < LG_HIST_BUCKETS && lg_hist_high(i) >= v && (i == 0 || lg_hist_high(i - 1) < v));
	}
	static struct lg_hist h;
	memset(&h, 0, sizeof h);
	for (uint64_t v = 1; v <= 100000; v++)
		lg_hist_add(&h, v * 1000); /* 1 us .. 100 ms uniform */
	const double pcts[] = { 50, 95, 99, 99.9 };
	for (size_t i = 0; i < 4; i++) {
		double want = pcts[i] / 100.0 * 100000.0 * 1000.0, got = (double)lg_hist_pct(&h, pcts[i]);
		LG_CHECK(got >= want && got <= want * (1.0 + 1.0 / 64.0) + 1000.0);
	}
	LG_CHECK(lg_hist_pct(&h, 100) == 100000000ull && h.max == 100000000ull && h.n == 100000);
	memset(&h, 0, sizeof h);
	LG_CHECK(lg_hist_pct(&h, 99) == 0);
	lg_hist_add(&h, 5);
	LG_CHECK(lg_hist_pct(&h, 50) == 5 && lg_hist_pct(&h, 99) == 5);

	/* sequence window */
	g_win_bits = LG_SEQWIN_MIN;
	struct lg_seqwin *swp = lg_seqwin_new();
	if (!swp)
		return 1;
#define sw (*swp)
	LG_CHECK(lg_seqwin_add(&sw, 0) == SEQ_NEW);
	LG_CHECK(lg_seqwin_add(&sw, 1) == SEQ_NEW);
	LG_CHECK(lg_seqwin_add(&sw, 1) == SEQ_DUP);
	LG_CHECK(lg_seqwin_add(&sw, 5) == SEQ_NEW);
	LG_CHECK(lg_seqwin_add(&sw, 3) == SEQ_LATE);
	LG_CHECK(lg_seqwin_add(&sw, 3) == SEQ_DUP);
	LG_CHECK(lg_seqwin_add(&sw, 0) == SEQ_DUP);
	LG_CHECK(lg_seqwin_add(&sw, 5000) == SEQ_NEW);
	LG_CHECK(lg_seqwin_add(&sw, 5) == SEQ_TOO_OLD);
	LG_CHECK(lg_seqwin_add(&sw, 4999) == SEQ_LATE);
	LG_CHECK(lg_seqwin_add(&sw, 5000 - LG_SEQWIN_MIN + 1) == SEQ_LATE);
	LG_CHECK(lg_seqwin_add(&sw, 5000 + LG_SEQWIN_MIN) == SEQ_NEW);
	LG_CHECK(lg_seqwin_add(&sw, 5000 + 1) == SEQ_LATE); /* bit of 5001 - 1024 was cleared on the move */
#undef sw
	free(swp);

	/* topic map */
	struct lg_tmap tm = { 0 };
	for (uint32_t i = 1; i <= 1000; i++) {
		snprintf(buf, sizeof buf, "t/%u", i);
		LG_CHECK(lg_tmap_put(&tm, (uint16_t)(i * 7), buf, strlen(buf)) == 0);
	}
	LG_CHECK(lg_tmap_put(&tm, 7, "x", 1) == 0 && strcmp(lg_tmap_get(&tm, 7), "x") == 0);
	LG_CHECK(lg_tmap_get(&tm, 14) && strcmp(lg_tmap_get(&tm, 14), "t/2") == 0);
	LG_CHECK(lg_tmap_get(&tm, 3) == NULL && tm.n == 1000);
	lg_tmap_free(&tm);

	/* payload header round trip and rejection */
	uint8_t pl[LG_PAYLOAD_MAX];
	struct lg_hdr a = { .len = 64, .pub = 32767, .retx = true, .seq = 0xDEADBEEFu, .ts_ns = 0x0123456789ABCDEFull },
		      b;
	lg_hdr_put(pl, &a);
	LG_CHECK(lg_hdr_get(pl, 64, &b) && b.pub == 32767 && b.retx && b.seq == a.seq && b.ts_ns == a.ts_ns);
	a.retx = false;
	a.pub = 513;
	lg_hdr_put(pl, &a);
	LG_CHECK(lg_hdr_get(pl, 64, &b) && b.pub == 513 && !b.retx);
	LG_CHECK(!lg_hdr_get(pl, 63, &b));
	LG_CHECK(!lg_hdr_get(pl, 8, &b));
	pl[0] ^= 0x80;
	LG_CHECK(!lg_hdr_get(pl, 64, &b));

	/* the codec round-trips what we send */
	struct mqttsn_msg m = { .type = MQTTSN_CONNECT }, d;
	m.u.connect.flags = MQTTSN_FLAG_CLEAN;
	m.u.connect.protocol_id = MQTTSN_PROTOCOL_ID;
	m.u.connect.duration = 60;
	m.u.connect.client_id = (const uint8_t *)"lg1p0";
	m.u.connect.client_id_len = 5;
	int n = mqttsn_encode(&m, pl, sizeof pl);
	LG_CHECK(n == 11 && mqttsn_decode(pl, (size_t)n, &d) == MQTTSN_OK && d.type == MQTTSN_CONNECT &&
		 d.u.connect.duration == 60);
	lg_hdr_put(pl + 7, &(struct lg_hdr){ .len = 20, .pub = 1, .seq = 2, .ts_ns = 3 });
	n = mqttsn_encode_publish_hdr(pl, 7, MQTTSN_FLAG_QOS1, 5, 9, 20);
	LG_CHECK(n == 7 && mqttsn_decode(pl, 27, &d) == MQTTSN_OK && d.type == MQTTSN_PUBLISH &&
		 d.u.publish.msg_id == 9 && d.u.publish.data_len == 20 &&
		 lg_hdr_get(d.u.publish.data, d.u.publish.data_len, &b) && b.seq == 2);
	static const uint8_t pubx_types[] = { MQTTSN_PUBREC, MQTTSN_PUBREL, MQTTSN_PUBCOMP };
	for (size_t i = 0; i < sizeof pubx_types; i++) {
		m = (struct mqttsn_msg){ .type = pubx_types[i], .u.pubx.msg_id = 0xBEEF };
		n = mqttsn_encode(&m, pl, sizeof pl);
		LG_CHECK(n == 4 && pl[1] == pubx_types[i] && mqttsn_decode(pl, (size_t)n, &d) == MQTTSN_OK &&
			 d.type == pubx_types[i] && d.u.pubx.msg_id == 0xBEEF);
	}
	n = mqttsn_encode_publish_hdr(pl, 7, mqttsn_qos_flags(2), 5, 9, 20);
	LG_CHECK(n == 7 && mqttsn_decode(pl, 27, &d) == MQTTSN_OK && mqttsn_flags_qos(d.u.publish.flags) == 2);
#undef LG_CHECK
	printf("self-test: %d of %d checks passed\n", checks - fails, checks);
	return fails ? 1 : 0;
}

/* ---- options ---- */

static void lg_usage(FILE *f)
{
	fprintf(f,
		"usage: fanout-loadgen --gateway IP[:PORT] [options]\n"
		"Simulates MQTT-SN v1.2 publishers and subscribers over UDP (one socket per client) and checks\n"
		"that every subscriber receives exactly the messages its filter matches.\n"
		"\n"
		"Target\n"
		"  --gateway IP[:PORT]      gateway address (default 127.0.0.1:%u)\n"
		"  --bind IP                source address for all client sockets (default: chosen by route)\n"
		"Publishers\n"
		"  -p, --publishers N       publisher count, max 32767 (default 1; in --subscribe-only: how many\n"
		"                           remote publisher indexes to track for duplicates and order)\n"
		"  --rate R                 msgs/s per publisher, token bucket (default 100; 0 = as fast as\n"
		"                           the socket and the QoS 1/2 window allow)\n"
		"  --total-rate R           msgs/s over all publishers, split evenly (overrides --rate)\n"
		"  --burst N                max msgs per publisher per loop pass (default 16)\n"
		"  --bucket-ms MS           token bucket depth: after a stall the loop catches up at most MS\n"
		"                           of messages, the rest is reported as behind schedule (default 20)\n"
		"  --duration SEC           length of the send phase (default 10 unless --count is given);\n"
		"                           in --subscribe-only: how long to count\n"
		"  --count N                messages per publisher (send phase ends at --count or --duration,\n"
		"                           whichever first); in --subscribe-only: stop once every subscriber\n"
		"                           has N unique messages and treat fewer as loss\n"
		"  --payload BYTES          PUBLISH data size, %u..%u (default 64); the first %u bytes are the\n"
		"                           loadgen header (magic|length, publisher, sequence, send time ns)\n"
		"  --topic PATTERN          topic name pattern (default \"bench/{pub}\"); {pub} = publisher index,\n"
		"                           {i} = message index modulo --topics\n"
		"  --topics N               distinct {i} values (default 1; needs {i} in --topic)\n"
		"  --qos Q                  publish QoS: 0, 1, 2 or -1 (default 0); -1 needs --predefined or a\n"
		"                           two-character --topic (short topic name)\n"
		"  --predefined ID          publish to predefined topic ID + ({i} value) instead of REGISTER; the\n"
		"                           gateway's table must map it to the --topic name (used for matching)\n"
		"  --short                  publish with short topic names (--topic must expand to 2 characters)\n"
		"  --qosm1-connect          CONNECT QoS -1 publishers too (default: they send without a session)\n"
		"  --window N               QoS 1/2 messages in flight per publisher (default 16, max %u); a QoS 2\n"
		"                           message holds its slot from PUBLISH to PUBCOMP. Fanout keeps 4 QoS 2\n"
		"                           MsgIds awaiting PUBREL per client: a fifth gets PUBACK congestion,\n"
		"                           counted as rejected; use --window 4 or less at QoS 2\n"
		"  --retry-ms MS            retransmission timeout for PUBLISH/CONNECT/SUBSCRIBE/REGISTER\n"
		"                           (default 500)\n"
		"  --retries N              QoS 1/2 retransmissions (PUBLISH with DUP, or PUBREL) before giving\n"
		"                           up (default 3)\n"
		"Subscribers\n"
		"  -s, --subscribers N      subscriber count (default 1)\n"
		"  --filter FILTER          subscription filter, + and # allowed, {sub} = subscriber index\n"
		"                           (default \"bench/#\")\n"
		"  --sub-qos Q              requested QoS 0, 1 or 2 (default 0); QoS 2 copies are answered\n"
		"                           PUBREC, their PUBREL PUBCOMP, and counted on arrival\n"
		"  --subscribe-only         no publishers: connect and subscribe, print \"ready\" once every\n"
		"                           SUBACK is in, count until --duration (or --count, or SIGINT/SIGTERM)\n"
		"Sessions and timing\n"
		"  --keepalive SEC          CONNECT keepalive; PINGREQ after SEC/2 of silence (default 60, 0 = off)\n"
		"  --connect-timeout-ms MS  limit for each setup step (CONNACK, SUBACK, each REGACK) (default 3000)\n"
		"  --connect-burst N        setup requests outstanding per thread (default 256)\n"
		"  --drain-ms MS            wait for stragglers after the send phase (default 1000)\n"
		"  --threads N              event loops; clients are dealt round-robin (default 1)\n"
		"                           duplicates are detected exactly over the last W sequence numbers of\n"
		"                           each publisher per subscriber: W covers --count when given, else\n"
		"                           65536, within a %u MiB budget; older arrivals count as out of order\n"
		"  --id-prefix STR          client id prefix, ids are PREFIXp<i> / PREFIXs<i> (default lg<pid>)\n"
		"Output\n"
		"  --json FILE              write the report as JSON to FILE; \"-\" = stdout (the text report then\n"
		"                           goes to stderr)\n"
		"  --quiet                  no text report (errors, \"ready\" and --json still appear)\n"
		"  --expect-no-loss         exit 1 if any message is lost, duplicated, misrouted, carries a wrong\n"
		"                           topic or a corrupt payload; duplicates that arrive with the DUP flag\n"
		"                           or stem from a publisher's DUP retransmission are counted apart\n"
		"                           (dup_flagged) and do not fail the run\n"
		"  --self-test              check the topic matcher, histogram, dup window, header; no network\n"
		"  -h, --help               this text\n"
		"Exit status: 0 success, 1 --expect-no-loss failed, 2 usage or connection error.\n",
		LG_DEFAULT_PORT, LG_HDR_LEN, LG_PAYLOAD_MAX, LG_HDR_LEN, LG_MAX_WINDOW, LG_DEDUP_MB);
}

static bool lg_parse_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi) {
		fprintf(stderr, "fanout-loadgen: %s \"%s\": want an integer in %" PRIu64 "..%" PRIu64 "\n", opt, s, lo,
			hi);
		return false;
	}
	*out = v;
	return true;
}

static bool lg_parse_u32(const char *opt, const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	uint64_t v;
	if (!lg_parse_u64(opt, s, lo, hi, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool lg_parse_double(const char *opt, const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr, "fanout-loadgen: %s \"%s\": want a number in %g..%g\n", opt, s, lo, hi);
		return false;
	}
	*out = v;
	return true;
}

static bool lg_parse_qos(const char *opt, const char *s, int lo, int *out)
{
	if (strcmp(s, "0") == 0 || strcmp(s, "1") == 0 || strcmp(s, "2") == 0 || (lo < 0 && strcmp(s, "-1") == 0)) {
		*out = atoi(s);
		return true;
	}
	fprintf(stderr, "fanout-loadgen: %s \"%s\": want %s\n", opt, s, lo < 0 ? "-1, 0, 1 or 2" : "0, 1 or 2");
	return false;
}

static bool lg_parse_gateway(const char *s)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	size_t hl = colon ? (size_t)(colon - s) : strlen(s);
	uint32_t port = LG_DEFAULT_PORT;
	if (hl == 0 || hl >= sizeof host) {
		fprintf(stderr, "fanout-loadgen: --gateway \"%s\": want IPv4[:PORT]\n", s);
		return false;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (colon && !lg_parse_u32("--gateway port", colon + 1, 1, 65535, &port))
		return false;
	g_cfg.gw = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (inet_pton(AF_INET, host, &g_cfg.gw.sin_addr) != 1) {
		fprintf(stderr, "fanout-loadgen: --gateway \"%s\": \"%s\" is not an IPv4 address\n", s, host);
		return false;
	}
	snprintf(g_cfg.gw_str, sizeof g_cfg.gw_str, "%s:%u", host, port);
	return true;
}

enum {
	OPT_GATEWAY = 256,
	OPT_BIND,
	OPT_RATE,
	OPT_TOTAL_RATE,
	OPT_BURST,
	OPT_BUCKET_MS,
	OPT_DURATION,
	OPT_COUNT,
	OPT_PAYLOAD,
	OPT_TOPIC,
	OPT_TOPICS,
	OPT_QOS,
	OPT_PREDEFINED,
	OPT_SHORT,
	OPT_QOSM1_CONNECT,
	OPT_WINDOW,
	OPT_RETRY_MS,
	OPT_RETRIES,
	OPT_FILTER,
	OPT_SUB_QOS,
	OPT_SUBSCRIBE_ONLY,
	OPT_KEEPALIVE,
	OPT_CONNECT_TIMEOUT,
	OPT_CONNECT_BURST,
	OPT_DRAIN,
	OPT_THREADS,
	OPT_ID_PREFIX,
	OPT_JSON,
	OPT_QUIET,
	OPT_EXPECT_NO_LOSS,
	OPT_SELF_TEST,
};

static const struct option lg_opts[] = {
	{ "gateway", required_argument, NULL, OPT_GATEWAY },
	{ "bind", required_argument, NULL, OPT_BIND },
	{ "publishers", required_argument, NULL, 'p' },
	{ "subscribers", required_argument, NULL, 's' },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "total-rate", required_argument, NULL, OPT_TOTAL_RATE },
	{ "burst", required_argument, NULL, OPT_BURST },
	{ "bucket-ms", required_argument, NULL, OPT_BUCKET_MS },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "payload", required_argument, NULL, OPT_PAYLOAD },
	{ "topic", required_argument, NULL, OPT_TOPIC },
	{ "topics", required_argument, NULL, OPT_TOPICS },
	{ "qos", required_argument, NULL, OPT_QOS },
	{ "predefined", required_argument, NULL, OPT_PREDEFINED },
	{ "short", no_argument, NULL, OPT_SHORT },
	{ "qosm1-connect", no_argument, NULL, OPT_QOSM1_CONNECT },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "retry-ms", required_argument, NULL, OPT_RETRY_MS },
	{ "retries", required_argument, NULL, OPT_RETRIES },
	{ "filter", required_argument, NULL, OPT_FILTER },
	{ "sub-qos", required_argument, NULL, OPT_SUB_QOS },
	{ "subscribe-only", no_argument, NULL, OPT_SUBSCRIBE_ONLY },
	{ "keepalive", required_argument, NULL, OPT_KEEPALIVE },
	{ "connect-timeout-ms", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "connect-burst", required_argument, NULL, OPT_CONNECT_BURST },
	{ "drain-ms", required_argument, NULL, OPT_DRAIN },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "id-prefix", required_argument, NULL, OPT_ID_PREFIX },
	{ "json", required_argument, NULL, OPT_JSON },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "expect-no-loss", no_argument, NULL, OPT_EXPECT_NO_LOSS },
	{ "self-test", no_argument, NULL, OPT_SELF_TEST },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Returns -1 to continue, or an exit status. */
static int lg_parse_args(int argc, char **argv)
{
	bool duration_set = false;
	uint64_t v64;
	g_cfg = (struct lg_config){
		.n_pub = 1,
		.n_sub = 1,
		.rate = 100,
		.payload = 64,
		.topic = "bench/{pub}",
		.topics = 1,
		.qos = 0,
		.predefined = -1,
		.window = 16,
		.retry_ms = 500,
		.retries = 3,
		.filter = "bench/#",
		.sub_qos = 0,
		.keepalive_s = 60,
		.connect_timeout_ms = 3000,
		.drain_ms = 1000,
		.threads = 1,
		.burst = 16,
		.bucket_ms = 20,
		.connect_burst = 256,
	};
	snprintf(g_cfg.id_prefix, sizeof g_cfg.id_prefix, "lg%ld", (long)getpid() % 10000000L);
	if (!lg_parse_gateway("127.0.0.1"))
		return 2;
	int o;
	while ((o = getopt_long(argc, argv, "p:s:h", lg_opts, NULL)) != -1) {
		bool ok = true;
		switch (o) {
		case OPT_GATEWAY: ok = lg_parse_gateway(optarg); break;
		case OPT_BIND:
			g_cfg.has_bind = true;
			if (inet_pton(AF_INET, optarg, &g_cfg.bind_addr) != 1) {
				fprintf(stderr, "fanout-loadgen: --bind \"%s\": not an IPv4 address\n", optarg);
				ok = false;
			}
			break;
		case 'p': ok = lg_parse_u32("--publishers", optarg, 0, 32767, &g_cfg.n_pub); break;
		case 's': ok = lg_parse_u32("--subscribers", optarg, 0, LG_MAX_CLIENTS, &g_cfg.n_sub); break;
		case OPT_RATE: ok = lg_parse_double("--rate", optarg, 0, 1e9, &g_cfg.rate); break;
		case OPT_TOTAL_RATE: ok = lg_parse_double("--total-rate", optarg, 0, 1e10, &g_cfg.total_rate); break;
		case OPT_BURST: ok = lg_parse_u32("--burst", optarg, 1, 65536, &g_cfg.burst); break;
		case OPT_BUCKET_MS: ok = lg_parse_u32("--bucket-ms", optarg, 0, 10000, &g_cfg.bucket_ms); break;
		case OPT_DURATION:
			ok = lg_parse_double("--duration", optarg, 0, 86400 * 7, &g_cfg.duration_s);
			duration_set = true;
			break;
		case OPT_COUNT:
			ok = lg_parse_u64("--count", optarg, 1, UINT32_MAX, &v64);
			g_cfg.count = v64;
			break;
		case OPT_PAYLOAD:
			ok = lg_parse_u32("--payload", optarg, LG_HDR_LEN, LG_PAYLOAD_MAX, &g_cfg.payload);
			break;
		case OPT_TOPIC: g_cfg.topic = optarg; break;
		case OPT_TOPICS: ok = lg_parse_u32("--topics", optarg, 1, LG_MAX_TOPICS, &g_cfg.topics); break;
		case OPT_QOS: ok = lg_parse_qos("--qos", optarg, -1, &g_cfg.qos); break;
		case OPT_PREDEFINED:
			ok = lg_parse_u64("--predefined", optarg, 1, 65535, &v64);
			g_cfg.predefined = (long)v64;
			break;
		case OPT_SHORT: g_cfg.short_topic = true; break;
		case OPT_QOSM1_CONNECT: g_cfg.qosm1_connect = true; break;
		case OPT_WINDOW: ok = lg_parse_u32("--window", optarg, 1, LG_MAX_WINDOW, &g_cfg.window); break;
		case OPT_RETRY_MS: ok = lg_parse_u32("--retry-ms", optarg, 1, 600000, &g_cfg.retry_ms); break;
		case OPT_RETRIES: ok = lg_parse_u32("--retries", optarg, 0, 100, &g_cfg.retries); break;
		case OPT_FILTER: g_cfg.filter = optarg; break;
		case OPT_SUB_QOS: ok = lg_parse_qos("--sub-qos", optarg, 0, &g_cfg.sub_qos); break;
		case OPT_SUBSCRIBE_ONLY: g_cfg.subscribe_only = true; break;
		case OPT_KEEPALIVE: ok = lg_parse_u32("--keepalive", optarg, 0, 65535, &g_cfg.keepalive_s); break;
		case OPT_CONNECT_TIMEOUT:
			ok = lg_parse_u32("--connect-timeout-ms", optarg, 1, 3600000, &g_cfg.connect_timeout_ms);
			break;
		case OPT_CONNECT_BURST:
			ok = lg_parse_u32("--connect-burst", optarg, 1, LG_MAX_CLIENTS, &g_cfg.connect_burst);
			break;
		case OPT_DRAIN: ok = lg_parse_u32("--drain-ms", optarg, 0, 3600000, &g_cfg.drain_ms); break;
		case OPT_THREADS: ok = lg_parse_u32("--threads", optarg, 1, LG_MAX_THREADS, &g_cfg.threads); break;
		case OPT_ID_PREFIX:
			if (strlen(optarg) == 0 || strlen(optarg) >= sizeof g_cfg.id_prefix) {
				fprintf(stderr,
					"fanout-loadgen: --id-prefix \"%s\": want 1..%zu characters (client ids are at "
					"most %d)\n",
					optarg, sizeof g_cfg.id_prefix - 1, MQTTSN_CLIENT_ID_MAX);
				ok = false;
			} else {
				snprintf(g_cfg.id_prefix, sizeof g_cfg.id_prefix, "%s", optarg);
			}
			break;
		case OPT_JSON: g_cfg.json = optarg; break;
		case OPT_QUIET: g_cfg.quiet = true; break;
		case OPT_EXPECT_NO_LOSS: g_cfg.expect_no_loss = true; break;
		case OPT_SELF_TEST: return lg_self_test();
		case 'h': lg_usage(stdout); return 0;
		default: lg_usage(stderr); return 2;
		}
		if (!ok)
			return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "fanout-loadgen: unexpected argument \"%s\"; see --help\n", argv[optind]);
		return 2;
	}

	/* cross-option checks, each naming the fix */
	if (!duration_set && g_cfg.count == 0)
		g_cfg.duration_s = 10;
	if (g_cfg.duration_s == 0 && g_cfg.count == 0) {
		fprintf(stderr, "fanout-loadgen: --duration 0 needs --count N to bound the run\n");
		return 2;
	}
	if (g_cfg.subscribe_only && g_cfg.n_sub == 0) {
		fprintf(stderr, "fanout-loadgen: --subscribe-only needs --subscribers >= 1\n");
		return 2;
	}
	if (!g_cfg.subscribe_only && g_cfg.n_pub == 0 && g_cfg.n_sub == 0) {
		fprintf(stderr, "fanout-loadgen: nothing to do: --publishers 0 and --subscribers 0\n");
		return 2;
	}
	uint64_t clients = (uint64_t)g_cfg.n_sub + (g_cfg.subscribe_only ? 0 : g_cfg.n_pub);
	if (clients > LG_MAX_CLIENTS) {
		fprintf(stderr,
			"fanout-loadgen: %" PRIu64
			" clients > %u (one UDP source port each); use fewer or run several loadgens\n",
			clients, LG_MAX_CLIENTS);
		return 2;
	}
	bool has_i = strstr(g_cfg.topic, "{i}") != NULL;
	if (g_cfg.topics > 1 && !has_i) {
		fprintf(stderr, "fanout-loadgen: --topics %u has no effect: add {i} to --topic \"%s\"\n", g_cfg.topics,
			g_cfg.topic);
		return 2;
	}
	if (!has_i)
		g_cfg.topics = 1;
	if ((uint64_t)g_cfg.topics * (g_cfg.subscribe_only ? 1 : g_cfg.n_pub) > LG_MAX_NAMES) {
		fprintf(stderr, "fanout-loadgen: --publishers x --topics exceeds %u topic names; lower one of them\n",
			LG_MAX_NAMES);
		return 2;
	}
	char name[LG_TOPIC_MAX];
	if (lg_expand(g_cfg.topic, 0, -1, 0, name, sizeof name) < 0 || !lg_name_valid(name)) {
		fprintf(stderr,
			"fanout-loadgen: --topic \"%s\": want a topic name (no + or #, < %u bytes) with only {pub} and "
			"{i}\n",
			g_cfg.topic, LG_TOPIC_MAX);
		return 2;
	}
	if (lg_expand(g_cfg.filter, -1, 0, -1, name, sizeof name) < 0 || !lg_filter_valid(name)) {
		fprintf(stderr,
			"fanout-loadgen: --filter \"%s\": want a valid filter ('+' and '#' each a whole level, '#' "
			"last) "
			"with only {sub}\n",
			g_cfg.filter);
		return 2;
	}
	if (g_cfg.predefined >= 0 && g_cfg.short_topic) {
		fprintf(stderr, "fanout-loadgen: --predefined and --short exclude each other\n");
		return 2;
	}
	if (g_cfg.qos < 0 && g_cfg.predefined < 0)
		g_cfg.short_topic = true; /* QoS -1 cannot REGISTER: short topic names */
	if (g_cfg.predefined >= 0 && g_cfg.predefined + (long)g_cfg.topics - 1 > 65535) {
		fprintf(stderr, "fanout-loadgen: --predefined %ld + --topics %u exceeds topic id 65535\n",
			g_cfg.predefined, g_cfg.topics);
		return 2;
	}
	if (g_cfg.threads > clients)
		g_cfg.threads = (uint32_t)(clients ? clients : 1);

	/* duplicate window: whole run when --count is known, else the default; both within budget */
	uint64_t want = g_cfg.count ? g_cfg.count : LG_SEQWIN_DEFAULT,
		 pairs = (uint64_t)g_cfg.n_sub * (g_cfg.n_pub ? g_cfg.n_pub : 1);
	uint64_t cap = (uint64_t)LG_DEDUP_MB * 8u * 1024u * 1024u / (pairs ? pairs : 1);
	if (want > cap)
		want = cap;
	if (want > LG_SEQWIN_MAX)
		want = LG_SEQWIN_MAX;
	for (g_win_bits = LG_SEQWIN_MIN; g_win_bits < want && g_win_bits < LG_SEQWIN_MAX;)
		g_win_bits <<= 1;
	return -1;
}

/* ---- setup of client tables ---- */

static int lg_init_clients(void)
{
	uint32_t np = g_cfg.subscribe_only ? 0 : g_cfg.n_pub;
	g_pubs = calloc(np ? np : 1, sizeof *g_pubs);
	g_subs = calloc(g_cfg.n_sub ? g_cfg.n_sub : 1, sizeof *g_subs);
	if (!g_pubs || !g_subs)
		return -1;
	for (uint32_t i = 0; i < np; i++) {
		struct lg_client *c = &g_pubs[i];
		c->fd = -1;
		c->kind = LG_PUB;
		c->idx = i;
		snprintf(c->id, sizeof c->id, "%sp%u", g_cfg.id_prefix, i);
		c->n_names = g_cfg.topics;
		c->names = calloc(c->n_names, sizeof *c->names);
		c->topic_ids = calloc(c->n_names, sizeof *c->topic_ids);
		c->accepted = calloc(c->n_names, sizeof *c->accepted);
		if (!c->names || !c->topic_ids || !c->accepted)
			return -1;
		for (uint32_t t = 0; t < c->n_names; t++) {
			char name[LG_TOPIC_MAX];
			if (lg_expand(g_cfg.topic, (long)i, -1, (long)t, name, sizeof name) < 0 ||
			    !lg_name_valid(name)) {
				fprintf(stderr, "fanout-loadgen: --topic \"%s\" for publisher %u, {i}=%u is too long\n",
					g_cfg.topic, i, t);
				return -2;
			}
			if (g_cfg.short_topic && strlen(name) != 2) {
				fprintf(stderr,
					"fanout-loadgen: short topic names (--short, or --qos -1 without --predefined) "
					"are 2 "
					"characters; --topic \"%s\" gives \"%s\" for publisher %u\n",
					g_cfg.topic, name, i);
				return -2;
			}
			if (!(c->names[t] = strdup(name)))
				return -1;
		}
		if (g_cfg.qos >= 1) {
			c->inflight = calloc(g_cfg.window, sizeof *c->inflight);
			c->free_slots = calloc(g_cfg.window, sizeof *c->free_slots);
			c->slot_gen = calloc(g_cfg.window, sizeof *c->slot_gen);
			if (!c->inflight || !c->free_slots || !c->slot_gen)
				return -1;
			for (uint32_t s = 0; s < g_cfg.window; s++)
				c->free_slots[s] = (uint16_t)(g_cfg.window - 1u - s);
			c->n_free = g_cfg.window;
		}
	}
	for (uint32_t i = 0; i < g_cfg.n_sub; i++) {
		struct lg_client *c = &g_subs[i];
		c->fd = -1;
		c->kind = LG_SUB;
		c->idx = i;
		snprintf(c->id, sizeof c->id, "%ss%u", g_cfg.id_prefix, i);
		if (lg_expand(g_cfg.filter, -1, (long)i, -1, c->filter, sizeof c->filter) < 0 ||
		    !lg_filter_valid(c->filter)) {
			fprintf(stderr, "fanout-loadgen: --filter \"%s\" for subscriber %u is too long\n", g_cfg.filter,
				i);
			return -2;
		}
		c->n_wins = g_cfg.n_pub;
		c->wins = calloc(c->n_wins ? c->n_wins : 1, sizeof *c->wins);
		if (!c->wins)
			return -1;
	}
	/* deal clients round-robin so each loop carries publishers and subscribers alike */
	g_workers = calloc(g_cfg.threads, sizeof *g_workers);
	if (!g_workers)
		return -1;
	uint32_t total = np + g_cfg.n_sub;
	for (uint32_t t = 0; t < g_cfg.threads; t++) {
		struct lg_worker *w = &g_workers[t];
		w->id = t;
		w->pwait2 = true;
		w->cl = calloc(total / g_cfg.threads + 1u, sizeof *w->cl);
		w->rxbuf = malloc(LG_RX_BUF);
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		if (!w->cl || !w->rxbuf || w->ep < 0)
			return -1;
	}
	for (uint32_t k = 0; k < total; k++) {
		struct lg_worker *w = &g_workers[k % g_cfg.threads];
		w->cl[w->n++] = k < np ? &g_pubs[k] : &g_subs[k - np];
	}
	for (size_t i = 0; i < sizeof g_pad; i++)
		g_pad[i] = (uint8_t)('a' + i % 26u);
	return 0;
}

static void lg_raise_fd_limit(uint64_t need)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
		rl.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl); /* a shortfall surfaces as EMFILE with advice */
	}
}

static void lg_on_signal(int sig)
{
	(void)sig;
	atomic_store(&g_stop, 1);
}

int main(int argc, char **argv)
{
	int rc = lg_parse_args(argc, argv);
	if (rc >= 0)
		return rc;
	rc = lg_init_clients();
	if (rc < 0) {
		if (rc == -1)
			fprintf(stderr, "fanout-loadgen: out of memory or epoll unavailable setting up clients\n");
		return 2;
	}
	lg_raise_fd_limit((uint64_t)g_cfg.n_pub + g_cfg.n_sub + 64u);
	struct sigaction sa = { .sa_handler = lg_on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	pthread_barrier_init(&g_barrier, NULL, g_cfg.threads);
	for (uint32_t t = 1; t < g_cfg.threads; t++)
		if (pthread_create(&g_workers[t].th, NULL, lg_worker_main, &g_workers[t]) != 0) {
			fprintf(stderr, "fanout-loadgen: cannot start thread %u; lower --threads\n", t);
			_exit(2); /* the barrier would wait for it forever */
		}
	lg_worker_main(&g_workers[0]);
	for (uint32_t t = 1; t < g_cfg.threads; t++)
		pthread_join(g_workers[t].th, NULL);
	if (atomic_load(&g_fatal)) {
		unsigned n = (unsigned)atomic_load(&g_fatal);
		if (n > 1)
			fprintf(stderr, "fanout-loadgen: (%u more client errors not shown)\n", n - 1);
		return 2;
	}

	static struct lg_totals T;
	lg_account(&T);
	bool json_stdout = g_cfg.json && strcmp(g_cfg.json, "-") == 0;
	if (!g_cfg.quiet)
		lg_report_text(json_stdout ? stderr : stdout, &T);
	if (g_cfg.json) {
		FILE *f = json_stdout ? stdout : fopen(g_cfg.json, "w");
		if (!f) {
			fprintf(stderr, "fanout-loadgen: --json %s: %s\n", g_cfg.json, strerror(errno));
			return 2;
		}
		lg_report_json(f, &T);
		if (f != stdout && fclose(f) != 0) {
			fprintf(stderr, "fanout-loadgen: --json %s: write failed: %s\n", g_cfg.json, strerror(errno));
			return 2;
		}
	}
	fflush(stdout);
	return T.exit_code;
}
