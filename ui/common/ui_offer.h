/* What both dashboards offer the user: the commands a device takes without arguments, the hub
 * faults the host's fault() knows (ui/ui.h) and the speeds of the virtual clock. One list each,
 * so that the terminal and the window offer the same choices in the same order. */
#ifndef UI_COMMON_UI_OFFER_H
#define UI_COMMON_UI_OFFER_H

#include <stdint.h>

#include "sim/fleet/model.h"

/* One command offered. label is a static string ("on", "toggle", "detect", ...). */
struct ui_command {
  const char *label;
  uint8_t ep;
  uint16_t cluster;
  uint8_t command;
};

/* The commands offered for a device of model m: on / off / toggle on every endpoint with On/Off
 * (0x0006) among its in clusters, then the model's catalogue commands that need no argument
 * (their endpoint, else the model's first). The host's command() sends cluster-specific
 * commands only, so a global Read Attributes is never offered. Each (ep, cluster, command) once;
 * at most cap, in that order. Returns how many were written to out. */
int ui_offer_commands(const struct sim_model *m, struct ui_command *out, int cap);

/* The hub faults offered: { kind as fault() takes it, what it does }. */
#define UI_N_FAULTS 6
extern const char *const ui_faults[UI_N_FAULTS][2];

/* The next speed of the virtual clock up (up != 0) or down the ladder 0.1, 0.25, 0.5, 1, 2, 5,
 * 10, 20, 50, 100, 1000, from cur; 0 (as fast as it can) sits above the top. */
double ui_next_speed(double cur, int up);

#endif
