/* The RESP server (see resp_server.h). Requests go to ctl_dispatch; a request that waits on the
 * dataplane holds back the client's next ones, so replies stay in order. Every byte goes through
 * resp_conn_feed (bounded before buffering) and every command through resp_conn_next (AUTH). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include "commands.h"
#include "ctl_auth.h"
#include "resp_conn.h"
#include "resp_server.h"

#define RESP_READ_HIGH_WATER (256u << 10) /* input held while a request waits on the dataplane */
/* A connection we close after a final reply (-ERR of a limit, QUIT) lingers: its reply and a FIN
 * go out (shutdown), and what the peer still sends is read and discarded for at most this long or
 * this many bytes. Closing with unread input would make the kernel answer with a reset that can
 * destroy the reply before the peer reads it. */
#define RESP_LINGER_S 1
#define RESP_LINGER_MAX_BYTES (4u << 20)

struct client {
	struct bufferevent *bev;
	struct resp_conn conn;
	bool busy;      /* a request waits on the dataplane */
	bool closed;    /* the peer went away while busy: free on completion */
	bool quit;      /* close after the output drains */
	bool lingering; /* output drained and shut down: discarding input until EOF or the deadline */
	size_t discarded;
};

static struct evconnlistener *tcp_listener, *unix_listener;
static char unix_path_[sizeof(((struct sockaddr_un *)0)->sun_path)];
static const char *token_;
static unsigned n_clients;

static void client_free(struct client *c)
{
	if (c->bev)
		bufferevent_free(c->bev);
	resp_conn_free(&c->conn);
	free(c);
	n_clients--;
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

static void pump(struct client *c);

/* The final reply has left: send FIN, then read and drop what the peer still sends until it
 * closes, RESP_LINGER_S passes or RESP_LINGER_MAX_BYTES arrive (on_read, on_event free c). */
static void linger(struct client *c)
{
	struct timeval tv = { RESP_LINGER_S, 0 };
	struct evbuffer *in = bufferevent_get_input(c->bev);

	c->lingering = true;
	if (shutdown(bufferevent_getfd(c->bev), SHUT_WR) != 0) {
		client_free(c);
		return;
	}
	c->discarded = evbuffer_get_length(in);
	evbuffer_drain(in, c->discarded);
	bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
	bufferevent_set_timeouts(c->bev, &tv, NULL);
	bufferevent_enable(c->bev, EV_READ);
}

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
	pump(c);
}

/* Runs one command; false when the client must wait (busy) or is closing. */
static bool handle(struct client *c, enum resp_step step, struct resp_cmd *cmd)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char err[CTL_ERR_MAX];
	json_t *reply = NULL;

	if (cmd->refusal < CTL_REFUSED_MAX)
		ctl_refused[cmd->refusal]++;
	if (step == RESP_REPLY || step == RESP_REPLY_CLOSE) {
		bool was_authed = c->conn.authed;
		evbuffer_add(out, cmd->reply, strlen(cmd->reply));
		if (step == RESP_REPLY_CLOSE) {
			c->quit = true;
			return false;
		}
		if (c->conn.authed && !was_authed)
			bufferevent_set_timeouts(c->bev, NULL, NULL); /* authenticated: no deadline */
		return true;
	}
	struct ctl_completion done = { on_done, c };
	int rc = ctl_dispatch(cmd->argc, cmd->argv, cmd->lens, &reply, err, sizeof(err), &done);
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

/* Runs the complete commands the reader holds, then feeds it more input, until the client
 * waits on the dataplane, closes or has nothing left. Input waits in the bufferevent while a
 * command is busy (the read high-water mark stops reading the socket). May free c. */
static void pump(struct client *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	while (!c->busy && !c->quit) {
		struct resp_cmd cmd;
		enum resp_step step = resp_conn_next(&c->conn, &cmd);
		if (step != RESP_NONE) {
			bool go_on = handle(c, step, &cmd);
			resp_cmd_done(&cmd);
			if (!go_on)
				break;
			continue;
		}
		struct evbuffer_iovec v;
		if (evbuffer_get_length(in) == 0 || evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		const char *why;
		enum ctl_refusal r;
		if (resp_conn_feed(&c->conn, v.iov_base, v.iov_len, &why, &r) != 0) {
			ctl_refused[r]++;
			evbuffer_add(bufferevent_get_output(c->bev), why, strlen(why));
			c->quit = true;
			break;
		}
		evbuffer_drain(in, v.iov_len);
	}
	if (c->quit) {
		bufferevent_disable(c->bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			linger(c);
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;

	if (c->lingering) {
		struct evbuffer *in = bufferevent_get_input(bev);
		size_t n = evbuffer_get_length(in);
		evbuffer_drain(in, n);
		c->discarded += n;
		if (c->discarded > RESP_LINGER_MAX_BYTES)
			client_free(c);
		return;
	}
	if (c->quit || c->busy)
		return;
	pump(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	(void)bev;

	if (c->quit && !c->lingering)
		linger(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;
	(void)bev;

	if (c->lingering) { /* the peer closed, or the linger ran out */
		client_free(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		ctl_refused[CTL_REFUSED_RESP_AUTH_TIMEOUT]++;
		client_free(c); /* only unauthenticated clients have a read deadline, and they are never busy */
		return;
	}
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
	struct client *c;
	struct timeval auth_tv = { RESP_AUTH_TIMEOUT_S, 0 };
	(void)socklen, (void)arg;

	if (n_clients >= RESP_MAX_CLIENTS) {
		static const char busy[] = "-ERR too many connections to fanout-control; closing\r\n";
		ctl_refused[CTL_REFUSED_RESP_CONNECTIONS]++;
		(void)!send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		evutil_closesocket(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		evutil_closesocket(fd);
		return;
	}
	n_clients++;
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) /* replies leave at once, as Redis does */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		evutil_closesocket(fd);
	if (resp_conn_init(&c->conn, token_) != 0 || c->bev == NULL) {
		client_free(c);
		return;
	}
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, RESP_READ_HIGH_WATER);
	bufferevent_set_timeouts(c->bev, &auth_tv, NULL);
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
		fprintf(stderr,
			"fanout-control: --listen %s: %s; is another fanout-control running? choose another port\n",
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
	unix_listener = evconnlistener_new(base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 64,
					   fd);
	if (unix_listener == NULL) {
		fprintf(stderr, "fanout-control: --unix '%s': listen: %s\n", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	snprintf(unix_path_, sizeof(unix_path_), "%s", path);
	return 0;
}

int resp_server_start(struct event_base *base, const char *listen, const char *unix_path, const char *token)
{
	token_ = token;
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
