/* fanoutctl: the operator's CLI. A synchronous hiredis client of fanout-control's RESP port
 * (docs/control.md "fanoutctl"): each subcommand is one (or, for `top`, a few repeated)
 * fanout-control commands whose JSON replies fanoutctl_render.c turns into tables.
 * Exit codes: 0 ok, 1 refused, 2 usage, 3 fanout-control unreachable, 4 dataplane unreachable. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ctl_auth.h"
#include "ctl_commands.h"
#include "fanoutctl_format.h"
#include "fanoutctl_render.h"

#ifndef FANOUT_VERSION
#define FANOUT_VERSION "dev"
#endif

enum {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,
	EXIT_USAGE = 2,
	EXIT_CONTROL_DOWN = 3,
	EXIT_DATAPLANE_DOWN = 4,
};

#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 7379
#define DEFAULT_TOKEN_FILE "/var/lib/fanout/" CTL_TOKEN_FILE
#define CONNECT_TIMEOUT_MS 2000
#define COMMAND_TIMEOUT_MS 30000 /* CONFIG APPLY compiles a route table; give it room */

struct ctl {
	/* where fanout-control is */
	const char *unix_path;
	char host[256];
	int port;
	char where[300]; /* "127.0.0.1:7379" or the socket path, for messages */
	bool json;
	const char *token_file; /* --token-file; NULL: FANOUT_TOKEN, FANOUT_TOKEN_FILE, DEFAULT_TOKEN_FILE */
	char token[CTL_TOKEN_MAX + 1];
	redisContext *rc;
};

/* A subcommand's arguments after the global options: positionals and the options it takes. */
struct args {
	int argc;
	char **argv;
};

/* ---- connection and replies ---------------------------------------------------------- */

static void describe_where(struct ctl *c)
{
	if (c->unix_path)
		snprintf(c->where, sizeof(c->where), "%s", c->unix_path);
	else
		snprintf(c->where, sizeof(c->where), "%s:%d", c->host, c->port);
}

/* The token: --token-file, else FANOUT_TOKEN (the token itself), else FANOUT_TOKEN_FILE, else
 * DEFAULT_TOKEN_FILE. 0, or -1 with the reason on stderr. */
static int load_token(struct ctl *c)
{
	char err[512];
	const char *env = getenv("FANOUT_TOKEN");
	const char *file = c->token_file;

	if (!file && env && *env) {
		if (strlen(env) >= sizeof(c->token)) {
			fprintf(stderr, "fanoutctl: FANOUT_TOKEN is longer than %d characters\n", CTL_TOKEN_MAX);
			return -1;
		}
		snprintf(c->token, sizeof(c->token), "%s", env);
		return 0;
	}
	if (!file)
		file = getenv("FANOUT_TOKEN_FILE");
	if (!file || !*file)
		file = DEFAULT_TOKEN_FILE;
	if (ctl_token_load(file, false, c->token, sizeof(c->token), err, sizeof(err)) != 0) {
		fprintf(stderr, "fanoutctl: %s\n", err);
		return -1;
	}
	return 0;
}

/* AUTH on a new connection. */
static int ctl_auth(struct ctl *c)
{
	if (!c->token[0] && load_token(c) != 0) {
		redisFree(c->rc);
		c->rc = NULL;
		return EXIT_REFUSED;
	}
	redisReply *r = redisCommand(c->rc, "AUTH %s", c->token);
	int rc = EXIT_OK;
	if (!r) {
		fprintf(stderr, "fanoutctl: lost the connection to fanout-control at %s during AUTH: %s\n", c->where,
			c->rc->errstr[0] ? c->rc->errstr : "closed");
		rc = EXIT_CONTROL_DOWN;
	} else if (r->type == REDIS_REPLY_ERROR) {
		fprintf(stderr,
			"fanoutctl: fanout-control at %s refused the token: %s; pass fanout-control's token file "
			"(STATE_DIR/" CTL_TOKEN_FILE ") with --token-file or FANOUT_TOKEN_FILE\n",
			c->where, r->str);
		rc = EXIT_REFUSED;
	}
	if (r)
		freeReplyObject(r);
	if (rc != EXIT_OK) {
		redisFree(c->rc);
		c->rc = NULL;
	}
	return rc;
}

static int ctl_connect(struct ctl *c)
{
	struct timeval tv = { CONNECT_TIMEOUT_MS / 1000, (CONNECT_TIMEOUT_MS % 1000) * 1000 };
	c->rc = c->unix_path ? redisConnectUnixWithTimeout(c->unix_path, tv)
			     : redisConnectWithTimeout(c->host, c->port, tv);
	if (!c->rc || c->rc->err) {
		fprintf(stderr,
			"fanoutctl: fanout-control is not reachable at %s: %s; start it with "
			"`fanout-control --dataplane SOCKET --state-dir DIR ...` or pass -s SOCKET / -h HOST -p PORT "
			"(or set FANOUT_CONTROL)\n",
			c->where, c->rc ? c->rc->errstr : "out of memory");
		if (c->rc)
			redisFree(c->rc);
		c->rc = NULL;
		return EXIT_CONTROL_DOWN;
	}
	struct timeval ct = { COMMAND_TIMEOUT_MS / 1000, (COMMAND_TIMEOUT_MS % 1000) * 1000 };
	redisSetTimeout(c->rc, ct);
	return ctl_auth(c);
}

/* fanout-control signals "I am up but the dataplane is not" with an error reply starting
 * "dataplane unreachable" (after "ERR "), or the error code DATAPLANE (docs/control.md); any
 * other error is a refusal. */
static bool is_dataplane_error(const char *s)
{
	if (!strncmp(s, "ERR ", 4))
		s += 4;
	return !strncmp(s, "DATAPLANE", 9) || !strncasecmp(s, "dataplane unreachable", 21);
}

static const char *strip_err(const char *s)
{
	return !strncmp(s, "ERR ", 4) ? s + 4 : s;
}

/* Sends argv; on success *out holds the reply (caller frees). Returns an exit code and
 * prints why when it is not 0. */
static int ctl_call(struct ctl *c, int argc, const char **argv, const size_t *lens, redisReply **out)
{
	*out = NULL;
	if (!c->rc) {
		int rc = ctl_connect(c);
		if (rc)
			return rc;
	}
	size_t l[64];
	if (argc < 0 || argc > 64) {
		fprintf(stderr, "fanoutctl: too many arguments\n");
		return EXIT_USAGE;
	}
	for (int i = 0; i < argc; i++)
		l[i] = lens ? lens[i] : strlen(argv[i]);
	redisReply *r = redisCommandArgv(c->rc, argc, argv, l);
	if (!r) {
		fprintf(stderr,
			"fanoutctl: lost the connection to fanout-control at %s during %s: %s; check that it is "
			"running (`systemctl status fanout-control` or its log)\n",
			c->where, argv[0], c->rc->errstr[0] ? c->rc->errstr : "closed");
		redisFree(c->rc);
		c->rc = NULL;
		return EXIT_CONTROL_DOWN;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		bool dp = is_dataplane_error(r->str);
		const char *m = strip_err(r->str);
		fputs("fanoutctl: ", stderr);
		fctl_fwrite_safe(stderr, m, r->len - (size_t)(m - r->str));
		fputc('\n', stderr);
		freeReplyObject(r);
		return dp ? EXIT_DATAPLANE_DOWN : EXIT_REFUSED;
	}
	*out = r;
	return EXIT_OK;
}

static int ctl_call_v(struct ctl *c, redisReply **out, int argc, ...)
{
	const char *argv[16];
	va_list ap;
	if (argc < 0 || argc > 16)
		return EXIT_USAGE;
	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, const char *);
	va_end(ap);
	return ctl_call(c, argc, argv, NULL, out);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct fctl_view view_now(void)
{
	struct fctl_view v = { .now_ms = now_ms(), .width = 0 };
	struct winsize ws;
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
		v.width = ws.ws_col;
	return v;
}

typedef char *(*render_fn)(const json_t *, const struct fctl_view *);

/* Prints a reply: --json pretty-prints it, otherwise render() makes the text. A reply that
 * is not JSON (+OK, plain text) is printed as it came. */
static int print_reply(struct ctl *c, redisReply *r, render_fn render)
{
	if (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_INTEGER || r->type == REDIS_REPLY_NIL) {
		if (r->type == REDIS_REPLY_INTEGER)
			printf("%lld\n", r->integer);
		else if (r->type == REDIS_REPLY_STATUS) {
			fctl_fwrite_safe(stdout, r->str, r->len);
			putchar('\n');
		}
		return EXIT_OK;
	}
	if (r->type != REDIS_REPLY_STRING) {
		fprintf(stderr,
			"fanoutctl: unexpected reply type %d from fanout-control; are fanoutctl and "
			"fanout-control the same version?\n",
			r->type);
		return EXIT_REFUSED;
	}
	json_error_t e;
	json_t *j = json_loadb(r->str, r->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	if (!j) {
		fctl_fwrite_safe(stdout, r->str, r->len);
		if (r->len && r->str[r->len - 1] != '\n')
			putchar('\n');
		return EXIT_OK;
	}
	if (c->json) {
		/* ASCII only: control characters (C0, C1) leave as \u escapes, never raw */
		char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
		printf("%s\n", s ? s : "null");
		free(s);
	} else {
		struct fctl_view v = view_now();
		char *s = render(fctl_sanitize_json(j), &v);
		if (s)
			fputs(s, stdout);
		free(s);
	}
	json_decref(j);
	return EXIT_OK;
}

static int simple(struct ctl *c, render_fn render, int argc, const char **argv)
{
	redisReply *r;
	int rc = ctl_call(c, argc, argv, NULL, &r);
	if (rc)
		return rc;
	rc = print_reply(c, r, render);
	freeReplyObject(r);
	return rc;
}

/* ---- usage -------------------------------------------------------------------------- */

static const char *const usage_head =
	"usage: fanoutctl [-s SOCKET | -h HOST -p PORT] [--token-file PATH] [--json] COMMAND [ARGS]\n"
	"\n"
	"The operator's client of fanout-control (default 127.0.0.1:7379; env FANOUT_CONTROL=host:port\n"
	"or a socket path). It authenticates with fanout-control's token: --token-file PATH, else env\n"
	"FANOUT_TOKEN (the token) or FANOUT_TOKEN_FILE, else " DEFAULT_TOKEN_FILE ".\n"
	"\n"
	"Commands:\n";
static const char *const usage_tail =
	"\n"
	"Options: --json prints the reply as JSON; COMMAND --help explains one command and the fanout-control\n"
	"command it sends. Exit codes: 0 ok, 1 refused, 2 usage, 3 fanout-control unreachable, 4 dataplane\n"
	"unreachable.\n";

static int cmd_status(struct ctl *c, struct args *a);
static int cmd_stats(struct ctl *c, struct args *a);
static int cmd_top(struct ctl *c, struct args *a);
static int cmd_sessions(struct ctl *c, struct args *a);
static int cmd_topics(struct ctl *c, struct args *a);
static int cmd_subscriptions(struct ctl *c, struct args *a);
static int cmd_routes(struct ctl *c, struct args *a);
static int cmd_outputs(struct ctl *c, struct args *a);
static int cmd_config(struct ctl *c, struct args *a);
static int cmd_rollout(struct ctl *c, struct args *a);
static int cmd_history(struct ctl *c, struct args *a);
static int cmd_dashboard(struct ctl *c, struct args *a);
static int cmd_xdp(struct ctl *c, struct args *a);
static int cmd_block(struct ctl *c, struct args *a);
static int cmd_limit(struct ctl *c, struct args *a);
static int cmd_fleet(struct ctl *c, struct args *a);

/* fanoutctl's commands: name, handler, the usage line of the overview, the fanout-control commands
 * it sends (names of ctl_commands.h's table; their synopses and help are printed from there) and
 * the text of COMMAND --help. */
struct verb {
	const char *name;
	int (*fn)(struct ctl *c, struct args *a);
	const char *line;
	const char *sends[2];
	const char *text;
};

static const struct verb verbs[] = {
	{ "status",
	  cmd_status,
	  "status                     control, dataplane link, generations, rollout summary",
	  { "STATUS" },
	  "usage: fanoutctl status [--json]\n\n"
	  "fanout-control's own state, its link to the dataplane, the stable and canary generations,\n"
	  "the canary share and mode, and the rollout's step. Exits 4 if the dataplane is unreachable.\n" },
	{ "stats",
	  cmd_stats,
	  "stats                      dataplane totals, rates, drops by reason, per-generation figures",
	  { "STATS" },
	  "usage: fanoutctl stats [--json]\n\n"
	  "The latest dataplane snapshot: totals, rates per second, drops by reason, per-generation\n"
	  "msgs/s, drop rate and latency percentiles.\n" },
	{ "top",
	  cmd_top,
	  "top [--interval 1s] [--count N]   live view of rates, drops, generations and the rollout",
	  { "STATS", "ROLLOUT" },
	  "usage: fanoutctl top [--interval DURATION] [--count N]\n\n"
	  "Redraws every --interval (default 1s): rx and delivery rates, drops by reason, per-generation\n"
	  "msgs/s, drop rate and p99, the canary share and the rollout step. --count N stops after N\n"
	  "frames (default: until Ctrl-C). Without a terminal, frames are printed one after another.\n" },
	{ "sessions",
	  cmd_sessions,
	  "sessions|topics|subscriptions [--count N]   the dataplane's tables",
	  { "SESSIONS" },
	  "usage: fanoutctl sessions [--count N] [--json]\n\nMQTT-SN sessions (default at most 1000).\n" },
	{ "topics",
	  cmd_topics,
	  NULL,
	  { "TOPICS" },
	  "usage: fanoutctl topics [--count N] [--json]\n\nRegistered topic names per worker.\n" },
	{ "subscriptions",
	  cmd_subscriptions,
	  NULL,
	  { "SUBSCRIPTIONS" },
	  "usage: fanoutctl subscriptions [--count N] [--json]\n\nSubscriptions per client.\n" },
	{ "routes",
	  cmd_routes,
	  "routes                     stable and canary routes (UDP, sink, bridge) with their counters",
	  { "ROUTES" },
	  "usage: fanoutctl routes [--json]\n\n"
	  "The stable and canary route tables. UDP routes: matched, copies sent, copies dropped. Sink and\n"
	  "bridge routes: target, stream or topic template, matched, queued, written, dropped (failed +\n"
	  "ring full + pool empty, broken down below the table) and backlog; counts since the generation\n"
	  "was created.\n" },
	{ "outputs",
	  cmd_outputs,
	  "outputs                    Redis Streams sinks and MQTT bridges: connection, backlog, written/s, errors",
	  { "OUTPUTS" },
	  "usage: fanoutctl outputs [--json]\n\n"
	  "The dataplane's Redis Streams sinks and MQTT bridges: connected or not, backlog, entries in\n"
	  "flight, written per second (over fanout-control's last poll) and in total, failed, reconnects,\n"
	  "errors and the batch round trip (p50, p99); then each one's server, batch sizes, bridge\n"
	  "traffic from upstream and last error. Exits 4 if the dataplane is unreachable (the figures\n"
	  "shown are then its last ones).\n" },
	{ "config",
	  cmd_config,
	  "config apply FILE [--now]  new generation from a YAML file (canary at share 0, or stable with --now)\n"
	  "  config diff FILE           what FILE would change against the stable generation\n"
	  "  config history             config versions\n"
	  "  config show ID             one version's YAML",
	  { "CONFIG" },
	  "usage: fanoutctl config apply FILE [--now]\n"
	  "       fanoutctl config diff FILE\n"
	  "       fanoutctl config history\n"
	  "       fanoutctl config show ID\n\n"
	  "apply: validate FILE (YAML; - for stdin), diff it against stable and load it as the canary\n"
	  "  generation at share 0, ready for `fanoutctl rollout start`; --now makes it stable at once.\n"
	  "  A config that changes keys needing a restart is refused (exit 1) with the list of keys.\n"
	  "diff: what apply would change, without changing anything.\n"
	  "history: the versions fanout-control keeps; show ID: one version's YAML.\n" },
	{ "rollout",
	  cmd_rollout,
	  "rollout start [--steps 1,5,25,50,100] [--hold 10s] [--mode split|mirror] [--gate EXPR]... [--no-auto]\n"
	  "  rollout status|pause|resume|promote|abort|rollback",
	  { "ROLLOUT" },
	  "usage: fanoutctl rollout start [--steps 1,5,25,50,100] [--hold 10s] [--mode split|mirror]\n"
	  "                             [--gate 'drop_rate<0.01']... [--no-auto]\n"
	  "       fanoutctl rollout status|pause|resume|promote|abort|rollback\n\n"
	  "start: move the canary generation's share through --steps (percent), holding each step for\n"
	  "  --hold while the gates hold; a gate that fails rolls back by itself. --no-auto waits for\n"
	  "  `rollout resume` at each step. Gates: drop_rate, error_rate, p99_us, delta_drop_rate,\n"
	  "  sink_errors (the canary's sink and bridge route drops in the hold window: failed + ring\n"
	  "  full + pool empty), each `metric<threshold`.\n"
	  "status: the plan, the step, the share, the gates' latest values.\n"
	  "pause/resume: hold the current step / continue.\n"
	  "promote: the canary becomes stable. abort: stop the rollout and set the share to 0.\n"
	  "rollback: share 0 in one swap; prints the time it took.\n" },
	{ "history",
	  cmd_history,
	  "history [--count N]        rollout and config events, newest last",
	  { "HISTORY" },
	  "usage: fanoutctl history [--count N] [--json]\n\nRollout and config events, newest last.\n" },
	{ "dashboard",
	  cmd_dashboard,
	  "dashboard                  the dashboard's URL, with the token in its #fragment (never sent to a server)",
	  { "STATUS" },
	  "usage: fanoutctl dashboard\n\n"
	  "Prints the dashboard's URL (fanout-control's --http address, from STATUS) with the token after\n"
	  "#token=. Browsers do not send the fragment to the server, so the token stays out of logs and\n"
	  "Referer headers; the page keeps it in sessionStorage and removes it from the address bar.\n" },
	{ "xdp",
	  cmd_xdp,
	  "xdp                        the XDP pre-filter: pins, rate limit, verdict counters",
	  { "XDP" },
	  "usage: fanoutctl xdp [--json]\n\n"
	  "For each port the dataplane runs behind the XDP pre-filter (net_af_xdp with xdp_prog=): where its\n"
	  "maps are pinned, the per-source rate limit and the packets of each verdict (redirected to the\n"
	  "appliance, passed to the kernel, blocked, rate limited, no socket). Exits 1 without such a port.\n" },
	{ "block",
	  cmd_block,
	  "block add|del PREFIX       drop a source (IPv4/IPv6 address or prefix) in XDP / stop dropping it\n"
	  "  block list                 the blocklist with the packets each prefix dropped",
	  { "BLOCK" },
	  "usage: fanoutctl block add PREFIX\n"
	  "       fanoutctl block del PREFIX\n"
	  "       fanoutctl block list [--json]\n\n"
	  "The XDP pre-filter's blocklist (longest-prefix match, IPv4 and IPv6): packets from a listed source\n"
	  "are dropped in XDP, whatever they are for, and counted (verdict blocked, and per prefix).\n"
	  "PREFIX is 198.18.0.7, 198.18.0.0/24, 2001:db8::/32; host bits must be zero. del of a prefix\n"
	  "not listed exits 1. The list lives in the maps the dataplane pinned: it ends with the dataplane.\n" },
	{ "limit",
	  cmd_limit,
	  "limit set PPS [BURST]      per-source packet rate to the appliance in XDP (0: off)",
	  { "LIMIT" },
	  "usage: fanoutctl limit set PPS [BURST]\n\n"
	  "Each source may send the appliance at most PPS packets/s after a burst of BURST (default PPS);\n"
	  "the excess is dropped in XDP (verdict rate_limited). Only traffic for the appliance counts:\n"
	  "what goes to the kernel is never limited. Every source starts again from a full burst.\n" },
	{ "fleet",
	  cmd_fleet,
	  "fleet status|stats|rollout|abort|rollback   the member appliances of a fleet fanout-control\n"
	  "  fleet apply [--appliance NAME] FILE [--now]\n"
	  "  fleet start [--order fleet|each] [--steps ..] [--hold ..] [--mode ..] [--gate EXPR]...",
	  { "FLEET" },
	  "usage: fanoutctl fleet status|stats|rollout|abort|rollback [--json]\n"
	  "       fanoutctl fleet apply [--appliance NAME] FILE [--now]\n"
	  "       fanoutctl fleet start [--order fleet|each] [--steps 1,5,25,50,100] [--hold 10s]\n"
	  "                             [--mode split|mirror] [--gate 'drop_rate<0.01']...\n\n"
	  "For a fanout-control started with --member (one per appliance, each that appliance's own\n"
	  "fanout-control).\n"
	  "status: each appliance: link, dataplane, stable and canary generations, share, its rollout;\n"
	  "  exits 4 when an appliance's fanout-control cannot be reached.\n"
	  "stats: each appliance's totals and rx rate, and their sum over the appliances whose dataplane is up.\n"
	  "apply: CONFIG APPLY of FILE on one appliance (--appliance NAME) or on every one (default).\n"
	  "start: roll the appliances' canaries out with one plan; each appliance holds each step and\n"
	  "  judges the gates on its own dataplane. --order fleet (default): every appliance at each step\n"
	  "  together; --order each: one appliance at a time through every step, all promoted together\n"
	  "  at the end. A gate that fails on any appliance, or an appliance that cannot be reached,\n"
	  "  rolls every appliance the rollout started back at once.\n"
	  "rollout: the fleet rollout and each appliance's part. abort/rollback: share 0 on every appliance.\n" },
};
#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

static void usage(FILE *f)
{
	char syn[192];

	fputs(usage_head, f);
	for (size_t i = 0; i < N_VERBS; i++)
		if (verbs[i].line)
			fprintf(f, "  %s\n", verbs[i].line);
	fputs(usage_tail, f);
	fputs("\nfanout-control's commands, which these send (its RESP port takes them from redis-cli too):\n", f);
	for (int i = 0; i < CTL_CMD_MAX; i++) {
		ctl_cmd_synopsis(i, syn, sizeof(syn));
		fprintf(f, "  %s\n", syn);
	}
}

static int help_for(const char *name)
{
	char syn[192];

	for (size_t i = 0; i < N_VERBS; i++) {
		if (strcmp(verbs[i].name, name))
			continue;
		fputs(verbs[i].text, stdout);
		fputs("\nSends to fanout-control:\n", stdout);
		for (int k = 0; k < CTL_CMD_MAX; k++)
			for (size_t j = 0; j < 2 && verbs[i].sends[j]; j++)
				if (!strcmp(ctl_cmd_info[k].name, verbs[i].sends[j])) {
					ctl_cmd_synopsis(k, syn, sizeof(syn));
					printf("  %-40s %s\n", syn, ctl_cmd_info[k].help);
				}
		return EXIT_OK;
	}
	usage(stdout);
	return EXIT_OK;
}

static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "fanoutctl: ");
	fprintf(stderr, fmt, arg);
	if (*cmd)
		fprintf(stderr, "; see `fanoutctl %s --help`\n", cmd);
	else
		fprintf(stderr, "; see `fanoutctl --help`\n");
	return EXIT_USAGE;
}

/* Takes --json and --help out of a subcommand's arguments (they are valid anywhere). */
static int common_opts(struct ctl *c, const char *cmd, struct args *a)
{
	int o = 0;
	for (int i = 0; i < a->argc; i++) {
		if (!strcmp(a->argv[i], "--json"))
			c->json = true;
		else if (!strcmp(a->argv[i], "--help") || !strcmp(a->argv[i], "-?")) {
			help_for(cmd);
			return -1;
		} else
			a->argv[o++] = a->argv[i];
	}
	a->argc = o;
	return 0;
}

static int parse_count(const char *cmd, const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v <= 0 || v > 100000000)
		return usage_error(cmd, "--count wants a positive number, not '%s'", s);
	*out = v;
	return 0;
}

/* ---- read commands ------------------------------------------------------------------ */

static int cmd_status(struct ctl *c, struct args *a)
{
	if (a->argc)
		return usage_error("status", "unexpected argument '%s'", a->argv[0]);
	redisReply *r;
	int rc = ctl_call_v(c, &r, 1, "STATUS");
	if (rc)
		return rc;
	rc = print_reply(c, r, fctl_render_status);
	if (!rc && r->type == REDIS_REPLY_STRING) {
		json_t *j = json_loadb(r->str, r->len, JSON_ALLOW_NUL, NULL);
		if (j && fctl_status_dataplane_down(j))
			rc = EXIT_DATAPLANE_DOWN;
		json_decref(j);
	}
	freeReplyObject(r);
	return rc;
}

static int cmd_stats(struct ctl *c, struct args *a)
{
	if (a->argc)
		return usage_error("stats", "unexpected argument '%s'", a->argv[0]);
	redisReply *r;
	int rc = ctl_call_v(c, &r, 1, "STATS");
	if (rc)
		return rc;
	rc = print_reply(c, r, fctl_render_stats);
	/* fanout-control answers with the last figures it has; they are stale if the link is down */
	json_t *j = !rc && r->type == REDIS_REPLY_STRING ? json_loadb(r->str, r->len, JSON_ALLOW_NUL, NULL) : NULL;
	if (json_is_false(json_object_get(j, "dataplane_up")))
		rc = EXIT_DATAPLANE_DOWN;
	json_decref(j);
	freeReplyObject(r);
	return rc;
}

static int cmd_outputs(struct ctl *c, struct args *a)
{
	if (a->argc)
		return usage_error("outputs", "unexpected argument '%s'", a->argv[0]);
	redisReply *r;
	int rc = ctl_call_v(c, &r, 1, "OUTPUTS");
	if (rc)
		return rc;
	rc = print_reply(c, r, fctl_render_outputs);
	/* like stats: the last figures fanout-control has, stale when the link is down */
	json_t *j = !rc && r->type == REDIS_REPLY_STRING ? json_loadb(r->str, r->len, JSON_ALLOW_NUL, NULL) : NULL;
	if (fctl_reply_stale(j))
		rc = EXIT_DATAPLANE_DOWN;
	json_decref(j);
	freeReplyObject(r);
	return rc;
}

/* sessions/topics/subscriptions [--count N] -> NAME [COUNT n] */
static int cmd_table(struct ctl *c, struct args *a, const char *cmd, const char *verb, render_fn render)
{
	const char *argv[3] = { verb };
	int argc = 1;
	char nbuf[24];
	for (int i = 0; i < a->argc; i++) {
		if (!strcmp(a->argv[i], "--count") && i + 1 < a->argc) {
			long n;
			if (parse_count(cmd, a->argv[++i], &n))
				return EXIT_USAGE;
			snprintf(nbuf, sizeof(nbuf), "%ld", n);
			argv[1] = "COUNT";
			argv[2] = nbuf;
			argc = 3;
		} else {
			return usage_error(cmd, "unexpected argument '%s'", a->argv[i]);
		}
	}
	return simple(c, render, argc, argv);
}

static volatile sig_atomic_t top_stop;
static void on_sigint(int sig)
{
	(void)sig;
	top_stop = 1;
}

/* Reads a reply's JSON; NULL (and *err set) when the call failed with a dataplane error. */
static json_t *fetch_json(struct ctl *c, const char *verb1, const char *verb2, int *rc)
{
	redisReply *r;
	*rc = verb2 ? ctl_call_v(c, &r, 2, verb1, verb2) : ctl_call_v(c, &r, 1, verb1);
	if (*rc)
		return NULL;
	json_t *j = r->type == REDIS_REPLY_STRING ? json_loadb(r->str, r->len, JSON_ALLOW_NUL, NULL) : NULL;
	freeReplyObject(r);
	return j;
}

static int cmd_top(struct ctl *c, struct args *a)
{
	int64_t interval_ms = 1000;
	long count = 0;
	for (int i = 0; i < a->argc; i++) {
		if ((!strcmp(a->argv[i], "--interval") || !strcmp(a->argv[i], "-n")) && i + 1 < a->argc) {
			if (fctl_parse_duration_ms(a->argv[++i], &interval_ms) || interval_ms < 100)
				return usage_error(
					"top", "--interval wants a duration of at least 100ms (1s, 500ms), not '%s'",
					a->argv[i]);
		} else if (!strcmp(a->argv[i], "--count") && i + 1 < a->argc) {
			if (parse_count("top", a->argv[++i], &count))
				return EXIT_USAGE;
		} else {
			return usage_error("top", "unexpected argument '%s'", a->argv[i]);
		}
	}
	bool tty = isatty(STDOUT_FILENO);
	struct sigaction sa = { .sa_handler = on_sigint };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	int last = EXIT_OK;
	json_t *prev = NULL; /* the previous frame's STATS: rates fanout-control does not give */
	for (long frame = 0; !top_stop && (count == 0 || frame < count); frame++) {
		if (frame) {
			struct timespec ts = { interval_ms / 1000, (interval_ms % 1000) * 1000000 };
			while (nanosleep(&ts, &ts) && errno == EINTR && !top_stop)
				;
			if (top_stop)
				break;
		}
		int rc1, rc2 = EXIT_OK;
		json_t *stats = fetch_json(c, "STATS", NULL, &rc1);
		if (rc1 == EXIT_CONTROL_DOWN || rc1 == EXIT_USAGE) {
			json_decref(prev);
			return rc1;
		}
		json_t *rollout = fetch_json(c, "ROLLOUT", "STATUS", &rc2);
		if (rc2 == EXIT_CONTROL_DOWN) {
			json_decref(stats);
			json_decref(prev);
			return rc2;
		}
		bool stale = json_is_false(json_object_get(stats, "dataplane_up"));
		last = rc1 ? rc1 : stale ? EXIT_DATAPLANE_DOWN : EXIT_OK;
		if (c->json) {
			json_t *both = json_pack("{s:O?,s:O?}", "stats", stats, "rollout", rollout);
			char *s = both ? json_dumps(both, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
			printf("%s\n", s ? s : "null");
			free(s);
			json_decref(both);
		} else {
			struct fctl_view v = view_now();
			fctl_sanitize_json(stats);
			fctl_sanitize_json(rollout);
			char *s = fctl_render_top(stats, prev, rollout,
						  rc1 == EXIT_DATAPLANE_DOWN
							  ? "dataplane unreachable (fanout-control is up)"
						  : rc1   ? "stats refused"
						  : stale ? "dataplane unreachable: these are the last figures it gave"
							  : NULL,
						  &v);
			if (tty)
				fputs("\033[H\033[2J", stdout);
			else if (frame)
				putchar('\n');
			if (s)
				fputs(s, stdout);
			free(s);
		}
		fflush(stdout);
		if (stats) {
			json_decref(prev);
			prev = stats;
		}
		json_decref(rollout);
	}
	json_decref(prev);
	return last;
}

static int cmd_sessions(struct ctl *c, struct args *a)
{
	return cmd_table(c, a, "sessions", "SESSIONS", fctl_render_sessions);
}

static int cmd_topics(struct ctl *c, struct args *a)
{
	return cmd_table(c, a, "topics", "TOPICS", fctl_render_topics);
}

static int cmd_subscriptions(struct ctl *c, struct args *a)
{
	return cmd_table(c, a, "subscriptions", "SUBSCRIPTIONS", fctl_render_subscriptions);
}

static int cmd_routes(struct ctl *c, struct args *a)
{
	if (a->argc)
		return usage_error("routes", "unexpected argument '%s'", a->argv[0]);
	const char *argv[] = { "ROUTES" };
	return simple(c, fctl_render_routes, 1, argv);
}

static int cmd_history(struct ctl *c, struct args *a)
{
	return cmd_table(c, a, "history", "HISTORY", fctl_render_history);
}

/* ---- config ------------------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f)
		return NULL;
	size_t cap = 8192, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (n < cap) {
			if (ferror(f)) {
				free(buf);
				buf = NULL;
			}
			break;
		}
		cap *= 2;
		char *nb = cap <= 64u << 20 ? realloc(buf, cap) : NULL;
		if (!nb) {
			free(buf);
			buf = NULL;
			errno = EFBIG;
		}
		buf = nb;
	}
	int saved = errno;
	if (f != stdin)
		fclose(f);
	errno = saved;
	*len = n;
	return buf;
}

static int cmd_config(struct ctl *c, struct args *a)
{
	if (a->argc < 1)
		return usage_error("config", "config needs apply, diff, history or show%s", "");
	const char *sub = a->argv[0];
	if (!strcmp(sub, "apply") || !strcmp(sub, "diff")) {
		bool now = false;
		const char *file = NULL;
		for (int i = 1; i < a->argc; i++) {
			if (!strcmp(a->argv[i], "--now") && !strcmp(sub, "apply"))
				now = true;
			else if (a->argv[i][0] == '-' && a->argv[i][1])
				return usage_error("config", "unknown option '%s'", a->argv[i]);
			else if (!file)
				file = a->argv[i];
			else
				return usage_error("config", "one FILE only; '%s' is extra", a->argv[i]);
		}
		if (!file)
			return usage_error("config", "config %s needs a FILE (YAML, or - for stdin)", sub);
		size_t len;
		char *yaml = read_file(file, &len);
		if (!yaml) {
			fprintf(stderr, "fanoutctl: cannot read %s: %s\n", file, strerror(errno));
			return EXIT_USAGE;
		}
		const char *argv[4] = { "CONFIG", !strcmp(sub, "apply") ? "APPLY" : "DIFF", yaml, "NOW" };
		size_t lens[4] = { 6, 5, len, 3 };
		lens[1] = strlen(argv[1]);
		redisReply *r;
		int rc = ctl_call(c, now ? 4 : 3, argv, lens, &r);
		free(yaml);
		if (rc)
			return rc;
		rc = print_reply(c, r, fctl_render_config_changes);
		freeReplyObject(r);
		return rc;
	}
	if (!strcmp(sub, "history")) {
		if (a->argc > 1)
			return usage_error("config", "unexpected argument '%s'", a->argv[1]);
		const char *argv[] = { "CONFIG", "HISTORY" };
		return simple(c, fctl_render_config_history, 2, argv);
	}
	if (!strcmp(sub, "show")) {
		if (a->argc != 2)
			return usage_error("config", "config show needs one ID (see `fanoutctl config history`)%s", "");
		char *end;
		long id = strtol(a->argv[1], &end, 10);
		if (*end || end == a->argv[1] || id < 0)
			return usage_error("config", "config show wants a numeric ID, not '%s'", a->argv[1]);
		const char *argv[] = { "CONFIG", "SHOW", a->argv[1] };
		return simple(c, fctl_render_config_show, 3, argv);
	}
	return usage_error("config", "unknown config subcommand '%s'", sub);
}

/* ---- rollout ------------------------------------------------------------------------ */

/* "1,5,25,50,100": ascending percentages up to 100 (fanout-control takes 0.01 steps). */
static bool valid_steps(const char *s)
{
	double prev = 0;
	while (*s) {
		char *end;
		double v = strtod(s, &end);
		if (end == s || v <= prev || v > 100)
			return false;
		prev = v;
		if (*end == ',')
			end++;
		else if (*end)
			return false;
		s = end;
	}
	return prev > 0;
}

/* fanout-control parses the gate and names what is wrong; this only catches a missing '<'
 * (e.g. an unquoted `--gate drop_rate<0.01` the shell took as a redirection). */
static bool valid_gate(const char *g)
{
	const char *lt = strchr(g, '<');
	return lt && lt != g && lt[1];
}

static int cmd_rollout_start(struct ctl *c, struct args *a)
{
	const char *argv[64];
	int argc = 0;
	argv[argc++] = "ROLLOUT";
	argv[argc++] = "START";
	for (int i = 1; i < a->argc; i++) {
		const char *o = a->argv[i];
		const char *v = i + 1 < a->argc ? a->argv[i + 1] : NULL;
		if (argc > 60)
			return usage_error("rollout", "too many options%s", "");
		if (!strcmp(o, "--no-auto")) {
			argv[argc++] = "AUTO";
			argv[argc++] = "no";
			continue;
		}
		if (!strcmp(o, "--auto")) {
			argv[argc++] = "AUTO";
			argv[argc++] = "yes";
			continue;
		}
		if (!v)
			return usage_error("rollout", "'%s' needs a value (or is not an option of rollout start)", o);
		if (!strcmp(o, "--steps")) {
			if (!valid_steps(v))
				return usage_error(
					"rollout",
					"--steps wants ascending percentages 1..100 like 1,5,25,50,100, not '%s'", v);
			argv[argc++] = "STEPS";
		} else if (!strcmp(o, "--hold")) {
			int64_t ms;
			if (fctl_parse_duration_ms(v, &ms))
				return usage_error("rollout", "--hold wants a duration like 10s, 2m or 500ms, not '%s'",
						   v);
			argv[argc++] = "HOLD";
		} else if (!strcmp(o, "--mode")) {
			if (strcmp(v, "split") && strcmp(v, "mirror"))
				return usage_error("rollout", "--mode is split or mirror, not '%s'", v);
			argv[argc++] = "MODE";
		} else if (!strcmp(o, "--gate")) {
			if (!valid_gate(v))
				return usage_error("rollout",
						   "--gate wants metric<threshold like 'drop_rate<0.01', not '%s'", v);
			argv[argc++] = "GATE";
		} else {
			return usage_error("rollout", "unknown option '%s'", o);
		}
		argv[argc++] = v;
		i++;
	}
	return simple(c, fctl_render_rollout, argc, argv);
}

static char *render_pause(const json_t *j, const struct fctl_view *v)
{
	return fctl_render_rollout_action("pause", j, v);
}
static char *render_resume(const json_t *j, const struct fctl_view *v)
{
	return fctl_render_rollout_action("resume", j, v);
}
static char *render_promote(const json_t *j, const struct fctl_view *v)
{
	return fctl_render_rollout_action("promote", j, v);
}
static char *render_abort(const json_t *j, const struct fctl_view *v)
{
	return fctl_render_rollout_action("abort", j, v);
}
static char *render_rollback(const json_t *j, const struct fctl_view *v)
{
	return fctl_render_rollout_action("rollback", j, v);
}

static int cmd_rollout(struct ctl *c, struct args *a)
{
	static const struct {
		const char *sub, *verb;
		render_fn render;
	} subs[] = {
		{ "status", "STATUS", fctl_render_rollout }, { "pause", "PAUSE", render_pause },
		{ "resume", "RESUME", render_resume },       { "promote", "PROMOTE", render_promote },
		{ "abort", "ABORT", render_abort },          { "rollback", "ROLLBACK", render_rollback },
	};
	if (a->argc < 1)
		return usage_error("rollout",
				   "rollout needs start, status, pause, resume, promote, abort or rollback%s", "");
	if (!strcmp(a->argv[0], "start"))
		return cmd_rollout_start(c, a);
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (strcmp(a->argv[0], subs[i].sub))
			continue;
		if (a->argc > 1)
			return usage_error("rollout", "unexpected argument '%s'", a->argv[1]);
		const char *argv[] = { "ROLLOUT", subs[i].verb };
		return simple(c, subs[i].render, 2, argv);
	}
	return usage_error("rollout", "unknown rollout subcommand '%s'", a->argv[0]);
}

/* ---- fleet -------------------------------------------------------------------------- */

static int cmd_fleet_apply(struct ctl *c, struct args *a)
{
	const char *file = NULL, *who = "*";
	bool now = false;

	for (int i = 1; i < a->argc; i++) {
		if (!strcmp(a->argv[i], "--now"))
			now = true;
		else if (!strcmp(a->argv[i], "--appliance") && i + 1 < a->argc)
			who = a->argv[++i];
		else if (a->argv[i][0] == '-' && a->argv[i][1])
			return usage_error("fleet", "unknown option '%s'", a->argv[i]);
		else if (!file)
			file = a->argv[i];
		else
			return usage_error("fleet", "one FILE only; '%s' is extra", a->argv[i]);
	}
	if (!file)
		return usage_error("fleet", "fleet apply needs a FILE (YAML, or - for stdin)%s", "");
	size_t len;
	char *yaml = read_file(file, &len);
	if (!yaml) {
		fprintf(stderr, "fanoutctl: cannot read %s: %s\n", file, strerror(errno));
		return EXIT_USAGE;
	}
	const char *argv[5] = { "FLEET", "APPLY", who, yaml, "NOW" };
	size_t lens[5] = { 5, 5, strlen(who), len, 3 };
	redisReply *r;
	int rc = ctl_call(c, now ? 5 : 4, argv, lens, &r);
	free(yaml);
	if (rc)
		return rc;
	rc = print_reply(c, r, fctl_render_generic);
	freeReplyObject(r);
	return rc;
}

static int cmd_fleet_start(struct ctl *c, struct args *a)
{
	const char *argv[64];
	int argc = 0;
	argv[argc++] = "FLEET";
	argv[argc++] = "START";
	for (int i = 1; i < a->argc; i += 2) {
		const char *o = a->argv[i], *v = i + 1 < a->argc ? a->argv[i + 1] : NULL;
		if (argc > 60)
			return usage_error("fleet", "too many options%s", "");
		if (!v)
			return usage_error("fleet", "'%s' needs a value (or is not an option of fleet start)", o);
		if (!strcmp(o, "--order")) {
			if (strcmp(v, "fleet") && strcmp(v, "each"))
				return usage_error("fleet", "--order is fleet or each, not '%s'", v);
			argv[argc++] = "ORDER";
		} else if (!strcmp(o, "--steps")) {
			if (!valid_steps(v))
				return usage_error(
					"fleet",
					"--steps wants ascending percentages 1..100 like 1,5,25,50,100, not '%s'", v);
			argv[argc++] = "STEPS";
		} else if (!strcmp(o, "--hold")) {
			int64_t ms;
			if (fctl_parse_duration_ms(v, &ms))
				return usage_error("fleet", "--hold wants a duration like 10s, 2m or 500ms, not '%s'",
						   v);
			argv[argc++] = "HOLD";
		} else if (!strcmp(o, "--mode")) {
			if (strcmp(v, "split") && strcmp(v, "mirror"))
				return usage_error("fleet", "--mode is split or mirror, not '%s'", v);
			argv[argc++] = "MODE";
		} else if (!strcmp(o, "--gate")) {
			if (!valid_gate(v))
				return usage_error("fleet",
						   "--gate wants metric<threshold like 'drop_rate<0.01', not '%s'", v);
			argv[argc++] = "GATE";
		} else {
			return usage_error("fleet", "unknown option '%s'", o);
		}
		argv[argc++] = v;
	}
	return simple(c, fctl_render_fleet_rollout, argc, argv);
}

static int cmd_fleet(struct ctl *c, struct args *a)
{
	static const struct {
		const char *sub, *verb;
		render_fn render;
	} subs[] = {
		{ "status", "STATUS", fctl_render_fleet_status },      { "stats", "STATS", fctl_render_fleet_stats },
		{ "rollout", "ROLLOUT", fctl_render_fleet_rollout },   { "abort", "ABORT", fctl_render_fleet_rollout },
		{ "rollback", "ROLLBACK", fctl_render_fleet_rollout },
	};
	if (a->argc < 1)
		return usage_error("fleet", "fleet needs status, stats, apply, start, rollout, abort or rollback%s",
				   "");
	if (!strcmp(a->argv[0], "apply"))
		return cmd_fleet_apply(c, a);
	if (!strcmp(a->argv[0], "start"))
		return cmd_fleet_start(c, a);
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (strcmp(a->argv[0], subs[i].sub))
			continue;
		if (a->argc > 1)
			return usage_error("fleet", "unexpected argument '%s'", a->argv[1]);
		const char *argv[] = { "FLEET", subs[i].verb };
		if (strcmp(subs[i].sub, "status"))
			return simple(c, subs[i].render, 2, argv);
		/* like status: exit 4 when an appliance cannot be reached */
		redisReply *r;
		int rc = ctl_call(c, 2, argv, NULL, &r);
		if (rc)
			return rc;
		rc = print_reply(c, r, subs[i].render);
		json_t *j = !rc && r->type == REDIS_REPLY_STRING ? json_loadb(r->str, r->len, JSON_ALLOW_NUL, NULL)
								 : NULL;
		if (json_integer_value(json_object_get(j, "up")) < json_integer_value(json_object_get(j, "total")))
			rc = EXIT_DATAPLANE_DOWN;
		json_decref(j);
		freeReplyObject(r);
		return rc;
	}
	return usage_error("fleet", "unknown fleet subcommand '%s'", a->argv[0]);
}

/* ---- dashboard ---------------------------------------------------------------------- */

static int cmd_dashboard(struct ctl *c, struct args *a)
{
	if (a->argc)
		return usage_error("dashboard", "unexpected argument '%s'", a->argv[0]);
	redisReply *r;
	int rc = ctl_call_v(c, &r, 1, "STATUS");
	if (rc && rc != EXIT_DATAPLANE_DOWN)
		return rc;
	json_t *j = r && r->type == REDIS_REPLY_STRING ? json_loadb(r->str, r->len, JSON_ALLOW_NUL, NULL) : NULL;
	const char *http = json_string_value(json_object_get(json_object_get(j, "control"), "http"));
	char host[300];
	const char *colon = http ? strrchr(http, ':') : NULL;
	if (!http || !*http || !colon) {
		fprintf(stderr, "fanoutctl: fanout-control at %s serves no HTTP (--http off)\n", c->where);
		rc = EXIT_REFUSED;
	} else {
		size_t hl = (size_t)(colon - http);
		snprintf(host, sizeof(host), "%.*s", (int)hl, http);
		if (!strcmp(host, "0.0.0.0") || !strcmp(host, "[::]") || !strcmp(host, "::"))
			snprintf(host, sizeof(host), "%s", c->unix_path ? "127.0.0.1" : c->host);
		printf("http://%s%s/#token=%s\n", host, colon, c->token);
		rc = EXIT_OK;
	}
	json_decref(j);
	if (r)
		freeReplyObject(r);
	return rc;
}

/* ---- XDP pre-filter ------------------------------------------------------------------ */

static int cmd_xdp(struct ctl *c, struct args *a)
{
	if (a->argc)
		return usage_error("xdp", "unexpected argument '%s'", a->argv[0]);
	const char *argv[] = { "XDP" };
	return simple(c, fctl_render_xdp, 1, argv);
}

static int cmd_block(struct ctl *c, struct args *a)
{
	if (a->argc == 1 && !strcmp(a->argv[0], "list")) {
		const char *argv[] = { "BLOCK", "LIST" };
		return simple(c, fctl_render_block, 2, argv);
	}
	if (a->argc == 2 && (!strcmp(a->argv[0], "add") || !strcmp(a->argv[0], "del"))) {
		const char *argv[] = { "BLOCK", !strcmp(a->argv[0], "add") ? "ADD" : "DEL", a->argv[1] };
		return simple(c, fctl_render_block, 3, argv);
	}
	return usage_error("block", "expected add PREFIX, del PREFIX or list%s", "");
}

static int cmd_limit(struct ctl *c, struct args *a)
{
	if (a->argc < 2 || a->argc > 3 || strcmp(a->argv[0], "set"))
		return usage_error("limit", "expected set PPS [BURST]%s", "");
	const char *argv[] = { "LIMIT", "SET", a->argv[1], a->argc == 3 ? a->argv[2] : NULL };
	return simple(c, fctl_render_limit, a->argc + 1, argv);
}

/* ---- main --------------------------------------------------------------------------- */

/* FANOUT_CONTROL: "/path/to.sock", "unix:/path", "host:port" or "host". */
static int from_env(struct ctl *c, const char *e)
{
	if (!strncmp(e, "unix:", 5))
		e += 5;
	if (e[0] == '/' || e[0] == '.') {
		c->unix_path = e;
		return 0;
	}
	const char *colon = strrchr(e, ':');
	size_t hl = colon ? (size_t)(colon - e) : strlen(e);
	if (hl == 0 || hl >= sizeof(c->host))
		return -1;
	memcpy(c->host, e, hl);
	c->host[hl] = '\0';
	if (colon) {
		char *end;
		long p = strtol(colon + 1, &end, 10);
		if (*end || p <= 0 || p > 65535)
			return -1;
		c->port = (int)p;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ctl c = { .port = DEFAULT_PORT };
	snprintf(c.host, sizeof(c.host), "%s", DEFAULT_HOST);
	const char *env = getenv("FANOUT_CONTROL");
	if (env && *env && from_env(&c, env)) {
		fprintf(stderr, "fanoutctl: FANOUT_CONTROL='%s' is neither a socket path nor host:port\n", env);
		return EXIT_USAGE;
	}
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *o = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(o, "--json")) {
			c.json = true;
		} else if (!strcmp(o, "--help") || !strcmp(o, "-?")) {
			usage(stdout);
			return EXIT_OK;
		} else if (!strcmp(o, "--version")) {
			printf("fanoutctl %s\n", FANOUT_VERSION);
			return EXIT_OK;
		} else if (!strcmp(o, "--token-file")) {
			if (!v)
				return usage_error("", "%s needs the path of fanout-control's token file", o);
			c.token_file = v;
			i++;
		} else if (!strcmp(o, "-s") || !strcmp(o, "--socket")) {
			if (!v)
				return usage_error("", "%s needs a socket path", o);
			c.unix_path = v;
			i++;
		} else if (!strcmp(o, "-h") || !strcmp(o, "--host")) {
			if (!v || strlen(v) >= sizeof(c.host))
				return usage_error("", "%s needs a host name or address", o);
			snprintf(c.host, sizeof(c.host), "%s", v);
			c.unix_path = NULL;
			i++;
		} else if (!strcmp(o, "-p") || !strcmp(o, "--port")) {
			char *end;
			long p = v ? strtol(v, &end, 10) : 0;
			if (!v || *end || p <= 0 || p > 65535)
				return usage_error("", "%s needs a TCP port 1..65535", o);
			c.port = (int)p;
			c.unix_path = NULL;
			i++;
		} else {
			return usage_error("", "unknown option '%s'", o);
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	describe_where(&c);
	const char *cmd = argv[i];
	struct args a = { .argc = argc - i - 1, .argv = argv + i + 1 };
	if (!strcmp(cmd, "help"))
		return help_for(a.argc ? a.argv[0] : "");
	if (common_opts(&c, cmd, &a))
		return EXIT_OK; /* --help was printed */
	int rc = EXIT_USAGE;
	size_t v = 0;
	while (v < N_VERBS && strcmp(cmd, verbs[v].name))
		v++;
	if (v < N_VERBS)
		rc = verbs[v].fn(&c, &a);
	else
		fprintf(stderr, "fanoutctl: unknown command '%s'; see `fanoutctl --help`\n", cmd);
	if (c.rc)
		redisFree(c.rc);
	return rc;
}
