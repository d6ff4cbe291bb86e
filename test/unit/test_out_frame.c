/* Unit tests for dataplane/net/out_frame.h: the next-hop cache (hits only under the stored table
 * version, port and a non-zero address), the addressing from an interface, the inline-or-chained
 * payload choice at its limits, the small compare and copy helpers at every length against libc,
 * and reply and PUBLISH-copy frames byte for byte against the same datagram written whole by
 * l2l4_write_udp (the header sum cache through header changes, and a header too long to keep). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "out_frame.h"

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static const uint8_t MAC_A[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
static const uint8_t MAC_B[6] = { 0x02, 0x66, 0x77, 0x88, 0x99, 0xaa };

static const struct l2l4_iface IFC = {
	.mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 },
	.ip = IP4(10, 0, 0, 1),
	.netmask = IP4(255, 255, 255, 0),
	.vlan = 0,
	.mqttsn_port = 1883,
};

static void test_nh_cache(void **state)
{
	(void)state;
	static struct fo_nh_cache c; /* zeroed: empty */
	uint8_t mac[6] = { 0 };
	uint32_t ip = IP4(10, 0, 0, 7);
	assert_false(fo_nh_get(&c, ip, 0, 1, mac));
	fo_nh_put(&c, ip, 0, 1, MAC_A);
	assert_true(fo_nh_get(&c, ip, 0, 1, mac));
	assert_memory_equal(mac, MAC_A, 6);
	assert_false(fo_nh_get(&c, ip, 0, 2, mac)); /* the table changed */
	assert_false(fo_nh_get(&c, ip, 1, 1, mac)); /* another port */
	assert_false(fo_nh_get(&c, ip + 1, 0, 1, mac));
	fo_nh_put(&c, ip, 0, 2, MAC_B); /* resolved again under the new version */
	assert_true(fo_nh_get(&c, ip, 0, 2, mac));
	assert_memory_equal(mac, MAC_B, 6);
	assert_false(fo_nh_get(&c, ip, 0, 1, mac));
	/* address 0 never hits, not even on a zeroed slot or after a store */
	assert_false(fo_nh_get(&c, 0, 0, 0, mac));
	fo_nh_put(&c, 0, 0, 3, MAC_A);
	assert_false(fo_nh_get(&c, 0, 0, 3, mac));
	/* two addresses sharing a slot evict each other, never answer for each other */
	uint32_t other = 0;
	for (uint32_t i = 1; i < 100000 && !other; i++)
		if (ip + i != 0 && fo_nh_slot(ip + i, 0) == fo_nh_slot(ip, 0))
			other = ip + i;
	assert_int_not_equal(other, 0);
	fo_nh_put(&c, other, 0, 2, MAC_A);
	assert_false(fo_nh_get(&c, ip, 0, 2, mac));
	assert_true(fo_nh_get(&c, other, 0, 2, mac));
	assert_memory_equal(mac, MAC_A, 6);
}

static void test_spec(void **state)
{
	(void)state;
	struct l2l4_iface ifc = IFC;
	ifc.vlan = 42;
	struct l2l4_udp_spec s;
	memset(&s, 0xee, sizeof(s));
	memcpy(s.dst_mac, MAC_B, 6);
	fo_frame_spec(&s, &ifc, IP4(10, 0, 0, 9), 40000);
	assert_memory_equal(s.src_mac, ifc.mac, 6);
	assert_memory_equal(s.dst_mac, MAC_B, 6); /* the caller's */
	assert_int_equal(s.vlan, 42);
	assert_int_equal(s.src_ip, ifc.ip);
	assert_int_equal(s.dst_ip, IP4(10, 0, 0, 9));
	assert_int_equal(s.src_port, 1883);
	assert_int_equal(s.dst_port, 40000);
}

static void test_payload_inline(void **state)
{
	(void)state;
	const bool multi = true, single = false;
	size_t room = 256;
	assert_false(fo_frame_payload_inline(0, true, &multi, 7, room)); /* nothing to copy */
	assert_true(fo_frame_payload_inline(1, true, &multi, 7, room));
	assert_true(fo_frame_payload_inline(FO_INLINE_PAYLOAD_MAX, true, &multi, 7, room));
	assert_false(fo_frame_payload_inline(FO_INLINE_PAYLOAD_MAX + 1, true, &multi, 7, room)); /* chained */
	assert_true(fo_frame_payload_inline(FO_INLINE_PAYLOAD_MAX + 1, true, &single, 7, room)); /* fits */
	assert_false(fo_frame_payload_inline(64, false, &multi, 7, room)); /* a chain is never copied */
	assert_false(fo_frame_payload_inline(64, true, NULL, 7, room));    /* no such port */
	/* the header frame's room, counted with a VLAN tag whatever the port */
	uint32_t fit = (uint32_t)(room - L2L4_UDP_HLEN_MAX - 9);
	assert_true(fo_frame_payload_inline(fit, true, &single, 9, room));
	assert_false(fo_frame_payload_inline(fit + 1, true, &single, 9, room));
	assert_false(fo_frame_payload_inline(100, true, &multi, 9, 100));
}

static void test_bytes16(void **state)
{
	(void)state;
	uint8_t a[40], b[40], d[40], want[40];
	for (size_t n = 0; n <= 17; n++) {
		for (size_t off = 0; off < 8; off++) {
			for (size_t i = 0; i < sizeof(a); i++)
				a[i] = b[i] = (uint8_t)(i * 7 + 1);
			if (n <= 16)
				assert_true(fo_bytes_eq16(a + off, b + off, n));
			else
				assert_false(fo_bytes_eq16(a + off, b + off, n)); /* beyond 16: never equal */
			for (size_t k = 0; k < n && n <= 16; k++) {
				b[off + k] ^= 0x40;
				assert_false(fo_bytes_eq16(a + off, b + off, n));
				b[off + k] ^= 0x40;
			}
			/* bytes outside the n never matter */
			if (n <= 16) {
				b[off + n] ^= 0xff;
				assert_true(fo_bytes_eq16(a + off, b + off, n));
			}
			memset(d, 0x5a, sizeof(d));
			memset(want, 0x5a, sizeof(want));
			fo_bytes_copy16(d + off, a + off, n);
			memcpy(want + off, a + off, n);
			assert_memory_equal(d, want, sizeof(d));
		}
	}
}

static void test_reply(void **state)
{
	(void)state;
	for (uint16_t vlan = 0; vlan <= 7; vlan += 7) {
		struct l2l4_iface ifc = IFC;
		ifc.vlan = vlan;
		struct l2l4_udp_spec s;
		memcpy(s.dst_mac, MAC_A, 6);
		fo_frame_spec(&s, &ifc, IP4(10, 0, 0, 7), 5000);
		const uint8_t msg[] = { 3, 0x18, 0 }; /* a DISCONNECT, odd length */
		uint8_t got[128] = { 0 }, want[128] = { 0 };
		fo_frame_reply(got, &s, msg, sizeof(msg));
		size_t hl = l2l4_udp_hdr_len(vlan);
		memcpy(want + hl, msg, sizeof(msg));
		assert_int_equal(l2l4_write_udp(want, &s, sizeof(msg), 0, 0), hl);
		assert_memory_equal(got, want, sizeof(got));
	}
}

/* One PUBLISH copy through fo_frame_publish (payload inline, its sum given) against the same
 * datagram written whole by l2l4_write_udp. */
static void check_publish(struct fo_hdr_sum *hs, uint16_t vlan, const uint8_t *hdr, uint16_t hdr_len, const uint8_t *pl,
			  uint32_t plen)
{
	struct l2l4_iface ifc = IFC;
	ifc.vlan = vlan;
	struct l2l4_udp_spec s;
	memcpy(s.dst_mac, MAC_B, 6);
	fo_frame_spec(&s, &ifc, IP4(10, 0, 0, 23), 61000);
	static uint8_t got[512], want[512];
	memset(got, 0, sizeof(got));
	memset(want, 0, sizeof(want));
	size_t hl = l2l4_udp_hdr_len(vlan);
	uint8_t *at = fo_frame_publish(got, &s, hs, hdr, hdr_len, plen, l2l4_csum_add(0, pl, plen));
	assert_ptr_equal(at, got + hl + hdr_len);
	memcpy(at, pl, plen);
	memcpy(want + hl, hdr, hdr_len);
	memcpy(want + hl + hdr_len, pl, plen);
	assert_int_equal(l2l4_write_udp(want, &s, hdr_len + plen, 0, 0), hl);
	assert_memory_equal(got, want, sizeof(got));
	/* the header is kept for the next copy unless it is too long to keep */
	if (hdr_len <= sizeof(hs->hdr)) {
		assert_int_equal(hs->len, hdr_len);
		assert_memory_equal(hs->hdr, hdr, hdr_len);
	} else {
		assert_int_equal(hs->len, UINT16_MAX);
	}
	assert_int_equal(hs->sum, l2l4_csum_add(0, hdr, hdr_len));
}

static void test_publish(void **state)
{
	(void)state;
	static struct fo_hdr_sum hs; /* zeroed: the empty header */
	uint8_t pl[200];
	for (size_t i = 0; i < sizeof(pl); i++)
		pl[i] = (uint8_t)(i * 13 + 5);
	uint8_t h7[7] = { 7, 0x0c, 0x00, 0x00, 0x01, 0x00, 0x00 };
	uint8_t h9[9] = { 9, 0x0c, 0x20, 0x00, 0x02, 0x12, 0x34, 0x00, 0x00 };
	uint8_t h20[20];
	for (size_t i = 0; i < sizeof(h20); i++)
		h20[i] = (uint8_t)(0xa0 + i);
	check_publish(&hs, 0, h7, 7, pl, 64);
	check_publish(&hs, 0, h7, 7, pl, 64); /* the same header: its sum reused */
	check_publish(&hs, 7, h7, 7, pl, 65); /* odd payload, tagged */
	h7[6] = 0x2a;                         /* same length, another message id */
	check_publish(&hs, 0, h7, 7, pl, 64);
	check_publish(&hs, 0, h9, 9, pl, 0); /* an empty payload */
	check_publish(&hs, 0, h9, 9, pl, 200);
	check_publish(&hs, 0, h20, 20, pl, 3);
	check_publish(&hs, 0, h20, 20, pl, 3); /* too long to keep: summed again */
	check_publish(&hs, 0, h20, 0, pl, 10); /* no header at all */
	check_publish(&hs, 7, h9, 9, pl, 127);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nh_cache), cmocka_unit_test(test_spec),  cmocka_unit_test(test_payload_inline),
		cmocka_unit_test(test_bytes16),  cmocka_unit_test(test_reply), cmocka_unit_test(test_publish),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
