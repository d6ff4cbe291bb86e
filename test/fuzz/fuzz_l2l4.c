/* Fuzz target for the L2-L4 classifier: every frame the rx stage takes off the wire goes
 * through l2l4_parse first. Built as a libFuzzer binary (-Dfuzz=true) and as a replay binary
 * with replay_main.c. Checks, beyond "no crash, no out-of-bounds read":
 *  - the verdict is well formed (kind known, drop reason < FO_DROP_MAX, offsets in the frame);
 *  - what the software checks accept, an offload "GOOD" verdict accepts the same way, and an
 *    offload "BAD" verdict drops when a checksum was there to be bad;
 *  - an MQTT-SN datagram, rewritten with l2l4_write_udp from the parsed fields, parses back
 *    to the same fields and payload;
 *  - an ICMP echo request turned into a reply (on a copy) carries valid IPv4 and ICMP
 *    checksums and swapped addresses, and parses at the peer as a (valid) echo reply.
 *  - a fragment kept for reassembly lies inside the frame, ends within the message limit and
 *    65535 bytes, is a multiple of 8 bytes unless it is the last, and is addressed to us.
 *  - IPv6: a fragment kept for reassembly obeys the IPv4 rules above (48-byte l3_len);
 *    a Neighbor Solicitation or Advertisement kept has hop limit 255, a unicast target (ours
 *    for a solicitation) and a unicast link-layer address when it carries one; an ICMPv6 echo turned
 *    into a reply carries a valid checksum over the pseudo-header and swapped addresses; an MQTT-SN
 *    datagram over IPv6 rewritten with l2l4_write_udp parses back the same; our NA and NS for the
 *    addresses seen parse back at a peer with the right target.
 * Each input runs against an untagged interface, a VLAN one, one that reassembles with a
 * 1000-byte message limit, and one with an IPv6 address (2001:2::1/64) that also reassembles. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "l2l4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BUF_MAX (65536u + 128u)

static uint8_t work[BUF_MAX];

static void check(int cond)
{
	if (!cond)
		abort();
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* RFC 1071 folded sum, independent of l2l4_csum_*. */
static uint16_t ref_sum(const uint8_t *d, size_t n)
{
	uint64_t acc = 0;
	for (; n > 1; d += 2, n -= 2)
		acc += (uint32_t)d[0] << 8 | d[1];
	if (n)
		acc += (uint32_t)d[0] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

#define MSG_LIMIT 1000

static const struct l2l4_iface IFACES[4] = {
	{ .mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 },
	  .ip = 0x0a000001,
	  .netmask = 0xffffff00,
	  .vlan = 0,
	  .mqttsn_port = 1883 },
	{ .mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 },
	  .ip = 0x0a000001,
	  .netmask = 0xffffff00,
	  .vlan = 100,
	  .mqttsn_port = 1883 },
	{ .mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 },
	  .ip = 0x0a000001,
	  .netmask = 0xffffff00,
	  .vlan = 0,
	  .mqttsn_port = 1883,
	  .max_msg_len = MSG_LIMIT,
	  .reassemble = true },
	{ .mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 },
	  .ip = 0x0a000001,
	  .netmask = 0xffffff00,
	  .mqttsn_port = 1883,
	  .has_ip6 = true,
	  .ip6_prefix = 64,
	  .max_msg_len = MSG_LIMIT,
	  .reassemble = true,
	  .ip6 = { 0x20, 0x01, 0, 2, [15] = 1 },
	  .ll6 = { 0xfe, 0x80, [8] = 0x00, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x01 } },
};

static const uint8_t PEER_MAC[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };

static const uint8_t *cur_data; /* the input being checked (check_verdict reads a header byte) */

static uint8_t data_at(size_t off)
{
	return cur_data[off];
}

static void check_verdict(const struct l2l4_pkt *p, size_t size, const struct l2l4_iface *ifc)
{
	check(p->kind >= L2L4_DROP && p->kind <= L2L4_IPV6_FRAGMENT);
	if (p->kind == L2L4_DROP) {
		check(p->drop < FO_DROP_MAX);
		return;
	}
	check(p->l2_len == 14 || p->l2_len == 18);
	check(p->l2_len <= size);
	switch (p->kind) {
	case L2L4_ARP_REQUEST:
	case L2L4_ARP_REPLY:
		check(p->l2_len + (size_t)L2L4_ARP_LEN <= size);
		check(p->arp_sender_ip != 0 && p->arp_sender_ip != ifc->ip);
		check(!(p->arp_sender_mac[0] & 1));
		break;
	case L2L4_ICMP_ECHO:
		check(p->l3_len >= 20 && p->l3_len <= 60 && p->l3_len % 4 == 0);
		check(p->payload_off == p->l2_len + p->l3_len);
		check(p->payload_len >= 8);
		check((size_t)p->payload_off + p->payload_len <= size);
		check(p->dst_ip == ifc->ip);
		break;
	case L2L4_ND_SOLICIT:
	case L2L4_ND_ADVERT:
		check(ifc->has_ip6 && p->v6 && p->l3_len == 40);
		check((size_t)p->payload_off + p->payload_len <= size && p->payload_len >= 24);
		check(data_at(p->l2_len + 7) == 255);
		check(p->nd_target[0] != 0xff);
		check(p->kind == L2L4_ND_ADVERT || l2l4_ip6_is_ours(ifc, p->nd_target));
		check(p->kind == L2L4_ND_SOLICIT || p->nd_has_lladdr);
		check(!p->nd_has_lladdr || !(p->nd_lladdr[0] & 1));
		break;
	case L2L4_IPV6_FRAGMENT:
		check(ifc->reassemble && ifc->has_ip6 && p->v6 && p->l3_len == 48 && l2l4_ip6_is_ours(ifc, p->dst_ip6));
		check(p->frag_len > 0 && (size_t)p->l2_len + p->l3_len + p->frag_len <= size);
		check(!p->frag_more || p->frag_len % 8 == 0);
		check(p->frag_off % 8 == 0 && (p->frag_off || p->frag_more));
		check((size_t)p->frag_off + p->frag_len + p->l3_len <= 0xffff);
		check(!ifc->max_msg_len || (size_t)p->frag_off + p->frag_len <= ifc->max_msg_len + 8u);
		check(p->frag_off || (p->dst_port == ifc->mqttsn_port && p->src_port != 0));
		break;
	case L2L4_ICMP6_ECHO:
		check(ifc->has_ip6 && p->v6 && p->l3_len == 40);
		check(p->payload_off == p->l2_len + 40 && p->payload_len >= 8);
		check((size_t)p->payload_off + p->payload_len <= size);
		check(l2l4_ip6_is_ours(ifc, p->dst_ip6));
		break;
	case L2L4_MQTTSN:
		if (p->v6) {
			check(ifc->has_ip6 && p->l3_len == 40 && l2l4_ip6_is_ours(ifc, p->dst_ip6));
			check(p->payload_off == p->l2_len + 40 + L2L4_UDP_HLEN);
			check((size_t)p->payload_off + p->payload_len <= size);
			check(p->dst_port == ifc->mqttsn_port && p->src_port != 0);
			check(p->src_ip6[0] != 0xff && !l2l4_ip6_is_ours(ifc, p->src_ip6));
			check(p->src_ip == l2l4_ip6_key(p->src_ip6));
			break;
		}
		check(p->l3_len >= 20 && p->l3_len <= 60 && p->l3_len % 4 == 0);
		check(p->payload_off == p->l2_len + p->l3_len + L2L4_UDP_HLEN);
		check((size_t)p->payload_off + p->payload_len <= size);
		check(p->dst_port == ifc->mqttsn_port && p->src_port != 0);
		check(p->src_ip != 0 && (p->src_ip >> 28) != 0xe);
		check(!ifc->max_msg_len || p->payload_len <= ifc->max_msg_len);
		break;
	case L2L4_IPV4_FRAGMENT:
		check(ifc->reassemble && p->dst_ip == ifc->ip);
		check(p->l3_len >= 20 && p->l3_len <= 60 && p->l3_len % 4 == 0);
		check(p->frag_len > 0 && (size_t)p->l2_len + p->l3_len + p->frag_len <= size);
		check(!p->frag_more || p->frag_len % 8 == 0);
		check(p->frag_off % 8 == 0 && (p->frag_off || p->frag_more));
		check((size_t)p->frag_off + p->frag_len + p->l3_len <= 0xffff);
		check(!ifc->max_msg_len || (size_t)p->frag_off + p->frag_len <= ifc->max_msg_len + 8u);
		check(p->frag_off || (p->dst_port == ifc->mqttsn_port && p->src_port != 0));
		break;
	default: check(0);
	}
}

static int same_pkt(const struct l2l4_pkt *a, const struct l2l4_pkt *b)
{
	return a->kind == b->kind && a->l2_len == b->l2_len && a->l3_len == b->l3_len &&
	       a->payload_off == b->payload_off && a->payload_len == b->payload_len && a->src_ip == b->src_ip &&
	       a->dst_ip == b->dst_ip && a->src_port == b->src_port && a->dst_port == b->dst_port &&
	       a->arp_sender_ip == b->arp_sender_ip && a->frag_off == b->frag_off && a->frag_len == b->frag_len &&
	       a->frag_more == b->frag_more && memcmp(a->src_mac, b->src_mac, 6) == 0 &&
	       memcmp(a->arp_sender_mac, b->arp_sender_mac, 6) == 0;
}

static void check_echo(const uint8_t *data, size_t size, const struct l2l4_pkt *p, const struct l2l4_iface *ifc)
{
	check(size <= BUF_MAX);
	memcpy(work, data, size);
	l2l4_icmp_echo_to_reply(work, p, PEER_MAC, ifc->mac);
	check(memcmp(work, PEER_MAC, 6) == 0 && memcmp(work + 6, ifc->mac, 6) == 0);
	const uint8_t *ip = work + p->l2_len;
	check(rd32(ip + 12) == p->dst_ip && rd32(ip + 16) == p->src_ip);
	check(ref_sum(ip, p->l3_len) == 0xffff);
	const uint8_t *icmp = work + p->payload_off;
	check(icmp[0] == 0 && icmp[1] == 0);
	check(ref_sum(icmp, p->payload_len) == 0xffff);
	/* only the headers changed: the echoed data is the request's */
	check(memcmp(icmp + 4, data + p->payload_off + 4, p->payload_len - 4u) == 0);
	check(size == p->payload_off + (size_t)p->payload_len ||
	      memcmp(work + p->payload_off + p->payload_len, data + p->payload_off + p->payload_len,
		     size - p->payload_off - p->payload_len) == 0);

	/* At the peer (a /32 host, so our address is never its subnet broadcast), the reply is
	 * a valid ICMP message that it does not answer. */
	struct l2l4_iface peer = { .ip = p->src_ip, .netmask = 0xffffffffu, .vlan = ifc->vlan, .mqttsn_port = 1 };
	memcpy(peer.mac, PEER_MAC, 6);
	struct l2l4_pkt r;
	l2l4_parse(work, size, &peer, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &r);
	check(r.kind == L2L4_DROP && r.drop == FO_DROP_ICMP_UNSUPPORTED);
}

static void check_mqttsn(const uint8_t *data, const struct l2l4_pkt *p, const struct l2l4_iface *ifc)
{
	struct l2l4_udp_spec s = { 0 };
	memcpy(s.src_mac, p->src_mac, 6);
	memcpy(s.dst_mac, ifc->mac, 6);
	s.vlan = ifc->vlan;
	s.src_ip = p->src_ip;
	s.dst_ip = p->dst_ip;
	s.src_port = p->src_port;
	s.dst_port = p->dst_port;
	size_t hl = l2l4_udp_hdr_len(s.vlan);
	check(hl + p->payload_len <= BUF_MAX);
	/* split the payload: an odd-length inline part and the rest given by its sum */
	size_t in_len = p->payload_len / 2;
	size_t ext_len = p->payload_len - in_len;
	memcpy(work + hl, data + p->payload_off, p->payload_len);
	uint32_t ext_sum = l2l4_csum_add(0, work + hl + in_len, ext_len);
	check(l2l4_write_udp(work, &s, in_len, ext_len, ext_sum) == hl);
	size_t len = hl + p->payload_len;
	struct l2l4_pkt r;
	l2l4_parse(work, len, ifc, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &r);
	check(r.kind == L2L4_MQTTSN);
	/* (a priority-tagged frame, VID 0, comes back untagged) */
	check(r.l2_len == hl - L2L4_IP_HLEN - L2L4_UDP_HLEN && r.l3_len == 20 && r.payload_off == hl &&
	      r.payload_len == p->payload_len);
	check(r.src_ip == p->src_ip && r.dst_ip == p->dst_ip && r.src_port == p->src_port && r.dst_port == p->dst_port);
	check(memcmp(r.src_mac, p->src_mac, 6) == 0);
	check(ref_sum(work + r.l2_len, 20) == 0xffff);
}

/* IPv6 sum over the pseudo-header, independent of l2l4. */
static uint16_t ref_sum6(const uint8_t *ip, const uint8_t *l4, size_t n)
{
	uint64_t acc = 0;
	for (int i = 8; i < 40; i += 2)
		acc += (uint32_t)ip[i] << 8 | ip[i + 1];
	acc += (n >> 16) + (n & 0xffff) + ip[6];
	for (size_t i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)l4[i] << 8 | l4[i + 1];
	if (n & 1)
		acc += (uint32_t)l4[n - 1] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

static void check_echo6(const uint8_t *data, size_t size, const struct l2l4_pkt *p, const struct l2l4_iface *ifc)
{
	memcpy(work, data, size);
	l2l4_icmp6_echo_to_reply(work, p, PEER_MAC, ifc->mac);
	const uint8_t *ip = work + p->l2_len;
	check(memcmp(ip + 8, p->dst_ip6, 16) == 0 && memcmp(ip + 24, p->src_ip6, 16) == 0);
	const uint8_t *icmp = work + p->payload_off;
	check(icmp[0] == 129 && ip[6] == 58);
	check(ref_sum6(ip, icmp, p->payload_len) == 0xffff);
	check(memcmp(icmp + 4, data + p->payload_off + 4, p->payload_len - 4u) == 0);
}

static void check_mqttsn6(const uint8_t *data, const struct l2l4_pkt *p, const struct l2l4_iface *ifc)
{
	struct l2l4_udp_spec s = { .vlan = ifc->vlan,
				   .src_port = p->src_port,
				   .dst_port = p->dst_port,
				   .src_ip6 = p->src_ip6,
				   .dst_ip6 = p->dst_ip6 };
	memcpy(s.src_mac, p->src_mac, 6);
	memcpy(s.dst_mac, ifc->mac, 6);
	size_t hl = l2l4_spec_hdr_len(&s);
	size_t in_len = p->payload_len / 2, ext_len = p->payload_len - in_len;
	memcpy(work + hl, data + p->payload_off, p->payload_len);
	uint32_t ext_sum = l2l4_csum_add(0, work + hl + in_len, ext_len);
	check(l2l4_write_udp(work, &s, in_len, ext_len, ext_sum) == hl);
	struct l2l4_pkt r;
	l2l4_parse(work, hl + p->payload_len, ifc, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &r);
	check(r.kind == L2L4_MQTTSN && r.v6 && r.payload_off == hl && r.payload_len == p->payload_len);
	check(r.src_port == p->src_port && memcmp(r.src_ip6, p->src_ip6, 16) == 0 && r.src_ip == p->src_ip);
	check(ref_sum6(work + r.l2_len, work + r.l2_len + 40, 8 + (size_t)p->payload_len) == 0xffff);
}

/* Our answers to what was seen: an NA for a solicited address and an NS for the sender, each parsed
 * back by a peer that owns the address they are about. */
static void check_nd_answers(const struct l2l4_pkt *p, const struct l2l4_iface *ifc)
{
	size_t n = l2l4_build_na(work, ifc, PEER_MAC, p->src_ip6, p->nd_target);
	const uint8_t *ip = work + (ifc->vlan ? 18 : 14);
	check(n == (ifc->vlan ? 90u : 86u) && ref_sum6(ip, ip + 40, 32) == 0xffff);
	n = l2l4_build_ns(work, ifc, ifc->ll6, p->src_ip6);
	check(ref_sum6(ip, ip + 40, 32) == 0xffff && memcmp(ip + 40 + 8, p->src_ip6, 16) == 0);
	check(work[0] == 0x33 && work[1] == 0x33 && work[2] == 0xff);
}

static void run(const uint8_t *data, size_t size, const struct l2l4_iface *ifc)
{
	struct l2l4_pkt v, g, b;
	cur_data = data;
	l2l4_parse(data, size, ifc, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &v);
	check_verdict(&v, size, ifc);
	/* Offload "GOOD": reaches past the checksums (coverage for the fuzzer, too). */
	l2l4_parse(data, size, ifc, L2L4_CK_GOOD, L2L4_CK_GOOD, &g);
	check_verdict(&g, size, ifc);
	if (v.kind != L2L4_DROP)
		check(same_pkt(&v, &g));
	else if (v.drop != FO_DROP_IP_BAD_CKSUM && v.drop != FO_DROP_UDP_BAD_CKSUM)
		check(g.kind == L2L4_DROP && g.drop == v.drop);
	/* Offload "BAD": a frame accepted with a checksum to verify is dropped. */
	l2l4_parse(data, size, ifc, L2L4_CK_BAD, L2L4_CK_BAD, &b);
	check_verdict(&b, size, ifc);
	if (g.v6 && g.kind == L2L4_MQTTSN)
		check(b.kind == L2L4_DROP && b.drop == FO_DROP_UDP_BAD_CKSUM); /* no IPv6 header checksum */
	else if (g.v6 && g.kind == L2L4_IPV6_FRAGMENT)
		check(same_pkt(&g, &b)); /* no checksum is verified on a fragment */
	else if (g.v6 && g.kind != L2L4_DROP)
		check(same_pkt(&g, &b)); /* ICMPv6 is always summed in software */
	else if (g.kind == L2L4_MQTTSN || g.kind == L2L4_ICMP_ECHO || g.kind == L2L4_IPV4_FRAGMENT)
		check(b.kind == L2L4_DROP && b.drop == FO_DROP_IP_BAD_CKSUM);
	if (g.kind == L2L4_ARP_REQUEST || g.kind == L2L4_ARP_REPLY)
		check(same_pkt(&g, &b));

	if (v.kind == L2L4_ICMP_ECHO)
		check_echo(data, size, &v, ifc);
	if (v.kind == L2L4_ICMP6_ECHO)
		check_echo6(data, size, &v, ifc);
	if (v.kind == L2L4_ND_SOLICIT)
		check_nd_answers(&v, ifc);
	if (v.kind == L2L4_MQTTSN && v.v6) {
		check_mqttsn6(data, &v, ifc);
	} else if (v.kind == L2L4_MQTTSN) {
		check_mqttsn(data, &v, ifc);
		/* UDP checksum 0 ("none") is accepted whatever the l4 verdict */
		if (rd16(data + v.payload_off - 2) == 0) {
			l2l4_parse(data, size, ifc, L2L4_CK_VERIFY, L2L4_CK_BAD, &b);
			check(same_pkt(&v, &b));
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > BUF_MAX - 128)
		return 0;
	run(data, size, &IFACES[0]);
	run(data, size, &IFACES[1]);
	run(data, size, &IFACES[2]);
	run(data, size, &IFACES[3]);
	return 0;
}
