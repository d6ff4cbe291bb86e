/* The worker's routing and accounting, after the broker engine has handled a message: which
 * generation serves it, which routes and outputs get a publish, the per-generation, per-route and
 * per-output counters, the mirror mode's count-only pass, written-mode PUBACKs and the hand-off
 * to peer workers. Pure: plain structs in, callbacks out (frames, rings, payload references are
 * the caller's), so the dataplane's worker stage, the instruction-count replay and cmocka tests
 * all run this same code. */
#ifndef FANOUT_WORKER_ROUTE_H
#define FANOUT_WORKER_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "fanout/stats_schema.h"
#include "generation.h"
#include "mqttsn_broker.h"

#define FO_WR_ACK_NONE 0xffffu /* no written-mode PUBACK slot */

/* One lcore's worker-side counters of one sink or bridge (fo_outputs[] index). */
struct fo_out_lcore_ctr {
	FO_FOREACH_OUTPUT_WORKER(FO_SCHEMA_FIELD_)
};

/* What became of an entry offered to a sink's or bridge's ring. */
enum fo_wr_out_verdict {
	FO_WR_OUT_QUEUED = 0,
	FO_WR_OUT_POOL_EMPTY, /* no entry or no held payload copy to be had */
	FO_WR_OUT_RING_FULL,
};

/* An accepted publish handed to another worker's engine (its subscribers are there). */
struct fo_wr_peer_pub {
	const uint8_t *topic;
	uint16_t topic_len;
	uint16_t payload_len;
	int8_t qos;
	bool retain;      /* other workers store it as the topic's retained message */
	uint8_t gen_slot; /* the publisher's generation slot, FO_GEN_SLOT_NONE when it has none */
	/* Who handed it to the peers (a worker's index, or FO_WR_ORIGIN_OUTPUT + a bridge's output
	 * index) and its number in that origin's sequence: every peer sees one origin's publishes in
	 * this order, which a session moving between workers is cut by (docs/dataplane.md). */
	uint8_t origin;
	uint32_t seq;
	uint64_t rx_tsc;
};
#define FO_WR_ORIGIN_OUTPUT 16 /* FO_MAX_WORKERS: bridges' origins follow the workers' */

/* The parts that touch packets, rings and pools. */
struct fo_wr_io {
	void *ctx;
	/* One UDP route copy to `to`: hdr (hdr_len bytes, maybe 0) in front of the payload.
	 * 0 when it left for tx; otherwise the callee has counted the output drop. */
	int (*send_copy)(void *ctx, const struct fo_client *to, const uint8_t *hdr, uint16_t hdr_len, void *payload);
	/* Whether `to`'s next hop is resolved right now (mirror mode counts, never sends). */
	bool (*neighbour_known)(void *ctx, const struct fo_client *to);
	/* An entry for route `route` of g (a sink or bridge route) on its output's ring. */
	enum fo_wr_out_verdict (*out_enqueue)(void *ctx, struct fo_generation *g, uint16_t route,
					      const struct fo_route_config *r, const struct broker_result *res,
					      const struct fo_client *from, void *payload, uint16_t ack);
	/* The publish to peer worker `worker`, with its own payload reference; true when queued. */
	bool (*peer_post)(void *ctx, uint32_t worker, const struct fo_wr_peer_pub *pub, void *payload);
	/* A deferred PUBACK is due (broker_deferred_puback). */
	void (*deferred_puback)(void *ctx, const struct fo_client *to, uint16_t topic_id, uint16_t msg_id, uint8_t rc);
};

/* A QoS 1 publish whose PUBACK waits for written-mode sinks (outputs.h). */
struct fo_wr_ack {
	struct fo_client to;
	uint16_t topic_id, msg_id;
	uint16_t remaining; /* entries not yet finished */
	bool failed;        /* one of them was not written: the PUBACK says congestion */
	uint16_t next_free;
};

/* One worker's routing state; written only by that worker's lcore. */
struct fo_worker_route {
	struct fo_wr_io io;
	uint32_t worker; /* this worker's index: its row in a generation's rctr */
	uint32_t n_workers;
	const uint8_t *sink_output;   /* cfg sink index -> output index */
	const uint8_t *bridge_output; /* cfg bridge index -> output index */
	struct fo_counters *c;        /* the lcore's counters (events) */
	struct fo_gen_ctr *gen;       /* [FO_GEN_SLOTS] of the lcore */
	struct fo_out_lcore_ctr *out; /* [FO_MAX_SINKS + FO_MAX_BRIDGES] of the lcore */
	struct fo_wr_ack *acks;       /* n_acks slots (fo_outputs_ack_slots), may be NULL */
	uint32_t n_acks;
	uint16_t ack_free; /* head of the free list, n_acks = none */
	uint32_t peer_seq; /* the last publish this worker handed to its peers (fo_wr_peer_pub.seq) */
};

/* Sets the ack free list; every other field is the caller's to fill before. */
void fo_wr_init(struct fo_worker_route *wr);

/* The generation that serves a client: from its identity hash. In mirror mode stable serves
 * everyone and *mirror says the canary also sees the message (counted, routed without sending). */
static inline struct fo_generation *fo_wr_serving_gen(const struct fo_genset *gs, uint32_t client_hash, bool *mirror)
{
	bool canary = fo_genset_is_canary(gs, client_hash);
	*mirror = canary && gs->mode == FO_GEN_MIRROR;
	return canary && !*mirror ? gs->canary : gs->stable;
}

/* The generation serving every client of gs when one does (no canary, a share of 0 or all of
 * them, or mirror mode), else NULL: a canary share splits the clients. */
static inline const struct fo_generation *fo_wr_uniform_gen(const struct fo_genset *gs)
{
	if (!gs->canary || gs->share_bp == 0 || gs->mode == FO_GEN_MIRROR)
		return gs->stable;
	return gs->share_bp >= FO_SHARE_MAX ? gs->canary : NULL;
}

/* broker_io.client_config for a worker reading gs: the config of the generation serving this
 * client, whose admission rules a CONNECT is held to (a swap changes them at once, no restart). */
static inline const struct broker_config *fo_wr_client_config(const struct fo_genset *gs, uint32_t client_hash)
{
	bool mirror;
	return &fo_wr_serving_gen(gs, client_hash, &mirror)->cfg->broker;
}

/* broker_io.predef_named for a worker reading gs: whose predefined tables a fan-out of the name
 * looks at (enum broker_predef_scope). */
int fo_wr_predef_named(const struct fo_genset *gs, const uint8_t *name, uint16_t len, const struct predef_set **all);

/* broker_predef_view for a worker reading gs, once per burst: the engine is handed the set that
 * serves every client while one generation does (none before the first set: not uniform). */
static inline void fo_wr_predef_view(struct broker *b, const struct fo_genset *gs)
{
	const struct fo_generation *g = gs ? fo_wr_uniform_gen(gs) : NULL;
	broker_predef_view(b, g != NULL, g ? g->cfg->broker.predef_set : NULL);
}

/* broker_io.published: an accepted publish through its generation's routes (and, in mirror
 * mode, the canary's, counted only). Returns the PUBACK's return code for a QoS 1 publisher,
 * or BROKER_PUBACK_DEFERRED when written-mode sinks will decide it (fo_wr_ack_done). */
int fo_wr_published(struct fo_worker_route *wr, const struct fo_genset *gs, const struct fo_client *from,
		    const struct broker_result *res, void *payload);

/* Per-generation accounting of one handled message; returns the serving generation's slot. */
uint8_t fo_wr_account(struct fo_worker_route *wr, const struct fo_genset *gs, const struct broker_result *res);

/* A written-mode entry came back (failed: not written). When it was the publish's last, its
 * PUBACK goes out through io.deferred_puback and the slot is free again. */
void fo_wr_ack_done(struct fo_worker_route *wr, uint16_t ack, bool failed);

/* The publish to every worker but `self` (self >= n_workers: to all). Returns how many took it. */
uint32_t fo_wr_forward_peers(const struct fo_wr_io *io, uint32_t n_workers, uint32_t self,
			     const struct fo_wr_peer_pub *pub, void *payload);

/* The worker's own hand-off of an accepted publish to its peers, counted as peer_forwards and
 * peer_ring_full. */
void fo_wr_forward(struct fo_worker_route *wr, const struct broker_result *res, void *payload, uint8_t slot,
		   uint64_t rx_tsc);

/* Copies a peer's publish made here: deliveries of the publisher's generation. */
static inline void fo_wr_peer_delivered(struct fo_worker_route *wr, uint8_t slot, uint32_t copies)
{
	if (slot < FO_GEN_SLOTS)
		wr->gen[slot].deliveries += copies;
}

#endif
