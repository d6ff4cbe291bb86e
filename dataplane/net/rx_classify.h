/* What the rx stage does with a parsed frame: to a worker (which one), answered here (ARP,
 * ICMP echo, Neighbor Solicitation, ICMPv6 echo) or finished with a named count. Pure (l2l4 + the neighbour table): the rx stage
 * (stage_rx.c) and bench/core_replay.c both decide through it, then act with their own buffers. */
#ifndef FANOUT_RX_CLASSIFY_H
#define FANOUT_RX_CLASSIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "broker_hash.h"
#include "fanout/stats_schema.h"
#include "l2l4.h"
#include "neighbour.h"

enum fo_rx_fate {
	FO_RX_TO_WORKER,  /* an MQTT-SN datagram for worker *worker (the worker accounts for it) */
	FO_RX_ANSWER_ARP, /* an ARP request for us, its sender learnt: answer in a fresh frame */
	FO_RX_ECHO,       /* an ICMP echo request, counted answered: reply through the neighbour table */
	FO_RX_DONE,       /* finished here and counted: a drop, or an ARP reply or ND advertisement learnt */
	FO_RX_ANSWER_NS,  /* a Neighbor Solicitation for us, its sender learnt: advertise in a fresh frame */
	FO_RX_ECHO6,      /* an ICMPv6 echo request, counted answered: reply through the IPv6 table */
};

/* ARP is learnt only from on-link senders, a reply only for an entry we asked for or know
 * (fo_neigh_arp_input); what is refused there is counted there. */
static inline enum fo_rx_fate fo_rx_decide(const struct l2l4_pkt *k, const struct l2l4_iface *ifc,
					   struct fo_neigh_table *nt, struct fo_neigh_table *nt6, struct fo_counters *c,
					   uint64_t now_ms, uint32_t n_workers, uint32_t *worker)
{
	switch (k->kind) {
	case L2L4_MQTTSN: *worker = bh_worker_of(k->src_ip, k->src_port, n_workers); return FO_RX_TO_WORKER;
	case L2L4_ARP_REQUEST:
		return fo_neigh_arp_input(nt, c, true, k->arp_sender_ip, k->arp_sender_mac, ifc->ip, ifc->netmask,
					  now_ms)
			       ? FO_RX_ANSWER_ARP
			       : FO_RX_DONE;
	case L2L4_ARP_REPLY:
		if (fo_neigh_arp_input(nt, c, false, k->arp_sender_ip, k->arp_sender_mac, ifc->ip, ifc->netmask,
				       now_ms))
			c->delivered++;
		return FO_RX_DONE;
	case L2L4_ICMP_ECHO: c->answered++; return FO_RX_ECHO;
	case L2L4_ND_SOLICIT:
		/* without a source link-layer address option (a unicast NS) nothing is learnt and
		 * the answer goes to the frame's source MAC */
		if (!k->nd_has_lladdr) {
			if (!l2l4_ip6_on_link(ifc, k->src_ip6)) {
				fo_count_drop(c, FO_DROP_ND_OFF_LINK);
				return FO_RX_DONE;
			}
			return FO_RX_ANSWER_NS;
		}
		return fo_neigh6_nd_input(nt6, c, true, k->src_ip6, k->nd_lladdr, l2l4_ip6_on_link(ifc, k->src_ip6),
					  now_ms)
			       ? FO_RX_ANSWER_NS
			       : FO_RX_DONE;
	case L2L4_ND_ADVERT:
		if (fo_neigh6_nd_input(nt6, c, false, k->nd_target, k->nd_lladdr, l2l4_ip6_on_link(ifc, k->nd_target),
				       now_ms))
			c->delivered++;
		return FO_RX_DONE;
	case L2L4_ICMP6_ECHO:
		c->answered++;
		c->ev[FO_EV_ICMP6_ECHO_REQUESTS]++;
		return FO_RX_ECHO6;
	case L2L4_IPV4_FRAGMENT: /* the rx stage reassembles before deciding; here it is not */
		fo_count_drop(c, FO_DROP_IP_FRAGMENT);
		return FO_RX_DONE;
	case L2L4_IPV6_FRAGMENT: fo_count_drop(c, FO_DROP_IP6_FRAGMENT); return FO_RX_DONE;
	case L2L4_DROP:
	default: fo_count_drop(c, k->drop); return FO_RX_DONE;
	}
}

#endif
