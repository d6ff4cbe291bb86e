/* MQTT-SN v1.2 gateway/broker engine of one worker (see mqttsn_broker.h): decodes what a
 * client sent, applies it to the session, registry and subscription tables, fans accepted
 * publishes out to local subscribers and keeps QoS 1 copies until PUBACK. Runs on a
 * poll-mode lcore: every table is sized and allocated in broker_create().
 *
 * Fates (struct broker_result): a message that changed state for its purpose (session
 * created, topic registered, subscription added/removed, publish fanned out, ack
 * applied, session closed) is DELIVERED; a message whose whole effect is our reply
 * (PINGREQ, SEARCHGW, every rejection) is ANSWERED, or DROPPED/REPLY_FAILED when that
 * reply could not be queued; everything else is DROPPED with its reason.
 * A publish is never refused for lack of room: a copy that cannot be made because a
 * per-worker table is full counts ev PUBLISH_CONGESTION (registry or client maps) or
 * DELIVERY_INFLIGHT_FULL (QoS 1 state). */
#include "mqttsn_broker.h"

#include "fanout/client_hash.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "admission.h"
#include "broker_hash.h"
#include "filter_index.h"
#include "mqttsn_codec.h"
#include "mqttsn_session.h"
#include "oa_table.h"
#include "predef_table.h"
#include "qos1_inflight.h"
#include "subscription_table.h"
#include "topic_match.h"
#include "topic_registry.h"

#define PUBLISH_HDR_MAX 16
#define unlikely_(x) __builtin_expect(!!(x), 0)
/* Up to this many wildcard filters a publish tries each (one topic_match apiece); beyond,
 * it asks the filter index (filter_index.h), whose walk costs about as much as 3 tries
 * (callgrind, fanout-scale-bench). */
#define WILD_SCAN_MAX 3u
#define MSG_ID_SPACE 65535u /* msg ids 1..65535; 0 means "none" */
/* The topic name of proof REGISTERs: short, so the REGISTER is never a bigger frame than the
 * SUBSCRIBE or CONNECT it answers (both fit the 60-byte Ethernet minimum). */
#define PROOF_TOPIC "$SYS/proof"
#define HELD_SUBACKS 2       /* SUBACKs an unproven session may have waiting for its proof */
#define PROOF_MISMATCH_MAX 8 /* wrong proof echoes before an unproven session is ended */
#define ERR_BUCKETS 4096u    /* error-reply token buckets (by source IP hash) per worker */
#define EVICT_SCAN 64u       /* session slots examined for an unproven one when the table is full */
/* Copies a session may have waiting for the REGACK of the REGISTER their topic needed (spec 6.10:
 * the PUBLISH follows the REGACK); past it a copy is dropped (ev delivery_held_full). As many as
 * the session's QoS window (mqttsn.max_inflight_per_session), up to what n_pubs counts: copies
 * arrive at the publishers' pace, so a wildcard subscriber with several new names fills the bound
 * in a REGACK's round trip. */
#define HELD_PUBS_MAX 255u
/* Topic names a session may have refused (REGACK rejection = an unsubscribe of the name, spec
 * 6.10), kept as refused map entries; past it a rejection only forgets the id. */
#define REFUSALS_MAX 32u
#define HELD_NONE UINT32_MAX
/* held_pub.me of a copy buffered for an asleep or disconnected client (spec 6.14): it waits for
 * the client, not for a REGACK, and names its topic by registry entry. */
#define HELD_BUFFERED (UINT32_MAX - 1u)
#define WILL_BYTES_MAX 4096u

/* Per session, beside the 64-byte session (touched on control messages only): the address
 * proof, SUBACKs held until it, quota counts and give-ups. */
struct held_suback {
	uint16_t mid, tid; /* the granted QoS is in guard.held_granted, 2 bits a slot */
};
/* 32 bytes (scale budget: 512 MiB per million sessions, fanout-scale-bench --check). */
struct guard {
	/* low 32 bits of the clock (intervals < 49 days): unproven, when the
	 * outstanding proof was first sent; paused, when paused; else, with
	 * REGISTERs unanswered, when the client last answered one */
	uint32_t since_ms;
	uint32_t pubs;                 /* copies waiting for a REGACK, newest first (valid while n_pubs > 0) */
	uint16_t n_topics;             /* client topic-id map entries (at most CTMAP_TID_MAX) */
	uint16_t n_subs, n_wild;       /* counted up to 65535 (quotas are at most that) */
	uint16_t proof_mid, proof_tid; /* what the REGACK must echo (0 = no proof outstanding) */
	struct held_suback held[HELD_SUBACKS];
	uint8_t n_held : 2;       /* SUBACKs waiting for the proof, at most HELD_SUBACKS */
	uint8_t resume_held : 1;  /* a resumed session's copies wait for the proof (its CONNACK went out) */
	uint8_t proof_out : 1;    /* a proof REGISTER is outstanding (since_ms is when) */
	uint8_t held_granted : 4; /* held[i]'s granted QoS in bits 2i, 2i+1 */
	uint8_t mismatches : 4;   /* wrong proof echoes, at most PROOF_MISMATCH_MAX */
	uint8_t reg_resends : 4;  /* our unanswered REGISTERs sent again since the last REGACK (<= 15) */
	uint8_t regs_pending;     /* our REGISTERs awaiting REGACK */
	uint8_t giveups;          /* QoS 1 give-ups since the last PUBACK or REGACK */
	uint8_t n_pubs;           /* copies waiting for a REGACK (held_pub), at most held_max */
	uint8_t n_refused : 6;    /* refused map entries (CTMAP_REFUSED), at most REFUSALS_MAX */
	uint8_t wake_held : 1;    /* a sleeping client woke at this unproven new address: flush after the proof */
};
_Static_assert(sizeof(struct guard) == 32, "struct guard is part of the per-session scale budget");
_Static_assert(MQTTSN_FLAG_QOS1 == 1 << 5 && MQTTSN_FLAG_QOS2 == 2 << 5, "deliver_copy shifts the QoS into place");
_Static_assert(PROOF_MISMATCH_MAX < 16, "mismatches has 4 bits");
_Static_assert(REFUSALS_MAX < 64, "n_refused has 6 bits");
_Static_assert(HELD_SUBACKS <= 2, "n_held and held_granted have room for two held SUBACKs");

static uint8_t held_granted(const struct guard *g, unsigned i)
{
	return (uint8_t)((g->held_granted >> (2 * i)) & 3u);
}

/* A copy waiting for the REGACK of its topic's REGISTER, or buffered for a client that is asleep
 * or disconnected, holding one payload reference (taken like a QoS 1 copy's); a QoS 1 copy gets
 * its MsgId and in-flight entry when it is sent. */
struct held_pub {
	void *payload;
	uint32_t me;    /* the map entry whose REGACK it waits for, or HELD_BUFFERED */
	uint32_t next;  /* the session's list, or the free list */
	uint32_t topic; /* HELD_BUFFERED: the registry entry of its name (a reference is held) */
	uint16_t payload_len;
	uint8_t qos;
	uint8_t retain; /* MQTTSN_FLAG_RETAIN for a retained message sent at SUBSCRIBE, else 0 */
};

/* A retained message (this worker's copy): the topic's registry entry (a reference is held) and
 * a kept payload (one reference). */
struct retained_msg {
	void *payload;
	uint32_t topic;
	uint16_t len;
	uint8_t qos;
};
#define RETAINED_EMPTY UINT32_MAX

/* A client's will (spec 6.3, 6.4): topic then message in the slot's bytes of broker.wdata. */
enum will_stage { WILL_FREE, WILL_WAIT_TOPIC, WILL_WAIT_MSG, WILL_SET };
struct will_slot {
	uint16_t topic_len, msg_len;
	uint16_t next_free;
	uint8_t flags; /* QoS and retain as WILLTOPIC carried them */
	uint8_t stage; /* enum will_stage */
};
#define WILL_NONE 0xFFFFu

/* Sessions per source IP (security.sessions_per_source, at most 65535): open addressing,
 * count 0 = empty. */
struct ipq_slot {
	uint32_t ip;
	uint16_t n;
} __attribute__((packed));

struct err_bucket {
	uint64_t last_ms;
	uint64_t milli; /* tokens x 1000 */
};

#define PRE_REG_SLOTS 64 /* predefined publishes: registry entries remembered (power of two) */

struct broker {
	struct broker_config cfg;
	struct broker_io io;
	struct fo_counters *c;
	struct topic_registry *reg;
	struct session_table *st;
	struct subscription_table *subs;
	struct filter_index *fidx; /* wildcard filters with subscribers */
	struct inflight_table *inf;
	struct predef_set *own_predef; /* built from cfg's lists when cfg.predef_set is NULL */
	uint32_t *touched;             /* fan-out scratch: sessions marked this epoch */
	/* per session: its recent QoS 1 publishes (DUP resends), beside the
	 * 64-byte session so that only QoS 1 publishes touch it */
	struct rx_mids *rxm;
	uint32_t epoch;
	uint32_t scan_cursor;
	uint64_t clock_ms;     /* latest now_ms seen: deadlines never go backwards */
	uint8_t short_name[2]; /* res->topic for short-topic publishes */
	uint8_t *scratch;      /* encoded replies, REGISTER with a full-length name */
	uint32_t scratch_cap;
	struct guard *g;     /* [max_sessions] */
	struct held_pub *hp; /* [hp_cap]: copies waiting for a REGACK or for their client */
	uint32_t hp_cap, hp_used, hp_free;
	uint8_t held_max;        /* copies a session may hold for REGACKs (HELD_PUBS_MAX at most) */
	struct will_slot *wills; /* [max_wills] */
	uint8_t *wdata;          /* [max_wills * will_max_bytes] */
	uint16_t *will_of;       /* [max_sessions]: the session's will slot, or WILL_NONE */
	uint8_t *will_tmp;       /* a lost client's will, taken out before its session ends */
	uint32_t wills_used;
	uint16_t will_free;
	uint32_t n_pubrel;        /* in-flight QoS 2 copies past PUBREC (no payload held) */
	struct retained_msg *ret; /* [max_retained], dense */
	uint32_t *ret_ix;         /* open addressing by topic entry: index into ret */
	uint32_t ret_mask, n_ret;
	uint64_t ret_bytes;
	struct ipq_slot *ipq;
	uint32_t ipq_mask;
	struct err_bucket *eb; /* [ERR_BUCKETS] */
	uint64_t prf_base, prf_ctr;
	uint32_t evict_cursor;
	struct fo_counters own_counters; /* when the caller passes none */
	struct broker_result *cur;       /* the result broker_handle() is filling, else NULL */
	bool claimed;                    /* broker_handle_claimed: the CONNECT's hand-over is over */
	struct fo_client ho_at;          /* res->handover_at of the message left for a hand-over */
	bool cur_proven;                 /* ... and its sender has a proven session */
	/* The publish by predefined id being handled: its name (NULL: none), the table and id that
	 * named it, and the name's predef_name_hash(). */
	const uint8_t *pre_name;
	const struct predef_table *pre_table;
	/* broker_predef_view: the set serving every client while one does (uni), with its global
	 * table and whether it has per-client rules, read instead of client_config and
	 * predef_named on each publish. */
	bool uni, uni_per_client;
	const struct predef_set *uni_set;
	const struct predef_table *uni_global;
	uint32_t pre_hash;
	uint16_t pre_id;
	/* Per predefined topic id (modulo PRE_REG_SLOTS): the name last published under it and its
	 * registry entry, checked against the registry before use (pre_registry_entry). */
	struct {
		const uint8_t *name;
		uint32_t entry;
	} pre_reg[PRE_REG_SLOTS];
};

/* ------------------------------------------------------------------ helpers */

#define RX_MIDS 4 /* QoS 1/2 publishes remembered per session to recognise a resend */
/* MsgIds of the last QoS 1 publishes accepted from a client (0 = empty), so that its DUP resend of
 * one (our PUBACK was lost) is answered again instead of delivered again; and of its QoS 2
 * publishes awaiting PUBREL, which stay until it (exactly once: a resend before the PUBREL is
 * answered with PUBREC and not delivered). */
struct rx_mids {
	uint16_t mid[RX_MIDS];
	uint8_t pending; /* bit i: mid[i]'s PUBACK is deferred (a written-mode sink) */
	uint8_t qos2;    /* bit i: mid[i] is a QoS 2 publish awaiting PUBREL (the slot is pinned) */
	uint8_t next;
};
/* An in-flight QoS 2 copy whose PUBREC came: PUBREL sent, PUBCOMP awaited (the entry's flags keep
 * no DUP, so that bit is free to mark it). */
#define INFLIGHT_PUBREL MQTTSN_FLAG_DUP
/* An in-flight copy under a topic id the client may have lost (a CleanSession=0 reconnect kept the
 * id): it is not sent again before the REGACK of a REGISTER of that id (spec 6.10), see
 * inflight_ready. The Will bit means nothing in a PUBLISH, so it is free to mark it; it is never
 * sent. */
#define INFLIGHT_WAIT_REG MQTTSN_FLAG_WILL

static void ev(struct broker *b, enum fo_event e)
{
	b->c->ev[e]++;
}

static void set_drop(struct broker_result *res, enum fo_drop d)
{
	res->fate = FO_FATE_DROPPED;
	res->drop = d;
}

static void set_delivered(struct broker_result *res)
{
	res->fate = FO_FATE_DELIVERED;
}

#define SEND_LIMITED (-2) /* an error reply held back by the per-source rate limit */

static void set_answered(struct broker_result *res, int send_rc)
{
	if (send_rc == SEND_LIMITED)
		set_drop(res, FO_DROP_ERROR_REPLY_LIMITED);
	else if (send_rc < 0)
		set_drop(res, FO_DROP_REPLY_FAILED);
	else
		res->fate = FO_FATE_ANSWERED;
}

static int send_msg(struct broker *b, const struct fo_client *to, const struct mqttsn_msg *m)
{
	int n = mqttsn_encode(m, b->scratch, b->scratch_cap);
	if (n <= 0)
		return -1;
	return b->io.send(b->io.ctx, to, b->scratch, (uint16_t)n);
}

/* Error replies per source IP per second (token bucket, buckets shared by hash): a flood of
 * bad requests from one source costs us at most this many answers. */
static bool err_allowed(struct broker *b, uint32_t ip)
{
	if (b->cfg.error_replies_per_s == 0)
		return true;
	struct err_bucket *e = &b->eb[bh_key64((uint64_t)ip | (1ULL << 40)) & (ERR_BUCKETS - 1)];
	uint64_t cap = (uint64_t)b->cfg.error_reply_burst * 1000u;
	if (e->last_ms == 0) { /* first use: a full bucket */
		e->milli = cap;
		e->last_ms = b->clock_ms ? b->clock_ms : 1;
	} else if (b->clock_ms > e->last_ms) {
		uint64_t add = (b->clock_ms - e->last_ms) * b->cfg.error_replies_per_s;
		e->milli = e->milli + add > cap ? cap : e->milli + add;
		e->last_ms = b->clock_ms;
	}
	if (e->milli < 1000)
		return false;
	e->milli -= 1000;
	return true;
}

/* A reply that rejects the message being handled; false when the rate limit holds it back.
 * The limit is for addresses that have not proven themselves (their source may be forged); a
 * proven session gets every answer it is owed. */
static bool note_rc(struct broker *b, const struct fo_client *to, uint8_t rc)
{
	if (rc == MQTTSN_RC_ACCEPTED)
		return true;
	if (b->cur)
		b->cur->error_reply = true;
	if (!b->cur || b->cur_proven || err_allowed(b, to->ip))
		return true;
	ev(b, FO_EV_ERROR_REPLIES_LIMITED);
	return false;
}

static int send_rc_only(struct broker *b, const struct fo_client *to, uint8_t type, uint8_t rc)
{
	if (!note_rc(b, to, rc))
		return SEND_LIMITED;
	struct mqttsn_msg m = { .type = type };
	m.u.connack.return_code = rc; /* CONNACK, WILLTOPICRESP, WILLMSGRESP share the layout */
	return send_msg(b, to, &m);
}

static int send_empty(struct broker *b, const struct fo_client *to, uint8_t type)
{
	struct mqttsn_msg m = { .type = type }; /* PINGRESP, DISCONNECT without duration */
	return send_msg(b, to, &m);
}

static int send_pubx(struct broker *b, const struct fo_client *to, uint8_t type, uint16_t msg_id)
{
	struct mqttsn_msg r = { .type = type };
	r.u.pubx.msg_id = msg_id;
	return send_msg(b, to, &r);
}

static int send_regack(struct broker *b, const struct fo_client *to, uint16_t topic_id, uint16_t msg_id, uint8_t rc)
{
	if (!note_rc(b, to, rc))
		return SEND_LIMITED;
	struct mqttsn_msg m = { .type = MQTTSN_REGACK };
	m.u.regack.topic_id = topic_id;
	m.u.regack.msg_id = msg_id;
	m.u.regack.return_code = rc;
	return send_msg(b, to, &m);
}

static int send_puback(struct broker *b, const struct fo_client *to, uint16_t topic_id, uint16_t msg_id, uint8_t rc)
{
	if (!note_rc(b, to, rc))
		return SEND_LIMITED;
	struct mqttsn_msg m = { .type = MQTTSN_PUBACK };
	m.u.puback.topic_id = topic_id;
	m.u.puback.msg_id = msg_id;
	m.u.puback.return_code = rc;
	return send_msg(b, to, &m);
}

static int send_suback(struct broker *b, const struct fo_client *to, int granted, uint16_t topic_id, uint16_t msg_id,
		       uint8_t rc)
{
	if (!note_rc(b, to, rc))
		return SEND_LIMITED;
	struct mqttsn_msg m = { .type = MQTTSN_SUBACK };
	m.u.suback.flags = mqttsn_qos_flags(granted);
	m.u.suback.topic_id = topic_id;
	m.u.suback.msg_id = msg_id;
	m.u.suback.return_code = rc;
	return send_msg(b, to, &m);
}

_Static_assert(BROKER_NODE_ID_MAX == SESSION_NODE_ID_MAX, "one bound for Wireless Node Ids");

/* The node id of a session behind a forwarder, into c: off the fan-out's path. */
__attribute__((noinline, cold)) static void client_node(const struct broker *b, const struct mqttsn_session *s,
							struct fo_client *c)
{
	const uint8_t *node = session_node(b->st, s, &c->node_len);
	if (node)
		memcpy(c->node_id, node, c->node_len);
}

/* Where everything for session s goes, into c: its address, and its node id when it is behind a
 * forwarder (node_id is left unwritten for a direct client: the copy path stays short). */
static inline void client_of(const struct broker *b, const struct mqttsn_session *s, struct fo_client *c)
{
	c->ip = s->ip;
	c->port = s->port;
	c->ifindex = s->ifindex;
	c->node_len = 0;
	c->v6 = 0;
	if (__builtin_expect(s->forwarded || s->v6, 0)) {
		if (s->v6) {
			c->v6 = 1;
			memcpy(c->ip6, session_ip6(b->st, s), 16);
		}
		if (s->forwarded)
			client_node(b, s, c);
	}
}

/* Whether session s is at the client's source: its IPv4 address, or its IPv6 /64 (the key of an
 * IPv6 address is never the same source as an IPv4 address that happens to equal it). */
static inline bool same_source(const struct mqttsn_session *s, const struct fo_client *c)
{
	return s->ip == c->ip && s->v6 == c->v6;
}

/* The session key of a client. */
static struct session_addr addr_of_client(const struct fo_client *c)
{
	return (struct session_addr){
		.ip = c->ip, .port = c->port, .ip6 = c->v6 ? c->ip6 : NULL, .node_len = c->node_len, .node = c->node_id
	};
}

/* The predefined topics of the client whose message is being handled, by its generation's tables
 * (broker_io.client_config, by broker_handle's res->client_hash) and its ClientId's rule; NULL:
 * none. A set without per-client rules gives every client its global table: the session and
 * its ClientId are not looked at then. */
static const struct predef_table *sender_predef(const struct broker *b, uint32_t si)
{
	uint32_t hash = b->cur ? b->cur->client_hash : 0;
	const struct predef_set *set;
	if (b->uni) {
		if (!b->uni_per_client)
			return b->uni_global;
		set = b->uni_set;
	} else {
		const struct broker_config *gc = b->io.client_config ? b->io.client_config(b->io.ctx, hash) : NULL;
		set = (gc ? gc : &b->cfg)->predef_set;
	}
	if (!predef_set_per_client(set))
		return predef_global_table(set);
	const struct mqttsn_session *s = si != SESSION_NONE ? session_get(b->st, si) : NULL;
	return predef_client_table(set, s ? s->client_id : NULL, s ? s->client_id_len : 0, hash);
}

/* Per-session ids for our REGISTERs and QoS 1 PUBLISHes; skips ids still in flight. */
static uint16_t next_msg_id(struct broker *b, struct mqttsn_session *s)
{
	for (uint32_t tries = 0; tries < MSG_ID_SPACE; tries++) {
		if (++s->next_msg_id == 0)
			s->next_msg_id = 1;
		if (inflight_find(b->inf, s->inflight_head, s->next_msg_id) == INFLIGHT_NONE)
			break;
	}
	return s->next_msg_id;
}

static void inflight_drop(struct broker *b, struct mqttsn_session *s, uint32_t x)
{
	void *p = inflight_get(b->inf, x)->payload;
	if (inflight_get(b->inf, x)->flags & INFLIGHT_PUBREL)
		b->n_pubrel--;
	inflight_remove(b->inf, &s->inflight_head, x);
	s->inflight_n--;
	if (p) /* NULL: a QoS 2 copy past its PUBREC */
		b->io.payload_release(b->io.ctx, p);
}

/* ---- copies waiting for a REGACK (struct held_pub) */

static void held_free(struct broker *b, uint32_t h)
{
	b->hp[h].next = b->hp_free;
	b->hp_free = h;
	b->hp_used--;
}

/* Drop the session's copies waiting for map entry me (SESSION_NONE: all, the buffered ones
 * included), releasing their payloads. */
static void held_discard(struct broker *b, uint32_t si, uint32_t me)
{
	struct guard *g = &b->g[si];
	uint32_t *link = &g->pubs;
	for (uint8_t i = 0, n = g->n_pubs; i < n; i++) {
		uint32_t h = *link;
		struct held_pub *p = &b->hp[h];
		if (me != SESSION_NONE && p->me != me) {
			link = &p->next;
			continue;
		}
		*link = p->next;
		g->n_pubs--;
		b->io.payload_release(b->io.ctx, p->payload);
		if (p->me == HELD_BUFFERED) {
			topic_registry_unref(b->reg, p->topic);
			ev(b, FO_EV_DELIVERY_BUFFER_DISCARDED);
		} else {
			ev(b, FO_EV_DELIVERY_HELD_DISCARDED);
		}
		held_free(b, h);
	}
}

/* A held copy goes out under the client's id tid, now that the client knows it; its payload
 * reference passes to the in-flight entry (QoS 1) or is given back once sent (QoS 0). */
static void send_held(struct broker *b, uint32_t si, const struct held_pub *p, uint16_t tid)
{
	struct mqttsn_session *s = session_get(b->st, si);
	uint8_t flags = (uint8_t)(MQTTSN_TOPIC_NORMAL | mqttsn_qos_flags(p->qos) | p->retain);
	uint16_t mid = 0;
	if (p->qos) {
		if (inflight_count(b->inf) >= inflight_capacity(b->inf) ||
		    s->inflight_n >= b->cfg.max_inflight_per_session) {
			ev(b, FO_EV_DELIVERY_INFLIGHT_FULL);
			b->io.payload_release(b->io.ctx, p->payload);
			return;
		}
		mid = next_msg_id(b, s);
	}
	uint8_t hdr[PUBLISH_HDR_MAX];
	int h = mqttsn_encode_publish_hdr(hdr, sizeof(hdr), flags, tid, mid, p->payload_len);
	if (h <= 0 ||
	    (p->qos && inflight_add(b->inf, &s->inflight_head, si, mid, tid, flags, p->payload, p->payload_len,
				    b->clock_ms + b->cfg.retry_interval_ms) == INFLIGHT_NONE)) {
		if (h > 0)
			ev(b, FO_EV_DELIVERY_INFLIGHT_FULL);
		b->io.payload_release(b->io.ctx, p->payload);
		return;
	}
	struct fo_client to;
	client_of(b, s, &to);
	if (p->qos) {
		s->inflight_n++;
		ev(b, p->qos == 2 ? FO_EV_DELIVERY_QOS2 : FO_EV_DELIVERY_QOS1);
	}
	b->io.send_publish(b->io.ctx, &to, hdr, (uint16_t)h, p->payload);
	if (!p->qos)
		b->io.payload_release(b->io.ctx, p->payload);
	ev(b, FO_EV_DELIVERIES);
}

/* Unlinks the session's copies waiting for me (a map entry, or HELD_BUFFERED) into out[], newest
 * first as the list keeps them; returns how many (at most 255: n_pubs is 8 bits). */
static uint32_t held_take(struct broker *b, uint32_t si, uint32_t me, uint32_t out[256])
{
	struct guard *g = &b->g[si];
	uint32_t k = 0;
	uint32_t *link = &g->pubs;
	for (uint8_t i = 0, n = g->n_pubs; i < n; i++) {
		uint32_t h = *link;
		struct held_pub *p = &b->hp[h];
		if (p->me != me) {
			link = &p->next;
			continue;
		}
		*link = p->next;
		g->n_pubs--;
		out[k++] = h;
	}
	return k;
}

static void inflight_resend(struct broker *b, struct mqttsn_session *s, uint32_t x);

/* The client knows topic id tid now (send) or refused it (!send): its copies in flight that waited
 * for that (INFLIGHT_WAIT_REG) go out again with DUP, oldest first (only stop waiting while it is
 * away, unproven or paused: they go when it is back), or are dropped. */
static void inflight_waiting(struct broker *b, uint32_t si, uint16_t tid, bool send)
{
	struct mqttsn_session *s = session_get(b->st, si);
	uint32_t x = s->inflight_head, tail = INFLIGHT_NONE;
	for (; x != INFLIGHT_NONE; x = inflight_get(b->inf, x)->s_next)
		tail = x;
	bool out = s->proven && !s->paused && !(s->state & SESSION_AWAY);
	for (x = tail; x != INFLIGHT_NONE;) { /* the list is newest first */
		struct inflight_entry *e = inflight_get(b->inf, x);
		uint32_t prev = e->s_prev;
		if ((e->flags & INFLIGHT_WAIT_REG) && e->topic_id == tid) {
			if (!send) {
				inflight_drop(b, s, x);
				ev(b, FO_EV_DELIVERY_HELD_DISCARDED);
			} else {
				e->flags = (uint8_t)(e->flags & ~INFLIGHT_WAIT_REG);
				if (out)
					inflight_resend(b, s, x);
			}
		}
		x = prev;
	}
}

/* The client knows the id of map entry me now: its copies in flight under the id that waited for
 * that go out again, then its held copies, in arrival order. An address that has not proven
 * itself (a session moved to it) gets no copies: held ones are dropped, as copies for it are
 * while it is unproven (those in flight wait for the proof). */
static void held_flush(struct broker *b, uint32_t si, uint32_t me)
{
	struct guard *g = &b->g[si];
	struct mqttsn_session *s = session_get(b->st, si);
	uint16_t tid = ctmap_get(b->st, me)->tid;
	if (s->inflight_n > 0)
		inflight_waiting(b, si, tid, true);
	if (g->n_pubs == 0)
		return;
	if (!s->proven || s->paused) {
		held_discard(b, si, me);
		return;
	}
	uint32_t mine[256];
	uint32_t k = held_take(b, si, me, mine);
	while (k > 0) { /* the list is newest first */
		uint32_t h = mine[--k];
		struct held_pub copy = b->hp[h];
		held_free(b, h);
		send_held(b, si, &copy, tid);
	}
}

static void map_drop(struct broker *b, uint32_t me)
{
	const struct ctmap_entry *e = ctmap_get(b->st, me);
	uint32_t topic = e->topic;
	uint32_t si = e->session;
	struct guard *g = &b->g[si];
	g->n_topics--;
	if (e->reg_msg_id == CTMAP_REFUSED)
		g->n_refused -= g->n_refused > 0;
	else if (e->reg_msg_id != 0 && e->reg_msg_id != CTMAP_UNANNOUNCED && g->regs_pending > 0)
		g->regs_pending--;
	if (g->n_pubs)
		held_discard(b, si, me);
	ctmap_remove(b->st, me);
	topic_registry_unref(b->reg, topic);
}

/* ctmap_add that keeps the session's count (the caller takes the topic reference). */
static uint32_t map_add(struct broker *b, uint32_t si, uint32_t entry, bool *created)
{
	uint32_t me = ctmap_add(b->st, si, entry, created);
	if (me != SESSION_NONE && *created) {
		b->g[si].n_topics++;
		ctmap_get(b->st, me)->reg_msg_id = 0;
	}
	return me;
}

/* The client has the id of map entry me (it REGISTERed or SUBSCRIBEd the name itself): a
 * REGISTER of ours for it no longer waits for an answer (the caller sends what waited for it
 * with held_flush after its reply). A refusal stands: a client that REGISTERs a name it refused
 * may publish to it, and still gets none of it. */
static void map_known(struct broker *b, uint32_t si, uint32_t me)
{
	struct ctmap_entry *e = ctmap_get(b->st, me);
	if (e->reg_msg_id == CTMAP_REFUSED)
		return;
	if (e->reg_msg_id != 0 && e->reg_msg_id != CTMAP_UNANNOUNCED && b->g[si].regs_pending > 0)
		b->g[si].regs_pending--;
	e->reg_msg_id = 0;
}

/* Our REGISTER of map entry me awaits no REGACK any more (the client left, or was paused, without
 * answering it): the id stays, to be REGISTERed again before the next copy of the name goes out
 * under it (copies in flight under it wait for that too). */
static void map_unannounce(struct broker *b, uint32_t si, uint32_t me)
{
	struct ctmap_entry *e = ctmap_get(b->st, me);
	if (e->reg_msg_id == 0 || e->reg_msg_id == CTMAP_REFUSED || e->reg_msg_id == CTMAP_UNANNOUNCED)
		return;
	if (b->g[si].regs_pending > 0)
		b->g[si].regs_pending--;
	e->reg_msg_id = CTMAP_UNANNOUNCED;
}

/* The client SUBSCRIBEd or UNSUBSCRIBEd filter entry: refusals of names it matches end (the
 * entries go, so the next copy of such a name registers it again). */
static void refusals_clear(struct broker *b, uint32_t si, uint32_t filter)
{
	if (b->g[si].n_refused == 0)
		return;
	uint16_t flen, nlen;
	const uint8_t *f = topic_registry_name(b->reg, filter, &flen);
	for (uint32_t me = session_get(b->st, si)->map_head; me != SESSION_NONE;) {
		const struct ctmap_entry *e = ctmap_get(b->st, me);
		uint32_t next = e->next;
		if (e->reg_msg_id == CTMAP_REFUSED) {
			const uint8_t *name = topic_registry_name(b->reg, e->topic, &nlen);
			if (topic_match(f, flen, name, nlen))
				map_drop(b, me);
		}
		me = next;
	}
}

/* ---- sessions per source IP */

/* Slots hold the counts themselves (an address with no session has no slot): oa_table.h's
 * probing and backward-shift deletion over struct ipq_slot. */
static uint32_t ipq_hash(uint32_t ip)
{
	return bh_key64((uint64_t)ip | (1ULL << 41));
}

static enum oa_seen ipq_look(const void *tab, uint32_t i, void *q)
{
	const struct ipq_slot *s = &((const struct broker *)tab)->ipq[i];
	if (s->n == 0)
		return OA_EMPTY;
	return s->ip == *(const uint32_t *)q ? OA_HIT : OA_OTHER;
}

static bool ipq_empty(const void *tab, uint32_t i)
{
	return ((const struct broker *)tab)->ipq[i].n == 0;
}

static uint32_t ipq_slot_hash(const void *tab, uint32_t i)
{
	return ipq_hash(((const struct broker *)tab)->ipq[i].ip);
}

static void ipq_move(void *tab, uint32_t to, uint32_t from)
{
	struct broker *b = tab;
	b->ipq[to] = b->ipq[from];
}

static void ipq_clear(void *tab, uint32_t i)
{
	((struct broker *)tab)->ipq[i].n = 0;
}

/* Never full: it has twice as many slots as there can be sessions. */
static uint32_t ipq_slot_of(struct broker *b, uint32_t ip)
{
	return oa_find(b, b->ipq_mask, ipq_hash(ip), &ip, ipq_look);
}

static struct ipq_slot *ipq_find(struct broker *b, uint32_t ip)
{
	struct ipq_slot *q = &b->ipq[ipq_slot_of(b, ip)];
	return q->n ? q : NULL;
}

static uint32_t ipq_count(struct broker *b, uint32_t ip)
{
	const struct ipq_slot *q = ipq_find(b, ip);
	return q ? q->n : 0;
}

static void ipq_inc(struct broker *b, uint32_t ip)
{
	uint32_t i = ipq_slot_of(b, ip);
	b->ipq[i].ip = ip;
	if (b->ipq[i].n < UINT16_MAX)
		b->ipq[i].n++;
}

static void ipq_dec(struct broker *b, uint32_t ip)
{
	struct ipq_slot *q = ipq_find(b, ip);
	if (!q || --q->n > 0)
		return;
	oa_erase(b, b->ipq_mask, (uint32_t)(q - b->ipq), ipq_empty, ipq_slot_hash, ipq_move, ipq_clear);
}

/* Subscription add/remove that keep the wildcard filter index in step: a filter is
 * indexed while it has subscribers. */
static uint32_t subs_add(struct broker *b, struct mqttsn_session *s, uint32_t si, uint32_t entry, uint8_t qos,
			 bool wild, bool *created)
{
	uint32_t x = sub_add(b->subs, &s->sub_head, si, entry, qos, wild, created);
	if (x != SUB_NONE && *created) {
		struct guard *g = &b->g[si];
		g->n_subs += g->n_subs < UINT16_MAX;
		g->n_wild += wild && g->n_wild < UINT16_MAX;
	}
	if (x != SUB_NONE && *created && sub_get(b->subs, x)->t_next == SUB_NONE &&
	    sub_first(b->subs, entry) == x) { /* the entry's first subscriber */
		uint16_t flen;
		const uint8_t *f = topic_registry_name(b->reg, entry, &flen);
		if (wild)
			filter_index_add(b->fidx, entry, f, flen); /* cannot fail: sized for every filter */
		if (b->io.interest)
			b->io.interest(b->io.ctx, f, flen, true);
	}
	return x;
}

static void subs_remove(struct broker *b, struct mqttsn_session *s, uint32_t x)
{
	const struct sub_node *n = sub_get(b->subs, x);
	uint32_t entry = n->entry;
	bool wild = n->wildcard;
	struct guard *g = &b->g[n->session];
	g->n_subs -= g->n_subs > 0;
	g->n_wild -= wild && g->n_wild > 0;
	sub_remove(b->subs, &s->sub_head, x);
	if (sub_first(b->subs, entry) == SUB_NONE) { /* its last subscriber */
		if (wild)
			filter_index_remove(b->fidx, entry);
		if (b->io.interest) {
			uint16_t flen;
			const uint8_t *f = topic_registry_name(b->reg, entry, &flen);
			b->io.interest(b->io.ctx, f, flen, false);
		}
	}
}

/* Empty a session's subscriptions, topic map and QoS 1 state (payloads released). */
static void session_clear(struct broker *b, uint32_t si)
{
	struct mqttsn_session *s = session_get(b->st, si);
	held_discard(b, si, SESSION_NONE);
	while (s->inflight_head != INFLIGHT_NONE)
		inflight_drop(b, s, s->inflight_head);
	while (s->sub_head != SUB_NONE) {
		uint32_t entry = sub_get(b->subs, s->sub_head)->entry;
		subs_remove(b, s, s->sub_head);
		topic_registry_unref(b->reg, entry);
	}
	while (s->map_head != SESSION_NONE)
		map_drop(b, s->map_head);
}

/* ---- wills (spec 6.3, 6.4) */

static struct will_slot *will_get(struct broker *b, uint32_t si)
{
	if (!b->will_of || b->will_of[si] == WILL_NONE)
		return NULL;
	return &b->wills[b->will_of[si]];
}

static uint8_t *will_bytes(struct broker *b, uint32_t si)
{
	return b->wdata + (size_t)b->will_of[si] * b->cfg.will_max_bytes;
}

/* The session's slot (a new, empty one if it had none); NULL when every slot is taken. */
static struct will_slot *will_slot(struct broker *b, uint32_t si)
{
	struct will_slot *w = will_get(b, si);
	if (w || !b->will_of || b->will_free == WILL_NONE)
		return w;
	uint16_t i = b->will_free;
	w = &b->wills[i];
	b->will_free = w->next_free;
	*w = (struct will_slot){ .stage = WILL_WAIT_TOPIC };
	b->will_of[si] = i;
	b->wills_used++;
	return w;
}

static void will_delete(struct broker *b, uint32_t si)
{
	struct will_slot *w = will_get(b, si);
	if (!w)
		return;
	*w = (struct will_slot){ .next_free = b->will_free, .stage = WILL_FREE };
	b->will_free = b->will_of[si];
	b->will_of[si] = WILL_NONE;
	b->wills_used--;
}

/* A will topic name: a valid name (no wildcards) that fits beside the message. */
static bool will_fits(const struct broker *b, const uint8_t *topic, uint16_t tlen, uint16_t mlen)
{
	return tlen > 0 && topic_name_valid(topic, tlen, b->cfg.max_topic_len) &&
	       (uint32_t)tlen + mlen <= b->cfg.will_max_bytes;
}

static void will_set_topic(struct broker *b, uint32_t si, struct will_slot *w, const uint8_t *topic, uint16_t tlen,
			   uint8_t flags, bool keep_msg)
{
	uint8_t *d = will_bytes(b, si);
	uint16_t mlen = keep_msg ? w->msg_len : 0;
	memmove(d + tlen, d + w->topic_len, mlen);
	memcpy(d, topic, tlen);
	w->topic_len = tlen;
	w->msg_len = mlen;
	w->flags = flags & (MQTTSN_FLAG_QOS_MASK | MQTTSN_FLAG_RETAIN);
}

static void will_set_msg(struct broker *b, uint32_t si, struct will_slot *w, const uint8_t *msg, uint16_t mlen)
{
	memcpy(will_bytes(b, si) + w->topic_len, msg, mlen);
	w->msg_len = mlen;
}

static void session_drop(struct broker *b, uint32_t si)
{
	will_delete(b, si);
	session_clear(b, si);
	ipq_dec(b, session_get(b->st, si)->ip);
	b->g[si] = (struct guard){ 0 };
	session_free(b->st, si);
}

/* ---- retained messages: the table (retain_publish and send_retained below) */

static bool ret_match(const void *tab, uint32_t id, const void *q)
{
	return ((const struct broker *)tab)->ret[id].topic == *(const uint32_t *)q;
}

static uint32_t ret_hash(const void *tab, uint32_t id)
{
	return bh_mix64(((const struct broker *)tab)->ret[id].topic);
}

static uint32_t ret_slot(const struct broker *b, uint32_t topic)
{
	return oa_ids_find(b->ret_ix, b->ret_mask, RETAINED_EMPTY, bh_mix64(topic), b, &topic, ret_match);
}

static void ret_remove(struct broker *b, uint32_t slot)
{
	uint32_t i = b->ret_ix[slot];
	struct retained_msg *r = &b->ret[i];
	b->ret_bytes -= r->len;
	b->io.payload_release(b->io.ctx, r->payload);
	uint32_t topic = r->topic;
	oa_ids_erase(b->ret_ix, b->ret_mask, RETAINED_EMPTY, slot, b, ret_hash);
	uint32_t last = --b->n_ret;
	if (i != last) { /* the last one fills the hole; its index slot follows it */
		b->ret[i] = b->ret[last];
		b->ret_ix[ret_slot(b, b->ret[i].topic)] = i;
	}
	topic_registry_unref(b->reg, topic);
}

/* How long a client may leave our REGISTERs (or QoS 1 copies) unanswered: the retransmission
 * budget of one QoS 1 copy. */
static uint64_t ack_patience_ms(const struct broker *b)
{
	return (uint64_t)b->cfg.retry_interval_ms * (b->cfg.retry_limit + 1u);
}

/* REGISTERs unanswered, and no REGACK for a whole patience. */
static bool regs_stalled(const struct broker *b, uint32_t si)
{
	const struct guard *g = &b->g[si];
	return g->regs_pending > 0 && (uint32_t)((uint32_t)b->clock_ms - g->since_ms) >= ack_patience_ms(b);
}

static void pause_session(struct broker *b, uint32_t si)
{
	struct mqttsn_session *s = session_get(b->st, si);
	if (s->paused)
		return;
	s->paused = 1;
	b->g[si].since_ms = (uint32_t)b->clock_ms;
	ev(b, FO_EV_SESSION_PAUSED);
	/* The REGACKs they wait for are not coming (resuming forgets those REGISTERs). */
	held_discard(b, si, SESSION_NONE);
}

/* ------------------------------------------------------------------ create/destroy */

static const char *check_config(const struct broker_config *cfg, const struct broker_io *io)
{
	if (!cfg || !io)
		return "broker: config and io are required";
	if (!io->send || !io->send_publish || !io->payload_bind || !io->payload_hold || !io->payload_release)
		return "broker: every broker_io callback must be set";
	if (cfg->max_sessions == 0 || cfg->max_sessions > (1u << 28))
		return "mqttsn.max_sessions must be 1..268435456";
	if (cfg->max_topics == 0 || cfg->max_topics > TOPIC_REGISTRY_MAX)
		return "mqttsn.max_topics must be 1..67108864";
	if (cfg->max_client_topics == 0 || cfg->max_client_topics > (1u << 28))
		return "mqttsn.max_client_topics must be 1..268435456";
	if (cfg->max_subscriptions == 0 || cfg->max_subscriptions > (1u << 28))
		return "mqttsn.max_subscriptions must be 1..268435456";
	if (cfg->max_inflight == 0 || cfg->max_inflight > (1u << 28))
		return "mqttsn.max_inflight must be 1..268435456";
	if (cfg->max_inflight_per_session == 0 || cfg->max_inflight_per_session > 32768)
		return "mqttsn.max_inflight_per_session must be 1..32768 (16-bit message ids)";
	if (cfg->retry_interval_ms == 0)
		return "mqttsn.retry_interval_ms must be > 0";
	if (cfg->retry_limit > 255)
		return "mqttsn.retry_limit must be 0..255";
	if (cfg->max_topic_len < 2 || cfg->max_topic_len > 65000)
		return "mqttsn.max_topic_len must be 2..65000";
	if (cfg->expiry_scan_per_tick == 0)
		return "mqttsn.expiry_scan_per_tick must be > 0";
	if (cfg->offline_buffer > 255)
		return "mqttsn.offline_buffer must be 0..255";
	if (cfg->max_wills > 65535)
		return "mqttsn.max_wills must be 0..65535";
	if (cfg->max_wills && (cfg->will_max_bytes < 2 || cfg->will_max_bytes > WILL_BYTES_MAX))
		return "mqttsn.will_max_bytes must be 2..4096";
	if (cfg->max_retained > (1u << 20))
		return "mqttsn.max_retained must be 0..1048576";
	if (cfg->max_forwarded_nodes > cfg->max_sessions)
		return "mqttsn.max_forwarded_nodes must be at most mqttsn.max_sessions";
	if (cfg->max_wills && !io->payload_make)
		return "broker: wills need io.payload_make";
	if (cfg->sessions_per_source > 65535)
		return "security.sessions_per_source must be 0..65535";
	if (cfg->max_giveups > 255)
		return "security.max_giveups must be 0..255";
	if (cfg->keepalive_max_s && cfg->keepalive_max_s < cfg->keepalive_min_s)
		return "security.keepalive_max_s must be >= security.keepalive_min_s";
	if (cfg->address_proof && cfg->proof_timeout_ms == 0)
		return "security.proof_timeout_ms must be > 0";
	if (cfg->error_replies_per_s && cfg->error_reply_burst == 0)
		return "security.error_reply_burst must be >= 1 when error_replies_per_s is set";
	if (cfg->n_admission && !cfg->admission)
		return "security.admission: count without rules";
	for (uint32_t i = 0; i < cfg->n_admission; i++) {
		const struct broker_admission *a = &cfg->admission[i];
		if (a->client_id_len > SESSION_CLIENT_ID_MAX || (a->client_id_len && !a->client_id) ||
		    (a->n_nets && (!a->nets || !a->masks)) || (a->n_nets6 && !a->nets6))
			return "security.admission: a rule needs a client id of 0..23 bytes and its prefixes";
	}
	return NULL;
}

struct broker *broker_create(const struct broker_config *cfg, const struct broker_io *io, struct fo_counters *counters,
			     const char **err)
{
	const char *e = check_config(cfg, io);
	if (e) {
		if (err)
			*err = e;
		return NULL;
	}
	struct broker *b = calloc(1, sizeof(*b));
	if (!b) {
		if (err)
			*err = "broker: out of memory";
		return NULL;
	}
	b->cfg = *cfg;
	b->io = *io;
	b->c = counters ? counters : &b->own_counters;
	b->reg = topic_registry_create(cfg->max_topics, cfg->max_topic_len);
	b->st = session_table_create(cfg->max_sessions, cfg->max_client_topics, cfg->max_forwarded_nodes,
				     cfg->ipv6_clients);
	b->subs = subscription_table_create(cfg->max_subscriptions, cfg->max_topics);
	b->fidx = filter_index_create(cfg->max_topics < cfg->max_subscriptions ? cfg->max_topics
									       : cfg->max_subscriptions,
				      cfg->max_topics, cfg->max_topic_len);
	b->inf = inflight_table_create(cfg->max_inflight);
	b->touched = calloc(cfg->max_sessions, sizeof(*b->touched));
	b->rxm = calloc(cfg->max_sessions, sizeof(*b->rxm));
	b->scratch_cap = (uint32_t)cfg->max_topic_len + 16u;
	b->scratch = malloc(b->scratch_cap);
	b->g = calloc(cfg->max_sessions, sizeof(*b->g));
	uint32_t qslots = bh_slots_for(cfg->max_sessions);
	b->ipq = calloc(qslots, sizeof(*b->ipq));
	b->ipq_mask = qslots - 1;
	b->eb = calloc(ERR_BUCKETS, sizeof(*b->eb));
	b->held_max = cfg->max_inflight_per_session == 0              ? 1u
		      : cfg->max_inflight_per_session < HELD_PUBS_MAX ? (uint8_t)cfg->max_inflight_per_session
								      : (uint8_t)HELD_PUBS_MAX;
	b->hp_cap = cfg->max_sessions < cfg->max_inflight / b->held_max ? cfg->max_sessions * b->held_max
									: cfg->max_inflight;
	b->hp = calloc(b->hp_cap, sizeof(*b->hp));
	for (uint32_t i = 0; b->hp && i < b->hp_cap; i++)
		b->hp[i].next = i + 1 < b->hp_cap ? i + 1 : HELD_NONE;
	b->hp_free = 0;
	b->will_free = WILL_NONE;
	if (cfg->max_wills) {
		b->wills = calloc(cfg->max_wills, sizeof(*b->wills));
		b->wdata = malloc((size_t)cfg->max_wills * cfg->will_max_bytes);
		b->will_of = malloc((size_t)cfg->max_sessions * sizeof(*b->will_of));
		b->will_tmp = malloc(cfg->will_max_bytes);
		if (!b->wills || !b->wdata || !b->will_of || !b->will_tmp) {
			if (err)
				*err = "broker: out of memory for wills; lower mqttsn.max_wills or "
				       "mqttsn.will_max_bytes";
			broker_destroy(b);
			return NULL;
		}
		for (uint32_t i = 0; i < cfg->max_wills; i++)
			b->wills[i].next_free = i + 1 < cfg->max_wills ? (uint16_t)(i + 1) : WILL_NONE;
		b->will_free = 0;
		memset(b->will_of, 0xff, (size_t)cfg->max_sessions * sizeof(*b->will_of));
	}
	if (cfg->max_retained) {
		uint32_t slots = bh_slots_for(cfg->max_retained);
		b->ret = calloc(cfg->max_retained, sizeof(*b->ret));
		b->ret_ix = malloc((size_t)slots * sizeof(*b->ret_ix));
		if (!b->ret || !b->ret_ix) {
			if (err)
				*err = "broker: out of memory for retained messages; lower mqttsn.max_retained";
			broker_destroy(b);
			return NULL;
		}
		memset(b->ret_ix, 0xff, (size_t)slots * sizeof(*b->ret_ix));
		b->ret_mask = slots - 1;
	}
	b->prf_base = bh_prf64((uint64_t)(uintptr_t)b);
	if (!b->reg || !b->st || !b->subs || !b->fidx || !b->inf || !b->touched || !b->rxm || !b->scratch || !b->g ||
	    !b->ipq || !b->eb || !b->hp) {
		if (err)
			*err = "broker: out of memory for tables; lower mqttsn.max_* sizes";
		broker_destroy(b);
		return NULL;
	}
	/* The lists are not kept: a generation's tables are read through its own config. */
	b->cfg.predefined = NULL;
	b->cfg.client_predefined = NULL;
	if (!cfg->predef_set) {
		const char *pe = NULL;
		b->own_predef = predef_set_build(cfg->predefined, cfg->n_predefined, cfg->client_predefined,
						 cfg->n_client_predefined, cfg->max_topic_len, &pe);
		if (pe) {
			if (err)
				*err = pe;
			broker_destroy(b);
			return NULL;
		}
		b->cfg.predef_set = b->own_predef;
	}
	return b;
}

void broker_destroy(struct broker *b)
{
	if (!b)
		return;
	while (b->n_ret > 0 && b->ret_ix)
		ret_remove(b, ret_slot(b, b->ret[b->n_ret - 1].topic));
	if (b->st && b->inf && b->subs && b->fidx && b->reg && b->g && b->hp) {
		uint32_t cap = session_capacity(b->st);
		for (uint32_t i = 0; i < cap; i++)
			if (session_get(b->st, i))
				session_drop(b, i);
	}
	topic_registry_destroy(b->reg);
	session_table_destroy(b->st);
	subscription_table_destroy(b->subs);
	filter_index_destroy(b->fidx);
	inflight_table_destroy(b->inf);
	free(b->touched);
	free(b->rxm);
	free(b->scratch);
	predef_set_free(b->own_predef);
	free(b->g);
	free(b->ipq);
	free(b->eb);
	free(b->hp);
	free(b->wills);
	free(b->wdata);
	free(b->will_of);
	free(b->will_tmp);
	free(b->ret);
	free(b->ret_ix);
	free(b);
}

/* ------------------------------------------------------------------ fan-out */

static void collect(struct broker *b, uint32_t entry, uint32_t *n)
{
	for (uint32_t x = sub_first(b->subs, entry); x != SUB_NONE;) {
		const struct sub_node *node = sub_get(b->subs, x);
		struct mqttsn_session *s = session_get(b->st, node->session);
		if (s->mark_epoch != b->epoch) {
			s->mark_epoch = b->epoch;
			s->mark_qos = node->qos;
			b->touched[(*n)++] = node->session;
		} else if (node->qos > s->mark_qos) {
			s->mark_qos = node->qos;
		}
		x = node->t_next;
	}
}

#define DELIVERY_LOOKUP 0xFF /* not a topic id type: the copy's type depends on its receiver */

struct delivery {
	const uint8_t *name;
	uint16_t name_len;
	uint32_t entry;     /* registry id of the name (NORMAL deliveries) */
	uint8_t ttype;      /* topic type a subscriber sees unless the name is predefined for it */
	uint16_t tid;       /* short name (NORMAL: each client's own id) */
	uint8_t predef;     /* enum broker_predef_scope: whose tables the copies look the name up in */
	uint8_t copy_ttype; /* ttype, or DELIVERY_LOOKUP: each copy asks delivery_topic() */
	bool hashed;        /* name_hash is set */
	uint32_t name_hash;
	const struct predef_set *all_set; /* BROKER_PREDEF_ALL: the set serving every client */
	const struct predef_set *c_set;   /* the last set without per-client rules looked up ... */
	uint16_t c_id;                    /* ... and the name's id in it (0 = none) */
	void *payload;
	void *kept;      /* the payload as kept for QoS 1 copies (payload_keep), NULL until needed */
	bool kept_spare; /* kept holds a reference no inflight entry owns yet (released at the end) */
	uint16_t payload_len;
	uint8_t retain; /* MQTTSN_FLAG_RETAIN: a retained message sent because of a SUBSCRIBE */
	uint32_t held;  /* copies held for a REGACK */
	/* The last QoS 0 header encoded for this fan-out: copies with the same flags and topic id
	 * share it (only QoS 1 copies carry their own message id). */
	int h0;
	uint8_t f0;
	uint16_t t0;
	uint8_t hdr0[PUBLISH_HDR_MAX]; /* last: fan_out leaves it uninitialised (h0 = 0) */
};

/* A fan-out's delivery as `(struct delivery){ .name = ..., ... }` would make it, but field by
 * field and without zeroing the header cache (h0 = 0 says it is empty): the initialiser
 * compiles to rep stos, which cost more than the rest of a 1 -> 1 fan-out's setup. A field
 * added to struct delivery is set here too. */
static inline void delivery_start(struct delivery *d, const uint8_t *name, uint16_t len, uint32_t entry, void *payload,
				  uint16_t payload_len)
{
	d->name = name;
	d->name_len = len;
	d->entry = entry;
	d->ttype = 0;
	d->tid = 0;
	d->predef = 0;
	d->copy_ttype = 0;
	d->hashed = false;
	d->name_hash = 0;
	d->all_set = NULL;
	d->c_set = NULL;
	d->c_id = 0;
	d->payload = payload;
	d->kept = NULL;
	d->kept_spare = false;
	d->payload_len = payload_len;
	d->retain = 0;
	d->held = 0;
	d->h0 = 0;
	d->f0 = 0;
	d->t0 = 0;
}

/* Whose predefined tables a fan-out of d->name must look at: none (the name is predefined for
 * no client: no copy looks), each receiver's generation, or one set for every client. One set
 * without per-client rules gives every copy the same answer: it is found here, once, and the copies
 * go out as if the name alone decided (no per-copy work). */
static __attribute__((noinline)) void predef_scope(const struct broker *b, struct delivery *d)
{
	const struct predef_set *set = b->cfg.predef_set;
	if (b->uni) {
		set = b->uni_set; /* one set serves every client: ALL, or NONE without one */
	} else if (b->io.client_config) {
		int scope = b->io.predef_named ? b->io.predef_named(b->io.ctx, d->name, d->name_len, &set)
					       : BROKER_PREDEF_PER_CLIENT;
		if (scope != BROKER_PREDEF_ALL) {
			d->predef = (uint8_t)scope;
			return;
		}
	}
	if (__builtin_expect(!set, 1))
		return;
	/* a publish by predefined id: its name came with its hash (resolve_publish_topic) */
	d->name_hash = d->name == b->pre_name ? b->pre_hash : predef_name_hash(d->name, d->name_len);
	d->hashed = true;
	if (predef_set_per_client(set)) {
		if (predef_set_names(set, d->name, d->name_len, d->name_hash)) {
			d->predef = BROKER_PREDEF_ALL;
			d->all_set = set;
		}
		return;
	}
	const struct predef_table *g = predef_global_table(set);
	/* the publisher's own table: the id it used */
	uint16_t id = g && g == b->pre_table && d->name == b->pre_name
			      ? b->pre_id
			      : predef_id(g, d->name, d->name_len, d->name_hash);
	if (id) {
		d->ttype = MQTTSN_TOPIC_PREDEFINED;
		d->tid = id;
	}
}

/* A copy's topic type, unless the name is predefined for its receiver, depends on the name alone:
 * two characters -> short topic name, else a normal id (REGISTERed when needed). */
static inline void delivery_init(const struct broker *b, struct delivery *d)
{
	if (d->name_len == 2) {
		d->ttype = MQTTSN_TOPIC_SHORT;
		d->tid = (uint16_t)(d->name[0] << 8 | d->name[1]);
	} else {
		d->ttype = MQTTSN_TOPIC_NORMAL;
	}
	d->predef = BROKER_PREDEF_NONE;
	if (b->uni ? b->uni_set != NULL : b->io.client_config || b->cfg.predef_set)
		predef_scope(b, d);
	d->copy_ttype = d->predef != BROKER_PREDEF_NONE ? DELIVERY_LOOKUP : d->ttype;
}

/* The topic type (and id, *tid) of the copy for session s when it depends on the receiver
 * (DELIVERY_LOOKUP): a name predefined for that client, by the tables of its own generation
 * (whichever worker or generation accepted the publish), goes out with its predefined id; any
 * other as delivery_init() said (*tid untouched then). */
static uint8_t delivery_topic(const struct broker *b, const struct mqttsn_session *s, struct delivery *d, uint16_t *tid)
{
	if (!d->hashed) {
		d->name_hash = predef_name_hash(d->name, d->name_len);
		d->hashed = true;
	}
	const struct predef_set *set = d->all_set;
	uint32_t h = 0;
	bool hashed = false;
	if (d->predef == BROKER_PREDEF_PER_CLIENT) {
		h = s->client_id_len ? fo_client_id_hash(s->client_id, s->client_id_len)
				     : fo_client_hash(s->ip, s->port);
		hashed = true;
		const struct broker_config *gc = b->io.client_config(b->io.ctx, h);
		set = (gc ? gc : &b->cfg)->predef_set;
	}
	uint16_t id;
	if (set && set == d->c_set) {
		id = d->c_id; /* a set without per-client rules: one answer for all its clients */
	} else if (!predef_set_per_client(set)) {
		id = predef_id(predef_global_table(set), d->name, d->name_len, d->name_hash);
		d->c_set = set;
		d->c_id = id;
	} else {
		if (!hashed)
			h = fo_client_id_hash(s->client_id, s->client_id_len);
		id = predef_id(predef_client_table(set, s->client_id, s->client_id_len, h), d->name, d->name_len,
			       d->name_hash);
	}
	if (id == 0)
		return d->ttype;
	*tid = id;
	return MQTTSN_TOPIC_PREDEFINED;
}

/* The payload as kept past this fan-out (payload_keep, else payload_hold), made once per
 * fan-out; false when there is no room (counted). */
static bool delivery_kept(struct broker *b, struct delivery *d)
{
	if (d->kept)
		return true;
	if (b->io.payload_keep) {
		d->kept = b->io.payload_keep(b->io.ctx, d->payload);
		if (!d->kept) {
			ev(b, FO_EV_DELIVERY_HOLD_FULL);
			return false;
		}
	} else {
		d->kept = d->payload;
		b->io.payload_hold(b->io.ctx, d->kept);
	}
	d->kept_spare = true; /* the reference keep() gave is not yet in any entry */
	return true;
}

/* One reference on d->kept for a new owner (an in-flight entry or a held copy). */
static void delivery_take(struct broker *b, struct delivery *d)
{
	if (d->kept_spare)
		d->kept_spare = false; /* the owner takes keep()'s */
	else
		b->io.payload_hold(b->io.ctx, d->kept);
}

/* Keep the copy for session si until the client's REGACK of map entry me (spec 6.10: no
 * PUBLISH before it). Bounded per session and by the worker's pool; past it the copy is dropped. */
static void hold_copy(struct broker *b, uint32_t si, uint32_t me, int qos, struct delivery *d)
{
	struct guard *g = &b->g[si];
	if (g->n_pubs >= b->held_max || b->hp_free == HELD_NONE) {
		ev(b, FO_EV_DELIVERY_HELD_FULL);
		return;
	}
	if (!delivery_kept(b, d))
		return;
	delivery_take(b, d);
	uint32_t h = b->hp_free;
	struct held_pub *p = &b->hp[h];
	b->hp_free = p->next;
	b->hp_used++;
	*p = (struct held_pub){ .payload = d->kept,
				.me = me,
				.next = g->pubs,
				.payload_len = d->payload_len,
				.qos = (uint8_t)qos,
				.retain = d->retain };
	g->pubs = h;
	g->n_pubs++;
	d->held++;
	ev(b, FO_EV_DELIVERY_HELD);
}

/* A copy for a client that is asleep (spec 6.14: buffered until it wakes) or disconnected with a
 * persistent session (QoS 1 copies kept for its return, QoS 0 ones not), bounded per client by
 * mqttsn.offline_buffer and by the worker's hold pool. */
static uint32_t buffer_copy(struct broker *b, uint32_t si, int qos, struct delivery *d)
{
	struct guard *g = &b->g[si];
	if (qos <= 0 && session_get(b->st, si)->state == SESSION_DISCONNECTED) {
		ev(b, FO_EV_DELIVERY_OFFLINE_QOS0);
		return 0;
	}
	if (g->n_pubs >= b->cfg.offline_buffer || b->hp_free == HELD_NONE) {
		ev(b, FO_EV_DELIVERY_BUFFER_FULL);
		return 0;
	}
	uint32_t entry = d->entry;
	if (entry == TOPIC_NONE) { /* a short name this worker holds no entry for */
		entry = topic_registry_intern(b->reg, TOPIC_KIND_NAME, d->name, d->name_len);
		if (entry == TOPIC_NONE) {
			ev(b, FO_EV_PUBLISH_CONGESTION);
			return 0;
		}
	}
	if (!delivery_kept(b, d)) {
		topic_registry_drop_unused(b->reg, entry);
		return 0;
	}
	delivery_take(b, d);
	topic_registry_ref(b->reg, entry);
	uint32_t h = b->hp_free;
	struct held_pub *p = &b->hp[h];
	b->hp_free = p->next;
	b->hp_used++;
	*p = (struct held_pub){ .payload = d->kept,
				.me = HELD_BUFFERED,
				.next = g->pubs,
				.topic = entry,
				.payload_len = d->payload_len,
				.qos = (uint8_t)(qos > 0 ? qos : 0) };
	g->pubs = h;
	g->n_pubs++;
	d->held++;
	ev(b, FO_EV_DELIVERY_BUFFERED);
	return 0;
}

#define REG_FULL (-2) /* register_send: REGISTERs awaiting REGACK already as many as regs_pending counts */

/* Our REGISTER of map entry me, its name under its id (spec 6.10): the copies of the name wait for
 * its REGACK; it is sent again every retry interval while unanswered (expire_sessions). 0, or -1
 * when it could not be sent, REG_FULL when the session has 255 waiting (the entry is left as it
 * was either way). */
static int register_send(struct broker *b, uint32_t si, uint32_t me)
{
	struct mqttsn_session *s = session_get(b->st, si);
	struct guard *g = &b->g[si];
	if (g->regs_pending == UINT8_MAX)
		return REG_FULL;
	uint16_t mid = next_msg_id(b, s);
	while (mid >= CTMAP_UNANNOUNCED) /* those values mark map entries: never a REGISTER's MsgId */
		mid = next_msg_id(b, s);
	struct ctmap_entry *e = ctmap_get(b->st, me);
	struct mqttsn_msg r = { .type = MQTTSN_REGISTER };
	r.u.reg.topic_id = e->tid;
	r.u.reg.msg_id = mid;
	r.u.reg.topic_name = topic_registry_name(b->reg, e->topic, &r.u.reg.topic_name_len);
	struct fo_client to;
	client_of(b, s, &to);
	if (send_msg(b, &to, &r) < 0)
		return -1;
	e->reg_msg_id = mid;
	if (g->regs_pending++ == 0) {
		g->since_ms = (uint32_t)b->clock_ms;
		g->reg_resends = 0;
	}
	ev(b, FO_EV_REGISTER_SENT);
	return 0;
}

/* A copy of a name whose map entry me has no usable id yet: the client refused the name (no
 * copy), our REGISTER of it awaits the REGACK (the copy waits too, not to overtake it), or the
 * client may have lost the id (CTMAP_UNANNOUNCED: a CleanSession=0 reconnect kept it): the id is
 * REGISTERed again, and the copy waits for that REGACK as for a name it has never seen. */
static uint32_t deliver_unknown(struct broker *b, uint32_t si, uint32_t me, int qos, struct delivery *d)
{
	uint16_t rm = ctmap_get(b->st, me)->reg_msg_id;
	if (rm == CTMAP_REFUSED) {
		ev(b, FO_EV_DELIVERY_TOPIC_REFUSED);
		return 0;
	}
	if (regs_stalled(b, si)) {
		pause_session(b, si);
		ev(b, FO_EV_DELIVERY_PAUSED);
		return 0;
	}
	if (rm == CTMAP_UNANNOUNCED) {
		int rc = register_send(b, si, me);
		if (rc < 0) {
			if (rc == REG_FULL)
				ev(b, FO_EV_DELIVERY_HELD_FULL);
			return 0;
		}
	}
	hold_copy(b, si, me, qos, d);
	return 0;
}

/* One copy to one session; 1 when handed to send_publish (a copy held for a REGACK is sent
 * later and counted in d->held). */
static inline __attribute__((always_inline)) uint32_t deliver_copy(struct broker *b, uint32_t si, int qos,
								   struct delivery *d)
{
	struct mqttsn_session *s = session_get(b->st, si);

	/* Only an address that showed it receives what we send gets copies (reflection), and only
	 * while it acknowledges them (a paused session is fed nothing until it speaks again). */
	if (unlikely_(!s->proven || s->paused || (s->state & SESSION_AWAY))) {
		if (!s->proven) {
			ev(b, FO_EV_DELIVERY_UNPROVEN);
			return 0;
		}
		if (s->paused) {
			ev(b, FO_EV_DELIVERY_PAUSED);
			return 0;
		}
		return buffer_copy(b, si, qos, d); /* asleep or disconnected */
	}
	uint16_t tid = d->tid;
	uint8_t ttype = d->copy_ttype;
	if (__builtin_expect(ttype == DELIVERY_LOOKUP, 0))
		ttype = delivery_topic(b, s, d, &tid);
	if (ttype == MQTTSN_TOPIC_NORMAL) {
		uint32_t me = ctmap_find_topic(b->st, si, d->entry);
		if (me != SESSION_NONE) {
			const struct ctmap_entry *e = ctmap_get(b->st, me);
			if (__builtin_expect(e->reg_msg_id == 0, 1)) {
				tid = e->tid;
				goto send;
			}
			return deliver_unknown(b, si, me, qos, d);
		}
		/* A wildcard subscriber has not seen this name: tell it the id first and hold the copy
		 * until its REGACK (spec 6.10). The REGISTER is sent again every retry interval
		 * (expire_sessions); one left unanswered for the REGISTER patience pauses the session,
		 * and resuming forgets it, so the next copy registers the name again. */
		if (regs_stalled(b, si)) {
			/* It leaves our REGISTERs unanswered: stop feeding it (expiry ends it if it stays
			 * silent; any message from it resumes deliveries). */
			pause_session(b, si);
			ev(b, FO_EV_DELIVERY_PAUSED);
			return 0;
		}
		bool created;
		me = map_add(b, si, d->entry, &created);
		if (me == SESSION_NONE) {
			ev(b, FO_EV_PUBLISH_CONGESTION); /* map pool full: copy skipped */
			return 0;
		}
		topic_registry_ref(b->reg, d->entry);
		int rc = register_send(b, si, me);
		if (rc < 0) {
			if (rc == REG_FULL)
				ev(b, FO_EV_DELIVERY_HELD_FULL);
			map_drop(b, me);
			return 0;
		}
		hold_copy(b, si, me, qos, d);
		return 0;
	}

send:;
	uint8_t flags = (uint8_t)(ttype | d->retain | qos << 5); /* qos 0..2: MQTTSN_FLAG_QOS0..2 */
	uint16_t mid = 0;
	if (qos) {
		if (inflight_count(b->inf) >= inflight_capacity(b->inf) ||
		    s->inflight_n >= b->cfg.max_inflight_per_session) {
			ev(b, FO_EV_DELIVERY_INFLIGHT_FULL);
			return 0;
		}
		mid = next_msg_id(b, s);
	}
	uint8_t qhdr[PUBLISH_HDR_MAX];
	uint8_t *hdr = qhdr;
	int h;
	if (!qos && d->h0 > 0 && d->f0 == flags && d->t0 == tid) {
		hdr = d->hdr0;
		h = d->h0;
	} else if (!qos) { /* encoded where the next copies with these flags and id find it */
		hdr = d->hdr0;
		h = mqttsn_encode_publish_hdr(d->hdr0, sizeof(d->hdr0), flags, tid, 0, d->payload_len);
		d->h0 = h > 0 ? h : 0;
		d->f0 = flags;
		d->t0 = tid;
	} else {
		h = mqttsn_encode_publish_hdr(qhdr, sizeof(qhdr), flags, tid, mid, d->payload_len);
	}
	if (h <= 0)
		return 0;
	if (qos) {
		if (!delivery_kept(b, d))
			return 0;
		uint32_t x = inflight_add(b->inf, &s->inflight_head, si, mid, tid, flags, d->kept, d->payload_len,
					  b->clock_ms + b->cfg.retry_interval_ms);
		if (x == INFLIGHT_NONE) {
			ev(b, FO_EV_DELIVERY_INFLIGHT_FULL);
			return 0;
		}
		s->inflight_n++;
		delivery_take(b, d); /* this entry owns it */
		ev(b, qos == 2 ? FO_EV_DELIVERY_QOS2 : FO_EV_DELIVERY_QOS1);
	}
	/* A failed send of a QoS 1 copy stays in flight: the retransmission covers it. */
	struct fo_client to;
	client_of(b, s, &to);
	b->io.send_publish(b->io.ctx, &to, hdr, (uint16_t)h, d->payload);
	ev(b, FO_EV_DELIVERIES);
	return 1;
}

/* deliver_copy for the paths off the publish loop (buffered, retained, resumed copies): one copy of
 * the code in fan_out's loop, where it is inlined, and one here. */
static __attribute__((noinline)) uint32_t deliver(struct broker *b, uint32_t si, int qos, struct delivery *d)
{
	return deliver_copy(b, si, qos, d);
}

/* A QoS 1 copy in flight sent again (DUP), its deadline one retry interval on. */
static void inflight_resend(struct broker *b, struct mqttsn_session *s, uint32_t x)
{
	struct inflight_entry *e = inflight_get(b->inf, x);
	if (e->flags & INFLIGHT_PUBREL) {
		struct fo_client to;
		client_of(b, s, &to);
		send_pubx(b, &to, MQTTSN_PUBREL, e->msg_id);
		ev(b, FO_EV_QOS2_PUBREL_RESENT);
		inflight_requeue(b->inf, x, b->clock_ms + b->cfg.retry_interval_ms);
		return;
	}
	uint8_t hdr[PUBLISH_HDR_MAX];
	int h = mqttsn_encode_publish_hdr(hdr, sizeof(hdr),
					  (uint8_t)((e->flags & ~INFLIGHT_WAIT_REG) | MQTTSN_FLAG_DUP), e->topic_id,
					  e->msg_id, e->payload_len);
	if (h > 0) {
		struct fo_client to;
		client_of(b, s, &to);
		b->io.send_publish(b->io.ctx, &to, hdr, (uint16_t)h, e->payload);
		ev(b, FO_EV_QOS1_RETRANSMITS);
	}
	/* now + interval > now, so the retransmission loop ends; appending keeps the FIFO sorted. */
	inflight_requeue(b->inf, x, b->clock_ms + b->cfg.retry_interval_ms);
}

/* Whether in-flight copy x may go out again now (INFLIGHT_READY). One under a topic id the client
 * may have lost (INFLIGHT_WAIT_REG: a CleanSession=0 reconnect kept the id) WAITS until the client
 * knows the id again: the REGISTER of the id is sent here when none is out (spec 6.10: the PUBLISH
 * follows its REGACK, which sends the copy, inflight_waiting). One whose id the client refused
 * meanwhile, or whose map entry is gone, is DROPPED (x freed, counted). */
enum { INFLIGHT_DROPPED = -1, INFLIGHT_WAITS = 0, INFLIGHT_READY = 1 };
static int inflight_ready(struct broker *b, uint32_t si, uint32_t x)
{
	struct inflight_entry *e = inflight_get(b->inf, x);
	if (!(e->flags & INFLIGHT_WAIT_REG))
		return INFLIGHT_READY;
	uint32_t me = ctmap_find(b->st, si, e->topic_id);
	uint16_t rm = me != SESSION_NONE ? ctmap_get(b->st, me)->reg_msg_id : CTMAP_REFUSED;
	if (rm == 0) {
		e->flags = (uint8_t)(e->flags & ~INFLIGHT_WAIT_REG);
		return INFLIGHT_READY;
	}
	if (rm == CTMAP_REFUSED) {
		inflight_drop(b, session_get(b->st, si), x);
		ev(b, FO_EV_DELIVERY_HELD_DISCARDED);
		return INFLIGHT_DROPPED;
	}
	if (rm == CTMAP_UNANNOUNCED) {
		if (regs_stalled(b, si))
			pause_session(b, si);
		else
			register_send(b, si, me); /* not sent: the next resend tries again */
	}
	return INFLIGHT_WAITS;
}

/* The client is there again (CONNECT that resumed its session, PINGREQ of a sleeping client,
 * or the proof of a new address): its unacknowledged QoS 1 copies go out again (those under an
 * id it may have lost after a REGISTER of the id) and its buffered copies follow in arrival
 * order (REGISTERed first where it lacks the id, or may have lost it). */
static void resume_deliveries(struct broker *b, uint32_t si)
{
	struct mqttsn_session *s = session_get(b->st, si);
	if (!s->proven || s->paused || (s->state & SESSION_AWAY))
		return;
	for (uint32_t x = s->inflight_head; x != INFLIGHT_NONE;) {
		uint32_t next = inflight_get(b->inf, x)->s_next;
		inflight_get(b->inf, x)->retries = 0;
		if (inflight_ready(b, si, x) == INFLIGHT_READY)
			inflight_resend(b, s, x);
		x = next;
	}
	uint32_t mine[256];
	uint32_t k = held_take(b, si, HELD_BUFFERED, mine);
	while (k > 0) { /* the list is newest first */
		uint32_t h = mine[--k];
		struct held_pub p = b->hp[h];
		held_free(b, h);
		uint16_t len;
		const uint8_t *name = topic_registry_name(b->reg, p.topic, &len);
		struct delivery d = { .name = name,
				      .name_len = len,
				      .entry = p.topic,
				      .payload = p.payload,
				      .kept = p.payload,
				      .kept_spare = true,
				      .payload_len = p.payload_len };
		delivery_init(b, &d);
		deliver(b, si, p.qos, &d);
		if (d.kept_spare)
			b->io.payload_release(b->io.ctx, p.payload);
		topic_registry_unref(b->reg, p.topic);
	}
}

/* An awake client has had everything: PINGRESP closes the transfer and it is asleep again, its
 * sleep timer restarted. Copies still waiting for a REGACK keep it awake. */
static void awake_done(struct broker *b, uint32_t si)
{
	struct mqttsn_session *s = session_get(b->st, si);
	if (s->state != SESSION_AWAKE || b->g[si].n_pubs > 0 || b->g[si].regs_pending > 0)
		return;
	struct fo_client to;
	client_of(b, s, &to);
	send_empty(b, &to, MQTTSN_PINGRESP);
	s->state = SESSION_ASLEEP;
	s->last_rx_ms = b->clock_ms;
}

/* The client left for now (DISCONNECT of a persistent session, asleep, or lost with a persistent
 * session): copies waiting for REGACKs are buffered with the rest, and the REGISTERs they waited
 * for are forgotten (the id is registered again before the next copy when the client is back). */
static void regs_forget(struct broker *b, uint32_t si)
{
	struct mqttsn_session *s = session_get(b->st, si);
	struct guard *g = &b->g[si];
	for (uint32_t h = g->pubs, i = 0; i < g->n_pubs; i++, h = b->hp[h].next) {
		struct held_pub *p = &b->hp[h];
		if (p->me == HELD_BUFFERED)
			continue;
		p->topic = ctmap_get(b->st, p->me)->topic;
		topic_registry_ref(b->reg, p->topic);
		p->me = HELD_BUFFERED;
	}
	for (uint32_t me = s->map_head; me != SESSION_NONE; me = ctmap_get(b->st, me)->next)
		map_unannounce(b, si, me);
}

static void go_offline(struct broker *b, uint32_t si, enum session_state state)
{
	struct mqttsn_session *s = session_get(b->st, si);
	struct guard *g = &b->g[si];
	regs_forget(b, si);
	s->paused = 0;
	s->state = state;
	s->last_rx_ms = b->clock_ms;
	g->giveups = 0;
}

struct wild_ctx {
	struct broker *b;
	const uint8_t *name;
	uint16_t len;
	uint32_t *n;
};

/* A filter the index offers: confirm it (the index may offer a hash collision). */
static void wild_candidate(void *ctx, uint32_t w)
{
	struct wild_ctx *c = ctx;
	uint16_t flen;
	const uint8_t *filter = topic_registry_name(c->b->reg, w, &flen);
	if (topic_match(filter, flen, c->name, c->len))
		collect(c->b, w, c->n);
}

/* Every session with a matching subscription gets one copy at min(publish QoS, its
 * highest granted QoS among the matches). entry is the name's registry id or
 * TOPIC_NONE when this worker has never seen the name. */
static uint32_t fan_out(struct broker *b, const uint8_t *name, uint16_t len, uint32_t entry, int qos, void *payload,
			uint16_t payload_len, uint32_t *held)
{
	*held = 0;
	if (++b->epoch == 0) {
		uint32_t cap = session_capacity(b->st);
		for (uint32_t i = 0; i < cap; i++) {
			struct mqttsn_session *s = session_get(b->st, i);
			if (s)
				s->mark_epoch = 0;
		}
		b->epoch = 1;
	}
	uint32_t n = 0;
	if (entry != TOPIC_NONE)
		collect(b, entry, &n);
	/* Wildcard filters: a few are cheaper to try one by one than to walk the index for. */
	uint32_t nw = sub_wildcard_count(b->subs);
	struct wild_ctx wc = { .b = b, .name = name, .len = len, .n = &n };
	if (nw > WILD_SCAN_MAX)
		filter_index_match(b->fidx, name, len, wild_candidate, &wc);
	else
		for (uint32_t i = 0; i < nw; i++)
			wild_candidate(&wc, sub_wildcard_at(b->subs, i));
	if (n == 0)
		return 0;

	/* A copy looks the same whichever worker accepted the publish: its topic type depends on the
	 * name and on the subscriber's own predefined topics (delivery_topic). */
	struct delivery d;
	delivery_start(&d, name, len, entry, payload, payload_len);
	bool interned = false;
	delivery_init(b, &d);
	if (d.ttype == MQTTSN_TOPIC_NORMAL) {
		if (entry == TOPIC_NONE) {
			/* Only wildcard subscribers match an unseen name: give it an id here. */
			d.entry = topic_registry_intern(b->reg, TOPIC_KIND_NAME, name, len);
			if (d.entry == TOPIC_NONE) {
				ev(b, FO_EV_PUBLISH_CONGESTION); /* registry full: no id to tell them */
				return 0;
			}
			interned = true;
		}
	}
	int pq = qos > 0 ? qos : 0;
	uint32_t copies = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t si = b->touched[i];
		int q = pq < session_get(b->st, si)->mark_qos ? pq : session_get(b->st, si)->mark_qos;
		copies += deliver_copy(b, si, q, &d);
	}
	if (d.kept_spare)
		b->io.payload_release(b->io.ctx, d.kept);
	*held = d.held;
	if (interned)
		topic_registry_drop_unused(b->reg, d.entry);
	return copies;
}

uint32_t broker_fanout(struct broker *b, const uint8_t *topic, uint16_t topic_len, int qos, void *payload,
		       uint16_t payload_len, uint64_t now_ms)
{
	if (now_ms > b->clock_ms)
		b->clock_ms = now_ms;
	if (!topic || topic_len == 0 || topic_len > b->cfg.max_topic_len)
		return 0;
	uint32_t entry = topic_registry_find(b->reg, TOPIC_KIND_NAME, topic, topic_len);
	uint32_t held;
	return fan_out(b, topic, topic_len, entry, qos, payload, payload_len, &held);
}

/* ------------------------------------------------------------------ retained messages */

/* A publish with the retain flag: it becomes the topic's retained message (replacing the one
 * before), or, with an empty payload, clears it. Bounded by max_retained and retained_bytes;
 * past them the new one is not kept (counted) and the old one is cleared (never a stale one). */
static void retain_publish(struct broker *b, const uint8_t *name, uint16_t len, int qos, void *payload, uint16_t plen)
{
	if (b->cfg.max_retained == 0)
		return;
	uint32_t entry = topic_registry_find(b->reg, TOPIC_KIND_NAME, name, len);
	uint32_t slot = entry != TOPIC_NONE ? ret_slot(b, entry) : RETAINED_EMPTY;
	bool had = slot != RETAINED_EMPTY && b->ret_ix[slot] != RETAINED_EMPTY;
	if (had) {
		ret_remove(b, slot); /* its reference may have been the entry's last: look it up again */
		entry = topic_registry_find(b->reg, TOPIC_KIND_NAME, name, len);
		if (plen == 0)
			ev(b, FO_EV_RETAINED_CLEARED);
	}
	if (plen == 0)
		return;
	if (b->n_ret >= b->cfg.max_retained || b->ret_bytes + plen > b->cfg.retained_bytes) {
		ev(b, FO_EV_RETAINED_FULL);
		return;
	}
	if (entry == TOPIC_NONE)
		entry = topic_registry_intern(b->reg, TOPIC_KIND_NAME, name, len);
	if (entry == TOPIC_NONE) {
		ev(b, FO_EV_RETAINED_FULL); /* no registry entry for its name */
		return;
	}
	void *kept = payload;
	if (b->io.payload_keep)
		kept = b->io.payload_keep(b->io.ctx, payload);
	else
		b->io.payload_hold(b->io.ctx, payload);
	if (!kept) {
		topic_registry_drop_unused(b->reg, entry);
		ev(b, FO_EV_DELIVERY_HOLD_FULL);
		return;
	}
	topic_registry_ref(b->reg, entry);
	uint32_t i = b->n_ret++;
	b->ret[i] = (struct retained_msg){
		.payload = kept, .topic = entry, .len = plen, .qos = (uint8_t)(qos < 0 ? 0 : qos)
	};
	b->ret_ix[ret_slot(b, entry)] = i;
	b->ret_bytes += plen;
	ev(b, FO_EV_RETAINED_STORED);
}

void broker_retain(struct broker *b, const uint8_t *topic, uint16_t topic_len, int qos, void *payload,
		   uint16_t payload_len)
{
	if (!topic || topic_len == 0 || topic_len > b->cfg.max_topic_len)
		return;
	retain_publish(b, topic, topic_len, qos, payload, payload_len);
}

/* A subscription's retained messages for a proven, active client (MQTT 3.1.1 3.3.1.3: sent with
 * the retain flag, at the lower of their QoS and the granted one), REGISTERed first where it has
 * no id for the name. filter is the registry entry of the subscription's filter or name. */
static void send_retained(struct broker *b, uint32_t si, uint32_t filter, bool wild, int granted)
{
	if (b->n_ret == 0)
		return;
	uint16_t flen;
	const uint8_t *f = wild ? topic_registry_name(b->reg, filter, &flen) : NULL;
	for (uint32_t i = 0; i < b->n_ret; i++) {
		const struct retained_msg r = b->ret[i];
		if (wild ? false : r.topic != filter)
			continue;
		uint16_t len;
		const uint8_t *name = topic_registry_name(b->reg, r.topic, &len);
		if (wild && !topic_match(f, flen, name, len))
			continue;
		struct delivery d = { .name = name,
				      .name_len = len,
				      .entry = r.topic,
				      .payload = r.payload,
				      .kept = r.payload,
				      .payload_len = r.len,
				      .retain = MQTTSN_FLAG_RETAIN };
		delivery_init(b, &d);
		deliver(b, si, r.qos < granted ? r.qos : granted, &d);
		ev(b, FO_EV_RETAINED_SENT);
	}
}

/* ------------------------------------------------------------------ message handlers */

/* ---- address proof (docs/security.md): MQTT-SN 1.2 6.10 lets the gateway REGISTER at any
 * time, and the REGACK must echo the REGISTER's TopicId and MsgId. Ours are drawn from a keyed
 * PRF, so a sender that forges its source address never sees them and cannot echo them. Until
 * then the address gets nothing but one reply per message it sent, none bigger than it. */

static uint16_t prf16(struct broker *b, uint64_t *r)
{
	if (*r == 0)
		*r = bh_prf64(b->prf_base + ++b->prf_ctr);
	uint16_t v = (uint16_t)*r;
	*r >>= 16;
	return v;
}

static int send_proof(struct broker *b, uint32_t si, const struct fo_client *to)
{
	struct guard *g = &b->g[si];
	if (g->proof_mid == 0) {
		uint64_t r = 0;
		uint16_t mid = prf16(b, &r), tid = 0;
		if (mid == 0)
			mid = 1;
		/* A topic id the client does not use (a REGISTER of one it uses would rename it). */
		for (int tries = 0; tries < 16; tries++) {
			uint16_t t = prf16(b, &r);
			if (t != 0 && t != 0xFFFF && ctmap_find(b->st, si, t) == SESSION_NONE) {
				tid = t;
				break;
			}
		}
		if (tid == 0)
			return -1;
		g->proof_mid = mid;
		g->proof_tid = tid;
		g->since_ms = (uint32_t)b->clock_ms;
		g->proof_out = true;
	}
	struct mqttsn_msg r = { .type = MQTTSN_REGISTER };
	r.u.reg.topic_id = g->proof_tid;
	r.u.reg.msg_id = g->proof_mid;
	r.u.reg.topic_name = (const uint8_t *)PROOF_TOPIC;
	r.u.reg.topic_name_len = (uint16_t)(sizeof(PROOF_TOPIC) - 1);
	ev(b, FO_EV_PROOF_SENT);
	return send_msg(b, to, &r);
}

/* The REGACK echoed the proof: the address is real. What waited for it goes out now. */
static void prove(struct broker *b, uint32_t si, const struct fo_client *to)
{
	struct mqttsn_session *s = session_get(b->st, si);
	struct guard *g = &b->g[si];
	/* else every subscription was made before this proof */
	bool resumed = g->resume_held || g->wake_held;
	s->proven = 1;
	g->wake_held = 0;
	g->proof_mid = g->proof_tid = 0;
	g->proof_out = false;
	g->mismatches = 0;
	ev(b, FO_EV_ADDRESS_PROVEN);
	g->resume_held = false;
	for (uint8_t i = 0; i < g->n_held; i++)
		send_suback(b, to, held_granted(g, i), g->held[i].tid, g->held[i].mid, MQTTSN_RC_ACCEPTED);
	g->n_held = 0;
	resume_deliveries(b, si);
	if (!resumed)
		for (uint32_t x = s->sub_head; x != SUB_NONE;) {
			const struct sub_node *n = sub_get(b->subs, x);
			uint32_t next = n->s_next;
			send_retained(b, si, n->entry, n->wildcard, n->qos);
			x = next;
		}
}

/* A per-worker table is full: end one unproven session that holds what is missing (a forged
 * source costs the forger its room, never a proven client's). Looks at EVICT_SCAN session slots
 * from a moving cursor and ends the one heard from longest ago (a storm of forged CONNECTs is
 * silent after its CONNECT; a publisher that never needs to prove itself keeps speaking). true
 * when one was ended. */
enum evict_need { EVICT_SESSION, EVICT_TOPICS, EVICT_SUBS };
static bool evict_unproven(struct broker *b, uint32_t spare, enum evict_need need)
{
	uint32_t cap = session_capacity(b->st);
	uint32_t victim = SESSION_NONE;
	uint64_t oldest = UINT64_MAX;
	for (uint32_t k = 0; k < EVICT_SCAN && k < cap; k++) {
		uint32_t si = b->evict_cursor;
		b->evict_cursor = si + 1 < cap ? si + 1 : 0;
		const struct mqttsn_session *s = session_get(b->st, si);
		if (s && !s->proven && si != spare && s->last_rx_ms < oldest &&
		    (need == EVICT_SESSION || (need == EVICT_TOPICS ? b->g[si].n_topics > 0 : b->g[si].n_subs > 0))) {
			victim = si;
			oldest = s->last_rx_ms;
		}
	}
	if (victim == SESSION_NONE)
		return false;
	session_drop(b, victim);
	ev(b, FO_EV_SESSION_EVICTED_UNPROVEN);
	return true;
}

/* A CleanSession=0 CONNECT took the session back with the client's topic ids (6.3), but the
 * client may be a new process that lost its table, and 6.10 names this case for a gateway
 * REGISTER: every id it knows is REGISTERed again (same id, its name) before the next copy under
 * it goes out, and a copy in flight under it is not sent again before that REGACK. Lazily: each
 * REGISTER goes with the first copy that needs it, not all of them with the CONNACK. An id whose
 * REGISTER of ours is still unanswered is named by its resends anyway; refused ones stay refused,
 * predefined ids and short names are not in the map. */
static void ids_kept(struct broker *b, uint32_t si)
{
	struct mqttsn_session *s = session_get(b->st, si);
	for (uint32_t me = s->map_head; me != SESSION_NONE; me = ctmap_get(b->st, me)->next) {
		struct ctmap_entry *e = ctmap_get(b->st, me);
		if (e->reg_msg_id == 0)
			e->reg_msg_id = CTMAP_UNANNOUNCED;
	}
	for (uint32_t x = s->inflight_head; x != INFLIGHT_NONE; x = inflight_get(b->inf, x)->s_next) {
		struct inflight_entry *e = inflight_get(b->inf, x);
		if ((e->flags & INFLIGHT_PUBREL) || (e->flags & MQTTSN_FLAG_TOPIC_MASK) != MQTTSN_TOPIC_NORMAL)
			continue; /* a PUBREL names no topic */
		uint32_t me = ctmap_find(b->st, si, e->topic_id);
		if (me != SESSION_NONE && ctmap_get(b->st, me)->reg_msg_id != CTMAP_REFUSED)
			e->flags |= INFLIGHT_WAIT_REG;
	}
}

/* The CONNECT is complete (with its will, when it asked for one): CONNACK, then what waited for
 * the client. */
static void connect_done(struct broker *b, uint32_t si, const struct fo_client *from)
{
	struct mqttsn_session *s = session_get(b->st, si);
	struct guard *g = &b->g[si];
	if (!s->proven && s->sub_head != SUB_NONE) {
		/* A resumed session with subscriptions at an unproven address: the CONNACK at once (6.2,
		 * 6.3), then the proof REGISTER (6.10 names this case for a gateway REGISTER); its copies
		 * wait for the echo. The one message answered twice: both replies fit the 60-byte
		 * minimum frame the CONNECT came in. */
		g->resume_held = true;
		send_rc_only(b, from, MQTTSN_CONNACK, MQTTSN_RC_ACCEPTED);
		send_proof(b, si, from);
		return;
	}
	send_rc_only(b, from, MQTTSN_CONNACK, MQTTSN_RC_ACCEPTED);
	resume_deliveries(b, si);
}

static void on_connect(struct broker *b, const struct fo_client *from, const struct mqttsn_msg *m, uint64_t now,
		       struct broker_result *res)
{
	const uint8_t *cid = m->u.connect.client_id;
	uint16_t clen = m->u.connect.client_id_len;
	uint16_t ka = m->u.connect.duration;
	bool will = (m->u.connect.flags & MQTTSN_FLAG_WILL) != 0;
	if ((will && b->cfg.max_wills == 0) || clen > SESSION_CLIENT_ID_MAX) {
		/* Wills off: accepting would silently lose the will (spec 6.3 lets the gateway
		 * reject with "not supported"). */
		ev(b, FO_EV_CONNECT_REJECTED_UNSUPPORTED);
		set_answered(res, send_rc_only(b, from, MQTTSN_CONNACK, MQTTSN_RC_NOT_SUPPORTED));
		return;
	}
	if (ka == 0 ? b->cfg.refuse_keepalive_zero
		    : ka < b->cfg.keepalive_min_s || (b->cfg.keepalive_max_s && ka > b->cfg.keepalive_max_s)) {
		/* A session that never expires would be fed forever once its owner is gone. */
		ev(b, FO_EV_CONNECT_REJECTED_KEEPALIVE);
		set_answered(res, send_rc_only(b, from, MQTTSN_CONNACK, MQTTSN_RC_NOT_SUPPORTED));
		return;
	}
	const struct broker_config *gc = b->io.client_config ? b->io.client_config(b->io.ctx, res->client_hash) : NULL;
	const struct broker_admission *rule;
	enum broker_admit adm = broker_admit(gc ? gc : &b->cfg, cid, clen, from->ip, from->v6 ? from->ip6 : NULL,
					     &rule);
	if (adm != BROKER_ADMIT_OK) {
		ev(b,
		   adm == BROKER_ADMIT_UNLISTED ? FO_EV_CONNECT_REJECTED_UNLISTED : FO_EV_CONNECT_REJECTED_ADMISSION);
		set_answered(res, send_rc_only(b, from, MQTTSN_CONNACK, MQTTSN_RC_NOT_SUPPORTED));
		return;
	}
	bool clean = (m->u.connect.flags & MQTTSN_FLAG_CLEAN) != 0;
	struct session_addr fa = addr_of_client(from);
	uint32_t sa = session_find_addr(b->st, &fa);
	uint32_t si = session_find_client_id(b->st, cid, (uint8_t)clen);
	if (si != SESSION_NONE && si != sa) {
		const struct mqttsn_session *o = session_get(b->st, si);
		if (!same_source(o, from) && o->proven && !rule) {
			/* A live client id from another host: without an admission rule that binds the id
			 * to this source, the owner keeps it (anyone can write any ClientId). */
			ev(b, FO_EV_CONNECT_REJECTED_OWNER);
			set_answered(res, send_rc_only(b, from, MQTTSN_CONNACK, MQTTSN_RC_NOT_SUPPORTED));
			return;
		}
		if (!same_source(o, from) && !o->proven)
			clean = true; /* nothing proven to hand over: start afresh */
	}
	if (si == SESSION_NONE && clen > 0 && b->io.connect_elsewhere && !b->claimed &&
	    b->io.connect_elsewhere(b->io.ctx, cid, (uint8_t)clen)) {
		/* Another worker may hold the ClientId: the stage claims it, then hands this CONNECT back. */
		b->ho_at = *from;
		res->handover_at = &b->ho_at;
		res->handover = true;
		res->handover_clean = clean;
		res->handover_bound = rule != NULL;
		res->client_id = cid;
		res->client_id_len = (uint8_t)clen;
		return;
	}
	if (will && b->will_free == WILL_NONE && (clean || si == SESSION_NONE || !will_get(b, si))) {
		ev(b, FO_EV_WILL_REJECTED); /* no slot for the will it is about to send */
		set_answered(res, send_rc_only(b, from, MQTTSN_CONNACK, MQTTSN_RC_CONGESTION));
		return;
	}
	/* A session more at this IP: a new one, or a ClientId taken over from another IP. */
	bool adds = sa == SESSION_NONE && (si == SESSION_NONE || !same_source(session_get(b->st, si), from));
	if (adds && b->cfg.sessions_per_source && ipq_count(b, from->ip) >= b->cfg.sessions_per_source) {
		ev(b, FO_EV_CONNECT_REJECTED_QUOTA);
		set_answered(res, send_rc_only(b, from, MQTTSN_CONNACK, MQTTSN_RC_CONGESTION));
		return;
	}
	bool replaced = false;
	if (sa != SESSION_NONE && sa != si) {
		/* Another client id used to live at this address: that client is gone. */
		session_drop(b, sa);
		replaced = true;
	}
	uint32_t keep = SESSION_NONE;
	bool moved = false, kept = false;
	if (si != SESSION_NONE) {
		replaced = true;
		const struct mqttsn_session *o = session_get(b->st, si);
		bool same_addr = sa == si; /* address, port and node id */
		uint32_t old_ip = o->ip;
		if (clean) {
			session_drop(b, si);
		} else if (same_addr) {
			keep = si; /* the same address again: its proof stands */
			kept = true;
		} else if (session_move(b->st, si, &fa, from->ifindex) == 0) {
			keep = si; /* clean=0: subscriptions, topic map and QoS 1 state follow the client */
			moved = kept = true;
			ipq_dec(b, old_ip);
			ipq_inc(b, from->ip);
		} else {
			session_drop(b, si); /* cannot happen: the address was freed above */
		}
	}
	if (keep == SESSION_NONE) {
		keep = session_alloc(b->st, &fa, from->ifindex, cid, (uint8_t)clen);
		if (keep == SESSION_NONE && evict_unproven(b, SESSION_NONE, EVICT_SESSION))
			keep = session_alloc(b->st, &fa, from->ifindex, cid, (uint8_t)clen);
		if (keep == SESSION_NONE) {
			ev(b, from->node_len && session_nodes_full(b->st) ? FO_EV_FORWARDED_NODES_FULL
									  : FO_EV_CONNECT_REJECTED_CONGESTION);
			set_answered(res, send_rc_only(b, from, MQTTSN_CONNACK, MQTTSN_RC_CONGESTION));
			return;
		}
		ipq_inc(b, from->ip);
		b->rxm[keep] = (struct rx_mids){ 0 }; /* a new session remembers no publishes */
		b->g[keep] = (struct guard){ 0 };
		session_get(b->st, keep)->proven = !b->cfg.address_proof;
		session_get(b->st, keep)->paused = 0;
	}
	if (replaced)
		ev(b, FO_EV_SESSION_REPLACED);
	struct mqttsn_session *s = session_get(b->st, keep);
	struct guard *g = &b->g[keep];
	if (s->state != SESSION_ACTIVE)
		ev(b, FO_EV_SESSION_RESUMED);
	s->keepalive_s = ka;
	s->last_rx_ms = now;
	s->paused = 0;
	s->state = SESSION_ACTIVE;
	s->persistent = !clean;
	ev(b, FO_EV_CONNECT_ACCEPTED);
	if (moved && b->cfg.address_proof) {
		/* A new address for a live session: nothing goes there until it proves itself. */
		s->proven = 0;
		g->proof_mid = g->proof_tid = 0;
		g->proof_out = false;
		g->n_held = 0;
	}
	g->resume_held = false;
	g->wake_held = 0;
	if (kept) {
		ids_kept(b, keep);
		if (s->proven && g->regs_pending > 0) {
			g->since_ms = (uint32_t)b->clock_ms; /* it is back: the REGISTER patience starts again */
			g->reg_resends = 0;
		}
	}
	set_delivered(res);
	if (will) {
		/* Spec 6.2: prompt for the will; the CONNACK answers its WILLMSG (or an empty
		 * WILLTOPIC). A stored will stays until the new one replaces it (6.3). */
		struct will_slot *w = will_slot(b, keep);
		if (!w) { /* cannot happen: a slot was checked for above */
			ev(b, FO_EV_WILL_REJECTED);
			send_rc_only(b, from, MQTTSN_CONNACK, MQTTSN_RC_CONGESTION);
			return;
		}
		w->stage = WILL_WAIT_TOPIC;
		send_empty(b, from, MQTTSN_WILLTOPICREQ);
		return;
	}
	connect_done(b, keep, from);
}

static void on_register(struct broker *b, uint32_t si, const struct fo_client *from, const struct mqttsn_msg *m,
			struct broker_result *res)
{
	const uint8_t *name = m->u.reg.topic_name;
	uint16_t len = m->u.reg.topic_name_len;
	uint16_t mid = m->u.reg.msg_id;
	uint8_t rc;
	if (!topic_name_valid(name, len, b->cfg.max_topic_len)) {
		/* v1.2 has no "invalid name" code; "invalid topic id" is about ids, so a name we
		 * will not take (wildcards, NUL, too long) is "not supported". */
		rc = MQTTSN_RC_NOT_SUPPORTED;
		goto reject;
	}
	uint32_t id = topic_registry_intern(b->reg, TOPIC_KIND_NAME, name, len);
	if (id == TOPIC_NONE && evict_unproven(b, si, EVICT_TOPICS))
		id = topic_registry_intern(b->reg, TOPIC_KIND_NAME, name, len);
	if (id == TOPIC_NONE) {
		rc = MQTTSN_RC_CONGESTION;
		goto reject;
	}
	if (b->cfg.topics_per_session && b->g[si].n_topics >= b->cfg.topics_per_session &&
	    ctmap_find_topic(b->st, si, id) == SESSION_NONE) {
		topic_registry_drop_unused(b->reg, id);
		ev(b, FO_EV_REGISTER_REJECTED_QUOTA);
		rc = MQTTSN_RC_CONGESTION;
		goto reject;
	}
	bool created;
	uint32_t me = map_add(b, si, id, &created);
	if (me == SESSION_NONE && evict_unproven(b, si, EVICT_TOPICS)) {
		/* The evicted session may have held the last reference to the name: intern it again. */
		id = topic_registry_intern(b->reg, TOPIC_KIND_NAME, name, len);
		me = id == TOPIC_NONE ? SESSION_NONE : map_add(b, si, id, &created);
	}
	if (me == SESSION_NONE) {
		topic_registry_drop_unused(b->reg, id);
		rc = MQTTSN_RC_CONGESTION;
		goto reject;
	}
	if (created)
		topic_registry_ref(b->reg, id);
	map_known(b, si, me); /* the client knows the id now */
	ev(b, FO_EV_REGISTER_ACCEPTED);
	send_regack(b, from, ctmap_get(b->st, me)->tid, mid, MQTTSN_RC_ACCEPTED);
	held_flush(b, si, me); /* copies that waited for our REGISTER of the name follow */
	set_delivered(res);
	return;
reject:
	ev(b, FO_EV_REGISTER_REJECTED);
	set_answered(res, send_regack(b, from, 0, mid, rc));
}

/* The name a PUBLISH refers to, from the sender's point of view; false when the
 * sender may not use that id. si may be SESSION_NONE (QoS -1). */
/* The registry entry of a predefined name (TOPIC_NONE: this worker holds none), as
 * topic_registry_find() answers, without hashing the name for every publish: the entry remembered
 * for the topic id is used when it is still a live name entry with these very bytes (a name has
 * one live entry), else the registry is asked and the answer remembered. */
static uint32_t pre_registry_entry(struct broker *b, uint16_t tid, const uint8_t *name, uint16_t len)
{
	unsigned i = tid & (PRE_REG_SLOTS - 1);
	uint32_t e = b->pre_reg[i].entry;
	if (b->pre_reg[i].name == name && e != TOPIC_NONE && topic_registry_live(b->reg, TOPIC_KIND_NAME, e)) {
		uint16_t rlen;
		const uint8_t *rname = topic_registry_name(b->reg, e, &rlen);
		if (rlen == len && memcmp(rname, name, len) == 0)
			return e;
	}
	e = topic_registry_find(b->reg, TOPIC_KIND_NAME, name, len);
	b->pre_reg[i].name = name;
	b->pre_reg[i].entry = e;
	return e;
}

static bool resolve_publish_topic(struct broker *b, uint32_t si, uint8_t ttype, uint16_t tid, const uint8_t **name,
				  uint16_t *len, uint32_t *entry)
{
	uint32_t me;
	switch (ttype) {
	case MQTTSN_TOPIC_NORMAL:
		if (si == SESSION_NONE || (me = ctmap_find(b->st, si, tid)) == SESSION_NONE)
			return false;
		*entry = ctmap_get(b->st, me)->topic;
		if (!topic_registry_live(b->reg, TOPIC_KIND_NAME, *entry))
			return false;
		*name = topic_registry_name(b->reg, *entry, len);
		return true;
	case MQTTSN_TOPIC_PREDEFINED:
		/* By the sender's own table: its generation's, and its rule's (ClientId) */
		b->pre_table = sender_predef(b, si);
		*name = predef_name(b->pre_table, tid, len, &b->pre_hash);
		b->pre_name = *name;
		b->pre_id = tid;
		if (!*name)
			return false;
		*entry = pre_registry_entry(b, tid, *name, *len);
		return true;
	case MQTTSN_TOPIC_SHORT:
		b->short_name[0] = (uint8_t)(tid >> 8);
		b->short_name[1] = (uint8_t)tid;
		if (!topic_name_valid(b->short_name, 2, b->cfg.max_topic_len))
			return false;
		*name = b->short_name;
		*len = 2;
		*entry = topic_registry_find(b->reg, TOPIC_KIND_NAME, b->short_name, 2);
		return true;
	default: return false;
	}
}

/* Returns the PUBACK return code the stage chose (or BROKER_PUBACK_DEFERRED). */
static int accept_publish(struct broker *b, const struct fo_client *from, uint32_t si, const struct mqttsn_msg *m,
			  const uint8_t *name, uint16_t len, uint32_t entry, int qos, void *payload,
			  struct broker_result *res)
{
	uint16_t plen = m->u.publish.data_len;
	b->io.payload_bind(b->io.ctx, payload, m->u.publish.data, plen);
	uint32_t held;
	uint32_t local = fan_out(b, name, len, entry, qos, payload, plen, &held);
	bool retain = (m->u.publish.flags & MQTTSN_FLAG_RETAIN) != 0;
	if (retain)
		retain_publish(b, name, len, qos, payload, plen);
	res->retain = retain;
	res->published = true;
	res->topic = name;
	res->topic_len = len;
	res->qos = (int8_t)qos;
	res->payload_len = plen;
	res->local_deliveries = local;
	res->msg_id = m->u.publish.msg_id;
	res->topic_id = m->u.publish.topic_id;
	if (si != SESSION_NONE) {
		const struct mqttsn_session *s = session_get(b->st, si);
		res->client_id = s->client_id;
		res->client_id_len = s->client_id_len;
	}
	ev(b, FO_EV_PUBLISH_ACCEPTED);
	if (local == 0 && held == 0)
		ev(b, FO_EV_PUBLISH_NO_MATCH);
	set_delivered(res);
	return b->io.published ? b->io.published(b->io.ctx, from, res) : MQTTSN_RC_ACCEPTED;
}

static void on_publish_m1(struct broker *b, uint32_t si, const struct fo_client *from, const struct mqttsn_msg *m,
			  void *payload, struct broker_result *res)
{
	uint8_t ttype = m->u.publish.flags & MQTTSN_FLAG_TOPIC_MASK;
	const uint8_t *name;
	uint16_t len;
	uint32_t entry;
	/* QoS -1 is for predefined ids and short names only (spec 6.8): there is no
	 * connection to hold a map, and no reply exists to say the id is wrong. */
	if ((ttype != MQTTSN_TOPIC_PREDEFINED && ttype != MQTTSN_TOPIC_SHORT) ||
	    !resolve_publish_topic(b, si, ttype, m->u.publish.topic_id, &name, &len, &entry)) {
		set_drop(res, FO_DROP_MQTTSN_BAD_TOPIC);
		return;
	}
	ev(b, FO_EV_PUBLISH_QOS_M1);
	accept_publish(b, from, si, m, name, len, entry, -1, payload, res);
}

/* The slot of msg id mid among the session's remembered QoS 1 publishes, or -1. */
static int rx_mid_find(const struct rx_mids *s, uint16_t mid)
{
	if (mid == 0)
		return -1;
	for (int i = 0; i < RX_MIDS; i++)
		if (s->mid[i] == mid)
			return i;
	return -1;
}

/* The next slot to remember a publish in (round robin over those not pinned by QoS 2), or -1. */
static int rx_mid_slot(struct rx_mids *s)
{
	for (int k = 0; k < RX_MIDS; k++) {
		int i = s->next;
		s->next = (uint8_t)((s->next + 1) % RX_MIDS);
		if (!(s->qos2 & (1u << i))) {
			s->pending &= (uint8_t) ~(1u << i);
			return i;
		}
	}
	return -1;
}

/* Remember (or forget) how a QoS 1 publish was answered: accepted, deferred, or refused. */
static void rx_mid_note(struct rx_mids *s, uint16_t mid, int rc)
{
	int i = rx_mid_find(s, mid);
	if (rc != MQTTSN_RC_ACCEPTED && rc != BROKER_PUBACK_DEFERRED) {
		if (i >= 0) /* refused: a resend is a new attempt */
			s->mid[i] = 0;
		return;
	}
	if (i < 0 && mid != 0) {
		i = rx_mid_slot(s);
		if (i >= 0)
			s->mid[i] = mid;
	}
	if (i < 0)
		return;
	if (rc == BROKER_PUBACK_DEFERRED)
		s->pending |= (uint8_t)(1u << i);
	else
		s->pending &= (uint8_t) ~(1u << i);
}

static void on_publish(struct broker *b, uint32_t si, const struct fo_client *from, const struct mqttsn_msg *m,
		       void *payload, struct broker_result *res)
{
	uint8_t flags = m->u.publish.flags;
	int qos = mqttsn_flags_qos(flags);
	uint16_t tid = m->u.publish.topic_id, mid = m->u.publish.msg_id;
	struct rx_mids *s = &b->rxm[si];
	if (qos == 1 && (flags & MQTTSN_FLAG_DUP)) {
		/* A resend of a publish we accepted: our PUBACK was lost (or is still due). It was
		 * delivered and routed once; answer it again, deliver it no more (MQTT-SN 1.2 6.5 leaves
		 * QoS 1 at least once; this keeps a lost PUBACK from duplicating it). */
		int i = rx_mid_find(s, mid);
		if (i >= 0) {
			ev(b, FO_EV_PUBLISH_DUP_SUPPRESSED);
			if (s->pending & (1u << i)) {
				set_drop(res, FO_DROP_MQTTSN_DUP_PENDING); /* the deferred PUBACK answers it */
				return;
			}
			set_answered(res, send_puback(b, from, tid, mid, MQTTSN_RC_ACCEPTED));
			return;
		}
	}
	int q2 = -1; /* QoS 2: the slot that keeps its MsgId until PUBREL */
	if (qos == 2) {
		int i = rx_mid_find(s, mid);
		if (i >= 0 && (s->qos2 & (1u << i))) {
			/* Received before and not released: PUBREC again, no second delivery. */
			ev(b, FO_EV_PUBLISH_DUP_SUPPRESSED);
			set_answered(res, send_pubx(b, from, MQTTSN_PUBREC, mid));
			return;
		}
		if (mid == 0) { /* nothing to release it by */
			ev(b, FO_EV_QOS2_NO_MSG_ID);
			res->error_reply = true;
			set_answered(res, send_puback(b, from, tid, mid, MQTTSN_RC_NOT_SUPPORTED));
			return;
		}
		if ((q2 = i >= 0 ? i : rx_mid_slot(s)) < 0) {
			/* Every slot awaits a PUBREL: the client must release one first. */
			ev(b, FO_EV_QOS2_RX_FULL);
			res->error_reply = true;
			set_answered(res, send_puback(b, from, tid, mid, MQTTSN_RC_CONGESTION));
			return;
		}
	}
	const uint8_t *name;
	uint16_t len;
	uint32_t entry;
	if (!resolve_publish_topic(b, si, flags & MQTTSN_FLAG_TOPIC_MASK, tid, &name, &len, &entry)) {
		/* Also for QoS 0: the spec's PUBACK "invalid topic id" is how the client learns
		 * its map is out of date (spec 6.5). */
		ev(b, FO_EV_PUBLISH_INVALID_TOPIC);
		set_answered(res, send_puback(b, from, tid, mid, MQTTSN_RC_INVALID_TOPIC_ID));
		return;
	}
	int rc = accept_publish(b, from, si, m, name, len, entry, qos, payload, res);
	if (qos == 1) {
		rx_mid_note(s, mid, rc);
		if (rc != BROKER_PUBACK_DEFERRED)
			send_puback(b, from, tid, mid, (uint8_t)rc);
	} else if (qos == 2) {
		/* Delivered now, once; the MsgId stays until PUBREL (spec 6.6, MQTT's second method). */
		s->mid[q2] = mid;
		s->qos2 |= (uint8_t)(1u << q2);
		ev(b, FO_EV_QOS2_RECEIVED);
		send_pubx(b, from, MQTTSN_PUBREC, mid);
	}
}

/* PUBREL of a QoS 2 publish from the client: its MsgId is free again; PUBCOMP either way (a
 * PUBREL resent after our PUBCOMP was lost finds nothing and is answered the same). */
static void on_pubrel(struct broker *b, uint32_t si, const struct fo_client *from, const struct mqttsn_msg *m,
		      struct broker_result *res)
{
	struct rx_mids *s = &b->rxm[si];
	uint16_t mid = m->u.pubx.msg_id;
	int i = rx_mid_find(s, mid);
	if (i >= 0 && (s->qos2 & (1u << i))) {
		s->qos2 &= (uint8_t) ~(1u << i);
		s->mid[i] = 0;
		ev(b, FO_EV_QOS2_RELEASED);
		set_delivered(res);
		send_pubx(b, from, MQTTSN_PUBCOMP, mid);
		return;
	}
	set_answered(res, send_pubx(b, from, MQTTSN_PUBCOMP, mid));
}

/* PUBREC of a QoS 2 copy we sent: it has the message; PUBREL, then PUBCOMP ends it. The payload is
 * not needed any more. A PUBREC repeated (our PUBREL lost) gets the PUBREL again. */
static void on_pubrec(struct broker *b, uint32_t si, const struct mqttsn_msg *m, struct broker_result *res)
{
	struct mqttsn_session *s = session_get(b->st, si);
	uint16_t mid = m->u.pubx.msg_id;
	uint32_t x = inflight_find(b->inf, s->inflight_head, mid);
	struct inflight_entry *e = x != INFLIGHT_NONE ? inflight_get(b->inf, x) : NULL;
	if (!e || mqttsn_flags_qos(e->flags & MQTTSN_FLAG_QOS_MASK) != 2) {
		set_drop(res, FO_DROP_MQTTSN_STALE_ACK);
		return;
	}
	if (!(e->flags & INFLIGHT_PUBREL)) {
		e->flags = (uint8_t)((e->flags & ~INFLIGHT_WAIT_REG) | INFLIGHT_PUBREL); /* PUBREL names no topic */
		b->n_pubrel++;
		if (e->payload)
			b->io.payload_release(b->io.ctx, e->payload);
		e->payload = NULL;
		e->retries = 0;
		b->g[si].giveups = 0;
	}
	inflight_requeue(b->inf, x, b->clock_ms + b->cfg.retry_interval_ms);
	struct fo_client to;
	client_of(b, s, &to);
	send_pubx(b, &to, MQTTSN_PUBREL, mid);
	set_delivered(res);
}

static void on_pubcomp(struct broker *b, uint32_t si, const struct mqttsn_msg *m, struct broker_result *res)
{
	struct mqttsn_session *s = session_get(b->st, si);
	uint32_t x = inflight_find(b->inf, s->inflight_head, m->u.pubx.msg_id);
	if (x == INFLIGHT_NONE || !(inflight_get(b->inf, x)->flags & INFLIGHT_PUBREL)) {
		set_drop(res, FO_DROP_MQTTSN_STALE_ACK);
		return;
	}
	inflight_drop(b, s, x);
	b->g[si].giveups = 0;
	ev(b, FO_EV_QOS2_COMPLETED);
	set_delivered(res);
}

static void on_puback(struct broker *b, uint32_t si, const struct mqttsn_msg *m, struct broker_result *res)
{
	struct mqttsn_session *s = session_get(b->st, si);
	uint16_t tid = m->u.puback.topic_id;
	bool applied = false, normal = true;
	uint32_t x = inflight_find(b->inf, s->inflight_head, m->u.puback.msg_id);
	if (x != INFLIGHT_NONE && mqttsn_flags_qos(inflight_get(b->inf, x)->flags & MQTTSN_FLAG_QOS_MASK) == 2 &&
	    m->u.puback.return_code == MQTTSN_RC_ACCEPTED)
		x = INFLIGHT_NONE; /* a QoS 2 copy is acknowledged by PUBREC, not PUBACK */
	if (x != INFLIGHT_NONE) {
		normal = (inflight_get(b->inf, x)->flags & MQTTSN_FLAG_TOPIC_MASK) == MQTTSN_TOPIC_NORMAL;
		inflight_drop(b, s, x);
		ev(b, FO_EV_QOS1_ACKED);
		b->g[si].giveups = 0;
		applied = true;
	}
	if (m->u.puback.return_code == MQTTSN_RC_INVALID_TOPIC_ID && normal) {
		/* The client lost (or never got) our REGISTER: forget the mapping so the next
		 * publish on that topic registers it again (a refusal stands). */
		uint32_t me = ctmap_find(b->st, si, tid);
		if (me != SESSION_NONE && ctmap_get(b->st, me)->reg_msg_id != CTMAP_REFUSED) {
			map_drop(b, me);
			applied = true;
		}
	}
	if (applied)
		set_delivered(res);
	else
		set_drop(res, FO_DROP_MQTTSN_STALE_ACK);
}

static void on_regack(struct broker *b, uint32_t si, const struct fo_client *from, const struct mqttsn_msg *m,
		      struct broker_result *res)
{
	struct guard *g = &b->g[si];
	if (g->proof_mid != 0) {
		if (m->u.regack.msg_id == g->proof_mid && m->u.regack.topic_id == g->proof_tid) {
			/* Whatever its return code: it echoed what only the address could have seen. */
			prove(b, si, from);
			set_delivered(res);
			awake_done(b, si); /* a wake that waited for the proof: PINGRESP after the flush */
			return;
		}
		if (!session_get(b->st, si)->proven) {
			ev(b, FO_EV_PROOF_MISMATCH);
			set_drop(res, FO_DROP_MQTTSN_UNPROVEN);
			if (++g->mismatches >= PROOF_MISMATCH_MAX) {
				session_drop(b, si); /* guessing */
				ev(b, FO_EV_SESSION_UNPROVEN_EXPIRED);
			}
			return;
		}
	}
	uint32_t me = ctmap_find(b->st, si, m->u.regack.topic_id);
	struct ctmap_entry *e = me != SESSION_NONE ? ctmap_get(b->st, me) : NULL;
	if (!e || e->reg_msg_id == 0 || e->reg_msg_id >= CTMAP_UNANNOUNCED || e->reg_msg_id != m->u.regack.msg_id) {
		set_drop(res, FO_DROP_MQTTSN_STALE_ACK);
		return;
	}
	g->giveups = 0;
	g->since_ms = (uint32_t)b->clock_ms; /* it answers: the REGISTER patience starts again */
	g->reg_resends = 0;
	if (g->regs_pending > 0)
		g->regs_pending--;
	if (m->u.regack.return_code == MQTTSN_RC_ACCEPTED) {
		e->reg_msg_id = 0;
		held_flush(b, si, me); /* the PUBLISHes that waited for it (spec 6.10) */
	} else if (g->n_refused < REFUSALS_MAX) {
		/* Refused: as if the client unsubscribed from that name (spec 6.10). The entry stays as
		 * the marker, without a usable id, until a SUBSCRIBE/UNSUBSCRIBE of a matching filter or
		 * the session's end. */
		e->reg_msg_id = CTMAP_REFUSED;
		g->n_refused++;
		held_discard(b, si, me);
		inflight_waiting(b, si, m->u.regack.topic_id, false);
		ev(b, FO_EV_TOPIC_REFUSED);
	} else {
		e->reg_msg_id = 0; /* no longer pending (counted above) */
		map_drop(b, me);
		inflight_waiting(b, si, m->u.regack.topic_id, false);
		ev(b, FO_EV_TOPIC_REFUSALS_FULL);
	}
	set_delivered(res);
	awake_done(b, si);
}

/* The registry entry a SUBSCRIBE/UNSUBSCRIBE names. intern creates it (SUBSCRIBE).
 * Returns an MQTT-SN return code; *ack_tid is the SUBACK topic id. */
static uint8_t resolve_filter(struct broker *b, uint32_t si, const struct mqttsn_msg *m, bool intern, uint32_t *entry,
			      bool *wild, uint16_t *ack_tid)
{
	uint8_t ttype = m->u.subscribe.flags & MQTTSN_FLAG_TOPIC_MASK;
	const uint8_t *f;
	uint16_t flen;
	*entry = TOPIC_NONE;
	*wild = false;
	*ack_tid = 0;
	switch (ttype) {
	case MQTTSN_TOPIC_PREDEFINED:
		/* The subscriber's own table names it; the subscription is by name, so a later
		 * generation's table decides the id its copies carry. */
		f = predef_name(sender_predef(b, si), m->u.subscribe.topic_id, &flen, NULL);
		if (!f)
			return MQTTSN_RC_INVALID_TOPIC_ID;
		*ack_tid = m->u.subscribe.topic_id;
		break;
	case MQTTSN_TOPIC_SHORT:
		b->short_name[0] = (uint8_t)(m->u.subscribe.topic_id >> 8);
		b->short_name[1] = (uint8_t)m->u.subscribe.topic_id;
		f = b->short_name;
		flen = 2;
		/* A short name is carried in the topic id field: a bad one is a bad id. */
		if (!topic_filter_valid(f, flen, b->cfg.max_topic_len))
			return MQTTSN_RC_INVALID_TOPIC_ID;
		break;
	case MQTTSN_TOPIC_NORMAL:
		f = m->u.subscribe.topic_name;
		flen = m->u.subscribe.topic_name_len;
		/* Same choice as REGISTER: a filter we cannot take is "not supported". */
		if (!topic_filter_valid(f, flen, b->cfg.max_topic_len))
			return MQTTSN_RC_NOT_SUPPORTED;
		break;
	default: return MQTTSN_RC_INVALID_TOPIC_ID;
	}
	*wild = topic_filter_is_wildcard(f, flen);
	enum topic_kind kind = *wild ? TOPIC_KIND_FILTER : TOPIC_KIND_NAME;
	*entry = intern ? topic_registry_intern(b->reg, kind, f, flen) : topic_registry_find(b->reg, kind, f, flen);
	if (*entry == TOPIC_NONE)
		return MQTTSN_RC_CONGESTION;
	/* Spec 5.4.16: the SUBACK id is only relevant for a normal name without wildcards; it
	 * is the client's own id for the name, which on_subscribe() fills in from its map. */
	return MQTTSN_RC_ACCEPTED;
}

static void on_subscribe(struct broker *b, uint32_t si, const struct fo_client *from, const struct mqttsn_msg *m,
			 struct broker_result *res)
{
	struct mqttsn_session *s = session_get(b->st, si);
	uint16_t mid = m->u.subscribe.msg_id;
	/* QoS -1 is a publish-only level (no connection), so a subscription asking for it gets 0. */
	int granted = mqttsn_flags_qos(m->u.subscribe.flags);
	granted = granted < 0 ? 0 : granted;
	struct guard *g = &b->g[si];
	uint32_t entry;
	uint16_t ack_tid;
	bool wild;
	uint8_t rc;
	bool unproven = !s->proven;
	int held = -1; /* the slot of this MsgId among the SUBACKs waiting for the proof */
	if (unproven) {
		for (uint8_t i = 0; i < g->n_held; i++)
			if (g->held[i].mid == mid)
				held = i;
		if (held < 0 && g->n_held >= HELD_SUBACKS) {
			ev(b, FO_EV_SUBSCRIBE_REJECTED_QUOTA); /* a burst of SUBSCRIBEs before any proof */
			rc = MQTTSN_RC_CONGESTION;
			goto reject;
		}
	}
	if ((m->u.subscribe.flags & MQTTSN_FLAG_TOPIC_MASK) == MQTTSN_TOPIC_NORMAL && b->cfg.max_filter_levels) {
		uint32_t levels = 1;
		for (uint16_t i = 0; i < m->u.subscribe.topic_name_len; i++)
			levels += m->u.subscribe.topic_name[i] == '/';
		if (levels > b->cfg.max_filter_levels) {
			ev(b, FO_EV_SUBSCRIBE_REJECTED_DEPTH);
			rc = MQTTSN_RC_NOT_SUPPORTED;
			goto reject;
		}
	}
	rc = resolve_filter(b, si, m, true, &entry, &wild, &ack_tid);
	if (rc == MQTTSN_RC_CONGESTION && evict_unproven(b, si, EVICT_TOPICS))
		rc = resolve_filter(b, si, m, true, &entry, &wild, &ack_tid);
	if (rc != MQTTSN_RC_ACCEPTED)
		goto reject;
	if (sub_find(b->subs, si, entry) == SUB_NONE &&
	    ((b->cfg.subscriptions_per_session && g->n_subs >= b->cfg.subscriptions_per_session) ||
	     (wild && b->cfg.wildcards_per_session && g->n_wild >= b->cfg.wildcards_per_session))) {
		topic_registry_drop_unused(b->reg, entry);
		ev(b, FO_EV_SUBSCRIBE_REJECTED_QUOTA);
		rc = MQTTSN_RC_CONGESTION;
		goto reject;
	}
	if ((m->u.subscribe.flags & MQTTSN_FLAG_TOPIC_MASK) == MQTTSN_TOPIC_NORMAL && !wild &&
	    b->cfg.topics_per_session && g->n_topics >= b->cfg.topics_per_session &&
	    ctmap_find_topic(b->st, si, entry) == SESSION_NONE) {
		topic_registry_drop_unused(b->reg, entry);
		ev(b, FO_EV_SUBSCRIBE_REJECTED_QUOTA);
		rc = MQTTSN_RC_CONGESTION;
		goto reject;
	}
	bool created;
	uint32_t flush_me = SESSION_NONE; /* the map entry of a name whose id the SUBACK hands over */
	uint32_t x = subs_add(b, s, si, entry, (uint8_t)granted, wild, &created);
	if (x == SUB_NONE && evict_unproven(b, si, EVICT_SUBS) &&
	    resolve_filter(b, si, m, true, &entry, &wild, &ack_tid) == MQTTSN_RC_ACCEPTED) /* entry may have gone */
		x = subs_add(b, s, si, entry, (uint8_t)granted, wild, &created);
	if (x == SUB_NONE) {
		topic_registry_drop_unused(b->reg, entry);
		rc = MQTTSN_RC_CONGESTION;
		goto reject;
	}
	if (created)
		topic_registry_ref(b->reg, entry);
	uint16_t pre_tid = 0;
	if ((m->u.subscribe.flags & MQTTSN_FLAG_TOPIC_MASK) == MQTTSN_TOPIC_NORMAL && !wild) {
		/* A name predefined for this client: its copies carry the predefined id
		 * (delivery_topic()), so that is the id the SUBACK hands over (spec 5.4.16: "the
		 * value that will be used as topic id by the gateway when sending PUBLISH"). */
		const uint8_t *nm = m->u.subscribe.topic_name;
		uint16_t nl = m->u.subscribe.topic_name_len;
		const struct predef_table *pt = sender_predef(b, si);
		pre_tid = pt ? predef_id(pt, nm, nl, predef_name_hash(nm, nl)) : 0;
		if (pre_tid)
			ack_tid = pre_tid;
	}
	if ((m->u.subscribe.flags & MQTTSN_FLAG_TOPIC_MASK) == MQTTSN_TOPIC_NORMAL && !wild && !pre_tid) {
		/* The SUBACK hands the client this id: it enters the client's map. */
		bool mcreated;
		uint32_t me = map_add(b, si, entry, &mcreated);
		if (me == SESSION_NONE) {
			if (created) {
				subs_remove(b, s, x);
				topic_registry_unref(b->reg, entry);
			}
			rc = MQTTSN_RC_CONGESTION;
			goto reject;
		}
		if (mcreated)
			topic_registry_ref(b->reg, entry);
		struct ctmap_entry *e = ctmap_get(b->st, me);
		if (e->reg_msg_id == CTMAP_REFUSED) { /* subscribing to the name ends its refusal */
			e->reg_msg_id = 0;
			g->n_refused--;
		}
		map_known(b, si, me);
		ack_tid = e->tid;
		flush_me = me;
	}
	refusals_clear(b, si, entry);
	ev(b, FO_EV_SUBSCRIBE_ACCEPTED);
	if (unproven) {
		/* The proof REGISTER answers it; the SUBACK answers the proof's echo (prove()). */
		if (held < 0)
			held = g->n_held++;
		g->held[held] = (struct held_suback){ .mid = mid, .tid = ack_tid };
		g->held_granted = (uint8_t)((g->held_granted & ~(3u << (2 * held))) | ((unsigned)granted & 3u)
											      << (2 * held));
		send_proof(b, si, from);
		if (flush_me != SESSION_NONE)
			held_flush(b, si, flush_me); /* drops them: nothing goes to an unproven address */
		set_delivered(res);
		return;
	}
	send_suback(b, from, granted, ack_tid, mid, MQTTSN_RC_ACCEPTED);
	if (flush_me != SESSION_NONE)
		held_flush(b, si, flush_me); /* copies that waited for our REGISTER of the name */
	send_retained(b, si, entry, wild, granted);
	set_delivered(res);
	return;
reject:
	ev(b, FO_EV_SUBSCRIBE_REJECTED);
	set_answered(res, send_suback(b, from, 0, 0, mid, rc));
}

static void on_unsubscribe(struct broker *b, uint32_t si, const struct fo_client *from, const struct mqttsn_msg *m,
			   struct broker_result *res)
{
	struct mqttsn_session *s = session_get(b->st, si);
	uint32_t entry;
	uint16_t ack_tid;
	bool wild, removed = false;
	if (resolve_filter(b, si, m, false, &entry, &wild, &ack_tid) == MQTTSN_RC_ACCEPTED) {
		uint32_t x = sub_find(b->subs, si, entry);
		if (x != SUB_NONE) {
			refusals_clear(b, si, entry); /* before the filter's entry may go */
			subs_remove(b, s, x);
			topic_registry_unref(b->reg, entry);
			removed = true;
		}
	}
	/* UNSUBACK has no return code: it is owed whether or not anything matched. */
	ev(b, FO_EV_UNSUBSCRIBE);
	struct mqttsn_msg r = { .type = MQTTSN_UNSUBACK };
	r.u.pubx.msg_id = m->u.subscribe.msg_id;
	int rc = send_msg(b, from, &r);
	if (removed)
		set_delivered(res);
	else
		set_answered(res, rc);
}

/* ---- will prompts and updates (spec 6.2-6.4) */

static void will_refused(struct broker *b, uint32_t si, const struct fo_client *from, struct broker_result *res)
{
	will_delete(b, si);
	ev(b, FO_EV_WILL_REJECTED);
	res->error_reply = true;
	set_answered(res, send_rc_only(b, from, MQTTSN_CONNACK, MQTTSN_RC_NOT_SUPPORTED));
}

static void on_willtopic(struct broker *b, uint32_t si, const struct fo_client *from, const struct mqttsn_msg *m,
			 struct broker_result *res)
{
	struct will_slot *w = will_get(b, si);
	if (!w || (w->stage != WILL_WAIT_TOPIC && w->stage != WILL_WAIT_MSG)) {
		set_drop(res, FO_DROP_MQTTSN_UNEXPECTED); /* not prompted for */
		return;
	}
	uint16_t tlen = m->u.willtopic.topic_len;
	if (tlen == 0) { /* empty: no will (spec 6.3), and the CONNACK now */
		will_delete(b, si);
		ev(b, FO_EV_WILL_DELETED);
		set_delivered(res);
		connect_done(b, si, from);
		return;
	}
	if (!will_fits(b, m->u.willtopic.topic, tlen, 0)) {
		will_refused(b, si, from, res);
		return;
	}
	/* A resend (our WILLMSGREQ was lost) sets the same again. */
	will_set_topic(b, si, w, m->u.willtopic.topic, tlen, m->u.willtopic.flags, false);
	w->stage = WILL_WAIT_MSG;
	set_delivered(res);
	send_empty(b, from, MQTTSN_WILLMSGREQ);
}

static void on_willmsg(struct broker *b, uint32_t si, const struct fo_client *from, const struct mqttsn_msg *m,
		       struct broker_result *res)
{
	struct will_slot *w = will_get(b, si);
	if (!w || w->stage != WILL_WAIT_MSG) {
		set_drop(res, FO_DROP_MQTTSN_UNEXPECTED);
		return;
	}
	if ((uint32_t)w->topic_len + m->u.willmsg.msg_len > b->cfg.will_max_bytes) {
		will_refused(b, si, from, res);
		return;
	}
	will_set_msg(b, si, w, m->u.willmsg.msg, m->u.willmsg.msg_len);
	w->stage = WILL_SET;
	ev(b, FO_EV_WILL_STORED);
	set_delivered(res);
	connect_done(b, si, from);
}

static void on_willtopicupd(struct broker *b, uint32_t si, const struct fo_client *from, const struct mqttsn_msg *m,
			    struct broker_result *res)
{
	uint16_t tlen = m->u.willtopic.topic_len;
	uint8_t rc = MQTTSN_RC_ACCEPTED;
	if (b->cfg.max_wills == 0) {
		rc = MQTTSN_RC_NOT_SUPPORTED;
	} else if (tlen == 0) { /* deletes topic and message (spec 6.4) */
		if (will_get(b, si))
			ev(b, FO_EV_WILL_DELETED);
		will_delete(b, si);
	} else {
		struct will_slot *w = will_get(b, si);
		uint16_t mlen = w && w->stage == WILL_SET ? w->msg_len : 0;
		if (!will_fits(b, m->u.willtopic.topic, tlen, mlen)) {
			rc = MQTTSN_RC_NOT_SUPPORTED;
		} else if (!(w = will_slot(b, si))) {
			rc = MQTTSN_RC_CONGESTION;
		} else {
			will_set_topic(b, si, w, m->u.willtopic.topic, tlen, m->u.willtopic.flags,
				       w->stage == WILL_SET);
			w->stage = WILL_SET;
			ev(b, FO_EV_WILL_STORED);
		}
	}
	if (rc != MQTTSN_RC_ACCEPTED) {
		if (b->cfg.max_wills)
			ev(b, FO_EV_WILL_REJECTED);
		res->error_reply = true;
		set_answered(res, send_rc_only(b, from, MQTTSN_WILLTOPICRESP, rc));
		return;
	}
	set_delivered(res);
	send_rc_only(b, from, MQTTSN_WILLTOPICRESP, rc);
}

static void on_willmsgupd(struct broker *b, uint32_t si, const struct fo_client *from, const struct mqttsn_msg *m,
			  struct broker_result *res)
{
	struct will_slot *w = will_get(b, si);
	uint8_t rc = MQTTSN_RC_ACCEPTED;
	if (b->cfg.max_wills == 0 || !w || w->stage != WILL_SET) {
		rc = MQTTSN_RC_NOT_SUPPORTED; /* no will topic to go with it */
	} else if ((uint32_t)w->topic_len + m->u.willmsg.msg_len > b->cfg.will_max_bytes) {
		rc = MQTTSN_RC_NOT_SUPPORTED;
	} else {
		will_set_msg(b, si, w, m->u.willmsg.msg, m->u.willmsg.msg_len);
		ev(b, FO_EV_WILL_STORED);
	}
	if (rc != MQTTSN_RC_ACCEPTED) {
		if (b->cfg.max_wills)
			ev(b, FO_EV_WILL_REJECTED);
		res->error_reply = true;
		set_answered(res, send_rc_only(b, from, MQTTSN_WILLMSGRESP, rc));
		return;
	}
	set_delivered(res);
	send_rc_only(b, from, MQTTSN_WILLMSGRESP, rc);
}

/* ---- sleeping clients (spec 6.14) */

/* moved: the session has just come to this address for this PINGREQ (wake_elsewhere, or a
 * hand-over from another worker). An unproven new address with something to deliver gets the
 * proof REGISTER as the PINGREQ's one reply (as a resumed CONNECT gets it); the flush and the
 * PINGRESP follow its echo (on_regack). */
static void on_pingreq(struct broker *b, uint32_t si, const struct fo_client *from, const struct mqttsn_msg *m,
		       bool moved, struct broker_result *res)
{
	struct mqttsn_session *s = session_get(b->st, si);
	struct guard *g = &b->g[si];
	uint16_t clen = m->u.pingreq.client_id_len;
	bool sleeping = s->state == SESSION_ASLEEP || s->state == SESSION_AWAKE;
	if (!sleeping || clen == 0 || clen != s->client_id_len || memcmp(m->u.pingreq.client_id, s->client_id, clen)) {
		/* A keep alive (a PINGREQ with another client's id wakes nobody). */
		set_answered(res, send_empty(b, from, MQTTSN_PINGRESP));
		return;
	}
	s->state = SESSION_AWAKE;
	ev(b, FO_EV_SESSION_AWAKE);
	if (moved)
		ev(b, FO_EV_SESSION_WAKE_MOVED);
	set_delivered(res);
	if ((moved || g->wake_held) && !s->proven &&
	    (s->sub_head != SUB_NONE || g->n_pubs > 0 || s->inflight_head != INFLIGHT_NONE)) {
		g->wake_held = 1; /* a resent PINGREQ gets the same proof again */
		send_proof(b, si, from);
		return;
	}
	resume_deliveries(b, si);
	awake_done(b, si);
}

/* Spec 6.14 behind NAT: a client that slept for minutes often wakes from a new source port (its
 * NAT binding expired), so its PINGREQ with the ClientId comes from an address without a
 * session. The session moves there as a CleanSession=0 CONNECT would move it: the same
 * admission, ownership and quota rules (docs/security.md), and the new address proves itself
 * before anything is flushed to it. Then the PINGREQ wakes it. When another worker may hold the
 * ClientId, the stage claims it first (res->handover_wake) and hands the PINGREQ back. false:
 * nothing here to take, handled as from an unknown client (as before). */
static bool wake_elsewhere(struct broker *b, const struct fo_client *from, const struct mqttsn_msg *m,
			   struct broker_result *res)
{
	const uint8_t *cid = m->u.pingreq.client_id;
	uint16_t clen = m->u.pingreq.client_id_len;
	if (clen == 0 || clen > SESSION_CLIENT_ID_MAX)
		return false;
	uint32_t hash = fo_client_id_hash(cid, clen);
	const struct broker_config *gc = b->io.client_config ? b->io.client_config(b->io.ctx, hash) : NULL;
	const struct broker_admission *rule;
	bool admitted = broker_admit(gc ? gc : &b->cfg, cid, clen, from->ip, from->v6 ? from->ip6 : NULL, &rule) ==
			BROKER_ADMIT_OK;
	uint32_t si = session_find_client_id(b->st, cid, (uint8_t)clen);
	if (si == SESSION_NONE) {
		if (!admitted || !b->io.connect_elsewhere || b->claimed ||
		    !b->io.connect_elsewhere(b->io.ctx, cid, (uint8_t)clen))
			return false;
		b->ho_at = *from;
		res->handover_at = &b->ho_at;
		res->handover = true;
		res->handover_wake = true;
		res->handover_bound = rule != NULL;
		res->client_id = cid;
		res->client_id_len = (uint8_t)clen;
		res->client_hash = hash;
		return true;
	}
	struct mqttsn_session *s = session_get(b->st, si);
	if (s->state != SESSION_ASLEEP && s->state != SESSION_AWAKE)
		return false; /* only a sleeping client wakes by PINGREQ: anyone else CONNECTs */
	bool other_ip = !same_source(s, from);
	/* Another IP: only a proven session an admission rule binds to the new source moves (an
	 * unproven one holds nothing proven, and a PINGREQ cannot start a session afresh). */
	if (!admitted || (other_ip && (!s->proven || !rule)) ||
	    (other_ip && b->cfg.sessions_per_source && ipq_count(b, from->ip) >= b->cfg.sessions_per_source)) {
		ev(b, FO_EV_WAKE_REFUSED);
		return false;
	}
	struct session_addr fa = addr_of_client(from);
	uint32_t old_ip = s->ip;
	if (session_move(b->st, si, &fa, from->ifindex) != 0) { /* a forwarder's node id pool is full */
		ev(b, FO_EV_WAKE_REFUSED);
		return false;
	}
	ipq_dec(b, old_ip);
	ipq_inc(b, from->ip);
	s->last_rx_ms = b->clock_ms;
	res->client_hash = hash;
	if (b->cfg.address_proof) { /* as on_connect's move: nothing goes there until it proves itself */
		struct guard *g = &b->g[si];
		s->proven = 0;
		g->proof_mid = g->proof_tid = 0;
		g->proof_out = false;
		g->n_held = 0;
	}
	on_pingreq(b, si, from, m, true, res);
	return true;
}

static void on_disconnect(struct broker *b, uint32_t si, const struct fo_client *from, const struct mqttsn_msg *m,
			  struct broker_result *res)
{
	struct mqttsn_session *s = session_get(b->st, si);
	send_empty(b, from, MQTTSN_DISCONNECT); /* acknowledged without a duration (5.4.21) */
	set_delivered(res);
	if (m->u.disconnect.has_duration && m->u.disconnect.duration > 0) {
		/* Asleep (or a new sleep duration): supervised by it, copies buffered meanwhile. */
		go_offline(b, si, SESSION_ASLEEP);
		s->keepalive_s = m->u.disconnect.duration;
		ev(b, FO_EV_SESSION_ASLEEP);
		return;
	}
	ev(b, FO_EV_SESSION_DISCONNECTED);
	if (s->persistent) { /* CleanSession=0: subscriptions, topic ids, will and QoS 1 copies stay (6.12) */
		go_offline(b, si, SESSION_DISCONNECTED);
		ev(b, FO_EV_SESSION_KEPT_OFFLINE);
		return;
	}
	session_drop(b, si);
}

static bool gateway_never_receives(uint8_t type)
{
	switch (type) {
	case MQTTSN_ADVERTISE:
	case MQTTSN_GWINFO:
	case MQTTSN_CONNACK:
	case MQTTSN_WILLTOPICREQ:
	case MQTTSN_WILLMSGREQ:
	case MQTTSN_SUBACK:
	case MQTTSN_UNSUBACK:
	case MQTTSN_PINGRESP: /* we never send PINGREQ */
	case MQTTSN_WILLTOPICRESP:
	case MQTTSN_WILLMSGRESP: return true;
	default: return false;
	}
}

/* Index of the type octet when the header can be read, else -1. */
static int header_type(const uint8_t *msg, uint16_t len)
{
	if (!msg || len < 2)
		return -1;
	if (msg[0] == 0x01)
		return len >= 4 ? msg[3] : -1;
	return msg[1];
}

static void broker_handle_msg(struct broker *b, const struct fo_client *from, const uint8_t *msg, uint16_t len,
			      void *payload, uint64_t now_ms, struct broker_result *res);

/* Spec 5.5: a forwarder's frame. The client is the forwarder's address plus the Wireless Node Id
 * (two nodes behind one forwarder are two clients), and the inner message is handled as if that
 * client had sent it: one datagram, one fate. Whatever goes to that client later carries its
 * node id, and the stage sends it encapsulated to the forwarder's address. */
static void on_encapsulated(struct broker *b, const struct fo_client *from, const struct mqttsn_msg *m, void *payload,
			    uint64_t now_ms, struct broker_result *res)
{
	if (from->node_len) {
		set_drop(res, FO_DROP_MQTTSN_ENCAP_NESTED); /* a forwarder forwards clients, not forwarders */
		return;
	}
	if (m->u.encap.node_id_len == 0 || m->u.encap.node_id_len > BROKER_NODE_ID_MAX) {
		set_drop(res, FO_DROP_MQTTSN_NODE_ID_REFUSED);
		return;
	}
	ev(b, FO_EV_ENCAPSULATED_RX);
	struct fo_client node = *from;
	node.node_len = (uint8_t)m->u.encap.node_id_len;
	memcpy(node.node_id, m->u.encap.node_id, node.node_len);
	broker_handle_msg(b, &node, m->u.encap.inner, m->u.encap.inner_len, payload, now_ms, res);
}

void broker_handle(struct broker *b, const struct fo_client *from, const uint8_t *msg, uint16_t len, void *payload,
		   uint64_t now_ms, struct broker_result *res)
{
	memset(res, 0, sizeof(*res));
	res->client_hash = fo_client_hash(from->ip, from->port);
	b->cur = res;
	b->cur_proven = false;
	broker_handle_msg(b, from, msg, len, payload, now_ms, res);
	b->cur = NULL;
	b->pre_name = NULL;
}

static void broker_handle_msg(struct broker *b, const struct fo_client *from, const uint8_t *msg, uint16_t len,
			      void *payload, uint64_t now_ms, struct broker_result *res)
{
	if (now_ms > b->clock_ms)
		b->clock_ms = now_ms;

	int type = header_type(msg, len);
	if (type >= 0)
		b->c->mqttsn_rx_type[type]++;
	struct mqttsn_msg m;
	int st = msg ? mqttsn_decode(msg, len, &m) : MQTTSN_E_SHORT;
	if (st != MQTTSN_OK) {
		set_drop(res, st == MQTTSN_E_TYPE ? FO_DROP_MQTTSN_UNKNOWN_TYPE : FO_DROP_MQTTSN_MALFORMED);
		return;
	}
	if (m.type == MQTTSN_ENCAPSULATED) {
		on_encapsulated(b, from, &m, payload, now_ms, res);
		return;
	}
	if (gateway_never_receives(m.type)) {
		set_drop(res, FO_DROP_MQTTSN_UNEXPECTED);
		return;
	}
	if (m.type == MQTTSN_SEARCHGW) {
		struct mqttsn_msg r = { .type = MQTTSN_GWINFO };
		r.u.gwinfo.gw_id = b->cfg.gateway_id;
		int n = mqttsn_encode(&r, b->scratch, b->scratch_cap);
		set_answered(res, n <= 0            ? -1
				  : b->io.broadcast ? b->io.broadcast(b->io.ctx, from, m.u.searchgw.radius, b->scratch,
								      (uint16_t)n)
						    : b->io.send(b->io.ctx, from, b->scratch, (uint16_t)n));
		return;
	}
	if (m.type == MQTTSN_CONNECT) {
		if (m.u.connect.client_id_len > 0)
			res->client_hash = fo_client_id_hash(m.u.connect.client_id, m.u.connect.client_id_len);
		on_connect(b, from, &m, now_ms, res);
		return;
	}
	struct session_addr fa = addr_of_client(from);
	uint32_t si = session_find_addr(b->st, &fa);
	struct mqttsn_session *s = si != SESSION_NONE ? session_get(b->st, si) : NULL;
	if (!s && m.type == MQTTSN_PINGREQ && wake_elsewhere(b, from, &m, res))
		return;
	if (s && s->state == SESSION_DISCONNECTED) {
		/* Kept for its return, but not connected (6.12): it must CONNECT first. */
		si = SESSION_NONE;
		s = NULL;
	}
	if (s) {
		s->last_rx_ms = now_ms;
		s->ifindex = from->ifindex;
		if (s->client_id_len > 0)
			res->client_hash = session_client_id_hash(b->st, si);
	}
	if (m.type == MQTTSN_PUBLISH && mqttsn_flags_qos(m.u.publish.flags) == -1) {
		on_publish_m1(b, si, from, &m, payload, res);
		return;
	}
	if (!s) {
		ev(b, FO_EV_NOT_CONNECTED);
		switch (m.type) {
		case MQTTSN_DISCONNECT:
		case MQTTSN_PUBACK:
		case MQTTSN_REGACK:
		case MQTTSN_PUBREC:
		case MQTTSN_PUBREL:
		case MQTTSN_PUBCOMP:
		case MQTTSN_WILLTOPIC:
		case MQTTSN_WILLMSG:
			/* Never answered: a DISCONNECT (or ack) for a session we do not have may be
			 * another gateway's reply to a forged datagram; answering would ping-pong. */
			set_drop(res, FO_DROP_MQTTSN_NOT_CONNECTED);
			return;
		default: break;
		}
		/* Spec 6.12-style answer to a client the gateway does not know: DISCONNECT tells
		 * it to CONNECT again (rate-limited per source like every refusal). */
		res->error_reply = true;
		if (!err_allowed(b, from->ip)) {
			ev(b, FO_EV_ERROR_REPLIES_LIMITED);
			set_drop(res, FO_DROP_ERROR_REPLY_LIMITED);
			return;
		}
		set_answered(res, send_empty(b, from, MQTTSN_DISCONNECT));
		return;
	}
	b->cur_proven = s->proven;
	if (s->paused) {
		s->paused = 0; /* it speaks again: deliveries resume */
		/* Our REGISTERs it never answered may simply have been lost: forget them, so the next
		 * copy of each topic registers it again instead of pausing it once more. */
		for (uint32_t me = s->map_head; me != SESSION_NONE; me = ctmap_get(b->st, me)->next)
			map_unannounce(b, si, me);
		/* Copies held while it was paused are sent again before any can count as a give-up. */
		for (uint32_t x = s->inflight_head; x != INFLIGHT_NONE;) {
			struct inflight_entry *e = inflight_get(b->inf, x);
			uint32_t next = e->s_next;
			if (b->cfg.retry_limit > 0 && e->retries >= b->cfg.retry_limit)
				e->retries = (uint8_t)(b->cfg.retry_limit - 1);
			x = next;
		}
		b->g[si].since_ms = (uint32_t)b->clock_ms;
		b->g[si].reg_resends = 0;
	}

	switch (m.type) {
	case MQTTSN_REGISTER: on_register(b, si, from, &m, res); break;
	case MQTTSN_REGACK: on_regack(b, si, from, &m, res); break;
	case MQTTSN_PUBLISH: on_publish(b, si, from, &m, payload, res); break;
	case MQTTSN_PUBACK: on_puback(b, si, &m, res); break;
	case MQTTSN_PUBREC: on_pubrec(b, si, &m, res); break;
	case MQTTSN_PUBREL: on_pubrel(b, si, from, &m, res); break;
	case MQTTSN_PUBCOMP: on_pubcomp(b, si, &m, res); break;
	case MQTTSN_SUBSCRIBE: on_subscribe(b, si, from, &m, res); break;
	case MQTTSN_UNSUBSCRIBE: on_unsubscribe(b, si, from, &m, res); break;
	case MQTTSN_PINGREQ: on_pingreq(b, si, from, &m, b->claimed, res); break;
	case MQTTSN_DISCONNECT: on_disconnect(b, si, from, &m, res); break;
	case MQTTSN_WILLTOPIC: on_willtopic(b, si, from, &m, res); break;
	case MQTTSN_WILLMSG: on_willmsg(b, si, from, &m, res); break;
	case MQTTSN_WILLTOPICUPD: on_willtopicupd(b, si, from, &m, res); break;
	case MQTTSN_WILLMSGUPD: on_willmsgupd(b, si, from, &m, res); break;
	default:
		/* Nothing else a client sends has a meaning here; the spec gives no reply. */
		set_drop(res, FO_DROP_MQTTSN_UNEXPECTED);
		break;
	}
}

/* ------------------------------------------------------------------ timers */

/* A lost client's will, published like a PUBLISH it sent: fanned out here, then routed and handed
 * to the other workers by the stage (io.originated). */
static void will_publish(struct broker *b, const struct fo_client *from, const uint8_t *cid, uint8_t clen,
			 const uint8_t *topic, uint16_t tlen, const uint8_t *msg, uint16_t mlen, uint8_t flags)
{
	void *p = b->io.payload_make(b->io.ctx, msg, mlen);
	if (!p) {
		ev(b, FO_EV_WILL_NO_ROOM);
		return;
	}
	int qos = mqttsn_flags_qos(flags);
	qos = qos < 0 ? 0 : qos;
	uint32_t entry = topic_registry_find(b->reg, TOPIC_KIND_NAME, topic, tlen);
	uint32_t held;
	uint32_t local = fan_out(b, topic, tlen, entry, qos, p, mlen, &held);
	bool retain = (flags & MQTTSN_FLAG_RETAIN) != 0;
	if (retain)
		retain_publish(b, topic, tlen, qos, p, mlen);
	struct broker_result res = {
		.retain = retain,
		.fate = FO_FATE_DELIVERED,
		.published = true,
		.originated = true,
		.topic = topic,
		.topic_len = tlen,
		.qos = (int8_t)qos,
		.payload_len = mlen,
		.local_deliveries = local,
		.client_hash = clen ? fo_client_id_hash(cid, clen) : fo_client_hash(from->ip, from->port),
		.client_id = cid,
		.client_id_len = clen,
	};
	ev(b, FO_EV_WILL_PUBLISHED);
	if (local == 0 && held == 0)
		ev(b, FO_EV_PUBLISH_NO_MATCH);
	if (b->io.originated)
		b->io.originated(b->io.ctx, from, &res, p);
	b->io.payload_release(b->io.ctx, p);
}

/* The client is lost (spec 6.14: its keep alive or sleep timer ran out, or it stopped
 * acknowledging): its session ends, or waits disconnected when it is persistent, and then its
 * will is published (never after a DISCONNECT). */
static void session_lost(struct broker *b, uint32_t si, enum fo_event why)
{
	struct mqttsn_session *s = session_get(b->st, si);
	struct fo_client from;
	client_of(b, s, &from);
	const struct will_slot *w = will_get(b, si);
	uint16_t tlen = 0, mlen = 0;
	uint8_t wflags = 0;
	uint8_t cid[SESSION_CLIENT_ID_MAX];
	uint8_t clen = s->client_id_len;
	memcpy(cid, s->client_id, clen);
	if (w && w->stage == WILL_SET && w->topic_len > 0) {
		tlen = w->topic_len;
		mlen = w->msg_len;
		wflags = w->flags;
		memcpy(b->will_tmp, will_bytes(b, si), (size_t)tlen + mlen);
	}
	ev(b, why);
	if (s->persistent) {
		go_offline(b, si, SESSION_DISCONNECTED);
		ev(b, FO_EV_SESSION_KEPT_OFFLINE);
	} else {
		session_drop(b, si);
	}
	if (tlen)
		will_publish(b, &from, cid, clen, b->will_tmp, tlen, b->will_tmp + tlen, mlen, wflags);
}

static void retransmit_due(struct broker *b, uint64_t now)
{
	for (;;) {
		uint32_t x = inflight_oldest(b->inf);
		if (x == INFLIGHT_NONE)
			return;
		struct inflight_entry *e = inflight_get(b->inf, x);
		if (e->deadline_ms > now)
			return;
		uint32_t si = e->session;
		struct mqttsn_session *s = session_get(b->st, si);
		if (!s->proven || s->paused || s->state == SESSION_DISCONNECTED || s->state == SESSION_ASLEEP) {
			/* Held while its address is unproven (a moved session), it is paused, or it is
			 * away (sent again when it is back). */
			inflight_requeue(b->inf, x, now + b->cfg.retry_interval_ms);
			continue;
		}
		int ready = inflight_ready(b, si, x);
		if (ready != INFLIGHT_READY) {
			if (ready == INFLIGHT_WAITS) /* for the REGACK of its id (a reconnect kept the id) */
				inflight_requeue(b->inf, x, now + b->cfg.retry_interval_ms);
			continue;
		}
		if (e->retries >= b->cfg.retry_limit) {
			inflight_drop(b, s, x);
			ev(b, FO_EV_QOS1_GIVEUPS);
			/* It stopped acknowledging: pause it, and count it lost after max_giveups in a row. */
			if (b->cfg.max_giveups && ++b->g[si].giveups >= b->cfg.max_giveups)
				session_lost(b, si, FO_EV_SESSION_UNRESPONSIVE);
			else
				pause_session(b, si);
			continue;
		}
		e->retries++;
		inflight_resend(b, s, x);
	}
}

/* Spec 7.2: a keep alive or sleep timer runs 50 % over the client's duration, 10 % above a
 * minute. */
static uint64_t supervision_ms(uint16_t duration_s)
{
	return duration_s > 60 ? (uint64_t)duration_s * 1100u : (uint64_t)duration_s * 1500u;
}

/* Our REGISTERs the client has not answered, sent again with their ids (a lost REGISTER or REGACK
 * must not cost the copies waiting for it: 6.10 has them wait for the REGACK, 6.13 retries). */
static void resend_registers(struct broker *b, uint32_t si)
{
	struct mqttsn_session *s = session_get(b->st, si);
	struct fo_client to;
	client_of(b, s, &to);
	for (uint32_t me = s->map_head; me != SESSION_NONE; me = ctmap_get(b->st, me)->next) {
		const struct ctmap_entry *e = ctmap_get(b->st, me);
		if (e->reg_msg_id == 0 || e->reg_msg_id >= CTMAP_UNANNOUNCED)
			continue; /* known, refused, or to be registered with its next copy */
		struct mqttsn_msg r = { .type = MQTTSN_REGISTER };
		r.u.reg.topic_id = e->tid;
		r.u.reg.msg_id = e->reg_msg_id;
		r.u.reg.topic_name = topic_registry_name(b->reg, e->topic, &r.u.reg.topic_name_len);
		send_msg(b, &to, &r);
		ev(b, FO_EV_REGISTER_RESENT);
	}
}

static void expire_sessions(struct broker *b, uint64_t now)
{
	uint32_t cap = session_capacity(b->st);
	uint32_t n = b->cfg.expiry_scan_per_tick < cap ? b->cfg.expiry_scan_per_tick : cap;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t si = b->scan_cursor;
		b->scan_cursor = si + 1 < cap ? si + 1 : 0;
		struct mqttsn_session *s = session_get(b->st, si);
		if (!s || now < s->last_rx_ms)
			continue;
		const struct guard *g = &b->g[si];
		if (s->state == SESSION_DISCONNECTED) {
			/* Spec 6.14 leaves this state unsupervised; memory is not: session_expiry_s. */
			if (b->cfg.session_expiry_s &&
			    now - s->last_rx_ms >= (uint64_t)b->cfg.session_expiry_s * 1000u) {
				session_drop(b, si);
				ev(b, FO_EV_SESSION_OFFLINE_EXPIRED);
			}
			continue;
		}
		uint32_t since = (uint32_t)now - g->since_ms;
		if (!s->proven && g->proof_out && since >= b->cfg.proof_timeout_ms) {
			session_drop(b, si); /* nobody at that address echoed the proof */
			ev(b, FO_EV_SESSION_UNPROVEN_EXPIRED);
			continue;
		}
		/* A paused client that stays silent is lost by its keep alive below, like any (it costs
		 * its slot meanwhile, and is fed nothing). */
		bool away = s->state == SESSION_ASLEEP || s->state == SESSION_AWAKE;
		if (!away && s->proven && !s->paused && g->regs_pending > 0) {
			/* Unanswered REGISTERs: sent again every retry_interval_ms, retry_limit times (at most
			 * 15); then the session pauses (regs_stalled). */
			struct guard *gw = &b->g[si];
			uint32_t limit = b->cfg.retry_limit < 15 ? b->cfg.retry_limit : 15;
			if (gw->reg_resends < limit &&
			    (uint64_t)since >= (uint64_t)b->cfg.retry_interval_ms * (gw->reg_resends + 1u)) {
				resend_registers(b, si);
				gw->reg_resends++;
			}
			if (regs_stalled(b, si))
				pause_session(b, si);
		}
		if (s->keepalive_s == 0)
			continue;
		/* Spec 6.14: silent past its keep alive (or, asleep, its sleep duration): lost. */
		if (now - s->last_rx_ms >= supervision_ms(s->keepalive_s))
			session_lost(b, si, away ? FO_EV_SESSION_SLEEP_LOST : FO_EV_SESSION_EXPIRED);
	}
}

int broker_deferred_puback(struct broker *b, const struct fo_client *to, uint16_t topic_id, uint16_t msg_id, uint8_t rc)
{
	struct session_addr ta = addr_of_client(to);
	uint32_t si = session_find_addr(b->st, &ta);
	if (si != SESSION_NONE)
		rx_mid_note(&b->rxm[si], msg_id, rc);
	return send_puback(b, to, topic_id, msg_id, rc);
}

void broker_tick(struct broker *b, uint64_t now_ms)
{
	if (now_ms > b->clock_ms)
		b->clock_ms = now_ms;
	retransmit_due(b, b->clock_ms);
	expire_sessions(b, b->clock_ms);
}

/* ------------------------------------------------------------------ introspection */

/* ------------------------------------------------------------------ hand-over between workers */

/* A session's state on its way to another worker of this process (broker_session_export):
 * this header, then n_map map entries, n_subs subscriptions, n_inflight copies in flight
 * (oldest first), n_buffered buffered copies (oldest first) and the will when has_will. Fields
 * are written with memcpy in host order; payloads travel as their handles. */
#define HO_MAGIC 0x31484f46u /* "FOH1" */
struct ho_hdr {
	uint32_t magic;
	uint32_t len; /* the whole state */
	uint64_t last_rx_ms;
	uint32_t n_map, n_subs, n_inflight, n_buffered;
	struct rx_mids rxm;
	uint16_t keepalive_s, next_msg_id;
	uint8_t state, persistent, has_will, client_id_len;
	uint8_t client_id[SESSION_CLIENT_ID_MAX];
};
#define HO_MAP_FIXED 5u       /* tid, state (enum ho_map_state), name length */
#define HO_SUB_FIXED 4u       /* qos, wildcard, name length */
#define HO_INFLIGHT_FIXED 16u /* msg id, topic id, payload length, flags, retries, handle */
#define HO_BUFFERED_FIXED 14u /* qos, retain, payload length, handle, name length */
#define HO_WILL_FIXED 6u      /* stage, flags, topic length, message length */

/* A map entry's state in a moved session: the client knows the id, refused it, or may have lost it
 * (CTMAP_UNANNOUNCED; our REGISTERs still unanswered travel so too, regs_forget). */
enum ho_map_state { HO_MAP_KNOWN = 0, HO_MAP_REFUSED = 1, HO_MAP_UNANNOUNCED = 2 };

struct ho_buf {
	uint8_t *p;
	const uint8_t *r;
	uint32_t off, cap;
	bool bad;
};

static void ho_put(struct ho_buf *w, const void *v, uint32_t n)
{
	if (w->bad || n > w->cap - w->off) {
		w->bad = true;
		return;
	}
	memcpy(w->p + w->off, v, n);
	w->off += n;
}

static void ho_put8(struct ho_buf *w, uint8_t v)
{
	ho_put(w, &v, 1);
}

static void ho_put16(struct ho_buf *w, uint16_t v)
{
	ho_put(w, &v, 2);
}

static void ho_putptr(struct ho_buf *w, void *v)
{
	uint64_t x = (uint64_t)(uintptr_t)v;
	ho_put(w, &x, 8);
}

static bool ho_get(struct ho_buf *r, void *v, uint32_t n)
{
	if (r->bad || n > r->cap - r->off) {
		r->bad = true;
		memset(v, 0, n);
		return false;
	}
	memcpy(v, r->r + r->off, n);
	r->off += n;
	return true;
}

static uint8_t ho_get8(struct ho_buf *r)
{
	uint8_t v;
	ho_get(r, &v, 1);
	return v;
}

static uint16_t ho_get16(struct ho_buf *r)
{
	uint16_t v;
	ho_get(r, &v, 2);
	return v;
}

static void *ho_getptr(struct ho_buf *r)
{
	uint64_t x;
	ho_get(r, &x, 8);
	return (void *)(uintptr_t)x;
}

/* A name of the state: its bytes stay in the state (NULL when short or out of bounds). */
static const uint8_t *ho_getname(struct ho_buf *r, uint16_t *len)
{
	*len = ho_get16(r);
	if (r->bad || *len > r->cap - r->off) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *n = r->r + r->off;
	r->off += *len;
	return n;
}

static void ho_putname(struct ho_buf *w, const struct broker *b, uint32_t entry)
{
	uint16_t len;
	const uint8_t *n = topic_registry_name(b->reg, entry, &len);
	ho_put16(w, len);
	ho_put(w, n, len);
}

static uint32_t name_len_of(const struct broker *b, uint32_t entry)
{
	uint16_t len;
	topic_registry_name(b->reg, entry, &len);
	return len;
}

static uint32_t export_size(const struct broker *b, uint32_t si)
{
	const struct mqttsn_session *s = session_get_const(b->st, si);
	const struct guard *g = &b->g[si];
	uint32_t n = (uint32_t)sizeof(struct ho_hdr);
	for (uint32_t me = s->map_head; me != SESSION_NONE;) {
		const struct ctmap_entry *e = ctmap_get(b->st, me);
		n += HO_MAP_FIXED + name_len_of(b, e->topic);
		me = e->next;
	}
	for (uint32_t x = s->sub_head; x != SUB_NONE; x = sub_get(b->subs, x)->s_next)
		n += HO_SUB_FIXED + name_len_of(b, sub_get(b->subs, x)->entry);
	n += (uint32_t)s->inflight_n * HO_INFLIGHT_FIXED;
	for (uint32_t h = g->pubs, i = 0; i < g->n_pubs; i++, h = b->hp[h].next) {
		const struct held_pub *p = &b->hp[h];
		uint32_t topic = p->me == HELD_BUFFERED ? p->topic : ctmap_get(b->st, p->me)->topic;
		n += HO_BUFFERED_FIXED + name_len_of(b, topic);
	}
	const struct will_slot *w = b->will_of && b->will_of[si] != WILL_NONE ? &b->wills[b->will_of[si]] : NULL;
	if (w)
		n += HO_WILL_FIXED + w->topic_len + w->msg_len;
	return n;
}

uint32_t broker_session_export_size(const struct broker *b, const uint8_t *client_id, uint8_t len)
{
	uint32_t si = session_find_client_id(b->st, client_id, len);
	return si == SESSION_NONE ? 0 : export_size(b, si);
}

enum broker_claim broker_claim(struct broker *b, const uint8_t *client_id, uint8_t len, bool clean, bool wake,
			       uint32_t ip, bool bound)
{
	uint32_t si = session_find_client_id(b->st, client_id, len);
	if (si == SESSION_NONE)
		return BROKER_CLAIM_NONE;
	const struct mqttsn_session *o = session_get(b->st, si);
	if (wake) { /* as wake_elsewhere decides on one worker */
		if (o->state != SESSION_ASLEEP && o->state != SESSION_AWAKE)
			return BROKER_CLAIM_NONE; /* not sleeping: a PINGREQ does not take it */
		return o->ip != ip && (!o->proven || !bound) ? BROKER_CLAIM_OWNED : BROKER_CLAIM_HELD;
	}
	if (o->ip != ip && o->proven && !bound)
		return BROKER_CLAIM_OWNED; /* as on_connect: anyone can write any ClientId */
	if (clean || (o->ip != ip && !o->proven)) {
		/* Spec 6.3: a clean CONNECT ends the old session, wherever it lives (its will is not
		 * published: the client is back). */
		session_drop(b, si);
		ev(b, FO_EV_HANDOVER_ENDED);
		return BROKER_CLAIM_ENDED;
	}
	return BROKER_CLAIM_HELD;
}

int32_t broker_session_export(struct broker *b, const uint8_t *client_id, uint8_t len, uint8_t *buf, uint32_t cap)
{
	uint32_t si = session_find_client_id(b->st, client_id, len);
	if (si == SESSION_NONE)
		return 0;
	if (export_size(b, si) > cap)
		return -1;
	struct mqttsn_session *s = session_get(b->st, si);
	struct guard *g = &b->g[si];
	regs_forget(b, si); /* copies waiting for REGACKs travel as buffered ones */
	struct ho_hdr h = {
		.magic = HO_MAGIC,
		.last_rx_ms = s->last_rx_ms,
		.n_subs = 0,
		.n_inflight = s->inflight_n,
		.n_buffered = g->n_pubs,
		.rxm = b->rxm[si],
		.keepalive_s = s->keepalive_s,
		.next_msg_id = s->next_msg_id,
		.state = s->state,
		.persistent = s->persistent,
		.client_id_len = s->client_id_len,
	};
	memcpy(h.client_id, s->client_id, s->client_id_len);
	struct ho_buf w = { .p = buf, .cap = cap, .off = (uint32_t)sizeof(h) };
	for (uint32_t me = s->map_head; me != SESSION_NONE;) {
		const struct ctmap_entry *e = ctmap_get(b->st, me);
		ho_put16(&w, e->tid);
		ho_put8(&w, e->reg_msg_id == CTMAP_REFUSED       ? HO_MAP_REFUSED
			    : e->reg_msg_id == CTMAP_UNANNOUNCED ? HO_MAP_UNANNOUNCED
								 : HO_MAP_KNOWN);
		ho_putname(&w, b, e->topic);
		h.n_map++;
		me = e->next;
	}
	for (uint32_t x = s->sub_head; x != SUB_NONE; x = sub_get(b->subs, x)->s_next) {
		const struct sub_node *n = sub_get(b->subs, x);
		ho_put8(&w, (uint8_t)n->qos);
		ho_put8(&w, (uint8_t)n->wildcard);
		ho_putname(&w, b, n->entry);
		h.n_subs++;
	}
	uint32_t tail = s->inflight_head; /* the list is newest first: written from its tail */
	while (tail != INFLIGHT_NONE && inflight_get(b->inf, tail)->s_next != INFLIGHT_NONE)
		tail = inflight_get(b->inf, tail)->s_next;
	for (uint32_t x = tail; x != INFLIGHT_NONE; x = inflight_get(b->inf, x)->s_prev) {
		struct inflight_entry *e = inflight_get(b->inf, x);
		ho_put16(&w, e->msg_id);
		ho_put16(&w, e->topic_id);
		ho_put16(&w, e->payload_len);
		ho_put8(&w, e->flags);
		ho_put8(&w, e->retries);
		ho_putptr(&w, e->payload);
		e->payload = NULL; /* its reference is the state's now */
	}
	uint32_t mine[256];
	uint32_t k = held_take(b, si, HELD_BUFFERED, mine);
	while (k > 0) {
		uint32_t hi = mine[--k];
		const struct held_pub *p = &b->hp[hi];
		ho_put8(&w, p->qos);
		ho_put8(&w, p->retain);
		ho_put16(&w, p->payload_len);
		ho_putptr(&w, p->payload);
		ho_putname(&w, b, p->topic);
		topic_registry_unref(b->reg, p->topic);
		held_free(b, hi);
	}
	const struct will_slot *wl = will_get(b, si);
	if (wl) {
		h.has_will = 1;
		ho_put8(&w, wl->stage);
		ho_put8(&w, wl->flags);
		ho_put16(&w, wl->topic_len);
		ho_put16(&w, wl->msg_len);
		ho_put(&w, will_bytes(b, si), (uint32_t)wl->topic_len + wl->msg_len);
	}
	h.len = w.off;
	memcpy(buf, &h, sizeof(h));
	session_drop(b, si); /* the in-flight entries hold no payload now: nothing is released */
	ev(b, FO_EV_HANDOVER_OUT);
	return w.bad ? -1 : (int32_t)w.off; /* bad cannot happen: export_size bounded it */
}

/* Reads a state's records; with si a session, applies them to it, else (SESSION_NONE) only
 * releases its payloads. Returns false when the state is malformed. */
static bool ho_apply(struct broker *b, const struct ho_hdr *h, struct ho_buf *r, uint32_t si)
{
	struct mqttsn_session *s = si != SESSION_NONE ? session_get(b->st, si) : NULL;
	struct guard *g = s ? &b->g[si] : NULL;
	uint32_t dropped = 0;
	for (uint32_t i = 0; i < h->n_map && !r->bad; i++) {
		uint16_t tid = ho_get16(r);
		uint8_t state = ho_get8(r);
		bool refused = state != HO_MAP_KNOWN && state != HO_MAP_UNANNOUNCED;
		uint16_t nlen;
		const uint8_t *name = ho_getname(r, &nlen);
		if (!s || !name)
			continue;
		uint32_t entry = topic_registry_intern(b->reg, TOPIC_KIND_NAME, name, nlen);
		uint32_t me = entry == TOPIC_NONE ? SESSION_NONE : ctmap_add_tid(b->st, si, entry, tid);
		if (me == SESSION_NONE) {
			if (entry != TOPIC_NONE)
				topic_registry_drop_unused(b->reg, entry);
			dropped++;
			continue;
		}
		topic_registry_ref(b->reg, entry);
		g->n_topics++;
		ctmap_get(b->st, me)->reg_msg_id = refused                       ? CTMAP_REFUSED
						   : state == HO_MAP_UNANNOUNCED ? CTMAP_UNANNOUNCED
										 : 0;
		g->n_refused += refused && g->n_refused < UINT8_MAX;
	}
	for (uint32_t i = 0; i < h->n_subs && !r->bad; i++) {
		uint8_t qos = ho_get8(r) & 3u;
		bool wild = ho_get8(r) != 0;
		uint16_t nlen;
		const uint8_t *name = ho_getname(r, &nlen);
		if (!s || !name)
			continue;
		uint32_t entry = topic_registry_intern(b->reg, wild ? TOPIC_KIND_FILTER : TOPIC_KIND_NAME, name, nlen);
		bool created = false;
		uint32_t x = entry == TOPIC_NONE ? SUB_NONE
						 : subs_add(b, s, si, entry, qos > 2 ? 2 : qos, wild, &created);
		if (x == SUB_NONE) {
			if (entry != TOPIC_NONE)
				topic_registry_drop_unused(b->reg, entry);
			dropped++;
			continue;
		}
		if (created)
			topic_registry_ref(b->reg, entry);
	}
	for (uint32_t i = 0; i < h->n_inflight && !r->bad; i++) {
		uint16_t mid = ho_get16(r), tid = ho_get16(r), plen = ho_get16(r);
		uint8_t flags = ho_get8(r), retries = ho_get8(r);
		void *payload = ho_getptr(r);
		if (r->bad)
			break;
		uint32_t x = INFLIGHT_NONE;
		if (s && mid != 0 && inflight_find(b->inf, s->inflight_head, mid) == INFLIGHT_NONE &&
		    s->inflight_n < UINT16_MAX)
			x = inflight_add(b->inf, &s->inflight_head, si, mid, tid, flags, payload, plen,
					 b->clock_ms + b->cfg.retry_interval_ms);
		if (x == INFLIGHT_NONE) {
			if (payload)
				b->io.payload_release(b->io.ctx, payload);
			dropped += s != NULL;
			continue;
		}
		inflight_get(b->inf, x)->retries = retries;
		s->inflight_n++;
		if (flags & INFLIGHT_PUBREL)
			b->n_pubrel++;
	}
	for (uint32_t i = 0; i < h->n_buffered && !r->bad; i++) {
		uint8_t qos = ho_get8(r), retain = ho_get8(r);
		uint16_t plen = ho_get16(r);
		void *payload = ho_getptr(r);
		uint16_t nlen;
		const uint8_t *name = ho_getname(r, &nlen);
		if (r->bad) {
			if (payload) /* the handle was read whole: the reference is still the state's */
				b->io.payload_release(b->io.ctx, payload);
			break;
		}
		uint32_t entry = s && g->n_pubs < UINT8_MAX && b->hp_free != HELD_NONE
					 ? topic_registry_intern(b->reg, TOPIC_KIND_NAME, name, nlen)
					 : TOPIC_NONE;
		if (entry == TOPIC_NONE) {
			b->io.payload_release(b->io.ctx, payload);
			dropped += s != NULL;
			continue;
		}
		topic_registry_ref(b->reg, entry);
		uint32_t hi = b->hp_free;
		struct held_pub *p = &b->hp[hi];
		b->hp_free = p->next;
		b->hp_used++;
		/* oldest first in the state, newest first in the list */
		*p = (struct held_pub){ .payload = payload,
					.me = HELD_BUFFERED,
					.next = g->pubs,
					.topic = entry,
					.payload_len = plen,
					.qos = (uint8_t)(qos > 2 ? 2 : qos),
					.retain = (uint8_t)(retain & MQTTSN_FLAG_RETAIN) };
		g->pubs = hi;
		g->n_pubs++;
	}
	if (h->has_will && !r->bad) {
		uint8_t stage = ho_get8(r), flags = ho_get8(r);
		uint16_t tlen = ho_get16(r), mlen = ho_get16(r);
		const uint8_t *bytes = r->bad || (uint32_t)tlen + mlen > r->cap - r->off ? NULL : r->r + r->off;
		if (!bytes)
			r->bad = true;
		else
			r->off += (uint32_t)tlen + mlen;
		struct will_slot *w = s && bytes && (uint32_t)tlen + mlen <= b->cfg.will_max_bytes &&
						      stage != WILL_FREE && stage <= WILL_SET
					      ? will_slot(b, si)
					      : NULL;
		if (w) {
			memcpy(will_bytes(b, si), bytes, (size_t)tlen + mlen);
			w->topic_len = tlen;
			w->msg_len = mlen;
			w->flags = flags & (MQTTSN_FLAG_QOS_MASK | MQTTSN_FLAG_RETAIN);
			w->stage = stage;
		} else if (s && bytes) {
			dropped++;
		}
	}
	if (dropped)
		b->c->ev[FO_EV_HANDOVER_STATE_DROPPED] += dropped;
	return !r->bad;
}

static bool ho_header(const uint8_t *state, uint32_t len, struct ho_hdr *h)
{
	if (!state || len < sizeof(*h))
		return false;
	memcpy(h, state, sizeof(*h));
	return h->magic == HO_MAGIC && h->len == len && h->client_id_len > 0 &&
	       h->client_id_len <= SESSION_CLIENT_ID_MAX && h->state <= SESSION_ASLEEP;
}

void broker_session_discard(struct broker *b, const uint8_t *state, uint32_t len)
{
	struct ho_hdr h;
	if (!ho_header(state, len, &h))
		return;
	struct ho_buf r = { .r = state, .cap = len, .off = (uint32_t)sizeof(h) };
	ho_apply(b, &h, &r, SESSION_NONE);
}

int broker_session_import(struct broker *b, const uint8_t *state, uint32_t len, const struct fo_client *at)
{
	struct ho_hdr h;
	if (!ho_header(state, len, &h))
		return -1; /* its handles cannot be trusted either: nothing is read from it */
	if (session_find_client_id(b->st, h.client_id, h.client_id_len) != SESSION_NONE) {
		ev(b, FO_EV_HANDOVER_DUPLICATE); /* two workers held it: the one here stays */
		broker_session_discard(b, state, len);
		return -1;
	}
	struct session_addr fa = addr_of_client(at);
	uint32_t sa = session_find_addr(b->st, &fa);
	if (sa != SESSION_NONE)
		session_drop(b, sa); /* another ClientId lived at this address: that client is gone */
	uint32_t si = session_alloc(b->st, &fa, at->ifindex, h.client_id, h.client_id_len);
	if (si == SESSION_NONE && evict_unproven(b, SESSION_NONE, EVICT_SESSION))
		si = session_alloc(b->st, &fa, at->ifindex, h.client_id, h.client_id_len);
	if (si == SESSION_NONE) {
		broker_session_discard(b, state, len);
		return -1;
	}
	ipq_inc(b, at->ip);
	struct mqttsn_session *s = session_get(b->st, si);
	b->g[si] = (struct guard){ 0 };
	b->rxm[si] = h.rxm;
	/* A deferred PUBACK still owed goes out from the old worker, to the old address; the
	 * client's resend is answered here as an accepted one. */
	b->rxm[si].pending = 0;
	s->proven = !b->cfg.address_proof; /* a new address proves itself first, as on_connect's move */
	s->paused = 0;
	s->keepalive_s = h.keepalive_s;
	s->next_msg_id = h.next_msg_id;
	s->last_rx_ms = h.last_rx_ms;
	s->state = h.state & 3u;
	s->persistent = h.persistent != 0;
	struct ho_buf r = { .r = state, .cap = len, .off = (uint32_t)sizeof(h) };
	if (!ho_apply(b, &h, &r, si)) /* what it read is kept; the rest of a torn state is lost */
		ev(b, FO_EV_HANDOVER_STATE_DROPPED);
	return 0;
}

void broker_handle_claimed(struct broker *b, const struct fo_client *from, const uint8_t *msg, uint16_t len,
			   void *payload, uint64_t now_ms, struct broker_result *res)
{
	/* Counted when the CONNECT was parked: its type, and a forwarded one's encapsulation too. */
	int type = header_type(msg, len);
	if (type >= 0 && b->c->mqttsn_rx_type[type] > 0)
		b->c->mqttsn_rx_type[type]--;
	struct mqttsn_msg m;
	if (type == MQTTSN_ENCAPSULATED && mqttsn_decode(msg, len, &m) == MQTTSN_OK) {
		int inner = header_type(m.u.encap.inner, m.u.encap.inner_len);
		if (inner >= 0 && b->c->mqttsn_rx_type[inner] > 0)
			b->c->mqttsn_rx_type[inner]--;
		if (b->c->ev[FO_EV_ENCAPSULATED_RX] > 0)
			b->c->ev[FO_EV_ENCAPSULATED_RX]--;
	}
	b->claimed = true;
	broker_handle(b, from, msg, len, payload, now_ms, res);
	b->claimed = false;
}

uint32_t broker_fanout_except(struct broker *b, const uint8_t *topic, uint16_t topic_len, int qos, void *payload,
			      uint16_t payload_len, uint64_t now_ms, const uint8_t *const *except_id,
			      const uint8_t *except_len, uint32_t n_except)
{
	if (now_ms > b->clock_ms)
		b->clock_ms = now_ms;
	if (!topic || topic_len == 0 || topic_len > b->cfg.max_topic_len)
		return 0;
	if (b->epoch + 1 == 0) { /* what fan_out does when its epoch wraps, done before the marks below */
		uint32_t cap = session_capacity(b->st);
		for (uint32_t i = 0; i < cap; i++) {
			struct mqttsn_session *s = session_get(b->st, i);
			if (s)
				s->mark_epoch = 0;
		}
		b->epoch = 0;
	}
	/* Marked with the epoch fan_out is about to take: collect() passes them by as served. */
	for (uint32_t i = 0; i < n_except; i++) {
		uint32_t si = session_find_client_id(b->st, except_id[i], except_len[i]);
		if (si != SESSION_NONE)
			session_get(b->st, si)->mark_epoch = b->epoch + 1;
	}
	uint32_t entry = topic_registry_find(b->reg, TOPIC_KIND_NAME, topic, topic_len);
	uint32_t held;
	return fan_out(b, topic, topic_len, entry, qos, payload, payload_len, &held);
}

void broker_predef_view(struct broker *b, bool uniform, const struct predef_set *set)
{
	b->uni = uniform;
	b->uni_set = uniform ? set : NULL;
	b->uni_per_client = b->uni_set && predef_set_per_client(b->uni_set);
	b->uni_global = b->uni_set ? predef_global_table(b->uni_set) : NULL;
}

void broker_set_presence(struct broker *b, uint32_t *presence, uint32_t mask)
{
	session_table_set_presence(b->st, presence, mask);
}

uint32_t broker_session_count(const struct broker *b)
{
	return session_count(b->st);
}

uint32_t broker_topic_count(const struct broker *b)
{
	return topic_registry_name_count(b->reg);
}

uint32_t broker_subscription_count(const struct broker *b)
{
	return sub_count(b->subs);
}

uint32_t broker_inflight_count(const struct broker *b)
{
	return inflight_count(b->inf);
}

uint32_t broker_held_count(const struct broker *b)
{
	return b->hp_used;
}

uint32_t broker_pubrel_count(const struct broker *b)
{
	return b->n_pubrel;
}

uint32_t broker_retained_count(const struct broker *b)
{
	return b->n_ret;
}

uint64_t broker_retained_bytes(const struct broker *b)
{
	return b->ret_bytes;
}

uint32_t broker_will_count(const struct broker *b)
{
	return b->wills_used;
}

int broker_client_state(const struct broker *b, const uint8_t *client_id, uint8_t len)
{
	uint32_t si = session_find_client_id(b->st, client_id, len);
	return si == SESSION_NONE ? -1 : (int)session_get_const(b->st, si)->state;
}

bool broker_has_session(const struct broker *b, const struct fo_client *c)
{
	struct session_addr a = addr_of_client(c);
	return session_find_addr(b->st, &a) != SESSION_NONE;
}

/* ------------------------------------------------------------------ export (control socket) */

static void row_client(struct broker_export_row *r, const struct broker *b, const struct mqttsn_session *s)
{
	r->client_id_len = s->client_id_len;
	memcpy(r->client_id, s->client_id, s->client_id_len);
	r->ip = s->ip;
	r->port = s->port;
	r->v6 = s->v6;
	if (s->v6)
		memcpy(r->ip6, session_ip6(b->st, s), 16);
}

static void row_name(struct broker_export_row *r, const struct broker *b, uint32_t id)
{
	uint16_t len = 0;
	const uint8_t *name = topic_registry_name(b->reg, id, &len);
	r->name_truncated = len > sizeof(r->name);
	r->name_len = r->name_truncated ? (uint16_t)sizeof(r->name) : len;
	if (name && r->name_len)
		memcpy(r->name, name, r->name_len);
}

uint32_t broker_export(const struct broker *b, enum broker_export_kind kind, uint64_t *cursor,
		       struct broker_export_row *rows, uint32_t max)
{
	uint32_t n = 0;
	if (kind == BROKER_EXPORT_TOPICS) {
		uint64_t id = *cursor ? *cursor : 1;
		for (; id <= b->cfg.max_topics && id <= TOPIC_REGISTRY_MAX && n < max; id++) {
			if (!topic_registry_live(b->reg, TOPIC_KIND_NAME, (uint32_t)id))
				continue;
			struct broker_export_row *r = &rows[n++];
			memset(r, 0, offsetof(struct broker_export_row, name));
			r->topic_id = (uint32_t)id;
			row_name(r, b, (uint32_t)id);
		}
		*cursor = id > b->cfg.max_topics || id > TOPIC_REGISTRY_MAX ? BROKER_EXPORT_DONE : id;
		return n;
	}
	/* Sessions and subscriptions walk the session slots; a subscription cursor also
	 * remembers how many of the current session's subscriptions were already exported. */
	uint32_t cap = session_capacity(b->st);
	uint32_t si = (uint32_t)(*cursor >> 32);
	uint32_t skip = (uint32_t)*cursor;
	for (; si < cap && n < max; si++, skip = 0) {
		const struct mqttsn_session *s = session_get_const(b->st, si);
		if (!s) /* a free slot */
			continue;
		if (kind == BROKER_EXPORT_SESSIONS) {
			struct broker_export_row *r = &rows[n++];
			memset(r, 0, sizeof(*r) - sizeof(r->name));
			row_client(r, b, s);
			r->keepalive_s = s->keepalive_s;
			r->inflight = s->inflight_n;
			r->last_rx_ms = s->last_rx_ms;
			for (uint32_t node = s->sub_head; node != SUB_NONE; node = sub_get(b->subs, node)->s_next)
				r->subscriptions++;
			continue;
		}
		uint32_t k = 0;
		for (uint32_t node = s->sub_head; node != SUB_NONE; node = sub_get(b->subs, node)->s_next, k++) {
			if (k < skip)
				continue;
			if (n == max) {
				*cursor = (uint64_t)si << 32 | k;
				return n;
			}
			const struct sub_node *sn = sub_get(b->subs, node);
			struct broker_export_row *r = &rows[n++];
			memset(r, 0, sizeof(*r) - sizeof(r->name));
			row_client(r, b, s);
			r->qos = sn->qos;
			r->topic_id = sn->entry;
			row_name(r, b, sn->entry);
		}
	}
	*cursor = si >= cap ? BROKER_EXPORT_DONE : (uint64_t)si << 32;
	return n;
}
