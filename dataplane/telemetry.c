/* DPDK telemetry endpoints under /fanout/ (read with dpdk-telemetry.py -f PREFIX): the same
 * counters the control socket and the stats snapshot give. Callbacks run on DPDK's telemetry
 * thread: they only sum per-lcore counters (plain reads, as every stats reader does) and read
 * the generation summary under its mutex; they never touch a packet lcore's tables. */
#include <stdlib.h>
#include <string.h>

#include <rte_telemetry.h>

#include "dataplane.h"
#include "telemetry.h"

static int tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	struct fo_counters t;
	fo_stats_sum(&t);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "rx", t.rx);
	rte_tel_data_add_dict_u64(d, "delivered", t.delivered);
	rte_tel_data_add_dict_u64(d, "answered", t.answered);
	rte_tel_data_add_dict_u64(d, "dropped", t.dropped);
	rte_tel_data_add_dict_u64(d, "out_generated", t.out_generated);
	rte_tel_data_add_dict_u64(d, "out_sent", t.out_sent);
	rte_tel_data_add_dict_u64(d, "out_dropped", t.out_dropped);
	for (int i = 0; i < FO_EV_MAX; i++)
		rte_tel_data_add_dict_u64(d, fo_event_names[i], t.ev[i]);
	return 0;
}

static int tel_drops(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	struct fo_counters t;
	char name[64];
	fo_stats_sum(&t);
	rte_tel_data_start_dict(d);
	for (int i = 0; i < FO_DROP_MAX; i++)
		rte_tel_data_add_dict_u64(d, fo_drop_names[i], t.drop[i]);
	for (int i = 0; i < FO_OUT_DROP_MAX; i++) {
		snprintf(name, sizeof(name), "out_%s", fo_out_drop_names[i]);
		rte_tel_data_add_dict_u64(d, name, t.out_drop[i]);
	}
	return 0;
}

static int tel_generations(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	struct fo_gen_summary s;
	fo_gen_summary_get(&s);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "stable", s.stable_id);
	rte_tel_data_add_dict_u64(d, "canary", s.canary_id);
	rte_tel_data_add_dict_u64(d, "share_bp", s.share_bp);
	rte_tel_data_add_dict_string(d, "mode", s.mode == FO_GEN_MIRROR ? "mirror" : "split");
	rte_tel_data_add_dict_u64(d, "swaps", s.swaps);
	return 0;
}

/* /fanout/genstats,ID (default: the stable generation). */
static int tel_genstats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	struct fo_gen_summary s;
	fo_gen_summary_get(&s);
	uint32_t id = s.stable_id;
	if (params && *params) {
		char *end;
		unsigned long v = strtoul(params, &end, 10);
		if (*end || v == 0 || v > INT32_MAX)
			return -EINVAL;
		id = (uint32_t)v;
	}
	struct fo_gen_ctr *c = malloc(sizeof(*c));
	const char *role = NULL;
	if (!c)
		return -ENOMEM;
	if (!fo_gen_counters(id, c, &role)) {
		free(c);
		return -ENOENT;
	}
	double ns_per = 1e9 / (double)fo_dp.tsc_hz;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "id", id);
	rte_tel_data_add_dict_string(d, "role", role);
	rte_tel_data_add_dict_u64(d, "msgs", c->msgs);
	rte_tel_data_add_dict_u64(d, "publishes", c->publishes);
	rte_tel_data_add_dict_u64(d, "deliveries", c->deliveries);
	rte_tel_data_add_dict_u64(d, "error_replies", c->error_replies);
	rte_tel_data_add_dict_u64(d, "drops", c->drops);
	rte_tel_data_add_dict_u64(d, "route_matched", c->route_matched);
	rte_tel_data_add_dict_u64(d, "route_copies", c->route_copies);
	rte_tel_data_add_dict_u64(d, "route_dropped", c->route_dropped);
	rte_tel_data_add_dict_u64(d, "route_unserved", c->route_unserved);
	rte_tel_data_add_dict_u64(d, "mirror_copies", c->mirror_copies);
	rte_tel_data_add_dict_u64(d, "mirror_no_neighbour", c->mirror_no_neighbour);
	rte_tel_data_add_dict_u64(d, "latency_samples", c->lat_samples);
	uint64_t p99 = RTE_MIN(fo_lat_percentile(c->lat, c->lat_samples, 0.99), c->lat_max);
	rte_tel_data_add_dict_u64(d, "latency_p99_ns", (uint64_t)((double)p99 * ns_per));
	rte_tel_data_add_dict_u64(d, "latency_max_ns", (uint64_t)((double)c->lat_max * ns_per));
	free(c);
	return 0;
}

int fo_telemetry_register(void)
{
	if (rte_telemetry_register_cmd("/fanout/stats", tel_stats, "Fanout totals and events. No parameters") ||
	    rte_telemetry_register_cmd("/fanout/drops", tel_drops, "Fanout drops per reason (rx, then out_). No parameters") ||
	    rte_telemetry_register_cmd("/fanout/generations", tel_generations,
				       "Stable and canary generation ids, canary share (basis points), mode. No parameters") ||
	    rte_telemetry_register_cmd("/fanout/genstats", tel_genstats,
				       "Counters of one generation. Parameter: generation id (default: stable)")) {
		fprintf(stderr, "cannot register the /fanout telemetry commands\n");
		return -1;
	}
	return 0;
}
