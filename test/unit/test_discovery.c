/* Unit tests for dataplane/route/discovery.c: which ports an ADVERTISE leaves by, the MAC of a
 * broadcast or multicast destination (an IPv6 group's too), the ADVERTISE bytes, a frame's TTL or
 * hop limit and checksums (IPv4 and IPv6), the advertiser's schedule with its retries, and the
 * GWINFO broadcast budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "discovery.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static const struct fo_disc_port two[] = {
	{ .ip = IP(198, 18, 0, 1), .netmask = 0xffffff00u, .gateway = 0 },
	{ .ip = IP(10, 1, 0, 1), .netmask = 0xffff0000u, .gateway = IP(10, 1, 0, 254) },
};

static void test_ports(void **state)
{
	(void)state;
	for (uint32_t i = 0; i < 2; i++) {
		assert_true(fo_disc_port_sends(FO_DISC_LIMITED_BCAST, two, 2, i)); /* every port */
		assert_true(fo_disc_port_sends(IP(239, 1, 2, 3), two, 2, i));
	}
	assert_false(fo_disc_port_sends(FO_DISC_LIMITED_BCAST, two, 2, 2)); /* no such port */
	/* a subnet broadcast or a host: the port on that subnet alone */
	assert_true(fo_disc_port_sends(IP(198, 18, 0, 255), two, 2, 0));
	assert_false(fo_disc_port_sends(IP(198, 18, 0, 255), two, 2, 1));
	assert_true(fo_disc_port_sends(IP(10, 1, 255, 255), two, 2, 1));
	assert_false(fo_disc_port_sends(IP(10, 1, 9, 9), two, 2, 0));
	/* off link: the first port with a gateway */
	assert_false(fo_disc_port_sends(IP(203, 0, 113, 5), two, 2, 0));
	assert_true(fo_disc_port_sends(IP(203, 0, 113, 5), two, 2, 1));
	/* nowhere to go: no port */
	assert_false(fo_disc_port_sends(IP(203, 0, 113, 5), two, 1, 0));
}

static void test_group_mac(void **state)
{
	(void)state;
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t mac[6];
	assert_true(fo_disc_group_mac(FO_DISC_LIMITED_BCAST, IP(198, 18, 0, 1), 0xffffff00u, mac));
	assert_memory_equal(mac, bcast, 6);
	assert_true(fo_disc_group_mac(IP(198, 18, 0, 255), IP(198, 18, 0, 1), 0xffffff00u, mac));
	assert_memory_equal(mac, bcast, 6);
	/* RFC 1112: 01:00:5e and the low 23 bits of the group */
	assert_true(fo_disc_group_mac(IP(239, 129, 2, 3), IP(198, 18, 0, 1), 0xffffff00u, mac));
	static const uint8_t mc[6] = { 0x01, 0x00, 0x5e, 0x01, 0x02, 0x03 };
	assert_memory_equal(mac, mc, 6);
	/* a host (another subnet's broadcast is one too): the neighbour table's */
	assert_false(fo_disc_group_mac(IP(198, 18, 0, 7), IP(198, 18, 0, 1), 0xffffff00u, mac));
	assert_false(fo_disc_group_mac(IP(198, 18, 1, 255), IP(198, 18, 0, 1), 0xffffff00u, mac));
	/* /31 and /32 have no subnet broadcast */
	assert_false(fo_disc_is_broadcast(IP(198, 18, 0, 1), IP(198, 18, 0, 0), 0xfffffffeu));
	assert_false(fo_disc_is_broadcast(IP(198, 18, 0, 1), IP(198, 18, 0, 1), 0xffffffffu));
	assert_true(fo_disc_is_broadcast(FO_DISC_LIMITED_BCAST, IP(198, 18, 0, 1), 0xffffffffu));
	assert_true(fo_disc_is_broadcast(IP(198, 18, 0, 3), IP(198, 18, 0, 1), 0xfffffffcu));
}

static void test_advertise_msg(void **state)
{
	(void)state;
	uint8_t b[8];
	assert_int_equal(fo_disc_advertise_msg(b, sizeof(b), 9, 900), 5);
	static const uint8_t want[5] = { 0x05, 0x00, 0x09, 0x03, 0x84 }; /* 5.4.1: Length, type, GwId, Duration */
	assert_memory_equal(b, want, 5);
	assert_int_equal(fo_disc_advertise_msg(b, 4, 9, 900), -1);
	assert_int_equal(fo_disc_radius_ttl(0), 255); /* 5.3.9: 0 = the whole network */
	assert_int_equal(fo_disc_radius_ttl(1), 1);
	assert_int_equal(fo_disc_radius_ttl(7), 7);
}

static uint16_t fold(uint32_t s)
{
	return l2l4_csum_fold(s);
}

static void test_frame(void **state)
{
	(void)state;
	for (int vlan = 0; vlan < 2; vlan++) {
		struct l2l4_udp_spec s = { .src_mac = { 2, 0, 0, 0, 0, 1 },
					   .dst_mac = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
					   .vlan = vlan ? 7 : 0,
					   .src_ip = IP(198, 18, 0, 1),
					   .dst_ip = IP(198, 18, 0, 255),
					   .src_port = 1883,
					   .dst_port = 40000 };
		const uint8_t msg[3] = { 0x03, 0x02, 0x01 };
		uint8_t f[128];
		size_t hl = l2l4_udp_hdr_len(s.vlan);
		assert_int_equal(fo_disc_frame(f, hl + 2, &s, 5, msg, 3), 0); /* no room */
		size_t n = fo_disc_frame(f, sizeof(f), &s, 5, msg, 3);
		assert_int_equal(n, hl + 3);
		const uint8_t *ip = f + hl - 28;
		assert_int_equal(ip[8], 5);                               /* TTL */
		assert_int_equal(fold(l2l4_csum_add(0, ip, 20)), 0xffff); /* IPv4 header checksum */
		assert_memory_equal(f, s.dst_mac, 6);
		assert_memory_equal(f + hl, msg, 3);
		/* UDP checksum over the pseudo header and the datagram */
		const uint8_t *u = ip + 20;
		uint32_t ps = (s.src_ip >> 16) + (s.src_ip & 0xffff) + (s.dst_ip >> 16) + (s.dst_ip & 0xffff) + 17 + 11;
		assert_int_equal(fold(l2l4_csum_add(ps, u, 11)), 0xffff);
	}
}

/* An IPv6 frame (ADVERTISE or GWINFO to the discovery group): 33:33 and the group's low 32 bits,
 * hop limit as given, the UDP checksum over the IPv6 pseudo-header. */
static void test_frame6(void **state)
{
	(void)state;
	static const uint8_t grp[16] = { 0xff, 0x05, [14] = 0x4d, [15] = 0x51 };
	static const uint8_t src[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	uint8_t mac[6];
	fo_disc_group6_mac(grp, mac);
	static const uint8_t want_mac[6] = { 0x33, 0x33, 0x00, 0x00, 0x4d, 0x51 };
	assert_memory_equal(mac, want_mac, 6);
	static const uint8_t grp2[16] = { 0xff, 0x02, [12] = 0xde, 0xad, 0xbe, 0xef };
	fo_disc_group6_mac(grp2, mac);
	static const uint8_t want_mac2[6] = { 0x33, 0x33, 0xde, 0xad, 0xbe, 0xef };
	assert_memory_equal(mac, want_mac2, 6);
	for (int vlan = 0; vlan < 2; vlan++) {
		struct l2l4_udp_spec s = { .src_mac = { 2, 0, 0, 0, 0, 1 },
					   .vlan = vlan ? 7 : 0,
					   .src_port = 1883,
					   .dst_port = 10000,
					   .src_ip6 = src,
					   .dst_ip6 = grp };
		fo_disc_group6_mac(grp, s.dst_mac);
		const uint8_t msg[5] = { 0x05, 0x00, 0x01, 0x00, 0x3c };
		uint8_t f[128];
		size_t hl = l2l4_spec_hdr_len(&s);
		assert_int_equal(hl, (vlan ? 18u : 14u) + 48u);
		assert_int_equal(fo_disc_frame(f, hl + 4, &s, 9, msg, 5), 0); /* no room */
		size_t n = fo_disc_frame(f, sizeof(f), &s, 9, msg, 5);
		assert_int_equal(n, hl + 5);
		assert_memory_equal(f, want_mac, 6);
		assert_int_equal(f[vlan ? 16 : 12], 0x86);
		assert_int_equal(f[vlan ? 17 : 13], 0xdd);
		const uint8_t *ip = f + hl - 48;
		assert_int_equal(ip[0] >> 4, 6);
		assert_int_equal(ip[4] << 8 | ip[5], 13); /* payload length: UDP header and message */
		assert_int_equal(ip[6], 17);
		assert_int_equal(ip[7], 9); /* hop limit */
		assert_memory_equal(ip + 8, src, 16);
		assert_memory_equal(ip + 24, grp, 16);
		assert_memory_equal(f + hl, msg, 5);
		const uint8_t *u = ip + 40;
		assert_int_equal(u[2] << 8 | u[3], 10000);
		uint32_t ps = l2l4_csum_add(l2l4_csum_add(0, src, 16), grp, 16) + 17 + 13;
		assert_int_not_equal(u[6] << 8 | u[7], 0);
		assert_int_equal(fold(l2l4_csum_add(ps, u, 13)), 0xffff);
	}
}

static void test_schedule(void **state)
{
	(void)state;
	struct fo_disc_timer t = { 0 };
	assert_true(fo_disc_due(&t, 0)); /* the first at once */
	fo_disc_sent(&t, 100, 60);
	assert_false(fo_disc_due(&t, 60099));
	assert_true(fo_disc_due(&t, 60100));
	/* unresolved: asked again every 200 ms, three tries, then lost and the next a period on */
	assert_false(fo_disc_unresolved(&t, 60100, 60, 200, 3));
	assert_int_equal(t.next_ms, 60300);
	assert_false(fo_disc_unresolved(&t, 60300, 60, 200, 3));
	assert_true(fo_disc_unresolved(&t, 60500, 60, 200, 3));
	assert_int_equal(t.next_ms, 120500);
	assert_int_equal(t.tries, 0);
	/* resolved on a retry: the tries start over */
	assert_false(fo_disc_unresolved(&t, 120500, 60, 200, 3));
	fo_disc_sent(&t, 120700, 60);
	assert_int_equal(t.tries, 0);
	assert_int_equal(t.next_ms, 180700);
}

static void test_budget(void **state)
{
	(void)state;
	struct fo_disc_budget b = { 0 };
	/* a full burst of per_s, then nothing until time refills it */
	for (int i = 0; i < 3; i++)
		assert_true(fo_disc_budget_take(&b, 1000, 3));
	assert_false(fo_disc_budget_take(&b, 1000, 3));
	assert_false(fo_disc_budget_take(&b, 1300, 3)); /* 0.9 of one */
	assert_true(fo_disc_budget_take(&b, 1334, 3));  /* 1.002 */
	assert_false(fo_disc_budget_take(&b, 1334, 3));
	/* never more than the burst, however long it rested */
	int n = 0;
	while (fo_disc_budget_take(&b, 1000000, 3))
		n++;
	assert_int_equal(n, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ports),  cmocka_unit_test(test_group_mac), cmocka_unit_test(test_advertise_msg),
		cmocka_unit_test(test_frame),  cmocka_unit_test(test_frame6),    cmocka_unit_test(test_schedule),
		cmocka_unit_test(test_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
