/* A log-linear histogram of TSC cycle counts: exact below 16, then 8 sub-buckets per power of
 * two (at most 12.5 % wide), up to 2^41 cycles. Lcores add with plain increments into their own
 * copy; readers sum copies and ask for percentiles. Pure C, header only. */
#ifndef FANOUT_LATENCY_HIST_H
#define FANOUT_LATENCY_HIST_H

#include <stdint.h>

#define FO_LAT_BUCKETS 320

static inline uint32_t fo_lat_bucket(uint64_t c)
{
	if (c < 16)
		return (uint32_t)c;
	uint32_t msb = 63u - (uint32_t)__builtin_clzll(c);
	uint32_t idx = (msb - 2) * 8 + (uint32_t)((c >> (msb - 3)) & 7);
	return idx < FO_LAT_BUCKETS ? idx : FO_LAT_BUCKETS - 1;
}

/* The largest cycle count that falls in bucket idx. */
static inline uint64_t fo_lat_bucket_upper(uint32_t idx)
{
	if (idx < 16)
		return idx;
	uint32_t msb = idx / 8 + 2, sub = idx % 8;
	return ((uint64_t)(9 + sub) << (msb - 3)) - 1;
}

/* The bucket upper bound under which fraction q (0..1) of the samples lie; 0 when empty. */
static inline uint64_t fo_lat_percentile(const uint64_t *hist, uint64_t samples, double q)
{
	if (samples == 0)
		return 0;
	uint64_t want = (uint64_t)(q * (double)samples);
	if (want == 0)
		want = 1;
	if (want > samples)
		want = samples;
	uint64_t acc = 0;
	for (uint32_t i = 0; i < FO_LAT_BUCKETS; i++) {
		acc += hist[i];
		if (acc >= want)
			return fo_lat_bucket_upper(i);
	}
	return fo_lat_bucket_upper(FO_LAT_BUCKETS - 1);
}

#endif
