/* Sampling: one device of a catalogue model stepped alone (devices/cat_sample.h). */
#include "devices/cat_sample.h"

#include <string.h>

#include "devices/cat_global.h"
#include "sim/core/err.h"

/* The sampler's environment: the engine's fields plus what the collector needs. The env is the
 * first member so that emit can recover the whole struct. */
struct sampler {
  struct sim_dev_env env;
  struct sim_device dev;
  const struct sim_model *m;
  uint64_t start_wall_ms;
  dev_sample_cb cb;
  void *arg;
  int frames;
  int max_frames;
  int stop;
};

static int sampler_emit(struct sim_dev_env *env, uint8_t endpoint, uint16_t cluster,
                        const uint8_t *zcl, size_t len) {
  struct sampler *s = (struct sampler *)env;
  if (s->stop)
    return SIM_EFULL; /* the caller has seen enough: count it as dropped */
  struct dev_sample_frame f = {
      .index = s->frames,
      .t = env->now,
      .wall_ms = env->wall_ms,
      .endpoint = endpoint,
      .cluster = cluster,
      .zcl = zcl,
      .len = len,
      .tsn = len >= 3 ? zcl[(zcl[0] & 0x04) ? 3 : 1] : 0,
      .model = s->m,
      .dev = &s->dev,
      .env = env,
  };
  s->frames++;
  if (s->cb(s->arg, &f) != 0 || (s->max_frames > 0 && s->frames >= s->max_frames))
    s->stop = 1;
  return 0;
}

/* A century of device time. */
#define SAMPLE_HORIZON ((sim_time_t)100 * 366 * 86400 * 1000000)

static void set_time(struct sampler *s, sim_time_t t) {
  s->env.now = t;
  s->env.due = t;
  s->env.wall_ms = s->start_wall_ms + t / 1000;
}

int dev_sample_run(const struct dev_sample_opts *o, dev_sample_cb cb, void *arg) {
  if (!o || !o->model_id || !cb || (o->max_frames <= 0 && o->duration == 0))
    return SIM_EINVAL;
  const struct sim_model *m = dev_catalog_find(o->model_id);
  if (!m)
    return SIM_ENOTFOUND;
  struct sim_rng rng;
  sim_rng_seed(&rng, o->seed, 0);
  struct sampler s;
  memset(&s, 0, sizeof s);
  s.start_wall_ms = o->start_wall_ms ? o->start_wall_ms : 1767225600000ull; /* 2026-01-01 */
  s.cb = cb;
  s.arg = arg;
  s.max_frames = o->max_frames;
  s.m = m;
  s.env.rng = &rng;
  s.env.wall0_ms = s.start_wall_ms;
  s.env.emit = sampler_emit;
  /* The IEEE address: the model's OUI and 40 bits derived from the seed, as the engine does. */
  uint64_t x = o->seed;
  s.env.eui64 = (uint64_t)m->ieee_oui << 40 | (sim_splitmix64(&x) & 0xFFFFFFFFFFull);
  s.dev.lqi = 255;
  set_time(&s, 0);
  s.env.next = 0;
  m->ops->join(m, &s.dev, &s.env, 0);
  s.dev.flags |= SIM_DEV_JOINED;
  /* Every wakeup must move time forward; this bound only trips on a model bug (a model that
   * reschedules into the past forever). A device that sends nothing more still wakes now and
   * then (generic.c keeps its time stamps fresh), so a sample limited only by its frame count
   * also ends at SAMPLE_HORIZON of device time. */
  for (long steps = 0; !s.stop && steps < 100000000L; steps++) {
    sim_time_t next = s.env.next;
    if (next == 0 || next > SAMPLE_HORIZON || (o->duration && next >= o->duration))
      break;
    if (next < s.env.now)
      next = s.env.now;
    set_time(&s, next);
    m->ops->tick(m, &s.dev, &s.env);
  }
  return s.frames;
}

int dev_sample(const char *model_id, uint64_t seed, int count, dev_sample_cb cb, void *arg) {
  struct dev_sample_opts o = {.model_id = model_id, .seed = seed, .max_frames = count};
  return dev_sample_run(&o, cb, arg);
}
