/* Device time over long runs (devices/generic.c): the per-device state keeps times in 32 bits,
 * and 2^32 ms of device time is 49.7 days, which `--speedup 1000000` reaches in about four
 * seconds. Each test drives catalogue models directly (no engine), with env->due advancing as
 * the engine would, and checks that their behaviour does not change at that boundary or after
 * it: heartbeats keep their period, mains devices keep reporting, energy keeps counting, the
 * wakeups keep moving forward; rare events keep their documented mean gap (months, beyond the
 * 32-bit millisecond range); the event counter of the heartbeat does not wrap at 16 bits. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "devices/cat_global.h"
#include "devices/cat_load.h"
#include "devices/cat_types.h"
#include "devices/generic.h"
#include "sim/core/err.h"
#include "sim/core/rng.h"
#include "sim/wire/zcl.h"

#define DAY SIM_SEC(86400)
/* 2^32 ms: where a 32-bit millisecond clock wraps. */
#define WRAP (((sim_time_t)1 << 32) * 1000u)
#define START_WALL 1767225600000ull /* 2026-01-01T00:00:00Z */
#define MAX_DAYS 64

/* One device stepped alone. env is the first member so that emit can find the driver. */
struct drv {
  struct sim_dev_env env;
  struct sim_device dev;
  const struct sim_model *m;
  const struct dev_cat_model *cm;
  struct sim_rng rng;
  sim_time_t origin; /* day 0 of the counters below */
  int frames[MAX_DAYS], heartbeats[MAX_DAYS], ticks[MAX_DAYS];
  int stuck;           /* wakeups that did not move time forward */
  double energy_first; /* an energy channel's value at the first tick, and the last one */
  double energy_last;
  int energy_falls, energy_jumps;
  sim_time_t first_event; /* device time of the first frame of an event attribute, or 0 */
  uint16_t event_cluster;
};

static int day_of(const struct drv *d, sim_time_t t) {
  if (t < d->origin)
    return -1;
  sim_time_t k = (t - d->origin) / DAY;
  return k < MAX_DAYS ? (int)k : -1;
}

static int drv_emit(struct sim_dev_env *env, uint8_t endpoint, uint16_t cluster, const uint8_t *zcl,
                    size_t len) {
  struct drv *d = (struct drv *)env;
  (void)endpoint;
  int k = day_of(d, env->due);
  struct sim_zcl_header h;
  if (sim_zcl_parse_header(zcl, len, &h) != 0)
    fail_msg("%s: a frame without a ZCL header", d->m->model_id);
  if (k >= 0) {
    d->frames[k]++;
    /* The heartbeat record: attribute 0xFF01 (genBasic) or 0x00F7 (0xFCC0), first in the frame,
     * or after the modelId record of the legacy join frame. */
    const struct dev_cat_heartbeat *hb = &d->cm->hb;
    if (hb->present && cluster == hb->cluster && h.command == SIM_ZCL_CMD_REPORT_ATTR &&
        len >= h.header_len + 2 && zcl[h.header_len] == (hb->attr & 0xFF) &&
        zcl[h.header_len + 1] == hb->attr >> 8)
      d->heartbeats[k]++;
  }
  if (cluster == d->event_cluster && !d->first_event)
    d->first_event = env->due;
  return 0;
}

static void drv_set_time(struct drv *d, sim_time_t t) {
  d->env.now = t;
  d->env.due = t;
  d->env.wall_ms = START_WALL + t / 1000;
}

static void drv_join(struct drv *d, const struct dev_cat_model *cm, uint64_t seed, sim_time_t at) {
  memset(d, 0, sizeof *d);
  d->cm = cm;
  d->m = &cm->m;
  sim_rng_seed(&d->rng, seed, 0);
  d->env.rng = &d->rng;
  d->env.emit = drv_emit;
  uint64_t x = seed;
  d->env.eui64 = (uint64_t)cm->m.ieee_oui << 40 | (sim_splitmix64(&x) & 0xFFFFFFFFFFull);
  d->dev.lqi = 200;
  d->origin = at;
  drv_set_time(d, at);
  d->m->ops->join(d->m, &d->dev, &d->env, 0);
}

static int energy_ch(const struct dev_cat_model *cm) {
  for (int i = 0; i < cm->n_ch; i++)
    if (cm->ch[i].kind == DEV_CH_ENERGY)
      return i;
  return -1;
}

/* Runs the device's wakeups until `until` (or until it schedules none), at most max_steps of
 * them: a model that stops moving time forward is counted in d->stuck and stopped, never looped
 * on. */
static void drv_run(struct drv *d, sim_time_t until, long max_steps) {
  int e = energy_ch(d->cm);
  double max_kwh_per_ms = 0;
  if (e >= 0) {
    const struct dev_cat_channel *p = &d->cm->ch[d->cm->ch[e].p.energy.of];
    max_kwh_per_ms = (p->kind == DEV_CH_METER ? p->p.meter.load_max_w * 1.5 : 1e4) / 3.6e9;
    d->energy_first = d->energy_last = dev_generic_value(d->cm, &d->dev, &d->env, e);
  }
  for (long step = 0; step < max_steps; step++) {
    sim_time_t next = d->env.next, prev = d->env.due;
    if (next == 0 || next > until)
      return;
    if (next <= prev) {
      d->stuck++;
      return;
    }
    drv_set_time(d, next);
    d->m->ops->tick(d->m, &d->dev, &d->env);
    int k = day_of(d, next);
    if (k >= 0)
      d->ticks[k]++;
    if (e >= 0) {
      double v = dev_generic_value(d->cm, &d->dev, &d->env, e);
      if (v < d->energy_last - 1e-9)
        d->energy_falls++;
      if (v - d->energy_last > max_kwh_per_ms * (double)(next - prev) / 1000.0 + 1e-9)
        d->energy_jumps++;
      d->energy_last = v;
    }
  }
  d->stuck++; /* far more wakeups than any model needs in the time given */
}

static int sampled(const struct dev_cat_model *cm) {
  for (int i = 0; i < cm->n_ch; i++)
    if (cm->ch[i].kind == DEV_CH_WALK || cm->ch[i].kind == DEV_CH_DAYLIGHT ||
        cm->ch[i].kind == DEV_CH_METER)
      return 1;
  return 0;
}

/* Checks days [from, to) of a run: the heartbeat period, mains reporting, sampling, energy. */
static int check_days(const struct drv *d, int from, int to, int sample_day) {
  const struct dev_cat_model *cm = d->cm;
  int bad = 0;
#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      printf("#   FAIL %s: %s: ", cm->m.model_id, #cond);                                          \
      printf(__VA_ARGS__);                                                                         \
      printf("\n");                                                                                \
      bad = 1;                                                                                     \
    }                                                                                              \
  } while (0)
  CHECK(d->stuck == 0, "the wakeups stopped moving forward");
  CHECK(d->energy_falls == 0 && d->energy_jumps == 0, "energy fell %d times, jumped %d times",
        d->energy_falls, d->energy_jumps);
  for (int k = from; k < to; k++) {
    if (cm->hb.present) {
      double mean = (cm->hb.period_min_s + cm->hb.period_max_s) / 2;
      int want = (int)(86400 / mean);
      CHECK(d->heartbeats[k] >= want - 4 && d->heartbeats[k] <= want + 3,
            "day %d: %d heartbeats, about %d expected", k, d->heartbeats[k], want);
    }
    if (!cm->has_battery)
      CHECK(d->frames[k] >= 24, "day %d: %d frames from a mains device", k, d->frames[k]);
    if (sampled(cm))
      CHECK(d->ticks[k] >= d->ticks[sample_day] / 2 && d->ticks[k] <= d->ticks[sample_day] * 2,
            "day %d: %d wakeups, %d on day %d", k, d->ticks[k], d->ticks[sample_day], sample_day);
  }
#undef CHECK
  return bad;
}

/* Every catalogue model joins three days before the 32-bit millisecond clock would wrap and
 * runs for six days: the days after the boundary look like the days before it. */
static void test_every_model_across_the_wrap(void **state) {
  (void)state;
  size_t n;
  const struct sim_model *const *ms = dev_catalog_models(&n);
  assert_true(n >= 3);
  int failures = 0;
  struct drv *d = malloc(sizeof *d);
  assert_non_null(d);
  for (size_t i = 0; i < n; i++) {
    const struct dev_cat_model *cm = ms[i]->params;
    drv_join(d, cm, 11 + i, WRAP - 3 * DAY);
    drv_run(d, WRAP + 3 * DAY, 5000000);
    printf("# %-24s frames/day %4d %4d %4d | %4d %4d %4d (heartbeats %2d | %2d), wakeups %5d | "
           "%5d%s\n",
           ms[i]->model_id, d->frames[0], d->frames[1], d->frames[2], d->frames[3], d->frames[4],
           d->frames[5], d->heartbeats[1], d->heartbeats[4], d->ticks[1], d->ticks[4],
           d->stuck ? " STUCK" : "");
    /* Day 0 holds the join; days 1..5 are whole. */
    failures += check_days(d, 1, 6, 1);
  }
  free(d);
  assert_int_equal(failures, 0);
}

/* One device of each kind of behaviour from its join through 52 days of device time, checked
 * every day. */
static void test_fifty_two_days(void **state) {
  (void)state;
  static const char *const ids[] = {
      "lumi.weather",           /* walks with change reports, heartbeat */
      "lumi.plug.maeu01",       /* meter, energy, actuator with local toggles */
      "lumi.sensor_motion.aq2", /* bursts with reset, daylight */
      "lumi.sensor_magnet.aq2", /* two states */
      "lumi.curtain",           /* actuator with travel */
  };
  int failures = 0;
  struct drv *d = malloc(sizeof *d);
  assert_non_null(d);
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    const struct sim_model *m = dev_catalog_find(ids[i]);
    if (!m)
      fail_msg("%s is not in the catalogue", ids[i]);
    drv_join(d, m->params, 5 + i, 0);
    drv_run(d, 52 * DAY, 20000000);
    printf("# %-24s 52 days: frames on day 48 %d, 49 %d, 50 %d, 51 %d; wakeups %d %d %d %d%s\n",
           ids[i], d->frames[48], d->frames[49], d->frames[50], d->frames[51], d->ticks[48],
           d->ticks[49], d->ticks[50], d->ticks[51], d->stuck ? " STUCK" : "");
    failures += check_days(d, 1, 52, 1);
  }
  free(d);
  assert_int_equal(failures, 0);
}

/* A model whose events are months apart, as the catalogue's smoke and gas detectors: a door
 * that opens once in 90 days on average, and a bursts channel with the same mean gap. */
static const char rare_yaml[] =
    "models:\n"
    "  - id: t.rare\n"
    "    vendor: V\n"
    "    vendor_model: VM\n"
    "    description: D\n"
    "    category: c\n"
    "    manufacturer: LUMI\n"
    "    manufacturer_code: 0x115F\n"
    "    ieee_oui: 0x54EF44\n"
    "    power: mains\n"
    "    logical_type: router\n"
    "    sleepy: false\n"
    "    join: announce\n"
    "    endpoints:\n"
    "      - {id: 1, profile: 0x0104, device_id: 0x0100, in: [0x0000, 0x0006, 0x0406]}\n"
    "    channels:\n"
    "      door: {two_state: {idle: 0, active: 1, gap_day_s: 7776000, gap_night_s: 7776000,\n"
    "                         day_h: [7, 23], hold_s: [5, 10]}}\n"
    "      smoke: {bursts: {gap_day_s: 7776000, gap_night_s: 7776000, day_h: [7, 23],\n"
    "                       length_s: 0, blind_s: 5, retrigger_s: 0, values: [1]}}\n"
    "    attributes:\n"
    "      - {name: door, ep: 1, cluster: 0x0006, attr: 0x0000, type: bool, value: door,\n"
    "         report: event}\n"
    "      - {name: smoke, ep: 1, cluster: 0x0406, attr: 0x0000, type: bitmap8, value: smoke,\n"
    "         report: event}\n"
    "    triggers:\n"
    "      - {name: hit, do: detect, channel: smoke, value: 1}\n";

static const struct dev_cat_model *rare_model(struct dev_cat **c) {
  *c = dev_cat_new();
  assert_non_null(*c);
  struct dev_cat_error e;
  int r = dev_cat_add_text(*c, "rare.yaml", rare_yaml, strlen(rare_yaml), &e);
  if (r)
    fail_msg("rare.yaml:%d: %s", e.line, e.reason);
  return (*c)->models[0];
}

/* Time to the first event of each channel, over 400 devices: exponential with a mean of 90 days.
 * A device clock that cannot hold a wait beyond 2^32 ms (49.7 days) would bring every event
 * forward to that point and the mean down to about 36 days. */
static void test_rare_events_keep_their_mean(void **state) {
  (void)state;
  struct dev_cat *c;
  const struct dev_cat_model *cm = rare_model(&c);
  struct drv *d = malloc(sizeof *d);
  assert_non_null(d);
  static const uint16_t clusters[] = {0x0006, 0x0406};
  for (int k = 0; k < 2; k++) {
    const int n = 400;
    double sum = 0, longest = 0;
    int later = 0;
    for (int i = 0; i < n; i++) {
      drv_join(d, cm, 1000 + (uint64_t)i, 0);
      d->event_cluster = clusters[k];
      drv_run(d, 2000 * DAY, 100000);
      assert_int_equal(d->stuck, 0);
      if (!d->first_event)
        fail_msg("device %d: no %s event within 2000 days", i, k ? "smoke" : "door");
      double days = (double)d->first_event / (double)DAY;
      sum += days;
      longest = fmax(longest, days);
      later += days > 50;
    }
    double mean = sum / n;
    printf("# %s: first event after %.1f days on average (90 expected), %d of %d after 50 days "
           "(%.0f expected), the latest after %.0f days\n",
           k ? "bursts" : "two_state", mean, later, n, n * exp(-50.0 / 90), longest);
    /* The standard error of the mean of 400 draws is 4.5 days: 4 of them either side. */
    assert_true(mean > 72 && mean < 108);
    assert_true(later > n / 3);
  }
  free(d);
  dev_cat_free(c);
}

/* The event counter (heartbeat tag 0x06 on the real devices, a uint40) counts past 65,535. */
static void test_event_counter_does_not_wrap(void **state) {
  (void)state;
  struct dev_cat *c;
  const struct dev_cat_model *cm = rare_model(&c);
  struct drv *d = malloc(sizeof *d);
  assert_non_null(d);
  drv_join(d, cm, 1, 0);
  int trig = dev_cat_channel_find(cm, "triggers");
  assert_true(trig >= 0);
  double before = dev_generic_value(cm, &d->dev, &d->env, trig);
  for (int i = 0; i < 70000; i++) {
    drv_set_time(d, d->env.due + 1000);
    assert_int_equal(d->m->ops->trigger(d->m, &d->dev, &d->env, "hit"), 0);
  }
  double after = dev_generic_value(cm, &d->dev, &d->env, trig);
  printf("# triggers: %.0f before, %.0f after 70000 detections\n", before, after);
  assert_true(after - before == 70000);
  free(d);
  dev_cat_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_model_across_the_wrap),
      cmocka_unit_test(test_fifty_two_days),
      cmocka_unit_test(test_rare_events_keep_their_mean),
      cmocka_unit_test(test_event_counter_does_not_wrap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
