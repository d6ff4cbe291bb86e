/* Gateway discovery (MQTT-SN 6.1) without buffers: which ports an ADVERTISE leaves by and to which
 * MAC (an IPv6 group's too), the ADVERTISE message, the frame of an ADVERTISE or broadcast GWINFO
 * with its TTL or hop limit, the advertiser's schedule and the per-worker budget of GWINFO
 * broadcasts. Pure: the main lcore's advertiser (mgmt/advertise.c) and the worker stage build their
 * mbufs through it. */
#ifndef FANOUT_DISCOVERY_H
#define FANOUT_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "l2l4.h"

#define FO_DISC_LIMITED_BCAST 0xffffffffu

/* A port as the choice of ports needs it (host byte order). */
struct fo_disc_port {
	uint32_t ip, netmask, gateway;
};

/* Whether an ADVERTISE to dst leaves by port i of the n: every port for the limited broadcast and a
 * multicast group; else the first port dst is on link with (its subnet broadcast or a host there),
 * else the first port with a gateway (the route destinations' rule). */
bool fo_disc_port_sends(uint32_t dst, const struct fo_disc_port *ports, uint32_t n, uint32_t i);

/* The destination MAC of a frame to dst out of a port with address ip/netmask: true with mac filled
 * for the limited broadcast, the port's subnet broadcast (ff:ff:ff:ff:ff:ff) and a multicast group
 * (01:00:5e and the group's low 23 bits, RFC 1112); false for a host, whose MAC the neighbour table
 * gives. */
bool fo_disc_group_mac(uint32_t dst, uint32_t ip, uint32_t netmask, uint8_t mac[6]);

/* The destination MAC of a frame to the IPv6 multicast group g: 33:33 and the group's low 32 bits
 * (RFC 2464 7). */
void fo_disc_group6_mac(const uint8_t g[16], uint8_t mac[6]);

/* Whether dst is a broadcast address for a port with address ip/netmask (limited or the subnet's). */
bool fo_disc_is_broadcast(uint32_t dst, uint32_t ip, uint32_t netmask);

/* The IPv4 TTL (IPv6 hop limit) of a GWINFO answering a SEARCHGW of this radius: the radius in
 * hops, 0 meaning the whole network (5.3.9). */
static inline uint8_t fo_disc_radius_ttl(uint8_t radius)
{
	return radius ? radius : 255;
}

/* The ADVERTISE of gateway gw_id whose next one follows in duration_s (5.4.1), through the codec:
 * its length, or -1 when cap is too small. */
int fo_disc_advertise_msg(uint8_t *buf, size_t cap, uint8_t gw_id, uint16_t duration_s);

/* A frame carrying msg (len bytes) addressed per s (IPv4, or IPv6 when s->dst_ip6) with TTL (hop
 * limit) ttl, the checksums right: its length, or 0 when room is too small. */
size_t fo_disc_frame(uint8_t *b, size_t room, const struct l2l4_udp_spec *s, uint8_t ttl, const uint8_t *msg,
		     uint16_t len);

/* One port's ADVERTISE schedule. Zeroed: due at once. */
struct fo_disc_timer {
	uint64_t next_ms;
	uint8_t tries; /* next-hop resolutions asked for the pending advert */
};

static inline bool fo_disc_due(const struct fo_disc_timer *t, uint64_t now_ms)
{
	return now_ms >= t->next_ms;
}
/* The advert went out: the next one interval_s later. */
void fo_disc_sent(struct fo_disc_timer *t, uint64_t now_ms, uint16_t interval_s);
/* The advert's unicast next hop is not resolved yet: try again in retry_ms, at most max_tries
 * times; then give this advert up (true: the caller counts it lost) and wait for the next. */
bool fo_disc_unresolved(struct fo_disc_timer *t, uint64_t now_ms, uint16_t interval_s, uint32_t retry_ms,
			uint8_t max_tries);

/* GWINFO broadcasts one worker may send: per_s a second, in bursts of at most per_s. Zeroed: full. */
struct fo_disc_budget {
	uint64_t last_ms;
	uint64_t milli; /* tokens x 1000 */
	bool started;
};
/* true and one broadcast taken when the budget allows one at now_ms. */
bool fo_disc_budget_take(struct fo_disc_budget *b, uint64_t now_ms, uint32_t per_s);

#endif
