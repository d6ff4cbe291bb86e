/* Open addressing shared by the broker engine's tables, the per-source quota, the route table
 * and the neighbour table: linear probing over a power-of-two slot array and backward-shift
 * deletion. Pure C, header-only; each table keeps its own slot and entry types. */
#ifndef FANOUT_OA_TABLE_H
#define FANOUT_OA_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "broker_hash.h"

/* The table owns its layout; the helper only walks slot numbers. A table describes a slot
 * through callbacks that take the table and a slot number. The functions here are always
 * inlined and every caller passes its own static callbacks, so the compiler folds them into
 * the same loop each table wrote by hand (the packet path pays no indirect call). */
#define OA_INLINE static inline __attribute__((always_inline))

#define OA_NONE UINT32_MAX /* no slot: a bounded probe that ran out of its window */

/* What a probe learns of one slot, about the key it looks for. */
enum oa_seen {
	OA_EMPTY, /* ends the probe: the key is absent and may be placed here */
	OA_HIT,   /* holds the key */
	OA_OTHER, /* holds something else (or a tombstone): keep probing */
};

/* Looks at slot for key q. q may be written to (a table that loads an atomic word once
 * leaves it there for its caller). */
typedef enum oa_seen (*oa_look_fn)(const void *tab, uint32_t slot, void *q);

/* The slot holding q or the empty slot ending its chain, starting at hash & mask. The table
 * must always keep an empty slot (load factor < 1), as every table here does. */
OA_INLINE uint32_t oa_find(const void *tab, uint32_t mask, uint32_t hash, void *q, oa_look_fn look)
{
	for (uint32_t i = hash & mask;; i = (i + 1) & mask)
		if (look(tab, i, q) != OA_OTHER)
			return i;
}

/* oa_find over at most `window` slots (a table whose keys stay within a window of their
 * home slot, so a lookup costs at most that much however full the table is); OA_NONE when
 * every slot of the window holds another key. */
OA_INLINE uint32_t oa_find_bounded(const void *tab, uint32_t mask, uint32_t hash, uint32_t window, void *q,
				   oa_look_fn look)
{
	uint32_t i = hash & mask;
	for (uint32_t n = 0; n < window; n++, i = (i + 1) & mask)
		if (look(tab, i, q) != OA_OTHER)
			return i;
	return OA_NONE;
}

/* Backward-shift deletion for a table whose slots hold its entries. The entry at slot has
 * gone (or is going): later members of its probe run move back into the hole so that no
 * lookup stops early and no tombstone is left. */
typedef bool (*oa_empty_fn)(const void *tab, uint32_t slot);
typedef uint32_t (*oa_hash_fn)(const void *tab, uint32_t slot); /* the occupant's hash */
typedef void (*oa_move_fn)(void *tab, uint32_t to, uint32_t from);
typedef void (*oa_clear_fn)(void *tab, uint32_t slot);

OA_INLINE void oa_erase(void *tab, uint32_t mask, uint32_t slot, oa_empty_fn empty, oa_hash_fn hash, oa_move_fn move,
			oa_clear_fn clear)
{
	uint32_t i = slot;
	for (uint32_t j = (i + 1) & mask; !empty(tab, j); j = (j + 1) & mask) {
		if (bh_can_shift(i, j, hash(tab, j) & mask)) {
			move(tab, i, j);
			i = j;
		}
	}
	clear(tab, i);
}

/* ---- index tables: slots hold 32-bit entry numbers, one value marks an empty slot ----
 * Most tables keep their entries in a pool (stable numbers other tables refer to) and index
 * them by one or more keys; these wrap the above for a uint32_t slot array. */

/* Does entry id (never the empty value) have key q? */
typedef bool (*oa_id_match_fn)(const void *tab, uint32_t id, const void *q);
/* The hash entry id was placed under. */
typedef uint32_t (*oa_id_hash_fn)(const void *tab, uint32_t id);

/* The slot holding the entry with key q, or the empty slot where it belongs. */
OA_INLINE uint32_t oa_ids_find(const uint32_t *slots, uint32_t mask, uint32_t empty_id, uint32_t hash, const void *tab,
			       const void *q, oa_id_match_fn match)
{
	for (uint32_t i = hash & mask;; i = (i + 1) & mask) {
		uint32_t id = slots[i];
		if (id == empty_id || match(tab, id, q))
			return i;
	}
}

/* Empties slot and pulls later members of its probe run back. */
OA_INLINE void oa_ids_erase(uint32_t *slots, uint32_t mask, uint32_t empty_id, uint32_t slot, const void *tab,
			    oa_id_hash_fn hash)
{
	uint32_t i = slot;
	for (uint32_t j = (i + 1) & mask;; j = (j + 1) & mask) {
		uint32_t id = slots[j];
		if (id == empty_id)
			break;
		if (bh_can_shift(i, j, hash(tab, id) & mask)) {
			slots[i] = id;
			i = j;
		}
	}
	slots[i] = empty_id;
}

#endif
