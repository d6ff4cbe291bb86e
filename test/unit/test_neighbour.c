/* Unit tests for dataplane/neighbour.c: learning, lookups, return codes, capacity rounding
 * and a full table, ARP request rate limiting, iteration, and a concurrent stress run
 * (2 writers with overlapping address sets, 2 readers) in which a reader must never see a
 * MAC that no writer wrote for that address (each MAC encodes its IP). */
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

static void test_update_lookup(void **state)
{
	(void)state;
	struct fo_neigh_table *t = fo_neigh_create(64);
	assert_non_null(t);
	uint8_t m1[6], m2[6], got[6];
	uint32_t ip = IP4(10, 0, 0, 7);
	mac_of(ip, 1, m1);
	mac_of(ip, 2, m2);

	assert_false(fo_neigh_lookup(t, ip, got));
	assert_int_equal(fo_neigh_count(t), 0);
	assert_int_equal(fo_neigh_update(t, ip, m1), 1); /* new */
	assert_int_equal(fo_neigh_count(t), 1);
	memset(got, 0, 6);
	assert_true(fo_neigh_lookup(t, ip, got));
	assert_memory_equal(got, m1, 6);
	assert_int_equal(fo_neigh_update(t, ip, m1), 0); /* same */
	assert_int_equal(fo_neigh_update(t, ip, m2), 1); /* changed */
	assert_true(fo_neigh_lookup(t, ip, got));
	assert_memory_equal(got, m2, 6);
	assert_int_equal(fo_neigh_update(t, ip, m1), 1); /* changed back */
	assert_true(fo_neigh_lookup(t, ip, got));
	assert_memory_equal(got, m1, 6);
	assert_int_equal(fo_neigh_count(t), 1);

	/* ip 0 is never stored */
	assert_int_equal(fo_neigh_update(t, 0, m1), -1);
	assert_false(fo_neigh_lookup(t, 0, got));
	assert_int_equal(fo_neigh_count(t), 1);

	/* all-zero and all-ones MACs are stored as given */
	static const uint8_t zero[6] = {0}, ones[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	assert_int_equal(fo_neigh_update(t, IP4(10, 0, 0, 8), zero), 1);
	assert_true(fo_neigh_lookup(t, IP4(10, 0, 0, 8), got));
	assert_memory_equal(got, zero, 6);
	assert_int_equal(fo_neigh_update(t, IP4(10, 0, 0, 8), zero), 0);
	assert_int_equal(fo_neigh_update(t, 0xffffffffu, ones), 1);
	assert_true(fo_neigh_lookup(t, 0xffffffffu, got));
	assert_memory_equal(got, ones, 6);

	/* many addresses, incl. ones that collide in the low bits */
	for (uint32_t i = 1; i <= 40; i++) {
		uint8_t m[6];
		mac_of(i << 16, 3, m);
		assert_int_equal(fo_neigh_update(t, i << 16, m), 1);
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

/* Capacity: rounded up to a power of two, at least 16; exactly that many entries fit. */
static void check_capacity(uint32_t asked, uint32_t expect)
{
	struct fo_neigh_table *t = fo_neigh_create(asked);
	assert_non_null(t);
	uint8_t m[6], got[6];
	for (uint32_t i = 1; i <= expect; i++) {
		mac_of(i, 0, m);
		if (fo_neigh_update(t, i, m) != 1) {
			print_error("capacity %u: insert %u of %u failed\n", asked, i, expect);
			fail();
		}
	}
	assert_int_equal(fo_neigh_count(t), expect);
	mac_of(expect + 1, 0, m);
	assert_int_equal(fo_neigh_update(t, expect + 1, m), -1); /* full */
	assert_false(fo_neigh_lookup(t, expect + 1, got));      /* full table, absent key: terminates */
	assert_false(fo_neigh_should_request(t, expect + 1, 1000, 100));
	assert_int_equal(fo_neigh_count(t), expect);
	/* existing entries still update and resolve in a full table */
	for (uint32_t i = 1; i <= expect; i++) {
		mac_of(i, 0, m);
		assert_int_equal(fo_neigh_update(t, i, m), 0);
		mac_of(i, 9, m);
		assert_int_equal(fo_neigh_update(t, i, m), 1);
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
	struct fo_neigh_table *t = fo_neigh_create(16);
	assert_non_null(t);
	uint32_t a = IP4(10, 0, 0, 20), b = IP4(10, 0, 0, 21);
	assert_false(fo_neigh_should_request(t, 0, 1000, 100));

	assert_true(fo_neigh_should_request(t, a, 1000, 100));
	assert_false(fo_neigh_should_request(t, a, 1000, 100));
	assert_false(fo_neigh_should_request(t, a, 1099, 100));
	/* per address: b is independent of a */
	assert_true(fo_neigh_should_request(t, b, 1050, 100));
	assert_false(fo_neigh_should_request(t, b, 1100, 100));
	assert_true(fo_neigh_should_request(t, a, 1100, 100));
	assert_false(fo_neigh_should_request(t, a, 1150, 100));
	assert_true(fo_neigh_should_request(t, b, 1150, 100));
	assert_true(fo_neigh_should_request(t, a, 5000, 100));

	/* a pending entry is not resolved, is counted, and is not iterated */
	uint8_t got[6];
	assert_false(fo_neigh_lookup(t, a, got));
	assert_int_equal(fo_neigh_count(t), 2);

	/* once resolved, the caller stops asking (it looks up first); an update still works */
	uint8_t m[6];
	mac_of(a, 1, m);
	assert_int_equal(fo_neigh_update(t, a, m), 1);
	assert_true(fo_neigh_lookup(t, a, got));
	assert_memory_equal(got, m, 6);
	assert_int_equal(fo_neigh_count(t), 2);

	/* interval 0: every call may ask */
	uint32_t c = IP4(10, 0, 0, 22);
	assert_true(fo_neigh_should_request(t, c, 7, 0));
	assert_true(fo_neigh_should_request(t, c, 7, 0));
	fo_neigh_destroy(t);
}

/* The clock starts at 0 ms (fo_now_ms counts from start-up) and lcores read it at slightly
 * different moments: neither may defeat the limit. */
static void test_should_request_clock_edges(void **state)
{
	(void)state;
	struct fo_neigh_table *t = fo_neigh_create(16);
	assert_non_null(t);
	uint32_t a = IP4(10, 0, 0, 30), b = IP4(10, 0, 0, 31);
	assert_true(fo_neigh_should_request(t, a, 0, 1000));
	assert_false(fo_neigh_should_request(t, a, 0, 1000));
	assert_false(fo_neigh_should_request(t, a, 1, 1000));
	assert_false(fo_neigh_should_request(t, a, 999, 1000));
	assert_true(fo_neigh_should_request(t, a, 1001, 1000));
	/* another lcore whose now_ms was read just before the one that asked */
	assert_true(fo_neigh_should_request(t, b, 5000, 1000));
	assert_false(fo_neigh_should_request(t, b, 4999, 1000));
	assert_false(fo_neigh_should_request(t, b, 5999, 1000));
	assert_true(fo_neigh_should_request(t, b, 6000, 1000));
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
	struct fo_neigh_table *t = fo_neigh_create(32);
	assert_non_null(t);
	struct seen s = {0};
	assert_int_equal(fo_neigh_foreach(t, collect, &s), 0);
	assert_int_equal(s.n, 0);
	uint8_t m[6];
	for (uint32_t i = 1; i <= 20; i++) {
		mac_of(IP4(172, 16, 0, i), 4, m);
		assert_int_equal(fo_neigh_update(t, IP4(172, 16, 0, i), m), 1);
	}
	/* pending (asked, unresolved) entries are not visited */
	assert_true(fo_neigh_should_request(t, IP4(172, 16, 1, 1), 10, 100));
	assert_true(fo_neigh_should_request(t, IP4(172, 16, 1, 2), 10, 100));
	assert_true(fo_neigh_should_request(t, IP4(172, 16, 0, 5), 10, 100)); /* resolved one */
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

/* ---- concurrency ------------------------------------------------------------------- */

#define CC_IPS 512        /* per writer; writers overlap on half */
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

static uint32_t cc_ip(uint32_t k) { return IP4(10, 1, 0, 0) + k + 1; }

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
			if (fo_neigh_update(cc->t, ip, m) < 0)
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
			(void)fo_neigh_should_request(cc->t, cc_ip(k), now, 10);
		now++;
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	(void)state;
	struct cc cc;
	memset(&cc, 0, sizeof(cc));
	cc.t = fo_neigh_create(4096);
	assert_non_null(cc.t);
	atomic_init(&cc.stop, false);
	pthread_t th[5];
	struct cc_arg args[5] = {{&cc, 0}, {&cc, 1}, {&cc, 0}, {&cc, 1}, {&cc, 0}};
	assert_int_equal(pthread_create(&th[0], NULL, writer, &args[0]), 0);
	assert_int_equal(pthread_create(&th[1], NULL, writer, &args[1]), 0);
	assert_int_equal(pthread_create(&th[2], NULL, reader, &args[2]), 0);
	assert_int_equal(pthread_create(&th[3], NULL, reader, &args[3]), 0);
	assert_int_equal(pthread_create(&th[4], NULL, requester, &args[4]), 0);
	struct timespec ts = {.tv_sec = CC_SECONDS, .tv_nsec = 0};
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
		int rc = fo_neigh_update(r->t, k + 1, m);
		if (rc == 1)
			atomic_fetch_add(&r->news[k], 1);
		else if (rc != 0)
			atomic_fetch_add(&r->news[k], 1000);
	}
	return NULL;
}

static void test_racing_inserts(void **state)
{
	(void)state;
	static struct race r;
	memset(&r, 0, sizeof(r));
	r.t = fo_neigh_create(RACE_IPS);
	assert_non_null(r.t);
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

/* The version moves exactly when an entry is added or its MAC changes. */
static void test_version(void **state)
{
	(void)state;
	struct fo_neigh_table *t = fo_neigh_create(64);
	const uint8_t a[6] = { 2, 0, 0, 0, 0, 1 }, b[6] = { 2, 0, 0, 0, 0, 2 };
	uint64_t v0 = fo_neigh_version(t);
	assert_int_equal(fo_neigh_update(t, 0x0a000001, a), 1);
	uint64_t v1 = fo_neigh_version(t);
	assert_true(v1 != v0);
	assert_int_equal(fo_neigh_update(t, 0x0a000001, a), 0); /* refresh: same MAC */
	assert_true(fo_neigh_version(t) == v1);
	assert_true(fo_neigh_should_request(t, 0x0a000002, 1000, 200)); /* pending entry: no MAC yet */
	assert_true(fo_neigh_version(t) == v1);
	assert_int_equal(fo_neigh_update(t, 0x0a000001, b), 1); /* moved */
	assert_true(fo_neigh_version(t) != v1);
	fo_neigh_destroy(t);
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
