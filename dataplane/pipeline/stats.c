/* JSON stats snapshot (SIGUSR1 and exit): per port, per lcore, per ring, per pool, per
 * worker and per drop reason, with the conservation sums rx == delivered + answered + frag_merged +
 * dropped (+ what is still inside the pipeline) computed here. Runs on the main lcore
 * and only reads the per-lcore counters, so it costs the packet path nothing. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include <rte_ethdev.h>

#include "dataplane.h"
#include "outputs.h"
#include "mqttsn_codec.h"

void fo_stats_sum(struct fo_counters *t)
{
	memset(t, 0, sizeof(*t));
	for (unsigned l = 0; l < RTE_MAX_LCORE; l++)
		fo_counters_add(t, &fo_stats[l].c);
}

void fo_xdp_sum(uint64_t out[FO_XDP_MAX])
{
	uint64_t v[FO_XDP_MAX];

	memset(out, 0, sizeof(uint64_t) * FO_XDP_MAX);
	for (uint16_t p = 0; p < fo_dp.n_ports; p++)
		if (fo_dp.ports[p].xdp_on && !fo_xdp_verdicts(&fo_dp.ports[p].xdp, v))
			for (int i = 0; i < FO_XDP_MAX; i++)
				out[i] += v[i];
}

static void ip_str(uint32_t ip, char *b, size_t n)
{
	snprintf(b, n, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

static void write_ring(FILE *f, const struct rte_ring *r, bool *first)
{
	if (!r)
		return;
	fprintf(f, "%s\n    {\"name\": \"%s\", \"size\": %u, \"count\": %u, \"free\": %u}", *first ? "" : ",", r->name,
		rte_ring_get_capacity(r), rte_ring_count(r), rte_ring_free_count(r));
	*first = false;
}

static void write_pool(FILE *f, const struct rte_mempool *mp, bool *first)
{
	if (!mp)
		return;
	fprintf(f, "%s\n    {\"name\": \"%s\", \"size\": %u, \"in_use\": %u, \"available\": %u}", *first ? "" : ",",
		mp->name, mp->size, rte_mempool_in_use_count(mp), rte_mempool_avail_count(mp));
	*first = false;
}

void fo_stats_write_json_stream(FILE *f, const char *reason)
{
	struct fo_counters t;
	fo_stats_sum(&t);
	double up = (double)(rte_get_tsc_cycles() - fo_dp.start_tsc) / (double)fo_dp.tsc_hz;
	int64_t in_pipe = (int64_t)t.rx - (int64_t)fo_counters_finished(&t);
	int64_t out_pipe = (int64_t)t.out_generated - (int64_t)(t.out_sent + t.out_dropped);

	fprintf(f, "{\n  \"reason\": \"%s\",\n  \"uptime_s\": %.3f,\n", reason, up);
	const char *sep = "";
#define TOTAL_JSON_(field, key, ...) \
	fprintf(f, "%s\"" key "\": %" PRIu64, sep, t.field); \
	sep = ", ";
	fprintf(f, "  \"totals\": {\n    ");
	FO_FOREACH_LCORE_RX(TOTAL_JSON_)
	fprintf(f, ",\n    \"in_pipeline\": %" PRId64 ", \"balanced\": %s,\n", in_pipe,
		in_pipe == 0 ? "true" : "false");
	fprintf(f, "    \"drops\": {");
	for (int i = 0; i < FO_DROP_MAX; i++)
		fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", fo_drop_names[i], t.drop[i]);
	fprintf(f, "},\n    \"out\": {");
	sep = "";
	FO_FOREACH_LCORE_OUT(TOTAL_JSON_)
#undef TOTAL_JSON_
	fprintf(f, ", \"in_pipeline\": %" PRId64 ", \"balanced\": %s,\n      \"drops\": {", out_pipe,
		out_pipe == 0 ? "true" : "false");
	for (int i = 0; i < FO_OUT_DROP_MAX; i++)
		fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", fo_out_drop_names[i], t.out_drop[i]);
	fprintf(f, "}},\n    \"events\": {");
	for (int i = 0; i < FO_EV_MAX; i++)
		fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", fo_event_names[i], t.ev[i]);
	uint64_t xdp[FO_XDP_MAX];
	fo_xdp_sum(xdp);
	fprintf(f, "},\n    \"xdp\": {");
	for (int i = 0; i < FO_XDP_MAX; i++)
		fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", fo_xdp_names[i], xdp[i]);
	fprintf(f, "},\n    \"mqttsn_rx\": {");
	bool first = true;
	for (int i = 0; i < 256; i++) {
		if (!t.mqttsn_rx_type[i])
			continue;
		fprintf(f, "%s\"%s\": %lu", first ? "" : ", ",
			i <= 0x1d || i == 0xfe ? mqttsn_type_name((uint8_t)i) : "UNKNOWN", t.mqttsn_rx_type[i]);
		first = false;
	}
	fprintf(f, "}\n  },\n  \"ports\": [");
	for (uint16_t p = 0; p < fo_dp.n_ports; p++) {
		const struct fo_port *pt = &fo_dp.ports[p];
		struct rte_eth_stats es;
		memset(&es, 0, sizeof(es));
		rte_eth_stats_get(pt->port_id, &es);
		uint64_t rx = 0, tx = 0;
		for (unsigned l = 0; l < RTE_MAX_LCORE; l++) {
			rx += fo_stats[l].port_rx[p];
			tx += fo_stats[l].port_tx[p];
		}
		char ip[16];
		ip_str(pt->ifc.ip, ip, sizeof(ip));
		const uint8_t *m = pt->ifc.mac;
		fprintf(f,
			"%s\n    {\"index\": %u, \"port_id\": %u, \"device\": \"%s\", \"mac\": "
			"\"%02x:%02x:%02x:%02x:%02x:%02x\", \"ipv4\": \"%s\", \"vlan\": %u, \"mqttsn_port\": %u,\n",
			p ? "," : "", p, pt->port_id, pt->name, m[0], m[1], m[2], m[3], m[4], m[5], ip, pt->ifc.vlan,
			pt->ifc.mqttsn_port);
		char ip6[INET6_ADDRSTRLEN + 4] = "";
		if (pt->ifc.has_ip6) {
			inet_ntop(AF_INET6, pt->ifc.ip6, ip6, INET6_ADDRSTRLEN);
			snprintf(ip6 + strlen(ip6), sizeof(ip6) - strlen(ip6), "/%u", pt->ifc.ip6_prefix);
		}
		fprintf(f, "     \"ipv6\": \"%s\", \"neighbours6\": %u,\n", ip6,
			pt->neigh6 ? fo_neigh_count(pt->neigh6) : 0);
		fprintf(f, "     \"xdp_pins\": \"%s\", \"xdp_prog\": %u,\n", pt->xdp_on ? pt->xdp.dir : "",
			pt->xdp_on ? pt->xdp.prog_id : 0);
		fprintf(f, "     \"rx\": %lu, \"tx\": %lu, \"rx_queues\": %u, \"tx_queues\": %u, \"neighbours\": %u,\n",
			rx, tx, pt->n_rxq, pt->n_txq, fo_neigh_count(pt->neigh));
		fprintf(f,
			"     \"ethdev\": {\"ipackets\": %lu, \"opackets\": %lu, \"ibytes\": %lu, \"obytes\": %lu, "
			"\"imissed\": %lu, \"ierrors\": %lu, \"oerrors\": %lu, \"rx_nombuf\": %lu}}",
			es.ipackets, es.opackets, es.ibytes, es.obytes, es.imissed, es.ierrors, es.oerrors,
			es.rx_nombuf);
	}
	fprintf(f, "\n  ],\n  \"lcores\": [");
	first = true;
	for (unsigned l = 0; l < RTE_MAX_LCORE; l++) {
		const struct fo_lcore *lc = fo_dp.lcore_of[l];
		if (!lc)
			continue;
		const struct fo_lcore_stats *s = &fo_stats[l];
		fprintf(f, "%s\n    {\"lcore\": %u, \"roles\": [%s%s%s%s%s]", first ? "" : ",", l,
			(lc->roles & FO_ROLE_RX) ? "\"rx\"" : "",
			(lc->roles & FO_ROLE_RX) && (lc->roles & (FO_ROLE_WORKER | FO_ROLE_TX)) ? ", " : "",
			(lc->roles & FO_ROLE_WORKER) ? "\"worker\"" : "",
			(lc->roles & FO_ROLE_WORKER) && (lc->roles & FO_ROLE_TX) ? ", " : "",
			(lc->roles & FO_ROLE_TX) ? "\"tx\"" : "");
#define LCORE_JSON_(field, ...) fprintf(f, ", \"" #field "\": %" PRIu64, s->c.field);
		FO_FOREACH_LCORE(LCORE_JSON_)
#undef LCORE_JSON_
		fprintf(f, ", \"busy_pct\": %.2f}",
			s->c.loops ? 100.0 * (double)s->c.busy_loops / (double)s->c.loops : 0.0);
		first = false;
	}
	fprintf(f, "\n  ],\n  \"workers\": [");
	first = true;
	for (uint32_t w = 0; w < fo_dp.n_workers; w++) {
		const struct fo_worker *wk = &fo_dp.workers[w];
		if (!wk->broker)
			continue;
		fprintf(f,
			"%s\n    {\"index\": %u, \"lcore\": %u, \"sessions\": %u, \"topics\": %u, \"subscriptions\": "
			"%u, "
			"\"inflight\": %u}",
			first ? "" : ",", w, wk->lcore_id, broker_session_count(wk->broker),
			broker_topic_count(wk->broker), broker_subscription_count(wk->broker),
			broker_inflight_count(wk->broker));
		first = false;
	}
	fprintf(f, "\n  ],\n  \"rings\": [");
	first = true;
	for (uint32_t w = 0; w < fo_dp.n_workers; w++) {
		write_ring(f, fo_dp.workers[w].in, &first);
		write_ring(f, fo_dp.workers[w].peer_in, &first);
	}
	for (uint32_t t2 = 0; t2 < fo_dp.n_tx; t2++)
		write_ring(f, fo_dp.txers[t2].ring, &first);
	fprintf(f, "\n  ],\n  \"mempools\": [");
	first = true;
	write_pool(f, fo_dp.pkt_pool, &first);
	write_pool(f, fo_dp.hdr_pool, &first);
	write_pool(f, fo_dp.held_pool, &first);
	write_pool(f, fo_dp.peer_pool, &first);
	write_pool(f, fo_dp.large_pool, &first);
	write_pool(f, fo_dp.indirect_pool, &first);
	if (fo_dp.out_pool)
		write_pool(f, fo_dp.out_pool, &first);
	fprintf(f, "\n  ]");
	if (fo_genset_read()) { /* generations exist once setup got that far */
		fprintf(f, ",\n  \"generations\": ");
		fo_gen_write_generations(f);
		fprintf(f, ",\n  \"genstats\": ");
		fo_gen_write_genstats(f);
		fprintf(f, ",\n  \"routes\": ");
		fo_gen_write_routes(f);
	}
	fprintf(f, ",\n  \"outputs\": ");
	fo_outputs_write_json(f);
	fprintf(f, "\n}\n");
}

int fo_stats_write_json(const char *path, const char *reason)
{
	if (!path) {
		fo_stats_write_json_stream(stdout, reason);
		fflush(stdout);
		return 0;
	}
	/* Write then rename, so readers never see half a snapshot. */
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "stats: cannot write '%s': %s; check stats.file in the config\n", tmp, strerror(errno));
		return -1;
	}
	fo_stats_write_json_stream(f, reason);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		fprintf(stderr, "stats: cannot publish '%s': %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}
