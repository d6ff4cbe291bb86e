/* libFuzzer target for fanout-control's HTTP request handling: http_route() (control/lib/http_route.c),
 * which http_api.c calls for every request with what libevent parsed: the Host, Origin, token,
 * Content-Type and body-size checks, the route table, the query and JSON body parsing and the argv
 * it builds for ctl_dispatch. Input: byte 0 the method (and which headers are absent), then
 * '\n'-separated path, query, Host, Origin, Authorization, Content-Type, and the body (the rest).
 * Checks: no crash; refusals have a known status and a message; nothing is dispatched without
 * an allowed Host and Origin and the token; a dispatched argv has 1..HTTP_MAX_ARGV readable words. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_route.h"

#define TOKEN "0123456789abcdef0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct http_policy pol = {
	.token = TOKEN,
	.token_len = sizeof(TOKEN) - 1,
	.listen_host = "127.0.0.1",
	.port = 7380,
	.allow_hosts = { "fanout.lab" },
	.n_allow_hosts = 1,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t flags = data[0];
	char *buf = malloc(size); /* NUL-terminated fields, as libevent gives them */
	if (buf == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	char *field[6] = { 0 };
	char *p = buf;
	int nf = 0;
	for (; nf < 6; nf++) {
		field[nf] = p;
		char *nl = memchr(p, '\n', (size_t)(buf + size - 1 - p));
		if (nl == NULL) {
			p = buf + size - 1;
			nf++;
			break;
		}
		*nl = '\0';
		p = nl + 1;
	}
	for (int i = nf; i < 6; i++)
		field[i] = NULL;
	struct http_request r = {
		.method = (enum http_method)(flags % 3),
		.path = field[0] ? field[0] : "/",
		.query = (flags & 0x04) ? NULL : field[1],
		.host = (flags & 0x08) ? NULL : field[2],
		.origin = (flags & 0x10) ? NULL : field[3],
		.authorization = (flags & 0x20) ? NULL : field[4],
		.content_type = (flags & 0x40) ? NULL : field[5],
		.body = p,
		.body_len = (size_t)(buf + size - 1 - p),
	};
	struct http_route o;
	http_route(&pol, &r, &o);
	switch (o.action) {
	case HTTP_REFUSE:
		if (o.error[0] == '\0')
			abort();
		if (o.status != 400 && o.status != 401 && o.status != 403 && o.status != 404 && o.status != 405 &&
		    o.status != 413 && o.status != 415)
			abort();
		break;
	case HTTP_DASHBOARD:
		if (!http_host_allowed(&pol, r.host) || !http_origin_allowed(&pol, r.origin))
			abort();
		break;
	case HTTP_METRICS:
	case HTTP_DISPATCH:
		if (!http_host_allowed(&pol, r.host) || !http_origin_allowed(&pol, r.origin) ||
		    !http_bearer_ok(&pol, r.authorization))
			abort();
		if (r.method == HTTP_M_POST && !http_is_json(r.content_type))
			abort();
		if (o.action == HTTP_METRICS)
			break;
		if (o.argc < 1 || o.argc > HTTP_MAX_ARGV)
			abort();
		for (int i = 0; i < o.argc; i++) {
			volatile char sink = 0;
			if (o.argv[i] == NULL)
				abort();
			for (size_t k = 0; k < o.lens[i]; k++)
				sink ^= o.argv[i][k];
			(void)sink;
		}
		break;
	default: abort();
	}
	http_route_free(&o);
	free(buf);
	return 0;
}
