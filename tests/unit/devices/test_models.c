/* The three models stepped directly (dev_sample_run, no engine): 24 simulated hours each, frame
 * counts and plausibility, battery drain, determinism; commands and triggers on a hand-built
 * device; registration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "devices/catalog.h"
#include "devices/models.h"
#include "sim/core/err.h"
#include "sim/wire/zcl.h"

#define HOUR SIM_SEC(3600)
#define CAP 64

struct stats {
  int frames;
  int heartbeats;
  int by_cluster[8]; /* see slot() */
  int bad_decode;
  int bad_tsn;
  int bad_header;
  uint8_t last_tsn;
  int first_mv, last_mv, mv_rises;
  uint64_t last_energy;
  int energy_falls;
  int occupancy_not_one;
  sim_time_t last_occupancy;
  sim_time_t min_occupancy_gap;
  uint64_t hash;
};

static int slot(uint16_t cluster) {
  switch (cluster) {
  case 0x0402:
    return 0;
  case 0x0405:
    return 1;
  case 0x0403:
    return 2;
  case 0x0406:
    return 3;
  case 0x0400:
    return 4;
  case 0x0006:
    return 5;
  case 0x0B04:
    return 6;
  case 0x0702:
    return 7;
  default:
    return -1;
  }
}

static void hash_bytes(uint64_t *h, const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    *h = (*h ^ b[i]) * 0x100000001B3ull;
}

static int collect(void *arg, const struct dev_sample_frame *f) {
  struct stats *s = arg;
  hash_bytes(&s->hash, &f->t, sizeof f->t);
  hash_bytes(&s->hash, &f->cluster, sizeof f->cluster);
  hash_bytes(&s->hash, f->zcl, f->len);
  if (s->frames > 0 && f->tsn != (uint8_t)(s->last_tsn + 1))
    s->bad_tsn++;
  s->last_tsn = f->tsn;
  s->frames++;
  if (f->len < 3 || (f->zcl[0] != 0x18 && f->zcl[0] != 0x1C))
    s->bad_header++;
  struct sim_zcl_attr a[CAP];
  size_t top, total;
  if (sim_zcl_decode_attrs(f->cluster, f->zcl, f->len, a, CAP, &top, &total) != 0 || top == 0) {
    s->bad_decode++;
    return 0;
  }
  int k = slot(f->cluster);
  if (k >= 0)
    s->by_cluster[k]++;
  for (size_t i = 0; i < top; i++) {
    if (a[i].n_members) { /* a heartbeat */
      s->heartbeats++;
      for (uint16_t j = 0; j < a[i].n_members; j++) {
        const struct sim_zcl_attr *m = &a[a[i].first_member + j];
        if (m->id == 0x01) {
          int mv = (int)m->v.u;
          if (s->first_mv == 0)
            s->first_mv = mv;
          if (s->last_mv && mv > s->last_mv)
            s->mv_rises++;
          s->last_mv = mv;
        }
      }
    }
  }
  if (f->cluster == 0x0702) {
    if (a[0].v.u < s->last_energy)
      s->energy_falls++;
    s->last_energy = a[0].v.u;
  }
  if (f->cluster == 0x0406) {
    if (a[0].v.u != 1)
      s->occupancy_not_one++;
    if (s->last_occupancy) {
      sim_time_t gap = f->t - s->last_occupancy;
      if (!s->min_occupancy_gap || gap < s->min_occupancy_gap)
        s->min_occupancy_gap = gap;
    }
    s->last_occupancy = f->t;
  }
  return 0;
}

static struct stats run(const char *model, uint64_t seed, sim_time_t duration) {
  struct stats s;
  memset(&s, 0, sizeof s);
  s.hash = 0xCBF29CE484222325ull;
  struct dev_sample_opts o = {.model_id = model, .seed = seed, .duration = duration};
  int n = dev_sample_run(&o, collect, &s);
  assert_int_equal(n, s.frames);
  assert_int_equal(s.bad_decode, 0);
  assert_int_equal(s.bad_tsn, 0);
  assert_int_equal(s.bad_header, 0);
  return s;
}

static void print(const char *model, const struct stats *s) {
  printf("# %-24s 24h: %4d frames, %2d heartbeats, temp %d hum %d press %d occ %d lux %d "
         "onoff %d power %d energy %d, battery %d -> %d mV\n",
         model, s->frames, s->heartbeats, s->by_cluster[0], s->by_cluster[1], s->by_cluster[2],
         s->by_cluster[3], s->by_cluster[4], s->by_cluster[5], s->by_cluster[6], s->by_cluster[7],
         s->first_mv, s->last_mv);
}

static void test_t1_day(void **state) {
  (void)state;
  for (uint64_t seed = 1; seed <= 5; seed++) {
    struct stats s = run("lumi.sensor_ht.agl02", seed, 24 * HOUR);
    print("lumi.sensor_ht.agl02", &s);
    assert_in_range(s.heartbeats, 20, 30);
    assert_in_range(s.by_cluster[0], 2, 200); /* temperature on change */
    assert_in_range(s.by_cluster[1], 2, 200);
    assert_in_range(s.by_cluster[2], 1, 200);
    assert_in_range(s.frames, 30, 500);
    assert_int_equal(s.mv_rises, 0);
    assert_in_range(s.first_mv, 2990, 3100);
  }
}

static void test_motion_day(void **state) {
  (void)state;
  for (uint64_t seed = 1; seed <= 5; seed++) {
    struct stats s = run("lumi.sensor_motion.aq2", seed, 24 * HOUR);
    print("lumi.sensor_motion.aq2", &s);
    /* The join frame carries a heartbeat too: 1 + ~26. */
    assert_in_range(s.heartbeats, 20, 31);
    assert_in_range(s.by_cluster[3], 5, 1000);
    assert_int_equal(s.by_cluster[3], s.by_cluster[4]); /* lux with every motion */
    assert_int_equal(s.occupancy_not_one, 0);
    assert_true(s.min_occupancy_gap >= SIM_SEC(60)); /* the blind time */
    assert_int_equal(s.mv_rises, 0);
  }
}

static void test_plug_day(void **state) {
  (void)state;
  for (uint64_t seed = 1; seed <= 5; seed++) {
    struct stats s = run("lumi.plug.maeu01", seed, 24 * HOUR);
    print("lumi.plug.maeu01", &s);
    assert_in_range(s.heartbeats, 20, 30);
    assert_true(s.by_cluster[5] >= 1);  /* onOff at join at least */
    assert_true(s.by_cluster[6] >= 24); /* activePower: at least every max interval */
    assert_true(s.by_cluster[7] >= 24);
    assert_int_equal(s.energy_falls, 0);
    assert_in_range(s.frames, 50, 6000);
  }
}

/* The battery drains per frame: over a week the reported voltage falls and never rises. */
static void test_battery_falls(void **state) {
  (void)state;
  const char *models[] = {"lumi.sensor_ht.agl02", "lumi.sensor_motion.aq2"};
  for (size_t i = 0; i < 2; i++) {
    struct stats s = run(models[i], 7, 7 * 24 * HOUR);
    printf("# %s 7 days: %d frames, battery %d -> %d mV\n", models[i], s.frames, s.first_mv,
           s.last_mv);
    assert_true(s.last_mv < s.first_mv);
    assert_int_equal(s.mv_rises, 0);
  }
}

static void test_determinism(void **state) {
  (void)state;
  size_t n;
  const struct sim_model *const *ms = dev_catalog_models(&n);
  for (size_t i = 0; i < n; i++) {
    struct stats a = run(ms[i]->model_id, 42, 24 * HOUR);
    struct stats b = run(ms[i]->model_id, 42, 24 * HOUR);
    struct stats c = run(ms[i]->model_id, 43, 24 * HOUR);
    assert_int_equal(a.frames, b.frames);
    assert_true(a.hash == b.hash);
    assert_true(a.hash != c.hash);
  }
}

static int count_cb(void *arg, const struct dev_sample_frame *f) {
  (void)f;
  (*(int *)arg)++;
  return 0;
}

static void test_sample_api(void **state) {
  (void)state;
  int n = 0;
  assert_int_equal(dev_sample("lumi.plug.maeu01", 1, 10, count_cb, &n), 10);
  assert_int_equal(n, 10);
  assert_int_equal(dev_sample("lumi.nope", 1, 10, count_cb, &n), SIM_ENOTFOUND);
  assert_int_equal(dev_sample("lumi.plug.maeu01", 1, 0, count_cb, &n), SIM_EINVAL);
}

/* A hand-built device: what the engine does, minus the engine. */
struct rig {
  struct sim_dev_env env;
  struct sim_device dev;
  struct sim_rng rng;
  int n;
  uint16_t cluster[16];
  uint8_t frame[16][DEV_ZCL_FRAME_MAX];
  size_t len[16];
};

static int rig_emit(struct sim_dev_env *env, uint8_t ep, uint16_t cluster, const uint8_t *zcl,
                    size_t len) {
  struct rig *r = (struct rig *)env;
  (void)ep;
  if (r->n < 16) {
    r->cluster[r->n] = cluster;
    memcpy(r->frame[r->n], zcl, len);
    r->len[r->n] = len;
  }
  r->n++;
  return 0;
}

static void rig_init(struct rig *r, const struct sim_model *m) {
  memset(r, 0, sizeof *r);
  sim_rng_seed(&r->rng, 99, 1);
  r->env.rng = &r->rng;
  r->env.emit = rig_emit;
  r->env.wall_ms = 1767268800000ull; /* noon */
  m->ops->join(m, &r->dev, &r->env, 0);
  r->n = 0;
}

static void rig_at(struct rig *r, sim_time_t t) {
  r->env.now = r->env.due = t;
  r->env.wall_ms = 1767268800000ull + t / 1000;
}

static int decode_first_bool(struct rig *r, int i) {
  struct sim_zcl_attr a[CAP];
  size_t top, total;
  assert_int_equal(
      sim_zcl_decode_attrs(r->cluster[i], r->frame[i], r->len[i], a, CAP, &top, &total), 0);
  assert_true(top >= 1);
  return a[0].v.b;
}

static void test_plug_commands(void **state) {
  (void)state;
  const struct sim_model *m = &dev_lumi_plug_maeu01;
  struct rig r;
  rig_init(&r, m);
  const uint8_t cmds[] = {0x01, 0x00, 0x02, 0x02};
  const int want[] = {1, 0, 1, 0};
  sim_time_t t = SIM_SEC(100);
  for (int i = 0; i < 4; i++) {
    rig_at(&r, t);
    struct sim_dev_cmd c = {.endpoint = 1, .cluster = 0x0006, .command = cmds[i]};
    uint32_t lat = 0;
    r.n = 0;
    assert_int_equal(m->ops->command(m, &r.dev, &r.env, &c, &lat), 0);
    assert_in_range(lat, 30000, 80000);
    assert_true(r.env.next <= t + lat);
    assert_int_equal(r.n, 0); /* nothing before the relay has switched */
    rig_at(&r, r.env.next);
    m->ops->tick(m, &r.dev, &r.env);
    assert_true(r.n >= 1);
    assert_int_equal(r.cluster[0], 0x0006);
    assert_int_equal(decode_first_bool(&r, 0), want[i]);
    t += SIM_SEC(1);
  }
  /* Unsupported cluster command, and a command on a cluster with none. */
  struct sim_dev_cmd bad = {.endpoint = 1, .cluster = 0x0006, .command = 0x40};
  uint32_t lat;
  assert_int_equal(m->ops->command(m, &r.dev, &r.env, &bad, &lat), 0x81);
  bad.cluster = 0x0702;
  bad.command = 0x00;
  assert_int_equal(m->ops->command(m, &r.dev, &r.env, &bad, &lat), 0x81);
  /* Read Attributes: onOff, an unsupported id, zclVersion (genBasic). */
  const uint8_t ids[] = {0x00, 0x00, 0x34, 0x12};
  struct sim_dev_cmd rd = {.endpoint = 1,
                           .cluster = 0x0006,
                           .command = 0x00,
                           .global = 1,
                           .payload = ids,
                           .len = sizeof ids};
  r.n = 0;
  assert_int_equal(m->ops->command(m, &r.dev, &r.env, &rd, &lat), 0);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.frame[0][0], 0x18);
  assert_int_equal(r.frame[0][2], 0x01); /* Read Attributes Response */
  assert_int_equal(r.len[0], 3 + 5 + 3);
  assert_int_equal(r.frame[0][3 + 5 + 2], 0x86);
  assert_false(decode_first_bool(&r, 0));
  const uint8_t odd[] = {0x00};
  rd.payload = odd;
  rd.len = 1;
  assert_int_equal(m->ops->command(m, &r.dev, &r.env, &rd, &lat), 0x80);
  rd.command = 0x0C; /* Discover Attributes: not supported */
  assert_int_equal(m->ops->command(m, &r.dev, &r.env, &rd, &lat), 0x82);
}

static void test_motion_trigger(void **state) {
  (void)state;
  const struct sim_model *m = &dev_lumi_sensor_motion_aq2;
  struct rig r;
  rig_init(&r, m);
  rig_at(&r, SIM_SEC(1000));
  assert_int_equal(m->ops->trigger(m, &r.dev, &r.env, "motion"), 0);
  assert_int_equal(r.n, 2);
  assert_int_equal(r.cluster[0], 0x0406);
  assert_int_equal(r.cluster[1], 0x0400);
  rig_at(&r, SIM_SEC(1030)); /* blind */
  assert_int_equal(m->ops->trigger(m, &r.dev, &r.env, "motion"), 0);
  assert_int_equal(r.n, 2);
  assert_true(r.env.next >= SIM_SEC(1060) || r.env.next <= SIM_SEC(1000) + 3600 * SIM_SEC(1));
  rig_at(&r, SIM_SEC(1061));
  assert_int_equal(m->ops->trigger(m, &r.dev, &r.env, "motion"), 0);
  assert_int_equal(r.n, 4);
  assert_int_equal(m->ops->trigger(m, &r.dev, &r.env, "open"), SIM_ENOTFOUND);
  assert_null(m->ops->command);
}

static void test_register_all(void **state) {
  (void)state;
  sim_model_reset();
  assert_int_equal(dev_catalog_register_all(), 0);
  assert_int_equal(dev_catalog_register_all(), 0);
  assert_int_equal(sim_model_count(), 3);
  int i = sim_model_find("lumi.plug.maeu01");
  assert_true(i >= 0);
  const struct sim_model *m = sim_model_get((uint16_t)i);
  assert_int_equal(m->manufacturer_code, 0x115F);
  assert_int_equal(m->ieee_oui, 0x54EF44);
  assert_int_equal(m->endpoints[1].id, 242);
  m = sim_model_get((uint16_t)sim_model_find("lumi.sensor_motion.aq2"));
  assert_int_equal(m->manufacturer_code, 0x1037);
  assert_int_equal(m->ieee_oui, 0x00158D);
  assert_int_equal(m->endpoints[0].device_id, 0x0107);
  sim_model_reset();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_t1_day),        cmocka_unit_test(test_motion_day),
      cmocka_unit_test(test_plug_day),      cmocka_unit_test(test_battery_falls),
      cmocka_unit_test(test_determinism),   cmocka_unit_test(test_sample_api),
      cmocka_unit_test(test_plug_commands), cmocka_unit_test(test_motion_trigger),
      cmocka_unit_test(test_register_all),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
