/* Unit tests for dataplane/net/neighbour.c: learning, lookups, return codes, capacity rounding
 * and a full table, ARP request rate limiting, iteration; the hardening rules (on-link senders
 * only, unsolicited replies refused, pending replies accepted, aging of resolved and pending
 * entries, eviction of the oldest entry when a window is full, static entries, the seeded
 * hash); and concurrent stress runs (writers, readers, requesters, and one with an ager and
 * evictions reusing slots) in which a reader must never see a MAC that no writer wrote for
 * that address (each MAC encodes its IP). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "neighbour.h"

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static void mac_of(uint32_t ip, uint8_t tag, uint8_t mac[6])
{
	mac[0] = 0x02;
	mac[1] = tag;
	mac[2] = (uint8_t)(ip >> 24);
	mac[3] = (uint8_t)(ip >> 16);
	mac[4] = (uint8_t)(ip >> 8);
	mac[5] = (uint8_t)ip;
}

/* Fixed seeds keep the tests deterministic; no aging unless a test asks for it. */
static struct fo_neigh_table *mk_aging(uint32_t capacity, uint32_t max_age_ms, uint32_t pending_ms)
{
	struct fo_neigh_conf c = { .capacity = capacity,
				   .seed = { 0x0123456789abcdefull, 0xfedcba9876543210ull },
				   .max_age_ms = max_age_ms,
				   .pending_ms = pending_ms };
	struct fo_neigh_table *t = fo_neigh_create(&c);
	assert_non_null(t);
	return t;
}

static struct fo_neigh_table *mk(uint32_t capacity)
{
	return mk_aging(capacity, 0, 0);
}

/* learn with creation, as an ARP request for our address does */
static enum fo_neigh_result put(struct fo_neigh_table *t, uint32_t ip, const uint8_t mac[6])
{
	return fo_neigh_learn(t, ip, mac, 0, true);
}

static bool ask(struct fo_neigh_table *t, uint32_t ip, uint64_t now, uint32_t interval)
{
	bool ev;
	return fo_neigh_should_request(t, ip, now, interval, &ev);
}

static void test_update_lookup(void **state)
{
	(void)state;
	struct fo_neigh_table *t = mk(64);
	uint8_t m1[6], m2[6], got[6];
	uint32_t ip = IP4(10, 0, 0, 7);
	mac_of(ip, 1, m1);
	mac_of(ip, 2, m2);

	assert_false(fo_neigh_lookup(t, ip, got));
	assert_int_equal(fo_neigh_count(t), 0);
	assert_int_equal(put(t, ip, m1), FO_NEIGH_CREATED);
	assert_int_equal(fo_neigh_count(t), 1);
	memset(got, 0, 6);
	assert_true(fo_neigh_lookup(t, ip, got));
	assert_memory_equal(got, m1, 6);
	assert_int_equal(put(t, ip, m1), FO_NEIGH_REFRESHED);
	assert_int_equal(put(t, ip, m2), FO_NEIGH_MOVED);
	assert_true(fo_neigh_lookup(t, ip, got));
	assert_memory_equal(got, m2, 6);
	assert_int_equal(put(t, ip, m1), FO_NEIGH_MOVED); /* changed back */
	assert_true(fo_neigh_lookup(t, ip, got));
	assert_memory_equal(got, m1, 6);
	assert_int_equal(fo_neigh_count(t), 1);

	/* ip 0 is never stored */
	assert_int_equal(put(t, 0, m1), FO_NEIGH_INVALID);
	assert_false(fo_neigh_lookup(t, 0, got));
	assert_int_equal(fo_neigh_add_static(t, 0, m1), FO_NEIGH_INVALID);
	assert_int_equal(fo_neigh_count(t), 1);

	/* all-zero and all-ones MACs are stored as given (the rx stage never learns them) */
	static const uint8_t zero[6] = { 0 }, ones[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	assert_int_equal(put(t, IP4(10, 0, 0, 8), zero), FO_NEIGH_CREATED);
	assert_true(fo_neigh_lookup(t, IP4(10, 0, 0, 8), got));
	assert_memory_equal(got, zero, 6);
	assert_int_equal(put(t, IP4(10, 0, 0, 8), zero), FO_NEIGH_REFRESHED);
	assert_int_equal(put(t, 0xffffffffu, ones), FO_NEIGH_CREATED);
	assert_true(fo_neigh_lookup(t, 0xffffffffu, got));
	assert_memory_equal(got, ones, 6);

	/* many addresses, incl. ones that collide in the low bits */
	for (uint32_t i = 1; i <= 40; i++) {
		uint8_t m[6];
		mac_of(i << 16, 3, m);
		assert_int_equal(put(t, i << 16, m), FO_NEIGH_CREATED);
	}
	for (uint32_t i = 1; i <= 40; i++) {
		uint8_t m[6];
		mac_of(i << 16, 3, m);
		assert_true(fo_neigh_lookup(t, i << 16, got));
		assert_memory_equal(got, m, 6);
	}
	assert_false(fo_neigh_lookup(t, 41u << 16, got));
	assert_int_equal(fo_neigh_count(t), 43);
	fo_neigh_destroy(t);
}

/* Capacity: rounded up to a power of two, at least 16. A table of 16 is one window: exactly 16
 * entries fit. A larger one takes at least half its capacity before a window is full; then a
 * request-learn gets NO_ROOM (never evicts) and everything else keeps working. */
static void check_capacity(uint32_t asked, uint32_t expect)
{
	struct fo_neigh_table *t = mk(asked);
	assert_int_equal(fo_neigh_capacity(t), expect);
	uint8_t m[6], got[6];
	uint32_t n = 0;
	for (uint32_t i = 1; i <= expect + 1; i++) {
		mac_of(i, 0, m);
		enum fo_neigh_result r = put(t, i, m);
		if (r == FO_NEIGH_NO_ROOM)
			break;
		assert_int_equal(r, FO_NEIGH_CREATED);
		n++;
	}
	if (expect == 16)
		assert_int_equal(n, 16);
	assert_true(n >= expect / 2 && n <= expect);
	assert_int_equal(fo_neigh_count(t), n);
	uint32_t absent = n + 1;
	mac_of(absent, 0, m);
	assert_int_equal(put(t, absent, m), FO_NEIGH_NO_ROOM);
	assert_false(fo_neigh_lookup(t, absent, got)); /* full window, absent key: terminates */
	assert_int_equal(fo_neigh_count(t), n);
	/* existing entries still update and resolve */
	for (uint32_t i = 1; i <= n; i++) {
		mac_of(i, 0, m);
		assert_int_equal(put(t, i, m), FO_NEIGH_REFRESHED);
		mac_of(i, 9, m);
		assert_int_equal(put(t, i, m), FO_NEIGH_MOVED);
		assert_true(fo_neigh_lookup(t, i, got));
		assert_memory_equal(got, m, 6);
	}
	fo_neigh_destroy(t);
}

static void test_capacity(void **state)
{
	(void)state;
	check_capacity(0, 16);
	check_capacity(1, 16);
	check_capacity(16, 16);
	check_capacity(17, 32);
	check_capacity(100, 128);
	check_capacity(1024, 1024);
	check_capacity(1025, 2048);
}

static void test_should_request(void **state)
{
	(void)state;
	struct fo_neigh_table *t = mk(16);
	uint32_t a = IP4(10, 0, 0, 20), b = IP4(10, 0, 0, 21);
	assert_false(ask(t, 0, 1000, 100));

	assert_true(ask(t, a, 1000, 100));
	assert_false(ask(t, a, 1000, 100));
	assert_false(ask(t, a, 1099, 100));
	/* per address: b is independent of a */
	assert_true(ask(t, b, 1050, 100));
	assert_false(ask(t, b, 1100, 100));
	assert_true(ask(t, a, 1100, 100));
	assert_false(ask(t, a, 1150, 100));
	assert_true(ask(t, b, 1150, 100));
	assert_true(ask(t, a, 5000, 100));

	/* a pending entry is not resolved, is counted, and is not iterated */
	uint8_t got[6];
	assert_false(fo_neigh_lookup(t, a, got));
	assert_int_equal(fo_neigh_count(t), 2);

	/* once resolved, the caller stops asking (it looks up first); an update still works */
	uint8_t m[6];
	mac_of(a, 1, m);
	assert_int_equal(fo_neigh_learn(t, a, m, 5001, false), FO_NEIGH_RESOLVED);
	assert_true(fo_neigh_lookup(t, a, got));
	assert_memory_equal(got, m, 6);
	assert_int_equal(fo_neigh_count(t), 2);

	/* interval 0: every call may ask */
	uint32_t c = IP4(10, 0, 0, 22);
	assert_true(ask(t, c, 7, 0));
	assert_true(ask(t, c, 7, 0));
	fo_neigh_destroy(t);
}

/* The clock starts at 0 ms (fo_now_ms counts from start-up) and lcores read it at slightly
 * different moments: neither may defeat the limit. */
static void test_should_request_clock_edges(void **state)
{
	(void)state;
	struct fo_neigh_table *t = mk(16);
	uint32_t a = IP4(10, 0, 0, 30), b = IP4(10, 0, 0, 31);
	assert_true(ask(t, a, 0, 1000));
	assert_false(ask(t, a, 0, 1000));
	assert_false(ask(t, a, 1, 1000));
	assert_false(ask(t, a, 999, 1000));
	assert_true(ask(t, a, 1001, 1000));
	/* another lcore whose now_ms was read just before the one that asked */
	assert_true(ask(t, b, 5000, 1000));
	assert_false(ask(t, b, 4999, 1000));
	assert_false(ask(t, b, 5999, 1000));
	assert_true(ask(t, b, 6000, 1000));
	fo_neigh_destroy(t);
}

struct seen {
	uint32_t n;
	uint32_t ips[64];
	uint8_t macs[64][6];
};

static void collect(void *arg, uint32_t ip, const uint8_t mac[6])
{
	struct seen *s = arg;
	assert_true(s->n < 64);
	s->ips[s->n] = ip;
	memcpy(s->macs[s->n], mac, 6);
	s->n++;
}

static void test_foreach(void **state)
{
	(void)state;
	struct fo_neigh_table *t = mk(32);
	struct seen s = { 0 };
	assert_int_equal(fo_neigh_foreach(t, collect, &s), 0);
	assert_int_equal(s.n, 0);
	uint8_t m[6];
	for (uint32_t i = 1; i <= 20; i++) {
		mac_of(IP4(172, 16, 0, i), 4, m);
		assert_int_equal(put(t, IP4(172, 16, 0, i), m), FO_NEIGH_CREATED);
	}
	/* pending (asked, unresolved) entries are not visited */
	assert_true(ask(t, IP4(172, 16, 1, 1), 10, 100));
	assert_true(ask(t, IP4(172, 16, 1, 2), 10, 100));
	assert_true(ask(t, IP4(172, 16, 0, 5), 10, 100)); /* resolved one */
	assert_int_equal(fo_neigh_count(t), 22);
	assert_int_equal(fo_neigh_foreach(t, collect, &s), 20);
	assert_int_equal(s.n, 20);
	uint32_t mask = 0;
	for (uint32_t k = 0; k < s.n; k++) {
		uint32_t ip = s.ips[k];
		assert_int_equal(ip >> 8, IP4(172, 16, 0, 0) >> 8);
		uint32_t i = ip & 0xff;
		assert_true(i >= 1 && i <= 20);
		assert_false(mask & (1u << i)); /* once each */
		mask |= 1u << i;
		mac_of(ip, 4, m);
		assert_memory_equal(s.macs[k], m, 6);
	}
	fo_neigh_destroy(t);
}

/* ---- hardening rules ----------------------------------------------------------------- */

/* Only unicast hosts of the port's subnet are learnt. */
static void test_on_link(void **state)
{
	(void)state;
	const uint32_t own = IP4(198, 18, 0, 1), m24 = 0xffffff00u;
	assert_true(fo_neigh_on_link(IP4(198, 18, 0, 2), own, m24));
	assert_true(fo_neigh_on_link(IP4(198, 18, 0, 254), own, m24));
	assert_false(fo_neigh_on_link(own, own, m24));                  /* our own address */
	assert_false(fo_neigh_on_link(0, own, m24));                    /* 0.0.0.0 */
	assert_false(fo_neigh_on_link(IP4(198, 18, 0, 0), own, m24));   /* network */
	assert_false(fo_neigh_on_link(IP4(198, 18, 0, 255), own, m24)); /* subnet broadcast */
	assert_false(fo_neigh_on_link(0xffffffffu, own, m24));          /* limited broadcast */
	assert_false(fo_neigh_on_link(IP4(198, 18, 1, 2), own, m24));   /* off-link */
	assert_false(fo_neigh_on_link(IP4(10, 0, 0, 2), own, m24));
	assert_false(fo_neigh_on_link(IP4(224, 0, 0, 251), own, m24)); /* multicast */
	assert_false(fo_neigh_on_link(IP4(240, 0, 0, 1), own, m24));   /* class E */
	assert_false(fo_neigh_on_link(IP4(127, 0, 0, 1), own, m24));   /* loopback */
	/* a subnet that contains multicast or loopback space still refuses them */
	assert_false(fo_neigh_on_link(IP4(224, 0, 0, 9), IP4(128, 0, 0, 1), 0x80000000u));
	assert_false(fo_neigh_on_link(IP4(127, 0, 0, 9), IP4(64, 0, 0, 1), 0xc0000000u));
	/* /31 (RFC 3021): both addresses are hosts; /32: nobody else is on-link */
	assert_true(fo_neigh_on_link(IP4(198, 18, 0, 0), own, 0xfffffffeu));
	assert_false(fo_neigh_on_link(IP4(198, 18, 0, 3), own, 0xfffffffeu));
	assert_false(fo_neigh_on_link(IP4(198, 18, 0, 2), own, 0xffffffffu));
	/* /16: the lab's /15 neighbours are off-link, the whole /16 minus its ends is on */
	assert_true(fo_neigh_on_link(IP4(198, 18, 200, 7), own, 0xffff0000u));
	assert_false(fo_neigh_on_link(IP4(198, 18, 255, 255), own, 0xffff0000u));
	assert_false(fo_neigh_on_link(IP4(198, 19, 0, 7), own, 0xffff0000u));
}

/* A reply (learn without create) for an address we never asked about changes nothing; one for
 * an address we asked about (pending) or know (resolved) is taken. */
static void test_unsolicited_reply_refused(void **state)
{
	(void)state;
	struct fo_neigh_table *t = mk(64);
	uint8_t m[6], got[6];
	uint32_t ip = IP4(198, 18, 0, 9);
	mac_of(ip, 1, m);
	uint64_t v = fo_neigh_version(t);
	assert_int_equal(fo_neigh_learn(t, ip, m, 10, false), FO_NEIGH_ABSENT);
	assert_int_equal(fo_neigh_count(t), 0);
	assert_false(fo_neigh_lookup(t, ip, got));
	assert_true(fo_neigh_version(t) == v);
	/* 1000 unsolicited replies from different addresses: still empty */
	for (uint32_t i = 0; i < 1000; i++) {
		mac_of(IP4(198, 18, 0, 0) + i, 2, m);
		assert_int_equal(fo_neigh_learn(t, IP4(198, 18, 0, 0) + i + 1, m, 10, false), FO_NEIGH_ABSENT);
	}
	assert_int_equal(fo_neigh_count(t), 0);
	fo_neigh_destroy(t);
}

static void test_pending_reply_accepted(void **state)
{
	(void)state;
	struct fo_neigh_table *t = mk(64);
	uint8_t m[6], m2[6], got[6];
	uint32_t ip = IP4(198, 18, 0, 9);
	mac_of(ip, 1, m);
	mac_of(ip, 2, m2);
	assert_true(ask(t, ip, 100, 200)); /* we need it: pending */
	assert_int_equal(fo_neigh_count(t), 1);
	assert_false(fo_neigh_lookup(t, ip, got));
	uint64_t v = fo_neigh_version(t);
	assert_int_equal(fo_neigh_learn(t, ip, m, 150, false), FO_NEIGH_RESOLVED);
	assert_true(fo_neigh_version(t) != v);
	assert_true(fo_neigh_lookup(t, ip, got));
	assert_memory_equal(got, m, 6);
	/* resolved: further replies refresh or move it */
	assert_int_equal(fo_neigh_learn(t, ip, m, 160, false), FO_NEIGH_REFRESHED);
	assert_int_equal(fo_neigh_learn(t, ip, m2, 170, false), FO_NEIGH_MOVED);
	assert_true(fo_neigh_lookup(t, ip, got));
	assert_memory_equal(got, m2, 6);
	/* a request for our address creates its sender's entry at once (RFC 826) */
	uint32_t r = IP4(198, 18, 0, 10);
	mac_of(r, 3, m);
	assert_int_equal(fo_neigh_learn(t, r, m, 180, true), FO_NEIGH_CREATED);
	assert_true(fo_neigh_lookup(t, r, got));
	assert_memory_equal(got, m, 6);
	assert_int_equal(fo_neigh_count(t), 2);
	fo_neigh_destroy(t);
}

/* Resolved entries expire max_age after their last confirmation, pending ones pending_ms after
 * they were created; the freed slots are reused; statics never age. */
static void test_aging(void **state)
{
	(void)state;
	struct fo_neigh_table *t = mk_aging(64, 1000, 600);
	uint8_t m[6], got[6];
	uint32_t res = IP4(198, 18, 0, 2), pend = IP4(198, 18, 0, 3), kept = IP4(198, 18, 0, 4),
		 st = IP4(198, 18, 0, 5);
	mac_of(res, 1, m);
	assert_int_equal(fo_neigh_learn(t, res, m, 0, true), FO_NEIGH_CREATED);
	mac_of(kept, 1, m);
	assert_int_equal(fo_neigh_learn(t, kept, m, 0, true), FO_NEIGH_CREATED);
	mac_of(st, 1, m);
	assert_int_equal(fo_neigh_add_static(t, st, m), FO_NEIGH_CREATED);
	assert_true(ask(t, pend, 0, 200));
	assert_int_equal(fo_neigh_count(t), 4);
	uint32_t r, p;

	assert_int_equal(fo_neigh_age(t, 599, 64, &r, &p), 0);
	assert_true(ask(t, pend, 201, 200)); /* retries do not extend a pending entry's life */
	assert_true(ask(t, pend, 401, 200));
	assert_int_equal(fo_neigh_age(t, 600, 64, &r, &p), 1); /* three requests, no reply */
	assert_int_equal(p, 1);
	assert_int_equal(r, 0);
	assert_int_equal(fo_neigh_count(t), 3);
	mac_of(kept, 1, m);
	assert_int_equal(fo_neigh_learn(t, kept, m, 700, false), FO_NEIGH_REFRESHED); /* confirmed */

	uint64_t v = fo_neigh_version(t);
	assert_int_equal(fo_neigh_age(t, 999, 64, &r, &p), 0);
	assert_int_equal(fo_neigh_age(t, 1000, 64, &r, &p), 1);
	assert_int_equal(r, 1);
	assert_true(fo_neigh_version(t) != v); /* readers' caches let go of it */
	assert_false(fo_neigh_lookup(t, res, got));
	assert_true(fo_neigh_lookup(t, kept, got));
	assert_int_equal(fo_neigh_count(t), 2);
	/* a reply for the expired entry is now unsolicited */
	mac_of(res, 1, m);
	assert_int_equal(fo_neigh_learn(t, res, m, 1001, false), FO_NEIGH_ABSENT);
	assert_int_equal(fo_neigh_age(t, 1700, 64, &r, &p), 1); /* kept: 700 + 1000 */
	assert_false(fo_neigh_lookup(t, kept, got));
	/* the static entry stays for ever */
	assert_int_equal(fo_neigh_age(t, 1u << 30, 64, &r, &p), 0);
	assert_true(fo_neigh_lookup(t, st, got));
	assert_int_equal(fo_neigh_count(t), 1);

	/* the freed slots are reused */
	for (uint32_t i = 0; i < 20; i++) {
		uint32_t ip = IP4(198, 18, 1, 0) + i + 1;
		mac_of(ip, 2, m);
		assert_true(ask(t, ip, 2000, 200));
		assert_int_equal(fo_neigh_learn(t, ip, m, 2000, false), FO_NEIGH_RESOLVED);
	}
	assert_int_equal(fo_neigh_count(t), 21);
	for (uint32_t i = 0; i < 20; i++) {
		uint32_t ip = IP4(198, 18, 1, 0) + i + 1;
		mac_of(ip, 2, m);
		assert_true(fo_neigh_lookup(t, ip, got));
		assert_memory_equal(got, m, 6);
	}
	/* aging in small steps covers the whole table (the cursor wraps) */
	uint32_t freed = 0;
	for (int i = 0; i < 16; i++)
		freed += fo_neigh_age(t, 5000, 8, &r, &p);
	assert_int_equal(freed, 20);
	assert_int_equal(fo_neigh_count(t), 1);
	fo_neigh_destroy(t);
}

/* Stale: unconfirmed for half the max age, the MAC is still used and the caller asks again. */
static void test_stale_refresh(void **state)
{
	(void)state;
	struct fo_neigh_table *t = mk_aging(64, 1000, 600);
	uint8_t m[6], got[6];
	uint32_t ip = IP4(198, 18, 0, 2);
	mac_of(ip, 1, m);
	assert_int_equal(fo_neigh_learn(t, ip, m, 100, true), FO_NEIGH_CREATED);
	bool stale;
	assert_true(fo_neigh_resolve(t, ip, 599, got, &stale));
	assert_false(stale);
	assert_true(fo_neigh_resolve(t, ip, 600, got, &stale));
	assert_true(stale);
	assert_memory_equal(got, m, 6);
	assert_true(ask(t, ip, 600, 200)); /* re-asked, at most once per interval */
	assert_false(ask(t, ip, 700, 200));
	assert_int_equal(fo_neigh_learn(t, ip, m, 750, false), FO_NEIGH_REFRESHED); /* the reply */
	assert_true(fo_neigh_resolve(t, ip, 800, got, &stale));
	assert_false(stale);
	uint32_t r, p;
	assert_int_equal(fo_neigh_age(t, 1200, 64, &r, &p), 0); /* 100 + 1000 passed, but confirmed at 750 */
	fo_neigh_destroy(t);
}

/* Readers cache MACs by version: the ager moves the version once when an entry turns stale, so
 * a cached MAC is looked up again (and re-asked) before the entry expires. */
static void test_stale_moves_version(void **state)
{
	(void)state;
	struct fo_neigh_table *t = mk_aging(64, 1000, 600);
	uint8_t m[6], got[6];
	uint32_t ip = IP4(198, 18, 0, 2), r, p;
	mac_of(ip, 1, m);
	assert_int_equal(fo_neigh_learn(t, ip, m, 0, true), FO_NEIGH_CREATED);
	uint64_t v = fo_neigh_version(t);
	assert_int_equal(fo_neigh_age(t, 499, 64, &r, &p), 0);
	assert_true(fo_neigh_version(t) == v);
	assert_int_equal(fo_neigh_age(t, 500, 64, &r, &p), 0);
	uint64_t v2 = fo_neigh_version(t);
	assert_true(v2 != v); /* stale: announced */
	assert_int_equal(fo_neigh_age(t, 600, 64, &r, &p), 0);
	assert_true(fo_neigh_version(t) == v2); /* once */
	bool stale;
	assert_true(fo_neigh_resolve(t, ip, 600, got, &stale)); /* the MAC still serves */
	assert_true(stale);
	assert_true(ask(t, ip, 600, 200));
	assert_int_equal(fo_neigh_learn(t, ip, m, 650, false), FO_NEIGH_REFRESHED); /* answered */
	assert_int_equal(fo_neigh_age(t, 1100, 64, &r, &p), 0);
	assert_true(fo_neigh_version(t) == v2); /* fresh again (650 + 500 not reached) */
	assert_int_equal(fo_neigh_age(t, 1150, 64, &r, &p), 0);
	assert_true(fo_neigh_version(t) != v2); /* stale again: announced again */
	/* an entry nobody asks for again expires at its max age, flag or not */
	assert_int_equal(fo_neigh_age(t, 1650, 64, &r, &p), 1);
	assert_int_equal(r, 1);
	assert_false(fo_neigh_lookup(t, ip, got));
	/* the oldest-first eviction is not fooled by the flag bit */
	struct fo_neigh_table *e = mk_aging(16, 1000, 600);
	for (uint32_t i = 0; i < 16; i++) {
		mac_of(IP4(198, 18, 0, 10 + i), 1, m);
		assert_int_equal(fo_neigh_learn(e, IP4(198, 18, 0, 10 + i), m, i == 0 ? 0 : 400 + i, true),
				 FO_NEIGH_CREATED);
	}
	assert_int_equal(fo_neigh_age(e, 600, 16, &r, &p), 0); /* flags entry 0 only */
	bool ev;
	assert_true(fo_neigh_should_request(e, IP4(198, 18, 1, 1), 700, 200, &ev));
	assert_true(ev);
	assert_false(fo_neigh_lookup(e, IP4(198, 18, 0, 10), got));
	fo_neigh_destroy(e);
	fo_neigh_destroy(t);
}

/* A table of 16 is a single window: when it is full, a needed address takes the slot of the
 * least recently confirmed entry, and that is counted as an eviction. */
static void test_full_table_evicts_oldest(void **state)
{
	(void)state;
	struct fo_neigh_table *t = mk(16);
	uint8_t m[6], got[6];
	for (uint32_t i = 0; i < 16; i++) {
		uint32_t ip = IP4(198, 18, 0, 10 + i);
		mac_of(ip, 1, m);
		assert_int_equal(fo_neigh_learn(t, ip, m, 100 + i, true), FO_NEIGH_CREATED);
	}
	assert_int_equal(fo_neigh_count(t), 16);
	/* a request-learn never evicts */
	mac_of(IP4(198, 18, 0, 100), 1, m);
	assert_int_equal(fo_neigh_learn(t, IP4(198, 18, 0, 100), m, 200, true), FO_NEIGH_NO_ROOM);
	/* entry 1 is confirmed again: 0 is the oldest, then 2 */
	mac_of(IP4(198, 18, 0, 11), 1, m);
	assert_int_equal(fo_neigh_learn(t, IP4(198, 18, 0, 11), m, 150, false), FO_NEIGH_REFRESHED);

	bool evicted = false;
	uint64_t v = fo_neigh_version(t);
	assert_true(fo_neigh_should_request(t, IP4(198, 18, 0, 200), 300, 200, &evicted));
	assert_true(evicted);
	assert_true(fo_neigh_version(t) != v);
	assert_false(fo_neigh_lookup(t, IP4(198, 18, 0, 10), got)); /* the oldest went */
	assert_int_equal(fo_neigh_count(t), 16);
	/* the new one resolves with its reply */
	mac_of(IP4(198, 18, 0, 200), 7, m);
	assert_int_equal(fo_neigh_learn(t, IP4(198, 18, 0, 200), m, 310, false), FO_NEIGH_RESOLVED);
	assert_true(fo_neigh_lookup(t, IP4(198, 18, 0, 200), got));
	assert_memory_equal(got, m, 6);
	assert_true(fo_neigh_should_request(t, IP4(198, 18, 0, 201), 300, 200, &evicted));
	assert_true(evicted);
	assert_false(fo_neigh_lookup(t, IP4(198, 18, 0, 12), got)); /* then 2, not the refreshed 1 */
	assert_true(fo_neigh_lookup(t, IP4(198, 18, 0, 11), got));
	assert_true(fo_neigh_lookup(t, IP4(198, 18, 0, 200), got));
	for (uint32_t i = 3; i < 16; i++)
		assert_true(fo_neigh_lookup(t, IP4(198, 18, 0, 10 + i), got));
	/* asking again for one already pending evicts nothing */
	assert_false(fo_neigh_should_request(t, IP4(198, 18, 0, 201), 310, 200, &evicted));
	assert_false(evicted);
	assert_int_equal(fo_neigh_count(t), 16);

	/* in a big table the victim is the oldest entry of the address's window */
	struct fo_neigh_table *b = mk(1024);
	uint32_t n = 0;
	for (uint32_t i = 1; n < 1024; i++) {
		mac_of(i, 1, m);
		enum fo_neigh_result r = fo_neigh_learn(b, i, m, 1000 + i, true);
		if (r == FO_NEIGH_CREATED)
			n++;
		else if (r == FO_NEIGH_NO_ROOM && i > 100000)
			break;
	}
	uint32_t before = fo_neigh_count(b);
	for (uint32_t i = 0; i < 5000; i++) {
		uint32_t ip = IP4(10, 9, 0, 0) + i;
		(void)fo_neigh_should_request(b, ip, 1000000 + i, 200, &evicted);
	}
	assert_true(fo_neigh_count(b) <= 1024);
	assert_true(fo_neigh_count(b) >= before);
	fo_neigh_destroy(b);
	fo_neigh_destroy(t);
}

/* Eviction takes an unanswered (pending) entry before any resolved one, oldest first: a flood
 * of addresses we ask for and never hear from churns among itself. */
static void test_evicts_pending_first(void **state)
{
	(void)state;
	struct fo_neigh_table *t = mk(16);
	uint8_t m[6], got[6];
	for (uint32_t i = 0; i < 8; i++) { /* 8 resolved, confirmed long ago */
		mac_of(IP4(198, 18, 0, 10 + i), 1, m);
		assert_int_equal(fo_neigh_learn(t, IP4(198, 18, 0, 10 + i), m, 10 + i, true), FO_NEIGH_CREATED);
	}
	for (uint32_t i = 0; i < 8; i++) /* 8 pending, recent */
		assert_true(ask(t, IP4(198, 18, 1, 10 + i), 1000 + i, 200));
	/* 100 more needed addresses that never answer: they replace pending ones only */
	uint32_t ev = 0;
	for (uint32_t i = 0; i < 100; i++) {
		bool e;
		assert_true(fo_neigh_should_request(t, IP4(198, 18, 2, 1 + i), 2000 + i, 200, &e));
		ev += e;
	}
	assert_int_equal(ev, 100);
	for (uint32_t i = 0; i < 8; i++) {
		mac_of(IP4(198, 18, 0, 10 + i), 1, m);
		assert_true(fo_neigh_lookup(t, IP4(198, 18, 0, 10 + i), got));
		assert_memory_equal(got, m, 6);
	}
	/* the newest pending ones are still there, the oldest went first */
	bool e;
	assert_false(fo_neigh_should_request(t, IP4(198, 18, 2, 100), 2100, 200, &e)); /* present, asked */
	assert_false(e);
	assert_true(fo_neigh_should_request(t, IP4(198, 18, 2, 1), 2100, 200, &e)); /* gone: made again */
	assert_true(e);
	/* only resolved ones left: the least recently confirmed goes */
	struct fo_neigh_table *r = mk(16);
	for (uint32_t i = 0; i < 16; i++) {
		mac_of(IP4(198, 18, 0, 10 + i), 1, m);
		assert_int_equal(fo_neigh_learn(r, IP4(198, 18, 0, 10 + i), m, 100 - i, true), FO_NEIGH_CREATED);
	}
	assert_true(fo_neigh_should_request(r, IP4(198, 18, 2, 1), 200, 200, &e));
	assert_true(e);
	assert_false(fo_neigh_lookup(r, IP4(198, 18, 0, 25), got)); /* confirmed at 85: the oldest */
	assert_true(fo_neigh_lookup(r, IP4(198, 18, 0, 10), got));
	fo_neigh_destroy(r);
	fo_neigh_destroy(t);
}

/* The table-wide request budget: a burst of a tenth of a second's worth (at least 16), then the
 * configured rate; next_hop counts what it held back. */
static void test_request_budget(void **state)
{
	(void)state;
	struct fo_neigh_conf c = {
		.capacity = 256, .seed = { 5, 6 }, .max_age_ms = 1000, .pending_ms = 600, .requests_per_s = 100
	};
	struct fo_neigh_table *t = fo_neigh_create(&c);
	assert_non_null(t);
	uint32_t n = 0;
	while (fo_neigh_request_allowed(t, 1000) && n < 1000)
		n++;
	assert_int_equal(n, 16); /* the burst */
	assert_false(fo_neigh_request_allowed(t, 1005));
	assert_true(fo_neigh_request_allowed(t, 1010)); /* 10 ms later: one more */
	assert_false(fo_neigh_request_allowed(t, 1010));
	n = 0;
	for (uint64_t ms = 1010; ms < 3010; ms++) /* two seconds at 1 call per ms: 200 */
		n += fo_neigh_request_allowed(t, ms);
	assert_true(n >= 199 && n <= 201);
	assert_true(fo_neigh_request_allowed(t, 60000)); /* idle refills the burst, no more */
	n = 1;
	while (fo_neigh_request_allowed(t, 60000) && n < 1000)
		n++;
	assert_int_equal(n, 16);

	/* next_hop: 300 unknown on-link addresses at once: 16 requests, the rest counted limited */
	struct fo_counters ctr;
	memset(&ctr, 0, sizeof(ctr));
	uint32_t asked = 0;
	for (uint32_t i = 0; i < 300; i++) {
		uint8_t mac[6];
		bool a;
		assert_false(fo_neigh_next_hop(t, &ctr, IP4(198, 18, 0, 0) + 2 + (i % 250) + (i / 250) * 256,
					       IP4(198, 18, 0, 1), 0xffff0000u, 120000, 200, mac, &a));
		asked += a;
	}
	assert_int_equal(asked, 16);
	assert_int_equal(ctr.ev[FO_EV_ARP_REQUEST_LIMITED], 300 - 16);
	fo_neigh_destroy(t);

	/* 0: no limit; 1 per second: a burst of 16 still */
	c.requests_per_s = 0;
	t = fo_neigh_create(&c);
	for (int i = 0; i < 10000; i++)
		assert_true(fo_neigh_request_allowed(t, 5));
	fo_neigh_destroy(t);
	c.requests_per_s = 1;
	t = fo_neigh_create(&c);
	n = 0;
	while (fo_neigh_request_allowed(t, 0) && n < 1000)
		n++;
	assert_int_equal(n, 16);
	assert_false(fo_neigh_request_allowed(t, 999));
	assert_true(fo_neigh_request_allowed(t, 1000));
	fo_neigh_destroy(t);
}

/* Static entries: never evicted, never aged, never changed by ARP. */
static void test_static_never_evicted(void **state)
{
	(void)state;
	struct fo_neigh_table *t = mk_aging(16, 1000, 600);
	uint8_t m[6], other[6], got[6];
	for (uint32_t i = 0; i < 4; i++) {
		mac_of(IP4(198, 18, 0, 2 + i), 5, m);
		assert_int_equal(fo_neigh_add_static(t, IP4(198, 18, 0, 2 + i), m), FO_NEIGH_CREATED);
	}
	mac_of(IP4(198, 18, 0, 2), 5, m);
	assert_int_equal(fo_neigh_add_static(t, IP4(198, 18, 0, 2), m), FO_NEIGH_STATIC_SAME);
	mac_of(IP4(198, 18, 0, 2), 6, other);
	assert_int_equal(fo_neigh_add_static(t, IP4(198, 18, 0, 2), other), FO_NEIGH_STATIC_CONFLICT);
	/* ARP cannot change it, by request or reply */
	assert_int_equal(fo_neigh_learn(t, IP4(198, 18, 0, 2), other, 10, true), FO_NEIGH_STATIC_CONFLICT);
	assert_int_equal(fo_neigh_learn(t, IP4(198, 18, 0, 2), other, 10, false), FO_NEIGH_STATIC_CONFLICT);
	assert_int_equal(fo_neigh_learn(t, IP4(198, 18, 0, 2), m, 10, false), FO_NEIGH_STATIC_SAME);
	assert_true(fo_neigh_lookup(t, IP4(198, 18, 0, 2), got));
	assert_memory_equal(got, m, 6);
	bool stale = true;
	assert_true(fo_neigh_resolve(t, IP4(198, 18, 0, 2), 1u << 30, got, &stale));
	assert_false(stale);
	assert_false(ask(t, IP4(198, 18, 0, 2), 10, 200)); /* resolved for good: no request */

	/* fill the rest, then 100 needed addresses churn through the 12 learnt slots */
	for (uint32_t i = 0; i < 12; i++) {
		mac_of(IP4(198, 18, 0, 50 + i), 1, m);
		assert_int_equal(fo_neigh_learn(t, IP4(198, 18, 0, 50 + i), m, 20, true), FO_NEIGH_CREATED);
	}
	uint32_t evictions = 0;
	for (uint32_t i = 0; i < 100; i++) {
		bool ev;
		assert_true(fo_neigh_should_request(t, IP4(198, 18, 1, 1 + i), 30 + i, 200, &ev));
		evictions += ev;
	}
	assert_int_equal(evictions, 100);
	assert_int_equal(fo_neigh_count(t), 16);
	for (uint32_t i = 0; i < 4; i++) {
		mac_of(IP4(198, 18, 0, 2 + i), 5, m);
		assert_true(fo_neigh_lookup(t, IP4(198, 18, 0, 2 + i), got));
		assert_memory_equal(got, m, 6);
	}
	uint32_t r, p;
	assert_int_equal(fo_neigh_age(t, 1u << 30, 16, &r, &p), 12);
	assert_int_equal(fo_neigh_count(t), 4);

	/* a window of statics only: nothing can be created there */
	struct fo_neigh_table *s = mk(16);
	for (uint32_t i = 0; i < 16; i++) {
		mac_of(IP4(198, 18, 0, 2 + i), 5, m);
		assert_int_equal(fo_neigh_add_static(s, IP4(198, 18, 0, 2 + i), m), FO_NEIGH_CREATED);
	}
	mac_of(IP4(198, 18, 0, 99), 5, m);
	assert_int_equal(fo_neigh_add_static(s, IP4(198, 18, 0, 99), m), FO_NEIGH_NO_ROOM);
	assert_int_equal(fo_neigh_learn(s, IP4(198, 18, 0, 99), m, 0, true), FO_NEIGH_NO_ROOM);
	bool ev = true;
	assert_false(fo_neigh_should_request(s, IP4(198, 18, 0, 99), 0, 200, &ev));
	assert_false(ev);
	fo_neigh_destroy(s);
	fo_neigh_destroy(t);
}

/* A learnt entry for an address that is then configured static becomes the static one. */
static void test_static_over_learnt(void **state)
{
	(void)state;
	struct fo_neigh_table *t = mk(64);
	uint8_t m[6], s[6], got[6];
	uint32_t ip = IP4(198, 18, 0, 2);
	mac_of(ip, 1, m);
	mac_of(ip, 2, s);
	assert_int_equal(put(t, ip, m), FO_NEIGH_CREATED);
	assert_int_equal(fo_neigh_add_static(t, ip, s), FO_NEIGH_CREATED);
	assert_int_equal(fo_neigh_count(t), 1);
	assert_true(fo_neigh_lookup(t, ip, got));
	assert_memory_equal(got, s, 6);
	assert_int_equal(fo_neigh_learn(t, ip, m, 0, false), FO_NEIGH_STATIC_CONFLICT);
	fo_neigh_destroy(t);
}

/* The window an address lands in depends on the per-process seed: addresses chosen to crowd
 * one window under one seed are spread under another. */
static void test_seed(void **state)
{
	(void)state;
	struct fo_neigh_conf ca = { .capacity = 1024, .seed = { 1, 2 } }, cb = { .capacity = 1024, .seed = { 3, 4 } };
	struct fo_neigh_table *a = fo_neigh_create(&ca), *b = fo_neigh_create(&cb);
	assert_non_null(a);
	assert_non_null(b);
	/* the same address, different homes under most seeds */
	uint32_t differ = 0;
	for (uint32_t i = 0; i < 1000; i++)
		differ += fo_neigh_home(a, IP4(198, 18, 0, 0) + i) != fo_neigh_home(b, IP4(198, 18, 0, 0) + i);
	assert_true(differ > 950);
	/* an attacker who knew seed a: 48 senders aimed at one home slot */
	uint32_t aimed[48], n = 0;
	uint32_t target = fo_neigh_home(a, IP4(10, 0, 0, 1));
	for (uint32_t ip = IP4(10, 0, 0, 1); n < 48; ip++)
		if (fo_neigh_home(a, ip) == target)
			aimed[n++] = ip;
	uint32_t created_a = 0, created_b = 0;
	uint8_t m[6];
	for (uint32_t i = 0; i < 48; i++) {
		mac_of(aimed[i], 1, m);
		created_a += fo_neigh_learn(a, aimed[i], m, 0, true) == FO_NEIGH_CREATED;
		created_b += fo_neigh_learn(b, aimed[i], m, 0, true) == FO_NEIGH_CREATED;
	}
	assert_int_equal(created_a, FO_NEIGH_WAYS); /* one window full: the rest refused */
	assert_int_equal(created_b, 48);            /* another seed: no crowding */
	/* a lookup costs at most one window's probes even there */
	assert_false(fo_neigh_lookup(a, aimed[47], m));
	fo_neigh_destroy(a);
	fo_neigh_destroy(b);
}

/* The version moves exactly when an entry gets or changes a MAC, or leaves. */
static void test_version(void **state)
{
	(void)state;
	struct fo_neigh_table *t = mk_aging(64, 1000, 300);
	const uint8_t a[6] = { 2, 0, 0, 0, 0, 1 }, b[6] = { 2, 0, 0, 0, 0, 2 };
	uint64_t v0 = fo_neigh_version(t);
	assert_int_equal(fo_neigh_learn(t, 0x0a000001, a, 1000, true), FO_NEIGH_CREATED);
	uint64_t v1 = fo_neigh_version(t);
	assert_true(v1 != v0);
	assert_int_equal(fo_neigh_learn(t, 0x0a000001, a, 1000, true), FO_NEIGH_REFRESHED);
	assert_true(fo_neigh_version(t) == v1);
	assert_true(ask(t, 0x0a000002, 1000, 200)); /* pending entry: no MAC yet */
	assert_true(fo_neigh_version(t) == v1);
	uint32_t r, p;
	assert_int_equal(fo_neigh_age(t, 1400, 64, &r, &p), 1); /* the pending one: no MAC left */
	assert_int_equal(p, 1);
	assert_true(fo_neigh_version(t) == v1);
	assert_int_equal(put(t, 0x0a000001, b), FO_NEIGH_MOVED);
	assert_true(fo_neigh_version(t) != v1);
	fo_neigh_destroy(t);
}

/* ---- concurrency ------------------------------------------------------------------- */

#define CC_IPS 512 /* per writer; writers overlap on half */
#define CC_SECONDS 1

struct cc {
	struct fo_neigh_table *t;
	atomic_bool stop;
	atomic_ulong bad;
	atomic_ulong lookups, hits, updates;
};

struct cc_arg {
	struct cc *cc;
	int id;
};

static uint32_t cc_ip(uint32_t k)
{
	return IP4(10, 1, 0, 0) + k + 1;
}

static void *writer(void *p)
{
	struct cc_arg *a = p;
	struct cc *cc = a->cc;
	/* writer 0: keys [0, CC_IPS), writer 1: [CC_IPS/2, CC_IPS*3/2) */
	uint32_t base = a->id ? CC_IPS / 2 : 0;
	uint8_t m[6];
	unsigned long n = 0;
	uint8_t gen = 0;
	while (!atomic_load_explicit(&cc->stop, memory_order_relaxed)) {
		for (uint32_t k = 0; k < CC_IPS; k++) {
			uint32_t ip = cc_ip(base + k);
			/* tag: which writer, and a generation, so MACs of one IP change all the time */
			mac_of(ip, (uint8_t)(a->id << 7 | (gen & 0x7f)), m);
			enum fo_neigh_result r = put(cc->t, ip, m);
			if (r == FO_NEIGH_NO_ROOM || r == FO_NEIGH_INVALID || r == FO_NEIGH_ABSENT)
				atomic_fetch_add(&cc->bad, 1);
			n++;
		}
		gen++;
	}
	atomic_fetch_add(&cc->updates, n);
	return NULL;
}

static void *reader(void *p)
{
	struct cc_arg *a = p;
	struct cc *cc = a->cc;
	uint8_t m[6];
	unsigned long n = 0, hits = 0;
	uint32_t k = (uint32_t)a->id * 97;
	while (!atomic_load_explicit(&cc->stop, memory_order_relaxed)) {
		k = (k + 7) % (CC_IPS * 3 / 2 + 16); /* a few never-written addresses too */
		uint32_t ip = cc_ip(k);
		n++;
		if (!fo_neigh_lookup(cc->t, ip, m))
			continue;
		hits++;
		/* must be a MAC some writer wrote for this very IP */
		bool ok = m[0] == 0x02 && m[2] == (uint8_t)(ip >> 24) && m[3] == (uint8_t)(ip >> 16) &&
			  m[4] == (uint8_t)(ip >> 8) && m[5] == (uint8_t)ip && k < CC_IPS * 3 / 2;
		int writer_id = m[1] >> 7;
		if (writer_id == 0 && k >= CC_IPS)
			ok = false; /* writer 0 never wrote this IP */
		if (writer_id == 1 && k < CC_IPS / 2)
			ok = false;
		if (!ok)
			atomic_fetch_add(&cc->bad, 1);
	}
	atomic_fetch_add(&cc->lookups, n);
	atomic_fetch_add(&cc->hits, hits);
	return NULL;
}

static void *requester(void *p)
{
	struct cc_arg *a = p;
	struct cc *cc = a->cc;
	/* also hammer should_request on the same table (pending entries for the unwritten tail) */
	uint64_t now = 1;
	while (!atomic_load_explicit(&cc->stop, memory_order_relaxed)) {
		for (uint32_t k = CC_IPS * 3 / 2; k < CC_IPS * 3 / 2 + 16; k++)
			(void)ask(cc->t, cc_ip(k), now, 10);
		now++;
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	(void)state;
	struct cc cc;
	memset(&cc, 0, sizeof(cc));
	cc.t = mk(4096);
	atomic_init(&cc.stop, false);
	pthread_t th[5];
	struct cc_arg args[5] = { { &cc, 0 }, { &cc, 1 }, { &cc, 0 }, { &cc, 1 }, { &cc, 0 } };
	assert_int_equal(pthread_create(&th[0], NULL, writer, &args[0]), 0);
	assert_int_equal(pthread_create(&th[1], NULL, writer, &args[1]), 0);
	assert_int_equal(pthread_create(&th[2], NULL, reader, &args[2]), 0);
	assert_int_equal(pthread_create(&th[3], NULL, reader, &args[3]), 0);
	assert_int_equal(pthread_create(&th[4], NULL, requester, &args[4]), 0);
	struct timespec ts = { .tv_sec = CC_SECONDS, .tv_nsec = 0 };
	while (nanosleep(&ts, &ts) != 0)
		;
	atomic_store(&cc.stop, true);
	for (int i = 0; i < 5; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	printf("concurrent: %lu updates, %lu lookups, %lu hits\n", (unsigned long)atomic_load(&cc.updates),
	       (unsigned long)atomic_load(&cc.lookups), (unsigned long)atomic_load(&cc.hits));
	assert_int_equal(atomic_load(&cc.bad), 0);
	assert_true(atomic_load(&cc.hits) > 0);

	/* afterwards: every written IP resolves, to a MAC of a writer that owns it; one slot
	 * per address (no duplicates from racing inserts) */
	uint8_t m[6];
	for (uint32_t k = 0; k < CC_IPS * 3 / 2; k++) {
		uint32_t ip = cc_ip(k);
		assert_true(fo_neigh_lookup(cc.t, ip, m));
		assert_int_equal(m[5], (uint8_t)ip);
		assert_int_equal(m[4], (uint8_t)(ip >> 8));
	}
	assert_int_equal(fo_neigh_count(cc.t), CC_IPS * 3 / 2 + 16);
	fo_neigh_destroy(cc.t);
}

/* Racing inserts of the same fresh addresses from several threads: one slot each. */
#define RACE_THREADS 4
#define RACE_IPS 2000

struct race {
	struct fo_neigh_table *t;
	atomic_int go;
	atomic_int news[RACE_IPS];
};

static void *racer(void *p)
{
	struct race *r = p;
	while (!atomic_load(&r->go))
		;
	uint8_t m[6];
	for (uint32_t k = 0; k < RACE_IPS; k++) {
		mac_of(k + 1, 0, m);
		enum fo_neigh_result rc = put(r->t, k + 1, m);
		if (rc == FO_NEIGH_CREATED)
			atomic_fetch_add(&r->news[k], 1);
		else if (rc != FO_NEIGH_REFRESHED &&
			 rc != FO_NEIGH_RESOLVED) /* resolved: MAC stored before the creator's */
			atomic_fetch_add(&r->news[k], 1000);
	}
	return NULL;
}

static void test_racing_inserts(void **state)
{
	(void)state;
	static struct race r;
	memset(&r, 0, sizeof(r));
	r.t = mk(2 * RACE_IPS); /* bounded windows: room to spare */
	pthread_t th[RACE_THREADS];
	for (int i = 0; i < RACE_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, racer, &r), 0);
	atomic_store(&r.go, 1);
	for (int i = 0; i < RACE_THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(fo_neigh_count(r.t), RACE_IPS);
	for (uint32_t k = 0; k < RACE_IPS; k++)
		assert_int_equal(atomic_load(&r.news[k]), 1); /* same MAC: exactly one "new" */
	fo_neigh_destroy(r.t);
}

/* Slots freed and reused under readers' feet: writers learn, requesters create pending
 * entries that evict, an ager frees entries continuously, all on a small table and one clock.
 * A reader must still never get a MAC written for another address, and the count must come
 * back to zero once everything has aged (no slot leaked or counted twice). */
#define AG_IPS 1024
struct ag {
	struct fo_neigh_table *t;
	atomic_bool stop;
	_Atomic uint64_t now;
	atomic_ulong bad, hits, freed, evictions;
};

static void *ag_writer(void *p)
{
	struct ag *g = p;
	uint8_t m[6];
	uint32_t k = 0;
	while (!atomic_load_explicit(&g->stop, memory_order_relaxed)) {
		uint32_t ip = cc_ip(k++ % AG_IPS);
		mac_of(ip, (uint8_t)k, m);
		(void)fo_neigh_learn(g->t, ip, m, atomic_load(&g->now), (k & 1) != 0);
	}
	return NULL;
}

static void *ag_requester(void *p)
{
	struct ag *g = p;
	uint32_t k = 7;
	unsigned long ev = 0;
	while (!atomic_load_explicit(&g->stop, memory_order_relaxed)) {
		bool e;
		k = k * 1103515245u + 12345u;
		(void)fo_neigh_should_request(g->t, cc_ip(k % (AG_IPS + 256)), atomic_load(&g->now), 1, &e);
		ev += e;
	}
	atomic_fetch_add(&g->evictions, ev);
	return NULL;
}

static void *ag_reader(void *p)
{
	struct ag *g = p;
	uint8_t m[6];
	uint32_t k = 3;
	unsigned long hits = 0;
	while (!atomic_load_explicit(&g->stop, memory_order_relaxed)) {
		uint32_t ip = cc_ip(k++ % (AG_IPS + 256));
		if (!fo_neigh_lookup(g->t, ip, m))
			continue;
		hits++;
		if (m[0] != 0x02 || m[2] != (uint8_t)(ip >> 24) || m[3] != (uint8_t)(ip >> 16) ||
		    m[4] != (uint8_t)(ip >> 8) || m[5] != (uint8_t)ip)
			atomic_fetch_add(&g->bad, 1);
	}
	atomic_fetch_add(&g->hits, hits);
	return NULL;
}

static void *ag_ager(void *p)
{
	struct ag *g = p;
	unsigned long freed = 0;
	while (!atomic_load_explicit(&g->stop, memory_order_relaxed)) {
		uint64_t now = atomic_fetch_add(&g->now, 1) + 1;
		uint32_t r, q;
		freed += fo_neigh_age(g->t, now, 16, &r, &q);
	}
	atomic_fetch_add(&g->freed, freed);
	return NULL;
}

static void test_concurrent_aging(void **state)
{
	(void)state;
	static struct ag g;
	memset(&g, 0, sizeof(g));
	g.t = mk_aging(256, 40, 20);
	pthread_t th[5];
	void *(*fns[5])(void *) = { ag_writer, ag_writer, ag_requester, ag_reader, ag_ager };
	for (int i = 0; i < 5; i++)
		assert_int_equal(pthread_create(&th[i], NULL, fns[i], &g), 0);
	struct timespec ts = { .tv_sec = CC_SECONDS, .tv_nsec = 0 };
	while (nanosleep(&ts, &ts) != 0)
		;
	atomic_store(&g.stop, true);
	for (int i = 0; i < 5; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	printf("concurrent aging: %lu hits, %lu freed by aging, %lu evictions\n", (unsigned long)atomic_load(&g.hits),
	       (unsigned long)atomic_load(&g.freed), (unsigned long)atomic_load(&g.evictions));
	assert_int_equal(atomic_load(&g.bad), 0);
	assert_true(atomic_load(&g.hits) > 0);
	assert_true(atomic_load(&g.freed) > 0);
	assert_true(fo_neigh_count(g.t) <= 256);
	uint32_t r, q;
	(void)fo_neigh_age(g.t, UINT64_MAX / 2, 256, &r, &q);
	assert_int_equal(fo_neigh_count(g.t), 0);
	fo_neigh_destroy(g.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_update_lookup),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_should_request),
		cmocka_unit_test(test_should_request_clock_edges),
		cmocka_unit_test(test_foreach),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_racing_inserts),
		cmocka_unit_test(test_on_link),
		cmocka_unit_test(test_unsolicited_reply_refused),
		cmocka_unit_test(test_pending_reply_accepted),
		cmocka_unit_test(test_aging),
		cmocka_unit_test(test_stale_refresh),
		cmocka_unit_test(test_stale_moves_version),
		cmocka_unit_test(test_full_table_evicts_oldest),
		cmocka_unit_test(test_evicts_pending_first),
		cmocka_unit_test(test_request_budget),
		cmocka_unit_test(test_static_never_evicted),
		cmocka_unit_test(test_static_over_learnt),
		cmocka_unit_test(test_seed),
		cmocka_unit_test(test_concurrent_aging),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
