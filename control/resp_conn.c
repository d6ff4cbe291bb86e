/* A RESP connection's parsing and AUTH gate (see resp_conn.h). Before AUTH only AUTH and QUIT
 * are answered; everything else gets -NOAUTH, as Redis 6 does. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "resp_conn.h"

static const struct fo_resp_limits limits = {
	.max_args = RESP_MAX_ARGS,
	.max_bulk = RESP_MAX_BULK,
	.max_request = RESP_MAX_REQUEST,
	.max_pending = RESP_MAX_PENDING,
};

int resp_conn_init(struct resp_conn *c, const char *token)
{
	memset(c, 0, sizeof(*c));
	c->reader = redisReaderCreate();
	if (c->reader == NULL)
		return -1;
	c->token = token;
	c->token_len = token ? strlen(token) : 0;
	fo_resp_frame_init(&c->frame, &limits);
	return 0;
}

void resp_conn_free(struct resp_conn *c)
{
	if (c->reader)
		redisReaderFree(c->reader);
	c->reader = NULL;
}

int resp_conn_feed(struct resp_conn *c, const void *p, size_t n, const char **why, enum ctl_refusal *refusal)
{
	int e = fo_resp_feed(&c->frame, c->reader, p, n);

	if (e == FO_RESP_OK)
		return 0;
	switch (e) {
	case FO_RESP_E_ARGS:
		*why = "-ERR too many arguments (at most 64); closing\r\n";
		break;
	case FO_RESP_E_BULK:
		*why = "-ERR argument above 1 MiB; closing\r\n";
		break;
	case FO_RESP_E_REQUEST:
		*why = "-ERR request above 1 MiB + 64 KiB; closing\r\n";
		break;
	case FO_RESP_E_PENDING:
		*why = "-ERR too many unanswered requests; closing\r\n";
		break;
	default:
		*why = "-ERR protocol error: send commands as RESP arrays of bulk strings (as redis-cli does); closing\r\n";
		break;
	}
	*refusal = e == FO_RESP_E_PROTOCOL ? CTL_REFUSED_RESP_PROTOCOL : CTL_REFUSED_RESP_LIMIT;
	return -1;
}

static bool word_is(const struct resp_cmd *cmd, int i, const char *w)
{
	return strlen(w) == cmd->lens[i] && strncasecmp(cmd->argv[i], w, cmd->lens[i]) == 0;
}

static enum resp_step auth(struct resp_conn *c, struct resp_cmd *cmd)
{
	const char *tok;
	size_t len;

	if (cmd->argc == 2) {
		tok = cmd->argv[1], len = cmd->lens[1];
	} else if (cmd->argc == 3) {
		tok = cmd->argv[2], len = cmd->lens[2];
		if (!word_is(cmd, 1, "default"))
			tok = NULL;
	} else {
		cmd->reply = "-ERR wrong number of arguments for 'auth' command; AUTH <token> or AUTH default <token>\r\n";
		return RESP_REPLY;
	}
	if (tok != NULL && ctl_token_eq(c->token, c->token_len, tok, len)) {
		c->authed = true;
		c->auth_failures = 0;
		cmd->reply = "+OK\r\n";
		return RESP_REPLY;
	}
	cmd->refusal = CTL_REFUSED_RESP_WRONGPASS;
	if (++c->auth_failures >= RESP_MAX_AUTH_FAILURES) {
		cmd->reply = "-WRONGPASS invalid token; closing after 3 attempts\r\n";
		return RESP_REPLY_CLOSE;
	}
	cmd->reply = "-WRONGPASS invalid token (fanout-control's STATE_DIR/" CTL_TOKEN_FILE ")\r\n";
	return RESP_REPLY;
}

enum resp_step resp_conn_next(struct resp_conn *c, struct resp_cmd *cmd)
{
	void *r = NULL;

	memset(cmd, 0, sizeof(*cmd));
	cmd->refusal = CTL_REFUSED_MAX;
	if (redisReaderGetReply(c->reader, &r) != REDIS_OK) {
		cmd->refusal = CTL_REFUSED_RESP_PROTOCOL;
		cmd->reply = "-ERR protocol error; closing\r\n";
		return RESP_REPLY_CLOSE;
	}
	if (r == NULL)
		return RESP_NONE;
	cmd->req = r;
	if (cmd->req->type != REDIS_REPLY_ARRAY || cmd->req->elements == 0) {
		cmd->reply = "-ERR send commands as RESP arrays of bulk strings (as redis-cli and hiredis do)\r\n";
		return RESP_REPLY;
	}
	if (cmd->req->elements > RESP_MAX_ARGS) { /* the frame check stops these first */
		cmd->reply = "-ERR too many arguments; at most 64\r\n";
		return RESP_REPLY;
	}
	for (size_t i = 0; i < cmd->req->elements; i++) {
		if (cmd->req->element[i]->type != REDIS_REPLY_STRING) {
			cmd->reply = "-ERR arguments must be bulk strings\r\n";
			return RESP_REPLY;
		}
		cmd->argv[i] = cmd->req->element[i]->str;
		cmd->lens[i] = cmd->req->element[i]->len;
	}
	cmd->argc = (int)cmd->req->elements;
	if (word_is(cmd, 0, "AUTH"))
		return auth(c, cmd);
	if (word_is(cmd, 0, "QUIT")) {
		cmd->reply = "+OK\r\n";
		return RESP_REPLY_CLOSE;
	}
	if (!c->authed) {
		cmd->refusal = CTL_REFUSED_RESP_NOAUTH;
		cmd->reply = "-NOAUTH Authentication required: AUTH <token> (fanout-control's STATE_DIR/" CTL_TOKEN_FILE ")\r\n";
		return RESP_REPLY;
	}
	if (word_is(cmd, 0, "PING") && cmd->argc == 1) {
		cmd->reply = "+PONG\r\n";
		return RESP_REPLY;
	}
	if (word_is(cmd, 0, "COMMAND")) { /* redis-cli asks for command docs on connect */
		cmd->reply = "*0\r\n";
		return RESP_REPLY;
	}
	return RESP_DISPATCH;
}

void resp_cmd_done(struct resp_cmd *cmd)
{
	if (cmd->req)
		freeReplyObject(cmd->req);
	cmd->req = NULL;
}
