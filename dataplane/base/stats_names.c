/* Name tables generated from the X-macro lists in fanout/stats_schema.h: the JSON
 * snapshot, logs and Prometheus labels all take their names from here. */
#include "fanout/stats_schema.h"

#define FO_NAME_(id, name, ...) name,
const char *const fo_drop_names[FO_DROP_MAX] = { FO_FOREACH_DROP(FO_NAME_) };
const char *const fo_out_drop_names[FO_OUT_DROP_MAX] = { FO_FOREACH_OUT_DROP(FO_NAME_) };
const char *const fo_event_names[FO_EV_MAX] = { FO_FOREACH_EVENT(FO_NAME_) };
const char *const fo_xdp_names[FO_XDP_MAX] = { FO_FOREACH_XDP(FO_NAME_) };
#undef FO_NAME_
