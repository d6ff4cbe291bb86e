/* The dataplane's control socket: RESP over a unix stream socket, served by the main lcore
 * between its stats/signal checks (never by a packet lcore). Requests are parsed with
 * hiredis's reader, the same codec the control plane and redis-cli use, so
 * `redis-cli -s SOCKET INFO` works. Commands: PING, INFO, STATS (the JSON snapshot), QUIT. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <hiredis/hiredis.h> /* redisReaderCreate() builds redisReply objects */

#include "control_socket.h"
#include "dataplane.h"

#define CTL_MAX_CLIENTS 16
#define CTL_MAX_REQUEST (1u << 20) /* a client that sends more without a full command is cut */

struct ctl_client {
	int fd;
	redisReader *reader;
	size_t buffered;
};

static int listen_fd = -1;
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static struct ctl_client clients[CTL_MAX_CLIENTS];

int fo_ctl_open(const char *path, mode_t mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "control socket '%s': path longer than %zu bytes; choose a shorter one\n", path,
			sizeof(sa.sun_path) - 1);
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "control socket: socket(): %s\n", strerror(errno));
		return -1;
	}
	unlink(path); /* a stale socket from a previous run */
	mode_t old = umask(0777 & ~mode);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0 || chmod(path, mode) != 0 || listen(fd, 16) != 0) {
		fprintf(stderr, "control socket '%s': %s; check the directory exists and is writable\n", path,
			strerror(errno));
		close(fd);
		return -1;
	}
	snprintf(sock_path, sizeof(sock_path), "%s", path);
	listen_fd = fd;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		clients[i].fd = -1;
	return 0;
}

static void drop_client(struct ctl_client *c)
{
	close(c->fd);
	redisReaderFree(c->reader);
	c->fd = -1;
	c->reader = NULL;
}

/* Blocking-ish write of a whole reply: replies are small and the peer is a local tool;
 * a peer that stops reading is dropped after a bounded wait rather than stalling stats. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			if (poll(&p, 1, 1000) <= 0)
				return -1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return -1;
	}
	return 0;
}

static int reply_bulk(int fd, const char *s, size_t len)
{
	char hdr[32];
	int h = snprintf(hdr, sizeof(hdr), "$%zu\r\n", len);
	if (write_all(fd, hdr, (size_t)h) || write_all(fd, s, len) || write_all(fd, "\r\n", 2))
		return -1;
	return 0;
}

static int reply_error(int fd, const char *msg)
{
	char b[256];
	int n = snprintf(b, sizeof(b), "-ERR %s\r\n", msg);
	return write_all(fd, b, (size_t)n);
}

/* INFO: redis-style "key:value" lines, grouped in sections. */
static int cmd_info(int fd)
{
	struct fo_counters t;
	fo_stats_sum(&t);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return reply_error(fd, "out of memory");
	double up = (double)(rte_get_tsc_cycles() - fo_dp.start_tsc) / (double)fo_dp.tsc_hz;
	fprintf(f, "# Server\r\nfanout_version:%s\r\nprocess:fanout-dataplane\r\nuptime_s:%.3f\r\nworkers:%u\r\n"
		   "tx_lcores:%u\r\nports:%u\r\n",
		FANOUT_VERSION, up, fo_dp.n_workers, fo_dp.n_tx, fo_dp.n_ports);
	uint64_t sessions = 0, topics = 0, subs = 0, inflight = 0;
	for (uint32_t w = 0; w < fo_dp.n_workers; w++) {
		const struct broker *b = fo_dp.workers[w].broker;
		if (!b)
			continue;
		sessions += broker_session_count(b);
		topics += broker_topic_count(b);
		subs += broker_subscription_count(b);
		inflight += broker_inflight_count(b);
	}
	fprintf(f, "\r\n# Mqttsn\r\nsessions:%lu\r\ntopics:%lu\r\nsubscriptions:%lu\r\ninflight_qos1:%lu\r\n", sessions,
		topics, subs, inflight);
	int64_t in_pipe = (int64_t)t.rx - (int64_t)(t.delivered + t.answered + t.dropped);
	fprintf(f, "\r\n# Stats\r\nrx:%lu\r\ndelivered:%lu\r\nanswered:%lu\r\ndropped:%lu\r\nin_pipeline:%ld\r\n"
		   "out_generated:%lu\r\nout_sent:%lu\r\nout_dropped:%lu\r\ndeliveries:%lu\r\n",
		t.rx, t.delivered, t.answered, t.dropped, in_pipe, t.out_generated, t.out_sent, t.out_dropped,
		t.ev[FO_EV_DELIVERIES]);
	fprintf(f, "\r\n# Drops\r\n");
	for (int i = 0; i < FO_DROP_MAX; i++)
		if (t.drop[i])
			fprintf(f, "drop_%s:%lu\r\n", fo_drop_names[i], t.drop[i]);
	for (int i = 0; i < FO_OUT_DROP_MAX; i++)
		if (t.out_drop[i])
			fprintf(f, "out_drop_%s:%lu\r\n", fo_out_drop_names[i], t.out_drop[i]);
	if (fclose(f) != 0) {
		free(buf);
		return reply_error(fd, "out of memory");
	}
	int rc = reply_bulk(fd, buf, len);
	free(buf);
	return rc;
}

static int cmd_stats(int fd)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return reply_error(fd, "out of memory");
	fo_stats_write_json_stream(f, "control");
	if (fclose(f) != 0) {
		free(buf);
		return reply_error(fd, "out of memory");
	}
	int rc = reply_bulk(fd, buf, len);
	free(buf);
	return rc;
}

/* Returns < 0 when the connection should close. */
static int execute(int fd, const redisReply *r)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements == 0 || r->element[0]->type != REDIS_REPLY_STRING)
		return reply_error(fd, "expected a command as an array of bulk strings");
	const char *cmd = r->element[0]->str;
	if (strcasecmp(cmd, "PING") == 0)
		return r->elements > 1 ? reply_bulk(fd, r->element[1]->str, r->element[1]->len)
				       : write_all(fd, "+PONG\r\n", 7);
	if (strcasecmp(cmd, "INFO") == 0)
		return cmd_info(fd);
	if (strcasecmp(cmd, "STATS") == 0)
		return cmd_stats(fd);
	if (strcasecmp(cmd, "QUIT") == 0) {
		write_all(fd, "+OK\r\n", 5);
		return -1;
	}
	if (strcasecmp(cmd, "COMMAND") == 0) /* redis-cli asks this at start; an empty list is fine */
		return write_all(fd, "*0\r\n", 4);
	char msg[128];
	snprintf(msg, sizeof(msg), "unknown command '%.40s'; try PING, INFO, STATS, QUIT", cmd);
	return reply_error(fd, msg);
}

static void serve_client(struct ctl_client *c)
{
	char buf[4096];
	for (;;) {
		ssize_t n = read(c->fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			drop_client(c);
			return;
		}
		if (n < 0)
			break;
		c->buffered += (size_t)n;
		if (c->buffered > CTL_MAX_REQUEST || redisReaderFeed(c->reader, buf, (size_t)n) != REDIS_OK) {
			reply_error(c->fd, "request too large or unreadable");
			drop_client(c);
			return;
		}
	}
	for (;;) {
		void *reply = NULL;
		if (redisReaderGetReply(c->reader, &reply) != REDIS_OK) {
			reply_error(c->fd, "protocol error: expected RESP");
			drop_client(c);
			return;
		}
		if (!reply)
			break;
		int rc = execute(c->fd, reply);
		freeReplyObject(reply);
		c->buffered = 0;
		if (rc < 0) {
			drop_client(c);
			return;
		}
	}
}

void fo_ctl_poll(int timeout_ms)
{
	if (listen_fd < 0) {
		if (timeout_ms > 0)
			usleep((useconds_t)timeout_ms * 1000);
		return;
	}
	struct pollfd pfd[CTL_MAX_CLIENTS + 1];
	struct ctl_client *owner[CTL_MAX_CLIENTS + 1];
	int n = 0;
	pfd[n].fd = listen_fd;
	pfd[n].events = POLLIN;
	owner[n++] = NULL;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (clients[i].fd >= 0) {
			pfd[n].fd = clients[i].fd;
			pfd[n].events = POLLIN;
			owner[n++] = &clients[i];
		}
	if (poll(pfd, (nfds_t)n, timeout_ms) <= 0)
		return;
	for (int i = 1; i < n; i++)
		if (pfd[i].revents)
			serve_client(owner[i]);
	if (pfd[0].revents & POLLIN) {
		int fd;
		while ((fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
			int slot = -1;
			for (int i = 0; i < CTL_MAX_CLIENTS; i++)
				if (clients[i].fd < 0) {
					slot = i;
					break;
				}
			redisReader *rd = slot >= 0 ? redisReaderCreate() : NULL;
			if (!rd) {
				static const char busy[] = "-ERR too many control connections\r\n";
				(void)!write(fd, busy, sizeof(busy) - 1);
				close(fd);
				continue;
			}
			clients[slot] = (struct ctl_client){ .fd = fd, .reader = rd };
		}
	}
}

void fo_ctl_close(void)
{
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (clients[i].fd >= 0)
			drop_client(&clients[i]);
	if (listen_fd >= 0) {
		close(listen_fd);
		unlink(sock_path);
		listen_fd = -1;
	}
}
