#include "recorders/summary.h"
#include "recorders/capture.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recorders/shard.h"
#include "sim/core/err.h"
#include "sim/core/utf8.h"
#include "sim/core/wfile.h"

static const char *kind_names[SIM_SEQ_NKINDS] = {"reports", "device_joined", "device_left",
                                                 "command_results"};

void rec_scenario_counts(const struct rec_scenario *sc, size_t *passed, size_t *failed,
                         size_t *no_data) {
  size_t p = 0, f = 0, nd = 0;
  for (size_t i = 0; sc && i < sc->n_exp; i++) {
    if (sc->exp[i].verdict == REC_EXP_PASS)
      p++;
    else if (sc->exp[i].verdict == REC_EXP_NO_DATA)
      nd++;
    else
      f++;
  }
  if (passed)
    *passed = p;
  if (failed)
    *failed = f + nd;
  if (no_data)
    *no_data = nd;
}

/* 79575 -> "79,575": counts in verdict lines are read by people. */
static const char *grouped(char *buf, size_t n, uint64_t x) {
  char d[32];
  int len = snprintf(d, sizeof d, "%llu", (unsigned long long)x);
  size_t o = 0;
  for (int i = 0; i < len && o + 2 < n; i++) {
    if (i > 0 && (len - i) % 3 == 0)
      buf[o++] = ',';
    buf[o++] = d[i];
  }
  buf[o] = '\0';
  return buf;
}

static struct rec_reason *add_reason(struct rec_verdict *v, const char *check, int exit_code,
                                     uint64_t count) {
  if (v->n_reasons == REC_VERDICT_MAX_REASONS)
    return NULL;
  struct rec_reason *r = &v->reasons[v->n_reasons++];
  memset(r, 0, sizeof(*r));
  r->check = check;
  r->exit_code = exit_code;
  r->count = count;
  return r;
}

#define REASON(v, check, code, count, ...)                                                         \
  do {                                                                                             \
    struct rec_reason *r_ = add_reason((v), (check), (code), (count));                             \
    if (r_)                                                                                        \
      snprintf(r_->text, sizeof(r_->text), __VA_ARGS__);                                           \
  } while (0)

/* The verdict line and exit code from the reasons: the first with a non-zero exit code decides;
 * without one the run passes (with a warning when a check only warned). An interrupted run
 * says so whatever the outcome. */
static void decide(struct rec_verdict *v, const struct rec_run_info *run) {
  const struct rec_reason *first = NULL, *warn = NULL;
  for (size_t i = 0; i < v->n_reasons && !first; i++) {
    if (v->reasons[i].exit_code)
      first = &v->reasons[i];
    else if (!warn)
      warn = &v->reasons[i];
  }
  v->exit_code = first ? first->exit_code : 0;
  v->by_expectations = first && strcmp(first->check, "expectations") == 0;
  int n;
  if (first)
    n = snprintf(v->text, sizeof(v->text), "FAIL: %s", first->text);
  else if (warn)
    n = snprintf(v->text, sizeof(v->text), "PASS with a warning: %s", warn->text);
  else if (run->scenario)
    n = snprintf(v->text, sizeof(v->text),
                 "PASS: every expectation held and every report accounted for");
  else
    n = snprintf(v->text, sizeof(v->text), "PASS: every report accounted for");
  if (run->interrupted && n > 0 && (size_t)n < sizeof(v->text))
    n += snprintf(v->text + n, sizeof(v->text) - (size_t)n,
                  " [interrupted by %s after %.1f s of %.1f s]", run->interrupted, run->elapsed_s,
                  run->duration_s);
  /* A run that did not check whom it talked to says so on the line people read. */
  if (run->tls && run->tls->insecure && n > 0 && (size_t)n < sizeof(v->text))
    snprintf(v->text + n, sizeof(v->text) - (size_t)n, " [TLS without verification: --insecure]");
}

static const char *kind_words[SIM_SEQ_NKINDS] = {"reports", "device joins", "device leaves",
                                                 "command results"};

/* Hubs that should be online at the end: all but those the run held off on purpose (power
 * cut, disconnected) and those whose start (--ramp) had not come yet. */
static uint32_t expected_online(const struct sim_fleet_stats *st) {
  uint32_t not_expected = st->hubs_off_by_run + st->hubs_by_state[SIM_HUB_IDLE];
  return st->hubs > not_expected ? st->hubs - not_expected : 0;
}

int rec_settled(const struct sim_fleet_stats *st) {
  return st->in_flight + st->queued <= st->held_by_off_hubs &&
         st->hubs_by_state[SIM_HUB_OPEN] >= expected_online(st);
}

/* Sent messages are acknowledged, still held by their hub (in flight), or gone with a hub's
 * power (counted apart, the run caused it); anything else was lost. */
uint64_t rec_lost(const struct sim_fleet_stats *st) {
  uint64_t sent = 0, acked = 0;
  for (int k = 0; k < SIM_SEQ_NKINDS; k++) {
    sent += st->kind[k].sent;
    acked += st->kind[k].acked;
  }
  uint64_t accounted = acked + st->in_flight + st->lost_power_sent;
  return sent > accounted ? sent - accounted : 0;
}

void rec_verdict_compute(const struct rec_run_info *run, const struct sim_fleet_stats *st,
                         const struct rec_platform_view *pv, struct rec_verdict *v) {
  memset(v, 0, sizeof(*v));
  const struct rec_scenario *sc = run->scenario;
  if (sc) {
    v->script_error = sc->error != NULL;
    rec_scenario_counts(sc, NULL, &v->exp_failed, NULL);
  }
  for (int k = 0; k < SIM_SEQ_NKINDS; k++)
    v->dropped += st->kind[k].dropped;
  v->lost = rec_lost(st);
  uint64_t held = st->in_flight + st->queued;
  v->unacknowledged = held > st->held_by_off_hubs ? held - st->held_by_off_hubs : 0;
  v->hubs_expected_online = expected_online(st);
  uint32_t online = st->hubs_by_state[SIM_HUB_OPEN];
  v->hubs_not_online = v->hubs_expected_online > online ? v->hubs_expected_online - online : 0;
  if (pv && pv->present)
    v->platform_gap = (int64_t)st->kind[SIM_SEQ_REPORT].acked - (int64_t)pv->reports_stored;
  double p99 = (double)sim_hist_quantile(&st->tick_lag, 0.99) / 1000.0;
  v->generator_late = st->tick_lag.count && p99 > run->max_lag_ms;
  v->never_online = st->sessions == 0;

  char a[32], b[32], c[32];
  if (v->script_error) {
    /* The timeline stopped part-way: no other figure answers the scenario's question. */
    if (sc->error_file && sc->error_file[0])
      REASON(v, "script_error", 2, 1, "the scenario script stopped the run with an error (%s:%d)",
             sc->error_file, sc->error_line);
    else
      REASON(v, "script_error", 2, 1, "the scenario script stopped the run with an error");
  }
  if (v->never_online) {
    /* The question could not be asked at all: exit 3, with the commonest error as the hint. */
    const struct sim_reason_count *top = NULL;
    for (size_t i = 0; i < st->n_errors; i++)
      if (!top || st->errors[i].count > top->count)
        top = &st->errors[i];
    if (top)
      REASON(v, "never_online", 3, st->hubs,
             "no hub ever opened a session with the platform (%s hubs tried; most frequent "
             "error %s, %s times)",
             grouped(a, sizeof a, st->hubs), top->name, grouped(b, sizeof b, top->count));
    else
      REASON(v, "never_online", 3, st->hubs,
             "no hub ever opened a session with the platform (%s hubs)",
             grouped(a, sizeof a, st->hubs));
  }
  if (v->lost)
    REASON(v, "lost", 1, v->lost,
           "%s messages were lost (sent, then neither acknowledged nor held by their hub)",
           grouped(a, sizeof a, v->lost));
  if (st->forgotten)
    REASON(v, "forgotten", 1, st->forgotten, "the platform lost %s messages it had acknowledged",
           grouped(a, sizeof a, st->forgotten));
  if (v->platform_gap > 0)
    REASON(v, "platform_gap", 1, (uint64_t)v->platform_gap,
           "the platform acknowledged %s reports more than it stored (acked %s, stored %s)",
           grouped(a, sizeof a, (uint64_t)v->platform_gap),
           grouped(b, sizeof b, st->kind[SIM_SEQ_REPORT].acked),
           grouped(c, sizeof c, pv->reports_stored));
  if (!v->never_online && v->hubs_not_online) {
    if (st->hubs_off_by_run || st->hubs_by_state[SIM_HUB_IDLE])
      REASON(v, "hubs_not_online", 1, v->hubs_not_online,
             "%s of %s hubs that should be online were not online at the end (%u held off by "
             "the run and %u not started are not counted)",
             grouped(a, sizeof a, v->hubs_not_online),
             grouped(b, sizeof b, v->hubs_expected_online), st->hubs_off_by_run,
             st->hubs_by_state[SIM_HUB_IDLE]);
    else
      REASON(v, "hubs_not_online", 1, v->hubs_not_online,
             "%s of %s hubs were not online at the end", grouped(a, sizeof a, v->hubs_not_online),
             grouped(b, sizeof b, v->hubs_expected_online));
  }
  if (v->unacknowledged) {
    if (st->held_by_off_hubs)
      REASON(v, "unacknowledged", 1, v->unacknowledged,
             "%s messages were never acknowledged (in flight %s and queued %s at the end, less "
             "%llu held by hubs the run took offline)",
             grouped(a, sizeof a, v->unacknowledged), grouped(b, sizeof b, st->in_flight),
             grouped(c, sizeof c, st->queued), (unsigned long long)st->held_by_off_hubs);
    else
      REASON(v, "unacknowledged", 1, v->unacknowledged,
             "%s messages were never acknowledged (in flight %s, queued %s at the end)",
             grouped(a, sizeof a, v->unacknowledged), grouped(b, sizeof b, st->in_flight),
             grouped(c, sizeof c, st->queued));
  }
  if (v->dropped) {
    int kinds = 0, only = 0;
    for (int k = 0; k < SIM_SEQ_NKINDS; k++)
      if (st->kind[k].dropped) {
        kinds++;
        only = k;
      }
    if (kinds == 1) {
      REASON(v, "dropped", 1, v->dropped, "%s %s were dropped (hub queue full)",
             grouped(a, sizeof a, v->dropped), kind_words[only]);
    } else {
      char list[160] = "";
      size_t o = 0;
      for (int k = 0; k < SIM_SEQ_NKINDS; k++)
        if (st->kind[k].dropped && o < sizeof list)
          o += (size_t)snprintf(list + o, sizeof list - o, "%s%s %s", o ? ", " : "",
                                grouped(b, sizeof b, st->kind[k].dropped), kind_words[k]);
      REASON(v, "dropped", 1, v->dropped, "%s messages were dropped (hub queue full): %s",
             grouped(a, sizeof a, v->dropped), list);
    }
  }
  if (v->generator_late)
    REASON(v, "generator_late", run->allow_lag ? 0 : 4, 1,
           run->allow_lag ? "the generator fell behind its schedule (--allow-lag)"
                          : "the generator could not keep its schedule (tick lag p99 %.2f ms above "
                            "the limit of %.2f ms); its figures are not trustworthy",
           p99, run->max_lag_ms);
  if (v->exp_failed)
    REASON(v, "expectations", 1, v->exp_failed,
           "%zu of %zu expectations of the scenario did not hold", v->exp_failed, sc->n_exp);
  decide(v, run);
}

void rec_verdict_add(struct rec_verdict *v, const char *check, int exit_code, uint64_t count,
                     const char *text, int first, const struct rec_run_info *run) {
  int decides = first || v->exit_code == 0;
  if (decides && v->n_reasons) {
    /* In front of the others: it is the first reason now. */
    size_t n = v->n_reasons < REC_VERDICT_MAX_REASONS ? v->n_reasons : REC_VERDICT_MAX_REASONS - 1;
    memmove(&v->reasons[1], &v->reasons[0], n * sizeof(v->reasons[0]));
    v->n_reasons = n;
    struct rec_reason *r = &v->reasons[0];
    memset(r, 0, sizeof(*r));
    r->check = check;
    r->exit_code = exit_code;
    r->count = count;
    snprintf(r->text, sizeof(r->text), "%s", text);
    v->n_reasons++;
  } else {
    REASON(v, check, exit_code, count, "%s", text);
  }
  decide(v, run);
}

static double ms(uint64_t us) {
  return (double)us / 1000.0;
}

static void print_hist(FILE *out, const char *name, const struct sim_hist *h) {
  if (!h->count) {
    fprintf(out, "  %-22s no samples\n", name);
    return;
  }
  fprintf(out,
          "  %-22s p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  p99.9 %.2f ms  max %.2f ms  (n=%llu)\n",
          name, ms(sim_hist_quantile(h, 0.5)), ms(sim_hist_quantile(h, 0.9)),
          ms(sim_hist_quantile(h, 0.99)), ms(sim_hist_quantile(h, 0.999)), ms(h->max),
          (unsigned long long)h->count);
}

static const char *verdict_names[] = {"pass", "fail", "no_data"};
static const char *verdict_text[] = {"PASS", "FAIL", "NO DATA"};

static int verdict_index(int verdict) {
  return verdict == REC_EXP_PASS ? 0 : verdict == REC_EXP_NO_DATA ? 2 : 1;
}

int rec_format_number(char *buf, size_t n, double x) {
  /* Whole values (counts) print without a fraction; others with up to 3 decimals, trailing
   * zeros removed, so "12.3" and "0.99" read as written in a script. */
  if (!isfinite(x))
    return snprintf(buf, n, "%s", isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
  if (x == floor(x) && fabs(x) < 1e15)
    return snprintf(buf, n, "%.0f", x);
  int len = snprintf(buf, n, "%.3f", x);
  if (len <= 0 || (size_t)len >= n)
    return len;
  while (len > 1 && buf[len - 1] == '0')
    buf[--len] = '\0';
  if (buf[len - 1] == '.')
    buf[--len] = '\0';
  if (strcmp(buf, "-0") == 0 || strcmp(buf, "0") == 0)
    len = snprintf(buf, n, "%.3g", x); /* tiny values: keep their magnitude visible */
  return len;
}

int rec_expectation_title(char *buf, size_t n, const struct rec_expectation *e) {
  char th[48];
  if (e->threshold_text && e->threshold_text[0])
    snprintf(th, sizeof(th), "%s", e->threshold_text);
  else
    rec_format_number(th, sizeof(th), e->threshold);
  if (e->after_s > 0) {
    char after[48];
    rec_format_number(after, sizeof(after), e->after_s);
    return snprintf(buf, n, "%s %s %s (after %s s)", e->metric ? e->metric : "?",
                    e->op ? e->op : "?", th, after);
  }
  return snprintf(buf, n, "%s %s %s", e->metric ? e->metric : "?", e->op ? e->op : "?", th);
}

static void print_scenario(FILE *out, const struct rec_scenario *sc) {
  size_t passed, failed, no_data;
  rec_scenario_counts(sc, &passed, &failed, &no_data);
  fprintf(out,
          "  scenario               %s: %llu steps run, last phase %s; %zu of %zu expectations "
          "held\n",
          sc->name ? sc->name : "-", (unsigned long long)sc->steps_run,
          sc->phase && sc->phase[0] ? sc->phase : "-", passed, sc->n_exp);
  static const struct sim_hist empty = {0};
  print_hist(out, "automation latency", sc->automation ? sc->automation : &empty);
  for (size_t i = 0; i < sc->n_exp; i++) {
    const struct rec_expectation *e = &sc->exp[i];
    char title[192], val[48];
    rec_expectation_title(title, sizeof(title), e);
    fprintf(out, "  expectation            %s: %s", title, verdict_text[verdict_index(e->verdict)]);
    if (e->verdict != REC_EXP_NO_DATA) {
      rec_format_number(val, sizeof(val), e->value);
      fprintf(out, " (measured %s%s%s", val, e->unit && e->unit[0] ? " " : "",
              e->unit ? e->unit : "");
      if (e->verdict != REC_EXP_PASS)
        fprintf(out, " at %.1f s", e->at_s);
      fputc(')', out);
    } else {
      fprintf(out, " (the metric had no samples)");
    }
    if (e->verdict != REC_EXP_PASS && e->file)
      fprintf(out, " [%s:%d]", e->file, e->line);
    fputc('\n', out);
  }
  if (sc->error && sc->error_file && sc->error_file[0])
    fprintf(out, "  scenario error         %s:%d: %s\n", sc->error_file, sc->error_line, sc->error);
  else if (sc->error)
    fprintf(out, "  scenario error         %s\n", sc->error);
}

static void print_tls(FILE *out, const struct rec_tls *t) {
  fprintf(out, "  tls                    %s, %llu handshakes",
          t->insecure ? "verification of the platform certificate OFF (--insecure)"
                      : "verification of the platform certificate and name on",
          (unsigned long long)t->st.handshakes);
  fprintf(out, " (%llu resumed)", (unsigned long long)t->st.resumed);
  for (int r = 0; r < SIM_TLS_R_COUNT; r++)
    if (t->st.failed[r])
      fprintf(out, ", %llu failed (%s)", (unsigned long long)t->st.failed[r],
              sim_tls_reason_name((enum sim_tls_reason)r));
  fputc('\n', out);
  print_hist(out, "tls handshake full", &t->st.full_us);
  print_hist(out, "tls handshake resumed", &t->st.resumed_us);
  for (int r = 0; r < SIM_TLS_R_COUNT; r++)
    if (t->st.failed[r] && t->st.last[r][0])
      fprintf(out, "  tls %-18s %s\n", sim_tls_reason_name((enum sim_tls_reason)r), t->st.last[r]);
}

static json_t *hist_json(const struct sim_hist *h);
static json_t *text_json(const char *s);

static void print_mqtt(FILE *out, const struct rec_mqtt *m) {
  fprintf(out, "  mqtt                   profile %s, MQTT %s, QoS %d", m->profile,
          m->version == 4 ? "3.1.1" : "5", m->qos);
  if (m->have_sent)
    fprintf(out, ", %llu frames published (%llu acknowledged by the broker), %llu broker failures",
            (unsigned long long)m->frames_sent, (unsigned long long)m->frames_acked,
            (unsigned long long)m->broker_failures);
  if (m->observer)
    fprintf(out, ", observer saw %llu uplink publishes%s", (unsigned long long)m->observed,
            m->observer_ok ? "" : " (its subscription was interrupted: a lower bound)");
  fputc('\n', out);
  if (m->last_error && *m->last_error)
    fprintf(out, "  mqtt last failure      %s\n", m->last_error);
}

static json_t *mqtt_json(const struct rec_mqtt *m) {
  json_t *o = json_object();
  json_object_set_new(o, "profile", json_string(m->profile));
  json_object_set_new(o, "version", json_string(m->version == 4 ? "3.1.1" : "5"));
  json_object_set_new(o, "qos", json_integer(m->qos));
  json_object_set_new(o, "frames_sent",
                      m->have_sent ? json_integer((json_int_t)m->frames_sent) : json_null());
  json_object_set_new(o, "frames_acked",
                      m->have_sent && m->qos > 0 ? json_integer((json_int_t)m->frames_acked)
                                                 : json_null());
  json_object_set_new(o, "broker_failures",
                      m->have_sent ? json_integer((json_int_t)m->broker_failures) : json_null());
  json_object_set_new(o, "last_error",
                      m->last_error && *m->last_error ? text_json(m->last_error) : json_null());
  json_object_set_new(o, "observed",
                      m->observer ? json_integer((json_int_t)m->observed) : json_null());
  json_object_set_new(o, "observer_complete",
                      m->observer ? json_boolean(m->observer_ok) : json_null());
  return o;
}

static json_t *tls_json(const struct rec_tls *t) {
  json_t *f = json_object();
  for (int r = 0; r < SIM_TLS_R_COUNT; r++)
    json_object_set_new(f, sim_tls_reason_name((enum sim_tls_reason)r),
                        json_integer((json_int_t)t->st.failed[r]));
  json_t *o = json_object();
  json_object_set_new(o, "insecure", json_boolean(t->insecure));
  json_object_set_new(o, "handshakes", json_integer((json_int_t)t->st.handshakes));
  json_object_set_new(o, "handshakes_resumed", json_integer((json_int_t)t->st.resumed));
  json_object_set_new(o, "handshake_full", hist_json(&t->st.full_us));
  json_object_set_new(o, "handshake_resumed", hist_json(&t->st.resumed_us));
  json_object_set_new(o, "handshake_failures", f);
  return o;
}

void rec_summary_print(FILE *out, const struct rec_run_info *run, const struct sim_fleet_stats *st,
                       const struct rec_platform_view *pv, const struct rec_verdict *v) {
  const struct sim_seq_counts *r = &st->kind[SIM_SEQ_REPORT];
  fprintf(out, "\nhubsim run summary\n");
  fprintf(out, "  fleet                  %u hubs x %u devices = %u devices, seed %llu, mix %s\n",
          st->hubs, run->devices_per_hub, st->devices, (unsigned long long)run->seed,
          run->mix ? run->mix : "-");
  if (run->shard && run->shard->merged)
    fprintf(out, "  shards                 %u merged, %u of %u hubs\n", run->shard->count, st->hubs,
            run->shard->fleet_hubs);
  else if (run->shard)
    fprintf(out, "  shard                  %u of %u (from 0): %u of %u hubs\n", run->shard->index,
            run->shard->count, st->hubs, run->shard->fleet_hubs);
  fprintf(out, "  platform               %s\n", run->platform_url);
  if (run->virtual_clock)
    fprintf(out,
            "  time                   %.1f s requested, %.1f s elapsed on the virtual clock in "
            "%.2f s of wall time\n",
            run->duration_s, run->elapsed_s, run->wall_s);
  else
    fprintf(out, "  time                   %.1f s requested, %.1f s elapsed\n", run->duration_s,
            run->elapsed_s);
  fprintf(out,
          "  sessions               %llu connects, %llu opened, %llu dropped, %u online at end",
          (unsigned long long)st->connects, (unsigned long long)st->sessions,
          (unsigned long long)st->disconnects, st->hubs_by_state[SIM_HUB_OPEN]);
  if (v->hubs_not_online)
    fprintf(out, ", %u not online", v->hubs_not_online);
  if (st->hubs_off_by_run)
    fprintf(out, ", %u held off by the run", st->hubs_off_by_run);
  if (st->hubs_by_state[SIM_HUB_IDLE])
    fprintf(out, ", %u not started", st->hubs_by_state[SIM_HUB_IDLE]);
  fputc('\n', out);
  fprintf(out,
          "  reports                generated %llu  sent %llu  acked %llu  resent %llu  "
          "dropped %llu\n",
          (unsigned long long)r->generated, (unsigned long long)r->sent,
          (unsigned long long)r->acked, (unsigned long long)r->resent,
          (unsigned long long)r->dropped);
  for (int k = 1; k < SIM_SEQ_NKINDS; k++) {
    const struct sim_seq_counts *c = &st->kind[k];
    if (c->generated)
      fprintf(out, "  %-22s generated %llu  sent %llu  acked %llu  resent %llu\n", kind_names[k],
              (unsigned long long)c->generated, (unsigned long long)c->sent,
              (unsigned long long)c->acked, (unsigned long long)c->resent);
  }
  fprintf(out, "  accounting             in flight %llu  queued %llu  lost %llu",
          (unsigned long long)st->in_flight, (unsigned long long)st->queued,
          (unsigned long long)v->lost);
  if (st->held_by_off_hubs)
    fprintf(out, "  (%llu held by hubs the run took offline)",
            (unsigned long long)st->held_by_off_hubs);
  fputc('\n', out);
  if (st->lost_power)
    fprintf(out,
            "  power cuts             %llu cuts; %llu messages the hubs held were lost with their "
            "power (never sent; a fault of the run, not of hubsim or the platform)\n",
            (unsigned long long)st->power_cuts, (unsigned long long)st->lost_power);
  if (st->forgotten)
    fprintf(out,
            "  platform loss          %llu messages acknowledged, then missing after a "
            "reconnect\n",
            (unsigned long long)st->forgotten);
  if (run->warmup_s > 0)
    fprintf(out, "  warm-up                latencies below leave out the first %.1f s\n",
            run->warmup_s);
  print_hist(out, "report ack latency", &st->ack_latency);
  print_hist(out, "report send lag", &st->send_lag);
  print_hist(out, "generator tick lag", &st->tick_lag);
  print_hist(out, "handshake", &st->handshake);
  uint64_t msgs = 0;
  for (int k = 0; k < SIM_SEQ_NKINDS; k++)
    msgs += st->kind[k].sent + st->kind[k].resent;
  fprintf(out, "  generator              cpu %.2f s user + %.2f s sys", run->cpu_user_s,
          run->cpu_sys_s);
  if (msgs)
    fprintf(out, " = %.2f us per message sent",
            (run->cpu_user_s + run->cpu_sys_s) * 1e6 / (double)msgs);
  fprintf(out, "; peak RSS %.1f MiB", (double)run->max_rss_bytes / 1048576.0);
  if (run->max_pss_bytes)
    fprintf(out, ", PSS %.1f MiB", (double)run->max_pss_bytes / 1048576.0);
  fprintf(out, "%s\n",
          run->platform_in_process           ? " (with the embedded platform)"
          : run->shard && run->shard->merged ? " (the shards' processes, summed)"
          : run->workers > 1                 ? " (worker processes, summed)"
                                             : "");
  if (st->all_online_at)
    fprintf(out, "  ramp                   all %u hubs online after %.2f s (%.0f hubs/s)\n",
            st->hubs, (double)st->all_online_at / 1e6,
            (double)st->hubs * 1e6 / (double)st->all_online_at);
  else
    fprintf(out, "  ramp                   %u of %u hubs were ever online\n", st->hubs_ever_online,
            st->hubs);
  fprintf(out, "  commands               received %llu  ok %llu  failed %llu\n",
          (unsigned long long)st->commands_received, (unsigned long long)st->commands_ok,
          (unsigned long long)st->commands_failed);
  if (st->cmds_held || st->cmds_expired)
    fprintf(out,
            "  sleepy devices         %llu commands held until the device polled, %llu "
            "expired unpolled\n",
            (unsigned long long)st->cmds_held, (unsigned long long)st->cmds_expired);
  if (st->radio_lost || st->radio_retries || st->air_full)
    fprintf(out,
            "  radio                  %llu device frames lost before the hub (never reported), "
            "%llu retries, %llu without an air slot\n",
            (unsigned long long)st->radio_lost, (unsigned long long)st->radio_retries,
            (unsigned long long)st->air_full);
  if (pv && pv->present)
    fprintf(out,
            "  platform counts        stored %llu reports, %llu duplicates dropped, %llu joins; "
            "commands sent %llu ok %llu failed %llu timed out %llu\n",
            (unsigned long long)pv->reports_stored, (unsigned long long)pv->duplicates,
            (unsigned long long)pv->joined, (unsigned long long)pv->commands_sent,
            (unsigned long long)pv->commands_ok, (unsigned long long)pv->commands_failed,
            (unsigned long long)pv->commands_timed_out);
  if (st->n_errors == 0) {
    fprintf(out, "  errors                 none\n");
  } else {
    fprintf(out, "  errors                ");
    for (size_t i = 0; i < st->n_errors; i++)
      fprintf(out, " %s=%llu", st->errors[i].name, (unsigned long long)st->errors[i].count);
    fputc('\n', out);
  }
  if (run->tls)
    print_tls(out, run->tls);
  if (run->mqtt)
    print_mqtt(out, run->mqtt);
  if (run->record)
    rec_capture_print(out, run->record);
  if (run->scenario)
    print_scenario(out, run->scenario);
  fprintf(out, "  verdict                %s\n", v->text);
  /* The verdict names the first reason; the others follow, so nothing is hidden behind it. */
  int skipped = 0;
  for (size_t i = 0; i < v->n_reasons; i++) {
    const struct rec_reason *why = &v->reasons[i];
    if (!skipped && (why->exit_code || v->exit_code == 0)) {
      skipped = 1; /* the one the verdict line already shows */
      continue;
    }
    fprintf(out, "  %-22s %s%s\n", "also", why->exit_code ? "" : "warning: ", why->text);
  }
}

static json_t *hist_json(const struct sim_hist *h) {
  json_t *o = json_object();
  json_object_set_new(o, "count", json_integer((json_int_t)h->count));
  if (h->count) {
    json_object_set_new(o, "min_ms", json_real(ms(h->min)));
    json_object_set_new(o, "p50_ms", json_real(ms(sim_hist_quantile(h, 0.5))));
    json_object_set_new(o, "p90_ms", json_real(ms(sim_hist_quantile(h, 0.9))));
    json_object_set_new(o, "p99_ms", json_real(ms(sim_hist_quantile(h, 0.99))));
    json_object_set_new(o, "p999_ms", json_real(ms(sim_hist_quantile(h, 0.999))));
    json_object_set_new(o, "max_ms", json_real(ms(h->max)));
    json_object_set_new(o, "mean_ms", json_real(ms(h->sum / h->count)));
  }
  return o;
}

static json_t *counts_json(const struct sim_seq_counts *c) {
  return json_pack("{s:I,s:I,s:I,s:I,s:I}", "generated", (json_int_t)c->generated, "dropped",
                   (json_int_t)c->dropped, "sent", (json_int_t)c->sent, "resent",
                   (json_int_t)c->resent, "acked", (json_int_t)c->acked);
}

/* A double that JSON can hold: NaN and infinities (which JSON has no spelling for) become null. */
static json_t *real_or_null(double x) {
  return isfinite(x) ? json_real(x) : json_null();
}

size_t rec_utf8_seq(const unsigned char *s, size_t n) {
  size_t len = sim_utf8_seq(s, n);
  /* U+FFFE and U+FFFF (EF BF BE, EF BF BF) are well-formed, but XML 1.0 has no place for them:
   * the text formats written here refuse them too. */
  if (len == 3 && s[0] == 0xEF && s[1] == 0xBF && (s[2] == 0xBE || s[2] == 0xBF))
    return 0;
  return len;
}

/* Script text (metric names, messages) may hold any bytes, and jansson refuses invalid UTF-8:
 * such bytes become '?' rather than the key going missing. */
static json_t *text_json(const char *s) {
  json_t *j = json_string(s);
  if (j)
    return j;
  size_t n = strlen(s);
  char *copy = malloc(n + 1);
  if (!copy)
    return json_string("");
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    size_t l = rec_utf8_seq((const unsigned char *)s + i, n - i);
    if (l == 0) {
      copy[o++] = '?';
      i++;
    } else {
      memcpy(copy + o, s + i, l);
      o += l;
      i += l;
    }
  }
  copy[o] = '\0';
  j = json_string(copy);
  free(copy);
  return j ? j : json_string("");
}

static json_t *str_or_null(const char *s) {
  return s ? text_json(s) : json_null();
}

static json_t *scenario_json(const struct rec_scenario *sc) {
  size_t passed, failed, no_data;
  rec_scenario_counts(sc, &passed, &failed, &no_data);
  json_t *o = json_object();
  json_object_set_new(o, "name", text_json(sc->name ? sc->name : ""));
  json_object_set_new(o, "phase", text_json(sc->phase ? sc->phase : ""));
  json_object_set_new(o, "steps_run", json_integer((json_int_t)sc->steps_run));
  json_object_set_new(o, "passed", json_integer((json_int_t)passed));
  json_object_set_new(o, "failed", json_integer((json_int_t)failed));
  json_object_set_new(o, "no_data", json_integer((json_int_t)no_data));
  static const struct sim_hist empty = {0};
  json_object_set_new(o, "automation_latency", hist_json(sc->automation ? sc->automation : &empty));
  json_t *arr = json_array();
  for (size_t i = 0; i < sc->n_exp; i++) {
    const struct rec_expectation *e = &sc->exp[i];
    int nd = e->verdict == REC_EXP_NO_DATA;
    json_t *x = json_object();
    json_object_set_new(x, "metric", text_json(e->metric ? e->metric : ""));
    json_object_set_new(x, "op", text_json(e->op ? e->op : ""));
    json_object_set_new(x, "threshold", real_or_null(e->threshold));
    char th[48];
    if (e->threshold_text && e->threshold_text[0])
      snprintf(th, sizeof(th), "%s", e->threshold_text);
    else
      rec_format_number(th, sizeof(th), e->threshold);
    json_object_set_new(x, "threshold_text", text_json(th));
    json_object_set_new(x, "unit", text_json(e->unit ? e->unit : ""));
    json_object_set_new(x, "after_s", real_or_null(e->after_s));
    json_object_set_new(x, "value", nd ? json_null() : real_or_null(e->value));
    json_object_set_new(x, "at_s", nd ? json_null() : real_or_null(e->at_s));
    json_object_set_new(x, "verdict", json_string(verdict_names[verdict_index(e->verdict)]));
    json_object_set_new(x, "file", str_or_null(e->file));
    json_object_set_new(x, "line", json_integer(e->line));
    json_array_append_new(arr, x);
  }
  json_object_set_new(o, "expectations", arr);
  if (sc->error)
    json_object_set_new(o, "error",
                        json_pack("{s:o,s:i,s:o}", "file", str_or_null(sc->error_file), "line",
                                  sc->error_line, "message", text_json(sc->error)));
  else
    json_object_set_new(o, "error", json_null());
  return o;
}

int rec_summary_write(const char *path, const struct rec_run_info *run,
                      const struct sim_fleet_stats *st, const struct rec_platform_view *pv,
                      const struct rec_verdict *v) {
  json_t *root = json_object();
  json_object_set_new(root, "schema", json_string("hubsim.summary/1"));
  json_object_set_new(root, "started_at", json_string(run->started_at ? run->started_at : ""));
  json_object_set_new(root, "fleet",
                      json_pack("{s:I,s:I,s:I,s:s,s:I,s:f}", "hubs", (json_int_t)st->hubs,
                                "devices_per_hub", (json_int_t)run->devices_per_hub, "devices",
                                (json_int_t)st->devices, "mix", run->mix ? run->mix : "", "seed",
                                (json_int_t)run->seed, "ramp_hubs_per_s", run->ramp));
  json_object_set_new(root, "platform", json_string(run->platform_url));
  json_object_set_new(root, "run",
                      json_pack("{s:f,s:f,s:f,s:I,s:b,s:f}", "speedup", run->speedup, "drain_s",
                                run->drain_s, "max_lag_ms", run->max_lag_ms, "queue_max",
                                (json_int_t)run->queue_max, "allow_lag", run->allow_lag, "warmup_s",
                                run->warmup_s));
  json_object_set_new(json_object_get(root, "run"), "clock",
                      json_string(run->virtual_clock ? "virtual" : "real"));
  json_object_set_new(root, "duration_s", json_real(run->duration_s));
  json_object_set_new(root, "elapsed_s", json_real(run->elapsed_s));
  json_t *counts = json_object();
  for (int k = 0; k < SIM_SEQ_NKINDS; k++)
    json_object_set_new(counts, kind_names[k], counts_json(&st->kind[k]));
  json_object_set_new(counts, "in_flight", json_integer((json_int_t)st->in_flight));
  json_object_set_new(counts, "queued", json_integer((json_int_t)st->queued));
  json_object_set_new(counts, "lost_power", json_integer((json_int_t)st->lost_power));
  json_object_set_new(counts, "lost_power_sent", json_integer((json_int_t)st->lost_power_sent));
  json_object_set_new(counts, "held_by_off_hubs", json_integer((json_int_t)st->held_by_off_hubs));
  json_object_set_new(counts, "unacknowledged", json_integer((json_int_t)v->unacknowledged));
  json_object_set_new(counts, "lost", json_integer((json_int_t)v->lost));
  json_object_set_new(counts, "forgotten_by_platform", json_integer((json_int_t)st->forgotten));
  json_object_set_new(counts, "duplicated",
                      json_integer(pv && pv->present ? (json_int_t)pv->duplicates : -1));
  json_object_set_new(root, "counts", counts);
  json_object_set_new(root, "sessions",
                      json_pack("{s:I,s:I,s:I,s:I,s:I}", "connects", (json_int_t)st->connects,
                                "opened", (json_int_t)st->sessions, "dropped",
                                (json_int_t)st->disconnects, "online_at_end",
                                (json_int_t)st->hubs_by_state[SIM_HUB_OPEN], "heartbeats_sent",
                                (json_int_t)st->heartbeats_sent));
  json_t *sess = json_object_get(root, "sessions");
  json_object_set_new(sess, "expected_online_at_end",
                      json_integer((json_int_t)v->hubs_expected_online));
  json_object_set_new(sess, "not_online_at_end", json_integer((json_int_t)v->hubs_not_online));
  json_object_set_new(sess, "off_by_run_at_end", json_integer((json_int_t)st->hubs_off_by_run));
  json_object_set_new(sess, "not_started_at_end",
                      json_integer((json_int_t)st->hubs_by_state[SIM_HUB_IDLE]));
  json_t *lat = json_object();
  json_object_set_new(lat, "report_ack", hist_json(&st->ack_latency));
  json_object_set_new(lat, "report_send_lag", hist_json(&st->send_lag));
  json_object_set_new(lat, "generator_tick_lag", hist_json(&st->tick_lag));
  json_object_set_new(lat, "handshake", hist_json(&st->handshake));
  json_object_set_new(root, "latency", lat);
  uint64_t msgs = 0;
  for (int k = 0; k < SIM_SEQ_NKINDS; k++)
    msgs += st->kind[k].sent + st->kind[k].resent;
  /* On the virtual clock the machine's figures would make two runs of one seed differ, so the
   * file leaves them out: null, which no reader can take for a measured 0 (the human summary
   * still prints them). */
  int measured = !run->virtual_clock;
  json_t *gen = json_pack("{s:o,s:o,s:o,s:b}", "cpu_user_s",
                          measured ? json_real(run->cpu_user_s) : json_null(), "cpu_sys_s",
                          measured ? json_real(run->cpu_sys_s) : json_null(), "max_rss_bytes",
                          measured ? json_integer((json_int_t)run->max_rss_bytes) : json_null(),
                          "platform_in_process", run->platform_in_process);
  json_object_set_new(gen, "max_pss_bytes",
                      measured ? json_integer((json_int_t)run->max_pss_bytes) : json_null());
  json_object_set_new(gen, "workers", json_integer(run->workers ? run->workers : 1));
  json_object_set_new(gen, "cpu_us_per_message",
                      msgs && measured
                          ? json_real((run->cpu_user_s + run->cpu_sys_s) * 1e6 / (double)msgs)
                          : json_null());
  json_object_set_new(root, "generator", gen);
  json_object_set_new(
      root, "ramp",
      json_pack("{s:I,s:o}", "hubs_ever_online", (json_int_t)st->hubs_ever_online, "all_online_s",
                st->all_online_at ? json_real((double)st->all_online_at / 1e6) : json_null()));
  json_object_set_new(
      root, "commands",
      json_pack("{s:I,s:I,s:I,s:I,s:I}", "received", (json_int_t)st->commands_received, "ok",
                (json_int_t)st->commands_ok, "failed", (json_int_t)st->commands_failed,
                "held_for_poll", (json_int_t)st->cmds_held, "expired_unpolled",
                (json_int_t)st->cmds_expired));
  json_object_set_new(root, "radio",
                      json_pack("{s:I,s:I,s:I}", "lost", (json_int_t)st->radio_lost, "retries",
                                (json_int_t)st->radio_retries, "no_air_slot",
                                (json_int_t)st->air_full));
  json_object_set_new(root, "traffic",
                      json_pack("{s:I,s:I,s:I,s:I}", "frames_out", (json_int_t)st->frames_out,
                                "frames_in", (json_int_t)st->frames_in, "bytes_out",
                                (json_int_t)st->bytes_out, "bytes_in", (json_int_t)st->bytes_in));
  json_t *errs = json_object();
  for (size_t i = 0; i < st->n_errors; i++)
    json_object_set_new(errs, st->errors[i].name, json_integer((json_int_t)st->errors[i].count));
  json_object_set_new(root, "errors", errs);
  if (pv && pv->present)
    json_object_set_new(
        root, "platform_counts",
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "reports_stored",
                  (json_int_t)pv->reports_stored, "duplicates", (json_int_t)pv->duplicates,
                  "joined", (json_int_t)pv->joined, "commands_sent", (json_int_t)pv->commands_sent,
                  "commands_ok", (json_int_t)pv->commands_ok, "commands_failed",
                  (json_int_t)pv->commands_failed, "commands_timed_out",
                  (json_int_t)pv->commands_timed_out, "sessions_accepted",
                  (json_int_t)pv->sessions_accepted, "auth_failed", (json_int_t)pv->auth_failed));
  else
    json_object_set_new(root, "platform_counts", json_null());
  if (run->tls)
    json_object_set_new(root, "tls", tls_json(run->tls));
  if (run->mqtt)
    json_object_set_new(root, "mqtt", mqtt_json(run->mqtt));
  if (run->record)
    json_object_set_new(root, "record", rec_capture_json(run->record));
  if (run->scenario)
    json_object_set_new(root, "scenario", scenario_json(run->scenario));
  if (run->shard)
    json_object_set_new(root, "shard",
                        rec_shard_json(run->shard, st, run->tls ? &run->tls->st : NULL));
  json_t *verdict = json_pack("{s:i,s:s,s:b}", "exit_code", v->exit_code, "text", v->text,
                              "generator_late", v->generator_late);
  json_t *reasons = json_array();
  for (size_t i = 0; i < v->n_reasons; i++)
    json_array_append_new(reasons, json_pack("{s:s,s:i,s:I,s:o}", "check", v->reasons[i].check,
                                             "exit_code", v->reasons[i].exit_code, "count",
                                             (json_int_t)v->reasons[i].count, "text",
                                             text_json(v->reasons[i].text)));
  json_object_set_new(verdict, "reasons", reasons);
  json_object_set_new(verdict, "interrupted", str_or_null(run->interrupted));
  json_object_set_new(root, "verdict", verdict);

  struct sim_wfile w;
  int rc = sim_wfile_open(&w, path);
  if (rc == 0) {
    if (json_dumpf(root, w.fp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
      rc = SIM_EIO;
      sim_wfile_abort(&w);
    } else {
      rc = sim_wfile_commit(&w);
    }
  }
  json_decref(root);
  return rc;
}
