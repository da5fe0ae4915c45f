/* Scenarios: Lua 5.4 scripts that configure a fleet, drive it over time and judge the platform.
 *
 * Lifecycle (app/run.c drives it):
 *   scn_load()      runs the script's top level in a sandbox: it declares the scenario, the fleet
 *                   and the timeline (at/every/after/phase), platform automations and
 *                   expectations. Nothing runs against a fleet yet. Errors: file:line, exit 2.
 *   scn_config()    what the script declared (fleet size, mix, duration, clock...); the app
 *                   merges it with the command line and creates the fleet.
 *   scn_start()     binds the fleet and the platform operations, installs the platform-side
 *                   automations and timers, schedules the timeline on the scenario's own
 *                   scheduler (scn_sched(): real timerfd, or virtual, driven by sim_vdriver).
 *   scn_poll()      once a second of engine time (the app calls it): continuous expectations,
 *                   phase changes, the event log.
 *   scn_finish()    final evaluation: every expectation's value and verdict.
 * A Lua error inside a scheduled callback stops the run: scn_failed() then returns the error
 * (file:line) and the app exits 2 after writing what it has.
 *
 *   scn_peek()      what a live view shows (read-only, any time): verdicts so far, nothing
 *                   recorded. Only scn_finish() judges the end of the run.
 *
 * The script runs in the control part of the engine, never on the hot path: callbacks run from
 * the scenario scheduler's timers, one at a time. Every call into the script (the top level,
 * each callback) has three limits: an instruction budget (Lua instructions plus the work of the
 * C functions it calls: bytes allocated, pattern matching steps), a wall-clock deadline, and
 * SIGINT/SIGTERM, which end the call at once (the engine catches both signals while a call runs
 * and gives a signal that arrives during a call that completes back to the process); the whole
 * state has a memory ceiling. The sandbox has no io, os, require, load*, dofile, debug, package,
 * coroutine, collectgarbage, string.dump or __gc finalizers (they would run outside the limits).
 *
 * Threading: everything on the loop thread. Ownership: a struct scn owns its Lua state, its
 * scheduler and every string it returns; the fleet and the platform operations are borrowed
 * and must outlive it. */
#ifndef SCENARIOS_SCN_H
#define SCENARIOS_SCN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sim/core/hist.h"
#include "sim/fleet/fleet.h"
#include "sim/loop/sched.h"

struct scn;
struct lua_State;

struct scn_error {
  char file[256];
  int line; /* 0 when unknown */
  char message[512];
};

struct scn_limits {
  size_t memory_bytes;            /* ceiling of the Lua state's allocations (default 64 MiB) */
  uint64_t instructions_per_call; /* budget of the top level and of each callback (10^8) */
  double seconds_per_call;        /* wall-clock limit of the same calls (10 s); 0: default */
};

/* ---- what the script declared ----------------------------------------------------------- */

enum scn_dph_kind { SCN_DPH_FIXED = 0, SCN_DPH_RANGE, SCN_DPH_NORMAL };

struct scn_config {
  const char *name;        /* scenario{name=...}; the file's base name when not given */
  const char *description; /* may be NULL */
  int has_fleet;           /* fleet{} was called */
  uint32_t hubs;
  const char *hub_model;          /* NULL: the app's default */
  uint8_t dph_kind;               /* enum scn_dph_kind */
  uint32_t dph, dph_min, dph_max; /* FIXED: dph; RANGE: uniform [min, max]; NORMAL: clamped */
  double dph_mean, dph_sd;
  const char *mix;       /* "MODEL:W,MODEL:W" or "all"; NULL: not given */
  const char *prefix;    /* hub id prefix; NULL: default */
  const char *fleet_key; /* NULL: default */
  double duration_s;     /* 0: not given */
  double ramp;           /* hubs per second at start; < 0: not given */
  int clock_virtual;     /* -1 not given, 0 real, 1 virtual */
  uint64_t seed;         /* 0: not given */
  double speedup;        /* 0: not given */
};

/* ---- what the platform offers (the app wires these to the embedded reference platform, or
 * to an external platform's admin interface; any member may be NULL: the script's call then
 * fails with a clear error naming it) ------------------------------------------------------ */

struct scn_device_ref {
  uint32_t hub;  /* local hub index in the fleet */
  uint32_t slot; /* device slot behind the hub */
  uint64_t eui64;
  char hub_id[64];
};

/* A platform-side automation: "when device A reports cluster/attr (== value), command B". */
struct scn_rule {
  struct scn_device_ref when;
  uint16_t when_cluster, when_attr;
  int has_value;
  double value; /* compared with the reported attribute's numeric value */
  struct scn_device_ref then;
  uint8_t then_ep;
  uint16_t then_cluster;
  uint8_t then_command;
  uint8_t payload[64];
  size_t payload_len;
};

/* A platform-side timer: every day at hh:mm (the platform's wall clock, UTC), command B. */
struct scn_timer {
  uint8_t hour, minute;
  struct scn_device_ref then;
  uint8_t then_ep;
  uint16_t then_cluster;
  uint8_t then_command;
  uint8_t payload[64];
  size_t payload_len;
};

struct scn_platform_ops {
  void *arg;
  /* A command as an app sends it. 0 or a negative error. */
  int (*command)(void *arg, const struct scn_device_ref *dev, uint8_t ep, uint16_t cluster,
                 uint8_t command, const uint8_t *payload, size_t len, uint64_t *cmd_id);
  /* Installs an automation / a timer on the platform; *id identifies it. */
  int (*rule_add)(void *arg, const struct scn_rule *r, uint64_t *id);
  int (*timer_add)(void *arg, const struct scn_timer *t, uint64_t *id);
  /* A platform-side figure for metrics named "platform.NAME" (reports_stored, duplicates,
   * commands_ok...). 0 and *out set, or SIM_ENOTFOUND. */
  int (*metric)(void *arg, const char *name, double *out);
};

/* ---- results ------------------------------------------------------------------------------ */

/* SCN_PENDING only in scn_peek(): not judged yet (an end-of-run expectation before the end, a
 * continuous one before its `after` or without data). */
enum scn_verdict { SCN_PASS = 0, SCN_FAIL, SCN_NO_DATA, SCN_PENDING };

struct scn_expectation {
  char metric[64];
  char op[4];              /* "<", "<=", ">", ">=", "==", "!=" */
  double threshold;        /* in the metric's unit (ms for latencies) */
  char threshold_text[32]; /* as written in the script: "250ms" */
  double after_s;          /* evaluated from this engine time on (continuous when > 0) */
  char file[256];
  int line;        /* where expect() was called */
  double value;    /* final measured value (or the first violating one) */
  double at_s;     /* engine time of `value` */
  uint8_t verdict; /* enum scn_verdict */
  char unit[8];    /* "ms", "", "count"... */
};

struct scn_results {
  const struct scn_expectation *exp;
  size_t n_exp;
  size_t passed, failed;
  const struct sim_hist *automation; /* end-to-end automation latency (µs), may be empty */
  uint64_t steps_run;                /* timeline callbacks run */
  const char *phase;                 /* the last phase */
};

/* ---- API ---------------------------------------------------------------------------------- */

void scn_limits_default(struct scn_limits *l);

/* Loads and runs the top level of the script at path (text NULL: read the file; else text of
 * len bytes, path used in messages). A script is at most 1 MiB. 0, or SIM_EINVAL with *err
 * filled: syntax error, runtime error, unknown metric in expect(), unknown device model, a bad
 * argument to a declaration, a limit exceeded (budget, time, memory, size), SIGINT/SIGTERM
 * during the top level, a call to something the sandbox does not offer. */
int scn_load(const char *path, const char *text, size_t len, const struct scn_limits *lim,
             struct scn **out, struct scn_error *err);

const struct scn_config *scn_config(const struct scn *s);

/* Devices behind hub (global index g) for a fleet built from this scenario: the same for the
 * same seed, whatever the shard count. */
uint32_t scn_devices_of_hub(const struct scn *s, uint64_t seed, uint32_t g);

/* Binds the fleet (its scheduler's loop is used; virtual when the fleet's is), installs the
 * platform automations and timers and schedules the timeline from engine time 0 (the fleet's
 * clock). 0 or an error with *err filled. */
int scn_start(struct scn *s, struct sim_fleet *f, const struct scn_platform_ops *p,
              struct scn_error *err);

/* The scenario's scheduler (register it with the vdriver on a virtual clock). Valid after
 * scn_start(). */
struct sim_sched *scn_sched(struct scn *s);

/* Once a second of engine time: continuous expectations, phase, log. */
void scn_poll(struct scn *s);

/* Non-zero (and *err filled) when a callback failed: the run must stop with exit 2. */
int scn_failed(const struct scn *s, struct scn_error *err);

/* The current phase name ("" before the first phase). */
const char *scn_phase(const struct scn *s);

/* Evaluates every expectation now (end of run) and fills out (valid until scn_free). Call it
 * once, when the run is over: an end-of-run expectation is judged by what it reads then. */
void scn_finish(struct scn *s, struct scn_results *out);

/* What a live view shows, read-only: changes no verdict and records nothing, so a dashboard may
 * call it at any time. An end-of-run expectation is SCN_PENDING with its current value (value
 * NAN without data); a continuous one is SCN_FAIL with the violation scn_poll() kept, else
 * SCN_PENDING before its `after` or without data, else PASS or FAIL of its value now. passed
 * and failed count PASS and FAIL only. out->exp points into s and is valid until the next
 * scn_peek(); automation, steps_run and phase are as in scn_finish(). */
void scn_peek(struct scn *s, struct scn_results *out);

/* Lines the script logged (log()) and scenario events, in order; for the summary and the UI.
 * Returns the number of lines; *lines points into s. */
size_t scn_log(const struct scn *s, const char *const **lines);

/* Stops the timeline: no callback runs afterwards, and the scheduler's handles (real clock)
 * start closing, so the loop can end. scn_poll/scn_finish/scn_log still work. Idempotent. */
void scn_stop(struct scn *s);

/* ---- additions (lua) ------------------------------------------------------------------------- */

/* Writes "FILE:LINE: message" ("FILE: message" when the line is unknown) into buf; returns what
 * snprintf returns. The form every scenario error is shown in. */
int scn_error_format(const struct scn_error *e, char *buf, size_t cap);

/* Parses a duration as scripts write it: "250ms", "30s", "5m", "24h", "1d", compounds
 * ("1h30m"), "us" (the grammar of sim/core/dur.h, as every flag); a leading - gives a negative
 * value, spaces around are ignored. 0 with *seconds set, or SIM_EINVAL. */
int scn_parse_duration(const char *text, double *seconds);

/* The seed the run uses (command line over the script): shares and math.random follow it. Call
 * scn_set_seed() before scn_start() when the command line gives one; scn_seed() is the
 * effective seed (the script's, else 1). */
void scn_set_seed(struct scn *s, uint64_t seed);
uint64_t scn_seed(const struct scn *s);

/* ---- embedding: a script that drives something other than a fleet ------------------------- */

/* The same sandbox, limits, durations and timeline (at, after, every, phase, now, log) for a
 * program that brings its own globals instead of the fleet's (hubsim znp --script). open runs
 * once on the fresh sandbox, before the top level: it adds the embedder's globals and may
 * remove the fleet's (scenario, fleet, hubs, devices, platform, expect...). arg is what
 * scn_embed_arg() returns inside the embedder's C functions. Loads like scn_load(). */
typedef void (*scn_open_fn)(struct lua_State *L, void *arg);
int scn_load_embedded(const char *path, const struct scn_limits *lim, scn_open_fn open, void *arg,
                      struct scn **out, struct scn_error *err);
void *scn_embed_arg(struct lua_State *L);
/* Starts the timeline of an embedded script on loop's real clock, engine time 0 being now; no
 * fleet, no platform, no expectations. 0 or an error with *err filled. */
int scn_start_clock(struct scn *s, uv_loop_t *loop, struct scn_error *err);
/* Raises for any key of the table at idx not in allowed (a NULL-terminated list), naming what
 * and the key. */
void scn_check_keys(struct lua_State *L, int idx, const char *what, const char *const *allowed);
/* Adds a line to the log scn_log() returns, stamped with engine time (as log() does). */
void scn_logf(struct scn *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Timeline entries still to run: 0 once the script has nothing left to do. */
uint32_t scn_pending(const struct scn *s);
/* A duration argument of an embedder's function (a number of seconds or a string such as
 * "250ms"): raises the scenario engine's error naming what and the text when it is bad. */
double scn_check_duration(struct lua_State *L, int idx, const char *what, int allow_negative);

/* Closes the scheduler (after the fleet is stopped) and frees everything. On a real clock the
 * memory is released once the loop has run the scheduler's close callbacks (run the loop once
 * more); on a virtual clock at once. */
void scn_free(struct scn *s);

#endif
