/* The bounded reply reader of the fleet's member links (see fleet_reply.h). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fleet_reply.h"

/* The header line's length without CRLF, -1 when it is not complete yet, -2 when too long or
 * a CR is not followed by LF. */
static long line_end(const char *buf, size_t n)
{
	size_t lim = n < FR_LINE_MAX ? n : FR_LINE_MAX;

	for (size_t i = 0; i < lim; i++) {
		if (buf[i] == '\r') {
			if (i + 1 == n)
				return -1;
			return buf[i + 1] == '\n' ? (long)i : -2;
		}
		if (buf[i] == '\n')
			return -2;
	}
	return n < FR_LINE_MAX ? -1 : -2;
}

static int num(const char *s, size_t n, long long *v)
{
	bool neg = n > 0 && s[0] == '-';
	unsigned long long x = 0;

	if (n == (size_t)neg || n - neg > 18)
		return -1;
	for (size_t i = neg; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (unsigned long long)(s[i] - '0');
	}
	*v = neg ? -(long long)x : (long long)x;
	return 0;
}

int fr_parse(const char *buf, size_t n, size_t max_bulk, struct fr_reply *r, size_t *used, size_t *need, char *err,
	     size_t errlen)
{
	long le;
	long long v;

	*used = 0;
	if (need)
		*need = 0;
	if (n == 0)
		return FR_NEED_MORE;
	le = line_end(buf, n);
	if (le == -2) {
		snprintf(err, errlen, "reply line above %d bytes or a bare CR/LF", FR_LINE_MAX);
		return FR_BAD;
	}
	if (le < 0)
		return FR_NEED_MORE;
	memset(r, 0, sizeof(*r));
	switch (buf[0]) {
	case '+':
	case '-':
		r->type = buf[0] == '+' ? FR_STATUS : FR_ERROR;
		r->str = buf + 1;
		r->len = (size_t)le - 1;
		*used = (size_t)le + 2;
		return FR_OK;
	case ':':
		if (num(buf + 1, (size_t)le - 1, &r->integer) != 0)
			break;
		r->type = FR_INTEGER;
		*used = (size_t)le + 2;
		return FR_OK;
	case '$':
		if (num(buf + 1, (size_t)le - 1, &v) != 0 || v < -1)
			break;
		if (v == -1) {
			r->type = FR_NIL;
			*used = (size_t)le + 2;
			return FR_OK;
		}
		if ((unsigned long long)v > max_bulk) {
			snprintf(err, errlen, "reply of %lld bytes above the bound of %zu", v, max_bulk);
			return FR_BAD;
		}
		size_t total = (size_t)le + 2 + (size_t)v + 2;
		if (n < total) {
			if (need)
				*need = total;
			return FR_NEED_MORE;
		}
		if (buf[total - 2] != '\r' || buf[total - 1] != '\n')
			break;
		r->type = FR_BULK;
		r->str = buf + le + 2;
		r->len = (size_t)v;
		*used = total;
		return FR_OK;
	default:
		snprintf(err, errlen, "reply type '%c' is not one fanout-control sends the fleet (+ - : $)",
			 buf[0] >= 0x20 && buf[0] < 0x7f ? buf[0] : '?');
		return FR_BAD;
	}
	snprintf(err, errlen, "malformed reply header");
	return FR_BAD;
}
