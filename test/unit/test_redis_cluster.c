/* dataplane/outputs/redis_cluster.c: key slots against the values the Redis Cluster specification
 * and a real cluster give, CLUSTER SLOTS replies (read by hiredis's own reader from RESP bytes as a
 * redis-server 7 writes them) into a slot map, and MOVED / ASK redirections. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "redis_cluster.h"

static uint16_t slot_of(const char *k)
{
	return rc_key_slot(k, strlen(k));
}

static void test_crc16_and_slots(void **state)
{
	(void)state;
	/* The specification's check value: CRC16/XMODEM("123456789") = 0x31C3. */
	assert_int_equal(rc_crc16("123456789", 9), 0x31C3);
	/* CLUSTER KEYSLOT of a redis-server 7.0: foo 12182, bar 5061, hello 866, "" 0. */
	assert_int_equal(slot_of("foo"), 12182);
	assert_int_equal(slot_of("bar"), 5061);
	assert_int_equal(slot_of("hello"), 866);
	assert_int_equal(slot_of(""), 0);
	/* Hash tags: only the first {...} with something in it counts. */
	assert_int_equal(slot_of("{user1000}.following"), slot_of("user1000"));
	assert_int_equal(slot_of("{user1000}.followers"), slot_of("user1000"));
	assert_int_equal(slot_of("foo{bar}{zap}"), slot_of("bar"));
	assert_int_equal(slot_of("foo{{bar}}zap"), slot_of("{bar"));
	assert_int_equal(slot_of("foo{}{bar}"), rc_crc16("foo{}{bar}", 10) & 16383);
	assert_int_equal(slot_of("{}"), rc_crc16("{}", 2) & 16383);
	assert_int_equal(slot_of("a{b"), rc_crc16("a{b", 3) & 16383);
	assert_int_equal(slot_of("fanout:{sensors}/1"), slot_of("sensors"));
	/* Binary keys: the length counts, not a NUL. */
	assert_int_equal(rc_key_slot("a\0b", 3), rc_crc16("a\0b", 3) & 16383);
}

static redisReply *read_reply(const char *resp)
{
	redisReader *rd = redisReaderCreate();
	assert_non_null(rd);
	assert_int_equal(redisReaderFeed(rd, resp, strlen(resp)), REDIS_OK);
	void *r = NULL;
	assert_int_equal(redisReaderGetReply(rd, &r), REDIS_OK);
	assert_non_null(r);
	redisReaderFree(rd);
	return r;
}

/* Three primaries with a replica each, as redis-cli --cluster create --cluster-replicas 1 leaves them;
 * the third primary's range is split in two and its replica has failed (not listed). */
static const char SLOTS3[] = "*4\r\n"
			     "*4\r\n:0\r\n:5460\r\n*4\r\n$9\r\n127.0.0.1\r\n:30001\r\n$3\r\nid1\r\n*0\r\n"
			     "*4\r\n$9\r\n127.0.0.1\r\n:30005\r\n$3\r\nid5\r\n*0\r\n"
			     "*4\r\n:5461\r\n:10922\r\n*4\r\n$9\r\n127.0.0.1\r\n:30002\r\n$3\r\nid2\r\n*0\r\n"
			     "*4\r\n$9\r\n127.0.0.1\r\n:30006\r\n$3\r\nid6\r\n*0\r\n"
			     "*3\r\n:10923\r\n:16000\r\n*3\r\n$9\r\n127.0.0.1\r\n:30003\r\n$3\r\nid3\r\n"
			     "*3\r\n:16001\r\n:16383\r\n*3\r\n$0\r\n\r\n:30003\r\n$3\r\nid3\r\n";

static void test_slots_map(void **state)
{
	(void)state;
	static struct rc_map m;
	rc_map_clear(&m);
	assert_int_equal(m.covered, 0);
	redisReply *r = read_reply(SLOTS3);
	assert_int_equal(rc_map_from_slots(&m, r, "127.0.0.1"), 0);
	freeReplyObject(r);
	assert_int_equal(m.n_nodes, 3);
	assert_int_equal(m.covered, RC_SLOTS);
	assert_string_equal(m.nodes[m.slot_node[0]].host, "127.0.0.1");
	assert_int_equal(m.nodes[m.slot_node[0]].port, 30001);
	assert_int_equal(m.nodes[m.slot_node[5460]].port, 30001);
	assert_int_equal(m.nodes[m.slot_node[5461]].port, 30002);
	assert_int_equal(m.nodes[m.slot_node[16383]].port, 30003); /* the empty host is the default one */
	assert_int_equal(m.slot_node[16383], m.slot_node[10923]);
	assert_int_equal(m.nodes[m.slot_node[0]].replicas, 1);
	assert_int_equal(m.nodes[m.slot_node[16383]].replicas, 0);

	/* A reply that is not a slots reply leaves the map as it was. */
	r = read_reply("*1\r\n*3\r\n:10\r\n:5\r\n*2\r\n$1\r\nh\r\n:1\r\n");
	assert_int_equal(rc_map_from_slots(&m, r, "x"), -1);
	freeReplyObject(r);
	r = read_reply("-ERR This instance has cluster support disabled\r\n");
	assert_int_equal(rc_map_from_slots(&m, r, "x"), -1);
	freeReplyObject(r);
	r = read_reply("*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:1\r\n");
	assert_int_equal(rc_map_from_slots(&m, r, "x"), -1);
	freeReplyObject(r);
	assert_int_equal(m.covered, RC_SLOTS);
	assert_int_equal(m.n_nodes, 3);

	/* Unknown endpoints ("?") and bad ports serve nothing; the rest of the reply still counts. */
	r = read_reply("*2\r\n*3\r\n:0\r\n:99\r\n*2\r\n$1\r\n?\r\n:7000\r\n"
		       "*3\r\n:100\r\n:199\r\n*2\r\n$4\r\nnode\r\n:0\r\n");
	assert_int_equal(rc_map_from_slots(&m, r, "x"), 0);
	freeReplyObject(r);
	assert_int_equal(m.n_nodes, 0);
	assert_int_equal(m.covered, 0);
	assert_int_equal(m.slot_node[0], RC_NODE_NONE);
}

static void test_map_nodes(void **state)
{
	(void)state;
	static struct rc_map m;
	rc_map_clear(&m);
	char host[RC_HOST_MAX + 1];
	for (uint32_t i = 0; i < RC_MAX_NODES; i++) {
		int n = snprintf(host, sizeof(host), "10.0.0.%u", i);
		assert_int_equal(rc_map_node(&m, host, (size_t)n, 7000), i);
	}
	assert_int_equal(rc_map_node(&m, "10.0.0.3", 8, 7000), 3);            /* known */
	assert_int_equal(rc_map_node(&m, "10.0.1.1", 8, 7000), RC_NODE_NONE); /* full */
	rc_map_clear(&m);
	memset(host, 'h', sizeof(host));
	assert_int_equal(rc_map_node(&m, host, RC_HOST_MAX, 7000), RC_NODE_NONE);
	assert_int_equal(rc_map_node(&m, host, RC_HOST_MAX - 1, 7000), 0);
	assert_int_equal(rc_map_node(&m, "", 0, 7000), RC_NODE_NONE);
	assert_int_equal(rc_map_node(&m, "h", 1, 0), RC_NODE_NONE);
}

static enum rc_redirect_kind redir(const char *s, struct rc_redirect *r)
{
	return rc_parse_redirect(s, strlen(s), r);
}

static void test_redirects(void **state)
{
	(void)state;
	struct rc_redirect r;
	assert_int_equal(redir("MOVED 3999 127.0.0.1:6381", &r), RC_MOVED);
	assert_int_equal(r.slot, 3999);
	assert_string_equal(r.host, "127.0.0.1");
	assert_int_equal(r.port, 6381);
	assert_int_equal(redir("ASK 16383 10.1.2.3:7002", &r), RC_ASK);
	assert_int_equal(r.slot, 16383);
	assert_string_equal(r.host, "10.1.2.3");
	assert_int_equal(r.port, 7002);
	assert_int_equal(redir("MOVED 0 ::1:7000", &r), RC_MOVED); /* IPv6: the port after the last colon */
	assert_string_equal(r.host, "::1");
	assert_int_equal(r.port, 7000);
	assert_int_equal(redir("MOVED 12 :7000", &r), RC_MOVED); /* the node's own address unknown to it */
	assert_string_equal(r.host, "");

	static const char *const bad[] = {
		"MOVED",
		"MOVED ",
		"MOVED 16384 h:1",
		"MOVED 99999999 h:1",
		"MOVED x h:1",
		"MOVED 1 h",
		"MOVED 1 h:",
		"MOVED 1 h:0",
		"MOVED 1 h:65536",
		"MOVED 1 h:123456",
		"MOVED 1 h:1x",
		"MOVED 1 h:1 extra",
		"MOVEDX 1 h:1",
		"ASKING",
		"ERR unknown",
		"WRONGTYPE Operation against a key",
		"",
		"MOVED 1  h:1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(redir(bad[i], &r), RC_NOT_REDIRECT);
	char longhost[200] = "MOVED 1 ";
	memset(longhost + 8, 'h', 100);
	strcpy(longhost + 108, ":7000");
	assert_int_equal(redir(longhost, &r), RC_NOT_REDIRECT);
	assert_int_equal(rc_parse_redirect(NULL, 0, &r), RC_NOT_REDIRECT);
	/* Not NUL-terminated: only len bytes are read. */
	assert_int_equal(rc_parse_redirect("ASK 5 h:12345678", 12, &r), RC_ASK);
	assert_int_equal(r.port, 1234);
}

static void test_transient(void **state)
{
	(void)state;
	assert_true(rc_error_is_transient("TRYAGAIN Multiple keys request during rehashing of slot", 55));
	assert_true(rc_error_is_transient("CLUSTERDOWN The cluster is down", 31));
	assert_true(rc_error_is_transient("LOADING Redis is loading the dataset in memory", 46));
	assert_true(rc_error_is_transient("MASTERDOWN", 10));
	assert_true(rc_error_is_transient("READONLY You can't write against a read only replica.", 53));
	assert_false(rc_error_is_transient("WRONGTYPE Operation against a key holding the wrong kind of value", 65));
	assert_false(rc_error_is_transient("ERR The ID specified in XADD is equal or smaller", 48));
	assert_false(rc_error_is_transient("TRYAGAINX", 9));
	assert_false(rc_error_is_transient(NULL, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc16_and_slots), cmocka_unit_test(test_slots_map),
		cmocka_unit_test(test_map_nodes),       cmocka_unit_test(test_redirects),
		cmocka_unit_test(test_transient),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
