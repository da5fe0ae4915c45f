/* `hubsim znp`: one emulated Z-Stack ZNP coordinator on a TCP port, for Zigbee host software
 * (zigbee-herdsman, zigbee2mqtt) to start a network against. docs/hil.md describes it. */
#ifndef APP_ZNP_CMD_H
#define APP_ZNP_CMD_H

#include <stdint.h>

/* argv[0] is "znp". Returns the exit code: 0 after SIGINT/SIGTERM, 2 for a usage or input
 * error (bad flag, malformed NV file), 3 for a runtime failure (cannot listen, cannot write). */
int app_znp_main(int argc, char **argv);

/* A device's IEEE address: its vendor's OUI (from model m), then 40 bits drawn from its model id,
 * nth (how many devices of that model the coordinator had before it) and, past the first,
 * coord (which coordinator it joins), so that a restarted hubsim brings the same devices back. */
struct sim_model;
uint64_t app_znp_device_ieee(const struct sim_model *m, uint64_t nth, unsigned coord);

#endif
