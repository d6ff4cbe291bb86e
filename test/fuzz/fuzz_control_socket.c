/* libFuzzer target for the dataplane's control socket framing: the bytes a client sends go
 * through fo_resp_feed() with the socket's bounds (FO_CTL_RESP_LIMITS, dataplane/mgmt/control_socket.h)
 * into hiredis's reader, exactly as serve_client() in dataplane/mgmt/control_socket.c does, and come
 * out as the redisReply commands execute() takes. The first byte picks the read size. Checks: no
 * crash; every parsed command is an array of at most FO_CTL_MAX_ARGS bulk strings, within
 * FO_CTL_MAX_REQUEST bytes, with readable bytes; the reader holds no more than the bound plus a
 * read; a refused stream stays refused. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "control_socket.h"
#include "fanout/resp_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool drain(redisReader *rd)
{
	for (;;) {
		void *v = NULL;
		if (redisReaderGetReply(rd, &v) != REDIS_OK)
			return false; /* the socket answers "protocol error" and drops the client */
		if (v == NULL)
			return true;
		redisReply *r = v;
		if (r->type != REDIS_REPLY_ARRAY || r->elements > FO_CTL_MAX_ARGS)
			abort();
		size_t total = 0;
		for (size_t i = 0; i < r->elements; i++) {
			volatile char sink = 0;
			if (r->element[i]->type != REDIS_REPLY_STRING)
				abort();
			for (size_t k = 0; k < r->element[i]->len; k++)
				sink ^= r->element[i]->str[k];
			(void)sink;
			total += r->element[i]->len;
		}
		if (total > FO_CTL_MAX_REQUEST)
			abort();
		freeReplyObject(r);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fo_resp_frame f;
	redisReader *rd;

	if (size == 0 || (rd = redisReaderCreate()) == NULL)
		return 0;
	rd->maxbuf = 0;
	fo_resp_frame_init(&f, &(struct fo_resp_limits)FO_CTL_RESP_LIMITS);
	size_t chunk = (size_t)data[0] * 17 % 4096 + 1;
	data++, size--;
	while (size > 0) {
		size_t n = size < chunk ? size : chunk;
		int e = fo_resp_feed(&f, rd, data, n);
		if (e != FO_RESP_OK) {
			if (fo_resp_feed(&f, rd, "*1\r\n$4\r\nPING\r\n", 14) == FO_RESP_OK)
				abort();
			break;
		}
		if (rd->len - rd->pos > FO_CTL_MAX_REQUEST + chunk)
			abort();
		data += n, size -= n;
		if (!drain(rd))
			break;
	}
	redisReaderFree(rd);
	return 0;
}
