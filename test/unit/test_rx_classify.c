/* Unit tests for dataplane/net/rx_classify.h, the rx stage's decision per parsed frame: MQTT-SN
 * datagrams go to the worker that owns the client (the same one for the same client, every
 * worker used), ARP requests from on-link senders are learnt and answered, from off-link ones
 * refused and counted, unsolicited ARP replies are dropped and counted while awaited ones are
 * learnt and delivered, ICMP echo is counted answered, drops keep their reason; every frame is
 * counted exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rx_classify.h"

static const struct l2l4_iface ifc = { .mac = { 2, 0, 0, 0, 0, 1 }, .ip = 0x0a000001u, .netmask = 0xffffff00u };

static struct fo_neigh_table *table(void)
{
	struct fo_neigh_conf nc = { .capacity = 64, .seed = { 1, 2 }, .max_age_ms = 60000, .pending_ms = 600 };
	struct fo_neigh_table *t = fo_neigh_create(&nc);
	assert_non_null(t);
	return t;
}

/* Frames finished in the rx stage: delivered, answered or dropped (the worker counts its own). */
static uint64_t settled(const struct fo_counters *c)
{
	return c->delivered + c->answered + c->dropped;
}

static void test_mqttsn_to_owner(void **state)
{
	(void)state;
	struct fo_neigh_table *t = table();
	struct fo_counters c = { 0 };
	bool seen[4] = { false };
	for (uint32_t i = 0; i < 256; i++) {
		struct l2l4_pkt k = { .kind = L2L4_MQTTSN,
				      .src_ip = 0x0a000100u + (i & 15),
				      .src_port = (uint16_t)(1000 + i) };
		uint32_t w = 99, w2 = 99;
		assert_int_equal(fo_rx_decide(&k, &ifc, t, NULL, &c, 0, 4, &w), FO_RX_TO_WORKER);
		assert_true(w < 4);
		assert_int_equal(fo_rx_decide(&k, &ifc, t, NULL, &c, 0, 4, &w2), FO_RX_TO_WORKER);
		assert_int_equal(w, w2); /* a client stays with its worker */
		seen[w] = true;
		uint32_t one = 99;
		fo_rx_decide(&k, &ifc, t, NULL, &c, 0, 1, &one);
		assert_int_equal(one, 0);
	}
	for (int w = 0; w < 4; w++)
		assert_true(seen[w]);
	assert_int_equal(settled(&c), 0); /* the worker accounts for them */
	fo_neigh_destroy(t);
}

static void test_arp_and_echo(void **state)
{
	(void)state;
	struct fo_neigh_table *t = table();
	struct fo_counters c = { 0 };
	uint32_t w;
	uint8_t mac[6];
	/* a request from an on-link sender: learnt, to be answered (the stage counts the answer) */
	struct l2l4_pkt k = { .kind = L2L4_ARP_REQUEST,
			      .arp_sender_ip = 0x0a000005u,
			      .arp_sender_mac = { 2, 0, 0, 0, 0, 5 } };
	assert_int_equal(fo_rx_decide(&k, &ifc, t, NULL, &c, 10, 1, &w), FO_RX_ANSWER_ARP);
	assert_true(fo_neigh_lookup(t, 0x0a000005u, mac));
	assert_int_equal(settled(&c), 0);
	/* off-link: refused, dropped and counted */
	k.arp_sender_ip = 0x0b000005u;
	assert_int_equal(fo_rx_decide(&k, &ifc, t, NULL, &c, 10, 1, &w), FO_RX_DONE);
	assert_false(fo_neigh_lookup(t, 0x0b000005u, mac));
	assert_int_equal(c.dropped, 1);
	/* an unsolicited reply: dropped */
	k.kind = L2L4_ARP_REPLY;
	k.arp_sender_ip = 0x0a000009u;
	assert_int_equal(fo_rx_decide(&k, &ifc, t, NULL, &c, 10, 1, &w), FO_RX_DONE);
	assert_int_equal(c.dropped, 2);
	assert_int_equal(c.delivered, 0);
	/* a reply we asked for: learnt, delivered */
	bool evicted;
	assert_true(fo_neigh_should_request(t, 0x0a000009u, 20, 200, &evicted));
	assert_int_equal(fo_rx_decide(&k, &ifc, t, NULL, &c, 30, 1, &w), FO_RX_DONE);
	assert_true(fo_neigh_lookup(t, 0x0a000009u, mac));
	assert_int_equal(c.delivered, 1);
	/* echo: answered here whether or not the reply finds its next hop */
	k.kind = L2L4_ICMP_ECHO;
	assert_int_equal(fo_rx_decide(&k, &ifc, t, NULL, &c, 30, 1, &w), FO_RX_ECHO);
	assert_int_equal(c.answered, 1);
	/* a parse drop keeps its reason */
	k.kind = L2L4_DROP;
	k.drop = FO_DROP_IP_BAD_LENGTH;
	assert_int_equal(fo_rx_decide(&k, &ifc, t, NULL, &c, 30, 1, &w), FO_RX_DONE);
	assert_int_equal(c.drop[FO_DROP_IP_BAD_LENGTH], 1);
	assert_int_equal(settled(&c), 5); /* every frame but the answered request, once */
	fo_neigh_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mqttsn_to_owner),
		cmocka_unit_test(test_arp_and_echo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
