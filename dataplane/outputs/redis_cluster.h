/* Redis Cluster for the Redis Streams sink: the hash slot of a key (CRC16/XMODEM of the key, or of
 * its first non-empty "{hash tag}", modulo 16384, as the cluster specification defines it), the slot
 * map read from CLUSTER SLOTS, and the MOVED / ASK redirections. Pure: no DPDK, no I/O; the sink
 * thread (sink_redis.c) keeps the connections. */
#ifndef FANOUT_REDIS_CLUSTER_H
#define FANOUT_REDIS_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#define RC_SLOTS 16384u
#define RC_MAX_NODES 64 /* primaries a sink follows at once */
#define RC_NODE_NONE 0xFFFFu
#define RC_HOST_MAX 64 /* an IPv4/IPv6 address or a host name as the cluster announces it */

/* CRC16 (polynomial 0x1021, XMODEM) of len bytes. */
uint16_t rc_crc16(const void *buf, size_t len);
/* The hash slot of a key: only the part between the first '{' and the next '}' counts, when that
 * part is not empty. */
uint16_t rc_key_slot(const char *key, size_t len);

struct rc_node {
	char host[RC_HOST_MAX];
	uint16_t port;
	uint8_t replicas; /* healthy replicas CLUSTER SLOTS lists for its slots (the fewest over its ranges) */
};

/* Primaries and which of them serves each slot. */
struct rc_map {
	struct rc_node nodes[RC_MAX_NODES];
	uint32_t n_nodes;
	uint16_t slot_node[RC_SLOTS]; /* index in nodes[], RC_NODE_NONE: no primary known */
	uint32_t covered;             /* slots with a primary */
};

/* Empties the map: no node, no slot served. */
void rc_map_clear(struct rc_map *m);
/* The index of host:port in the map, added when new; RC_NODE_NONE when the map is full or host is
 * empty or too long. */
uint16_t rc_map_node(struct rc_map *m, const char *host, size_t host_len, uint16_t port);
/* Replaces the map with a CLUSTER SLOTS reply: [[start, end, [host, port, id, ...], replica...], ...].
 * An empty host in a node entry (a node that does not know its own address) is taken as
 * default_host, the address the reply came from. 0 on success; -1 when the reply is not a slots
 * reply (the map is then left as it was). */
int rc_map_from_slots(struct rc_map *m, const redisReply *r, const char *default_host);

enum rc_redirect_kind { RC_NOT_REDIRECT = 0, RC_MOVED, RC_ASK };
struct rc_redirect {
	uint8_t kind; /* enum rc_redirect_kind */
	uint16_t slot;
	uint16_t port;
	char host[RC_HOST_MAX];
};
/* Parses an error reply "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>" (the host may be
 * empty: the node's own address unknown to it, or an IPv6 address). RC_NOT_REDIRECT for any other
 * text or a malformed one. */
enum rc_redirect_kind rc_parse_redirect(const char *s, size_t len, struct rc_redirect *out);

/* Error replies after which the same command may succeed later against the cluster as it then is
 * (TRYAGAIN, CLUSTERDOWN, LOADING, MASTERDOWN, READONLY): the entry waits, it is not failed. */
bool rc_error_is_transient(const char *s, size_t len);

#endif
