/* Unit tests for dataplane/route/worker_route.c, the worker's routing and accounting: the serving
 * generation follows the client hash and the share (split and mirror), UDP routes get one copy
 * per destination and a failed copy is counted dropped, mirror mode counts and never sends,
 * sink/bridge routes count matched = queued + ring_full + pool_empty per route, generation and
 * output, written-mode sinks defer the PUBACK until every entry is back, peers get a publish
 * each but the sender, and every counter balances. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "mqttsn_codec.h"
#include "predef_table.h"
#include "route_table.h"
#include "worker_route.h"

/* What the callbacks saw and what they answer. */
struct fake {
	unsigned copies, copies_fail_every; /* send_copy fails every Nth call when non-zero */
	struct fo_client copy_to[64];
	uint16_t copy_hdr_len[64];
	unsigned entries;
	enum fo_wr_out_verdict verdict;
	uint16_t entry_ack[16];
	uint16_t entry_route[16];
	bool neighbour;
	unsigned posts;
	uint32_t post_to[16];
	uint32_t refuse_peer; /* peer_post refuses this worker (UINT32_MAX: none) */
	unsigned pubacks;
	uint8_t puback_rc;
	uint16_t puback_msg_id;
};

static int f_send_copy(void *ctx, const struct fo_client *to, const uint8_t *hdr, uint16_t hdr_len, void *payload)
{
	struct fake *f = ctx;
	(void)hdr;
	assert_ptr_equal(payload, f);
	unsigned i = f->copies++;
	if (i < 64) {
		f->copy_to[i] = *to;
		f->copy_hdr_len[i] = hdr_len;
	}
	return f->copies_fail_every && f->copies % f->copies_fail_every == 0 ? -1 : 0;
}

static bool f_neighbour_known(void *ctx, const struct fo_client *to)
{
	struct fake *f = ctx;
	(void)to;
	return f->neighbour;
}

static enum fo_wr_out_verdict f_out_enqueue(void *ctx, struct fo_generation *g, uint16_t route,
					    const struct fo_route_config *r, const struct broker_result *res,
					    const struct fo_client *from, void *payload, uint16_t ack)
{
	struct fake *f = ctx;
	(void)g, (void)r, (void)res, (void)from, (void)payload;
	if (f->verdict == FO_WR_OUT_QUEUED && f->entries < 16) {
		f->entry_ack[f->entries] = ack;
		f->entry_route[f->entries] = route;
		f->entries++;
	}
	return f->verdict;
}

static bool f_peer_post(void *ctx, uint32_t worker, const struct fo_wr_peer_pub *pub, void *payload)
{
	struct fake *f = ctx;
	(void)pub, (void)payload;
	if (worker == f->refuse_peer)
		return false;
	f->post_to[f->posts++ % 16] = worker;
	return true;
}

static void f_puback(void *ctx, const struct fo_client *to, uint16_t topic_id, uint16_t msg_id, uint8_t rc)
{
	struct fake *f = ctx;
	(void)to, (void)topic_id;
	f->pubacks++;
	f->puback_rc = rc;
	f->puback_msg_id = msg_id;
}

/* Two generations over hand-made configs: routes r0 "a/b" UDP raw to 2 destinations, r1 "a/#"
 * UDP mqttsn to 1, r2 "a/b" to sink 0 (written mode), r3 "x/#" to bridge 0. */
struct world {
	struct fo_config cfg[2];
	struct fo_route_config routes[2][4];
	struct fo_route_dest dests[3];
	struct fo_sink_config sinks[1];
	struct fo_generation gen[2];
	uint16_t dest_port[4][FO_MAX_ROUTE_DESTS];
	struct fo_route_ctr rctr[2][4 * 4]; /* rows: workers 0..3, stride 4 */
	struct fo_genset gs;
	struct fo_counters c;
	struct fo_gen_ctr gctr[FO_GEN_SLOTS];
	struct fo_out_lcore_ctr out[FO_MAX_SINKS + FO_MAX_BRIDGES];
	uint8_t sink_output[FO_MAX_SINKS], bridge_output[FO_MAX_BRIDGES];
	struct fo_wr_ack acks[2];
	struct fo_worker_route wr;
	struct fake f;
};

static void world_init(struct world *w, uint32_t self, uint32_t n_workers)
{
	memset(w, 0, sizeof(*w));
	w->dests[0] = (struct fo_route_dest){ .ip = 0xc6120002u, .port = 9000 };
	w->dests[1] = (struct fo_route_dest){ .ip = 0xc6120003u, .port = 9001 };
	w->dests[2] = (struct fo_route_dest){ .ip = 0xc6120004u, .port = 9002 };
	w->sinks[0].puback = FO_PUBACK_WRITTEN;
	static const char *const filters[4] = { "a/b", "a/#", "a/b", "x/#" };
	for (int g = 0; g < 2; g++) {
		for (int r = 0; r < 4; r++) {
			struct fo_route_config *rc = &w->routes[g][r];
			rc->name = (char *)"r";
			rc->filter = (char *)filters[r];
			rc->kind = r < 2 ? FO_ROUTE_UDP : r == 2 ? FO_ROUTE_SINK : FO_ROUTE_BRIDGE;
			rc->format = r == 1 ? FO_ROUTE_MQTTSN : FO_ROUTE_RAW;
			rc->topic_id = 7;
			rc->to = r == 0 ? &w->dests[0] : &w->dests[2];
			rc->n_to = r == 0 ? 2 : r == 1 ? 1 : 0;
		}
		w->cfg[g].routes = w->routes[g];
		w->cfg[g].n_routes = 4;
		w->cfg[g].sinks = w->sinks;
		w->cfg[g].n_sinks = 1;
		w->gen[g].id = (uint32_t)g + 1;
		w->gen[g].slot = (uint8_t)g;
		w->gen[g].cfg = &w->cfg[g];
		w->gen[g].rt = route_table_build(&w->cfg[g]);
		assert_non_null(w->gen[g].rt);
		w->gen[g].dest_port = w->dest_port;
		w->gen[g].rctr = w->rctr[g];
		w->gen[g].rstride = 4;
	}
	w->gs.stable = &w->gen[0];
	w->sink_output[0] = 0;
	w->bridge_output[0] = FO_MAX_SINKS;
	w->f.refuse_peer = UINT32_MAX;
	w->wr = (struct fo_worker_route){
		.io = { .ctx = &w->f,
			.send_copy = f_send_copy,
			.neighbour_known = f_neighbour_known,
			.out_enqueue = f_out_enqueue,
			.peer_post = f_peer_post,
			.deferred_puback = f_puback },
		.worker = self,
		.n_workers = n_workers,
		.sink_output = w->sink_output,
		.bridge_output = w->bridge_output,
		.c = &w->c,
		.gen = w->gctr,
		.out = w->out,
		.acks = w->acks,
		.n_acks = 2,
	};
	fo_wr_init(&w->wr);
}

static void world_fini(struct world *w)
{
	route_table_free(w->gen[0].rt);
	route_table_free(w->gen[1].rt);
}

static struct broker_result publish(const char *topic, int8_t qos, uint32_t client_hash, uint16_t msg_id)
{
	return (struct broker_result){ .fate = FO_FATE_DELIVERED,
				       .published = true,
				       .topic = (const uint8_t *)topic,
				       .topic_len = (uint16_t)strlen(topic),
				       .qos = qos,
				       .payload_len = 10,
				       .client_hash = client_hash,
				       .msg_id = msg_id,
				       .topic_id = 3 };
}

static const struct fo_client from = { .ip = 0x0a000001u, .port = 40000, .ifindex = 0 };

/* Sum over routes of a generation's row for worker `row`. */
static struct fo_route_ctr route_sum(const struct world *w, int g, uint32_t row)
{
	struct fo_route_ctr s = { 0 };
	for (int r = 0; r < 4; r++) {
		const struct fo_route_ctr *c = &w->rctr[g][row * 4 + r];
		s.matched += c->matched, s.copies += c->copies, s.dropped += c->dropped;
		s.queued += c->queued, s.ring_full += c->ring_full, s.pool_empty += c->pool_empty;
	}
	return s;
}

/* Whose predefined tables serve the clients: one generation's while it serves all of them. */
static void test_uniform_predefined(void **state)
{
	(void)state;
	struct world *w = aligned_alloc(_Alignof(struct world), sizeof(*w)); /* its counters are cache-line aligned */
	world_init(w, 0, 1);
	static const struct broker_predefined a[] = { { 10, "g/a" } }, b[] = { { 20, "g/b" } };
	const char *err;
	struct predef_set *sa = predef_set_build(a, 1, NULL, 0, 64, &err),
			  *sb = predef_set_build(b, 1, NULL, 0, 64, &err);
	assert_non_null(sa);
	assert_non_null(sb);
	const struct predef_set *all = NULL;
	/* none anywhere */
	assert_int_equal(fo_wr_predef_named(&w->gs, (const uint8_t *)"g/a", 3, &all), BROKER_PREDEF_NONE);
	w->cfg[0].broker.predef_set = sa;
	w->cfg[1].broker.predef_set = sb;
	/* no canary, a share of 0, mirror mode: stable's; all of them: the canary's */
	assert_ptr_equal(fo_wr_uniform_gen(&w->gs), &w->gen[0]);
	assert_int_equal(fo_wr_predef_named(&w->gs, (const uint8_t *)"g/a", 3, &all), BROKER_PREDEF_ALL);
	assert_ptr_equal(all, sa);
	w->gs.canary = &w->gen[1];
	w->gs.share_bp = 0;
	assert_ptr_equal(fo_wr_uniform_gen(&w->gs), &w->gen[0]);
	w->gs.share_bp = 2500;
	w->gs.mode = FO_GEN_MIRROR;
	assert_ptr_equal(fo_wr_uniform_gen(&w->gs), &w->gen[0]);
	w->gs.mode = FO_GEN_SPLIT;
	w->gs.share_bp = FO_SHARE_MAX;
	assert_ptr_equal(fo_wr_uniform_gen(&w->gs), &w->gen[1]);
	assert_int_equal(fo_wr_predef_named(&w->gs, (const uint8_t *)"g/a", 3, &all), BROKER_PREDEF_ALL);
	assert_ptr_equal(all, sb);
	assert_ptr_equal(fo_wr_client_config(&w->gs, 1), &w->cfg[1].broker);
	/* split: none uniform; each client's generation, for names predefined on either side */
	w->gs.share_bp = 2500;
	assert_null(fo_wr_uniform_gen(&w->gs));
	assert_ptr_equal(fo_wr_client_config(&w->gs, 2499), &w->cfg[1].broker);
	assert_ptr_equal(fo_wr_client_config(&w->gs, 2500), &w->cfg[0].broker);
	assert_int_equal(fo_wr_predef_named(&w->gs, (const uint8_t *)"g/a", 3, &all), BROKER_PREDEF_PER_CLIENT);
	assert_int_equal(fo_wr_predef_named(&w->gs, (const uint8_t *)"g/b", 3, &all), BROKER_PREDEF_PER_CLIENT);
	assert_int_equal(fo_wr_predef_named(&w->gs, (const uint8_t *)"g/c", 3, &all), BROKER_PREDEF_NONE);
	predef_set_free(sa);
	predef_set_free(sb);
	world_fini(w);
	free(w);
}

static void test_generation_selection(void **state)
{
	(void)state;
	struct world *w = aligned_alloc(_Alignof(struct world), sizeof(*w)); /* its counters are cache-line aligned */
	world_init(w, 0, 1);
	bool mirror;
	/* no canary: stable for everyone, whatever the share */
	w->gs.share_bp = FO_SHARE_MAX;
	assert_ptr_equal(fo_wr_serving_gen(&w->gs, 12345, &mirror), &w->gen[0]);
	assert_false(mirror);
	/* split: hash % 10000 < share goes to canary */
	w->gs.canary = &w->gen[1];
	w->gs.share_bp = 2500;
	assert_ptr_equal(fo_wr_serving_gen(&w->gs, 2499, &mirror), &w->gen[1]);
	assert_false(mirror);
	assert_ptr_equal(fo_wr_serving_gen(&w->gs, 2500, &mirror), &w->gen[0]);
	assert_ptr_equal(fo_wr_serving_gen(&w->gs, 10000 + 10, &mirror), &w->gen[1]);
	w->gs.share_bp = 0;
	assert_ptr_equal(fo_wr_serving_gen(&w->gs, 0, &mirror), &w->gen[0]);
	/* mirror: stable serves, the canary client is mirrored */
	w->gs.share_bp = 2500;
	w->gs.mode = FO_GEN_MIRROR;
	assert_ptr_equal(fo_wr_serving_gen(&w->gs, 10, &mirror), &w->gen[0]);
	assert_true(mirror);
	assert_ptr_equal(fo_wr_serving_gen(&w->gs, 9999, &mirror), &w->gen[0]);
	assert_false(mirror);

	/* accounting: a mirrored message counts in both slots, a split one in its own */
	struct broker_result r = publish("a/b", 0, 10, 1);
	r.local_deliveries = 3;
	assert_int_equal(fo_wr_account(&w->wr, &w->gs, &r), 0);
	w->gs.mode = FO_GEN_SPLIT;
	assert_int_equal(fo_wr_account(&w->wr, &w->gs, &r), 1);
	r = publish("a/b", 0, 9999, 2);
	r.fate = FO_FATE_DROPPED;
	r.published = false;
	assert_int_equal(fo_wr_account(&w->wr, &w->gs, &r), 0);
	assert_int_equal(w->gctr[0].msgs, 2);
	assert_int_equal(w->gctr[0].publishes, 1);
	assert_int_equal(w->gctr[0].deliveries, 3);
	assert_int_equal(w->gctr[0].drops, 1);
	assert_int_equal(w->gctr[1].msgs, 2);
	assert_int_equal(w->gctr[1].publishes, 2);
	assert_int_equal(w->gctr[1].deliveries, 6);
	assert_int_equal(w->gctr[1].drops, 0);
	world_fini(w);
	free(w);
}

static void test_udp_routes(void **state)
{
	(void)state;
	struct world *w = aligned_alloc(_Alignof(struct world), sizeof(*w)); /* its counters are cache-line aligned */
	world_init(w, 1, 2);
	w->dest_port[0][1] = 1;
	/* "a/b": r0 (2 copies, raw), r1 (1 copy, mqttsn header), r2 sink, no r3 */
	w->f.verdict = FO_WR_OUT_QUEUED;
	struct broker_result r = publish("a/b", 0, 5, 1);
	assert_int_equal(fo_wr_published(&w->wr, &w->gs, &from, &r, &w->f), MQTTSN_RC_ACCEPTED);
	assert_int_equal(w->f.copies, 3);
	assert_int_equal(w->f.copy_to[0].ip, 0xc6120002u);
	assert_int_equal(w->f.copy_to[1].ifindex, 1);
	assert_int_equal(w->f.copy_hdr_len[0], 0);
	assert_true(w->f.copy_hdr_len[2] > 0); /* mqttsn format: a PUBLISH header */
	assert_int_equal(w->f.entries, 1);
	assert_int_equal(w->f.entry_route[0], 2);
	assert_int_equal(w->f.entry_ack[0], FO_WR_ACK_NONE); /* QoS 0: no PUBACK to defer */
	assert_int_equal(w->gctr[0].route_matched, 3);
	assert_int_equal(w->gctr[0].route_copies, 3);
	/* counted in this worker's row only */
	assert_int_equal(w->rctr[0][1 * 4 + 0].copies, 2);
	assert_int_equal(w->rctr[0][0 * 4 + 0].copies, 0);
	/* "z": no route, nothing */
	r = publish("z", 0, 5, 2);
	assert_int_equal(fo_wr_published(&w->wr, &w->gs, &from, &r, &w->f), MQTTSN_RC_ACCEPTED);
	assert_int_equal(w->f.copies, 3);
	/* every second copy fails: dropped, and copies + dropped = destinations */
	w->f.copies_fail_every = 2;
	for (int i = 0; i < 5; i++) {
		r = publish("a/c", 0, 5, 3); /* r1 only */
		fo_wr_published(&w->wr, &w->gs, &from, &r, &w->f);
	}
	assert_int_equal(w->gctr[0].route_dropped, 3); /* copies 4, 6, 8 failed */
	struct fo_route_ctr s = route_sum(w, 0, 1);
	assert_int_equal(s.copies + s.dropped, 3 + 5);
	assert_int_equal(w->gctr[0].route_copies + w->gctr[0].route_dropped, 3 + 5);
	world_fini(w);
	free(w);
}

static void test_mirror_sends_nothing(void **state)
{
	(void)state;
	struct world *w = aligned_alloc(_Alignof(struct world), sizeof(*w)); /* its counters are cache-line aligned */
	world_init(w, 0, 1);
	w->gs.canary = &w->gen[1];
	w->gs.share_bp = 5000;
	w->gs.mode = FO_GEN_MIRROR;
	w->f.verdict = FO_WR_OUT_QUEUED;
	w->f.neighbour = true;
	struct broker_result r = publish("a/b", 0, 42, 1); /* a canary client */
	assert_int_equal(fo_wr_published(&w->wr, &w->gs, &from, &r, &w->f), MQTTSN_RC_ACCEPTED);
	/* stable sent its 3 copies and 1 entry; the canary counted 3 + 1 and sent nothing */
	assert_int_equal(w->f.copies, 3);
	assert_int_equal(w->f.entries, 1);
	assert_int_equal(w->gctr[0].route_copies, 3);
	assert_int_equal(w->gctr[1].route_matched, 3);
	assert_int_equal(w->gctr[1].route_copies, 0);
	assert_int_equal(w->gctr[1].mirror_copies, 4);
	assert_int_equal(w->gctr[1].out_matched, 0);
	/* unresolved next hops are counted apart */
	w->f.neighbour = false;
	fo_wr_published(&w->wr, &w->gs, &from, &r, &w->f);
	assert_int_equal(w->gctr[1].mirror_no_neighbour, 3);
	assert_int_equal(w->gctr[1].mirror_copies, 5);
	/* a stable client is not mirrored */
	r = publish("a/b", 0, 7000, 2);
	fo_wr_published(&w->wr, &w->gs, &from, &r, &w->f);
	assert_int_equal(w->gctr[1].route_matched, 6);
	assert_int_equal(w->f.copies, 9);
	world_fini(w);
	free(w);
}

static void test_outputs_and_written_pubacks(void **state)
{
	(void)state;
	struct world *w = aligned_alloc(_Alignof(struct world), sizeof(*w)); /* its counters are cache-line aligned */
	world_init(w, 0, 1);
	/* QoS 1 to the written-mode sink: an ack slot, PUBACK deferred until the entry is back */
	w->f.verdict = FO_WR_OUT_QUEUED;
	struct broker_result r = publish("a/b", 1, 5, 77);
	assert_int_equal(fo_wr_published(&w->wr, &w->gs, &from, &r, &w->f), BROKER_PUBACK_DEFERRED);
	assert_int_equal(w->f.entries, 1);
	uint16_t a = w->f.entry_ack[0];
	assert_true(a < 2);
	assert_int_equal(w->f.pubacks, 0);
	fo_wr_ack_done(&w->wr, a, false);
	assert_int_equal(w->f.pubacks, 1);
	assert_int_equal(w->f.puback_rc, MQTTSN_RC_ACCEPTED);
	assert_int_equal(w->f.puback_msg_id, 77);
	assert_int_equal(w->c.ev[FO_EV_PUBACK_DEFERRED], 1);
	/* a failed write: congestion */
	assert_int_equal(fo_wr_published(&w->wr, &w->gs, &from, &r, &w->f), BROKER_PUBACK_DEFERRED);
	fo_wr_ack_done(&w->wr, w->f.entry_ack[1], true);
	assert_int_equal(w->f.puback_rc, MQTTSN_RC_CONGESTION);
	assert_int_equal(w->c.ev[FO_EV_PUBACK_DEFERRED_FAILED], 1);
	/* slots run out: two outstanding, the third is not queued and says congestion */
	assert_int_equal(fo_wr_published(&w->wr, &w->gs, &from, &r, &w->f), BROKER_PUBACK_DEFERRED);
	assert_int_equal(fo_wr_published(&w->wr, &w->gs, &from, &r, &w->f), BROKER_PUBACK_DEFERRED);
	assert_int_equal(fo_wr_published(&w->wr, &w->gs, &from, &r, &w->f), MQTTSN_RC_CONGESTION);
	fo_wr_ack_done(&w->wr, w->f.entry_ack[2], false);
	fo_wr_ack_done(&w->wr, w->f.entry_ack[3], false);
	assert_int_equal(w->f.pubacks, 4);
	/* a full ring: counted ring_full, QoS 1 gets congestion at once (the slot goes back) */
	w->f.verdict = FO_WR_OUT_RING_FULL;
	assert_int_equal(fo_wr_published(&w->wr, &w->gs, &from, &r, &w->f), MQTTSN_RC_CONGESTION);
	/* the bridge route on QoS 0, pool empty: counted, QoS 0 still accepted */
	w->f.verdict = FO_WR_OUT_POOL_EMPTY;
	r = publish("x/y", 0, 5, 0);
	assert_int_equal(fo_wr_published(&w->wr, &w->gs, &from, &r, &w->f), MQTTSN_RC_ACCEPTED);
	assert_int_equal(w->out[FO_MAX_SINKS].pool_empty, 1);
	assert_int_equal(w->out[FO_MAX_SINKS].matched, 1);
	/* both slots are free again: two more deferrals fit */
	w->f.verdict = FO_WR_OUT_QUEUED;
	r = publish("a/b", 1, 5, 78);
	assert_int_equal(fo_wr_published(&w->wr, &w->gs, &from, &r, &w->f), BROKER_PUBACK_DEFERRED);
	assert_int_equal(fo_wr_published(&w->wr, &w->gs, &from, &r, &w->f), BROKER_PUBACK_DEFERRED);
	/* conservation, per route, generation and output */
	struct fo_route_ctr s = route_sum(w, 0, 0);
	assert_int_equal(s.queued + s.ring_full + s.pool_empty, w->rctr[0][2].matched + w->rctr[0][3].matched);
	assert_int_equal(w->gctr[0].out_matched,
			 w->gctr[0].out_queued + w->gctr[0].out_ring_full + w->gctr[0].out_pool_empty);
	for (int o = 0; o < FO_MAX_SINKS + FO_MAX_BRIDGES; o++)
		assert_int_equal(w->out[o].matched, w->out[o].queued + w->out[o].ring_full + w->out[o].pool_empty);
	assert_int_equal(w->out[0].queued, 6);
	assert_int_equal(w->out[0].ring_full, 1);
	assert_int_equal(w->out[0].pool_empty, 1); /* no ack slot */
	world_fini(w);
	free(w);
}

static void test_peers(void **state)
{
	(void)state;
	struct world *w = aligned_alloc(_Alignof(struct world), sizeof(*w)); /* its counters are cache-line aligned */
	world_init(w, 2, 4);
	struct broker_result r = publish("a/b", 1, 5, 1);
	fo_wr_forward(&w->wr, &r, &w->f, 3, 1234);
	assert_int_equal(w->f.posts, 3);
	assert_int_equal(w->f.post_to[0], 0);
	assert_int_equal(w->f.post_to[1], 1);
	assert_int_equal(w->f.post_to[2], 3);
	assert_int_equal(w->c.ev[FO_EV_PEER_FORWARDS], 3);
	w->f.refuse_peer = 1;
	fo_wr_forward(&w->wr, &r, &w->f, 3, 1234);
	assert_int_equal(w->c.ev[FO_EV_PEER_FORWARDS], 5);
	assert_int_equal(w->c.ev[FO_EV_PEER_RING_FULL], 1);
	/* from outside the workers (a bridge): to all of them */
	w->f.refuse_peer = UINT32_MAX;
	struct fo_wr_peer_pub pub = { .topic = (const uint8_t *)"a/b", .topic_len = 3, .gen_slot = FO_GEN_SLOT_NONE };
	assert_int_equal(fo_wr_forward_peers(&w->wr.io, 4, 4, &pub, &w->f), 4);
	fo_wr_peer_delivered(&w->wr, 1, 5);
	fo_wr_peer_delivered(&w->wr, FO_GEN_SLOT_NONE, 5);
	assert_int_equal(w->gctr[1].deliveries, 5);
	world_fini(w);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generation_selection),
		cmocka_unit_test(test_uniform_predefined),
		cmocka_unit_test(test_udp_routes),
		cmocka_unit_test(test_mirror_sends_nothing),
		cmocka_unit_test(test_outputs_and_written_pubacks),
		cmocka_unit_test(test_peers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
