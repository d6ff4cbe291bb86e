/* Neighbour table of one port: IPv4 -> MAC (ARP) or, a second instance, IPv6 -> MAC (ND), written by rx lcores (ARP) and by whoever
 * needs a next hop (pending entries), aged by the main lcore, read by every lcore that builds
 * frames. Lock-free: C11 atomics, open addressing over a bounded probe window, a generation
 * tag per slot so a slot can be freed and reused while readers probe it. Pure C. */
#ifndef FANOUT_NEIGHBOUR_H
#define FANOUT_NEIGHBOUR_H

#include <stdbool.h>
#include <stdint.h>

#include "fanout/stats_schema.h"

/* An address lives in one of the FO_NEIGH_WAYS slots from its hash on (fewer when the table is
 * smaller): lookups cost at most that many probes however the table fills, and a full window
 * is where eviction picks its victim. */
#define FO_NEIGH_WAYS 32

struct fo_neigh_table;

struct fo_neigh_conf {
	uint32_t capacity;       /* rounded up to a power of two, at least 16 */
	uint64_t seed[2];        /* hash key: random per process (getrandom), so senders cannot aim at a window */
	uint32_t max_age_ms;     /* a resolved entry not confirmed by ARP for this long is freed; 0 = never */
	uint32_t pending_ms;     /* an entry we asked for and got no reply within this long is freed */
	uint32_t requests_per_s; /* ARP requests for the whole table per second (bursts of a tenth of a
				  * second's worth, at least 16); 0 = no limit */
	bool ipv6;               /* an IPv6 table: use the fo_neigh6_ functions (and the common ones
				  * taking no address: age, count, capacity, version, request_allowed) */
};

/* NULL on allocation failure. */
struct fo_neigh_table *fo_neigh_create(const struct fo_neigh_conf *conf);
void fo_neigh_destroy(struct fo_neigh_table *t);

/* What an ARP sender (ip, mac) did to the table. */
enum fo_neigh_result {
	FO_NEIGH_REFRESHED,       /* known with that MAC: confirmed now */
	FO_NEIGH_RESOLVED,        /* was pending (we asked for it): now has its MAC */
	FO_NEIGH_MOVED,           /* was resolved with another MAC: changed */
	FO_NEIGH_CREATED,         /* new entry (create only, in a free slot) */
	FO_NEIGH_ABSENT,          /* no entry and create not allowed: unsolicited */
	FO_NEIGH_NO_ROOM,         /* create allowed, but every slot of the window is taken */
	FO_NEIGH_STATIC_SAME,     /* a static entry with the same MAC: nothing to do */
	FO_NEIGH_STATIC_CONFLICT, /* a static entry with another MAC: left as configured */
	FO_NEIGH_INVALID,         /* ip 0 */
};

/* Learn from an ARP sender. Existing non-static entries (pending or resolved) take the MAC
 * and count as confirmed at now_ms. A missing one is created only when create is set (an ARP
 * request for our own address: RFC 826 learns the requester) and only in a free slot: a
 * request never evicts anything. */
enum fo_neigh_result fo_neigh_learn(struct fo_neigh_table *t, uint32_t ip, const uint8_t mac[6], uint64_t now_ms,
				    bool create);

/* A configured neighbour: never aged, evicted or changed by ARP. Call before lcores start.
 * FO_NEIGH_CREATED, FO_NEIGH_STATIC_SAME/CONFLICT (already static), FO_NEIGH_NO_ROOM or
 * FO_NEIGH_INVALID. */
enum fo_neigh_result fo_neigh_add_static(struct fo_neigh_table *t, uint32_t ip, const uint8_t mac[6]);

/* true and *mac filled when ip is resolved. */
bool fo_neigh_lookup(const struct fo_neigh_table *t, uint32_t ip, uint8_t mac[6]);

/* fo_neigh_lookup that also says (*stale) when a learnt entry has gone unconfirmed for half
 * its max age: the caller keeps using the MAC and asks again (fo_neigh_should_request), so a
 * neighbour that answers never expires while it is used. */
bool fo_neigh_resolve(const struct fo_neigh_table *t, uint32_t ip, uint64_t now_ms, uint8_t mac[6], bool *stale);

/* ip is needed and unresolved (or stale): true when the caller should send an ARP request
 * now (at most one per interval_ms per address across all lcores). Creates a pending entry;
 * when the window is full, the oldest unanswered (pending) entry in it makes room, else the least
 * recently confirmed resolved one; never a static one (*evicted set). */
bool fo_neigh_should_request(struct fo_neigh_table *t, uint32_t ip, uint64_t now_ms, uint32_t interval_ms,
			     bool *evicted);

/* The table-wide ARP request budget (GCRA over conf.requests_per_s): true and one request taken
 * when a request may go out at now_ms. Lock-free (one CAS); callers ask it only after
 * fo_neigh_should_request said yes, so per-address and table-wide limits both hold. */
bool fo_neigh_request_allowed(struct fo_neigh_table *t, uint64_t now_ms);

/* Aging, by one thread at a time (the main lcore): look at the next `slots` slots (a cursor
 * wraps around the table) and free resolved entries older than max_age_ms and pending ones
 * older than pending_ms. A resolved entry that reaches half its max age moves the version once,
 * so readers that cached its MAC look it up again (and re-ask, see fo_neigh_resolve) while they
 * still use it. Returns the entries freed; *resolved / *pending split them. */
uint32_t fo_neigh_age(struct fo_neigh_table *t, uint64_t now_ms, uint32_t slots, uint32_t *resolved, uint32_t *pending);

uint32_t fo_neigh_count(const struct fo_neigh_table *t);             /* live entries: resolved, pending, static */
uint32_t fo_neigh_capacity(const struct fo_neigh_table *t);          /* slots */
uint32_t fo_neigh_home(const struct fo_neigh_table *t, uint32_t ip); /* first slot of ip's window (tests) */

/* Changes whenever an entry gets a MAC, changes it, is removed or goes stale: a reader that
 * cached a lookup made at version v may keep using it while the version is still v. */
uint64_t fo_neigh_version(const struct fo_neigh_table *t);

/* Iterate resolved entries (stats); returns entries visited. */
uint32_t fo_neigh_foreach(const struct fo_neigh_table *t, void (*fn)(void *arg, uint32_t ip, const uint8_t mac[6]),
			  void *arg);

/* An ARP sender we may learn: inside the port's subnet (ip/netmask, host order) and a unicast
 * host there: not 0.0.0.0, not our own address, not loopback, multicast, class E or the limited
 * broadcast, and on prefixes of /30 or wider not the network or the subnet broadcast address. */
static inline bool fo_neigh_on_link(uint32_t ip, uint32_t own, uint32_t netmask)
{
	if (ip == 0 || ip == own || (ip >> 24) == 127 || (ip >> 28) >= 0xe)
		return false;
	if (((ip ^ own) & netmask) != 0)
		return false;
	uint32_t host = ip & ~netmask;
	if (~netmask > 1 && (host == 0 || host == ~netmask))
		return false;
	return true;
}

/* The rx stage's handling of ARP addressed to us (l2l4: a request for our address or a reply
 * with us as target), shared with bench/core_replay.c. Off-link senders are dropped
 * (arp_off_link). A request may create its sender's entry (never evicting: arp_not_learnt when
 * there is no room) and is then answered. A reply only updates an entry we asked for or know
 * (else arp_unsolicited), never a static one (another MAC: arp_static_conflict). Counts the drop
 * or the events into c; true when the packet is taken (the caller answers a request and counts
 * it answered, counts a reply delivered). */
bool fo_neigh_arp_input(struct fo_neigh_table *t, struct fo_counters *c, bool request, uint32_t sender_ip,
			const uint8_t sender_mac[6], uint32_t own_ip, uint32_t netmask, uint64_t now_ms);

/* Next hop nh of a frame about to be built: true with *mac when resolved. *ask says to send an
 * ARP request for nh now: when unresolved (a pending entry is made, maybe evicting another entry
 * of a full window: counted arp_evicted in c) or when resolved but stale, and the table's request
 * budget allows it (else arp_request_limited in c). Never creates an entry for an address that
 * is not an on-link host. */
bool fo_neigh_next_hop(struct fo_neigh_table *t, struct fo_counters *c, uint32_t nh, uint32_t own_ip, uint32_t netmask,
		       uint64_t now_ms, uint32_t retry_ms, uint8_t mac[6], bool *ask);

/* IPv6 (a table created with conf.ipv6). The same rules as ARP's, applied to Neighbor Discovery:
 * a solicitation for our address may create its sender's entry (never evicting), an advertisement
 * only updates an entry we asked for or know. */
enum fo_neigh_result fo_neigh6_learn(struct fo_neigh_table *t, const uint8_t a[16], const uint8_t mac[6],
				     uint64_t now_ms, bool create);
bool fo_neigh6_resolve(const struct fo_neigh_table *t, const uint8_t a[16], uint64_t now_ms, uint8_t mac[6],
		       bool *stale);
/* The rx stage's handling of a Neighbor Solicitation for our address (solicit, the sender's
 * source link-layer address) or an Advertisement to us (the target's): on_link says whether the
 * address is link-local or in the port's prefix (else nd_off_link). Counts like
 * fo_neigh_arp_input, with the nd_ reasons and events; true when taken (a solicitation is then
 * answered, an advertisement counts delivered). */
bool fo_neigh6_nd_input(struct fo_neigh_table *t, struct fo_counters *c, bool solicit, const uint8_t sender[16],
			const uint8_t mac[6], bool on_link, uint64_t now_ms);
/* fo_neigh_next_hop for an IPv6 next hop: *ask says to send a Neighbor Solicitation now. */
bool fo_neigh6_next_hop(struct fo_neigh_table *t, struct fo_counters *c, const uint8_t nh[16], bool on_link,
			uint64_t now_ms, uint32_t retry_ms, uint8_t mac[6], bool *ask);

#endif
