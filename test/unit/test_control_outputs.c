/* cmocka tests for fanout-control's view of the dataplane's outputs: control/lib/series.c turning GENSTATS
 * "outputs" into the sink_errors gate's sample, and control/lib/outputs_view.c (OUTPUTS with rates,
 * the STATUS summary, Prometheus text). The JSON is the dataplane's contract (docs/control.md). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "outputs_view.h"
#include "rollout.h"
#include "series.h"

#include "json_text_helpers.h"

/* not inlined: gcc -O2 with ASan otherwise warns (falsely) that text may be NULL in print_message */
__attribute__((noinline)) static void lacks(const char *text, const char *needle)
{
	if (strstr(text, needle)) {
		print_message("---- text ----\n%s---- unexpected: '%s'\n", text, needle);
		fail();
	}
}

static const char *generations_json =
	"{\"stable\":{\"id\":3,\"routes\":2},\"canary\":{\"id\":4,\"routes\":3},\"share_bp\":500,\"mode\":\"split\"}";

/* GENSTATS with the outputs member; n = canary's failed, ring_full, pool_empty scale */
static json_t *genstats(uint64_t msgs, uint64_t failed, uint64_t ring_full, uint64_t pool_empty)
{
	char buf[2048];
	snprintf(buf, sizeof(buf),
		 "{\"uptime_ms\":1000,\"generations\":["
		 "{\"id\":3,\"role\":\"stable\",\"msgs\":9000,\"drops\":1,\"route_dropped\":0,\"error_replies\":0,"
		 "\"latency_ns\":{\"samples\":0,\"p99\":0},\"latency_hist\":[],"
		 "\"outputs\":{\"matched\":100,\"queued\":90,\"written\":80,\"failed\":500,\"ring_full\":500,"
		 "\"pool_empty\":500,\"backlog\":10}},"
		 "{\"id\":4,\"role\":\"canary\",\"msgs\":%llu,\"drops\":0,\"route_dropped\":0,\"error_replies\":0,"
		 "\"latency_ns\":{\"samples\":0,\"p99\":0},\"latency_hist\":[],"
		 "\"outputs\":{\"matched\":%llu,\"queued\":%llu,\"written\":%llu,\"failed\":%llu,\"ring_full\":%llu,"
		 "\"pool_empty\":%llu,\"backlog\":0}},"
		 "{\"id\":2,\"role\":\"retired\",\"msgs\":1,\"outputs\":{\"matched\":0,\"queued\":0,\"written\":0,"
		 "\"failed\":77,\"ring_full\":0,\"pool_empty\":0,\"backlog\":0}}]}",
		 (unsigned long long)msgs, (unsigned long long)msgs,
		 (unsigned long long)(msgs - ring_full - pool_empty),
		 (unsigned long long)(msgs - ring_full - pool_empty - failed), (unsigned long long)failed,
		 (unsigned long long)ring_full, (unsigned long long)pool_empty);
	return J(buf);
}

/* The gate's figure comes from the canary generation's GENSTATS outputs, differenced over the window. */
static void test_sample_sink_errors_from_genstats(void **state)
{
	static struct ro_sample a, b;
	struct gate_figures f;
	uint64_t msgs;
	(void)state;

	json_t *g = J(generations_json);
	json_t *s0 = genstats(1000, 2, 3, 0), *s1 = genstats(1500, 4, 5, 1);
	assert_int_equal(series_rollout_sample(g, s0, 100, &a), 0);
	assert_int_equal(series_rollout_sample(g, s1, 200, &b), 0);
	assert_int_equal(a.canary_id, 4);
	assert_int_equal(a.canary.out_failed, 2);
	assert_int_equal(a.canary.out_ring_full, 3);
	assert_int_equal(a.canary.out_pool_empty, 0);
	assert_int_equal(a.stable.out_failed, 500);
	assert_int_equal(ro_window_figures(&a, &b, &f, &msgs), 0);
	assert_int_equal(msgs, 500);
	assert_true(f.v[GATE_SINK_ERRORS] == (4 + 5 + 1) - (2 + 3 + 0));

	/* a dataplane without outputs: GENSTATS has no "outputs" member, the figure is 0 */
	json_t *old = J("{\"generations\":[{\"id\":4,\"role\":\"canary\",\"msgs\":10}]}");
	assert_int_equal(series_rollout_sample(g, old, 300, &b), 0);
	assert_int_equal(ro_out_dropped(&b.canary), 0);
	assert_int_equal(b.canary.msgs, 10);
	json_decref(old);
	json_decref(s0);
	json_decref(s1);
	json_decref(g);
}

static const char *outputs_t0 =
	"{\"sinks\":[{\"name\":\"redis\",\"kind\":\"sink\",\"connected\":true,\"backlog\":12,\"inflight\":3,"
	"\"written\":1000,\"failed\":2,\"discarded\":0,\"dup_suppressed\":1,\"batches\":40,\"errors\":1,\"reconnects\":"
	"1,"
	"\"connect_failures\":2,"
	"\"batch_hist\":[0,10,0,5,25,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"
	"\"rtt_us\":{\"n\":40,\"mean\":150.5,\"max\":900,\"p50\":127,\"p99\":1023},"
	"\"rtt_hist\":[0,0,0,0,0,0,0,0,30,9,1,0,0,0,0,0,0,0,0,0,0,0,0,0],"
	"\"last_error\":\"READONLY You can't write against a read only replica.\",\"redis\":\"127.0.0.1:6379\","
	"\"puback\":\"accepted\"}],"
	"\"bridges\":[{\"name\":\"up\\\"link\",\"kind\":\"bridge\",\"connected\":false,\"backlog\":0,\"inflight\":0,"
	"\"written\":50,\"failed\":0,\"discarded\":0,\"reconnects\":3,\"connect_failures\":9,\"errors\":4,"
	"\"last_error\":\"\",\"host\":\"10.0.0.9\",\"port\":1883,\"received\":7,\"injected\":6,\"inject_dropped\":1}]}";

static void test_rates_and_summary(void **state)
{
	(void)state;
	json_t *prev = J(outputs_t0), *cur = J(outputs_t0);
	json_t *sink = json_array_get(json_object_get(cur, "sinks"), 0);
	json_t *br = json_array_get(json_object_get(cur, "bridges"), 0);
	json_object_set_new(sink, "written", json_integer(1500));
	json_object_set_new(sink, "batches", json_integer(50));
	json_object_set_new(br, "written", json_integer(10)); /* went backwards: no rate */
	json_object_set_new(br, "received", json_integer(17));

	json_t *r = ov_with_rates(cur, prev, 0.5);
	assert_non_null(r);
	json_t *rs = json_object_get(json_array_get(json_object_get(r, "sinks"), 0), "rates");
	json_t *rb = json_object_get(json_array_get(json_object_get(r, "bridges"), 0), "rates");
	assert_true(json_real_value(json_object_get(rs, "written_per_s")) == 1000.0);
	assert_true(json_real_value(json_object_get(rs, "batches_per_s")) == 20.0);
	assert_true(json_real_value(json_object_get(rs, "failed_per_s")) == 0.0);
	assert_null(json_object_get(rs, "received_per_s")); /* not a sink's counter */
	assert_null(json_object_get(rb, "written_per_s"));
	assert_true(json_real_value(json_object_get(rb, "received_per_s")) == 20.0);
	/* the dataplane's members pass through unchanged */
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(r, "sinks"), 0), "backlog")),
			 12);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r, "sinks"), 0), "redis")),
			    "127.0.0.1:6379");
	json_decref(r);

	/* no previous poll: empty rates, never made-up zeros */
	r = ov_with_rates(cur, NULL, 0);
	rs = json_object_get(json_array_get(json_object_get(r, "sinks"), 0), "rates");
	assert_true(json_is_object(rs) && json_object_size(rs) == 0);
	json_decref(r);
	assert_null(ov_with_rates(NULL, prev, 1));

	json_t *sum = ov_summary(cur);
	assert_int_equal(json_array_size(sum), 2);
	json_t *s0 = json_array_get(sum, 0), *s1 = json_array_get(sum, 1);
	assert_string_equal(json_string_value(json_object_get(s0, "name")), "redis");
	assert_string_equal(json_string_value(json_object_get(s0, "kind")), "sink");
	assert_true(json_is_true(json_object_get(s0, "connected")));
	assert_int_equal(json_integer_value(json_object_get(s0, "backlog")), 12);
	assert_non_null(json_object_get(s0, "last_error"));
	assert_string_equal(json_string_value(json_object_get(s1, "kind")), "bridge");
	assert_true(json_is_false(json_object_get(s1, "connected")));
	assert_null(json_object_get(s1, "last_error")); /* "" is no error */
	json_decref(sum);
	assert_null(ov_summary(NULL));
	json_decref(prev);
	json_decref(cur);
}

static char *metrics_text(json_t *outputs, json_t *gens)
{
	struct evbuffer *b = evbuffer_new();
	ov_metrics(b, outputs, gens);
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);
	if (s == NULL)
		abort();
	evbuffer_copyout(b, s, n);
	s[n] = '\0';
	evbuffer_free(b);
	return s;
}

/* Each line is a comment or `name{labels} value` with a finite number. */
static void well_formed(const char *text)
{
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		assert_non_null(nl);
		if (*p != '#') {
			const char *sp = nl;
			while (sp > p && sp[-1] != ' ')
				sp--;
			char *end;
			double v = strtod(sp, &end);
			if (end != nl || !isfinite(v) || sp == p)
				fail_msg("bad metrics line: %.*s", (int)(nl - p), p);
		}
		p = nl + 1;
	}
}

static void test_prometheus(void **state)
{
	(void)state;
	json_t *o = J(outputs_t0);
	json_t *gs = genstats(1500, 4, 5, 1);
	char *m = metrics_text(o, json_object_get(gs, "generations"));
	well_formed(m);
	contains(m, "# TYPE fanout_output_connected gauge\n",
		 "fanout_output_connected{output=\"redis\",kind=\"sink\"} 1\n",
		 "fanout_output_connected{output=\"up\\\"link\",kind=\"bridge\"} 0\n", /* label escaped */
		 "fanout_output_info{output=\"redis\",kind=\"sink\",server=\"127.0.0.1:6379\",puback=\"accepted\"} 1\n",
		 "fanout_output_info{output=\"up\\\"link\",kind=\"bridge\",server=\"10.0.0.9:1883\"} 1\n",
		 "fanout_output_backlog{output=\"redis\",kind=\"sink\"} 12\n",
		 "# TYPE fanout_output_written_total counter\n",
		 "fanout_output_written_total{output=\"redis\",kind=\"sink\"} 1000\n",
		 "fanout_output_failed_total{output=\"redis\",kind=\"sink\"} 2\n",
		 "fanout_output_reconnects_total{output=\"up\\\"link\",kind=\"bridge\"} 3\n",
		 "fanout_output_errors_total{output=\"redis\",kind=\"sink\"} 1\n",
		 "fanout_output_injected_total{output=\"up\\\"link\",kind=\"bridge\"} 6\n",
		 /* batch sizes: bucket i = bit length i, so le = 2^i - 1 entries, cumulative */
		 "# TYPE fanout_output_batch_entries histogram\n",
		 "fanout_output_batch_entries_bucket{output=\"redis\",kind=\"sink\",le=\"0\"} 0\n",
		 "fanout_output_batch_entries_bucket{output=\"redis\",kind=\"sink\",le=\"1\"} 10\n",
		 "fanout_output_batch_entries_bucket{output=\"redis\",kind=\"sink\",le=\"3\"} 10\n",
		 "fanout_output_batch_entries_bucket{output=\"redis\",kind=\"sink\",le=\"7\"} 15\n",
		 "fanout_output_batch_entries_bucket{output=\"redis\",kind=\"sink\",le=\"15\"} 40\n",
		 "fanout_output_batch_entries_bucket{output=\"redis\",kind=\"sink\",le=\"+Inf\"} 40\n",
		 "fanout_output_batch_entries_count{output=\"redis\",kind=\"sink\"} 40\n",
		 /* round trip: bucket 8 = 128..255 us, le 256 us */
		 "# TYPE fanout_output_batch_rtt_seconds histogram\n",
		 "fanout_output_batch_rtt_seconds_bucket{output=\"redis\",kind=\"sink\",le=\"0.000128\"} 0\n",
		 "fanout_output_batch_rtt_seconds_bucket{output=\"redis\",kind=\"sink\",le=\"0.000256\"} 30\n",
		 "fanout_output_batch_rtt_seconds_bucket{output=\"redis\",kind=\"sink\",le=\"0.000512\"} 39\n",
		 "fanout_output_batch_rtt_seconds_bucket{output=\"redis\",kind=\"sink\",le=\"0.001024\"} 40\n",
		 "fanout_output_batch_rtt_seconds_sum{output=\"redis\",kind=\"sink\"} 0.00602\n",
		 "fanout_output_batch_rtt_seconds_count{output=\"redis\",kind=\"sink\"} 40\n",
		 "fanout_output_batch_rtt_quantile_seconds{output=\"redis\",kind=\"sink\",quantile=\"0.99\"} "
		 "0.001023000\n",
		 "fanout_output_batch_rtt_max_seconds{output=\"redis\",kind=\"sink\"} 0.000900000\n",
		 /* per generation */
		 "fanout_generation_output_matched_total{generation=\"4\",role=\"canary\"} 1500\n",
		 "fanout_generation_output_written_total{generation=\"3\",role=\"stable\"} 80\n",
		 "fanout_generation_output_backlog{generation=\"3\",role=\"stable\"} 10\n",
		 "fanout_generation_output_dropped_total{generation=\"4\",role=\"canary\",reason=\"failed\"} 4\n",
		 "fanout_generation_output_dropped_total{generation=\"4\",role=\"canary\",reason=\"ring_full\"} 5\n",
		 "fanout_generation_output_dropped_total{generation=\"4\",role=\"canary\",reason=\"pool_empty\"} 1\n",
		 "fanout_generation_output_dropped_total{generation=\"2\",role=\"retired\",reason=\"failed\"} 77\n",
		 NULL);
	lacks(m, "fanout_output_batch_entries_sum");               /* the dataplane gives no sum of batch sizes */
	lacks(m, "fanout_output_received_total{output=\"redis\""); /* bridges' counters only on bridges */
	/* every family is declared once */
	size_t n = 0;
	for (const char *p = m; (p = strstr(p, "# TYPE fanout_output_written_total ")); p++)
		n++;
	assert_int_equal(n, 1);
	free(m);

	/* nothing configured, nothing known: no output series, no empty families */
	json_t *none = J("{\"sinks\":[],\"bridges\":[]}");
	json_t *old = J("[{\"id\":1,\"role\":\"stable\",\"msgs\":5}]");
	m = metrics_text(none, old);
	assert_string_equal(m, "");
	free(m);
	m = metrics_text(NULL, NULL);
	assert_string_equal(m, "");
	free(m);
	json_decref(none);
	json_decref(old);
	json_decref(gs);
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample_sink_errors_from_genstats),
		cmocka_unit_test(test_rates_and_summary),
		cmocka_unit_test(test_prometheus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
