/* Rollout gates: parse `metric<threshold`, evaluate against a window's figures.
 * Text comes from operators over the network, so the parser is strict and fuzzed. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gates.h"

#define GATE_NAME_(id, name) name,
static const char *const metric_names[GATE_METRIC_MAX] = { FO_FOREACH_GATE_METRIC(GATE_NAME_) };
#undef GATE_NAME_

static const char known_list[] = "drop_rate, error_rate, p99_us, delta_drop_rate, sink_errors";

const char *gate_metric_name(enum gate_metric m)
{
	return (unsigned)m < GATE_METRIC_MAX ? metric_names[m] : "?";
}

static void trim(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

int gate_parse(const char *s, size_t len, struct gate *g, char *err, size_t errlen)
{
	const char *lt = len ? memchr(s, '<', len) : NULL;
	char num[GATE_TEXT_MAX + 1];
	const char *name, *val;
	size_t nlen, vlen;
	char *end;

	if (len > GATE_TEXT_MAX) {
		snprintf(err, errlen,
			 "gate longer than %d characters; write it as metric<threshold, e.g. drop_rate<0.01",
			 GATE_TEXT_MAX);
		return -1;
	}
	if (lt == NULL || memchr(s, '\0', len) != NULL) {
		snprintf(err, errlen, "gate '%.*s': expected metric<threshold, e.g. drop_rate<0.01 (metrics: %s)",
			 (int)len, s, known_list);
		return -1;
	}
	name = s;
	nlen = (size_t)(lt - s);
	val = lt + 1;
	vlen = len - nlen - 1;
	trim(&name, &nlen);
	trim(&val, &vlen);
	for (int m = 0; m < GATE_METRIC_MAX; m++) {
		if (strlen(metric_names[m]) != nlen || memcmp(metric_names[m], name, nlen) != 0)
			continue;
		if (vlen == 0 || memchr(val, '<', vlen) != NULL ||
		    !(isdigit((unsigned char)val[0]) || val[0] == '.' || val[0] == '-' || val[0] == '+')) {
			snprintf(err, errlen, "gate '%.*s': threshold must be a number, e.g. %s<0.01", (int)len, s,
				 metric_names[m]);
			return -1;
		}
		memcpy(num, val, vlen);
		num[vlen] = '\0';
		errno = 0;
		double t = strtod(num, &end);
		if (errno || *end != '\0' || !isfinite(t)) {
			snprintf(err, errlen, "gate '%.*s': threshold '%s' is not a finite number; e.g. %s<0.01",
				 (int)len, s, num, metric_names[m]);
			return -1;
		}
		g->metric = (enum gate_metric)m;
		g->threshold = t;
		return 0;
	}
	snprintf(err, errlen, "gate '%.*s': unknown metric '%.*s'; known metrics: %s", (int)len, s, (int)nlen, name,
		 known_list);
	return -1;
}

char *gate_format(const struct gate *g, char *buf, size_t n)
{
	snprintf(buf, n, "%s<%.17g", gate_metric_name(g->metric), g->threshold);
	/* %.17g round-trips; trim it back to the short form when that round-trips too */
	char shorter[64];
	snprintf(shorter, sizeof(shorter), "%s<%g", gate_metric_name(g->metric), g->threshold);
	if (strtod(strchr(shorter, '<') + 1, NULL) == g->threshold)
		snprintf(buf, n, "%s", shorter);
	return buf;
}

double gate_value(const struct gate *g, const struct gate_figures *f)
{
	return (unsigned)g->metric < GATE_METRIC_MAX ? f->v[g->metric] : NAN;
}

bool gate_passes(const struct gate *g, const struct gate_figures *f)
{
	return gate_value(g, f) < g->threshold; /* NaN fails */
}
