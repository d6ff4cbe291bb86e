/* The RESP server (see resp_server.h). Requests go to ctl_dispatch; a request that waits on the
 * dataplane holds back the client's next ones, so replies stay in order. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <hiredis/hiredis.h>

#include "commands.h"
#include "resp_server.h"

struct client {
	struct bufferevent *bev;
	redisReader *reader;
	bool busy;   /* a request waits on the dataplane */
	bool closed; /* the peer went away while busy: free on completion */
	bool quit;   /* close after the output drains */
};

static struct evconnlistener *tcp_listener, *unix_listener;
static char unix_path_[sizeof(((struct sockaddr_un *)0)->sun_path)];

static void client_free(struct client *c)
{
	if (c->bev)
		bufferevent_free(c->bev);
	if (c->reader)
		redisReaderFree(c->reader);
	free(c);
}

static void write_error(struct client *c, const char *err)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	evbuffer_add(out, "-ERR ", 5);
	for (const char *p = err; *p; p++)
		evbuffer_add(out, (*p == '\r' || *p == '\n') ? " " : p, 1);
	evbuffer_add(out, "\r\n", 2);
}

static void write_json(struct client *c, json_t *j)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

	if (s == NULL) {
		write_error(c, "out of memory encoding the reply");
		return;
	}
	size_t n = strlen(s);
	evbuffer_add_printf(out, "$%zu\r\n", n);
	evbuffer_add(out, s, n);
	evbuffer_add(out, "\r\n", 2);
	free(s);
}

static void process(struct client *c);

static void on_done(void *ctx, json_t *reply, const char *err)
{
	struct client *c = ctx;

	c->busy = false;
	if (c->closed) {
		json_decref(reply);
		client_free(c);
		return;
	}
	if (err)
		write_error(c, err);
	else
		write_json(c, reply);
	json_decref(reply);
	process(c);
}

static bool word_is(const redisReply *r, const char *w)
{
	return r->type == REDIS_REPLY_STRING && strlen(w) == r->len && strncasecmp(r->str, w, r->len) == 0;
}

/* Handles one request; returns false when the client must wait (busy) or is closing. */
static bool handle(struct client *c, redisReply *req)
{
	const char *argv[RESP_MAX_ARGS];
	size_t lens[RESP_MAX_ARGS];
	char err[CTL_ERR_MAX];
	json_t *reply = NULL;
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (req->type != REDIS_REPLY_ARRAY || req->elements == 0) {
		write_error(c, "send commands as RESP arrays of bulk strings (as redis-cli and hiredis do)");
		return true;
	}
	if (req->elements > RESP_MAX_ARGS) {
		write_error(c, "too many arguments; at most 64");
		return true;
	}
	for (size_t i = 0; i < req->elements; i++) {
		if (req->element[i]->type != REDIS_REPLY_STRING) {
			write_error(c, "arguments must be bulk strings");
			return true;
		}
		argv[i] = req->element[i]->str;
		lens[i] = req->element[i]->len;
	}
	if (word_is(req->element[0], "PING") && req->elements == 1) {
		evbuffer_add(out, "+PONG\r\n", 7);
		return true;
	}
	if (word_is(req->element[0], "QUIT")) {
		evbuffer_add(out, "+OK\r\n", 5);
		c->quit = true;
		return false;
	}
	if (word_is(req->element[0], "COMMAND")) { /* redis-cli asks for command docs on connect */
		evbuffer_add(out, "*0\r\n", 4);
		return true;
	}
	struct ctl_completion done = { on_done, c };
	int rc = ctl_dispatch((int)req->elements, argv, lens, &reply, err, sizeof(err), &done);
	if (rc == CTL_PENDING) {
		c->busy = true;
		return false;
	}
	if (rc == CTL_ERR)
		write_error(c, err);
	else
		write_json(c, reply);
	json_decref(reply);
	return true;
}

static void process(struct client *c)
{
	while (!c->busy && !c->quit) {
		void *req = NULL;
		if (redisReaderGetReply(c->reader, &req) != REDIS_OK) {
			write_error(c, "protocol error; closing");
			c->quit = true;
			break;
		}
		if (req == NULL)
			break;
		bool go_on = handle(c, req);
		freeReplyObject(req);
		if (!go_on)
			break;
	}
	if (c->quit && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		client_free(c);
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;

	if (c->quit)
		return;
	while ((n = evbuffer_get_length(in)) > 0) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		if (redisReaderFeed(c->reader, v.iov_base, v.iov_len) != REDIS_OK) {
			client_free(c);
			return;
		}
		evbuffer_drain(in, v.iov_len);
	}
	if (c->reader->len - c->reader->pos > RESP_MAX_PENDING_INPUT) {
		write_error(c, "request too large; configs are limited to 64 MiB");
		c->quit = true;
	}
	process(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	(void)bev;

	if (c->quit)
		client_free(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;
	(void)bev;

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (c->busy) {
		/* the completion still holds c: free it there */
		bufferevent_free(c->bev);
		c->bev = NULL;
		c->closed = true;
		return;
	}
	client_free(c);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen, void *arg)
{
	struct event_base *base = evconnlistener_get_base(l);
	struct client *c = calloc(1, sizeof(*c));
	(void)sa, (void)socklen, (void)arg;

	if (c == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->reader = redisReaderCreate();
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->reader == NULL || c->bev == NULL) {
		if (c->bev == NULL)
			evutil_closesocket(fd);
		client_free(c);
		return;
	}
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static int listen_tcp(struct event_base *base, const char *spec)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &len) != 0) {
		fprintf(stderr, "fanout-control: --listen '%s': expected host:port, e.g. 127.0.0.1:7379\n", spec);
		return -1;
	}
	tcp_listener = evconnlistener_new_bind(base, on_accept, NULL,
					       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 64,
					       (struct sockaddr *)&ss, len);
	if (tcp_listener == NULL) {
		fprintf(stderr, "fanout-control: --listen %s: %s; is another fanout-control running? choose another port\n",
			spec, strerror(errno));
		return -1;
	}
	return 0;
}

static int listen_unix(struct event_base *base, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "fanout-control: --unix '%s': longer than %zu bytes; choose a shorter path\n", path,
			sizeof(sa.sun_path) - 1);
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "fanout-control: --unix: socket(): %s\n", strerror(errno));
		return -1;
	}
	unlink(path); /* a stale socket from a previous run */
	mode_t old = umask(0177);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0) {
		fprintf(stderr, "fanout-control: --unix '%s': %s; check the directory exists and is writable\n", path,
			strerror(errno));
		close(fd);
		return -1;
	}
	unix_listener = evconnlistener_new(base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 64, fd);
	if (unix_listener == NULL) {
		fprintf(stderr, "fanout-control: --unix '%s': listen: %s\n", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	snprintf(unix_path_, sizeof(unix_path_), "%s", path);
	return 0;
}

int resp_server_start(struct event_base *base, const char *listen, const char *unix_path)
{
	if (listen != NULL && *listen && listen_tcp(base, listen) != 0)
		return -1;
	if (unix_path != NULL && *unix_path && listen_unix(base, unix_path) != 0)
		return -1;
	return 0;
}

void resp_server_stop(void)
{
	if (tcp_listener)
		evconnlistener_free(tcp_listener);
	if (unix_listener) {
		evconnlistener_free(unix_listener);
		unlink(unix_path_);
	}
	tcp_listener = unix_listener = NULL;
}
