/* DPDK telemetry endpoints under /fanout/ (read with dpdk-telemetry.py -f PREFIX): the same
 * counters the control socket and the stats snapshot give, keyed by their field names in
 * fanout/stats_schema.h. Callbacks run on DPDK's telemetry thread: they only sum per-lcore
 * counters (plain reads, as every stats reader does) and read the generation summary and the
 * live route rows under the generations' mutex; they never touch a packet lcore's tables. */
#include <stdlib.h>
#include <string.h>

#include <rte_telemetry.h>

#include "dataplane.h"
#include "outputs.h"
#include "telemetry.h"

static int tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	struct fo_counters t;
	fo_stats_sum(&t);
	rte_tel_data_start_dict(d);
#define TEL_LCORE_(field, ...) rte_tel_data_add_dict_u64(d, #field, t.field);
	FO_FOREACH_LCORE(TEL_LCORE_)
#undef TEL_LCORE_
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

static int tel_xdp(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	uint64_t v[FO_XDP_MAX];
	fo_xdp_sum(v);
	rte_tel_data_start_dict(d);
	for (int i = 0; i < FO_XDP_MAX; i++)
		rte_tel_data_add_dict_u64(d, fo_xdp_names[i], v[i]);
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

/* The generation an endpoint's ",ID" names; the stable one without. */
static int param_gen_id(const char *params, uint32_t *id)
{
	struct fo_gen_summary s;
	fo_gen_summary_get(&s);
	*id = s.stable_id;
	if (params && *params) {
		char *end;
		unsigned long v = strtoul(params, &end, 10);
		if (*end || v == 0 || v > INT32_MAX)
			return -EINVAL;
		*id = (uint32_t)v;
	}
	return 0;
}

/* /fanout/genstats,ID (default: the stable generation). */
static int tel_genstats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	uint32_t id;
	if (param_gen_id(params, &id) != 0)
		return -EINVAL;
	struct fo_gen_ctr *c = aligned_alloc(_Alignof(struct fo_gen_ctr), sizeof(*c)); /* cache-line aligned type */
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
#define TEL_GEN_(field, ...) rte_tel_data_add_dict_u64(d, #field, c->field);
	FO_FOREACH_GEN(TEL_GEN_)
#undef TEL_GEN_
	uint64_t p99 = RTE_MIN(fo_lat_percentile(c->lat, c->latency_samples, 0.99), c->lat_max);
	rte_tel_data_add_dict_u64(d, "latency_p99_ns", (uint64_t)((double)p99 * ns_per));
	rte_tel_data_add_dict_u64(d, "latency_max_ns", (uint64_t)((double)c->lat_max * ns_per));
	free(c);
	return 0;
}

/* One dict of counters per route or output, as a container of the endpoint's dict. */
static struct rte_tel_data *tel_counters(void)
{
	struct rte_tel_data *c = rte_tel_data_alloc();
	if (c)
		rte_tel_data_start_dict(c);
	return c;
}

struct route_walk {
	struct rte_tel_data *d;
	int err;
};

static void tel_route(void *arg, const char *route, const char *kind, const struct fo_route_ctr *t)
{
	struct route_walk *w = arg;
	struct rte_tel_data *c = tel_counters();
	if (!c) {
		w->err = -ENOMEM;
		return;
	}
	rte_tel_data_add_dict_string(c, "kind", kind);
#define TEL_ROUTE_(field, ...) rte_tel_data_add_dict_u64(c, #field, t->field);
	FO_FOREACH_ROUTE(TEL_ROUTE_)
#undef TEL_ROUTE_
	if (rte_tel_data_add_dict_container(w->d, route, c, 0) != 0) {
		rte_tel_data_free(c);
		w->err = -ENOSPC;
	}
}

/* /fanout/routes,ID (default: the stable generation): a live generation's routes. */
static int tel_routes(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	uint32_t id;
	if (param_gen_id(params, &id) != 0)
		return -EINVAL;
	struct route_walk w = { .d = d, .err = 0 };
	rte_tel_data_start_dict(d);
	if (!fo_gen_route_walk(id, tel_route, &w))
		return -ENOENT;
	return w.err;
}

/* /fanout/outputs: every sink and bridge, the workers' counters and the output thread's. */
static int tel_outputs(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	for (uint32_t o = 0; o < fo_n_outputs; o++) {
		const struct fo_output *out = &fo_outputs[o];
		struct fo_out_lcore_ctr w;
		struct rte_tel_data *c = tel_counters();
		if (!c)
			return -ENOMEM;
		fo_output_worker_sum(o, &w);
		rte_tel_data_add_dict_string(c, "kind", out->kind == FO_OUT_SINK ? "sink" : "bridge");
#define TEL_OUT_(field, ...) rte_tel_data_add_dict_u64(c, #field, src->field);
		{
			const struct fo_out_lcore_ctr *src = &w;
			FO_FOREACH_OUTPUT_WORKER(TEL_OUT_)
		}
		{
			const struct fo_out_stats *src = &out->st;
			FO_FOREACH_OUTPUT_THREAD(TEL_OUT_)
		}
#undef TEL_OUT_
		if (rte_tel_data_add_dict_container(d, out->name, c, 0) != 0) {
			rte_tel_data_free(c);
			return -ENOSPC;
		}
	}
	return 0;
}

int fo_telemetry_register(void)
{
	if (rte_telemetry_register_cmd("/fanout/stats", tel_stats, "Fanout totals and events. No parameters") ||
	    rte_telemetry_register_cmd("/fanout/drops", tel_drops,
				       "Fanout drops per reason (rx, then out_). No parameters") ||
	    rte_telemetry_register_cmd("/fanout/xdp", tel_xdp,
				       "XDP pre-filter verdicts (zeros without the pre-filter). No parameters") ||
	    rte_telemetry_register_cmd(
		    "/fanout/generations", tel_generations,
		    "Stable and canary generation ids, canary share (basis points), mode. No parameters") ||
	    rte_telemetry_register_cmd("/fanout/genstats", tel_genstats,
				       "Counters of one generation. Parameter: generation id (default: stable)") ||
	    rte_telemetry_register_cmd(
		    "/fanout/routes", tel_routes,
		    "Counters per route of a live generation. Parameter: generation id (default: stable)") ||
	    rte_telemetry_register_cmd("/fanout/outputs", tel_outputs, "Counters per sink and bridge. No parameters")) {
		fprintf(stderr, "cannot register the /fanout telemetry commands\n");
		return -1;
	}
	return 0;
}
