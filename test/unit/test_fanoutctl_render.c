/* Unit tests for fanoutctl's pure output: control/cli/fanoutctl_format.c (figures with units,
 * durations, tables) and control/cli/fanoutctl_render.c (fanout-control's JSON replies to text).
 * Every figure an operator reads must carry its unit; a missing figure shows "-", never 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fanoutctl_format.h"
#include "fanoutctl_render.h"

#include "json_text_helpers.h"

#define NOW_MS 1700000000000LL

static const struct fctl_view view = { .now_ms = NOW_MS, .width = 0 };

static void lacks(const char *text, const char *needle)
{
	if (strstr(text, needle)) {
		print_message("---- rendered ----\n%s---- unexpected: '%s'\n", text, needle);
		fail();
	}
}

static void test_rates(void **state)
{
	(void)state;
	char b[FCTL_FIG];
	assert_string_equal(fctl_fmt_rate(b, sizeof(b), 0, "msg/s"), "0 msg/s");
	assert_string_equal(fctl_fmt_rate(b, sizeof(b), 12, "msg/s"), "12 msg/s");
	assert_string_equal(fctl_fmt_rate(b, sizeof(b), 0.25, "msg/s"), "0.25 msg/s");
	assert_string_equal(fctl_fmt_rate(b, sizeof(b), 1234, "msg/s"), "1.23 kmsg/s");
	assert_string_equal(fctl_fmt_rate(b, sizeof(b), 45600, "pkt/s"), "45.6 kpkt/s");
	assert_string_equal(fctl_fmt_rate(b, sizeof(b), 4.56e6, "msg/s"), "4.56 Mmsg/s");
	assert_string_equal(fctl_fmt_rate(b, sizeof(b), 999, "msg/s"), "999 msg/s");
}

static void test_pct_bp(void **state)
{
	(void)state;
	char b[FCTL_FIG];
	assert_string_equal(fctl_fmt_pct(b, sizeof(b), 0), "0 %");
	assert_string_equal(fctl_fmt_pct(b, sizeof(b), 1), "100 %");
	assert_string_equal(fctl_fmt_pct(b, sizeof(b), 0.05), "5 %");
	assert_string_equal(fctl_fmt_pct(b, sizeof(b), 0.0012), "0.12 %");
	assert_string_equal(fctl_fmt_pct(b, sizeof(b), 0.125), "12.5 %");
	assert_string_equal(fctl_fmt_pct(b, sizeof(b), 0.00001), "0.0010 %");
	assert_string_equal(fctl_fmt_bp(b, sizeof(b), 500), "5 %");
	assert_string_equal(fctl_fmt_bp(b, sizeof(b), 25), "0.25 %");
	assert_string_equal(fctl_fmt_bp(b, sizeof(b), 10000), "100 %");
}

static void test_latency_bytes(void **state)
{
	(void)state;
	char b[FCTL_FIG];
	assert_string_equal(fctl_fmt_ns(b, sizeof(b), 850), "850 ns");
	assert_string_equal(fctl_fmt_ns(b, sizeof(b), 12300), "12.3 µs");
	assert_string_equal(fctl_fmt_ns(b, sizeof(b), 1250000), "1.25 ms");
	assert_string_equal(fctl_fmt_ns(b, sizeof(b), 1.2e9), "1.20 s");
	assert_string_equal(fctl_fmt_bytes(b, sizeof(b), 512), "512 B");
	assert_string_equal(fctl_fmt_bytes(b, sizeof(b), 1536), "1.50 KiB");
	assert_string_equal(fctl_fmt_bytes(b, sizeof(b), 3.2 * 1024 * 1024), "3.20 MiB");
}

static void test_durations(void **state)
{
	(void)state;
	char b[FCTL_FIG];
	assert_string_equal(fctl_fmt_duration_ms(b, sizeof(b), 450), "450 ms");
	assert_string_equal(fctl_fmt_duration_ms(b, sizeof(b), 2.5), "2.50 ms");
	assert_string_equal(fctl_fmt_duration_ms(b, sizeof(b), 4000), "4.0 s");
	assert_string_equal(fctl_fmt_duration_ms(b, sizeof(b), 12000), "12 s");
	assert_string_equal(fctl_fmt_duration_ms(b, sizeof(b), 185000), "3 min 05 s");
	assert_string_equal(fctl_fmt_duration_ms(b, sizeof(b), 7380000), "2 h 03 min");
	assert_string_equal(fctl_fmt_duration_ms(b, sizeof(b), 273600000), "3 d 04 h");
	assert_string_equal(fctl_fmt_duration_ms(b, sizeof(b), 0.0005), "500 ns");
	assert_string_equal(fctl_fmt_ago(b, sizeof(b), NOW_MS - 12000, NOW_MS), "12 s ago");
	assert_string_equal(fctl_fmt_ago(b, sizeof(b), NOW_MS - 300, NOW_MS), "just now");
	assert_string_equal(fctl_fmt_ago(b, sizeof(b), NOW_MS + 3000, NOW_MS), "in 3.0 s");
	assert_string_equal(fctl_fmt_ago(b, sizeof(b), 0, NOW_MS), "-");
	assert_string_equal(fctl_fmt_count(b, sizeof(b), 1234567), "1,234,567");
	assert_string_equal(fctl_fmt_count(b, sizeof(b), 999), "999");

	int64_t ms;
	assert_int_equal(fctl_parse_duration_ms("10s", &ms), 0);
	assert_int_equal(ms, 10000);
	assert_int_equal(fctl_parse_duration_ms("500ms", &ms), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(fctl_parse_duration_ms("2m", &ms), 0);
	assert_int_equal(ms, 120000);
	assert_int_equal(fctl_parse_duration_ms("1.5", &ms), 0);
	assert_int_equal(ms, 1500);
	assert_int_equal(fctl_parse_duration_ms("1h", &ms), 0);
	assert_int_equal(ms, 3600000);
	assert_int_equal(fctl_parse_duration_ms("-1s", &ms), -1);
	assert_int_equal(fctl_parse_duration_ms("10x", &ms), -1);
	assert_int_equal(fctl_parse_duration_ms("", &ms), -1);
}

static void test_table(void **state)
{
	(void)state;
	struct fctl_table t;
	fctl_table_init(&t);
	fctl_table_col(&t, "NAME");
	fctl_table_col(&t, "P99>");
	const char *r1[] = { "a", "12.3 µs" };
	const char *r2[] = { "longer", "850 ns" };
	fctl_table_row(&t, r1);
	fctl_table_row(&t, r2);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	fctl_table_print(&t, f, 0);
	fclose(f);
	fctl_table_free(&t);
	/* right-aligned in display columns: "µ" is one column though two bytes */
	assert_string_equal(buf, "NAME        P99\n"
				 "a       12.3 µs\n"
				 "longer   850 ns\n");
	free(buf);
}

static void test_value_units_from_names(void **state)
{
	(void)state;
	static const struct {
		const char *key, *json, *want;
	} cases[] = {
		{ "hold_ms", "10000", "10 s" },
		{ "created_ms", "1699999988000", "12 s ago" },
		{ "published_ns", "650", "650 ns" },
		{ "p99_us", "81.5", "81.5 µs" },
		{ "share_bp", "500", "5 %" },
		{ "drop_rate", "0.0012", "0.12 %" },
		{ "busy_pct", "42", "42 %" },
		{ "bytes", "2048", "2.00 KiB" },
		{ "uptime_s", "3725", "1 h 02 min" },
		{ "msgs", "1234567", "1,234,567" },
		{ "up", "true", "yes" },
		{ "canary", "null", "-" },
		{ "to", "[\"10.0.0.1:9000\", \"10.0.0.2:9000\"]", "10.0.0.1:9000, 10.0.0.2:9000" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
		assert_non_null(v);
		char *s = fctl_render_value(cases[i].key, v, &view);
		if (strcmp(s, cases[i].want))
			fail_msg("%s=%s rendered '%s', want '%s'", cases[i].key, cases[i].json, s, cases[i].want);
		free(s);
		json_decref(v);
	}
}

/* STATUS as fanout-control answers it (control/daemon/commands.c status_json). */
static const char *status_up =
	"{\"control\":{\"version\":\"0.1.0\",\"pid\":42,\"uptime_ms\":7380000,\"state_dir\":\"/var/lib/fanout\","
	"\"state_save_failures\":0},"
	"\"dataplane\":{\"up\":true,\"socket\":\"/run/fanout/dp.sock\",\"connects\":1,\"synced\":true,"
	"\"last_poll_ms\":1699999999800},"
	"\"generations\":{\"stable\":{\"id\":3,\"routes\":12,\"sha256\":\"0123456789abcdef0123\",\"created_ms\":"
	"1699999880000},"
	"\"canary\":{\"id\":4,\"routes\":13,\"sha256\":\"fedcba9876543210\",\"created_ms\":1699999990000},"
	"\"share_bp\":500,\"mode\":\"split\",\"swaps\":9,"
	"\"last_swap\":{\"command\":\"CANARY SHARE 500\",\"published_ns\":650,\"all_workers_ns\":12300}},"
	"\"desired\":{\"stable\":3,\"canary\":4,\"share_bp\":500,\"mode\":\"split\"},"
	"\"rollout\":{\"state\":\"running\",\"generation\":4,\"plan\":{\"steps\":[1.0,5.0,25.0,50.0,100.0],"
	"\"hold_ms\":10000,\"mode\":\"split\",\"gates\":[\"drop_rate<0.01\",\"p99_us<500\"],\"auto\":true},"
	"\"step\":1,\"share_bp\":500,\"started_ms\":1699999970000,\"step_started_ms\":1699999996000,\"ended_ms\":0,"
	"\"reason\":\"\",\"hold_left_ms\":6000,"
	"\"figures\":{\"drop_rate\":0.002,\"error_rate\":0.0,\"p99_us\":81.5,\"delta_drop_rate\":0.001,"
	"\"sink_errors\":0.0,\"window_msgs\":4000}},"
	"\"last_rollback\":null}";

static void test_status(void **state)
{
	(void)state;
	json_t *j = J(status_up);
	assert_false(fctl_status_dataplane_down(j));
	char *s = fctl_render_status(j, &view);
	contains(s, "fanout-control 0.1.0, up 2 h 03 min", "dataplane: connected at /run/fanout/dp.sock",
		 "stable  generation 3, 12 routes, sha256 0123456789ab, created 2 min 00 s ago",
		 "canary share 5 %, mode split", "published in 650 ns, all workers in 12.3 µs",
		 "rollout: running, step 2/5 at 5 % (split), canary generation 4, held 4.0 s of 10 s", NULL);
	free(s);
	json_decref(j);

	j = J("{\"control\":{\"uptime_ms\":1000},\"dataplane\":{\"up\":false,\"socket\":\"/run/dp.sock\","
	      "\"error\":\"connect: No such file or directory\"},\"generations\":null,"
	      "\"rollout\":{\"state\":\"idle\",\"plan\":{\"steps\":[]},\"step\":0,\"share_bp\":0}}");
	assert_true(fctl_status_dataplane_down(j));
	s = fctl_render_status(j, &view);
	contains(s, "dataplane: UNREACHABLE at /run/dp.sock (connect: No such file or directory)", "rollout: idle",
		 NULL);
	free(s);
	json_decref(j);
}

/* STATS: the dataplane snapshot plus fanout-control's rates (series point) and generations. */
static const char *stats_json =
	"{\"reason\":\"control\",\"uptime_s\":100.0,\"sampled_ms\":1699999999000,"
	"\"totals\":{\"rx\":1000000,\"delivered\":900000,\"answered\":99000,\"dropped\":1000,\"balanced\":true,"
	"\"drops\":{\"eth_runt\":0,\"udp_no_listener\":600,\"mqttsn_malformed\":400},"
	"\"out\":{\"generated\":5,\"sent\":5,\"dropped\":0,\"drops\":{\"no_neighbour\":0}},"
	"\"events\":{\"deliveries\":1800000}},"
	"\"workers\":[{\"index\":0,\"lcore\":1,\"sessions\":3,\"topics\":2,\"subscriptions\":4,\"inflight\":0}],"
	"\"rates\":{\"t_ms\":1699999999000,\"rx\":12345.0,\"deliveries\":24000.0,\"drops\":12.0,\"out_drops\":0.0,"
	"\"generations\":[{\"id\":3,\"role\":\"stable\",\"msg_rate\":11000.0,\"drop_rate\":0.001,\"error_rate\":0.0,"
	"\"p99_us\":80.0},{\"id\":4,\"role\":\"canary\",\"msg_rate\":580.0,\"drop_rate\":0.02,\"error_rate\":0.0,"
	"\"p99_us\":120.0}],\"share_bp\":500,\"rollout_step\":2},"
	"\"generations\":[{\"id\":3,\"role\":\"stable\",\"msgs\":950000,\"deliveries\":1700000,\"drops\":900,"
	"\"route_dropped\":0,\"error_replies\":0,\"latency_ns\":{\"samples\":10,\"p50\":20000,\"p90\":40000,"
	"\"p99\":80000,\"p999\":160000,\"max\":400000}},"
	"{\"id\":4,\"role\":\"canary\",\"msgs\":50000,\"deliveries\":100000,\"drops\":100,\"route_dropped\":0,"
	"\"error_replies\":0,\"latency_ns\":{\"samples\":0,\"p50\":0,\"p90\":0,\"p99\":0,\"p999\":0,\"max\":0}}]}";

static void test_stats(void **state)
{
	(void)state;
	json_t *j = J(stats_json);
	char *s = fctl_render_stats(j, &view);
	contains(s, "dataplane up 1 min 40 s, sampled 1.0 s ago, pipeline balanced", "1,000,000 pkts", "12.3 kpkt/s",
		 "24.0 kmsg/s", "udp_no_listener", "600 pkts", "11.0 kmsg/s", "580 msg/s", "0.10 %", "2 %", "80.0 µs",
		 "20.0 µs", NULL);
	lacks(s, "eth_runt"); /* zero reasons are noise */
	free(s);
	json_decref(j);
}

/* XDP, BLOCK and LIMIT replies (control/daemon/xdp_control.c), and the verdicts line of stats. */
static void test_xdp(void **state)
{
	(void)state;
	json_t *j = J(
		"{\"ports\":[{\"pins\":\"/sys/fs/bpf/fanout/eth1\",\"rate_pps\":100,\"rate_burst\":20,"
		"\"verdicts\":{\"redirected\":5,\"passed\":10,\"blocked\":20,\"rate_limited\":7,\"no_socket\":0}}]}");
	char *s = fctl_render_xdp(j, &view);
	contains(s, "XDP pre-filter, maps in /sys/fs/bpf/fanout/eth1", "100 packets/s per source, burst 20",
		 "blocked      20 packets", NULL);
	free(s);
	json_decref(j);
	j = J("{\"entries\":[{\"prefix\":\"198.18.0.3/32\",\"drops\":20},{\"prefix\":\"2001:db8::/32\",\"drops\":0}],"
	      "\"ports\":1}");
	s = fctl_render_block(j, &view);
	contains(s, "198.18.0.3/32", "20", "2001:db8::/32", NULL);
	free(s);
	json_decref(j);
	j = J("{\"entries\":[],\"ports\":1}");
	s = fctl_render_block(j, &view);
	contains(s, "blocklist empty", NULL);
	free(s);
	json_decref(j);
	j = J("{\"prefix\":\"198.18.0.0/24\",\"deleted\":true,\"ports\":1}");
	s = fctl_render_block(j, &view);
	contains(s, "198.18.0.0/24 taken off the blocklist", NULL);
	free(s);
	json_decref(j);
	j = J("{\"rate_pps\":0,\"rate_burst\":1,\"ports\":1}");
	s = fctl_render_limit(j, &view);
	contains(s, "rate limit off", NULL);
	free(s);
	json_decref(j);
	j = J("{\"uptime_s\":1.0,\"totals\":{\"rx\":5,\"delivered\":5,\"answered\":0,\"dropped\":0,"
	      "\"balanced\":true,\"drops\":{},\"xdp\":{\"redirected\":5,\"passed\":3,\"blocked\":2}}}");
	s = fctl_render_stats(j, &view);
	contains(s, "XDP pre-filter verdicts: redirected 5 passed 3 blocked 2", NULL);
	free(s);
	json_decref(j);
	j = J(stats_json); /* no pre-filter: no verdicts line */
	s = fctl_render_stats(j, &view);
	lacks(s, "XDP");
	free(s);
	json_decref(j);
}

/* top: the drops per reason are differenced against the previous frame's snapshot. */
static void test_top(void **state)
{
	(void)state;
	json_t *now = J(stats_json);
	json_t *prev = J(stats_json);
	json_object_set_new(prev, "uptime_s", json_real(98.0));
	json_object_set_new(json_object_get(json_object_get(prev, "totals"), "drops"), "udp_no_listener",
			    json_integer(400));
	json_t *ro = J("{\"state\":\"paused\",\"generation\":4,\"plan\":{\"steps\":[1.0,5.0],\"hold_ms\":10000,"
		       "\"mode\":\"mirror\",\"gates\":[],\"auto\":true},\"step\":0,\"share_bp\":100}");
	char *s = fctl_render_top(now, prev, ro, NULL, &view);
	contains(s, "rollout: paused, step 1/2 at 1 % (mirror), canary generation 4", "udp_no_listener",
		 "100 pkt/s", /* (600 - 400) / 2 s */
		 "mqttsn_malformed", "0 pkt/s", "Ctrl-C", NULL);
	free(s);
	/* the dataplane is away: the frame says so and shows no figures it does not have */
	s = fctl_render_top(NULL, NULL, ro, "dataplane unreachable (fanout-control is up)", &view);
	contains(s, "dataplane unreachable", "rollout: paused", NULL);
	lacks(s, "pkt/s");
	free(s);
	json_decref(now);
	json_decref(prev);
	json_decref(ro);
}

static void test_tables(void **state)
{
	(void)state;
	json_t *j = J("{\"total\":5,\"sessions\":[{\"worker\":0,\"client_id\":\"dev-1\",\"ip\":\"198.18.0.10\","
		      "\"port\":1883,\"state\":\"active\",\"keepalive_s\":60,\"side\":\"canary\",\"subscriptions\":2,"
		      "\"inflight\":0}]}");
	char *s = fctl_render_sessions(j, &view);
	contains(s, "CLIENT ID", "dev-1", "198.18.0.10:1883", "1 min 00 s", "canary", "1 of 5 sessions shown", NULL);
	free(s);
	json_decref(j);

	j = J("{\"stable\":[{\"name\":\"temps\",\"filter\":\"sensors/+/"
	      "t\",\"kind\":\"udp\",\"to\":[\"10.0.0.1:9000\"],\"format\":\"raw\","
	      "\"matched\":1234,\"copies\":1234,\"dropped\":0}],\"canary\":null}");
	s = fctl_render_routes(j, &view);
	contains(s, "stable (1 routes", "temps", "sensors/+/t", "10.0.0.1:9000", "1,234", "canary: none loaded", NULL);
	free(s);
	json_decref(j);

	j = J("{\"total\":2,\"events\":[{\"t_ms\":1699999940000,\"event\":\"config_apply\",\"id\":4,\"as\":\"canary\"},"
	      "{\"t_ms\":1699999990000,\"event\":\"rollback\",\"by\":\"gate\",\"reason\":\"drop_rate 0.02 >= 0.01\","
	      "\"total_ns\":1250000}]}");
	s = fctl_render_history(j, &view);
	contains(s, "1 min 00 s ago", "config_apply", "as=canary", "10 s ago", "rollback", "drop_rate 0.02 >= 0.01",
		 "total_ns=1.25 ms", NULL);
	free(s);
	json_decref(j);

	j = J("{\"versions\":[{\"id\":3,\"sha256\":\"0123456789abcdef\",\"created_ms\":1699999700000,\"outcome\":"
	      "\"stable\","
	      "\"bytes\":2048},{\"id\":4,\"sha256\":\"aa\",\"created_ms\":1699999990000,\"outcome\":\"canary\","
	      "\"bytes\":100}],\"desired\":{\"stable\":3,\"canary\":4,\"share_bp\":0,\"mode\":\"split\"}}");
	s = fctl_render_config_history(j, &view);
	contains(s, "5 min 00 s ago", "0123456789ab", "2.00 KiB", "100 B", "stable", "canary", NULL);
	free(s);
	json_decref(j);

	j = J("{\"generation\":4,\"as\":\"canary\",\"changes\":[{\"op\":\"add\",\"route\":\"temps\","
	      "\"detail\":\"sensors/+/t -> 10.0.0.1:9000\"}],\"restart_required\":[]}");
	s = fctl_render_config_changes(j, &view);
	contains(s, "generation 4 loaded as canary at share 0 %", "1 change against stable", "add", "temps", NULL);
	free(s);
	json_decref(j);

	/* a generation key beside a route */
	j = J("{\"generation\":5,\"as\":\"stable\",\"changes\":[{\"op\":\"add\",\"route\":\"temps\","
	      "\"detail\":\"sensors/+/t -> 10.0.0.1:9000\"},{\"op\":\"change\",\"key\":\"security.admission\","
	      "\"detail\":\"1 -> 2 rules (0 of the first 1 differ)\"}],\"restart_required\":[]}");
	s = fctl_render_config_changes(j, &view);
	contains(s, "generation 5 loaded as stable", "2 changes against stable", "ROUTE/KEY", "security.admission",
		 "1 -> 2 rules", NULL);
	free(s);
	json_decref(j);

	j = J("{\"changes\":[],\"restart_required\":[\"lcores\",\"ports\"]}");
	s = fctl_render_config_changes(j, &view);
	contains(s, "no changes against stable", "needs a dataplane restart (not applied live): lcores, ports", NULL);
	free(s);
	json_decref(j);
}

static void test_rollout(void **state)
{
	(void)state;
	json_t *j = J(status_up);
	char *s = fctl_render_rollout(json_object_get(j, "rollout"), &view);
	contains(s, "rollout: running, step 2/5 at 5 % (split)", "1 % -> [5 %] -> 25 % -> 50 % -> 100 %",
		 "10 s per step", "drop_rate<0.01", "0.20 %", "1 %", "p99_us<500", "81.5 µs", "500 µs", "yes", NULL);
	free(s);
	json_decref(j);

	j = J("{\"share_bp\":0,\"published_ns\":650,\"total_ns\":1250000,\"by\":\"operator\",\"reason\":\"operator\","
	      "\"rollout\":{\"state\":\"rolled_back\",\"generation\":4,\"plan\":{\"steps\":[1.0,5.0]},\"step\":1,"
	      "\"share_bp\":0,\"failed_gate\":{\"gate\":\"drop_rate<0.01\",\"value\":0.02,\"threshold\":0.01}}}");
	s = fctl_render_rollout_action("rollback", j, &view);
	contains(s, "rolled back: canary share 0 % in 1.25 ms", "650 ns inside the dataplane", "rolled_back",
		 "failed gate: drop_rate<0.01 with drop_rate = 2 %", NULL);
	free(s);
	json_decref(j);

	j = J("{\"stable\":4,\"rollout\":{\"state\":\"promoted\",\"plan\":{\"steps\":[1.0]},\"step\":0,\"share_bp\":0}"
	      "}");
	s = fctl_render_rollout_action("promote", j, &view);
	contains(s, "promoted: generation 4 is stable", "rollout: promoted", NULL);
	free(s);
	json_decref(j);
}

/* OUTPUTS as fanout-control answers it: the dataplane's reply plus rates, sampled_ms, dataplane_up. */
static const char *outputs_json =
	"{\"sinks\":[{\"name\":\"redis\",\"kind\":\"sink\",\"connected\":true,\"connected_since_ms\":1699999880000,"
	"\"ring\":9,\"ring_size\":1024,\"backlog\":12,\"inflight\":3,"
	"\"written\":1234567,\"failed\":2,\"discarded\":0,\"dup_suppressed\":1,\"batches\":40,\"errors\":1,"
	"\"reconnects\":1,\"connect_failures\":0,"
	"\"batch_hist\":[0,10,0,5,25,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"
	"\"rtt_us\":{\"n\":40,\"mean\":150.5,\"max\":900,\"p50\":127,\"p99\":1023},"
	"\"rtt_hist\":[0,0,0,0,0,0,0,0,30,9,1,0,0,0,0,0,0,0,0,0,0,0,0,0],"
	"\"last_error\":\"READONLY You can't write against a read only replica.\",\"redis\":\"127.0.0.1:6379\","
	"\"user\":\"fanout\",\"auth\":true,\"db\":0,\"batch\":64,\"batch_us\":500,\"maxlen\":100000,"
	"\"puback\":\"accepted\",\"rates\":{\"written_per_s\":2000.0,\"failed_per_s\":0.0}}],"
	"\"bridges\":[{\"name\":\"upstream\",\"kind\":\"bridge\",\"connected\":false,\"backlog\":0,\"inflight\":0,"
	"\"written\":50,\"failed\":0,\"discarded\":0,\"reconnects\":3,\"connect_failures\":9,\"errors\":4,"
	"\"last_error\":\"\",\"host\":\"10.0.0.9\",\"port\":1883,\"received\":7,\"injected\":6,"
	"\"inject_dropped\":1,\"rates\":{}}],"
	"\"dataplane_up\":true,\"sampled_ms\":1699999999000,\"interval_ms\":250}";

static void test_outputs(void **state)
{
	(void)state;
	json_t *j = J(outputs_json);
	assert_false(fctl_reply_stale(j));
	char *s = fctl_render_outputs(j, &view);
	assert_non_null(s);
	if (s == NULL)
		return;
	contains(s, "2 outputs (sinks and bridges), sampled 1.0 s ago, rates over 250 ms", "NAME", "WRITTEN/S",
		 "RTT P99", "redis", "sink", "up", "2.00 kmsg/s", "1,234,567", "127 µs", "1.02 ms", "upstream",
		 "bridge", "DOWN",
		 "redis (sink): Redis 127.0.0.1:6379 as fanout, PUBACK when accepted, batches of up to 64 entries or "
		 "500 µs, MAXLEN ~ 100,000, 1 retried XADDs Redis already had",
		 "  connected since 2 min 00 s ago; ring 9 of 1,024 entries (0.88 %)\n", "upstream (bridge)",
		 "  not connected\n",
		 "40 batches, entries per batch: 1 x10, 4-7 x5, 8-15 x25; round trip mean 150 µs, max 900 µs",
		 "last error: READONLY", "upstream (bridge): broker 10.0.0.9:1883, 9 failed connects",
		 "from upstream: 7 received, 6 delivered to MQTT-SN subscribers, 1 dropped", NULL);
	lacks(s, "dataplane unreachable");
	/* the bridge has no rate yet and no round trips: "-", never a made-up 0 */
	const char *row = strstr(s, "\nupstream ");
	assert_non_null(row);
	if (row == NULL)
		return; /* (assert_non_null has failed; tells the compiler too) */
	const char *eol = strchr(row + 1, '\n');
	char line[256];
	snprintf(line, sizeof(line), "%.*s", (int)(eol - row - 1), row + 1);
	contains(line, " - ", NULL);
	lacks(line, "msg/s");
	lacks(line, "µs");
	free(s);

	json_object_set_new(j, "dataplane_up", json_false());
	assert_true(fctl_reply_stale(j));
	s = fctl_render_outputs(j, &view);
	contains(s, "dataplane unreachable: these are the last figures it gave", NULL);
	free(s);
	json_decref(j);

	j = J("{\"sinks\":[],\"bridges\":[],\"dataplane_up\":true,\"sampled_ms\":1699999999000}");
	s = fctl_render_outputs(j, &view);
	contains(s, "0 outputs (sinks and bridges)", "no sinks or bridges configured", NULL);
	lacks(s, "RTT");
	free(s);
	json_decref(j);

	/* STATUS carries a summary of them */
	j = J(status_up);
	json_object_set_new(j, "outputs",
			    J("[{\"name\":\"redis\",\"kind\":\"sink\",\"connected\":true,\"backlog\":1200},"
			      "{\"name\":\"upstream\",\"kind\":\"bridge\",\"connected\":false,\"backlog\":0,"
			      "\"last_error\":\"connection refused\"}]"));
	s = fctl_render_status(j, &view);
	contains(s, "outputs:\n  redis (sink) up, backlog 1,200 msgs\n",
		 "  upstream (bridge) DOWN, backlog 0 msgs, last error: connection refused\n", NULL);
	free(s);
	json_decref(j);
}

/* ROUTES with sink and bridge routes (kind, target, template, counters; drops broken down). */
static void test_routes_outputs(void **state)
{
	(void)state;
	json_t *j = J("{\"stable\":[{\"name\":\"temps\",\"filter\":\"sensors/+/t\",\"kind\":\"udp\","
		      "\"to\":[\"10.0.0.1:9000\"],\"format\":\"mqttsn\",\"matched\":10,\"copies\":10,\"dropped\":0},"
		      "{\"name\":\"to-redis\",\"filter\":\"sensors/#\",\"kind\":\"sink\",\"target\":\"redis\","
		      "\"stream\":\"fanout:{topic}\",\"matched\":1000,\"queued\":990,\"written\":980,\"failed\":3,"
		      "\"ring_full\":6,\"pool_empty\":4,\"dropped\":13,\"backlog\":7},"
		      "{\"name\":\"up\",\"filter\":\"alerts/#\",\"kind\":\"bridge\",\"target\":\"upstream\","
		      "\"topic\":\"site1/{topic}\",\"matched\":5,\"queued\":5,\"written\":5,\"failed\":0,"
		      "\"ring_full\":0,\"pool_empty\":0,\"backlog\":0}],"
		      "\"canary\":[{\"name\":\"only-sink\",\"filter\":\"#\",\"kind\":\"sink\",\"target\":\"redis\","
		      "\"stream\":\"all\",\"matched\":0,\"queued\":0,\"written\":0,\"failed\":0,\"ring_full\":0,"
		      "\"pool_empty\":0,\"backlog\":0}]}");
	char *s = fctl_render_routes(j, &view);
	assert_non_null(s);
	if (s == NULL)
		return;
	contains(s, "stable (3 routes", "UDP routes", "temps", "10.0.0.1:9000", "mqttsn", "sink and bridge routes",
		 "KIND", "TARGET", "STREAM/TOPIC", "BACKLOG", "to-redis", "sink", "redis", "fanout:{topic}",
		 "site1/{topic}", "bridge", "upstream", "1,000",
		 "to-redis dropped 13 msgs: 3 failed (the sink gave up), 6 ring full, 4 pool empty", NULL);
	lacks(s, "up dropped"); /* no drops, no breakdown line */
	/* canary has only a sink route: no empty UDP table */
	const char *canary = strstr(s, "canary (1 routes");
	assert_non_null(canary);
	if (canary == NULL)
		return; /* (assert_non_null has failed; tells the compiler too) */
	lacks(canary, "UDP routes");
	lacks(canary, "COPIES");
	contains(canary, "only-sink", NULL);
	/* the sink route's row: matched, queued, written, dropped, backlog in that order */
	const char *row = strstr(s, "to-redis  ");
	assert_non_null(row);
	if (row == NULL)
		return; /* (assert_non_null has failed; tells the compiler too) */
	static const char *const order[] = { "sink", "sensors/#", "redis", "fanout:{topic}", "1,000", "990",
					     "980",  " 13",       " 7\n" };
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const char *at = strstr(row, order[i]);
		if (!at || memchr(row, '\n', (size_t)(at - row)))
			fail_msg("sink route row lacks '%s' in order: %s", order[i], row);
		row = at + strlen(order[i]) - (order[i][strlen(order[i]) - 1] == '\n');
	}
	free(s);
	json_decref(j);
}

static void test_config_show(void **state)
{
	(void)state;
	json_t *j = J("{\"id\":3,\"sha256\":\"abc\",\"created_ms\":1699999940000,\"text\":\"routes:\\n  - name: a\"}");
	char *s = fctl_render_config_show(j, &view);
	assert_string_equal(s, "# config version 3, created 1 min 00 s ago, sha256 abc\nroutes:\n  - name: a\n");
	free(s);
	json_decref(j);
}

/* ClientIds and topic names hold any byte: nothing reaches the terminal raw. */
static void test_control_bytes_escaped(void **state)
{
	(void)state;
	char *e = fctl_escape("a\x1b[2Jb\0c\x7f\n\xc2\x9b\xff\xe2\x80\xaeok\xc2\xb5", 20);
	assert_string_equal(e, "a\\x1b[2Jb\\x00c\\x7f\\n\\u009b\\xff\\u202eok\xc2\xb5");
	free(e);

	/* the dataplane's JSON (json_out.c) writes NUL as \u0000; fanoutctl parses it with JSON_ALLOW_NUL */
	const char *reply = "{\"total\":2,\"sessions\":[{\"worker\":0,\"client_id\":\"ev\\u001b]0;pwned\\u0007il\","
			    "\"ip\":\"198.18.0.10\",\"port\":1883,\"keepalive_s\":60,\"side\":\"stable\"},"
			    "{\"worker\":0,\"client_id\":\"nu\\u0000l\",\"ip\":\"198.18.0.11\",\"port\":1883,"
			    "\"keepalive_s\":60,\"side\":\"stable\"}]}";
	json_error_t je;
	json_t *j = json_loads(reply, JSON_ALLOW_NUL, &je);
	assert_non_null(j);
	char *s = fctl_render_sessions(fctl_sanitize_json(j), &view);
	contains(s, "ev\\x1b]0;pwned\\x07il", "nu\\x00l", NULL);
	for (const char *p = s; *p; p++)
		assert_true((unsigned char)*p >= 0x20 || *p == '\n');
	free(s);
	json_decref(j);

	j = J("{\"total\":1,\"topics\":[{\"worker\":0,\"id\":1,\"name\":\"t/\\u001b[31mred\"}],\"sh\\u001bx\":1}");
	fctl_sanitize_json(j);
	assert_non_null(json_object_get(j, "sh\\x1bx"));
	s = fctl_render_topics(j, &view);
	contains(s, "t/\\x1b[31mred", NULL);
	lacks(s, "\x1b");
	free(s);
	s = fctl_render_generic(j, &view);
	lacks(s, "\x1b");
	free(s);
	json_decref(j);

	/* CONFIG SHOW's text keeps its lines, nothing else */
	j = J("{\"id\":3,\"text\":\"routes:\\n  - name: \\u001bx\\n\",\"outcome\":\"a\\nb\"}");
	fctl_sanitize_json(j);
	assert_string_equal(json_string_value(json_object_get(j, "text")), "routes:\n  - name: \\x1bx\n");
	assert_string_equal(json_string_value(json_object_get(j, "outcome")), "a\\nb");
	json_decref(j);

	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	static const char msg[] = "unknown command '\x1b[2J'\nnext";
	fctl_fwrite_safe(f, msg, sizeof(msg) - 1);
	fclose(f);
	assert_string_equal(buf, "unknown command '\\x1b[2J'\nnext");
	free(buf);
}

/* FLEET STATUS, FLEET STATS and FLEET ROLLOUT (control/lib/fleet_view.c's shapes). */
static void test_fleet(void **state)
{
	(void)state;
	struct fctl_view fv = { .now_ms = 1700000010000, .width = 0 };
	json_t *j = J("{\"members\":[{\"name\":\"east\",\"endpoint\":\"tcp:10.0.0.7:7379\",\"up\":true,"
		      "\"polled_ms\":1700000009000,\"dataplane_up\":true,\"stable\":3,\"canary\":4,\"share_bp\":2500,"
		      "\"mode\":\"split\",\"rollout\":{\"state\":\"held\",\"step\":1}},"
		      "{\"name\":\"west\",\"endpoint\":\"unix:/run/w.sock\",\"up\":false,\"error\":\"connection "
		      "refused\",\"polled_ms\":0,\"dataplane_up\":false,\"stable\":null,\"canary\":null}],"
		      "\"up\":1,\"total\":2,\"fleet_rollout\":{\"state\":\"rolled_back\",\"order\":\"fleet\","
		      "\"steps\":2,\"step\":0,\"started_ms\":1700000000000,\"ended_ms\":1700000005000,"
		      "\"reason\":\"appliance west unreachable at step 1/2\",\"failed_appliance\":\"west\","
		      "\"members\":[{\"name\":\"east\",\"started\":true,\"in_flight\":\"none\",\"state\":"
		      "\"rolled_back\",\"step\":0,\"rollback_due\":false},{\"name\":\"west\",\"started\":true,"
		      "\"in_flight\":\"rollback\",\"rollback_due\":true}]}}");
	char *s = fctl_render_fleet_status(j, &fv);
	contains(s, "fleet: 1 of 2 appliances reachable", "east", "tcp:10.0.0.7:7379", "25 %", "held", "1.0 s ago",
		 "west: connection refused", "DOWN", "never", "fleet rollout: rolled_back, order fleet-wide",
		 "appliance west unreachable at step 1/2; failed appliance: west", NULL);
	free(s);
	s = fctl_render_fleet_rollout(j, &fv);
	contains(s, "APPLIANCE", "ROLLBACK DUE", "rollback", "rolled_back", NULL);
	free(s);
	json_decref(j);

	j = J("{\"members\":[{\"name\":\"east\",\"up\":true,\"dataplane_up\":true,\"totals\":{\"rx\":1234567,"
	      "\"delivered\":1000000,\"answered\":234567,\"dropped\":0,\"in_pipeline\":0},\"rates\":{\"rx\":150.5}},"
	      "{\"name\":\"west\",\"up\":true,\"dataplane_up\":false}],\"sum\":{\"totals\":{\"rx\":1234567},"
	      "\"rates\":{\"rx\":150.5}},\"members_summed\":1}");
	s = fctl_render_fleet_stats(j, &fv);
	contains(s, "APPLIANCE", "1,234,567", "150 pkt/s", "sum of 1", NULL);
	free(s);
	json_decref(j);

	j = J("{\"members\":{\"east\":{\"share_bp\":0,\"total_ns\":1250000},\"west\":{\"error\":\"dataplane "
	      "unreachable (x)\"}},\"ok\":1,\"failed\":1,\"fleet_rollout\":{\"state\":\"aborted\",\"order\":\"each\","
	      "\"reason\":\"aborted by the operator\",\"members\":[]}}");
	s = fctl_render_fleet_rollout(j, &fv);
	contains(s, "fleet rollout: aborted, order one appliance at a time", "aborted by the operator",
		 "east: share 0 in 1.25 ms", "west: dataplane unreachable (x)", NULL);
	free(s);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_pct_bp),
		cmocka_unit_test(test_latency_bytes),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_value_units_from_names),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_xdp),
		cmocka_unit_test(test_top),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_rollout),
		cmocka_unit_test(test_config_show),
		cmocka_unit_test(test_outputs),
		cmocka_unit_test(test_routes_outputs),
		cmocka_unit_test(test_control_bytes_escaped),
		cmocka_unit_test(test_fleet),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
