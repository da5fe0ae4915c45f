/* Internals of the scenario engine, shared by the scenarios/ sources. Not a public header. */
#ifndef SCENARIOS_SCN_INTERNAL_H
#define SCENARIOS_SCN_INTERNAL_H

#include <lauxlib.h>
#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "scenarios/scn.h"
#include "sim/core/rng.h"

#define SCN_MAX_EXP 256
#define SCN_MAX_RULES 64
#define SCN_MAX_TIMERS 64
#define SCN_MAX_STEPS 1000000u
#define SCN_MAX_LOG 100000u
#define SCN_LOG_LINE 512
#define SCN_MAX_LOG_BYTES (8u << 20)    /* the log's text at most */
#define SCN_RULE_PENDING 4096           /* intended times remembered per rule (a ring) */
#define SCN_MAX_SCRIPT_BYTES (1u << 20) /* the largest scenario file scn_load accepts */
/* What the script's declarations may hold, as the app and the fleet take them. */
#define SCN_MAX_NAME 128         /* scenario{name=}: bytes */
#define SCN_MAX_DESCRIPTION 1024 /* scenario{description=} */
#define SCN_MAX_HUBS 16777215u   /* fleet{hubs=}: hub ids and EUI-64s hold 24 bits (--hubs) */
#define SCN_MAX_PREFIX 23        /* fleet{prefix=}: with 8 digits it fits a hub id (31 bytes) */
#define SCN_MAX_KEY 128          /* fleet{key=}: as --fleet-key */
#define SCN_MAX_MIX_TEXT 1024    /* fleet{mix=} as "MODEL:W,...", as --mix */
/* The longest duration a script may write (ten years): engine time in µs stays far from the
 * limits of sim_time_t and of the conversions, and no run is that long. */
#define SCN_MAX_DURATION_S (3650.0 * 86400.0)

/* One timeline entry: at/after (period 0) or every. Its id in the scheduler is its index. */
struct scn_step {
  int ref; /* the Lua function (registry), LUA_NOREF when free */
  sim_time_t due;
  sim_time_t period;   /* every: the period; 0: one shot */
  sim_time_t to;       /* every: last time it may fire (UINT64_MAX: none) */
  uint64_t count_left; /* every: firings left (UINT64_MAX: no limit) */
  uint64_t fired;
  int line;
};

struct scn_prule {
  struct scn_rule r;
  int line;
  uint64_t id;
  /* intended times of matching reports not yet answered by a command: a ring */
  sim_time_t pend[SCN_RULE_PENDING];
  uint32_t head, n;
  uint64_t overflow;
};

struct scn_ptimer {
  struct scn_timer t;
  int line;
};

struct scn {
  lua_State *L;
  struct scn_limits lim;
  char path[256];
  char short_src[LUA_IDSIZE]; /* how Lua names the chunk in its messages */
  /* memory accounting */
  size_t mem_used;
  int mem_hit;  /* an allocation was refused */
  int mem_line; /* where (innermost Lua line) the last refusal happened, 0 unknown */
  int mem_fatal;
  const void *refused_ptr; /* the last refused request: its retry is the second try */
  size_t refused_size;
  /* instruction budget: Lua instructions, plus the work of the sandbox's C functions (bytes
   * allocated, pattern matching steps, elements moved) in the same units */
  uint64_t insn_used;
  int budget_hit;
  int budget_line;
  int running; /* inside a protected call of ours */
  /* the other limits of a call: its wall-clock deadline and SIGINT/SIGTERM; either ends it */
  uint64_t deadline_ns; /* uv_hrtime() */
  int limit_hit;

  struct scn_config cfg;
  char *s_name, *s_desc, *s_hub_model, *s_mix, *s_prefix, *s_key; /* owned strings of cfg */
  uint64_t seed_override;
  int has_seed_override;

  /* timeline */
  struct scn_step *steps;
  uint32_t n_steps, cap_steps;
  uint32_t *free_steps;
  uint32_t n_free;
  uint64_t steps_run;
  sim_time_t cb_now; /* engine time of the callback running (its intended time) */
  int in_callback;

  /* bound at scn_start */
  struct sim_fleet *fleet;
  struct scn_platform_ops ops;
  int has_ops;
  struct sim_sched sched;
  int sched_open;
  int stopping;     /* scn_stop(): the scheduler is closing or closed */
  int sched_closed; /* its close callback ran */
  int free_pending; /* scn_free() ran before it: free then */
  int started;
  uint64_t sel_counter; /* selections drawn with a share: each gets its own stream */

  /* failure of a callback */
  int failed;
  struct scn_error fail_err;

  char phase[64];

  /* platform objects */
  struct scn_prule *rules;
  size_t n_rules;
  struct scn_ptimer timers[SCN_MAX_TIMERS];
  size_t n_timers;
  struct sim_hist automation; /* µs */
  uint64_t triggers_ok, triggers_unknown, actions;

  /* expectations */
  struct scn_expectation exp[SCN_MAX_EXP];
  size_t n_exp;
  struct scn_expectation peek[SCN_MAX_EXP]; /* scn_peek's copy: the verdicts stay untouched */
  int finished;                             /* scn_finish() ran: the verdicts are final */
  struct sim_fleet_stats *stats;            /* snapshot buffer (heap: about 70 KiB) */

  /* log */
  char **log;
  size_t n_log, cap_log;
  uint64_t log_dropped;
  size_t log_bytes;
  int log_full; /* its last line says so; later ones are dropped */

  void *embed_arg; /* scn_load_embedded()'s arg */
};

/* scn.c */
struct scn *scn_from_L(lua_State *L);
/* Raises a Lua error "short_src:LINE: msg" with the line of the innermost Lua frame. */
int scn_raise(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "memory limit of 64 MiB exceeded" for the state's ceiling. */
void scn_mem_message(const struct scn *s, char *buf, size_t cap);
/* The line of the innermost Lua function on the stack, 0 when none. */
int scn_current_line(lua_State *L);
/* Runs the function on top of the stack (nargs arguments above it) under the budget; 0 or
 * SIM_EINVAL with *err filled. Pops the function and its arguments. */
int scn_pcall(struct scn *s, int nargs, struct scn_error *err);
/* Work accounting for the sandbox's C functions (scn_pattern.c, the wrappers of scn.c):
 * scn_work_left() is what the running call may still spend; scn_work_charge() spends units and
 * raises the budget error naming what when they are more than that; scn_work_poll() raises when
 * the call's wall-clock deadline passed or SIGINT/SIGTERM arrived. All three raise Lua errors
 * the script's pcall cannot catch. */
uint64_t scn_work_left(lua_State *L);
void scn_work_charge(lua_State *L, uint64_t units, const char *what);
void scn_work_poll(lua_State *L);
sim_time_t scn_engine_now(const struct scn *s);
/* Seeds math.random (the sandbox has no math.randomseed). */
void scn_seed_random(struct scn *s, uint64_t seed);

/* scn_pattern.c: string.find, match, gmatch and gsub with Lua's pattern language, bounded by the
 * budget of the running call (the library's matcher backtracks without limit) */
void scn_pattern_open(lua_State *L);

/* scn_check.c: the checks of a script's values. Each raises a Lua error naming what (the call)
 * and the field when the value is bad; strings returned are the caller's to free. */
/* What a text field may hold. */
enum scn_text_kind {
  SCN_TEXT_ANY,       /* any bytes but NUL (C strings carry it) */
  SCN_TEXT_PRINTABLE, /* and no control character: it is printed on one line */
  SCN_TEXT_HUB_ID,    /* the hub id's alphabet, as the protocol has it: [A-Za-z0-9._:-] */
};
/* Seconds to engine time (µs): 0 for none or less, capped far below the type's limit. */
sim_time_t scn_to_us(double seconds);
/* Raises unless the value at idx is a table: "what needs a table: what{...}". */
void scn_check_table(lua_State *L, int idx, const char *what);
/* The string field name of the table at idx, copied (NULL when absent): min..max bytes of the
 * kind given, else an error naming the field. */
char *scn_dup_field_text(lua_State *L, int idx, const char *name, const char *what, size_t min,
                         size_t max, enum scn_text_kind kind);
/* The optional number (finite) or duration field name of the table at idx: 1 and *out set when
 * present, 0 when absent. */
int scn_opt_number(lua_State *L, int idx, const char *name, const char *what, double *out);
int scn_opt_duration(lua_State *L, int idx, const char *name, const char *what, double *out,
                     int allow_negative);
/* Frees *slot and stores v (taken) in it. */
void scn_replace(char **slot, char *v);
/* Raises unless id names a device model of the catalogue. */
void scn_check_model(lua_State *L, const char *what, const char *id);

/* scn_api.c: the global functions (scenario, fleet, ramp, set_param) and their registration */
void scn_api_open(lua_State *L);

/* scn_api_timeline.c: at, after, every, phase, now, log */
int scn_step_add(struct scn *s, int fn_idx, sim_time_t due, sim_time_t period, sim_time_t to,
                 uint64_t count);
void scn_timeline_fire(void *arg, uint32_t id, sim_time_t due);
int scn_api_at(lua_State *L);
int scn_api_after(lua_State *L);
int scn_api_every(lua_State *L);
int scn_api_phase(lua_State *L);
int scn_api_now(lua_State *L);
int scn_api_log(lua_State *L);

/* scn_api_sel.c: hubs{}, devices{} and the selection type's methods */
int scn_api_hubs(lua_State *L);
int scn_api_devices(lua_State *L);
/* Registers the selection metatable (once per state, before any script runs). */
void scn_selection_open(lua_State *L);
/* Raises unless the fleet is running: what works only from at(), after() or every(). */
void scn_need_fleet(lua_State *L, struct scn *s, const char *what);

/* scn_api_platform.c: platform.command, platform.automation, platform.timer */
int scn_api_platform_command(lua_State *L);
int scn_api_platform_automation(lua_State *L);
int scn_api_platform_timer(lua_State *L);
int scn_device_ref_fill(struct scn *s, uint32_t hub, uint32_t slot, struct scn_device_ref *r);
/* Installs the automations and timers declared at top level (scn_start). */
int scn_platform_install(struct scn *s, struct scn_error *err);

/* scn_metrics.c */
/* Whether name is a known metric; unit set. 1 known, 0 not. */
int scn_metric_known(const char *name, const char **unit, int *is_latency);
/* The value of metric name now (stats refreshed by the caller). at_end: the run is over (what
 * is still in flight or queued then counts as lost). 0, or SIM_ENOTFOUND / SIM_EAGAIN (no
 * data). */
int scn_metric_value(struct scn *s, const char *name, int at_end, double *out);
void scn_stats_refresh(struct scn *s);
void scn_observe_install(struct scn *s);
int scn_api_expect(lua_State *L);

#endif
