/* worker stage: MQTT-SN datagrams of the clients this worker owns go through its broker
 * engine; the engine's outputs become mbufs here. Replies are small fresh frames; a
 * PUBLISH copy is a header mbuf chained in front of the received payload, shared by
 * reference (ipv4_multicast style), so fan-out never copies payload bytes. Publishes for
 * other workers' subscribers travel as descriptors over their peer rings. */
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_memcpy.h>
#include <rte_prefetch.h>

#include "dataplane.h"
#include "discovery.h"
#include "mqttsn_codec.h"
#include "out_frame.h"
#include "outputs.h"
#include "predef_table.h"
#include "worker_route.h"

#define OUT_MAX 256

/* A frame whose next hop had no MAC yet: built, waiting for the ARP answer (an address is asked
 * before anything goes to it; the reply to a client's first datagram must not be lost for it). */
#define FO_PARK_MAX 64
#define FO_PARK_MS 1000 /* then dropped as no_neighbour */
struct fo_parked {
	struct rte_mbuf *m;
	uint64_t deadline_ms;
	uint32_t dst; /* the frame's destination (fo_resolve finds its next hop) */
	uint16_t ifindex;
	bool v6; /* an IPv6 destination: dst6 (fo_resolve6) */
	uint8_t dst6[16];
};

/* Sessions moving between workers (docs/dataplane.md, "Sessions moving between workers"). */
#define FO_HO_TIMEOUT_MS 1000 /* a claim not answered by every worker asked: CONNACK congestion */
#define FO_HO_GRACE_MS \
	20 /* a holder short of the claimant's cut with an empty peer ring this long: a publish was dropped */
#define FO_HO_WAIT_MS 500  /* a holder answers by then, cut reached or not (the claimant waits FO_HO_TIMEOUT_MS) */
#define FO_HO_SKIP_MAX 4   /* moved sessions whose old worker's cut is still ahead in the peer ring */
#define FO_HO_SKIP_MS 1000 /* ... kept at most this long */
#define FO_HO_PENDING_MAX (2 * FO_MAX_WORKERS)

/* A session taken over: publishes of origin o up to wm[o] were its old worker's to deliver. */
struct fo_ho_skip {
	uint64_t until_ms;
	uint32_t wm[FO_HO_ORIGINS];
	uint8_t client_id_len;
	uint8_t client_id[SESSION_CLIENT_ID_MAX];
};

struct fo_ho_state {
	uint32_t seen[FO_HO_ORIGINS];    /* the last peer publish handled, per origin */
	uint32_t posted[FO_MAX_WORKERS]; /* the last own publish a peer's ring took, per peer */
	/* as claimant: the parked CONNECT, the datagrams of its burst after it, the replies awaited */
	bool announced; /* our presence count for the CONNECT's ClientId, until its session exists */
	bool claiming;
	uint8_t outcome; /* the worst reply without a state: 0, BROKER_CLAIM_OWNED, FO_HO_BUSY */
	uint32_t claim_id;
	uint32_t waiting; /* workers whose reply is awaited, a bit each */
	uint64_t deadline_ms;
	struct fo_ho_msg *state; /* the reply that carried the session */
	struct rte_mbuf *connect;
	struct fo_client from;    /* the datagram's source, as the parked message is handed back */
	struct fo_client client;  /* the client's own address (a forwarded node's with its node id) */
	struct broker_result res; /* the parked CONNECT's result (client hash, flags) */
	uint8_t client_id_len;
	uint8_t client_id[SESSION_CLIENT_ID_MAX];
	unsigned n_rest;
	struct rte_mbuf *rest[FO_MAX_BURST];
	/* as holder: claims waiting until this worker has handled what the claimant had */
	unsigned n_pending;
	struct fo_ho_msg *pending[FO_HO_PENDING_MAX];
	unsigned n_skip;
	struct fo_ho_skip skip[FO_HO_SKIP_MAX];
};

/* Engine callback context: one per worker, used only by its own lcore. */
struct worker_io {
	struct fo_worker *w;
	struct fo_lcore_stats *st;
	uint64_t cur_tsc;          /* rx TSC of the message being handled; 0 = none (timers) */
	uint8_t cur_slot;          /* its generation slot, when known before the engine runs */
	unsigned mark;             /* out[mark..n_out): frames built for the current message */
	struct fo_txer *direct_tx; /* set when the worker's lcore is also its tx lcore: no tx ring hop */
	struct fo_nh_cache nc;     /* resolved next hops (out_frame.h) */
	unsigned n_stash;          /* header mbufs taken from the pool in bulk, used from the top */
	struct rte_mbuf *stash[FO_HDR_STASH];
	struct fo_hdr_sum hs;         /* the last PUBLISH header sent and its sum: fan-out copies share it */
	struct fo_genset *gs;         /* the set read for this burst */
	struct rte_mbuf *cur_payload; /* the packet being handled (io_published routes it) */
	struct fo_worker_route wr;    /* routing and accounting (worker_route.h) */
	struct fo_disc_budget gwinfo; /* GWINFO broadcasts (discovery.gwinfo_broadcasts_per_s) */
	bool parking;                 /* the frame start_frame returned waits for ARP (push_out parks it) */
	bool route_copy;              /* building a route's UDP copy: counted at once, never parked */
	struct fo_parked park_next;
	unsigned n_park;
	struct fo_parked park[FO_PARK_MAX];
	struct fo_ho_state ho;
	unsigned n_out;
	struct rte_mbuf *out[OUT_MAX];
};

static struct worker_io worker_io[FO_MAX_WORKERS];

static void flush_out(struct worker_io *io)
{
	if (io->direct_tx) { /* this lcore is the tx lcore of the worker's ring: send now, in order */
		io->st->c.out_generated += io->n_out;
		fo_tx_send(io->st, io->direct_tx->idx, io->out, io->n_out);
	} else {
		fo_out_enqueue(io->w->tx, io->out, io->n_out, io->st);
	}
	io->n_out = 0;
	io->mark = 0;
}

static inline void push_out(struct worker_io *io, struct rte_mbuf *m)
{
	if (unlikely(io->parking)) {
		io->parking = false;
		io->park_next.m = m;
		io->park[io->n_park++] = io->park_next;
		return;
	}
	io->out[io->n_out++] = m;
	if (io->n_out == OUT_MAX)
		flush_out(io);
}

/* Allocate a header mbuf addressed to the client, with `inline_len` bytes of room after
 * the Ethernet/IPv4/UDP headers. NULL (and the output drop counted) on failure. */
static struct rte_mbuf *start_frame(struct worker_io *io, const struct fo_client *to, size_t inline_len,
				    struct l2l4_udp_spec *spec)
{
	struct fo_lcore_stats *st = io->st;
	bool park = false;
	io->parking = false;
	if (unlikely(to->ifindex >= fo_dp.n_ports)) {
		fo_out_fail(st, FO_OUT_DROP_NO_NEIGHBOUR);
		return NULL;
	}
	struct fo_port *p = &fo_dp.ports[to->ifindex];
	uint64_t ver = fo_neigh_version(p->neigh);
	if (unlikely(to->v6)) {
		/* IPv6: no per-worker cache of next hops (the table's lookup per frame) */
		if (!fo_resolve6(p, to->ip6, spec->dst_mac, io->w->tx, st)) {
			if (io->route_copy || io->n_park >= FO_PARK_MAX || !p->neigh6) {
				fo_out_fail(st, FO_OUT_DROP_NO_NEIGHBOUR);
				return NULL;
			}
			memset(spec->dst_mac, 0, sizeof(spec->dst_mac));
			park = true;
		}
	} else if (unlikely(!fo_nh_get(&io->nc, to->ip, to->ifindex, ver, spec->dst_mac))) {
		if (!fo_resolve(p, to->ip, spec->dst_mac, io->w->tx, st)) {
			/* ARP was asked: a frame for a client waits for the answer (bounded), else it is
			 * dropped; so is a route's copy at once (its route counts it dropped). */
			if (io->route_copy || io->n_park >= FO_PARK_MAX) {
				fo_out_fail(st, FO_OUT_DROP_NO_NEIGHBOUR);
				return NULL;
			}
			memset(spec->dst_mac, 0, sizeof(spec->dst_mac));
			park = true;
		} else {
			fo_nh_put(&io->nc, to->ip, to->ifindex, ver, spec->dst_mac);
		}
	}
	/* Header mbufs come from the pool a stash at a time (one bulk get instead of one per copy);
	 * when the pool cannot fill a whole stash, one at a time as before. */
	struct rte_mbuf *m;
	if (likely(io->n_stash))
		m = io->stash[--io->n_stash];
	else if (rte_pktmbuf_alloc_bulk(fo_dp.hdr_pool, io->stash, FO_HDR_STASH) == 0)
		m = io->stash[(io->n_stash = FO_HDR_STASH - 1)];
	else
		m = rte_pktmbuf_alloc(fo_dp.hdr_pool);
	if (unlikely(!m)) {
		fo_out_fail(st, FO_OUT_DROP_HDR_POOL_EMPTY);
		return NULL;
	}
	/* The next copy's headers go into the next stashed mbuf's data, which nothing has touched
	 * since it was freed: start loading it now, and the mbuf after it, whose buf_addr the next
	 * call reads to do the same (a stash's mbufs leave the cache while its 32 copies are built). */
	if (likely(io->n_stash)) {
		rte_prefetch0(rte_pktmbuf_mtod(io->stash[io->n_stash - 1], void *));
		if (io->n_stash > 1)
			rte_prefetch0(io->stash[io->n_stash - 2]);
	}
	if (io->cur_tsc) {
		struct fo_meta *mt = fo_meta(m);
		mt->rx_tsc = io->cur_tsc;
		mt->gen_slot = io->cur_slot;
		m->ol_flags |= fo_dp.meta_flag;
	}
	fo_frame_spec(spec, &p->ifc, to->ip, to->port);
	if (unlikely(to->v6))
		fo_frame_spec6(spec, &p->ifc, to->ip6);
	size_t need = l2l4_spec_hdr_len(spec) + inline_len;
	if (unlikely(need > rte_pktmbuf_tailroom(m))) {
		rte_pktmbuf_free(m);
		fo_out_fail(st, FO_OUT_DROP_FRAME_TOO_BIG);
		return NULL;
	}
	m->port = p->port_id;
	m->data_len = (uint16_t)need;
	m->pkt_len = (uint32_t)need;
	if (unlikely(park)) { /* the caller's push_out parks it */
		io->parking = true;
		io->park_next = (struct fo_parked){
			.deadline_ms = fo_now_ms() + FO_PARK_MS, .dst = to->ip, .ifindex = to->ifindex, .v6 = to->v6
		};
		if (to->v6)
			memcpy(io->park_next.dst6, to->ip6, 16);
		st->c.ev[FO_EV_FRAME_AWAITS_ARP]++;
	}
	return m;
}

/* Room for the encapsulation of a message to a client behind a forwarder (spec 5.5): length,
 * type, ctrl, the Wireless Node Id. */
#define ENCAP_HDR_MAX (3 + BROKER_NODE_ID_MAX)

/* The encapsulation in front of everything sent to a client behind a forwarder, into eh: 0 for a
 * client speaking to us directly. ctrl holds the radius, 0 for a message to one node. */
static inline uint16_t encap_hdr(const struct fo_client *to, uint8_t ctrl, uint8_t eh[ENCAP_HDR_MAX])
{
	if (likely(to->node_len == 0))
		return 0;
	int n = mqttsn_encode_encap_hdr(eh, ENCAP_HDR_MAX, ctrl, to->node_id, to->node_len);
	if (unlikely(n <= 0))
		return 0; /* cannot happen: the engine keeps node ids of 1..BROKER_NODE_ID_MAX bytes */
	return (uint16_t)n;
}

/* A complete message to one client, encapsulated (with ctrl) when it is behind a forwarder. */
static int send_msg(struct worker_io *io, const struct fo_client *to, uint8_t ctrl, const uint8_t *msg, uint16_t len)
{
	uint8_t eh[ENCAP_HDR_MAX];
	uint16_t elen = encap_hdr(to, ctrl, eh);
	struct l2l4_udp_spec spec;
	struct rte_mbuf *m = start_frame(io, to, elen + len, &spec);
	if (!m)
		return -1;
	uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *);
	if (likely(elen == 0)) {
		fo_frame_reply(b, &spec, msg, len);
	} else {
		uint8_t *at = b + l2l4_spec_hdr_len(&spec);
		memcpy(at, eh, elen);
		memcpy(at + elen, msg, len);
		l2l4_write_udp(b, &spec, (size_t)elen + len, 0, 0);
		io->st->c.ev[FO_EV_ENCAPSULATED_TX]++;
	}
	push_out(io, m);
	return 0;
}

static int io_send(void *ctx, const struct fo_client *to, const uint8_t *msg, uint16_t len)
{
	return send_msg(ctx, to, 0, msg, len);
}

/* broker_io.broadcast: the GWINFO answering a SEARCHGW. A search sent to a broadcast address is
 * answered to that address and the searcher's port, one sent to discovery's multicast group (IPv4
 * or IPv6) to the group and its port, the search's radius as TTL or hop limit (5.4.3), while the
 * worker's budget lasts; a search sent to our own address, any search under discovery.gwinfo:
 * unicast, and one over the budget are answered to the searcher alone. */
static int io_broadcast(void *ctx, const struct fo_client *asker, uint8_t radius, const uint8_t *msg, uint16_t len)
{
	struct worker_io *io = ctx;
	const struct fo_discovery_config *d = &fo_dp.cfg->discovery;
	const struct rte_mbuf *q = io->cur_payload;
	if (asker->node_len) /* through its forwarder, which broadcasts it on its side with the radius */
		return send_msg(io, asker, radius & 0x03, msg, len);
	if (d->gwinfo != FO_GWINFO_BROADCAST || !q || asker->ifindex >= fo_dp.n_ports)
		return io_send(ctx, asker, msg, len);
	const uint8_t *iph = rte_pktmbuf_mtod(q, const uint8_t *) + q->l2_len;
	struct fo_port *p = &fo_dp.ports[asker->ifindex];
	uint32_t dst = 0;
	bool to_group;
	if (asker->v6) { /* the header's destination: the IPv6 group, or our own address */
		to_group = p->ifc.has_group6 && memcmp(iph + 24, p->ifc.group6, 16) == 0;
		if (!to_group)
			return io_send(ctx, asker, msg, len);
	} else {
		dst = (uint32_t)iph[16] << 24 | (uint32_t)iph[17] << 16 | (uint32_t)iph[18] << 8 | iph[19];
		to_group = p->ifc.group && dst == p->ifc.group; /* answered to the group and its port */
		if (!to_group && !fo_disc_is_broadcast(dst, p->ifc.ip, p->ifc.netmask))
			return io_send(ctx, asker, msg, len);
	}
	if (!fo_disc_budget_take(&io->gwinfo, io->w->now_ms, d->gwinfo_broadcasts_per_s)) {
		io->st->c.ev[FO_EV_GWINFO_BROADCAST_LIMITED]++;
		return io_send(ctx, asker, msg, len);
	}
	struct rte_mbuf *m = rte_pktmbuf_alloc(fo_dp.hdr_pool);
	if (unlikely(!m)) {
		fo_out_fail(io->st, FO_OUT_DROP_HDR_POOL_EMPTY);
		return -1;
	}
	struct l2l4_udp_spec spec;
	if (asker->v6) { /* from the port's global address */
		fo_frame_spec(&spec, &p->ifc, 0, p->ifc.group6_port ? p->ifc.group6_port : p->ifc.mqttsn_port);
		spec.dst_ip6 = p->ifc.group6;
		spec.src_ip6 = p->ifc.ip6;
		fo_disc_group6_mac(p->ifc.group6, spec.dst_mac);
	} else {
		fo_frame_spec(&spec, &p->ifc, dst,
			      to_group ? (p->ifc.group_port ? p->ifc.group_port : p->ifc.mqttsn_port) : asker->port);
		fo_disc_group_mac(dst, p->ifc.ip, p->ifc.netmask, spec.dst_mac);
	}
	size_t n = fo_disc_frame(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_tailroom(m), &spec,
				 fo_disc_radius_ttl(radius), msg, len);
	if (unlikely(n == 0)) {
		rte_pktmbuf_free(m);
		fo_out_fail(io->st, FO_OUT_DROP_FRAME_TOO_BIG);
		return -1;
	}
	if (io->cur_tsc) {
		struct fo_meta *mt = fo_meta(m);
		mt->rx_tsc = io->cur_tsc;
		mt->gen_slot = io->cur_slot;
		m->ol_flags |= fo_dp.meta_flag;
	}
	m->data_len = (uint16_t)n;
	m->pkt_len = (uint32_t)n;
	m->port = p->port_id;
	io->st->c.ev[FO_EV_GWINFO_BROADCAST]++;
	push_out(io, m);
	return 0;
}

/* broker_io.client_config and broker_io.predef_named: by the generation set this worker reads
 * (worker_route.h); without one yet, the engine's own config. */
static const struct broker_config *io_client_config(void *ctx, uint32_t client_hash)
{
	struct worker_io *io = ctx;
	return io->gs ? fo_wr_client_config(io->gs, client_hash) : NULL;
}

static int io_predef_named(void *ctx, const uint8_t *name, uint16_t len, const struct predef_set **all)
{
	struct worker_io *io = ctx;
	if (!io->gs) {
		*all = fo_dp.cfg->broker.predef_set;
		return *all ? BROKER_PREDEF_ALL : BROKER_PREDEF_NONE;
	}
	return fo_wr_predef_named(io->gs, name, len, all);
}

/* A PUBLISH (or route) copy. Small payloads are copied into the header mbuf (fo_frame_payload_inline
 * says which); larger ones are shared by reference, the header mbuf chained in front
 * (ipv4_multicast style). For a client behind a forwarder the encapsulation goes into the header
 * mbuf in front of the PUBLISH header: the payload stays shared. */
static int io_send_publish(void *ctx, const struct fo_client *to, const uint8_t *hdr, uint16_t hdr_len, void *payload)
{
	struct worker_io *io = ctx;
	uint8_t eh[ENCAP_HDR_MAX + 16];
	uint16_t elen = encap_hdr(to, 0, eh);
	if (unlikely(elen)) {
		if (unlikely(hdr_len > sizeof(eh) - elen)) {
			fo_out_fail(io->st, FO_OUT_DROP_FRAME_TOO_BIG);
			return -1;
		}
		memcpy(eh + elen, hdr, hdr_len);
		hdr = eh;
		hdr_len = (uint16_t)(elen + hdr_len);
	}
	struct rte_mbuf *pl = payload;
	uint32_t plen = pl->pkt_len;
	/* One UDP datagram holds at most 65507 bytes over IPv4 (65527 over IPv6). A copy cannot be longer
	 * than the message that came in (limits.max_message_bytes keeps that within one datagram) unless
	 * the encapsulation makes it so: then the publish procedure for this receiver is aborted (6.10). */
	if (unlikely(elen) && unlikely((uint32_t)hdr_len + plen > (to->v6 ? 65527u : 65507u))) {
		fo_out_fail(io->st, FO_OUT_DROP_FRAME_TOO_BIG);
		return -1;
	}
	bool copy = fo_frame_payload_inline(plen, pl->nb_segs == 1,
					    to->ifindex < fo_dp.n_ports ? &fo_port_multi_seg[to->ifindex] : NULL,
					    hdr_len, fo_dp.hdr_room);
	struct l2l4_udp_spec spec;
	struct rte_mbuf *m = start_frame(io, to, hdr_len + (copy ? plen : 0), &spec);
	if (!m)
		return -1;
	/* the payload's sum is pl->hash.usr (io_payload_bind) */
	uint8_t *at = fo_frame_publish(rte_pktmbuf_mtod(m, uint8_t *), &spec, &io->hs, hdr, hdr_len, plen,
				       pl->hash.usr);
	if (copy) {
		rte_memcpy(at, rte_pktmbuf_mtod(pl, const uint8_t *), plen);
	} else {
		if (plen) {
			rte_mbuf_refcnt_update(pl, 1);
			m->next = pl;
			m->nb_segs = (uint16_t)(1 + pl->nb_segs);
			m->pkt_len += plen;
		}
	}
	if (unlikely(elen))
		io->st->c.ev[FO_EV_ENCAPSULATED_TX]++;
	push_out(io, m);
	return 0;
}

static void io_payload_bind(void *ctx, void *payload, const uint8_t *data, uint16_t len)
{
	(void)ctx;
	struct rte_mbuf *m = payload;
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint8_t *msg = frame + m->l2_len + m->l3_len + L2L4_UDP_HLEN;
	const uint8_t *udp = msg - L2L4_UDP_HLEN;
	const uint8_t *msg_end = udp + (udp[4] << 8 | udp[5]);
	uint16_t off = (uint16_t)(data - frame);
	rte_pktmbuf_adj(m, off);
	if (m->data_len > len)
		rte_pktmbuf_trim(m, (uint16_t)(m->data_len - len));
	/* The payload's checksum sum, once: every copy's UDP checksum reuses it. When rx summed the
	 * whole message, the payload's sum is that minus the MQTT-SN header's (RFC 1624 style),
	 * byte-swapped when the header has an odd length. */
	if ((m->hash.usr & FO_MSG_SUM_VALID) && data >= msg && data + len == msg_end) {
		m->hash.usr = l2l4_csum_suffix((uint16_t)m->hash.usr, msg, (size_t)(data - msg));
	} else {
		m->hash.usr = l2l4_csum_add(0, data, len);
	}
}

static void io_payload_hold(void *ctx, void *payload)
{
	(void)ctx;
	rte_mbuf_refcnt_update(payload, 1);
}

/* A QoS 1 copy keeps its payload for retransmission: a copy in the held pool, never the rx
 * mbuf, so subscribers that do not acknowledge cannot starve the port of receive buffers. */
static void *io_payload_keep(void *ctx, void *payload)
{
	(void)ctx;
	struct rte_mbuf *m = payload;
	struct rte_mbuf *k = rte_pktmbuf_copy(m, fo_dp.held_pool, 0, UINT32_MAX);
	if (unlikely(!k))
		return NULL;
	k->hash.usr = m->hash.usr; /* the payload's checksum sum (io_payload_bind) */
	return k;
}

/* A payload made from the engine's own bytes (a lost client's will), in the held pool like kept
 * copies, with its checksum sum as io_payload_bind leaves it. */
static void *io_payload_make(void *ctx, const uint8_t *data, uint16_t len)
{
	(void)ctx;
	struct rte_mbuf *m = rte_pktmbuf_alloc(fo_dp.held_pool);
	if (unlikely(!m))
		return NULL;
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, len);
	if (unlikely(!p && len)) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	if (len)
		rte_memcpy(p, data, len);
	m->hash.usr = l2l4_csum_add(0, data, len);
	return m;
}

static void io_payload_release(void *ctx, void *payload)
{
	(void)ctx;
	rte_pktmbuf_free(payload);
}

static void io_interest(void *ctx, const uint8_t *filter, uint16_t len, bool on)
{
	const struct worker_io *io = ctx;
	fo_outputs_interest(io->w->idx, filter, len, on);
}

/* An entry for a sink or bridge route on the output's ring (outputs.h). Small payloads are
 * copied into the entry, larger ones into the held pool, so a backed-up output holds no packet
 * mbufs. ack: the pending PUBACK slot when the route is a written-mode sink and the publish is
 * QoS 1, else FO_OUT_ACK_NONE. */
static enum fo_wr_out_verdict io_out_enqueue(void *ctx, struct fo_generation *g, uint16_t ri,
					     const struct fo_route_config *r, const struct broker_result *res,
					     const struct fo_client *from, void *payload_, uint16_t ack)
{
	struct worker_io *io = ctx;
	struct rte_mbuf *payload = payload_;
	uint8_t oi = r->kind == FO_ROUTE_SINK ? fo_sink_output[r->target] : fo_bridge_output[r->target];
	struct fo_out_msg *m;
	if (unlikely(rte_mempool_get(fo_dp.out_pool, (void **)&m) != 0))
		return FO_WR_OUT_POOL_EMPTY;
	m->rx_tsc = io->cur_tsc;
	m->stream_id_ms = 0;
	m->stream_id_seq = 0;
	m->gen = g;
	m->route = ri;
	m->tmpl = r->tmpl_id;
	m->payload_len = res->payload_len;
	m->topic_len = res->topic_len;
	m->qos = res->qos;
	m->worker = (uint8_t)io->w->idx;
	m->result = FO_OUT_OK;
	m->attempts = 0;
	m->ack = ack;
	m->client_ip = from->ip;
	m->client_v6 = from->v6;
	if (from->v6)
		memcpy(m->client_ip6, from->ip6, 16);
	m->client_port = from->port;
	m->client_id_len = res->client_id_len;
	if (res->client_id_len)
		memcpy(m->client_id, res->client_id, res->client_id_len);
	memcpy(m->topic, res->topic, res->topic_len);
	if (payload->nb_segs == 1 && payload->pkt_len <= FO_OUT_INLINE) {
		memcpy(m->topic + res->topic_len, rte_pktmbuf_mtod(payload, const uint8_t *), payload->pkt_len);
		m->payload_len = (uint16_t)payload->pkt_len;
		m->payload = NULL;
	} else {
		/* A backlog of a stalled Redis or broker holds copies from the held pool, never rx mbufs. */
		m->payload = rte_pktmbuf_copy(payload, fo_dp.held_pool, 0, UINT32_MAX);
		if (unlikely(!m->payload)) {
			rte_mempool_put(fo_dp.out_pool, m);
			return FO_WR_OUT_POOL_EMPTY;
		}
	}
	/* One enqueue per entry, not one per burst: a QoS 1 PUBACK sent in this same call says whether
	 * the entry was taken ("rejected: congestion" when not), so the verdict is needed now. */
	if (unlikely(rte_ring_mp_enqueue(fo_outputs[oi].ring, m) != 0)) {
		rte_pktmbuf_free(m->payload);
		rte_mempool_put(fo_dp.out_pool, m);
		return FO_WR_OUT_RING_FULL;
	}
	return FO_WR_OUT_QUEUED;
}

/* Mirror mode: would a copy to `to` find its next hop now (no ARP asked, nothing sent). */
static bool io_neighbour_known(void *ctx, const struct fo_client *to)
{
	(void)ctx;
	const struct fo_port *p = &fo_dp.ports[to->ifindex];
	uint8_t mac[6];
	if (to->v6) {
		uint8_t nh6[16];
		bool stale;
		return p->neigh6 && l2l4_next_hop6(&p->ifc, to->ip6, p->gateway6, p->has_gateway6, nh6) &&
		       fo_neigh6_resolve(p->neigh6, nh6, 0, mac, &stale);
	}
	uint32_t nh = l2l4_next_hop(to->ip, p->ifc.ip, p->ifc.netmask, p->gateway);
	return nh && fo_neigh_lookup(p->neigh, nh, mac);
}

static bool io_peer_post(void *ctx, uint32_t worker, const struct fo_wr_peer_pub *pub, void *payload)
{
	struct worker_io *io = ctx;
	if (!fo_peer_post(worker, pub, payload, NULL, 0))
		return false;
	io->ho.posted[worker] = pub->seq; /* a claim to that peer names the last one it will see */
	return true;
}

static void io_deferred_puback(void *ctx, const struct fo_client *to, uint16_t topic_id, uint16_t msg_id, uint8_t rc)
{
	struct worker_io *io = ctx;
	broker_deferred_puback(io->w->broker, to, topic_id, msg_id, rc);
}

/* fo_wr_io.send_copy: a route's copy to a UDP destination (the route counts it sent or dropped
 * now, so it never waits for ARP). */
static int io_route_copy(void *ctx, const struct fo_client *to, const uint8_t *hdr, uint16_t hdr_len, void *payload)
{
	struct worker_io *io = ctx;
	io->route_copy = true;
	int rc = io_send_publish(ctx, to, hdr, hdr_len, payload);
	io->route_copy = false;
	return rc;
}

/* broker_io.published: an accepted publish goes through its generation's routes before the
 * engine answers a QoS 1 publisher (worker_route.c decides; the io_* callbacks act). */
static int io_published(void *ctx, const struct fo_client *from, struct broker_result *res)
{
	struct worker_io *io = ctx;
	return fo_wr_published(&io->wr, io->gs, from, res, io->cur_payload);
}

/* broker_io.originated: a will goes through its generation's routes and to the other workers,
 * like a publish this worker accepted. */
static void io_originated(void *ctx, const struct fo_client *from, const struct broker_result *res, void *payload)
{
	struct worker_io *io = ctx;
	struct broker_result r = *res;
	bool mirror;
	uint8_t slot = fo_wr_serving_gen(io->gs, r.client_hash, &mirror)->slot;
	fo_wr_published(&io->wr, io->gs, from, &r, payload); /* no PUBACK: res->originated */
	if (fo_dp.n_workers > 1)
		fo_wr_forward(&io->wr, &r, payload, slot, 0);
}

/* ------------------------------------------------------------------ sessions moving between workers */

#define FO_PRESENCE_MASK (FO_PRESENCE_SLOTS - 1)

static inline bool seq_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/* broker_io.connect_elsewhere: announce the ClientId here, then look at every other worker's
 * count (both sequentially consistent: of two workers doing this at once, one sees the other).
 * The announcement stays until the session exists here (handle_burst) or the claim is over. */
static bool io_connect_elsewhere(void *ctx, const uint8_t *id, uint8_t len)
{
	struct worker_io *io = ctx;
	struct fo_worker *w = io->w;
	if (!w->presence || io->ho.announced)
		return false;
	session_presence_add(w->presence, FO_PRESENCE_MASK, id, len, 1);
	io->ho.announced = true;
	io->ho.client_id_len = len;
	memcpy(io->ho.client_id, id, len);
	uint32_t mask = 0;
	for (uint32_t k = 0; k < fo_dp.n_workers; k++)
		if (k != w->idx && session_presence_get(fo_dp.workers[k].presence, FO_PRESENCE_MASK, id, len))
			mask |= 1u << k;
	io->ho.waiting = mask;
	return mask != 0;
}

static void ho_unannounce(struct worker_io *io)
{
	session_presence_add(io->w->presence, FO_PRESENCE_MASK, io->ho.client_id, io->ho.client_id_len, -1);
	io->ho.announced = false;
}

/* The cut of a session taken over: peer publishes up to the old worker's marks skip it. */
static void ho_skip_add(struct worker_io *io, const struct fo_ho_msg *r)
{
	struct fo_ho_state *h = &io->ho;
	if (h->n_skip == FO_HO_SKIP_MAX) /* the oldest goes: it is the nearest to done */
		memmove(&h->skip[0], &h->skip[1], sizeof(h->skip[0]) * --h->n_skip);
	struct fo_ho_skip *s = &h->skip[h->n_skip];
	s->until_ms = io->w->now_ms + FO_HO_SKIP_MS;
	memcpy(s->wm, r->wm, sizeof(s->wm));
	s->client_id_len = r->client_id_len;
	memcpy(s->client_id, r->client_id, r->client_id_len);
	/* nothing of this worker's own comes through its peer ring */
	s->wm[io->w->idx] = h->seen[io->w->idx];
	bool ahead = false;
	for (unsigned o = 0; o < FO_HO_ORIGINS; o++)
		ahead = ahead || seq_before(h->seen[o], s->wm[o]);
	if (ahead)
		h->n_skip++;
}

/* A peer publish while moved sessions still wait for their cut: the sessions whose old worker
 * delivered it already are passed by; a skip whose cut every origin has passed ends. */
static uint32_t ho_fanout(struct worker_io *io, const struct fo_peer_msg *pm)
{
	struct fo_ho_state *h = &io->ho;
	const uint8_t *id[FO_HO_SKIP_MAX];
	uint8_t len[FO_HO_SKIP_MAX];
	uint32_t n = 0;
	for (unsigned i = 0; i < h->n_skip; i++)
		if (!seq_before(h->skip[i].wm[pm->origin], pm->seq)) {
			id[n] = h->skip[i].client_id;
			len[n++] = h->skip[i].client_id_len;
		}
	uint32_t copies = broker_fanout_except(io->w->broker, pm->topic, pm->topic_len, pm->qos, pm->payload,
					       pm->payload_len, io->w->now_ms, id, len, n);
	unsigned k = 0;
	for (unsigned i = 0; i < h->n_skip; i++) {
		bool ahead = io->w->now_ms < h->skip[i].until_ms;
		if (ahead) {
			ahead = false;
			for (unsigned o = 0; o < FO_HO_ORIGINS && !ahead; o++)
				ahead = seq_before(h->seen[o], h->skip[i].wm[o]);
		}
		if (ahead)
			h->skip[k++] = h->skip[i];
	}
	h->n_skip = k;
	return copies;
}

static void ho_put(struct fo_ho_msg *m)
{
	rte_mempool_put(fo_dp.ho_pool, m);
}

/* A claim for the CONNECT (or wake-up PINGREQ) just parked, to every worker whose count names its ClientId. This
 * worker handles nothing more (datagrams, peer publishes, timers) until the claim is over, so
 * the marks it sends stay true. */
static void ho_claim_start(struct worker_io *io, struct rte_mbuf *m, const struct fo_client *from,
			   const struct broker_result *res, struct fo_lcore_stats *st)
{
	struct fo_ho_state *h = &io->ho;
	struct fo_worker *w = io->w;
	uint32_t ask = h->waiting;
	h->claiming = true;
	h->claim_id++;
	h->connect = m;
	h->from = *from;
	h->client = res->handover_at ? *res->handover_at : *from;
	h->res = *res;
	h->res.handover_at = NULL; /* engine memory: h->client keeps it */
	h->client_id_len = res->client_id_len;
	memcpy(h->client_id, res->client_id, res->client_id_len);
	h->outcome = 0;
	h->state = NULL;
	h->waiting = 0;
	h->deadline_ms = w->now_ms + FO_HO_TIMEOUT_MS;
	st->c.ev[FO_EV_HANDOVER_CLAIMS]++;
	for (uint32_t k = 0; k < fo_dp.n_workers; k++) {
		if (!(ask & (1u << k)))
			continue;
		struct fo_ho_msg *c;
		if (rte_mempool_get(fo_dp.ho_pool, (void **)&c) != 0) {
			h->outcome = FO_HO_BUSY;
			continue;
		}
		c->kind = FO_HO_CLAIM;
		c->from = (uint8_t)w->idx;
		c->result = 0;
		c->clean = res->handover_clean;
		c->bound = res->handover_bound;
		c->wake = res->handover_wake;
		c->client_id_len = h->client_id_len;
		memcpy(c->client_id, h->client_id, h->client_id_len);
		c->claim_id = h->claim_id;
		c->at = h->client;
		c->len = 0;
		memcpy(c->wm, h->seen, sizeof(c->wm));
		c->wm[w->idx] = h->posted[k];
		if (rte_ring_mp_enqueue(fo_dp.workers[k].ho_in, c) != 0) {
			ho_put(c);
			h->outcome = FO_HO_BUSY;
			continue;
		}
		h->waiting |= 1u << k;
	}
}

/* A reply to a claim of ours. One that comes after its claim was given up and carries a state:
 * the client's retry finds the session here, kept at the address it claimed from. */
static void ho_reply(struct worker_io *io, struct fo_ho_msg *r, struct fo_lcore_stats *st)
{
	struct fo_ho_state *h = &io->ho;
	uint32_t bit = r->from < 32 ? 1u << r->from : 0;
	if (!h->claiming || r->claim_id != h->claim_id || !(h->waiting & bit)) {
		if (r->result == BROKER_CLAIM_HELD && r->len) {
			if (broker_session_import(io->w->broker, r->state, r->len, &r->at) == 0) {
				st->c.ev[FO_EV_HANDOVER_LATE]++;
				ho_skip_add(io, r);
			} else {
				st->c.ev[FO_EV_HANDOVER_FAILED]++;
			}
		}
		ho_put(r);
		return;
	}
	h->waiting &= ~bit;
	if (r->result == BROKER_CLAIM_HELD && r->len) {
		if (!h->state) {
			h->state = r;
			return;
		}
		broker_session_discard(io->w->broker, r->state, r->len); /* two held it: the first stays */
		st->c.ev[FO_EV_HANDOVER_DUPLICATE]++;
	} else if (r->result == BROKER_CLAIM_OWNED) {
		if (h->outcome != FO_HO_BUSY)
			h->outcome = BROKER_CLAIM_OWNED;
	} else if (r->result != BROKER_CLAIM_NONE && r->result != BROKER_CLAIM_ENDED) {
		h->outcome = FO_HO_BUSY; /* busy, too big */
	}
	ho_put(r);
}

/* Claims this worker holds: answered once it has handled every peer publish the claimant had
 * (or after the grace: one was dropped on its way here), at once while it claims itself. */
static void ho_answer(struct worker_io *io, struct fo_lcore_stats *st)
{
	struct fo_ho_state *h = &io->ho;
	struct fo_worker *w = io->w;
	unsigned k = 0;
	for (unsigned i = 0; i < h->n_pending; i++) {
		struct fo_ho_msg *c = h->pending[i];
		uint8_t result = FO_HO_BUSY;
		if (!h->claiming) {
			bool ready = true;
			for (unsigned o = 0; o < FO_HO_ORIGINS && ready; o++)
				ready = o == w->idx || !seq_before(h->seen[o], c->wm[o]);
			if (!ready) {
				/* Behind the cut: wait while publishes are still coming in; a publish missing
				 * with the ring empty was dropped on its way here (peer_ring_full). */
				uint64_t waited = w->now_ms - c->arrived_ms;
				if (waited < FO_HO_WAIT_MS &&
				    (waited < FO_HO_GRACE_MS || rte_ring_count(w->peer_in) != 0)) {
					h->pending[k++] = c;
					continue;
				}
				st->c.ev[FO_EV_HANDOVER_CUT_FORCED]++;
			}
			result = (uint8_t)broker_claim(w->broker, c->client_id, c->client_id_len, c->clean, c->wake,
						       c->at.ip, c->bound);
		}
		c->len = 0;
		if (result == BROKER_CLAIM_HELD) {
			int32_t n = broker_session_export(w->broker, c->client_id, c->client_id_len, c->state,
							  FO_HO_STATE_MAX);
			if (n < 0)
				result = FO_HO_TOO_BIG;
			else if (n == 0)
				result = BROKER_CLAIM_NONE;
			else
				c->len = (uint32_t)n;
		}
		uint8_t to = c->from;
		c->kind = FO_HO_REPLY;
		c->from = (uint8_t)w->idx;
		c->result = result;
		memcpy(c->wm, h->seen, sizeof(c->wm));
		c->wm[w->idx] = io->wr.peer_seq;
		if (rte_ring_mp_enqueue(fo_dp.workers[to].ho_in, c) != 0) {
			/* cannot happen: the ring holds the whole pool */
			if (c->len)
				broker_session_discard(w->broker, c->state, c->len);
			st->c.ev[FO_EV_HANDOVER_FAILED]++;
			ho_put(c);
		}
	}
	h->n_pending = k;
}

static void ho_poll(struct worker_io *io, struct fo_lcore_stats *st)
{
	struct fo_ho_state *h = &io->ho;
	struct fo_ho_msg *ms[16];
	unsigned n = rte_ring_sc_dequeue_burst(io->w->ho_in, (void **)ms, RTE_DIM(ms), NULL);
	for (unsigned i = 0; i < n; i++) {
		struct fo_ho_msg *m = ms[i];
		if (m->kind == FO_HO_REPLY) {
			ho_reply(io, m, st);
			continue;
		}
		m->arrived_ms = io->w->now_ms;
		if (h->n_pending < FO_HO_PENDING_MAX) {
			h->pending[h->n_pending++] = m;
		} else { /* cannot happen: a claimant has one claim out at a time */
			m->kind = FO_HO_REPLY;
			m->result = FO_HO_BUSY;
			uint8_t to = m->from;
			m->from = (uint8_t)io->w->idx;
			if (rte_ring_mp_enqueue(fo_dp.workers[to].ho_in, m) != 0)
				ho_put(m);
		}
	}
	if (h->n_pending)
		ho_answer(io, st);
}

int fo_worker_init(struct fo_worker *w)
{
	struct worker_io *io = &worker_io[w->idx];
	io->w = w;
	io->st = &fo_stats[w->lcore_id];
	io->n_out = 0;
	w->ctr = &fo_stats[w->lcore_id].c;
	const struct fo_lcore *lc = fo_dp.lcore_of[w->lcore_id];
	io->direct_tx = lc && lc->txer && lc->txer->ring == w->tx ? lc->txer : NULL;
	struct fo_worker_route *wr = &io->wr;
	*wr = (struct fo_worker_route){
		.io = {
			.ctx = io,
			.send_copy = io_route_copy,
			.neighbour_known = io_neighbour_known,
			.out_enqueue = io_out_enqueue,
			.peer_post = io_peer_post,
			.deferred_puback = io_deferred_puback,
		},
		.worker = w->idx,
		.n_workers = fo_dp.n_workers,
		.sink_output = fo_sink_output,
		.bridge_output = fo_bridge_output,
		.c = &io->st->c,
		.gen = io->st->gen,
		.out = io->st->out,
		.n_acks = fo_outputs_ack_slots(),
	};
	if (wr->n_acks) {
		wr->acks = rte_zmalloc_socket("fo_acks", wr->n_acks * sizeof(*wr->acks), RTE_CACHE_LINE_SIZE,
					      (int)rte_lcore_to_socket_id(w->lcore_id));
		if (!wr->acks) {
			fprintf(stderr, "worker %u: cannot allocate %u pending-PUBACK slots\n", w->idx, wr->n_acks);
			return -1;
		}
	}
	fo_wr_init(wr);
	fo_gen_worker_online(w->idx);
	struct broker_io bio = {
		.ctx = io,
		.send = io_send,
		.send_publish = io_send_publish,
		.payload_bind = io_payload_bind,
		.payload_hold = io_payload_hold,
		.payload_keep = io_payload_keep,
		.payload_release = io_payload_release,
		.payload_make = io_payload_make,
		.published = io_published,
		.originated = io_originated,
		.client_config = io_client_config,
		.predef_named = io_predef_named,
		.broadcast = io_broadcast,
		.interest = fo_outputs_following ? io_interest : NULL,
		.connect_elsewhere = w->presence ? io_connect_elsewhere : NULL,
	};
	const char *err = NULL;
	w->broker = broker_create(&fo_dp.cfg->broker, &bio, w->ctr, &err);
	if (!w->broker) {
		fprintf(stderr, "worker %u: cannot create the MQTT-SN engine: %s\n", w->idx,
			err ? err : "out of memory");
		return -1;
	}
	if (w->presence)
		broker_set_presence(w->broker, w->presence, FO_PRESENCE_MASK);
	return 0;
}

/* Frames that waited for ARP: out once their next hop answered, dropped at their deadline (or
 * all at shutdown). */
static void unpark(struct worker_io *io, bool all)
{
	uint64_t now = fo_now_ms();
	unsigned k = 0;
	for (unsigned i = 0; i < io->n_park; i++) {
		struct fo_parked *q = &io->park[i];
		struct fo_port *p = &fo_dp.ports[q->ifindex];
		uint8_t mac[6];
		if (!all && (q->v6 ? fo_resolve6(p, q->dst6, mac, io->w->tx, io->st)
				   : fo_resolve(p, q->dst, mac, io->w->tx, io->st))) {
			memcpy(rte_pktmbuf_mtod(q->m, uint8_t *), mac, sizeof(mac)); /* Ethernet destination */
			io->parking = false;
			push_out(io, q->m);
		} else if (all || now >= q->deadline_ms) {
			rte_pktmbuf_free(q->m);
			fo_out_fail(io->st, FO_OUT_DROP_NO_NEIGHBOUR);
		} else {
			io->park[k++] = *q;
		}
	}
	io->n_park = k;
}

void fo_worker_fini(struct fo_worker *w)
{
	struct worker_io *io = &worker_io[w->idx];
	if (!w->broker)
		return; /* never started, or already finished */
	unpark(io, true);
	/* A hand-over under way at the stop: its datagrams are shutdown drops, states are given back. */
	struct fo_ho_state *h = &io->ho;
	if (h->connect) {
		rte_pktmbuf_free(h->connect);
		fo_count_drop(&io->st->c, FO_DROP_SHUTDOWN);
		h->connect = NULL;
	}
	for (unsigned i = 0; i < h->n_rest; i++) {
		rte_pktmbuf_free(h->rest[i]);
		fo_count_drop(&io->st->c, FO_DROP_SHUTDOWN);
	}
	h->n_rest = 0;
	if (h->state) {
		broker_session_discard(w->broker, h->state->state, h->state->len);
		ho_put(h->state);
		h->state = NULL;
	}
	for (unsigned i = 0; i < h->n_pending; i++)
		ho_put(h->pending[i]);
	h->n_pending = 0;
	struct fo_ho_msg *hm;
	while (w->ho_in && rte_ring_sc_dequeue(w->ho_in, (void **)&hm) == 0) {
		if (hm->kind == FO_HO_REPLY && hm->result == BROKER_CLAIM_HELD && hm->len)
			broker_session_discard(w->broker, hm->state, hm->len);
		ho_put(hm);
	}
	broker_destroy(w->broker);
	w->broker = NULL;
	io->direct_tx = NULL; /* the ports are stopped by now: leave what is left to the ring's accounting */
	flush_out(io);
	if (io->n_stash) /* back to the pool: they were never handed out */
		rte_pktmbuf_free_bulk(io->stash, io->n_stash);
	io->n_stash = 0;
	rte_free(io->wr.acks);
	io->wr.acks = NULL;
	io->wr.n_acks = 0;
}

/* Finished written-mode entries: when the last one of a publish is back, its PUBACK goes out
 * (accepted when every sink wrote it, congestion when one could not). */
static void handle_acks(struct worker_io *io)
{
	struct rte_ring *r = io->w->ack_in;
	if (!r)
		return;
	struct fo_out_msg *ms[FO_MAX_BURST];
	struct rte_mbuf *pl[FO_MAX_BURST];
	unsigned n = rte_ring_sc_dequeue_burst(r, (void **)ms, fo_dp.burst, NULL);
	if (!n)
		return;
	for (unsigned i = 0; i < n; i++) {
		pl[i] = ms[i]->payload; /* NULL when the payload was inline */
		fo_wr_ack_done(&io->wr, ms[i]->ack, ms[i]->result != FO_OUT_OK);
	}
	rte_pktmbuf_free_bulk(pl, n);
	rte_mempool_put_bulk(fo_dp.out_pool, (void **)ms, n);
}

static void handle_peer_msgs(struct worker_io *io)
{
	struct fo_worker *w = io->w;
	struct fo_peer_msg *msgs[FO_MAX_BURST];
	struct rte_mbuf *pl[FO_MAX_BURST];
	unsigned n = rte_ring_dequeue_burst(w->peer_in, (void **)msgs, fo_dp.burst, NULL);
	if (!n)
		return;
	for (unsigned i = 0; i < n; i++) {
		struct fo_peer_msg *pm = msgs[i];
		io->cur_tsc = pm->rx_tsc;
		io->cur_slot = pm->gen_slot;
		if (pm->retain)
			broker_retain(w->broker, pm->topic, pm->topic_len, pm->qos, pm->payload, pm->payload_len);
		io->ho.seen[pm->origin] = pm->seq;
		uint32_t copies = likely(!io->ho.n_skip) ? broker_fanout(w->broker, pm->topic, pm->topic_len, pm->qos,
									 pm->payload, pm->payload_len, w->now_ms)
							 : ho_fanout(io, pm);
		fo_wr_peer_delivered(&io->wr, pm->gen_slot, copies);
		pl[i] = pm->payload;
	}
	io->cur_tsc = 0;
	rte_pktmbuf_free_bulk(pl, n); /* the copies in flight hold their own references */
	rte_mempool_put_bulk(fo_dp.peer_pool, (void **)msgs, n);
}

/* One chunk of a control-socket listing: bounded work between bursts. */
static void export_step(struct fo_worker *w)
{
	struct fo_export *e = &w->exp;
	uint32_t room = e->limit - e->n;
	if (room > FO_EXPORT_CHUNK)
		room = FO_EXPORT_CHUNK;
	if (room)
		e->n += broker_export(w->broker, (enum broker_export_kind)e->kind, &e->cursor, e->rows + e->n, room);
	if (e->n < e->limit && e->cursor != BROKER_EXPORT_DONE)
		return;
	e->total = e->kind == BROKER_EXPORT_SESSIONS ? broker_session_count(w->broker)
		   : e->kind == BROKER_EXPORT_TOPICS ? broker_topic_count(w->broker)
						     : broker_subscription_count(w->broker);
	atomic_store_explicit(&e->state, FO_EXPORT_DONE, memory_order_release);
}

/* One burst of MQTT-SN datagrams through the engine (from the worker ring, or straight from
 * the rx stage when this lcore runs the whole pipeline). */
static void handle_burst(struct fo_worker *w, struct worker_io *io, struct fo_genset *gs, struct rte_mbuf **pkts,
			 unsigned n, struct fo_lcore_stats *st)
{
	for (unsigned i = 0; i < n; i++) {
		/* Two ahead, the mbuf (both lines: buf_addr, l2_len, fo_meta); one ahead, its data. By
		 * now the burst's mbufs have left L1 since rx classified them, and reading buf_addr to
		 * prefetch the data stalled on the mbuf itself. */
		if (i + 2 < n) {
			rte_prefetch0(pkts[i + 2]);
			rte_prefetch0(RTE_PTR_ADD(pkts[i + 2], RTE_CACHE_LINE_SIZE));
		}
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		struct rte_mbuf *m = pkts[i];
		const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
		const uint8_t *ip = f + m->l2_len;
		const uint8_t *udp = ip + m->l3_len;
		uint16_t ulen = (uint16_t)(udp[4] << 8 | udp[5]);
		struct fo_client from = {
			.ip = (uint32_t)ip[12] << 24 | (uint32_t)ip[13] << 16 | (uint32_t)ip[14] << 8 | ip[15],
			.port = (uint16_t)(udp[0] << 8 | udp[1]),
			.ifindex = fo_dp.port_index[m->port],
		};
		if (unlikely(m->l3_len == L2L4_IP6_HLEN)) { /* rx took it as IPv6 (an IPv4 header is never 40) */
			from.v6 = 1;
			memcpy(from.ip6, ip + 8, 16);
			from.ip = l2l4_ip6_key(from.ip6);
		}
		struct broker_result res;
		io->cur_tsc = fo_meta(m)->rx_tsc;
		io->cur_slot = FO_GEN_SLOT_NONE; /* the side is known once the engine has run */
		io->cur_payload = m;
		io->mark = io->n_out;
		broker_handle(w->broker, &from, udp + L2L4_UDP_HLEN, (uint16_t)(ulen - L2L4_UDP_HLEN), m, w->now_ms,
			      &res);
		if (unlikely(io->ho.announced)) {
			if (res.handover) {
				/* Parked for the claim; the datagrams after it wait with it, in order. */
				ho_claim_start(io, m, &from, &res, st);
				io->ho.n_rest = n - i - 1;
				memcpy(io->ho.rest, pkts + i + 1, sizeof(pkts[0]) * io->ho.n_rest);
				io->cur_tsc = 0;
				if (i)
					rte_pktmbuf_free_bulk(pkts, i);
				return;
			}
			ho_unannounce(io); /* the session exists now (or was refused): its own count stands */
		}
		switch (res.fate) {
		case FO_FATE_DELIVERED: st->c.delivered++; break;
		case FO_FATE_ANSWERED: st->c.answered++; break;
		default: fo_count_drop(&st->c, res.drop); break;
		}
		uint8_t slot = fo_wr_account(&io->wr, gs, &res);
		for (unsigned k = io->mark; k < io->n_out; k++) /* frames the engine built before the side was known */
			fo_meta(io->out[k])->gen_slot = slot;
		if (res.published && fo_dp.n_workers > 1)
			fo_wr_forward(&io->wr, &res, m, slot, io->cur_tsc);
	}
	io->cur_tsc = 0;
	if (n) /* the burst's own references; copies in flight hold theirs */
		rte_pktmbuf_free_bulk(pkts, n);
}

/* Every worker asked has answered, or the time is up: the session's state goes into the engine,
 * then the parked CONNECT (CONNACK after the state), or it is answered here when the hand-over
 * could not complete; a parked wake-up PINGREQ always goes to the engine. Then the rest of its
 * burst. */
static void ho_claim_finish(struct worker_io *io, struct fo_genset *gs, struct fo_lcore_stats *st)
{
	struct fo_ho_state *h = &io->ho;
	struct fo_worker *w = io->w;
	struct rte_mbuf *m = h->connect;
	bool timed_out = h->waiting != 0;
	h->claiming = false; /* replies still coming are late ones now */
	h->waiting = 0;
	h->connect = NULL;
	uint8_t rc = MQTTSN_RC_ACCEPTED;
	if (h->state) {
		if (broker_session_import(w->broker, h->state->state, h->state->len, &h->client) == 0) {
			st->c.ev[FO_EV_HANDOVER_DONE]++;
			ho_skip_add(io, h->state);
		} else {
			st->c.ev[FO_EV_HANDOVER_FAILED]++;
		}
		ho_put(h->state);
		h->state = NULL;
	} else if (timed_out || h->outcome == FO_HO_BUSY) {
		rc = MQTTSN_RC_CONGESTION; /* the client retries */
		st->c.ev[FO_EV_HANDOVER_FAILED]++;
	} else if (h->outcome == BROKER_CLAIM_OWNED) {
		rc = MQTTSN_RC_NOT_SUPPORTED; /* as the owner's worker answers it */
		st->c.ev[h->res.handover_wake ? FO_EV_WAKE_REFUSED : FO_EV_CONNECT_REJECTED_OWNER]++;
	}
	struct broker_result res;
	io->cur_tsc = fo_meta(m)->rx_tsc;
	io->cur_slot = FO_GEN_SLOT_NONE;
	io->cur_payload = m;
	io->mark = io->n_out;
	if (rc == MQTTSN_RC_ACCEPTED || h->res.handover_wake) {
		/* A wake-up PINGREQ that did not get its session is answered as from an unknown client
		 * (DISCONNECT: it connects again, and its CONNECT claims the session). */
		const uint8_t *udp = rte_pktmbuf_mtod(m, const uint8_t *) + m->l2_len + m->l3_len;
		uint16_t ulen = (uint16_t)(udp[4] << 8 | udp[5]);
		broker_handle_claimed(w->broker, &h->from, udp + L2L4_UDP_HLEN, (uint16_t)(ulen - L2L4_UDP_HLEN), m,
				      w->now_ms, &res);
	} else {
		const uint8_t connack[3] = { 3, MQTTSN_CONNACK, rc };
		send_msg(io, &h->client, 0, connack, sizeof(connack)); /* through its forwarder, if any */
		res = h->res;
		res.fate = FO_FATE_ANSWERED;
		res.error_reply = true;
		res.handover = false;
	}
	ho_unannounce(io);
	switch (res.fate) {
	case FO_FATE_DELIVERED: st->c.delivered++; break;
	case FO_FATE_ANSWERED: st->c.answered++; break;
	default: fo_count_drop(&st->c, res.drop); break;
	}
	uint8_t slot = fo_wr_account(&io->wr, gs, &res);
	for (unsigned k = io->mark; k < io->n_out; k++)
		fo_meta(io->out[k])->gen_slot = slot;
	io->cur_tsc = 0;
	rte_pktmbuf_free(m);
	struct rte_mbuf *rest[FO_MAX_BURST];
	unsigned nr = h->n_rest;
	memcpy(rest, h->rest, sizeof(rest[0]) * nr);
	h->n_rest = 0;
	handle_burst(w, io, gs, rest, nr, st);
}

void fo_worker_burst(struct fo_lcore *lc, struct rte_mbuf **pkts, unsigned n, struct fo_lcore_stats *st)
{
	struct fo_worker *w = lc->worker;
	struct worker_io *io = &worker_io[w->idx];
	w->now_ms = fo_now_ms();
	io->gs = fo_genset_read();
	fo_wr_predef_view(w->broker, io->gs);
	handle_burst(w, io, io->gs, pkts, n, st);
	flush_out(io);
}

void fo_stage_worker(struct fo_lcore *lc, struct fo_lcore_stats *st)
{
	struct fo_worker *w = lc->worker;
	struct worker_io *io = &worker_io[w->idx];
	struct rte_mbuf *pkts[FO_MAX_BURST];
	/* One read of the generation set per call; the quiescent report at the end lets the
	 * main lcore reclaim sets it has replaced. (fo_worker_burst() runs within the same
	 * lcore loop iteration, before this call's report.) */
	struct fo_genset *gs = fo_genset_read();

	w->now_ms = fo_now_ms();
	io->gs = gs;
	fo_wr_predef_view(w->broker, gs);
	if (w->ho_in) {
		ho_poll(io, st);
		if (unlikely(io->ho.claiming)) {
			if (io->ho.waiting == 0 || w->now_ms >= io->ho.deadline_ms)
				ho_claim_finish(io, gs, st);
			if (io->ho.claiming) /* still, or again: nothing moves here until the answers */
				goto frozen;
		}
	}
	unsigned n = rte_ring_dequeue_burst(w->in, (void **)pkts, fo_dp.burst, NULL);
	handle_burst(w, io, gs, pkts, n, st);
	if (unlikely(io->ho.claiming))
		goto frozen;
	handle_peer_msgs(io);
	if (unlikely(io->ho.n_pending))
		ho_answer(io, st);
	handle_acks(io);
	if (w->now_ms != w->last_tick_ms) {
		broker_tick(w->broker, w->now_ms);
		w->last_tick_ms = w->now_ms;
	}
	if (unlikely(io->n_park))
		unpark(io, false);
	flush_out(io);
	if (unlikely(atomic_load_explicit(&w->exp.state, memory_order_acquire) == FO_EXPORT_REQUESTED))
		export_step(w);
	fo_gen_worker_quiescent(w->idx);
	return;
frozen:
	/* Claiming: peer publishes, timers and new datagrams wait (the marks the claim carries stay
	 * true); what is already ours goes on. */
	handle_acks(io);
	if (unlikely(io->n_park))
		unpark(io, false);
	flush_out(io);
	if (unlikely(atomic_load_explicit(&w->exp.state, memory_order_acquire) == FO_EXPORT_REQUESTED))
		export_step(w);
	fo_gen_worker_quiescent(w->idx);
}
