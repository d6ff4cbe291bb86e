/* Prints every entry of fanout/stats_schema.h, one a line, tab-separated:
 *   family  list  name  key  unit  metric  reason  description
 * e2e-schema compares the running dataplane's JSON, its DPDK telemetry and fanout-control's
 * /metrics against this list, so the test's expectations come from the schema itself. */
#include <stdio.h>

#include "fanout/stats_schema.h"

int main(void)
{
#define LABELLED_ENTRY_(id, name, unit, help) \
	printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", fam, fam, name, name, unit, metric, name, help);
#define LABELLED_(family, LIST, m, h) \
	{ \
		const char *fam = family, *metric = m; \
		LIST(LABELLED_ENTRY_) \
	}
	FO_FOREACH_LABELLED_FAMILY(LABELLED_)
#define STRUCT_ENTRY_(field, key, unit, metric, reason, help) \
	printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", fam, list, #field, key, unit, metric, reason, help);
#define STRUCT_(family, sub, LIST) \
	{ \
		const char *fam = family, *list = sub; \
		LIST(STRUCT_ENTRY_) \
	}
	STRUCT_("lcore", "lcore_rx", FO_FOREACH_LCORE_RX)
	STRUCT_("lcore", "lcore_out", FO_FOREACH_LCORE_OUT)
	STRUCT_("lcore", "lcore_loop", FO_FOREACH_LCORE_LOOP)
	STRUCT_("generation", "gen_msg", FO_FOREACH_GEN_MSG)
	STRUCT_("generation", "gen_out", FO_FOREACH_GEN_OUT)
	STRUCT_("generation", "gen_lat", FO_FOREACH_GEN_LAT)
	STRUCT_("route", "route_any", FO_FOREACH_ROUTE_ANY)
	STRUCT_("route", "route_udp", FO_FOREACH_ROUTE_UDP)
	STRUCT_("route", "route_out", FO_FOREACH_ROUTE_OUT)
	STRUCT_("output", "output_worker", FO_FOREACH_OUTPUT_WORKER)
	STRUCT_("output", "output_thread", FO_FOREACH_OUTPUT_THREAD)
	/* the sub-lists above must cover each family as FO_FOREACH_STRUCT_FAMILY declares it */
	unsigned family_total = 0, listed = 0;
#define COUNT_(...) n++;
#define FAMILY_COUNT_(family, LIST) \
	{ \
		unsigned n = 0; \
		LIST(COUNT_) \
		family_total += n; \
	}
	FO_FOREACH_STRUCT_FAMILY(FAMILY_COUNT_)
	{
		unsigned n = 0;
		/* clang-format off */
		FO_FOREACH_LCORE_RX(COUNT_)
		FO_FOREACH_LCORE_OUT(COUNT_)
		FO_FOREACH_LCORE_LOOP(COUNT_)
		FO_FOREACH_GEN_MSG(COUNT_)
		FO_FOREACH_GEN_OUT(COUNT_)
		FO_FOREACH_GEN_LAT(COUNT_)
		FO_FOREACH_ROUTE_ANY(COUNT_)
		FO_FOREACH_ROUTE_UDP(COUNT_)
		FO_FOREACH_ROUTE_OUT(COUNT_)
		FO_FOREACH_OUTPUT_WORKER(COUNT_)
		FO_FOREACH_OUTPUT_THREAD(COUNT_)
		/* clang-format on */
		listed = n;
	}
	if (listed != family_total) {
		fprintf(stderr,
			"schema-dump: %u entries in the struct families, %u in the sub-lists printed; "
			"add the new sub-list here\n",
			family_total, listed);
		return 1;
	}
	return 0;
}
