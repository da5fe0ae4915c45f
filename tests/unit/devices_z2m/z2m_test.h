/* What the zigbee2mqtt tests share: a catalogue device stepped by hand (what the engine does,
 * minus the engine) whose frames go straight into the device's zigbee2mqtt state, and the
 * oracle: the exposes of devices/z2m/models.json read here on their own, not through the code
 * under test. */
#ifndef TESTS_UNIT_DEVICES_Z2M_Z2M_TEST_H
#define TESTS_UNIT_DEVICES_Z2M_Z2M_TEST_H

#include <jansson.h>
#include <string.h>

#include "devices/cat_global.h"
#include "devices/cat_types.h"
#include "devices/z2m.h"
#include "sim/core/err.h"

#define NOON 1767268800000ull /* 2026-01-01T12:00:00Z */

struct rig {
  struct sim_dev_env env; /* first: the emit callback finds the rig from it */
  struct sim_device dev;
  struct sim_rng rng;
  const struct sim_model *m;
  struct dev_z2m_dev zd;
  int frames, changed, bad;
  /* Called after every frame that changed the state, with the state message. */
  void (*on_state)(struct rig *r, const char *msg);
  void *arg;
};

static inline int rig_emit(struct sim_dev_env *env, uint8_t ep, uint16_t cluster,
                           const uint8_t *zcl, size_t len) {
  struct rig *r = (struct rig *)env;
  int changed = 0;
  r->frames++;
  if (dev_z2m_dev_frame(&r->zd, r->dev.lqi, ep, cluster, zcl, len, &changed) != 0)
    r->bad++;
  if (changed) {
    r->changed++;
    char *msg = dev_z2m_dev_state(&r->zd);
    assert_non_null(msg);
    if (r->on_state)
      r->on_state(r, msg);
    free(msg);
  }
  return 0;
}

static inline void rig_at(struct rig *r, sim_time_t t) {
  r->env.now = r->env.due = t;
  r->env.wall_ms = NOON + t / 1000;
}

/* A device of model_id, joined at time 0; 0 or the dev_z2m_dev_init() error. */
static inline int rig_init(struct rig *r, const char *model_id, uint64_t seed) {
  memset(r, 0, sizeof *r);
  r->m = dev_catalog_find(model_id);
  assert_non_null(r->m);
  int rc = dev_z2m_dev_init(&r->zd, model_id);
  if (rc != 0)
    return rc;
  sim_rng_seed(&r->rng, seed, 1);
  r->env.rng = &r->rng;
  r->env.emit = rig_emit;
  r->env.eui64 = (uint64_t)r->m->ieee_oui << 40 | 0x123456;
  rig_at(r, 0);
  r->m->ops->join(r->m, &r->dev, &r->env, 0);
  return 0;
}

/* Runs the device's wakeups up to t (bounded in count). */
static inline void rig_run_until(struct rig *r, sim_time_t t) {
  for (int i = 0; i < 200000 && r->env.next && r->env.next <= t; i++) {
    rig_at(r, r->env.next);
    r->m->ops->tick(r->m, &r->dev, &r->env);
  }
  rig_at(r, t);
}

static inline void rig_fini(struct rig *r) {
  dev_z2m_dev_fini(&r->zd);
}

/* The oracle: devices/z2m/models.json, parsed once. */
static inline json_t *oracle(void) {
  static json_t *root;
  if (!root) {
    json_error_t e;
    root = json_load_file(HUBSIM_Z2M_MODELS, 0, &e);
    if (!root)
      fail_msg("%s: %s", HUBSIM_Z2M_MODELS, e.text);
  }
  return root;
}

static inline json_t *oracle_expose_in(json_t *arr, const char *prop) {
  size_t i;
  json_t *e;
  json_array_foreach(arr, i, e) {
    json_t *f = json_object_get(e, "features");
    json_t *x = f ? oracle_expose_in(f, prop) : NULL;
    if (x)
      return x;
    const char *p = json_string_value(json_object_get(e, "property"));
    if (!f && p && strcmp(p, prop) == 0)
      return e;
  }
  return NULL;
}

/* The expose of model_id whose property is prop (linkquality included), or NULL. */
static inline json_t *oracle_expose(const char *model_id, const char *prop) {
  json_t *m = json_object_get(json_object_get(oracle(), "models"), model_id);
  json_t *ex =
      json_object_get(json_object_get(json_object_get(m, "bridge"), "definition"), "exposes");
  return ex ? oracle_expose_in(ex, prop) : NULL;
}

#endif
