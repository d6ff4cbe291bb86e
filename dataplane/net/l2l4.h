/* Ethernet / 802.1Q / ARP / IPv4 / ICMP / IPv6 / ICMPv6 (echo, Neighbor Discovery) / UDP: classify
 * a received frame for the rx stage and build the headers of what the appliance sends. Pure C over bytes (no DPDK types) so
 * unit tests and fuzzers drive it directly; the rx and worker stages wrap it around mbufs. */
#ifndef FANOUT_L2L4_H
#define FANOUT_L2L4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/stats_schema.h"

#define L2L4_ETH_HLEN 14
#define L2L4_VLAN_HLEN 4
#define L2L4_IP_HLEN 20
#define L2L4_IP6_HLEN 40
#define L2L4_UDP_HLEN 8
/* The longest Ethernet/IP/UDP headers of a frame we send: tagged, IPv6. */
#define L2L4_UDP_HLEN_MAX (L2L4_ETH_HLEN + L2L4_VLAN_HLEN + L2L4_IP6_HLEN + L2L4_UDP_HLEN)
#define L2L4_ARP_LEN 28
#define L2L4_MIN_FRAME 60 /* without FCS: short frames are padded to this */

#define L2L4_ETHERTYPE_IPV4 0x0800
#define L2L4_ETHERTYPE_ARP 0x0806
#define L2L4_ETHERTYPE_VLAN 0x8100
#define L2L4_ETHERTYPE_IPV6 0x86dd
#define L2L4_ND_LEN 32 /* a Neighbor Solicitation/Advertisement with one link-layer address option */

/* Checksum offload verdicts handed in by the stage (from mbuf ol_flags). */
enum l2l4_ck { L2L4_CK_VERIFY = 0, L2L4_CK_GOOD = 1, L2L4_CK_BAD = 2 };

/* The receiving interface as the classifier needs it. */
struct l2l4_iface {
	uint8_t mac[6];
	uint32_t ip;           /* host byte order */
	uint32_t netmask;      /* host byte order, from the prefix length */
	uint16_t vlan;         /* 0 = untagged */
	uint16_t mqttsn_port;  /* host byte order */
	uint16_t min_src_port; /* MQTT-SN datagrams from lower source ports are dropped */
	uint16_t max_msg_len;  /* larger MQTT-SN messages are dropped (message_too_big); 0 = no limit */
	bool reassemble;       /* UDP fragments to us are L2L4_IPV4_FRAGMENT, else ip_fragment drops */
	uint32_t group;        /* host order: an IPv4 multicast group (gateway discovery's), 0 = none; UDP to */
	uint16_t group_port;   /* group:group_port is taken like UDP to a broadcast address (SEARCHGW) */
	bool has_ip6;          /* IPv6 configured: ip6 and ll6 are ours; without it IPv6 is eth_unknown_type */
	uint8_t ip6_prefix;    /* on-link prefix length of ip6 */
	uint8_t ip6[16];       /* global (or unique local) address */
	uint8_t ll6[16];       /* link-local address, fe80::/64 with the modified EUI-64 of mac */
	bool has_group6;       /* (with has_ip6) UDP to group6:group6_port in a frame to 33:33 + the */
	uint16_t group6_port;  /* group's low 32 bits is taken like UDP to a broadcast address (SEARCHGW); */
	uint8_t group6[16];    /* gateway discovery's IPv6 multicast group; group6_port 0 = mqttsn_port */
};

enum l2l4_kind {
	L2L4_DROP = 0,      /* see .drop */
	L2L4_ARP_REQUEST,   /* request for our address: answer it (sender learnt) */
	L2L4_ARP_REPLY,     /* reply addressed to us: learn the sender */
	L2L4_ICMP_ECHO,     /* echo request to our address: answer it */
	L2L4_MQTTSN,        /* UDP datagram to our MQTT-SN port: hand to a worker */
	L2L4_IPV4_FRAGMENT, /* fragment of a UDP datagram to our address: reassemble, then parse again */
	L2L4_ND_SOLICIT,    /* Neighbor Solicitation for one of our IPv6 addresses: answer it (sender learnt) */
	L2L4_ND_ADVERT,     /* Neighbor Advertisement to us: learn the target */
	L2L4_ICMP6_ECHO,    /* ICMPv6 echo request to one of our IPv6 addresses: answer it */
	L2L4_IPV6_FRAGMENT, /* IPv6 fragment (fragment header) of a UDP datagram to us: reassemble, parse again */
};

struct l2l4_pkt {
	enum l2l4_kind kind;
	enum fo_drop drop;           /* when kind == L2L4_DROP */
	uint16_t l2_len;             /* 14, or 18 with a VLAN tag */
	uint16_t l3_len;             /* IPv4 header length incl. options */
	uint16_t payload_off;        /* UDP payload (MQTT-SN message) or ICMP header offset */
	uint16_t payload_len;        /* UDP payload length, or ICMP message length */
	bool msg_sum_valid;          /* MQTT-SN: msg_sum was computed (software UDP checksum check) */
	uint16_t msg_sum;            /* MQTT-SN: l2l4_csum_add sum of the UDP payload, folded */
	uint32_t src_ip, dst_ip;     /* host byte order */
	uint16_t src_port, dst_port; /* host byte order */
	uint8_t src_mac[6];
	uint8_t arp_sender_mac[6]; /* ARP: sender hardware/protocol address */
	uint32_t arp_sender_ip;
	/* L2L4_IPV4_FRAGMENT: where this fragment's bytes sit in the datagram's IP payload
	 * (frag_off, frag_len, in bytes), whether more follow. frag and frag_id (the IPv4
	 * identification) are set for a UDP fragment to us also when it is dropped (message_too_big:
	 * the rx stage refuses the datagram's other fragments too). L2L4_IPV6_FRAGMENT the same, with
	 * the fragment header's 32-bit identification, l3_len 48 (header and fragment header). */
	uint16_t frag_off, frag_len;
	bool frag_more;
	bool frag;
	uint32_t frag_id;
	/* IPv6 (v6 set): src_ip is l2l4_ip6_key(src_ip6), dst_ip 0. The fields from src_ip6 on are
	 * written only for IPv6 frames (l2l4_parse clears what comes before them). */
	bool v6;
	bool nd_has_lladdr; /* ND: nd_lladdr holds the link-local address option */
	uint8_t src_ip6[16], dst_ip6[16];
	uint8_t nd_target[16]; /* ND: the target address */
	uint8_t nd_lladdr[6];  /* ND: the source (NS) or target (NA) link-layer address option */
};

/* Classify one frame. ip_ck/l4_ck carry offload verdicts (L2L4_CK_VERIFY = check in
 * software). Always fills out->kind (and out->drop when dropping).
 * A fragment is checked as far as its own bytes allow: IPv4 header, addresses, UDP, a length
 * that is a multiple of 8 unless it is the last, an end within 65535 bytes, and for the first
 * fragment the UDP ports and the announced length against max_msg_len; any fragment reaching
 * past max_msg_len (+ the UDP header) is message_too_big. A reassembled datagram is parsed
 * again whole, which checks its UDP checksum. */
void l2l4_parse(const uint8_t *frame, size_t len, const struct l2l4_iface *ifc, enum l2l4_ck ip_ck, enum l2l4_ck l4_ck,
		struct l2l4_pkt *out);

/* Internet checksum pieces. fo_csum_add sums 16-bit big-endian words of buf into sum as
 * if buf started at an even offset; a trailing odd byte is the high byte of a word. */
uint32_t l2l4_csum_add(uint32_t sum, const void *buf, size_t len);
/* folded, NOT complemented; inline: every header and copy folds a few sums */
static inline uint16_t l2l4_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16); /* <= 0x1fffe */
	sum = (sum & 0xffff) + (sum >> 16); /* <= 0xffff */
	return (uint16_t)sum;
}
/* l2l4_csum_add(0, p, len), the same value, for the few bytes of an MQTT-SN header: big-endian
 * words added inline, without the call and the eight-byte loop that pay off on a payload. */
static inline uint32_t l2l4_csum_short(const uint8_t *p, size_t len)
{
	uint32_t s = 0;
	size_t i = 0;
	for (; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (i < len)
		s += (uint32_t)p[i] << 8;
	return l2l4_csum_fold(s);
}
#define L2L4_CSUM_SHORT_MAX 16 /* callers use l2l4_csum_short up to this many bytes */

/* The sum of the bytes after the first hl of a block whose folded sum is block_sum, as if they
 * started at an even offset: block minus prefix (RFC 1624), byte-swapped when hl is odd. The
 * workers get a publish payload's sum this way from the message sum rx computed. */
uint16_t l2l4_csum_suffix(uint16_t block_sum, const uint8_t *block, size_t hl);

/* Sum of a block that sits at an odd offset in the checksummed data. */
static inline uint32_t l2l4_csum_shift(uint32_t block_sum)
{
	uint16_t f = l2l4_csum_fold(block_sum);
	return (uint32_t)(uint16_t)((f << 8) | (f >> 8));
}

/* Ethernet (+ VLAN) header; returns its length (14 or 18). */
size_t l2l4_write_eth(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6], uint16_t vlan, uint16_t ethertype);

/* A complete ARP frame (op 1 request, 2 reply), padded to 60 bytes; returns 60 or 64. */
size_t l2l4_build_arp(uint8_t *buf, uint16_t op, const uint8_t eth_dst[6], const uint8_t src_mac[6], uint32_t src_ip,
		      const uint8_t target_mac[6], uint32_t target_ip, uint16_t vlan);

struct l2l4_udp_spec {
	uint8_t src_mac[6], dst_mac[6];
	uint16_t vlan;
	uint32_t src_ip, dst_ip;     /* host byte order */
	uint16_t src_port, dst_port; /* host byte order */
	/* IPv6 when dst_ip6 is set (then src_ip6 too, and src_ip/dst_ip are not read): the 16-byte
	 * addresses, which must outlive the write. NULL: IPv4. */
	const uint8_t *src_ip6, *dst_ip6;
};

/* Length of Ethernet(+VLAN)/IPv4/UDP headers for this spec. */
static inline size_t l2l4_udp_hdr_len(uint16_t vlan)
{
	return L2L4_ETH_HLEN + (vlan ? L2L4_VLAN_HLEN : 0) + L2L4_IP_HLEN + L2L4_UDP_HLEN;
}

/* Length of the Ethernet(+VLAN)/IP/UDP headers of this spec: IPv6's are 20 bytes longer. */
static inline size_t l2l4_spec_hdr_len(const struct l2l4_udp_spec *s)
{
	return l2l4_udp_hdr_len(s->vlan) + (s->dst_ip6 ? L2L4_IP6_HLEN - L2L4_IP_HLEN : 0);
}

/* Write Ethernet/IP/UDP headers at buf (l2l4_spec_hdr_len bytes; IPv6 when s->dst_ip6). The UDP payload is
 * inline_len bytes already placed right after the headers, followed by ext_len bytes held
 * elsewhere whose l2l4_csum_add sum (from an even start) is ext_sum. Both checksums are
 * filled in. Returns the header length, or 0 if the datagram would exceed 65535 bytes. */
size_t l2l4_write_udp(uint8_t *buf, const struct l2l4_udp_spec *s, size_t inline_len, size_t ext_len, uint32_t ext_sum);
/* The same when the caller knows the inline bytes' sum (l2l4_csum_add from an even start):
 * fan-out copies share one MQTT-SN header, summed once. */
size_t l2l4_write_udp_sums(uint8_t *buf, const struct l2l4_udp_spec *s, size_t inline_len, uint32_t inline_sum,
			   size_t ext_len, uint32_t ext_sum);
/* l2l4_write_udp_sums for a spec known to be IPv4 (dst_ip6 not read): the fan-out loop's path. */
size_t l2l4_write_udp4_sums(uint8_t *buf, const struct l2l4_udp_spec *s, size_t inline_len, uint32_t inline_sum,
			    size_t ext_len, uint32_t ext_sum);

/* Turn an ICMP echo request (frame as classified, payload_off/payload_len from l2l4_parse)
 * into the echo reply in place: new Ethernet addresses, IPv4 addresses swapped (TTL 64,
 * options dropped is NOT done: the header is kept as is), type 0, checksums updated. */
void l2l4_icmp_echo_to_reply(uint8_t *frame, const struct l2l4_pkt *p, const uint8_t dst_mac[6],
			     const uint8_t src_mac[6]);

/* Turn an ICMPv6 echo request into its reply in place: new Ethernet addresses, the IPv6
 * addresses swapped (the reply comes from the address the request was sent to), hop limit 64,
 * type 129, checksum over the pseudo-header. */
void l2l4_icmp6_echo_to_reply(uint8_t *frame, const struct l2l4_pkt *p, const uint8_t dst_mac[6],
			      const uint8_t src_mac[6]);

/* A Neighbor Advertisement for our address `target` (solicited, override) from it to dst_ip6 at
 * eth_dst, with our MAC as the target link-layer address. Returns the frame length (86, or 90
 * tagged). */
size_t l2l4_build_na(uint8_t *buf, const struct l2l4_iface *ifc, const uint8_t eth_dst[6], const uint8_t dst_ip6[16],
		     const uint8_t target[16]);

/* A Neighbor Solicitation for target to its solicited-node group (ff02::1:ffXX:XXXX, MAC
 * 33:33:ff:XX:XX:XX), from src_ip6 (one of ours) with our MAC as the source link-layer address.
 * Returns the frame length (86, or 90 tagged). */
size_t l2l4_build_ns(uint8_t *buf, const struct l2l4_iface *ifc, const uint8_t src_ip6[16], const uint8_t target[16]);

/* Whether a is one of the interface's IPv6 addresses (global or link-local). */
bool l2l4_ip6_is_ours(const struct l2l4_iface *ifc, const uint8_t a[16]);

/* Whether a is a neighbour address on the interface's link: link-local (fe80::/64) or inside
 * the IPv6 prefix, unicast, not ours, not the subnet-router anycast (the prefix's all-zero host). */
bool l2l4_ip6_on_link(const struct l2l4_iface *ifc, const uint8_t a[16]);

/* Next hop of an IPv6 destination: dst itself when on-link (l2l4_ip6_on_link), else gw when
 * gw_set; false when there is none. */
bool l2l4_next_hop6(const struct l2l4_iface *ifc, const uint8_t dst[16], const uint8_t gw[16], bool gw_set,
		    uint8_t nh[16]);

/* The link-local address of a MAC: fe80::/64 with the modified EUI-64 (RFC 4291 2.5.1). */
void l2l4_ip6_link_local(const uint8_t mac[6], uint8_t ll[16]);

/* A client's IPv6 address as the 32-bit key the rest of the appliance keys clients by where an
 * IPv4 client has its address (worker choice, per-source quotas and rates): a seeded hash of its
 * /64, since one host may use any address of its /64. */
uint32_t l2l4_ip6_key(const uint8_t a[16]);

/* Next hop for dst on an interface: dst itself when on-link, else the gateway (0 = none). */
static inline uint32_t l2l4_next_hop(uint32_t dst, uint32_t ip, uint32_t netmask, uint32_t gateway)
{
	return ((dst ^ ip) & netmask) == 0 ? dst : gateway;
}

#endif
