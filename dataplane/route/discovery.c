/* Gateway discovery's pure parts: the ports and MAC of an ADVERTISE, its message and frame (IPv4 or
 * IPv6), the advertiser's schedule, the GWINFO broadcast budget (discovery.h). */
#include <string.h>

#include "discovery.h"
#include "mqttsn_codec.h"

static bool is_multicast(uint32_t ip)
{
	return (ip >> 28) == 0xe;
}

bool fo_disc_is_broadcast(uint32_t dst, uint32_t ip, uint32_t netmask)
{
	return dst == FO_DISC_LIMITED_BCAST || (netmask < 0xfffffffeu && dst == ((ip & netmask) | ~netmask));
}

bool fo_disc_port_sends(uint32_t dst, const struct fo_disc_port *ports, uint32_t n, uint32_t i)
{
	if (i >= n)
		return false;
	if (dst == FO_DISC_LIMITED_BCAST || is_multicast(dst))
		return true;
	for (uint32_t p = 0; p < n; p++)
		if (((dst ^ ports[p].ip) & ports[p].netmask) == 0)
			return p == i;
	for (uint32_t p = 0; p < n; p++)
		if (ports[p].gateway)
			return p == i;
	return false;
}

bool fo_disc_group_mac(uint32_t dst, uint32_t ip, uint32_t netmask, uint8_t mac[6])
{
	if (fo_disc_is_broadcast(dst, ip, netmask)) {
		memset(mac, 0xff, 6);
		return true;
	}
	if (is_multicast(dst)) {
		const uint8_t m[6] = { 0x01,        0x00, 0x5e, (uint8_t)((dst >> 16) & 0x7f), (uint8_t)(dst >> 8),
				       (uint8_t)dst };
		memcpy(mac, m, 6);
		return true;
	}
	return false;
}

void fo_disc_group6_mac(const uint8_t g[16], uint8_t mac[6])
{
	mac[0] = 0x33;
	mac[1] = 0x33;
	memcpy(mac + 2, g + 12, 4);
}

int fo_disc_advertise_msg(uint8_t *buf, size_t cap, uint8_t gw_id, uint16_t duration_s)
{
	struct mqttsn_msg m = { .type = MQTTSN_ADVERTISE };
	m.u.advertise.gw_id = gw_id;
	m.u.advertise.duration = duration_s;
	int n = mqttsn_encode(&m, buf, cap);
	return n > 0 ? n : -1;
}

size_t fo_disc_frame(uint8_t *b, size_t room, const struct l2l4_udp_spec *s, uint8_t ttl, const uint8_t *msg,
		     uint16_t len)
{
	size_t hl = l2l4_spec_hdr_len(s);
	if (room < hl + len)
		return 0;
	memcpy(b + hl, msg, len);
	if (l2l4_write_udp(b, s, len, 0, 0) == 0)
		return 0;
	if (s->dst_ip6) { /* the hop limit is in no checksum */
		b[hl - L2L4_UDP_HLEN - L2L4_IP6_HLEN + 7] = ttl;
		return hl + len;
	}
	/* The TTL is not in the UDP checksum: only the IPv4 header's is redone. */
	uint8_t *ip = b + hl - L2L4_UDP_HLEN - L2L4_IP_HLEN;
	ip[8] = ttl;
	ip[10] = ip[11] = 0;
	uint16_t ck = (uint16_t)~l2l4_csum_fold(l2l4_csum_add(0, ip, L2L4_IP_HLEN));
	ip[10] = (uint8_t)(ck >> 8);
	ip[11] = (uint8_t)ck;
	return hl + len;
}

void fo_disc_sent(struct fo_disc_timer *t, uint64_t now_ms, uint16_t interval_s)
{
	t->next_ms = now_ms + (uint64_t)interval_s * 1000u;
	t->tries = 0;
}

bool fo_disc_unresolved(struct fo_disc_timer *t, uint64_t now_ms, uint16_t interval_s, uint32_t retry_ms,
			uint8_t max_tries)
{
	if (++t->tries < max_tries) {
		t->next_ms = now_ms + retry_ms;
		return false;
	}
	fo_disc_sent(t, now_ms, interval_s); /* this one is lost: the next in a period */
	return true;
}

bool fo_disc_budget_take(struct fo_disc_budget *b, uint64_t now_ms, uint32_t per_s)
{
	uint64_t cap = (uint64_t)per_s * 1000u;
	if (!b->started) {
		b->started = true;
		b->milli = cap;
		b->last_ms = now_ms;
	}
	if (now_ms > b->last_ms) {
		uint64_t add = (now_ms - b->last_ms) * per_s;
		b->milli = b->milli + add > cap ? cap : b->milli + add;
		b->last_ms = now_ms;
	}
	if (b->milli < 1000)
		return false;
	b->milli -= 1000;
	return true;
}
