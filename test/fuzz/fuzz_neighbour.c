/* Fuzz target for dataplane/net/neighbour.c: the input bytes are a sequence of table operations
 * (ARP input from on-link and off-link senders, next-hop resolution, static entries, aging with a
 * clock that moves forward) on a small table, so windows fill, entries are evicted, aged and
 * slots reused. Checks, beyond "no crash": the count never exceeds the slots; a static entry
 * always resolves to its MAC; what an operation just stored resolves to it; an address never
 * learnt is never resolved; off-link ARP changes nothing; iteration agrees with lookups; once
 * everything has aged only the statics are left. With bit 2 of the first byte the table is an IPv6
 * one (the fo_neigh6_ functions, addresses 2001:2::x, some sharing a 32-bit hash slot's window): the
 * same rules, and an address resolves only to a MAC stored for that address.
 * Built as a libFuzzer binary (-Dfuzz=true) and as a replay binary with replay_main.c. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "neighbour.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OWN 0xc6120001u /* 198.18.0.1/24 */
#define MASK 0xffffff00u
#define N_ADDR 256 /* senders 198.18.0.x (on-link but for .0, .1, .255) */

struct model {
	bool ever[N_ADDR]; /* ever held an entry (created, pending or static) */
	bool is_static[N_ADDR];
	uint8_t static_mac[N_ADDR][6];
	uint8_t statics[N_ADDR]; /* their addresses, n_static of them */
	uint32_t n_static;
};

#define MAX_OPS 2000 /* longer inputs add nothing a shorter one cannot reach */

static void must(bool ok)
{
	if (!ok)
		abort();
}

struct visit {
	const struct fo_neigh_table *t;
	uint32_t n;
};

static void check_entry(void *arg, uint32_t ip, const uint8_t mac[6])
{
	struct visit *v = arg;
	uint8_t got[6];
	must(fo_neigh_lookup(v->t, ip, got));
	must(memcmp(got, mac, 6) == 0);
	v->n++;
}

/* The IPv6 table: senders 2001:2::x (x = 0 is the subnet-router anycast and 1 ours: off-link), each
 * MAC naming its address in bytes 2 and 3, so a MAC resolved for another address is caught. */
static int run6(const uint8_t *data, size_t size)
{
	struct fo_neigh_conf conf = { .capacity = (data[0] & 1) ? 64 : 16,
				      .seed = { 0x243f6a8885a308d3ull ^ data[0], 0x13198a2e03707344ull },
				      .max_age_ms = 1000,
				      .pending_ms = 600,
				      .requests_per_s = (data[0] & 2) ? 50 : 0,
				      .ipv6 = true };
	struct fo_neigh_table *t = fo_neigh_create(&conf);
	if (!t)
		return 0;
	static bool ever[N_ADDR];
	memset(ever, 0, sizeof(ever));
	struct fo_counters c;
	memset(&c, 0, sizeof(c));
	uint64_t now = 0;
	size_t i = 1;
	for (unsigned ops = 0; i + 3 <= size && ops < MAX_OPS; ops++) {
		uint8_t op = data[i], a = data[i + 1], arg = data[i + 2];
		i += 3;
		uint8_t ip6[16] = { 0x20, 0x01, 0, 2, [15] = a };
		if (op & 8) /* the same low byte in another /64: another address */
			ip6[7] = 1;
		uint8_t mac[6] = { 0x02, arg, a, (uint8_t)(op & 8), 0, (uint8_t)(op >> 4) }, got[6];
		bool on_link = a > 1, stale;
		switch (op & 7) {
		case 0:
		case 1: { /* Neighbor Solicitation for us, Advertisement to us */
			bool solicit = (op & 7) == 0;
			uint32_t n = fo_neigh_count(t);
			bool taken = fo_neigh6_nd_input(t, &c, solicit, ip6, mac, on_link, now);
			if (!on_link) {
				must(!taken && fo_neigh_count(t) == n);
				break;
			}
			if (!solicit && !ever[a])
				must(!taken && !fo_neigh6_resolve(t, ip6, now, got, &stale));
			if (fo_neigh6_resolve(t, ip6, now, got, &stale)) {
				must(memcmp(got, mac, 6) == 0);
				ever[a] = true;
			}
			break;
		}
		case 2: {
			bool ask;
			bool ok = fo_neigh6_next_hop(t, &c, ip6, on_link, now, 200, got, &ask);
			if (ok)
				must(ever[a] && got[2] == a && got[3] == (op & 8));
			if (on_link)
				ever[a] = true;
			else
				must(!ask);
			break;
		}
		case 4:
			now += (uint64_t)arg * 8;
			{
				uint32_t r, p;
				(void)fo_neigh_age(t, now, 1 + (a & 63), &r, &p);
			}
			break;
		default:
			if (fo_neigh6_resolve(t, ip6, now, got, &stale))
				must(ever[a] && got[2] == a && got[3] == (op & 8));
			break;
		}
		must(fo_neigh_count(t) <= fo_neigh_capacity(t));
	}
	uint32_t r, p;
	(void)fo_neigh_age(t, now + (1u << 30), fo_neigh_capacity(t), &r, &p);
	must(fo_neigh_count(t) == 0);
	fo_neigh_destroy(t);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 4)
		return run6(data, size);
	struct fo_neigh_conf conf = { .capacity = (data[0] & 1) ? 64 : 16,
				      .seed = { 0x243f6a8885a308d3ull ^ data[0], 0x13198a2e03707344ull },
				      .max_age_ms = 1000,
				      .pending_ms = 600,
				      .requests_per_s = (data[0] & 2) ? 50 : 0 };
	struct fo_neigh_table *t = fo_neigh_create(&conf);
	if (!t)
		return 0;
	static struct model m;
	memset(&m, 0, sizeof(m));
	struct fo_counters c;
	memset(&c, 0, sizeof(c));
	uint64_t now = 0;
	size_t i = 1;
	for (unsigned ops = 0; i + 3 <= size && ops < MAX_OPS; ops++) {
		uint8_t op = data[i], a = data[i + 1], arg = data[i + 2];
		i += 3;
		uint32_t ip = (OWN & MASK) | a;
		uint8_t mac[6] = { 0x02, arg, a, 0, 0, (uint8_t)(op >> 4) }, got[6];
		bool on_link = fo_neigh_on_link(ip, OWN, MASK);
		switch (op & 7) {
		case 0:   /* ARP request for us */
		case 1: { /* ARP reply to us */
			bool request = (op & 7) == 0;
			uint64_t v = fo_neigh_version(t);
			uint32_t n = fo_neigh_count(t);
			bool taken = fo_neigh_arp_input(t, &c, request, ip, mac, OWN, MASK, now);
			if (!on_link) {
				must(!taken && fo_neigh_version(t) == v && fo_neigh_count(t) == n);
				break;
			}
			if (m.is_static[a]) {
				must(fo_neigh_lookup(t, ip, got) && memcmp(got, m.static_mac[a], 6) == 0);
				break;
			}
			if (!request && !m.ever[a])
				must(!taken && !fo_neigh_lookup(t, ip, got) && fo_neigh_count(t) == n);
			if (fo_neigh_lookup(t, ip, got)) {
				must(memcmp(got, mac, 6) == 0); /* what was just confirmed */
				m.ever[a] = true;
			} else {
				must(n == fo_neigh_count(t)); /* unsolicited, or a request that found no room */
			}
			break;
		}
		case 2: { /* next hop needed */
			bool ask;
			bool ok = fo_neigh_next_hop(t, &c, ip, OWN, MASK, now, 200, got, &ask);
			if (ok)
				must(m.ever[a]);
			if (m.is_static[a])
				must(ok && !ask && memcmp(got, m.static_mac[a], 6) == 0);
			if (on_link)
				m.ever[a] = true; /* a pending entry may exist now */
			else
				must(!ask);
			break;
		}
		case 3: /* static (configured before traffic in the dataplane; any time here) */
			if (on_link && fo_neigh_add_static(t, ip, mac) == FO_NEIGH_CREATED) {
				if (!m.is_static[a])
					m.statics[m.n_static++] = a;
				m.is_static[a] = true;
				m.ever[a] = true;
				memcpy(m.static_mac[a], mac, 6);
			}
			break;
		case 4: /* time passes, aging step */
			now += (uint64_t)arg * 8;
			{
				uint32_t r, p;
				(void)fo_neigh_age(t, now, 1 + (a & 63), &r, &p);
			}
			break;
		default: /* lookup */
			if (fo_neigh_lookup(t, ip, got))
				must(m.ever[a]);
			break;
		}
		must(fo_neigh_count(t) <= fo_neigh_capacity(t));
		for (uint32_t s = 0; s < m.n_static; s++) {
			must(fo_neigh_lookup(t, (OWN & MASK) | m.statics[s], got));
			must(memcmp(got, m.static_mac[m.statics[s]], 6) == 0);
		}
	}
	struct visit v = { t, 0 };
	must(fo_neigh_foreach(t, check_entry, &v) == v.n && v.n <= fo_neigh_count(t));
	uint32_t r, p;
	(void)fo_neigh_age(t, now + (1u << 30), fo_neigh_capacity(t), &r, &p);
	must(fo_neigh_count(t) == m.n_static);
	fo_neigh_destroy(t);
	return 0;
}
