/* Stream key and remote topic templates of sink and bridge routes ("fanout:{topic}"), interned
 * once per distinct text when a generation is built (main lcore) and expanded by the output
 * threads for each entry. Entries carry the 16-bit id, never a pointer into a generation. The
 * table only grows (at most FO_MAX_TEMPLATES texts per run); readers on other threads see an id
 * only after its text is in place. Pure C. */
#ifndef FANOUT_OUT_TEMPLATE_H
#define FANOUT_OUT_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#define FO_MAX_TEMPLATES 4096
#define FO_TMPL_NONE 0xffffu

/* The id of tmpl (the same text, the same id); FO_TMPL_NONE when the table is full or out of memory. */
uint16_t fo_out_tmpl_intern(const char *tmpl);
/* The text of id; "" for an id never handed out. */
const char *fo_out_tmpl(uint16_t id);
/* Writes the template with every "{topic}" replaced by topic into out (at most cap bytes, no NUL);
 * returns the length written. */
size_t fo_out_tmpl_expand(uint16_t id, const uint8_t *topic, uint16_t topic_len, char *out, size_t cap);

#endif
