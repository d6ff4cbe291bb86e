/* SHA-256 of a config text, stored with each config version so an operator (and the
 * reconciliation on reconnect) can tell versions apart by content. */
#ifndef FANOUT_CONTROL_SHA256_H
#define FANOUT_CONTROL_SHA256_H

#include <stddef.h>

/* hex: 65 bytes (64 digits + NUL) */
void sha256_hex(const void *data, size_t len, char hex[65]);

#endif
