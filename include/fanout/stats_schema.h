/* Stats schema shared by the dataplane (writer) and control plane / tools (readers): the one
 * list of every counter. Each family is an X-macro list; the structs the packet path adds into,
 * their sums, the JSON of the control socket, the DPDK telemetry endpoints, Prometheus /metrics
 * and /api/schema are all generated from these lists, so no output can drift from another.
 * Plain C, no DPDK types: pure modules (codec, broker engine) increment these too.
 *
 * Labelled families (one Prometheus metric, one label per entry):
 *   _(ID, "name", "unit", "description")
 * Struct families (one uint64_t field per entry):
 *   _(field, "json key", "unit", "prometheus metric", "reason label", "description")
 * The telemetry key is the field's name. A metric ending in _total is a counter, else a gauge.
 * Entries sharing a metric carry its `reason` label and stand next to each other; a reason of
 * "*" marks a sum exported only through that labelled metric's series. */
#ifndef FANOUT_STATS_SCHEMA_H
#define FANOUT_STATS_SCHEMA_H

#include <stdint.h>

/* Terminal fate of a received packet: every rx packet ends in exactly one of delivered,
 * answered, merged into a reassembled datagram, or one drop reason below
 * (rx == delivered + answered + frag_merged + dropped). */
#define FO_FOREACH_DROP(_) \
	_(ETH_RUNT, "eth_runt", "packets", "shorter than an Ethernet header") \
	_(ETH_NOT_FOR_US, "eth_not_for_us", "packets", "dst MAC neither ours nor bcast") \
	_(ETH_UNKNOWN_TYPE, "eth_unknown_type", "packets", \
	  "ethertype not IPv4/ARP/IPv6, or IPv6 on a port without an IPv6 address") \
	_(VLAN_MISMATCH, "vlan_mismatch", "packets", "tag absent/other than configured") \
	_(ARP_MALFORMED, "arp_malformed", "packets", "ARP packet too short or not Ethernet/IPv4") \
	_(ARP_NOT_FOR_US, "arp_not_for_us", "packets", "request for another address") \
	_(ARP_OFF_LINK, "arp_off_link", "packets", "sender not a host of the port's subnet") \
	_(ARP_UNSOLICITED, "arp_unsolicited", "packets", "reply for an address we neither asked for nor know") \
	_(ARP_STATIC_CONFLICT, "arp_static_conflict", "packets", \
	  "reply claiming a static neighbour's address with another MAC") \
	_(IP_RUNT, "ip_runt", "packets", "shorter than an IPv4 header") \
	_(IP_BAD_VERSION, "ip_bad_version", "packets", "IP version not the ethertype's (4, or 6)") \
	_(IP_BAD_IHL, "ip_bad_ihl", "packets", "IPv4 header length below 20 bytes or past the frame") \
	_(IP_BAD_LENGTH, "ip_bad_length", "packets", "IPv4 total length beyond the frame or below the header") \
	_(IP_BAD_CKSUM, "ip_bad_cksum", "packets", "IPv4 header checksum wrong") \
	_(IP_FRAGMENT, "ip_fragment", "packets", \
	  "IPv4 fragment not reassembled: not UDP, to a broadcast address, or reassembly off") \
	_(FRAG_TABLE_FULL, "frag_table_full", "packets", \
	  "fragment of a new datagram: no room in the rx lcore's table (reassembly.max_flows)") \
	_(FRAG_TIMEOUT, "frag_timeout", "packets", "fragment of a datagram not complete within reassembly.timeout_ms") \
	_(FRAG_INVALID, "frag_invalid", "packets", \
	  "fragments of a datagram with an overlap, a duplicate or more than 8 fragments") \
	_(FRAG_NO_BUFFER, "frag_no_buffer", "packets", \
	  "reassembled datagram with no large mbuf free to hold it (mempool.large_mbufs)") \
	_(MESSAGE_TOO_BIG, "message_too_big", "packets", \
	  "MQTT-SN message over limits.max_message_bytes (each fragment that shows it)") \
	_(IP_NOT_FOR_US, "ip_not_for_us", "packets", "destination neither our address nor broadcast") \
	_(IP_SRC_THIS_NET, "ip_src_this_net", "packets", "martian source 0.0.0.0/8") \
	_(IP_SRC_LOOPBACK, "ip_src_loopback", "packets", "martian source 127.0.0.0/8") \
	_(IP_SRC_MULTICAST, "ip_src_multicast", "packets", "martian source 224.0.0.0/4") \
	_(IP_SRC_RESERVED, "ip_src_reserved", "packets", "martian source 240.0.0.0/4") \
	_(IP_SRC_BROADCAST, "ip_src_broadcast", "packets", "255.255.255.255 or the subnet's") \
	_(IP_SRC_OURS, "ip_src_ours", "packets", "our own address as the source") \
	_(IP_PROTO_UNSUPPORTED, "ip_proto_unsupported", "packets", \
	  "IP protocol (IPv6: next header) neither UDP nor ICMP") \
	_(IP6_RUNT, "ip6_runt", "packets", "shorter than an IPv6 header") \
	_(IP6_BAD_LENGTH, "ip6_bad_length", "packets", \
	  "IPv6 payload length beyond the frame; a fragment of a bad length or past 65535") \
	_(IP6_NOT_FOR_US, "ip6_not_for_us", "packets", \
	  "IPv6 destination neither our address nor (for Neighbor Solicitations) its solicited-node group") \
	_(IP6_SRC_MULTICAST, "ip6_src_multicast", "packets", "martian IPv6 source ff00::/8") \
	_(IP6_SRC_MARTIAN, "ip6_src_martian", "packets", \
	  "martian IPv6 source: :: (outside ND), ::1 or IPv4-mapped ::ffff:0:0/96") \
	_(IP6_EXT_HEADER, "ip6_ext_header", "packets", \
	  "IPv6 extension header (hop-by-hop, routing, destination options, ...) not handled") \
	_(IP6_FRAGMENT, "ip6_fragment", "packets", \
	  "IPv6 fragment not reassembled: not UDP, an atomic fragment, or reassembly off") \
	_(UDP6_ZERO_CKSUM, "udp6_zero_cksum", "packets", "UDP over IPv6 with checksum 0 (RFC 8200 8.1)") \
	_(ND_BAD_HOP_LIMIT, "nd_bad_hop_limit", "packets", \
	  "Neighbor Solicitation/Advertisement with hop limit not 255") \
	_(ND_MALFORMED, "nd_malformed", "packets", \
	  "Neighbor Solicitation/Advertisement: short, code not 0, multicast target or a bad option") \
	_(ND_NOT_FOR_US, "nd_not_for_us", "packets", "Neighbor Solicitation for another address") \
	_(ND_DAD, "nd_dad", "packets", "duplicate address detection probe (source ::) for our address: not answered") \
	_(ND_NO_LLADDR, "nd_no_lladdr", "packets", "Neighbor Advertisement without a target link-layer address") \
	_(ND_OFF_LINK, "nd_off_link", "packets", "ND sender neither link-local nor in the port's IPv6 prefix") \
	_(ND_UNSOLICITED, "nd_unsolicited", "packets", \
	  "Neighbor Advertisement for an address we neither asked for nor know") \
	_(ICMP_MALFORMED, "icmp_malformed", "packets", "ICMP or ICMPv6 message too short") \
	_(ICMP_BAD_CKSUM, "icmp_bad_cksum", "packets", "ICMP checksum wrong (ICMPv6: over the IPv6 pseudo-header)") \
	_(ICMP_UNSUPPORTED, "icmp_unsupported", "packets", \
	  "anything but echo request (and ICMPv6 Neighbor Discovery), or to a broadcast/multicast address") \
	_(UDP_MALFORMED, "udp_malformed", "packets", "UDP length wrong or datagram too short") \
	_(UDP_BAD_CKSUM, "udp_bad_cksum", "packets", "UDP checksum wrong") \
	_(UDP_NO_LISTENER, "udp_no_listener", "packets", "not our MQTT-SN port") \
	_(UDP_SRC_PORT_LOW, "udp_src_port_low", "packets", "source port below security.min_source_port") \
	_(WORKER_RING_FULL, "worker_ring_full", "packets", "rx -> worker ring congested") \
	_(MQTTSN_MALFORMED, "mqttsn_malformed", "packets", "length/field errors") \
	_(MQTTSN_UNKNOWN_TYPE, "mqttsn_unknown_type", "packets", "MQTT-SN message type unknown") \
	_(MQTTSN_UNEXPECTED, "mqttsn_unexpected", "packets", "valid type a gateway never takes") \
	_(MQTTSN_ENCAP_NESTED, "mqttsn_encap_nested", "packets", "an Encapsulated message inside another") \
	_(MQTTSN_NODE_ID_REFUSED, "mqttsn_node_id_refused", "packets", \
	  "Encapsulated message with an empty Wireless Node Id or one over 16 bytes") \
	_(MQTTSN_BAD_TOPIC, "mqttsn_bad_topic", "packets", "QoS -1 to unknown topic: no reply exists") \
	_(MQTTSN_STALE_ACK, "mqttsn_stale_ack", "packets", "ack for nothing outstanding") \
	_(MQTTSN_DUP_PENDING, "mqttsn_dup_pending", "packets", "DUP resend of a publish whose PUBACK is still due") \
	_(MQTTSN_NOT_CONNECTED, "mqttsn_not_connected", "packets", \
	  "DISCONNECT (or ack) from an unknown client: never answered") \
	_(ERROR_REPLY_LIMITED, "error_reply_limited", "packets", "error reply over the per-source rate: not sent") \
	_(MQTTSN_UNPROVEN, "mqttsn_unproven", "packets", \
	  "wrong proof echo, or a message an unproven address may not get answered") \
	_(REPLY_FAILED, "reply_failed", "packets", "reply could not be built/queued") \
	_(SHUTDOWN, "shutdown", "packets", "drained from rings at exit")

/* Fate of a packet the appliance generated (replies, deliveries, retransmissions):
 * out_generated == out_sent + out_dropped. */
#define FO_FOREACH_OUT_DROP(_) \
	_(HDR_POOL_EMPTY, "hdr_pool_empty", "packets", "no header mbuf left for a reply or copy") \
	_(NO_NEIGHBOUR, "no_neighbour", "packets", "next hop MAC not (yet) known") \
	_(TX_RING_FULL, "tx_ring_full", "packets", "tx ring to the tx lcore full") \
	_(TX_BURST_FAIL, "tx_burst_fail", "packets", "NIC refused after one retry") \
	_(FRAME_TOO_BIG, "frame_too_big", "packets", \
	  "reply larger than a header mbuf's room, or an encapsulated copy longer than one UDP datagram") \
	_(FLATTEN_FAILED, "flatten_failed", "packets", \
	  "chain -> one segment for a port without multi-seg tx: no mbuf or too long") \
	_(FRAGMENT_FAILED, "fragment_failed", "packets", \
	  "frame over the port's MTU that could not be split into IPv4 or IPv6 fragments (no mbuf)") \
	_(SHUTDOWN, "out_shutdown", "packets", "drained from tx rings at exit")

/* Informational event counters (not part of the conservation sums). */
#define FO_FOREACH_EVENT(_) \
	_(ARP_LEARNT, "arp_learnt", "events", "neighbour addresses learnt from ARP") \
	_(ARP_REQUESTS_SENT, "arp_requests_sent", "events", "ARP requests sent for next hops") \
	_(ARP_REQUEST_LIMITED, "arp_request_limited", "events", "not sent: the port's arp_requests_per_s spent") \
	_(ARP_NOT_LEARNT, "arp_not_learnt", "events", "request answered, its sender not learnt: window full") \
	_(ARP_EVICTED, "arp_evicted", "events", "oldest entry of a full window made room for a needed address") \
	_(ARP_EXPIRED, "arp_expired", "events", "aged out: unconfirmed past arp_max_age_s, or asked and unanswered") \
	_(FRAME_AWAITS_ARP, "frame_awaits_arp", "events", \
	  "a frame held (at most 64 per worker, 1 s) until its next hop answers ARP or ND") \
	_(ND_LEARNT, "nd_learnt", "events", \
	  "IPv6 neighbour addresses learnt from Neighbor Solicitations/Advertisements") \
	_(ND_SOLICITATIONS_SENT, "nd_solicitations_sent", "events", "Neighbor Solicitations sent for IPv6 next hops") \
	_(ND_SOLICITATION_LIMITED, "nd_solicitation_limited", "events", \
	  "not sent: the port's arp_requests_per_s (shared by ARP and ND tables) spent") \
	_(ND_NOT_LEARNT, "nd_not_learnt", "events", "solicitation answered, its sender not learnt: window full") \
	_(ND_EVICTED, "nd_evicted", "events", "oldest IPv6 entry of a full window made room for a needed address") \
	_(ND_EXPIRED, "nd_expired", "events", "IPv6 entries aged out: unconfirmed past arp_max_age_s, or unanswered") \
	_(ICMP6_ECHO_REQUESTS, "icmp6_echo_requests", "events", \
	  "ICMPv6 echo requests to our addresses taken to be answered (counted answered)") \
	_(CONNECT_ACCEPTED, "connect_accepted", "events", "CONNECTs accepted") \
	_(CONNECT_REJECTED_CONGESTION, "connect_rejected_congestion", "events", \
	  "CONNECTs refused: session table full") \
	_(CONNECT_REJECTED_UNSUPPORTED, "connect_rejected_unsupported", "events", \
	  "CONNECTs refused: unsupported flags or protocol") \
	_(CONNECT_REJECTED_KEEPALIVE, "connect_rejected_keepalive", "events", "outside security.keepalive_*") \
	_(CONNECT_REJECTED_ADMISSION, "connect_rejected_admission", "events", \
	  "ClientId's admission rule does not list the source (CONNACK 0x03)") \
	_(CONNECT_REJECTED_UNLISTED, "connect_rejected_unlisted", "events", \
	  "no admission rule lists the ClientId, security.admission_unlisted: reject (CONNACK 0x03)") \
	_(CONNECT_REJECTED_OWNER, "connect_rejected_owner", "events", "live, proven client id from another IP") \
	_(CONNECT_REJECTED_QUOTA, "connect_rejected_quota", "events", "security.sessions_per_source reached") \
	_(SESSION_REPLACED, "session_replaced", "events", "same client id, new address") \
	_(SESSION_EVICTED_UNPROVEN, "session_evicted_unproven", "events", "table full: an unproven session made room") \
	_(SESSION_UNPROVEN_EXPIRED, "session_unproven_expired", "events", "proof not echoed in time") \
	_(SESSION_UNRESPONSIVE, "session_unresponsive", "events", "paused and still silent, or too many give-ups") \
	_(SESSION_PAUSED, "session_paused", "events", "stopped acknowledging: deliveries paused") \
	_(PROOF_SENT, "proof_sent", "events", "proof REGISTERs sent (first and resent)") \
	_(ADDRESS_PROVEN, "address_proven", "events", "a proof REGISTER was echoed") \
	_(PROOF_MISMATCH, "proof_mismatch", "events", "a REGACK that did not echo the proof") \
	_(SESSION_EXPIRED, "session_expired", "events", \
	  "keepalive passed (+50 %, +10 % above 60 s): the client is lost") \
	_(SESSION_DISCONNECTED, "session_disconnected", "events", "DISCONNECTs without a sleep duration") \
	_(SESSION_KEPT_OFFLINE, "session_kept_offline", "events", \
	  "CleanSession=0 sessions kept after DISCONNECT or loss") \
	_(SESSION_RESUMED, "session_resumed", "events", "CONNECTs that took a disconnected or sleeping session back") \
	_(SESSION_OFFLINE_EXPIRED, "session_offline_expired", "events", \
	  "disconnected sessions ended after mqttsn.session_expiry_s") \
	_(SESSION_ASLEEP, "session_asleep", "events", "DISCONNECTs with a sleep duration") \
	_(SESSION_AWAKE, "session_awake", "events", "PINGREQs with the client id that woke a sleeping client") \
	_(SESSION_WAKE_MOVED, "session_wake_moved", "events", \
	  "sleeping clients whose wake-up PINGREQ from a new address moved the session there (same or other worker)") \
	_(WAKE_REFUSED, "wake_refused", "events", \
	  "wake-up PINGREQs from a new address that may not take the session (owner, admission, quota): DISCONNECT") \
	_(SESSION_SLEEP_LOST, "session_sleep_lost", "events", \
	  "sleeping clients silent past their sleep duration (+50 %, +10 % above 60 s): lost") \
	_(HANDOVER_CLAIMS, "handover_claims", "events", \
	  "CONNECTs for a ClientId another worker may hold: its session asked for over the hand-over rings") \
	_(HANDOVER_DONE, "handover_done", "events", \
	  "sessions taken over from another worker (CONNACK after the state)") \
	_(HANDOVER_OUT, "handover_out", "events", "sessions handed to another worker that claimed their ClientId") \
	_(HANDOVER_ENDED, "handover_ended", "events", \
	  "sessions ended for a clean (or unproven) CONNECT of their ClientId on another worker") \
	_(HANDOVER_FAILED, "handover_failed", "events", \
	  "hand-overs that could not complete (ring or pool full, busy peer, timeout, too big): CONNACK congestion") \
	_(HANDOVER_LATE, "handover_late", "events", \
	  "session states that arrived after their claim timed out: kept as disconnected at the new address") \
	_(HANDOVER_STATE_DROPPED, "handover_state_dropped", "events", \
	  "parts of a moved session (map entry, subscription, copy, will) the new worker had no room for") \
	_(HANDOVER_CUT_FORCED, "handover_cut_forced", "events", \
	  "claims answered short of the claimant's cut (a publish to the holder dropped, or 500 ms behind)") \
	_(HANDOVER_DUPLICATE, "handover_duplicate", "events", \
	  "a second state for one ClientId (two workers held it): ended, the first one kept") \
	_(DELIVERY_BUFFERED, "delivery_buffered", "events", "copies buffered for an asleep or disconnected client") \
	_(DELIVERY_BUFFER_FULL, "delivery_buffer_full", "events", \
	  "copy dropped: the client's mqttsn.offline_buffer or the worker's hold pool full") \
	_(DELIVERY_OFFLINE_QOS0, "delivery_offline_qos0", "events", "QoS 0 copy for a disconnected client not kept") \
	_(DELIVERY_BUFFER_DISCARDED, "delivery_buffer_discarded", "events", \
	  "buffered copies dropped: the session ended") \
	_(RETAINED_STORED, "retained_stored", "events", "retained messages stored or replaced (per worker)") \
	_(RETAINED_CLEARED, "retained_cleared", "events", "retained messages cleared by an empty retained PUBLISH") \
	_(RETAINED_FULL, "retained_full", "events", \
	  "retained message not kept: mqttsn.max_retained or mqttsn.retained_bytes reached") \
	_(RETAINED_SENT, "retained_sent", "events", "retained messages sent to a new subscription") \
	_(WILL_STORED, "will_stored", "events", "will topics or messages stored (CONNECT prompt or update)") \
	_(WILL_DELETED, "will_deleted", "events", "wills deleted by an empty WILLTOPIC or WILLTOPICUPD") \
	_(WILL_REJECTED, "will_rejected", "events", \
	  "will refused: invalid topic, longer than mqttsn.will_max_bytes, or no slot left") \
	_(WILL_PUBLISHED, "will_published", "events", "wills published for lost clients") \
	_(WILL_NO_ROOM, "will_no_room", "events", "will not published: no buffer for its message") \
	_(NOT_CONNECTED, "not_connected", "events", "message from unknown client") \
	_(REGISTER_ACCEPTED, "register_accepted", "events", "REGISTERs accepted") \
	_(REGISTER_REJECTED, "register_rejected", "events", "REGISTERs refused (bad or full topic table)") \
	_(REGISTER_REJECTED_QUOTA, "register_rejected_quota", "events", "security.topics_per_session") \
	_(REGISTER_SENT, "register_sent", "events", \
	  "gateway REGISTERs: a name new to a (wildcard) subscriber, or an id kept by a CleanSession=0 reconnect") \
	_(REGISTER_RESENT, "register_resent", "events", "a REGISTER unanswered, sent again") \
	_(PUBLISH_ACCEPTED, "publish_accepted", "events", "PUBLISHes accepted for fan-out") \
	_(PUBLISH_QOS_M1, "publish_qos_m1", "events", "QoS -1 PUBLISHes accepted") \
	_(PUBLISH_NO_MATCH, "publish_no_match", "events", "PUBLISHes accepted that matched no subscriber") \
	_(PUBLISH_INVALID_TOPIC, "publish_invalid_topic", "events", "PUBLISHes refused: topic id unknown") \
	_(PUBLISH_CONGESTION, "publish_congestion", "events", "PUBLISHes refused: congestion") \
	_(PUBLISH_DUP_SUPPRESSED, "publish_dup_suppressed", "events", \
	  "a QoS 1 DUP resend answered, not delivered again") \
	_(DELIVERIES, "deliveries", "events", "copies handed to subscribers") \
	_(FRAG_REASSEMBLED, "frag_reassembled", "events", "IPv4 and IPv6 datagrams reassembled from fragments") \
	_(TX_FRAGMENTED, "tx_fragmented", "events", \
	  "generated datagrams over the port's MTU sent as IPv4 or IPv6 fragments") \
	_(DELIVERY_QOS1, "deliveries_qos1", "events", "QoS 1 copies handed to subscribers") \
	_(DELIVERY_INFLIGHT_FULL, "delivery_inflight_full", "events", \
	  "QoS 1/2 copies skipped: the subscriber's in-flight window full") \
	_(ERROR_REPLIES_LIMITED, "error_replies_limited", "events", \
	  "refusals not sent: over security.error_replies_per_s") \
	_(DELIVERY_HOLD_FULL, "delivery_hold_full", "events", "QoS 1 copy skipped: mempool.held_mbufs exhausted") \
	_(DELIVERY_UNPROVEN, "delivery_unproven", "events", "copy skipped: address not proven yet") \
	_(DELIVERY_PAUSED, "delivery_paused", "events", "copy skipped: session paused") \
	_(DELIVERY_REG_PENDING, "delivery_reg_pending", "events", "copy skipped: its REGISTER awaits REGACK") \
	_(DELIVERY_HELD, "delivery_held", "events", "copies held until the REGACK of their topic's REGISTER") \
	_(DELIVERY_HELD_FULL, "delivery_held_full", "events", \
	  "copy dropped: the session's QoS window (255 at most) already held for its REGACKs, or the worker's hold " \
	  "pool full") \
	_(DELIVERY_HELD_DISCARDED, "delivery_held_discarded", "events", \
	  "held copies (or copies in flight waiting for their id's REGACK) dropped: REGACK refused, REGISTERs " \
	  "unanswered, or session ended") \
	_(DELIVERY_TOPIC_REFUSED, "delivery_topic_refused", "events", \
	  "copy skipped: the subscriber refused the topic") \
	_(TOPIC_REFUSED, "topic_refused", "events", "REGACK rejections kept as an unsubscribe of the name") \
	_(TOPIC_REFUSALS_FULL, "topic_refusals_full", "events", \
	  "REGACK rejection not kept: 32 refusals held by the session (the name registers again)") \
	_(QOS1_RETRANSMITS, "qos1_retransmits", "events", "QoS 1/2 copies sent again (DUP) after a timeout") \
	_(QOS1_GIVEUPS, "qos1_giveups", "events", "QoS 1/2 copy (or PUBREL) dropped: retry limit reached") \
	_(QOS1_ACKED, "qos1_acked", "events", "QoS 1 copies acknowledged by PUBACK") \
	_(DELIVERY_QOS2, "deliveries_qos2", "events", "QoS 2 copies handed to subscribers") \
	_(QOS2_COMPLETED, "qos2_completed", "events", "QoS 2 copies finished by PUBCOMP") \
	_(QOS2_PUBREL_RESENT, "qos2_pubrel_resent", "events", "PUBRELs sent again after a timeout") \
	_(QOS2_RECEIVED, "qos2_received", "events", "QoS 2 PUBLISHes accepted (PUBREC sent)") \
	_(QOS2_RELEASED, "qos2_released", "events", "PUBRELs that freed a QoS 2 MsgId (PUBCOMP sent)") \
	_(QOS2_NO_MSG_ID, "qos2_no_msg_id", "events", "QoS 2 PUBLISH with MsgId 0 refused (not supported)") \
	_(QOS2_RX_FULL, "qos2_rx_full", "events", \
	  "QoS 2 PUBLISH refused (congestion): 4 of the client's MsgIds await PUBREL") \
	_(SUBSCRIBE_ACCEPTED, "subscribe_accepted", "events", "SUBSCRIBEs accepted") \
	_(SUBSCRIBE_REJECTED, "subscribe_rejected", "events", "SUBSCRIBEs refused") \
	_(SUBSCRIBE_REJECTED_QUOTA, "subscribe_rejected_quota", "events", "per-session subscription/wildcard quota") \
	_(SUBSCRIBE_REJECTED_DEPTH, "subscribe_rejected_depth", "events", \
	  "filter deeper than security.max_filter_levels") \
	_(UNSUBSCRIBE, "unsubscribe", "events", "UNSUBSCRIBEs applied") \
	_(PEER_FORWARDS, "peer_forwards", "events", "publishes sent to other workers") \
	_(PEER_RING_FULL, "peer_ring_full", "events", "publishes for another worker dropped: its peer ring full") \
	_(PUBACK_DEFERRED, "puback_deferred", "events", "written-mode sink: PUBACK after Redis") \
	_(PUBACK_DEFERRED_FAILED, "puback_deferred_failed", "events", \
	  "deferred PUBACKs whose Redis write failed: answered congestion") \
	_(ADVERTISE_SENT, "advertise_sent", "events", "ADVERTISE messages queued (discovery.advertise)") \
	_(GWINFO_BROADCAST, "gwinfo_broadcast", "events", \
	  "SEARCHGWs sent to a broadcast address answered by a broadcast GWINFO") \
	_(GWINFO_BROADCAST_LIMITED, "gwinfo_broadcast_limited", "events", \
	  "over discovery.gwinfo_broadcasts_per_s: GWINFO sent to the searcher alone") \
	_(ENCAPSULATED_RX, "encapsulated_rx", "events", "Encapsulated messages from forwarders taken apart (5.5)") \
	_(ENCAPSULATED_TX, "encapsulated_tx", "events", "messages sent encapsulated to a client behind a forwarder") \
	_(FORWARDED_NODES_FULL, "forwarded_nodes_full", "events", \
	  "CONNECT through a forwarder refused: the worker's node id pool is full")

/* The XDP pre-filter's verdicts (dataplane/xdp/fanout_prefilter.bpf.c), counted in its per-CPU
 * array before the dataplane sees a packet; every packet the program runs on ends in exactly one.
 * STATS totals "xdp" and /fanout/xdp while a port runs behind the pre-filter, zeros otherwise. */
#define FO_FOREACH_XDP(_) \
	_(REDIRECTED, "redirected", "packets", "for the appliance: to its AF_XDP socket") \
	_(PASSED, "passed", "packets", "not for the appliance: to the kernel stack") \
	_(BLOCKED, "blocked", "packets", "source on the blocklist: dropped") \
	_(RATE_LIMITED, "rate_limited", "packets", "source over the per-source packet rate: dropped") \
	_(NO_SOCKET, "no_socket", "packets", "for the appliance, no AF_XDP socket on its rx queue: to the kernel")

/* Prometheus metric and description of the labelled families (label: reason, reason, event). */
#define FO_DROP_METRIC "fanout_dropped_packets_total"
#define FO_DROP_HELP "received packets dropped, by reason"
#define FO_OUT_DROP_METRIC "fanout_out_dropped_packets_total"
#define FO_OUT_DROP_HELP "generated packets dropped, by reason"
#define FO_EVENT_METRIC "fanout_events_total"
#define FO_EVENT_HELP "informational event counters"
#define FO_XDP_METRIC "fanout_xdp_packets_total"
#define FO_XDP_HELP "packets the XDP pre-filter ran on, by verdict"

/* Per lcore (struct fo_counters): the conservation sums (a fragment held for reassembly is
 * in the pipeline like a packet in a ring). STATS totals carries the rx side at
 * its top level and the out side under "out"; /fanout/stats and STATS "lcores" carry both by
 * field name. */
#define FO_FOREACH_LCORE_RX(_) \
	_(rx, "rx", "packets", "fanout_rx_packets_total", "", "packets taken off the wire") \
	_(delivered, "delivered", "packets", "fanout_delivered_packets_total", "", \
	  "received packets accepted for their purpose (publish fanned out, ack applied)") \
	_(answered, "answered", "packets", "fanout_answered_packets_total", "", \
	  "received packets the appliance only replied to") \
	_(frag_merged, "frag_merged", "packets", "fanout_frag_merged_packets_total", "", \
	  "IPv4 fragments merged into a reassembled datagram (all but the first, which carries its fate)") \
	_(dropped, "dropped", "packets", FO_DROP_METRIC, "*", "received packets dropped: the sum of the drop reasons")
#define FO_FOREACH_LCORE_OUT(_) \
	_(out_generated, "generated", "packets", "fanout_out_generated_packets_total", "", \
	  "packets the appliance generated (replies, deliveries, retransmissions)") \
	_(out_sent, "sent", "packets", "fanout_out_sent_packets_total", "", "generated packets the NIC took") \
	_(out_dropped, "dropped", "packets", FO_OUT_DROP_METRIC, "*", \
	  "generated packets dropped: the sum of the output drop reasons")
/* The lcore's loop: STATS "lcores" and Prometheus per lcore (label lcore), /fanout/stats summed. */
#define FO_FOREACH_LCORE_LOOP(_) \
	_(loops, "loops", "iterations", "fanout_lcore_loops_total", "", "lcore loop iterations") \
	_(busy_loops, "busy_loops", "iterations", "fanout_lcore_busy_loops_total", "", \
	  "lcore loop iterations that moved at least one packet")
#define FO_FOREACH_LCORE(_) FO_FOREACH_LCORE_RX(_) FO_FOREACH_LCORE_OUT(_) FO_FOREACH_LCORE_LOOP(_)

/* Per lcore and generation slot (struct fo_gen_ctr, generation.h), reported per generation
 * since it was created: GENSTATS and /fanout/genstats. The _MSG entries sit at the top of a
 * GENSTATS generation, _OUT under its "outputs" (sink and bridge routes: workers count matched
 * to pool_empty, output threads written and failed), _LAT under "latency_ns". */
#define FO_FOREACH_GEN_MSG(_) \
	_(msgs, "msgs", "messages", "fanout_generation_messages_total", "", \
	  "MQTT-SN messages from the generation's clients") \
	_(publishes, "publishes", "messages", "fanout_generation_publishes_total", "", \
	  "PUBLISH messages from the generation's clients") \
	_(deliveries, "deliveries", "messages", "fanout_generation_deliveries_total", "", \
	  "subscriber copies for the generation's clients") \
	_(error_replies, "error_replies", "messages", "fanout_generation_error_replies_total", "", \
	  "rejections sent to the generation's clients (a return code other than accepted)") \
	_(drops, "drops", "messages", "fanout_generation_dropped_messages_total", "", \
	  "messages from the generation's clients dropped") \
	_(route_matched, "route_matched", "messages", "fanout_generation_route_matched_total", "", \
	  "UDP relay routes the generation's publishes matched") \
	_(route_copies, "route_copies", "messages", "fanout_generation_route_copies_total", "", \
	  "UDP relay copies queued for sending") \
	_(route_dropped, "route_dropped", "messages", "fanout_generation_route_dropped_total", "", \
	  "UDP relay copies that could not be sent") \
	_(route_unserved, "route_unserved", "messages", "fanout_generation_route_unserved_total", "", \
	  "routes a publish matched beyond the per-publish cap (FO_MAX_ROUTE_MATCH): counted, not sent") \
	_(mirror_copies, "mirror_copies", "messages", "fanout_generation_mirror_copies_total", "", \
	  "mirror-mode copies counted, not sent") \
	_(mirror_no_neighbour, "mirror_no_neighbour", "messages", "fanout_generation_mirror_no_neighbour_total", "", \
	  "mirror copies without a next hop")
#define FO_FOREACH_GEN_OUT(_) \
	_(out_matched, "matched", "entries", "fanout_generation_output_matched_total", "", \
	  "sink/bridge route matches of the generation's publishes") \
	_(out_queued, "queued", "entries", "fanout_generation_output_queued_total", "", \
	  "of matched: entries handed to the output's ring") \
	_(out_written, "written", "entries", "fanout_generation_output_written_total", "", \
	  "of queued: entries the output wrote") \
	_(out_failed, "failed", "entries", "fanout_generation_output_dropped_total", "failed", \
	  "of queued: entries the output gave up (error reply, discarded at shutdown)") \
	_(out_ring_full, "ring_full", "entries", "fanout_generation_output_dropped_total", "ring_full", \
	  "of matched: entries never queued, the output's ring full") \
	_(out_pool_empty, "pool_empty", "entries", "fanout_generation_output_dropped_total", "pool_empty", \
	  "of matched: entries never queued, no entry left in the pool")
#define FO_FOREACH_GEN_LAT(_) \
	_(latency_samples, "samples", "samples", "fanout_generation_latency_samples_total", "", \
	  "rx -> tx latency samples taken for the generation")
#define FO_FOREACH_GEN(_) FO_FOREACH_GEN_MSG(_) FO_FOREACH_GEN_OUT(_) FO_FOREACH_GEN_LAT(_)

/* Per route of a generation, per worker or output thread (struct fo_route_ctr): ROUTES, STATS
 * "routes", /fanout/routes. matched applies to every route, _UDP to relay routes, _OUT to sink
 * and bridge routes (whose output thread counts written and failed). */
#define FO_FOREACH_ROUTE_ANY(_) \
	_(matched, "matched", "messages", "fanout_route_matched_total", "", "publishes that matched the route")
#define FO_FOREACH_ROUTE_UDP(_) \
	_(copies, "copies", "messages", "fanout_route_copies_total", "", "relay copies queued for sending") \
	_(dropped, "dropped", "messages", "fanout_route_dropped_total", "", \
	  "relay copies that could not be sent (no neighbour, no header mbuf, tx ring full)")
#define FO_FOREACH_ROUTE_OUT(_) \
	_(queued, "queued", "entries", "fanout_route_queued_total", "", \
	  "of matched: entries handed to the output's ring") \
	_(written, "written", "entries", "fanout_route_written_total", "", "of queued: entries the output wrote") \
	_(failed, "failed", "entries", "fanout_route_failed_total", "", "of queued: entries the output gave up") \
	_(ring_full, "ring_full", "entries", "fanout_route_ring_full_total", "", \
	  "of matched: entries never queued, the output's ring full") \
	_(pool_empty, "pool_empty", "entries", "fanout_route_pool_empty_total", "", \
	  "of matched: entries never queued, no entry left in the pool")
#define FO_FOREACH_ROUTE(_) FO_FOREACH_ROUTE_ANY(_) FO_FOREACH_ROUTE_UDP(_) FO_FOREACH_ROUTE_OUT(_)

/* Per sink or bridge output: OUTPUTS, STATS "outputs", /fanout/outputs. _WORKER entries are
 * counted by the workers per lcore (struct fo_out_lcore_ctr), _THREAD ones by the output's own
 * thread (struct fo_out_stats). */
#define FO_FOREACH_OUTPUT_WORKER(_) \
	_(matched, "matched", "entries", "fanout_output_matched_total", "", "route matches for the output") \
	_(queued, "queued", "entries", "fanout_output_queued_total", "", \
	  "of matched: entries handed to the output's ring") \
	_(ring_full, "ring_full", "entries", "fanout_output_ring_full_total", "", \
	  "of matched: entries never queued, the output's ring full") \
	_(pool_empty, "pool_empty", "entries", "fanout_output_pool_empty_total", "", \
	  "of matched: entries never queued, no entry left in the pool")
#define FO_FOREACH_OUTPUT_THREAD(_) \
	_(written, "written", "entries", "fanout_output_written_total", "", \
	  "entries written (sink: XADD confirmed; bridge: published upstream)") \
	_(failed, "failed", "entries", "fanout_output_failed_total", "", \
	  "entries the output gave up (error reply, discarded at shutdown)") \
	_(discarded, "discarded", "entries", "fanout_output_discarded_total", "", \
	  "of failed: entries left in the ring or batch at shutdown") \
	_(dup_suppressed, "dup_suppressed", "entries", "fanout_output_dup_suppressed_total", "", \
	  "of written: retried XADDs Redis already had") \
	_(batches, "batches", "batches", "fanout_output_batches_total", "", \
	  "batches written (sink: pipelined XADD batches)") \
	_(errors, "errors", "errors", "fanout_output_errors_total", "", \
	  "errors the output met (error replies, I/O errors)") \
	_(reconnects, "reconnects", "connections", "fanout_output_reconnects_total", "", \
	  "connections re-established after a loss") \
	_(connect_failures, "connect_failures", "attempts", "fanout_output_connect_failures_total", "", \
	  "connection attempts that failed") \
	_(redirects, "redirects", "replies", "fanout_output_redirects_total", "", \
	  "sink on a Redis Cluster: MOVED and ASK replies followed") \
	_(map_refreshes, "map_refreshes", "reads", "fanout_output_map_refreshes_total", "", \
	  "sink on a Redis Cluster: slot maps read (CLUSTER SLOTS)") \
	_(unreplicated, "unreplicated", "batches", "fanout_output_unreplicated_total", "", \
	  "sink with wait_replicas: node batches WAIT did not confirm, sent again") \
	_(inflight, "inflight", "entries", "fanout_output_inflight", "", \
	  "entries the output's thread has taken and not yet finished") \
	_(received, "received", "messages", "fanout_output_received_total", "", \
	  "bridge: messages received from upstream subscriptions") \
	_(injected, "injected", "messages", "fanout_output_injected_total", "", \
	  "bridge: upstream messages delivered to MQTT-SN subscribers") \
	_(inject_dropped, "inject_dropped", "messages", "fanout_output_inject_dropped_total", "", \
	  "bridge: upstream messages that could not be injected") \
	_(followed, "followed", "subscriptions", "fanout_output_followed_total", "", \
	  "bridge following local interest: upstream subscriptions made for local subscribers' filters") \
	_(unfollowed, "unfollowed", "subscriptions", "fanout_output_unfollowed_total", "", \
	  "bridge following local interest: upstream subscriptions ended (last local subscriber gone, or covered)") \
	_(echo_dropped, "echo_dropped", "messages", "fanout_output_echo_dropped_total", "", \
	  "bridge: upstream messages that carried this appliance's own origin mark, not injected") \
	_(interest_lost, "interest_lost", "events", "fanout_output_interest_lost_total", "", \
	  "bridge following local interest: subscriber events a full interest ring turned away")
#define FO_FOREACH_OUTPUT(_) FO_FOREACH_OUTPUT_WORKER(_) FO_FOREACH_OUTPUT_THREAD(_)

/* Every family, for walkers (the schema dump, /api/schema): F(family name, list). */
#define FO_FOREACH_LABELLED_FAMILY(F) \
	F("drop", FO_FOREACH_DROP, FO_DROP_METRIC, FO_DROP_HELP) \
	F("out_drop", FO_FOREACH_OUT_DROP, FO_OUT_DROP_METRIC, FO_OUT_DROP_HELP) \
	F("event", FO_FOREACH_EVENT, FO_EVENT_METRIC, FO_EVENT_HELP) \
	F("xdp", FO_FOREACH_XDP, FO_XDP_METRIC, FO_XDP_HELP)
#define FO_FOREACH_STRUCT_FAMILY(F) \
	F("lcore", FO_FOREACH_LCORE) \
	F("generation", FO_FOREACH_GEN) \
	F("route", FO_FOREACH_ROUTE) \
	F("output", FO_FOREACH_OUTPUT)

#define FO_ENUM_(id, ...) FO_DROP_##id,
enum fo_drop { FO_FOREACH_DROP(FO_ENUM_) FO_DROP_MAX };
#undef FO_ENUM_
#define FO_ENUM_(id, ...) FO_OUT_DROP_##id,
enum fo_out_drop { FO_FOREACH_OUT_DROP(FO_ENUM_) FO_OUT_DROP_MAX };
#undef FO_ENUM_
#define FO_ENUM_(id, ...) FO_EV_##id,
enum fo_event { FO_FOREACH_EVENT(FO_ENUM_) FO_EV_MAX };
#undef FO_ENUM_
#define FO_ENUM_(id, ...) FO_XDP_##id,
enum fo_xdp_verdict { FO_FOREACH_XDP(FO_ENUM_) FO_XDP_MAX };
#undef FO_ENUM_

/* A struct family's fields, and the generated sum and rebase of two such structs. */
#define FO_SCHEMA_FIELD_(field, ...) uint64_t field;
#define FO_SCHEMA_ADD_(field, ...) t->field += c->field;
#define FO_SCHEMA_SUB_(field, ...) t->field -= c->field;

/* Terminal classes of a received packet. */
enum fo_fate { FO_FATE_DELIVERED = 0, FO_FATE_ANSWERED = 1, FO_FATE_DROPPED = 2 };

/* One lcore's (or one worker engine's) counters. The dataplane keeps one per lcore,
 * cache-line aligned by the containing struct; readers sum. Plain increments only. */
struct fo_counters {
	FO_FOREACH_LCORE(FO_SCHEMA_FIELD_) /* dropped = sum of drop[], out_dropped = sum of out_drop[] */
	uint64_t drop[FO_DROP_MAX];
	uint64_t out_drop[FO_OUT_DROP_MAX];
	uint64_t ev[FO_EV_MAX];
	uint64_t mqttsn_rx_type[256]; /* per MQTT-SN message type received */
};

/* t += c over every counter of struct fo_counters. */
static inline void fo_counters_add(struct fo_counters *t, const struct fo_counters *c)
{
	FO_FOREACH_LCORE(FO_SCHEMA_ADD_)
	for (int i = 0; i < FO_DROP_MAX; i++)
		t->drop[i] += c->drop[i];
	for (int i = 0; i < FO_OUT_DROP_MAX; i++)
		t->out_drop[i] += c->out_drop[i];
	for (int i = 0; i < FO_EV_MAX; i++)
		t->ev[i] += c->ev[i];
	for (int i = 0; i < 256; i++)
		t->mqttsn_rx_type[i] += c->mqttsn_rx_type[i];
}

/* Received packets that have a fate (rx minus this is what is still in the pipeline). */
static inline uint64_t fo_counters_finished(const struct fo_counters *c)
{
	return c->delivered + c->answered + c->frag_merged + c->dropped;
}

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
extern const char *const fo_xdp_names[FO_XDP_MAX];

#endif
