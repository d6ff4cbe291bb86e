/* The dataplane's YAML config: libcyaml loads the file into a raw tree of strings, this
 * file parses and validates every value (naming the key path and the fix) and copies the
 * result into struct fo_config. Pure: no DPDK types; main.c maps the result onto EAL.
 *
 * Schema (docs/config.md has the rules in full, deploy/fanout.example.yaml an example):
 *
 *   ports:                      # required, 1..FO_MAX_PORTS entries
 *     - device: net_af_packet0  # required, ethdev name, unique, 1..63 bytes
 *       ipv4: 198.18.0.1/24     # required, host address/prefix (prefix 1..32, default /24)
 *       gateway: 198.18.0.254   # optional, inside the prefix; omit for none
 *       ipv6: 2001:2::1/64      # optional, global/ULA unicast host address/prefix (/1../128, default
 *                               # /64); the link-local fe80:: address comes from the MAC
 *       gateway6: fe80::1       # optional (with ipv6), link-local or inside the prefix
 *       vlan: 0                 # optional, 1..4094, 0 = untagged (default)
 *       mqttsn_port: 1883       # optional, 1..65535
 *       rx_queues: 1            # optional, 1..16
 *       rx_desc: 1024           # optional, 64..32768
 *       tx_desc: 1024           # optional, 64..32768
 *       mtu: 9000               # optional, 68..16110; absent = the device's default (1500); its
 *                               # frames must fit one receive buffer (mempool.rx_buffer_bytes)
 *       static_neighbours:      # optional, at most 1024 and at most neighbours/2
 *         - { ip: 198.18.0.2, mac: "02:00:00:00:00:02" }  # on-link host, unique; unicast MAC
 *   lcores:                     # required; worker lcores only (not the EAL main lcore)
 *     - lcore: 1                # required, 0..FO_MAX_LCORES-1, each listed once
 *       roles: [rx, worker, tx] # required, non-empty; every role must appear somewhere
 *   burst: 32                   # 1..FO_MAX_BURST
 *   rings: { worker: 4096, tx: 4096, peer: 4096 }   # powers of two, 64..1M, >= burst
 *   mempool: { mbufs: 16383, header_mbufs: 16383, held_mbufs: 8191, large_mbufs: 1023, cache: 256,
 *              rx_buffer_bytes: 2048 }
 *                             # see pool rule below; held_mbufs (>= 64): copies of payloads kept past
 *                             # the packet (QoS 1 retransmission, sink/bridge backlogs), never rx mbufs;
 *                             # large_mbufs (>= 64): reassembled datagrams too long for an rx mbuf;
 *                             # rx_buffer_bytes (2048..16384): a receive mbuf's data room, the longest
 *                             # frame taken in one segment (ports[].mtu + 18 at least)
 *   limits: { max_message_bytes: 8192 }         # 64..65489: larger MQTT-SN messages are refused
 *   reassembly: { max_flows: 256, timeout_ms: 2000 }  # per rx lcore, 0..65536 (0 = no reassembly);
 *                                                     # 1..60000
 *   neighbours: 4096            # ARP table capacity, 1..16M
 *   arp_max_age_s: 300          # learnt neighbour unconfirmed this long is freed, 1..86400
 *   arp_requests_per_s: 1000    # ARP requests per port and second at most, 0..1000000 (0 = no limit)
 *   mqttsn:                     # every key optional
 *     gateway_id: 1             # 0..255
 *     max_sessions / max_topics / max_client_topics / max_subscriptions / max_inflight
 *                               # >= 1
 *     max_inflight_per_session: 64    # 1..max_inflight
 *     retry_interval_ms: 1000   # >= 1
 *     retry_limit: 5            # >= 0 (0 = never retransmit)
 *     max_topic_len: 255        # 1..65527
 *     expiry_scan_per_tick: 64  # >= 1
 *     session_expiry_s: 86400   # disconnected CleanSession=0 session kept, 0 = no limit
 *     offline_buffer: 64        # copies buffered per asleep/disconnected client, 0..255
 *     max_wills: 4096           # will slots per worker, 0..65535 (0 = CONNECT with Will refused)
 *     will_max_bytes: 512       # will topic + message, 2..4096
 *     max_retained: 4096        # retained messages per worker, 0..1048576 (0 = retain flag ignored)
 *     retained_bytes: 4194304   # their payload bytes per worker
 *     max_forwarded_nodes: 4096 # clients behind forwarders per worker, 0..max_sessions (0 = refused)
 *     predefined_topics:        # optional, at most max_topics entries
 *       - { id: 1, name: "sensors/predefined" }   # id 1..65534 unique; name a valid,
 *                                                 # unique topic name
 *     client_predefined:        # optional, at most 1024 rules; the first naming a ClientId decides
 *       - client_id: "dev-7"    # or client_id_prefix: "dev-"
 *         topics: [{ id: 2, name: "dev/7/cmd" }]   # over the global ones (docs/config.md)
 *   security: ...               # docs/security.md; admission_unlisted: admit | reject
 *   discovery:                  # spec 6.1, every key optional
 *     advertise: false          # ADVERTISE every interval_s
 *     interval_s: 900           # 1..65535, also ADVERTISE's Duration
 *     destination: 255.255.255.255   # [:port] limited/subnet broadcast, multicast group or a host;
 *                               # port default: each port's mqttsn_port
 *     ttl: 1                    # 1..255, ADVERTISE's IPv4 TTL
 *     gwinfo: broadcast         # or unicast: how a broadcast SEARCHGW is answered
 *     gwinfo_broadcasts_per_s: 10    # per worker, 1..1000000; beyond, answered to the searcher
 *     destination6: ff02::4d51  # optional: an IPv6 multicast group, on every port with ipv6
 *     port6: 1883               # its UDP port; default: each port's mqttsn_port
 *   stats:
 *     file: /tmp/fanout-stats.json   # optional; absent = stdout
 *
 * Pool rule (a floor, not a guarantee against exhaustion): with L lcores,
 *   mempool.mbufs        >= sum over ports of (rx_queues * rx_desc + tx_desc) + (L + 1) * (cache + burst)
 *   mempool.header_mbufs >= sum over ports of tx_desc + (L + 1) * (cache + burst)
 *   mempool.cache        <= 512
 *
 * Numbers are plain decimal (libcyaml's own integer parsing accepts "1.5" as 1 and "010"
 * as 8, so every scalar is loaded as a string and parsed here). YAML aliases are refused. */
#include "config.h"
#include "mqttsn_session.h"
#include "predef_table.h"
#include "topic_match.h"

#include <arpa/inet.h>
#include <cyaml/cyaml.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ raw tree */

struct raw_static_neigh {
	char *ip, *mac;
};
struct raw_port {
	char *device, *ipv4, *gateway, *ipv6, *gateway6, *vlan, *mqttsn_port, *rx_queues, *rx_desc, *tx_desc, *mtu;
	struct raw_static_neigh *static_neighbours;
	unsigned static_neighbours_count;
};
struct raw_lcore {
	char *lcore;
	uint32_t roles;
};
struct raw_rings {
	char *worker, *tx, *peer;
};
struct raw_mempool {
	char *mbufs, *header_mbufs, *held_mbufs, *large_mbufs, *cache, *rx_buffer_bytes;
};
struct raw_limits {
	char *max_message_bytes;
};
struct raw_reassembly {
	char *max_flows, *timeout_ms;
};
struct raw_predef {
	char *id, *name;
};
struct raw_client_predef {
	char *client_id, *client_id_prefix;
	struct raw_predef *topics;
	unsigned topics_count;
};
struct raw_mqttsn {
	char *gateway_id, *max_sessions, *max_topics, *max_client_topics, *max_subscriptions;
	char *max_inflight, *max_inflight_per_session, *retry_interval_ms, *retry_limit;
	char *max_topic_len, *expiry_scan_per_tick;
	char *session_expiry_s, *offline_buffer, *max_wills, *will_max_bytes, *max_retained, *retained_bytes;
	char *max_forwarded_nodes;
	struct raw_predef *predefined_topics;
	unsigned predefined_topics_count;
	struct raw_client_predef *client_predefined;
	unsigned client_predefined_count;
};
struct raw_stats {
	char *file;
};
struct raw_admission {
	char *client_id, *client_id_prefix;
	char **from;
	unsigned from_count;
};
struct raw_security {
	char *address_proof, *proof_timeout_ms, *min_source_port;
	char *keepalive_min_s, *keepalive_max_s, *keepalive_zero;
	char *sessions_per_source, *topics_per_session, *subscriptions_per_session, *wildcards_per_session;
	char *max_filter_levels, *max_giveups, *error_replies_per_s, *error_reply_burst;
	char *admission_unlisted;
	struct raw_admission *admission;
	unsigned admission_count;
};
struct raw_discovery {
	char *advertise, *interval_s, *destination, *ttl, *gwinfo, *gwinfo_broadcasts_per_s, *destination6, *port6;
};
struct raw_route {
	char *name, *filter, *format;
	char **to;
	unsigned to_count;
	char *sink, *stream, *bridge, *topic, *topic_id;
};
struct raw_sink {
	char *name, *redis, *username, *password, *password_file, *db, *ring, *batch, *batch_us, *maxlen;
	char *timeout_ms, *reconnect_min_ms, *reconnect_max_ms, *puback, *cluster, *wait_replicas;
};
struct raw_bridge_sub {
	char *filter, *qos, *local_prefix, *strip_prefix;
};
struct raw_tls {
	char *ca_file, *cert_file, *key_file, *insecure;
};
struct raw_bridge {
	char *name, *host, *port, *protocol, *client_id, *username, *password, *password_file;
	struct raw_tls *tls;
	char *keepalive_s, *ring, *max_inflight, *reconnect_min_ms, *reconnect_max_ms;
	struct raw_bridge_sub *subscribe;
	unsigned subscribe_count;
	struct raw_bridge_sub *follow;
	unsigned follow_count;
};
struct raw_config {
	struct raw_port *ports;
	unsigned ports_count;
	struct raw_lcore *lcores;
	unsigned lcores_count;
	char *burst, *idle_sleep_us;
	struct raw_rings *rings;
	struct raw_mempool *mempool;
	char *neighbours;
	char *arp_max_age_s;
	char *arp_requests_per_s;
	struct raw_limits *limits;
	struct raw_reassembly *reassembly;
	struct raw_mqttsn *mqttsn;
	struct raw_stats *stats;
	struct raw_security *security;
	struct raw_discovery *discovery;
	struct raw_route *routes;
	unsigned routes_count;
	struct raw_sink *sinks;
	unsigned sinks_count;
	struct raw_bridge *bridges;
	unsigned bridges_count;
};

/* Every scalar: an optional string, NULL when the key is absent. */
#define STR(key, st, m) CYAML_FIELD_STRING_PTR(key, CYAML_FLAG_OPTIONAL, st, m, 0, CYAML_UNLIMITED)

static const cyaml_schema_field_t static_neigh_fields[] = {
	STR("ip", struct raw_static_neigh, ip),
	STR("mac", struct raw_static_neigh, mac),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t static_neigh_value = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_static_neigh, static_neigh_fields),
};
static const cyaml_schema_field_t port_fields[] = {
	STR("device", struct raw_port, device),
	STR("ipv4", struct raw_port, ipv4),
	STR("gateway", struct raw_port, gateway),
	STR("ipv6", struct raw_port, ipv6),
	STR("gateway6", struct raw_port, gateway6),
	STR("vlan", struct raw_port, vlan),
	STR("mqttsn_port", struct raw_port, mqttsn_port),
	STR("rx_queues", struct raw_port, rx_queues),
	STR("rx_desc", struct raw_port, rx_desc),
	STR("tx_desc", struct raw_port, tx_desc),
	STR("mtu", struct raw_port, mtu),
	CYAML_FIELD_SEQUENCE("static_neighbours", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_port,
			     static_neighbours, &static_neigh_value, 0, CYAML_UNLIMITED),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t port_value = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_port, port_fields),
};

static const cyaml_strval_t role_names[] = {
	{ "rx", FO_ROLE_RX },
	{ "worker", FO_ROLE_WORKER },
	{ "tx", FO_ROLE_TX },
};
static const cyaml_schema_field_t lcore_fields[] = {
	STR("lcore", struct raw_lcore, lcore),
	CYAML_FIELD_FLAGS("roles", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT, struct raw_lcore, roles, role_names,
			  CYAML_ARRAY_LEN(role_names)),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t lcore_value = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_lcore, lcore_fields),
};

static const cyaml_schema_field_t rings_fields[] = {
	STR("worker", struct raw_rings, worker),
	STR("tx", struct raw_rings, tx),
	STR("peer", struct raw_rings, peer),
	CYAML_FIELD_END,
};
static const cyaml_schema_field_t mempool_fields[] = {
	STR("mbufs", struct raw_mempool, mbufs),
	STR("header_mbufs", struct raw_mempool, header_mbufs),
	STR("held_mbufs", struct raw_mempool, held_mbufs),
	STR("large_mbufs", struct raw_mempool, large_mbufs),
	STR("cache", struct raw_mempool, cache),
	STR("rx_buffer_bytes", struct raw_mempool, rx_buffer_bytes),
	CYAML_FIELD_END,
};
static const cyaml_schema_field_t limits_fields[] = {
	STR("max_message_bytes", struct raw_limits, max_message_bytes),
	CYAML_FIELD_END,
};
static const cyaml_schema_field_t reassembly_fields[] = {
	STR("max_flows", struct raw_reassembly, max_flows),
	STR("timeout_ms", struct raw_reassembly, timeout_ms),
	CYAML_FIELD_END,
};
static const cyaml_schema_field_t predef_fields[] = {
	STR("id", struct raw_predef, id),
	STR("name", struct raw_predef, name),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t predef_value = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_predef, predef_fields),
};
static const cyaml_schema_field_t client_predef_fields[] = {
	STR("client_id", struct raw_client_predef, client_id),
	STR("client_id_prefix", struct raw_client_predef, client_id_prefix),
	CYAML_FIELD_SEQUENCE("topics", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_client_predef, topics,
			     &predef_value, 0, CYAML_UNLIMITED),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t client_predef_value = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_client_predef, client_predef_fields),
};
static const cyaml_schema_field_t mqttsn_fields[] = {
	STR("gateway_id", struct raw_mqttsn, gateway_id),
	STR("max_sessions", struct raw_mqttsn, max_sessions),
	STR("max_topics", struct raw_mqttsn, max_topics),
	STR("max_client_topics", struct raw_mqttsn, max_client_topics),
	STR("max_subscriptions", struct raw_mqttsn, max_subscriptions),
	STR("max_inflight", struct raw_mqttsn, max_inflight),
	STR("max_inflight_per_session", struct raw_mqttsn, max_inflight_per_session),
	STR("retry_interval_ms", struct raw_mqttsn, retry_interval_ms),
	STR("retry_limit", struct raw_mqttsn, retry_limit),
	STR("max_topic_len", struct raw_mqttsn, max_topic_len),
	STR("expiry_scan_per_tick", struct raw_mqttsn, expiry_scan_per_tick),
	STR("session_expiry_s", struct raw_mqttsn, session_expiry_s),
	STR("offline_buffer", struct raw_mqttsn, offline_buffer),
	STR("max_wills", struct raw_mqttsn, max_wills),
	STR("will_max_bytes", struct raw_mqttsn, will_max_bytes),
	STR("max_retained", struct raw_mqttsn, max_retained),
	STR("retained_bytes", struct raw_mqttsn, retained_bytes),
	STR("max_forwarded_nodes", struct raw_mqttsn, max_forwarded_nodes),
	CYAML_FIELD_SEQUENCE("predefined_topics", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_mqttsn,
			     predefined_topics, &predef_value, 0, CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE("client_predefined", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_mqttsn,
			     client_predefined, &client_predef_value, 0, CYAML_UNLIMITED),
	CYAML_FIELD_END,
};
static const cyaml_schema_field_t stats_fields[] = {
	STR("file", struct raw_stats, file),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t str_value = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};
static const cyaml_schema_field_t admission_fields[] = {
	STR("client_id", struct raw_admission, client_id),
	STR("client_id_prefix", struct raw_admission, client_id_prefix),
	CYAML_FIELD_SEQUENCE("from", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_admission, from, &str_value,
			     0, CYAML_UNLIMITED),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t admission_value = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_admission, admission_fields),
};
static const cyaml_schema_field_t security_fields[] = {
	STR("address_proof", struct raw_security, address_proof),
	STR("proof_timeout_ms", struct raw_security, proof_timeout_ms),
	STR("min_source_port", struct raw_security, min_source_port),
	STR("keepalive_min_s", struct raw_security, keepalive_min_s),
	STR("keepalive_max_s", struct raw_security, keepalive_max_s),
	STR("keepalive_zero", struct raw_security, keepalive_zero),
	STR("sessions_per_source", struct raw_security, sessions_per_source),
	STR("topics_per_session", struct raw_security, topics_per_session),
	STR("subscriptions_per_session", struct raw_security, subscriptions_per_session),
	STR("wildcards_per_session", struct raw_security, wildcards_per_session),
	STR("max_filter_levels", struct raw_security, max_filter_levels),
	STR("max_giveups", struct raw_security, max_giveups),
	STR("error_replies_per_s", struct raw_security, error_replies_per_s),
	STR("error_reply_burst", struct raw_security, error_reply_burst),
	STR("admission_unlisted", struct raw_security, admission_unlisted),
	CYAML_FIELD_SEQUENCE("admission", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_security, admission,
			     &admission_value, 0, CYAML_UNLIMITED),
	CYAML_FIELD_END,
};
static const cyaml_schema_field_t discovery_fields[] = {
	STR("advertise", struct raw_discovery, advertise),
	STR("interval_s", struct raw_discovery, interval_s),
	STR("destination", struct raw_discovery, destination),
	STR("ttl", struct raw_discovery, ttl),
	STR("gwinfo", struct raw_discovery, gwinfo),
	STR("gwinfo_broadcasts_per_s", struct raw_discovery, gwinfo_broadcasts_per_s),
	STR("destination6", struct raw_discovery, destination6),
	STR("port6", struct raw_discovery, port6),
	CYAML_FIELD_END,
};
static const cyaml_schema_field_t route_fields[] = {
	STR("name", struct raw_route, name),
	STR("filter", struct raw_route, filter),
	STR("format", struct raw_route, format),
	CYAML_FIELD_SEQUENCE("to", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_route, to, &str_value, 0,
			     CYAML_UNLIMITED),
	STR("sink", struct raw_route, sink),
	STR("stream", struct raw_route, stream),
	STR("bridge", struct raw_route, bridge),
	STR("topic", struct raw_route, topic),
	STR("topic_id", struct raw_route, topic_id),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t route_value = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_route, route_fields),
};
static const cyaml_schema_field_t sink_fields[] = {
	STR("name", struct raw_sink, name),
	STR("redis", struct raw_sink, redis),
	STR("username", struct raw_sink, username),
	STR("password", struct raw_sink, password),
	STR("password_file", struct raw_sink, password_file),
	STR("db", struct raw_sink, db),
	STR("ring", struct raw_sink, ring),
	STR("batch", struct raw_sink, batch),
	STR("batch_us", struct raw_sink, batch_us),
	STR("maxlen", struct raw_sink, maxlen),
	STR("timeout_ms", struct raw_sink, timeout_ms),
	STR("reconnect_min_ms", struct raw_sink, reconnect_min_ms),
	STR("reconnect_max_ms", struct raw_sink, reconnect_max_ms),
	STR("puback", struct raw_sink, puback),
	STR("cluster", struct raw_sink, cluster),
	STR("wait_replicas", struct raw_sink, wait_replicas),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t sink_value = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_sink, sink_fields),
};
static const cyaml_schema_field_t bridge_sub_fields[] = {
	STR("filter", struct raw_bridge_sub, filter),
	STR("qos", struct raw_bridge_sub, qos),
	STR("local_prefix", struct raw_bridge_sub, local_prefix),
	STR("strip_prefix", struct raw_bridge_sub, strip_prefix),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t bridge_sub_value = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_bridge_sub, bridge_sub_fields),
};
static const cyaml_schema_field_t tls_fields[] = {
	STR("ca_file", struct raw_tls, ca_file),
	STR("cert_file", struct raw_tls, cert_file),
	STR("key_file", struct raw_tls, key_file),
	STR("insecure", struct raw_tls, insecure),
	CYAML_FIELD_END,
};
static const cyaml_schema_field_t bridge_fields[] = {
	STR("name", struct raw_bridge, name),
	STR("host", struct raw_bridge, host),
	STR("port", struct raw_bridge, port),
	STR("protocol", struct raw_bridge, protocol),
	STR("client_id", struct raw_bridge, client_id),
	STR("username", struct raw_bridge, username),
	STR("password", struct raw_bridge, password),
	STR("password_file", struct raw_bridge, password_file),
	CYAML_FIELD_MAPPING_PTR("tls", CYAML_FLAG_OPTIONAL, struct raw_bridge, tls, tls_fields),
	STR("keepalive_s", struct raw_bridge, keepalive_s),
	STR("ring", struct raw_bridge, ring),
	STR("max_inflight", struct raw_bridge, max_inflight),
	STR("reconnect_min_ms", struct raw_bridge, reconnect_min_ms),
	STR("reconnect_max_ms", struct raw_bridge, reconnect_max_ms),
	CYAML_FIELD_SEQUENCE("subscribe", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_bridge, subscribe,
			     &bridge_sub_value, 0, CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE("follow", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_bridge, follow,
			     &bridge_sub_value, 0, CYAML_UNLIMITED),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t bridge_value = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_bridge, bridge_fields),
};
static const cyaml_schema_field_t top_fields[] = {
	CYAML_FIELD_SEQUENCE("ports", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_config, ports, &port_value,
			     0, CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE("lcores", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_config, lcores,
			     &lcore_value, 0, CYAML_UNLIMITED),
	STR("burst", struct raw_config, burst),
	STR("idle_sleep_us", struct raw_config, idle_sleep_us),
	CYAML_FIELD_MAPPING_PTR("rings", CYAML_FLAG_OPTIONAL, struct raw_config, rings, rings_fields),
	CYAML_FIELD_MAPPING_PTR("mempool", CYAML_FLAG_OPTIONAL, struct raw_config, mempool, mempool_fields),
	STR("neighbours", struct raw_config, neighbours),
	STR("arp_max_age_s", struct raw_config, arp_max_age_s),
	STR("arp_requests_per_s", struct raw_config, arp_requests_per_s),
	CYAML_FIELD_MAPPING_PTR("limits", CYAML_FLAG_OPTIONAL, struct raw_config, limits, limits_fields),
	CYAML_FIELD_MAPPING_PTR("reassembly", CYAML_FLAG_OPTIONAL, struct raw_config, reassembly, reassembly_fields),
	CYAML_FIELD_MAPPING_PTR("mqttsn", CYAML_FLAG_OPTIONAL, struct raw_config, mqttsn, mqttsn_fields),
	CYAML_FIELD_MAPPING_PTR("stats", CYAML_FLAG_OPTIONAL, struct raw_config, stats, stats_fields),
	CYAML_FIELD_MAPPING_PTR("security", CYAML_FLAG_OPTIONAL, struct raw_config, security, security_fields),
	CYAML_FIELD_MAPPING_PTR("discovery", CYAML_FLAG_OPTIONAL, struct raw_config, discovery, discovery_fields),
	CYAML_FIELD_SEQUENCE("routes", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_config, routes,
			     &route_value, 0, CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE("sinks", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_config, sinks, &sink_value,
			     0, CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE("bridges", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_config, bridges,
			     &bridge_value, 0, CYAML_UNLIMITED),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t top_value = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct raw_config, top_fields),
};

/* ------------------------------------------------------------------ errors */

struct ctx {
	char *err;
	size_t errlen;
	char log[4096]; /* libcyaml's log lines for the failed load */
	size_t log_used;
};

static int fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct ctx *c, const char *fmt, ...)
{
	if (c->err != NULL && c->errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* A user-supplied value made safe to print: printable ASCII only, bounded length. */
static const char *show(const char *s, char *buf, size_t n)
{
	size_t o = 0, i;
	for (i = 0; s[i] != '\0' && o + 4 < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		buf[o++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	if (s[i] != '\0' && n >= 4) {
		o = o > n - 4 ? n - 4 : o;
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

static void log_capture(cyaml_log_t level, void *vctx, const char *fmt, va_list args)
{
	struct ctx *c = vctx;
	if (level < CYAML_LOG_ERROR || c->log_used >= sizeof(c->log) - 1)
		return;
	int n = vsnprintf(c->log + c->log_used, sizeof(c->log) - c->log_used, fmt, args);
	if (n > 0)
		c->log_used += (size_t)n;
	if (c->log_used >= sizeof(c->log))
		c->log_used = sizeof(c->log) - 1;
}

/* One line of libcyaml's load backtrace (innermost first). */
struct frame {
	enum { FR_FIELD, FR_ENTRY, FR_MAPPING } kind;
	char name[64];
	unsigned index, line, column;
};
#define MAX_FRAMES 16

/* The schema value the backtrace ends in, so messages can list what is allowed there. */
static const cyaml_schema_value_t *schema_at(const struct frame *fr, int n)
{
	const cyaml_schema_value_t *v = &top_value;
	for (int i = n - 1; i >= 0; i--) {
		if (fr[i].kind == FR_FIELD) {
			if (v->type != CYAML_MAPPING)
				return NULL;
			const cyaml_schema_field_t *f = v->mapping.fields;
			while (f->key != NULL && strcmp(f->key, fr[i].name) != 0)
				f++;
			if (f->key == NULL)
				return NULL;
			v = &f->value;
		} else if (fr[i].kind == FR_ENTRY) {
			if (v->type != CYAML_SEQUENCE)
				return NULL;
			v = v->sequence.entry;
		}
	}
	return v;
}

static const char *noun(const char *t)
{
	static const struct {
		const char *name, *noun;
	} nouns[] = {
		{ "STRING", "a single value" },
		{ "SCALAR", "a single value" },
		{ "SEQUENCE", "a list" },
		{ "SEQUENCE_START", "a list" },
		{ "MAPPING", "a mapping (key: value)" },
		{ "MAPPING_START", "a mapping (key: value)" },
		{ "FLAGS", "a list of names" },
		{ "ALIAS", "an alias" },
	};
	for (size_t i = 0; i < sizeof(nouns) / sizeof(nouns[0]); i++)
		if (strcmp(t, nouns[i].name) == 0)
			return nouns[i].noun;
	return t;
}

/* Turn libcyaml's log ("Load: <what>" then "  in mapping field 'x' (line: l, column: c)"
 * lines) into one message that starts with the key path, e.g. "ports[0].foo: unknown key". */
static int fail_cyaml(struct ctx *c, cyaml_err_t rc)
{
	struct frame fr[MAX_FRAMES];
	int nfr = 0;
	char msg[256] = "";
	char *save = NULL;

	for (char *line = strtok_r(c->log, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		struct frame f = { 0 };
		if (strncmp(line, "Load: ", 6) == 0) {
			if (msg[0] == '\0' && strcmp(line + 6, "Backtrace:") != 0)
				snprintf(msg, sizeof(msg), "%s", line + 6);
			continue;
		}
		if (nfr >= MAX_FRAMES)
			continue;
		if (sscanf(line, "  in mapping field '%63[^']' (line: %u, column: %u)", f.name, &f.line, &f.column) ==
		    3) {
			f.kind = FR_FIELD;
			fr[nfr++] = f;
		} else if (sscanf(line, "  in sequence entry '%u' (line: %u, column: %u)", &f.index, &f.line,
				  &f.column) == 3) {
			f.kind = FR_ENTRY;
			f.index = f.index > 0 ? f.index - 1 : 0; /* libcyaml counts from 1 */
			fr[nfr++] = f;
		} else if (sscanf(line, "  in mapping (line: %u, column: %u)", &f.line, &f.column) == 2) {
			f.kind = FR_MAPPING;
			fr[nfr++] = f;
		}
	}

	char path[256] = "";
	size_t pl = 0;
	for (int i = nfr - 1; i >= 0 && pl < sizeof(path); i--) {
		int n = 0;
		if (fr[i].kind == FR_FIELD)
			n = snprintf(path + pl, sizeof(path) - pl, "%s%s", pl ? "." : "", fr[i].name);
		else if (fr[i].kind == FR_ENTRY)
			n = snprintf(path + pl, sizeof(path) - pl, "[%u]", fr[i].index);
		if (n > 0)
			pl += (size_t)n;
	}
	if (pl >= sizeof(path))
		pl = sizeof(path) - 1;
	char where[48] = "";
	if (nfr > 0)
		snprintf(where, sizeof(where), " (line %u, column %u)", fr[0].line, fr[0].column);
	const cyaml_schema_value_t *at = schema_at(fr, nfr);

	/* What is allowed at this point of the schema, for the fix. */
	char allowed[256] = "";
	size_t al = 0;
	if (at != NULL && at->type == CYAML_MAPPING) {
		for (const cyaml_schema_field_t *f = at->mapping.fields; f->key != NULL && al < sizeof(allowed); f++) {
			int n = snprintf(allowed + al, sizeof(allowed) - al, "%s%s", al ? ", " : "", f->key);
			if (n > 0)
				al += (size_t)n;
		}
	} else if (at != NULL && at->type == CYAML_FLAGS) {
		for (uint32_t i = 0; i < at->enumeration.count && al < sizeof(allowed); i++) {
			int n = snprintf(allowed + al, sizeof(allowed) - al, "%s%s", al ? ", " : "",
					 at->enumeration.strings[i].str);
			if (n > 0)
				al += (size_t)n;
		}
	}

	char shown[64], a[32], b[32];
	const char *p = pl ? path : "config";
	if (strncmp(msg, "Unexpected key: ", 16) == 0)
		return fail(c, "%s%s%s: unknown key%s; allowed here: %s", pl ? path : "", pl ? "." : "",
			    show(msg + 16, shown, sizeof(shown)), where, allowed[0] ? allowed : "(none)");
	if (strncmp(msg, "Unknown flag: ", 14) == 0)
		return fail(c, "%s: unknown value '%s'%s; use one or more of: %s", p,
			    show(msg + 14, shown, sizeof(shown)), where, allowed);
	if (strncmp(msg, "Mapping field already seen: ", 28) == 0)
		return fail(c, "%s: key given more than once%s; keep one", p, where);
	if (sscanf(msg, "Expecting %31[A-Z_], got event: %31[A-Z_]", a, b) == 2)
		return fail(c, "%s: expected %s, got %s%s", p, noun(a), noun(b), where);
	if (rc == CYAML_ERR_ALIAS || strstr(msg, "alias") != NULL)
		return fail(c, "%s: YAML aliases (*name) are not supported%s; write the value out", p, where);
	if (strncmp(msg, "libyaml: ", 9) == 0)
		return fail(c, "%s: YAML syntax error: %s%s", p, show(msg + 9, shown, sizeof(shown)), where);
	if (msg[0] != '\0')
		return fail(c, "%s: %s%s", p, show(msg, shown, sizeof(shown)), where);
	return fail(c, "%s: %s%s", p, cyaml_strerror(rc), where);
}

/* ------------------------------------------------------------------ scalars */

/* Strict decimal: digits only, no sign, no leading zeros (YAML 1.1 reads 010 as octal). */
static int get_num(struct ctx *c, const char *key, const char *s, uint64_t min, uint64_t max, uint64_t def,
		   uint64_t *out)
{
	char shown[64];
	if (s == NULL) {
		*out = def;
		return 0;
	}
	uint64_t v = 0;
	bool big = false;
	size_t i = 0;
	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			big = true;
		else
			v = v * 10 + d;
	}
	if (i == 0 || s[i] != '\0')
		return fail(c, "%s: '%s' is not a whole number; write decimal digits, e.g. %llu", key,
			    show(s, shown, sizeof(shown)), (unsigned long long)def);
	if (i > 1 && s[0] == '0')
		return fail(c, "%s: '%s' has a leading zero; write it as plain decimal", key,
			    show(s, shown, sizeof(shown)));
	if (big || v < min || v > max)
		return fail(c, "%s: %s is out of range; use %llu..%llu", key, show(s, shown, sizeof(shown)),
			    (unsigned long long)min, (unsigned long long)max);
	*out = v;
	return 0;
}

static int get_u32(struct ctx *c, const char *key, const char *s, uint32_t min, uint32_t max, uint32_t def,
		   uint32_t *out)
{
	uint64_t v;
	if (get_num(c, key, s, min, max, def, &v) != 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int get_u16(struct ctx *c, const char *key, const char *s, uint16_t min, uint16_t max, uint16_t def,
		   uint16_t *out)
{
	uint64_t v;
	if (get_num(c, key, s, min, max, def, &v) != 0)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static bool is_pow2(uint32_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t p = 1;
	while (p < v && p < (1u << 31))
		p <<= 1;
	return p;
}

static int get_ring(struct ctx *c, const char *key, const char *s, uint32_t burst, uint32_t *out)
{
	if (get_u32(c, key, s, FO_MIN_RING_SIZE, FO_MAX_RING_SIZE, FO_DEFAULT_RING_SIZE, out) != 0)
		return -1;
	if (!is_pow2(*out))
		return fail(c, "%s: %u is not a power of two; use e.g. %u", key, *out, pow2_at_least(*out));
	if (*out < burst)
		return fail(c, "%s: %u is smaller than burst (%u); use at least %u", key, *out, burst,
			    pow2_at_least(burst));
	return 0;
}

/* a.b.c.d, each part 0..255 in plain decimal; *end gets the first byte after it. */
static bool parse_dotted(const char *s, uint32_t *ip, const char **end)
{
	uint32_t v = 0;
	for (int part = 0; part < 4; part++) {
		if (part > 0) {
			if (*s != '.')
				return false;
			s++;
		}
		unsigned o = 0;
		int digits = 0;
		while (*s >= '0' && *s <= '9' && digits < 4) {
			o = o * 10 + (unsigned)(*s - '0');
			s++;
			digits++;
		}
		if (digits == 0 || digits > 3 || o > 255 || (digits > 1 && s[-digits] == '0'))
			return false;
		v = (v << 8) | o;
	}
	*ip = v;
	*end = s;
	return true;
}

static void ip_str(uint32_t ip, char *buf, size_t n)
{
	snprintf(buf, n, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

static uint32_t prefix_mask(uint8_t len)
{
	return len == 0 ? 0 : ~0u << (32 - len);
}

/* A unicast host address on prefix/len: not 0, loopback, multicast or class E, and on
 * prefixes that have them (/1../30), neither the network nor the broadcast address. */
static int check_host(struct ctx *c, const char *key, uint32_t ip, uint8_t len)
{
	char a[16], net[16], hint[16];
	uint32_t mask = prefix_mask(len);
	ip_str(ip, a, sizeof(a));
	ip_str(ip & mask, net, sizeof(net));
	ip_str((ip & mask) + 1, hint, sizeof(hint));
	if (ip == 0)
		return fail(c, "%s: 0.0.0.0 is not a host address", key);
	if ((ip >> 24) == 127 || (ip >> 28) >= 0xe)
		return fail(c, "%s: %s is not a unicast host address (loopback, multicast or reserved)", key, a);
	if (len <= 30 && (ip & ~mask) == 0)
		return fail(c, "%s: %s is the network address of %s/%u; use a host address such as %s", key, a, net,
			    len, hint);
	if (len <= 30 && (ip & ~mask) == ~mask)
		return fail(c, "%s: %s is the broadcast address of %s/%u; use a host address such as %s", key, a, net,
			    len, hint);
	return 0;
}

/* A topic name as MQTT-SN accepts one to publish to: 1..max bytes, no wildcard. */
static const char *topic_name_problem(const char *name, size_t max)
{
	size_t len = strlen(name);
	if (len == 0)
		return "is empty";
	if (len > max)
		return "is longer than mqttsn.max_topic_len";
	if (strpbrk(name, "+#") != NULL)
		return "contains a wildcard";
	return NULL;
}

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

/* xx:xx:xx:xx:xx:xx, hex digits either case. */
static bool parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		unsigned v = 0;
		for (int j = 0; j < 2; j++) {
			char ch = *s++;
			unsigned d = ch >= '0' && ch <= '9'   ? (unsigned)(ch - '0')
				     : ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10)
				     : ch >= 'A' && ch <= 'F' ? (unsigned)(ch - 'A' + 10)
							      : 16u;
			if (d == 16)
				return false;
			v = v << 4 | d;
		}
		mac[i] = (uint8_t)v;
		if (*s != (i < 5 ? ':' : '\0'))
			return false;
		s++;
	}
	return true;
}

/* ports[i].static_neighbours: on-link unicast hosts, each once, with unicast MACs. */
static int load_static_neighbours(struct ctx *c, unsigned i, const struct raw_port *r, struct fo_port_config *p)
{
	char key[96], shown[64], a[16], net[16];
	if (r->static_neighbours_count == 0)
		return 0;
	if (r->static_neighbours_count > FO_MAX_STATIC_NEIGHBOURS)
		return fail(c, "ports[%u].static_neighbours: %u entries; at most %d per port", i,
			    r->static_neighbours_count, FO_MAX_STATIC_NEIGHBOURS);
	p->static_neigh = calloc(r->static_neighbours_count, sizeof(*p->static_neigh));
	if (p->static_neigh == NULL)
		return fail(c, "ports[%u].static_neighbours: out of memory", i);
	uint32_t mask = prefix_mask(p->prefix_len);
	ip_str(p->ip & mask, net, sizeof(net));
	for (unsigned j = 0; j < r->static_neighbours_count; j++) {
		const struct raw_static_neigh *rs = &r->static_neighbours[j];
		struct fo_static_neigh *sn = &p->static_neigh[j];
		const char *end;
		snprintf(key, sizeof(key), "ports[%u].static_neighbours[%u].ip", i, j);
		if (rs->ip == NULL)
			return fail(c, "%s: missing; give the neighbour's IPv4 address, a host of %s/%u", key, net,
				    p->prefix_len);
		if (!parse_dotted(rs->ip, &sn->ip, &end) || *end != '\0')
			return fail(c, "%s: '%s' is not an IPv4 address (expected a.b.c.d)", key,
				    show(rs->ip, shown, sizeof(shown)));
		if (check_host(c, key, sn->ip, p->prefix_len) != 0)
			return -1;
		ip_str(sn->ip, a, sizeof(a));
		if (((sn->ip ^ p->ip) & mask) != 0)
			return fail(c, "%s: %s is outside the port's prefix %s/%u; a static neighbour must be on-link",
				    key, a, net, p->prefix_len);
		if (sn->ip == p->ip)
			return fail(c, "%s: %s is the port's own address; give the neighbour's address", key, a);
		for (unsigned k = 0; k < j; k++)
			if (p->static_neigh[k].ip == sn->ip)
				return fail(c,
					    "%s: %s is already given by static_neighbours[%u]; one entry per address",
					    key, a, k);
		snprintf(key, sizeof(key), "ports[%u].static_neighbours[%u].mac", i, j);
		if (rs->mac == NULL)
			return fail(c, "%s: missing; give the neighbour's MAC address, e.g. \"02:00:00:00:00:02\"",
				    key);
		if (!parse_mac(rs->mac, sn->mac))
			return fail(c,
				    "%s: '%s' is not a MAC address (expected six hex pairs separated by ':', "
				    "e.g. \"02:00:00:00:00:02\", quoted)",
				    key, show(rs->mac, shown, sizeof(shown)));
		if (sn->mac[0] & 1)
			return fail(c, "%s: %s is a multicast or broadcast MAC; a neighbour has a unicast MAC", key,
				    show(rs->mac, shown, sizeof(shown)));
		static const uint8_t zero[6];
		if (memcmp(sn->mac, zero, 6) == 0)
			return fail(c, "%s: 00:00:00:00:00:00 is no host's MAC; give the neighbour's MAC", key);
		p->n_static_neigh = j + 1;
	}
	return 0;
}

/* "address[/len]" as an IPv6 address and a prefix length (deflen without "/len"): 0, or -1 when
 * it is not that shape (len 1 to 3 decimal digits, no leading zero; its range is the caller's). */
static int split_ip6(const char *v, uint8_t a[16], uint32_t *len, uint32_t deflen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	if (strlen(v) >= sizeof(buf))
		return -1;
	strcpy(buf, v);
	*len = deflen;
	char *slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		const char *d = slash + 1;
		size_t k = strlen(d);
		if (k < 1 || k > 3 || strspn(d, "0123456789") != k || (d[0] == '0' && k > 1))
			return -1;
		*len = (uint32_t)strtoul(d, NULL, 10);
	}
	return inet_pton(AF_INET6, buf, a) == 1 ? 0 : -1;
}

/* An IPv6 source prefix of an admission rule, "2001:db8::/32" (a bare address is a /128), into
 * the two 64-bit halves broker_admit compares. */
static int parse_net6(struct ctx *c, const char *key, const char *v, struct broker_net6 *n)
{
	char shown[64];
	const char *bad = "%s: '%s' is not an IPv6 prefix (2001:db8::/len, len 0..128)";
	uint8_t a[16];
	uint32_t len;
	if (split_ip6(v, a, &len, 128) != 0 || len > 128)
		return fail(c, bad, key, show(v, shown, sizeof(shown)));
	for (int h = 0; h < 2; h++) {
		uint64_t w = 0;
		for (int i = 0; i < 8; i++)
			w = w << 8 | a[h * 8 + i];
		uint32_t bits = len > 64u * (uint32_t)h ? len - 64u * (uint32_t)h : 0;
		uint64_t mask = bits == 0 ? 0 : bits >= 64 ? ~0ull : ~0ull << (64 - bits);
		if (w & ~mask)
			return fail(c, "%s: '%s' has host bits set; write the network address", key,
				    show(v, shown, sizeof(shown)));
		n->net[h] = w;
		n->mask[h] = mask;
	}
	return 0;
}

/* ------------------------------------------------------------------ sections */

/* ports[i].ipv6 and gateway6: an optional IPv6 address/prefix for the port (a unicast host
 * address: not multicast, unspecified, loopback, IPv4-mapped or link-local, which comes from the
 * MAC) and an optional next hop for off-link IPv6 destinations. */
static int load_port_ipv6(struct ctx *c, unsigned i, const struct raw_port *r, struct fo_port_config *p)
{
	char key[64], shown[64];
	p->has_ip6 = false;
	p->has_gateway6 = false;
	if (r->ipv6 == NULL) {
		if (r->gateway6 != NULL)
			return fail(c, "ports[%u].gateway6: given without ports[%u].ipv6; add the port's IPv6 address",
				    i, i);
		return 0;
	}
	snprintf(key, sizeof(key), "ports[%u].ipv6", i);
	const char *bad = "%s: '%s' is not an IPv6 address with prefix (expected e.g. 2001:db8::1/64)";
	uint32_t len;
	if (split_ip6(r->ipv6, p->ip6, &len, 64) != 0)
		return fail(c, bad, key, show(r->ipv6, shown, sizeof(shown)));
	if (len < 1 || len > 128)
		return fail(c, "%s: prefix /%u in '%s' is out of range; use /1../128", key, len,
			    show(r->ipv6, shown, sizeof(shown)));
	static const uint8_t zero[16], v4map[12] = { [10] = 0xff, [11] = 0xff };
	const uint8_t *a = p->ip6;
	if (a[0] == 0xff || memcmp(a, zero, 16) == 0 || (memcmp(a, zero, 15) == 0 && a[15] == 1) ||
	    memcmp(a, v4map, 12) == 0 || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80))
		return fail(c,
			    "%s: '%s' is not a unicast host address (multicast, ::, ::1, IPv4-mapped and link-local "
			    "are not; the link-local address comes from the port's MAC)",
			    key, show(r->ipv6, shown, sizeof(shown)));
	p->ip6_prefix = (uint8_t)len;
	p->has_ip6 = true;
	if (r->gateway6 != NULL) {
		snprintf(key, sizeof(key), "ports[%u].gateway6", i);
		if (inet_pton(AF_INET6, r->gateway6, p->gateway6) != 1)
			return fail(c, "%s: '%s' is not an IPv6 address (expected e.g. fe80::1; omit the key for none)",
				    key, show(r->gateway6, shown, sizeof(shown)));
		const uint8_t *g = p->gateway6;
		bool ll = g[0] == 0xfe && (g[1] & 0xc0) == 0x80;
		bool in_prefix = true;
		for (uint32_t b = 0; b < len; b++)
			if (((g[b / 8] ^ a[b / 8]) >> (7 - b % 8)) & 1)
				in_prefix = false;
		if (g[0] == 0xff || memcmp(g, a, 16) == 0 || (!ll && !in_prefix))
			return fail(c,
				    "%s: '%s' is not an on-link router address: give a link-local address or one "
				    "inside ports[%u].ipv6's prefix other than the port's own",
				    key, show(r->gateway6, shown, sizeof(shown)), i);
		p->has_gateway6 = true;
	}
	return 0;
}

static int load_port(struct ctx *c, unsigned i, const struct raw_port *r, struct fo_port_config *p)
{
	char key[64], shown[64];

	snprintf(key, sizeof(key), "ports[%u].device", i);
	if (r->device == NULL)
		return fail(c, "%s: missing; give the ethdev name, e.g. net_af_packet0 or 0000:01:00.0", key);
	if (r->device[0] == '\0' || strlen(r->device) > FO_MAX_DEVICE_LEN)
		return fail(c, "%s: '%s' must be 1..%d bytes", key, show(r->device, shown, sizeof(shown)),
			    FO_MAX_DEVICE_LEN);

	snprintf(key, sizeof(key), "ports[%u].ipv4", i);
	if (r->ipv4 == NULL)
		return fail(c, "%s: missing; give the appliance address and prefix, e.g. 198.18.0.1/24", key);
	const char *end;
	uint32_t len = FO_DEFAULT_PREFIX_LEN;
	if (!parse_dotted(r->ipv4, &p->ip, &end))
		return fail(c, "%s: '%s' is not an IPv4 address with prefix (expected a.b.c.d/len)", key,
			    show(r->ipv4, shown, sizeof(shown)));
	if (*end == '/') {
		const char *d = end + 1;
		if (d[0] < '0' || d[0] > '9' || (d[1] != '\0' && (d[1] < '0' || d[1] > '9' || d[2] != '\0')) ||
		    (d[0] == '0' && d[1] != '\0'))
			return fail(c, "%s: '%s' is not an IPv4 address with prefix (expected a.b.c.d/len)", key,
				    show(r->ipv4, shown, sizeof(shown)));
		len = (uint32_t)strtoul(d, NULL, 10);
		if (len < 1 || len > 32)
			return fail(c, "%s: prefix /%u in '%s' is out of range; use /1../32", key, len,
				    show(r->ipv4, shown, sizeof(shown)));
	} else if (*end != '\0') {
		return fail(c, "%s: '%s' is not an IPv4 address with prefix (expected a.b.c.d/len)", key,
			    show(r->ipv4, shown, sizeof(shown)));
	}
	p->prefix_len = (uint8_t)len;
	if (check_host(c, key, p->ip, p->prefix_len) != 0)
		return -1;

	p->gateway = 0;
	if (r->gateway != NULL) {
		snprintf(key, sizeof(key), "ports[%u].gateway", i);
		if (!parse_dotted(r->gateway, &p->gateway, &end) || *end != '\0')
			return fail(c,
				    "%s: '%s' is not an IPv4 address (expected a.b.c.d; omit the key for no gateway)",
				    key, show(r->gateway, shown, sizeof(shown)));
		if (p->gateway == 0)
			return fail(c, "%s: 0.0.0.0 is not a gateway; omit the key for no gateway", key);
		if (check_host(c, key, p->gateway, p->prefix_len) != 0)
			return -1;
		char g[16], net[16];
		ip_str(p->gateway, g, sizeof(g));
		ip_str(p->ip & prefix_mask(p->prefix_len), net, sizeof(net));
		if (((p->gateway ^ p->ip) & prefix_mask(p->prefix_len)) != 0)
			return fail(c, "%s: %s is outside the port's prefix %s/%u; a gateway must be on-link", key, g,
				    net, p->prefix_len);
		if (p->gateway == p->ip)
			return fail(c, "%s: %s is the port's own address; give the next-hop router's address", key, g);
	}

	if (load_port_ipv6(c, i, r, p) != 0)
		return -1;

	snprintf(key, sizeof(key), "ports[%u].vlan", i);
	if (get_u16(c, key, r->vlan, 0, 4094, 0, &p->vlan) != 0)
		return -1;
	snprintf(key, sizeof(key), "ports[%u].mqttsn_port", i);
	if (get_u16(c, key, r->mqttsn_port, 1, 65535, FO_DEFAULT_MQTTSN_PORT, &p->mqttsn_port) != 0)
		return -1;
	snprintf(key, sizeof(key), "ports[%u].rx_queues", i);
	if (get_u16(c, key, r->rx_queues, 1, FO_MAX_RX_QUEUES, FO_DEFAULT_RX_QUEUES, &p->rx_queues) != 0)
		return -1;
	snprintf(key, sizeof(key), "ports[%u].rx_desc", i);
	if (get_u16(c, key, r->rx_desc, FO_MIN_DESC, FO_MAX_DESC, FO_DEFAULT_RX_DESC, &p->rx_desc) != 0)
		return -1;
	snprintf(key, sizeof(key), "ports[%u].tx_desc", i);
	if (get_u16(c, key, r->tx_desc, FO_MIN_DESC, FO_MAX_DESC, FO_DEFAULT_TX_DESC, &p->tx_desc) != 0)
		return -1;
	snprintf(key, sizeof(key), "ports[%u].mtu", i);
	if (get_u16(c, key, r->mtu, FO_MIN_MTU, FO_MAX_MTU, 0, &p->mtu) != 0)
		return -1;

	p->device = dup_str(r->device);
	if (p->device == NULL)
		return fail(c, "ports[%u]: out of memory", i);
	if (load_static_neighbours(c, i, r, p) != 0) { /* the caller owns the port only once it loaded */
		free(p->device);
		p->device = NULL;
		free(p->static_neigh);
		p->static_neigh = NULL;
		p->n_static_neigh = 0;
		return -1;
	}
	return 0;
}

static int load_ports(struct ctx *c, const struct raw_config *r, struct fo_config *cfg)
{
	char a6[INET6_ADDRSTRLEN];
	char shown[64], a[16];
	if (r->ports_count == 0)
		return fail(c, "ports: at least one port is required, e.g. "
			       "ports: [{device: net_af_packet0, ipv4: 198.18.0.1/24}]");
	if (r->ports_count > FO_MAX_PORTS)
		return fail(c, "ports: %u ports given; at most %d are supported", r->ports_count, FO_MAX_PORTS);
	cfg->ports = calloc(r->ports_count, sizeof(*cfg->ports));
	if (cfg->ports == NULL)
		return fail(c, "ports: out of memory");
	for (unsigned i = 0; i < r->ports_count; i++) {
		if (load_port(c, i, &r->ports[i], &cfg->ports[i]) != 0)
			return -1;
		cfg->n_ports = i + 1; /* owns ports[0..i].device from here */
		for (unsigned j = 0; j < i; j++) {
			if (strcmp(cfg->ports[j].device, cfg->ports[i].device) == 0)
				return fail(c,
					    "ports[%u].device: '%s' is already used by ports[%u]; each port needs its "
					    "own device",
					    i, show(cfg->ports[i].device, shown, sizeof(shown)), j);
			if (cfg->ports[j].ip == cfg->ports[i].ip) {
				ip_str(cfg->ports[i].ip, a, sizeof(a));
				return fail(c,
					    "ports[%u].ipv4: %s is already used by ports[%u]; give each port its own "
					    "address",
					    i, a, j);
			}
			if (cfg->ports[i].has_ip6 && cfg->ports[j].has_ip6 &&
			    memcmp(cfg->ports[j].ip6, cfg->ports[i].ip6, 16) == 0) {
				inet_ntop(AF_INET6, cfg->ports[i].ip6, a6, sizeof(a6));
				return fail(c,
					    "ports[%u].ipv6: %s is already used by ports[%u]; give each port its own "
					    "address",
					    i, a6, j);
			}
		}
	}
	return 0;
}

static int load_lcores(struct ctx *c, const struct raw_config *r, struct fo_config *cfg)
{
	char key[64];
	if (r->lcores_count == 0)
		return fail(
			c,
			"lcores: at least one lcore is required, e.g. lcores: [{lcore: 1, roles: [rx, worker, tx]}]");
	if (r->lcores_count > FO_MAX_LCORES)
		return fail(c, "lcores: %u lcores given; at most %d are supported", r->lcores_count, FO_MAX_LCORES);
	cfg->lcores = calloc(r->lcores_count, sizeof(*cfg->lcores));
	if (cfg->lcores == NULL)
		return fail(c, "lcores: out of memory");
	cfg->n_lcores = r->lcores_count;
	uint32_t seen = 0;
	for (unsigned i = 0; i < r->lcores_count; i++) {
		struct fo_lcore_config *l = &cfg->lcores[i];
		snprintf(key, sizeof(key), "lcores[%u].lcore", i);
		if (r->lcores[i].lcore == NULL)
			return fail(c, "%s: missing; give the EAL lcore id, e.g. lcore: 1", key);
		if (get_u32(c, key, r->lcores[i].lcore, 0, FO_MAX_LCORES - 1, 0, &l->lcore) != 0)
			return -1;
		for (unsigned j = 0; j < i; j++)
			if (cfg->lcores[j].lcore == l->lcore)
				return fail(c,
					    "%s: lcore %u is already listed at lcores[%u]; give each lcore one entry "
					    "with all its roles",
					    key, l->lcore, j);
		l->roles = r->lcores[i].roles;
		if (l->roles == 0)
			return fail(c, "lcores[%u].roles: no roles given; list one or more of rx, worker, tx", i);
		seen |= l->roles;
	}
	static const struct {
		uint32_t bit;
		const char *name;
	} roles[] = { { FO_ROLE_RX, "rx" }, { FO_ROLE_WORKER, "worker" }, { FO_ROLE_TX, "tx" } };
	for (size_t k = 0; k < sizeof(roles) / sizeof(roles[0]); k++)
		if ((seen & roles[k].bit) == 0)
			return fail(c, "lcores: no lcore has role '%s'; add it to some lcore's roles", roles[k].name);
	return 0;
}

static int load_pools(struct ctx *c, const struct raw_config *r, struct fo_config *cfg)
{
	static const struct raw_rings no_rings;
	static const struct raw_mempool no_mempool;
	const struct raw_rings *rg = r->rings ? r->rings : &no_rings;
	const struct raw_mempool *mp = r->mempool ? r->mempool : &no_mempool;

	if (get_u32(c, "idle_sleep_us", r->idle_sleep_us, 0, 100000, 0, &cfg->idle_sleep_us) != 0)
		return -1;
	if (get_u32(c, "burst", r->burst, 1, FO_MAX_BURST, FO_DEFAULT_BURST, &cfg->burst) != 0)
		return -1;
	if (get_ring(c, "rings.worker", rg->worker, cfg->burst, &cfg->worker_ring_size) != 0 ||
	    get_ring(c, "rings.tx", rg->tx, cfg->burst, &cfg->tx_ring_size) != 0 ||
	    get_ring(c, "rings.peer", rg->peer, cfg->burst, &cfg->peer_ring_size) != 0)
		return -1;
	if (get_u32(c, "mempool.cache", mp->cache, 0, FO_MAX_MBUF_CACHE, FO_DEFAULT_MBUF_CACHE, &cfg->mbuf_cache) !=
		    0 ||
	    get_u32(c, "mempool.mbufs", mp->mbufs, 1, UINT32_MAX, FO_DEFAULT_MBUFS, &cfg->mbufs) != 0 ||
	    get_u32(c, "mempool.header_mbufs", mp->header_mbufs, 1, UINT32_MAX, FO_DEFAULT_HDR_MBUFS,
		    &cfg->hdr_mbufs) != 0 ||
	    get_u32(c, "mempool.held_mbufs", mp->held_mbufs, 64, UINT32_MAX, FO_DEFAULT_HELD_MBUFS, &cfg->held_mbufs) !=
		    0)
		return -1;
	if (get_u32(c, "neighbours", r->neighbours, 1, FO_MAX_NEIGHBOURS, FO_DEFAULT_NEIGHBOURS, &cfg->neighbours) != 0)
		return -1;
	if (get_u32(c, "arp_max_age_s", r->arp_max_age_s, 1, FO_MAX_ARP_MAX_AGE_S, FO_DEFAULT_ARP_MAX_AGE_S,
		    &cfg->arp_max_age_s) != 0)
		return -1;
	if (get_u32(c, "arp_requests_per_s", r->arp_requests_per_s, 0, FO_MAX_ARP_REQUESTS_PER_S,
		    FO_DEFAULT_ARP_REQUESTS_PER_S, &cfg->arp_requests_per_s) != 0)
		return -1;
	static const struct raw_limits no_limits;
	static const struct raw_reassembly no_reassembly;
	const struct raw_limits *lim = r->limits ? r->limits : &no_limits;
	const struct raw_reassembly *ra = r->reassembly ? r->reassembly : &no_reassembly;
	if (get_u32(c, "limits.max_message_bytes", lim->max_message_bytes, FO_MIN_MESSAGE_BYTES, FO_MAX_MESSAGE_BYTES,
		    FO_DEFAULT_MAX_MESSAGE_BYTES, &cfg->max_message_bytes) != 0 ||
	    get_u32(c, "reassembly.max_flows", ra->max_flows, 0, FO_MAX_REASM_FLOWS, FO_DEFAULT_REASM_FLOWS,
		    &cfg->reasm_max_flows) != 0 ||
	    get_u32(c, "reassembly.timeout_ms", ra->timeout_ms, 1, FO_MAX_REASM_TIMEOUT_MS, FO_DEFAULT_REASM_TIMEOUT_MS,
		    &cfg->reasm_timeout_ms) != 0 ||
	    get_u32(c, "mempool.large_mbufs", mp->large_mbufs, 64, UINT32_MAX, FO_DEFAULT_LARGE_MBUFS,
		    &cfg->large_mbufs) != 0 ||
	    get_u32(c, "mempool.rx_buffer_bytes", mp->rx_buffer_bytes, FO_MIN_RX_BUFFER_BYTES, FO_MAX_RX_BUFFER_BYTES,
		    FO_DEFAULT_RX_BUFFER_BYTES, &cfg->rx_buffer_bytes) != 0)
		return -1;
	/* A frame that spans two receive mbufs is dropped (ip_bad_length): every frame a port's MTU
	 * allows must fit one. */
	for (uint32_t i = 0; i < cfg->n_ports; i++)
		if (cfg->ports[i].mtu && cfg->ports[i].mtu + FO_FRAME_OVERHEAD > cfg->rx_buffer_bytes)
			return fail(c,
				    "ports[%u].mtu: frames of MTU %u take up to %u bytes with the Ethernet and 802.1Q "
				    "headers, more than one receive buffer (mempool.rx_buffer_bytes %u); raise "
				    "mempool.rx_buffer_bytes to at least %u or lower the MTU",
				    i, cfg->ports[i].mtu, cfg->ports[i].mtu + FO_FRAME_OVERHEAD, cfg->rx_buffer_bytes,
				    cfg->ports[i].mtu + FO_FRAME_OVERHEAD);
	for (uint32_t i = 0; i < cfg->n_ports; i++)
		if (cfg->ports[i].n_static_neigh > cfg->neighbours / 2)
			return fail(c,
				    "ports[%u].static_neighbours: %u entries, but `neighbours` is %u and at most half "
				    "the table may be static; raise `neighbours` to at least %u",
				    i, cfg->ports[i].n_static_neigh, cfg->neighbours, cfg->ports[i].n_static_neigh * 2);

	/* The floor from the pool rule at the top of this file. */
	uint64_t in_hand = (uint64_t)(cfg->n_lcores + 1) * (cfg->mbuf_cache + cfg->burst);
	uint64_t rx = 0, tx = 0;
	for (uint32_t i = 0; i < cfg->n_ports; i++) {
		rx += (uint64_t)cfg->ports[i].rx_queues * cfg->ports[i].rx_desc;
		tx += cfg->ports[i].tx_desc;
	}
	if (cfg->mbufs < rx + tx + in_hand)
		return fail(c,
			    "mempool.mbufs: %u is too small for this config; use at least %llu "
			    "(rx_queues*rx_desc + tx_desc over all ports = %llu, plus (lcores+1)*(cache+burst) = %llu)",
			    cfg->mbufs, (unsigned long long)(rx + tx + in_hand), (unsigned long long)(rx + tx),
			    (unsigned long long)in_hand);
	if (cfg->hdr_mbufs < tx + in_hand)
		return fail(c,
			    "mempool.header_mbufs: %u is too small for this config; use at least %llu "
			    "(tx_desc over all ports = %llu, plus (lcores+1)*(cache+burst) = %llu)",
			    cfg->hdr_mbufs, (unsigned long long)(tx + in_hand), (unsigned long long)tx,
			    (unsigned long long)in_hand);
	return 0;
}

/* One list of predefined topics (key names it): ids 1..65534 and names unique within it. out has
 * room for n; *count grows as names are owned (freed by fo_config_free). */
static int load_topic_list(struct ctx *c, const char *list, const struct raw_predef *raw, unsigned n,
			   struct broker_predefined *out, uint32_t *count, uint16_t max_topic_len)
{
	char key[160], shown[64];
	for (unsigned i = 0; i < n; i++) {
		const struct raw_predef *rp = &raw[i];
		struct broker_predefined *p = &out[i];
		uint16_t id;
		snprintf(key, sizeof(key), "%s[%u].id", list, i);
		if (rp->id == NULL)
			return fail(c, "%s: missing; give a topic id 1..65534", key);
		/* 0x0000 and 0xFFFF are reserved topic ids (MQTT-SN 1.2 section 5.3.11). */
		if (get_u16(c, key, rp->id, 1, 65534, 1, &id) != 0)
			return -1;
		for (unsigned j = 0; j < i; j++)
			if (out[j].id == id)
				return fail(c, "%s: id %u is already used by %s[%u]; ids must be unique", key, id, list,
					    j);
		snprintf(key, sizeof(key), "%s[%u].name", list, i);
		if (rp->name == NULL)
			return fail(c, "%s: missing; give the topic name, e.g. sensors/temperature", key);
		const char *why = topic_name_problem(rp->name, max_topic_len);
		if (why != NULL)
			return fail(c, "%s: '%s' %s; a topic name is 1..%u bytes without '+' or '#'", key,
				    show(rp->name, shown, sizeof(shown)), why, max_topic_len);
		for (unsigned j = 0; j < i; j++)
			if (strcmp(out[j].name, rp->name) == 0)
				return fail(c, "%s: '%s' is already predefined as %s[%u]; names must be unique", key,
					    show(rp->name, shown, sizeof(shown)), list, j);
		char *name = dup_str(rp->name);
		if (name == NULL)
			return fail(c, "%s: out of memory", key);
		p->id = id;
		p->name = name;
		*count = i + 1; /* owns out[0..i].name from here */
	}
	return 0;
}

/* "mqttsn.client_predefined": per ClientId (or prefix) predefined topics over the global ones,
 * the first rule naming a client deciding (like security.admission). */
static int load_client_predef(struct ctx *c, const struct raw_mqttsn *m, struct fo_config *cfg)
{
	struct broker_config *b = &cfg->broker;
	char key[96], shown[64];
	unsigned n = m->client_predefined_count;
	if (n == 0)
		return 0;
	if (n > FO_MAX_CLIENT_PREDEFINED)
		return fail(c, "mqttsn.client_predefined: %u rules given, at most %u", n, FO_MAX_CLIENT_PREDEFINED);
	cfg->client_predefined = calloc(n, sizeof(*cfg->client_predefined));
	if (cfg->client_predefined == NULL)
		return fail(c, "mqttsn.client_predefined: out of memory");
	b->client_predefined = cfg->client_predefined;
	for (unsigned i = 0; i < n; i++) {
		const struct raw_client_predef *rc = &m->client_predefined[i];
		struct broker_client_predefined *cp = &cfg->client_predefined[i];
		snprintf(key, sizeof(key), "mqttsn.client_predefined[%u]", i);
		if ((rc->client_id == NULL) == (rc->client_id_prefix == NULL))
			return fail(c, "%s: give exactly one of client_id and client_id_prefix", key);
		const char *id = rc->client_id ? rc->client_id : rc->client_id_prefix;
		size_t idlen = strlen(id);
		if (idlen > 23 || (rc->client_id && idlen == 0))
			return fail(c, "%s: '%s' is not a ClientId (1..23 bytes; a prefix may be empty)", key,
				    show(id, shown, sizeof(shown)));
		if (rc->topics_count > b->max_topics)
			return fail(c, "%s.topics: %u topics given but mqttsn.max_topics is %u; raise max_topics", key,
				    rc->topics_count, b->max_topics);
		char *idc = dup_str(id);
		struct broker_predefined *t = calloc(rc->topics_count ? rc->topics_count : 1, sizeof(*t));
		cp->client_id = (const uint8_t *)idc;
		cp->topics = t;
		b->n_client_predefined = i + 1; /* owns client_predefined[0..i] from here */
		if (idc == NULL || t == NULL)
			return fail(c, "%s: out of memory", key);
		cp->client_id_len = (uint8_t)idlen;
		cp->prefix = rc->client_id_prefix != NULL;
		snprintf(key, sizeof(key), "mqttsn.client_predefined[%u].topics", i);
		if (load_topic_list(c, key, rc->topics, rc->topics_count, t, &cp->n_topics, b->max_topic_len) != 0)
			return -1;
	}
	return 0;
}

static int load_mqttsn(struct ctx *c, const struct raw_config *r, struct fo_config *cfg)
{
	static const struct raw_mqttsn none;
	const struct raw_mqttsn *m = r->mqttsn ? r->mqttsn : &none;
	struct broker_config *b = &cfg->broker;
	uint32_t v;

	if (get_u32(c, "mqttsn.gateway_id", m->gateway_id, 0, 255, FO_DEFAULT_GATEWAY_ID, &v) != 0)
		return -1;
	b->gateway_id = (uint8_t)v;
	if (get_u32(c, "mqttsn.max_sessions", m->max_sessions, 1, 1u << 28, FO_DEFAULT_MAX_SESSIONS,
		    &b->max_sessions) != 0 ||
	    get_u32(c, "mqttsn.max_topics", m->max_topics, 1, 1u << 26, FO_DEFAULT_MAX_TOPICS, &b->max_topics) != 0 ||
	    get_u32(c, "mqttsn.max_client_topics", m->max_client_topics, 1, 1u << 28, FO_DEFAULT_MAX_CLIENT_TOPICS,
		    &b->max_client_topics) != 0 ||
	    get_u32(c, "mqttsn.max_subscriptions", m->max_subscriptions, 1, 1u << 28, FO_DEFAULT_MAX_SUBSCRIPTIONS,
		    &b->max_subscriptions) != 0 ||
	    get_u32(c, "mqttsn.max_inflight", m->max_inflight, 1, 1u << 28, FO_DEFAULT_MAX_INFLIGHT,
		    &b->max_inflight) != 0 ||
	    get_u32(c, "mqttsn.retry_interval_ms", m->retry_interval_ms, 1, UINT32_MAX, FO_DEFAULT_RETRY_INTERVAL_MS,
		    &b->retry_interval_ms) != 0 ||
	    get_u32(c, "mqttsn.retry_limit", m->retry_limit, 0, 255, FO_DEFAULT_RETRY_LIMIT, &b->retry_limit) != 0 ||
	    get_u32(c, "mqttsn.expiry_scan_per_tick", m->expiry_scan_per_tick, 1, UINT32_MAX, FO_DEFAULT_EXPIRY_SCAN,
		    &b->expiry_scan_per_tick) != 0 ||
	    get_u32(c, "mqttsn.session_expiry_s", m->session_expiry_s, 0, UINT32_MAX / 1000u,
		    FO_DEFAULT_SESSION_EXPIRY_S, &b->session_expiry_s) != 0 ||
	    get_u32(c, "mqttsn.offline_buffer", m->offline_buffer, 0, 255, FO_DEFAULT_OFFLINE_BUFFER,
		    &b->offline_buffer) != 0 ||
	    get_u32(c, "mqttsn.max_wills", m->max_wills, 0, 65535, FO_DEFAULT_MAX_WILLS, &b->max_wills) != 0 ||
	    get_u32(c, "mqttsn.will_max_bytes", m->will_max_bytes, 2, 4096, FO_DEFAULT_WILL_MAX_BYTES,
		    &b->will_max_bytes) != 0 ||
	    get_u32(c, "mqttsn.max_retained", m->max_retained, 0, 1u << 20, FO_DEFAULT_MAX_RETAINED,
		    &b->max_retained) != 0 ||
	    get_u32(c, "mqttsn.retained_bytes", m->retained_bytes, 0, UINT32_MAX, FO_DEFAULT_RETAINED_BYTES,
		    &b->retained_bytes) != 0 ||
	    get_u32(c, "mqttsn.max_forwarded_nodes", m->max_forwarded_nodes, 0, 1u << 28,
		    FO_DEFAULT_MAX_FORWARDED_NODES < b->max_sessions ? FO_DEFAULT_MAX_FORWARDED_NODES : b->max_sessions,
		    &b->max_forwarded_nodes) != 0 ||
	    get_u16(c, "mqttsn.max_topic_len", m->max_topic_len, 2, FO_MAX_TOPIC_LEN_LIMIT, FO_DEFAULT_MAX_TOPIC_LEN,
		    &b->max_topic_len) != 0)
		return -1;
	if (get_u32(c, "mqttsn.max_inflight_per_session", m->max_inflight_per_session, 1, 32768,
		    FO_DEFAULT_MAX_INFLIGHT_PER_SESSION, &b->max_inflight_per_session) != 0)
		return -1;
	if (b->max_inflight_per_session > b->max_inflight)
		return fail(c,
			    "mqttsn.max_inflight_per_session: %u is more than mqttsn.max_inflight (%u); "
			    "lower it or raise max_inflight",
			    b->max_inflight_per_session, b->max_inflight);
	if (b->max_forwarded_nodes > b->max_sessions)
		return fail(c,
			    "mqttsn.max_forwarded_nodes: %u is more than mqttsn.max_sessions (%u); "
			    "lower it or raise max_sessions",
			    b->max_forwarded_nodes, b->max_sessions);

	unsigned n = m->predefined_topics_count;
	if (n > b->max_topics)
		return fail(c,
			    "mqttsn.predefined_topics: %u topics given but mqttsn.max_topics is %u; "
			    "raise max_topics",
			    n, b->max_topics);
	if (n > 0) {
		cfg->predefined = calloc(n, sizeof(*cfg->predefined));
		if (cfg->predefined == NULL)
			return fail(c, "mqttsn.predefined_topics: out of memory");
		b->predefined = cfg->predefined;
		if (load_topic_list(c, "mqttsn.predefined_topics", m->predefined_topics, n, cfg->predefined,
				    &b->n_predefined, b->max_topic_len) != 0)
			return -1;
	}
	if (load_client_predef(c, m, cfg) != 0)
		return -1;
	const char *err = NULL;
	cfg->predef_set = predef_set_build(b->predefined, b->n_predefined, b->client_predefined, b->n_client_predefined,
					   b->max_topic_len, &err);
	if (err != NULL)
		return fail(c, "mqttsn.predefined_topics: %s", err);
	b->predef_set = cfg->predef_set;
	return 0;
}

static int get_bool(struct ctx *c, const char *key, const char *s, bool def, bool *out)
{
	char shown[64];
	if (s == NULL)
		*out = def;
	else if (strcmp(s, "true") == 0)
		*out = true;
	else if (strcmp(s, "false") == 0)
		*out = false;
	else
		return fail(c, "%s: '%s' is not true or false", key, show(s, shown, sizeof(shown)));
	return 0;
}

/* "security:" (docs/security.md): the defences of the engine and the rx stage. Defaults are the
 * safe ones; every value is checked against what the engine accepts. */
static int load_security(struct ctx *c, const struct raw_config *r, struct fo_config *cfg)
{
	static const struct raw_security none;
	const struct raw_security *m = r->security ? r->security : &none;
	struct broker_config *b = &cfg->broker;
	bool zero;
	char key[64], shown[64];
	/* Per-source room: one source (sessions_per_source sessions, each at its quotas) may hold at
	 * most half of a per-worker table, so a full table is never one other source's doing.
	 * Defaults shrink with small tables; explicit values that break this are refused. */
	uint32_t def_sps = FO_DEFAULT_SESSIONS_PER_SOURCE;
	if (def_sps > b->max_sessions / 2)
		def_sps = b->max_sessions / 2 ? b->max_sessions / 2 : 1;
	if (get_u32(c, "security.sessions_per_source", m->sessions_per_source, 0, 65535, def_sps,
		    &b->sessions_per_source) != 0)
		return -1;
	uint32_t sps = b->sessions_per_source ? b->sessions_per_source : 1;
	uint32_t topic_room = (b->max_topics < b->max_client_topics ? b->max_topics : b->max_client_topics) / 2;
	uint32_t def_tps = FO_DEFAULT_TOPICS_PER_SESSION, def_subs = FO_DEFAULT_SUBS_PER_SESSION;
	if (def_tps > topic_room / sps)
		def_tps = topic_room / sps ? topic_room / sps : 1;
	if (def_subs > b->max_subscriptions / 2 / sps)
		def_subs = b->max_subscriptions / 2 / sps ? b->max_subscriptions / 2 / sps : 1;
	if (get_bool(c, "security.address_proof", m->address_proof, true, &b->address_proof) != 0 ||
	    get_u32(c, "security.proof_timeout_ms", m->proof_timeout_ms, 1, 3600000u, FO_DEFAULT_PROOF_TIMEOUT_MS,
		    &b->proof_timeout_ms) != 0 ||
	    get_u16(c, "security.min_source_port", m->min_source_port, 1, 65535, FO_DEFAULT_MIN_SOURCE_PORT,
		    &cfg->min_source_port) != 0 ||
	    get_u16(c, "security.keepalive_min_s", m->keepalive_min_s, 1, 65535, FO_DEFAULT_KEEPALIVE_MIN_S,
		    &b->keepalive_min_s) != 0 ||
	    get_u16(c, "security.keepalive_max_s", m->keepalive_max_s, 1, 65535, FO_DEFAULT_KEEPALIVE_MAX_S,
		    &b->keepalive_max_s) != 0 ||
	    get_bool(c, "security.keepalive_zero", m->keepalive_zero, false, &zero) != 0 ||
	    get_u32(c, "security.topics_per_session", m->topics_per_session, 0, CTMAP_TID_MAX, def_tps,
		    &b->topics_per_session) != 0 ||
	    get_u32(c, "security.subscriptions_per_session", m->subscriptions_per_session, 0, 65535, def_subs,
		    &b->subscriptions_per_session) != 0 ||
	    get_u32(c, "security.wildcards_per_session", m->wildcards_per_session, 0, 65535,
		    FO_DEFAULT_WILDCARDS_PER_SESSION, &b->wildcards_per_session) != 0 ||
	    get_u16(c, "security.max_filter_levels", m->max_filter_levels, 0, 65535, FO_DEFAULT_MAX_FILTER_LEVELS,
		    &b->max_filter_levels) != 0 ||
	    get_u32(c, "security.max_giveups", m->max_giveups, 0, 255, FO_DEFAULT_MAX_GIVEUPS, &b->max_giveups) != 0 ||
	    get_u32(c, "security.error_replies_per_s", m->error_replies_per_s, 0, 1000000u,
		    FO_DEFAULT_ERROR_REPLIES_PER_S, &b->error_replies_per_s) != 0 ||
	    get_u32(c, "security.error_reply_burst", m->error_reply_burst, 1, 1000000u, FO_DEFAULT_ERROR_REPLY_BURST,
		    &b->error_reply_burst) != 0)
		return -1;
	b->refuse_keepalive_zero = !zero;
	if (b->sessions_per_source && b->sessions_per_source > b->max_sessions / 2)
		return fail(c,
			    "security.sessions_per_source: %u is more than half of mqttsn.max_sessions (%u): one "
			    "source could fill the table; lower it or raise max_sessions",
			    b->sessions_per_source, b->max_sessions);
	if (b->sessions_per_source && b->topics_per_session &&
	    (uint64_t)b->sessions_per_source * b->topics_per_session > topic_room)
		return fail(c,
			    "security.topics_per_session: %u x sessions_per_source %u is more than half of "
			    "mqttsn.max_topics / max_client_topics (%u): one source could fill them; lower it",
			    b->topics_per_session, b->sessions_per_source, topic_room * 2);
	if (b->sessions_per_source && b->subscriptions_per_session &&
	    (uint64_t)b->sessions_per_source * b->subscriptions_per_session > b->max_subscriptions / 2)
		return fail(c,
			    "security.subscriptions_per_session: %u x sessions_per_source %u is more than half of "
			    "mqttsn.max_subscriptions (%u): one source could fill it; lower it",
			    b->subscriptions_per_session, b->sessions_per_source, b->max_subscriptions);
	if (b->keepalive_max_s < b->keepalive_min_s)
		return fail(c, "security.keepalive_max_s: %u is below security.keepalive_min_s (%u); raise it",
			    b->keepalive_max_s, b->keepalive_min_s);
	if (m->admission_unlisted == NULL || strcmp(m->admission_unlisted, "admit") == 0)
		b->admission_reject_unlisted = false;
	else if (strcmp(m->admission_unlisted, "reject") == 0)
		b->admission_reject_unlisted = true;
	else
		return fail(c, "security.admission_unlisted: '%s' is not admit or reject",
			    show(m->admission_unlisted, shown, sizeof(shown)));
	unsigned n = m->admission_count;
	if (n == 0)
		return 0;
	if (n > FO_MAX_ADMISSION_RULES)
		return fail(c, "security.admission: %u rules given, at most %u", n, FO_MAX_ADMISSION_RULES);
	cfg->admission = calloc(n, sizeof(*cfg->admission));
	if (cfg->admission == NULL)
		return fail(c, "security.admission: out of memory");
	b->admission = cfg->admission;
	for (unsigned i = 0; i < n; i++) {
		const struct raw_admission *ra = &m->admission[i];
		struct broker_admission *a = &cfg->admission[i];
		snprintf(key, sizeof(key), "security.admission[%u]", i);
		if ((ra->client_id == NULL) == (ra->client_id_prefix == NULL))
			return fail(c, "%s: give exactly one of client_id and client_id_prefix", key);
		const char *id = ra->client_id ? ra->client_id : ra->client_id_prefix;
		size_t idlen = strlen(id);
		if (idlen > 23 || (ra->client_id && idlen == 0))
			return fail(c, "%s: '%s' is not a ClientId (1..23 bytes; a prefix may be empty)", key,
				    show(id, shown, sizeof(shown)));
		if (ra->from_count == 0)
			return fail(
				c,
				"%s.from: missing; list the source prefixes it may connect from, e.g. [198.18.0.0/24]",
				key);
		char *idc = dup_str(id);
		uint32_t *nets = calloc(ra->from_count, sizeof(*nets)), *masks = calloc(ra->from_count, sizeof(*masks));
		struct broker_net6 *nets6 = calloc(ra->from_count, sizeof(*nets6));
		a->client_id = (const uint8_t *)idc;
		a->nets = nets;
		a->masks = masks;
		a->nets6 = nets6;
		b->n_admission = i + 1; /* owns admission[0..i] from here */
		if (idc == NULL || nets == NULL || masks == NULL || nets6 == NULL)
			return fail(c, "%s: out of memory", key);
		a->client_id_len = (uint8_t)idlen;
		a->prefix = ra->client_id_prefix != NULL;
		for (unsigned j = 0; j < ra->from_count; j++) {
			snprintf(key, sizeof(key), "security.admission[%u].from[%u]", i, j);
			const char *v = ra->from[j];
			if (v != NULL && strchr(v, ':') != NULL) {
				if (parse_net6(c, key, v, &nets6[a->n_nets6]) != 0)
					return -1;
				a->n_nets6++;
				continue;
			}
			const char *end;
			uint32_t ip, len = 32;
			if (v == NULL || !parse_dotted(v, &ip, &end))
				return fail(c, "%s: '%s' is not an IPv4 or IPv6 prefix (a.b.c.d/len or 2001:db8::/32)",
					    key, show(v ? v : "", shown, sizeof(shown)));
			if (*end == '/') {
				char *e2;
				unsigned long l = strtoul(end + 1, &e2, 10);
				if (end[1] < '0' || end[1] > '9' || *e2 != '\0' || l > 32)
					return fail(c, "%s: '%s' is not an IPv4 prefix (a.b.c.d/len, len 0..32)", key,
						    show(v, shown, sizeof(shown)));
				len = (uint32_t)l;
			} else if (*end != '\0') {
				return fail(c, "%s: '%s' is not an IPv4 or IPv6 prefix (a.b.c.d/len or 2001:db8::/32)",
					    key, show(v, shown, sizeof(shown)));
			}
			uint32_t mask = len ? prefix_mask((uint8_t)len) : 0;
			if ((ip & ~mask) != 0)
				return fail(c, "%s: '%s' has host bits set; write the network address", key,
					    show(v, shown, sizeof(shown)));
			nets[a->n_nets] = ip;
			masks[a->n_nets] = mask;
			a->n_nets++;
		}
	}
	return 0;
}

/* discovery.destination6 and port6: the IPv6 ports' discovery group (a multicast address of a scope
 * beyond the node, not a solicited-node group: ours are Neighbor Discovery's) and its UDP port. */
static int load_discovery6(struct ctx *c, const struct raw_discovery *m, struct fo_config *cfg)
{
	struct fo_discovery_config *d = &cfg->discovery;
	char shown[64];
	d->has_dest6 = false;
	memset(d->dest6, 0, sizeof(d->dest6));
	d->dest6_port = 0;
	if (m->port6 != NULL &&
	    get_u16(c, "discovery.port6", m->port6, 1, 65535, FO_DEFAULT_MQTTSN_PORT, &d->dest6_port) != 0)
		return -1;
	if (m->destination6 == NULL) {
		if (m->port6 != NULL)
			return fail(c, "discovery.port6: given without discovery.destination6; add the group or omit "
				       "the key");
		return 0;
	}
	const char *s = m->destination6;
	uint8_t *g = d->dest6;
	if (strlen(s) >= INET6_ADDRSTRLEN || inet_pton(AF_INET6, s, g) != 1)
		return fail(c,
			    "discovery.destination6: '%s' is not an IPv6 address (expected a multicast group, e.g. "
			    "ff02::4d51; its port is discovery.port6)",
			    show(s, shown, sizeof(shown)));
	if (g[0] != 0xff)
		return fail(c,
			    "discovery.destination6: '%s' is not a multicast address (ff00::/8); give the group "
			    "ADVERTISE goes to and SEARCHGW is taken on",
			    show(s, shown, sizeof(shown)));
	uint8_t scope = g[1] & 0x0f;
	if (scope == 0 || scope == 1 || scope == 0xf)
		return fail(c,
			    "discovery.destination6: '%s' has scope %u, which no link carries; use link-local (ff02::) "
			    "or a wider scope",
			    show(s, shown, sizeof(shown)), scope);
	static const uint8_t snm[13] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff };
	if (memcmp(g, snm, 13) == 0)
		return fail(c,
			    "discovery.destination6: '%s' is a solicited-node group (ff02::1:ff00:0/104), "
			    "Neighbor Discovery's",
			    show(s, shown, sizeof(shown)));
	bool any = false;
	for (uint32_t i = 0; i < cfg->n_ports; i++)
		any = any || cfg->ports[i].has_ip6;
	if (!any)
		return fail(c,
			    "discovery.destination6: '%s' given but no port has `ipv6`; add ports[i].ipv6 or omit "
			    "the key",
			    show(s, shown, sizeof(shown)));
	d->has_dest6 = true;
	return 0;
}

/* "discovery:" (spec 6.1). The destination is where ADVERTISE goes: the limited broadcast, a
 * port's subnet broadcast, a multicast group (every port), or one host reachable from a port. */
static int load_discovery(struct ctx *c, const struct raw_config *r, struct fo_config *cfg)
{
	static const struct raw_discovery none;
	const struct raw_discovery *m = r->discovery ? r->discovery : &none;
	struct fo_discovery_config *d = &cfg->discovery;
	char shown[64];
	uint32_t ttl;
	if (get_bool(c, "discovery.advertise", m->advertise, false, &d->advertise) != 0 ||
	    get_u16(c, "discovery.interval_s", m->interval_s, 1, 65535, FO_DEFAULT_ADVERTISE_INTERVAL_S,
		    &d->interval_s) != 0 ||
	    get_u32(c, "discovery.ttl", m->ttl, 1, 255, FO_DEFAULT_ADVERTISE_TTL, &ttl) != 0 ||
	    get_u32(c, "discovery.gwinfo_broadcasts_per_s", m->gwinfo_broadcasts_per_s, 1, 1000000u,
		    FO_DEFAULT_GWINFO_BROADCASTS_PER_S, &d->gwinfo_broadcasts_per_s) != 0)
		return -1;
	d->ttl = (uint8_t)ttl;
	if (m->gwinfo == NULL || strcmp(m->gwinfo, "broadcast") == 0)
		d->gwinfo = FO_GWINFO_BROADCAST;
	else if (strcmp(m->gwinfo, "unicast") == 0)
		d->gwinfo = FO_GWINFO_UNICAST;
	else
		return fail(c, "discovery.gwinfo: '%s' is not broadcast or unicast",
			    show(m->gwinfo, shown, sizeof(shown)));
	if (load_discovery6(c, m, cfg) != 0)
		return -1;
	d->dest_ip = 0xffffffffu;
	d->dest_port = 0;
	if (m->destination == NULL)
		return 0;
	const char *s = m->destination, *end;
	uint32_t ip;
	if (!parse_dotted(s, &ip, &end) || (*end != ':' && *end != '\0'))
		return fail(c, "discovery.destination: '%s' is not IPv4[:port]; write e.g. 255.255.255.255:1883",
			    show(s, shown, sizeof(shown)));
	if (*end == ':') {
		char *pe;
		errno = 0;
		unsigned long port = strtoul(end + 1, &pe, 10);
		if (end[1] < '1' || end[1] > '9' || *pe != '\0' || errno != 0 || port > 65535)
			return fail(c, "discovery.destination: '%s' has no valid UDP port; use 1..65535 after the ':'",
				    show(s, shown, sizeof(shown)));
		d->dest_port = (uint16_t)port;
	}
	d->dest_ip = ip;
	if (ip == 0xffffffffu || (ip >> 28) == 0xe)
		return 0; /* the limited broadcast or a multicast group: out of every port */
	if ((ip >> 24) == 0 || (ip >> 24) == 127 || (ip >> 28) == 0xf)
		return fail(c, "discovery.destination: '%s' is neither a broadcast, a multicast nor a host address",
			    show(s, shown, sizeof(shown)));
	bool reachable = false;
	for (uint32_t i = 0; i < cfg->n_ports; i++) {
		const struct fo_port_config *p = &cfg->ports[i];
		uint32_t mk = prefix_mask(p->prefix_len);
		if (ip == p->ip)
			return fail(c, "discovery.destination: '%s' is ports[%u]'s own address",
				    show(s, shown, sizeof(shown)), i);
		if ((ip & mk) == (p->ip & mk) && p->prefix_len <= 30 && (ip & ~mk) == 0)
			return fail(c,
				    "discovery.destination: '%s' is the network address of ports[%u]'s subnet; give "
				    "its broadcast address or a host",
				    show(s, shown, sizeof(shown)), i);
		reachable = reachable || (ip & mk) == (p->ip & mk) || p->gateway != 0;
	}
	if (!reachable)
		return fail(c,
			    "discovery.destination: '%s' is on no port's subnet and no port has a gateway; add "
			    "`gateway:` to the port that leads there",
			    show(s, shown, sizeof(shown)));
	return 0;
}

static int load_stats(struct ctx *c, const struct raw_config *r, struct fo_config *cfg)
{
	if (r->stats == NULL || r->stats->file == NULL)
		return 0;
	if (r->stats->file[0] == '\0')
		return fail(c, "stats.file: empty; give a path, or omit the key to print stats to stdout");
	cfg->stats_file = dup_str(r->stats->file);
	if (cfg->stats_file == NULL)
		return fail(c, "stats.file: out of memory");
	return 0;
}

/* A route destination "a.b.c.d:port". The next hop must be reachable from some port: on-link,
 * or through a port's gateway. */
static int load_dest(struct ctx *c, const char *key, const char *s, const struct fo_config *cfg,
		     struct fo_route_dest *d)
{
	char shown[64];
	const char *end;
	uint32_t ip;
	if (s == NULL || !parse_dotted(s, &ip, &end) || *end != ':')
		return fail(c, "%s: '%s' is not IPv4:port; write e.g. 198.18.1.2:9000", key,
			    show(s ? s : "", shown, sizeof(shown)));
	char *pe;
	errno = 0;
	unsigned long port = strtoul(end + 1, &pe, 10);
	if (end[1] < '1' || end[1] > '9' || *pe != '\0' || errno != 0 || port == 0 || port > 65535)
		return fail(c, "%s: '%s' has no valid UDP port; use 1..65535 after the ':', without leading zeros", key,
			    show(s, shown, sizeof(shown)));
	/* 0/8 ("this network"), loopback, multicast, reserved 240/4 and 255.255.255.255. */
	if ((ip >> 24) == 0 || (ip >> 24) == 127 || (ip >> 28) >= 0xe)
		return fail(c, "%s: '%s' is not a unicast host address; routes send to one host each", key,
			    show(s, shown, sizeof(shown)));
	bool reachable = false;
	for (uint32_t i = 0; i < cfg->n_ports; i++) {
		const struct fo_port_config *p = &cfg->ports[i];
		uint32_t m = prefix_mask(p->prefix_len);
		bool on_link = (ip & m) == (p->ip & m);
		if (ip == p->ip)
			return fail(c,
				    "%s: '%s' is ports[%u]'s own address; give the host that should receive "
				    "the copies",
				    key, show(s, shown, sizeof(shown)), i);
		if (on_link && p->prefix_len <= 30 && ((ip & ~m) == 0 || (ip & ~m) == ~m)) {
			char net[16];
			ip_str(p->ip & m, net, sizeof(net));
			return fail(c,
				    "%s: '%s' is the %s address of ports[%u]'s subnet %s/%u, not a unicast "
				    "host address; routes send to one host each",
				    key, show(s, shown, sizeof(shown)), (ip & ~m) == 0 ? "network" : "broadcast", i,
				    net, p->prefix_len);
		}
		reachable = reachable || on_link || p->gateway != 0;
	}
	if (!reachable)
		return fail(c,
			    "%s: '%s' is on no port's subnet and no port has a gateway; add `gateway:` to "
			    "the port that leads there",
			    key, show(s, shown, sizeof(shown)));
	d->ip = ip;
	d->port = (uint16_t)port;
	return 0;
}

/* A stream key or remote topic template: printable, no NUL; "{topic}" is replaced by the
 * publish's topic. A bridge topic must leave a valid MQTT topic: no '+' or '#'. hash_tags (the
 * stream key of a sink on a Redis Cluster): other braces are kept as they are, a hash tag that puts
 * the route's streams in one slot ("{fleet}:{topic}", or "{{topic}}" for the topic as the tag); only a
 * near miss of the placeholder ("{Topic}", "{topic") is refused. */
static int load_template(struct ctx *c, const char *key, const char *s, const char *def, bool mqtt_topic,
			 bool hash_tags, char **out)
{
	char shown[64];
	if (s == NULL)
		s = def;
	size_t len = strlen(s);
	if (len == 0 || len > FO_MAX_TEMPLATE_LEN)
		return fail(c, "%s: '%s' must be 1..%u bytes; e.g. %s", key, show(s, shown, sizeof(shown)),
			    FO_MAX_TEMPLATE_LEN, def);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch == 0x7f)
			return fail(c, "%s: '%s' has a control character; use printable text and {topic}", key,
				    show(s, shown, sizeof(shown)));
		if (mqtt_topic && (ch == '+' || ch == '#'))
			return fail(c, "%s: '%s' has a wildcard; a remote topic name cannot contain '+' or '#'", key,
				    show(s, shown, sizeof(shown)));
	}
	for (const char *b = strchr(s, '{'); b != NULL; b = strchr(b + 1, '{')) {
		if (strncmp(b, "{topic}", 7) == 0)
			continue;
		if (!hash_tags)
			return fail(c, "%s: '%s' has a '{' that is not {topic}; {topic} is the only placeholder", key,
				    show(s, shown, sizeof(shown)));
		if (strncasecmp(b, "{topic", 6) == 0)
			return fail(c, "%s: '%s' has '%.7s', which is not the placeholder {topic}", key,
				    show(s, shown, sizeof(shown)), b);
	}
	if ((*out = dup_str(s)) == NULL)
		return fail(c, "%s: out of memory", key);
	return 0;
}

static int load_output_route(struct ctx *c, unsigned i, const struct raw_route *rr, const struct fo_config *cfg,
			     struct fo_route_config *rt)
{
	char key[64], shown[64];
	if (rr->format != NULL || rr->topic_id != NULL)
		return fail(c, "routes[%u].%s: only for UDP routes (to:); a %s route writes the topic and payload", i,
			    rr->format ? "format" : "topic_id", rr->sink ? "sink" : "bridge");
	if (rr->sink != NULL) {
		snprintf(key, sizeof(key), "routes[%u].sink", i);
		uint32_t k = 0;
		while (k < cfg->n_sinks && strcmp(cfg->sinks[k].name, rr->sink) != 0)
			k++;
		if (k == cfg->n_sinks)
			return fail(c, "%s: '%s' is not the name of an entry of sinks:; define it there", key,
				    show(rr->sink, shown, sizeof(shown)));
		if (rr->topic != NULL)
			return fail(c,
				    "routes[%u].topic: only for bridge: routes; a sink route names its stream with "
				    "stream:",
				    i);
		rt->kind = FO_ROUTE_SINK;
		rt->target = (uint8_t)k;
		snprintf(key, sizeof(key), "routes[%u].stream", i);
		return load_template(c, key, rr->stream, "fanout:{topic}", false, cfg->sinks[k].cluster, &rt->tmpl);
	}
	snprintf(key, sizeof(key), "routes[%u].bridge", i);
	uint32_t k = 0;
	while (k < cfg->n_bridges && strcmp(cfg->bridges[k].name, rr->bridge) != 0)
		k++;
	if (k == cfg->n_bridges)
		return fail(c, "%s: '%s' is not the name of an entry of bridges:; define it there", key,
			    show(rr->bridge, shown, sizeof(shown)));
	if (rr->stream != NULL)
		return fail(c,
			    "routes[%u].stream: only for sink: routes; a bridge route names its remote topic "
			    "with topic:",
			    i);
	rt->kind = FO_ROUTE_BRIDGE;
	rt->target = (uint8_t)k;
	snprintf(key, sizeof(key), "routes[%u].topic", i);
	return load_template(c, key, rr->topic, "{topic}", true, false, &rt->tmpl);
}

static bool name_ok(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len > FO_MAX_ROUTE_NAME)
		return false;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '_' || *p == '.'))
			return false;
	return true;
}

/* A power-of-two size with its own default and bounds. */
static int get_pow2(struct ctx *c, const char *key, const char *s, uint32_t min, uint32_t max, uint32_t def,
		    uint32_t *out)
{
	if (get_u32(c, key, s, min, max, def, out) != 0)
		return -1;
	if (!is_pow2(*out))
		return fail(c, "%s: %u is not a power of two; use e.g. %u", key, *out, pow2_at_least(*out));
	return 0;
}

/* password: or password_file: (its first line), never both. */
static int load_secret(struct ctx *c, const char *prefix, const char *pw, const char *pw_file, char **out)
{
	char shown[64];
	if (pw != NULL && pw_file != NULL)
		return fail(c, "%s.password_file: give password or password_file, not both", prefix);
	if (pw == NULL && pw_file == NULL)
		return 0;
	char buf[FO_MAX_SECRET_LEN + 2];
	if (pw_file != NULL) {
		FILE *f = fopen(pw_file, "r");
		if (f == NULL)
			return fail(c, "%s.password_file: cannot open '%s': %s", prefix,
				    show(pw_file, shown, sizeof(shown)), strerror(errno));
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		buf[strcspn(buf, "\r\n")] = '\0';
		pw = buf;
	}
	if (strlen(pw) == 0 || strlen(pw) > FO_MAX_SECRET_LEN)
		return fail(c, "%s.password: must be 1..%u bytes", prefix, FO_MAX_SECRET_LEN);
	if ((*out = dup_str(pw)) == NULL)
		return fail(c, "%s.password: out of memory", prefix);
	return 0;
}

/* A list of named outputs ("sinks:", "bridges:"): what every kind checks the same way (the
 * count within the config's max, each name valid and unique) is done here; load_item reads
 * the rest of one item, whose config struct the loader has named already. Raw and config
 * items are arrays of raw_size / item_size bytes with their name at the given offsets. */
struct output_list {
	const char *list; /* the config key, "sinks" */
	unsigned max;     /* FO_MAX_SINKS */
	const void *raw;
	unsigned n_raw;
	size_t raw_size, raw_name;
	void **items;      /* the array, allocated here; the caller stores it as cfg->sinks */
	uint32_t *n_items; /* &cfg->n_sinks: counts the items to free from the first one on */
	size_t item_size, item_name;
	int (*load_item)(struct ctx *c, const char *pre, const void *raw, void *item);
};

static const char *name_in(const void *base, size_t size, size_t off, unsigned i)
{
	return *(char *const *)((const char *)base + (size_t)i * size + off);
}

static int load_outputs(struct ctx *c, const struct output_list *o)
{
	char pre[48], shown[64];
	unsigned n = o->n_raw;
	if (n == 0)
		return 0;
	if (n > o->max)
		return fail(c, "%s: %u %s given, at most %u", o->list, n, o->list, o->max);
	if ((*o->items = calloc(n, o->item_size)) == NULL)
		return fail(c, "%s: out of memory", o->list);
	for (unsigned i = 0; i < n; i++) {
		const void *raw = (const char *)o->raw + (size_t)i * o->raw_size;
		void *item = (char *)*o->items + (size_t)i * o->item_size;
		const char *name = name_in(o->raw, o->raw_size, o->raw_name, i);
		*o->n_items = i + 1;
		snprintf(pre, sizeof(pre), "%s[%u]", o->list, i);
		if (name == NULL || !name_ok(name))
			return fail(c, "%s.name: '%s' %s; give 1..%u characters of [A-Za-z0-9._-]", pre,
				    show(name ? name : "", shown, sizeof(shown)), name ? "is not a name" : "is missing",
				    FO_MAX_ROUTE_NAME);
		for (unsigned j = 0; j < i; j++)
			if (strcmp(name_in(*o->items, o->item_size, o->item_name, j), name) == 0)
				return fail(c, "%s.name: '%s' is already the name of %s[%u]; names must be unique", pre,
					    show(name, shown, sizeof(shown)), o->list, j);
		char *copy = dup_str(name);
		if (copy == NULL)
			return fail(c, "%s: out of memory", pre);
		memcpy((char *)item + o->item_name, &copy, sizeof(copy));
		if (o->load_item(c, pre, raw, item) != 0)
			return -1;
	}
	return 0;
}

/* One entry of "sinks:" past its name. */
static int load_sink(struct ctx *c, const char *pre, const void *raw, void *item)
{
	const struct raw_sink *rs = raw;
	struct fo_sink_config *k = item;
	char key[96], shown[64];
	snprintf(key, sizeof(key), "%s.redis", pre);
	if (rs->redis == NULL || rs->redis[0] == '\0')
		return fail(c,
			    "%s: missing; give host:port (e.g. 127.0.0.1:6379) or a unix socket path "
			    "(e.g. /run/redis/redis-server.sock)",
			    key);
	if (rs->redis[0] == '/') {
		if (strlen(rs->redis) >= 108)
			return fail(c, "%s: '%s' is longer than a unix socket path may be (107 bytes)", key,
				    show(rs->redis, shown, sizeof(shown)));
		if ((k->unix_path = dup_str(rs->redis)) == NULL)
			return fail(c, "%s: out of memory", key);
	} else {
		const char *colon = strrchr(rs->redis, ':');
		char *pe;
		errno = 0;
		unsigned long port = colon ? strtoul(colon + 1, &pe, 10) : 0;
		if (colon == NULL || colon == rs->redis || colon[1] < '1' || colon[1] > '9' || *pe != '\0' ||
		    errno != 0 || port == 0 || port > 65535)
			return fail(c,
				    "%s: '%s' is neither host:port nor an absolute unix socket path; "
				    "e.g. 127.0.0.1:6379",
				    key, show(rs->redis, shown, sizeof(shown)));
		k->port = (uint16_t)port;
		if ((k->host = strndup(rs->redis, (size_t)(colon - rs->redis))) == NULL)
			return fail(c, "%s: out of memory", key);
	}
	if (rs->username != NULL) {
		if (rs->username[0] == '\0' || strlen(rs->username) > 255)
			return fail(c, "%s.username: must be 1..255 bytes (the Redis ACL user)", pre);
		if (rs->password == NULL && rs->password_file == NULL)
			return fail(c, "%s.username: an ACL user needs password: or password_file:", pre);
		if ((k->username = dup_str(rs->username)) == NULL)
			return fail(c, "%s: out of memory", pre);
	}
	if (load_secret(c, pre, rs->password, rs->password_file, &k->password) != 0)
		return -1;
	uint64_t v;
	snprintf(key, sizeof(key), "%s.db", pre);
	if (get_u32(c, key, rs->db, 0, 1u << 20, 0, &k->db) != 0)
		return -1;
	snprintf(key, sizeof(key), "%s.ring", pre);
	if (get_pow2(c, key, rs->ring, 64, FO_MAX_RING_SIZE, FO_DEFAULT_SINK_RING, &k->ring) != 0)
		return -1;
	snprintf(key, sizeof(key), "%s.batch", pre);
	if (get_u32(c, key, rs->batch, 1, FO_MAX_SINK_BATCH, FO_DEFAULT_SINK_BATCH, &k->batch) != 0)
		return -1;
	snprintf(key, sizeof(key), "%s.batch_us", pre);
	if (get_u32(c, key, rs->batch_us, 0, 1000000, FO_DEFAULT_SINK_BATCH_US, &k->batch_us) != 0)
		return -1;
	snprintf(key, sizeof(key), "%s.maxlen", pre);
	if (get_num(c, key, rs->maxlen, 0, UINT64_MAX / 2, FO_DEFAULT_SINK_MAXLEN, &v) != 0)
		return -1;
	k->maxlen = v;
	snprintf(key, sizeof(key), "%s.timeout_ms", pre);
	if (get_u32(c, key, rs->timeout_ms, 10, 600000, FO_DEFAULT_SINK_TIMEOUT_MS, &k->timeout_ms) != 0)
		return -1;
	snprintf(key, sizeof(key), "%s.reconnect_min_ms", pre);
	if (get_u32(c, key, rs->reconnect_min_ms, 1, 600000, FO_DEFAULT_RECONNECT_MIN_MS, &k->reconnect_min_ms) != 0)
		return -1;
	snprintf(key, sizeof(key), "%s.reconnect_max_ms", pre);
	if (get_u32(c, key, rs->reconnect_max_ms, k->reconnect_min_ms, 600000,
		    k->reconnect_min_ms > FO_DEFAULT_RECONNECT_MAX_MS ? k->reconnect_min_ms
								      : FO_DEFAULT_RECONNECT_MAX_MS,
		    &k->reconnect_max_ms) != 0)
		return -1;
	snprintf(key, sizeof(key), "%s.puback", pre);
	if (rs->puback == NULL || strcmp(rs->puback, "accepted") == 0)
		k->puback = FO_PUBACK_ACCEPTED;
	else if (strcmp(rs->puback, "written") == 0)
		k->puback = FO_PUBACK_WRITTEN;
	else
		return fail(c,
			    "%s: '%s' is not a mode; use accepted (in the sink's backlog) or written "
			    "(confirmed by Redis)",
			    key, show(rs->puback, shown, sizeof(shown)));
	snprintf(key, sizeof(key), "%s.cluster", pre);
	if (get_bool(c, key, rs->cluster, false, &k->cluster) != 0)
		return -1;
	if (k->cluster && k->unix_path)
		return fail(c,
			    "%s: a Redis Cluster is reached over TCP; give a seed node as host:port (the nodes "
			    "announce TCP addresses)",
			    key);
	if (k->cluster && k->db)
		return fail(c, "%s: a Redis Cluster has only database 0; remove db: %u", key, k->db);
	snprintf(key, sizeof(key), "%s.wait_replicas", pre);
	if (get_u32(c, key, rs->wait_replicas, 0, 16, 0, &k->wait_replicas) != 0)
		return -1;
	return 0;
}

static int load_sinks(struct ctx *c, const struct raw_config *r, struct fo_config *cfg)
{
	void *items = NULL;
	const struct output_list o = {
		.list = "sinks",
		.max = FO_MAX_SINKS,
		.raw = r->sinks,
		.n_raw = r->sinks_count,
		.raw_size = sizeof(*r->sinks),
		.raw_name = offsetof(struct raw_sink, name),
		.items = &items,
		.n_items = &cfg->n_sinks,
		.item_size = sizeof(*cfg->sinks),
		.item_name = offsetof(struct fo_sink_config, name),
		.load_item = load_sink,
	};
	int rc = load_outputs(c, &o);
	cfg->sinks = items; /* also on failure: n_sinks says how many to free */
	return rc;
}

static bool host_ok(const char *h)
{
	size_t len = strlen(h);
	if (len == 0 || len > 253)
		return false;
	for (const char *p = h; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '.' || *p == ':'))
			return false;
	return true;
}

static int load_file_key(struct ctx *c, const char *key, const char *path, char **out)
{
	char shown[64];
	if (path == NULL)
		return 0;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return fail(c, "%s: cannot open '%s': %s", key, show(path, shown, sizeof(shown)), strerror(errno));
	fclose(f);
	if ((*out = dup_str(path)) == NULL)
		return fail(c, "%s: out of memory", key);
	return 0;
}

/* One entry of "bridges:" past its name. */
static int load_bridge(struct ctx *c, const char *pre, const void *raw, void *item)
{
	const struct raw_bridge *rb = raw;
	struct fo_bridge_config *b = item;
	char key[96], shown[64];
	snprintf(key, sizeof(key), "%s.host", pre);
	if (rb->host == NULL || !host_ok(rb->host))
		return fail(c, "%s: '%s' %s; give the broker's address or host name", key,
			    show(rb->host ? rb->host : "", shown, sizeof(shown)),
			    rb->host ? "is not a host" : "is missing");
	if ((b->host = dup_str(rb->host)) == NULL)
		return fail(c, "%s: out of memory", key);
	bool tls = rb->tls != NULL;
	snprintf(key, sizeof(key), "%s.port", pre);
	if (get_u16(c, key, rb->port, 1, 65535, tls ? 8883 : 1883, &b->port) != 0)
		return -1;
	snprintf(key, sizeof(key), "%s.protocol", pre);
	if (rb->protocol == NULL || strcmp(rb->protocol, "mqttv311") == 0)
		b->protocol = 4;
	else if (strcmp(rb->protocol, "mqttv5") == 0)
		b->protocol = 5;
	else
		return fail(c, "%s: '%s' is not supported; use mqttv311 or mqttv5", key,
			    show(rb->protocol, shown, sizeof(shown)));
	snprintf(key, sizeof(key), "%s.client_id", pre);
	char defid[96];
	snprintf(defid, sizeof(defid), "fanout-%s", b->name);
	const char *cid = rb->client_id ? rb->client_id : defid;
	if (cid[0] == '\0' || strlen(cid) > 65535)
		return fail(c, "%s: must not be empty", key);
	if ((b->client_id = dup_str(cid)) == NULL)
		return fail(c, "%s: out of memory", key);
	if (rb->username != NULL && (b->username = dup_str(rb->username)) == NULL)
		return fail(c, "%s.username: out of memory", pre);
	if (rb->username == NULL && (rb->password != NULL || rb->password_file != NULL))
		return fail(c, "%s.password: MQTT sends a password only with a username; add username:", pre);
	if (load_secret(c, pre, rb->password, rb->password_file, &b->password) != 0)
		return -1;
	if (tls) {
		b->tls = true;
		snprintf(key, sizeof(key), "%s.tls.ca_file", pre);
		if (rb->tls->ca_file == NULL)
			return fail(c, "%s: missing; give the CA certificate (PEM) that signed the broker's", key);
		if (load_file_key(c, key, rb->tls->ca_file, &b->tls_ca_file) != 0)
			return -1;
		snprintf(key, sizeof(key), "%s.tls.cert_file", pre);
		if (load_file_key(c, key, rb->tls->cert_file, &b->tls_cert_file) != 0)
			return -1;
		snprintf(key, sizeof(key), "%s.tls.key_file", pre);
		if (load_file_key(c, key, rb->tls->key_file, &b->tls_key_file) != 0)
			return -1;
		if ((b->tls_cert_file == NULL) != (b->tls_key_file == NULL))
			return fail(c, "%s.tls: a client certificate needs both cert_file and key_file", pre);
		snprintf(key, sizeof(key), "%s.tls.insecure", pre);
		if (get_bool(c, key, rb->tls->insecure, false, &b->tls_insecure) != 0)
			return -1;
	}
	snprintf(key, sizeof(key), "%s.keepalive_s", pre);
	if (get_u16(c, key, rb->keepalive_s, 5, 65535, FO_DEFAULT_BRIDGE_KEEPALIVE_S, &b->keepalive_s) != 0)
		return -1;
	snprintf(key, sizeof(key), "%s.ring", pre);
	if (get_pow2(c, key, rb->ring, 64, FO_MAX_RING_SIZE, FO_DEFAULT_BRIDGE_RING, &b->ring) != 0)
		return -1;
	snprintf(key, sizeof(key), "%s.max_inflight", pre);
	if (get_u32(c, key, rb->max_inflight, 1, 65535, FO_DEFAULT_BRIDGE_INFLIGHT, &b->max_inflight) != 0)
		return -1;
	snprintf(key, sizeof(key), "%s.reconnect_min_ms", pre);
	if (get_u32(c, key, rb->reconnect_min_ms, 1, 600000, FO_DEFAULT_RECONNECT_MIN_MS, &b->reconnect_min_ms) != 0)
		return -1;
	snprintf(key, sizeof(key), "%s.reconnect_max_ms", pre);
	if (get_u32(c, key, rb->reconnect_max_ms, b->reconnect_min_ms, 600000,
		    b->reconnect_min_ms > FO_DEFAULT_RECONNECT_MAX_MS ? b->reconnect_min_ms
								      : FO_DEFAULT_RECONNECT_MAX_MS,
		    &b->reconnect_max_ms) != 0)
		return -1;
	if (rb->subscribe_count > FO_MAX_BRIDGE_SUBS)
		return fail(c, "%s.subscribe: %u entries, at most %u", pre, rb->subscribe_count, FO_MAX_BRIDGE_SUBS);
	if (rb->subscribe_count && (b->subs = calloc(rb->subscribe_count, sizeof(*b->subs))) == NULL)
		return fail(c, "%s.subscribe: out of memory", pre);
	for (unsigned j = 0; j < rb->subscribe_count; j++) {
		const struct raw_bridge_sub *rs = &rb->subscribe[j];
		struct fo_bridge_sub *sb = &b->subs[j];
		b->n_subs = j + 1;
		snprintf(key, sizeof(key), "%s.subscribe[%u].filter", pre, j);
		if (rs->filter == NULL || !topic_filter_valid((const uint8_t *)rs->filter, strlen(rs->filter), 65535))
			return fail(c, "%s: '%s' %s; give an MQTT topic filter such as cmd/#", key,
				    show(rs->filter ? rs->filter : "", shown, sizeof(shown)),
				    rs->filter ? "is not a valid topic filter" : "is missing");
		if ((sb->filter = dup_str(rs->filter)) == NULL)
			return fail(c, "%s: out of memory", key);
		snprintf(key, sizeof(key), "%s.subscribe[%u].qos", pre, j);
		uint32_t q;
		if (get_u32(c, key, rs->qos, 0, 1, 0, &q) != 0)
			return -1;
		sb->qos = (uint8_t)q;
		snprintf(key, sizeof(key), "%s.subscribe[%u].local_prefix", pre, j);
		const char *lp = rs->local_prefix ? rs->local_prefix : "";
		if (strlen(lp) > FO_MAX_TEMPLATE_LEN || strpbrk(lp, "+#") != NULL)
			return fail(c, "%s: '%s' must be at most %u bytes without '+' or '#'", key,
				    show(lp, shown, sizeof(shown)), FO_MAX_TEMPLATE_LEN);
		if ((sb->local_prefix = dup_str(lp)) == NULL)
			return fail(c, "%s: out of memory", key);
		snprintf(key, sizeof(key), "%s.subscribe[%u].strip_prefix", pre, j);
		const char *sp = rs->strip_prefix ? rs->strip_prefix : "";
		if (strlen(sp) > FO_MAX_TEMPLATE_LEN || strpbrk(sp, "+#") != NULL)
			return fail(c, "%s: '%s' must be at most %u bytes without '+' or '#'", key,
				    show(sp, shown, sizeof(shown)), FO_MAX_TEMPLATE_LEN);
		if ((sb->strip_prefix = dup_str(sp)) == NULL)
			return fail(c, "%s: out of memory", key);
	}
	if (rb->follow_count > FO_MAX_BRIDGE_SUBS)
		return fail(c, "%s.follow: %u entries, at most %u", pre, rb->follow_count, FO_MAX_BRIDGE_SUBS);
	if (rb->follow_count && b->protocol != 5)
		return fail(c,
			    "%s.follow: needs protocol: mqttv5 (No Local and the origin property keep a "
			    "message from coming back to the appliance that sent it up)",
			    pre);
	if (rb->follow_count && (b->follow = calloc(rb->follow_count, sizeof(*b->follow))) == NULL)
		return fail(c, "%s.follow: out of memory", pre);
	for (unsigned j = 0; j < rb->follow_count; j++) {
		const struct raw_bridge_sub *rs = &rb->follow[j];
		struct fo_bridge_sub *sb = &b->follow[j];
		b->n_follow = j + 1;
		snprintf(key, sizeof(key), "%s.follow[%u].filter", pre, j);
		if (rs->filter == NULL ||
		    !topic_filter_valid((const uint8_t *)rs->filter, strlen(rs->filter), FO_FOLLOW_FILTER_MAX))
			return fail(c, "%s: '%s' %s; give an MQTT topic filter of at most %u bytes such as fleet/#",
				    key, show(rs->filter ? rs->filter : "", shown, sizeof(shown)),
				    rs->filter ? "is not a valid topic filter" : "is missing", FO_FOLLOW_FILTER_MAX);
		if (rs->local_prefix || rs->strip_prefix)
			return fail(c,
				    "%s.follow[%u]: local_prefix and strip_prefix are for subscribe: entries; a "
				    "followed filter has the same name locally and upstream",
				    pre, j);
		if ((sb->filter = dup_str(rs->filter)) == NULL || (sb->local_prefix = dup_str("")) == NULL ||
		    (sb->strip_prefix = dup_str("")) == NULL)
			return fail(c, "%s: out of memory", key);
		snprintf(key, sizeof(key), "%s.follow[%u].qos", pre, j);
		uint32_t q;
		if (get_u32(c, key, rs->qos, 0, 1, 1, &q) != 0)
			return -1;
		sb->qos = (uint8_t)q;
	}
	return 0;
}

static int load_bridges(struct ctx *c, const struct raw_config *r, struct fo_config *cfg)
{
	void *items = NULL;
	const struct output_list o = {
		.list = "bridges",
		.max = FO_MAX_BRIDGES,
		.raw = r->bridges,
		.n_raw = r->bridges_count,
		.raw_size = sizeof(*r->bridges),
		.raw_name = offsetof(struct raw_bridge, name),
		.items = &items,
		.n_items = &cfg->n_bridges,
		.item_size = sizeof(*cfg->bridges),
		.item_name = offsetof(struct fo_bridge_config, name),
		.load_item = load_bridge,
	};
	int rc = load_outputs(c, &o);
	cfg->bridges = items; /* also on failure: n_bridges says how many to free */
	return rc;
}

static int load_routes(struct ctx *c, const struct raw_config *r, struct fo_config *cfg)
{
	char key[64], shown[64];
	unsigned n = r->routes_count;
	if (n == 0)
		return 0;
	if (n > FO_MAX_ROUTES)
		return fail(c, "routes: %u routes given, at most %u; merge routes with a wider filter", n,
			    FO_MAX_ROUTES);
	cfg->routes = calloc(n, sizeof(*cfg->routes));
	if (cfg->routes == NULL)
		return fail(c, "routes: out of memory");
	for (unsigned i = 0; i < n; i++) {
		const struct raw_route *rr = &r->routes[i];
		struct fo_route_config *rt = &cfg->routes[i];
		cfg->n_routes = i + 1; /* owns routes[0..i] from here */
		snprintf(key, sizeof(key), "routes[%u].name", i);
		if (rr->name == NULL || !name_ok(rr->name))
			return fail(c, "%s: '%s' %s; give 1..%u characters of [A-Za-z0-9._-]", key,
				    show(rr->name ? rr->name : "", shown, sizeof(shown)),
				    rr->name ? "is not a route name" : "is missing", FO_MAX_ROUTE_NAME);
		for (unsigned j = 0; j < i; j++)
			if (strcmp(cfg->routes[j].name, rr->name) == 0)
				return fail(c, "%s: '%s' is already the name of routes[%u]; names must be unique", key,
					    show(rr->name, shown, sizeof(shown)), j);
		if ((rt->name = dup_str(rr->name)) == NULL)
			return fail(c, "%s: out of memory", key);
		snprintf(key, sizeof(key), "routes[%u].filter", i);
		if (rr->filter == NULL)
			return fail(c, "%s: missing; give a topic filter such as sensors/# or +/temperature", key);
		if (!topic_filter_valid((const uint8_t *)rr->filter, strlen(rr->filter), cfg->broker.max_topic_len))
			return fail(c,
				    "%s: '%s' is not a valid topic filter of at most mqttsn.max_topic_len (%u) "
				    "bytes; '+' and '#' must fill a whole level and '#' must be last",
				    key, show(rr->filter, shown, sizeof(shown)), cfg->broker.max_topic_len);
		if ((rt->filter = dup_str(rr->filter)) == NULL)
			return fail(c, "%s: out of memory", key);
		int kinds = (rr->to_count > 0) + (rr->sink != NULL) + (rr->bridge != NULL);
		if (kinds > 1)
			return fail(
				c,
				"routes[%u]: more than one kind of destination; give exactly one of to: "
				"[\"ip:port\", ...] (UDP), sink: NAME (Redis Streams) or bridge: NAME (MQTT broker)",
				i);
		if (rr->sink != NULL || rr->bridge != NULL) {
			if (load_output_route(c, i, rr, cfg, rt) != 0)
				return -1;
			continue;
		}
		if (rr->stream != NULL || rr->topic != NULL)
			return fail(c, "routes[%u].%s: only for sink: or bridge: routes", i,
				    rr->stream != NULL ? "stream" : "topic");
		snprintf(key, sizeof(key), "routes[%u].format", i);
		if (rr->format != NULL && strcmp(rr->format, "raw") != 0 && strcmp(rr->format, "mqttsn") != 0)
			return fail(c,
				    "%s: '%s' is not supported; use raw (the payload as the UDP datagram) or mqttsn "
				    "(an MQTT-SN PUBLISH)",
				    key, show(rr->format, shown, sizeof(shown)));
		rt->format = rr->format != NULL && strcmp(rr->format, "mqttsn") == 0 ? FO_ROUTE_MQTTSN : FO_ROUTE_RAW;
		rt->kind = FO_ROUTE_UDP;
		snprintf(key, sizeof(key), "routes[%u].topic_id", i);
		if (rt->format == FO_ROUTE_MQTTSN && rr->topic_id == NULL)
			return fail(
				c,
				"%s: missing; format mqttsn sends PUBLISHes with a predefined topic id the receiver "
				"knows for this route: give 1..65534",
				key);
		if (rt->format != FO_ROUTE_MQTTSN && rr->topic_id != NULL)
			return fail(c, "%s: only for format: mqttsn", key);
		if (get_u16(c, key, rr->topic_id, 1, 65534, 0, &rt->topic_id) != 0)
			return -1;
		snprintf(key, sizeof(key), "routes[%u].to", i);
		if (rr->to_count == 0)
			return fail(c, "%s: missing or empty; list 1..%u destinations such as [\"198.18.1.2:9000\"]",
				    key, FO_MAX_ROUTE_DESTS);
		if (rr->to_count > FO_MAX_ROUTE_DESTS)
			return fail(c, "%s: %u destinations, at most %u; split the route in two", key, rr->to_count,
				    FO_MAX_ROUTE_DESTS);
		rt->to = calloc(rr->to_count, sizeof(*rt->to));
		if (rt->to == NULL)
			return fail(c, "%s: out of memory", key);
		for (unsigned j = 0; j < rr->to_count; j++) {
			snprintf(key, sizeof(key), "routes[%u].to[%u]", i, j);
			if (load_dest(c, key, rr->to[j], cfg, &rt->to[j]) != 0)
				return -1;
			for (unsigned k = 0; k < j; k++)
				if (rt->to[k].ip == rt->to[j].ip && rt->to[k].port == rt->to[j].port)
					return fail(c, "%s: '%s' is listed twice in this route", key,
						    show(rr->to[j], shown, sizeof(shown)));
			rt->n_to = j + 1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ API */

int fo_config_parse(const char *yaml, size_t len, struct fo_config **out, char *err, size_t errlen)
{
	struct ctx *c = calloc(1, sizeof(*c));
	static const struct raw_config empty;
	struct raw_config *raw = NULL;
	struct fo_config *cfg = NULL;
	int rc = -1;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (out == NULL)
		goto done_noctx;
	*out = NULL;
	if (c == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "config: out of memory");
		goto done_noctx;
	}
	c->err = err;
	c->errlen = errlen;

	const cyaml_config_t ycfg = {
		.log_fn = log_capture,
		.log_ctx = c,
		.mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_ERROR,
		.flags = CYAML_CFG_NO_ALIAS,
	};
	cyaml_err_t yrc = cyaml_load_data((const uint8_t *)yaml, len, &ycfg, &top_value, (cyaml_data_t **)&raw, NULL);
	if (yrc != CYAML_OK) {
		fail_cyaml(c, yrc);
		raw = NULL;
		goto done;
	}

	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL) {
		fail(c, "config: out of memory");
		goto done;
	}
	const struct raw_config *r = raw != NULL ? raw : &empty; /* an empty document */
	if (load_ports(c, r, cfg) != 0 || load_lcores(c, r, cfg) != 0 || load_pools(c, r, cfg) != 0 ||
	    load_mqttsn(c, r, cfg) != 0 || load_security(c, r, cfg) != 0 || load_discovery(c, r, cfg) != 0 ||
	    load_stats(c, r, cfg) != 0 || load_sinks(c, r, cfg) != 0 || load_bridges(c, r, cfg) != 0 ||
	    load_routes(c, r, cfg) != 0)
		goto done;
	for (uint32_t i = 0; i < cfg->n_ports; i++)
		cfg->broker.ipv6_clients |= cfg->ports[i].has_ip6; /* the sessions' IPv6 side array */
	*out = cfg;
	cfg = NULL;
	rc = 0;
done:
	fo_config_free(cfg);
	if (raw != NULL)
		cyaml_free(&ycfg, &top_value, raw, 0);
done_noctx:
	free(c);
	return rc;
}

#define FO_CONFIG_MAX_FILE (1u << 20)

int fo_config_load(const char *path, struct fo_config **out, char *err, size_t errlen)
{
	char inner[1024];
	if (out != NULL)
		*out = NULL;
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: cannot open config file: %s", path, strerror(errno));
		return -1;
	}
	char *buf = malloc(FO_CONFIG_MAX_FILE + 1);
	size_t n = buf != NULL ? fread(buf, 1, FO_CONFIG_MAX_FILE + 1, f) : 0;
	int read_err = ferror(f);
	fclose(f);
	if (buf == NULL || read_err || n > FO_CONFIG_MAX_FILE) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: %s", path,
				 buf == NULL ? "out of memory"
				 : read_err  ? "read error"
					     : "larger than 1 MiB; is this the right file?");
		free(buf);
		return -1;
	}
	int rc = fo_config_parse(buf, n, out, inner, sizeof(inner));
	free(buf);
	if (rc != 0 && err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s", path, inner);
	return rc;
}

void fo_config_free(struct fo_config *cfg)
{
	if (cfg == NULL)
		return;
	for (uint32_t i = 0; i < cfg->n_ports; i++) {
		free(cfg->ports[i].device);
		free(cfg->ports[i].static_neigh);
	}
	free(cfg->ports);
	free(cfg->lcores);
	for (uint32_t i = 0; i < cfg->broker.n_predefined; i++)
		free((char *)cfg->predefined[i].name);
	free(cfg->predefined);
	for (uint32_t i = 0; i < cfg->broker.n_client_predefined; i++) {
		const struct broker_client_predefined *cp = &cfg->client_predefined[i];
		for (uint32_t k = 0; k < cp->n_topics; k++)
			free((char *)cp->topics[k].name);
		free((void *)cp->topics);
		free((void *)cp->client_id);
	}
	free(cfg->client_predefined);
	predef_set_free(cfg->predef_set);
	for (uint32_t i = 0; i < cfg->broker.n_admission; i++) {
		free((void *)cfg->admission[i].client_id);
		free((void *)cfg->admission[i].nets);
		free((void *)cfg->admission[i].masks);
		free((void *)cfg->admission[i].nets6);
	}
	free(cfg->admission);
	free(cfg->stats_file);
	for (uint32_t i = 0; i < cfg->n_routes; i++) {
		free(cfg->routes[i].name);
		free(cfg->routes[i].filter);
		free(cfg->routes[i].to);
		free(cfg->routes[i].tmpl);
	}
	free(cfg->routes);
	for (uint32_t i = 0; i < cfg->n_sinks; i++) {
		struct fo_sink_config *k = &cfg->sinks[i];
		free(k->name);
		free(k->unix_path);
		free(k->host);
		free(k->username);
		if (k->password)
			memset(k->password, 0, strlen(k->password));
		free(k->password);
	}
	free(cfg->sinks);
	for (uint32_t i = 0; i < cfg->n_bridges; i++) {
		struct fo_bridge_config *b = &cfg->bridges[i];
		free(b->name);
		free(b->host);
		free(b->client_id);
		free(b->username);
		if (b->password)
			memset(b->password, 0, strlen(b->password));
		free(b->password);
		free(b->tls_ca_file);
		free(b->tls_cert_file);
		free(b->tls_key_file);
		for (uint32_t j = 0; j < b->n_subs; j++) {
			free(b->subs[j].filter);
			free(b->subs[j].local_prefix);
			free(b->subs[j].strip_prefix);
		}
		free(b->subs);
		for (uint32_t j = 0; j < b->n_follow; j++) {
			free(b->follow[j].filter);
			free(b->follow[j].local_prefix);
			free(b->follow[j].strip_prefix);
		}
		free(b->follow);
	}
	free(cfg->bridges);
	free(cfg);
}
