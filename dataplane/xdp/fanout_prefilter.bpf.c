/* The XDP pre-filter in front of a net_af_xdp port: what is the appliance's (its UDP ports, and
 * ARP and ICMP for its address) goes to the AF_XDP socket of the rx queue, everything else to the
 * kernel; blocked sources and sources over their packet rate are dropped here, before either.
 * Loaded by the PMD (xdp_prog= devarg); dataplane/xdp/xdp_maps.c pins and edits the maps. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
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
	__type(key, __u32);
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
static __always_inline int over_rate(const struct fo_xdp_cfg *cfg, __be32 saddr)
{
	__u64 now, cap, elapsed, t;
	struct fo_xdp_bucket *b;

	if (!cfg->rate_pps)
		return 0;
	now = bpf_ktime_get_ns();
	cap = (__u64)cfg->rate_burst * FO_XDP_NS_PER_TOKEN;
	if (cap < FO_XDP_NS_PER_TOKEN)
		cap = FO_XDP_NS_PER_TOKEN;
	b = bpf_map_lookup_elem(&fo_rate, &saddr);
	if (!b) {
		struct fo_xdp_bucket nb = { .nanotokens = cap - FO_XDP_NS_PER_TOKEN, .last_ns = now };

		bpf_map_update_elem(&fo_rate, &saddr, &nb, BPF_ANY);
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
		return verdict(FO_XDP_PASSED, XDP_PASS);
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
	if (over_rate(cfg, ip->saddr))
		return verdict(FO_XDP_RATE_LIMITED, XDP_DROP);
	return to_appliance(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
