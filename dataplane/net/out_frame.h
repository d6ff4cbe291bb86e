/* The frames a worker sends to a client, without their buffers: the per-worker cache of resolved
 * next hops, the Ethernet/IPv4/UDP addressing from the port's interface, the choice between copying
 * a PUBLISH payload into the header frame and chaining it by reference, and the headers and sums of
 * a reply or a PUBLISH copy (the MQTT-SN header's sum reused while fan-out copies share it). Pure and
 * header-only, so the fan-out loop inlines it: the worker stage (stage_worker.c) builds its mbufs
 * through it and bench/core_replay.c its flat buffers. */
#ifndef FANOUT_OUT_FRAME_H
#define FANOUT_OUT_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "l2l4.h"

#define FO_NEIGH_CACHE 256        /* per worker: resolved next hops (power of two) */
#define FO_INLINE_PAYLOAD_MAX 128 /* copies carry payloads up to this inline, not by reference */

/* Resolved next hops, keyed by (client address, port index) and valid while the port's neighbour
 * table version (fo_neigh_version) is the one stored with them. A fan-out sends to the same
 * subscribers again and again: this spares the table lookup per copy. Zeroed = empty. One per
 * worker, used by its lcore only. */
struct fo_nh_cache {
	struct {
		uint32_t ip;
		uint16_t pidx;
		uint8_t mac[6];
		uint64_t version;
	} e[FO_NEIGH_CACHE];
};

static inline unsigned fo_nh_slot(uint32_t ip, uint16_t pidx)
{
	return ((ip * 2654435761u) >> 16 ^ pidx) & (FO_NEIGH_CACHE - 1);
}

/* The next hop's MAC for ip on port pidx into mac, when cached under this table version; false
 * when it must be resolved (then fo_nh_put the answer). Address 0 never hits. */
static inline bool fo_nh_get(const struct fo_nh_cache *c, uint32_t ip, uint16_t pidx, uint64_t version, uint8_t mac[6])
{
	unsigned i = fo_nh_slot(ip, pidx);
	if (c->e[i].ip == ip && c->e[i].pidx == pidx && c->e[i].version == version && ip != 0) {
		memcpy(mac, c->e[i].mac, 6);
		return true;
	}
	return false;
}

static inline void fo_nh_put(struct fo_nh_cache *c, uint32_t ip, uint16_t pidx, uint64_t version, const uint8_t mac[6])
{
	unsigned i = fo_nh_slot(ip, pidx);
	c->e[i].ip = ip;
	c->e[i].pidx = pidx;
	c->e[i].version = version;
	memcpy(c->e[i].mac, mac, 6);
}

/* Address a frame from the port's interface to the client (ip, port); the destination MAC is the
 * caller's (fo_nh_get or the neighbour table). */
static inline void fo_frame_spec(struct l2l4_udp_spec *s, const struct l2l4_iface *ifc, uint32_t ip, uint16_t port)
{
	memcpy(s->src_mac, ifc->mac, 6);
	s->vlan = ifc->vlan;
	s->src_ip = ifc->ip;
	s->dst_ip = ip;
	s->src_port = ifc->mqttsn_port;
	s->dst_port = port;
	s->dst_ip6 = NULL; /* IPv4 (src_ip6 is read only with dst_ip6) */
}

/* Readdress a spec made by fo_frame_spec to an IPv6 client: from the port's address of the same
 * scope (link-local to a link-local client). ip6 must outlive the write. */
static inline void fo_frame_spec6(struct l2l4_udp_spec *s, const struct l2l4_iface *ifc, const uint8_t *ip6)
{
	s->dst_ip6 = ip6;
	s->src_ip6 = ip6[0] == 0xfe && (ip6[1] & 0xc0) == 0x80 ? ifc->ll6 : ifc->ip6;
}

/* Whether a PUBLISH copy carries its plen-byte payload inline, copied after the hdr_len-byte
 * MQTT-SN header in a header frame of hdr_room bytes, rather than chained by reference. Small
 * payloads are copied: a small memcpy costs less than a reference count update and a
 * two-segment free. So is any payload that fits when the port has no multi-segment tx (it would
 * have to flatten the chain). one_seg: the payload is one contiguous piece; multi_seg: the
 * destination port's multi-segment tx flag, NULL when there is no such port. */
static inline bool fo_frame_payload_inline(uint32_t plen, bool one_seg, const bool *multi_seg, size_t hdr_len,
					   size_t hdr_room)
{
	return plen && one_seg && multi_seg && (plen <= FO_INLINE_PAYLOAD_MAX || !*multi_seg) &&
	       L2L4_UDP_HLEN_MAX + hdr_len + plen <= hdr_room;
}

/* A reply: the message copied after the headers at b, both checksums computed. b has room for
 * l2l4_spec_hdr_len(s) + len bytes. */
static inline void fo_frame_reply(uint8_t *b, const struct l2l4_udp_spec *s, const uint8_t *msg, uint16_t len)
{
	memcpy(b + l2l4_spec_hdr_len(s), msg, len);
	l2l4_write_udp(b, s, len, 0, 0);
}

/* The last PUBLISH header written and its sum: the copies of one fan-out share it. Zeroed = empty
 * (the empty header, whose sum is 0). */
struct fo_hdr_sum {
	uint8_t hdr[16];
	uint16_t len; /* UINT16_MAX: a header too long to keep, never reused */
	uint32_t sum;
};

/* Whether the n bytes at a equal those at b, for n up to 16 (larger n: false). Inline word
 * compares: a libc memcmp call costs more for a 7- or 9-byte header, and takes its slow path
 * whenever either address is near a page end. */
static inline bool fo_bytes_eq16(const uint8_t *a, const uint8_t *b, size_t n)
{
	if (n >= 8) {
		if (n > 16)
			return false;
		uint64_t a0, b0, a1, b1;
		memcpy(&a0, a, 8);
		memcpy(&b0, b, 8);
		memcpy(&a1, a + n - 8, 8);
		memcpy(&b1, b + n - 8, 8);
		return ((a0 ^ b0) | (a1 ^ b1)) == 0;
	}
	if (n >= 4) {
		uint32_t a0, b0, a1, b1;
		memcpy(&a0, a, 4);
		memcpy(&b0, b, 4);
		memcpy(&a1, a + n - 4, 4);
		memcpy(&b1, b + n - 4, 4);
		return ((a0 ^ b0) | (a1 ^ b1)) == 0;
	}
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* Copy n bytes, inline word moves up to 16 (a 7- or 9-byte header), memcpy beyond. */
static inline void fo_bytes_copy16(uint8_t *d, const uint8_t *s, size_t n)
{
	if (n >= 8 && n <= 16) {
		uint64_t w0, w1;
		memcpy(&w0, s, 8);
		memcpy(&w1, s + n - 8, 8);
		memcpy(d, &w0, 8);
		memcpy(d + n - 8, &w1, 8);
	} else if (n >= 4 && n < 8) {
		uint32_t w0, w1;
		memcpy(&w0, s, 4);
		memcpy(&w1, s + n - 4, 4);
		memcpy(d, &w0, 4);
		memcpy(d + n - 4, &w1, 4);
	} else {
		memcpy(d, s, n);
	}
}

/* The header's sum for fo_frame_publish*: from the previous copy when the header is the same. */
static inline void fo_hdr_sum_update(struct fo_hdr_sum *hs, const uint8_t *hdr, uint16_t hdr_len)
{
	if (__builtin_expect(hdr_len != hs->len || !fo_bytes_eq16(hdr, hs->hdr, hdr_len), 0)) {
		hs->sum = hdr_len <= L2L4_CSUM_SHORT_MAX ? l2l4_csum_short(hdr, hdr_len)
							 : l2l4_csum_add(0, hdr, hdr_len);
		hs->len = hdr_len <= sizeof(hs->hdr) ? hdr_len : UINT16_MAX;
		if (hdr_len <= sizeof(hs->hdr))
			memcpy(hs->hdr, hdr, hdr_len);
	}
}

/* The same as fo_frame_publish for an IPv6 client, out of the IPv4 copy path's way. */
static __attribute__((noinline, cold, unused)) uint8_t *fo_frame_publish6(uint8_t *b, const struct l2l4_udp_spec *s,
									  struct fo_hdr_sum *hs, const uint8_t *hdr,
									  uint16_t hdr_len, uint32_t plen,
									  uint32_t psum)
{
	uint8_t *h = b + l2l4_spec_hdr_len(s);
	fo_bytes_copy16(h, hdr, hdr_len);
	fo_hdr_sum_update(hs, hdr, hdr_len);
	l2l4_write_udp_sums(b, s, hdr_len, hs->sum, plen, plen ? psum : 0);
	return h + hdr_len;
}

/* A PUBLISH copy: the MQTT-SN header after the Ethernet/IP/UDP headers at b, and those headers
 * for a payload of plen bytes whose l2l4_csum_add sum is psum. The payload's sum is known (payload
 * bind) and the header's from the previous copy: the checksum never re-reads the copy. Returns
 * where an inline payload goes (the caller copies it there, or chains it). */
static inline uint8_t *fo_frame_publish(uint8_t *b, const struct l2l4_udp_spec *s, struct fo_hdr_sum *hs,
					const uint8_t *hdr, uint16_t hdr_len, uint32_t plen, uint32_t psum)
{
	if (__builtin_expect(s->dst_ip6 != NULL, 0))
		return fo_frame_publish6(b, s, hs, hdr, hdr_len, plen, psum);
	uint8_t *h = b + l2l4_udp_hdr_len(s->vlan);
	fo_bytes_copy16(h, hdr, hdr_len);
	fo_hdr_sum_update(hs, hdr, hdr_len);
	l2l4_write_udp4_sums(b, s, hdr_len, hs->sum, plen, plen ? psum : 0);
	return h + hdr_len;
}

#endif
