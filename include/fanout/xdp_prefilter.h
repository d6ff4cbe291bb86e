/* The XDP pre-filter's maps as both sides see them: the BPF program
 * (dataplane/xdp/fanout_prefilter.bpf.c, built with clang -target bpf -ffreestanding) and the
 * user-space side that pins, reads and edits them (dataplane/xdp/xdp_maps.c). Plain C with
 * fixed-width types only, so one header compiles for both targets. */
#ifndef FANOUT_XDP_PREFILTER_H
#define FANOUT_XDP_PREFILTER_H

#include <stdint.h>

/* Map names (at most 15 characters: the kernel's BPF_OBJ_NAME_LEN). net_af_xdp looks up
 * "xsks_map" by that name and puts each rx queue's AF_XDP socket in it. The pins are
 * FO_XDP_PIN_ROOT/<interface>/<map name>. */
#define FO_XDP_MAP_XSKS "xsks_map"
#define FO_XDP_MAP_CFG "fo_cfg"
#define FO_XDP_MAP_BLOCK4 "fo_block4"
#define FO_XDP_MAP_BLOCK6 "fo_block6"
#define FO_XDP_MAP_RATE "fo_rate"
#define FO_XDP_MAP_STATS "fo_verdicts"
#define FO_XDP_PIN_ROOT "/sys/fs/bpf/fanout"

#define FO_XDP_MAX_QUEUES 64      /* xsks_map entries: rx queue indexes 0..63 */
#define FO_XDP_MAX_PORTS 4        /* UDP ports steered to the appliance */
#define FO_XDP_BLOCK_ENTRIES 4096 /* per address family */
#define FO_XDP_RATE_ENTRIES 65536 /* sources with a token bucket (LRU: the least recent goes) */

/* Bounds `limit set` enforces, so the program's token arithmetic cannot overflow:
 * tokens are kept in nanotokens (1e9 per packet), refill = elapsed_ns * pps with elapsed
 * capped at FO_XDP_MAX_ELAPSED_NS. */
#define FO_XDP_MAX_PPS 100000000u
#define FO_XDP_MAX_BURST 1000000u
#define FO_XDP_MAX_ELAPSED_NS 10000000000ull
#define FO_XDP_NS_PER_TOKEN 1000000000ull

/* fo_cfg, a one-entry array. The dataplane writes the addresses and ports when it takes the
 * port; `limit set` writes rate_pps and rate_burst (rate_pps 0: no limit). Network byte order
 * for the addresses and ports, as they sit in the packet. */
struct fo_xdp_cfg {
	uint32_t ipv4_be;                    /* the appliance's address: its ARP and ICMP too */
	uint16_t ports_be[FO_XDP_MAX_PORTS]; /* 0 = unused slot */
	uint32_t rate_pps;                   /* per source, 0 = no limit */
	uint32_t rate_burst;                 /* packets a source may send at once */
	uint32_t ipv6_on;                    /* 1: the port has an IPv6 address (ipv6_be); 0: IPv6 to the kernel */
	uint32_t ipv6_be[4];                 /* the appliance's IPv6 address, its bytes as in the packet */
};

/* LPM trie keys: prefixlen first, then the address in network byte order. Values: packets
 * dropped by the entry (uint64_t). */
struct fo_xdp_lpm4 {
	uint32_t prefixlen;
	uint8_t addr[4];
};
struct fo_xdp_lpm6 {
	uint32_t prefixlen;
	uint8_t addr[16];
};

/* fo_rate: one token bucket per source. The key is the family (4 or 6) and, for IPv4, the address
 * in addr[0..3] (addr[4..7] zero); for IPv6, the source's /64 prefix (its first 8 bytes): one host
 * may use every address of its /64, so a bucket per address would let it reset its bucket at will
 * and flush the LRU table. Network byte order; the family keeps the two apart. */
struct fo_xdp_rate_key {
	uint32_t family;
	uint8_t addr[8];
};
struct fo_xdp_bucket {
	uint64_t nanotokens;
	uint64_t last_ns;
};

#endif
