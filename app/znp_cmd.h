/* `hubsim znp`: one emulated Z-Stack ZNP coordinator on a TCP port, for Zigbee host software
 * (zigbee-herdsman, zigbee2mqtt) to start a network against. docs/hil.md describes it. */
#ifndef APP_ZNP_CMD_H
#define APP_ZNP_CMD_H

/* argv[0] is "znp". Returns the exit code: 0 after SIGINT/SIGTERM, 2 for a usage or input
 * error (bad flag, malformed NV file), 3 for a runtime failure (cannot listen, cannot write). */
int app_znp_main(int argc, char **argv);

#endif
