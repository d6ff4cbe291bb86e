/* Operator input for the XDP pre-filter's maps: an IPv4 or IPv6 prefix ("198.18.0.0/15",
 * "2001:db8::/32", a bare address is a host prefix) and a rate limit (packets/s, burst). Pure:
 * fanout-control and fanoutctl check words with it before any map is touched. */
#ifndef FANOUT_XDP_PREFIX_H
#define FANOUT_XDP_PREFIX_H

#include <stddef.h>
#include <stdint.h>

struct fo_prefix {
	uint8_t family;   /* 4 or 6 */
	uint8_t len;      /* 0..32 or 0..128 */
	uint8_t addr[16]; /* network byte order; IPv4 in the first 4 bytes; host bits zero */
};

/* s (NUL-terminated) into *p: 0, or -1 with err naming what is wrong (not an address, length
 * out of range, host bits set: the prefix meant is suggested). */
int fo_prefix_parse(const char *s, struct fo_prefix *p, char *err, size_t errlen);
/* "198.18.0.0/15", "2001:db8::/32" (always with the length). */
void fo_prefix_format(const struct fo_prefix *p, char *buf, size_t n);

/* "pps" and an optional "burst" (NULL: burst = pps, at least 1): 0, or -1 with err. pps 0 turns
 * the limit off; pps and burst are bounded by FO_XDP_MAX_PPS and FO_XDP_MAX_BURST. */
int fo_limit_parse(const char *pps, const char *burst, uint32_t *o_pps, uint32_t *o_burst, char *err, size_t errlen);

#endif
