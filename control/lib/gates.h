/* Rollout gates: `metric<threshold` over the canary's figures in the current step's hold window.
 * Pure: parsed from operator text (RESP/HTTP, so fuzzed), evaluated by rollout.c. */
#ifndef FANOUT_CONTROL_GATES_H
#define FANOUT_CONTROL_GATES_H

#include <stdbool.h>
#include <stddef.h>

#define FO_FOREACH_GATE_METRIC(_) \
	_(DROP_RATE, "drop_rate")             /* (drops + route_dropped) / msgs */ \
	_(ERROR_RATE, "error_rate")           /* error_replies / msgs */ \
	_(P99_US, "p99_us")                   /* canary rx->tx latency p99, microseconds */ \
	_(DELTA_DROP_RATE, "delta_drop_rate") /* canary drop_rate - stable drop_rate */ \
	_(SINK_ERRORS, "sink_errors")         /* canary's sink/bridge route drops in the window */

#define GATE_ENUM_(id, name) GATE_##id,
enum gate_metric { FO_FOREACH_GATE_METRIC(GATE_ENUM_) GATE_METRIC_MAX };
#undef GATE_ENUM_

#define GATE_TEXT_MAX 64 /* longest gate expression accepted */

struct gate {
	enum gate_metric metric;
	double threshold;
};

/* The figures gates are judged on; one value per metric. */
struct gate_figures {
	double v[GATE_METRIC_MAX];
};

/* Parses `metric<threshold` (blanks allowed around the parts). Returns 0, or -1 with a message
 * naming what is wrong and listing the known metrics. `s` need not be NUL-terminated. */
int gate_parse(const char *s, size_t len, struct gate *g, char *err, size_t errlen);

const char *gate_metric_name(enum gate_metric m);

/* "drop_rate<0.01" into buf; returns buf. */
char *gate_format(const struct gate *g, char *buf, size_t n);

/* The metric's value in f, and whether it passes (strictly below the threshold). */
double gate_value(const struct gate *g, const struct gate_figures *f);
bool gate_passes(const struct gate *g, const struct gate_figures *f);

#endif
