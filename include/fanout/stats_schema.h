/* Stats schema shared by the dataplane (writer) and control plane / tools (readers).
 * One X-macro list per family: the enum, the names in the JSON snapshot and (later)
 * the Prometheus labels are all generated from these lists, so they cannot drift.
 * Plain C, no DPDK types: pure modules (codec, broker engine) increment these too. */
#ifndef FANOUT_STATS_SCHEMA_H
#define FANOUT_STATS_SCHEMA_H

#include <stdint.h>

/* Terminal fate of a received packet: every rx packet ends in exactly one of
 * delivered, answered, or one drop reason below (rx == delivered + answered + dropped). */
#define FO_FOREACH_DROP(_)                                                         \
	_(ETH_RUNT, "eth_runt")                 /* shorter than an Ethernet header */  \
	_(ETH_NOT_FOR_US, "eth_not_for_us")     /* dst MAC neither ours nor bcast */   \
	_(ETH_UNKNOWN_TYPE, "eth_unknown_type") /* ethertype not IPv4/ARP */           \
	_(VLAN_MISMATCH, "vlan_mismatch")       /* tag absent/other than configured */ \
	_(ARP_MALFORMED, "arp_malformed")                                              \
	_(ARP_NOT_FOR_US, "arp_not_for_us")     /* request for another address */      \
	_(ARP_OFF_LINK, "arp_off_link")         /* sender not a host of the port's subnet */ \
	_(ARP_UNSOLICITED, "arp_unsolicited")   /* reply for an address we neither asked for nor know */ \
	_(ARP_STATIC_CONFLICT, "arp_static_conflict") /* reply claiming a static neighbour's address with another MAC */ \
	_(IP_RUNT, "ip_runt")                                                          \
	_(IP_BAD_VERSION, "ip_bad_version")                                            \
	_(IP_BAD_IHL, "ip_bad_ihl")                                                    \
	_(IP_BAD_LENGTH, "ip_bad_length")                                              \
	_(IP_BAD_CKSUM, "ip_bad_cksum")                                                \
	_(IP_FRAGMENT, "ip_fragment")                                                  \
	_(IP_NOT_FOR_US, "ip_not_for_us")                                              \
	_(IP_SRC_THIS_NET, "ip_src_this_net")   /* martian source 0.0.0.0/8 */          \
	_(IP_SRC_LOOPBACK, "ip_src_loopback")   /* martian source 127.0.0.0/8 */        \
	_(IP_SRC_MULTICAST, "ip_src_multicast") /* martian source 224.0.0.0/4 */        \
	_(IP_SRC_RESERVED, "ip_src_reserved")   /* martian source 240.0.0.0/4 */        \
	_(IP_SRC_BROADCAST, "ip_src_broadcast") /* 255.255.255.255 or the subnet's */   \
	_(IP_SRC_OURS, "ip_src_ours")           /* our own address as the source */     \
	_(IP_PROTO_UNSUPPORTED, "ip_proto_unsupported")                                \
	_(ICMP_MALFORMED, "icmp_malformed")                                            \
	_(ICMP_BAD_CKSUM, "icmp_bad_cksum")                                            \
	_(ICMP_UNSUPPORTED, "icmp_unsupported") /* anything but echo request */        \
	_(UDP_MALFORMED, "udp_malformed")                                              \
	_(UDP_BAD_CKSUM, "udp_bad_cksum")                                              \
	_(UDP_NO_LISTENER, "udp_no_listener")   /* not our MQTT-SN port */             \
	_(UDP_SRC_PORT_LOW, "udp_src_port_low") /* source port below security.min_source_port */ \
	_(WORKER_RING_FULL, "worker_ring_full") /* rx -> worker ring congested */      \
	_(MQTTSN_MALFORMED, "mqttsn_malformed") /* length/field errors */              \
	_(MQTTSN_UNKNOWN_TYPE, "mqttsn_unknown_type")                                  \
	_(MQTTSN_UNEXPECTED, "mqttsn_unexpected") /* valid type a gateway never takes */ \
	_(MQTTSN_BAD_TOPIC, "mqttsn_bad_topic")   /* QoS -1 to unknown topic: no reply exists */ \
	_(MQTTSN_STALE_ACK, "mqttsn_stale_ack")   /* ack for nothing outstanding */    \
	_(MQTTSN_DUP_PENDING, "mqttsn_dup_pending") /* DUP resend of a publish whose PUBACK is still due */ \
	_(MQTTSN_NOT_CONNECTED, "mqttsn_not_connected") /* DISCONNECT (or ack) from an unknown client: never answered */ \
	_(ERROR_REPLY_LIMITED, "error_reply_limited") /* error reply over the per-source rate: not sent */ \
	_(MQTTSN_UNPROVEN, "mqttsn_unproven")     /* wrong proof echo, or a message an unproven address may not get answered */ \
	_(REPLY_FAILED, "reply_failed")           /* reply could not be built/queued */ \
	_(SHUTDOWN, "shutdown")                   /* drained from rings at exit */

/* Fate of a packet the appliance generated (replies, deliveries, retransmissions):
 * out_generated == out_sent + out_dropped. */
#define FO_FOREACH_OUT_DROP(_)                                                     \
	_(HDR_POOL_EMPTY, "hdr_pool_empty")                                            \
	_(NO_NEIGHBOUR, "no_neighbour")         /* next hop MAC not (yet) known */     \
	_(TX_RING_FULL, "tx_ring_full")                                                \
	_(TX_BURST_FAIL, "tx_burst_fail")       /* NIC refused after one retry */      \
	_(FRAME_TOO_BIG, "frame_too_big")       /* reply larger than a header mbuf's room */ \
	_(FLATTEN_FAILED, "flatten_failed")     /* chain -> one segment for a port without multi-seg tx: no mbuf or too long */ \
	_(SHUTDOWN, "out_shutdown")

/* Informational event counters (not part of the conservation sums). */
#define FO_FOREACH_EVENT(_)                                                        \
	_(ARP_LEARNT, "arp_learnt")                                                    \
	_(ARP_REQUESTS_SENT, "arp_requests_sent")                                      \
	_(ARP_REQUEST_LIMITED, "arp_request_limited") /* not sent: the port's arp_requests_per_s spent */ \
	_(ARP_NOT_LEARNT, "arp_not_learnt")      /* request answered, its sender not learnt: window full */ \
	_(ARP_EVICTED, "arp_evicted")            /* oldest entry of a full window made room for a needed address */ \
	_(ARP_EXPIRED, "arp_expired")            /* aged out: unconfirmed past arp_max_age_s, or asked and unanswered */ \
	_(CONNECT_ACCEPTED, "connect_accepted")                                        \
	_(CONNECT_REJECTED_CONGESTION, "connect_rejected_congestion")                  \
	_(CONNECT_REJECTED_UNSUPPORTED, "connect_rejected_unsupported")                \
	_(CONNECT_REJECTED_KEEPALIVE, "connect_rejected_keepalive") /* outside security.keepalive_* */ \
	_(CONNECT_REJECTED_ADMISSION, "connect_rejected_admission") /* client id bound to other sources */ \
	_(CONNECT_REJECTED_OWNER, "connect_rejected_owner") /* live, proven client id from another IP */ \
	_(CONNECT_REJECTED_QUOTA, "connect_rejected_quota") /* security.sessions_per_source reached */ \
	_(SESSION_REPLACED, "session_replaced")  /* same client id, new address */     \
	_(SESSION_EVICTED_UNPROVEN, "session_evicted_unproven") /* table full: an unproven session made room */ \
	_(SESSION_UNPROVEN_EXPIRED, "session_unproven_expired") /* proof not echoed in time */ \
	_(SESSION_UNRESPONSIVE, "session_unresponsive") /* paused and still silent, or too many give-ups */ \
	_(SESSION_PAUSED, "session_paused")      /* stopped acknowledging: deliveries paused */ \
	_(PROOF_SENT, "proof_sent")              /* proof REGISTERs sent (first and resent) */ \
	_(ADDRESS_PROVEN, "address_proven")      /* a proof REGISTER was echoed */      \
	_(PROOF_MISMATCH, "proof_mismatch")      /* a REGACK that did not echo the proof */ \
	_(SESSION_EXPIRED, "session_expired")    /* keepalive x1.5 passed */           \
	_(SESSION_DISCONNECTED, "session_disconnected")                                \
	_(NOT_CONNECTED, "not_connected")        /* message from unknown client */     \
	_(REGISTER_ACCEPTED, "register_accepted")                                      \
	_(REGISTER_REJECTED, "register_rejected")                                      \
	_(REGISTER_REJECTED_QUOTA, "register_rejected_quota") /* security.topics_per_session */ \
	_(REGISTER_SENT, "register_sent")        /* gateway -> wildcard subscriber */  \
	_(REGISTER_RESENT, "register_resent")    /* a REGISTER unanswered, sent again */ \
	_(PUBLISH_ACCEPTED, "publish_accepted")                                        \
	_(PUBLISH_QOS_M1, "publish_qos_m1")                                            \
	_(PUBLISH_NO_MATCH, "publish_no_match")                                        \
	_(PUBLISH_INVALID_TOPIC, "publish_invalid_topic")                              \
	_(PUBLISH_UNSUPPORTED, "publish_unsupported") /* QoS 2 */                      \
	_(PUBLISH_CONGESTION, "publish_congestion")                                    \
	_(PUBLISH_DUP_SUPPRESSED, "publish_dup_suppressed") /* a QoS 1 DUP resend answered, not delivered again */ \
	_(DELIVERIES, "deliveries")              /* copies handed to subscribers */    \
	_(DELIVERY_QOS1, "deliveries_qos1")                                            \
	_(DELIVERY_INFLIGHT_FULL, "delivery_inflight_full")                            \
	_(ERROR_REPLIES_LIMITED, "error_replies_limited") /* refusals not sent: over security.error_replies_per_s */ \
	_(DELIVERY_HOLD_FULL, "delivery_hold_full") /* QoS 1 copy skipped: mempool.held_mbufs exhausted */ \
	_(DELIVERY_UNPROVEN, "delivery_unproven")  /* copy skipped: address not proven yet */ \
	_(DELIVERY_PAUSED, "delivery_paused")      /* copy skipped: session paused */  \
	_(DELIVERY_REG_PENDING, "delivery_reg_pending") /* copy skipped: its REGISTER awaits REGACK */ \
	_(QOS1_RETRANSMITS, "qos1_retransmits")                                        \
	_(QOS1_GIVEUPS, "qos1_giveups")          /* retry limit reached */             \
	_(QOS1_ACKED, "qos1_acked")                                                    \
	_(SUBSCRIBE_ACCEPTED, "subscribe_accepted")                                    \
	_(SUBSCRIBE_REJECTED, "subscribe_rejected")                                    \
	_(SUBSCRIBE_REJECTED_QUOTA, "subscribe_rejected_quota") /* per-session subscription/wildcard quota */ \
	_(SUBSCRIBE_REJECTED_DEPTH, "subscribe_rejected_depth") /* filter deeper than security.max_filter_levels */ \
	_(UNSUBSCRIBE, "unsubscribe")                                                  \
	_(PEER_FORWARDS, "peer_forwards")        /* publishes sent to other workers */ \
	_(PEER_RING_FULL, "peer_ring_full")                                            \
	_(PUBACK_DEFERRED, "puback_deferred")    /* written-mode sink: PUBACK after Redis */ \
	_(PUBACK_DEFERRED_FAILED, "puback_deferred_failed") /* ... and it said congestion */

#define FO_ENUM_(id, name) FO_DROP_##id,
enum fo_drop { FO_FOREACH_DROP(FO_ENUM_) FO_DROP_MAX };
#undef FO_ENUM_
#define FO_ENUM_(id, name) FO_OUT_DROP_##id,
enum fo_out_drop { FO_FOREACH_OUT_DROP(FO_ENUM_) FO_OUT_DROP_MAX };
#undef FO_ENUM_
#define FO_ENUM_(id, name) FO_EV_##id,
enum fo_event { FO_FOREACH_EVENT(FO_ENUM_) FO_EV_MAX };
#undef FO_ENUM_

/* Terminal classes of a received packet. */
enum fo_fate { FO_FATE_DELIVERED = 0, FO_FATE_ANSWERED = 1, FO_FATE_DROPPED = 2 };

/* One lcore's (or one worker engine's) counters. The dataplane keeps one per lcore,
 * cache-line aligned by the containing struct; readers sum. Plain increments only. */
struct fo_counters {
	uint64_t rx;          /* packets taken off the wire by this lcore */
	uint64_t delivered;   /* accepted for their purpose (publish fanned out, ack applied) */
	uint64_t answered;    /* the appliance replied and that was all */
	uint64_t dropped;     /* sum of drop[] */
	uint64_t drop[FO_DROP_MAX];
	uint64_t out_generated;
	uint64_t out_sent;
	uint64_t out_dropped; /* sum of out_drop[] */
	uint64_t out_drop[FO_OUT_DROP_MAX];
	uint64_t ev[FO_EV_MAX];
	uint64_t mqttsn_rx_type[256]; /* per MQTT-SN message type received */
};

static inline void fo_count_drop(struct fo_counters *c, enum fo_drop r)
{
	c->drop[r]++;
	c->dropped++;
}

static inline void fo_count_out_drop(struct fo_counters *c, enum fo_out_drop r)
{
	c->out_drop[r]++;
	c->out_dropped++;
}

extern const char *const fo_drop_names[FO_DROP_MAX];
extern const char *const fo_out_drop_names[FO_OUT_DROP_MAX];
extern const char *const fo_event_names[FO_EV_MAX];

#endif
