/* --member specs (see fleet_member.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet_member.h"

#define FL_FORM "NAME=tcp:HOST:PORT,token-file=PATH or NAME=unix:PATH,token-file=PATH"

static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || n > FL_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '.' || c == '-'))
			return false;
	}
	return true;
}

static int parse_tcp(const char *s, size_t n, struct fl_member_spec *m, char *err, size_t errlen)
{
	const char *colon, *host = s;
	size_t hl;

	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (close == NULL || (size_t)(close - s) + 1 >= n || close[1] != ':') {
			snprintf(err, errlen, "member address '%.*s': an IPv6 address is [ADDR]:PORT", (int)n, s);
			return -1;
		}
		host = s + 1;
		hl = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = NULL;
		for (size_t i = n; i > 0; i--)
			if (s[i - 1] == ':') {
				colon = s + i - 1;
				break;
			}
		if (colon == NULL) {
			snprintf(err, errlen, "member address '%.*s' has no port; give tcp:HOST:PORT", (int)n, s);
			return -1;
		}
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(m->host) || (s[0] != '[' && memchr(host, ':', hl) != NULL)) {
		snprintf(err, errlen, "member address '%.*s': give tcp:HOST:PORT (IPv6 as [ADDR]:PORT)", (int)n, s);
		return -1;
	}
	memcpy(m->host, host, hl);
	m->host[hl] = '\0';
	const char *p = colon + 1;
	size_t pl = n - (size_t)(p - s);
	char buf[8];
	if (pl == 0 || pl >= sizeof(buf) || strspn(p, "0123456789") < pl) {
		snprintf(err, errlen, "member port '%.*s': give a number in 1..65535", (int)(pl > 20 ? 20 : pl), p);
		return -1;
	}
	memcpy(buf, p, pl);
	buf[pl] = '\0';
	unsigned long v = strtoul(buf, NULL, 10);
	if (v == 0 || v > 65535) {
		snprintf(err, errlen, "member port '%s': give a number in 1..65535", buf);
		return -1;
	}
	m->port = (unsigned)v;
	return 0;
}

int fl_member_parse(const char *spec, struct fl_member_spec *m, char *err, size_t errlen)
{
	const char *eq = strchr(spec, '=');

	memset(m, 0, sizeof(*m));
	if (eq == NULL || !name_ok(spec, (size_t)(eq - spec))) {
		snprintf(err, errlen,
			 "--member '%.80s': start with a name of 1..%d characters of A-Za-z0-9_.-, then =; the form is "
			 "%s",
			 spec, FL_NAME_MAX, FL_FORM);
		return -1;
	}
	memcpy(m->name, spec, (size_t)(eq - spec));
	const char *ep = eq + 1, *comma = strchr(ep, ',');
	size_t el = comma ? (size_t)(comma - ep) : strlen(ep);
	if (el > 4 && strncmp(ep, "tcp:", 4) == 0) {
		m->transport = FL_TCP;
		if (parse_tcp(ep + 4, el - 4, m, err, errlen) != 0)
			return -1;
	} else if (el > 5 && strncmp(ep, "unix:", 5) == 0) {
		m->transport = FL_UNIX;
		if (el - 5 >= sizeof(m->path)) {
			snprintf(err, errlen, "member %s: the socket path is longer than %zu bytes", m->name,
				 sizeof(m->path) - 1);
			return -1;
		}
		memcpy(m->path, ep + 5, el - 5);
	} else {
		snprintf(err, errlen,
			 "member %s: the endpoint '%.*s' is neither tcp:HOST:PORT nor unix:PATH; the form is %s",
			 m->name, (int)(el > 80 ? 80 : el), ep, FL_FORM);
		return -1;
	}
	while (comma != NULL) {
		const char *opt = comma + 1;
		comma = strchr(opt, ',');
		size_t ol = comma ? (size_t)(comma - opt) : strlen(opt);
		if (ol > 11 && strncmp(opt, "token-file=", 11) == 0) {
			if (ol - 11 >= sizeof(m->token_file)) {
				snprintf(err, errlen, "member %s: token-file path too long", m->name);
				return -1;
			}
			memcpy(m->token_file, opt + 11, ol - 11);
			m->token_file[ol - 11] = '\0';
		} else {
			snprintf(err, errlen, "member %s: unknown option '%.*s'; the only option is token-file=PATH",
				 m->name, (int)(ol > 40 ? 40 : ol), opt);
			return -1;
		}
	}
	if (m->token_file[0] == '\0') {
		snprintf(err, errlen,
			 "member %s: no token-file=PATH; every member fanout-control needs its token (its STATE_DIR/"
			 "control.token)",
			 m->name);
		return -1;
	}
	return 0;
}

int fl_members_check(const struct fl_member_spec *ms, unsigned n, char *err, size_t errlen)
{
	if (n > FL_MAX_MEMBERS) {
		snprintf(err, errlen, "%u members: at most %d", n, FL_MAX_MEMBERS);
		return -1;
	}
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			if (strcmp(ms[i].name, ms[j].name) == 0) {
				snprintf(err, errlen, "two members are named '%s'; give each its own name", ms[i].name);
				return -1;
			}
	return 0;
}

void fl_member_endpoint(const struct fl_member_spec *m, char *buf, size_t n)
{
	if (m->transport == FL_UNIX)
		snprintf(buf, n, "unix:%s", m->path);
	else if (strchr(m->host, ':'))
		snprintf(buf, n, "tcp:[%s]:%u", m->host, m->port);
	else
		snprintf(buf, n, "tcp:%s:%u", m->host, m->port);
}
