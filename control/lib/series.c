/* The sample series (see series.h): JSON replies from the dataplane in, rates out. */
#include <stdio.h>
#include <string.h>

#include "series.h"

uint64_t json_u64(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v) && json_integer_value(v) >= 0)
		return (uint64_t)json_integer_value(v);
	if (json_is_real(v) && json_real_value(v) >= 0)
		return (uint64_t)json_real_value(v);
	return 0;
}

void series_init(struct series *s)
{
	memset(s, 0, sizeof(*s));
}

static double per_s(uint64_t now, uint64_t prev, double dt_s)
{
	return now >= prev && dt_s > 0 ? (double)(now - prev) / dt_s : 0.0;
}

static const struct series_gen *find_gen(const struct series_point *p, uint32_t id)
{
	for (unsigned i = 0; i < p->n_gens; i++)
		if (p->gen[i].id == id)
			return &p->gen[i];
	return NULL;
}

void series_add(struct series *s, uint64_t t_ms, json_t *generations, json_t *genstats, json_t *stats,
		uint16_t share_bp, int rollout_step)
{
	struct series_point *p;
	json_t *totals = json_object_get(stats, "totals");
	uint64_t rx = json_u64(totals, "rx"), dropped = json_u64(totals, "dropped");
	uint64_t deliveries = json_u64(json_object_get(totals, "events"), "deliveries");
	uint64_t out_dropped = json_u64(json_object_get(totals, "out"), "dropped");
	double dt = s->have_prev && t_ms > s->prev_t_ms ? (double)(t_ms - s->prev_t_ms) / 1000.0 : 0.0;
	json_t *gens = json_object_get(genstats, "generations"), *g;
	size_t i;
	(void)generations;

	if (s->n == SERIES_CAP) {
		s->head = (s->head + 1) % SERIES_CAP;
		s->n--;
	}
	p = &s->pts[(s->head + s->n) % SERIES_CAP];
	memset(p, 0, sizeof(*p));
	p->t_ms = t_ms;
	p->share_bp = share_bp;
	p->rollout_step = rollout_step;
	if (totals != NULL && dt > 0) {
		p->rx_rate = per_s(rx, s->prev_rx, dt);
		p->delivery_rate = per_s(deliveries, s->prev_deliveries, dt);
		p->drop_rate = per_s(dropped, s->prev_dropped, dt);
		p->out_drop_rate = per_s(out_dropped, s->prev_out_dropped, dt);
	}
	json_array_foreach(gens, i, g)
	{
		struct series_gen *sg;
		const char *role = json_string_value(json_object_get(g, "role"));

		if (p->n_gens == SERIES_MAX_GENS)
			break;
		if (role == NULL || strcmp(role, "retired") == 0)
			continue; /* charts follow the live ones */
		sg = &p->gen[p->n_gens++];
		sg->id = (uint32_t)json_u64(g, "id");
		snprintf(sg->role, sizeof(sg->role), "%s", role);
#define SERIES_GEN_(field, key, ...) sg->field = json_u64(g, key);
		FO_FOREACH_GEN_MSG(SERIES_GEN_)
#undef SERIES_GEN_
		sg->p99_us = (double)json_u64(json_object_get(g, "latency_ns"), "p99") / 1000.0;
		const struct series_gen *pg = find_gen(&s->prev_gens, sg->id);
		if (pg != NULL && dt > 0 && sg->msgs >= pg->msgs) {
			uint64_t dm = sg->msgs - pg->msgs;
			uint64_t dd = (sg->drops >= pg->drops ? sg->drops - pg->drops : 0) +
				      (sg->route_dropped >= pg->route_dropped ? sg->route_dropped - pg->route_dropped
									      : 0);
			uint64_t de = sg->error_replies >= pg->error_replies ? sg->error_replies - pg->error_replies
									     : 0;
			sg->msg_rate = (double)dm / dt;
			sg->drop_rate = dm ? (double)dd / (double)dm : 0.0;
			sg->error_rate = dm ? (double)de / (double)dm : 0.0;
		}
	}
	s->n++;
	if (totals != NULL) {
		s->prev_rx = rx;
		s->prev_deliveries = deliveries;
		s->prev_dropped = dropped;
		s->prev_out_dropped = out_dropped;
	}
	s->prev_gens = *p;
	s->prev_t_ms = t_ms;
	s->have_prev = true;
}

const struct series_point *series_last(const struct series *s)
{
	return s->n ? &s->pts[(s->head + s->n - 1) % SERIES_CAP] : NULL;
}

json_t *series_point_rates_json(const struct series_point *p)
{
	json_t *gens = json_array();

	for (unsigned i = 0; i < p->n_gens; i++) {
		const struct series_gen *g = &p->gen[i];
		json_array_append_new(gens, json_pack("{s:I,s:s,s:f,s:f,s:f,s:f}", "id", (json_int_t)g->id, "role",
						      g->role, "msg_rate", g->msg_rate, "drop_rate", g->drop_rate,
						      "error_rate", g->error_rate, "p99_us", g->p99_us));
	}
	return json_pack("{s:I,s:f,s:f,s:f,s:f,s:o,s:I,s:i}", "t_ms", (json_int_t)p->t_ms, "rx", p->rx_rate,
			 "deliveries", p->delivery_rate, "drops", p->drop_rate, "out_drops", p->out_drop_rate,
			 "generations", gens, "share_bp", (json_int_t)p->share_bp, "rollout_step", p->rollout_step);
}

json_t *series_json(const struct series *s, uint64_t since_ms)
{
	json_t *pts = json_array();

	for (size_t i = 0; i < s->n; i++) {
		const struct series_point *p = &s->pts[(s->head + i) % SERIES_CAP];
		if (p->t_ms > since_ms)
			json_array_append_new(pts, series_point_rates_json(p));
	}
	return json_pack("{s:i,s:o}", "capacity", SERIES_CAP, "points", pts);
}

static uint32_t gen_id(json_t *generations, const char *role)
{
	return (uint32_t)json_u64(json_object_get(generations, role), "id");
}

static void counts_of(json_t *g, struct ro_gen_counts *c)
{
	json_t *out = json_object_get(g, "outputs");
	json_t *lat = json_object_get(g, "latency_ns");
#define COUNT_OF_(field, key, ...) c->field = json_u64(src, key);
	{
		json_t *src = g;
		FO_FOREACH_GEN_MSG(COUNT_OF_)
		src = out;
		FO_FOREACH_GEN_OUT(COUNT_OF_)
		src = lat;
		FO_FOREACH_GEN_LAT(COUNT_OF_)
	}
#undef COUNT_OF_
	c->p99_ns = json_u64(lat, "p99");
	json_t *h = json_object_get(g, "latency_hist"), *b;
	size_t i;
	c->have_hist = json_is_array(h);
	json_array_foreach(h, i, b)
	{
		json_int_t idx = json_integer_value(json_array_get(b, 0));
		if (!json_is_array(b) || json_array_size(b) != 3 || idx < 0 || idx >= RO_LAT_BUCKETS)
			continue;
		c->lat_upper_ns[idx] = (uint64_t)json_number_value(json_array_get(b, 1));
		c->lat_count[idx] = (uint64_t)json_integer_value(json_array_get(b, 2));
	}
}

int series_rollout_sample(json_t *generations, json_t *genstats, uint64_t t_ms, struct ro_sample *out)
{
	json_t *gens = json_object_get(genstats, "generations"), *g;
	size_t i;

	if (!json_is_object(generations) || !json_is_array(gens))
		return -1;
	memset(out, 0, sizeof(*out));
	out->t_ms = t_ms;
	out->stable_id = gen_id(generations, "stable");
	out->canary_id = gen_id(generations, "canary");
	json_array_foreach(gens, i, g)
	{
		uint32_t id = (uint32_t)json_u64(g, "id");
		if (id != 0 && id == out->stable_id)
			counts_of(g, &out->stable);
		else if (id != 0 && id == out->canary_id)
			counts_of(g, &out->canary);
	}
	return 0;
}
