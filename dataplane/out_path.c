/* The output path every stage sends through: next-hop resolution against the port's neighbour
 * table (an ARP request on a miss) and the hand-off of generated frames to a tx ring. A library
 * the rx and worker stages call, not a stage of its own. */
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
