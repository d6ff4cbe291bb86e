/* SHA-256 of a config text as hex, through nettle (Debian's nettle-dev). */
#include "sha256.h"

#include <stdint.h>
#include <stdio.h>

#include <nettle/sha2.h>

void sha256_hex(const void *data, size_t len, char hex[65])
{
	struct sha256_ctx ctx;
	uint8_t digest[SHA256_DIGEST_SIZE];
	sha256_init(&ctx);
	sha256_update(&ctx, len, data);
	sha256_digest(&ctx, sizeof(digest), digest);
	for (unsigned i = 0; i < sizeof(digest); i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}
