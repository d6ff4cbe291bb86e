/* Unit tests for dataplane/config/config.c: the full example parses with the right values, a
 * minimal file gets every default, every validation rule refuses a bad value with a
 * message naming the key, libcyaml's own refusals (unknown key, wrong shape) name the
 * key too, and a missing file is named. Optional argv[1]: deploy/fanout.example.yaml. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "fanout/client_hash.h"
#include "predef_table.h"

static const char *example_path;

#define FULL \
	"ports:                      # one or more\n" \
	"  - device: net_af_packet0  # ethdev name\n" \
	"    ipv4: 198.18.0.1/24     # appliance address/prefix\n" \
	"    gateway: 198.18.0.254   # optional\n" \
	"    vlan: 0                 # optional, 1..4094, 0 = untagged\n" \
	"    mqttsn_port: 1883       # optional\n" \
	"    rx_queues: 1            # optional\n" \
	"    rx_desc: 1024           # optional\n" \
	"    tx_desc: 1024           # optional\n" \
	"  - device: \"0000:01:00.0\"\n" \
	"    ipv4: 10.1.2.3/16\n" \
	"    vlan: 42\n" \
	"    mqttsn_port: 10000\n" \
	"    rx_queues: 4\n" \
	"    rx_desc: 512\n" \
	"    tx_desc: 2048\n" \
	"lcores:                     # roles per worker lcore (not the main lcore)\n" \
	"  - lcore: 1\n" \
	"    roles: [rx, worker, tx]\n" \
	"  - lcore: 5\n" \
	"    roles: [worker]\n" \
	"burst: 64\n" \
	"rings: { worker: 8192, tx: 2048, peer: 1024 }\n" \
	"mempool: { mbufs: 32767, header_mbufs: 8191, cache: 128 }\n" \
	"neighbours: 1024\n" \
	"mqttsn:\n" \
	"  gateway_id: 7\n" \
	"  max_sessions: 1000\n" \
	"  max_topics: 2000\n" \
	"  max_client_topics: 3000\n" \
	"  max_subscriptions: 4000\n" \
	"  max_inflight: 5000\n" \
	"  max_inflight_per_session: 16\n" \
	"  retry_interval_ms: 250\n" \
	"  retry_limit: 0\n" \
	"  max_topic_len: 128\n" \
	"  expiry_scan_per_tick: 8\n" \
	"  predefined_topics:\n" \
	"    - { id: 1, name: \"sensors/predefined\" }\n" \
	"    - { id: 65534, name: \"$SYS/x\" }\n" \
	"  client_predefined:\n" \
	"    - client_id: dev-7\n" \
	"      topics: [{ id: 1, name: \"dev/7/cmd\" }, { id: 9, name: \"dev/7/up\" }]\n" \
	"    - { client_id_prefix: \"lab-\", topics: [{ id: 2, name: \"lab/all\" }] }\n" \
	"stats:\n" \
	"  file: /tmp/fanout-stats.json   # optional\n"

/* A valid base to which each failing case adds or changes one thing. */
#define PORT "ports: [{device: net_af_packet0, ipv4: 198.18.0.1/24}]\n"
#define LCORE "lcores: [{lcore: 1, roles: [rx, worker, tx]}]\n"
#define MIN PORT LCORE
#define MIN6 "ports: [{device: net_af_packet0, ipv4: 198.18.0.1/24, ipv6: 2001:2::1/64}]\n" LCORE

static struct fo_config *parse_ok(const char *yaml)
{
	struct fo_config *cfg = NULL;
	char err[512] = "";
	int rc = fo_config_parse(yaml, strlen(yaml), &cfg, err, sizeof(err));
	if (rc != 0)
		print_message("unexpected error: %s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(cfg);
	return cfg;
}

/* Refused, and the message contains each of the given fragments (the key path first). */
static bool refused_with(const char *yaml, const char *key, const char *also)
{
	struct fo_config *cfg = (struct fo_config *)1;
	char err[512];
	memset(err, 'X', sizeof(err));
	int rc = fo_config_parse(yaml, strlen(yaml), &cfg, err, sizeof(err));
	bool ok = rc == -1 && cfg == NULL && memchr(err, '\0', sizeof(err)) != NULL &&
		  strncmp(err, key, strlen(key)) == 0 && (also == NULL || strstr(err, also) != NULL);
	if (!ok)
		print_message("case:\n%s\n-> rc %d, err \"%.*s\"; wanted prefix \"%s\" containing \"%s\"\n", yaml, rc,
			      (int)sizeof(err), rc ? err : "", key, also ? also : "");
	fo_config_free(rc == 0 ? cfg : NULL);
	return ok;
}

static void test_full_example(void **state)
{
	(void)state;
	struct fo_config *c = parse_ok(FULL);

	assert_int_equal(c->n_ports, 2);
	assert_string_equal(c->ports[0].device, "net_af_packet0");
	assert_int_equal(c->ports[0].ip, 0xc6120001u);
	assert_int_equal(c->ports[0].prefix_len, 24);
	assert_int_equal(c->ports[0].gateway, 0xc61200feu);
	assert_int_equal(c->ports[0].vlan, 0);
	assert_int_equal(c->ports[0].mqttsn_port, 1883);
	assert_int_equal(c->ports[0].rx_queues, 1);
	assert_int_equal(c->ports[0].rx_desc, 1024);
	assert_int_equal(c->ports[0].tx_desc, 1024);
	assert_string_equal(c->ports[1].device, "0000:01:00.0");
	assert_int_equal(c->ports[1].ip, 0x0a010203u);
	assert_int_equal(c->ports[1].prefix_len, 16);
	assert_int_equal(c->ports[1].gateway, 0);
	assert_int_equal(c->ports[1].vlan, 42);
	assert_int_equal(c->ports[1].mqttsn_port, 10000);
	assert_int_equal(c->ports[1].rx_queues, 4);
	assert_int_equal(c->ports[1].rx_desc, 512);
	assert_int_equal(c->ports[1].tx_desc, 2048);

	assert_int_equal(c->n_lcores, 2);
	assert_int_equal(c->lcores[0].lcore, 1);
	assert_int_equal(c->lcores[0].roles, FO_ROLE_RX | FO_ROLE_WORKER | FO_ROLE_TX);
	assert_int_equal(c->lcores[1].lcore, 5);
	assert_int_equal(c->lcores[1].roles, FO_ROLE_WORKER);

	assert_int_equal(c->burst, 64);
	assert_int_equal(c->worker_ring_size, 8192);
	assert_int_equal(c->tx_ring_size, 2048);
	assert_int_equal(c->peer_ring_size, 1024);
	assert_int_equal(c->mbufs, 32767);
	assert_int_equal(c->hdr_mbufs, 8191);
	assert_int_equal(c->mbuf_cache, 128);
	assert_int_equal(c->neighbours, 1024);

	const struct broker_config *b = &c->broker;
	assert_int_equal(b->gateway_id, 7);
	assert_int_equal(b->max_sessions, 1000);
	assert_int_equal(b->max_topics, 2000);
	assert_int_equal(b->max_client_topics, 3000);
	assert_int_equal(b->max_subscriptions, 4000);
	assert_int_equal(b->max_inflight, 5000);
	assert_int_equal(b->max_inflight_per_session, 16);
	assert_int_equal(b->retry_interval_ms, 250);
	assert_int_equal(b->retry_limit, 0);
	assert_int_equal(b->max_topic_len, 128);
	assert_int_equal(b->expiry_scan_per_tick, 8);
	assert_int_equal(b->n_predefined, 2);
	assert_ptr_equal(b->predefined, c->predefined);
	assert_int_equal(b->predefined[0].id, 1);
	assert_string_equal(b->predefined[0].name, "sensors/predefined");
	assert_int_equal(b->predefined[1].id, 65534);
	assert_string_equal(b->predefined[1].name, "$SYS/x");
	assert_int_equal(b->n_client_predefined, 2);
	assert_ptr_equal(b->client_predefined, c->client_predefined);
	const struct broker_client_predefined *cp = &b->client_predefined[0];
	assert_false(cp->prefix);
	assert_int_equal(cp->client_id_len, 5);
	assert_memory_equal(cp->client_id, "dev-7", 5);
	assert_int_equal(cp->n_topics, 2);
	assert_int_equal(cp->topics[1].id, 9);
	assert_string_equal(cp->topics[1].name, "dev/7/up");
	cp = &b->client_predefined[1];
	assert_true(cp->prefix);
	assert_memory_equal(cp->client_id, "lab-", 4);
	assert_int_equal(cp->n_topics, 1);
	/* the tables are built with the config: dev-7's id 1 is its own, the global 65534 stays */
	assert_non_null(b->predef_set);
	assert_ptr_equal(b->predef_set, c->predef_set);
	const struct predef_table *t = predef_client_table(b->predef_set, (const uint8_t *)"dev-7", 5,
							   fo_client_id_hash((const uint8_t *)"dev-7", 5));
	uint16_t len;
	assert_memory_equal(predef_name(t, 1, &len, NULL), "dev/7/cmd", 9);
	assert_memory_equal(predef_name(t, 65534, &len, NULL), "$SYS/x", 6);
	assert_int_equal(predef_table_size(t), 3);

	assert_string_equal(c->stats_file, "/tmp/fanout-stats.json");
	fo_config_free(c);
}

static void test_minimal_gets_defaults(void **state)
{
	(void)state;
	struct fo_config *c = parse_ok("ports:\n  - device: net_af_packet0\n    ipv4: 198.18.0.1\n" LCORE);

	assert_int_equal(c->n_ports, 1);
	assert_int_equal(c->ports[0].ip, 0xc6120001u);
	assert_int_equal(c->ports[0].prefix_len, FO_DEFAULT_PREFIX_LEN);
	assert_int_equal(c->ports[0].gateway, 0);
	assert_int_equal(c->ports[0].vlan, 0);
	assert_int_equal(c->ports[0].mqttsn_port, FO_DEFAULT_MQTTSN_PORT);
	assert_int_equal(c->ports[0].rx_queues, FO_DEFAULT_RX_QUEUES);
	assert_int_equal(c->ports[0].rx_desc, FO_DEFAULT_RX_DESC);
	assert_int_equal(c->ports[0].tx_desc, FO_DEFAULT_TX_DESC);
	assert_int_equal(c->burst, FO_DEFAULT_BURST);
	assert_int_equal(c->worker_ring_size, FO_DEFAULT_RING_SIZE);
	assert_int_equal(c->tx_ring_size, FO_DEFAULT_RING_SIZE);
	assert_int_equal(c->peer_ring_size, FO_DEFAULT_RING_SIZE);
	assert_int_equal(c->mbufs, FO_DEFAULT_MBUFS);
	assert_int_equal(c->hdr_mbufs, FO_DEFAULT_HDR_MBUFS);
	assert_int_equal(c->mbuf_cache, FO_DEFAULT_MBUF_CACHE);
	assert_int_equal(c->neighbours, FO_DEFAULT_NEIGHBOURS);
	const struct broker_config *b = &c->broker;
	assert_int_equal(b->gateway_id, FO_DEFAULT_GATEWAY_ID);
	assert_int_equal(b->max_sessions, FO_DEFAULT_MAX_SESSIONS);
	assert_int_equal(b->max_topics, FO_DEFAULT_MAX_TOPICS);
	assert_int_equal(b->max_client_topics, FO_DEFAULT_MAX_CLIENT_TOPICS);
	assert_int_equal(b->max_subscriptions, FO_DEFAULT_MAX_SUBSCRIPTIONS);
	assert_int_equal(b->max_inflight, FO_DEFAULT_MAX_INFLIGHT);
	assert_int_equal(b->max_inflight_per_session, FO_DEFAULT_MAX_INFLIGHT_PER_SESSION);
	assert_int_equal(b->retry_interval_ms, FO_DEFAULT_RETRY_INTERVAL_MS);
	assert_int_equal(b->retry_limit, FO_DEFAULT_RETRY_LIMIT);
	assert_int_equal(b->max_topic_len, FO_DEFAULT_MAX_TOPIC_LEN);
	assert_int_equal(b->expiry_scan_per_tick, FO_DEFAULT_EXPIRY_SCAN);
	assert_int_equal(b->session_expiry_s, FO_DEFAULT_SESSION_EXPIRY_S);
	assert_int_equal(b->offline_buffer, FO_DEFAULT_OFFLINE_BUFFER);
	assert_int_equal(b->max_wills, FO_DEFAULT_MAX_WILLS);
	assert_int_equal(b->will_max_bytes, FO_DEFAULT_WILL_MAX_BYTES);
	assert_int_equal(b->max_forwarded_nodes, FO_DEFAULT_MAX_FORWARDED_NODES);
	assert_int_equal(b->n_predefined, 0);
	assert_null(b->predefined);
	assert_null(c->stats_file);
	fo_config_free(c);

	/* Empty sections are the same as absent ones. */
	c = parse_ok(MIN "rings: {}\nmempool: {}\nmqttsn: {}\nstats: {}\n");
	assert_int_equal(c->worker_ring_size, FO_DEFAULT_RING_SIZE);
	assert_int_equal(c->broker.max_sessions, FO_DEFAULT_MAX_SESSIONS);
	assert_null(c->stats_file);
	fo_config_free(c);
}

static void test_accepts_edges(void **state)
{
	(void)state;
	/* /31 and /32 have no network or broadcast address to avoid. */
	fo_config_free(parse_ok("ports: [{device: a, ipv4: 10.0.0.0/31}]\n" LCORE));
	fo_config_free(parse_ok("ports: [{device: a, ipv4: 10.0.0.1/31, gateway: 10.0.0.0}]\n" LCORE));
	struct fo_config *v6 = parse_ok("ports: [{device: a, ipv4: 10.0.0.1/24, ipv6: 2001:2:0:5::1, gateway6: "
					"fe80::1}, {device: b, ipv4: 10.0.1.1/24, ipv6: \"2001:2:0:6::1/127\", "
					"gateway6: \"2001:2:0:6::\"}]\n" LCORE);
	assert_true(v6->ports[0].has_ip6);
	assert_int_equal(v6->ports[0].ip6_prefix, 64); /* the default */
	assert_int_equal(v6->ports[0].ip6[7], 5);
	assert_int_equal(v6->ports[0].ip6[15], 1);
	assert_true(v6->ports[0].has_gateway6);
	assert_int_equal(v6->ports[0].gateway6[0], 0xfe);
	assert_int_equal(v6->ports[1].ip6_prefix, 127);
	assert_true(v6->ports[1].has_gateway6);
	fo_config_free(v6);
	fo_config_free(parse_ok("ports: [{device: a, ipv4: 10.9.9.9/32}]\n" LCORE));
	fo_config_free(parse_ok(MIN "burst: \"64\"\nrings: {worker: 256, tx: 1048576, peer: 64}\n"));
	fo_config_free(parse_ok("ports: [{device: a, ipv4: 10.0.0.1/8, vlan: 4094, mqttsn_port: 65535}]\n" LCORE));
	fo_config_free(parse_ok(MIN "mempool: {cache: 0}\nmqttsn: {gateway_id: 0, retry_limit: 0}\n"));
	/* Roles may be spread over lcores, in any order, repeated within a list. */
	fo_config_free(parse_ok(PORT "lcores:\n  - {lcore: 3, roles: [tx]}\n  - {lcore: 2, roles: [worker, worker]}\n"
				     "  - {lcore: 1, roles: [rx]}\n"));
}

struct bad {
	const char *yaml;
	const char *key;  /* the message starts with this */
	const char *also; /* and contains this */
};

static const struct bad semantic[] = {
	/* at least one port and one lcore; each role present */
	{ LCORE, "ports: at least one port", NULL },
	{ "ports: []\n" LCORE, "ports: at least one port", NULL },
	{ PORT, "lcores: at least one lcore", NULL },
	{ "", "ports:", "at least one port" },
	{ PORT "lcores: [{lcore: 1, roles: [worker, tx]}]\n", "lcores: no lcore has role 'rx'", NULL },
	{ PORT "lcores: [{lcore: 1, roles: [rx, tx]}]\n", "lcores: no lcore has role 'worker'", NULL },
	{ PORT "lcores: [{lcore: 1, roles: [rx, worker]}]\n", "lcores: no lcore has role 'tx'", NULL },
	{ PORT "lcores: [{lcore: 1, roles: []}]\n", "lcores[0].roles", "no roles" },
	{ PORT "lcores: [{lcore: 1}]\n", "lcores[0].roles", "no roles" },
	/* an lcore listed once; ids in range; id required */
	{ PORT "lcores: [{lcore: 1, roles: [rx]}, {lcore: 2, roles: [worker]}, {lcore: 1, roles: [tx]}]\n",
	  "lcores[2].lcore", "already listed at lcores[0]" },
	{ PORT "lcores: [{lcore: 128, roles: [rx, worker, tx]}]\n", "lcores[0].lcore", "0..127" },
	{ PORT "lcores: [{roles: [rx, worker, tx]}]\n", "lcores[0].lcore", "missing" },
	/* ports: device unique and present */
	{ "ports: [{device: a, ipv4: 10.0.0.1/24}, {device: a, ipv4: 10.0.1.1/24}]\n" LCORE, "ports[1].device",
	  "already used by ports[0]" },
	{ "ports: [{device: a, ipv4: 10.0.0.1/24}, {device: b, ipv4: 10.0.0.1/24}]\n" LCORE, "ports[1].ipv4",
	  "already used by ports[0]" },
	{ "ports: [{ipv4: 10.0.0.1/24}]\n" LCORE, "ports[0].device", "missing" },
	{ "ports: [{device: \"\", ipv4: 10.0.0.1/24}]\n" LCORE, "ports[0].device", "1..63" },
	{ "ports: [{device: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, ipv4: "
	  "10.0.0.1/24}]\n" LCORE,
	  "ports[0].device", "1..63" },
	/* ipv4 */
	{ "ports: [{device: a}]\n" LCORE, "ports[0].ipv4", "missing" },
	{ "ports: [{device: a, ipv4: 198.18.0.300/24}]\n" LCORE,
	  "ports[0].ipv4: '198.18.0.300/24' is not an IPv4 address with prefix (expected a.b.c.d/len)", NULL },
	{ "ports: [{device: a, ipv4: 198.18.0/24}]\n" LCORE, "ports[0].ipv4", "expected a.b.c.d/len" },
	{ "ports: [{device: a, ipv4: 198.18.0.01/24}]\n" LCORE, "ports[0].ipv4", "expected a.b.c.d/len" },
	{ "ports: [{device: a, ipv4: 198.18.0.1/}]\n" LCORE, "ports[0].ipv4", "expected a.b.c.d/len" },
	{ "ports: [{device: a, ipv4: 198.18.0.1/2x}]\n" LCORE, "ports[0].ipv4", "expected a.b.c.d/len" },
	{ "ports: [{device: a, ipv4: 198.18.0.1 /24}]\n" LCORE, "ports[0].ipv4", "expected a.b.c.d/len" },
	{ "ports: [{device: a, ipv4: 198.18.0.1/0}]\n" LCORE, "ports[0].ipv4", "/1../32" },
	{ "ports: [{device: a, ipv4: 198.18.0.1/33}]\n" LCORE, "ports[0].ipv4", "/1../32" },
	{ "ports: [{device: a, ipv4: 198.18.0.0/24}]\n" LCORE, "ports[0].ipv4", "network address" },
	{ "ports: [{device: a, ipv4: 198.18.0.255/24}]\n" LCORE, "ports[0].ipv4", "broadcast address" },
	{ "ports: [{device: a, ipv4: 0.0.0.0/8}]\n" LCORE, "ports[0].ipv4", "not a host address" },
	{ "ports: [{device: a, ipv4: 127.0.0.1/8}]\n" LCORE, "ports[0].ipv4", "unicast" },
	{ "ports: [{device: a, ipv4: 224.0.0.1/24}]\n" LCORE, "ports[0].ipv4", "unicast" },
	/* gateway inside the prefix */
	{ "ports: [{device: a, ipv4: 198.18.0.1/24, gateway: 198.18.1.1}]\n" LCORE, "ports[0].gateway",
	  "outside the port's prefix 198.18.0.0/24" },
	{ "ports: [{device: a, ipv4: 198.18.0.1/24, gateway: 198.18.0.1}]\n" LCORE, "ports[0].gateway", "own address" },
	/* IPv6: a unicast host address, a prefix, gateway6 only with it and on-link */
	{ "ports: [{device: a, ipv4: 198.18.0.1/24, ipv6: 2001:2::1/129}]\n" LCORE, "ports[0].ipv6", "/1../128" },
	{ "ports: [{device: a, ipv4: 198.18.0.1/24, ipv6: 2001:2::g/64}]\n" LCORE, "ports[0].ipv6", "not an IPv6" },
	{ "ports: [{device: a, ipv4: 198.18.0.1/24, ipv6: 2001:2::1/064}]\n" LCORE, "ports[0].ipv6", "not an IPv6" },
	{ "ports: [{device: a, ipv4: 198.18.0.1/24, ipv6: ff02::1/64}]\n" LCORE, "ports[0].ipv6", "unicast" },
	{ "ports: [{device: a, ipv4: 198.18.0.1/24, ipv6: fe80::1/64}]\n" LCORE, "ports[0].ipv6", "link-local" },
	{ "ports: [{device: a, ipv4: 198.18.0.1/24, ipv6: \"::ffff:10.0.0.1/64\"}]\n" LCORE, "ports[0].ipv6",
	  "unicast" },
	{ "ports: [{device: a, ipv4: 198.18.0.1/24, gateway6: fe80::1}]\n" LCORE, "ports[0].gateway6", "without" },
	{ "ports: [{device: a, ipv4: 198.18.0.1/24, ipv6: 2001:2::1/64, gateway6: 2001:3::1}]\n" LCORE,
	  "ports[0].gateway6", "on-link" },
	{ "ports: [{device: a, ipv4: 198.18.0.1/24, ipv6: 2001:2::1/64}, {device: b, ipv4: 198.18.1.1/24, ipv6: "
	  "2001:2::1/64}]\n" LCORE,
	  "ports[1].ipv6", "already used" },
	{ "ports: [{device: a, ipv4: 198.18.0.1/24, gateway: 198.18.0.255}]\n" LCORE, "ports[0].gateway", "broadcast" },
	{ "ports: [{device: a, ipv4: 198.18.0.1/24, gateway: 198.18.0.1/24}]\n" LCORE, "ports[0].gateway",
	  "expected a.b.c.d" },
	{ "ports: [{device: a, ipv4: 198.18.0.1/24, gateway: 0.0.0.0}]\n" LCORE, "ports[0].gateway", "omit" },
	{ "ports: [{device: a, ipv4: 10.9.9.9/32, gateway: 10.9.9.8}]\n" LCORE, "ports[0].gateway", "outside" },
	/* vlan, ports, queues, descriptors */
	{ "ports: [{device: a, ipv4: 10.0.0.1/24, vlan: 4095}]\n" LCORE, "ports[0].vlan", "0..4094" },
	{ "ports: [{device: a, ipv4: 10.0.0.1/24, mqttsn_port: 0}]\n" LCORE, "ports[0].mqttsn_port", "1..65535" },
	{ "ports: [{device: a, ipv4: 10.0.0.1/24, mqttsn_port: 65536}]\n" LCORE, "ports[0].mqttsn_port", "1..65535" },
	{ "ports: [{device: a, ipv4: 10.0.0.1/24, rx_queues: 0}]\n" LCORE, "ports[0].rx_queues", "1..16" },
	{ "ports: [{device: a, ipv4: 10.0.0.1/24, rx_queues: 17}]\n" LCORE, "ports[0].rx_queues", "1..16" },
	{ "ports: [{device: a, ipv4: 10.0.0.1/24, rx_desc: 32}]\n" LCORE, "ports[0].rx_desc", "64..32768" },
	{ "ports: [{device: a, ipv4: 10.0.0.1/24, tx_desc: 65536}]\n" LCORE, "ports[0].tx_desc", "64..32768" },
	{ "ports: [{device: a, ipv4: 10.0.0.1/24}, {device: b, ipv4: 10.0.1.1/24, vlan: 5000}]\n" LCORE,
	  "ports[1].vlan", NULL },
	/* burst and rings */
	{ MIN "burst: 0\n", "burst", "1..256" },
	{ MIN "burst: 257\n", "burst", "1..256" },
	{ MIN "rings: {worker: 1000}\n", "rings.worker: 1000 is not a power of two; use e.g. 1024", NULL },
	{ MIN "rings: {tx: 3000}\n", "rings.tx", "power of two" },
	{ MIN "rings: {peer: 32}\n", "rings.peer", "64..1048576" },
	{ MIN "rings: {peer: 2097152}\n", "rings.peer", "64..1048576" },
	{ MIN "burst: 256\nrings: {tx: 128}\n", "rings.tx", "smaller than burst" },
	/* mempool */
	{ MIN "mempool: {mbufs: 2000}\n", "mempool.mbufs", "too small" },
	{ MIN "mempool: {header_mbufs: 1000}\n", "mempool.header_mbufs", "too small" },
	{ MIN "mempool: {cache: 513}\n", "mempool.cache", "0..512" },
	{ MIN "mempool: {mbufs: 0}\n", "mempool.mbufs", NULL },
	{ "ports: [{device: a, ipv4: 10.0.0.1/24, rx_queues: 16, rx_desc: 1024}]\n" LCORE, "mempool.mbufs",
	  "too small" },
	{ MIN "neighbours: 0\n", "neighbours", NULL },
	/* mqttsn numbers */
	{ MIN "mqttsn: {gateway_id: 256}\n", "mqttsn.gateway_id", "0..255" },
	{ MIN "mqttsn: {max_sessions: 0}\n", "mqttsn.max_sessions", NULL },
	{ MIN "mqttsn: {max_topics: 0}\n", "mqttsn.max_topics", NULL },
	{ MIN "mqttsn: {max_client_topics: 0}\n", "mqttsn.max_client_topics", NULL },
	{ MIN "mqttsn: {max_subscriptions: 0}\n", "mqttsn.max_subscriptions", NULL },
	{ MIN "mqttsn: {max_inflight: 0}\n", "mqttsn.max_inflight", NULL },
	{ MIN "mqttsn: {max_inflight_per_session: 0}\n", "mqttsn.max_inflight_per_session", NULL },
	{ MIN "mqttsn: {max_inflight: 10, max_inflight_per_session: 11}\n", "mqttsn.max_inflight_per_session",
	  "more than mqttsn.max_inflight" },
	{ MIN "mqttsn: {retry_interval_ms: 0}\n", "mqttsn.retry_interval_ms", NULL },
	{ MIN "mqttsn: {max_topic_len: 0}\n", "mqttsn.max_topic_len", NULL },
	{ MIN "mqttsn: {max_topic_len: 65528}\n", "mqttsn.max_topic_len", NULL },
	{ MIN "mqttsn: {expiry_scan_per_tick: 0}\n", "mqttsn.expiry_scan_per_tick", NULL },
	{ MIN "mqttsn: {offline_buffer: 256}\n", "mqttsn.offline_buffer", NULL },
	{ MIN "mqttsn: {max_sessions: 8, max_forwarded_nodes: 9}\n", "mqttsn.max_forwarded_nodes",
	  "more than mqttsn.max_sessions" },
	{ MIN "mqttsn: {max_wills: 65536}\n", "mqttsn.max_wills", NULL },
	{ MIN "mqttsn: {will_max_bytes: 4097}\n", "mqttsn.will_max_bytes", NULL },
	{ MIN "mqttsn: {will_max_bytes: 1}\n", "mqttsn.will_max_bytes", NULL },
	{ MIN "mqttsn: {max_sessions: 4294967296}\n", "mqttsn.max_sessions", "out of range" },
	/* predefined topics */
	{ MIN "mqttsn: {client_predefined: [{topics: [{id: 1, name: a}]}]}\n", "mqttsn.client_predefined[0]",
	  "exactly one of client_id and client_id_prefix" },
	{ MIN "mqttsn: {client_predefined: [{client_id: a, client_id_prefix: b}]}\n", "mqttsn.client_predefined[0]",
	  "exactly one" },
	{ MIN "mqttsn: {client_predefined: [{client_id: \"\", topics: []}]}\n", "mqttsn.client_predefined[0]",
	  "not a ClientId" },
	{ MIN "mqttsn: {client_predefined: [{client_id: aaaaaaaaaaaaaaaaaaaaaaaa}]}\n", "mqttsn.client_predefined[0]",
	  "not a ClientId" },
	{ MIN "mqttsn: {client_predefined: [{client_id: a, topics: [{id: 0, name: x}]}]}\n",
	  "mqttsn.client_predefined[0].topics[0].id", "1..65534" },
	{ MIN "mqttsn: {client_predefined: [{client_id: a, topics: [{id: 1, name: x}, {id: 1, name: y}]}]}\n",
	  "mqttsn.client_predefined[0].topics[1].id", "unique" },
	{ MIN "mqttsn: {client_predefined: [{client_id: a, topics: [{id: 1, name: x}, {id: 2, name: x}]}]}\n",
	  "mqttsn.client_predefined[0].topics[1].name", "already predefined" },
	{ MIN "mqttsn: {client_predefined: [{client_id: a, topics: [{id: 1, name: \"x/#\"}]}]}\n",
	  "mqttsn.client_predefined[0].topics[0].name", NULL },
	{ MIN "mqttsn: {client_predefined: [{client_id: a, topics: [{id: 1}]}]}\n",
	  "mqttsn.client_predefined[0].topics[0].name", "missing" },
	{ MIN "mqttsn: {max_topics: 1, client_predefined: [{client_id: a, topics: [{id: 1, name: x}, {id: 2, name: "
	      "y}]}]}\n",
	  "mqttsn.client_predefined[0].topics", "max_topics" },
	{ MIN "mqttsn: {client_predefined: [{client_id: a, qos: 1}]}\n", "mqttsn.client_predefined[0].qos: unknown key",
	  NULL },
	{ MIN "mqttsn: {predefined_topics: [{id: 0, name: a}]}\n", "mqttsn.predefined_topics[0].id", "1..65534" },
	{ MIN "mqttsn: {predefined_topics: [{id: 65535, name: a}]}\n", "mqttsn.predefined_topics[0].id", "1..65534" },
	{ MIN "mqttsn: {predefined_topics: [{id: 3, name: a}, {id: 3, name: b}]}\n", "mqttsn.predefined_topics[1].id",
	  "already used" },
	{ MIN "mqttsn: {predefined_topics: [{name: a}]}\n", "mqttsn.predefined_topics[0].id", "missing" },
	{ MIN "mqttsn: {predefined_topics: [{id: 1}]}\n", "mqttsn.predefined_topics[0].name", "missing" },
	{ MIN "mqttsn: {predefined_topics: [{id: 1, name: \"a/+/b\"}]}\n", "mqttsn.predefined_topics[0].name",
	  "wildcard" },
	{ MIN "mqttsn: {predefined_topics: [{id: 1, name: \"a/#\"}]}\n", "mqttsn.predefined_topics[0].name",
	  "wildcard" },
	{ MIN "mqttsn: {predefined_topics: [{id: 1, name: \"\"}]}\n", "mqttsn.predefined_topics[0].name", "empty" },
	{ MIN "mqttsn: {max_topic_len: 4, predefined_topics: [{id: 1, name: abcde}]}\n",
	  "mqttsn.predefined_topics[0].name", "longer than mqttsn.max_topic_len" },
	{ MIN "mqttsn: {predefined_topics: [{id: 1, name: a/b}, {id: 2, name: a/b}]}\n",
	  "mqttsn.predefined_topics[1].name", "already predefined" },
	{ MIN "mqttsn: {max_topics: 1, predefined_topics: [{id: 1, name: a}, {id: 2, name: b}]}\n",
	  "mqttsn.predefined_topics", "max_topics" },
	/* stats */
	{ MIN "stats: {file: \"\"}\n", "stats.file", "empty" },
	/* number syntax */
	{ MIN "burst: 1.5\n", "burst: '1.5' is not a whole number", NULL },
	{ MIN "burst: -1\n", "burst", "not a whole number" },
	{ MIN "burst: 0x20\n", "burst", "not a whole number" },
	{ MIN "burst: 010\n", "burst", "leading zero" },
	{ MIN "burst: 32 64\n", "burst", "not a whole number" },
	{ MIN "burst: \"\"\n", "burst", "not a whole number" },
	{ MIN "burst: 99999999999999999999999999\n", "burst", "out of range" },
};

static void test_semantic_rules(void **state)
{
	(void)state;
	int failed = 0;
	for (size_t i = 0; i < sizeof(semantic) / sizeof(semantic[0]); i++)
		failed += !refused_with(semantic[i].yaml, semantic[i].key, semantic[i].also);
	assert_int_equal(failed, 0);
}

static const struct bad structural[] = {
	/* unknown keys, at every level, with what is allowed there */
	{ MIN "bogus: 1\n", "bogus: unknown key", "allowed here: ports, lcores" },
	{ "ports: [{device: a, ipv4: 10.0.0.1/24, ipv7: x}]\n" LCORE, "ports[0].ipv7: unknown key",
	  "allowed here: device, ipv4" },
	{ "ports: [{device: a, ipv4: 10.0.0.1/24}, {device: b, ipv4: 10.0.1.1/24, vlna: 3}]\n" LCORE,
	  "ports[1].vlna: unknown key", NULL },
	{ PORT "lcores: [{lcore: 1, roles: [rx, worker, tx], pin: 1}]\n", "lcores[0].pin: unknown key", "roles" },
	{ MIN "rings: {workers: 1024}\n", "rings.workers: unknown key", "worker, tx, peer" },
	{ MIN "mempool: {size: 1024}\n", "mempool.size: unknown key", "mbufs" },
	{ MIN "mqttsn: {max_session: 1}\n", "mqttsn.max_session: unknown key", "max_sessions" },
	{ MIN "mqttsn: {predefined_topics: [{id: 1, name: a, qos: 1}]}\n",
	  "mqttsn.predefined_topics[0].qos: unknown key", "id, name" },
	{ MIN "stats: {path: /tmp/x}\n", "stats.path: unknown key", "file" },
	/* wrong types / shapes */
	{ MIN "burst: [32]\n", "burst: expected a single value, got a list", "line 3" },
	{ MIN "burst: {a: 1}\n", "burst: expected a single value", NULL },
	{ "ports: {device: a, ipv4: 10.0.0.1/24}\n" LCORE, "ports: expected a list, got a mapping", NULL },
	{ "ports: a\n" LCORE, "ports: expected a list", NULL },
	{ "ports: [a]\n" LCORE, "ports[0]: expected a mapping", NULL },
	{ MIN "rings: 4096\n", "rings: expected a mapping", NULL },
	{ PORT "lcores: [{lcore: 1, roles: rx}]\n", "lcores[0].roles: expected a list", NULL },
	{ PORT "lcores: [{lcore: 1, roles: [rx, worker, tx, dispatcher]}]\n",
	  "lcores[0].roles: unknown value 'dispatcher'", "rx, worker, tx" },
	{ PORT "lcores: [{lcore: 1, roles: [1, 2]}]\n", "lcores[0].roles: unknown value '1'", NULL },
	{ "ports: [{device: [a], ipv4: 10.0.0.1/24}]\n" LCORE, "ports[0].device: expected a single value", NULL },
	{ "- a\n- b\n", "config: expected a mapping", NULL },
	{ "just a string\n", "config: expected a mapping", NULL },
	/* duplicate keys, syntax errors, aliases */
	{ MIN "burst: 32\nburst: 64\n", "burst: key given more than once", NULL },
	{ "ports: [{device: a, ipv4: 10.0.0.1/24\n" LCORE, "ports", "YAML syntax error" },
	{ MIN "burst: &b 32\nneighbours: *b\n", "neighbours", "aliases" },
};

static void test_structural_errors(void **state)
{
	(void)state;
	int failed = 0;
	for (size_t i = 0; i < sizeof(structural) / sizeof(structural[0]); i++)
		failed += !refused_with(structural[i].yaml, structural[i].key, structural[i].also);
	assert_int_equal(failed, 0);
}

static void test_error_buffer_handling(void **state)
{
	(void)state;
	struct fo_config *cfg = NULL;
	const char *bad = MIN "rings: {worker: 1000}\n";
	/* No error buffer at all, and a tiny one: still refused, never overrun. */
	assert_int_equal(fo_config_parse(bad, strlen(bad), &cfg, NULL, 0), -1);
	assert_null(cfg);
	char tiny[8];
	memset(tiny, 'X', sizeof(tiny));
	assert_int_equal(fo_config_parse(bad, strlen(bad), &cfg, tiny, 5), -1);
	assert_string_equal(tiny, "ring");
	assert_int_equal(tiny[5], 'X');
	/* Not NUL-terminated input: the length is what counts. */
	char buf[sizeof(MIN) - 1];
	memcpy(buf, MIN, sizeof(buf));
	fo_config_free(NULL);
	assert_int_equal(fo_config_parse(buf, sizeof(buf), &cfg, NULL, 0), 0);
	assert_non_null(cfg);
	fo_config_free(cfg);
}

static void test_load_file(void **state)
{
	(void)state;
	struct fo_config *cfg = (struct fo_config *)1;
	char err[512] = "";
	const char *missing = "/nonexistent/fanout-test/config.yaml";
	assert_int_equal(fo_config_load(missing, &cfg, err, sizeof(err)), -1);
	assert_null(cfg);
	assert_non_null(strstr(err, missing));
	assert_non_null(strstr(err, "No such file"));

	char path[] = "/tmp/fanout-test-config-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(MIN "rings: {worker: 1000}\n", f);
	fclose(f);
	assert_int_equal(fo_config_load(path, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "rings.worker: 1000 is not a power of two"));

	f = fopen(path, "w");
	assert_non_null(f);
	fputs(FULL, f);
	fclose(f);
	assert_int_equal(fo_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->n_ports, 2);
	assert_int_equal(cfg->broker.n_predefined, 2);
	fo_config_free(cfg);
	unlink(path);
}

/* The shipped example must stay valid. */
static void test_deploy_example(void **state)
{
	(void)state;
	if (example_path == NULL)
		skip();
	struct fo_config *cfg = NULL;
	char err[512] = "";
	int rc = fo_config_load(example_path, &cfg, err, sizeof(err));
	if (rc != 0)
		print_message("%s\n", err);
	assert_int_equal(rc, 0);
	assert_true(cfg->n_ports >= 1);
	assert_true(cfg->n_lcores >= 1);
	assert_ptr_equal(cfg->broker.predefined, cfg->predefined);
	fo_config_free(cfg);
}

/* ---------------------------------------------------------------- security */

static void test_security_defaults(void **state)
{
	(void)state;
	const char *docs[] = { MIN, MIN "security: {}\n" };
	for (int k = 0; k < 2; k++) {
		struct fo_config *c = parse_ok(docs[k]);
		const struct broker_config *b = &c->broker;
		assert_true(b->address_proof);
		assert_int_equal(b->proof_timeout_ms, FO_DEFAULT_PROOF_TIMEOUT_MS);
		assert_int_equal(c->min_source_port, FO_DEFAULT_MIN_SOURCE_PORT);
		assert_int_equal(c->min_source_port, 1024);
		assert_int_equal(b->keepalive_min_s, FO_DEFAULT_KEEPALIVE_MIN_S);
		assert_int_equal(b->keepalive_max_s, FO_DEFAULT_KEEPALIVE_MAX_S);
		assert_true(b->refuse_keepalive_zero); /* keepalive_zero: false */
		/* The default tables are big enough for the default quotas. */
		assert_int_equal(b->sessions_per_source, FO_DEFAULT_SESSIONS_PER_SOURCE);
		assert_int_equal(b->topics_per_session, FO_DEFAULT_TOPICS_PER_SESSION);
		assert_int_equal(b->subscriptions_per_session, FO_DEFAULT_SUBS_PER_SESSION);
		assert_int_equal(b->wildcards_per_session, FO_DEFAULT_WILDCARDS_PER_SESSION);
		assert_int_equal(b->max_filter_levels, FO_DEFAULT_MAX_FILTER_LEVELS);
		assert_int_equal(b->max_giveups, FO_DEFAULT_MAX_GIVEUPS);
		assert_int_equal(b->error_replies_per_s, FO_DEFAULT_ERROR_REPLIES_PER_S);
		assert_int_equal(b->error_reply_burst, FO_DEFAULT_ERROR_REPLY_BURST);
		assert_int_equal(b->n_admission, 0);
		assert_null(b->admission);
		fo_config_free(c);
	}
	/* Small tables shrink the default quotas to half of each table for one source. */
	struct fo_config *c = parse_ok(MIN "mqttsn: {max_sessions: 8, max_topics: 100, max_client_topics: 400, "
					   "max_subscriptions: 64}\n");
	assert_int_equal(c->broker.sessions_per_source, 4);
	assert_int_equal(c->broker.topics_per_session, 50 / 4);
	assert_int_equal(c->broker.subscriptions_per_session, 64 / 2 / 4);
	fo_config_free(c);
}

static void test_security_values(void **state)
{
	(void)state;
	struct fo_config *c = parse_ok(
		MIN "security:\n"
		    "  address_proof: false\n"
		    "  proof_timeout_ms: 3600000\n"
		    "  min_source_port: 1\n"
		    "  keepalive_min_s: 30\n"
		    "  keepalive_max_s: 30\n"
		    "  keepalive_zero: true\n"
		    "  sessions_per_source: 0\n"
		    "  topics_per_session: 65534\n"
		    "  subscriptions_per_session: 65535\n"
		    "  wildcards_per_session: 0\n"
		    "  max_filter_levels: 65535\n"
		    "  max_giveups: 255\n"
		    "  error_replies_per_s: 1000000\n"
		    "  error_reply_burst: 1\n"
		    "  admission:\n"
		    "    - client_id: gw-1\n"
		    "      from: [198.18.0.7, 10.0.0.0/8]\n"
		    "    - {client_id_prefix: \"sensor-\", from: [\"192.168.0.0/16\"]}\n"
		    "    - {client_id_prefix: \"\", from: [0.0.0.0/0]}\n"
		    "    - {client_id: abcdefghijklmnopqrstuvw, from: [203.0.113.128/25]}\n"
		    "    - {client_id: v6, from: [2001:db8::/32, 10.0.0.0/8, \"2001:db8:0:1::7\", \"::/0\",\n"
		    "                             2001:db8:0:1:8000::/65]}\n");
	const struct broker_config *b = &c->broker;
	assert_false(b->address_proof);
	assert_int_equal(b->proof_timeout_ms, 3600000);
	assert_int_equal(c->min_source_port, 1);
	assert_int_equal(b->keepalive_min_s, 30);
	assert_int_equal(b->keepalive_max_s, 30);
	assert_false(b->refuse_keepalive_zero);
	assert_int_equal(b->sessions_per_source, 0);
	assert_int_equal(b->topics_per_session, 65534);
	assert_int_equal(b->subscriptions_per_session, 65535);
	assert_int_equal(b->wildcards_per_session, 0);
	assert_int_equal(b->max_filter_levels, 65535);
	assert_int_equal(b->max_giveups, 255);
	assert_int_equal(b->error_replies_per_s, 1000000);
	assert_int_equal(b->error_reply_burst, 1);

	assert_int_equal(b->n_admission, 5);
	assert_ptr_equal(b->admission, c->admission);
	const struct broker_admission *a = b->admission;
	assert_false(a[0].prefix);
	assert_int_equal(a[0].client_id_len, 4);
	assert_memory_equal(a[0].client_id, "gw-1", 4);
	assert_int_equal(a[0].n_nets, 2);
	assert_int_equal(a[0].nets[0], 0xc6120007u); /* a bare address is a /32 */
	assert_int_equal(a[0].masks[0], 0xffffffffu);
	assert_int_equal(a[0].nets[1], 0x0a000000u);
	assert_int_equal(a[0].masks[1], 0xff000000u);
	assert_true(a[1].prefix);
	assert_int_equal(a[1].client_id_len, 7);
	assert_memory_equal(a[1].client_id, "sensor-", 7);
	assert_int_equal(a[1].n_nets, 1);
	assert_int_equal(a[1].nets[0], 0xc0a80000u);
	assert_int_equal(a[1].masks[0], 0xffff0000u);
	assert_true(a[2].prefix); /* an empty prefix: every ClientId */
	assert_int_equal(a[2].client_id_len, 0);
	assert_int_equal(a[2].nets[0], 0);
	assert_int_equal(a[2].masks[0], 0);
	assert_false(a[3].prefix);
	assert_int_equal(a[3].client_id_len, 23);
	assert_int_equal(a[3].nets[0], 0xcb007180u);
	assert_int_equal(a[3].masks[0], 0xffffff80u);
	assert_int_equal(a[3].n_nets6, 0);
	/* IPv6 and IPv4 prefixes in one list: each family's in its own array, in order */
	assert_int_equal(a[4].n_nets, 1);
	assert_int_equal(a[4].nets[0], 0x0a000000u);
	assert_int_equal(a[4].n_nets6, 4);
	assert_true(a[4].nets6[0].net[0] == 0x20010db800000000ull && a[4].nets6[0].net[1] == 0);
	assert_true(a[4].nets6[0].mask[0] == 0xffffffff00000000ull && a[4].nets6[0].mask[1] == 0);
	assert_true(a[4].nets6[1].net[0] == 0x20010db800000001ull && a[4].nets6[1].net[1] == 7); /* /128 */
	assert_true(a[4].nets6[1].mask[0] == ~0ull && a[4].nets6[1].mask[1] == ~0ull);
	assert_true(a[4].nets6[2].net[0] == 0 && a[4].nets6[2].mask[0] == 0 && a[4].nets6[2].mask[1] == 0);
	assert_true(a[4].nets6[3].net[1] == 0x8000000000000000ull &&
		    a[4].nets6[3].mask[1] == 0x8000000000000000ull); /* /65: one bit of the second half */
	fo_config_free(c);

	/* Edges of the mqttsn bounds the engine accepts. */
	c = parse_ok(MIN "mqttsn: {session_expiry_s: 0, offline_buffer: 255, max_wills: 0, will_max_bytes: 4096}\n");
	assert_int_equal(c->broker.session_expiry_s, 0);
	assert_int_equal(c->broker.offline_buffer, 255);
	assert_int_equal(c->broker.max_wills, 0);
	assert_int_equal(c->broker.will_max_bytes, 4096);
	fo_config_free(c);
	c = parse_ok(MIN "mqttsn: {retry_limit: 255, max_inflight_per_session: 32768, max_topic_len: 2}\n");
	assert_int_equal(c->broker.retry_limit, 255);
	assert_int_equal(c->broker.max_inflight_per_session, 32768);
	assert_int_equal(c->broker.max_topic_len, 2);
	fo_config_free(c);
}

#define SEC MIN "security:\n"
#define ADM SEC "  admission:\n"

static const struct bad security_rules[] = {
	/* booleans */
	{ SEC "  address_proof: yes\n", "security.address_proof", "not true or false" },
	{ SEC "  keepalive_zero: 1\n", "security.keepalive_zero", "not true or false" },
	/* numbers, each at both ends of its range */
	{ SEC "  proof_timeout_ms: 0\n", "security.proof_timeout_ms", "1..3600000" },
	{ SEC "  proof_timeout_ms: 3600001\n", "security.proof_timeout_ms", "1..3600000" },
	{ SEC "  min_source_port: 0\n", "security.min_source_port", "1..65535" },
	{ SEC "  min_source_port: 65536\n", "security.min_source_port", "1..65535" },
	{ SEC "  keepalive_min_s: 0\n", "security.keepalive_min_s", "1..65535" },
	{ SEC "  keepalive_min_s: 65536\n", "security.keepalive_min_s", "1..65535" },
	{ SEC "  keepalive_max_s: 0\n", "security.keepalive_max_s", "1..65535" },
	{ SEC "  keepalive_max_s: 65536\n", "security.keepalive_max_s", "1..65535" },
	{ SEC "  sessions_per_source: 65536\n", "security.sessions_per_source", "0..65535" },
	{ SEC "  topics_per_session: 65535\n", "security.topics_per_session", "0..65534" },
	{ SEC "  subscriptions_per_session: 65536\n", "security.subscriptions_per_session", "0..65535" },
	{ SEC "  wildcards_per_session: 65536\n", "security.wildcards_per_session", "0..65535" },
	{ SEC "  max_filter_levels: 65536\n", "security.max_filter_levels", "0..65535" },
	{ SEC "  max_giveups: 256\n", "security.max_giveups", "0..255" },
	{ SEC "  error_replies_per_s: 1000001\n", "security.error_replies_per_s", "0..1000000" },
	{ SEC "  error_reply_burst: 0\n", "security.error_reply_burst", "1..1000000" },
	{ SEC "  error_reply_burst: 1000001\n", "security.error_reply_burst", "1..1000000" },
	{ SEC "  max_giveups: -1\n", "security.max_giveups", "not a whole number" },
	{ SEC "  proof_timeout_ms: 1.5\n", "security.proof_timeout_ms", "not a whole number" },
	/* keepalive bounds in order */
	{ SEC "  keepalive_min_s: 60\n  keepalive_max_s: 30\n", "security.keepalive_max_s",
	  "below security.keepalive_min_s" },
	/* one source may hold at most half of each table */
	{ MIN "mqttsn: {max_sessions: 100}\nsecurity: {sessions_per_source: 51}\n", "security.sessions_per_source",
	  "more than half of mqttsn.max_sessions" },
	{ MIN "mqttsn: {max_topics: 100}\nsecurity: {sessions_per_source: 2, topics_per_session: 26}\n",
	  "security.topics_per_session", "more than half" },
	{ MIN "mqttsn: {max_subscriptions: 100}\nsecurity: {sessions_per_source: 5, subscriptions_per_session: 11}\n",
	  "security.subscriptions_per_session", "more than half" },
	/* admission rules: exactly one of client_id and client_id_prefix */
	{ ADM "    - {client_id: a, client_id_prefix: b, from: [10.0.0.0/8]}\n", "security.admission[0]",
	  "exactly one of client_id and client_id_prefix" },
	{ ADM "    - {from: [10.0.0.0/8]}\n", "security.admission[0]",
	  "exactly one of client_id and client_id_prefix" },
	{ ADM "    - {client_id: \"\", from: [10.0.0.0/8]}\n", "security.admission[0]", "not a ClientId" },
	{ ADM "    - {client_id: abcdefghijklmnopqrstuvwx, from: [10.0.0.0/8]}\n", "security.admission[0]",
	  "not a ClientId" },
	{ ADM "    - {client_id_prefix: abcdefghijklmnopqrstuvwx, from: [10.0.0.0/8]}\n", "security.admission[0]",
	  "not a ClientId" },
	/* ... and a from list */
	{ ADM "    - {client_id: a}\n", "security.admission[0].from", "missing" },
	{ ADM "    - {client_id: a, from: []}\n", "security.admission[0].from", "missing" },
	/* prefixes: the network address, length 0..32 */
	{ ADM "    - {client_id: a, from: [10.0.0.1/24]}\n", "security.admission[0].from[0]", "host bits set" },
	{ ADM "    - {client_id: a, from: [0.0.0.1/0]}\n", "security.admission[0].from[0]", "host bits set" },
	{ ADM "    - {client_id: a, from: [10.0.0.0/8]}\n    - {client_id: b, from: [10.0.0.0/8, 10.0.0.0/33]}\n",
	  "security.admission[1].from[1]", "len 0..32" },
	{ ADM "    - {client_id: a, from: [10.0.0.0/]}\n", "security.admission[0].from[0]", "not an IPv4 prefix" },
	{ ADM "    - {client_id: a, from: [10.0.0.0/-1]}\n", "security.admission[0].from[0]", "not an IPv4 prefix" },
	{ ADM "    - {client_id: a, from: [10.0.0.0/8x]}\n", "security.admission[0].from[0]", "not an IPv4 prefix" },
	{ ADM "    - {client_id: a, from: [10.0.0/8]}\n", "security.admission[0].from[0]",
	  "not an IPv4 or IPv6 prefix" },
	{ ADM "    - {client_id: a, from: [10.0.0.256]}\n", "security.admission[0].from[0]",
	  "not an IPv4 or IPv6 prefix" },
	{ ADM "    - {client_id: a, from: [\"10.0.0.0 /8\"]}\n", "security.admission[0].from[0]",
	  "not an IPv4 or IPv6 prefix" },
	/* IPv6 prefixes: the network address, length 0..128, an address inet_pton reads */
	{ ADM "    - {client_id: a, from: [2001:db8::1/64]}\n", "security.admission[0].from[0]", "host bits set" },
	{ ADM "    - {client_id: a, from: [\"::1/0\"]}\n", "security.admission[0].from[0]", "host bits set" },
	{ ADM "    - {client_id: a, from: [10.0.0.0/8, 2001:db8::/129]}\n", "security.admission[0].from[1]",
	  "len 0..128" },
	{ ADM "    - {client_id: a, from: [2001:db8::/]}\n", "security.admission[0].from[0]", "not an IPv6 prefix" },
	{ ADM "    - {client_id: a, from: [2001:db8::/064]}\n", "security.admission[0].from[0]", "not an IPv6 prefix" },
	{ ADM "    - {client_id: a, from: [2001:db8:::/48]}\n", "security.admission[0].from[0]", "not an IPv6 prefix" },
	{ ADM "    - {client_id: a, from: [2001:db8::g/128]}\n", "security.admission[0].from[0]",
	  "not an IPv6 prefix" },
	{ ADM "    - {client_id: a, from: [\"2001:db8:: /32\"]}\n", "security.admission[0].from[0]",
	  "not an IPv6 prefix" },
	/* unknown keys and shapes */
	{ SEC "  adress_proof: true\n", "security.adress_proof: unknown key", "address_proof" },
	{ ADM "    - {client_id: a, from: [10.0.0.0/8], to: [1.2.3.4]}\n", "security.admission[0].to: unknown key",
	  "client_id" },
	{ ADM "    - {client_id: a, from: 10.0.0.0/8}\n", "security.admission[0].from: expected a list", NULL },
	{ SEC "  admission: {client_id: a, from: [10.0.0.0/8]}\n", "security.admission: expected a list", NULL },
	{ MIN "security: true\n", "security: expected a mapping", NULL },
	/* mqttsn bounds the engine used to refuse only at start */
	{ MIN "mqttsn: {retry_limit: 256}\n", "mqttsn.retry_limit", "0..255" },
	{ MIN "mqttsn: {max_inflight_per_session: 40000}\n", "mqttsn.max_inflight_per_session", "1..32768" },
	{ MIN "mqttsn: {max_topic_len: 1}\n", "mqttsn.max_topic_len", "2..65527" },
	{ MIN "mqttsn: {max_sessions: 268435457}\n", "mqttsn.max_sessions", "1..268435456" },
	{ MIN "mqttsn: {max_client_topics: 268435457}\n", "mqttsn.max_client_topics", "1..268435456" },
	{ MIN "mqttsn: {max_subscriptions: 268435457}\n", "mqttsn.max_subscriptions", "1..268435456" },
	{ MIN "mqttsn: {max_inflight: 268435457}\n", "mqttsn.max_inflight", "1..268435456" },
};

static void test_security_rules(void **state)
{
	(void)state;
	int failed = 0;
	for (size_t i = 0; i < sizeof(security_rules) / sizeof(security_rules[0]); i++)
		failed += !refused_with(security_rules[i].yaml, security_rules[i].key, security_rules[i].also);
	assert_int_equal(failed, 0);
}

/* ---------------------------------------------------------------- admission mode, discovery */

static void test_admission_unlisted(void **state)
{
	(void)state;
	struct fo_config *c = parse_ok(MIN);
	assert_false(c->broker.admission_reject_unlisted); /* default: admit */
	fo_config_free(c);
	c = parse_ok(SEC "  admission_unlisted: admit\n");
	assert_false(c->broker.admission_reject_unlisted);
	fo_config_free(c);
	c = parse_ok(SEC
		     "  admission_unlisted: reject\n  admission: [{client_id_prefix: \"\", from: [198.18.0.0/24]}]\n");
	assert_true(c->broker.admission_reject_unlisted);
	assert_int_equal(c->broker.n_admission, 1);
	fo_config_free(c);
	c = parse_ok(SEC "  admission_unlisted: reject\n"); /* no rules: nobody connects */
	assert_true(c->broker.admission_reject_unlisted);
	assert_int_equal(c->broker.n_admission, 0);
	fo_config_free(c);
	assert_true(refused_with(SEC "  admission_unlisted: deny\n", "security.admission_unlisted", "admit or reject"));
}

static void test_discovery_values(void **state)
{
	(void)state;
	const char *docs[] = { MIN, MIN "discovery: {}\n" };
	for (int k = 0; k < 2; k++) {
		struct fo_config *c = parse_ok(docs[k]);
		const struct fo_discovery_config *d = &c->discovery;
		assert_false(d->advertise);
		assert_int_equal(d->interval_s, FO_DEFAULT_ADVERTISE_INTERVAL_S);
		assert_int_equal(d->dest_ip, 0xffffffffu);
		assert_int_equal(d->dest_port, 0); /* each port's mqttsn_port */
		assert_int_equal(d->ttl, FO_DEFAULT_ADVERTISE_TTL);
		assert_int_equal(d->gwinfo, FO_GWINFO_BROADCAST);
		assert_int_equal(d->gwinfo_broadcasts_per_s, FO_DEFAULT_GWINFO_BROADCASTS_PER_S);
		fo_config_free(c);
	}
	struct fo_config *c = parse_ok(MIN "discovery:\n"
					   "  advertise: true\n"
					   "  interval_s: 65535\n"
					   "  destination: \"239.1.2.3:10000\"\n"
					   "  ttl: 255\n"
					   "  gwinfo: unicast\n"
					   "  gwinfo_broadcasts_per_s: 1\n");
	const struct fo_discovery_config *d = &c->discovery;
	assert_true(d->advertise);
	assert_int_equal(d->interval_s, 65535);
	assert_int_equal(d->dest_ip, 0xef010203u);
	assert_int_equal(d->dest_port, 10000);
	assert_int_equal(d->ttl, 255);
	assert_int_equal(d->gwinfo, FO_GWINFO_UNICAST);
	assert_int_equal(d->gwinfo_broadcasts_per_s, 1);
	fo_config_free(c);
	/* the port's subnet broadcast, a host on it, and off link through a gateway */
	c = parse_ok(MIN "discovery: {destination: 198.18.0.255, interval_s: 1}\n");
	assert_int_equal(c->discovery.dest_ip, 0xc61200ffu);
	assert_int_equal(c->discovery.dest_port, 0);
	assert_int_equal(c->discovery.interval_s, 1);
	fo_config_free(c);
	c = parse_ok(MIN "discovery: {destination: \"198.18.0.7:1884\"}\n");
	assert_int_equal(c->discovery.dest_ip, 0xc6120007u);
	assert_int_equal(c->discovery.dest_port, 1884);
	fo_config_free(c);
	c = parse_ok("ports: [{device: a, ipv4: 198.18.0.1/24, gateway: 198.18.0.254}]\n" LCORE
		     "discovery: {destination: 203.0.113.9}\n");
	assert_int_equal(c->discovery.dest_ip, 0xcb007109u);
	fo_config_free(c);
	/* the IPv6 group: none by default; a group of link or wider scope, its port or the MQTT-SN one */
	c = parse_ok(MIN6);
	assert_false(c->discovery.has_dest6);
	assert_int_equal(c->discovery.dest6_port, 0);
	fo_config_free(c);
	c = parse_ok(MIN6 "discovery: {destination6: ff02::4d51}\n");
	static const uint8_t g[16] = { 0xff, 0x02, [14] = 0x4d, [15] = 0x51 };
	assert_true(c->discovery.has_dest6);
	assert_memory_equal(c->discovery.dest6, g, 16);
	assert_int_equal(c->discovery.dest6_port, 0); /* each port's mqttsn_port */
	assert_int_equal(c->discovery.dest_ip, 0xffffffffu);
	fo_config_free(c);
	c = parse_ok(MIN6 "discovery:\n  destination6: \"ff0e::1:2\"\n  port6: 10000\n  destination: 239.1.2.3\n");
	assert_true(c->discovery.has_dest6);
	assert_int_equal(c->discovery.dest6[1], 0x0e);
	assert_int_equal(c->discovery.dest6[13], 1);
	assert_int_equal(c->discovery.dest6[15], 2);
	assert_int_equal(c->discovery.dest6_port, 10000);
	assert_int_equal(c->discovery.dest_ip, 0xef010203u);
	fo_config_free(c);
}

#define DISC MIN "discovery:\n"
#define DISC6 MIN6 "discovery:\n"

static const struct bad discovery_rules[] = {
	{ DISC "  advertise: yes\n", "discovery.advertise", "not true or false" },
	{ DISC "  interval_s: 0\n", "discovery.interval_s", "1..65535" },
	{ DISC "  interval_s: 65536\n", "discovery.interval_s", "1..65535" },
	{ DISC "  ttl: 0\n", "discovery.ttl", "1..255" },
	{ DISC "  ttl: 256\n", "discovery.ttl", "1..255" },
	{ DISC "  gwinfo: multicast\n", "discovery.gwinfo", "broadcast or unicast" },
	{ DISC "  gwinfo_broadcasts_per_s: 0\n", "discovery.gwinfo_broadcasts_per_s", "1..1000000" },
	{ DISC "  destination: nowhere\n", "discovery.destination", "not IPv4[:port]" },
	{ DISC "  destination: \"198.18.0.7:\"\n", "discovery.destination", "no valid UDP port" },
	{ DISC "  destination: \"198.18.0.7:0\"\n", "discovery.destination", "no valid UDP port" },
	{ DISC "  destination: \"198.18.0.7:65536\"\n", "discovery.destination", "no valid UDP port" },
	{ DISC "  destination: \"198.18.0.7/24\"\n", "discovery.destination", "not IPv4[:port]" },
	{ DISC "  destination: 127.0.0.1\n", "discovery.destination", "neither a broadcast" },
	{ DISC "  destination: 0.0.0.0\n", "discovery.destination", "neither a broadcast" },
	{ DISC "  destination: 240.0.0.1\n", "discovery.destination", "neither a broadcast" },
	{ DISC "  destination: 198.18.0.1\n", "discovery.destination", "own address" },
	{ DISC "  destination: 198.18.0.0\n", "discovery.destination", "network address" },
	{ DISC "  destination: 203.0.113.9\n", "discovery.destination", "no port has a gateway" },
	{ DISC6 "  destination6: 2001:2::7\n", "discovery.destination6", "not a multicast address" },
	{ DISC6 "  destination6: \"::\"\n", "discovery.destination6", "not a multicast address" },
	{ DISC6 "  destination6: 239.1.2.3\n", "discovery.destination6", "not an IPv6 address" },
	{ DISC6 "  destination6: \"[ff02::1]:1883\"\n", "discovery.destination6", "not an IPv6 address" },
	{ DISC6 "  destination6: ff02::1/64\n", "discovery.destination6", "not an IPv6 address" },
	{ DISC6 "  destination6: ff01::1\n", "discovery.destination6", "scope 1" },
	{ DISC6 "  destination6: ff00::1\n", "discovery.destination6", "scope 0" },
	{ DISC6 "  destination6: ff02::1:ff00:1\n", "discovery.destination6", "solicited-node" },
	{ DISC "  destination6: ff02::4d51\n", "discovery.destination6", "no port has `ipv6`" },
	{ DISC6 "  port6: 1883\n", "discovery.port6", "without discovery.destination6" },
	{ DISC6 "  destination6: ff02::4d51\n  port6: 0\n", "discovery.port6", "1..65535" },
	{ DISC6 "  destination6: ff02::4d51\n  port6: 65536\n", "discovery.port6", "1..65535" },
	{ DISC "  adverts: true\n", "discovery.adverts: unknown key", "advertise" },
	{ MIN "discovery: true\n", "discovery: expected a mapping", NULL },
};

static void test_discovery_rules(void **state)
{
	(void)state;
	int failed = 0;
	for (size_t i = 0; i < sizeof(discovery_rules) / sizeof(discovery_rules[0]); i++)
		failed += !refused_with(discovery_rules[i].yaml, discovery_rules[i].key, discovery_rules[i].also);
	assert_int_equal(failed, 0);
}

/* ---------------------------------------------------------------- routes */

/* Two ports: the first with a gateway (so any unicast address is reachable through it). */
#define RPORTS \
	"ports:\n" \
	"  - {device: a, ipv4: 198.18.0.1/24, gateway: 198.18.0.254}\n" \
	"  - {device: b, ipv4: 10.1.0.1/16}\n" LCORE
/* One port, no gateway: only its subnet is reachable. */
#define RLOCAL MIN

static void test_routes_valid(void **state)
{
	(void)state;
	struct fo_config *c = parse_ok(RPORTS
				       "routes:\n"
				       "  - name: temps\n"
				       "    filter: sensors/+/temp\n"
				       "    format: raw\n"
				       "    to: [\"198.18.0.10:9000\", 10.1.200.3:1, \"203.0.113.5:65535\"]\n"
				       "  - {name: All-events_2.x, filter: \"#\", to: [\"10.1.0.2:9001\"]}\n"
				       "  - {name: sys, filter: \"$SYS/broker/load\", to: [\"198.18.0.10:9000\"]}\n");
	assert_int_equal(c->n_routes, 3);
	const struct fo_route_config *r = &c->routes[0];
	assert_string_equal(r->name, "temps");
	assert_string_equal(r->filter, "sensors/+/temp");
	assert_int_equal(r->format, FO_ROUTE_RAW);
	assert_int_equal(r->n_to, 3);
	assert_int_equal(r->to[0].ip, 0xc612000au); /* host byte order */
	assert_int_equal(r->to[0].port, 9000);
	assert_int_equal(r->to[1].ip, 0x0a01c803u); /* on ports[1]'s subnet */
	assert_int_equal(r->to[1].port, 1);
	assert_int_equal(r->to[2].ip, 0xcb007105u); /* off-link: through ports[0]'s gateway */
	assert_int_equal(r->to[2].port, 65535);
	assert_string_equal(c->routes[1].name, "All-events_2.x");
	assert_string_equal(c->routes[1].filter, "#");
	assert_int_equal(c->routes[1].format, FO_ROUTE_RAW); /* the default */
	assert_string_equal(c->routes[2].filter, "$SYS/broker/load");
	/* The same destination in two routes is fine; only within one route it is refused. */
	assert_int_equal(c->routes[2].to[0].ip, c->routes[0].to[0].ip);
	fo_config_free(c);

	/* No routes, or an empty list: none. */
	c = parse_ok(MIN);
	assert_int_equal(c->n_routes, 0);
	assert_null(c->routes);
	fo_config_free(c);
	c = parse_ok(MIN "routes: []\n");
	assert_int_equal(c->n_routes, 0);
	fo_config_free(c);

	/* Edges: 63-character name, 16 destinations, a filter of exactly max_topic_len bytes, an
	 * on-link destination without any gateway, /31 and /32 ports (no network or broadcast). */
	c = parse_ok(RLOCAL
		     "mqttsn: {max_topic_len: 8}\nroutes:\n"
		     "  - name: abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-\n"
		     "    filter: \"a/+/bc/#\"\n"
		     "    to: [198.18.0.2:1, 198.18.0.3:1, 198.18.0.4:1, 198.18.0.5:1, 198.18.0.6:1, 198.18.0.7:1,\n"
		     "         198.18.0.8:1, 198.18.0.9:1, 198.18.0.10:1, 198.18.0.11:1, 198.18.0.12:1,\n"
		     "         198.18.0.13:1, 198.18.0.14:1, 198.18.0.15:1, 198.18.0.16:1, 198.18.0.2:2]\n"
		     "  - {name: b, filter: \"12345678\", to: [\"198.18.0.254:9\"]}\n");
	assert_int_equal(c->n_routes, 2);
	assert_int_equal(strlen(c->routes[0].name), FO_MAX_ROUTE_NAME);
	assert_int_equal(c->routes[0].n_to, FO_MAX_ROUTE_DESTS);
	assert_int_equal(c->routes[0].to[15].ip, 0xc6120002u);
	assert_int_equal(c->routes[0].to[15].port, 2); /* same host, another port: not a duplicate */
	fo_config_free(c);
	fo_config_free(parse_ok("ports: [{device: a, ipv4: 10.0.0.0/31}]\n" LCORE
				"routes: [{name: r, filter: x, to: [\"10.0.0.1:5\"]}]\n"));
}

#define R0 "routes: [{name: r, filter: \"a/#\", to: [\"198.18.0.9:9000\"]}, "

static const struct bad route_rules[] = {
	/* name: present, [A-Za-z0-9._-]{1,63}, unique */
	{ MIN "routes: [{filter: a, to: [\"198.18.0.9:1\"]}]\n", "routes[0].name",
	  "is missing; give 1..63 characters of [A-Za-z0-9._-]" },
	{ MIN "routes: [{name: \"\", filter: a, to: [\"198.18.0.9:1\"]}]\n", "routes[0].name: '' is not a route name",
	  "give 1..63 characters" },
	{ MIN "routes: [{name: \"a b\", filter: a, to: [\"198.18.0.9:1\"]}]\n", "routes[0].name: 'a b'",
	  "give 1..63 characters of [A-Za-z0-9._-]" },
	{ MIN "routes: [{name: a/b, filter: a, to: [\"198.18.0.9:1\"]}]\n", "routes[0].name", "[A-Za-z0-9._-]" },
	{ MIN "routes: [{name: \"caf\xc3\xa9\", filter: a, to: [\"198.18.0.9:1\"]}]\n",
	  "routes[0].name: 'caf?"
	  "?'",
	  "[A-Za-z0-9._-]" },
	{ MIN "routes: [{name: abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_, filter: a,"
	      " to: [\"198.18.0.9:1\"]}]\n",
	  "routes[0].name", "1..63 characters" },
	{ MIN R0 "{name: q, filter: b, to: [\"198.18.0.9:1\"]}, {name: r, filter: c, to: [\"198.18.0.9:2\"]}]\n",
	  "routes[2].name: 'r' is already the name of routes[0]; names must be unique", NULL },
	/* filter: present, a valid filter within mqttsn.max_topic_len */
	{ MIN "routes: [{name: r, to: [\"198.18.0.9:1\"]}]\n", "routes[0].filter",
	  "missing; give a topic filter such as sensors/#" },
	{ MIN R0 "{name: s, filter: \"a/#/b\", to: [\"198.18.0.9:1\"]}]\n",
	  "routes[1].filter: 'a/#/b' is not a valid topic filter", "'#' must be last" },
	{ MIN "routes: [{name: r, filter: \"a+\", to: [\"198.18.0.9:1\"]}]\n", "routes[0].filter",
	  "'+' and '#' must fill a whole level" },
	{ MIN "routes: [{name: r, filter: \"sensors/temp#\", to: [\"198.18.0.9:1\"]}]\n", "routes[0].filter",
	  "must fill a whole level" },
	{ MIN "routes: [{name: r, filter: \"\", to: [\"198.18.0.9:1\"]}]\n", "routes[0].filter: '' is not a valid",
	  NULL },
	{ MIN "mqttsn: {max_topic_len: 4}\nroutes: [{name: r, filter: abcde, to: [\"198.18.0.9:1\"]}]\n",
	  "routes[0].filter", "at most mqttsn.max_topic_len (4) bytes" },
	/* format: raw or mqttsn (with a predefined topic id) */
	{ MIN "routes: [{name: r, filter: a, format: json, to: [\"198.18.0.9:1\"]}]\n",
	  "routes[0].format: 'json' is not supported; use raw", "or mqttsn" },
	{ MIN "routes: [{name: r, filter: a, format: mqttsn, to: [\"198.18.0.9:1\"]}]\n", "routes[0].topic_id: missing",
	  "give 1..65534" },
	{ MIN "routes: [{name: r, filter: a, format: mqttsn, topic_id: 65535, to: [\"198.18.0.9:1\"]}]\n",
	  "routes[0].topic_id: 65535 is out of range", NULL },
	{ MIN "routes: [{name: r, filter: a, topic_id: 3, to: [\"198.18.0.9:1\"]}]\n",
	  "routes[0].topic_id: only for format: mqttsn", NULL },
	{ MIN "routes: [{name: r, filter: a, format: RAW, to: [\"198.18.0.9:1\"]}]\n", "routes[0].format", "use raw" },
	/* to: 1..16 destinations */
	{ MIN "routes: [{name: r, filter: a}]\n", "routes[0].to: missing or empty", "list 1..16 destinations such as" },
	{ MIN "routes: [{name: r, filter: a, to: []}]\n", "routes[0].to: missing or empty", NULL },
	{ MIN "routes: [{name: r, filter: a, to: [198.18.0.2:1, 198.18.0.3:1, 198.18.0.4:1, 198.18.0.5:1, 198.18.0.6:1,"
	      " 198.18.0.7:1, 198.18.0.8:1, 198.18.0.9:1, 198.18.0.10:1, 198.18.0.11:1, 198.18.0.12:1, 198.18.0.13:1,"
	      " 198.18.0.14:1, 198.18.0.15:1, 198.18.0.16:1, 198.18.0.17:1, 198.18.0.18:1]}]\n",
	  "routes[0].to: 17 destinations, at most 16; split the route in two", NULL },
	/* to[j]: IPv4:port */
	{ MIN "routes: [{name: r, filter: a, to: [\"198.18.0.9\"]}]\n",
	  "routes[0].to[0]: '198.18.0.9' is not IPv4:port; write e.g. 198.18.1.2:9000", NULL },
	{ MIN R0 "{name: s, filter: b, to: [\"198.18.0.9:1\", \"198.18.0.300:1\"]}]\n", "routes[1].to[1]",
	  "is not IPv4:port" },
	{ MIN "routes: [{name: r, filter: a, to: [\"collector:9000\"]}]\n", "routes[0].to[0]", "is not IPv4:port" },
	{ MIN "routes: [{name: r, filter: a, to: [\" 198.18.0.9:1\"]}]\n", "routes[0].to[0]", "is not IPv4:port" },
	{ MIN "routes: [{name: r, filter: a, to: [\"198.18.0.9/24:1\"]}]\n", "routes[0].to[0]", "is not IPv4:port" },
	{ MIN "routes: [{name: r, filter: a, to: [\"198.18.0.9:\"]}]\n", "routes[0].to[0]",
	  "has no valid UDP port; use 1..65535 after the ':'" },
	{ MIN "routes: [{name: r, filter: a, to: [\"198.18.0.9:0\"]}]\n", "routes[0].to[0]", "use 1..65535" },
	{ MIN "routes: [{name: r, filter: a, to: [\"198.18.0.9:65536\"]}]\n", "routes[0].to[0]", "use 1..65535" },
	{ MIN "routes: [{name: r, filter: a, to: [\"198.18.0.9:-1\"]}]\n", "routes[0].to[0]", "use 1..65535" },
	{ MIN "routes: [{name: r, filter: a, to: [\"198.18.0.9:+1\"]}]\n", "routes[0].to[0]", "use 1..65535" },
	{ MIN "routes: [{name: r, filter: a, to: [\"198.18.0.9:90 00\"]}]\n", "routes[0].to[0]", "use 1..65535" },
	{ MIN "routes: [{name: r, filter: a, to: [\"198.18.0.9:9000x\"]}]\n", "routes[0].to[0]", "use 1..65535" },
	{ MIN "routes: [{name: r, filter: a, to: [\"198.18.0.9:99999999999999999999999\"]}]\n", "routes[0].to[0]",
	  "use 1..65535" },
	/* to[j]: one unicast host */
	{ RPORTS "routes: [{name: r, filter: a, to: [\"0.0.0.0:1\"]}]\n",
	  "routes[0].to[0]: '0.0.0.0:1' is not a unicast host address; routes send to one host each", NULL },
	{ RPORTS "routes: [{name: r, filter: a, to: [\"0.1.2.3:1\"]}]\n", "routes[0].to[0]", "not a unicast host" },
	{ RPORTS "routes: [{name: r, filter: a, to: [\"127.0.0.1:1\"]}]\n", "routes[0].to[0]", "not a unicast host" },
	{ RPORTS "routes: [{name: r, filter: a, to: [\"224.0.0.251:5353\"]}]\n", "routes[0].to[0]",
	  "not a unicast host" },
	{ RPORTS "routes: [{name: r, filter: a, to: [\"239.255.255.250:1900\"]}]\n", "routes[0].to[0]",
	  "not a unicast host" },
	{ RPORTS "routes: [{name: r, filter: a, to: [\"240.0.0.1:1\"]}]\n", "routes[0].to[0]", "not a unicast host" },
	{ RPORTS "routes: [{name: r, filter: a, to: [\"255.255.255.255:1\"]}]\n", "routes[0].to[0]",
	  "not a unicast host" },
	{ RPORTS "routes: [{name: r, filter: a, to: [\"198.18.0.255:1\"]}]\n",
	  "routes[0].to[0]: '198.18.0.255:1' is the broadcast address of ports[0]'s subnet 198.18.0.0/24", "one host" },
	{ RPORTS "routes: [{name: r, filter: a, to: [\"10.1.0.0:1\"]}]\n",
	  "routes[0].to[0]: '10.1.0.0:1' is the network address of ports[1]'s subnet 10.1.0.0/16", NULL },
	{ RPORTS "routes: [{name: r, filter: a, to: [\"10.1.255.255:1\"]}]\n", "routes[0].to[0]",
	  "broadcast address of ports[1]'s subnet" },
	{ RPORTS "routes: [{name: r, filter: a, to: [\"10.1.0.1:1883\"]}]\n",
	  "routes[0].to[0]: '10.1.0.1:1883' is ports[1]'s own address", "give the host" },
	/* to[j]: reachable (on a port's subnet, or some port has a gateway) */
	{ RLOCAL "routes: [{name: r, filter: a, to: [\"198.18.1.9:1\"]}]\n",
	  "routes[0].to[0]: '198.18.1.9:1' is on no port's subnet and no port has a gateway", "add `gateway:`" },
	{ "ports: [{device: a, ipv4: 198.18.0.1/24}, {device: b, ipv4: 10.1.0.1/16}]\n" LCORE
	  "routes: [{name: r, filter: a, to: [\"10.1.0.9:1\", \"10.2.0.9:1\"]}]\n",
	  "routes[0].to[1]", "on no port's subnet" },
	/* to[j]: listed once per route */
	{ MIN "routes: [{name: r, filter: a, to: [\"198.18.0.9:1\", \"198.18.0.8:1\", \"198.18.0.9:1\"]}]\n",
	  "routes[0].to[2]: '198.18.0.9:1' is listed twice in this route", NULL },
	/* shape */
	{ MIN "routes: [{name: r, filter: a, to: [\"198.18.0.9:1\"], qos: 1}]\n", "routes[0].qos: unknown key",
	  "allowed here: name, filter, format, to" },
	{ MIN "routes: [{name: r, filter: a, to: \"198.18.0.9:1\"}]\n", "routes[0].to: expected a list", NULL },
	{ MIN "routes: {name: r, filter: a, to: [\"198.18.0.9:1\"]}\n", "routes: expected a list", NULL },
	{ MIN "routes: [r]\n", "routes[0]: expected a mapping", NULL },
	{ MIN "routes: [{name: r, filter: a, to: [[\"198.18.0.9:1\"]]}]\n", "routes[0].to[0]: expected a single value",
	  NULL },
	{ MIN "routes: [{name: [r], filter: a, to: [\"198.18.0.9:1\"]}]\n", "routes[0].name: expected a single value",
	  NULL },
};

static void test_route_rules(void **state)
{
	(void)state;
	int failed = 0;
	for (size_t i = 0; i < sizeof(route_rules) / sizeof(route_rules[0]); i++)
		failed += !refused_with(route_rules[i].yaml, route_rules[i].key, route_rules[i].also);
	assert_int_equal(failed, 0);
}

#define SINK "sinks: [{name: rd, redis: \"127.0.0.1:6379\"}]\n"
#define BRIDGE "bridges: [{name: up, host: 127.0.0.1}]\n"

/* A sink on a Redis Cluster: cluster:, wait_replicas:, and hash tags in its routes' stream keys. */
static void test_cluster_sink(void **state)
{
	(void)state;
	struct fo_config *c = parse_ok(MIN
				       "sinks:\n"
				       "  - {name: cl, redis: \"127.0.0.1:7000\", cluster: true, wait_replicas: 1}\n"
				       "  - {name: rd, redis: \"127.0.0.1:6379\"}\n"
				       "routes:\n"
				       "  - {name: s1, filter: \"a/#\", sink: cl, stream: \"{fleet}:{topic}\"}\n"
				       "  - {name: s2, filter: \"b/#\", sink: cl, stream: \"{{topic}}\"}\n"
				       "  - {name: s3, filter: \"c/#\", sink: rd}\n");
	assert_true(c->sinks[0].cluster);
	assert_int_equal(c->sinks[0].wait_replicas, 1);
	assert_false(c->sinks[1].cluster);
	assert_int_equal(c->sinks[1].wait_replicas, 0);
	assert_int_equal(c->idle_sleep_us, 0);
	fo_config_free(c);
	c = parse_ok(MIN "idle_sleep_us: 200\n");
	assert_int_equal(c->idle_sleep_us, 200);
	fo_config_free(c);
	assert_true(refused_with(MIN "idle_sleep_us: 100001\n", "idle_sleep_us", NULL));
	static const struct {
		const char *yaml, *key, *also;
	} bad[] = {
		{ MIN "sinks: [{name: cl, redis: /run/redis.sock, cluster: true}]\n", "sinks[0].cluster", "host:port" },
		{ MIN "sinks: [{name: cl, redis: \"127.0.0.1:7000\", cluster: true, db: 2}]\n", "sinks[0].cluster",
		  "only database 0" },
		{ MIN "sinks: [{name: cl, redis: \"127.0.0.1:7000\", cluster: maybe}]\n", "sinks[0].cluster", NULL },
		{ MIN "sinks: [{name: cl, redis: \"127.0.0.1:7000\", wait_replicas: 17}]\n", "sinks[0].wait_replicas",
		  NULL },
		{ MIN "sinks: [{name: cl, redis: \"127.0.0.1:7000\", cluster: true}]\n"
		      "routes: [{name: r, filter: a, sink: cl, stream: \"s:{Topic}\"}]\n",
		  "routes[0].stream", "not the placeholder" },
		{ MIN "sinks: [{name: cl, redis: \"127.0.0.1:7000\", cluster: true}]\n"
		      "routes: [{name: r, filter: a, sink: cl, stream: \"s:{topic\"}]\n",
		  "routes[0].stream", "not the placeholder" },
		{ MIN "sinks: [{name: rd, redis: \"127.0.0.1:7000\"}]\n"
		      "routes: [{name: r, filter: a, sink: rd, stream: \"{fleet}:{topic}\"}]\n",
		  "routes[0].stream", "{topic} is the only placeholder" },
	};
	int failed = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		failed += !refused_with(bad[i].yaml, bad[i].key, bad[i].also);
	assert_int_equal(failed, 0);
}

/* An interest-following bridge: follow: entries, MQTT 5 only, no prefixes. */
static void test_follow_bridge(void **state)
{
	(void)state;
	struct fo_config *c = parse_ok(MIN "bridges:\n"
					   "  - name: fleet\n"
					   "    host: 127.0.0.1\n"
					   "    protocol: mqttv5\n"
					   "    follow: [{filter: \"fleet/#\"}, {filter: \"site/+/t\", qos: 0}]\n");
	assert_int_equal(c->bridges[0].n_follow, 2);
	assert_string_equal(c->bridges[0].follow[0].filter, "fleet/#");
	assert_int_equal(c->bridges[0].follow[0].qos, 1);
	assert_int_equal(c->bridges[0].follow[1].qos, 0);
	fo_config_free(c);
	static const struct {
		const char *yaml, *key, *also;
	} bad[] = {
		{ MIN "bridges: [{name: b, host: h, follow: [{filter: \"a/#\"}]}]\n", "bridges[0].follow",
		  "needs protocol: mqttv5" },
		{ MIN "bridges: [{name: b, host: h, protocol: mqttv5, follow: [{filter: \"a/#/b\"}]}]\n",
		  "bridges[0].follow[0].filter", "not a valid topic filter" },
		{ MIN "bridges: [{name: b, host: h, protocol: mqttv5, follow: [{filter: \"a/#\", local_prefix: x}]}]\n",
		  "bridges[0].follow[0]", "same name locally and upstream" },
		{ MIN "bridges: [{name: b, host: h, protocol: mqttv5, follow: [{filter: \"a/#\", qos: 2}]}]\n",
		  "bridges[0].follow[0].qos", NULL },
	};
	int failed = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		failed += !refused_with(bad[i].yaml, bad[i].key, bad[i].also);
	assert_int_equal(failed, 0);
}

/* sinks:, bridges: and the routes that use them. */
static void test_outputs(void **state)
{
	(void)state;
	struct fo_config *c = parse_ok(
		MIN "sinks:\n"
		    "  - {name: rd, redis: \"127.0.0.1:6390\", username: fanout, password: s3cret, db: 2, ring: 1024,\n"
		    "     batch: 64, batch_us: 500, maxlen: 1000, timeout_ms: 300, reconnect_min_ms: 10,\n"
		    "     reconnect_max_ms: 1000, puback: written}\n"
		    "  - {name: rs, redis: /run/redis.sock}\n"
		    "bridges:\n"
		    "  - name: up\n"
		    "    host: broker.example\n"
		    "    protocol: mqttv5\n"
		    "    username: u\n"
		    "    password: p\n"
		    "    subscribe: [{filter: \"cmd/#\", qos: 1, local_prefix: \"down/\", strip_prefix: \"cmd/\"}]\n"
		    "routes:\n"
		    "  - {name: s1, filter: \"a/#\", sink: rs, stream: \"x:{topic}:y\"}\n"
		    "  - {name: s2, filter: \"b/#\", sink: rd}\n"
		    "  - {name: b1, filter: \"c/#\", bridge: up, topic: \"site/{topic}\"}\n"
		    "  - {name: u1, filter: \"d/#\", format: mqttsn, topic_id: 7, to: [\"198.18.0.9:1\"]}\n");
	assert_int_equal(c->n_sinks, 2);
	assert_string_equal(c->sinks[0].host, "127.0.0.1");
	assert_int_equal(c->sinks[0].port, 6390);
	assert_null(c->sinks[0].unix_path);
	assert_string_equal(c->sinks[0].username, "fanout");
	assert_string_equal(c->sinks[0].password, "s3cret");
	assert_int_equal(c->sinks[0].db, 2);
	assert_int_equal(c->sinks[0].ring, 1024);
	assert_int_equal(c->sinks[0].batch, 64);
	assert_int_equal(c->sinks[0].batch_us, 500);
	assert_int_equal(c->sinks[0].maxlen, 1000);
	assert_int_equal(c->sinks[0].puback, FO_PUBACK_WRITTEN);
	assert_string_equal(c->sinks[1].unix_path, "/run/redis.sock");
	assert_int_equal(c->sinks[1].ring, FO_DEFAULT_SINK_RING);
	assert_int_equal(c->sinks[1].batch, FO_DEFAULT_SINK_BATCH);
	assert_int_equal(c->sinks[1].maxlen, FO_DEFAULT_SINK_MAXLEN);
	assert_int_equal(c->sinks[1].puback, FO_PUBACK_ACCEPTED);
	assert_int_equal(c->n_bridges, 1);
	assert_int_equal(c->bridges[0].port, 1883);
	assert_int_equal(c->bridges[0].protocol, 5);
	assert_string_equal(c->bridges[0].client_id, "fanout-up");
	assert_int_equal(c->bridges[0].n_subs, 1);
	assert_int_equal(c->bridges[0].subs[0].qos, 1);
	assert_string_equal(c->bridges[0].subs[0].local_prefix, "down/");
	assert_string_equal(c->bridges[0].subs[0].strip_prefix, "cmd/");
	assert_int_equal(c->routes[0].kind, FO_ROUTE_SINK);
	assert_int_equal(c->routes[0].target, 1);
	assert_string_equal(c->routes[0].tmpl, "x:{topic}:y");
	assert_string_equal(c->routes[1].tmpl, "fanout:{topic}");
	assert_int_equal(c->routes[2].kind, FO_ROUTE_BRIDGE);
	assert_string_equal(c->routes[2].tmpl, "site/{topic}");
	assert_int_equal(c->routes[3].format, FO_ROUTE_MQTTSN);
	assert_int_equal(c->routes[3].topic_id, 7);
	fo_config_free(c);

	static const struct bad bad[] = {
		{ MIN "sinks: [{name: rd}]\n", "sinks[0].redis: missing", "127.0.0.1:6379" },
		{ MIN "sinks: [{name: rd, redis: localhost}]\n", "sinks[0].redis: 'localhost' is neither host:port",
		  NULL },
		{ MIN "sinks: [{name: rd, redis: \"h:0\"}]\n", "sinks[0].redis", "neither host:port" },
		{ MIN "sinks: [{name: rd, redis: \"h:1\"}, {name: rd, redis: \"h:2\"}]\n",
		  "sinks[1].name: 'rd' is already the name of sinks[0]", NULL },
		{ MIN "sinks: [{name: rd, redis: \"h:1\", username: u}]\n", "sinks[0].username", "needs password" },
		{ MIN "sinks: [{name: rd, redis: \"h:1\", password: a, password_file: /nonexistent}]\n",
		  "sinks[0].password_file: give password or password_file, not both", NULL },
		{ MIN "sinks: [{name: rd, redis: \"h:1\", password_file: /nonexistent/pw}]\n",
		  "sinks[0].password_file: cannot open", NULL },
		{ MIN "sinks: [{name: rd, redis: \"h:1\", ring: 1000}]\n", "sinks[0].ring: 1000 is not a power of two",
		  NULL },
		{ MIN "sinks: [{name: rd, redis: \"h:1\", batch: 0}]\n", "sinks[0].batch: 0 is out of range", NULL },
		{ MIN "sinks: [{name: rd, redis: \"h:1\", puback: later}]\n", "sinks[0].puback: 'later' is not a mode",
		  "accepted" },
		{ MIN "sinks: [{name: rd, redis: \"h:1\", reconnect_min_ms: 50, reconnect_max_ms: 10}]\n",
		  "sinks[0].reconnect_max_ms: 10 is out of range", NULL },
		{ MIN "sinks: [{redis: \"h:1\"}]\n", "sinks[0].name: '' is missing", "[A-Za-z0-9._-]" },
		{ MIN "sinks: ["
		      "{name: s1, redis: \"h:1\"}, {name: s2, redis: \"h:1\"}, {name: s3, redis: \"h:1\"}, "
		      "{name: s4, redis: \"h:1\"}, {name: s5, redis: \"h:1\"}, {name: s6, redis: \"h:1\"}, "
		      "{name: s7, redis: \"h:1\"}, {name: s8, redis: \"h:1\"}, {name: s9, redis: \"h:1\"}"
		      "]\n",
		  "sinks: 9 sinks given, at most 8", NULL },
		{ MIN "bridges: ["
		      "{name: b1, host: h}, {name: b2, host: h}, {name: b3, host: h}, {name: b4, host: h}, "
		      "{name: b5, host: h}, {name: b6, host: h}, {name: b7, host: h}, {name: b8, host: h}, "
		      "{name: b9, host: h}"
		      "]\n",
		  "bridges: 9 bridges given, at most 8", NULL },
		{ MIN "bridges: [{name: \"a b\", host: h}]\n", "bridges[0].name: 'a b' is not a name",
		  "[A-Za-z0-9._-]" },
		{ MIN "bridges: [{name: up, host: h}, {name: dn, host: h}, {name: up, host: h}]\n",
		  "bridges[2].name: 'up' is already the name of bridges[0]", "names must be unique" },
		{ MIN "bridges: [{name: up}]\n", "bridges[0].host: '' is missing", NULL },
		{ MIN "bridges: [{name: up, host: \"a b\"}]\n", "bridges[0].host: 'a b' is not a host", NULL },
		{ MIN "bridges: [{name: up, host: h, protocol: mqttv3}]\n",
		  "bridges[0].protocol: 'mqttv3' is not supported", NULL },
		{ MIN "bridges: [{name: up, host: h, password: p}]\n", "bridges[0].password", "add username" },
		{ MIN "bridges: [{name: up, host: h, tls: {insecure: true}}]\n", "bridges[0].tls.ca_file: missing",
		  NULL },
		{ MIN "bridges: [{name: up, host: h, subscribe: [{filter: \"a/#/b\"}]}]\n",
		  "bridges[0].subscribe[0].filter: 'a/#/b' is not a valid topic filter", NULL },
		{ MIN "bridges: [{name: up, host: h, subscribe: [{filter: a, qos: 2}]}]\n",
		  "bridges[0].subscribe[0].qos: 2 is out of range", NULL },
		{ MIN "bridges: [{name: up, host: h, subscribe: [{filter: a, local_prefix: \"x/+/\"}]}]\n",
		  "bridges[0].subscribe[0].local_prefix", "without '+' or '#'" },
		{ MIN "routes: [{name: r, filter: a, sink: nope}]\n",
		  "routes[0].sink: 'nope' is not the name of an entry of sinks:", NULL },
		{ MIN BRIDGE "routes: [{name: r, filter: a, sink: up}]\n", "routes[0].sink: 'up' is not the name",
		  NULL },
		{ MIN SINK "routes: [{name: r, filter: a, bridge: rd}]\n", "routes[0].bridge: 'rd' is not the name",
		  NULL },
		{ MIN SINK "routes: [{name: r, filter: a, sink: rd, to: [\"198.18.0.9:1\"]}]\n",
		  "routes[0]: more than one kind of destination", NULL },
		{ MIN SINK "routes: [{name: r, filter: a, sink: rd, format: raw}]\n",
		  "routes[0].format: only for UDP routes", NULL },
		{ MIN SINK "routes: [{name: r, filter: a, sink: rd, topic: x}]\n",
		  "routes[0].topic: only for bridge: routes", NULL },
		{ MIN SINK "routes: [{name: r, filter: a, sink: rd, stream: \"s:{name}\"}]\n", "routes[0].stream",
		  "{topic} is the only placeholder" },
		{ MIN SINK "routes: [{name: r, filter: a, sink: rd, stream: \"\"}]\n", "routes[0].stream",
		  "must be 1..255" },
		{ MIN BRIDGE "routes: [{name: r, filter: a, bridge: up, topic: \"x/#\"}]\n", "routes[0].topic",
		  "cannot contain '+' or '#'" },
		{ MIN BRIDGE "routes: [{name: r, filter: a, bridge: up, stream: s}]\n",
		  "routes[0].stream: only for sink: routes", NULL },
		{ MIN "routes: [{name: r, filter: a, stream: s, to: [\"198.18.0.9:1\"]}]\n",
		  "routes[0].stream: only for sink: or bridge: routes", NULL },
	};
	int failed = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		failed += !refused_with(bad[i].yaml, bad[i].key, bad[i].also);
	assert_int_equal(failed, 0);
}

/* At most FO_MAX_ROUTES routes. */
static void test_route_count(void **state)
{
	(void)state;
	size_t cap = 128 * 1024, off = 0;
	char *y = malloc(cap);
	assert_non_null(y);
	off += (size_t)snprintf(y, cap, MIN "routes:\n");
	for (unsigned i = 0; i < FO_MAX_ROUTES; i++)
		off += (size_t)snprintf(y + off, cap - off, "  - {name: r%u, filter: t/%u, to: [\"198.18.0.9:%u\"]}\n",
					i, i, 1 + i);
	assert_true(off + 128 < cap);
	struct fo_config *c = parse_ok(y);
	assert_int_equal(c->n_routes, FO_MAX_ROUTES);
	assert_string_equal(c->routes[FO_MAX_ROUTES - 1].name, "r1023");
	fo_config_free(c);
	snprintf(y + off, cap - off, "  - {name: one-more, filter: t, to: [\"198.18.0.9:1\"]}\n");
	assert_true(refused_with(y, "routes: 1025 routes given, at most 1024", "merge routes with a wider filter"));
	free(y);
}

/* ports[i].static_neighbours and arp_max_age_s (the neighbour table's keys). */
static void test_neighbour_keys(void **state)
{
	(void)state;
	struct fo_config *c = parse_ok(MIN);
	assert_int_equal(c->arp_max_age_s, FO_DEFAULT_ARP_MAX_AGE_S);
	assert_int_equal(c->arp_requests_per_s, FO_DEFAULT_ARP_REQUESTS_PER_S);
	assert_int_equal(c->ports[0].n_static_neigh, 0);
	assert_null(c->ports[0].static_neigh);
	fo_config_free(c);

	c = parse_ok("ports:\n  - device: a\n    ipv4: 198.18.0.1/24\n    static_neighbours:\n"
		     "      - {ip: 198.18.0.2, mac: \"02:00:00:00:00:02\"}\n"
		     "      - {ip: 198.18.0.254, mac: \"0A:bC:de:F0:12:34\"}\n" LCORE "arp_max_age_s: 86400\n"
		     "arp_requests_per_s: 1000000\n");
	assert_int_equal(c->arp_max_age_s, 86400);
	assert_int_equal(c->arp_requests_per_s, 1000000);
	assert_int_equal(c->ports[0].n_static_neigh, 2);
	assert_int_equal(c->ports[0].static_neigh[0].ip, 0xc6120002u);
	assert_memory_equal(c->ports[0].static_neigh[0].mac, ((const uint8_t[]){ 2, 0, 0, 0, 0, 2 }), 6);
	assert_int_equal(c->ports[0].static_neigh[1].ip, 0xc61200feu);
	assert_memory_equal(c->ports[0].static_neigh[1].mac, ((const uint8_t[]){ 0x0a, 0xbc, 0xde, 0xf0, 0x12, 0x34 }),
			    6);
	fo_config_free(c);
	/* /31: the other address is the neighbour; empty list = none */
	c = parse_ok("ports: [{device: a, ipv4: 10.0.0.1/31, static_neighbours: [{ip: 10.0.0.0, mac: "
		     "\"02:00:00:00:00:01\"}]}]\n" LCORE "arp_max_age_s: 1\narp_requests_per_s: 0\n");
	assert_int_equal(c->ports[0].n_static_neigh, 1);
	assert_int_equal(c->arp_requests_per_s, 0);
	fo_config_free(c);
	c = parse_ok("ports: [{device: a, ipv4: 10.0.0.1/24, static_neighbours: []}]\n" LCORE);
	assert_int_equal(c->ports[0].n_static_neigh, 0);
	fo_config_free(c);
	/* neighbours/2 statics fit */
	c = parse_ok("ports: [{device: a, ipv4: 10.0.0.1/24, static_neighbours: [{ip: 10.0.0.2, mac: "
		     "\"02:00:00:00:00:01\"}]}]\n" LCORE "neighbours: 2\n");
	fo_config_free(c);

#define SN(list) "ports: [{device: a, ipv4: 198.18.0.1/24, static_neighbours: [" list "]}]\n" LCORE
	static const struct bad bad[] = {
		{ MIN "arp_max_age_s: 0\n", "arp_max_age_s", "out of range" },
		{ MIN "arp_max_age_s: 86401\n", "arp_max_age_s", "out of range" },
		{ MIN "arp_max_age_s: 5m\n", "arp_max_age_s", "not a whole number" },
		{ MIN "arp_requests_per_s: 1000001\n", "arp_requests_per_s", "out of range" },
		{ MIN "arp_requests_per_s: -1\n", "arp_requests_per_s", "not a whole number" },
		{ SN("{mac: \"02:00:00:00:00:02\"}"), "ports[0].static_neighbours[0].ip: missing", "198.18.0.0/24" },
		{ SN("{ip: 198.18.0.300, mac: \"02:00:00:00:00:02\"}"), "ports[0].static_neighbours[0].ip",
		  "not an IPv4 address" },
		{ SN("{ip: 10.0.0.2, mac: \"02:00:00:00:00:02\"}"), "ports[0].static_neighbours[0].ip",
		  "outside the port's prefix 198.18.0.0/24; a static neighbour must be on-link" },
		{ SN("{ip: 198.18.0.1, mac: \"02:00:00:00:00:02\"}"), "ports[0].static_neighbours[0].ip",
		  "the port's own address" },
		{ SN("{ip: 198.18.0.255, mac: \"02:00:00:00:00:02\"}"), "ports[0].static_neighbours[0].ip",
		  "broadcast address" },
		{ SN("{ip: 198.18.0.0, mac: \"02:00:00:00:00:02\"}"), "ports[0].static_neighbours[0].ip",
		  "network address" },
		{ SN("{ip: 0.0.0.0, mac: \"02:00:00:00:00:02\"}"), "ports[0].static_neighbours[0].ip", "0.0.0.0" },
		{ "ports: [{device: a, ipv4: 224.0.0.1/4, static_neighbours: [{ip: 224.0.0.2, mac: "
		  "\"02:00:00:00:00:02\"}]}]\n" LCORE,
		  "ports[0].ipv4", "multicast" },
		{ SN("{ip: 198.18.0.2, mac: \"02:00:00:00:00:02\"}, {ip: 198.18.0.2, mac: "
		     "\"02:00:00:00:00:03\"}"),
		  "ports[0].static_neighbours[1].ip", "already given by static_neighbours[0]" },
		{ SN("{ip: 198.18.0.2}"), "ports[0].static_neighbours[0].mac: missing", NULL },
		{ SN("{ip: 198.18.0.2, mac: \"02:00:00:00:00\"}"), "ports[0].static_neighbours[0].mac",
		  "not a MAC address" },
		{ SN("{ip: 198.18.0.2, mac: \"02:00:00:00:00:02:03\"}"), "ports[0].static_neighbours[0].mac",
		  "not a MAC address" },
		{ SN("{ip: 198.18.0.2, mac: \"02-00-00-00-00-02\"}"), "ports[0].static_neighbours[0].mac",
		  "not a MAC address" },
		{ SN("{ip: 198.18.0.2, mac: \"0g:00:00:00:00:02\"}"), "ports[0].static_neighbours[0].mac",
		  "not a MAC address" },
		{ SN("{ip: 198.18.0.2, mac: \"2:0:0:0:0:2\"}"), "ports[0].static_neighbours[0].mac",
		  "not a MAC address" },
		{ SN("{ip: 198.18.0.2, mac: \"01:00:5e:00:00:01\"}"), "ports[0].static_neighbours[0].mac",
		  "multicast or broadcast MAC" },
		{ SN("{ip: 198.18.0.2, mac: \"ff:ff:ff:ff:ff:ff\"}"), "ports[0].static_neighbours[0].mac",
		  "multicast or broadcast MAC" },
		{ SN("{ip: 198.18.0.2, mac: \"00:00:00:00:00:00\"}"), "ports[0].static_neighbours[0].mac",
		  "no host's MAC" },
		{ SN("{ip: 198.18.0.2, mac: \"02:00:00:00:00:02\", port: 1}"), "ports[0].static_neighbours[0].port",
		  "unknown key" },
		{ SN("{ip: 198.18.0.2, mac: \"02:00:00:00:00:02\"}, {ip: 198.18.0.3, mac: "
		     "\"02:00:00:00:00:03\"}") "neighbours: 3\n",
		  "ports[0].static_neighbours: 2 entries", "raise `neighbours` to at least 4" },
		{ "ports: [{device: a, ipv4: 198.18.0.1/24, static_neighbours: {ip: 198.18.0.2}}]\n" LCORE,
		  "ports[0].static_neighbours", "expected a list" },
	};
#undef SN
	int failed = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		failed += !refused_with(bad[i].yaml, bad[i].key, bad[i].also);
	assert_int_equal(failed, 0);

	/* more than FO_MAX_STATIC_NEIGHBOURS on a port */
	static char big[80000];
	size_t o = (size_t)snprintf(big, sizeof(big), "ports: [{device: a, ipv4: 10.0.0.1/16, static_neighbours: [");
	for (unsigned i = 0; i <= FO_MAX_STATIC_NEIGHBOURS; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "%s{ip: 10.0.%u.%u, mac: \"02:00:00:00:%02x:%02x\"}",
				      i ? ", " : "", 1 + i / 250, 1 + i % 250, (i >> 8) & 0xff, i & 0xff);
	snprintf(big + o, sizeof(big) - o, "]}]\n" LCORE);
	assert_true(refused_with(big, "ports[0].static_neighbours: 1025 entries", "at most 1024"));
}

/* limits.max_message_bytes, reassembly.*, mempool.large_mbufs. */
static void test_reassembly_keys(void **state)
{
	(void)state;
	struct fo_config *c = parse_ok(MIN "limits: {}\nreassembly: {}\n");
	assert_int_equal(c->max_message_bytes, FO_DEFAULT_MAX_MESSAGE_BYTES);
	assert_int_equal(c->reasm_max_flows, FO_DEFAULT_REASM_FLOWS);
	assert_int_equal(c->reasm_timeout_ms, FO_DEFAULT_REASM_TIMEOUT_MS);
	assert_int_equal(c->large_mbufs, FO_DEFAULT_LARGE_MBUFS);
	fo_config_free(c);
	c = parse_ok(MIN "limits: {max_message_bytes: 65489}\nreassembly: {max_flows: 0, timeout_ms: 60000}\n"
			 "mempool: {large_mbufs: 64}\n");
	assert_int_equal(c->max_message_bytes, 65489);
	assert_int_equal(c->reasm_max_flows, 0);
	assert_int_equal(c->reasm_timeout_ms, 60000);
	assert_int_equal(c->large_mbufs, 64);
	fo_config_free(c);
	/* the pool rule leaves fragments out, as it does packets parked in rings */
	fo_config_free(parse_ok(MIN "mempool: {mbufs: 2624}\nreassembly: {max_flows: 65536}\n"));
	static const struct bad bad[] = {
		{ MIN "limits: {max_message_bytes: 63}\n", "limits.max_message_bytes", "out of range" },
		{ MIN "limits: {max_message_bytes: 65490}\n", "limits.max_message_bytes", "out of range" },
		{ MIN "reassembly: {max_flows: 65537}\n", "reassembly.max_flows", "out of range" },
		{ MIN "reassembly: {timeout_ms: 0}\n", "reassembly.timeout_ms", "out of range" },
		{ MIN "reassembly: {timeout_ms: 60001}\n", "reassembly.timeout_ms", "out of range" },
		{ MIN "reassembly: {flows: 4}\n", "reassembly.flows", "unknown key" },
		{ MIN "mempool: {large_mbufs: 63}\n", "mempool.large_mbufs", "out of range" },
	};
	int failed = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		failed += !refused_with(bad[i].yaml, bad[i].key, bad[i].also);
	assert_int_equal(failed, 0);
}

/* ports[].mtu and mempool.rx_buffer_bytes: absent, the device's MTU and 2048-byte receive buffers
 * (RTE_MBUF_DEFAULT_DATAROOM, as before the keys); a jumbo MTU needs buffers that hold its whole
 * frame, 802.1Q header included, since a frame in two segments is dropped. */
static void test_mtu_keys(void **state)
{
	(void)state;
	struct fo_config *c = parse_ok(MIN);
	assert_int_equal(c->ports[0].mtu, 0);
	assert_int_equal(c->rx_buffer_bytes, FO_DEFAULT_RX_BUFFER_BYTES);
	assert_int_equal(c->rx_buffer_bytes, 2048);
	fo_config_free(c);
	c = parse_ok("ports: [{device: a, ipv4: 198.18.0.1/24, mtu: 9000}, {device: b, ipv4: 198.18.1.1/24}]\n" LCORE
		     "mempool: {rx_buffer_bytes: 9018}\n");
	assert_int_equal(c->ports[0].mtu, 9000);
	assert_int_equal(c->ports[1].mtu, 0);
	assert_int_equal(c->rx_buffer_bytes, 9018);
	fo_config_free(c);
	c = parse_ok("ports: [{device: a, ipv4: 198.18.0.1/24, mtu: 68}]\n" LCORE);
	assert_int_equal(c->ports[0].mtu, 68);
	fo_config_free(c);
	c = parse_ok("ports: [{device: a, ipv4: 198.18.0.1/24, mtu: 2030}]\n" LCORE); /* 2030 + 18 = 2048 */
	assert_int_equal(c->ports[0].mtu, 2030);
	fo_config_free(c);
	c = parse_ok("ports: [{device: a, ipv4: 198.18.0.1/24, mtu: 16110}]\n" LCORE
		     "mempool: {rx_buffer_bytes: 16384}\n");
	assert_int_equal(c->ports[0].mtu, 16110);
	assert_int_equal(c->rx_buffer_bytes, 16384);
	fo_config_free(c);
	static const struct bad bad[] = {
		{ "ports: [{device: a, ipv4: 198.18.0.1/24, mtu: 67}]\n" LCORE, "ports[0].mtu", "out of range" },
		{ "ports: [{device: a, ipv4: 198.18.0.1/24, mtu: 0}]\n" LCORE, "ports[0].mtu", "out of range" },
		{ "ports: [{device: a, ipv4: 198.18.0.1/24, mtu: 16111}]\n" LCORE "mempool: {rx_buffer_bytes: 16384}\n",
		  "ports[0].mtu", "out of range" },
		{ "ports: [{device: a, ipv4: 198.18.0.1/24, mtu: 2031}]\n" LCORE, "ports[0].mtu: frames of MTU 2031",
		  "raise mempool.rx_buffer_bytes to at least 2049" },
		{ "ports: [{device: a, ipv4: 198.18.0.1/24}, {device: b, ipv4: 198.18.1.1/24, mtu: 9000}]\n" LCORE
		  "mempool: {rx_buffer_bytes: 9017}\n",
		  "ports[1].mtu", "more than one receive buffer (mempool.rx_buffer_bytes 9017)" },
		{ MIN "mempool: {rx_buffer_bytes: 2047}\n", "mempool.rx_buffer_bytes", "out of range" },
		{ MIN "mempool: {rx_buffer_bytes: 16385}\n", "mempool.rx_buffer_bytes", "out of range" },
		{ "ports: [{device: a, ipv4: 198.18.0.1/24, mtu: 9k}]\n" LCORE, "ports[0].mtu", "not a whole number" },
	};
	int failed = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		failed += !refused_with(bad[i].yaml, bad[i].key, bad[i].also);
	assert_int_equal(failed, 0);
}

int main(int argc, char **argv)
{
	example_path = argc > 1 ? argv[1] : NULL;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_example),
		cmocka_unit_test(test_outputs),
		cmocka_unit_test(test_cluster_sink),
		cmocka_unit_test(test_follow_bridge),
		cmocka_unit_test(test_minimal_gets_defaults),
		cmocka_unit_test(test_accepts_edges),
		cmocka_unit_test(test_semantic_rules),
		cmocka_unit_test(test_structural_errors),
		cmocka_unit_test(test_error_buffer_handling),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_deploy_example),
		cmocka_unit_test(test_routes_valid),
		cmocka_unit_test(test_route_rules),
		cmocka_unit_test(test_route_count),
		cmocka_unit_test(test_security_defaults),
		cmocka_unit_test(test_security_values),
		cmocka_unit_test(test_security_rules),
		cmocka_unit_test(test_admission_unlisted),
		cmocka_unit_test(test_discovery_values),
		cmocka_unit_test(test_discovery_rules),
		cmocka_unit_test(test_neighbour_keys),
		cmocka_unit_test(test_reassembly_keys),
		cmocka_unit_test(test_mtu_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
