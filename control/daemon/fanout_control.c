/* fanout-control: the control-plane daemon. Owns the desired state (state_store), talks to the
 * dataplane (dp_link), serves operators over RESP (resp_server) and HTTP (http_api), and runs
 * rollouts (rollout) on the dataplane's samples. One libevent loop; nothing blocks. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "app.h"
#include "commands.h"
#include "xdp_control.h"
#include "ctl_auth.h"
#include "dp_link.h"
#include "fleet.h"
#include "http_api.h"
#include "resp_server.h"

#define DEFAULT_LISTEN "127.0.0.1:7379"
#define DEFAULT_HTTP "127.0.0.1:7380"
#define DEFAULT_POLL_MS 250
#define MIN_POLL_MS 10
#define MAX_POLL_MS 60000

struct ctl_app app;

uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int app_persist(void)
{
	char err[512];

	if (st_save(app.opt.state_dir, &app.st, err, sizeof(err)) == 0)
		return 0;
	app.save_failures++;
	fprintf(stderr, "fanout-control: %s\n", err);
	return -1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fanout-control --dataplane PATH --state-dir DIR [OPTIONS]\n"
		"       fanout-control --member NAME=tcp:HOST:PORT,token-file=PATH... --state-dir DIR [OPTIONS]\n"
		"OPTIONS: [--listen HOST:PORT] [--unix PATH] [--http HOST:PORT] [--http-allow-host NAME]...\n"
		"         [--token-file PATH] [--poll-ms N]\n"
		"\n"
		"  --dataplane PATH   the dataplane's control socket (fanout-dataplane ... -- --control PATH)\n"
		"  --member SPEC      a fleet member: another appliance's fanout-control, "
		"NAME=tcp:HOST:PORT,token-file=PATH\n"
		"                     or NAME=unix:PATH,token-file=PATH (its --listen or --unix, and its token);\n"
		"                     repeat for each (at most 16). A fleet fanout-control has no dataplane of its\n"
		"                     own; it answers the FLEET commands (docs/control.md: a fleet)\n"
		"  --state-dir DIR    where state.json (desired state, config versions, history) is kept\n"
		"  --listen HOST:PORT RESP for fanoutctl/redis-cli (default " DEFAULT_LISTEN "; 'off' disables)\n"
		"  --unix PATH        RESP on a unix socket as well (mode 0600)\n"
		"  --http HOST:PORT   HTTP API, /metrics and the dashboard (default " DEFAULT_HTTP "; 'off' disables)\n"
		"  --http-allow-host NAME  a further Host (NAME or NAME:PORT) the HTTP API answers to, besides the\n"
		"                     --http address, localhost, 127.0.0.1 and [::1] (at most 16; DNS rebinding "
		"guard)\n"
		"  --token-file PATH  the access token of the HTTP and RESP APIs (default STATE_DIR/" CTL_TOKEN_FILE
		", env\n"
		"                     FANOUT_TOKEN_FILE); made from getrandom() with mode 0600 when it does not exist\n"
		"  --poll-ms N        dataplane poll interval in ms (default %d, %d..%d)\n"
		"  --help             this text\n",
		DEFAULT_POLL_MS, MIN_POLL_MS, MAX_POLL_MS);
}

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dataplane", required_argument, NULL, 'd' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'l' },
		{ "unix", required_argument, NULL, 'u' },
		{ "http", required_argument, NULL, 'H' },
		{ "poll-ms", required_argument, NULL, 'p' },
		{ "http-allow-host", required_argument, NULL, 'A' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "member", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	char *end;

	app.opt.listen = DEFAULT_LISTEN;
	app.opt.http = DEFAULT_HTTP;
	app.opt.poll_ms = DEFAULT_POLL_MS;
	app.opt.token_file = getenv("FANOUT_TOKEN_FILE");
	if (app.opt.token_file && !*app.opt.token_file)
		app.opt.token_file = NULL;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': app.opt.dataplane = optarg; break;
		case 's': app.opt.state_dir = optarg; break;
		case 'l': app.opt.listen = strcmp(optarg, "off") == 0 ? "" : optarg; break;
		case 'u': app.opt.unix_path = optarg; break;
		case 'H': app.opt.http = strcmp(optarg, "off") == 0 ? "" : optarg; break;
		case 'p':
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || *end || v < MIN_POLL_MS || v > MAX_POLL_MS) {
				fprintf(stderr,
					"fanout-control: --poll-ms '%s': give milliseconds in %d..%d, e.g. --poll-ms "
					"250\n",
					optarg, MIN_POLL_MS, MAX_POLL_MS);
				return 2;
			}
			app.opt.poll_ms = (unsigned)v;
			break;
		case 'A':
			if (app.opt.n_allow_hosts >= sizeof(app.opt.allow_hosts) / sizeof(app.opt.allow_hosts[0])) {
				fprintf(stderr, "fanout-control: at most 16 --http-allow-host names\n");
				return 2;
			}
			if (*optarg == '\0' || strpbrk(optarg, "/ \t")) {
				fprintf(stderr,
					"fanout-control: --http-allow-host '%s': give a host name or name:port, e.g. "
					"fanout.lab:7380\n",
					optarg);
				return 2;
			}
			app.opt.allow_hosts[app.opt.n_allow_hosts++] = optarg;
			break;
		case 'T': app.opt.token_file = optarg; break;
		case 'M':
			if (app.opt.n_members >= sizeof(app.opt.members) / sizeof(app.opt.members[0])) {
				fprintf(stderr, "fanout-control: at most 16 --member appliances\n");
				return 2;
			}
			app.opt.members[app.opt.n_members++] = optarg;
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fanout-control: unexpected argument '%s'; see --help\n", argv[optind]);
		return 2;
	}
	if (app.opt.dataplane != NULL && app.opt.n_members > 0) {
		fprintf(stderr,
			"fanout-control: --dataplane and --member exclude each other: a fleet's own appliance is "
			"a member through that appliance's fanout-control (--member NAME=unix:PATH,token-file=...)\n");
		return 2;
	}
	if ((app.opt.dataplane == NULL && app.opt.n_members == 0) || app.opt.state_dir == NULL) {
		fprintf(stderr,
			"fanout-control: %s is required, e.g. --dataplane /run/fanout/dp.sock --state-dir "
			"/var/lib/fanout\n",
			app.opt.state_dir == NULL ? "--state-dir" : "--dataplane (or --member for a fleet)");
		return 2;
	}
	struct stat sb;
	if (stat(app.opt.state_dir, &sb) != 0 || !S_ISDIR(sb.st_mode) || access(app.opt.state_dir, W_OK) != 0) {
		fprintf(stderr,
			"fanout-control: --state-dir '%s' is not a writable directory; create it (mkdir -p %s)\n",
			app.opt.state_dir, app.opt.state_dir);
		return 2;
	}
	return 0;
}

/* ---------------------------------------------------------------- dataplane hooks */

static void on_dp_connected(void)
{
	st_event(&app.st, wall_ms(), "dataplane_up", json_pack("{s:I}", "connects", (json_int_t)dp_link_connects()));
	ctl_reconcile();
}

static void on_dp_disconnected(const char *why)
{
	app.dp.synced = false;
	st_event(&app.st, wall_ms(), "dataplane_down", json_pack("{s:s}", "why", why));
	app_persist();
}

static void on_dp_polled(json_t *generations, json_t *genstats, json_t *stats, json_t *outputs, const char *outputs_err)
{
	uint64_t now = wall_ms();
	struct ro_sample s;

	if (outputs) {
		json_decref(app.dp.prev_outputs);
		app.dp.prev_outputs = app.dp.outputs;
		app.dp.prev_outputs_t_ms = app.dp.outputs_t_ms;
		app.dp.outputs = json_incref(outputs);
		app.dp.outputs_t_ms = now;
		app.dp.outputs_error[0] = '\0';
	} else if (outputs_err && *outputs_err) {
		/* the dataplane answered OUTPUTS with an error: figures from before would mislead */
		json_decref(app.dp.outputs);
		json_decref(app.dp.prev_outputs);
		app.dp.outputs = app.dp.prev_outputs = NULL;
		snprintf(app.dp.outputs_error, sizeof(app.dp.outputs_error), "%s", outputs_err);
	} else {
		/* not sent (the link is going): the last figures stay, marked by their time */
		snprintf(app.dp.outputs_error, sizeof(app.dp.outputs_error), "OUTPUTS was not answered");
	}

	if (generations) {
		json_decref(app.dp.generations);
		app.dp.generations = json_incref(generations);
	}
	if (stats && genstats) {
		json_decref(app.dp.prev_stats);
		json_decref(app.dp.prev_genstats);
		app.dp.prev_stats = app.dp.stats ? json_incref(app.dp.stats) : NULL;
		app.dp.prev_genstats = app.dp.genstats ? json_incref(app.dp.genstats) : NULL;
		app.dp.prev_t_ms = app.dp.t_ms;
	}
	if (genstats) {
		json_decref(app.dp.genstats);
		app.dp.genstats = json_incref(genstats);
	}
	if (stats) {
		json_decref(app.dp.stats);
		app.dp.stats = json_incref(stats);
		xdpc_on_stats();
	}
	app.dp.t_ms = now;
	uint16_t share = (uint16_t)json_u64(generations, "share_bp");
	int step = ro_active(&app.st.rollout) ? (int)app.st.rollout.step + 1 : 0;
	series_add(&app.series, now, generations, genstats, stats, share, step);
	if (generations && genstats && series_rollout_sample(generations, genstats, now, &s) == 0)
		ctl_on_sample(&s);
}

/* ---------------------------------------------------------------- main */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what, (void)arg;
	fprintf(stderr, "fanout-control: signal %d, saving state and exiting\n", (int)sig);
	event_base_loopbreak(app.base);
}

int main(int argc, char **argv)
{
	char err[512];
	int rc = parse_args(argc, argv);
	struct event *sigint, *sigterm;

	if (rc != 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	if (st_load(app.opt.state_dir, &app.st, err, sizeof(err)) != 0) {
		fprintf(stderr, "fanout-control: %s\n", err);
		return 1;
	}
	static char token_path[4096];
	if (app.opt.token_file == NULL) {
		snprintf(token_path, sizeof(token_path), "%s/%s", app.opt.state_dir, CTL_TOKEN_FILE);
		app.opt.token_file = token_path;
	}
	if (ctl_token_load(app.opt.token_file, true, app.token, sizeof(app.token), err, sizeof(err)) != 0) {
		fprintf(stderr, "fanout-control: %s\n", err);
		return 1;
	}
	app.started_ms = wall_ms();
	series_init(&app.series);
	if (app.st.rollout.state == RO_RUNNING) {
		/* the window's counters were not kept: judge the current step afresh */
		app.st.rollout.step_started_ms = app.started_ms;
		app.st.rollout.have_base = false;
	}
	st_event(&app.st, app.started_ms, "control_start",
		 json_pack("{s:s,s:i}", "version", FANOUT_VERSION, "pid", (int)getpid()));
	if (app_persist() != 0) {
		fprintf(stderr,
			"fanout-control: cannot write state in '%s'; fix the directory's permissions or free space\n",
			app.opt.state_dir);
		return 1;
	}
	app.base = event_base_new();
	if (app.base == NULL) {
		fprintf(stderr, "fanout-control: event_base_new failed\n");
		return 1;
	}
	if (resp_server_start(app.base, app.opt.listen, app.opt.unix_path, app.token) != 0)
		return 1;
	if (app.opt.http && *app.opt.http &&
	    http_api_start(app.base, app.opt.http, app.token, app.opt.allow_hosts, app.opt.n_allow_hosts) != 0)
		return 1;
	struct dp_link_hooks hooks = { on_dp_connected, on_dp_disconnected, on_dp_polled };
	if (app.opt.n_members > 0) {
		static struct fl_member_spec specs[FL_MAX_MEMBERS];
		for (unsigned i = 0; i < app.opt.n_members; i++)
			if (fl_member_parse(app.opt.members[i], &specs[i], err, sizeof(err)) != 0) {
				fprintf(stderr, "fanout-control: %s\n", err);
				return 2;
			}
		if (fleet_start(app.base, specs, app.opt.n_members, app.opt.poll_ms) != 0)
			return 1;
	} else if (dp_link_start(app.base, app.opt.dataplane, app.opt.poll_ms, &hooks) != 0) {
		return 1;
	}
	sigint = evsignal_new(app.base, SIGINT, on_signal, NULL);
	sigterm = evsignal_new(app.base, SIGTERM, on_signal, NULL);
	evsignal_add(sigint, NULL);
	evsignal_add(sigterm, NULL);
	char what[160];
	if (app.opt.dataplane)
		snprintf(what, sizeof(what), "dataplane %s", app.opt.dataplane);
	else
		snprintf(what, sizeof(what), "fleet of %u appliances", app.opt.n_members);
	fprintf(stderr, "fanout-control %s: %s, state %s/%s, token %s, RESP %s%s%s, HTTP %s, poll %u ms\n",
		FANOUT_VERSION, what, app.opt.state_dir, ST_FILE, app.opt.token_file,
		*app.opt.listen ? app.opt.listen : "off", app.opt.unix_path ? " + " : "",
		app.opt.unix_path ? app.opt.unix_path : "", *app.opt.http ? app.opt.http : "off", app.opt.poll_ms);

	event_base_dispatch(app.base);

	dp_link_stop();
	fleet_stop();
	http_api_stop();
	resp_server_stop();
	st_event(&app.st, wall_ms(), "control_stop", NULL);
	rc = app_persist() == 0 ? 0 : 1;
	event_free(sigint);
	event_free(sigterm);
	json_decref(app.dp.generations);
	json_decref(app.dp.genstats);
	json_decref(app.dp.stats);
	json_decref(app.dp.prev_stats);
	json_decref(app.dp.prev_genstats);
	json_decref(app.dp.outputs);
	json_decref(app.dp.prev_outputs);
	st_free(&app.st);
	event_base_free(app.base);
	return rc;
}
