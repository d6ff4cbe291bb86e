/* Unit tests for the MQTT-SN v1.2 wire codec (dataplane/mqttsn/mqttsn_codec.c). One table of
 * hand-written wire samples, one or more per message type, drives the generic checks
 * (decode, encode, round trip, truncation, length forms, short buffers); the tests after
 * it pin down the per-type field rules and the boundaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mqttsn_codec.h"

#define S(str) ((const uint8_t *)(str))
#define WIRE(...) .wire = (const uint8_t[]){ __VA_ARGS__ }, .len = sizeof((const uint8_t[]){ __VA_ARGS__ })

struct sample {
	const char *name;
	const uint8_t *wire;
	size_t len;
	struct mqttsn_msg msg; /* expected decode; hdr_len/length are filled in by the tests */
	int fixed_body;        /* 1 if the body has one exact size for this variant */
};

/* An encapsulated PUBLISH (QoS 0, topic 1, "hi") used by the ENCAPSULATED samples. */
static const uint8_t inner_publish[] = { 0x09, 0x0C, 0x00, 0x00, 0x01, 0x00, 0x00, 'h', 'i' };

static const struct sample samples[] = {
	{ "advertise",
	  WIRE(0x05, 0x00, 0x07, 0x03, 0x84),
	  { .type = MQTTSN_ADVERTISE, .u.advertise = { .gw_id = 7, .duration = 900 } },
	  1 },
	{ "searchgw", WIRE(0x03, 0x01, 0x02), { .type = MQTTSN_SEARCHGW, .u.searchgw = { .radius = 2 } }, 1 },
	{ "gwinfo (from gateway)", WIRE(0x03, 0x02, 0x09), { .type = MQTTSN_GWINFO, .u.gwinfo = { .gw_id = 9 } }, 0 },
	{ "gwinfo (with address)",
	  WIRE(0x07, 0x02, 0x09, 10, 0, 0, 1),
	  { .type = MQTTSN_GWINFO, .u.gwinfo = { .gw_id = 9, .gw_add = S("\x0a\x00\x00\x01"), .gw_add_len = 4 } },
	  0 },
	{ "connect",
	  WIRE(0x0B, 0x04, 0x0C, 0x01, 0x00, 0x3C, 'c', 'l', 'i', 'e', 'n'),
	  { .type = MQTTSN_CONNECT,
	    .u.connect = { .flags = MQTTSN_FLAG_WILL | MQTTSN_FLAG_CLEAN,
			   .protocol_id = 1,
			   .duration = 60,
			   .client_id = S("clien"),
			   .client_id_len = 5 } },
	  0 },
	{ "connack",
	  WIRE(0x03, 0x05, 0x00),
	  { .type = MQTTSN_CONNACK, .u.connack = { .return_code = MQTTSN_RC_ACCEPTED } },
	  1 },
	{ "willtopicreq", WIRE(0x02, 0x06), { .type = MQTTSN_WILLTOPICREQ }, 1 },
	{ "willtopic",
	  WIRE(0x06, 0x07, 0x30, 'w', '/', 't'),
	  { .type = MQTTSN_WILLTOPIC,
	    .u.willtopic = { .flags = MQTTSN_FLAG_QOS1 | MQTTSN_FLAG_RETAIN, .topic = S("w/t"), .topic_len = 3 } },
	  0 },
	{ "willtopic (empty)", WIRE(0x02, 0x07), { .type = MQTTSN_WILLTOPIC }, 0 },
	{ "willmsgreq", WIRE(0x02, 0x08), { .type = MQTTSN_WILLMSGREQ }, 1 },
	{ "willmsg",
	  WIRE(0x05, 0x09, 'b', 'y', 'e'),
	  { .type = MQTTSN_WILLMSG, .u.willmsg = { .msg = S("bye"), .msg_len = 3 } },
	  0 },
	{ "register",
	  WIRE(0x0A, 0x0A, 0x00, 0x00, 0x12, 0x34, 'a', '/', 'b', 'c'),
	  { .type = MQTTSN_REGISTER,
	    .u.reg = { .topic_id = 0, .msg_id = 0x1234, .topic_name = S("a/bc"), .topic_name_len = 4 } },
	  0 },
	{ "regack",
	  WIRE(0x07, 0x0B, 0x00, 0x05, 0x12, 0x34, 0x00),
	  { .type = MQTTSN_REGACK, .u.regack = { .topic_id = 5, .msg_id = 0x1234, .return_code = 0 } },
	  1 },
	{ "publish",
	  WIRE(0x0A, 0x0C, 0x20, 0x00, 0x05, 0xBE, 0xEF, 'x', 'y', 'z'),
	  { .type = MQTTSN_PUBLISH,
	    .u.publish = { .flags = MQTTSN_FLAG_QOS1,
			   .topic_id = 5,
			   .msg_id = 0xBEEF,
			   .data = S("xyz"),
			   .data_len = 3 } },
	  0 },
	{ "publish (short topic, empty, qos -1)",
	  WIRE(0x07, 0x0C, 0x62, 'a', 'b', 0x00, 0x00),
	  { .type = MQTTSN_PUBLISH,
	    .u.publish = { .flags = MQTTSN_FLAG_QOSM1 | MQTTSN_TOPIC_SHORT, .topic_id = 0x6162, .msg_id = 0 } },
	  0 },
	{ "puback",
	  WIRE(0x07, 0x0D, 0x00, 0x05, 0xBE, 0xEF, 0x02),
	  { .type = MQTTSN_PUBACK,
	    .u.puback = { .topic_id = 5, .msg_id = 0xBEEF, .return_code = MQTTSN_RC_INVALID_TOPIC_ID } },
	  1 },
	{ "pubcomp", WIRE(0x04, 0x0E, 0x00, 0x01), { .type = MQTTSN_PUBCOMP, .u.pubx = { .msg_id = 1 } }, 1 },
	{ "pubrec", WIRE(0x04, 0x0F, 0x01, 0x00), { .type = MQTTSN_PUBREC, .u.pubx = { .msg_id = 256 } }, 1 },
	{ "pubrel", WIRE(0x04, 0x10, 0xFF, 0xFF), { .type = MQTTSN_PUBREL, .u.pubx = { .msg_id = 65535 } }, 1 },
	{ "subscribe (name)",
	  WIRE(0x07, 0x12, 0x20, 0x00, 0x02, 's', '/'),
	  { .type = MQTTSN_SUBSCRIBE,
	    .u.subscribe = { .flags = MQTTSN_FLAG_QOS1, .msg_id = 2, .topic_name = S("s/"), .topic_name_len = 2 } },
	  0 },
	{ "subscribe (predefined)",
	  WIRE(0x07, 0x12, 0x01, 0x00, 0x03, 0x00, 0x2A),
	  { .type = MQTTSN_SUBSCRIBE,
	    .u.subscribe = { .flags = MQTTSN_TOPIC_PREDEFINED, .msg_id = 3, .topic_id = 42 } },
	  1 },
	{ "subscribe (short)",
	  WIRE(0x07, 0x12, 0x02, 0x00, 0x04, 'x', 'y'),
	  { .type = MQTTSN_SUBSCRIBE, .u.subscribe = { .flags = MQTTSN_TOPIC_SHORT, .msg_id = 4, .topic_id = 0x7879 } },
	  1 },
	{ "suback",
	  WIRE(0x08, 0x13, 0x20, 0x00, 0x2A, 0x00, 0x03, 0x00),
	  { .type = MQTTSN_SUBACK,
	    .u.suback = { .flags = MQTTSN_FLAG_QOS1, .topic_id = 42, .msg_id = 3, .return_code = 0 } },
	  1 },
	{ "unsubscribe (name)",
	  WIRE(0x08, 0x14, 0x00, 0x00, 0x05, 'a', '/', '#'),
	  { .type = MQTTSN_UNSUBSCRIBE,
	    .u.subscribe = { .flags = 0, .msg_id = 5, .topic_name = S("a/#"), .topic_name_len = 3 } },
	  0 },
	{ "unsubscribe (predefined)",
	  WIRE(0x07, 0x14, 0x01, 0x00, 0x06, 0x01, 0x00),
	  { .type = MQTTSN_UNSUBSCRIBE,
	    .u.subscribe = { .flags = MQTTSN_TOPIC_PREDEFINED, .msg_id = 6, .topic_id = 256 } },
	  1 },
	{ "unsuback", WIRE(0x04, 0x15, 0x00, 0x05), { .type = MQTTSN_UNSUBACK, .u.pubx = { .msg_id = 5 } }, 1 },
	{ "pingreq", WIRE(0x02, 0x16), { .type = MQTTSN_PINGREQ }, 0 },
	{ "pingreq (client id)",
	  WIRE(0x05, 0x16, 'c', 'i', 'd'),
	  { .type = MQTTSN_PINGREQ, .u.pingreq = { .client_id = S("cid"), .client_id_len = 3 } },
	  0 },
	{ "pingresp", WIRE(0x02, 0x17), { .type = MQTTSN_PINGRESP }, 1 },
	{ "disconnect", WIRE(0x02, 0x18), { .type = MQTTSN_DISCONNECT }, 1 }, /* 0 or 2, never 1 */
	{ "disconnect (sleep)",
	  WIRE(0x04, 0x18, 0x0E, 0x10),
	  { .type = MQTTSN_DISCONNECT, .u.disconnect = { .has_duration = 1, .duration = 3600 } },
	  1 },
	{ "willtopicupd",
	  WIRE(0x05, 0x1A, 0x40, 'w', '2'),
	  { .type = MQTTSN_WILLTOPICUPD,
	    .u.willtopic = { .flags = MQTTSN_FLAG_QOS2, .topic = S("w2"), .topic_len = 2 } },
	  0 },
	{ "willtopicupd (empty)", WIRE(0x02, 0x1A), { .type = MQTTSN_WILLTOPICUPD }, 0 },
	{ "willtopicresp",
	  WIRE(0x03, 0x1B, 0x01),
	  { .type = MQTTSN_WILLTOPICRESP, .u.connack = { .return_code = MQTTSN_RC_CONGESTION } },
	  1 },
	{ "willmsgupd",
	  WIRE(0x04, 0x1C, 'o', 'k'),
	  { .type = MQTTSN_WILLMSGUPD, .u.willmsg = { .msg = S("ok"), .msg_len = 2 } },
	  0 },
	{ "willmsgresp",
	  WIRE(0x03, 0x1D, 0x03),
	  { .type = MQTTSN_WILLMSGRESP, .u.connack = { .return_code = MQTTSN_RC_NOT_SUPPORTED } },
	  1 },
	{ "encapsulated",
	  WIRE(0x05, 0xFE, 0x01, 0xAB, 0xCD, 0x09, 0x0C, 0x00, 0x00, 0x01, 0x00, 0x00, 'h', 'i'),
	  { .type = MQTTSN_ENCAPSULATED,
	    .u.encap = { .ctrl = 1,
			 .node_id = S("\xab\xcd"),
			 .node_id_len = 2,
			 .inner = inner_publish,
			 .inner_len = 9 } },
	  0 },
	{ "encapsulated (no node id)",
	  WIRE(0x03, 0xFE, 0x00, 0x02, 0x16),
	  { .type = MQTTSN_ENCAPSULATED, .u.encap = { .ctrl = 0, .inner = S("\x02\x16"), .inner_len = 2 } },
	  0 },
};

#define N_SAMPLES (sizeof(samples) / sizeof(samples[0]))

/* ---------------------------------------------------------------- helpers */

/* Decode from an exactly-sized heap copy so ASan catches any read past len. */
static int decode_copy(const uint8_t *wire, size_t len, struct mqttsn_msg *out)
{
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	if (len)
		memcpy(copy, wire, len);
	rc = mqttsn_decode(copy, len, out);
	free(copy);
	return rc; /* out's pointers dangle now: only its scalar fields may be used */
}

static void assert_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, const char *what)
{
	if (alen != blen || (alen && memcmp(a, b, alen) != 0))
		fail_msg("%s: byte fields differ (len %zu vs %zu)", what, alen, blen);
}

/* Field-by-field equality for the union member that m->type selects. */
static void assert_msg_eq(const struct mqttsn_msg *e, const struct mqttsn_msg *a, const char *what)
{
	if (e->type != a->type)
		fail_msg("%s: type 0x%02x vs 0x%02x", what, e->type, a->type);
	switch (e->type) {
	case MQTTSN_ADVERTISE:
		assert_int_equal(e->u.advertise.gw_id, a->u.advertise.gw_id);
		assert_int_equal(e->u.advertise.duration, a->u.advertise.duration);
		break;
	case MQTTSN_SEARCHGW: assert_int_equal(e->u.searchgw.radius, a->u.searchgw.radius); break;
	case MQTTSN_GWINFO:
		assert_int_equal(e->u.gwinfo.gw_id, a->u.gwinfo.gw_id);
		assert_bytes(e->u.gwinfo.gw_add, e->u.gwinfo.gw_add_len, a->u.gwinfo.gw_add, a->u.gwinfo.gw_add_len,
			     what);
		break;
	case MQTTSN_CONNECT:
		assert_int_equal(e->u.connect.flags, a->u.connect.flags);
		assert_int_equal(e->u.connect.protocol_id, a->u.connect.protocol_id);
		assert_int_equal(e->u.connect.duration, a->u.connect.duration);
		assert_bytes(e->u.connect.client_id, e->u.connect.client_id_len, a->u.connect.client_id,
			     a->u.connect.client_id_len, what);
		break;
	case MQTTSN_CONNACK:
	case MQTTSN_WILLTOPICRESP:
	case MQTTSN_WILLMSGRESP: assert_int_equal(e->u.connack.return_code, a->u.connack.return_code); break;
	case MQTTSN_WILLTOPIC:
	case MQTTSN_WILLTOPICUPD:
		assert_int_equal(e->u.willtopic.flags, a->u.willtopic.flags);
		assert_bytes(e->u.willtopic.topic, e->u.willtopic.topic_len, a->u.willtopic.topic,
			     a->u.willtopic.topic_len, what);
		break;
	case MQTTSN_WILLMSG:
	case MQTTSN_WILLMSGUPD:
		assert_bytes(e->u.willmsg.msg, e->u.willmsg.msg_len, a->u.willmsg.msg, a->u.willmsg.msg_len, what);
		break;
	case MQTTSN_REGISTER:
		assert_int_equal(e->u.reg.topic_id, a->u.reg.topic_id);
		assert_int_equal(e->u.reg.msg_id, a->u.reg.msg_id);
		assert_bytes(e->u.reg.topic_name, e->u.reg.topic_name_len, a->u.reg.topic_name, a->u.reg.topic_name_len,
			     what);
		break;
	case MQTTSN_REGACK:
		assert_int_equal(e->u.regack.topic_id, a->u.regack.topic_id);
		assert_int_equal(e->u.regack.msg_id, a->u.regack.msg_id);
		assert_int_equal(e->u.regack.return_code, a->u.regack.return_code);
		break;
	case MQTTSN_PUBLISH:
		assert_int_equal(e->u.publish.flags, a->u.publish.flags);
		assert_int_equal(e->u.publish.topic_id, a->u.publish.topic_id);
		assert_int_equal(e->u.publish.msg_id, a->u.publish.msg_id);
		assert_bytes(e->u.publish.data, e->u.publish.data_len, a->u.publish.data, a->u.publish.data_len, what);
		break;
	case MQTTSN_PUBACK:
		assert_int_equal(e->u.puback.topic_id, a->u.puback.topic_id);
		assert_int_equal(e->u.puback.msg_id, a->u.puback.msg_id);
		assert_int_equal(e->u.puback.return_code, a->u.puback.return_code);
		break;
	case MQTTSN_PUBREC:
	case MQTTSN_PUBREL:
	case MQTTSN_PUBCOMP:
	case MQTTSN_UNSUBACK: assert_int_equal(e->u.pubx.msg_id, a->u.pubx.msg_id); break;
	case MQTTSN_SUBSCRIBE:
	case MQTTSN_UNSUBSCRIBE:
		assert_int_equal(e->u.subscribe.flags, a->u.subscribe.flags);
		assert_int_equal(e->u.subscribe.msg_id, a->u.subscribe.msg_id);
		assert_int_equal(e->u.subscribe.topic_id, a->u.subscribe.topic_id);
		assert_bytes(e->u.subscribe.topic_name, e->u.subscribe.topic_name_len, a->u.subscribe.topic_name,
			     a->u.subscribe.topic_name_len, what);
		break;
	case MQTTSN_SUBACK:
		assert_int_equal(e->u.suback.flags, a->u.suback.flags);
		assert_int_equal(e->u.suback.topic_id, a->u.suback.topic_id);
		assert_int_equal(e->u.suback.msg_id, a->u.suback.msg_id);
		assert_int_equal(e->u.suback.return_code, a->u.suback.return_code);
		break;
	case MQTTSN_PINGREQ:
		assert_bytes(e->u.pingreq.client_id, e->u.pingreq.client_id_len, a->u.pingreq.client_id,
			     a->u.pingreq.client_id_len, what);
		break;
	case MQTTSN_DISCONNECT:
		assert_int_equal(e->u.disconnect.has_duration, a->u.disconnect.has_duration);
		assert_int_equal(e->u.disconnect.duration, a->u.disconnect.duration);
		break;
	case MQTTSN_ENCAPSULATED:
		assert_int_equal(e->u.encap.ctrl, a->u.encap.ctrl);
		assert_bytes(e->u.encap.node_id, e->u.encap.node_id_len, a->u.encap.node_id, a->u.encap.node_id_len,
			     what);
		assert_bytes(e->u.encap.inner, e->u.encap.inner_len, a->u.encap.inner, a->u.encap.inner_len, what);
		break;
	default: break;
	}
}

/* Length of the part the length field counts: the whole datagram, except for ENCAPSULATED. */
static size_t framed_len(const struct sample *s)
{
	return s->msg.type == MQTTSN_ENCAPSULATED ? s->len - s->msg.u.encap.inner_len : s->len;
}

/* The sample rewritten with the 3-octet length form: 0x01, 2-octet length, then the rest. */
static size_t to_long_form(const struct sample *s, uint8_t *out)
{
	size_t framed = framed_len(s) + 2;

	out[0] = 0x01;
	out[1] = (uint8_t)(framed >> 8);
	out[2] = (uint8_t)framed;
	memcpy(out + 3, s->wire + 1, s->len - 1);
	return s->len + 2;
}

/* ---------------------------------------------------------------- table-driven tests */

static void test_decode_samples(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_SAMPLES; i++) {
		const struct sample *s = &samples[i];
		struct mqttsn_msg m;

		if (mqttsn_decode(s->wire, s->len, &m) != MQTTSN_OK)
			fail_msg("%s: decode failed", s->name);
		assert_int_equal(m.hdr_len, 2);
		assert_int_equal(m.length, framed_len(s));
		assert_msg_eq(&s->msg, &m, s->name);
	}
}

static void test_encode_samples(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_SAMPLES; i++) {
		const struct sample *s = &samples[i];
		uint8_t buf[64];
		int n = mqttsn_encode(&s->msg, buf, sizeof(buf));

		if (n != (int)s->len || memcmp(buf, s->wire, s->len) != 0)
			fail_msg("%s: encode gave %d bytes, want the %zu sample bytes", s->name, n, s->len);
	}
}

static void test_roundtrip_samples(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_SAMPLES; i++) {
		const struct sample *s = &samples[i];
		uint8_t buf[64], buf2[64];
		struct mqttsn_msg m;
		int n = mqttsn_encode(&s->msg, buf, sizeof(buf));

		assert_true(n > 0);
		if (mqttsn_decode(buf, (size_t)n, &m) != MQTTSN_OK)
			fail_msg("%s: decode of own encoding failed", s->name);
		assert_msg_eq(&s->msg, &m, s->name);
		/* and back again, byte for byte */
		assert_int_equal(mqttsn_encode(&m, buf2, sizeof(buf2)), n);
		assert_memory_equal(buf, buf2, (size_t)n);
	}
}

static void test_truncations_fail(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_SAMPLES; i++) {
		const struct sample *s = &samples[i];
		uint8_t lf[80];
		size_t lflen = to_long_form(s, lf);

		for (size_t k = 0; k < s->len; k++) {
			struct mqttsn_msg m;
			int rc = decode_copy(s->wire, k, &m);

			if (rc != MQTTSN_E_SHORT)
				fail_msg("%s cut to %zu bytes: %s, want E_SHORT", s->name, k, mqttsn_status_str(rc));
		}
		for (size_t k = 0; k < lflen; k++) {
			struct mqttsn_msg m;
			int rc = decode_copy(lf, k, &m);

			if (rc != MQTTSN_E_SHORT)
				fail_msg("%s (3-octet) cut to %zu bytes: %s", s->name, k, mqttsn_status_str(rc));
		}
	}
}

static void test_long_form_decodes(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_SAMPLES; i++) {
		const struct sample *s = &samples[i];
		uint8_t lf[80], enc[80];
		size_t lflen = to_long_form(s, lf);
		struct mqttsn_msg m;

		if (decode_copy(lf, lflen, &m) != MQTTSN_OK)
			fail_msg("%s: 3-octet form rejected", s->name);
		assert_int_equal(m.hdr_len, 4);
		assert_int_equal(m.length, framed_len(s) + 2);
		assert_int_equal(mqttsn_decode(lf, lflen, &m), MQTTSN_OK);
		assert_msg_eq(&s->msg, &m, s->name);
		/* the encoder goes back to the 1-octet form for a short message */
		assert_int_equal(mqttsn_encode(&m, enc, sizeof(enc)), (int)s->len);
		assert_memory_equal(enc, s->wire, s->len);
	}
}

static void test_length_field_mismatch(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_SAMPLES; i++) {
		const struct sample *s = &samples[i];
		uint8_t w[80];
		struct mqttsn_msg m;
		int rc;

		/* length field one bigger than the datagram (the escape 0x01 never arises: len >= 2) */
		memcpy(w, s->wire, s->len);
		w[0]++;
		rc = decode_copy(w, s->len, &m);
		if (rc != MQTTSN_E_SHORT)
			fail_msg("%s: length+1 gave %s", s->name, mqttsn_status_str(rc));

		/* length field one smaller */
		w[0] = (uint8_t)(s->wire[0] - 1);
		rc = decode_copy(w, s->len, &m);
		if (w[0] == 0x01) {
			if (rc != MQTTSN_E_SHORT && rc != MQTTSN_E_LENGTH)
				fail_msg("%s: length 1 gave %s", s->name, mqttsn_status_str(rc));
		} else if (s->msg.type == MQTTSN_ENCAPSULATED) {
			if (rc == MQTTSN_OK)
				fail_msg("%s: length-1 accepted", s->name);
		} else if (rc != MQTTSN_E_LENGTH) {
			fail_msg("%s: length-1 gave %s", s->name, mqttsn_status_str(rc));
		}

		/* a trailing byte the length field does not cover */
		memcpy(w, s->wire, s->len);
		w[s->len] = 0;
		rc = decode_copy(w, s->len + 1, &m);
		if (rc != MQTTSN_E_LENGTH)
			fail_msg("%s: trailing byte gave %s", s->name, mqttsn_status_str(rc));

		/* 3-octet form: length one bigger / one smaller */
		size_t lflen = to_long_form(s, w);
		w[2]++;
		assert_int_equal(decode_copy(w, lflen, &m), MQTTSN_E_SHORT);
		w[2] = (uint8_t)(w[2] - 2);
		rc = decode_copy(w, lflen, &m);
		if (rc == MQTTSN_OK)
			fail_msg("%s: 3-octet length-1 accepted", s->name);
		if (s->msg.type != MQTTSN_ENCAPSULATED)
			assert_int_equal(rc, MQTTSN_E_LENGTH);
		assert_int_equal(m.type, s->msg.type);
	}
}

/* Fixed-size bodies reject one more byte (with the length field fixed up); variable ones
 * take it. */
static void test_extra_body_byte(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_SAMPLES; i++) {
		const struct sample *s = &samples[i];
		uint8_t w[80];
		struct mqttsn_msg m;
		int rc;

		if (s->msg.type == MQTTSN_ENCAPSULATED)
			continue;
		memcpy(w, s->wire, s->len);
		w[s->len] = 'q';
		w[0]++;
		rc = decode_copy(w, s->len + 1, &m);
		if (s->fixed_body && rc != MQTTSN_E_BODY)
			fail_msg("%s + 1 byte: %s, want E_BODY", s->name, mqttsn_status_str(rc));
		if (s->len == 2 && (s->msg.type == MQTTSN_WILLTOPIC || s->msg.type == MQTTSN_WILLTOPICUPD)) {
			assert_int_equal(rc, MQTTSN_E_FIELD); /* a flags octet but no topic */
			continue;
		}
		if (!s->fixed_body && rc != MQTTSN_OK)
			fail_msg("%s + 1 byte: %s, want OK", s->name, mqttsn_status_str(rc));
	}
}

static void test_encode_nospace(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_SAMPLES; i++) {
		const struct sample *s = &samples[i];

		assert_int_equal(mqttsn_encode(&s->msg, NULL, 0), MQTTSN_E_NOSPACE);
		for (size_t cap = 0; cap < s->len; cap++) {
			uint8_t *buf = malloc(cap + 1);
			int rc;

			assert_non_null(buf);
			memset(buf, 0xA5, cap + 1);
			rc = mqttsn_encode(&s->msg, buf, cap);
			if (rc != MQTTSN_E_NOSPACE)
				fail_msg("%s: cap %zu gave %d", s->name, cap, rc);
			for (size_t j = 0; j <= cap; j++)
				assert_int_equal(buf[j], 0xA5); /* nothing written on failure */
			free(buf);
		}
	}
}

/* ---------------------------------------------------------------- header edge cases */

static void test_tiny_datagrams(void **state)
{
	struct mqttsn_msg m;
	uint8_t b[4];

	(void)state;
	assert_int_equal(mqttsn_decode(NULL, 0, &m), MQTTSN_E_SHORT);
	assert_int_equal(decode_copy(b, 0, &m), MQTTSN_E_SHORT);
	for (int v = 0; v < 256; v++) {
		b[0] = (uint8_t)v;
		assert_int_equal(decode_copy(b, 1, &m), MQTTSN_E_SHORT);
	}
	/* 1-octet length below the 2-octet header */
	assert_int_equal(decode_copy((const uint8_t[]){ 0x00, 0x16 }, 2, &m), MQTTSN_E_LENGTH);
	assert_int_equal(m.type, MQTTSN_PINGREQ);
	/* 3-octet form cut inside the header */
	assert_int_equal(decode_copy((const uint8_t[]){ 0x01, 0x17 }, 2, &m), MQTTSN_E_SHORT);
	assert_int_equal(decode_copy((const uint8_t[]){ 0x01, 0x00, 0x04 }, 3, &m), MQTTSN_E_SHORT);
	/* 3-octet length below the 4-octet header */
	for (int l = 0; l < 4; l++) {
		assert_int_equal(decode_copy((const uint8_t[]){ 0x01, 0x00, (uint8_t)l, 0x17 }, 4, &m),
				 MQTTSN_E_LENGTH);
		assert_int_equal(m.type, MQTTSN_PINGRESP);
	}
	/* the smallest 3-octet form message */
	assert_int_equal(decode_copy((const uint8_t[]){ 0x01, 0x00, 0x04, 0x17 }, 4, &m), MQTTSN_OK);
	assert_int_equal(m.type, MQTTSN_PINGRESP);
	assert_int_equal(m.hdr_len, 4);
	assert_int_equal(m.length, 4);
	/* 3-octet length > datagram, high byte */
	assert_int_equal(decode_copy((const uint8_t[]){ 0x01, 0x01, 0x04, 0x17 }, 4, &m), MQTTSN_E_SHORT);
	/* big-endian: 0x0400 is not 4 */
	assert_int_equal(decode_copy((const uint8_t[]){ 0x01, 0x04, 0x00, 0x17 }, 4, &m), MQTTSN_E_SHORT);
}

static int is_known(int t)
{
	return strcmp(mqttsn_type_name((uint8_t)t), "UNKNOWN") != 0;
}

static void test_unknown_types(void **state)
{
	int known = 0;

	(void)state;
	for (int t = 0; t < 256; t++) {
		struct mqttsn_msg m;
		struct mqttsn_msg e = { .type = (uint8_t)t };
		uint8_t buf[8];

		if (is_known(t)) {
			known++;
			continue;
		}
		assert_int_equal(decode_copy((const uint8_t[]){ 0x02, (uint8_t)t }, 2, &m), MQTTSN_E_TYPE);
		assert_int_equal(m.type, t);
		assert_int_equal(decode_copy((const uint8_t[]){ 0x01, 0x00, 0x05, (uint8_t)t, 0 }, 5, &m),
				 MQTTSN_E_TYPE);
		assert_int_equal(m.type, t);
		assert_int_equal(mqttsn_encode(&e, buf, sizeof(buf)), MQTTSN_E_TYPE);
	}
	assert_int_equal(known, 28);
}

/* ---------------------------------------------------------------- per-type field rules */

static void test_connect_fields(void **state)
{
	uint8_t w[40], buf[40];
	struct mqttsn_msg m;
	const uint8_t id24[] = "abcdefghijklmnopqrstuvwx";
	struct mqttsn_msg e = {
		.type = MQTTSN_CONNECT,
		.u.connect = { .flags = MQTTSN_FLAG_CLEAN,
			       .protocol_id = MQTTSN_PROTOCOL_ID,
			       .duration = 10,
			       .client_id = id24,
			       .client_id_len = 23 },
	};

	(void)state;
	/* 23 octets is the longest client id */
	assert_int_equal(mqttsn_encode(&e, w, sizeof(w)), 29);
	assert_int_equal(decode_copy(w, 29, &m), MQTTSN_OK);
	assert_int_equal(m.u.connect.client_id_len, 23);

	/* Over 23 bytes (spec 5.3.1): encoded and decoded, so that the gateway can refuse it with a
	 * CONNACK (the broker does) */
	e.u.connect.client_id_len = 24;
	assert_int_equal(mqttsn_encode(&e, buf, sizeof(buf)), 30);
	w[0] = 30;
	w[29] = 'x';
	assert_int_equal(decode_copy(w, 30, &m), MQTTSN_OK);
	assert_int_equal(m.type, MQTTSN_CONNECT);
	assert_int_equal(m.u.connect.client_id_len, 24);

	/* empty client id */
	e.u.connect.client_id_len = 0;
	assert_int_equal(mqttsn_encode(&e, buf, sizeof(buf)), MQTTSN_E_FIELD);
	assert_int_equal(decode_copy((const uint8_t[]){ 0x06, 0x04, 0x04, 0x01, 0x00, 0x0A }, 6, &m), MQTTSN_E_FIELD);
	/* NULL client id with a length */
	e.u.connect.client_id = NULL;
	e.u.connect.client_id_len = 3;
	assert_int_equal(mqttsn_encode(&e, buf, sizeof(buf)), MQTTSN_E_FIELD);

	/* protocol id other than 0x01 */
	e.u.connect.client_id = S("abc");
	for (int pid = 0; pid < 256; pid++) {
		uint8_t c[] = { 0x09, 0x04, 0x04, (uint8_t)pid, 0x00, 0x0A, 'a', 'b', 'c' };

		e.u.connect.protocol_id = (uint8_t)pid;
		assert_int_equal(decode_copy(c, sizeof(c), &m), pid == 1 ? MQTTSN_OK : MQTTSN_E_FIELD);
		assert_int_equal(mqttsn_encode(&e, buf, sizeof(buf)), pid == 1 ? 9 : MQTTSN_E_FIELD);
	}

	/* body without the whole fixed part */
	assert_int_equal(decode_copy((const uint8_t[]){ 0x05, 0x04, 0x04, 0x01, 0x00 }, 5, &m), MQTTSN_E_BODY);
	assert_int_equal(decode_copy((const uint8_t[]){ 0x02, 0x04 }, 2, &m), MQTTSN_E_BODY);
}

static void test_pingreq_fields(void **state)
{
	uint8_t w[40];
	struct mqttsn_msg m;
	struct mqttsn_msg e = { .type = MQTTSN_PINGREQ,
				.u.pingreq = { .client_id = S("abcdefghijklmnopqrstuvwxyz"), .client_id_len = 23 } };

	(void)state;
	assert_int_equal(mqttsn_encode(&e, w, sizeof(w)), 25);
	assert_int_equal(decode_copy(w, 25, &m), MQTTSN_OK);
	e.u.pingreq.client_id_len = 24;
	assert_int_equal(mqttsn_encode(&e, w, sizeof(w)), MQTTSN_E_FIELD);
	memcpy(w + 2, e.u.pingreq.client_id, 24);
	w[0] = 26;
	assert_int_equal(decode_copy(w, 26, &m), MQTTSN_E_FIELD);
}

static void test_topic_fields(void **state)
{
	struct mqttsn_msg m;
	uint8_t buf[32];

	(void)state;
	/* REGISTER needs a topic name */
	assert_int_equal(decode_copy((const uint8_t[]){ 0x06, 0x0A, 0, 0, 0, 1 }, 6, &m), MQTTSN_E_FIELD);
	assert_int_equal(decode_copy((const uint8_t[]){ 0x05, 0x0A, 0, 0, 0 }, 5, &m), MQTTSN_E_BODY);
	struct mqttsn_msg reg = { .type = MQTTSN_REGISTER, .u.reg = { .topic_id = 1, .msg_id = 1 } };
	assert_int_equal(mqttsn_encode(&reg, buf, sizeof(buf)), MQTTSN_E_FIELD);

	/* SUBSCRIBE / UNSUBSCRIBE by name need a name */
	for (uint8_t t = MQTTSN_SUBSCRIBE; t <= MQTTSN_UNSUBSCRIBE; t = (uint8_t)(t + 2)) {
		struct mqttsn_msg sub = { .type = t, .u.subscribe = { .flags = MQTTSN_TOPIC_NORMAL, .msg_id = 1 } };

		assert_int_equal(decode_copy((const uint8_t[]){ 0x05, t, 0x00, 0x00, 0x01 }, 5, &m), MQTTSN_E_FIELD);
		assert_int_equal(mqttsn_encode(&sub, buf, sizeof(buf)), MQTTSN_E_FIELD);
		/* predefined / short ids are exactly two octets */
		for (uint8_t tt = MQTTSN_TOPIC_PREDEFINED; tt <= MQTTSN_TOPIC_SHORT; tt++) {
			assert_int_equal(decode_copy((const uint8_t[]){ 0x05, t, tt, 0x00, 0x01 }, 5, &m),
					 MQTTSN_E_BODY);
			assert_int_equal(decode_copy((const uint8_t[]){ 0x06, t, tt, 0x00, 0x01, 'a' }, 6, &m),
					 MQTTSN_E_BODY);
			assert_int_equal(
				decode_copy((const uint8_t[]){ 0x08, t, tt, 0x00, 0x01, 'a', 'b', 'c' }, 8, &m),
				MQTTSN_E_BODY);
			assert_int_equal(decode_copy((const uint8_t[]){ 0x07, t, tt, 0x00, 0x01, 'a', 'b' }, 7, &m),
					 MQTTSN_OK);
			assert_int_equal(m.u.subscribe.topic_id, 0x6162);
			assert_int_equal(m.u.subscribe.topic_name_len, 0);
			/* the encoder ignores topic_name for an id-type subscribe */
			sub.u.subscribe.flags = tt;
			sub.u.subscribe.topic_id = 0x6162;
			assert_int_equal(mqttsn_encode(&sub, buf, sizeof(buf)), 7);
			assert_memory_equal(buf, ((const uint8_t[]){ 0x07, t, tt, 0x00, 0x01, 'a', 'b' }), 7);
		}
		/* reserved topic type 0x03 */
		assert_int_equal(decode_copy((const uint8_t[]){ 0x07, t, 0x03, 0x00, 0x01, 'a', 'b' }, 7, &m),
				 MQTTSN_E_FIELD);
		sub.u.subscribe.flags = 0x03;
		assert_int_equal(mqttsn_encode(&sub, buf, sizeof(buf)), MQTTSN_E_FIELD);
		assert_int_equal(decode_copy((const uint8_t[]){ 0x04, t, 0x00, 0x00 }, 4, &m), MQTTSN_E_BODY);
	}

	/* PUBLISH: reserved topic type, too-short body, short topic name big-endian */
	assert_int_equal(decode_copy((const uint8_t[]){ 0x07, 0x0C, 0x03, 0, 1, 0, 0 }, 7, &m), MQTTSN_E_FIELD);
	assert_int_equal(decode_copy((const uint8_t[]){ 0x06, 0x0C, 0x00, 0, 1, 0 }, 6, &m), MQTTSN_E_BODY);
	assert_int_equal(decode_copy((const uint8_t[]){ 0x08, 0x0C, 0x02, 'z', 'a', 0, 0, '!' }, 8, &m), MQTTSN_OK);
	assert_int_equal(m.u.publish.topic_id, ('z' << 8) | 'a');
	struct mqttsn_msg pub = { .type = MQTTSN_PUBLISH, .u.publish = { .flags = 0x03 } };
	assert_int_equal(mqttsn_encode(&pub, buf, sizeof(buf)), MQTTSN_E_FIELD);
	pub.u.publish.flags = 0;
	pub.u.publish.data_len = 1; /* NULL data with a length */
	assert_int_equal(mqttsn_encode(&pub, buf, sizeof(buf)), MQTTSN_E_FIELD);
}

static void test_will_fields(void **state)
{
	struct mqttsn_msg m;
	uint8_t buf[16];

	(void)state;
	for (uint8_t t = MQTTSN_WILLTOPIC; t <= MQTTSN_WILLTOPICUPD;
	     t = (uint8_t)(t + (MQTTSN_WILLTOPICUPD - MQTTSN_WILLTOPIC))) {
		/* flags without a topic */
		assert_int_equal(decode_copy((const uint8_t[]){ 0x03, t, 0x20 }, 3, &m), MQTTSN_E_FIELD);
		struct mqttsn_msg e = { .type = t, .u.willtopic = { .flags = MQTTSN_FLAG_QOS1 } };
		assert_int_equal(mqttsn_encode(&e, buf, sizeof(buf)), MQTTSN_E_FIELD);
		/* topic_len 0 and no flags: the 2-octet empty form */
		e.u.willtopic.flags = 0;
		assert_int_equal(mqttsn_encode(&e, buf, sizeof(buf)), 2);
		assert_int_equal(buf[0], 2);
		assert_int_equal(buf[1], t);
		e.u.willtopic.topic_len = 2; /* NULL topic with a length */
		assert_int_equal(mqttsn_encode(&e, buf, sizeof(buf)), MQTTSN_E_FIELD);
	}
	/* an empty will message is a message */
	assert_int_equal(decode_copy((const uint8_t[]){ 0x02, 0x09 }, 2, &m), MQTTSN_OK);
	assert_int_equal(m.u.willmsg.msg_len, 0);
	assert_int_equal(decode_copy((const uint8_t[]){ 0x02, 0x1C }, 2, &m), MQTTSN_OK);
}

static void test_fixed_bodies(void **state)
{
	struct mqttsn_msg m;

	(void)state;
	/* DISCONNECT: 0 or 2 octets */
	assert_int_equal(decode_copy((const uint8_t[]){ 0x03, 0x18, 0x01 }, 3, &m), MQTTSN_E_BODY);
	assert_int_equal(decode_copy((const uint8_t[]){ 0x05, 0x18, 0x01, 0x02, 0x03 }, 5, &m), MQTTSN_E_BODY);
	/* too-short fixed bodies */
	assert_int_equal(decode_copy((const uint8_t[]){ 0x04, 0x00, 0x01, 0x02 }, 4, &m), MQTTSN_E_BODY);
	assert_int_equal(decode_copy((const uint8_t[]){ 0x02, 0x01 }, 2, &m), MQTTSN_E_BODY);
	assert_int_equal(decode_copy((const uint8_t[]){ 0x02, 0x02 }, 2, &m), MQTTSN_E_BODY);
	assert_int_equal(decode_copy((const uint8_t[]){ 0x02, 0x05 }, 2, &m), MQTTSN_E_BODY);
	assert_int_equal(decode_copy((const uint8_t[]){ 0x06, 0x0B, 0, 1, 0, 1 }, 6, &m), MQTTSN_E_BODY);
	assert_int_equal(decode_copy((const uint8_t[]){ 0x06, 0x0D, 0, 1, 0, 1 }, 6, &m), MQTTSN_E_BODY);
	assert_int_equal(decode_copy((const uint8_t[]){ 0x03, 0x0E, 0 }, 3, &m), MQTTSN_E_BODY);
	assert_int_equal(decode_copy((const uint8_t[]){ 0x07, 0x13, 0, 0, 1, 0, 1 }, 7, &m), MQTTSN_E_BODY);
	assert_int_equal(decode_copy((const uint8_t[]){ 0x03, 0x15, 0 }, 3, &m), MQTTSN_E_BODY);
}

static void test_encapsulated(void **state)
{
	struct mqttsn_msg m;
	uint8_t buf[600];
	uint8_t node[300];

	(void)state;
	/* no ctrl octet */
	assert_int_equal(decode_copy((const uint8_t[]){ 0x02, 0xFE, 0x02, 0x16 }, 4, &m), MQTTSN_E_BODY);
	/* header length below 2 / beyond the datagram */
	assert_int_equal(decode_copy((const uint8_t[]){ 0x00, 0xFE, 0x02, 0x16 }, 4, &m), MQTTSN_E_LENGTH);
	assert_int_equal(decode_copy((const uint8_t[]){ 0x09, 0xFE, 0x00, 0x02, 0x16 }, 5, &m), MQTTSN_E_SHORT);
	/* nothing encapsulated, or a broken inner frame */
	assert_int_equal(decode_copy((const uint8_t[]){ 0x03, 0xFE, 0x00 }, 3, &m), MQTTSN_E_SHORT);
	assert_int_equal(decode_copy((const uint8_t[]){ 0x03, 0xFE, 0x00, 0x02 }, 4, &m), MQTTSN_E_SHORT);
	assert_int_equal(decode_copy((const uint8_t[]){ 0x03, 0xFE, 0x00, 0x02, 0x16, 0x00 }, 6, &m), MQTTSN_E_LENGTH);
	assert_int_equal(decode_copy((const uint8_t[]){ 0x03, 0xFE, 0x00, 0x00, 0x16 }, 5, &m), MQTTSN_E_LENGTH);
	assert_int_equal(m.type, MQTTSN_ENCAPSULATED);
	/* an encapsulation inside one decodes (framed up to its node id); the engine refuses it */
	assert_int_equal(
		decode_copy((const uint8_t[]){ 0x04, 0xFE, 0x00, 0x07, 0x04, 0xFE, 0x00, 0x08, 0x02, 0x16 }, 10, &m),
		MQTTSN_OK);
	assert_int_equal(m.u.encap.inner_len, 6);
	assert_int_equal(decode_copy((const uint8_t[]){ 0x04, 0xFE, 0x00, 0x07, 0x02, 0xFE }, 6, &m), MQTTSN_E_BODY);
	assert_int_equal(decode_copy((const uint8_t[]){ 0x04, 0xFE, 0x00, 0x07, 0x05, 0xFE, 0x00, 0x08 }, 8, &m),
			 MQTTSN_E_SHORT);
	/* the inner message may use the 3-octet form */
	assert_int_equal(decode_copy((const uint8_t[]){ 0x03, 0xFE, 0x00, 0x01, 0x00, 0x04, 0x16 }, 7, &m), MQTTSN_OK);
	assert_int_equal(m.u.encap.inner_len, 4);

	/* the encapsulation alone, for a message that follows elsewhere (zero-copy sends) */
	assert_int_equal(mqttsn_encode_encap_hdr(buf, sizeof(buf), 0, S("\x01\x02"), 2), 5);
	assert_memory_equal(buf, "\x05\xFE\x00\x01\x02", 5);
	assert_int_equal(mqttsn_encode_encap_hdr(buf, 4, 0, S("\x01\x02"), 2), MQTTSN_E_NOSPACE);
	assert_int_equal(mqttsn_encode_encap_hdr(buf, sizeof(buf), 0, S(""), 0), MQTTSN_E_FIELD);
	memcpy(buf + 5, "\x02\x16", 2); /* + PINGRESP */
	assert_int_equal(decode_copy(buf, 7, &m), MQTTSN_OK);
	assert_int_equal(m.u.encap.node_id_len, 2);
	assert_int_equal(m.u.encap.inner_len, 2);

	/* encode: a broken inner frame is refused */
	struct mqttsn_msg e = { .type = MQTTSN_ENCAPSULATED, .u.encap = { .inner = S("\x03\x16"), .inner_len = 2 } };
	assert_int_equal(mqttsn_encode(&e, buf, sizeof(buf)), MQTTSN_E_FIELD);
	e.u.encap.inner = NULL;
	assert_int_equal(mqttsn_encode(&e, buf, sizeof(buf)), MQTTSN_E_FIELD);

	/* a node id long enough to need the 3-octet header form: 2 + 1 + 252 = 255 still fits */
	memset(node, 0x5A, sizeof(node));
	e.u.encap.ctrl = 3;
	e.u.encap.node_id = node;
	e.u.encap.node_id_len = 252;
	e.u.encap.inner = S("\x02\x17");
	e.u.encap.inner_len = 2;
	assert_int_equal(mqttsn_encode(&e, buf, sizeof(buf)), 255 + 2);
	assert_int_equal(buf[0], 255);
	e.u.encap.node_id_len = 253;
	assert_int_equal(mqttsn_encode(&e, buf, sizeof(buf)), 4 + 1 + 253 + 2);
	assert_int_equal(buf[0], 0x01);
	assert_int_equal((buf[1] << 8) | buf[2], 4 + 1 + 253);
	for (size_t cap = 0; cap < 4 + 1 + 253 + 2; cap++)
		assert_int_equal(mqttsn_encode(&e, buf + 300, cap), MQTTSN_E_NOSPACE);
	assert_int_equal(decode_copy(buf, 4 + 1 + 253 + 2, &m), MQTTSN_OK);
	assert_int_equal(m.u.encap.node_id_len, 253);
	assert_int_equal(m.u.encap.inner_len, 2);
	assert_int_equal(mqttsn_decode(buf, 4 + 1 + 253 + 2, &m), MQTTSN_OK);
	assert_msg_eq(&e, &m, "long encap");
}

/* ---------------------------------------------------------------- sizes and boundaries */

static void test_publish_hdr_boundary(void **state)
{
	static uint8_t payload[65535];
	static uint8_t full[65535 + 8], zc[65535 + 8];

	(void)state;
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 1);

	const size_t lens[] = { 0, 1, 200, 247, 248, 249, 250, 251, 252, 300, 1000, 65526 };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t pl = lens[i];
		int want_hdr = 7 + pl <= 255 ? 7 : 9;
		struct mqttsn_msg e = {
			.type = MQTTSN_PUBLISH,
			.u.publish = { .flags = MQTTSN_FLAG_QOS1,
				       .topic_id = 0x0102,
				       .msg_id = 0x0304,
				       .data = payload,
				       .data_len = (uint16_t)pl },
		};
		struct mqttsn_msg m;
		int n = mqttsn_encode(&e, full, sizeof(full));
		int h = mqttsn_encode_publish_hdr(zc, sizeof(zc), MQTTSN_FLAG_QOS1, 0x0102, 0x0304, pl);

		assert_int_equal(h, want_hdr);
		assert_int_equal(n, (int)(want_hdr + pl));
		memcpy(zc + h, payload, pl);
		assert_memory_equal(full, zc, (size_t)n); /* header + payload == whole encode */
		assert_int_equal(decode_copy(zc, (size_t)n, &m), MQTTSN_OK);
		assert_int_equal(m.hdr_len, want_hdr == 7 ? 2 : 4);
		assert_int_equal(m.length, n);
		assert_int_equal(mqttsn_decode(zc, (size_t)n, &m), MQTTSN_OK);
		assert_msg_eq(&e, &m, "publish boundary");
		for (size_t cap = 0; cap < (size_t)h; cap++)
			assert_int_equal(mqttsn_encode_publish_hdr(zc, cap, 0, 1, 1, pl), MQTTSN_E_NOSPACE);
	}
	/* the exact 255/256 edge */
	assert_int_equal(mqttsn_encode_publish_hdr(zc, 9, 0, 1, 2, 248), 7);
	assert_int_equal(zc[0], 255);
	assert_int_equal(zc[1], MQTTSN_PUBLISH);
	assert_int_equal(mqttsn_encode_publish_hdr(zc, 9, 0, 1, 2, 249), 9);
	assert_memory_equal(zc, ((const uint8_t[]){ 0x01, 0x01, 0x02, 0x0C, 0x00, 0x00, 0x01, 0x00, 0x02 }), 9);
	/* too big for the 2-octet length, reserved topic type */
	assert_int_equal(mqttsn_encode_publish_hdr(zc, 9, 0, 1, 2, 65527), MQTTSN_E_FIELD);
	assert_int_equal(mqttsn_encode_publish_hdr(zc, 9, 0, 1, 2, (size_t)-1), MQTTSN_E_FIELD);
	assert_int_equal(mqttsn_encode_publish_hdr(zc, 9, 0x03, 1, 2, 1), MQTTSN_E_FIELD);
	struct mqttsn_msg big = { .type = MQTTSN_PUBLISH, .u.publish = { .data = payload, .data_len = 65527 } };
	assert_int_equal(mqttsn_encode(&big, full, sizeof(full)), MQTTSN_E_FIELD);
}

/* The 1-octet/3-octet choice for every variable-size type at the boundary, and cap checks. */
static void test_variable_sizes_roundtrip(void **state)
{
	static uint8_t blob[70000];
	static uint8_t buf[70000];
	const uint8_t types[] = { MQTTSN_GWINFO,      MQTTSN_WILLTOPIC,    MQTTSN_WILLMSG,
				  MQTTSN_REGISTER,    MQTTSN_PUBLISH,      MQTTSN_SUBSCRIBE,
				  MQTTSN_UNSUBSCRIBE, MQTTSN_WILLTOPICUPD, MQTTSN_WILLMSGUPD };

	(void)state;
	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)(i ^ (i >> 8));
	for (size_t ti = 0; ti < sizeof(types); ti++) {
		for (size_t len = 1; len <= 65535; len += (len < 300 ? 1 : len < 65500 ? 997 : 1)) {
			struct mqttsn_msg e = { .type = types[ti] }, m;
			size_t fixed;

			switch (e.type) {
			case MQTTSN_GWINFO:
				e.u.gwinfo.gw_id = 1;
				e.u.gwinfo.gw_add = blob;
				e.u.gwinfo.gw_add_len = (uint16_t)len;
				fixed = 1;
				break;
			case MQTTSN_WILLTOPIC:
			case MQTTSN_WILLTOPICUPD:
				e.u.willtopic.flags = MQTTSN_FLAG_RETAIN;
				e.u.willtopic.topic = blob;
				e.u.willtopic.topic_len = (uint16_t)len;
				fixed = 1;
				break;
			case MQTTSN_WILLMSG:
			case MQTTSN_WILLMSGUPD:
				e.u.willmsg.msg = blob;
				e.u.willmsg.msg_len = (uint16_t)len;
				fixed = 0;
				break;
			case MQTTSN_REGISTER:
				e.u.reg.topic_id = 7;
				e.u.reg.msg_id = 8;
				e.u.reg.topic_name = blob;
				e.u.reg.topic_name_len = (uint16_t)len;
				fixed = 4;
				break;
			case MQTTSN_PUBLISH:
				e.u.publish.flags = MQTTSN_FLAG_QOS1;
				e.u.publish.topic_id = 7;
				e.u.publish.msg_id = 8;
				e.u.publish.data = blob;
				e.u.publish.data_len = (uint16_t)len;
				fixed = 5;
				break;
			default: /* SUBSCRIBE, UNSUBSCRIBE by name */
				e.u.subscribe.flags = MQTTSN_FLAG_QOS1;
				e.u.subscribe.msg_id = 9;
				e.u.subscribe.topic_name = blob;
				e.u.subscribe.topic_name_len = (uint16_t)len;
				fixed = 3;
				break;
			}
			size_t body = fixed + len;
			size_t want = body + 2 <= 255 ? body + 2 : body + 4;
			int n = mqttsn_encode(&e, buf, sizeof(buf));

			if (want > MQTTSN_MAX_MSG_LEN) {
				assert_int_equal(n, MQTTSN_E_FIELD);
				continue;
			}
			if (n != (int)want)
				fail_msg("%s body %zu: encode %d, want %zu", mqttsn_type_name(e.type), body, n, want);
			assert_int_equal(buf[0] == 0x01, want > 255);
			assert_int_equal(mqttsn_decode(buf, want, &m), MQTTSN_OK);
			assert_int_equal(m.length, want);
			assert_msg_eq(&e, &m, mqttsn_type_name(e.type));
			assert_int_equal(mqttsn_encode(&e, buf, want - 1), MQTTSN_E_NOSPACE);
			assert_int_equal(mqttsn_decode(buf, want - 1, &m), MQTTSN_E_SHORT);
		}
	}
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(mqttsn_type_name(MQTTSN_PUBLISH), "PUBLISH");
	assert_string_equal(mqttsn_type_name(MQTTSN_ADVERTISE), "ADVERTISE");
	assert_string_equal(mqttsn_type_name(MQTTSN_ENCAPSULATED), "ENCAPSULATED");
	assert_string_equal(mqttsn_type_name(MQTTSN_WILLMSGRESP), "WILLMSGRESP");
	assert_string_equal(mqttsn_type_name(0x03), "UNKNOWN");
	assert_string_equal(mqttsn_type_name(0x11), "UNKNOWN");
	assert_string_equal(mqttsn_type_name(0xFF), "UNKNOWN");
	for (size_t i = 0; i < N_SAMPLES; i++)
		assert_string_not_equal(mqttsn_type_name(samples[i].msg.type), "UNKNOWN");

	const int st[] = { MQTTSN_OK,     MQTTSN_E_SHORT, MQTTSN_E_LENGTH, MQTTSN_E_TYPE,
			   MQTTSN_E_BODY, MQTTSN_E_FIELD, MQTTSN_E_NOSPACE };
	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		assert_non_null(mqttsn_status_str(st[i]));
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(mqttsn_status_str(st[i]), mqttsn_status_str(st[j]));
		assert_string_not_equal(mqttsn_status_str(st[i]), mqttsn_status_str(-100));
	}
}

static void test_qos_flags(void **state)
{
	(void)state;
	for (int q = -1; q <= 2; q++)
		assert_int_equal(mqttsn_flags_qos(mqttsn_qos_flags(q)), q);
	assert_int_equal(mqttsn_flags_qos(MQTTSN_FLAG_DUP | MQTTSN_FLAG_QOS2 | MQTTSN_TOPIC_SHORT), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_samples),
		cmocka_unit_test(test_encode_samples),
		cmocka_unit_test(test_roundtrip_samples),
		cmocka_unit_test(test_truncations_fail),
		cmocka_unit_test(test_long_form_decodes),
		cmocka_unit_test(test_length_field_mismatch),
		cmocka_unit_test(test_extra_body_byte),
		cmocka_unit_test(test_encode_nospace),
		cmocka_unit_test(test_tiny_datagrams),
		cmocka_unit_test(test_unknown_types),
		cmocka_unit_test(test_connect_fields),
		cmocka_unit_test(test_pingreq_fields),
		cmocka_unit_test(test_topic_fields),
		cmocka_unit_test(test_will_fields),
		cmocka_unit_test(test_fixed_bodies),
		cmocka_unit_test(test_encapsulated),
		cmocka_unit_test(test_publish_hdr_boundary),
		cmocka_unit_test(test_variable_sizes_roundtrip),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_qos_flags),
	};

	return cmocka_run_group_tests_name("mqttsn_codec", tests, NULL, NULL);
}
