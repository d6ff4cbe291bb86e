/* Unit tests for the IPv6 side of dataplane/net: l2l4_parse on IPv6 frames (Neighbor Solicitation
 * and Advertisement, ICMPv6 echo, UDP/IPv6 to the MQTT-SN port and to gateway discovery's group)
 * and every IPv6 drop reason it can give, every truncation of the valid frames (ASan watches the
 * reads); the builders (NA, NS, echo reply, UDP/IPv6 headers) checked against an independent RFC
 * 1071 sum over the IPv6 pseudo-header written here; the on-link and next-hop rules; the IPv6
 * neighbour table (fo_neigh6_*: learning by the ARP table's rules, addresses that share a hash slot
 * kept apart) and fo_rx_decide's ND fates. Frames are assembled by hand in this file, never with
 * the builders under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "l2l4.h"
#include "neighbour.h"
#include "rx_classify.h"

#define PORT 1883
#define PEER_PORT 40000

static const uint8_t OUR_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t PEER_MAC[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
/* 2001:2:0:5::1/64 ours, ::7 a peer, fe80::11:22ff:fe33:4455 the peer's link-local */
static const uint8_t OUR_IP6[16] = { 0x20, 0x01, 0, 2, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t PEER_IP6[16] = { 0x20, 0x01, 0, 2, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 7 };
static const uint8_t PEER_LL[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55 };
static const uint8_t FAR_IP6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9 };
static const uint8_t OUR_LL[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x01 };

static struct l2l4_iface mk_ifc(void)
{
	struct l2l4_iface i = { .mac = { 0x02, 0, 0, 0, 0, 1 },
				.ip = 0x0a000001u,
				.netmask = 0xffffff00u,
				.mqttsn_port = PORT,
				.min_src_port = 1024,
				.has_ip6 = true,
				.ip6_prefix = 64 };
	memcpy(i.ip6, OUR_IP6, 16);
	l2l4_ip6_link_local(i.mac, i.ll6);
	return i;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* RFC 1071 the textbook way, over the IPv6 pseudo-header (RFC 8200 8.1) and the upper-layer bytes. */
static uint16_t ref_sum6(const uint8_t *src, const uint8_t *dst, uint8_t nh, const uint8_t *l4, size_t n)
{
	uint32_t acc = 0;
	for (int i = 0; i < 16; i += 2)
		acc += (uint32_t)(src[i] << 8 | src[i + 1]) + (uint32_t)(dst[i] << 8 | dst[i + 1]);
	acc += (uint32_t)(n >> 16) + (uint32_t)(n & 0xffff) + nh;
	for (size_t i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)(l4[i] << 8 | l4[i + 1]);
	if (n & 1)
		acc += (uint32_t)l4[n - 1] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

/* Ethernet + IPv6 header for an upper-layer packet of l4len bytes at f + 54; returns 54. */
static size_t eth_ip6(uint8_t *f, const uint8_t *dmac, const uint8_t *src, const uint8_t *dst, uint8_t nh, uint8_t hlim,
		      size_t l4len)
{
	memcpy(f, dmac, 6);
	memcpy(f + 6, PEER_MAC, 6);
	put16(f + 12, 0x86dd);
	uint8_t *ip = f + 14;
	memset(ip, 0, 40);
	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)l4len);
	ip[6] = nh;
	ip[7] = hlim;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	return 54;
}

static void fix_sum(uint8_t *f, size_t ck_off, uint8_t nh, size_t l4len)
{
	uint8_t *ip = f + 14, *l4 = f + 54;
	put16(f + ck_off, 0);
	put16(f + ck_off, (uint16_t)~ref_sum6(ip + 8, ip + 24, nh, l4, l4len));
}

/* A Neighbor Solicitation for target from src to dst with an optional source link-layer option. */
static size_t ns_frame(uint8_t *f, const uint8_t *dmac, const uint8_t *src, const uint8_t *dst, const uint8_t *target,
		       bool slla, uint8_t hlim)
{
	size_t l4len = slla ? 32 : 24;
	size_t o = eth_ip6(f, dmac, src, dst, 58, hlim, l4len);
	uint8_t *m = f + o;
	memset(m, 0, l4len);
	m[0] = 135;
	memcpy(m + 8, target, 16);
	if (slla) {
		m[24] = 1;
		m[25] = 1;
		memcpy(m + 26, PEER_MAC, 6);
	}
	fix_sum(f, o + 2, 58, l4len);
	return o + l4len;
}

static size_t na_frame(uint8_t *f, const uint8_t *src, const uint8_t *dst, const uint8_t *target, bool tlla,
		       uint8_t flags)
{
	size_t l4len = tlla ? 32 : 24;
	size_t o = eth_ip6(f, OUR_MAC, src, dst, 58, 255, l4len);
	uint8_t *m = f + o;
	memset(m, 0, l4len);
	m[0] = 136;
	m[4] = flags;
	memcpy(m + 8, target, 16);
	if (tlla) {
		m[24] = 2;
		m[25] = 1;
		memcpy(m + 26, PEER_MAC, 6);
	}
	fix_sum(f, o + 2, 58, l4len);
	return o + l4len;
}

static size_t echo_frame(uint8_t *f, const uint8_t *dst, size_t data)
{
	size_t o = eth_ip6(f, OUR_MAC, PEER_IP6, dst, 58, 64, 8 + data);
	uint8_t *m = f + o;
	m[0] = 128;
	m[1] = 0;
	put16(m + 4, 0x1234);
	put16(m + 6, 1);
	for (size_t i = 0; i < data; i++)
		m[8 + i] = (uint8_t)i;
	fix_sum(f, o + 2, 58, 8 + data);
	return o + 8 + data;
}

/* UDP from src:sport to dst:dport in a frame to dmac. */
static size_t udp_frame_to(uint8_t *f, const uint8_t *dmac, const uint8_t *src, const uint8_t *dst, uint16_t sport,
			   uint16_t dport, const uint8_t *msg, size_t n)
{
	size_t o = eth_ip6(f, dmac, src, dst, 17, 64, 8 + n);
	uint8_t *u = f + o;
	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(8 + n));
	memcpy(u + 8, msg, n);
	fix_sum(f, o + 6, 17, 8 + n);
	return o + 8 + n;
}

static size_t udp_frame(uint8_t *f, const uint8_t *src, uint16_t sport, uint16_t dport, const uint8_t *msg, size_t n)
{
	return udp_frame_to(f, OUR_MAC, src, OUR_IP6, sport, dport, msg, n);
}

static void parse(const uint8_t *f, size_t n, struct l2l4_pkt *k)
{
	struct l2l4_iface ifc = mk_ifc();
	l2l4_parse(f, n, &ifc, L2L4_CK_VERIFY, L2L4_CK_VERIFY, k);
}

static void expect_drop(const uint8_t *f, size_t n, enum fo_drop r)
{
	struct l2l4_pkt k;
	parse(f, n, &k);
	assert_int_equal(k.kind, L2L4_DROP);
	assert_int_equal(k.drop, r);
}

static void snm(const uint8_t *a, uint8_t g[16], uint8_t mac[6])
{
	static const uint8_t P[13] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff };
	memcpy(g, P, 13);
	memcpy(g + 13, a + 13, 3);
	const uint8_t m[6] = { 0x33, 0x33, 0xff, a[13], a[14], a[15] };
	memcpy(mac, m, 6);
}

static void test_link_local(void **state)
{
	(void)state;
	uint8_t ll[16];
	l2l4_ip6_link_local(OUR_MAC, ll);
	assert_memory_equal(ll, OUR_LL, 16);
	l2l4_ip6_link_local(PEER_MAC, ll);
	assert_memory_equal(ll, PEER_LL, 16);
}

static void test_ns(void **state)
{
	(void)state;
	uint8_t f[128], g[16], gmac[6];
	struct l2l4_pkt k;
	/* to our solicited-node group, for our global and our link-local address */
	const uint8_t *targets[2] = { OUR_IP6, OUR_LL };
	for (int i = 0; i < 2; i++) {
		snm(targets[i], g, gmac);
		size_t n = ns_frame(f, gmac, PEER_LL, g, targets[i], true, 255);
		parse(f, n, &k);
		assert_int_equal(k.kind, L2L4_ND_SOLICIT);
		assert_true(k.v6);
		assert_true(k.nd_has_lladdr);
		assert_memory_equal(k.nd_lladdr, PEER_MAC, 6);
		assert_memory_equal(k.nd_target, targets[i], 16);
		assert_memory_equal(k.src_ip6, PEER_LL, 16);
		/* every truncation is refused without reading past the end */
		for (size_t cut = 0; cut < n; cut++) {
			uint8_t *t = malloc(cut ? cut : 1);
			memcpy(t, f, cut);
			parse(t, cut, &k);
			assert_int_equal(k.kind, L2L4_DROP);
			free(t);
		}
	}
	/* unicast, without the option (a reachability probe) */
	size_t n = ns_frame(f, OUR_MAC, PEER_IP6, OUR_IP6, OUR_IP6, false, 255);
	parse(f, n, &k);
	assert_int_equal(k.kind, L2L4_ND_SOLICIT);
	assert_false(k.nd_has_lladdr);
	/* drops */
	snm(OUR_IP6, g, gmac);
	n = ns_frame(f, gmac, PEER_IP6, g, OUR_IP6, true, 254);
	expect_drop(f, n, FO_DROP_ND_BAD_HOP_LIMIT);
	n = ns_frame(f, OUR_MAC, PEER_IP6, OUR_IP6, PEER_IP6, true, 255);
	expect_drop(f, n, FO_DROP_ND_NOT_FOR_US);
	static const uint8_t UNSPEC[16] = { 0 };
	n = ns_frame(f, gmac, UNSPEC, g, OUR_IP6, false, 255);
	expect_drop(f, n, FO_DROP_ND_DAD);
	/* the group of another address: not for us at the Ethernet layer */
	uint8_t g2[16], gmac2[6];
	snm(PEER_IP6, g2, gmac2);
	n = ns_frame(f, gmac2, PEER_LL, g2, PEER_IP6, true, 255);
	expect_drop(f, n, FO_DROP_ETH_NOT_FOR_US);
	/* a zero-length option */
	n = ns_frame(f, gmac, PEER_IP6, g, OUR_IP6, true, 255);
	f[54 + 25] = 0;
	fix_sum(f, 54 + 2, 58, 32);
	expect_drop(f, n, FO_DROP_ND_MALFORMED);
	/* a multicast link-layer address in the option */
	n = ns_frame(f, gmac, PEER_IP6, g, OUR_IP6, true, 255);
	f[54 + 26] = 0x33;
	fix_sum(f, 54 + 2, 58, 32);
	expect_drop(f, n, FO_DROP_ND_MALFORMED);
	/* bad checksum */
	n = ns_frame(f, gmac, PEER_IP6, g, OUR_IP6, true, 255);
	f[54 + 2] ^= 1;
	expect_drop(f, n, FO_DROP_ICMP_BAD_CKSUM);
}

static void test_na(void **state)
{
	(void)state;
	uint8_t f[128];
	struct l2l4_pkt k;
	size_t n = na_frame(f, PEER_IP6, OUR_IP6, PEER_IP6, true, 0x60);
	parse(f, n, &k);
	assert_int_equal(k.kind, L2L4_ND_ADVERT);
	assert_memory_equal(k.nd_target, PEER_IP6, 16);
	assert_memory_equal(k.nd_lladdr, PEER_MAC, 6);
	n = na_frame(f, PEER_IP6, OUR_IP6, PEER_IP6, false, 0x60);
	expect_drop(f, n, FO_DROP_ND_NO_LLADDR);
	/* to all nodes: not ours */
	static const uint8_t ALL[16] = { 0xff, 0x02, [15] = 1 };
	n = na_frame(f, PEER_IP6, ALL, PEER_IP6, true, 0x20);
	expect_drop(f, n, FO_DROP_IP6_NOT_FOR_US);
}

static void test_echo(void **state)
{
	(void)state;
	uint8_t f[256];
	struct l2l4_pkt k;
	size_t n = echo_frame(f, OUR_IP6, 37);
	parse(f, n, &k);
	assert_int_equal(k.kind, L2L4_ICMP6_ECHO);
	assert_int_equal(k.payload_off, 54);
	assert_int_equal(k.payload_len, 45);
	l2l4_icmp6_echo_to_reply(f, &k, PEER_MAC, OUR_MAC);
	assert_memory_equal(f, PEER_MAC, 6);
	assert_memory_equal(f + 6, OUR_MAC, 6);
	assert_memory_equal(f + 22, OUR_IP6, 16);
	assert_memory_equal(f + 38, PEER_IP6, 16);
	assert_int_equal(f[54], 129);
	assert_int_equal(f[21], 64);
	assert_int_equal(ref_sum6(f + 22, f + 38, 58, f + 54, 45), 0xffff);
	/* to the link-local address as well */
	n = echo_frame(f, OUR_LL, 0);
	parse(f, n, &k);
	assert_int_equal(k.kind, L2L4_ICMP6_ECHO);
	/* other ICMPv6 types, and a router solicitation to us */
	n = echo_frame(f, OUR_IP6, 4);
	f[54] = 133;
	fix_sum(f, 56, 58, 12);
	expect_drop(f, n, FO_DROP_ICMP_UNSUPPORTED);
	n = echo_frame(f, OUR_IP6, 4);
	f[60] ^= 0xff;
	expect_drop(f, n, FO_DROP_ICMP_BAD_CKSUM);
}

static void test_udp(void **state)
{
	(void)state;
	uint8_t f[256];
	const uint8_t msg[] = { 0x02, 0x16 }; /* PINGREQ */
	struct l2l4_pkt k;
	size_t n = udp_frame(f, PEER_IP6, PEER_PORT, PORT, msg, sizeof(msg));
	parse(f, n, &k);
	assert_int_equal(k.kind, L2L4_MQTTSN);
	assert_true(k.v6);
	assert_int_equal(k.l3_len, 40);
	assert_int_equal(k.payload_off, 62);
	assert_int_equal(k.payload_len, 2);
	assert_int_equal(k.src_port, PEER_PORT);
	assert_true(k.msg_sum_valid);
	assert_int_equal(k.src_ip, l2l4_ip6_key(PEER_IP6));
	for (size_t cut = 0; cut < n; cut++) {
		uint8_t *t = malloc(cut ? cut : 1);
		memcpy(t, f, cut);
		parse(t, cut, &k);
		assert_int_equal(k.kind, L2L4_DROP);
		free(t);
	}
	/* padding after the datagram is fine */
	uint8_t pad[256];
	memcpy(pad, f, n);
	memset(pad + n, 0, 20);
	parse(pad, n + 20, &k);
	assert_int_equal(k.kind, L2L4_MQTTSN);
	/* the same /64 is the same key, another /64 another one */
	uint8_t other[16];
	memcpy(other, PEER_IP6, 16);
	other[15] = 0x99;
	assert_int_equal(l2l4_ip6_key(other), l2l4_ip6_key(PEER_IP6));
	other[7] ^= 1;
	assert_int_not_equal(l2l4_ip6_key(other), l2l4_ip6_key(PEER_IP6));
	/* drops */
	n = udp_frame(f, PEER_IP6, PEER_PORT, PORT, msg, sizeof(msg));
	put16(f + 60, 0);
	expect_drop(f, n, FO_DROP_UDP6_ZERO_CKSUM);
	n = udp_frame(f, PEER_IP6, PEER_PORT, PORT, msg, sizeof(msg));
	f[62] ^= 1;
	expect_drop(f, n, FO_DROP_UDP_BAD_CKSUM);
	n = udp_frame(f, PEER_IP6, PEER_PORT, PORT + 1, msg, sizeof(msg));
	expect_drop(f, n, FO_DROP_UDP_NO_LISTENER);
	n = udp_frame(f, PEER_IP6, 53, PORT, msg, sizeof(msg));
	expect_drop(f, n, FO_DROP_UDP_SRC_PORT_LOW);
	n = udp_frame(f, PEER_IP6, PEER_PORT, PORT, msg, sizeof(msg));
	put16(f + 58, 9);
	expect_drop(f, n, FO_DROP_UDP_MALFORMED);
	n = udp_frame(f, OUR_IP6, PEER_PORT, PORT, msg, sizeof(msg));
	expect_drop(f, n, FO_DROP_IP_SRC_OURS);
	static const uint8_t LOOP[16] = { [15] = 1 }, MAPPED[16] = { [10] = 0xff, [11] = 0xff, [12] = 10, [15] = 7 },
			     MC[16] = { 0xff, 0x0e, [15] = 1 }, UNSPEC[16] = { 0 };
	n = udp_frame(f, LOOP, PEER_PORT, PORT, msg, sizeof(msg));
	expect_drop(f, n, FO_DROP_IP6_SRC_MARTIAN);
	n = udp_frame(f, MAPPED, PEER_PORT, PORT, msg, sizeof(msg));
	expect_drop(f, n, FO_DROP_IP6_SRC_MARTIAN);
	n = udp_frame(f, UNSPEC, PEER_PORT, PORT, msg, sizeof(msg));
	expect_drop(f, n, FO_DROP_IP6_SRC_MARTIAN);
	n = udp_frame(f, MC, PEER_PORT, PORT, msg, sizeof(msg));
	expect_drop(f, n, FO_DROP_IP6_SRC_MULTICAST);
	/* to another address of ours: not ours */
	n = udp_frame(f, PEER_IP6, PEER_PORT, PORT, msg, sizeof(msg));
	f[14 + 24 + 15] = 2;
	expect_drop(f, n, FO_DROP_IP6_NOT_FOR_US);
	/* payload length beyond the frame, version 4 in an IPv6 ethertype */
	n = udp_frame(f, PEER_IP6, PEER_PORT, PORT, msg, sizeof(msg));
	put16(f + 18, 200);
	expect_drop(f, n, FO_DROP_IP6_BAD_LENGTH);
	n = udp_frame(f, PEER_IP6, PEER_PORT, PORT, msg, sizeof(msg));
	f[14] = 0x40;
	expect_drop(f, n, FO_DROP_IP_BAD_VERSION);
	/* extension headers, a fragment, an unknown next header */
	n = udp_frame(f, PEER_IP6, PEER_PORT, PORT, msg, sizeof(msg));
	f[20] = 0;
	expect_drop(f, n, FO_DROP_IP6_EXT_HEADER);
	f[20] = 60;
	expect_drop(f, n, FO_DROP_IP6_EXT_HEADER);
	f[20] = 44;
	expect_drop(f, n, FO_DROP_IP6_FRAGMENT);
	f[20] = 6;
	expect_drop(f, n, FO_DROP_IP_PROTO_UNSUPPORTED);
	expect_drop(f, 14 + 39, FO_DROP_IP6_RUNT);
	/* a port without IPv6 takes none of it */
	struct l2l4_iface v4only = mk_ifc();
	v4only.has_ip6 = false;
	n = udp_frame(f, PEER_IP6, PEER_PORT, PORT, msg, sizeof(msg));
	l2l4_parse(f, n, &v4only, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(k.kind, L2L4_DROP);
	assert_int_equal(k.drop, FO_DROP_ETH_UNKNOWN_TYPE);
}

/* Gateway discovery's IPv6 group (discovery.destination6): UDP to group6:group6_port (the MQTT-SN
 * port when 0) in a frame to 33:33 + the group's low 32 bits is taken like a broadcast SEARCHGW;
 * other groups, ports and MACs, and anything but UDP to the group, are not. */
static void test_udp_group6(void **state)
{
	(void)state;
	static const uint8_t GROUP[16] = { 0xff, 0x02, [14] = 0x4d, [15] = 0x51 };
	static const uint8_t GROUP_MAC[6] = { 0x33, 0x33, 0x00, 0x00, 0x4d, 0x51 };
	static const uint8_t OTHER[16] = { 0xff, 0x02, [14] = 0x4d, [15] = 0x52 };
	static const uint8_t OTHER_MAC[6] = { 0x33, 0x33, 0x00, 0x00, 0x4d, 0x52 };
	static const uint8_t WIDER[16] = { 0xff, 0x05, [14] = 0x4d, [15] = 0x51 }; /* the same MAC */
	const uint8_t msg[] = { 0x03, 0x01, 0x01 };                                /* SEARCHGW, radius 1 */
	struct l2l4_iface g = mk_ifc();
	g.has_group6 = true;
	memcpy(g.group6, GROUP, 16);
	g.group6_port = 10000;
	uint8_t f[256];
	struct l2l4_pkt k;
	/* from the peer's global or link-local address */
	const uint8_t *srcs[2] = { PEER_IP6, PEER_LL };
	for (int i = 0; i < 2; i++) {
		size_t n = udp_frame_to(f, GROUP_MAC, srcs[i], GROUP, PEER_PORT, 10000, msg, sizeof(msg));
		l2l4_parse(f, n, &g, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
		assert_int_equal(k.kind, L2L4_MQTTSN);
		assert_true(k.v6);
		assert_memory_equal(k.dst_ip6, GROUP, 16);
		assert_memory_equal(k.src_ip6, srcs[i], 16);
		assert_int_equal(k.dst_port, 10000);
		assert_int_equal(k.payload_off, 62);
		assert_int_equal(k.payload_len, 3);
		assert_true(k.msg_sum_valid);
		for (size_t cut = 0; cut < n; cut++) { /* every truncation dropped (ASan watches the reads) */
			uint8_t *t = malloc(cut ? cut : 1);
			memcpy(t, f, cut);
			l2l4_parse(t, cut, &g, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
			assert_int_equal(k.kind, L2L4_DROP);
			free(t);
		}
	}
	size_t n = udp_frame_to(f, GROUP_MAC, PEER_IP6, GROUP, PEER_PORT, 10000, msg, sizeof(msg));
	expect_drop(f, n, FO_DROP_ETH_NOT_FOR_US); /* no group configured */
	struct l2l4_iface v4only = g;
	v4only.has_ip6 = false; /* a group on a port without IPv6 takes nothing */
	l2l4_parse(f, n, &v4only, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(k.drop, FO_DROP_ETH_NOT_FOR_US);
	/* the group's port, not the unicast one; group6_port 0: the unicast one */
	n = udp_frame_to(f, GROUP_MAC, PEER_IP6, GROUP, PEER_PORT, PORT, msg, sizeof(msg));
	l2l4_parse(f, n, &g, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(k.kind, L2L4_DROP);
	assert_int_equal(k.drop, FO_DROP_UDP_NO_LISTENER);
	g.group6_port = 0;
	l2l4_parse(f, n, &g, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(k.kind, L2L4_MQTTSN);
	n = udp_frame_to(f, GROUP_MAC, PEER_IP6, GROUP, PEER_PORT, 10000, msg, sizeof(msg));
	l2l4_parse(f, n, &g, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(k.drop, FO_DROP_UDP_NO_LISTENER);
	/* another group: its MAC is not taken; one with our group's MAC is not our group */
	n = udp_frame_to(f, OTHER_MAC, PEER_IP6, OTHER, PEER_PORT, PORT, msg, sizeof(msg));
	l2l4_parse(f, n, &g, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(k.drop, FO_DROP_ETH_NOT_FOR_US);
	n = udp_frame_to(f, GROUP_MAC, PEER_IP6, WIDER, PEER_PORT, PORT, msg, sizeof(msg));
	l2l4_parse(f, n, &g, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(k.drop, FO_DROP_IP6_NOT_FOR_US);
	/* the group's source rules are the unicast ones; a bad checksum is one too */
	static const uint8_t MC[16] = { 0xff, 0x0e, [15] = 1 };
	n = udp_frame_to(f, GROUP_MAC, MC, GROUP, PEER_PORT, PORT, msg, sizeof(msg));
	l2l4_parse(f, n, &g, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(k.drop, FO_DROP_IP6_SRC_MULTICAST);
	n = udp_frame_to(f, GROUP_MAC, PEER_IP6, GROUP, PEER_PORT, PORT, msg, sizeof(msg));
	f[62] ^= 1;
	l2l4_parse(f, n, &g, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(k.drop, FO_DROP_UDP_BAD_CKSUM);
	/* an echo request or a fragment to the group is not answered or reassembled */
	n = udp_frame_to(f, GROUP_MAC, PEER_IP6, GROUP, PEER_PORT, PORT, msg, sizeof(msg));
	f[20] = 44;
	l2l4_parse(f, n, &g, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(k.drop, FO_DROP_IP6_FRAGMENT);
	n = echo_frame(f, GROUP, 4);
	memcpy(f, GROUP_MAC, 6);
	l2l4_parse(f, n, &g, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(k.drop, FO_DROP_ICMP_UNSUPPORTED);
	/* unicast as before */
	n = udp_frame(f, PEER_IP6, PEER_PORT, PORT, msg, sizeof(msg));
	l2l4_parse(f, n, &g, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(k.kind, L2L4_MQTTSN);
	assert_memory_equal(k.dst_ip6, OUR_IP6, 16);
}

/* A fragment of a UDP datagram to us: IPv6 header, fragment header (next header nh, offset ofs bytes, M),
 * then the n bytes at src (the datagram's from ofs on). */
static size_t frag6(uint8_t *f, uint8_t nh, size_t ofs, bool more, uint32_t id, const uint8_t *src, size_t n)
{
	size_t o = eth_ip6(f, OUR_MAC, PEER_IP6, OUR_IP6, 44, 64, 8 + n);
	uint8_t *fh = f + o;
	fh[0] = nh;
	fh[1] = 0;
	put16(fh + 2, (uint16_t)(ofs | (more ? 1 : 0)));
	fh[4] = (uint8_t)(id >> 24);
	fh[5] = (uint8_t)(id >> 16);
	fh[6] = (uint8_t)(id >> 8);
	fh[7] = (uint8_t)id;
	memcpy(fh + 8, src, n);
	return o + 8 + n;
}

static void test_fragments6(void **state)
{
	(void)state;
	uint8_t dgram[2000], f[1600];
	put16(dgram, PEER_PORT);
	put16(dgram + 2, PORT);
	put16(dgram + 4, sizeof(dgram));
	for (size_t i = 8; i < sizeof(dgram); i++)
		dgram[i] = (uint8_t)i;
	struct l2l4_iface ifc = mk_ifc();
	ifc.reassemble = true;
	struct l2l4_pkt k;
	size_t n = frag6(f, 17, 0, true, 0xabcdef01u, dgram, 1232);
	l2l4_parse(f, n, &ifc, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(k.kind, L2L4_IPV6_FRAGMENT);
	assert_true(k.v6 && k.frag && k.frag_more);
	assert_int_equal(k.l3_len, 48);
	assert_int_equal(k.frag_off, 0);
	assert_int_equal(k.frag_len, 1232);
	assert_int_equal(k.frag_id, 0xabcdef01u);
	assert_int_equal(k.src_port, PEER_PORT);
	n = frag6(f, 17, 1232, false, 0xabcdef01u, dgram + 1232, sizeof(dgram) - 1232);
	l2l4_parse(f, n, &ifc, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(k.kind, L2L4_IPV6_FRAGMENT);
	assert_false(k.frag_more);
	assert_int_equal(k.frag_off, 1232);
	for (size_t cut = 0; cut < n; cut++) {
		l2l4_parse(f, cut, &ifc, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
		assert_true(k.kind == L2L4_DROP || k.kind == L2L4_IPV6_FRAGMENT);
	}
	/* not reassembled: reassembly off, not UDP, an atomic fragment */
	struct l2l4_iface off = mk_ifc();
	n = frag6(f, 17, 0, true, 1, dgram, 1232);
	l2l4_parse(f, n, &off, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(k.kind, L2L4_DROP);
	assert_int_equal(k.drop, FO_DROP_IP6_FRAGMENT);
	n = frag6(f, 6, 0, true, 1, dgram, 1232);
	l2l4_parse(f, n, &ifc, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(k.drop, FO_DROP_IP6_FRAGMENT);
	n = frag6(f, 17, 0, false, 1, dgram, 100);
	l2l4_parse(f, n, &ifc, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(k.drop, FO_DROP_IP6_FRAGMENT);
	/* a ragged middle fragment, one past 65535, the message limit, the UDP port */
	n = frag6(f, 17, 0, true, 1, dgram, 1230);
	l2l4_parse(f, n, &ifc, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(k.drop, FO_DROP_IP6_BAD_LENGTH);
	n = frag6(f, 17, 65528, false, 1, dgram + 8, 16);
	l2l4_parse(f, n, &ifc, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(k.drop, FO_DROP_IP6_BAD_LENGTH);
	ifc.max_msg_len = 1000;
	n = frag6(f, 17, 0, true, 7, dgram, 1232);
	l2l4_parse(f, n, &ifc, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(k.drop, FO_DROP_MESSAGE_TOO_BIG);
	assert_true(k.frag && k.frag_id == 7); /* the rx stage refuses the others */
	ifc.max_msg_len = 0;
	put16(dgram + 2, PORT + 1);
	n = frag6(f, 17, 0, true, 1, dgram, 1232);
	l2l4_parse(f, n, &ifc, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(k.drop, FO_DROP_UDP_NO_LISTENER);
	/* a fragment header cut short */
	n = eth_ip6(f, OUR_MAC, PEER_IP6, OUR_IP6, 44, 64, 4);
	l2l4_parse(f, n + 4, &ifc, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(k.drop, FO_DROP_IP6_BAD_LENGTH);
}

static void test_builders(void **state)
{
	(void)state;
	struct l2l4_iface ifc = mk_ifc();
	uint8_t f[128];
	struct l2l4_pkt k;
	/* our NA, read back by the parser as a peer would see it, and its sum checked independently */
	size_t n = l2l4_build_na(f, &ifc, PEER_MAC, PEER_IP6, OUR_IP6);
	assert_int_equal(n, 86);
	assert_memory_equal(f, PEER_MAC, 6);
	assert_int_equal(get16(f + 12), 0x86dd);
	assert_int_equal(f[21], 255);
	assert_memory_equal(f + 22, OUR_IP6, 16);
	assert_memory_equal(f + 38, PEER_IP6, 16);
	assert_int_equal(f[54], 136);
	assert_int_equal(f[58], 0x60);
	assert_memory_equal(f + 62, OUR_IP6, 16);
	assert_int_equal(f[78], 2);
	assert_memory_equal(f + 80, OUR_MAC, 6);
	assert_int_equal(ref_sum6(f + 22, f + 38, 58, f + 54, 32), 0xffff);
	/* our NS for a peer: to its solicited-node group */
	n = l2l4_build_ns(f, &ifc, OUR_IP6, PEER_IP6);
	assert_int_equal(n, 86);
	uint8_t g[16], gmac[6];
	snm(PEER_IP6, g, gmac);
	assert_memory_equal(f, gmac, 6);
	assert_memory_equal(f + 38, g, 16);
	assert_int_equal(f[54], 135);
	assert_memory_equal(f + 62, PEER_IP6, 16);
	assert_int_equal(f[78], 1);
	assert_int_equal(ref_sum6(f + 22, f + 38, 58, f + 54, 32), 0xffff);
	/* tagged */
	ifc.vlan = 7;
	assert_int_equal(l2l4_build_ns(f, &ifc, OUR_IP6, PEER_IP6), 90);
	/* an NS as the peer would send it to us, from our builder's view: parse the peer's side */
	ifc = mk_ifc();
	n = ns_frame(f, OUR_MAC, PEER_IP6, OUR_IP6, OUR_IP6, true, 255);
	parse(f, n, &k);
	assert_int_equal(k.kind, L2L4_ND_SOLICIT);
	/* UDP/IPv6: inline and split payloads, checksums right, the parser takes it back */
	uint8_t b[512], payload[300];
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 1);
	for (size_t in_len = 0; in_len < 40; in_len += 3) {
		struct l2l4_udp_spec s = {
			.vlan = 0, .src_port = PORT, .dst_port = PEER_PORT, .src_ip6 = OUR_IP6, .dst_ip6 = PEER_IP6
		};
		memcpy(s.src_mac, OUR_MAC, 6);
		memcpy(s.dst_mac, PEER_MAC, 6);
		size_t hl = l2l4_spec_hdr_len(&s);
		assert_int_equal(hl, 62);
		size_t plen = 100;
		memcpy(b + hl, payload, plen); /* the whole datagram laid out flat */
		uint32_t ext_sum = l2l4_csum_add(0, payload + in_len, plen - in_len);
		assert_int_equal(l2l4_write_udp(b, &s, in_len, plen - in_len, ext_sum), hl);
		assert_int_equal(get16(b + 12), 0x86dd);
		assert_int_equal(get16(b + 18), 8 + plen);
		assert_int_equal(b[20], 17);
		assert_int_equal(get16(b + 58), 8 + plen);
		assert_int_not_equal(get16(b + 60), 0);
		assert_int_equal(ref_sum6(b + 22, b + 38, 17, b + 54, 8 + plen), 0xffff);
	}
}

static void test_on_link(void **state)
{
	(void)state;
	struct l2l4_iface ifc = mk_ifc();
	assert_true(l2l4_ip6_on_link(&ifc, PEER_IP6));
	assert_true(l2l4_ip6_on_link(&ifc, PEER_LL));
	assert_false(l2l4_ip6_on_link(&ifc, OUR_IP6));
	assert_false(l2l4_ip6_on_link(&ifc, OUR_LL));
	assert_false(l2l4_ip6_on_link(&ifc, FAR_IP6));
	uint8_t anycast[16];
	memcpy(anycast, OUR_IP6, 16);
	anycast[15] = 0;
	assert_false(l2l4_ip6_on_link(&ifc, anycast));
	uint8_t nh[16];
	assert_true(l2l4_next_hop6(&ifc, PEER_IP6, PEER_LL, false, nh));
	assert_memory_equal(nh, PEER_IP6, 16);
	assert_false(l2l4_next_hop6(&ifc, FAR_IP6, PEER_LL, false, nh));
	assert_true(l2l4_next_hop6(&ifc, FAR_IP6, PEER_LL, true, nh));
	assert_memory_equal(nh, PEER_LL, 16);
	/* an odd prefix length */
	ifc.ip6_prefix = 61;
	uint8_t near[16];
	memcpy(near, OUR_IP6, 16);
	near[7] ^= 0x07; /* differs only in the 3 host bits of byte 7 */
	assert_true(l2l4_ip6_on_link(&ifc, near));
	near[7] ^= 0x08;
	assert_false(l2l4_ip6_on_link(&ifc, near));
}

static struct fo_neigh_table *mk6(uint32_t cap)
{
	struct fo_neigh_conf c = {
		.capacity = cap, .seed = { 1, 2 }, .max_age_ms = 1000, .pending_ms = 300, .ipv6 = true
	};
	struct fo_neigh_table *t = fo_neigh_create(&c);
	assert_non_null(t);
	return t;
}

static void test_neigh6(void **state)
{
	(void)state;
	struct fo_neigh_table *t = mk6(64);
	struct fo_counters c;
	memset(&c, 0, sizeof(c));
	uint8_t mac[6];
	bool stale, ask;
	/* an advertisement nobody asked for is refused */
	assert_false(fo_neigh6_nd_input(t, &c, false, PEER_IP6, PEER_MAC, true, 1));
	assert_int_equal(c.drop[FO_DROP_ND_UNSOLICITED], 1);
	assert_false(fo_neigh6_resolve(t, PEER_IP6, 1, mac, &stale));
	/* off-link senders are refused */
	assert_false(fo_neigh6_nd_input(t, &c, true, FAR_IP6, PEER_MAC, false, 1));
	assert_int_equal(c.drop[FO_DROP_ND_OFF_LINK], 1);
	/* a solicitation creates; the resolution follows */
	assert_true(fo_neigh6_nd_input(t, &c, true, PEER_LL, PEER_MAC, true, 1));
	assert_int_equal(c.ev[FO_EV_ND_LEARNT], 1);
	assert_true(fo_neigh6_resolve(t, PEER_LL, 1, mac, &stale));
	assert_memory_equal(mac, PEER_MAC, 6);
	/* asked for: a pending entry, then the advertisement resolves it */
	assert_false(fo_neigh6_next_hop(t, &c, PEER_IP6, true, 10, 200, mac, &ask));
	assert_true(ask);
	assert_false(fo_neigh6_next_hop(t, &c, PEER_IP6, true, 20, 200, mac, &ask));
	assert_false(ask); /* once per interval */
	assert_true(fo_neigh6_nd_input(t, &c, false, PEER_IP6, PEER_MAC, true, 30));
	assert_true(fo_neigh6_next_hop(t, &c, PEER_IP6, true, 40, 200, mac, &ask));
	assert_memory_equal(mac, PEER_MAC, 6);
	/* an off-link next hop is never asked for */
	assert_false(fo_neigh6_next_hop(t, &c, FAR_IP6, false, 50, 200, mac, &ask));
	assert_false(ask);
	/* many addresses of one /64 each get their own entry */
	uint8_t a[16];
	memcpy(a, PEER_IP6, 16);
	for (int i = 0; i < 20; i++) {
		a[15] = (uint8_t)(0x40 + i);
		uint8_t m[6] = { 0x02, 0, 0, 0, 0, (uint8_t)i };
		assert_int_equal(fo_neigh6_learn(t, a, m, 60, true), FO_NEIGH_CREATED);
	}
	for (int i = 0; i < 20; i++) {
		a[15] = (uint8_t)(0x40 + i);
		assert_true(fo_neigh6_resolve(t, a, 60, mac, &stale));
		assert_int_equal(mac[5], i);
	}
	/* aging frees them */
	uint32_t r, p;
	assert_true(fo_neigh_age(t, 5000, fo_neigh_capacity(t), &r, &p) >= 20);
	assert_false(fo_neigh6_resolve(t, PEER_IP6, 5000, mac, &stale));
	fo_neigh_destroy(t);
}

static void test_rx_decide(void **state)
{
	(void)state;
	struct fo_neigh_table *t = mk6(64);
	struct l2l4_iface ifc = mk_ifc();
	struct fo_counters c;
	memset(&c, 0, sizeof(c));
	uint8_t f[128], g[16], gmac[6];
	struct l2l4_pkt k;
	uint32_t w;
	snm(OUR_IP6, g, gmac);
	size_t n = ns_frame(f, gmac, PEER_IP6, g, OUR_IP6, true, 255);
	l2l4_parse(f, n, &ifc, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(fo_rx_decide(&k, &ifc, NULL, t, &c, 1, 1, &w), FO_RX_ANSWER_NS);
	uint8_t mac[6];
	bool stale;
	assert_true(fo_neigh6_resolve(t, PEER_IP6, 1, mac, &stale));
	n = na_frame(f, PEER_LL, OUR_IP6, PEER_LL, true, 0x60);
	l2l4_parse(f, n, &ifc, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(fo_rx_decide(&k, &ifc, NULL, t, &c, 1, 1, &w), FO_RX_DONE);
	assert_int_equal(c.drop[FO_DROP_ND_UNSOLICITED], 1);
	n = echo_frame(f, OUR_IP6, 8);
	l2l4_parse(f, n, &ifc, L2L4_CK_VERIFY, L2L4_CK_VERIFY, &k);
	assert_int_equal(fo_rx_decide(&k, &ifc, NULL, t, &c, 1, 1, &w), FO_RX_ECHO6);
	assert_int_equal(c.answered, 1);
	fo_neigh_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link_local), cmocka_unit_test(test_ns),        cmocka_unit_test(test_na),
		cmocka_unit_test(test_echo),       cmocka_unit_test(test_udp),       cmocka_unit_test(test_udp_group6),
		cmocka_unit_test(test_fragments6), cmocka_unit_test(test_builders),  cmocka_unit_test(test_on_link),
		cmocka_unit_test(test_neigh6),     cmocka_unit_test(test_rx_decide),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
