/* `hubsim devices`: the device catalogue from the command line (list, show, sample), for
 * platform developers who write decoders for what the simulated devices send.
 * docs/devices-cli.md describes the commands and their text and JSON output. */
#ifndef APP_DEVICES_CMD_H
#define APP_DEVICES_CMD_H

/* argv[0] is "devices". Returns the process exit code: 0, or 2 for a usage or input error
 * (bad flag, unknown model, malformed catalogue file), 3 for a runtime failure. */
int app_devices_main(int argc, char **argv);

#endif
