/* The lcore loop: which stages an lcore runs and in which order, decided once from its roles
 * (rx, worker, tx) when it starts; the same stage code runs whether one lcore carries every role
 * or each role has its own lcore. Shutdown walks the phases front to back so rings drain before
 * their consumers stop. */
#include "dataplane.h"

enum fo_stage {
	FO_STAGE_RX,            /* poll -> classify -> dispatch to the worker rings */
	FO_STAGE_RX_COMPLETION, /* poll -> classify -> tx -> worker -> dispatch of the rest, per burst */
	FO_STAGE_WORKER,        /* the worker ring, peers, acks, timers */
	FO_STAGE_TX,            /* the tx ring to the ports */
};

static void plan(struct fo_lcore *lc)
{
	lc->n_stages = 0;
	if (lc->roles & FO_ROLE_RX)
		lc->stages[lc->n_stages++] = lc->direct_worker ? FO_STAGE_RX_COMPLETION : FO_STAGE_RX;
	if (lc->roles & FO_ROLE_WORKER)
		lc->stages[lc->n_stages++] = FO_STAGE_WORKER;
	if (lc->roles & FO_ROLE_TX)
		lc->stages[lc->n_stages++] = FO_STAGE_TX;
}

static void run_rx(struct fo_lcore *lc, struct fo_lcore_stats *st)
{
	struct rte_mbuf *pkts[FO_MAX_BURST];
	struct fo_rx_burst b;
	if (lc->reasm)
		fo_reasm_idle(lc->reasm, &st->c);
	for (uint16_t qi = 0; qi < lc->n_rxq; qi++) {
		uint16_t n = fo_rx_poll(lc, qi, pkts, st);
		if (n == 0)
			continue;
		fo_rx_classify(lc, lc->rxq[qi].port, pkts, n, &b, st);
		fo_rx_dispatch(lc, &b, st);
	}
}

/* Run to completion: this lcore is the pipeline's only rx and only worker, so a burst goes
 * through the worker here instead of over the worker ring. */
static void run_rx_completion(struct fo_lcore *lc, struct fo_lcore_stats *st)
{
	struct rte_mbuf *pkts[FO_MAX_BURST];
	struct fo_rx_burst b;
	if (lc->reasm)
		fo_reasm_idle(lc->reasm, &st->c);
	for (uint16_t qi = 0; qi < lc->n_rxq; qi++) {
		uint16_t n = fo_rx_poll(lc, qi, pkts, st);
		if (n == 0)
			continue;
		fo_rx_classify(lc, lc->rxq[qi].port, pkts, n, &b, st);
		if (lc->txer)
			fo_stage_tx(lc, st); /* frames queued earlier (ARP answers) leave first */
		fo_rx_replies_direct(lc, &b, st);
		if (b.n_to_worker[0])
			fo_worker_burst(lc, b.to_worker[0], b.n_to_worker[0], st);
		b.n_to_worker[0] = 0;
		fo_rx_dispatch(lc, &b, st);
	}
}

/* With idle_sleep_us, an lcore that found nothing to do in this many loops in a row sleeps. */
#define FO_IDLE_LOOPS 1024u

int fo_lcore_main(void *arg)
{
	struct fo_lcore *lc = arg;
	struct fo_lcore_stats *st = &fo_stats[lc->lcore_id];
	const uint32_t idle_sleep_us = fo_dp.cfg->idle_sleep_us;
	uint32_t idle = 0;
	int phase;

	plan(lc);
	while ((phase = atomic_load_explicit(&fo_dp.phase, memory_order_acquire)) != FO_DONE) {
		/* Acknowledge the phase before acting on it: once the main lcore sees every
		 * lcore at FO_STOP_RX, no rx burst can still be under way. */
		atomic_store_explicit(&lc->seen_phase, phase, memory_order_release);
		uint64_t before = st->c.rx + st->c.out_generated + st->c.out_sent;
		for (unsigned i = 0; i < lc->n_stages; i++) {
			switch ((enum fo_stage)lc->stages[i]) {
			case FO_STAGE_RX:
				if (phase == FO_RUN)
					run_rx(lc, st);
				break;
			case FO_STAGE_RX_COMPLETION:
				if (phase == FO_RUN)
					run_rx_completion(lc, st);
				break;
			case FO_STAGE_WORKER:
				if (phase <= FO_STOP_RX)
					fo_stage_worker(lc, st);
				break;
			case FO_STAGE_TX: fo_stage_tx(lc, st); break;
			}
		}
		st->c.loops++;
		if (st->c.rx + st->c.out_generated + st->c.out_sent != before) {
			st->c.busy_loops++;
			idle = 0;
		} else if (idle_sleep_us && ++idle >= FO_IDLE_LOOPS) {
			idle = 0;
			rte_delay_us_sleep(idle_sleep_us); /* several appliances on one core (labs, tests) */
		}
	}
	if (lc->worker)
		fo_gen_worker_offline(lc->worker->idx); /* swaps no longer wait for this reader */
	fo_reasm_fini(lc, &st->c);                      /* fragments still waiting for the rest of their datagram */
	atomic_store_explicit(&lc->seen_phase, FO_DONE, memory_order_release);
	return 0;
}
