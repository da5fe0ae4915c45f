/* The recorders of a run over time: the interval series (--metrics-out), the HTML report made
 * from it (--report) and the Prometheus endpoint (--prometheus). Both clocks' runs feed the
 * same recorder: the real-clock run from a libuv timer, the virtual one from its timeline. */
#include "app/run_metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include "app/parse.h"
#include "app/version.h"
#include "recorders/metrics.h"
#include "recorders/prom.h"
#include "recorders/report.h"
#include "recorders/summary.h"
#include "scenarios/scn.h"
#include "sim/core/err.h"
#include "sim/core/wfile.h"

enum { MO_OUT = APP_RUN_METRICS_FIRST, MO_INTERVAL, MO_REPORT, MO_PROM, MO_LINGER };

const struct option app_run_metrics_longopts[APP_RUN_METRICS_NOPTS] = {
    {"metrics-out", required_argument, 0, MO_OUT},
    {"metrics-interval", required_argument, 0, MO_INTERVAL},
    {"report", required_argument, 0, MO_REPORT},
    {"prometheus", required_argument, 0, MO_PROM},
    {"prometheus-linger", required_argument, 0, MO_LINGER},
};

/* The shortest interval: a row costs a snapshot of the fleet's figures and a line. */
#define MIN_INTERVAL_S 0.01

static int bad(const char *flag, const char *value, const char *why) {
  fprintf(stderr, "hubsim run: %s '%s': %s (see hubsim run --help)\n", flag, value, why);
  return 2;
}

/* --prometheus: "PORT" (on 127.0.0.1) or "IPV4:PORT"; port 0 takes a free one. */
static int prom_addr(struct app_metrics_opts *mo, const char *v) {
  const char *colon = strrchr(v, ':');
  const char *port = colon ? colon + 1 : v;
  uint64_t p;
  if (app_parse_u64(port, 0, 65535, &p))
    return bad("--prometheus", v, "expected HOST:PORT or PORT, PORT from 0 (any free) to 65535");
  if (colon) {
    struct in_addr ip;
    size_t n = (size_t)(colon - v);
    if (n == 0 || n >= sizeof mo->prom_host)
      return bad("--prometheus", v, "expected an IPv4 HOST such as 127.0.0.1 before ':'");
    memcpy(mo->prom_host, v, n);
    mo->prom_host[n] = '\0';
    if (inet_pton(AF_INET, mo->prom_host, &ip) != 1)
      return bad("--prometheus", v, "HOST must be an IPv4 address such as 127.0.0.1");
  } else {
    snprintf(mo->prom_host, sizeof mo->prom_host, "127.0.0.1");
  }
  mo->prom_port = (uint16_t)p;
  mo->prom = v;
  return -1;
}

/* --report DIR: an existing folder where index.html can be written, or a new one whose parent
 * folder exists (it is made at the end). */
static int report_dir(struct app_metrics_opts *mo, const char *v) {
  char why[256], index[PATH_MAX];
  struct stat st;
  if (!*v)
    return bad("--report", v, "expected a folder");
  if (snprintf(index, sizeof index, "%s/index.html", v) >= (int)sizeof index)
    return bad("--report", v, "path too long");
  if (stat(v, &st) == 0 && !S_ISDIR(st.st_mode))
    return bad("--report", v, "is a file, not a folder");
  if (sim_wfile_check(stat(v, &st) == 0 ? index : v, why, sizeof why))
    return bad("--report", v, why);
  mo->report = v;
  return -1;
}

int app_run_metrics_flag(struct app_metrics_opts *mo, int c, const char *v) {
  if (c < APP_RUN_METRICS_FIRST || c >= APP_RUN_METRICS_FIRST + APP_RUN_METRICS_NOPTS)
    return -2;
  unsigned bit = 1u << (c - APP_RUN_METRICS_FIRST);
  if (mo->given & bit)
    return bad(app_run_metrics_longopts[c - APP_RUN_METRICS_FIRST].name, v, "given twice");
  mo->given |= bit;
  char why[256];
  switch (c) {
  case MO_OUT:
    if (sim_wfile_check(v, why, sizeof why))
      return bad("--metrics-out", v, why);
    mo->out = v;
    return -1;
  case MO_INTERVAL:
    if (app_parse_duration(v, 1, APP_PARSE_DURATION_MAX_S, &mo->interval_s) ||
        mo->interval_s < MIN_INTERVAL_S)
      return bad("--metrics-interval", v, "expected a duration of at least 10ms, such as 1s");
    return -1;
  case MO_REPORT:
    return report_dir(mo, v);
  case MO_PROM:
    return prom_addr(mo, v);
  default:
    if (app_parse_duration(v, 1, 3600, &mo->prom_linger_s))
      return bad("--prometheus-linger", v, "expected a duration of at most 1h, such as 5s");
    return -1;
  }
}

int app_run_metrics_check(struct app_metrics_opts *mo) {
  if (!(mo->given & (1u << (MO_INTERVAL - APP_RUN_METRICS_FIRST))))
    mo->interval_s = 1.0;
  if ((mo->given & (1u << (MO_INTERVAL - APP_RUN_METRICS_FIRST))) && !mo->out && !mo->report) {
    fprintf(stderr, "hubsim run: --metrics-interval needs --metrics-out or --report (see "
                    "hubsim run --help)\n");
    return 2;
  }
  if ((mo->given & (1u << (MO_LINGER - APP_RUN_METRICS_FIRST))) && !mo->prom) {
    fprintf(stderr, "hubsim run: --prometheus-linger needs --prometheus (see hubsim run --help)\n");
    return 2;
  }
  return -1;
}

int app_run_metrics_control_only(int c) {
  return c >= APP_RUN_METRICS_FIRST && c < APP_RUN_METRICS_FIRST + APP_RUN_METRICS_NOPTS;
}

void app_run_metrics_help(FILE *out) {
  fputs("over time (docs/metrics.md):\n"
        "  --metrics-out FILE    one JSON line per interval (rates, latency percentiles, hubs\n"
        "                        by state, generator lag, expectations); whole lines even if\n"
        "                        the run is killed; with --workers one merged series\n"
        "  --metrics-interval D  the interval of run clock (default 1s, at least 10ms)\n"
        "  --report DIR          write DIR/index.html: one self-contained page with charts of\n"
        "                        the series, the settings and the verdict\n"
        "  --prometheus ADDR     serve GET /metrics (Prometheus text format) on IPV4:PORT, or\n"
        "                        PORT on 127.0.0.1; port 0 takes a free one (printed)\n"
        "  --prometheus-linger D after the summary, serve the final figures D longer (default\n"
        "                        0), so that a scraper sees the end of the run\n"
        "\n",
        out);
}

/* ---- the recorder ---------------------------------------------------------------------------- */

struct app_metrics {
  const struct app_metrics_opts *mo;
  double max_lag_ms;
  struct scn *scn;
  void (*peek)(void *arg, struct sim_fleet_stats *out);
  void *arg;
  struct rec_metrics *series; /* NULL: neither --metrics-out nor --report */
  int write_failed;
  struct sim_fleet_stats *stats; /* two snapshots: prev and cur point into it, in turn */
  struct sim_fleet_stats *prev, *cur;
  sim_time_t next; /* run clock of the next row */
  uint64_t seq;
  uint64_t wall0_ns;            /* uv_hrtime() at the start */
  struct rec_prom *prom;        /* --prometheus; NULL: none */
  struct sim_fleet_stats *page; /* what a scrape reads: a peek, or the final figures */
  struct rec_prom_extra final_x;
  int ended;
  uv_timer_t linger;
  uv_signal_t sig[2];
};

static void exp_counts(struct app_metrics *m, const struct scn_results *fin,
                       struct rec_metrics_row *row);

/* A scrape: the figures now (a read that changes nothing), or the final ones after the end. */
static int page_cb(void *arg, struct sim_buf *out) {
  struct app_metrics *m = arg;
  struct rec_prom_extra x = m->final_x;
  if (!m->ended) {
    memset(&x, 0, sizeof x);
    m->peek(m->arg, m->page);
    if (m->scn) {
      struct rec_metrics_row row;
      memset(&row, 0, sizeof row);
      exp_counts(m, NULL, &row);
      x = (struct rec_prom_extra){.have_exp = 1,
                                  .exp_passed = row.exp.passed,
                                  .exp_failed = row.exp.failed,
                                  .exp_no_data = row.exp.no_data,
                                  .exp_pending = row.exp.pending};
    }
  }
  return rec_prom_render(out, m->page, &x);
}

static int prom_open(struct app_metrics *m, uv_loop_t *loop) {
  const struct app_metrics_opts *mo = m->mo;
  if (!(m->page = malloc(sizeof *m->page))) {
    fprintf(stderr, "hubsim run: out of memory\n");
    return 3;
  }
  int rc = rec_prom_start(loop, mo->prom_host, mo->prom_port, page_cb, m, &m->prom);
  if (rc) {
    fprintf(stderr, "hubsim run: --prometheus '%s': cannot listen on %s:%u: %s\n", mo->prom,
            mo->prom_host, mo->prom_port, sim_strerror(rc));
    return 2;
  }
  /* Printed even with -q: with port 0 nobody else knows where the endpoint is. */
  fprintf(stderr, "hubsim run: Prometheus metrics at http://%s:%u/metrics\n", mo->prom_host,
          rec_prom_port(m->prom));
  return 0;
}

int app_metrics_open(const struct app_metrics_opts *mo, uv_loop_t *loop, double max_lag_ms,
                     struct scn *scn, void (*peek)(void *arg, struct sim_fleet_stats *out),
                     void *arg, struct app_metrics **out) {
  *out = NULL;
  if (!mo->out && !mo->report && !mo->prom)
    return 0;
  struct app_metrics *m = calloc(1, sizeof *m);
  if (!m || !(m->stats = calloc(2, sizeof *m->stats))) {
    free(m);
    fprintf(stderr, "hubsim run: out of memory\n");
    return 3;
  }
  m->prev = m->stats;
  m->cur = m->stats + 1;
  m->mo = mo;
  m->max_lag_ms = max_lag_ms;
  m->scn = scn;
  m->peek = peek;
  m->arg = arg;
  m->next = INT64_MAX;
  if (mo->out || mo->report) {
    int rc = rec_metrics_new(mo->out, &m->series);
    if (rc) {
      fprintf(stderr, "hubsim run: --metrics-out '%s': cannot create: %s\n", mo->out,
              sim_strerror(rc));
      app_metrics_close(m, NULL);
      return 2;
    }
  }
  if (mo->prom) {
    int code = prom_open(m, loop);
    if (code) {
      app_metrics_close(m, NULL);
      return code;
    }
  }
  *out = m;
  return 0;
}

void app_metrics_begin(struct app_metrics *m, const struct sim_fleet_stats *first) {
  if (!m)
    return;
  *m->prev = *first;
  m->wall0_ns = uv_hrtime();
  if (m->series)
    m->next = first->now + (sim_time_t)(m->mo->interval_s * 1e6);
}

sim_time_t app_metrics_due(const struct app_metrics *m) {
  return m && m->series ? m->next : INT64_MAX;
}

/* The expectations as they stand: the final results at the end, a read-only peek before. */
static void exp_counts(struct app_metrics *m, const struct scn_results *fin,
                       struct rec_metrics_row *row) {
  struct scn_results peeked;
  const struct scn_results *res = fin;
  if (!res && m->scn) {
    scn_peek(m->scn, &peeked);
    res = &peeked;
  }
  if (!res)
    return;
  row->have_exp = 1;
  for (size_t i = 0; i < res->n_exp; i++) {
    row->exp.total++;
    switch (res->exp[i].verdict) {
    case SCN_PASS:
      row->exp.passed++;
      break;
    case SCN_FAIL:
      row->exp.failed++;
      break;
    case SCN_NO_DATA:
      row->exp.no_data++;
      break;
    default:
      row->exp.pending++;
    }
  }
}

/* A row from prev to cur, then cur becomes prev. */
static void add_row(struct app_metrics *m, int draining, int final, const struct scn_results *fin) {
  static struct rec_metrics_row row;
  memset(&row, 0, sizeof row);
  rec_metrics_row_fill(&row, m->prev, m->cur, m->max_lag_ms);
  row.seq = ++m->seq;
  row.final = final;
  row.draining = draining;
  uint64_t now_ns = uv_hrtime();
  row.wall_s = (double)(now_ns - m->wall0_ns) / 1e9;
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char day[24];
  strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(row.wall, sizeof row.wall, "%s.%03dZ", day, (int)(tv.tv_usec / 1000));
  exp_counts(m, fin, &row);
  int rc = rec_metrics_add(m->series, &row);
  if (rc && !m->write_failed) {
    m->write_failed = 1;
    fprintf(stderr,
            "hubsim run: --metrics-out '%s': cannot write: %s (the file keeps its whole "
            "lines)\n",
            m->mo->out ? m->mo->out : "", sim_strerror(rc));
  }
  struct sim_fleet_stats *t = m->prev;
  m->prev = m->cur;
  m->cur = t;
}

void app_metrics_row(struct app_metrics *m, const struct sim_fleet_stats *cur, int draining) {
  if (!m || !m->series)
    return;
  if (cur)
    *m->cur = *cur;
  else
    m->peek(m->arg, m->cur);
  if (m->cur->hubs == 0)
    return; /* workers that have not reported yet: nothing measured */
  sim_time_t step = (sim_time_t)(m->mo->interval_s * 1e6);
  while (m->next <= m->cur->now)
    m->next += step;
  add_row(m, draining, 0, NULL);
}

int app_metrics_end(struct app_metrics *m, const struct sim_fleet_stats *st,
                    const struct scn_results *res, const struct rec_run_info *info,
                    const struct rec_verdict *v) {
  if (!m)
    return 0;
  int code = 0;
  if (m->prom) {
    /* From now on a scrape reads the final figures: the fleet is about to be freed. */
    struct rec_metrics_row row;
    memset(&row, 0, sizeof row);
    exp_counts(m, res, &row);
    *m->page = *st;
    m->final_x = (struct rec_prom_extra){.ended = 1,
                                         .have_exp = row.have_exp,
                                         .exp_passed = row.exp.passed,
                                         .exp_failed = row.exp.failed,
                                         .exp_no_data = row.exp.no_data,
                                         .exp_pending = row.exp.pending};
    m->ended = 1;
  }
  if (m->series) {
    *m->cur = *st;
    add_row(m, 1, 1, res);
    if (m->write_failed)
      code = 3;
  }
  if (m->series && m->mo->report) {
    struct rec_report rep = {
        .run = info, .v = v, .st = st, .interval_s = m->mo->interval_s, .version = HUBSIM_VERSION};
    rep.rows = rec_metrics_rows(m->series, &rep.n_rows, &rep.rows_not_kept);
    int rc = rec_report_write(m->mo->report, &rep);
    if (rc) {
      fprintf(stderr, "hubsim run: --report '%s': cannot write: %s\n", m->mo->report,
              sim_strerror(rc));
      code = 3;
    }
  }
  if (m->series) {
    int rc = rec_metrics_free(m->series);
    m->series = NULL;
    if (rc && !m->write_failed && m->mo->out) {
      fprintf(stderr, "hubsim run: --metrics-out '%s': cannot write: %s\n", m->mo->out,
              sim_strerror(rc));
      code = 3;
    }
  }
  return code;
}

static void linger_over(struct app_metrics *m) {
  uv_close((uv_handle_t *)&m->linger, NULL);
  uv_close((uv_handle_t *)&m->sig[0], NULL);
  uv_close((uv_handle_t *)&m->sig[1], NULL);
  rec_prom_stop(m->prom);
  m->prom = NULL;
}

static void on_linger(uv_timer_t *t) {
  linger_over(t->data);
}

static void on_linger_signal(uv_signal_t *s, int sig) {
  (void)sig;
  linger_over(s->data);
}

void app_metrics_close(struct app_metrics *m, uv_loop_t *loop) {
  if (!m)
    return;
  if (m->prom && loop && m->ended && m->mo->prom_linger_s > 0) {
    uv_timer_init(loop, &m->linger);
    m->linger.data = m->sig[0].data = m->sig[1].data = m;
    uv_signal_init(loop, &m->sig[0]);
    uv_signal_init(loop, &m->sig[1]);
    uv_signal_start(&m->sig[0], on_linger_signal, SIGINT);
    uv_signal_start(&m->sig[1], on_linger_signal, SIGTERM);
    uv_timer_start(&m->linger, on_linger, (uint64_t)(m->mo->prom_linger_s * 1000), 0);
    uv_run(loop, UV_RUN_DEFAULT); /* until linger_over: its handles closed, the endpoint too */
  }
  if (m->prom) {
    rec_prom_stop(m->prom);
    m->prom = NULL;
    if (loop)
      uv_run(loop, UV_RUN_DEFAULT); /* the endpoint's handles close */
  }
  free(m->page);
  rec_metrics_free(m->series);
  free(m->stats);
  free(m);
}
