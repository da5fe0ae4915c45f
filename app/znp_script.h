/* `hubsim znp --script FILE`: a Lua script that drives the coordinators' radio side on a
 * timeline (docs/hil.md, "Scenario control"). It runs in the scenario engine's sandbox, with
 * its limits, durations and timeline (at, after, every, phase, now, log), and a `radio` table
 * instead of the fleet: devices joining, leaving and rejoining on their own, the radio's own
 * permit-join window, link loss, a reset the host did not ask for, interviews that fail.
 *
 * Ownership: app_znp_script_load() allocates; app_znp_script_free() releases (run the loop once
 * more afterwards: the timeline's handles close with it). The servers are borrowed and must
 * outlive the script's run. Loop thread only. */
#ifndef APP_ZNP_SCRIPT_H
#define APP_ZNP_SCRIPT_H

#include <stddef.h>
#include <uv.h>

#include "sim/znp/server.h"

struct app_znp_script;

/* Loads the script at path and runs its top level. 0, or SIM_EINVAL with "FILE:LINE: message"
 * in why (cap bytes): a missing file, a syntax error, a runtime error, a limit exceeded. */
int app_znp_script_load(const char *path, struct app_znp_script **out, char *why, size_t cap);

/* Starts the timeline on loop (engine time 0 is now) against the n coordinators' servers. On
 * its own the script then prints its log lines on stdout as they come, "script done" once
 * nothing is left on its timeline, and on a failure of a callback its error on stderr, and it
 * stops the loop. 0 or a negative error (why filled). */
int app_znp_script_start(struct app_znp_script *sc, uv_loop_t *loop,
                         struct sim_znp_server *const *servers, int n, char *why, size_t cap);

/* Non-zero once a callback failed (the run must end with exit 2). */
int app_znp_script_failed(const struct app_znp_script *sc);

void app_znp_script_free(struct app_znp_script *sc);

#endif
