/* cmocka tests for control/lib/state_store.c: state.json written and read back in a real temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "state_store.h"

#define SHA_ROUTES_EMPTY "53c772ade0170baffdebe3ab4e3302735401c3611535f3547361d29bd3223bd0"

static char dir[64];
static char err[512];

static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/fanout-state-test-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_absent_file_is_empty_state(void **state)
{
	struct ctl_state st;
	(void)state;

	assert_int_equal(st_load(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(st.n_versions, 0);
	assert_int_equal(st.stable_id, 0);
	assert_int_equal(st.rollout.state, RO_IDLE);
	assert_int_equal(json_array_size(st.history), 0);
	st_free(&st);
}

static void test_round_trip(void **state)
{
	struct ctl_state st, back;
	struct ro_plan p;
	struct ro_decision d;
	char path[128];
	struct stat sb;
	(void)state;

	st_init(&st);
	assert_non_null(st_version_add(&st, 2, "routes: []\n", 11, 1000));
	assert_non_null(st_version_add(&st, 5, "routes:\n  - name: \"q\\\"uote\"\n", 28, 2000));
	assert_null(st_version_add(&st, 5, "dup", 3, 3000));
	st_version_outcome(&st, 2, "stable");
	st_version_outcome(&st, 5, "canary");
	st.stable_id = 2;
	st.canary_id = 5;
	st.share_bp = 500;
	st.mode = RO_MODE_MIRROR;
	ro_plan_default(&p);
	assert_int_equal(ro_parse_steps("0.5,5,100", 9, &p, err, sizeof(err)), 0);
	assert_int_equal(gate_parse("p99_us<500", 10, &p.gates[0], err, sizeof(err)), 0);
	assert_int_equal(gate_parse("delta_drop_rate<0.005", 21, &p.gates[1], err, sizeof(err)), 0);
	p.n_gates = 2;
	p.hold_ms = 1500;
	p.auto_advance = false;
	assert_int_equal(ro_start(&st.rollout, &p, 5, 4000, &d, err, sizeof(err)), 0);
	st.rollout.step = 1;
	st.rollout.share_bp = 500;
	st.last_rollback.set = true;
	st.last_rollback.total_ns = 123456;
	st.last_rollback.published_ns = 789;
	snprintf(st.last_rollback.by, sizeof(st.last_rollback.by), "gate");
	st_event(&st, 4000, "config_apply", json_pack("{s:i}", "id", 5));
	st_event(&st, 4001, "dataplane_up", NULL);
	json_array_append_new(json_object_get(st.xdp, "block"), json_string("198.18.0.0/24"));
	json_array_append_new(json_object_get(st.xdp, "block"), json_string("2001:db8::/32"));
	json_object_set_new(st.xdp, "rate_pps", json_integer(1000));
	json_object_set_new(st.xdp, "rate_burst", json_integer(50));
	assert_int_equal(st_save(dir, &st, err, sizeof(err)), 0);

	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/state.json.tmp", dir);
	assert_int_not_equal(stat(path, &sb), 0);

	assert_int_equal(st_load(dir, &back, err, sizeof(err)), 0);
	assert_int_equal(back.last_id, 5);
	assert_int_equal(back.stable_id, 2);
	assert_int_equal(back.canary_id, 5);
	assert_int_equal(back.share_bp, 500);
	assert_int_equal(back.mode, RO_MODE_MIRROR);
	assert_int_equal(back.n_versions, 2);
	assert_string_equal(back.versions[1].text, st.versions[1].text);
	assert_string_equal(back.versions[1].sha256, st.versions[1].sha256);
	/* sha256 of "routes: []\n" (as sha256sum prints it) */
	assert_string_equal(back.versions[0].sha256, SHA_ROUTES_EMPTY);
	assert_string_equal(back.versions[0].outcome, "stable");
	assert_int_equal(back.versions[1].created_ms, 2000);
	assert_int_equal(back.rollout.state, RO_RUNNING);
	assert_int_equal(back.rollout.generation, 5);
	assert_int_equal(back.rollout.plan.n_steps, 3);
	assert_int_equal(back.rollout.plan.steps_bp[0], 50);
	assert_int_equal(back.rollout.plan.steps_bp[2], 10000);
	assert_int_equal(back.rollout.plan.n_gates, 2);
	assert_int_equal(back.rollout.plan.gates[1].metric, GATE_DELTA_DROP_RATE);
	assert_true(back.rollout.plan.gates[1].threshold == 0.005);
	assert_int_equal(back.rollout.plan.hold_ms, 1500);
	assert_false(back.rollout.plan.auto_advance);
	assert_int_equal(back.rollout.plan.mode, RO_MODE_SPLIT);
	assert_int_equal(back.rollout.step, 1);
	assert_int_equal(back.rollout.started_ms, 4000);
	assert_true(back.last_rollback.set);
	assert_int_equal(back.last_rollback.total_ns, 123456);
	assert_int_equal(back.last_rollback.published_ns, 789);
	assert_string_equal(back.last_rollback.by, "gate");
	assert_int_equal(json_array_size(back.history), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(back.history, 0), "event")),
			    "config_apply");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(back.history, 0), "id")), 5);
	assert_true(json_equal(back.xdp, st.xdp)); /* the XDP pre-filter's desired state */
	assert_int_equal(json_array_size(json_object_get(back.xdp, "block")), 2);
	assert_int_equal(json_integer_value(json_object_get(back.xdp, "rate_pps")), 1000);

	/* a failed gate survives too */
	back.rollout.state = RO_ROLLED_BACK;
	back.rollout.failed = true;
	back.rollout.failed_gate = back.rollout.plan.gates[0];
	back.rollout.failed_value = 812.5;
	assert_int_equal(st_save(dir, &back, err, sizeof(err)), 0);
	st_free(&st);
	assert_int_equal(st_load(dir, &st, err, sizeof(err)), 0);
	assert_true(st.rollout.failed);
	assert_int_equal(st.rollout.failed_gate.metric, GATE_P99_US);
	assert_true(st.rollout.failed_value == 812.5);
	st_free(&st);
	st_free(&back);
}

static void test_bad_files_name_the_file_and_fix(void **state)
{
	struct ctl_state st;
	(void)state;

	write_file("state.json", "{ not json");
	assert_int_equal(st_load(dir, &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "state.json"));
	assert_non_null(strstr(err, "move it aside"));
	st_free(&st);

	write_file("state.json", "{\"format\": 99, \"desired\": {}, \"versions\": []}");
	assert_int_equal(st_load(dir, &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "format"));
	st_free(&st);

	write_file("state.json", "{\"format\": 1, \"desired\": {\"mode\": \"sideways\"}, \"versions\": []}");
	assert_int_equal(st_load(dir, &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "sideways"));
	st_free(&st);

	write_file("state.json", "{\"format\": 1, \"desired\": {}, \"versions\": [{\"id\": 3}]}");
	assert_int_equal(st_load(dir, &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "id and text"));
	st_free(&st);

	write_file("state.json",
		   "{\"format\": 1, \"desired\": {}, \"versions\": [], \"rollout\": {\"state\": \"running\", "
		   "\"plan\": {\"steps\": [], \"gates\": [\"bogus<1\"]}}}");
	assert_int_equal(st_load(dir, &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bogus"));
	st_free(&st);

	write_file("state.json", "{\"format\": 1, \"desired\": {}, \"versions\": [], \"xdp\": {\"block\": [7]}}");
	assert_int_equal(st_load(dir, &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "xdp.block[0]"));
	st_free(&st);

	write_file("state.json", "{\"format\": 1, \"desired\": {}, \"versions\": [], \"xdp\": []}");
	assert_int_equal(st_load(dir, &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "xdp: needs"));
	st_free(&st);

	/* a state written before the pre-filter: no blocklist, no limit */
	write_file("state.json", "{\"format\": 1, \"desired\": {}, \"versions\": []}");
	assert_int_equal(st_load(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(json_object_get(st.xdp, "block")), 0);
	assert_int_equal(json_integer_value(json_object_get(st.xdp, "rate_pps")), 0);
	st_free(&st);

	st_init(&st);
	assert_int_equal(st_save("/nonexistent/fanout", &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--state-dir"));
	st_free(&st);
}

static void test_caps_keep_desired_versions(void **state)
{
	struct ctl_state st;
	(void)state;

	st_init(&st);
	assert_non_null(st_version_add(&st, 1, "stable", 6, 0));
	st.stable_id = 1;
	for (uint32_t id = 2; id < ST_MAX_VERSIONS + 20; id++)
		assert_non_null(st_version_add(&st, id, "x", 1, id));
	assert_int_equal(st.n_versions, ST_MAX_VERSIONS);
	assert_non_null(st_version_find(&st, 1)); /* desired stable is never forgotten */
	assert_null(st_version_find(&st, 2));     /* the oldest other one is */
	assert_non_null(st_version_find(&st, ST_MAX_VERSIONS + 19));
	for (int i = 0; i < ST_MAX_HISTORY + 5; i++)
		st_event(&st, (uint64_t)i, "e", NULL);
	assert_int_equal(json_array_size(st.history), ST_MAX_HISTORY);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(st.history, 0), "t_ms")), 5);
	st_free(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_absent_file_is_empty_state, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_round_trip, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_bad_files_name_the_file_and_fix, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_caps_keep_desired_versions, make_dir, remove_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
