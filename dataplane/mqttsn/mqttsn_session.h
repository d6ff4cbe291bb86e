/* Sessions of one worker's MQTT-SN clients, keyed by source address and port (plus the
 * Wireless Node Id for a client behind a forwarder, spec 5.5), with a second index by client id (clean=0 takeover from a new address), plus every client's
 * topic-id map (spec 7.3) held in one shared per-worker pool. Pure bookkeeping: the
 * broker engine decides what the protocol does; this file only finds and links.
 *
 * A map entry pairs the client's 16-bit topic id with a registry entry (32-bit, see
 * topic_registry.h) and is indexed both ways: (session, topic id) for what the client
 * sends, (session, registry entry) for what the engine delivers. */
#ifndef FANOUT_MQTTSN_SESSION_H
#define FANOUT_MQTTSN_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#define SESSION_NONE UINT32_MAX
#define SESSION_CLIENT_ID_MAX 23 /* spec 5.3.1 */
/* Wireless Node Ids up to this long are kept (a forwarder's 802.15.4 short or EUI-64 address, an
 * IPv6 address); the spec bounds them only by the one-octet length of the encapsulation. */
#define SESSION_NODE_ID_MAX 16

/* 64 bytes: with both hash indexes (2 x 2 slots x 4 B), the fan-out scratch list (4 B) and the
 * IPv6 address side array (16 B, its pages touched only by IPv6 sessions) a session costs 100 B of
 * fixed memory; maps/subscriptions/inflight are pooled. */
struct mqttsn_session {
	uint32_t ip; /* IPv4 address, or an IPv6 client's 32-bit key (l2l4_ip6_key: its /64) */
	uint16_t port;
	uint16_t ifindex;
	uint64_t last_rx_ms;    /* last message from the client (keepalive) */
	uint32_t map_head;      /* client topic map entries (ctmap), SESSION_NONE-terminated */
	uint32_t sub_head;      /* subscriptions (subscription_table) */
	uint32_t inflight_head; /* QoS 1 deliveries awaiting PUBACK (qos1_inflight) */
	uint32_t mark_epoch;    /* fan-out de-duplication (broker) */
	uint16_t keepalive_s;
	uint16_t next_msg_id;
	uint16_t inflight_n;
	uint8_t mark_qos : 2;   /* fan-out: highest granted QoS among the matches (0..2) */
	uint8_t proven : 1;     /* the address echoed our proof REGISTER (docs/security.md) */
	uint8_t paused : 1;     /* stopped acknowledging: no deliveries until it speaks again */
	uint8_t state : 2;      /* enum session_state (spec 6.14); set with session_set_state */
	uint8_t persistent : 1; /* connected with CleanSession=0: kept after DISCONNECT or loss (6.3) */
	uint8_t used;
	uint8_t client_id_len : 5; /* 0..SESSION_CLIENT_ID_MAX */
	/* The two ways a client's address is more than ip and port, side by side so that the copy path
	 * tests both at once: */
	uint8_t forwarded : 1; /* behind a forwarder: its node id is in the table's node pool (5.5) */
	uint8_t v6 : 1;        /* an IPv6 client: its address is in the table's side array (session_ip6) */
	uint8_t client_id[SESSION_CLIENT_ID_MAX];
};

/* One (client, topic id, registry entry) triple of a client's map. reg_msg_id is 0 while the
 * client knows the id; our REGISTER's MsgId while it waits for the client's REGACK;
 * CTMAP_UNANNOUNCED while the client may not know the id (a CleanSession=0 reconnect kept it, or
 * our REGISTER of it was forgotten unanswered): the next copy of the name REGISTERs it again
 * under the same id first; CTMAP_REFUSED once the client rejected it (the broker keeps the entry
 * as a marker and delivers nothing of that name to it). */
struct ctmap_entry {
	uint32_t session;
	uint32_t next, prev; /* the session's list; SESSION_NONE-terminated */
	uint32_t topic;      /* registry entry */
	uint16_t tid;        /* the client's topic id for it: 1..65534 */
	uint16_t reg_msg_id;
};

#define CTMAP_TID_MAX 65534u      /* 0x0000 and 0xFFFF are reserved (spec 5.3.11) */
#define CTMAP_REFUSED 0xFFFFu     /* reg_msg_id of a refused entry: never the MsgId of our REGISTERs */
#define CTMAP_UNANNOUNCED 0xFFFEu /* reg_msg_id of an id to REGISTER again: never a MsgId of ours either */

/* A client's state as the gateway sees it (spec 6.14, fig. 4); lost clients end, or turn
 * disconnected when their session is persistent. keepalive_s supervises ACTIVE (keep alive),
 * ASLEEP and AWAKE (the sleep duration); DISCONNECTED is bounded by the broker's
 * session_expiry_s. Copies for an ASLEEP or DISCONNECTED client are buffered. */
enum session_state {
	SESSION_ACTIVE = 0,
	SESSION_AWAKE = 1,
	SESSION_DISCONNECTED = 2, /* bit 1 set: away, copies are buffered (SESSION_AWAY) */
	SESSION_ASLEEP = 3,
};
#define SESSION_AWAY 2u

struct session_table;

/* NULL on zero sizes, max_nodes > max_sessions or no memory. max_nodes: sessions that can be
 * behind a forwarder at once (their Wireless Node Ids are pooled, not kept in every session). */
/* ipv6: sessions may have IPv6 addresses (16 B more per session slot); without it an IPv6 address
 * is refused like a full table. */
struct session_table *session_table_create(uint32_t max_sessions, uint32_t max_client_topics, uint32_t max_nodes,
					   bool ipv6);
void session_table_destroy(struct session_table *t);

/* A client's address: its source address and port, and for a client behind a forwarder the
 * Wireless Node Id it sent (node_len 0: a client speaking to us directly). */
struct session_addr {
	uint32_t ip; /* IPv4 address, or the IPv6 address's 32-bit key */
	uint16_t port;
	const uint8_t *ip6; /* an IPv6 client's 16-byte address; NULL: IPv4 */
	uint8_t node_len;   /* 0..SESSION_NODE_ID_MAX */
	const uint8_t *node;
};

uint32_t session_find_addr(const struct session_table *t, const struct session_addr *a);
uint32_t session_find_client_id(const struct session_table *t, const uint8_t *id, uint8_t len);
/* A fresh session (lists empty) indexed by address and client id (an empty id is not
 * indexed); SESSION_NONE when full, the address is taken, id_len > 23, node_len >
 * SESSION_NODE_ID_MAX or the node id pool is full (session_nodes_full tells which). */
uint32_t session_alloc(struct session_table *t, const struct session_addr *a, uint16_t ifindex, const uint8_t *id,
		       uint8_t id_len);
/* Unindex and free: the caller has emptied its map, subscriptions and inflight. */
void session_free(struct session_table *t, uint32_t idx);
/* Re-key to a new address (clean=0 takeover, also from behind a forwarder or back); fails (-1)
 * when the address is taken or a node id finds no room in the pool. */
int session_move(struct session_table *t, uint32_t idx, const struct session_addr *a, uint16_t ifindex);
/* The Wireless Node Id of a session behind a forwarder (*len set), NULL (and *len 0) otherwise. */
const uint8_t *session_node(const struct session_table *t, const struct mqttsn_session *s, uint8_t *len);
/* The IPv6 address of an IPv6 session, NULL for an IPv4 one. */
const uint8_t *session_ip6(const struct session_table *t, const struct mqttsn_session *s);
/* Whether the node id pool has no free entry. */
bool session_nodes_full(const struct session_table *t);

/* ClientId presence, shared between the workers of one process (a session hand-over asks only
 * the workers whose count for the ClientId's slot is not zero): an array of mask + 1 counters
 * that the owning table adds its ClientIds into (one per indexed session) and every worker
 * reads; atomic, sequentially consistent (no lock). A slot is a hash of the ClientId, so a
 * count is "maybe here". */
uint32_t session_presence_slot(const uint8_t *id, uint8_t len, uint32_t mask);
void session_presence_add(uint32_t *presence, uint32_t mask, const uint8_t *id, uint8_t len, int delta);
uint32_t session_presence_get(const uint32_t *presence, uint32_t mask, const uint8_t *id, uint8_t len);
/* The table counts its ClientIds into presence (mask + 1 entries, mask + 1 a power of two),
 * which must outlive it; set before the first session_alloc. */
void session_table_set_presence(struct session_table *t, uint32_t *presence, uint32_t mask);

struct mqttsn_session *session_get(struct session_table *t, uint32_t idx);
/* fo_client_id_hash of session idx's ClientId, kept since it was made (0 without one). */
uint32_t session_client_id_hash(const struct session_table *t, uint32_t idx);
const struct mqttsn_session *session_get_const(const struct session_table *t, uint32_t idx);
uint32_t session_count(const struct session_table *t);
uint32_t session_capacity(const struct session_table *t);

/* Client topic map. By the client's topic id: */
uint32_t ctmap_find(const struct session_table *t, uint32_t session, uint16_t tid);
/* By registry entry: */
uint32_t ctmap_find_topic(const struct session_table *t, uint32_t session, uint32_t topic);
/* New entry (or the existing one) for (session, registry entry); SESSION_NONE when the
 * pool is full or the client already holds CTMAP_TID_MAX ids. A new entry's tid is the
 * registry entry itself when that is <= CTMAP_TID_MAX and free in the client's map, else
 * the next free id after it (folded into 1..CTMAP_TID_MAX). *created tells whether it is
 * new (the caller then takes a topic reference). */
uint32_t ctmap_add(struct session_table *t, uint32_t session, uint32_t topic, bool *created);
/* New entry for (session, registry entry) under the given tid (a session moved from another
 * worker keeps the ids its client knows); SESSION_NONE when the pool is full, tid is not in
 * 1..CTMAP_TID_MAX, or the tid or the registry entry is already in the client's map. */
uint32_t ctmap_add_tid(struct session_table *t, uint32_t session, uint32_t topic, uint16_t tid);
void ctmap_remove(struct session_table *t, uint32_t entry);
struct ctmap_entry *ctmap_get(struct session_table *t, uint32_t entry);
uint32_t ctmap_count(const struct session_table *t);

#endif
