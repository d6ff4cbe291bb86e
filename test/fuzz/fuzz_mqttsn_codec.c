/* Fuzz target for the MQTT-SN codec: every datagram the worker stage sees goes through
 * mqttsn_decode first. Built as a libFuzzer binary (-Dfuzz=true) and as a replay binary with
 * replay_main.c. Checks, beyond "no crash": whatever decodes re-encodes, the re-encoding
 * decodes to the same fields, the encoder is canonical (same bytes as the input whenever the
 * input used the shortest length form), and a buffer one byte short is refused. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqttsn_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Largest encoding: ENCAPSULATED with a 65535-octet header and a 65535-octet inner message. */
#define OUT_MAX (2u * 65536u)

static uint8_t out1[OUT_MAX], out2[OUT_MAX], out3[OUT_MAX];

static void check(int cond)
{
	if (!cond)
		abort();
}

static int bytes_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static int msg_eq(const struct mqttsn_msg *a, const struct mqttsn_msg *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case MQTTSN_ADVERTISE:
		return a->u.advertise.gw_id == b->u.advertise.gw_id &&
		       a->u.advertise.duration == b->u.advertise.duration;
	case MQTTSN_SEARCHGW: return a->u.searchgw.radius == b->u.searchgw.radius;
	case MQTTSN_GWINFO:
		return a->u.gwinfo.gw_id == b->u.gwinfo.gw_id &&
		       bytes_eq(a->u.gwinfo.gw_add, a->u.gwinfo.gw_add_len, b->u.gwinfo.gw_add, b->u.gwinfo.gw_add_len);
	case MQTTSN_CONNECT:
		return a->u.connect.flags == b->u.connect.flags &&
		       a->u.connect.protocol_id == b->u.connect.protocol_id &&
		       a->u.connect.duration == b->u.connect.duration &&
		       bytes_eq(a->u.connect.client_id, a->u.connect.client_id_len, b->u.connect.client_id,
				b->u.connect.client_id_len);
	case MQTTSN_CONNACK:
	case MQTTSN_WILLTOPICRESP:
	case MQTTSN_WILLMSGRESP: return a->u.connack.return_code == b->u.connack.return_code;
	case MQTTSN_WILLTOPIC:
	case MQTTSN_WILLTOPICUPD:
		return a->u.willtopic.flags == b->u.willtopic.flags &&
		       bytes_eq(a->u.willtopic.topic, a->u.willtopic.topic_len, b->u.willtopic.topic,
				b->u.willtopic.topic_len);
	case MQTTSN_WILLMSG:
	case MQTTSN_WILLMSGUPD:
		return bytes_eq(a->u.willmsg.msg, a->u.willmsg.msg_len, b->u.willmsg.msg, b->u.willmsg.msg_len);
	case MQTTSN_REGISTER:
		return a->u.reg.topic_id == b->u.reg.topic_id && a->u.reg.msg_id == b->u.reg.msg_id &&
		       bytes_eq(a->u.reg.topic_name, a->u.reg.topic_name_len, b->u.reg.topic_name,
				b->u.reg.topic_name_len);
	case MQTTSN_REGACK:
		return a->u.regack.topic_id == b->u.regack.topic_id && a->u.regack.msg_id == b->u.regack.msg_id &&
		       a->u.regack.return_code == b->u.regack.return_code;
	case MQTTSN_PUBLISH:
		return a->u.publish.flags == b->u.publish.flags && a->u.publish.topic_id == b->u.publish.topic_id &&
		       a->u.publish.msg_id == b->u.publish.msg_id &&
		       bytes_eq(a->u.publish.data, a->u.publish.data_len, b->u.publish.data, b->u.publish.data_len);
	case MQTTSN_PUBACK:
		return a->u.puback.topic_id == b->u.puback.topic_id && a->u.puback.msg_id == b->u.puback.msg_id &&
		       a->u.puback.return_code == b->u.puback.return_code;
	case MQTTSN_PUBREC:
	case MQTTSN_PUBREL:
	case MQTTSN_PUBCOMP:
	case MQTTSN_UNSUBACK: return a->u.pubx.msg_id == b->u.pubx.msg_id;
	case MQTTSN_SUBSCRIBE:
	case MQTTSN_UNSUBSCRIBE:
		return a->u.subscribe.flags == b->u.subscribe.flags && a->u.subscribe.msg_id == b->u.subscribe.msg_id &&
		       a->u.subscribe.topic_id == b->u.subscribe.topic_id &&
		       bytes_eq(a->u.subscribe.topic_name, a->u.subscribe.topic_name_len, b->u.subscribe.topic_name,
				b->u.subscribe.topic_name_len);
	case MQTTSN_SUBACK:
		return a->u.suback.flags == b->u.suback.flags && a->u.suback.topic_id == b->u.suback.topic_id &&
		       a->u.suback.msg_id == b->u.suback.msg_id && a->u.suback.return_code == b->u.suback.return_code;
	case MQTTSN_PINGREQ:
		return bytes_eq(a->u.pingreq.client_id, a->u.pingreq.client_id_len, b->u.pingreq.client_id,
				b->u.pingreq.client_id_len);
	case MQTTSN_DISCONNECT:
		return a->u.disconnect.has_duration == b->u.disconnect.has_duration &&
		       a->u.disconnect.duration == b->u.disconnect.duration;
	case MQTTSN_ENCAPSULATED:
		return a->u.encap.ctrl == b->u.encap.ctrl &&
		       bytes_eq(a->u.encap.node_id, a->u.encap.node_id_len, b->u.encap.node_id,
				b->u.encap.node_id_len) &&
		       bytes_eq(a->u.encap.inner, a->u.encap.inner_len, b->u.encap.inner, b->u.encap.inner_len);
	default: return 1; /* header-only types */
	}
}

static int known_status(int rc)
{
	return rc == MQTTSN_E_SHORT || rc == MQTTSN_E_LENGTH || rc == MQTTSN_E_TYPE || rc == MQTTSN_E_BODY ||
	       rc == MQTTSN_E_FIELD;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mqttsn_msg m, m2;
	int rc = mqttsn_decode(data, size, &m);
	int n;

	/* The header contract: the type octet is reported whenever it could be read. */
	if (size >= 2 && data[0] != 0x01)
		check(m.type == data[1]);
	if (size >= 4 && data[0] == 0x01)
		check(m.type == data[3]);
	check(mqttsn_type_name(m.type) != NULL && mqttsn_status_str(rc) != NULL);
	if (rc != MQTTSN_OK) {
		check(known_status(rc));
		return 0;
	}
	check(m.hdr_len == 2 || m.hdr_len == 4);
	check(m.length >= m.hdr_len && m.length <= size);
	check(m.type == MQTTSN_ENCAPSULATED || m.length == size);

	n = mqttsn_encode(&m, out1, sizeof(out1));
	check(n > 0);
	/* Every byte of a valid message lands in some field, so the encoder reproduces the input
	 * exactly unless the input spent 3 octets on a length that fits in 1. */
	if (m.hdr_len == 2 || m.length - 2u > 255u)
		check((size_t)n == size && memcmp(out1, data, size) == 0);
	else
		check((size_t)n == size - 2);

	check(mqttsn_decode(out1, (size_t)n, &m2) == MQTTSN_OK);
	check(msg_eq(&m, &m2));
	check(mqttsn_encode(&m2, out2, sizeof(out2)) == n && memcmp(out1, out2, (size_t)n) == 0);
	check(mqttsn_encode(&m, out3, (size_t)n - 1) == MQTTSN_E_NOSPACE);

	if (m.type == MQTTSN_PUBLISH) {
		int h = mqttsn_encode_publish_hdr(out3, sizeof(out3), m.u.publish.flags, m.u.publish.topic_id,
						  m.u.publish.msg_id, m.u.publish.data_len);

		check(h == 7 || h == 9);
		check(h + m.u.publish.data_len == n && memcmp(out3, out1, (size_t)h) == 0);
	}
	if (m.type == MQTTSN_ENCAPSULATED) /* the gateway decodes the inner message next */
		(void)mqttsn_decode(m.u.encap.inner, m.u.encap.inner_len, &m2);
	return 0;
}
