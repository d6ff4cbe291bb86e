/* Fuzz target for dataplane/route/route_table.c: the input bytes are a publish's topic name, matched
 * against a fixed table of exact and wildcard routes (parsed once from YAML, as a generation is
 * built). Topic names come from clients, so any bytes must be safe. Checks, beyond "no crash,
 * no overread": the answer is exactly the routes whose filter topic_match()es the topic, in
 * route order (brute force over every route), and a capped answer is its prefix.
 * Built as a libFuzzer binary (-Dfuzz=true) and as a replay binary with replay_main.c. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "route_table.h"
#include "topic_match.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Exact filters repeat (several routes share one), wildcards are interleaved, '$' filters are
 * both exact and wildcard, and empty levels appear at each end. */
static const char routes_yaml[] = "ports: [{device: net_af_packet0, ipv4: 198.18.0.1/24, gateway: 198.18.0.254}]\n"
				  "lcores: [{lcore: 1, roles: [rx, worker, tx]}]\n"
				  "mqttsn: {max_topic_len: 65527}\n"
				  "routes:\n"
				  "  - {name: r0, filter: \"sensors/room1/temp\", to: [\"198.18.0.10:9000\"]}\n"
				  "  - {name: r1, filter: \"sensors/+/temp\", to: [\"198.18.0.11:9000\"]}\n"
				  "  - {name: r2, filter: \"#\", to: [\"198.18.0.12:9000\"]}\n"
				  "  - {name: r3, filter: \"sensors/room1/temp\", to: [\"10.1.1.1:9000\"]}\n"
				  "  - {name: r4, filter: \"$SYS/#\", to: [\"198.18.0.13:9000\"]}\n"
				  "  - {name: r5, filter: \"$SYS/broker/load\", to: [\"198.18.0.14:9000\"]}\n"
				  "  - {name: r6, filter: \"+\", to: [\"198.18.0.15:9000\"]}\n"
				  "  - {name: r7, filter: \"a\", to: [\"198.18.0.16:9000\"]}\n"
				  "  - {name: r8, filter: \"+/+\", to: [\"198.18.0.17:9000\"]}\n"
				  "  - {name: r9, filter: \"/\", to: [\"198.18.0.18:9000\"]}\n"
				  "  - {name: r10, filter: \"a/b/\", to: [\"198.18.0.19:9000\"]}\n"
				  "  - {name: r11, filter: \"+//#\", to: [\"198.18.0.20:9000\"]}\n"
				  "  - {name: r12, filter: \"a/+/c/#\", to: [\"198.18.0.21:9000\"]}\n"
				  "  - {name: r13, filter: \"dev/42/temp\", to: [\"198.18.0.22:9000\"]}\n"
				  "  - {name: r14, filter: \"dev/+/temp\", to: [\"198.18.0.23:9000\"]}\n"
				  "  - {name: r15, filter: \"a\", to: [\"198.18.0.24:9000\"]}\n"
				  "  - {name: r16, filter: \"+/$SYS\", to: [\"198.18.0.25:9000\"]}\n"
				  "  - {name: r17, filter: \"x/y/z/w/v/u\", to: [\"198.18.0.26:9000\"]}\n"
				  "  - {name: r18, filter: \"+/+/+/+/+/+/#\", to: [\"198.18.0.27:9000\"]}\n"
				  "  - {name: r19, filter: \"dev/42/temp\", to: [\"198.18.0.28:9000\"]}\n";

static struct fo_config *cfg;
static struct route_table *table;
static uint16_t *want, *got;

static void check(int cond)
{
	if (!cond)
		abort();
}

static void setup(void)
{
	char err[256];
	if (fo_config_parse(routes_yaml, sizeof(routes_yaml) - 1, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_route_table: routes refused: %s\n", err);
		abort();
	}
	table = route_table_build(cfg);
	want = malloc(cfg->n_routes * sizeof(*want));
	got = malloc((cfg->n_routes + 1) * sizeof(*got));
	check(table != NULL && want != NULL && got != NULL && route_table_size(table) == cfg->n_routes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (table == NULL)
		setup();
	/* A topic is at most 65535 bytes (route_table_match takes a uint16_t length). */
	uint16_t len = size > UINT16_MAX ? UINT16_MAX : (uint16_t)size;
	const uint32_t n_routes = cfg->n_routes;

	uint32_t n_want = 0;
	for (uint32_t r = 0; r < n_routes; r++)
		if (topic_match((const uint8_t *)cfg->routes[r].filter, strlen(cfg->routes[r].filter), data, len))
			want[n_want++] = (uint16_t)r;

	got[n_routes] = 0xBEEF;
	uint32_t n = route_table_match(table, data, len, got, n_routes, NULL);
	check(got[n_routes] == 0xBEEF); /* nothing written past max */
	check(n == n_want);
	check(memcmp(got, want, n * sizeof(*got)) == 0); /* same routes, in route order */

	/* Capped: the lowest route indexes, still in order. */
	uint32_t max = 1 + (uint32_t)(size % 5);
	got[max] = 0xBEEF;
	n = route_table_match(table, data, len, got, max, NULL);
	check(got[max] == 0xBEEF);
	check(n == (n_want < max ? n_want : max));
	check(memcmp(got, want, n * sizeof(*got)) == 0);
	return 0;
}
