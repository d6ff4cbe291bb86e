/* MQTT-SN v1.2 wire codec (spec section 5). The worker stage decodes every datagram here
 * before the broker engine sees it, and replies/deliveries are encoded here, so decode is
 * strict: anything it accepts, encode reproduces byte for byte (up to the length form). */
#include "mqttsn_codec.h"

#include <string.h>

/* Header sizes: 1-octet length + type, or 0x01 + 2-octet length + type (spec 5.2.1). */
#define HDR_SHORT 2u
#define HDR_LONG 4u
#define LEN_ESCAPE 0x01u
#define SHORT_FORM_MAX 255u

/* ENCAPSULATED (spec 5.5): the length field covers only length, type, ctrl and the wireless
 * node id; the encapsulated MQTT-SN message follows, framed by its own length field. */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static uint8_t *wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint8_t *wrbytes(uint8_t *p, const uint8_t *s, size_t n)
{
	if (n)
		memmove(p, s, n); /* memmove: callers may re-encode a message decoded in place */
	return p + n;
}

/* Topic type 0x03 is reserved (spec 5.3.4); nobody may send it. */
static int topic_type_ok(uint8_t flags)
{
	return (flags & MQTTSN_FLAG_TOPIC_MASK) != 0x03;
}

/* ---------------------------------------------------------------- decode */

/* Decode a body b[0..n) of message type t into out->u. */
static int decode_body(uint8_t t, const uint8_t *b, size_t n, struct mqttsn_msg *out)
{
	switch (t) {
	case MQTTSN_ADVERTISE:
		if (n != 3)
			return MQTTSN_E_BODY;
		out->u.advertise.gw_id = b[0];
		out->u.advertise.duration = rd16(b + 1);
		return MQTTSN_OK;
	case MQTTSN_SEARCHGW:
		if (n != 1)
			return MQTTSN_E_BODY;
		out->u.searchgw.radius = b[0];
		return MQTTSN_OK;
	case MQTTSN_GWINFO: /* GwAdd is present only when a client answers for a gateway */
		if (n < 1)
			return MQTTSN_E_BODY;
		out->u.gwinfo.gw_id = b[0];
		out->u.gwinfo.gw_add = b + 1;
		out->u.gwinfo.gw_add_len = (uint16_t)(n - 1);
		return MQTTSN_OK;
	case MQTTSN_CONNECT:
		if (n < 4)
			return MQTTSN_E_BODY;
		out->u.connect.flags = b[0];
		out->u.connect.protocol_id = b[1];
		out->u.connect.duration = rd16(b + 2);
		out->u.connect.client_id = b + 4;
		out->u.connect.client_id_len = (uint16_t)(n - 4);
		/* A ClientId over 23 bytes (5.3.1) is decoded all the same: the gateway answers it
		 * with CONNACK "not supported" rather than leaving the client waiting. */
		if (b[1] != MQTTSN_PROTOCOL_ID || n - 4 < 1)
			return MQTTSN_E_FIELD;
		return MQTTSN_OK;
	case MQTTSN_CONNACK:
	case MQTTSN_WILLTOPICRESP:
	case MQTTSN_WILLMSGRESP:
		if (n != 1)
			return MQTTSN_E_BODY;
		out->u.connack.return_code = b[0];
		return MQTTSN_OK;
	case MQTTSN_WILLTOPICREQ:
	case MQTTSN_WILLMSGREQ:
	case MQTTSN_PINGRESP: return n == 0 ? MQTTSN_OK : MQTTSN_E_BODY;
	case MQTTSN_WILLTOPIC:
	case MQTTSN_WILLTOPICUPD:
		/* Empty form (no flags, no topic) deletes the will (spec 5.4.7, 5.4.22); a flags
		 * octet without a topic has no meaning. */
		out->u.willtopic.topic = b;
		if (n == 0)
			return MQTTSN_OK;
		out->u.willtopic.flags = b[0];
		out->u.willtopic.topic = b + 1;
		out->u.willtopic.topic_len = (uint16_t)(n - 1);
		return n == 1 ? MQTTSN_E_FIELD : MQTTSN_OK;
	case MQTTSN_WILLMSG:
	case MQTTSN_WILLMSGUPD:
		out->u.willmsg.msg = b;
		out->u.willmsg.msg_len = (uint16_t)n;
		return MQTTSN_OK;
	case MQTTSN_REGISTER:
		if (n < 4)
			return MQTTSN_E_BODY;
		out->u.reg.topic_id = rd16(b);
		out->u.reg.msg_id = rd16(b + 2);
		out->u.reg.topic_name = b + 4;
		out->u.reg.topic_name_len = (uint16_t)(n - 4);
		return n == 4 ? MQTTSN_E_FIELD : MQTTSN_OK;
	case MQTTSN_REGACK:
		if (n != 5)
			return MQTTSN_E_BODY;
		out->u.regack.topic_id = rd16(b);
		out->u.regack.msg_id = rd16(b + 2);
		out->u.regack.return_code = b[4];
		return MQTTSN_OK;
	case MQTTSN_PUBLISH:
		if (n < 5)
			return MQTTSN_E_BODY;
		out->u.publish.flags = b[0];
		out->u.publish.topic_id = rd16(b + 1); /* SHORT: c0 << 8 | c1, same bytes */
		out->u.publish.msg_id = rd16(b + 3);
		out->u.publish.data = b + 5;
		out->u.publish.data_len = (uint16_t)(n - 5);
		return topic_type_ok(b[0]) ? MQTTSN_OK : MQTTSN_E_FIELD;
	case MQTTSN_PUBACK:
		if (n != 5)
			return MQTTSN_E_BODY;
		out->u.puback.topic_id = rd16(b);
		out->u.puback.msg_id = rd16(b + 2);
		out->u.puback.return_code = b[4];
		return MQTTSN_OK;
	case MQTTSN_PUBREC:
	case MQTTSN_PUBREL:
	case MQTTSN_PUBCOMP:
	case MQTTSN_UNSUBACK:
		if (n != 2)
			return MQTTSN_E_BODY;
		out->u.pubx.msg_id = rd16(b);
		return MQTTSN_OK;
	case MQTTSN_SUBSCRIBE:
	case MQTTSN_UNSUBSCRIBE:
		if (n < 3)
			return MQTTSN_E_BODY;
		out->u.subscribe.flags = b[0];
		out->u.subscribe.msg_id = rd16(b + 1);
		if (!topic_type_ok(b[0]))
			return MQTTSN_E_FIELD;
		if ((b[0] & MQTTSN_FLAG_TOPIC_MASK) == MQTTSN_TOPIC_NORMAL) {
			out->u.subscribe.topic_name = b + 3;
			out->u.subscribe.topic_name_len = (uint16_t)(n - 3);
			return n == 3 ? MQTTSN_E_FIELD : MQTTSN_OK;
		}
		if (n != 5)
			return MQTTSN_E_BODY;
		out->u.subscribe.topic_id = rd16(b + 3);
		return MQTTSN_OK;
	case MQTTSN_SUBACK:
		if (n != 6)
			return MQTTSN_E_BODY;
		out->u.suback.flags = b[0];
		out->u.suback.topic_id = rd16(b + 1);
		out->u.suback.msg_id = rd16(b + 3);
		out->u.suback.return_code = b[5];
		return MQTTSN_OK;
	case MQTTSN_PINGREQ: /* client id only from a sleeping client (spec 5.4.19) */
		out->u.pingreq.client_id = b;
		out->u.pingreq.client_id_len = (uint16_t)n;
		return n > MQTTSN_CLIENT_ID_MAX ? MQTTSN_E_FIELD : MQTTSN_OK;
	case MQTTSN_DISCONNECT: /* duration only from a client going to sleep (spec 5.4.21) */
		if (n != 0 && n != 2)
			return MQTTSN_E_BODY;
		out->u.disconnect.has_duration = n == 2;
		out->u.disconnect.duration = n == 2 ? rd16(b) : 0;
		return MQTTSN_OK;
	default: return MQTTSN_E_TYPE;
	}
}

/* Read the length field: sets *hdr and *length, or fails when the header is cut short. */
static int read_len(const uint8_t *buf, size_t len, uint8_t *hdr, uint16_t *length)
{
	if (len < HDR_SHORT)
		return MQTTSN_E_SHORT;
	if (buf[0] != LEN_ESCAPE) {
		*hdr = HDR_SHORT;
		*length = buf[0];
		return MQTTSN_OK;
	}
	if (len < HDR_LONG)
		return MQTTSN_E_SHORT;
	*hdr = HDR_LONG;
	*length = rd16(buf + 1);
	return MQTTSN_OK;
}

/* The length field of a message that must fill buf[0..len) exactly. */
static int check_frame(size_t length, uint8_t hdr, size_t len)
{
	if (length < hdr)
		return MQTTSN_E_LENGTH;
	if (length > len)
		return MQTTSN_E_SHORT;
	return length < len ? MQTTSN_E_LENGTH : MQTTSN_OK;
}

/* The encapsulated message must be framed by its own length field; its body is the
 * caller's to decode (one more mqttsn_decode on inner). An encapsulation inside is framed
 * only up to its node id, like the outer one: it decodes, and the caller decides (a gateway
 * refuses it). */
static int check_inner(const uint8_t *inner, size_t len)
{
	uint8_t hdr;
	uint16_t length;
	int rc = read_len(inner, len, &hdr, &length);

	if (rc != MQTTSN_OK)
		return rc;
	if (inner[hdr - 1] == MQTTSN_ENCAPSULATED)
		return length <= hdr ? MQTTSN_E_BODY : length > len ? MQTTSN_E_SHORT : MQTTSN_OK;
	return check_frame(length, hdr, len);
}

/* ENCAPSULATED: here the length field ends at the node id, not at the end of the datagram. */
static int decode_encap(const uint8_t *buf, size_t len, struct mqttsn_msg *out)
{
	size_t hlen = out->length;

	if (hlen < out->hdr_len)
		return MQTTSN_E_LENGTH;
	if (hlen > len)
		return MQTTSN_E_SHORT;
	if (hlen == out->hdr_len)
		return MQTTSN_E_BODY; /* no ctrl octet */
	if (len - hlen > MQTTSN_MAX_MSG_LEN)
		return MQTTSN_E_LENGTH;
	out->u.encap.ctrl = buf[out->hdr_len];
	out->u.encap.node_id = buf + out->hdr_len + 1;
	out->u.encap.node_id_len = (uint16_t)(hlen - out->hdr_len - 1);
	out->u.encap.inner = buf + hlen;
	out->u.encap.inner_len = (uint16_t)(len - hlen);
	return check_inner(buf + hlen, len - hlen);
}

int mqttsn_decode(const uint8_t *buf, size_t len, struct mqttsn_msg *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (buf == NULL)
		return MQTTSN_E_SHORT;
	rc = read_len(buf, len, &out->hdr_len, &out->length);
	if (rc != MQTTSN_OK)
		return rc;
	out->type = buf[out->hdr_len - 1];
	if (out->type == MQTTSN_ENCAPSULATED)
		return decode_encap(buf, len, out);
	rc = check_frame(out->length, out->hdr_len, len);
	if (rc != MQTTSN_OK)
		return rc;
	return decode_body(out->type, buf + out->hdr_len, len - out->hdr_len, out);
}

/* ---------------------------------------------------------------- encode */

/* A byte string the encoder copies: a NULL pointer is allowed only with length 0. */
static int str_ok(const uint8_t *p, size_t n)
{
	return n == 0 || p != NULL;
}

/* Body size of m, or a negative status if a field could never decode. */
static long body_size(const struct mqttsn_msg *m)
{
	switch (m->type) {
	case MQTTSN_ADVERTISE: return 3;
	case MQTTSN_SEARCHGW: return 1;
	case MQTTSN_GWINFO:
		return str_ok(m->u.gwinfo.gw_add, m->u.gwinfo.gw_add_len) ? 1L + m->u.gwinfo.gw_add_len
									  : MQTTSN_E_FIELD;
	case MQTTSN_CONNECT:
		/* A ClientId over 23 bytes is the gateway's to refuse (decode takes it too). */
		if (m->u.connect.protocol_id != MQTTSN_PROTOCOL_ID || m->u.connect.client_id_len < 1 ||
		    m->u.connect.client_id == NULL)
			return MQTTSN_E_FIELD;
		return 4L + m->u.connect.client_id_len;
	case MQTTSN_CONNACK:
	case MQTTSN_WILLTOPICRESP:
	case MQTTSN_WILLMSGRESP: return 1;
	case MQTTSN_WILLTOPICREQ:
	case MQTTSN_WILLMSGREQ:
	case MQTTSN_PINGRESP: return 0;
	case MQTTSN_WILLTOPIC:
	case MQTTSN_WILLTOPICUPD:
		/* topic_len 0 selects the empty form, which has no flags octet to carry flags in */
		if (m->u.willtopic.topic_len == 0)
			return m->u.willtopic.flags == 0 ? 0 : MQTTSN_E_FIELD;
		return m->u.willtopic.topic ? 1L + m->u.willtopic.topic_len : MQTTSN_E_FIELD;
	case MQTTSN_WILLMSG:
	case MQTTSN_WILLMSGUPD:
		return str_ok(m->u.willmsg.msg, m->u.willmsg.msg_len) ? (long)m->u.willmsg.msg_len : MQTTSN_E_FIELD;
	case MQTTSN_REGISTER:
		if (m->u.reg.topic_name_len == 0 || m->u.reg.topic_name == NULL)
			return MQTTSN_E_FIELD;
		return 4L + m->u.reg.topic_name_len;
	case MQTTSN_REGACK: return 5;
	case MQTTSN_PUBLISH:
		if (!topic_type_ok(m->u.publish.flags) || !str_ok(m->u.publish.data, m->u.publish.data_len))
			return MQTTSN_E_FIELD;
		return 5L + m->u.publish.data_len;
	case MQTTSN_PUBACK: return 5;
	case MQTTSN_PUBREC:
	case MQTTSN_PUBREL:
	case MQTTSN_PUBCOMP:
	case MQTTSN_UNSUBACK: return 2;
	case MQTTSN_SUBSCRIBE:
	case MQTTSN_UNSUBSCRIBE:
		if (!topic_type_ok(m->u.subscribe.flags))
			return MQTTSN_E_FIELD;
		if ((m->u.subscribe.flags & MQTTSN_FLAG_TOPIC_MASK) != MQTTSN_TOPIC_NORMAL)
			return 5;
		if (m->u.subscribe.topic_name_len == 0 || m->u.subscribe.topic_name == NULL)
			return MQTTSN_E_FIELD;
		return 3L + m->u.subscribe.topic_name_len;
	case MQTTSN_SUBACK: return 6;
	case MQTTSN_PINGREQ:
		if (m->u.pingreq.client_id_len > MQTTSN_CLIENT_ID_MAX ||
		    !str_ok(m->u.pingreq.client_id, m->u.pingreq.client_id_len))
			return MQTTSN_E_FIELD;
		return m->u.pingreq.client_id_len;
	case MQTTSN_DISCONNECT: return m->u.disconnect.has_duration ? 2 : 0;
	default: return MQTTSN_E_TYPE;
	}
}

/* Write the length field and type for a body of `body` bytes; returns where the body
 * goes. The caller has checked that the whole message fits. */
static uint8_t *write_hdr(uint8_t *p, uint8_t type, size_t body)
{
	if (body + HDR_SHORT <= SHORT_FORM_MAX) {
		*p++ = (uint8_t)(body + HDR_SHORT);
	} else {
		*p++ = LEN_ESCAPE;
		p = wr16(p, (uint16_t)(body + HDR_LONG));
	}
	*p++ = type;
	return p;
}

static size_t hdr_size(size_t body)
{
	return body + HDR_SHORT <= SHORT_FORM_MAX ? HDR_SHORT : HDR_LONG;
}

static int encode_encap(const struct mqttsn_msg *m, uint8_t *buf, size_t cap)
{
	size_t body = 1u + m->u.encap.node_id_len; /* ctrl + node id */
	size_t hdr = hdr_size(body);
	size_t total = hdr + body + m->u.encap.inner_len;
	uint8_t *p;

	if (m->u.encap.inner == NULL || check_inner(m->u.encap.inner, m->u.encap.inner_len) != MQTTSN_OK ||
	    !str_ok(m->u.encap.node_id, m->u.encap.node_id_len) || hdr + body > MQTTSN_MAX_MSG_LEN)
		return MQTTSN_E_FIELD;
	if (buf == NULL || cap < total)
		return MQTTSN_E_NOSPACE;
	p = write_hdr(buf, MQTTSN_ENCAPSULATED, body);
	*p++ = m->u.encap.ctrl;
	p = wrbytes(p, m->u.encap.node_id, m->u.encap.node_id_len);
	wrbytes(p, m->u.encap.inner, m->u.encap.inner_len);
	return (int)total;
}

int mqttsn_encode(const struct mqttsn_msg *m, uint8_t *buf, size_t cap)
{
	long body;
	size_t total;
	uint8_t *p;

	if (m == NULL)
		return MQTTSN_E_FIELD;
	if (m->type == MQTTSN_ENCAPSULATED)
		return encode_encap(m, buf, cap);
	body = body_size(m);
	if (body < 0)
		return (int)body;
	total = hdr_size((size_t)body) + (size_t)body;
	if (total > MQTTSN_MAX_MSG_LEN)
		return MQTTSN_E_FIELD;
	if (buf == NULL || cap < total)
		return MQTTSN_E_NOSPACE;

	p = write_hdr(buf, m->type, (size_t)body);
	switch (m->type) {
	case MQTTSN_ADVERTISE:
		*p++ = m->u.advertise.gw_id;
		wr16(p, m->u.advertise.duration);
		break;
	case MQTTSN_SEARCHGW: *p = m->u.searchgw.radius; break;
	case MQTTSN_GWINFO:
		*p++ = m->u.gwinfo.gw_id;
		wrbytes(p, m->u.gwinfo.gw_add, m->u.gwinfo.gw_add_len);
		break;
	case MQTTSN_CONNECT:
		*p++ = m->u.connect.flags;
		*p++ = m->u.connect.protocol_id;
		p = wr16(p, m->u.connect.duration);
		wrbytes(p, m->u.connect.client_id, m->u.connect.client_id_len);
		break;
	case MQTTSN_CONNACK:
	case MQTTSN_WILLTOPICRESP:
	case MQTTSN_WILLMSGRESP: *p = m->u.connack.return_code; break;
	case MQTTSN_WILLTOPIC:
	case MQTTSN_WILLTOPICUPD:
		if (body == 0)
			break;
		*p++ = m->u.willtopic.flags;
		wrbytes(p, m->u.willtopic.topic, m->u.willtopic.topic_len);
		break;
	case MQTTSN_WILLMSG:
	case MQTTSN_WILLMSGUPD: wrbytes(p, m->u.willmsg.msg, m->u.willmsg.msg_len); break;
	case MQTTSN_REGISTER:
		p = wr16(p, m->u.reg.topic_id);
		p = wr16(p, m->u.reg.msg_id);
		wrbytes(p, m->u.reg.topic_name, m->u.reg.topic_name_len);
		break;
	case MQTTSN_REGACK:
		p = wr16(p, m->u.regack.topic_id);
		p = wr16(p, m->u.regack.msg_id);
		*p = m->u.regack.return_code;
		break;
	case MQTTSN_PUBLISH:
		*p++ = m->u.publish.flags;
		p = wr16(p, m->u.publish.topic_id);
		p = wr16(p, m->u.publish.msg_id);
		wrbytes(p, m->u.publish.data, m->u.publish.data_len);
		break;
	case MQTTSN_PUBACK:
		p = wr16(p, m->u.puback.topic_id);
		p = wr16(p, m->u.puback.msg_id);
		*p = m->u.puback.return_code;
		break;
	case MQTTSN_PUBREC:
	case MQTTSN_PUBREL:
	case MQTTSN_PUBCOMP:
	case MQTTSN_UNSUBACK: wr16(p, m->u.pubx.msg_id); break;
	case MQTTSN_SUBSCRIBE:
	case MQTTSN_UNSUBSCRIBE:
		*p++ = m->u.subscribe.flags;
		p = wr16(p, m->u.subscribe.msg_id);
		if ((m->u.subscribe.flags & MQTTSN_FLAG_TOPIC_MASK) == MQTTSN_TOPIC_NORMAL)
			wrbytes(p, m->u.subscribe.topic_name, m->u.subscribe.topic_name_len);
		else
			wr16(p, m->u.subscribe.topic_id);
		break;
	case MQTTSN_SUBACK:
		*p++ = m->u.suback.flags;
		p = wr16(p, m->u.suback.topic_id);
		p = wr16(p, m->u.suback.msg_id);
		*p = m->u.suback.return_code;
		break;
	case MQTTSN_PINGREQ: wrbytes(p, m->u.pingreq.client_id, m->u.pingreq.client_id_len); break;
	case MQTTSN_DISCONNECT:
		if (m->u.disconnect.has_duration)
			wr16(p, m->u.disconnect.duration);
		break;
	default: /* WILLTOPICREQ, WILLMSGREQ, PINGRESP: header only */ break;
	}
	return (int)total;
}

int mqttsn_encode_encap_hdr(uint8_t *buf, size_t cap, uint8_t ctrl, const uint8_t *node_id, size_t node_len)
{
	size_t body = 1u + node_len; /* ctrl + node id */
	size_t hdr = hdr_size(body);
	uint8_t *p;

	if (node_len == 0 || node_id == NULL || hdr + body > MQTTSN_MAX_MSG_LEN)
		return MQTTSN_E_FIELD;
	if (buf == NULL || cap < hdr + body)
		return MQTTSN_E_NOSPACE;
	p = write_hdr(buf, MQTTSN_ENCAPSULATED, body);
	*p++ = ctrl;
	wrbytes(p, node_id, node_len);
	return (int)(hdr + body);
}

int mqttsn_encode_publish_hdr(uint8_t *buf, size_t cap, uint8_t flags, uint16_t topic_id, uint16_t msg_id,
			      size_t payload_len)
{
	const size_t fixed = 5; /* flags, topic id, msg id */
	size_t hdr, total;
	uint8_t *p;

	if (!topic_type_ok(flags) || payload_len > MQTTSN_MAX_MSG_LEN)
		return MQTTSN_E_FIELD;
	hdr = hdr_size(fixed + payload_len);
	total = hdr + fixed + payload_len;
	if (total > MQTTSN_MAX_MSG_LEN)
		return MQTTSN_E_FIELD;
	if (buf == NULL || cap < hdr + fixed)
		return MQTTSN_E_NOSPACE;
	p = write_hdr(buf, MQTTSN_PUBLISH, fixed + payload_len);
	*p++ = flags;
	p = wr16(p, topic_id);
	wr16(p, msg_id);
	return (int)(hdr + fixed);
}

/* ---------------------------------------------------------------- names */

const char *mqttsn_type_name(uint8_t type)
{
	switch (type) {
	case MQTTSN_ADVERTISE: return "ADVERTISE";
	case MQTTSN_SEARCHGW: return "SEARCHGW";
	case MQTTSN_GWINFO: return "GWINFO";
	case MQTTSN_CONNECT: return "CONNECT";
	case MQTTSN_CONNACK: return "CONNACK";
	case MQTTSN_WILLTOPICREQ: return "WILLTOPICREQ";
	case MQTTSN_WILLTOPIC: return "WILLTOPIC";
	case MQTTSN_WILLMSGREQ: return "WILLMSGREQ";
	case MQTTSN_WILLMSG: return "WILLMSG";
	case MQTTSN_REGISTER: return "REGISTER";
	case MQTTSN_REGACK: return "REGACK";
	case MQTTSN_PUBLISH: return "PUBLISH";
	case MQTTSN_PUBACK: return "PUBACK";
	case MQTTSN_PUBCOMP: return "PUBCOMP";
	case MQTTSN_PUBREC: return "PUBREC";
	case MQTTSN_PUBREL: return "PUBREL";
	case MQTTSN_SUBSCRIBE: return "SUBSCRIBE";
	case MQTTSN_SUBACK: return "SUBACK";
	case MQTTSN_UNSUBSCRIBE: return "UNSUBSCRIBE";
	case MQTTSN_UNSUBACK: return "UNSUBACK";
	case MQTTSN_PINGREQ: return "PINGREQ";
	case MQTTSN_PINGRESP: return "PINGRESP";
	case MQTTSN_DISCONNECT: return "DISCONNECT";
	case MQTTSN_WILLTOPICUPD: return "WILLTOPICUPD";
	case MQTTSN_WILLTOPICRESP: return "WILLTOPICRESP";
	case MQTTSN_WILLMSGUPD: return "WILLMSGUPD";
	case MQTTSN_WILLMSGRESP: return "WILLMSGRESP";
	case MQTTSN_ENCAPSULATED: return "ENCAPSULATED";
	default: return "UNKNOWN";
	}
}

const char *mqttsn_status_str(int status)
{
	switch (status) {
	case MQTTSN_OK: return "ok";
	case MQTTSN_E_SHORT: return "datagram shorter than its header or length field";
	case MQTTSN_E_LENGTH: return "length field disagrees with the datagram";
	case MQTTSN_E_TYPE: return "unknown message type";
	case MQTTSN_E_BODY: return "body size wrong for the message type";
	case MQTTSN_E_FIELD: return "invalid field value";
	case MQTTSN_E_NOSPACE: return "destination buffer too small";
	default: return status > 0 ? "ok (bytes written)" : "unknown status";
	}
}
