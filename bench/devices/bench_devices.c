/* bench_devices: memory and CPU of the device layer alone, for a million devices in one process.
 *
 * What the engine keeps per device is built the way sim/fleet does it: one struct sim_device in
 * a contiguous array, one timer in the sim/loop wheel (the timer id is the device index), one
 * random generator per hub of --devices-per-hub devices, models drawn per device from the mix
 * with the hub's generator. The catalogue is loaded and registered as `hubsim run` does
 * (dev_cat_global_init). Then every device joins at time 0 and the wheel is stepped for
 * --duration simulated seconds, calling each model's tick at its due time. There are no hubs'
 * networks, no connections and no queues: a frame goes to a sink that counts it.
 *
 * Printed: devices, RSS before/after (VmRSS and VmHWM of /proc/self/status), bytes per device
 * = (RSS after - RSS before) / devices, frames emitted, CPU time per frame. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/cat_global.h"
#include "devices/cat_load.h"
#include "devices/cat_types.h"
#include "devices/generic.h"
#include "sim/core/rng.h"
#include "sim/fleet/model.h"
#include "sim/loop/wheel.h"

#define US_PER_S 1000000ull
#define MAX_MIX 256

struct bench {
  struct sim_device *devs;
  struct sim_rng *rngs; /* one per hub, as the engine has */
  uint32_t n_devs;
  uint32_t per_hub;
  struct sim_wheel wheel;
  uint64_t start_wall_ms;
  sim_time_t end;
  /* the sink */
  uint64_t frames;
  uint64_t frame_bytes;
  uint64_t ticks;
  int running; /* 1 once the join phase is over: per-model counts are of the run only */
  uint64_t per_model_frames[MAX_MIX];
};

static struct bench B;

/* The sink: counts, never copies (the engine copies into a hub's queue; that cost is the
 * network layer's, measured by bench/fleet). */
static int sink_emit(struct sim_dev_env *env, uint8_t endpoint, uint16_t cluster,
                     const uint8_t *zcl, size_t len) {
  (void)endpoint;
  (void)cluster;
  (void)zcl;
  const struct sim_device *d = env->engine;
  B.frames++;
  B.frame_bytes += len;
  if (B.running)
    B.per_model_frames[d->model]++;
  return 0;
}

/* The IEEE address as sim_fleet_device_eui64 builds it (prefix hash 0). */
static uint64_t eui64_of(uint32_t id, const struct sim_model *m) {
  uint32_t hub = id / B.per_hub, slot = id % B.per_hub;
  return ((uint64_t)m->ieee_oui << 40) | ((uint64_t)(hub & 0xFFFFFF) << 16) | (slot & 0xFFFF);
}

static void env_setup(uint32_t id, sim_time_t due, struct sim_dev_env *env) {
  struct sim_device *d = &B.devs[id];
  env->rng = &B.rngs[id / B.per_hub];
  env->now = due;
  env->due = due;
  env->wall_ms = B.start_wall_ms + due / 1000;
  env->wall0_ms = B.start_wall_ms; /* as the engine: devices may skip silent samples */
  env->eui64 = eui64_of(id, sim_model_get(d->model));
  env->next = sim_wheel_pending(&B.wheel, id) ? B.wheel.timers[id].due : 0;
  env->emit = sink_emit;
  env->engine = d;
}

/* As the engine's env_finish: the next wakeup strictly after this one. */
static void env_finish(uint32_t id, sim_time_t due, const struct sim_dev_env *env) {
  if (!env->next) {
    sim_wheel_cancel(&B.wheel, id);
    return;
  }
  sim_time_t at = env->next <= due ? due + 1 : env->next;
  sim_wheel_add(&B.wheel, id, at);
}

static void on_fire(void *arg, uint32_t id, sim_time_t due) {
  (void)arg;
  struct sim_device *d = &B.devs[id];
  const struct sim_model *m = sim_model_get(d->model);
  struct sim_dev_env env;
  env_setup(id, due, &env);
  env.next = 0;
  B.ticks++;
  m->ops->tick(m, d, &env);
  env_finish(id, due, &env);
}

struct mem {
  long rss_kb, hwm_kb;
};

static struct mem mem_now(void) {
  struct mem m = {-1, -1};
  FILE *f = fopen("/proc/self/status", "r");
  if (!f)
    return m;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "VmRSS:", 6) == 0)
      m.rss_kb = strtol(line + 6, NULL, 10);
    else if (strncmp(line, "VmHWM:", 6) == 0)
      m.hwm_kb = strtol(line + 6, NULL, 10);
  }
  fclose(f);
  return m;
}

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: bench_devices [--devices N] [--devices-per-hub N] [--duration S] [--seed N]\n"
          "                     [--mix all|MODEL,MODEL,...] [--catalog DIR]\n"
          "                     [--wakeups lazy|every-sample]\n"
          "\n"
          "Creates N devices of the catalogue (default 1000000, models drawn uniformly from the\n"
          "mix per device), joins them at time 0 and steps them through the timing wheel for S\n"
          "simulated seconds (default 3600) with a sink that counts frames. No hubs' network,\n"
          "no connections. Prints RSS before/after, bytes per device, frames and CPU per "
          "frame.\n"
          "--wakeups every-sample wakes a device for every sample of its sampled channels\n"
          "(lazy, the default and the engine's way, only for those at which it sends).\n");
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || !end || *end || end == s || v < lo || v > hi)
    return -1;
  *out = v;
  return 0;
}

struct opts {
  uint64_t n_devs, per_hub, duration_s, seed;
  const char *mix;
  int every_sample;
  const char *dirs[8];
  size_t n_dirs;
};

/* Returns 0 to go on, 1 when --help was printed, 2 on a bad flag or value (said on stderr). */
static int parse_args(int argc, char **argv, struct opts *o) {
  *o = (struct opts){.n_devs = 1000000, .per_hub = 10, .duration_s = 3600, .seed = 1, .mix = "all"};
  /* Every flag but --help takes a value: two arguments a turn. */
  for (int i = 1; i < argc; i += 2) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int bad = 0;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 1;
    } else if (strcmp(a, "--devices") == 0 && v) {
      bad = parse_u64(v, 1, 50000000, &o->n_devs);
    } else if (strcmp(a, "--devices-per-hub") == 0 && v) {
      bad = parse_u64(v, 1, 65535, &o->per_hub);
    } else if (strcmp(a, "--duration") == 0 && v) {
      bad = parse_u64(v, 1, 30ull * 86400, &o->duration_s);
    } else if (strcmp(a, "--seed") == 0 && v) {
      bad = parse_u64(v, 0, UINT64_MAX, &o->seed);
    } else if (strcmp(a, "--mix") == 0 && v) {
      o->mix = v;
    } else if (strcmp(a, "--wakeups") == 0 && v) {
      bad = strcmp(v, "lazy") != 0 && strcmp(v, "every-sample") != 0;
      o->every_sample = strcmp(v, "every-sample") == 0;
    } else if (strcmp(a, "--catalog") == 0 && v && o->n_dirs < 8) {
      o->dirs[o->n_dirs++] = v;
    } else {
      usage(stderr);
      return 2;
    }
    if (bad) {
      fprintf(stderr, "bench_devices: bad value for %s: %s\n", a, v);
      return 2;
    }
  }
  return 0;
}

/* The registry indexes of the models in --mix ("all": every catalogue model once; aliases
 * share their first id's tables and are skipped). Returns 0, or 2 (said on stderr). */
static int build_mix(const char *mix, uint16_t mixv[MAX_MIX], size_t *n_mix) {
  const struct dev_cat *cat = dev_cat_global();
  *n_mix = 0;
  if (strcmp(mix, "all") == 0) {
    for (size_t i = 0; i < cat->n_models && *n_mix < MAX_MIX; i++) {
      if (cat->models[i]->alias_of_first)
        continue;
      int idx = sim_model_find(cat->models[i]->m.model_id);
      if (idx >= 0)
        mixv[(*n_mix)++] = (uint16_t)idx;
    }
  } else {
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", mix);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t && *n_mix < MAX_MIX;
         t = strtok_r(NULL, ",", &save)) {
      int idx = sim_model_find(t);
      if (idx < 0) {
        fprintf(stderr, "bench_devices: unknown model %s\n", t);
        return 2;
      }
      mixv[(*n_mix)++] = (uint16_t)idx;
    }
  }
  if (!*n_mix) {
    fprintf(stderr, "bench_devices: no device model in the mix\n");
    return 2;
  }
  return 0;
}

/* The devices, as sim_fleet_new makes them: hub generators from the seed, each device's model
 * drawn with its hub's. Returns 0, or 1 when out of memory (said on stderr). */
static int make_devices(const struct opts *o, const uint16_t *mixv, size_t n_mix) {
  B.n_devs = (uint32_t)o->n_devs;
  B.per_hub = (uint32_t)o->per_hub;
  uint32_t n_hubs = (uint32_t)((o->n_devs + o->per_hub - 1) / o->per_hub);
  B.devs = calloc(o->n_devs, sizeof *B.devs);
  B.rngs = calloc(n_hubs, sizeof *B.rngs);
  B.start_wall_ms = 1767225600000ull; /* 2026-01-01T00:00:00Z */
  B.end = (sim_time_t)(o->duration_s * US_PER_S);
  if (!B.devs || !B.rngs || sim_wheel_init(&B.wheel, B.n_devs, 0, on_fire, NULL)) {
    fprintf(stderr, "bench_devices: out of memory\n");
    return 1;
  }
  for (uint32_t h = 0; h < n_hubs; h++) {
    sim_rng_seed(&B.rngs[h], o->seed, h);
    for (uint32_t s = 0; s < o->per_hub; s++) {
      uint64_t id = (uint64_t)h * o->per_hub + s;
      if (id >= o->n_devs)
        break;
      struct sim_device *d = &B.devs[id];
      d->hub = h;
      d->model = mixv[sim_rng_below(&B.rngs[h], (uint32_t)n_mix)];
    }
  }
  return 0;
}

/* As a hub boot: every device joins at time 0. */
static void join_all(void) {
  for (uint32_t id = 0; id < B.n_devs; id++) {
    struct sim_device *d = &B.devs[id];
    const struct sim_model *m = sim_model_get(d->model);
    d->lqi = (uint8_t)(120 + sim_rng_below(&B.rngs[id / B.per_hub], 136));
    d->flags |= SIM_DEV_JOINED | SIM_DEV_ANNOUNCED;
    struct sim_dev_env env;
    env_setup(id, 0, &env);
    m->ops->join(m, d, &env, 0);
    env_finish(id, 0, &env);
  }
}

/* Jumps from one wheel event to the next until the end of the period. */
static void run_period(void) {
  B.running = 1;
  for (;;) {
    sim_time_t t = sim_wheel_next(&B.wheel);
    if (t == UINT64_MAX || t > B.end)
      break;
    sim_wheel_advance(&B.wheel, t);
  }
  sim_wheel_advance(&B.wheel, B.end);
}

/* What was measured at the edges of the phases: start (m0), catalogue loaded (m1, c0, w0),
 * after the join (m2, c1, w1), after the run (m3, c2, w2). */
struct marks {
  struct mem m0, m1, m2, m3;
  double c0, w0, c1, w1, c2, w2;
  uint64_t join_frames;
};

/* Frames per device per hour of each model of the mix, in the run. */
static void report_models(const struct opts *o, const uint16_t *mixv, size_t n_mix) {
  printf("per model (frames in the run per device per hour):\n");
  uint64_t count[MAX_MIX] = {0};
  for (uint32_t id = 0; id < B.n_devs; id++)
    count[B.devs[id].model]++;
  for (size_t i = 0; i < n_mix; i++) {
    uint16_t k = mixv[i];
    if (!count[k])
      continue;
    printf("  %-28s %8" PRIu64 " devices %10.2f\n", sim_model_get(k)->model_id, count[k],
           (double)B.per_model_frames[k] / (double)count[k] * 3600.0 / (double)o->duration_s);
  }
}

static void report(const struct opts *o, const struct marks *k, const uint16_t *mixv,
                   size_t n_mix) {
  uint64_t n_devs = o->n_devs, per_hub = o->per_hub, duration_s = o->duration_s;
  uint32_t n_hubs = (uint32_t)((n_devs + per_hub - 1) / per_hub);
  uint64_t run_frames = B.frames - k->join_frames;
  double run_cpu = k->c2 - k->c1;
  double delta_b = (double)(k->m3.rss_kb - k->m1.rss_kb) * 1024.0;
  double per_dev = delta_b / (double)n_devs;
  printf("devices: %" PRIu64 " (%u hubs of %" PRIu64 ", %zu models in the mix, seed %" PRIu64 ")\n",
         n_devs, n_hubs, per_hub, n_mix, o->seed);
  printf("record: sim_device %zu B + wheel timer %zu B + hub rng %zu B / %" PRIu64
         " devices = %.1f B per device (structural)\n",
         sizeof(struct sim_device), sizeof(struct sim_timer), sizeof(struct sim_rng), per_hub,
         (double)sizeof(struct sim_device) + (double)sizeof(struct sim_timer) +
             (double)sizeof(struct sim_rng) / (double)per_hub);
  printf("rss_kb: start %ld, catalogue loaded %ld, after join %ld, after run %ld; hwm %ld\n",
         k->m0.rss_kb, k->m1.rss_kb, k->m2.rss_kb, k->m3.rss_kb, k->m3.hwm_kb);
  printf("bytes_per_device: %.1f (RSS after run - RSS with catalogue loaded) / devices\n", per_dev);
  printf("bytes_per_device_hwm: %.1f (VmHWM after run - RSS with catalogue loaded) / devices\n",
         (double)(k->m3.hwm_kb - k->m1.rss_kb) * 1024.0 / (double)n_devs);
  printf("join: %" PRIu64 " frames, cpu %.3f s, wall %.3f s, %.0f ns cpu per device\n",
         k->join_frames, k->c1 - k->c0, k->w1 - k->w0, (k->c1 - k->c0) * 1e9 / (double)n_devs);
  printf("run: %" PRIu64 " s simulated, %" PRIu64 " wakeups, %" PRIu64 " frames (%" PRIu64
         " bytes), cpu %.3f s, wall %.3f s\n",
         duration_s, B.ticks, run_frames, B.frame_bytes, run_cpu, k->w2 - k->w1);
  printf("cpu_per_frame_ns: %.0f (run phase: wheel + ticks + encoding, no network)\n",
         run_frames ? run_cpu * 1e9 / (double)run_frames : 0.0);
  printf("cpu_per_wakeup_ns: %.0f\n", B.ticks ? run_cpu * 1e9 / (double)B.ticks : 0.0);
  printf("frames_per_device_hour: %.2f\n",
         (double)run_frames / (double)n_devs * 3600.0 / (double)duration_s);
  report_models(o, mixv, n_mix);
  /* Machine-readable summary on one line, for run.sh. */
  printf("RESULT devices=%" PRIu64 " bytes_per_device=%.1f rss_before_kb=%ld rss_after_kb=%ld "
         "hwm_kb=%ld frames=%" PRIu64 " join_frames=%" PRIu64
         " cpu_per_frame_ns=%.0f sim_s=%" PRIu64 " run_cpu_s=%.3f\n",
         n_devs, per_dev, k->m1.rss_kb, k->m3.rss_kb, k->m3.hwm_kb, run_frames, k->join_frames,
         run_frames ? run_cpu * 1e9 / (double)run_frames : 0.0, duration_s, run_cpu);
}

int main(int argc, char **argv) {
  struct opts o;
  int rc = parse_args(argc, argv, &o);
  if (rc)
    return rc == 1 ? 0 : rc;
  dev_generic_set_lazy(!o.every_sample);

  struct marks k = {.m0 = mem_now()};
  struct dev_cat_error err;
  memset(&err, 0, sizeof err);
  rc = dev_cat_global_init(o.n_dirs ? o.dirs : NULL, o.n_dirs, &err);
  if (rc) {
    fprintf(stderr, "%s:%d: %s\n", err.file, err.line, err.reason);
    return 2;
  }
  uint16_t mixv[MAX_MIX];
  size_t n_mix = 0;
  if ((rc = build_mix(o.mix, mixv, &n_mix)))
    return rc;

  /* Baseline: everything but the devices (catalogue loaded, registry filled). */
  k.m1 = mem_now();
  k.c0 = cpu_s();
  k.w0 = wall_s();
  if ((rc = make_devices(&o, mixv, n_mix)))
    return rc;
  uint64_t join_frames0 = B.frames;
  join_all();
  k.join_frames = B.frames - join_frames0;
  k.c1 = cpu_s();
  k.w1 = wall_s();
  k.m2 = mem_now();

  run_period();
  k.c2 = cpu_s();
  k.w2 = wall_s();
  k.m3 = mem_now();

  report(&o, &k, mixv, n_mix);
  sim_wheel_fini(&B.wheel);
  free(B.devs);
  free(B.rngs);
  return 0;
}
