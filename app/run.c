/* `hubsim run`: builds a fleet from flags, starts the embedded reference platform unless
 * --platform names one, runs for --duration with progress once a second, drains what is in
 * flight, and ends with a summary in which every message is accounted for. */
#include "app/run.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "app/admin_client.h"
#include "app/opts.h"
#include "app/run_internal.h"
#include "app/ui_host.h"
#include "app/version.h"
#include "app/workers.h"
#include "devices/cat_global.h"
#include "devices/cat_load.h"
#include "devices/cat_types.h"
#include "platform/platform.h"
#include "recorders/junit.h"
#include "recorders/summary.h"
#include "sim/core/err.h"
#include "sim/core/keyfile.h"
#include "sim/core/log.h"
#include "sim/core/wfile.h"
#include "sim/fleet/fleet.h"
#include "sim/transport/transport.h"
#include "ui/gui/gui.h"
#include "ui/tui/tui.h"

#define DEFAULT_KEY "hubsim-demo-fleet-key"
#define APP_KEY_MAX 128 /* bytes of a fleet key (struct sim_fleet_config.fleet_key) */

static void run_usage(FILE *out) {
  fprintf(
      out,
      "usage: hubsim run [SCENARIO] [FLAGS]\n"
      "\n"
      "Runs a fleet of virtual hubs and devices against a hubrpc platform. Without --platform\n"
      "it starts the reference platform on a free loopback port (in its own thread, with a\n"
      "store in a temporary file).\n"
      "\n"
      "SCENARIO is a Lua script (docs/scenarios.md) that sets up the fleet, drives it over\n"
      "time and states expectations: a path (my.lua) or the name of one of the built-in\n"
      "library (demo, smoke, morning-rush, power-cut, reconnect-storm, automation-latency,\n"
      "battery-day, command-fanout). Flags given explicitly override the scenario's values.\n"
      "Without SCENARIO and without --hubs, --devices-per-hub, --mix or --duration, the\n"
      "demo scenario runs.\n"
      "\n"
      "fleet:\n"
      "  --hubs N              hubs in the fleet (default 100)\n"
      "  --devices-per-hub N   devices behind each hub, 1..65535 (default 8)\n"
      "  --mix LIST            device models and weights, e.g.\n"
      "                        'lumi.sensor_ht.agl02:2,lumi.plug.maeu01:1'; 'all' (default)\n"
      "                        weighs every known model equally\n"
      "  --seed N              seed of every random choice (default 1): same seed, same fleet\n"
      "                        and same device behaviour\n"
      "  --fleet-key KEY       key the hub secrets derive from (default \"" DEFAULT_KEY "\");\n"
      "                        a value on the command line is visible to every local user\n"
      "                        (ps): for a real key use --fleet-key-file or HUBSIM_FLEET_KEY\n"
      "  --fleet-key-file FILE read the key from FILE (one trailing newline is not part of\n"
      "                        it); FILE must not be readable by other users (chmod 600)\n"
      "  --speedup X           device behaviour runs X times faster than real time (default 1):\n"
      "                        the same report patterns, compressed, for load tests; frame\n"
      "                        timestamps stay real\n"
      "  --workers N           run the fleet in N worker processes (shards of the hubs; one\n"
      "                        process holds at most ~20k sockets); figures are merged\n"
      "                        exactly (default 1: in this process)\n"
      "  --worker K/N          internal: run shard K of N, read the fleet key from fd 4 and\n"
      "                        report to the parent on fd 3\n"
      "  --bind LIST           source addresses for the hubs' connections, round robin:\n"
      "                        '127.0.0.2,127.0.0.3' or a range '127.0.0.2-127.0.0.9'; one\n"
      "                        source address reaches ~28k ports per destination\n"
      "  --hub-model ID        the hub model every hub announces in Hello, with its firmware;\n"
      "                        it limits --devices-per-hub (default: the catalogue's\n"
      "                        default hub, see hubsim devices list)\n"
      "  --catalog DIR         add the device models of DIR/*.yaml (docs/catalog.md);\n"
      "                        repeatable\n"
      "\n"
      "radio (between devices and their hub):\n"
      "  --radio-hops N        devices are 1..N hops from their hub, fixed per device\n"
      "                        (default 1)\n"
      "  --radio-delay MS      delay of one hop, per attempt (default 0)\n"
      "  --radio-loss P        chance that one attempt on one hop fails, 0..1; a hop is tried\n"
      "                        4 times before the frame is lost (default 0)\n"
      "  --sleepy-hold D       how long a hub keeps a command for a sleepy device that polls\n"
      "                        only when it transmits (default 1h, device time)\n"
      "\n"
      "run:\n"
      "  --platform URL        hubrpc://HOST:PORT of the platform under test, HOST an IPv4\n"
      "                        address (default: the embedded reference platform);\n"
      "                        hubrpcs:// (TLS) is refused: TLS is not built yet\n"
      "  --duration D          how long devices generate traffic: 30s, 5m, 2h (default 20s)\n"
      "  --ramp N              hubs started per second; 0 starts all at once (default 0)\n"
      "  --warmup D            latency figures leave out what was meant to happen in the\n"
      "                        first D of the run (the start-up burst); counts include it\n"
      "                        (default 0s)\n"
      "  --drain D             after the duration, how long to wait for acknowledgements of\n"
      "                        what is in flight and for every hub to be online (default 10s);\n"
      "                        after SIGINT or SIGTERM at most 1s, a second one stops at once\n"
      "  --queue-max N         sequenced messages a hub keeps, unacknowledged plus unsent,\n"
      "                        before it drops new ones, 1..1048576 (default 4096)\n"
      "  --max-lag MS          generator tick lag p99 above this fails the run with exit 4\n"
      "                        (default 50; a plain number is in ms, or 0.1s, 500us)\n"
      "  --allow-lag           report a late generator but do not fail the run for it\n"
      "  --command-rate N      embedded platform only (not with --platform): background on/off\n"
      "                        commands per second to smart plugs (default 5)\n"
      "  --db FILE             embedded platform only (not with --platform): keep its store\n"
      "                        in FILE (default: a private temporary folder removed at the end)\n"
      "  --ui none|tui|gui     none: headless; tui: the terminal dashboard (docs/tui.md;\n"
      "                        the default when stdin and stdout are a terminal); gui: the\n"
      "                        SDL2 window for demos (docs/gui.md; SDL_VIDEODRIVER=offscreen\n"
      "                        without a display)\n"
      "  --screenshot FILE.png --ui gui: write a PNG of the window at --after D of engine time\n"
      "  --after D             with --screenshot: when to take it, within --duration\n"
      "                        (default 0s)\n"
      "  --exit-after-screenshot  end the run (drain, summary) once the screenshot is written\n"
      "\n"
      "clock:\n"
      "  --clock real|virtual  virtual: discrete-event time with the embedded platform in this\n"
      "                        process over an in-memory transport; a simulated day takes\n"
      "                        seconds and the same seed repeats byte for byte (default real,\n"
      "                        or the scenario's)\n"
      "  --platform-admin H:P  with --platform: the external platform's admin line interface\n"
      "                        (IPv4 HOST:PORT), for the scenario's platform operations\n"
      "                        (commands, automations, timers); the token in the file named\n"
      "                        by HUBSIM_ADMIN_TOKEN_FILE is sent first\n"
      "\n"
      "output:\n"
      "  --summary FILE        write the JSON summary (docs/summary.md) to FILE\n"
      "  --junit FILE          write JUnit XML: a test case per expectation (docs/ci.md)\n"
      "  -q, --quiet           no progress lines on stderr\n"
      "  -h, --help            this text\n"
      "\n"
      "Durations (D): a number with a unit, us ms s m h d, parts may add up (1h30m); a plain\n"
      "number is seconds; at most 365d. Every flag may be given once (--catalog repeats).\n"
      "The fleet key may also come from the environment: HUBSIM_FLEET_KEY (used when neither\n"
      "--fleet-key nor --fleet-key-file is given).\n"
      "\n"
      "Progress goes to stderr once a second; the summary to stdout at the end. SIGINT or\n"
      "SIGTERM ends the run within 2 s: a drain of at most 1 s, then the summary (a second\n"
      "signal skips the drain); the verdict says the run was interrupted.\n"
      "Exit codes: 0 every generated message acknowledged (or excluded by a documented rule,\n"
      "docs/summary.md), every hub that should be online online, nothing dropped, and every\n"
      "expectation held; 1 messages lost, dropped or never acknowledged, hubs not online at the\n"
      "end, the platform lost what it acknowledged, or an expectation failed; 2 usage, input or\n"
      "scenario script error; 3 runtime failure (no hub ever reached the platform); 4 the\n"
      "generator could not keep its schedule.\n");
}

/* ---- embedded platform in its own thread --------------------------------------------------- */

struct embedded {
  uv_thread_t thread;
  uv_loop_t loop;
  uv_async_t stop;
  uv_async_t call; /* runs call_fn in the platform's thread (scenario platform operations) */
  int (*call_fn)(struct embedded *e, void *arg);
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
  struct plat_counters final;
  char db[PATH_MAX + 16];
  char dir[PATH_MAX]; /* the private folder of a temporary store; "" with --db */
  int own_db;
};

static void emb_stopped(struct plat_server *srv, void *arg) {
  struct embedded *e = arg;
  plat_server_counters(srv, &e->final);
  uv_close((uv_handle_t *)&e->stop, NULL);
  uv_close((uv_handle_t *)&e->call, NULL);
}

static void emb_on_stop(uv_async_t *a) {
  struct embedded *e = a->data;
  if (plat_server_stop(e->srv, emb_stopped, e)) {
    uv_close((uv_handle_t *)&e->stop, NULL);
    uv_close((uv_handle_t *)&e->call, NULL);
  }
}

static void emb_on_call(uv_async_t *a) {
  struct embedded *e = a->data;
  uv_mutex_lock(&e->mu);
  if (e->call_fn && !e->call_done) {
    e->call_rc = e->call_fn(e, e->call_arg);
    e->call_done = 1;
    uv_cond_broadcast(&e->cv);
  }
  uv_mutex_unlock(&e->mu);
}

/* Runs fn in the platform's thread and waits for it: the control path only (a scenario's
 * platform operations), never per report. */
static int emb_call(struct embedded *e, int (*fn)(struct embedded *e, void *arg), void *arg) {
  uv_mutex_lock(&e->mu);
  e->call_fn = fn;
  e->call_arg = arg;
  e->call_done = 0;
  uv_mutex_unlock(&e->mu);
  uv_async_send(&e->call);
  uv_mutex_lock(&e->mu);
  while (!e->call_done)
    uv_cond_wait(&e->cv, &e->mu);
  int rc = e->call_rc;
  e->call_fn = NULL;
  uv_mutex_unlock(&e->mu);
  return rc;
}

/* The scenario's platform operations, run in the platform's thread: each packs its arguments
 * and runs the direct operation (run_virtual.c) there. */
struct emb_op {
  int which;
  const void *a;
  uint8_t ep, command;
  uint16_t cluster;
  const uint8_t *payload;
  size_t len;
  uint64_t *id;
  const char *name;
  double *out;
};

static int emb_op_run(struct embedded *e, void *arg) {
  struct emb_op *op = arg;
  struct scn_platform_ops d;
  app_platform_ops_direct(&d, e->srv);
  switch (op->which) {
  case 0:
    return d.command(d.arg, op->a, op->ep, op->cluster, op->command, op->payload, op->len, op->id);
  case 1:
    return d.rule_add(d.arg, op->a, op->id);
  case 2:
    return d.timer_add(d.arg, op->a, op->id);
  default:
    return d.metric(d.arg, op->name, op->out);
  }
}

static int emb_command(void *arg, const struct scn_device_ref *dev, uint8_t ep, uint16_t cluster,
                       uint8_t command, const uint8_t *payload, size_t len, uint64_t *cmd_id) {
  struct emb_op op = {.which = 0,
                      .a = dev,
                      .ep = ep,
                      .command = command,
                      .cluster = cluster,
                      .payload = payload,
                      .len = len,
                      .id = cmd_id};
  return emb_call(arg, emb_op_run, &op);
}
static int emb_rule_add(void *arg, const struct scn_rule *r, uint64_t *id) {
  struct emb_op op = {.which = 1, .a = r, .id = id};
  return emb_call(arg, emb_op_run, &op);
}
static int emb_timer_add(void *arg, const struct scn_timer *t, uint64_t *id) {
  struct emb_op op = {.which = 2, .a = t, .id = id};
  return emb_call(arg, emb_op_run, &op);
}
static int emb_metric(void *arg, const char *name, double *out) {
  struct emb_op op = {.which = 3, .name = name, .out = out};
  return emb_call(arg, emb_op_run, &op);
}

static void emb_thread(void *arg) {
  struct embedded *e = arg;
  int rc = uv_loop_init(&e->loop);
  if (rc == 0)
    rc = sim_transport_tcp_new(&e->loop, &e->t);
  if (rc == 0)
    rc = plat_server_new(&e->loop, e->t, &e->cfg, &e->srv);
  if (rc == 0)
    rc = plat_server_start(e->srv);
  if (rc == 0) {
    uv_async_init(&e->loop, &e->stop, emb_on_stop);
    e->stop.data = e;
    uv_async_init(&e->loop, &e->call, emb_on_call);
    e->call.data = e;
  }
  uv_mutex_lock(&e->mu);
  e->rc = rc;
  e->port = rc == 0 ? plat_server_port(e->srv) : 0;
  e->ready = 1;
  uv_cond_signal(&e->cv);
  uv_mutex_unlock(&e->mu);
  if (rc == 0)
    uv_run(&e->loop, UV_RUN_DEFAULT);
  if (e->srv)
    plat_server_free(e->srv);
  if (e->t) {
    uv_run(&e->loop, UV_RUN_NOWAIT);
    sim_transport_free(e->t);
  }
  uv_loop_close(&e->loop);
}

/* Removes a temporary store and its folder (nothing with --db). */
static void emb_remove_store(struct embedded *e) {
  if (!e->own_db)
    return;
  char p[PATH_MAX + 32];
  unlink(e->db);
  snprintf(p, sizeof(p), "%s-wal", e->db);
  unlink(p);
  snprintf(p, sizeof(p), "%s-shm", e->db);
  unlink(p);
  snprintf(p, sizeof(p), "%s-journal", e->db);
  unlink(p);
  rmdir(e->dir);
}

static int emb_start(struct embedded *e, const struct run_opts *o) {
  memset(e, 0, sizeof(*e));
  if (o->db) {
    snprintf(e->db, sizeof(e->db), "%s", o->db);
  } else {
    /* A folder of our own (mkdtemp: mode 0700, a new name): a store at a guessable name in a
     * shared /tmp could be a link planted by another user, and SQLite follows links for the
     * database and its -wal and -shm files. */
    const char *tmp = getenv("TMPDIR");
    snprintf(e->dir, sizeof(e->dir), "%s/hubsim-run-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(e->dir))
      return -errno;
    snprintf(e->db, sizeof(e->db), "%s/store.db", e->dir);
    e->own_db = 1;
  }
  e->cfg.listen = "hubrpc://127.0.0.1:0";
  e->cfg.db_path = e->db;
  e->cfg.fleet_key = (const uint8_t *)o->key;
  e->cfg.fleet_key_len = strlen(o->key);
  e->cfg.command_rate = o->command_rate;
  uv_mutex_init(&e->mu);
  uv_cond_init(&e->cv);
  int rc = uv_thread_create(&e->thread, emb_thread, e);
  if (rc) {
    emb_remove_store(e);
    return rc;
  }
  uv_mutex_lock(&e->mu);
  while (!e->ready)
    uv_cond_wait(&e->cv, &e->mu);
  uv_mutex_unlock(&e->mu);
  if (e->rc) {
    uv_thread_join(&e->thread);
    emb_remove_store(e);
    return e->rc;
  }
  return 0;
}

static void emb_stop(struct embedded *e) {
  uv_async_send(&e->stop);
  uv_thread_join(&e->thread);
  emb_remove_store(e);
}

/* ---- the run --------------------------------------------------------------------------------- */

struct run {
  struct run_opts o;
  uv_loop_t *loop;
  struct sim_transport *t;
  struct sim_fleet *fleet;
  uv_timer_t progress, end, drain, escalate;
  uv_signal_t sigint, sigterm;
  const char *interrupted; /* "SIGINT" / "SIGTERM": a signal ended the run early */
  int signals;             /* signals received */
  uint64_t start_ns;
  double elapsed_s;
  int phase; /* 0 running, 1 draining, 2 stopping */
  sim_time_t drain_deadline;
  double cpu_user_s, cpu_sys_s;
  uint64_t workers_rss;
  struct sim_fleet_stats *prev, *cur;
  struct app_workers *workers; /* control of --workers N: the fleet runs in them */
  struct scn *scn;             /* the scenario, NULL: none */
  int script_failed;           /* a scenario callback failed: the run stops, exit 2 */
  struct scn_results res;      /* taken in stop_all, before the fleet stops */
  int have_res;
  struct app_ui *ui; /* the dashboard, NULL: none */
  size_t log_done;   /* scenario log lines printed so far */
};

/* CPU of this thread so far (the fleet runs on it; an embedded platform has its own). */
static void thread_cpu(double *user, double *sys) {
  struct rusage ru;
  if (getrusage(RUSAGE_THREAD, &ru) == 0) {
    *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  }
}

/* The current figures: of this process's fleet, or merged from the workers. */
static void snapshot(struct run *r, struct sim_fleet_stats *out) {
  if (r->workers)
    app_workers_merged(r->workers, out, NULL, NULL, NULL);
  else
    sim_fleet_stats(r->fleet, out);
}

static void close_handles(struct run *r) {
  uv_close((uv_handle_t *)&r->progress, NULL);
  uv_close((uv_handle_t *)&r->end, NULL);
  uv_close((uv_handle_t *)&r->drain, NULL);
  uv_close((uv_handle_t *)&r->escalate, NULL);
  uv_close((uv_handle_t *)&r->sigint, NULL);
  uv_close((uv_handle_t *)&r->sigterm, NULL);
}

static void fleet_stopped(struct sim_fleet *f, void *arg) {
  (void)f;
  (void)arg;
}

static void stop_all(struct run *r) {
  if (r->phase >= 2)
    return;
  r->phase = 2;
  r->elapsed_s = (double)(uv_hrtime() - r->start_ns) / 1e9;
  thread_cpu(&r->cpu_user_s, &r->cpu_sys_s);
  sim_fleet_stats(r->fleet, r->cur);
  if (r->o.shards > 1 &&
      app_worker_send(APP_WORKER_FD, r->cur, r->cpu_user_s, r->cpu_sys_s, 1) != 0)
    fprintf(stderr, "hubsim run: worker %u: cannot report to the control process\n", r->o.shard);
  if (r->scn) {
    /* A callback may also fail while the run drains (on_progress looks only before). */
    struct scn_error err;
    if (!r->script_failed && scn_failed(r->scn, &err)) {
      fprintf(stderr, "hubsim run: %s:%d: %s\n", err.file, err.line, err.message);
      r->script_failed = 1;
    }
    /* Judged while the fleet still runs: "hubs online" means something only now. */
    scn_finish(r->scn, &r->res);
    r->have_res = 1;
  }
  if (r->ui && r->ui->stop) {
    r->ui->stop(r->ui); /* the terminal is the summary's again */
    r->ui = NULL;
  }
  sim_fleet_stop(r->fleet, fleet_stopped, r);
  if (r->scn)
    scn_stop(r->scn); /* its scheduler's handles close with the others */
  close_handles(r);
}

/* The drain is over when every message is acknowledged and every hub that should be online
 * is (rec_settled()), or at its deadline: the verdict then names what is missing. */
static void on_drain(uv_timer_t *t) {
  struct run *r = t->data;
  sim_fleet_stats(r->fleet, r->cur);
  if (rec_settled(r->cur) || sim_fleet_now(r->fleet) >= r->drain_deadline)
    stop_all(r);
}

static void begin_drain_for(struct run *r, double drain_s) {
  if (r->phase != 0)
    return;
  r->phase = 1;
  if (r->ui)
    r->ui->draining = 1;
  sim_fleet_quiesce(r->fleet);
  r->drain_deadline = sim_fleet_now(r->fleet) + (sim_time_t)(drain_s * 1e6);
  uv_timer_start(&r->drain, on_drain, 0, 20);
}

static void begin_drain(struct run *r) {
  begin_drain_for(r, r->o.drain_s);
}

static void on_end(uv_timer_t *t) {
  begin_drain(t->data);
}

/* Workers that have not ended 1.5 s after the first signal get the second one (stop now), so
 * that the whole run ends within 2 s of the first. */
static void on_escalate(uv_timer_t *t) {
  struct run *r = t->data;
  if (r->workers && r->phase < 2)
    app_workers_signal(r->workers, SIGTERM);
}

/* SIGINT/SIGTERM end the run within 2 s, whatever --drain says and whatever the platform does:
 * the first starts a drain of at most APP_SIGNAL_DRAIN_S (what is in flight on a healthy
 * platform is acknowledged well within it), the second stops at once. Either way the verdict
 * says the run was interrupted, and what was not acknowledged is counted, never passed over. */

static void on_signal(uv_signal_t *s, int sig) {
  struct run *r = s->data;
  if (!r->interrupted)
    r->interrupted = sig == SIGINT ? "SIGINT" : "SIGTERM";
  r->signals++;
  if (r->workers) {
    /* Each worker drains on the first signal and stops on the second, as a single run does. */
    if (r->phase == 0) {
      fprintf(stderr,
              "hubsim: interrupted: the workers drain for at most %.0f s (again to stop "
              "now)\n",
              APP_SIGNAL_DRAIN_S);
      uv_timer_start(&r->escalate, on_escalate, (uint64_t)(APP_SIGNAL_DRAIN_S * 1500), 0);
    }
    r->phase = 1;
    app_workers_signal(r->workers, sig);
    return;
  }
  if (r->phase == 0) {
    fprintf(stderr, "hubsim: interrupted: draining for at most %.0f s (again to stop now)\n",
            APP_SIGNAL_DRAIN_S);
    begin_drain_for(r, r->o.drain_s < APP_SIGNAL_DRAIN_S ? r->o.drain_s : APP_SIGNAL_DRAIN_S);
  } else if (r->phase == 1 && r->signals == 1) {
    /* Already draining after the duration: the drain now ends within the same bound. */
    fprintf(stderr, "hubsim: interrupted: the drain ends within %.0f s (again to stop now)\n",
            APP_SIGNAL_DRAIN_S);
    sim_time_t cap = sim_fleet_now(r->fleet) + (sim_time_t)(APP_SIGNAL_DRAIN_S * 1e6);
    if (r->drain_deadline > cap)
      r->drain_deadline = cap;
  } else {
    stop_all(r);
  }
}

/* The histogram of what was recorded between two cumulative snapshots. */
static void hist_delta(const struct sim_hist *cur, const struct sim_hist *prev,
                       struct sim_hist *out) {
  sim_hist_init(out);
  for (uint32_t i = 0; i < SIM_HIST_BUCKETS; i++)
    out->buckets[i] = cur->buckets[i] - prev->buckets[i];
  out->count = cur->count - prev->count;
  out->sum = cur->sum - prev->sum;
  out->min = 0;
  out->max = cur->max;
}

/* One line a second on stderr: what the last second did. Rates and percentiles are of that
 * second (differences of cumulative snapshots), never of the whole run. */
static void on_progress(uv_timer_t *t) {
  struct run *r = t->data;
  static struct sim_hist d_ack, d_send, d_tick;
  if (r->scn && r->phase == 0) {
    struct scn_error err;
    scn_poll(r->scn);
    if (!r->o.quiet)
      app_print_scn_log(r->scn, &r->log_done);
    if (scn_failed(r->scn, &err)) {
      fprintf(stderr, "hubsim run: %s:%d: %s\n", err.file, err.line, err.message);
      r->script_failed = 1;
      begin_drain(r);
    }
  }
  snapshot(r, r->cur);
  if (r->workers && r->cur->hubs == 0)
    return; /* no worker has reported yet */
  if (r->o.shards > 1) {
    double cu = 0, cs = 0;
    thread_cpu(&cu, &cs);
    app_worker_send(APP_WORKER_FD, r->cur, cu, cs, 0);
  }
  const struct sim_fleet_stats *c = r->cur, *p = r->prev;
  double el = (double)(uv_hrtime() - r->start_ns) / 1e9;
  double dt = (double)(c->now - p->now) / 1e6;
  if (dt <= 0)
    dt = 1;
  hist_delta(&c->ack_latency, &p->ack_latency, &d_ack);
  hist_delta(&c->send_lag, &p->send_lag, &d_send);
  hist_delta(&c->tick_lag, &p->tick_lag, &d_tick);
  const struct sim_seq_counts *cr = &c->kind[SIM_SEQ_REPORT], *pr = &p->kind[SIM_SEQ_REPORT];
  uint64_t acked = 0, packed = 0;
  for (int k = 0; k < SIM_SEQ_NKINDS; k++) {
    acked += c->kind[k].acked;
    packed += p->kind[k].acked;
  }
  if (!r->o.quiet) {
    char ack[48] = "ack rtt -", send[32] = "send lag -", tick[32] = "tick lag -";
    if (d_ack.count)
      snprintf(ack, sizeof(ack), "ack rtt p50 %.1f p99 %.1f ms",
               sim_hist_quantile(&d_ack, 0.5) / 1000.0, sim_hist_quantile(&d_ack, 0.99) / 1000.0);
    if (d_send.count)
      snprintf(send, sizeof(send), "send lag p99 %.2f ms",
               sim_hist_quantile(&d_send, 0.99) / 1000.0);
    if (d_tick.count)
      snprintf(tick, sizeof(tick), "tick lag p99 %.2f ms",
               sim_hist_quantile(&d_tick, 0.99) / 1000.0);
    fprintf(stderr,
            "[%4.0fs] online %u/%u | reports %.0f/s acks %.0f/s | %s | %s | %s | in flight %" PRIu64
            " queued %" PRIu64 "%s\n",
            el, c->hubs_by_state[SIM_HUB_OPEN], c->hubs,
            (double)(cr->sent + cr->resent - pr->sent - pr->resent) / dt,
            (double)(acked - packed) / dt, ack, send, tick, c->in_flight, c->queued,
            r->phase == 1 ? " (draining)" : "");
  }
  struct sim_fleet_stats *tmp = r->prev;
  r->prev = r->cur;
  r->cur = tmp;
}

/* ---- workers ---- */

static void workers_done(void *arg) {
  struct run *r = arg;
  r->phase = 2;
  r->elapsed_s = (double)(uv_hrtime() - r->start_ns) / 1e9;
  close_handles(r);
}

/* The command line of worker k: the same fleet, shard k of N, against the same platform. */
static struct {
  const struct run_opts *o;
  const char *platform;
  char exe[4096];
  char s[24][64];
  const char *argv[48];
} WA;

static const char *const *worker_argv(int k, void *arg) {
  (void)arg;
  const struct run_opts *o = WA.o;
  int n = 0, s = 0;
#define ARG(x) (WA.argv[n++] = (x))
#define FMT(...) (snprintf(WA.s[s], sizeof(WA.s[s]), __VA_ARGS__), WA.argv[n++] = WA.s[s++])
  ARG(WA.exe);
  ARG("run");
  ARG("--worker");
  FMT("%d/%" PRIu64, k, o->workers);
  ARG("--platform");
  ARG(WA.platform);
  ARG("--hubs");
  FMT("%" PRIu64, o->hubs);
  ARG("--devices-per-hub");
  FMT("%" PRIu64, o->dph);
  ARG("--duration");
  FMT("%.6fs", o->duration_s);
  ARG("--seed");
  FMT("%" PRIu64, o->seed);
  ARG("--ramp");
  FMT("%.6f", o->ramp);
  ARG("--drain");
  FMT("%.6fs", o->drain_s);
  ARG("--speedup");
  FMT("%.6f", o->speedup);
  ARG("--warmup");
  FMT("%.6fs", o->warmup_s);
  ARG("--max-lag");
  FMT("%.6f", o->max_lag_ms);
  /* The fleet key is not here: it goes through fd 4 (app_worker_read_key), off the command
   * line that every local user can read. */
  ARG("--queue-max");
  FMT("%" PRIu64, o->queue_max);
  if (o->mix) {
    ARG("--mix");
    ARG(o->mix);
  }
  if (o->bind) {
    ARG("--bind");
    ARG(o->bind);
  }
  for (size_t i = 0; i < o->n_catalog; i++) {
    ARG("--catalog");
    ARG(o->catalog[i]);
  }
  if (o->hub_model) {
    ARG("--hub-model");
    ARG(o->hub_model);
  }
  ARG("--radio-hops");
  FMT("%" PRIu64, o->radio_hops);
  ARG("--radio-delay");
  FMT("%.6f", o->radio_delay_ms);
  ARG("--radio-loss");
  FMT("%.9f", o->radio_loss);
  ARG("--sleepy-hold");
  FMT("%.6fs", o->sleepy_hold_s);
  ARG("-q");
  WA.argv[n] = NULL;
#undef ARG
#undef FMT
  return WA.argv;
}

/* ---- scenarios and outputs ---------------------------------------------------------------------
 */

const char *app__builtin_scenario_file(size_t i, const char **name, size_t *len);

/* A scenario named without a path or an extension ("smoke") is one of the built-in library
 * (scenarios/NAME.lua, embedded at build time). 0 and the text, or SIM_ENOTFOUND. */
static int app_builtin_scenario(const char *arg, char *path, size_t cap, const char **text,
                                size_t *len) {
  if (strchr(arg, '/') || strstr(arg, ".lua"))
    return SIM_ENOTFOUND;
  const char *name;
  size_t n;
  for (size_t i = 0;; i++) {
    const char *t = app__builtin_scenario_file(i, &name, &n);
    if (!t)
      return SIM_ENOTFOUND;
    size_t l = strlen(arg);
    if (strncmp(name, arg, l) == 0 && strcmp(name + l, ".lua") == 0) {
      snprintf(path, cap, "scenarios/%s", name);
      *text = t;
      *len = n;
      return 0;
    }
  }
}

/* Devices per hub from the scenario's range or distribution (fleet.h devices_of_hub). */
static struct scn *dph_scn;
static uint64_t dph_seed;
static uint32_t devices_of_hub(void *arg, uint32_t g) {
  (void)arg;
  return scn_devices_of_hub(dph_scn, dph_seed, g);
}

static void fill_platform_view(struct rec_platform_view *pv, const struct plat_counters *c) {
  pv->present = 1;
  pv->reports_stored = c->reports_committed;
  pv->duplicates = c->seq_duplicate;
  pv->joined = c->joined;
  pv->commands_sent = c->commands_sent;
  pv->commands_ok = c->commands_ok;
  pv->commands_failed = c->commands_failed;
  pv->commands_timed_out = c->commands_timed_out;
  pv->sessions_accepted = c->sessions_accepted;
  pv->auth_failed = c->auth_failed;
}

/* The summary (stdout, --summary) and the JUnit file (--junit) of a finished run; returns the
 * exit code. */
static int report_run(const struct run_opts *o, struct scn *scn, struct run_outcome *oc,
                      struct rec_run_info *info, const char *forced_fail, int is_virtual) {
  static struct rec_expectation exps[256];
  struct rec_scenario sc;
  struct scn_results res;
  struct scn_error serr;
  memset(&sc, 0, sizeof sc);
  if (scn) {
    if (oc->have_res)
      res = oc->res;
    else
      scn_finish(scn, &res);
    size_t n = res.n_exp < 256 ? res.n_exp : 256;
    for (size_t i = 0; i < n; i++) {
      const struct scn_expectation *e = &res.exp[i];
      exps[i] = (struct rec_expectation){.metric = e->metric,
                                         .op = e->op,
                                         .threshold = e->threshold,
                                         .threshold_text = e->threshold_text,
                                         .unit = e->unit,
                                         .after_s = e->after_s,
                                         .value = e->value,
                                         .at_s = e->at_s,
                                         .verdict = e->verdict == SCN_PASS   ? REC_EXP_PASS
                                                    : e->verdict == SCN_FAIL ? REC_EXP_FAIL
                                                                             : REC_EXP_NO_DATA,
                                         .file = e->file,
                                         .line = e->line};
    }
    sc.name = scn_config(scn)->name;
    sc.phase = res.phase;
    sc.steps_run = res.steps_run;
    sc.exp = exps;
    sc.n_exp = n;
    sc.automation = res.automation && res.automation->count ? res.automation : NULL;
    if (oc->script_failed && scn_failed(scn, &serr)) {
      static char msg[600], file[256];
      snprintf(msg, sizeof msg, "%s", serr.message);
      snprintf(file, sizeof file, "%s", serr.file);
      sc.error = msg;
      sc.error_file = file;
      sc.error_line = serr.line;
    } else if (oc->script_failed) {
      sc.error = "the scenario could not start";
    }
  }
  info->virtual_clock = is_virtual;
  info->wall_s = oc->elapsed_s;
  info->scenario = scn ? &sc : NULL;
  static struct rec_verdict v;
  rec_verdict_compute(info, oc->st, &oc->pv, &v);
  /* Failures the figures cannot show decide: with a worker's figures missing, or a run that
   * could not go on, every other figure is incomplete. */
  if (oc->runtime_failed)
    rec_verdict_add(&v, "runtime", 3, 1, "the run could not go on (see the messages above)", 1,
                    info);
  if (forced_fail)
    rec_verdict_add(&v, "worker_failed", 3, 1, forced_fail, 1, info);
  rec_summary_print(stdout, info, oc->st, &oc->pv, &v);
  if (o->summary) {
    int rc = rec_summary_write(o->summary, info, oc->st, &oc->pv, &v);
    if (rc) {
      fprintf(stderr, "hubsim run: --summary '%s': cannot write: %s\n", o->summary,
              sim_strerror(rc));
      if (v.exit_code == 0)
        v.exit_code = 3;
    }
  }
  if (o->junit) {
    struct rec_junit_suite js;
    rec_junit_suite_from_run(&js, info, &v);
    js.clock = is_virtual ? "virtual" : "real";
    js.version = HUBSIM_VERSION;
    int rc = rec_junit_write(o->junit, &js);
    if (rc) {
      fprintf(stderr, "hubsim run: --junit '%s': cannot write: %s\n", o->junit, sim_strerror(rc));
      if (v.exit_code == 0)
        v.exit_code = 3;
    }
  }
  return v.exit_code;
}

/* The terminal dashboard (ui/tui), started once the fleet exists and stopped before the
 * summary is printed. */
static int tui_start(struct app_ui *u) {
  setlocale(LC_ALL, "");
  struct ui_tui_opts to = {.refresh_hz = 4, .color = UI_TUI_COLOR_AUTO};
  struct ui_tui *t;
  int rc = ui_tui_start(&u->host, &to, &t);
  if (rc)
    return rc;
  u->ui = t;
  return 0;
}

static void tui_stop(struct app_ui *u) {
  ui_tui_stop(u->ui);
  u->ui = NULL;
}

static const struct run_opts *gui_opts; /* the flags gui_start reads */

static int gui_start(struct app_ui *u) {
  struct ui_gui_opts go = {.screenshot_path = gui_opts->screenshot,
                           .screenshot_after_s = gui_opts->screenshot_after_s,
                           .exit_after_screenshot = gui_opts->exit_after_screenshot,
                           .title = "hubsim"};
  struct ui_gui *g;
  int rc = ui_gui_start(&u->host, &go, &g);
  if (rc)
    return rc;
  u->ui = g;
  return 0;
}

static void gui_stop(struct app_ui *u) {
  ui_gui_stop(u->ui);
  u->ui = NULL;
}

static void ui_quit_real(void *arg) {
  begin_drain(arg);
}

/* ---- flags ----------------------------------------------------------------------------------- */

static int parse_mix(const char *text, struct sim_fleet_config *cfg) {
  cfg->n_mix = 0;
  if (!text || strcmp(text, "all") == 0) {
    for (size_t i = 0; i < sim_model_count() && i < SIM_FLEET_MAX_MIX; i++) {
      cfg->mix_model[cfg->n_mix] = (uint16_t)i;
      cfg->mix_weight[cfg->n_mix++] = 1;
    }
    return cfg->n_mix ? 0 : SIM_EINVAL;
  }
  char buf[1024];
  if (snprintf(buf, sizeof(buf), "%s", text) >= (int)sizeof(buf))
    return SIM_EINVAL;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char *colon = strrchr(tok, ':');
    double w = 1;
    if (colon) {
      *colon = 0;
      if (app_parse_double(colon + 1, 0, 1e9, &w))
        return SIM_EINVAL;
    }
    int idx = sim_model_find(tok);
    if (idx < 0) {
      fprintf(stderr, "hubsim run: --mix: unknown device model '%s' (known:", tok);
      for (size_t i = 0; i < sim_model_count(); i++)
        fprintf(stderr, " %s", sim_model_get((uint16_t)i)->model_id);
      fprintf(stderr, ")\n");
      return SIM_ENOTFOUND;
    }
    if (cfg->n_mix >= SIM_FLEET_MAX_MIX)
      return SIM_EINVAL;
    cfg->mix_model[cfg->n_mix] = (uint16_t)idx;
    cfg->mix_weight[cfg->n_mix++] = w;
  }
  double sum = 0;
  for (size_t i = 0; i < cfg->n_mix; i++)
    sum += cfg->mix_weight[i];
  return cfg->n_mix && sum > 0 ? 0 : SIM_EINVAL;
}

static int parse_bind(const char *text, struct sim_fleet_config *cfg) {
  char buf[1024];
  if (snprintf(buf, sizeof(buf), "%s", text) >= (int)sizeof(buf))
    return SIM_EINVAL;
  cfg->n_bind = 0;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char *dash = strchr(tok, '-');
    struct in_addr a, b;
    if (dash)
      *dash = 0;
    if (inet_pton(AF_INET, tok, &a) != 1)
      return SIM_EINVAL;
    b = a;
    if (dash && inet_pton(AF_INET, dash + 1, &b) != 1)
      return SIM_EINVAL;
    uint32_t lo = ntohl(a.s_addr), hi = ntohl(b.s_addr);
    if (hi < lo || hi - lo >= SIM_FLEET_MAX_BIND)
      return SIM_EINVAL;
    for (uint32_t x = lo; x <= hi; x++) {
      if (cfg->n_bind >= SIM_FLEET_MAX_BIND)
        return SIM_EINVAL;
      struct in_addr o = {htonl(x)};
      inet_ntop(AF_INET, &o, cfg->bind[cfg->n_bind].host, sizeof(cfg->bind[0].host));
      cfg->bind[cfg->n_bind++].port = 0;
    }
  }
  return cfg->n_bind ? 0 : SIM_EINVAL;
}

/* Raises the soft open-file limit to the hard one and returns it (0 when unknown). */
static uint64_t nofile_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
}

static int bad(const char *flag, const char *value, const char *why) {
  if (value && *value)
    fprintf(stderr, "hubsim run: %s '%s': %s (see hubsim run --help)\n", flag, value, why);
  else
    fprintf(stderr, "hubsim run: %s: %s (see hubsim run --help)\n", flag, why);
  return 2;
}

/* An output file (--summary, --junit, --screenshot) that can be written: no longer than its
 * writer takes (max_len), and what sim_wfile_check() says of its folder, checked before the run
 * rather than found out at its end. NULL, or why not. */
static const char *output_problem(const char *path, size_t max_len) {
  static char why[256];
  if (strlen(path) > max_len) {
    snprintf(why, sizeof why, "path longer than %zu bytes", max_len);
    return why;
  }
  return sim_wfile_check(path, why, sizeof why) ? why : NULL;
}

/* Two output paths naming one file: the same text, or an existing file seen twice. */
static int same_file(const char *a, const char *b) {
  struct stat sa, sb;
  if (strcmp(a, b) == 0)
    return 1;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* --platform: a hubrpc:// URL (or HOST:PORT) with an IPv4 host and a port. hubrpcs:// is
 * refused outright: TLS is not built, and connecting in plaintext to a URL that asks for TLS
 * would send the hubs' traffic in the clear. Names are refused because the tcp transport does
 * not resolve them: the run would only fail later, blaming the platform. 0, or 2 after the
 * message. */
static int check_platform_url(const char *url) {
  struct sim_addr a;
  struct in_addr ip;
  if (strncasecmp(url, "hubrpcs://", 10) == 0)
    return bad("--platform", url,
               "hubrpcs:// (hubrpc over TLS) is not built yet, and hubsim will not speak "
               "plaintext to a TLS URL; use hubrpc:// or a TLS terminator in front of the "
               "platform");
  const char *sep = strstr(url, "://");
  if (sep && !(sep - url == 6 && strncasecmp(url, "hubrpc", 6) == 0))
    return bad("--platform", url, "expected hubrpc://HOST:PORT (the only scheme hubsim speaks)");
  if (sim_addr_parse(url, &a) || a.port == 0)
    return bad("--platform", url, "expected hubrpc://HOST:PORT with a port from 1 to 65535");
  if (inet_pton(AF_INET, a.host, &ip) != 1)
    return bad("--platform", url,
               "HOST must be an IPv4 address such as 127.0.0.1 (names are not resolved)");
  return 0;
}

/* The fleet key when no flag gives it: HUBSIM_FLEET_KEY, kept off the command line. NULL when
 * unset; exits through *rc = 2 when set but unusable. */
static const char *env_key(int *rc) {
  const char *k = getenv("HUBSIM_FLEET_KEY");
  *rc = 0;
  if (!k)
    return NULL;
  if (!*k || strlen(k) > APP_KEY_MAX) {
    fprintf(stderr, "hubsim run: HUBSIM_FLEET_KEY: expected 1 to %d bytes (it is %s)\n",
            APP_KEY_MAX, *k ? "longer" : "empty");
    *rc = 2;
  }
  return k;
}

int app_run_main(int argc, char **argv) {
  static const struct option longopts[] = {{"platform", required_argument, 0, 'P'},
                                           {"hubs", required_argument, 0, 'H'},
                                           {"devices-per-hub", required_argument, 0, 'D'},
                                           {"mix", required_argument, 0, 'M'},
                                           {"duration", required_argument, 0, 'd'},
                                           {"seed", required_argument, 0, 'S'},
                                           {"ramp", required_argument, 0, 'R'},
                                           {"fleet-key", required_argument, 0, 'K'},
                                           {"fleet-key-file", required_argument, 0, 'F'},
                                           {"queue-max", required_argument, 0, 'Q'},
                                           {"bind", required_argument, 0, 'B'},
                                           {"summary", required_argument, 0, 'O'},
                                           {"drain", required_argument, 0, 'r'},
                                           {"max-lag", required_argument, 0, 'L'},
                                           {"allow-lag", no_argument, 0, 'A'},
                                           {"command-rate", required_argument, 0, 'C'},
                                           {"db", required_argument, 0, 'b'},
                                           {"ui", required_argument, 0, 'U'},
                                           {"workers", required_argument, 0, 'w'},
                                           {"worker", required_argument, 0, 'k'},
                                           {"speedup", required_argument, 0, 'X'},
                                           {"warmup", required_argument, 0, 'W'},
                                           {"catalog", required_argument, 0, 'c'},
                                           {"hub-model", required_argument, 0, 'g'},
                                           {"radio-hops", required_argument, 0, 'j'},
                                           {"radio-delay", required_argument, 0, 'y'},
                                           {"radio-loss", required_argument, 0, 'l'},
                                           {"sleepy-hold", required_argument, 0, 'Y'},
                                           {"clock", required_argument, 0, 'T'},
                                           {"junit", required_argument, 0, 'J'},
                                           {"platform-admin", required_argument, 0, 'a'},
                                           {"screenshot", required_argument, 0, 'z'},
                                           {"after", required_argument, 0, 'Z'},
                                           {"exit-after-screenshot", no_argument, 0, 'x'},
                                           {"quiet", no_argument, 0, 'q'},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  struct run_opts o = {.hubs = 100,
                       .dph = 8,
                       .seed = 1,
                       .duration_s = 20,
                       .ramp = 0,
                       .drain_s = 10,
                       .max_lag_ms = 50,
                       .command_rate = 5,
                       .speedup = 1,
                       .key = DEFAULT_KEY,
                       .queue_max = 4096,
                       .workers = 1,
                       .shards = 1,
                       .radio_hops = 1,
                       .sleepy_hold_s = 3600,
                       .ui = RUN_UI_DEFAULT};
  int c;
  /* A file size limit (RLIMIT_FSIZE) would kill the run, its embedded platform with it, by
   * SIGXFSZ at the first write beyond it: ignored, that write fails (EFBIG) and is reported. */
  signal(SIGXFSZ, SIG_IGN);
  optind = 1;
  opterr = 0;
  /* Every flag once: a second value would silently replace the first (or, for a flag without
   * a value, mean nothing), which hides a mistake in a long command line. --catalog repeats. */
  unsigned char seen[128] = {0};
  while ((c = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
    if (c > 0 && c < 128 && c != 'c' && c != 'h' && c != ':' && c != '?' && seen[c]++) {
      char name[40] = "-?";
      for (const struct option *lo = longopts; lo->name; lo++)
        if (lo->val == c)
          snprintf(name, sizeof name, "--%s", lo->name);
      return bad(name, c == 'K' ? "..." : optarg ? optarg : "", "given twice");
    }
    switch (c) {
    case 'P':
      if (check_platform_url(optarg))
        return 2;
      o.platform = optarg;
      break;
    case 'H':
      if (app_parse_u64(optarg, 1, 0xFFFFFF, &o.hubs))
        return bad("--hubs", optarg, "expected a whole number from 1 to 16777215");
      o.set |= RUN_SET_HUBS;
      break;
    case 'D':
      if (app_parse_u64(optarg, 1, 65535, &o.dph))
        return bad("--devices-per-hub", optarg, "expected a whole number from 1 to 65535");
      o.set |= RUN_SET_DPH;
      break;
    case 'M':
      o.mix = optarg;
      o.set |= RUN_SET_MIX;
      break;
    case 'd':
      if (app_parse_duration(optarg, 1, APP_DURATION_MAX_S, &o.duration_s) || o.duration_s < 0.001)
        return bad("--duration", optarg,
                   "expected a duration from 1ms to 365d such as 30s, 5m or 2h");
      o.set |= RUN_SET_DURATION;
      break;
    case 'S':
      if (app_parse_u64(optarg, 0, UINT64_MAX, &o.seed))
        return bad("--seed", optarg, "expected a whole number");
      o.set |= RUN_SET_SEED;
      break;
    case 'R':
      if (app_parse_double(optarg, 0, 1e7, &o.ramp))
        return bad("--ramp", optarg, "expected hubs per second, 0 or more");
      o.set |= RUN_SET_RAMP;
      break;
    case 'K':
      if (!*optarg || strlen(optarg) > APP_KEY_MAX)
        return bad("--fleet-key", "...", "expected 1 to 128 bytes");
      o.key = optarg;
      o.set |= RUN_SET_KEY;
      break;
    case 'F':
      o.key_file = optarg;
      break;
    case 'Q':
      if (app_parse_u64(optarg, 1, 1048576, &o.queue_max))
        return bad("--queue-max", optarg, "expected a whole number from 1 to 1048576");
      break;
    case 'B':
      o.bind = optarg;
      break;
    case 'O':
      o.summary = optarg;
      break;
    case 'r':
      if (app_parse_duration(optarg, 1, APP_DURATION_MAX_S, &o.drain_s))
        return bad("--drain", optarg, "expected a duration from 0s to 365d such as 10s");
      break;
    case 'L': {
      double sec;
      if (app_parse_duration(optarg, 0.001, 10000, &sec))
        return bad("--max-lag", optarg,
                   "expected milliseconds from 0 to 10000000 (a plain number, or 50ms, 0.1s)");
      o.max_lag_ms = sec * 1000;
      break;
    }
    case 'A':
      o.allow_lag = 1;
      break;
    case 'C':
      if (app_parse_double(optarg, 0, 1e6, &o.command_rate))
        return bad("--command-rate", optarg, "expected commands per second, 0 or more");
      break;
    case 'b':
      o.db = optarg;
      break;
    case 'U':
      if (strcmp(optarg, "none") == 0)
        o.ui = RUN_UI_NONE;
      else if (strcmp(optarg, "tui") == 0)
        o.ui = RUN_UI_TUI;
      else if (strcmp(optarg, "gui") == 0)
        o.ui = RUN_UI_GUI;
      else
        return bad("--ui", optarg, "expected none, tui (terminal) or gui (SDL2 window)");
      break;
    case 'z':
      o.screenshot = optarg;
      break;
    case 'Z':
      if (app_parse_duration(optarg, 1, APP_DURATION_MAX_S, &o.screenshot_after_s))
        return bad("--after", optarg, "expected a duration from 0s to 365d such as 10s");
      break;
    case 'x':
      o.exit_after_screenshot = 1;
      break;
    case 'w':
      if (app_parse_u64(optarg, 1, 256, &o.workers))
        return bad("--workers", optarg, "expected a whole number from 1 to 256");
      break;
    case 'k': {
      unsigned k, n;
      char tail;
      if (sscanf(optarg, "%u/%u%c", &k, &n, &tail) != 2 || n < 2 || n > 256 || k >= n)
        return bad("--worker", optarg, "expected K/N with 0 <= K < N <= 256 (internal flag)");
      o.shard = k;
      o.shards = n;
      o.quiet = 1;
      break;
    }
    case 'W':
      if (app_parse_duration(optarg, 1, APP_DURATION_MAX_S, &o.warmup_s))
        return bad("--warmup", optarg, "expected a duration from 0s to 365d such as 10s");
      break;
    case 'X':
      if (app_parse_double(optarg, 0.001, 1e6, &o.speedup))
        return bad("--speedup", optarg, "expected a factor from 0.001 to 1000000");
      o.set |= RUN_SET_SPEEDUP;
      break;
    case 'c':
      if (o.n_catalog == sizeof(o.catalog) / sizeof(o.catalog[0]))
        return bad("--catalog", optarg, "at most 8 catalogue directories");
      o.catalog[o.n_catalog++] = optarg;
      break;
    case 'g':
      o.hub_model = optarg;
      o.set |= RUN_SET_HUB_MODEL;
      break;
    case 'T':
      if (strcmp(optarg, "virtual") == 0)
        o.clock_virtual = 1;
      else if (strcmp(optarg, "real") == 0)
        o.clock_virtual = 0;
      else
        return bad("--clock", optarg, "expected real or virtual");
      o.set |= RUN_SET_CLOCK;
      break;
    case 'J':
      o.junit = optarg;
      break;
    case 'a': {
      struct sim_addr aa;
      struct in_addr ip;
      if (strstr(optarg, "://") || sim_addr_parse(optarg, &aa) || aa.port == 0 ||
          inet_pton(AF_INET, aa.host, &ip) != 1)
        return bad("--platform-admin", optarg, "expected HOST:PORT with an IPv4 HOST and a port");
      o.platform_admin = optarg;
      break;
    }
    case 'j':
      if (app_parse_u64(optarg, 1, 16, &o.radio_hops))
        return bad("--radio-hops", optarg, "expected a whole number from 1 to 16");
      break;
    case 'y': {
      double sec;
      if (app_parse_duration(optarg, 0.001, 10, &sec))
        return bad("--radio-delay", optarg,
                   "expected milliseconds from 0 to 10000 (a plain number, or 15ms, 0.5s)");
      o.radio_delay_ms = sec * 1000;
      break;
    }
    case 'l':
      if (app_parse_double(optarg, 0, 0.99, &o.radio_loss))
        return bad("--radio-loss", optarg, "expected a probability from 0 to 0.99");
      break;
    case 'Y':
      if (app_parse_duration(optarg, 1, APP_DURATION_MAX_S, &o.sleepy_hold_s) ||
          o.sleepy_hold_s < 0.001)
        return bad("--sleepy-hold", optarg, "expected a duration from 1ms to 365d such as 10m");
      break;
    case 'q':
      o.quiet = 1;
      break;
    case 'h':
      run_usage(stdout);
      return 0;
    case ':':
      fprintf(stderr, "hubsim run: %s needs a value (see hubsim run --help)\n", argv[optind - 1]);
      return 2;
    default:
      fprintf(stderr, "hubsim run: unknown flag '%s' (see hubsim run --help)\n", argv[optind - 1]);
      return 2;
    }
  }
  if (optind < argc)
    o.scenario = argv[optind++];
  if (o.ui == RUN_UI_DEFAULT)
    o.ui = o.shards <= 1 && o.workers <= 1 && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO) &&
                   getenv("TERM") && strcmp(getenv("TERM"), "dumb") != 0
               ? RUN_UI_TUI
               : RUN_UI_NONE;
  if (o.ui >= RUN_UI_TUI && (o.workers > 1 || o.shards > 1))
    return bad("--ui", o.ui == RUN_UI_TUI ? "tui" : "gui",
               "the dashboard needs the fleet in this process (no --workers)");
  if ((o.screenshot || o.exit_after_screenshot) && o.ui != RUN_UI_GUI)
    return bad("--screenshot", o.screenshot ? o.screenshot : "", "needs --ui gui");
  if (o.exit_after_screenshot && !o.screenshot)
    return bad("--exit-after-screenshot", "", "needs --screenshot FILE.png");
  if (o.ui == RUN_UI_TUI && !isatty(STDOUT_FILENO))
    return bad("--ui", "tui", "standard output is not a terminal");
  if (o.ui == RUN_UI_TUI)
    o.quiet = 1; /* progress lines would garble the dashboard */
  if (!o.scenario && o.workers <= 1 && o.shards <= 1 &&
      !(o.set & (RUN_SET_HUBS | RUN_SET_DPH | RUN_SET_MIX | RUN_SET_DURATION))) {
    /* Nothing says what to run: the demo scenario of the library, when this build has it. */
    char p[64];
    const char *t;
    size_t n;
    if (app_builtin_scenario("demo", p, sizeof p, &t, &n) == 0)
      o.scenario = "demo";
  }
  if (optind < argc) {
    fprintf(stderr,
            "hubsim run: unexpected argument '%s': one scenario at most (see hubsim run "
            "--help)\n",
            argv[optind]);
    return 2;
  }

  if (o.workers > 1 && o.shards > 1)
    return bad("--workers", "", "a worker does not start workers of its own");
  if (o.shards > 1 && !o.platform)
    return bad("--worker", "", "needs --platform (the control process passes it)");
  /* Flags that make no sense together: refused here rather than ignored during the run. */
  if (o.db && o.platform)
    return bad("--db", o.db,
               "keeps the embedded platform's store; with --platform there is no embedded "
               "platform (the platform under test keeps its own)");
  if (seen['C'] && o.platform)
    return bad("--command-rate", "",
               "drives the embedded platform; with --platform send commands through the "
               "platform under test (or a scenario with --platform-admin)");
  if (o.platform_admin && !o.platform)
    return bad("--platform-admin", o.platform_admin,
               "needs --platform: the embedded platform's operations are built in");
  if (seen['Z'] && !o.screenshot)
    return bad("--after", "", "says when to take the --screenshot; there is none");
  {
    const struct {
      const char *flag, *path;
      size_t max;
    } outs[] = {{"--summary", o.summary, PATH_MAX - 32},
                {"--junit", o.junit, PATH_MAX - 32},
                {"--screenshot", o.screenshot, 500}};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
      const char *why = outs[i].path ? output_problem(outs[i].path, outs[i].max) : NULL;
      if (why)
        return bad(outs[i].flag, outs[i].path, why);
    }
  }
  if (o.summary && o.junit && same_file(o.summary, o.junit))
    return bad("--junit", o.junit, "is the --summary file too: one would overwrite the other");

  /* Where the fleet key comes from: --fleet-key (visible in ps), --fleet-key-file or
   * HUBSIM_FLEET_KEY; a worker gets it from its control process on fd 4. */
  static char keybuf[APP_KEY_MAX + 1];
  if (o.key_file && (o.set & RUN_SET_KEY))
    return bad("--fleet-key-file", o.key_file,
               "give the key once: --fleet-key or --fleet-key-file, not both");
  if (o.key_file) {
    size_t kl = 0;
    const char *why;
    if (sim_keyfile_read(o.key_file, (uint8_t *)keybuf, APP_KEY_MAX, &kl, &why)) {
      fprintf(stderr, "hubsim run: --fleet-key-file '%s': %s%s\n", o.key_file, why,
              strstr(why, "longer") ? " (at most 128 bytes)" : "");
      return 2;
    }
    keybuf[kl] = '\0';
    o.key = keybuf;
    o.set |= RUN_SET_KEY;
  } else if (!(o.set & RUN_SET_KEY)) {
    int erc;
    const char *k = env_key(&erc);
    if (erc)
      return erc;
    if (k) {
      o.key = k;
      o.set |= RUN_SET_KEY;
    }
  }
  if (o.shards > 1) {
    size_t kl = 0;
    int krc = app_worker_read_key(keybuf, APP_KEY_MAX, &kl);
    if (krc == 0) {
      keybuf[kl] = '\0';
      o.key = keybuf;
      o.set |= RUN_SET_KEY;
    } else if (krc != SIM_ENOTFOUND) {
      fprintf(stderr, "hubsim run: worker: cannot read the fleet key on fd 4: %s\n",
              sim_strerror(krc));
      return 2;
    }
  }
  struct dev_cat_error cerr;
  int rc = dev_cat_global_init(o.catalog, o.n_catalog, &cerr);
  if (rc < 0) {
    if (cerr.line > 0)
      fprintf(stderr, "hubsim run: %s:%d: %s\n", cerr.file, cerr.line, cerr.reason);
    else
      fprintf(stderr, "hubsim run: %s: %s\n", cerr.file, cerr.reason);
    return 2;
  }
  /* The scenario: its declarations are defaults that explicit flags override. */
  static struct scn *scn;
  scn = NULL;
  if (o.scenario) {
    struct scn_limits lim;
    struct scn_error serr;
    scn_limits_default(&lim);
    char path[PATH_MAX];
    const char *text = NULL;
    size_t text_len = 0;
    if (app_builtin_scenario(o.scenario, path, sizeof path, &text, &text_len) != 0)
      snprintf(path, sizeof path, "%s", o.scenario);
    if (scn_load(path, text, text_len, &lim, &scn, &serr)) {
      if (serr.line > 0)
        fprintf(stderr, "hubsim run: %s:%d: %s\n", serr.file, serr.line, serr.message);
      else
        fprintf(stderr, "hubsim run: %s: %s\n", serr.file[0] ? serr.file : path, serr.message);
      return 2;
    }
    const struct scn_config *sc = scn_config(scn);
    if (sc->has_fleet) {
      if (!(o.set & RUN_SET_HUBS) && sc->hubs)
        o.hubs = sc->hubs;
      if (!(o.set & RUN_SET_DPH))
        o.dph = sc->dph_kind == SCN_DPH_FIXED ? sc->dph : sc->dph_max;
      if (!(o.set & RUN_SET_MIX) && sc->mix)
        o.mix = sc->mix;
      if (!(o.set & RUN_SET_HUB_MODEL) && sc->hub_model)
        o.hub_model = sc->hub_model;
      if (!(o.set & RUN_SET_KEY) && sc->fleet_key) {
        /* The key is copied into the fleet's 128 bytes: a script's longer key is refused. */
        if (!*sc->fleet_key || strlen(sc->fleet_key) > APP_KEY_MAX) {
          fprintf(stderr, "hubsim run: %s: fleet{key = ...}: expected 1 to %d bytes\n", path,
                  APP_KEY_MAX);
          scn_free(scn);
          return 2;
        }
        o.key = sc->fleet_key;
      }
    }
    if (!(o.set & RUN_SET_DURATION) && sc->duration_s > 0)
      o.duration_s = sc->duration_s;
    if (!(o.set & RUN_SET_RAMP) && sc->ramp >= 0)
      o.ramp = sc->ramp;
    if (!(o.set & RUN_SET_SEED) && sc->seed)
      o.seed = sc->seed;
    if (!(o.set & RUN_SET_SPEEDUP) && sc->speedup > 0)
      o.speedup = sc->speedup;
    if (!(o.set & RUN_SET_CLOCK) && sc->clock_virtual >= 0)
      o.clock_virtual = sc->clock_virtual;
    if (o.workers > 1 || o.shards > 1) {
      scn_free(scn);
      return bad("--workers", "", "a scenario runs its fleet in one process in this version");
    }
  }
  if (o.clock_virtual && (o.platform || o.workers > 1)) {
    if (scn)
      scn_free(scn);
    return bad("--clock", "virtual",
               "needs the embedded platform in this process (no --platform, "
               "no --workers)");
  }
  /* Checks that need the scenario's values (its duration, its fleet). */
  {
    char why[200] = "";
    const char *flag = NULL, *val = "";
    if (o.bind && o.clock_virtual) {
      flag = "--bind";
      val = o.bind;
      snprintf(why, sizeof why,
               "sets source addresses of tcp connections; the virtual clock has none");
    } else if (o.warmup_s > 0 && o.warmup_s >= o.duration_s) {
      flag = "--warmup";
      snprintf(why, sizeof why,
               "%g s is not shorter than the run (%g s): no latency would be measured", o.warmup_s,
               o.duration_s);
    } else if (o.screenshot && o.screenshot_after_s > o.duration_s) {
      flag = "--after";
      snprintf(why, sizeof why,
               "%g s is after the end of the run (%g s): the screenshot would never be taken",
               o.screenshot_after_s, o.duration_s);
    } else if ((double)o.hubs * (double)o.dph > 1e9) {
      flag = "--hubs";
      snprintf(why, sizeof why,
               "%" PRIu64 " hubs x %" PRIu64
               " devices is above 1,000,000,000 devices (--devices-per-hub)",
               o.hubs, o.dph);
    } else if (o.workers > 1 && o.workers > o.hubs) {
      flag = "--workers";
      snprintf(why, sizeof why, "%" PRIu64 " processes for %" PRIu64 " hubs: some would hold none",
               o.workers, o.hubs);
    }
    if (flag) {
      if (scn)
        scn_free(scn);
      return bad(flag, val, why);
    }
  }
  const struct dev_cat_hub *dflt = dev_cat_default_hub(dev_cat_global());
  const char *hub_id = o.hub_model ? o.hub_model : dflt ? dflt->model_id : "(no default)";
  const struct dev_cat_hub *hub = dev_cat_find_hub(dev_cat_global(), hub_id);
  if (!hub)
    return bad("--hub-model", hub_id, "unknown hub model (see hubsim devices list)");
  if (o.dph > hub->max_devices) {
    char why[160];
    snprintf(why, sizeof why, "%s accepts at most %u devices (choose another --hub-model)",
             hub->model_id, hub->max_devices);
    char v[32];
    snprintf(v, sizeof v, "%" PRIu64, o.dph);
    return bad("--devices-per-hub", v, why);
  }
  static struct sim_fleet_config cfg;
  sim_fleet_config_default(&cfg);
  cfg.hubs = (uint32_t)o.hubs;
  cfg.queue_max = (uint32_t)o.queue_max;
  cfg.devices_per_hub = (uint32_t)o.dph;
  cfg.seed = o.seed;
  cfg.ramp = o.ramp;
  cfg.speedup = o.speedup;
  cfg.shard = o.shard;
  cfg.shards = o.shards;
  cfg.warmup = (sim_time_t)(o.warmup_s * 1e6);
  cfg.hub_model = hub->model_id;
  cfg.hub_firmware = hub->firmware;
  cfg.radio_hops = (uint32_t)o.radio_hops;
  cfg.radio_hop_delay = (sim_time_t)(o.radio_delay_ms * 1000);
  cfg.radio_loss = o.radio_loss;
  cfg.sleepy_hold = (sim_time_t)(o.sleepy_hold_s * 1e6);
  if (scn) {
    const struct scn_config *sc = scn_config(scn);
    if (sc->has_fleet && sc->prefix)
      snprintf(cfg.hub_prefix, sizeof cfg.hub_prefix, "%s", sc->prefix);
    if (sc->has_fleet && sc->dph_kind != SCN_DPH_FIXED && !(o.set & RUN_SET_DPH)) {
      dph_scn = scn;
      dph_seed = o.seed;
      cfg.devices_of_hub = devices_of_hub;
    }
  }
  memcpy(cfg.fleet_key, o.key, strlen(o.key));
  cfg.fleet_key_len = strlen(o.key);
  rc = parse_mix(o.mix, &cfg);
  if (rc == SIM_ENOTFOUND)
    return 2;
  if (rc)
    return bad("--mix", o.mix, "expected MODEL[:WEIGHT],... with positive weights");
  if (o.bind && parse_bind(o.bind, &cfg))
    return bad("--bind", o.bind, "expected IPv4 addresses or ranges A-B (at most 256)");

  if (o.clock_virtual) {
    static struct sim_fleet_stats fin;
    struct run_outcome oc;
    memset(&oc, 0, sizeof oc);
    oc.st = &fin;
    int ec = 0;
    /* The virtual clock starts at 2026-01-01T00:00:00Z whatever the date: the summary of a
     * virtual run depends on its inputs only. */
    const char *started_v = "2026-01-01T00:00:00Z";
    if (!o.quiet)
      fprintf(stderr,
              "hubsim run: %u hubs x %u devices against the embedded reference platform, virtual "
              "clock, %.0f s, seed %" PRIu64 "%s%s\n",
              cfg.hubs, cfg.devices_per_hub, o.duration_s, o.seed, scn ? ", scenario " : "",
              scn ? scn_config(scn)->name : "");
    static struct app_ui vui;
    memset(&vui, 0, sizeof vui);
    vui.seed = o.seed;
    vui.platform = "embedded reference platform (virtual clock)";
    vui.duration_s = o.duration_s;
    vui.speed = 10; /* with a dashboard, ten simulated seconds a second (+/- change it) */
    vui.start = o.ui == RUN_UI_GUI ? gui_start : tui_start;
    vui.stop = o.ui == RUN_UI_GUI ? gui_stop : tui_stop;
    gui_opts = &o;
    app_run_virtual(&o, &cfg, scn, o.ui >= RUN_UI_TUI ? &vui : NULL, &oc, &ec);
    if (oc.runtime_failed && !oc.st->hubs) {
      if (scn)
        scn_free(scn);
      return 3;
    }
    fill_platform_view(&oc.pv, &oc.pc_raw);
    oc.pv.present = 1;
    struct rec_run_info vinfo = {.platform_url = "embedded reference platform (virtual clock)",
                                 .seed = o.seed,
                                 .duration_s = o.duration_s,
                                 .elapsed_s = oc.virtual_s,
                                 .ramp = o.ramp,
                                 .mix = o.mix ? o.mix : "all",
                                 .devices_per_hub = cfg.devices_per_hub,
                                 .max_lag_ms = o.max_lag_ms,
                                 .started_at = started_v,
                                 .cpu_user_s = oc.cpu_user_s,
                                 .cpu_sys_s = oc.cpu_sys_s,
                                 .platform_in_process = 1,
                                 .workers = 1,
                                 .speedup = o.speedup,
                                 .drain_s = o.drain_s,
                                 .queue_max = cfg.queue_max,
                                 .allow_lag = o.allow_lag,
                                 .warmup_s = o.warmup_s,
                                 .interrupted = oc.interrupted};
    struct rusage vru;
    if (getrusage(RUSAGE_SELF, &vru) == 0)
      vinfo.max_rss_bytes = (uint64_t)vru.ru_maxrss * 1024u;
    int code = report_run(&o, scn, &oc, &vinfo, NULL, 1);
    if (scn)
      scn_free(scn);
    return code;
  }

  struct embedded emb;
  int embedded = !o.platform;
  /* One socket per hub, and as many again for an embedded platform in this process: refuse a
   * fleet that cannot fit rather than fail its connects one by one. */
  uint64_t limit = nofile_limit();
  uint64_t here = o.workers > 1 ? 0 : (o.hubs + o.shards - 1) / o.shards;
  uint64_t need = here + (embedded ? o.hubs : 0u) + 64u;
  uint64_t per_worker = o.workers > 1 ? (o.hubs + o.workers - 1) / o.workers + 64u : 0;
  if (limit && per_worker > limit) {
    fprintf(stderr,
            "hubsim run: --hubs %" PRIu64 " over --workers %" PRIu64 " needs about %" PRIu64
            " open files in each worker, but a process may open %" PRIu64
            " (ulimit -n): use more workers.\n",
            o.hubs, o.workers, per_worker, limit);
    return 3;
  }
  if (limit && need > limit) {
    fprintf(stderr,
            "hubsim run: --hubs %" PRIu64 " needs about %" PRIu64 " open files (one socket per "
            "hub%s) but this process may open %" PRIu64 " (ulimit -n).\n"
            "  Run fewer hubs per process%s.\n",
            o.hubs, need, embedded ? ", and one per hub for the embedded platform" : "", limit,
            embedded ? ", or start the platform as its own process (hubsim platform) and pass "
                       "--platform"
                     : "");
    return 3;
  }
  char url[128];
  if (embedded) {
    rc = emb_start(&emb, &o);
    if (rc) {
      fprintf(stderr, "hubsim run: cannot start the embedded platform: %s\n", sim_strerror(rc));
      return 3;
    }
    snprintf(cfg.platform.host, sizeof(cfg.platform.host), "127.0.0.1");
    cfg.platform.port = emb.port;
    snprintf(url, sizeof(url), "embedded reference platform at hubrpc://127.0.0.1:%u", emb.port);
  } else {
    if (sim_addr_parse(o.platform, &cfg.platform) || cfg.platform.port == 0)
      return bad("--platform", o.platform, "expected hubrpc://HOST:PORT");
    snprintf(url, sizeof(url), "%s", o.platform);
  }

  static struct run r;
  static struct sim_fleet_stats s1, s2;
  memset(&r, 0, sizeof(r));
  r.o = o;
  r.prev = &s1;
  r.cur = &s2;
  r.loop = uv_default_loop();
  if (o.workers > 1) {
    /* The fleet runs in the workers; this process keeps the platform (when embedded), the
     * progress and the summary. */
    static char purl[96];
    snprintf(purl, sizeof(purl), "hubrpc://%s:%u", cfg.platform.host, cfg.platform.port);
    size_t len = sizeof(WA.exe);
    WA.o = &r.o;
    WA.platform = purl;
    rc = uv_exepath(WA.exe, &len);
  } else {
    rc = sim_transport_tcp_new(r.loop, &r.t);
    if (rc == 0)
      rc = sim_fleet_new(r.loop, r.t, &cfg, &r.fleet);
  }
  if (rc) {
    fprintf(stderr, "hubsim run: cannot create the fleet: %s\n", sim_strerror(rc));
    if (embedded)
      emb_stop(&emb);
    return 3;
  }
  char started[32];
  time_t now = time(NULL);
  strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  if (!o.quiet)
    fprintf(stderr, "hubsim run: %u hubs x %u devices against %s, %.0f s, seed %" PRIu64 "\n",
            cfg.hubs, cfg.devices_per_hub, url, o.duration_s, o.seed);
  r.start_ns = uv_hrtime();
  if (o.workers > 1) {
    rc = app_workers_start(r.loop, (int)o.workers, worker_argv, &r, o.key, strlen(o.key),
                           workers_done, &r.workers);
    if (rc)
      fprintf(stderr, "hubsim run: cannot start the workers: %s\n", sim_strerror(rc));
  }
  snapshot(&r, r.prev);
  uv_timer_init(r.loop, &r.progress);
  uv_timer_init(r.loop, &r.end);
  uv_timer_init(r.loop, &r.drain);
  uv_timer_init(r.loop, &r.escalate);
  uv_signal_init(r.loop, &r.sigint);
  uv_signal_init(r.loop, &r.sigterm);
  r.progress.data = r.end.data = r.drain.data = r.escalate.data = r.sigint.data = r.sigterm.data =
      &r;
  uv_timer_start(&r.progress, on_progress, 1000, 1000);
  if (!r.workers)
    uv_timer_start(&r.end, on_end, (uint64_t)(o.duration_s * 1000), 0);
  uv_signal_start(&r.sigint, on_signal, SIGINT);
  uv_signal_start(&r.sigterm, on_signal, SIGTERM);
  signal(SIGPIPE, SIG_IGN);
  /* The platform's operations, for the scenario and the UI's commands. */
  struct scn_platform_ops ops;
  memset(&ops, 0, sizeof ops);
  if (embedded) {
    ops.arg = &emb;
    ops.command = emb_command;
    ops.rule_add = emb_rule_add;
    ops.timer_add = emb_timer_add;
    ops.metric = emb_metric;
  }
  /* An external platform offers them through its admin lines (--platform-admin); without it
   * the script's platform calls fail with a message that says so. */
  static struct app_admin admin;
  if (!embedded && o.platform_admin) {
    if (app_admin_init(&admin, o.platform_admin))
      fprintf(stderr, "hubsim run: --platform-admin '%s': expected HOST:PORT\n", o.platform_admin);
    else
      app_admin_ops(&admin, &ops);
  }
  if (scn) {
    struct scn_error serr;
    scn_set_seed(scn, o.seed);
    if (scn_start(scn, r.fleet, &ops, &serr)) {
      fprintf(stderr, "hubsim run: %s:%d: %s\n", serr.file, serr.line, serr.message);
      r.script_failed = 1;
      scn_stop(scn);
      begin_drain(&r);
    } else {
      r.scn = scn;
    }
  }
  if (o.ui >= RUN_UI_TUI && r.fleet) {
    static struct app_ui ui;
    memset(&ui, 0, sizeof ui);
    ui.loop = r.loop;
    ui.fleet = r.fleet;
    ui.scn = r.scn;
    ui.ops = ops;
    ui.seed = o.seed;
    ui.platform = url;
    ui.duration_s = o.duration_s;
    ui.on_quit = ui_quit_real;
    ui.on_quit_arg = &r;
    ui.start = o.ui == RUN_UI_GUI ? gui_start : tui_start;
    ui.stop = o.ui == RUN_UI_GUI ? gui_stop : tui_stop;
    gui_opts = &o;
    app_ui_init(&ui);
    if (ui.start(&ui))
      fprintf(stderr, "hubsim run: --ui %s: cannot open the dashboard; running headless\n",
              o.ui == RUN_UI_GUI ? "gui (is there a display, or SDL_VIDEODRIVER=offscreen?)"
                                 : "tui");
    else
      r.ui = &ui;
  }
  if (r.fleet)
    sim_fleet_start(r.fleet);
  uv_run(r.loop, UV_RUN_DEFAULT);

  if (o.shards > 1) {
    /* A worker: its figures went to the control process, which judges the run. */
    sim_fleet_free(r.fleet);
    sim_transport_free(r.t);
    uv_loop_close(r.loop);
    return 0;
  }
  int worker_failed = -1, worker_status = 0;
  if (r.workers) {
    app_workers_merged(r.workers, r.cur, &r.cpu_user_s, &r.cpu_sys_s, &r.workers_rss);
    worker_failed = app_workers_failed(r.workers, &worker_status);
  }

  struct rec_platform_view pv = {0};
  if (embedded) {
    emb_stop(&emb);
    pv.present = 1;
    pv.reports_stored = emb.final.reports_committed;
    pv.duplicates = emb.final.seq_duplicate;
    pv.joined = emb.final.joined;
    pv.commands_sent = emb.final.commands_sent;
    pv.commands_ok = emb.final.commands_ok;
    pv.commands_failed = emb.final.commands_failed;
    pv.commands_timed_out = emb.final.commands_timed_out;
    pv.sessions_accepted = emb.final.sessions_accepted;
    pv.auth_failed = emb.final.auth_failed;
  }
  struct rec_run_info info = {.platform_url = url,
                              .seed = o.seed,
                              .duration_s = o.duration_s,
                              .elapsed_s = r.elapsed_s,
                              .ramp = o.ramp,
                              .mix = o.mix ? o.mix : "all",
                              .devices_per_hub = cfg.devices_per_hub,
                              .max_lag_ms = o.max_lag_ms,
                              .started_at = started,
                              .cpu_user_s = r.cpu_user_s,
                              .cpu_sys_s = r.cpu_sys_s,
                              .platform_in_process = embedded && !r.workers,
                              .workers = (uint32_t)o.workers,
                              .speedup = o.speedup,
                              .drain_s = o.drain_s,
                              .queue_max = cfg.queue_max,
                              .allow_lag = o.allow_lag,
                              .warmup_s = o.warmup_s};
  struct rusage ru;
  if (r.workers)
    info.max_rss_bytes = r.workers_rss; /* the generator processes, summed */
  else if (getrusage(RUSAGE_SELF, &ru) == 0)
    info.max_rss_bytes = (uint64_t)ru.ru_maxrss * 1024u;
  if (worker_failed >= 0)
    fprintf(stderr, "hubsim run: worker %d ended with status %d before reporting its end\n",
            worker_failed, worker_status);
  struct run_outcome oc;
  memset(&oc, 0, sizeof oc);
  info.interrupted = r.interrupted;
  oc.st = r.cur;
  oc.pv = pv;
  oc.elapsed_s = r.elapsed_s;
  oc.cpu_user_s = r.cpu_user_s;
  oc.cpu_sys_s = r.cpu_sys_s;
  oc.script_failed = r.script_failed;
  oc.res = r.res;
  oc.have_res = r.have_res;
  int exit_code =
      report_run(&o, scn, &oc, &info,
                 worker_failed >= 0 ? "a worker process ended without its final figures" : NULL, 0);
  if (scn)
    scn_free(scn);
  r.scn = NULL;
  sim_fleet_free(r.fleet);
  if (r.t)
    sim_transport_free(r.t);
  app_workers_free(r.workers);
  uv_loop_close(r.loop);
  return exit_code;
}
