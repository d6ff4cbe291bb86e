/* Replies from a fleet member's fanout-control, read with bounds before anything is buffered:
 * a member is a remote process, and hiredis's reader would allocate whatever `*N` or `$LEN` it is
 * told. Only what fanout-control answers the fleet's commands is accepted: `+line`, `-line`,
 * `:n` and `$LEN\r\n<LEN bytes>\r\n` with LEN <= the limit (and `$-1`); arrays, longer lines or
 * bulks are a protocol error and the link is dropped. Pure, fuzzed by fuzz-control_fleet_reply. */
#ifndef FANOUT_CONTROL_FLEET_REPLY_H
#define FANOUT_CONTROL_FLEET_REPLY_H

#include <stddef.h>
#include <stdint.h>

#define FR_LINE_MAX 4096       /* a status, error or integer line, CRLF included */
#define FR_BULK_MAX (8u << 20) /* a JSON reply: STATS of a large appliance is far below */

enum fr_type { FR_STATUS, FR_ERROR, FR_INTEGER, FR_BULK, FR_NIL };
enum { FR_NEED_MORE = 0, FR_OK = 1, FR_BAD = -1 };

struct fr_reply {
	enum fr_type type;
	const char *str; /* points into the input (not NUL-terminated); len bytes */
	size_t len;
	long long integer;
};

/* Reads one reply from buf[0..n): FR_OK with *used bytes consumed, FR_NEED_MORE (nothing
 * consumed; *need, when not NULL, the bytes the reply will take at least), or FR_BAD with err. */
int fr_parse(const char *buf, size_t n, size_t max_bulk, struct fr_reply *r, size_t *used, size_t *need, char *err,
	     size_t errlen);

#endif
