/* The per-process hash seed of the engine's tables (broker_hash.h): random values drawn
 * at start (and the key of the PRF behind proof values), so the probe chains an attacker's keys land on differ from process to process. */
#include "broker_hash.h"

#include <errno.h>
#include <sys/random.h>

uint64_t bh_seed;
uint64_t bh_prf_key[2];

int bh_seed_init(void)
{
	uint64_t s[3] = { 0 };
	ssize_t n;
	do
		n = getrandom(s, sizeof(s), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(s))
		return -1;
	bh_seed = s[0];
	bh_prf_key[0] = s[1];
	bh_prf_key[1] = s[2];
	return 0;
}
