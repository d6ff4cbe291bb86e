/* fanoutctl's figure formatting and column-aligned text tables: every figure the CLI prints
 * goes through one of these so units are never missing (msg/s, %, ns/µs/ms/s, bytes).
 * Pure: plain numbers and strings in, text out; test/unit/test_fanoutctl_render.c drives them. */
#ifndef FANOUTCTL_FORMAT_H
#define FANOUTCTL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FCTL_FIG 32 /* room for any one formatted figure */

/* "0 msg/s", "12.5 msg/s", "1.23 kmsg/s", "4.56 Mmsg/s"; unit e.g. "msg/s", "pkt/s". */
const char *fctl_fmt_rate(char *buf, size_t n, double per_s, const char *unit);
/* A fraction 0..1 as a percentage: "0 %", "0.12 %", "12.5 %", "100 %". */
const char *fctl_fmt_pct(char *buf, size_t n, double fraction);
/* Basis points (0..10000) as a percentage: "5 %", "0.25 %". */
const char *fctl_fmt_bp(char *buf, size_t n, int64_t bp);
/* A latency in nanoseconds: "850 ns", "12.3 µs", "1.25 ms", "1.20 s". */
const char *fctl_fmt_ns(char *buf, size_t n, double ns);
/* A size: "512 B", "1.5 KiB", "3.2 MiB", "1.0 GiB". */
const char *fctl_fmt_bytes(char *buf, size_t n, double bytes);
/* A duration, humanised: "450 ms", "12 s", "3 min 05 s", "2 h 03 min", "3 d 04 h". */
const char *fctl_fmt_duration_ms(char *buf, size_t n, double ms);
/* How long ago a wall-clock time in ms was, given now in ms: "12 s ago", "just now",
 * "in 3 s" for a time in the future, "-" for 0 (never). */
const char *fctl_fmt_ago(char *buf, size_t n, int64_t when_ms, int64_t now_ms);
/* A count with thousands separators: "1,234,567". */
const char *fctl_fmt_count(char *buf, size_t n, uint64_t v);

/* "10s", "500ms", "2m", "1h", "1.5s" or a bare number of seconds -> ms; 0 on success,
 * -1 if it is not a non-negative duration. */
int fctl_parse_duration_ms(const char *s, int64_t *ms);

/* Columns of text cells, left- or right-aligned, widths from the widest cell
 * (in display columns: "µ" counts as one). */
enum { FCTL_TABLE_MAX_COLS = 16 };
struct fctl_table {
	int ncols;
	const char *head[FCTL_TABLE_MAX_COLS];
	bool right[FCTL_TABLE_MAX_COLS];
	size_t nrows, cap;
	char **cells; /* nrows * ncols, owned */
	bool oom;
};

void fctl_table_init(struct fctl_table *t);
/* Add a column; a header ending in '>' is right-aligned (the '>' is not printed). */
void fctl_table_col(struct fctl_table *t, const char *head);
/* Add a row of ncols cells (NULL prints as "-"). */
void fctl_table_row(struct fctl_table *t, const char *const *cells);
/* Print with indent spaces before each line; an empty table prints its header and "(none)". */
void fctl_table_print(const struct fctl_table *t, FILE *f, int indent);
void fctl_table_free(struct fctl_table *t);

/* Terminal safety: data from the network (ClientIds, topic names, errors) may hold ESC, NUL or
 * any byte. fctl_escape returns (malloc'd) s with every C0 control, DEL and C1 control (U+0080..
 * U+009F) written as \xNN (\n, \r, \t as such) and bytes that are not UTF-8 as \xNN; NULL when
 * out of memory. fctl_fwrite_safe writes s that way, keeping '\n'. fctl_sanitize_json escapes every
 * string and member name in j (in place) before a renderer sees it, keeping '\n' only in members
 * named "text" or "yaml" (CONFIG SHOW's config text); returns j. */
char *fctl_escape(const char *s, size_t len);
void fctl_fwrite_safe(FILE *f, const char *s, size_t len);
#include <jansson.h>
json_t *fctl_sanitize_json(json_t *j);

/* Display width of a UTF-8 string (code points, not bytes). */
size_t fctl_display_width(const char *s);

#endif
