/* Unit tests for dataplane/mqttsn_broker.c: the per-worker MQTT-SN engine driven with
 * real codec bytes through a fake broker_io that records every output (the io is the
 * engine's boundary). Each test states one rule of the brief/spec and checks the
 * replies, the fan-out copies, the fates, the counters and payload hold/release balance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mqttsn_broker.h"
#include "mqttsn_codec.h"
#include "topic_match.h"

/* ------------------------------------------------------------------ fake io */

#define MAX_OUT 512
#define OUT_CAP 600

struct payload {
	uint8_t buf[300];
	const uint8_t *view; /* set by payload_bind */
	uint16_t view_len;
	int binds;
};

struct out {
	bool is_publish;
	struct fo_client to;
	uint8_t bytes[OUT_CAP];
	uint16_t len;
	void *payload;
	struct mqttsn_msg m; /* decoded from bytes */
};

struct fake {
	struct out out[MAX_OUT];
	int n;
	long holds, releases, binds;
	bool fail_send;
	bool fail_publish;
	int published_rc;   /* what the published() hook answers (MQTTSN_RC_ACCEPTED = 0 by default) */
	long published_calls;
};

static int fake_published(void *ctx, const struct fo_client *from, struct broker_result *res)
{
	(void)from;
	(void)res;
	struct fake *f = ctx;
	f->published_calls++;
	return f->published_rc;
}

static int fake_send(void *ctx, const struct fo_client *to, const uint8_t *msg, uint16_t len)
{
	struct fake *f = ctx;
	if (f->fail_send)
		return -1;
	assert_true(f->n < MAX_OUT);
	assert_true(len <= OUT_CAP);
	struct out *o = &f->out[f->n++];
	memset(o, 0, sizeof(*o));
	o->to = *to;
	memcpy(o->bytes, msg, len);
	o->len = len;
	assert_int_equal(mqttsn_decode(o->bytes, o->len, &o->m), MQTTSN_OK);
	return 0;
}

static int fake_send_publish(void *ctx, const struct fo_client *to, const uint8_t *hdr, uint16_t hdr_len,
			     void *payload)
{
	struct fake *f = ctx;
	struct payload *p = payload;
	assert_int_equal(p->binds, 1); /* bound before any copy goes out */
	if (f->fail_publish)
		return -1;
	assert_true(f->n < MAX_OUT);
	struct out *o = &f->out[f->n++];
	memset(o, 0, sizeof(*o));
	o->is_publish = true;
	o->to = *to;
	o->payload = payload;
	assert_true(hdr_len + p->view_len <= OUT_CAP);
	memcpy(o->bytes, hdr, hdr_len);
	memcpy(o->bytes + hdr_len, p->view, p->view_len);
	o->len = (uint16_t)(hdr_len + p->view_len);
	assert_int_equal(mqttsn_decode(o->bytes, o->len, &o->m), MQTTSN_OK);
	assert_int_equal(o->m.type, MQTTSN_PUBLISH);
	return 0;
}

static void fake_bind(void *ctx, void *payload, const uint8_t *data, uint16_t len)
{
	struct fake *f = ctx;
	struct payload *p = payload;
	p->view = data;
	p->view_len = len;
	p->binds++;
	f->binds++;
}

static void fake_hold(void *ctx, void *payload)
{
	(void)payload;
	((struct fake *)ctx)->holds++;
}

static void fake_release(void *ctx, void *payload)
{
	(void)payload;
	((struct fake *)ctx)->releases++;
}

/* ------------------------------------------------------------------ fixture */

struct t {
	struct fake f;
	struct fo_counters c;
	struct broker_config cfg;
	struct broker_io io;
	struct broker *b;
	struct payload pl[64];
	int n_pl;
	uint64_t now;
	struct broker_result res;
};

static const struct broker_predefined predef[] = {
	{ .id = 100, .name = "sys/time" },
	{ .id = 200, .name = "sys/alarm" },
};

static void default_cfg(struct broker_config *cfg)
{
	*cfg = (struct broker_config){
		.max_sessions = 16,
		.max_topics = 32,
		.max_client_topics = 64,
		.max_subscriptions = 64,
		.max_inflight = 32,
		.max_inflight_per_session = 8,
		.retry_interval_ms = 1000,
		.retry_limit = 2,
		.max_topic_len = 64,
		.gateway_id = 7,
		.expiry_scan_per_tick = 64,
		.predefined = predef,
		.n_predefined = 2,
	};
}

static struct t *T; /* the running test's fixture */

static void start(struct t *t)
{
	t->io = (struct broker_io){ .ctx = &t->f, .send = fake_send, .send_publish = fake_send_publish,
				    .payload_bind = fake_bind, .payload_hold = fake_hold,
				    .payload_release = fake_release, .published = fake_published };
	const char *err = NULL;
	t->b = broker_create(&t->cfg, &t->io, &t->c, &err);
	assert_non_null(t->b);
	t->now = 1000;
}

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	default_cfg(&t->cfg);
	*state = t;
	T = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;
	if (t->b)
		broker_destroy(t->b);
	/* Every payload reference the engine took is given back, at the latest by destroy. */
	assert_int_equal(t->f.holds, t->f.releases);
	free(t);
	return 0;
}

/* Client i; clients 100 + i share client i's IP address from another port (NAT rebinding). */
static struct fo_client cl(int i)
{
	return (struct fo_client){ .ip = 0x0a000000u + (uint32_t)(i % 100), .port = (uint16_t)(10000 + i), .ifindex = 0 };
}

static void reset_out(void)
{
	T->f.n = 0;
}

/* Feed one encoded message; returns the fate. */
static enum fo_fate feed_raw(struct fo_client from, const uint8_t *buf, uint16_t len)
{
	assert_true(T->n_pl < 64);
	struct payload *p = &T->pl[T->n_pl++];
	memset(p, 0, sizeof(*p));
	assert_true(len <= sizeof(p->buf));
	memcpy(p->buf, buf, len);
	broker_handle(T->b, &from, p->buf, len, p, T->now, &T->res);
	return T->res.fate;
}

static enum fo_fate feed(struct fo_client from, const struct mqttsn_msg *m)
{
	uint8_t buf[300];
	int n = mqttsn_encode(m, buf, sizeof(buf));
	assert_true(n > 0);
	return feed_raw(from, buf, (uint16_t)n);
}

static enum fo_fate do_connect(int i, const char *id, uint8_t flags, uint16_t keepalive)
{
	struct mqttsn_msg m = { .type = MQTTSN_CONNECT };
	m.u.connect.flags = flags;
	m.u.connect.protocol_id = MQTTSN_PROTOCOL_ID;
	m.u.connect.duration = keepalive;
	m.u.connect.client_id = (const uint8_t *)id;
	m.u.connect.client_id_len = (uint16_t)strlen(id);
	return feed(cl(i), &m);
}

static void connect_ok(int i, const char *id)
{
	reset_out();
	assert_int_equal(do_connect(i, id, MQTTSN_FLAG_CLEAN, 60), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_CONNACK);
	assert_int_equal(T->f.out[0].m.u.connack.return_code, MQTTSN_RC_ACCEPTED);
	reset_out();
}

static enum fo_fate do_register(int i, const char *name, uint16_t msg_id)
{
	struct mqttsn_msg m = { .type = MQTTSN_REGISTER };
	m.u.reg.msg_id = msg_id;
	m.u.reg.topic_name = (const uint8_t *)name;
	m.u.reg.topic_name_len = (uint16_t)strlen(name);
	return feed(cl(i), &m);
}

/* REGISTER that must succeed; returns the id. */
static uint16_t reg_ok(int i, const char *name)
{
	reset_out();
	assert_int_equal(do_register(i, name, 77), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_REGACK);
	assert_int_equal(T->f.out[0].m.u.regack.return_code, MQTTSN_RC_ACCEPTED);
	assert_int_equal(T->f.out[0].m.u.regack.msg_id, 77);
	uint16_t id = T->f.out[0].m.u.regack.topic_id;
	assert_true(id != 0);
	reset_out();
	return id;
}

static enum fo_fate publish_flags(int i, uint8_t flags, uint16_t tid, uint16_t msg_id, const char *data)
{
	struct mqttsn_msg m = { .type = MQTTSN_PUBLISH };
	m.u.publish.flags = flags;
	m.u.publish.topic_id = tid;
	m.u.publish.msg_id = msg_id;
	m.u.publish.data = (const uint8_t *)data;
	m.u.publish.data_len = (uint16_t)strlen(data);
	return feed(cl(i), &m);
}

static enum fo_fate do_publish(int i, int qos, uint8_t ttype, uint16_t tid, uint16_t msg_id, const char *data)
{
	return publish_flags(i, (uint8_t)(mqttsn_qos_flags(qos) | ttype), tid, msg_id, data);
}

static uint16_t short_id(const char *s)
{
	return (uint16_t)((uint8_t)s[0] << 8 | (uint8_t)s[1]);
}

static enum fo_fate do_subscribe(int i, int qos, uint8_t ttype, const char *name, uint16_t tid, uint16_t msg_id)
{
	struct mqttsn_msg m = { .type = MQTTSN_SUBSCRIBE };
	m.u.subscribe.flags = (uint8_t)(mqttsn_qos_flags(qos) | ttype);
	m.u.subscribe.msg_id = msg_id;
	if (ttype == MQTTSN_TOPIC_NORMAL) {
		m.u.subscribe.topic_name = (const uint8_t *)name;
		m.u.subscribe.topic_name_len = (uint16_t)strlen(name);
	} else {
		m.u.subscribe.topic_id = tid;
	}
	return feed(cl(i), &m);
}

/* SUBSCRIBE that must be accepted; returns the SUBACK (copied). */
static struct mqttsn_msg sub_ok(int i, int qos, const char *filter)
{
	reset_out();
	assert_int_equal(do_subscribe(i, qos, MQTTSN_TOPIC_NORMAL, filter, 0, 5), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	struct mqttsn_msg a = T->f.out[0].m;
	assert_int_equal(a.type, MQTTSN_SUBACK);
	assert_int_equal(a.u.suback.return_code, MQTTSN_RC_ACCEPTED);
	assert_int_equal(a.u.suback.msg_id, 5);
	reset_out();
	return a;
}

static enum fo_fate do_simple(int i, uint8_t type)
{
	struct mqttsn_msg m = { .type = type };
	return feed(cl(i), &m);
}

static enum fo_fate do_puback(int i, uint16_t tid, uint16_t msg_id, uint8_t rc)
{
	struct mqttsn_msg m = { .type = MQTTSN_PUBACK };
	m.u.puback.topic_id = tid;
	m.u.puback.msg_id = msg_id;
	m.u.puback.return_code = rc;
	return feed(cl(i), &m);
}

/* Outputs to client i, in order. */
static int outs_to(int i, struct out **list, int max)
{
	int k = 0;
	struct fo_client c = cl(i);
	for (int j = 0; j < T->f.n && k < max; j++)
		if (T->f.out[j].to.ip == c.ip && T->f.out[j].to.port == c.port)
			list[k++] = &T->f.out[j];
	return k;
}

static int publishes_to(int i)
{
	struct out *l[MAX_OUT];
	int n = outs_to(i, l, MAX_OUT), k = 0;
	for (int j = 0; j < n; j++)
		k += l[j]->is_publish;
	return k;
}

static struct out *last_publish_to(int i)
{
	struct out *l[MAX_OUT];
	int n = outs_to(i, l, MAX_OUT);
	for (int j = n - 1; j >= 0; j--)
		if (l[j]->is_publish)
			return l[j];
	return NULL;
}

#define EV(x) (T->c.ev[FO_EV_##x])

/* ------------------------------------------------------------------ create */

static void test_create_rejects_bad_config(void **state)
{
	struct t *t = *state;
	struct broker_io io = { .ctx = &t->f, .send = fake_send, .send_publish = fake_send_publish,
				.payload_bind = fake_bind, .payload_hold = fake_hold,
				.payload_release = fake_release };
	struct broker_config c;
	const char *err;

	default_cfg(&c);
	c.max_topics = 0;
	err = NULL;
	assert_null(broker_create(&c, &io, NULL, &err));
	assert_non_null(strstr(err, "max_topics"));

	default_cfg(&c);
	c.max_topics = (1u << 26) + 1; /* past TOPIC_REGISTRY_MAX */
	assert_null(broker_create(&c, &io, NULL, &err));
	assert_non_null(strstr(err, "max_topics"));

	default_cfg(&c);
	c.retry_interval_ms = 0;
	assert_null(broker_create(&c, &io, NULL, &err));
	assert_non_null(strstr(err, "retry_interval_ms"));

	struct broker_predefined dup_id[] = { { 5, "a/b" }, { 5, "a/c" } };
	default_cfg(&c);
	c.predefined = dup_id;
	c.n_predefined = 2;
	assert_null(broker_create(&c, &io, NULL, &err));
	assert_non_null(strstr(err, "duplicate topic id"));

	struct broker_predefined dup_name[] = { { 5, "a/b" }, { 6, "a/b" } };
	c.predefined = dup_name;
	assert_null(broker_create(&c, &io, NULL, &err));
	assert_non_null(strstr(err, "duplicate topic name"));

	struct broker_predefined reserved[] = { { 0xFFFF, "a/b" } };
	c.predefined = reserved;
	c.n_predefined = 1;
	assert_null(broker_create(&c, &io, NULL, &err));

	struct broker_predefined wild[] = { { 9, "a/+" } };
	c.predefined = wild;
	assert_null(broker_create(&c, &io, NULL, &err));

	io.payload_hold = NULL;
	default_cfg(&c);
	assert_null(broker_create(&c, &io, NULL, &err));

	broker_destroy(NULL);
}

static void test_create_counts_predefined_topics(void **state)
{
	start(*state);
	assert_int_equal(broker_topic_count(T->b), 2);
	assert_int_equal(broker_session_count(T->b), 0);
}

/* ------------------------------------------------------------------ gateway discovery, not connected */

static void test_searchgw_answered_with_gwinfo(void **state)
{
	start(*state);
	struct mqttsn_msg m = { .type = MQTTSN_SEARCHGW };
	m.u.searchgw.radius = 1;
	assert_int_equal(feed(cl(1), &m), FO_FATE_ANSWERED);
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_GWINFO);
	assert_int_equal(T->f.out[0].m.u.gwinfo.gw_id, 7);
	assert_int_equal(T->c.mqttsn_rx_type[MQTTSN_SEARCHGW], 1);
	assert_int_equal(broker_session_count(T->b), 0);
}

static void test_unknown_client_gets_disconnect(void **state)
{
	start(*state);
	assert_int_equal(do_simple(1, MQTTSN_PINGREQ), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_DISCONNECT);
	assert_int_equal(EV(NOT_CONNECTED), 1);
	reset_out();
	assert_int_equal(do_register(1, "a/b", 1), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_DISCONNECT);
	reset_out();
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_PREDEFINED, 100, 1, "x"), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_DISCONNECT);
	assert_int_equal(EV(NOT_CONNECTED), 3);
	assert_int_equal(T->f.binds, 0);
}

static void test_reply_failure_is_a_named_drop(void **state)
{
	start(*state);
	connect_ok(1, "c1");
	T->f.fail_send = true;
	assert_int_equal(do_simple(1, MQTTSN_PINGREQ), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_REPLY_FAILED);
}

/* ------------------------------------------------------------------ CONNECT */

static void test_connect_accepted_and_will_rejected(void **state)
{
	start(*state);
	connect_ok(1, "c1");
	assert_true(broker_has_session(T->b, &(struct fo_client){ .ip = cl(1).ip, .port = cl(1).port }));
	assert_int_equal(EV(CONNECT_ACCEPTED), 1);

	assert_int_equal(do_connect(2, "c2", MQTTSN_FLAG_WILL | MQTTSN_FLAG_CLEAN, 60), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_CONNACK);
	assert_int_equal(T->f.out[0].m.u.connack.return_code, MQTTSN_RC_NOT_SUPPORTED);
	assert_int_equal(EV(CONNECT_REJECTED_UNSUPPORTED), 1);
	assert_int_equal(broker_session_count(T->b), 1);
}

static void test_connect_table_full_is_congestion(void **state)
{
	struct t *t = *state;
	t->cfg.max_sessions = 2;
	start(t);
	connect_ok(1, "c1");
	connect_ok(2, "c2");
	assert_int_equal(do_connect(3, "c3", MQTTSN_FLAG_CLEAN, 60), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.connack.return_code, MQTTSN_RC_CONGESTION);
	assert_int_equal(EV(CONNECT_REJECTED_CONGESTION), 1);
	/* A reconnect of a known client still fits. */
	connect_ok(2, "c2");
	assert_int_equal(broker_session_count(T->b), 2);
}

static void test_clean_session_drops_state_on_reconnect(void **state)
{
	start(*state);
	connect_ok(1, "c1");
	uint16_t id = reg_ok(1, "a/b");
	sub_ok(1, 1, "x/#");
	assert_int_equal(broker_subscription_count(T->b), 1);
	connect_ok(1, "c1"); /* clean=1 from the same address */
	assert_int_equal(EV(SESSION_REPLACED), 1);
	assert_int_equal(broker_subscription_count(T->b), 0);
	/* The old id left the client's map with the session. */
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 3, "p"), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.puback.return_code, MQTTSN_RC_INVALID_TOPIC_ID);
	assert_int_equal(broker_topic_count(T->b), 2); /* only the predefined remain */
}

static void test_persistent_session_kept_and_moved(void **state)
{
	start(*state);
	connect_ok(1, "c1");
	uint16_t id = reg_ok(1, "a/b");
	sub_ok(1, 1, "a/b");
	/* clean=0 from a new address (NAT rebinding): the session follows the client id. */
	reset_out();
	assert_int_equal(do_connect(101, "c1", 0, 30), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.u.connack.return_code, MQTTSN_RC_ACCEPTED);
	assert_int_equal(EV(SESSION_REPLACED), 1);
	assert_false(broker_has_session(T->b, &(struct fo_client){ .ip = cl(1).ip, .port = cl(1).port }));
	assert_int_equal(broker_session_count(T->b), 1);
	assert_int_equal(broker_subscription_count(T->b), 1);
	/* Its map moved too: the id still works from the new address, and copies go there. */
	reset_out();
	assert_int_equal(do_publish(101, 0, MQTTSN_TOPIC_NORMAL, id, 0, "hello"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(101), 1);
	assert_int_equal(publishes_to(1), 0);
	/* clean=0 from the same address keeps it too. */
	reset_out();
	assert_int_equal(do_connect(101, "c1", 0, 30), FO_FATE_DELIVERED);
	assert_int_equal(broker_subscription_count(T->b), 1);
}

static void test_clean_connect_from_new_address_replaces(void **state)
{
	start(*state);
	connect_ok(1, "c1");
	sub_ok(1, 0, "a/#");
	connect_ok(101, "c1"); /* same id, clean=1, new port on the same host */
	assert_int_equal(EV(SESSION_REPLACED), 1);
	assert_int_equal(broker_session_count(T->b), 1);
	assert_int_equal(broker_subscription_count(T->b), 0);
	/* Another id at an address in use: the old client there is gone. */
	connect_ok(101, "other");
	assert_int_equal(EV(SESSION_REPLACED), 2);
	assert_int_equal(broker_session_count(T->b), 1);
}

/* ------------------------------------------------------------------ REGISTER */

static void test_register_same_name_same_id_own_maps(void **state)
{
	start(*state);
	connect_ok(1, "c1");
	connect_ok(2, "c2");
	uint16_t a = reg_ok(1, "a/b");
	uint16_t again = reg_ok(1, "a/b");
	assert_int_equal(a, again);
	/* c2 may not publish to c1's id before it has it in its own map (spec 7.3). */
	assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, a, 0, "x"), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_PUBACK);
	assert_int_equal(T->f.out[0].m.u.puback.return_code, MQTTSN_RC_INVALID_TOPIC_ID);
	assert_int_equal(T->f.out[0].m.u.puback.topic_id, a);
	assert_int_equal(EV(PUBLISH_INVALID_TOPIC), 1);
	uint16_t b = reg_ok(2, "a/b");
	assert_int_equal(a, b);
	reset_out();
	assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, a, 0, "x"), FO_FATE_DELIVERED);
	assert_int_equal(EV(REGISTER_ACCEPTED), 3);
	assert_int_equal(broker_topic_count(T->b), 3);
}

static void test_register_invalid_and_full(void **state)
{
	struct t *t = *state;
	t->cfg.max_topics = 4; /* 2 predefined + 2 */
	t->cfg.max_client_topics = 4;
	start(t);
	connect_ok(1, "c1");
	assert_int_equal(do_register(1, "a/+", 1), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.regack.return_code, MQTTSN_RC_NOT_SUPPORTED);
	assert_int_equal(T->f.out[0].m.u.regack.topic_id, 0);
	reset_out();
	char longname[80];
	memset(longname, 'x', 65);
	longname[65] = 0;
	assert_int_equal(do_register(1, longname, 1), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.regack.return_code, MQTTSN_RC_NOT_SUPPORTED);
	reg_ok(1, "t/1");
	reg_ok(1, "t/2");
	reset_out();
	assert_int_equal(do_register(1, "t/3", 1), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.regack.return_code, MQTTSN_RC_CONGESTION);
	assert_int_equal(EV(REGISTER_REJECTED), 3);
	/* Map full (3 entries) while the registry still has room. */
	connect_ok(2, "c2");
	reg_ok(2, "t/1");
	reg_ok(2, "t/2");
	reset_out();
	assert_int_equal(do_register(2, "sys/time", 1), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.regack.return_code, MQTTSN_RC_CONGESTION);
	assert_int_equal(broker_topic_count(T->b), 4);
}

/* ------------------------------------------------------------------ PUBLISH */

static void test_publish_qos1_puback_after_fanout(void **state)
{
	start(*state);
	connect_ok(1, "pub");
	connect_ok(2, "sub");
	struct mqttsn_msg a = sub_ok(2, 1, "a/b");
	uint16_t id = reg_ok(1, "a/b");
	assert_int_equal(a.u.suback.topic_id, id);
	assert_int_equal(a.u.suback.flags & MQTTSN_FLAG_QOS_MASK, MQTTSN_FLAG_QOS1);
	reset_out();
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 42, "hello"), FO_FATE_DELIVERED);
	assert_int_equal(T->f.binds, 1);
	assert_true(T->res.published);
	assert_int_equal(T->res.qos, 1);
	assert_int_equal(T->res.topic_len, 3);
	assert_memory_equal(T->res.topic, "a/b", 3);
	assert_int_equal(T->res.payload_len, 5);
	assert_int_equal(T->res.local_deliveries, 1);
	assert_int_equal(T->f.n, 2);
	/* The copy first, then the PUBACK. */
	struct out *c = &T->f.out[0];
	assert_true(c->is_publish);
	assert_int_equal(c->to.port, cl(2).port);
	assert_int_equal(c->m.u.publish.flags & MQTTSN_FLAG_QOS_MASK, MQTTSN_FLAG_QOS1);
	assert_int_equal(c->m.u.publish.flags & MQTTSN_FLAG_TOPIC_MASK, MQTTSN_TOPIC_NORMAL);
	assert_int_equal(c->m.u.publish.topic_id, id);
	assert_true(c->m.u.publish.msg_id != 0);
	assert_memory_equal(c->m.u.publish.data, "hello", 5);
	assert_int_equal(T->f.out[1].m.type, MQTTSN_PUBACK);
	assert_int_equal(T->f.out[1].m.u.puback.msg_id, 42);
	assert_int_equal(T->f.out[1].m.u.puback.topic_id, id);
	assert_int_equal(T->f.out[1].m.u.puback.return_code, MQTTSN_RC_ACCEPTED);
	assert_int_equal(EV(PUBLISH_ACCEPTED), 1);
	assert_int_equal(EV(DELIVERIES), 1);
	assert_int_equal(EV(DELIVERY_QOS1), 1);
	assert_int_equal(broker_inflight_count(T->b), 1);
	assert_int_equal(T->f.holds, 1);
	/* The subscriber's PUBACK completes the delivery and releases the payload. */
	uint16_t mid = c->m.u.publish.msg_id;
	reset_out();
	assert_int_equal(do_puback(2, id, mid, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(broker_inflight_count(T->b), 0);
	assert_int_equal(T->f.releases, 1);
	assert_int_equal(EV(QOS1_ACKED), 1);
	assert_int_equal(do_puback(2, id, mid, MQTTSN_RC_ACCEPTED), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_STALE_ACK);
}

static enum fo_fate do_publish_dup(int i, uint16_t tid, uint16_t msg_id, const char *data)
{
	return publish_flags(i, (uint8_t)(mqttsn_qos_flags(1) | MQTTSN_TOPIC_NORMAL | MQTTSN_FLAG_DUP), tid, msg_id, data);
}

/* A QoS 1 DUP resend of a publish already accepted (our PUBACK was lost) is answered again and not
 * delivered or routed again; a resend while the PUBACK is deferred waits for it; a refused publish,
 * an unknown MsgId, one reused without DUP, or one older than the last 4 is handled as new. */
static void test_publish_qos1_dup_resend(void **state)
{
	start(*state);
	connect_ok(1, "pub");
	connect_ok(2, "sub");
	sub_ok(2, 0, "a/b");
	uint16_t id = reg_ok(1, "a/b");
	reset_out();
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 42, "x"), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 2); /* copy + PUBACK */
	assert_int_equal(T->f.published_calls, 1);
	reset_out();
	assert_int_equal(do_publish_dup(1, id, 42, "x"), FO_FATE_ANSWERED);
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_PUBACK);
	assert_int_equal(T->f.out[0].m.u.puback.msg_id, 42);
	assert_int_equal(T->f.out[0].m.u.puback.return_code, MQTTSN_RC_ACCEPTED);
	assert_int_equal(T->f.published_calls, 1);
	assert_int_equal(EV(PUBLISH_DUP_SUPPRESSED), 1);
	/* the same MsgId without DUP: a new message */
	reset_out();
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 42, "y"), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 2);
	assert_int_equal(T->f.published_calls, 2);
	/* DUP of a MsgId never seen: delivered */
	reset_out();
	assert_int_equal(do_publish_dup(1, id, 43, "z"), FO_FATE_DELIVERED);
	assert_int_equal(T->f.published_calls, 3);
	/* deferred PUBACK: a resend waits for it; once sent, a resend is answered */
	T->f.published_rc = BROKER_PUBACK_DEFERRED;
	reset_out();
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 50, "d"), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1); /* the copy only */
	reset_out();
	assert_int_equal(do_publish_dup(1, id, 50, "d"), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_DUP_PENDING);
	assert_int_equal(T->f.n, 0);
	struct fo_client c1 = cl(1);
	assert_int_equal(broker_deferred_puback(T->b, &c1, id, 50, MQTTSN_RC_ACCEPTED), 0);
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].m.u.puback.msg_id, 50);
	reset_out();
	assert_int_equal(do_publish_dup(1, id, 50, "d"), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.puback.return_code, MQTTSN_RC_ACCEPTED);
	/* a deferred PUBACK that says congestion: the resend is a new attempt */
	reset_out();
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 51, "e"), FO_FATE_DELIVERED);
	assert_int_equal(broker_deferred_puback(T->b, &c1, id, 51, MQTTSN_RC_CONGESTION), 0);
	long calls = T->f.published_calls;
	T->f.published_rc = MQTTSN_RC_ACCEPTED;
	assert_int_equal(do_publish_dup(1, id, 51, "e"), FO_FATE_DELIVERED);
	assert_int_equal(T->f.published_calls, calls + 1);
	/* refused at once (congestion): the resend is delivered */
	T->f.published_rc = MQTTSN_RC_CONGESTION;
	reset_out();
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 60, "f"), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[T->f.n - 1].m.u.puback.return_code, MQTTSN_RC_CONGESTION);
	T->f.published_rc = MQTTSN_RC_ACCEPTED;
	calls = T->f.published_calls;
	assert_int_equal(do_publish_dup(1, id, 60, "f"), FO_FATE_DELIVERED);
	assert_int_equal(T->f.published_calls, calls + 1);
	/* only the last 4 are remembered */
	for (uint16_t mid = 70; mid <= 74; mid++)
		assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, mid, "g"), FO_FATE_DELIVERED);
	assert_int_equal(do_publish_dup(1, id, 74, "g"), FO_FATE_ANSWERED);
	assert_int_equal(do_publish_dup(1, id, 71, "g"), FO_FATE_ANSWERED);
	assert_int_equal(do_publish_dup(1, id, 70, "g"), FO_FATE_DELIVERED);
	/* a clean reconnect forgets them */
	connect_ok(1, "pub");
	id = reg_ok(1, "a/b");
	assert_int_equal(do_publish_dup(1, id, 74, "g"), FO_FATE_DELIVERED);
}

static void test_publish_qos0_no_match_and_qos2(void **state)
{
	start(*state);
	connect_ok(1, "pub");
	uint16_t id = reg_ok(1, "a/b");
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "x"), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 0); /* no PUBACK for QoS 0 */
	assert_int_equal(T->res.local_deliveries, 0);
	assert_int_equal(EV(PUBLISH_NO_MATCH), 1);
	assert_int_equal(do_publish(1, 2, MQTTSN_TOPIC_NORMAL, id, 9, "x"), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.puback.return_code, MQTTSN_RC_NOT_SUPPORTED);
	assert_int_equal(T->f.out[0].m.u.puback.msg_id, 9);
	assert_int_equal(EV(PUBLISH_UNSUPPORTED), 1);
	assert_false(T->res.published);
	reset_out();
	/* QoS 0 to an unknown id is still told (PUBACK invalid topic id). */
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, 999, 0, "x"), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.puback.return_code, MQTTSN_RC_INVALID_TOPIC_ID);
}

static void test_publish_predefined_and_short(void **state)
{
	start(*state);
	connect_ok(1, "pub");
	connect_ok(2, "sub");
	reset_out();
	assert_int_equal(do_subscribe(2, 1, MQTTSN_TOPIC_PREDEFINED, NULL, 100, 3), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.u.suback.topic_id, 100);
	reset_out();
	assert_int_equal(do_subscribe(2, 0, MQTTSN_TOPIC_SHORT, NULL, short_id("ab"), 4), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.u.suback.topic_id, 0);
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_PREDEFINED, 100, 0, "t"), FO_FATE_DELIVERED);
	struct out *o = last_publish_to(2);
	assert_non_null(o);
	assert_int_equal(o->m.u.publish.flags & MQTTSN_FLAG_TOPIC_MASK, MQTTSN_TOPIC_PREDEFINED);
	assert_int_equal(o->m.u.publish.topic_id, 100);
	assert_memory_equal(T->res.topic, "sys/time", 8);
	reset_out();
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_SHORT, short_id("ab"), 5, "s"), FO_FATE_DELIVERED);
	o = last_publish_to(2);
	assert_non_null(o);
	assert_int_equal(o->m.u.publish.flags & MQTTSN_FLAG_TOPIC_MASK, MQTTSN_TOPIC_SHORT);
	assert_int_equal(o->m.u.publish.topic_id, short_id("ab"));
	assert_int_equal(o->m.u.publish.flags & MQTTSN_FLAG_QOS_MASK, MQTTSN_FLAG_QOS0); /* granted 0 */
	assert_memory_equal(T->res.topic, "ab", 2);
	assert_int_equal(EV(REGISTER_SENT), 0);
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_PREDEFINED, 555, 0, "t"), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.puback.return_code, MQTTSN_RC_INVALID_TOPIC_ID);
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_SHORT, short_id("a+"), 0, "t"), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.puback.return_code, MQTTSN_RC_INVALID_TOPIC_ID);
}

static void test_publish_qos_m1_without_session(void **state)
{
	start(*state);
	connect_ok(2, "sub");
	sub_ok(2, 1, "sys/#");
	assert_int_equal(do_publish(5, -1, MQTTSN_TOPIC_PREDEFINED, 200, 0, "alarm"), FO_FATE_DELIVERED);
	assert_int_equal(T->res.qos, -1);
	assert_int_equal(T->res.local_deliveries, 1);
	assert_int_equal(EV(PUBLISH_QOS_M1), 1);
	struct out *o = last_publish_to(2);
	assert_int_equal(o->m.u.publish.flags & MQTTSN_FLAG_QOS_MASK, MQTTSN_FLAG_QOS0); /* -1 counts as 0 */
	assert_int_equal(o->m.u.publish.topic_id, 200);
	assert_int_equal(publishes_to(5), 0);
	assert_int_equal(broker_session_count(T->b), 1);
	reset_out();
	assert_int_equal(do_publish(5, -1, MQTTSN_TOPIC_SHORT, short_id("zz"), 0, "s"), FO_FATE_DELIVERED);
	assert_int_equal(T->res.local_deliveries, 0);
	assert_int_equal(do_publish(5, -1, MQTTSN_TOPIC_NORMAL, 3, 0, "s"), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_BAD_TOPIC);
	assert_int_equal(do_publish(5, -1, MQTTSN_TOPIC_PREDEFINED, 999, 0, "s"), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_BAD_TOPIC);
	assert_int_equal(T->f.n, 0);
}

/* ------------------------------------------------------------------ SUBSCRIBE */

static void test_subscribe_kinds_and_grants(void **state)
{
	start(*state);
	connect_ok(1, "c1");
	struct mqttsn_msg a = sub_ok(1, 2, "a/+/c");
	assert_int_equal(a.u.suback.topic_id, 0);
	assert_int_equal(a.u.suback.flags & MQTTSN_FLAG_QOS_MASK, MQTTSN_FLAG_QOS1); /* 2 -> 1 */
	a = sub_ok(1, -1, "x/y");
	assert_true(a.u.suback.topic_id != 0);
	assert_int_equal(a.u.suback.flags & MQTTSN_FLAG_QOS_MASK, MQTTSN_FLAG_QOS0); /* -1 -> 0 */
	/* The exact name's id is now in the client's map: it may publish with it. */
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, a.u.suback.topic_id, 0, "m"), FO_FATE_DELIVERED);
	reset_out();
	assert_int_equal(do_subscribe(1, 0, MQTTSN_TOPIC_NORMAL, "a/#/c", 0, 6), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.suback.return_code, MQTTSN_RC_NOT_SUPPORTED);
	assert_int_equal(T->f.out[0].m.u.suback.msg_id, 6);
	reset_out();
	assert_int_equal(do_subscribe(1, 0, MQTTSN_TOPIC_PREDEFINED, NULL, 300, 7), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.suback.return_code, MQTTSN_RC_INVALID_TOPIC_ID);
	assert_int_equal(EV(SUBSCRIBE_REJECTED), 2);
	assert_int_equal(EV(SUBSCRIBE_ACCEPTED), 2);
	assert_int_equal(broker_subscription_count(T->b), 2);
	/* Subscribing again updates, it does not add. */
	sub_ok(1, 0, "a/+/c");
	assert_int_equal(broker_subscription_count(T->b), 2);
}

static void test_subscribe_table_full_is_congestion(void **state)
{
	struct t *t = *state;
	t->cfg.max_subscriptions = 2;
	start(t);
	connect_ok(1, "c1");
	sub_ok(1, 0, "a");
	sub_ok(1, 0, "b/#");
	reset_out();
	assert_int_equal(do_subscribe(1, 0, MQTTSN_TOPIC_NORMAL, "c/+", 0, 8), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.suback.return_code, MQTTSN_RC_CONGESTION);
	/* The refused filter did not linger in the registry. */
	assert_int_equal(broker_topic_count(T->b), 3); /* 2 predefined + "a" */
}

static void test_unsubscribe_stops_delivery(void **state)
{
	start(*state);
	connect_ok(1, "c1");
	sub_ok(1, 0, "a/#");
	uint16_t id = reg_ok(1, "a/b");
	reset_out();
	struct mqttsn_msg m = { .type = MQTTSN_UNSUBSCRIBE };
	m.u.subscribe.flags = MQTTSN_TOPIC_NORMAL;
	m.u.subscribe.msg_id = 11;
	m.u.subscribe.topic_name = (const uint8_t *)"a/#";
	m.u.subscribe.topic_name_len = 3;
	assert_int_equal(feed(cl(1), &m), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_UNSUBACK);
	assert_int_equal(T->f.out[0].m.u.pubx.msg_id, 11);
	assert_int_equal(broker_subscription_count(T->b), 0);
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "x"), FO_FATE_DELIVERED);
	assert_int_equal(T->res.local_deliveries, 0);
	/* Unsubscribing from nothing is still acknowledged. */
	reset_out();
	assert_int_equal(feed(cl(1), &m), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_UNSUBACK);
	assert_int_equal(EV(UNSUBSCRIBE), 2);
}

/* ------------------------------------------------------------------ fan-out */

static void test_fanout_dedup_overlapping_subscriptions(void **state)
{
	start(*state);
	connect_ok(1, "pub");
	connect_ok(2, "s2");
	connect_ok(3, "s3");
	sub_ok(2, 0, "a/b/c");
	sub_ok(2, 1, "a/#");
	sub_ok(2, 0, "a/+/c");
	sub_ok(2, 0, "#");
	sub_ok(3, 0, "+/b/#");
	uint16_t id = reg_ok(1, "a/b/c");
	reset_out();
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 1, "m"), FO_FATE_DELIVERED);
	assert_int_equal(T->res.local_deliveries, 2);
	assert_int_equal(publishes_to(2), 1);
	assert_int_equal(publishes_to(3), 1);
	/* s2: max granted among its matches (1); s3: its only grant (0). */
	assert_int_equal(last_publish_to(2)->m.u.publish.flags & MQTTSN_FLAG_QOS_MASK, MQTTSN_FLAG_QOS1);
	assert_int_equal(last_publish_to(3)->m.u.publish.flags & MQTTSN_FLAG_QOS_MASK, MQTTSN_FLAG_QOS0);
	/* QoS 0 publish: min(0, granted) = 0 for everyone. */
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "m"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(2), 1);
	assert_int_equal(last_publish_to(2)->m.u.publish.flags & MQTTSN_FLAG_QOS_MASK, MQTTSN_FLAG_QOS0);
	assert_int_equal(broker_inflight_count(T->b), 1);
}

static void test_publisher_gets_own_message_when_subscribed(void **state)
{
	start(*state);
	connect_ok(1, "c1");
	struct mqttsn_msg a = sub_ok(1, 0, "me/too");
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, a.u.suback.topic_id, 0, "echo"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(1), 1);
	assert_int_equal(T->res.local_deliveries, 1);
}

static void test_register_before_publish_to_wildcard_subscriber(void **state)
{
	start(*state);
	connect_ok(1, "pub");
	connect_ok(2, "sub");
	sub_ok(2, 0, "a/+");
	uint16_t id = reg_ok(1, "a/b");
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "one"), FO_FATE_DELIVERED);
	struct out *l[8];
	assert_int_equal(outs_to(2, l, 8), 2);
	assert_false(l[0]->is_publish);
	assert_int_equal(l[0]->m.type, MQTTSN_REGISTER);
	assert_int_equal(l[0]->m.u.reg.topic_id, id);
	assert_int_equal(l[0]->m.u.reg.topic_name_len, 3);
	assert_memory_equal(l[0]->m.u.reg.topic_name, "a/b", 3);
	uint16_t reg_mid = l[0]->m.u.reg.msg_id;
	assert_true(reg_mid != 0);
	assert_true(l[1]->is_publish);
	assert_int_equal(l[1]->m.u.publish.topic_id, id);
	assert_int_equal(EV(REGISTER_SENT), 1);
	/* Second publish: the id is in the subscriber's map, no REGISTER. */
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "two"), FO_FATE_DELIVERED);
	assert_int_equal(outs_to(2, l, 8), 1);
	assert_true(l[0]->is_publish);
	/* REGACK applies; the subscriber may now publish with the id (given by us). */
	struct mqttsn_msg ra = { .type = MQTTSN_REGACK };
	ra.u.regack.topic_id = id;
	ra.u.regack.msg_id = reg_mid;
	ra.u.regack.return_code = MQTTSN_RC_ACCEPTED;
	assert_int_equal(feed(cl(2), &ra), FO_FATE_DELIVERED);
	assert_int_equal(feed(cl(2), &ra), FO_FATE_DROPPED); /* nothing pending any more */
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_STALE_ACK);
	reset_out();
	assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, id, 0, "back"), FO_FATE_DELIVERED);
}

static void test_regack_rejected_drops_mapping(void **state)
{
	start(*state);
	connect_ok(1, "pub");
	connect_ok(2, "sub");
	sub_ok(2, 0, "a/#");
	uint16_t id = reg_ok(1, "a/b");
	reset_out();
	do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "one");
	uint16_t reg_mid = T->f.out[0].m.u.reg.msg_id;
	struct mqttsn_msg ra = { .type = MQTTSN_REGACK };
	ra.u.regack.topic_id = id;
	ra.u.regack.msg_id = reg_mid;
	ra.u.regack.return_code = MQTTSN_RC_CONGESTION;
	assert_int_equal(feed(cl(2), &ra), FO_FATE_DELIVERED);
	/* The next publish registers again. */
	reset_out();
	do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "two");
	assert_int_equal(T->f.out[0].m.type, MQTTSN_REGISTER);
	assert_int_equal(EV(REGISTER_SENT), 2);
	/* PUBACK "invalid topic id" from the subscriber (lost REGISTER) also forgets it. */
	assert_int_equal(do_puback(2, id, 0, MQTTSN_RC_INVALID_TOPIC_ID), FO_FATE_DELIVERED);
	reset_out();
	do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "three");
	assert_int_equal(T->f.out[0].m.type, MQTTSN_REGISTER);
}

static void test_broker_fanout_from_other_worker(void **state)
{
	start(*state);
	connect_ok(2, "sub");
	connect_ok(3, "sub3");
	sub_ok(2, 1, "far/#");
	reset_out();
	struct payload p = { 0 };
	memcpy(p.buf, "remote", 6);
	fake_bind(&T->f, &p, p.buf, 6);
	/* A name this worker has never seen: registered on the fly for the subscriber. */
	assert_int_equal(broker_fanout(T->b, (const uint8_t *)"far/away", 8, 1, &p, 6, 2000), 1);
	struct out *l[4];
	assert_int_equal(outs_to(2, l, 4), 2);
	assert_int_equal(l[0]->m.type, MQTTSN_REGISTER);
	assert_int_equal(l[1]->m.u.publish.topic_id, l[0]->m.u.reg.topic_id);
	assert_int_equal(l[1]->m.u.publish.flags & MQTTSN_FLAG_QOS_MASK, MQTTSN_FLAG_QOS1);
	assert_int_equal(broker_topic_count(T->b), 3);
	/* No subscriber: nothing sent, nothing interned. */
	reset_out();
	assert_int_equal(broker_fanout(T->b, (const uint8_t *)"else/where", 10, 0, &p, 6, 2000), 0);
	assert_int_equal(T->f.n, 0);
	assert_int_equal(broker_topic_count(T->b), 3);
	/* Predefined name from another worker: delivered as predefined. */
	sub_ok(3, 0, "sys/alarm");
	reset_out();
	assert_int_equal(broker_fanout(T->b, (const uint8_t *)"sys/alarm", 9, -1, &p, 6, 2000), 1);
	assert_int_equal(last_publish_to(3)->m.u.publish.flags & MQTTSN_FLAG_TOPIC_MASK, MQTTSN_TOPIC_PREDEFINED);
	assert_int_equal(last_publish_to(3)->m.u.publish.topic_id, 200);
	/* Disconnect releases the in-flight copy. */
	do_simple(2, MQTTSN_DISCONNECT);
	assert_int_equal(broker_inflight_count(T->b), 0);
	assert_int_equal(T->f.holds, T->f.releases);
}

/* ------------------------------------------------------------------ QoS 1 timers */

static void test_retransmit_with_dup_then_give_up(void **state)
{
	start(*state);
	connect_ok(1, "pub");
	connect_ok(2, "sub");
	struct mqttsn_msg a = sub_ok(2, 1, "q");
	uint16_t id = a.u.suback.topic_id;
	reg_ok(1, "q");
	reset_out();
	T->now = 5000;
	do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 1, "data");
	struct out *first = last_publish_to(2);
	uint16_t mid = first->m.u.publish.msg_id;
	assert_int_equal(first->m.u.publish.flags & MQTTSN_FLAG_DUP, 0);
	reset_out();
	broker_tick(T->b, 5999);
	assert_int_equal(T->f.n, 0);
	broker_tick(T->b, 6000);
	assert_int_equal(T->f.n, 1);
	struct out *r = &T->f.out[0];
	assert_true(r->is_publish);
	assert_int_equal(r->to.port, cl(2).port);
	assert_true(r->m.u.publish.flags & MQTTSN_FLAG_DUP);
	assert_int_equal(r->m.u.publish.msg_id, mid);
	assert_int_equal(r->m.u.publish.topic_id, id);
	assert_memory_equal(r->m.u.publish.data, "data", 4);
	broker_tick(T->b, 6500);
	assert_int_equal(T->f.n, 1);
	broker_tick(T->b, 7000);
	assert_int_equal(T->f.n, 2);
	assert_int_equal(EV(QOS1_RETRANSMITS), 2);
	assert_int_equal(broker_inflight_count(T->b), 1);
	/* retry_limit = 2 retransmissions: the next deadline gives up and releases. */
	broker_tick(T->b, 8000);
	assert_int_equal(T->f.n, 2);
	assert_int_equal(EV(QOS1_GIVEUPS), 1);
	assert_int_equal(broker_inflight_count(T->b), 0);
	assert_int_equal(T->f.holds, T->f.releases);
	assert_int_equal(do_puback(2, id, mid, MQTTSN_RC_ACCEPTED), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_STALE_ACK);
}

static void test_inflight_full_skips_copy(void **state)
{
	struct t *t = *state;
	t->cfg.max_inflight_per_session = 2;
	t->cfg.max_inflight = 3;
	start(t);
	connect_ok(1, "pub");
	connect_ok(2, "s2");
	connect_ok(3, "s3");
	sub_ok(2, 1, "q");
	sub_ok(3, 1, "q");
	uint16_t id = reg_ok(1, "q");
	reset_out();
	do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 1, "1");
	do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 2, "2");
	assert_int_equal(broker_inflight_count(T->b), 3); /* s2 or s3 hit the worker limit */
	assert_int_equal(EV(DELIVERY_INFLIGHT_FULL), 1);
	do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 3, "3");
	assert_int_equal(EV(DELIVERY_INFLIGHT_FULL), 3);
	/* Distinct msg ids per session for the copies in flight. */
	struct out *l[16];
	int n = outs_to(2, l, 16);
	assert_true(n >= 1);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			assert_true(l[i]->m.u.publish.msg_id != l[j]->m.u.publish.msg_id);
	/* destroy (teardown) releases what is still held. */
}

/* ------------------------------------------------------------------ keepalive, disconnect */

static void test_keepalive_expiry_at_one_and_a_half(void **state)
{
	start(*state);
	T->now = 10000;
	reset_out();
	assert_int_equal(do_connect(1, "c1", MQTTSN_FLAG_CLEAN, 10), FO_FATE_DELIVERED);
	assert_int_equal(do_connect(2, "c2", MQTTSN_FLAG_CLEAN, 0), FO_FATE_DELIVERED); /* never expires */
	sub_ok(1, 1, "k");
	/* Traffic refreshes: last message at 12000. */
	T->now = 12000;
	assert_int_equal(do_simple(1, MQTTSN_PINGREQ), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[T->f.n - 1].m.type, MQTTSN_PINGRESP);
	broker_tick(T->b, 12000 + 14999);
	assert_int_equal(broker_session_count(T->b), 2);
	broker_tick(T->b, 12000 + 15000);
	assert_int_equal(broker_session_count(T->b), 1);
	assert_int_equal(EV(SESSION_EXPIRED), 1);
	assert_int_equal(broker_subscription_count(T->b), 0);
	broker_tick(T->b, 1000000000);
	assert_int_equal(broker_session_count(T->b), 1);
}

static void test_expiry_scan_is_bounded_round_robin(void **state)
{
	struct t *t = *state;
	t->cfg.expiry_scan_per_tick = 4;
	t->cfg.max_sessions = 16;
	start(t);
	T->now = 0;
	for (int i = 0; i < 16; i++) {
		char id[8];
		snprintf(id, sizeof(id), "c%d", i);
		assert_int_equal(do_connect(i, id, MQTTSN_FLAG_CLEAN, 1), FO_FATE_DELIVERED);
	}
	broker_tick(T->b, 1500);
	assert_int_equal(broker_session_count(T->b), 12);
	broker_tick(T->b, 1500);
	broker_tick(T->b, 1500);
	assert_int_equal(broker_session_count(T->b), 4);
	broker_tick(T->b, 1500);
	assert_int_equal(broker_session_count(T->b), 0);
}

static void test_disconnect_removes_session_and_releases(void **state)
{
	start(*state);
	connect_ok(1, "pub");
	connect_ok(2, "sub");
	sub_ok(2, 1, "d");
	uint16_t id = reg_ok(1, "d");
	do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 1, "x");
	assert_int_equal(broker_inflight_count(T->b), 1);
	reset_out();
	struct mqttsn_msg m = { .type = MQTTSN_DISCONNECT };
	m.u.disconnect.has_duration = 1; /* sleep request: treated as a disconnect */
	m.u.disconnect.duration = 100;
	assert_int_equal(feed(cl(2), &m), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_DISCONNECT);
	assert_false(broker_has_session(T->b, &(struct fo_client){ .ip = cl(2).ip, .port = cl(2).port }));
	assert_int_equal(broker_inflight_count(T->b), 0);
	assert_int_equal(T->f.holds, T->f.releases);
	assert_int_equal(EV(SESSION_DISCONNECTED), 1);
	assert_int_equal(do_simple(1, MQTTSN_DISCONNECT), FO_FATE_DELIVERED);
	assert_int_equal(broker_topic_count(T->b), 2); /* registry entries recycled */
	assert_int_equal(broker_subscription_count(T->b), 0);
}

/* ------------------------------------------------------------------ odd messages */

static void test_unexpected_malformed_unknown(void **state)
{
	start(*state);
	connect_ok(1, "c1");
	/* Will updates have a reply: "not supported". */
	struct mqttsn_msg w = { .type = MQTTSN_WILLTOPICUPD };
	assert_int_equal(feed(cl(1), &w), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_WILLTOPICRESP);
	assert_int_equal(T->f.out[0].m.u.connack.return_code, MQTTSN_RC_NOT_SUPPORTED);
	reset_out();
	struct mqttsn_msg wm = { .type = MQTTSN_WILLMSGUPD };
	wm.u.willmsg.msg = (const uint8_t *)"bye";
	wm.u.willmsg.msg_len = 3;
	assert_int_equal(feed(cl(1), &wm), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_WILLMSGRESP);
	reset_out();
	struct mqttsn_msg pr = { .type = MQTTSN_PUBREL };
	pr.u.pubx.msg_id = 3;
	assert_int_equal(feed(cl(1), &pr), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_UNEXPECTED);
	struct mqttsn_msg ca = { .type = MQTTSN_CONNACK };
	assert_int_equal(feed(cl(1), &ca), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_UNEXPECTED);
	/* A gateway's ADVERTISE from an unknown address: dropped, not answered. */
	struct mqttsn_msg ad = { .type = MQTTSN_ADVERTISE };
	assert_int_equal(feed(cl(8), &ad), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_UNEXPECTED);
	assert_int_equal(T->f.n, 0);

	const uint8_t unknown[] = { 2, 0x30 };
	assert_int_equal(feed_raw(cl(1), unknown, sizeof(unknown)), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_UNKNOWN_TYPE);
	assert_int_equal(T->c.mqttsn_rx_type[0x30], 1);
	const uint8_t bad_len[] = { 9, MQTTSN_PINGREQ };
	assert_int_equal(feed_raw(cl(1), bad_len, sizeof(bad_len)), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_MALFORMED);
	const uint8_t runt[] = { 1 };
	assert_int_equal(feed_raw(cl(1), runt, sizeof(runt)), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_MALFORMED);
	assert_int_equal(T->c.mqttsn_rx_type[MQTTSN_PINGREQ], 1);
	assert_int_equal(T->c.mqttsn_rx_type[MQTTSN_CONNECT], 1);
	assert_int_equal(T->c.mqttsn_rx_type[MQTTSN_PUBREL], 1);
	assert_int_equal(T->f.n, 0);
}

static void test_many_clients_churn_keeps_tables_consistent(void **state)
{
	struct t *t = *state;
	t->cfg.max_sessions = 8;
	start(t);
	/* Connect, subscribe, register, disconnect in waves: nothing leaks from the pools. */
	for (int wave = 0; wave < 20; wave++) {
		for (int i = 0; i < 8; i++) {
			char id[16];
			snprintf(id, sizeof(id), "w%d", i);
			T->n_pl = 0;
			connect_ok(i, id);
			sub_ok(i, 1, i % 2 ? "t/#" : "t/x");
			reg_ok(i, "t/x");
		}
		T->n_pl = 0;
		reset_out();
		uint16_t id = reg_ok(0, "t/x");
		do_publish(0, 1, MQTTSN_TOPIC_NORMAL, id, 1, "w");
		assert_int_equal(T->res.local_deliveries, 8);
		for (int i = 0; i < 8; i++)
			do_simple(i, MQTTSN_DISCONNECT);
		assert_int_equal(broker_session_count(T->b), 0);
		assert_int_equal(broker_subscription_count(T->b), 0);
		assert_int_equal(broker_inflight_count(T->b), 0);
		assert_int_equal(broker_topic_count(T->b), 2);
		T->n_pl = 0;
	}
	assert_int_equal(T->f.holds, T->f.releases);
}

static void test_qos1_follows_moved_session_and_survives_failed_send(void **state)
{
	start(*state);
	connect_ok(1, "pub");
	connect_ok(2, "sub");
	struct mqttsn_msg a = sub_ok(2, 1, "m");
	reg_ok(1, "m");
	reset_out();
	T->now = 2000;
	T->f.fail_publish = true; /* the first copy is lost on the way out */
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_NORMAL, a.u.suback.topic_id, 1, "z"), FO_FATE_DELIVERED);
	T->f.fail_publish = false;
	assert_int_equal(broker_inflight_count(T->b), 1);
	/* The subscriber comes back from a new address with clean=0: the retry goes there. */
	reset_out();
	assert_int_equal(do_connect(102, "sub", 0, 60), FO_FATE_DELIVERED);
	reset_out();
	broker_tick(T->b, 3000);
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].to.port, cl(102).port);
	assert_true(T->f.out[0].m.u.publish.flags & MQTTSN_FLAG_DUP);
	assert_int_equal(do_puback(102, a.u.suback.topic_id, T->f.out[0].m.u.publish.msg_id, MQTTSN_RC_ACCEPTED),
			 FO_FATE_DELIVERED);
	assert_int_equal(broker_inflight_count(T->b), 0);
}

static void test_puback_invalid_topic_completes_and_unmaps(void **state)
{
	start(*state);
	connect_ok(1, "pub");
	connect_ok(2, "sub");
	sub_ok(2, 1, "w/#");
	uint16_t id = reg_ok(1, "w/1");
	reset_out();
	do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 1, "a");
	struct out *o = last_publish_to(2);
	uint16_t mid = o->m.u.publish.msg_id;
	/* The subscriber never got the REGISTER: it rejects the copy. */
	assert_int_equal(do_puback(2, id, mid, MQTTSN_RC_INVALID_TOPIC_ID), FO_FATE_DELIVERED);
	assert_int_equal(broker_inflight_count(T->b), 0);
	assert_int_equal(T->f.holds, T->f.releases);
	reset_out();
	do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 2, "b");
	struct out *l[4];
	assert_int_equal(outs_to(2, l, 4), 2);
	assert_int_equal(l[0]->m.type, MQTTSN_REGISTER);
	/* A REGISTER that cannot be queued is undone: no copy, and the next publish retries. */
	assert_int_equal(do_puback(2, id, l[1]->m.u.publish.msg_id, MQTTSN_RC_INVALID_TOPIC_ID), FO_FATE_DELIVERED);
	reset_out();
	T->f.fail_send = true;
	do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "c");
	T->f.fail_send = false;
	assert_int_equal(publishes_to(2), 0);
	assert_int_equal(T->res.local_deliveries, 0);
	reset_out();
	do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "d");
	assert_int_equal(outs_to(2, l, 4), 2);
	assert_int_equal(l[0]->m.type, MQTTSN_REGISTER);
}

static void test_full_tables_skip_copies_not_publishes(void **state)
{
	struct t *t = *state;
	t->cfg.max_client_topics = 2;
	start(t);
	connect_ok(1, "pub");
	connect_ok(2, "sub");
	sub_ok(2, 0, "f/#");
	uint16_t id1 = reg_ok(1, "f/1");
	uint16_t id2 = reg_ok(1, "f/2");
	reset_out();
	/* The subscriber's map has no room for f/1: the copy is skipped, the publish stands. */
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id1, 0, "x"), FO_FATE_DELIVERED);
	assert_int_equal(T->res.local_deliveries, 0);
	assert_int_equal(EV(PUBLISH_CONGESTION), 1);
	assert_int_equal(publishes_to(2), 0);
	(void)id2;
}

/* More wildcard filters than a publish tries one by one: the filter index finds them. Each
 * subscriber gets one copy exactly when its filter matches, with more filters than the
 * scan threshold and again after unsubscribing below it. */
static void test_wildcards_through_filter_index(void **state)
{
	start(*state);
	static const char *const filters[] = { "a/+/c", "a/#", "+/b/c", "#", "a/b/+", "$SYS/#", "+/+/+", "x/#",
					       "a/b/c/#", "+/b/#" };
	enum { NF = sizeof(filters) / sizeof(filters[0]) };
	connect_ok(1, "pub");
	for (int i = 0; i < NF; i++) {
		char id[8];
		snprintf(id, sizeof(id), "s%d", i);
		connect_ok(2 + i, id);
		sub_ok(2 + i, 0, filters[i]);
	}
	static const char *const topics[] = { "a/b/c", "a", "$SYS/x", "x/y/z", "q/b/c", "a/b" };
	for (int round = 0; round < 2; round++) {
		for (size_t k = 0; k < sizeof(topics) / sizeof(topics[0]); k++) {
			T->n_pl = 0;
			uint16_t id = reg_ok(1, topics[k]);
			reset_out();
			assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "m"), FO_FATE_DELIVERED);
			uint32_t expect = 0;
			for (int i = 0; i < NF; i++) {
				bool live = round == 0 || i < 3;
				bool m = live && topic_match((const uint8_t *)filters[i], strlen(filters[i]),
							     (const uint8_t *)topics[k], strlen(topics[k]));
				assert_int_equal(publishes_to(2 + i), m ? 1 : 0);
				expect += m;
			}
			assert_int_equal(T->res.local_deliveries, expect);
		}
		/* Down to three filters: tried one by one again. */
		for (int i = 3; round == 0 && i < NF; i++) {
			struct mqttsn_msg m = { .type = MQTTSN_UNSUBSCRIBE };
			m.u.subscribe.flags = MQTTSN_TOPIC_NORMAL;
			m.u.subscribe.msg_id = 3;
			m.u.subscribe.topic_name = (const uint8_t *)filters[i];
			m.u.subscribe.topic_name_len = (uint16_t)strlen(filters[i]);
			T->n_pl = 0;
			assert_int_equal(feed(cl(2 + i), &m), FO_FATE_DELIVERED);
		}
	}
	assert_int_equal(broker_subscription_count(T->b), 3);
}

/* Scale: the registry outgrows 16 bits, so a client's topic ids are its own (spec 7.3).
 * One client can hold 65534 ids; others keep getting ids for new names; a copy carries
 * each receiver's own id, and a wildcard subscriber is told its own id by REGISTER. */
static void test_topic_ids_per_client_beyond_16_bits(void **state)
{
	struct t *t = *state;
	t->cfg.max_sessions = 4;
	t->cfg.max_topics = 70000;
	t->cfg.max_client_topics = 70100;
	start(t);
	connect_ok(1, "big");
	connect_ok(2, "sub");
	connect_ok(3, "wild");
	sub_ok(3, 0, "n/#"); /* registry entry 3, after the two predefined names */
	char nm[24];
	for (uint32_t i = 0; i < 65534; i++) {
		T->n_pl = 0;
		snprintf(nm, sizeof(nm), "n/%u", i);
		uint16_t id = reg_ok(1, nm);
		/* entry 4 + i: its own number while <= 65534, then the ids 1, 2, 3 left free */
		assert_int_equal(id, i <= 65530 ? 4 + i : i - 65530);
	}
	T->n_pl = 0;
	assert_int_equal(do_register(1, "n/more", 9), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.regack.return_code, MQTTSN_RC_CONGESTION); /* client 1 is out of ids */
	assert_int_equal(broker_topic_count(T->b), 65536);
	assert_true(reg_ok(2, "n/more") != 0); /* the registry still has room */

	/* n/65531 is registry entry 65535: client 1 knows it as 1. Client 2 holds 1 already. */
	assert_int_equal(reg_ok(2, "sys/time"), 1);
	struct mqttsn_msg a = sub_ok(2, 0, "n/65531");
	assert_int_equal(a.u.suback.topic_id, 2);
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, 1, 0, "hi"), FO_FATE_DELIVERED);
	assert_int_equal(T->res.topic_len, 7);
	assert_memory_equal(T->res.topic, "n/65531", 7);
	assert_int_equal(T->res.local_deliveries, 2);
	struct out *l[8];
	assert_int_equal(outs_to(2, l, 8), 1);
	assert_true(l[0]->is_publish);
	assert_int_equal(l[0]->m.u.publish.topic_id, 2);
	assert_int_equal(outs_to(3, l, 8), 2);
	assert_int_equal(l[0]->m.type, MQTTSN_REGISTER);
	assert_int_equal(l[0]->m.u.reg.topic_id, 1); /* client 3's map was empty */
	assert_int_equal(l[0]->m.u.reg.topic_name_len, 7);
	assert_int_equal(l[1]->m.u.publish.topic_id, 1);
	/* A publish from client 2 under its own id reaches client 1 under client 1's. */
	reset_out();
	T->n_pl = 0;
	sub_ok(1, 0, "n/65531");
	assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, 2, 0, "yo"), FO_FATE_DELIVERED);
	assert_int_equal(outs_to(1, l, 8), 1);
	assert_int_equal(l[0]->m.u.publish.topic_id, 1);
	/* The topic listing reaches past 16-bit ids. */
	struct broker_export_row rows[64];
	uint64_t cur = 0;
	uint32_t n = 0;
	bool high = false;
	while (cur != BROKER_EXPORT_DONE) {
		uint32_t k = broker_export(T->b, BROKER_EXPORT_TOPICS, &cur, rows, 64);
		for (uint32_t i = 0; i < k; i++)
			high |= rows[i].topic_id == 65535 && rows[i].name_len == 7;
		n += k;
	}
	assert_int_equal(n, broker_topic_count(T->b));
	assert_true(high);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_create_rejects_bad_config),
		TEST(test_create_counts_predefined_topics),
		TEST(test_searchgw_answered_with_gwinfo),
		TEST(test_unknown_client_gets_disconnect),
		TEST(test_reply_failure_is_a_named_drop),
		TEST(test_connect_accepted_and_will_rejected),
		TEST(test_connect_table_full_is_congestion),
		TEST(test_clean_session_drops_state_on_reconnect),
		TEST(test_persistent_session_kept_and_moved),
		TEST(test_clean_connect_from_new_address_replaces),
		TEST(test_register_same_name_same_id_own_maps),
		TEST(test_register_invalid_and_full),
		TEST(test_publish_qos1_puback_after_fanout),
		TEST(test_publish_qos1_dup_resend),
		TEST(test_publish_qos0_no_match_and_qos2),
		TEST(test_publish_predefined_and_short),
		TEST(test_publish_qos_m1_without_session),
		TEST(test_subscribe_kinds_and_grants),
		TEST(test_subscribe_table_full_is_congestion),
		TEST(test_unsubscribe_stops_delivery),
		TEST(test_fanout_dedup_overlapping_subscriptions),
		TEST(test_publisher_gets_own_message_when_subscribed),
		TEST(test_register_before_publish_to_wildcard_subscriber),
		TEST(test_regack_rejected_drops_mapping),
		TEST(test_broker_fanout_from_other_worker),
		TEST(test_retransmit_with_dup_then_give_up),
		TEST(test_inflight_full_skips_copy),
		TEST(test_keepalive_expiry_at_one_and_a_half),
		TEST(test_expiry_scan_is_bounded_round_robin),
		TEST(test_disconnect_removes_session_and_releases),
		TEST(test_unexpected_malformed_unknown),
		TEST(test_many_clients_churn_keeps_tables_consistent),
		TEST(test_qos1_follows_moved_session_and_survives_failed_send),
		TEST(test_puback_invalid_topic_completes_and_unmaps),
		TEST(test_full_tables_skip_copies_not_publishes),
		TEST(test_wildcards_through_filter_index),
		TEST(test_topic_ids_per_client_beyond_16_bits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
