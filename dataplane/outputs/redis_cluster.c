/* Redis Cluster's key slots, slot map and redirections (redis_cluster.h). */
#include "redis_cluster.h"

#include <string.h>

uint16_t rc_crc16(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint16_t crc = 0;
	for (size_t i = 0; i < len; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
	}
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
