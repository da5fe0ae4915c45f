/* The HTML report: a page people read after a run, in a browser or on paper. Everything is
 * inline (CSS, SVG), so the file can be mailed, archived as a CI artifact or opened without a
 * network; there is no script at all. The charts are drawn here, from the interval series, as
 * plain SVG paths: a gap where an interval had no sample. */
#include "recorders/report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "recorders/junit.h"
#include "sim/core/err.h"
#include "sim/core/wfile.h"

/* Text into HTML (the XML escaping of the JUnit writer is HTML's too, invalid UTF-8 made
 * visible). */
static void esc(FILE *f, const char *text) {
  struct rec_junit_buf b = {0};
  rec_junit_escape(&b, text ? text : "", 1);
  if (b.data)
    fputs(b.data, f);
  rec_junit_buf_fini(&b);
}

/* ---- charts -------------------------------------------------------------------------------- */

/* One line of a chart: its value in a row, NAN when the row has no sample. */
struct line {
  const char *name;
  const char *color;
  double (*of)(const struct rec_metrics_row *r);
  int dashed;
};

struct chart {
  const char *id, *title, *unit;
  const struct line *lines;
  size_t n_lines;
  double hline; /* a threshold drawn dashed; NAN: none */
  const char *hline_name;
  int mark_late; /* marks the rows whose generator was late */
};

#define W 760.0
#define H 230.0
#define L 62.0 /* left margin: the y labels */
#define R 12.0
#define T 14.0
#define B 34.0

/* A round step for about five ticks up to top. */
static double nice_step(double top) {
  double raw = top / 5, p = pow(10, floor(log10(raw)));
  double m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

static void axes(FILE *f, double xmax, double ymax, const char *unit) {
  double ys = nice_step(ymax), xs = nice_step(xmax);
  for (double y = 0; y <= ymax * 1.0001; y += ys) {
    double py = T + (H - T - B) * (1 - y / ymax);
    fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", L, py,
            W - R, py);
    fprintf(f, "<text class=\"yl\" x=\"%.1f\" y=\"%.1f\">%g</text>", L - 6, py + 4, y);
  }
  for (double x = 0; x <= xmax * 1.0001; x += xs) {
    double px = L + (W - L - R) * (x / xmax);
    fprintf(f, "<text class=\"xl\" x=\"%.1f\" y=\"%.1f\">%g</text>", px, H - B + 16, x);
  }
  fprintf(f, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", L, H - B,
          W - R, H - B);
  fprintf(f, "<text class=\"xl\" x=\"%.1f\" y=\"%.1f\">run clock (s)</text>", (L + W - R) / 2,
          H - 4);
  fprintf(f, "<text class=\"unit\" x=\"4\" y=\"%.1f\">", T - 2);
  esc(f, unit);
  fputs("</text>", f);
}

/* The largest value of the chart's lines (and its threshold), for the y scale. */
static double chart_max(const struct chart *c, const struct rec_report *r, size_t step) {
  double m = isnan(c->hline) ? 0 : c->hline;
  for (size_t i = 0; i < r->n_rows; i += step)
    for (size_t k = 0; k < c->n_lines; k++) {
      double v = c->lines[k].of(&r->rows[i]);
      if (!isnan(v) && v > m)
        m = v;
    }
  return m > 0 ? m * 1.08 : 1;
}

/* One line as a path broken at rows without a sample; a point with no neighbour gets a dot so
 * that it shows. */
static void draw_line(FILE *f, const struct line *ln, const struct rec_report *r, size_t step,
                      double xmax, double ymax) {
  fprintf(f, "<path class=\"series\" data-series=\"%s\" stroke=\"%s\"%s d=\"", ln->name, ln->color,
          ln->dashed ? " stroke-dasharray=\"5 3\"" : "");
  int pen = 0;
  size_t points = 0;
  for (size_t i = 0; i < r->n_rows; i += step) {
    double v = ln->of(&r->rows[i]);
    if (isnan(v)) {
      pen = 0;
      continue;
    }
    double px = L + (W - L - R) * (r->rows[i].run_s / xmax);
    double py = T + (H - T - B) * (1 - v / ymax);
    fprintf(f, "%c%.1f %.1f ", pen ? 'L' : 'M', px, py);
    pen = 1;
    points++;
  }
  fprintf(f, "\" data-points=\"%zu\"/>", points);
  for (size_t i = 0; i < r->n_rows; i += step) {
    double v = ln->of(&r->rows[i]);
    int before = i >= step && !isnan(ln->of(&r->rows[i - step]));
    int after = i + step < r->n_rows && !isnan(ln->of(&r->rows[i + step]));
    if (isnan(v) || before || after)
      continue;
    fprintf(f, "<circle class=\"dot\" fill=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"/>", ln->color,
            L + (W - L - R) * (r->rows[i].run_s / xmax), T + (H - T - B) * (1 - v / ymax));
  }
}

static void draw_chart(FILE *f, const struct chart *c, const struct rec_report *r) {
  size_t step = r->n_rows > REC_REPORT_MAX_POINTS
                    ? (r->n_rows + REC_REPORT_MAX_POINTS - 1) / REC_REPORT_MAX_POINTS
                    : 1;
  double xmax = r->n_rows ? r->rows[r->n_rows - 1].run_s : 1;
  if (xmax <= 0)
    xmax = 1;
  double ymax = chart_max(c, r, step);
  fprintf(f, "<section class=\"chart\"><h3>");
  esc(f, c->title);
  fprintf(f,
          "</h3>\n<svg data-chart=\"%s\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
          "xmlns=\"http://www.w3.org/2000/svg\"><title>",
          c->id, W, H);
  esc(f, c->title);
  fputs("</title>", f);
  axes(f, xmax, ymax, c->unit);
  if (!isnan(c->hline)) {
    double py = T + (H - T - B) * (1 - c->hline / ymax);
    fprintf(f,
            "<line class=\"threshold\" data-series=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
            "y2=\"%.1f\"/>",
            c->hline_name, L, py, W - R, py);
  }
  if (c->mark_late)
    for (size_t i = 0; i < r->n_rows; i += step)
      if (r->rows[i].late == 1)
        fprintf(f, "<rect class=\"late\" x=\"%.1f\" y=\"%.1f\" width=\"3\" height=\"%.1f\"/>",
                L + (W - L - R) * (r->rows[i].run_s / xmax) - 1.5, T, H - T - B);
  for (size_t k = 0; k < c->n_lines; k++)
    draw_line(f, &c->lines[k], r, step, xmax, ymax);
  fputs("</svg>\n<p class=\"legend\">", f);
  for (size_t k = 0; k < c->n_lines; k++)
    fprintf(f, "<span><i style=\"background:%s\"></i>%s</span>", c->lines[k].color,
            c->lines[k].name);
  if (!isnan(c->hline))
    fprintf(f, "<span><i class=\"dash\"></i>%s</span>", c->hline_name);
  if (c->mark_late)
    fputs("<span><i class=\"latebox\"></i>late interval</span>", f);
  fputs("</p></section>\n", f);
}

/* ---- what the lines read ----------------------------------------------------------------------
 */

static double rate_or_nan(const struct rec_metrics_row *r, int i) {
  return r->interval_s > 0 ? r->rate[i] : NAN;
}
static double v_generated(const struct rec_metrics_row *r) {
  return rate_or_nan(r, REC_MC_GENERATED);
}
static double v_sent(const struct rec_metrics_row *r) {
  return rate_or_nan(r, REC_MC_SENT);
}
static double v_acked(const struct rec_metrics_row *r) {
  return rate_or_nan(r, REC_MC_ACKED);
}
static double v_resent(const struct rec_metrics_row *r) {
  return rate_or_nan(r, REC_MC_RESENT);
}
static double v_p50(const struct rec_metrics_row *r) {
  return r->ack.count ? r->ack.p50_ms : NAN;
}
static double v_p90(const struct rec_metrics_row *r) {
  return r->ack.count ? r->ack.p90_ms : NAN;
}
static double v_p99(const struct rec_metrics_row *r) {
  return r->ack.count ? r->ack.p99_ms : NAN;
}
static double v_online(const struct rec_metrics_row *r) {
  return r->hubs_state[SIM_HUB_OPEN];
}
static double v_hubs(const struct rec_metrics_row *r) {
  return r->hubs;
}
static double v_tick99(const struct rec_metrics_row *r) {
  return r->tick_lag.count ? r->tick_lag.p99_ms : NAN;
}
static double v_send99(const struct rec_metrics_row *r) {
  return r->send_lag.count ? r->send_lag.p99_ms : NAN;
}
static double v_passed(const struct rec_metrics_row *r) {
  return r->have_exp ? r->exp.passed : NAN;
}
static double v_failed(const struct rec_metrics_row *r) {
  return r->have_exp ? r->exp.failed + r->exp.no_data : NAN;
}
static double v_pending(const struct rec_metrics_row *r) {
  return r->have_exp ? r->exp.pending : NAN;
}

static const struct line thr_lines[] = {{"generated", "#7f7f7f", v_generated, 1},
                                        {"sent", "#1f77b4", v_sent, 0},
                                        {"acked", "#2ca02c", v_acked, 0},
                                        {"resent", "#d62728", v_resent, 0}};
static const struct line lat_lines[] = {{"ack p50", "#2ca02c", v_p50, 0},
                                        {"ack p90", "#ff7f0e", v_p90, 0},
                                        {"ack p99", "#d62728", v_p99, 0}};
static const struct line hub_lines[] = {{"hubs", "#7f7f7f", v_hubs, 1},
                                        {"online", "#2ca02c", v_online, 0}};
static const struct line gen_lines[] = {{"tick lag p99", "#9467bd", v_tick99, 0},
                                        {"send lag p99", "#17becf", v_send99, 0}};
static const struct line exp_lines[] = {{"passed", "#2ca02c", v_passed, 0},
                                        {"failed", "#d62728", v_failed, 0},
                                        {"pending", "#7f7f7f", v_pending, 1}};

/* ---- the page ------------------------------------------------------------------------------- */

static const char css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'DejaVu Sans',sans-serif;color:#222;"
    "max-width:820px;margin:24px auto;padding:0 16px}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px "
    "solid #ddd}h3{font-size:14px;margin:18px 0 4px}"
    ".verdict{padding:10px 14px;border-radius:6px;font-weight:600;margin:14px 0}"
    ".pass{background:#e6f4ea;border:1px solid #2ca02c}.fail{background:#fce8e6;border:1px "
    "solid #d62728}"
    "table{border-collapse:collapse;width:100%;table-layout:fixed}td,th{text-align:left;"
    "padding:3px 8px;overflow-wrap:anywhere;"
    "border-bottom:1px solid #eee;vertical-align:top}th{width:38%;font-weight:500;color:#555}"
    "svg{width:100%;height:auto;display:block}"
    ".grid{stroke:#eee}.axis{stroke:#999}.yl{font-size:11px;text-anchor:end;fill:#666}"
    ".xl{font-size:11px;text-anchor:middle;fill:#666}.unit{font-size:11px;fill:#666}"
    ".series{fill:none;stroke-width:1.8}.threshold{stroke:#d62728;stroke-dasharray:6 4}"
    ".late{fill:#d62728;opacity:.25}.legend span{margin-right:14px;font-size:12px}"
    ".legend i{display:inline-block;width:14px;height:3px;vertical-align:middle;margin-right:"
    "5px}.legend i.dash{border-top:2px dashed #d62728;height:0}.legend i.latebox{background:"
    "#d62728;opacity:.3;height:10px;width:6px}"
    ".PASS{color:#2ca02c}.FAIL,.NO_DATA{color:#d62728}.note{color:#666;font-size:12px}"
    "@media print{body{margin:0;max-width:none}.chart{break-inside:avoid}h2{break-after:avoid}}";

static void row_text(FILE *f, const char *k, const char *v) {
  fprintf(f, "<tr><th>%s</th><td>", k);
  esc(f, v);
  fputs("</td></tr>\n", f);
}

static void row_num(FILE *f, const char *k, double v, const char *unit) {
  char b[64];
  rec_format_number(b, sizeof b, v);
  fprintf(f, "<tr><th>%s</th><td>%s%s%s</td></tr>\n", k, b, unit ? " " : "", unit ? unit : "");
}

static void settings(FILE *f, const struct rec_report *r) {
  const struct rec_run_info *run = r->run;
  fputs("<h2>Settings</h2>\n<table>\n", f);
  row_text(f, "platform", run->platform_url);
  row_text(f, "started", run->started_at);
  row_text(f, "clock", run->virtual_clock ? "virtual" : "real");
  if (run->scenario)
    row_text(f, "scenario", run->scenario->name);
  row_num(f, "hubs", r->st->hubs, NULL);
  row_num(f, "devices per hub", run->devices_per_hub, NULL);
  row_text(f, "mix", run->mix);
  row_num(f, "seed", (double)run->seed, NULL);
  row_num(f, "duration", run->duration_s, "s");
  row_num(f, "elapsed (to the end of the drain)", run->elapsed_s, "s");
  row_num(f, "ramp", run->ramp, "hubs/s (0: all at once)");
  row_num(f, "speedup", run->speedup, NULL);
  row_num(f, "drain", run->drain_s, "s");
  row_num(f, "warmup", run->warmup_s, "s");
  row_num(f, "workers", run->workers ? run->workers : 1, NULL);
  row_num(f, "queue max", run->queue_max, "messages per hub");
  row_num(f, "max lag (generator late above)", run->max_lag_ms, "ms");
  row_text(f, "allow lag", run->allow_lag ? "yes" : "no");
  row_num(f, "interval of the series", r->interval_s, "s");
  if (r->version)
    row_text(f, "hubsim", r->version);
  fputs("</table>\n", f);
}

static void totals(FILE *f, const struct rec_report *r) {
  const struct sim_seq_counts *c = &r->st->kind[SIM_SEQ_REPORT];
  fputs("<h2>Reports</h2>\n<table>\n", f);
  row_num(f, "generated", (double)c->generated, NULL);
  row_num(f, "sent", (double)c->sent, NULL);
  row_num(f, "acknowledged", (double)c->acked, NULL);
  row_num(f, "resent after a reconnect", (double)c->resent, NULL);
  row_num(f, "dropped (full queue)", (double)c->dropped, NULL);
  row_num(f, "lost (every kind)", (double)r->v->lost, NULL);
  row_num(f, "in flight at the end", (double)r->st->in_flight, NULL);
  row_num(f, "queued at the end", (double)r->st->queued, NULL);
  fputs("</table>\n", f);
}

static void expectations(FILE *f, const struct rec_report *r) {
  const struct rec_scenario *sc = r->run->scenario;
  if (!sc || !sc->n_exp)
    return;
  static const char *names[] = {"PASS", "FAIL", "NO_DATA"};
  fputs("<table><tr><th>expectation</th><th>value</th><th>verdict</th></tr>\n", f);
  for (size_t i = 0; i < sc->n_exp; i++) {
    const struct rec_expectation *e = &sc->exp[i];
    char title[256], val[64] = "no data";
    rec_expectation_title(title, sizeof title, e);
    if (e->verdict != REC_EXP_NO_DATA)
      rec_format_number(val, sizeof val, e->value);
    const char *vn = e->verdict >= 0 && e->verdict <= 2 ? names[e->verdict] : "?";
    fputs("<tr class=\"exp\"><td>", f);
    esc(f, title);
    fputs("</td><td>", f);
    esc(f, val);
    if (e->verdict != REC_EXP_NO_DATA && e->unit && *e->unit) {
      fputs(" ", f);
      esc(f, e->unit);
    }
    fprintf(f, "</td><td class=\"%s\">%s</td></tr>\n", vn, vn);
  }
  fputs("</table>\n", f);
}

static void page(FILE *f, const struct rec_report *r) {
  const struct rec_verdict *v = r->v;
  fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n<title>hubsim "
        "run",
        f);
  if (r->run->scenario) {
    fputs(": ", f);
    esc(f, r->run->scenario->name);
  }
  fprintf(f, "</title>\n<style>%s</style></head><body>\n<h1>hubsim run", css);
  if (r->run->scenario) {
    fputs(": ", f);
    esc(f, r->run->scenario->name);
  }
  fprintf(f, "</h1>\n<div class=\"verdict %s\" id=\"verdict\">", v->exit_code ? "fail" : "pass");
  esc(f, v->text);
  fprintf(f, " (exit code %d)</div>\n", v->exit_code);
  if (v->n_reasons) {
    fputs("<ul class=\"reasons\">", f);
    for (size_t i = 0; i < v->n_reasons; i++) {
      fputs("<li>", f);
      esc(f, v->reasons[i].text);
      fputs("</li>", f);
    }
    fputs("</ul>\n", f);
  }
  totals(f, r);
  fputs("<h2>Over time</h2>\n", f);
  if (!r->n_rows)
    fputs("<p>No interval was recorded.</p>\n", f);
  if (r->n_rows > REC_REPORT_MAX_POINTS)
    fprintf(f, "<p class=\"note\">%zu intervals: the lines draw one in every %zu.</p>\n", r->n_rows,
            (r->n_rows + REC_REPORT_MAX_POINTS - 1) / REC_REPORT_MAX_POINTS);
  if (r->rows_not_kept)
    fprintf(f,
            "<p class=\"note\">The charts show the first %zu intervals; %llu more were "
            "recorded (--metrics-out has them all).</p>\n",
            r->n_rows, (unsigned long long)r->rows_not_kept);
  const struct chart charts[] = {
      {"throughput", "Throughput", "reports/s", thr_lines, 4, NAN, NULL, 0},
      {"latency", "Report Ack latency (intended time to Ack)", "ms", lat_lines, 3, NAN, NULL, 0},
      {"hubs", "Hubs online", "hubs", hub_lines, 2, NAN, NULL, 0},
      {"generator", "Generator health: tick lag and send lag p99", "ms", gen_lines, 2,
       r->run->max_lag_ms, "max lag", 1},
      {"expectations", "Expectations", "expectations", exp_lines, 3, NAN, NULL, 0}};
  size_t n_charts = r->run->scenario ? 5 : 4;
  for (size_t i = 0; r->n_rows && i < n_charts; i++)
    draw_chart(f, &charts[i], r);
  if (r->run->scenario) {
    fputs("<h2>Expectations</h2>\n", f);
    expectations(f, r);
  }
  settings(f, r);
  fputs("<p class=\"note\">A gap in a line is an interval without a sample of that figure. "
        "Written by hubsim; docs/metrics.md describes this page.</p>\n</body></html>\n",
        f);
}

int rec_report_write(const char *dir, const struct rec_report *r) {
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/index.html", dir) >= (int)sizeof path)
    return -ENAMETOOLONG;
  if (mkdir(dir, 0777) != 0 && errno != EEXIST)
    return -errno;
  struct sim_wfile w;
  int rc = sim_wfile_open(&w, path);
  if (rc)
    return rc;
  page(w.fp, r);
  if (ferror(w.fp)) {
    sim_wfile_abort(&w);
    return -EIO;
  }
  return sim_wfile_commit(&w);
}
