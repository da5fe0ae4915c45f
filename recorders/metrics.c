/* The interval series: rows from pairs of snapshots, their JSON lines, the file they go to. */
#include "recorders/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "recorders/summary.h"
#include "sim/core/err.h"
#include "sim/core/hist.h"

struct rec_metrics {
  int fd;      /* -1: memory only */
  off_t whole; /* bytes of whole lines in the file */
  int failed;  /* a write failed: the file keeps what it had, nothing more is written */
  struct rec_metrics_row *rows;
  size_t n, cap;
  uint64_t not_kept;
};

static const char *count_names[REC_MC_NRATES] = {"generated", "sent", "acked",
                                                 "resent",    "lost", "dropped"};

/* Percentiles of one interval's samples: the difference of two cumulative histograms. */
static void lat_fill(struct rec_metrics_lat *l, const struct sim_hist *cur,
                     const struct sim_hist *prev) {
  static struct sim_hist d; /* 35 KiB: one thread writes the series */
  sim_hist_diff(cur, prev, &d);
  memset(l, 0, sizeof *l);
  l->count = d.count;
  if (!d.count)
    return;
  l->p50_ms = (double)sim_hist_quantile(&d, 0.5) / 1000.0;
  l->p90_ms = (double)sim_hist_quantile(&d, 0.9) / 1000.0;
  l->p99_ms = (double)sim_hist_quantile(&d, 0.99) / 1000.0;
  l->max_ms = (double)sim_hist_quantile(&d, 1.0) / 1000.0;
}

static void counts_of(const struct sim_fleet_stats *st, uint64_t out[REC_MC_NRATES]) {
  const struct sim_seq_counts *r = &st->kind[SIM_SEQ_REPORT];
  out[REC_MC_GENERATED] = r->generated;
  out[REC_MC_SENT] = r->sent;
  out[REC_MC_ACKED] = r->acked;
  out[REC_MC_RESENT] = r->resent;
  out[REC_MC_LOST] = rec_lost(st);
  out[REC_MC_DROPPED] = r->dropped;
}

void rec_metrics_row_fill(struct rec_metrics_row *row, const struct sim_fleet_stats *prev,
                          const struct sim_fleet_stats *cur, double max_lag_ms) {
  uint64_t before[REC_MC_NRATES];
  counts_of(prev, before);
  counts_of(cur, row->count);
  row->run_s = (double)cur->now / 1e6;
  row->interval_s = (double)(cur->now - prev->now) / 1e6;
  for (int i = 0; i < REC_MC_NRATES; i++) {
    /* A difference of cumulative counts; lost may shrink when a message counted lost is
     * acknowledged late, so the difference is signed. */
    double d = (double)row->count[i] - (double)before[i];
    row->rate[i] = row->interval_s > 0 ? d / row->interval_s : 0;
  }
  row->in_flight = cur->in_flight;
  row->queued = cur->queued;
  lat_fill(&row->ack, &cur->ack_latency, &prev->ack_latency);
  lat_fill(&row->send_lag, &cur->send_lag, &prev->send_lag);
  lat_fill(&row->tick_lag, &cur->tick_lag, &prev->tick_lag);
  row->hubs = cur->hubs;
  memcpy(row->hubs_state, cur->hubs_by_state, sizeof row->hubs_state);
  row->late = row->tick_lag.count ? row->tick_lag.p99_ms > max_lag_ms : -1;
}

/* ---- the JSON line ----------------------------------------------------------------------- */

static json_t *lat_json(const struct rec_metrics_lat *l) {
  if (!l->count)
    return json_null();
  return json_pack("{s:I,s:f,s:f,s:f,s:f}", "count", (json_int_t)l->count, "p50_ms", l->p50_ms,
                   "p90_ms", l->p90_ms, "p99_ms", l->p99_ms, "max_ms", l->max_ms);
}

static json_t *row_json(const struct rec_metrics_row *r) {
  json_t *o = json_object(), *rates = json_object(), *counts = json_object();
  json_t *lat = json_object(), *hubs = json_object();
  json_object_set_new(o, "schema", json_string(REC_METRICS_SCHEMA));
  json_object_set_new(o, "seq", json_integer((json_int_t)r->seq));
  json_object_set_new(o, "final", json_boolean(r->final));
  json_object_set_new(o, "phase",
                      json_string(r->final      ? "ended"
                                  : r->draining ? "draining"
                                                : "running"));
  json_object_set_new(o, "run_s", json_real(r->run_s));
  json_object_set_new(o, "interval_s", json_real(r->interval_s));
  json_object_set_new(o, "wall", json_string(r->wall));
  json_object_set_new(o, "wall_s", json_real(r->wall_s));
  for (int i = 0; i < REC_MC_NRATES; i++) {
    if (r->interval_s > 0)
      json_object_set_new(rates, count_names[i], json_real(r->rate[i]));
    else
      json_object_set_new(rates, count_names[i], json_null()); /* an empty interval */
    json_object_set_new(counts, count_names[i], json_integer((json_int_t)r->count[i]));
  }
  json_object_set_new(counts, "in_flight", json_integer((json_int_t)r->in_flight));
  json_object_set_new(counts, "queued", json_integer((json_int_t)r->queued));
  json_object_set_new(o, "rates", rates);
  json_object_set_new(o, "counts", counts);
  json_object_set_new(lat, "report_ack", lat_json(&r->ack));
  json_object_set_new(lat, "report_send_lag", lat_json(&r->send_lag));
  json_object_set_new(lat, "generator_tick_lag", lat_json(&r->tick_lag));
  json_object_set_new(o, "latency", lat);
  json_object_set_new(hubs, "total", json_integer(r->hubs));
  for (int s = 0; s < SIM_HUB_NSTATES; s++)
    json_object_set_new(hubs, sim_hub_state_name((enum sim_hub_state)s),
                        json_integer(r->hubs_state[s]));
  json_object_set_new(o, "hubs", hubs);
  json_object_set_new(o, "generator_late", r->late < 0 ? json_null() : json_boolean(r->late));
  if (r->have_exp)
    json_object_set_new(o, "expectations",
                        json_pack("{s:i,s:i,s:i,s:i,s:i}", "total", (int)r->exp.total, "passed",
                                  (int)r->exp.passed, "failed", (int)r->exp.failed, "no_data",
                                  (int)r->exp.no_data, "pending", (int)r->exp.pending));
  else
    json_object_set_new(o, "expectations", json_null());
  return o;
}

int rec_metrics_line(const struct rec_metrics_row *row, char *buf, size_t cap) {
  json_t *o = row_json(row);
  if (!o)
    return SIM_ENOMEM;
  /* Ten significant digits: run_s keeps its milliseconds for a run of months, and rates do
   * not print 17 digits of binary noise. */
  size_t n = json_dumpb(o, buf, cap, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
  json_decref(o);
  if (n == 0)
    return SIM_ENOMEM;
  if (n >= cap)
    return SIM_EINVAL;
  buf[n] = '\0';
  return (int)n;
}

/* ---- the series ---------------------------------------------------------------------------- */

int rec_metrics_new(const char *path, struct rec_metrics **out) {
  struct rec_metrics *m = calloc(1, sizeof *m);
  if (!m)
    return SIM_ENOMEM;
  m->fd = -1;
  if (path) {
    m->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (m->fd < 0) {
      int rc = -errno;
      free(m);
      return rc;
    }
  }
  *out = m;
  return 0;
}

/* The file's bytes in the page cache are written page by page, and a process killed during a
 * write(2) (SIGKILL) stops at a page boundary: a write that crosses one may be cut there. So no
 * row ever crosses one. A row goes out as "\n" + JSON, its newline ending the row before it
 * (the last row gets its newline when the file is closed); when "\n" + JSON would cross a page
 * boundary, spaces first fill the page: they end the row before as trailing blanks of its
 * JSON, so that a cut at the boundary leaves that row whole and this one absent. */
#define PAGE 4096u

/* One row or nothing: a short write (a full disk, a file size limit) is cut back to where the
 * write began, so that a reader never sees half a row. */
static int write_row(struct rec_metrics *m, const char *json, size_t n) {
  static char out[2 * PAGE + 2];
  size_t len = 0, at = (size_t)(m->whole % PAGE);
  if (m->whole > 0) {
    if (at + 1 + n > PAGE && 1 + n <= PAGE) {
      memset(out, ' ', PAGE - at);
      len = PAGE - at;
    }
    out[len++] = '\n';
  }
  memcpy(out + len, json, n);
  len += n;
  size_t done = 0;
  while (done < len) {
    ssize_t w = write(m->fd, out + done, len - done);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      int rc = w < 0 ? -errno : -ENOSPC;
      if (ftruncate(m->fd, m->whole) != 0) {
        /* Nothing more to do: the file keeps a partial row, and the error says why. */
      }
      m->failed = 1;
      return rc;
    }
    done += (size_t)w;
  }
  m->whole += (off_t)len;
  return 0;
}

int rec_metrics_add(struct rec_metrics *m, const struct rec_metrics_row *row) {
  if (m->n < REC_METRICS_KEEP) {
    if (m->n == m->cap) {
      size_t cap = m->cap ? m->cap * 2 : 64;
      struct rec_metrics_row *r = realloc(m->rows, cap * sizeof *r);
      if (!r)
        return SIM_ENOMEM;
      m->rows = r;
      m->cap = cap;
    }
    m->rows[m->n++] = *row;
  } else {
    m->not_kept++;
  }
  if (m->fd < 0 || m->failed)
    return 0;
  char line[PAGE];
  int n = rec_metrics_line(row, line, sizeof line);
  if (n < 0)
    return n;
  return write_row(m, line, (size_t)n);
}

const struct rec_metrics_row *rec_metrics_rows(const struct rec_metrics *m, size_t *n,
                                               uint64_t *not_kept) {
  *n = m->n;
  if (not_kept)
    *not_kept = m->not_kept;
  return m->rows;
}

int rec_metrics_free(struct rec_metrics *m) {
  if (!m)
    return 0;
  int rc = 0;
  if (m->fd >= 0) {
    /* The last row's newline. */
    if (m->whole > 0 && write(m->fd, "\n", 1) != 1 && !m->failed)
      rc = -errno;
    if (fsync(m->fd) != 0 && rc == 0)
      rc = -errno;
    if (close(m->fd) != 0 && rc == 0)
      rc = -errno;
  }
  free(m->rows);
  free(m);
  return rc;
}
