/* cmocka tests for control/lib/gates.c: parsing `metric<threshold` and judging figures. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gates.h"

static int parse(const char *s, struct gate *g, char *err)
{
	return gate_parse(s, strlen(s), g, err, 256);
}

static void test_parse_known_metrics(void **state)
{
	struct gate g;
	char err[256];
	(void)state;

	assert_int_equal(parse("drop_rate<0.01", &g, err), 0);
	assert_int_equal(g.metric, GATE_DROP_RATE);
	assert_true(g.threshold == 0.01);
	assert_int_equal(parse("error_rate<0.01", &g, err), 0);
	assert_int_equal(g.metric, GATE_ERROR_RATE);
	assert_int_equal(parse("  p99_us < 500 ", &g, err), 0);
	assert_int_equal(g.metric, GATE_P99_US);
	assert_true(g.threshold == 500);
	assert_int_equal(parse("delta_drop_rate<0.005", &g, err), 0);
	assert_int_equal(g.metric, GATE_DELTA_DROP_RATE);
	assert_int_equal(parse("sink_errors<1", &g, err), 0);
	assert_int_equal(g.metric, GATE_SINK_ERRORS);
	assert_int_equal(parse("delta_drop_rate<-0.5", &g, err), 0);
	assert_true(g.threshold == -0.5);
	assert_int_equal(parse("p99_us<1e3", &g, err), 0);
	assert_true(g.threshold == 1000);
}

static void test_parse_rejects(void **state)
{
	struct gate g;
	char err[256];
	(void)state;

	assert_int_equal(parse("latency<5", &g, err), -1);
	assert_non_null(strstr(err, "unknown metric 'latency'"));
	assert_non_null(strstr(err, "drop_rate, error_rate, p99_us, delta_drop_rate, sink_errors"));
	assert_int_equal(parse("drop_rate>0.01", &g, err), -1);
	assert_non_null(strstr(err, "metric<threshold"));
	assert_int_equal(parse("drop_rate<", &g, err), -1);
	assert_int_equal(parse("drop_rate<abc", &g, err), -1);
	assert_int_equal(parse("drop_rate<0.01x", &g, err), -1);
	assert_int_equal(parse("drop_rate<<1", &g, err), -1);
	assert_int_equal(parse("drop_rate<nan", &g, err), -1);
	assert_int_equal(parse("drop_rate<1e999", &g, err), -1);
	assert_int_equal(parse("", &g, err), -1);
	assert_int_equal(parse("<1", &g, err), -1);
	assert_int_equal(gate_parse("drop_rate<1\0", 12, &g, err, sizeof(err)), -1);
	char big[200];
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "p99_us<", 7);
	assert_int_equal(parse(big, &g, err), -1);
}

static void test_format_round_trips(void **state)
{
	const char *in[] = { "drop_rate<0.01", "p99_us<500", "delta_drop_rate<0.005", "sink_errors<1",
			     "error_rate<0.1" };
	char buf[96], err[256];
	struct gate g, g2;
	(void)state;

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		assert_int_equal(parse(in[i], &g, err), 0);
		assert_string_equal(gate_format(&g, buf, sizeof(buf)), in[i]);
		assert_int_equal(parse(buf, &g2, err), 0);
		assert_true(g2.threshold == g.threshold && g2.metric == g.metric);
	}
	g.metric = GATE_P99_US;
	g.threshold = 0.1 + 0.2; /* needs all 17 digits to round-trip */
	gate_format(&g, buf, sizeof(buf));
	assert_int_equal(parse(buf, &g2, err), 0);
	assert_true(g2.threshold == g.threshold);
}

static void test_passes_strictly_below(void **state)
{
	struct gate g = { GATE_DROP_RATE, 0.01 };
	struct gate_figures f = { { 0 } };
	(void)state;

	f.v[GATE_DROP_RATE] = 0.009;
	assert_true(gate_passes(&g, &f));
	f.v[GATE_DROP_RATE] = 0.01;
	assert_false(gate_passes(&g, &f));
	f.v[GATE_DROP_RATE] = NAN;
	assert_false(gate_passes(&g, &f));
	assert_string_equal(gate_metric_name(GATE_SINK_ERRORS), "sink_errors");
	assert_string_equal(gate_metric_name(GATE_METRIC_MAX), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_known_metrics),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_format_round_trips),
		cmocka_unit_test(test_passes_strictly_below),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
