/* dataplane/outputs/out_template.c: interning (same text, same id; a full table refuses) and expansion of
 * "{topic}" (anywhere, several times, cut at the buffer's end). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "out_template.h"

static size_t expand(const char *tmpl, const char *topic, char *out, size_t cap)
{
	uint16_t id = fo_out_tmpl_intern(tmpl);
	assert_int_not_equal(id, FO_TMPL_NONE);
	return fo_out_tmpl_expand(id, (const uint8_t *)topic, (uint16_t)strlen(topic), out, cap);
}

static void test_intern(void **state)
{
	(void)state;
	uint16_t a = fo_out_tmpl_intern("fanout:{topic}");
	uint16_t b = fo_out_tmpl_intern("other:{topic}");
	assert_int_not_equal(a, b);
	assert_int_equal(fo_out_tmpl_intern("fanout:{topic}"), a);
	assert_string_equal(fo_out_tmpl(a), "fanout:{topic}");
	assert_string_equal(fo_out_tmpl(b), "other:{topic}");
	assert_string_equal(fo_out_tmpl(FO_TMPL_NONE - 1), ""); /* never handed out */
}

static void test_expand(void **state)
{
	(void)state;
	char out[64];
	size_t n = expand("fanout:{topic}", "sensors/1/temp", out, sizeof(out));
	assert_int_equal(n, strlen("fanout:sensors/1/temp"));
	assert_memory_equal(out, "fanout:sensors/1/temp", n);
	n = expand("{topic}", "a/b", out, sizeof(out));
	assert_memory_equal(out, "a/b", n);
	assert_int_equal(n, 3);
	n = expand("x/{topic}/y/{topic}", "t", out, sizeof(out));
	assert_int_equal(n, strlen("x/t/y/t"));
	assert_memory_equal(out, "x/t/y/t", n);
	n = expand("fixed-stream", "ignored", out, sizeof(out));
	assert_int_equal(n, strlen("fixed-stream"));
	assert_memory_equal(out, "fixed-stream", n);
	n = expand("{top}{topic}", "z", out, sizeof(out)); /* only {topic} is a placeholder */
	assert_int_equal(n, strlen("{top}z"));
	assert_memory_equal(out, "{top}z", n);
	n = expand("pre:{topic}:post", "", out, sizeof(out)); /* an empty topic */
	assert_memory_equal(out, "pre::post", n);
	/* cut at cap, inside the topic and inside the literal text */
	n = expand("ab:{topic}", "0123456789", out, 6);
	assert_int_equal(n, 6);
	assert_memory_equal(out, "ab:012", 6);
	n = expand("abcdef{topic}", "x", out, 3);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "abc", 3);
}

static void test_full(void **state)
{
	(void)state;
	char t[32];
	uint16_t last = 0;
	for (unsigned i = 0; i < FO_MAX_TEMPLATES + 10; i++) {
		snprintf(t, sizeof(t), "k%u:{topic}", i);
		uint16_t id = fo_out_tmpl_intern(t);
		if (id == FO_TMPL_NONE)
			break;
		last = id;
	}
	assert_int_equal(last, FO_MAX_TEMPLATES - 1);
	assert_int_equal(fo_out_tmpl_intern("one more:{topic}"), FO_TMPL_NONE);
	assert_int_not_equal(fo_out_tmpl_intern("fanout:{topic}"), FO_TMPL_NONE); /* known texts still resolve */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intern),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
