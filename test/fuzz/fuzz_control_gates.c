/* libFuzzer target for fanout-control's parsers of operator text that arrives over RESP/HTTP:
 * gate expressions (control/lib/gates.c) and the rollout's STEPS/HOLD/MODE values (control/lib/rollout.c).
 * Checks: no crash; an accepted gate formats to text that parses back to the same gate; accepted
 * steps are strictly ascending within 1..10000 bp. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gates.h"
#include "rollout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char err[512], buf[GATE_TEXT_MAX + 64];
	struct gate g, g2;
	struct ro_plan p;
	uint64_t ms;
	enum ro_mode m;

	if (gate_parse(s, size, &g, err, sizeof(err)) == 0) {
		if ((unsigned)g.metric >= GATE_METRIC_MAX)
			abort();
		gate_format(&g, buf, sizeof(buf));
		if (gate_parse(buf, strlen(buf), &g2, err, sizeof(err)) != 0 || g2.metric != g.metric ||
		    g2.threshold != g.threshold)
			abort();
	} else if (err[0] == '\0') {
		abort(); /* every refusal says why */
	}
	ro_plan_default(&p);
	if (ro_parse_steps(s, size, &p, err, sizeof(err)) == 0) {
		if (p.n_steps == 0 || p.n_steps > RO_MAX_STEPS)
			abort();
		for (unsigned i = 0; i < p.n_steps; i++)
			if (p.steps_bp[i] == 0 || p.steps_bp[i] > RO_SHARE_MAX ||
			    (i && p.steps_bp[i] <= p.steps_bp[i - 1]))
				abort();
	}
	if (ro_parse_hold(s, size, &ms, err, sizeof(err)) == 0 && ms > RO_MAX_HOLD_MS)
		abort();
	(void)ro_parse_mode(s, size, &m, err, sizeof(err));
	return 0;
}
