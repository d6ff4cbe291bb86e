/* Redis Cluster's key slots, slot map and redirections (redis_cluster.h). */
#include "redis_cluster.h"

#include <string.h>

/* CRC16/XMODEM by byte: table[i] is the CRC of the byte i (polynomial 0x1021). */
static const uint16_t crc16_table[256] = {
	0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50a5, 0x60c6, 0x70e7, 0x8108, 0x9129, 0xa14a, 0xb16b, 0xc18c, 0xd1ad,
	0xe1ce, 0xf1ef, 0x1231, 0x0210, 0x3273, 0x2252, 0x52b5, 0x4294, 0x72f7, 0x62d6, 0x9339, 0x8318, 0xb37b, 0xa35a,
	0xd3bd, 0xc39c, 0xf3ff, 0xe3de, 0x2462, 0x3443, 0x0420, 0x1401, 0x64e6, 0x74c7, 0x44a4, 0x5485, 0xa56a, 0xb54b,
	0x8528, 0x9509, 0xe5ee, 0xf5cf, 0xc5ac, 0xd58d, 0x3653, 0x2672, 0x1611, 0x0630, 0x76d7, 0x66f6, 0x5695, 0x46b4,
	0xb75b, 0xa77a, 0x9719, 0x8738, 0xf7df, 0xe7fe, 0xd79d, 0xc7bc, 0x48c4, 0x58e5, 0x6886, 0x78a7, 0x0840, 0x1861,
	0x2802, 0x3823, 0xc9cc, 0xd9ed, 0xe98e, 0xf9af, 0x8948, 0x9969, 0xa90a, 0xb92b, 0x5af5, 0x4ad4, 0x7ab7, 0x6a96,
	0x1a71, 0x0a50, 0x3a33, 0x2a12, 0xdbfd, 0xcbdc, 0xfbbf, 0xeb9e, 0x9b79, 0x8b58, 0xbb3b, 0xab1a, 0x6ca6, 0x7c87,
	0x4ce4, 0x5cc5, 0x2c22, 0x3c03, 0x0c60, 0x1c41, 0xedae, 0xfd8f, 0xcdec, 0xddcd, 0xad2a, 0xbd0b, 0x8d68, 0x9d49,
	0x7e97, 0x6eb6, 0x5ed5, 0x4ef4, 0x3e13, 0x2e32, 0x1e51, 0x0e70, 0xff9f, 0xefbe, 0xdfdd, 0xcffc, 0xbf1b, 0xaf3a,
	0x9f59, 0x8f78, 0x9188, 0x81a9, 0xb1ca, 0xa1eb, 0xd10c, 0xc12d, 0xf14e, 0xe16f, 0x1080, 0x00a1, 0x30c2, 0x20e3,
	0x5004, 0x4025, 0x7046, 0x6067, 0x83b9, 0x9398, 0xa3fb, 0xb3da, 0xc33d, 0xd31c, 0xe37f, 0xf35e, 0x02b1, 0x1290,
	0x22f3, 0x32d2, 0x4235, 0x5214, 0x6277, 0x7256, 0xb5ea, 0xa5cb, 0x95a8, 0x8589, 0xf56e, 0xe54f, 0xd52c, 0xc50d,
	0x34e2, 0x24c3, 0x14a0, 0x0481, 0x7466, 0x6447, 0x5424, 0x4405, 0xa7db, 0xb7fa, 0x8799, 0x97b8, 0xe75f, 0xf77e,
	0xc71d, 0xd73c, 0x26d3, 0x36f2, 0x0691, 0x16b0, 0x6657, 0x7676, 0x4615, 0x5634, 0xd94c, 0xc96d, 0xf90e, 0xe92f,
	0x99c8, 0x89e9, 0xb98a, 0xa9ab, 0x5844, 0x4865, 0x7806, 0x6827, 0x18c0, 0x08e1, 0x3882, 0x28a3, 0xcb7d, 0xdb5c,
	0xeb3f, 0xfb1e, 0x8bf9, 0x9bd8, 0xabbb, 0xbb9a, 0x4a75, 0x5a54, 0x6a37, 0x7a16, 0x0af1, 0x1ad0, 0x2ab3, 0x3a92,
	0xfd2e, 0xed0f, 0xdd6c, 0xcd4d, 0xbdaa, 0xad8b, 0x9de8, 0x8dc9, 0x7c26, 0x6c07, 0x5c64, 0x4c45, 0x3ca2, 0x2c83,
	0x1ce0, 0x0cc1, 0xef1f, 0xff3e, 0xcf5d, 0xdf7c, 0xaf9b, 0xbfba, 0x8fd9, 0x9ff8, 0x6e17, 0x7e36, 0x4e55, 0x5e74,
	0x2e93, 0x3eb2, 0x0ed1, 0x1ef0,
};

uint16_t rc_crc16(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint16_t crc = 0;
	for (size_t i = 0; i < len; i++)
		crc = (uint16_t)((crc << 8) ^ crc16_table[((crc >> 8) ^ p[i]) & 0xff]);
	return crc;
}

uint16_t rc_key_slot(const char *key, size_t len)
{
	const char *open = memchr(key, '{', len);
	if (open) {
		size_t off = (size_t)(open - key) + 1;
		const char *close = memchr(key + off, '}', len - off);
		if (close && close > key + off)
			return rc_crc16(key + off, (size_t)(close - (key + off))) & (RC_SLOTS - 1);
	}
	return rc_crc16(key, len) & (RC_SLOTS - 1);
}

void rc_map_clear(struct rc_map *m)
{
	m->n_nodes = 0;
	m->covered = 0;
	for (uint32_t s = 0; s < RC_SLOTS; s++)
		m->slot_node[s] = RC_NODE_NONE;
}

uint16_t rc_map_node(struct rc_map *m, const char *host, size_t host_len, uint16_t port)
{
	if (host_len == 0 || host_len >= RC_HOST_MAX || port == 0)
		return RC_NODE_NONE;
	for (uint32_t i = 0; i < m->n_nodes; i++)
		if (m->nodes[i].port == port && strlen(m->nodes[i].host) == host_len &&
		    memcmp(m->nodes[i].host, host, host_len) == 0)
			return (uint16_t)i;
	if (m->n_nodes >= RC_MAX_NODES)
		return RC_NODE_NONE;
	struct rc_node *n = &m->nodes[m->n_nodes];
	memcpy(n->host, host, host_len);
	n->host[host_len] = '\0';
	n->port = port;
	n->replicas = UINT8_MAX;
	return (uint16_t)m->n_nodes++;
}

/* A node entry of a slots reply: [host, port, id, ...]. False when it is not one. */
static bool node_entry(const redisReply *e, const char *default_host, const char **host, size_t *host_len,
		       uint16_t *port)
{
	if (e == NULL || e->type != REDIS_REPLY_ARRAY || e->elements < 2)
		return false;
	const redisReply *h = e->element[0], *p = e->element[1];
	if (h == NULL || p == NULL || (h->type != REDIS_REPLY_STRING && h->type != REDIS_REPLY_NIL) ||
	    p->type != REDIS_REPLY_INTEGER || p->integer <= 0 || p->integer > 65535)
		return false;
	if (h->type == REDIS_REPLY_NIL || h->len == 0) {
		*host = default_host;
		*host_len = strlen(default_host);
	} else if (h->len == 1 && h->str[0] == '?') {
		return false; /* the node's endpoint is unknown */
	} else {
		*host = h->str;
		*host_len = h->len;
	}
	*port = (uint16_t)p->integer;
	return true;
}

int rc_map_from_slots(struct rc_map *m, const redisReply *r, const char *default_host)
{
	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		return -1;
	/* Checked whole before the map changes. */
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i];
		if (e == NULL || e->type != REDIS_REPLY_ARRAY || e->elements < 3 || e->element[0] == NULL ||
		    e->element[1] == NULL || e->element[0]->type != REDIS_REPLY_INTEGER ||
		    e->element[1]->type != REDIS_REPLY_INTEGER || e->element[0]->integer < 0 ||
		    e->element[1]->integer >= (long long)RC_SLOTS || e->element[0]->integer > e->element[1]->integer)
			return -1;
	}
	rc_map_clear(m);
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i];
		const char *host;
		size_t host_len;
		uint16_t port;
		if (!node_entry(e->element[2], default_host, &host, &host_len, &port))
			continue;
		uint16_t n = rc_map_node(m, host, host_len, port);
		if (n == RC_NODE_NONE)
			continue;
		size_t reps = 0;
		for (size_t k = 3; k < e->elements; k++) {
			const char *rh;
			size_t rl;
			uint16_t rp;
			if (node_entry(e->element[k], default_host, &rh, &rl, &rp))
				reps++;
		}
		if (reps < m->nodes[n].replicas)
			m->nodes[n].replicas = (uint8_t)(reps > 254 ? 254 : reps);
		for (long long s = e->element[0]->integer; s <= e->element[1]->integer; s++) {
			if (m->slot_node[s] == RC_NODE_NONE)
				m->covered++;
			m->slot_node[s] = n;
		}
	}
	return 0;
}

static bool word_is(const char *s, size_t len, const char *w)
{
	size_t n = strlen(w);
	return len >= n && memcmp(s, w, n) == 0 && (len == n || s[n] == ' ');
}

enum rc_redirect_kind rc_parse_redirect(const char *s, size_t len, struct rc_redirect *out)
{
	size_t i;
	if (s == NULL)
		return RC_NOT_REDIRECT;
	if (word_is(s, len, "MOVED")) {
		out->kind = RC_MOVED;
		i = 5;
	} else if (word_is(s, len, "ASK")) {
		out->kind = RC_ASK;
		i = 3;
	} else {
		return RC_NOT_REDIRECT;
	}
	if (i >= len || s[i] != ' ')
		return out->kind = RC_NOT_REDIRECT;
	i++;
	uint32_t slot = 0;
	size_t d = 0;
	for (; i < len && s[i] >= '0' && s[i] <= '9' && d < 6; i++, d++)
		slot = slot * 10 + (uint32_t)(s[i] - '0');
	if (d == 0 || slot >= RC_SLOTS || i >= len || s[i] != ' ')
		return out->kind = RC_NOT_REDIRECT;
	i++;
	/* host:port, the port after the last ':' (an IPv6 host has colons of its own) */
	size_t start = i, colon = len;
	for (size_t k = i; k < len; k++) {
		if (s[k] == ' ')
			return out->kind = RC_NOT_REDIRECT;
		if (s[k] == ':')
			colon = k;
	}
	if (colon == len || colon + 1 >= len || colon - start >= RC_HOST_MAX)
		return out->kind = RC_NOT_REDIRECT;
	uint32_t port = 0;
	for (size_t k = colon + 1; k < len; k++) {
		if (s[k] < '0' || s[k] > '9' || k - colon > 5)
			return out->kind = RC_NOT_REDIRECT;
		port = port * 10 + (uint32_t)(s[k] - '0');
	}
	if (port == 0 || port > 65535)
		return out->kind = RC_NOT_REDIRECT;
	memcpy(out->host, s + start, colon - start);
	out->host[colon - start] = '\0';
	out->slot = (uint16_t)slot;
	out->port = (uint16_t)port;
	return (enum rc_redirect_kind)out->kind;
}

bool rc_error_is_transient(const char *s, size_t len)
{
	static const char *const words[] = { "TRYAGAIN", "CLUSTERDOWN", "LOADING", "MASTERDOWN", "READONLY" };
	if (s == NULL)
		return false;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (word_is(s, len, words[i]))
			return true;
	return false;
}
