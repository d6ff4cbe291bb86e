/* Writing RESP (the Redis protocol) commands straight into a buffer: what the sink sends, without
 * hiredis formatting each argument (redisAppendCommandArgv spent more than half of the sink
 * thread's time, docs/performance.md). The caller makes room first: a bulk string of len bytes
 * takes at most fo_resp_bulk_room(len). Pure, header only; unit-tested against hiredis's own
 * formatting (test/unit/test_resp_enc.c). */
#ifndef FANOUT_RESP_ENC_H
#define FANOUT_RESP_ENC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline size_t fo_resp_bulk_room(size_t len)
{
	return len + 1 + 20 + 4; /* $, the length, \r\n twice */
}

/* Decimal digits of v. */
static inline char *fo_resp_u64(char *p, uint64_t v)
{
	char t[20];
	int n = 0;
	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = t[--n];
	return p;
}

/* "*n\r\n": a command of n arguments follows. */
static inline char *fo_resp_array(char *p, uint64_t n)
{
	*p++ = '*';
	p = fo_resp_u64(p, n);
	*p++ = '\r';
	*p++ = '\n';
	return p;
}

static inline char *fo_resp_bulk(char *p, const void *d, size_t len)
{
	*p++ = '$';
	p = fo_resp_u64(p, len);
	*p++ = '\r';
	*p++ = '\n';
	if (len)
		memcpy(p, d, len);
	p += len;
	*p++ = '\r';
	*p++ = '\n';
	return p;
}

static inline char *fo_resp_bulk_str(char *p, const char *s)
{
	return fo_resp_bulk(p, s, strlen(s));
}

/* A number as a bulk string (RESP commands carry numbers as text). */
static inline char *fo_resp_bulk_i64(char *p, int64_t v)
{
	char t[24], *e = t;
	if (v < 0) {
		*e++ = '-';
		e = fo_resp_u64(e, (uint64_t)0 - (uint64_t)v);
	} else {
		e = fo_resp_u64(e, (uint64_t)v);
	}
	return fo_resp_bulk(p, t, (size_t)(e - t));
}

#endif
