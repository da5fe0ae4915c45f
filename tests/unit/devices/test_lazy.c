/* Lazy sampling (devices/generic_lazy.c): a device that wakes only when it sends sends exactly
 * what the same device woken at every sample sends, at the same instants, with commands, reads
 * and triggers reaching it in between. Every catalogue model with a sampled channel is run both
 * ways for days of device time; every frame and its instant are compared. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "devices/cat_global.h"
#include "devices/cat_types.h"
#include "devices/generic.h"
#include "sim/core/hash.h"
#include "sim/core/rng.h"
#include "sim/wire/zcl.h"

#define START_WALL 1767225600000ull /* 2026-01-01T00:00:00Z */
#define DAYS 3
#define MAX_KEPT 8192 /* frames whose digests are kept one by one, to name the first difference */

struct run {
  struct sim_dev_env env; /* first: emit recovers the struct */
  struct sim_device dev;
  struct sim_rng rng;
  const struct sim_model *m;
  long frames, ticks;
  uint64_t digest;
  uint64_t each[MAX_KEPT];
  sim_time_t at[MAX_KEPT];
};

static int run_emit(struct sim_dev_env *env, uint8_t ep, uint16_t cluster, const uint8_t *zcl,
                    size_t len) {
  struct run *r = (struct run *)env;
  uint64_t h = sim_hash_fnv64(SIM_HASH_FNV64_INIT, &env->due, sizeof env->due);
  h = sim_hash_fnv64(h, &ep, 1);
  h = sim_hash_fnv64(h, &cluster, 2);
  h = sim_hash_fnv64(h, zcl, len);
  h = sim_hash_fnv64(h, &r->dev.lqi, 1);
  if (r->frames < MAX_KEPT) {
    r->each[r->frames] = h;
    r->at[r->frames] = env->due;
  }
  r->digest = sim_hash_mix64(r->digest ^ h);
  r->frames++;
  return 0;
}

static void run_at(struct run *r, sim_time_t t) {
  r->env.now = r->env.due = t;
  r->env.wall_ms = START_WALL + t / 1000;
}

/* An outside event k at t: a read of one attribute, a command of the model, or a trigger. */
static void outside(struct run *r, const struct dev_cat_model *cm, uint32_t k) {
  const struct sim_model *m = r->m;
  uint32_t latency;
  uint8_t payload[8] = {0};
  struct sim_dev_cmd c = {0};
  switch (k % 3) {
  case 0:
    if (cm->n_attr && m->ops->command) {
      const struct dev_cat_attr *a = &cm->attr[k / 3 % cm->n_attr];
      payload[0] = (uint8_t)a->attr;
      payload[1] = (uint8_t)(a->attr >> 8);
      c = (struct sim_dev_cmd){a->ep, a->cluster, SIM_ZCL_CMD_READ_ATTR, 1, a->mfr, payload, 2};
      m->ops->command(m, &r->dev, &r->env, &c, &latency);
    }
    break;
  case 1:
    if (cm->n_cmd && m->ops->command) {
      const struct dev_cat_command *x = &cm->cmd[k / 3 % cm->n_cmd];
      payload[0] = (uint8_t)(k * 37);
      payload[1] = (uint8_t)(k >> 3);
      c = (struct sim_dev_cmd){x->ep ? x->ep : 1, x->cluster, x->command, 0, 0, payload, 4};
      m->ops->command(m, &r->dev, &r->env, &c, &latency);
    }
    break;
  default:
    if (cm->n_trig && m->ops->trigger)
      m->ops->trigger(m, &r->dev, &r->env, cm->trig[k / 3 % cm->n_trig].name);
    break;
  }
}

#define MAX_EVENTS 4096

/* The outside events of a run: instants (device time) in increasing order. */
struct events {
  sim_time_t at[MAX_EVENTS];
  int n;
};

/* Some events come close together, most minutes or hours apart, some fall on whole seconds. */
static void events_draw(struct events *ev, sim_time_t end) {
  struct sim_rng g;
  sim_rng_seed(&g, 11, 0);
  sim_time_t t = 1000000;
  ev->n = 0;
  for (uint32_t k = 1; ev->n < MAX_EVENTS; k++) {
    uint32_t gap_s = (k % 5 == 0) ? sim_rng_below(&g, 20) : 60 + sim_rng_below(&g, 7200);
    t += (sim_time_t)gap_s * 1000000 + (k % 4 ? sim_rng_below(&g, 1000) * 1000 : 0);
    if (t >= end)
      break;
    ev->at[ev->n++] = t;
  }
}

/* One device for DAYS of device time with the events of ev (a read, a command or a trigger
 * each). A timer due at an event's instant fires first. With ticks, the instants of the first
 * MAX_KEPT wakeups are written there. */
static void run_model(struct run *r, const struct sim_model *m, int lazy, const struct events *ev,
                      sim_time_t *ticks) {
  memset(r, 0, sizeof *r);
  dev_generic_set_lazy(lazy);
  const struct dev_cat_model *cm = m->params;
  sim_rng_seed(&r->rng, 7, 3);
  r->m = m;
  r->env.rng = &r->rng;
  r->env.emit = run_emit;
  r->env.eui64 = (uint64_t)m->ieee_oui << 40 | 0x5A17E5;
  r->env.wall0_ms = START_WALL; /* what makes a device lazy (devices/generic_lazy.c) */
  run_at(r, 0);
  m->ops->join(m, &r->dev, &r->env, 0);
  r->dev.flags |= SIM_DEV_JOINED;
  const sim_time_t end = (sim_time_t)DAYS * 86400 * 1000000;
  int i = 0;
  for (long steps = 0; steps < 10000000L; steps++) {
    sim_time_t tn = r->env.next, te = i < ev->n ? ev->at[i] : end;
    if (tn && tn <= te && tn < end) {
      run_at(r, tn);
      if (ticks && r->ticks < MAX_KEPT)
        ticks[r->ticks] = tn;
      r->ticks++;
      m->ops->tick(m, &r->dev, &r->env);
      continue;
    }
    if (i >= ev->n)
      break;
    run_at(r, te);
    outside(r, cm, (uint32_t)i++);
  }
  dev_generic_set_lazy(1);
}

/* Every third event moved onto the instant of a wakeup of the device woken at every sample (a
 * sample of its grid): the event and a sample then fall on the same millisecond. */
static void events_on_samples(struct events *ev, const sim_time_t *ticks, long n_ticks) {
  long j = 0;
  for (int i = 0; i < ev->n; i += 3) {
    while (j < n_ticks && j < MAX_KEPT && ticks[j] < ev->at[i])
      j++;
    if (j >= n_ticks || j >= MAX_KEPT)
      break;
    sim_time_t hi = i + 1 < ev->n ? ev->at[i + 1] : ticks[j] + 1;
    if (ticks[j] < hi && (i == 0 || ticks[j] > ev->at[i - 1]))
      ev->at[i] = ticks[j];
  }
}

static struct run eager_run, lazy_run;
static struct events ev;
static sim_time_t tick_at[MAX_KEPT];

static void test_lazy_equals_eager(void **state) {
  (void)state;
  size_t n = 0;
  const struct sim_model *const *ms = dev_catalog_models(&n);
  assert_non_null(ms);
  int models = 0;
  long eager_ticks = 0, lazy_ticks = 0, frames = 0;
  for (size_t i = 0; i < n; i++) {
    const struct dev_cat_model *cm = ms[i]->params;
    if (!cm->sampled)
      continue;
    models++;
    const sim_time_t end = (sim_time_t)DAYS * 86400 * 1000000;
    events_draw(&ev, end);
    run_model(&eager_run, ms[i], 0, &ev, tick_at);
    events_on_samples(&ev, tick_at, eager_run.ticks);
    run_model(&eager_run, ms[i], 0, &ev, NULL);
    run_model(&lazy_run, ms[i], 1, &ev, NULL);
    long both = eager_run.frames < lazy_run.frames ? eager_run.frames : lazy_run.frames;
    for (long f = 0; f < both && f < MAX_KEPT; f++)
      if (eager_run.each[f] != lazy_run.each[f] || eager_run.at[f] != lazy_run.at[f]) {
        print_error("%s: frame %ld differs: eager at %.3f s, lazy at %.3f s\n", ms[i]->model_id, f,
                    eager_run.at[f] / 1e6, lazy_run.at[f] / 1e6);
        fail();
      }
    if (eager_run.frames != lazy_run.frames || eager_run.digest != lazy_run.digest) {
      print_error("%s: eager sent %ld frames, lazy %ld (digests %s)\n", ms[i]->model_id,
                  eager_run.frames, lazy_run.frames,
                  eager_run.digest == lazy_run.digest ? "equal" : "differ");
      fail();
    }
    assert_true(eager_run.frames > 10);
    assert_true(lazy_run.ticks <= eager_run.ticks);
    eager_ticks += eager_run.ticks;
    lazy_ticks += lazy_run.ticks;
    frames += eager_run.frames;
  }
  assert_true(models >= 5);
  /* The point of it: most wakeups are gone. */
  assert_true(lazy_ticks * 2 < eager_ticks);
  printf("%d models, %ld frames each way; timer wakeups: %ld woken at every sample, %ld lazy\n",
         models, frames, eager_ticks, lazy_ticks);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lazy_equals_eager),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
