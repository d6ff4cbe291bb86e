/* QoS 1 inflight pool; see qos1_inflight.h. */
#include "qos1_inflight.h"

#include <stdlib.h>

struct inflight_table {
	uint32_t max;
	uint32_t count;
	struct inflight_entry *e;
	uint32_t *free_stack;
	uint32_t n_free;
	uint32_t head, tail; /* FIFO */
};

struct inflight_table *inflight_table_create(uint32_t max)
{
	if (max == 0 || max >= INFLIGHT_NONE / 4)
		return NULL;
	struct inflight_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->max = max;
	t->e = calloc(max, sizeof(*t->e));
	t->free_stack = calloc(max, sizeof(*t->free_stack));
	if (!t->e || !t->free_stack) {
		inflight_table_destroy(t);
		return NULL;
	}
	for (uint32_t i = 0; i < max; i++)
		t->free_stack[i] = max - 1 - i;
	t->n_free = max;
	t->head = t->tail = INFLIGHT_NONE;
	return t;
}

void inflight_table_destroy(struct inflight_table *t)
{
	if (!t)
		return;
	free(t->e);
	free(t->free_stack);
	free(t);
}

static void fifo_append(struct inflight_table *t, uint32_t x)
{
	t->e[x].f_next = INFLIGHT_NONE;
	t->e[x].f_prev = t->tail;
	if (t->tail != INFLIGHT_NONE)
		t->e[t->tail].f_next = x;
	else
		t->head = x;
	t->tail = x;
}

static void fifo_unlink(struct inflight_table *t, uint32_t x)
{
	struct inflight_entry *e = &t->e[x];
	if (e->f_prev != INFLIGHT_NONE)
		t->e[e->f_prev].f_next = e->f_next;
	else
		t->head = e->f_next;
	if (e->f_next != INFLIGHT_NONE)
		t->e[e->f_next].f_prev = e->f_prev;
	else
		t->tail = e->f_prev;
}

uint32_t inflight_add(struct inflight_table *t, uint32_t *session_head, uint32_t session, uint16_t msg_id,
		      uint16_t topic_id, uint8_t flags, void *payload, uint16_t payload_len, uint64_t deadline_ms)
{
	if (t->n_free == 0)
		return INFLIGHT_NONE;
	uint32_t x = t->free_stack[--t->n_free];
	t->e[x] = (struct inflight_entry){ .payload = payload,
					   .deadline_ms = deadline_ms,
					   .session = session,
					   .s_next = *session_head,
					   .s_prev = INFLIGHT_NONE,
					   .msg_id = msg_id,
					   .topic_id = topic_id,
					   .payload_len = payload_len,
					   .flags = flags };
	if (*session_head != INFLIGHT_NONE)
		t->e[*session_head].s_prev = x;
	*session_head = x;
	fifo_append(t, x);
	t->count++;
	return x;
}

void inflight_remove(struct inflight_table *t, uint32_t *session_head, uint32_t x)
{
	if (x >= t->max)
		return;
	struct inflight_entry *e = &t->e[x];
	fifo_unlink(t, x);
	if (e->s_prev != INFLIGHT_NONE)
		t->e[e->s_prev].s_next = e->s_next;
	else
		*session_head = e->s_next;
	if (e->s_next != INFLIGHT_NONE)
		t->e[e->s_next].s_prev = e->s_prev;
	e->payload = NULL;
	t->free_stack[t->n_free++] = x;
	t->count--;
}

uint32_t inflight_find(const struct inflight_table *t, uint32_t session_head, uint16_t msg_id)
{
	/* Bounded by max_inflight_per_session. */
	for (uint32_t x = session_head; x != INFLIGHT_NONE; x = t->e[x].s_next)
		if (t->e[x].msg_id == msg_id)
			return x;
	return INFLIGHT_NONE;
}

void inflight_requeue(struct inflight_table *t, uint32_t x, uint64_t deadline_ms)
{
	fifo_unlink(t, x);
	t->e[x].deadline_ms = deadline_ms;
	fifo_append(t, x);
}

uint32_t inflight_oldest(const struct inflight_table *t)
{
	return t->head;
}

struct inflight_entry *inflight_get(struct inflight_table *t, uint32_t x)
{
	return x < t->max ? &t->e[x] : NULL;
}

uint32_t inflight_count(const struct inflight_table *t)
{
	return t->count;
}

uint32_t inflight_capacity(const struct inflight_table *t)
{
	return t->max;
}
