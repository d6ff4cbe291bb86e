/* fanout-core-replay: the dataplane's per-message work without DPDK, for counting instructions.
 *
 * Reads a workload made by bench/workload.py (preamble.pcap for port 0, steady.pcap for port 1,
 * dataplane.yaml) and runs every frame through the code the packet path ships, with plain buffers
 * where the dataplane has mbufs, mempools and rings:
 *   rx:     l2l4_parse with the port's l2l4_iface, then the rx stage's own decision
 *           (dataplane/net/rx_classify.h: the owning worker, ARP learnt and answered through the
 *           neighbour table, ICMP echo answered); the answers built with l2l4_build_arp and
 *           l2l4_icmp_echo_to_reply as stage_rx.c builds them;
 *   worker: the client read back from the IPv4/UDP headers, broker_handle, and the worker's
 *           routing and accounting as shipped (dataplane/route/worker_route.c: serving generation,
 *           route matching, per-generation and per-route counters, sink/bridge entries, which go
 *           on a plain ring drained once per burst); frames built through the worker stage's own
 *           frame code (dataplane/net/out_frame.h: the next-hop cache keyed by the neighbour
 *           table's version, the addressing from the port's interface, the inline-or-chained
 *           choice for a PUBLISH payload, the header checksum reused across copies, the
 *           l2l4_write_udp(_sums) calls) with the payload's sum computed once in payload_bind;
 *           only the buffers are this file's: a scratch frame where the stage takes a header
 *           mbuf, and a payload chained by reference counted by its length alone (nothing
 *           copied); a miss resolved through the neighbour table as out_path.c's fo_resolve
 *           does; broker_tick when the millisecond changes.
 * Frames go in bursts of the config's burst size; a virtual clock advances 1 ms every
 * --frames-per-ms frames, so a run is deterministic. The preamble runs once, then --warmup
 * passes over steady.pcap, then --loops measured passes. Under valgrind --tool=callgrind
 * (--collect-atstart=no) collection is on only during the measured passes, so the callgrind
 * total is the steady work alone (bench/regress.py divides it by the messages). Outside
 * valgrind it prints ns per message (informational: wall clock, noisy).
 *
 * --verify checks the IPv4 and UDP checksums of every output frame of the preamble and warm-up
 * passes (exit 1 on a bad one); the measured passes repeat the warm-up's work unchecked.
 *
 *   fanout-core-replay --dir /tmp/wl [--loops K] [--warmup W] [--json] [--verify] */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef FO_HAVE_CALLGRIND
#include <valgrind/callgrind.h>
#else /* valgrind's headers absent: no collection control, bench/regress.py refuses the binary */
#define CALLGRIND_TOGGLE_COLLECT \
	do { \
	} while (0)
#define RUNNING_ON_VALGRIND 0
#endif

#ifdef __clang__
#define FO_COMPILER "clang " __clang_version__
#else
#define FO_COMPILER "gcc " __VERSION__
#endif
#ifdef FO_HAVE_CALLGRIND
#define HAVE_CALLGRIND 1
#else
#define HAVE_CALLGRIND 0
#endif

#include "config.h"
#include "fanout/stats_schema.h"
#include "generation.h"
#include "l2l4.h"
#include "mqttsn_broker.h"
#include "neighbour.h"
#include "out_frame.h"
#include "route_table.h"
#include "rx_classify.h"
#include "worker_route.h"

/* Mirrors of dataplane/pipeline/dataplane.h constants (that header pulls in DPDK). */
#define FO_ARP_RETRY_MS 200
#define FO_ARP_TRIES 3
#define OUT_MAX 256
#define FRAME_ROOM 2048 /* scratch room per output frame: a header mbuf plus a copied payload fit */
#define OUT_RING 1024   /* sink/bridge entries between two drains */
#define ACK_SLOTS 64    /* written-mode PUBACKs outstanding */

/* A sink or bridge entry (outputs.h's struct fo_out_msg without the DPDK parts). */
struct out_entry {
	uint16_t route, ack, topic_len, payload_len;
	uint32_t client_ip;
	uint16_t client_port;
	uint8_t topic[256];
	uint8_t payload[256]; /* FO_OUT_INLINE */
};

struct frame {
	const uint8_t *data;
	uint32_t len;
};

struct pcap {
	uint8_t *buf;
	struct frame *f;
	uint32_t n;
};

/* What the broker's payload handle stands for: the mbuf narrowed to the payload (data, len) and
 * its checksum sum (the dataplane keeps it in mbuf hash.usr). One per frame of a capture. */
struct payload {
	const uint8_t *data;
	uint16_t len;
	uint32_t sum;
	int32_t refs;
	const uint8_t *msg, *msg_end; /* the MQTT-SN message (the UDP payload) */
	uint32_t msg_sum;             /* MSG_SUM_VALID | its folded sum when rx computed it, else 0 */
};
#define MSG_SUM_VALID 0x80000000u /* as FO_MSG_SUM_VALID in dataplane.h */

struct port {
	struct l2l4_iface ifc;
	uint32_t gateway;
	struct fo_neigh_table *neigh;
	bool multi_seg;
};

struct replay {
	struct port ports[2];
	uint32_t n_ports;
	uint32_t hdr_room;
	struct fo_nh_cache nc; /* the worker's next-hop cache (out_frame.h) */
	struct fo_hdr_sum hs;  /* and its last PUBLISH header's sum */
	uint32_t burst;
	uint32_t n_workers; /* 1: one worker engine, whatever the config's lcores say */
	struct broker *broker;
	struct fo_counters c;     /* the lcore's counters (rx, worker and output sides) */
	struct fo_generation gen; /* generation 1: the config's routes */
	struct fo_genset gs;
	struct fo_gen_ctr gctr[FO_GEN_SLOTS];
	struct fo_out_lcore_ctr octr[FO_MAX_SINKS + FO_MAX_BRIDGES];
	uint8_t sink_output[FO_MAX_SINKS], bridge_output[FO_MAX_BRIDGES];
	struct fo_wr_ack acks[ACK_SLOTS];
	struct fo_worker_route wr; /* the worker's routing and accounting */
	unsigned n_entries;        /* sink/bridge entries queued since the last drain */
	struct out_entry entries[OUT_RING];
	uint64_t out_entries;
	struct payload *cur_pl; /* the datagram being handled (io_published routes it) */
	uint64_t now_ms;
	/* output frames of the current burst (the worker's out[] before fo_out_enqueue) */
	unsigned n_out;
	uint16_t out_len[OUT_MAX];
	uint8_t out[OUT_MAX][FRAME_ROOM];
	/* totals over the run, for the report and the sanity checks */
	uint64_t out_frames, out_bytes, out_sum;
};

static struct replay R;
static bool verify; /* --verify: check every output frame's IPv4 and UDP checksums */
static uint64_t bad_frames;

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* An output frame as a receiver would check it: IPv4 header checksum, UDP checksum over the
 * pseudo-header, lengths consistent with the frame. ARP frames pass. */
static bool frame_ok(const uint8_t *f, uint32_t len)
{
	uint32_t l2 = L2L4_ETH_HLEN;
	uint16_t et = rd16(f + 12);
	if (et == L2L4_ETHERTYPE_VLAN) {
		l2 += L2L4_VLAN_HLEN;
		et = rd16(f + 16);
	}
	if (et == L2L4_ETHERTYPE_ARP)
		return len >= L2L4_MIN_FRAME;
	if (et != L2L4_ETHERTYPE_IPV4 || len < l2 + L2L4_IP_HLEN)
		return false;
	const uint8_t *ip = f + l2;
	uint32_t ihl = (ip[0] & 15u) * 4;
	uint32_t tot = rd16(ip + 2);
	if (l2 + tot > len || l2l4_csum_fold(l2l4_csum_add(0, ip, ihl)) != 0xffff || ip[9] != 17)
		return false;
	const uint8_t *udp = ip + ihl;
	uint32_t ulen = rd16(udp + 4);
	if (ulen != tot - ihl)
		return false;
	uint8_t ph[12];
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = 17;
	ph[10] = (uint8_t)(ulen >> 8);
	ph[11] = (uint8_t)ulen;
	return l2l4_csum_fold(l2l4_csum_add(l2l4_csum_add(0, ph, sizeof(ph)), udp, ulen)) == 0xffff;
}

static void die(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "fanout-core-replay: ");
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, "\n");
	exit(2);
}

static struct pcap load_pcap(const char *path)
{
	struct pcap p = { 0 };
	FILE *f = fopen(path, "rb");
	if (!f)
		die("%s: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0)
		die("%s: %s", path, strerror(errno));
	long size = ftell(f);
	rewind(f);
	if (size < 24)
		die("%s: %s", path, "not a pcap file (too short)");
	p.buf = malloc((size_t)size);
	if (!p.buf || fread(p.buf, 1, (size_t)size, f) != (size_t)size)
		die("%s: %s", path, "read failed");
	fclose(f);
	uint32_t magic;
	memcpy(&magic, p.buf, 4);
	if (magic != 0xa1b2c3d4u && magic != 0xa1b23c4du)
		die("%s: %s", path, "not a little-endian pcap file (bad magic)");
	uint32_t linktype;
	memcpy(&linktype, p.buf + 20, 4);
	if (linktype != 1)
		die("%s: %s", path, "link type is not Ethernet");
	size_t cap = 1024;
	p.f = malloc(cap * sizeof(*p.f));
	size_t off = 24;
	while (off + 16 <= (size_t)size) {
		uint32_t incl;
		memcpy(&incl, p.buf + off + 8, 4);
		off += 16;
		if (incl > (size_t)size - off)
			die("%s: %s", path, "truncated record");
		if (p.n == cap) {
			cap *= 2;
			p.f = realloc(p.f, cap * sizeof(*p.f));
		}
		if (!p.f)
			die("%s: %s", path, "out of memory");
		p.f[p.n].data = p.buf + off;
		p.f[p.n].len = incl;
		p.n++;
		off += incl;
	}
	return p;
}

static void parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		die("bad MAC address '%s'%s", s, "");
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
}

/* ---- output side: stage_worker.c's start_frame / io_send / io_send_publish bound to flat buffers; the
 * frame code they share is dataplane/net/out_frame.h ---- */

static void flush_out(void)
{
	/* fo_out_enqueue: the frames leave for the tx ring. Fold them into a sum so the work
	 * building them is observable. */
	R.c.out_generated += R.n_out;
	R.c.out_sent += R.n_out;
	for (unsigned i = 0; i < R.n_out; i++) {
		if (verify && !frame_ok(R.out[i], R.out_len[i]))
			bad_frames++;
		R.out_bytes += R.out_len[i];
		R.out_sum += R.out[i][L2L4_ETH_HLEN + L2L4_IP_HLEN - 1]; /* a byte written by every frame */
	}
	R.out_frames += R.n_out;
	R.n_out = 0;
}

static uint8_t *alloc_out(void)
{
	return R.out[R.n_out];
}

static void push_out(uint32_t len)
{
	R.out_len[R.n_out++] = (uint16_t)len;
	if (R.n_out == OUT_MAX)
		flush_out();
}

static void out_fail(enum fo_out_drop reason)
{
	R.c.out_generated++;
	fo_count_out_drop(&R.c, reason);
}

static void arp_request(struct port *p, uint32_t ip)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t zero[6] = { 0 };
	uint8_t *b = alloc_out();
	size_t n = l2l4_build_arp(b, 1, bcast, p->ifc.mac, p->ifc.ip, zero, ip, p->ifc.vlan);
	R.c.ev[FO_EV_ARP_REQUESTS_SENT]++;
	push_out((uint32_t)n);
}

static bool resolve(struct port *p, uint32_t dst, uint8_t mac[6])
{
	uint32_t nh = l2l4_next_hop(dst, p->ifc.ip, p->ifc.netmask, p->gateway);
	bool ask;
	bool ok = fo_neigh_next_hop(p->neigh, &R.c, nh, p->ifc.ip, p->ifc.netmask, R.now_ms, FO_ARP_RETRY_MS, mac,
				    &ask);
	if (ask)
		arp_request(p, nh);
	return ok;
}

static uint8_t *start_frame(const struct fo_client *to, size_t inline_len, struct l2l4_udp_spec *spec, uint32_t *len)
{
	if (to->ifindex >= R.n_ports) {
		out_fail(FO_OUT_DROP_NO_NEIGHBOUR);
		return NULL;
	}
	struct port *p = &R.ports[to->ifindex];
	uint64_t ver = fo_neigh_version(p->neigh);
	if (!fo_nh_get(&R.nc, to->ip, to->ifindex, ver, spec->dst_mac)) {
		if (!resolve(p, to->ip, spec->dst_mac)) {
			out_fail(FO_OUT_DROP_NO_NEIGHBOUR);
			return NULL;
		}
		fo_nh_put(&R.nc, to->ip, to->ifindex, ver, spec->dst_mac);
	}
	size_t need = l2l4_udp_hdr_len(p->ifc.vlan) + inline_len;
	if (need > R.hdr_room) { /* the header buffer's room, as an mbuf's tailroom */
		out_fail(FO_OUT_DROP_FRAME_TOO_BIG);
		return NULL;
	}
	fo_frame_spec(spec, &p->ifc, to->ip, to->port);
	*len = (uint32_t)need;
	return alloc_out();
}

static int io_send(void *ctx, const struct fo_client *to, const uint8_t *msg, uint16_t len)
{
	(void)ctx;
	struct l2l4_udp_spec spec;
	uint32_t flen;
	uint8_t *b = start_frame(to, len, &spec, &flen);
	if (!b)
		return -1;
	fo_frame_reply(b, &spec, msg, len);
	push_out(flen);
	return 0;
}

static int io_send_publish(void *ctx, const struct fo_client *to, const uint8_t *hdr, uint16_t hdr_len, void *payload)
{
	(void)ctx;
	struct payload *pl = payload;
	uint32_t plen = pl->len;
	/* a payload here is one contiguous piece, as a received frame's single segment */
	bool copy = fo_frame_payload_inline(
		plen, true, to->ifindex < R.n_ports ? &R.ports[to->ifindex].multi_seg : NULL, hdr_len, R.hdr_room);
	struct l2l4_udp_spec spec;
	uint32_t flen;
	uint8_t *b = start_frame(to, hdr_len + (copy ? plen : 0), &spec, &flen);
	if (!b)
		return -1;
	uint8_t *at = fo_frame_publish(b, &spec, &R.hs, hdr, hdr_len, plen, pl->sum);
	if (copy) {
		memcpy(at, pl->data, plen);
	} else if (plen) {
		/* The dataplane chains the payload mbuf by reference: nothing to build. --verify checks
		 * the frame as tx would send it, so it gets the bytes (outside the measured passes). */
		if (verify && flen + plen <= FRAME_ROOM)
			memcpy(b + flen, pl->data, plen);
		flen += plen;
	}
	push_out(flen);
	return 0;
}

static void io_payload_bind(void *ctx, void *payload, const uint8_t *data, uint16_t len)
{
	(void)ctx;
	struct payload *pl = payload;
	pl->data = data;
	pl->len = len;
	/* as stage_worker.c: derived from rx's message sum when it has one */
	if ((pl->msg_sum & MSG_SUM_VALID) && data >= pl->msg && data + len == pl->msg_end) {
		pl->sum = l2l4_csum_suffix((uint16_t)pl->msg_sum, pl->msg, (size_t)(data - pl->msg));
	} else {
		pl->sum = l2l4_csum_add(0, data, len);
	}
}

static void io_payload_hold(void *ctx, void *payload)
{
	(void)ctx;
	((struct payload *)payload)->refs++;
}

static void io_payload_release(void *ctx, void *payload)
{
	(void)ctx;
	((struct payload *)payload)->refs--;
}

/* A payload the engine makes from its own bytes (a lost client's will), as stage_worker.c does
 * in its held pool: here a small ring of copies (the replayed workloads lose no client). */
#define MADE_PAYLOADS 64
#define MADE_BYTES 4096
static void *io_payload_make(void *ctx, const uint8_t *data, uint16_t len)
{
	(void)ctx;
	static struct payload made[MADE_PAYLOADS];
	static uint8_t bytes[MADE_PAYLOADS][MADE_BYTES];
	static unsigned next;
	if (len > MADE_BYTES)
		return NULL;
	for (unsigned k = 0; k < MADE_PAYLOADS; k++) {
		unsigned i = (next + k) % MADE_PAYLOADS;
		if (made[i].refs > 0)
			continue;
		next = i + 1;
		memcpy(bytes[i], data, len);
		made[i] = (struct payload){
			.data = bytes[i], .len = len, .sum = l2l4_csum_add(0, data, len), .refs = 1
		};
		return &made[i];
	}
	return NULL;
}

/* ---- worker: routing and accounting are the dataplane's own (dataplane/route/worker_route.c) ---- */

/* Mirror mode's question, from the neighbour table alone (as stage_worker.c asks it). */
static bool io_neighbour_known(void *ctx, const struct fo_client *to)
{
	(void)ctx;
	const struct port *p = &R.ports[to->ifindex];
	uint8_t mac[6];
	uint32_t nh = l2l4_next_hop(to->ip, p->ifc.ip, p->ifc.netmask, p->gateway);
	return nh && fo_neigh_lookup(p->neigh, nh, mac);
}

/* A sink or bridge entry as stage_worker.c fills one (topic, client, payload inline when small),
 * on a plain ring that the burst's end drains as an output thread would. */
static enum fo_wr_out_verdict io_out_enqueue(void *ctx, struct fo_generation *g, uint16_t route,
					     const struct fo_route_config *r, const struct broker_result *res,
					     const struct fo_client *from, void *payload, uint16_t ack)
{
	(void)ctx, (void)g, (void)r;
	struct payload *pl = payload;
	if (R.n_entries == OUT_RING)
		return FO_WR_OUT_RING_FULL;
	if (res->topic_len > sizeof(R.entries[0].topic)) /* the dataplane's entries are sized for max_topic_len */
		return FO_WR_OUT_POOL_EMPTY;
	struct out_entry *e = &R.entries[R.n_entries++];
	e->route = route;
	e->ack = ack;
	e->client_ip = from->ip;
	e->client_port = from->port;
	e->topic_len = res->topic_len;
	memcpy(e->topic, res->topic, res->topic_len);
	e->payload_len = pl->len <= sizeof(e->payload) ? pl->len : 0;
	memcpy(e->payload, pl->data, e->payload_len);
	return FO_WR_OUT_QUEUED;
}

static bool io_peer_post(void *ctx, uint32_t worker, const struct fo_wr_peer_pub *pub, void *payload)
{
	(void)ctx, (void)worker, (void)pub, (void)payload;
	return false; /* one worker: never called */
}

static void io_deferred_puback(void *ctx, const struct fo_client *to, uint16_t topic_id, uint16_t msg_id, uint8_t rc)
{
	(void)ctx;
	broker_deferred_puback(R.broker, to, topic_id, msg_id, rc);
}

static int io_published(void *ctx, const struct fo_client *from, struct broker_result *res)
{
	(void)ctx;
	return fo_wr_published(&R.wr, &R.gs, from, res, R.cur_pl);
}

/* The outputs' side: every entry written (the replay has no Redis or broker behind its ring). */
static void drain_outputs(void)
{
	for (unsigned i = 0; i < R.n_entries; i++) {
		R.out_sum += R.entries[i].topic_len + R.entries[i].payload_len;
		if (R.entries[i].ack != FO_WR_ACK_NONE)
			fo_wr_ack_done(&R.wr, R.entries[i].ack, false);
	}
	R.out_entries += R.n_entries;
	R.n_entries = 0;
}

/* One MQTT-SN datagram (fo_stage_worker's loop body). */
static void worker_one(const struct frame *fr, const struct l2l4_pkt *k, uint16_t ifindex, struct payload *pl)
{
	const uint8_t *ip = fr->data + k->l2_len;
	const uint8_t *udp = ip + k->l3_len;
	uint16_t ulen = (uint16_t)(udp[4] << 8 | udp[5]);
	struct fo_client from = {
		.ip = (uint32_t)ip[12] << 24 | (uint32_t)ip[13] << 16 | (uint32_t)ip[14] << 8 | ip[15],
		.port = (uint16_t)(udp[0] << 8 | udp[1]),
		.ifindex = ifindex,
	};
	struct broker_result res;
	pl->data = fr->data; /* the whole frame until payload_bind narrows it */
	pl->len = (uint16_t)fr->len;
	pl->msg = udp + L2L4_UDP_HLEN;
	pl->msg_end = udp + ulen;
	pl->refs = 1;
	R.cur_pl = pl;
	broker_handle(R.broker, &from, udp + L2L4_UDP_HLEN, (uint16_t)(ulen - L2L4_UDP_HLEN), pl, R.now_ms, &res);
	switch (res.fate) {
	case FO_FATE_DELIVERED: R.c.delivered++; break;
	case FO_FATE_ANSWERED: R.c.answered++; break;
	default: fo_count_drop(&R.c, res.drop); break;
	}
	fo_wr_account(&R.wr, &R.gs, &res);
	pl->refs--; /* rte_pktmbuf_free(m) */
}

/* ---- rx: fo_rx_classify's loop body (the decision is rx_classify.h's), then the worker ---- */

static void run_burst(const struct frame *fr, struct payload *pls, uint32_t n, uint16_t ifindex)
{
	struct port *p = &R.ports[ifindex];
	struct l2l4_pkt k[FO_MAX_BURST];
	uint32_t to_worker[FO_MAX_BURST];
	uint32_t n_to_worker = 0;
	R.c.rx += n;
	for (uint32_t i = 0; i < n; i++) {
		l2l4_parse(fr[i].data, fr[i].len, &p->ifc, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k[i]);
		uint32_t w;
		switch (fo_rx_decide(&k[i], &p->ifc, p->neigh, NULL, &R.c, R.now_ms, R.n_workers, &w)) {
		case FO_RX_TO_WORKER:
			/* the one worker modelled here */
			pls[i].msg_sum = k[i].msg_sum_valid ? MSG_SUM_VALID | k[i].msg_sum
							    : 0; /* hash.usr in the dataplane */
			to_worker[n_to_worker++] = i | w << 16;
			break;
		case FO_RX_ANSWER_ARP: {
			uint8_t *b = alloc_out();
			size_t len = l2l4_build_arp(b, 2, k[i].arp_sender_mac, p->ifc.mac, p->ifc.ip,
						    k[i].arp_sender_mac, k[i].arp_sender_ip, p->ifc.vlan);
			push_out((uint32_t)len);
			R.c.answered++;
			break;
		}
		case FO_RX_ECHO: {
			uint8_t mac[6];
			if (resolve(p, k[i].src_ip, mac)) {
				uint8_t *b = alloc_out();
				uint32_t len = (uint32_t)k[i].payload_off + k[i].payload_len;
				/* in place in the dataplane; the capture is read-only here */
				memcpy(b, fr[i].data, len);
				l2l4_icmp_echo_to_reply(b, &k[i], mac, p->ifc.mac);
				push_out(len);
			} else {
				out_fail(FO_OUT_DROP_NO_NEIGHBOUR);
			}
			break;
		}
		case FO_RX_DONE:
		default: break;
		}
	}
	for (uint32_t j = 0; j < n_to_worker; j++) {
		uint32_t i = to_worker[j] & 0xffff;
		worker_one(&fr[i], &k[i], ifindex, &pls[i]);
	}
}

static uint64_t clock_frames; /* frames since the virtual clock last advanced */
static uint32_t frames_per_ms = 1000;
static uint64_t last_tick_ms;

/* broker_io.client_config and broker_io.predef_named: the worker's, by the generation set. */
static const struct broker_config *io_client_config(void *ctx, uint32_t client_hash)
{
	return fo_wr_client_config(&((struct replay *)ctx)->gs, client_hash);
}

static int io_predef_named(void *ctx, const uint8_t *name, uint16_t len, const struct predef_set **all)
{
	return fo_wr_predef_named(&((struct replay *)ctx)->gs, name, len, all);
}

static void run_capture(const struct pcap *pc, struct payload *pls, uint16_t ifindex)
{
	for (uint32_t i = 0; i < pc->n; i += R.burst) {
		uint32_t n = pc->n - i < R.burst ? pc->n - i : R.burst;
		fo_wr_predef_view(R.broker, &R.gs); /* as the worker does for each burst */
		run_burst(pc->f + i, pls + i, n, ifindex);
		if (R.now_ms != last_tick_ms) { /* the worker ticks once per millisecond */
			broker_tick(R.broker, R.now_ms);
			last_tick_ms = R.now_ms;
		}
		flush_out();
		drain_outputs();
		clock_frames += n;
		if (clock_frames >= frames_per_ms) {
			R.now_ms += clock_frames / frames_per_ms;
			clock_frames %= frames_per_ms;
		}
	}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage(void)
{
	fprintf(stderr, "usage: fanout-core-replay --dir DIR [--loops K] [--warmup W] [--frames-per-ms N] [--json]\n"
			"                          [--verify] [--mac0 MAC] [--mac1 MAC]\n"
			"  DIR holds preamble.pcap, steady.pcap and dataplane.yaml from bench/workload.py\n"
			"  (or give --preamble, --steady and --config separately).\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *pre_path = NULL, *steady_path = NULL, *cfg_path = NULL;
	const char *mac_s[2] = { "02:70:63:61:70:00", "02:70:63:61:70:01" };
	long loops = 1, warmup = 1;
	bool json = false;
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "preamble", required_argument, NULL, 'p' },
		{ "steady", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "loops", required_argument, NULL, 'k' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "frames-per-ms", required_argument, NULL, 'f' },
		{ "mac0", required_argument, NULL, '0' },
		{ "mac1", required_argument, NULL, '1' },
		{ "json", no_argument, NULL, 'j' },
		{ "verify", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd': dir = optarg; break;
		case 'p': pre_path = optarg; break;
		case 's': steady_path = optarg; break;
		case 'c': cfg_path = optarg; break;
		case 'k': loops = strtol(optarg, NULL, 10); break;
		case 'w': warmup = strtol(optarg, NULL, 10); break;
		case 'f': frames_per_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
		case '0': mac_s[0] = optarg; break;
		case '1': mac_s[1] = optarg; break;
		case 'j': json = true; break;
		case 'v': verify = true; break;
		default: usage();
		}
	}
	if (optind != argc || loops < 1 || warmup < 0 || frames_per_ms < 1)
		usage();
	char buf[3][4096];
	if (dir) {
		snprintf(buf[0], sizeof(buf[0]), "%s/preamble.pcap", dir);
		snprintf(buf[1], sizeof(buf[1]), "%s/steady.pcap", dir);
		snprintf(buf[2], sizeof(buf[2]), "%s/dataplane.yaml", dir);
		pre_path = pre_path ? pre_path : buf[0];
		steady_path = steady_path ? steady_path : buf[1];
		cfg_path = cfg_path ? cfg_path : buf[2];
	}
	if (!pre_path || !steady_path || !cfg_path)
		usage();

	struct fo_config *cfg;
	char err[512];
	if (fo_config_load(cfg_path, &cfg, err, sizeof(err)) != 0)
		die("%s: %s", cfg_path, err);
	if (cfg->n_ports < 2)
		die("%s: %s", cfg_path, "needs two ports (port 0 for the preamble, port 1 for the steady capture)");
	R.n_ports = 2;
	R.n_workers = 1;
	R.burst = cfg->burst ? cfg->burst : FO_DEFAULT_BURST;
	if (R.burst > FO_MAX_BURST)
		R.burst = FO_MAX_BURST;
	R.hdr_room = 64 + 16 + cfg->broker.max_topic_len; /* main.c setup_pools */
	if (R.hdr_room < 256)
		R.hdr_room = 256;
	for (uint32_t i = 0; i < R.n_ports; i++) {
		const struct fo_port_config *pc = &cfg->ports[i];
		struct port *p = &R.ports[i];
		parse_mac(mac_s[i], p->ifc.mac);
		p->ifc.ip = pc->ip;
		p->ifc.netmask = pc->prefix_len ? (uint32_t)(0xffffffffull << (32 - pc->prefix_len)) : 0;
		p->ifc.vlan = pc->vlan;
		p->ifc.mqttsn_port = pc->mqttsn_port;
		p->gateway = pc->gateway;
		p->multi_seg = true;
		/* a fixed hash key: runs must be comparable (the dataplane draws one per process) */
		struct fo_neigh_conf nc = { .capacity = cfg->neighbours,
					    .seed = { 0x6e656967686230ull, 0x7265706c6179ull },
					    .max_age_ms = cfg->arp_max_age_s * 1000,
					    .pending_ms = FO_ARP_TRIES * FO_ARP_RETRY_MS,
					    .requests_per_s = cfg->arp_requests_per_s };
		p->neigh = fo_neigh_create(&nc);
		if (!p->neigh)
			die("%s%s", "cannot create a neighbour table", "");
	}
	/* Generation 1 over the config's routes, each destination leaving by the first port on its
	 * subnet, else the first port with a gateway (generation.c dest_port_of). */
	R.gen.id = 1;
	R.gen.slot = 0;
	R.gen.cfg = cfg;
	R.gen.rt = route_table_build(cfg);
	R.gen.rctr = calloc(cfg->n_routes + 1, sizeof(*R.gen.rctr));
	R.gen.rstride = cfg->n_routes;
	R.gen.dest_port = calloc(cfg->n_routes + 1, sizeof(*R.gen.dest_port));
	if (!R.gen.rt || !R.gen.rctr || !R.gen.dest_port)
		die("%s%s", "cannot build the route table", "");
	for (uint32_t r = 0; r < cfg->n_routes; r++)
		for (uint32_t d = 0; d < cfg->routes[r].n_to; d++) {
			uint32_t ip = cfg->routes[r].to[d].ip;
			uint16_t port = R.n_ports;
			for (uint16_t i = 0; i < R.n_ports && port == R.n_ports; i++)
				if (((ip ^ R.ports[i].ifc.ip) & R.ports[i].ifc.netmask) == 0)
					port = i;
			for (uint16_t i = 0; i < R.n_ports && port == R.n_ports; i++)
				if (R.ports[i].gateway)
					port = i;
			R.gen.dest_port[r][d] = port == R.n_ports ? 0 : port;
		}
	R.gs.stable = &R.gen;
	for (uint32_t i = 0; i < FO_MAX_SINKS; i++)
		R.sink_output[i] = (uint8_t)i;
	for (uint32_t i = 0; i < FO_MAX_BRIDGES; i++)
		R.bridge_output[i] = (uint8_t)(FO_MAX_SINKS + i);
	R.wr = (struct fo_worker_route){
		.io = { .ctx = &R,
			.send_copy = io_send_publish,
			.neighbour_known = io_neighbour_known,
			.out_enqueue = io_out_enqueue,
			.peer_post = io_peer_post,
			.deferred_puback = io_deferred_puback },
		.worker = 0,
		.n_workers = R.n_workers,
		.sink_output = R.sink_output,
		.bridge_output = R.bridge_output,
		.c = &R.c,
		.gen = R.gctr,
		.out = R.octr,
		.acks = R.acks,
		.n_acks = ACK_SLOTS,
	};
	fo_wr_init(&R.wr);
	struct broker_io bio = {
		.ctx = &R,
		.client_config = io_client_config,
		.predef_named = io_predef_named,
		.send = io_send,
		.send_publish = io_send_publish,
		.payload_bind = io_payload_bind,
		.payload_hold = io_payload_hold,
		.payload_release = io_payload_release,
		.payload_make = io_payload_make,
		.published = io_published,
	};
	const char *berr = NULL;
	R.broker = broker_create(&cfg->broker, &bio, &R.c, &berr);
	if (!R.broker)
		die("cannot create the MQTT-SN engine: %s%s", berr ? berr : "out of memory", "");

	struct pcap pre = load_pcap(pre_path), steady = load_pcap(steady_path);
	struct payload *pre_pl = calloc(pre.n + 1, sizeof(*pre_pl));
	struct payload *st_pl = calloc(steady.n + 1, sizeof(*st_pl));
	if (!pre_pl || !st_pl)
		die("%s%s", "out of memory", "");
	R.now_ms = 1000;

	run_capture(&pre, pre_pl, 0);
	uint32_t sessions = broker_session_count(R.broker), subs = broker_subscription_count(R.broker);
	for (long i = 0; i < warmup; i++)
		run_capture(&steady, st_pl, 1);

	bool verified = verify;
	verify = false; /* checked in the preamble and warm-up passes: not part of the measured work */
	struct fo_counters before = R.c;
	uint64_t before_frames = R.out_frames, before_bytes = R.out_bytes, before_entries = R.out_entries;
	double t0 = now_s();
	CALLGRIND_TOGGLE_COLLECT;
	for (long i = 0; i < loops; i++)
		run_capture(&steady, st_pl, 1);
	CALLGRIND_TOGGLE_COLLECT;
	double t1 = now_s();

	uint64_t msgs = (uint64_t)steady.n * (uint64_t)loops;
	uint64_t publishes = R.c.ev[FO_EV_PUBLISH_ACCEPTED] - before.ev[FO_EV_PUBLISH_ACCEPTED];
	uint64_t deliveries = R.c.ev[FO_EV_DELIVERIES] - before.ev[FO_EV_DELIVERIES];
	uint64_t out_frames = R.out_frames - before_frames, out_bytes = R.out_bytes - before_bytes;
	uint64_t out_entries = R.out_entries - before_entries;
	uint64_t pubacks_deferred = R.c.ev[FO_EV_PUBACK_DEFERRED] - before.ev[FO_EV_PUBACK_DEFERRED];
	uint64_t dropped = R.c.dropped - before.dropped, out_dropped = R.c.out_dropped - before.out_dropped;
	double ns = (t1 - t0) * 1e9 / (double)msgs;
	bool under_valgrind = RUNNING_ON_VALGRIND;
	if (json) {
		printf("{\"steady_frames\":%u,\"loops\":%ld,\"warmup\":%ld,\"messages\":%" PRIu64 ",\"sessions\":%u,"
		       "\"subscriptions\":%u,\"publishes\":%" PRIu64 ",\"deliveries\":%" PRIu64
		       ",\"out_frames\":%" PRIu64 ",\"out_bytes\":%" PRIu64 ",\"dropped\":%" PRIu64
		       ",\"out_dropped\":%" PRIu64
		       ",\"ns_per_msg\":%.1f,\"under_valgrind\":%s,\"callgrind\":%s,\"out_sum\":%" PRIu64
		       ",\"bad_frames\":%" PRIu64 ",\"out_entries\":%" PRIu64 ",\"pubacks_deferred\":%" PRIu64
		       ",\"compiler\":\"%s\"}\n",
		       steady.n, loops, warmup, msgs, sessions, subs, publishes, deliveries, out_frames, out_bytes,
		       dropped, out_dropped, ns, under_valgrind ? "true" : "false", HAVE_CALLGRIND ? "true" : "false",
		       R.out_sum, bad_frames, out_entries, pubacks_deferred, FO_COMPILER);
	} else {
		printf("preamble: %u frames, %u sessions, %u subscriptions\n", pre.n, sessions, subs);
		printf("steady: %u frames x %ld loops (+%ld warm-up) = %" PRIu64 " messages: %" PRIu64
		       " publishes, %" PRIu64 " deliveries, %" PRIu64 " frames out (%" PRIu64 " bytes), %" PRIu64
		       " dropped, %" PRIu64 " out dropped\n",
		       steady.n, loops, warmup, msgs, publishes, deliveries, out_frames, out_bytes, dropped,
		       out_dropped);
		if (out_entries)
			printf("sink/bridge entries: %" PRIu64 " (%" PRIu64 " PUBACKs deferred until written)\n",
			       out_entries, pubacks_deferred);
		if (verified)
			printf("verify (preamble and warm-up): %" PRIu64
			       " output frames with a bad length or checksum\n",
			       bad_frames);
		printf("%.1f ns/message%s\n", ns,
		       under_valgrind ? " (under valgrind: meaningless)" : " (wall clock, informational)");
	}
	broker_destroy(R.broker);
	route_table_free(R.gen.rt);
	free(R.gen.rctr);
	free(R.gen.dest_port);
	for (uint32_t i = 0; i < R.n_ports; i++)
		fo_neigh_destroy(R.ports[i].neigh);
	fo_config_free(cfg);
	free(pre.buf);
	free(pre.f);
	free(steady.buf);
	free(steady.f);
	free(pre_pl);
	free(st_pl);
	return bad_frames ? 1 : 0;
}
