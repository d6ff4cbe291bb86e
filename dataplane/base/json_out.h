/* Writing JSON by hand for the stats snapshot and the control socket: strings with every
 * byte escaped safely (bytes >= 0x80 as \u00XX, so any byte string stays valid JSON). Pure C. */
#ifndef FANOUT_JSON_OUT_H
#define FANOUT_JSON_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Writes "..." (with the quotes). */
void fo_json_str(FILE *f, const void *s, size_t len);
static inline void fo_json_cstr(FILE *f, const char *s)
{
	fo_json_str(f, s, s ? __builtin_strlen(s) : 0);
}
/* Writes "a.b.c.d" for a host-order IPv4 address. */
void fo_json_ip(FILE *f, uint32_t ip);

#endif
