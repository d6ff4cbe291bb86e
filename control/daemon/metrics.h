/* GET /metrics: the latest dataplane figures and the control plane's own in the Prometheus
 * text exposition format (names and labels after Prometheus conventions). */
#ifndef FANOUT_CONTROL_METRICS_H
#define FANOUT_CONTROL_METRICS_H

#include <event2/buffer.h>

void metrics_write(struct evbuffer *out);

#endif
