/* Client admission at CONNECT: the first rule naming the ClientId decides from where it may
 * connect; a ClientId no rule names is admitted, or refused when the rules are an allow-list
 * (security.admission_unlisted: reject). A linear scan: rules are few (at most 1024) and only a
 * CONNECT reads them. */
#include <string.h>

#include "admission.h"

static bool names(const struct broker_admission *a, const uint8_t *cid, uint16_t clen)
{
	if (a->prefix)
		return clen >= a->client_id_len && memcmp(cid, a->client_id, a->client_id_len) == 0;
	return clen == a->client_id_len && memcmp(cid, a->client_id, clen) == 0;
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

bool broker_net6_has(const struct broker_net6 *n, const uint8_t ip6[16])
{
	return (be64(ip6) & n->mask[0]) == n->net[0] && (be64(ip6 + 8) & n->mask[1]) == n->net[1];
}

enum broker_admit broker_admit(const struct broker_config *cfg, const uint8_t *cid, uint16_t clen, uint32_t ip,
			       const uint8_t *ip6, const struct broker_admission **rule)
{
	*rule = NULL;
	for (uint32_t i = 0; i < cfg->n_admission; i++) {
		const struct broker_admission *a = &cfg->admission[i];
		if (!names(a, cid, clen))
			continue;
		*rule = a;
		if (ip6) {
			for (uint32_t k = 0; k < a->n_nets6; k++)
				if (broker_net6_has(&a->nets6[k], ip6))
					return BROKER_ADMIT_OK;
			return BROKER_ADMIT_SOURCE;
		}
		for (uint32_t k = 0; k < a->n_nets; k++)
			if ((ip & a->masks[k]) == a->nets[k])
				return BROKER_ADMIT_OK;
		return BROKER_ADMIT_SOURCE;
	}
	return cfg->admission_reject_unlisted ? BROKER_ADMIT_UNLISTED : BROKER_ADMIT_OK;
}
