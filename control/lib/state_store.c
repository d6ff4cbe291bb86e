/* Persistence of fanout-control's desired state (see state_store.h). One JSON document;
 * every save rewrites it whole through a temp file so a crash leaves the old or the new one. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sha256.h"
#include "state_store.h"

void st_init(struct ctl_state *st)
{
	memset(st, 0, sizeof(*st));
	st->mode = RO_MODE_SPLIT;
	ro_init(&st->rollout);
	st->history = json_array();
	st->xdp = json_pack("{s:[],s:i,s:i}", "block", "rate_pps", 0, "rate_burst", 0);
}

void st_free(struct ctl_state *st)
{
	for (size_t i = 0; i < st->n_versions; i++)
		free(st->versions[i].text);
	free(st->versions);
	json_decref(st->history);
	json_decref(st->xdp);
	memset(st, 0, sizeof(*st));
}

struct st_version *st_version_find(const struct ctl_state *st, uint32_t id)
{
	for (size_t i = 0; i < st->n_versions; i++)
		if (st->versions[i].id == id)
			return &st->versions[i];
	return NULL;
}

void st_version_outcome(struct ctl_state *st, uint32_t id, const char *outcome)
{
	struct st_version *v = st_version_find(st, id);

	if (v != NULL)
		snprintf(v->outcome, sizeof(v->outcome), "%s", outcome);
}

/* Drop the oldest version that is neither desired stable nor canary. */
static void forget_oldest(struct ctl_state *st)
{
	for (size_t i = 0; i < st->n_versions; i++) {
		if (st->versions[i].id == st->stable_id || st->versions[i].id == st->canary_id)
			continue;
		free(st->versions[i].text);
		memmove(&st->versions[i], &st->versions[i + 1], (st->n_versions - i - 1) * sizeof(st->versions[0]));
		st->n_versions--;
		return;
	}
}

struct st_version *st_version_add(struct ctl_state *st, uint32_t id, const char *text, size_t len, uint64_t now_ms)
{
	struct st_version v = { .id = id, .created_ms = now_ms };

	if (st_version_find(st, id) != NULL)
		return NULL;
	if (st->n_versions >= ST_MAX_VERSIONS)
		forget_oldest(st);
	if (st->n_versions == st->cap_versions) {
		size_t cap = st->cap_versions ? 2 * st->cap_versions : 16;
		struct st_version *n = realloc(st->versions, cap * sizeof(*n));
		if (n == NULL)
			return NULL;
		st->versions = n;
		st->cap_versions = cap;
	}
	v.text = strndup(text, len);
	if (v.text == NULL)
		return NULL;
	sha256_hex(text, len, v.sha256);
	snprintf(v.outcome, sizeof(v.outcome), "new");
	size_t at = st->n_versions;
	while (at > 0 && st->versions[at - 1].id > id)
		at--;
	memmove(&st->versions[at + 1], &st->versions[at], (st->n_versions - at) * sizeof(v));
	st->versions[at] = v;
	st->n_versions++;
	if (id > st->last_id)
		st->last_id = id;
	return &st->versions[at];
}

json_t *st_version_json(const struct st_version *v, bool with_text)
{
	json_t *j = json_pack("{s:I,s:s,s:I,s:s}", "id", (json_int_t)v->id, "sha256", v->sha256, "created_ms",
			      (json_int_t)v->created_ms, "outcome", v->outcome);
	if (j != NULL && with_text)
		json_object_set_new(j, "text", json_string(v->text));
	else if (j != NULL)
		json_object_set_new(j, "bytes", json_integer((json_int_t)strlen(v->text)));
	return j;
}

void st_event(struct ctl_state *st, uint64_t now_ms, const char *type, json_t *detail)
{
	json_t *e = json_pack("{s:I,s:s}", "t_ms", (json_int_t)now_ms, "event", type);

	if (e == NULL) {
		json_decref(detail);
		return;
	}
	if (detail != NULL)
		json_object_update(e, detail);
	json_decref(detail);
	json_array_append_new(st->history, e);
	while (json_array_size(st->history) > ST_MAX_HISTORY)
		json_array_remove(st->history, 0);
}

json_t *st_rollout_json(const struct rollout *r)
{
	json_t *steps = json_array(), *gates = json_array();
	char g[GATE_TEXT_MAX + 32];

	for (unsigned i = 0; i < r->plan.n_steps; i++)
		json_array_append_new(steps, json_real(r->plan.steps_bp[i] / 100.0));
	for (unsigned i = 0; i < r->plan.n_gates; i++)
		json_array_append_new(gates, json_string(gate_format(&r->plan.gates[i], g, sizeof(g))));
	json_t *j = json_pack("{s:s,s:I,s:{s:o,s:I,s:s,s:o,s:b},s:I,s:I,s:I,s:I,s:I,s:s}", "state",
			      ro_state_name(r->state), "generation", (json_int_t)r->generation, "plan", "steps", steps,
			      "hold_ms", (json_int_t)r->plan.hold_ms, "mode", ro_mode_name(r->plan.mode), "gates",
			      gates, "auto", r->plan.auto_advance, "step", (json_int_t)r->step, "share_bp",
			      (json_int_t)r->share_bp, "started_ms", (json_int_t)r->started_ms, "step_started_ms",
			      (json_int_t)r->step_started_ms, "ended_ms", (json_int_t)r->ended_ms, "reason", r->reason);
	if (j != NULL && r->failed)
		json_object_set_new(j, "failed_gate",
				    json_pack("{s:s,s:f,s:f}", "gate", gate_format(&r->failed_gate, g, sizeof(g)),
					      "value", r->failed_value, "threshold", r->failed_gate.threshold));
	return j;
}

static uint64_t get_u64(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) && json_integer_value(v) >= 0 ? (uint64_t)json_integer_value(v) : 0;
}

int st_rollout_from_json(json_t *j, struct rollout *r, char *err, size_t errlen)
{
	json_t *plan = json_object_get(j, "plan"), *steps, *gates, *v;
	const char *state = json_string_value(json_object_get(j, "state"));
	const char *mode, *reason;
	size_t i;

	ro_init(r);
	if (!json_is_object(j) || !json_is_object(plan) || state == NULL || ro_state_from_name(state, &r->state) != 0) {
		snprintf(err, errlen, "rollout: missing plan or unknown state");
		return -1;
	}
	steps = json_object_get(plan, "steps");
	gates = json_object_get(plan, "gates");
	if (!json_is_array(steps) || json_array_size(steps) > RO_MAX_STEPS || !json_is_array(gates) ||
	    json_array_size(gates) > RO_MAX_GATES) {
		snprintf(err, errlen, "rollout: plan steps/gates missing or too many");
		return -1;
	}
	r->plan.n_steps = 0;
	json_array_foreach(steps, i, v)
	{
		double pct = json_number_value(v);
		if (!json_is_number(v) || pct <= 0 || pct > 100) {
			snprintf(err, errlen, "rollout: step %zu is not a percent in (0, 100]", i);
			return -1;
		}
		r->plan.steps_bp[r->plan.n_steps++] = (uint16_t)(pct * 100.0 + 0.5);
	}
	r->plan.n_gates = 0;
	json_array_foreach(gates, i, v)
	{
		const char *s = json_string_value(v);
		if (s == NULL || gate_parse(s, strlen(s), &r->plan.gates[r->plan.n_gates++], err, errlen) != 0) {
			if (s == NULL)
				snprintf(err, errlen, "rollout: gate %zu is not a string", i);
			return -1;
		}
	}
	r->plan.hold_ms = get_u64(plan, "hold_ms");
	mode = json_string_value(json_object_get(plan, "mode"));
	if (mode != NULL && ro_parse_mode(mode, strlen(mode), &r->plan.mode, err, errlen) != 0)
		return -1;
	r->plan.auto_advance = json_is_true(json_object_get(plan, "auto"));
	r->generation = (uint32_t)get_u64(j, "generation");
	r->step = (unsigned)get_u64(j, "step");
	if (r->plan.n_steps && r->step >= r->plan.n_steps)
		r->step = r->plan.n_steps - 1;
	r->share_bp = (uint16_t)(get_u64(j, "share_bp") > RO_SHARE_MAX ? RO_SHARE_MAX : get_u64(j, "share_bp"));
	r->started_ms = get_u64(j, "started_ms");
	r->step_started_ms = get_u64(j, "step_started_ms");
	r->ended_ms = get_u64(j, "ended_ms");
	reason = json_string_value(json_object_get(j, "reason"));
	snprintf(r->reason, sizeof(r->reason), "%s", reason ? reason : "");
	v = json_object_get(j, "failed_gate");
	if (json_is_object(v)) {
		const char *g = json_string_value(json_object_get(v, "gate"));
		if (g != NULL && gate_parse(g, strlen(g), &r->failed_gate, err, errlen) == 0) {
			r->failed = true;
			r->failed_value = json_number_value(json_object_get(v, "value"));
		}
	}
	if (ro_active(r) && r->plan.n_steps == 0) {
		snprintf(err, errlen, "rollout: %s without steps", state);
		return -1;
	}
	return 0;
}

static json_t *id_or_null(uint32_t id)
{
	return id ? json_integer(id) : json_null();
}

json_t *st_to_json(const struct ctl_state *st)
{
	json_t *versions = json_array();
	json_t *lr = json_null();

	for (size_t i = 0; i < st->n_versions; i++)
		json_array_append_new(versions, st_version_json(&st->versions[i], true));
	if (st->last_rollback.set)
		lr = json_pack("{s:I,s:I,s:I,s:s}", "t_ms", (json_int_t)st->last_rollback.t_ms, "total_ns",
			       (json_int_t)st->last_rollback.total_ns, "published_ns",
			       (json_int_t)st->last_rollback.published_ns, "by", st->last_rollback.by);
	return json_pack("{s:i,s:I,s:{s:o,s:o,s:I,s:s},s:o,s:o,s:o,s:O,s:O}", "format", ST_FORMAT, "last_id",
			 (json_int_t)st->last_id, "desired", "stable", id_or_null(st->stable_id), "canary",
			 id_or_null(st->canary_id), "share_bp", (json_int_t)st->share_bp, "mode",
			 ro_mode_name(st->mode), "versions", versions, "rollout", st_rollout_json(&st->rollout),
			 "last_rollback", lr, "history", st->history, "xdp", st->xdp);
}

int st_from_json(json_t *doc, struct ctl_state *st, char *err, size_t errlen)
{
	json_t *desired = json_object_get(doc, "desired"), *versions = json_object_get(doc, "versions");
	json_t *history = json_object_get(doc, "history"), *v, *lr;
	const char *mode;
	size_t i;

	st_init(st);
	if (!json_is_object(doc) || json_integer_value(json_object_get(doc, "format")) != ST_FORMAT ||
	    !json_is_object(desired) || !json_is_array(versions)) {
		snprintf(err, errlen, "not a format %d state document (needs format, desired, versions)", ST_FORMAT);
		return -1;
	}
	st->last_id = (uint32_t)get_u64(doc, "last_id");
	st->stable_id = (uint32_t)get_u64(desired, "stable");
	st->canary_id = (uint32_t)get_u64(desired, "canary");
	st->share_bp = (uint16_t)(get_u64(desired, "share_bp") > RO_SHARE_MAX ? RO_SHARE_MAX
									      : get_u64(desired, "share_bp"));
	mode = json_string_value(json_object_get(desired, "mode"));
	if (mode != NULL && ro_parse_mode(mode, strlen(mode), &st->mode, err, errlen) != 0)
		return -1;
	json_array_foreach(versions, i, v)
	{
		const char *text = json_string_value(json_object_get(v, "text"));
		const char *outcome = json_string_value(json_object_get(v, "outcome"));
		uint32_t id = (uint32_t)get_u64(v, "id");
		struct st_version *sv;

		if (text == NULL || id == 0) {
			snprintf(err, errlen, "version %zu: needs id and text", i);
			return -1;
		}
		sv = st_version_add(st, id, text, json_string_length(json_object_get(v, "text")),
				    get_u64(v, "created_ms"));
		if (sv == NULL) {
			snprintf(err, errlen, "version %zu: duplicate id %u", i, id);
			return -1;
		}
		snprintf(sv->outcome, sizeof(sv->outcome), "%s", outcome ? outcome : "");
	}
	v = json_object_get(doc, "rollout");
	if (v != NULL && !json_is_null(v)) {
		char e[200];
		if (st_rollout_from_json(v, &st->rollout, e, sizeof(e)) != 0) {
			snprintf(err, errlen, "%s", e);
			return -1;
		}
	}
	lr = json_object_get(doc, "last_rollback");
	if (json_is_object(lr)) {
		const char *by = json_string_value(json_object_get(lr, "by"));
		st->last_rollback.set = true;
		st->last_rollback.t_ms = get_u64(lr, "t_ms");
		st->last_rollback.total_ns = get_u64(lr, "total_ns");
		st->last_rollback.published_ns = get_u64(lr, "published_ns");
		snprintf(st->last_rollback.by, sizeof(st->last_rollback.by), "%s", by ? by : "");
	}
	if (json_is_array(history)) {
		json_decref(st->history);
		st->history = json_deep_copy(history);
	}
	v = json_object_get(doc, "xdp"); /* absent in a state written before the pre-filter: none */
	if (v != NULL) {
		json_t *block = json_object_get(v, "block"), *b;
		if (!json_is_object(v) || !json_is_array(block) || json_array_size(block) > ST_MAX_XDP_BLOCK ||
		    get_u64(v, "rate_pps") > UINT32_MAX || get_u64(v, "rate_burst") > UINT32_MAX) {
			snprintf(err, errlen, "xdp: needs {\"block\":[prefix...],\"rate_pps\":N,\"rate_burst\":M}");
			return -1;
		}
		json_array_foreach(block, i, b) if (!json_is_string(b) || json_string_length(b) >= 64)
		{
			snprintf(err, errlen, "xdp.block[%zu]: not a prefix", i);
			return -1;
		}
		json_decref(st->xdp);
		st->xdp = json_pack("{s:o,s:I,s:I}", "block", json_deep_copy(block), "rate_pps",
				    (json_int_t)get_u64(v, "rate_pps"), "rate_burst",
				    (json_int_t)get_u64(v, "rate_burst"));
	}
	return 0;
}

int st_load(const char *dir, struct ctl_state *st, char *err, size_t errlen)
{
	char path[PATH_MAX];
	json_error_t je;
	char e[200];

	snprintf(path, sizeof(path), "%s/%s", dir, ST_FILE);
	json_t *doc = json_load_file(path, 0, &je);
	if (doc == NULL) {
		st_init(st); /* valid (empty) either way, so the caller can st_free it */
		if (access(path, F_OK) != 0 && errno == ENOENT)
			return 0;
		snprintf(err, errlen,
			 "state file '%s': %s (line %d); fix it or move it aside to start with an empty state", path,
			 je.text, je.line);
		return -1;
	}
	int rc = st_from_json(doc, st, e, sizeof(e));
	json_decref(doc);
	if (rc != 0) {
		st_free(st);
		st_init(st);
		snprintf(err, errlen, "state file '%s': %s; fix it or move it aside to start with an empty state", path,
			 e);
		return -1;
	}
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int st_save(const char *dir, const struct ctl_state *st, char *err, size_t errlen)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	json_t *doc = st_to_json(st);
	char *text = doc ? json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
	int fd = -1, dfd = -1;

	json_decref(doc);
	if (text == NULL) {
		snprintf(err, errlen, "state: out of memory serialising");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, ST_FILE);
	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, ST_FILE);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, text, strlen(text)) != 0 || write_all(fd, "\n", 1) != 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "state: cannot write '%s': %s; check --state-dir exists and is writable", tmp,
			 strerror(errno));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		snprintf(err, errlen, "state: cannot write '%s': %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "state: cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
		goto fail;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0) {
		snprintf(err, errlen, "state: cannot fsync directory '%s': %s", dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		free(text);
		return -1;
	}
	close(dfd);
	free(text);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(text);
	return -1;
}
