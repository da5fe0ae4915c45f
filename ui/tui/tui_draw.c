/* The dashboard's frame: one snapshot through the host, then every panel drawn into stdscr and
 * one refresh (ncurses sends only what changed). Layout: two columns below 160x40, three at or
 * above it; every panel clips to its rectangle, so a small terminal loses rows, not sanity.
 *
 * Cost: a frame copies one stats snapshot, computes a dozen quantiles (each a pass over a
 * histogram's buckets) and reads the hubs and devices of the visible rows only. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "devices/cat_global.h"
#include "devices/cat_types.h"
#include "sim/core/hist.h"
#include "ui/common/ui_fmt.h"
#include "ui/tui/tui_internal.h"

struct rect {
  int y, x, h, w;
};

/* The attributes of a colour pair; without colour, the attributes standing in for it. */
static int pair_attr(const struct ui_tui *t, int pair) {
  if (t->color) {
    int a = COLOR_PAIR(pair);
    if (pair == TUI_C_TITLE || pair == TUI_C_HEADER || pair == TUI_C_BAD || pair == TUI_C_WARN)
      a |= A_BOLD;
    if (pair == TUI_C_NORMAL)
      a = A_NORMAL;
    return a;
  }
  switch (pair) {
  case TUI_C_TITLE:
  case TUI_C_WARN:
  case TUI_C_BAD:
    return A_BOLD;
  case TUI_C_HEADER:
  case TUI_C_SEL:
    return A_REVERSE;
  case TUI_C_DIM:
    return A_DIM;
  default:
    return A_NORMAL;
  }
}

static int tui_state_pair(int s) {
  switch (s) {
  case SIM_HUB_OPEN:
    return TUI_C_OK;
  case SIM_HUB_CONNECTING:
  case SIM_HUB_HANDSHAKE:
    return TUI_C_WARN;
  case SIM_HUB_BACKOFF:
  case SIM_HUB_STOPPED:
    return TUI_C_BAD;
  default:
    return TUI_C_DIM;
  }
}

/* ---- text primitives ------------------------------------------------------------------------ */

/* Writes s at (y, x), at most w columns and never past the screen's edge. Bytes the locale
 * cannot decode and control characters (from a peer's error text) become '?'. Returns the
 * columns written. */
static int put_str(struct ui_tui *t, int y, int x, int w, int pair, const char *s) {
  if (y < 0 || y >= LINES || x < 0 || x >= COLS || w <= 0)
    return 0;
  if (x + w > COLS)
    w = COLS - x;
  wchar_t wb[512];
  int n = 0, cols = 0;
  size_t left = strlen(s);
  mbstate_t ms;
  memset(&ms, 0, sizeof ms);
  while (left > 0 && n < 511) {
    wchar_t wc;
    size_t k = mbrtowc(&wc, s, left, &ms);
    if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
      memset(&ms, 0, sizeof ms);
      wc = L'?';
      k = 1;
    }
    int cw = wcwidth(wc);
    if (cw < 0) {
      wc = L'?';
      cw = 1;
    }
    if (cols + cw > w)
      break;
    wb[n++] = wc;
    cols += cw;
    s += k;
    left -= k;
  }
  int a = pair_attr(t, pair);
  attron(a);
  mvaddnwstr(y, x, wb, n);
  attroff(a);
  return cols;
}

static int putf(struct ui_tui *t, int y, int x, int w, int pair, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static int putf(struct ui_tui *t, int y, int x, int w, int pair, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return put_str(t, y, x, w, pair, buf);
}

/* Fills w columns at (y, x) with one character. */
static void fill(struct ui_tui *t, int y, int x, int w, int pair, wchar_t c) {
  if (y < 0 || y >= LINES || x < 0 || x >= COLS || w <= 0)
    return;
  if (x + w > COLS)
    w = COLS - x;
  wchar_t wb[512];
  if (w > 511)
    w = 511;
  for (int i = 0; i < w; i++)
    wb[i] = c;
  int a = pair_attr(t, pair);
  attron(a);
  mvaddnwstr(y, x, wb, w);
  attroff(a);
}

/* A panel's title row: a rule across its width with the title in it. */
static void title(struct ui_tui *t, struct rect r, int pair, int focused, const char *text) {
  fill(t, r.y, r.x, r.w, TUI_C_DIM, t->utf8 ? L'\x2500' : L'-');
  char buf[200];
  snprintf(buf, sizeof buf, focused ? "[ %s ]" : " %s ", text);
  put_str(t, r.y, r.x + 1, r.w - 2, pair, buf);
}

/* A latency in µs as milliseconds in at most 6 columns. */
static void fmt_ms(char *out, size_t cap, uint64_t us) {
  double ms = (double)us / 1000.0;
  if (ms < 10)
    snprintf(out, cap, "%.2f", ms);
  else if (ms < 100)
    snprintf(out, cap, "%.1f", ms);
  else if (ms < 100000)
    snprintf(out, cap, "%.0f", ms);
  else
    snprintf(out, cap, "%.0fs", ms / 1000);
}

static void fmt_bytes(char *out, size_t cap, uint64_t b) {
  if (b >= (1ull << 30))
    snprintf(out, cap, "%.1fG", (double)b / (double)(1ull << 30));
  else
    snprintf(out, cap, "%.0fM", (double)b / (double)(1ull << 20));
}

/* ---- the snapshot -----------------------------------------------------------------------------
 */

void tui__snapshot(struct ui_tui *t) {
  const struct ui_host *h = &t->h;
  if (h->stats)
    h->stats(h->arg, t->st);
  else
    memset(t->st, 0, sizeof *t->st);
  memset(&t->hd, 0, sizeof t->hd);
  if (h->header)
    h->header(h->arg, &t->hd);
  if (!t->hd.scenario)
    t->hd.scenario = "";
  if (!t->hd.phase)
    t->hd.phase = "";
  if (!t->hd.platform)
    t->hd.platform = "";
  t->have_proc = 0;
  if (h->proc) {
    h->proc(h->arg, &t->pr);
    t->have_proc = 1;
  }
  t->n_exp = h->expectations ? h->expectations(h->arg, t->exp, TUI_MAX_EXP) : 0;
  if (t->n_exp > TUI_MAX_EXP)
    t->n_exp = TUI_MAX_EXP;

  /* Per-second rates: a delta of the cumulative counts once a wall second has passed. */
  const struct sim_fleet_stats *st = t->st;
  uint64_t cur[TUI_SER_N] = {
      [TUI_SER_REPORTS] = st->kind[SIM_SEQ_REPORT].sent,
      [TUI_SER_ACKS] = st->kind[SIM_SEQ_REPORT].acked,
      [TUI_SER_CMD_DOWN] = st->commands_received,
      [TUI_SER_CMD_UP] = st->kind[SIM_SEQ_RESULT].sent,
  };
  memcpy(t->prev_total, cur, sizeof cur);
  uint64_t now = uv_now(h->loop);
  if (!t->have_prev) {
    memcpy(t->prev, cur, sizeof cur);
    t->prev_ms = now;
    t->have_prev = 1;
  } else if (now - t->prev_ms >= 1000) {
    double dt = (double)(now - t->prev_ms) / 1000.0;
    for (int s = 0; s < TUI_SER_N; s++) {
      double r = cur[s] >= t->prev[s] ? (double)(cur[s] - t->prev[s]) / dt : 0;
      t->rate[s] = r;
      t->ring[s][t->ring_head] = (float)r;
    }
    t->ring_head = (t->ring_head + 1) % TUI_RING;
    if (t->ring_n < TUI_RING)
      t->ring_n++;
    memcpy(t->prev, cur, sizeof cur);
    t->prev_ms = now;
  }
}

/* ---- panels -----------------------------------------------------------------------------------
 */

static void draw_header(struct ui_tui *t) {
  const struct ui_header *hd = &t->hd;
  fill(t, 0, 0, COLS, TUI_C_HEADER, L' ');
  char clock[48], el[16], du[16], left[48];
  ui_fmt_clock(clock, sizeof clock, hd);
  ui_fmt_dur(el, sizeof el, hd->elapsed_s);
  ui_fmt_dur(du, sizeof du, hd->duration_s);
  if (hd->draining)
    snprintf(left, sizeof left, "draining");
  else {
    char r[16];
    ui_fmt_dur(r, sizeof r, hd->duration_s - hd->elapsed_s);
    snprintf(left, sizeof left, "%s left", r);
  }
  /* PAUSED comes first: the end of the line is what a narrow terminal loses. */
  int x = put_str(t, 0, 0, COLS, TUI_C_HEADER, " hubsim ");
  if (hd->paused)
    x += put_str(t, 0, x, COLS - x, t->color ? TUI_C_BAD : TUI_C_SEL, " PAUSED ");
  putf(t, 0, x, COLS - x, TUI_C_HEADER, " %s  phase %s  clock %s  seed %llu  %s/%s %s",
       *hd->scenario ? hd->scenario : "(no scenario)", *hd->phase ? hd->phase : "-", clock,
       (unsigned long long)hd->seed, el, du, left);
  putf(t, 1, 0, COLS, TUI_C_NORMAL, " platform %s", *hd->platform ? hd->platform : "-");
}

static void draw_fleet(struct ui_tui *t, struct rect r) {
  if (r.h <= 0)
    return;
  const struct sim_fleet_stats *st = t->st;
  title(t, r, TUI_C_TITLE, 0, "Fleet");
  int y = r.y + 1, x = r.x + 1, w = r.w - 2, end = r.y + r.h;
  if (y < end)
    putf(t, y++, x, w, TUI_C_NORMAL, "hubs %u  devices %u", st->hubs, st->devices);
  if (y < end) {
    int c = x;
    static const int order[] = {SIM_HUB_OPEN, SIM_HUB_CONNECTING, SIM_HUB_HANDSHAKE};
    for (size_t i = 0; i < 3; i++) {
      int s = order[i];
      int pair = st->hubs_by_state[s] && s != SIM_HUB_OPEN ? tui_state_pair(s) : TUI_C_NORMAL;
      if (s == SIM_HUB_OPEN && st->hubs_by_state[s])
        pair = TUI_C_OK;
      c += putf(t, y, c, x + w - c, pair, "%s %u  ", ui_hub_state_label(s), st->hubs_by_state[s]);
    }
    y++;
  }
  if (y < end) {
    int c = x;
    static const int order[] = {SIM_HUB_BACKOFF, SIM_HUB_STOPPED, SIM_HUB_IDLE};
    for (size_t i = 0; i < 3; i++) {
      int s = order[i];
      int pair = st->hubs_by_state[s] && s != SIM_HUB_IDLE ? tui_state_pair(s) : TUI_C_NORMAL;
      c += putf(t, y, c, x + w - c, pair, "%s %u  ", ui_hub_state_label(s), st->hubs_by_state[s]);
    }
    y++;
  }
  if (y < end)
    putf(t, y++, x, w, TUI_C_NORMAL, "joins %llu  leaves %llu  disconnects %llu",
         (unsigned long long)st->kind[SIM_SEQ_JOINED].generated,
         (unsigned long long)st->kind[SIM_SEQ_LEFT].generated, (unsigned long long)st->disconnects);
  if (y < end) {
    uint64_t dropped = 0;
    for (int k = 0; k < SIM_SEQ_NKINDS; k++)
      dropped += st->kind[k].dropped;
    putf(t, y++, x, w, dropped ? TUI_C_BAD : TUI_C_NORMAL,
         "queued %llu  in flight %llu  dropped %llu", (unsigned long long)st->queued,
         (unsigned long long)st->in_flight, (unsigned long long)dropped);
  }
}

/* The last w per-second samples of a series as a bar chart scaled to their maximum. */
static void sparkline(struct ui_tui *t, int y, int x, int w, int s) {
  static const wchar_t uni[] = L" \x2581\x2582\x2583\x2584\x2585\x2586\x2587\x2588";
  static const wchar_t asc[] = L" .:-=+*#@";
  const wchar_t *lv = t->utf8 ? uni : asc;
  if (w <= 0 || y >= LINES)
    return;
  if (w > 300)
    w = 300;
  int n = (int)t->ring_n < w ? (int)t->ring_n : w;
  float max = 0;
  for (int i = 0; i < n; i++) {
    float v = t->ring[s][(t->ring_head + TUI_RING - n + i) % TUI_RING];
    if (v > max)
      max = v;
  }
  wchar_t wb[301];
  for (int i = 0; i < w; i++)
    wb[i] = L' ';
  for (int i = 0; i < n; i++) {
    float v = t->ring[s][(t->ring_head + TUI_RING - n + i) % TUI_RING];
    int l = max > 0 ? (int)ceilf(v / max * 8) : 0;
    if (l < 0)
      l = 0;
    if (l > 8)
      l = 8;
    wb[w - n + i] = lv[l];
  }
  if (x + w > COLS)
    w = COLS - x;
  if (w <= 0)
    return;
  int a = pair_attr(t, TUI_C_OK);
  attron(a);
  mvaddnwstr(y, x, wb, w);
  attroff(a);
}

static void draw_traffic(struct ui_tui *t, struct rect r) {
  if (r.h <= 0)
    return;
  char ttl[64];
  snprintf(ttl, sizeof ttl, "Traffic    /s    total  (last %u s)", t->ring_n);
  title(t, r, TUI_C_TITLE, 0, ttl);
  static const char *const names[TUI_SER_N] = {"reports", "acks", "cmds dn", "cmds up"};
  for (int s = 0; s < TUI_SER_N && 1 + s < r.h; s++) {
    char v[16];
    ui_fmt_rate(v, sizeof v, t->rate[s]);
    int y = r.y + 1 + s;
    /* The total is the cumulative count of the snapshot: what the summary ends with. */
    int c = putf(t, y, r.x + 1, r.w - 2, TUI_C_NORMAL, "%-8s%6s %8llu ", names[s], v,
                 (unsigned long long)t->prev_total[s]);
    sparkline(t, y, r.x + 1 + c, r.w - 2 - c, s);
  }
}

static void lat_row(struct ui_tui *t, int y, int x, int w, const char *name,
                    const struct sim_hist *h) {
  if (!h) {
    putf(t, y, x, w, TUI_C_DIM, "%-11s n/a", name);
    return;
  }
  if (h->count == 0) {
    putf(t, y, x, w, TUI_C_DIM, "%-11s no samples yet", name);
    return;
  }
  static const double qs[] = {0.5, 0.9, 0.99, 0.999};
  char v[5][16];
  for (int i = 0; i < 4; i++)
    fmt_ms(v[i], sizeof v[i], sim_hist_quantile(h, qs[i]));
  fmt_ms(v[4], sizeof v[4], h->max);
  putf(t, y, x, w, TUI_C_NORMAL, "%-11s%6s %6s %6s %6s %6s", name, v[0], v[1], v[2], v[3], v[4]);
}

static void draw_latency(struct ui_tui *t, struct rect r) {
  if (r.h <= 0)
    return;
  title(t, r, TUI_C_TITLE, 0, "Latency ms");
  /* Column heads over the values of lat_row (11 columns of name, then 6 + 1 per value). */
  putf(t, r.y, r.x + 12, r.w - 13, TUI_C_TITLE, "%6s %6s %6s %6s %6s ", "p50", "p90", "p99",
       "p99.9", "max");
  int y = r.y + 1, x = r.x + 1, w = r.w - 2, end = r.y + r.h;
  if (y < end)
    lat_row(t, y++, x, w, "report ack", &t->st->ack_latency);
  if (y < end)
    putf(t, y++, x, w, TUI_C_DIM, "%-11s n/a (not measured)", "command rtt");
  if (y < end)
    lat_row(t, y++, x, w, "automation", t->h.automation ? t->h.automation(t->h.arg) : NULL);
  if (y < end)
    lat_row(t, y++, x, w, "handshake", &t->st->handshake);
}

static void draw_generator(struct ui_tui *t, struct rect r) {
  if (r.h <= 0)
    return;
  const struct sim_fleet_stats *st = t->st;
  uint64_t send99 = sim_hist_quantile(&st->send_lag, 0.99);
  uint64_t tick99 = sim_hist_quantile(&st->tick_lag, 0.99);
  int lag_bad = tick99 > 50000;
  int cpu_bad = t->have_proc && t->pr.cpu_pct > 90;
  int fd_bad =
      t->have_proc && t->pr.fd_limit && (double)t->pr.open_fds > 0.9 * (double)t->pr.fd_limit;
  int bad = lag_bad || cpu_bad || fd_bad;
  title(t, r, bad ? TUI_C_BAD : TUI_C_TITLE, 0,
        bad ? "Generator: BOTTLENECK (the generator, not the platform)" : "Generator");
  int y = r.y + 1, x = r.x + 1, w = r.w - 2, end = r.y + r.h;
  if (y < end) {
    char a[16], b[16];
    fmt_ms(a, sizeof a, send99);
    fmt_ms(b, sizeof b, tick99);
    int c = putf(t, y, x, w, TUI_C_NORMAL, "send p99 %sms  ", a);
    putf(t, y, x + c, w - c, lag_bad ? TUI_C_BAD : TUI_C_NORMAL, "tick p99 %sms", b);
    y++;
  }
  if (y < end) {
    if (!t->have_proc) {
      putf(t, y++, x, w, TUI_C_DIM, "cpu, rss, fds: n/a");
    } else {
      char rss[16];
      fmt_bytes(rss, sizeof rss, t->pr.rss_bytes);
      int c = putf(t, y, x, w, cpu_bad ? TUI_C_BAD : TUI_C_NORMAL, "cpu %.0f%%  ", t->pr.cpu_pct);
      c += putf(t, y, x + c, w - c, TUI_C_NORMAL, "rss %s  ", rss);
      putf(t, y, x + c, w - c, fd_bad ? TUI_C_BAD : TUI_C_NORMAL, "fds %u/%u", t->pr.open_fds,
           t->pr.fd_limit);
      y++;
    }
  }
  if (y < end)
    putf(t, y++, x, w, TUI_C_NORMAL, "connects %llu  sessions %llu  errors %zu kinds",
         (unsigned long long)st->connects, (unsigned long long)st->sessions, st->n_errors);
}

/* An expectation's state as the panel groups it: failures (no data at the end is one), then
 * the pending ones, then the passed. */
static int exp_group(const struct ui_expectation *e) {
  if (e->verdict == UI_FAIL || e->verdict == UI_NO_DATA)
    return UI_FAIL;
  return e->verdict == UI_PASS ? UI_PASS : UI_PENDING;
}

/* When a pending expectation is judged: "at the end", or "from 3m30s" for a continuous one
 * before its start. */
static void pending_note(const struct ui_expectation *e, double now_s, char *buf, size_t cap) {
  if (e->after_s <= 0) {
    snprintf(buf, cap, "  (at the end)");
  } else if (now_s < e->after_s) {
    char d[32];
    ui_fmt_dur(d, sizeof d, e->after_s);
    snprintf(buf, cap, "  (from %s)", d);
  } else {
    snprintf(buf, cap, "  (no data yet)");
  }
}

/* The unit after a value: time units only ("0count" or "1ratio" say nothing). */
static const char *exp_unit(const char *unit) {
  return unit && (strcmp(unit, "ms") == 0 || strcmp(unit, "s") == 0) ? unit : "";
}

static void draw_expectations(struct ui_tui *t, struct rect r) {
  if (r.h <= 0)
    return;
  int pass = 0, fail = 0, pend = 0;
  for (size_t i = 0; i < t->n_exp; i++) {
    int g = exp_group(&t->exp[i]);
    if (g == UI_PASS)
      pass++;
    else if (g == UI_FAIL)
      fail++;
    else
      pend++;
  }
  char ttl[96];
  snprintf(ttl, sizeof ttl, "Expect %d pass %d fail %d pending", pass, fail, pend);
  title(t, r, fail ? TUI_C_BAD : TUI_C_TITLE, 0, ttl);
  int rows = r.h - 1;
  if (t->n_exp == 0 && rows > 0) {
    put_str(t, r.y + 1, r.x + 1, r.w - 2, TUI_C_DIM, "none in this run");
    return;
  }
  /* Failures first: when the rows are few, they are what matters. */
  int y = r.y + 1;
  for (int pass_no = 0; pass_no < 3; pass_no++) {
    int want = pass_no == 0 ? UI_FAIL : pass_no == 1 ? UI_PENDING : UI_PASS;
    for (size_t i = 0; i < t->n_exp && y < r.y + r.h; i++) {
      const struct ui_expectation *e = &t->exp[i];
      int v = exp_group(e);
      if (v != want)
        continue;
      const char *tag = v == UI_PASS ? "PASS" : v == UI_FAIL ? "FAIL" : "....";
      int pair = v == UI_PASS ? TUI_C_OK : v == UI_FAIL ? TUI_C_BAD : TUI_C_DIM;
      int c = putf(t, y, r.x + 1, r.w - 2, pair, "%s ", tag);
      char val[32], note[48] = "";
      if (isnan(e->value))
        snprintf(val, sizeof val, "no data");
      else
        snprintf(val, sizeof val, "%.4g%s", e->value, exp_unit(e->unit));
      if (v == UI_PENDING)
        pending_note(e, t->hd.elapsed_s, note, sizeof note);
      putf(t, y, r.x + 1 + c, r.w - 2 - c, TUI_C_NORMAL, "%s  now %s%s", e->title ? e->title : "",
           val, note);
      y++;
    }
  }
}

/* Keeps sel within [top, top + rows). */
static void scroll_to(uint32_t sel, uint32_t *top, int rows) {
  if (rows <= 0)
    return;
  if (sel < *top)
    *top = sel;
  if (sel >= *top + (uint32_t)rows)
    *top = sel - (uint32_t)rows + 1;
}

static void draw_hubs(struct ui_tui *t, struct rect r) {
  if (r.h <= 0)
    return;
  struct sim_fleet *f = t->h.fleet;
  int focused = t->focus == TUI_FOCUS_HUBS;
  if (!f) {
    title(t, r, TUI_C_TITLE, focused, "Hubs");
    put_str(t, r.y + 1, r.x + 1, r.w - 2, TUI_C_DIM, "per-hub views: n/a (worker processes)");
    return;
  }
  uint32_t n = sim_fleet_hub_count(f);
  uint32_t slots = sim_fleet_devices_per_hub(f);
  if (n && t->hub_sel >= n)
    t->hub_sel = n - 1;
  char ttl[64];
  snprintf(ttl, sizeof ttl, "Hubs %u/%u", n ? t->hub_sel + 1 : 0, n);
  title(t, r, TUI_C_TITLE, focused, ttl);
  int rows = r.h - 1;
  scroll_to(t->hub_sel, &t->hub_top, rows);
  /* Joined devices per visible hub: a read of the visible hubs' slots, only when that stays
   * small (a thousand devices behind a hub would make every frame walk them). */
  int count_joined = (uint64_t)slots * (uint64_t)(rows > 0 ? rows : 0) <= 4096;
  for (int i = 0; i < rows; i++) {
    uint32_t hub = t->hub_top + (uint32_t)i;
    if (hub >= n)
      break;
    int y = r.y + 1 + i;
    int sel = hub == t->hub_sel;
    char id[40];
    sim_fleet_hub_id(f, hub, id, sizeof id);
    int s = sim_fleet_hub_state(f, hub);
    char devs[32];
    if (count_joined) {
      uint32_t j = 0;
      for (uint32_t d = 0; d < slots; d++) {
        struct sim_device_info di;
        if (sim_fleet_device_info(f, hub, d, &di) == 0 && di.model && di.joined)
          j++;
      }
      snprintf(devs, sizeof devs, "%u/%u dev", j, slots);
    } else {
      snprintf(devs, sizeof devs, "%u slots", slots);
    }
    if (sel)
      fill(t, y, r.x, r.w, focused ? TUI_C_SEL : TUI_C_NORMAL, L' ');
    int pair = sel && focused ? TUI_C_SEL : TUI_C_NORMAL;
    int c = putf(t, y, r.x + 1, r.w - 2, pair, "%c%-12s ", sel ? '>' : ' ', id);
    c += putf(t, y, r.x + 1 + c, r.w - 2 - c, sel && focused ? TUI_C_SEL : tui_state_pair(s),
              "%-10s ", ui_hub_state_label(s));
    putf(t, y, r.x + 1 + c, r.w - 2 - c, pair, "%s", devs);
  }
}

static void draw_devices(struct ui_tui *t, struct rect r) {
  if (r.h <= 0)
    return;
  struct sim_fleet *f = t->h.fleet;
  int focused = t->focus == TUI_FOCUS_DEVICES || t->focus == TUI_FOCUS_DETAIL;
  if (!f || sim_fleet_hub_count(f) == 0) {
    title(t, r, TUI_C_TITLE, 0, "Devices");
    put_str(t, r.y + 1, r.x + 1, r.w - 2, TUI_C_DIM, "n/a");
    return;
  }
  uint32_t slots = sim_fleet_devices_per_hub(f);
  if (slots && t->dev_sel >= slots)
    t->dev_sel = slots - 1;
  char id[40], ttl[96];
  sim_fleet_hub_id(f, t->hub_sel, id, sizeof id);
  snprintf(ttl, sizeof ttl, "Devices of %s%s", id,
           focused ? (r.w < 60 ? " (state, lqi)" : "") : " (enter)");
  title(t, r, TUI_C_TITLE, t->focus == TUI_FOCUS_DEVICES, ttl);
  int rows = r.h - 1;
  scroll_to(t->dev_sel, &t->dev_top, rows);
  for (int i = 0; i < rows; i++) {
    uint32_t slot = t->dev_top + (uint32_t)i;
    if (slot >= slots)
      break;
    int y = r.y + 1 + i;
    int sel = focused && slot == t->dev_sel;
    struct sim_device_info di;
    if (sel)
      fill(t, y, r.x, r.w, TUI_C_SEL, L' ');
    if (sim_fleet_device_info(f, t->hub_sel, slot, &di) != 0 || !di.model) {
      putf(t, y, r.x + 1, r.w - 2, sel ? TUI_C_SEL : TUI_C_DIM, "%c%3u (empty)", sel ? '>' : ' ',
           slot);
      continue;
    }
    int pair = sel ? TUI_C_SEL : di.joined ? TUI_C_NORMAL : TUI_C_DIM;
    if (r.w < 60) /* 80 columns: state and lqi without labels (the title names them) */
      putf(t, y, r.x + 1, r.w - 2, pair, "%c%3u %-22.22s %-4s %3u", sel ? '>' : ' ', slot,
           di.model->model_id, di.joined ? "in" : "left", di.lqi);
    else
      putf(t, y, r.x + 1, r.w - 2, pair, "%c%3u %-24s %-6s lqi %3u", sel ? '>' : ' ', slot,
           di.model->model_id, di.joined ? "joined" : "left", di.lqi);
  }
}

static void draw_detail(struct ui_tui *t, struct rect r) {
  if (r.h <= 0)
    return;
  struct sim_fleet *f = t->h.fleet;
  title(t, r, TUI_C_TITLE, t->focus == TUI_FOCUS_DETAIL, "Device detail");
  struct sim_device_info di;
  if (!f || sim_fleet_device_info(f, t->hub_sel, t->dev_sel, &di) != 0 || !di.model) {
    put_str(t, r.y + 1, r.x + 1, r.w - 2, TUI_C_DIM, "no device selected");
    return;
  }
  const struct sim_model *m = di.model;
  const struct dev_cat *cat = dev_cat_global();
  const struct dev_cat_model *cm = cat ? dev_cat_find(cat, m->model_id) : NULL;
  int y = r.y + 1, x = r.x + 1, w = r.w - 2, end = r.y + r.h;
  char id[40];
  sim_fleet_hub_id(f, t->hub_sel, id, sizeof id);
  if (y < end)
    putf(t, y++, x, w, TUI_C_NORMAL, "%s slot %u: %s", id, t->dev_sel, m->model_id);
  if (y < end)
    putf(t, y++, x, w, TUI_C_NORMAL, "vendor   %s %s (%s)", cm && cm->vendor ? cm->vendor : "",
         m->vendor_model ? m->vendor_model : "?", m->manufacturer ? m->manufacturer : "?");
  if (y < end)
    putf(t, y++, x, w, TUI_C_NORMAL, "power    %s, %s%s",
         m->power_source == SIM_POWER_BATTERY ? "battery" : "mains",
         m->logical_type == SIM_LOGICAL_ROUTER ? "router" : "end device",
         m->sleepy ? ", sleepy" : "");
  if (y < end)
    putf(t, y++, x, w, di.joined ? TUI_C_OK : TUI_C_BAD, "joined   %s   lqi %u",
         di.joined ? "yes" : "no (left)", di.lqi);
  if (y < end) {
    char buf[256] = "";
    int n = 0;
    for (int i = 0; cm && i < cm->n_trig && n < (int)sizeof buf - 40; i++)
      n += snprintf(buf + n, sizeof buf - (size_t)n, "%s%s", i ? ", " : "", cm->trig[i].name);
    putf(t, y++, x, w, n ? TUI_C_NORMAL : TUI_C_DIM, "triggers %s", n ? buf : "none");
  }
  if (y < end)
    putf(t, y++, x, w, TUI_C_NORMAL, "eui64    %016llx", (unsigned long long)di.eui64);
  if (y < end && m->sleepy && m->poll_ms)
    putf(t, y++, x, w, TUI_C_NORMAL, "polls    every %.0f s", (double)m->poll_ms / 1000.0);
  if (y < end && m->description)
    putf(t, y++, x, w, TUI_C_DIM, "about    %s", m->description);
  for (int e = 0; e < m->n_endpoints && y < end; e++) {
    const struct sim_model_endpoint *ep = &m->endpoints[e];
    char buf[256];
    int n = snprintf(buf, sizeof buf, "ep %-3u  in", ep->id);
    for (int i = 0; i < ep->n_in && n < (int)sizeof buf - 8; i++)
      n += snprintf(buf + n, sizeof buf - (size_t)n, " %04x", ep->in[i]);
    putf(t, y++, x, w, TUI_C_NORMAL, "%s", buf);
  }
  if (y < end && cm)
    putf(t, y++, x, w, TUI_C_NORMAL, "catalog  %s: %d attributes, %d commands",
         cm->category ? cm->category : "-", cm->n_attr, cm->n_cmd);
}

static void draw_log(struct ui_tui *t, struct rect r) {
  if (r.h <= 0)
    return;
  const char *const *lines = NULL;
  size_t n = t->h.log ? t->h.log(t->h.arg, &lines) : 0;
  if (!lines)
    n = 0;
  if (t->log_back >= n)
    t->log_back = n ? n - 1 : 0;
  char ttl[80];
  if (t->log_back)
    snprintf(ttl, sizeof ttl, "Events %zu  (scrolled back %zu: End for the newest)", n,
             t->log_back);
  else
    snprintf(ttl, sizeof ttl, "Events %zu", n);
  title(t, r, TUI_C_TITLE, t->focus == TUI_FOCUS_LOG, ttl);
  int rows = r.h - 1;
  if (rows <= 0)
    return;
  size_t last = n - t->log_back; /* one past the newest line shown */
  size_t first = last > (size_t)rows ? last - (size_t)rows : 0;
  for (size_t i = first; i < last; i++) {
    const char *s = lines[i] ? lines[i] : "";
    int pair =
        strstr(s, "error") || strstr(s, "fail") || strstr(s, "fault") ? TUI_C_WARN : TUI_C_NORMAL;
    put_str(t, r.y + 1 + (int)(i - first), r.x + 1, r.w - 2, pair, s);
  }
}

struct tui_key_help {
  const char *keys, *what;
  size_t need; /* offset of the host member it needs, or 0 */
};

#define NEED(m) offsetof(struct ui_host, m)
static const struct tui_key_help tui_keys[] = {
    {"?", "help: this list", 0},
    {"q", "quit (asks y/n; the summary is still written)", NEED(quit)},
    {"p, space", "pause / resume device time", NEED(pause)},
    {"s", "step one second while paused (virtual clock)", NEED(step)},
    {"+ / -", "speed up / down (virtual clock)", NEED(set_speed)},
    {"up/down j/k", "select a hub or device; scroll the log", 0},
    {"pgup/pgdn g/G", "a page / the first / the last", 0},
    {"enter, right", "open: hub -> devices -> device detail", 0},
    {"esc, left", "back", 0},
    {"tab", "focus: hubs -> devices -> event log", 0},
    {"t", "trigger an event on the selected device", NEED(trigger)},
    {"c", "send a command to the selected device", NEED(command)},
    {"f", "inject a fault on the selected hub", NEED(fault)},
    {"ctrl-l", "redraw the screen", 0},
};
#define TUI_N_KEYS (sizeof tui_keys / sizeof tui_keys[0])

static int tui_has(const struct ui_tui *t, size_t need) {
  if (!need)
    return 1;
  void *p;
  memcpy(&p, (const char *)&t->h + need, sizeof p);
  return p != NULL;
}

static void draw_help_bar(struct ui_tui *t) {
  int y = LINES - 1;
  fill(t, y, 0, COLS, TUI_C_NORMAL, L' ');
  if (t->msg[0] && uv_now(t->h.loop) < t->msg_until_ms) {
    putf(t, y, 0, COLS, t->msg_bad ? TUI_C_BAD : TUI_C_TITLE, " %s", t->msg);
    return;
  }
  static const struct {
    const char *k, *w;
    size_t need;
  } items[] = {{"?", "help", 0},
               {"q", "quit", NEED(quit)},
               {"p", "pause", NEED(pause)},
               {"s", "step", NEED(step)},
               {"+-", "speed", NEED(set_speed)},
               {"t", "trigger", NEED(trigger)},
               {"c", "cmd", NEED(command)},
               {"f", "fault", NEED(fault)},
               {"jk", "select", 0},
               {"enter/esc", "open/back", 0},
               {"tab", "focus", 0}};
  int x = 1;
  for (size_t i = 0; i < sizeof items / sizeof items[0] && x < COLS; i++) {
    int on = tui_has(t, items[i].need);
    const char *w = items[i].w;
    if (items[i].need == NEED(pause) && t->hd.paused)
      w = "resume";
    x += put_str(t, y, x, COLS - x, on ? TUI_C_TITLE : TUI_C_DIM, items[i].k);
    x += putf(t, y, x, COLS - x, on ? TUI_C_NORMAL : TUI_C_DIM, " %s  ", w);
  }
}

/* A box in the middle of the screen, cleared; returns its inner rectangle. */
static struct rect modal_box(struct ui_tui *t, int h, int w, const char *ttl) {
  if (w > COLS - 2)
    w = COLS - 2;
  if (h > LINES - 2)
    h = LINES - 2;
  struct rect r = {(LINES - h) / 2, (COLS - w) / 2, h, w};
  for (int i = 0; i < h; i++)
    fill(t, r.y + i, r.x, w, TUI_C_NORMAL, L' ');
  wchar_t hz = t->utf8 ? L'\x2500' : L'-', vt = t->utf8 ? L'\x2502' : L'|';
  fill(t, r.y, r.x, w, TUI_C_TITLE, hz);
  fill(t, r.y + h - 1, r.x, w, TUI_C_TITLE, hz);
  for (int i = 1; i < h - 1; i++) {
    fill(t, r.y + i, r.x, 1, TUI_C_TITLE, vt);
    fill(t, r.y + i, r.x + w - 1, 1, TUI_C_TITLE, vt);
  }
  putf(t, r.y, r.x + 2, w - 4, TUI_C_TITLE, " %s ", ttl);
  return (struct rect){r.y + 1, r.x + 2, h - 2, w - 4};
}

static void draw_modal(struct ui_tui *t) {
  switch (t->modal) {
  case TUI_MODAL_HELP: {
    struct rect r = modal_box(t, (int)TUI_N_KEYS + 3, 72, "Keys (any key closes)");
    for (size_t i = 0; i < TUI_N_KEYS && (int)i < r.h; i++) {
      int on = tui_has(t, tui_keys[i].need);
      putf(t, r.y + (int)i, r.x, r.w, on ? TUI_C_NORMAL : TUI_C_DIM, "%-14s %s%s", tui_keys[i].keys,
           on ? "" : "[n/a in this run] ", tui_keys[i].what);
    }
    break;
  }
  case TUI_MODAL_QUIT: {
    struct rect r = modal_box(t, 5, 56, "Quit");
    put_str(t, r.y, r.x, r.w, TUI_C_NORMAL, "Quit the run now? The drain and the summary follow.");
    put_str(t, r.y + 2, r.x, r.w, TUI_C_TITLE, "y: quit    n (any other key): go on");
    break;
  }
  case TUI_MODAL_TRIGGER:
  case TUI_MODAL_COMMAND:
  case TUI_MODAL_FAULT: {
    struct rect r = modal_box(t, t->n_choices + 4, 48, t->modal_title);
    for (int i = 0; i < t->n_choices && i < r.h - 1; i++) {
      int sel = i == t->choice_sel;
      if (sel)
        fill(t, r.y + i, r.x, r.w, TUI_C_SEL, L' ');
      putf(t, r.y + i, r.x, r.w, sel ? TUI_C_SEL : TUI_C_NORMAL, "%c %c %s", sel ? '>' : ' ',
           i < 9 ? '1' + i : ' ', t->choices[i].label);
    }
    put_str(t, r.y + r.h - 1, r.x, r.w, TUI_C_DIM, "enter/1-9 choose   esc cancel");
    break;
  }
  default:
    break;
  }
}

void tui__render(struct ui_tui *t) {
  erase();
  int L = LINES, C = COLS;
  draw_header(t);
  int y = 2, help_y = L - 1;
  if (C >= 160 && L >= 40) {
    int w3 = C / 3;
    int h1 = 6;
    draw_fleet(t, (struct rect){y, 0, h1, w3});
    draw_traffic(t, (struct rect){y, w3, h1, w3});
    draw_latency(t, (struct rect){y, 2 * w3, h1, C - 2 * w3});
    y += h1;
    int h2 = (int)t->n_exp + 1;
    h2 = h2 < 4 ? 4 : h2 > 10 ? 10 : h2;
    draw_generator(t, (struct rect){y, 0, h2, w3});
    draw_expectations(t, (struct rect){y, w3, h2, C - w3});
    y += h2;
    int rest = help_y - y;
    int hb = rest * 3 / 5;
    int wh = C / 4, wd = C * 5 / 12;
    draw_hubs(t, (struct rect){y, 0, hb, wh});
    draw_devices(t, (struct rect){y, wh, hb, wd});
    draw_detail(t, (struct rect){y, wh + wd, hb, C - wh - wd});
    y += hb;
    draw_log(t, (struct rect){y, 0, help_y - y, C});
  } else {
    int w2 = C / 2;
    int h1 = 5;
    draw_fleet(t, (struct rect){y, 0, h1, w2});
    draw_traffic(t, (struct rect){y, w2, h1, C - w2});
    y += h1;
    /* Expectations share the right half with the generator: one row at 24 lines, more when the
     * terminal is taller. */
    int extra = t->n_exp > 1 ? (int)t->n_exp - 1 : 0;
    int room = L > 24 ? (L - 24) / 3 : 0;
    int h2 = 5 + (extra < room ? extra : room);
    draw_latency(t, (struct rect){y, 0, h2, w2});
    draw_generator(t, (struct rect){y, w2, 3, C - w2});
    draw_expectations(t, (struct rect){y + 3, w2, h2 - 3, C - w2});
    y += h2;
    int rest = help_y - y;
    int hl = rest / 3 < 4 ? 4 : rest / 3;
    int hb = rest - hl;
    draw_hubs(t, (struct rect){y, 0, hb, w2});
    if (t->focus == TUI_FOCUS_DETAIL)
      draw_detail(t, (struct rect){y, w2, hb, C - w2});
    else
      draw_devices(t, (struct rect){y, w2, hb, C - w2});
    y += hb;
    draw_log(t, (struct rect){y, 0, help_y - y, C});
  }
  draw_help_bar(t);
  draw_modal(t);
  wnoutrefresh(stdscr);
  doupdate();
}
