/* `hubsim run --shard I/N` and `--start-at TIME`: one process of a fleet spread over several
 * processes or machines (an Indexed Job, docs/distributed.md), each writing its own summary
 * for `hubsim merge`.
 *
 * A shard is the fleet's own split (sim_fleet_config.shard/shards): its hubs are those whose
 * global index g has g % N == I, and a hub's id, secret, devices' EUI-64s, random streams,
 * source address and ramp start follow g. So the union of the N shards is the whole fleet of
 * the same flags, hub for hub. With --workers W inside a shard, worker K runs the fleet's split
 * I + K*N of N*W: the hubs of shard I, dealt out to its workers. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/parse.h"
#include "app/run_internal.h"
#include "app/version.h"
#include "recorders/shard.h"
#include "sim/core/hash.h"

/* A --start-at more than this far in the past is refused: the shard would start out of step
 * with the others. Within it, a shard that was late to start begins at once. */
#define SHARD_LATE_MAX_S 5.0
/* A --start-at further ahead is refused as a mistake (a date in the wrong year, a unix time in
 * milliseconds). */
#define SHARD_AHEAD_MAX_S (24.0 * 3600.0)

const struct option app_run_shard_longopts[APP_RUN_SHARD_NOPTS] = {
    {"shard", required_argument, 0, APP_RUN_SHARD_OPT},
    {"start-at", required_argument, 0, APP_RUN_START_AT_OPT}};

/* "I/N" or "auto/N" (I from JOB_COMPLETION_INDEX, the index Kubernetes gives each pod of an
 * Indexed Job). APP_RUN_GO_ON or 2 after the message. */
static int parse_shard(struct run_opts *o, const char *arg) {
  const char *slash = strchr(arg, '/');
  uint64_t i = 0, n = 0;
  char idx[24];
  if (!slash || (size_t)(slash - arg) >= sizeof idx ||
      app_parse_u64(slash + 1, 1, APP_RUN_SHARDS_MAX, &n))
    return app_run_bad("--shard", arg,
                       "expected I/N (I from 0 to N-1, N from 1 to 65536) or auto/N (I from "
                       "JOB_COMPLETION_INDEX)");
  snprintf(idx, sizeof idx, "%.*s", (int)(slash - arg), arg);
  if (strcmp(idx, "auto") == 0) {
    const char *env = getenv("JOB_COMPLETION_INDEX");
    if (!env)
      return app_run_bad("--shard", arg,
                         "auto takes the index from JOB_COMPLETION_INDEX, which is not set (an "
                         "Indexed Job sets it in each pod)");
    if (app_parse_u64(env, 0, n - 1, &i)) {
      fprintf(stderr,
              "hubsim run: --shard '%s': JOB_COMPLETION_INDEX '%s' is not a whole number from 0 "
              "to %" PRIu64 " (the Job's completions must equal N)\n",
              arg, env, n - 1);
      return 2;
    }
  } else if (app_parse_u64(idx, 0, n - 1, &i)) {
    return app_run_bad("--shard", arg,
                       "I must be a whole number from 0 to N-1 (shards count from 0)");
  }
  o->slice = (uint32_t)i;
  o->slices = (uint32_t)n;
  o->slice_given = 1;
  return APP_RUN_GO_ON;
}

/* RFC 3339 in UTC ("2026-12-07T19:30:00Z", a fraction of a second allowed, "+00:00" for "Z")
 * or unix seconds ("1796671800", "1796671800.5"). 0 with *out, or -1. */
static int parse_time(const char *s, double *out) {
  char *end;
  if (s[0] >= '0' && s[0] <= '9' && !strchr(s, '-')) {
    errno = 0;
    double t = strtod(s, &end);
    if (*end || errno || !isfinite(t) || t <= 0)
      return -1;
    *out = t;
    return 0;
  }
  int y, mo, d, h, mi, sec, used = 0;
  if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6 || used != 19)
    return -1;
  const char *p = s + used;
  double frac = 0;
  if (*p == '.') {
    errno = 0;
    frac = strtod(p, &end);
    if (end == p + 1 || errno || !(frac < 1))
      return -1;
    p = end;
  }
  if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
    return -1;
  struct tm tm = {.tm_year = y - 1900,
                  .tm_mon = mo - 1,
                  .tm_mday = d,
                  .tm_hour = h,
                  .tm_min = mi,
                  .tm_sec = sec};
  time_t t = timegm(&tm);
  /* timegm normalises 2026-02-30 into March: a date that does not come back is refused. */
  if (t == (time_t)-1 || tm.tm_year != y - 1900 || tm.tm_mon != mo - 1 || tm.tm_mday != d ||
      tm.tm_hour != h || tm.tm_min != mi || tm.tm_sec != sec)
    return -1;
  *out = (double)t + frac;
  return 0;
}

int app_run_shard_flag(struct run_opts *o, int c, const char *arg) {
  if (c != APP_RUN_SHARD_OPT && c != APP_RUN_START_AT_OPT)
    return APP_RUN_NOT_MINE;
  /* Every flag once (flags_read sees only the one-letter codes). */
  if ((c == APP_RUN_SHARD_OPT && o->slice_given) || (c == APP_RUN_START_AT_OPT && o->start_at > 0))
    return app_run_bad(c == APP_RUN_SHARD_OPT ? "--shard" : "--start-at", arg, "given twice");
  if (c == APP_RUN_SHARD_OPT)
    return parse_shard(o, arg);
  if (parse_time(arg, &o->start_at))
    return app_run_bad("--start-at", arg,
                       "expected a UTC time in RFC 3339 (2026-12-07T19:30:00Z) or unix seconds");
  time_t whole = (time_t)floor(o->start_at);
  strftime(o->start_at_text, sizeof o->start_at_text, "%Y-%m-%dT%H:%M:%SZ", gmtime(&whole));
  return APP_RUN_GO_ON;
}

int app_run_shard_check(const struct run_opts *o) {
  if (o->start_at > 0 && o->clock_virtual)
    return app_run_bad("--start-at", o->start_at_text,
                       "waits for a wall-clock time; the virtual clock has none");
  if (!o->slice_given)
    return APP_RUN_GO_ON;
  if (o->scenario)
    return app_run_bad("--shard", "",
                       "a scenario runs its fleet in one process in this version: its selections "
                       "and expectations are over the whole fleet (give the fleet by flags)");
  if (!o->platform || o->mq.embedded)
    return app_run_bad("--shard", "",
                       "needs --platform: every shard reaches one platform under test (an "
                       "embedded platform would be one per shard)");
  if (o->mq.on || o->profile != RUN_PROFILE_HUBRPC)
    return app_run_bad("--shard", "",
                       "runs hubrpc:// or hubrpcs:// hubs in this version (not through an MQTT "
                       "broker)");
  if (o->clock_virtual)
    return app_run_bad("--shard", "", "runs on the real clock (no --clock virtual)");
  if (o->slices > o->hubs) {
    char v[32];
    snprintf(v, sizeof v, "%" PRIu32 "/%" PRIu32, o->slice, o->slices);
    return app_run_bad("--shard", v, "more shards than --hubs: some would hold no hub");
  }
  if (o->workers > app_run_shard_hubs(o))
    return app_run_bad("--workers", "", "more processes than this shard has hubs");
  return APP_RUN_GO_ON;
}

uint64_t app_run_shard_hubs(const struct run_opts *o) {
  if (!o->slice_given)
    return o->hubs;
  /* Global indices g < hubs with g % N == I. */
  return o->hubs > o->slice ? (o->hubs - o->slice + o->slices - 1) / o->slices : 0;
}

void app_run_shard_config(const struct run_opts *o, struct sim_fleet_config *cfg) {
  if (!o->slice_given)
    return;
  /* Worker K of W inside shard I of N: (g % N == I and (g / N) % W == K) is g % (N*W) ==
   * I + K*N. Outside a worker, K = 0 and W = 1. */
  cfg->shard = o->slice + o->shard * o->slices;
  cfg->shards = o->slices * o->shards;
}

/* What makes the fleet: shards of different fleets must not merge. The fleet key is left out
 * (a digest of it in a file would help guess a weak key); hubs of another key fail to
 * authenticate, which every summary shows. */
static uint64_t fleet_digest(const struct sim_fleet_config *cfg) {
  uint64_t h = SIM_HASH_FNV64_INIT;
#define DIGEST(x) h = sim_hash_fnv64(h, &(x), sizeof(x))
  DIGEST(cfg->hubs);
  DIGEST(cfg->devices_per_hub);
  DIGEST(cfg->seed);
  DIGEST(cfg->speedup);
  DIGEST(cfg->ramp);
  DIGEST(cfg->queue_max);
  DIGEST(cfg->warmup);
  DIGEST(cfg->radio_hops);
  DIGEST(cfg->radio_hop_delay);
  DIGEST(cfg->radio_loss);
  DIGEST(cfg->sleepy_hold);
#undef DIGEST
  for (size_t i = 0; i < cfg->n_mix; i++) {
    const char *m = sim_model_get(cfg->mix_model[i])->model_id;
    h = sim_hash_fnv64(h, m, strlen(m) + 1);
    h = sim_hash_fnv64(h, &cfg->mix_weight[i], sizeof cfg->mix_weight[i]);
  }
  h = sim_hash_fnv64(h, cfg->hub_prefix, strlen(cfg->hub_prefix) + 1);
  if (cfg->hub_model)
    h = sim_hash_fnv64(h, cfg->hub_model, strlen(cfg->hub_model) + 1);
  if (cfg->hub_firmware)
    h = sim_hash_fnv64(h, cfg->hub_firmware, strlen(cfg->hub_firmware) + 1);
  return h;
}

const struct rec_shard *app_run_shard_rec(const struct run_opts *o,
                                          const struct sim_fleet_config *cfg) {
  static struct rec_shard s;
  static char id[24];
  if (!o->slice_given)
    return NULL;
  snprintf(id, sizeof id, "%016" PRIx64, fleet_digest(cfg));
  s = (struct rec_shard){.index = o->slice,
                         .count = o->slices,
                         .fleet_hubs = (uint32_t)o->hubs,
                         .version = HUBSIM_VERSION,
                         .fleet_id = id,
                         .start_at = o->start_at > 0 ? o->start_at_text : NULL};
  return &s;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int app_run_shard_wait(const struct run_opts *o) {
  if (o->slice_given && !o->quiet)
    fprintf(stderr,
            "hubsim run: shard %" PRIu32 " of %" PRIu32 " (from 0): %" PRIu64 " of %" PRIu64
            " hubs\n",
            o->slice, o->slices, app_run_shard_hubs(o), o->hubs);
  if (o->start_at <= 0)
    return APP_RUN_GO_ON;
  double wait = o->start_at - now_s();
  char why[160];
  if (wait < -SHARD_LATE_MAX_S) {
    snprintf(why, sizeof why,
             "%.1f s in the past: this process would start out of step with the others (at "
             "most %.0f s late is started at once)",
             -wait, SHARD_LATE_MAX_S);
    return app_run_bad("--start-at", o->start_at_text, why);
  }
  if (wait > SHARD_AHEAD_MAX_S) {
    snprintf(why, sizeof why, "%.0f s ahead, more than 24 h: a mistake?", wait);
    return app_run_bad("--start-at", o->start_at_text, why);
  }
  if (wait <= 0) {
    if (!o->quiet)
      fprintf(stderr, "hubsim run: --start-at %s: %.2f s late, starting now\n", o->start_at_text,
              -wait);
    return APP_RUN_GO_ON;
  }
  if (!o->quiet)
    fprintf(stderr, "hubsim run: waiting %.1f s for --start-at %s\n", wait, o->start_at_text);
  struct timespec at = {.tv_sec = (time_t)floor(o->start_at)};
  at.tv_nsec = (long)((o->start_at - floor(o->start_at)) * 1e9);
  /* Absolute, on the wall clock that every machine of the run keeps in step (NTP): an
   * interrupted sleep (a signal that does not end the process) sleeps again to the same time. */
  while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL) == EINTR)
    ;
  return APP_RUN_GO_ON;
}

void app_run_shard_usage(FILE *out) {
  fputs(
      "shards (one fleet over several processes or machines; docs/distributed.md):\n"
      "  --shard I/N           run shard I of N (I from 0): the hubs whose index g has\n"
      "                        g % N == I, each with the id, secret, devices and random\n"
      "                        streams it has in the whole fleet of the same flags; needs\n"
      "                        --platform; the summary carries what hubsim merge needs\n"
      "  --shard auto/N        I from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)\n"
      "  --start-at TIME       wait until TIME, a UTC time in RFC 3339\n"
      "                        (2026-12-07T19:30:00Z) or unix seconds, then start: shards\n"
      "                        started together ramp together. More than 5 s past is refused\n"
      "                        (exit 2; up to 5 s late starts at once), more than 24 h ahead too\n"
      "\n",
      out);
}
