/* The outputs of a finished `hubsim run`: the verdict, the summary on stdout and in --summary,
 * and the JUnit file (--junit). A file that cannot be written fails a run that would pass. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "app/run_internal.h"
#include "app/version.h"
#include "recorders/junit.h"
#include "recorders/summary.h"
#include "sim/core/err.h"

void app_run_thread_cpu(double *user, double *sys) {
  struct rusage ru;
  if (getrusage(RUSAGE_THREAD, &ru) == 0) {
    *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  }
}

void app_run_platform_view(struct rec_platform_view *pv, const struct plat_counters *c) {
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

void app_run_info_init(struct rec_run_info *info, const struct run_opts *o,
                       const struct sim_fleet_config *cfg) {
  memset(info, 0, sizeof *info);
  info->seed = o->seed;
  info->duration_s = o->duration_s;
  info->ramp = o->ramp;
  info->mix = o->mix ? o->mix : "all";
  info->devices_per_hub = cfg->devices_per_hub;
  info->max_lag_ms = o->max_lag_ms;
  info->speedup = o->speedup;
  info->drain_s = o->drain_s;
  info->queue_max = cfg->queue_max;
  info->allow_lag = o->allow_lag;
  info->warmup_s = o->warmup_s;
  info->shard = app_run_shard_rec(o, cfg);
}

int app_run_report(const struct run_opts *o, struct scn *scn, struct run_outcome *oc,
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
  int code = app_report_outputs("hubsim run", o->summary, o->junit, is_virtual ? "virtual" : "real",
                                info, oc->st, &oc->pv, &v);
  /* The series' last row, the report and the endpoint's final figures: after the summary,
   * from the same figures and verdict. */
  int mrc = app_metrics_end(oc->metrics, oc->st, scn ? &res : NULL, info, &v);
  if (mrc && code == 0)
    code = v.exit_code = mrc;
  return code;
}

int app_report_outputs(const char *cmd, const char *summary, const char *junit, const char *clock,
                       const struct rec_run_info *info, const struct sim_fleet_stats *st,
                       const struct rec_platform_view *pv, struct rec_verdict *v) {
  rec_summary_print(stdout, info, st, pv, v);
  if (summary) {
    int rc = rec_summary_write(summary, info, st, pv, v);
    if (rc) {
      fprintf(stderr, "%s: --summary '%s': cannot write: %s\n", cmd, summary, sim_strerror(rc));
      if (v->exit_code == 0)
        v->exit_code = 3;
    }
  }
  if (junit) {
    struct rec_junit_suite js;
    rec_junit_suite_from_run(&js, info, v);
    js.clock = clock;
    js.version = HUBSIM_VERSION;
    int rc = rec_junit_write(junit, &js);
    if (rc) {
      fprintf(stderr, "%s: --junit '%s': cannot write: %s\n", cmd, junit, sim_strerror(rc));
      if (v->exit_code == 0)
        v->exit_code = 3;
    }
  }
  return v->exit_code;
}
