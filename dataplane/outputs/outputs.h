/* Outputs beyond UDP routes: Redis Streams sinks (sink_redis.c) and MQTT broker bridges
 * (bridge_mqtt.c). A worker hands a publish that matched a sink or bridge route to that
 * output's ring as a struct fo_out_msg (from fo_dp.out_pool, holding one reference on the
 * payload mbuf); the output's own thread -- a control thread, never an lcore -- drains the
 * ring and does the blocking I/O. Workers never wait for it: a full ring or an empty pool is a
 * counted drop of that route.
 *
 * Accounting (docs/outputs.md): per generation and route, workers count matched, queued,
 * ring_full and pool_empty in their own rows of g->rctr; the output thread counts written and
 * failed in its row (FO_RCTR_OUT_ROW + output index). matched == written + failed + ring_full +
 * pool_empty + backlog, and backlog (queued - written - failed) is 0 once the output is idle.
 * A generation whose entries are still queued outlives its RCU grace period until the output
 * has finished them (fo_outputs_gen_busy), so the rows stay valid. */
#ifndef FANOUT_OUTPUTS_H
#define FANOUT_OUTPUTS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "config.h"
#include "generation.h"
#include "latency_hist.h"
#include "out_template.h"
#include "worker_route.h"

#define FO_MAX_OUTPUTS (FO_MAX_SINKS + FO_MAX_BRIDGES)
#define FO_OUT_ACK_NONE FO_WR_ACK_NONE
#define FO_OUT_HIST 24 /* log2 buckets: batch sizes, round trips in us */

enum fo_out_kind { FO_OUT_SINK = 0, FO_OUT_BRIDGE = 1 };

/* What a finished entry tells its worker (written-mode PUBACK). */
enum fo_out_result { FO_OUT_OK = 0, FO_OUT_FAILED = 1 };

#define FO_OUT_INLINE 256 /* payloads up to this size are copied into the entry */

/* One publish for one output. The element is sized for mqttsn.max_topic_len topic bytes plus
 * FO_OUT_INLINE payload bytes. Read the payload with fo_out_payload(). */
struct fo_out_msg {
	/* NULL: the payload is inline, after the topic; else one reference
	 * on the mbuf whose data is the payload (may be chained) */
	struct rte_mbuf *payload;
	uint64_t rx_tsc;       /* receive time (TSC); fo_out_wall_us() turns it into wall time */
	uint64_t stream_id_ms; /* sink: the entry id given at its first XADD (0 = not yet) */
	uint32_t stream_id_seq;
	uint16_t route; /* index of the route in that generation */
	uint16_t tmpl;  /* interned template (fo_out_tmpl) */
	uint16_t payload_len;
	uint16_t topic_len;
	int8_t qos;            /* publish QoS: -1, 0 or 1 */
	uint8_t worker;        /* the worker that queued it */
	uint8_t result;        /* enum fo_out_result, set by the output for the ack ring */
	uint8_t attempts;      /* sink: XADD attempts (a retry after a reconnect reuses the id) */
	uint8_t client_id_len; /* 0: no ClientId (QoS -1): client is ip:port */
	uint16_t ack;          /* FO_OUT_ACK_NONE, or the worker's pending-PUBACK slot */
	uint32_t client_ip;    /* host order */
	uint16_t client_port;
	uint8_t client_id[23];
	/* struct fo_generation * whose route matched: valid while the entry is
	 * in flight (a retired one waits for it, fo_outputs_gen_busy) */
	void *gen;
	uint8_t topic[]; /* topic_len bytes, then the payload when inline */
};

/* The payload bytes: inline, the mbuf's data, or (chained mbuf) copied into scratch (cap bytes:
 * a longer payload is cut there, *len tells). */
static inline const uint8_t *fo_out_payload(const struct fo_out_msg *m, uint8_t *scratch, uint32_t cap, uint32_t *len)
{
	if (m->payload == NULL) {
		*len = m->payload_len;
		return m->topic + m->topic_len;
	}
	*len = m->payload->pkt_len < cap ? m->payload->pkt_len : cap;
	return (const uint8_t *)rte_pktmbuf_read(m->payload, 0, *len, scratch);
}

/* Per output, written by its thread only; readers take plain loads (64-bit, may be a loop
 * iteration stale) and take `lock` only for last_error. */
struct fo_out_stats {
	FO_FOREACH_OUTPUT_THREAD(FO_SCHEMA_FIELD_) /* fanout/stats_schema.h */
	uint64_t rtt_sum_us, rtt_max_us, rtt_n;
	uint64_t batched;                  /* entries over all batches (the batch size histogram's sum) */
	uint64_t batch_hist[FO_OUT_HIST];  /* entries per batch, bucket = bit length */
	uint64_t rtt_hist[FO_OUT_HIST];    /* batch round trip in us, bucket = bit length */
	uint64_t rtt_fine[FO_LAT_BUCKETS]; /* the same in latency_hist.h buckets (12.5 %): p50/p99 */
	_Atomic int connected;
	uint64_t connected_since_ms; /* wall clock */
	pthread_mutex_t lock;
	char last_error[160];
};

struct fo_output {
	uint8_t kind; /* enum fo_out_kind */
	uint8_t idx;  /* index in cfg->sinks or cfg->bridges */
	uint8_t row;  /* this output's row in every generation's rctr */
	const char *name;
	struct rte_ring *ring; /* workers -> this output (MP/SC) */
	pthread_t thread;
	bool started;
	_Atomic bool stop;
	struct fo_out_stats st;
	struct fo_gen_ctr gen[FO_GEN_SLOTS]; /* out_written, out_failed per generation slot */
	void *impl;                          /* the sink's or bridge's own state */
	/* An interest-following bridge (follow:): the workers' first/last-subscriber events
	 * (struct fo_interest_ev, MP/SC), and per worker the events its full ring turned away. */
	struct rte_ring *interest;
	uint64_t interest_lost_w[FO_RCTR_OUT_ROW]; /* one cell per worker */
};

/* A topic name or filter that got its first subscriber on a worker (on) or lost its last. */
struct fo_interest_ev {
	uint16_t len;
	uint8_t on;
	uint8_t worker;
	char filter[FO_FOLLOW_FILTER_MAX];
};
#define FO_INTEREST_RING 16384

/* True when some bridge follows local interest (the workers then report it). */
extern bool fo_outputs_following;
/* Worker lcore: the engine's interest hook; one event to every following bridge. */
void fo_outputs_interest(uint32_t worker, const uint8_t *filter, uint16_t len, bool on);

extern struct fo_output fo_outputs[FO_MAX_OUTPUTS];
extern uint32_t fo_n_outputs;
/* cfg->sinks[i] is fo_outputs[fo_sink_output[i]], cfg->bridges[i] fo_outputs[fo_bridge_output[i]] */
extern uint8_t fo_sink_output[FO_MAX_SINKS];
extern uint8_t fo_bridge_output[FO_MAX_BRIDGES];

/* Main lcore, after the ports and pools exist and before the lcores start: rings, the entry pool
 * (fo_dp.out_pool), the threads. -1 with err set on failure. */
int fo_outputs_init(const struct fo_config *cfg, char *err, size_t errlen);
/* After the workers have stopped: each output finishes what it can within its timeout, then
 * counts the rest as discarded; threads joined. */
void fo_outputs_stop(void);

/* Templates: out_template.h (fo_out_tmpl_intern / fo_out_tmpl / fo_out_tmpl_expand). */

/* Clocks and naps of the output threads (never used on an lcore). */
static inline uint64_t fo_out_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
static inline uint64_t fo_out_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
static inline void fo_out_sleep_us(uint64_t us)
{
	struct timespec ts = { .tv_sec = (time_t)(us / 1000000u), .tv_nsec = (long)(us % 1000000u) * 1000 };
	nanosleep(&ts, NULL);
}

/* An entry's receive time in wall-clock microseconds. */
uint64_t fo_out_wall_us(uint64_t rx_tsc);

/* Output threads: finish one entry. ok = written (or suppressed duplicate). Counts it in the
 * generation's route row and either returns it to its worker (written-mode PUBACK) or frees it. */
void fo_out_finish(struct fo_output *o, struct fo_out_msg *m, bool ok);
void fo_out_set_error(struct fo_output *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fo_out_hist_add(uint64_t *hist, uint64_t v);

/* Pending-PUBACK slots each worker needs: every entry the written-mode sinks can hold (ring and
 * batch) may be a QoS 1 publish waiting, capped at 65535 (ids are 16-bit); 0 without such sinks. */
uint32_t fo_outputs_ack_slots(void);

/* One round trip measured by an output thread (a sink batch, a bridge QoS 1 publish -> PUBACK). */
void fo_out_rtt_add(struct fo_output *o, uint64_t us);

/* Main lcore: true while entries of generation g are queued or in flight in any output (its
 * counters and route rows must stay). */
bool fo_outputs_gen_busy(const void *gen);

/* The workers' counters of output oi (fo_outputs[] index), summed over lcores. */
struct fo_out_lcore_ctr;
void fo_output_worker_sum(uint32_t oi, struct fo_out_lcore_ctr *t);

/* JSON: {"sinks":[...],"bridges":[...]} -- per output state and counters. */
void fo_outputs_write_json(FILE *f);

/* The thread bodies (sink_redis.c, bridge_mqtt.c). */
void *fo_sink_thread(void *arg);
void *fo_bridge_thread(void *arg);
/* Per-output setup on the main lcore before the thread starts (allocate impl). */
int fo_sink_prepare(struct fo_output *o, const struct fo_sink_config *cfg, char *err, size_t errlen);
int fo_bridge_prepare(struct fo_output *o, const struct fo_bridge_config *cfg, char *err, size_t errlen);
/* Extra JSON fields of one output (after the common ones), e.g. "redis":"127.0.0.1:6379". */
void fo_sink_write_json(FILE *f, const struct fo_output *o);
void fo_bridge_write_json(FILE *f, const struct fo_output *o);

#endif
