/* Prefix and rate-limit words for the XDP pre-filter's maps (xdp_prefix.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/xdp_prefilter.h"
#include "xdp_prefix.h"

static int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	char *end;

	if (!s || !*s || *s < '0' || *s > '9' || strlen(s) > 10)
		return -1;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int fo_prefix_parse(const char *s, struct fo_prefix *p, char *err, size_t errlen)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);

	memset(p, 0, sizeof(*p));
	if (alen == 0 || alen >= sizeof(addr)) {
		snprintf(err, errlen, "'%.64s' is not an IPv4 or IPv6 address or prefix", s);
		return -1;
	}
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, p->addr) == 1) {
		p->family = 4;
	} else if (inet_pton(AF_INET6, addr, p->addr) == 1) {
		p->family = 6;
	} else {
		snprintf(err, errlen, "'%.64s' is not an IPv4 or IPv6 address or prefix", s);
		return -1;
	}
	uint32_t bits = p->family == 4 ? 32 : 128, len = bits;
	if (slash && parse_u32(slash + 1, bits, &len)) {
		snprintf(err, errlen, "'%.64s': the prefix length must be 0..%u", s, bits);
		return -1;
	}
	p->len = (uint8_t)len;
	struct fo_prefix masked = *p;
	for (uint32_t i = len; i < bits; i++)
		masked.addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
	if (memcmp(masked.addr, p->addr, sizeof(p->addr))) {
		char want[INET6_ADDRSTRLEN + 4];
		fo_prefix_format(&masked, want, sizeof(want));
		snprintf(err, errlen, "'%.64s' has host bits set; the prefix is %s", s, want);
		return -1;
	}
	return 0;
}

void fo_prefix_format(const struct fo_prefix *p, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->addr, a, sizeof(a));
	snprintf(buf, n, "%s/%u", a, p->len);
}

int fo_limit_parse(const char *pps, const char *burst, uint32_t *o_pps, uint32_t *o_burst, char *err, size_t errlen)
{
	uint32_t r, b;

	if (parse_u32(pps, FO_XDP_MAX_PPS, &r)) {
		snprintf(err, errlen, "packets/s '%.32s' must be an integer 0..%u (0: no limit)", pps ? pps : "",
			 FO_XDP_MAX_PPS);
		return -1;
	}
	if (burst) {
		if (parse_u32(burst, FO_XDP_MAX_BURST, &b) || b == 0) {
			snprintf(err, errlen, "burst '%.32s' must be an integer 1..%u (packets)", burst,
				 FO_XDP_MAX_BURST);
			return -1;
		}
	} else {
		b = r < 1 ? 1 : (r > FO_XDP_MAX_BURST ? FO_XDP_MAX_BURST : r);
	}
	*o_pps = r;
	*o_burst = b;
	return 0;
}
