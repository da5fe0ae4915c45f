/* The "shard" object of a sharded run's summary, and a shard's summary read back for a merge.
 * Percentiles do not merge, buckets do: each histogram is written with its buckets, so a merge
 * loses nothing (docs/summary.md section 10). */
#include "recorders/shard.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"

/* The histograms of a summary, by the name they have under shard.histograms. */
static const char *const hist_names[] = {"report_ack",         "report_send_lag",
                                         "generator_tick_lag", "handshake",
                                         "tls_handshake_full", "tls_handshake_resumed"};
#define N_HIST 6
#define N_FLEET_HIST 4 /* the first four are the fleet's; the last two a TLS run's */

static struct sim_hist *hist_at(struct sim_fleet_stats *st, struct sim_tls_stats *tls, int i) {
  switch (i) {
  case 0:
    return &st->ack_latency;
  case 1:
    return &st->send_lag;
  case 2:
    return &st->tick_lag;
  case 3:
    return &st->handshake;
  case 4:
    return &tls->full_us;
  default:
    return &tls->resumed_us;
  }
}

/* "INDEX:COUNT,..." over the buckets that are not empty, in index order. */
static json_t *hist_json(const struct sim_hist *h) {
  size_t cap = 64, len = 0;
  char *text = malloc(cap);
  if (!text)
    return NULL;
  text[0] = '\0';
  for (uint32_t i = 0; i < SIM_HIST_BUCKETS; i++) {
    if (!h->buckets[i])
      continue;
    if (cap - len < 32) {
      char *bigger = realloc(text, cap * 2);
      if (!bigger) {
        free(text);
        return NULL;
      }
      text = bigger;
      cap *= 2;
    }
    len += (size_t)snprintf(text + len, cap - len, "%s%" PRIu32 ":%" PRIu64, len ? "," : "", i,
                            h->buckets[i]);
  }
  json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:s}", "count", (json_int_t)h->count, "sum_us",
                        (json_int_t)h->sum, "min_us", (json_int_t)h->min, "max_us",
                        (json_int_t)h->max, "buckets", text);
  free(text);
  return o;
}

json_t *rec_shard_json(const struct rec_shard *s, const struct sim_fleet_stats *st,
                       const struct sim_tls_stats *tls) {
  char layout[40];
  snprintf(layout, sizeof layout, REC_SHARD_HIST_LAYOUT_FMT, SIM_HIST_SUB_BITS, SIM_HIST_MAX_EXP);
  json_t *o = json_object();
  json_object_set_new(o, "index", s->merged ? json_null() : json_integer(s->index));
  json_object_set_new(o, "count", json_integer(s->count));
  json_object_set_new(o, "merged", json_boolean(s->merged));
  json_object_set_new(o, "fleet_hubs", json_integer(s->fleet_hubs));
  json_object_set_new(o, "version", json_string(s->version ? s->version : ""));
  json_object_set_new(o, "fleet_id", json_string(s->fleet_id ? s->fleet_id : ""));
  json_object_set_new(o, "start_at", s->start_at ? json_string(s->start_at) : json_null());
  json_object_set_new(o, "histogram_layout", json_string(layout));
  json_t *hs = json_object();
  struct sim_fleet_stats *mst = (struct sim_fleet_stats *)st; /* read only below */
  struct sim_tls_stats *mtls = (struct sim_tls_stats *)tls;
  for (int i = 0; i < (tls ? N_HIST : N_FLEET_HIST); i++) {
    json_t *h = hist_json(hist_at(mst, mtls, i));
    if (h)
      json_object_set_new(hs, hist_names[i], h);
  }
  json_object_set_new(o, "histograms", hs);
  return o;
}

/* ---- reading a summary back ---- */

struct reader {
  json_t *root;
  char *why;
  size_t cap;
  int failed;
};

static void bad(struct reader *r, const char *fmt, ...) {
  if (r->failed)
    return;
  r->failed = 1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->why, r->cap, fmt, ap);
  va_end(ap);
}

/* The value at a dotted path ("counts.reports.sent"), or NULL. */
static json_t *at(json_t *root, const char *path) {
  char buf[128];
  snprintf(buf, sizeof buf, "%s", path);
  json_t *cur = root;
  for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && cur;
       tok = strtok_r(NULL, ".", &save))
    cur = json_is_object(cur) ? json_object_get(cur, tok) : NULL;
  return cur;
}

static uint64_t u64_at(struct reader *r, json_t *base, const char *path) {
  json_t *v = at(base, path);
  if (!json_is_integer(v) || json_integer_value(v) < 0) {
    bad(r, "key '%s' is missing or not a whole number of 0 or more", path);
    return 0;
  }
  return (uint64_t)json_integer_value(v);
}

static uint32_t u32_at(struct reader *r, json_t *base, const char *path) {
  uint64_t v = u64_at(r, base, path);
  if (v > UINT32_MAX)
    bad(r, "key '%s' is above %" PRIu32, path, UINT32_MAX);
  return (uint32_t)v;
}

static double real_at(struct reader *r, json_t *base, const char *path) {
  json_t *v = at(base, path);
  if (!json_is_number(v)) {
    bad(r, "key '%s' is missing or not a number", path);
    return 0;
  }
  return json_number_value(v);
}

/* A string (or, when nullable, null: ""), copied into out. */
static void str_at(struct reader *r, json_t *base, const char *path, char *out, size_t cap,
                   int nullable) {
  json_t *v = at(base, path);
  out[0] = '\0';
  if (nullable && json_is_null(v))
    return;
  if (!json_is_string(v) || json_string_length(v) >= cap) {
    bad(r, "key '%s' is missing, not a string or longer than %zu bytes", path, cap - 1);
    return;
  }
  memcpy(out, json_string_value(v), json_string_length(v) + 1);
}

/* One histogram of shard.histograms: its buckets must add up to its count. */
static void read_hist(struct reader *r, json_t *hs, const char *name, struct sim_hist *h) {
  json_t *o = json_object_get(hs, name);
  char path[64];
  snprintf(path, sizeof path, "shard.histograms.%s", name);
  if (!json_is_object(o)) {
    bad(r, "key '%s' is missing", path);
    return;
  }
  sim_hist_init(h);
  h->count = u64_at(r, o, "count");
  h->sum = u64_at(r, o, "sum_us");
  h->min = u64_at(r, o, "min_us");
  h->max = u64_at(r, o, "max_us");
  json_t *b = json_object_get(o, "buckets");
  if (!json_is_string(b)) {
    bad(r, "key '%s.buckets' is missing or not a string", path);
    return;
  }
  const char *p = json_string_value(b);
  uint64_t total = 0;
  long long last = -1;
  while (*p && !r->failed) {
    char *end;
    errno = 0;
    unsigned long long idx = strtoull(p, &end, 10);
    if (end == p || *end != ':' || errno || idx >= SIM_HIST_BUCKETS || (long long)idx <= last) {
      bad(r, "'%s.buckets': expected INDEX:COUNT,... with indices rising below %d", path,
          SIM_HIST_BUCKETS);
      break;
    }
    p = end + 1;
    unsigned long long n = strtoull(p, &end, 10);
    if (end == p || errno || n == 0 || n > UINT64_MAX - total ||
        (*end && (*end != ',' || !end[1]))) {
      bad(r, "'%s.buckets': bucket %llu: expected a count from 1 to %" PRIu64 " in all", path, idx,
          (uint64_t)UINT64_MAX);
      break;
    }
    h->buckets[idx] = (uint64_t)n;
    total += n;
    last = (long long)idx;
    p = *end ? end + 1 : end;
  }
  if (!r->failed && (total != h->count || (h->count && h->min > h->max)))
    bad(r, "'%s': its buckets hold %" PRIu64 " values but its count says %" PRIu64, path, total,
        h->count);
}

static const char *const kind_names[SIM_SEQ_NKINDS] = {"reports", "device_joined", "device_left",
                                                       "command_results"};

/* The fleet's figures: every key the verdict and the summary use. */
static void read_stats(struct reader *r, json_t *j, struct sim_fleet_stats *st) {
  memset(st, 0, sizeof *st);
  st->hubs = u32_at(r, j, "fleet.hubs");
  st->devices = u32_at(r, j, "fleet.devices");
  for (int k = 0; k < SIM_SEQ_NKINDS; k++) {
    char p[64];
    json_t *c = json_object_get(json_object_get(j, "counts"), kind_names[k]);
    snprintf(p, sizeof p, "counts.%s", kind_names[k]);
    if (!json_is_object(c)) {
      bad(r, "key '%s' is missing", p);
      return;
    }
    st->kind[k].generated = u64_at(r, c, "generated");
    st->kind[k].dropped = u64_at(r, c, "dropped");
    st->kind[k].sent = u64_at(r, c, "sent");
    st->kind[k].resent = u64_at(r, c, "resent");
    st->kind[k].acked = u64_at(r, c, "acked");
  }
  st->in_flight = u64_at(r, j, "counts.in_flight");
  st->queued = u64_at(r, j, "counts.queued");
  st->lost_power = u64_at(r, j, "counts.lost_power");
  st->lost_power_sent = u64_at(r, j, "counts.lost_power_sent");
  st->held_by_off_hubs = u64_at(r, j, "counts.held_by_off_hubs");
  st->forgotten = u64_at(r, j, "counts.forgotten_by_platform");
  st->connects = u64_at(r, j, "sessions.connects");
  st->sessions = u64_at(r, j, "sessions.opened");
  st->disconnects = u64_at(r, j, "sessions.dropped");
  st->hubs_by_state[SIM_HUB_OPEN] = u32_at(r, j, "sessions.online_at_end");
  st->hubs_by_state[SIM_HUB_IDLE] = u32_at(r, j, "sessions.not_started_at_end");
  st->hubs_off_by_run = u32_at(r, j, "sessions.off_by_run_at_end");
  st->heartbeats_sent = u64_at(r, j, "sessions.heartbeats_sent");
  st->hubs_ever_online = u32_at(r, j, "ramp.hubs_ever_online");
  json_t *all = at(j, "ramp.all_online_s");
  /* At most a year: a larger value (or a negative one) is not a run's, and would not fit. */
  if (json_is_number(all) && json_number_value(all) >= 0 && json_number_value(all) <= 3.2e7)
    st->all_online_at = (sim_time_t)llround(json_number_value(all) * 1e6);
  else if (!json_is_null(all))
    bad(r, "key 'ramp.all_online_s' is missing, or not a number of seconds from 0 to 3.2e7 or "
           "null");
  st->commands_received = u64_at(r, j, "commands.received");
  st->commands_ok = u64_at(r, j, "commands.ok");
  st->commands_failed = u64_at(r, j, "commands.failed");
  st->cmds_held = u64_at(r, j, "commands.held_for_poll");
  st->cmds_expired = u64_at(r, j, "commands.expired_unpolled");
  st->radio_lost = u64_at(r, j, "radio.lost");
  st->radio_retries = u64_at(r, j, "radio.retries");
  st->air_full = u64_at(r, j, "radio.no_air_slot");
  st->frames_out = u64_at(r, j, "traffic.frames_out");
  st->frames_in = u64_at(r, j, "traffic.frames_in");
  st->bytes_out = u64_at(r, j, "traffic.bytes_out");
  st->bytes_in = u64_at(r, j, "traffic.bytes_in");
  json_t *errs = json_object_get(j, "errors");
  const char *name;
  json_t *v;
  if (!json_is_object(errs))
    bad(r, "key 'errors' is missing or not an object");
  json_object_foreach(errs, name, v) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        strlen(name) >= sizeof st->errors[0].name || st->n_errors == SIM_FLEET_MAX_REASONS) {
      bad(r, "key 'errors.%.40s': expected at most %d names of up to %zu bytes with counts", name,
          SIM_FLEET_MAX_REASONS, sizeof st->errors[0].name - 1);
      break;
    }
    snprintf(st->errors[st->n_errors].name, sizeof st->errors[0].name, "%s", name);
    st->errors[st->n_errors++].count = (uint64_t)json_integer_value(v);
  }
}

/* The TLS counts of a hubrpcs:// run (the histograms come from shard.histograms). */
static void read_tls(struct reader *r, json_t *t, struct rec_shard_summary *out) {
  out->has_tls = 1;
  out->tls_insecure = json_is_true(json_object_get(t, "insecure"));
  out->tls.handshakes = u64_at(r, t, "handshakes");
  out->tls.resumed = u64_at(r, t, "handshakes_resumed");
  json_t *f = json_object_get(t, "handshake_failures");
  for (int i = 0; i < SIM_TLS_R_COUNT; i++) {
    const char *n = sim_tls_reason_name((enum sim_tls_reason)i);
    json_t *v = json_object_get(f, n);
    if (json_is_integer(v) && json_integer_value(v) >= 0)
      out->tls.failed[i] = (uint64_t)json_integer_value(v);
    else
      bad(r, "key 'tls.handshake_failures.%s' is missing or not a whole number", n);
  }
}

/* The run's settings, its costs and what the shard object says. */
static void read_run(struct reader *r, json_t *j, struct rec_shard_summary *out) {
  out->seed = u64_at(r, j, "fleet.seed");
  out->devices_per_hub = u32_at(r, j, "fleet.devices_per_hub");
  str_at(r, j, "fleet.mix", out->mix, sizeof out->mix, 0);
  out->ramp = real_at(r, j, "fleet.ramp_hubs_per_s");
  out->speedup = real_at(r, j, "run.speedup");
  out->drain_s = real_at(r, j, "run.drain_s");
  out->max_lag_ms = real_at(r, j, "run.max_lag_ms");
  out->warmup_s = real_at(r, j, "run.warmup_s");
  out->queue_max = u32_at(r, j, "run.queue_max");
  out->allow_lag = json_is_true(at(j, "run.allow_lag"));
  str_at(r, j, "run.clock", out->clock, sizeof out->clock, 0);
  out->duration_s = real_at(r, j, "duration_s");
  out->elapsed_s = real_at(r, j, "elapsed_s");
  str_at(r, j, "platform", out->platform, sizeof out->platform, 0);
  str_at(r, j, "started_at", out->started_at, sizeof out->started_at, 0);
  str_at(r, j, "verdict.interrupted", out->interrupted, sizeof out->interrupted, 1);
  out->cpu_user_s = real_at(r, j, "generator.cpu_user_s");
  out->cpu_sys_s = real_at(r, j, "generator.cpu_sys_s");
  out->max_rss_bytes = u64_at(r, j, "generator.max_rss_bytes");
  out->max_pss_bytes = u64_at(r, j, "generator.max_pss_bytes");
  out->workers = u32_at(r, j, "generator.workers");
  json_t *s = json_object_get(j, "shard");
  str_at(r, s, "version", out->version, sizeof out->version, 0);
  str_at(r, s, "fleet_id", out->fleet_id, sizeof out->fleet_id, 0);
  str_at(r, s, "start_at", out->start_at, sizeof out->start_at, 1);
  str_at(r, s, "histogram_layout", out->layout, sizeof out->layout, 0);
  out->shard.count = u32_at(r, s, "count");
  out->shard.fleet_hubs = u32_at(r, s, "fleet_hubs");
  out->shard.merged = json_is_true(json_object_get(s, "merged"));
  json_t *idx = json_object_get(s, "index");
  if (json_is_integer(idx))
    out->shard.index = u32_at(r, s, "index");
  out->shard.version = out->version;
  out->shard.fleet_id = out->fleet_id;
  out->shard.start_at = out->start_at[0] ? out->start_at : NULL;
  json_t *reasons = at(j, "verdict.reasons");
  size_t i;
  json_t *x;
  json_array_foreach(reasons, i, x) {
    const char *c = json_string_value(json_object_get(x, "check"));
    const char *t = json_string_value(json_object_get(x, "text"));
    if (!c || !t || (strcmp(c, "runtime") != 0 && strcmp(c, "worker_failed") != 0) ||
        out->n_outside == 2)
      continue;
    snprintf(out->outside[out->n_outside].check, sizeof out->outside[0].check, "%s", c);
    snprintf(out->outside[out->n_outside].text, sizeof out->outside[0].text, "%s", t);
    json_t *n = json_object_get(x, "count");
    out->outside[out->n_outside++].count =
        json_is_integer(n) && json_integer_value(n) > 0 ? (uint64_t)json_integer_value(n) : 1;
  }
}

int rec_shard_load(const char *path, struct rec_shard_summary *out, char *why, size_t cap) {
  memset(out, 0, sizeof *out);
  json_error_t jerr;
  json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
  if (!j) {
    if (jerr.line > 0)
      snprintf(why, cap, "not valid JSON at line %d, column %d: %s (a truncated file?)", jerr.line,
               jerr.column, jerr.text);
    else
      snprintf(why, cap, "%s", jerr.text);
    return SIM_EINVAL;
  }
  struct reader r = {.root = j, .why = why, .cap = cap};
  const char *schema = json_string_value(json_object_get(j, "schema"));
  json_t *s = json_object_get(j, "shard");
  if (!json_is_object(j) || !schema || strcmp(schema, "hubsim.summary/1") != 0)
    bad(&r, "not a hubsim summary (no \"schema\": \"hubsim.summary/1\")");
  else if (!json_is_object(s))
    bad(&r, "not the summary of a sharded run (no \"shard\" object: run hubsim run --shard I/N "
            "--summary FILE)");
  if (!r.failed)
    read_run(&r, j, out);
  if (!r.failed)
    read_stats(&r, j, &out->st);
  json_t *t = json_object_get(j, "tls");
  if (!r.failed && json_is_object(t))
    read_tls(&r, t, out);
  json_t *hs = json_object_get(s, "histograms");
  for (int i = 0; !r.failed && i < (out->has_tls ? N_HIST : N_FLEET_HIST); i++)
    read_hist(&r, hs, hist_names[i], hist_at(&out->st, &out->tls, i));
  json_decref(j);
  return r.failed ? SIM_EINVAL : 0;
}
