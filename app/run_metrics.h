/* What `hubsim run` records over time and shows from outside while it runs: the interval series
 * (--metrics-out, --metrics-interval), the HTML report built from it (--report) and the
 * Prometheus endpoint (--prometheus, --prometheus-linger). The flags, and the recorder that
 * both clocks' runs feed. Not an API: internals of `hubsim run` (run_internal.h). */
#ifndef APP_RUN_METRICS_H
#define APP_RUN_METRICS_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "sim/fleet/fleet.h"

struct scn;
struct scn_results;
struct rec_run_info;
struct rec_verdict;

/* The flags (all kept by the control process: a worker records nothing of its own). */
struct app_metrics_opts {
  const char *out;      /* --metrics-out FILE.jsonl; NULL: none */
  double interval_s;    /* --metrics-interval (default 1 s) */
  const char *report;   /* --report DIR; NULL: none */
  const char *prom;     /* --prometheus ADDR as given; NULL: none */
  char prom_host[64];   /* its IPv4 address (127.0.0.1 when only a port was given) */
  uint16_t prom_port;   /* 0: any free port (printed) */
  double prom_linger_s; /* --prometheus-linger: serve the final figures this long after the end */
  unsigned given;
};

/* The long options of these flags, their values from APP_RUN_METRICS_FIRST on. */
#define APP_RUN_METRICS_FIRST 320
#define APP_RUN_METRICS_NOPTS 5
extern const struct option app_run_metrics_longopts[];
/* One flag c with its value: -1 (APP_RUN_GO_ON), -2 (not one of these) or the exit code. */
int app_run_metrics_flag(struct app_metrics_opts *mo, int c, const char *value);
/* The flags against each other, after reading them all: -1 (go on) or 2 after a message. */
int app_run_metrics_check(struct app_metrics_opts *mo);
/* 1 for a flag a worker must not get. */
int app_run_metrics_control_only(int c);
/* Their part of `hubsim run --help`. */
void app_run_metrics_help(FILE *out);

/* The recorder of one run, on the run's loop (one thread). */
struct app_metrics;

/* Opens what the flags ask for (the series file, the Prometheus listener on loop). peek(arg,
 * out) fills the run's current figures without changing them; it is called by the Prometheus
 * endpoint at each scrape (NULL: nothing served before the end). scn may be NULL. NULL *out
 * when no flag asks for anything. 0, or the exit code after a message (nothing left open). */
int app_metrics_open(const struct app_metrics_opts *mo, uv_loop_t *loop, double max_lag_ms,
                     struct scn *scn, void (*peek)(void *arg, struct sim_fleet_stats *out),
                     void *arg, struct app_metrics **out);
/* The run begins: first holds the figures at its start (run clock 0 usually). */
void app_metrics_begin(struct app_metrics *m, const struct sim_fleet_stats *first);
/* Run clock (µs) at which the next row is due; INT64_MAX without a series. */
sim_time_t app_metrics_due(const struct app_metrics *m);
/* A row up to cur (taken now): written when a series is recorded. draining: the run drains. */
void app_metrics_row(struct app_metrics *m, const struct sim_fleet_stats *cur, int draining);
/* The end of the run: the final row (its counts: the summary's), the report with the run's
 * settings and verdict, the series file closed; the Prometheus endpoint serves st from now on.
 * res: the scenario's final results (NULL: none). Returns 0, or 3 after a message when an
 * output could not be written. m may be NULL. */
int app_metrics_end(struct app_metrics *m, const struct sim_fleet_stats *st,
                    const struct scn_results *res, const struct rec_run_info *info,
                    const struct rec_verdict *v);
/* Serves the final figures for --prometheus-linger (running loop; SIGINT or SIGTERM end it
 * sooner), then closes the endpoint and frees m. m may be NULL. */
void app_metrics_close(struct app_metrics *m, uv_loop_t *loop);

#endif
