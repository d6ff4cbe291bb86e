/* Generations on the main lcore (generation.h): building a generation from a config (route
 * table, output port per destination, per-route counters), publishing a new genset with one
 * atomic store, waiting a bounded moment for every worker to pass a quiescent point (to
 * report how long a swap takes to reach the packet path) and reclaiming the old set through
 * an rte_rcu_qsbr defer queue when they have not. Control replies are JSON. */
/* The RCU defer queue (rte_rcu_qsbr_dq_*) is still "experimental" in DPDK 22.11's ABI. */
#define ALLOW_EXPERIMENTAL_API 1

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_pause.h>
#include <rte_rcu_qsbr.h>

#include "config_diff.h"
#include "dataplane.h"
#include "generation.h"
#include "json_out.h"
#include "outputs.h"

_Atomic(struct fo_genset *) fo_genset;

static struct rte_rcu_qsbr *rcu;
static struct rte_rcu_qsbr_dq *dq;
static uint32_t n_readers;
static uint32_t max_id; /* highest generation id seen */
static uint32_t slot_rr;

struct slot_meta {
	uint32_t id;            /* 0 = never used */
	struct fo_gen_ctr base; /* counter sums when the generation took the slot */
};
static struct slot_meta slots[FO_GEN_SLOTS];

static struct {
	char command[32];
	uint64_t at_ms, published_ns, all_workers_ns;
	bool observed;
} last_swap;
static uint64_t swaps;

/* Readers outside the main lcore (telemetry) take this; the packet path never does. */
static pthread_mutex_t meta_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fo_gen_summary summary;

/* ------------------------------------------------------------------ RCU readers */

void fo_gen_worker_online(uint32_t idx)
{
	if (rcu && idx < n_readers) {
		rte_rcu_qsbr_thread_register(rcu, idx);
		rte_rcu_qsbr_thread_online(rcu, idx);
	}
}

void fo_gen_worker_quiescent(uint32_t idx)
{
	rte_rcu_qsbr_quiescent(rcu, idx);
}

void fo_gen_worker_offline(uint32_t idx)
{
	if (rcu && idx < n_readers)
		rte_rcu_qsbr_thread_offline(rcu, idx);
}

/* ------------------------------------------------------------------ counters */

static void ctr_add(struct fo_gen_ctr *t, const struct fo_gen_ctr *c)
{
	FO_FOREACH_GEN(FO_SCHEMA_ADD_)
	if (c->lat_max > t->lat_max)
		t->lat_max = c->lat_max;
	for (int i = 0; i < FO_LAT_BUCKETS; i++)
		t->lat[i] += c->lat[i];
}

static void slot_sum(uint8_t slot, struct fo_gen_ctr *t)
{
	memset(t, 0, sizeof(*t));
	for (unsigned l = 0; l < RTE_MAX_LCORE; l++)
		ctr_add(t, &fo_stats[l].gen[slot]);
	for (uint32_t o = 0; o < fo_n_outputs; o++)
		ctr_add(t, &fo_outputs[o].gen[slot]);
}

/* Sum minus the base taken when the generation got its slot. lat_max cannot be rebased: it
 * is the slot's maximum, which a previous tenant may have set, so it is reported only when
 * the slot was fresh or a sample of this generation exceeded it. */
static void slot_since(uint8_t slot, struct fo_gen_ctr *t)
{
	slot_sum(slot, t);
	const struct fo_gen_ctr *b = &slots[slot].base;
	{
		const struct fo_gen_ctr *c = b;
		FO_FOREACH_GEN(FO_SCHEMA_SUB_)
	}
	for (int i = 0; i < FO_LAT_BUCKETS; i++)
		t->lat[i] -= b->lat[i];
	if (t->lat_max == b->lat_max && b->latency_samples > 0) {
		/* the max may be the previous tenant's: fall back to the highest non-empty bucket */
		t->lat_max = 0;
		for (int i = FO_LAT_BUCKETS - 1; i >= 0; i--)
			if (t->lat[i]) {
				t->lat_max = fo_lat_bucket_upper((uint32_t)i);
				break;
			}
	}
}

bool fo_gen_counters(uint32_t id, struct fo_gen_ctr *out, const char **role)
{
	bool found = false;
	pthread_mutex_lock(&meta_lock);
	for (uint8_t s = 0; s < FO_GEN_SLOTS && !found; s++)
		if (slots[s].id == id && id != 0) {
			slot_since(s, out);
			found = true;
		}
	if (found && role)
		*role = id == summary.stable_id ? "stable" : id == summary.canary_id ? "canary" : "retired";
	pthread_mutex_unlock(&meta_lock);
	return found;
}

/* ------------------------------------------------------------------ generations */

static struct fo_generation *zombies; /* retired generations whose output entries are in flight */

static void gen_release(struct fo_generation *g)
{
	if (!g)
		return;
	route_table_free(g->rt);
	free(g->dest_port);
	rte_free(g->rctr);
	fo_config_free(g->cfg);
	free(g);
}

/* A retired generation goes when no output holds its entries (their route rows are its). */
static void gen_free(struct fo_generation *g)
{
	if (!g)
		return;
	if (fo_outputs_gen_busy(g)) {
		g->zombie_next = zombies;
		zombies = g;
		return;
	}
	gen_release(g);
}

static void zombies_poll(bool force)
{
	for (struct fo_generation **pp = &zombies; *pp;) {
		struct fo_generation *g = *pp;
		if (force || !fo_outputs_gen_busy(g)) {
			*pp = g->zombie_next;
			gen_release(g);
		} else {
			pp = &g->zombie_next;
		}
	}
}

/* Under meta_lock: the telemetry thread walks the live set's route rows under it too. */
static void set_free(struct fo_genset *gs)
{
	if (!gs)
		return;
	pthread_mutex_lock(&meta_lock);
	if (gs->stable && --gs->stable->refs == 0)
		gen_free(gs->stable);
	if (gs->canary && --gs->canary->refs == 0)
		gen_free(gs->canary);
	free(gs);
	pthread_mutex_unlock(&meta_lock);
}

static void dq_free(void *p, void *e, unsigned n)
{
	(void)p;
	struct fo_genset **sets = e;
	for (unsigned i = 0; i < n; i++)
		set_free(sets[i]);
}

/* The port a route destination leaves by: the first port on its subnet, else the first port
 * with a gateway (the config loader checked one of them exists). */
static uint16_t dest_port_of(uint32_t ip)
{
	for (uint16_t p = 0; p < fo_dp.n_ports; p++)
		if ((ip & fo_dp.ports[p].ifc.netmask) == (fo_dp.ports[p].ifc.ip & fo_dp.ports[p].ifc.netmask))
			return p;
	for (uint16_t p = 0; p < fo_dp.n_ports; p++)
		if (fo_dp.ports[p].gateway)
			return p;
	return 0;
}

static bool slot_held_by_zombie(uint8_t s)
{
	for (const struct fo_generation *z = zombies; z; z = z->zombie_next)
		if (z->slot == s)
			return true;
	return false;
}

static uint8_t pick_slot(const struct fo_genset *cur)
{
	/* First a slot no retired generation still has output entries in (they count into their
	 * slot); when every free slot has some, one anyway: its counters then mix, never the packet path. */
	for (int pass = 0; pass < 2; pass++)
		for (uint32_t i = 0; i < FO_GEN_SLOTS; i++) {
			uint8_t s = (uint8_t)((slot_rr + i) % FO_GEN_SLOTS);
			if (cur && ((cur->stable && cur->stable->slot == s) || (cur->canary && cur->canary->slot == s)))
				continue;
			if (pass == 0 && slot_held_by_zombie(s))
				continue;
			slot_rr = s + 1u;
			return s;
		}
	return 0; /* unreachable: at most two slots are live */
}

/* Takes ownership of cfg (freed on failure). */
static struct fo_generation *gen_build(struct fo_config *cfg, uint32_t id, char *err, size_t errlen)
{
	struct fo_generation *g = calloc(1, sizeof(*g));
	if (!g) {
		fo_config_free(cfg);
		snprintf(err, errlen, "out of memory building generation %u", id);
		return NULL;
	}
	g->cfg = cfg;
	g->id = id;
	g->fingerprint = fo_generation_fingerprint(cfg);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	g->created_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000; /* wall clock, for operators */
	g->rt = route_table_build(cfg);
	uint32_t nr = cfg->n_routes;
	g->dest_port = calloc(nr ? nr : 1, sizeof(*g->dest_port));
	g->rstride = nr ? nr : 1; /* 64 B each: rows never share a line */
	g->rctr = rte_zmalloc("fo_route_ctr", (size_t)g->rstride * FO_RCTR_ROWS * sizeof(*g->rctr),
			      RTE_CACHE_LINE_SIZE);
	if (!g->rt || !g->dest_port || !g->rctr) {
		gen_free(g);
		snprintf(err, errlen, "out of memory building generation %u (%u routes)", id, nr);
		return NULL;
	}
	for (uint32_t r = 0; r < nr; r++) {
		for (uint32_t d = 0; d < cfg->routes[r].n_to; d++)
			g->dest_port[r][d] = dest_port_of(cfg->routes[r].to[d].ip);
		if (cfg->routes[r].kind != FO_ROUTE_UDP &&
		    (cfg->routes[r].tmpl_id = fo_out_tmpl_intern(cfg->routes[r].tmpl)) == FO_TMPL_NONE) {
			snprintf(err, errlen,
				 "routes[%u]: more than %u distinct stream/topic templates in this run; "
				 "reuse templates or restart the dataplane",
				 r, FO_MAX_TEMPLATES);
			gen_free(g);
			return NULL;
		}
	}
	return g;
}

/* The generation takes its slot: counters from now on are its own. */
static void gen_take_slot(struct fo_generation *g, const struct fo_genset *cur)
{
	g->slot = pick_slot(cur);
	pthread_mutex_lock(&meta_lock);
	slots[g->slot].id = g->id;
	slot_sum(g->slot, &slots[g->slot].base);
	pthread_mutex_unlock(&meta_lock);
	if (g->id > max_id)
		max_id = g->id;
}

static uint64_t cyc_ns(uint64_t c)
{
	return (uint64_t)((double)c * 1e9 / (double)fo_dp.tsc_hz);
}

/* Publish ns (one store), then see every worker pass a quiescent point (bounded), then free
 * or defer the old set. */
static void publish(struct fo_genset *ns, uint64_t t0, const char *command)
{
	if (ns->stable)
		ns->stable->refs++;
	if (ns->canary)
		ns->canary->refs++;
	struct fo_genset *old = atomic_exchange_explicit(&fo_genset, ns, memory_order_acq_rel);
	uint64_t t_pub = rte_get_tsc_cycles();
	bool observed = true;
	if (rcu) {
		uint64_t token = rte_rcu_qsbr_start(rcu);
		uint64_t limit = t_pub + fo_dp.tsc_hz / 1000 * FO_SWAP_OBSERVE_MS;
		while (!(observed = rte_rcu_qsbr_check(rcu, token, false) == 1) && rte_get_tsc_cycles() < limit)
			rte_pause();
	}
	uint64_t t_all = rte_get_tsc_cycles();
	if (old) {
		if (observed)
			set_free(old);
		else if (rte_rcu_qsbr_dq_enqueue(dq, &old) != 0)
			/* cannot happen with a sized queue; the grace period check above bounds the risk */
			set_free(old);
	}
	swaps++;
	snprintf(last_swap.command, sizeof(last_swap.command), "%s", command);
	last_swap.at_ms = fo_now_ms();
	last_swap.published_ns = cyc_ns(t_pub - t0);
	last_swap.all_workers_ns = cyc_ns(t_all - t0);
	last_swap.observed = observed;
	pthread_mutex_lock(&meta_lock);
	summary.stable_id = ns->stable ? ns->stable->id : 0;
	summary.canary_id = ns->canary ? ns->canary->id : 0;
	summary.share_bp = ns->share_bp;
	summary.mode = ns->mode;
	summary.swaps = swaps;
	pthread_mutex_unlock(&meta_lock);
}

static struct fo_genset *set_copy(void)
{
	struct fo_genset *ns = malloc(sizeof(*ns));
	if (ns)
		*ns = *fo_genset_read();
	return ns;
}

static void write_swap(FILE *out)
{
	fprintf(out, "\"published_ns\":%" PRIu64 ",\"all_workers_ns\":%" PRIu64 ",\"all_workers_observed\":%s",
		last_swap.published_ns, last_swap.all_workers_ns, last_swap.observed ? "true" : "false");
}

int fo_gen_init(const char *boot_path, uint32_t n_workers, char *err, size_t errlen)
{
	n_readers = n_workers ? n_workers : 1;
	size_t sz = rte_rcu_qsbr_get_memsize(n_readers);
	rcu = rte_zmalloc("fo_rcu", sz, RTE_CACHE_LINE_SIZE);
	if (!rcu || rte_rcu_qsbr_init(rcu, n_readers) != 0) {
		snprintf(err, errlen, "generations: cannot set up RCU for %u workers: %s", n_readers,
			 rte_strerror(rte_errno));
		return -1;
	}
	struct rte_rcu_qsbr_dq_parameters p = {
		.name = "fo_genset_dq",
		.size = 64,
		.esize = sizeof(struct fo_genset *),
		.trigger_reclaim_limit = 0,
		.max_reclaim_size = 64,
		.free_fn = dq_free,
		.v = rcu,
	};
	dq = rte_rcu_qsbr_dq_create(&p);
	if (!dq) {
		snprintf(err, errlen, "generations: cannot create the RCU defer queue: %s", rte_strerror(rte_errno));
		return -1;
	}
	struct fo_config *cfg;
	char inner[1024];
	if (fo_config_load(boot_path, &cfg, inner, sizeof(inner)) != 0) {
		snprintf(err, errlen, "generations: %s", inner);
		return -1;
	}
	struct fo_generation *g = gen_build(cfg, 1, err, errlen);
	if (!g)
		return -1;
	gen_take_slot(g, NULL);
	struct fo_genset *gs = calloc(1, sizeof(*gs));
	if (!gs) {
		gen_free(g);
		snprintf(err, errlen, "generations: out of memory");
		return -1;
	}
	gs->stable = g;
	gs->mode = FO_GEN_SPLIT;
	publish(gs, rte_get_tsc_cycles(), "boot");
	return 0;
}

void fo_gen_poll(void)
{
	if (dq)
		rte_rcu_qsbr_dq_reclaim(dq, 64, NULL, NULL, NULL);
	zombies_poll(false);
}

void fo_gen_fini(void)
{
	/* Workers have stopped: nothing reads any set any more. */
	if (dq) {
		for (uint32_t i = 0; i < n_readers; i++)
			rte_rcu_qsbr_thread_offline(rcu, i);
		rte_rcu_qsbr_dq_delete(dq);
		dq = NULL;
	}
	set_free(atomic_exchange(&fo_genset, NULL));
	zombies_poll(true); /* the outputs have stopped (fo_outputs_stop) before this */
	rte_free(rcu);
	rcu = NULL;
}

/* ------------------------------------------------------------------ control operations */

struct diff_out {
	FILE *f;
	bool first;
};

static void on_route_change(void *ctx, const char *op, const char *route, const char *detail)
{
	struct diff_out *d = ctx;
	fprintf(d->f, "%s{\"op\":\"%s\",\"route\":", d->first ? "" : ",", op);
	fo_json_cstr(d->f, route);
	fprintf(d->f, ",\"detail\":");
	fo_json_cstr(d->f, detail);
	fputc('}', d->f);
	d->first = false;
}

static void on_gen_key(void *ctx, const char *key, const char *detail)
{
	struct diff_out *d = ctx;
	fprintf(d->f, "%s{\"op\":\"change\",\"key\":", d->first ? "" : ",");
	fo_json_cstr(d->f, key);
	fprintf(d->f, ",\"detail\":");
	fo_json_cstr(d->f, detail);
	fputc('}', d->f);
	d->first = false;
}

static void on_restart_key(void *ctx, const char *key)
{
	struct diff_out *d = ctx;
	fprintf(d->f, "%s", d->first ? "" : ",");
	fo_json_cstr(d->f, key);
	d->first = false;
}

struct key_list {
	char buf[512];
	size_t off;
};

static void collect_key(void *ctx, const char *key)
{
	struct key_list *k = ctx;
	if (k->off < sizeof(k->buf))
		k->off += (size_t)snprintf(k->buf + k->off, sizeof(k->buf) - k->off, "%s%s", k->off ? ", " : "", key);
}

static struct fo_config *parse_candidate(const char *yaml, size_t len, char *err, size_t errlen)
{
	struct fo_config *cfg;
	char inner[1024];
	if (fo_config_parse(yaml, len, &cfg, inner, sizeof(inner)) != 0) {
		snprintf(err, errlen, "config refused: %s", inner);
		return NULL;
	}
	return cfg;
}

static void write_changes(FILE *out, const struct fo_config *from, const struct fo_config *to)
{
	struct diff_out d = { .f = out, .first = true };
	fprintf(out, "\"changes\":[");
	fo_config_diff(from, to, on_route_change, NULL, &d);
	fo_config_gen_keys(from, to, on_gen_key, &d);
	fprintf(out, "]");
}

int fo_gen_diff(const char *yaml, size_t len, FILE *out, char *err, size_t errlen)
{
	struct fo_config *cfg = parse_candidate(yaml, len, err, errlen);
	if (!cfg)
		return -1;
	const struct fo_genset *gs = fo_genset_read();
	fprintf(out, "{\"against\":%u,", gs->stable->id);
	write_changes(out, gs->stable->cfg, cfg);
	struct diff_out d = { .f = out, .first = true };
	fprintf(out, ",\"restart_required\":[");
	fo_config_restart_keys(fo_dp.cfg, cfg, on_restart_key, &d);
	fprintf(out, "]}");
	fo_config_free(cfg);
	return 0;
}

int fo_gen_load(const char *yaml, size_t len, uint32_t id, bool as_stable, uint64_t t0, FILE *out, char *err,
		size_t errlen)
{
	struct fo_config *cfg = parse_candidate(yaml, len, err, errlen);
	if (!cfg)
		return -1;
	struct key_list keys = { .off = 0 };
	if (fo_config_restart_keys(fo_dp.cfg, cfg, collect_key, &keys) != 0) {
		snprintf(err, errlen,
			 "config refused: %s differ from the running dataplane and need a restart; "
			 "change only `routes:`, `security.admission`, `security.admission_unlisted`, "
			 "`mqttsn.predefined_topics` and `mqttsn.client_predefined` at run time",
			 keys.buf);
		fo_config_free(cfg);
		return -1;
	}
	const struct fo_genset *cur = fo_genset_read();
	struct fo_generation *same = as_stable ? cur->stable : cur->canary;
	if (id != 0 && same && same->id == id) {
		uint64_t fp = fo_generation_fingerprint(cfg);
		fo_config_free(cfg);
		if (fp != same->fingerprint) {
			snprintf(err, errlen,
				 "generation %u is already %s with other routes, admission rules or predefined topics; "
				 "number a new "
				 "generation above %u",
				 id, as_stable ? "stable" : "canary", max_id);
			return -1;
		}
		fprintf(out, "{\"generation\":%u,\"as\":\"%s\",\"unchanged\":true,\"changes\":[]}", id,
			as_stable ? "stable" : "canary");
		return 0;
	}
	if (id != 0 && id <= max_id) {
		snprintf(err, errlen,
			 "generation id %u is not above the highest one seen (%u); number generations "
			 "upward, or omit ID",
			 id, max_id);
		fo_config_free(cfg);
		return -1;
	}
	if (id == 0)
		id = max_id + 1;
	if (id > INT32_MAX) {
		snprintf(err, errlen, "generation id %u is too large (at most %d)", id, INT32_MAX);
		fo_config_free(cfg);
		return -1;
	}
	struct fo_generation *g = gen_build(cfg, id, err, errlen);
	if (!g)
		return -1;
	struct fo_genset *ns = set_copy();
	if (!ns) {
		gen_free(g);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	gen_take_slot(g, cur);
	fprintf(out, "{\"generation\":%u,\"as\":\"%s\",", id, as_stable ? "stable" : "canary");
	write_changes(out, cur->stable->cfg, g->cfg);
	if (as_stable) {
		ns->stable = g;
		ns->canary = NULL;
	} else {
		ns->canary = g;
	}
	ns->share_bp = 0;
	publish(ns, t0, as_stable ? "load stable" : "load canary");
	fputc(',', out);
	write_swap(out);
	fputc('}', out);
	return 0;
}

int fo_gen_set_share(uint32_t bp, uint64_t t0, FILE *out, char *err, size_t errlen)
{
	if (bp > FO_SHARE_MAX) {
		snprintf(err, errlen, "share %u is above 10000 basis points (100 %%)", bp);
		return -1;
	}
	if (bp > 0 && !fo_genset_read()->canary) {
		snprintf(err, errlen, "no canary generation is loaded; load one with CONFIG LOAD <yaml> first");
		return -1;
	}
	struct fo_genset *ns = set_copy();
	if (!ns) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ns->share_bp = bp;
	publish(ns, t0, "share");
	fprintf(out, "{\"share_bp\":%u,", bp);
	write_swap(out);
	fputc('}', out);
	return 0;
}

int fo_gen_set_mode(enum fo_gen_mode mode, uint64_t t0, FILE *out, char *err, size_t errlen)
{
	struct fo_genset *ns = set_copy();
	if (!ns) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ns->mode = (uint8_t)mode;
	publish(ns, t0, "mode");
	fprintf(out, "{\"mode\":\"%s\",", mode == FO_GEN_MIRROR ? "mirror" : "split");
	write_swap(out);
	fputc('}', out);
	return 0;
}

int fo_gen_promote(uint64_t t0, FILE *out, char *err, size_t errlen)
{
	if (!fo_genset_read()->canary) {
		snprintf(err, errlen, "no canary generation to promote; load one with CONFIG LOAD first");
		return -1;
	}
	struct fo_genset *ns = set_copy();
	if (!ns) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ns->stable = ns->canary;
	ns->canary = NULL;
	ns->share_bp = 0;
	publish(ns, t0, "promote");
	fprintf(out, "{\"stable\":%u,", ns->stable->id);
	write_swap(out);
	fputc('}', out);
	return 0;
}

int fo_gen_rollback(uint64_t t0, FILE *out, char *err, size_t errlen)
{
	struct fo_genset *ns = set_copy();
	if (!ns) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ns->share_bp = 0;
	publish(ns, t0, "rollback");
	fprintf(out, "{\"share_bp\":0,");
	write_swap(out);
	fputc('}', out);
	return 0;
}

/* ------------------------------------------------------------------ reports */

static void write_gen(FILE *f, const struct fo_generation *g)
{
	if (!g) {
		fprintf(f, "null");
		return;
	}
	fprintf(f,
		"{\"id\":%u,\"routes\":%u,\"admission_rules\":%u,\"admission_unlisted\":\"%s\",\"predefined_"
		"topics\":%u,\"client_predefined\":%u,\"fingerprint\":\"%016" PRIx64 "\",\"created_ms\":%" PRIu64 "}",
		g->id, g->cfg->n_routes, g->cfg->broker.n_admission,
		g->cfg->broker.admission_reject_unlisted ? "reject" : "admit", g->cfg->broker.n_predefined,
		g->cfg->broker.n_client_predefined, g->fingerprint, g->created_ms);
}

void fo_gen_write_generations(FILE *f)
{
	const struct fo_genset *gs = fo_genset_read();
	fprintf(f, "{\"stable\":");
	write_gen(f, gs->stable);
	fprintf(f, ",\"canary\":");
	write_gen(f, gs->canary);
	fprintf(f, ",\"share_bp\":%u,\"mode\":\"%s\",\"swaps\":%" PRIu64 ",\"max_id\":%u,\"last_swap\":{\"command\":",
		gs->share_bp, gs->mode == FO_GEN_MIRROR ? "mirror" : "split", swaps, max_id);
	fo_json_cstr(f, last_swap.command);
	fprintf(f, ",\"at_ms\":%" PRIu64 ",", last_swap.at_ms);
	write_swap(f);
	fprintf(f, "}}");
}

void fo_gen_write_genstats(FILE *f)
{
	fprintf(f, "{\"uptime_ms\":%" PRIu64 ",\"tsc_hz\":%" PRIu64 ",\"generations\":[", fo_now_ms(), fo_dp.tsc_hz);
	bool first = true;
	struct fo_gen_ctr *c = aligned_alloc(_Alignof(struct fo_gen_ctr), sizeof(*c)); /* cache-line aligned type */
	for (uint8_t s = 0; c && s < FO_GEN_SLOTS; s++) {
		uint32_t id = slots[s].id;
		const char *role;
		if (id == 0 || !fo_gen_counters(id, c, &role))
			continue;
		double ns_per = 1e9 / (double)fo_dp.tsc_hz;
		/* A percentile is its bucket's upper bound, never above the largest sample seen. */
#define PCT(q) ((double)RTE_MIN(fo_lat_percentile(c->lat, c->latency_samples, (q)), c->lat_max) * ns_per)
		fprintf(f, "%s{\"id\":%u,\"role\":\"%s\"", first ? "" : ",", id, role);
		const char *sep = ",";
#define GEN_JSON_(field, key, ...) \
	fprintf(f, "%s\"" key "\":%" PRIu64, sep, c->field); \
	sep = ",";
		FO_FOREACH_GEN_MSG(GEN_JSON_)
		fprintf(f, ",\"latency_ns\":{");
		sep = "";
		FO_FOREACH_GEN_LAT(GEN_JSON_)
		fprintf(f, ",\"p50\":%.0f,\"p90\":%.0f,\"p99\":%.0f,\"p999\":%.0f,\"max\":%.0f}", PCT(0.50), PCT(0.90),
			PCT(0.99), PCT(0.999), (double)c->lat_max * ns_per);
#undef PCT
		/* The non-empty buckets, [index, upper bound ns, count]: a reader differences two
		 * snapshots to get the percentiles of a window (the rollout gates do). */
		fprintf(f, ",\"latency_hist\":[");
		bool fb = true;
		for (uint32_t i = 0; i < FO_LAT_BUCKETS; i++)
			if (c->lat[i]) {
				fprintf(f, "%s[%u,%.0f,%" PRIu64 "]", fb ? "" : ",", i,
					(double)fo_lat_bucket_upper(i) * ns_per, c->lat[i]);
				fb = false;
			}
		fprintf(f, "]");
		uint64_t done = c->out_written + c->out_failed;
		fprintf(f, ",\"outputs\":{");
		sep = "";
		FO_FOREACH_GEN_OUT(GEN_JSON_)
#undef GEN_JSON_
		fprintf(f, ",\"backlog\":%" PRIu64 "}}", c->out_queued > done ? c->out_queued - done : 0);
		first = false;
	}
	free(c);
	fprintf(f, "]}");
}

void fo_gen_route_sum(const struct fo_generation *g, uint32_t r, struct fo_route_ctr *t)
{
	memset(t, 0, sizeof(*t));
	/* output threads store written/failed with release; relaxed loads keep every field whole */
#define ROUTE_ADD_(field, ...) t->field += __atomic_load_n(&c->field, __ATOMIC_RELAXED);
	for (uint32_t w = 0; w < FO_RCTR_ROWS; w++) {
		const struct fo_route_ctr *c = &g->rctr[w * g->rstride + r];
		FO_FOREACH_ROUTE(ROUTE_ADD_)
	}
#undef ROUTE_ADD_
}

static void write_routes_of(FILE *f, const struct fo_generation *g)
{
	if (!g) {
		fprintf(f, "null");
		return;
	}
#define ROUTE_JSON_(field, key, ...) fprintf(f, ",\"" key "\":%" PRIu64, t.field);
	fputc('[', f);
	for (uint32_t r = 0; r < g->cfg->n_routes; r++) {
		const struct fo_route_config *rc = &g->cfg->routes[r];
		struct fo_route_ctr t;
		fo_gen_route_sum(g, r, &t);
		fprintf(f, "%s{\"name\":", r ? "," : "");
		fo_json_cstr(f, rc->name);
		fprintf(f, ",\"filter\":");
		fo_json_cstr(f, rc->filter);
		if (rc->kind == FO_ROUTE_UDP) {
			fprintf(f, ",\"kind\":\"udp\",\"to\":[");
			for (uint32_t d = 0; d < rc->n_to; d++)
				fprintf(f, "%s\"%u.%u.%u.%u:%u\"", d ? "," : "", rc->to[d].ip >> 24,
					(rc->to[d].ip >> 16) & 255, (rc->to[d].ip >> 8) & 255, rc->to[d].ip & 255,
					rc->to[d].port);
			fprintf(f, "],\"format\":\"%s\"", rc->format == FO_ROUTE_MQTTSN ? "mqttsn" : "raw");
			FO_FOREACH_ROUTE_ANY(ROUTE_JSON_)
			FO_FOREACH_ROUTE_UDP(ROUTE_JSON_)
			fputc('}', f);
			continue;
		}
		bool sink = rc->kind == FO_ROUTE_SINK;
		fprintf(f, ",\"kind\":\"%s\",\"target\":", sink ? "sink" : "bridge");
		fo_json_cstr(f, sink ? g->cfg->sinks[rc->target].name : g->cfg->bridges[rc->target].name);
		fprintf(f, ",\"%s\":", sink ? "stream" : "topic");
		fo_json_cstr(f, rc->tmpl);
		uint64_t done = t.written + t.failed;
		FO_FOREACH_ROUTE_ANY(ROUTE_JSON_)
		FO_FOREACH_ROUTE_OUT(ROUTE_JSON_)
		/* a sink/bridge route's dropped is what never reached the output or it gave up */
		fprintf(f, ",\"dropped\":%" PRIu64 ",\"backlog\":%" PRIu64 "}", t.failed + t.ring_full + t.pool_empty,
			t.queued > done ? t.queued - done : 0);
	}
#undef ROUTE_JSON_
	fputc(']', f);
}

void fo_gen_write_routes(FILE *f)
{
	const struct fo_genset *gs = fo_genset_read();
	fprintf(f, "{\"stable_id\":%u,\"stable\":", gs->stable->id);
	write_routes_of(f, gs->stable);
	fprintf(f, ",\"canary_id\":%u,\"canary\":", gs->canary ? gs->canary->id : 0);
	write_routes_of(f, gs->canary);
	fputc('}', f);
}

bool fo_gen_route_walk(uint32_t id,
		       void (*fn)(void *arg, const char *route, const char *kind, const struct fo_route_ctr *t),
		       void *arg)
{
	static const char *const kinds[] = {
		[FO_ROUTE_UDP] = "udp", [FO_ROUTE_SINK] = "sink", [FO_ROUTE_BRIDGE] = "bridge"
	};
	pthread_mutex_lock(&meta_lock);
	const struct fo_genset *gs = fo_genset_read();
	const struct fo_generation *g = gs && gs->stable && gs->stable->id == id   ? gs->stable
					: gs && gs->canary && gs->canary->id == id ? gs->canary
										   : NULL;
	for (uint32_t r = 0; g && r < g->cfg->n_routes; r++) {
		struct fo_route_ctr t;
		fo_gen_route_sum(g, r, &t);
		fn(arg, g->cfg->routes[r].name, kinds[g->cfg->routes[r].kind], &t);
	}
	pthread_mutex_unlock(&meta_lock);
	return g != NULL;
}

void fo_gen_summary_get(struct fo_gen_summary *s)
{
	pthread_mutex_lock(&meta_lock);
	*s = summary;
	pthread_mutex_unlock(&meta_lock);
}
