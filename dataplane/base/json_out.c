/* JSON string output (json_out.h). */
#include "json_out.h"

void fo_json_str(FILE *f, const void *s, size_t len)
{
	const uint8_t *p = s;
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		uint8_t c = p[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void fo_json_ip(FILE *f, uint32_t ip)
{
	fprintf(f, "\"%u.%u.%u.%u\"", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}
