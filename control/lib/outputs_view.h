/* fanout-control's view of the dataplane's outputs (Redis Streams sinks and MQTT
 * bridges): the dataplane's OUTPUTS reply with per-second rates between two polls, a short
 * summary for STATUS, and their Prometheus text (per output, and per generation from GENSTATS
 * "outputs"). Pure: JSON in, JSON or text out; test/unit/test_control_outputs.c drives it. */
#ifndef FANOUT_CONTROL_OUTPUTS_VIEW_H
#define FANOUT_CONTROL_OUTPUTS_VIEW_H

#include <event2/buffer.h>
#include <jansson.h>

#define OV_HIST 24 /* the dataplane's batch_hist / rtt_hist: bucket i = values of bit length i */

/* A copy of cur (the dataplane's {"sinks":[...],"bridges":[...]}) where every output also has
 * "rates": {"<counter>_per_s": x, ...} against the same output (kind and name) in prev, dt_s
 * seconds earlier. Counters that went backwards (dataplane restart) or are missing in prev get no
 * rate; with prev NULL or dt_s <= 0 "rates" is an empty object. NULL if cur is not an object. */
json_t *ov_with_rates(json_t *cur, json_t *prev, double dt_s);

/* [{"name","kind","connected","backlog","last_error"?}, ...] for STATUS; NULL if cur is unusable. */
json_t *ov_summary(json_t *cur);

/* Prometheus text: fanout_output_* per output of `outputs` (may be NULL), and
 * fanout_generation_output_* per generation of GENSTATS's `gens` array (may be NULL). */
void ov_metrics(struct evbuffer *o, json_t *outputs, json_t *gens);

#endif
