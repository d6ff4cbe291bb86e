/* worker stage: MQTT-SN datagrams of the clients this worker owns go through its broker
 * engine; the engine's outputs become mbufs here. Replies are small fresh frames; a
 * PUBLISH copy is a header mbuf chained in front of the received payload, shared by
 * reference (ipv4_multicast style), so fan-out never copies payload bytes. Publishes for
 * other workers' subscribers travel as descriptors over their peer rings. */
#include <rte_ethdev.h>
#include <rte_prefetch.h>

#include "dataplane.h"
#include "mqttsn_codec.h"

#define OUT_MAX 256

/* Engine callback context: one per worker, used only by its own lcore. */
struct worker_io {
	struct fo_worker *w;
	struct fo_lcore_stats *st;
	unsigned n_out;
	struct rte_mbuf *out[OUT_MAX];
};

static struct worker_io worker_io[FO_MAX_WORKERS];

static void flush_out(struct worker_io *io)
{
	fo_out_enqueue(io->w->tx, io->out, io->n_out, io->st);
	io->n_out = 0;
}

static inline void push_out(struct worker_io *io, struct rte_mbuf *m)
{
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
	if (unlikely(to->ifindex >= fo_dp.n_ports)) {
		fo_out_fail(st, FO_OUT_DROP_NO_NEIGHBOUR);
		return NULL;
	}
	struct fo_port *p = &fo_dp.ports[to->ifindex];
	/* Resolve before allocating: a miss costs no mbuf (an ARP request goes out instead). */
	if (!fo_resolve(p, to->ip, spec->dst_mac, io->w->tx, st)) {
		fo_out_fail(st, FO_OUT_DROP_NO_NEIGHBOUR);
		return NULL;
	}
	struct rte_mbuf *m = rte_pktmbuf_alloc(fo_dp.hdr_pool);
	if (unlikely(!m)) {
		fo_out_fail(st, FO_OUT_DROP_HDR_POOL_EMPTY);
		return NULL;
	}
	size_t need = l2l4_udp_hdr_len(p->ifc.vlan) + inline_len;
	if (unlikely(need > rte_pktmbuf_tailroom(m))) {
		rte_pktmbuf_free(m);
		fo_out_fail(st, FO_OUT_DROP_FRAME_TOO_BIG);
		return NULL;
	}
	memcpy(spec->src_mac, p->ifc.mac, 6);
	spec->vlan = p->ifc.vlan;
	spec->src_ip = p->ifc.ip;
	spec->dst_ip = to->ip;
	spec->src_port = p->ifc.mqttsn_port;
	spec->dst_port = to->port;
	m->port = p->port_id;
	m->data_len = (uint16_t)need;
	m->pkt_len = (uint32_t)need;
	return m;
}

static int io_send(void *ctx, const struct fo_client *to, const uint8_t *msg, uint16_t len)
{
	struct worker_io *io = ctx;
	struct l2l4_udp_spec spec;
	struct rte_mbuf *m = start_frame(io, to, len, &spec);
	if (!m)
		return -1;
	uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *);
	size_t hl = l2l4_udp_hdr_len(spec.vlan);
	memcpy(b + hl, msg, len);
	l2l4_write_udp(b, &spec, len, 0, 0);
	push_out(io, m);
	return 0;
}

static int io_send_publish(void *ctx, const struct fo_client *to, const uint8_t *hdr, uint16_t hdr_len, void *payload)
{
	struct worker_io *io = ctx;
	struct rte_mbuf *pl = payload;
	struct l2l4_udp_spec spec;
	struct rte_mbuf *m = start_frame(io, to, hdr_len, &spec);
	if (!m)
		return -1;
	uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *);
	size_t hl = l2l4_udp_hdr_len(spec.vlan);
	memcpy(b + hl, hdr, hdr_len);
	uint32_t plen = pl->pkt_len;
	l2l4_write_udp(b, &spec, hdr_len, plen, plen ? pl->hash.usr : 0);
	if (plen) {
		rte_mbuf_refcnt_update(pl, 1);
		m->next = pl;
		m->nb_segs = (uint16_t)(1 + pl->nb_segs);
		m->pkt_len += plen;
	}
	push_out(io, m);
	return 0;
}

static void io_payload_bind(void *ctx, void *payload, const uint8_t *data, uint16_t len)
{
	(void)ctx;
	struct rte_mbuf *m = payload;
	uint16_t off = (uint16_t)(data - rte_pktmbuf_mtod(m, const uint8_t *));
	rte_pktmbuf_adj(m, off);
	if (m->data_len > len)
		rte_pktmbuf_trim(m, (uint16_t)(m->data_len - len));
	/* The payload's checksum sum, once: every copy's UDP checksum reuses it. */
	m->hash.usr = l2l4_csum_add(0, data, len);
}

static void io_payload_hold(void *ctx, void *payload)
{
	(void)ctx;
	rte_mbuf_refcnt_update(payload, 1);
}

static void io_payload_release(void *ctx, void *payload)
{
	(void)ctx;
	rte_pktmbuf_free(payload);
}

int fo_worker_init(struct fo_worker *w)
{
	struct worker_io *io = &worker_io[w->idx];
	io->w = w;
	io->st = &fo_stats[w->lcore_id];
	io->n_out = 0;
	w->ctr = &fo_stats[w->lcore_id].c;
	struct broker_io bio = {
		.ctx = io,
		.send = io_send,
		.send_publish = io_send_publish,
		.payload_bind = io_payload_bind,
		.payload_hold = io_payload_hold,
		.payload_release = io_payload_release,
	};
	const char *err = NULL;
	w->broker = broker_create(&fo_dp.cfg->broker, &bio, w->ctr, &err);
	if (!w->broker) {
		fprintf(stderr, "worker %u: cannot create the MQTT-SN engine: %s\n", w->idx, err ? err : "out of memory");
		return -1;
	}
	return 0;
}

void fo_worker_fini(struct fo_worker *w)
{
	struct worker_io *io = &worker_io[w->idx];
	if (!w->broker)
		return; /* never started, or already finished */
	broker_destroy(w->broker);
	w->broker = NULL;
	flush_out(io);
}

/* Hand an accepted publish to every other worker (one payload reference each). */
static void forward_to_peers(struct worker_io *io, const struct broker_result *res, struct rte_mbuf *payload)
{
	struct fo_worker *w = io->w;
	for (uint32_t i = 0; i < fo_dp.n_workers; i++) {
		if (i == w->idx)
			continue;
		struct fo_peer_msg *pm;
		if (unlikely(rte_mempool_get(fo_dp.peer_pool, (void **)&pm) != 0)) {
			io->st->c.ev[FO_EV_PEER_RING_FULL]++;
			continue;
		}
		pm->payload = payload;
		pm->payload_len = res->payload_len;
		pm->qos = res->qos;
		pm->topic_len = res->topic_len;
		memcpy(pm->topic, res->topic, res->topic_len);
		rte_mbuf_refcnt_update(payload, 1);
		if (unlikely(rte_ring_enqueue(fo_dp.workers[i].peer_in, pm) != 0)) {
			rte_pktmbuf_free(payload);
			rte_mempool_put(fo_dp.peer_pool, pm);
			io->st->c.ev[FO_EV_PEER_RING_FULL]++;
			continue;
		}
		io->st->c.ev[FO_EV_PEER_FORWARDS]++;
	}
}

static void handle_peer_msgs(struct worker_io *io)
{
	struct fo_worker *w = io->w;
	void *msgs[FO_MAX_BURST];
	unsigned n = rte_ring_dequeue_burst(w->peer_in, msgs, fo_dp.burst, NULL);
	for (unsigned i = 0; i < n; i++) {
		struct fo_peer_msg *pm = msgs[i];
		broker_fanout(w->broker, pm->topic, pm->topic_len, pm->qos, pm->payload, pm->payload_len, w->now_ms);
		rte_pktmbuf_free(pm->payload);
	}
	if (n)
		rte_mempool_put_bulk(fo_dp.peer_pool, msgs, n);
}

void fo_stage_worker(struct fo_lcore *lc, struct fo_lcore_stats *st)
{
	struct fo_worker *w = lc->worker;
	struct worker_io *io = &worker_io[w->idx];
	struct rte_mbuf *pkts[FO_MAX_BURST];

	w->now_ms = fo_now_ms();
	unsigned n = rte_ring_dequeue_burst(w->in, (void **)pkts, fo_dp.burst, NULL);
	for (unsigned i = 0; i < n; i++) {
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
		struct broker_result res;
		broker_handle(w->broker, &from, udp + L2L4_UDP_HLEN, (uint16_t)(ulen - L2L4_UDP_HLEN), m, w->now_ms,
			      &res);
		switch (res.fate) {
		case FO_FATE_DELIVERED: st->c.delivered++; break;
		case FO_FATE_ANSWERED: st->c.answered++; break;
		default: fo_count_drop(&st->c, res.drop); break;
		}
		if (res.published && fo_dp.n_workers > 1)
			forward_to_peers(io, &res, m);
		rte_pktmbuf_free(m); /* copies in flight hold their own references */
	}
	handle_peer_msgs(io);
	if (w->now_ms != w->last_tick_ms) {
		broker_tick(w->broker, w->now_ms);
		w->last_tick_ms = w->now_ms;
	}
	flush_out(io);
}
