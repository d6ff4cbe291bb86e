/* tx stage: drain this tx lcore's ring to the ports, on the queue this lcore owns (queue
 * index = tx lcore index on every port), through fo_tx_send (out_path.c). */
#include "dataplane.h"

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
