/* Prometheus text format (see metrics.h). Counters are the dataplane's cumulative figures as of
 * the last poll; nothing here talks to the dataplane. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "ctl_auth.h"
#include "dp_link.h"
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

static void per_key(struct evbuffer *o, const char *name, const char *type, const char *help, const char *label,
		    json_t *obj)
{
	const char *k;
	json_t *v;

	if (!json_is_object(obj))
		return;
	head(o, name, type, help);
	json_object_foreach(obj, k, v) {
		evbuffer_add_printf(o, "%s{%s=\"", name, label);
		label_value(o, k);
		evbuffer_add_printf(o, "\"} %" PRIu64 "\n", json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0);
	}
}

static void scalar(struct evbuffer *o, const char *name, const char *type, const char *help, json_t *obj,
		   const char *key)
{
	if (json_object_get(obj, key) == NULL)
		return;
	head(o, name, type, help);
	evbuffer_add_printf(o, "%s %" PRIu64 "\n", name, json_u64(obj, key));
}

static const struct {
	const char *key, *name, *help;
} gen_counters[] = {
	{ "msgs", "fanout_generation_messages_total", "MQTT-SN messages from the generation's clients" },
	{ "publishes", "fanout_generation_publishes_total", "PUBLISH messages from the generation's clients" },
	{ "deliveries", "fanout_generation_deliveries_total", "subscriber copies for the generation's clients" },
	{ "error_replies", "fanout_generation_error_replies_total", "rejections sent to the generation's clients" },
	{ "drops", "fanout_generation_dropped_messages_total", "messages from the generation's clients dropped" },
	{ "route_matched", "fanout_generation_route_matched_total", "publishes that matched a route" },
	{ "route_copies", "fanout_generation_route_copies_total", "route copies made" },
	{ "route_dropped", "fanout_generation_route_dropped_total", "route copies that could not be sent" },
	{ "mirror_copies", "fanout_generation_mirror_copies_total", "mirror-mode copies counted, not sent" },
	{ "mirror_no_neighbour", "fanout_generation_mirror_no_neighbour_total", "mirror copies without a next hop" },
};

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

static void generations(struct evbuffer *o, json_t *gens)
{
	json_t *g;
	size_t i;

	if (!json_is_array(gens))
		return;
	for (size_t c = 0; c < sizeof(gen_counters) / sizeof(gen_counters[0]); c++) {
		head(o, gen_counters[c].name, "counter", gen_counters[c].help);
		json_array_foreach(gens, i, g) {
			evbuffer_add_printf(o, "%s{", gen_counters[c].name);
			gen_labels(o, g);
			evbuffer_add_printf(o, "} %" PRIu64 "\n", json_u64(g, gen_counters[c].key));
		}
	}
	head(o, "fanout_generation_latency_seconds", "gauge",
	     "rx->tx latency quantiles of packets sent for the generation's clients (since the generation was created)");
	json_array_foreach(gens, i, g) {
		json_t *lat = json_object_get(g, "latency_ns");
		for (size_t q = 0; q < sizeof(quantiles) / sizeof(quantiles[0]); q++) {
			evbuffer_add(o, "fanout_generation_latency_seconds{", 34);
			gen_labels(o, g);
			evbuffer_add_printf(o, ",quantile=\"%s\"} %.9f\n", quantiles[q].quantile,
					    (double)json_u64(lat, quantiles[q].key) / 1e9);
		}
	}
	head(o, "fanout_generation_latency_samples_total", "counter", "latency samples taken for the generation");
	json_array_foreach(gens, i, g) {
		evbuffer_add(o, "fanout_generation_latency_samples_total{", 40);
		gen_labels(o, g);
		evbuffer_add_printf(o, "} %" PRIu64 "\n", json_u64(json_object_get(g, "latency_ns"), "samples"));
	}
}

void metrics_write(struct evbuffer *o)
{
	json_t *totals = json_object_get(app.dp.stats, "totals");
	json_t *out = json_object_get(totals, "out");
	const struct rollout *r = &app.st.rollout;

	head(o, "fanout_control_refused_total", "counter",
	     "requests and connections fanout-control refused, by reason (Host, Origin, token, limits)");
	for (int i = 0; i < CTL_REFUSED_MAX; i++)
		evbuffer_add_printf(o, "fanout_control_refused_total{reason=\"%s\"} %" PRIu64 "\n", ctl_refusal_names[i],
				    ctl_refused[i]);
	head(o, "fanout_dataplane_up", "gauge", "1 when fanout-control is connected to the dataplane control socket");
	evbuffer_add_printf(o, "fanout_dataplane_up %d\n", dp_link_up() ? 1 : 0);
	if (totals != NULL && dp_link_up()) {
		scalar(o, "fanout_rx_packets_total", "counter", "packets received", totals, "rx");
		scalar(o, "fanout_delivered_packets_total", "counter", "received packets accepted for their purpose", totals,
		       "delivered");
		scalar(o, "fanout_answered_packets_total", "counter", "received packets only answered", totals, "answered");
		per_key(o, "fanout_dropped_packets_total", "counter", "received packets dropped, by reason", "reason",
			json_object_get(totals, "drops"));
		scalar(o, "fanout_out_generated_packets_total", "counter", "packets the appliance generated", out,
		       "generated");
		scalar(o, "fanout_out_sent_packets_total", "counter", "generated packets sent", out, "sent");
		per_key(o, "fanout_out_dropped_packets_total", "counter", "generated packets dropped, by reason", "reason",
			json_object_get(out, "drops"));
		per_key(o, "fanout_events_total", "counter", "informational event counters", "event",
			json_object_get(totals, "events"));
	}
	if (dp_link_up()) {
		generations(o, json_object_get(app.dp.genstats, "generations"));
		ov_metrics(o, app.dp.outputs, json_object_get(app.dp.genstats, "generations"));
	}
	head(o, "fanout_canary_share_ratio", "gauge", "share of clients on the canary generation (0..1), as the dataplane reports it");
	evbuffer_add_printf(o, "fanout_canary_share_ratio %.4f\n",
			    (double)(app.dp.generations ? json_u64(app.dp.generations, "share_bp") : app.st.share_bp) / 10000.0);
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
