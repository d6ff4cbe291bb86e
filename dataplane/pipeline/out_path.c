/* The output path every stage sends through: next-hop resolution against the port's neighbour
 * table (an ARP request on a miss), the hand-off of generated frames to a tx ring or, on a tx
 * lcore, straight to the ports (tx_burst, one immediate retry, then counted tx_burst_fail; chained
 * fan-out frames flattened only for ports without multi-segment tx), and the hand-off of a
 * publish to a peer worker. A library the stages call, not a stage of its own. */
#include <rte_ethdev.h>

#include "dataplane.h"

void fo_out_enqueue(struct rte_ring *tx, struct rte_mbuf **pkts, unsigned n, struct fo_lcore_stats *st)
{
	if (n == 0)
		return;
	st->c.out_generated += n;
	unsigned q = rte_ring_enqueue_burst(tx, (void **)pkts, n, NULL);
	if (unlikely(q < n)) {
		st->c.out_drop[FO_OUT_DROP_TX_RING_FULL] += n - q;
		st->c.out_dropped += n - q;
		rte_pktmbuf_free_bulk(pkts + q, n - q);
	}
}

void fo_arp_request(struct fo_port *p, uint32_t ip, struct rte_ring *tx, struct fo_lcore_stats *st)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t zero[6] = { 0 };
	struct rte_mbuf *m = rte_pktmbuf_alloc(fo_dp.hdr_pool);
	if (unlikely(!m)) {
		fo_out_fail(st, FO_OUT_DROP_HDR_POOL_EMPTY);
		return;
	}
	uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *);
	size_t n = l2l4_build_arp(b, 1, bcast, p->ifc.mac, p->ifc.ip, zero, ip, p->ifc.vlan);
	m->data_len = m->pkt_len = (uint32_t)n;
	m->port = p->port_id;
	st->c.ev[FO_EV_ARP_REQUESTS_SENT]++;
	fo_out_enqueue(tx, &m, 1, st);
}

bool fo_resolve(struct fo_port *p, uint32_t dst, uint8_t mac[6], struct rte_ring *tx, struct fo_lcore_stats *st)
{
	uint32_t nh = l2l4_next_hop(dst, p->ifc.ip, p->ifc.netmask, p->gateway);
	bool ask;
	bool ok = fo_neigh_next_hop(p->neigh, &st->c, nh, p->ifc.ip, p->ifc.netmask, fo_now_ms(), FO_ARP_RETRY_MS, mac,
				    &ask);
	if (ask) /* unresolved, or resolved but unconfirmed for a while: ask (again) */
		fo_arp_request(p, nh, tx, st);
	return ok;
}

bool fo_peer_post(uint32_t worker, const struct fo_wr_peer_pub *pub, struct rte_mbuf *payload,
		  bool (*wait)(uint64_t deadline), uint64_t deadline)
{
	struct fo_peer_msg *pm;
	while (unlikely(rte_mempool_get(fo_dp.peer_pool, (void **)&pm) != 0))
		if (!wait || !wait(deadline))
			return false;
	pm->payload = payload;
	pm->rx_tsc = pub->rx_tsc;
	pm->gen_slot = pub->gen_slot;
	pm->payload_len = pub->payload_len;
	pm->qos = pub->qos;
	pm->retain = pub->retain;
	pm->topic_len = pub->topic_len;
	memcpy(pm->topic, pub->topic, pub->topic_len);
	/* the reference is the peer's before it can see the descriptor */
	rte_mbuf_refcnt_update(payload, 1);
	while (unlikely(rte_ring_mp_enqueue(fo_dp.workers[worker].peer_in, pm) != 0)) {
		if (!wait || !wait(deadline)) {
			rte_mbuf_refcnt_update(payload, -1);
			rte_mempool_put(fo_dp.peer_pool, pm);
			return false;
		}
	}
	return true;
}

/* Copy a chained frame into one segment for ports without multi-segment tx. */
static struct rte_mbuf *flatten(struct rte_mbuf *m)
{
	struct rte_mbuf *f = rte_pktmbuf_alloc(fo_dp.pkt_pool);
	if (!f)
		return NULL;
	if (m->pkt_len > rte_pktmbuf_tailroom(f)) {
		rte_pktmbuf_free(f);
		return NULL;
	}
	char *dst = rte_pktmbuf_append(f, (uint16_t)m->pkt_len);
	const void *src = rte_pktmbuf_read(m, 0, m->pkt_len, dst);
	if (src != dst)
		memcpy(dst, src, m->pkt_len);
	f->port = m->port;
	if (m->ol_flags & fo_dp.meta_flag) {
		*fo_meta(f) = *fo_meta(m);
		f->ol_flags |= fo_dp.meta_flag;
	}
	rte_pktmbuf_free(m);
	return f;
}

static void send_port(uint16_t pidx, uint16_t queue, struct rte_mbuf **pkts, uint16_t n, struct fo_lcore_stats *st)
{
	struct fo_port *p = &fo_dp.ports[pidx];
	/* rx -> tx latency: read the stamps before tx_burst (the PMD may free the mbufs), count
	 * them for the packets it took. */
	uint64_t tsc[FO_MAX_BURST];
	uint8_t slot[FO_MAX_BURST];
	const uint64_t flag = fo_dp.meta_flag;
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		slot[i] = FO_GEN_SLOT_NONE;
		if (m->ol_flags & flag) {
			const struct fo_meta *mt = fo_meta(m);
			tsc[i] = mt->rx_tsc;
			slot[i] = mt->gen_slot;
			m->ol_flags &= ~flag;
		}
	}
	uint16_t sent = rte_eth_tx_burst(p->port_id, queue, pkts, n);
	if (unlikely(sent < n)) /* one retry: the NIC may have freed descriptors meanwhile */
		sent = (uint16_t)(sent + rte_eth_tx_burst(p->port_id, queue, pkts + sent, (uint16_t)(n - sent)));
	const uint64_t now = rte_get_tsc_cycles();
	for (uint16_t i = 0; i < sent; i++) {
		if (slot[i] >= FO_GEN_SLOTS)
			continue;
		struct fo_gen_ctr *g = &st->gen[slot[i]];
		uint64_t d = now - tsc[i];
		g->lat[fo_lat_bucket(d)]++;
		g->latency_samples++;
		if (d > g->lat_max)
			g->lat_max = d;
	}
	st->c.out_sent += sent;
	st->port_tx[pidx] += sent;
	if (unlikely(sent < n)) {
		st->c.out_drop[FO_OUT_DROP_TX_BURST_FAIL] += n - sent;
		st->c.out_dropped += n - sent;
		rte_pktmbuf_free_bulk(pkts + sent, n - sent);
	}
}

/* Generated frames to the ports, on tx queue `queue` of each (the tx lcore's index). */
void fo_tx_send(struct fo_lcore_stats *st, uint32_t queue, struct rte_mbuf **pkts, unsigned n)
{
	struct rte_mbuf *per_port[FO_MAX_PORTS][FO_MAX_BURST];
	uint16_t n_port[FO_MAX_PORTS];

	while (n) {
		unsigned k = RTE_MIN(n, (unsigned)FO_MAX_BURST);
		memset(n_port, 0, sizeof(n_port[0]) * fo_dp.n_ports);
		for (unsigned i = 0; i < k; i++) {
			struct rte_mbuf *m = pkts[i];
			uint16_t pidx = fo_dp.port_index[m->port];
			if (m->nb_segs > 1 && !fo_port_multi_seg[pidx]) {
				struct rte_mbuf *f = flatten(m);
				if (!f) {
					fo_count_out_drop(&st->c, FO_OUT_DROP_FLATTEN_FAILED);
					rte_pktmbuf_free(m);
					continue;
				}
				m = f;
			}
			per_port[pidx][n_port[pidx]++] = m;
		}
		for (uint16_t p = 0; p < fo_dp.n_ports; p++)
			if (n_port[p])
				send_port(p, (uint16_t)queue, per_port[p], n_port[p], st);
		pkts += k;
		n -= k;
	}
}
