/* The members of a fleet: each a fanout-control that runs one appliance, reached over RESP on TCP
 * or a unix socket and authenticated with that fanout-control's token. `--member` specs are parsed
 * here; pure (no sockets), so the unit tests drive it. */
#ifndef FANOUT_CONTROL_FLEET_MEMBER_H
#define FANOUT_CONTROL_FLEET_MEMBER_H

#include <stdbool.h>
#include <stddef.h>

#define FL_MAX_MEMBERS 16
#define FL_NAME_MAX 32

enum fl_transport { FL_TCP, FL_UNIX };

struct fl_member_spec {
	char name[FL_NAME_MAX + 1]; /* [A-Za-z0-9_.-], the `appliance` label */
	enum fl_transport transport;
	char host[256]; /* FL_TCP: a name or an address ([v6] in brackets on the command line) */
	unsigned port;
	char path[108];        /* FL_UNIX: sun_path */
	char token_file[4096]; /* the member fanout-control's token */
};

/* NAME=tcp:HOST:PORT,token-file=PATH or NAME=unix:PATH,token-file=PATH. -1 with err naming what
 * is wrong and showing the form. */
int fl_member_parse(const char *spec, struct fl_member_spec *m, char *err, size_t errlen);
/* A set of members: names unique, at most FL_MAX_MEMBERS. -1 with err. */
int fl_members_check(const struct fl_member_spec *ms, unsigned n, char *err, size_t errlen);
/* "tcp:host:port" or "unix:path" into buf. */
void fl_member_endpoint(const struct fl_member_spec *m, char *buf, size_t n);

#endif
