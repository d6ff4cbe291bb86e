/* Frame classification and header building for the rx stage and the output paths.
 * Bytes are assembled explicitly (no casts to packed structs): safe at any alignment,
 * which keeps UBSan and the fuzzers quiet and the code independent of DPDK. */
#include "l2l4.h"

#include <string.h>

#define IPPROTO_ICMP_ 1
#define IPPROTO_UDP_ 17
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8

/* Big-endian loads and stores as single moves (memcpy + byte swap compiles to mov/movbe). */
static inline uint16_t be16(uint16_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap16(v);
#else
	return v;
#endif
}
static inline uint32_t be32(uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap32(v);
#else
	return v;
#endif
}
static inline uint16_t rd16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return be16(v);
}
static inline uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return be32(v);
}
static inline void wr16(uint8_t *p, uint16_t v)
{
	v = be16(v);
	memcpy(p, &v, 2);
}
static inline void wr32(uint8_t *p, uint32_t v)
{
	v = be32(v);
	memcpy(p, &v, 4);
}

/* One's complement sum, 8 bytes per step: the sum of native-order 16-bit words equals the
 * big-endian sum byte-swapped (RFC 1071, 2.(B)), so the words are added as they lie in memory
 * and swapped once at the end. Every header and payload checksum on the packet path runs here. */
uint32_t l2l4_csum_add(uint32_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t s = 0;
	while (len >= 32) {
		uint64_t w[4];
		memcpy(w, p, sizeof(w));
		s += (w[0] & 0xffffffffu) + (w[0] >> 32) + (w[1] & 0xffffffffu) + (w[1] >> 32) + (w[2] & 0xffffffffu) +
		     (w[2] >> 32) + (w[3] & 0xffffffffu) + (w[3] >> 32);
		p += 32;
		len -= 32;
	}
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, sizeof(w));
		s += (w & 0xffffffffu) + (w >> 32);
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		uint32_t w;
		memcpy(&w, p, sizeof(w));
		s += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;
		memcpy(&w, p, sizeof(w));
		s += w;
		p += 2;
		len -= 2;
	}
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (len)
		s += p[0]; /* the high byte of a big-endian word is the low byte of a native one */
#else
	if (len)
		s += (uint32_t)p[0] << 8;
#endif
	/* fold 64 -> 16 bits in fixed steps (each end-around carry fits the next step) */
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	s = ((s & 0xff) << 8) | (s >> 8);
#endif
	uint64_t t = (uint64_t)sum + s;
	return (uint32_t)((t & 0xffffffffu) + (t >> 32));
}

/* The folded sum of an IPv4 header, 0xffff when its checksum is right. The verdict does not
 * depend on byte order (0xffff either way), so the words are added as they lie; the usual
 * 20-byte header in five loads, without l2l4_csum_add's loop and final swap. */
static inline uint16_t ip_hdr_sum(const uint8_t *p, size_t ihl)
{
	if (ihl != L2L4_IP_HLEN)
		return l2l4_csum_fold(l2l4_csum_add(0, p, ihl));
	uint32_t w[5];
	memcpy(w, p, sizeof(w));
	uint64_t s = (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4];
	s = (s & 0xffffffffu) + (s >> 32);
	return l2l4_csum_fold((uint32_t)s + (uint32_t)(s >> 32));
}

static bool mac_is_bcast(const uint8_t *m)
{
	return (m[0] & m[1] & m[2] & m[3] & m[4] & m[5]) == 0xff;
}

static uint32_t pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4len)
{
	uint32_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff);
	return s + proto + l4len;
}

static void drop(struct l2l4_pkt *o, enum fo_drop r)
{
	o->kind = L2L4_DROP;
	o->drop = r;
}

/* A source address no host can legitimately send from (RFC 1122 3.2.1.3, RFC 5735): the
 * reason, or FO_DROP_MAX for a usable source. Such packets are forged or looped back, and an
 * answer to them would go nowhere or back to ourselves. */
static enum fo_drop src_martian(uint32_t src, const struct l2l4_iface *ifc, uint32_t bcast_net)
{
	uint8_t top = (uint8_t)(src >> 24);
	if (src == 0xffffffffu || (ifc->netmask < 0xfffffffeu && src == bcast_net))
		return FO_DROP_IP_SRC_BROADCAST;
	if (top == 0)
		return FO_DROP_IP_SRC_THIS_NET;
	if (top == 127)
		return FO_DROP_IP_SRC_LOOPBACK;
	if ((top >> 4) == 0xe)
		return FO_DROP_IP_SRC_MULTICAST;
	if ((top >> 4) == 0xf)
		return FO_DROP_IP_SRC_RESERVED;
	if (src == ifc->ip)
		return FO_DROP_IP_SRC_OURS;
	return FO_DROP_MAX;
}

static void parse_arp(const uint8_t *p, size_t len, const struct l2l4_iface *ifc, struct l2l4_pkt *o)
{
	if (len < L2L4_ARP_LEN || rd16(p) != 1 /* Ethernet */ || rd16(p + 2) != L2L4_ETHERTYPE_IPV4 || p[4] != 6 ||
	    p[5] != 4) {
		drop(o, FO_DROP_ARP_MALFORMED);
		return;
	}
	uint16_t op = rd16(p + 6);
	memcpy(o->arp_sender_mac, p + 8, 6);
	o->arp_sender_ip = rd32(p + 14);
	uint32_t target = rd32(p + 24);
	if (op != 1 && op != 2) {
		drop(o, FO_DROP_ARP_MALFORMED);
		return;
	}
	if (target != ifc->ip || o->arp_sender_ip == 0 || o->arp_sender_ip == target ||
	    mac_is_bcast(o->arp_sender_mac) || (o->arp_sender_mac[0] & 1)) {
		/* Probes (sender 0.0.0.0), gratuitous ARP (sender == target: also when it claims
		 * our own address, which must never be learnt) and requests for others are not ours. */
		drop(o, FO_DROP_ARP_NOT_FOR_US);
		return;
	}
	o->kind = op == 1 ? L2L4_ARP_REQUEST : L2L4_ARP_REPLY;
}

/* The UDP ports of a first fragment or a whole datagram: ours, and a client's. */
static bool udp_ports_ok(const uint8_t *l4, const struct l2l4_iface *ifc, struct l2l4_pkt *o)
{
	o->src_port = rd16(l4);
	o->dst_port = rd16(l4 + 2);
	if (o->dst_port != ifc->mqttsn_port) {
		drop(o, FO_DROP_UDP_NO_LISTENER);
		return false;
	}
	if (o->src_port == 0) {
		drop(o, FO_DROP_UDP_MALFORMED); /* nowhere to answer */
		return false;
	}
	if (o->src_port < ifc->min_src_port) {
		/* Privileged ports are services (DNS, NTP, chargen, echo), not MQTT-SN clients: a
		 * forged source there would aim our replies at a service that answers back. */
		drop(o, FO_DROP_UDP_SRC_PORT_LOW);
		return false;
	}
	return true;
}

/* A fragment (frag: the IPv4 flags and offset word) whose IPv4 header passed: keep it for
 * reassembly only when it can belong to an MQTT-SN message we would take. */
static void parse_fragment(const uint8_t *l4, size_t l4len, uint16_t frag, uint16_t id, uint8_t proto, bool to_us,
			   const struct l2l4_iface *ifc, struct l2l4_pkt *o)
{
	if (!ifc->reassemble || proto != IPPROTO_UDP_ || !to_us) {
		drop(o, FO_DROP_IP_FRAGMENT);
		return;
	}
	o->frag = true;
	o->frag_id = id;
	size_t fofs = (size_t)(frag & 0x1fff) * 8;
	bool more = (frag & 0x2000) != 0;
	if (l4len == 0 || (more && (l4len & 7)) || fofs + l4len + o->l3_len > 0xffff) {
		drop(o, FO_DROP_IP_BAD_LENGTH); /* RFC 791: only the last may be ragged; 65535 at most */
		return;
	}
	size_t max_ip = ifc->max_msg_len ? (size_t)ifc->max_msg_len + L2L4_UDP_HLEN : 0xffff;
	if (fofs + l4len > max_ip) {
		drop(o, FO_DROP_MESSAGE_TOO_BIG);
		return;
	}
	if (fofs == 0) { /* the first fragment carries the UDP header */
		if (l4len < L2L4_UDP_HLEN) {
			drop(o, FO_DROP_UDP_MALFORMED);
			return;
		}
		size_t ulen = rd16(l4 + 4);
		if (ulen < L2L4_UDP_HLEN + 1 || ulen <= l4len) { /* a fragment is never the whole datagram */
			drop(o, FO_DROP_UDP_MALFORMED);
			return;
		}
		if (!udp_ports_ok(l4, ifc, o))
			return;
		if (ulen > max_ip) {
			drop(o, FO_DROP_MESSAGE_TOO_BIG);
			return;
		}
	}
	o->kind = L2L4_IPV4_FRAGMENT;
	o->frag_off = (uint16_t)fofs;
	o->frag_len = (uint16_t)l4len;
	o->frag_more = more;
}

void l2l4_parse(const uint8_t *f, size_t len, const struct l2l4_iface *ifc, enum l2l4_ck ip_ck, enum l2l4_ck l4_ck,
		struct l2l4_pkt *o)
{
	memset(o, 0, sizeof(*o));
	if (len < L2L4_ETH_HLEN) {
		drop(o, FO_DROP_ETH_RUNT);
		return;
	}
	const uint8_t *dst = f;
	memcpy(o->src_mac, f + 6, 6);
	bool bcast = mac_is_bcast(dst);
	if (!bcast && memcmp(dst, ifc->mac, 6) != 0) {
		drop(o, FO_DROP_ETH_NOT_FOR_US);
		return;
	}
	uint16_t et = rd16(f + 12);
	size_t off = L2L4_ETH_HLEN;
	uint16_t vid = 0;
	if (et == L2L4_ETHERTYPE_VLAN) {
		if (len < L2L4_ETH_HLEN + L2L4_VLAN_HLEN) {
			drop(o, FO_DROP_ETH_RUNT);
			return;
		}
		vid = rd16(f + 14) & 0x0fff;
		et = rd16(f + 16);
		off += L2L4_VLAN_HLEN;
		if (vid == 0 && ifc->vlan == 0)
			vid = 0; /* priority-tagged frame: VLAN 0 means untagged */
	}
	if (vid != ifc->vlan) {
		drop(o, FO_DROP_VLAN_MISMATCH);
		return;
	}
	o->l2_len = (uint16_t)off;
	const uint8_t *p = f + off;
	size_t rem = len - off;

	if (et == L2L4_ETHERTYPE_ARP) {
		parse_arp(p, rem, ifc, o);
		return;
	}
	if (et != L2L4_ETHERTYPE_IPV4) {
		drop(o, FO_DROP_ETH_UNKNOWN_TYPE);
		return;
	}
	if (rem < L2L4_IP_HLEN) {
		drop(o, FO_DROP_IP_RUNT);
		return;
	}
	if ((p[0] >> 4) != 4) {
		drop(o, FO_DROP_IP_BAD_VERSION);
		return;
	}
	size_t ihl = (size_t)(p[0] & 0x0f) * 4;
	if (ihl < L2L4_IP_HLEN || ihl > rem) {
		drop(o, FO_DROP_IP_BAD_IHL);
		return;
	}
	size_t tot = rd16(p + 2);
	/* Frames may carry Ethernet padding after the datagram, never less than it. */
	if (tot < ihl || tot > rem) {
		drop(o, FO_DROP_IP_BAD_LENGTH);
		return;
	}
	if (ip_ck == L2L4_CK_BAD || (ip_ck == L2L4_CK_VERIFY && ip_hdr_sum(p, ihl) != 0xffff)) {
		drop(o, FO_DROP_IP_BAD_CKSUM);
		return;
	}
	uint16_t frag = rd16(p + 6);
	o->src_ip = rd32(p + 12);
	o->dst_ip = rd32(p + 16);
	o->l3_len = (uint16_t)ihl;
	uint32_t bcast_net = (ifc->ip & ifc->netmask) | ~ifc->netmask;
	bool to_us = o->dst_ip == ifc->ip;
	bool to_bcast = o->dst_ip == 0xffffffffu || (ifc->netmask != 0xffffffffu && o->dst_ip == bcast_net);
	if (!to_us && !to_bcast) {
		drop(o, FO_DROP_IP_NOT_FOR_US);
		return;
	}
	enum fo_drop martian = src_martian(o->src_ip, ifc, bcast_net);
	if (martian != FO_DROP_MAX) {
		drop(o, martian);
		return;
	}
	const uint8_t *l4 = p + ihl;
	size_t l4len = tot - ihl;
	uint8_t proto = p[9];
	if (frag & 0x3fff) { /* MF set or offset != 0 */
		parse_fragment(l4, l4len, frag, rd16(p + 4), proto, to_us, ifc, o);
		return;
	}

	if (proto == IPPROTO_ICMP_) {
		if (!to_us) { /* no broadcast pings (smurf) */
			drop(o, FO_DROP_ICMP_UNSUPPORTED);
			return;
		}
		if (l4len < 8) {
			drop(o, FO_DROP_ICMP_MALFORMED);
			return;
		}
		if (l2l4_csum_fold(l2l4_csum_add(0, l4, l4len)) != 0xffff) {
			drop(o, FO_DROP_ICMP_BAD_CKSUM);
			return;
		}
		if (l4[0] != ICMP_ECHO_REQUEST || l4[1] != 0) {
			drop(o, FO_DROP_ICMP_UNSUPPORTED);
			return;
		}
		o->kind = L2L4_ICMP_ECHO;
		o->payload_off = (uint16_t)(off + ihl);
		o->payload_len = (uint16_t)l4len;
		return;
	}
	if (proto != IPPROTO_UDP_) {
		drop(o, FO_DROP_IP_PROTO_UNSUPPORTED);
		return;
	}
	if (l4len < L2L4_UDP_HLEN) {
		drop(o, FO_DROP_UDP_MALFORMED);
		return;
	}
	size_t ulen = rd16(l4 + 4);
	if (ulen < L2L4_UDP_HLEN || ulen != l4len) {
		drop(o, FO_DROP_UDP_MALFORMED);
		return;
	}
	if (!udp_ports_ok(l4, ifc, o))
		return;
	uint16_t ck = rd16(l4 + 6);
	if (ck != 0) { /* 0 = sender computed none (allowed for IPv4) */
		if (l4_ck == L2L4_CK_BAD) {
			drop(o, FO_DROP_UDP_BAD_CKSUM);
			return;
		}
		if (l4_ck == L2L4_CK_VERIFY) {
			/* The message's own sum is kept: a publish's payload sum (for every copy's
			 * checksum) is derived from it instead of read again. */
			uint16_t ms = l2l4_csum_fold(l2l4_csum_add(0, l4 + L2L4_UDP_HLEN, ulen - L2L4_UDP_HLEN));
			/* the UDP header's words are the values read above: summed as they are */
			uint32_t s = pseudo_sum(o->src_ip, o->dst_ip, IPPROTO_UDP_, (uint16_t)ulen) + o->src_port +
				     o->dst_port + (uint32_t)ulen + ck + ms;
			if (l2l4_csum_fold(s) != 0xffff) {
				drop(o, FO_DROP_UDP_BAD_CKSUM);
				return;
			}
			o->msg_sum = ms;
			o->msg_sum_valid = true;
		}
	}
	if (ifc->max_msg_len && ulen - L2L4_UDP_HLEN > ifc->max_msg_len) {
		drop(o, FO_DROP_MESSAGE_TOO_BIG);
		return;
	}
	o->kind = L2L4_MQTTSN;
	o->payload_off = (uint16_t)(off + ihl + L2L4_UDP_HLEN);
	o->payload_len = (uint16_t)(ulen - L2L4_UDP_HLEN);
}

uint16_t l2l4_csum_suffix(uint16_t block_sum, const uint8_t *block, size_t hl)
{
	uint32_t prefix = hl <= L2L4_CSUM_SHORT_MAX ? l2l4_csum_short(block, hl) : l2l4_csum_add(0, block, hl);
	uint16_t ps = l2l4_csum_fold((uint32_t)block_sum + (uint16_t)~l2l4_csum_fold(prefix));
	return (hl & 1) ? (uint16_t)(ps << 8 | ps >> 8) : ps;
}

size_t l2l4_write_eth(uint8_t *b, const uint8_t dst[6], const uint8_t src[6], uint16_t vlan, uint16_t et)
{
	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	if (vlan) {
		wr16(b + 12, L2L4_ETHERTYPE_VLAN);
		wr16(b + 14, vlan & 0x0fff);
		wr16(b + 16, et);
		return L2L4_ETH_HLEN + L2L4_VLAN_HLEN;
	}
	wr16(b + 12, et);
	return L2L4_ETH_HLEN;
}

size_t l2l4_build_arp(uint8_t *b, uint16_t op, const uint8_t eth_dst[6], const uint8_t src_mac[6], uint32_t src_ip,
		      const uint8_t target_mac[6], uint32_t target_ip, uint16_t vlan)
{
	size_t off = l2l4_write_eth(b, eth_dst, src_mac, vlan, L2L4_ETHERTYPE_ARP);
	uint8_t *p = b + off;
	wr16(p, 1);
	wr16(p + 2, L2L4_ETHERTYPE_IPV4);
	p[4] = 6;
	p[5] = 4;
	wr16(p + 6, op);
	memcpy(p + 8, src_mac, 6);
	wr32(p + 14, src_ip);
	memcpy(p + 18, target_mac, 6);
	wr32(p + 24, target_ip);
	size_t n = off + L2L4_ARP_LEN;
	size_t min = L2L4_MIN_FRAME + (vlan ? L2L4_VLAN_HLEN : 0);
	if (n < min) {
		memset(b + n, 0, min - n);
		n = min;
	}
	return n;
}

size_t l2l4_write_udp(uint8_t *b, const struct l2l4_udp_spec *s, size_t inline_len, size_t ext_len, uint32_t ext_sum)
{
	if (inline_len > 65535 || ext_len > 65535 || L2L4_IP_HLEN + L2L4_UDP_HLEN + inline_len + ext_len > 65535)
		return 0; /* before reading the inline bytes */
	size_t hl = l2l4_udp_hdr_len(s->vlan);
	uint32_t inline_sum = inline_len ? l2l4_csum_add(0, b + hl, inline_len) : 0;
	return l2l4_write_udp_sums(b, s, inline_len, inline_sum, ext_len, ext_sum);
}

size_t l2l4_write_udp_sums(uint8_t *b, const struct l2l4_udp_spec *s, size_t inline_len, uint32_t inline_sum,
			   size_t ext_len, uint32_t ext_sum)
{
	size_t ulen = L2L4_UDP_HLEN + inline_len + ext_len;
	if (ulen + L2L4_IP_HLEN > 65535)
		return 0;
	size_t off = l2l4_write_eth(b, s->dst_mac, s->src_mac, s->vlan, L2L4_ETHERTYPE_IPV4);
	uint8_t *ip = b + off;
	ip[0] = 0x45;
	ip[1] = 0;
	wr16(ip + 2, (uint16_t)(ulen + L2L4_IP_HLEN));
	wr16(ip + 4, 0);      /* id 0 with DF: atomic datagram (RFC 6864) */
	wr16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = IPPROTO_UDP_;
	wr16(ip + 10, 0);
	wr32(ip + 12, s->src_ip);
	wr32(ip + 16, s->dst_ip);
	/* Both checksums from the values just written, not by reading the header back: version/IHL,
	 * total length, DF, TTL/protocol and the addresses (id and the checksum field are 0). */
	uint32_t ipsum = 0x4500u + (uint32_t)(ulen + L2L4_IP_HLEN) + 0x4000u + (64u << 8 | IPPROTO_UDP_) +
			 (s->src_ip >> 16) + (s->src_ip & 0xffff) + (s->dst_ip >> 16) + (s->dst_ip & 0xffff);
	wr16(ip + 10, (uint16_t)~l2l4_csum_fold(ipsum));
	uint8_t *u = ip + L2L4_IP_HLEN;
	wr16(u, s->src_port);
	wr16(u + 2, s->dst_port);
	wr16(u + 4, (uint16_t)ulen);
	wr16(u + 6, 0);
	uint32_t sum = pseudo_sum(s->src_ip, s->dst_ip, IPPROTO_UDP_, (uint16_t)ulen) + s->src_port + s->dst_port +
		       (uint32_t)ulen;
	sum += l2l4_csum_fold(inline_sum);
	if (ext_len)
		sum += (inline_len & 1) ? l2l4_csum_shift(ext_sum) : l2l4_csum_fold(ext_sum);
	uint16_t ck = (uint16_t)~l2l4_csum_fold(sum);
	wr16(u + 6, ck ? ck : 0xffff); /* 0 means "no checksum" on the wire */
	return off + L2L4_IP_HLEN + L2L4_UDP_HLEN;
}

void l2l4_icmp_echo_to_reply(uint8_t *f, const struct l2l4_pkt *p, const uint8_t dst_mac[6], const uint8_t src_mac[6])
{
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	uint8_t *ip = f + p->l2_len;
	wr32(ip + 12, p->dst_ip);
	wr32(ip + 16, p->src_ip);
	ip[8] = 64;
	wr16(ip + 10, 0);
	wr16(ip + 10, (uint16_t)~l2l4_csum_fold(l2l4_csum_add(0, ip, p->l3_len)));
	uint8_t *icmp = f + p->payload_off;
	icmp[0] = ICMP_ECHO_REPLY;
	wr16(icmp + 2, 0);
	wr16(icmp + 2, (uint16_t)~l2l4_csum_fold(l2l4_csum_add(0, icmp, p->payload_len)));
}
