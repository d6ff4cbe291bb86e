/* The periodic ADVERTISE (MQTT-SN 6.1, "discovery:"), sent from the main lcore between control
 * socket polls: no worker spends packet time on it. */
#ifndef FANOUT_ADVERTISE_H
#define FANOUT_ADVERTISE_H

#include <stdint.h>

/* Queue every ADVERTISE that is due at now_ms (one per port it leaves by) on a tx ring. */
void fo_advertise_poll(uint64_t now_ms);

#endif
