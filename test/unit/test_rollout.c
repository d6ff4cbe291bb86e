/* cmocka tests for control/lib/rollout.c: the rollout state machine driven by made-up samples and clocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rollout.h"

#define CANARY 7
#define STABLE 3

static char err[256];

static void plan_of(struct ro_plan *p, const char *steps, uint64_t hold_ms, const char *gate)
{
	ro_plan_default(p);
	assert_int_equal(ro_parse_steps(steps, strlen(steps), p, err, sizeof(err)), 0);
	p->hold_ms = hold_ms;
	if (gate != NULL) {
		assert_int_equal(gate_parse(gate, strlen(gate), &p->gates[0], err, sizeof(err)), 0);
		p->n_gates = 1;
	}
}

/* A sample at t with canary msgs/drops and stable msgs/drops. */
static struct ro_sample sample(uint64_t t, uint64_t cm, uint64_t cd, uint64_t sm, uint64_t sd)
{
	struct ro_sample s;

	memset(&s, 0, sizeof(s));
	s.t_ms = t;
	s.stable_id = STABLE;
	s.canary_id = CANARY;
	s.canary.msgs = cm;
	s.canary.drops = cd;
	s.canary.p99_ns = 100000;
	s.stable.msgs = sm;
	s.stable.drops = sd;
	return s;
}

static void feed(struct rollout *r, struct ro_sample s, struct ro_decision *d)
{
	ro_on_sample(r, &s, d);
}

static void test_parse_plan(void **state)
{
	struct ro_plan p;
	uint64_t ms;
	enum ro_mode m;
	(void)state;

	ro_plan_default(&p);
	assert_int_equal(p.n_steps, 5);
	assert_int_equal(p.steps_bp[0], 100);
	assert_int_equal(p.steps_bp[4], 10000);
	assert_int_equal(ro_parse_steps("0.5, 2.25,10%,100", 17, &p, err, sizeof(err)), 0);
	assert_int_equal(p.n_steps, 4);
	assert_int_equal(p.steps_bp[0], 50);
	assert_int_equal(p.steps_bp[1], 225);
	assert_int_equal(p.steps_bp[2], 1000);
	assert_int_equal(ro_parse_steps("5,1", 3, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "strictly up"));
	assert_int_equal(ro_parse_steps("0", 1, &p, err, sizeof(err)), -1);
	assert_int_equal(ro_parse_steps("101", 3, &p, err, sizeof(err)), -1);
	assert_int_equal(ro_parse_steps("1,,2", 4, &p, err, sizeof(err)), -1);
	assert_int_equal(ro_parse_steps("1.234", 5, &p, err, sizeof(err)), -1);
	assert_int_equal(ro_parse_steps("", 0, &p, err, sizeof(err)), -1);
	assert_int_equal(ro_parse_steps("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", 41, &p, err, sizeof(err)), -1);

	assert_int_equal(ro_parse_hold("10s", 3, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, 10000);
	assert_int_equal(ro_parse_hold("250ms", 5, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(ro_parse_hold("2m", 2, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, 120000);
	assert_int_equal(ro_parse_hold("7", 1, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, 7000);
	assert_int_equal(ro_parse_hold("10x", 3, &ms, err, sizeof(err)), -1);
	assert_int_equal(ro_parse_hold("-1s", 3, &ms, err, sizeof(err)), -1);
	assert_int_equal(ro_parse_hold("200h", 4, &ms, err, sizeof(err)), -1);
	assert_int_equal(ro_parse_mode("MIRROR", 6, &m, err, sizeof(err)), 0);
	assert_int_equal(m, RO_MODE_MIRROR);
	assert_int_equal(ro_parse_mode("both", 4, &m, err, sizeof(err)), -1);
}

static void test_walks_steps_and_promotes(void **state)
{
	struct rollout r;
	struct ro_plan p;
	struct ro_decision d;
	(void)state;

	ro_init(&r);
	plan_of(&p, "1,50,100", 1000, "drop_rate<0.01");
	assert_int_equal(ro_start(&r, &p, CANARY, 0, &d, err, sizeof(err)), 0);
	assert_int_equal(d.action, RO_ACT_SET_SHARE);
	assert_int_equal(d.share_bp, 100);
	assert_int_equal(r.state, RO_RUNNING);

	feed(&r, sample(100, 0, 0, 1000, 0), &d); /* window base */
	assert_int_equal(d.action, RO_ACT_NONE);
	feed(&r, sample(500, 50, 0, 2000, 0), &d); /* mid-hold, few msgs: nothing */
	assert_int_equal(d.action, RO_ACT_NONE);
	feed(&r, sample(1000, 80, 0, 3000, 0), &d); /* hold measured from the step's start */
	assert_int_equal(d.action, RO_ACT_SET_SHARE);
	assert_int_equal(d.share_bp, 5000);
	assert_int_equal(r.step, 1);

	feed(&r, sample(1100, 100, 0, 3100, 0), &d);
	feed(&r, sample(2100, 5000, 10, 8000, 0), &d); /* 10/4900 = 0.2% < 1% */
	assert_int_equal(d.action, RO_ACT_SET_SHARE);
	assert_int_equal(d.share_bp, 10000);
	feed(&r, sample(2200, 5000, 10, 8000, 0), &d);
	feed(&r, sample(3200, 9000, 10, 8000, 0), &d);
	assert_int_equal(d.action, RO_ACT_PROMOTE);
	assert_int_equal(r.state, RO_PROMOTING);
	assert_true(ro_active(&r));
	feed(&r, sample(3300, 9500, 10, 8000, 0), &d); /* promoting: samples are not judged */
	assert_int_equal(d.action, RO_ACT_NONE);
	ro_promote_done(&r, 3400, true, "all steps passed");
	assert_int_equal(r.state, RO_PROMOTED);
	assert_false(ro_active(&r));
}

static void test_failed_gate_rolls_back_with_record(void **state)
{
	struct rollout r;
	struct ro_plan p;
	struct ro_decision d;
	(void)state;

	ro_init(&r);
	plan_of(&p, "5,100", 60000, "drop_rate<0.01");
	assert_int_equal(ro_start(&r, &p, CANARY, 0, &d, err, sizeof(err)), 0);
	feed(&r, sample(100, 1000, 0, 0, 0), &d);
	feed(&r, sample(200, 1050, 5, 0, 0), &d); /* 5/50 = 10% but under RO_MIN_WINDOW_MSGS: not judged */
	assert_int_equal(d.action, RO_ACT_NONE);
	feed(&r, sample(300, 1200, 6, 0, 0), &d); /* 6/200 = 3% over 100 msgs */
	assert_int_equal(d.action, RO_ACT_ROLLBACK);
	assert_int_equal(r.state, RO_ROLLED_BACK);
	assert_true(r.failed);
	assert_int_equal(r.failed_gate.metric, GATE_DROP_RATE);
	assert_true(r.failed_gate.threshold == 0.01);
	assert_true(r.failed_value == 0.03);
	assert_non_null(strstr(r.reason, "drop_rate<0.01"));
	assert_non_null(strstr(d.reason, "step 1/2"));
	assert_int_equal(r.ended_ms, 300);
	assert_int_equal(r.share_bp, 0);
}

static void test_route_drops_and_delta_and_p99(void **state)
{
	struct ro_sample a = sample(0, 0, 0, 0, 0), b = sample(1000, 1000, 10, 1000, 5);
	struct gate_figures f;
	uint64_t msgs;
	(void)state;

	b.canary.route_dropped = 10;
	b.canary.error_replies = 3;
	b.canary.p99_ns = 250000;
	b.canary.out_failed = 1; /* sink_errors: the canary's sink/bridge drops */
	b.canary.out_pool_empty = 1;
	b.stable.out_ring_full = 50; /* stable's are not the canary's */
	assert_int_equal(ro_window_figures(&a, &b, &f, &msgs), 0);
	assert_int_equal(msgs, 1000);
	assert_true(f.v[GATE_DROP_RATE] == 0.02);
	assert_true(f.v[GATE_ERROR_RATE] == 0.003);
	assert_true(f.v[GATE_DELTA_DROP_RATE] == 0.02 - 0.005);
	assert_true(f.v[GATE_P99_US] == 250);
	assert_true(f.v[GATE_SINK_ERRORS] == 2);
	b.stable_id = 99; /* stable replaced mid-window: it contributes nothing */
	assert_int_equal(ro_window_figures(&a, &b, &f, &msgs), 0);
	assert_true(f.v[GATE_DELTA_DROP_RATE] == 0.02);
	assert_int_equal(ro_window_figures(&b, &a, &f, &msgs), -1); /* counters went backwards */
}

/* With the dataplane's buckets, p99_us is the window's: old fast samples do not hide new slow ones. */
static void test_window_p99_from_buckets(void **state)
{
	static struct ro_sample a, b;
	struct gate_figures f;
	uint64_t msgs;
	(void)state;

	a = sample(0, 1000, 0, 1000, 0);
	b = sample(1000, 1100, 0, 1100, 0);
	a.canary.have_hist = b.canary.have_hist = true;
	a.canary.lat_upper_ns[10] = b.canary.lat_upper_ns[10] = 1000;
	a.canary.lat_count[10] = b.canary.lat_count[10] = 1000; /* before the window: 1000 x <= 1 us */
	b.canary.lat_upper_ns[50] = 50000;
	b.canary.lat_count[50] = 100; /* in the window: 100 x <= 50 us */
	b.canary.p99_ns = 1000;       /* the cumulative p99 would still say 1 us */
	assert_int_equal(ro_window_figures(&a, &b, &f, &msgs), 0);
	assert_true(f.v[GATE_P99_US] == 50);
	assert_int_equal(ro_window_quantile_ns(&a.canary, &b.canary, 0.5), 50000);
	assert_int_equal(ro_window_quantile_ns(&a.canary, &a.canary, 0.99), 0); /* empty window */
	b.canary.lat_count[10] = 1090; /* 90 fast + 10 slow in the window: p99 is slow, p50 fast */
	b.canary.lat_count[50] = 10;
	assert_int_equal(ro_window_quantile_ns(&a.canary, &b.canary, 0.99), 50000);
	assert_int_equal(ro_window_quantile_ns(&a.canary, &b.canary, 0.5), 1000);
}

/* sink_errors: the canary generation's sink/bridge route drops (failed + ring_full + pool_empty
 * from GENSTATS "outputs") in the hold window; drops from before the window do not count. */
static void test_sink_errors_window_and_gate(void **state)
{
	struct ro_sample a = sample(0, 1000, 0, 1000, 0), b = sample(1000, 1500, 0, 1500, 0);
	struct gate_figures f;
	uint64_t msgs;
	struct rollout r;
	struct ro_plan p;
	struct ro_decision d;
	struct ro_sample s;
	(void)state;

	a.canary.out_failed = 5; /* before the window */
	b.canary.out_failed = 6;
	b.canary.out_ring_full = 2;
	b.canary.out_pool_empty = 1;
	b.stable.out_failed = 1000;
	assert_int_equal(ro_out_dropped(&b.canary), 9);
	assert_int_equal(ro_window_figures(&a, &b, &f, &msgs), 0);
	assert_true(f.v[GATE_SINK_ERRORS] == 4);
	assert_true(f.v[GATE_DROP_RATE] == 0); /* sink drops are their own gate, not drop_rate */
	b.canary.out_ring_full = 0;
	b.canary.out_failed = 4; /* went backwards: the dataplane restarted */
	assert_int_equal(ro_window_figures(&a, &b, &f, &msgs), -1);

	/* a gate on it: 50 drops before the step do not fail it; one in the window does */
	ro_init(&r);
	plan_of(&p, "5,100", 10000, "sink_errors<1");
	assert_int_equal(ro_start(&r, &p, CANARY, 0, &d, err, sizeof(err)), 0);
	s = sample(100, 1000, 0, 0, 0);
	s.canary.out_ring_full = 50;
	feed(&r, s, &d);                /* window base */
	s = sample(200, 1300, 0, 0, 0); /* 300 msgs: judged mid-hold, passes */
	s.canary.out_ring_full = 50;
	feed(&r, s, &d);
	assert_int_equal(d.action, RO_ACT_NONE);
	assert_true(r.figures_valid);
	assert_true(r.figures.v[GATE_SINK_ERRORS] == 0);
	s = sample(300, 1400, 0, 0, 0);
	s.canary.out_ring_full = 50;
	s.canary.out_failed = 1; /* Redis refused one entry */
	s.stable.out_failed = 7;
	feed(&r, s, &d);
	assert_int_equal(d.action, RO_ACT_ROLLBACK);
	assert_int_equal(r.state, RO_ROLLED_BACK);
	assert_int_equal(r.failed_gate.metric, GATE_SINK_ERRORS);
	assert_true(r.failed_value == 1);
	assert_non_null(strstr(r.reason, "gate sink_errors<1 failed: sink_errors = 1"));

	/* stable's sink drops never fail the canary's gate */
	ro_init(&r);
	assert_int_equal(ro_start(&r, &p, CANARY, 0, &d, err, sizeof(err)), 0);
	feed(&r, sample(0, 0, 0, 0, 0), &d);
	s = sample(10000, 500, 0, 500, 0);
	s.stable.out_failed = 100;
	s.stable.out_pool_empty = 100;
	feed(&r, s, &d);
	assert_int_equal(d.action, RO_ACT_SET_SHARE); /* hold over, gate passed: next step */
	assert_int_equal(d.share_bp, 10000);
}

static void test_manual_advance_pause_resume(void **state)
{
	struct rollout r;
	struct ro_plan p;
	struct ro_decision d;
	(void)state;

	ro_init(&r);
	plan_of(&p, "10,20", 1000, NULL);
	p.auto_advance = false;
	assert_int_equal(ro_start(&r, &p, CANARY, 0, &d, err, sizeof(err)), 0);
	feed(&r, sample(0, 0, 0, 0, 0), &d);
	feed(&r, sample(1000, 10, 0, 0, 0), &d);
	assert_int_equal(d.action, RO_ACT_NONE);
	assert_int_equal(r.state, RO_HELD);
	assert_int_equal(ro_resume(&r, 1100, &d, err, sizeof(err)), 0);
	assert_int_equal(d.action, RO_ACT_SET_SHARE);
	assert_int_equal(d.share_bp, 2000);

	assert_int_equal(ro_pause(&r, 1200, err, sizeof(err)), 0);
	assert_int_equal(r.state, RO_PAUSED);
	assert_int_equal(ro_pause(&r, 1200, err, sizeof(err)), -1);
	feed(&r, sample(5000, 10, 10, 0, 0), &d); /* paused: not judged */
	assert_int_equal(d.action, RO_ACT_NONE);
	assert_int_equal(ro_resume(&r, 6000, &d, err, sizeof(err)), 0);
	assert_int_equal(d.action, RO_ACT_SET_SHARE); /* re-asserts the current step */
	assert_int_equal(d.share_bp, 2000);
	assert_int_equal(r.step_started_ms, 6000);
	feed(&r, sample(6000, 10, 0, 0, 0), &d);
	feed(&r, sample(7000, 20, 0, 0, 0), &d);
	assert_int_equal(r.state, RO_HELD);
	assert_int_equal(ro_resume(&r, 7100, &d, err, sizeof(err)), 0); /* last step held: promote */
	assert_int_equal(d.action, RO_ACT_PROMOTE);
	ro_promote_done(&r, 7200, false, "dataplane said no");
	assert_int_equal(r.state, RO_HELD);
	assert_non_null(strstr(r.reason, "dataplane said no"));
	assert_int_equal(ro_promote(&r, 7300, &d, err, sizeof(err)), 0);
	assert_int_equal(d.action, RO_ACT_PROMOTE);
	assert_int_equal(ro_resume(&r, 7400, &d, err, sizeof(err)), -1);
}

static void test_abort_rollback_and_refusals(void **state)
{
	struct rollout r;
	struct ro_plan p;
	struct ro_decision d;
	(void)state;

	ro_init(&r);
	plan_of(&p, "10", 1000, NULL);
	assert_int_equal(ro_start(&r, &p, 0, 0, &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "CONFIG APPLY"));
	assert_int_equal(ro_abort(&r, 0, &d, err, sizeof(err)), -1);
	assert_int_equal(ro_pause(&r, 0, err, sizeof(err)), -1);
	assert_int_equal(ro_promote(&r, 0, &d, err, sizeof(err)), -1);
	assert_int_equal(ro_start(&r, &p, CANARY, 0, &d, err, sizeof(err)), 0);
	assert_int_equal(ro_start(&r, &p, CANARY, 0, &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ABORT"));
	assert_int_equal(ro_abort(&r, 50, &d, err, sizeof(err)), 0);
	assert_int_equal(d.action, RO_ACT_ROLLBACK);
	assert_int_equal(r.state, RO_ABORTED);

	assert_int_equal(ro_start(&r, &p, CANARY, 100, &d, err, sizeof(err)), 0);
	ro_rollback(&r, 150, "operator rollback", &d);
	assert_int_equal(d.action, RO_ACT_ROLLBACK);
	assert_int_equal(r.state, RO_ROLLED_BACK);
	assert_false(r.failed);
	ro_rollback(&r, 160, "again", &d); /* no rollout: still a rollback decision, state kept */
	assert_int_equal(d.action, RO_ACT_ROLLBACK);
	assert_int_equal(r.state, RO_ROLLED_BACK);
	assert_string_equal(r.reason, "operator rollback");

	/* An operator PROMOTE of that generation afterwards (a ROLLBACK served just before it): the
	 * record says promoted; another generation's promote leaves it alone. */
	ro_promoted_after_end(&r, CANARY + 1, 170, "operator promoted generation 8");
	assert_int_equal(r.state, RO_ROLLED_BACK);
	ro_promoted_after_end(&r, CANARY, 180, "operator promoted generation 7");
	assert_int_equal(r.state, RO_PROMOTED);
	assert_int_equal(r.ended_ms, 180);
	assert_string_equal(r.reason, "operator promoted generation 7, after the rollout was rolled back");
	ro_promoted_after_end(&r, CANARY, 190, "again"); /* promoted stays as it was */
	assert_int_equal(r.ended_ms, 180);
	/* a running rollout is not touched (its own PROMOTE goes through ro_promote_done) */
	assert_int_equal(ro_start(&r, &p, CANARY, 200, &d, err, sizeof(err)), 0);
	ro_promoted_after_end(&r, CANARY, 210, "x");
	assert_int_equal(r.state, RO_RUNNING);
}

static void test_foreign_canary_and_restarts(void **state)
{
	struct rollout r;
	struct ro_plan p;
	struct ro_decision d;
	struct ro_sample s;
	(void)state;

	ro_init(&r);
	plan_of(&p, "10,20", 1000, "drop_rate<0.01");
	assert_int_equal(ro_start(&r, &p, CANARY, 0, &d, err, sizeof(err)), 0);
	s = sample(2000, 5000, 5000, 0, 0);
	s.canary_id = CANARY + 1; /* not ours: ignored */
	feed(&r, s, &d);
	assert_int_equal(d.action, RO_ACT_NONE);
	assert_false(r.have_base);
	feed(&r, sample(2100, 5000, 0, 0, 0), &d);
	assert_true(r.have_base);
	feed(&r, sample(2200, 10, 0, 0, 0), &d); /* dataplane restarted: counters back to 0, re-based */
	assert_int_equal(d.action, RO_ACT_NONE);
	assert_int_equal(r.base.canary.msgs, 10);
	feed(&r, sample(3000, 20, 0, 0, 0), &d);
	assert_int_equal(d.action, RO_ACT_SET_SHARE);
	assert_string_equal(ro_state_name(RO_ROLLED_BACK), "rolled_back");
	enum ro_state st;
	assert_int_equal(ro_state_from_name("held", &st), 0);
	assert_int_equal(st, RO_HELD);
	assert_int_equal(ro_state_from_name("bogus", &st), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_plan),
		cmocka_unit_test(test_walks_steps_and_promotes),
		cmocka_unit_test(test_failed_gate_rolls_back_with_record),
		cmocka_unit_test(test_route_drops_and_delta_and_p99),
		cmocka_unit_test(test_window_p99_from_buckets),
		cmocka_unit_test(test_sink_errors_window_and_gate),
		cmocka_unit_test(test_manual_advance_pause_resume),
		cmocka_unit_test(test_abort_rollback_and_refusals),
		cmocka_unit_test(test_foreign_canary_and_restarts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
