/* cmocka tests for dataplane/base/json_out.c: any byte string (NUL, ESC, quotes, bytes >= 0x80) is
 * written as a valid JSON string of explicit length that parses back to the same bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "json_out.h"

static char *str_json(const void *s, size_t len, size_t *n)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, n);
	assert_non_null(f);
	fo_json_str(f, s, len);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_control_bytes(void **state)
{
	(void)state;
	const char id[] = "a\0b\x1b[2J\"\\\n\x7f";
	size_t n;
	char *s = str_json(id, sizeof(id) - 1, &n);
	assert_string_equal(s, "\"a\\u0000b\\u001b[2J\\\"\\\\\\u000a\\u007f\"");
	assert_int_equal(strlen(s), n); /* no raw NUL in the output */
	json_error_t je;
	json_t *j = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	assert_non_null(j);
	assert_int_equal(json_string_length(j), sizeof(id) - 1);
	assert_memory_equal(json_string_value(j), id, sizeof(id) - 1);
	json_decref(j);
	free(s);
}

static void test_every_byte(void **state)
{
	(void)state;
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	size_t n;
	char *s = str_json(all, sizeof(all), &n);
	for (size_t i = 0; i < n; i++)
		assert_true((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f);
	json_t *j = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	assert_non_null(j); /* bytes >= 0x80 come back as U+0080..U+00FF: the listing stays valid JSON */
	assert_true(json_is_string(j));
	json_decref(j);
	free(s);
	s = str_json(NULL, 0, &n);
	assert_string_equal(s, "\"\"");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_bytes),
		cmocka_unit_test(test_every_byte),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
