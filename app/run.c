/* `hubsim run`: builds a fleet from flags, starts the embedded reference platform unless
 * --platform names one, runs for --duration with progress once a second, drains what is in
 * flight, and ends with a summary in which every message is accounted for. This file holds
 * the real-clock run and the order of the steps; the flags, the platform's thread, the
 * workers, the dashboards and the outputs have their own files (run_internal.h). */
#include "app/run.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <uv.h>

#include "app/admin_client.h"
#include "app/run_certs.h"
#include "app/run_internal.h"
#include "app/ui_host.h"
#include "app/workers.h"
#include "app/z2m_hub.h"
#include "devices/cat_global.h"
#include "devices/cat_load.h"
#include "devices/cat_types.h"
#include "platform/platform.h"
#include "recorders/capture.h"
#include "recorders/summary.h"
#include "sim/core/err.h"
#include "sim/core/proc.h"
#include "sim/fleet/fleet.h"
#include "sim/transport/tls.h"
#include "sim/transport/transport.h"

struct run {
  struct run_opts o;
  uv_loop_t *loop;
  struct sim_transport *t;
  struct sim_fleet *fleet;
  struct app_hub_certs *certs; /* --hub-certs; NULL without */
  struct app_z2m *z2m;         /* --profile zigbee2mqtt: the hubs' uplink driver; NULL without */
  struct app_mqtt *mq;         /* mqtt:// or mqtts://: owns t (and the observer) */
  struct app_record rec;       /* --record: the capture (rec.cap NULL without) */
  uv_timer_t progress, end, drain, escalate;
  uv_timer_t mtick;            /* a row of the interval series is due */
  uv_timer_t recflush;         /* --record: the capture's blocks leave memory (REC_FLUSH_MS) */
  struct app_metrics *metrics; /* --metrics-out, --report, --prometheus; NULL: none */
  uv_signal_t sigint, sigterm;
  const char *interrupted; /* "SIGINT" / "SIGTERM": a signal ended the run early */
  int signals;             /* signals received */
  uint64_t start_ns;
  double elapsed_s;
  int phase; /* 0 running, 1 draining, 2 stopping */
  sim_time_t drain_deadline;
  double cpu_user_s, cpu_sys_s;
  uint64_t workers_rss, workers_pss;
  struct sim_fleet_stats *prev, *cur;
  struct app_workers *workers; /* control of --workers N: the fleet runs in them */
  struct scn *scn;             /* the scenario, NULL: none */
  int script_failed;           /* a scenario callback failed: the run stops, exit 2 */
  struct scn_results res;      /* taken in stop_all, before the fleet stops */
  int have_res;
  struct app_ui *ui; /* the dashboard, NULL: none */
  size_t log_done;   /* scenario log lines printed so far */
  /* What the run is made of. */
  struct sim_fleet_config *cfg;
  struct app_run_emb emb;
  int embedded;     /* the platform is the embedded one (no --platform) */
  char url[128];    /* the platform, for the messages and the summary */
  char started[32]; /* wall-clock start, ISO 8601 */
  struct scn_platform_ops ops;
  struct app_admin admin;
  struct app_ui ui_storage;
};

/* The current figures: of this process's fleet, or merged from the workers. */
/* A worker's TLS counts for its snapshots (static: the worker sends one at a time), or NULL
 * over plain hubrpc://. */
static struct sim_transport *tls_of(const struct run *r) {
  struct sim_transport *t = r->mq ? app_run_mqtt_inner(r->mq) : r->t;
  return t && sim_transport_is_tls(t) ? t : NULL;
}

static const struct sim_tls_stats *worker_tls(const struct run *r) {
  static struct sim_tls_stats st;
  if (!tls_of(r))
    return NULL;
  sim_transport_tls_stats(tls_of(r), &st);
  return &st;
}

/* The hubs' transport (and an MQTT run's observer) freed. */
static void free_transport(struct run *r) {
  if (r->mq)
    app_run_mqtt_free(r->mq);
  else if (r->t)
    sim_transport_free(r->t);
  r->mq = NULL;
  r->t = NULL;
}

static void snapshot(struct run *r, struct sim_fleet_stats *out) {
  if (r->workers)
    app_workers_merged(r->workers, out, NULL, NULL, NULL, NULL);
  else
    sim_fleet_stats(r->fleet, out);
}

/* A worker's capture figures for its snapshots (static: one snapshot at a time), or NULL
 * without --record. */
static const struct rec_capture_info *worker_rec(struct run *r) {
  static struct rec_capture_info ri;
  if (r->rec.done)
    return &r->rec.info;
  if (!r->rec.cap)
    return NULL;
  rec_capture_info(r->rec.cap, &ri);
  return &ri;
}

/* The Prometheus endpoint's view: the figures now, read without changing anything. */
static void peek_stats(void *arg, struct sim_fleet_stats *out) {
  snapshot(arg, out);
}

static void close_handles(struct run *r) {
  uv_close((uv_handle_t *)&r->mtick, NULL);
  uv_close((uv_handle_t *)&r->recflush, NULL);
  uv_close((uv_handle_t *)&r->progress, NULL);
  uv_close((uv_handle_t *)&r->end, NULL);
  uv_close((uv_handle_t *)&r->drain, NULL);
  uv_close((uv_handle_t *)&r->escalate, NULL);
  uv_close((uv_handle_t *)&r->sigint, NULL);
  uv_close((uv_handle_t *)&r->sigterm, NULL);
}

static void fleet_stopped(struct sim_fleet *f, void *arg) {
  (void)f;
  struct run *r = arg;
  app_run_mqtt_stop(r->mq); /* the observer's connection would keep the loop running */
}

static void stop_all(struct run *r) {
  if (r->phase >= 2)
    return;
  r->phase = 2;
  r->elapsed_s = (double)(uv_hrtime() - r->start_ns) / 1e9;
  app_run_thread_cpu(&r->cpu_user_s, &r->cpu_sys_s);
  sim_fleet_stats(r->fleet, r->cur);
  if (r->o.shards > 1 && app_worker_send(APP_WORKER_FD, r->cur, worker_tls(r), worker_rec(r),
                                         r->cpu_user_s, r->cpu_sys_s, 1) != 0)
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

/* --record: the capture writes when a packet finds blocks 200 ms old, so a quiet stretch would
 * keep the last ones in memory, lost to a kill, until the next packet. This timer writes them
 * within REC_FLUSH_MS of real time instead (docs/recorders.md section 6). */
#define REC_FLUSH_MS 200
static void on_recflush(uv_timer_t *t) {
  struct run *r = t->data;
  if (r->rec.cap)
    rec_capture_flush(r->rec.cap);
}

/* One line a second on stderr: what the last second did. Rates and percentiles are of that
 * second (differences of cumulative snapshots), never of the whole run. */
static void on_progress(uv_timer_t *t) {
  struct run *r = t->data;
  static struct sim_hist d_ack, d_send, d_tick;
  sim_proc_pss_sample(); /* the summary's peak PSS is the largest of these samples */
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
    app_run_thread_cpu(&cu, &cs);
    app_worker_send(APP_WORKER_FD, r->cur, worker_tls(r), worker_rec(r), cu, cs, 0);
  }
  const struct sim_fleet_stats *c = r->cur, *p = r->prev;
  double el = (double)(uv_hrtime() - r->start_ns) / 1e9;
  double dt = (double)(c->now - p->now) / 1e6;
  if (dt <= 0)
    dt = 1;
  sim_hist_diff(&c->ack_latency, &p->ack_latency, &d_ack);
  sim_hist_diff(&c->send_lag, &p->send_lag, &d_send);
  sim_hist_diff(&c->tick_lag, &p->tick_lag, &d_tick);
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

static void on_metrics(uv_timer_t *t) {
  struct run *r = t->data;
  app_metrics_row(r->metrics, NULL, r->phase == 1);
}

static void workers_done(void *arg) {
  struct run *r = arg;
  r->phase = 2;
  r->elapsed_s = (double)(uv_hrtime() - r->start_ns) / 1e9;
  close_handles(r);
  app_run_mqtt_stop(r->mq);
}

static void ui_quit_real(void *arg) {
  begin_drain(arg);
}

/* One socket per hub, and as many again for an embedded platform in this process: refuse a
 * fleet that cannot fit rather than fail its connects one by one. APP_RUN_GO_ON or 3. */
static int real_fits(const struct run_opts *o) {
  int embedded = !o->platform;
  uint64_t limit = app_run_nofile();
  uint64_t hubs = app_run_shard_hubs(o); /* --shard: this shard's */
  uint64_t here = o->workers > 1 ? 0 : (hubs + o->shards - 1) / o->shards;
  uint64_t need = here + (embedded ? hubs : 0u) + APP_RUN_FILES_KEPT;
  uint64_t per_worker =
      o->workers > 1 ? (hubs + o->workers - 1) / o->workers + APP_RUN_FILES_KEPT : 0;
  if (limit && per_worker > limit) {
    fprintf(stderr,
            "hubsim run: --hubs %" PRIu64 " over --workers %" PRIu64 " needs about %" PRIu64
            " open files in each worker, but a process may open %" PRIu64
            " (ulimit -n): use more workers (--workers auto counts them; --preflight says "
            "how the fleet fits).\n",
            o->hubs, o->workers, per_worker, limit);
    return 3;
  }
  if (limit && need > limit) {
    fprintf(stderr,
            "hubsim run: --hubs %" PRIu64 " needs about %" PRIu64 " open files (one socket per "
            "hub%s) but this process may open %" PRIu64 " (ulimit -n).\n"
            "  Run fewer hubs per process%s.\n",
            o->hubs, need, embedded ? ", and one per hub for the embedded platform" : "", limit,
            embedded ? ", or start the platform as its own process (hubsim platform) and pass "
                       "--platform"
                     : " (--workers auto; --preflight says how the fleet fits)");
    return 3;
  }
  return APP_RUN_GO_ON;
}

/* --hub-certs with --record: the tls transport sees the capture's connection, whose owner is
 * the hub. */
static const struct sim_tls_identity *recorded_identity(void *ctx, void *user) {
  struct run *r = ctx;
  return app_hub_certs_get(r->certs, rec_capture_user(r->rec.cap, user));
}

/* The platform (embedded, or --platform) and the fleet (here, or in the workers, which start
 * later). APP_RUN_GO_ON, or the exit code with nothing left running. */
static int real_prepare(struct run *r) {
  const struct run_opts *o = &r->o;
  struct sim_fleet_config *cfg = r->cfg;
  int rc;
  if (r->embedded) {
    rc = app_run_emb_start(&r->emb, o);
    if (rc) {
      fprintf(stderr, "hubsim run: cannot start the embedded platform: %s\n", sim_strerror(rc));
      return 3;
    }
    snprintf(cfg->platform.host, sizeof(cfg->platform.host), "127.0.0.1");
    cfg->platform.port = r->emb.port;
    snprintf(r->url, sizeof(r->url), "embedded reference platform at hubrpc://127.0.0.1:%u",
             r->emb.port);
    if (o->mq.on)
      snprintf(r->url, sizeof(r->url), "embedded reference platform behind %s", o->platform);
  }
  if (o->mq.on) {
    cfg->platform = o->mq.broker;
    if (!r->embedded)
      snprintf(r->url, sizeof(r->url), "%s", o->platform);
  } else if (!r->embedded) {
    if (o->profile != RUN_PROFILE_Z2M && /* the broker: app_run_z2m_new */
        (sim_addr_parse(o->platform, &cfg->platform) || cfg->platform.port == 0))
      return app_run_bad("--platform", o->platform, "expected hubrpc://HOST:PORT");
    snprintf(r->url, sizeof(r->url), "%s", o->platform);
  }
  r->loop = uv_default_loop();
  rc = 0;
  if (o->workers <= 1 && (rc = app_record_open(&r->rec, o, cfg, &r->fleet)) != APP_RUN_GO_ON) {
    if (r->embedded)
      app_run_emb_stop(&r->emb);
    return rc;
  }
  r->o.record = &r->rec;
  rc = 0;
  if (o->mq.on) {
    /* Made here even with workers: the observer subscribes from this process. */
    if (o->hub_certs && o->workers <= 1 && app_hub_certs_new(&r->certs))
      rc = SIM_ENOMEM;
    int code = rc ? 3 : app_run_mqtt_new(r->loop, o, &r->fleet, r->certs, &r->mq);
    if (!code && o->mq.observe)
      code = app_run_mqtt_observe(r->mq, r->loop, o);
    if (code) {
      free_transport(r);
      app_hub_certs_free(r->certs);
      if (r->embedded)
        app_run_emb_stop(&r->emb);
      return code;
    }
    r->t = app_run_mqtt_transport(r->mq);
  }
  if (o->workers <= 1) {
    /* With workers the fleet runs in them; this process keeps the platform (when embedded),
     * the progress and the summary. */
    if (o->mq.on) {
      /* made above */
    } else if (o->tls) {
      struct sim_tls_config tc = {.ca_file = o->tls_ca, .insecure = o->tls_insecure};
      const char *why = NULL;
      if (o->hub_certs && app_hub_certs_new(&r->certs) == 0) {
        tc.identity = r->rec.cap ? recorded_identity : app_hub_certs_get;
        tc.identity_ctx = r->rec.cap ? (void *)r : r->certs;
      }
      rc = sim_transport_tls_new(r->loop, &tc, &r->t, &why);
      if (rc && why) {
        fprintf(stderr, "hubsim run: %s %s\n", o->tls_ca ? "--ca:" : "TLS:", why);
        return 2;
      }
    } else {
      rc = sim_transport_tcp_new(r->loop, &r->t);
    }
    if (rc == 0 && (rc = app_run_z2m_new(o, r->loop, r->t, cfg, &r->z2m)) != 0) {
      sim_transport_free(r->t);
      return rc;
    }
    struct sim_transport *ft = r->t; /* the fleet's: the capture's over r->t with --record */
    if (rc == 0 && !o->mq.on)
      rc = app_record_wrap(&r->rec, r->t, &ft);
    if (rc == 0)
      rc = sim_fleet_new(r->loop, ft, cfg, &r->fleet);
    if (rc == 0 && o->hub_certs) {
      int code = r->certs ? app_hub_certs_load(r->certs, o->hub_certs, r->fleet) : 3;
      if (code) {
        /* The fleet's handles are on the loop: closed, and the loop run until they are. */
        sim_fleet_stop(r->fleet, NULL, NULL);
        uv_run(r->loop, UV_RUN_DEFAULT);
        sim_fleet_free(r->fleet);
        app_z2m_free(r->z2m);
        free_transport(r);
        app_hub_certs_free(r->certs);
        if (r->embedded)
          app_run_emb_stop(&r->emb);
        return code;
      }
    }
  } else if (o->hub_certs) {
    /* Each worker loads its hubs' pairs; a bad folder is refused here first, before anything
     * starts, as without workers (exit 2 naming the file). --hub-certs needs --platform: no
     * embedded platform to stop. */
    int code = app_hub_certs_check(o->hub_certs, cfg);
    if (code)
      return code;
  }
  if (rc) {
    fprintf(stderr, "hubsim run: cannot create the fleet: %s\n", sim_strerror(rc));
    app_z2m_free(r->z2m);
    if (r->embedded)
      app_run_emb_stop(&r->emb);
    return 3;
  }
  return APP_RUN_GO_ON;
}

/* The workers, the timers and the signals: the run begins. */
static void real_begin(struct run *r) {
  const struct run_opts *o = &r->o;
  time_t now = time(NULL);
  strftime(r->started, sizeof(r->started), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  if (!o->quiet)
    fprintf(stderr, "hubsim run: %u hubs x %u devices against %s, %.0f s, seed %" PRIu64 "\n",
            r->cfg->hubs, r->cfg->devices_per_hub, r->url, o->duration_s, o->seed);
  r->start_ns = uv_hrtime();
  if (o->workers > 1) {
    int rc = app_run_workers_start(r->loop, o, &r->cfg->platform, workers_done, r, &r->workers);
    if (rc)
      fprintf(stderr, "hubsim run: cannot start the workers: %s\n", sim_strerror(rc));
  }
  snapshot(r, r->prev);
  app_metrics_begin(r->metrics, r->prev);
  uv_timer_init(r->loop, &r->mtick);
  uv_timer_init(r->loop, &r->recflush);
  r->recflush.data = r;
  if (r->rec.cap)
    uv_timer_start(&r->recflush, on_recflush, REC_FLUSH_MS, REC_FLUSH_MS);
  uv_timer_init(r->loop, &r->progress);
  uv_timer_init(r->loop, &r->end);
  uv_timer_init(r->loop, &r->drain);
  uv_timer_init(r->loop, &r->escalate);
  uv_signal_init(r->loop, &r->sigint);
  uv_signal_init(r->loop, &r->sigterm);
  r->mtick.data = r->progress.data = r->end.data = r->drain.data = r->escalate.data =
      r->sigint.data = r->sigterm.data = r;
  uv_timer_start(&r->progress, on_progress, 1000, 1000);
  if (app_metrics_due(r->metrics) != INT64_MAX) {
    uint64_t ms = (uint64_t)(o->mo.interval_s * 1000 + 0.5);
    uv_timer_start(&r->mtick, on_metrics, ms, ms);
  }
  if (!r->workers)
    uv_timer_start(&r->end, on_end, (uint64_t)(o->duration_s * 1000), 0);
  uv_signal_start(&r->sigint, on_signal, SIGINT);
  uv_signal_start(&r->sigterm, on_signal, SIGTERM);
  signal(SIGPIPE, SIG_IGN);
}

/* The platform's operations (for the scenario and the dashboard's commands), the scenario and
 * the dashboard, then the fleet starts. */
static void real_attach(struct run *r, struct scn *scn) {
  const struct run_opts *o = &r->o;
  memset(&r->ops, 0, sizeof r->ops);
  if (r->embedded)
    app_run_emb_ops(&r->emb, &r->ops);
  if (r->z2m) /* the scenario's and the dashboard's commands go straight to the devices */
    app_z2m_ops(r->z2m, &r->ops);
  /* An external platform offers them through its admin lines (--platform-admin); without it
   * the script's platform calls fail with a message that says so. */
  if (!r->embedded && o->platform_admin) {
    if (app_admin_init(&r->admin, o->platform_admin))
      fprintf(stderr, "hubsim run: --platform-admin '%s': expected HOST:PORT\n", o->platform_admin);
    else
      app_admin_ops(&r->admin, &r->ops);
  }
  if (scn) {
    struct scn_error serr;
    scn_set_seed(scn, o->seed);
    if (scn_start(scn, r->fleet, &r->ops, &serr)) {
      fprintf(stderr, "hubsim run: %s:%d: %s\n", serr.file, serr.line, serr.message);
      r->script_failed = 1;
      scn_stop(scn);
      begin_drain(r);
    } else {
      r->scn = scn;
    }
  }
  if (o->ui >= RUN_UI_TUI && r->fleet) {
    struct app_ui *ui = &r->ui_storage;
    memset(ui, 0, sizeof *ui);
    ui->loop = r->loop;
    ui->fleet = r->fleet;
    ui->scn = r->scn;
    ui->ops = r->ops;
    ui->seed = o->seed;
    ui->platform = r->url;
    ui->duration_s = o->duration_s;
    ui->on_quit = ui_quit_real;
    ui->on_quit_arg = r;
    app_run_ui_bind(ui, o);
    app_ui_init(ui);
    if (!ui->start || ui->start(ui))
      fprintf(stderr, "hubsim run: --ui %s: cannot open the dashboard; running headless\n",
              o->ui == RUN_UI_GUI ? "gui (is there a display, or SDL_VIDEODRIVER=offscreen?)"
                                  : "tui");
    else
      r->ui = ui;
  }
  if (r->fleet)
    sim_fleet_start(r->fleet);
}

/* After the loop: the figures gathered (from the workers, from the platform), the outputs
 * written, everything freed. The exit code. */
static int real_finish(struct run *r, struct scn *scn) {
  const struct run_opts *o = &r->o;
  int worker_failed = -1, worker_status = 0;
  if (r->workers) {
    app_workers_merged(r->workers, r->cur, &r->cpu_user_s, &r->cpu_sys_s, &r->workers_rss,
                       &r->workers_pss);
    worker_failed = app_workers_failed(r->workers, &worker_status);
  }
  struct run_outcome oc;
  memset(&oc, 0, sizeof oc);
  if (r->embedded) {
    app_run_emb_stop(&r->emb);
    app_run_platform_view(&oc.pv, &r->emb.final);
  }
  struct rec_run_info info;
  app_run_info_init(&info, o, r->cfg);
  info.platform_url = r->url;
  info.elapsed_s = r->elapsed_s;
  info.started_at = r->started;
  info.cpu_user_s = r->cpu_user_s;
  info.cpu_sys_s = r->cpu_sys_s;
  info.platform_in_process = r->embedded && !r->workers;
  info.workers = (uint32_t)o->workers;
  if (r->workers) {
    info.max_rss_bytes = r->workers_rss; /* the generator processes, summed */
    info.max_pss_bytes = r->workers_pss;
  } else {
    info.max_rss_bytes = sim_proc_peak_rss();
    info.max_pss_bytes = sim_proc_pss_sample();
  }
  if (worker_failed >= 0)
    fprintf(stderr, "hubsim run: worker %d ended with status %d before reporting its end\n",
            worker_failed, worker_status);
  info.interrupted = r->interrupted;
  static struct rec_capture_info wrec;
  if (r->rec.done) {
    info.record = &r->rec.info;
  } else if (r->workers && o->rec.path && app_workers_merged_record(r->workers, &wrec)) {
    /* One file per worker (docs/recorders.md): the figures add up; the file is their pattern. */
    static char pattern[PATH_MAX];
    app_record_worker_path(o->rec.path, -1, pattern, sizeof pattern);
    wrec.path = pattern;
    info.record = &wrec;
  }
  struct rec_tls tls = {.insecure = o->tls_insecure};
  struct rec_mqtt mqi;
  if (o->mq.on) {
    app_run_mqtt_info(r->mq, o, &mqi);
    info.mqtt = &mqi;
  }
  if (tls_of(r) && !r->workers) {
    sim_transport_tls_stats(tls_of(r), &tls.st);
    info.tls = &tls;
  } else if (r->workers && o->tls) {
    app_workers_merged_tls(r->workers, &tls.st); /* zero counts if none reported */
    info.tls = &tls;
  }
  oc.st = r->cur;
  oc.elapsed_s = r->elapsed_s;
  oc.cpu_user_s = r->cpu_user_s;
  oc.cpu_sys_s = r->cpu_sys_s;
  oc.script_failed = r->script_failed;
  oc.res = r->res;
  oc.have_res = r->have_res;
  oc.metrics = r->metrics;
  int exit_code = app_run_report(
      o, scn, &oc, &info,
      worker_failed >= 0 ? "a worker process ended without its final figures" : NULL, 0);
  r->scn = NULL;
  app_metrics_close(r->metrics, r->loop); /* after --prometheus-linger */
  sim_fleet_free(r->fleet);
  app_z2m_free(r->z2m);
  free_transport(r);
  app_hub_certs_free(r->certs);
  app_workers_free(r->workers);
  uv_loop_close(r->loop);
  return exit_code;
}

/* A real-clock run: against the embedded platform or --platform, the fleet here or in
 * --workers processes, or (--worker) one shard of a fleet reporting to its control process. */
static int run_real_clock(const struct run_opts *o, struct sim_fleet_config *cfg, struct scn *scn) {
  int rc = real_fits(o);
  if (rc == APP_RUN_GO_ON)
    rc = app_run_shard_wait(o);
  if (rc != APP_RUN_GO_ON)
    return rc;
  static struct run r;
  static struct sim_fleet_stats s1, s2;
  memset(&r, 0, sizeof(r));
  r.o = *o;
  r.cfg = cfg;
  r.prev = &s1;
  r.cur = &s2;
  r.embedded = !o->platform || o->mq.embedded;
  rc = app_metrics_open(&o->mo, uv_default_loop(), o->max_lag_ms, scn, peek_stats, &r, &r.metrics);
  if (rc)
    return rc;
  rc = real_prepare(&r);
  if (rc != APP_RUN_GO_ON) {
    app_metrics_close(r.metrics, NULL);
    app_record_finish(&r.rec); /* the file keeps its header: a capture of nothing */
    return rc;
  }
  real_begin(&r);
  real_attach(&r, scn);
  uv_run(r.loop, UV_RUN_DEFAULT);
  app_record_finish(&r.rec);
  if (o->shards > 1) {
    /* A worker: its figures went to the control process, which judges the run; the capture's
     * last figures (the Goodbyes of the stop, the final write) follow in one more final
     * snapshot of the same counts. */
    if (r.rec.done)
      app_worker_send(APP_WORKER_FD, r.cur, worker_tls(&r), worker_rec(&r), r.cpu_user_s,
                      r.cpu_sys_s, 1);
    app_metrics_close(r.metrics, NULL);
    sim_fleet_free(r.fleet);
    app_z2m_free(r.z2m);
    free_transport(&r);
    app_hub_certs_free(r.certs);
    uv_loop_close(r.loop);
    return 0;
  }
  return real_finish(&r, scn);
}

/* The device catalogue: the built-in models and --catalog's. APP_RUN_GO_ON or 2. */
static int load_catalog(const struct run_opts *o) {
  struct dev_cat_error cerr;
  if (dev_cat_global_init(o->catalog, o->n_catalog, &cerr) >= 0)
    return APP_RUN_GO_ON;
  if (cerr.line > 0)
    fprintf(stderr, "hubsim run: %s:%d: %s\n", cerr.file, cerr.line, cerr.reason);
  else
    fprintf(stderr, "hubsim run: %s: %s\n", cerr.file, cerr.reason);
  return 2;
}

int app_run_main(int argc, char **argv) {
  /* A file size limit (RLIMIT_FSIZE) would kill the run, its embedded platform with it, by
   * SIGXFSZ at the first write beyond it: ignored, that write fails (EFBIG) and is reported. */
  signal(SIGXFSZ, SIG_IGN);
  struct run_opts o;
  static struct scn *scn;
  static struct sim_fleet_config cfg;
  scn = NULL;
  int rc = app_run_flags(&o, argc, argv);
  if (rc == APP_RUN_GO_ON)
    rc = load_catalog(&o);
  if (rc == APP_RUN_GO_ON)
    rc = app_run_scenario(&o, &scn);
  if (rc == APP_RUN_GO_ON)
    rc = app_run_fleet_config(&o, scn, &cfg);
  if (rc == APP_RUN_GO_ON)
    rc = o.clock_virtual ? app_run_virtual_clock(&o, &cfg, scn) : run_real_clock(&o, &cfg, scn);
  if (scn)
    scn_free(scn);
  app_run_flags_fini(&o);
  return rc;
}
