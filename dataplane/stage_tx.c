/* tx stage: drain this tx lcore's ring and tx_burst per port on the queue this lcore owns
 * (queue index = tx lcore index on every port). A refused packet is retried once right
 * away, then counted (tx_burst_fail) and freed. Chained fan-out frames are
 * flattened only for ports that cannot send multi-segment mbufs. */
#include <rte_ethdev.h>

#include "dataplane.h"


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

/* One burst from the ring to the ports. Returns how many packets were dequeued. */
static unsigned tx_one_burst(struct fo_txer *t, struct fo_lcore_stats *st)
{
	struct rte_mbuf *pkts[FO_MAX_BURST];
	unsigned n = rte_ring_dequeue_burst(t->ring, (void **)pkts, fo_dp.burst, NULL);
	if (n)
		fo_tx_send(st, t->idx, pkts, n);
	return n;
}

void fo_stage_tx(struct fo_lcore *lc, struct fo_lcore_stats *st)
{
	/* Fan-out multiplies packets: a worker burst of 32 publishes to 10 subscribers queues
	 * 320 frames. Drain several bursts per call (bounded, so rx still gets its turn)
	 * instead of one, or the tx ring overflows at a fraction of the port's rate. */
	for (unsigned i = 0; i < FO_TX_BURSTS_PER_CALL; i++)
		if (tx_one_burst(lc->txer, st) < fo_dp.burst)
			break;
}
