/* The XDP pre-filter's blocklist and rate limit from fanout-control (xdp_control.h), through
 * the pinned maps (dataplane/xdp/xdp_maps.c). */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "commands.h"
#include "xdp_control.h"
#include "xdp_maps.h"

#define MAX_PORTS 16

#define XDP_NAME_(id, name, ...) name,
static const char *const verdict_names[FO_XDP_MAX] = { FO_FOREACH_XDP(XDP_NAME_) };
#undef XDP_NAME_

/* The pin directories of the ports the dataplane runs behind the pre-filter: their count, or -1. */
static int pin_dirs(const char *dirs[MAX_PORTS], char *err, size_t errlen)
{
	json_t *ports = json_object_get(app.dp.stats, "ports"), *p;
	size_t i;
	int n = 0;

	if (!app.dp.stats) {
		snprintf(err, errlen, "%s: no STATS from the dataplane yet, so its XDP pins are unknown", CTL_DP_DOWN);
		return -1;
	}
	json_array_foreach(ports, i, p)
	{
		const char *d = json_string_value(json_object_get(p, "xdp_pins"));
		if (d && *d && n < MAX_PORTS)
			dirs[n++] = d;
	}
	if (n == 0)
		snprintf(err, errlen,
			 "no port of the dataplane runs behind the XDP pre-filter (start it on net_af_xdp with "
			 "xdp_prog=fanout_prefilter.bpf.o)");
	return n ? n : -1;
}

/* The desired state (app.st.xdp, in state.json): kept in step with every edit that succeeded. */
static void desired_block(const char *text, bool add)
{
	json_t *block = json_object_get(app.st.xdp, "block"), *b;
	size_t i;

	json_array_foreach(block, i, b) if (!strcmp(json_string_value(b), text))
	{
		if (!add)
			json_array_remove(block, i);
		return;
	}
	if (add && json_array_size(block) < ST_MAX_XDP_BLOCK)
		json_array_append_new(block, json_string(text));
}

static void desired_saved(const char *event, json_t *detail)
{
	st_event(&app.st, wall_ms(), event, detail);
	app_persist();
}

static int word(const char *w, size_t len, char *buf, size_t n, const char *what, char *err, size_t errlen)
{
	if (len == 0 || len >= n || memchr(w, '\0', len)) {
		snprintf(err, errlen, "%s: expected %s", what, what);
		return -1;
	}
	memcpy(buf, w, len);
	buf[len] = '\0';
	return 0;
}

static json_t *port_status(struct fo_xdp *x)
{
	uint64_t v[FO_XDP_MAX];
	uint32_t pps = 0, burst = 0;
	json_t *ver = json_object();

	if (!fo_xdp_verdicts(x, v))
		for (int i = 0; i < FO_XDP_MAX; i++)
			json_object_set_new(ver, verdict_names[i], json_integer((json_int_t)v[i]));
	fo_xdp_limit_get(x, &pps, &burst);
	return json_pack("{s:s,s:I,s:I,s:o}", "pins", x->dir, "rate_pps", (json_int_t)pps, "rate_burst",
			 (json_int_t)burst, "verdicts", ver);
}

json_t *xdpc_status(char *err, size_t errlen)
{
	const char *dirs[MAX_PORTS];
	int n = pin_dirs(dirs, err, errlen);
	json_t *out = json_array();

	if (n < 0) {
		json_decref(out);
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		struct fo_xdp x;
		if (fo_xdp_open(&x, dirs[i], err, errlen)) {
			json_decref(out);
			return NULL;
		}
		json_array_append_new(out, port_status(&x));
		fo_xdp_close(&x);
	}
	return json_pack("{s:o}", "ports", out);
}

static json_t *block_edit(bool add, const char *w, size_t len, char *err, size_t errlen)
{
	char buf[64], text[64];
	struct fo_prefix p;
	const char *dirs[MAX_PORTS];
	int changed = 0;

	if (word(w, len, buf, sizeof(buf), "an IPv4 or IPv6 address or prefix", err, errlen) ||
	    fo_prefix_parse(buf, &p, err, errlen))
		return NULL;
	int n = pin_dirs(dirs, err, errlen);
	if (n < 0)
		return NULL;
	for (int i = 0; i < n; i++) {
		struct fo_xdp x;
		if (fo_xdp_open(&x, dirs[i], err, errlen))
			return NULL;
		int rc = add ? fo_xdp_block_add(&x, &p, err, errlen) : fo_xdp_block_del(&x, &p, err, errlen);
		fo_xdp_close(&x);
		if (rc < 0)
			return NULL;
		changed += add || rc == 1;
	}
	fo_prefix_format(&p, text, sizeof(text));
	if (!add && changed == 0) {
		snprintf(err, errlen, "%s is not on the blocklist (BLOCK LIST shows it)", text);
		return NULL;
	}
	desired_block(text, add);
	desired_saved(add ? "xdp_block_add" : "xdp_block_del", json_pack("{s:s}", "prefix", text));
	return json_pack("{s:s,s:b,s:i}", "prefix", text, add ? "added" : "deleted", 1, "ports", n);
}

json_t *xdpc_block_add(const char *w, size_t len, char *err, size_t errlen)
{
	return block_edit(true, w, len, err, errlen);
}

json_t *xdpc_block_del(const char *w, size_t len, char *err, size_t errlen)
{
	return block_edit(false, w, len, err, errlen);
}

static void list_one(void *arg, const struct fo_prefix *p, uint64_t drops)
{
	json_t *entries = arg, *e;
	char text[64];

	fo_prefix_format(p, text, sizeof(text));
	e = json_object_get(entries, text);
	json_object_set_new(entries, text,
			    json_integer((json_int_t)drops + (e ? json_integer_value(e) : 0))); /* summed over ports */
}

json_t *xdpc_block_list(char *err, size_t errlen)
{
	const char *dirs[MAX_PORTS];
	int n = pin_dirs(dirs, err, errlen);
	json_t *entries = json_object(), *list = json_array(), *v;
	const char *k;

	for (int i = 0; i < n; i++) {
		struct fo_xdp x;
		if (fo_xdp_open(&x, dirs[i], err, errlen)) {
			n = -1;
			break;
		}
		fo_xdp_block_list(&x, list_one, entries);
		fo_xdp_close(&x);
	}
	if (n < 0) {
		json_decref(entries);
		json_decref(list);
		return NULL;
	}
	json_object_foreach(entries, k, v) json_array_append_new(
		list, json_pack("{s:s,s:I}", "prefix", k, "drops", (json_int_t)json_integer_value(v)));
	json_decref(entries);
	return json_pack("{s:o,s:i}", "entries", list, "ports", n);
}

json_t *xdpc_limit_set(const char *pps, size_t pps_len, const char *burst, size_t burst_len, char *err, size_t errlen)
{
	char a[24], b[24];
	uint32_t r, bu;
	const char *dirs[MAX_PORTS];

	if (word(pps, pps_len, a, sizeof(a), "packets/s", err, errlen) ||
	    (burst && word(burst, burst_len, b, sizeof(b), "a burst in packets", err, errlen)) ||
	    fo_limit_parse(a, burst ? b : NULL, &r, &bu, err, errlen))
		return NULL;
	int n = pin_dirs(dirs, err, errlen);
	if (n < 0)
		return NULL;
	for (int i = 0; i < n; i++) {
		struct fo_xdp x;
		if (fo_xdp_open(&x, dirs[i], err, errlen))
			return NULL;
		int rc = fo_xdp_limit_set(&x, r, bu, err, errlen);
		fo_xdp_close(&x);
		if (rc)
			return NULL;
	}
	json_object_set_new(app.st.xdp, "rate_pps", json_integer(r));
	json_object_set_new(app.st.xdp, "rate_burst", json_integer(bu));
	desired_saved("xdp_limit_set", json_pack("{s:I,s:I}", "rate_pps", (json_int_t)r, "rate_burst", (json_int_t)bu));
	return json_pack("{s:I,s:I,s:i}", "rate_pps", (json_int_t)r, "rate_burst", (json_int_t)bu, "ports", n);
}

/* Which program each pin directory held when the desired state was last applied to it. */
static struct {
	char dir[128];
	uint32_t prog;
} applied[MAX_PORTS];

/* The desired blocklist and limit into one port's fresh maps: the number of prefixes applied. */
static int apply_desired(const char *dir, char *err, size_t errlen)
{
	struct fo_xdp x;
	json_t *b;
	size_t i;
	int n = 0;

	if (fo_xdp_open(&x, dir, err, errlen))
		return -1;
	json_array_foreach(json_object_get(app.st.xdp, "block"), i, b)
	{
		struct fo_prefix p;
		char e[160];
		if (!fo_prefix_parse(json_string_value(b), &p, e, sizeof(e)) && !fo_xdp_block_add(&x, &p, e, sizeof(e)))
			n++;
		else
			fprintf(stderr, "fanout-control: XDP %s: blocklist entry %s not applied: %s\n", dir,
				json_string_value(b), e);
	}
	uint32_t pps = (uint32_t)json_integer_value(json_object_get(app.st.xdp, "rate_pps"));
	uint32_t burst = (uint32_t)json_integer_value(json_object_get(app.st.xdp, "rate_burst"));
	int rc = fo_xdp_limit_set(&x, pps, burst ? burst : 1, err, errlen);
	fo_xdp_close(&x);
	return rc ? -1 : n;
}

void xdpc_on_stats(void)
{
	json_t *ports = json_object_get(app.dp.stats, "ports"), *p;
	size_t i;
	char err[256];

	json_array_foreach(ports, i, p)
	{
		const char *dir = json_string_value(json_object_get(p, "xdp_pins"));
		uint32_t prog = (uint32_t)json_integer_value(json_object_get(p, "xdp_prog"));
		if (!dir || !*dir || !prog)
			continue;
		size_t k, free_slot = MAX_PORTS;
		for (k = 0; k < MAX_PORTS; k++) {
			if (!strcmp(applied[k].dir, dir))
				break;
			if (!applied[k].dir[0] && free_slot == MAX_PORTS)
				free_slot = k;
		}
		if (k == MAX_PORTS) {
			if (free_slot == MAX_PORTS)
				continue;
			k = free_slot;
			snprintf(applied[k].dir, sizeof(applied[k].dir), "%s", dir);
			applied[k].prog = 0;
		}
		if (applied[k].prog == prog)
			continue;
		int n = apply_desired(dir, err, sizeof(err));
		applied[k].prog = prog; /* once per program: a failure here is the commands' failure too */
		if (n < 0) {
			fprintf(stderr,
				"fanout-control: XDP pre-filter in %s (program %u): desired state not applied: %s\n",
				dir, prog, err);
			continue;
		}
		printf("fanout-control: XDP pre-filter in %s (program %u): %d blocked prefixes and rate limit "
		       "%" JSON_INTEGER_FORMAT " packets/s applied\n",
		       dir, prog, n, json_integer_value(json_object_get(app.st.xdp, "rate_pps")));
		fflush(stdout);
	}
}
