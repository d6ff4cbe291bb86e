/* A RESP connection's parsing, AUTH gate and its own commands (see resp_conn.h). Before AUTH only
 * AUTH and QUIT are answered; everything else gets -NOAUTH, as Redis 6 does. */
#include <ctype.h>
#include <stdio.h>
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

/* The refusal of a command longer than any in the tables, with the bound it broke. */
static const char *too_many_args(bool closing)
{
	static char msg[2][120];

	snprintf(msg[closing], sizeof(msg[closing]), "-ERR too many arguments (no command takes more than %d)%s\r\n",
		 RESP_MAX_ARGS, closing ? "; closing" : "");
	return msg[closing];
}

int resp_conn_feed(struct resp_conn *c, const void *p, size_t n, const char **why, enum ctl_refusal *refusal)
{
	int e = fo_resp_feed(&c->frame, c->reader, p, n);

	if (e == FO_RESP_OK)
		return 0;
	switch (e) {
	case FO_RESP_E_ARGS: *why = too_many_args(true); break;
	case FO_RESP_E_BULK: *why = "-ERR argument above 1 MiB; closing\r\n"; break;
	case FO_RESP_E_REQUEST: *why = "-ERR request above 1 MiB + 64 KiB; closing\r\n"; break;
	case FO_RESP_E_PENDING: *why = "-ERR too many unanswered requests; closing\r\n"; break;
	default:
		*why = "-ERR protocol error: send commands as RESP arrays of bulk strings (as redis-cli does); "
		       "closing\r\n";
		break;
	}
	*refusal = e == FO_RESP_E_PROTOCOL ? CTL_REFUSED_RESP_PROTOCOL : CTL_REFUSED_RESP_LIMIT;
	return -1;
}

static bool word_is(const struct resp_cmd *cmd, int i, const char *w)
{
	return ctl_word_is(cmd->argv[i], cmd->lens[i], w);
}

static enum resp_step reply_dyn(struct resp_cmd *cmd, char *text)
{
	if (text == NULL) {
		cmd->reply = "-ERR out of memory\r\n";
		return RESP_REPLY;
	}
	cmd->owned = text;
	cmd->reply = text;
	return RESP_REPLY;
}

/* "$len\r\n<text>\r\n" in a new string (NULL when out of memory). */
static char *bulk(const char *text, size_t len)
{
	char *b = malloc(len + 32);

	if (b != NULL) {
		int h = snprintf(b, 32, "$%zu\r\n", len);
		memcpy(b + h, text, len);
		memcpy(b + h + len, "\r\n", 3);
	}
	return b;
}

static enum resp_step conn_auth(struct resp_conn *c, struct resp_cmd *cmd)
{
	const char *tok = cmd->argv[cmd->argc - 1];
	size_t len = cmd->lens[cmd->argc - 1];

	if (cmd->argc == 3 && !word_is(cmd, 1, "default"))
		tok = NULL;
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

static enum resp_step conn_quit(struct resp_conn *c, struct resp_cmd *cmd)
{
	(void)c;
	cmd->reply = "+OK\r\n";
	return RESP_REPLY_CLOSE;
}

static enum resp_step conn_ping(struct resp_conn *c, struct resp_cmd *cmd)
{
	(void)c;
	if (cmd->argc == 1) {
		cmd->reply = "+PONG\r\n";
		return RESP_REPLY;
	}
	return reply_dyn(cmd, bulk(cmd->argv[1], cmd->lens[1]));
}

static enum resp_step conn_help(struct resp_conn *c, struct resp_cmd *cmd);
static enum resp_step conn_command(struct resp_conn *c, struct resp_cmd *cmd);

/* Commands a connection answers itself; every other one goes to ctl_dispatch, whose table is
 * ctl_commands.h. Before AUTH only the entries marked so are answered. */
const struct resp_conn_cmd resp_conn_cmds[RESP_CONN_CMDS] = {
	{ "AUTH", 1, 2, true, conn_auth, "[default] <token>", "authenticate with fanout-control's token" },
	{ "QUIT", 0, 0, true, conn_quit, "", "close the connection" },
	{ "PING", 0, 1, false, conn_ping, "[message]", "PONG, or the message back" },
	{ "HELP", 0, 0, false, conn_help, "", "this list: every command with its arguments" },
	{ "COMMAND", 0, 1, false, conn_command, "[COUNT]",
	  "every command as [name, arity, arguments, help] (arity as Redis: negative = at least); COUNT: how many" },
};

/* The HELP text: one "SYNOPSIS\n    help" pair per command of both tables. */
char *resp_conn_help_text(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	char syn[192];

	if (f == NULL)
		return NULL;
	for (int i = 0; i < RESP_CONN_CMDS; i++)
		fprintf(f, "%s%s%s\n    %s\n", resp_conn_cmds[i].name, resp_conn_cmds[i].args[0] ? " " : "",
			resp_conn_cmds[i].args, resp_conn_cmds[i].help);
	for (int i = 0; i < CTL_CMD_MAX; i++) {
		ctl_cmd_synopsis(i, syn, sizeof(syn));
		fprintf(f, "%s\n    %s\n", syn, ctl_cmd_info[i].help);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static enum resp_step conn_help(struct resp_conn *c, struct resp_cmd *cmd)
{
	char *text = resp_conn_help_text();

	(void)c;
	if (text == NULL)
		return reply_dyn(cmd, NULL);
	char *b = bulk(text, strlen(text));
	free(text);
	return reply_dyn(cmd, b);
}

static void put_bulk(FILE *f, const char *s)
{
	fprintf(f, "$%zu\r\n%s\r\n", strlen(s), s);
}

/* Redis's COMMAND: names in lower case, a subcommand as "config|apply". */
static enum resp_step conn_command(struct resp_conn *c, struct resp_cmd *cmd)
{
	(void)c;
	if (cmd->argc == 2 && word_is(cmd, 1, "COUNT")) {
		static char count[24];
		snprintf(count, sizeof(count), ":%d\r\n", RESP_CONN_CMDS + CTL_CMD_MAX);
		cmd->reply = count;
		return RESP_REPLY;
	}
	if (cmd->argc == 2) { /* DOCS, INFO...: redis-cli asks for DOCS on connect; an empty list is fine */
		cmd->reply = "*0\r\n";
		return RESP_REPLY;
	}
	char *buf = NULL, name[64];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL)
		return reply_dyn(cmd, NULL);
	fprintf(f, "*%d\r\n", RESP_CONN_CMDS + CTL_CMD_MAX);
	for (int i = 0; i < RESP_CONN_CMDS; i++) {
		const struct resp_conn_cmd *e = &resp_conn_cmds[i];
		snprintf(name, sizeof(name), "%s", e->name);
		for (char *p = name; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		fprintf(f, "*4\r\n");
		put_bulk(f, name);
		fprintf(f, ":%d\r\n", e->min == e->max ? 1 + e->min : -(1 + e->min));
		put_bulk(f, e->args);
		put_bulk(f, e->help);
	}
	for (int i = 0; i < CTL_CMD_MAX; i++) {
		const struct ctl_cmd_info *e = &ctl_cmd_info[i];
		snprintf(name, sizeof(name), "%s%s%s", e->name, e->sub[0] ? "|" : "", e->sub);
		for (char *p = name; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		fprintf(f, "*4\r\n");
		put_bulk(f, name);
		fprintf(f, ":%d\r\n", ctl_cmd_arity(i));
		put_bulk(f, e->args);
		put_bulk(f, e->help);
	}
	if (fclose(f) != 0) {
		free(buf);
		buf = NULL;
	}
	return reply_dyn(cmd, buf);
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
		cmd->reply = too_many_args(false);
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
	const struct resp_conn_cmd *e = NULL;
	for (int i = 0; i < RESP_CONN_CMDS && e == NULL; i++)
		if (word_is(cmd, 0, resp_conn_cmds[i].name))
			e = &resp_conn_cmds[i];
	if (!c->authed && (e == NULL || !e->before_auth)) {
		cmd->refusal = CTL_REFUSED_RESP_NOAUTH;
		cmd->reply = "-NOAUTH Authentication required: AUTH <token> (fanout-control's STATE_DIR/" CTL_TOKEN_FILE
			     ")\r\n";
		return RESP_REPLY;
	}
	if (e == NULL)
		return RESP_DISPATCH;
	if (cmd->argc - 1 < e->min || cmd->argc - 1 > e->max) {
		char *m = malloc(200);
		if (m != NULL)
			snprintf(m, 200, "-ERR wrong number of arguments for '%s'; usage: %s%s%s\r\n", e->name, e->name,
				 e->args[0] ? " " : "", e->args);
		return reply_dyn(cmd, m);
	}
	return e->fn(c, cmd);
}

void resp_cmd_done(struct resp_cmd *cmd)
{
	free(cmd->owned);
	cmd->owned = NULL;
	if (cmd->req)
		freeReplyObject(cmd->req);
	cmd->req = NULL;
}
