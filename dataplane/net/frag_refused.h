/* Datagrams refused while still in fragments: once one fragment has shown that a message is
 * over limits.max_message_bytes (l2l4_parse: message_too_big), the rx stage remembers the
 * datagram here and refuses its later fragments at once, under the same reason, instead of
 * holding them in the reassembly table until they time out. A small direct-mapped memory per rx
 * lcore, keyed as the table is (source, destination, IPv4 identification; for IPv6 the source's
 * 32-bit key, 0, and the 32-bit identification of the fragment header); an entry lasts as
 * long as a flow may wait (reassembly.timeout_ms) or until another refused datagram takes its
 * slot, after which that datagram's fragments are simply held and time out. Pure, header-only. */
#ifndef FANOUT_FRAG_REFUSED_H
#define FANOUT_FRAG_REFUSED_H

#include <stdbool.h>
#include <stdint.h>

#define FO_FRAG_REFUSED_SLOTS 64 /* power of two */

struct fo_frag_refused {
	struct {
		uint32_t src, dst;
		uint32_t id;
		uint64_t until; /* 0 = free */
	} e[FO_FRAG_REFUSED_SLOTS];
};

static inline unsigned fo_frag_refused_slot(uint32_t src, uint32_t dst, uint32_t id)
{
	uint32_t h = src * 2654435761u ^ dst * 0x85ebca6bu ^ (uint32_t)id * 0xc2b2ae35u;
	return (h ^ h >> 16) & (FO_FRAG_REFUSED_SLOTS - 1);
}

/* Remember a refused datagram until now + ttl (any clock the caller keeps). */
static inline void fo_frag_refused_add(struct fo_frag_refused *t, uint32_t src, uint32_t dst, uint32_t id, uint64_t now,
				       uint64_t ttl)
{
	unsigned i = fo_frag_refused_slot(src, dst, id);
	t->e[i].src = src;
	t->e[i].dst = dst;
	t->e[i].id = id;
	t->e[i].until = now + ttl;
}

/* Was this datagram refused, and not longer ago than its ttl? */
static inline bool fo_frag_refused_has(const struct fo_frag_refused *t, uint32_t src, uint32_t dst, uint32_t id,
				       uint64_t now)
{
	unsigned i = fo_frag_refused_slot(src, dst, id);
	return t->e[i].until > now && t->e[i].src == src && t->e[i].dst == dst && t->e[i].id == id;
}

#endif
