/* Config differences for generations: routes are compared by name (a route whose filter,
 * destinations or format differ is a "change"); the admission rules and the predefined topics are
 * a generation's too and reported as one key each; every other key is compared field by field and reported by its YAML path,
 * since it can only be applied by restarting the dataplane. */
#include <stdio.h>
#include <string.h>

#include "config_diff.h"

static void dest_str(const struct fo_route_dest *d, char *b, size_t n)
{
	snprintf(b, n, "%u.%u.%u.%u:%u", d->ip >> 24, (d->ip >> 16) & 255, (d->ip >> 8) & 255, d->ip & 255, d->port);
}

static const struct fo_route_config *find_route(const struct fo_config *c, const char *name)
{
	for (uint32_t i = 0; i < c->n_routes; i++)
		if (strcmp(c->routes[i].name, name) == 0)
			return &c->routes[i];
	return NULL;
}

/* Longest ",a.b.c.d:port" (22) times the most destinations a route may have, plus the slack
 * dests_str keeps before writing one more. */
#define DESTS_STR_MAX (FO_MAX_ROUTE_DESTS * 22 + 8)

static bool same_dests(const struct fo_route_config *a, const struct fo_route_config *b)
{
	if (a->n_to != b->n_to)
		return false;
	for (uint32_t i = 0; i < a->n_to; i++)
		if (a->to[i].ip != b->to[i].ip || a->to[i].port != b->to[i].port)
			return false;
	return true;
}

static void dests_str(const struct fo_route_config *r, char *b, size_t n)
{
	size_t off = 0;
	b[0] = '\0';
	if (r->kind != FO_ROUTE_UDP) {
		snprintf(b, n, "%s %.*s", r->kind == FO_ROUTE_SINK ? "stream" : "bridge topic",
			 (int)(n > 32 ? n - 32 : 0), r->tmpl);
		return;
	}
	for (uint32_t i = 0; i < r->n_to && off + 24 < n; i++) {
		char d[32];
		dest_str(&r->to[i], d, sizeof(d));
		off += (size_t)snprintf(b + off, n - off, "%s%s", i ? "," : "", d);
	}
}

static unsigned route_diff(const struct fo_config *from, const struct fo_config *to, fo_route_change_fn cb, void *ctx)
{
	unsigned n = 0;
	char detail[2 * DESTS_STR_MAX + 512], a[DESTS_STR_MAX], b[DESTS_STR_MAX];
	for (uint32_t i = 0; i < from->n_routes; i++)
		if (find_route(to, from->routes[i].name) == NULL) {
			n++;
			if (cb) {
				dests_str(&from->routes[i], a, sizeof(a));
				snprintf(detail, sizeof(detail), "%s -> %s", from->routes[i].filter, a);
				cb(ctx, "remove", from->routes[i].name, detail);
			}
		}
	for (uint32_t i = 0; i < to->n_routes; i++) {
		const struct fo_route_config *nr = &to->routes[i];
		const struct fo_route_config * or = find_route(from, nr->name);
		dests_str(nr, b, sizeof(b));
		if (or == NULL) {
			n++;
			if (cb) {
				snprintf(detail, sizeof(detail), "%s -> %s", nr->filter, b);
				cb(ctx, "add", nr->name, detail);
			}
			continue;
		}
		dests_str(or, a, sizeof(a));
		bool same_filter = strcmp(or->filter, nr->filter) == 0;
		bool same_to = same_dests(or, nr) && or->kind == nr->kind &&
			       or
				       ->target == nr->target && (or->tmpl == NULL) == (nr->tmpl == NULL) &&
					       (or->tmpl == NULL ||
						strcmp(or->tmpl, nr->tmpl) == 0); /* not the strings: they are cut */
		if (same_filter && same_to && or->format == nr->format && or->topic_id == nr->topic_id)
			continue;
		n++;
		if (cb) {
			size_t off = 0;
			detail[0] = '\0';
			if (!same_filter)
				off += (size_t)snprintf(detail + off, sizeof(detail) - off, "filter %s -> %s; ",
							or->filter, nr->filter);
			if (!same_to && off < sizeof(detail))
				off += (size_t)snprintf(detail + off, sizeof(detail) - off, "to %s -> %s; ", a, b);
			if ((or->format != nr->format || or->topic_id != nr->topic_id) && off < sizeof(detail))
				snprintf(detail + off, sizeof(detail) - off, "format %s -> %s; ",
					 or->format == FO_ROUTE_MQTTSN ? "mqttsn" : "raw",
					 nr->format == FO_ROUTE_MQTTSN ? "mqttsn" : "raw");
			size_t l = strlen(detail);
			if (l >= 2)
				detail[l - 2] = '\0';
			cb(ctx, "change", nr->name, detail);
		}
	}
	return n;
}

static bool same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

#define KEY(cond, ...) \
	do { \
		if (cond) { \
			n++; \
			if (cb) { \
				snprintf(key, sizeof(key), __VA_ARGS__); \
				cb(ctx, key); \
			} \
		} \
	} while (0)

unsigned fo_config_restart_keys(const struct fo_config *f, const struct fo_config *t, fo_restart_key_fn cb, void *ctx)
{
	unsigned n = 0;
	char key[96];
	KEY(f->n_ports != t->n_ports, "ports");
	for (uint32_t i = 0; i < f->n_ports && i < t->n_ports; i++) {
		const struct fo_port_config *a = &f->ports[i], *b = &t->ports[i];
		KEY(strcmp(a->device, b->device) != 0, "ports[%u].device", i);
		KEY(a->ip != b->ip || a->prefix_len != b->prefix_len, "ports[%u].ipv4", i);
		KEY(a->gateway != b->gateway, "ports[%u].gateway", i);
		KEY(a->has_ip6 != b->has_ip6 || a->ip6_prefix != b->ip6_prefix || memcmp(a->ip6, b->ip6, 16) != 0,
		    "ports[%u].ipv6", i);
		KEY(a->has_gateway6 != b->has_gateway6 || memcmp(a->gateway6, b->gateway6, 16) != 0,
		    "ports[%u].gateway6", i);
		KEY(a->vlan != b->vlan, "ports[%u].vlan", i);
		KEY(a->mqttsn_port != b->mqttsn_port, "ports[%u].mqttsn_port", i);
		KEY(a->rx_queues != b->rx_queues, "ports[%u].rx_queues", i);
		KEY(a->rx_desc != b->rx_desc, "ports[%u].rx_desc", i);
		KEY(a->tx_desc != b->tx_desc, "ports[%u].tx_desc", i);
		KEY(a->mtu != b->mtu, "ports[%u].mtu", i);
		bool same_sn = a->n_static_neigh == b->n_static_neigh;
		for (uint32_t j = 0; same_sn && j < a->n_static_neigh; j++)
			same_sn = a->static_neigh[j].ip == b->static_neigh[j].ip &&
				  memcmp(a->static_neigh[j].mac, b->static_neigh[j].mac, 6) == 0;
		KEY(!same_sn, "ports[%u].static_neighbours", i);
	}
	KEY(f->n_lcores != t->n_lcores, "lcores");
	for (uint32_t i = 0; i < f->n_lcores && i < t->n_lcores; i++)
		KEY(f->lcores[i].lcore != t->lcores[i].lcore || f->lcores[i].roles != t->lcores[i].roles, "lcores[%u]",
		    i);
	KEY(f->burst != t->burst, "burst");
	KEY(f->idle_sleep_us != t->idle_sleep_us, "idle_sleep_us");
	KEY(f->worker_ring_size != t->worker_ring_size, "rings.worker");
	KEY(f->tx_ring_size != t->tx_ring_size, "rings.tx");
	KEY(f->peer_ring_size != t->peer_ring_size, "rings.peer");
	KEY(f->mbufs != t->mbufs, "mempool.mbufs");
	KEY(f->hdr_mbufs != t->hdr_mbufs, "mempool.header_mbufs");
	KEY(f->held_mbufs != t->held_mbufs, "mempool.held_mbufs");
	KEY(f->large_mbufs != t->large_mbufs, "mempool.large_mbufs");
	KEY(f->rx_buffer_bytes != t->rx_buffer_bytes, "mempool.rx_buffer_bytes");
	KEY(f->max_message_bytes != t->max_message_bytes, "limits.max_message_bytes");
	KEY(f->reasm_max_flows != t->reasm_max_flows, "reassembly.max_flows");
	KEY(f->reasm_timeout_ms != t->reasm_timeout_ms, "reassembly.timeout_ms");
	KEY(f->mbuf_cache != t->mbuf_cache, "mempool.cache");
	KEY(f->neighbours != t->neighbours, "neighbours");
	KEY(f->arp_max_age_s != t->arp_max_age_s, "arp_max_age_s");
	KEY(f->arp_requests_per_s != t->arp_requests_per_s, "arp_requests_per_s");
	const struct broker_config *a = &f->broker, *b = &t->broker;
	KEY(a->gateway_id != b->gateway_id, "mqttsn.gateway_id");
	KEY(a->max_sessions != b->max_sessions, "mqttsn.max_sessions");
	KEY(a->max_topics != b->max_topics, "mqttsn.max_topics");
	KEY(a->max_client_topics != b->max_client_topics, "mqttsn.max_client_topics");
	KEY(a->max_subscriptions != b->max_subscriptions, "mqttsn.max_subscriptions");
	KEY(a->max_inflight != b->max_inflight, "mqttsn.max_inflight");
	KEY(a->max_inflight_per_session != b->max_inflight_per_session, "mqttsn.max_inflight_per_session");
	KEY(a->retry_interval_ms != b->retry_interval_ms, "mqttsn.retry_interval_ms");
	KEY(a->retry_limit != b->retry_limit, "mqttsn.retry_limit");
	KEY(a->max_topic_len != b->max_topic_len, "mqttsn.max_topic_len");
	KEY(a->expiry_scan_per_tick != b->expiry_scan_per_tick, "mqttsn.expiry_scan_per_tick");
	KEY(a->session_expiry_s != b->session_expiry_s, "mqttsn.session_expiry_s");
	KEY(a->offline_buffer != b->offline_buffer, "mqttsn.offline_buffer");
	KEY(a->max_wills != b->max_wills, "mqttsn.max_wills");
	KEY(a->will_max_bytes != b->will_max_bytes, "mqttsn.will_max_bytes");
	KEY(a->max_retained != b->max_retained, "mqttsn.max_retained");
	KEY(a->retained_bytes != b->retained_bytes, "mqttsn.retained_bytes");
	KEY(a->max_forwarded_nodes != b->max_forwarded_nodes, "mqttsn.max_forwarded_nodes");
	KEY(a->address_proof != b->address_proof || a->proof_timeout_ms != b->proof_timeout_ms ||
		    f->min_source_port != t->min_source_port || a->keepalive_min_s != b->keepalive_min_s ||
		    a->keepalive_max_s != b->keepalive_max_s || a->refuse_keepalive_zero != b->refuse_keepalive_zero ||
		    a->sessions_per_source != b->sessions_per_source ||
		    a->topics_per_session != b->topics_per_session ||
		    a->subscriptions_per_session != b->subscriptions_per_session ||
		    a->wildcards_per_session != b->wildcards_per_session ||
		    a->max_filter_levels != b->max_filter_levels || a->max_giveups != b->max_giveups ||
		    a->error_replies_per_s != b->error_replies_per_s || a->error_reply_burst != b->error_reply_burst,
	    "security");
	const struct fo_discovery_config *da = &f->discovery, *db = &t->discovery;
	KEY(da->advertise != db->advertise || da->interval_s != db->interval_s || da->dest_ip != db->dest_ip ||
		    da->dest_port != db->dest_port || da->ttl != db->ttl || da->gwinfo != db->gwinfo ||
		    da->gwinfo_broadcasts_per_s != db->gwinfo_broadcasts_per_s || da->has_dest6 != db->has_dest6 ||
		    memcmp(da->dest6, db->dest6, 16) != 0 || da->dest6_port != db->dest6_port,
	    "discovery");
	KEY(f->n_sinks != t->n_sinks, "sinks");
	for (uint32_t i = 0; i < f->n_sinks && i < t->n_sinks; i++) {
		const struct fo_sink_config *x = &f->sinks[i], *y = &t->sinks[i];
		KEY(strcmp(x->name, y->name) != 0, "sinks[%u].name", i);
		KEY(!same_str(x->unix_path, y->unix_path) || !same_str(x->host, y->host) || x->port != y->port,
		    "sinks[%u].redis", i);
		KEY(!same_str(x->username, y->username), "sinks[%u].username", i);
		KEY(!same_str(x->password, y->password), "sinks[%u].password", i);
		KEY(x->db != y->db, "sinks[%u].db", i);
		KEY(x->ring != y->ring, "sinks[%u].ring", i);
		KEY(x->batch != y->batch, "sinks[%u].batch", i);
		KEY(x->batch_us != y->batch_us, "sinks[%u].batch_us", i);
		KEY(x->maxlen != y->maxlen, "sinks[%u].maxlen", i);
		KEY(x->timeout_ms != y->timeout_ms, "sinks[%u].timeout_ms", i);
		KEY(x->reconnect_min_ms != y->reconnect_min_ms, "sinks[%u].reconnect_min_ms", i);
		KEY(x->reconnect_max_ms != y->reconnect_max_ms, "sinks[%u].reconnect_max_ms", i);
		KEY(x->puback != y->puback, "sinks[%u].puback", i);
		KEY(x->cluster != y->cluster, "sinks[%u].cluster", i);
		KEY(x->wait_replicas != y->wait_replicas, "sinks[%u].wait_replicas", i);
	}
	KEY(f->n_bridges != t->n_bridges, "bridges");
	for (uint32_t i = 0; i < f->n_bridges && i < t->n_bridges; i++) {
		const struct fo_bridge_config *x = &f->bridges[i], *y = &t->bridges[i];
		KEY(strcmp(x->name, y->name) != 0, "bridges[%u].name", i);
		KEY(strcmp(x->host, y->host) != 0 || x->port != y->port, "bridges[%u].host", i);
		KEY(x->protocol != y->protocol, "bridges[%u].protocol", i);
		KEY(strcmp(x->client_id, y->client_id) != 0, "bridges[%u].client_id", i);
		KEY(!same_str(x->username, y->username) || !same_str(x->password, y->password), "bridges[%u].username",
		    i);
		KEY(x->tls != y->tls || !same_str(x->tls_ca_file, y->tls_ca_file) ||
			    !same_str(x->tls_cert_file, y->tls_cert_file) ||
			    !same_str(x->tls_key_file, y->tls_key_file) || x->tls_insecure != y->tls_insecure,
		    "bridges[%u].tls", i);
		KEY(x->keepalive_s != y->keepalive_s, "bridges[%u].keepalive_s", i);
		KEY(x->ring != y->ring, "bridges[%u].ring", i);
		KEY(x->max_inflight != y->max_inflight, "bridges[%u].max_inflight", i);
		KEY(x->reconnect_min_ms != y->reconnect_min_ms || x->reconnect_max_ms != y->reconnect_max_ms,
		    "bridges[%u].reconnect", i);
		bool same_subs = x->n_subs == y->n_subs;
		for (uint32_t j = 0; same_subs && j < x->n_subs; j++)
			same_subs = strcmp(x->subs[j].filter, y->subs[j].filter) == 0 &&
				    x->subs[j].qos == y->subs[j].qos &&
				    strcmp(x->subs[j].local_prefix, y->subs[j].local_prefix) == 0 &&
				    strcmp(x->subs[j].strip_prefix, y->subs[j].strip_prefix) == 0;
		KEY(!same_subs, "bridges[%u].subscribe", i);
		bool same_follow = x->n_follow == y->n_follow;
		for (uint32_t j = 0; same_follow && j < x->n_follow; j++)
			same_follow = strcmp(x->follow[j].filter, y->follow[j].filter) == 0 &&
				      x->follow[j].qos == y->follow[j].qos;
		KEY(!same_follow, "bridges[%u].follow", i);
	}
	KEY((f->stats_file == NULL) != (t->stats_file == NULL) ||
		    (f->stats_file && t->stats_file && strcmp(f->stats_file, t->stats_file) != 0),
	    "stats.file");
	return n;
}

static bool same_rule(const struct broker_admission *x, const struct broker_admission *y)
{
	return x->prefix == y->prefix && x->client_id_len == y->client_id_len &&
	       memcmp(x->client_id, y->client_id, x->client_id_len) == 0 && x->n_nets == y->n_nets &&
	       memcmp(x->nets, y->nets, x->n_nets * sizeof(*x->nets)) == 0 &&
	       memcmp(x->masks, y->masks, x->n_nets * sizeof(*x->masks)) == 0 && x->n_nets6 == y->n_nets6 &&
	       (x->n_nets6 == 0 || memcmp(x->nets6, y->nets6, x->n_nets6 * sizeof(*x->nets6)) == 0);
}

static bool same_topics(const struct broker_predefined *x, uint32_t nx, const struct broker_predefined *y, uint32_t ny)
{
	if (nx != ny)
		return false;
	for (uint32_t i = 0; i < nx; i++)
		if (x[i].id != y[i].id || strcmp(x[i].name, y[i].name) != 0)
			return false;
	return true;
}

static bool same_client_predef(const struct broker_client_predefined *x, const struct broker_client_predefined *y)
{
	return x->prefix == y->prefix && x->client_id_len == y->client_id_len &&
	       memcmp(x->client_id, y->client_id, x->client_id_len) == 0 &&
	       same_topics(x->topics, x->n_topics, y->topics, y->n_topics);
}

/* mqttsn.predefined_topics and mqttsn.client_predefined: 0 or 1 key. */
static unsigned predef_keys(const struct broker_config *a, const struct broker_config *b, fo_gen_key_fn cb, void *ctx)
{
	uint32_t changed = 0;
	for (uint32_t i = 0; i < a->n_client_predefined && i < b->n_client_predefined; i++)
		changed += !same_client_predef(&a->client_predefined[i], &b->client_predefined[i]);
	bool same_global = same_topics(a->predefined, a->n_predefined, b->predefined, b->n_predefined);
	if (same_global && changed == 0 && a->n_client_predefined == b->n_client_predefined)
		return 0;
	if (cb) {
		char detail[160];
		snprintf(detail, sizeof(detail),
			 "global: %u -> %u topics%s; per client: %u -> %u rules (%u of the first %u differ)",
			 a->n_predefined, b->n_predefined, same_global ? "" : " (changed)", a->n_client_predefined,
			 b->n_client_predefined, changed,
			 a->n_client_predefined < b->n_client_predefined ? a->n_client_predefined
									 : b->n_client_predefined);
		cb(ctx, "mqttsn.predefined_topics", detail);
	}
	return 1;
}

unsigned fo_config_gen_keys(const struct fo_config *f, const struct fo_config *t, fo_gen_key_fn cb, void *ctx)
{
	const struct broker_config *a = &f->broker, *b = &t->broker;
	unsigned keys = predef_keys(a, b, cb, ctx);
	uint32_t changed = 0;
	for (uint32_t i = 0; i < a->n_admission && i < b->n_admission; i++)
		changed += !same_rule(&a->admission[i], &b->admission[i]);
	if (changed == 0 && a->n_admission == b->n_admission &&
	    a->admission_reject_unlisted == b->admission_reject_unlisted)
		return keys;
	if (cb) {
		char detail[160];
		int off = snprintf(detail, sizeof(detail), "%u -> %u rules (%u of the first %u differ)", a->n_admission,
				   b->n_admission, changed,
				   a->n_admission < b->n_admission ? a->n_admission : b->n_admission);
		if (a->admission_reject_unlisted != b->admission_reject_unlisted && off > 0 &&
		    (size_t)off < sizeof(detail))
			snprintf(detail + off, sizeof(detail) - (size_t)off, "; unlisted ClientIds: %s -> %s",
				 a->admission_reject_unlisted ? "reject" : "admit",
				 b->admission_reject_unlisted ? "reject" : "admit");
		cb(ctx, "security.admission", detail);
	}
	return keys + 1;
}

unsigned fo_config_diff(const struct fo_config *from, const struct fo_config *to, fo_route_change_fn on_route,
			fo_restart_key_fn on_restart, void *ctx)
{
	return route_diff(from, to, on_route, ctx) + fo_config_gen_keys(from, to, NULL, NULL) +
	       fo_config_restart_keys(from, to, on_restart, ctx);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t topics_fingerprint(uint64_t h, const struct broker_predefined *p, uint32_t n)
{
	uint8_t hdr[4] = { n >> 24, n >> 16, n >> 8, n };
	h = fnv(h, hdr, sizeof(hdr));
	for (uint32_t i = 0; i < n; i++) {
		uint8_t id[2] = { p[i].id >> 8, p[i].id };
		h = fnv(h, id, sizeof(id));
		h = fnv(h, p[i].name, strlen(p[i].name) + 1);
	}
	return h;
}

/* The predefined topics, global then per client, after the admission rules. */
static uint64_t predef_fingerprint(uint64_t h, const struct broker_config *b)
{
	h = topics_fingerprint(h, b->predefined, b->n_predefined);
	uint8_t hdr[4] = { b->n_client_predefined >> 24, b->n_client_predefined >> 16, b->n_client_predefined >> 8,
			   b->n_client_predefined };
	h = fnv(h, hdr, sizeof(hdr));
	for (uint32_t i = 0; i < b->n_client_predefined; i++) {
		const struct broker_client_predefined *c = &b->client_predefined[i];
		uint8_t r[2] = { c->prefix, c->client_id_len };
		h = fnv(h, r, sizeof(r));
		h = fnv(h, c->client_id, c->client_id_len);
		h = topics_fingerprint(h, c->topics, c->n_topics);
	}
	return h;
}

uint64_t fo_generation_fingerprint(const struct fo_config *cfg)
{
	const struct broker_config *b = &cfg->broker;
	uint8_t hdr[5] = { b->admission_reject_unlisted, b->n_admission >> 24, b->n_admission >> 16,
			   b->n_admission >> 8, b->n_admission };
	uint64_t h = fnv(fo_routes_fingerprint(cfg), hdr, sizeof(hdr));
	for (uint32_t i = 0; i < b->n_admission; i++) {
		const struct broker_admission *a = &b->admission[i];
		uint8_t r[6] = { a->prefix,       a->client_id_len, a->n_nets >> 24,
				 a->n_nets >> 16, a->n_nets >> 8,   a->n_nets };
		h = fnv(h, r, sizeof(r));
		h = fnv(h, a->client_id, a->client_id_len);
		for (uint32_t k = 0; k < a->n_nets; k++) {
			uint8_t nm[8] = { a->nets[k] >> 24,  a->nets[k] >> 16,  a->nets[k] >> 8,  a->nets[k],
					  a->masks[k] >> 24, a->masks[k] >> 16, a->masks[k] >> 8, a->masks[k] };
			h = fnv(h, nm, sizeof(nm));
		}
		if (a->n_nets6 == 0) /* an IPv4-only rule hashes as it always did */
			continue;
		uint8_t n6[5] = { 6, a->n_nets6 >> 24, a->n_nets6 >> 16, a->n_nets6 >> 8, a->n_nets6 };
		h = fnv(h, n6, sizeof(n6));
		for (uint32_t k = 0; k < a->n_nets6; k++)
			for (int w = 0; w < 4; w++) {
				uint64_t v = w < 2 ? a->nets6[k].net[w] : a->nets6[k].mask[w - 2];
				uint8_t be[8];
				for (int i = 0; i < 8; i++)
					be[i] = (uint8_t)(v >> (56 - 8 * i));
				h = fnv(h, be, sizeof(be));
			}
	}
	return predef_fingerprint(h, b);
}

uint64_t fo_routes_fingerprint(const struct fo_config *cfg)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (uint32_t i = 0; i < cfg->n_routes; i++) {
		const struct fo_route_config *r = &cfg->routes[i];
		h = fnv(h, r->name, strlen(r->name) + 1);
		h = fnv(h, r->filter, strlen(r->filter) + 1);
		/* The count makes each route's bytes self-delimiting: without it the last destinations
		 * of one route could read as the start of the next route's name. */
		uint8_t hdr[9] = { r->format, r->n_to >> 24, r->n_to >> 16,    r->n_to >> 8, r->n_to,
				   r->kind,   r->target,     r->topic_id >> 8, r->topic_id };
		h = fnv(h, hdr, sizeof(hdr));
		if (r->tmpl != NULL)
			h = fnv(h, r->tmpl, strlen(r->tmpl) + 1);
		for (uint32_t j = 0; j < r->n_to; j++) {
			uint8_t d[6] = { r->to[j].ip >> 24, r->to[j].ip >> 16,  r->to[j].ip >> 8,
					 r->to[j].ip,       r->to[j].port >> 8, r->to[j].port };
			h = fnv(h, d, sizeof(d));
		}
	}
	return h;
}
