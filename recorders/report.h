/* The HTML report of a run (--report DIR): DIR/index.html, one self-contained page (inline CSS
 * and SVG, no script, nothing fetched from a network, laid out for print) built from the
 * interval series (recorders/metrics.h), the run's settings, its final figures and its verdict.
 * docs/metrics.md section 4 describes it.
 *
 * Charts, each an <svg data-chart="NAME"> whose lines are <path data-series="NAME">:
 *   throughput  reports/s generated, sent, acked, resent
 *   latency     report Ack latency p50, p90, p99 (ms)
 *   hubs        hubs online, and hubs in the fleet
 *   generator   generator tick lag p99 (ms), with --max-lag as a dashed line; late intervals
 *               marked
 *   expectations  (a scenario run) passed, failed, pending over time
 * An interval without a sample leaves a gap in its line, never a 0.
 *
 * Writing is atomic (sim/core/wfile.h); DIR is created (one level) when missing. */
#ifndef REC_REPORT_H
#define REC_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "recorders/metrics.h"
#include "recorders/summary.h"

struct rec_report {
  const struct rec_run_info *run; /* settings, scenario and its expectations */
  const struct rec_verdict *v;
  const struct sim_fleet_stats *st; /* the final figures */
  const struct rec_metrics_row *rows;
  size_t n_rows;
  uint64_t rows_not_kept; /* rows after REC_METRICS_KEEP: not charted (the page says so) */
  double interval_s;      /* --metrics-interval */
  const char *version;    /* hubsim's */
};

/* At most this many points per line: a longer series is drawn one row in every k (each drawn
 * point a measured row; the page says so). */
#define REC_REPORT_MAX_POINTS 2000

/* Writes DIR/index.html. 0, or a negative errno (the folder or the file); on failure nothing
 * is left at DIR/index.html that was not there before. */
int rec_report_write(const char *dir, const struct rec_report *r);

#endif
