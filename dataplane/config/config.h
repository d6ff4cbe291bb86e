/* The dataplane's one declarative config file (YAML, loaded with libcyaml) as plain
 * structs, plus the semantic validation that names the offending key. Pure: no DPDK
 * types; main.c maps it onto ports, lcores, rings and pools. Defaults live here only. */
#ifndef FANOUT_CONFIG_H
#define FANOUT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqttsn_broker.h"

/* Defaults: the one place sizes are chosen when the file is silent. */
#define FO_DEFAULT_MQTTSN_PORT 1883
#define FO_DEFAULT_BURST 32
#define FO_MAX_BURST 256
#define FO_DEFAULT_RING_SIZE 4096
#define FO_DEFAULT_MBUFS 16383
#define FO_DEFAULT_HDR_MBUFS 16383
#define FO_DEFAULT_HELD_MBUFS 8191      /* payloads kept past their packet, in a pool of their own */
#define FO_DEFAULT_LARGE_MBUFS 1023     /* reassembled datagrams too long for a receive mbuf */
#define FO_DEFAULT_RX_BUFFER_BYTES 2048 /* a receive mbuf's data room (RTE_MBUF_DEFAULT_DATAROOM) */
#define FO_DEFAULT_MBUF_CACHE 256
#define FO_DEFAULT_RX_DESC 1024
#define FO_DEFAULT_TX_DESC 1024
#define FO_DEFAULT_NEIGHBOURS 4096
#define FO_DEFAULT_ARP_MAX_AGE_S 300       /* a learnt neighbour unconfirmed for this long is dropped */
#define FO_DEFAULT_ARP_REQUESTS_PER_S 1000 /* ARP requests a port sends at most, per second */
#define FO_DEFAULT_MAX_SESSIONS 65536
#define FO_DEFAULT_MAX_TOPICS 65536
#define FO_DEFAULT_MAX_CLIENT_TOPICS 262144
#define FO_DEFAULT_MAX_SUBSCRIPTIONS 262144
#define FO_DEFAULT_MAX_INFLIGHT 65536
#define FO_DEFAULT_MAX_INFLIGHT_PER_SESSION 64
#define FO_DEFAULT_RETRY_INTERVAL_MS 1000
#define FO_DEFAULT_RETRY_LIMIT 5
#define FO_DEFAULT_MAX_TOPIC_LEN 255
#define FO_DEFAULT_GATEWAY_ID 1
#define FO_DEFAULT_EXPIRY_SCAN 64
#define FO_DEFAULT_SESSION_EXPIRY_S 86400   /* a disconnected CleanSession=0 session is kept a day */
#define FO_DEFAULT_OFFLINE_BUFFER 64        /* copies buffered per asleep/disconnected client */
#define FO_DEFAULT_MAX_WILLS 4096           /* will slots per worker */
#define FO_DEFAULT_WILL_MAX_BYTES 512       /* will topic + message */
#define FO_DEFAULT_MAX_RETAINED 4096        /* retained messages per worker */
#define FO_DEFAULT_RETAINED_BYTES 4194304   /* their payload bytes per worker */
#define FO_DEFAULT_MAX_FORWARDED_NODES 4096 /* clients behind forwarders per worker (at most max_sessions) */
#define FO_DEFAULT_RX_QUEUES 1
#define FO_DEFAULT_PREFIX_LEN 24 /* when "ipv4:" has no /len */
/* "security:" defaults (docs/security.md) */
#define FO_DEFAULT_PROOF_TIMEOUT_MS 10000
#define FO_DEFAULT_MIN_SOURCE_PORT 1024
#define FO_DEFAULT_KEEPALIVE_MIN_S 1
#define FO_DEFAULT_KEEPALIVE_MAX_S 65535
#define FO_DEFAULT_SESSIONS_PER_SOURCE 16
#define FO_DEFAULT_TOPICS_PER_SESSION 1024
#define FO_DEFAULT_SUBS_PER_SESSION 256
#define FO_DEFAULT_WILDCARDS_PER_SESSION 16
#define FO_DEFAULT_MAX_FILTER_LEVELS 16
#define FO_DEFAULT_MAX_GIVEUPS 3
#define FO_DEFAULT_ERROR_REPLIES_PER_S 20
#define FO_DEFAULT_ERROR_REPLY_BURST 40
#define FO_MAX_ADMISSION_RULES 1024
#define FO_MAX_CLIENT_PREDEFINED 1024 /* mqttsn.client_predefined rules */
/* "discovery:" defaults (spec 6.1, 7.2: T_ADV above 15 minutes) */
#define FO_DEFAULT_ADVERTISE_INTERVAL_S 900
#define FO_DEFAULT_ADVERTISE_TTL 1
#define FO_DEFAULT_GWINFO_BROADCASTS_PER_S 10
/* Messages larger than one frame: IPv4 reassembly (docs/dataplane.md#fragments) */
#define FO_DEFAULT_MAX_MESSAGE_BYTES 8192
#define FO_MIN_MESSAGE_BYTES 64
#define FO_MAX_MESSAGE_BYTES 65489 /* a datagram reassembled with Ethernet, VLAN, IPv4, UDP in 64 KiB */
#define FO_DEFAULT_REASM_FLOWS 256 /* datagrams being reassembled per rx lcore at most */
#define FO_MAX_REASM_FLOWS 65536
#define FO_DEFAULT_REASM_TIMEOUT_MS 2000
#define FO_MAX_REASM_TIMEOUT_MS 60000
#define FO_REASM_FRAGS_PER_FLOW 8 /* RTE_LIBRTE_IP_FRAG_MAX_FRAG in DPDK 22.11 (rx_reasm.c asserts it) */

/* Limits the validator enforces (DPDK's build limits and sanity bounds, see docs/config.md). */
#define FO_MAX_PORTS 32      /* RTE_MAX_ETHPORTS */
#define FO_MAX_LCORES 128    /* RTE_MAX_LCORE: lcore ids are 0..FO_MAX_LCORES-1 */
#define FO_MAX_DEVICE_LEN 63 /* RTE_ETH_NAME_MAX_LEN - 1 */
#define FO_MAX_RX_QUEUES 16
#define FO_MIN_DESC 64
#define FO_MAX_DESC 32768
#define FO_MIN_MTU 68    /* RTE_ETHER_MIN_MTU */
#define FO_MAX_MTU 16110 /* RTE_ETHER_MAX_JUMBO_FRAME_LEN less the Ethernet header and CRC */
#define FO_MIN_RX_BUFFER_BYTES 2048
#define FO_MAX_RX_BUFFER_BYTES 16384
#define FO_FRAME_OVERHEAD 18u /* Ethernet and 802.1Q headers in front of an MTU's worth of IP */
#define FO_MIN_RING_SIZE 64
#define FO_MAX_RING_SIZE (1u << 20)
#define FO_MAX_MBUF_CACHE 512 /* RTE_MEMPOOL_CACHE_MAX_SIZE */
#define FO_MAX_NEIGHBOURS (1u << 24)
#define FO_MAX_ARP_MAX_AGE_S 86400
#define FO_MAX_ARP_REQUESTS_PER_S 1000000
#define FO_MAX_STATIC_NEIGHBOURS 1024 /* per port; and at most half of `neighbours` */
#define FO_MAX_TOPIC_LEN_LIMIT 65527  /* longest name a long-form REGISTER can carry */
#define FO_MAX_ROUTES 1024
#define FO_MAX_ROUTE_DESTS 16
#define FO_MAX_ROUTE_NAME 63
#define FO_MAX_SINKS 8           /* Redis Streams sinks ("sinks:") */
#define FO_MAX_BRIDGES 8         /* MQTT broker bridges ("bridges:") */
#define FO_MAX_BRIDGE_SUBS 64    /* upstream subscriptions per bridge */
#define FO_FOLLOW_FILTER_MAX 240 /* longest local filter an interest-following bridge subscribes to */
#define FO_MAX_TEMPLATE_LEN 255  /* stream key / remote topic templates */
#define FO_MAX_SECRET_LEN 512    /* passwords (from the file or password_file) */

/* Sink and bridge defaults. */
#define FO_DEFAULT_SINK_RING 16384
#define FO_DEFAULT_SINK_BATCH 256
#define FO_MAX_SINK_BATCH 4096
#define FO_DEFAULT_SINK_BATCH_US 1000
#define FO_DEFAULT_SINK_MAXLEN 1000000
#define FO_DEFAULT_SINK_TIMEOUT_MS 2000
#define FO_DEFAULT_RECONNECT_MIN_MS 100
#define FO_DEFAULT_RECONNECT_MAX_MS 5000
#define FO_DEFAULT_BRIDGE_RING 16384
#define FO_DEFAULT_BRIDGE_INFLIGHT 1024
#define FO_DEFAULT_BRIDGE_KEEPALIVE_S 30

enum fo_role {
	FO_ROLE_RX = 1u << 0,
	FO_ROLE_WORKER = 1u << 1,
	FO_ROLE_TX = 1u << 2,
};

/* A configured neighbour ("ports[i].static_neighbours"): never learnt over, aged or evicted. */
struct fo_static_neigh {
	uint32_t ip;    /* host byte order, an on-link host of the port */
	uint8_t mac[6]; /* unicast */
};

struct fo_port_config {
	char *device;       /* ethdev name as DPDK knows it: "net_af_packet0", "0000:01:00.0" */
	uint32_t ip;        /* appliance address, host byte order (YAML: "ipv4: 198.18.0.1/24") */
	uint8_t prefix_len; /* on-link prefix for next-hop resolution (from the /len, default 24) */
	uint32_t gateway;   /* next hop for off-link destinations, 0 = none (YAML: "gateway") */
	bool has_ip6;       /* YAML "ipv6: 2001:2::1/64": the port also speaks IPv6 */
	uint8_t ip6_prefix; /* its on-link prefix length */
	uint8_t ip6[16];
	bool has_gateway6; /* YAML "gateway6": next hop for off-link IPv6 destinations */
	uint8_t gateway6[16];
	uint16_t vlan;        /* 802.1Q VLAN id, 0 = untagged */
	uint16_t mqttsn_port; /* UDP port, default 1883 */
	uint16_t rx_queues;   /* RSS queues, default 1 */
	uint16_t rx_desc;
	uint16_t tx_desc;
	uint16_t mtu;                         /* "mtu": given to rte_eth_dev_configure, 0 = the device's default */
	struct fo_static_neigh *static_neigh; /* "static_neighbours", NULL when none */
	uint32_t n_static_neigh;
};

struct fo_lcore_config {
	uint32_t lcore; /* EAL lcore id; must not be the main lcore */
	uint32_t roles; /* enum fo_role bits (YAML: "roles: [rx, worker, tx]") */
};

/* A route: publishes whose topic matches filter are also sent to each destination. Routes are
 * the part of the config that changes at run time, as generations (docs/control.md). */
enum fo_route_format {
	FO_ROUTE_RAW = 0,    /* the publish payload as the UDP datagram */
	FO_ROUTE_MQTTSN = 1, /* an MQTT-SN PUBLISH (QoS 0 flags) carrying the payload */
};
/* What a route sends to: UDP destinations (to:), a Redis Streams sink (sink: + stream:) or an
 * MQTT bridge (bridge: + topic:). */
enum fo_route_kind {
	FO_ROUTE_UDP = 0,
	FO_ROUTE_SINK = 1,
	FO_ROUTE_BRIDGE = 2,
};
/* What a PUBACK promises to a QoS 1 publisher whose publish matched a sink route. */
enum fo_puback_mode {
	FO_PUBACK_ACCEPTED = 0, /* taken into the sink's bounded backlog (ring full: rc congestion) */
	FO_PUBACK_WRITTEN = 1,  /* Redis confirmed the XADD (failure: rc congestion) */
};
struct fo_route_dest {
	uint32_t ip;   /* host byte order */
	uint16_t port; /* host byte order */
};
struct fo_route_config {
	char *name;
	char *filter;
	struct fo_route_dest *to;
	uint32_t n_to;
	uint8_t format;    /* enum fo_route_format (UDP routes) */
	uint8_t kind;      /* enum fo_route_kind */
	uint8_t target;    /* sink or bridge index in fo_config (SINK and BRIDGE routes) */
	char *tmpl;        /* SINK: stream key, BRIDGE: remote topic; "{topic}" is the publish's topic */
	uint16_t tmpl_id;  /* set when a generation is built (outputs.h: fo_out_tmpl_intern) */
	uint16_t topic_id; /* mqttsn format: the predefined topic id its PUBLISHes carry */
};

/* A Redis Streams sink ("sinks:"): one connection, one writer thread. */
struct fo_sink_config {
	char *name;
	char *unix_path; /* "redis: /run/redis.sock" */
	char *host;      /* "redis: 127.0.0.1:6379" (an IPv4 address or a host name) */
	uint16_t port;
	char *username;      /* ACL user for AUTH, NULL = password only (requirepass) */
	char *password;      /* NULL = no AUTH */
	uint32_t db;         /* SELECT db when non-zero */
	uint32_t ring;       /* backlog entries between the workers and the writer, power of two */
	uint32_t batch;      /* XADDs per pipelined batch at most */
	uint32_t batch_us;   /* a partial batch waits at most this long for more entries */
	uint64_t maxlen;     /* XADD MAXLEN ~ maxlen; 0 = no trimming */
	uint32_t timeout_ms; /* connect and per-batch I/O timeout */
	uint32_t reconnect_min_ms, reconnect_max_ms; /* backoff doubles from min to max */
	uint8_t puback;                              /* enum fo_puback_mode */
	bool cluster;                                /* "cluster: true": redis: is a seed node of a Redis Cluster */
	uint32_t wait_replicas; /* WAIT for this many replicas (at most those a primary has) before written */
};

/* An upstream subscription of a bridge: messages on filter come down as local publishes on
 * local_prefix + (remote topic without strip_prefix, when it starts with it). */
struct fo_bridge_sub {
	char *filter;
	uint8_t qos;        /* 0 or 1 */
	char *local_prefix; /* "" when absent */
	char *strip_prefix; /* "" when absent */
};

/* An MQTT broker bridge ("bridges:"): one connection (libmosquitto), one thread. */
struct fo_bridge_config {
	char *name;
	char *host;
	uint16_t port;
	uint8_t protocol; /* 4 = MQTT 3.1.1, 5 = MQTT 5 */
	char *client_id;
	char *username, *password;
	bool tls;
	char *tls_ca_file, *tls_cert_file, *tls_key_file;
	bool tls_insecure; /* skip the server hostname check (test setups only) */
	uint16_t keepalive_s;
	uint32_t ring;         /* backlog entries from the workers, power of two */
	uint32_t max_inflight; /* QoS 1 publishes awaiting the broker's PUBACK */
	uint32_t reconnect_min_ms, reconnect_max_ms;
	struct fo_bridge_sub *subs;
	uint32_t n_subs;
	/* "follow:": the allow-list of upstream filters an interest-following bridge may subscribe to:
	 * a filter local subscribers hold that one of these covers is subscribed upstream while it has
	 * subscribers (local_prefix and strip_prefix are "") */
	struct fo_bridge_sub *follow;
	uint32_t n_follow;
};

/* How a SEARCHGW is answered ("discovery.gwinfo"). */
enum fo_gwinfo_mode {
	FO_GWINFO_BROADCAST = 0, /* a search sent to a broadcast address is answered by broadcast (5.4.3) */
	FO_GWINFO_UNICAST = 1,   /* every search is answered to the searcher alone */
};

/* Gateway discovery ("discovery:", spec 6.1): the periodic ADVERTISE and the GWINFO answer. */
struct fo_discovery_config {
	bool advertise;                   /* send ADVERTISE every interval_s (default off) */
	uint16_t interval_s;              /* T_ADV, also ADVERTISE's Duration field */
	uint32_t dest_ip;                 /* host order: limited or subnet broadcast, multicast group, or a host */
	uint16_t dest_port;               /* 0 = each port's mqttsn_port */
	uint8_t ttl;                      /* IPv4 TTL of ADVERTISE (a multicast group's reach) */
	uint8_t gwinfo;                   /* enum fo_gwinfo_mode */
	uint32_t gwinfo_broadcasts_per_s; /* per worker; more searches are answered to the searcher alone */
	bool has_dest6;                   /* destination6 set: the IPv6 ports' discovery group */
	uint8_t dest6[16];                /* an IPv6 multicast group: ADVERTISE out of, SEARCHGW taken on */
	uint16_t dest6_port;              /* port6; 0 = each port's mqttsn_port */
};

struct fo_config {
	struct fo_port_config *ports;
	uint32_t n_ports;
	struct fo_lcore_config *lcores;
	uint32_t n_lcores;

	uint32_t burst;            /* packets per burst, default 32 */
	uint32_t idle_sleep_us;    /* an lcore idle for FO_IDLE_LOOPS loops sleeps this long; 0 = always poll */
	uint32_t worker_ring_size; /* rx -> worker, power of two */
	uint32_t tx_ring_size;     /* worker -> tx, power of two */
	uint32_t peer_ring_size;   /* worker -> worker (publishes for other workers' subscribers) */
	uint32_t mbufs;            /* packet pool size (mbufs) */
	uint32_t hdr_mbufs;        /* header pool for replies and fan-out copies */
	uint32_t held_mbufs;       /* payload copies kept for QoS 1 retries and output backlogs */
	uint32_t large_mbufs;      /* reassembled datagrams longer than a receive mbuf */
	uint32_t rx_buffer_bytes;  /* mempool.rx_buffer_bytes: data room of a receive mbuf, headroom apart */
	uint32_t mbuf_cache;
	uint32_t neighbours;         /* ARP table capacity */
	uint32_t arp_max_age_s;      /* learnt neighbours unconfirmed this long are freed */
	uint32_t arp_requests_per_s; /* per port, 0 = no limit */
	uint32_t max_message_bytes;  /* limits.max_message_bytes: larger MQTT-SN messages are refused */
	uint32_t reasm_max_flows;    /* reassembly.max_flows per rx lcore, 0 = fragments dropped */
	uint32_t reasm_timeout_ms;   /* reassembly.timeout_ms */

	struct broker_config broker;          /* the "mqttsn:" section */
	struct broker_predefined *predefined; /* owned storage behind broker.predefined */
	/* owned storage behind broker.client_predefined (each rule's topics too) and broker.predef_set */
	struct broker_client_predefined *client_predefined;
	struct predef_set *predef_set;
	struct broker_admission *admission;   /* owned storage behind broker.admission ("security:") */
	uint16_t min_source_port;             /* security.min_source_port: lower UDP source ports are dropped */
	struct fo_discovery_config discovery; /* "discovery:" */

	char *stats_file; /* JSON snapshot path (SIGUSR1 and exit); NULL = stdout */

	struct fo_route_config *routes; /* the "routes:" section: the generation's content */
	uint32_t n_routes;

	struct fo_sink_config *sinks; /* "sinks:" (restart-only) */
	uint32_t n_sinks;
	struct fo_bridge_config *bridges; /* "bridges:" (restart-only) */
	uint32_t n_bridges;
};

/* Load and validate. On failure returns -1 and writes into err a message naming the key
 * and what is wrong, e.g. "ports[0].ipv4: '198.18.0.300/24' is not an IPv4 address/prefix". */
int fo_config_load(const char *path, struct fo_config **out, char *err, size_t errlen);
/* Same, from a buffer (tests, fuzzing). */
int fo_config_parse(const char *yaml, size_t len, struct fo_config **out, char *err, size_t errlen);
void fo_config_free(struct fo_config *cfg);

#endif
