/* The worker's routing and accounting (worker_route.h): runs after broker_handle, decides and
 * counts; every packet, ring and pool operation goes through the fo_wr_io callbacks, which the
 * worker stage (stage_worker.c) implements with mbufs and rings and bench/core_replay.c with
 * plain buffers. */
#include "worker_route.h"

#include "mqttsn_codec.h"
#include "predef_table.h"

void fo_wr_init(struct fo_worker_route *wr)
{
	for (uint32_t i = 0; i < wr->n_acks; i++)
		wr->acks[i].next_free = (uint16_t)(i + 1);
	wr->ack_free = 0;
}

static uint16_t ack_alloc(struct fo_worker_route *wr, const struct fo_client *from, const struct broker_result *res)
{
	uint16_t a = wr->ack_free;
	if (a >= wr->n_acks)
		return FO_WR_ACK_NONE;
	struct fo_wr_ack *p = &wr->acks[a];
	wr->ack_free = p->next_free;
	p->to = *from;
	p->topic_id = res->topic_id;
	p->msg_id = res->msg_id;
	p->remaining = 0;
	p->failed = false;
	return a;
}

static void ack_release(struct fo_worker_route *wr, uint16_t a)
{
	wr->acks[a].next_free = wr->ack_free;
	wr->ack_free = a;
}

/* What routing one publish did to its PUBACK. */
struct route_outcome {
	bool out_failed; /* an entry could not be queued */
	uint16_t ack;    /* written-mode slot, FO_WR_ACK_NONE if none */
};

/* A sink or bridge route: an entry on its output's ring, counted per route, generation and
 * output. A QoS 1 publish to a written-mode sink takes a pending-PUBACK slot first; without
 * one it is not queued and its PUBACK says congestion. */
static void route_output(struct fo_worker_route *wr, struct fo_generation *g, uint16_t ri,
			 const struct fo_route_config *r, const struct broker_result *res, const struct fo_client *from,
			 void *payload, struct fo_gen_ctr *gc, struct fo_route_ctr *rc, struct route_outcome *out)
{
	uint8_t oi = r->kind == FO_ROUTE_SINK ? wr->sink_output[r->target] : wr->bridge_output[r->target];
	struct fo_out_lcore_ctr *oc = &wr->out[oi];
	rc->matched++;
	gc->out_matched++;
	oc->matched++;
	uint16_t ack = FO_WR_ACK_NONE;
	if (r->kind == FO_ROUTE_SINK && res->qos == 1 && !res->originated &&
	    g->cfg->sinks[r->target].puback == FO_PUBACK_WRITTEN) {
		if (out->ack == FO_WR_ACK_NONE)
			out->ack = ack_alloc(wr, from, res);
		if (out->ack == FO_WR_ACK_NONE) {
			rc->pool_empty++;
			gc->out_pool_empty++;
			oc->pool_empty++;
			out->out_failed = true;
			return;
		}
		ack = out->ack;
	}
	switch (wr->io.out_enqueue(wr->io.ctx, g, ri, r, res, from, payload, ack)) {
	case FO_WR_OUT_QUEUED:
		rc->queued++;
		gc->out_queued++;
		oc->queued++;
		if (ack != FO_WR_ACK_NONE)
			wr->acks[ack].remaining++;
		return;
	case FO_WR_OUT_POOL_EMPTY:
		rc->pool_empty++;
		gc->out_pool_empty++;
		oc->pool_empty++;
		break;
	case FO_WR_OUT_RING_FULL:
	default:
		rc->ring_full++;
		gc->out_ring_full++;
		oc->ring_full++;
		break;
	}
	out->out_failed = true;
}

/* The publish through generation g's routes: a copy per UDP destination (raw: the payload is the
 * datagram; mqttsn: behind a PUBLISH header), an entry per sink and bridge route. In mirror mode
 * the copies are only counted, with whether the next hop is resolved, and nothing is sent or
 * queued. */
static void route_publish(struct fo_worker_route *wr, struct fo_generation *g, bool mirror,
			  const struct broker_result *res, const struct fo_client *from, void *payload,
			  struct fo_gen_ctr *gc, struct route_outcome *out)
{
	uint16_t idx[FO_MAX_ROUTE_MATCH];
	uint32_t total;
	uint32_t n = route_table_match(g->rt, res->topic, res->topic_len, idx, FO_MAX_ROUTE_MATCH, &total);
	if (__builtin_expect(total == 0, 1))
		return;
	gc->route_matched += total;
	gc->route_unserved += total - n; /* matches beyond the per-publish cap: counted, not sent */
	struct fo_route_ctr *rc = &g->rctr[wr->worker * g->rstride];
	for (uint32_t i = 0; i < n; i++) {
		const struct fo_route_config *r = &g->cfg->routes[idx[i]];
		if (r->kind != FO_ROUTE_UDP) {
			if (mirror)
				gc->mirror_copies++;
			else
				route_output(wr, g, idx[i], r, res, from, payload, gc, &rc[idx[i]], out);
			continue;
		}
		rc[idx[i]].matched++;
		uint8_t hdr[16];
		uint16_t hl = 0;
		if (r->format == FO_ROUTE_MQTTSN) {
			int l = mqttsn_encode_publish_hdr(hdr, sizeof(hdr), MQTTSN_FLAG_QOS0 | MQTTSN_TOPIC_PREDEFINED,
							  r->topic_id, 0, res->payload_len);
			hl = l > 0 ? (uint16_t)l : 0;
		}
		for (uint32_t d = 0; d < r->n_to; d++) {
			struct fo_client to = { .ip = r->to[d].ip,
						.port = r->to[d].port,
						.ifindex = g->dest_port[idx[i]][d] };
			if (mirror) {
				if (wr->io.neighbour_known(wr->io.ctx, &to))
					gc->mirror_copies++;
				else
					gc->mirror_no_neighbour++;
				continue;
			}
			if (wr->io.send_copy(wr->io.ctx, &to, hdr, hl, payload) == 0) {
				gc->route_copies++;
				rc[idx[i]].copies++;
			} else {
				gc->route_dropped++;
				rc[idx[i]].dropped++;
			}
		}
	}
}

int fo_wr_published(struct fo_worker_route *wr, const struct fo_genset *gs, const struct fo_client *from,
		    const struct broker_result *res, void *payload)
{
	bool mirror;
	struct fo_generation *g = fo_wr_serving_gen(gs, res->client_hash, &mirror);
	struct route_outcome out = { .out_failed = false, .ack = FO_WR_ACK_NONE };
	route_publish(wr, g, false, res, from, payload, &wr->gen[g->slot], &out);
	if (mirror)
		route_publish(wr, gs->canary, true, res, from, payload, &wr->gen[gs->canary->slot], &out);
	if (out.ack != FO_WR_ACK_NONE) {
		if (wr->acks[out.ack].remaining > 0) {
			wr->acks[out.ack].failed = out.out_failed;
			return BROKER_PUBACK_DEFERRED;
		}
		ack_release(wr, out.ack);
	}
	return out.out_failed && res->qos == 1 ? MQTTSN_RC_CONGESTION : MQTTSN_RC_ACCEPTED;
}

uint8_t fo_wr_account(struct fo_worker_route *wr, const struct fo_genset *gs, const struct broker_result *res)
{
	bool mirror;
	struct fo_generation *g = fo_wr_serving_gen(gs, res->client_hash, &mirror);
	for (int k = 0; k < (mirror ? 2 : 1); k++) {
		struct fo_gen_ctr *gc = &wr->gen[(k == 0 ? g : gs->canary)->slot];
		gc->msgs++;
		gc->publishes += res->published;
		gc->deliveries += res->local_deliveries;
		gc->error_replies += res->error_reply;
		gc->drops += res->fate == FO_FATE_DROPPED;
	}
	return g->slot;
}

int fo_wr_predef_named(const struct fo_genset *gs, const uint8_t *name, uint16_t len, const struct predef_set **all)
{
	const struct predef_set *st = gs->stable->cfg->broker.predef_set;
	const struct predef_set *ca = gs->canary ? gs->canary->cfg->broker.predef_set : NULL;
	if (!st && !ca)
		return BROKER_PREDEF_NONE;
	const struct fo_generation *g = fo_wr_uniform_gen(gs);
	if (g) {
		*all = g->cfg->broker.predef_set;
		return *all ? BROKER_PREDEF_ALL : BROKER_PREDEF_NONE;
	}
	uint32_t h = predef_name_hash(name, len);
	if (!predef_set_names(st, name, len, h) && !predef_set_names(ca, name, len, h))
		return BROKER_PREDEF_NONE;
	return BROKER_PREDEF_PER_CLIENT;
}

void fo_wr_ack_done(struct fo_worker_route *wr, uint16_t a, bool failed)
{
	if (a >= wr->n_acks)
		return;
	struct fo_wr_ack *p = &wr->acks[a];
	p->failed = p->failed || failed;
	if (--p->remaining > 0)
		return;
	wr->io.deferred_puback(wr->io.ctx, &p->to, p->topic_id, p->msg_id,
			       p->failed ? MQTTSN_RC_CONGESTION : MQTTSN_RC_ACCEPTED);
	wr->c->ev[p->failed ? FO_EV_PUBACK_DEFERRED_FAILED : FO_EV_PUBACK_DEFERRED]++;
	ack_release(wr, a);
}

uint32_t fo_wr_forward_peers(const struct fo_wr_io *io, uint32_t n_workers, uint32_t self,
			     const struct fo_wr_peer_pub *pub, void *payload)
{
	uint32_t taken = 0;
	for (uint32_t i = 0; i < n_workers; i++)
		if (i != self)
			taken += io->peer_post(io->ctx, i, pub, payload);
	return taken;
}

void fo_wr_forward(struct fo_worker_route *wr, const struct broker_result *res, void *payload, uint8_t slot,
		   uint64_t rx_tsc)
{
	struct fo_wr_peer_pub pub = {
		.topic = res->topic,
		.topic_len = res->topic_len,
		.payload_len = res->payload_len,
		.qos = res->qos,
		.retain = res->retain,
		.gen_slot = slot,
		.origin = (uint8_t)wr->worker,
		.seq = ++wr->peer_seq,
		.rx_tsc = rx_tsc,
	};
	uint32_t peers = wr->n_workers - (wr->worker < wr->n_workers);
	uint32_t taken = fo_wr_forward_peers(&wr->io, wr->n_workers, wr->worker, &pub, payload);
	wr->c->ev[FO_EV_PEER_FORWARDS] += taken;
	wr->c->ev[FO_EV_PEER_RING_FULL] += peers - taken;
}
