/* The outputs view (see outputs_view.h): the dataplane's OUTPUTS reply with rates, a STATUS
 * summary and Prometheus text. Nothing here talks to the dataplane. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "counter_schema.h"
#include "outputs_view.h"

/* The output thread's counters (cs_output_thread: monotonic while the dataplane runs) get a
 * per-second rate; a gauge (a metric not ending in _total, e.g. inflight) does not. */
static bool is_counter(const struct cs_entry *e)
{
	size_t n = strlen(e->metric);
	return n > 6 && strcmp(e->metric + n - 6, "_total") == 0;
}

static bool u64_of(json_t *o, const char *key, uint64_t *v)
{
	json_t *j = json_object_get(o, key);

	if (json_is_integer(j) && json_integer_value(j) >= 0) {
		*v = (uint64_t)json_integer_value(j);
		return true;
	}
	if (json_is_real(j) && json_real_value(j) >= 0) {
		*v = (uint64_t)json_real_value(j);
		return true;
	}
	if (json_is_boolean(j)) {
		*v = json_is_true(j) ? 1 : 0;
		return true;
	}
	return false;
}

static const char *kind_of(json_t *out, const char *dflt)
{
	const char *k = json_string_value(json_object_get(out, "kind"));
	return k ? k : dflt;
}

static json_t *find_output(json_t *reply, const char *kind, const char *name)
{
	static const char *const arrays[] = { "sinks", "bridges" };
	json_t *o;
	size_t i;

	if (name == NULL)
		return NULL;
	for (int a = 0; a < 2; a++)
		json_array_foreach(json_object_get(reply, arrays[a]), i, o)
		{
			const char *n = json_string_value(json_object_get(o, "name"));
			if (n && strcmp(n, name) == 0 && strcmp(kind_of(o, a ? "bridge" : "sink"), kind) == 0)
				return o;
		}
	return NULL;
}

json_t *ov_with_rates(json_t *cur, json_t *prev, double dt_s)
{
	static const char *const arrays[] = { "sinks", "bridges" };
	json_t *j, *o;
	size_t i;

	if (!json_is_object(cur))
		return NULL;
	j = json_deep_copy(cur);
	for (int a = 0; a < 2; a++)
		json_array_foreach(json_object_get(j, arrays[a]), i, o)
		{
			json_t *r = json_object();
			json_t *p = dt_s > 0 ? find_output(prev, kind_of(o, a ? "bridge" : "sink"),
							   json_string_value(json_object_get(o, "name")))
					     : NULL;
			for (size_t c = 0; p != NULL && c < cs_output_thread.n; c++) {
				const char *k = cs_output_thread.e[c].key;
				uint64_t now, before;
				char key[48];
				if (!is_counter(&cs_output_thread.e[c]) || !u64_of(o, k, &now) ||
				    !u64_of(p, k, &before) || now < before)
					continue;
				snprintf(key, sizeof(key), "%s_per_s", k);
				json_object_set_new(r, key, json_real((double)(now - before) / dt_s));
			}
			if (json_is_object(o))
				json_object_set_new(o, "rates", r);
			else
				json_decref(r);
		}
	return j;
}

json_t *ov_summary(json_t *cur)
{
	static const char *const arrays[] = { "sinks", "bridges" };
	json_t *s, *o;
	size_t i;

	if (!json_is_object(cur))
		return NULL;
	s = json_array();
	for (int a = 0; a < 2; a++)
		json_array_foreach(json_object_get(cur, arrays[a]), i, o)
		{
			const char *name = json_string_value(json_object_get(o, "name"));
			const char *err = json_string_value(json_object_get(o, "last_error"));
			uint64_t backlog = 0;
			u64_of(o, "backlog", &backlog);
			json_t *e = json_pack("{s:s,s:s,s:b,s:I}", "name", name ? name : "?", "kind",
					      kind_of(o, a ? "bridge" : "sink"), "connected",
					      json_is_true(json_object_get(o, "connected")), "backlog",
					      (json_int_t)backlog);
			if (e != NULL && err != NULL && *err)
				json_object_set_new(e, "last_error", json_string(err));
			json_array_append_new(s, e);
		}
	return s;
}

/* ---------------------------------------------------------------- Prometheus */

static void adds(struct evbuffer *b, const char *s)
{
	evbuffer_add(b, s, strlen(s));
}

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
			adds(o, "\\n");
		else
			evbuffer_add(o, v, 1);
	}
}

struct ov_out {
	json_t *o;
	const char *kind;
};

/* Every output of the reply, sinks first, with its kind. */
static size_t list_outputs(json_t *reply, struct ov_out *list, size_t cap)
{
	static const char *const arrays[] = { "sinks", "bridges" };
	size_t n = 0, i;
	json_t *o;

	for (int a = 0; a < 2; a++)
		json_array_foreach(json_object_get(reply, arrays[a]), i, o)
		{
			if (n == cap || !json_is_object(o))
				continue;
			list[n].o = o;
			list[n].kind = kind_of(o, a ? "bridge" : "sink");
			n++;
		}
	return n;
}

static void out_labels(struct evbuffer *b, const struct ov_out *x)
{
	const char *name = json_string_value(json_object_get(x->o, "name"));

	adds(b, "output=\"");
	label_value(b, name ? name : "?");
	adds(b, "\",kind=\"");
	label_value(b, x->kind);
	adds(b, "\"");
}

/* The outputs' state; their counters come from the schema (cs_output_worker, cs_output_thread). */
static const struct {
	const char *key, *name, *type, *help;
} out_metrics[] = {
	{ "connected", "fanout_output_connected", "gauge",
	  "1 while the output is connected to its server (Redis, MQTT broker)" },
	{ "backlog", "fanout_output_backlog", "gauge", "entries queued for the output, not yet written or failed" },
	{ "ring_size", "fanout_output_ring_capacity", "gauge",
	  "entries the ring between the workers and the output holds" },
};

/* A histogram from the dataplane's log2 buckets (bucket i = values of bit length i): bucket i
 * holds values below 2^i (integers up to 2^i - 1), so its cumulative `le` is 2^i * scale, or
 * (2^i - 1) * scale for integral counts (int_le). The last bucket also holds anything larger. */
static void hist_series(struct evbuffer *b, const char *name, const struct ov_out *x, json_t *h, double scale,
			bool int_le, bool have_sum, double sum)
{
	uint64_t acc = 0;
	size_t n = json_array_size(h);

	for (size_t i = 0; i < n; i++) {
		json_t *c = json_array_get(h, i);
		acc += json_is_integer(c) && json_integer_value(c) > 0 ? (uint64_t)json_integer_value(c) : 0;
		if (i + 1 == n)
			break; /* the last bucket is open-ended: only +Inf */
		double le = ((double)(1ull << (i < 63 ? i : 63)) - (int_le ? 1.0 : 0.0)) * scale;
		evbuffer_add_printf(b, "%s_bucket{", name);
		out_labels(b, x);
		evbuffer_add_printf(b, ",le=\"%.9g\"} %" PRIu64 "\n", le, acc);
	}
	evbuffer_add_printf(b, "%s_bucket{", name);
	out_labels(b, x);
	evbuffer_add_printf(b, ",le=\"+Inf\"} %" PRIu64 "\n", acc);
	if (have_sum) {
		evbuffer_add_printf(b, "%s_sum{", name);
		out_labels(b, x);
		evbuffer_add_printf(b, "} %.9g\n", sum);
	}
	evbuffer_add_printf(b, "%s_count{", name);
	out_labels(b, x);
	evbuffer_add_printf(b, "} %" PRIu64 "\n", acc);
}

static void output_metrics(struct evbuffer *b, json_t *outputs)
{
	struct ov_out list[64];
	size_t n = list_outputs(outputs, list, sizeof(list) / sizeof(list[0]));
	uint64_t v;
	bool any;

	if (n == 0)
		return;
	head(b, "fanout_output_info", "gauge", "an output's kind and server (value 1)");
	for (size_t i = 0; i < n; i++) {
		const char *server = json_string_value(json_object_get(list[i].o, "redis"));
		const char *host = json_string_value(json_object_get(list[i].o, "host"));
		const char *puback = json_string_value(json_object_get(list[i].o, "puback"));
		char hp[300] = "";
		if (server == NULL && host != NULL) {
			if (u64_of(list[i].o, "port", &v))
				snprintf(hp, sizeof(hp), "%s:%" PRIu64, host, v);
			else
				snprintf(hp, sizeof(hp), "%s", host);
			server = hp;
		}
		adds(b, "fanout_output_info{");
		out_labels(b, &list[i]);
		adds(b, ",server=\"");
		label_value(b, server ? server : "");
		adds(b, "\"");
		if (puback != NULL) {
			adds(b, ",puback=\"");
			label_value(b, puback);
			adds(b, "\"");
		}
		adds(b, "} 1\n");
	}
	for (size_t m = 0; m < sizeof(out_metrics) / sizeof(out_metrics[0]); m++) {
		any = false;
		for (size_t i = 0; i < n; i++) {
			if (!u64_of(list[i].o, out_metrics[m].key, &v))
				continue;
			if (!any)
				head(b, out_metrics[m].name, out_metrics[m].type, out_metrics[m].help);
			any = true;
			evbuffer_add_printf(b, "%s{", out_metrics[m].name);
			out_labels(b, &list[i]);
			evbuffer_add_printf(b, "} %" PRIu64 "\n", v);
		}
	}

	struct cs_row rows[64];
	for (size_t i = 0; i < n; i++) {
		const char *name = json_string_value(json_object_get(list[i].o, "name"));
		rows[i].o = list[i].o;
		rows[i].labels[0] = '\0';
		cs_label(&rows[i], "output", name ? name : "?");
		cs_label(&rows[i], "kind", list[i].kind);
	}
	cs_prom(b, &cs_output_worker, rows, n);
	cs_prom(b, &cs_output_thread, rows, n);

	/* batch sizes: entries per batch; the dataplane gives no sum of entries, so no _sum */
	any = false;
	for (size_t i = 0; i < n; i++) {
		json_t *h = json_object_get(list[i].o, "batch_hist");
		if (!json_is_array(h) || json_array_size(h) == 0)
			continue;
		if (!any)
			head(b, "fanout_output_batch_entries", "histogram", "entries per batch the output wrote");
		any = true;
		hist_series(b, "fanout_output_batch_entries", &list[i], h, 1.0, true, false, 0);
	}

	/* batch round trip (sink: pipelined XADD batch sent -> last reply) */
	any = false;
	for (size_t i = 0; i < n; i++) {
		json_t *h = json_object_get(list[i].o, "rtt_hist");
		json_t *rtt = json_object_get(list[i].o, "rtt_us");
		if (!json_is_array(h) || json_array_size(h) == 0)
			continue;
		if (!any)
			head(b, "fanout_output_batch_rtt_seconds", "histogram",
			     "round trip of one batch (sink: XADD pipeline written -> its last reply)");
		any = true;
		uint64_t cnt = 0;
		bool have_sum = json_is_number(json_object_get(rtt, "mean")) && u64_of(rtt, "n", &cnt);
		double sum = have_sum ? json_number_value(json_object_get(rtt, "mean")) * (double)cnt / 1e6 : 0;
		hist_series(b, "fanout_output_batch_rtt_seconds", &list[i], h, 1e-6, false, have_sum, sum);
	}
	any = false;
	for (size_t i = 0; i < n; i++) {
		json_t *rtt = json_object_get(list[i].o, "rtt_us");
		static const struct {
			const char *key, *q;
		} qs[] = { { "p50", "0.5" }, { "p99", "0.99" } };
		if (!json_is_object(rtt))
			continue;
		if (!any)
			head(b, "fanout_output_batch_rtt_quantile_seconds", "gauge",
			     "batch round-trip quantiles since the dataplane started (the dataplane's figures)");
		any = true;
		for (size_t q = 0; q < sizeof(qs) / sizeof(qs[0]); q++) {
			if (!u64_of(rtt, qs[q].key, &v))
				continue;
			adds(b, "fanout_output_batch_rtt_quantile_seconds{");
			out_labels(b, &list[i]);
			evbuffer_add_printf(b, ",quantile=\"%s\"} %.9f\n", qs[q].q, (double)v / 1e6);
		}
	}
	any = false;
	for (size_t i = 0; i < n; i++) {
		if (!u64_of(json_object_get(list[i].o, "rtt_us"), "max", &v))
			continue;
		if (!any)
			head(b, "fanout_output_batch_rtt_max_seconds", "gauge",
			     "longest batch round trip since the dataplane started");
		any = true;
		adds(b, "fanout_output_batch_rtt_max_seconds{");
		out_labels(b, &list[i]);
		evbuffer_add_printf(b, "} %.9f\n", (double)v / 1e6);
	}
}

/* ---------------------------------------------------------------- per generation */

static void gen_labels(struct evbuffer *b, json_t *g)
{
	const char *role = json_string_value(json_object_get(g, "role"));
	uint64_t id = 0;

	u64_of(g, "id", &id);
	evbuffer_add_printf(b, "generation=\"%" PRIu64 "\",role=\"", id);
	label_value(b, role ? role : "unknown");
	adds(b, "\"");
}

static void generation_metrics(struct evbuffer *b, json_t *gens)
{
	struct cs_row rows[64];
	json_t *g;
	size_t i, n = 0;
	uint64_t v;
	char id[24];

	json_array_foreach(gens, i, g)
	{
		const char *role = json_string_value(json_object_get(g, "role"));
		if (n == sizeof(rows) / sizeof(rows[0]) || !json_is_object(json_object_get(g, "outputs")))
			continue;
		rows[n].o = json_object_get(g, "outputs");
		rows[n].labels[0] = '\0';
		snprintf(id, sizeof(id), "%" PRIu64, u64_of(g, "id", &v) ? v : 0);
		cs_label(&rows[n], "generation", id);
		cs_label(&rows[n], "role", role ? role : "unknown");
		n++;
	}
	if (n == 0)
		return;
	cs_prom(b, &cs_gen_out, rows, n);
	head(b, "fanout_generation_output_backlog", "gauge", "of queued: entries not yet written or failed");
	json_array_foreach(gens, i, g)
	{
		if (!u64_of(json_object_get(g, "outputs"), "backlog", &v))
			continue;
		adds(b, "fanout_generation_output_backlog{");
		gen_labels(b, g);
		evbuffer_add_printf(b, "} %" PRIu64 "\n", v);
	}
}

void ov_metrics(struct evbuffer *o, json_t *outputs, json_t *gens)
{
	if (json_is_object(outputs))
		output_metrics(o, outputs);
	if (json_is_array(gens))
		generation_metrics(o, gens);
}
