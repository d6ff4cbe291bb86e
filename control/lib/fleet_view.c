/* The fleet's figures (see fleet_view.h). Every counter series comes from the counter schema's
 * tables, so /metrics of a fleet carries the same families as one appliance's, labelled. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "counter_schema.h"
#include "fleet_view.h"

void fv_sum_into(json_t *acc, json_t *add)
{
	const char *k;
	json_t *v;

	if (!json_is_object(acc) || !json_is_object(add))
		return;
	json_object_foreach(add, k, v)
	{
		json_t *a = json_object_get(acc, k);
		if (json_is_object(v)) {
			if (a == NULL) {
				a = json_object();
				json_object_set_new(acc, k, a);
			}
			fv_sum_into(a, v);
		} else if (json_is_integer(v) && (a == NULL || json_is_integer(a))) {
			json_object_set_new(acc, k,
					    json_integer((a ? json_integer_value(a) : 0) + json_integer_value(v)));
		} else if (json_is_number(v) && (a == NULL || json_is_number(a))) {
			json_object_set_new(acc, k, json_real((a ? json_number_value(a) : 0) + json_number_value(v)));
		}
	}
}

static bool dp_up(const struct fv_member *m)
{
	json_t *v = json_object_get(json_object_get(m->status, "dataplane"), "up");
	return m->up && json_is_true(v);
}

static bool stats_dp_up(const struct fv_member *m)
{
	json_t *v = json_object_get(m->stats, "dataplane_up");
	return m->up && m->stats != NULL && json_object_get(m->stats, "totals") != NULL && !json_is_false(v);
}

static json_t *gen_id(json_t *gens, const char *role)
{
	json_t *g = json_object_get(json_object_get(gens, role), "id");
	return json_is_integer(g) ? json_incref(g) : json_null();
}

json_t *fv_rollout_json(const struct fleet_rollout *f, const struct fv_member *m, size_t n)
{
	json_t *ms = json_array();

	for (unsigned i = 0; i < f->n_members; i++) {
		json_t *r = NULL;
		const struct fv_member *mm = NULL;
		for (size_t k = 0; k < n; k++)
			if (strcmp(m[k].name, f->names[i]) == 0) {
				r = m[k].rollout;
				mm = &m[k];
			}
		json_t *e = json_pack("{s:s,s:b,s:b,s:b,s:b,s:s,s:O?,s:O?}", "name", f->names[i], "started",
				      f->m[i].started, "done", f->m[i].done, "promoted", f->m[i].promoted,
				      "rollback_due", f->m[i].rollback_due, "in_flight", fl_act_name(f->m[i].inflight),
				      "state", json_object_get(r, "state"), "step", json_object_get(r, "step"));
		if (e != NULL && mm != NULL && mm->rollback_ns >= 0) {
			json_object_set_new(e, "rollback_ns", json_integer(mm->rollback_ns));
			if (mm->rollback_member_ns >= 0)
				json_object_set_new(e, "rollback_member_ns", json_integer(mm->rollback_member_ns));
		}
		json_array_append_new(ms, e);
	}
	json_t *j = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:s,s:o}", "state", fl_state_name(f->state), "order",
			      fl_order_name(f->order), "steps", (json_int_t)f->n_steps, "step", (json_int_t)f->step,
			      "current", (json_int_t)f->current, "started_ms", (json_int_t)f->started_ms, "ended_ms",
			      (json_int_t)f->ended_ms, "reason", f->reason, "members", ms);
	if (j != NULL && f->failed_member >= 0 && (unsigned)f->failed_member < f->n_members)
		json_object_set_new(j, "failed_appliance", json_string(f->names[f->failed_member]));
	return j;
}

json_t *fv_status(const struct fv_member *m, size_t n, const struct fleet_rollout *f)
{
	json_t *ms = json_array();
	unsigned up = 0;

	for (size_t i = 0; i < n; i++) {
		json_t *gens = json_object_get(m[i].status, "generations");
		json_t *ro = json_object_get(m[i].status, "rollout");
		json_t *e = json_pack("{s:s,s:s,s:b,s:I,s:b,s:o,s:o,s:O?,s:O?}", "name", m[i].name, "endpoint",
				      m[i].endpoint, "up", m[i].up, "polled_ms", (json_int_t)m[i].polled_ms,
				      "dataplane_up", dp_up(&m[i]), "stable", gen_id(gens, "stable"), "canary",
				      gen_id(gens, "canary"), "share_bp", json_object_get(gens, "share_bp"), "mode",
				      json_object_get(gens, "mode"));
		if (!m[i].up && m[i].error)
			json_object_set_new(e, "error", json_string(m[i].error));
		if (json_is_object(ro))
			json_object_set_new(e, "rollout",
					    json_pack("{s:O?,s:O?,s:O?,s:O?}", "state", json_object_get(ro, "state"),
						      "step", json_object_get(ro, "step"), "share_bp",
						      json_object_get(ro, "share_bp"), "reason",
						      json_object_get(ro, "reason")));
		json_array_append_new(ms, e);
		up += m[i].up;
	}
	return json_pack("{s:o,s:I,s:I,s:o}", "members", ms, "up", (json_int_t)up, "total", (json_int_t)n,
			 "fleet_rollout", fv_rollout_json(f, m, n));
}

json_t *fv_stats(const struct fv_member *m, size_t n)
{
	json_t *ms = json_array(), *sum = json_object(), *rates = json_object();
	unsigned summed = 0;

	for (size_t i = 0; i < n; i++) {
		bool ok = stats_dp_up(&m[i]);
		json_t *totals = json_object_get(m[i].stats, "totals"), *r = json_object_get(m[i].stats, "rates");
		json_array_append_new(ms, json_pack("{s:s,s:b,s:b,s:O?,s:O?}", "name", m[i].name, "up", m[i].up,
						    "dataplane_up", ok, "totals", totals, "rates", r));
		if (!ok)
			continue;
		fv_sum_into(sum, totals);
		fv_sum_into(rates, r);
		summed++;
	}
	/* a sum of booleans or of per-appliance times means nothing: only counters and rates stay */
	json_object_del(rates, "t_ms");
	json_object_del(rates, "share_bp");
	json_object_del(rates, "rollout_step");
	return json_pack("{s:o,s:{s:o,s:o},s:I}", "members", ms, "sum", "totals", sum, "rates", rates, "members_summed",
			 (json_int_t)summed);
}

static void row_for(struct cs_row *row, json_t *o, const char *appliance)
{
	row->o = o;
	row->labels[0] = '\0';
	cs_label(row, "appliance", appliance);
}

void fv_metrics(struct evbuffer *o, const struct fv_member *m, size_t n, const struct fleet_rollout *f)
{
	struct cs_row rows[FL_MAX_MEMBERS + 1];
	json_t *sum = json_object();
	size_t nr = 0;

	evbuffer_add_printf(o, "# HELP fanout_fleet_member_up 1 when the fleet's link to the appliance's "
			       "fanout-control is up and authenticated\n# TYPE fanout_fleet_member_up gauge\n");
	for (size_t i = 0; i < n; i++) {
		row_for(&rows[0], NULL, m[i].name);
		evbuffer_add_printf(o, "fanout_fleet_member_up{%s} %d\n", rows[0].labels, m[i].up ? 1 : 0);
	}
	evbuffer_add_printf(o, "# HELP fanout_dataplane_up 1 when the appliance's fanout-control is connected to its "
			       "dataplane\n# TYPE fanout_dataplane_up gauge\n");
	for (size_t i = 0; i < n; i++) {
		row_for(&rows[0], NULL, m[i].name);
		evbuffer_add_printf(o, "fanout_dataplane_up{%s} %d\n", rows[0].labels, dp_up(&m[i]) ? 1 : 0);
	}
	for (size_t i = 0; i < n && nr < FL_MAX_MEMBERS; i++) {
		if (!stats_dp_up(&m[i]))
			continue;
		json_t *totals = json_object_get(m[i].stats, "totals");
		row_for(&rows[nr++], totals, m[i].name);
		fv_sum_into(sum, totals);
	}
	if (nr > 0) {
		struct cs_row r2[FL_MAX_MEMBERS + 1];
		row_for(&rows[nr], sum, FV_SUM_LABEL);
		size_t all = nr + 1;
		cs_prom(o, &cs_lcore_rx, rows, all);
		for (size_t k = 0; k < all; k++) {
			r2[k] = rows[k];
			r2[k].o = json_object_get(rows[k].o, "out");
		}
		cs_prom(o, &cs_lcore_out, r2, all);
		for (size_t k = 0; k < all; k++)
			r2[k].o = json_object_get(rows[k].o, "drops");
		cs_prom_labelled_rows(o, FO_DROP_METRIC, FO_DROP_HELP, "reason", r2, all);
		for (size_t k = 0; k < all; k++)
			r2[k].o = json_object_get(json_object_get(rows[k].o, "out"), "drops");
		cs_prom_labelled_rows(o, FO_OUT_DROP_METRIC, FO_OUT_DROP_HELP, "reason", r2, all);
		for (size_t k = 0; k < all; k++)
			r2[k].o = json_object_get(rows[k].o, "events");
		cs_prom_labelled_rows(o, FO_EVENT_METRIC, FO_EVENT_HELP, "event", r2, all);
		for (size_t k = 0; k < all; k++)
			r2[k].o = json_object_get(rows[k].o, "xdp");
		cs_prom_labelled_rows(o, FO_XDP_METRIC, FO_XDP_HELP, "reason", r2, all);
	}
	json_decref(sum);
	evbuffer_add_printf(o, "# HELP fanout_canary_share_ratio share of clients on the canary generation (0..1), "
			       "as the appliance's dataplane reports it\n# TYPE fanout_canary_share_ratio gauge\n");
	for (size_t i = 0; i < n; i++) {
		json_t *gens = json_object_get(m[i].status, "generations");
		if (!dp_up(&m[i]) || !json_is_integer(json_object_get(gens, "share_bp")))
			continue;
		row_for(&rows[0], NULL, m[i].name);
		evbuffer_add_printf(o, "fanout_canary_share_ratio{%s} %.4f\n", rows[0].labels,
				    (double)json_integer_value(json_object_get(gens, "share_bp")) / 10000.0);
	}
	evbuffer_add_printf(o, "# HELP fanout_rollout_info the appliance's rollout state and generation (value 1)\n"
			       "# TYPE fanout_rollout_info gauge\n");
	for (size_t i = 0; i < n; i++) {
		json_t *ro = json_object_get(m[i].status, "rollout");
		const char *st = json_string_value(json_object_get(ro, "state"));
		json_t *g = json_object_get(ro, "generation");
		if (st == NULL)
			continue;
		row_for(&rows[0], NULL, m[i].name);
		cs_label(&rows[0], "state", st);
		evbuffer_add_printf(o, "fanout_rollout_info{%s,generation=\"%" PRIu64 "\"} 1\n", rows[0].labels,
				    json_is_integer(g) && json_integer_value(g) >= 0 ? (uint64_t)json_integer_value(g)
										     : 0);
	}
	evbuffer_add_printf(
		o,
		"# HELP fanout_fleet_rollout_info the fleet rollout's state and order (value 1)\n"
		"# TYPE fanout_fleet_rollout_info gauge\n"
		"fanout_fleet_rollout_info{state=\"%s\",order=\"%s\"} 1\n"
		"# HELP fanout_fleet_rollout_step fleet order: the 1-based step every appliance is at; each "
		"order: the 1-based position of the appliance going through its steps; 0 when none is active\n"
		"# TYPE fanout_fleet_rollout_step gauge\nfanout_fleet_rollout_step %u\n",
		fl_state_name(f->state), fl_order_name(f->order),
		fl_active(f) ? (f->order == FL_ORDER_FLEET ? f->step : f->current) + 1 : 0);
}
