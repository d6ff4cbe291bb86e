/* libFuzzer target for what the Redis Streams sink reads from a Redis Cluster node
 * (dataplane/outputs/redis_cluster.c): the bytes go through hiredis's reader, as the sink's
 * connection does, and every reply is taken as a CLUSTER SLOTS reply into a slot map and, when it is
 * an error, as a MOVED / ASK redirection or a transient error. The input's bytes also go to the key
 * slot function. Checks: no crash; a map that was accepted names only nodes it holds, with a port
 * and a NUL-terminated host; covered counts the served slots; a redirection's slot and port are in
 * range. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "redis_cluster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rc_map map;

static void check_map(void)
{
	uint32_t covered = 0;
	if (map.n_nodes > RC_MAX_NODES)
		abort();
	for (uint32_t i = 0; i < map.n_nodes; i++)
		if (map.nodes[i].port == 0 || memchr(map.nodes[i].host, '\0', RC_HOST_MAX) == NULL)
			abort();
	for (uint32_t s = 0; s < RC_SLOTS; s++) {
		if (map.slot_node[s] == RC_NODE_NONE)
			continue;
		if (map.slot_node[s] >= map.n_nodes)
			abort();
		covered++;
	}
	if (covered != map.covered)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (rc_key_slot((const char *)data, size) >= RC_SLOTS)
		abort();
	redisReader *rd = redisReaderCreate();
	if (rd == NULL)
		return 0;
	if (redisReaderFeed(rd, (const char *)data, size) == REDIS_OK) {
		for (int n = 0; n < 64; n++) {
			void *v = NULL;
			if (redisReaderGetReply(rd, &v) != REDIS_OK || v == NULL)
				break;
			redisReply *r = v;
			rc_map_clear(&map);
			(void)rc_map_from_slots(&map, r, "127.0.0.1");
			check_map();
			if (r->type == REDIS_REPLY_ERROR) {
				struct rc_redirect red;
				if (rc_parse_redirect(r->str, r->len, &red) != RC_NOT_REDIRECT &&
				    (red.slot >= RC_SLOTS || red.port == 0 ||
				     memchr(red.host, '\0', RC_HOST_MAX) == NULL))
					abort();
				(void)rc_error_is_transient(r->str, r->len);
			}
			freeReplyObject(r);
		}
	}
	redisReaderFree(rd);
	return 0;
}
