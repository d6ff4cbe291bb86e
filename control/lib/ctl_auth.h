/* fanout-control's access token and the refusals of both front ends (HTTP and RESP).
 * The token is made once from getrandom(), kept in a 0600 file (STATE_DIR/control.token unless
 * --token-file says otherwise) and compared in constant time. Pure: no libevent, so the unit
 * tests and fuzzers drive it directly. */
#ifndef FANOUT_CONTROL_AUTH_H
#define FANOUT_CONTROL_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_TOKEN_FILE "control.token"
#define CTL_TOKEN_BYTES 32 /* random bytes of a generated token (64 hex digits) */
#define CTL_TOKEN_MIN 16   /* an operator's own token: at least this many characters */
#define CTL_TOKEN_MAX 256

/* Every refusal, by reason: the names are the `reason` labels of
 * fanout_control_refused_total and the keys of STATUS "refused". */
#define CTL_FOREACH_REFUSAL(_) \
	_(HTTP_HOST, "http_host")                 /* 403: Host is not an allowed name:port */ \
	_(HTTP_ORIGIN, "http_origin")             /* 403: Origin is not same-origin with an allowed Host */ \
	_(HTTP_AUTH, "http_auth")                 /* 401: no or wrong Authorization: Bearer */ \
	_(HTTP_CONTENT_TYPE, "http_content_type") /* 415: POST without Content-Type application/json */ \
	_(HTTP_BODY_SIZE, "http_body_size")       /* 413: body above the route's bound */ \
	_(RESP_NOAUTH, "resp_noauth")             /* -NOAUTH: a command before AUTH */ \
	_(RESP_WRONGPASS, "resp_wrongpass")       /* -WRONGPASS: AUTH with a wrong token */ \
	_(RESP_LIMIT, "resp_limit")               /* closed: array, bulk or request above the bounds */ \
	_(RESP_PROTOCOL, "resp_protocol")         /* closed: not RESP arrays of bulk strings */ \
	_(RESP_CONNECTIONS, "resp_connections")   /* closed at accept: too many connections */ \
	_(RESP_AUTH_TIMEOUT, "resp_auth_timeout") /* closed: no AUTH within the timeout */

enum ctl_refusal {
#define CTL_REFUSAL_ENUM(e, n) CTL_REFUSED_##e,
	CTL_FOREACH_REFUSAL(CTL_REFUSAL_ENUM)
#undef CTL_REFUSAL_ENUM
		CTL_REFUSED_MAX
};

extern const char *const ctl_refusal_names[CTL_REFUSED_MAX];
extern uint64_t ctl_refused[CTL_REFUSED_MAX];

/* Reads the token at path; when the file does not exist and create is set, makes one (0600,
 * O_EXCL). A file readable by group or others, or a token shorter than CTL_TOKEN_MIN or with
 * characters outside [A-Za-z0-9._~+/=-], is refused. tok gets CTL_TOKEN_MAX + 1 bytes. */
int ctl_token_load(const char *path, bool create, char *tok, size_t toklen, char *err, size_t errlen);

/* Constant-time (over the expected token's length) comparison. */
bool ctl_token_eq(const char *want, size_t want_len, const void *got, size_t got_len);

#endif
