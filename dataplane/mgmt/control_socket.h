/* The dataplane's RESP control socket, served by the main lcore (control_socket.c). */
#ifndef FANOUT_CONTROL_SOCKET_H
#define FANOUT_CONTROL_SOCKET_H

#include <sys/types.h>

#include "fanout/dp_commands.h"

/* Bounds of one client's requests, checked before hiredis's reader buffers them
 * (include/fanout/resp_frame.h): no more arguments than the longest command takes; CONFIG LOAD's
 * text and the whole command at most 4 MiB; unparsed input per client at most 4 MiB. */
#define FO_CTL_MAX_ARGS FO_DP_MAX_ARGS
#define FO_CTL_MAX_REQUEST (4u << 20)
#define FO_CTL_RESP_LIMITS \
	{ \
		.max_args = FO_CTL_MAX_ARGS, .max_bulk = FO_CTL_MAX_REQUEST, .max_request = FO_CTL_MAX_REQUEST, \
		.max_pending = FO_CTL_MAX_REQUEST \
	}

/* Listen on a unix stream socket at path with the given file mode (0600 by default) and,
 * when group is not NULL, that group. */
int fo_ctl_open(const char *path, mode_t mode, const char *group);
/* Serve pending requests, waiting up to timeout_ms for one (sleeps that long if closed). */
void fo_ctl_poll(int timeout_ms);
void fo_ctl_close(void);

#endif
