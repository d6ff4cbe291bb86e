/* The dataplane control socket's commands, shared by the dataplane (which serves them) and
 * fanout-control (which sends them). Header-only, no DPDK. */
#ifndef FANOUT_DP_COMMANDS_H
#define FANOUT_DP_COMMANDS_H

/* The socket's commands as one list; dataplane/mgmt/control_socket.c binds each to its handler
 * (dp_<id>), and dispatch, arity checks, HELP, COMMAND and the unknown-command error all read it.
 * X(id, name, sub, min, max, args, help): sub is the second word of a two-word command ("" for
 * none); min/max count the arguments after the command word(s). */
#define FO_DP_COMMANDS(X) \
	X(ping, "PING", "", 0, 1, "[message]", "+PONG, or the message back") \
	X(info, "INFO", "", 0, 0, "", "redis-style text: server, MQTT-SN tables, stats, drops by reason") \
	X(stats, "STATS", "", 0, 0, "", "the JSON stats snapshot (as SIGUSR1 writes it)") \
	X(generations, "GENERATIONS", "", 0, 0, "", "stable and canary generations, share, mode, last swap") \
	X(genstats, "GENSTATS", "", 0, 0, "", "counters and latency per generation") \
	X(sessions, "SESSIONS", "", 0, 2, "[COUNT n]", "MQTT-SN sessions of every worker (default 1000)") \
	X(topics, "TOPICS", "", 0, 2, "[COUNT n]", "registered topic names of every worker") \
	X(subscriptions, "SUBSCRIPTIONS", "", 0, 2, "[COUNT n]", "subscriptions of every worker") \
	X(routes, "ROUTES", "", 0, 0, "", "stable and canary routes with their counters") \
	X(outputs, "OUTPUTS", "", 0, 0, "", "Redis Streams sinks and MQTT bridges") \
	X(config_diff, "CONFIG", "DIFF", 1, 1, "<yaml text>", "what the text would change against stable") \
	X(config_load, "CONFIG", "LOAD", 1, 5, "<yaml text> [ID n] [AS canary|stable]", \
	  "a new generation, canary at share 0 (default) or stable") \
	X(canary_share, "CANARY", "SHARE", 1, 1, "<basis points 0..10000>", "the canary's share (100 = 1 %)") \
	X(canary_mode, "CANARY", "MODE", 1, 1, "split|mirror", "how canary clients are served") \
	X(promote, "PROMOTE", "", 0, 0, "", "the canary becomes stable, share 0") \
	X(rollback, "ROLLBACK", "", 0, 0, "", "share 0 in one swap (the canary stays loaded)") \
	X(rxpace, "RXPACE", "", 2, 2, "<port index> <packets/s per rx queue, 0 = off>", \
	  "benchmarks: pace a port's polling") \
	X(help, "HELP", "", 0, 0, "", "this list: every command with its arguments") \
	X(command, "COMMAND", "", 0, 1, "[COUNT]", \
	  "every command as [name, arity, arguments, help] (arity as Redis: negative = at least)") \
	X(quit, "QUIT", "", 0, 0, "", "+OK, then closes the connection")

/* The longest argv any command takes, its words included (the union is as large as its largest
 * member): the socket refuses longer requests before hiredis's reader buffers them, and
 * fanout-control's sender sizes its arrays from it. */
union fo_dp_argc_sizes {
#define FO_DP_CMD_SIZE(id, name, sub, min, max, ...) char id[1 + (sizeof(sub) > 1) + (max)];
	FO_DP_COMMANDS(FO_DP_CMD_SIZE)
#undef FO_DP_CMD_SIZE
};

#define FO_DP_MAX_ARGS ((unsigned)sizeof(union fo_dp_argc_sizes))

#endif
