/* DPDK telemetry endpoints /fanout/stats, /fanout/drops, /fanout/generations, /fanout/genstats,
 * /fanout/routes and /fanout/outputs. */
#ifndef FANOUT_TELEMETRY_H
#define FANOUT_TELEMETRY_H

int fo_telemetry_register(void);

#endif
