/* Bounds on RESP requests, checked on the bytes as they arrive and before hiredis's reader sees
 * them: the reader allocates an array as soon as it reads `*N` and buffers bulk strings whole, so
 * `*2147483647` followed by endless `$0\r\n\r\n` would grow it without end. Both RESP servers
 * (fanout-control's resp_server.c and the dataplane's control_socket.c) feed a connection's bytes
 * through fo_resp_feed(). Only the request grammar is accepted: `*N\r\n` then N times
 * `$LEN\r\n<LEN bytes>\r\n` (what redis-cli and hiredis send). Header-only, no DPDK. */
#ifndef FANOUT_RESP_FRAME_H
#define FANOUT_RESP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

enum fo_resp_frame_err {
	FO_RESP_OK = 0,
	FO_RESP_E_PROTOCOL, /* not `*N` / `$LEN` where one is due, or a header line too long */
	FO_RESP_E_ARGS,     /* N above max_args */
	FO_RESP_E_BULK,     /* LEN above max_bulk */
	FO_RESP_E_REQUEST,  /* one request above max_request bytes */
	FO_RESP_E_PENDING,  /* unread requests above max_pending bytes */
};

static inline const char *fo_resp_frame_strerror(int e)
{
	switch (e) {
	case FO_RESP_E_PROTOCOL: return "protocol error: expected a RESP array of bulk strings";
	case FO_RESP_E_ARGS: return "too many arguments in one command";
	case FO_RESP_E_BULK: return "argument too large";
	case FO_RESP_E_REQUEST: return "request too large";
	case FO_RESP_E_PENDING: return "too many unanswered requests buffered";
	default: return "ok";
	}
}

struct fo_resp_limits {
	uint32_t max_args;    /* elements of one command */
	uint64_t max_bulk;    /* bytes of one argument */
	uint64_t max_request; /* bytes of one command, headers included */
	uint64_t max_pending; /* bytes fed to the reader and not yet parsed into commands */
};

struct fo_resp_frame {
	struct fo_resp_limits lim;
	uint8_t state;      /* 0 array header, 1 bulk header, 2 bulk body */
	uint8_t line_len;   /* bytes of the header line so far */
	char line[24];      /* `*N` or `$LEN` with its digits */
	uint64_t left;      /* elements still due (states 1, 2) */
	uint64_t body_left; /* bytes of the bulk body + CRLF still due (state 2) */
	uint64_t req_bytes; /* bytes of the request so far */
	int err;            /* sticky: once refused, always refused */
};

#define FO_RESP_LINE_MAX 22 /* "*" or "$" + 20 digits + "\r" */

static inline void fo_resp_frame_init(struct fo_resp_frame *f, const struct fo_resp_limits *lim)
{
	*f = (struct fo_resp_frame){ .lim = *lim };
}

/* Parses a finished header line `<t><digits>\r`; -1 if malformed. */
static inline int fo_resp_frame_num(const struct fo_resp_frame *f, char t, uint64_t *v)
{
	if (f->line_len < 3 || f->line[0] != t || f->line[f->line_len - 1] != '\r')
		return -1;
	uint64_t n = 0;
	for (unsigned i = 1; i + 1 < f->line_len; i++) {
		char c = f->line[i];
		if (c < '0' || c > '9' || n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(c - '0');
	}
	*v = n;
	return 0;
}

/* Checks n more bytes of the stream. FO_RESP_OK when they may be given to the reader. */
static inline int fo_resp_frame_scan(struct fo_resp_frame *f, const void *data, size_t n)
{
	const uint8_t *p = data;

	if (f->err)
		return f->err;
	while (n > 0) {
		if (f->state == 2) {
			uint64_t take = f->body_left < n ? f->body_left : n;
			f->req_bytes += take;
			if (f->req_bytes > f->lim.max_request)
				return f->err = FO_RESP_E_REQUEST;
			f->body_left -= take;
			p += take, n -= (size_t)take;
			if (f->body_left == 0) {
				f->state = --f->left ? 1 : 0;
				if (f->state == 0)
					f->req_bytes = 0;
			}
			continue;
		}
		uint8_t c = *p++;
		n--;
		if (++f->req_bytes > f->lim.max_request)
			return f->err = FO_RESP_E_REQUEST;
		if (c != '\n') {
			if (f->line_len >= FO_RESP_LINE_MAX || (f->line_len == 0 && c != (f->state == 0 ? '*' : '$')))
				return f->err = FO_RESP_E_PROTOCOL;
			f->line[f->line_len++] = (char)c;
			continue;
		}
		uint64_t v;
		if (fo_resp_frame_num(f, f->state == 0 ? '*' : '$', &v) != 0)
			return f->err = FO_RESP_E_PROTOCOL;
		f->line_len = 0;
		if (f->state == 0) {
			if (v > f->lim.max_args)
				return f->err = FO_RESP_E_ARGS;
			f->left = v;
			f->state = v ? 1 : 0;
			if (v == 0)
				f->req_bytes = 0; /* an empty command: the server refuses it */
		} else {
			if (v > f->lim.max_bulk)
				return f->err = FO_RESP_E_BULK;
			if (f->req_bytes + v + 2 > f->lim.max_request)
				return f->err = FO_RESP_E_REQUEST;
			f->body_left = v + 2;
			f->state = 2;
		}
	}
	return FO_RESP_OK;
}

/* The one way bytes reach a server's hiredis reader: checked first, then fed. */
static inline int fo_resp_feed(struct fo_resp_frame *f, redisReader *r, const void *data, size_t n)
{
	if (f->err)
		return f->err;
	if (r->len - r->pos > f->lim.max_pending)
		return f->err = FO_RESP_E_PENDING;
	int e = fo_resp_frame_scan(f, data, n);
	if (e != FO_RESP_OK)
		return e;
	if (n > 0 && redisReaderFeed(r, data, n) != REDIS_OK)
		return f->err = FO_RESP_E_PROTOCOL;
	return FO_RESP_OK;
}

#endif
