/* fanoutctl's figure formatting and text tables (see fanoutctl_format.h). Every unit the
 * operator reads comes from here; the renderers never print a bare number for a rate, a
 * share, a latency, a size or a duration. */
#include "fanoutctl_format.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>

/* Three significant figures reads well in a table and is honest about sampling noise. */
static const char *fmt_scaled(char *buf, size_t n, double v, const char *const *units, const double *scale, int nunits)
{
	if (!isfinite(v)) {
		snprintf(buf, n, "- %s", units[0]);
		return buf;
	}
	int u = 0;
	while (u + 1 < nunits && fabs(v) >= scale[u + 1])
		u++;
	double x = v / scale[u];
	if (x == 0)
		snprintf(buf, n, "0 %s", units[u]);
	else if (u == 0 && x == floor(x))
		snprintf(buf, n, "%.0f %s", x, units[u]);
	else if (fabs(x) < 10)
		snprintf(buf, n, "%.2f %s", x, units[u]);
	else if (fabs(x) < 100)
		snprintf(buf, n, "%.1f %s", x, units[u]);
	else
		snprintf(buf, n, "%.0f %s", x, units[u]);
	return buf;
}

const char *fctl_fmt_rate(char *buf, size_t n, double per_s, const char *unit)
{
	char u0[24], u1[24], u2[24], u3[24];
	snprintf(u0, sizeof(u0), "%s", unit);
	snprintf(u1, sizeof(u1), "k%s", unit);
	snprintf(u2, sizeof(u2), "M%s", unit);
	snprintf(u3, sizeof(u3), "G%s", unit);
	const char *const units[] = { u0, u1, u2, u3 };
	static const double scale[] = { 1, 1e3, 1e6, 1e9 };
	/* Below 1/s a rate with decimals is still meaningful ("0.25 msg/s"). */
	return fmt_scaled(buf, n, per_s, units, scale, 4);
}

const char *fctl_fmt_pct(char *buf, size_t n, double fraction)
{
	if (!isfinite(fraction)) {
		snprintf(buf, n, "- %%");
		return buf;
	}
	double p = fraction * 100.0;
	if (p == 0)
		snprintf(buf, n, "0 %%");
	else if (p == floor(p) && fabs(p) >= 1)
		snprintf(buf, n, "%.0f %%", p);
	else if (fabs(p) < 0.01)
		snprintf(buf, n, "%.4f %%", p);
	else if (fabs(p) < 10)
		snprintf(buf, n, "%.2f %%", p);
	else
		snprintf(buf, n, "%.1f %%", p);
	return buf;
}

const char *fctl_fmt_bp(char *buf, size_t n, int64_t bp)
{
	if (bp % 100 == 0)
		snprintf(buf, n, "%lld %%", (long long)(bp / 100));
	else
		snprintf(buf, n, "%.2f %%", (double)bp / 100.0);
	return buf;
}

const char *fctl_fmt_ns(char *buf, size_t n, double ns)
{
	static const char *const units[] = { "ns", "µs", "ms", "s" };
	static const double scale[] = { 1, 1e3, 1e6, 1e9 };
	return fmt_scaled(buf, n, ns, units, scale, 4);
}

const char *fctl_fmt_bytes(char *buf, size_t n, double bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	static const double scale[] = { 1, 1024.0, 1024.0 * 1024, 1024.0 * 1024 * 1024, 1024.0 * 1024 * 1024 * 1024 };
	return fmt_scaled(buf, n, bytes, units, scale, 5);
}

const char *fctl_fmt_duration_ms(char *buf, size_t n, double ms)
{
	if (!isfinite(ms) || ms < 0) {
		snprintf(buf, n, "- s");
		return buf;
	}
	if (ms < 1)
		return fctl_fmt_ns(buf, n, ms * 1e6);
	if (ms < 1000) {
		snprintf(buf, n, ms < 10 ? "%.2f ms" : "%.0f ms", ms);
		return buf;
	}
	double s = ms / 1000.0;
	if (s < 60) {
		snprintf(buf, n, s < 10 ? "%.1f s" : "%.0f s", s);
		return buf;
	}
	uint64_t t = (uint64_t)llround(s);
	if (t < 3600)
		snprintf(buf, n, "%llu min %02llu s", (unsigned long long)(t / 60), (unsigned long long)(t % 60));
	else if (t < 86400)
		snprintf(buf, n, "%llu h %02llu min", (unsigned long long)(t / 3600),
			 (unsigned long long)(t % 3600 / 60));
	else
		snprintf(buf, n, "%llu d %02llu h", (unsigned long long)(t / 86400),
			 (unsigned long long)(t % 86400 / 3600));
	return buf;
}

const char *fctl_fmt_ago(char *buf, size_t n, int64_t when_ms, int64_t now_ms)
{
	if (when_ms <= 0) {
		snprintf(buf, n, "-");
		return buf;
	}
	int64_t d = now_ms - when_ms;
	char dur[FCTL_FIG];
	if (d >= 0 && d < 1000)
		snprintf(buf, n, "just now");
	else if (d >= 0)
		snprintf(buf, n, "%s ago", fctl_fmt_duration_ms(dur, sizeof(dur), (double)(d / 1000 * 1000)));
	else
		snprintf(buf, n, "in %s", fctl_fmt_duration_ms(dur, sizeof(dur), (double)(-d / 1000 * 1000)));
	return buf;
}

const char *fctl_fmt_count(char *buf, size_t n, uint64_t v)
{
	char digits[24];
	int len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v);
	char out[32];
	int o = 0;
	for (int i = 0; i < len; i++) {
		if (i && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	snprintf(buf, n, "%s", out);
	return buf;
}

int fctl_parse_duration_ms(const char *s, int64_t *ms)
{
	char *end;
	if (!s || !*s)
		return -1;
	double v = strtod(s, &end);
	if (end == s || !isfinite(v) || v < 0)
		return -1;
	double mult;
	if (!*end || !strcmp(end, "s"))
		mult = 1000;
	else if (!strcmp(end, "ms"))
		mult = 1;
	else if (!strcmp(end, "m") || !strcmp(end, "min"))
		mult = 60000;
	else if (!strcmp(end, "h"))
		mult = 3600000;
	else
		return -1;
	if (v * mult > 9e15)
		return -1;
	*ms = (int64_t)llround(v * mult);
	return 0;
}

size_t fctl_display_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

void fctl_table_init(struct fctl_table *t)
{
	memset(t, 0, sizeof(*t));
}

void fctl_table_col(struct fctl_table *t, const char *head)
{
	if (t->ncols >= FCTL_TABLE_MAX_COLS)
		return;
	size_t len = strlen(head);
	t->right[t->ncols] = len > 0 && head[len - 1] == '>';
	t->head[t->ncols] = head;
	t->ncols++;
}

void fctl_table_row(struct fctl_table *t, const char *const *cells)
{
	if (t->oom)
		return;
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * (size_t)t->ncols * sizeof(*c));
		if (!c) {
			t->oom = true;
			return;
		}
		t->cells = c;
		t->cap = cap;
	}
	for (int i = 0; i < t->ncols; i++) {
		char *d = strdup(cells[i] ? cells[i] : "-");
		if (!d)
			t->oom = true;
		t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = d;
	}
	t->nrows++;
}

static void print_cell(FILE *f, const char *s, size_t slen, size_t width, bool right, bool last)
{
	size_t w = fctl_display_width(s);
	size_t pad = width > w ? width - w : 0;
	if (right)
		fprintf(f, "%*s", (int)pad, "");
	fwrite(s, 1, slen, f);
	if (!right && !last)
		fprintf(f, "%*s", (int)pad, "");
}

void fctl_table_print(const struct fctl_table *t, FILE *f, int indent)
{
	size_t width[FCTL_TABLE_MAX_COLS];
	char head[FCTL_TABLE_MAX_COLS][64];
	for (int c = 0; c < t->ncols; c++) {
		snprintf(head[c], sizeof(head[c]), "%s", t->head[c]);
		if (t->right[c])
			head[c][strlen(head[c]) - 1] = '\0';
		width[c] = fctl_display_width(head[c]);
		for (size_t r = 0; r < t->nrows; r++) {
			const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
			size_t w = s ? fctl_display_width(s) : 1;
			if (w > width[c])
				width[c] = w;
		}
	}
	fprintf(f, "%*s", indent, "");
	for (int c = 0; c < t->ncols; c++) {
		print_cell(f, head[c], strlen(head[c]), width[c], t->right[c], c == t->ncols - 1);
		if (c < t->ncols - 1)
			fputs("  ", f);
	}
	fputc('\n', f);
	if (t->nrows == 0)
		fprintf(f, "%*s(none)\n", indent, "");
	for (size_t r = 0; r < t->nrows; r++) {
		fprintf(f, "%*s", indent, "");
		for (int c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
			if (!s)
				s = "?";
			print_cell(f, s, strlen(s), width[c], t->right[c], c == t->ncols - 1);
			if (c < t->ncols - 1)
				fputs("  ", f);
		}
		fputc('\n', f);
	}
	if (t->oom)
		fprintf(f, "%*s(out of memory: rows missing)\n", indent, "");
}

void fctl_table_free(struct fctl_table *t)
{
	if (t->cells)
		for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
			free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

/* ---- terminal safety ------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at p (n bytes left) and its code point; 0 if not valid. */
static size_t utf8_seq(const unsigned char *p, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c, min;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, c = p[0] & 0x1f, min = 0x80;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, c = p[0] & 0x0f, min = 0x800;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, c = p[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* C1 controls, and the bidirectional overrides that reorder what the terminal shows. */
static bool cp_unsafe(uint32_t c)
{
	return (c >= 0x80 && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

static void escape_to(FILE *f, const char *s, size_t len, bool keep_newline)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		unsigned char b = p[i];
		uint32_t cp;
		size_t l;
		if (b == '\n' && keep_newline) {
			fputc('\n', f);
			i++;
		} else if (b < 0x20 || b == 0x7f) {
			if (b == '\n')
				fputs("\\n", f);
			else if (b == '\r')
				fputs("\\r", f);
			else if (b == '\t')
				fputs("\\t", f);
			else
				fprintf(f, "\\x%02x", b);
			i++;
		} else if (b < 0x80) {
			fputc(b, f);
			i++;
		} else if ((l = utf8_seq(p + i, len - i, &cp)) == 0) {
			fprintf(f, "\\x%02x", b);
			i++;
		} else if (cp_unsafe(cp)) {
			fprintf(f, "\\u%04x", (unsigned)cp);
			i += l;
		} else {
			fwrite(p + i, 1, l, f);
			i += l;
		}
	}
}

static bool needs_escape(const char *s, size_t len, bool keep_newline)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t l;
		if ((p[i] < 0x20 && !(p[i] == '\n' && keep_newline)) || p[i] == 0x7f)
			return true;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((l = utf8_seq(p + i, len - i, &cp)) == 0 || cp_unsafe(cp))
			return true;
		i += l;
	}
	return false;
}

char *fctl_escape(const char *s, size_t len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	if (f == NULL)
		return NULL;
	escape_to(f, s, len, false);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

void fctl_fwrite_safe(FILE *f, const char *s, size_t len)
{
	escape_to(f, s, len, true);
}

/* keep_newline: a multi-line text shown as such (CONFIG SHOW's YAML). */
static void sanitize(json_t *j, bool keep_newline)
{
	if (json_is_string(j)) {
		const char *s = json_string_value(j);
		size_t len = json_string_length(j);
		if (needs_escape(s, len, keep_newline)) {
			char *e = NULL;
			size_t n = 0;
			FILE *f = open_memstream(&e, &n);
			if (f) {
				escape_to(f, s, len, keep_newline);
				if (fclose(f) != 0) {
					free(e);
					e = NULL;
				}
			}
			if (e)
				json_string_set(j, e);
			else
				json_string_set(j, "?");
			free(e);
		}
	} else if (json_is_array(j)) {
		size_t i;
		json_t *v;
		json_array_foreach(j, i, v) sanitize(v, false);
	} else if (json_is_object(j)) {
		const char *k;
		json_t *v;
		void *tmp;
		json_t *renamed = NULL;
		json_object_foreach_safe(j, tmp, k, v)
		{
			sanitize(v, !strcmp(k, "text") || !strcmp(k, "yaml"));
			if (needs_escape(k, strlen(k), false)) {
				char *e = fctl_escape(k, strlen(k));
				if (renamed == NULL)
					renamed = json_object();
				if (e && renamed)
					json_object_set(renamed, e, v);
				free(e);
				json_object_del(j, k);
			}
		}
		if (renamed) {
			json_object_update(j, renamed);
			json_decref(renamed);
		}
	}
}

json_t *fctl_sanitize_json(json_t *j)
{
	sanitize(j, false);
	return j;
}
