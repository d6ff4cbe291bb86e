/* Unit tests for dataplane/net/l2l4.c: classification of every frame kind (with and without an
 * 802.1Q tag), every drop reason l2l4_parse can give, offload verdicts, padding, every
 * truncation of valid frames (ASan watches the reads), and the header builders checked
 * against an independent RFC 1071 checksum written here. Test frames are assembled by hand
 * in this file, never with the builders under test (except for the round trips). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "l2l4.h"

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static const uint8_t OUR_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t PEER_MAC[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
static const uint8_t OTHER_MAC[6] = { 0x02, 0x99, 0x99, 0x99, 0x99, 0x99 };
static const uint8_t BCAST_MAC[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t ZERO_MAC[6] = { 0 };

#define OUR_IP IP4(10, 0, 0, 1)
#define PEER_IP IP4(10, 0, 0, 7)
#define FAR_IP IP4(192, 168, 5, 9)
#define NET_BCAST IP4(10, 0, 0, 255)
#define PORT 1883
#define PEER_PORT 40000
#define VID 100

static const struct l2l4_iface IFC = {
	.mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 },
	.ip = OUR_IP,
	.netmask = 0xffffff00u,
	.vlan = 0,
	.mqttsn_port = PORT,
	.min_src_port = 1024,
};

static struct l2l4_iface ifc_vlan(uint16_t vid)
{
	struct l2l4_iface i = IFC;
	i.vlan = vid;
	return i;
}

/* ---- independent helpers ---------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* RFC 1071, the textbook way: 32-bit accumulator of 16-bit words, odd byte padded with
 * zero, carries folded at the end. Returns the (uncomplemented) folded sum. */
static uint16_t ref_sum(uint32_t acc, const uint8_t *d, size_t n)
{
	while (n > 1) {
		acc += (uint32_t)d[0] << 8 | d[1];
		d += 2;
		n -= 2;
	}
	if (n > 0)
		acc += (uint32_t)d[0] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}
static uint16_t ref_csum(const uint8_t *d, size_t n)
{
	return (uint16_t)~ref_sum(0, d, n);
}

/* UDP checksum over pseudo-header + segment, with the segment's checksum field as it is. */
static uint16_t ref_udp_sum(uint32_t src, uint32_t dst, const uint8_t *udp, size_t ulen)
{
	size_t n = 12 + ulen;
	uint8_t *tmp = malloc(n);
	assert_non_null(tmp);
	put32(tmp, src);
	put32(tmp + 4, dst);
	tmp[8] = 0;
	tmp[9] = 17;
	put16(tmp + 10, (uint16_t)ulen);
	memcpy(tmp + 12, udp, ulen);
	uint16_t s = ref_sum(0, tmp, n);
	free(tmp);
	return s;
}

/* A frame under construction, with the offsets of its layers. */
struct frame {
	uint8_t b[2048];
	size_t len;
	size_t l3;  /* IPv4 / ARP header */
	size_t ihl; /* IPv4 */
	size_t l4;  /* ICMP / UDP header */
	size_t l4len;
};

static size_t eth(struct frame *f, const uint8_t dst[6], int tag, uint16_t vid, uint16_t et)
{
	memset(f, 0, sizeof(*f));
	memcpy(f->b, dst, 6);
	memcpy(f->b + 6, PEER_MAC, 6);
	size_t off = 12;
	if (tag) {
		put16(f->b + off, 0x8100);
		put16(f->b + off + 2, (uint16_t)(0x2000 | vid)); /* PCP 1 set: must be ignored */
		off += 4;
	}
	put16(f->b + off, et);
	f->l3 = off + 2;
	return f->l3;
}

static void ip_fix(struct frame *f)
{
	uint8_t *ip = f->b + f->l3;
	put16(ip + 10, 0);
	put16(ip + 10, ref_csum(ip, f->ihl));
}

static void udp_fix(struct frame *f)
{
	uint8_t *ip = f->b + f->l3;
	uint8_t *u = f->b + f->l4;
	put16(u + 6, 0);
	uint16_t ck = (uint16_t)~ref_udp_sum(get32(ip + 12), get32(ip + 16), u, f->l4len);
	put16(u + 6, ck ? ck : 0xffff);
}

static void icmp_fix(struct frame *f)
{
	uint8_t *ic = f->b + f->l4;
	put16(ic + 2, 0);
	put16(ic + 2, ref_csum(ic, f->l4len));
}

/* IPv4 header (ihl_words 5..15, options filled with NOPs) carrying l4len bytes of proto. */
static void ipv4(struct frame *f, unsigned ihl_words, uint8_t proto, uint32_t src, uint32_t dst, size_t l4len)
{
	uint8_t *ip = f->b + f->l3;
	f->ihl = ihl_words * 4;
	ip[0] = (uint8_t)(0x40 | ihl_words);
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(f->ihl + l4len));
	put16(ip + 4, 0x1234);
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = 61;
	ip[9] = proto;
	put32(ip + 12, src);
	put32(ip + 16, dst);
	for (size_t i = 20; i < f->ihl; i++)
		ip[i] = 1; /* NOP */
	f->l4 = f->l3 + f->ihl;
	f->l4len = l4len;
	f->len = f->l4 + l4len;
	ip_fix(f);
}

static void mk_udp_full(struct frame *f, const uint8_t dmac[6], int tag, uint16_t vid, unsigned ihl_words, uint32_t src,
			uint32_t dst, uint16_t sport, uint16_t dport, size_t plen)
{
	eth(f, dmac, tag, vid, 0x0800);
	ipv4(f, ihl_words, 17, src, dst, 8 + plen);
	uint8_t *u = f->b + f->l4;
	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(8 + plen));
	for (size_t i = 0; i < plen; i++)
		u[8 + i] = (uint8_t)(i * 7 + 3);
	udp_fix(f);
}

static void mk_udp(struct frame *f, size_t plen)
{
	mk_udp_full(f, OUR_MAC, 0, 0, 5, PEER_IP, OUR_IP, PEER_PORT, PORT, plen);
}

static void mk_icmp_full(struct frame *f, int tag, uint16_t vid, unsigned ihl_words, uint32_t dst, uint8_t type,
			 uint8_t code, size_t len)
{
	eth(f, OUR_MAC, tag, vid, 0x0800);
	ipv4(f, ihl_words, 1, PEER_IP, dst, len);
	uint8_t *ic = f->b + f->l4;
	ic[0] = type;
	ic[1] = code;
	if (len >= 8) {
		put16(ic + 4, 0xbeef); /* identifier */
		put16(ic + 6, 0x0042); /* sequence */
	}
	for (size_t i = 8; i < len; i++)
		ic[i] = (uint8_t)(0xa0 + i);
	icmp_fix(f);
}

static void mk_icmp(struct frame *f, size_t len)
{
	mk_icmp_full(f, 0, 0, 5, OUR_IP, 8, 0, len);
}

/* ARP body by hand. */
static void mk_arp_full(struct frame *f, const uint8_t dmac[6], int tag, uint16_t vid, uint16_t op,
			const uint8_t smac[6], uint32_t sip, const uint8_t tmac[6], uint32_t tip)
{
	eth(f, dmac, tag, vid, 0x0806);
	uint8_t *a = f->b + f->l3;
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, smac, 6);
	put32(a + 14, sip);
	memcpy(a + 18, tmac, 6);
	put32(a + 24, tip);
	f->len = f->l3 + 28;
	if (f->len < 60)
		f->len = 60; /* padding is zero (memset in eth) */
}

static void mk_arp_req(struct frame *f)
{
	mk_arp_full(f, BCAST_MAC, 0, 0, 1, PEER_MAC, PEER_IP, ZERO_MAC, OUR_IP);
}

/* Parse from an exactly-sized heap copy, so ASan catches any read past len. */
static struct l2l4_pkt parse_ck(const uint8_t *b, size_t len, const struct l2l4_iface *ifc, enum l2l4_ck ipck,
				enum l2l4_ck l4ck)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	if (len)
		memcpy(copy, b, len);
	struct l2l4_pkt p;
	memset(&p, 0xa5, sizeof(p));
	l2l4_parse(len ? copy : NULL, len, ifc, ipck, l4ck, &p);
	free(copy);
	return p;
}

static struct l2l4_pkt parse_if(const struct frame *f, const struct l2l4_iface *ifc)
{
	return parse_ck(f->b, f->len, ifc, L2L4_CK_VERIFY, L2L4_CK_VERIFY);
}

static struct l2l4_pkt parse(const struct frame *f)
{
	return parse_if(f, &IFC);
}

#define assert_drop_if(f, ifc, reason) \
	do { \
		struct l2l4_pkt p_ = parse_if((f), (ifc)); \
		assert_int_equal(p_.kind, L2L4_DROP); \
		assert_int_equal(p_.drop, (reason)); \
	} while (0)
#define assert_drop(f, reason) assert_drop_if((f), &IFC, (reason))

/* ---- valid frames ----------------------------------------------------------------- */

static void check_arp_req(int tag)
{
	struct l2l4_iface ifc = ifc_vlan(tag ? VID : 0);
	struct frame f;
	mk_arp_full(&f, BCAST_MAC, tag, tag ? VID : 0, 1, PEER_MAC, PEER_IP, ZERO_MAC, OUR_IP);
	struct l2l4_pkt p = parse_if(&f, &ifc);
	assert_int_equal(p.kind, L2L4_ARP_REQUEST);
	assert_int_equal(p.l2_len, tag ? 18 : 14);
	assert_memory_equal(p.arp_sender_mac, PEER_MAC, 6);
	assert_int_equal(p.arp_sender_ip, PEER_IP);
	assert_memory_equal(p.src_mac, PEER_MAC, 6);
	/* unicast to our MAC works too (ARP refresh), and the unpadded 42/46-byte form */
	mk_arp_full(&f, OUR_MAC, tag, tag ? VID : 0, 1, PEER_MAC, PEER_IP, ZERO_MAC, OUR_IP);
	f.len = f.l3 + 28;
	p = parse_if(&f, &ifc);
	assert_int_equal(p.kind, L2L4_ARP_REQUEST);
}

static void test_arp_request(void **state)
{
	(void)state;
	check_arp_req(0);
	check_arp_req(1);
}

static void test_arp_reply(void **state)
{
	(void)state;
	for (int tag = 0; tag < 2; tag++) {
		struct l2l4_iface ifc = ifc_vlan(tag ? VID : 0);
		struct frame f;
		mk_arp_full(&f, OUR_MAC, tag, tag ? VID : 0, 2, PEER_MAC, FAR_IP, OUR_MAC, OUR_IP);
		struct l2l4_pkt p = parse_if(&f, &ifc);
		assert_int_equal(p.kind, L2L4_ARP_REPLY);
		assert_int_equal(p.l2_len, tag ? 18 : 14);
		assert_memory_equal(p.arp_sender_mac, PEER_MAC, 6);
		assert_int_equal(p.arp_sender_ip, FAR_IP);
	}
}

static void check_icmp(int tag, unsigned ihl_words, size_t len)
{
	struct l2l4_iface ifc = ifc_vlan(tag ? VID : 0);
	struct frame f;
	mk_icmp_full(&f, tag, tag ? VID : 0, ihl_words, OUR_IP, 8, 0, len);
	struct l2l4_pkt p = parse_if(&f, &ifc);
	assert_int_equal(p.kind, L2L4_ICMP_ECHO);
	assert_int_equal(p.l2_len, tag ? 18 : 14);
	assert_int_equal(p.l3_len, ihl_words * 4);
	assert_int_equal(p.payload_off, f.l4);
	assert_int_equal(p.payload_len, len);
	assert_int_equal(p.src_ip, PEER_IP);
	assert_int_equal(p.dst_ip, OUR_IP);
	assert_memory_equal(p.src_mac, PEER_MAC, 6);
}

static void test_icmp_echo(void **state)
{
	(void)state;
	for (int tag = 0; tag < 2; tag++) {
		check_icmp(tag, 5, 8);
		check_icmp(tag, 5, 64);
		check_icmp(tag, 5, 65); /* odd length */
		check_icmp(tag, 7, 33); /* IP options */
		check_icmp(tag, 15, 100);
	}
}

static void check_udp(int tag, unsigned ihl_words, const uint8_t dmac[6], uint32_t dst, size_t plen)
{
	struct l2l4_iface ifc = ifc_vlan(tag ? VID : 0);
	struct frame f;
	mk_udp_full(&f, dmac, tag, tag ? VID : 0, ihl_words, PEER_IP, dst, PEER_PORT, PORT, plen);
	struct l2l4_pkt p = parse_if(&f, &ifc);
	assert_int_equal(p.kind, L2L4_MQTTSN);
	assert_int_equal(p.l2_len, tag ? 18 : 14);
	assert_int_equal(p.l3_len, ihl_words * 4);
	assert_int_equal(p.payload_off, f.l4 + 8);
	assert_int_equal(p.payload_len, plen);
	assert_int_equal(p.src_ip, PEER_IP);
	assert_int_equal(p.dst_ip, dst);
	assert_int_equal(p.src_port, PEER_PORT);
	assert_int_equal(p.dst_port, PORT);
	assert_memory_equal(p.src_mac, PEER_MAC, 6);
	assert_true((size_t)p.payload_off + p.payload_len <= f.len);
}

static void test_udp_mqttsn(void **state)
{
	(void)state;
	for (int tag = 0; tag < 2; tag++) {
		check_udp(tag, 5, OUR_MAC, OUR_IP, 40);
		check_udp(tag, 5, OUR_MAC, OUR_IP, 0);  /* empty datagram is still the worker's call */
		check_udp(tag, 5, OUR_MAC, OUR_IP, 1);  /* odd length */
		check_udp(tag, 6, OUR_MAC, OUR_IP, 77); /* IP options */
		check_udp(tag, 5, OUR_MAC, OUR_IP, 1472);
		/* SEARCHGW-style broadcasts: limited and subnet-directed, to bcast or our MAC */
		check_udp(tag, 5, BCAST_MAC, IP4(255, 255, 255, 255), 3);
		check_udp(tag, 5, BCAST_MAC, NET_BCAST, 3);
		check_udp(tag, 5, OUR_MAC, NET_BCAST, 3);
	}
}

/* Gateway discovery's multicast group: UDP to group:group_port (the MQTT-SN port when 0) in a
 * frame to the group's MAC is taken like a broadcast; other groups, ports and MACs are not. */
static void test_udp_group(void **state)
{
	(void)state;
	static const uint8_t GROUP_MAC[6] = { 0x01, 0x00, 0x5e, 0x01, 0x01, 0x01 };
	static const uint8_t OTHER_GROUP_MAC[6] = { 0x01, 0x00, 0x5e, 0x01, 0x01, 0x02 };
	const uint32_t group = IP4(225, 1, 1, 1);
	struct l2l4_iface g = IFC;
	g.group = group;
	g.group_port = 10000;
	struct frame f;
	mk_udp_full(&f, GROUP_MAC, 0, 0, 5, PEER_IP, group, PEER_PORT, 10000, 3);
	struct l2l4_pkt p = parse_if(&f, &g);
	assert_int_equal(p.kind, L2L4_MQTTSN);
	assert_int_equal(p.dst_ip, group);
	assert_int_equal(p.dst_port, 10000);
	assert_int_equal(p.payload_len, 3);
	assert_drop(&f, FO_DROP_ETH_NOT_FOR_US); /* no group configured */
	mk_udp_full(&f, GROUP_MAC, 0, 0, 5, PEER_IP, group, PEER_PORT, PORT, 3);
	assert_drop_if(&f, &g, FO_DROP_UDP_NO_LISTENER); /* the group's port, not the unicast one */
	g.group_port = 0;
	assert_int_equal(parse_if(&f, &g).kind, L2L4_MQTTSN);
	mk_udp_full(&f, OTHER_GROUP_MAC, 0, 0, 5, PEER_IP, IP4(225, 1, 1, 2), PEER_PORT, PORT, 3);
	assert_drop_if(&f, &g, FO_DROP_ETH_NOT_FOR_US);
	mk_udp_full(&f, GROUP_MAC, 0, 0, 5, PEER_IP, IP4(225, 129, 1, 1), PEER_PORT, PORT, 3); /* same MAC */
	assert_drop_if(&f, &g, FO_DROP_IP_NOT_FOR_US);
	mk_udp_full(&f, OUR_MAC, 0, 0, 5, PEER_IP, OUR_IP, PEER_PORT, PORT, 3); /* unicast as before */
	assert_int_equal(parse_if(&f, &g).kind, L2L4_MQTTSN);
}

/* A priority-tagged frame (VID 0) is untagged traffic for an untagged interface. */
static void test_priority_tag(void **state)
{
	(void)state;
	struct frame f;
	mk_udp_full(&f, OUR_MAC, 1, 0, 5, PEER_IP, OUR_IP, PEER_PORT, PORT, 10);
	struct l2l4_pkt p = parse(&f);
	assert_int_equal(p.kind, L2L4_MQTTSN);
	assert_int_equal(p.l2_len, 18);
	assert_int_equal(p.payload_len, 10);
	/* ...but not for a VLAN interface */
	struct l2l4_iface v = ifc_vlan(VID);
	assert_drop_if(&f, &v, FO_DROP_VLAN_MISMATCH);
}

static void test_udp_zero_checksum(void **state)
{
	(void)state;
	struct frame f;
	mk_udp(&f, 20);
	put16(f.b + f.l4 + 6, 0);
	struct l2l4_pkt p = parse(&f);
	assert_int_equal(p.kind, L2L4_MQTTSN);
	assert_int_equal(p.payload_len, 20);
	/* and 0 means "none" even when the payload would not sum right */
	f.b[f.l4 + 8] ^= 0x55;
	p = parse(&f);
	assert_int_equal(p.kind, L2L4_MQTTSN);
}

/* A sender whose true checksum is 0 transmits 0xffff; that verifies. */
static void test_udp_checksum_ffff(void **state)
{
	(void)state;
	struct frame f;
	mk_udp(&f, 2);
	uint8_t *u = f.b + f.l4;
	/* choose the last two payload bytes so the checksum computes to 0 */
	put16(u + 8, 0);
	put16(u + 6, 0);
	uint16_t s = ref_udp_sum(PEER_IP, OUR_IP, u, f.l4len);
	/* adding X to the sum gives 0xffff when X = ~s (one's complement) */
	put16(u + 8, (uint16_t)~s);
	assert_int_equal(ref_udp_sum(PEER_IP, OUR_IP, u, f.l4len), 0xffff);
	put16(u + 6, 0xffff);
	struct l2l4_pkt p = parse(&f);
	assert_int_equal(p.kind, L2L4_MQTTSN);
}

static void test_padding(void **state)
{
	(void)state;
	struct frame f;
	mk_udp(&f, 2); /* 44 bytes: a NIC hands us 60 */
	assert_int_equal(f.len, 44);
	for (size_t i = f.len; i < 60; i++)
		f.b[i] = (uint8_t)(0xc0 + i); /* garbage padding must not be summed */
	f.len = 60;
	struct l2l4_pkt p = parse(&f);
	assert_int_equal(p.kind, L2L4_MQTTSN);
	assert_int_equal(p.payload_len, 2);
	assert_int_equal(p.payload_off, 42);

	mk_icmp(&f, 8); /* 42 bytes */
	for (size_t i = f.len; i < 60; i++)
		f.b[i] = 0x77;
	f.len = 60;
	p = parse(&f);
	assert_int_equal(p.kind, L2L4_ICMP_ECHO);
	assert_int_equal(p.payload_len, 8);

	/* a big frame with a trailer after the datagram */
	mk_udp(&f, 300);
	f.len += 4;
	p = parse(&f);
	assert_int_equal(p.kind, L2L4_MQTTSN);
	assert_int_equal(p.payload_len, 300);
}

static void test_offload_verdicts(void **state)
{
	(void)state;
	struct frame f;
	mk_udp(&f, 30);
	/* GOOD: the software checks are skipped, so corrupt checksums pass */
	f.b[f.l3 + 10] ^= 0xff;
	f.b[f.l4 + 6] ^= 0x0f;
	struct l2l4_pkt p = parse_ck(f.b, f.len, &IFC, L2L4_CK_GOOD, L2L4_CK_GOOD);
	assert_int_equal(p.kind, L2L4_MQTTSN);
	p = parse_ck(f.b, f.len, &IFC, L2L4_CK_VERIFY, L2L4_CK_GOOD);
	assert_int_equal(p.drop, FO_DROP_IP_BAD_CKSUM);
	p = parse_ck(f.b, f.len, &IFC, L2L4_CK_GOOD, L2L4_CK_VERIFY);
	assert_int_equal(p.kind, L2L4_DROP);
	assert_int_equal(p.drop, FO_DROP_UDP_BAD_CKSUM);

	/* BAD: dropped even though the bytes are right */
	mk_udp(&f, 30);
	p = parse_ck(f.b, f.len, &IFC, L2L4_CK_BAD, L2L4_CK_VERIFY);
	assert_int_equal(p.kind, L2L4_DROP);
	assert_int_equal(p.drop, FO_DROP_IP_BAD_CKSUM);
	p = parse_ck(f.b, f.len, &IFC, L2L4_CK_VERIFY, L2L4_CK_BAD);
	assert_int_equal(p.kind, L2L4_DROP);
	assert_int_equal(p.drop, FO_DROP_UDP_BAD_CKSUM);
	p = parse_ck(f.b, f.len, &IFC, L2L4_CK_GOOD, L2L4_CK_GOOD);
	assert_int_equal(p.kind, L2L4_MQTTSN);

	/* ICMP is always checked in software */
	mk_icmp(&f, 16);
	f.b[f.l4 + 9] ^= 1;
	p = parse_ck(f.b, f.len, &IFC, L2L4_CK_GOOD, L2L4_CK_GOOD);
	assert_int_equal(p.kind, L2L4_DROP);
	assert_int_equal(p.drop, FO_DROP_ICMP_BAD_CKSUM);
}

/* ---- drop reasons ----------------------------------------------------------------- */

static void test_drop_eth(void **state)
{
	(void)state;
	struct frame f;
	mk_udp(&f, 10);
	struct l2l4_pkt p = parse_ck(f.b, 0, &IFC, 0, 0);
	assert_int_equal(p.kind, L2L4_DROP);
	assert_int_equal(p.drop, FO_DROP_ETH_RUNT);
	p = parse_ck(f.b, 13, &IFC, 0, 0);
	assert_int_equal(p.drop, FO_DROP_ETH_RUNT);

	/* tagged, but shorter than the tag */
	mk_udp_full(&f, OUR_MAC, 1, VID, 5, PEER_IP, OUR_IP, PEER_PORT, PORT, 10);
	struct l2l4_iface v = ifc_vlan(VID);
	for (size_t n = 14; n < 18; n++) {
		p = parse_ck(f.b, n, &v, 0, 0);
		assert_int_equal(p.kind, L2L4_DROP);
		assert_int_equal(p.drop, FO_DROP_ETH_RUNT);
	}

	mk_udp(&f, 10);
	memcpy(f.b, OTHER_MAC, 6);
	assert_drop(&f, FO_DROP_ETH_NOT_FOR_US);
	memcpy(f.b, (const uint8_t[6]){ 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 }, 6); /* multicast */
	assert_drop(&f, FO_DROP_ETH_NOT_FOR_US);
	memcpy(f.b, (const uint8_t[6]){ 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 }, 6); /* off by one */
	assert_drop(&f, FO_DROP_ETH_NOT_FOR_US);

	mk_udp(&f, 10);
	put16(f.b + 12, 0x86dd); /* IPv6 */
	assert_drop(&f, FO_DROP_ETH_UNKNOWN_TYPE);
	put16(f.b + 12, 0x88a8); /* 802.1ad outer tag */
	assert_drop(&f, FO_DROP_ETH_UNKNOWN_TYPE);
	put16(f.b + 12, 0x0000); /* 802.3 length field */
	assert_drop(&f, FO_DROP_ETH_UNKNOWN_TYPE);
	/* unknown inner type behind a matching tag */
	mk_udp_full(&f, OUR_MAC, 1, VID, 5, PEER_IP, OUR_IP, PEER_PORT, PORT, 10);
	put16(f.b + 16, 0x86dd);
	assert_drop_if(&f, &v, FO_DROP_ETH_UNKNOWN_TYPE);
	put16(f.b + 16, 0x8100); /* double tag */
	assert_drop_if(&f, &v, FO_DROP_ETH_UNKNOWN_TYPE);
}

static void test_drop_vlan(void **state)
{
	(void)state;
	struct frame f;
	struct l2l4_iface v = ifc_vlan(VID);
	/* untagged frame, tagged interface */
	mk_udp(&f, 10);
	assert_drop_if(&f, &v, FO_DROP_VLAN_MISMATCH);
	mk_arp_req(&f);
	assert_drop_if(&f, &v, FO_DROP_VLAN_MISMATCH);
	/* tagged frame, untagged interface */
	mk_udp_full(&f, OUR_MAC, 1, VID, 5, PEER_IP, OUR_IP, PEER_PORT, PORT, 10);
	assert_drop(&f, FO_DROP_VLAN_MISMATCH);
	/* other VLAN */
	mk_udp_full(&f, OUR_MAC, 1, VID + 1, 5, PEER_IP, OUR_IP, PEER_PORT, PORT, 10);
	assert_drop_if(&f, &v, FO_DROP_VLAN_MISMATCH);
	mk_udp_full(&f, OUR_MAC, 1, 0xfff, 5, PEER_IP, OUR_IP, PEER_PORT, PORT, 10);
	assert_drop_if(&f, &v, FO_DROP_VLAN_MISMATCH);
	/* PCP/DEI bits do not matter */
	mk_udp_full(&f, OUR_MAC, 1, VID, 5, PEER_IP, OUR_IP, PEER_PORT, PORT, 10);
	f.b[14] |= 0xf0;
	assert_int_equal(parse_if(&f, &v).kind, L2L4_MQTTSN);
}

static void test_drop_arp(void **state)
{
	(void)state;
	struct frame f;
	/* short ARP body */
	mk_arp_req(&f);
	for (size_t n = 14; n < 14 + 28; n++) {
		struct l2l4_pkt p = parse_ck(f.b, n, &IFC, 0, 0);
		assert_int_equal(p.kind, L2L4_DROP);
		assert_int_equal(p.drop, FO_DROP_ARP_MALFORMED);
	}
	/* each fixed field wrong */
	static const struct {
		size_t off;
		uint8_t val;
	} bad[] = {
		{ 0, 0x01 }, /* htype 0x0101 */
		{ 1, 0x06 }, /* htype 6 (IEEE 802) */
		{ 1, 0x00 }, /* htype 0 */
		{ 2, 0x86 }, /* ptype 0x8600 */
		{ 3, 0x01 }, /* ptype 0x0801 */
		{ 4, 8 },    /* hlen */
		{ 5, 16 },   /* plen */
		{ 7, 3 },    /* op 3 (RARP) */
		{ 7, 0 },    /* op 0 */
		{ 6, 1 },    /* op 0x0101 */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mk_arp_req(&f);
		f.b[14 + bad[i].off] = bad[i].val;
		assert_drop(&f, FO_DROP_ARP_MALFORMED);
	}
	/* request for another address */
	mk_arp_full(&f, BCAST_MAC, 0, 0, 1, PEER_MAC, PEER_IP, ZERO_MAC, IP4(10, 0, 0, 2));
	assert_drop(&f, FO_DROP_ARP_NOT_FOR_US);
	/* reply for another address */
	mk_arp_full(&f, OUR_MAC, 0, 0, 2, PEER_MAC, PEER_IP, OUR_MAC, IP4(10, 0, 0, 2));
	assert_drop(&f, FO_DROP_ARP_NOT_FOR_US);
	/* probe (RFC 5227): sender 0.0.0.0, even when it asks for our address */
	mk_arp_full(&f, BCAST_MAC, 0, 0, 1, PEER_MAC, 0, ZERO_MAC, OUR_IP);
	assert_drop(&f, FO_DROP_ARP_NOT_FOR_US);
	/* gratuitous ARP of a neighbour, request and reply forms */
	mk_arp_full(&f, BCAST_MAC, 0, 0, 1, PEER_MAC, PEER_IP, ZERO_MAC, PEER_IP);
	assert_drop(&f, FO_DROP_ARP_NOT_FOR_US);
	mk_arp_full(&f, BCAST_MAC, 0, 0, 2, PEER_MAC, PEER_IP, BCAST_MAC, PEER_IP);
	assert_drop(&f, FO_DROP_ARP_NOT_FOR_US);
	/* gratuitous ARP / announcement claiming OUR address (a conflict): never learnt */
	mk_arp_full(&f, BCAST_MAC, 0, 0, 1, PEER_MAC, OUR_IP, ZERO_MAC, OUR_IP);
	assert_drop(&f, FO_DROP_ARP_NOT_FOR_US);
	mk_arp_full(&f, BCAST_MAC, 0, 0, 2, PEER_MAC, OUR_IP, BCAST_MAC, OUR_IP);
	assert_drop(&f, FO_DROP_ARP_NOT_FOR_US);
	/* sender hardware address broadcast or multicast */
	mk_arp_full(&f, BCAST_MAC, 0, 0, 1, BCAST_MAC, PEER_IP, ZERO_MAC, OUR_IP);
	assert_drop(&f, FO_DROP_ARP_NOT_FOR_US);
	mk_arp_full(&f, BCAST_MAC, 0, 0, 1, (const uint8_t[6]){ 0x01, 0, 0x5e, 0, 0, 1 }, PEER_IP, ZERO_MAC, OUR_IP);
	assert_drop(&f, FO_DROP_ARP_NOT_FOR_US);
}

static void test_drop_ip(void **state)
{
	(void)state;
	struct frame f;
	/* runt: fewer than 20 bytes after Ethernet */
	mk_udp(&f, 10);
	for (size_t n = 14; n < 34; n++) {
		struct l2l4_pkt p = parse_ck(f.b, n, &IFC, 0, 0);
		assert_int_equal(p.kind, L2L4_DROP);
		assert_int_equal(p.drop, FO_DROP_IP_RUNT);
	}
	/* version */
	mk_udp(&f, 10);
	f.b[14] = 0x65;
	ip_fix(&f);
	assert_drop(&f, FO_DROP_IP_BAD_VERSION);
	f.b[14] = 0x05;
	assert_drop(&f, FO_DROP_IP_BAD_VERSION);
	/* IHL below 5 */
	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		mk_udp(&f, 10);
		f.b[14] = (uint8_t)(0x40 | ihl);
		assert_drop(&f, FO_DROP_IP_BAD_IHL);
	}
	/* IHL past the end of the frame */
	mk_udp(&f, 0);  /* 42 bytes: 28 after Ethernet */
	f.b[14] = 0x48; /* 32-byte header */
	assert_drop(&f, FO_DROP_IP_BAD_IHL);
	/* total length below the header, or past the frame */
	mk_udp(&f, 10);
	put16(f.b + 16, 19);
	ip_fix(&f);
	assert_drop(&f, FO_DROP_IP_BAD_LENGTH);
	mk_udp_full(&f, OUR_MAC, 0, 0, 6, PEER_IP, OUR_IP, PEER_PORT, PORT, 10);
	put16(f.b + 16, 23); /* below a 24-byte IHL */
	ip_fix(&f);
	assert_drop(&f, FO_DROP_IP_BAD_LENGTH);
	mk_udp(&f, 10);
	put16(f.b + 16, (uint16_t)(f.len - 14 + 1));
	ip_fix(&f);
	assert_drop(&f, FO_DROP_IP_BAD_LENGTH);
	put16(f.b + 16, 0);
	ip_fix(&f);
	assert_drop(&f, FO_DROP_IP_BAD_LENGTH);
	/* checksum: every single-bit flip of the header is caught */
	for (size_t bit = 0; bit < 160; bit++) {
		mk_udp(&f, 10);
		size_t byte = bit / 8;
		if (byte == 0 || byte == 2 || byte == 3)
			continue; /* version/IHL/length checks would come first */
		f.b[14 + byte] ^= (uint8_t)(1u << (bit % 8));
		assert_drop(&f, FO_DROP_IP_BAD_CKSUM);
	}
	/* fragments: MF, offset, both; DF alone is fine */
	mk_udp(&f, 10);
	put16(f.b + 20, 0x2000);
	ip_fix(&f);
	assert_drop(&f, FO_DROP_IP_FRAGMENT);
	put16(f.b + 20, 0x0001);
	ip_fix(&f);
	assert_drop(&f, FO_DROP_IP_FRAGMENT);
	put16(f.b + 20, 0x1fff);
	ip_fix(&f);
	assert_drop(&f, FO_DROP_IP_FRAGMENT);
	put16(f.b + 20, 0x6000 | 185); /* DF|MF with an offset */
	ip_fix(&f);
	assert_drop(&f, FO_DROP_IP_FRAGMENT);
	put16(f.b + 20, 0x0000); /* neither DF nor fragment: fine */
	ip_fix(&f);
	assert_int_equal(parse(&f).kind, L2L4_MQTTSN);
	/* not for us: other host on the subnet, off-subnet, other subnet's broadcast */
	static const uint32_t not_us[] = { IP4(10, 0, 0, 2), FAR_IP, IP4(10, 0, 1, 255), IP4(10, 0, 0, 0),
					   IP4(224, 0, 0, 1) };
	for (size_t i = 0; i < sizeof(not_us) / sizeof(not_us[0]); i++) {
		mk_udp_full(&f, OUR_MAC, 0, 0, 5, PEER_IP, not_us[i], PEER_PORT, PORT, 10);
		assert_drop(&f, FO_DROP_IP_NOT_FOR_US);
	}
	/* martian sources, each with its own reason (UDP and ICMP alike) */
	static const struct {
		uint32_t src;
		enum fo_drop why;
	} bad_src[] = {
		{ 0, FO_DROP_IP_SRC_THIS_NET },
		{ IP4(0, 1, 2, 3), FO_DROP_IP_SRC_THIS_NET },
		{ 0xffffffffu, FO_DROP_IP_SRC_BROADCAST },
		{ NET_BCAST, FO_DROP_IP_SRC_BROADCAST },
		{ IP4(224, 0, 0, 1), FO_DROP_IP_SRC_MULTICAST },
		{ IP4(239, 255, 255, 250), FO_DROP_IP_SRC_MULTICAST },
		{ IP4(127, 0, 0, 1), FO_DROP_IP_SRC_LOOPBACK },
		{ IP4(127, 255, 0, 9), FO_DROP_IP_SRC_LOOPBACK },
		{ IP4(240, 0, 0, 1), FO_DROP_IP_SRC_RESERVED },
		{ IP4(254, 1, 1, 1), FO_DROP_IP_SRC_RESERVED },
		{ OUR_IP, FO_DROP_IP_SRC_OURS },
	};
	for (size_t i = 0; i < sizeof(bad_src) / sizeof(bad_src[0]); i++) {
		mk_udp_full(&f, OUR_MAC, 0, 0, 5, bad_src[i].src, OUR_IP, PEER_PORT, PORT, 10);
		assert_drop(&f, bad_src[i].why);
		mk_icmp(&f, 8);
		put32(f.b + 26, bad_src[i].src);
		ip_fix(&f);
		assert_drop(&f, bad_src[i].why);
	}
	/* the edges around them are ordinary hosts */
	static const uint32_t ok_src[] = { IP4(1, 0, 0, 0), IP4(126, 255, 255, 255), IP4(128, 0, 0, 1),
					   IP4(223, 255, 255, 255), IP4(10, 0, 0, 2) };
	for (size_t i = 0; i < sizeof(ok_src) / sizeof(ok_src[0]); i++) {
		mk_udp_full(&f, OUR_MAC, 0, 0, 5, ok_src[i], OUR_IP, PEER_PORT, PORT, 10);
		assert_int_equal(parse(&f).kind, L2L4_MQTTSN);
	}
	/* privileged source ports (DNS, NTP, echo ...) are not clients */
	static const uint16_t low_ports[] = { 1, 7, 19, 53, 123, 1023 };
	for (size_t i = 0; i < sizeof(low_ports) / sizeof(low_ports[0]); i++) {
		mk_udp_full(&f, OUR_MAC, 0, 0, 5, PEER_IP, OUR_IP, low_ports[i], PORT, 10);
		assert_drop(&f, FO_DROP_UDP_SRC_PORT_LOW);
	}
	mk_udp_full(&f, OUR_MAC, 0, 0, 5, PEER_IP, OUR_IP, 1024, PORT, 10);
	assert_int_equal(parse(&f).kind, L2L4_MQTTSN);
	/* a remote source (via the gateway) is fine */
	mk_udp_full(&f, OUR_MAC, 0, 0, 5, FAR_IP, OUR_IP, PEER_PORT, PORT, 10);
	assert_int_equal(parse(&f).kind, L2L4_MQTTSN);
	/* protocols other than ICMP/UDP */
	static const uint8_t protos[] = { 0, 2, 6, 41, 58, 132, 255 };
	for (size_t i = 0; i < sizeof(protos); i++) {
		mk_udp(&f, 10);
		f.b[23] = protos[i];
		ip_fix(&f);
		assert_drop(&f, FO_DROP_IP_PROTO_UNSUPPORTED);
	}
}

static void test_drop_icmp(void **state)
{
	(void)state;
	struct frame f;
	for (size_t n = 0; n < 8; n++) {
		mk_icmp(&f, n);
		assert_drop(&f, FO_DROP_ICMP_MALFORMED);
	}
	for (size_t bit = 0; bit < 8 * 24; bit++) {
		mk_icmp(&f, 24);
		f.b[f.l4 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_drop(&f, FO_DROP_ICMP_BAD_CKSUM);
	}
	static const uint8_t types[] = { 0, 3, 5, 11, 13, 17, 255 };
	for (size_t i = 0; i < sizeof(types); i++) {
		mk_icmp_full(&f, 0, 0, 5, OUR_IP, types[i], 0, 16);
		assert_drop(&f, FO_DROP_ICMP_UNSUPPORTED);
	}
	mk_icmp_full(&f, 0, 0, 5, OUR_IP, 8, 1, 16); /* echo with a nonzero code */
	assert_drop(&f, FO_DROP_ICMP_UNSUPPORTED);
	/* broadcast pings are not answered (checksums fine) */
	mk_icmp_full(&f, 0, 0, 5, NET_BCAST, 8, 0, 16);
	memcpy(f.b, BCAST_MAC, 6);
	assert_drop(&f, FO_DROP_ICMP_UNSUPPORTED);
	mk_icmp_full(&f, 0, 0, 5, 0xffffffffu, 8, 0, 16);
	memcpy(f.b, BCAST_MAC, 6);
	assert_drop(&f, FO_DROP_ICMP_UNSUPPORTED);
	/* a unicast ping to us in a broadcast Ethernet frame is still a ping to us */
	mk_icmp(&f, 16);
	memcpy(f.b, BCAST_MAC, 6);
	assert_int_equal(parse(&f).kind, L2L4_ICMP_ECHO);
}

/* A UDP frame from PEER (l4len = 8 + plen bytes) made into a fragment: flags/offset word fo,
 * the UDP length field announcing ulen (only meaningful for a first fragment). */
static void mk_frag(struct frame *f, size_t plen, uint16_t fo, uint16_t ulen)
{
	mk_udp(f, plen);
	put16(f->b + f->l4 + 4, ulen);
	put16(f->b + f->l3 + 6, fo);
	ip_fix(f);
}

/* Fragments with reassembly on: kept with where their bytes sit, or refused by what they show
 * (limits.max_message_bytes 1000 here: IP payload at most 1008). */
static void test_fragments(void **state)
{
	(void)state;
	struct l2l4_iface ifc = IFC;
	ifc.reassemble = true;
	ifc.max_msg_len = 1000;
	struct frame f;
	/* first fragment: UDP header, ports checked, announced length within the limit */
	mk_frag(&f, 200, 0x2000, 8 + 600);
	struct l2l4_pkt p = parse_if(&f, &ifc);
	assert_int_equal(p.kind, L2L4_IPV4_FRAGMENT);
	assert_int_equal(p.frag_off, 0);
	assert_int_equal(p.frag_len, 208);
	assert_true(p.frag_more);
	assert_int_equal(p.src_ip, PEER_IP);
	assert_int_equal(p.src_port, PEER_PORT);
	assert_int_equal(p.l3_len, 20);
	mk_frag(&f, 200, 0x2000, 8 + 1000); /* exactly the limit */
	assert_int_equal(parse_if(&f, &ifc).kind, L2L4_IPV4_FRAGMENT);
	mk_frag(&f, 200, 0x2000, 8 + 1001);
	assert_drop_if(&f, &ifc, FO_DROP_MESSAGE_TOO_BIG);
	mk_frag(&f, 200, 0x2000, 208); /* announces no more than it holds: not a fragment's header */
	assert_drop_if(&f, &ifc, FO_DROP_UDP_MALFORMED);
	mk_udp_full(&f, OUR_MAC, 0, 0, 5, PEER_IP, OUR_IP, PEER_PORT, 53, 200);
	put16(f.b + f.l4 + 4, 600);
	put16(f.b + f.l3 + 6, 0x2000);
	ip_fix(&f);
	assert_drop_if(&f, &ifc, FO_DROP_UDP_NO_LISTENER);
	mk_udp_full(&f, OUR_MAC, 0, 0, 5, PEER_IP, OUR_IP, 123, PORT, 200);
	put16(f.b + f.l4 + 4, 600);
	put16(f.b + f.l3 + 6, 0x2000);
	ip_fix(&f);
	assert_drop_if(&f, &ifc, FO_DROP_UDP_SRC_PORT_LOW);
	/* later fragments: offset in 8-byte units; a fragment reaching past 1008 shows the size */
	mk_frag(&f, 200, 0x2000 | 100, 0); /* 800 + 208 = 1008 */
	p = parse_if(&f, &ifc);
	assert_int_equal(p.kind, L2L4_IPV4_FRAGMENT);
	assert_int_equal(p.frag_off, 800);
	assert_int_equal(p.frag_len, 208);
	assert_true(p.frag_more);
	mk_frag(&f, 200, 0x2000 | 101, 0);
	assert_drop_if(&f, &ifc, FO_DROP_MESSAGE_TOO_BIG);
	mk_frag(&f, 203, 100, 0); /* the last may be ragged: 800 + 211 > 1008 */
	assert_drop_if(&f, &ifc, FO_DROP_MESSAGE_TOO_BIG);
	mk_frag(&f, 199, 100, 0);
	p = parse_if(&f, &ifc);
	assert_int_equal(p.kind, L2L4_IPV4_FRAGMENT);
	assert_false(p.frag_more);
	assert_int_equal(p.frag_len, 207);
	mk_frag(&f, 201, 0x2000 | 10, 0); /* not the last, 209 bytes: RFC 791 wants a multiple of 8 */
	assert_drop_if(&f, &ifc, FO_DROP_IP_BAD_LENGTH);
	/* without a limit the datagram still ends within 65535 bytes */
	ifc.max_msg_len = 0;
	mk_frag(&f, 200, 0x1fff, 0); /* 65528 + 208 */
	assert_drop_if(&f, &ifc, FO_DROP_IP_BAD_LENGTH);
	mk_frag(&f, 200, 0x2000 | 100, 0);
	assert_int_equal(parse_if(&f, &ifc).kind, L2L4_IPV4_FRAGMENT);
	ifc.max_msg_len = 1000;
	/* what reassembly never takes: other protocols, broadcasts, other hosts, reassembly off */
	mk_icmp(&f, 64);
	put16(f.b + f.l3 + 6, 0x2000);
	ip_fix(&f);
	assert_drop_if(&f, &ifc, FO_DROP_IP_FRAGMENT);
	mk_udp_full(&f, BCAST_MAC, 0, 0, 5, PEER_IP, NET_BCAST, PEER_PORT, PORT, 200);
	put16(f.b + f.l3 + 6, 0x2000 | 100);
	ip_fix(&f);
	assert_drop_if(&f, &ifc, FO_DROP_IP_FRAGMENT);
	mk_udp_full(&f, OUR_MAC, 0, 0, 5, PEER_IP, IP4(10, 0, 0, 2), PEER_PORT, PORT, 200);
	put16(f.b + f.l3 + 6, 0x2000 | 100);
	ip_fix(&f);
	assert_drop_if(&f, &ifc, FO_DROP_IP_NOT_FOR_US);
	mk_frag(&f, 200, 0x2000 | 100, 0);
	ifc.reassemble = false;
	assert_drop_if(&f, &ifc, FO_DROP_IP_FRAGMENT);
	/* whole datagrams: the limit is the MQTT-SN message, the UDP payload */
	ifc.reassemble = true;
	mk_udp(&f, 1000);
	assert_int_equal(parse_if(&f, &ifc).kind, L2L4_MQTTSN);
	mk_udp(&f, 1001);
	assert_drop_if(&f, &ifc, FO_DROP_MESSAGE_TOO_BIG);
}

static void test_drop_udp(void **state)
{
	(void)state;
	struct frame f;
	/* shorter than a UDP header (IP total length says so) */
	for (size_t n = 0; n < 8; n++) {
		mk_udp(&f, 0);
		put16(f.b + 16, (uint16_t)(20 + n));
		ip_fix(&f);
		f.len = 14 + 20 + n;
		assert_drop(&f, FO_DROP_UDP_MALFORMED);
	}
	/* UDP length disagrees with the IP payload */
	static const uint16_t ulens[] = { 0, 7, 8, 17, 19, 1000, 0xffff };
	for (size_t i = 0; i < sizeof(ulens) / sizeof(ulens[0]); i++) {
		mk_udp(&f, 10); /* ulen 18 */
		put16(f.b + f.l4 + 4, ulens[i]);
		put16(f.b + f.l4 + 6, 0);
		assert_drop(&f, FO_DROP_UDP_MALFORMED);
	}
	/* source port 0: nowhere to answer */
	mk_udp_full(&f, OUR_MAC, 0, 0, 5, PEER_IP, OUR_IP, 0, PORT, 10);
	assert_drop(&f, FO_DROP_UDP_MALFORMED);
	/* checksum: every single-bit flip of header and payload, and of the pseudo-header
	 * addresses (fixing the IP checksum so only UDP's fails) */
	for (size_t bit = 0; bit < 8 * 18; bit++) {
		mk_udp(&f, 10);
		size_t byte = bit / 8;
		if (byte < 6)
			continue; /* ports and length are checked first */
		f.b[f.l4 + byte] ^= (uint8_t)(1u << (bit % 8));
		if (get16(f.b + f.l4 + 6) == 0)
			continue; /* flipped into "no checksum" */
		assert_drop(&f, FO_DROP_UDP_BAD_CKSUM);
	}
	mk_udp(&f, 10);
	f.b[f.l4 + 1] ^= 0x40; /* source port 40000 -> 39936 */
	assert_drop(&f, FO_DROP_UDP_BAD_CKSUM);
	mk_udp(&f, 10);
	put32(f.b + 26, PEER_IP + 1);
	ip_fix(&f);
	assert_drop(&f, FO_DROP_UDP_BAD_CKSUM);
	/* no listener */
	static const uint16_t ports[] = { 1, 53, PORT - 1, PORT + 1, 1884, 0, 65535 };
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		mk_udp_full(&f, OUR_MAC, 0, 0, 5, PEER_IP, OUR_IP, PEER_PORT, ports[i], 10);
		assert_drop(&f, FO_DROP_UDP_NO_LISTENER);
	}
}

/* Every prefix of a valid frame is dropped, and never read past its end (the parse copies
 * into an exactly-sized heap buffer). */
static void check_truncations(const struct frame *f, const struct l2l4_iface *ifc, enum l2l4_kind kind)
{
	struct l2l4_pkt p = parse_if(f, ifc);
	assert_int_equal(p.kind, kind);
	for (size_t n = 0; n < f->len; n++) {
		for (int ck = 0; ck < 3; ck++) {
			p = parse_ck(f->b, n, ifc, (enum l2l4_ck)ck, (enum l2l4_ck)ck);
			if (p.kind != L2L4_DROP) {
				print_error("prefix %zu of %zu classified %d\n", n, f->len, p.kind);
				fail();
			}
			assert_true(p.drop < FO_DROP_MAX);
		}
	}
}

static void test_truncations(void **state)
{
	(void)state;
	struct frame f;
	struct l2l4_iface v = ifc_vlan(VID);
	mk_udp(&f, 57);
	check_truncations(&f, &IFC, L2L4_MQTTSN);
	mk_udp_full(&f, OUR_MAC, 1, VID, 9, PEER_IP, OUR_IP, PEER_PORT, PORT, 26);
	check_truncations(&f, &v, L2L4_MQTTSN);
	mk_udp(&f, 0);
	check_truncations(&f, &IFC, L2L4_MQTTSN);
	mk_icmp(&f, 40);
	check_truncations(&f, &IFC, L2L4_ICMP_ECHO);
	mk_icmp_full(&f, 1, VID, 6, OUR_IP, 8, 0, 9);
	check_truncations(&f, &v, L2L4_ICMP_ECHO);
	/* ARP without padding: 42 bytes, every shorter prefix malformed or a runt */
	mk_arp_req(&f);
	f.len = 42;
	check_truncations(&f, &IFC, L2L4_ARP_REQUEST);
}

/* ---- builders --------------------------------------------------------------------- */

static void test_write_eth(void **state)
{
	(void)state;
	uint8_t b[32];
	memset(b, 0xee, sizeof(b));
	assert_int_equal(l2l4_write_eth(b, PEER_MAC, OUR_MAC, 0, 0x0800), 14);
	assert_memory_equal(b, PEER_MAC, 6);
	assert_memory_equal(b + 6, OUR_MAC, 6);
	assert_int_equal(get16(b + 12), 0x0800);
	assert_int_equal(b[14], 0xee);
	memset(b, 0xee, sizeof(b));
	assert_int_equal(l2l4_write_eth(b, PEER_MAC, OUR_MAC, 0xfff, 0x0806), 18);
	assert_int_equal(get16(b + 12), 0x8100);
	assert_int_equal(get16(b + 14), 0x0fff);
	assert_int_equal(get16(b + 16), 0x0806);
	assert_int_equal(b[18], 0xee);
}

static void check_build_arp(uint16_t op, uint16_t vlan)
{
	uint8_t b[80];
	memset(b, 0xee, sizeof(b));
	size_t n = l2l4_build_arp(b, op, BCAST_MAC, OUR_MAC, OUR_IP, ZERO_MAC, PEER_IP, vlan);
	size_t l2 = vlan ? 18 : 14;
	assert_int_equal(n, vlan ? 64 : 60);
	assert_memory_equal(b, BCAST_MAC, 6);
	assert_memory_equal(b + 6, OUR_MAC, 6);
	if (vlan) {
		assert_int_equal(get16(b + 12), 0x8100);
		assert_int_equal(get16(b + 14), vlan);
	}
	assert_int_equal(get16(b + l2 - 2), 0x0806);
	const uint8_t *a = b + l2;
	assert_int_equal(get16(a), 1);
	assert_int_equal(get16(a + 2), 0x0800);
	assert_int_equal(a[4], 6);
	assert_int_equal(a[5], 4);
	assert_int_equal(get16(a + 6), op);
	assert_memory_equal(a + 8, OUR_MAC, 6);
	assert_int_equal(get32(a + 14), OUR_IP);
	assert_memory_equal(a + 18, ZERO_MAC, 6);
	assert_int_equal(get32(a + 24), PEER_IP);
	for (size_t i = l2 + 28; i < n; i++)
		assert_int_equal(b[i], 0);
	for (size_t i = n; i < sizeof(b); i++)
		assert_int_equal(b[i], 0xee); /* nothing written past the frame */

	/* a reply built by us parses as a reply at the peer */
	if (op == 2) {
		n = l2l4_build_arp(b, 2, PEER_MAC, OUR_MAC, OUR_IP, PEER_MAC, PEER_IP, vlan);
		struct l2l4_iface peer = { .ip = PEER_IP, .netmask = 0xffffff00u, .vlan = vlan, .mqttsn_port = 1 };
		memcpy(peer.mac, PEER_MAC, 6);
		struct l2l4_pkt p = parse_ck(b, n, &peer, 0, 0);
		assert_int_equal(p.kind, L2L4_ARP_REPLY);
		assert_memory_equal(p.arp_sender_mac, OUR_MAC, 6);
		assert_int_equal(p.arp_sender_ip, OUR_IP);
	} else {
		struct l2l4_iface peer = { .ip = PEER_IP, .netmask = 0xffffff00u, .vlan = vlan, .mqttsn_port = 1 };
		memcpy(peer.mac, PEER_MAC, 6);
		struct l2l4_pkt p = parse_ck(b, n, &peer, 0, 0);
		assert_int_equal(p.kind, L2L4_ARP_REQUEST);
	}
}

static void test_build_arp(void **state)
{
	(void)state;
	check_build_arp(1, 0);
	check_build_arp(2, 0);
	check_build_arp(1, VID);
	check_build_arp(2, 4095);
}

static const struct l2l4_udp_spec SPEC = {
	.src_mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 },
	.dst_mac = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 },
	.vlan = 0,
	.src_ip = OUR_IP,
	.dst_ip = PEER_IP,
	.src_port = PORT,
	.dst_port = PEER_PORT,
};

/* Checks the headers written by l2l4_write_udp over frame b (headers + whole payload). */
static void verify_udp_frame(const uint8_t *b, const struct l2l4_udp_spec *s, size_t plen, const uint8_t *payload)
{
	size_t l2 = s->vlan ? 18 : 14;
	assert_memory_equal(b, s->dst_mac, 6);
	assert_memory_equal(b + 6, s->src_mac, 6);
	if (s->vlan) {
		assert_int_equal(get16(b + 12), 0x8100);
		assert_int_equal(get16(b + 14), s->vlan);
	}
	assert_int_equal(get16(b + l2 - 2), 0x0800);
	const uint8_t *ip = b + l2;
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(get16(ip + 2), 28 + plen);
	assert_int_equal(get16(ip + 6) & 0x3fff, 0);
	assert_true(ip[8] > 0);
	assert_int_equal(ip[9], 17);
	assert_int_equal(get32(ip + 12), s->src_ip);
	assert_int_equal(get32(ip + 16), s->dst_ip);
	assert_int_equal(ref_sum(0, ip, 20), 0xffff);
	const uint8_t *u = ip + 20;
	assert_int_equal(get16(u), s->src_port);
	assert_int_equal(get16(u + 2), s->dst_port);
	assert_int_equal(get16(u + 4), 8 + plen);
	assert_int_not_equal(get16(u + 6), 0);
	assert_int_equal(ref_udp_sum(s->src_ip, s->dst_ip, u, 8 + plen), 0xffff);
	/* and the value is exactly the RFC 768 one */
	uint8_t *tmp = malloc(8 + plen);
	assert_non_null(tmp);
	memcpy(tmp, u, 8 + plen);
	put16(tmp + 6, 0);
	uint16_t want = (uint16_t)~ref_udp_sum(s->src_ip, s->dst_ip, tmp, 8 + plen);
	free(tmp);
	assert_int_equal(get16(u + 6), want ? want : 0xffff);
	if (payload && plen)
		assert_memory_equal(u + 8, payload, plen);
}

static uint64_t rng_state = 0x243F6A8885A308D3ull;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static void test_write_udp_inline(void **state)
{
	(void)state;
	static uint8_t b[2048];
	for (size_t plen = 0; plen <= 1472; plen += (plen < 40 ? 1 : 37)) {
		for (int tag = 0; tag < 2; tag++) {
			struct l2l4_udp_spec s = SPEC;
			s.vlan = tag ? VID : 0;
			s.src_port = (uint16_t)rnd();
			s.dst_ip = rnd() | 1;
			memset(b, 0xee, sizeof(b));
			size_t hl = l2l4_udp_hdr_len(s.vlan);
			for (size_t i = 0; i < plen; i++)
				b[hl + i] = (uint8_t)rnd();
			assert_int_equal(l2l4_write_udp(b, &s, plen, 0, 0), hl);
			assert_int_equal(hl, tag ? 46 : 42);
			verify_udp_frame(b, &s, plen, NULL);
			assert_int_equal(b[hl + plen], 0xee);
		}
	}
}

/* The checksum field can come out as 0 only as 0xffff: search for a payload whose RFC 768
 * checksum is 0 and check the substitution. */
static void test_write_udp_zero_sum(void **state)
{
	(void)state;
	uint8_t b[64];
	memset(b, 0, sizeof(b));
	size_t hl = l2l4_udp_hdr_len(0);
	/* payload word W makes the sum 0xffff when W = ~(sum without W) */
	assert_int_equal(l2l4_write_udp(b, &SPEC, 2, 0, 0), hl);
	uint8_t tmp[10];
	memcpy(tmp, b + 34, 10);
	put16(tmp + 6, 0);
	put16(tmp + 8, 0);
	uint16_t s = ref_udp_sum(SPEC.src_ip, SPEC.dst_ip, tmp, 10);
	put16(b + hl, (uint16_t)~s);
	assert_int_equal(l2l4_write_udp(b, &SPEC, 2, 0, 0), hl);
	assert_int_equal(get16(b + 34 + 6), 0xffff);
	verify_udp_frame(b, &SPEC, 2, NULL);
}

static void test_write_udp_split(void **state)
{
	(void)state;
	static uint8_t b[4096], ext[2048], whole[4096];
	for (int iter = 0; iter < 3000; iter++) {
		size_t in_len = rnd() % 1401, ext_len = rnd() % 1401;
		if (iter < 4) { /* corners */
			in_len = (size_t)(iter & 1);
			ext_len = (size_t)(iter >> 1);
		}
		struct l2l4_udp_spec s = SPEC;
		s.vlan = (iter & 4) ? (uint16_t)(1 + rnd() % 4094) : 0;
		s.src_ip = rnd();
		s.dst_ip = rnd();
		s.src_port = (uint16_t)rnd();
		s.dst_port = (uint16_t)rnd();
		size_t hl = l2l4_udp_hdr_len(s.vlan);
		for (size_t i = 0; i < in_len; i++)
			b[hl + i] = (uint8_t)rnd();
		for (size_t i = 0; i < ext_len; i++)
			ext[i] = (uint8_t)rnd();
		uint32_t ext_sum = l2l4_csum_add(0, ext, ext_len);
		assert_int_equal(l2l4_write_udp(b, &s, in_len, ext_len, ext_sum), hl);
		memcpy(whole, b, hl + in_len);
		memcpy(whole + hl + in_len, ext, ext_len);
		verify_udp_frame(whole, &s, in_len + ext_len, NULL);
		/* the same datagram written inline gives the same header bytes */
		static uint8_t again[4096];
		memcpy(again, whole, hl + in_len + ext_len);
		assert_int_equal(l2l4_write_udp(again, &s, in_len + ext_len, 0, 0), hl);
		assert_memory_equal(again, whole, hl);
	}
}

static void test_write_udp_limits(void **state)
{
	(void)state;
	static uint8_t b[128];
	uint8_t ext[1] = { 0 };
	/* 65535 - 28 payload bytes is the largest datagram */
	size_t max = 65535 - 28;
	assert_int_equal(l2l4_write_udp(b, &SPEC, 0, max, 0), 42);
	assert_int_equal(get16(b + 16), 65535);
	assert_int_equal(get16(b + 38), 65535 - 20);
	assert_int_equal(ref_sum(0, b + 14, 20), 0xffff);
	assert_int_equal(l2l4_write_udp(b, &SPEC, 0, max + 1, 0), 0);
	assert_int_equal(l2l4_write_udp(b, &SPEC, 1, max, l2l4_csum_add(0, ext, 1)), 0);
	assert_int_equal(l2l4_write_udp(b, &SPEC, max + 1, 0, 0), 0);
	assert_int_equal(l2l4_write_udp(b, &SPEC, SIZE_MAX / 4, SIZE_MAX / 4, 0), 0);
}

/* csum_shift / csum_add pieces against the reference. */
static void test_csum_pieces(void **state)
{
	(void)state;
	uint8_t d[1501];
	for (int iter = 0; iter < 500; iter++) {
		size_t n = rnd() % sizeof(d);
		for (size_t i = 0; i < n; i++)
			d[i] = (uint8_t)rnd();
		assert_int_equal(l2l4_csum_fold(l2l4_csum_add(0, d, n)), ref_sum(0, d, n));
		/* split anywhere: even split adds, odd split shifts */
		size_t k = n ? rnd() % (n + 1) : 0;
		uint32_t a = l2l4_csum_add(0, d, k), b2 = l2l4_csum_add(0, d + k, n - k);
		uint32_t s = a + ((k & 1) ? l2l4_csum_shift(b2) : l2l4_csum_fold(b2));
		uint16_t got = l2l4_csum_fold(s), want = ref_sum(0, d, n);
		/* one's complement: 0x0000 and 0xffff are the same value */
		if (got == 0)
			got = 0xffff;
		if (want == 0)
			want = 0xffff;
		assert_int_equal(got, want);
	}
	/* continuing a sum from a nonzero start */
	for (size_t i = 0; i < 100; i++)
		d[i] = (uint8_t)rnd();
	assert_int_equal(l2l4_csum_fold(l2l4_csum_add(l2l4_csum_add(0, d, 40), d + 40, 60)), ref_sum(0, d, 100));
	/* the short form is the same value, not just the same sum (hdr_sum keeps it), at any
	 * alignment; all-0xff and all-zero bytes are the edges of one's complement */
	for (int iter = 0; iter < 2000; iter++) {
		size_t n = rnd() % (L2L4_CSUM_SHORT_MAX + 1), at = rnd() % 8;
		int fill = iter % 3;
		for (size_t i = 0; i < n; i++)
			d[at + i] = fill == 0 ? (uint8_t)rnd() : fill == 1 ? 0xff : 0;
		assert_int_equal(l2l4_csum_short(d + at, n), l2l4_csum_add(0, d + at, n));
	}
}

/* Round trip: what we send parses as MQTT-SN at the other end (and at our end when the
 * roles are swapped), same addresses, ports and payload. */
static void test_round_trip(void **state)
{
	(void)state;
	static uint8_t b[2048];
	for (int iter = 0; iter < 400; iter++) {
		size_t plen = rnd() % 1473;
		struct l2l4_udp_spec s = {
			.vlan = (iter & 1) ? VID : 0,
			.src_ip = PEER_IP + (rnd() % 200) + 1,
			.dst_ip = OUR_IP,
			.src_port = (uint16_t)(1024 + rnd() % (65536 - 1024)),
			.dst_port = PORT,
		};
		memcpy(s.src_mac, PEER_MAC, 6);
		memcpy(s.dst_mac, OUR_MAC, 6);
		struct l2l4_iface ifc = ifc_vlan(s.vlan);
		size_t hl = l2l4_udp_hdr_len(s.vlan);
		for (size_t i = 0; i < plen; i++)
			b[hl + i] = (uint8_t)rnd();
		size_t in_len = plen ? rnd() % (plen + 1) : 0;
		uint32_t ext_sum = l2l4_csum_add(0, b + hl + in_len, plen - in_len);
		assert_int_equal(l2l4_write_udp(b, &s, in_len, plen - in_len, ext_sum), hl);
		size_t len = hl + plen;
		if (len < 60 + (s.vlan ? 4u : 0u)) { /* pad like a NIC would */
			memset(b + len, 0, 64 - len);
			len = 60 + (s.vlan ? 4u : 0u);
		}
		struct l2l4_pkt p = parse_ck(b, len, &ifc, 0, 0);
		assert_int_equal(p.kind, L2L4_MQTTSN);
		assert_int_equal(p.l2_len, s.vlan ? 18 : 14);
		assert_int_equal(p.l3_len, 20);
		assert_int_equal(p.payload_off, hl);
		assert_int_equal(p.payload_len, plen);
		assert_int_equal(p.src_ip, s.src_ip);
		assert_int_equal(p.dst_ip, s.dst_ip);
		assert_int_equal(p.src_port, s.src_port);
		assert_int_equal(p.dst_port, s.dst_port);
		assert_memory_equal(p.src_mac, PEER_MAC, 6);
	}
}

static void check_echo_reply(int tag, unsigned ihl_words, size_t len)
{
	struct l2l4_iface ifc = ifc_vlan(tag ? VID : 0);
	struct frame f, orig;
	mk_icmp_full(&f, tag, tag ? VID : 0, ihl_words, OUR_IP, 8, 0, len);
	orig = f;
	struct l2l4_pkt p = parse_if(&f, &ifc);
	assert_int_equal(p.kind, L2L4_ICMP_ECHO);
	l2l4_icmp_echo_to_reply(f.b, &p, PEER_MAC, OUR_MAC);
	assert_memory_equal(f.b, PEER_MAC, 6);
	assert_memory_equal(f.b + 6, OUR_MAC, 6);
	assert_memory_equal(f.b + 12, orig.b + 12, f.l3 - 12); /* tag + ethertype kept */
	const uint8_t *ip = f.b + f.l3;
	assert_int_equal(get32(ip + 12), OUR_IP);
	assert_int_equal(get32(ip + 16), PEER_IP);
	assert_int_equal(ip[8], 64);
	assert_int_equal(ip[9], 1);
	assert_int_equal(get16(ip + 2), get16(orig.b + f.l3 + 2));
	assert_int_equal(ref_sum(0, ip, f.ihl), 0xffff);
	const uint8_t *ic = f.b + f.l4;
	assert_int_equal(ic[0], 0);
	assert_int_equal(ic[1], 0);
	assert_int_equal(ref_sum(0, ic, len), 0xffff);
	assert_memory_equal(ic + 4, orig.b + f.l4 + 4, len - 4); /* id, seq, data echoed */
	assert_int_equal(f.len, orig.len);
	/* the peer sees a valid ICMP message (of a type we do not answer) */
	struct l2l4_iface peer = { .ip = PEER_IP, .netmask = 0xffffff00u, .vlan = ifc.vlan, .mqttsn_port = PORT };
	memcpy(peer.mac, PEER_MAC, 6);
	assert_drop_if(&f, &peer, FO_DROP_ICMP_UNSUPPORTED);
}

static void test_echo_reply(void **state)
{
	(void)state;
	for (int tag = 0; tag < 2; tag++) {
		check_echo_reply(tag, 5, 8);
		check_echo_reply(tag, 5, 64);
		check_echo_reply(tag, 5, 1473);
		check_echo_reply(tag, 6, 57);
		check_echo_reply(tag, 15, 200);
	}
}

static void test_next_hop(void **state)
{
	(void)state;
	uint32_t gw = IP4(10, 0, 0, 254);
	assert_int_equal(l2l4_next_hop(PEER_IP, OUR_IP, 0xffffff00u, gw), PEER_IP);
	assert_int_equal(l2l4_next_hop(FAR_IP, OUR_IP, 0xffffff00u, gw), gw);
	assert_int_equal(l2l4_next_hop(FAR_IP, OUR_IP, 0xffffff00u, 0), 0);
	assert_int_equal(l2l4_next_hop(FAR_IP, OUR_IP, 0, gw), FAR_IP);
}

/* The word-at-a-time checksum against a byte-pair reference: every length 0..300, every
 * alignment 0..7, random contents and random starting sums; equal once folded. */
static uint16_t ref_fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void test_csum_fast_matches_reference(void **state)
{
	(void)state;
	static uint8_t buf[320 + 8];
	uint32_t seed = 12345;
	for (int round = 0; round < 20; round++) {
		for (size_t i = 0; i < sizeof(buf); i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (uint8_t)(round == 0 ? 0xff : seed >> 16); /* round 0: all ones, carries everywhere */
		}
		for (size_t off = 0; off < 8; off++)
			for (size_t len = 0; len <= 300; len++) {
				seed = seed * 1103515245u + 12345u;
				uint32_t start = round == 1 ? 0xffffffffu : seed;
				uint64_t r = start;
				const uint8_t *p = buf + off;
				for (size_t k = 0; k + 1 < len; k += 2)
					r += (uint32_t)(p[k] << 8 | p[k + 1]);
				if (len & 1)
					r += (uint32_t)p[len - 1] << 8;
				assert_int_equal(l2l4_csum_fold(l2l4_csum_add(start, p, len)), ref_fold(r));
			}
	}
}

/* The suffix sum from the block sum equals summing the suffix itself (folded, 0 == 0xffff). */
static void test_csum_suffix(void **state)
{
	(void)state;
	static uint8_t blk[200];
	uint32_t seed = 777;
	for (int round = 0; round < 50; round++) {
		size_t len = 1 + round * 3;
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			blk[i] = (uint8_t)(round == 0 ? 0xff : seed >> 16);
		}
		uint16_t whole = l2l4_csum_fold(l2l4_csum_add(0, blk, len));
		for (size_t hl = 0; hl <= len; hl++) {
			uint16_t want = l2l4_csum_fold(l2l4_csum_add(0, blk + hl, len - hl));
			uint16_t got = l2l4_csum_suffix(whole, blk, hl);
			assert_true(got == want || (got == 0xffff && want == 0) || (got == 0 && want == 0xffff));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum_fast_matches_reference),
		cmocka_unit_test(test_csum_suffix),
		cmocka_unit_test(test_arp_request),
		cmocka_unit_test(test_arp_reply),
		cmocka_unit_test(test_icmp_echo),
		cmocka_unit_test(test_udp_mqttsn),
		cmocka_unit_test(test_udp_group),
		cmocka_unit_test(test_priority_tag),
		cmocka_unit_test(test_udp_zero_checksum),
		cmocka_unit_test(test_udp_checksum_ffff),
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_offload_verdicts),
		cmocka_unit_test(test_drop_eth),
		cmocka_unit_test(test_drop_vlan),
		cmocka_unit_test(test_drop_arp),
		cmocka_unit_test(test_drop_ip),
		cmocka_unit_test(test_drop_icmp),
		cmocka_unit_test(test_drop_udp),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_write_eth),
		cmocka_unit_test(test_build_arp),
		cmocka_unit_test(test_write_udp_inline),
		cmocka_unit_test(test_write_udp_zero_sum),
		cmocka_unit_test(test_write_udp_split),
		cmocka_unit_test(test_write_udp_limits),
		cmocka_unit_test(test_csum_pieces),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_echo_reply),
		cmocka_unit_test(test_next_hop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
