/* libFuzzer target for dataplane/mqttsn/topic_match.c. The input is split at the first 0xFF byte
 * (or in half) into a filter and a topic; every function runs on both halves, and for valid
 * pairs the answer must agree with a reference matcher that splits into level arrays. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "topic_match.h"

/* Inputs with more levels than this skip the reference comparison (still run for safety). */
#define REF_MAX_LEVELS 8192

struct ref_level {
	const uint8_t *p;
	size_t n;
};

static struct ref_level ref_f[REF_MAX_LEVELS], ref_t[REF_MAX_LEVELS];

/* Returns the level count, or 0 when the string has more than cap levels. */
static size_t ref_split(const uint8_t *s, size_t len, struct ref_level *out, size_t cap)
{
	size_t count = 0, start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '/') {
			if (count == cap)
				return 0;
			out[count].p = s + start;
			out[count].n = i - start;
			count++;
			start = i + 1;
		}
	}
	return count;
}

static int ref_level_is(const struct ref_level *l, uint8_t c)
{
	return l->n == 1 && l->p[0] == c;
}

static int ref_level_has(const struct ref_level *l, uint8_t c)
{
	return l->n > 0 && memchr(l->p, c, l->n) != NULL;
}

/* UTF-8 by decoding each code point: its length from the lead byte's high bits, then its value must
 * need that length (no overlong form), not be a surrogate and not pass U+10FFFF (RFC 3629). */
static int ref_utf8(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned n = s[i] < 0x80 ? 1 : (s[i] >> 5) == 6 ? 2 : (s[i] >> 4) == 14 ? 3 : (s[i] >> 3) == 30 ? 4 : 0;
		if (n == 0 || i + n > len)
			return 0;
		uint32_t cp = n == 1 ? s[i] : (uint32_t)(s[i] & (0x7F >> n));
		for (unsigned k = 1; k < n; k++) {
			if ((s[i + k] >> 6) != 2)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		static const uint32_t least[5] = { 0, 0, 0x80, 0x800, 0x10000 };
		if (cp < least[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
			return 0;
		i += n;
	}
	return 1;
}

static int ref_name_valid(const struct ref_level *lv, size_t n, const uint8_t *s, size_t len)
{
	if (len == 0 || memchr(s, 0, len) != NULL || !ref_utf8(s, len))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (ref_level_has(&lv[i], '+') || ref_level_has(&lv[i], '#'))
			return 0;
	return 1;
}

static int ref_filter_valid(const struct ref_level *lv, size_t n, const uint8_t *s, size_t len)
{
	if (len == 0 || memchr(s, 0, len) != NULL || !ref_utf8(s, len))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (ref_level_has(&lv[i], '+') && !ref_level_is(&lv[i], '+'))
			return 0;
		if (ref_level_has(&lv[i], '#') && !(ref_level_is(&lv[i], '#') && i == n - 1))
			return 0;
	}
	return 1;
}

static int ref_match(const struct ref_level *f, size_t nf, const struct ref_level *t, size_t nt)
{
	if (t[0].n > 0 && t[0].p[0] == '$' && (ref_level_is(&f[0], '+') || ref_level_is(&f[0], '#')))
		return 0;
	for (size_t i = 0;; i++) {
		if (i == nf)
			return i == nt;
		if (ref_level_is(&f[i], '#'))
			return 1;
		if (i == nt)
			return 0;
		if (!ref_level_is(&f[i], '+') && !(f[i].n == t[i].n && memcmp(f[i].p, t[i].p, f[i].n) == 0))
			return 0;
	}
}

static void check_one(const uint8_t *s, size_t len)
{
	bool fv = topic_filter_valid(s, len, SIZE_MAX);
	bool nv = topic_name_valid(s, len, SIZE_MAX);
	bool wc = topic_filter_is_wildcard(s, len);

	/* max_len is an inclusive cap */
	if (len > 0 && (topic_filter_valid(s, len, len) != fv || topic_name_valid(s, len, len) != nv))
		abort();
	if (len > 0 && (topic_filter_valid(s, len, len - 1) || topic_name_valid(s, len, len - 1)))
		abort();
	/* every valid name is a valid filter without wildcards, and matches itself */
	if (nv && (!fv || wc || !topic_match(s, len, s, len)))
		abort();
	/* the wildcard flag is exactly "contains '+' or '#'" */
	if (len > 0 && wc != (memchr(s, '+', len) != NULL || memchr(s, '#', len) != NULL))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sep = size > 0 ? memchr(data, 0xFF, size) : NULL;
	const uint8_t *filter = data, *topic;
	size_t flen, tlen;

	if (sep != NULL) {
		flen = (size_t)(sep - data);
		topic = sep + 1;
		tlen = size - flen - 1;
	} else {
		flen = size / 2;
		topic = data + flen;
		tlen = size - flen;
	}

	check_one(filter, flen);
	check_one(topic, tlen);

	/* always safe to call, whatever the validity; the answer only matters for valid pairs */
	bool m = topic_match(filter, flen, topic, tlen);
	(void)topic_match(topic, tlen, filter, flen);

	bool fv = topic_filter_valid(filter, flen, SIZE_MAX);
	bool tv = topic_name_valid(topic, tlen, SIZE_MAX);
	size_t nf = ref_split(filter, flen, ref_f, REF_MAX_LEVELS);
	size_t nt = ref_split(topic, tlen, ref_t, REF_MAX_LEVELS);

	if (nf > 0 && nt > 0) {
		if (fv != (bool)ref_filter_valid(ref_f, nf, filter, flen))
			abort();
		if (tv != (bool)ref_name_valid(ref_t, nt, topic, tlen))
			abort();
		if (fv && tv && m != (bool)ref_match(ref_f, nf, ref_t, nt))
			abort();
	}
	if (fv && tv) {
		/* a filter without wildcards matches exactly the identical name */
		if (!topic_filter_is_wildcard(filter, flen) && m != (flen == tlen && memcmp(filter, topic, flen) == 0))
			abort();
		/* "#" takes everything except '$' topics */
		if (topic_match((const uint8_t *)"#", 1, topic, tlen) != (topic[0] != '$'))
			abort();
	}
	return 0;
}
