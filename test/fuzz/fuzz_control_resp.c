/* libFuzzer target for fanout-control's RESP server input: the bytes go through resp_conn_feed
 * and resp_conn_next (control/lib/resp_conn.c), the path resp_server.c runs for every connection:
 * the request bounds of include/fanout/resp_frame.h, hiredis's reader, the AUTH gate. The first
 * byte picks the chunk size the input is fed in (as reads split it). Checks: no crash; a
 * dispatched command is authenticated, has 1..64 arguments whose bytes are all readable and no
 * more than the request bound; the reader never holds more than the pending bound plus a chunk;
 * after a refusal the connection takes nothing more. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp_conn.h"

#define TOKEN "0123456789abcdef0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drain(struct resp_conn *c, bool *closed)
{
	for (;;) {
		struct resp_cmd cmd;
		enum resp_step s = resp_conn_next(c, &cmd);
		if (s == RESP_NONE) {
			resp_cmd_done(&cmd);
			return;
		}
		if (s == RESP_DISPATCH) {
			size_t total = 0;
			if (!c->authed || cmd.argc < 1 || cmd.argc > RESP_MAX_ARGS)
				abort();
			for (int i = 0; i < cmd.argc; i++) {
				volatile char sink = 0;
				for (size_t k = 0; k < cmd.lens[i]; k++)
					sink ^= cmd.argv[i][k];
				(void)sink;
				total += cmd.lens[i];
			}
			if (total > RESP_MAX_REQUEST)
				abort();
		} else if (cmd.reply == NULL || cmd.reply[0] == '\0') {
			abort();
		}
		resp_cmd_done(&cmd);
		if (s == RESP_REPLY_CLOSE) {
			*closed = true;
			return;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct resp_conn c;
	bool closed = false;

	if (size == 0 || resp_conn_init(&c, TOKEN) != 0)
		return 0;
	size_t chunk = (size_t)data[0] % 64 + 1;
	data++, size--;
	while (size > 0 && !closed) {
		size_t n = size < chunk ? size : chunk;
		const char *why;
		enum ctl_refusal r;
		if (resp_conn_feed(&c, data, n, &why, &r) != 0) {
			if (why == NULL || why[0] != '-' || r >= CTL_REFUSED_MAX)
				abort();
			if (resp_conn_feed(&c, "*1\r\n$4\r\nPING\r\n", 14, &why, &r) == 0)
				abort(); /* refusals are final */
			break;
		}
		if (c.reader->len - c.reader->pos > RESP_MAX_PENDING + chunk)
			abort();
		data += n, size -= n;
		drain(&c, &closed);
	}
	resp_conn_free(&c);
	return 0;
}
