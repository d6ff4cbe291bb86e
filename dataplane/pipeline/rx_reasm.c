/* IPv4 and IPv6 reassembly on the rx lcore (DPDK's rte_ip_frag), between classification and worker
 * dispatch: only a datagram's first fragment carries the UDP ports that choose its worker. One
 * table per rx lcore, so no locks. A completed datagram comes back in one contiguous mbuf, since
 * the codec and the engine read a message as one run of bytes, and the rx stage parses it again
 * whole (the UDP checksum covers every fragment). Every fragment ends with a fate: merged into a
 * datagram (frag_merged), or one of frag_table_full, frag_invalid, frag_timeout, frag_no_buffer,
 * message_too_big (its datagram was refused before), shutdown; while held in the table it is in
 * the pipeline. IPv6 fragments share the table and the death row (rte_ipv6_frag_reassemble_packet
 * keys them by both addresses and the 32-bit identification). */
#define ALLOW_EXPERIMENTAL_API /* rte_ip_frag_table_del_expired_entries */
#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_malloc.h>

#include "dataplane.h"
#include "frag_refused.h"

_Static_assert(RTE_LIBRTE_IP_FRAG_MAX_FRAG == FO_REASM_FRAGS_PER_FLOW,
	       "the MTU check at start-up (main.c) counts RTE_LIBRTE_IP_FRAG_MAX_FRAG fragments per datagram");

/* Entries per bucket, with reassembly.max_flows buckets: four slots per flow, so colliding
 * hashes (a datagram may go in either of two buckets) rarely refuse one before max_flows. */
#define REASM_BUCKET_ENTRIES 4
/* Free the death row before another call could overflow it (one call adds at most a flow). */
#define REASM_DR_HIGH (RTE_IP_FRAG_DEATH_ROW_MBUF_LEN - (RTE_LIBRTE_IP_FRAG_MAX_FRAG + 1))

struct fo_reasm {
	struct rte_ip_frag_tbl *tbl;
	uint64_t next_expiry_tsc;
	uint64_t expiry_every;          /* TSC cycles between expiry scans */
	uint64_t timeout_tsc;           /* reassembly.timeout_ms in TSC cycles */
	struct fo_frag_refused refused; /* datagrams a fragment showed to be over the limit */
	struct rte_ip_frag_death_row dr;
};

int fo_reasm_init(struct fo_lcore *lc)
{
	const struct fo_config *c = fo_dp.cfg;
	if (c->reasm_max_flows == 0)
		return 0;
	int sock = (int)rte_lcore_to_socket_id(lc->lcore_id);
	struct fo_reasm *r = rte_zmalloc_socket("fo_reasm", sizeof(*r), RTE_CACHE_LINE_SIZE, sock);
	if (!r) {
		fprintf(stderr, "lcore %u: cannot allocate the reassembly state; add hugepages\n", lc->lcore_id);
		return -1;
	}
	uint64_t cycles = fo_dp.tsc_hz / 1000 * c->reasm_timeout_ms;
	r->tbl = rte_ip_frag_table_create(c->reasm_max_flows, REASM_BUCKET_ENTRIES, c->reasm_max_flows, cycles, sock);
	if (!r->tbl) {
		fprintf(stderr,
			"lcore %u: cannot create a reassembly table of %u flows: %s; lower reassembly.max_flows or "
			"add hugepages\n",
			lc->lcore_id, c->reasm_max_flows, rte_strerror(rte_errno));
		rte_free(r);
		return -1;
	}
	r->expiry_every = fo_dp.tsc_hz / 1000000 * FO_REASM_EXPIRE_US;
	r->timeout_tsc = cycles;
	lc->reasm = r;
	return 0;
}

static void count_drops(struct fo_counters *c, enum fo_drop why, uint32_t n)
{
	c->drop[why] += n;
	c->dropped += n;
}

/* The datagram in one segment: in place when the first fragment's buffer has the room, else
 * copied into a large mbuf (its headroom given up: nothing is ever prepended to it). */
static struct rte_mbuf *contiguous(struct rte_mbuf *d, struct fo_counters *c)
{
	if (rte_pktmbuf_linearize(d) == 0)
		return d;
	struct rte_mbuf *f = fo_dp.large_pool ? rte_pktmbuf_alloc(fo_dp.large_pool) : NULL;
	if (unlikely(!f)) {
		rte_pktmbuf_free(d);
		fo_count_drop(c, FO_DROP_FRAG_NO_BUFFER);
		return NULL;
	}
	f->data_off = 0;
	if (unlikely(d->pkt_len > f->buf_len)) { /* parse refused every fragment past the limit */
		rte_pktmbuf_free(d);
		rte_pktmbuf_free(f);
		fo_count_drop(c, FO_DROP_MESSAGE_TOO_BIG);
		return NULL;
	}
	uint8_t *dst = rte_pktmbuf_mtod(f, uint8_t *);
	for (const struct rte_mbuf *s = d; s; s = s->next) {
		memcpy(dst, rte_pktmbuf_mtod(s, const uint8_t *), s->data_len);
		dst += s->data_len;
	}
	f->data_len = (uint16_t)d->pkt_len;
	f->pkt_len = d->pkt_len;
	f->port = d->port;
	rte_pktmbuf_free(d);
	return f;
}

void fo_reasm_refuse(struct fo_reasm *r, const struct l2l4_pkt *k, uint64_t tsc)
{
	fo_frag_refused_add(&r->refused, k->src_ip, k->dst_ip, k->frag_id, tsc, r->timeout_tsc);
}

/* A fragment of a datagram refused before: dropped at once (message_too_big). */
static bool refused(struct fo_reasm *r, struct rte_mbuf *m, const struct l2l4_pkt *k, uint64_t tsc,
		    struct fo_counters *c)
{
	if (likely(!fo_frag_refused_has(&r->refused, k->src_ip, k->dst_ip, k->frag_id, tsc)))
		return false;
	fo_count_drop(c, FO_DROP_MESSAGE_TOO_BIG);
	r->dr.row[r->dr.cnt++] = m; /* freed with the death row */
	if (r->dr.cnt > REASM_DR_HIGH)
		rte_ip_frag_free_death_row(&r->dr, 0);
	return true;
}

static struct rte_mbuf *merged(struct fo_reasm *r, struct rte_mbuf *m, struct rte_mbuf *d, uint32_t before,
			       struct fo_counters *c);

struct rte_mbuf *fo_reasm_ipv6(struct fo_reasm *r, struct rte_mbuf *m, const struct l2l4_pkt *k, uint64_t tsc,
			       struct fo_counters *c)
{
	if (unlikely(refused(r, m, k, tsc, c)))
		return NULL;
	m->l2_len = k->l2_len;
	m->l3_len = k->l3_len; /* the IPv6 header and the fragment header */
	struct rte_ipv6_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv6_hdr *, k->l2_len);
	struct rte_ipv6_fragment_ext *fh = (struct rte_ipv6_fragment_ext *)(ip + 1);
	uint32_t before = r->dr.cnt;
	struct rte_mbuf *d = rte_ipv6_frag_reassemble_packet(r->tbl, &r->dr, m, tsc, ip, fh);
	return merged(r, m, d, before, c);
}

struct rte_mbuf *fo_reasm_ipv4(struct fo_reasm *r, struct rte_mbuf *m, const struct l2l4_pkt *k, uint64_t tsc,
			       struct fo_counters *c)
{
	if (unlikely(refused(r, m, k, tsc, c)))
		return NULL;
	m->l2_len = k->l2_len;
	m->l3_len = k->l3_len;
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, k->l2_len);
	uint32_t before = r->dr.cnt;
	struct rte_mbuf *d = rte_ipv4_frag_reassemble_packet(r->tbl, &r->dr, m, tsc, ip);
	d = merged(r, m, d, before, c);
	if (!d)
		return NULL;
	ip = rte_pktmbuf_mtod_offset(d, struct rte_ipv4_hdr *, k->l2_len);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	return d;
}

/* What the table made of fragment m: its drops counted, and a completed datagram d (or NULL) in
 * one contiguous mbuf. */
static struct rte_mbuf *merged(struct fo_reasm *r, struct rte_mbuf *m, struct rte_mbuf *d, uint32_t before,
			       struct fo_counters *c)
{
	uint32_t gone = r->dr.cnt - before;
	if (gone) {
		/* The rx stage expires flows with the burst's stamp before its first fragment, so none
		 * is stale here: the fragment alone refused is a table without room (a new datagram
		 * never fails its first fragment otherwise); more is a datagram given up whole. */
		bool alone = gone == 1 && r->dr.row[r->dr.cnt - 1] == m;
		count_drops(c, alone ? FO_DROP_FRAG_TABLE_FULL : FO_DROP_FRAG_INVALID, gone);
		if (r->dr.cnt > REASM_DR_HIGH)
			rte_ip_frag_free_death_row(&r->dr, 0);
	}
	if (!d)
		return NULL;
	c->frag_merged += d->nb_segs - 1u; /* the datagram carries the first fragment's fate */
	c->ev[FO_EV_FRAG_REASSEMBLED]++;
	return contiguous(d, c);
}

void fo_reasm_expire(struct fo_reasm *r, uint64_t tsc, struct fo_counters *c)
{
	if (r->dr.cnt)
		rte_ip_frag_free_death_row(&r->dr, 0);
	r->next_expiry_tsc = tsc + r->expiry_every;
	/* Expired flows are on the LRU list's head; what does not fit on the death row now goes on
	 * the next scan (then a fragment may meet a stale flow, counted frag_invalid). */
	rte_ip_frag_table_del_expired_entries(r->tbl, &r->dr, tsc);
	if (r->dr.cnt) {
		count_drops(c, FO_DROP_FRAG_TIMEOUT, r->dr.cnt);
		rte_ip_frag_free_death_row(&r->dr, 0);
	}
}

void fo_reasm_idle(struct fo_reasm *r, struct fo_counters *c)
{
	uint64_t now = rte_get_tsc_cycles();
	if (now >= r->next_expiry_tsc)
		fo_reasm_expire(r, now, c);
}

void fo_reasm_fini(struct fo_lcore *lc, struct fo_counters *c)
{
	struct fo_reasm *r = lc->reasm;
	if (!r)
		return;
	if (r->dr.cnt)
		rte_ip_frag_free_death_row(&r->dr, 0);
	/* Every entry is expired at the end of time; a death row at a time. */
	for (;;) {
		rte_ip_frag_table_del_expired_entries(r->tbl, &r->dr, UINT64_MAX / 2);
		if (!r->dr.cnt)
			break;
		count_drops(c, FO_DROP_SHUTDOWN, r->dr.cnt);
		rte_ip_frag_free_death_row(&r->dr, 0);
	}
	rte_ip_frag_table_destroy(r->tbl);
	rte_free(r);
	lc->reasm = NULL;
}
