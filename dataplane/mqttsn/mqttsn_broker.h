/* MQTT-SN gateway/broker engine for ONE worker: sessions, per-client topic-id maps, the
 * topic registry, subscriptions, fan-out with de-duplication, QoS 1 delivery with
 * retransmission, keepalive expiry. Pure C: it never touches packets. The worker stage
 * hands it decoded-able bytes and gets output through struct broker_io callbacks, which
 * it turns into mbufs (a payload is an opaque handle, shared by reference).
 * All memory is allocated in broker_create(); handle/fanout/tick never allocate. */
#ifndef FANOUT_MQTTSN_BROKER_H
#define FANOUT_MQTTSN_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/stats_schema.h"

/* Wireless Node Ids longer than this are refused (mqttsn_node_id_refused); the spec bounds them
 * only by the encapsulation's one-octet length. */
#define BROKER_NODE_ID_MAX 16

/* A client's transport identity: sessions are keyed by it (architecture: one client,
 * one worker, chosen by a hash of source address and port). A client behind a forwarder
 * (spec 5.5) is the forwarder's address plus its Wireless Node Id: everything sent to it
 * goes to that address, encapsulated for that node (the stage adds the encapsulation). */
struct fo_client {
	uint32_t ip;      /* IPv4, host byte order; an IPv6 client's 32-bit key (its /64, l2l4_ip6_key) */
	uint16_t port;    /* UDP port, host byte order */
	uint16_t ifindex; /* dataplane port index it arrived on */
	uint8_t node_len; /* 0: a client speaking to us directly; node_id is then not read */
	uint8_t v6;       /* 1: an IPv6 client at ip6 (everything to it goes out over IPv6); 0: ip6 not read */
	uint8_t node_id[BROKER_NODE_ID_MAX];
	uint8_t ip6[16];
};

struct broker_predefined {
	uint16_t id;
	const char *name; /* NUL-terminated, a valid topic name */
};

/* Predefined topics for one ClientId, or every ClientId starting with a prefix
 * (mqttsn.client_predefined): its topics over the global ones, the first rule naming the
 * client deciding. */
struct broker_client_predefined {
	const uint8_t *client_id; /* the id or the prefix (not NUL-terminated) */
	uint8_t client_id_len;
	bool prefix; /* client_id is a prefix */
	const struct broker_predefined *topics;
	uint32_t n_topics;
};

struct predef_set; /* predef_table.h */

/* An admission rule (security.admission): a ClientId, or every ClientId starting with a
 * prefix, may connect only from these source prefixes, and may take a live session over from
 * another address only when the new address is inside them. */
/* An IPv6 source prefix of an admission rule: the address's two 64-bit halves (host byte order of
 * the big-endian words) and the prefix's mask over each, host bits of net clear. */
struct broker_net6 {
	uint64_t net[2], mask[2];
};

struct broker_admission {
	const uint8_t *client_id; /* the id or the prefix (not NUL-terminated) */
	uint8_t client_id_len;
	bool prefix;                  /* client_id is a prefix */
	const uint32_t *nets, *masks; /* IPv4 prefixes, host byte order */
	uint32_t n_nets;
	const struct broker_net6 *nets6; /* IPv6 prefixes */
	uint32_t n_nets6;
};

struct broker_config {
	uint32_t max_sessions;      /* per worker */
	uint32_t max_topics;        /* registry entries per worker */
	uint32_t max_client_topics; /* (client, topic id) map entries per worker */
	uint32_t max_subscriptions; /* per worker */
	uint32_t max_inflight;      /* QoS 1 deliveries awaiting PUBACK, per worker */
	uint32_t max_inflight_per_session;
	uint32_t retry_interval_ms; /* QoS 1 retransmission timeout */
	uint32_t retry_limit;       /* retransmissions before giving up (counted) */
	uint16_t max_topic_len;     /* longer names/filters are refused */
	uint8_t gateway_id;
	uint32_t expiry_scan_per_tick; /* sessions examined per broker_tick() */
	/* Predefined topics (global, and per client), a generation's like the admission rules: the
	 * engine resolves a client's predefined id, and picks the id a copy goes out with, by the
	 * tables of the client's generation (broker_io.client_config). predef_set is those lists
	 * precomputed (predef_set_build), kept by reference; NULL with lists given: broker_create
	 * builds its own. */
	const struct broker_predefined *predefined;
	uint32_t n_predefined;
	const struct broker_client_predefined *client_predefined;
	uint32_t n_client_predefined;
	const struct predef_set *predef_set;

	/* Defences against a hostile network (docs/security.md; the "security:" config section).
	 * A zeroed value means "off/unlimited" only where noted. */
	bool address_proof;                        /* deliveries wait until the address echoed a proof REGISTER */
	uint32_t proof_timeout_ms;                 /* a proof unanswered this long ends the unproven session */
	uint16_t keepalive_min_s, keepalive_max_s; /* CONNECT durations outside are refused (max 0 = none) */
	bool refuse_keepalive_zero;                /* CONNECT with keepalive 0 (never expires) refused */
	uint32_t sessions_per_source;              /* per source IP, on one worker; 0 = unlimited */
	uint32_t topics_per_session; /* client topic-id map entries a client may REGISTER/SUBSCRIBE; 0 = unlimited */
	uint32_t subscriptions_per_session; /* 0 = unlimited */
	uint32_t wildcards_per_session;     /* of those, filters with '+' or '#'; 0 = unlimited */
	uint16_t max_filter_levels;         /* levels of a filter; 0 = unlimited */
	uint32_t max_giveups;         /* QoS 1 give-ups (retry limit reached) in a row that end a session; 0 = never */
	uint32_t error_replies_per_s; /* refusals per source IP per second (token bucket); 0 = unlimited */
	uint32_t error_reply_burst;
	const struct broker_admission *admission; /* kept by reference: must outlive the broker */
	uint32_t n_admission;

	/* Sessions past their connection (spec 6.3, 6.12, 6.14). Zero values keep the old behaviour. */
	uint32_t session_expiry_s; /* a disconnected CleanSession=0 session is kept this long; 0 = no limit */
	uint32_t offline_buffer;   /* copies buffered per asleep/disconnected client, 0..255 (0 = none) */
	uint32_t max_wills;        /* will topic + message slots per worker, 0..65535 (0 = wills refused) */
	uint32_t will_max_bytes;   /* will topic + will message, at most 4096 */

	/* Retained messages (one per topic name, this worker's copy). 0 = the retain flag is ignored. */
	uint32_t max_retained;
	uint32_t retained_bytes;        /* payload bytes of retained messages at most */
	bool admission_reject_unlisted; /* the rules are an allow-list: a ClientId none names is refused */

	/* Clients behind forwarders (spec 5.5) a worker holds at once: their Wireless Node Ids live in
	 * a pool of this many entries, not in every session. 0 = a CONNECT through a forwarder is
	 * refused (forwarded_nodes_full). At most max_sessions. */
	uint32_t max_forwarded_nodes;
	bool ipv6_clients; /* sessions may have IPv6 addresses (a port speaks IPv6): 16 B more per session slot */
};

/* Output side. Every callback returns 0 when the packet was queued, < 0 when not (the
 * stage counts its own output drops; the engine only notes failures where the protocol
 * needs to, e.g. a QoS 1 delivery stays in flight and is retried). */
struct broker_result;

struct broker_io {
	void *ctx;
	/* A complete MQTT-SN message (CONNACK, SUBACK, REGISTER, PUBACK, ...). */
	int (*send)(void *ctx, const struct fo_client *to, const uint8_t *msg, uint16_t len);
	/* A PUBLISH: hdr (from mqttsn_encode_publish_hdr) then the shared payload. The stage
	 * takes its own reference on the payload for the copy it sends. */
	int (*send_publish)(void *ctx, const struct fo_client *to, const uint8_t *hdr, uint16_t hdr_len, void *payload);
	/* Called once per accepted PUBLISH in broker_handle(), before any send_publish of it:
	 * data/len are the payload bytes inside the message given to broker_handle(); the stage
	 * narrows its packet handle to them so every copy shares one view. */
	void (*payload_bind)(void *ctx, void *payload, const uint8_t *data, uint16_t len);
	/* Optional. Called once per accepted PUBLISH in broker_handle(), after the local fan-out and
	 * with res filled in (topic, qos, client identity, msg_id, topic_id), before a QoS 1 PUBACK:
	 * the stage routes the publish (routes, sinks, bridges) and returns the PUBACK's return
	 * code (MQTTSN_RC_ACCEPTED, MQTTSN_RC_CONGESTION), or BROKER_PUBACK_DEFERRED when the stage
	 * sends the PUBACK itself later (a sink in written mode). */
	int (*published)(void *ctx, const struct fo_client *from, struct broker_result *res);
	/* Optional. A payload is about to be kept past this call (QoS 1 retransmission): returns a
	 * handle to keep instead, holding one reference (a copy outside the receive pool, so held
	 * payloads never starve rx), or NULL when there is no room (the copy is then skipped and
	 * counted). Without it the engine keeps the payload itself with payload_hold. */
	void *(*payload_keep)(void *ctx, void *payload);
	/* Needed when cfg.max_wills > 0. A payload handle holding one reference, made from bytes the
	 * engine owns (a will message), bound like payload_bind's; NULL when there is no room. */
	void *(*payload_make)(void *ctx, const uint8_t *data, uint16_t len);
	/* Optional. A publish the engine originated (a lost client's will), after its local fan-out:
	 * res is filled as for published(); the stage routes it and hands it to the other workers.
	 * from is the lost client's address. */
	void (*originated)(void *ctx, const struct fo_client *from, const struct broker_result *res, void *payload);
	/* Optional. The config of the generation the client with this hash belongs to (the rollout
	 * split, include/fanout/client_hash.h): a CONNECT is admitted by its admission rules and a
	 * predefined topic id is read and sent by its predefined tables, so a generation swap
	 * changes them without a restart. Absent or NULL: the engine's own config. */
	const struct broker_config *(*client_config)(void *ctx, uint32_t client_hash);
	/* Optional (with client_config). Whose predefined tables a fan-out of name must look at
	 * (enum broker_predef_scope): NONE when it is predefined for no client of the generations
	 * serving clients now (no copy looks anything up), ALL when one set (*all, not NULL) serves
	 * every client (no canary share: the engine decides from it once per fan-out), PER_CLIENT
	 * otherwise (each receiver's generation through client_config). Absent: PER_CLIENT. */
	int (*predef_named)(void *ctx, const uint8_t *name, uint16_t len, const struct predef_set **all);
	/* Optional. GWINFO answering a SEARCHGW, which the spec broadcasts with the search's radius
	 * (5.4.3): the stage decides where it goes (asker is the searcher). Absent: sent to the asker. */
	int (*broadcast)(void *ctx, const struct fo_client *asker, uint8_t radius, const uint8_t *msg, uint16_t len);
	/* Optional. A CONNECT, or a sleeping client's PINGREQ from an address without a session,
	 * names a ClientId this worker holds no session of: true when another worker may hold one
	 * (session_presence_*). The engine then leaves the message unanswered (res->handover set,
	 * no fate counted) for the stage to claim the session from the other workers (broker_claim,
	 * broker_session_export, broker_session_import) and hand the same message back through
	 * broker_handle_claimed. */
	bool (*connect_elsewhere)(void *ctx, const uint8_t *client_id, uint8_t len);
	/* Reference counting for payloads kept by QoS 1 state across calls. */
	void (*payload_hold)(void *ctx, void *payload);
	void (*payload_release)(void *ctx, void *payload);
	/* Optional: a topic name or filter got its first subscriber on this engine (on) or lost its
	 * last (!on); an interest-following bridge subscribes upstream to what local clients want. */
	void (*interest)(void *ctx, const uint8_t *filter, uint16_t len, bool on);
};

enum broker_predef_scope { BROKER_PREDEF_NONE = 0, BROKER_PREDEF_ALL = 1, BROKER_PREDEF_PER_CLIENT = 2 };

#define BROKER_PUBACK_DEFERRED (-1)

struct broker_result {
	enum fo_fate fate;
	enum fo_drop drop; /* valid when fate == FO_FATE_DROPPED */
	/* An accepted PUBLISH, for the stage to forward to other workers' engines.
	 * topic points into engine memory valid until the next call on this engine. */
	bool published;
	const uint8_t *topic;
	uint16_t topic_len;
	int8_t qos;  /* publish QoS: -1, 0, 1 or 2 */
	bool retain; /* the publish carried the retain flag (other workers store it too) */
	uint16_t payload_len;
	uint32_t local_deliveries; /* copies sent now (not those held for a REGACK) */
	/* The sender's identity hash for the rollout split (include/fanout/client_hash.h):
	 * fo_client_id_hash of its ClientId when it has one, else fo_client_hash(ip, port). */
	uint32_t client_hash;
	/* The sender's ClientId (points into engine memory like topic); len 0 without a session. */
	const uint8_t *client_id;
	uint8_t client_id_len;
	/* The PUBLISH's MsgId and TopicId as sent (what a PUBACK echoes). */
	uint16_t msg_id, topic_id;
	/* Published by the engine itself (a will): no publisher waits for a PUBACK. */
	bool originated;
	/* Our reply rejected the message (a return code other than accepted, or DISCONNECT to
	 * a client without a session): counted per generation as error_replies. */
	bool error_reply;
	/* A CONNECT left unanswered for a session hand-over (broker_io.connect_elsewhere): the
	 * stage claims the ClientId (client_id points into the message), clean is its CleanSession
	 * flag, bound whether an admission rule binds the ClientId to the sender's source. fate is
	 * not set: the stage accounts for the CONNECT when it hands it back. */
	bool handover;
	bool handover_clean;
	bool handover_bound;
	/* The client's own address (points into engine memory like topic): for a forwarded node its
	 * forwarder's with its Wireless Node Id, which the datagram handed back does not show. The
	 * session is claimed for it and imported at it. */
	const struct fo_client *handover_at;
	/* The message parked is a PINGREQ waking a sleeping client from a new address (spec 6.14):
	 * only an asleep or awake session is handed over for it, and when none is, the PINGREQ is
	 * handed back all the same (answered as from an unknown client). */
	bool handover_wake;
};

struct broker;

/* NULL on bad config or allocation failure; *err (if given) then names the problem. */
struct broker *broker_create(const struct broker_config *cfg, const struct broker_io *io, struct fo_counters *counters,
			     const char **err);
void broker_destroy(struct broker *b); /* releases every held payload */

/* One datagram's MQTT-SN message from a client. payload is the stage's handle for the
 * packet (passed back through payload_bind/send_publish/hold). Fills *res. */
void broker_handle(struct broker *b, const struct fo_client *from, const uint8_t *msg, uint16_t len, void *payload,
		   uint64_t now_ms, struct broker_result *res);

/* Fan a publish accepted by another worker out to this worker's subscribers.
 * payload is already bound. qos is the publish QoS (-1 delivers like 0). Returns the
 * number of copies handed to send_publish (copies held for a REGACK go out later, from
 * broker_handle of that REGACK: see broker_held_count). */
uint32_t broker_fanout(struct broker *b, const uint8_t *topic, uint16_t topic_len, int qos, void *payload,
		       uint16_t payload_len, uint64_t now_ms);

/* A publish another worker accepted with the retain flag: stored (an empty payload clears the
 * topic's retained message) so that this worker's new subscribers get it. Call before
 * broker_fanout() of the same publish; payload is bound. */
void broker_retain(struct broker *b, const uint8_t *topic, uint16_t topic_len, int qos, void *payload,
		   uint16_t payload_len);
/* In-flight QoS 2 copies past their PUBREC (PUBREL sent, PUBCOMP awaited): no payload held. */
uint32_t broker_pubrel_count(const struct broker *b);
/* Retained messages held, and their payload bytes. */
uint32_t broker_retained_count(const struct broker *b);
uint64_t broker_retained_bytes(const struct broker *b);

/* The PUBACK of a publish whose published() hook returned BROKER_PUBACK_DEFERRED, once the stage
 * knows its return code; a DUP resend of that publish is answered normally from then on. */
int broker_deferred_puback(struct broker *b, const struct fo_client *to, uint16_t topic_id, uint16_t msg_id,
			   uint8_t rc);

/* Session hand-over between workers (docs/dataplane.md, "Sessions moving between workers").
 * The new worker parked a CONNECT (res->handover); every worker that may hold the ClientId is
 * asked, and answers from broker_claim: */
enum broker_claim {
	BROKER_CLAIM_NONE = 0, /* no session of that ClientId here */
	BROKER_CLAIM_ENDED,    /* a clean CONNECT (or the session was unproven at another IP): ended here */
	BROKER_CLAIM_OWNED,    /* live, proven, at another IP, no admission rule binds the id: kept here */
	BROKER_CLAIM_HELD,     /* held here: broker_session_export hands it over */
};
/* Decides a claim for client_id from a CONNECT at ip (clean: its CleanSession flag; bound: an
 * admission rule binds the ClientId to ip), by the rules a CONNECT on this worker follows. wake:
 * the claim is for a sleeping client's PINGREQ (clean is then false): a session that is not
 * asleep or awake is NONE, and one at another IP that is unproven or not bound is OWNED (kept,
 * never ended: a PINGREQ cannot start a session afresh). */
enum broker_claim broker_claim(struct broker *b, const uint8_t *client_id, uint8_t len, bool clean, bool wake,
			       uint32_t ip, bool bound);
/* Bytes the state of client_id's session needs (0 without a session). */
uint32_t broker_session_export_size(const struct broker *b, const uint8_t *client_id, uint8_t len);
/* Writes the session's whole state (map, subscriptions, will, QoS 1/2 copies in flight and
 * buffered ones with their payload handles, QoS 2 MsgIds awaiting PUBREL, keepalive, state)
 * into buf and forgets the session here: the payload references move into the state. Returns
 * the length, 0 without a session, -1 when it does not fit in cap (nothing changed). The state
 * holds payload handles by value: it is read only by broker_session_import/discard of a broker
 * sharing the same payloads (another worker of this process). */
int32_t broker_session_export(struct broker *b, const uint8_t *client_id, uint8_t len, uint8_t *buf, uint32_t cap);
/* Takes a state over for a client now at `at` (any session at that address with another
 * ClientId ends, as a CONNECT from there would end it). A moved session is unproven at its new
 * address when address proof is on. Parts with no room are dropped and counted
 * (handover_state_dropped). Returns 0, or -1 (nothing kept, payloads released) when the state
 * is malformed, the ClientId is live here already (handover_duplicate) or no session is free. */
int broker_session_import(struct broker *b, const uint8_t *state, uint32_t len, const struct fo_client *at);
/* Releases a state's payload references (a state nobody takes). */
void broker_session_discard(struct broker *b, const uint8_t *state, uint32_t len);
/* The CONNECT or PINGREQ a hand-over parked, handled now that the claim is over (it is not
 * parked again). */
void broker_handle_claimed(struct broker *b, const struct fo_client *from, const uint8_t *msg, uint16_t len,
			   void *payload, uint64_t now_ms, struct broker_result *res);
/* broker_fanout, except that the sessions of these ClientIds get no copy (a session moved here
 * whose old worker already delivered this publish into its state). */
uint32_t broker_fanout_except(struct broker *b, const uint8_t *topic, uint16_t topic_len, int qos, void *payload,
			      uint16_t payload_len, uint64_t now_ms, const uint8_t *const *except_id,
			      const uint8_t *except_len, uint32_t n_except);
/* Whose predefined topics serve the clients now, said by the stage whenever it may have changed
 * (each burst) and valid until it says again: uniform when one set serves every client (set, or
 * NULL for no predefined topics; the engine then asks neither client_config nor predef_named
 * about predefined topics), else each client's generation decides through client_config.
 * Never said: as not uniform. */
void broker_predef_view(struct broker *b, bool uniform, const struct predef_set *set);

/* The worker's ClientId presence counters (session_presence_*, shared with the other workers);
 * before the first message. */
void broker_set_presence(struct broker *b, uint32_t *presence, uint32_t mask);

/* Timers: QoS 1 retransmissions that are due, and keepalive expiry (1.5 x keepalive)
 * over at most cfg.expiry_scan_per_tick sessions. Cheap when nothing is due. */
void broker_tick(struct broker *b, uint64_t now_ms);

/* Introspection for stats and tests. */
uint32_t broker_session_count(const struct broker *b);
uint32_t broker_topic_count(const struct broker *b);
uint32_t broker_subscription_count(const struct broker *b);
uint32_t broker_inflight_count(const struct broker *b);
/* Copies waiting for the REGACK of their topic's REGISTER, or buffered for an asleep or
 * disconnected client (each holds a payload reference). */
uint32_t broker_held_count(const struct broker *b);
/* Stored wills (complete or being prompted for). */
uint32_t broker_will_count(const struct broker *b);
/* The client's state (enum session_state in mqttsn_session.h), or -1 without a session. */
int broker_client_state(const struct broker *b, const uint8_t *client_id, uint8_t len);
bool broker_has_session(const struct broker *b, const struct fo_client *c);

/* Listing the tables for the control socket, a bounded chunk at a time so the owning worker
 * can do it between bursts: start with *cursor = 0, call until it is BROKER_EXPORT_DONE. */
enum broker_export_kind { BROKER_EXPORT_SESSIONS, BROKER_EXPORT_TOPICS, BROKER_EXPORT_SUBSCRIPTIONS };
#define BROKER_EXPORT_DONE UINT64_MAX
#define BROKER_EXPORT_NAME_MAX 256 /* longer names are cut (name_truncated) */
struct broker_export_row {
	uint32_t ip; /* IPv4, or an IPv6 client's key: then v6 and ip6 */
	uint16_t port;
	bool v6;
	uint8_t ip6[16];
	uint16_t keepalive_s;
	uint64_t last_rx_ms;
	uint32_t subscriptions; /* sessions */
	uint16_t inflight;      /* sessions: QoS 1 deliveries awaiting PUBACK */
	/* topics and subscriptions: the registry entry (a client's
	 * own topic id for it is the same while it is <= 65534 and
	 * free in that client's map, see topic_registry.h) */
	uint32_t topic_id;
	uint8_t qos; /* subscriptions: granted QoS */
	uint8_t client_id_len;
	uint8_t client_id[23];
	bool name_truncated;
	uint16_t name_len;
	uint8_t name[BROKER_EXPORT_NAME_MAX]; /* last: not cleared for sessions */
};
/* Fills up to max rows from *cursor on; returns how many and advances *cursor. */
uint32_t broker_export(const struct broker *b, enum broker_export_kind kind, uint64_t *cursor,
		       struct broker_export_row *rows, uint32_t max);

#endif
