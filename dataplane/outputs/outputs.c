/* The output framework (outputs.h): the entry pool, one ring and one control thread per sink
 * and bridge, interned templates, finishing an entry (its accounting and, in written-mode,
 * its return to the worker for the PUBACK), and the OUTPUTS JSON. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mempool.h>

#include "dataplane.h"
#include "json_out.h"
#include "outputs.h"

struct fo_output fo_outputs[FO_MAX_OUTPUTS];
uint32_t fo_n_outputs;
uint8_t fo_sink_output[FO_MAX_SINKS];
uint8_t fo_bridge_output[FO_MAX_BRIDGES];

static uint64_t wall0_us, tsc0;

/* ------------------------------------------------------------------ time */

uint64_t fo_out_wall_us(uint64_t rx_tsc)
{
	int64_t d = (int64_t)(rx_tsc - tsc0);
	return wall0_us + (uint64_t)((double)d * 1e6 / (double)fo_dp.tsc_hz);
}

void fo_out_hist_add(uint64_t *hist, uint64_t v)
{
	unsigned b = v ? 64u - (unsigned)__builtin_clzll(v) : 0;
	hist[b < FO_OUT_HIST ? b : FO_OUT_HIST - 1]++;
}

void fo_out_rtt_add(struct fo_output *o, uint64_t us)
{
	struct fo_out_stats *s = &o->st;
	s->rtt_sum_us += us;
	s->rtt_n++;
	if (us > s->rtt_max_us)
		s->rtt_max_us = us;
	fo_out_hist_add(s->rtt_hist, us);
	s->rtt_fine[fo_lat_bucket(us)]++;
}

static uint32_t ack_slots;

uint32_t fo_outputs_ack_slots(void)
{
	return ack_slots;
}

void fo_out_set_error(struct fo_output *o, const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&o->st.lock);
	va_start(ap, fmt);
	vsnprintf(o->st.last_error, sizeof(o->st.last_error), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&o->st.lock);
}

/* ------------------------------------------------------------------ entries */

void fo_out_finish(struct fo_output *o, struct fo_out_msg *m, bool ok)
{
	struct fo_generation *g = m->gen;
	uint16_t route = m->route;
	uint8_t slot = g->slot;
	if (ok)
		o->st.written++;
	else
		o->st.failed++;
	if (slot < FO_GEN_SLOTS) {
		if (ok)
			o->gen[slot].out_written++;
		else
			o->gen[slot].out_failed++;
	}
	if (m->ack != FO_OUT_ACK_NONE) {
		/* written-mode PUBACK: the worker that queued it answers the publisher (it frees m) */
		m->result = ok ? FO_OUT_OK : FO_OUT_FAILED;
		if (rte_ring_mp_enqueue(fo_dp.workers[m->worker].ack_in, m) != 0) {
			rte_pktmbuf_free(m->payload); /* cannot happen: the ring holds the whole pool (NULL is fine) */
			rte_mempool_put(fo_dp.out_pool, m);
		}
	} else {
		rte_pktmbuf_free(m->payload);
		rte_mempool_put(fo_dp.out_pool, m);
	}
	/* The last touch of the generation: once written + failed reach queued, the main lcore may
	 * free it (fo_outputs_gen_busy). */
	struct fo_route_ctr *rc = &g->rctr[o->row * g->rstride + route];
	if (ok)
		__atomic_store_n(&rc->written, rc->written + 1, __ATOMIC_RELEASE);
	else
		__atomic_store_n(&rc->failed, rc->failed + 1, __ATOMIC_RELEASE);
}

bool fo_outputs_gen_busy(const void *gp)
{
	const struct fo_generation *g = gp;
	if (!g || !g->rctr || !g->cfg || fo_n_outputs == 0)
		return false;
	for (uint32_t r = 0; r < g->cfg->n_routes; r++) {
		if (g->cfg->routes[r].kind == FO_ROUTE_UDP)
			continue;
		uint64_t queued = 0, done = 0;
		for (uint32_t w = 0; w < FO_RCTR_OUT_ROW; w++)
			queued += g->rctr[w * g->rstride + r].queued;
		for (uint32_t o = 0; o < fo_n_outputs; o++) {
			const struct fo_route_ctr *c = &g->rctr[fo_outputs[o].row * g->rstride + r];
			done += __atomic_load_n(&c->written, __ATOMIC_ACQUIRE) +
				__atomic_load_n(&c->failed, __ATOMIC_ACQUIRE);
		}
		if (done < queued)
			return true;
	}
	return false;
}

/* ------------------------------------------------------------------ setup */

bool fo_outputs_following;

void fo_outputs_interest(uint32_t worker, const uint8_t *filter, uint16_t len, bool on)
{
	struct fo_interest_ev ev = { .len = len, .on = on, .worker = (uint8_t)worker };
	if (len > FO_FOLLOW_FILTER_MAX)
		return; /* longer than any followed filter may be: never subscribed upstream */
	memcpy(ev.filter, filter, len);
	for (uint32_t i = 0; i < fo_n_outputs; i++) {
		struct fo_output *o = &fo_outputs[i];
		if (o->interest && rte_ring_mp_enqueue_elem(o->interest, &ev, sizeof(ev)) != 0)
			o->interest_lost_w[worker]++; /* this worker's cell; the bridge thread sums them */
	}
}

static int add_output(uint8_t kind, uint8_t idx, const char *name, uint32_t ring, char *err, size_t errlen)
{
	struct fo_output *o = &fo_outputs[fo_n_outputs];
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->idx = idx;
	o->row = (uint8_t)(FO_RCTR_OUT_ROW + fo_n_outputs);
	o->name = name;
	pthread_mutex_init(&o->st.lock, NULL);
	char rn[RTE_RING_NAMESIZE];
	snprintf(rn, sizeof(rn), "fo_out%u", fo_n_outputs);
	o->ring = rte_ring_create(rn, ring, (int)rte_socket_id(), RING_F_SC_DEQ | RING_F_EXACT_SZ); /* holds `ring` */
	if (!o->ring) {
		snprintf(err, errlen, "%s %s: cannot create its ring of %u entries: %s",
			 kind == FO_OUT_SINK ? "sink" : "bridge", name, ring, rte_strerror(rte_errno));
		return -1;
	}
	fo_n_outputs++;
	return 0;
}

int fo_outputs_init(const struct fo_config *cfg, char *err, size_t errlen)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	tsc0 = rte_get_tsc_cycles();
	wall0_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	ack_slots = 0;
	if (cfg->n_sinks + cfg->n_bridges == 0)
		return 0;
	uint64_t pool = 0;
	bool written_mode = false;
	for (uint32_t i = 0; i < cfg->n_sinks; i++) {
		fo_sink_output[i] = (uint8_t)fo_n_outputs;
		if (add_output(FO_OUT_SINK, (uint8_t)i, cfg->sinks[i].name, cfg->sinks[i].ring, err, errlen) != 0)
			return -1;
		pool += cfg->sinks[i].ring + cfg->sinks[i].batch;
		if (cfg->sinks[i].puback == FO_PUBACK_WRITTEN) {
			written_mode = true;
			ack_slots += cfg->sinks[i].ring + cfg->sinks[i].batch;
		}
	}
	for (uint32_t i = 0; i < cfg->n_bridges; i++) {
		fo_bridge_output[i] = (uint8_t)fo_n_outputs;
		if (add_output(FO_OUT_BRIDGE, (uint8_t)i, cfg->bridges[i].name, cfg->bridges[i].ring, err, errlen) != 0)
			return -1;
		pool += cfg->bridges[i].ring + cfg->bridges[i].max_inflight;
		if (cfg->bridges[i].n_follow) { /* workers -> the bridge: first and last subscribers of a filter */
			struct fo_output *o = &fo_outputs[fo_n_outputs - 1];
			char rn[RTE_RING_NAMESIZE];
			snprintf(rn, sizeof(rn), "fo_int%u", fo_n_outputs - 1);
			o->interest = rte_ring_create_elem(rn, sizeof(struct fo_interest_ev), FO_INTEREST_RING,
							   (int)rte_socket_id(), RING_F_SC_DEQ);
			if (!o->interest) {
				snprintf(err, errlen, "bridge %s: cannot create its interest ring: %s",
					 cfg->bridges[i].name, rte_strerror(rte_errno));
				return -1;
			}
			fo_outputs_following = true;
		}
	}
	/* Every entry is in a ring, in an output's hands, or back in a worker's ack ring: the pool
	 * covers the rings and what the outputs hold, the written-mode entries on their way back,
	 * and the per-lcore caches. */
	unsigned cache = 64;
	pool += ack_slots + (uint64_t)(fo_dp.n_lcores + 2) * cache * 2;
	fo_dp.out_pool = rte_mempool_create("fo_out", (unsigned)pool,
					    sizeof(struct fo_out_msg) + cfg->broker.max_topic_len + FO_OUT_INLINE,
					    cache, 0, NULL, NULL, NULL, NULL, (int)rte_socket_id(), 0);
	if (!fo_dp.out_pool) {
		snprintf(err, errlen, "outputs: cannot create the entry pool (%" PRIu64 " entries): %s", pool,
			 rte_strerror(rte_errno));
		return -1;
	}
	if (ack_slots > FO_OUT_ACK_NONE)
		ack_slots = FO_OUT_ACK_NONE; /* slot ids 0..65534 */
	if (written_mode) {
		uint32_t ack_ring = 64;
		while (ack_ring < pool + 1)
			ack_ring <<= 1;
		for (uint32_t w = 0; w < fo_dp.n_workers; w++) {
			char rn[RTE_RING_NAMESIZE];
			snprintf(rn, sizeof(rn), "fo_ack%u", w);
			fo_dp.workers[w].ack_in = rte_ring_create(rn, ack_ring, (int)rte_socket_id(), RING_F_SC_DEQ);
			if (!fo_dp.workers[w].ack_in) {
				snprintf(err, errlen, "outputs: cannot create worker %u's ack ring: %s", w,
					 rte_strerror(rte_errno));
				return -1;
			}
		}
	}
	for (uint32_t i = 0; i < fo_n_outputs; i++) {
		struct fo_output *o = &fo_outputs[i];
		int rc = o->kind == FO_OUT_SINK ? fo_sink_prepare(o, &cfg->sinks[o->idx], err, errlen)
						: fo_bridge_prepare(o, &cfg->bridges[o->idx], err, errlen);
		if (rc != 0)
			return -1;
	}
	for (uint32_t i = 0; i < fo_n_outputs; i++) {
		struct fo_output *o = &fo_outputs[i];
		char tn[32];
		snprintf(tn, sizeof(tn), "fo-%s-%u", o->kind == FO_OUT_SINK ? "sink" : "bridge", o->idx);
		int rc = rte_ctrl_thread_create(&o->thread, tn, NULL,
						o->kind == FO_OUT_SINK ? fo_sink_thread : fo_bridge_thread, o);
		if (rc != 0) {
			snprintf(err, errlen, "%s: cannot start its thread: %s", o->name, strerror(-rc < 0 ? rc : -rc));
			return -1;
		}
		o->started = true;
	}
	return 0;
}

void fo_outputs_stop(void)
{
	for (uint32_t i = 0; i < fo_n_outputs; i++)
		atomic_store(&fo_outputs[i].stop, true);
	for (uint32_t i = 0; i < fo_n_outputs; i++) {
		struct fo_output *o = &fo_outputs[i];
		if (o->started)
			pthread_join(o->thread, NULL);
		o->started = false;
	}
}

/* ------------------------------------------------------------------ JSON */

static void write_hist(FILE *f, const char *name, const uint64_t *h)
{
	fprintf(f, ",\"%s\":[", name);
	for (int i = 0; i < FO_OUT_HIST; i++)
		fprintf(f, "%s%" PRIu64, i ? "," : "", h[i]);
	fputc(']', f);
}

void fo_output_worker_sum(uint32_t oi, struct fo_out_lcore_ctr *t)
{
	memset(t, 0, sizeof(*t));
#define OUT_ADD_(field, ...) t->field += fo_stats[l].out[oi].field;
	for (unsigned l = 0; l < RTE_MAX_LCORE; l++) {
		FO_FOREACH_OUTPUT_WORKER(OUT_ADD_)
	}
#undef OUT_ADD_
}

static void write_output(FILE *f, const struct fo_output *o)
{
	const struct fo_out_stats *s = &o->st;
	fprintf(f, "{\"name\":");
	fo_json_cstr(f, o->name);
	unsigned ring = rte_ring_count(o->ring);
	fprintf(f,
		",\"kind\":\"%s\",\"connected\":%s,\"connected_since_ms\":%" PRIu64 ",\"ring\":%u,\"ring_size\":%u"
		",\"backlog\":%" PRIu64,
		o->kind == FO_OUT_SINK ? "sink" : "bridge", atomic_load(&s->connected) ? "true" : "false",
		s->connected_since_ms, ring, rte_ring_get_capacity(o->ring), (uint64_t)ring + s->inflight);
#define OUT_JSON_(field, key, ...) fprintf(f, ",\"" key "\":%" PRIu64, src->field);
	const struct fo_out_stats *src = s;
	FO_FOREACH_OUTPUT_THREAD(OUT_JSON_)
	/* the workers' side: what matched this output's routes, and what never reached its ring */
	struct fo_out_lcore_ctr w;
	fo_output_worker_sum((uint32_t)(o - fo_outputs), &w);
	{
		const struct fo_out_lcore_ctr *src = &w;
		FO_FOREACH_OUTPUT_WORKER(OUT_JSON_)
	}
#undef OUT_JSON_
	fprintf(f, ",\"dropped\":%" PRIu64 ",\"batched\":%" PRIu64, s->failed + w.ring_full + w.pool_empty, s->batched);
	write_hist(f, "batch_hist", s->batch_hist);
	fprintf(f,
		",\"rtt_us\":{\"n\":%" PRIu64 ",\"sum\":%" PRIu64 ",\"mean\":%.1f,\"max\":%" PRIu64 ",\"p50\":%" PRIu64
		",\"p99\":%" PRIu64 "}",
		s->rtt_n, s->rtt_sum_us, s->rtt_n ? (double)s->rtt_sum_us / (double)s->rtt_n : 0.0, s->rtt_max_us,
		RTE_MIN(fo_lat_percentile(s->rtt_fine, s->rtt_n, 0.50), s->rtt_max_us),
		RTE_MIN(fo_lat_percentile(s->rtt_fine, s->rtt_n, 0.99), s->rtt_max_us));
	write_hist(f, "rtt_hist", s->rtt_hist);
	char le[sizeof(s->last_error)];
	pthread_mutex_lock((pthread_mutex_t *)&s->lock);
	memcpy(le, s->last_error, sizeof(le));
	pthread_mutex_unlock((pthread_mutex_t *)&s->lock);
	fprintf(f, ",\"last_error\":");
	fo_json_cstr(f, le);
	if (o->kind == FO_OUT_SINK)
		fo_sink_write_json(f, o);
	else
		fo_bridge_write_json(f, o);
	fputc('}', f);
}

void fo_outputs_write_json(FILE *f)
{
	for (int k = 0; k < 2; k++) {
		fprintf(f, k == 0 ? "{\"sinks\":[" : "],\"bridges\":[");
		bool first = true;
		for (uint32_t i = 0; i < fo_n_outputs; i++) {
			if (fo_outputs[i].kind != (k == 0 ? FO_OUT_SINK : FO_OUT_BRIDGE))
				continue;
			if (!first)
				fputc(',', f);
			write_output(f, &fo_outputs[i]);
			first = false;
		}
	}
	fprintf(f, "]}");
}
