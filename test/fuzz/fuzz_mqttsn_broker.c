/* Fuzz target for the broker engine (dataplane/mqttsn/mqttsn_broker.c): the input is a script of
 * datagrams from a handful of clients, remote fan-outs and timer ticks, run against a small
 * broker so every table fills up. Checks, beyond "no crash": every output decodes, a
 * publish's local_deliveries equals the copies handed out (other messages only send copies held
 * for a REGACK), fates are well formed, payload holds never go negative, match the copies in
 * flight and held, and balance to zero at broker_destroy.
 *
 * The first byte picks the defences (docs/security.md) the broker runs with: bit 0 address proof,
 * bit 1 small quotas, bit 2 payload_keep (copies kept apart, sometimes refused), bit 3 error-reply
 * rate limit, bit 4 keepalive bounds (0 refused), bit 5 max_giveups 2, bit 6 an admission rule,
 * bit 7 sessions past their connection (offline buffer, wills, session expiry).
 * Then script records:
 *   op >= 0xF0            tick: now += (op & 0x0F) * 250 ms, broker_tick()
 *   0xEC <= op < 0xF0     toggle failures: 0xEC send(), 0xED send_publish(), 0xEE payload_keep(),
 *                         0xEF all three
 *   0xE8 <= op < 0xEC     hand-over (as between workers): next byte k; the (k % sessions)-th session
 *                         listed is exported and imported again at a new address (port 5000 + op & 3);
 *                         op & 1: the state is first offered cut short (refused whole), then discarded
 *   0xE0 <= op < 0xE8     remote fan-out: next byte n, then n bytes of topic name (QoS op & 3 - 1),
 *                         stored as retained first when op & 4
 *   op < 0xE0             datagram from client (op & 7; 6 and 7 are IPv6 clients whose 32-bit keys
 *                         equal clients 0 and 1's IPv4 addresses): next byte n, then n bytes; unless
 *                         op & 0x08 ("raw"), a 1-octet length field n + 1 is put in front, so
 *                         most datagrams frame correctly and reach the engine's logic. When
 *                         op & 0x30 == 0x30 the datagram goes through a forwarder (spec 5.5):
 *                         an Encapsulated header is put in front, with the 1-byte node id
 *                         op >> 6 (0..2), or for op >> 6 == 3 a 17-byte one (refused). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqttsn_broker.h"
#include "mqttsn_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PAYLOADS 512
#define MAX_KEPT 512

struct payload {
	long holds; /* references the engine keeps */
	int bound;
	const uint8_t *view;
	uint16_t view_len;
};

struct ctx {
	struct payload pl[MAX_PAYLOADS];
	struct payload kept[MAX_KEPT]; /* payload_keep's copies */
	uint32_t n_kept;
	int fail_keep;
	long holds, releases;
	uint32_t publishes; /* send_publish calls */
	int fail_send, fail_publish;
};

static void check(int cond)
{
	if (!cond)
		abort();
}

static const uint8_t V6NET[4] = { 0x20, 0x01, 0x0d, 0xb8 };

/* Everything goes to an address a client sent from: an IPv6 one only to an IPv6 client. */
static void check_to(const struct fo_client *to)
{
	check(to->node_len <= 1); /* the harness's node ids; longer ones are refused */
	check(!to->v6 || (memcmp(to->ip6, V6NET, 4) == 0 && (to->ip6[15] == 6 || to->ip6[15] == 7)));
}

static int f_send(void *c, const struct fo_client *to, const uint8_t *msg, uint16_t len)
{
	check_to(to);
	struct mqttsn_msg m;
	check(mqttsn_decode(msg, len, &m) == MQTTSN_OK);
	return ((struct ctx *)c)->fail_send ? -1 : 0;
}

static int f_send_publish(void *cv, const struct fo_client *to, const uint8_t *hdr, uint16_t hdr_len, void *payload)
{
	struct ctx *c = cv;
	struct payload *p = payload;
	static uint8_t buf[70000];
	check_to(to);
	check((p >= c->pl && p < c->pl + MAX_PAYLOADS) || (p >= c->kept && p < c->kept + MAX_KEPT));
	check(p->bound);
	check(hdr_len + (size_t)p->view_len <= sizeof(buf));
	memcpy(buf, hdr, hdr_len);
	if (p->view_len)
		memcpy(buf + hdr_len, p->view, p->view_len);
	struct mqttsn_msg m;
	check(mqttsn_decode(buf, hdr_len + (size_t)p->view_len, &m) == MQTTSN_OK);
	check(m.type == MQTTSN_PUBLISH);
	check(mqttsn_flags_qos(m.u.publish.flags) >= 0);
	check((mqttsn_flags_qos(m.u.publish.flags) >= 1) == (m.u.publish.msg_id != 0));
	c->publishes++;
	return c->fail_publish ? -1 : 0;
}

static void f_bind(void *cv, void *payload, const uint8_t *d, uint16_t len)
{
	struct payload *p = payload;
	(void)cv;
	check(!p->bound); /* once per accepted publish */
	p->bound = 1;
	p->view = d;
	p->view_len = len;
}

static void f_hold(void *cv, void *payload)
{
	struct ctx *c = cv;
	struct payload *p = payload;
	check(p->bound);
	p->holds++;
	c->holds++;
}

static void *f_keep(void *cv, void *payload)
{
	struct ctx *c = cv;
	struct payload *p = payload;
	check(p->bound);
	if (c->fail_keep || c->n_kept >= MAX_KEPT)
		return NULL;
	struct payload *k = &c->kept[c->n_kept++];
	*k = (struct payload){ .holds = 1, .bound = 1, .view = p->view, .view_len = p->view_len };
	c->holds++;
	return k;
}

static void *f_make(void *cv, const uint8_t *d, uint16_t len)
{
	struct ctx *c = cv;
	static uint8_t bytes[MAX_KEPT][64];
	if (c->fail_keep || c->n_kept >= MAX_KEPT || len > sizeof(bytes[0]))
		return NULL;
	memcpy(bytes[c->n_kept], d, len);
	struct payload *k = &c->kept[c->n_kept];
	*k = (struct payload){ .holds = 1, .bound = 1, .view = bytes[c->n_kept], .view_len = len };
	c->n_kept++;
	c->holds++;
	return k;
}

static void f_release(void *cv, void *payload)
{
	struct ctx *c = cv;
	struct payload *p = payload;
	check(p->holds > 0);
	p->holds--;
	c->releases++;
}

static const struct broker_predefined predef[] = {
	{ .id = 1, .name = "p/one" },
	{ .id = 0x1234, .name = "ab" },
};

/* Payload bytes must outlive the broker's references: the script is copied here. */
static uint8_t msgbuf[MAX_PAYLOADS][1 + 255 + 3 + 17]; /* length field, body, an encapsulation */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ctx c;
	memset(&c, 0, sizeof(c));
	struct fo_counters counters;
	memset(&counters, 0, sizeof(counters));
	struct broker_config cfg = {
		.max_sessions = 4,
		.ipv6_clients = true,
		.max_topics = 8,
		.max_client_topics = 8,
		.max_subscriptions = 8,
		.max_inflight = 6,
		.max_inflight_per_session = 3,
		.retry_interval_ms = 500,
		.retry_limit = 2,
		.max_topic_len = 16,
		.gateway_id = 1,
		.expiry_scan_per_tick = 2,
		.predefined = predef,
		.n_predefined = 2,
		.max_forwarded_nodes = 2,
	};
	static const uint32_t adm_net[] = { 0x0a000000u }, adm_mask[] = { 0xfffffffcu };
	static const struct broker_admission adm[] = {
		{ .client_id = (const uint8_t *)"a",
		  .client_id_len = 1,
		  .prefix = true,
		  .nets = adm_net,
		  .masks = adm_mask,
		  .n_nets = 1 },
	};
	uint8_t mode = size ? data[0] : 0;
	if (mode & 0x01) {
		cfg.address_proof = true;
		cfg.proof_timeout_ms = 2000;
	}
	if (mode & 0x02) {
		cfg.sessions_per_source = 2;
		cfg.topics_per_session = 3;
		cfg.subscriptions_per_session = 3;
		cfg.wildcards_per_session = 1;
		cfg.max_filter_levels = 3;
	}
	if (mode & 0x08) {
		cfg.error_replies_per_s = 1;
		cfg.error_reply_burst = 2;
	}
	if (mode & 0x10) {
		cfg.refuse_keepalive_zero = true;
		cfg.keepalive_min_s = 1;
		cfg.keepalive_max_s = 100;
	}
	if (mode & 0x20)
		cfg.max_giveups = 2;
	if (mode & 0x40) {
		cfg.admission = adm;
		cfg.n_admission = 1;
	}
	if (mode & 0x80) {
		cfg.offline_buffer = 3;
		cfg.max_wills = 2;
		cfg.will_max_bytes = 24;
		cfg.session_expiry_s = 5;
		cfg.max_retained = 3;
		cfg.retained_bytes = 64;
	}
	struct broker_io io = { .ctx = &c,
				.send = f_send,
				.send_publish = f_send_publish,
				.payload_bind = f_bind,
				.payload_hold = f_hold,
				.payload_release = f_release,
				.payload_keep = (mode & 0x04) ? f_keep : NULL,
				.payload_make = f_make };
	const char *err = NULL;
	struct broker *b = broker_create(&cfg, &io, &counters, &err);
	check(b != NULL);

	uint64_t now = 1000;
	size_t i = size ? 1 : 0;
	uint32_t n_pl = 0;
	while (i < size && n_pl < MAX_PAYLOADS) {
		uint8_t op = data[i++];
		if (op >= 0xF0) {
			now += (uint64_t)(op & 0x0F) * 250u;
			broker_tick(b, now);
			continue;
		}
		if (op >= 0xEC) {
			if (op == 0xEC || op == 0xEF)
				c.fail_send = !c.fail_send;
			if (op == 0xED || op == 0xEF)
				c.fail_publish = !c.fail_publish;
			if (op == 0xEE || op == 0xEF)
				c.fail_keep = !c.fail_keep;
			continue;
		}
		if (i >= size)
			break;
		if (op >= 0xE8 && op < 0xEC) {
			static uint8_t state[70000];
			struct broker_export_row rows[8];
			uint64_t cursor = 0;
			uint32_t nr = broker_export(b, BROKER_EXPORT_SESSIONS, &cursor, rows, 8);
			uint8_t k = data[i++];
			if (nr == 0 || rows[k % nr].client_id_len == 0)
				continue;
			const struct broker_export_row *r = &rows[k % nr];
			uint32_t need = broker_session_export_size(b, r->client_id, r->client_id_len);
			int32_t len = broker_session_export(b, r->client_id, r->client_id_len, state, sizeof(state));
			check(len > 0 && (uint32_t)len <= need);
			check(broker_client_state(b, r->client_id, r->client_id_len) == -1);
			struct fo_client at = { .ip = r->ip, .port = (uint16_t)(5000 + (op & 3u)), .ifindex = 0 };
			if (op & 1) {
				check(broker_session_import(b, state, (uint32_t)len - 1, &at) == -1);
				broker_session_discard(b, state, (uint32_t)len);
			} else if (broker_session_import(b, state, (uint32_t)len, &at) == 0) {
				check(broker_client_state(b, r->client_id, r->client_id_len) >= 0);
			}
			check(c.holds - c.releases == (long)broker_inflight_count(b) - (long)broker_pubrel_count(b) +
							      (long)broker_held_count(b) +
							      (long)broker_retained_count(b));
			continue;
		}
		size_t n = data[i++];
		if (n > size - i)
			n = size - i;
		struct payload *p = &c.pl[n_pl];
		uint8_t *buf = msgbuf[n_pl];
		n_pl++;
		if (op >= 0xE0) {
			static const uint8_t body[] = "remote";
			p->bound = 1;
			p->view = body;
			p->view_len = 6;
			if (op & 4)
				broker_retain(b, data + i, (uint16_t)n, (op & 3) - 1, p, 6);
			uint32_t before = c.publishes;
			uint32_t copies = broker_fanout(b, data + i, (uint16_t)n, (op & 3) - 1, p, 6, now);
			check(copies == c.publishes - before);
			i += n;
			continue;
		}
		uint16_t len = 0;
		if ((op & 0x30) == 0x30) { /* through a forwarder */
			uint8_t node_len = (op >> 6) == 3 ? 17 : 1;
			buf[len++] = (uint8_t)(3 + node_len);
			buf[len++] = MQTTSN_ENCAPSULATED;
			buf[len++] = 0; /* ctrl */
			for (uint8_t k = 0; k < node_len; k++)
				buf[len++] = (uint8_t)(op >> 6);
		}
		if (op & 0x08) {
			memcpy(buf + len, data + i, n);
			len = (uint16_t)(len + n);
		} else {
			buf[len] = (uint8_t)(n + 1);
			memcpy(buf + len + 1, data + i, n);
			len = (uint16_t)(len + n + 1);
		}
		i += n;
		struct fo_client from = { .ip = 0x0a000001u + (op & 7u),
					  .port = (uint16_t)(4000 + (op & 3u)),
					  .ifindex = 0 };
		if ((op & 7u) >= 6) { /* IPv6 clients 2001:db8::6 and ::7, keyed like clients 0 and 1 */
			from.v6 = 1;
			from.ip = 0x0a000001u + (op & 1u);
			memcpy(from.ip6, V6NET, sizeof(V6NET));
			from.ip6[15] = (uint8_t)(op & 7u);
		}
		struct broker_result res;
		uint32_t before = c.publishes;
		uint32_t held_before = broker_held_count(b);
		uint32_t inflight_before = broker_inflight_count(b);
		broker_handle(b, &from, buf, len, p, now, &res);
		check(res.fate == FO_FATE_DELIVERED || res.fate == FO_FATE_ANSWERED || res.fate == FO_FATE_DROPPED);
		if (res.fate == FO_FATE_DROPPED)
			check(res.drop < FO_DROP_MAX);
		if (res.published) {
			check(res.fate == FO_FATE_DELIVERED);
			check(p->bound);
			check(res.topic != NULL && res.topic_len > 0 && res.topic_len <= cfg.max_topic_len);
			check(res.qos >= -1 && res.qos <= 2);
			check(res.local_deliveries == c.publishes - before);
		} else {
			/* Only copies held for a REGACK or buffered go out (a REGACK, REGISTER or SUBSCRIBE of
			 * the name, a client back), copies in flight again (DUP) for a client back, and
			 * retained messages for a SUBSCRIBE (or every subscription of a newly proven one). */
			check(c.publishes - before <= held_before - broker_held_count(b) + inflight_before +
							      broker_retained_count(b) * cfg.max_subscriptions);
		}
		check(broker_session_count(b) <= cfg.max_sessions);
		check(broker_inflight_count(b) <= cfg.max_inflight);
		check(broker_subscription_count(b) <= cfg.max_subscriptions);
		check(broker_topic_count(b) <= cfg.max_topics);
		check(c.holds - c.releases == (long)broker_inflight_count(b) - (long)broker_pubrel_count(b) +
						      (long)broker_held_count(b) + (long)broker_retained_count(b));
	}
	broker_tick(b, now + 3600u * 1000u);
	broker_destroy(b);
	check(c.holds == c.releases);
	for (uint32_t k = 0; k < n_pl; k++)
		check(c.pl[k].holds == 0);
	for (uint32_t k = 0; k < c.n_kept; k++)
		check(c.kept[k].holds == 0);
	return 0;
}
