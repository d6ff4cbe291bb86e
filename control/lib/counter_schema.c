/* Counter schema tables and their Prometheus writer (see counter_schema.h). Every table is an
 * expansion of a list in fanout/stats_schema.h, so a counter added there shows up in /metrics
 * and /api/schema without an edit here. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "counter_schema.h"

#define CS_ENTRY_(field, key, unit, metric, reason, help) { #field, key, unit, metric, reason, help },
#define CS_LIST_(name, LIST) \
	static const struct cs_entry name##_e[] = { LIST(CS_ENTRY_) }; \
	const struct cs_list name = { name##_e, sizeof(name##_e) / sizeof(name##_e[0]) };
CS_LIST_(cs_lcore_rx, FO_FOREACH_LCORE_RX)
CS_LIST_(cs_lcore_out, FO_FOREACH_LCORE_OUT)
CS_LIST_(cs_lcore_loop, FO_FOREACH_LCORE_LOOP)
CS_LIST_(cs_gen_msg, FO_FOREACH_GEN_MSG)
CS_LIST_(cs_gen_out, FO_FOREACH_GEN_OUT)
CS_LIST_(cs_gen_lat, FO_FOREACH_GEN_LAT)
CS_LIST_(cs_route_any, FO_FOREACH_ROUTE_ANY)
CS_LIST_(cs_route_udp, FO_FOREACH_ROUTE_UDP)
CS_LIST_(cs_route_out, FO_FOREACH_ROUTE_OUT)
CS_LIST_(cs_output_worker, FO_FOREACH_OUTPUT_WORKER)
CS_LIST_(cs_output_thread, FO_FOREACH_OUTPUT_THREAD)
#undef CS_LIST_

static const char *type_of(const char *metric)
{
	size_t n = strlen(metric);
	return n > 6 && strcmp(metric + n - 6, "_total") == 0 ? "counter" : "gauge";
}

static void add_escaped(struct evbuffer *o, const char *v)
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

void cs_label(struct cs_row *r, const char *name, const char *value)
{
	size_t n = strlen(r->labels);
	char *p = r->labels + n, *end = r->labels + sizeof(r->labels) - 1;

	p += snprintf(p, (size_t)(end - p), "%s%s=\"", n ? "," : "", name);
	for (; *value && p + 3 < end; value++) {
		if (*value == '\\' || *value == '"')
			*p++ = '\\';
		if (*value == '\n') {
			*p++ = '\\';
			*p++ = 'n';
		} else {
			*p++ = *value;
		}
	}
	if (p < end)
		*p++ = '"';
	*p = '\0';
}

static bool value_of(json_t *o, const char *key, uint64_t *v)
{
	json_t *j = json_object_get(o, key);

	if (json_is_integer(j) && json_integer_value(j) >= 0)
		*v = (uint64_t)json_integer_value(j);
	else if (json_is_real(j) && json_real_value(j) >= 0)
		*v = (uint64_t)json_real_value(j);
	else
		return false;
	return true;
}

void cs_prom(struct evbuffer *o, const struct cs_list *l, const struct cs_row *rows, size_t n_rows)
{
	uint64_t v;

	for (size_t i = 0; i < l->n;) {
		const struct cs_entry *e = &l->e[i];
		size_t j = i + 1; /* [i, j): the entries of one metric */
		while (j < l->n && strcmp(l->e[j].metric, e->metric) == 0)
			j++;
		if (strcmp(e->reason, "*") == 0) {
			i = j;
			continue;
		}
		bool any = false;
		for (size_t k = i; k < j && !any; k++)
			for (size_t r = 0; r < n_rows && !any; r++)
				any = value_of(rows[r].o, l->e[k].key, &v);
		if (any) {
			evbuffer_add_printf(o, "# HELP %s ", e->metric);
			if (j - i == 1 && !*e->reason)
				evbuffer_add_printf(o, "%s (%s)", e->help, e->unit);
			else
				for (size_t k = i; k < j; k++)
					evbuffer_add_printf(o, "%sreason=%s: %s", k > i ? "; " : "by reason (",
							    l->e[k].reason, l->e[k].help);
			evbuffer_add_printf(o, "%s\n# TYPE %s %s\n", j - i == 1 && !*e->reason ? "" : ")", e->metric,
					    type_of(e->metric));
		}
		for (size_t k = i; any && k < j; k++)
			for (size_t r = 0; r < n_rows; r++) {
				if (!value_of(rows[r].o, l->e[k].key, &v))
					continue;
				evbuffer_add_printf(o, "%s{%s", e->metric, rows[r].labels);
				if (*l->e[k].reason)
					evbuffer_add_printf(o, "%sreason=\"%s\"", rows[r].labels[0] ? "," : "",
							    l->e[k].reason);
				evbuffer_add_printf(o, "} %" PRIu64 "\n", v);
			}
		i = j;
	}
}

void cs_prom_labelled(struct evbuffer *o, const char *metric, const char *help, const char *label, json_t *obj)
{
	struct cs_row row = { .o = obj, .labels = "" };

	cs_prom_labelled_rows(o, metric, help, label, &row, 1);
}

void cs_prom_labelled_rows(struct evbuffer *o, const char *metric, const char *help, const char *label,
			   const struct cs_row *rows, size_t n_rows)
{
	const char *k;
	json_t *v;
	bool any = false;

	for (size_t r = 0; r < n_rows && !any; r++)
		any = json_is_object(rows[r].o);
	if (!any)
		return;
	evbuffer_add_printf(o, "# HELP %s %s\n# TYPE %s %s\n", metric, help, metric, type_of(metric));
	for (size_t r = 0; r < n_rows; r++) {
		if (!json_is_object(rows[r].o))
			continue;
		json_object_foreach(rows[r].o, k, v)
		{
			evbuffer_add_printf(o, "%s{%s%s%s=\"", metric, rows[r].labels, rows[r].labels[0] ? "," : "",
					    label);
			add_escaped(o, k);
			evbuffer_add_printf(
				o, "\"} %" PRIu64 "\n",
				json_is_integer(v) && json_integer_value(v) >= 0 ? (uint64_t)json_integer_value(v) : 0);
		}
	}
}

json_t *cs_schema_json(void)
{
	json_t *fams = json_array(), *entries;

#define CS_LABELLED_ENTRY_(id, name, unit, help) \
	json_array_append_new(entries, json_pack("{s:s,s:s,s:s,s:s}", "name", name, "key", name, "unit", unit, \
						 "description", help));
#define CS_LABELLED_(family, LIST, metric, help) \
	entries = json_array(); \
	LIST(CS_LABELLED_ENTRY_) \
	json_array_append_new(fams, json_pack("{s:s,s:s,s:s,s:o}", "family", family, "metric", metric, "help", help, \
					      "entries", entries));
	FO_FOREACH_LABELLED_FAMILY(CS_LABELLED_)
#undef CS_LABELLED_
#undef CS_LABELLED_ENTRY_
#define CS_STRUCT_ENTRY_(field, key, unit, metric, reason, help) \
	json_array_append_new(entries, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "name", #field, "key", key, "unit", \
						 unit, "metric", metric, "reason", reason, "description", help));
#define CS_STRUCT_(family, LIST) \
	entries = json_array(); \
	LIST(CS_STRUCT_ENTRY_) \
	json_array_append_new(fams, json_pack("{s:s,s:o}", "family", family, "entries", entries));
	FO_FOREACH_STRUCT_FAMILY(CS_STRUCT_)
#undef CS_STRUCT_
#undef CS_STRUCT_ENTRY_
	return json_pack("{s:o}", "families", fams);
}
