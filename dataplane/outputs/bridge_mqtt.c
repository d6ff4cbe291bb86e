/* The MQTT broker bridge (docs/outputs.md): one control thread and one libmosquitto connection
 * per bridge. Upstream, it drains the ring the workers fill with publishes that matched a
 * bridge route and publishes each on its mapped topic with the publish's QoS; a QoS 1 entry is
 * finished when the broker's PUBACK arrives. Downstream, messages on the bridge's upstream
 * subscriptions are handed to every worker's peer ring, so they reach the MQTT-SN subscribers
 * as if another worker had accepted them (and are never routed back up).
 *
 * The thread runs its own poll() loop over the connection (mosquitto_loop_read/write/misc):
 * mosquitto_loop() uses select(), which fails once the socket's descriptor is >= FD_SETSIZE,
 * and a DPDK process holding one descriptor per hugepage gets there. While the broker is
 * unreachable the ring is not drained: it fills and the workers count ring_full drops -- that
 * is the bridge's bounded buffer. Reconnects back off from reconnect_min_ms doubling to
 * reconnect_max_ms. The session is persistent (clean session off; MQTT 5: a session expiry),
 * and libmosquitto keeps unacknowledged QoS 1 publishes across a reconnect and sends them
 * again, so an entry in flight stays in flight until its PUBACK. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "dataplane.h"
#include "json_out.h"
#include "outputs.h"
#include "topic_match.h"

#define BRIDGE_BURST 64                 /* entries taken from the ring at once */
#define BRIDGE_BURSTS_PER_LOOP 4        /* ... and bursts between two looks at the socket */
#define BRIDGE_POLL_MS 1                /* idle wait on the socket: the extra latency of an idle bridge */
#define BRIDGE_IDLE_SLEEP_MS 10         /* disconnected: how often the stop flag is looked at */
#define BRIDGE_CONNECT_TIMEOUT_MS 10000 /* TCP + TLS + CONNACK of one attempt */
#define BRIDGE_FLUSH_MS 1000            /* at stop: time given to entries in flight */
#define BRIDGE_SESSION_EXPIRY_S 3600    /* MQTT 5: the broker keeps the session this long after a drop */
#define BRIDGE_INJECT_WAIT_US 2000      /* downstream: wait this long at most for a peer descriptor or ring slot */
#define BRIDGE_READS_PER_LOOP 256       /* packets read from the socket per loop iteration at most */
#define BRIDGE_TOPIC_MAX 65535          /* MQTT topic length limit */
#define BRIDGE_PAYLOAD_MAX 65536
#define BRIDGE_MIDS 65536

enum bridge_state { B_DOWN = 0, B_CONNECTING, B_UP };

struct bridge {
	const struct fo_bridge_config *cfg;
	uint32_t peer_seq; /* the last message injected (fo_wr_peer_pub.seq) */
	struct fo_output *o;
	struct mosquitto *mosq;
	int state; /* enum bridge_state */
	bool ever_up;
	bool attempt_msg; /* last_error already tells why this connect attempt failed */
	bool need_subscribe;
	uint64_t next_attempt_ms, attempt_ms; /* monotonic */
	uint32_t backoff_ms;
	/* Upstream: entries taken from the ring and not finished are either pending (not yet
	 * accepted by libmosquitto: the connection went down in the middle of a burst), or QoS 1
	 * publishes awaiting their PUBACK, found by message id. */
	struct fo_out_msg *pending[BRIDGE_BURST];
	uint32_t n_pending;
	struct fo_out_msg **by_mid; /* [BRIDGE_MIDS] */
	uint64_t *sent_us;          /* [BRIDGE_MIDS]: when the QoS 1 publish was handed over */
	uint32_t q1_out;
	/* libmosquitto reports a QoS 0 publish written to the socket through the same callback as
	 * a PUBACK: those callbacks are told apart from PUBACKs. */
	uint8_t *q0_unseen; /* [BRIDGE_MIDS]: QoS 0 writes still to be reported */
	int q0_mid;
	bool in_q0, q0_seen;
	/* Downstream */
	int sub_mid[FO_MAX_BRIDGE_SUBS];
	uint32_t subscribed; /* subscriptions the broker granted on this connection */
	uint32_t sub_refused;
	uint32_t payload_room; /* data room of a pkt_pool mbuf */
	char *topic;           /* expanded remote topic */
	uint8_t *pbuf;         /* a chained payload, flattened */
	uint8_t *ltopic;       /* local topic of a message from upstream */
	char addr[300];
	/* Following local interest (follow:): every filter local subscribers hold on some worker, and
	 * whether it is subscribed upstream; the origin mark our publishes carry. */
	struct follow_ent *fl;
	uint32_t n_fl, cap_fl;
	mosquitto_property *origin; /* user property fanout-origin = our client id */
};

/* A filter local subscribers hold (on the workers in the mask). upstream: subscribed upstream now;
 * an allowed filter that another upstream one covers is not subscribed itself (the broker would
 * send a message once per matching subscription). */
struct follow_ent {
	char *filter;
	uint32_t workers; /* bit per worker */
	uint8_t qos;      /* the allow-list entry's (the highest of those that cover it) */
	bool allowed;     /* an entry of follow: covers it */
	bool upstream;
};

#define BRIDGE_ORIGIN_PROP "fanout-origin"
#define BRIDGE_FOLLOW_MAX 65536u /* filters tracked at once; past it, new ones are not followed */

static bool lib_ready;

static uint64_t mono_ms(void)
{
	return fo_out_mono_us() / 1000u;
}

static const char *mosq_err(int rc)
{
	return rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc);
}

/* ------------------------------------------------------------------ upstream */

static void finish(struct fo_output *o, struct fo_out_msg *m, bool ok)
{
	o->st.inflight--;
	fo_out_finish(o, m, ok);
}

/* A PUBACK (or the report of a QoS 0 write, which is not one). */
static void on_publish(struct mosquitto *mosq, void *obj, int mid, int reason, const mosquitto_property *props)
{
	(void)mosq;
	(void)props;
	struct bridge *b = obj;
	struct fo_output *o = b->o;
	if (mid <= 0 || mid >= BRIDGE_MIDS)
		return;
	if (b->in_q0 && mid == b->q0_mid && !b->q0_seen) {
		b->q0_seen = true; /* the QoS 0 publish being made right now went out at once */
		return;
	}
	if (b->q0_unseen[mid]) {
		b->q0_unseen[mid]--;
		return;
	}
	struct fo_out_msg *m = b->by_mid[mid];
	if (!m)
		return;
	b->by_mid[mid] = NULL;
	b->q1_out--;
	uint64_t rtt = fo_out_mono_us() - b->sent_us[mid];
	fo_out_rtt_add(o, rtt);
	bool ok = reason < 0x80; /* MQTT 5 PUBACK reason codes from 0x80 are failures */
	if (!ok) {
		o->st.errors++;
		fo_out_set_error(o, "%s: the broker refused a publish: %s (0x%02x)", b->addr,
				 mosquitto_reason_string(reason), reason);
	}
	finish(o, m, ok);
}

static void went_down(struct fo_output *o, struct bridge *b, int rc);

enum pub_result { PUB_DONE, PUB_RETRY };

/* Hands one entry to libmosquitto. PUB_RETRY: the connection is gone (now marked down) and the
 * entry was not taken; it waits for the next connection. */
static enum pub_result publish_one(struct fo_output *o, struct bridge *b, struct fo_out_msg *m)
{
	size_t tlen = fo_out_tmpl_expand(m->tmpl, m->topic, m->topic_len, b->topic, BRIDGE_TOPIC_MAX + 1);
	if (tlen == 0 || tlen > BRIDGE_TOPIC_MAX) {
		o->st.errors++;
		fo_out_set_error(o, "%s: remote topic of '%.*s' is %s", b->addr, (int)RTE_MIN(m->topic_len, 64),
				 (const char *)m->topic, tlen ? "longer than 65535 bytes" : "empty");
		finish(o, m, false);
		return PUB_DONE;
	}
	b->topic[tlen] = '\0';
	uint32_t plen;
	const uint8_t *pl = fo_out_payload(m, b->pbuf, BRIDGE_PAYLOAD_MAX, &plen);
	if (!pl && plen) {
		o->st.errors++;
		fo_out_set_error(o, "%s: cannot read the payload of a publish on %s", b->addr, b->topic);
		finish(o, m, false);
		return PUB_DONE;
	}
	int qos = m->qos > 0 ? 1 : 0;
	int mid = 0, rc;
	if (qos == 0) {
		b->in_q0 = true;
		b->q0_seen = false;
		b->q0_mid = 0;
		rc = mosquitto_publish_v5(b->mosq, &b->q0_mid, b->topic, (int)plen, pl, 0, false, b->origin);
		b->in_q0 = false;
		mid = b->q0_mid;
		if (rc == MOSQ_ERR_SUCCESS) {
			if (!b->q0_seen && mid > 0 && mid < BRIDGE_MIDS && b->q0_unseen[mid] < UINT8_MAX)
				b->q0_unseen[mid]++; /* reported when libmosquitto gets to write it */
			finish(o, m, true);
			return PUB_DONE;
		}
		/* Queued but not written: libmosquitto drops unsent QoS 0 packets on reconnect,
		 * so sending it again on the next connection cannot duplicate it. */
		if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_ERRNO) {
			went_down(o, b, rc);
			return PUB_RETRY;
		}
	} else {
		rc = mosquitto_publish_v5(b->mosq, &mid, b->topic, (int)plen, pl, 1, false, b->origin);
		/* Once a message id is given, libmosquitto has queued the message (only a failed
		 * allocation stops it): a send error leaves it queued for the next connection. */
		if (rc == MOSQ_ERR_SUCCESS || (mid > 0 && mid < BRIDGE_MIDS && rc != MOSQ_ERR_NOMEM)) {
			struct fo_out_msg *old = b->by_mid[mid];
			if (old) { /* the id came round again while its publish had no PUBACK */
				b->q1_out--;
				o->st.errors++;
				fo_out_set_error(o, "%s: message id %d reused before its PUBACK", b->addr, mid);
				finish(o, old, false);
			}
			b->by_mid[mid] = m;
			b->sent_us[mid] = fo_out_mono_us();
			b->q1_out++;
			if (rc != MOSQ_ERR_SUCCESS) /* queued, but the write failed: the connection is gone */
				went_down(o, b, rc);
			return PUB_DONE;
		}
		if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST) {
			went_down(o, b, rc);
			return PUB_RETRY;
		}
	}
	/* Refused before it was queued: a topic or payload the broker cannot take, QoS above
	 * the broker's maximum, out of memory. Retrying would not help. */
	o->st.errors++;
	fo_out_set_error(o, "%s: publish on %s (QoS %d, %u bytes): %s", b->addr, b->topic, qos, plen, mosq_err(rc));
	finish(o, m, false);
	return PUB_DONE;
}

/* Publishes what is pending, then what the ring has, keeping at most max_inflight QoS 1
 * entries without a PUBACK, and taking no new burst while libmosquitto still has bytes it could
 * not write: a broker slower than the workers backs up into the ring, never into unbounded
 * memory here. At most BRIDGE_BURSTS_PER_LOOP bursts, so reads are not starved. Returns the
 * entries handed over. */
static uint32_t drain(struct fo_output *o, struct bridge *b, bool take_new)
{
	uint32_t done = 0, bursts = 0;
	while (b->n_pending && b->state == B_UP) {
		if (publish_one(o, b, b->pending[0]) == PUB_RETRY)
			return done;
		memmove(b->pending, b->pending + 1, (b->n_pending - 1) * sizeof(*b->pending));
		b->n_pending--;
		done++;
	}
	while (take_new && b->state == B_UP && bursts++ < BRIDGE_BURSTS_PER_LOOP && !mosquitto_want_write(b->mosq)) {
		uint32_t room = b->q1_out < b->cfg->max_inflight ? b->cfg->max_inflight - b->q1_out : 0;
		if (room == 0)
			break;
		struct fo_out_msg *msgs[BRIDGE_BURST];
		unsigned n = rte_ring_sc_dequeue_burst(o->ring, (void **)msgs, RTE_MIN(room, (uint32_t)BRIDGE_BURST),
						       NULL);
		if (n == 0)
			break;
		o->st.inflight += n;
		o->st.batches++;
		o->st.batched += n;
		fo_out_hist_add(o->st.batch_hist, n);
		for (unsigned i = 0; i < n; i++) {
			if (b->state != B_UP || publish_one(o, b, msgs[i]) == PUB_RETRY) {
				memcpy(b->pending, msgs + i, (n - i) * sizeof(*msgs));
				b->n_pending = n - i;
				return done;
			}
			done++;
		}
	}
	return done;
}

/* At stop: everything still held, and what is left in the ring, fails as discarded. */
static void discard_all(struct fo_output *o, struct bridge *b)
{
	for (uint32_t i = 0; i < b->n_pending; i++) {
		o->st.discarded++;
		finish(o, b->pending[i], false);
	}
	b->n_pending = 0;
	for (uint32_t mid = 1; mid < BRIDGE_MIDS && b->q1_out; mid++) {
		struct fo_out_msg *m = b->by_mid[mid];
		if (!m)
			continue;
		b->by_mid[mid] = NULL;
		b->q1_out--;
		o->st.discarded++;
		finish(o, m, false);
	}
	struct fo_out_msg *m;
	while (rte_ring_sc_dequeue(o->ring, (void **)&m) == 0) {
		o->st.inflight++;
		o->st.discarded++;
		finish(o, m, false);
	}
}

/* ------------------------------------------------------------------ downstream */

static const struct fo_bridge_sub *find_sub(const struct bridge *b, const char *topic)
{
	for (uint32_t i = 0; i < b->cfg->n_subs; i++) {
		bool match = false;
		if (mosquitto_topic_matches_sub(b->cfg->subs[i].filter, topic, &match) == MOSQ_ERR_SUCCESS && match)
			return &b->cfg->subs[i];
	}
	return NULL;
}

/* Waits (this thread only, bounded) while the workers free descriptors or ring slots; never
 * once the pipeline is stopping. */
static bool inject_wait(uint64_t deadline_us)
{
	if (atomic_load_explicit(&fo_dp.phase, memory_order_acquire) != FO_RUN || fo_out_mono_us() >= deadline_us)
		return false;
	fo_out_sleep_us(20);
	return true;
}

static void inject_drop(struct fo_output *o, struct bridge *b, const char *topic, const char *why)
{
	o->st.inject_dropped++;
	fo_out_set_error(o, "%s: message on %.100s not delivered locally: %s", b->addr, topic, why);
}

/* One worker's copy of an injected message: fo_peer_post, waiting a little for room. */
static bool inject_post(void *ctx, uint32_t worker, const struct fo_wr_peer_pub *pub, void *payload)
{
	return fo_peer_post(worker, pub, payload, inject_wait, *(const uint64_t *)ctx);
}

/* A message from an upstream subscription: to every worker's peer ring, one payload mbuf
 * reference per worker, through the same hand-off a worker uses for its publishes. */
static const struct fo_bridge_sub *find_follow(const struct bridge *b, const char *topic)
{
	for (uint32_t i = 0; i < b->cfg->n_follow; i++) {
		bool match = false;
		if (mosquitto_topic_matches_sub(b->cfg->follow[i].filter, topic, &match) == MOSQ_ERR_SUCCESS && match)
			return &b->cfg->follow[i];
	}
	return NULL;
}

/* True when the message carries our own origin mark: it went up from this appliance. */
static bool own_echo(const struct bridge *b, const mosquitto_property *props)
{
	for (const mosquitto_property *p = props; p; p = mosquitto_property_next(p)) {
		char *name = NULL, *value = NULL;
		if (mosquitto_property_identifier(p) != MQTT_PROP_USER_PROPERTY ||
		    !mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &name, &value, false))
			continue;
		bool own = strcmp(name, BRIDGE_ORIGIN_PROP) == 0 && strcmp(value, b->cfg->client_id) == 0;
		free(name);
		free(value);
		if (own)
			return true;
	}
	return false;
}

static void inject(struct fo_output *o, struct bridge *b, const struct mosquitto_message *msg,
		   const mosquitto_property *props)
{
	o->st.received++;
	if (b->origin && own_echo(b, props)) { /* a broker without No Local, or an overlapping path */
		o->st.echo_dropped++;
		return;
	}
	const struct fo_bridge_sub *sub = find_sub(b, msg->topic);
	if (!sub)
		sub = find_follow(b, msg->topic);
	if (!sub) { /* a subscription the persistent session kept from an earlier config */
		inject_drop(o, b, msg->topic, "it matches no subscription of the bridge");
		return;
	}
	const char *rest = msg->topic;
	size_t sp = strlen(sub->strip_prefix), lp = strlen(sub->local_prefix);
	if (sp && strncmp(rest, sub->strip_prefix, sp) == 0)
		rest += sp;
	size_t rl = strlen(rest), tl = lp + rl;
	uint16_t max_topic = fo_dp.cfg->broker.max_topic_len;
	if (tl > max_topic) {
		inject_drop(o, b, msg->topic, "the local topic is longer than mqttsn.max_topic_len");
		return;
	}
	memcpy(b->ltopic, sub->local_prefix, lp);
	memcpy(b->ltopic + lp, rest, rl);
	if (!topic_name_valid(b->ltopic, tl, max_topic)) {
		inject_drop(o, b, msg->topic, "the local topic is not a valid MQTT-SN topic name");
		return;
	}
	if (msg->payloadlen < 0 || (uint32_t)msg->payloadlen > b->payload_room) {
		inject_drop(o, b, msg->topic, "the payload is larger than one packet mbuf");
		return;
	}
	uint64_t deadline = fo_out_mono_us() + BRIDGE_INJECT_WAIT_US;
	struct rte_mbuf *m;
	while ((m = rte_pktmbuf_alloc(fo_dp.pkt_pool)) == NULL)
		if (!inject_wait(deadline)) {
			inject_drop(o, b, msg->topic, "the packet mbuf pool is empty");
			return;
		}
	uint16_t plen = (uint16_t)msg->payloadlen;
	uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, plen);
	if (plen)
		memcpy(d, msg->payload, plen);
	/* the workers' UDP checksums reuse the payload's sum (io_payload_bind keeps the same) */
	m->hash.usr = l2l4_csum_fold(l2l4_csum_add(0, d, plen));
	struct fo_wr_peer_pub pub = {
		.topic = (const uint8_t *)b->ltopic,
		.topic_len = (uint16_t)tl,
		.payload_len = plen,
		.qos = msg->qos > 0 ? 1 : 0,
		.gen_slot = FO_GEN_SLOT_NONE,
		.origin = (uint8_t)(FO_WR_ORIGIN_OUTPUT + (o - fo_outputs)),
		.seq = ++b->peer_seq,
		.rx_tsc = rte_get_tsc_cycles(),
	};
	struct fo_wr_io io = { .ctx = &deadline, .peer_post = inject_post };
	uint32_t n = fo_dp.n_workers;
	/* the worker's own hand-off (worker_route.c), to every worker: none is the sender */
	uint32_t taken = fo_wr_forward_peers(&io, n, n, &pub, m);
	rte_pktmbuf_free(m); /* this thread's reference; each worker that took it holds its own */
	if (taken == n)
		o->st.injected++;
	else
		inject_drop(o, b, msg->topic, "a worker's peer ring or the peer descriptor pool is full");
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	(void)mosq;
	struct bridge *b = obj;
	inject(b->o, b, msg, props);
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int n, const int *granted)
{
	(void)mosq;
	struct bridge *b = obj;
	for (uint32_t i = 0; i < b->cfg->n_subs; i++) {
		if (b->sub_mid[i] != mid)
			continue;
		b->sub_mid[i] = 0;
		if (n >= 1 && granted[0] >= 0 && granted[0] <= 2) {
			b->subscribed++;
		} else {
			b->sub_refused++;
			b->o->st.errors++;
			fo_out_set_error(b->o, "%s: the broker refused the subscription to %s (0x%02x)", b->addr,
					 b->cfg->subs[i].filter, n >= 1 ? granted[0] : 0);
		}
	}
}

static void subscribe_all(struct fo_output *o, struct bridge *b)
{
	b->need_subscribe = false;
	/* MQTT 5: no copies of our own publishes back (a subscription overlapping the mapped
	 * remote topics would otherwise loop them down again), and retained messages only for
	 * a subscription the session did not have yet. */
	int opts = b->cfg->protocol == 5 ? MQTT_SUB_OPT_NO_LOCAL | MQTT_SUB_OPT_SEND_RETAIN_NEW : 0;
	for (uint32_t i = 0; i < b->cfg->n_subs; i++) {
		int mid = 0;
		int rc = mosquitto_subscribe_v5(b->mosq, &mid, b->cfg->subs[i].filter, b->cfg->subs[i].qos, opts, NULL);
		b->sub_mid[i] = mid;
		if (rc != MOSQ_ERR_SUCCESS && mid == 0) {
			o->st.errors++;
			fo_out_set_error(o, "%s: subscribe %s: %s", b->addr, b->cfg->subs[i].filter, mosq_err(rc));
		}
	}
	for (uint32_t i = 0; i < b->n_fl; i++) {
		if (!b->fl[i].upstream)
			continue;
		int rc = mosquitto_subscribe_v5(b->mosq, NULL, b->fl[i].filter, b->fl[i].qos, opts, NULL);
		if (rc != MOSQ_ERR_SUCCESS) {
			o->st.errors++;
			fo_out_set_error(o, "%s: subscribe %s: %s", b->addr, b->fl[i].filter, mosq_err(rc));
		}
	}
}

/* ------------------------------------------------------------------ following local interest */

static void follow_sub(struct fo_output *o, struct bridge *b, struct follow_ent *e)
{
	e->upstream = true;
	o->st.followed++;
	if (b->state != B_UP)
		return; /* subscribe_all sends it on the next connection */
	int rc = mosquitto_subscribe_v5(b->mosq, NULL, e->filter, e->qos,
					MQTT_SUB_OPT_NO_LOCAL | MQTT_SUB_OPT_SEND_RETAIN_NEW, NULL);
	if (rc != MOSQ_ERR_SUCCESS) {
		o->st.errors++;
		fo_out_set_error(o, "%s: subscribe %s: %s", b->addr, e->filter, mosq_err(rc));
	}
}

static void follow_unsub(struct fo_output *o, struct bridge *b, struct follow_ent *e)
{
	e->upstream = false;
	o->st.unfollowed++;
	if (b->state != B_UP)
		return; /* the next connection does not subscribe it */
	int rc = mosquitto_unsubscribe(b->mosq, NULL, e->filter);
	if (rc != MOSQ_ERR_SUCCESS) {
		o->st.errors++;
		fo_out_set_error(o, "%s: unsubscribe %s: %s", b->addr, e->filter, mosq_err(rc));
	}
}

/* An upstream filter other than `except` that covers e's filter, or NULL. */
static const struct follow_ent *covered_by(const struct bridge *b, const struct follow_ent *e,
					   const struct follow_ent *except)
{
	for (uint32_t i = 0; i < b->n_fl; i++) {
		const struct follow_ent *u = &b->fl[i];
		if (u != e && u != except && u->upstream &&
		    topic_filter_covers((const uint8_t *)u->filter, strlen(u->filter), (const uint8_t *)e->filter,
					strlen(e->filter)))
			return u;
	}
	return NULL;
}

/* e is wanted (allowed, with local subscribers) and not upstream: subscribe it unless an upstream
 * filter (other than `except`, which is going) covers it; then end the upstream ones it covers. */
static void follow_want(struct fo_output *o, struct bridge *b, struct follow_ent *e, const struct follow_ent *except)
{
	if (covered_by(b, e, except))
		return;
	follow_sub(o, b, e);
	for (uint32_t i = 0; i < b->n_fl; i++) {
		struct follow_ent *u = &b->fl[i];
		if (u != e && u != except && u->upstream &&
		    topic_filter_covers((const uint8_t *)e->filter, strlen(e->filter), (const uint8_t *)u->filter,
					strlen(u->filter)))
			follow_unsub(o, b, u);
	}
}

static void follow_event(struct fo_output *o, struct bridge *b, const struct fo_interest_ev *ev)
{
	uint32_t i = 0;
	while (i < b->n_fl &&
	       !(strlen(b->fl[i].filter) == ev->len && memcmp(b->fl[i].filter, ev->filter, ev->len) == 0))
		i++;
	uint32_t bit = 1u << (ev->worker & 31);
	if (ev->on) {
		if (i == b->n_fl) {
			if (b->n_fl == BRIDGE_FOLLOW_MAX)
				return;
			if (b->n_fl == b->cap_fl) {
				uint32_t cap = b->cap_fl ? b->cap_fl * 2 : 64;
				struct follow_ent *n = realloc(b->fl, cap * sizeof(*n));
				if (!n)
					return;
				b->fl = n;
				b->cap_fl = cap;
			}
			struct follow_ent *e = &b->fl[b->n_fl];
			*e = (struct follow_ent){ .filter = strndup(ev->filter, ev->len) };
			if (!e->filter)
				return;
			for (uint32_t k = 0; k < b->cfg->n_follow; k++)
				if (topic_filter_covers((const uint8_t *)b->cfg->follow[k].filter,
							strlen(b->cfg->follow[k].filter), (const uint8_t *)ev->filter,
							ev->len)) {
					e->allowed = true;
					e->qos = RTE_MAX(e->qos, b->cfg->follow[k].qos);
				}
			b->n_fl++;
		}
		struct follow_ent *e = &b->fl[i];
		bool was = e->workers != 0;
		e->workers |= bit;
		if (!was && e->allowed)
			follow_want(o, b, e, NULL);
		return;
	}
	if (i == b->n_fl)
		return;
	struct follow_ent *e = &b->fl[i];
	e->workers &= ~bit;
	if (e->workers)
		return;
	if (e->upstream) {
		/* what it covered and is still wanted gets its own subscription first */
		for (uint32_t k = 0; k < b->n_fl; k++) {
			struct follow_ent *c = &b->fl[k];
			if (c != e && c->workers && c->allowed && !c->upstream)
				follow_want(o, b, c, e);
		}
		follow_unsub(o, b, e);
	}
	free(e->filter);
	b->fl[i] = b->fl[--b->n_fl];
}

/* The workers' events since the last look, and their count of events a full ring turned away. */
static void follow_poll(struct fo_output *o, struct bridge *b)
{
	if (!o->interest)
		return;
	struct fo_interest_ev ev[16];
	unsigned n;
	while ((n = rte_ring_sc_dequeue_burst_elem(o->interest, ev, sizeof(ev[0]), 16, NULL)) > 0)
		for (unsigned k = 0; k < n; k++)
			follow_event(o, b, &ev[k]);
	uint64_t lost = 0;
	for (uint32_t w = 0; w < FO_RCTR_OUT_ROW; w++)
		lost += __atomic_load_n(&o->interest_lost_w[w], __ATOMIC_RELAXED);
	o->st.interest_lost = lost;
}

/* ------------------------------------------------------------------ connection */

static void went_down(struct fo_output *o, struct bridge *b, int rc)
{
	if (b->state == B_DOWN)
		return;
	uint64_t now = mono_ms();
	if (b->state == B_UP) {
		o->st.errors++;
		fo_out_set_error(o, "%s: connection lost: %s", b->addr, mosq_err(rc));
		b->backoff_ms = b->cfg->reconnect_min_ms;
	} else {
		o->st.connect_failures++;
		if (!b->attempt_msg)
			fo_out_set_error(o, "%s: connect: %s", b->addr, mosq_err(rc));
	}
	b->next_attempt_ms = now + b->backoff_ms;
	if (b->state != B_UP)
		b->backoff_ms = b->backoff_ms * 2 < b->cfg->reconnect_max_ms ? b->backoff_ms * 2
									     : b->cfg->reconnect_max_ms;
	b->state = B_DOWN;
	b->subscribed = 0;
	b->need_subscribe = false;
	atomic_store(&o->st.connected, 0);
	/* unwritten QoS 0 packets are dropped with the connection: no reports will come */
	memset(b->q0_unseen, 0, BRIDGE_MIDS);
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags, const mosquitto_property *props)
{
	(void)mosq;
	(void)flags;
	(void)props;
	struct bridge *b = obj;
	struct fo_output *o = b->o;
	if (rc != 0) { /* libmosquitto closes the connection next; went_down() counts the failure */
		b->attempt_msg = true;
		fo_out_set_error(o, "%s: the broker refused the connection: %s", b->addr,
				 b->cfg->protocol == 5 ? mosquitto_reason_string(rc) : mosquitto_connack_string(rc));
		return;
	}
	b->state = B_UP;
	if (b->ever_up)
		o->st.reconnects++;
	b->ever_up = true;
	b->backoff_ms = b->cfg->reconnect_min_ms;
	b->need_subscribe = b->cfg->n_subs > 0;
	b->subscribed = 0;
	o->st.connected_since_ms = fo_out_wall_ms();
	atomic_store(&o->st.connected, 1);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc, const mosquitto_property *props)
{
	(void)mosq;
	(void)props;
	struct bridge *b = obj;
	went_down(b->o, b, rc);
}

static void start_connect(struct fo_output *o, struct bridge *b)
{
	b->state = B_CONNECTING;
	b->attempt_msg = false;
	b->attempt_ms = mono_ms();
	int rc = mosquitto_connect_bind_async(b->mosq, b->cfg->host, b->cfg->port, b->cfg->keepalive_s, NULL);
	if (rc != MOSQ_ERR_SUCCESS)
		went_down(o, b, rc);
}

/* One wait on the socket (at most `wait_ms`) and the I/O it allows. */
static void io_step(struct fo_output *o, struct bridge *b, int wait_ms)
{
	int fd = mosquitto_socket(b->mosq);
	if (b->state == B_DOWN || fd < 0) {
		if (b->state != B_DOWN)
			went_down(o, b, MOSQ_ERR_NO_CONN);
		uint64_t now = mono_ms();
		uint64_t left = b->next_attempt_ms > now ? b->next_attempt_ms - now : 0;
		if (left)
			fo_out_sleep_us(1000u * RTE_MIN(left, (uint64_t)BRIDGE_IDLE_SLEEP_MS));
		return;
	}
	struct pollfd p = { .fd = fd, .events = POLLIN | (mosquitto_want_write(b->mosq) ? POLLOUT : 0) };
	int n = poll(&p, 1, wait_ms);
	bool readable = n > 0 && (p.revents & (POLLIN | POLLERR | POLLHUP));
	bool writable = n > 0 && (p.revents & POLLOUT);
	bool hup_connecting = false;
	if (b->state == B_CONNECTING && n > 0 && (p.revents & (POLLERR | POLLHUP))) {
		/* Over TLS, libmosquitto would retry the handshake on a dead socket for as long as
		 * we let it: a failed TCP connect ends the attempt here. */
		int e = 0;
		socklen_t el = sizeof(e);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e != 0) {
			fo_out_set_error(o, "%s: connect: %s", b->addr, strerror(e));
			b->attempt_msg = true;
			went_down(o, b, MOSQ_ERR_CONN_LOST);
			return;
		}
		hup_connecting = true; /* closed by the broker: read what it said first (a refusing CONNACK) */
	}
	/* While connecting, a read also drives the TLS handshake, which may wait to write. */
	if (readable || (writable && b->state == B_CONNECTING)) {
		/* a read handles one packet per call when nothing is queued: read until it would block */
		for (int i = 0; i < BRIDGE_READS_PER_LOOP && b->state != B_DOWN; i++) {
			bool connecting = b->state == B_CONNECTING;
			errno = 0;
			int rc = mosquitto_loop_read(b->mosq, 1);
			if (rc != MOSQ_ERR_SUCCESS) {
				went_down(o, b, rc);
				break;
			}
			if (connecting || errno == EAGAIN || errno == EWOULDBLOCK || mosquitto_socket(b->mosq) < 0)
				break;
		}
	}
	if (writable && b->state != B_DOWN && mosquitto_socket(b->mosq) >= 0 && mosquitto_want_write(b->mosq)) {
		int rc = mosquitto_loop_write(b->mosq, 1);
		if (rc != MOSQ_ERR_SUCCESS)
			went_down(o, b, rc);
	}
	if (b->state != B_DOWN && mosquitto_socket(b->mosq) >= 0) {
		int rc = mosquitto_loop_misc(b->mosq); /* keepalive: PINGREQ, or the connection is dead */
		if (rc != MOSQ_ERR_SUCCESS)
			went_down(o, b, rc);
	}
	if (b->state != B_DOWN && mosquitto_socket(b->mosq) < 0)
		went_down(o, b, MOSQ_ERR_CONN_LOST);
	if (hup_connecting && b->state == B_CONNECTING) {
		fo_out_set_error(o, "%s: connect: the broker closed the connection", b->addr);
		b->attempt_msg = true;
		went_down(o, b, MOSQ_ERR_CONN_LOST);
	}
	/* A TLS handshake in progress has CONNECT queued, so the socket polls writable while it
	 * waits for the server: do not spin on it. */
	if (b->state == B_CONNECTING && writable && !readable)
		fo_out_sleep_us(1000);
}

/* ------------------------------------------------------------------ setup, thread, JSON */

int fo_bridge_prepare(struct fo_output *o, const struct fo_bridge_config *cfg, char *err, size_t errlen)
{
	if (!lib_ready) {
		mosquitto_lib_init();
		lib_ready = true;
	}
	struct bridge *b = calloc(1, sizeof(*b));
	if (b) {
		b->by_mid = calloc(BRIDGE_MIDS, sizeof(*b->by_mid));
		b->sent_us = calloc(BRIDGE_MIDS, sizeof(*b->sent_us));
		b->q0_unseen = calloc(BRIDGE_MIDS, 1);
		b->topic = malloc(BRIDGE_TOPIC_MAX + 2);
		b->pbuf = malloc(BRIDGE_PAYLOAD_MAX);
		b->ltopic = malloc(FO_MAX_TEMPLATE_LEN + FO_MAX_TOPIC_LEN_LIMIT + 1);
	}
	if (!b || !b->by_mid || !b->sent_us || !b->q0_unseen || !b->topic || !b->pbuf || !b->ltopic) {
		snprintf(err, errlen, "bridges[%u]: out of memory", o->idx);
		goto fail;
	}
	b->cfg = cfg;
	b->o = o;
	b->backoff_ms = cfg->reconnect_min_ms;
	b->payload_room = rte_pktmbuf_data_room_size(fo_dp.pkt_pool) - RTE_PKTMBUF_HEADROOM;
	snprintf(b->addr, sizeof(b->addr), "%s:%u", cfg->host, cfg->port);
	/* clean session off: the broker keeps our subscriptions and queues their QoS 1 messages
	 * while we are away */
	b->mosq = mosquitto_new(cfg->client_id, false, b);
	if (!b->mosq) {
		snprintf(err, errlen, "bridges[%u] %s: cannot create the MQTT client: %s", o->idx, cfg->name,
			 strerror(errno));
		goto fail;
	}
	int rc = mosquitto_int_option(b->mosq, MOSQ_OPT_PROTOCOL_VERSION,
				      cfg->protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_int_option(b->mosq, MOSQ_OPT_SEND_MAXIMUM, (int)cfg->max_inflight);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_int_option(b->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	if (rc != MOSQ_ERR_SUCCESS) {
		snprintf(err, errlen, "bridges[%u] %s: client options: %s", o->idx, cfg->name, mosquitto_strerror(rc));
		goto fail;
	}
	if (cfg->username &&
	    (rc = mosquitto_username_pw_set(b->mosq, cfg->username, cfg->password)) != MOSQ_ERR_SUCCESS) {
		snprintf(err, errlen, "bridges[%u].username: %s", o->idx, mosquitto_strerror(rc));
		goto fail;
	}
	if (cfg->tls) {
		rc = mosquitto_tls_set(b->mosq, cfg->tls_ca_file, NULL, cfg->tls_cert_file, cfg->tls_key_file, NULL);
		if (rc != MOSQ_ERR_SUCCESS) {
			snprintf(err, errlen,
				 "bridges[%u].tls: %s (ca_file %s, cert_file %s, key_file %s); give readable PEM files",
				 o->idx, mosquitto_strerror(rc), cfg->tls_ca_file,
				 cfg->tls_cert_file ? cfg->tls_cert_file : "-",
				 cfg->tls_key_file ? cfg->tls_key_file : "-");
			goto fail;
		}
		if ((rc = mosquitto_tls_insecure_set(b->mosq, cfg->tls_insecure)) != MOSQ_ERR_SUCCESS) {
			snprintf(err, errlen, "bridges[%u].tls.insecure: %s", o->idx, mosquitto_strerror(rc));
			goto fail;
		}
	}
	if (cfg->protocol == 5) {
		/* libmosquitto 2.0 has no asynchronous connect that takes CONNECT properties; the
		 * properties given to mosquitto_connect_bind_v5() are kept for every later
		 * (re)connect, and it stores them before it looks at the host. With no host it
		 * stops there (MOSQ_ERR_INVAL) and connects nowhere. Should a later version not
		 * keep them, the session simply ends with each connection (expiry 0). */
		mosquitto_property *props = NULL;
		rc = mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, BRIDGE_SESSION_EXPIRY_S);
		if (rc == MOSQ_ERR_SUCCESS)
			(void)mosquitto_connect_bind_v5(b->mosq, NULL, cfg->port, cfg->keepalive_s, NULL, props);
		mosquitto_property_free_all(&props);
	}
	if (cfg->n_follow && mosquitto_property_add_string_pair(&b->origin, MQTT_PROP_USER_PROPERTY, BRIDGE_ORIGIN_PROP,
								cfg->client_id) != MOSQ_ERR_SUCCESS) {
		snprintf(err, errlen, "bridges[%u] %s: out of memory", o->idx, cfg->name);
		goto fail;
	}
	mosquitto_connect_v5_callback_set(b->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(b->mosq, on_disconnect);
	mosquitto_publish_v5_callback_set(b->mosq, on_publish);
	mosquitto_message_v5_callback_set(b->mosq, on_message);
	mosquitto_subscribe_callback_set(b->mosq, on_subscribe);
	o->impl = b;
	return 0;
fail:
	if (b) {
		if (b->mosq)
			mosquitto_destroy(b->mosq);
		mosquitto_property_free_all(&b->origin);
		free(b->by_mid);
		free(b->sent_us);
		free(b->q0_unseen);
		free(b->topic);
		free(b->pbuf);
		free(b->ltopic);
		free(b);
	}
	return -1;
}

void *fo_bridge_thread(void *arg)
{
	struct fo_output *o = arg;
	struct bridge *b = o->impl;
	/* libmosquitto writes with write(): a connection the broker reset would raise SIGPIPE,
	 * whose default action ends the process. Blocked in this thread, the write fails with
	 * EPIPE; the signal stays pending on this thread (harmless) and goes with it. */
	sigset_t pipe_set;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);

	uint64_t stop_deadline = 0;
	b->next_attempt_ms = mono_ms();
	for (;;) {
		uint64_t now = mono_ms();
		bool stopping = atomic_load_explicit(&o->stop, memory_order_acquire);
		if (stopping) {
			/* The workers have stopped: take nothing new, give what is in flight up to
			 * BRIDGE_FLUSH_MS to be written. */
			if (!stop_deadline)
				stop_deadline = now + BRIDGE_FLUSH_MS;
			if (b->n_pending + b->q1_out == 0 || now >= stop_deadline)
				break;
		}
		if (b->state == B_DOWN && now >= b->next_attempt_ms)
			start_connect(o, b);
		if (b->state == B_CONNECTING && now - b->attempt_ms > BRIDGE_CONNECT_TIMEOUT_MS) {
			fo_out_set_error(o, "%s: connect: no CONNACK within %u ms", b->addr, BRIDGE_CONNECT_TIMEOUT_MS);
			b->attempt_msg = true;
			went_down(o, b, MOSQ_ERR_NO_CONN); /* the next attempt closes the socket */
		}
		uint32_t moved = 0;
		follow_poll(o, b);
		if (b->state == B_UP) {
			if (b->need_subscribe)
				subscribe_all(o, b);
			moved = drain(o, b, !stopping);
		}
		io_step(o, b, moved ? 0 : BRIDGE_POLL_MS);
	}
	discard_all(o, b);
	if (b->state == B_UP) {
		b->state = B_DOWN; /* a planned end: on_disconnect counts nothing */
		mosquitto_disconnect(b->mosq);
		for (int i = 0; i < 10 && mosquitto_socket(b->mosq) >= 0 && mosquitto_want_write(b->mosq); i++)
			mosquitto_loop_write(b->mosq, 1);
	}
	atomic_store(&o->st.connected, 0);
	mosquitto_destroy(b->mosq);
	b->mosq = NULL;
	for (uint32_t i = 0; i < b->n_fl; i++)
		free(b->fl[i].filter);
	free(b->fl);
	b->fl = NULL;
	b->n_fl = b->cap_fl = 0;
	mosquitto_property_free_all(&b->origin);
	return NULL;
}

void fo_bridge_write_json(FILE *f, const struct fo_output *o)
{
	const struct bridge *b = o->impl;
	if (!b)
		return;
	const struct fo_bridge_config *c = b->cfg;
	fprintf(f, ",\"host\":");
	fo_json_cstr(f, c->host);
	fprintf(f, ",\"port\":%u,\"protocol\":\"%s\",\"client_id\":", c->port,
		c->protocol == 5 ? "mqttv5" : "mqttv311");
	fo_json_cstr(f, c->client_id);
	fprintf(f, ",\"username\":");
	fo_json_cstr(f, c->username ? c->username : "");
	fprintf(f,
		",\"tls\":%s,\"tls_insecure\":%s,\"keepalive_s\":%u,\"max_inflight\":%u,\"qos1_inflight\":%u"
		",\"pending\":%u,\"backoff_ms\":%u,\"subscriptions\":%u,\"subscribed\":%u,\"subscriptions_refused\":%u",
		c->tls ? "true" : "false", c->tls_insecure ? "true" : "false", c->keepalive_s, c->max_inflight,
		b->q1_out, b->n_pending, b->backoff_ms, c->n_subs, b->subscribed, b->sub_refused);
	fprintf(f, ",\"follow\":[");
	for (uint32_t i = 0; i < c->n_follow; i++) {
		fprintf(f, "%s{\"filter\":", i ? "," : "");
		fo_json_cstr(f, c->follow[i].filter);
		fprintf(f, ",\"qos\":%u}", c->follow[i].qos);
	}
	fprintf(f, "]");
	/* received, injected and inject_dropped are in the common part (FO_FOREACH_OUTPUT_THREAD) */
}
