/* One RESP connection of fanout-control without the socket: bytes in (bounded before hiredis's
 * reader buffers them, include/fanout/resp_frame.h), commands out, AUTH in front of everything.
 * resp_server.c moves the bytes; test/unit/test_control_guard.c and fuzz/fuzz_control_resp.c
 * drive it directly. */
#ifndef FANOUT_CONTROL_RESP_CONN_H
#define FANOUT_CONTROL_RESP_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#include "ctl_auth.h"
#include "ctl_commands.h"
#include "fanout/resp_frame.h"

/* Elements of one command: the longest the tables allow (ROLLOUT START with every option), so a
 * longer one is refused by the frame check before anything is buffered. */
#define RESP_MAX_ARGS CTL_MAX_ARGC
#define RESP_MAX_BULK (1u << 20) /* one argument: CONFIG APPLY's YAML text */
#define RESP_MAX_REQUEST (RESP_MAX_BULK + (64u << 10))
#define RESP_MAX_PENDING RESP_MAX_REQUEST /* parsed-not-yet-run bytes held in the reader */
#define RESP_MAX_CLIENTS 64               /* connections; more are refused at accept */
#define RESP_AUTH_TIMEOUT_S 10            /* a connection that has not authenticated is closed after */
#define RESP_MAX_AUTH_FAILURES 3          /* wrong AUTHs before the connection is closed */

struct resp_conn {
	redisReader *reader;
	struct fo_resp_frame frame;
	const char *token;
	size_t token_len;
	bool authed;
	unsigned auth_failures;
};

enum resp_step {
	RESP_NONE,        /* no complete command yet */
	RESP_REPLY,       /* write cmd.reply */
	RESP_REPLY_CLOSE, /* write cmd.reply, then close */
	RESP_DISPATCH,    /* an authenticated command for ctl_dispatch(cmd.argc, cmd.argv, cmd.lens) */
};

struct resp_cmd {
	redisReply *req; /* owned until resp_cmd_done; argv points into it */
	int argc;
	const char *argv[RESP_MAX_ARGS];
	size_t lens[RESP_MAX_ARGS];
	const char *reply;        /* RESP_REPLY*: a complete RESP reply */
	char *owned;              /* reply's storage when built for this command */
	enum ctl_refusal refusal; /* to count, or CTL_REFUSED_MAX */
};

/* The commands a connection answers itself (AUTH, QUIT, PING, HELP, COMMAND); min/max count the
 * arguments after the name. */
#define RESP_CONN_CMDS 5
struct resp_conn_cmd {
	const char *name;
	int min, max;
	bool before_auth;
	enum resp_step (*fn)(struct resp_conn *c, struct resp_cmd *cmd);
	const char *args, *help;
};
extern const struct resp_conn_cmd resp_conn_cmds[RESP_CONN_CMDS];
_Static_assert(RESP_MAX_ARGS >= 3, "AUTH default <token> fits");

/* HELP's text (malloc'd; NULL when out of memory): both tables, one command per entry. */
char *resp_conn_help_text(void);

/* token: NUL-terminated, kept by the caller. -1 when out of memory. */
int resp_conn_init(struct resp_conn *c, const char *token);
void resp_conn_free(struct resp_conn *c);
/* n bytes from the peer. 0, or -1 when the connection must be closed after writing *why
 * (a complete -ERR reply); *refusal then says which counter. */
int resp_conn_feed(struct resp_conn *c, const void *p, size_t n, const char **why, enum ctl_refusal *refusal);
enum resp_step resp_conn_next(struct resp_conn *c, struct resp_cmd *cmd);
void resp_cmd_done(struct resp_cmd *cmd);

#endif
