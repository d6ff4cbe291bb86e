/* The fleet (see fleet.h): member links, their poll, the FLEET commands and the execution of the
 * fleet rollout's decisions. A member is another fanout-control: it keeps its appliance's desired
 * state and runs each step's hold and gates on its own dataplane; the fleet only moves members
 * from step to step and rolls every member back when one fails. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/bufferevent.h>
#include <event2/dns.h>

#include "app.h"
#include "ctl_auth.h"
#include "ctl_commands.h"
#include "fleet.h"
#include "fleet_reply.h"
#include "fleet_rollout.h"
#include "fleet_view.h"

#define FM_QUEUE 64 /* commands in flight per member */
#define FM_TEXT 512 /* status and error replies are kept up to this many bytes */
#define FM_PLAN_ARGS (2 * (4 + RO_MAX_GATES))

struct member;
struct fm_reply {
	enum fr_type type;
	json_t *json; /* a bulk reply that parses as JSON */
	char text[FM_TEXT];
};
/* err: the member's -ERR text or why the link failed; NULL on success. */
typedef void (*fm_reply_fn)(struct member *m, void *arg, const struct fm_reply *r, const char *err);

struct fm_pending {
	fm_reply_fn fn;
	void *arg;
	uint64_t sent_ms;
};

struct member {
	unsigned idx;
	struct fl_member_spec spec;
	char endpoint[400];
	char token[CTL_TOKEN_MAX + 1];
	struct bufferevent *bev;
	bool up; /* connected and authenticated */
	unsigned backoff_ms, connects;
	struct event *retry_ev;
	struct fm_pending q[FM_QUEUE];
	unsigned q_head, q_len;
	size_t need; /* bytes the reply being read takes at least */
	char error[1024];
	/* the poll */
	bool poll_in_flight;
	unsigned poll_left;
	uint64_t poll_seq;
	json_t *p[3];
	json_t *status, *stats, *rollout;
	uint64_t polled_ms;
	bool fresh;       /* the last poll was sent after the last rollout command */
	uint64_t cmd_seq; /* rollout commands sent */
	/* the last ROLLBACK the fleet sent it: decided here -> its reply, and its own total_ns */
	int64_t rollback_ns, rollback_member_ns;
};

static struct {
	struct event_base *base;
	struct evdns_base *dns;
	unsigned poll_ms;
	struct event *poll_ev;
	struct member m[FL_MAX_MEMBERS];
	unsigned n;
	struct fleet_rollout ro;
	char *plan[FM_PLAN_ARGS]; /* ROLLOUT START's arguments for every member */
	size_t plan_len[FM_PLAN_ARGS];
	unsigned n_plan;
	uint64_t decided_ns; /* when the last rollback was decided */
} F;

struct fop;
static void schedule_retry(struct member *m);
static void judge(void);
static void exec_acts(const enum fl_act *acts, struct fop *op);

unsigned fleet_members(void)
{
	return F.n;
}

/* ---------------------------------------------------------------- the link */

static void reply_clear(struct fm_reply *r)
{
	json_decref(r->json);
	r->json = NULL;
}

static void link_lost(struct member *m, const char *why)
{
	bool was_up = m->up;

	if (m->bev) {
		bufferevent_free(m->bev);
		m->bev = NULL;
	}
	m->up = false;
	m->need = 0;
	m->poll_in_flight = false;
	m->fresh = false;
	snprintf(m->error, sizeof(m->error), "%s", why);
	if (was_up)
		fprintf(stderr, "fanout-control: fleet member %s (%s) lost: %s%s\n", m->spec.name, m->endpoint, why,
			m->retry_ev ? "; reconnecting" : "");
	/* what was in flight fails (a callback may send again: the link is down, so that fails at once) */
	while (m->q_len > 0) {
		struct fm_pending p = m->q[m->q_head];
		m->q_head = (m->q_head + 1) % FM_QUEUE;
		m->q_len--;
		p.fn(m, p.arg, NULL, why);
	}
	schedule_retry(m);
	if (was_up)
		judge();
}

static int send_cmd(struct member *m, fm_reply_fn fn, void *arg, int argc, const char **argv, const size_t *lens,
		    bool before_auth)
{
	if (m->bev == NULL || (!m->up && !before_auth) || m->q_len == FM_QUEUE)
		return -1;
	struct evbuffer *out = bufferevent_get_output(m->bev);
	evbuffer_add_printf(out, "*%d\r\n", argc);
	for (int i = 0; i < argc; i++) {
		size_t l = lens ? lens[i] : strlen(argv[i]);
		evbuffer_add_printf(out, "$%zu\r\n", l);
		evbuffer_add(out, argv[i], l);
		evbuffer_add(out, "\r\n", 2);
	}
	struct fm_pending *p = &m->q[(m->q_head + m->q_len) % FM_QUEUE];
	p->fn = fn;
	p->arg = arg;
	p->sent_ms = wall_ms();
	m->q_len++;
	return 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct member *m = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char err[160];

	while (m->bev == bev) {
		size_t len = evbuffer_get_length(in), used = 0, need = 0;
		if (len == 0 || len < m->need)
			return;
		const char *buf = (const char *)evbuffer_pullup(in, -1);
		struct fr_reply r;
		int rc = fr_parse(buf, len, FR_BULK_MAX, &r, &used, &need, err, sizeof(err));
		if (rc == FR_NEED_MORE) {
			m->need = need;
			return;
		}
		if (rc == FR_BAD || m->q_len == 0) {
			char why[1024];
			snprintf(why, sizeof(why), "%s: %s", m->endpoint,
				 rc == FR_BAD ? err : "a reply nobody asked for");
			link_lost(m, why);
			return;
		}
		m->need = 0;
		struct fm_reply rep = { .type = r.type };
		if (r.type == FR_BULK)
			rep.json = json_loadb(r.str, r.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		if (r.type == FR_INTEGER)
			snprintf(rep.text, sizeof(rep.text), "%lld", r.integer);
		else if (r.str)
			snprintf(rep.text, sizeof(rep.text), "%.*s", (int)(r.len < FM_TEXT - 1 ? r.len : FM_TEXT - 1),
				 r.str);
		evbuffer_drain(in, used);
		struct fm_pending p = m->q[m->q_head];
		m->q_head = (m->q_head + 1) % FM_QUEUE;
		m->q_len--;
		const char *e = NULL;
		if (r.type == FR_ERROR)
			e = strncmp(rep.text, "ERR ", 4) == 0 ? rep.text + 4 : rep.text;
		p.fn(m, p.arg, &rep, e);
		reply_clear(&rep);
	}
}

static void on_auth(struct member *m, void *arg, const struct fm_reply *r, const char *err)
{
	(void)arg;
	if (r == NULL)
		return; /* the link went: link_lost said why */
	if (err != NULL) {
		char why[1024];
		snprintf(why, sizeof(why), "%s refused the token of %.200s: %.200s", m->endpoint, m->spec.token_file,
			 err);
		link_lost(m, why);
		return;
	}
	m->up = true;
	m->connects++;
	m->backoff_ms = FLEET_BACKOFF_MIN_MS;
	m->error[0] = '\0';
	fprintf(stderr, "fanout-control: fleet member %s connected on %s\n", m->spec.name, m->endpoint);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct member *m = arg;
	char why[1024];

	if (m->bev != bev)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		const char *argv[] = { "AUTH", m->token };
		bufferevent_enable(bev, EV_READ | EV_WRITE);
		if (send_cmd(m, on_auth, NULL, 2, argv, NULL, true) != 0)
			link_lost(m, "cannot queue AUTH");
		return;
	}
	int e = EVUTIL_SOCKET_ERROR();
	if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why), "%s closed the connection", m->endpoint);
	else if (what & BEV_EVENT_ERROR) {
		int dns = bufferevent_socket_get_dns_error(bev);
		snprintf(why, sizeof(why), "%s: %s", m->endpoint,
			 dns ? evutil_gai_strerror(dns) : evutil_socket_error_to_string(e));
	} else
		snprintf(why, sizeof(why), "%s: connection error", m->endpoint);
	link_lost(m, why);
}

static void try_connect(evutil_socket_t fd, short what, void *arg)
{
	struct member *m = arg;
	(void)fd, (void)what;

	m->bev = bufferevent_socket_new(F.base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (m->bev == NULL) {
		snprintf(m->error, sizeof(m->error), "%s: out of memory", m->endpoint);
		schedule_retry(m);
		return;
	}
	bufferevent_setcb(m->bev, on_read, NULL, on_event, m);
	/* a reply is read whole before it is handled: hold at most the largest one allowed */
	bufferevent_setwatermark(m->bev, EV_READ, 0, FR_BULK_MAX + 2 * FR_LINE_MAX);
	int rc;
	if (m->spec.transport == FL_UNIX) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", m->spec.path);
		rc = bufferevent_socket_connect(m->bev, (struct sockaddr *)&sun, sizeof(sun));
	} else {
		rc = bufferevent_socket_connect_hostname(m->bev, F.dns, AF_UNSPEC, m->spec.host, (int)m->spec.port);
	}
	if (rc != 0) {
		char why[1024];
		snprintf(why, sizeof(why), "connect to %s: %s", m->endpoint,
			 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		bufferevent_free(m->bev);
		m->bev = NULL;
		snprintf(m->error, sizeof(m->error), "%s", why);
		schedule_retry(m);
	}
}

static void schedule_retry(struct member *m)
{
	struct timeval tv = { .tv_sec = m->backoff_ms / 1000, .tv_usec = (m->backoff_ms % 1000) * 1000 };

	if (m->retry_ev == NULL)
		return;
	evtimer_add(m->retry_ev, &tv);
	m->backoff_ms = m->backoff_ms * 2 > FLEET_BACKOFF_MAX_MS ? FLEET_BACKOFF_MAX_MS : m->backoff_ms * 2;
}

/* Why a command could not go to m; starts with CTL_DP_DOWN (fanoutctl exit 4, HTTP 503). */
static void unreachable(const struct member *m, char *why, size_t n)
{
	snprintf(why, n, "%s: appliance %s's fanout-control cannot be reached (%.600s)", CTL_DP_DOWN, m->spec.name,
		 m->error[0] ? m->error : "not connected");
}

/* ---------------------------------------------------------------- the poll */

static void on_poll(struct member *m, void *arg, const struct fm_reply *r, const char *err)
{
	json_t **slot = arg;

	if (r != NULL && err == NULL && r->json != NULL && json_is_object(r->json))
		*slot = json_incref(r->json);
	if (--m->poll_left > 0)
		return;
	m->poll_in_flight = false;
	if (r == NULL) { /* the link went */
		for (int i = 0; i < 3; i++) {
			json_decref(m->p[i]);
			m->p[i] = NULL;
		}
		return;
	}
	json_t **dst[3] = { &m->status, &m->stats, &m->rollout };
	for (int i = 0; i < 3; i++) {
		json_decref(*dst[i]);
		*dst[i] = m->p[i];
		m->p[i] = NULL;
	}
	m->polled_ms = wall_ms();
	m->fresh = m->poll_seq == m->cmd_seq;
	judge();
}

static void on_poll_tick(evutil_socket_t fd, short what, void *arg)
{
	static const char *const cmds[3][2] = { { "STATUS", NULL }, { "STATS", NULL }, { "ROLLOUT", "STATUS" } };
	uint64_t now = wall_ms(), limit = 4ull * F.poll_ms > FLEET_STUCK_MIN_MS ? 4ull * F.poll_ms : FLEET_STUCK_MIN_MS;
	(void)fd, (void)what, (void)arg;

	for (unsigned i = 0; i < F.n; i++) {
		struct member *m = &F.m[i];
		if (m->bev != NULL && m->q_len > 0 && now - m->q[m->q_head].sent_ms > limit) {
			char why[1024];
			snprintf(why, sizeof(why), "%s did not answer in %" PRIu64 " ms", m->endpoint,
				 now - m->q[m->q_head].sent_ms);
			link_lost(m, why);
			continue;
		}
		if (!m->up || m->poll_in_flight)
			continue;
		m->poll_in_flight = true;
		m->poll_left = 0;
		m->poll_seq = m->cmd_seq;
		for (int k = 0; k < 3; k++)
			if (send_cmd(m, on_poll, &m->p[k], cmds[k][1] ? 2 : 1, (const char **)cmds[k], NULL, false) ==
			    0)
				m->poll_left++;
		if (m->poll_left == 0)
			m->poll_in_flight = false;
	}
}

/* ---------------------------------------------------------------- operations over members */

/* A command sent to several members, answered once every one has: per member its reply or error. */
struct fop {
	struct ctl_completion done;
	bool has_done;
	unsigned left;
	json_t *members; /* name -> reply or {"error":..} */
	unsigned failed;
	char first_err[256];
	bool rollout; /* the reply carries the fleet rollout's status */
	bool strict;  /* with rollout: a member's failure is the command's error */
};

struct sent {
	struct fop *op;
	enum fl_act act; /* FL_ACT_NONE: not a rollout command */
};

static struct fop *fop_new(const struct ctl_completion *done)
{
	struct fop *op = calloc(1, sizeof(*op));

	if (op == NULL)
		return NULL;
	if (done && done->fn) {
		op->done = *done;
		op->has_done = true;
	}
	op->members = json_object();
	op->left = 1; /* held until fop_launch */
	return op;
}

static void fleet_members_view(struct fv_member *v)
{
	for (unsigned i = 0; i < F.n; i++)
		v[i] = (struct fv_member){ .name = F.m[i].spec.name,
					   .endpoint = F.m[i].endpoint,
					   .up = F.m[i].up,
					   .error = F.m[i].error,
					   .polled_ms = F.m[i].polled_ms,
					   .status = F.m[i].status,
					   .stats = F.m[i].stats,
					   .rollout = F.m[i].rollout,
					   .rollback_ns = F.m[i].rollback_ns,
					   .rollback_member_ns = F.m[i].rollback_member_ns };
}

static json_t *rollout_json(void)
{
	struct fv_member v[FL_MAX_MEMBERS];

	fleet_members_view(v);
	return fv_rollout_json(&F.ro, v, F.n);
}

static void fop_release(struct fop *op)
{
	if (--op->left > 0)
		return;
	if (op->has_done) {
		json_t *j = json_pack("{s:O,s:I,s:I}", "members", op->members, "ok",
				      (json_int_t)(json_object_size(op->members) - op->failed), "failed",
				      (json_int_t)op->failed);
		if (op->rollout)
			json_object_set_new(j, "fleet_rollout", rollout_json());
		if (op->failed && (!op->rollout || op->strict)) {
			char err[CTL_ERR_MAX];
			if (op->strict)
				snprintf(err, sizeof(err),
					 "%s; the fleet rollout is %s (FLEET ROLLOUT shows each appliance's part)",
					 op->first_err, fl_state_name(F.ro.state));
			else
				snprintf(err, sizeof(err),
					 "%u of %zu appliances failed (first: %s); FLEET STATUS shows each", op->failed,
					 json_object_size(op->members), op->first_err);
			json_decref(j);
			op->done.fn(op->done.ctx, NULL, err);
		} else {
			op->done.fn(op->done.ctx, j, NULL);
		}
	}
	json_decref(op->members);
	free(op);
}

static void fop_note(struct fop *op, struct member *m, const struct fm_reply *r, const char *err)
{
	if (op == NULL)
		return;
	if (err != NULL) {
		json_object_set_new(op->members, m->spec.name, json_pack("{s:s}", "error", err));
		if (op->failed++ == 0)
			snprintf(op->first_err, sizeof(op->first_err), "%s: %.200s", m->spec.name, err);
	} else {
		json_object_set_new(op->members, m->spec.name,
				    r && r->json ? json_incref(r->json) : json_string(r ? r->text : ""));
	}
}

static void on_fop_reply(struct member *m, void *arg, const struct fm_reply *r, const char *err)
{
	struct fop *op = arg;

	fop_note(op, m, r, err);
	fop_release(op);
}

/* Send to member m for op; an unreachable member is noted as failed at once. */
static void fop_send(struct fop *op, struct member *m, int argc, const char **argv, const size_t *lens)
{
	op->left++;
	if (send_cmd(m, on_fop_reply, op, argc, argv, lens, false) != 0) {
		char why[1024];
		unreachable(m, why, sizeof(why));
		on_fop_reply(m, op, NULL, why);
	}
}

/* ---------------------------------------------------------------- the fleet rollout */

static void note_transition(enum fl_state before)
{
	static const char *const ev[] = { [FL_RUNNING] = "fleet_rollout_start",
					  [FL_PROMOTING] = "fleet_promoting",
					  [FL_PROMOTED] = "fleet_promoted",
					  [FL_ROLLED_BACK] = "fleet_rollback",
					  [FL_ABORTED] = "fleet_abort" };
	if (F.ro.state == before || F.ro.state == FL_IDLE)
		return;
	json_t *d = json_pack("{s:s,s:s}", "order", fl_order_name(F.ro.order), "reason", F.ro.reason);
	if (F.ro.failed_member >= 0)
		json_object_set_new(d, "appliance", json_string(F.ro.names[F.ro.failed_member]));
	st_event(&app.st, wall_ms(), ev[F.ro.state], d);
	fprintf(stderr, "fanout-control: fleet rollout %s: %s\n", fl_state_name(F.ro.state), F.ro.reason);
	app_persist();
}

static void on_act_reply(struct member *m, void *arg, const struct fm_reply *r, const char *err)
{
	struct sent *s = arg;
	enum fl_act acts[FL_MAX_MEMBERS];
	enum fl_state before = F.ro.state;

	if (s->act == FL_ACT_ROLLBACK && err == NULL && r && json_is_object(r->json) && F.decided_ns) {
		/* the fleet's part too: decided here (a gate on another member, the operator) -> this member's
		 * dataplane confirmed the swap */
		m->rollback_ns = (int64_t)(mono_ns() - F.decided_ns);
		json_t *t = json_object_get(r->json, "total_ns");
		m->rollback_member_ns = json_is_integer(t) ? (int64_t)json_integer_value(t) : -1;
		json_object_set_new(r->json, "fleet_total_ns", json_integer((json_int_t)m->rollback_ns));
	}
	if (s->op) {
		fop_note(s->op, m, r, err);
		fop_release(s->op);
	}
	/* a member that answered a ROLLBACK has it, even with an error: its fanout-control records share 0
	 * as desired and pushes it to its dataplane when that is back; only an unreachable member is
	 * asked again */
	fl_cmd_done(&F.ro, m->idx, s->act, s->act == FL_ACT_ROLLBACK && r != NULL ? NULL : err, wall_ms(), acts);
	free(s);
	note_transition(before);
	exec_acts(acts, NULL);
}

static void exec_acts(const enum fl_act *acts, struct fop *op)
{
	static const char *const resume[] = { "ROLLOUT", "RESUME" }, *const rollback[] = { "ROLLOUT", "ROLLBACK" };
	const char *argv[2 + FM_PLAN_ARGS + 2];
	size_t lens[2 + FM_PLAN_ARGS + 2];

	for (unsigned i = 0; i < F.n; i++) {
		if (acts[i] == FL_ACT_ROLLBACK) {
			F.decided_ns = mono_ns();
			break;
		}
	}
	for (unsigned i = 0; i < F.n; i++) {
		struct member *m = &F.m[i];
		int argc = 2;
		/* a decision taken while this loop ran (a failed send rolled back) replaced this one */
		if (acts[i] == FL_ACT_NONE || F.ro.m[i].inflight != acts[i])
			continue;
		struct sent *s = calloc(1, sizeof(*s));
		if (s == NULL)
			continue;
		s->act = acts[i];
		s->op = op;
		if (op)
			op->left++;
		argv[0] = "ROLLOUT";
		lens[0] = 7;
		if (acts[i] == FL_ACT_START) {
			argv[1] = "START";
			lens[1] = 5;
			for (unsigned k = 0; k < F.n_plan; k++, argc++) {
				argv[argc] = F.plan[k];
				lens[argc] = F.plan_len[k];
			}
			argv[argc] = "AUTO", lens[argc++] = 4;
			argv[argc] = "no", lens[argc++] = 2;
		} else {
			argv[1] = acts[i] == FL_ACT_RESUME ? resume[1] : rollback[1];
			lens[1] = strlen(argv[1]);
		}
		m->cmd_seq++;
		m->fresh = false;
		if (acts[i] == FL_ACT_ROLLBACK)
			m->rollback_ns = m->rollback_member_ns = -1;
		if (send_cmd(m, on_act_reply, s, argc, argv, lens, false) != 0) {
			char why[1024];
			unreachable(m, why, sizeof(why));
			on_act_reply(m, s, NULL, why);
		} else if (acts[i] == FL_ACT_ROLLBACK) {
			bufferevent_flush(m->bev, EV_WRITE, BEV_NORMAL);
		}
	}
}

static void judge(void)
{
	struct fl_view v[FL_MAX_MEMBERS];
	enum fl_act acts[FL_MAX_MEMBERS];
	enum fl_state before = F.ro.state;

	if (F.ro.n_members != F.n)
		return;
	for (unsigned i = 0; i < F.n; i++) {
		struct member *m = &F.m[i];
		const char *st = json_string_value(json_object_get(m->rollout, "state"));
		json_t *step = json_object_get(m->rollout, "step");
		const char *reason = json_string_value(json_object_get(m->rollout, "reason"));
		v[i] = (struct fl_view){ .up = m->up && m->status != NULL, .fresh = m->fresh && st != NULL };
		if (st == NULL || ro_state_from_name(st, &v[i].state) != 0)
			v[i].fresh = false;
		v[i].step = json_is_integer(step) && json_integer_value(step) >= 0 ? (unsigned)json_integer_value(step)
										   : 0;
		snprintf(v[i].reason, sizeof(v[i].reason), "%s", reason ? reason : "");
	}
	fl_on_views(&F.ro, v, wall_ms(), acts);
	note_transition(before);
	exec_acts(acts, NULL);
}

/* ---------------------------------------------------------------- the FLEET commands */

static void plan_free(void)
{
	for (unsigned i = 0; i < F.n_plan; i++)
		free(F.plan[i]);
	F.n_plan = 0;
}

static int h_start(int argc, int a, const char **argv, const size_t *lens, char *err, size_t errlen,
		   const struct ctl_completion *done)
{
	struct ro_plan plan;
	enum fl_order order = FL_ORDER_FLEET;
	struct gate g;
	unsigned n_plan = 0;
	const char *pa[FM_PLAN_ARGS];
	size_t pl[FM_PLAN_ARGS];

	ro_plan_default(&plan);
	for (int i = a; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		size_t kl = lens[i], vl = i + 1 < argc ? lens[i + 1] : 0;
		int rc = 0;
		if (v == NULL) {
			snprintf(err, errlen,
				 "FLEET START: '%.*s' needs a value; e.g. FLEET START ORDER fleet STEPS 5,50,100 HOLD "
				 "10s GATE drop_rate<0.01",
				 (int)(kl > 40 ? 40 : kl), k);
			return CTL_ERR;
		}
		if (ctl_word_is(k, kl, "ORDER")) {
			if (fl_parse_order(v, vl, &order, err, errlen) != 0)
				return CTL_ERR;
			continue;
		}
		if (ctl_word_is(k, kl, "STEPS"))
			rc = ro_parse_steps(v, vl, &plan, err, errlen);
		else if (ctl_word_is(k, kl, "HOLD"))
			rc = ro_parse_hold(v, vl, &plan.hold_ms, err, errlen);
		else if (ctl_word_is(k, kl, "MODE"))
			rc = ro_parse_mode(v, vl, &plan.mode, err, errlen);
		else if (ctl_word_is(k, kl, "GATE")) {
			if (plan.n_gates == RO_MAX_GATES) {
				snprintf(err, errlen, "FLEET START: more than %d gates; use fewer", RO_MAX_GATES);
				return CTL_ERR;
			}
			rc = gate_parse(v, vl, &g, err, errlen);
			plan.n_gates++;
		} else {
			snprintf(err, errlen,
				 "FLEET START: unknown option '%.*s'; options are ORDER, STEPS, HOLD, MODE, GATE (each "
				 "member runs AUTO no; the fleet moves it on)",
				 (int)(kl > 40 ? 40 : kl), k);
			return CTL_ERR;
		}
		if (rc != 0)
			return CTL_ERR;
		pa[n_plan] = k, pl[n_plan++] = kl;
		pa[n_plan] = v, pl[n_plan++] = vl;
	}
	if (fl_active(&F.ro)) {
		snprintf(err, errlen, "a fleet rollout is %s; FLEET ABORT or FLEET ROLLBACK it first",
			 fl_state_name(F.ro.state));
		return CTL_ERR;
	}
	/* every member reachable; whether each has a canary and no rollout of its own its ROLLOUT START
	 * says (the last poll may predate a command just answered) */
	for (unsigned i = 0; i < F.n; i++) {
		struct member *m = &F.m[i];
		if (!m->up || m->status == NULL) {
			snprintf(err, errlen,
				 "%s: appliance %s (%s) is unreachable: %s; a fleet rollout needs every member",
				 CTL_DP_DOWN, m->spec.name, m->endpoint, m->error[0] ? m->error : "not polled yet");
			return CTL_ERR;
		}
	}
	const char *names[FL_MAX_MEMBERS];
	for (unsigned i = 0; i < F.n; i++)
		names[i] = F.m[i].spec.name;
	enum fl_act acts[FL_MAX_MEMBERS];
	enum fl_state before = F.ro.state;
	if (fl_start(&F.ro, order, F.n, names, plan.n_steps, wall_ms(), acts, err, errlen) != 0)
		return CTL_ERR;
	plan_free();
	for (unsigned i = 0; i < n_plan; i++) {
		F.plan[i] = malloc(pl[i] + 1);
		if (F.plan[i] == NULL)
			break;
		memcpy(F.plan[i], pa[i], pl[i]);
		F.plan[i][pl[i]] = '\0';
		F.plan_len[i] = pl[i];
		F.n_plan++;
	}
	struct fop *op = fop_new(done);
	if (op == NULL) {
		fl_stop(&F.ro, true, "fanout-control (out of memory)", wall_ms(), acts, err, errlen);
		exec_acts(acts, NULL);
		return snprintf(err, errlen, "out of memory"), CTL_ERR;
	}
	op->rollout = op->strict = true;
	note_transition(before);
	exec_acts(acts, op); /* answered once every member answered its ROLLOUT START */
	fop_release(op);
	return CTL_PENDING;
}

static int h_stop(bool aborted, char *err, size_t errlen, const struct ctl_completion *done)
{
	enum fl_act acts[FL_MAX_MEMBERS];
	enum fl_state before = F.ro.state;

	if (F.ro.n_members != F.n) {
		const char *names[FL_MAX_MEMBERS];
		for (unsigned i = 0; i < F.n; i++)
			names[i] = F.m[i].spec.name;
		fl_set_members(&F.ro, F.n, names);
	}
	if (fl_stop(&F.ro, aborted, "the operator", wall_ms(), acts, err, errlen) != 0)
		return CTL_ERR;
	struct fop *op = fop_new(done);
	if (op == NULL)
		return snprintf(err, errlen, "out of memory"), CTL_ERR;
	op->rollout = true;
	note_transition(before);
	exec_acts(acts, op);
	fop_release(op);
	return CTL_PENDING;
}

static int h_apply(int argc, int a, const char **argv, const size_t *lens, char *err, size_t errlen,
		   const struct ctl_completion *done)
{
	bool now = argc > a + 2;
	const char *cv[4] = { "CONFIG", "APPLY", argv[a + 1], "NOW" };
	size_t cl[4] = { 6, 5, lens[a + 1], 3 };
	bool all = ctl_word_is(argv[a], lens[a], "*");
	int which = -1;

	if (now && !ctl_word_is(argv[a + 2], lens[a + 2], "NOW")) {
		snprintf(err, errlen, "FLEET APPLY <appliance|*> <yaml> [NOW]: the third argument can only be NOW");
		return CTL_ERR;
	}
	for (unsigned i = 0; i < F.n && !all; i++)
		if (ctl_word_is(argv[a], lens[a], F.m[i].spec.name))
			which = (int)i;
	if (!all && which < 0) {
		snprintf(err, errlen, "FLEET APPLY: no appliance '%.*s'; FLEET STATUS names them (* is every one)",
			 (int)(lens[a] > FL_NAME_MAX ? FL_NAME_MAX : lens[a]), argv[a]);
		return CTL_ERR;
	}
	if (fl_active(&F.ro)) {
		snprintf(err, errlen, "a fleet rollout is %s; FLEET ABORT it before applying another config",
			 fl_state_name(F.ro.state));
		return CTL_ERR;
	}
	struct fop *op = fop_new(done);
	if (op == NULL)
		return snprintf(err, errlen, "out of memory"), CTL_ERR;
	for (unsigned i = 0; i < F.n; i++)
		if (all || (int)i == which)
			fop_send(op, &F.m[i], now ? 4 : 3, cv, cl);
	fop_release(op);
	return CTL_PENDING;
}

int fleet_cmd(int id, int argc, int a, const char **argv, const size_t *lens, json_t **reply, char *err, size_t errlen,
	      const struct ctl_completion *done)
{
	struct fv_member v[FL_MAX_MEMBERS];

	if (F.n == 0) {
		snprintf(err, errlen,
			 "this fanout-control has no fleet members; start one with --member "
			 "NAME=tcp:HOST:PORT,token-file=PATH (one per appliance)");
		return CTL_ERR;
	}
	fleet_members_view(v);
	switch (id) {
	case CTL_CMD_fleet_status: *reply = fv_status(v, F.n, &F.ro); return CTL_DONE;
	case CTL_CMD_fleet_stats: *reply = fv_stats(v, F.n); return CTL_DONE;
	case CTL_CMD_fleet_rollout: *reply = rollout_json(); return CTL_DONE;
	case CTL_CMD_fleet_apply: return h_apply(argc, a, argv, lens, err, errlen, done);
	case CTL_CMD_fleet_start: return h_start(argc, a, argv, lens, err, errlen, done);
	case CTL_CMD_fleet_abort: return h_stop(true, err, errlen, done);
	case CTL_CMD_fleet_rollback: return h_stop(false, err, errlen, done);
	default: snprintf(err, errlen, "not a FLEET command"); return CTL_ERR;
	}
}

void fleet_metrics(struct evbuffer *o)
{
	struct fv_member v[FL_MAX_MEMBERS];

	fleet_members_view(v);
	fv_metrics(o, v, F.n, &F.ro);
}

/* ---------------------------------------------------------------- start, stop */

int fleet_start(struct event_base *base, const struct fl_member_spec *ms, unsigned n, unsigned poll_ms)
{
	char err[512];
	struct timeval tv = { .tv_sec = poll_ms / 1000, .tv_usec = (poll_ms % 1000) * 1000 };

	if (fl_members_check(ms, n, err, sizeof(err)) != 0) {
		fprintf(stderr, "fanout-control: %s\n", err);
		return -1;
	}
	F.base = base;
	F.poll_ms = poll_ms;
	fl_init(&F.ro);
	for (unsigned i = 0; i < n; i++) {
		struct member *m = &F.m[i];
		m->idx = i;
		m->spec = ms[i];
		fl_member_endpoint(&m->spec, m->endpoint, sizeof(m->endpoint));
		if (ctl_token_load(m->spec.token_file, false, m->token, sizeof(m->token), err, sizeof(err)) != 0) {
			fprintf(stderr, "fanout-control: member %s: %s\n", m->spec.name, err);
			return -1;
		}
		m->backoff_ms = FLEET_BACKOFF_MIN_MS;
		m->rollback_ns = m->rollback_member_ns = -1;
		snprintf(m->error, sizeof(m->error), "not connected yet to %s", m->endpoint);
		m->retry_ev = evtimer_new(base, try_connect, m);
		if (m->retry_ev == NULL)
			return -1;
	}
	F.n = n;
	const char *names[FL_MAX_MEMBERS];
	for (unsigned i = 0; i < n; i++)
		names[i] = F.m[i].spec.name;
	fl_set_members(&F.ro, n, names);
	for (unsigned i = 0; i < n; i++)
		if (F.m[i].spec.transport == FL_TCP && F.dns == NULL)
			F.dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	F.poll_ev = event_new(base, -1, EV_PERSIST, on_poll_tick, NULL);
	if (F.poll_ev == NULL || event_add(F.poll_ev, &tv) != 0)
		return -1;
	for (unsigned i = 0; i < n; i++)
		try_connect(-1, 0, &F.m[i]);
	return 0;
}

void fleet_stop(void)
{
	unsigned n = F.n;

	F.n = 0; /* no judging while the links go */
	if (F.poll_ev)
		event_free(F.poll_ev);
	F.poll_ev = NULL;
	for (unsigned i = 0; i < n; i++) {
		struct member *m = &F.m[i];
		if (m->retry_ev)
			event_free(m->retry_ev);
		m->retry_ev = NULL;
		if (m->bev)
			link_lost(m, "fanout-control is stopping");
		for (int k = 0; k < 3; k++)
			json_decref(m->p[k]);
		json_decref(m->status);
		json_decref(m->stats);
		json_decref(m->rollout);
		memset(m->token, 0, sizeof(m->token));
	}
	plan_free();
	if (F.dns)
		evdns_base_free(F.dns, 0);
	F.dns = NULL;
}
