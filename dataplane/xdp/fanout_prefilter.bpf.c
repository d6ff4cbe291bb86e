/* The XDP pre-filter in front of a net_af_xdp port: what is the appliance's (its UDP ports, ARP and
 * ICMP for its IPv4 address; with an IPv6 address, UDP, ICMPv6 and fragments to it and Neighbor
 * Solicitations for it) goes to the AF_XDP socket of the rx queue, everything else to the kernel;
 * blocked sources and sources over their packet rate are dropped here, before either.
 * Loaded by the PMD (xdp_prog= devarg); dataplane/xdp/xdp_maps.c pins and edits the maps. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "fanout/stats_schema.h"
#include "fanout/xdp_prefilter.h"

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, FO_XDP_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fo_xdp_cfg);
} fo_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, FO_XDP_BLOCK_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fo_xdp_lpm4);
	__type(value, __u64);
} fo_block4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, FO_XDP_BLOCK_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fo_xdp_lpm6);
	__type(value, __u64);
} fo_block6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FO_XDP_RATE_ENTRIES);
	__type(key, struct fo_xdp_rate_key);
	__type(value, struct fo_xdp_bucket);
} fo_rate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FO_XDP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} fo_verdicts SEC(".maps");

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* ARP for IPv4 over Ethernet, the part after struct arphdr's fixed 8 bytes. */
struct arp_eth_ipv4 {
	__be16 hrd, pro;
	__u8 hln, pln;
	__be16 op;
	__u8 sha[ETH_ALEN];
	__be32 spa;
	__u8 tha[ETH_ALEN];
	__be32 tpa;
} __attribute__((packed));

/* A Neighbor Solicitation or Advertisement up to its target address (RFC 4861 4.3, 4.4). */
struct nd_msg_ {
	__u8 type, code;
	__sum16 cksum;
	__be32 flags;
	struct in6_addr target;
};

#define ND_SOLICIT_ 135
#define ND_ADVERT_ 136

static __always_inline int verdict(enum fo_xdp_verdict v, int action)
{
	__u32 k = v;
	__u64 *c = bpf_map_lookup_elem(&fo_verdicts, &k);

	if (c)
		*c += 1;
	return action;
}

static __always_inline int blocked4(__be32 saddr)
{
	struct fo_xdp_lpm4 k = { .prefixlen = 32 };
	__u64 *hits;

	__builtin_memcpy(k.addr, &saddr, 4);
	hits = bpf_map_lookup_elem(&fo_block4, &k);
	if (!hits)
		return 0;
	__sync_fetch_and_add(hits, 1);
	return 1;
}

static __always_inline int blocked6(const struct in6_addr *saddr)
{
	struct fo_xdp_lpm6 k = { .prefixlen = 128 };
	__u64 *hits;

	__builtin_memcpy(k.addr, saddr, 16);
	hits = bpf_map_lookup_elem(&fo_block6, &k);
	if (!hits)
		return 0;
	__sync_fetch_and_add(hits, 1);
	return 1;
}

/* Token bucket per source: refilled by rate_pps per second up to rate_burst, one token a packet.
 * Two CPUs updating one source's bucket at once may each spend the same token: the limit is
 * exact per rx queue and approximate across queues. */
static __always_inline int over_rate(const struct fo_xdp_cfg *cfg, const struct fo_xdp_rate_key *key)
{
	__u64 now, cap, elapsed, t;
	struct fo_xdp_bucket *b;

	if (!cfg->rate_pps)
		return 0;
	now = bpf_ktime_get_ns();
	cap = (__u64)cfg->rate_burst * FO_XDP_NS_PER_TOKEN;
	if (cap < FO_XDP_NS_PER_TOKEN)
		cap = FO_XDP_NS_PER_TOKEN;
	b = bpf_map_lookup_elem(&fo_rate, key);
	if (!b) {
		struct fo_xdp_bucket nb = { .nanotokens = cap - FO_XDP_NS_PER_TOKEN, .last_ns = now };

		bpf_map_update_elem(&fo_rate, key, &nb, BPF_ANY);
		return 0;
	}
	elapsed = now > b->last_ns ? now - b->last_ns : 0;
	if (elapsed > FO_XDP_MAX_ELAPSED_NS)
		elapsed = FO_XDP_MAX_ELAPSED_NS;
	t = b->nanotokens + elapsed * cfg->rate_pps;
	if (t > cap)
		t = cap;
	b->last_ns = now;
	if (t < FO_XDP_NS_PER_TOKEN) {
		b->nanotokens = t;
		return 1;
	}
	b->nanotokens = t - FO_XDP_NS_PER_TOKEN;
	return 0;
}

/* To the AF_XDP socket of the packet's rx queue; with none there, the kernel has it. */
static __always_inline int to_appliance(struct xdp_md *ctx)
{
	int act = bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);

	return verdict(act == XDP_REDIRECT ? FO_XDP_REDIRECTED : FO_XDP_NO_SOCKET, act);
}

static __always_inline int port_ours(const struct fo_xdp_cfg *cfg, __be16 dport)
{
	int i;

	for (i = 0; i < FO_XDP_MAX_PORTS; i++)
		if (cfg->ports_be[i] && cfg->ports_be[i] == dport)
			return 1;
	return 0;
}

static __always_inline int over_rate4(const struct fo_xdp_cfg *cfg, __be32 saddr)
{
	struct fo_xdp_rate_key k = { .family = 4 };

	__builtin_memcpy(k.addr, &saddr, 4);
	return over_rate(cfg, &k);
}

/* An IPv6 source is charged per /64 (see struct fo_xdp_rate_key). */
static __always_inline int over_rate6(const struct fo_xdp_cfg *cfg, const struct in6_addr *saddr)
{
	struct fo_xdp_rate_key k = { .family = 6 };

	__builtin_memcpy(k.addr, saddr, 8);
	return over_rate(cfg, &k);
}

static __always_inline int addr6_ours(const struct fo_xdp_cfg *cfg, const struct in6_addr *a)
{
	return a->in6_u.u6_addr32[0] == cfg->ipv6_be[0] && a->in6_u.u6_addr32[1] == cfg->ipv6_be[1] &&
	       a->in6_u.u6_addr32[2] == cfg->ipv6_be[2] && a->in6_u.u6_addr32[3] == cfg->ipv6_be[3];
}

/* IPv6 not blocked: the appliance's are UDP to its ports, ICMPv6 and fragments (next header 44:
 * the dataplane reassembles them or counts them) to its address, and Neighbor Solicitations whose
 * target is its address, whatever their destination (the solicited-node group, or the address
 * itself for a reachability probe). The answers to the appliance's own solicitations come to its
 * address (it solicits from it). ND is not charged to the source's bucket, as ARP is not; the rest
 * is. Everything else (link-local traffic, the kernel's addresses, router solicitations, MLD,
 * multicast Advertisements) is the kernel's, and so is all IPv6 when the port has no IPv6 address. */
static __always_inline int ipv6_in(struct xdp_md *ctx, const struct fo_xdp_cfg *cfg, struct ipv6hdr *ip6, void *end)
{
	void *l4 = ip6 + 1;
	int to_us, charge = 1;

	if (!cfg->ipv6_on)
		return verdict(FO_XDP_PASSED, XDP_PASS);
	to_us = addr6_ours(cfg, &ip6->daddr);
	if (ip6->nexthdr == IPPROTO_UDP) {
		struct udphdr *udp = l4;

		if (!to_us || (void *)(udp + 1) > end || !port_ours(cfg, udp->dest))
			return verdict(FO_XDP_PASSED, XDP_PASS);
	} else if (ip6->nexthdr == IPPROTO_FRAGMENT) {
		if (!to_us)
			return verdict(FO_XDP_PASSED, XDP_PASS);
	} else if (ip6->nexthdr == IPPROTO_ICMPV6) {
		struct nd_msg_ *nd = l4;

		if (l4 + 1 > end)
			return verdict(FO_XDP_PASSED, XDP_PASS);
		if (nd->type == ND_SOLICIT_) {
			if ((void *)(nd + 1) > end || !addr6_ours(cfg, &nd->target))
				return verdict(FO_XDP_PASSED, XDP_PASS);
			charge = 0;
		} else if (!to_us) {
			return verdict(FO_XDP_PASSED, XDP_PASS);
		} else if (nd->type == ND_ADVERT_) {
			charge = 0;
		}
	} else {
		return verdict(FO_XDP_PASSED, XDP_PASS);
	}
	if (charge && over_rate6(cfg, &ip6->saddr))
		return verdict(FO_XDP_RATE_LIMITED, XDP_DROP);
	return to_appliance(ctx);
}

SEC("xdp")
int fanout_prefilter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	const struct fo_xdp_cfg *cfg;
	void *l3;
	__be16 proto;
	__u32 zero = 0;

	if ((void *)(eth + 1) > end)
		return verdict(FO_XDP_PASSED, XDP_PASS);
	proto = eth->h_proto;
	l3 = eth + 1;
	if (proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr *v = l3;

		if ((void *)(v + 1) > end)
			return verdict(FO_XDP_PASSED, XDP_PASS);
		proto = v->proto;
		l3 = v + 1;
	}
	cfg = bpf_map_lookup_elem(&fo_cfg, &zero);
	if (!cfg)
		return verdict(FO_XDP_PASSED, XDP_PASS);

	if (proto == bpf_htons(ETH_P_ARP)) {
		struct arp_eth_ipv4 *a = l3;

		if ((void *)(a + 1) > end || !cfg->ipv4_be || a->tpa != cfg->ipv4_be)
			return verdict(FO_XDP_PASSED, XDP_PASS);
		if (blocked4(a->spa))
			return verdict(FO_XDP_BLOCKED, XDP_DROP);
		return to_appliance(ctx);
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;

		if ((void *)(ip6 + 1) > end)
			return verdict(FO_XDP_PASSED, XDP_PASS);
		if (blocked6(&ip6->saddr))
			return verdict(FO_XDP_BLOCKED, XDP_DROP);
		return ipv6_in(ctx, cfg, ip6, end);
	}
	if (proto != bpf_htons(ETH_P_IP))
		return verdict(FO_XDP_PASSED, XDP_PASS);

	struct iphdr *ip = l3;
	int ours = 0;

	if ((void *)(ip + 1) > end)
		return verdict(FO_XDP_PASSED, XDP_PASS);
	if (blocked4(ip->saddr))
		return verdict(FO_XDP_BLOCKED, XDP_DROP);
	if (cfg->ipv4_be && ip->daddr == cfg->ipv4_be && ip->protocol == IPPROTO_ICMP) {
		ours = 1;
	} else if ((!cfg->ipv4_be || ip->daddr == cfg->ipv4_be) && ip->protocol == IPPROTO_UDP) {
		__u32 ihl = ip->ihl * 4u;
		struct udphdr *udp = (void *)ip + ihl;

		if (ip->frag_off & bpf_htons(0x1fff))
			ours = cfg->ipv4_be != 0; /* a later fragment: the dataplane counts it */
		else if (ihl >= sizeof(*ip) && (void *)(udp + 1) <= end)
			ours = port_ours(cfg, udp->dest);
	}
	if (!ours)
		return verdict(FO_XDP_PASSED, XDP_PASS);
	if (over_rate4(cfg, ip->saddr))
		return verdict(FO_XDP_RATE_LIMITED, XDP_DROP);
	return to_appliance(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
