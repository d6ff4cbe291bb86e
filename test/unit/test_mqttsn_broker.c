/* Unit tests for dataplane/mqttsn/mqttsn_broker.c: the per-worker MQTT-SN engine driven with
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

#include "admission.h"
#include "fanout/client_hash.h"
#include "mqttsn_broker.h"
#include "mqttsn_codec.h"
#include "mqttsn_session.h"
#include "predef_table.h"
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
	int published_rc; /* what the published() hook answers (MQTTSN_RC_ACCEPTED = 0 by default) */
	long published_calls;
	long made, originated; /* payload_make and originated calls */
	char orig_topic[64];   /* the last originated publish */
	int orig_qos;
	char orig_client[24];
};

static struct t *T; /* the running test's fixture */
static void *fake_make(void *ctx, const uint8_t *data, uint16_t len);
static void fake_originated(void *ctx, const struct fo_client *from, const struct broker_result *res, void *payload);

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

static int fake_send_publish(void *ctx, const struct fo_client *to, const uint8_t *hdr, uint16_t hdr_len, void *payload)
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
	struct payload pl[256];
	int n_pl;
	uint64_t now;
	struct broker_result res;
	/* optional io hooks, set before start() */
	const struct broker_config *(*client_config)(void *ctx, uint32_t client_hash);
	int (*predef_named)(void *ctx, const uint8_t *name, uint16_t len, const struct predef_set **all);
	int (*broadcast)(void *ctx, const struct fo_client *asker, uint8_t radius, const uint8_t *msg, uint16_t len);
};

static const struct broker_predefined predef[] = {
	{ .id = 100, .name = "sys/time" },
	{ .id = 200, .name = "sys/alarm" },
};

static void default_cfg(struct broker_config *cfg)
{
	*cfg = (struct broker_config){
		.max_sessions = 16,
		.ipv6_clients = true,
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

static void *fake_make(void *ctx, const uint8_t *data, uint16_t len)
{
	struct fake *f = ctx;
	assert_true(T->n_pl < 256);
	struct payload *p = &T->pl[T->n_pl++];
	memset(p, 0, sizeof(*p));
	assert_true(len <= sizeof(p->buf));
	memcpy(p->buf, data, len);
	p->view = p->buf;
	p->view_len = len;
	p->binds = 1;
	f->made++;
	f->holds++; /* the reference it returns */
	return p;
}

static void fake_originated(void *ctx, const struct fo_client *from, const struct broker_result *res, void *payload)
{
	(void)from;
	(void)payload;
	struct fake *f = ctx;
	assert_true(res->published && res->originated);
	f->originated++;
	snprintf(f->orig_topic, sizeof(f->orig_topic), "%.*s", (int)res->topic_len, (const char *)res->topic);
	snprintf(f->orig_client, sizeof(f->orig_client), "%.*s", (int)res->client_id_len, (const char *)res->client_id);
	f->orig_qos = res->qos;
}

static void start(struct t *t)
{
	t->io = (struct broker_io){ .ctx = &t->f,
				    .send = fake_send,
				    .send_publish = fake_send_publish,
				    .payload_bind = fake_bind,
				    .payload_hold = fake_hold,
				    .payload_release = fake_release,
				    .payload_make = fake_make,
				    .published = fake_published,
				    .originated = fake_originated,
				    .client_config = t->client_config,
				    .predef_named = t->predef_named,
				    .broadcast = t->broadcast };
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

/* Client i; clients 100 + i share client i's IP address from another port (NAT rebinding). Clients
 * 200 + i are IPv6 clients 2001:db8::i with client i's 32-bit key and port: the same key as an IPv4
 * address must not make them one client; 300 + i is 2001:db8::1:i, another address of the same /64
 * (the same key) and port. */
static struct fo_client cl(int i)
{
	struct fo_client c = { .ip = 0x0a000000u + (uint32_t)(i % 100), .port = (uint16_t)(10000 + i), .ifindex = 0 };
	if (i >= 200) {
		static const uint8_t net[8] = { 0x20, 0x01, 0x0d, 0xb8 };
		c.v6 = 1;
		c.port = (uint16_t)(10000 + i % 100);
		memcpy(c.ip6, net, 8);
		c.ip6[13] = i >= 300;
		c.ip6[15] = (uint8_t)(i % 100);
	}
	return c;
}

static bool same_client(const struct fo_client *a, const struct fo_client *b)
{
	return a->ip == b->ip && a->port == b->port && a->v6 == b->v6 && (!a->v6 || memcmp(a->ip6, b->ip6, 16) == 0);
}

static void reset_out(void)
{
	T->f.n = 0;
}

/* Feed one encoded message; returns the fate. */
static enum fo_fate feed_raw(struct fo_client from, const uint8_t *buf, uint16_t len)
{
	assert_true(T->n_pl < 256);
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
		if (same_client(&T->f.out[j].to, &c))
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

static enum fo_fate do_regack(int i, uint16_t tid, uint16_t msg_id, uint8_t rc)
{
	struct mqttsn_msg m = { .type = MQTTSN_REGACK };
	m.u.regack.topic_id = tid;
	m.u.regack.msg_id = msg_id;
	m.u.regack.return_code = rc;
	return feed(cl(i), &m);
}

/* Answer every REGISTER among the outputs so far with an accepting REGACK from its client
 * (copies held for them follow); returns how many. */
static enum fo_fate do_unsubscribe(int i, const char *name, uint16_t msg_id)
{
	struct mqttsn_msg m = { .type = MQTTSN_UNSUBSCRIBE };
	m.u.subscribe.flags = MQTTSN_TOPIC_NORMAL;
	m.u.subscribe.msg_id = msg_id;
	m.u.subscribe.topic_name = (const uint8_t *)name;
	m.u.subscribe.topic_name_len = (uint16_t)strlen(name);
	return feed(cl(i), &m);
}

static bool has(int i)
{
	struct fo_client c = cl(i);
	return broker_has_session(T->b, &c);
}

struct reg_seen {
	int i;
	uint16_t tid, mid;
};

static int regack_all(void)
{
	struct reg_seen r[64];
	int n = 0;
	for (int j = 0; j < T->f.n && n < 64; j++) {
		const struct out *o = &T->f.out[j];
		if (!o->is_publish && o->m.type == MQTTSN_REGISTER)
			r[n++] = (struct reg_seen){ o->to.port - 10000, o->m.u.reg.topic_id, o->m.u.reg.msg_id };
	}
	for (int k = 0; k < n; k++)
		assert_int_equal(do_regack(r[k].i, r[k].tid, r[k].mid, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	return n;
}

/* ------------------------------------------------------------------ create */

static void test_create_rejects_bad_config(void **state)
{
	struct t *t = *state;
	struct broker_io io = { .ctx = &t->f,
				.send = fake_send,
				.send_publish = fake_send_publish,
				.payload_bind = fake_bind,
				.payload_hold = fake_hold,
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
	assert_int_equal(broker_topic_count(T->b), 0); /* predefined names take no entry until used */
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

/* broker_io.broadcast: the GWINFO goes to the stage with the search's radius (5.4.3), not to send. */
static uint8_t bc_radius;
static struct fo_client bc_asker;
static struct mqttsn_msg bc_msg;
static uint8_t bc_bytes[16];
static int bc_rc, bc_calls;
static int fake_broadcast(void *ctx, const struct fo_client *asker, uint8_t radius, const uint8_t *msg, uint16_t len)
{
	(void)ctx;
	bc_calls++;
	bc_radius = radius;
	bc_asker = *asker;
	assert_true(len <= sizeof(bc_bytes));
	memcpy(bc_bytes, msg, len);
	assert_int_equal(mqttsn_decode(bc_bytes, len, &bc_msg), MQTTSN_OK);
	return bc_rc;
}

static void test_searchgw_answered_through_broadcast(void **state)
{
	struct t *t = *state;
	t->broadcast = fake_broadcast;
	start(t);
	bc_calls = 0;
	bc_rc = 0;
	struct mqttsn_msg m = { .type = MQTTSN_SEARCHGW };
	m.u.searchgw.radius = 3;
	assert_int_equal(feed(cl(2), &m), FO_FATE_ANSWERED);
	assert_int_equal(T->f.n, 0);
	assert_int_equal(bc_calls, 1);
	assert_int_equal(bc_radius, 3);
	assert_int_equal(bc_asker.ip, cl(2).ip);
	assert_int_equal(bc_asker.port, cl(2).port);
	assert_int_equal(bc_msg.type, MQTTSN_GWINFO);
	assert_int_equal(bc_msg.u.gwinfo.gw_id, 7);
	bc_rc = -1; /* the stage could not send it */
	assert_int_equal(feed(cl(2), &m), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_REPLY_FAILED);
	assert_int_equal(bc_calls, 2);
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
	assert_int_equal(broker_topic_count(T->b), 0); /* none remain (predefined names are not pinned) */
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
	/* Its map moved too: the id still works from the new address, and copies go there, the first
	 * after a REGISTER of the kept id (the reconnect: spec 6.10). */
	reset_out();
	assert_int_equal(do_publish(101, 0, MQTTSN_TOPIC_NORMAL, id, 0, "hello"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(101), 0);
	assert_int_equal(publishes_to(1), 0);
	struct out *l[4];
	assert_int_equal(outs_to(101, l, 4), 1);
	assert_int_equal(l[0]->m.type, MQTTSN_REGISTER);
	assert_int_equal(l[0]->m.u.reg.topic_id, id);
	assert_int_equal(do_regack(101, id, l[0]->m.u.reg.msg_id, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(101), 1);
	assert_memory_equal(last_publish_to(101)->m.u.publish.data, "hello", 5);
	/* clean=0 from the same address keeps it too. */
	reset_out();
	assert_int_equal(do_connect(101, "c1", 0, 30), FO_FATE_DELIVERED);
	assert_int_equal(broker_subscription_count(T->b), 1);
}

/* IPv6 clients next to IPv4 ones: one session per address (a key shared with an IPv4 address or with
 * another address of the /64 is not the same client), topics shared, copies to each client's own
 * address and family; a session moves between ports of one IPv6 address, and the proven owner keeps
 * it against the same host's IPv4 address. */
static void test_ipv6_clients(void **state)
{
	start(*state);
	connect_ok(1, "v4");
	connect_ok(201, "v6");
	connect_ok(301, "v6same64");
	assert_int_equal(broker_session_count(T->b), 3);
	sub_ok(1, 0, "mix/t");
	sub_ok(201, 0, "mix/t");
	sub_ok(301, 1, "mix/#");
	uint16_t id = reg_ok(201, "mix/t");
	reset_out();
	assert_int_equal(do_publish(201, 0, MQTTSN_TOPIC_NORMAL, id, 0, "from v6"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(1), 1);
	assert_int_equal(publishes_to(201), 1);
	assert_int_equal(publishes_to(301) + (int)EV(DELIVERY_HELD), 1); /* a wildcard copy may wait for REGACK */
	struct out *o = last_publish_to(201);
	assert_true(o->to.v6);
	assert_memory_equal(o->to.ip6, cl(201).ip6, 16);
	assert_false(last_publish_to(1)->to.v6);
	id = reg_ok(1, "mix/t");
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "from v4"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(201), 1);
	assert_memory_equal(last_publish_to(201)->m.u.publish.data, "from v4", 7);
	/* the control socket's listing carries the address */
	struct broker_export_row rows[8];
	uint64_t cur = 0;
	uint32_t n = broker_export(T->b, BROKER_EXPORT_SESSIONS, &cur, rows, 8);
	int v6rows = 0;
	for (uint32_t k = 0; k < n; k++)
		if (rows[k].v6) {
			v6rows++;
			assert_memory_equal(rows[k].ip6, "\x20\x01\x0d\xb8", 4);
		}
	assert_int_equal(v6rows, 2);
	/* CleanSession=0 over IPv6: a new port of the same address takes it back with its subscription */
	reset_out();
	assert_int_equal(do_connect(201, "v6p", 0, 30), FO_FATE_DELIVERED);
	struct fo_client moved = cl(201);
	moved.port = 20201;
	struct mqttsn_msg m = { .type = MQTTSN_CONNECT };
	m.u.connect.flags = 0;
	m.u.connect.protocol_id = MQTTSN_PROTOCOL_ID;
	m.u.connect.duration = 30;
	m.u.connect.client_id = (const uint8_t *)"v6p";
	m.u.connect.client_id_len = 3;
	reset_out();
	assert_int_equal(feed(moved, &m), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.u.connack.return_code, MQTTSN_RC_ACCEPTED);
	assert_true(broker_has_session(T->b, &moved));
	struct fo_client old = cl(201);
	assert_false(broker_has_session(T->b, &old));
	old.v6 = 0; /* the IPv4 client with the same key and port is another client, still there */
	assert_true(broker_has_session(T->b, &old));
	/* the same ClientId from the host's IPv4 address: another source, the proven owner keeps it */
	reset_out();
	assert_int_equal(do_connect(1, "v6p", 0, 30), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.connack.return_code, MQTTSN_RC_NOT_SUPPORTED);
	assert_int_equal(EV(CONNECT_REJECTED_OWNER), 1);
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
	assert_int_equal(broker_topic_count(T->b), 1);
}

static void test_register_invalid_and_full(void **state)
{
	struct t *t = *state;
	t->cfg.max_topics = 2;
	t->cfg.max_client_topics = 3;
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
	reset_out();
	/* a name that is not UTF-8 (5.3.12): a lone lead byte */
	assert_int_equal(do_register(1, "caf\xc3", 1), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.regack.return_code, MQTTSN_RC_NOT_SUPPORTED);
	reg_ok(1, "t/1");
	reg_ok(1, "t/2");
	reset_out();
	assert_int_equal(do_register(1, "t/3", 1), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.regack.return_code, MQTTSN_RC_CONGESTION);
	assert_int_equal(EV(REGISTER_REJECTED), 4);
	/* Map full (3 entries) while the registry holds the name. */
	connect_ok(2, "c2");
	reg_ok(2, "t/1");
	reset_out();
	assert_int_equal(do_register(2, "t/2", 1), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.regack.return_code, MQTTSN_RC_CONGESTION);
	assert_int_equal(broker_topic_count(T->b), 2);
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
	return publish_flags(i, (uint8_t)(mqttsn_qos_flags(1) | MQTTSN_TOPIC_NORMAL | MQTTSN_FLAG_DUP), tid, msg_id,
			     data);
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
	assert_int_equal(do_publish(1, 2, MQTTSN_TOPIC_NORMAL, id, 9, "x"), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_PUBREC); /* QoS 2: see the qos2 tests */
	assert_int_equal(T->f.out[0].m.u.pubx.msg_id, 9);
	assert_int_equal(EV(PUBLISH_NO_MATCH), 2);
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
	assert_int_equal(a.u.suback.flags & MQTTSN_FLAG_QOS_MASK, MQTTSN_FLAG_QOS2); /* granted as asked */
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
	reset_out();
	/* a filter that is not UTF-8 (5.3.12): a surrogate */
	assert_int_equal(do_subscribe(1, 0, MQTTSN_TOPIC_NORMAL, "a/\xed\xa0\x80/#", 0, 8), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.suback.return_code, MQTTSN_RC_NOT_SUPPORTED);
	assert_int_equal(EV(SUBSCRIBE_REJECTED), 3);
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
	assert_int_equal(broker_topic_count(T->b), 1); /* "a" */
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
	assert_int_equal(T->res.local_deliveries, 1); /* s3's copy waits for the REGACK of "a/b/c" */
	assert_int_equal(publishes_to(3), 0);
	assert_int_equal(regack_all(), 1);
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

/* Spec 6.10: a wildcard subscriber without an id for the name gets our REGISTER, and the
 * PUBLISH only after its REGACK accepted the id; a publish meanwhile waits behind it. */
static void test_wildcard_copy_waits_for_regack_qos0(void **state)
{
	start(*state);
	connect_ok(1, "pub");
	connect_ok(2, "sub");
	sub_ok(2, 0, "a/+");
	uint16_t id = reg_ok(1, "a/b");
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "one"), FO_FATE_DELIVERED);
	struct out *l[8];
	assert_int_equal(outs_to(2, l, 8), 1);
	assert_false(l[0]->is_publish);
	assert_int_equal(l[0]->m.type, MQTTSN_REGISTER);
	assert_int_equal(l[0]->m.u.reg.topic_id, id);
	assert_int_equal(l[0]->m.u.reg.topic_name_len, 3);
	assert_memory_equal(l[0]->m.u.reg.topic_name, "a/b", 3);
	uint16_t reg_mid = l[0]->m.u.reg.msg_id;
	assert_true(reg_mid != 0);
	assert_int_equal(T->res.local_deliveries, 0);
	assert_int_equal(EV(PUBLISH_NO_MATCH), 0); /* it matched: the copy is held */
	assert_int_equal(EV(REGISTER_SENT), 1);
	assert_int_equal(EV(DELIVERY_HELD), 1);
	assert_int_equal(broker_held_count(T->b), 1);
	/* Second publish while the REGISTER is pending: no second REGISTER, and it does not
	 * overtake the first copy. */
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "two"), FO_FATE_DELIVERED);
	assert_int_equal(outs_to(2, l, 8), 0);
	assert_int_equal(broker_held_count(T->b), 2);
	/* A REGACK for another id or msg id changes nothing. */
	assert_int_equal(do_regack(2, id, (uint16_t)(reg_mid + 1), MQTTSN_RC_ACCEPTED), FO_FATE_DROPPED);
	assert_int_equal(outs_to(2, l, 8), 0);
	/* The REGACK: both copies follow in order, under the registered id. */
	reset_out();
	assert_int_equal(do_regack(2, id, reg_mid, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(outs_to(2, l, 8), 2);
	for (int k = 0; k < 2; k++) {
		assert_true(l[k]->is_publish);
		assert_int_equal(l[k]->m.u.publish.topic_id, id);
		assert_int_equal(l[k]->m.u.publish.flags & MQTTSN_FLAG_QOS_MASK, MQTTSN_FLAG_QOS0);
		assert_int_equal(l[k]->m.u.publish.flags & MQTTSN_FLAG_TOPIC_MASK, MQTTSN_TOPIC_NORMAL);
	}
	assert_memory_equal(l[0]->m.u.publish.data, "one", 3);
	assert_memory_equal(l[1]->m.u.publish.data, "two", 3);
	assert_int_equal(broker_held_count(T->b), 0);
	assert_int_equal(T->f.holds, T->f.releases);
	assert_int_equal(do_regack(2, id, reg_mid, MQTTSN_RC_ACCEPTED), FO_FATE_DROPPED); /* nothing pending */
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_STALE_ACK);
	/* The id is known now: the next copy goes straight out. */
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "three"), FO_FATE_DELIVERED);
	assert_int_equal(outs_to(2, l, 8), 1);
	assert_true(l[0]->is_publish);
	assert_int_equal(T->res.local_deliveries, 1);
	/* The subscriber may publish with the id we gave it. */
	reset_out();
	assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, id, 0, "back"), FO_FATE_DELIVERED);
}

/* The same for QoS 1: the held copy gets its MsgId and in-flight entry when it is sent. */
static void test_wildcard_copy_waits_for_regack_qos1(void **state)
{
	start(*state);
	connect_ok(1, "pub");
	connect_ok(2, "sub");
	sub_ok(2, 1, "a/#");
	uint16_t id = reg_ok(1, "a/b");
	reset_out();
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 9, "q1"), FO_FATE_DELIVERED);
	struct out *l[8];
	assert_int_equal(outs_to(2, l, 8), 1);
	assert_int_equal(l[0]->m.type, MQTTSN_REGISTER);
	uint16_t tid = l[0]->m.u.reg.topic_id, reg_mid = l[0]->m.u.reg.msg_id;
	assert_int_equal(broker_inflight_count(T->b), 0);
	assert_int_equal(broker_held_count(T->b), 1);
	assert_true(T->f.holds > T->f.releases); /* the held copy keeps its payload */
	/* The copy is not sent while it is held; the REGISTER is sent again (same ids) after the retry
	 * interval. */
	T->now += 1500;
	broker_tick(T->b, T->now);
	assert_int_equal(outs_to(2, l, 8), 2);
	assert_int_equal(l[1]->m.type, MQTTSN_REGISTER);
	assert_int_equal(l[1]->m.u.reg.topic_id, tid);
	assert_int_equal(l[1]->m.u.reg.msg_id, reg_mid);
	assert_int_equal(EV(REGISTER_RESENT), 1);
	reset_out();
	assert_int_equal(do_regack(2, tid, reg_mid, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(outs_to(2, l, 8), 1);
	assert_true(l[0]->is_publish);
	assert_int_equal(l[0]->m.u.publish.topic_id, tid);
	assert_int_equal(l[0]->m.u.publish.flags & MQTTSN_FLAG_QOS_MASK, MQTTSN_FLAG_QOS1);
	uint16_t mid = l[0]->m.u.publish.msg_id;
	assert_true(mid != 0 && mid != reg_mid);
	assert_memory_equal(l[0]->m.u.publish.data, "q1", 2);
	assert_int_equal(broker_inflight_count(T->b), 1);
	assert_int_equal(broker_held_count(T->b), 0);
	assert_int_equal(EV(DELIVERY_QOS1), 1);
	/* Retransmitted like any QoS 1 copy, completed by the PUBACK. */
	reset_out();
	broker_tick(T->b, T->now + 1000);
	assert_int_equal(outs_to(2, l, 8), 1);
	assert_true(l[0]->m.u.publish.flags & MQTTSN_FLAG_DUP);
	assert_int_equal(l[0]->m.u.publish.msg_id, mid);
	assert_int_equal(do_puback(2, tid, mid, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(broker_inflight_count(T->b), 0);
	assert_int_equal(T->f.holds, T->f.releases);
}

/* Spec 6.10: a REGACK rejection is an unsubscribe of that name for that client. No REGISTER or
 * PUBLISH of it any more, while other names of the same wildcard keep flowing; a PUBACK "invalid
 * topic id" does not undo it; a re-SUBSCRIBE of the wildcard ends it. */
static void test_regack_rejected_refuses_topic(void **state)
{
	start(*state);
	connect_ok(1, "pub");
	connect_ok(2, "sub");
	sub_ok(2, 0, "a/#");
	uint16_t id = reg_ok(1, "a/b");
	uint16_t id2 = reg_ok(1, "a/c");
	reset_out();
	do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "one");
	do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "two");
	struct out *l[8];
	assert_int_equal(outs_to(2, l, 8), 1);
	uint16_t tid = l[0]->m.u.reg.topic_id, reg_mid = l[0]->m.u.reg.msg_id;
	assert_int_equal(broker_held_count(T->b), 2);
	reset_out();
	assert_int_equal(do_regack(2, tid, reg_mid, MQTTSN_RC_CONGESTION), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 0); /* the held copies are dropped, not sent */
	assert_int_equal(broker_held_count(T->b), 0);
	assert_int_equal(EV(DELIVERY_HELD_DISCARDED), 2);
	assert_int_equal(EV(TOPIC_REFUSED), 1);
	assert_int_equal(T->f.holds, T->f.releases);
	/* Later publishes of a/b: no REGISTER, no PUBLISH to it. */
	for (int k = 0; k < 3; k++) {
		reset_out();
		assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "again"), FO_FATE_DELIVERED);
		assert_int_equal(outs_to(2, l, 8), 0);
	}
	assert_int_equal(EV(REGISTER_SENT), 1);
	assert_int_equal(EV(DELIVERY_TOPIC_REFUSED), 3);
	/* A stale REGACK of the refused id is not taken for an acceptance. */
	assert_int_equal(do_regack(2, tid, 0xFFFF, MQTTSN_RC_ACCEPTED), FO_FATE_DROPPED);
	assert_int_equal(do_regack(2, tid, reg_mid, MQTTSN_RC_ACCEPTED), FO_FATE_DROPPED);
	/* PUBACK "invalid topic id" for it leaves the refusal in place. */
	do_puback(2, tid, 0, MQTTSN_RC_INVALID_TOPIC_ID);
	reset_out();
	do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "still");
	assert_int_equal(outs_to(2, l, 8), 0);
	/* Another name under the same wildcard is still delivered. */
	reset_out();
	do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id2, 0, "other");
	assert_int_equal(outs_to(2, l, 8), 1);
	assert_int_equal(l[0]->m.type, MQTTSN_REGISTER);
	assert_memory_equal(l[0]->m.u.reg.topic_name, "a/c", 3);
	assert_int_equal(regack_all(), 1);
	assert_int_equal(publishes_to(2), 1);
	assert_memory_equal(last_publish_to(2)->m.u.publish.data, "other", 5);
	/* Re-SUBSCRIBE of the wildcard ends the refusal: registered (and delivered) again. */
	sub_ok(2, 0, "a/#");
	reset_out();
	do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "back");
	assert_int_equal(outs_to(2, l, 8), 1);
	assert_int_equal(l[0]->m.type, MQTTSN_REGISTER);
	assert_memory_equal(l[0]->m.u.reg.topic_name, "a/b", 3);
	assert_int_equal(regack_all(), 1);
	assert_int_equal(publishes_to(2), 1);
	assert_memory_equal(last_publish_to(2)->m.u.publish.data, "back", 4);
}

/* A refusal also ends with an UNSUBSCRIBE of the wildcard (a later SUBSCRIBE starts afresh),
 * with a SUBSCRIBE of the exact name (its SUBACK hands the id over), and with the session. */
static void test_refusal_cleared_by_unsubscribe_exact_subscribe_and_session_end(void **state)
{
	start(*state);
	connect_ok(1, "pub");
	connect_ok(2, "sub");
	sub_ok(2, 1, "r/+");
	uint16_t id = reg_ok(1, "r/x");
	struct out *l[8];
	/* Refuse r/x. */
	reset_out();
	do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "1");
	assert_int_equal(outs_to(2, l, 8), 1);
	assert_int_equal(do_regack(2, l[0]->m.u.reg.topic_id, l[0]->m.u.reg.msg_id, MQTTSN_RC_NOT_SUPPORTED),
			 FO_FATE_DELIVERED);
	/* Unsubscribe and subscribe again: r/x is registered again. */
	reset_out();
	assert_int_equal(do_unsubscribe(2, "r/+", 6), FO_FATE_DELIVERED);
	sub_ok(2, 1, "r/+");
	do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "2");
	assert_int_equal(outs_to(2, l, 8), 1);
	assert_int_equal(l[0]->m.type, MQTTSN_REGISTER);
	/* Refuse it once more; a SUBSCRIBE of the exact name ends that refusal with its SUBACK id. */
	assert_int_equal(do_regack(2, l[0]->m.u.reg.topic_id, l[0]->m.u.reg.msg_id, MQTTSN_RC_NOT_SUPPORTED),
			 FO_FATE_DELIVERED);
	assert_int_equal(EV(TOPIC_REFUSED), 2);
	reset_out();
	do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "3");
	assert_int_equal(outs_to(2, l, 8), 0);
	struct mqttsn_msg a = sub_ok(2, 0, "r/x");
	assert_true(a.u.suback.topic_id != 0);
	reset_out();
	do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 4, "4");
	assert_int_equal(outs_to(2, l, 8), 1);
	assert_true(l[0]->is_publish);
	assert_int_equal(l[0]->m.u.publish.topic_id, a.u.suback.topic_id);
	/* Session end while refusals and a held copy exist: everything is given back. */
	uint16_t id2 = reg_ok(1, "r/y");
	reset_out();
	do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id2, 5, "5");
	assert_int_equal(broker_held_count(T->b), 1);
	assert_int_equal(do_simple(2, MQTTSN_DISCONNECT), FO_FATE_DELIVERED);
	assert_int_equal(broker_held_count(T->b), 0);
	assert_int_equal(broker_inflight_count(T->b), 0);
	assert_int_equal(T->f.holds, T->f.releases);
	/* A new session of the same client starts without the refusal. */
	connect_ok(2, "sub");
	sub_ok(2, 0, "r/+");
	reset_out();
	do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id2, 0, "6");
	assert_int_equal(outs_to(2, l, 8), 1);
	assert_int_equal(l[0]->m.type, MQTTSN_REGISTER);
}

/* Held copies are bounded per session (its QoS window, 64 here): further copies are dropped and counted; the held
 * ones are given back when the session ends by keepalive expiry, and at destroy. */
static void test_held_copies_bounded_and_released(void **state)
{
	struct t *t = *state;
	t->cfg.max_inflight = 256;
	t->cfg.max_inflight_per_session = 64;
	start(t);
	connect_ok(1, "pub");
	connect_ok(2, "sub");
	connect_ok(3, "sub3");
	sub_ok(2, 1, "h/#");
	sub_ok(3, 0, "h/#");
	uint16_t id = reg_ok(1, "h/1");
	uint16_t id2 = reg_ok(1, "h/2");
	reset_out();
	/* 66 publishes: one of h/2 amid those of h/1. */
	for (int k = 0; k < 66; k++) { /* (payload slots are not reused: held copies point at them) */
		assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, k == 10 ? id2 : id, 0, k == 10 ? "two" : "one"),
				 FO_FATE_DELIVERED);
	}
	assert_int_equal(publishes_to(2), 0);
	assert_int_equal(publishes_to(3), 0);
	assert_int_equal(EV(REGISTER_SENT), 4); /* h/1 and h/2, to each subscriber */
	assert_int_equal(broker_held_count(T->b), 128);
	assert_int_equal(EV(DELIVERY_HELD), 128);
	assert_int_equal(EV(DELIVERY_HELD_FULL), 4);
	/* Client 3 answers h/2 first, then h/1: each copy waits for its own name's REGACK. */
	struct out *l[MAX_OUT];
	assert_int_equal(outs_to(3, l, MAX_OUT), 2);
	struct reg_seen r1 = { 3, l[0]->m.u.reg.topic_id, l[0]->m.u.reg.msg_id };
	struct reg_seen r2 = { 3, l[1]->m.u.reg.topic_id, l[1]->m.u.reg.msg_id };
	assert_memory_equal(l[1]->m.u.reg.topic_name, "h/2", 3);
	reset_out();
	assert_int_equal(do_regack(3, r2.tid, r2.mid, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(3), 1);
	assert_memory_equal(last_publish_to(3)->m.u.publish.data, "two", 3);
	assert_int_equal(do_regack(3, r1.tid, r1.mid, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(3), 64);
	assert_int_equal(broker_held_count(T->b), 64);
	/* Client 2 stays silent: the REGISTER patience pauses it (its held copies dropped), the
	 * keepalive (60 s x 1.5) ends it. */
	T->now += 91000;
	assert_int_equal(do_simple(1, MQTTSN_PINGREQ), FO_FATE_ANSWERED); /* the publisher stays */
	broker_tick(T->b, T->now);
	assert_false(has(2));
	assert_true(has(1));
	assert_int_equal(broker_held_count(T->b), 0);
	assert_int_equal(EV(DELIVERY_HELD_DISCARDED), 64);
	assert_int_equal(T->f.holds, T->f.releases);
	/* A copy held at destroy is given back too (checked by teardown). */
	reset_out();
	connect_ok(2, "sub");
	sub_ok(2, 1, "h/#");
	do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 9, "y");
	assert_int_equal(broker_held_count(T->b), 1);
}

/* Refusals are bounded per session (32): a rejection past it only forgets the id (counted), so
 * that name is registered again on its next copy; the refusals kept still hold. */
static void test_refusals_bounded_per_session(void **state)
{
	struct t *t = *state;
	t->cfg.max_topics = 64;
	t->cfg.max_client_topics = 128;
	start(t);
	connect_ok(2, "sub");
	sub_ok(2, 0, "z/#");
	struct payload p = { 0 };
	memcpy(p.buf, "data", 4);
	fake_bind(&T->f, &p, p.buf, 4);
	char nm[8];
	struct out *l[4];
	for (int k = 0; k < 33; k++) {
		snprintf(nm, sizeof(nm), "z/%d", k);
		reset_out();
		assert_int_equal(broker_fanout(T->b, (const uint8_t *)nm, (uint16_t)strlen(nm), 0, &p, 4, T->now), 0);
		assert_int_equal(outs_to(2, l, 4), 1);
		assert_int_equal(l[0]->m.type, MQTTSN_REGISTER);
		assert_int_equal(do_regack(2, l[0]->m.u.reg.topic_id, l[0]->m.u.reg.msg_id, MQTTSN_RC_CONGESTION),
				 FO_FATE_DELIVERED);
	}
	assert_int_equal(EV(TOPIC_REFUSED), 32);
	assert_int_equal(EV(TOPIC_REFUSALS_FULL), 1);
	assert_int_equal(broker_held_count(T->b), 0);
	/* z/32 was not kept: registered again. z/0 was: skipped. */
	reset_out();
	broker_fanout(T->b, (const uint8_t *)"z/32", 4, 0, &p, 4, T->now);
	assert_int_equal(outs_to(2, l, 4), 1);
	assert_int_equal(l[0]->m.type, MQTTSN_REGISTER);
	reset_out();
	broker_fanout(T->b, (const uint8_t *)"z/0", 3, 0, &p, 4, T->now);
	assert_int_equal(outs_to(2, l, 4), 0);
	assert_int_equal(EV(DELIVERY_TOPIC_REFUSED), 1);
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
	/* A name this worker has never seen: registered on the fly for the subscriber, the copy
	 * held until its REGACK. */
	assert_int_equal(broker_fanout(T->b, (const uint8_t *)"far/away", 8, 1, &p, 6, 2000), 0);
	struct out *l[4];
	assert_int_equal(outs_to(2, l, 4), 1);
	assert_int_equal(l[0]->m.type, MQTTSN_REGISTER);
	assert_int_equal(regack_all(), 1);
	assert_int_equal(outs_to(2, l, 4), 2);
	assert_int_equal(l[1]->m.u.publish.topic_id, l[0]->m.u.reg.topic_id);
	assert_int_equal(l[1]->m.u.publish.flags & MQTTSN_FLAG_QOS_MASK, MQTTSN_FLAG_QOS1);
	assert_int_equal(broker_topic_count(T->b), 1);
	/* No subscriber: nothing sent, nothing interned. */
	reset_out();
	assert_int_equal(broker_fanout(T->b, (const uint8_t *)"else/where", 10, 0, &p, 6, 2000), 0);
	assert_int_equal(T->f.n, 0);
	assert_int_equal(broker_topic_count(T->b), 1);
	/* Predefined name from another worker: delivered with the subscriber's predefined id. */
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
	struct mqttsn_msg m = { .type = MQTTSN_DISCONNECT }; /* CleanSession=1: the session ends */
	assert_int_equal(feed(cl(2), &m), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_DISCONNECT);
	assert_false(broker_has_session(T->b, &(struct fo_client){ .ip = cl(2).ip, .port = cl(2).port }));
	assert_int_equal(broker_inflight_count(T->b), 0);
	assert_int_equal(T->f.holds, T->f.releases);
	assert_int_equal(EV(SESSION_DISCONNECTED), 1);
	assert_int_equal(do_simple(1, MQTTSN_DISCONNECT), FO_FATE_DELIVERED);
	assert_int_equal(broker_topic_count(T->b), 0); /* registry entries recycled */
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
	struct mqttsn_msg pr = { .type = MQTTSN_PUBREL }; /* unknown MsgId: PUBCOMP anyway */
	pr.u.pubx.msg_id = 3;
	assert_int_equal(feed(cl(1), &pr), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_PUBCOMP);
	reset_out();
	struct mqttsn_msg wt = { .type = MQTTSN_WILLTOPIC }; /* not prompted for */
	assert_int_equal(feed(cl(1), &wt), FO_FATE_DROPPED);
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
		assert_int_equal(broker_topic_count(T->b), 0);
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
	/* The subscriber comes back from a new address with clean=0: the retry goes there, after the
	 * REGISTER of the id it goes under (kept by the reconnect, spec 6.10). */
	reset_out();
	assert_int_equal(do_connect(102, "sub", 0, 60), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 2);
	assert_int_equal(T->f.out[1].m.type, MQTTSN_REGISTER);
	assert_int_equal(T->f.out[1].to.port, cl(102).port);
	struct mqttsn_msg r = T->f.out[1].m;
	reset_out();
	broker_tick(T->b, 3000);
	assert_int_equal(publishes_to(102), 0); /* not before the REGACK */
	assert_int_equal(do_regack(102, r.u.reg.topic_id, r.u.reg.msg_id, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(102), 1);
	reset_out();
	broker_tick(T->b, 4000);
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
	assert_int_equal(regack_all(), 1);
	struct out *o = last_publish_to(2);
	uint16_t mid = o->m.u.publish.msg_id;
	/* The subscriber never got the REGISTER: it rejects the copy. */
	assert_int_equal(do_puback(2, id, mid, MQTTSN_RC_INVALID_TOPIC_ID), FO_FATE_DELIVERED);
	assert_int_equal(broker_inflight_count(T->b), 0);
	assert_int_equal(T->f.holds, T->f.releases);
	reset_out();
	do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 2, "b");
	struct out *l[4];
	assert_int_equal(outs_to(2, l, 4), 1);
	assert_int_equal(l[0]->m.type, MQTTSN_REGISTER);
	assert_int_equal(regack_all(), 1);
	assert_int_equal(outs_to(2, l, 4), 2);
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
	assert_int_equal(outs_to(2, l, 4), 1);
	assert_int_equal(l[0]->m.type, MQTTSN_REGISTER);
	assert_int_equal(regack_all(), 1);
	assert_int_equal(publishes_to(2), 1);
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
	static const char *const filters[] = { "a/+/c",  "a/#",   "+/b/c", "#",       "a/b/+",
					       "$SYS/#", "+/+/+", "x/#",   "a/b/c/#", "+/b/#" };
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
			/* First round: every subscriber learns the name by REGISTER, its copy follows the
			 * REGACK; second round: it has the id. */
			uint32_t direct = T->res.local_deliveries;
			uint32_t regs = (uint32_t)regack_all();
			uint32_t expect = 0;
			for (int i = 0; i < NF; i++) {
				bool live = round == 0 || i < 3;
				bool m = live && topic_match((const uint8_t *)filters[i], strlen(filters[i]),
							     (const uint8_t *)topics[k], strlen(topics[k]));
				assert_int_equal(publishes_to(2 + i), m ? 1 : 0);
				expect += m;
			}
			assert_int_equal(round == 0 ? regs : direct, expect);
			assert_int_equal(round == 0 ? direct : regs, 0);
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
	/* Registry entries 1 and 2, so that the names below reach past 65534. */
	assert_int_equal(reg_ok(2, "sys/time"), 1);
	assert_int_equal(reg_ok(3, "sys/alarm"), 2);
	sub_ok(3, 0, "n/#"); /* registry entry 3 */
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
	assert_int_equal(T->res.local_deliveries, 1); /* client 3's copy waits for its REGACK */
	struct out *l[8];
	assert_int_equal(outs_to(2, l, 8), 1);
	assert_true(l[0]->is_publish);
	assert_int_equal(l[0]->m.u.publish.topic_id, 2);
	assert_int_equal(outs_to(3, l, 8), 1);
	assert_int_equal(regack_all(), 1);
	assert_int_equal(outs_to(3, l, 8), 2);
	assert_int_equal(l[0]->m.type, MQTTSN_REGISTER);
	assert_int_equal(l[0]->m.u.reg.topic_id, 1); /* the lowest id free in client 3's map */
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

/* ------------------------------------------------------------------ hostile network (docs/security.md) */

/* The proof REGISTER of an unproven session: the two ids its REGACK must echo. */
struct proof {
	uint16_t mid, tid;
};

static bool is_proof_register(const struct out *o)
{
	return !o->is_publish && o->m.type == MQTTSN_REGISTER && o->m.u.reg.topic_name_len == 10 &&
	       memcmp(o->m.u.reg.topic_name, "$SYS/proof", 10) == 0;
}

/* The last proof REGISTER sent to client i (there must be one). */
static struct proof proof_to(int i)
{
	struct out *l[MAX_OUT];
	int n = outs_to(i, l, MAX_OUT);
	for (int j = n - 1; j >= 0; j--)
		if (is_proof_register(l[j]))
			return (struct proof){ l[j]->m.u.reg.msg_id, l[j]->m.u.reg.topic_id };
	fail_msg("no proof REGISTER to client %d", i);
	return (struct proof){ 0, 0 };
}

static enum fo_fate do_subscribe_dup(int i, int qos, const char *name, uint16_t msg_id)
{
	struct mqttsn_msg m = { .type = MQTTSN_SUBSCRIBE };
	m.u.subscribe.flags = (uint8_t)(mqttsn_qos_flags(qos) | MQTTSN_TOPIC_NORMAL | MQTTSN_FLAG_DUP);
	m.u.subscribe.msg_id = msg_id;
	m.u.subscribe.topic_name = (const uint8_t *)name;
	m.u.subscribe.topic_name_len = (uint16_t)strlen(name);
	return feed(cl(i), &m);
}

/* SUBSCRIBE from an unproven session: answered by the proof REGISTER alone; returns it. */
static struct proof sub_unproven(int i, int qos, const char *filter, uint16_t msg_id)
{
	reset_out();
	assert_int_equal(do_subscribe(i, qos, MQTTSN_TOPIC_NORMAL, filter, 0, msg_id), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	assert_true(is_proof_register(&T->f.out[0]));
	assert_int_equal(T->f.out[0].to.port, cl(i).port);
	struct proof p = proof_to(i);
	reset_out();
	return p;
}

/* SUBSCRIBE (msg id 5) from an unproven session, then the right echo: the held SUBACK. */
static struct mqttsn_msg sub_proven(int i, int qos, const char *filter)
{
	struct proof p = sub_unproven(i, qos, filter, 5);
	assert_int_equal(do_regack(i, p.tid, p.mid, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	struct mqttsn_msg a = T->f.out[0].m;
	assert_int_equal(a.type, MQTTSN_SUBACK);
	assert_int_equal(a.u.suback.return_code, MQTTSN_RC_ACCEPTED);
	assert_int_equal(a.u.suback.msg_id, 5);
	reset_out();
	return a;
}

static void assert_connack_to(int i, uint8_t rc)
{
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].to.ip, cl(i).ip);
	assert_int_equal(T->f.out[0].to.port, cl(i).port);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_CONNACK);
	assert_int_equal(T->f.out[0].m.u.connack.return_code, rc);
}

/* Rule 1: with address_proof, a new session's SUBSCRIBE is answered by a REGISTER of "$SYS/proof";
 * nothing is delivered until the REGACK echoes both of its ids; then the held SUBACK goes out. */
static void test_proof_holds_suback_and_deliveries_until_echo(void **state)
{
	struct t *t = *state;
	t->cfg.address_proof = true;
	t->cfg.proof_timeout_ms = 5000;
	start(t);
	connect_ok(1, "sub"); /* no subscriptions yet: CONNACK at once */
	connect_ok(2, "pub");
	struct proof p = sub_unproven(1, 1, "a/b", 5);
	assert_true(p.mid != 0);
	assert_true(p.tid != 0 && p.tid != 0xFFFF);
	assert_int_equal(EV(PROOF_SENT), 1);
	assert_int_equal(EV(SUBSCRIBE_ACCEPTED), 1);
	assert_int_equal(broker_subscription_count(T->b), 1);

	/* No copy reaches the unproven address, at either QoS. */
	uint16_t id = reg_ok(2, "a/b");
	assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, id, 0, "x0"), FO_FATE_DELIVERED);
	assert_int_equal(do_publish(2, 1, MQTTSN_TOPIC_NORMAL, id, 1, "x1"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(1), 0);
	assert_int_equal(T->f.n, 1); /* the PUBACK to the publisher */
	assert_int_equal(EV(DELIVERY_UNPROVEN), 2);
	assert_int_equal(EV(DELIVERIES), 0);
	assert_int_equal(broker_inflight_count(T->b), 0);

	/* A DUP resend of the SUBSCRIBE: the same REGISTER again, no SUBACK. */
	reset_out();
	assert_int_equal(do_subscribe_dup(1, 1, "a/b", 5), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	assert_true(is_proof_register(&T->f.out[0]));
	assert_int_equal(T->f.out[0].m.u.reg.msg_id, p.mid);
	assert_int_equal(T->f.out[0].m.u.reg.topic_id, p.tid);
	assert_int_equal(EV(PROOF_SENT), 2);
	assert_int_equal(broker_subscription_count(T->b), 1);

	/* Wrong MsgId, then wrong TopicId: dropped unanswered, still unproven. */
	reset_out();
	assert_int_equal(do_regack(1, p.tid, (uint16_t)(p.mid ^ 0x0101), MQTTSN_RC_ACCEPTED), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_UNPROVEN);
	assert_int_equal(do_regack(1, (uint16_t)(p.tid ^ 0x0101), p.mid, MQTTSN_RC_ACCEPTED), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_UNPROVEN);
	assert_int_equal(T->f.n, 0);
	assert_int_equal(EV(PROOF_MISMATCH), 2);
	assert_int_equal(EV(ADDRESS_PROVEN), 0);
	assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, id, 0, "x2"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(1), 0);

	/* The right echo proves the address and releases the one held SUBACK. */
	reset_out();
	assert_int_equal(do_regack(1, p.tid, p.mid, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(EV(ADDRESS_PROVEN), 1);
	assert_int_equal(T->f.n, 1);
	struct mqttsn_msg a = T->f.out[0].m;
	assert_int_equal(T->f.out[0].to.port, cl(1).port);
	assert_int_equal(a.type, MQTTSN_SUBACK);
	assert_int_equal(a.u.suback.msg_id, 5);
	assert_int_equal(a.u.suback.return_code, MQTTSN_RC_ACCEPTED);
	assert_int_equal(a.u.suback.flags & MQTTSN_FLAG_QOS_MASK, MQTTSN_FLAG_QOS1);
	assert_true(a.u.suback.topic_id != 0);
	assert_true(a.u.suback.topic_id != p.tid);

	/* From now on copies are delivered, under the id the SUBACK gave. */
	reset_out();
	assert_int_equal(do_publish(2, 1, MQTTSN_TOPIC_NORMAL, id, 2, "y"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(1), 1);
	assert_int_equal(last_publish_to(1)->m.u.publish.topic_id, a.u.suback.topic_id);
	assert_int_equal(last_publish_to(1)->m.u.publish.flags & MQTTSN_FLAG_QOS_MASK, MQTTSN_FLAG_QOS1);
	assert_int_equal(EV(DELIVERY_UNPROVEN), 3);
	/* The echo again is just a stale ack; no second SUBACK. */
	reset_out();
	assert_int_equal(do_regack(1, p.tid, p.mid, MQTTSN_RC_ACCEPTED), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_STALE_ACK);
	assert_int_equal(T->f.n, 0);
	assert_int_equal(EV(ADDRESS_PROVEN), 1);
	/* A subscription after the proof is answered at once. */
	sub_ok(1, 0, "c/d");
	assert_int_equal(EV(PROOF_SENT), 2);
}

/* Rule 1: 8 wrong echoes end the unproven session (guessing). */
static void test_proof_mismatches_end_session(void **state)
{
	struct t *t = *state;
	t->cfg.address_proof = true;
	t->cfg.proof_timeout_ms = 5000;
	start(t);
	connect_ok(3, "g");
	struct proof p = sub_unproven(3, 0, "a/b", 5);
	for (int k = 1; k <= 8; k++) {
		/* Alternately a wrong MsgId and a wrong TopicId, the other one right. */
		uint16_t mid = k % 2 ? (uint16_t)(p.mid ^ k) : p.mid;
		uint16_t tid = k % 2 ? p.tid : (uint16_t)(p.tid ^ k);
		assert_int_equal(do_regack(3, tid, mid, MQTTSN_RC_ACCEPTED), FO_FATE_DROPPED);
		assert_int_equal(T->res.drop, FO_DROP_MQTTSN_UNPROVEN);
		assert_int_equal(T->f.n, 0);
		assert_int_equal(EV(PROOF_MISMATCH), k);
		assert_int_equal(has(3), k < 8);
	}
	assert_int_equal(EV(SESSION_UNPROVEN_EXPIRED), 1);
	assert_int_equal(EV(ADDRESS_PROVEN), 0);
	assert_int_equal(broker_session_count(T->b), 0);
	assert_int_equal(broker_subscription_count(T->b), 0);
	/* The right echo now comes too late: no session, no reply. */
	assert_int_equal(do_regack(3, p.tid, p.mid, MQTTSN_RC_ACCEPTED), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_NOT_CONNECTED);
	assert_int_equal(T->f.n, 0);
}

/* Rule 1: proof ids differ between sessions; an unanswered proof ends the session after
 * proof_timeout_ms from its first sending (a resend does not extend it). */
static void test_proof_values_differ_and_unanswered_proof_expires(void **state)
{
	struct t *t = *state;
	t->cfg.address_proof = true;
	t->cfg.proof_timeout_ms = 5000;
	start(t);
	T->now = 2000;
	connect_ok(1, "a");
	connect_ok(2, "b");
	connect_ok(3, "c");
	struct proof p1 = sub_unproven(1, 0, "a/b", 5);
	struct proof p2 = sub_unproven(2, 0, "a/b", 5);
	struct proof p3 = sub_unproven(3, 0, "a/b", 5);
	assert_true(p1.mid && p1.tid && p2.mid && p2.tid && p3.mid && p3.tid);
	assert_true(p1.mid != p2.mid || p1.tid != p2.tid);
	assert_true(p2.mid != p3.mid || p2.tid != p3.tid);
	assert_true(p1.mid != p3.mid || p1.tid != p3.tid);
	/* Not a counter: the steps between consecutive proofs are not the same. */
	assert_false((uint16_t)(p2.mid - p1.mid) == (uint16_t)(p3.mid - p2.mid) &&
		     (uint16_t)(p2.tid - p1.tid) == (uint16_t)(p3.tid - p2.tid));
	/* Client 2 proves itself; client 1 resends its SUBSCRIBE at 4000; client 3 stays silent. */
	T->now = 3000;
	assert_int_equal(do_regack(2, p2.tid, p2.mid, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	T->now = 4000;
	reset_out();
	assert_int_equal(do_subscribe_dup(1, 0, "a/b", 5), FO_FATE_DELIVERED);
	assert_int_equal(proof_to(1).mid, p1.mid);
	broker_tick(T->b, 2000 + 4999);
	assert_int_equal(broker_session_count(T->b), 3);
	assert_int_equal(EV(SESSION_UNPROVEN_EXPIRED), 0);
	broker_tick(T->b, 2000 + 5000);
	assert_false(has(1));
	assert_true(has(2));
	assert_false(has(3));
	assert_int_equal(EV(SESSION_UNPROVEN_EXPIRED), 2);
	assert_int_equal(broker_subscription_count(T->b), 1);
	/* The proven one lives on until its keepalive. */
	broker_tick(T->b, 2000 + 60000);
	assert_true(has(2));
}

static long frame_bytes(long len)
{
	return len + 42 < 60 ? 60 : len + 42; /* Ethernet + IPv4 + UDP, padded to the minimum */
}

/* Feed m from client i; the frames sent to i meanwhile are at most the frame it came in (times
 * frames_max: a resumed CONNECT is answered by its CONNACK and the proof). */
static enum fo_fate feed_measured_n(int i, const struct mqttsn_msg *m, long *rx, long *tx, long frames_max)
{
	uint8_t buf[300];
	int n = mqttsn_encode(m, buf, sizeof(buf));
	assert_true(n > 0);
	reset_out();
	enum fo_fate f = feed_raw(cl(i), buf, (uint16_t)n);
	struct out *l[MAX_OUT];
	int k = outs_to(i, l, MAX_OUT);
	long sent = 0;
	for (int j = 0; j < k; j++)
		sent += frame_bytes(l[j]->len);
	if (sent > frames_max * frame_bytes(n))
		fail_msg("type 0x%02x of %d bytes from an unproven address drew %ld frame bytes", m->type, n, sent);
	*rx += frame_bytes(n);
	*tx += sent;
	return f;
}

static enum fo_fate feed_measured(int i, const struct mqttsn_msg *m, long *rx, long *tx)
{
	return feed_measured_n(i, m, rx, tx, 1);
}

/* Rule 1 (reflection): an unproven address is never sent more than it sent, but for the CONNECT
 * that takes back a session with subscriptions: its CONNACK (6.2) and the proof, two minimum frames. */
static void test_proof_unproven_address_no_amplification(void **state)
{
	struct t *t = *state;
	t->cfg.address_proof = true;
	t->cfg.proof_timeout_ms = 5000;
	start(t);
	connect_ok(2, "pub");
	uint16_t id = reg_ok(2, "a/b");
	uint16_t id2 = reg_ok(2, "a/long/topic/name/that/only/a/wildcard/matches");
	long rx = 0, tx = 0;
	struct mqttsn_msg m = { .type = MQTTSN_CONNECT };
	m.u.connect.flags = MQTTSN_FLAG_CLEAN;
	m.u.connect.protocol_id = MQTTSN_PROTOCOL_ID;
	m.u.connect.duration = 60;
	m.u.connect.client_id = (const uint8_t *)"v";
	m.u.connect.client_id_len = 1;
	assert_int_equal(feed_measured(1, &m, &rx, &tx), FO_FATE_DELIVERED);
	const char *filters[] = { "a/b", "a/#", "z" }; /* the third: over the held-SUBACK limit */
	for (int k = 0; k < 3; k++) {
		struct mqttsn_msg s = { .type = MQTTSN_SUBSCRIBE };
		s.u.subscribe.flags = (uint8_t)(MQTTSN_FLAG_QOS1 | MQTTSN_TOPIC_NORMAL);
		s.u.subscribe.msg_id = (uint16_t)(5 + k);
		s.u.subscribe.topic_name = (const uint8_t *)filters[k];
		s.u.subscribe.topic_name_len = (uint16_t)strlen(filters[k]);
		feed_measured(1, &s, &rx, &tx);
	}
	/* A short SUBSCRIBE by predefined id (7 bytes) and a resumed CONNECT (CONNACK, then the proof). */
	struct mqttsn_msg sp = { .type = MQTTSN_SUBSCRIBE };
	sp.u.subscribe.flags = (uint8_t)(MQTTSN_FLAG_QOS1 | MQTTSN_TOPIC_PREDEFINED);
	sp.u.subscribe.msg_id = 5;
	sp.u.subscribe.topic_id = 100;
	feed_measured(1, &sp, &rx, &tx);
	m.u.connect.flags = 0;
	feed_measured_n(1, &m, &rx, &tx, 2);
	{
		struct out *l[MAX_OUT];
		assert_int_equal(outs_to(1, l, MAX_OUT), 2);
		assert_int_equal(l[0]->m.type, MQTTSN_CONNACK);
		assert_true(is_proof_register(l[1]));
	}
	struct mqttsn_msg ping = { .type = MQTTSN_PINGREQ };
	for (int k = 0; k < 3; k++) {
		assert_int_equal(feed_measured(1, &ping, &rx, &tx), FO_FATE_ANSWERED);
		/* Publishes from another client to what it subscribed: nothing reaches it. */
		reset_out();
		assert_int_equal(do_publish(2, 1, MQTTSN_TOPIC_NORMAL, id, (uint16_t)(10 + k), "payload"),
				 FO_FATE_DELIVERED);
		assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, id2, 0, "payload"), FO_FATE_DELIVERED);
		struct out *l[MAX_OUT];
		assert_int_equal(outs_to(1, l, MAX_OUT), 0);
	}
	assert_true(EV(DELIVERY_UNPROVEN) >= 6);
	assert_int_equal(EV(REGISTER_SENT), 0);
	assert_true(tx > 0);
	assert_true(tx <= rx + frame_bytes(0)); /* the resumed CONNECT's second frame */
}

/* A copy held for a REGACK never goes to an address that has not proven itself: when the session
 * moved to a new port (clean=0) and the client learns the id there (its own REGISTER of the name),
 * the held copy is dropped and given back; once proven, copies of the name go straight out. */
static void test_held_copy_not_sent_to_unproven_address(void **state)
{
	struct t *t = *state;
	t->cfg.address_proof = true;
	t->cfg.proof_timeout_ms = 10000;
	start(t);
	connect_ok(1, "c1");
	sub_proven(1, 0, "w/#");
	connect_ok(2, "pub");
	uint16_t id = reg_ok(2, "w/a");
	reset_out();
	assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, id, 0, "held"), FO_FATE_DELIVERED);
	struct out *l[8];
	assert_int_equal(outs_to(1, l, 8), 1);
	assert_int_equal(l[0]->m.type, MQTTSN_REGISTER);
	uint16_t tid = l[0]->m.u.reg.topic_id;
	assert_int_equal(broker_held_count(T->b), 1);
	/* NAT rebinding: the session moves to an unproven port. */
	reset_out();
	assert_int_equal(do_connect(101, "c1", 0, 60), FO_FATE_DELIVERED);
	struct proof p = proof_to(101);
	reset_out();
	assert_int_equal(do_register(101, "w/a", 33), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(101), 0);
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_REGACK);
	assert_int_equal(T->f.out[0].m.u.regack.topic_id, tid);
	assert_int_equal(broker_held_count(T->b), 0);
	assert_int_equal(EV(DELIVERY_HELD_DISCARDED), 1);
	assert_int_equal(T->f.holds, T->f.releases);
	/* Proven: the name's copies go straight out under that id. */
	reset_out();
	assert_int_equal(do_regack(101, p.tid, p.mid, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	reset_out();
	assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, id, 0, "now"), FO_FATE_DELIVERED);
	assert_int_equal(outs_to(101, l, 8), 1);
	assert_true(l[0]->is_publish);
	assert_int_equal(l[0]->m.u.publish.topic_id, tid);
}

/* Rule 2: a resumed session (clean=0) from a new port of the same IP, with subscriptions: the
 * CONNECT is answered by the CONNACK and the proof; QoS 1 copies in flight wait for the echo, then
 * for the REGACK of the REGISTER of the id they go under (kept by the reconnect, spec 6.10). */
static void test_resumed_session_waits_for_proof(void **state)
{
	struct t *t = *state;
	t->cfg.address_proof = true;
	t->cfg.proof_timeout_ms = 10000;
	start(t);
	connect_ok(1, "c1");
	struct mqttsn_msg a = sub_proven(1, 1, "a/b");
	connect_ok(2, "pub");
	uint16_t id = reg_ok(2, "a/b");
	T->now = 5000;
	assert_int_equal(do_publish(2, 1, MQTTSN_TOPIC_NORMAL, id, 1, "m1"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(1), 1);
	uint16_t mid1 = last_publish_to(1)->m.u.publish.msg_id;
	assert_int_equal(broker_inflight_count(T->b), 1);

	reset_out();
	assert_int_equal(do_connect(101, "c1", 0, 60), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 2); /* the CONNACK at once (6.2, 6.3), then the proof */
	assert_int_equal(T->f.out[0].m.type, MQTTSN_CONNACK);
	assert_int_equal(T->f.out[0].m.u.connack.return_code, MQTTSN_RC_ACCEPTED);
	assert_true(is_proof_register(&T->f.out[1]));
	assert_int_equal(T->f.out[1].to.port, cl(101).port);
	struct proof p = proof_to(101);
	assert_int_equal(EV(SESSION_REPLACED), 1);
	assert_false(has(1));
	assert_true(has(101));
	assert_int_equal(broker_subscription_count(T->b), 1);

	/* Held: no retransmission, no give-up, while the new address is unproven. */
	reset_out();
	for (uint64_t now = 6000; now <= 9000; now += 1000)
		broker_tick(T->b, now);
	assert_int_equal(T->f.n, 0);
	assert_int_equal(EV(QOS1_RETRANSMITS), 0);
	assert_int_equal(EV(QOS1_GIVEUPS), 0);
	assert_int_equal(broker_inflight_count(T->b), 1);
	T->now = 9000;
	assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, id, 0, "m2"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(101), 0);
	assert_int_equal(publishes_to(1), 0);
	assert_int_equal(EV(DELIVERY_UNPROVEN), 1);

	/* The echo: first the REGISTER of the kept id the copy in flight goes under (the client may
	 * have lost its table, spec 6.10), nothing before the echo; the copy follows its REGACK. */
	assert_int_equal(EV(REGISTER_SENT), 0);
	reset_out();
	T->now = 9500;
	assert_int_equal(do_regack(101, p.tid, p.mid, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	assert_int_equal(EV(ADDRESS_PROVEN), 2);
	struct mqttsn_msg rg = T->f.out[0].m;
	assert_false(T->f.out[0].is_publish);
	assert_int_equal(rg.type, MQTTSN_REGISTER);
	assert_false(is_proof_register(&T->f.out[0]));
	assert_int_equal(T->f.out[0].to.port, cl(101).port);
	assert_int_equal(rg.u.reg.topic_id, a.u.suback.topic_id);
	assert_memory_equal(rg.u.reg.topic_name, "a/b", 3);
	reset_out();
	assert_int_equal(do_regack(101, rg.u.reg.topic_id, rg.u.reg.msg_id, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	struct out *r = &T->f.out[0];
	assert_true(r->is_publish);
	assert_int_equal(r->to.port, cl(101).port);
	assert_true(r->m.u.publish.flags & MQTTSN_FLAG_DUP);
	assert_int_equal(r->m.u.publish.msg_id, mid1);
	assert_int_equal(r->m.u.publish.topic_id, a.u.suback.topic_id);
	assert_int_equal(do_puback(101, a.u.suback.topic_id, mid1, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(broker_inflight_count(T->b), 0);
	reset_out();
	assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, id, 0, "m3"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(101), 1);
}

/* Rule 3: a live, proven ClientId stays with its owner against a CONNECT from another IP. */
static void test_proven_client_id_kept_by_owner(void **state)
{
	struct t *t = *state;
	t->cfg.address_proof = true;
	t->cfg.proof_timeout_ms = 5000;
	start(t);
	connect_ok(1, "c1");
	sub_proven(1, 0, "a/b");
	connect_ok(3, "pub");
	uint16_t id = reg_ok(3, "a/b");
	reset_out();
	assert_int_equal(do_connect(2, "c1", MQTTSN_FLAG_CLEAN, 60), FO_FATE_ANSWERED);
	assert_connack_to(2, MQTTSN_RC_NOT_SUPPORTED);
	reset_out();
	assert_int_equal(do_connect(2, "c1", 0, 60), FO_FATE_ANSWERED);
	assert_connack_to(2, MQTTSN_RC_NOT_SUPPORTED);
	assert_int_equal(EV(CONNECT_REJECTED_OWNER), 2);
	assert_int_equal(EV(SESSION_REPLACED), 0);
	assert_true(has(1));
	assert_false(has(2));
	assert_int_equal(broker_subscription_count(T->b), 1);
	reset_out();
	assert_int_equal(do_publish(3, 0, MQTTSN_TOPIC_NORMAL, id, 0, "x"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(1), 1);
	assert_int_equal(publishes_to(2), 0);
}

/* Rule 3: an admission rule binds ClientIds to source prefixes: inside them a takeover works,
 * outside them the id is refused, live session or not. */
static const uint32_t adm_nets[] = { 0x0a000001u, 0x0a000002u, 0x0a000004u };
static const uint32_t adm_masks[] = { 0xffffffffu, 0xffffffffu, 0xffffffffu };
static const struct broker_admission adm_rules[] = {
	{ .client_id = (const uint8_t *)"dev",
	  .client_id_len = 3,
	  .prefix = true,
	  .nets = adm_nets,
	  .masks = adm_masks,
	  .n_nets = 2 },
	{ .client_id = (const uint8_t *)"sensor",
	  .client_id_len = 6,
	  .prefix = false,
	  .nets = adm_nets + 2,
	  .masks = adm_masks + 2,
	  .n_nets = 1 },
};

static void test_admission_rule_binds_and_allows_takeover(void **state)
{
	struct t *t = *state;
	t->cfg.address_proof = true;
	t->cfg.proof_timeout_ms = 5000;
	t->cfg.admission = adm_rules;
	t->cfg.n_admission = 2;
	start(t);
	connect_ok(1, "dev-7");
	sub_proven(1, 0, "a/b");
	/* Outside the rule's prefixes: refused, with no live session and with one. */
	reset_out();
	assert_int_equal(do_connect(3, "dev-9", MQTTSN_FLAG_CLEAN, 60), FO_FATE_ANSWERED);
	assert_connack_to(3, MQTTSN_RC_NOT_SUPPORTED);
	reset_out();
	assert_int_equal(do_connect(3, "dev-7", MQTTSN_FLAG_CLEAN, 60), FO_FATE_ANSWERED);
	assert_connack_to(3, MQTTSN_RC_NOT_SUPPORTED);
	assert_int_equal(EV(CONNECT_REJECTED_ADMISSION), 2);
	assert_true(has(1));
	assert_false(has(3));
	/* An exact rule binds that id only. */
	reset_out();
	assert_int_equal(do_connect(5, "sensor", MQTTSN_FLAG_CLEAN, 60), FO_FATE_ANSWERED);
	assert_connack_to(5, MQTTSN_RC_NOT_SUPPORTED);
	assert_int_equal(EV(CONNECT_REJECTED_ADMISSION), 3);
	connect_ok(5, "sensor2");
	connect_ok(4, "sensor");
	connect_ok(6, "de"); /* shorter than the prefix: not bound */
	/* Inside the prefixes: the proven session is taken over (clean). */
	reset_out();
	assert_int_equal(do_connect(2, "dev-7", MQTTSN_FLAG_CLEAN, 60), FO_FATE_DELIVERED);
	assert_connack_to(2, MQTTSN_RC_ACCEPTED);
	assert_int_equal(EV(CONNECT_REJECTED_OWNER), 0);
	assert_int_equal(EV(SESSION_REPLACED), 1);
	assert_false(has(1));
	assert_true(has(2));
	assert_int_equal(broker_subscription_count(T->b), 0);
}

/* Admission as an allow-list: a ClientId no rule names is refused 0x03 and counted apart from a
 * named one connecting from outside its prefixes. */
static void test_admission_unlisted_rejected(void **state)
{
	struct t *t = *state;
	t->cfg.admission = adm_rules;
	t->cfg.n_admission = 2;
	t->cfg.admission_reject_unlisted = true;
	start(t);
	connect_ok(1, "dev-7");
	connect_ok(4, "sensor");
	reset_out();
	assert_int_equal(do_connect(1, "other", MQTTSN_FLAG_CLEAN, 60), FO_FATE_ANSWERED);
	assert_connack_to(1, MQTTSN_RC_NOT_SUPPORTED);
	assert_int_equal(EV(CONNECT_REJECTED_UNLISTED), 1);
	assert_int_equal(EV(CONNECT_REJECTED_ADMISSION), 0);
	assert_true(T->res.error_reply);
	reset_out();
	assert_int_equal(do_connect(3, "dev-1", MQTTSN_FLAG_CLEAN, 60), FO_FATE_ANSWERED);
	assert_connack_to(3, MQTTSN_RC_NOT_SUPPORTED);
	assert_int_equal(EV(CONNECT_REJECTED_UNLISTED), 1);
	assert_int_equal(EV(CONNECT_REJECTED_ADMISSION), 1);
	assert_int_equal(broker_session_count(T->b), 2);
}

/* The first rule naming a ClientId decides, however many name it; an empty prefix names them all. */
static void test_admission_first_rule_decides(void **state)
{
	(void)state;
	static const uint32_t any_net = 0, any_mask = 0;
	const struct broker_admission rules[] = {
		adm_rules[1], /* "sensor" from 10.0.0.4 only */
		{ .client_id = (const uint8_t *)"",
		  .client_id_len = 0,
		  .prefix = true,
		  .nets = &any_net,
		  .masks = &any_mask,
		  .n_nets = 1 },
	};
	struct broker_config c = { .admission = rules, .n_admission = 2, .admission_reject_unlisted = true };
	const struct broker_admission *r;
	assert_int_equal(broker_admit(&c, (const uint8_t *)"sensor", 6, 0x0a000004u, NULL, &r), BROKER_ADMIT_OK);
	assert_ptr_equal(r, &rules[0]);
	/* an IPv6 client whose key happens to equal an admitted IPv4 address: inside no (IPv4) prefix */
	static const uint8_t v6addr[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 4 };
	assert_int_equal(broker_admit(&c, (const uint8_t *)"sensor", 6, 0x0a000004u, v6addr, &r), BROKER_ADMIT_SOURCE);
	assert_ptr_equal(r, &rules[0]);
	assert_int_equal(broker_admit(&c, (const uint8_t *)"sensor", 6, 0x0a000005u, NULL, &r), BROKER_ADMIT_SOURCE);
	assert_ptr_equal(r, &rules[0]); /* the catch-all after it does not rescue it */
	assert_int_equal(broker_admit(&c, (const uint8_t *)"sensor1", 7, 0xc0000201u, NULL, &r), BROKER_ADMIT_OK);
	assert_ptr_equal(r, &rules[1]);
	c.n_admission = 1;
	assert_int_equal(broker_admit(&c, (const uint8_t *)"sensor1", 7, 0x0a000004u, NULL, &r), BROKER_ADMIT_UNLISTED);
	assert_null(r);
	c.admission_reject_unlisted = false;
	assert_int_equal(broker_admit(&c, (const uint8_t *)"sensor1", 7, 0x0a000004u, NULL, &r), BROKER_ADMIT_OK);
	assert_null(r);
}

/* IPv6 source prefixes: an IPv6 client is held to the rule's IPv6 prefixes, an IPv4 one to its
 * IPv4 prefixes; a rule with prefixes of one family refuses the other family. Clients 2xx are
 * 2001:db8::x, 3xx 2001:db8::1:x (cl()). */
static const struct broker_net6 adm6_nets[] = {
	{ .net = { 0x20010db800000000ull, 1 }, .mask = { ~0ull, ~0ull } },               /* 2001:db8::1/128 */
	{ .net = { 0x20010db800000000ull, 0x10000ull }, .mask = { ~0ull, ~0xffffull } }, /* 2001:db8::1:0/112 */
};
static const uint32_t adm6_v4net = 0x0a000004u, adm6_v4mask = 0xffffffffu;
static const struct broker_admission adm6_rules[] = {
	{ .client_id = (const uint8_t *)"v6dev",
	  .client_id_len = 5,
	  .prefix = true,
	  .nets = &adm6_v4net,
	  .masks = &adm6_v4mask,
	  .n_nets = 1,
	  .nets6 = adm6_nets,
	  .n_nets6 = 1 },
	{ .client_id = (const uint8_t *)"only6", .client_id_len = 5, .nets6 = adm6_nets + 1, .n_nets6 = 1 },
};

static void test_admission_ipv6_prefixes(void **state)
{
	struct t *t = *state;
	t->cfg.admission = adm6_rules;
	t->cfg.n_admission = 2;
	t->cfg.ipv6_clients = true;
	start(t);
	connect_ok(201, "v6dev-1"); /* 2001:db8::1, inside the /128 */
	connect_ok(4, "v6dev-2");   /* 10.0.0.4, the same rule's IPv4 prefix */
	connect_ok(301, "only6");   /* 2001:db8::1:1, inside the /112 */
	reset_out();
	/* 2001:db8::2, in the /64 of 2001:db8::1, is outside the /128 */
	assert_int_equal(do_connect(202, "v6dev-3", MQTTSN_FLAG_CLEAN, 60), FO_FATE_ANSWERED);
	assert_connack_to(202, MQTTSN_RC_NOT_SUPPORTED);
	reset_out();
	/* 10.0.0.1 has the key of 2001:db8::1's /64 but is IPv4: outside the IPv4 prefix */
	assert_int_equal(do_connect(1, "v6dev-4", MQTTSN_FLAG_CLEAN, 60), FO_FATE_ANSWERED);
	assert_connack_to(1, MQTTSN_RC_NOT_SUPPORTED);
	reset_out();
	/* a rule with IPv6 prefixes only refuses every IPv4 source */
	assert_int_equal(do_connect(5, "only6", MQTTSN_FLAG_CLEAN, 60), FO_FATE_ANSWERED);
	assert_connack_to(5, MQTTSN_RC_NOT_SUPPORTED);
	assert_int_equal(EV(CONNECT_REJECTED_ADMISSION), 3);
	assert_int_equal(broker_session_count(T->b), 3);

	/* the prefix match itself, at the edges of the two halves */
	static const uint8_t a1[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t a2[16] = { 0x20, 0x01, 0x0d, 0xb8, [8] = 0x80, [15] = 1 };
	static const uint8_t a3[16] = { 0x20, 0x01, 0x0d, 0xb9 };
	const struct broker_net6 all = { .net = { 0, 0 }, .mask = { 0, 0 } };
	const struct broker_net6 p32 = { .net = { 0x20010db800000000ull, 0 }, .mask = { 0xffffffff00000000ull, 0 } };
	const struct broker_net6 p65 = { .net = { 0x20010db800000000ull, 0 }, .mask = { ~0ull, 1ull << 63 } };
	assert_true(broker_net6_has(&all, a1) && broker_net6_has(&all, a3));
	assert_true(broker_net6_has(&p32, a1) && broker_net6_has(&p32, a2));
	assert_false(broker_net6_has(&p32, a3));
	assert_true(broker_net6_has(&p65, a1));
	assert_false(broker_net6_has(&p65, a2)); /* bit 64 set: outside the /65 */
	assert_true(broker_net6_has(&adm6_nets[0], a1));
	assert_false(broker_net6_has(&adm6_nets[0], a2));
}

/* broker_io.client_config: a CONNECT is held to the rules of the config the stage gives for the
 * client's hash (its generation's), not the engine's own; NULL falls back to the engine's. */
static const struct broker_config *gen_cfg;
static uint32_t gen_cfg_hash;
static const struct broker_config *fake_client_config(void *ctx, uint32_t client_hash)
{
	(void)ctx;
	gen_cfg_hash = client_hash;
	return gen_cfg;
}

static void test_admission_from_client_config(void **state)
{
	struct t *t = *state;
	struct broker_config closed = { .admission = adm_rules, .n_admission = 2, .admission_reject_unlisted = true };
	t->client_config = fake_client_config;
	start(t);
	gen_cfg = &closed;
	reset_out();
	assert_int_equal(do_connect(1, "other", MQTTSN_FLAG_CLEAN, 60), FO_FATE_ANSWERED);
	assert_connack_to(1, MQTTSN_RC_NOT_SUPPORTED);
	assert_int_equal(gen_cfg_hash, fo_client_id_hash((const uint8_t *)"other", 5));
	assert_int_equal(EV(CONNECT_REJECTED_UNLISTED), 1);
	connect_ok(1, "dev-3");
	gen_cfg = NULL; /* the engine's own config: no rules */
	connect_ok(2, "other");
	assert_int_equal(EV(CONNECT_REJECTED_UNLISTED), 1);
}

/* Rule 3: an unproven session has nothing proven to hand over: taken over, afresh. */
static void test_unproven_client_id_taken_over_clean(void **state)
{
	struct t *t = *state;
	t->cfg.address_proof = true;
	t->cfg.proof_timeout_ms = 5000;
	start(t);
	connect_ok(1, "u");
	struct proof p = sub_unproven(1, 1, "a/b", 5);
	assert_int_equal(broker_subscription_count(T->b), 1);
	reset_out();
	assert_int_equal(do_connect(2, "u", 0, 60), FO_FATE_DELIVERED); /* clean=0 asked */
	assert_connack_to(2, MQTTSN_RC_ACCEPTED);                       /* no subscriptions: no proof */
	assert_int_equal(EV(CONNECT_REJECTED_OWNER), 0);
	assert_int_equal(EV(SESSION_REPLACED), 1);
	assert_false(has(1));
	assert_true(has(2));
	assert_int_equal(broker_session_count(T->b), 1);
	assert_int_equal(broker_subscription_count(T->b), 0);
	/* The old proof does not prove the new address. */
	reset_out();
	assert_int_equal(do_regack(2, p.tid, p.mid, MQTTSN_RC_ACCEPTED), FO_FATE_DROPPED);
	assert_int_equal(EV(ADDRESS_PROVEN), 0);
	assert_int_equal(T->f.n, 0);
}

/* Rule 4: keepalive 0 refused; keepalive_min_s/max_s bound the rest. */
static void test_keepalive_bounds(void **state)
{
	struct t *t = *state;
	t->cfg.refuse_keepalive_zero = true;
	t->cfg.keepalive_min_s = 10;
	t->cfg.keepalive_max_s = 100;
	start(t);
	const uint16_t bad[] = { 0, 1, 9, 101, 65535 };
	for (int k = 0; k < 5; k++) {
		reset_out();
		assert_int_equal(do_connect(1, "k", MQTTSN_FLAG_CLEAN, bad[k]), FO_FATE_ANSWERED);
		assert_connack_to(1, MQTTSN_RC_NOT_SUPPORTED);
		assert_int_equal(EV(CONNECT_REJECTED_KEEPALIVE), k + 1);
	}
	assert_int_equal(broker_session_count(T->b), 0);
	reset_out();
	assert_int_equal(do_connect(1, "k10", MQTTSN_FLAG_CLEAN, 10), FO_FATE_DELIVERED);
	assert_connack_to(1, MQTTSN_RC_ACCEPTED);
	reset_out();
	assert_int_equal(do_connect(2, "k100", MQTTSN_FLAG_CLEAN, 100), FO_FATE_DELIVERED);
	assert_connack_to(2, MQTTSN_RC_ACCEPTED);
	assert_int_equal(broker_session_count(T->b), 2);
	/* A live session reconnecting out of bounds is refused and kept as it was. */
	reset_out();
	assert_int_equal(do_connect(1, "k10", 0, 0), FO_FATE_ANSWERED);
	assert_connack_to(1, MQTTSN_RC_NOT_SUPPORTED);
	assert_true(has(1));
}

static void test_keepalive_zero_allowed_when_not_refused(void **state)
{
	struct t *t = *state;
	t->cfg.keepalive_min_s = 10; /* keepalive_max_s 0: no upper bound */
	start(t);
	reset_out();
	assert_int_equal(do_connect(1, "z", MQTTSN_FLAG_CLEAN, 0), FO_FATE_DELIVERED);
	assert_connack_to(1, MQTTSN_RC_ACCEPTED);
	reset_out();
	assert_int_equal(do_connect(2, "max", MQTTSN_FLAG_CLEAN, 65535), FO_FATE_DELIVERED);
	assert_connack_to(2, MQTTSN_RC_ACCEPTED);
	reset_out();
	assert_int_equal(do_connect(3, "low", MQTTSN_FLAG_CLEAN, 9), FO_FATE_ANSWERED);
	assert_connack_to(3, MQTTSN_RC_NOT_SUPPORTED);
	assert_int_equal(EV(CONNECT_REJECTED_KEEPALIVE), 1);
}

/* Rule 5: sessions per source IP. */
static void test_sessions_per_source_quota(void **state)
{
	struct t *t = *state;
	t->cfg.sessions_per_source = 2;
	start(t);
	connect_ok(1, "a");
	connect_ok(101, "b");
	reset_out();
	assert_int_equal(do_connect(201, "c", MQTTSN_FLAG_CLEAN, 60), FO_FATE_ANSWERED);
	assert_connack_to(201, MQTTSN_RC_CONGESTION);
	assert_int_equal(EV(CONNECT_REJECTED_QUOTA), 1);
	assert_int_equal(broker_session_count(T->b), 2);
	/* Reconnects at an address in use are not new sessions. */
	connect_ok(1, "a");
	connect_ok(101, "b2");
	assert_int_equal(broker_session_count(T->b), 2);
	/* Another IP is not affected. */
	connect_ok(2, "d");
	connect_ok(102, "e");
	/* A freed session frees its quota. */
	assert_int_equal(do_simple(101, MQTTSN_DISCONNECT), FO_FATE_DELIVERED);
	connect_ok(201, "c");
	reset_out();
	assert_int_equal(do_connect(301, "f", MQTTSN_FLAG_CLEAN, 60), FO_FATE_ANSWERED);
	assert_connack_to(301, MQTTSN_RC_CONGESTION);
	/* ... also when it expired. */
	broker_tick(T->b, T->now + 90000);
	assert_int_equal(broker_session_count(T->b), 0);
	connect_ok(301, "f");
	assert_int_equal(EV(CONNECT_REJECTED_QUOTA), 2);
}

/* Rule 5: a CONNECT that takes a ClientId over from another IP adds a session to the new IP: it
 * is held to that IP's quota like any new session. */
static void test_sessions_per_source_quota_on_takeover(void **state)
{
	struct t *t = *state;
	t->cfg.address_proof = true;
	t->cfg.proof_timeout_ms = 5000;
	t->cfg.sessions_per_source = 1;
	start(t);
	connect_ok(1, "x");    /* unproven, at 10.0.0.1 */
	connect_ok(2, "mine"); /* 10.0.0.2 is at its quota */
	reset_out();
	enum fo_fate f = do_connect(102, "x", MQTTSN_FLAG_CLEAN, 60);
	int from_ip2 = has(2) + has(102);
	if (f != FO_FATE_ANSWERED || from_ip2 > 1)
		fail_msg("sessions_per_source 1: a takeover of unproven 'x' (10.0.0.1) from 10.0.0.2 left %d "
			 "sessions from 10.0.0.2 (fate %d, CONNACK rc %d)",
			 from_ip2, f, T->f.n ? T->f.out[0].m.u.connack.return_code : -1);
	assert_connack_to(102, MQTTSN_RC_CONGESTION);
	assert_int_equal(EV(CONNECT_REJECTED_QUOTA), 1);
}

/* Rule 5: client topic ids per session. */
static void test_topics_per_session_quota(void **state)
{
	struct t *t = *state;
	t->cfg.topics_per_session = 2;
	start(t);
	connect_ok(1, "a");
	connect_ok(2, "b");
	uint16_t t1 = reg_ok(1, "t/1");
	reg_ok(1, "t/2");
	reset_out();
	assert_int_equal(do_register(1, "t/3", 9), FO_FATE_ANSWERED);
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_REGACK);
	assert_int_equal(T->f.out[0].m.u.regack.return_code, MQTTSN_RC_CONGESTION);
	assert_int_equal(T->f.out[0].m.u.regack.msg_id, 9);
	assert_int_equal(EV(REGISTER_REJECTED_QUOTA), 1);
	assert_int_equal(broker_topic_count(T->b), 2); /* t/1 + t/2: t/3 not kept */
	/* A name it already holds is fine; so is a SUBSCRIBE to one. */
	assert_int_equal(reg_ok(1, "t/1"), t1);
	assert_int_equal(sub_ok(1, 0, "t/2").u.suback.return_code, MQTTSN_RC_ACCEPTED);
	/* A SUBSCRIBE to a new plain name needs an id too; a wildcard filter does not. */
	reset_out();
	assert_int_equal(do_subscribe(1, 0, MQTTSN_TOPIC_NORMAL, "t/5", 0, 6), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_SUBACK);
	assert_int_equal(T->f.out[0].m.u.suback.return_code, MQTTSN_RC_CONGESTION);
	assert_int_equal(EV(SUBSCRIBE_REJECTED_QUOTA), 1);
	sub_ok(1, 0, "w/#");
	/* Other clients are not affected. */
	reg_ok(2, "t/3");
	reg_ok(2, "t/4");
	reset_out();
	assert_int_equal(do_register(2, "t/5", 9), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.regack.return_code, MQTTSN_RC_CONGESTION);
	assert_int_equal(EV(REGISTER_REJECTED_QUOTA), 2);
}

/* Rule 5: subscriptions, wildcard filters and filter depth per session. */
static void test_subscription_wildcard_depth_quotas(void **state)
{
	struct t *t = *state;
	t->cfg.subscriptions_per_session = 3;
	t->cfg.wildcards_per_session = 1;
	t->cfg.max_filter_levels = 3;
	start(t);
	connect_ok(1, "a");
	connect_ok(2, "b");
	sub_ok(1, 0, "w/#");
	reset_out();
	assert_int_equal(do_subscribe(1, 0, MQTTSN_TOPIC_NORMAL, "x/+", 0, 6), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_SUBACK);
	assert_int_equal(T->f.out[0].m.u.suback.return_code, MQTTSN_RC_CONGESTION);
	assert_int_equal(T->f.out[0].m.u.suback.msg_id, 6);
	assert_int_equal(EV(SUBSCRIBE_REJECTED_QUOTA), 1);
	sub_ok(1, 0, "p/q");
	sub_ok(1, 0, "w/#"); /* again: not a new one */
	/* Deeper than max_filter_levels: "not supported". */
	reset_out();
	assert_int_equal(do_subscribe(1, 0, MQTTSN_TOPIC_NORMAL, "a/b/c/d", 0, 7), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.suback.return_code, MQTTSN_RC_NOT_SUPPORTED);
	reset_out();
	assert_int_equal(do_subscribe(1, 0, MQTTSN_TOPIC_NORMAL, "a/+/c/#", 0, 7), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.suback.return_code, MQTTSN_RC_NOT_SUPPORTED);
	assert_int_equal(EV(SUBSCRIBE_REJECTED_DEPTH), 2);
	sub_ok(1, 0, "a/b/c"); /* 3 levels: the third subscription */
	reset_out();
	assert_int_equal(do_subscribe(1, 0, MQTTSN_TOPIC_NORMAL, "r/s", 0, 8), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.suback.return_code, MQTTSN_RC_CONGESTION);
	assert_int_equal(EV(SUBSCRIBE_REJECTED_QUOTA), 2);
	assert_int_equal(broker_subscription_count(T->b), 3);
	/* Other clients are not affected. */
	sub_ok(2, 0, "x/+");
	/* Unsubscribing frees room. */
	assert_int_equal(do_unsubscribe(1, "p/q", 9), FO_FATE_DELIVERED);
	sub_ok(1, 0, "r/s");
	assert_int_equal(do_unsubscribe(1, "w/#", 9), FO_FATE_DELIVERED);
	assert_int_equal(do_unsubscribe(1, "r/s", 9), FO_FATE_DELIVERED);
	sub_ok(1, 0, "x/+");
}

/* Rule 5: a table full of unproven sessions makes room for a new CONNECT. */
static void test_full_table_evicts_unproven(void **state)
{
	struct t *t = *state;
	t->cfg.address_proof = true;
	t->cfg.proof_timeout_ms = 5000;
	start(t);
	char id[8];
	for (int i = 1; i <= 16; i++) {
		snprintf(id, sizeof(id), "u%d", i);
		connect_ok(i, id);
	}
	reset_out();
	assert_int_equal(do_connect(17, "new", MQTTSN_FLAG_CLEAN, 60), FO_FATE_DELIVERED);
	assert_connack_to(17, MQTTSN_RC_ACCEPTED);
	assert_int_equal(EV(SESSION_EVICTED_UNPROVEN), 1);
	assert_int_equal(EV(CONNECT_REJECTED_CONGESTION), 0);
	assert_int_equal(broker_session_count(T->b), 16);
	assert_true(has(17));
}

/* Rule 5: proven sessions are never evicted: a full table of them refuses with congestion. */
static void test_full_table_of_proven_refuses(void **state)
{
	struct t *t = *state;
	t->cfg.address_proof = true;
	t->cfg.proof_timeout_ms = 5000;
	start(t);
	char id[8];
	for (int i = 1; i <= 16; i++) {
		snprintf(id, sizeof(id), "p%d", i);
		connect_ok(i, id);
		if (i != 9)
			sub_proven(i, 0, "a/b");
	}
	/* The one unproven session (9) makes room... */
	connect_ok(17, "new");
	assert_int_equal(EV(SESSION_EVICTED_UNPROVEN), 1);
	assert_false(has(9));
	sub_proven(17, 0, "a/b");
	/* ... then none is left to evict. */
	reset_out();
	assert_int_equal(do_connect(18, "late", MQTTSN_FLAG_CLEAN, 60), FO_FATE_ANSWERED);
	assert_connack_to(18, MQTTSN_RC_CONGESTION);
	assert_int_equal(EV(CONNECT_REJECTED_CONGESTION), 1);
	assert_int_equal(EV(SESSION_EVICTED_UNPROVEN), 1);
	assert_int_equal(broker_session_count(T->b), 16);
	for (int i = 1; i <= 17; i++)
		assert_int_equal(has(i), i != 9);
}

/* A full registry ends an unproven session holding topics before it refuses a proven client;
 * a registry full of proven sessions' topics refuses with congestion. */
static void test_full_registry_evicts_unproven_holder(void **state)
{
	struct t *t = *state;
	t->cfg.address_proof = true;
	t->cfg.proof_timeout_ms = 5000;
	t->cfg.max_topics = 7; /* the subscribed predefined name + 6 */
	start(t);
	connect_ok(1, "proven");
	reset_out();
	assert_int_equal(do_subscribe(1, 0, MQTTSN_TOPIC_PREDEFINED, NULL, 100, 5), FO_FATE_DELIVERED);
	struct proof p = proof_to(1);
	reset_out();
	assert_int_equal(do_regack(1, p.tid, p.mid, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_SUBACK);
	connect_ok(2, "idle");   /* unproven, holds nothing */
	connect_ok(3, "filler"); /* unproven, fills the registry */
	char name[8];
	for (int k = 1; k <= 6; k++) {
		snprintf(name, sizeof(name), "t/%d", k);
		reg_ok(3, name);
	}
	assert_int_equal(broker_topic_count(T->b), 7);
	uint16_t id = reg_ok(1, "p/1");
	assert_int_equal(EV(SESSION_EVICTED_UNPROVEN), 1);
	assert_false(has(3));
	assert_true(has(2));
	assert_int_equal(broker_topic_count(T->b), 2);
	/* The id works. */
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "x"), FO_FATE_DELIVERED);
	/* Proven holders only: refused. */
	for (int k = 2; k <= 6; k++) {
		snprintf(name, sizeof(name), "p/%d", k);
		reg_ok(1, name);
	}
	reset_out();
	assert_int_equal(do_register(1, "p/7", 9), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.regack.return_code, MQTTSN_RC_CONGESTION);
	assert_int_equal(EV(SESSION_EVICTED_UNPROVEN), 1);
	assert_true(has(2));
	assert_true(has(1));
}

/* ------------------------------------------------------------------ predefined topics by generation */

/* Two generations' configs, as the stage's io.client_config gives them: A for the stable side,
 * B for the canary side (the client whose hash is canary_hash) and, after a swap, for all. */
static struct broker_config gen_a, gen_b;
static uint32_t canary_hash;
static bool swapped, live = true;
static const struct broker_config *split_config(void *ctx, uint32_t client_hash)
{
	(void)ctx;
	return swapped || client_hash == canary_hash ? &gen_b : &gen_a;
}
static int fake_predef_named(void *ctx, const uint8_t *name, uint16_t len, const struct predef_set **all)
{
	(void)ctx;
	(void)name;
	(void)len;
	if (!live)
		return BROKER_PREDEF_NONE;
	if (swapped) { /* one generation serves everyone */
		*all = gen_b.predef_set;
		return BROKER_PREDEF_ALL;
	}
	return BROKER_PREDEF_PER_CLIENT;
}

static struct out *publish_from_list(struct out **l, int n)
{
	for (int k = n - 1; k >= 0; k--)
		if (l[k]->is_publish)
			return l[k];
	return NULL;
}

static void expect_copy(int i, uint8_t ttype, uint16_t tid)
{
	struct out *o = last_publish_to(i);
	assert_non_null(o);
	assert_int_equal(o->m.u.publish.flags & MQTTSN_FLAG_TOPIC_MASK, ttype);
	assert_int_equal(o->m.u.publish.topic_id, tid);
}

/* A: global g/a = 10; dev-7's own d/7 = 11. B: global g/a = 20; every dev-* has d/7 = 21. */
static void two_generations(struct predef_set **sa, struct predef_set **sb)
{
	static const struct broker_predefined a_glob[] = { { 10, "g/a" } }, a_dev7[] = { { 11, "d/7" } };
	static const struct broker_predefined b_glob[] = { { 20, "g/a" } }, b_dev[] = { { 21, "d/7" } };
	const struct broker_client_predefined a_rules[] = { { (const uint8_t *)"dev-7", 5, false, a_dev7, 1 } };
	const struct broker_client_predefined b_rules[] = { { (const uint8_t *)"dev-", 4, true, b_dev, 1 } };
	const char *err;
	*sa = predef_set_build(a_glob, 1, a_rules, 1, 64, &err);
	*sb = predef_set_build(b_glob, 1, b_rules, 1, 64, &err);
	assert_non_null(*sa);
	assert_non_null(*sb);
	gen_a = (struct broker_config){ .predef_set = *sa };
	gen_b = (struct broker_config){ .predef_set = *sb };
}

static void test_predefined_by_client_generation(void **state)
{
	struct t *t = *state;
	struct predef_set *sa, *sb;
	two_generations(&sa, &sb);
	canary_hash = fo_client_id_hash((const uint8_t *)"dev-9", 5);
	swapped = false;
	live = true;
	t->cfg.predefined = NULL; /* the engine's own (boot) list is not what decides */
	t->cfg.n_predefined = 0;
	t->cfg.max_retained = 4;
	t->cfg.retained_bytes = 100;
	t->client_config = split_config;
	t->predef_named = fake_predef_named;
	start(t);
	connect_ok(1, "dev-7"); /* A */
	connect_ok(2, "dev-9"); /* B (canary) */
	connect_ok(3, "other"); /* A */

	/* SUBSCRIBE by predefined id: by the subscriber's own table. */
	reset_out();
	assert_int_equal(do_subscribe(1, 0, MQTTSN_TOPIC_PREDEFINED, NULL, 10, 3), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.u.suback.return_code, MQTTSN_RC_ACCEPTED);
	assert_int_equal(T->f.out[0].m.u.suback.topic_id, 10);
	reset_out();
	assert_int_equal(do_subscribe(2, 0, MQTTSN_TOPIC_PREDEFINED, NULL, 10, 3), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.suback.return_code, MQTTSN_RC_INVALID_TOPIC_ID);
	/* By name, a name predefined for dev-9 (B's 21): the SUBACK gives the id its copies carry. */
	assert_int_equal(sub_ok(2, 0, "d/7").u.suback.topic_id, 21);
	sub_ok(3, 0, "g/#"); /* a wildcard matching a predefined name */

	/* dev-7 publishes its own id 11 (d/7); dev-9 gets d/7 as its own 21, no REGISTER. */
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_PREDEFINED, 11, 0, "x"), FO_FATE_DELIVERED);
	assert_memory_equal(T->res.topic, "d/7", 3);
	expect_copy(2, MQTTSN_TOPIC_PREDEFINED, 21);
	assert_int_equal(EV(REGISTER_SENT), 0);
	/* 11 is dev-7's alone */
	reset_out();
	assert_int_equal(do_publish(3, 1, MQTTSN_TOPIC_PREDEFINED, 11, 4, "x"), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.puback.return_code, MQTTSN_RC_INVALID_TOPIC_ID);

	/* dev-9 publishes g/a by B's 20: dev-7 gets A's 10, the wildcard subscriber A's 10. */
	reset_out();
	assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_PREDEFINED, 20, 0, "y"), FO_FATE_DELIVERED);
	expect_copy(1, MQTTSN_TOPIC_PREDEFINED, 10);
	expect_copy(3, MQTTSN_TOPIC_PREDEFINED, 10);
	assert_int_equal(EV(REGISTER_SENT), 0);

	/* From another worker: the subscriber's generation decides too. */
	reset_out();
	struct payload p = { 0 };
	memcpy(p.buf, "remote", 6);
	fake_bind(&T->f, &p, p.buf, 6);
	assert_int_equal(broker_fanout(T->b, (const uint8_t *)"d/7", 3, 0, &p, 6, 2000), 1);
	expect_copy(2, MQTTSN_TOPIC_PREDEFINED, 21);

	/* The name predefined for no client (io.predef_named false): copies go by name alone. */
	live = false;
	reset_out();
	assert_int_equal(broker_fanout(T->b, (const uint8_t *)"g/a", 3, 0, &p, 6, 2000), 0); /* held for REGACKs */
	struct out *l[8];
	int n = outs_to(3, l, 8);
	assert_int_equal(n, 1);
	assert_int_equal(l[0]->m.type, MQTTSN_REGISTER); /* the wildcard subscriber needs the name */
	assert_int_equal(regack_all(), 2); /* dev-7 subscribed by an id: it has no id of the name either */
	n = outs_to(3, l, 8);
	assert_int_equal(publish_from_list(l, n)->m.u.publish.flags & MQTTSN_FLAG_TOPIC_MASK, MQTTSN_TOPIC_NORMAL);
	live = true;

	/* The swap: B for everyone. dev-7's 10 and 11 are gone, 20 and 21 work from its next message. */
	swapped = true;
	reset_out();
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_PREDEFINED, 10, 5, "z"), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.puback.return_code, MQTTSN_RC_INVALID_TOPIC_ID);
	assert_int_equal(T->f.out[0].m.u.puback.topic_id, 10);
	reset_out();
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_PREDEFINED, 11, 6, "z"), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.puback.return_code, MQTTSN_RC_INVALID_TOPIC_ID);
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_PREDEFINED, 21, 0, "z"), FO_FATE_DELIVERED);
	expect_copy(2, MQTTSN_TOPIC_PREDEFINED, 21);
	/* g/a: "other" has B's global 20 now; dev-7's subscription (made by A's 10) stays, by name */
	reset_out();
	assert_int_equal(publish_flags(2, (uint8_t)(MQTTSN_FLAG_QOS0 | MQTTSN_FLAG_RETAIN | MQTTSN_TOPIC_PREDEFINED),
				       20, 0, "kept"),
			 FO_FATE_DELIVERED);
	expect_copy(3, MQTTSN_TOPIC_PREDEFINED, 20);
	expect_copy(1, MQTTSN_TOPIC_PREDEFINED, 20);

	/* A name predefined for nobody in B goes out as a normal id (the SUBACK gave it). */
	struct mqttsn_msg a = sub_ok(3, 0, "q/r");
	reset_out();
	assert_int_equal(broker_fanout(T->b, (const uint8_t *)"q/r", 3, 0, &p, 6, 2000), 1);
	expect_copy(3, MQTTSN_TOPIC_NORMAL, a.u.suback.topic_id);

	/* The retained g/a for a new wildcard subscriber: its own predefined id, the retain flag. */
	connect_ok(4, "dev-4");
	reset_out();
	assert_int_equal(do_subscribe(4, 0, MQTTSN_TOPIC_NORMAL, "g/+", 0, 9), FO_FATE_DELIVERED);
	struct out *o = last_publish_to(4);
	assert_non_null(o);
	assert_true(o->m.u.publish.flags & MQTTSN_FLAG_RETAIN);
	assert_int_equal(o->m.u.publish.flags & MQTTSN_FLAG_TOPIC_MASK, MQTTSN_TOPIC_PREDEFINED);
	assert_int_equal(o->m.u.publish.topic_id, 20);

	/* QoS -1 from an address without a session: the table of that address's generation (B). */
	reset_out();
	assert_int_equal(do_publish(5, -1, MQTTSN_TOPIC_PREDEFINED, 20, 0, "m1"), FO_FATE_DELIVERED);
	expect_copy(3, MQTTSN_TOPIC_PREDEFINED, 20);
	assert_int_equal(do_publish(5, -1, MQTTSN_TOPIC_PREDEFINED, 10, 0, "m1"), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_BAD_TOPIC);

	broker_destroy(t->b);
	t->b = NULL;
	predef_set_free(sa);
	predef_set_free(sb);
}

/* broker_predef_view: while the stage says one set serves every client, that set decides (the
 * callbacks, which would say otherwise here, are not asked); said otherwise, they decide again. */
static void test_predefined_uniform_view(void **state)
{
	struct t *t = *state;
	struct predef_set *sa, *sb;
	two_generations(&sa, &sb);
	canary_hash = 0;
	swapped = false; /* the callbacks: A for everyone */
	live = true;
	t->client_config = split_config;
	t->predef_named = fake_predef_named;
	start(t);
	connect_ok(1, "dev-7");
	connect_ok(3, "other");

	broker_predef_view(t->b, true, sb); /* B serves everyone */
	assert_int_equal(sub_ok(3, 0, "g/a").u.suback.topic_id, 20);
	assert_int_equal(sub_ok(1, 0, "d/7").u.suback.topic_id, 21); /* dev-7's rule in B */
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_PREDEFINED, 20, 0, "x"), FO_FATE_DELIVERED);
	expect_copy(3, MQTTSN_TOPIC_PREDEFINED, 20);
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_PREDEFINED, 21, 0, "y"), FO_FATE_DELIVERED);
	expect_copy(1, MQTTSN_TOPIC_PREDEFINED, 21);
	reset_out();
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_PREDEFINED, 11, 3, "z"), FO_FATE_ANSWERED); /* A's, not B's */
	assert_int_equal(T->f.out[0].m.u.puback.return_code, MQTTSN_RC_INVALID_TOPIC_ID);

	broker_predef_view(t->b, true, NULL); /* no predefined topics anywhere */
	reset_out();
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_PREDEFINED, 20, 4, "z"), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.puback.return_code, MQTTSN_RC_INVALID_TOPIC_ID);

	broker_predef_view(t->b, false, NULL); /* the callbacks decide again: A */
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_PREDEFINED, 11, 0, "w"), FO_FATE_DELIVERED);
	assert_memory_equal(T->res.topic, "d/7", 3);
	reset_out();
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_PREDEFINED, 20, 5, "z"), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.puback.return_code, MQTTSN_RC_INVALID_TOPIC_ID);

	broker_destroy(t->b);
	t->b = NULL;
	predef_set_free(sa);
	predef_set_free(sb);
}

/* Per-client scope with tables without per-client rules: each copy's generation decides, the answer
 * of the last set looked at reused only for that same set. */
static void test_predefined_split_without_rules(void **state)
{
	struct t *t = *state;
	static const struct broker_predefined a_glob[] = { { 10, "g/a" } }, b_glob[] = { { 20, "g/a" } };
	const char *err;
	struct predef_set *sa = predef_set_build(a_glob, 1, NULL, 0, 64, &err);
	struct predef_set *sb = predef_set_build(b_glob, 1, NULL, 0, 64, &err);
	gen_a = (struct broker_config){ .predef_set = sa };
	gen_b = (struct broker_config){ .predef_set = sb };
	canary_hash = fo_client_id_hash((const uint8_t *)"can", 3);
	swapped = false;
	live = true;
	t->client_config = split_config;
	t->predef_named = fake_predef_named;
	start(t);
	connect_ok(1, "st-1");
	connect_ok(2, "can");
	connect_ok(3, "st-3");
	sub_ok(1, 0, "g/#");
	sub_ok(2, 0, "g/#");
	sub_ok(3, 0, "g/a");
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_PREDEFINED, 10, 0, "p"), FO_FATE_DELIVERED);
	assert_int_equal(T->res.local_deliveries, 3);
	expect_copy(1, MQTTSN_TOPIC_PREDEFINED, 10);
	expect_copy(2, MQTTSN_TOPIC_PREDEFINED, 20);
	expect_copy(3, MQTTSN_TOPIC_PREDEFINED, 10);
	/* the canary's own id from the canary, the stable ones' for them */
	reset_out();
	assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_PREDEFINED, 20, 0, "q"), FO_FATE_DELIVERED);
	expect_copy(1, MQTTSN_TOPIC_PREDEFINED, 10);
	expect_copy(2, MQTTSN_TOPIC_PREDEFINED, 20);
	expect_copy(3, MQTTSN_TOPIC_PREDEFINED, 10);
	assert_int_equal(EV(REGISTER_SENT), 0);
	broker_destroy(t->b);
	t->b = NULL;
	predef_set_free(sa);
	predef_set_free(sb);
}

/* Rule 6: a DISCONNECT or ack from an address without a session is never answered. */
static void test_unknown_client_acks_not_answered(void **state)
{
	start(*state);
	assert_int_equal(do_simple(9, MQTTSN_DISCONNECT), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_NOT_CONNECTED);
	assert_int_equal(do_puback(9, 1, 1, MQTTSN_RC_ACCEPTED), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_NOT_CONNECTED);
	assert_int_equal(do_regack(9, 1, 1, MQTTSN_RC_ACCEPTED), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_NOT_CONNECTED);
	struct mqttsn_msg d = { .type = MQTTSN_DISCONNECT };
	d.u.disconnect.duration = 30; /* the sleep form */
	d.u.disconnect.has_duration = true;
	assert_int_equal(feed(cl(9), &d), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_NOT_CONNECTED);
	assert_int_equal(T->f.n, 0);
	/* A request gets the DISCONNECT that tells it to CONNECT. */
	assert_int_equal(do_simple(9, MQTTSN_PINGREQ), FO_FATE_ANSWERED);
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_DISCONNECT);
	reset_out();
	assert_int_equal(do_register(9, "a/b", 1), FO_FATE_ANSWERED);
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_DISCONNECT);
	assert_int_equal(EV(NOT_CONNECTED), 6);
}

/* Rule 6: refusals to an address that has not proven itself are rate-limited per source IP: a
 * first burst of error_reply_burst, then error_replies_per_s; a proven session gets every one. */
static void test_error_replies_rate_limited_per_source(void **state)
{
	struct t *t = *state;
	t->cfg.address_proof = true;
	t->cfg.proof_timeout_ms = 5000;
	t->cfg.error_replies_per_s = 1;
	t->cfg.error_reply_burst = 2;
	start(t);
	connect_ok(109, "unproven"); /* an accepted CONNECT is no error reply */
	connect_ok(309, "proven");
	sub_proven(309, 0, "a/b");
	/* A source's first bucket is full: error_reply_burst answers, then none. */
	for (int k = 0; k < 5; k++) {
		reset_out();
		enum fo_fate f = do_simple(9, MQTTSN_PINGREQ);
		if (k < 2) {
			assert_int_equal(f, FO_FATE_ANSWERED);
			assert_int_equal(T->f.n, 1);
			assert_int_equal(T->f.out[0].m.type, MQTTSN_DISCONNECT);
		} else {
			assert_int_equal(f, FO_FATE_DROPPED);
			assert_int_equal(T->res.drop, FO_DROP_ERROR_REPLY_LIMITED);
			assert_int_equal(T->f.n, 0);
		}
	}
	/* Every refusal to an unproven address of that source counts, whatever the port or message. */
	reset_out();
	assert_int_equal(do_connect(209, "w", MQTTSN_FLAG_WILL | MQTTSN_FLAG_CLEAN, 60), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_ERROR_REPLY_LIMITED);
	assert_int_equal(EV(CONNECT_REJECTED_UNSUPPORTED), 1);
	assert_int_equal(do_register(109, "a/+", 3), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_ERROR_REPLY_LIMITED);
	assert_int_equal(T->f.n, 0);
	/* Replies that are no refusal are not limited. */
	assert_int_equal(do_simple(109, MQTTSN_PINGREQ), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_PINGRESP);
	reg_ok(109, "a/b");
	/* A proven session on that source gets its refusals. */
	reset_out();
	assert_int_equal(do_register(309, "a/+", 3), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.regack.return_code, MQTTSN_RC_NOT_SUPPORTED);
	/* Another source has its own bucket. */
	reset_out();
	assert_int_equal(do_simple(8, MQTTSN_PINGREQ), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_DISCONNECT);
	/* One token a second... */
	T->now += 1000;
	assert_int_equal(do_simple(9, MQTTSN_PINGREQ), FO_FATE_ANSWERED);
	assert_int_equal(do_simple(9, MQTTSN_PINGREQ), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_ERROR_REPLY_LIMITED);
	/* ... up to the burst. */
	T->now += 60000;
	assert_int_equal(do_simple(9, MQTTSN_PINGREQ), FO_FATE_ANSWERED);
	reset_out();
	assert_int_equal(do_register(109, "a/+", 4), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.regack.return_code, MQTTSN_RC_NOT_SUPPORTED);
	assert_int_equal(do_simple(9, MQTTSN_PINGREQ), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_ERROR_REPLY_LIMITED);
}

/* Rule 7 setup: "pub" at 1, QoS 1 subscriber "sub" at 2 on "q"; returns pub's id for "q". */
static uint16_t pause_setup(struct mqttsn_msg *suback)
{
	connect_ok(1, "pub");
	connect_ok(2, "sub");
	*suback = sub_ok(2, 1, "q");
	return reg_ok(1, "q");
}

/* Publish at T->now and let its copy to 2 go unacknowledged through retry_limit (2)
 * retransmissions to the give-up. */
static void publish_unacked(uint16_t id, uint16_t mid)
{
	reset_out();
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, mid, "d"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(2), 1);
	uint64_t t0 = T->now;
	broker_tick(T->b, t0 + 1000);
	broker_tick(T->b, t0 + 2000);
	assert_int_equal(publishes_to(2), 3);
	broker_tick(T->b, t0 + 3000);
	assert_int_equal(publishes_to(2), 3);
	T->now = t0 + 3000;
}

/* Rule 7: a subscriber that stops acknowledging is paused; any message from it resumes it. */
static void test_unacked_subscriber_paused_until_it_speaks(void **state)
{
	start(*state);
	struct mqttsn_msg a;
	uint16_t id = pause_setup(&a);
	T->now = 5000;
	publish_unacked(id, 1);
	assert_int_equal(EV(QOS1_GIVEUPS), 1);
	assert_int_equal(EV(SESSION_PAUSED), 1);
	assert_true(has(2));
	assert_int_equal(broker_inflight_count(T->b), 0);
	/* Paused: copies are counted, not sent. */
	T->now = 8100;
	reset_out();
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 2, "p1"), FO_FATE_DELIVERED);
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "p0"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(2), 0);
	assert_int_equal(EV(DELIVERY_PAUSED), 2);
	assert_int_equal(broker_inflight_count(T->b), 0);
	/* It speaks: deliveries resume. */
	assert_int_equal(do_simple(2, MQTTSN_PINGREQ), FO_FATE_ANSWERED);
	reset_out();
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 3, "r"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(2), 1);
	assert_int_equal(EV(DELIVERY_PAUSED), 2);
	assert_int_equal(do_puback(2, a.u.suback.topic_id, last_publish_to(2)->m.u.publish.msg_id, 0),
			 FO_FATE_DELIVERED);
	/* Speaking, it is not ended as silent. */
	broker_tick(T->b, T->now + 10000);
	assert_true(has(2));
	assert_int_equal(EV(SESSION_UNRESPONSIVE), 0);
	assert_int_equal(EV(SESSION_PAUSED), 1);
}

/* Rule 7: a paused session's other copies in flight are held: neither retransmitted nor given up. */
static void test_paused_session_copies_in_flight_held(void **state)
{
	start(*state);
	struct mqttsn_msg a;
	uint16_t id = pause_setup(&a);
	T->now = 5000;
	reset_out();
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 1, "d1"), FO_FATE_DELIVERED);
	T->now = 5500;
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 2, "d2"), FO_FATE_DELIVERED);
	uint16_t mid2 = last_publish_to(2)->m.u.publish.msg_id;
	for (uint64_t now = 6000; now <= 7500; now += 500)
		broker_tick(T->b, now);
	assert_int_equal(publishes_to(2), 6); /* 2 copies + 2 retransmissions each */
	broker_tick(T->b, 8000);              /* d1 given up: paused */
	assert_int_equal(EV(SESSION_PAUSED), 1);
	assert_int_equal(EV(QOS1_GIVEUPS), 1);
	for (uint64_t now = 8500; now <= 10500; now += 500)
		broker_tick(T->b, now);
	assert_int_equal(publishes_to(2), 6);
	assert_int_equal(EV(QOS1_GIVEUPS), 1);
	assert_int_equal(broker_inflight_count(T->b), 1);
	/* It speaks and acknowledges the held copy. */
	T->now = 10600;
	assert_int_equal(do_puback(2, a.u.suback.topic_id, mid2, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(broker_inflight_count(T->b), 0);
	broker_tick(T->b, 20000);
	assert_true(has(2));
}

/* Rule 7: a wildcard subscriber that answers our REGISTERs is never paused for leaving them
 * unanswered, also when it REGISTERs the same name itself before its REGACK reaches us. */
static void test_answered_register_race_does_not_pause(void **state)
{
	start(*state);
	connect_ok(1, "pub");
	connect_ok(2, "sub");
	sub_ok(2, 0, "a/#");
	uint16_t id = reg_ok(1, "a/b");
	T->now = 5000;
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "x"), FO_FATE_DELIVERED);
	struct out *l[4];
	assert_int_equal(outs_to(2, l, 4), 1);
	assert_int_equal(l[0]->m.type, MQTTSN_REGISTER);
	uint16_t tid = l[0]->m.u.reg.topic_id, mid = l[0]->m.u.reg.msg_id;
	/* Its own REGISTER of the name crosses our REGISTER: the same id comes back, and the copy
	 * that waited for the id follows the REGACK. */
	reset_out();
	assert_int_equal(do_register(2, "a/b", 77), FO_FATE_DELIVERED);
	assert_int_equal(outs_to(2, l, 4), 2);
	assert_int_equal(l[0]->m.type, MQTTSN_REGACK);
	assert_int_equal(l[0]->m.u.regack.topic_id, tid);
	assert_true(l[1]->is_publish);
	assert_int_equal(l[1]->m.u.publish.topic_id, tid);
	/* Then its REGACK of ours arrives (nothing waits for it any more). */
	assert_int_equal(do_regack(2, tid, mid, MQTTSN_RC_ACCEPTED), FO_FATE_DROPPED);
	T->now = 6000;
	assert_int_equal(do_simple(2, MQTTSN_PINGREQ), FO_FATE_ANSWERED);
	/* It answered everything: past the REGISTER patience it is neither paused nor ended. */
	broker_tick(T->b, 5000 + 3000);
	T->now = 8000;
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "y"), FO_FATE_DELIVERED);
	if (EV(SESSION_PAUSED) != 0 || publishes_to(2) != 1)
		fail_msg("a subscriber that answered our REGISTER was paused (ev session_paused %lu, "
			 "delivery_paused %lu)",
			 (unsigned long)EV(SESSION_PAUSED), (unsigned long)EV(DELIVERY_PAUSED));
	broker_tick(T->b, 5000 + 9000);
	assert_true(has(2));
	assert_int_equal(EV(SESSION_UNRESPONSIVE), 0);
}

/* Rule 7: a REGISTER of ours that was lost pauses the subscriber after the patience, and when it
 * speaks again the unanswered id is forgotten: the next copy registers the topic again and flows. */
static void test_lost_register_registers_again_after_pause(void **state)
{
	start(*state);
	connect_ok(1, "pub");
	connect_ok(2, "sub");
	sub_ok(2, 0, "a/#");
	uint16_t id = reg_ok(1, "a/b");
	T->now = 5000;
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "x"), FO_FATE_DELIVERED);
	assert_int_equal(EV(REGISTER_SENT), 1); /* and lost: no REGACK ever comes */
	/* Past retry_interval_ms x (retry_limit + 1) without an answer: paused by the scan. */
	T->now = 5000 + 3000;
	broker_tick(T->b, T->now);
	assert_int_equal(EV(SESSION_PAUSED), 1);
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "y"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(2), 0);
	assert_int_equal(EV(DELIVERY_PAUSED), 1);
	/* It speaks: resumed, and the topic is registered again before the next copy. */
	T->now += 100;
	assert_int_equal(do_simple(2, MQTTSN_PINGREQ), FO_FATE_ANSWERED);
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "z"), FO_FATE_DELIVERED);
	struct out *l[4];
	assert_int_equal(outs_to(2, l, 4), 1);
	assert_int_equal(l[0]->m.type, MQTTSN_REGISTER);
	assert_int_equal(EV(REGISTER_SENT), 2);
	assert_int_equal(EV(DELIVERY_HELD_DISCARDED), 1);                      /* "x" went with the pause */
	assert_int_equal(T->f.holds - T->f.releases, broker_held_count(T->b)); /* "z" is held */
	do_regack(2, l[0]->m.u.reg.topic_id, l[0]->m.u.reg.msg_id, MQTTSN_RC_ACCEPTED);
	assert_int_equal(outs_to(2, l, 4), 2);
	assert_int_equal(l[1]->m.type, MQTTSN_PUBLISH);
	assert_memory_equal(l[1]->m.u.publish.data, "z", 1);
	broker_tick(T->b, T->now + 10000);
	assert_true(has(2));
	assert_int_equal(EV(SESSION_PAUSED), 1);
}

/* Rule 7: a paused session that speaks again is resumed: a copy held while it was paused is
 * sent to it again before it can count as another give-up. */
static void test_resumed_session_gets_held_copy_before_giveup(void **state)
{
	struct t *t = *state;
	t->cfg.max_giveups = 2;
	start(t);
	struct mqttsn_msg a;
	uint16_t id = pause_setup(&a);
	T->now = 5000;
	reset_out();
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 1, "d1"), FO_FATE_DELIVERED);
	T->now = 5500;
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 2, "d2"), FO_FATE_DELIVERED);
	uint16_t mid2 = last_publish_to(2)->m.u.publish.msg_id;
	for (uint64_t now = 6000; now <= 8000; now += 500)
		broker_tick(T->b, now);
	assert_int_equal(EV(SESSION_PAUSED), 1);
	assert_int_equal(EV(QOS1_GIVEUPS), 1);
	T->now = 8100;
	assert_int_equal(do_simple(2, MQTTSN_PINGREQ), FO_FATE_ANSWERED);
	reset_out();
	broker_tick(T->b, 8500);
	assert_true(has(2));
	assert_int_equal(EV(SESSION_UNRESPONSIVE), 0);
	assert_int_equal(publishes_to(2), 1);
	assert_int_equal(last_publish_to(2)->m.u.publish.msg_id, mid2);
	assert_int_equal(do_puback(2, a.u.suback.topic_id, mid2, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(broker_inflight_count(T->b), 0);
}

/* Rule 7: max_giveups give-ups in a row end the session; a PUBACK between them resets the count. */
static void test_giveups_in_a_row_end_session(void **state)
{
	struct t *t = *state;
	t->cfg.max_giveups = 2;
	start(t);
	struct mqttsn_msg a;
	uint16_t id = pause_setup(&a);
	T->now = 5000;
	publish_unacked(id, 1); /* give-up 1: paused */
	assert_int_equal(EV(SESSION_PAUSED), 1);
	assert_true(has(2));
	T->now += 100;
	assert_int_equal(do_simple(2, MQTTSN_PINGREQ), FO_FATE_ANSWERED);
	/* Acknowledged: the count starts again. */
	reset_out();
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 2, "ok"), FO_FATE_DELIVERED);
	assert_int_equal(do_puback(2, a.u.suback.topic_id, last_publish_to(2)->m.u.publish.msg_id, 0),
			 FO_FATE_DELIVERED);
	T->now += 100;
	publish_unacked(id, 3); /* give-up 1 again: paused, not ended */
	assert_int_equal(EV(QOS1_GIVEUPS), 2);
	assert_int_equal(EV(SESSION_PAUSED), 2);
	assert_int_equal(EV(SESSION_UNRESPONSIVE), 0);
	assert_true(has(2));
	T->now += 100;
	assert_int_equal(do_simple(2, MQTTSN_PINGREQ), FO_FATE_ANSWERED); /* speaking is no ack */
	T->now += 100;
	publish_unacked(id, 4); /* give-up 2 in a row: ended */
	assert_int_equal(EV(QOS1_GIVEUPS), 3);
	assert_int_equal(EV(SESSION_UNRESPONSIVE), 1);
	assert_false(has(2));
	assert_int_equal(broker_subscription_count(T->b), 0);
	assert_int_equal(broker_inflight_count(T->b), 0);
}

/* Rule 7: a paused session silent for retry_interval_ms * (retry_limit + 1) is ended. */
static void test_paused_silent_session_ended(void **state)
{
	start(*state);
	struct mqttsn_msg a;
	uint16_t id = pause_setup(&a);
	T->now = 5000;
	publish_unacked(id, 1); /* paused at 8000 */
	assert_int_equal(EV(SESSION_PAUSED), 1);
	/* Paused and silent: kept (fed nothing) until its keep alive runs out (60 s + 50 %), not
	 * before (spec 7.2); the publisher spoke meanwhile. */
	T->now = 60000;
	assert_int_equal(do_simple(1, MQTTSN_PINGREQ), FO_FATE_ANSWERED);
	broker_tick(T->b, 8000 + 3000);
	assert_true(has(2));
	broker_tick(T->b, 60000);
	assert_true(has(2));
	broker_tick(T->b, 1000 + 90000);
	assert_false(has(2));
	assert_true(has(1));
	assert_int_equal(EV(SESSION_UNRESPONSIVE), 0);
	assert_int_equal(EV(SESSION_EXPIRED), 1);
	assert_int_equal(broker_subscription_count(T->b), 0);
}

/* ------------------------------------------------------------------ QoS 2 */

static enum fo_fate do_pubx(int i, uint8_t type, uint16_t mid)
{
	struct mqttsn_msg m = { .type = type };
	m.u.pubx.msg_id = mid;
	return feed(cl(i), &m);
}

/* Inbound QoS 2 (spec 6.6, MQTT's PUBREC/PUBREL/PUBCOMP): delivered once when received; every
 * resend before the PUBREL is answered with PUBREC and not delivered; PUBREL frees the MsgId
 * (PUBCOMP, also for a repeated PUBREL); at most 4 MsgIds await PUBREL per client. */
static void test_qos2_inbound_exactly_once(void **state)
{
	start(*state);
	connect_ok(2, "sub");
	struct mqttsn_msg a = sub_ok(2, 2, "q/2");
	assert_int_equal(a.u.suback.flags & MQTTSN_FLAG_QOS_MASK, MQTTSN_FLAG_QOS2);
	connect_ok(1, "pub");
	uint16_t id = reg_ok(1, "q/2");
	reset_out();
	assert_int_equal(do_publish(1, 2, MQTTSN_TOPIC_NORMAL, id, 9, "once"), FO_FATE_DELIVERED);
	assert_int_equal(T->res.qos, 2);
	assert_int_equal(publishes_to(2), 1);
	assert_int_equal(mqttsn_flags_qos(last_publish_to(2)->m.u.publish.flags), 2);
	assert_int_equal(T->f.out[T->f.n - 1].m.type, MQTTSN_PUBREC);
	assert_int_equal(T->f.out[T->f.n - 1].m.u.pubx.msg_id, 9);
	/* Resends, with DUP or without: PUBREC again, no copy. */
	for (int dup = 0; dup < 2; dup++) {
		reset_out();
		uint8_t f = (uint8_t)(MQTTSN_FLAG_QOS2 | (dup ? MQTTSN_FLAG_DUP : 0));
		assert_int_equal(publish_flags(1, f, id, 9, "once"), FO_FATE_ANSWERED);
		assert_int_equal(T->f.n, 1);
		assert_int_equal(T->f.out[0].m.type, MQTTSN_PUBREC);
		assert_false(T->res.published);
	}
	assert_int_equal(EV(PUBLISH_DUP_SUPPRESSED), 2);
	reset_out();
	assert_int_equal(do_pubx(1, MQTTSN_PUBREL, 9), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_PUBCOMP);
	assert_int_equal(T->f.out[0].m.u.pubx.msg_id, 9);
	reset_out();
	assert_int_equal(do_pubx(1, MQTTSN_PUBREL, 9), FO_FATE_ANSWERED); /* our PUBCOMP was lost */
	assert_int_equal(T->f.out[0].m.type, MQTTSN_PUBCOMP);
	/* Released: the same MsgId is a new message now. */
	reset_out();
	assert_int_equal(do_publish(1, 2, MQTTSN_TOPIC_NORMAL, id, 9, "twice"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(2), 1);
	/* Four unreleased MsgIds at most (9 is one): the fifth is refused with congestion. */
	for (uint16_t mid = 10; mid < 13; mid++)
		assert_int_equal(do_publish(1, 2, MQTTSN_TOPIC_NORMAL, id, mid, "x"), FO_FATE_DELIVERED);
	reset_out();
	assert_int_equal(do_publish(1, 2, MQTTSN_TOPIC_NORMAL, id, 13, "x"), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_PUBACK);
	assert_int_equal(T->f.out[0].m.u.puback.return_code, MQTTSN_RC_CONGESTION);
	assert_int_equal(EV(QOS2_RX_FULL), 1);
	/* QoS 1 publishes still flow (their MsgIds are not remembered while all slots are pinned). */
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 20, "q1"), FO_FATE_DELIVERED);
	assert_int_equal(do_pubx(1, MQTTSN_PUBREL, 10), FO_FATE_DELIVERED);
	assert_int_equal(do_publish(1, 2, MQTTSN_TOPIC_NORMAL, id, 13, "x"), FO_FATE_DELIVERED);
	assert_int_equal(EV(QOS2_RECEIVED), 6);
	assert_int_equal(EV(QOS2_RELEASED), 2);
}

/* Outbound QoS 2: the copy is resent (DUP) until PUBREC, which is answered with PUBREL (the payload
 * is given back); PUBREL is resent until PUBCOMP ends it. A copy goes at min(publish QoS,
 * granted QoS). */
static void test_qos2_outbound(void **state)
{
	start(*state);
	connect_ok(2, "sub2");
	struct mqttsn_msg a = sub_ok(2, 2, "o/2");
	connect_ok(3, "sub1");
	sub_ok(3, 1, "o/2");
	connect_ok(1, "pub");
	uint16_t id = reg_ok(1, "o/2");
	reset_out();
	assert_int_equal(do_publish(1, 2, MQTTSN_TOPIC_NORMAL, id, 5, "exactly"), FO_FATE_DELIVERED);
	struct out *p = last_publish_to(2);
	assert_int_equal(mqttsn_flags_qos(p->m.u.publish.flags), 2);
	uint16_t mid = p->m.u.publish.msg_id;
	assert_int_equal(mqttsn_flags_qos(last_publish_to(3)->m.u.publish.flags), 1);
	assert_int_equal(EV(DELIVERY_QOS2), 1);
	assert_int_equal(do_puback(3, a.u.suback.topic_id, last_publish_to(3)->m.u.publish.msg_id, 0),
			 FO_FATE_DELIVERED);
	/* A PUBACK does not acknowledge a QoS 2 copy. */
	assert_int_equal(do_puback(2, a.u.suback.topic_id, mid, MQTTSN_RC_ACCEPTED), FO_FATE_DROPPED);
	reset_out();
	broker_tick(T->b, T->now + 1000);
	assert_int_equal(publishes_to(2), 1);
	assert_true(last_publish_to(2)->m.u.publish.flags & MQTTSN_FLAG_DUP);
	long held = T->f.holds - T->f.releases;
	reset_out();
	assert_int_equal(do_pubx(2, MQTTSN_PUBREC, mid), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_PUBREL);
	assert_int_equal(T->f.out[0].m.u.pubx.msg_id, mid);
	assert_int_equal(T->f.holds - T->f.releases, held - 1); /* the payload is not needed now */
	reset_out();
	assert_int_equal(do_pubx(2, MQTTSN_PUBREC, mid), FO_FATE_DELIVERED); /* PUBREL lost: again */
	assert_int_equal(T->f.out[0].m.type, MQTTSN_PUBREL);
	reset_out();
	broker_tick(T->b, T->now + 5000);
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_PUBREL);
	assert_int_equal(EV(QOS2_PUBREL_RESENT), 1);
	assert_int_equal(do_pubx(2, MQTTSN_PUBCOMP, mid), FO_FATE_DELIVERED);
	assert_int_equal(broker_inflight_count(T->b), 0);
	assert_int_equal(EV(QOS2_COMPLETED), 1);
	assert_int_equal(do_pubx(2, MQTTSN_PUBCOMP, mid), FO_FATE_DROPPED);
	assert_int_equal(do_pubx(2, MQTTSN_PUBREC, 4242), FO_FATE_DROPPED);
	/* A QoS 1 publish reaches the QoS 2 subscriber at QoS 1. */
	reset_out();
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_NORMAL, id, 6, "q1"), FO_FATE_DELIVERED);
	assert_int_equal(mqttsn_flags_qos(last_publish_to(2)->m.u.publish.flags), 1);
}

/* ------------------------------------------------------------------ retained messages */

/* Set, replace, clear with an empty payload; delivered on SUBSCRIBE with the retain flag (exact:
 * under the SUBACK's id; wildcard: REGISTER first), at the lower QoS; live copies carry no retain
 * flag; the byte budget is counted; a peer worker's retained publish (broker_retain) counts. */
static void test_retained_messages(void **state)
{
	struct t *t = *state;
	t->cfg.max_retained = 4;
	t->cfg.retained_bytes = 20;
	start(t);
	connect_ok(1, "pub");
	uint16_t id = reg_ok(1, "r/1");
	uint8_t rq1 = (uint8_t)(MQTTSN_FLAG_QOS1 | MQTTSN_FLAG_RETAIN);
	assert_int_equal(publish_flags(1, rq1, id, 1, "v1"), FO_FATE_DELIVERED);
	assert_true(T->res.retain);
	assert_int_equal(publish_flags(1, rq1, id, 2, "v2"), FO_FATE_DELIVERED);
	assert_int_equal(broker_retained_count(T->b), 1);
	assert_int_equal(broker_retained_bytes(T->b), 2);
	assert_int_equal(EV(RETAINED_STORED), 2);

	connect_ok(2, "exact");
	reset_out();
	assert_int_equal(do_subscribe(2, 1, MQTTSN_TOPIC_NORMAL, "r/1", 0, 5), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 2);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_SUBACK);
	struct out *p = &T->f.out[1];
	assert_true(p->is_publish);
	assert_true(p->m.u.publish.flags & MQTTSN_FLAG_RETAIN);
	assert_int_equal(mqttsn_flags_qos(p->m.u.publish.flags), 1);
	assert_int_equal(p->m.u.publish.topic_id, T->f.out[0].m.u.suback.topic_id);
	assert_memory_equal(p->m.u.publish.data, "v2", 2);
	assert_int_equal(do_puback(2, p->m.u.publish.topic_id, p->m.u.publish.msg_id, 0), FO_FATE_DELIVERED);

	connect_ok(3, "wild");
	reset_out();
	assert_int_equal(do_subscribe(3, 0, MQTTSN_TOPIC_NORMAL, "r/+", 0, 6), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 2);
	assert_int_equal(T->f.out[1].m.type, MQTTSN_REGISTER);
	struct mqttsn_msg r = T->f.out[1].m;
	reset_out();
	assert_int_equal(do_regack(3, r.u.reg.topic_id, r.u.reg.msg_id, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	p = last_publish_to(3);
	assert_non_null(p);
	assert_true(p->m.u.publish.flags & MQTTSN_FLAG_RETAIN);
	assert_int_equal(mqttsn_flags_qos(p->m.u.publish.flags), 0);
	assert_int_equal(EV(RETAINED_SENT), 2);

	/* A live retained publish reaches current subscribers without the flag. */
	reset_out();
	assert_int_equal(publish_flags(1, (uint8_t)(MQTTSN_FLAG_QOS0 | MQTTSN_FLAG_RETAIN), id, 0, "v3"),
			 FO_FATE_DELIVERED);
	assert_false(last_publish_to(2)->m.u.publish.flags & MQTTSN_FLAG_RETAIN);
	assert_false(last_publish_to(3)->m.u.publish.flags & MQTTSN_FLAG_RETAIN);
	/* Over the byte budget: not kept, the old one cleared (never stale). */
	assert_int_equal(
		publish_flags(1, (uint8_t)(MQTTSN_FLAG_QOS0 | MQTTSN_FLAG_RETAIN), id, 0, "0123456789012345678901234"),
		FO_FATE_DELIVERED);
	assert_int_equal(EV(RETAINED_FULL), 1);
	assert_int_equal(broker_retained_count(T->b), 0);
	/* Another worker's retained publish; then an empty one clears it. */
	struct payload pl0 = { .view = (const uint8_t *)"old", .view_len = 3, .binds = 1 };
	broker_retain(T->b, (const uint8_t *)"r/2", 3, 0, &pl0, 3);
	/* Replaced: the name's only reference was the retained one (no client knows it here). */
	struct payload pl = { .view = (const uint8_t *)"peer", .view_len = 4, .binds = 1 };
	broker_retain(T->b, (const uint8_t *)"r/2", 3, 0, &pl, 4);
	assert_int_equal(broker_retained_count(T->b), 1);
	connect_ok(4, "late");
	reset_out();
	assert_int_equal(do_subscribe(4, 0, MQTTSN_TOPIC_NORMAL, "r/2", 0, 7), FO_FATE_DELIVERED);
	assert_memory_equal(last_publish_to(4)->m.u.publish.data, "peer", 4);
	uint16_t id2 = reg_ok(1, "r/2");
	assert_int_equal(publish_flags(1, (uint8_t)(MQTTSN_FLAG_QOS0 | MQTTSN_FLAG_RETAIN), id2, 0, ""),
			 FO_FATE_DELIVERED);
	assert_int_equal(broker_retained_count(T->b), 0);
	assert_int_equal(EV(RETAINED_CLEARED), 1);
	reset_out();
	assert_int_equal(do_subscribe(4, 0, MQTTSN_TOPIC_NORMAL, "r/2", 0, 8), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1); /* the SUBACK only */
}

/* A ClientId longer than 23 bytes (spec 5.3.1) is refused with CONNACK "not supported". */
static void test_connect_long_client_id_refused(void **state)
{
	start(*state);
	const uint8_t raw[] = "\x1e\x04\x04\x01\x00\x3c"
			      "abcdefghijklmnopqrstuvwx";
	assert_int_equal(feed_raw(cl(1), raw, 30), FO_FATE_ANSWERED);
	assert_connack_to(1, MQTTSN_RC_NOT_SUPPORTED);
	assert_false(has(1));
	assert_int_equal(EV(CONNECT_REJECTED_UNSUPPORTED), 1);
}

/* With the address proof, the retained messages follow the held SUBACK, after the echo. */
static void test_retained_after_proof(void **state)
{
	struct t *t = *state;
	t->cfg.max_retained = 4;
	t->cfg.retained_bytes = 100;
	t->cfg.address_proof = true;
	t->cfg.proof_timeout_ms = 5000;
	start(t);
	connect_ok(1, "pub");
	struct payload pl = { .view = (const uint8_t *)"kept", .view_len = 4, .binds = 1 };
	broker_retain(T->b, (const uint8_t *)"p/r", 3, 1, &pl, 4);
	connect_ok(2, "sub");
	struct proof pr = sub_unproven(2, 1, "p/r", 5);
	assert_int_equal(publishes_to(2), 0);
	reset_out();
	assert_int_equal(do_regack(2, pr.tid, pr.mid, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 2);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_SUBACK);
	assert_true(T->f.out[1].is_publish);
	assert_true(T->f.out[1].m.u.publish.flags & MQTTSN_FLAG_RETAIN);
	assert_memory_equal(T->f.out[1].m.u.publish.data, "kept", 4);
}

/* ------------------------------------------------------------------ persistent sessions, sleep, will */

static void start_offline(struct t *t)
{
	t->cfg.offline_buffer = 4;
	t->cfg.max_wills = 4;
	t->cfg.will_max_bytes = 64;
	t->cfg.session_expiry_s = 100;
	start(t);
}

static enum fo_fate do_disconnect(int i, int sleep_s)
{
	struct mqttsn_msg m = { .type = MQTTSN_DISCONNECT };
	if (sleep_s) {
		m.u.disconnect.has_duration = 1;
		m.u.disconnect.duration = (uint16_t)sleep_s;
	}
	return feed(cl(i), &m);
}

static enum fo_fate do_pingreq_id(int i, const char *id)
{
	struct mqttsn_msg m = { .type = MQTTSN_PINGREQ };
	m.u.pingreq.client_id = (const uint8_t *)id;
	m.u.pingreq.client_id_len = (uint16_t)strlen(id);
	return feed(cl(i), &m);
}

static int state_of(const char *id)
{
	return broker_client_state(T->b, (const uint8_t *)id, (uint8_t)strlen(id));
}

/* CONNECT with the Will flag and the prompted exchange (spec 6.2); an empty topic deletes the will. */
static void connect_will(int i, const char *id, uint8_t flags, const char *topic, int qos, const char *msg)
{
	reset_out();
	assert_int_equal(do_connect(i, id, (uint8_t)(flags | MQTTSN_FLAG_WILL), 60), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_WILLTOPICREQ);
	reset_out();
	struct mqttsn_msg w = { .type = MQTTSN_WILLTOPIC };
	w.u.willtopic.topic = (const uint8_t *)topic;
	w.u.willtopic.topic_len = (uint16_t)strlen(topic);
	if (topic[0])
		w.u.willtopic.flags = mqttsn_qos_flags(qos);
	assert_int_equal(feed(cl(i), &w), FO_FATE_DELIVERED);
	if (topic[0]) {
		assert_int_equal(T->f.n, 1);
		assert_int_equal(T->f.out[0].m.type, MQTTSN_WILLMSGREQ);
		reset_out();
		struct mqttsn_msg wm = { .type = MQTTSN_WILLMSG };
		wm.u.willmsg.msg = (const uint8_t *)msg;
		wm.u.willmsg.msg_len = (uint16_t)strlen(msg);
		assert_int_equal(feed(cl(i), &wm), FO_FATE_DELIVERED);
	}
	assert_connack_to(i, MQTTSN_RC_ACCEPTED);
	reset_out();
}

/* Spec 6.3/6.12: CleanSession=0 survives DISCONNECT: subscriptions and topic ids stay, QoS 1 copies
 * published meanwhile wait for the client (QoS 0 ones do not), and a CONNECT with CleanSession=0
 * from the same address gets them after its CONNACK, under the id it had, REGISTERed again first
 * (6.10: the client may have lost its table). Until then it is not connected. */
static void test_clean0_disconnect_keeps_session(void **state)
{
	start_offline(*state);
	reset_out();
	assert_int_equal(do_connect(1, "sub", 0, 60), FO_FATE_DELIVERED);
	struct mqttsn_msg a = sub_ok(1, 1, "a/b");
	connect_ok(2, "pub");
	uint16_t id = reg_ok(2, "a/b");
	assert_int_equal(do_disconnect(1, 0), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_DISCONNECT);
	assert_int_equal(state_of("sub"), SESSION_DISCONNECTED);
	assert_int_equal(EV(SESSION_KEPT_OFFLINE), 1);
	assert_int_equal(broker_subscription_count(T->b), 1);

	reset_out();
	assert_int_equal(do_publish(2, 1, MQTTSN_TOPIC_NORMAL, id, 11, "q1"), FO_FATE_DELIVERED);
	assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, id, 0, "q0"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(1), 0);
	assert_int_equal(EV(DELIVERY_BUFFERED), 1);
	assert_int_equal(EV(DELIVERY_OFFLINE_QOS0), 1);
	/* The QoS 0 publish reached no one (like a copy skipped for any other reason). */
	assert_int_equal(EV(PUBLISH_NO_MATCH), 1);

	/* Not connected: a PINGREQ from it gets the DISCONNECT that asks for a CONNECT. */
	reset_out();
	assert_int_equal(do_simple(1, MQTTSN_PINGREQ), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_DISCONNECT);

	reset_out();
	assert_int_equal(do_connect(1, "sub", 0, 60), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 2);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_CONNACK);
	struct mqttsn_msg r = T->f.out[1].m;
	assert_int_equal(r.type, MQTTSN_REGISTER);
	assert_int_equal(r.u.reg.topic_id, a.u.suback.topic_id);
	assert_int_equal(r.u.reg.topic_name_len, 3);
	assert_memory_equal(r.u.reg.topic_name, "a/b", 3);
	reset_out();
	assert_int_equal(do_regack(1, r.u.reg.topic_id, r.u.reg.msg_id, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	struct out *p = &T->f.out[0];
	assert_true(p->is_publish);
	assert_int_equal(p->m.u.publish.topic_id, a.u.suback.topic_id);
	assert_int_equal(mqttsn_flags_qos(p->m.u.publish.flags), 1);
	assert_memory_equal(p->m.u.publish.data, "q1", 2);
	assert_int_equal(EV(SESSION_RESUMED), 1);
	assert_int_equal(state_of("sub"), SESSION_ACTIVE);
	assert_int_equal(do_puback(1, a.u.suback.topic_id, p->m.u.publish.msg_id, MQTTSN_RC_ACCEPTED),
			 FO_FATE_DELIVERED);
	assert_int_equal(broker_held_count(T->b), 0);
	assert_int_equal(broker_inflight_count(T->b), 0);
	reset_out();
	assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, id, 0, "live"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(1), 1);

	/* CleanSession=1 ends it at the next DISCONNECT, and the expiry ends a kept one. */
	assert_int_equal(do_disconnect(1, 0), FO_FATE_DELIVERED);
	T->now += 99000;
	broker_tick(T->b, T->now);
	assert_int_equal(state_of("sub"), SESSION_DISCONNECTED);
	T->now += 1000;
	broker_tick(T->b, T->now);
	assert_int_equal(state_of("sub"), -1);
	assert_int_equal(EV(SESSION_OFFLINE_EXPIRED), 1);
	assert_int_equal(broker_subscription_count(T->b), 0);
}

/* A subscriber back with CleanSession=0 learns each name before its first PUBLISH (spec 6.10): a
 * name it never had, and the kept id of one it had, which it may have lost with its table. A copy
 * in flight when it left goes out again (DUP, same MsgId) after that REGACK, before the copies
 * buffered under the same id; while the REGACK is missing the REGISTERs are resent every retry
 * interval and the copies wait (no DUP resend, no give-up). */
static void test_clean0_resume_registers_and_resends(void **state)
{
	start_offline(*state);
	reset_out();
	assert_int_equal(do_connect(1, "sub", 0, 60), FO_FATE_DELIVERED);
	struct mqttsn_msg a = sub_ok(1, 1, "d");
	sub_ok(1, 1, "w/#");
	connect_ok(2, "pub");
	uint16_t id = reg_ok(2, "d");
	uint16_t wid = reg_ok(2, "w/x");
	reset_out();
	assert_int_equal(do_publish(2, 1, MQTTSN_TOPIC_NORMAL, id, 1, "inflight"), FO_FATE_DELIVERED);
	uint16_t mid = last_publish_to(1)->m.u.publish.msg_id;
	assert_int_equal(do_disconnect(1, 0), FO_FATE_DELIVERED);
	/* Held while it is away: no retransmission, no give-up. */
	reset_out();
	for (int k = 0; k < 5; k++) {
		T->now += 1000;
		broker_tick(T->b, T->now);
	}
	assert_int_equal(T->f.n, 0);
	assert_int_equal(EV(QOS1_GIVEUPS), 0);
	assert_int_equal(do_publish(2, 1, MQTTSN_TOPIC_NORMAL, wid, 2, "wild"), FO_FATE_DELIVERED);
	assert_int_equal(do_publish(2, 1, MQTTSN_TOPIC_NORMAL, id, 3, "later"), FO_FATE_DELIVERED);
	assert_int_equal(EV(DELIVERY_BUFFERED), 2);
	uint64_t retrans = EV(QOS1_RETRANSMITS);

	reset_out();
	assert_int_equal(do_connect(1, "sub", 0, 60), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 3); /* CONNACK, the REGISTER of d (its kept id), the REGISTER of w/x */
	assert_int_equal(T->f.out[0].m.type, MQTTSN_CONNACK);
	struct mqttsn_msg rd = T->f.out[1].m;
	assert_int_equal(rd.type, MQTTSN_REGISTER);
	assert_int_equal(rd.u.reg.topic_id, a.u.suback.topic_id);
	assert_int_equal(rd.u.reg.topic_name_len, 1);
	assert_memory_equal(rd.u.reg.topic_name, "d", 1);
	struct mqttsn_msg r = T->f.out[2].m;
	assert_int_equal(r.type, MQTTSN_REGISTER);
	assert_memory_equal(r.u.reg.topic_name, "w/x", 3);
	assert_true(r.u.reg.topic_id != rd.u.reg.topic_id && r.u.reg.msg_id != rd.u.reg.msg_id);
	assert_int_equal(EV(REGISTER_SENT), 2);
	assert_int_equal(broker_inflight_count(T->b), 1);
	assert_int_equal(broker_held_count(T->b), 2);

	/* No REGACK yet: the REGISTERs go again after a retry interval, the copies keep waiting. */
	reset_out();
	T->now += 1000;
	broker_tick(T->b, T->now);
	assert_int_equal(T->f.n, 2);
	assert_int_equal(publishes_to(1), 0);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_REGISTER);
	assert_int_equal(T->f.out[1].m.type, MQTTSN_REGISTER);
	assert_int_equal(EV(REGISTER_RESENT), 2);
	assert_int_equal(EV(QOS1_RETRANSMITS), retrans);

	/* The REGACK of d: the copy in flight again (DUP, its MsgId), then the buffered one. */
	reset_out();
	assert_int_equal(do_regack(1, rd.u.reg.topic_id, rd.u.reg.msg_id, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 2);
	assert_true(T->f.out[0].is_publish);
	assert_true(T->f.out[0].m.u.publish.flags & MQTTSN_FLAG_DUP);
	assert_int_equal(T->f.out[0].m.u.publish.msg_id, mid);
	assert_int_equal(T->f.out[0].m.u.publish.topic_id, a.u.suback.topic_id);
	assert_memory_equal(T->f.out[0].m.u.publish.data, "inflight", 8);
	assert_true(T->f.out[1].is_publish);
	assert_false(T->f.out[1].m.u.publish.flags & MQTTSN_FLAG_DUP);
	assert_int_equal(T->f.out[1].m.u.publish.topic_id, a.u.suback.topic_id);
	assert_memory_equal(T->f.out[1].m.u.publish.data, "later", 5);
	uint16_t mid2 = T->f.out[1].m.u.publish.msg_id;
	reset_out();
	assert_int_equal(do_regack(1, r.u.reg.topic_id, r.u.reg.msg_id, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	assert_true(T->f.out[0].is_publish);
	assert_int_equal(T->f.out[0].m.u.publish.topic_id, r.u.reg.topic_id);
	assert_memory_equal(T->f.out[0].m.u.publish.data, "wild", 4);
	uint16_t mid3 = T->f.out[0].m.u.publish.msg_id;
	assert_int_equal(do_puback(1, a.u.suback.topic_id, mid, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(do_puback(1, a.u.suback.topic_id, mid2, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(do_puback(1, r.u.reg.topic_id, mid3, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(broker_inflight_count(T->b), 0);
	assert_int_equal(broker_held_count(T->b), 0);
	/* Known again: the next copy goes straight out, no REGISTER. */
	reset_out();
	assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, id, 0, "now"), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	assert_true(T->f.out[0].is_publish);
	assert_int_equal(EV(REGISTER_SENT), 2);
	assert_int_equal(EV(DELIVERY_HELD_DISCARDED), 0);
}

/* Spec 6.10 for a client back with CleanSession=0 at the same address, which may be a new process
 * without its topic table: the CONNACK alone (no burst of REGISTERs), then each kept id it would
 * get PUBLISHes under is REGISTERed again (same id, its name) with the first copy, which waits for
 * the REGACK with the copies after it. Predefined ids and short names are not REGISTERed, nor a
 * name it refused (still refused); its own REGISTER of a name ends the wait the same way. A live
 * session taken back by the same address (no DISCONNECT: the client restarted) is no different. */
static void test_clean0_resume_announces_kept_ids(void **state)
{
	start_offline(*state);
	reset_out();
	assert_int_equal(do_connect(1, "sub", 0, 60), FO_FATE_DELIVERED);
	struct mqttsn_msg a = sub_ok(1, 0, "a/b");
	struct mqttsn_msg c = sub_ok(1, 0, "c/d");
	reset_out();
	assert_int_equal(do_subscribe(1, 0, MQTTSN_TOPIC_PREDEFINED, NULL, 100, 6), FO_FATE_DELIVERED);
	assert_int_equal(do_subscribe(1, 0, MQTTSN_TOPIC_SHORT, NULL, short_id("ab"), 7), FO_FATE_DELIVERED);
	sub_ok(1, 0, "w/#");
	connect_ok(2, "pub");
	uint16_t id_ab = reg_ok(2, "a/b"), id_cd = reg_ok(2, "c/d"), id_wx = reg_ok(2, "w/x");
	/* w/x is registered to it, and refused. */
	reset_out();
	assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, id_wx, 0, "no"), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_REGISTER);
	assert_int_equal(
		do_regack(1, T->f.out[0].m.u.reg.topic_id, T->f.out[0].m.u.reg.msg_id, MQTTSN_RC_INVALID_TOPIC_ID),
		FO_FATE_DELIVERED);
	assert_int_equal(EV(TOPIC_REFUSED), 1);
	assert_int_equal(EV(REGISTER_SENT), 1);
	assert_int_equal(EV(DELIVERY_HELD_DISCARDED), 1); /* the copy that waited for it */

	for (int round = 0; round < 2; round++) {
		/* round 0: DISCONNECT, then CONNECT; round 1: CONNECT again while connected */
		if (round == 0)
			assert_int_equal(do_disconnect(1, 0), FO_FATE_DELIVERED);
		reset_out();
		assert_int_equal(do_connect(1, "sub", 0, 60), FO_FATE_DELIVERED);
		assert_connack_to(1, MQTTSN_RC_ACCEPTED);
		uint64_t sent = EV(REGISTER_SENT);
		/* Predefined id and short name: straight out. The refused name: nothing. */
		reset_out();
		assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_PREDEFINED, 100, 0, "time"), FO_FATE_DELIVERED);
		assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_SHORT, short_id("ab"), 0, "short"), FO_FATE_DELIVERED);
		assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, id_wx, 0, "no"), FO_FATE_DELIVERED);
		struct out *l[8];
		assert_int_equal(outs_to(1, l, 8), 2);
		assert_true(l[0]->is_publish);
		assert_int_equal(l[0]->m.u.publish.flags & MQTTSN_FLAG_TOPIC_MASK, MQTTSN_TOPIC_PREDEFINED);
		assert_int_equal(l[0]->m.u.publish.topic_id, 100);
		assert_true(l[1]->is_publish);
		assert_int_equal(l[1]->m.u.publish.flags & MQTTSN_FLAG_TOPIC_MASK, MQTTSN_TOPIC_SHORT);
		assert_int_equal(EV(REGISTER_SENT), sent);
		assert_int_equal(EV(DELIVERY_TOPIC_REFUSED), (uint64_t)round + 1);

		/* a/b: the REGISTER of its kept id, the copy and the next one wait for the REGACK. */
		reset_out();
		assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, id_ab, 0, "one"), FO_FATE_DELIVERED);
		assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, id_ab, 0, "two"), FO_FATE_DELIVERED);
		assert_int_equal(T->f.n, 1);
		struct mqttsn_msg r = T->f.out[0].m;
		assert_int_equal(r.type, MQTTSN_REGISTER);
		assert_int_equal(r.u.reg.topic_id, a.u.suback.topic_id);
		assert_int_equal(r.u.reg.topic_name_len, 3);
		assert_memory_equal(r.u.reg.topic_name, "a/b", 3);
		assert_int_equal(EV(REGISTER_SENT), sent + 1);
		assert_int_equal(broker_held_count(T->b), 2);
		reset_out();
		assert_int_equal(do_regack(1, r.u.reg.topic_id, r.u.reg.msg_id, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
		assert_int_equal(T->f.n, 2);
		assert_int_equal(T->f.out[0].m.u.publish.topic_id, a.u.suback.topic_id);
		assert_memory_equal(T->f.out[0].m.u.publish.data, "one", 3);
		assert_memory_equal(T->f.out[1].m.u.publish.data, "two", 3);
		/* Known again: straight out. */
		reset_out();
		assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, id_ab, 0, "three"), FO_FATE_DELIVERED);
		assert_int_equal(T->f.n, 1);
		assert_true(T->f.out[0].is_publish);

		/* c/d: the client REGISTERs the name itself first: the kept id, and no REGISTER of ours. */
		reset_out();
		assert_int_equal(do_register(1, "c/d", 40), FO_FATE_DELIVERED);
		assert_int_equal(T->f.out[0].m.type, MQTTSN_REGACK);
		assert_int_equal(T->f.out[0].m.u.regack.topic_id, c.u.suback.topic_id);
		reset_out();
		assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, id_cd, 0, "cd"), FO_FATE_DELIVERED);
		assert_int_equal(T->f.n, 1);
		assert_true(T->f.out[0].is_publish);
		assert_int_equal(T->f.out[0].m.u.publish.topic_id, c.u.suback.topic_id);
		assert_int_equal(EV(REGISTER_SENT), sent + 1);
	}
	assert_int_equal(EV(SESSION_RESUMED), 1); /* the second CONNECT found it active */
	assert_int_equal(broker_held_count(T->b), 0);
	assert_int_equal(EV(DELIVERY_HELD_DISCARDED), 1);
}

/* A kept id the client rejects after the reconnect (REGACK with a return code other than accepted)
 * is refused like a name REGISTERed to a wildcard subscriber (6.10: as an unsubscribe of that name):
 * the copies that waited for it, buffered and in flight, are given back and counted, later ones are
 * not sent, and a SUBSCRIBE of the name ends the refusal. */
static void test_clean0_resume_kept_id_rejected(void **state)
{
	start_offline(*state);
	reset_out();
	assert_int_equal(do_connect(1, "sub", 0, 60), FO_FATE_DELIVERED);
	struct mqttsn_msg a = sub_ok(1, 1, "a/b");
	connect_ok(2, "pub");
	uint16_t id = reg_ok(2, "a/b");
	reset_out();
	assert_int_equal(do_publish(2, 1, MQTTSN_TOPIC_NORMAL, id, 1, "inflight"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(1), 1);
	assert_int_equal(do_disconnect(1, 0), FO_FATE_DELIVERED);
	assert_int_equal(do_publish(2, 1, MQTTSN_TOPIC_NORMAL, id, 2, "buffered"), FO_FATE_DELIVERED);
	reset_out();
	assert_int_equal(do_connect(1, "sub", 0, 60), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 2);
	struct mqttsn_msg r = T->f.out[1].m;
	assert_int_equal(r.type, MQTTSN_REGISTER);
	assert_int_equal(r.u.reg.topic_id, a.u.suback.topic_id);
	reset_out();
	assert_int_equal(do_regack(1, r.u.reg.topic_id, r.u.reg.msg_id, MQTTSN_RC_NOT_SUPPORTED), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 0);
	assert_int_equal(EV(TOPIC_REFUSED), 1);
	assert_int_equal(EV(DELIVERY_HELD_DISCARDED), 2); /* the buffered copy and the one in flight */
	assert_int_equal(broker_inflight_count(T->b), 0);
	assert_int_equal(broker_held_count(T->b), 0);
	assert_int_equal(T->f.holds, T->f.releases);
	/* Refused: nothing of a/b, not even after the retry interval. */
	reset_out();
	assert_int_equal(do_publish(2, 1, MQTTSN_TOPIC_NORMAL, id, 3, "refused"), FO_FATE_DELIVERED);
	T->now += 5000;
	broker_tick(T->b, T->now);
	assert_int_equal(outs_to(1, (struct out *[4]){ 0 }, 4), 0);
	assert_int_equal(EV(DELIVERY_TOPIC_REFUSED), 1);
	assert_int_equal(EV(QOS1_GIVEUPS), 0);
	/* Subscribing to it again ends the refusal: the SUBACK hands the id over, copies flow. */
	struct mqttsn_msg a2 = sub_ok(1, 1, "a/b");
	assert_int_equal(a2.u.suback.topic_id, a.u.suback.topic_id);
	reset_out();
	assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, id, 0, "again"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(1), 1);
	assert_int_equal(last_publish_to(1)->m.u.publish.topic_id, a.u.suback.topic_id);
}

/* Spec 6.14: DISCONNECT with a duration puts the client to sleep; copies are buffered (bounded,
 * counted past the bound); PINGREQ with its ClientId sends them in order, then PINGRESP, and it
 * sleeps again; silent past the duration (+50 %) it is lost. */
static void test_sleeping_client_buffer_and_wake(void **state)
{
	start_offline(*state);
	connect_ok(1, "sleepy");
	struct mqttsn_msg a = sub_ok(1, 1, "s/t");
	connect_ok(2, "pub");
	uint16_t id = reg_ok(2, "s/t");
	reset_out();
	assert_int_equal(do_disconnect(1, 10), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_DISCONNECT);
	assert_false(T->f.out[0].m.u.disconnect.has_duration);
	assert_int_equal(state_of("sleepy"), SESSION_ASLEEP);
	assert_int_equal(EV(SESSION_ASLEEP), 1);
	reset_out();
	const char *msgs[] = { "m1", "m2", "m3", "m4", "m5" };
	for (int k = 0; k < 5; k++)
		assert_int_equal(do_publish(2, k % 2, MQTTSN_TOPIC_NORMAL, id, (uint16_t)(k + 1), msgs[k]),
				 FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(1), 0);
	assert_int_equal(EV(DELIVERY_BUFFERED), 4); /* QoS 0 too, while asleep */
	assert_int_equal(EV(DELIVERY_BUFFER_FULL), 1);

	T->now += 9000;
	reset_out();
	assert_int_equal(do_pingreq_id(1, "sleepy"), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 5);
	for (int k = 0; k < 4; k++) {
		assert_true(T->f.out[k].is_publish);
		assert_int_equal(T->f.out[k].m.u.publish.topic_id, a.u.suback.topic_id);
		assert_memory_equal(T->f.out[k].m.u.publish.data, msgs[k], 2);
		assert_int_equal(mqttsn_flags_qos(T->f.out[k].m.u.publish.flags), k % 2);
	}
	assert_int_equal(T->f.out[4].m.type, MQTTSN_PINGRESP);
	assert_int_equal(state_of("sleepy"), SESSION_ASLEEP);
	assert_int_equal(EV(SESSION_AWAKE), 1);
	/* Its PUBACKs (a QoS 1 copy left unacknowledged would go out again at the next wake). */
	uint16_t acks[2] = { T->f.out[1].m.u.publish.msg_id, T->f.out[3].m.u.publish.msg_id };
	for (int k = 0; k < 2; k++)
		assert_int_equal(do_puback(1, a.u.suback.topic_id, acks[k], MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	/* Nothing buffered: PINGRESP at once. A plain PINGREQ is only a keep alive. */
	reset_out();
	assert_int_equal(do_pingreq_id(1, "sleepy"), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_PINGRESP);
	/* The sleep timer restarted at the PINGRESP: lost 15 s later, its session gone (clean). */
	T->now += 14900;
	broker_tick(T->b, T->now);
	assert_int_equal(state_of("sleepy"), SESSION_ASLEEP);
	T->now += 200;
	broker_tick(T->b, T->now);
	assert_int_equal(state_of("sleepy"), -1);
	assert_int_equal(EV(SESSION_SLEEP_LOST), 1);
	assert_int_equal(broker_held_count(T->b), 0);
}

/* An awake client whose buffered copy needs a REGISTER stays awake until the REGACK lets the
 * copy out; PINGRESP follows it. A CONNECT makes a sleeping client active again. */
static void test_awake_waits_for_regack_then_pingresp(void **state)
{
	start_offline(*state);
	connect_ok(1, "sleepy");
	sub_ok(1, 0, "w/+");
	connect_ok(2, "pub");
	uint16_t id = reg_ok(2, "w/y");
	assert_int_equal(do_disconnect(1, 30), FO_FATE_DELIVERED);
	assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, id, 0, "hi"), FO_FATE_DELIVERED);
	reset_out();
	assert_int_equal(do_pingreq_id(1, "sleepy"), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	struct mqttsn_msg r = T->f.out[0].m;
	assert_int_equal(r.type, MQTTSN_REGISTER);
	assert_int_equal(state_of("sleepy"), SESSION_AWAKE);
	reset_out();
	assert_int_equal(do_regack(1, r.u.reg.topic_id, r.u.reg.msg_id, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 2);
	assert_true(T->f.out[0].is_publish);
	assert_int_equal(T->f.out[1].m.type, MQTTSN_PINGRESP);
	assert_int_equal(state_of("sleepy"), SESSION_ASLEEP);
	reset_out();
	assert_int_equal(do_connect(1, "sleepy", 0, 60), FO_FATE_DELIVERED);
	assert_int_equal(state_of("sleepy"), SESSION_ACTIVE);
	/* A reconnect (CleanSession=0): the id it learnt is REGISTERed again before the next copy. */
	reset_out();
	assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, id, 0, "now"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(1), 0);
	assert_int_equal(T->f.n, 1);
	struct mqttsn_msg r2 = T->f.out[0].m;
	assert_int_equal(r2.type, MQTTSN_REGISTER);
	assert_int_equal(r2.u.reg.topic_id, r.u.reg.topic_id);
	assert_int_equal(do_regack(1, r2.u.reg.topic_id, r2.u.reg.msg_id, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(1), 1);
}

/* Spec 6.3 and 6.14: the will is published when the client is lost (keep alive x1.5), never after a
 * DISCONNECT; it goes to local subscribers and to the stage (routes, other workers). */
static void test_will_published_on_loss_not_on_disconnect(void **state)
{
	start_offline(*state);
	connect_ok(1, "watcher");
	struct mqttsn_msg a = sub_ok(1, 1, "will/+");
	connect_will(2, "dev", MQTTSN_FLAG_CLEAN, "will/dev", 1, "gone");
	assert_int_equal(broker_will_count(T->b), 1);
	assert_int_equal(EV(WILL_STORED), 1);
	/* A clean DISCONNECT: no will. */
	assert_int_equal(do_disconnect(2, 0), FO_FATE_DELIVERED);
	assert_int_equal(broker_will_count(T->b), 0);
	assert_int_equal(EV(WILL_PUBLISHED), 0);

	connect_will(2, "dev", MQTTSN_FLAG_CLEAN, "will/dev", 1, "gone");
	reset_out();
	T->now += 91000; /* keep alive 60 s -> lost after 90 s (spec 7.2: +50 % up to a minute) */
	assert_int_equal(do_simple(1, MQTTSN_PINGREQ), FO_FATE_ANSWERED);
	broker_tick(T->b, T->now);
	assert_int_equal(EV(SESSION_EXPIRED), 1);
	assert_int_equal(EV(WILL_PUBLISHED), 1);
	assert_false(has(2));
	struct out *r = NULL;
	for (int k = 0; k < T->f.n; k++)
		if (T->f.out[k].m.type == MQTTSN_REGISTER)
			r = &T->f.out[k];
	assert_non_null(r);
	assert_memory_equal(r->m.u.reg.topic_name, "will/dev", 8);
	reset_out();
	assert_int_equal(do_regack(1, r->m.u.reg.topic_id, r->m.u.reg.msg_id, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	struct out *p = last_publish_to(1);
	assert_non_null(p);
	assert_memory_equal(p->m.u.publish.data, "gone", 4);
	assert_int_equal(mqttsn_flags_qos(p->m.u.publish.flags), 1);
	(void)a;
	assert_int_equal(T->f.originated, 1);
	assert_string_equal(T->f.orig_topic, "will/dev");
	assert_string_equal(T->f.orig_client, "dev");
	assert_int_equal(T->f.orig_qos, 1);
}

/* The four CleanSession x Will combinations (spec 6.3), and the updates of 6.4. */
static void test_will_clean_combinations_and_updates(void **state)
{
	start_offline(*state);
	connect_ok(1, "watcher");
	sub_ok(1, 0, "w");
	/* Clean=0, Will=1: stored. Clean=0, Will=0: kept. */
	connect_will(2, "dev", 0, "w", 0, "one");
	reset_out();
	assert_int_equal(do_connect(2, "dev", 0, 60), FO_FATE_DELIVERED);
	assert_connack_to(2, MQTTSN_RC_ACCEPTED);
	assert_int_equal(broker_will_count(T->b), 1);
	/* Clean=0, Will=1 with an empty WILLTOPIC: deleted, CONNACK. */
	connect_will(2, "dev", 0, "", 0, "");
	assert_int_equal(broker_will_count(T->b), 0);
	assert_int_equal(EV(WILL_DELETED), 1);
	/* Clean=1, Will=1 then Clean=1, Will=0: deleted with the session. */
	connect_will(2, "dev", MQTTSN_FLAG_CLEAN, "w", 0, "two");
	assert_int_equal(broker_will_count(T->b), 1);
	connect_ok(2, "dev");
	assert_int_equal(broker_will_count(T->b), 0);

	/* WILLMSGUPD without a will topic: refused; WILLTOPICUPD then WILLMSGUPD: accepted. */
	reset_out();
	struct mqttsn_msg wm = { .type = MQTTSN_WILLMSGUPD };
	wm.u.willmsg.msg = (const uint8_t *)"three";
	wm.u.willmsg.msg_len = 5;
	assert_int_equal(feed(cl(2), &wm), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_WILLMSGRESP);
	assert_int_equal(T->f.out[0].m.u.connack.return_code, MQTTSN_RC_NOT_SUPPORTED);
	reset_out();
	struct mqttsn_msg wt = { .type = MQTTSN_WILLTOPICUPD };
	wt.u.willtopic.topic = (const uint8_t *)"w";
	wt.u.willtopic.topic_len = 1;
	assert_int_equal(feed(cl(2), &wt), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_WILLTOPICRESP);
	assert_int_equal(T->f.out[0].m.u.connack.return_code, MQTTSN_RC_ACCEPTED);
	reset_out();
	assert_int_equal(feed(cl(2), &wm), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.u.connack.return_code, MQTTSN_RC_ACCEPTED);
	/* A wildcard will topic and one longer than will_max_bytes: refused. */
	reset_out();
	wt.u.willtopic.topic = (const uint8_t *)"w/#";
	wt.u.willtopic.topic_len = 3;
	assert_int_equal(feed(cl(2), &wt), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.connack.return_code, MQTTSN_RC_NOT_SUPPORTED);
	char big[80];
	memset(big, 'x', sizeof(big));
	wm.u.willmsg.msg = (const uint8_t *)big;
	wm.u.willmsg.msg_len = sizeof(big);
	reset_out();
	assert_int_equal(feed(cl(2), &wm), FO_FATE_ANSWERED);
	assert_int_equal(T->f.out[0].m.u.connack.return_code, MQTTSN_RC_NOT_SUPPORTED);
	assert_int_equal(EV(WILL_REJECTED), 3);

	/* Lost: the updated will ("w" / "three") is published. */
	reset_out();
	T->now += 91000;
	assert_int_equal(do_simple(1, MQTTSN_PINGREQ), FO_FATE_ANSWERED);
	broker_tick(T->b, T->now);
	assert_int_equal(EV(WILL_PUBLISHED), 1);
	/* An empty WILLTOPICUPD deletes topic and message. */
	connect_ok(3, "other");
	reset_out();
	wt.u.willtopic.topic = (const uint8_t *)"w";
	wt.u.willtopic.topic_len = 1;
	assert_int_equal(feed(cl(3), &wt), FO_FATE_DELIVERED);
	assert_int_equal(broker_will_count(T->b), 1);
	wt.u.willtopic.topic_len = 0;
	wt.u.willtopic.flags = 0;
	assert_int_equal(feed(cl(3), &wt), FO_FATE_DELIVERED);
	assert_int_equal(broker_will_count(T->b), 0);
}

/* A persistent session lost to its keep alive keeps its subscriptions (and publishes its will). */
static void test_clean0_lost_session_kept(void **state)
{
	start_offline(*state);
	connect_will(1, "dev", 0, "dev/status", 0, "offline");
	sub_ok(1, 1, "cmd");
	T->now += 91000;
	broker_tick(T->b, T->now);
	assert_int_equal(EV(SESSION_EXPIRED), 1);
	assert_int_equal(EV(WILL_PUBLISHED), 1);
	assert_int_equal(state_of("dev"), SESSION_DISCONNECTED);
	assert_int_equal(broker_subscription_count(T->b), 1);
	assert_int_equal(broker_will_count(T->b), 1);
}

/* Spec 6.14: a sleeping client may change its sleep duration with another DISCONNECT carrying one
 * (acknowledged by a DISCONNECT without a duration, supervised by the new value, 7.2: 10 % over a
 * minute), and leaves the asleep state for the disconnected one with a DISCONNECT without it. */
static void test_sleep_duration_changed_then_plain_disconnect(void **state)
{
	start_offline(*state);
	connect_ok(1, "sleepy");
	sub_ok(1, 0, "s/t");
	assert_int_equal(do_disconnect(1, 10), FO_FATE_DELIVERED);
	assert_int_equal(state_of("sleepy"), SESSION_ASLEEP);
	reset_out();
	T->now += 5000;
	assert_int_equal(do_disconnect(1, 100), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_DISCONNECT);
	assert_false(T->f.out[0].m.u.disconnect.has_duration);
	assert_int_equal(state_of("sleepy"), SESSION_ASLEEP);
	assert_int_equal(EV(SESSION_ASLEEP), 2);
	/* Past the old duration (+50 %) and just short of the new one (+10 %): still asleep. */
	T->now += 109999;
	broker_tick(T->b, T->now);
	assert_int_equal(state_of("sleepy"), SESSION_ASLEEP);
	assert_int_equal(EV(SESSION_SLEEP_LOST), 0);
	/* A DISCONNECT without a duration from the asleep state: acknowledged, disconnected (its
	 * CleanSession=1 session ends there). */
	reset_out();
	assert_int_equal(do_disconnect(1, 0), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_DISCONNECT);
	assert_false(T->f.out[0].m.u.disconnect.has_duration);
	assert_int_equal(state_of("sleepy"), -1);
	assert_int_equal(EV(SESSION_DISCONNECTED), 1);
	assert_int_equal(broker_subscription_count(T->b), 0);
}

/* Spec 7.2: the keep alive timer runs 50 % over a duration of a minute or less and 10 % over a
 * longer one. */
static void test_supervision_tolerance_by_duration(void **state)
{
	start(*state);
	T->now = 1000;
	reset_out();
	assert_int_equal(do_connect(1, "k60", MQTTSN_FLAG_CLEAN, 60), FO_FATE_DELIVERED);
	assert_int_equal(do_connect(2, "k61", MQTTSN_FLAG_CLEAN, 61), FO_FATE_DELIVERED);
	assert_int_equal(do_connect(3, "k600", MQTTSN_FLAG_CLEAN, 600), FO_FATE_DELIVERED);
	broker_tick(T->b, 1000 + 67099);
	assert_true(has(1) && has(2) && has(3));
	broker_tick(T->b, 1000 + 67100); /* 61 s + 10 % */
	assert_false(has(2));
	assert_true(has(1));
	broker_tick(T->b, 1000 + 89999);
	assert_true(has(1));
	broker_tick(T->b, 1000 + 90000); /* 60 s + 50 % */
	assert_false(has(1));
	broker_tick(T->b, 1000 + 659999);
	assert_true(has(3));
	broker_tick(T->b, 1000 + 660000); /* 600 s + 10 % */
	assert_false(has(3));
	assert_int_equal(EV(SESSION_EXPIRED), 3);
}

/* Spec 6.14: a sleeping client silent past its sleep duration is lost, and its will is published
 * as after a keep alive expiry. */
static void test_will_published_when_sleeping_client_lost(void **state)
{
	start_offline(*state);
	connect_ok(1, "watcher");
	sub_ok(1, 0, "will/+");
	connect_will(2, "dev", MQTTSN_FLAG_CLEAN, "will/dev", 0, "slept away");
	assert_int_equal(do_disconnect(2, 10), FO_FATE_DELIVERED);
	assert_int_equal(state_of("dev"), SESSION_ASLEEP);
	reset_out();
	T->now += 14999;
	assert_int_equal(do_simple(1, MQTTSN_PINGREQ), FO_FATE_ANSWERED); /* the watcher stays */
	broker_tick(T->b, T->now);
	assert_int_equal(EV(WILL_PUBLISHED), 0);
	T->now += 1;
	broker_tick(T->b, T->now);
	assert_int_equal(EV(SESSION_SLEEP_LOST), 1);
	assert_int_equal(EV(WILL_PUBLISHED), 1);
	assert_int_equal(state_of("dev"), -1);
	struct out *l[8];
	assert_int_equal(outs_to(1, l, 8), 2); /* PINGRESP, then the will's REGISTER */
	assert_int_equal(l[1]->m.type, MQTTSN_REGISTER);
	assert_memory_equal(l[1]->m.u.reg.topic_name, "will/dev", 8);
	assert_int_equal(regack_all(), 1);
	struct out *p = last_publish_to(1);
	assert_non_null(p);
	assert_int_equal(p->m.u.publish.data_len, 10);
	assert_memory_equal(p->m.u.publish.data, "slept away", 10);
}

/* Spec 6.3: CleanSession=0 with Will=1 prompts again and the new will overwrites the stored one.
 * Spec 6.4: WILLTOPICUPD and WILLMSGUPD overwrite each their part, independently of each other:
 * the will published on a loss carries the last topic and QoS and the last message. */
static void test_will_overwritten_and_updated_independently(void **state)
{
	start_offline(*state);
	connect_ok(1, "watcher");
	sub_ok(1, 1, "w/#");
	connect_will(2, "dev", 0, "w/a", 0, "first");
	connect_will(2, "dev", 0, "w/b", 0, "second");
	assert_int_equal(broker_will_count(T->b), 1);
	/* WILLTOPICUPD alone: the topic and QoS change, the message stays. */
	reset_out();
	struct mqttsn_msg wt = { .type = MQTTSN_WILLTOPICUPD };
	wt.u.willtopic.flags = MQTTSN_FLAG_QOS1;
	wt.u.willtopic.topic = (const uint8_t *)"w/d";
	wt.u.willtopic.topic_len = 3;
	assert_int_equal(feed(cl(2), &wt), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_WILLTOPICRESP);
	assert_int_equal(T->f.out[0].m.u.connack.return_code, MQTTSN_RC_ACCEPTED);
	/* Lost (keep alive 60 s x 1.5): "second" at w/d, QoS 1. */
	reset_out();
	T->now += 91000;
	assert_int_equal(do_simple(1, MQTTSN_PINGREQ), FO_FATE_ANSWERED);
	broker_tick(T->b, T->now);
	assert_int_equal(EV(WILL_PUBLISHED), 1);
	struct out *l[8];
	assert_int_equal(outs_to(1, l, 8), 2);
	assert_int_equal(l[1]->m.type, MQTTSN_REGISTER);
	assert_int_equal(l[1]->m.u.reg.topic_name_len, 3);
	assert_memory_equal(l[1]->m.u.reg.topic_name, "w/d", 3);
	assert_int_equal(regack_all(), 1);
	struct out *p = last_publish_to(1);
	assert_non_null(p);
	assert_int_equal(mqttsn_flags_qos(p->m.u.publish.flags), 1);
	assert_int_equal(p->m.u.publish.data_len, 6);
	assert_memory_equal(p->m.u.publish.data, "second", 6);
	assert_int_equal(do_puback(1, p->m.u.publish.topic_id, p->m.u.publish.msg_id, MQTTSN_RC_ACCEPTED),
			 FO_FATE_DELIVERED);
	/* Back with CleanSession=0, Will=0: the will is kept; WILLMSGUPD alone changes the message. */
	assert_int_equal(broker_will_count(T->b), 1);
	reset_out();
	assert_int_equal(do_connect(2, "dev", 0, 60), FO_FATE_DELIVERED);
	assert_connack_to(2, MQTTSN_RC_ACCEPTED);
	reset_out();
	struct mqttsn_msg wm = { .type = MQTTSN_WILLMSGUPD };
	wm.u.willmsg.msg = (const uint8_t *)"third";
	wm.u.willmsg.msg_len = 5;
	assert_int_equal(feed(cl(2), &wm), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_WILLMSGRESP);
	assert_int_equal(T->f.out[0].m.u.connack.return_code, MQTTSN_RC_ACCEPTED);
	reset_out();
	T->now += 91000;
	assert_int_equal(do_simple(1, MQTTSN_PINGREQ), FO_FATE_ANSWERED);
	broker_tick(T->b, T->now);
	assert_int_equal(EV(WILL_PUBLISHED), 2);
	p = last_publish_to(1);
	assert_non_null(p); /* w/d is known to the watcher now: no REGISTER */
	assert_int_equal(mqttsn_flags_qos(p->m.u.publish.flags), 1);
	assert_int_equal(p->m.u.publish.data_len, 5);
	assert_memory_equal(p->m.u.publish.data, "third", 5);
	assert_int_equal(EV(REGISTER_SENT), 1);
}

/* Spec 5.4.17: UNSUBSCRIBE by pre-defined topic id and by short topic name, each answered by an
 * UNSUBACK with its MsgId (5.4.18) and ending the deliveries. Spec 5.4.12: a QoS 0 PUBLISH from the
 * gateway has MsgId 0x0000. */
static void test_unsubscribe_predefined_and_short(void **state)
{
	start(*state);
	connect_ok(1, "pub");
	connect_ok(2, "sub");
	reset_out();
	assert_int_equal(do_subscribe(2, 0, MQTTSN_TOPIC_PREDEFINED, NULL, 100, 3), FO_FATE_DELIVERED);
	assert_int_equal(do_subscribe(2, 0, MQTTSN_TOPIC_SHORT, NULL, short_id("ab"), 4), FO_FATE_DELIVERED);
	assert_int_equal(broker_subscription_count(T->b), 2);
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_PREDEFINED, 100, 0, "p"), FO_FATE_DELIVERED);
	assert_int_equal(do_publish(1, 1, MQTTSN_TOPIC_SHORT, short_id("ab"), 8, "s"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(2), 2);
	struct out *l[8];
	int n = outs_to(2, l, 8);
	for (int k = 0; k < n; k++)
		assert_int_equal(l[k]->m.u.publish.msg_id, 0); /* granted QoS 0 */
	const struct {
		uint8_t ttype;
		uint16_t tid, mid;
	} un[] = { { MQTTSN_TOPIC_PREDEFINED, 100, 21 }, { MQTTSN_TOPIC_SHORT, 0x6162, 22 } };
	for (int k = 0; k < 2; k++) {
		struct mqttsn_msg m = { .type = MQTTSN_UNSUBSCRIBE };
		m.u.subscribe.flags = un[k].ttype;
		m.u.subscribe.msg_id = un[k].mid;
		m.u.subscribe.topic_id = un[k].tid;
		reset_out();
		assert_int_equal(feed(cl(2), &m), FO_FATE_DELIVERED);
		assert_int_equal(T->f.n, 1);
		assert_int_equal(T->f.out[0].m.type, MQTTSN_UNSUBACK);
		assert_int_equal(T->f.out[0].m.u.pubx.msg_id, un[k].mid);
	}
	assert_int_equal(broker_subscription_count(T->b), 0);
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_PREDEFINED, 100, 0, "p"), FO_FATE_DELIVERED);
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_SHORT, short_id("ab"), 0, "s"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(2), 0);
}

/* Spec 5.4.4, 5.4.10, 5.4.15: fields a message does not use are ignored: CONNECT's DUP, QoS, Retain
 * and TopicIdType flags; the TopicId of a client's REGISTER (coded 0x0000, "not relevant");
 * SUBSCRIBE's Retain, Will and CleanSession flags. */
static void test_unused_fields_ignored(void **state)
{
	start(*state);
	reset_out();
	uint8_t odd = (uint8_t)(MQTTSN_FLAG_DUP | MQTTSN_FLAG_QOS1 | MQTTSN_FLAG_RETAIN | MQTTSN_TOPIC_SHORT);
	assert_int_equal(do_connect(1, "c1", (uint8_t)(odd | MQTTSN_FLAG_CLEAN), 60), FO_FATE_DELIVERED);
	assert_connack_to(1, MQTTSN_RC_ACCEPTED);
	assert_true(has(1));
	reset_out();
	struct mqttsn_msg r = { .type = MQTTSN_REGISTER };
	r.u.reg.topic_id = 0x1234;
	r.u.reg.msg_id = 9;
	r.u.reg.topic_name = (const uint8_t *)"u/v";
	r.u.reg.topic_name_len = 3;
	assert_int_equal(feed(cl(1), &r), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_REGACK);
	assert_int_equal(T->f.out[0].m.u.regack.return_code, MQTTSN_RC_ACCEPTED);
	assert_int_equal(T->f.out[0].m.u.regack.msg_id, 9);
	uint16_t id = T->f.out[0].m.u.regack.topic_id;
	assert_int_equal(reg_ok(1, "u/v"), id);
	reset_out();
	struct mqttsn_msg m = { .type = MQTTSN_SUBSCRIBE };
	m.u.subscribe.flags = (uint8_t)(MQTTSN_FLAG_QOS1 | MQTTSN_FLAG_RETAIN | MQTTSN_FLAG_WILL | MQTTSN_FLAG_CLEAN);
	m.u.subscribe.msg_id = 10;
	m.u.subscribe.topic_name = (const uint8_t *)"u/v";
	m.u.subscribe.topic_name_len = 3;
	assert_int_equal(feed(cl(1), &m), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_SUBACK);
	assert_int_equal(T->f.out[0].m.u.suback.return_code, MQTTSN_RC_ACCEPTED);
	assert_int_equal(T->f.out[0].m.u.suback.topic_id, id);
	assert_int_equal(T->f.out[0].m.u.suback.flags & MQTTSN_FLAG_QOS_MASK, MQTTSN_FLAG_QOS1);
	reset_out();
	assert_int_equal(do_publish(1, 0, MQTTSN_TOPIC_NORMAL, id, 0, "x"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(1), 1);
}

/* Spec 5.4.7: WILLTOPIC's Retain flag is the will's: a will published with it is retained, and a
 * later subscriber gets it with the retain flag. Spec 6.12: a DISCONNECT of a CleanSession=0
 * session keeps the will data (it is published when that session is lost later, never at the
 * DISCONNECT). */
static void test_will_retain_flag_and_kept_over_disconnect(void **state)
{
	struct t *t = *state;
	t->cfg.max_retained = 4;
	t->cfg.retained_bytes = 100;
	start_offline(t);
	reset_out();
	assert_int_equal(do_connect(2, "dev", (uint8_t)MQTTSN_FLAG_WILL, 60), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_WILLTOPICREQ);
	reset_out();
	struct mqttsn_msg w = { .type = MQTTSN_WILLTOPIC };
	w.u.willtopic.flags = (uint8_t)(MQTTSN_FLAG_QOS0 | MQTTSN_FLAG_RETAIN);
	w.u.willtopic.topic = (const uint8_t *)"st/dev";
	w.u.willtopic.topic_len = 6;
	assert_int_equal(feed(cl(2), &w), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_WILLMSGREQ);
	reset_out();
	struct mqttsn_msg wm = { .type = MQTTSN_WILLMSG };
	wm.u.willmsg.msg = (const uint8_t *)"down";
	wm.u.willmsg.msg_len = 4;
	assert_int_equal(feed(cl(2), &wm), FO_FATE_DELIVERED);
	assert_connack_to(2, MQTTSN_RC_ACCEPTED);
	/* DISCONNECT (CleanSession=0): nothing published, the will kept. */
	assert_int_equal(do_disconnect(2, 0), FO_FATE_DELIVERED);
	assert_int_equal(state_of("dev"), SESSION_DISCONNECTED);
	assert_int_equal(broker_will_count(T->b), 1);
	assert_int_equal(EV(WILL_PUBLISHED), 0);
	/* Back (CleanSession=0, Will=0) and lost: the kept will is published and retained. */
	reset_out();
	assert_int_equal(do_connect(2, "dev", 0, 10), FO_FATE_DELIVERED);
	assert_connack_to(2, MQTTSN_RC_ACCEPTED);
	T->now += 15000;
	broker_tick(T->b, T->now);
	assert_int_equal(EV(WILL_PUBLISHED), 1);
	assert_int_equal(broker_retained_count(T->b), 1);
	connect_ok(3, "late");
	reset_out();
	assert_int_equal(do_subscribe(3, 0, MQTTSN_TOPIC_NORMAL, "st/dev", 0, 5), FO_FATE_DELIVERED);
	struct out *p = last_publish_to(3);
	assert_non_null(p);
	assert_true(p->m.u.publish.flags & MQTTSN_FLAG_RETAIN);
	assert_int_equal(p->m.u.publish.data_len, 4);
	assert_memory_equal(p->m.u.publish.data, "down", 4);
}

/* Spec 5.4.7, 5.4.22, 5.4.17: the flags WILLTOPIC, WILLTOPICUPD and UNSUBSCRIBE do not use (DUP, Will,
 * CleanSession, TopicIdType; UNSUBSCRIBE's QoS and Retain too) are ignored. */
static void test_unused_will_and_unsubscribe_flags_ignored(void **state)
{
	start_offline(*state);
	connect_ok(1, "watcher");
	sub_ok(1, 1, "w/#");
	uint8_t odd = (uint8_t)(MQTTSN_FLAG_DUP | MQTTSN_FLAG_WILL | MQTTSN_FLAG_CLEAN | MQTTSN_TOPIC_SHORT);
	reset_out();
	assert_int_equal(do_connect(2, "dev", (uint8_t)(MQTTSN_FLAG_WILL | MQTTSN_FLAG_CLEAN), 60), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_WILLTOPICREQ);
	reset_out();
	struct mqttsn_msg w = { .type = MQTTSN_WILLTOPIC };
	w.u.willtopic.flags = (uint8_t)(odd | MQTTSN_FLAG_QOS1);
	w.u.willtopic.topic = (const uint8_t *)"w/x";
	w.u.willtopic.topic_len = 3;
	assert_int_equal(feed(cl(2), &w), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_WILLMSGREQ);
	reset_out();
	struct mqttsn_msg wm = { .type = MQTTSN_WILLMSG };
	wm.u.willmsg.msg = (const uint8_t *)"bye";
	wm.u.willmsg.msg_len = 3;
	assert_int_equal(feed(cl(2), &wm), FO_FATE_DELIVERED);
	assert_connack_to(2, MQTTSN_RC_ACCEPTED);
	/* WILLTOPICUPD with the same unused flags: accepted, its QoS taken. */
	reset_out();
	struct mqttsn_msg wt = { .type = MQTTSN_WILLTOPICUPD };
	wt.u.willtopic.flags = (uint8_t)(odd | MQTTSN_FLAG_QOS1);
	wt.u.willtopic.topic = (const uint8_t *)"w/y";
	wt.u.willtopic.topic_len = 3;
	assert_int_equal(feed(cl(2), &wt), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_WILLTOPICRESP);
	assert_int_equal(T->f.out[0].m.u.connack.return_code, MQTTSN_RC_ACCEPTED);
	reset_out();
	T->now += 91000;
	assert_int_equal(do_simple(1, MQTTSN_PINGREQ), FO_FATE_ANSWERED);
	broker_tick(T->b, T->now);
	assert_int_equal(EV(WILL_PUBLISHED), 1);
	assert_int_equal(regack_all(), 1);
	struct out *p = last_publish_to(1);
	assert_non_null(p);
	assert_int_equal(mqttsn_flags_qos(p->m.u.publish.flags), 1);
	assert_false(p->m.u.publish.flags & MQTTSN_FLAG_RETAIN);
	assert_memory_equal(p->m.u.publish.data, "bye", 3);
	assert_int_equal(do_puback(1, p->m.u.publish.topic_id, p->m.u.publish.msg_id, MQTTSN_RC_ACCEPTED),
			 FO_FATE_DELIVERED);
	/* UNSUBSCRIBE with DUP, QoS, Retain, Will and CleanSession set: the name's subscription ends. */
	reset_out();
	struct mqttsn_msg u = { .type = MQTTSN_UNSUBSCRIBE };
	u.u.subscribe.flags = (uint8_t)(MQTTSN_FLAG_DUP | MQTTSN_FLAG_QOS2 | MQTTSN_FLAG_RETAIN | MQTTSN_FLAG_WILL |
					MQTTSN_FLAG_CLEAN | MQTTSN_TOPIC_NORMAL);
	u.u.subscribe.msg_id = 31;
	u.u.subscribe.topic_name = (const uint8_t *)"w/#";
	u.u.subscribe.topic_name_len = 3;
	assert_int_equal(feed(cl(1), &u), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_UNSUBACK);
	assert_int_equal(T->f.out[0].m.u.pubx.msg_id, 31);
	assert_int_equal(broker_subscription_count(T->b), 0);
}

/* ------------------------------------------------------------------ forwarder encapsulation */

/* Feed m as node `node` behind the forwarder at cl(fwd) (spec 5.5): one Encapsulated datagram. */
static enum fo_fate feed_node(int fwd, const char *node, const struct mqttsn_msg *m)
{
	uint8_t inner[300], buf[300];
	int n = mqttsn_encode(m, inner, sizeof(inner));
	assert_true(n > 0);
	struct mqttsn_msg e = { .type = MQTTSN_ENCAPSULATED };
	e.u.encap.ctrl = 0;
	e.u.encap.node_id = (const uint8_t *)node;
	e.u.encap.node_id_len = (uint16_t)strlen(node);
	e.u.encap.inner = inner;
	e.u.encap.inner_len = (uint16_t)n;
	int k = mqttsn_encode(&e, buf, sizeof(buf));
	assert_true(k > 0);
	return feed_raw(cl(fwd), buf, (uint16_t)k);
}

static bool to_node(const struct out *o, int fwd, const char *node)
{
	struct fo_client c = cl(fwd);
	return o->to.ip == c.ip && o->to.port == c.port && o->to.node_len == strlen(node) &&
	       memcmp(o->to.node_id, node, o->to.node_len) == 0;
}

/* Outputs to node `node` behind cl(fwd), in order. */
static int outs_to_node(int fwd, const char *node, struct out **list, int max)
{
	int k = 0;
	for (int j = 0; j < T->f.n && k < max; j++)
		if (to_node(&T->f.out[j], fwd, node))
			list[k++] = &T->f.out[j];
	return k;
}

static void node_connect_ok(int fwd, const char *node, const char *id, uint8_t flags)
{
	reset_out();
	struct mqttsn_msg m = { .type = MQTTSN_CONNECT };
	m.u.connect.flags = flags;
	m.u.connect.protocol_id = MQTTSN_PROTOCOL_ID;
	m.u.connect.duration = 60;
	m.u.connect.client_id = (const uint8_t *)id;
	m.u.connect.client_id_len = (uint16_t)strlen(id);
	assert_int_equal(feed_node(fwd, node, &m), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	assert_true(to_node(&T->f.out[0], fwd, node));
	assert_int_equal(T->f.out[0].m.type, MQTTSN_CONNACK);
	assert_int_equal(T->f.out[0].m.u.connack.return_code, MQTTSN_RC_ACCEPTED);
	reset_out();
}

static void node_subscribe_ok(int fwd, const char *node, int qos, const char *filter)
{
	reset_out();
	struct mqttsn_msg m = { .type = MQTTSN_SUBSCRIBE };
	m.u.subscribe.flags = (uint8_t)(mqttsn_qos_flags(qos) | MQTTSN_TOPIC_NORMAL);
	m.u.subscribe.msg_id = 9;
	m.u.subscribe.topic_name = (const uint8_t *)filter;
	m.u.subscribe.topic_name_len = (uint16_t)strlen(filter);
	assert_int_equal(feed_node(fwd, node, &m), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	assert_true(to_node(&T->f.out[0], fwd, node));
	assert_int_equal(T->f.out[0].m.type, MQTTSN_SUBACK);
	assert_int_equal(T->f.out[0].m.u.suback.return_code, MQTTSN_RC_ACCEPTED);
	reset_out();
}

/* Two nodes behind one forwarder are two clients, neither is the forwarder's own address, and
 * everything for a node (CONNACK, SUBACK, REGISTER, PUBLISH copies and their retransmissions,
 * PINGRESP, DISCONNECT) goes to the forwarder's address with that node's id. */
static void test_forwarder_two_nodes(void **state)
{
	struct t *t = *state;
	t->cfg.max_forwarded_nodes = 4;
	start(t);
	node_connect_ok(1, "\x01", "nodeA", MQTTSN_FLAG_CLEAN);
	node_connect_ok(1, "\x02\x03", "nodeB", MQTTSN_FLAG_CLEAN);
	assert_int_equal(broker_session_count(T->b), 2);
	assert_false(has(1));       /* the forwarder's own address has no session */
	connect_ok(1, "forwarder"); /* the forwarder speaking for itself is a third client */
	assert_int_equal(broker_session_count(T->b), 3);
	assert_int_equal(EV(ENCAPSULATED_RX), 2);

	node_subscribe_ok(1, "\x01", 1, "a/#");
	node_subscribe_ok(1, "\x02\x03", 0, "a/b");
	connect_ok(2, "pub");
	uint16_t id = reg_ok(2, "a/b");

	/* A QoS 1 publish: node A (wildcard) gets a REGISTER first, node B has the id from its SUBSCRIBE. */
	reset_out();
	assert_int_equal(do_publish(2, 1, MQTTSN_TOPIC_NORMAL, id, 3, "hello"), FO_FATE_DELIVERED);
	struct out *a[8], *bn[8];
	int na = outs_to_node(1, "\x01", a, 8), nb = outs_to_node(1, "\x02\x03", bn, 8);
	assert_int_equal(na, 1);
	assert_int_equal(a[0]->m.type, MQTTSN_REGISTER);
	assert_int_equal(nb, 1);
	assert_true(bn[0]->is_publish);
	assert_memory_equal(bn[0]->m.u.publish.data, "hello", 5);
	for (int j = 0; j < T->f.n; j++) /* nothing to the forwarder's own session */
		assert_false(T->f.out[j].to.ip == cl(1).ip && T->f.out[j].to.port == cl(1).port &&
			     T->f.out[j].to.node_len == 0);
	uint16_t atid = a[0]->m.u.reg.topic_id, amid = a[0]->m.u.reg.msg_id;

	/* Node A's REGACK, through the forwarder, releases its QoS 1 copy. */
	reset_out();
	struct mqttsn_msg r = { .type = MQTTSN_REGACK };
	r.u.regack.topic_id = atid;
	r.u.regack.msg_id = amid;
	r.u.regack.return_code = MQTTSN_RC_ACCEPTED;
	assert_int_equal(feed_node(1, "\x01", &r), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	assert_true(to_node(&T->f.out[0], 1, "\x01"));
	assert_true(T->f.out[0].is_publish);
	assert_int_equal(mqttsn_flags_qos(T->f.out[0].m.u.publish.flags), 1);
	uint16_t pmid = T->f.out[0].m.u.publish.msg_id;

	/* Unacknowledged, it is retransmitted to the same node. */
	reset_out();
	T->now += 1000;
	broker_tick(T->b, T->now);
	assert_int_equal(T->f.n, 1);
	assert_true(to_node(&T->f.out[0], 1, "\x01"));
	assert_true(T->f.out[0].is_publish);
	assert_true(T->f.out[0].m.u.publish.flags & MQTTSN_FLAG_DUP);
	reset_out();
	struct mqttsn_msg pa = { .type = MQTTSN_PUBACK };
	pa.u.puback.topic_id = atid;
	pa.u.puback.msg_id = pmid;
	assert_int_equal(feed_node(1, "\x01", &pa), FO_FATE_DELIVERED);
	assert_int_equal(broker_inflight_count(T->b), 0);

	/* Node B publishes through the forwarder: node A gets it, the direct publisher's PUBACK-less
	 * QoS 0 is not echoed to B (it subscribed a/b but published on a/c). */
	reset_out();
	struct mqttsn_msg rg = { .type = MQTTSN_REGISTER };
	rg.u.reg.msg_id = 4;
	rg.u.reg.topic_name = (const uint8_t *)"a/c";
	rg.u.reg.topic_name_len = 3;
	assert_int_equal(feed_node(1, "\x02\x03", &rg), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	assert_true(to_node(&T->f.out[0], 1, "\x02\x03"));
	assert_int_equal(T->f.out[0].m.type, MQTTSN_REGACK);
	uint16_t ctid = T->f.out[0].m.u.regack.topic_id;
	reset_out();
	struct mqttsn_msg pb = { .type = MQTTSN_PUBLISH };
	pb.u.publish.flags = MQTTSN_TOPIC_NORMAL;
	pb.u.publish.topic_id = ctid;
	pb.u.publish.data = (const uint8_t *)"from-b";
	pb.u.publish.data_len = 6;
	assert_int_equal(feed_node(1, "\x02\x03", &pb), FO_FATE_DELIVERED);
	na = outs_to_node(1, "\x01", a, 8);
	assert_int_equal(na, 1); /* REGISTER of a/c first (wildcard) */
	assert_int_equal(a[0]->m.type, MQTTSN_REGISTER);
	assert_int_equal(outs_to_node(1, "\x02\x03", bn, 8), 0);

	/* PINGREQ and DISCONNECT are answered to the node; the other node's session stays. */
	reset_out();
	struct mqttsn_msg ping = { .type = MQTTSN_PINGREQ };
	assert_int_equal(feed_node(1, "\x02\x03", &ping), FO_FATE_ANSWERED);
	assert_int_equal(T->f.n, 1);
	assert_true(to_node(&T->f.out[0], 1, "\x02\x03"));
	assert_int_equal(T->f.out[0].m.type, MQTTSN_PINGRESP);
	reset_out();
	struct mqttsn_msg disc = { .type = MQTTSN_DISCONNECT };
	feed_node(1, "\x02\x03", &disc);
	assert_int_equal(T->f.n, 1);
	assert_true(to_node(&T->f.out[0], 1, "\x02\x03"));
	assert_int_equal(T->f.out[0].m.type, MQTTSN_DISCONNECT);
	assert_int_equal(broker_session_count(T->b), 3); /* A, the forwarder, the publisher */
	assert_true(has(1));
	assert_int_equal(EV(ENCAPSULATED_RX), 10);
}

/* What cannot be taken apart is refused, one fate per datagram: an Encapsulated message inside
 * another, an empty node id or one over BROKER_NODE_ID_MAX, a broken inner message; and a
 * CONNECT through a forwarder when the node id pool is full, answered to that node. */
static void test_forwarder_refusals(void **state)
{
	struct t *t = *state;
	t->cfg.max_forwarded_nodes = 1;
	start(t);
	struct mqttsn_msg c = { .type = MQTTSN_CONNECT };
	c.u.connect.flags = MQTTSN_FLAG_CLEAN;
	c.u.connect.protocol_id = MQTTSN_PROTOCOL_ID;
	c.u.connect.duration = 60;
	c.u.connect.client_id = (const uint8_t *)"n";
	c.u.connect.client_id_len = 1;
	uint8_t inner[64], buf[128];
	int n = mqttsn_encode(&c, inner, sizeof(inner));
	/* node 5's encapsulation inside node 6's */
	memcpy(buf, "\x04\xFE\x00\x06\x04\xFE\x00\x05", 8);
	memcpy(buf + 8, inner, (size_t)n);
	reset_out();
	assert_int_equal(feed_raw(cl(1), buf, (uint16_t)(8 + n)), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_ENCAP_NESTED);

	struct mqttsn_msg e = { .type = MQTTSN_ENCAPSULATED };
	int k;
	e.u.encap.inner = inner;
	e.u.encap.inner_len = (uint16_t)n;
	e.u.encap.node_id = (const uint8_t *)"0123456789abcdefg"; /* 17 bytes */
	e.u.encap.node_id_len = BROKER_NODE_ID_MAX + 1;
	k = mqttsn_encode(&e, buf, sizeof(buf));
	assert_int_equal(feed_raw(cl(1), buf, (uint16_t)k), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_NODE_ID_REFUSED);
	e.u.encap.node_id_len = 0;
	k = mqttsn_encode(&e, buf, sizeof(buf));
	assert_int_equal(feed_raw(cl(1), buf, (uint16_t)k), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_NODE_ID_REFUSED);

	/* A broken inner message (its length says one byte more than there is). */
	e.u.encap.node_id_len = 1;
	k = mqttsn_encode(&e, buf, sizeof(buf));
	assert_int_equal(feed_raw(cl(1), buf, (uint16_t)(k - 1)), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_MALFORMED);
	assert_int_equal(T->f.n, 0);
	assert_int_equal(broker_session_count(T->b), 0);
	assert_int_equal(EV(ENCAPSULATED_RX), 1); /* the outer one of the nested pair */
	;

	/* A 16-byte node id is fine; the pool holds one node, so a second node is refused. */
	node_connect_ok(1, "0123456789abcdef", "n16", MQTTSN_FLAG_CLEAN);
	reset_out();
	c.u.connect.client_id = (const uint8_t *)"other";
	c.u.connect.client_id_len = 5;
	assert_int_equal(feed_node(1, "\x07", &c), FO_FATE_ANSWERED);
	assert_int_equal(T->f.n, 1);
	assert_true(to_node(&T->f.out[0], 1, "\x07"));
	assert_int_equal(T->f.out[0].m.type, MQTTSN_CONNACK);
	assert_int_equal(T->f.out[0].m.u.connack.return_code, MQTTSN_RC_CONGESTION);
	assert_int_equal(EV(FORWARDED_NODES_FULL), 1);
	/* A direct client still connects. */
	connect_ok(2, "direct");
	assert_int_equal(broker_session_count(T->b), 2);
}

/* With address_proof, the proof REGISTER goes to the node through its forwarder, and only that
 * node's echo proves it: a node does not inherit the forwarder's (or another node's) proof. */
static void test_forwarder_node_proof(void **state)
{
	struct t *t = *state;
	t->cfg.max_forwarded_nodes = 4;
	t->cfg.address_proof = true;
	t->cfg.proof_timeout_ms = 5000;
	start(t);
	node_connect_ok(1, "\x01", "nodeA", MQTTSN_FLAG_CLEAN);
	reset_out();
	struct mqttsn_msg m = { .type = MQTTSN_SUBSCRIBE };
	m.u.subscribe.flags = MQTTSN_TOPIC_NORMAL;
	m.u.subscribe.msg_id = 9;
	m.u.subscribe.topic_name = (const uint8_t *)"a/b";
	m.u.subscribe.topic_name_len = 3;
	assert_int_equal(feed_node(1, "\x01", &m), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	assert_true(to_node(&T->f.out[0], 1, "\x01"));
	assert_true(is_proof_register(&T->f.out[0]));
	uint16_t ptid = T->f.out[0].m.u.reg.topic_id, pmid = T->f.out[0].m.u.reg.msg_id;

	/* The echo from the forwarder's own address, or another node, proves nothing for node A. */
	connect_ok(1, "forwarder");
	do_regack(1, ptid, pmid, MQTTSN_RC_ACCEPTED);
	node_connect_ok(1, "\x02", "nodeB", MQTTSN_FLAG_CLEAN);
	struct mqttsn_msg ra = { .type = MQTTSN_REGACK };
	ra.u.regack.topic_id = ptid;
	ra.u.regack.msg_id = pmid;
	ra.u.regack.return_code = MQTTSN_RC_ACCEPTED;
	feed_node(1, "\x02", &ra);
	assert_int_equal(EV(ADDRESS_PROVEN), 0);

	/* Node A's echo proves it: its held SUBACK follows, to node A. */
	reset_out();
	assert_int_equal(feed_node(1, "\x01", &ra), FO_FATE_DELIVERED);
	assert_int_equal(EV(ADDRESS_PROVEN), 1);
	struct out *a[4];
	assert_int_equal(outs_to_node(1, "\x01", a, 4), 1);
	assert_int_equal(a[0]->m.type, MQTTSN_SUBACK);
	assert_int_equal(T->f.n, 1);
}

/* Wills and sleeping clients behind a forwarder: the will prompts go to the node, a lost node's
 * will reaches a subscribing node, and copies buffered while a node sleeps go out to it, then
 * PINGRESP, when its PINGREQ with ClientId arrives through the forwarder. */
static void test_forwarder_will_and_sleep(void **state)
{
	struct t *t = *state;
	t->cfg.max_forwarded_nodes = 4;
	start_offline(t);
	node_connect_ok(1, "\x01", "sleepy", MQTTSN_FLAG_CLEAN);
	node_subscribe_ok(1, "\x01", 1, "s/t");
	node_subscribe_ok(1, "\x01", 0, "will/b");

	/* Node B with a will: WILLTOPICREQ, WILLMSGREQ and CONNACK go to node B. */
	reset_out();
	struct mqttsn_msg c = { .type = MQTTSN_CONNECT };
	c.u.connect.flags = MQTTSN_FLAG_CLEAN | MQTTSN_FLAG_WILL;
	c.u.connect.protocol_id = MQTTSN_PROTOCOL_ID;
	c.u.connect.duration = 60;
	c.u.connect.client_id = (const uint8_t *)"nodeB";
	c.u.connect.client_id_len = 5;
	assert_int_equal(feed_node(1, "\x02", &c), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	assert_true(to_node(&T->f.out[0], 1, "\x02"));
	assert_int_equal(T->f.out[0].m.type, MQTTSN_WILLTOPICREQ);
	reset_out();
	struct mqttsn_msg w = { .type = MQTTSN_WILLTOPIC };
	w.u.willtopic.topic = (const uint8_t *)"will/b";
	w.u.willtopic.topic_len = 6;
	assert_int_equal(feed_node(1, "\x02", &w), FO_FATE_DELIVERED);
	assert_true(T->f.n == 1 && to_node(&T->f.out[0], 1, "\x02"));
	assert_int_equal(T->f.out[0].m.type, MQTTSN_WILLMSGREQ);
	reset_out();
	struct mqttsn_msg wm = { .type = MQTTSN_WILLMSG };
	wm.u.willmsg.msg = (const uint8_t *)"b-gone";
	wm.u.willmsg.msg_len = 6;
	assert_int_equal(feed_node(1, "\x02", &wm), FO_FATE_DELIVERED);
	assert_true(T->f.n == 1 && to_node(&T->f.out[0], 1, "\x02"));
	assert_int_equal(T->f.out[0].m.type, MQTTSN_CONNACK);

	/* Node B falls silent, node A keeps alive: B's will reaches node A. */
	T->now += 91000;
	struct mqttsn_msg ping = { .type = MQTTSN_PINGREQ };
	reset_out();
	assert_int_equal(feed_node(1, "\x01", &ping), FO_FATE_ANSWERED);
	broker_tick(T->b, T->now);
	assert_int_equal(EV(WILL_PUBLISHED), 1);
	struct out *a[8];
	int na = outs_to_node(1, "\x01", a, 8);
	assert_int_equal(na, 2); /* PINGRESP, the will */
	assert_true(a[1]->is_publish);
	assert_memory_equal(a[1]->m.u.publish.data, "b-gone", 6);
	assert_int_equal(outs_to_node(1, "\x02", a, 8), 0);

	/* Node A sleeps; two copies are buffered, then flushed to it before its PINGRESP. */
	connect_ok(2, "pub");
	uint16_t id = reg_ok(2, "s/t");
	reset_out();
	struct mqttsn_msg d = { .type = MQTTSN_DISCONNECT };
	d.u.disconnect.has_duration = 1;
	d.u.disconnect.duration = 10;
	assert_int_equal(feed_node(1, "\x01", &d), FO_FATE_DELIVERED);
	assert_true(T->f.n == 1 && to_node(&T->f.out[0], 1, "\x01"));
	assert_int_equal(T->f.out[0].m.type, MQTTSN_DISCONNECT);
	assert_int_equal(state_of("sleepy"), SESSION_ASLEEP);
	reset_out();
	assert_int_equal(do_publish(2, 1, MQTTSN_TOPIC_NORMAL, id, 1, "z1"), FO_FATE_DELIVERED);
	assert_int_equal(do_publish(2, 0, MQTTSN_TOPIC_NORMAL, id, 0, "z2"), FO_FATE_DELIVERED);
	assert_int_equal(outs_to_node(1, "\x01", a, 8), 0);
	assert_int_equal(EV(DELIVERY_BUFFERED), 2);
	T->now += 5000;
	reset_out();
	struct mqttsn_msg pid = { .type = MQTTSN_PINGREQ };
	pid.u.pingreq.client_id = (const uint8_t *)"sleepy";
	pid.u.pingreq.client_id_len = 6;
	assert_int_equal(feed_node(1, "\x01", &pid), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 3);
	for (int k = 0; k < 3; k++)
		assert_true(to_node(&T->f.out[k], 1, "\x01"));
	assert_memory_equal(T->f.out[0].m.u.publish.data, "z1", 2);
	assert_memory_equal(T->f.out[1].m.u.publish.data, "z2", 2);
	assert_int_equal(T->f.out[2].m.type, MQTTSN_PINGRESP);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* ------------------------------------------------------------------ hand-over between workers */

/* A second engine beside T->b, on the same fake io (one payload account for both): another
 * worker of the same process. */
static struct broker *second_broker(struct fo_counters *c)
{
	const char *err = NULL;
	struct broker *b = broker_create(&T->cfg, &T->io, c, &err);
	assert_non_null(b);
	return b;
}

static enum fo_fate connect_on(struct broker *b, int i, const char *id, uint8_t flags, bool claimed)
{
	struct mqttsn_msg m = { .type = MQTTSN_CONNECT };
	m.u.connect.flags = flags;
	m.u.connect.protocol_id = MQTTSN_PROTOCOL_ID;
	m.u.connect.duration = 60;
	m.u.connect.client_id = (const uint8_t *)id;
	m.u.connect.client_id_len = (uint16_t)strlen(id);
	uint8_t buf[64];
	int n = mqttsn_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	struct fo_client from = cl(i);
	struct payload *p = &T->pl[T->n_pl++];
	memset(p, 0, sizeof(*p));
	memcpy(p->buf, buf, (size_t)n);
	if (claimed)
		broker_handle_claimed(b, &from, p->buf, (uint16_t)n, p, T->now, &T->res);
	else
		broker_handle(b, &from, p->buf, (uint16_t)n, p, T->now, &T->res);
	return T->res.fate;
}

static int g_elsewhere_calls;
static bool fake_elsewhere(void *ctx, const uint8_t *id, uint8_t len)
{
	(void)ctx;
	(void)id;
	(void)len;
	g_elsewhere_calls++;
	return true;
}

/* A CleanSession=0 session leaves worker A whole and worker B takes it at the client's new port
 * (NAT rebinding): the exact and wildcard subscriptions (QoS 1 and 2), the topic ids the client
 * knows (REGISTERed again on B before a copy goes under them: the reconnect), the will, the QoS 1
 * copy in flight (resent with DUP after that REGACK), the copies buffered while it was away
 * (delivered once, in order) and the QoS 2 MsgId awaiting PUBREL
 * (a resend is not delivered again). A's tables forget it; B fans out to it; every payload
 * reference is given back exactly once. */
static void test_handover_moves_whole_session(void **state)
{
	start_offline(*state);
	struct broker *A = T->b;
	struct fo_counters cb = { 0 };
	struct broker *B = second_broker(&cb);
	connect_will(1, "mover", 0, "last/will", 1, "bye");
	struct mqttsn_msg ax = sub_ok(1, 1, "a/b");
	sub_ok(1, 2, "w/+");
	uint16_t tid_ab = ax.u.suback.topic_id;
	connect_ok(2, "pub");
	uint16_t id_ab = reg_ok(2, "a/b");
	uint16_t id_wx = reg_ok(2, "w/x");
	/* A QoS 2 publish of the mover awaits its PUBREL. */
	uint16_t tid_own = reg_ok(1, "own/t");
	reset_out();
	assert_int_equal(do_publish(1, 2, MQTTSN_TOPIC_NORMAL, tid_own, 77, "mine"), FO_FATE_DELIVERED);
	/* One QoS 1 copy in flight (unacknowledged), then away: two copies buffered. */
	reset_out();
	assert_int_equal(do_publish(2, 1, MQTTSN_TOPIC_NORMAL, id_ab, 11, "first"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(1), 1);
	assert_int_equal(do_disconnect(1, 0), FO_FATE_DELIVERED);
	reset_out();
	assert_int_equal(do_publish(2, 1, MQTTSN_TOPIC_NORMAL, id_ab, 12, "second"), FO_FATE_DELIVERED);
	assert_int_equal(do_publish(2, 2, MQTTSN_TOPIC_NORMAL, id_wx, 13, "third"), FO_FATE_DELIVERED);
	assert_int_equal(EV(DELIVERY_BUFFERED), 2);

	uint32_t need = broker_session_export_size(A, (const uint8_t *)"mover", 5);
	assert_true(need > 0);
	uint8_t small[16];
	assert_int_equal(broker_session_export(A, (const uint8_t *)"mover", 5, small, sizeof(small)), -1);
	assert_int_equal(state_of("mover"), SESSION_DISCONNECTED); /* too small: nothing changed */
	uint8_t buf[4096];
	int32_t len = broker_session_export(A, (const uint8_t *)"mover", 5, buf, sizeof(buf));
	assert_true(len > 0 && (uint32_t)len <= need);
	assert_int_equal(state_of("mover"), -1);
	assert_int_equal(broker_will_count(A), 0);
	assert_int_equal(broker_inflight_count(A), 0);
	assert_int_equal(broker_held_count(A), 0);
	assert_int_equal(broker_subscription_count(A), 0); /* the publisher subscribed to nothing */
	assert_int_equal(EV(HANDOVER_OUT), 1);
	/* A publish A accepts now reaches nobody there. */
	reset_out();
	assert_int_equal(do_publish(2, 1, MQTTSN_TOPIC_NORMAL, id_ab, 14, "gone"), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(1), 0);

	struct fo_client nb = cl(101); /* the same IP from another port */
	assert_int_equal(broker_session_import(B, buf, (uint32_t)len, &nb), 0);
	assert_int_equal(broker_client_state(B, (const uint8_t *)"mover", 5), SESSION_DISCONNECTED);
	assert_int_equal(broker_subscription_count(B), 2);
	assert_int_equal(broker_inflight_count(B), 1);
	assert_int_equal(broker_held_count(B), 2);
	assert_int_equal(broker_will_count(B), 1);
	assert_int_equal(cb.ev[FO_EV_HANDOVER_STATE_DROPPED], 0);

	/* The CONNECT the hand-over parked: CONNACK, then the REGISTER of a/b under the id it knew on
	 * A (a CleanSession=0 reconnect: it may have lost its table, spec 6.10), which the copy in
	 * flight waits for, and the REGISTER of w/x (it never had its id) for the copy buffered. */
	reset_out();
	assert_int_equal(connect_on(B, 101, "mover", 0, true), FO_FATE_DELIVERED);
	struct out *o[16];
	int n = outs_to(101, o, 16);
	assert_int_equal(n, 3);
	assert_int_equal(o[0]->m.type, MQTTSN_CONNACK);
	assert_int_equal(o[0]->m.u.connack.return_code, MQTTSN_RC_ACCEPTED);
	assert_int_equal(o[1]->m.type, MQTTSN_REGISTER);
	assert_int_equal(o[1]->m.u.reg.topic_id, tid_ab); /* the id it knew on A */
	assert_memory_equal(o[1]->m.u.reg.topic_name, "a/b", 3);
	assert_int_equal(o[2]->m.type, MQTTSN_REGISTER);
	assert_memory_equal(o[2]->m.u.reg.topic_name, "w/x", 3);
	assert_int_equal(cb.ev[FO_EV_SESSION_RESUMED], 1);
	assert_int_equal(cb.ev[FO_EV_REGISTER_SENT], 2);
	T->b = B;
	uint16_t atid = o[1]->m.u.reg.topic_id, amid = o[1]->m.u.reg.msg_id;
	uint16_t rtid = o[2]->m.u.reg.topic_id, rmid = o[2]->m.u.reg.msg_id;
	/* a/b's REGACK: the copy in flight again (DUP, same MsgId), then the buffered one. */
	reset_out();
	assert_int_equal(do_regack(101, atid, amid, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	n = outs_to(101, o, 16);
	assert_int_equal(n, 2);
	assert_true(o[0]->is_publish);
	assert_true(o[0]->m.u.publish.flags & MQTTSN_FLAG_DUP);
	assert_int_equal(o[0]->m.u.publish.topic_id, tid_ab);
	assert_memory_equal(o[0]->m.u.publish.data, "first", 5);
	assert_true(o[1]->is_publish);
	assert_int_equal(o[1]->m.u.publish.topic_id, tid_ab);
	assert_memory_equal(o[1]->m.u.publish.data, "second", 6);
	reset_out();
	assert_int_equal(do_regack(101, rtid, rmid, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(publishes_to(101), 1);
	assert_memory_equal(last_publish_to(101)->m.u.publish.data, "third", 5);
	assert_int_equal(mqttsn_flags_qos(last_publish_to(101)->m.u.publish.flags), 2);

	/* Its QoS 2 MsgId still awaits PUBREL: a resend is answered, not delivered again. */
	reset_out();
	uint8_t f2 = (uint8_t)(MQTTSN_FLAG_QOS2 | MQTTSN_FLAG_DUP);
	assert_int_equal(publish_flags(101, f2, tid_own, 77, "mine"), FO_FATE_ANSWERED);
	assert_false(T->res.published);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_PUBREC);
	reset_out();
	assert_int_equal(do_pubx(101, MQTTSN_PUBREL, 77), FO_FATE_DELIVERED);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_PUBCOMP);

	/* Another worker's publish reaches it on B exactly once, and not when excepted (its old
	 * worker delivered that one into the state already). */
	struct payload *pp = &T->pl[T->n_pl++];
	memset(pp, 0, sizeof(*pp));
	memcpy(pp->buf, "peer", 4);
	pp->view = pp->buf;
	pp->view_len = 4;
	pp->binds = 1;
	reset_out();
	assert_int_equal(broker_fanout(B, (const uint8_t *)"w/y", 3, 0, pp, 4, T->now), 0); /* waits for REGACK */
	assert_int_equal(broker_fanout(B, (const uint8_t *)"a/b", 3, 0, pp, 4, T->now), 1);
	const uint8_t *ex[1] = { (const uint8_t *)"mover" };
	const uint8_t exl[1] = { 5 };
	assert_int_equal(broker_fanout_except(B, (const uint8_t *)"a/b", 3, 0, pp, 4, T->now, ex, exl, 1), 0);
	const uint8_t *other[1] = { (const uint8_t *)"nobody" };
	const uint8_t otherl[1] = { 6 };
	assert_int_equal(broker_fanout_except(B, (const uint8_t *)"a/b", 3, 0, pp, 4, T->now, other, otherl, 1), 1);

	/* Its will went along: lost on B, B publishes it. */
	broker_tick(B, T->now + 200000);
	assert_int_equal(T->f.originated, 1);
	assert_string_equal(T->f.orig_topic, "last/will");
	assert_string_equal(T->f.orig_client, "mover");
	T->b = A;
	broker_destroy(B);
}

/* What a claim finds on the worker holding the ClientId: nothing, a live proven client at
 * another IP (kept there unless an admission rule binds the id), a clean CONNECT (ended there,
 * spec 6.3), or a session to hand over. */
static void test_handover_claim_rules(void **state)
{
	start_offline(*state);
	assert_int_equal(broker_claim(T->b, (const uint8_t *)"x", 1, false, false, cl(1).ip, false), BROKER_CLAIM_NONE);
	reset_out();
	assert_int_equal(do_connect(1, "keep", 0, 60), FO_FATE_DELIVERED);
	sub_ok(1, 1, "k/1");
	assert_int_equal(broker_claim(T->b, (const uint8_t *)"keep", 4, false, false, cl(2).ip, false),
			 BROKER_CLAIM_OWNED);
	assert_int_equal(broker_claim(T->b, (const uint8_t *)"keep", 4, false, false, cl(101).ip, false),
			 BROKER_CLAIM_HELD);
	assert_int_equal(broker_claim(T->b, (const uint8_t *)"keep", 4, false, false, cl(2).ip, true),
			 BROKER_CLAIM_HELD);
	assert_int_equal(state_of("keep"), SESSION_ACTIVE);
	assert_int_equal(broker_claim(T->b, (const uint8_t *)"keep", 4, true, false, cl(101).ip, false),
			 BROKER_CLAIM_ENDED);
	assert_int_equal(state_of("keep"), -1);
	assert_int_equal(broker_subscription_count(T->b), 0);
	assert_int_equal(EV(HANDOVER_ENDED), 1);
	assert_int_equal(broker_session_export(T->b, (const uint8_t *)"keep", 4, (uint8_t[64]){ 0 }, 64), 0);
}

/* A CONNECT for a ClientId this worker does not hold, which another worker may hold, is parked
 * (no reply, no fate) and answered when handed back; one for a ClientId held here is not. */
static void test_handover_connect_parked(void **state)
{
	struct t *t = *state;
	start_offline(t);
	t->io.connect_elsewhere = fake_elsewhere;
	broker_destroy(t->b);
	const char *err = NULL;
	t->b = broker_create(&t->cfg, &t->io, &t->c, &err);
	assert_non_null(t->b);
	g_elsewhere_calls = 0;
	reset_out();
	connect_on(t->b, 1, "far", 0, false);
	assert_true(T->res.handover);
	assert_false(T->res.handover_clean);
	assert_int_equal(T->res.client_id_len, 3);
	assert_int_equal(T->f.n, 0);
	assert_int_equal(g_elsewhere_calls, 1);
	assert_int_equal(T->c.mqttsn_rx_type[MQTTSN_CONNECT], 1);
	assert_int_equal(connect_on(t->b, 1, "far", MQTTSN_FLAG_CLEAN, true), FO_FATE_DELIVERED);
	assert_false(T->res.handover);
	assert_int_equal(T->c.mqttsn_rx_type[MQTTSN_CONNECT], 1); /* one CONNECT, counted once */
	assert_int_equal(T->f.out[0].m.type, MQTTSN_CONNACK);
	assert_int_equal(g_elsewhere_calls, 1);
	reset_out();
	assert_int_equal(connect_on(t->b, 1, "far", 0, false), FO_FATE_DELIVERED); /* held here */
	assert_int_equal(g_elsewhere_calls, 1);
}

/* A state that is torn, not ours, or for a ClientId already live here is not taken: a torn or
 * foreign one is not read at all, a duplicate's payloads are given back (the session here stays:
 * two live sessions of one ClientId never both survive). */
static void test_handover_import_refusals(void **state)
{
	start_offline(*state);
	struct broker *A = T->b;
	struct fo_counters cb = { 0 };
	struct broker *B = second_broker(&cb);
	reset_out();
	assert_int_equal(do_connect(1, "dup", 0, 60), FO_FATE_DELIVERED);
	sub_ok(1, 1, "d/1");
	connect_ok(2, "pub");
	uint16_t id = reg_ok(2, "d/1");
	assert_int_equal(do_disconnect(1, 0), FO_FATE_DELIVERED);
	assert_int_equal(do_publish(2, 1, MQTTSN_TOPIC_NORMAL, id, 3, "held"), FO_FATE_DELIVERED);
	uint8_t buf[2048];
	int32_t len = broker_session_export(A, (const uint8_t *)"dup", 3, buf, sizeof(buf));
	assert_true(len > 0);
	struct fo_client nb = cl(101);
	assert_int_equal(broker_session_import(B, buf, (uint32_t)len - 1, &nb), -1); /* length mismatch */
	uint8_t bad[2048];
	memcpy(bad, buf, (size_t)len);
	bad[0] ^= 0xff;
	assert_int_equal(broker_session_import(B, bad, (uint32_t)len, &nb), -1);
	assert_int_equal(broker_session_count(B), 0);
	/* B already has a live "dup" (it connected there in the meantime): the state is refused. */
	T->b = B;
	reset_out();
	assert_int_equal(do_connect(3, "dup", 0, 60), FO_FATE_DELIVERED);
	long rel = T->f.releases;
	assert_int_equal(broker_session_import(B, buf, (uint32_t)len, &nb), -1);
	assert_int_equal(cb.ev[FO_EV_HANDOVER_DUPLICATE], 1);
	assert_int_equal(T->f.releases, rel + 1); /* the buffered copy's payload */
	assert_int_equal(broker_session_count(B), 1);
	T->b = A;
	broker_destroy(B);
}

/* ------------------------------------------------------------------ a sleeping client waking from a new address */

/* Spec 6.14 behind NAT: the client's binding changed while it slept. Address proof on, as by
 * default. */
static void start_wake(struct t *t)
{
	t->cfg.address_proof = true;
	t->cfg.proof_timeout_ms = 5000;
	start_offline(t);
}

/* "sleepy" (CleanSession=0) at client 1, subscribed to s/t at QoS 1 and proven, asleep for 10 s;
 * "pub" at client 2 has published c1, c2, c3 at QoS 1 since: buffered. Returns the subscription's
 * topic id. */
static uint16_t asleep_with_copies(void)
{
	reset_out();
	assert_int_equal(do_connect(1, "sleepy", 0, 60), FO_FATE_DELIVERED);
	uint16_t tid = sub_proven(1, 1, "s/t").u.suback.topic_id;
	connect_ok(2, "pub");
	uint16_t id = reg_ok(2, "s/t");
	assert_int_equal(do_disconnect(1, 10), FO_FATE_DELIVERED);
	const char *msgs[] = { "c1", "c2", "c3" };
	for (int k = 0; k < 3; k++)
		assert_int_equal(do_publish(2, 1, MQTTSN_TOPIC_NORMAL, id, (uint16_t)(k + 1), msgs[k]),
				 FO_FATE_DELIVERED);
	assert_int_equal(EV(DELIVERY_BUFFERED), 3);
	assert_int_equal(state_of("sleepy"), SESSION_ASLEEP);
	reset_out();
	return tid;
}

/* What client i got since the last reset: c1, c2, c3 in order (QoS 1, the subscription's topic
 * id), then PINGRESP, and nothing else. */
static void assert_flushed_then_pingresp(int i, uint16_t tid)
{
	struct out *o[8];
	assert_int_equal(outs_to(i, o, 8), 4);
	const char *msgs[] = { "c1", "c2", "c3" };
	for (int k = 0; k < 3; k++) {
		assert_true(o[k]->is_publish);
		assert_int_equal(o[k]->m.u.publish.topic_id, tid);
		assert_int_equal(mqttsn_flags_qos(o[k]->m.u.publish.flags), 1);
		assert_memory_equal(o[k]->m.u.publish.data, msgs[k], 2);
	}
	assert_int_equal(o[3]->m.type, MQTTSN_PINGRESP);
	assert_int_equal(T->f.n, 4);
}

static enum fo_fate pingreq_on(struct broker *b, int i, const char *id, bool claimed)
{
	struct mqttsn_msg m = { .type = MQTTSN_PINGREQ };
	m.u.pingreq.client_id = (const uint8_t *)id;
	m.u.pingreq.client_id_len = (uint16_t)strlen(id);
	uint8_t buf[64];
	int n = mqttsn_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	struct fo_client from = cl(i);
	struct payload *p = &T->pl[T->n_pl++];
	memset(p, 0, sizeof(*p));
	memcpy(p->buf, buf, (size_t)n);
	if (claimed)
		broker_handle_claimed(b, &from, p->buf, (uint16_t)n, p, T->now, &T->res);
	else
		broker_handle(b, &from, p->buf, (uint16_t)n, p, T->now, &T->res);
	return T->res.fate;
}

/* The wake-up PINGREQ comes from a new port of the same IP (NAT rebinding) on the same worker: the
 * session moves there, the proof REGISTER answers the PINGREQ (one reply, nothing flushed to the
 * unproven address; a resent PINGREQ gets the same proof), and the echo lets the buffered copies
 * out in order, then PINGRESP. The client is asleep again with its sleep timer restarted. */
static void test_wake_rebind_same_worker(void **state)
{
	start_wake(*state);
	uint16_t tid = asleep_with_copies();
	T->now += 5000;
	assert_int_equal(do_pingreq_id(101, "sleepy"), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	assert_true(is_proof_register(&T->f.out[0]));
	struct proof p = proof_to(101);
	assert_true(has(101));
	assert_false(has(1));
	assert_int_equal(state_of("sleepy"), SESSION_AWAKE);
	assert_int_equal(EV(SESSION_WAKE_MOVED), 1);
	assert_int_equal(EV(SESSION_AWAKE), 1);
	assert_int_equal(broker_held_count(T->b), 3);
	reset_out();
	assert_int_equal(do_pingreq_id(101, "sleepy"), FO_FATE_DELIVERED); /* its retry */
	assert_int_equal(T->f.n, 1);
	struct proof again = proof_to(101);
	assert_true(again.mid == p.mid && again.tid == p.tid);
	assert_int_equal(EV(SESSION_WAKE_MOVED), 1);
	reset_out();
	assert_int_equal(do_regack(101, p.tid, p.mid, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_flushed_then_pingresp(101, tid);
	assert_int_equal(state_of("sleepy"), SESSION_ASLEEP);
	assert_int_equal(broker_held_count(T->b), 0);
	assert_int_equal(EV(NOT_CONNECTED), 0);
	assert_int_equal(EV(WAKE_REFUSED), 0);
	for (int k = 0; k < 3; k++)
		assert_int_equal(do_puback(101, tid, T->f.out[k].m.u.publish.msg_id, MQTTSN_RC_ACCEPTED),
				 FO_FATE_DELIVERED);
	assert_int_equal(broker_inflight_count(T->b), 0);
	/* Asleep again at the new address, its timer restarted at the PINGRESP (10 s + 50 %). */
	T->now += 14900;
	broker_tick(T->b, T->now);
	assert_int_equal(state_of("sleepy"), SESSION_ASLEEP);
	T->now += 200;
	broker_tick(T->b, T->now);
	assert_int_equal(state_of("sleepy"), SESSION_DISCONNECTED); /* lost, kept: CleanSession=0 */
	assert_int_equal(EV(SESSION_SLEEP_LOST), 1);
}

/* A spoofed wake-up PINGREQ with the sleeper's ClientId gets no buffered copy: from another port
 * of its IP it moves the session, but only the proof REGISTER goes there and a wrong echo proves
 * nothing; the real client's own PINGREQ takes it back, and its echo gets the copies. From another
 * IP the proven session stays where it is (as a CONNECT from there would be refused), and the
 * PINGREQ is answered as from an unknown client. */
static void test_wake_spoof_without_proof(void **state)
{
	start_wake(*state);
	uint16_t tid = asleep_with_copies();
	T->now += 1000;
	assert_int_equal(do_pingreq_id(3, "sleepy"), FO_FATE_ANSWERED); /* another IP */
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_DISCONNECT);
	assert_true(T->res.error_reply);
	assert_int_equal(EV(WAKE_REFUSED), 1);
	assert_int_equal(EV(NOT_CONNECTED), 1);
	assert_true(has(1));
	assert_false(has(3));
	assert_int_equal(state_of("sleepy"), SESSION_ASLEEP);

	reset_out();
	assert_int_equal(do_pingreq_id(101, "sleepy"), FO_FATE_DELIVERED); /* same IP, forged port */
	assert_int_equal(T->f.n, 1);
	struct proof p = proof_to(101);
	assert_int_equal(publishes_to(101), 0);
	assert_int_equal(do_regack(101, (uint16_t)(p.tid ^ 1), p.mid, MQTTSN_RC_ACCEPTED), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_UNPROVEN);
	assert_int_equal(do_regack(101, p.tid, (uint16_t)(p.mid ^ 1), MQTTSN_RC_ACCEPTED), FO_FATE_DROPPED);
	assert_int_equal(publishes_to(101), 0);
	assert_int_equal(broker_held_count(T->b), 3);
	assert_int_equal(EV(PROOF_MISMATCH), 2);

	/* The real client wakes from where it slept: the session comes back, proves, gets it all. */
	T->now += 1000;
	reset_out();
	assert_int_equal(do_pingreq_id(1, "sleepy"), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	struct proof q = proof_to(1);
	assert_true(has(1));
	assert_false(has(101));
	assert_int_equal(EV(SESSION_WAKE_MOVED), 2);
	reset_out();
	assert_int_equal(do_regack(1, q.tid, q.mid, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_flushed_then_pingresp(1, tid);
	/* The forger's echo of its own proof comes too late to prove anything: no session there. */
	reset_out();
	assert_int_equal(do_regack(101, p.tid, p.mid, MQTTSN_RC_ACCEPTED), FO_FATE_DROPPED);
	assert_int_equal(T->res.drop, FO_DROP_MQTTSN_NOT_CONNECTED);
	assert_int_equal(T->f.n, 0);
	assert_int_equal(state_of("sleepy"), SESSION_ASLEEP);
}

/* The sleeper's session lives on another worker (A); its PINGREQ from a new port comes to B: B
 * parks it (no reply, no fate), A hands the session over only for a sleeping client and by the
 * rules a CONNECT would meet, B imports it at the new address and handles the PINGREQ: proof
 * first, then the copies buffered on A, in order, then PINGRESP, asleep again on B. */
static void test_wake_claim_from_other_worker(void **state)
{
	start_wake(*state);
	struct broker *A = T->b;
	uint16_t tid = asleep_with_copies();
	struct fo_counters cb = { 0 };
	struct broker_io io = T->io;
	io.connect_elsewhere = fake_elsewhere;
	const char *err = NULL;
	struct broker *B = broker_create(&T->cfg, &io, &cb, &err);
	assert_non_null(B);
	g_elsewhere_calls = 0;

	T->now += 3000;
	reset_out();
	pingreq_on(B, 101, "sleepy", false);
	assert_true(T->res.handover);
	assert_true(T->res.handover_wake);
	assert_false(T->res.handover_clean);
	assert_int_equal(T->res.client_id_len, 6);
	assert_int_equal(T->f.n, 0);
	assert_int_equal(g_elsewhere_calls, 1);
	assert_int_equal(cb.mqttsn_rx_type[MQTTSN_PINGREQ], 1);

	/* A decides as it would for a PINGREQ on its own worker. */
	const uint8_t *id = (const uint8_t *)"sleepy";
	assert_int_equal(broker_claim(A, id, 6, false, true, cl(3).ip, false), BROKER_CLAIM_OWNED);
	assert_int_equal(broker_claim(A, id, 6, false, true, cl(3).ip, true), BROKER_CLAIM_HELD);
	assert_int_equal(broker_claim(A, (const uint8_t *)"pub", 3, false, true, cl(102).ip, false),
			 BROKER_CLAIM_NONE); /* active: not a sleeping client */
	assert_int_equal(broker_claim(A, (const uint8_t *)"nobody", 6, false, true, cl(101).ip, false),
			 BROKER_CLAIM_NONE);
	assert_int_equal(state_of("sleepy"), SESSION_ASLEEP); /* none of these changed it */
	assert_int_equal(broker_claim(A, id, 6, false, true, cl(101).ip, false), BROKER_CLAIM_HELD);
	uint8_t buf[4096];
	int32_t len = broker_session_export(A, id, 6, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(state_of("sleepy"), -1);
	struct fo_client nb = cl(101);
	assert_int_equal(broker_session_import(B, buf, (uint32_t)len, &nb), 0);
	assert_int_equal(broker_client_state(B, id, 6), SESSION_ASLEEP);
	assert_int_equal(broker_held_count(B), 3);

	reset_out();
	assert_int_equal(pingreq_on(B, 101, "sleepy", true), FO_FATE_DELIVERED);
	assert_false(T->res.handover);
	assert_int_equal(cb.mqttsn_rx_type[MQTTSN_PINGREQ], 1); /* one PINGREQ, counted once */
	assert_int_equal(T->f.n, 1);
	struct proof p = proof_to(101);
	assert_int_equal(cb.ev[FO_EV_SESSION_WAKE_MOVED], 1);
	assert_int_equal(broker_client_state(B, id, 6), SESSION_AWAKE);
	T->b = B;
	reset_out();
	assert_int_equal(do_regack(101, p.tid, p.mid, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_flushed_then_pingresp(101, tid);
	assert_int_equal(state_of("sleepy"), SESSION_ASLEEP);
	assert_int_equal(broker_held_count(B), 0);
	assert_int_equal(g_elsewhere_calls, 1);
	T->b = A;
	broker_destroy(B);
}

/* Ids a CleanSession=0 reconnect kept and the client has not had REGISTERed again yet travel as
 * such with the session: here the client reconnected on A (the copy in flight waits for the
 * REGISTER of its id, left unanswered), fell asleep, and wakes on B. Waking is no reconnect (the
 * client kept its table), but these ids are still to be REGISTERed: the REGISTER first, then after
 * its REGACK the copy in flight (DUP) and the one buffered meanwhile, then PINGRESP. */
static void test_handover_carries_ids_to_register(void **state)
{
	start_offline(*state);
	struct broker *A = T->b;
	struct fo_counters cb = { 0 };
	struct broker *B = second_broker(&cb);
	reset_out();
	assert_int_equal(do_connect(1, "mover", 0, 60), FO_FATE_DELIVERED);
	uint16_t tid = sub_ok(1, 1, "a/b").u.suback.topic_id;
	connect_ok(2, "pub");
	uint16_t id = reg_ok(2, "a/b");
	reset_out();
	assert_int_equal(do_publish(2, 1, MQTTSN_TOPIC_NORMAL, id, 1, "inflight"), FO_FATE_DELIVERED);
	uint16_t mid = last_publish_to(1)->m.u.publish.msg_id;
	reset_out();
	assert_int_equal(do_connect(1, "mover", 0, 60), FO_FATE_DELIVERED); /* restarted, same address */
	assert_int_equal(T->f.n, 2);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_CONNACK);
	assert_int_equal(T->f.out[1].m.type, MQTTSN_REGISTER);
	assert_int_equal(T->f.out[1].m.u.reg.topic_id, tid);
	assert_int_equal(do_disconnect(1, 30), FO_FATE_DELIVERED); /* asleep, the REGISTER unanswered */
	assert_int_equal(do_publish(2, 1, MQTTSN_TOPIC_NORMAL, id, 2, "asleep"), FO_FATE_DELIVERED);
	assert_int_equal(EV(DELIVERY_BUFFERED), 1);

	uint8_t buf[4096];
	int32_t len = broker_session_export(A, (const uint8_t *)"mover", 5, buf, sizeof(buf));
	assert_true(len > 0);
	struct fo_client nb = cl(101);
	assert_int_equal(broker_session_import(B, buf, (uint32_t)len, &nb), 0);
	assert_int_equal(broker_inflight_count(B), 1);
	assert_int_equal(broker_held_count(B), 1);
	T->b = B;
	reset_out();
	assert_int_equal(pingreq_on(B, 101, "mover", true), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 1);
	struct mqttsn_msg r = T->f.out[0].m;
	assert_int_equal(r.type, MQTTSN_REGISTER);
	assert_int_equal(r.u.reg.topic_id, tid);
	assert_memory_equal(r.u.reg.topic_name, "a/b", 3);
	assert_int_equal(state_of("mover"), SESSION_AWAKE); /* until what waits for the REGACK is out */
	reset_out();
	assert_int_equal(do_regack(101, r.u.reg.topic_id, r.u.reg.msg_id, MQTTSN_RC_ACCEPTED), FO_FATE_DELIVERED);
	assert_int_equal(T->f.n, 3);
	assert_true(T->f.out[0].is_publish);
	assert_true(T->f.out[0].m.u.publish.flags & MQTTSN_FLAG_DUP);
	assert_int_equal(T->f.out[0].m.u.publish.msg_id, mid);
	assert_int_equal(T->f.out[0].m.u.publish.topic_id, tid);
	assert_true(T->f.out[1].is_publish);
	assert_memory_equal(T->f.out[1].m.u.publish.data, "asleep", 6);
	assert_int_equal(T->f.out[1].m.u.publish.topic_id, tid);
	assert_int_equal(T->f.out[2].m.type, MQTTSN_PINGRESP);
	assert_int_equal(state_of("mover"), SESSION_ASLEEP);
	T->b = A;
	broker_destroy(B);
}

/* A PINGREQ with a ClientId nobody sleeps under, from an address without a session, is answered as
 * before: DISCONNECT (an error reply, counted not_connected), on one worker, after a claim that
 * found nothing, and when the ClientId is an active client's. */
static void test_wake_unknown_client_id(void **state)
{
	struct t *t = *state;
	start_wake(t);
	reset_out();
	assert_int_equal(do_pingreq_id(5, "ghost"), FO_FATE_ANSWERED);
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_DISCONNECT);
	assert_true(T->res.error_reply);
	assert_int_equal(EV(NOT_CONNECTED), 1);
	assert_false(has(5));
	connect_ok(1, "live");
	reset_out();
	assert_int_equal(do_pingreq_id(101, "live"), FO_FATE_ANSWERED);
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_DISCONNECT);
	assert_int_equal(EV(NOT_CONNECTED), 2);
	assert_true(has(1));
	assert_false(has(101));

	/* With other workers: claimed first, then answered the same when nobody had it. */
	struct broker_io io = T->io;
	io.connect_elsewhere = fake_elsewhere;
	struct fo_counters cb = { 0 };
	const char *err = NULL;
	struct broker *B = broker_create(&T->cfg, &io, &cb, &err);
	assert_non_null(B);
	reset_out();
	pingreq_on(B, 6, "ghost", false);
	assert_true(T->res.handover && T->res.handover_wake);
	assert_int_equal(T->f.n, 0);
	assert_int_equal(pingreq_on(B, 6, "ghost", true), FO_FATE_ANSWERED);
	assert_int_equal(T->f.n, 1);
	assert_int_equal(T->f.out[0].m.type, MQTTSN_DISCONNECT);
	assert_int_equal(cb.ev[FO_EV_NOT_CONNECTED], 1);
	assert_int_equal(cb.mqttsn_rx_type[MQTTSN_PINGREQ], 1);
	assert_int_equal(EV(SESSION_WAKE_MOVED) + cb.ev[FO_EV_SESSION_WAKE_MOVED], 0);
	assert_int_equal(EV(WAKE_REFUSED) + cb.ev[FO_EV_WAKE_REFUSED], 0);
	broker_destroy(B);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_create_rejects_bad_config),
		TEST(test_connect_long_client_id_refused),
		TEST(test_retained_messages),
		TEST(test_retained_after_proof),
		TEST(test_qos2_inbound_exactly_once),
		TEST(test_qos2_outbound),
		TEST(test_clean0_disconnect_keeps_session),
		TEST(test_handover_moves_whole_session),
		TEST(test_handover_claim_rules),
		TEST(test_handover_connect_parked),
		TEST(test_handover_import_refusals),
		TEST(test_wake_rebind_same_worker),
		TEST(test_wake_spoof_without_proof),
		TEST(test_wake_claim_from_other_worker),
		TEST(test_handover_carries_ids_to_register),
		TEST(test_wake_unknown_client_id),
		TEST(test_clean0_resume_registers_and_resends),
		TEST(test_clean0_resume_announces_kept_ids),
		TEST(test_clean0_resume_kept_id_rejected),
		TEST(test_sleeping_client_buffer_and_wake),
		TEST(test_awake_waits_for_regack_then_pingresp),
		TEST(test_will_published_on_loss_not_on_disconnect),
		TEST(test_will_clean_combinations_and_updates),
		TEST(test_clean0_lost_session_kept),
		TEST(test_sleep_duration_changed_then_plain_disconnect),
		TEST(test_supervision_tolerance_by_duration),
		TEST(test_will_published_when_sleeping_client_lost),
		TEST(test_will_overwritten_and_updated_independently),
		TEST(test_unsubscribe_predefined_and_short),
		TEST(test_unused_fields_ignored),
		TEST(test_will_retain_flag_and_kept_over_disconnect),
		TEST(test_unused_will_and_unsubscribe_flags_ignored),
		TEST(test_create_counts_predefined_topics),
		TEST(test_searchgw_answered_with_gwinfo),
		TEST(test_unknown_client_gets_disconnect),
		TEST(test_reply_failure_is_a_named_drop),
		TEST(test_connect_accepted_and_will_rejected),
		TEST(test_connect_table_full_is_congestion),
		TEST(test_clean_session_drops_state_on_reconnect),
		TEST(test_persistent_session_kept_and_moved),
		TEST(test_ipv6_clients),
		TEST(test_clean_connect_from_new_address_replaces),
		TEST(test_register_same_name_same_id_own_maps),
		TEST(test_register_invalid_and_full),
		TEST(test_publish_qos1_puback_after_fanout),
		TEST(test_publish_qos1_dup_resend),
		TEST(test_publish_qos0_no_match_and_qos2),
		TEST(test_publish_predefined_and_short),
		TEST(test_predefined_by_client_generation),
		TEST(test_predefined_split_without_rules),
		TEST(test_publish_qos_m1_without_session),
		TEST(test_subscribe_kinds_and_grants),
		TEST(test_subscribe_table_full_is_congestion),
		TEST(test_unsubscribe_stops_delivery),
		TEST(test_fanout_dedup_overlapping_subscriptions),
		TEST(test_publisher_gets_own_message_when_subscribed),
		TEST(test_wildcard_copy_waits_for_regack_qos0),
		TEST(test_wildcard_copy_waits_for_regack_qos1),
		TEST(test_regack_rejected_refuses_topic),
		TEST(test_refusal_cleared_by_unsubscribe_exact_subscribe_and_session_end),
		TEST(test_held_copies_bounded_and_released),
		TEST(test_refusals_bounded_per_session),
		TEST(test_held_copy_not_sent_to_unproven_address),
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
		TEST(test_proof_holds_suback_and_deliveries_until_echo),
		TEST(test_proof_mismatches_end_session),
		TEST(test_proof_values_differ_and_unanswered_proof_expires),
		TEST(test_proof_unproven_address_no_amplification),
		TEST(test_resumed_session_waits_for_proof),
		TEST(test_proven_client_id_kept_by_owner),
		TEST(test_admission_rule_binds_and_allows_takeover),
		TEST(test_unproven_client_id_taken_over_clean),
		TEST(test_admission_unlisted_rejected),
		TEST(test_admission_first_rule_decides),
		TEST(test_admission_ipv6_prefixes),
		TEST(test_admission_from_client_config),
		TEST(test_predefined_uniform_view),
		TEST(test_searchgw_answered_through_broadcast),
		TEST(test_keepalive_bounds),
		TEST(test_keepalive_zero_allowed_when_not_refused),
		TEST(test_sessions_per_source_quota),
		TEST(test_sessions_per_source_quota_on_takeover),
		TEST(test_topics_per_session_quota),
		TEST(test_subscription_wildcard_depth_quotas),
		TEST(test_full_table_evicts_unproven),
		TEST(test_full_table_of_proven_refuses),
		TEST(test_full_registry_evicts_unproven_holder),
		TEST(test_unknown_client_acks_not_answered),
		TEST(test_error_replies_rate_limited_per_source),
		TEST(test_unacked_subscriber_paused_until_it_speaks),
		TEST(test_paused_session_copies_in_flight_held),
		TEST(test_answered_register_race_does_not_pause),
		TEST(test_lost_register_registers_again_after_pause),
		TEST(test_resumed_session_gets_held_copy_before_giveup),
		TEST(test_giveups_in_a_row_end_session),
		TEST(test_paused_silent_session_ended),
		TEST(test_forwarder_two_nodes),
		TEST(test_forwarder_refusals),
		TEST(test_forwarder_node_proof),
		TEST(test_forwarder_will_and_sleep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
