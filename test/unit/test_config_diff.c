/* Unit tests for dataplane/config/config_diff.c: route additions, removals and changes are reported
 * with the right op, route name and detail; identical configs differ in nothing; every key
 * outside `routes:` and the admission rules that differs is reported by its YAML path as needing a
 * restart; the admission rules are a generation key; and the routes fingerprint is equal for equal
 * routes and different when any route field changes (the generation's also when a rule does).
 * Configs are built with fo_config_parse from YAML, as the control socket builds them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "config_diff.h"

/* Every key given explicitly, so each restart case changes exactly one value. */
#define CORE \
	"ports:\n" \
	"  - {device: net_af_packet0, ipv4: 198.18.0.1/24, gateway: 198.18.0.254, ipv6: \"2001:2::1/64\",\n" \
	"     gateway6: \"fe80::1\", vlan: 0,\n" \
	"     mqttsn_port: 1883, rx_queues: 1, rx_desc: 1024, tx_desc: 1024,\n" \
	"     static_neighbours: [{ip: 198.18.0.9, mac: \"02:00:00:00:00:09\"}]}\n" \
	"lcores:\n" \
	"  - {lcore: 1, roles: [rx, worker, tx]}\n" \
	"  - {lcore: 2, roles: [worker]}\n" \
	"burst: 32\n" \
	"rings: {worker: 4096, tx: 4096, peer: 4096}\n" \
	"mempool: {mbufs: 16383, header_mbufs: 16383, cache: 256}\n" \
	"neighbours: 4096\n" \
	"arp_max_age_s: 300\n" \
	"arp_requests_per_s: 1000\n" \
	"mqttsn:\n" \
	"  gateway_id: 1\n" \
	"  max_sessions: 1000\n" \
	"  max_forwarded_nodes: 500\n" \
	"  max_topics: 2000\n" \
	"  max_client_topics: 3000\n" \
	"  max_subscriptions: 4000\n" \
	"  max_inflight: 5000\n" \
	"  max_inflight_per_session: 16\n" \
	"  retry_interval_ms: 250\n" \
	"  retry_limit: 3\n" \
	"  max_topic_len: 200\n" \
	"  expiry_scan_per_tick: 8\n" \
	"  predefined_topics:\n" \
	"    - {id: 1, name: \"sensors/predefined\"}\n" \
	"  client_predefined:\n" \
	"    - {client_id: dev-1, topics: [{id: 7, name: \"dev/1/cmd\"}]}\n" \
	"security:\n" \
	"  admission_unlisted: admit\n" \
	"  admission:\n" \
	"    - {client_id: gw-1, from: [198.18.0.0/24]}\n" \
	"discovery: {advertise: false, interval_s: 900, destination: \"255.255.255.255:1883\", ttl: 1,\n" \
	"            gwinfo: broadcast, gwinfo_broadcasts_per_s: 10, destination6: \"ff02::4d51\", port6: 9997}\n" \
	"stats:\n" \
	"  file: /tmp/fanout-stats.json\n" \
	"sinks:\n" \
	"  - {name: rd, redis: \"127.0.0.1:6379\", username: u, password: p, db: 0, ring: 1024,\n" \
	"     batch: 64, batch_us: 100, maxlen: 1000, timeout_ms: 500, puback: accepted}\n" \
	"bridges:\n" \
	"  - {name: up, host: 127.0.0.1, port: 1883, keepalive_s: 30, ring: 1024, max_inflight: 100,\n" \
	"     subscribe: [{filter: \"cmd/#\", qos: 1, local_prefix: \"d/\"}]}\n"
#define ROUTES \
	"routes:\n" \
	"  - {name: temps, filter: \"sensors/+/temp\", to: [\"198.18.0.10:9000\", \"198.18.0.11:9000\"]}\n" \
	"  - {name: alarms, filter: \"alarms/#\", to: [\"10.9.9.9:9001\"]}\n" \
	"  - {name: sys, filter: \"$SYS/x\", format: raw, to: [\"198.18.0.12:9002\"]}\n"
#define BASE CORE ROUTES

static struct fo_config *parse(const char *yaml)
{
	struct fo_config *cfg = NULL;
	char err[512] = "";
	int rc = fo_config_parse(yaml, strlen(yaml), &cfg, err, sizeof(err));
	if (rc != 0)
		print_message("unexpected error: %s\nin:\n%s\n", err, yaml);
	assert_int_equal(rc, 0);
	assert_non_null(cfg);
	return cfg;
}

/* BASE with one piece of text replaced (which must occur exactly once). */
static struct fo_config *parse_edit(const char *from, const char *to)
{
	static const char base[] = BASE;
	const char *at = strstr(base, from);
	if (at == NULL || strstr(at + 1, from) != NULL)
		fail_msg("'%s' does not occur exactly once in BASE", from);
	size_t pre = (size_t)(at - base), fl = strlen(from), tl = strlen(to);
	char *y = malloc(sizeof(base) + tl);
	assert_non_null(y);
	memcpy(y, base, pre);
	memcpy(y + pre, to, tl);
	memcpy(y + pre + tl, at + fl, sizeof(base) - pre - fl);
	struct fo_config *c = parse(y);
	free(y);
	return c;
}

/* ---------------------------------------------------------------- capture */

struct change {
	char op[16], route[80], detail[1400];
};
struct seen {
	struct change ch[16];
	unsigned n_ch;
	char keys[64][96];
	unsigned n_keys;
};

static void on_route(void *ctx, const char *op, const char *route, const char *detail)
{
	struct seen *s = ctx;
	assert_true(s->n_ch < 16);
	struct change *c = &s->ch[s->n_ch++];
	snprintf(c->op, sizeof(c->op), "%s", op);
	snprintf(c->route, sizeof(c->route), "%s", route);
	snprintf(c->detail, sizeof(c->detail), "%s", detail);
}

static void on_key(void *ctx, const char *key)
{
	struct seen *s = ctx;
	assert_true(s->n_keys < 64);
	snprintf(s->keys[s->n_keys++], sizeof(s->keys[0]), "%s", key);
}

static unsigned diff(const struct fo_config *a, const struct fo_config *b, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	unsigned n = fo_config_diff(a, b, on_route, on_key, s);
	assert_int_equal(n, s->n_ch + s->n_keys);
	/* Without callbacks the count is the same. */
	assert_int_equal(fo_config_diff(a, b, NULL, NULL, NULL), n);
	return n;
}

static void expect_change(const struct change *c, const char *op, const char *route, const char *detail)
{
	if (strcmp(c->op, op) != 0 || strcmp(c->route, route) != 0 || strcmp(c->detail, detail) != 0)
		fail_msg("got {%s, %s, \"%s\"}, wanted {%s, %s, \"%s\"}", c->op, c->route, c->detail, op, route,
			 detail);
}

/* ---------------------------------------------------------------- identical */

static void test_identical(void **state)
{
	(void)state;
	struct fo_config *a = parse(BASE);
	/* The same config written differently: block style, comments, reordered keys, default format. */
	struct fo_config *b = parse_edit(
		"  - {name: sys, filter: \"$SYS/x\", format: raw, to: [\"198.18.0.12:9002\"]}\n",
		"  - to:           # a comment\n"
		"      - 198.18.0.12:9002\n"
		"    filter: $SYS/x\n"
		"    name: sys\n");
	struct seen s;
	assert_int_equal(diff(a, a, &s), 0);
	assert_int_equal(diff(a, b, &s), 0);
	assert_int_equal(s.n_ch, 0);
	assert_int_equal(s.n_keys, 0);
	assert_int_equal(fo_config_restart_keys(a, b, NULL, NULL), 0);
	assert_true(fo_routes_fingerprint(a) == fo_routes_fingerprint(b));
	fo_config_free(a);
	fo_config_free(b);

	/* No routes on either side, however written. */
	a = parse(CORE);
	b = parse(CORE "routes: []\n");
	assert_int_equal(diff(a, b, &s), 0);
	assert_true(fo_routes_fingerprint(a) == fo_routes_fingerprint(b));
	fo_config_free(a);
	fo_config_free(b);
}

/* ---------------------------------------------------------------- routes */

static void test_route_remove_add(void **state)
{
	(void)state;
	struct fo_config *a = parse(BASE);
	struct fo_config *b = parse_edit("  - {name: alarms, filter: \"alarms/#\", to: [\"10.9.9.9:9001\"]}\n", "");
	struct seen s;
	assert_int_equal(diff(a, b, &s), 1);
	assert_int_equal(s.n_keys, 0);
	expect_change(&s.ch[0], "remove", "alarms", "alarms/# -> 10.9.9.9:9001");
	/* The other way round it is an addition. */
	assert_int_equal(diff(b, a, &s), 1);
	expect_change(&s.ch[0], "add", "alarms", "alarms/# -> 10.9.9.9:9001");
	fo_config_free(b);

	/* A new route at the end, with several destinations. */
	b = parse(BASE "  - {name: new.one_2, filter: \"a/b\", to: [\"198.18.0.20:1\", \"10.0.0.5:65535\"]}\n");
	assert_int_equal(diff(a, b, &s), 1);
	expect_change(&s.ch[0], "add", "new.one_2", "a/b -> 198.18.0.20:1,10.0.0.5:65535");
	fo_config_free(b);

	/* A rename is a removal and an addition; removals are reported first. */
	b = parse_edit("name: temps", "name: temperatures");
	assert_int_equal(diff(a, b, &s), 2);
	expect_change(&s.ch[0], "remove", "temps", "sensors/+/temp -> 198.18.0.10:9000,198.18.0.11:9000");
	expect_change(&s.ch[1], "add", "temperatures", "sensors/+/temp -> 198.18.0.10:9000,198.18.0.11:9000");
	fo_config_free(b);

	/* All routes gone. */
	b = parse(CORE);
	assert_int_equal(b->n_routes, 0);
	assert_int_equal(diff(a, b, &s), 3);
	expect_change(&s.ch[0], "remove", "temps", "sensors/+/temp -> 198.18.0.10:9000,198.18.0.11:9000");
	expect_change(&s.ch[1], "remove", "alarms", "alarms/# -> 10.9.9.9:9001");
	expect_change(&s.ch[2], "remove", "sys", "$SYS/x -> 198.18.0.12:9002");
	assert_int_equal(diff(b, a, &s), 3);
	expect_change(&s.ch[0], "add", "temps", "sensors/+/temp -> 198.18.0.10:9000,198.18.0.11:9000");
	fo_config_free(b);
	fo_config_free(a);
}

static void test_route_change(void **state)
{
	(void)state;
	struct fo_config *a = parse(BASE);
	struct seen s;

	struct fo_config *b = parse_edit("\"sensors/+/temp\"", "\"sensors/#\"");
	assert_int_equal(diff(a, b, &s), 1);
	assert_int_equal(s.n_keys, 0);
	expect_change(&s.ch[0], "change", "temps", "filter sensors/+/temp -> sensors/#");
	fo_config_free(b);

	b = parse_edit("[\"198.18.0.10:9000\", \"198.18.0.11:9000\"]", "[\"198.18.0.10:9000\"]");
	assert_int_equal(diff(a, b, &s), 1);
	expect_change(&s.ch[0], "change", "temps", "to 198.18.0.10:9000,198.18.0.11:9000 -> 198.18.0.10:9000");
	fo_config_free(b);

	/* Only the port of one destination. */
	b = parse_edit("10.9.9.9:9001", "10.9.9.9:9011");
	assert_int_equal(diff(a, b, &s), 1);
	expect_change(&s.ch[0], "change", "alarms", "to 10.9.9.9:9001 -> 10.9.9.9:9011");
	fo_config_free(b);

	/* Destinations in another order: the copies go out in another order, so it is a change. */
	b = parse_edit("[\"198.18.0.10:9000\", \"198.18.0.11:9000\"]", "[\"198.18.0.11:9000\", \"198.18.0.10:9000\"]");
	assert_int_equal(diff(a, b, &s), 1);
	expect_change(&s.ch[0], "change", "temps",
		      "to 198.18.0.10:9000,198.18.0.11:9000 -> 198.18.0.11:9000,198.18.0.10:9000");
	fo_config_free(b);

	/* Filter and destinations at once, in one change. */
	b = parse_edit("{name: alarms, filter: \"alarms/#\", to: [\"10.9.9.9:9001\"]}",
		       "{name: alarms, filter: \"alarms/+\", to: [\"10.9.9.9:9001\", \"198.18.0.99:7\"]}");
	assert_int_equal(diff(a, b, &s), 1);
	expect_change(&s.ch[0], "change", "alarms",
		      "filter alarms/# -> alarms/+; to 10.9.9.9:9001 -> 10.9.9.9:9001,198.18.0.99:7");
	fo_config_free(b);

	/* Only raw exists in YAML today; another format value is still a change. */
	b = parse(BASE);
	b->routes[2].format = FO_ROUTE_RAW + 1;
	assert_int_equal(diff(a, b, &s), 1);
	expect_change(&s.ch[0], "change", "sys", "format raw -> mqttsn");
	b->routes[0].filter[0] = 'S';
	assert_int_equal(diff(a, b, &s), 2);
	expect_change(&s.ch[0], "change", "temps", "filter sensors/+/temp -> Sensors/+/temp");
	expect_change(&s.ch[1], "change", "sys", "format raw -> mqttsn");
	fo_config_free(b);

	/* Several routes changed, one added, one removed: each reported once, by name. */
	b = parse_edit(
		"routes:\n"
		"  - {name: temps, filter: \"sensors/+/temp\", to: [\"198.18.0.10:9000\", \"198.18.0.11:9000\"]}\n"
		"  - {name: alarms, filter: \"alarms/#\", to: [\"10.9.9.9:9001\"]}\n",
		"routes:\n"
		"  - {name: added, filter: \"n/#\", to: [\"198.18.0.3:3\"]}\n"
		"  - {name: temps, filter: \"sensors/+/t\", to: [\"198.18.0.10:9000\", \"198.18.0.11:9000\"]}\n");
	assert_int_equal(diff(a, b, &s), 3);
	expect_change(&s.ch[0], "remove", "alarms", "alarms/# -> 10.9.9.9:9001");
	expect_change(&s.ch[1], "add", "added", "n/# -> 198.18.0.3:3");
	expect_change(&s.ch[2], "change", "temps", "filter sensors/+/temp -> sensors/+/t");
	fo_config_free(b);
	fo_config_free(a);
}

/* Reordering routes changes no route by name (the diff is by name), but the generation's match
 * order differs, so the fingerprint does. */
static void test_route_reorder(void **state)
{
	(void)state;
	struct fo_config *a = parse(BASE);
	struct fo_config *b = parse_edit(
		"  - {name: temps, filter: \"sensors/+/temp\", to: [\"198.18.0.10:9000\", \"198.18.0.11:9000\"]}\n"
		"  - {name: alarms, filter: \"alarms/#\", to: [\"10.9.9.9:9001\"]}\n",
		"  - {name: alarms, filter: \"alarms/#\", to: [\"10.9.9.9:9001\"]}\n"
		"  - {name: temps, filter: \"sensors/+/temp\", to: [\"198.18.0.10:9000\", \"198.18.0.11:9000\"]}\n");
	struct seen s;
	assert_int_equal(diff(a, b, &s), 0);
	assert_true(fo_routes_fingerprint(a) != fo_routes_fingerprint(b));
	fo_config_free(a);
	fo_config_free(b);
}

/* 16 destinations (FO_MAX_ROUTE_DESTS) of the longest spelling: a change in the last one counts. */
static void test_route_change_many_dests(void **state)
{
	(void)state;
	char to_a[1024] = "", to_b[1024] = "";
	size_t oa = 0, ob = 0;
	for (unsigned i = 0; i < FO_MAX_ROUTE_DESTS; i++) {
		unsigned last = i == FO_MAX_ROUTE_DESTS - 1;
		oa += (size_t)snprintf(to_a + oa, sizeof(to_a) - oa, "%s\"203.113.200.%u:%u\"", i ? ", " : "", 100 + i,
				       65000 + i);
		ob += (size_t)snprintf(to_b + ob, sizeof(to_b) - ob, "%s\"203.113.200.%u:%u\"", i ? ", " : "", 100 + i,
				       last ? 65535 : 65000 + i);
	}
	char ya[4096], yb[4096];
	snprintf(ya, sizeof(ya), BASE "  - {name: wide, filter: \"w/#\", to: [%s]}\n", to_a);
	snprintf(yb, sizeof(yb), BASE "  - {name: wide, filter: \"w/#\", to: [%s]}\n", to_b);
	struct fo_config *a = parse(ya), *b = parse(yb);
	assert_int_equal(a->routes[3].n_to, FO_MAX_ROUTE_DESTS);
	struct seen s;
	assert_int_equal(diff(a, b, &s), 1);
	assert_string_equal(s.ch[0].op, "change");
	assert_string_equal(s.ch[0].route, "wide");
	/* The detail lists every destination on both sides. */
	assert_non_null(strstr(s.ch[0].detail, "203.113.200.115:65015 -> 203.113.200.100:65000"));
	assert_non_null(strstr(s.ch[0].detail, "203.113.200.115:65535"));
	assert_int_equal(diff(a, a, &s), 0);
	/* And an addition names all 16. */
	struct fo_config *base = parse(BASE);
	assert_int_equal(diff(base, b, &s), 1);
	assert_string_equal(s.ch[0].op, "add");
	assert_non_null(strstr(s.ch[0].detail, "w/# -> 203.113.200.100:65000,"));
	assert_non_null(strstr(s.ch[0].detail, ",203.113.200.115:65535"));
	assert_true(fo_routes_fingerprint(a) != fo_routes_fingerprint(b));
	fo_config_free(base);
	fo_config_free(a);
	fo_config_free(b);
}

/* ---------------------------------------------------------------- restart keys */

struct restart_case {
	const char *from, *to; /* one edit of BASE */
	const char *key;       /* the one key reported */
};

static const struct restart_case restart_cases[] = {
	{ "device: net_af_packet0", "device: net_af_packet1", "ports[0].device" },
	{ "ipv4: 198.18.0.1/24", "ipv4: 198.18.0.2/24", "ports[0].ipv4" },
	{ "ipv4: 198.18.0.1/24", "ipv4: 198.18.0.1/16", "ports[0].ipv4" }, /* the prefix alone */
	{ "gateway: 198.18.0.254", "gateway: 198.18.0.253", "ports[0].gateway" },
	{ "ipv6: \"2001:2::1/64\"", "ipv6: \"2001:2::2/64\"", "ports[0].ipv6" },
	{ "ipv6: \"2001:2::1/64\"", "ipv6: \"2001:2::1/60\"", "ports[0].ipv6" }, /* the prefix alone */
	{ "gateway6: \"fe80::1\"", "gateway6: \"fe80::2\"", "ports[0].gateway6" },
	{ "vlan: 0", "vlan: 7", "ports[0].vlan" },
	{ "mqttsn_port: 1883", "mqttsn_port: 1884", "ports[0].mqttsn_port" },
	{ "rx_queues: 1", "rx_queues: 2", "ports[0].rx_queues" },
	{ "rx_desc: 1024", "rx_desc: 512", "ports[0].rx_desc" },
	{ "tx_desc: 1024", "tx_desc: 512", "ports[0].tx_desc" },
	{ "tx_desc: 1024,", "tx_desc: 1024, mtu: 1400,", "ports[0].mtu" },
	{ "lcores:\n", "  - {device: net_af_packet1, ipv4: 10.0.0.1/24}\nlcores:\n", "ports" },
	{ "{lcore: 2, roles: [worker]}", "{lcore: 3, roles: [worker]}", "lcores[1]" },
	{ "{lcore: 2, roles: [worker]}", "{lcore: 2, roles: [worker, tx]}", "lcores[1]" },
	{ "  - {lcore: 2, roles: [worker]}\n", "", "lcores" },
	{ "burst: 32", "burst: 64", "burst" },
	{ "worker: 4096", "worker: 8192", "rings.worker" },
	{ "tx: 4096", "tx: 1024", "rings.tx" },
	{ "peer: 4096", "peer: 2048", "rings.peer" },
	{ "mbufs: 16383, header", "mbufs: 32767, header", "mempool.mbufs" },
	{ "header_mbufs: 16383", "header_mbufs: 8191", "mempool.header_mbufs" },
	{ "cache: 256", "cache: 128", "mempool.cache" },
	{ "cache: 256}", "cache: 256, rx_buffer_bytes: 4096}", "mempool.rx_buffer_bytes" },
	{ "neighbours: 4096", "neighbours: 1024", "neighbours" },
	{ "arp_max_age_s: 300", "arp_max_age_s: 60", "arp_max_age_s" },
	{ "arp_requests_per_s: 1000", "arp_requests_per_s: 0", "arp_requests_per_s" },
	{ "mac: \"02:00:00:00:00:09\"", "mac: \"02:00:00:00:00:03\"", "ports[0].static_neighbours" },
	{ "ip: 198.18.0.9,", "ip: 198.18.0.3,", "ports[0].static_neighbours" },
	{ "{ip: 198.18.0.9, mac: \"02:00:00:00:00:09\"}]",
	  "{ip: 198.18.0.9, mac: \"02:00:00:00:00:09\"}, {ip: 198.18.0.10, mac: \"02:00:00:00:00:0a\"}]",
	  "ports[0].static_neighbours" },
	{ "gateway_id: 1", "gateway_id: 2", "mqttsn.gateway_id" },
	{ "max_sessions: 1000", "max_sessions: 1001", "mqttsn.max_sessions" },
	{ "max_forwarded_nodes: 500", "max_forwarded_nodes: 501", "mqttsn.max_forwarded_nodes" },
	{ "max_topics: 2000", "max_topics: 2001", "mqttsn.max_topics" },
	{ "max_client_topics: 3000", "max_client_topics: 3001", "mqttsn.max_client_topics" },
	{ "max_subscriptions: 4000", "max_subscriptions: 4001", "mqttsn.max_subscriptions" },
	{ "max_inflight: 5000", "max_inflight: 5001", "mqttsn.max_inflight" },
	{ "max_inflight_per_session: 16", "max_inflight_per_session: 17", "mqttsn.max_inflight_per_session" },
	{ "retry_interval_ms: 250", "retry_interval_ms: 251", "mqttsn.retry_interval_ms" },
	{ "retry_limit: 3", "retry_limit: 0", "mqttsn.retry_limit" },
	{ "max_topic_len: 200", "max_topic_len: 201", "mqttsn.max_topic_len" },
	{ "expiry_scan_per_tick: 8", "expiry_scan_per_tick: 9", "mqttsn.expiry_scan_per_tick" },
	{ "file: /tmp/fanout-stats.json", "file: /tmp/other.json", "stats.file" },
	{ "stats:\n  file: /tmp/fanout-stats.json\n", "", "stats.file" }, /* to stdout */
	{ "redis: \"127.0.0.1:6379\"", "redis: \"127.0.0.1:6380\"", "sinks[0].redis" },
	{ "redis: \"127.0.0.1:6379\"", "redis: /run/redis.sock", "sinks[0].redis" },
	{ "username: u, password: p, db", "username: v, password: p, db", "sinks[0].username" },
	{ "username: u, password: p, db", "username: u, password: q, db", "sinks[0].password" },
	{ "ring: 1024,\n     batch", "ring: 2048,\n     batch", "sinks[0].ring" },
	{ "batch: 64", "batch: 65", "sinks[0].batch" },
	{ "batch_us: 100", "batch_us: 101", "sinks[0].batch_us" },
	{ "maxlen: 1000", "maxlen: 0", "sinks[0].maxlen" },
	{ "puback: accepted", "puback: written", "sinks[0].puback" },
	{ "db: 0", "db: 3", "sinks[0].db" },
	{ "host: 127.0.0.1", "host: 127.0.0.2", "bridges[0].host" },
	{ "keepalive_s: 30", "keepalive_s: 31", "bridges[0].keepalive_s" },
	{ "max_inflight: 100", "max_inflight: 101", "bridges[0].max_inflight" },
	{ "qos: 1, local_prefix", "qos: 0, local_prefix", "bridges[0].subscribe" },
	{ "port: 1883, keep", "port: 1884, keep", "bridges[0].host" },
	{ "advertise: false", "advertise: true", "discovery" },
	{ "interval_s: 900", "interval_s: 60", "discovery" },
	{ "\"255.255.255.255:1883\"", "\"239.1.1.1:1883\"", "discovery" },
	{ "\"255.255.255.255:1883\"", "\"255.255.255.255:1884\"", "discovery" },
	{ "ttl: 1,", "ttl: 2,", "discovery" },
	{ "gwinfo: broadcast", "gwinfo: unicast", "discovery" },
	{ "gwinfo_broadcasts_per_s: 10", "gwinfo_broadcasts_per_s: 11", "discovery" },
	{ "\"ff02::4d51\"", "\"ff02::4d52\"", "discovery" },
	{ "port6: 9997", "port6: 9998", "discovery" },
	{ ", destination6: \"ff02::4d51\", port6: 9997}", "}", "discovery" }, /* no IPv6 group */
};

static void test_restart_keys(void **state)
{
	(void)state;
	struct fo_config *a = parse(BASE);
	int failed = 0;
	for (size_t i = 0; i < sizeof(restart_cases) / sizeof(restart_cases[0]); i++) {
		const struct restart_case *rc = &restart_cases[i];
		struct fo_config *b = parse_edit(rc->from, rc->to);
		struct seen s;
		/* Both directions: the key is reported once, no route changes. */
		for (int dir = 0; dir < 2; dir++) {
			unsigned n = dir ? diff(b, a, &s) : diff(a, b, &s);
			if (n != 1 || s.n_keys != 1 || s.n_ch != 0 || strcmp(s.keys[0], rc->key) != 0) {
				print_message("edit '%s' -> '%s' (%s): %u differences, keys:", rc->from, rc->to,
					      dir ? "reverse" : "forward", n);
				for (unsigned k = 0; k < s.n_keys; k++)
					print_message(" %s", s.keys[k]);
				print_message("; wanted only %s\n", rc->key);
				failed++;
			}
			memset(&s, 0, sizeof(s));
			unsigned m = dir ? fo_config_restart_keys(b, a, on_key, &s)
					 : fo_config_restart_keys(a, b, on_key, &s);
			if (m != 1 || s.n_keys != 1 || strcmp(s.keys[0], rc->key) != 0)
				failed++;
		}
		/* Keys outside routes: do not touch the routes fingerprint. */
		if (fo_routes_fingerprint(a) != fo_routes_fingerprint(b)) {
			print_message("edit '%s' changed the routes fingerprint\n", rc->from);
			failed++;
		}
		fo_config_free(b);
	}
	assert_int_equal(failed, 0);
	fo_config_free(a);
}

static void test_restart_keys_several(void **state)
{
	(void)state;
	struct fo_config *a = parse(BASE);
	/* Two port keys, burst, and a route change: all reported, routes apart from restart keys. */
	struct fo_config *b = parse_edit("vlan: 0,\n     mqttsn_port: 1883", "vlan: 9,\n     mqttsn_port: 2000");
	b->burst = 64;
	free(b->routes[1].filter);
	b->routes[1].filter = strdup("alarms/+");
	assert_non_null(b->routes[1].filter);
	struct seen s;
	assert_int_equal(diff(a, b, &s), 4);
	assert_int_equal(s.n_ch, 1);
	expect_change(&s.ch[0], "change", "alarms", "filter alarms/# -> alarms/+");
	assert_int_equal(s.n_keys, 3);
	assert_string_equal(s.keys[0], "ports[0].vlan");
	assert_string_equal(s.keys[1], "ports[0].mqttsn_port");
	assert_string_equal(s.keys[2], "burst");
	assert_int_equal(fo_config_restart_keys(a, b, NULL, NULL), 3);
	fo_config_free(b);

	/* A second port on both sides: its keys carry its index. */
	static const char two[] = "  - {device: net_af_packet1, ipv4: 10.0.0.1/24}\nlcores:\n";
	struct fo_config *a2 = parse_edit("lcores:\n", two);
	b = parse_edit("lcores:\n", "  - {device: net_af_packet1, ipv4: 10.0.0.1/16, tx_desc: 512}\nlcores:\n");
	assert_int_equal(diff(a2, b, &s), 2);
	assert_string_equal(s.keys[0], "ports[1].ipv4");
	assert_string_equal(s.keys[1], "ports[1].tx_desc");
	fo_config_free(a2);
	fo_config_free(b);
	fo_config_free(a);
}

/* Sink and bridge routes: target and template are route content (a change), their connections are not. */
static void test_output_routes(void **state)
{
	(void)state;
	static const char *with = BASE "  - {name: out, filter: \"o/#\", sink: rd, stream: \"s:{topic}\"}\n";
	struct fo_config *a = parse(with);
	static const struct {
		const char *from, *to, *detail;
	} edits[] = {
		{ "stream: \"s:{topic}\"", "stream: \"t:{topic}\"", "to stream s:{topic} -> stream t:{topic}" },
		{ "sink: rd, stream: \"s:{topic}\"", "bridge: up, topic: \"s:{topic}\"",
		  "to stream s:{topic} -> bridge topic s:{topic}" },
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char *y = strdup(with);
		char *at = strstr(y, edits[i].from);
		assert_non_null(at);
		size_t need = strlen(y) - strlen(edits[i].from) + strlen(edits[i].to) + 1;
		char *z = malloc(need);
		snprintf(z, need, "%.*s%s%s", (int)(at - y), y, edits[i].to, at + strlen(edits[i].from));
		struct fo_config *b = parse(z);
		struct seen s = { 0 };
		assert_int_equal(fo_config_diff(a, b, on_route, on_key, &s), 1);
		assert_int_equal(s.n_keys, 0);
		expect_change(&s.ch[0], "change", "out", edits[i].detail);
		assert_true(fo_routes_fingerprint(a) != fo_routes_fingerprint(b));
		fo_config_free(b);
		free(z);
		free(y);
	}
	fo_config_free(a);
}

/* ---------------------------------------------------------------- admission: a generation key */

struct gen_key_seen {
	unsigned n;
	char key[64], detail[200];
};

static void on_gen_key(void *ctx, const char *key, const char *detail)
{
	struct gen_key_seen *g = ctx;
	g->n++;
	snprintf(g->key, sizeof(g->key), "%s", key);
	snprintf(g->detail, sizeof(g->detail), "%s", detail);
}

static void test_admission_is_generation_key(void **state)
{
	(void)state;
	struct fo_config *a = parse(BASE), *a2 = parse(BASE);
	struct gen_key_seen g = { 0 };
	assert_int_equal(fo_config_gen_keys(a, a2, on_gen_key, &g), 0);
	assert_int_equal(g.n, 0);
	assert_true(fo_generation_fingerprint(a) == fo_generation_fingerprint(a2));
	static const struct {
		const char *from, *to, *detail;
	} edits[] = {
		{ "client_id: gw-1", "client_id: gw-2", "1 -> 1 rules (1 of the first 1 differ)" },
		{ "client_id: gw-1", "client_id_prefix: gw-1", "1 -> 1 rules (1 of the first 1 differ)" },
		{ "[198.18.0.0/24]", "[198.18.0.0/16]", "1 -> 1 rules (1 of the first 1 differ)" },
		{ "[198.18.0.0/24]", "[198.18.0.0/24, 10.0.0.0/8]", "1 -> 1 rules (1 of the first 1 differ)" },
		{ "[198.18.0.0/24]", "[198.18.0.0/24, 2001:db8::/32]", "1 -> 1 rules (1 of the first 1 differ)" },
		{ "[198.18.0.0/24]", "[2001:db8::/32]", "1 -> 1 rules (1 of the first 1 differ)" },
		{ "    - {client_id: gw-1, from: [198.18.0.0/24]}\n",
		  "    - {client_id: gw-1, from: [198.18.0.0/24]}\n    - {client_id: x, from: [10.0.0.0/8]}\n",
		  "1 -> 2 rules (0 of the first 1 differ)" },
		{ "  admission:\n    - {client_id: gw-1, from: [198.18.0.0/24]}\n", "",
		  "1 -> 0 rules (0 of the first 0 differ)" },
		{ "admission_unlisted: admit", "admission_unlisted: reject",
		  "1 -> 1 rules (0 of the first 1 differ); unlisted ClientIds: admit -> reject" },
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		struct fo_config *b = parse_edit(edits[i].from, edits[i].to);
		struct seen s;
		memset(&s, 0, sizeof(s));
		/* counted as a difference, but neither a route change nor a restart key */
		assert_int_equal(fo_config_diff(a, b, on_route, on_key, &s), 1);
		assert_int_equal(s.n_ch, 0);
		assert_int_equal(s.n_keys, 0);
		assert_int_equal(fo_config_restart_keys(a, b, NULL, NULL), 0);
		memset(&g, 0, sizeof(g));
		assert_int_equal(fo_config_gen_keys(a, b, on_gen_key, &g), 1);
		assert_int_equal(g.n, 1);
		assert_string_equal(g.key, "security.admission");
		if (strcmp(g.detail, edits[i].detail) != 0)
			fail_msg("edit '%s': detail '%s', wanted '%s'", edits[i].from, g.detail, edits[i].detail);
		assert_int_equal(fo_config_gen_keys(a, b, NULL, NULL), 1);
		/* the routes' fingerprint stays, the generation's moves */
		assert_true(fo_routes_fingerprint(a) == fo_routes_fingerprint(b));
		if (fo_generation_fingerprint(a) == fo_generation_fingerprint(b))
			fail_msg("edit '%s' -> '%s' kept the generation fingerprint", edits[i].from, edits[i].to);
		fo_config_free(b);
	}
	/* two IPv6 prefixes that differ in length only: a change; the same one twice: none */
	struct fo_config *v32 = parse_edit("[198.18.0.0/24]", "[2001:db8::/32]");
	struct fo_config *v48 = parse_edit("[198.18.0.0/24]", "[2001:db8::/48]");
	struct fo_config *v32b = parse_edit("[198.18.0.0/24]", "[\"2001:0db8::/32\"]");
	assert_int_equal(fo_config_gen_keys(v32, v48, NULL, NULL), 1);
	assert_true(fo_generation_fingerprint(v32) != fo_generation_fingerprint(v48));
	assert_int_equal(fo_config_gen_keys(v32, v32b, NULL, NULL), 0);
	assert_true(fo_generation_fingerprint(v32) == fo_generation_fingerprint(v32b));
	fo_config_free(v32b);
	fo_config_free(v48);
	fo_config_free(v32);
	/* a route edit moves both fingerprints */
	struct fo_config *b = parse_edit("name: temps", "name: temps2");
	assert_true(fo_generation_fingerprint(a) != fo_generation_fingerprint(b));
	assert_int_equal(fo_config_gen_keys(a, b, NULL, NULL), 0);
	fo_config_free(b);
	fo_config_free(a2);
	fo_config_free(a);
}

/* ---------------------------------------------------------------- predefined topics: a generation key */

static void test_predefined_is_generation_key(void **state)
{
	(void)state;
	struct fo_config *a = parse(BASE);
	static const struct {
		const char *from, *to, *detail;
	} edits[] = {
		{ "{id: 1, name: \"sensors/predefined\"}", "{id: 2, name: \"sensors/predefined\"}",
		  "global: 1 -> 1 topics (changed); per client: 1 -> 1 rules (0 of the first 1 differ)" },
		{ "{id: 1, name: \"sensors/predefined\"}", "{id: 1, name: \"sensors/other\"}",
		  "global: 1 -> 1 topics (changed); per client: 1 -> 1 rules (0 of the first 1 differ)" },
		{ "    - {id: 1, name: \"sensors/predefined\"}\n",
		  "    - {id: 1, name: \"sensors/predefined\"}\n    - {id: 2, name: \"b\"}\n",
		  "global: 1 -> 2 topics (changed); per client: 1 -> 1 rules (0 of the first 1 differ)" },
		{ "  predefined_topics:\n    - {id: 1, name: \"sensors/predefined\"}\n", "",
		  "global: 1 -> 0 topics (changed); per client: 1 -> 1 rules (0 of the first 1 differ)" },
		{ "client_id: dev-1", "client_id: dev-2",
		  "global: 1 -> 1 topics; per client: 1 -> 1 rules (1 of the first 1 differ)" },
		{ "client_id: dev-1", "client_id_prefix: dev-1",
		  "global: 1 -> 1 topics; per client: 1 -> 1 rules (1 of the first 1 differ)" },
		{ "{id: 7, name: \"dev/1/cmd\"}", "{id: 8, name: \"dev/1/cmd\"}",
		  "global: 1 -> 1 topics; per client: 1 -> 1 rules (1 of the first 1 differ)" },
		{ "{id: 7, name: \"dev/1/cmd\"}", "{id: 7, name: \"dev/1/cmd\"}, {id: 9, name: x}",
		  "global: 1 -> 1 topics; per client: 1 -> 1 rules (1 of the first 1 differ)" },
		{ "  client_predefined:\n    - {client_id: dev-1, topics: [{id: 7, name: \"dev/1/cmd\"}]}\n", "",
		  "global: 1 -> 1 topics; per client: 1 -> 0 rules (0 of the first 0 differ)" },
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		struct fo_config *b = parse_edit(edits[i].from, edits[i].to);
		struct seen s;
		memset(&s, 0, sizeof(s));
		/* counted as a difference, but neither a route change nor a restart key */
		assert_int_equal(fo_config_diff(a, b, on_route, on_key, &s), 1);
		assert_int_equal(s.n_ch, 0);
		assert_int_equal(s.n_keys, 0);
		assert_int_equal(fo_config_restart_keys(a, b, NULL, NULL), 0);
		struct gen_key_seen g = { 0 };
		assert_int_equal(fo_config_gen_keys(a, b, on_gen_key, &g), 1);
		assert_string_equal(g.key, "mqttsn.predefined_topics");
		if (strcmp(g.detail, edits[i].detail) != 0)
			fail_msg("edit '%s': detail '%s', wanted '%s'", edits[i].from, g.detail, edits[i].detail);
		assert_true(fo_routes_fingerprint(a) == fo_routes_fingerprint(b));
		if (fo_generation_fingerprint(a) == fo_generation_fingerprint(b))
			fail_msg("edit '%s' -> '%s' kept the generation fingerprint", edits[i].from, edits[i].to);
		fo_config_free(b);
	}
	/* both generation keys at once */
	struct fo_config *b = parse_edit("client_id: dev-1", "client_id: dev-2");
	struct fo_config *c = parse(BASE);
	assert_int_equal(fo_config_gen_keys(c, b, NULL, NULL), 1);
	fo_config_free(c);
	c = parse_edit("client_id: gw-1", "client_id: gw-2");
	assert_int_equal(fo_config_gen_keys(b, c, NULL, NULL), 2);
	assert_int_equal(fo_config_diff(b, c, NULL, NULL, NULL), 2);
	fo_config_free(c);
	fo_config_free(b);
	fo_config_free(a);
}

/* ---------------------------------------------------------------- fingerprint */

static void test_fingerprint(void **state)
{
	(void)state;
	struct fo_config *a = parse(BASE), *a2 = parse(BASE);
	uint64_t fa = fo_routes_fingerprint(a);
	assert_true(fa == fo_routes_fingerprint(a2));
	assert_true(fa == fo_routes_fingerprint(a)); /* stable */

	/* Every route field, one at a time. */
	static const struct {
		const char *from, *to;
	} edits[] = {
		{ "name: temps", "name: temps2" },
		{ "\"sensors/+/temp\"", "\"sensors/+/temp/\"" },
		{ "198.18.0.10:9000", "198.18.0.13:9000" },
		{ "198.18.0.10:9000", "198.18.0.10:9001" },
		{ "10.9.9.9:9001", "10.9.9.9:9001\", \"10.9.9.10:9001" },
		{ "[\"198.18.0.10:9000\", \"198.18.0.11:9000\"]", "[\"198.18.0.10:9000\"]" },
		{ "[\"198.18.0.10:9000\", \"198.18.0.11:9000\"]", "[\"198.18.0.11:9000\", \"198.18.0.10:9000\"]" },
		{ "  - {name: sys, filter: \"$SYS/x\", format: raw, to: [\"198.18.0.12:9002\"]}\n", "" },
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		struct fo_config *b = parse_edit(edits[i].from, edits[i].to);
		if (fo_routes_fingerprint(b) == fa)
			fail_msg("edit '%s' -> '%s' kept the fingerprint", edits[i].from, edits[i].to);
		fo_config_free(b);
	}
	/* format (only raw in YAML today) */
	a2->routes[2].format = FO_ROUTE_RAW + 1;
	assert_true(fo_routes_fingerprint(a2) != fa);
	fo_config_free(a2);

	/* Field boundaries: the same bytes split differently between fields or routes must differ.
	 * 65.66.67.68:17734 is the bytes "ABCDEF", which could also start the next route's name. */
	struct fo_config *x = parse(BASE
				    "  - {name: r1, filter: f, to: [\"198.18.0.10:9000\", \"65.66.67.68:17734\"]}\n"
				    "  - {name: x, filter: g, to: [\"198.18.0.11:1\"]}\n");
	struct fo_config *y = parse(BASE "  - {name: r1, filter: f, to: [\"198.18.0.10:9000\"]}\n"
					 "  - {name: ABCDEFx, filter: g, to: [\"198.18.0.11:1\"]}\n");
	assert_true(fo_routes_fingerprint(x) != fo_routes_fingerprint(y));
	fo_config_free(x);
	fo_config_free(y);
	x = parse(BASE "  - {name: ab, filter: c, to: [\"198.18.0.10:9000\"]}\n");
	y = parse(BASE "  - {name: a, filter: bc, to: [\"198.18.0.10:9000\"]}\n");
	assert_true(fo_routes_fingerprint(x) != fo_routes_fingerprint(y));
	fo_config_free(x);
	fo_config_free(y);

	/* No routes: different from some routes. */
	x = parse(CORE);
	assert_true(fo_routes_fingerprint(x) != fa);
	fo_config_free(x);
	fo_config_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identical),
		cmocka_unit_test(test_route_remove_add),
		cmocka_unit_test(test_route_change),
		cmocka_unit_test(test_route_reorder),
		cmocka_unit_test(test_route_change_many_dests),
		cmocka_unit_test(test_restart_keys),
		cmocka_unit_test(test_output_routes),
		cmocka_unit_test(test_restart_keys_several),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_admission_is_generation_key),
		cmocka_unit_test(test_predefined_is_generation_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
