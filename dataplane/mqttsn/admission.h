/* Client admission at CONNECT (security.admission, docs/security.md): which ClientIds may connect
 * from which source prefixes. MQTT-SN's CONNECT carries no credential, so the rules bind names to
 * networks. Pure: the engine asks it with the rules of the client's generation. */
#ifndef FANOUT_ADMISSION_H
#define FANOUT_ADMISSION_H

#include <stdint.h>

#include "mqttsn_broker.h"

enum broker_admit {
	BROKER_ADMIT_OK, /* a rule lists the ClientId and the source, or none lists it and unlisted ones are admitted */
	BROKER_ADMIT_SOURCE,   /* the first rule listing the ClientId does not list the source */
	BROKER_ADMIT_UNLISTED, /* no rule lists the ClientId and admission_reject_unlisted is set */
};

/* The first rule whose ClientId (or prefix) matches cid decides: the source must be inside one of
 * its prefixes of the source's family: an IPv4 client's ip (host order) inside one of nets, an IPv6
 * client's address ip6 (non-NULL for IPv6 clients only) inside one of nets6. *rule gets that rule,
 * NULL when none matches. */
enum broker_admit broker_admit(const struct broker_config *cfg, const uint8_t *cid, uint16_t clen, uint32_t ip,
			       const uint8_t *ip6, const struct broker_admission **rule);

/* ip6 (16 bytes, network order) inside n (a broker_net6). */
bool broker_net6_has(const struct broker_net6 *n, const uint8_t ip6[16]);

#endif
