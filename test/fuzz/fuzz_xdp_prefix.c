/* libFuzzer target for the words BLOCK ADD/DEL and LIMIT SET take from the network (RESP and
 * HTTP bodies, through fanout-control): fo_prefix_parse and fo_limit_parse
 * (dataplane/xdp/xdp_prefix.c). Input: byte 0 picks the parser, the rest is the word (LIMIT SET:
 * pps and burst split at the first space). Checks: no crash; an accepted prefix has its family's
 * length bound and no host bits, and its text parses back to the same prefix; an accepted limit
 * is within FO_XDP_MAX_PPS and 1..FO_XDP_MAX_BURST; a refusal says why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/xdp_prefilter.h"
#include "xdp_prefix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > 512)
		return 0;
	char w[513], err[256] = "";
	memcpy(w, data + 1, size - 1);
	w[size - 1] = '\0';
	if (data[0] & 1) {
		char *sp = strchr(w, ' ');
		if (sp)
			*sp++ = '\0';
		uint32_t pps = 0, burst = 0;
		if (fo_limit_parse(w, sp, &pps, &burst, err, sizeof(err)) == 0) {
			if (pps > FO_XDP_MAX_PPS || burst == 0 || burst > FO_XDP_MAX_BURST)
				abort();
		} else if (err[0] == '\0') {
			abort();
		}
		return 0;
	}
	struct fo_prefix p, q;
	if (fo_prefix_parse(w, &p, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	unsigned bits = p.family == 4 ? 32 : 128;
	if ((p.family != 4 && p.family != 6) || p.len > bits)
		abort();
	for (unsigned i = p.len; i < bits; i++)
		if (p.addr[i / 8] & (0x80u >> (i % 8)))
			abort();
	char text[64];
	fo_prefix_format(&p, text, sizeof(text));
	if (fo_prefix_parse(text, &q, err, sizeof(err)) != 0 || memcmp(&p, &q, sizeof(p)))
		abort();
	return 0;
}
