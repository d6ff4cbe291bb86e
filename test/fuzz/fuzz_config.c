/* Fuzz target for dataplane/config/config.c: the config file is operator input, parsed once at
 * start-up, but a hostile or mangled file must still only ever produce an error message.
 * Built as a libFuzzer binary (-Dfuzz=true) and as a replay binary with replay_main.c.
 * Checks, beyond "no crash, no leak": the error is a NUL-terminated, non-empty string that
 * starts with a key path, and an accepted config holds every invariant the validator promises. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static void check_accepted(const struct fo_config *c)
{
	uint32_t roles = 0;

	check(c->n_ports >= 1 && c->n_ports <= FO_MAX_PORTS && c->ports != NULL);
	for (uint32_t i = 0; i < c->n_ports; i++) {
		const struct fo_port_config *p = &c->ports[i];
		uint32_t mask = ~0u << (32 - p->prefix_len);
		check(p->device != NULL && p->device[0] != '\0' && strlen(p->device) <= FO_MAX_DEVICE_LEN);
		check(p->prefix_len >= 1 && p->prefix_len <= 32 && p->ip != 0);
		check(p->gateway == 0 || ((p->gateway ^ p->ip) & mask) == 0);
		check(p->vlan <= 4094 && p->mqttsn_port >= 1);
		check(p->rx_queues >= 1 && p->rx_queues <= FO_MAX_RX_QUEUES);
		for (uint32_t j = 0; j < i; j++)
			check(strcmp(c->ports[j].device, p->device) != 0);
	}
	check(c->n_lcores >= 1 && c->lcores != NULL);
	for (uint32_t i = 0; i < c->n_lcores; i++) {
		check(c->lcores[i].lcore < FO_MAX_LCORES && c->lcores[i].roles != 0);
		for (uint32_t j = 0; j < i; j++)
			check(c->lcores[j].lcore != c->lcores[i].lcore);
		roles |= c->lcores[i].roles;
	}
	check(roles == (FO_ROLE_RX | FO_ROLE_WORKER | FO_ROLE_TX));
	check(c->burst >= 1 && c->burst <= FO_MAX_BURST);
	const uint32_t rings[] = { c->worker_ring_size, c->tx_ring_size, c->peer_ring_size };
	for (size_t i = 0; i < 3; i++)
		check(rings[i] >= c->burst && rings[i] >= FO_MIN_RING_SIZE && rings[i] <= FO_MAX_RING_SIZE &&
		      (rings[i] & (rings[i] - 1)) == 0);
	check(c->mbuf_cache <= FO_MAX_MBUF_CACHE && c->mbufs > c->mbuf_cache && c->hdr_mbufs > c->mbuf_cache);
	const struct broker_config *b = &c->broker;
	check(b->max_sessions && b->max_topics && b->max_inflight && b->max_topic_len);
	check(b->max_inflight_per_session >= 1 && b->max_inflight_per_session <= b->max_inflight);
	check(b->predefined == c->predefined && b->n_predefined <= b->max_topics);
	for (uint32_t i = 0; i < b->n_predefined; i++) {
		size_t n = strlen(b->predefined[i].name);
		check(b->predefined[i].id != 0 && b->predefined[i].id != 0xffff);
		check(n >= 1 && n <= b->max_topic_len && strpbrk(b->predefined[i].name, "+#") == NULL);
	}
	check(c->stats_file == NULL || c->stats_file[0] != '\0');
	check(c->n_routes <= FO_MAX_ROUTES && c->n_sinks <= FO_MAX_SINKS && c->n_bridges <= FO_MAX_BRIDGES);
	for (uint32_t i = 0; i < c->n_routes; i++) {
		const struct fo_route_config *r = &c->routes[i];
		check(r->name != NULL && r->filter != NULL);
		if (r->kind == FO_ROUTE_UDP) {
			check(r->n_to >= 1 && r->n_to <= FO_MAX_ROUTE_DESTS && r->tmpl == NULL);
			check(r->format == FO_ROUTE_RAW ? r->topic_id == 0 : r->topic_id >= 1 && r->topic_id <= 65534);
		} else {
			check(r->kind == FO_ROUTE_SINK ? r->target < c->n_sinks : r->target < c->n_bridges);
			check(r->kind == FO_ROUTE_SINK || r->kind == FO_ROUTE_BRIDGE);
			check(r->n_to == 0 && r->tmpl != NULL && r->tmpl[0] != '\0' &&
			      strlen(r->tmpl) <= FO_MAX_TEMPLATE_LEN);
		}
	}
	for (uint32_t i = 0; i < c->n_sinks; i++) {
		const struct fo_sink_config *k = &c->sinks[i];
		check((k->unix_path != NULL) != (k->host != NULL) && k->ring >= 64 && (k->ring & (k->ring - 1)) == 0);
		check(k->batch >= 1 && k->batch <= FO_MAX_SINK_BATCH && k->reconnect_min_ms <= k->reconnect_max_ms);
		check(k->username == NULL || k->password != NULL);
	}
	for (uint32_t i = 0; i < c->n_bridges; i++) {
		const struct fo_bridge_config *b = &c->bridges[i];
		check(b->host != NULL && b->client_id != NULL && (b->protocol == 4 || b->protocol == 5));
		check(b->password == NULL || b->username != NULL);
		for (uint32_t j = 0; j < b->n_subs; j++)
			check(b->subs[j].filter != NULL && b->subs[j].qos <= 1 && b->subs[j].local_prefix != NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fo_config *cfg = NULL;
	char err[256];

	memset(err, 0x55, sizeof(err));
	int rc = fo_config_parse((const char *)data, size, &cfg, err, sizeof(err));
	if (rc == 0) {
		check(cfg != NULL);
		check_accepted(cfg);
	} else {
		check(rc == -1 && cfg == NULL);
		check(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
	}
	fo_config_free(cfg);
	return 0;
}
