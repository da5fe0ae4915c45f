/* Internals of `hubsim run` shared by its files: run.c (flags, the real-clock run, outputs) and
 * run_virtual.c (the virtual-clock run). Not an API. */
#ifndef APP_RUN_INTERNAL_H
#define APP_RUN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "platform/platform.h"
#include "recorders/summary.h"
#include "scenarios/scn.h"
#include "sim/fleet/fleet.h"

/* Flags given explicitly on the command line (they win over the scenario's values). */
#define RUN_SET_HUBS 0x0001u
#define RUN_SET_DPH 0x0002u
#define RUN_SET_DURATION 0x0004u
#define RUN_SET_SEED 0x0008u
#define RUN_SET_RAMP 0x0010u
#define RUN_SET_MIX 0x0020u
#define RUN_SET_SPEEDUP 0x0040u
#define RUN_SET_KEY 0x0080u
#define RUN_SET_HUB_MODEL 0x0100u
#define RUN_SET_CLOCK 0x0200u

#define RUN_UI_DEFAULT (-1) /* tui when stdin and stdout are a terminal, else none */
#define RUN_UI_NONE 0
#define RUN_UI_TUI 1
#define RUN_UI_GUI 2

struct run_opts {
  const char *platform;
  uint64_t hubs, dph, seed;
  double duration_s, ramp, drain_s, max_lag_ms, command_rate, speedup, warmup_s;
  const char *mix;
  const char *key;      /* the fleet key (from a flag, the file, the environment or fd 4) */
  const char *key_file; /* --fleet-key-file */
  uint64_t queue_max;   /* --queue-max */
  const char *bind;
  const char *summary;
  const char *db;
  int quiet;
  int allow_lag;
  uint64_t workers; /* --workers: processes holding the fleet (1: this one) */
  uint32_t shard;   /* --worker K/N: this process is worker K of N (internal) */
  uint32_t shards;
  const char *catalog[8]; /* --catalog DIR, repeatable */
  size_t n_catalog;
  const char *hub_model;
  uint64_t radio_hops;
  double radio_delay_ms, radio_loss, sleepy_hold_s;
  const char *scenario;       /* SCENARIO.lua, NULL: none */
  int clock_virtual;          /* --clock virtual */
  const char *junit;          /* --junit FILE */
  const char *platform_admin; /* --platform-admin HOST:PORT of an external platform */
  unsigned set;               /* RUN_SET_*: flags given explicitly */
  int ui;                     /* RUN_UI_* */
  const char *screenshot;     /* --screenshot FILE.png (--ui gui) */
  double screenshot_after_s;  /* --after */
  int exit_after_screenshot;
};

/* What a run produced, for the outputs. */
/* What the first SIGINT or SIGTERM leaves a run for its drain (wall time); a second signal
 * stops at once. */
#define APP_SIGNAL_DRAIN_S 1.0

struct run_outcome {
  struct sim_fleet_stats *st; /* final figures (caller's storage) */
  struct rec_platform_view pv;
  struct plat_counters pc_raw; /* the embedded platform's final counters (virtual run) */
  double elapsed_s;            /* wall time of the run */
  double cpu_user_s, cpu_sys_s;
  double virtual_s;       /* virtual clock: simulated seconds run; 0 on a real clock */
  int script_failed;      /* a scenario callback failed (scn_failed) */
  struct scn_results res; /* the scenario's results, taken before the fleet stopped */
  int have_res;
  int runtime_failed;      /* the run could not go on (platform, resources) */
  const char *interrupted; /* virtual clock: "SIGINT" / "SIGTERM" ended the run early; NULL */
};

/* The virtual-clock run: the reference platform in this loop over the mem transport, the fleet
 * and the scenario (may be NULL) driven by sim_vdriver. cfg is completed (platform address,
 * virtual clock). 0, or an error already printed (then *exit_code is set). */
struct app_ui;
/* ui (may be NULL): a user interface drawn from this loop; its controls pause, step, pace and
 * end the run. */
int app_run_virtual(const struct run_opts *o, struct sim_fleet_config *cfg, struct scn *scn,
                    struct app_ui *ui, struct run_outcome *out, int *exit_code);

/* Prints the scenario log lines not printed yet (from *done on) to stderr. */
void app_print_scn_log(struct scn *scn, size_t *done);

/* The platform operations a scenario uses, on a reference platform in this thread. */
void app_platform_ops_direct(struct scn_platform_ops *ops, struct plat_server *srv);

#endif
