/* `hubsim run --record FILE.pcapng`: the flags of the capture (--record, --record-limit,
 * --record-hubs), the capture opened for a run (recorders/capture.h) with the run's clock and
 * the fleet's hub names, and its figures for the summary. docs/recorders.md. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/run_internal.h"
#include "sim/core/err.h"
#include "sim/core/wfile.h"
#include "sim/loop/sched.h"
#include "sim/mqtt/stream.h"

#define REC_PATH (APP_RUN_RECORD_FIRST + 0)
#define REC_LIMIT (APP_RUN_RECORD_FIRST + 1)
#define REC_HUBS (APP_RUN_RECORD_FIRST + 2)
#define MQTT_PORT 1883 /* the port Wireshark decodes as MQTT without being told */

const struct option app_run_record_longopts[APP_RUN_RECORD_NOPTS] = {
    {"record", required_argument, 0, REC_PATH},
    {"record-limit", required_argument, 0, REC_LIMIT},
    {"record-hubs", required_argument, 0, REC_HUBS},
};

/* A size as people type it: a whole number of bytes, or with k, M, G (powers of 1024; KiB,
 * MiB, GiB say the same) or kB, MB, GB (powers of 1000). 0 or SIM_EINVAL. */
static int parse_size(const char *s, uint64_t *out) {
  char *end;
  if (*s < '0' || *s > '9')
    return SIM_EINVAL;
  double v = strtod(s, &end);
  static const struct {
    const char *unit;
    double mul;
  } units[] = {{"", 1},
               {"B", 1},
               {"k", 1024},
               {"K", 1024},
               {"KiB", 1024},
               {"M", 1048576.0},
               {"MiB", 1048576.0},
               {"G", 1073741824.0},
               {"GiB", 1073741824.0},
               {"kB", 1e3},
               {"KB", 1e3},
               {"MB", 1e6},
               {"GB", 1e9}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (strcmp(end, units[i].unit) == 0) {
      double b = v * units[i].mul;
      if (!(b >= 1) || b > 1e15)
        return SIM_EINVAL;
      *out = (uint64_t)b;
      return 0;
    }
  return SIM_EINVAL;
}

int app_run_record_flag(struct run_opts *o, int c, const char *value) {
  struct app_record_opts *r = &o->rec;
  char why[160];
  switch (c) {
  case REC_PATH:
    if (r->path)
      return app_run_bad("--record", value, "given twice");
    r->path = value;
    break;
  case REC_LIMIT:
    if (r->limit_given)
      return app_run_bad("--record-limit", value, "given twice");
    if (parse_size(value, &r->limit))
      return app_run_bad("--record-limit", value,
                         "expected a size such as 50M, 2G or 500MB (at least 1 byte)");
    r->limit_given = 1;
    break;
  case REC_HUBS:
    if (r->hubs_given)
      return app_run_bad("--record-hubs", value, "given twice");
    if (rec_capture_hubs_parse(value, &r->hubs, why, sizeof why))
      return app_run_bad("--record-hubs", value, why);
    r->hubs_given = 1;
    break;
  default:
    return APP_RUN_NOT_MINE;
  }
  return APP_RUN_GO_ON;
}

int app_run_record_check(struct run_opts *o) {
  struct app_record_opts *r = &o->rec;
  char why[256];
  if (!r->path) {
    if (r->limit_given || r->hubs_given)
      return app_run_bad(r->limit_given ? "--record-limit" : "--record-hubs", "",
                         "limits the capture: it needs --record FILE.pcapng");
    return APP_RUN_GO_ON;
  }
  if (strlen(r->path) > PATH_MAX - 32)
    return app_run_bad("--record", r->path, "path too long");
  if (sim_wfile_check(r->path, why, sizeof why))
    return app_run_bad("--record", r->path, why);
  if (o->profile == RUN_PROFILE_Z2M)
    return app_run_bad("--record", r->path,
                       "records the hubrpc profile (hubrpc:// and mqtt://); not --profile "
                       "zigbee2mqtt");
  if ((o->summary && strcmp(o->summary, r->path) == 0) ||
      (o->junit && strcmp(o->junit, r->path) == 0))
    return app_run_bad("--record", r->path, "is another output's file too");
  return APP_RUN_GO_ON;
}

/* ---- the capture of a run ---- */

/* The hub of a connect's user pointer: the fleet's hub, or (MQTT) the hub behind the MQTT
 * client of the stream. */
static int rec_hub_of(void *ctx, void *user, uint32_t *global, char *id, size_t cap) {
  struct app_record *ar = ctx;
  struct sim_fleet *f = ar->fleet ? *ar->fleet : NULL;
  uint32_t i;
  void *hub = ar->mqtt ? sim_mqtt_stream_conn_user(user) : user;
  if (!f || !hub || sim_fleet_hub_of(f, hub, &i))
    return SIM_ENOTFOUND;
  *global = ar->shard + i * ar->shards;
  sim_fleet_hub_id(f, i, id, cap);
  return 0;
}

/* The run clock as Unix microseconds: the fleet's (virtual or real); before the fleet exists,
 * the real one. */
static uint64_t rec_now_us(void *ctx) {
  struct app_record *ar = ctx;
  struct sim_fleet *f = ar->fleet ? *ar->fleet : NULL;
  if (f) {
    const struct sim_clock *c = &sim_fleet_sched(f)->clock;
    return c->start_wall_us + sim_clock_now(c);
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void app_record_worker_path(const char *path, int k, char *out, size_t cap) {
  const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
  if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : path))
    dot = path + strlen(path); /* no extension: the number goes at the end */
  char num[16];
  if (k < 0)
    snprintf(num, sizeof num, "*");
  else
    snprintf(num, sizeof num, "%d", k);
  snprintf(out, cap, "%.*s.w%s%s", (int)(dot - path), path, num, dot);
}

int app_record_open(struct app_record *ar, const struct run_opts *o,
                    const struct sim_fleet_config *cfg, struct sim_fleet *const *fleet) {
  memset(ar, 0, sizeof *ar);
  if (!o->rec.path)
    return APP_RUN_GO_ON;
  ar->fleet = fleet;
  ar->mqtt = o->mq.on;
  ar->shard = cfg->shard;
  ar->shards = cfg->shards ? cfg->shards : 1;
  unsigned a = 127, b = 0, c = 0, d = 1;
  if (!ar->mqtt)
    sscanf(cfg->platform.host, "%u.%u.%u.%u", &a, &b, &c, &d);
  char wpath[PATH_MAX];
  const char *path = o->rec.path;
  if (ar->shards > 1) {
    app_record_worker_path(path, (int)ar->shard, wpath, sizeof wpath);
    path = wpath;
  }
  char comment[200];
  snprintf(comment, sizeof comment, "hubsim run: %u hubs against %s, seed %" PRIu64, cfg->hubs,
           o->platform ? o->platform : "the embedded platform", o->seed);
  struct rec_capture_config rc = {
      .path = path,
      .limit = o->rec.limit,
      .hubs = o->rec.hubs,
      .hub_of = rec_hub_of,
      .now_us = rec_now_us,
      .ctx = ar,
      .server_ip = (a & 255u) << 24 | (b & 255u) << 16 | (c & 255u) << 8 | (d & 255u),
      .server_port = ar->mqtt ? MQTT_PORT : cfg->platform.port,
      .comment = comment,
  };
  char why[256];
  if (rec_capture_open(&rc, &ar->cap, why, sizeof why)) {
    fprintf(stderr, "hubsim run: --record '%s': %s\n", path, why);
    return 2;
  }
  return APP_RUN_GO_ON;
}

int app_record_wrap(struct app_record *ar, struct sim_transport *inner,
                    struct sim_transport **out) {
  if (!ar->cap) {
    *out = inner;
    return 0;
  }
  return rec_capture_wrap(ar->cap, inner, out);
}

void app_record_finish(struct app_record *ar) {
  if (!ar->cap)
    return;
  rec_capture_info(ar->cap, &ar->info);
  snprintf(ar->path, sizeof ar->path, "%s", ar->info.path);
  ar->info.path = ar->path;
  int rc = rec_capture_close(ar->cap);
  ar->cap = NULL;
  ar->done = 1;
  if (rc) {
    ar->info.write_error = 1;
    fprintf(stderr, "hubsim run: --record '%s': %s\n", ar->path, sim_strerror(rc));
  }
}
