/* QoS 1 deliveries of one worker awaiting the subscriber's PUBACK: a fixed pool of
 * entries, each on one FIFO ordered by retransmission deadline (the retry interval is
 * constant, so appending keeps it sorted) and on its session's list (PUBACK lookup,
 * cleanup). The entry keeps a payload reference the broker took via payload_hold. */
#ifndef FANOUT_QOS1_INFLIGHT_H
#define FANOUT_QOS1_INFLIGHT_H

#include <stdint.h>

#define INFLIGHT_NONE UINT32_MAX

struct inflight_entry {
	void *payload;
	uint64_t deadline_ms;
	uint32_t session;
	uint32_t f_next, f_prev; /* deadline FIFO */
	uint32_t s_next, s_prev; /* session list */
	uint16_t msg_id;
	uint16_t topic_id;
	uint16_t payload_len;
	uint8_t flags;   /* PUBLISH flags without DUP: QoS 1 | topic type */
	uint8_t retries; /* retransmissions so far */
};

struct inflight_table;

struct inflight_table *inflight_table_create(uint32_t max);
void inflight_table_destroy(struct inflight_table *t);

/* Appended at the FIFO tail and the session list head; INFLIGHT_NONE when full. */
uint32_t inflight_add(struct inflight_table *t, uint32_t *session_head, uint32_t session, uint16_t msg_id,
		      uint16_t topic_id, uint8_t flags, void *payload, uint16_t payload_len, uint64_t deadline_ms);
void inflight_remove(struct inflight_table *t, uint32_t *session_head, uint32_t idx);
uint32_t inflight_find(const struct inflight_table *t, uint32_t session_head, uint16_t msg_id);
/* Move to the FIFO tail with a new deadline. */
void inflight_requeue(struct inflight_table *t, uint32_t idx, uint64_t deadline_ms);

uint32_t inflight_oldest(const struct inflight_table *t);
struct inflight_entry *inflight_get(struct inflight_table *t, uint32_t idx);
uint32_t inflight_count(const struct inflight_table *t);
uint32_t inflight_capacity(const struct inflight_table *t);

#endif
