/* Unit tests for dataplane/net/frag_refused.h: a refused datagram is known by its (source,
 * destination, identification) until its time is up, never by a neighbour key, and a datagram
 * hashed to the same slot takes the slot over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "frag_refused.h"

static void test_known_until_ttl(void **state)
{
	(void)state;
	struct fo_frag_refused t;
	memset(&t, 0, sizeof(t));
	assert_false(fo_frag_refused_has(&t, 0, 0, 0, 0)); /* zeroed = empty, even for key 0 */
	fo_frag_refused_add(&t, 0x0a000007, 0x0a000001, 4242, 1000, 300);
	assert_true(fo_frag_refused_has(&t, 0x0a000007, 0x0a000001, 4242, 1000));
	assert_true(fo_frag_refused_has(&t, 0x0a000007, 0x0a000001, 4242, 1299));
	assert_false(fo_frag_refused_has(&t, 0x0a000007, 0x0a000001, 4242, 1300));
	/* any part of the key different: not the same datagram */
	assert_false(fo_frag_refused_has(&t, 0x0a000008, 0x0a000001, 4242, 1000));
	assert_false(fo_frag_refused_has(&t, 0x0a000007, 0x0a000002, 4242, 1000));
	assert_false(fo_frag_refused_has(&t, 0x0a000007, 0x0a000001, 4243, 1000));
}

static void test_slot_taken_over(void **state)
{
	(void)state;
	struct fo_frag_refused t;
	memset(&t, 0, sizeof(t));
	/* find two identifications of one source that share a slot */
	unsigned s0 = fo_frag_refused_slot(1, 2, 0);
	uint16_t other = 1;
	while (fo_frag_refused_slot(1, 2, other) != s0)
		other++;
	fo_frag_refused_add(&t, 1, 2, 0, 10, 100);
	assert_true(fo_frag_refused_has(&t, 1, 2, 0, 20));
	fo_frag_refused_add(&t, 1, 2, other, 20, 100);
	assert_true(fo_frag_refused_has(&t, 1, 2, other, 30));
	assert_false(fo_frag_refused_has(&t, 1, 2, 0, 30));
	/* every slot is reachable and in range */
	unsigned seen[FO_FRAG_REFUSED_SLOTS] = { 0 };
	for (uint32_t id = 0; id < 65536; id++) {
		unsigned s = fo_frag_refused_slot(0xc6120002, 0xc6120001, (uint16_t)id);
		assert_true(s < FO_FRAG_REFUSED_SLOTS);
		seen[s]++;
	}
	for (unsigned i = 0; i < FO_FRAG_REFUSED_SLOTS; i++)
		assert_true(seen[i] > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_until_ttl),
		cmocka_unit_test(test_slot_taken_over),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
