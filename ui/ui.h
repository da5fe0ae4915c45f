/* What a user interface sees of a running fleet and what it may do to it.
 *
 * The app (app/run.c) fills a struct ui_host and starts a UI with it. A UI never touches the
 * engine's hot state: it reads figures through the host's snapshot functions and the fleet's
 * control surface (sim/fleet/fleet.h: hub state, device info), and acts only through the host's
 * control functions, which the app applies at a safe point of the loop.
 *
 * Threading: the terminal UI runs on the engine's loop thread (a libuv timer redraws a few times
 * a second, a libuv poll handle reads the keyboard), so every host function is called from that
 * thread; each returns at once and never blocks the engine. A UI in its own thread (the SDL2
 * dashboard) must not call the host directly: it copies snapshots handed to it by the app.
 *
 * Ownership: the host and everything it points to are borrowed and outlive the UI; strings
 * returned by host functions are valid until the next call of the same function. */
#ifndef UI_UI_H
#define UI_UI_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sim/core/hist.h"
#include "sim/fleet/fleet.h"

struct ui_header {
  const char *scenario; /* "" without a scenario */
  const char *phase;    /* "" before the first phase */
  int virtual_clock;
  double speed; /* virtual clock: simulated seconds per wall second (0: as fast as it
                   can); real clock: 1 */
  int paused;
  uint64_t seed;
  const char *platform; /* "embedded reference platform at hubrpc://..." or the URL */
  double elapsed_s;     /* engine time */
  double duration_s;    /* requested (traffic stops after it, then the drain) */
  int draining;         /* the duration is over: waiting for the last acknowledgements */
};

/* The generator's own health: is it, not the platform, the bottleneck? */
struct ui_proc {
  double cpu_pct; /* of one core, over the last second (the fleet's thread) */
  uint64_t rss_bytes;
  uint32_t open_fds;
  uint32_t fd_limit;
};

/* PENDING: not judged yet (an end-of-run expectation before the end; a continuous one before
 * its `after` or without data). NO_DATA: judged at the end without a sample (a failure). */
enum ui_verdict { UI_PASS = 0, UI_FAIL, UI_PENDING, UI_NO_DATA };

struct ui_expectation {
  const char *title; /* "report.rtt.p99 < 250ms" */
  double value;      /* current value (NAN: no data yet) */
  const char *unit;
  int verdict;    /* enum ui_verdict: so far; reading it never changes a verdict */
  double after_s; /* continuous from this engine time on; 0: judged once, at the end */
};

struct ui_host {
  void *arg;
  uv_loop_t *loop;
  /* The fleet, for per-hub and per-device views (sim_fleet_hub_count, sim_fleet_hub_state,
   * sim_fleet_device_info...). NULL when the fleet runs in worker processes: then only the
   * merged figures are available. */
  struct sim_fleet *fleet;

  /* Snapshots. */
  void (*stats)(void *arg, struct sim_fleet_stats *out); /* cumulative, merged */
  void (*header)(void *arg, struct ui_header *out);
  void (*proc)(void *arg, struct ui_proc *out);
  size_t (*expectations)(void *arg, struct ui_expectation *out, size_t cap);
  /* The event log (connects, errors, faults injected, scenario steps), oldest first. */
  size_t (*log)(void *arg, const char *const **lines);
  /* End-to-end automation latency (µs), NULL when there is none. */
  const struct sim_hist *(*automation)(void *arg);

  /* Controls; a NULL member is not available in this run (the UI greys it out). Each returns 0
   * or a negative SIM_E* code (the UI shows sim_strerror()). */
  int (*pause)(void *arg, int on);           /* device time stops / resumes */
  int (*step)(void *arg);                    /* virtual clock: one second while paused */
  int (*set_speed)(void *arg, double speed); /* virtual clock: see ui_header.speed */
  int (*trigger)(void *arg, uint32_t hub, uint32_t slot, const char *event);
  int (*command)(void *arg, uint32_t hub, uint32_t slot, uint8_t ep, uint16_t cluster,
                 uint8_t command, const uint8_t *payload, size_t len);
  /* A fault on one hub: "drop", "stall" (reads, 10 s), "delay" (writes 500 ms for 30 s),
   * "malformed", "power" (cut; again to restore), "skew" (+5 min). */
  int (*fault)(void *arg, uint32_t hub, const char *kind);
  /* Ends the run early: drain, summary and outputs as at the end of the duration. */
  void (*quit)(void *arg);
};

#endif
