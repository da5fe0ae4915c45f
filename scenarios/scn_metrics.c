/* Metrics, expectations and the end-to-end automation latency.
 *
 * Metric values come from a snapshot of the fleet's figures (sim_fleet_stats), the automation
 * histogram kept here and the platform's own figures (scn_platform_ops.metric) for names
 * "platform.NAME". docs/scenarios.md lists every name with its meaning and unit. */
#include <inttypes.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenarios/scn_internal.h"
#include "sim/core/err.h"
#include "sim/wire/zcl.h"

/* ---- the registry -------------------------------------------------------------------------- */

enum {
  M_GENERATED,
  M_SENT,
  M_ACKED,
  M_RESENT,
  M_DROPPED,
  M_LOST,
  M_IN_FLIGHT,
  M_QUEUED,
  M_FORGOTTEN,
  M_LOST_POWER,
  M_HUBS_ONLINE,
  M_HUBS_ONLINE_COUNT,
  M_HUBS_TOTAL,
  M_HUBS_EVER,
  M_HUBS_ALL_ONLINE_AT,
  M_SESSIONS,
  M_CONNECTS,
  M_DISCONNECTS,
  M_DEVICES,
  M_CMD_RECEIVED,
  M_CMD_OK,
  M_CMD_FAILED,
  M_AUTOMATION_COUNT,
  M_RADIO_LOST,
  M_POWER_CUTS,
  M_FAULTS,
  M_ERRORS,
  M_TRIGGERS,
  M_TRIGGERS_UNKNOWN,
};

struct scalar {
  const char *name;
  int id;
  const char *unit;
};

static const struct scalar scalars[] = {
    {"reports.generated", M_GENERATED, "count"},
    {"reports.sent", M_SENT, "count"},
    {"reports.acked", M_ACKED, "count"},
    {"reports.resent", M_RESENT, "count"},
    {"reports.dropped", M_DROPPED, "count"},
    {"reports.lost", M_LOST, "count"},
    {"reports.in_flight", M_IN_FLIGHT, "count"},
    {"reports.queued", M_QUEUED, "count"},
    {"reports.forgotten", M_FORGOTTEN, "count"},
    {"reports.lost_power", M_LOST_POWER, "count"},
    {"hubs.online", M_HUBS_ONLINE, "ratio"},
    {"hubs.online_count", M_HUBS_ONLINE_COUNT, "count"},
    {"hubs.total", M_HUBS_TOTAL, "count"},
    {"hubs.ever_online", M_HUBS_EVER, "count"},
    {"hubs.all_online_at", M_HUBS_ALL_ONLINE_AT, "s"},
    {"hubs.sessions", M_SESSIONS, "count"},
    {"hubs.connects", M_CONNECTS, "count"},
    {"hubs.disconnects", M_DISCONNECTS, "count"},
    {"devices.total", M_DEVICES, "count"},
    {"commands.received", M_CMD_RECEIVED, "count"},
    {"commands.ok", M_CMD_OK, "count"},
    {"commands.failed", M_CMD_FAILED, "count"},
    {"automation.count", M_AUTOMATION_COUNT, "count"},
    {"radio.lost", M_RADIO_LOST, "count"},
    {"power_cuts", M_POWER_CUTS, "count"},
    {"faults", M_FAULTS, "count"},
    {"errors.total", M_ERRORS, "count"},
    {"triggers.sent", M_TRIGGERS, "count"},
    {"triggers.unknown", M_TRIGGERS_UNKNOWN, "count"},
};

enum { H_RTT, H_SEND_LAG, H_TICK_LAG, H_HANDSHAKE, H_AUTOMATION };
static const struct {
  const char *prefix;
  int id;
} hists[] = {
    {"report.rtt", H_RTT},
    {"report.send_lag", H_SEND_LAG},
    {"generator.tick_lag", H_TICK_LAG},
    {"hubs.handshake", H_HANDSHAKE},
    {"automation.latency", H_AUTOMATION},
};
static const char *const hist_stats[] = {"p50", "p90",  "p99",   "p999", "max",
                                         "min", "mean", "count", NULL};

/* Splits a histogram metric name; 1 when it is one. */
static int parse_hist(const char *name, int *hid, const char **stat) {
  for (size_t i = 0; i < sizeof hists / sizeof hists[0]; i++) {
    size_t n = strlen(hists[i].prefix);
    if (strncmp(name, hists[i].prefix, n) == 0 && name[n] == '.') {
      for (size_t j = 0; hist_stats[j]; j++) {
        if (strcmp(name + n + 1, hist_stats[j]) == 0) {
          *hid = hists[i].id;
          *stat = hist_stats[j];
          return 1;
        }
      }
    }
  }
  return 0;
}

int scn_metric_known(const char *name, const char **unit, int *is_latency) {
  *is_latency = 0;
  for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
    if (strcmp(name, scalars[i].name) == 0) {
      *unit = scalars[i].unit;
      return 1;
    }
  }
  int hid;
  const char *stat;
  if (parse_hist(name, &hid, &stat)) {
    if (strcmp(stat, "count") == 0) {
      *unit = "count";
    } else {
      *unit = "ms";
      *is_latency = 1;
    }
    return 1;
  }
  if (strncmp(name, "platform.", 9) == 0 && name[9]) {
    *unit = "";
    return 1;
  }
  return 0;
}

void scn_stats_refresh(struct scn *s) {
  if (s->fleet && s->stats)
    sim_fleet_stats(s->fleet, s->stats);
}

static double hist_value(const struct sim_hist *h, const char *stat, int *no_data) {
  if (strcmp(stat, "count") == 0)
    return (double)h->count;
  if (!h->count) {
    *no_data = 1;
    return 0;
  }
  double q;
  if (strcmp(stat, "max") == 0)
    return (double)h->max / 1000.0;
  if (strcmp(stat, "min") == 0)
    return (double)h->min / 1000.0;
  if (strcmp(stat, "mean") == 0)
    return (double)h->sum / (double)h->count / 1000.0;
  if (strcmp(stat, "p50") == 0)
    q = 0.5;
  else if (strcmp(stat, "p90") == 0)
    q = 0.9;
  else if (strcmp(stat, "p99") == 0)
    q = 0.99;
  else
    q = 0.999;
  return (double)sim_hist_quantile(h, q) / 1000.0;
}

int scn_metric_value(struct scn *s, const char *name, int at_end, double *out) {
  if (strncmp(name, "platform.", 9) == 0) {
    if (!s->has_ops || !s->ops.metric)
      return SIM_ENOTFOUND;
    return s->ops.metric(s->ops.arg, name + 9, out) ? SIM_ENOTFOUND : 0;
  }
  int hid;
  const char *stat;
  if (parse_hist(name, &hid, &stat)) {
    if (hid != H_AUTOMATION && (!s->fleet || !s->stats))
      return SIM_EAGAIN;
    const struct sim_hist *h = hid == H_AUTOMATION ? &s->automation
                               : hid == H_RTT      ? &s->stats->ack_latency
                               : hid == H_SEND_LAG ? &s->stats->send_lag
                               : hid == H_TICK_LAG ? &s->stats->tick_lag
                                                   : &s->stats->handshake;
    int no_data = 0;
    *out = hist_value(h, stat, &no_data);
    return no_data ? SIM_EAGAIN : 0;
  }
  int id = -1;
  for (size_t i = 0; i < sizeof scalars / sizeof scalars[0] && id < 0; i++)
    if (strcmp(name, scalars[i].name) == 0)
      id = scalars[i].id;
  if (id < 0)
    return SIM_ENOTFOUND;
  switch (id) {
  case M_AUTOMATION_COUNT:
    *out = (double)s->automation.count;
    return 0;
  case M_TRIGGERS:
    *out = (double)s->triggers_ok;
    return 0;
  case M_TRIGGERS_UNKNOWN:
    *out = (double)s->triggers_unknown;
    return 0;
  default:
    break;
  }
  if (!s->fleet || !s->stats)
    return SIM_EAGAIN;
  const struct sim_fleet_stats *st = s->stats;
  const struct sim_seq_counts *r = &st->kind[SIM_SEQ_REPORT];
  double v = 0;
  switch (id) {
  case M_GENERATED:
    v = (double)r->generated;
    break;
  case M_SENT:
    v = (double)r->sent;
    break;
  case M_ACKED:
    v = (double)r->acked;
    break;
  case M_RESENT:
    v = (double)r->resent;
    break;
  case M_DROPPED:
    v = (double)r->dropped;
    break;
  case M_LOST: {
    /* What hubsim or the platform failed to deliver, as the summary counts it (counts.lost:
     * sent - acked - in flight over every kind), plus what was dropped for a full queue and
     * what the platform forgot after acknowledging it: none of these can arrive any more. What
     * is in flight or queued is merely under way while the run goes on (a live view or a
     * continuous expectation must not call it lost); once the run is over it never made it,
     * and counts. Messages a power cut destroyed are the run's doing: see reports.lost_power. */
    uint64_t sent = 0, acked = 0, dropped = 0;
    for (int k = 0; k < SIM_SEQ_NKINDS; k++) {
      sent += st->kind[k].sent;
      acked += st->kind[k].acked;
      dropped += st->kind[k].dropped;
    }
    uint64_t gap = sent > acked + st->in_flight ? sent - acked - st->in_flight : 0;
    v = (double)(gap + dropped + st->forgotten);
    if (at_end)
      v += (double)(st->in_flight + st->queued);
    break;
  }
  case M_IN_FLIGHT:
    v = (double)st->in_flight;
    break;
  case M_QUEUED:
    v = (double)st->queued;
    break;
  case M_FORGOTTEN:
    v = (double)st->forgotten;
    break;
  case M_LOST_POWER:
    v = (double)st->lost_power;
    break;
  case M_HUBS_ONLINE:
    v = st->hubs ? (double)st->hubs_by_state[SIM_HUB_OPEN] / st->hubs : 0;
    break;
  case M_HUBS_ONLINE_COUNT:
    v = st->hubs_by_state[SIM_HUB_OPEN];
    break;
  case M_HUBS_TOTAL:
    v = st->hubs;
    break;
  case M_HUBS_EVER:
    v = st->hubs_ever_online;
    break;
  case M_HUBS_ALL_ONLINE_AT:
    if (!st->all_online_at)
      return SIM_EAGAIN;
    v = (double)st->all_online_at / 1e6;
    break;
  case M_SESSIONS:
    v = (double)st->sessions;
    break;
  case M_CONNECTS:
    v = (double)st->connects;
    break;
  case M_DISCONNECTS:
    v = (double)st->disconnects;
    break;
  case M_DEVICES:
    v = st->devices;
    break;
  case M_CMD_RECEIVED:
    v = (double)st->commands_received;
    break;
  case M_CMD_OK:
    v = (double)st->commands_ok;
    break;
  case M_CMD_FAILED:
    v = (double)st->commands_failed;
    break;
  case M_RADIO_LOST:
    v = (double)st->radio_lost;
    break;
  case M_POWER_CUTS:
    v = (double)st->power_cuts;
    break;
  case M_FAULTS:
    v = (double)st->faults;
    break;
  case M_ERRORS:
    for (size_t i = 0; i < st->n_errors; i++)
      v += (double)st->errors[i].count;
    break;
  default:
    return SIM_ENOTFOUND;
  }
  *out = v;
  return 0;
}

/* ---- expect() ------------------------------------------------------------------------------ */

static int op_holds(const char *op, double v, double t) {
  if (strcmp(op, "<") == 0)
    return v < t;
  if (strcmp(op, "<=") == 0)
    return v <= t;
  if (strcmp(op, ">") == 0)
    return v > t;
  if (strcmp(op, ">=") == 0)
    return v >= t;
  if (strcmp(op, "==") == 0)
    return fabs(v - t) <= 1e-9 * fmax(1.0, fabs(t));
  return fabs(v - t) > 1e-9 * fmax(1.0, fabs(t)); /* "!=" */
}

int scn_api_expect(lua_State *L) {
  struct scn *s = scn_from_L(L);
  const char *metric = luaL_checkstring(L, 1);
  const char *op = luaL_checkstring(L, 2);
  const char *unit;
  int is_latency;
  if (strlen(metric) >= sizeof s->exp[0].metric || !scn_metric_known(metric, &unit, &is_latency))
    scn_raise(L, "expect: unknown metric '%s' (docs/scenarios.md lists them)", metric);
  static const char *const ops[] = {"<", "<=", ">", ">=", "==", "!=", NULL};
  int ok = 0;
  for (size_t i = 0; ops[i] && !ok; i++)
    ok = strcmp(op, ops[i]) == 0;
  if (!ok)
    scn_raise(L, "expect: bad operator '%s' (use <, <=, >, >=, == or !=)", op);
  double threshold;
  char text[32];
  if (lua_type(L, 3) == LUA_TNUMBER) {
    threshold = lua_tonumber(L, 3);
    if (!isfinite(threshold))
      scn_raise(L, "expect: the value must be finite");
    /* Whole numbers as written (30, 7200); others the shortest decimal that reads back the
     * same, never in exponent form. */
    if (threshold == floor(threshold) && fabs(threshold) < 1e15) {
      snprintf(text, sizeof text, "%.0f", threshold);
    } else {
      for (int prec = 1; prec <= 17; prec++) {
        snprintf(text, sizeof text, "%.*f", prec, threshold);
        if (strtod(text, NULL) == threshold)
          break;
      }
    }
  } else if (lua_type(L, 3) == LUA_TSTRING) {
    const char *t = lua_tostring(L, 3);
    if (strcmp(unit, "ms") != 0 && strcmp(unit, "s") != 0)
      scn_raise(L, "expect: '%s' is not a time metric: write a number, not '%s'", metric, t);
    double sec;
    if (scn_parse_duration(t, &sec))
      scn_raise(L, "expect: bad duration '%s' (write e.g. \"250ms\", \"2s\")", t);
    if (fabs(sec) > SCN_MAX_DURATION_S)
      scn_raise(L, "expect: duration '%s' is longer than %.0f days, the longest a script may write",
                t, SCN_MAX_DURATION_S / 86400);
    threshold = strcmp(unit, "ms") == 0 ? sec * 1000.0 : sec;
    snprintf(text, sizeof text, "%s", t);
  } else {
    scn_raise(L, "expect: the value must be a number or a duration string");
    return 0;
  }
  double after = 0;
  if (!lua_isnoneornil(L, 4)) {
    luaL_checktype(L, 4, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 4)) {
      lua_pop(L, 1);
      const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
      if (strcmp(k, "after") != 0)
        scn_raise(L, "expect: unknown option '%s'", k);
    }
    if (lua_getfield(L, 4, "after") != LUA_TNIL)
      after = scn_check_duration(L, -1, "expect after", 0);
    lua_pop(L, 1);
  }
  if (s->n_exp == SCN_MAX_EXP)
    scn_raise(L, "expect: at most %d expectations", SCN_MAX_EXP);
  struct scn_expectation *e = &s->exp[s->n_exp++];
  memset(e, 0, sizeof *e);
  snprintf(e->metric, sizeof e->metric, "%s", metric);
  snprintf(e->op, sizeof e->op, "%s", op);
  e->threshold = threshold;
  snprintf(e->threshold_text, sizeof e->threshold_text, "%s", text);
  e->after_s = after;
  snprintf(e->file, sizeof e->file, "%s", s->path);
  e->line = scn_current_line(L);
  snprintf(e->unit, sizeof e->unit, "%s", unit);
  e->verdict = SCN_NO_DATA;
  return 0;
}

/* ---- evaluation ---------------------------------------------------------------------------- */

void scn_poll(struct scn *s) {
  if (!s->started || s->failed)
    return;
  double now = (double)sim_sched_now(&s->sched) / 1e6;
  int refreshed = 0;
  for (size_t i = 0; i < s->n_exp; i++) {
    struct scn_expectation *e = &s->exp[i];
    if (e->after_s <= 0 || now < e->after_s || (e->verdict == SCN_FAIL && e->at_s > 0))
      continue;
    if (!refreshed) {
      scn_stats_refresh(s);
      refreshed = 1;
    }
    double v;
    if (scn_metric_value(s, e->metric, 0, &v) != 0)
      continue; /* no data yet: judged at the end */
    if (!op_holds(e->op, v, e->threshold)) {
      e->verdict = SCN_FAIL;
      e->value = v;
      e->at_s = now;
      scn_logf(s, "expectation %s %s %s violated: %g (%s:%d)", e->metric, e->op, e->threshold_text,
               v, e->file, e->line);
    }
  }
}

static void results_fill(struct scn *s, const struct scn_expectation *exp,
                         struct scn_results *out) {
  out->passed = out->failed = 0;
  for (size_t i = 0; i < s->n_exp; i++) {
    if (exp[i].verdict == SCN_PASS)
      out->passed++;
    else if (exp[i].verdict == SCN_FAIL || exp[i].verdict == SCN_NO_DATA)
      out->failed++;
  }
  out->exp = exp;
  out->n_exp = s->n_exp;
  out->automation = &s->automation;
  out->steps_run = s->steps_run;
  out->phase = s->phase;
}

void scn_finish(struct scn *s, struct scn_results *out) {
  s->finished = 1;
  scn_stats_refresh(s);
  double now = s->sched_open ? (double)sim_sched_now(&s->sched) / 1e6 : 0;
  for (size_t i = 0; i < s->n_exp; i++) {
    struct scn_expectation *e = &s->exp[i];
    /* After scn_stop() the fleet is gone: the verdicts taken before stay as they are. */
    if (s->fleet && !(e->verdict == SCN_FAIL && e->at_s > 0)) {
      double v = 0;
      int rc = scn_metric_value(s, e->metric, 1, &v);
      e->at_s = now;
      if (rc) {
        e->verdict = SCN_NO_DATA;
        e->value = 0;
      } else {
        e->value = v;
        e->verdict = op_holds(e->op, v, e->threshold) ? SCN_PASS : SCN_FAIL;
      }
    }
  }
  results_fill(s, s->exp, out);
}

void scn_peek(struct scn *s, struct scn_results *out) {
  double now = s->sched_open ? (double)sim_sched_now(&s->sched) / 1e6 : 0;
  if (s->fleet)
    scn_stats_refresh(s); /* the snapshot buffer every evaluation refreshes first */
  for (size_t i = 0; i < s->n_exp; i++) {
    const struct scn_expectation *e = &s->exp[i];
    struct scn_expectation *p = &s->peek[i];
    *p = *e;
    if (s->finished || (e->verdict == SCN_FAIL && e->at_s > 0))
      continue; /* judged at the end, or a violation scn_poll kept: final */
    if (!s->fleet) {
      p->verdict = SCN_PENDING; /* not started, or stopped before the end was judged */
      p->value = NAN;
      continue;
    }
    double v;
    int rc = scn_metric_value(s, e->metric, 0, &v);
    p->value = rc ? NAN : v;
    p->at_s = now;
    if (e->after_s <= 0 || now < e->after_s || rc)
      p->verdict = SCN_PENDING; /* judged at the end, or not yet from its `after` on */
    else
      p->verdict = op_holds(e->op, v, e->threshold) ? SCN_PASS : SCN_FAIL;
  }
  results_fill(s, s->peek, out);
}

/* ---- automation latency -------------------------------------------------------------------- */

/* The numeric value of attribute attr in a device frame on cluster, 1 when found. IAS Zone
 * Status Change Notifications count as attribute 0x0002 (ZoneStatus). */
static int frame_value(uint16_t cluster, const uint8_t *zcl, size_t len, uint16_t attr,
                       double *out) {
  struct sim_zcl_header h;
  if (sim_zcl_parse_header(zcl, len, &h))
    return 0;
  if (h.frame_control & SIM_ZCL_FC_CLUSTER_SPECIFIC) {
    if (cluster == 0x0500 && h.command == 0x00 && attr == 0x0002 && len >= h.header_len + 2) {
      *out = (double)(zcl[h.header_len] | zcl[h.header_len + 1] << 8);
      return 1;
    }
    return 0;
  }
  struct sim_zcl_attr a[16];
  size_t n_top = 0, n_total = 0;
  if (sim_zcl_decode_attrs(cluster, zcl, len, a, 16, &n_top, &n_total))
    return 0;
  for (size_t i = 0; i < n_top; i++) {
    if (a[i].id != attr)
      continue;
    switch (a[i].kind) {
    case SIM_ZCL_KIND_BOOL:
      *out = a[i].v.b ? 1 : 0;
      return 1;
    case SIM_ZCL_KIND_UINT:
      *out = (double)a[i].v.u;
      return 1;
    case SIM_ZCL_KIND_INT:
      *out = (double)a[i].v.i;
      return 1;
    case SIM_ZCL_KIND_FLOAT:
      *out = a[i].v.f;
      return 1;
    default:
      return 0;
    }
  }
  return 0;
}

static void on_report(void *arg, uint32_t hub, uint32_t slot, uint8_t endpoint, uint16_t cluster,
                      const uint8_t *zcl, size_t len, sim_time_t intended) {
  struct scn *s = arg;
  for (size_t i = 0; i < s->n_rules; i++) {
    struct scn_prule *pr = &s->rules[i];
    if (pr->r.when.hub != hub || pr->r.when.slot != slot || pr->r.when_cluster != cluster)
      continue;
    double v;
    if (!frame_value(cluster, zcl, len, pr->r.when_attr, &v))
      continue;
    if (pr->r.has_value && fabs(v - pr->r.value) > 1e-9)
      continue;
    if (pr->n == SCN_RULE_PENDING) { /* forget the oldest */
      pr->head = (pr->head + 1) % SCN_RULE_PENDING;
      pr->n--;
      pr->overflow++;
    }
    pr->pend[(pr->head + pr->n) % SCN_RULE_PENDING] = intended;
    pr->n++;
  }
}

static void on_command(void *arg, uint32_t hub, uint32_t slot, const struct sim_dev_cmd *cmd,
                       sim_time_t now) {
  struct scn *s = arg;
  for (size_t i = 0; i < s->n_rules; i++) {
    struct scn_prule *pr = &s->rules[i];
    if (pr->r.then.hub != hub || pr->r.then.slot != slot || cmd->global ||
        cmd->cluster != pr->r.then_cluster || cmd->command != pr->r.then_command || !pr->n)
      continue;
    sim_time_t t = pr->pend[pr->head];
    pr->head = (pr->head + 1) % SCN_RULE_PENDING;
    pr->n--;
    sim_hist_record(&s->automation, now > t ? now - t : 0);
    return; /* one command answers one rule */
  }
}

/* Installed whatever the rules: a callback may add one later. */
void scn_observe_install(struct scn *s) {
  sim_fleet_observe(s->fleet, on_report, on_command, s);
}
