/* fanoutctl's renderers: one fanout-control JSON reply in, the text an operator reads out
 * (see fanoutctl_render.h). Every figure goes through fanoutctl_format.c so it carries its
 * unit. Members a renderer does not know still show, through the generic renderer. */
#include "fanoutctl_render.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fanout/stats_schema.h"
#include "fanoutctl_format.h"

/* ---- JSON lookups --------------------------------------------------------------------- */

/* "a.b.c" through nested objects; NULL if any part is missing. */
static const json_t *jget(const json_t *o, const char *path)
{
	char part[64];
	while (o && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		if (n >= sizeof(part))
			return NULL;
		memcpy(part, path, n);
		part[n] = '\0';
		o = json_is_object(o) ? json_object_get(o, part) : NULL;
		path += n + (dot ? 1 : 0);
	}
	return o;
}

static bool jnum(const json_t *o, const char *path, double *v)
{
	const json_t *j = jget(o, path);
	if (!json_is_number(j))
		return false;
	*v = json_number_value(j);
	return true;
}

static double jnum_or(const json_t *o, const char *path, double dflt)
{
	double v;
	return jnum(o, path, &v) ? v : dflt;
}

/* The first of several alternative paths that holds a number. */
static bool jnum_any(const json_t *o, const char *const *paths, double *v)
{
	for (; *paths; paths++)
		if (jnum(o, *paths, v))
			return true;
	return false;
}

static const char *jstr(const json_t *o, const char *path)
{
	const json_t *j = jget(o, path);
	return json_is_string(j) ? json_string_value(j) : NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

/* An in-memory FILE the renderers print into. */
struct out {
	FILE *f;
	char *buf;
	size_t len;
};

static bool out_open(struct out *o)
{
	o->buf = NULL;
	o->len = 0;
	o->f = open_memstream(&o->buf, &o->len);
	return o->f != NULL;
}

static char *out_close(struct out *o)
{
	if (fclose(o->f) != 0) {
		free(o->buf);
		return NULL;
	}
	return o->buf;
}

/* ---- values with units from their names -------------------------------------------- */

/* Wall-clock milliseconds (after 2001) rather than a duration. */
#define FCTL_EPOCH_MS_MIN 1e12

static void value_text(char *buf, size_t n, const char *key, const json_t *v, const struct fctl_view *view)
{
	if (json_is_string(v)) {
		snprintf(buf, n, "%s", json_string_value(v));
		return;
	}
	if (json_is_boolean(v)) {
		snprintf(buf, n, "%s", json_is_true(v) ? "yes" : "no");
		return;
	}
	if (json_is_null(v)) {
		snprintf(buf, n, "-");
		return;
	}
	if (json_is_array(v)) {
		size_t i;
		const json_t *e;
		size_t o = 0;
		buf[0] = '\0';
		bool scalars = true;
		json_array_foreach(v, i, e) if (json_is_object(e) || json_is_array(e)) scalars = false;
		if (!scalars) {
			snprintf(buf, n, "%zu entries", json_array_size(v));
			return;
		}
		json_array_foreach(v, i, e)
		{
			char one[FCTL_FIG * 2];
			value_text(one, sizeof(one), key, e, view);
			int w = snprintf(buf + o, n - o, "%s%s", i ? ", " : "", one);
			if (w < 0 || (size_t)w >= n - o)
				break;
			o += (size_t)w;
		}
		if (!json_array_size(v))
			snprintf(buf, n, "(none)");
		return;
	}
	if (!json_is_number(v)) {
		snprintf(buf, n, "?");
		return;
	}
	double x = json_number_value(v);
	if (ends_with(key, "_ms") || !strcmp(key, "ms") || !strcmp(key, "t")) {
		if (x >= FCTL_EPOCH_MS_MIN)
			fctl_fmt_ago(buf, n, (int64_t)x, view->now_ms);
		else
			fctl_fmt_duration_ms(buf, n, x);
	} else if (ends_with(key, "_ns") || !strcmp(key, "ns") || !strcmp(key, "p50") || !strcmp(key, "p90") ||
		   !strcmp(key, "p99") || !strcmp(key, "p999") || !strcmp(key, "max")) {
		fctl_fmt_ns(buf, n, x);
	} else if (ends_with(key, "_us")) {
		fctl_fmt_ns(buf, n, x * 1e3);
	} else if (ends_with(key, "_bp")) {
		fctl_fmt_bp(buf, n, (int64_t)x);
	} else if (ends_with(key, "_pct") || !strcmp(key, "pct")) {
		fctl_fmt_pct(buf, n, x / 100.0);
	} else if (ends_with(key, "rate") || ends_with(key, "share") || ends_with(key, "ratio")) {
		fctl_fmt_pct(buf, n, x);
	} else if (ends_with(key, "bytes")) {
		fctl_fmt_bytes(buf, n, x);
	} else if (ends_with(key, "_per_s") || ends_with(key, "_ps")) {
		fctl_fmt_rate(buf, n, x, "/s");
	} else if (ends_with(key, "_s") || !strcmp(key, "s")) {
		if (x >= FCTL_EPOCH_MS_MIN / 1000)
			fctl_fmt_ago(buf, n, (int64_t)(x * 1000), view->now_ms);
		else
			fctl_fmt_duration_ms(buf, n, x * 1000);
	} else if (!strcmp(key, "pid") || ends_with(key, "port") || !strcmp(key, "id") || ends_with(key, "_id") ||
		   !strcmp(key, "worker") || !strcmp(key, "lcore") || !strcmp(key, "generation") ||
		   !strcmp(key, "step")) {
		snprintf(buf, n, "%.0f", x); /* names, not quantities: no separators */
	} else if (x == floor(x) && fabs(x) < 1.8e19) {
		if (x < 0)
			snprintf(buf, n, "%.0f", x);
		else
			fctl_fmt_count(buf, n, (uint64_t)x);
	} else {
		snprintf(buf, n, "%.4g", x);
	}
}

char *fctl_render_value(const char *key, const json_t *v, const struct fctl_view *view)
{
	char buf[512];
	value_text(buf, sizeof(buf), key, v, view);
	return strdup(buf);
}

static void generic(FILE *f, const json_t *o, int indent, const struct fctl_view *view, const char *const *skip)
{
	const char *key;
	const json_t *v;
	size_t keyw = 0;
	json_object_foreach((json_t *)o, key, v)
	{
		if (strlen(key) > keyw)
			keyw = strlen(key);
	}
	json_object_foreach((json_t *)o, key, v)
	{
		bool skipped = false;
		for (const char *const *s = skip; s && *s; s++)
			if (!strcmp(*s, key))
				skipped = true;
		if (skipped)
			continue;
		if (json_is_object(v)) {
			fprintf(f, "%*s%s:\n", indent, "", key);
			if (json_object_size(v))
				generic(f, v, indent + 2, view, NULL);
			else
				fprintf(f, "%*s(none)\n", indent + 2, "");
			continue;
		}
		if (json_is_array(v) && json_array_size(v) && json_is_object(json_array_get(v, 0))) {
			fprintf(f, "%*s%s:\n", indent, "", key);
			size_t i;
			const json_t *e;
			json_array_foreach(v, i, e)
			{
				fprintf(f, "%*s- [%zu]\n", indent + 2, "", i);
				if (json_is_object(e))
					generic(f, e, indent + 4, view, NULL);
			}
			continue;
		}
		char buf[512];
		value_text(buf, sizeof(buf), key, v, view);
		fprintf(f, "%*s%-*s  %s\n", indent, "", (int)keyw + 1, key, buf);
	}
}

char *fctl_render_generic(const json_t *reply, const struct fctl_view *view)
{
	struct out o;
	if (!out_open(&o))
		return NULL;
	if (json_is_object(reply)) {
		generic(o.f, reply, 0, view, NULL);
	} else {
		char buf[512];
		value_text(buf, sizeof(buf), "", reply, view);
		fprintf(o.f, "%s\n", buf);
	}
	return out_close(&o);
}

/* ---- tables of the dataplane's state ------------------------------------------------ */

static void cell_num(char *buf, size_t n, const json_t *o, const char *key, const struct fctl_view *view)
{
	const json_t *v = jget(o, key);
	if (!v) {
		snprintf(buf, n, "-");
		return;
	}
	const char *leaf = strrchr(key, '.');
	value_text(buf, n, leaf ? leaf + 1 : key, v, view);
}

static void shown_of_total(FILE *f, const json_t *reply, const char *arr, const char *what)
{
	size_t shown = json_array_size(jget(reply, arr));
	double total;
	if (jnum(reply, "total", &total) && total > (double)shown)
		fprintf(f, "%zu of %.0f %s shown; --count N shows more\n", shown, total, what);
	else
		fprintf(f, "%zu %s\n", shown, what);
}

char *fctl_render_sessions(const json_t *reply, const struct fctl_view *view)
{
	struct out o;
	if (!out_open(&o))
		return NULL;
	struct fctl_table t;
	fctl_table_init(&t);
	const char *cols[] = { "CLIENT ID", "ADDRESS", "STATE", "KEEPALIVE>", "SIDE", "SUBS>", "INFLIGHT>", "WORKER>" };
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		fctl_table_col(&t, cols[i]);
	size_t i;
	const json_t *s;
	json_array_foreach(jget(reply, "sessions"), i, s)
	{
		char addr[64], ka[FCTL_FIG], subs[FCTL_FIG], infl[FCTL_FIG], wk[FCTL_FIG];
		snprintf(addr, sizeof(addr), "%s:%.0f", jstr(s, "ip") ? jstr(s, "ip") : "?", jnum_or(s, "port", 0));
		fctl_fmt_duration_ms(ka, sizeof(ka), jnum_or(s, "keepalive_s", 0) * 1000);
		cell_num(subs, sizeof(subs), s, "subscriptions", view);
		cell_num(infl, sizeof(infl), s, "inflight", view);
		cell_num(wk, sizeof(wk), s, "worker", view);
		const char *row[] = {
			jstr(s, "client_id"), addr, jstr(s, "state"), ka, jstr(s, "side"), subs, infl, wk
		};
		fctl_table_row(&t, row);
	}
	fctl_table_print(&t, o.f, 0);
	fctl_table_free(&t);
	shown_of_total(o.f, reply, "sessions", "sessions");
	return out_close(&o);
}

char *fctl_render_topics(const json_t *reply, const struct fctl_view *view)
{
	struct out o;
	if (!out_open(&o))
		return NULL;
	struct fctl_table t;
	fctl_table_init(&t);
	fctl_table_col(&t, "WORKER>");
	fctl_table_col(&t, "TOPIC ID>");
	fctl_table_col(&t, "NAME");
	size_t i;
	const json_t *s;
	json_array_foreach(jget(reply, "topics"), i, s)
	{
		char wk[FCTL_FIG], id[FCTL_FIG];
		cell_num(wk, sizeof(wk), s, "worker", view);
		cell_num(id, sizeof(id), s, "id", view);
		const char *row[] = { wk, id, jstr(s, "name") };
		fctl_table_row(&t, row);
	}
	fctl_table_print(&t, o.f, 0);
	fctl_table_free(&t);
	shown_of_total(o.f, reply, "topics", "topics");
	return out_close(&o);
}

char *fctl_render_subscriptions(const json_t *reply, const struct fctl_view *view)
{
	struct out o;
	if (!out_open(&o))
		return NULL;
	struct fctl_table t;
	fctl_table_init(&t);
	fctl_table_col(&t, "CLIENT ID");
	fctl_table_col(&t, "FILTER");
	fctl_table_col(&t, "QOS>");
	fctl_table_col(&t, "WORKER>");
	size_t i;
	const json_t *s;
	json_array_foreach(jget(reply, "subscriptions"), i, s)
	{
		char wk[FCTL_FIG], qos[FCTL_FIG];
		cell_num(wk, sizeof(wk), s, "worker", view);
		cell_num(qos, sizeof(qos), s, "qos", view);
		const char *row[] = { jstr(s, "client_id"), jstr(s, "filter"), qos, wk };
		fctl_table_row(&t, row);
	}
	fctl_table_print(&t, o.f, 0);
	fctl_table_free(&t);
	shown_of_total(o.f, reply, "subscriptions", "subscriptions");
	return out_close(&o);
}

static const char *route_kind(const json_t *r)
{
	const char *k = jstr(r, "kind");
	return k ? k : "?";
}

static bool is_udp_route(const json_t *r)
{
	return !strcmp(route_kind(r), "udp");
}

static void routes_table(FILE *f, const json_t *routes, const struct fctl_view *view)
{
	struct fctl_table t;
	fctl_table_init(&t);
	const char *cols[] = { "NAME", "FILTER", "TO", "FORMAT" };
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		fctl_table_col(&t, cols[i]);
	/* a relay route's counters: FO_FOREACH_ROUTE_ANY and _UDP, upper-cased, right-aligned */
	static const char *const keys[] = {
#define ROUTE_KEY_(field, key, ...) key,
		FO_FOREACH_ROUTE_ANY(ROUTE_KEY_) FO_FOREACH_ROUTE_UDP(ROUTE_KEY_)
#undef ROUTE_KEY_
	};
	enum { NK = sizeof(keys) / sizeof(keys[0]) };
	char heads[NK][40]; /* the table keeps pointers to its headings until it is printed */
	for (size_t k = 0; k < NK; k++) {
		char *h = heads[k];
		size_t n = 0;
		for (const char *c = keys[k]; *c && n + 2 < sizeof(heads[k]); c++)
			h[n++] = (char)toupper((unsigned char)*c);
		h[n++] = '>';
		h[n] = '\0';
		fctl_table_col(&t, h);
	}
	size_t i;
	const json_t *r;
	json_array_foreach(routes, i, r)
	{
		if (!is_udp_route(r))
			continue;
		char to[512], cell[NK][FCTL_FIG];
		const char *row[4 + NK] = { jstr(r, "name"), jstr(r, "filter"), to, jstr(r, "format") };
		value_text(to, sizeof(to), "to", jget(r, "to") ? jget(r, "to") : json_null(), view);
		for (size_t k = 0; k < NK; k++) {
			cell_num(cell[k], sizeof(cell[k]), r, keys[k], view);
			row[4 + k] = cell[k];
		}
		fctl_table_row(&t, row);
	}
	fctl_table_print(&t, f, 2);
	fctl_table_free(&t);
}

/* A sink/bridge route's drops: failed (the output gave up) + ring_full + pool_empty (never queued). */
static bool out_route_dropped(const json_t *r, double *v)
{
	double a, b, c;
	if (jnum(r, "failed", &a) && jnum(r, "ring_full", &b) && jnum(r, "pool_empty", &c)) {
		*v = a + b + c;
		return true;
	}
	return jnum(r, "dropped", v);
}

static void out_routes_table(FILE *f, const json_t *routes, const struct fctl_view *view)
{
	struct fctl_table t;
	fctl_table_init(&t);
	const char *cols[] = { "NAME",     "KIND",    "FILTER",   "TARGET",   "STREAM/TOPIC",
			       "MATCHED>", "QUEUED>", "WRITTEN>", "DROPPED>", "BACKLOG>" };
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		fctl_table_col(&t, cols[i]);
	size_t i;
	const json_t *r;
	json_array_foreach(routes, i, r)
	{
		if (is_udp_route(r))
			continue;
		char m[FCTL_FIG], q[FCTL_FIG], w[FCTL_FIG], d[FCTL_FIG], b[FCTL_FIG];
		double v;
		cell_num(m, sizeof(m), r, "matched", view);
		cell_num(q, sizeof(q), r, "queued", view);
		cell_num(w, sizeof(w), r, "written", view);
		cell_num(b, sizeof(b), r, "backlog", view);
		if (out_route_dropped(r, &v))
			fctl_fmt_count(d, sizeof(d), (uint64_t)v);
		else
			snprintf(d, sizeof(d), "-");
		const char *tmpl = jstr(r, "stream") ? jstr(r, "stream") : jstr(r, "topic");
		const char *row[] = {
			jstr(r, "name"), route_kind(r), jstr(r, "filter"), jstr(r, "target"), tmpl, m, q, w, d, b
		};
		fctl_table_row(&t, row);
	}
	fctl_table_print(&t, f, 2);
	fctl_table_free(&t);
	/* where the drops went, for the routes that have any */
	json_array_foreach(routes, i, r)
	{
		double v, a, b, c;
		if (is_udp_route(r) || !out_route_dropped(r, &v) || v <= 0)
			continue;
		char x[FCTL_FIG], y[FCTL_FIG], z[FCTL_FIG], all[FCTL_FIG];
		fctl_fmt_count(all, sizeof(all), (uint64_t)v);
		if (jnum(r, "failed", &a) && jnum(r, "ring_full", &b) && jnum(r, "pool_empty", &c))
			fprintf(f, "  %s dropped %s msgs: %s failed (the %s gave up), %s ring full, %s pool empty\n",
				jstr(r, "name") ? jstr(r, "name") : "?", all, fctl_fmt_count(x, sizeof(x), (uint64_t)a),
				strcmp(route_kind(r), "sink") ? "bridge" : "sink",
				fctl_fmt_count(y, sizeof(y), (uint64_t)b), fctl_fmt_count(z, sizeof(z), (uint64_t)c));
	}
}

char *fctl_render_routes(const json_t *reply, const struct fctl_view *view)
{
	struct out o;
	if (!out_open(&o))
		return NULL;
	const char *const roles[] = { "stable", "canary" };
	for (int k = 0; k < 2; k++) {
		const json_t *rs = jget(reply, roles[k]);
		if (!json_is_array(rs)) {
			fprintf(o.f, "%s: none loaded\n", roles[k]);
			continue;
		}
		size_t i, n_out = 0;
		const json_t *r;
		json_array_foreach(rs, i, r) if (!is_udp_route(r)) n_out++;
		size_t n_udp = json_array_size(rs) - n_out;
		fprintf(o.f, "%s (%zu routes; counters in msgs since the generation was created):\n", roles[k],
			json_array_size(rs));
		if (n_udp > 0 || n_out == 0) {
			if (n_out > 0)
				fprintf(o.f, "  UDP routes (matched, copies sent, copies dropped):\n");
			routes_table(o.f, rs, view);
		}
		if (n_out > 0) {
			fprintf(o.f, "  sink and bridge routes (matched = written + dropped + backlog):\n");
			out_routes_table(o.f, rs, view);
		}
	}
	return out_close(&o);
}

/* ---- outputs (sinks and bridges) ------------------------------------------------------ */

static void rate_cell(char *buf, size_t n, bool ok, double v, const char *unit);

bool fctl_reply_stale(const json_t *reply)
{
	return json_is_false(jget(reply, "dataplane_up"));
}

/* "1", "2-3", "4-7", ... for bucket i of a log2 histogram (values of bit length i). */
static void bucket_range(char *buf, size_t n, size_t i, size_t nb)
{
	unsigned long long lo = i ? 1ull << (i - 1) : 0, hi = i ? (1ull << i) - 1 : 0;
	if (i + 1 == nb)
		snprintf(buf, n, "%llu+", lo);
	else if (lo == hi)
		snprintf(buf, n, "%llu", lo);
	else
		snprintf(buf, n, "%llu-%llu", lo, hi);
}

static void output_details(FILE *f, const json_t *x, const char *kind, const struct fctl_view *view)
{
	char a[FCTL_FIG], b[FCTL_FIG], c[FCTL_FIG];
	double v, w;
	const char *name = jstr(x, "name") ? jstr(x, "name") : "?";
	fprintf(f, "%s (%s):", name, kind);
	if (jstr(x, "redis"))
		fprintf(f, " Redis %s", jstr(x, "redis"));
	if (jstr(x, "host")) {
		fprintf(f, " broker %s", jstr(x, "host"));
		if (jnum(x, "port", &v))
			fprintf(f, ":%.0f", v);
	}
	if (jstr(x, "user") && *jstr(x, "user"))
		fprintf(f, " as %s", jstr(x, "user"));
	if (jnum(x, "db", &v) && v > 0)
		fprintf(f, " db %.0f", v);
	if (jstr(x, "puback"))
		fprintf(f, ", PUBACK when %s", jstr(x, "puback"));
	if (jnum(x, "batch", &v) && v > 0) {
		fprintf(f, ", batches of up to %.0f entries", v);
		if (jnum(x, "batch_us", &w) && w > 0)
			fprintf(f, " or %s", fctl_fmt_ns(a, sizeof(a), w * 1e3));
	}
	if (jnum(x, "maxlen", &v) && v > 0)
		fprintf(f, ", MAXLEN ~ %s", fctl_fmt_count(a, sizeof(a), (uint64_t)v));
	if (jnum(x, "connect_failures", &v) && v > 0)
		fprintf(f, ", %s failed connects", fctl_fmt_count(a, sizeof(a), (uint64_t)v));
	if (jnum(x, "discarded", &v) && v > 0)
		fprintf(f, ", %s discarded at shutdown", fctl_fmt_count(a, sizeof(a), (uint64_t)v));
	if (jnum(x, "dup_suppressed", &v) && v > 0)
		fprintf(f, ", %s retried XADDs Redis already had", fctl_fmt_count(a, sizeof(a), (uint64_t)v));
	fputc('\n', f);
	double since;
	if (json_is_true(jget(x, "connected")) && jnum(x, "connected_since_ms", &since) && since > 0)
		fprintf(f, "  connected since %s", fctl_fmt_ago(a, sizeof(a), (int64_t)since, view->now_ms));
	else
		fprintf(f, "  not connected");
	if (jnum(x, "ring", &v) && jnum(x, "ring_size", &w) && w > 0)
		fprintf(f, "; ring %s of %s entries (%s)", fctl_fmt_count(a, sizeof(a), (uint64_t)v),
			fctl_fmt_count(b, sizeof(b), (uint64_t)w), fctl_fmt_pct(c, sizeof(c), v / w));
	fputc('\n', f);
	if (jnum(x, "received", &v)) {
		fprintf(f, "  from upstream: %s received", fctl_fmt_count(a, sizeof(a), (uint64_t)v));
		if (jnum(x, "injected", &w))
			fprintf(f, ", %s delivered to MQTT-SN subscribers", fctl_fmt_count(b, sizeof(b), (uint64_t)w));
		if (jnum(x, "inject_dropped", &w))
			fprintf(f, ", %s dropped", fctl_fmt_count(b, sizeof(b), (uint64_t)w));
		fputc('\n', f);
	}
	const json_t *h = jget(x, "batch_hist");
	if (jnum(x, "batches", &v) && v > 0) {
		fprintf(f, "  %s batches", fctl_fmt_count(a, sizeof(a), (uint64_t)v));
		if (json_array_size(h)) {
			fprintf(f, ", entries per batch:");
			size_t i;
			const json_t *c;
			bool first = true;
			json_array_foreach(h, i, c)
			{
				if (!json_is_number(c) || json_number_value(c) <= 0)
					continue;
				char r[48];
				bucket_range(r, sizeof(r), i, json_array_size(h));
				fprintf(f, "%s %s x%s", first ? "" : ",", r,
					fctl_fmt_count(a, sizeof(a), (uint64_t)json_number_value(c)));
				first = false;
			}
		}
		if (jnum(x, "rtt_us.n", &w) && w > 0) {
			fprintf(f, "; round trip mean %s",
				fctl_fmt_ns(a, sizeof(a), jnum_or(x, "rtt_us.mean", NAN) * 1e3));
			fprintf(f, ", max %s", fctl_fmt_ns(b, sizeof(b), jnum_or(x, "rtt_us.max", NAN) * 1e3));
		}
		fputc('\n', f);
	}
	const char *err = jstr(x, "last_error");
	if (err && *err)
		fprintf(f, "  last error: %s\n", err);
}

char *fctl_render_outputs(const json_t *reply, const struct fctl_view *view)
{
	struct out o;
	if (!out_open(&o))
		return NULL;
	char a[FCTL_FIG], b[FCTL_FIG];
	size_t n = json_array_size(jget(reply, "sinks")) + json_array_size(jget(reply, "bridges"));
	double t, iv;
	fprintf(o.f, "%zu output%s (sinks and bridges)", n, n == 1 ? "" : "s");
	if (jnum(reply, "sampled_ms", &t) && t > 0)
		fprintf(o.f, ", sampled %s", fctl_fmt_ago(a, sizeof(a), (int64_t)t, view->now_ms));
	if (jnum(reply, "interval_ms", &iv) && iv > 0)
		fprintf(o.f, ", rates over %s", fctl_fmt_duration_ms(b, sizeof(b), iv));
	fputc('\n', o.f);
	if (fctl_reply_stale(reply))
		fprintf(o.f, "dataplane unreachable: these are the last figures it gave\n");
	if (jstr(reply, "poll_error"))
		fprintf(o.f, "the last poll of OUTPUTS failed: %s\n", jstr(reply, "poll_error"));
	if (n == 0) {
		fprintf(o.f, "no sinks or bridges configured (the dataplane config's sinks: and bridges:)\n");
		return out_close(&o);
	}
	struct fctl_table tb;
	fctl_table_init(&tb);
	const char *cols[] = { "NAME",     "KIND",    "STATE",       "BACKLOG>", "INFLIGHT>", "WRITTEN/S>",
			       "WRITTEN>", "FAILED>", "RECONNECTS>", "ERRORS>",  "RTT P50>",  "RTT P99>" };
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		fctl_table_col(&tb, cols[i]);
	static const char *const arrays[] = { "sinks", "bridges" };
	for (int k = 0; k < 2; k++) {
		size_t i;
		const json_t *x;
		json_array_foreach(jget(reply, arrays[k]), i, x)
		{
			char bl[FCTL_FIG], inf[FCTL_FIG], wr[FCTL_FIG], wt[FCTL_FIG], fl[FCTL_FIG], rc[FCTL_FIG],
				er[FCTL_FIG], p50[FCTL_FIG], p99[FCTL_FIG];
			double v = 0;
			const json_t *c = jget(x, "connected");
			const char *state = json_is_true(c) ? "up" : json_is_false(c) ? "DOWN" : "-";
			cell_num(bl, sizeof(bl), x, "backlog", view);
			cell_num(inf, sizeof(inf), x, "inflight", view);
			bool have_rate = jnum(x, "rates.written_per_s", &v);
			rate_cell(wr, sizeof(wr), have_rate, v, "msg/s");
			cell_num(wt, sizeof(wt), x, "written", view);
			cell_num(fl, sizeof(fl), x, "failed", view);
			cell_num(rc, sizeof(rc), x, "reconnects", view);
			cell_num(er, sizeof(er), x, "errors", view);
			bool have_rtt = jnum_or(x, "rtt_us.n", 0) > 0;
			if (have_rtt && jnum(x, "rtt_us.p50", &v))
				fctl_fmt_ns(p50, sizeof(p50), v * 1e3);
			else
				snprintf(p50, sizeof(p50), "-");
			if (have_rtt && jnum(x, "rtt_us.p99", &v))
				fctl_fmt_ns(p99, sizeof(p99), v * 1e3);
			else
				snprintf(p99, sizeof(p99), "-");
			const char *kind = jstr(x, "kind") ? jstr(x, "kind") : k ? "bridge" : "sink";
			const char *row[] = { jstr(x, "name"), kind, state, bl, inf, wr, wt, fl, rc, er, p50, p99 };
			fctl_table_row(&tb, row);
		}
	}
	fctl_table_print(&tb, o.f, 0);
	fctl_table_free(&tb);
	fprintf(o.f,
		"(backlog, written, failed in msgs; failed = given up by the output; RTT = one batch's round trip)\n");
	for (int k = 0; k < 2; k++) {
		size_t i;
		const json_t *x;
		json_array_foreach(jget(reply, arrays[k]), i, x)
		{
			fputc('\n', o.f);
			output_details(o.f, x, jstr(x, "kind") ? jstr(x, "kind") : k ? "bridge" : "sink", view);
		}
	}
	return out_close(&o);
}

/* ---- config ------------------------------------------------------------------------- */

static void changes_table(FILE *f, const json_t *changes)
{
	struct fctl_table t;
	fctl_table_init(&t);
	fctl_table_col(&t, "OP");
	fctl_table_col(&t, "ROUTE/KEY");
	fctl_table_col(&t, "DETAIL");
	size_t i;
	const json_t *c;
	json_array_foreach(changes, i, c)
	{
		/* a route by name, or a generation key outside routes (security.admission) */
		const char *row[] = { jstr(c, "op"), jstr(c, "route") ? jstr(c, "route") : jstr(c, "key"),
				      jstr(c, "detail") };
		fctl_table_row(&t, row);
	}
	fctl_table_print(&t, f, 2);
	fctl_table_free(&t);
}

char *fctl_render_config_changes(const json_t *reply, const struct fctl_view *view)
{
	struct out o;
	if (!out_open(&o))
		return NULL;
	double gen;
	const char *as = jstr(reply, "as");
	if (jnum(reply, "generation", &gen))
		fprintf(o.f, "generation %.0f loaded as %s%s\n", gen, as ? as : "canary",
			as && !strcmp(as, "stable") ? ""
						    : " at share 0 %; start a rollout with `fanoutctl rollout start`");
	double ver;
	if (jnum(reply, "version", &ver) || jnum(reply, "config_id", &ver))
		fprintf(o.f, "config version %.0f\n", ver);
	const json_t *changes = jget(reply, "changes");
	if (json_is_array(changes)) {
		if (json_array_size(changes) == 0)
			fprintf(o.f, "no changes against stable\n");
		else {
			fprintf(o.f, "%zu change%s against stable:\n", json_array_size(changes),
				json_array_size(changes) == 1 ? "" : "s");
			changes_table(o.f, changes);
		}
	}
	const json_t *rr = jget(reply, "restart_required");
	if (json_array_size(rr)) {
		char keys[512];
		value_text(keys, sizeof(keys), "restart_required", rr, view);
		fprintf(o.f, "needs a dataplane restart (not applied live): %s\n", keys);
	}
	const char *const skip[] = { "generation", "as", "changes", "restart_required", "version", "config_id", NULL };
	generic(o.f, reply, 0, view, skip);
	return out_close(&o);
}

/* A version entry: id, sha256, created_ms, outcome, maybe a comment. */
char *fctl_render_config_history(const json_t *reply, const struct fctl_view *view)
{
	struct out o;
	if (!out_open(&o))
		return NULL;
	const json_t *vs = json_is_array(reply) ? reply : jget(reply, "versions");
	if (!json_is_array(vs))
		vs = jget(reply, "configs");
	if (!json_is_array(vs)) {
		fclose(o.f);
		free(o.buf);
		return fctl_render_generic(reply, view);
	}
	struct fctl_table t;
	fctl_table_init(&t);
	const char *cols[] = { "ID>", "CREATED", "SHA256", "SIZE>", "ROLE", "OUTCOME" };
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		fctl_table_col(&t, cols[i]);
	/* the role each version plays now, from the desired state fanout-control keeps */
	double stable = jnum_or(reply, "desired.stable", -1), canary = jnum_or(reply, "desired.canary", -1);
	size_t i;
	const json_t *v;
	json_array_foreach(vs, i, v)
	{
		char id[FCTL_FIG], created[FCTL_FIG], sha[16], size[FCTL_FIG];
		double vid = jnum_or(v, "id", -2), c;
		snprintf(id, sizeof(id), "%.0f", vid);
		if (jnum(v, "created_ms", &c))
			fctl_fmt_ago(created, sizeof(created), (int64_t)c, view->now_ms);
		else
			snprintf(created, sizeof(created), "-");
		snprintf(sha, sizeof(sha), "%.12s", jstr(v, "sha256") ? jstr(v, "sha256") : "-");
		if (jnum(v, "bytes", &c))
			fctl_fmt_bytes(size, sizeof(size), c);
		else
			snprintf(size, sizeof(size), "-");
		const char *role = jstr(v, "role") ? jstr(v, "role")
				   : vid == stable ? "stable"
				   : vid == canary ? "canary"
						   : "";
		const char *row[] = { id, created, sha, size, role, jstr(v, "outcome") };
		fctl_table_row(&t, row);
	}
	fctl_table_print(&t, o.f, 0);
	fctl_table_free(&t);
	return out_close(&o);
}

char *fctl_render_config_show(const json_t *reply, const struct fctl_view *view)
{
	const char *text = jstr(reply, "text");
	if (!text)
		text = jstr(reply, "yaml");
	if (!text)
		return fctl_render_generic(reply, view);
	struct out o;
	if (!out_open(&o))
		return NULL;
	double id;
	if (jnum(reply, "id", &id)) {
		char created[FCTL_FIG];
		fctl_fmt_ago(created, sizeof(created), (int64_t)jnum_or(reply, "created_ms", 0), view->now_ms);
		fprintf(o.f, "# config version %.0f, created %s, sha256 %s\n", id, created,
			jstr(reply, "sha256") ? jstr(reply, "sha256") : "-");
	}
	fputs(text, o.f);
	if (*text && text[strlen(text) - 1] != '\n')
		fputc('\n', o.f);
	return out_close(&o);
}

/* ---- generations, stats, top --------------------------------------------------------- */

/* Where a rate comes from: fanout-control's `rates` member (per second over its last poll), else
 * the difference between this snapshot and the previous one (`top` keeps it), else unknown: "-",
 * never a made-up 0. */
struct rate_src {
	const json_t *snap, *prev; /* dataplane snapshots (prev may be NULL) */
	const json_t *gens, *prev_gens;
	const json_t *rates; /* STATS.rates (may be NULL) */
	double dt_s;         /* snapshot uptime difference; 0 = no previous snapshot */
};

static bool delta_rate(const json_t *now, const json_t *before, const char *path, double dt_s, double *v)
{
	double a, b;
	if (dt_s <= 0 || !now || !before || !jnum(now, path, &a) || !jnum(before, path, &b) || a < b)
		return false;
	*v = (a - b) / dt_s;
	return true;
}

static const json_t *gen_by_id(const json_t *gens, double id)
{
	size_t i;
	const json_t *g;
	json_array_foreach(gens, i, g) if (jnum_or(g, "id", -1) == id) return g;
	return NULL;
}

static void rate_cell(char *buf, size_t n, bool ok, double v, const char *unit)
{
	if (ok)
		fctl_fmt_rate(buf, n, v, unit);
	else
		snprintf(buf, n, "-");
}

/* One row per generation: rates from fanout-control (msg_rate, drop_rate, error_rate) or from the
 * previous snapshot; latency percentiles are the dataplane's histogram since the generation began. */
static void gen_table(FILE *f, const struct rate_src *rs)
{
	struct fctl_table t;
	fctl_table_init(&t);
	const char *cols[] = { "GEN>",       "ROLE",        "MSGS>", "MSGS/S>", "DELIVERIES/S>", "DROPS/S>",
			       "DROP RATE>", "ERROR RATE>", "P50>",  "P99>",    "P99.9>" };
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		fctl_table_col(&t, cols[i]);
	size_t i;
	const json_t *g;
	json_array_foreach(rs->gens, i, g)
	{
		char id[FCTL_FIG], msgs[FCTL_FIG + 8], mr[FCTL_FIG], dr[FCTL_FIG], dpr[FCTL_FIG], drate[FCTL_FIG],
			erate[FCTL_FIG], p50[FCTL_FIG], p99[FCTL_FIG], p999[FCTL_FIG];
		double gid = jnum_or(g, "id", -1), v, w;
		snprintf(id, sizeof(id), "%.0f", gid);
		fctl_fmt_count(msgs, sizeof(msgs), (uint64_t)jnum_or(g, "msgs", 0));
		strcat(msgs, " msgs");
		const json_t *rg = gen_by_id(jget(rs->rates, "generations"), gid);
		const json_t *pg = gen_by_id(rs->prev_gens, gid);
		bool ok = jnum(rg, "msg_rate", &v) || delta_rate(g, pg, "msgs", rs->dt_s, &v);
		rate_cell(mr, sizeof(mr), ok, v, "msg/s");
		ok = jnum(rg, "delivery_rate", &v) || delta_rate(g, pg, "deliveries", rs->dt_s, &v);
		rate_cell(dr, sizeof(dr), ok, v, "msg/s");
		ok = delta_rate(g, pg, "drops", rs->dt_s, &v);
		if (ok && delta_rate(g, pg, "route_dropped", rs->dt_s, &w))
			v += w;
		rate_cell(dpr, sizeof(dpr), ok, v, "msg/s");
		/* drop rate: (drops + route_dropped) per msg, the gate's definition; over the last
		 * interval when known, else since the generation began */
		double m = jnum_or(g, "msgs", 0);
		if (jnum(rg, "drop_rate", &v))
			fctl_fmt_pct(drate, sizeof(drate), v);
		else if (m > 0)
			fctl_fmt_pct(drate, sizeof(drate),
				     (jnum_or(g, "drops", 0) + jnum_or(g, "route_dropped", 0)) / m);
		else
			snprintf(drate, sizeof(drate), "-");
		if (jnum(rg, "error_rate", &v))
			fctl_fmt_pct(erate, sizeof(erate), v);
		else if (m > 0)
			fctl_fmt_pct(erate, sizeof(erate), jnum_or(g, "error_replies", 0) / m);
		else
			snprintf(erate, sizeof(erate), "-");
		bool have_lat = jnum_or(g, "latency_ns.samples", 1) > 0;
		if (have_lat && jnum(g, "latency_ns.p50", &v))
			fctl_fmt_ns(p50, sizeof(p50), v);
		else
			snprintf(p50, sizeof(p50), "-");
		if (have_lat && jnum(g, "latency_ns.p99", &v))
			fctl_fmt_ns(p99, sizeof(p99), v);
		else if (jnum(rg, "p99_us", &v) && v > 0)
			fctl_fmt_ns(p99, sizeof(p99), v * 1e3);
		else
			snprintf(p99, sizeof(p99), "-");
		if (have_lat && jnum(g, "latency_ns.p999", &v))
			fctl_fmt_ns(p999, sizeof(p999), v);
		else
			snprintf(p999, sizeof(p999), "-");
		const char *row[] = { id, jstr(g, "role"), msgs, mr, dr, dpr, drate, erate, p50, p99, p999 };
		fctl_table_row(&t, row);
	}
	fctl_table_print(&t, f, 2);
	fctl_table_free(&t);
}

/* The dataplane's generations array: STATS carries it at the top level or under the snapshot;
 * without it, fanout-control's per-generation rates stand in. */
static const json_t *find_generations(const json_t *stats)
{
	static const char *const paths[] = { "generations",
					     "dataplane.generations",
					     "genstats.generations",
					     "snapshot.generations",
					     "stats.generations",
					     "rates.generations",
					     NULL };
	for (const char *const *p = paths; *p; p++) {
		const json_t *g = jget(stats, *p);
		if (json_is_array(g))
			return g;
	}
	return NULL;
}

/* The dataplane snapshot inside STATS: top level, or under "dataplane"/"snapshot"/"stats". */
static const json_t *find_snapshot(const json_t *stats)
{
	if (jget(stats, "totals"))
		return stats;
	static const char *const paths[] = { "dataplane", "snapshot", "stats", NULL };
	for (const char *const *p = paths; *p; p++)
		if (jget(jget(stats, *p), "totals"))
			return jget(stats, *p);
	return NULL;
}

/* Rates per second: "rates" at the top level of STATS (or next to the snapshot). */
static const json_t *find_rates(const json_t *stats)
{
	const json_t *r = jget(stats, "rates");
	if (json_is_object(r))
		return r;
	const json_t *snap = find_snapshot(stats);
	return snap ? jget(snap, "rates") : NULL;
}

static struct rate_src rate_src_of(const json_t *stats, const json_t *prev)
{
	struct rate_src rs = { .snap = find_snapshot(stats),
			       .rates = find_rates(stats),
			       .gens = find_generations(stats) };
	if (prev) {
		rs.prev = find_snapshot(prev);
		rs.prev_gens = find_generations(prev);
		double a, b;
		if (rs.snap && rs.prev && jnum(rs.snap, "uptime_s", &a) && jnum(rs.prev, "uptime_s", &b) && a > b)
			rs.dt_s = a - b;
	}
	return rs;
}

static void totals_table(FILE *f, const struct rate_src *rs)
{
	struct fctl_table t;
	fctl_table_init(&t);
	fctl_table_col(&t, "");
	fctl_table_col(&t, "TOTAL>");
	fctl_table_col(&t, "RATE>");
	/* the conservation counters of the schema (fanout/stats_schema.h), then the subscriber copies;
	 * a rate from fanout-control's series where it keeps one, else from the previous snapshot */
	static const struct {
		const char *label, *total, *unit;
	} rows[] = {
#define TOTAL_ROW_(field, key, unit, ...) { #field, "totals." key, unit },
		FO_FOREACH_LCORE_RX(TOTAL_ROW_)
#undef TOTAL_ROW_
#define TOTAL_ROW_(field, key, unit, ...) { "out " key, "totals.out." key, unit },
			FO_FOREACH_LCORE_OUT(TOTAL_ROW_)
#undef TOTAL_ROW_
				{ "deliveries (subscriber copies)", "totals.events.deliveries", "messages" },
	};
	static const struct {
		const char *total, *rate;
	} series_rates[] = {
		{ "totals.rx", "rx" },
		{ "totals.dropped", "drops" },
		{ "totals.events.deliveries", "deliveries" },
		{ "totals.out.dropped", "out_drops" },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char tot[FCTL_FIG + 16], rate[FCTL_FIG];
		const char *per_s = strcmp(rows[i].unit, "packets") == 0 ? "pkt/s" : "msg/s";
		const char *noun = strcmp(rows[i].unit, "packets") == 0 ? " pkts" : " msgs";
		const char *rate_key = NULL;
		double v;
		for (size_t r = 0; r < sizeof(series_rates) / sizeof(series_rates[0]); r++)
			if (strcmp(series_rates[r].total, rows[i].total) == 0)
				rate_key = series_rates[r].rate;
		if (jnum(rs->snap, rows[i].total, &v)) {
			fctl_fmt_count(tot, sizeof(tot), (uint64_t)v);
			strcat(tot, noun);
		} else
			snprintf(tot, sizeof(tot), "-");
		bool ok = (rate_key && jnum(rs->rates, rate_key, &v)) ||
			  delta_rate(rs->snap, rs->prev, rows[i].total, rs->dt_s, &v);
		rate_cell(rate, sizeof(rate), ok, v, per_s);
		const char *row[] = { rows[i].label, tot, rate };
		fctl_table_row(&t, row);
	}
	fctl_table_print(&t, f, 2);
	fctl_table_free(&t);
}

/* Drops by reason, nonzero only (a zero reason is noise), rx and out drops together; the rate
 * per reason from fanout-control's rates.drops object if it has one, else from the previous snapshot. */
static void drops_table(FILE *f, const struct rate_src *rs, size_t max_rows)
{
	struct fctl_table t;
	fctl_table_init(&t);
	fctl_table_col(&t, "REASON");
	fctl_table_col(&t, "TOTAL>");
	fctl_table_col(&t, "RATE>");
	const json_t *rdrops = json_is_object(jget(rs->rates, "drops")) ? jget(rs->rates, "drops") : NULL;
	const char *const sets[] = { "totals.drops", "totals.out.drops" };
	size_t shown = 0, hidden = 0;
	for (int s = 0; s < 2; s++) {
		const char *key;
		const json_t *v;
		json_object_foreach((json_t *)jget(rs->snap, sets[s]), key, v)
		{
			double total = json_number_value(v), rate = 0;
			bool ok = jnum(rdrops, key, &rate);
			if (!ok) {
				char path[128];
				snprintf(path, sizeof(path), "%s.%s", sets[s], key);
				ok = delta_rate(rs->snap, rs->prev, path, rs->dt_s, &rate);
			}
			if (total == 0 && rate == 0)
				continue;
			if (shown >= max_rows) {
				hidden++;
				continue;
			}
			char tot[FCTL_FIG + 8], r[FCTL_FIG];
			fctl_fmt_count(tot, sizeof(tot), (uint64_t)total);
			strcat(tot, " pkts");
			rate_cell(r, sizeof(r), ok, rate, "pkt/s");
			const char *row[] = { key, tot, r };
			fctl_table_row(&t, row);
			shown++;
		}
	}
	if (shown == 0)
		fprintf(f, "  none\n");
	else
		fctl_table_print(&t, f, 2);
	if (hidden)
		fprintf(f, "  (%zu more reasons; `fanoutctl stats` lists all)\n", hidden);
	fctl_table_free(&t);
}

char *fctl_render_stats(const json_t *stats, const struct fctl_view *view)
{
	struct out o;
	if (!out_open(&o))
		return NULL;
	struct rate_src rs = rate_src_of(stats, NULL);
	const json_t *snap = rs.snap;
	if (!snap) {
		fprintf(o.f, "no dataplane snapshot yet\n");
		generic(o.f, stats, 0, view, NULL);
		return out_close(&o);
	}
	char a[FCTL_FIG];
	double t;
	fprintf(o.f, "dataplane");
	if (jnum(snap, "uptime_s", &t))
		fprintf(o.f, " up %s,", fctl_fmt_duration_ms(a, sizeof(a), t * 1000));
	static const char *const tpaths[] = { "sampled_ms", "sample_ms", "t_ms", "time_ms", "polled_ms", NULL };
	if (jnum_any(stats, tpaths, &t))
		fprintf(o.f, " sampled %s", fctl_fmt_ago(a, sizeof(a), (int64_t)t, view->now_ms));
	const json_t *bal = jget(snap, "totals.balanced");
	if (json_is_boolean(bal))
		fprintf(o.f, ", pipeline %s", json_is_true(bal) ? "balanced" : "not balanced (packets in flight)");
	if (json_is_false(jget(stats, "dataplane_up")))
		fprintf(o.f, " (the dataplane is unreachable now: these are its last figures)");
	fputc('\n', o.f);
	fprintf(o.f, "\ntraffic:\n");
	totals_table(o.f, &rs);
	fprintf(o.f, "\ndrops by reason:\n");
	drops_table(o.f, &rs, 1000);
	const json_t *xdp = jget(snap, "totals.xdp"), *xv;
	const char *xk;
	double xsum = 0;
	json_object_foreach((json_t *)xdp, xk, xv) xsum += json_number_value(xv);
	if (xsum > 0) { /* a port runs behind the XDP pre-filter */
		fprintf(o.f, "\nXDP pre-filter verdicts:");
		json_object_foreach((json_t *)xdp, xk, xv) fprintf(o.f, " %s %.0f", xk, json_number_value(xv));
		fputc('\n', o.f);
	}
	if (rs.gens) {
		fprintf(o.f, "\ngenerations (MSGS and latency rx->tx since the generation began):\n");
		gen_table(o.f, &rs);
	}
	const json_t *workers = jget(snap, "workers");
	if (json_array_size(workers)) {
		fprintf(o.f, "\nworkers:\n");
		struct fctl_table wt;
		fctl_table_init(&wt);
		const char *cols[] = { "WORKER>", "LCORE>", "SESSIONS>", "TOPICS>", "SUBSCRIPTIONS>", "INFLIGHT>" };
		for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
			fctl_table_col(&wt, cols[i]);
		size_t i;
		const json_t *w;
		json_array_foreach(workers, i, w)
		{
			char c[6][FCTL_FIG];
			const char *keys[] = { "index", "lcore", "sessions", "topics", "subscriptions", "inflight" };
			for (int k = 0; k < 6; k++)
				cell_num(c[k], sizeof(c[k]), w, keys[k], view);
			const char *row[] = { c[0], c[1], c[2], c[3], c[4], c[5] };
			fctl_table_row(&wt, row);
		}
		fctl_table_print(&wt, o.f, 2);
		fctl_table_free(&wt);
	}
	const json_t *lcores = jget(snap, "lcores");
	if (json_array_size(lcores)) {
		fprintf(o.f, "\nlcores:\n");
		struct fctl_table lt;
		fctl_table_init(&lt);
		fctl_table_col(&lt, "LCORE>");
		fctl_table_col(&lt, "ROLES");
		fctl_table_col(&lt, "RX>");
		fctl_table_col(&lt, "BUSY>");
		size_t i;
		const json_t *l;
		json_array_foreach(lcores, i, l)
		{
			char id[FCTL_FIG], roles[64], rx[FCTL_FIG + 8], busy[FCTL_FIG];
			cell_num(id, sizeof(id), l, "lcore", view);
			value_text(roles, sizeof(roles), "roles", jget(l, "roles") ? jget(l, "roles") : json_null(),
				   view);
			fctl_fmt_count(rx, sizeof(rx), (uint64_t)jnum_or(l, "rx", 0));
			strcat(rx, " pkts");
			fctl_fmt_pct(busy, sizeof(busy), jnum_or(l, "busy_pct", 0) / 100.0);
			const char *row[] = { id, roles, rx, busy };
			fctl_table_row(&lt, row);
		}
		fctl_table_print(&lt, o.f, 2);
		fctl_table_free(&lt);
	}
	return out_close(&o);
}

/* The rollout's one-line summary: "running, step 2/5 at 5 % (split), canary generation 7,
 * held 4.0 s of 10 s". ROLLOUT STATUS's reply, or any reply with a "rollout" member. */
static void rollout_line(FILE *f, const json_t *r, const struct fctl_view *view)
{
	const json_t *ro = jget(r, "rollout") ? jget(r, "rollout") : r;
	const char *state = jstr(ro, "state");
	fprintf(f, "%s", state ? state : "idle");
	const json_t *steps = jget(ro, "plan.steps");
	double step, share, hold, left, gen;
	char a[FCTL_FIG], b[FCTL_FIG];
	bool active = state && (!strcmp(state, "running") || !strcmp(state, "held") || !strcmp(state, "paused") ||
				!strcmp(state, "promoting"));
	if (jnum(ro, "step", &step) && json_array_size(steps) && (active || step > 0))
		fprintf(f, ", step %.0f/%zu", step + 1, json_array_size(steps)); /* "step" is an index */
	if (jnum(ro, "share_bp", &share))
		fprintf(f, " at %s", fctl_fmt_bp(a, sizeof(a), (int64_t)share));
	if (jstr(ro, "plan.mode"))
		fprintf(f, " (%s)", jstr(ro, "plan.mode"));
	if (jnum(ro, "generation", &gen) && gen > 0)
		fprintf(f, ", canary generation %.0f", gen);
	if (active && jnum(ro, "plan.hold_ms", &hold)) {
		if (jnum(ro, "hold_left_ms", &left))
			fprintf(f, ", held %s of %s", fctl_fmt_duration_ms(a, sizeof(a), hold - left),
				fctl_fmt_duration_ms(b, sizeof(b), hold));
		else if (jnum(ro, "step_started_ms", &step) && step > 0)
			fprintf(f, ", step began %s, hold %s", fctl_fmt_ago(a, sizeof(a), (int64_t)step, view->now_ms),
				fctl_fmt_duration_ms(b, sizeof(b), hold));
	}
	fputc('\n', f);
	const char *reason = jstr(ro, "reason");
	if (reason && *reason)
		fprintf(f, "  reason: %s\n", reason);
	const json_t *fg = jget(ro, "failed_gate");
	if (json_is_object(fg) && jstr(fg, "gate")) {
		char mname[48];
		snprintf(mname, sizeof(mname), "%s", jstr(fg, "gate"));
		char *lt = strchr(mname, '<');
		if (lt)
			*lt = '\0';
		value_text(a, sizeof(a), mname, jget(fg, "value") ? jget(fg, "value") : json_null(), view);
		fprintf(f, "  failed gate: %s with %s = %s\n", jstr(fg, "gate"), mname, a);
	}
}

/* "drop_rate<0.01" -> metric "drop_rate", threshold 0.01. */
static bool split_gate(const char *expr, char *metric, size_t n, double *threshold)
{
	const char *lt = strchr(expr, '<');
	if (!lt)
		return false;
	size_t len = (size_t)(lt - expr);
	while (len && expr[len - 1] == ' ')
		len--;
	while (len && *expr == ' ')
		expr++, len--;
	if (len >= n)
		return false;
	memcpy(metric, expr, len);
	metric[len] = '\0';
	char *end;
	*threshold = strtod(lt + 1, &end);
	return end != lt + 1;
}

char *fctl_render_rollout(const json_t *reply, const struct fctl_view *view)
{
	struct out o;
	if (!out_open(&o))
		return NULL;
	const json_t *ro = jget(reply, "rollout") ? jget(reply, "rollout") : reply;
	char a[FCTL_FIG], b[FCTL_FIG];
	fprintf(o.f, "rollout: ");
	rollout_line(o.f, reply, view);
	const json_t *plan = jget(ro, "plan");
	const json_t *steps = jget(plan, "steps");
	if (json_array_size(steps)) {
		double cur = jnum_or(ro, "step", -1);
		fprintf(o.f, "steps:   ");
		size_t i;
		const json_t *s;
		json_array_foreach(steps, i, s)
		{
			fctl_fmt_pct(a, sizeof(a), json_number_value(s) / 100.0); /* the plan's steps are percent */
			bool here = (double)i == cur;
			fprintf(o.f, "%s%s%s%s", i ? " -> " : "", here ? "[" : "", a, here ? "]" : "");
		}
		const json_t *au = jget(plan, "auto");
		fprintf(o.f, "\nhold:    %s per step%s\n",
			fctl_fmt_duration_ms(a, sizeof(a), jnum_or(plan, "hold_ms", NAN)),
			json_is_false(au) ? ", waits for `fanoutctl rollout resume` after each"
					  : ", advances by itself");
	}
	double t;
	if (jnum(ro, "started_ms", &t) && t > 0)
		fprintf(o.f, "started: %s\n", fctl_fmt_ago(a, sizeof(a), (int64_t)t, view->now_ms));
	if (jnum(ro, "ended_ms", &t) && t > 0)
		fprintf(o.f, "ended:   %s\n", fctl_fmt_ago(a, sizeof(a), (int64_t)t, view->now_ms));
	const json_t *fig = jget(ro, "figures");
	const json_t *gates = jget(plan, "gates");
	if (json_array_size(gates)) {
		fprintf(o.f, "gates (canary, this hold window");
		double wm;
		if (jnum(fig, "window_msgs", &wm))
			fprintf(o.f, ", %s msgs", fctl_fmt_count(a, sizeof(a), (uint64_t)wm));
		fprintf(o.f, "):\n");
		struct fctl_table tb;
		fctl_table_init(&tb);
		fctl_table_col(&tb, "GATE");
		fctl_table_col(&tb, "VALUE>");
		fctl_table_col(&tb, "THRESHOLD>");
		fctl_table_col(&tb, "PASSES");
		size_t i;
		const json_t *g;
		json_array_foreach(gates, i, g)
		{
			const char *expr = json_is_string(g) ? json_string_value(g) : jstr(g, "gate");
			char metric[48], val[FCTL_FIG] = "-", thr[FCTL_FIG] = "-";
			double threshold = NAN;
			const char *passes = "-";
			if (expr && split_gate(expr, metric, sizeof(metric), &threshold)) {
				json_t *tj = json_real(threshold);
				value_text(thr, sizeof(thr), metric, tj, view);
				json_decref(tj);
				const json_t *v = jget(fig, metric);
				if (json_is_number(v)) {
					value_text(val, sizeof(val), metric, v, view);
					passes = json_number_value(v) < threshold ? "yes" : "NO";
				}
			}
			const char *row[] = { expr, val, thr, passes };
			fctl_table_row(&tb, row);
		}
		fctl_table_print(&tb, o.f, 2);
		fctl_table_free(&tb);
	} else if (plan) {
		fprintf(o.f, "gates:   none (only the operator stops this rollout)\n");
	}
	(void)b;
	return out_close(&o);
}

char *fctl_render_rollout_action(const char *verb, const json_t *reply, const struct fctl_view *view)
{
	struct out o;
	if (!out_open(&o))
		return NULL;
	double ns;
	char a[FCTL_FIG], b[FCTL_FIG];
	if (!strcmp(verb, "rollback")) {
		fprintf(o.f, "rolled back: canary share %s",
			fctl_fmt_bp(a, sizeof(a), (int64_t)jnum_or(reply, "share_bp", 0)));
		if (jnum(reply, "total_ns", &ns))
			fprintf(o.f, " in %s", fctl_fmt_ns(b, sizeof(b), ns));
		fputc('\n', o.f);
		if (jnum(reply, "total_ns", &ns))
			fprintf(o.f,
				"  %s from fanout-control receiving the command to the dataplane confirming the swap\n",
				fctl_fmt_ns(b, sizeof(b), ns));
		if (jnum(reply, "published_ns", &ns))
			fprintf(o.f, "  %s inside the dataplane, command to pointer store\n",
				fctl_fmt_ns(a, sizeof(a), ns));
		if (jstr(reply, "reason") && *jstr(reply, "reason"))
			fprintf(o.f, "  reason: %s\n", jstr(reply, "reason"));
		if (jget(reply, "rollout")) {
			fprintf(o.f, "rollout: ");
			rollout_line(o.f, reply, view);
		}
		return out_close(&o);
	}
	static const char *const done[][2] = {
		{ "pause", "paused" }, { "resume", "resumed" }, { "promote", "promoted" }, { "abort", "aborted" }
	};
	const char *word = verb;
	for (size_t i = 0; i < sizeof(done) / sizeof(done[0]); i++)
		if (!strcmp(done[i][0], verb))
			word = done[i][1];
	double stable;
	if (jnum(reply, "stable", &stable))
		fprintf(o.f, "%s: generation %.0f is stable\n", word, stable);
	else
		fprintf(o.f, "%s\n", word);
	if (jget(reply, "rollout") || jget(reply, "state")) {
		fprintf(o.f, "rollout: ");
		rollout_line(o.f, reply, view);
	}
	return out_close(&o);
}

char *fctl_render_history(const json_t *reply, const struct fctl_view *view)
{
	const json_t *ev = json_is_array(reply) ? reply : jget(reply, "events");
	if (!json_is_array(ev))
		ev = jget(reply, "history");
	if (!json_is_array(ev))
		return fctl_render_generic(reply, view);
	struct out o;
	if (!out_open(&o))
		return NULL;
	struct fctl_table t;
	fctl_table_init(&t);
	fctl_table_col(&t, "WHEN");
	fctl_table_col(&t, "EVENT");
	fctl_table_col(&t, "GEN>");
	fctl_table_col(&t, "DETAIL");
	size_t i;
	const json_t *e;
	json_array_foreach(ev, i, e)
	{
		char when[FCTL_FIG], gen[FCTL_FIG];
		static const char *const tp[] = { "t_ms", "time_ms", "ts_ms", "at_ms", NULL };
		double t0;
		if (jnum_any(e, tp, &t0))
			fctl_fmt_ago(when, sizeof(when), (int64_t)t0, view->now_ms);
		else
			snprintf(when, sizeof(when), "-");
		const char *kind = jstr(e, "event") ? jstr(e, "event") : jstr(e, "type");
		if (!kind)
			kind = jstr(e, "kind");
		static const char *const gp[] = { "generation", "gen", "id", NULL };
		double g;
		if (jnum_any(e, gp, &g))
			snprintf(gen, sizeof(gen), "%.0f", g);
		else
			snprintf(gen, sizeof(gen), "-");
		/* the detail: the event's own text, plus any figures (with units) it carries */
		char detail[512];
		size_t dl = 0;
		detail[0] = '\0';
		const char *text = jstr(e, "detail") ? jstr(e, "detail") : jstr(e, "reason");
		if (!text)
			text = jstr(e, "message");
		if (text)
			dl += (size_t)snprintf(detail, sizeof(detail), "%s", text);
		const char *key;
		const json_t *v;
		json_object_foreach((json_t *)e, key, v)
		{
			if (json_is_object(v) || json_is_array(v) || !strcmp(key, "event") || !strcmp(key, "type") ||
			    !strcmp(key, "kind") || !strcmp(key, "detail") || !strcmp(key, "reason") ||
			    !strcmp(key, "message") || !strcmp(key, "generation") || !strcmp(key, "gen") ||
			    !strcmp(key, "id"))
				continue;
			bool is_time = false;
			for (const char *const *p = tp; *p; p++)
				if (!strcmp(*p, key))
					is_time = true;
			if (is_time || dl >= sizeof(detail) - 1)
				continue;
			char val[FCTL_FIG * 4];
			value_text(val, sizeof(val), key, v, view);
			int w = snprintf(detail + dl, sizeof(detail) - dl, "%s%s=%s", dl ? ", " : "", key, val);
			if (w > 0)
				dl += (size_t)w;
			if (dl >= sizeof(detail))
				dl = sizeof(detail) - 1;
		}
		const char *row[] = { when, kind, gen, detail };
		fctl_table_row(&t, row);
	}
	fctl_table_print(&t, o.f, 0);
	fctl_table_free(&t);
	return out_close(&o);
}

/* ---- status ------------------------------------------------------------------------- */

bool fctl_status_dataplane_down(const json_t *status)
{
	const json_t *dp = jget(status, "dataplane");
	if (json_is_object(dp)) {
		const json_t *c = json_object_get(dp, "up");
		if (!json_is_boolean(c))
			c = json_object_get(dp, "connected");
		if (json_is_boolean(c))
			return json_is_false(c);
		const char *st = jstr(dp, "state") ? jstr(dp, "state") : jstr(dp, "link");
		if (st)
			return strcmp(st, "up") && strcmp(st, "connected");
	}
	return json_is_false(jget(status, "dataplane_up"));
}

static void gen_line(FILE *f, const char *role, const json_t *g, const struct fctl_view *view)
{
	if (!json_is_object(g)) {
		fprintf(f, "  %-7s none\n", role);
		return;
	}
	char created[FCTL_FIG];
	fctl_fmt_ago(created, sizeof(created), (int64_t)jnum_or(g, "created_ms", 0), view->now_ms);
	const char *sha = jstr(g, "sha256");
	fprintf(f, "  %-7s generation %.0f, %.0f routes, sha256 %.12s, created %s\n", role, jnum_or(g, "id", 0),
		jnum_or(g, "routes", 0), sha ? sha : "-", created);
}

char *fctl_render_status(const json_t *status, const struct fctl_view *view)
{
	struct out o;
	if (!out_open(&o))
		return NULL;
	char a[FCTL_FIG];
	const json_t *ctl = jget(status, "control");
	if (json_is_object(ctl)) {
		double up;
		fprintf(o.f, "fanout-control");
		if (jstr(ctl, "version"))
			fprintf(o.f, " %s", jstr(ctl, "version"));
		if (jnum(ctl, "uptime_ms", &up))
			fprintf(o.f, ", up %s", fctl_fmt_duration_ms(a, sizeof(a), up));
		else if (jnum(ctl, "uptime_s", &up))
			fprintf(o.f, ", up %s", fctl_fmt_duration_ms(a, sizeof(a), up * 1000));
		if (jstr(ctl, "state_dir"))
			fprintf(o.f, ", state in %s", jstr(ctl, "state_dir"));
		fputc('\n', o.f);
	}
	const json_t *dp = jget(status, "dataplane");
	if (json_is_object(dp)) {
		bool down = fctl_status_dataplane_down(status);
		const char *sock = jstr(dp, "socket") ? jstr(dp, "socket") : jstr(dp, "path");
		fprintf(o.f, "dataplane: %s%s%s", down ? "UNREACHABLE" : "connected", sock ? " at " : "",
			sock ? sock : "");
		const char *err = jstr(dp, "error") ? jstr(dp, "error") : jstr(dp, "last_error");
		if (down && err)
			fprintf(o.f, " (%s)", err);
		double up;
		if (!down && jnum(dp, "uptime_ms", &up))
			fprintf(o.f, ", up %s", fctl_fmt_duration_ms(a, sizeof(a), up));
		else if (!down && jnum(dp, "uptime_s", &up))
			fprintf(o.f, ", up %s", fctl_fmt_duration_ms(a, sizeof(a), up * 1000));
		fputc('\n', o.f);
		if (down)
			fprintf(o.f, "  fanout-control keeps the desired state and pushes it when the dataplane "
				     "(re)connects; check `fanout-dataplane ... -- --control SOCKET`\n");
	}
	const json_t *gens = jget(status, "generations");
	if (json_is_object(gens)) {
		fprintf(o.f, "generations:\n");
		gen_line(o.f, "stable", jget(gens, "stable"), view);
		gen_line(o.f, "canary", jget(gens, "canary"), view);
		double share;
		if (jnum(gens, "share_bp", &share))
			fprintf(o.f, "  canary share %s, mode %s\n", fctl_fmt_bp(a, sizeof(a), (int64_t)share),
				jstr(gens, "mode") ? jstr(gens, "mode") : "-");
		const json_t *ls = jget(gens, "last_swap");
		if (json_is_object(ls)) {
			char b[FCTL_FIG];
			fprintf(o.f, "  last swap: %s, published in %s, all workers in %s\n",
				jstr(ls, "command") ? jstr(ls, "command") : "-",
				fctl_fmt_ns(a, sizeof(a), jnum_or(ls, "published_ns", NAN)),
				fctl_fmt_ns(b, sizeof(b), jnum_or(ls, "all_workers_ns", NAN)));
		}
	}
	if (jget(status, "rollout")) {
		fprintf(o.f, "rollout: ");
		rollout_line(o.f, status, view);
	}
	const json_t *outs = jget(status, "outputs");
	if (json_is_array(outs) && json_array_size(outs)) {
		fprintf(o.f, "outputs:\n");
		size_t i;
		const json_t *x;
		json_array_foreach(outs, i, x)
		{
			double bl;
			fprintf(o.f, "  %s (%s) %s", jstr(x, "name") ? jstr(x, "name") : "?",
				jstr(x, "kind") ? jstr(x, "kind") : "?",
				json_is_true(jget(x, "connected")) ? "up" : "DOWN");
			if (jnum(x, "backlog", &bl))
				fprintf(o.f, ", backlog %s msgs", fctl_fmt_count(a, sizeof(a), (uint64_t)bl));
			if (jstr(x, "last_error"))
				fprintf(o.f, ", last error: %s", jstr(x, "last_error"));
			fputc('\n', o.f);
		}
	}
	const char *const skip[] = { "control", "dataplane", "generations", "rollout", "outputs", NULL };
	generic(o.f, status, 0, view, skip);
	return out_close(&o);
}

/* ---- top ---------------------------------------------------------------------------- */

char *fctl_render_top(const json_t *stats, const json_t *prev_stats, const json_t *rollout, const char *err,
		      const struct fctl_view *view)
{
	struct out o;
	if (!out_open(&o))
		return NULL;
	time_t now = (time_t)(view->now_ms / 1000);
	struct tm tm;
	char clock[16] = "";
	if (localtime_r(&now, &tm))
		strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	fprintf(o.f, "fanout top  %s", clock);
	struct rate_src rs = rate_src_of(stats, prev_stats);
	const json_t *snap = stats ? rs.snap : NULL;
	double up;
	if (snap && jnum(snap, "uptime_s", &up)) {
		char a[FCTL_FIG];
		fprintf(o.f, "  dataplane up %s", fctl_fmt_duration_ms(a, sizeof(a), up * 1000));
	}
	fputc('\n', o.f);
	if (err)
		fprintf(o.f, "\n  %s\n", err);
	if (rollout) {
		fprintf(o.f, "\nrollout: ");
		rollout_line(o.f, rollout, view);
	}
	if (snap) {
		fprintf(o.f, "\ntraffic:\n");
		totals_table(o.f, &rs);
		fprintf(o.f, "\ndrops by reason:\n");
		drops_table(o.f, &rs, 8);
		if (rs.gens) {
			fprintf(o.f, "\ngenerations:\n");
			gen_table(o.f, &rs);
		}
	} else if (!err) {
		fprintf(o.f, "\n  no dataplane snapshot yet\n");
	}
	fprintf(o.f, "\nCtrl-C to quit\n");
	return out_close(&o);
}

/* ---- XDP pre-filter ------------------------------------------------------------------ */

char *fctl_render_xdp(const json_t *reply, const struct fctl_view *view)
{
	struct out o;
	const json_t *ports = jget(reply, "ports"), *p;
	size_t i;

	(void)view;
	if (!out_open(&o))
		return NULL;
	json_array_foreach(ports, i, p)
	{
		double pps = jnum_or(p, "rate_pps", 0), burst = jnum_or(p, "rate_burst", 0);
		fprintf(o.f, "XDP pre-filter, maps in %s\n", jstr(p, "pins") ? jstr(p, "pins") : "?");
		if (pps > 0)
			fprintf(o.f, "  rate limit   %.0f packets/s per source, burst %.0f\n", pps, burst);
		else
			fprintf(o.f, "  rate limit   off\n");
		const char *k;
		const json_t *v;
		json_object_foreach((json_t *)jget(p, "verdicts"), k, v)
			fprintf(o.f, "  %-12s %" JSON_INTEGER_FORMAT " packets\n", k, json_integer_value(v));
	}
	return out_close(&o);
}

char *fctl_render_block(const json_t *reply, const struct fctl_view *view)
{
	struct out o;
	const json_t *entries = jget(reply, "entries"), *e;
	size_t i;

	(void)view;
	if (!out_open(&o))
		return NULL;
	if (jstr(reply, "prefix")) {
		fprintf(o.f, "%s %s\n", jstr(reply, "prefix"),
			jget(reply, "added") ? "added to the blocklist" : "taken off the blocklist");
		return out_close(&o);
	}
	if (json_array_size(entries) == 0)
		fprintf(o.f, "blocklist empty\n");
	else
		fprintf(o.f, "%-44s %s\n", "prefix", "dropped");
	json_array_foreach(entries, i, e)
		fprintf(o.f, "%-44s %.0f\n", jstr(e, "prefix") ? jstr(e, "prefix") : "?", jnum_or(e, "drops", 0));
	return out_close(&o);
}

char *fctl_render_limit(const json_t *reply, const struct fctl_view *view)
{
	struct out o;
	double pps = jnum_or(reply, "rate_pps", 0);

	(void)view;
	if (!out_open(&o))
		return NULL;
	if (pps > 0)
		fprintf(o.f, "rate limit: %.0f packets/s per source, burst %.0f (%.0f port(s))\n", pps,
			jnum_or(reply, "rate_burst", 0), jnum_or(reply, "ports", 0));
	else
		fprintf(o.f, "rate limit off (%.0f port(s))\n", jnum_or(reply, "ports", 0));
	return out_close(&o);
}

/* ---- fleet ------------------------------------------------------------------------------ */

static const char *num_text(char *buf, size_t n, const json_t *o, const char *path)
{
	double v;
	if (!jnum(o, path, &v))
		return "-";
	snprintf(buf, n, "%.0f", v);
	return buf;
}

/* The fleet rollout's line and one row per member: what each was told and what it says. */
static void fleet_rollout_text(FILE *f, const json_t *fr, const struct fctl_view *view)
{
	char a[FCTL_FIG], b[FCTL_FIG];
	const char *st = jstr(fr, "state");
	double steps = jnum_or(fr, "steps", 0);

	fprintf(f, "fleet rollout: %s", st ? st : "-");
	if (st && strcmp(st, "idle")) {
		const char *order = jstr(fr, "order");
		fprintf(f, ", order %s", order && !strcmp(order, "each") ? "one appliance at a time" : "fleet-wide");
		if (order && !strcmp(order, "fleet") && (!strcmp(st, "running") || !strcmp(st, "promoting")))
			fprintf(f, ", step %.0f/%.0f", jnum_or(fr, "step", 0) + 1, steps);
		double t;
		if (jnum(fr, "started_ms", &t) && t > 0)
			fprintf(f, ", started %s", fctl_fmt_ago(a, sizeof(a), (int64_t)t, view->now_ms));
		if (jnum(fr, "ended_ms", &t) && t > 0)
			fprintf(f, ", ended %s", fctl_fmt_ago(b, sizeof(b), (int64_t)t, view->now_ms));
	}
	fputc('\n', f);
	const char *reason = jstr(fr, "reason");
	if (reason && *reason && st && strcmp(st, "idle"))
		fprintf(f, "  %s%s%s\n", reason, jstr(fr, "failed_appliance") ? "; failed appliance: " : "",
			jstr(fr, "failed_appliance") ? jstr(fr, "failed_appliance") : "");
}

char *fctl_render_fleet_rollout(const json_t *reply, const struct fctl_view *view)
{
	struct out o;
	if (!out_open(&o))
		return NULL;
	const json_t *fr = jget(reply, "fleet_rollout") ? jget(reply, "fleet_rollout") : reply;
	fleet_rollout_text(o.f, fr, view);
	struct fctl_table t;
	fctl_table_init(&t);
	fctl_table_col(&t, "APPLIANCE");
	fctl_table_col(&t, "STARTED");
	fctl_table_col(&t, "IN FLIGHT");
	fctl_table_col(&t, "ITS ROLLOUT");
	fctl_table_col(&t, "STEP>");
	fctl_table_col(&t, "ROLLBACK DUE");
	size_t i;
	const json_t *m;
	json_array_foreach(jget(fr, "members"), i, m)
	{
		char step[FCTL_FIG] = "-";
		double s;
		if (jnum(m, "step", &s))
			snprintf(step, sizeof(step), "%.0f", s + 1);
		const char *row[] = { jstr(m, "name"),
				      json_is_true(jget(m, "started")) ? "yes" : "no",
				      jstr(m, "in_flight"),
				      jstr(m, "state"),
				      step,
				      json_is_true(jget(m, "rollback_due")) ? "yes" : "no" };
		fctl_table_row(&t, row);
	}
	fctl_table_print(&t, o.f, 2);
	fctl_table_free(&t);
	/* FLEET ABORT/ROLLBACK: each member's reply */
	const json_t *ms = jget(reply, "members");
	if (json_is_object(ms)) {
		const char *k;
		const json_t *v;
		char a[FCTL_FIG];
		fprintf(o.f, "members:\n");
		json_object_foreach((json_t *)ms, k, v)
		{
			const char *e = jstr(v, "error");
			double ns;
			if (e)
				fprintf(o.f, "  %s: %s\n", k, e);
			else if (jnum(v, "total_ns", &ns))
				fprintf(o.f, "  %s: share 0 in %s\n", k, fctl_fmt_ns(a, sizeof(a), ns));
			else
				fprintf(o.f, "  %s: ok\n", k);
		}
	}
	return out_close(&o);
}

char *fctl_render_fleet_status(const json_t *reply, const struct fctl_view *view)
{
	struct out o;
	if (!out_open(&o))
		return NULL;
	char a[FCTL_FIG], b[FCTL_FIG], c[FCTL_FIG], d[FCTL_FIG];
	fprintf(o.f, "fleet: %.0f of %.0f appliances reachable\n", jnum_or(reply, "up", 0), jnum_or(reply, "total", 0));
	struct fctl_table t;
	fctl_table_init(&t);
	fctl_table_col(&t, "APPLIANCE");
	fctl_table_col(&t, "ENDPOINT");
	fctl_table_col(&t, "LINK");
	fctl_table_col(&t, "DATAPLANE");
	fctl_table_col(&t, "STABLE>");
	fctl_table_col(&t, "CANARY>");
	fctl_table_col(&t, "SHARE>");
	fctl_table_col(&t, "ROLLOUT");
	fctl_table_col(&t, "POLLED");
	size_t i;
	const json_t *m;
	json_array_foreach(jget(reply, "members"), i, m)
	{
		double share, polled;
		const char *row[] = { jstr(m, "name"),
				      jstr(m, "endpoint"),
				      json_is_true(jget(m, "up")) ? "up" : "DOWN",
				      json_is_true(jget(m, "dataplane_up")) ? "up" : "DOWN",
				      num_text(a, sizeof(a), m, "stable"),
				      num_text(b, sizeof(b), m, "canary"),
				      jnum(m, "share_bp", &share) ? fctl_fmt_bp(c, sizeof(c), (int64_t)share) : "-",
				      jstr(m, "rollout.state"),
				      jnum(m, "polled_ms", &polled) && polled > 0
					      ? fctl_fmt_ago(d, sizeof(d), (int64_t)polled, view->now_ms)
					      : "never" };
		fctl_table_row(&t, row);
	}
	fctl_table_print(&t, o.f, 2);
	fctl_table_free(&t);
	json_array_foreach(jget(reply, "members"), i, m)
	{
		if (jstr(m, "error"))
			fprintf(o.f, "  %s: %s\n", jstr(m, "name") ? jstr(m, "name") : "?", jstr(m, "error"));
	}
	fleet_rollout_text(o.f, jget(reply, "fleet_rollout"), view);
	return out_close(&o);
}

char *fctl_render_fleet_stats(const json_t *reply, const struct fctl_view *view)
{
	static const char *const cols[][2] = { { "rx", "RX>" },
					       { "delivered", "DELIVERED>" },
					       { "answered", "ANSWERED>" },
					       { "dropped", "DROPPED>" },
					       { "in_pipeline", "IN PIPELINE>" } };
	struct out o;
	(void)view;
	if (!out_open(&o))
		return NULL;
	char figs[2 + 2 * 5][FCTL_FIG];
	struct fctl_table t;
	fctl_table_init(&t);
	fctl_table_col(&t, "APPLIANCE");
	fctl_table_col(&t, "DATAPLANE");
	for (size_t k = 0; k < 5; k++)
		fctl_table_col(&t, cols[k][1]);
	fctl_table_col(&t, "RX/S>");
	size_t i;
	const json_t *m;
	const json_t *sum = jget(reply, "sum");
	size_t n = json_array_size(jget(reply, "members"));
	for (i = 0; i <= n; i++) {
		m = i < n ? json_array_get(jget(reply, "members"), i) : sum;
		const json_t *tot = jget(m, "totals");
		const char *row[8];
		char label[64];
		snprintf(label, sizeof(label), "sum of %.0f", jnum_or(reply, "members_summed", 0));
		row[0] = i < n ? jstr(m, "name") : label;
		row[1] = i < n ? (json_is_true(jget(m, "dataplane_up")) ? "up" : "DOWN") : "";
		for (size_t k = 0; k < 5; k++) {
			double v;
			row[2 + k] = jnum(tot, cols[k][0], &v) ? fctl_fmt_count(figs[k], sizeof(figs[k]), (uint64_t)v)
							       : "-";
		}
		double r;
		row[7] = jnum(m, "rates.rx", &r) ? fctl_fmt_rate(figs[5], sizeof(figs[5]), r, "pkt/s") : "-";
		fctl_table_row(&t, row);
	}
	fctl_table_print(&t, o.f, 0);
	fctl_table_free(&t);
	return out_close(&o);
}
