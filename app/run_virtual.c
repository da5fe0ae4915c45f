/* `hubsim run --clock virtual`: the fleet, the reference platform and the scenario in one loop
 * over the mem transport, driven as a discrete-event simulation by sim_vdriver. Nothing reads
 * the real clock on the way, so the same seed gives the same run, byte for byte, however fast
 * the machine is; a simulated day takes seconds.
 *
 * Progress lines (stderr) are printed every tenth of the run and carry both clocks. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "app/run_internal.h"
#include "sim/core/err.h"
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

static void fleet_stopped(struct sim_fleet *f, void *arg) {
  (void)f;
  *(int *)arg = 1;
}

static void plat_stopped(struct plat_server *s, void *arg) {
  (void)s;
  *(int *)arg = 1;
}

static void thread_cpu(double *user, double *sys) {
  struct rusage ru;
  if (getrusage(RUSAGE_THREAD, &ru) == 0) {
    *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  }
}

int app_run_virtual(const struct run_opts *o, struct sim_fleet_config *cfg, struct scn *scn,
                    struct run_outcome *out, int *exit_code) {
  uv_loop_t loop;
  struct sim_transport *t = NULL;
  struct plat_server *srv = NULL;
  struct sim_fleet *f = NULL;
  char db[PATH_MAX];
  int own_db = 0, rc;
  uint64_t t0 = uv_hrtime();
  *exit_code = 3;
  if (o->db) {
    snprintf(db, sizeof db, "%s", o->db);
  } else {
    const char *tmp = getenv("TMPDIR");
    snprintf(db, sizeof db, "%s/hubsim-vrun-%d.db", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    unlink(db);
    own_db = 1;
  }
  if ((rc = uv_loop_init(&loop)))
    goto fail_msg;
  if ((rc = sim_transport_mem_new(&loop, &t)))
    goto fail_loop;
  struct plat_config pc = {.listen = "mem://platform:0",
                           .db_path = db,
                           .fleet_key = (const uint8_t *)o->key,
                           .fleet_key_len = strlen(o->key),
                           .command_rate = o->command_rate,
                           .virtual_clock = 1,
                           .seed = o->seed ? o->seed : 1};
  if ((rc = plat_server_new(&loop, t, &pc, &srv)) || (rc = plat_server_start(srv)))
    goto fail_platform;
  snprintf(cfg->platform.host, sizeof cfg->platform.host, "platform");
  cfg->platform.port = plat_server_port(srv);
  cfg->virtual_clock = 1;
  if ((rc = sim_fleet_new(&loop, t, cfg, &f)))
    goto fail_platform;

  struct sim_vdriver d;
  sim_vdriver_init(&d, &loop, mem_busy, t);
  sim_vdriver_add(&d, sim_fleet_sched(f));
  sim_vdriver_add(&d, plat_server_sched(srv));
  if (scn) {
    struct scn_platform_ops ops;
    struct scn_error err;
    app_platform_ops_direct(&ops, srv);
    scn_set_seed(scn, o->seed);
    if (scn_start(scn, f, &ops, &err)) {
      fprintf(stderr, "hubsim run: %s:%d: %s\n", err.file, err.line, err.message);
      out->script_failed = 1;
      *exit_code = 2;
      goto stop;
    }
    sim_vdriver_add(&d, scn_sched(scn));
  }
  sim_fleet_start(f);

  /* Run second by second of simulated time: the scenario's continuous checks and the progress
   * lines need a regular beat. */
  sim_time_t end = (sim_time_t)(o->duration_s * 1e6);
  sim_time_t tenth = end / 10 ? end / 10 : 1, next_line = tenth;
  for (sim_time_t now = 0; now < end && !out->script_failed;) {
    sim_time_t step = now + SIM_SEC(1) < end ? now + SIM_SEC(1) : end;
    if ((rc = sim_vdriver_run(&d, step, NULL, NULL))) {
      fprintf(stderr, "hubsim run: the virtual clock stopped at %.3f s: %s\n", (double)now / 1e6,
              sim_strerror(rc));
      out->runtime_failed = 1;
      break;
    }
    now = step;
    if (scn) {
      scn_poll(scn);
      struct scn_error err;
      if (scn_failed(scn, &err)) {
        fprintf(stderr, "hubsim run: %s:%d: %s\n", err.file, err.line, err.message);
        out->script_failed = 1;
      }
    }
    if (!o->quiet && now >= next_line) {
      sim_fleet_stats(f, out->st);
      fprintf(stderr,
              "[virtual %7.0fs | wall %6.2fs] online %u/%u | reports %" PRIu64 " acked %" PRIu64
              " | in flight %" PRIu64 " queued %" PRIu64 "%s%s\n",
              (double)now / 1e6, (double)(uv_hrtime() - t0) / 1e9,
              out->st->hubs_by_state[SIM_HUB_OPEN], out->st->hubs,
              out->st->kind[SIM_SEQ_REPORT].generated, out->st->kind[SIM_SEQ_REPORT].acked,
              out->st->in_flight, out->st->queued, scn && *scn_phase(scn) ? " | phase " : "",
              scn ? scn_phase(scn) : "");
      next_line += tenth;
    }
  }

  /* Drain: what is in flight gets its acknowledgement, within --drain of simulated time. */
  sim_fleet_quiesce(f);
  sim_time_t deadline = d.now + (sim_time_t)(o->drain_s * 1e6);
  while (d.now < deadline && !out->runtime_failed) {
    sim_fleet_stats(f, out->st);
    if (out->st->in_flight == 0 && out->st->queued == 0)
      break;
    if (sim_vdriver_run(&d, d.now + SIM_MS(100), NULL, NULL))
      break;
  }
  out->virtual_s = (double)d.now / 1e6;
  sim_fleet_stats(f, out->st);
  if (scn) {
    /* Judged while the fleet still runs: "hubs online" means something only now. */
    scn_finish(scn, &out->res);
    out->have_res = 1;
  }
  *exit_code = 0;

stop:;
  int fs = 0, ps = 0;
  sim_fleet_stop(f, fleet_stopped, &fs);
  plat_server_stop(srv, plat_stopped, &ps);
  for (int i = 0; i < 10000 && !(fs && ps); i++)
    if (sim_vdriver_step(&d, d.now + SIM_MS(100)) < 0)
      break;
  plat_server_counters(srv, &out->pc_raw);
  thread_cpu(&out->cpu_user_s, &out->cpu_sys_s);
  sim_vdriver_remove(&d, sim_fleet_sched(f));
  sim_vdriver_remove(&d, plat_server_sched(srv));
  if (scn)
    sim_vdriver_remove(&d, scn_sched(scn));
  sim_fleet_free(f);
  plat_server_free(srv);
  uv_run(&loop, UV_RUN_NOWAIT);
  sim_transport_free(t);
  uv_run(&loop, UV_RUN_NOWAIT);
  uv_loop_close(&loop);
  if (own_db) {
    char p[PATH_MAX + 8];
    unlink(db);
    snprintf(p, sizeof p, "%s-wal", db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db);
    unlink(p);
  }
  out->elapsed_s = (double)(uv_hrtime() - t0) / 1e9;
  return *exit_code ? SIM_EINVAL : 0;

fail_platform:
  if (srv)
    plat_server_free(srv);
  uv_run(&loop, UV_RUN_NOWAIT);
  sim_transport_free(t);
  uv_run(&loop, UV_RUN_NOWAIT);
fail_loop:
  uv_loop_close(&loop);
fail_msg:
  fprintf(stderr, "hubsim run: cannot start the virtual-clock run: %s\n", sim_strerror(rc));
  out->runtime_failed = 1;
  return rc;
}
