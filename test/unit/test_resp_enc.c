/* dataplane/outputs/resp_enc.h against hiredis's own command formatting (redisFormatCommandArgv): the
 * same bytes for empty, binary and long arguments and for numbers, so what the sink writes is
 * exactly what hiredis would have written. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "resp_enc.h"

static void same_as_hiredis(int argc, const char **argv, const size_t *len)
{
	char *want = NULL;
	int wl = redisFormatCommandArgv(&want, argc, argv, len);
	assert_true(wl > 0);
	size_t room = 32;
	for (int i = 0; i < argc; i++)
		room += fo_resp_bulk_room(len[i]);
	char *got = malloc(room);
	assert_non_null(got);
	char *p = fo_resp_array(got, (uint64_t)argc);
	for (int i = 0; i < argc; i++)
		p = fo_resp_bulk(p, argv[i], len[i]);
	assert_true((size_t)(p - got) <= room);
	assert_int_equal(p - got, wl);
	assert_memory_equal(got, want, (size_t)wl);
	free(got);
	free(want);
}

static void test_commands(void **state)
{
	(void)state;
	const char *a1[] = { "XADD", "fanout:sensors/1", "MAXLEN", "~", "1000000", "1795327181751-0", "payload", "" };
	size_t l1[] = { 4, 16, 6, 1, 7, 15, 7, 0 };
	same_as_hiredis(8, a1, l1);
	static char bin[70000];
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (char)(i * 131 + 7); /* NULs, \r, \n and every byte value */
	const char *a2[] = { "SET", bin, bin + 1 };
	size_t l2[] = { 3, 10, sizeof(bin) - 1 };
	same_as_hiredis(3, a2, l2);
	const char *a3[] = { "PING" };
	size_t l3[] = { 4 };
	same_as_hiredis(1, a3, l3);
}

static void test_numbers(void **state)
{
	(void)state;
	static const int64_t v[] = { 0, 1, -1, 9, 10, 99, 100, 65535, -65536, 1795327181751003, INT64_MAX, INT64_MIN };
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char want[64], got[64];
		int n = snprintf(want, sizeof(want), "%lld", (long long)v[i]);
		char hdr[16];
		int h = snprintf(hdr, sizeof(hdr), "$%d\r\n", n);
		char full[96];
		int fl = snprintf(full, sizeof(full), "%s%s\r\n", hdr, want);
		char *e = fo_resp_bulk_i64(got, v[i]);
		assert_int_equal(e - got, fl);
		assert_memory_equal(got, full, (size_t)fl);
		(void)h;
	}
	char u[24];
	assert_int_equal(fo_resp_u64(u, UINT64_MAX) - u, 20);
	assert_memory_equal(u, "18446744073709551615", 20);
}

static void test_random(void **state)
{
	(void)state;
	srand(7);
	static char pool[4096];
	for (size_t i = 0; i < sizeof(pool); i++)
		pool[i] = (char)rand();
	for (int round = 0; round < 2000; round++) {
		const char *argv[20];
		size_t len[20];
		int argc = 1 + rand() % 20;
		for (int i = 0; i < argc; i++) {
			size_t off = (size_t)rand() % sizeof(pool);
			len[i] = (size_t)rand() % (sizeof(pool) - off + 1);
			argv[i] = pool + off;
		}
		same_as_hiredis(argc, argv, len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
