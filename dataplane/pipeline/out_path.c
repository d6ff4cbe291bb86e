/* The output path every stage sends through: next-hop resolution against the port's neighbour
 * table (an ARP request on a miss), the hand-off of generated frames to a tx ring or, on a tx
 * lcore, straight to the ports (tx_burst, one immediate retry, then counted tx_burst_fail; chained
 * fan-out frames flattened only for ports without multi-segment tx, IPv4 and IPv6 datagrams over the
 * port's MTU split into fragments), and the hand-off of a publish to a peer worker. A library the
 * stages call, not a stage of its own. */
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_random.h>

#include "dataplane.h"

void fo_out_enqueue(struct rte_ring *tx, struct rte_mbuf **pkts, unsigned n, struct fo_lcore_stats *st)
{
	if (n == 0)
		return;
	st->c.out_generated += n;
	unsigned q = rte_ring_enqueue_burst(tx, (void **)pkts, n, NULL);
	if (unlikely(q < n)) {
		st->c.out_drop[FO_OUT_DROP_TX_RING_FULL] += n - q;
		st->c.out_dropped += n - q;
		rte_pktmbuf_free_bulk(pkts + q, n - q);
	}
}

void fo_arp_request(struct fo_port *p, uint32_t ip, struct rte_ring *tx, struct fo_lcore_stats *st)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t zero[6] = { 0 };
	struct rte_mbuf *m = rte_pktmbuf_alloc(fo_dp.hdr_pool);
	if (unlikely(!m)) {
		fo_out_fail(st, FO_OUT_DROP_HDR_POOL_EMPTY);
		return;
	}
	uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *);
	size_t n = l2l4_build_arp(b, 1, bcast, p->ifc.mac, p->ifc.ip, zero, ip, p->ifc.vlan);
	m->data_len = m->pkt_len = (uint32_t)n;
	m->port = p->port_id;
	st->c.ev[FO_EV_ARP_REQUESTS_SENT]++;
	fo_out_enqueue(tx, &m, 1, st);
}

bool fo_resolve(struct fo_port *p, uint32_t dst, uint8_t mac[6], struct rte_ring *tx, struct fo_lcore_stats *st)
{
	uint32_t nh = l2l4_next_hop(dst, p->ifc.ip, p->ifc.netmask, p->gateway);
	bool ask;
	bool ok = fo_neigh_next_hop(p->neigh, &st->c, nh, p->ifc.ip, p->ifc.netmask, fo_now_ms(), FO_ARP_RETRY_MS, mac,
				    &ask);
	if (ask) /* unresolved, or resolved but unconfirmed for a while: ask (again) */
		fo_arp_request(p, nh, tx, st);
	return ok;
}

/* A Neighbor Solicitation for target, from the address of ours in the same scope. */
static void ns_request(struct fo_port *p, const uint8_t target[16], struct rte_ring *tx, struct fo_lcore_stats *st)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(fo_dp.hdr_pool);
	if (unlikely(!m)) {
		fo_out_fail(st, FO_OUT_DROP_HDR_POOL_EMPTY);
		return;
	}
	bool ll = target[0] == 0xfe && (target[1] & 0xc0) == 0x80;
	size_t n = l2l4_build_ns(rte_pktmbuf_mtod(m, uint8_t *), &p->ifc, ll ? p->ifc.ll6 : p->ifc.ip6, target);
	m->data_len = m->pkt_len = (uint32_t)n;
	m->port = p->port_id;
	st->c.ev[FO_EV_ND_SOLICITATIONS_SENT]++;
	fo_out_enqueue(tx, &m, 1, st);
}

bool fo_resolve6(struct fo_port *p, const uint8_t dst[16], uint8_t mac[6], struct rte_ring *tx,
		 struct fo_lcore_stats *st)
{
	uint8_t nh[16];
	if (!p->neigh6 || !l2l4_next_hop6(&p->ifc, dst, p->gateway6, p->has_gateway6, nh))
		return false;
	bool ask;
	bool ok = fo_neigh6_next_hop(p->neigh6, &st->c, nh, l2l4_ip6_on_link(&p->ifc, nh), fo_now_ms(), FO_ARP_RETRY_MS,
				     mac, &ask);
	if (ask)
		ns_request(p, nh, tx, st);
	return ok;
}

bool fo_peer_post(uint32_t worker, const struct fo_wr_peer_pub *pub, struct rte_mbuf *payload,
		  bool (*wait)(uint64_t deadline), uint64_t deadline)
{
	struct fo_peer_msg *pm;
	while (unlikely(rte_mempool_get(fo_dp.peer_pool, (void **)&pm) != 0))
		if (!wait || !wait(deadline))
			return false;
	pm->payload = payload;
	pm->rx_tsc = pub->rx_tsc;
	pm->gen_slot = pub->gen_slot;
	pm->payload_len = pub->payload_len;
	pm->qos = pub->qos;
	pm->retain = pub->retain;
	pm->origin = pub->origin;
	pm->seq = pub->seq;
	pm->topic_len = pub->topic_len;
	memcpy(pm->topic, pub->topic, pub->topic_len);
	/* the reference is the peer's before it can see the descriptor */
	rte_mbuf_refcnt_update(payload, 1);
	while (unlikely(rte_ring_mp_enqueue(fo_dp.workers[worker].peer_in, pm) != 0)) {
		if (!wait || !wait(deadline)) {
			rte_mbuf_refcnt_update(payload, -1);
			rte_mempool_put(fo_dp.peer_pool, pm);
			return false;
		}
	}
	return true;
}

/* Copy a chained frame into one segment for ports without multi-segment tx. */
static struct rte_mbuf *flatten(struct rte_mbuf *m)
{
	struct rte_mbuf *f = rte_pktmbuf_alloc(fo_dp.pkt_pool);
	if (!f)
		return NULL;
	if (m->pkt_len > rte_pktmbuf_tailroom(f)) {
		rte_pktmbuf_free(f);
		return NULL;
	}
	char *dst = rte_pktmbuf_append(f, (uint16_t)m->pkt_len);
	const void *src = rte_pktmbuf_read(m, 0, m->pkt_len, dst);
	if (src != dst)
		memcpy(dst, src, m->pkt_len);
	f->port = m->port;
	if (m->ol_flags & fo_dp.meta_flag) {
		*fo_meta(f) = *fo_meta(m);
		f->ol_flags |= fo_dp.meta_flag;
	}
	rte_pktmbuf_free(m);
	return f;
}

static void send_port(uint16_t pidx, uint16_t queue, struct rte_mbuf **pkts, uint16_t n, struct fo_lcore_stats *st)
{
	struct fo_port *p = &fo_dp.ports[pidx];
	/* rx -> tx latency: read the stamps before tx_burst (the PMD may free the mbufs), count
	 * them for the packets it took. */
	uint64_t tsc[FO_MAX_BURST];
	uint8_t slot[FO_MAX_BURST];
	const uint64_t flag = fo_dp.meta_flag;
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		slot[i] = FO_GEN_SLOT_NONE;
		if (m->ol_flags & flag) {
			const struct fo_meta *mt = fo_meta(m);
			tsc[i] = mt->rx_tsc;
			slot[i] = mt->gen_slot;
			m->ol_flags &= ~flag;
		}
	}
	uint16_t sent = rte_eth_tx_burst(p->port_id, queue, pkts, n);
	if (unlikely(sent < n)) /* one retry: the NIC may have freed descriptors meanwhile */
		sent = (uint16_t)(sent + rte_eth_tx_burst(p->port_id, queue, pkts + sent, (uint16_t)(n - sent)));
	const uint64_t now = rte_get_tsc_cycles();
	for (uint16_t i = 0; i < sent; i++) {
		if (slot[i] >= FO_GEN_SLOTS)
			continue;
		struct fo_gen_ctr *g = &st->gen[slot[i]];
		uint64_t d = now - tsc[i];
		g->lat[fo_lat_bucket(d)]++;
		g->latency_samples++;
		if (d > g->lat_max)
			g->lat_max = d;
	}
	st->c.out_sent += sent;
	st->port_tx[pidx] += sent;
	if (unlikely(sent < n)) {
		st->c.out_drop[FO_OUT_DROP_TX_BURST_FAIL] += n - sent;
		st->c.out_dropped += n - sent;
		rte_pktmbuf_free_bulk(pkts + sent, n - sent);
	}
}

/* IPv4 identification of the datagrams this lcore fragments (RFC 6864: unique per source,
 * destination and protocol while fragments may live; ours are otherwise atomic, id 0 with DF):
 * a counter per sending lcore from a random start, so two lcores fragmenting for one client at
 * once do not walk the same numbers. Bit 16 marks it started. */
static RTE_DEFINE_PER_LCORE(uint32_t, frag_ip_id);

static uint16_t next_ip_id(void)
{
	uint32_t v = RTE_PER_LCORE(frag_ip_id);
	if (!(v & 0x10000))
		v = 0x10000 | (uint32_t)(rte_rand() & 0xffff);
	if ((v & 0xffff) == 0)
		v++;
	RTE_PER_LCORE(frag_ip_id) = 0x10000 | ((v + 1) & 0xffff);
	return (uint16_t)v;
}

/* The Fragment header identification of the IPv6 datagrams this lcore fragments (RFC 8200 4.5:
 * different from any other fragmented datagram's with the same addresses while its fragments may
 * live): a 32-bit counter per sending lcore from a random start, as next_ip_id. */
static RTE_DEFINE_PER_LCORE(uint64_t, frag_ip6_id);

static uint32_t next_ip6_id(void)
{
	uint64_t v = RTE_PER_LCORE(frag_ip6_id);
	if (!(v >> 32))
		v = 1ull << 32 | (uint32_t)rte_rand();
	RTE_PER_LCORE(frag_ip6_id) = 1ull << 32 | (uint32_t)(v + 1);
	return (uint32_t)v;
}

/* IPv6 fragments of the datagram at m (its IPv6 header first): rte_ipv6_fragment_packet puts a
 * Fragment header after a copy of the IPv6 header (our datagrams have no extension headers: that
 * header is the whole unfragmentable part) and cuts the rest in multiples of 8 bytes, but leaves
 * the identification 0: every fragment gets the datagram's. */
static int32_t fragment6(struct rte_mbuf *m, const struct fo_port *p, struct rte_mbuf **out)
{
	int32_t n = rte_ipv6_fragment_packet(m, out, FO_TX_FRAGS_MAX, p->mtu, fo_dp.hdr_pool, fo_dp.indirect_pool);
	if (n <= 0)
		return n;
	uint32_t id = rte_cpu_to_be_32(next_ip6_id());
	for (int32_t i = 0; i < n; i++) {
		struct rte_ipv6_fragment_ext *fh = rte_pktmbuf_mtod_offset(out[i], struct rte_ipv6_fragment_ext *,
									   sizeof(struct rte_ipv6_hdr));
		fh->id = id;
	}
	return n;
}

/* A generated frame longer than the port's MTU, as IPv4 fragments (rte_ipv4_fragment_packet) or
 * IPv6 ones (fragment6): header mbufs from hdr_pool, references to the frame's bytes from
 * indirect_pool, each with the frame's Ethernet header. The frame itself is consumed. Returns the
 * fragments in out, 0 when it could not be split (counted fragment_failed). Each extra fragment
 * is a generated packet. */
static unsigned fragment(struct rte_mbuf *m, const struct fo_port *p, struct rte_mbuf **out, struct fo_lcore_stats *st)
{
	uint16_t l2 = (uint16_t)(L2L4_ETH_HLEN + (p->ifc.vlan ? L2L4_VLAN_HLEN : 0));
	uint8_t eth[L2L4_ETH_HLEN + L2L4_VLAN_HLEN];
	memcpy(eth, rte_pktmbuf_mtod(m, const uint8_t *), l2);
	bool meta = (m->ol_flags & fo_dp.meta_flag) != 0;
	struct fo_meta mt = meta ? *fo_meta(m) : (struct fo_meta){ 0 };
	uint16_t port = m->port;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)rte_pktmbuf_adj(m, l2);
	int32_t n = -EINVAL;
	uint8_t version = ip ? ip->version_ihl >> 4 : 0;
	if (version == 4) {
		ip->packet_id = rte_cpu_to_be_16(next_ip_id());
		ip->fragment_offset = 0; /* DF off: this datagram is meant to be split */
		n = rte_ipv4_fragment_packet(m, out, FO_TX_FRAGS_MAX, p->mtu, fo_dp.hdr_pool, fo_dp.indirect_pool);
	} else if (version == 6) {
		n = fragment6(m, p, out);
	}
	rte_pktmbuf_free(m); /* the fragments hold references to what they need of it */
	if (unlikely(n <= 0)) {
		fo_count_out_drop(&st->c, FO_OUT_DROP_FRAGMENT_FAILED);
		return 0;
	}
	for (int32_t i = 0; i < n; i++) {
		struct rte_mbuf *f = out[i];
		if (version == 4) {
			struct rte_ipv4_hdr *fh = rte_pktmbuf_mtod(f, struct rte_ipv4_hdr *);
			fh->hdr_checksum = rte_ipv4_cksum(fh);
		}
		memcpy(rte_pktmbuf_prepend(f, l2), eth, l2); /* a header mbuf has the headroom */
		f->port = port;
	}
	if (meta) { /* rx -> tx latency: the first fragment stands for the frame */
		*fo_meta(out[0]) = mt;
		out[0]->ol_flags |= fo_dp.meta_flag;
	}
	st->c.out_generated += (uint64_t)n - 1;
	st->c.ev[FO_EV_TX_FRAGMENTED]++;
	return (unsigned)n;
}

/* Generated frames to the ports, on tx queue `queue` of each (the tx lcore's index). */
void fo_tx_send(struct fo_lcore_stats *st, uint32_t queue, struct rte_mbuf **pkts, unsigned n)
{
	struct rte_mbuf *per_port[FO_MAX_PORTS][FO_MAX_BURST];
	uint16_t n_port[FO_MAX_PORTS];
	struct rte_mbuf *frags[FO_TX_FRAGS_MAX];

	memset(n_port, 0, sizeof(n_port[0]) * fo_dp.n_ports);
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint16_t pidx = fo_dp.port_index[m->port];
		const struct fo_port *p = &fo_dp.ports[pidx];
		struct rte_mbuf **list = &m;
		unsigned k = 1;
		if (unlikely(m->pkt_len > (uint32_t)p->mtu + L2L4_ETH_HLEN + (p->ifc.vlan ? L2L4_VLAN_HLEN : 0))) {
			k = fragment(m, p, frags, st);
			list = frags;
		}
		for (unsigned j = 0; j < k; j++) {
			struct rte_mbuf *x = list[j];
			if (x->nb_segs > 1 && !fo_port_multi_seg[pidx]) {
				struct rte_mbuf *f = flatten(x);
				if (!f) {
					fo_count_out_drop(&st->c, FO_OUT_DROP_FLATTEN_FAILED);
					rte_pktmbuf_free(x);
					continue;
				}
				x = f;
			}
			per_port[pidx][n_port[pidx]++] = x;
			if (n_port[pidx] == FO_MAX_BURST) {
				send_port(pidx, (uint16_t)queue, per_port[pidx], n_port[pidx], st);
				n_port[pidx] = 0;
			}
		}
	}
	for (uint16_t p = 0; p < fo_dp.n_ports; p++)
		if (n_port[p])
			send_port(p, (uint16_t)queue, per_port[p], n_port[p], st);
}
