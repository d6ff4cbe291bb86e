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
#define FO_DEFAULT_MBUF_CACHE 256
#define FO_DEFAULT_RX_DESC 1024
#define FO_DEFAULT_TX_DESC 1024
#define FO_DEFAULT_NEIGHBOURS 4096
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
#define FO_DEFAULT_RX_QUEUES 1
#define FO_DEFAULT_PREFIX_LEN 24   /* when "ipv4:" has no /len */

/* Limits the validator enforces (DPDK's build limits and sanity bounds, see docs/config.md). */
#define FO_MAX_PORTS 32            /* RTE_MAX_ETHPORTS */
#define FO_MAX_LCORES 128          /* RTE_MAX_LCORE: lcore ids are 0..FO_MAX_LCORES-1 */
#define FO_MAX_DEVICE_LEN 63       /* RTE_ETH_NAME_MAX_LEN - 1 */
#define FO_MAX_RX_QUEUES 16
#define FO_MIN_DESC 64
#define FO_MAX_DESC 32768
#define FO_MIN_RING_SIZE 64
#define FO_MAX_RING_SIZE (1u << 20)
#define FO_MAX_MBUF_CACHE 512      /* RTE_MEMPOOL_CACHE_MAX_SIZE */
#define FO_MAX_NEIGHBOURS (1u << 24)
#define FO_MAX_TOPIC_LEN_LIMIT 65527 /* longest name a long-form REGISTER can carry */
#define FO_MAX_ROUTES 1024
#define FO_MAX_ROUTE_DESTS 16
#define FO_MAX_ROUTE_NAME 63

enum fo_role {
	FO_ROLE_RX = 1u << 0,
	FO_ROLE_WORKER = 1u << 1,
	FO_ROLE_TX = 1u << 2,
};

struct fo_port_config {
	char *device;          /* ethdev name as DPDK knows it: "net_af_packet0", "0000:01:00.0" */
	uint32_t ip;           /* appliance address, host byte order (YAML: "ipv4: 198.18.0.1/24") */
	uint8_t prefix_len;    /* on-link prefix for next-hop resolution (from the /len, default 24) */
	uint32_t gateway;      /* next hop for off-link destinations, 0 = none (YAML: "gateway") */
	uint16_t vlan;         /* 802.1Q VLAN id, 0 = untagged */
	uint16_t mqttsn_port;  /* UDP port, default 1883 */
	uint16_t rx_queues;    /* RSS queues, default 1 */
	uint16_t rx_desc;
	uint16_t tx_desc;
};

struct fo_lcore_config {
	uint32_t lcore;        /* EAL lcore id; must not be the main lcore */
	uint32_t roles;        /* enum fo_role bits (YAML: "roles: [rx, worker, tx]") */
};

/* A route: publishes whose topic matches filter are also sent to each destination. Routes are
 * the part of the config that changes at run time, as generations (docs/control.md). */
enum fo_route_format {
	FO_ROUTE_RAW = 0, /* the publish payload as the UDP datagram */
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
	uint8_t format; /* enum fo_route_format */
};

struct fo_config {
	struct fo_port_config *ports;
	uint32_t n_ports;
	struct fo_lcore_config *lcores;
	uint32_t n_lcores;

	uint32_t burst;            /* packets per burst, default 32 */
	uint32_t worker_ring_size; /* rx -> worker, power of two */
	uint32_t tx_ring_size;     /* worker -> tx, power of two */
	uint32_t peer_ring_size;   /* worker -> worker (publishes for other workers' subscribers) */
	uint32_t mbufs;            /* packet pool size (mbufs) */
	uint32_t hdr_mbufs;        /* header pool for replies and fan-out copies */
	uint32_t mbuf_cache;
	uint32_t neighbours;       /* ARP table capacity */

	struct broker_config broker;          /* the "mqttsn:" section */
	struct broker_predefined *predefined; /* owned storage behind broker.predefined */

	char *stats_file;          /* JSON snapshot path (SIGUSR1 and exit); NULL = stdout */

	struct fo_route_config *routes; /* the "routes:" section: the generation's content */
	uint32_t n_routes;
};

/* Load and validate. On failure returns -1 and writes into err a message naming the key
 * and what is wrong, e.g. "ports[0].ipv4: '198.18.0.300/24' is not an IPv4 address/prefix". */
int fo_config_load(const char *path, struct fo_config **out, char *err, size_t errlen);
/* Same, from a buffer (tests, fuzzing). */
int fo_config_parse(const char *yaml, size_t len, struct fo_config **out, char *err, size_t errlen);
void fo_config_free(struct fo_config *cfg);

#endif
