/* The app's side of a user interface: a struct ui_host over a running fleet and its scenario
 * (ui/ui.h). Filled by the runner; everything runs on the loop thread. */
#ifndef APP_UI_HOST_H
#define APP_UI_HOST_H

#include <stdint.h>
#include <uv.h>

#include "scenarios/scn.h"
#include "sim/fleet/fleet.h"
#include "ui/ui.h"

#define APP_UI_MAX_EXP 64
#define APP_UI_LOG_LINES 128

struct app_ui {
  struct ui_host host; /* what the UI is given */
  /* Set by the runner before app_ui_init(). */
  uv_loop_t *loop;
  struct sim_fleet *fleet;
  struct scn *scn;             /* NULL: none */
  struct scn_platform_ops ops; /* commands from the UI go the platform's way */
  int virtual_clock;
  uint64_t seed;
  const char *platform;
  double duration_s;
  void (*on_quit)(void *arg); /* the runner ends the run (drain, outputs) */
  /* Starts / stops the UI itself (the runner calls them once the fleet exists / before the
   * summary is printed). NULL: no UI. */
  int (*start)(struct app_ui *u);
  void (*stop)(struct app_ui *u);
  void *ui; /* the UI's own object */
  void *on_quit_arg;
  /* State the controls change and the runner reads. */
  int paused;
  double speed;           /* virtual clock: simulated seconds per wall second, 0: max */
  int pace_reset;         /* the speed changed: the runner restarts its pacing */
  uint64_t step_requests; /* virtual clock: seconds to run while paused */
  int quit;
  int draining;
  /* Private. */
  char log[APP_UI_LOG_LINES][128]; /* the UI's own actions, a ring */
  size_t log_n;                    /* lines ever logged */
  const char *merged[APP_UI_LOG_LINES + 512];
  struct ui_proc proc;
  uint64_t proc_at;
  double proc_cpu;
  char titles[APP_UI_MAX_EXP][112];
};

/* Fills u->host from the fields above. */
void app_ui_init(struct app_ui *u);
/* Adds a line to the event log the UI shows (engine time is prefixed). */
void app_ui_log(struct app_ui *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
