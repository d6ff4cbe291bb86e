/* Runtime state of fanout-dataplane shared by setup (main.c), the stages (stage_rx.c,
 * stage_worker.c, stage_tx.c), the lcore loop (lcore.c) and the stats writer (stats.c).
 * Built once at start; lcores only read it, except their own per-lcore slots. */
#ifndef FANOUT_DATAPLANE_H
#define FANOUT_DATAPLANE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <rte_common.h>
#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "config.h"
#include "fanout/stats_schema.h"
#include "generation.h"
#include "worker_route.h"
#include "l2l4.h"
#include "mqttsn_broker.h"
#include "mqttsn_session.h"
#include "neighbour.h"
#include "xdp_maps.h"

#define FO_MAX_WORKERS 16
_Static_assert(FO_RCTR_OUT_ROW == FO_MAX_WORKERS, "route counter rows: workers first, then outputs (generation.h)");
_Static_assert(FO_WR_ORIGIN_OUTPUT == FO_MAX_WORKERS, "peer publish origins: workers first, then outputs");
#define FO_MAX_TX 16
#define FO_MAX_RXQ_PER_LCORE 32
#define FO_HDR_STASH 32          /* header mbufs a worker takes from the pool at once */
#define FO_PACE_SCALE 1024       /* rx pacing token fixed point */
#define FO_TX_BURSTS_PER_CALL 64 /* tx stage: bursts drained per loop iteration at most */
#define FO_ARP_RETRY_MS 200      /* at most one ARP request per unresolved address per this */
#define FO_ARP_TRIES 3           /* an address asked for this many intervals without a reply is freed */
#define FO_NEIGH_AGE_MS 10       /* main lcore: an aging step over 1 % of each neighbour table this often */
#define FO_REASM_EXPIRE_US 1000  /* rx lcore: reassembly table entries past their timeout freed this often */
#define FO_TX_FRAGS_MAX 64       /* fragments one generated frame may become (46 at MTU 1500) */

/* Pipeline phases, advanced by the main lcore on shutdown so the pipeline drains front to
 * back: rx stops first, workers empty their rings, then tx empties its rings. */
enum fo_phase { FO_RUN = 0, FO_STOP_RX, FO_STOP_WORKERS, FO_DONE };

struct fo_port {
	_Atomic uint64_t rx_pace_pps; /* benchmarks: poll at most this many packets/s per rx queue, 0 = off */
	uint16_t port_id;
	struct l2l4_iface ifc; /* mac, ip, netmask, vlan, mqttsn port */
	uint32_t gateway;
	bool has_gateway6; /* gateway6: next hop of off-link IPv6 destinations */
	uint8_t gateway6[16];
	uint16_t n_rxq, n_txq;
	bool rx_ip_ck, rx_l4_ck; /* rx checksum offload verdicts available */
	uint16_t mtu;            /* IPv4 and IPv6 datagrams longer than this leave as fragments */
	struct fo_neigh_table *neigh;
	struct fo_neigh_table *neigh6; /* IPv6 neighbours (ND), NULL without ifc.has_ip6 */
	char name[64];
	/* net_af_xdp behind the XDP pre-filter (xdp_prog= devarg): its maps, pinned while we run */
	bool xdp_on;
	int if_index;
	struct fo_xdp xdp;
};

/* A publish accepted by one worker, for another worker's subscribers. The payload mbuf
 * is shared by reference (one refcnt per descriptor). */
struct fo_peer_msg {
	struct rte_mbuf *payload;
	uint64_t rx_tsc;  /* when the publish was received (latency of the copies) */
	uint8_t gen_slot; /* the publisher's generation slot (deliveries are counted there) */
	uint16_t payload_len;
	int8_t qos;
	bool retain;    /* store as the topic's retained message (broker_retain) */
	uint8_t origin; /* fo_wr_peer_pub.origin and .seq */
	uint32_t seq;
	uint16_t topic_len;
	uint8_t topic[]; /* topic_len bytes (pool element sized for max_topic_len) */
};

/* Sessions moving between workers (docs/dataplane.md, "Sessions moving between workers"): a
 * worker that parked a CONNECT claims the ClientId from the workers whose presence counters name
 * it; each answers on the claimant's hand-over ring, with the session's state when it held one.
 * A reply travels in its claim's element. */
#define FO_HO_ORIGINS (FO_MAX_WORKERS + FO_MAX_SINKS + FO_MAX_BRIDGES) /* fo_wr_peer_pub.origin */
#define FO_HO_STATE_MAX (64u * 1024u) /* a session state larger than this is not handed over */
#define FO_PRESENCE_SLOTS (1u << 16)  /* ClientId presence counters per worker (session_presence_*) */
enum fo_ho_kind { FO_HO_CLAIM = 1, FO_HO_REPLY = 2 };
/* reply results past enum broker_claim's */
enum { FO_HO_BUSY = 0x10 /* the holder is claiming itself */, FO_HO_TOO_BIG = 0x11 };
struct fo_ho_msg {
	uint8_t kind; /* enum fo_ho_kind */
	uint8_t from; /* the worker that sent it */
	uint8_t result;
	bool clean, bound; /* the CONNECT's CleanSession; an admission rule binds the ClientId to at */
	bool wake;         /* for a sleeping client's PINGREQ, not a CONNECT (broker_claim) */
	uint8_t client_id_len;
	uint8_t client_id[SESSION_CLIENT_ID_MAX];
	uint32_t claim_id;
	struct fo_client at; /* where the client is now (the parked CONNECT's source) */
	uint64_t arrived_ms; /* at the holder */
	/* claim: the last publish of each origin the claimant handled before it stopped (its own:
	 * the last it handed out); reply: the same at the holder when it answered */
	uint32_t wm[FO_HO_ORIGINS];
	uint32_t len; /* state bytes (broker_session_export) */
	uint8_t state[];
};

/* A table listing asked of a worker by the control socket (main lcore): the worker fills
 * rows a chunk per loop iteration between bursts, then flips state to DONE. */
enum { FO_EXPORT_IDLE = 0, FO_EXPORT_REQUESTED, FO_EXPORT_DONE };
#define FO_EXPORT_CHUNK 128
struct fo_export {
	_Atomic int state;
	int kind; /* enum broker_export_kind */
	uint32_t limit, n, total;
	uint64_t cursor;
	struct broker_export_row *rows;
};

struct fo_worker {
	struct fo_export exp;
	uint32_t idx;
	unsigned lcore_id;
	struct rte_ring *in;      /* rx -> this worker (MP/SC) */
	struct rte_ring *peer_in; /* other workers -> this worker (MP/SC) */
	struct rte_ring *tx;      /* this worker -> its tx lcore */
	struct rte_ring *ack_in;  /* outputs -> this worker: finished written-mode entries (MP/SC), or NULL */
	struct rte_ring *ho_in;   /* other workers -> this worker: hand-over claims and replies (MP/SC), or NULL */
	uint32_t *presence;       /* its ClientIds' presence counters, read by the other workers, or NULL */
	struct broker *broker;
	struct fo_counters *ctr; /* the owning lcore's counters */
	uint64_t now_ms;         /* refreshed every loop iteration */
	uint64_t last_tick_ms;
};

struct fo_txer {
	uint32_t idx; /* tx queue index on every port */
	unsigned lcore_id;
	struct rte_ring *ring;
};

/* Per-lcore stats: written only by that lcore, summed by readers. */
struct fo_lcore_stats {
	struct fo_counters c;
	struct fo_gen_ctr gen[FO_GEN_SLOTS]; /* per generation slot (generation.h) */
	uint64_t port_rx[FO_MAX_PORTS];
	uint64_t port_tx[FO_MAX_PORTS];
	/* per sink/bridge (outputs.h, fo_outputs[] index): the worker side of its accounting */
	struct fo_out_lcore_ctr out[FO_MAX_SINKS + FO_MAX_BRIDGES]; /* worker_route.h */
} __rte_cache_aligned;

struct fo_reasm; /* rx_reasm.c */

struct fo_lcore {
	unsigned lcore_id;
	uint32_t roles;
	uint16_t n_rxq;
	struct {
		uint16_t port;
		uint16_t queue;
		uint64_t pace_last;   /* rx pacing (RXPACE): TSC of the last refill */
		uint64_t pace_tokens; /* packets allowed, x FO_PACE_SCALE */
	} rxq[FO_MAX_RXQ_PER_LCORE];
	struct fo_worker *worker;  /* NULL unless role worker */
	struct fo_txer *txer;      /* NULL unless role tx */
	struct rte_ring *reply_tx; /* where this lcore's rx-stage answers (ARP, ICMP) go */
	struct fo_reasm *reasm;    /* role rx with reassembly on: this lcore's fragment table */
	bool direct_worker;        /* the only rx lcore and the only worker: bursts skip the worker ring */
	uint8_t n_stages;          /* lcore.c: the stages this lcore runs, in order (enum fo_stage) */
	uint8_t stages[4];
	_Atomic int seen_phase;
};

struct fo_dp {
	struct fo_config *cfg;
	uint32_t burst;
	uint16_t n_ports;
	struct fo_port ports[FO_MAX_PORTS];
	uint16_t port_index[RTE_MAX_ETHPORTS]; /* ethdev port id -> index in ports[] */
	struct rte_mempool *pkt_pool;          /* rx packets */
	struct rte_mempool *hdr_pool;          /* replies and fan-out header mbufs */
	/* payload copies kept past their packet (QoS 1 retries, output
	 * backlogs): however many are held, rx never runs out of mbufs */
	struct rte_mempool *held_pool;
	uint32_t hdr_room;                 /* data room of a hdr_pool mbuf after its headroom */
	struct rte_mempool *large_pool;    /* reassembled datagrams too long for a pkt_pool mbuf */
	struct rte_mempool *indirect_pool; /* IPv4 fragments of generated frames: references, no room */
	struct rte_mempool *peer_pool;     /* struct fo_peer_msg */
	struct rte_mempool *ho_pool;       /* struct fo_ho_msg + FO_HO_STATE_MAX, with 2+ workers */
	struct rte_mempool *out_pool;      /* struct fo_out_msg (outputs.h); NULL without sinks and bridges */
	uint32_t n_workers, n_tx, n_lcores;
	struct fo_worker workers[FO_MAX_WORKERS];
	struct fo_txer txers[FO_MAX_TX];
	struct fo_lcore lcores[RTE_MAX_LCORE];
	struct fo_lcore *lcore_of[RTE_MAX_LCORE];
	_Atomic int phase;
	uint64_t tsc_hz;
	uint64_t start_tsc;
	int meta_off;       /* mbuf dynfield: struct fo_meta of frames we build */
	uint64_t meta_flag; /* mbuf dynflag: the dynfield is set */
};

/* What a frame we build carries to the tx stage for the rx -> tx latency histogram. */
struct fo_meta {
	uint64_t rx_tsc;
	uint8_t gen_slot; /* FO_GEN_SLOT_NONE: counted in no generation */
};

extern struct fo_dp fo_dp;
extern struct fo_lcore_stats fo_stats[RTE_MAX_LCORE];
extern bool fo_port_multi_seg[FO_MAX_PORTS]; /* the port's tx takes mbuf chains */

static inline struct fo_meta *fo_meta(struct rte_mbuf *m)
{
	return RTE_MBUF_DYNFIELD(m, fo_dp.meta_off, struct fo_meta *);
}

/* Between rx and the worker, a received MQTT-SN datagram carries its rx TSC in its fo_meta and,
 * when rx summed it for the UDP checksum check, the message's folded checksum sum in hash.usr
 * (with this bit set; we do not use the RSS hash): payload_bind() derives the publish payload's
 * sum from it instead of reading the payload again, then keeps that sum in hash.usr. */
#define FO_MSG_SUM_VALID 0x80000000u

static inline uint64_t fo_now_ms(void)
{
	return (rte_get_tsc_cycles() - fo_dp.start_tsc) / (fo_dp.tsc_hz / 1000);
}

/* A packet the appliance meant to send but could not even queue: it counts as generated and
 * as an output drop at once, so out.generated == out.sent + out.dropped keeps holding. */
static inline void fo_out_fail(struct fo_lcore_stats *st, enum fo_out_drop reason)
{
	st->c.out_generated++;
	fo_count_out_drop(&st->c, reason);
}

/* stage_rx.c: one rx burst, sorted by classification (fo_rx_classify) for dispatch. */
struct fo_rx_burst {
	uint16_t n_to_worker[FO_MAX_WORKERS];
	unsigned n_done, n_reply;
	struct rte_mbuf *to_worker[FO_MAX_WORKERS][FO_MAX_BURST]; /* MQTT-SN datagrams, by owning worker */
	struct rte_mbuf *done[FO_MAX_BURST];    /* finished with here: dropped, or consumed by an answer */
	struct rte_mbuf *replies[FO_MAX_BURST]; /* answered in place (ICMP echo) */
};
/* rx_burst from the lcore's queue qi (paced when RXPACE asks); counts rx. */
uint16_t fo_rx_poll(struct fo_lcore *lc, uint16_t qi, struct rte_mbuf **pkts, struct fo_lcore_stats *st);
void fo_rx_classify(struct fo_lcore *lc, uint16_t port_id, struct rte_mbuf **pkts, uint16_t n, struct fo_rx_burst *b,
		    struct fo_lcore_stats *st);
/* Run to completion: the burst's answers straight to this lcore's tx queue, ahead of what the
 * worker makes of the same burst (as they would go through the rings). */
void fo_rx_replies_direct(struct fo_lcore *lc, struct fo_rx_burst *b, struct fo_lcore_stats *st);
/* What is left of the burst: worker rings (ring full: a named drop), reply ring, bulk free. */
void fo_rx_dispatch(struct fo_lcore *lc, struct fo_rx_burst *b, struct fo_lcore_stats *st);

/* rx_reasm.c: IPv4 reassembly on the rx lcore, before worker dispatch (only the first fragment
 * carries the UDP ports the worker is chosen by). */
int fo_reasm_init(struct fo_lcore *lc);
/* A fragment k classified as L2L4_IPV4_FRAGMENT: held (NULL), dropped and counted (NULL; a
 * datagram refused before is message_too_big), or the datagram it completes, in one contiguous
 * mbuf with a valid IPv4 header, to parse again. */
struct rte_mbuf *fo_reasm_ipv4(struct fo_reasm *r, struct rte_mbuf *m, const struct l2l4_pkt *k, uint64_t tsc,
			       struct fo_counters *c);
/* The same for a fragment classified as L2L4_IPV6_FRAGMENT (rte_ipv6_frag_reassemble_packet): the
 * datagram comes back without its fragment header, a plain IPv6/UDP datagram. */
struct rte_mbuf *fo_reasm_ipv6(struct fo_reasm *r, struct rte_mbuf *m, const struct l2l4_pkt *k, uint64_t tsc,
			       struct fo_counters *c);
/* A fragment of k's datagram was refused as message_too_big: refuse its later fragments too. */
void fo_reasm_refuse(struct fo_reasm *r, const struct l2l4_pkt *k, uint64_t tsc);
/* Flows past reassembly.timeout_ms at tsc freed and counted (frag_timeout): before a burst's
 * first fragment, with the stamp it is reassembled with. */
void fo_reasm_expire(struct fo_reasm *r, uint64_t tsc, struct fo_counters *c);
/* The same from the rx loop, at most every FO_REASM_EXPIRE_US: held fragments time out
 * while no traffic comes. */
void fo_reasm_idle(struct fo_reasm *r, struct fo_counters *c);
/* At the end of the lcore loop: fragments still held are shutdown drops; the table is freed. */
void fo_reasm_fini(struct fo_lcore *lc, struct fo_counters *c);

/* out_path.c */
/* Send an ARP request for ip out of port (used by every output path). */
void fo_arp_request(struct fo_port *p, uint32_t ip, struct rte_ring *tx, struct fo_lcore_stats *st);
/* Resolve the next hop for dst on port p; on a miss, asks ARP and returns false. */
bool fo_resolve(struct fo_port *p, uint32_t dst, uint8_t mac[6], struct rte_ring *tx, struct fo_lcore_stats *st);
/* The same for an IPv6 destination: a Neighbor Solicitation on a miss; false also when there is
 * no next hop (off-link without gateway6, or a port without IPv6). */
bool fo_resolve6(struct fo_port *p, const uint8_t dst[16], uint8_t mac[6], struct rte_ring *tx,
		 struct fo_lcore_stats *st);
/* Queue generated packets on a tx ring; counts out_generated and ring-full drops. */
void fo_out_enqueue(struct rte_ring *tx, struct rte_mbuf **pkts, unsigned n, struct fo_lcore_stats *st);
/* An accepted publish to worker `worker`'s peer ring with one more payload reference (taken
 * back on failure). wait (may be NULL): called while the pool or ring is full, until it says
 * to give up at the deadline. True when queued. */
bool fo_peer_post(uint32_t worker, const struct fo_wr_peer_pub *pub, struct rte_mbuf *payload,
		  bool (*wait)(uint64_t deadline), uint64_t deadline);
/* Generated frames to the ports on tx queue `queue` of each (a tx lcore's index); counts
 * out_sent, per-port tx, rx -> tx latency and tx drops. */
void fo_tx_send(struct fo_lcore_stats *st, uint32_t queue, struct rte_mbuf **pkts, unsigned n);

/* stage_worker.c */
int fo_worker_init(struct fo_worker *w);
void fo_stage_worker(struct fo_lcore *lc, struct fo_lcore_stats *st);
/* Run to completion: a burst straight from this lcore's rx classification (lc->direct_worker). */
void fo_worker_burst(struct fo_lcore *lc, struct rte_mbuf **pkts, unsigned n, struct fo_lcore_stats *st);
void fo_worker_fini(struct fo_worker *w);

/* stage_tx.c */
void fo_stage_tx(struct fo_lcore *lc, struct fo_lcore_stats *st);

/* lcore.c */
int fo_lcore_main(void *arg);

/* stats.c */
int fo_stats_write_json(const char *path, const char *reason);
void fo_stats_write_json_stream(FILE *f, const char *reason);
/* The XDP pre-filter verdicts of every port behind one, summed (zeros without). */
void fo_xdp_sum(uint64_t out[FO_XDP_MAX]);
void fo_stats_sum(struct fo_counters *t);

#endif
