/* Frame classification and header building for the rx stage and the output paths.
 * Bytes are assembled explicitly (no casts to packed structs): safe at any alignment,
 * which keeps UBSan and the fuzzers quiet and the code independent of DPDK. */
#include "l2l4.h"

#include <stddef.h>
#include <string.h>

#include "broker_hash.h"

#define IPPROTO_ICMP_ 1
#define IPPROTO_UDP_ 17
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8
#define IPPROTO_ICMPV6_ 58
#define IPPROTO_FRAGMENT_ 44
#define ICMP6_ECHO_REQUEST 128
#define ICMP6_ECHO_REPLY 129
#define ND_NS 135
#define ND_NA 136
#define ND_OPT_SLLA 1
#define ND_OPT_TLLA 2
#define ND_HOP_LIMIT 255

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
static bool udp_ports_ok(const uint8_t *l4, const struct l2l4_iface *ifc, uint16_t port, struct l2l4_pkt *o)
{
	o->src_port = rd16(l4);
	o->dst_port = rd16(l4 + 2);
	if (o->dst_port != port) {
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
static void parse_fragment(const uint8_t *l4, size_t l4len, uint16_t frag, uint32_t id, uint8_t proto, bool to_us,
			   const struct l2l4_iface *ifc, struct l2l4_pkt *o)
{
	if (!ifc->reassemble || proto != IPPROTO_UDP_ || !to_us) {
		drop(o, o->v6 ? FO_DROP_IP6_FRAGMENT : FO_DROP_IP_FRAGMENT);
		return;
	}
	o->frag = true;
	o->frag_id = id;
	/* IPv4's flags and offset word; IPv6's offset and M flag word shifted to the same layout */
	size_t fofs = (size_t)(frag & 0x1fff) * 8;
	bool more = (frag & 0x2000) != 0;
	if (l4len == 0 || (more && (l4len & 7)) || fofs + l4len + o->l3_len > 0xffff) {
		/* RFC 791, RFC 8200 4.5: only the last may be ragged; 65535 at most */
		drop(o, o->v6 ? FO_DROP_IP6_BAD_LENGTH : FO_DROP_IP_BAD_LENGTH);
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
		if (!udp_ports_ok(l4, ifc, ifc->mqttsn_port, o))
			return;
		if (ulen > max_ip) {
			drop(o, FO_DROP_MESSAGE_TOO_BIG);
			return;
		}
	}
	o->kind = o->v6 ? L2L4_IPV6_FRAGMENT : L2L4_IPV4_FRAGMENT;
	o->frag_off = (uint16_t)fofs;
	o->frag_len = (uint16_t)l4len;
	o->frag_more = more;
}

/* IPv6: the solicited-node multicast group of an address (RFC 4291 2.7.1) and its MAC. */
static const uint8_t SNM_PREFIX[13] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff };

static bool snm_of(const uint8_t g[16], const uint8_t a[16])
{
	return memcmp(g, SNM_PREFIX, 13) == 0 && memcmp(g + 13, a + 13, 3) == 0;
}

/* 33:33:ff:XX:XX:XX of one of our addresses: a Neighbor Solicitation for it. */
static bool snm_mac_ours(const uint8_t *m, const struct l2l4_iface *ifc)
{
	if (!ifc->has_ip6 || m[0] != 0x33 || m[1] != 0x33 || m[2] != 0xff)
		return false;
	return memcmp(m + 3, ifc->ip6 + 13, 3) == 0 || memcmp(m + 3, ifc->ll6 + 13, 3) == 0;
}

/* 01:00:5e + the low 23 bits of the group we listen to (RFC 1112 6.4). */
static bool group_mac_ours(const uint8_t *m, const struct l2l4_iface *ifc)
{
	uint32_t g = ifc->group;
	return g && m[0] == 0x01 && m[1] == 0x00 && m[2] == 0x5e && m[3] == ((g >> 16) & 0x7f) &&
	       m[4] == (uint8_t)(g >> 8) && m[5] == (uint8_t)g;
}

/* 33:33 + the low 32 bits of the IPv6 group we listen to (RFC 2464 7). */
static bool group6_mac_ours(const uint8_t *m, const struct l2l4_iface *ifc)
{
	return ifc->has_ip6 && ifc->has_group6 && m[0] == 0x33 && m[1] == 0x33 &&
	       memcmp(m + 2, ifc->group6 + 12, 4) == 0;
}

bool l2l4_ip6_is_ours(const struct l2l4_iface *ifc, const uint8_t a[16])
{
	return ifc->has_ip6 && (memcmp(a, ifc->ip6, 16) == 0 || memcmp(a, ifc->ll6, 16) == 0);
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned n = bits / 8;
	if (memcmp(a, b, n) != 0)
		return false;
	if (bits % 8 == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff00u >> (bits % 8));
	return ((a[n] ^ b[n]) & mask) == 0;
}

static bool ip6_is_zero(const uint8_t *a, size_t from)
{
	for (size_t i = from; i < 16; i++)
		if (a[i])
			return false;
	return true;
}

static const uint8_t LL_PREFIX[8] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0 };

bool l2l4_ip6_on_link(const struct l2l4_iface *ifc, const uint8_t a[16])
{
	if (!ifc->has_ip6 || a[0] == 0xff || l2l4_ip6_is_ours(ifc, a))
		return false;
	if (memcmp(a, LL_PREFIX, 8) == 0)
		return !ip6_is_zero(a, 8);
	if (ifc->ip6_prefix == 0 || !prefix_eq(a, ifc->ip6, ifc->ip6_prefix))
		return false;
	/* the prefix's all-zero host is the subnet-router anycast address (RFC 4291 2.6.1) */
	if (ifc->ip6_prefix < 128) {
		uint8_t host[16];
		memcpy(host, a, 16);
		unsigned n = ifc->ip6_prefix / 8;
		if (ifc->ip6_prefix % 8)
			host[n] &= (uint8_t)(0xffu >> (ifc->ip6_prefix % 8));
		else if (n < 16)
			host[n] = a[n];
		bool zero = ifc->ip6_prefix % 8 ? host[n] == 0 && ip6_is_zero(a, n + 1) : ip6_is_zero(a, n);
		if (zero)
			return false;
	}
	return true;
}

bool l2l4_next_hop6(const struct l2l4_iface *ifc, const uint8_t dst[16], const uint8_t gw[16], bool gw_set,
		    uint8_t nh[16])
{
	if (l2l4_ip6_on_link(ifc, dst)) {
		memcpy(nh, dst, 16);
		return true;
	}
	if (!gw_set)
		return false;
	memcpy(nh, gw, 16);
	return true;
}

void l2l4_ip6_link_local(const uint8_t mac[6], uint8_t ll[16])
{
	memset(ll, 0, 16);
	ll[0] = 0xfe;
	ll[1] = 0x80;
	ll[8] = mac[0] ^ 0x02;
	ll[9] = mac[1];
	ll[10] = mac[2];
	ll[11] = 0xff;
	ll[12] = 0xfe;
	ll[13] = mac[3];
	ll[14] = mac[4];
	ll[15] = mac[5];
}

uint32_t l2l4_ip6_key(const uint8_t a[16])
{
	uint64_t hi;
	memcpy(&hi, a, 8);
	return bh_key64(hi ^ 0x6ull << 60);
}

/* The IPv6 pseudo-header's sum (RFC 8200 8.1) for an upper-layer packet of l4len bytes. */
static uint32_t pseudo_sum6(const uint8_t *src, const uint8_t *dst, uint8_t nh, uint32_t l4len)
{
	uint32_t s = l2l4_csum_add(0, src, 16);
	s = l2l4_csum_add(s, dst, 16);
	return s + (l4len >> 16) + (l4len & 0xffff) + nh;
}

/* Neighbor Solicitation / Advertisement (RFC 4861 7.1): hop limit 255 (never forwarded), code 0,
 * a unicast target, options each of a non-zero length inside the message; the one link-layer
 * address option of the kind (source for NS, target for NA) kept. */
static bool parse_nd(const uint8_t *l4, size_t l4len, uint8_t hlim, struct l2l4_pkt *o)
{
	if (hlim != ND_HOP_LIMIT) {
		drop(o, FO_DROP_ND_BAD_HOP_LIMIT);
		return false;
	}
	if (l4len < 24 || l4[1] != 0 || l4[8] == 0xff) {
		drop(o, FO_DROP_ND_MALFORMED);
		return false;
	}
	memcpy(o->nd_target, l4 + 8, 16);
	uint8_t want = l4[0] == ND_NS ? ND_OPT_SLLA : ND_OPT_TLLA;
	for (size_t i = 24; i < l4len;) {
		if (l4len - i < 2 || l4[i + 1] == 0 || (size_t)l4[i + 1] * 8 > l4len - i) {
			drop(o, FO_DROP_ND_MALFORMED);
			return false;
		}
		if (l4[i] == want && l4[i + 1] == 1) {
			memcpy(o->nd_lladdr, l4 + i + 2, 6);
			o->nd_has_lladdr = true;
		}
		i += (size_t)l4[i + 1] * 8;
	}
	if (o->nd_has_lladdr && (mac_is_bcast(o->nd_lladdr) || (o->nd_lladdr[0] & 1))) {
		drop(o, FO_DROP_ND_MALFORMED);
		return false;
	}
	return true;
}

static void parse_icmp6(const uint8_t *ip, const uint8_t *l4, size_t l4len, const struct l2l4_iface *ifc,
			bool dst_unicast, uint16_t l2, struct l2l4_pkt *o)
{
	if (l4len < 4) {
		drop(o, FO_DROP_ICMP_MALFORMED);
		return;
	}
	if (l2l4_csum_fold(l2l4_csum_add(pseudo_sum6(ip + 8, ip + 24, IPPROTO_ICMPV6_, (uint32_t)l4len), l4, l4len)) !=
	    0xffff) {
		drop(o, FO_DROP_ICMP_BAD_CKSUM);
		return;
	}
	bool src_unspec = ip6_is_zero(o->src_ip6, 0);
	switch (l4[0]) {
	case ICMP6_ECHO_REQUEST:
		if (!dst_unicast || src_unspec || l4[1] != 0) {
			drop(o, src_unspec ? FO_DROP_IP6_SRC_MARTIAN : FO_DROP_ICMP_UNSUPPORTED);
			return;
		}
		if (l4len < 8) {
			drop(o, FO_DROP_ICMP_MALFORMED);
			return;
		}
		o->kind = L2L4_ICMP6_ECHO;
		break;
	case ND_NS:
		if (!parse_nd(l4, l4len, ip[7], o))
			return;
		if (!dst_unicast && !snm_of(o->dst_ip6, o->nd_target)) {
			drop(o, FO_DROP_ND_MALFORMED); /* a solicitation goes to its target's group */
			return;
		}
		if (!l2l4_ip6_is_ours(ifc, o->nd_target)) {
			drop(o, FO_DROP_ND_NOT_FOR_US);
			return;
		}
		if (src_unspec) {
			/* duplicate address detection (RFC 4862 5.4.3) of our address: the answer would go
			 * to all nodes; the address stays ours (an operator sees the count) */
			drop(o, FO_DROP_ND_DAD);
			return;
		}
		o->kind = L2L4_ND_SOLICIT;
		break;
	case ND_NA:
		if (!parse_nd(l4, l4len, ip[7], o))
			return;
		if (src_unspec || (!dst_unicast && (l4[4] & 0x40))) {
			drop(o, FO_DROP_ND_MALFORMED); /* solicited advertisements are unicast (7.1.2) */
			return;
		}
		if (!o->nd_has_lladdr) {
			drop(o, FO_DROP_ND_NO_LLADDR);
			return;
		}
		o->kind = L2L4_ND_ADVERT;
		break;
	default: drop(o, FO_DROP_ICMP_UNSUPPORTED); return;
	}
	o->payload_off = (uint16_t)(l2 + L2L4_IP6_HLEN);
	o->payload_len = (uint16_t)l4len;
}

static void parse_ipv6(const uint8_t *p, size_t rem, const struct l2l4_iface *ifc, enum l2l4_ck l4_ck,
		       struct l2l4_pkt *o)
{
	o->v6 = true;
	if (rem < L2L4_IP6_HLEN) {
		drop(o, FO_DROP_IP6_RUNT);
		return;
	}
	if ((p[0] >> 4) != 6) {
		drop(o, FO_DROP_IP_BAD_VERSION);
		return;
	}
	size_t plen = rd16(p + 4);
	if (plen > rem - L2L4_IP6_HLEN) {
		drop(o, FO_DROP_IP6_BAD_LENGTH);
		return;
	}
	memcpy(o->src_ip6, p + 8, 16);
	memcpy(o->dst_ip6, p + 24, 16);
	o->l3_len = L2L4_IP6_HLEN;
	bool dst_unicast = l2l4_ip6_is_ours(ifc, o->dst_ip6);
	bool to_group = ifc->has_group6 && memcmp(o->dst_ip6, ifc->group6, 16) == 0;
	if (!dst_unicast && !to_group && !snm_of(o->dst_ip6, ifc->ip6) && !snm_of(o->dst_ip6, ifc->ll6)) {
		drop(o, FO_DROP_IP6_NOT_FOR_US);
		return;
	}
	const uint8_t *src = o->src_ip6;
	static const uint8_t V4MAPPED[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (src[0] == 0xff) {
		drop(o, FO_DROP_IP6_SRC_MULTICAST);
		return;
	}
	/* :: only for ND (a DAD probe, counted there), ::1 never on a wire, IPv4-mapped never either
	 * (RFC 4291 2.5.5.2: it names an IPv4 host, which would reach us over IPv4) */
	bool unspec = ip6_is_zero(src, 0);
	bool loopback = src[15] == 1 && memcmp(src, (const uint8_t[15]){ 0 }, 15) == 0;
	if ((unspec && p[6] != IPPROTO_ICMPV6_) || loopback || memcmp(src, V4MAPPED, 12) == 0) {
		drop(o, FO_DROP_IP6_SRC_MARTIAN);
		return;
	}
	if (l2l4_ip6_is_ours(ifc, src)) {
		drop(o, FO_DROP_IP_SRC_OURS);
		return;
	}
	o->src_ip = l2l4_ip6_key(src);
	const uint8_t *l4 = p + L2L4_IP6_HLEN;
	size_t l4len = plen;
	uint8_t nh = p[6];
	uint16_t l2 = o->l2_len;
	if (nh == IPPROTO_ICMPV6_) {
		parse_icmp6(p, l4, l4len, ifc, dst_unicast, l2, o);
		return;
	}
	if (nh == IPPROTO_FRAGMENT_) {
		/* RFC 8200 4.5: next header, reserved, offset (13 bits) and M, identification */
		if (l4len < 8 || !dst_unicast) {
			drop(o, l4len < 8 ? FO_DROP_IP6_BAD_LENGTH : FO_DROP_IP6_FRAGMENT);
			return;
		}
		uint16_t om = rd16(l4 + 2);
		if ((om & 0xfff9) == 0) { /* an atomic fragment (RFC 6946): the whole datagram, not reassembled */
			drop(o, FO_DROP_IP6_FRAGMENT);
			return;
		}
		o->l3_len = L2L4_IP6_HLEN + 8;
		parse_fragment(l4 + 8, l4len - 8, (uint16_t)((om >> 3) | ((om & 1) << 13)), rd32(l4 + 4), l4[0], true,
			       ifc, o);
		return;
	}
	if (nh != IPPROTO_UDP_) {
		/* hop-by-hop options, routing, destination options, authentication, ESP, mobility,
		 * HIP, shim6 and the experimental ones (RFC 8200 4, RFC 7045): not handled */
		bool ext = nh == 0 || nh == 43 || nh == 50 || nh == 51 || nh == 60 || nh == 135 || nh == 139 ||
			   nh == 140 || nh == 253 || nh == 254;
		drop(o, ext ? FO_DROP_IP6_EXT_HEADER : FO_DROP_IP_PROTO_UNSUPPORTED);
		return;
	}
	if (!dst_unicast && !to_group) {
		drop(o, FO_DROP_IP6_NOT_FOR_US); /* UDP to a solicited-node group */
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
	if (!udp_ports_ok(l4, ifc, to_group && ifc->group6_port ? ifc->group6_port : ifc->mqttsn_port, o))
		return;
	if (rd16(l4 + 6) == 0) {
		drop(o, FO_DROP_UDP6_ZERO_CKSUM);
		return;
	}
	if (l4_ck == L2L4_CK_BAD) {
		drop(o, FO_DROP_UDP_BAD_CKSUM);
		return;
	}
	if (l4_ck == L2L4_CK_VERIFY) {
		uint16_t ms = l2l4_csum_fold(l2l4_csum_add(0, l4 + L2L4_UDP_HLEN, ulen - L2L4_UDP_HLEN));
		uint32_t sum = pseudo_sum6(src, o->dst_ip6, IPPROTO_UDP_, (uint32_t)ulen);
		sum = l2l4_csum_add(sum, l4, L2L4_UDP_HLEN) + ms;
		if (l2l4_csum_fold(sum) != 0xffff) {
			drop(o, FO_DROP_UDP_BAD_CKSUM);
			return;
		}
		o->msg_sum = ms;
		o->msg_sum_valid = true;
	}
	if (ifc->max_msg_len && ulen - L2L4_UDP_HLEN > ifc->max_msg_len) {
		drop(o, FO_DROP_MESSAGE_TOO_BIG);
		return;
	}
	o->kind = L2L4_MQTTSN;
	o->payload_off = (uint16_t)(l2 + L2L4_IP6_HLEN + L2L4_UDP_HLEN);
	o->payload_len = (uint16_t)(ulen - L2L4_UDP_HLEN);
}

void l2l4_parse(const uint8_t *f, size_t len, const struct l2l4_iface *ifc, enum l2l4_ck ip_ck, enum l2l4_ck l4_ck,
		struct l2l4_pkt *o)
{
	memset(o, 0, offsetof(struct l2l4_pkt, src_ip6)); /* the IPv6 addresses are written when IPv6 */
	if (len < L2L4_ETH_HLEN) {
		drop(o, FO_DROP_ETH_RUNT);
		return;
	}
	const uint8_t *dst = f;
	memcpy(o->src_mac, f + 6, 6);
	bool bcast = mac_is_bcast(dst);
	if (!bcast && memcmp(dst, ifc->mac, 6) != 0 && !snm_mac_ours(dst, ifc) && !group_mac_ours(dst, ifc) &&
	    !group6_mac_ours(dst, ifc)) {
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
	if (et == L2L4_ETHERTYPE_IPV6 && ifc->has_ip6 && !bcast) {
		parse_ipv6(p, rem, ifc, l4_ck, o);
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
	bool to_group = ifc->group && o->dst_ip == ifc->group;
	bool to_bcast = o->dst_ip == 0xffffffffu || (ifc->netmask != 0xffffffffu && o->dst_ip == bcast_net) || to_group;
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
	if (!udp_ports_ok(l4, ifc, to_group && ifc->group_port ? ifc->group_port : ifc->mqttsn_port, o))
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

static size_t write_udp6(uint8_t *b, const struct l2l4_udp_spec *s, size_t inline_len, uint32_t inline_sum,
			 size_t ext_len, uint32_t ext_sum);

size_t l2l4_write_udp(uint8_t *b, const struct l2l4_udp_spec *s, size_t inline_len, size_t ext_len, uint32_t ext_sum)
{
	if (inline_len > 65535 || ext_len > 65535 || L2L4_IP_HLEN + L2L4_UDP_HLEN + inline_len + ext_len > 65535)
		return 0; /* before reading the inline bytes */
	size_t hl = l2l4_spec_hdr_len(s);
	uint32_t inline_sum = inline_len ? l2l4_csum_add(0, b + hl, inline_len) : 0;
	return l2l4_write_udp_sums(b, s, inline_len, inline_sum, ext_len, ext_sum);
}

size_t l2l4_write_udp_sums(uint8_t *b, const struct l2l4_udp_spec *s, size_t inline_len, uint32_t inline_sum,
			   size_t ext_len, uint32_t ext_sum)
{
	if (__builtin_expect(s->dst_ip6 != NULL, 0))
		return write_udp6(b, s, inline_len, inline_sum, ext_len, ext_sum);
	return l2l4_write_udp4_sums(b, s, inline_len, inline_sum, ext_len, ext_sum);
}

size_t l2l4_write_udp4_sums(uint8_t *b, const struct l2l4_udp_spec *s, size_t inline_len, uint32_t inline_sum,
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

/* IPv6 header: version 6, traffic class and flow label 0. */
static void write_ip6(uint8_t *ip, uint16_t plen, uint8_t nh, uint8_t hlim, const uint8_t *src, const uint8_t *dst)
{
	wr32(ip, 0x60000000u);
	wr16(ip + 4, plen);
	ip[6] = nh;
	ip[7] = hlim;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
}

static size_t write_udp6(uint8_t *b, const struct l2l4_udp_spec *s, size_t inline_len, uint32_t inline_sum,
			 size_t ext_len, uint32_t ext_sum)
{
	size_t ulen = L2L4_UDP_HLEN + inline_len + ext_len;
	if (ulen > 65535)
		return 0; /* no jumbograms */
	size_t off = l2l4_write_eth(b, s->dst_mac, s->src_mac, s->vlan, L2L4_ETHERTYPE_IPV6);
	uint8_t *ip = b + off;
	write_ip6(ip, (uint16_t)ulen, IPPROTO_UDP_, 64, s->src_ip6, s->dst_ip6);
	uint8_t *u = ip + L2L4_IP6_HLEN;
	wr16(u, s->src_port);
	wr16(u + 2, s->dst_port);
	wr16(u + 4, (uint16_t)ulen);
	uint32_t sum = pseudo_sum6(s->src_ip6, s->dst_ip6, IPPROTO_UDP_, (uint32_t)ulen) + s->src_port + s->dst_port +
		       (uint32_t)ulen;
	sum += l2l4_csum_fold(inline_sum);
	if (ext_len)
		sum += (inline_len & 1) ? l2l4_csum_shift(ext_sum) : l2l4_csum_fold(ext_sum);
	uint16_t ck = (uint16_t)~l2l4_csum_fold(sum);
	wr16(u + 6, ck ? ck : 0xffff); /* 0 is no checksum, invalid over IPv6 */
	return off + L2L4_IP6_HLEN + L2L4_UDP_HLEN;
}

void l2l4_icmp6_echo_to_reply(uint8_t *f, const struct l2l4_pkt *p, const uint8_t dst_mac[6], const uint8_t src_mac[6])
{
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	uint8_t *ip = f + p->l2_len;
	memcpy(ip + 8, p->dst_ip6, 16);
	memcpy(ip + 24, p->src_ip6, 16);
	ip[7] = 64;
	uint8_t *icmp = f + p->payload_off;
	icmp[0] = ICMP6_ECHO_REPLY;
	wr16(icmp + 2, 0);
	uint32_t sum = pseudo_sum6(ip + 8, ip + 24, IPPROTO_ICMPV6_, p->payload_len);
	wr16(icmp + 2, (uint16_t)~l2l4_csum_fold(l2l4_csum_add(sum, icmp, p->payload_len)));
}

/* An NS or NA with one link-layer address option carrying our MAC. */
static size_t build_nd(uint8_t *b, const struct l2l4_iface *ifc, const uint8_t eth_dst[6], const uint8_t src[16],
		       const uint8_t dst[16], uint8_t type, uint32_t flags, const uint8_t target[16])
{
	size_t off = l2l4_write_eth(b, eth_dst, ifc->mac, ifc->vlan, L2L4_ETHERTYPE_IPV6);
	uint8_t *ip = b + off;
	write_ip6(ip, L2L4_ND_LEN, IPPROTO_ICMPV6_, ND_HOP_LIMIT, src, dst);
	uint8_t *m = ip + L2L4_IP6_HLEN;
	m[0] = type;
	m[1] = 0;
	wr16(m + 2, 0);
	wr32(m + 4, flags);
	memcpy(m + 8, target, 16);
	m[24] = type == ND_NS ? ND_OPT_SLLA : ND_OPT_TLLA;
	m[25] = 1;
	memcpy(m + 26, ifc->mac, 6);
	uint32_t sum = pseudo_sum6(src, dst, IPPROTO_ICMPV6_, L2L4_ND_LEN);
	wr16(m + 2, (uint16_t)~l2l4_csum_fold(l2l4_csum_add(sum, m, L2L4_ND_LEN)));
	return off + L2L4_IP6_HLEN + L2L4_ND_LEN;
}

size_t l2l4_build_na(uint8_t *b, const struct l2l4_iface *ifc, const uint8_t eth_dst[6], const uint8_t dst_ip6[16],
		     const uint8_t target[16])
{
	return build_nd(b, ifc, eth_dst, target, dst_ip6, ND_NA, 0x60000000u /* solicited, override */, target);
}

size_t l2l4_build_ns(uint8_t *b, const struct l2l4_iface *ifc, const uint8_t src_ip6[16], const uint8_t target[16])
{
	uint8_t group[16];
	memcpy(group, SNM_PREFIX, 13);
	memcpy(group + 13, target + 13, 3);
	const uint8_t mac[6] = { 0x33, 0x33, 0xff, target[13], target[14], target[15] };
	return build_nd(b, ifc, mac, src_ip6, group, ND_NS, 0, target);
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
