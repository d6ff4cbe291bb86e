/* The lcore loop: a list of stages chosen by the lcore's roles (rx, worker, tx); the same
 * stage code runs whether one lcore carries every role or each role has its own lcore.
 * Shutdown walks the phases front to back so rings drain before their consumers stop. */
#include "dataplane.h"

int fo_lcore_main(void *arg)
{
	struct fo_lcore *lc = arg;
	struct fo_lcore_stats *st = &fo_stats[lc->lcore_id];
	int phase;

	while ((phase = atomic_load_explicit(&fo_dp.phase, memory_order_acquire)) != FO_DONE) {
		/* Acknowledge the phase before acting on it: once the main lcore sees every
		 * lcore at FO_STOP_RX, no rx burst can still be under way. */
		atomic_store_explicit(&lc->seen_phase, phase, memory_order_release);
		uint64_t before = st->c.rx + st->c.out_generated + st->c.out_sent;
		if ((lc->roles & FO_ROLE_RX) && phase == FO_RUN)
			fo_stage_rx(lc, st);
		if ((lc->roles & FO_ROLE_WORKER) && phase <= FO_STOP_RX)
			fo_stage_worker(lc, st);
		if (lc->roles & FO_ROLE_TX)
			fo_stage_tx(lc, st);
		st->c.loops++;
		if (st->c.rx + st->c.out_generated + st->c.out_sent != before)
			st->c.busy_loops++;
	}
	if (lc->worker)
		fo_gen_worker_offline(lc->worker->idx); /* swaps no longer wait for this reader */
	atomic_store_explicit(&lc->seen_phase, FO_DONE, memory_order_release);
	return 0;
}
