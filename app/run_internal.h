/* Internals of `hubsim run` shared by its files, one job each: run_flags.c (the flags, filled
 * into struct run_opts, and the scenario's values under them), run.c (the real-clock run),
 * run_virtual.c (the virtual-clock run), run_platform.c (the embedded platform's thread),
 * run_workers.c (launching worker processes), run_ui.c (the dashboards) and run_output.c (the
 * summary and the report files). Not an API. */
#ifndef APP_RUN_INTERNAL_H
#define APP_RUN_INTERNAL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <getopt.h>
#include <stdio.h>
#include <uv.h>

#include "app/run_metrics.h"
#include "platform/platform.h"
#include "recorders/capture.h"
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

/* What a flag-reading step returns when the run goes on; anything else is the exit code (its
 * message already printed). */
#define APP_RUN_GO_ON (-1)

#define APP_RUN_DEFAULT_KEY "hubsim-demo-fleet-key"
#define APP_RUN_KEY_MAX 128 /* bytes of a fleet key (struct sim_fleet_config.fleet_key) */

/* The dashboards this build has: app/CMakeLists.txt sets both from HUBSIM_TUI and HUBSIM_GUI. */
#if !defined(HUBSIM_HAVE_TUI) || !defined(HUBSIM_HAVE_GUI)
#error "HUBSIM_HAVE_TUI and HUBSIM_HAVE_GUI are set by app/CMakeLists.txt"
#endif

#define RUN_UI_DEFAULT (-1) /* tui when stdin and stdout are a terminal, else none */
#define RUN_UI_NONE 0
#define RUN_UI_TUI 1
#define RUN_UI_GUI 2

#define RUN_PROFILE_HUBRPC 0
#define RUN_PROFILE_Z2M 1 /* --profile zigbee2mqtt: app/z2m_hub.c, app/run_z2m.c */

/* The MQTT flags of `hubsim run` (run_mqtt.c). */
struct app_mqtt_opts {
  int on;                 /* --platform is mqtt:// or mqtts:// */
  struct sim_addr broker; /* its address */
  int version;            /* --mqtt-version: 4 (3.1.1) or 5 */
  int qos;                /* --mqtt-qos: 0 or 1 */
  uint16_t keepalive;     /* --mqtt-keepalive, seconds */
  const char *prefix;     /* --mqtt-prefix */
  const char *user;       /* --mqtt-user */
  const char *pass_file;  /* --mqtt-password-file */
  const char *password;   /* read from pass_file */
  int observe;            /* --mqtt-observe */
  int embedded;           /* --embedded-platform: the reference platform behind the broker */
  unsigned given;         /* one bit per MQTT flag seen */
};

/* The capture flags of `hubsim run` (run_record.c). */
struct app_record_opts {
  const char *path;             /* --record FILE.pcapng; NULL: no capture */
  uint64_t limit;               /* --record-limit, bytes (0: none) */
  struct rec_capture_hubs hubs; /* --record-hubs (none given: every hub) */
  int limit_given, hubs_given;
};

struct run_opts {
  const char *platform;
  struct app_record_opts rec;
  struct app_record *record; /* the run's capture, set by the run (not a flag); NULL: none */
  int tls;                   /* --platform is hubrpcs:// or mqtts:// */
  struct app_mqtt_opts mq;
  const char *tls_ca;    /* --ca FILE: trust anchors for the platform's certificate */
  int tls_insecure;      /* --insecure: no certificate or name check */
  const char *hub_certs; /* --hub-certs DIR: a client certificate per hub (mutual TLS) */
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
  int workers_auto; /* --workers auto: as many as the open-file limit needs (app_run_plan) */
  int preflight;    /* --preflight: say how the fleet fits, and stop */
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
  int command_rate_given; /* --command-rate was given (its default is not refused) */
  int profile;            /* RUN_PROFILE_*: what the hubs speak (--profile) */
  const char *z2m_base;   /* --base-topic: zigbee2mqtt base topic pattern, NULL: default */
  int z2m_qos;            /* --state-qos: QoS of zigbee2mqtt state messages (default 1) */
  int z2m_no_discovery;   /* --no-discovery: no Home Assistant discovery configs */
  int after_given;        /* --after was given */
  /* --shard I/N (run_shard.c): this process runs slice I of N of the fleet and writes its own
   * summary for hubsim merge. Not the same as --worker's shard/shards above, which a control
   * process hands its children; a worker inside a shard has both. */
  uint32_t slice, slices;
  int slice_given;
  double start_at;        /* --start-at, unix seconds; 0: start at once */
  char start_at_text[32]; /* the same as RFC 3339 UTC, whole seconds */
  /* The command line as given (argv[0] is "run"), before getopt reordered it: workers get it
   * again. Owned: app_run_flags_fini() frees it. */
  int argc;
  char **argv;
  /* --metrics-out, --report, --prometheus (run_metrics.c). */
  struct app_metrics_opts mo;
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
  int have_record;         /* virtual clock, --record: the capture's figures */
  struct rec_capture_info record;
  char record_path[PATH_MAX];

  /* The recorders over time (run_metrics.c); NULL: none. */
  struct app_metrics *metrics;
};

/* ---- run_z2m.c ---- */

/* --profile and the zigbee2mqtt profile's flags: APP_RUN_GO_ON, -2 (not one of them), or the
 * exit code. */
int app_run_z2m_flag(struct run_opts *o, int c, const char *arg);
/* Their checks against the other flags, after reading them all; under --profile zigbee2mqtt it
 * clears o->mq.on (the broker is the z2m driver's, not a hubrpc stream). APP_RUN_GO_ON or 2. */
int app_run_z2m_check(struct run_opts *o);
/* With --profile zigbee2mqtt: the driver, put into cfg (cfg->platform gets the broker). 0 with
 * *out set (NULL for another profile), or the exit code after a message. */
struct app_z2m;
int app_run_z2m_new(const struct run_opts *o, uv_loop_t *loop, struct sim_transport *t,
                    struct sim_fleet_config *cfg, struct app_z2m **out);

/* ---- run_flags.c ---- */

/* Fills o from the command line (defaults first), checks the flags against each other and
 * resolves the fleet key. APP_RUN_GO_ON, or the exit code (--help: 0, a bad flag: 2) with its
 * message printed. app_run_flags_fini() frees what it kept, whatever it returned. */
int app_run_flags(struct run_opts *o, int argc, char **argv);
void app_run_flags_fini(struct run_opts *o);
/* Loads o->scenario (NULL: none) into *scn and lays its values under the flags given
 * explicitly; then checks what needs them. APP_RUN_GO_ON with *scn set (taken by the caller),
 * or the exit code. */
int app_run_scenario(struct run_opts *o, struct scn **scn);
/* The fleet of the flags and the scenario (may be NULL; borrowed for the run) in *cfg.
 * APP_RUN_GO_ON, or the exit code. */
int app_run_fleet_config(const struct run_opts *o, struct scn *scn, struct sim_fleet_config *cfg);
/* The arguments a worker gets from the command line of its control process, in their order:
 * every flag but those the control process keeps for itself (outputs, the embedded platform's
 * own flags, the dashboard, the key, --workers, -q). Writes at most cap pointers (borrowed from
 * o->argv) to out; the count, or SIM_EINVAL when more would be needed. */
int app_run_worker_args(const struct run_opts *o, const char **out, int cap);
/* Prints "hubsim run: FLAG 'VALUE': WHY" (value may be NULL or "") and returns 2. */
int app_run_bad(const char *flag, const char *value, const char *why);
/* The command the messages of the flag parser name (app_run_flags, app_run_scenario,
 * app_run_fleet_config, app_run_bad): "hubsim run" unless set; hubsim provision, which reads the
 * same fleet flags, sets "hubsim provision". name is borrowed for the process's life. */
void app_run_flags_command(const char *name);

/* ---- run_record.c ---- */

#define APP_RUN_RECORD_FIRST 360
#define APP_RUN_RECORD_NOPTS 3
extern const struct option app_run_record_longopts[];
/* One capture flag c with its value. APP_RUN_GO_ON, APP_RUN_NOT_MINE or the exit code. */
int app_run_record_flag(struct run_opts *o, int c, const char *value);
/* The capture flags against the others. APP_RUN_GO_ON or the exit code. */
int app_run_record_check(struct run_opts *o);

/* The capture of one run: opened before the fleet's transport is made, wrapped around it,
 * finished (closed, figures kept in info) once the fleet has stopped. */
struct app_record {
  struct rec_capture *cap;        /* NULL: no --record, or finished */
  struct sim_fleet *const *fleet; /* borrowed: the run's fleet pointer (set later) */
  int mqtt;                       /* the hubs speak MQTT to a broker */
  uint32_t shard, shards;
  int done; /* finished: info holds the figures */
  struct rec_capture_info info;
  char path[PATH_MAX];
};
/* APP_RUN_GO_ON (also without --record), or 2 with the message printed. */
int app_record_open(struct app_record *ar, const struct run_opts *o,
                    const struct sim_fleet_config *cfg, struct sim_fleet *const *fleet);
/* The hubs' transport: inner itself without a capture, else the capture's over it (freed by
 * app_record_finish). 0 or SIM_ENOMEM. */
int app_record_wrap(struct app_record *ar, struct sim_transport *inner, struct sim_transport **out);
/* The file of worker k (k < 0: the pattern, with * for k): "run.pcapng" -> "run.w3.pcapng". */
void app_record_worker_path(const char *path, int k, char *out, size_t cap);
/* Writes the rest, closes the file and keeps its figures; the fleet must have stopped. */
void app_record_finish(struct app_record *ar);

/* ---- run_mqtt.c ---- */

/* The long options of the MQTT flags, their values from APP_RUN_MQTT_FIRST on. */
#define APP_RUN_MQTT_FIRST 300
#define APP_RUN_MQTT_VERSION APP_RUN_MQTT_FIRST /* --mqtt-version, the first of them */
#define APP_RUN_NOT_MINE (-2)                   /* a flag reader: not one of its flags */
extern const struct option app_run_mqtt_longopts[];
#define APP_RUN_MQTT_NOPTS 8
/* One MQTT flag c with its value. APP_RUN_GO_ON, APP_RUN_NOT_MINE or the exit code. */
int app_run_mqtt_flag(struct run_opts *o, int c, const char *value);
/* --platform URL when it is mqtt:// or mqtts://: fills o->mq. 1 when it is one (then *code is
 * APP_RUN_GO_ON or the exit code), 0 when it is another scheme. */
int app_run_mqtt_platform(struct run_opts *o, const char *url, int *code);
/* The MQTT flags against the others; reads the password file. APP_RUN_GO_ON or the exit code. */
int app_run_mqtt_check(struct run_opts *o);
/* 1 for a flag a worker must not get (the control process keeps it). */
int app_run_mqtt_control_only(int c);

struct app_hub_certs;
struct app_mqtt;
/* The hubs' transport of an mqtt:// run on loop: tcp or tls (mqtts://: --ca, --insecure, and
 * --hub-certs presenting each hub's certificate to the broker) under the hubrpc profile's
 * stream. *fleet is read on each connect for the hub id (the fleet is made after the
 * transport). 0 and *out, or the exit code after a message. */
int app_run_mqtt_new(uv_loop_t *loop, const struct run_opts *o, struct sim_fleet *const *fleet,
                     struct app_hub_certs *certs, struct app_mqtt **out);
struct sim_transport *app_run_mqtt_transport(struct app_mqtt *m);
/* The same transport for the serving side (the embedded platform behind the broker). */
int app_run_mqtt_serve_new(uv_loop_t *loop, const struct run_opts *o, struct app_mqtt **out);
/* --mqtt-observe: subscribes an observer to the uplink topics and waits (running loop, up to
 * 10 s) until the broker has acknowledged it. 0, or the exit code after a message. */
int app_run_mqtt_observe(struct app_mqtt *m, uv_loop_t *loop, const struct run_opts *o);
/* The transport under the stream: tcp, or tls for mqtts:// (its counts go in the summary). */
struct sim_transport *app_run_mqtt_inner(struct app_mqtt *m);
/* Fills the summary's view (m may be NULL: nothing measured here). */
void app_run_mqtt_info(struct app_mqtt *m, const struct run_opts *o, struct rec_mqtt *out);
/* Ends the observer (no callbacks after). */
void app_run_mqtt_stop(struct app_mqtt *m);
/* Frees the transports (after every connection on them has closed and the loop ran). */
void app_run_mqtt_free(struct app_mqtt *m);

/* ---- run_shard.c ---- */

#define APP_RUN_SHARD_OPT 400 /* --shard, the long option's value */
#define APP_RUN_START_AT_OPT 401
#define APP_RUN_PREFLIGHT_OPT 430 /* --preflight */

/* How the fleet fits on this machine (app/run_plan.c): the limits read here, and the worker
 * processes and source addresses they call for. */
struct app_run_plan {
  uint64_t hubs;
  uint64_t nofile;           /* open files per process (the soft limit, raised to the hard one) */
  uint32_t port_lo, port_hi; /* net.ipv4.ip_local_port_range (0, 0: unknown) */
  uint64_t per_addr;         /* connections planned per source address */
  uint64_t per_process;      /* hubs one process holds at most */
  uint64_t workers;          /* processes the fleet needs */
  uint32_t addrs;            /* source addresses it needs */
  uint32_t cpus;
  uint64_t mem_avail; /* MemAvailable in bytes (0: unknown) */
  int embedded, loopback;
  int fits;      /* 0: why says what does not fit */
  char bind[40]; /* the chosen --bind value, "" when the default address does */
  char why[320];
};
/* Open files a process keeps for itself (logs, the loop, the summary) beside one per hub. */
#define APP_RUN_FILES_KEPT 64u
/* Raises the soft open-file limit to the hard one and returns it (0 unknown). */
uint64_t app_run_nofile(void);
/* Fills p from this machine's limits and o's fleet; 0 (p->fits says whether it fits). */
int app_run_plan_make(const struct run_opts *o, struct app_run_plan *p);
void app_run_plan_print(FILE *f, const struct run_opts *o, const struct app_run_plan *p);
#define APP_RUN_SHARD_NOPTS 2
#define APP_RUN_SHARDS_MAX 65536
extern const struct option app_run_shard_longopts[APP_RUN_SHARD_NOPTS];
/* --shard and --start-at: APP_RUN_GO_ON, APP_RUN_NOT_MINE or the exit code. */
int app_run_shard_flag(struct run_opts *o, int c, const char *arg);
/* Their checks against the other flags, after reading them all (o->scenario known).
 * APP_RUN_GO_ON or 2. */
int app_run_shard_check(const struct run_opts *o);
/* Hubs this process's run covers: the shard's with --shard, else --hubs. */
uint64_t app_run_shard_hubs(const struct run_opts *o);
/* Puts the shard (and a worker's place in it) into cfg's split of the fleet. */
void app_run_shard_config(const struct run_opts *o, struct sim_fleet_config *cfg);
/* The summary's "shard" object (static storage), or NULL without --shard. */
struct rec_shard;
const struct rec_shard *app_run_shard_rec(const struct run_opts *o,
                                          const struct sim_fleet_config *cfg);
/* Says which shard this is and waits for --start-at (on the wall clock, absolute). APP_RUN_GO_ON,
 * or 2 for a time more than a few seconds past or more than a day ahead. */
int app_run_shard_wait(const struct run_opts *o);
/* The shard flags' part of hubsim run --help. */
void app_run_shard_usage(FILE *out);

/* ---- run_platform.c ---- */

/* The embedded reference platform, in a thread of its own with its own loop. */
struct app_run_emb {
  uv_thread_t thread;
  uv_loop_t loop;
  uv_async_t stop;
  uv_async_t call; /* runs call_fn in the platform's thread (scenario platform operations) */
  int (*call_fn)(struct app_run_emb *e, void *arg);
  void *call_arg;
  int call_rc, call_done;
  uv_mutex_t mu;
  uv_cond_t cv;
  int ready;
  int rc;
  uint16_t port;
  struct sim_transport *t;
  struct plat_server *srv;
  struct plat_config cfg;
  struct plat_counters final; /* its counters once stopped */
  char db[PATH_MAX + 16];
  char dir[PATH_MAX]; /* the private folder of a temporary store; "" with --db */
  int own_db;
  const struct run_opts *o; /* borrowed for the run */
  struct app_mqtt *mq;      /* --embedded-platform: the transport through the broker */
  char listen[96];
};

/* Starts the platform (store: --db, or a private temporary one) on a free loopback port
 * (e->port) and waits until it listens. 0 or a negative error. */
int app_run_emb_start(struct app_run_emb *e, const struct run_opts *o);
/* Stops it, waits for its thread, fills e->final and removes a temporary store. */
void app_run_emb_stop(struct app_run_emb *e);
/* The scenario's platform operations, each run in the platform's thread (e borrowed). */
void app_run_emb_ops(struct app_run_emb *e, struct scn_platform_ops *ops);

/* ---- run_workers.c ---- */

struct app_workers;
/* Starts o->workers worker processes of the fleet against the platform at *platform: each gets
 * the control process's command line (app_run_worker_args), its shard and the platform, and
 * the fleet key on fd 4. done(arg) runs once every worker has exited. 0 or a negative error. */
int app_run_workers_start(uv_loop_t *loop, const struct run_opts *o,
                          const struct sim_addr *platform, void (*done)(void *arg), void *arg,
                          struct app_workers **out);

/* ---- run_ui.c ---- */

struct app_ui;
/* 1 when this build has the dashboard ui (RUN_UI_*) names: a build may leave the terminal or
 * the graphical one out (cmake -DHUBSIM_TUI=OFF, -DHUBSIM_GUI=OFF). */
int app_run_ui_built(int ui);
/* Sets u->start and u->stop to the dashboard o->ui names (o borrowed for the run); NULL when
 * this build does not have it. */
void app_run_ui_bind(struct app_ui *u, const struct run_opts *o);

/* ---- run_output.c ---- */

/* CPU of the calling thread so far (the fleet runs on it; an embedded platform has its own). */
void app_run_thread_cpu(double *user, double *sys);

/* The summary's view of the platform's counters. */
void app_run_platform_view(struct rec_platform_view *pv, const struct plat_counters *c);
/* The fields of the summary's run information that come from the flags and the fleet. */
void app_run_info_init(struct rec_run_info *info, const struct run_opts *o,
                       const struct sim_fleet_config *cfg);
/* The summary (stdout, --summary) and the JUnit file (--junit) of a finished run; returns the
 * exit code. forced_fail (may be NULL) fails the run for a reason the figures cannot show. */
int app_run_report(const struct run_opts *o, struct scn *scn, struct run_outcome *oc,
                   struct rec_run_info *info, const char *forced_fail, int is_virtual);
/* The outputs of a verdict v already computed (a run's, or hubsim merge's): the human summary
 * on stdout, the JSON summary (summary, NULL: none) and the JUnit file (junit, NULL: none; clock
 * "real" or "virtual" in its properties). A file that cannot be written is said on stderr,
 * prefixed by cmd, and turns an exit code of 0 into 3. Returns the exit code. */
int app_report_outputs(const char *cmd, const char *summary, const char *junit, const char *clock,
                       const struct rec_run_info *info, const struct sim_fleet_stats *st,
                       const struct rec_platform_view *pv, struct rec_verdict *v);

/* ---- run_virtual.c ---- */

/* A whole virtual-clock run of the fleet cfg and scenario scn (may be NULL; borrowed): runs,
 * reports, returns the exit code. */
int app_run_virtual_clock(const struct run_opts *o, struct sim_fleet_config *cfg, struct scn *scn);

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
