/* Unit tests for the broker engine's tables: dataplane/mqttsn/topic_registry.c,
 * dataplane/mqttsn/mqttsn_session.c (sessions + client topic maps), dataplane/mqttsn/subscription_table.c,
 * dataplane/mqttsn/filter_index.c and dataplane/mqttsn/qos1_inflight.c. Beyond the plain operations, each open-addressing index is
 * driven through long random insert/delete runs against a brute-force model, which is what
 * catches backward-shift deletion mistakes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fanout/client_hash.h"
#include "filter_index.h"
#include "mqttsn_session.h"
#include "qos1_inflight.h"
#include "subscription_table.h"
#include "topic_match.h"
#include "topic_registry.h"

static uint64_t rng_state = 0x243F6A8885A308D3ull;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 33) % n;
}

static const uint8_t *S(const char *s)
{
	return (const uint8_t *)s;
}

/* ------------------------------------------------------------------ topic registry */

static void test_registry_intern_find_refcount(void **state)
{
	(void)state;
	assert_null(topic_registry_create(0, 10));
	assert_null(topic_registry_create(TOPIC_REGISTRY_MAX + 1, 10));
	struct topic_registry *r = topic_registry_create(3, 8);
	assert_non_null(r);
	uint16_t a = topic_registry_intern(r, TOPIC_KIND_NAME, S("a/b"), 3);
	assert_int_equal(a, 1);
	assert_int_equal(topic_registry_intern(r, TOPIC_KIND_NAME, S("a/b"), 3), a);
	assert_int_equal(topic_registry_find(r, TOPIC_KIND_NAME, S("a/b"), 3), a);
	/* Names and filters are separate key spaces. */
	assert_int_equal(topic_registry_find(r, TOPIC_KIND_FILTER, S("a/b"), 3), TOPIC_NONE);
	uint16_t f = topic_registry_intern(r, TOPIC_KIND_FILTER, S("a/+"), 3);
	assert_true(f != a && f != TOPIC_NONE);
	assert_true(topic_registry_live(r, TOPIC_KIND_FILTER, f));
	assert_false(topic_registry_live(r, TOPIC_KIND_NAME, f));
	assert_int_equal(topic_registry_count(r), 2);
	assert_int_equal(topic_registry_name_count(r), 1);
	/* Too long, empty. */
	assert_int_equal(topic_registry_intern(r, TOPIC_KIND_NAME, S("123456789"), 9), TOPIC_NONE);
	assert_int_equal(topic_registry_intern(r, TOPIC_KIND_NAME, S(""), 0), TOPIC_NONE);
	uint16_t c = topic_registry_intern(r, TOPIC_KIND_NAME, S("c"), 1);
	assert_int_equal(topic_registry_intern(r, TOPIC_KIND_NAME, S("d"), 1), TOPIC_NONE); /* full */
	/* Unused entries go; referenced ones stay until the last unref. */
	topic_registry_drop_unused(r, c);
	assert_int_equal(topic_registry_find(r, TOPIC_KIND_NAME, S("c"), 1), TOPIC_NONE);
	topic_registry_ref(r, a);
	topic_registry_ref(r, a);
	topic_registry_drop_unused(r, a);
	assert_int_equal(topic_registry_refs(r, a), 2);
	topic_registry_unref(r, a);
	assert_true(topic_registry_live(r, TOPIC_KIND_NAME, a));
	topic_registry_unref(r, a);
	assert_false(topic_registry_live(r, TOPIC_KIND_NAME, a));
	uint16_t len;
	assert_null(topic_registry_name(r, a, &len));
	assert_int_equal(len, 0);
	topic_registry_destroy(r);
}

static void test_registry_random_against_model(void **state)
{
	(void)state;
	enum { N = 200, NAMES = 400 };
	struct topic_registry *r = topic_registry_create(N, 12);
	uint16_t model[NAMES] = { 0 }; /* name index -> id or 0 */
	char nm[16];
	uint32_t live = 0;
	for (int step = 0; step < 200000; step++) {
		uint32_t k = rnd(NAMES);
		int n = snprintf(nm, sizeof(nm), "t/%u", k);
		if (rnd(2)) {
			uint16_t id = topic_registry_intern(r, TOPIC_KIND_NAME, S(nm), (uint16_t)n);
			if (model[k]) {
				assert_int_equal(id, model[k]);
			} else if (live == N) {
				assert_int_equal(id, TOPIC_NONE);
			} else {
				assert_true(id != TOPIC_NONE);
				topic_registry_ref(r, id);
				model[k] = id;
				live++;
			}
		} else if (model[k]) {
			topic_registry_unref(r, model[k]);
			model[k] = 0;
			live--;
		}
		if (step % 1000 == 0) {
			for (uint32_t j = 0; j < NAMES; j++) {
				int m = snprintf(nm, sizeof(nm), "t/%u", j);
				assert_int_equal(topic_registry_find(r, TOPIC_KIND_NAME, S(nm), (uint16_t)m), model[j]);
			}
			assert_int_equal(topic_registry_count(r), live);
		}
	}
	topic_registry_destroy(r);
}

/* ------------------------------------------------------------------ sessions and maps */

static void test_session_alloc_find_move_free(void **state)
{
	(void)state;
	assert_true(sizeof(struct mqttsn_session) <= 64);
	struct session_table *t = session_table_create(2, 4, 0, false);
	assert_non_null(t);
	uint32_t a = session_alloc(t, &(struct session_addr){ .ip = 1, .port = 10 }, 0, S("alice"), 5);
	assert_true(a != SESSION_NONE);
	assert_int_equal(session_alloc(t, &(struct session_addr){ .ip = 1, .port = 10 }, 0, S("x"), 1),
			 SESSION_NONE); /* address taken */
	assert_int_equal(session_alloc(t, &(struct session_addr){ .ip = 2, .port = 10 }, 0, S("alice"), 5),
			 SESSION_NONE); /* id taken */
	uint32_t b = session_alloc(t, &(struct session_addr){ .ip = 1, .port = 11 }, 0, S("bob"), 3);
	assert_true(b != SESSION_NONE);
	assert_int_equal(session_alloc(t, &(struct session_addr){ .ip = 3, .port = 10 }, 0, S("carol"), 5),
			 SESSION_NONE); /* full */
	assert_int_equal(session_find_addr(t, &(struct session_addr){ .ip = 1, .port = 10 }), a);
	assert_int_equal(session_find_addr(t, &(struct session_addr){ .ip = 1, .port = 11 }), b);
	assert_int_equal(session_find_client_id(t, S("bob"), 3), b);
	assert_int_equal(session_find_client_id(t, S("bo"), 2), SESSION_NONE);
	assert_int_equal(session_move(t, a, &(struct session_addr){ .ip = 1, .port = 11 }, 2),
			 -1); /* bob lives there */
	assert_int_equal(session_move(t, a, &(struct session_addr){ .ip = 9, .port = 99 }, 2), 0);
	assert_int_equal(session_find_addr(t, &(struct session_addr){ .ip = 1, .port = 10 }), SESSION_NONE);
	assert_int_equal(session_find_addr(t, &(struct session_addr){ .ip = 9, .port = 99 }), a);
	assert_int_equal(session_get(t, a)->ifindex, 2);
	assert_int_equal(session_find_client_id(t, S("alice"), 5), a);
	/* the ClientId's rollout hash, kept beside the session (and across its move) */
	assert_int_equal(session_client_id_hash(t, a), fo_client_id_hash(S("alice"), 5));
	assert_int_equal(session_client_id_hash(t, b), fo_client_id_hash(S("bob"), 3));
	session_free(t, a);
	assert_int_equal(session_count(t), 1);
	assert_int_equal(session_find_client_id(t, S("alice"), 5), SESSION_NONE);
	assert_null(session_get(t, a));
	/* Empty client ids are allowed but not indexed. */
	uint32_t e = session_alloc(t, &(struct session_addr){ .ip = 5, .port = 5 }, 0, S(""), 0);
	assert_true(e != SESSION_NONE);
	assert_int_equal(session_find_client_id(t, S(""), 0), SESSION_NONE);
	assert_int_equal(session_client_id_hash(t, e), 0);
	session_free(t, e); /* the slot again, for another client: its own hash */
	uint32_t c = session_alloc(t, &(struct session_addr){ .ip = 6, .port = 6 }, 0, S("carol"), 5);
	assert_int_equal(session_client_id_hash(t, c), fo_client_id_hash(S("carol"), 5));
	session_table_destroy(t);
}

/* IPv6 clients: the full address is the key (the 32-bit key beside it may equal an IPv4 address or
 * another address's of the same /64), kept across moves between families and from behind a forwarder. */
static void test_session_ipv6(void **state)
{
	(void)state;
	struct session_table *t = session_table_create(8, 4, 2, true);
	assert_non_null(t);
	const uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 }, b6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	const struct session_addr v4 = { .ip = 7, .port = 10 };
	const struct session_addr x6 = { .ip = 7, .port = 10, .ip6 = a6 };
	const struct session_addr y6 = { .ip = 7, .port = 10, .ip6 = b6 };
	const struct session_addr n6 = { .ip = 7, .port = 10, .ip6 = b6, .node_len = 1, .node = S("\x05") };
	uint32_t s4 = session_alloc(t, &v4, 0, S("four"), 4);
	uint32_t sx = session_alloc(t, &x6, 0, S("x"), 1);
	uint32_t sy = session_alloc(t, &y6, 0, S("y"), 1);
	assert_true(s4 != SESSION_NONE && sx != SESSION_NONE && sy != SESSION_NONE);
	assert_int_equal(session_alloc(t, &x6, 0, S("z"), 1), SESSION_NONE); /* address taken */
	assert_int_equal(session_find_addr(t, &v4), s4);
	assert_int_equal(session_find_addr(t, &x6), sx);
	assert_int_equal(session_find_addr(t, &y6), sy);
	assert_null(session_ip6(t, session_get(t, s4)));
	assert_memory_equal(session_ip6(t, session_get(t, sx)), a6, 16);
	assert_true(session_get(t, sx)->v6 && !session_get(t, s4)->v6);
	/* A table made without IPv6 (no port speaks it) has no side array and refuses such addresses. */
	struct session_table *t4 = session_table_create(8, 4, 2, false);
	assert_non_null(t4);
	assert_int_equal(session_alloc(t4, &x6, 0, S("x"), 1), SESSION_NONE);
	uint32_t s44 = session_alloc(t4, &v4, 0, S("four"), 4);
	assert_true(s44 != SESSION_NONE);
	assert_int_equal(session_move(t4, s44, &x6, 0), -1);
	session_table_destroy(t4);
	/* y moves behind a forwarder at the same IPv6 address, then to IPv4, then back */
	assert_int_equal(session_move(t, sy, &n6, 0), 0);
	assert_int_equal(session_find_addr(t, &y6), SESSION_NONE);
	assert_int_equal(session_find_addr(t, &n6), sy);
	assert_int_equal(session_move(t, sy, &v4, 0), -1); /* four lives there */
	const struct session_addr w4 = { .ip = 8, .port = 10 };
	assert_int_equal(session_move(t, sy, &w4, 1), 0);
	assert_false(session_get(t, sy)->v6);
	assert_null(session_ip6(t, session_get(t, sy)));
	assert_int_equal(session_find_addr(t, &n6), SESSION_NONE);
	assert_int_equal(session_move(t, sy, &y6, 0), 0);
	assert_int_equal(session_find_addr(t, &y6), sy);
	assert_memory_equal(session_ip6(t, session_get(t, sy)), b6, 16);
	session_free(t, sx);
	assert_int_equal(session_find_addr(t, &x6), SESSION_NONE);
	assert_int_equal(session_find_addr(t, &v4), s4);
	session_table_destroy(t);
}

/* Clients behind a forwarder: the forwarder's address plus the node id is the key, node ids live
 * in a pool of a quarter of the sessions, and a session can move behind a forwarder and back. */
static void test_session_node_ids(void **state)
{
	(void)state;
	struct session_table *t = session_table_create(8, 4, 2, true); /* 2 node ids */
	assert_non_null(t);
	const struct session_addr fwd = { .ip = 7, .port = 1883 };
	const struct session_addr n1 = { .ip = 7, .port = 1883, .node_len = 1, .node = S("\x01") };
	const struct session_addr n2 = { .ip = 7, .port = 1883, .node_len = 2, .node = S("\x01\x00") };
	const struct session_addr n3 = { .ip = 7, .port = 1883, .node_len = 1, .node = S("\x03") };
	uint32_t a = session_alloc(t, &n1, 0, S("a"), 1);
	uint32_t b = session_alloc(t, &n2, 0, S("b"), 1);
	assert_true(a != SESSION_NONE && b != SESSION_NONE && a != b);
	assert_int_equal(session_find_addr(t, &fwd), SESSION_NONE); /* the forwarder itself is nobody yet */
	uint32_t f = session_alloc(t, &fwd, 0, S("f"), 1);
	assert_true(f != SESSION_NONE);
	assert_int_equal(session_find_addr(t, &n1), a);
	assert_int_equal(session_find_addr(t, &n2), b);
	assert_int_equal(session_find_addr(t, &fwd), f);
	assert_int_equal(session_alloc(t, &n1, 0, S("x"), 1), SESSION_NONE); /* taken */
	assert_true(session_nodes_full(t));
	assert_int_equal(session_alloc(t, &n3, 0, S("c"), 1), SESSION_NONE); /* no node id room */
	uint8_t len;
	const uint8_t *id = session_node(t, session_get(t, b), &len);
	assert_int_equal(len, 2);
	assert_memory_equal(id, "\x01\x00", 2);
	assert_null(session_node(t, session_get(t, f), &len));
	assert_int_equal(len, 0);
	/* a node moves out from behind the forwarder (clean=0 takeover from a direct address) */
	const struct session_addr direct = { .ip = 9, .port = 99 };
	assert_int_equal(session_move(t, a, &direct, 0), 0);
	assert_int_equal(session_find_addr(t, &n1), SESSION_NONE);
	assert_int_equal(session_find_addr(t, &direct), a);
	assert_false(session_nodes_full(t));
	assert_int_equal(session_move(t, f, &n2, 0), -1); /* b is that node */
	assert_int_equal(session_move(t, f, &n3, 0), 0);  /* the forwarder's own session moves behind it */
	assert_int_equal(session_find_addr(t, &n3), f);
	assert_int_equal(session_find_addr(t, &fwd), SESSION_NONE);
	assert_int_equal(session_move(t, a, &n1, 0), -1); /* pool full again */
	session_free(t, b);
	assert_false(session_nodes_full(t));
	assert_int_equal(session_find_addr(t, &n2), SESSION_NONE);
	assert_int_equal(session_move(t, a, &n1, 0), 0);
	assert_int_equal(session_find_addr(t, &n1), a);
	const struct session_addr too_long = {
		.ip = 7, .port = 1883, .node_len = SESSION_NODE_ID_MAX + 1, .node = S("0123456789abcdefg")
	};
	assert_int_equal(session_find_addr(t, &too_long), SESSION_NONE);
	assert_int_equal(session_alloc(t, &too_long, 0, S("y"), 1), SESSION_NONE);
	session_table_destroy(t);
}

static void test_ctmap_add_find_remove(void **state)
{
	(void)state;
	struct session_table *t = session_table_create(4, 3, 0, false);
	uint32_t a = session_alloc(t, &(struct session_addr){ .ip = 1, .port = 1 }, 0, S("a"), 1);
	uint32_t b = session_alloc(t, &(struct session_addr){ .ip = 2, .port = 2 }, 0, S("b"), 1);
	bool created;
	uint32_t e1 = ctmap_add(t, a, 5, &created);
	assert_true(created);
	assert_int_equal(ctmap_add(t, a, 5, &created), e1);
	assert_false(created);
	uint32_t e2 = ctmap_add(t, a, 6, &created);
	uint32_t e3 = ctmap_add(t, b, 5, &created);
	assert_true(e2 != SESSION_NONE && e3 != SESSION_NONE);
	assert_int_equal(ctmap_add(t, b, 7, &created), SESSION_NONE); /* pool full */
	assert_int_equal(ctmap_find(t, a, 5), e1);
	assert_int_equal(ctmap_find(t, b, 5), e3);
	assert_int_equal(ctmap_find(t, b, 6), SESSION_NONE);
	/* Session list walks a's entries only. */
	int n = 0;
	for (uint32_t x = session_get(t, a)->map_head; x != SESSION_NONE; x = ctmap_get(t, x)->next) {
		assert_int_equal(ctmap_get(t, x)->session, a);
		n++;
	}
	assert_int_equal(n, 2);
	ctmap_remove(t, e1);
	ctmap_remove(t, e1); /* twice is harmless */
	assert_int_equal(ctmap_count(t), 2);
	assert_int_equal(ctmap_find(t, a, 5), SESSION_NONE);
	assert_int_equal(session_get(t, a)->map_head, e2);
	assert_true(ctmap_add(t, b, 7, &created) != SESSION_NONE);
	session_table_destroy(t);
}

/* A moved session keeps the topic ids its client knows (ctmap_add_tid): the given id, refused
 * when it or the registry entry is already in the client's map or out of 1..65534. */
static void test_ctmap_add_tid(void **state)
{
	(void)state;
	struct session_table *t = session_table_create(2, 3, 0, false);
	struct session_addr a = { .ip = 1, .port = 1 };
	uint32_t s = session_alloc(t, &a, 0, (const uint8_t *)"c", 1);
	uint32_t e = ctmap_add_tid(t, s, 5, 900);
	assert_int_not_equal(e, SESSION_NONE);
	assert_int_equal(ctmap_get(t, e)->tid, 900);
	assert_int_equal(ctmap_find(t, s, 900), e);
	assert_int_equal(ctmap_find_topic(t, s, 5), e);
	assert_int_equal(ctmap_add_tid(t, s, 6, 900), SESSION_NONE); /* id taken */
	assert_int_equal(ctmap_add_tid(t, s, 5, 901), SESSION_NONE); /* entry mapped */
	assert_int_equal(ctmap_add_tid(t, s, 6, 0), SESSION_NONE);
	assert_int_equal(ctmap_add_tid(t, s, 6, 65535), SESSION_NONE);
	assert_int_equal(ctmap_add_tid(t, 1, 6, 7), SESSION_NONE); /* no such session */
	/* ctmap_add picks around it: entry 900's own id is taken, so the next one */
	bool created;
	uint32_t f = ctmap_add(t, s, 900, &created);
	assert_true(created);
	assert_int_equal(ctmap_get(t, f)->tid, 901);
	assert_int_not_equal(ctmap_add_tid(t, s, 7, 7), SESSION_NONE);
	assert_int_equal(ctmap_add_tid(t, s, 8, 8), SESSION_NONE); /* pool of 3 full */
	assert_int_equal(ctmap_count(t), 3);
	session_table_destroy(t);
}

/* ClientId presence: every indexed session counts once in its ClientId's slot, in the array the
 * other workers read; freeing (or a session without a ClientId) leaves nothing behind. */
static void test_session_presence(void **state)
{
	(void)state;
	uint32_t presence[64] = { 0 };
	struct session_table *t = session_table_create(4, 4, 0, false);
	session_table_set_presence(t, presence, 63);
	struct session_addr a = { .ip = 1, .port = 1 }, b = { .ip = 1, .port = 2 }, c = { .ip = 2, .port = 1 };
	uint32_t s1 = session_alloc(t, &a, 0, (const uint8_t *)"alpha", 5);
	uint32_t s2 = session_alloc(t, &b, 0, (const uint8_t *)"beta", 4);
	uint32_t s3 = session_alloc(t, &c, 0, NULL, 0);
	assert_int_not_equal(s3, SESSION_NONE);
	assert_true(session_presence_get(presence, 63, (const uint8_t *)"alpha", 5) >= 1);
	assert_true(session_presence_get(presence, 63, (const uint8_t *)"beta", 4) >= 1);
	uint32_t sum = 0;
	for (int i = 0; i < 64; i++)
		sum += presence[i];
	assert_int_equal(sum, 2);
	assert_int_equal(session_presence_slot((const uint8_t *)"alpha", 5, 63),
			 session_presence_slot((const uint8_t *)"alpha", 5, 63));
	/* a move keeps the ClientId: no change */
	struct session_addr d = { .ip = 3, .port = 3 };
	assert_int_equal(session_move(t, s1, &d, 0), 0);
	session_free(t, s1);
	session_free(t, s2);
	session_free(t, s3);
	for (int i = 0; i < 64; i++)
		assert_int_equal(presence[i], 0);
	session_presence_add(presence, 63, (const uint8_t *)"x", 1, 1); /* a pending claim's own mark */
	assert_int_equal(session_presence_get(presence, 63, (const uint8_t *)"x", 1), 1);
	session_presence_add(presence, 63, (const uint8_t *)"x", 1, -1);
	assert_int_equal(session_presence_get(presence, 63, (const uint8_t *)"x", 1), 0);
	session_table_destroy(t);
}

static void test_sessions_and_maps_random_against_model(void **state)
{
	(void)state;
	enum { NS = 64, NT = 20, MAP = 300 };
	struct session_table *t = session_table_create(NS, MAP, 0, false);
	uint32_t sess[NS * 2]; /* address k -> session or NONE */
	for (int i = 0; i < NS * 2; i++)
		sess[i] = SESSION_NONE;
	bool has[NS * 2][NT];
	memset(has, 0, sizeof(has));
	uint32_t live = 0, mapped = 0;
	char id[8];
	for (int step = 0; step < 100000; step++) {
		uint32_t k = rnd(NS * 2);
		uint32_t op = rnd(10);
		if (op == 0) {
			int n = snprintf(id, sizeof(id), "c%u", k);
			uint32_t s = session_alloc(t, &(struct session_addr){ .ip = k, .port = (uint16_t)k }, 0, S(id),
						   (uint8_t)n);
			if (sess[k] != SESSION_NONE || live == NS) {
				assert_int_equal(s, SESSION_NONE);
			} else {
				assert_true(s != SESSION_NONE);
				sess[k] = s;
				live++;
			}
		} else if (op == 1 && sess[k] != SESSION_NONE) {
			struct mqttsn_session *s = session_get(t, sess[k]);
			while (s->map_head != SESSION_NONE) {
				ctmap_remove(t, s->map_head);
				mapped--;
			}
			session_free(t, sess[k]);
			memset(has[k], 0, sizeof(has[k]));
			sess[k] = SESSION_NONE;
			live--;
		} else if (op < 7 && sess[k] != SESSION_NONE) {
			uint16_t tp = (uint16_t)(1 + rnd(NT - 1));
			bool created;
			uint32_t e = ctmap_add(t, sess[k], tp, &created);
			if (has[k][tp]) {
				assert_false(created);
				assert_true(e != SESSION_NONE);
			} else if (mapped == MAP) {
				assert_int_equal(e, SESSION_NONE);
			} else {
				assert_true(created);
				has[k][tp] = true;
				mapped++;
			}
		} else if (sess[k] != SESSION_NONE) {
			uint16_t tp = (uint16_t)(1 + rnd(NT - 1));
			uint32_t e = ctmap_find(t, sess[k], tp);
			assert_int_equal(e != SESSION_NONE, has[k][tp]);
			if (e != SESSION_NONE) {
				ctmap_remove(t, e);
				has[k][tp] = false;
				mapped--;
			}
		}
		if (step % 997 == 0) {
			for (uint32_t j = 0; j < NS * 2; j++) {
				assert_int_equal(
					session_find_addr(t, &(struct session_addr){ .ip = j, .port = (uint16_t)j }),
					sess[j]);
				int n = snprintf(id, sizeof(id), "c%u", j);
				assert_int_equal(session_find_client_id(t, S(id), (uint8_t)n), sess[j]);
				for (uint16_t tp = 1; tp < NT; tp++)
					if (sess[j] != SESSION_NONE)
						assert_int_equal(ctmap_find(t, sess[j], tp) != SESSION_NONE,
								 has[j][tp]);
			}
			assert_int_equal(session_count(t), live);
			assert_int_equal(ctmap_count(t), mapped);
		}
	}
	session_table_destroy(t);
}

/* ------------------------------------------------------------------ subscriptions */

static void test_subscriptions_lists_and_wildcards(void **state)
{
	(void)state;
	struct subscription_table *t = subscription_table_create(3, 10);
	uint32_t h1 = SUB_NONE, h2 = SUB_NONE;
	bool created;
	uint32_t x1 = sub_add(t, &h1, 1, 4, 1, true, &created);
	assert_true(created);
	assert_int_equal(sub_wildcard_count(t), 1);
	assert_int_equal(sub_wildcard_at(t, 0), 4);
	uint32_t x2 = sub_add(t, &h2, 2, 4, 0, true, &created);
	assert_int_equal(sub_wildcard_count(t), 1); /* one filter, two subscribers */
	assert_int_equal(sub_add(t, &h1, 1, 4, 0, true, &created), x1);
	assert_false(created);
	assert_int_equal(sub_get(t, x1)->qos, 0); /* updated */
	uint32_t x3 = sub_add(t, &h1, 1, 7, 1, false, &created);
	assert_int_equal(sub_add(t, &h2, 2, 8, 1, false, &created), SUB_NONE); /* full */
	assert_int_equal(sub_count(t), 3);
	/* Entry 4's list holds both sessions. */
	int n = 0;
	for (uint32_t x = sub_first(t, 4); x != SUB_NONE; x = sub_get(t, x)->t_next)
		n++;
	assert_int_equal(n, 2);
	assert_int_equal(sub_find(t, 2, 4), x2);
	sub_remove(t, &h2, x2);
	assert_int_equal(h2, SUB_NONE);
	assert_int_equal(sub_wildcard_count(t), 1);
	sub_remove(t, &h1, x1);
	assert_int_equal(sub_wildcard_count(t), 0);
	assert_int_equal(h1, x3);
	assert_int_equal(sub_first(t, 7), x3);
	assert_int_equal(sub_find(t, 1, 4), SUB_NONE);
	subscription_table_destroy(t);
}

static void test_subscriptions_random_against_model(void **state)
{
	(void)state;
	enum { NS = 16, NE = 30, MAX = 150 };
	struct subscription_table *t = subscription_table_create(MAX, NE);
	uint32_t heads[NS];
	int8_t model[NS][NE + 1]; /* -1 none, else qos */
	for (int s = 0; s < NS; s++)
		heads[s] = SUB_NONE;
	memset(model, -1, sizeof(model));
	uint32_t count = 0;
	for (int step = 0; step < 100000; step++) {
		uint32_t s = rnd(NS);
		uint16_t e = (uint16_t)(1 + rnd(NE));
		bool wild = e % 3 == 0;
		if (rnd(3)) {
			bool created;
			uint8_t q = (uint8_t)rnd(2);
			uint32_t x = sub_add(t, &heads[s], s, e, q, wild, &created);
			if (model[s][e] >= 0) {
				assert_false(created);
				model[s][e] = (int8_t)q;
			} else if (count == MAX) {
				assert_int_equal(x, SUB_NONE);
			} else {
				assert_true(created);
				model[s][e] = (int8_t)q;
				count++;
			}
		} else {
			uint32_t x = sub_find(t, s, e);
			assert_int_equal(x != SUB_NONE, model[s][e] >= 0);
			if (x != SUB_NONE) {
				sub_remove(t, &heads[s], x);
				model[s][e] = -1;
				count--;
			}
		}
		if (step % 991 == 0) {
			uint32_t wild_expected = 0;
			for (uint16_t ee = 1; ee <= NE; ee++) {
				int subs = 0;
				for (uint32_t x = sub_first(t, ee); x != SUB_NONE; x = sub_get(t, x)->t_next) {
					const struct sub_node *nd = sub_get(t, x);
					assert_int_equal(nd->entry, ee);
					assert_int_equal(model[nd->session][ee], nd->qos);
					subs++;
				}
				int expect = 0;
				for (uint32_t ss = 0; ss < NS; ss++)
					expect += model[ss][ee] >= 0;
				assert_int_equal(subs, expect);
				if (ee % 3 == 0 && expect)
					wild_expected++;
			}
			assert_int_equal(sub_wildcard_count(t), wild_expected);
			for (uint32_t i = 0; i < sub_wildcard_count(t); i++)
				assert_true(sub_first(t, sub_wildcard_at(t, i)) != SUB_NONE);
			assert_int_equal(sub_count(t), count);
		}
	}
	subscription_table_destroy(t);
}

/* ------------------------------------------------------------------ beyond 16-bit ids (scale) */

/* Registry ids are 32-bit: more than 65534 names intern, each with its own id. */
static void test_registry_beyond_16_bits(void **state)
{
	(void)state;
	enum { N = 70000 };
	struct topic_registry *r = topic_registry_create(N, 12);
	assert_non_null(r);
	char nm[16];
	for (uint32_t i = 0; i < N; i++) {
		int n = snprintf(nm, sizeof(nm), "n/%u", i);
		assert_int_equal(topic_registry_intern(r, TOPIC_KIND_NAME, S(nm), (uint16_t)n), i + 1);
	}
	assert_int_equal(topic_registry_intern(r, TOPIC_KIND_NAME, S("full"), 4), TOPIC_NONE);
	for (uint32_t i = 0; i < N; i += 997) {
		int n = snprintf(nm, sizeof(nm), "n/%u", i);
		assert_int_equal(topic_registry_find(r, TOPIC_KIND_NAME, S(nm), (uint16_t)n), i + 1);
	}
	uint16_t len;
	assert_memory_equal(topic_registry_name(r, 69999, &len), "n/69998", 7);
	topic_registry_drop_unused(r, 69000);
	assert_int_equal(topic_registry_intern(r, TOPIC_KIND_NAME, S("again"), 5), 69000);
	assert_int_equal(topic_registry_count(r), N);
	topic_registry_destroy(r);
}

/* A client's topic id is the registry entry while that is <= 65534 and free in its map,
 * else the next free id: per client (spec 7.3), found both ways. */
static void test_ctmap_tids_per_client(void **state)
{
	(void)state;
	enum { W = CTMAP_TID_MAX };
	struct session_table *t = session_table_create(4, W + 16, 0, false);
	uint32_t a = session_alloc(t, &(struct session_addr){ .ip = 1, .port = 1 }, 0, S("a"), 1);
	uint32_t b = session_alloc(t, &(struct session_addr){ .ip = 2, .port = 2 }, 0, S("b"), 1);
	bool created;
	uint32_t e5 = ctmap_add(t, a, 5, &created);
	assert_int_equal(ctmap_get(t, e5)->tid, 5);
	uint32_t ew = ctmap_add(t, a, W + 5, &created); /* folds onto 5: taken, so 6 */
	assert_true(created);
	assert_int_equal(ctmap_get(t, ew)->tid, 6);
	assert_int_equal(ctmap_get(t, ew)->topic, W + 5);
	uint32_t e6 = ctmap_add(t, a, 6, &created); /* 6 is taken by W + 5: 7 */
	assert_int_equal(ctmap_get(t, e6)->tid, 7);
	assert_int_equal(ctmap_find(t, a, 6), ew);
	assert_int_equal(ctmap_find(t, a, 7), e6);
	assert_int_equal(ctmap_find_topic(t, a, 6), e6);
	assert_int_equal(ctmap_find_topic(t, a, W + 5), ew);
	assert_int_equal(ctmap_add(t, a, W + 5, &created), ew);
	assert_false(created);
	/* Another client's ids are its own. */
	uint32_t bw = ctmap_add(t, b, W + 5, &created);
	assert_int_equal(ctmap_get(t, bw)->tid, 5);
	assert_int_equal(ctmap_find(t, b, 5), bw);
	assert_int_equal(ctmap_find_topic(t, b, 5), SESSION_NONE);
	/* Removal unindexes both ways; the freed id is handed out again. */
	ctmap_remove(t, e5);
	assert_int_equal(ctmap_find(t, a, 5), SESSION_NONE);
	assert_int_equal(ctmap_find_topic(t, a, 5), SESSION_NONE);
	uint32_t e2w = ctmap_add(t, a, 2 * W + 5, &created);
	assert_int_equal(ctmap_get(t, e2w)->tid, 5);
	ctmap_remove(t, e2w);
	ctmap_remove(t, ew);
	ctmap_remove(t, e6);
	/* A client holds at most 65534 ids; the next topic is refused, the pool is not full. */
	for (uint32_t tp = 1; tp <= W; tp++) {
		uint32_t e = ctmap_add(t, a, tp, &created);
		assert_true(created);
		assert_int_equal(ctmap_get(t, e)->tid, tp);
	}
	assert_int_equal(ctmap_add(t, a, W + 100, &created), SESSION_NONE);
	assert_false(created);
	assert_int_equal(ctmap_count(t), W + 1);
	assert_true(ctmap_add(t, b, W + 100, &created) != SESSION_NONE);
	session_table_destroy(t);
}

/* Random add/remove with registry entries that fold onto the same ids, against a model:
 * every (session, entry) and (session, id) is found, ids are unique per client. */
static void test_ctmap_wide_topics_random_against_model(void **state)
{
	(void)state;
	enum { NS = 8, NT = 24, MAP = 120 };
	/* entries 1..8, W+1..W+8, 2W+1..2W+8: each group folds onto ids 1..8 */
	uint32_t topics[NT];
	for (uint32_t i = 0; i < NT; i++)
		topics[i] = (i / 8) * CTMAP_TID_MAX + i % 8 + 1;
	struct session_table *t = session_table_create(NS, MAP, 0, false);
	uint32_t sess[NS];
	for (uint32_t i = 0; i < NS; i++)
		sess[i] = session_alloc(t, &(struct session_addr){ .ip = i, .port = (uint16_t)i }, 0, S(""), 0);
	uint32_t model[NS][NT]; /* map entry or SESSION_NONE */
	for (uint32_t i = 0; i < NS; i++)
		for (uint32_t j = 0; j < NT; j++)
			model[i][j] = SESSION_NONE;
	uint32_t mapped = 0;
	for (int step = 0; step < 100000; step++) {
		uint32_t k = rnd(NS), j = rnd(NT);
		if (rnd(2)) {
			bool created;
			uint32_t e = ctmap_add(t, sess[k], topics[j], &created);
			if (model[k][j] != SESSION_NONE) {
				assert_int_equal(e, model[k][j]);
				assert_false(created);
			} else if (mapped == MAP) {
				assert_int_equal(e, SESSION_NONE);
			} else {
				assert_true(created);
				model[k][j] = e;
				mapped++;
			}
		} else if (model[k][j] != SESSION_NONE) {
			ctmap_remove(t, model[k][j]);
			model[k][j] = SESSION_NONE;
			mapped--;
		}
		if (step % 499 == 0) {
			for (uint32_t i = 0; i < NS; i++) {
				bool used[CTMAP_TID_MAX + 1] = { false };
				for (uint32_t jj = 0; jj < NT; jj++) {
					uint32_t e = model[i][jj];
					assert_int_equal(ctmap_find_topic(t, sess[i], topics[jj]), e);
					if (e == SESSION_NONE)
						continue;
					uint16_t tid = ctmap_get(t, e)->tid;
					assert_true(tid >= 1 && tid <= CTMAP_TID_MAX);
					assert_false(used[tid]);
					used[tid] = true;
					assert_int_equal(ctmap_get(t, e)->topic, topics[jj]);
					assert_int_equal(ctmap_find(t, sess[i], tid), e);
				}
			}
			assert_int_equal(ctmap_count(t), mapped);
		}
	}
	session_table_destroy(t);
}

static void test_subscriptions_wide_entries(void **state)
{
	(void)state;
	assert_null(subscription_table_create(4, 1u << 30));
	struct subscription_table *t = subscription_table_create(4, 200000);
	assert_non_null(t);
	uint32_t h = SUB_NONE;
	bool created;
	uint32_t x = sub_add(t, &h, 3, 199999, 1, true, &created);
	uint32_t y = sub_add(t, &h, 3, 70000, 0, false, &created);
	assert_true(x != SUB_NONE && y != SUB_NONE);
	assert_int_equal(sub_find(t, 3, 199999), x);
	assert_int_equal(sub_find(t, 3, 70000 - CTMAP_TID_MAX), SUB_NONE);
	assert_int_equal(sub_get(t, x)->entry, 199999);
	assert_int_equal(sub_get(t, x)->qos, 1);
	assert_int_equal(sub_get(t, y)->qos, 0);
	assert_int_equal(sub_wildcard_at(t, 0), 199999);
	assert_int_equal(sub_add(t, &h, 3, 200001, 0, false, &created), SUB_NONE); /* out of range */
	subscription_table_destroy(t);
}

/* ------------------------------------------------------------------ wildcard filter index */

struct reported {
	uint32_t n[64];
	uint32_t total;
};

static void on_candidate(void *ctx, uint32_t entry)
{
	struct reported *r = ctx;
	assert_true(entry < 64);
	r->n[entry]++;
	r->total++;
}

static struct reported match_all(struct filter_index *x, const char *topic)
{
	struct reported r;
	memset(&r, 0, sizeof(r));
	uint32_t k = filter_index_match(x, S(topic), (uint16_t)strlen(topic), on_candidate, &r);
	assert_int_equal(k, r.total);
	return r;
}

static int add(struct filter_index *x, uint32_t e, const char *f)
{
	return filter_index_add(x, e, S(f), (uint16_t)strlen(f));
}

static void test_filter_index_basics(void **state)
{
	(void)state;
	assert_null(filter_index_create(0, 10, 8));
	assert_null(filter_index_create(4, 1u << 30, 8));
	struct filter_index *x = filter_index_create(8, 40, 16);
	assert_non_null(x);
	struct reported r = match_all(x, "a/b/c");
	assert_int_equal(r.total, 0);
	assert_int_equal(add(x, 1, "a/+/c"), 0);
	assert_int_equal(add(x, 2, "a/#"), 0);
	assert_int_equal(add(x, 3, "+/b/#"), 0);
	assert_int_equal(add(x, 4, "#"), 0);
	assert_int_equal(add(x, 5, "a/b/c/#"), 0);
	assert_int_equal(add(x, 6, "$SYS/#"), 0);
	assert_int_equal(add(x, 7, "+/+"), 0);
	assert_int_equal(add(x, 1, "a/b"), -1);               /* already indexed */
	assert_int_equal(add(x, 0, "a/b"), -1);               /* no entry 0 */
	assert_int_equal(add(x, 41, "a/b"), -1);              /* out of range */
	assert_int_equal(add(x, 8, "0123456789abcdefg"), -1); /* longer than max_len */
	assert_int_equal(filter_index_count(x), 7);

	r = match_all(x, "a/b/c"); /* "a/b/c/#" matches its parent level too */
	assert_int_equal(r.total, 5);
	for (uint32_t e = 1; e <= 5; e++)
		assert_int_equal(r.n[e], 1);
	r = match_all(x, "a");
	assert_int_equal(r.total, 2);
	assert_true(r.n[2] && r.n[4]);
	r = match_all(x, "/b"); /* '+' matches an empty level */
	assert_int_equal(r.total, 3);
	assert_true(r.n[3] && r.n[4] && r.n[7]);
	r = match_all(x, "$SYS/x"); /* no leading wildcard reaches '$' topics */
	assert_int_equal(r.total, 1);
	assert_int_equal(r.n[6], 1);
	r = match_all(x, "x/y/z");
	assert_int_equal(r.total, 1);
	assert_int_equal(r.n[4], 1);

	/* Two filters on one node; removal keeps the other and frees unused nodes. */
	assert_int_equal(add(x, 8, "a/+/c"), 0);
	assert_int_equal(add(x, 9, "q/w/e"), -1); /* max_filters */
	r = match_all(x, "a/z/c");
	assert_true(r.n[1] == 1 && r.n[8] == 1 && r.n[2] == 1 && r.n[4] == 1 && r.n[7] == 0);
	filter_index_remove(x, 1);
	filter_index_remove(x, 1); /* twice is harmless */
	r = match_all(x, "a/z/c");
	assert_true(r.n[1] == 0 && r.n[8] == 1);
	for (uint32_t e = 2; e <= 8; e++)
		filter_index_remove(x, e);
	assert_int_equal(filter_index_count(x), 0);
	assert_int_equal(filter_index_nodes(x), 0);
	assert_int_equal(match_all(x, "a/b/c").total, 0);
	filter_index_destroy(x);
}

/* With no trie node to spare a filter goes to the overflow list and is still reported. */
static void test_filter_index_overflow(void **state)
{
	(void)state;
	struct filter_index *x = filter_index_create(2, 10, 32); /* 8 nodes */
	assert_int_equal(add(x, 1, "a/b/c/d/e/f/+"), 0);         /* 7 nodes */
	assert_int_equal(add(x, 2, "x/y/#"), 0);                 /* needs 3: overflow */
	assert_int_equal(filter_index_overflow(x), 1);
	assert_int_equal(filter_index_nodes(x), 7);
	struct reported r = match_all(x, "x/y/z");
	assert_int_equal(r.n[2], 1);
	r = match_all(x, "a/b/c/d/e/f/g"); /* the overflow filter is a candidate, not a match */
	assert_int_equal(r.n[1], 1);
	filter_index_remove(x, 2);
	assert_int_equal(filter_index_overflow(x), 0);
	filter_index_remove(x, 1);
	assert_int_equal(filter_index_nodes(x), 0);
	assert_int_equal(add(x, 2, "x/y/#"), 0); /* room again */
	assert_int_equal(filter_index_overflow(x), 0);
	filter_index_destroy(x);
}

/* Random filters (with '+', '#', empty and '$' levels) added and removed, random topics
 * matched: every filter topic_match() accepts is reported exactly once, no other (the
 * few distinct levels here have distinct hashes). A small node pool mixes in overflow. */
static void test_filter_index_random_against_topic_match(void **state)
{
	(void)state;
	static const char *const lv[] = { "a", "b", "", "$s", "cc" };
	enum { NF = 40, MAXF = 32 };
	for (int pool = 0; pool < 2; pool++) {
		struct filter_index *x = filter_index_create(pool ? 6 : MAXF, NF, 40);
		char filt[NF + 1][48];
		bool live[NF + 1] = { false };
		uint32_t n_live = 0, overflowed = 0;
		for (int step = 0; step < 20000; step++) {
			uint32_t e = 1 + rnd(NF);
			if (live[e] && rnd(2)) {
				filter_index_remove(x, e);
				live[e] = false;
				n_live--;
			} else if (!live[e]) {
				uint32_t levels = 1 + rnd(5);
				char *p = filt[e];
				p[0] = 0;
				for (uint32_t l = 0; l < levels; l++) {
					uint32_t k = rnd(8);
					const char *v = k == 5 ? "+" : k == 6 && l + 1 == levels ? "#" : lv[k % 5];
					strcat(p, v);
					if (l + 1 < levels)
						strcat(p, "/");
				}
				if (p[0] == 0)
					strcpy(p, "+"); /* a filter is never empty */
				assert_true(topic_filter_valid(S(p), strlen(p), 40));
				int rc = add(x, e, p);
				if (n_live == (pool ? 6u : (uint32_t)MAXF)) {
					assert_int_equal(rc, -1);
				} else {
					assert_int_equal(rc, 0);
					live[e] = true;
					n_live++;
				}
			}
			assert_int_equal(filter_index_count(x), n_live);
			if (filter_index_overflow(x))
				overflowed++;
			char topic[48];
			topic[0] = 0;
			uint32_t levels = 1 + rnd(5);
			for (uint32_t l = 0; l < levels; l++) {
				strcat(topic, lv[rnd(5)]);
				if (l + 1 < levels)
					strcat(topic, "/");
			}
			if (topic[0] == 0)
				strcpy(topic, "b"); /* a name is never empty */
			struct reported r = match_all(x, topic);
			for (uint32_t f = 1; f <= NF; f++) {
				bool m = live[f] && topic_match(S(filt[f]), strlen(filt[f]), S(topic), strlen(topic));
				if (live[f] && filter_index_overflow(x) && r.n[f] == 1 && !m)
					continue; /* an overflow filter is always a candidate */
				assert_int_equal(r.n[f], m ? 1 : 0);
			}
		}
		if (pool)
			assert_true(overflowed > 0);
		for (uint32_t f = 1; f <= NF; f++)
			filter_index_remove(x, f);
		assert_int_equal(filter_index_nodes(x), 0);
		assert_int_equal(filter_index_count(x), 0);
		filter_index_destroy(x);
	}
}

/* ------------------------------------------------------------------ inflight */

static void test_inflight_fifo_and_session_lists(void **state)
{
	(void)state;
	struct inflight_table *t = inflight_table_create(3);
	uint32_t ha = INFLIGHT_NONE, hb = INFLIGHT_NONE;
	int p;
	uint32_t a1 = inflight_add(t, &ha, 0, 1, 9, 0x20, &p, 4, 100);
	uint32_t b1 = inflight_add(t, &hb, 1, 1, 9, 0x20, &p, 4, 110);
	uint32_t a2 = inflight_add(t, &ha, 0, 2, 9, 0x20, &p, 4, 120);
	assert_int_equal(inflight_add(t, &ha, 0, 3, 9, 0x20, &p, 4, 130), INFLIGHT_NONE);
	assert_int_equal(inflight_count(t), 3);
	assert_int_equal(inflight_oldest(t), a1);
	assert_int_equal(inflight_find(t, ha, 2), a2);
	assert_int_equal(inflight_find(t, hb, 2), INFLIGHT_NONE);
	inflight_requeue(t, a1, 200);
	assert_int_equal(inflight_oldest(t), b1);
	inflight_remove(t, &hb, b1);
	assert_int_equal(hb, INFLIGHT_NONE);
	assert_int_equal(inflight_oldest(t), a2);
	inflight_remove(t, &ha, a2);
	assert_int_equal(inflight_oldest(t), a1);
	assert_int_equal(inflight_get(t, a1)->deadline_ms, 200);
	inflight_remove(t, &ha, a1);
	assert_int_equal(ha, INFLIGHT_NONE);
	assert_int_equal(inflight_oldest(t), INFLIGHT_NONE);
	assert_int_equal(inflight_count(t), 0);
	inflight_table_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry_intern_find_refcount),
		cmocka_unit_test(test_registry_random_against_model),
		cmocka_unit_test(test_session_alloc_find_move_free),
		cmocka_unit_test(test_session_node_ids),
		cmocka_unit_test(test_session_ipv6),
		cmocka_unit_test(test_ctmap_add_find_remove),
		cmocka_unit_test(test_sessions_and_maps_random_against_model),
		cmocka_unit_test(test_subscriptions_lists_and_wildcards),
		cmocka_unit_test(test_subscriptions_random_against_model),
		cmocka_unit_test(test_registry_beyond_16_bits),
		cmocka_unit_test(test_ctmap_tids_per_client),
		cmocka_unit_test(test_ctmap_wide_topics_random_against_model),
		cmocka_unit_test(test_subscriptions_wide_entries),
		cmocka_unit_test(test_filter_index_basics),
		cmocka_unit_test(test_filter_index_overflow),
		cmocka_unit_test(test_filter_index_random_against_topic_match),
		cmocka_unit_test(test_inflight_fifo_and_session_lists),
		cmocka_unit_test(test_ctmap_add_tid),
		cmocka_unit_test(test_session_presence),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
