/* Prometheus text format (see metrics.h). Counters are the dataplane's cumulative figures as of
 * the last poll; their names, HELP and TYPE come from the counter schema (counter_schema.h).
 * Nothing here talks to the dataplane. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "counter_schema.h"
#include "ctl_auth.h"
#include "dp_link.h"
#include "fleet.h"
#include "metrics.h"
#include "outputs_view.h"

static void head(struct evbuffer *o, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values come from the dataplane; escape what the format requires. */
static void label_value(struct evbuffer *o, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(o, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(o, "\\n", 2);
		else
			evbuffer_add(o, v, 1);
	}
}

static const struct {
	const char *key, *quantile;
} quantiles[] = { { "p50", "0.5" }, { "p90", "0.9" }, { "p99", "0.99" }, { "p999", "0.999" } };

static void gen_labels(struct evbuffer *o, json_t *g)
{
	const char *role = json_string_value(json_object_get(g, "role"));

	evbuffer_add_printf(o, "generation=\"%" PRIu64 "\",role=\"", json_u64(g, "id"));
	label_value(o, role ? role : "unknown");
	evbuffer_add(o, "\"", 1);
}

/* Per lcore of STATS "lcores" (label lcore). */
static void lcores(struct evbuffer *o, json_t *lcs)
{
	struct cs_row rows[64];
	size_t n = 0, i;
	json_t *l;
	char id[24];

	json_array_foreach(lcs, i, l)
	{
		if (n == sizeof(rows) / sizeof(rows[0]) || !json_is_object(l))
			continue;
		rows[n].o = l;
		rows[n].labels[0] = '\0';
		snprintf(id, sizeof(id), "%" PRIu64, json_u64(l, "lcore"));
		cs_label(&rows[n], "lcore", id);
		n++;
	}
	cs_prom(o, &cs_lcore_loop, rows, n);
}

/* One row per generation of the GENSTATS reply; sub picks the object the counters sit in. */
static size_t gen_rows(json_t *gens, const char *sub, struct cs_row *rows, size_t cap)
{
	json_t *g;
	size_t i, n = 0;
	char id[24];

	json_array_foreach(gens, i, g)
	{
		const char *role = json_string_value(json_object_get(g, "role"));
		if (n == cap)
			break;
		rows[n].o = sub ? json_object_get(g, sub) : g;
		rows[n].labels[0] = '\0';
		snprintf(id, sizeof(id), "%" PRIu64, json_u64(g, "id"));
		cs_label(&rows[n], "generation", id);
		cs_label(&rows[n], "role", role ? role : "unknown");
		n++;
	}
	return n;
}

static void generations(struct evbuffer *o, json_t *gens)
{
	struct cs_row rows[SERIES_MAX_GENS * 2];
	json_t *g;
	size_t i;

	if (!json_is_array(gens))
		return;
	cs_prom(o, &cs_gen_msg, rows, gen_rows(gens, NULL, rows, sizeof(rows) / sizeof(rows[0])));
	head(o, "fanout_generation_latency_seconds", "gauge",
	     "rx->tx latency quantiles of packets sent for the generation's clients (since the generation was "
	     "created)");
	json_array_foreach(gens, i, g)
	{
		json_t *lat = json_object_get(g, "latency_ns");
		for (size_t q = 0; q < sizeof(quantiles) / sizeof(quantiles[0]); q++) {
			evbuffer_add(o, "fanout_generation_latency_seconds{", 34);
			gen_labels(o, g);
			evbuffer_add_printf(o, ",quantile=\"%s\"} %.9f\n", quantiles[q].quantile,
					    (double)json_u64(lat, quantiles[q].key) / 1e9);
		}
	}
	cs_prom(o, &cs_gen_lat, rows, gen_rows(gens, "latency_ns", rows, sizeof(rows) / sizeof(rows[0])));
}

/* Per route of the live generations (STATS "routes"): UDP routes carry the _ANY and _UDP
 * entries, sink and bridge routes _ANY and _OUT; each list takes the keys its routes have. */
static void routes(struct evbuffer *o, json_t *rs)
{
	static const char *const roles[] = { "stable", "canary" };
	struct cs_row rows[2 * 256];
	size_t n = 0, i;
	json_t *r;
	char id[24];

	if (!json_is_object(rs))
		return;
	for (int k = 0; k < 2; k++) {
		char idkey[16];
		snprintf(idkey, sizeof(idkey), "%s_id", roles[k]);
		snprintf(id, sizeof(id), "%" PRIu64, json_u64(rs, idkey));
		json_array_foreach(json_object_get(rs, roles[k]), i, r)
		{
			const char *name = json_string_value(json_object_get(r, "name"));
			const char *kind = json_string_value(json_object_get(r, "kind"));
			if (n == sizeof(rows) / sizeof(rows[0]) || !json_is_object(r))
				continue;
			rows[n].o = r;
			rows[n].labels[0] = '\0';
			cs_label(&rows[n], "generation", id);
			cs_label(&rows[n], "role", roles[k]);
			cs_label(&rows[n], "route", name ? name : "?");
			cs_label(&rows[n], "kind", kind ? kind : "?");
			n++;
		}
	}
	cs_prom(o, &cs_route_any, rows, n);
	cs_prom(o, &cs_route_udp, rows, n);
	cs_prom(o, &cs_route_out, rows, n);
}

void metrics_write(struct evbuffer *o)
{
	json_t *totals = json_object_get(app.dp.stats, "totals");
	json_t *out = json_object_get(totals, "out");
	const struct rollout *r = &app.st.rollout;

	head(o, "fanout_control_refused_total", "counter",
	     "requests and connections fanout-control refused, by reason (Host, Origin, token, limits)");
	for (int i = 0; i < CTL_REFUSED_MAX; i++)
		evbuffer_add_printf(o, "fanout_control_refused_total{reason=\"%s\"} %" PRIu64 "\n",
				    ctl_refusal_names[i], ctl_refused[i]);
	if (fleet_members() > 0) {
		/* a fleet has no dataplane of its own: its members' series, labelled by appliance */
		fleet_metrics(o);
		head(o, "fanout_control_state_save_failures_total", "counter", "failed writes of state.json");
		evbuffer_add_printf(o, "fanout_control_state_save_failures_total %u\n", app.save_failures);
		return;
	}
	head(o, "fanout_dataplane_up", "gauge", "1 when fanout-control is connected to the dataplane control socket");
	evbuffer_add_printf(o, "fanout_dataplane_up %d\n", dp_link_up() ? 1 : 0);
	if (totals != NULL && dp_link_up()) {
		struct cs_row row = { .o = totals, .labels = "" };
		cs_prom(o, &cs_lcore_rx, &row, 1);
		row.o = out;
		cs_prom(o, &cs_lcore_out, &row, 1);
		cs_prom_labelled(o, FO_DROP_METRIC, FO_DROP_HELP, "reason", json_object_get(totals, "drops"));
		cs_prom_labelled(o, FO_OUT_DROP_METRIC, FO_OUT_DROP_HELP, "reason", json_object_get(out, "drops"));
		cs_prom_labelled(o, FO_EVENT_METRIC, FO_EVENT_HELP, "event", json_object_get(totals, "events"));
		cs_prom_labelled(o, FO_XDP_METRIC, FO_XDP_HELP, "reason", json_object_get(totals, "xdp"));
		lcores(o, json_object_get(app.dp.stats, "lcores"));
	}
	if (dp_link_up()) {
		generations(o, json_object_get(app.dp.genstats, "generations"));
		routes(o, json_object_get(app.dp.stats, "routes"));
		ov_metrics(o, app.dp.outputs, json_object_get(app.dp.genstats, "generations"));
	}
	head(o, "fanout_canary_share_ratio", "gauge",
	     "share of clients on the canary generation (0..1), as the dataplane reports it");
	evbuffer_add_printf(o, "fanout_canary_share_ratio %.4f\n",
			    (double)(app.dp.generations ? json_u64(app.dp.generations, "share_bp") : app.st.share_bp) /
				    10000.0);
	head(o, "fanout_desired_canary_share_ratio", "gauge", "the canary share fanout-control wants (0..1)");
	evbuffer_add_printf(o, "fanout_desired_canary_share_ratio %.4f\n", app.st.share_bp / 10000.0);
	head(o, "fanout_rollout_step", "gauge", "1-based step of the active rollout, 0 when none is active");
	evbuffer_add_printf(o, "fanout_rollout_step %d\n", ro_active(r) ? (int)r->step + 1 : 0);
	head(o, "fanout_rollout_info", "gauge", "the rollout's state and generation (value 1)");
	evbuffer_add_printf(o, "fanout_rollout_info{state=\"%s\",generation=\"%u\"} 1\n", ro_state_name(r->state),
			    r->generation);
	if (app.st.last_rollback.set) {
		head(o, "fanout_last_rollback_seconds", "gauge",
		     "last ROLLBACK: time from receiving it to the dataplane's reply");
		evbuffer_add_printf(o, "fanout_last_rollback_seconds %.9f\n", app.st.last_rollback.total_ns / 1e9);
		head(o, "fanout_last_rollback_published_seconds", "gauge",
		     "last ROLLBACK: the dataplane's part (receiving the command to the pointer store)");
		evbuffer_add_printf(o, "fanout_last_rollback_published_seconds %.9f\n",
				    app.st.last_rollback.published_ns / 1e9);
	}
	head(o, "fanout_dataplane_connects_total", "counter", "connections made to the dataplane");
	evbuffer_add_printf(o, "fanout_dataplane_connects_total %u\n", dp_link_connects());
	head(o, "fanout_control_state_save_failures_total", "counter", "failed writes of state.json");
	evbuffer_add_printf(o, "fanout_control_state_save_failures_total %u\n", app.save_failures);
}
