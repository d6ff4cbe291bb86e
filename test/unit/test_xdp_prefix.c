/* Unit tests for dataplane/xdp/xdp_prefix.c: the prefixes `fanoutctl block` takes (IPv4, IPv6,
 * bare addresses, lengths at and past their bounds, host bits, junk) and the rate-limit words of
 * `limit set`, with the canonical text each prefix is listed under. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fanout/xdp_prefilter.h"
#include "xdp_prefix.h"

static void ok(const char *in, int family, int len, const char *canonical)
{
	struct fo_prefix p;
	char err[256] = "", text[64];

	if (fo_prefix_parse(in, &p, err, sizeof(err)) != 0)
		fail_msg("'%s' refused: %s", in, err);
	assert_int_equal(p.family, family);
	assert_int_equal(p.len, len);
	fo_prefix_format(&p, text, sizeof(text));
	assert_string_equal(text, canonical);
}

static void refused(const char *in, const char *says)
{
	struct fo_prefix p;
	char err[256] = "";

	assert_int_equal(fo_prefix_parse(in, &p, err, sizeof(err)), -1);
	if (!strstr(err, says))
		fail_msg("'%s': error '%s' does not say '%s'", in, err, says);
}

static void test_ipv4(void **state)
{
	(void)state;
	ok("198.18.0.7", 4, 32, "198.18.0.7/32");
	ok("198.18.0.0/15", 4, 15, "198.18.0.0/15");
	ok("198.18.4.0/24", 4, 24, "198.18.4.0/24");
	ok("0.0.0.0/0", 4, 0, "0.0.0.0/0");
	ok("198.18.0.7/32", 4, 32, "198.18.0.7/32");
	struct fo_prefix p;
	char err[128];
	assert_int_equal(fo_prefix_parse("198.19.1.2", &p, err, sizeof(err)), 0);
	assert_memory_equal(p.addr, ((uint8_t[]){ 198, 19, 1, 2 }), 4);
}

static void test_ipv6(void **state)
{
	(void)state;
	ok("2001:db8::1", 6, 128, "2001:db8::1/128");
	ok("2001:db8::/32", 6, 32, "2001:db8::/32");
	ok("::/0", 6, 0, "::/0");
	ok("fe80::/10", 6, 10, "fe80::/10");
	ok("2001:DB8:0:0::/64", 6, 64, "2001:db8::/64");
}

static void test_host_bits(void **state)
{
	(void)state;
	refused("198.18.0.1/24", "the prefix is 198.18.0.0/24");
	refused("198.19.255.255/15", "the prefix is 198.18.0.0/15");
	refused("10.0.0.1/0", "the prefix is 0.0.0.0/0");
	refused("2001:db8::1/64", "the prefix is 2001:db8::/64");
	refused("fe81::/10", "the prefix is fe80::/10");
}

static void test_bad(void **state)
{
	(void)state;
	refused("", "not an IPv4 or IPv6");
	refused("/24", "not an IPv4 or IPv6");
	refused("198.18.0", "not an IPv4 or IPv6");
	refused("198.18.0.256", "not an IPv4 or IPv6");
	refused("198.18.0.0 /24", "not an IPv4 or IPv6");
	refused("host.example", "not an IPv4 or IPv6");
	refused("198.18.0.0/33", "0..32");
	refused("198.18.0.0/", "0..32");
	refused("198.18.0.0/-1", "0..32");
	refused("198.18.0.0/+8", "0..32");
	refused("198.18.0.0/8x", "0..32");
	refused("198.18.0.0/24/8", "0..32");
	refused("198.18.0.0/99999999999", "0..32");
	refused("2001:db8::/129", "0..128");
	refused("2001:db8:::/32", "not an IPv4 or IPv6");
	char lng[200];
	memset(lng, '1', sizeof(lng) - 1);
	lng[sizeof(lng) - 1] = '\0';
	refused(lng, "not an IPv4 or IPv6");
}

static void test_limit(void **state)
{
	(void)state;
	uint32_t r, b;
	char err[256];

	assert_int_equal(fo_limit_parse("1000", NULL, &r, &b, err, sizeof(err)), 0);
	assert_int_equal(r, 1000);
	assert_int_equal(b, 1000);
	assert_int_equal(fo_limit_parse("200", "20", &r, &b, err, sizeof(err)), 0);
	assert_int_equal(r, 200);
	assert_int_equal(b, 20);
	assert_int_equal(fo_limit_parse("0", NULL, &r, &b, err, sizeof(err)), 0); /* off */
	assert_int_equal(r, 0);
	assert_int_equal(b, 1);
	assert_int_equal(fo_limit_parse("100000000", NULL, &r, &b, err, sizeof(err)), 0);
	assert_int_equal(b, FO_XDP_MAX_BURST); /* the default burst is capped */
	assert_int_equal(fo_limit_parse("100000001", NULL, &r, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "0..100000000"));
	assert_int_equal(fo_limit_parse("10", "0", &r, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "burst"));
	assert_int_equal(fo_limit_parse("10", "1000001", &r, &b, err, sizeof(err)), -1);
	assert_int_equal(fo_limit_parse("-5", NULL, &r, &b, err, sizeof(err)), -1);
	assert_int_equal(fo_limit_parse("5k", NULL, &r, &b, err, sizeof(err)), -1);
	assert_int_equal(fo_limit_parse("", NULL, &r, &b, err, sizeof(err)), -1);
	assert_int_equal(fo_limit_parse(NULL, NULL, &r, &b, err, sizeof(err)), -1);
	assert_int_equal(fo_limit_parse("99999999999999999999", NULL, &r, &b, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4), cmocka_unit_test(test_ipv6),  cmocka_unit_test(test_host_bits),
		cmocka_unit_test(test_bad),  cmocka_unit_test(test_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
