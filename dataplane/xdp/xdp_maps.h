/* The XDP pre-filter's maps from user space, with libbpf and no DPDK. The dataplane takes them
 * from the program net_af_xdp attached (fo_xdp_take: pin under FO_XDP_PIN_ROOT/<interface>/,
 * write the address and ports) and lets them go at exit (fo_xdp_release: the pins removed);
 * fanout-control opens the pins (fo_xdp_open) to edit the blocklist and the rate limit. */
#ifndef FANOUT_XDP_MAPS_H
#define FANOUT_XDP_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/stats_schema.h"
#include "fanout/xdp_prefilter.h"
#include "xdp_prefix.h"

enum fo_xdp_map { FO_XM_XSKS, FO_XM_CFG, FO_XM_BLOCK4, FO_XM_BLOCK6, FO_XM_RATE, FO_XM_STATS, FO_XM_MAX };

struct fo_xdp {
	int fd[FO_XM_MAX]; /* -1: not open */
	char dir[128];     /* the pins' directory */
	uint32_t prog_id;  /* fo_xdp_take: the program found on the interface */
	bool pinned;       /* fo_xdp_take pinned the maps (fo_xdp_release removes them) */
};

extern const char *const fo_xdp_map_names[FO_XM_MAX];

void fo_xdp_init(struct fo_xdp *x);
/* The program attached to ifindex, if it is the pre-filter (it has every map above): 1 with the
 * maps open and pinned in FO_XDP_PIN_ROOT/ifname (stale pins of an earlier run replaced), 0 when
 * the interface has no XDP program or another one, -1 with err. */
int fo_xdp_take(struct fo_xdp *x, int ifindex, const char *ifname, char *err, size_t errlen);
/* The appliance's IPv4 address (host order), its IPv6 address (16 bytes, network order; NULL: the
 * port has none, IPv6 goes to the kernel) and UDP ports into fo_cfg; the rate limit kept. */
int fo_xdp_set_target(struct fo_xdp *x, uint32_t ipv4, const uint8_t *ipv6, const uint16_t *ports, int n_ports,
		      char *err, size_t errlen);
/* Removes the pins (and the directory) fo_xdp_take made and closes the maps. */
void fo_xdp_release(struct fo_xdp *x);
/* Detaches program prog_id from ifindex if it is still the one attached: 1 detached, else 0. */
int fo_xdp_detach(int ifindex, uint32_t prog_id);

/* Opens the pins in dir: 0, or -1 with err (naming the path and the errno). */
int fo_xdp_open(struct fo_xdp *x, const char *dir, char *err, size_t errlen);
void fo_xdp_close(struct fo_xdp *x);

/* Verdict counters summed over the CPUs: 0 or -1. */
int fo_xdp_verdicts(const struct fo_xdp *x, uint64_t out[FO_XDP_MAX]);

/* Blocklist: add (0; -1 with err, e.g. the trie full), delete (1 deleted, 0 absent, -1 error),
 * list (calls fn for each entry with the packets it dropped; returns the count or -1). */
int fo_xdp_block_add(struct fo_xdp *x, const struct fo_prefix *p, char *err, size_t errlen);
int fo_xdp_block_del(struct fo_xdp *x, const struct fo_prefix *p, char *err, size_t errlen);
int fo_xdp_block_list(const struct fo_xdp *x, void (*fn)(void *arg, const struct fo_prefix *p, uint64_t drops),
		      void *arg);

/* Rate limit per source (pps 0: off). set also forgets every source's bucket, so the new
 * limit starts from a full burst. */
int fo_xdp_limit_set(struct fo_xdp *x, uint32_t pps, uint32_t burst, char *err, size_t errlen);
int fo_xdp_limit_get(const struct fo_xdp *x, uint32_t *pps, uint32_t *burst);

#endif
