/* Interned templates (out_template.h). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "out_template.h"

static char *tmpls[FO_MAX_TEMPLATES];
static _Atomic uint32_t n_tmpls;

uint16_t fo_out_tmpl_intern(const char *tmpl)
{
	uint32_t n = atomic_load_explicit(&n_tmpls, memory_order_relaxed);
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(tmpls[i], tmpl) == 0)
			return (uint16_t)i;
	if (n == FO_MAX_TEMPLATES || (tmpls[n] = strdup(tmpl)) == NULL)
		return FO_TMPL_NONE;
	atomic_store_explicit(&n_tmpls, n + 1, memory_order_release); /* the text before the id */
	return (uint16_t)n;
}

const char *fo_out_tmpl(uint16_t id)
{
	return id < atomic_load_explicit(&n_tmpls, memory_order_acquire) ? tmpls[id] : "";
}

size_t fo_out_tmpl_expand(uint16_t id, const uint8_t *topic, uint16_t topic_len, char *out, size_t cap)
{
	const char *t = fo_out_tmpl(id);
	size_t o = 0;
	while (*t && o < cap) {
		if (t[0] == '{' && strncmp(t, "{topic}", 7) == 0) {
			size_t n = topic_len < cap - o ? topic_len : cap - o;
			memcpy(out + o, topic, n);
			o += n;
			t += 7;
		} else {
			out[o++] = *t++;
		}
	}
	return o;
}
