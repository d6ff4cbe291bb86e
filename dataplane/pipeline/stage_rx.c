/* rx stage, in three pieces lcore.c strings together: poll (rx_burst from one (port, queue)
 * pair, paced for the bench when RXPACE asks), classify (L2-L4; ARP and ICMP echo answered here;
 * MQTT-SN datagrams sorted to the worker that owns the client, by source address and port) and
 * dispatch (worker rings, the reply ring, bulk free of the rest). IPv4 and IPv6 fragments are reassembled
 * here (rx_reasm.c), before the worker is chosen. Every packet leaves with a fate: to a worker
 * (the worker accounts for it), answered, held for reassembly, merged, or a named drop. */
#include <rte_ethdev.h>
#include <rte_prefetch.h>

#include "dataplane.h"
#include "rx_classify.h"

#define PREFETCH_OFFSET 3

static inline enum l2l4_ck ck_verdict(const struct rte_mbuf *m, bool offload, uint64_t mask, uint64_t good,
				      uint64_t bad)
{
	if (!offload)
		return L2L4_CK_VERIFY;
	uint64_t f = m->ol_flags & mask;
	return f == good ? L2L4_CK_GOOD : f == bad ? L2L4_CK_BAD : L2L4_CK_VERIFY;
}

/* Answer an ARP request for our address in a fresh frame: the requester's MAC comes
 * from the request itself (RFC 826); learn() has taken the sender's entry if there was room. */
static bool answer_arp(struct fo_port *p, const struct l2l4_pkt *k, struct rte_ring *tx, struct fo_lcore_stats *st)
{
	struct rte_mbuf *r = rte_pktmbuf_alloc(fo_dp.hdr_pool);
	if (unlikely(!r)) {
		fo_out_fail(st, FO_OUT_DROP_HDR_POOL_EMPTY);
		return false;
	}
	uint8_t *b = rte_pktmbuf_mtod(r, uint8_t *);
	size_t n = l2l4_build_arp(b, 2, k->arp_sender_mac, p->ifc.mac, p->ifc.ip, k->arp_sender_mac, k->arp_sender_ip,
				  p->ifc.vlan);
	r->data_len = r->pkt_len = (uint32_t)n;
	r->port = p->port_id;
	fo_out_enqueue(tx, &r, 1, st);
	return true;
}

/* Answer a Neighbor Solicitation for one of our addresses with an Advertisement from it, to the
 * solicitation's source at the MAC it gave (or the frame's source MAC when it gave none). */
static bool answer_ns(struct fo_port *p, const struct l2l4_pkt *k, struct rte_ring *tx, struct fo_lcore_stats *st)
{
	struct rte_mbuf *r = rte_pktmbuf_alloc(fo_dp.hdr_pool);
	if (unlikely(!r)) {
		fo_out_fail(st, FO_OUT_DROP_HDR_POOL_EMPTY);
		return false;
	}
	size_t n = l2l4_build_na(rte_pktmbuf_mtod(r, uint8_t *), &p->ifc, k->nd_has_lladdr ? k->nd_lladdr : k->src_mac,
				 k->src_ip6, k->nd_target);
	r->data_len = r->pkt_len = (uint32_t)n;
	r->port = p->port_id;
	fo_out_enqueue(tx, &r, 1, st);
	return true;
}

/* Benchmark pacing (RXPACE): a token bucket of at most one burst, so the offered load is what
 * the bench asks for while the device itself never runs dry. Returns how many packets this poll
 * may take (the burst when pacing is off). */
static inline uint32_t rx_pace_want(struct fo_lcore *lc, uint16_t qi, uint64_t pace, uint32_t burst)
{
	if (likely(pace == 0))
		return burst;
	uint64_t now = rte_get_tsc_cycles();
	uint64_t el = RTE_MIN(now - lc->rxq[qi].pace_last, fo_dp.tsc_hz / 100); /* no overflow */
	uint64_t add = el * pace * FO_PACE_SCALE / fo_dp.tsc_hz;
	if (add) {
		lc->rxq[qi].pace_last = now;
		lc->rxq[qi].pace_tokens = RTE_MIN(lc->rxq[qi].pace_tokens + add, (uint64_t)burst * FO_PACE_SCALE);
	}
	return (uint32_t)(lc->rxq[qi].pace_tokens / FO_PACE_SCALE);
}

uint16_t fo_rx_poll(struct fo_lcore *lc, uint16_t qi, struct rte_mbuf **pkts, struct fo_lcore_stats *st)
{
	uint16_t port_id = lc->rxq[qi].port;
	struct fo_port *p = &fo_dp.ports[fo_dp.port_index[port_id]];
	uint64_t pace = atomic_load_explicit(&p->rx_pace_pps, memory_order_relaxed);
	uint32_t want = rx_pace_want(lc, qi, pace, fo_dp.burst);
	if (want == 0)
		return 0;
	uint16_t n = rte_eth_rx_burst(port_id, lc->rxq[qi].queue, pkts, (uint16_t)want);
	if (unlikely(pace != 0))
		lc->rxq[qi].pace_tokens -= (uint64_t)n * FO_PACE_SCALE;
	st->c.rx += n;
	st->port_rx[fo_dp.port_index[port_id]] += n;
	return n;
}

/* An echo request turned into its reply in place (ICMP or ICMPv6): trimmed of the Ethernet padding
 * the request may have carried and queued as a reply; without a next hop (resolved false) an output
 * drop, the mbuf done. */
static void echo_out(struct fo_rx_burst *b, struct rte_mbuf *m, uint16_t port_id, const struct l2l4_pkt *k,
		     bool resolved, struct fo_lcore_stats *st)
{
	if (!resolved) {
		fo_out_fail(st, FO_OUT_DROP_NO_NEIGHBOUR);
		b->done[b->n_done++] = m;
		return;
	}
	m->port = port_id;
	m->ol_flags = 0;
	uint32_t len = (uint32_t)k->payload_off + k->payload_len;
	if (m->data_len > len)
		rte_pktmbuf_trim(m, (uint16_t)(m->data_len - len));
	b->replies[b->n_reply++] = m;
}

void fo_rx_classify(struct fo_lcore *lc, uint16_t port_id, struct rte_mbuf **pkts, uint16_t n, struct fo_rx_burst *b,
		    struct fo_lcore_stats *st)
{
	struct fo_port *p = &fo_dp.ports[fo_dp.port_index[port_id]];
	const uint64_t rx_tsc = rte_get_tsc_cycles(); /* one stamp per burst: rx -> tx latency */
	const uint64_t now_ms = (rx_tsc - fo_dp.start_tsc) / (fo_dp.tsc_hz / 1000); /* fo_now_ms() */
	b->n_done = 0;
	b->n_reply = 0;
	memset(b->n_to_worker, 0, sizeof(b->n_to_worker[0]) * fo_dp.n_workers);

	for (uint16_t i = 0; i < n && i < PREFETCH_OFFSET; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	bool expired = false;
	for (uint16_t i = 0; i < n; i++) {
		if (i + PREFETCH_OFFSET < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + PREFETCH_OFFSET], void *));
		struct rte_mbuf *m = pkts[i];
		struct l2l4_pkt k;
		if (unlikely(m->nb_segs != 1)) {
			/* MTU-sized pools make this impossible unless a PMD scatters. */
			fo_count_drop(&st->c, FO_DROP_IP_BAD_LENGTH);
			b->done[b->n_done++] = m;
			continue;
		}
		l2l4_parse(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, &p->ifc,
			   ck_verdict(m, p->rx_ip_ck, RTE_MBUF_F_RX_IP_CKSUM_MASK, RTE_MBUF_F_RX_IP_CKSUM_GOOD,
				      RTE_MBUF_F_RX_IP_CKSUM_BAD),
			   ck_verdict(m, p->rx_l4_ck, RTE_MBUF_F_RX_L4_CKSUM_MASK, RTE_MBUF_F_RX_L4_CKSUM_GOOD,
				      RTE_MBUF_F_RX_L4_CKSUM_BAD),
			   &k);
		/* k.frag only when ifc.reassemble, set only with a table on every rx lcore */
		if (unlikely(k.frag) && k.kind == L2L4_DROP && k.drop == FO_DROP_MESSAGE_TOO_BIG) {
			/* message_too_big (counted below): refuse the fragments that follow it too */
			fo_reasm_refuse(lc->reasm, &k, rx_tsc);
		} else if (unlikely(k.kind == L2L4_IPV4_FRAGMENT || k.kind == L2L4_IPV6_FRAGMENT)) {
			if (!expired) { /* stale flows out first, at the stamp the burst is reassembled with */
				fo_reasm_expire(lc->reasm, rx_tsc, &st->c);
				expired = true;
			}
			m = k.v6 ? fo_reasm_ipv6(lc->reasm, m, &k, rx_tsc, &st->c)
				 : fo_reasm_ipv4(lc->reasm, m, &k, rx_tsc, &st->c);
			if (!m)
				continue; /* held, or dropped and counted */
			/* The whole datagram, parsed again: its UDP header and checksum, its length. */
			l2l4_parse(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, &p->ifc, L2L4_CK_VERIFY,
				   L2L4_CK_VERIFY, &k);
		}
		uint32_t w;
		switch (fo_rx_decide(&k, &p->ifc, p->neigh, p->neigh6, &st->c, now_ms, fo_dp.n_workers, &w)) {
		case FO_RX_TO_WORKER:
			/* Workers read the client from the headers at l2_len/l3_len. */
			m->l2_len = k.l2_len;
			m->l3_len = k.l3_len;
			m->l4_len = L2L4_UDP_HLEN;
			fo_meta(m)->rx_tsc = rx_tsc; /* this line of the mbuf is written anyway (l2_len) */
			m->hash.usr = k.msg_sum_valid ? FO_MSG_SUM_VALID | k.msg_sum : 0;
			b->to_worker[w][b->n_to_worker[w]++] = m;
			break;
		case FO_RX_ANSWER_ARP:
			if (answer_arp(p, &k, lc->reply_tx, st))
				st->c.answered++;
			else
				fo_count_drop(&st->c, FO_DROP_REPLY_FAILED);
			b->done[b->n_done++] = m; /* the answer is a fresh frame */
			break;
		case FO_RX_ECHO: {
			/* The echo goes back through the neighbour table, not a MAC swap; a
			 * miss asks ARP and the reply is an output drop (no_neighbour). */
			uint8_t mac[6];
			bool ok = fo_resolve(p, k.src_ip, mac, lc->reply_tx, st);
			if (ok)
				l2l4_icmp_echo_to_reply(rte_pktmbuf_mtod(m, uint8_t *), &k, mac, p->ifc.mac);
			echo_out(b, m, port_id, &k, ok, st);
			break;
		}
		case FO_RX_ANSWER_NS:
			if (answer_ns(p, &k, lc->reply_tx, st))
				st->c.answered++;
			else
				fo_count_drop(&st->c, FO_DROP_REPLY_FAILED);
			b->done[b->n_done++] = m;
			break;
		case FO_RX_ECHO6: {
			uint8_t mac[6];
			bool ok = fo_resolve6(p, k.src_ip6, mac, lc->reply_tx, st);
			if (ok)
				l2l4_icmp6_echo_to_reply(rte_pktmbuf_mtod(m, uint8_t *), &k, mac, p->ifc.mac);
			echo_out(b, m, port_id, &k, ok, st);
			break;
		}
		case FO_RX_DONE:
		default: b->done[b->n_done++] = m; break;
		}
	}
}

void fo_rx_replies_direct(struct fo_lcore *lc, struct fo_rx_burst *b, struct fo_lcore_stats *st)
{
	if (b->n_reply && lc->txer && lc->reply_tx == lc->txer->ring) {
		st->c.out_generated += b->n_reply;
		fo_tx_send(st, lc->txer->idx, b->replies, b->n_reply);
		b->n_reply = 0;
	}
}

void fo_rx_dispatch(struct fo_lcore *lc, struct fo_rx_burst *b, struct fo_lcore_stats *st)
{
	for (uint32_t w = 0; w < fo_dp.n_workers; w++) {
		uint16_t c = b->n_to_worker[w];
		if (!c)
			continue;
		unsigned q = rte_ring_enqueue_burst(fo_dp.workers[w].in, (void **)b->to_worker[w], c, NULL);
		if (unlikely(q < c)) {
			st->c.drop[FO_DROP_WORKER_RING_FULL] += c - q;
			st->c.dropped += c - q;
			rte_pktmbuf_free_bulk(b->to_worker[w] + q, c - q);
		}
	}
	fo_out_enqueue(lc->reply_tx, b->replies, b->n_reply, st);
	if (b->n_done)
		rte_pktmbuf_free_bulk(b->done, b->n_done);
}
