/* MQTT-SN v1.2 wire codec: bytes <-> struct mqttsn_msg. Pure C, no DPDK, no allocation:
 * decoded byte fields point into the caller's buffer. Used by the worker stage, the
 * broker engine, fanout-loadgen, the unit tests and the fuzzers. */
#ifndef FANOUT_MQTTSN_CODEC_H
#define FANOUT_MQTTSN_CODEC_H

#include <stddef.h>
#include <stdint.h>

enum mqttsn_type {
	MQTTSN_ADVERTISE = 0x00,
	MQTTSN_SEARCHGW = 0x01,
	MQTTSN_GWINFO = 0x02,
	MQTTSN_CONNECT = 0x04,
	MQTTSN_CONNACK = 0x05,
	MQTTSN_WILLTOPICREQ = 0x06,
	MQTTSN_WILLTOPIC = 0x07,
	MQTTSN_WILLMSGREQ = 0x08,
	MQTTSN_WILLMSG = 0x09,
	MQTTSN_REGISTER = 0x0A,
	MQTTSN_REGACK = 0x0B,
	MQTTSN_PUBLISH = 0x0C,
	MQTTSN_PUBACK = 0x0D,
	MQTTSN_PUBCOMP = 0x0E,
	MQTTSN_PUBREC = 0x0F,
	MQTTSN_PUBREL = 0x10,
	MQTTSN_SUBSCRIBE = 0x12,
	MQTTSN_SUBACK = 0x13,
	MQTTSN_UNSUBSCRIBE = 0x14,
	MQTTSN_UNSUBACK = 0x15,
	MQTTSN_PINGREQ = 0x16,
	MQTTSN_PINGRESP = 0x17,
	MQTTSN_DISCONNECT = 0x18,
	MQTTSN_WILLTOPICUPD = 0x1A,
	MQTTSN_WILLTOPICRESP = 0x1B,
	MQTTSN_WILLMSGUPD = 0x1C,
	MQTTSN_WILLMSGRESP = 0x1D,
	MQTTSN_ENCAPSULATED = 0xFE,
};

/* Return codes (spec 5.3.10). */
enum mqttsn_rc {
	MQTTSN_RC_ACCEPTED = 0x00,
	MQTTSN_RC_CONGESTION = 0x01,
	MQTTSN_RC_INVALID_TOPIC_ID = 0x02,
	MQTTSN_RC_NOT_SUPPORTED = 0x03,
};

/* Flags octet (spec 5.3.4). */
#define MQTTSN_FLAG_DUP 0x80
#define MQTTSN_FLAG_QOS_MASK 0x60
#define MQTTSN_FLAG_QOS0 0x00
#define MQTTSN_FLAG_QOS1 0x20
#define MQTTSN_FLAG_QOS2 0x40
#define MQTTSN_FLAG_QOSM1 0x60 /* QoS -1 */
#define MQTTSN_FLAG_RETAIN 0x10
#define MQTTSN_FLAG_WILL 0x08
#define MQTTSN_FLAG_CLEAN 0x04
#define MQTTSN_FLAG_TOPIC_MASK 0x03
#define MQTTSN_TOPIC_NORMAL 0x00     /* topic id (PUBLISH) or topic name (SUBSCRIBE) */
#define MQTTSN_TOPIC_PREDEFINED 0x01 /* predefined topic id */
#define MQTTSN_TOPIC_SHORT 0x02      /* two-character short topic name */

#define MQTTSN_PROTOCOL_ID 0x01
#define MQTTSN_MAX_MSG_LEN 65535u
#define MQTTSN_CLIENT_ID_MAX 23 /* spec 5.3.1: 1-23 characters */

/* Decoded QoS from flags: 0, 1, 2, or -1. */
static inline int mqttsn_flags_qos(uint8_t flags)
{
	switch (flags & MQTTSN_FLAG_QOS_MASK) {
	case MQTTSN_FLAG_QOS0: return 0;
	case MQTTSN_FLAG_QOS1: return 1;
	case MQTTSN_FLAG_QOS2: return 2;
	default: return -1;
	}
}

static inline uint8_t mqttsn_qos_flags(int qos)
{
	return qos == 1   ? MQTTSN_FLAG_QOS1
	       : qos == 2 ? MQTTSN_FLAG_QOS2
	       : qos < 0  ? MQTTSN_FLAG_QOSM1
			  : MQTTSN_FLAG_QOS0;
}

/* Decode status. */
enum mqttsn_status {
	MQTTSN_OK = 0,
	MQTTSN_E_SHORT = -1,   /* fewer bytes than a header, or than the length field says */
	MQTTSN_E_LENGTH = -2,  /* length field disagrees with the datagram, or is < header */
	MQTTSN_E_TYPE = -3,    /* unknown message type */
	MQTTSN_E_BODY = -4,    /* body too short/long for this message type */
	MQTTSN_E_FIELD = -5,   /* a field has an invalid value (protocol id, empty client id, ...) */
	MQTTSN_E_NOSPACE = -6, /* encode: destination buffer too small */
};

/* A decoded message. Byte-string fields point into the decoded buffer; lengths are in bytes.
 * For topic_type SHORT, topic_id holds the two characters big-endian (c0 << 8 | c1). */
struct mqttsn_msg {
	uint8_t type;    /* enum mqttsn_type */
	uint8_t hdr_len; /* 2 (1-octet length + type) or 4 (0x01, 2-octet length, type) */
	uint16_t length; /* total message length from the length field */
	union {
		struct {
			uint8_t gw_id;
			uint16_t duration;
		} advertise;
		struct {
			uint8_t radius;
		} searchgw;
		struct {
			uint8_t gw_id;
			const uint8_t *gw_add;
			uint16_t gw_add_len;
		} gwinfo;
		struct {
			uint8_t flags;
			uint8_t protocol_id;
			uint16_t duration; /* keepalive, seconds */
			const uint8_t *client_id;
			uint16_t client_id_len;
		} connect;
		struct {
			uint8_t return_code;
		} connack; /* also WILLTOPICRESP, WILLMSGRESP */
		struct {
			uint8_t flags;
			const uint8_t *topic;
			uint16_t topic_len;
		} willtopic; /* also WILLTOPICUPD; empty allowed */
		struct {
			const uint8_t *msg;
			uint16_t msg_len;
		} willmsg; /* also WILLMSGUPD */
		struct {
			uint16_t topic_id;
			uint16_t msg_id;
			const uint8_t *topic_name;
			uint16_t topic_name_len;
		} reg;
		struct {
			uint16_t topic_id;
			uint16_t msg_id;
			uint8_t return_code;
		} regack;
		struct {
			uint8_t flags;
			uint16_t topic_id;
			uint16_t msg_id;
			const uint8_t *data;
			uint16_t data_len;
		} publish;
		struct {
			uint16_t topic_id;
			uint16_t msg_id;
			uint8_t return_code;
		} puback;
		struct {
			uint16_t msg_id;
		} pubx; /* PUBREC, PUBREL, PUBCOMP, UNSUBACK */
		struct {
			uint8_t flags;
			uint16_t msg_id;
			uint16_t topic_id;         /* PREDEFINED or SHORT */
			const uint8_t *topic_name; /* NORMAL */
			uint16_t topic_name_len;
		} subscribe; /* also UNSUBSCRIBE */
		struct {
			uint8_t flags;
			uint16_t topic_id;
			uint16_t msg_id;
			uint8_t return_code;
		} suback;
		struct {
			const uint8_t *client_id;
			uint16_t client_id_len;
		} pingreq; /* len 0 if absent */
		struct {
			uint8_t has_duration;
			uint16_t duration;
		} disconnect;
		struct {
			uint8_t ctrl;
			const uint8_t *node_id;
			uint16_t node_id_len;
			const uint8_t *inner; /* encapsulated MQTT-SN message */
			uint16_t inner_len;
		} encap;
	} u;
};

/* Decode exactly one message occupying buf[0..len). The length field must equal len.
 * Returns MQTTSN_OK or a negative enum mqttsn_status; out is unspecified on error
 * except out->type, which holds the type octet whenever the header could be read
 * (so callers can count per type and pick the right error reply). */
int mqttsn_decode(const uint8_t *buf, size_t len, struct mqttsn_msg *out);

/* Encode m into buf (cap bytes). The length field (1 or 3 octets) is chosen and filled in
 * by the encoder; m->hdr_len/m->length are ignored. Returns bytes written (> 0) or a
 * negative enum mqttsn_status (MQTTSN_E_NOSPACE, MQTTSN_E_TYPE, MQTTSN_E_FIELD). */
int mqttsn_encode(const struct mqttsn_msg *m, uint8_t *buf, size_t cap);

/* Zero-copy helper: write only the PUBLISH header (length, type, flags, topic id, msg id)
 * for a payload of payload_len bytes that will follow in another buffer. Returns the header
 * length (7, or 9 when the total exceeds 255) or a negative status. */
int mqttsn_encode_publish_hdr(uint8_t *buf, size_t cap, uint8_t flags, uint16_t topic_id, uint16_t msg_id,
			      size_t payload_len);

/* Zero-copy helper for a forwarder (spec 5.5): write only the encapsulation in front of a
 * message that follows in the same or another buffer: length (one octet while it fits), type
 * 0xFE, ctrl, the Wireless Node Id. Returns the header length (3 + node_len for node ids up to
 * 252 bytes) or a negative status (an empty node id is MQTTSN_E_FIELD). */
int mqttsn_encode_encap_hdr(uint8_t *buf, size_t cap, uint8_t ctrl, const uint8_t *node_id, size_t node_len);

/* Human-readable names for logs and stats ("PUBLISH"); "UNKNOWN" for others. */
const char *mqttsn_type_name(uint8_t type);
const char *mqttsn_status_str(int status);

#endif
