/* libFuzzer target for the replies a fleet reads from its member appliances' fanout-controls
 * (control/lib/fleet_reply.c): the bytes come from another host. Reads replies back to back as the
 * member link does, the input split at a point taken from its first byte (a reply that arrives in two
 * reads). Checks: no crash; a reply never claims bytes beyond the input; a bulk never exceeds the bound;
 * NEED_MORE consumes nothing and any `need` it states is beyond what was given. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fleet_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BOUND 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct fr_reply r;
	size_t at = 0, used, need;
	size_t split = size ? data[0] % (size + 1) : 0;
	size_t avail = split;

	for (int guard = 0; guard < 100000; guard++) {
		int rc = fr_parse((const char *)data + at, avail - at, BOUND, &r, &used, &need, err, sizeof(err));
		if (rc == FR_BAD)
			return 0;
		if (rc == FR_NEED_MORE) {
			if (used != 0 || (need && need <= avail - at))
				abort();
			if (avail == size)
				return 0;
			avail = size;
			continue;
		}
		if (used == 0 || used > avail - at)
			abort();
		if (r.type == FR_BULK && (r.len > BOUND || r.str < (const char *)data + at ||
					  r.str + r.len > (const char *)data + at + used))
			abort();
		at += used;
	}
	return 0;
}
