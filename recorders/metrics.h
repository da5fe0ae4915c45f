/* The interval series of a run: one row per --metrics-interval of run time, made from two
 * cumulative snapshots of the fleet's figures, written as one JSON line each to
 * --metrics-out FILE.jsonl (schema "hubsim.metrics/1", docs/summary.md section 11) and kept in
 * memory for the HTML report (recorders/report.h).
 *
 * Crash-safe: a run killed at any moment (SIGKILL included) leaves whole rows: each row goes to
 * the file in one write(2) that never crosses a page boundary of the file (metrics.c says how),
 * the one place where the kernel may cut a write short for a dying process. The last row of a
 * killed run may lack its newline. A write that fails half-way (a full disk) is cut back to
 * the last whole row and the error is returned.
 *
 * Honest: a figure with no sample in the interval (no Ack, no device tick) is written as null,
 * never as 0.
 *
 * Threading: one thread (the run's loop); no callbacks. */
#ifndef REC_METRICS_H
#define REC_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "sim/fleet/fleet.h"

#define REC_METRICS_SCHEMA "hubsim.metrics/1"

/* Percentiles of one latency over one interval, in milliseconds; count 0: no sample (null). */
struct rec_metrics_lat {
  uint64_t count;
  double p50_ms, p90_ms, p99_ms, max_ms;
};

/* Per-second rates and cumulative counts of reports (the counts of every message kind in
 * brackets where the fleet keeps them only so). */
enum rec_metrics_count {
  REC_MC_GENERATED = 0, /* reports generated */
  REC_MC_SENT,          /* reports sent the first time */
  REC_MC_ACKED,         /* reports acknowledged */
  REC_MC_RESENT,        /* reports sent again after a reconnect */
  REC_MC_LOST,          /* [every kind] sent, then neither acknowledged nor held: the summary's */
  REC_MC_DROPPED,       /* reports dropped by a full hub queue */
  REC_MC_NRATES
};

/* A scenario's expectations as a live view sees them at the end of the interval. */
struct rec_metrics_exp {
  uint32_t total, passed, failed, no_data, pending;
};

/* One interval. */
struct rec_metrics_row {
  uint64_t seq;      /* 1, 2, ... */
  int final;         /* the last row: up to the end of the run, its counts are the summary's */
  int draining;      /* the run was draining at the end of the interval */
  double run_s;      /* run clock (engine time: virtual on the virtual clock) at its end */
  double interval_s; /* its length on the run clock */
  double wall_s;     /* wall time since the run started, at its end */
  char wall[32];     /* wall clock at its end, ISO 8601 UTC with milliseconds */
  double rate[REC_MC_NRATES];    /* per second of run clock over the interval */
  uint64_t count[REC_MC_NRATES]; /* cumulative at its end */
  uint64_t in_flight, queued;
  struct rec_metrics_lat ack, send_lag, tick_lag;
  uint32_t hubs;
  uint32_t hubs_state[SIM_HUB_NSTATES];
  int late;     /* tick lag p99 of the interval above the threshold; -1: no tick (null) */
  int have_exp; /* a scenario runs */
  struct rec_metrics_exp exp;
};

/* Fills row (seq, wall clock and expectations are the caller's to set) from prev and cur,
 * cumulative snapshots of the same fleet, prev taken first. max_lag_ms: the generator's
 * threshold (--max-lag). */
void rec_metrics_row_fill(struct rec_metrics_row *row, const struct sim_fleet_stats *prev,
                          const struct sim_fleet_stats *cur, double max_lag_ms);

/* The series: rows kept in memory (at most REC_METRICS_KEEP: a longer run keeps its first
 * ones and counts the rest) and, when opened with a path, the JSON lines file. */
#define REC_METRICS_KEEP 100000u
struct rec_metrics;

/* path NULL: memory only. The file is created or truncated; a symbolic link at path is
 * refused (never followed). 0 with *out, or a negative errno / SIM_ENOMEM. */
int rec_metrics_new(const char *path, struct rec_metrics **out);
/* Appends row (copied): to memory, and one whole line to the file. 0 or a negative errno of
 * the write (the file then ends with its last whole line; later rows still go to memory). */
int rec_metrics_add(struct rec_metrics *m, const struct rec_metrics_row *row);
/* The rows kept (borrowed until rec_metrics_free) and how many were not kept. */
const struct rec_metrics_row *rec_metrics_rows(const struct rec_metrics *m, size_t *n,
                                               uint64_t *not_kept);
/* The JSON line of row, without the newline, in buf (cap bytes). Its length, or SIM_ENOMEM /
 * SIM_EINVAL when it does not fit. */
int rec_metrics_line(const struct rec_metrics_row *row, char *buf, size_t cap);
/* Closes the file (fsync first, so the series is on disk when the summary is). 0 or the
 * negative errno of the sync or the close; m is freed either way. NULL is allowed. */
int rec_metrics_free(struct rec_metrics *m);

#endif
