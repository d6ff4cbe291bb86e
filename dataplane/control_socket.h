/* The dataplane's RESP control socket, served by the main lcore (control_socket.c). */
#ifndef FANOUT_CONTROL_SOCKET_H
#define FANOUT_CONTROL_SOCKET_H

#include <sys/types.h>

/* Listen on a unix stream socket at path with the given file mode (0600 by default) and,
 * when group is not NULL, that group. */
int fo_ctl_open(const char *path, mode_t mode, const char *group);
/* Serve pending requests, waiting up to timeout_ms for one (sleeps that long if closed). */
void fo_ctl_poll(int timeout_ms);
void fo_ctl_close(void);

#endif
