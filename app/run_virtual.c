/* `hubsim run --clock virtual`: the fleet, the reference platform and the scenario in one loop
 * over the mem transport, driven as a discrete-event simulation by sim_vdriver. Nothing reads
 * the real clock on the way, so the same seed gives the same run, byte for byte, however fast
 * the machine is; a simulated day takes seconds.
 *
 * Progress lines (stderr) are printed every tenth of the run and carry both clocks. */
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "app/run_internal.h"
#include "app/ui_host.h"
#include "sim/core/err.h"
#include "sim/core/proc.h"
#include "sim/loop/vdriver.h"
#include "sim/transport/transport.h"

/* ---- platform operations on a reference platform in this thread ------------------------- */

static int op_command(void *arg, const struct scn_device_ref *dev, uint8_t ep, uint16_t cluster,
                      uint8_t command, const uint8_t *payload, size_t len, uint64_t *cmd_id) {
  return plat_server_command(arg, dev->hub_id, dev->eui64, ep, cluster, command, payload, len, 0, 0,
                             cmd_id);
}

static int op_rule_add(void *arg, const struct scn_rule *r, uint64_t *id) {
  struct plat_rule pr;
  memset(&pr, 0, sizeof pr);
  pr.when_eui64 = r->when.eui64;
  pr.cluster = r->when_cluster;
  pr.attr = r->when_attr;
  pr.op = r->has_value ? PLAT_RULE_EQ : PLAT_RULE_ANY;
  pr.value = r->value;
  pr.then.hub_id = r->then.hub_id;
  pr.then.eui64 = r->then.eui64;
  pr.then.endpoint = r->then_ep;
  pr.then.cluster = r->then_cluster;
  pr.then.command = r->then_command;
  pr.then.payload = r->payload;
  pr.then.len = r->payload_len;
  return plat_server_rule_add(arg, &pr, id);
}

static int op_timer_add(void *arg, const struct scn_timer *t, uint64_t *id) {
  struct plat_timer pt;
  memset(&pt, 0, sizeof pt);
  pt.hour = t->hour;
  pt.minute = t->minute;
  pt.then.hub_id = t->then.hub_id;
  pt.then.eui64 = t->then.eui64;
  pt.then.endpoint = t->then_ep;
  pt.then.cluster = t->then_cluster;
  pt.then.command = t->then_command;
  pt.then.payload = t->payload;
  pt.then.len = t->payload_len;
  return plat_server_timer_add(arg, &pt, id);
}

static int op_metric(void *arg, const char *name, double *out) {
  struct plat_counters c;
  plat_server_counters(arg, &c);
  static const struct {
    const char *name;
    size_t off;
  } m[] = {
#define M(x) {#x, offsetof(struct plat_counters, x)}
      M(sessions_accepted),
      M(auth_ok),
      M(auth_failed),
      M(reports_new),
      M(reports_duplicate),
      M(reports_committed),
      M(seq_duplicate),
      M(joined),
      M(left),
      M(commits),
      M(commit_failures),
      M(acks_sent),
      M(heartbeats),
      M(commands_sent),
      M(commands_ok),
      M(commands_failed),
      M(commands_timed_out),
      M(rules_fired),
      M(rule_commands),
      M(rule_target_offline),
      M(timers_fired),
      M(timer_commands),
      M(timer_target_offline),
#undef M
  };
  for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
    if (strcmp(m[i].name, name) == 0) {
      *out = (double)*(const uint64_t *)(const void *)((const char *)&c + m[i].off);
      return 0;
    }
  }
  if (strcmp(name, "reports_stored") == 0) {
    *out = (double)c.reports_committed;
    return 0;
  }
  return SIM_ENOTFOUND;
}

void app_print_scn_log(struct scn *scn, size_t *done) {
  const char *const *lines;
  size_t n = scn_log(scn, &lines);
  for (; *done < n; (*done)++)
    fprintf(stderr, "scenario: %s\n", lines[*done]);
}

void app_platform_ops_direct(struct scn_platform_ops *ops, struct plat_server *srv) {
  memset(ops, 0, sizeof(*ops));
  ops->arg = srv;
  ops->command = op_command;
  ops->rule_add = op_rule_add;
  ops->timer_add = op_timer_add;
  ops->metric = op_metric;
}

/* ---- the run ------------------------------------------------------------------------------ */

static int mem_busy(void *arg) {
  return sim_transport_mem_busy(arg);
}

struct vpump {
  struct sim_transport *t;
  struct sim_fleet *f;
};

/* The driver's pump: frames delivered and hubs' queues written without a loop turn. */
static int vpump(void *arg) {
  struct vpump *p = arg;
  int did = sim_transport_mem_deliver(p->t) != 0;
  if (p->f && sim_fleet_flush(p->f))
    did = 1;
  return did;
}

static void fleet_stopped(struct sim_fleet *f, void *arg) {
  (void)f;
  *(int *)arg = 1;
}

static void plat_stopped(struct plat_server *s, void *arg) {
  (void)s;
  *(int *)arg = 1;
}

/* ---- SIGINT and SIGTERM ------------------------------------------------------------------ *
 * A virtual run does not sit in libuv's loop (the driver steps time itself), so a uv_signal_t
 * would never be seen: a plain handler counts the signals, and the driver checks the count
 * after every event. The first signal ends the timeline and leaves the drain at most
 * APP_SIGNAL_DRAIN_S of wall time; the second skips the drain. Either way the summary is
 * written and says the run was interrupted. */
static volatile sig_atomic_t v_signals, v_signo;

static void on_signal(int sig) {
  if (!v_signals)
    v_signo = sig;
  v_signals++;
}

static int interrupted(void *arg) {
  (void)arg;
  return v_signals != 0;
}

/* Waits (running the loop: the UI's timers and keys) until the UI lets simulated time go on:
 * not paused, or a step asked for, or quit. */
static void pace_timer_cb(uv_timer_t *t) {
  (void)t; /* only wakes uv_run(UV_RUN_ONCE) */
}

static void ui_wait_running(uv_loop_t *loop, uv_timer_t *pace, struct app_ui *ui) {
  if (ui->paused && !ui->step_requests && !ui->quit) {
    /* The dashboard's own handles do not keep the loop alive: this timer does, and wakes it. */
    uv_timer_start(pace, pace_timer_cb, 100, 100);
    while (ui->paused && !ui->step_requests && !ui->quit)
      uv_run(loop, UV_RUN_ONCE);
    uv_timer_stop(pace);
  }
  if (ui->paused && ui->step_requests)
    ui->step_requests--;
}

/* Paces simulated time at ui->speed simulated seconds per wall second: waits until the wall
 * clock has caught up with sim_elapsed (seconds since the pacing started at pace_wall0). */
static void ui_pace(uv_loop_t *loop, uv_timer_t *pace, struct app_ui *ui, uint64_t pace_wall0,
                    double sim_elapsed) {
  if (ui->speed <= 0)
    return;
  for (;;) {
    double wall = (double)(uv_hrtime() - pace_wall0) / 1e9;
    double due = sim_elapsed / ui->speed;
    if (wall >= due || ui->quit || ui->paused || ui->pace_reset)
      return;
    uint64_t ms = (uint64_t)((due - wall) * 1000) + 1;
    uv_timer_start(pace, pace_timer_cb, ms > 250 ? 250 : ms, 0);
    uv_run(loop, UV_RUN_ONCE);
  }
}

/* ---- the run, step by step ---------------------------------------------------------------- */

/* The fleet of the run under way, for the recorders' reads (one virtual run per process). */
static struct sim_fleet *v_fleet;
static void v_peek(void *arg, struct sim_fleet_stats *out);

/* One virtual run: what its steps share. */
struct vrun {
  const struct run_opts *o;
  struct sim_fleet_config *cfg;
  struct scn *scn;
  struct app_ui *ui;
  struct run_outcome *out;
  uv_loop_t loop;
  struct sim_transport *t;
  struct plat_server *srv;
  struct sim_fleet *f;
  struct sim_vdriver d;
  uv_timer_t pace; /* wakes the loop while a UI paces simulated time */
  struct vpump vp;
  char db[PATH_MAX];
  uint64_t t0; /* wall clock at the start (uv_hrtime) */
  struct sigaction old_int, old_term;
  struct app_record rec; /* --record */
};

/* The loop, the mem transport, the platform on it and the fleet. 0, or an error with nothing
 * left open. */
static int v_open(struct vrun *v) {
  const struct run_opts *o = v->o;
  int rc;
  if (o->db) {
    snprintf(v->db, sizeof v->db, "%s", o->db);
  } else {
    /* Nothing outlives a virtual run unless --db asks: the store stays in memory, where a
     * commit costs no write (a simulated day commits millions of times). */
    snprintf(v->db, sizeof v->db, ":memory:");
  }
  if ((rc = uv_loop_init(&v->loop)))
    return rc;
  if ((rc = sim_transport_mem_new(&v->loop, &v->t)))
    goto fail_loop;
  struct plat_config pc = {.listen = "mem://platform:0",
                           .db_path = v->db,
                           .fleet_key = (const uint8_t *)o->key,
                           .fleet_key_len = strlen(o->key),
                           .command_rate = o->command_rate,
                           .virtual_clock = 1,
                           .seed = o->seed ? o->seed : 1};
  if ((rc = plat_server_new(&v->loop, v->t, &pc, &v->srv)) || (rc = plat_server_start(v->srv)))
    goto fail_platform;
  snprintf(v->cfg->platform.host, sizeof v->cfg->platform.host, "platform");
  v->cfg->platform.port = plat_server_port(v->srv);
  v->cfg->virtual_clock = 1;
  struct sim_transport *ft = v->t; /* the fleet's: the capture's over v->t with --record */
  if (app_record_open(&v->rec, o, v->cfg, &v->f) != APP_RUN_GO_ON) {
    rc = SIM_EINVAL;
    goto fail_platform;
  }
  if ((rc = app_record_wrap(&v->rec, v->t, &ft)) ||
      (rc = sim_fleet_new(&v->loop, ft, v->cfg, &v->f)))
    goto fail_platform;
  return 0;

fail_platform:
  app_record_finish(&v->rec);
  if (v->srv)
    plat_server_free(v->srv);
  uv_run(&v->loop, UV_RUN_NOWAIT);
  sim_transport_free(v->t);
  uv_run(&v->loop, UV_RUN_NOWAIT);
fail_loop:
  uv_loop_close(&v->loop);
  return rc;
}

/* The driver over the fleet, the platform and the scenario; the scenario and the fleet start,
 * then the UI. 0, or 2 when the scenario could not start (its message printed). */
static int v_start(struct vrun *v) {
  uv_timer_init(&v->loop, &v->pace);
  sim_vdriver_init(&v->d, &v->loop, mem_busy, v->t);
  v->vp.t = v->t;
  v->vp.f = v->f;
  sim_vdriver_set_pump(&v->d, vpump, &v->vp);
  sim_vdriver_add(&v->d, sim_fleet_sched(v->f));
  sim_vdriver_add(&v->d, plat_server_sched(v->srv));
  if (v->scn) {
    struct scn_platform_ops ops;
    struct scn_error err;
    app_platform_ops_direct(&ops, v->srv);
    scn_set_seed(v->scn, v->o->seed);
    if (scn_start(v->scn, v->f, &ops, &err)) {
      fprintf(stderr, "hubsim run: %s:%d: %s\n", err.file, err.line, err.message);
      v->out->script_failed = 1;
      return 2;
    }
    sim_vdriver_add(&v->d, scn_sched(v->scn));
  }
  sim_fleet_start(v->f);
  struct app_ui *ui = v->ui;
  if (ui) {
    ui->loop = &v->loop;
    ui->fleet = v->f;
    ui->scn = v->scn;
    ui->virtual_clock = 1;
    app_platform_ops_direct(&ui->ops, v->srv);
    app_ui_init(ui);
    if (ui->start && ui->start(ui)) {
      fprintf(stderr, "hubsim run: cannot start the user interface\n");
      ui->start = NULL;
      ui->stop = NULL;
    }
  }
  return 0;
}

/* A progress line: both clocks and the figures so far. */
static void v_progress(struct vrun *v, sim_time_t now) {
  struct sim_fleet_stats *st = v->out->st;
  struct scn *scn = v->scn;
  sim_fleet_stats(v->f, st);
  fprintf(stderr,
          "[virtual %7.0fs | wall %6.2fs] online %u/%u | reports %" PRIu64 " acked %" PRIu64
          " | in flight %" PRIu64 " queued %" PRIu64 "%s%s\n",
          (double)now / 1e6, (double)(uv_hrtime() - v->t0) / 1e9, st->hubs_by_state[SIM_HUB_OPEN],
          st->hubs, st->kind[SIM_SEQ_REPORT].generated, st->kind[SIM_SEQ_REPORT].acked,
          st->in_flight, st->queued, scn && *scn_phase(scn) ? " | phase " : "",
          scn ? scn_phase(scn) : "");
}

/* Runs --duration second by second of simulated time: the scenario's continuous checks and the
 * progress lines need a regular beat. */
static void v_timeline(struct vrun *v) {
  const struct run_opts *o = v->o;
  struct app_ui *ui = v->ui;
  struct run_outcome *out = v->out;
  uint64_t pace_wall0 = uv_hrtime();
  sim_time_t pace_sim0 = 0;
  size_t log_done = 0;
  sim_time_t end = (sim_time_t)(o->duration_s * 1e6);
  sim_time_t tenth = end / 10 ? end / 10 : 1, next_line = tenth;
  sim_time_t sec = 0; /* the last whole second of engine time reached */
  for (sim_time_t now = 0; now < end && !out->script_failed && !v_signals;) {
    if (ui) {
      int was_paused = ui->paused;
      ui_wait_running(&v->loop, &v->pace, ui);
      if (ui->quit)
        break;
      if (was_paused || ui->pace_reset) {
        ui->pace_reset = 0;
        pace_wall0 = uv_hrtime();
        pace_sim0 = now;
      }
    }
    /* The beat is one second of engine time; a row of the interval series may fall between
     * two beats, and stops the clock there without adding a beat. */
    sim_time_t step = sec + SIM_SEC(1) < end ? sec + SIM_SEC(1) : end;
    sim_time_t due = app_metrics_due(out->metrics);
    int beat = 1;
    if (due > now && due < step) {
      step = due;
      beat = 0;
    }
    int rc = sim_vdriver_run(&v->d, step, interrupted, NULL);
    if (rc) {
      fprintf(stderr, "hubsim run: the virtual clock stopped at %.3f s: %s\n", (double)now / 1e6,
              sim_strerror(rc));
      out->runtime_failed = 1;
      break;
    }
    now = step;
    if (now >= due)
      app_metrics_row(out->metrics, NULL, 0);
    if (!beat)
      continue;
    sec = step;
    if (v->scn) {
      scn_poll(v->scn);
      if (!o->quiet && !ui)
        app_print_scn_log(v->scn, &log_done);
      struct scn_error err;
      if (scn_failed(v->scn, &err)) {
        fprintf(stderr, "hubsim run: %s:%d: %s\n", err.file, err.line, err.message);
        out->script_failed = 1;
      }
    }
    if (ui)
      ui_pace(&v->loop, &v->pace, ui, pace_wall0, (double)(now - pace_sim0) / 1e6);
    if (!o->quiet && !ui && now >= next_line) {
      v_progress(v, now);
      next_line += tenth;
    }
  }
}

/* Drain: what is in flight gets its acknowledgement and every hub that should be online gets
 * back online, within --drain of simulated time; then the scenario is judged. */
static void v_drain(struct vrun *v) {
  struct run_outcome *out = v->out;
  struct sim_vdriver *d = &v->d;
  if (v->ui)
    v->ui->draining = 1;
  sim_fleet_quiesce(v->f);
  sim_time_t deadline = d->now + (sim_time_t)(v->o->drain_s * 1e6);
  uint64_t wall_cap = 0; /* after a signal: the drain's end in wall time (uv_hrtime) */
  while (d->now < deadline && !out->runtime_failed) {
    if (v_signals > 1)
      break;
    if (v_signals && !wall_cap) {
      fprintf(stderr, "hubsim: interrupted: draining for at most %.0f s (again to stop now)\n",
              APP_SIGNAL_DRAIN_S);
      wall_cap = uv_hrtime() + (uint64_t)(APP_SIGNAL_DRAIN_S * 1e9);
    }
    if (wall_cap && uv_hrtime() >= wall_cap)
      break;
    sim_fleet_stats(v->f, out->st);
    if (rec_settled(out->st))
      break;
    sim_time_t step = d->now + SIM_MS(100), due = app_metrics_due(out->metrics);
    if (sim_vdriver_run(d, due > d->now && due < step ? due : step, NULL, NULL))
      break;
    if (d->now >= due)
      app_metrics_row(out->metrics, NULL, 1);
  }
  if (v_signals)
    out->interrupted = v_signo == SIGTERM ? "SIGTERM" : "SIGINT";
  out->virtual_s = (double)d->now / 1e6;
  sim_fleet_stats(v->f, out->st);
  if (v->scn) {
    /* A callback may also fail while the run drains (the timeline looks only before). */
    struct scn_error err;
    if (!out->script_failed && scn_failed(v->scn, &err)) {
      fprintf(stderr, "hubsim run: %s:%d: %s\n", err.file, err.line, err.message);
      out->script_failed = 1;
    }
    /* Judged while the fleet still runs: "hubs online" means something only now. */
    scn_finish(v->scn, &v->out->res);
    out->have_res = 1;
  }
}

/* Stops the fleet and the platform (on simulated time), takes the platform's counters, frees
 * everything. */
static void v_close(struct vrun *v) {
  struct sim_vdriver *d = &v->d;
  if (v->ui && v->ui->stop)
    v->ui->stop(v->ui); /* the terminal is the summary's again */
  uv_close((uv_handle_t *)&v->pace, NULL);
  int fs = 0, ps = 0;
  sim_fleet_stop(v->f, fleet_stopped, &fs);
  plat_server_stop(v->srv, plat_stopped, &ps);
  for (int i = 0; i < 10000 && !(fs && ps); i++)
    if (sim_vdriver_step(d, d->now + SIM_MS(100)) < 0)
      break;
  plat_server_counters(v->srv, &v->out->pc_raw);
  app_run_thread_cpu(&v->out->cpu_user_s, &v->out->cpu_sys_s);
  if (v->scn)
    scn_stop(v->scn); /* it lets go of the fleet and its scheduler before they are freed */
  sim_vdriver_remove(d, sim_fleet_sched(v->f));
  sim_vdriver_remove(d, plat_server_sched(v->srv));
  if (v->scn)
    sim_vdriver_remove(d, scn_sched(v->scn));
  app_record_finish(&v->rec);
  if (v->rec.done) {
    v->out->record = v->rec.info;
    v->out->record.path = v->out->record_path;
    snprintf(v->out->record_path, sizeof v->out->record_path, "%s", v->rec.path);
    v->out->have_record = 1;
  }
  sim_fleet_free(v->f);
  plat_server_free(v->srv);
  uv_run(&v->loop, UV_RUN_NOWAIT);
  sim_transport_free(v->t);
  uv_run(&v->loop, UV_RUN_NOWAIT);
  uv_loop_close(&v->loop);
}

static void v_peek(void *arg, struct sim_fleet_stats *out) {
  (void)arg;
  sim_fleet_stats(v_fleet, out);
}

int app_run_virtual(const struct run_opts *o, struct sim_fleet_config *cfg, struct scn *scn,
                    struct app_ui *ui, struct run_outcome *out, int *exit_code) {
  static struct vrun v;
  memset(&v, 0, sizeof v);
  v.o = o;
  v.cfg = cfg;
  v.scn = scn;
  v.ui = ui;
  v.out = out;
  v.t0 = uv_hrtime();
  *exit_code = 3;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  v_signals = v_signo = 0;
  sigaction(SIGINT, &sa, &v.old_int);
  sigaction(SIGTERM, &sa, &v.old_term);
  int rc = v_open(&v);
  if (rc) {
    sigaction(SIGINT, &v.old_int, NULL);
    sigaction(SIGTERM, &v.old_term, NULL);
    fprintf(stderr, "hubsim run: cannot start the virtual-clock run: %s\n", sim_strerror(rc));
    out->runtime_failed = 1;
    return rc;
  }
  if (v_start(&v) == 0) {
    v_fleet = v.f;
    sim_fleet_stats(v.f, out->st);
    app_metrics_begin(out->metrics, out->st);
    v_timeline(&v);
    v_drain(&v);
    *exit_code = 0;
  } else {
    *exit_code = 2;
  }
  v_fleet = NULL;
  v_close(&v);
  out->elapsed_s = (double)(uv_hrtime() - v.t0) / 1e9;
  sigaction(SIGINT, &v.old_int, NULL);
  sigaction(SIGTERM, &v.old_term, NULL);
  return *exit_code ? SIM_EINVAL : 0;
}

int app_run_virtual_clock(const struct run_opts *o, struct sim_fleet_config *cfg, struct scn *scn) {
  static struct sim_fleet_stats fin;
  struct run_outcome oc;
  memset(&oc, 0, sizeof oc);
  oc.st = &fin;
  int ec = 0;
  if (o->mo.prom) {
    fprintf(stderr, "hubsim run: --prometheus needs the real clock: a virtual-clock run has no "
                    "wall time to be scraped in (use --metrics-out or --report)\n");
    return 2;
  }
  if (!o->quiet)
    fprintf(stderr,
            "hubsim run: %u hubs x %u devices against the embedded reference platform, virtual "
            "clock, %.0f s, seed %" PRIu64 "%s%s\n",
            cfg->hubs, cfg->devices_per_hub, o->duration_s, o->seed, scn ? ", scenario " : "",
            scn ? scn_config(scn)->name : "");
  static struct app_ui vui;
  memset(&vui, 0, sizeof vui);
  vui.seed = o->seed;
  vui.platform = "embedded reference platform (virtual clock)";
  vui.duration_s = o->duration_s;
  vui.speed = 10; /* with a dashboard, ten simulated seconds a second (+/- change it) */
  app_run_ui_bind(&vui, o);
  int mrc = app_metrics_open(&o->mo, NULL, o->max_lag_ms, scn, v_peek, NULL, &oc.metrics);
  if (mrc)
    return mrc;
  app_run_virtual(o, cfg, scn, o->ui >= RUN_UI_TUI ? &vui : NULL, &oc, &ec);
  if (oc.runtime_failed && !oc.st->hubs) {
    app_metrics_close(oc.metrics, NULL);
    return 3;
  }
  app_run_platform_view(&oc.pv, &oc.pc_raw);
  struct rec_run_info info;
  app_run_info_init(&info, o, cfg);
  info.platform_url = "embedded reference platform (virtual clock)";
  info.elapsed_s = oc.virtual_s;
  /* The virtual clock starts at 2026-01-01T00:00:00Z whatever the date: the summary of a
   * virtual run depends on its inputs only. */
  info.started_at = "2026-01-01T00:00:00Z";
  info.cpu_user_s = oc.cpu_user_s;
  info.cpu_sys_s = oc.cpu_sys_s;
  info.platform_in_process = 1;
  info.workers = 1;
  info.interrupted = oc.interrupted;
  info.max_rss_bytes = sim_proc_peak_rss();
  info.max_pss_bytes = sim_proc_pss_sample();
  if (oc.have_record)
    info.record = &oc.record;
  int code = app_run_report(o, scn, &oc, &info, NULL, 1);
  app_metrics_close(oc.metrics, NULL);
  return code;
}
