/* Helpers shared by the cmocka tests of control/ code that parse JSON and check rendered text.
 * Include after <cmocka.h> and <jansson.h>. */
#ifndef FANOUT_TEST_JSON_TEXT_HELPERS_H
#define FANOUT_TEST_JSON_TEXT_HELPERS_H

#include <stdarg.h>
#include <string.h>

/* Parsed test JSON; fails the test on a syntax error. */
static json_t *J(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (!j)
		fail_msg("bad test JSON at %d: %s", e.position, e.text);
	return j;
}

/* The text contains each needle (NULL-terminated list); prints it when not. */
static void contains(const char *text, ...)
{
	va_list ap;
	va_start(ap, text);
	for (const char *n; (n = va_arg(ap, const char *));) {
		if (!strstr(text, n)) {
			print_message("---- text ----\n%s---- missing: '%s'\n", text, n);
			fail();
		}
	}
	va_end(ap);
}

#endif
