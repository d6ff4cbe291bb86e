/* MQTT topic names and filters (MQTT 3.1.1 section 4.7, which MQTT-SN reuses): the broker
 * engine validates what clients send with these and matches each PUBLISH against the
 * subscription filters. Byte strings with explicit lengths; no allocation, no DPDK. */
#include "topic_match.h"

#include <string.h>

/* Well-formed UTF-8 (RFC 3629, as MQTT 3.1.1 1.5.3 and MQTT-SN 5.3.12 ask): no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF. Only called when a byte >= 0x80 is present. */
static bool utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t n;
		uint8_t lo = 0x80, hi = 0xBF; /* the second byte's range */
		if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			if (c == 0xE0)
				lo = 0xA0; /* overlong */
			else if (c == 0xED)
				hi = 0x9F; /* surrogates */
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			if (c == 0xF0)
				lo = 0x90; /* overlong */
			else if (c == 0xF4)
				hi = 0x8F; /* above U+10FFFF */
		} else {
			return false; /* a continuation byte, C0/C1 (overlong) or F5..FF */
		}
		if (len - i <= n || s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= n; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
		i += n + 1;
	}
	return true;
}

bool topic_name_valid(const uint8_t *name, size_t len, size_t max_len)
{
	if (name == NULL || len == 0 || len > max_len)
		return false;
	uint8_t high = 0;
	for (size_t i = 0; i < len; i++) {
		/* Wildcards are for filters only (4.7.1.1); NUL is banned in all MQTT strings (1.5.3). */
		if (name[i] == '\0' || name[i] == '+' || name[i] == '#')
			return false;
		high |= name[i];
	}
	return !(high & 0x80) || utf8_valid(name, len);
}

bool topic_filter_valid(const uint8_t *filter, size_t len, size_t max_len)
{
	if (filter == NULL || len == 0 || len > max_len)
		return false;
	uint8_t high = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = filter[i];
		bool level_start = (i == 0 || filter[i - 1] == '/');
		bool level_end = (i + 1 == len || filter[i + 1] == '/');

		if (c == '\0')
			return false;
		/* '+' must be a whole level: "sport+" and "a/+b" are errors (4.7.1.3). */
		if (c == '+' && !(level_start && level_end))
			return false;
		/* '#' must be a whole level and the last: "sport/tennis#" and "a/#/b" are errors (4.7.1.2). */
		if (c == '#' && !(level_start && i + 1 == len))
			return false;
		high |= c;
	}
	return !(high & 0x80) || utf8_valid(filter, len);
}

bool topic_filter_is_wildcard(const uint8_t *filter, size_t len)
{
	if (filter == NULL || len == 0)
		return false;
	return memchr(filter, '+', len) != NULL || memchr(filter, '#', len) != NULL;
}

/* Index of the next '/' at or after i, or len when the level runs to the end. */
static size_t level_end(const uint8_t *s, size_t len, size_t i)
{
	const uint8_t *slash = (i < len) ? memchr(s + i, '/', len - i) : NULL;

	return slash != NULL ? (size_t)(slash - s) : len;
}

/* Walks both strings one level at a time. Every index is bounds-checked, so invalid
 * input (which the caller should have rejected) gives an unspecified answer but never
 * reads outside the buffers; the fuzzer relies on that. */
bool topic_match(const uint8_t *filter, size_t flen, const uint8_t *topic, size_t tlen)
{
	size_t fi = 0, ti = 0;

	if (filter == NULL || topic == NULL || flen == 0)
		return false;
	/* '$' topics are server-specific; a leading wildcard must not reach them (4.7.2). */
	if (tlen > 0 && topic[0] == '$' && (filter[0] == '+' || filter[0] == '#'))
		return false;

	for (;;) {
		size_t fe = level_end(filter, flen, fi);
		size_t te = level_end(topic, tlen, ti);

		/* fi..fe is the filter level, ti..te the topic level (either may be empty). */
		if (fe - fi == 1 && filter[fi] == '#')
			return true; /* matches this level and everything below it */
		if (!(fe - fi == 1 && filter[fi] == '+')) {
			if (fe - fi != te - ti || memcmp(filter + fi, topic + ti, fe - fi) != 0)
				return false;
		}
		fi = fe;
		ti = te;

		if (fi == flen && ti == tlen)
			return true;
		if (fi == flen)
			return false; /* topic has more levels than the filter */
		if (ti == tlen) {
			/* The filter has more levels; only a trailing "/#" may match "nothing more",
			 * which is why "sport/#" matches "sport" (4.7.1.2). */
			return flen - fi == 2 && filter[fi + 1] == '#';
		}
		fi++; /* both sit on '/' */
		ti++;
	}
}

/* Level by level: '#' in outer covers the rest; '+' in outer covers one level that is not '#';
 * a literal covers only the same literal. As in topic_match, "a/#" also covers "a", and a
 * leading wildcard does not reach '$' topics (so a '$' literal is not covered by one). */
bool topic_filter_covers(const uint8_t *outer, size_t olen, const uint8_t *inner, size_t ilen)
{
	size_t oi = 0, ii = 0;

	if (outer == NULL || inner == NULL || olen == 0 || ilen == 0)
		return false;
	if (inner[0] == '$' && (outer[0] == '+' || outer[0] == '#'))
		return false;
	for (;;) {
		size_t oe = level_end(outer, olen, oi);
		size_t ie = level_end(inner, ilen, ii);
		bool o_hash = oe - oi == 1 && outer[oi] == '#', o_plus = oe - oi == 1 && outer[oi] == '+';
		bool i_hash = ie - ii == 1 && inner[ii] == '#', i_plus = ie - ii == 1 && inner[ii] == '+';

		if (o_hash)
			return true;
		if (i_hash) /* one or more levels at the root ("+/#" matches those too), else zero or more */
			return ii == 0 && o_plus && olen - oe == 2 && outer[oe + 1] == '#';
		if (i_plus && !o_plus)
			return false;
		if (!o_plus && (oe - oi != ie - ii || memcmp(outer + oi, inner + ii, oe - oi) != 0))
			return false;
		oi = oe;
		ii = ie;
		if (oi == olen && ii == ilen)
			return true;
		if (oi == olen)
			return false; /* inner has more levels */
		if (ii == ilen)
			return olen - oi == 2 && outer[oi + 1] == '#'; /* "a/#" covers "a" */
		oi++;
		ii++;
	}
}
