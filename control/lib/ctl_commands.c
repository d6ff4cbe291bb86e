/* The command list's lookup and texts (see ctl_commands.h): linked by fanout-control, fanoutctl
 * and the unit tests, so what the server accepts and what the help says cannot drift apart. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ctl_commands.h"

const struct ctl_cmd_info ctl_cmd_info[CTL_CMD_MAX] = {
#define CTL_CMD_INFO(id, name, sub, min, max, args, help) [CTL_CMD_##id] = { name, sub, min, max, args, help },
	CTL_COMMANDS(CTL_CMD_INFO)
#undef CTL_CMD_INFO
};

bool ctl_word_is(const char *a, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(a, word, len) == 0;
}

int ctl_cmd_words(int id)
{
	return ctl_cmd_info[id].sub[0] ? 2 : 1;
}

int ctl_cmd_arity(int id)
{
	const struct ctl_cmd_info *c = &ctl_cmd_info[id];
	int w = ctl_cmd_words(id);

	return c->min == c->max ? w + c->min : -(w + c->min);
}

void ctl_cmd_synopsis(int id, char *buf, size_t n)
{
	const struct ctl_cmd_info *c = &ctl_cmd_info[id];

	snprintf(buf, n, "%s%s%s%s%s", c->name, c->sub[0] ? " " : "", c->sub, c->args[0] ? " " : "", c->args);
}

/* Appends to buf at *at, never past n. */
static void put(char *buf, size_t n, size_t *at, const char *s)
{
	if (*at >= n)
		return;
	int k = snprintf(buf + *at, n - *at, "%s", s);
	*at += k > 0 ? (size_t)k : 0;
}

/* "STATUS, ..., CONFIG APPLY|DIFF|HISTORY|SHOW, ROLLOUT START|..." */
static void list_commands(char *buf, size_t n, size_t *at)
{
	for (int i = 0; i < CTL_CMD_MAX; i++) {
		const struct ctl_cmd_info *c = &ctl_cmd_info[i];
		bool first_of_name = i == 0 || strcmp(ctl_cmd_info[i - 1].name, c->name) != 0;
		if (first_of_name) {
			put(buf, n, at, i ? ", " : "");
			put(buf, n, at, c->name);
			put(buf, n, at, c->sub[0] ? " " : "");
		} else {
			put(buf, n, at, "|");
		}
		put(buf, n, at, c->sub);
	}
}

/* "usage: CONFIG APPLY <yaml> [NOW] | CONFIG DIFF <yaml> | ..." for every entry named name. */
static void usage_of(const char *name, size_t nl, char *buf, size_t n, size_t *at)
{
	char syn[160];
	bool first = true;

	for (int i = 0; i < CTL_CMD_MAX; i++) {
		if (!ctl_word_is(name, nl, ctl_cmd_info[i].name))
			continue;
		ctl_cmd_synopsis(i, syn, sizeof(syn));
		put(buf, n, at, first ? "usage: " : " | ");
		put(buf, n, at, syn);
		first = false;
	}
}

int ctl_cmd_find(int argc, const char *const *argv, const size_t *lens, char *err, size_t errlen)
{
	size_t at = 0;
	bool name_known = false;

	if (argc < 1) {
		snprintf(err, errlen, "empty command; try STATUS");
		return -1;
	}
	for (int i = 0; i < CTL_CMD_MAX; i++) {
		const struct ctl_cmd_info *c = &ctl_cmd_info[i];
		if (!ctl_word_is(argv[0], lens[0], c->name))
			continue;
		name_known = true;
		if (c->sub[0] && (argc < 2 || !ctl_word_is(argv[1], lens[1], c->sub)))
			continue;
		int nargs = argc - ctl_cmd_words(i);
		if (nargs >= c->min && nargs <= c->max)
			return i;
		char syn[160];
		ctl_cmd_synopsis(i, syn, sizeof(syn));
		if (c->min == c->max)
			snprintf(err, errlen, "%s%s%s takes %d argument(s), not %d; usage: %s", c->name,
				 c->sub[0] ? " " : "", c->sub, c->min, nargs, syn);
		else
			snprintf(err, errlen, "%s%s%s takes %d to %d arguments, not %d; usage: %s", c->name,
				 c->sub[0] ? " " : "", c->sub, c->min, c->max, nargs, syn);
		return -1;
	}
	if (name_known) {
		usage_of(argv[0], lens[0], err, errlen, &at);
		return -1;
	}
	int k = snprintf(err, errlen, "unknown command '%.*s'; commands: ", (int)(lens[0] > 40 ? 40 : lens[0]),
			 argv[0]);
	at = k > 0 ? (size_t)k : 0;
	list_commands(err, errlen, &at);
	put(err, errlen, &at, "; HELP explains them");
	return -1;
}
