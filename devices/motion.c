/* The motion sensor behaviour: activity comes in Poisson bursts (more often by day); while a
 * burst lasts the sensor reports occupancy, goes blind for blind_s, and reports again when it
 * wakes and the motion is still there. It only ever reports occupied (1): hosts clear occupancy
 * with their own timer. Illuminance follows daylight and is sent with every motion report.
 *
 * Wire format: 0x0406/0x0000 bitmap8 = 1 and 0x0400/0x0000 uint16 lux (used as lux directly by
 * zigbee-herdsman-converters), one frame each, header 18 tsn 0A; heartbeat 0x0000/0xFF01. */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "devices/common.h"
#include "sim/core/err.h"
#include "sim/wire/zcl.h"

struct motion_state {
  sim_time_t next_motion_us; /* next time the sensor sees motion (burst start or re-trigger) */
  sim_time_t burst_end_us;
  sim_time_t blind_until_us;
  uint32_t next_hb_s;
  uint32_t batt_uv;
  uint16_t power_on;
  uint16_t triggers; /* motion reports since the first join */
  uint16_t room_pct; /* how much daylight reaches this sensor, percent */
  uint8_t init;
};
static_assert(sizeof(struct motion_state) <= SIM_DEV_STATE_BYTES, "motion state too big");

static struct motion_state *st_of(struct sim_device *d) {
  return (struct motion_state *)(void *)d->state.b;
}

static uint16_t lux_now(const struct dev_motion_params *p, const struct motion_state *s,
                        struct sim_dev_env *env) {
  double day = dev_daylight(env->wall_ms, p->sunrise_h, p->sunset_h);
  double lux = p->lux_day_max * day * s->room_pct / 100.0 * dev_rng_range(env->rng, 0.9, 1.1) +
               dev_rng_range(env->rng, 0, p->lux_night);
  return (uint16_t)lround(lux);
}

static void emit(const struct dev_motion_params *p, struct sim_device *d, struct sim_dev_env *env,
                 uint16_t cluster, const struct dev_zcl_w *w) {
  dev__emit(d, env, p->c.endpoint, cluster, w);
  dev_battery_tx(&p->c.battery, &st_of(d)->batt_uv);
}

static void heartbeat(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                      int with_model_id) {
  const struct dev_motion_params *p = m->params;
  struct motion_state *s = st_of(d);
  double v[DEV_HB_SRC_COUNT];
  memset(v, 0, sizeof v);
  v[DEV_HB_BATTERY_MV] = s->batt_uv / 1000;
  /* The chip sits in a room: a degree or two around 22 degC over the day. */
  v[DEV_HB_DEVICE_TEMP] = lround(22 + 1.5 * dev_daily_cycle(env->wall_ms, 16));
  v[DEV_HB_POWER_ON] = s->power_on;
  v[DEV_HB_TRIGGERS] = 1 + s->triggers;
  v[DEV_HB_PARENT] = 0; /* the hub (coordinator) is the parent */
  v[DEV_HB_OCCUPANCY] = env->now < s->blind_until_us;
  v[DEV_HB_ILLUMINANCE] = lux_now(p, s, env);
  uint8_t buf[DEV_ZCL_FRAME_MAX];
  struct dev_zcl_w w;
  dev__frame_begin(&w, buf, sizeof buf, d, DEV_LUMI_MFR_CODE, SIM_ZCL_CMD_REPORT_ATTR);
  if (with_model_id)
    dev_zcl_attr_cstr(&w, 0x0005, m->model_id);
  dev_xiaomi_put_hb(&w, &p->c.hb, v);
  emit(p, d, env, p->c.hb.cluster, &w);
}

/* One detection: occupancy, then illuminance, then blind. */
static void detect(const struct dev_motion_params *p, struct sim_device *d,
                   struct sim_dev_env *env) {
  struct motion_state *s = st_of(d);
  uint8_t buf[DEV_ZCL_FRAME_MAX];
  struct dev_zcl_w w;
  dev__frame_begin(&w, buf, sizeof buf, d, 0, SIM_ZCL_CMD_REPORT_ATTR);
  dev_zcl_attr_uint(&w, 0x0000, 0x18, 1);
  emit(p, d, env, 0x0406, &w);
  dev__frame_begin(&w, buf, sizeof buf, d, 0, SIM_ZCL_CMD_REPORT_ATTR);
  dev_zcl_attr_uint(&w, 0x0000, 0x21, lux_now(p, s, env));
  emit(p, d, env, 0x0400, &w);
  s->triggers++;
  s->blind_until_us = env->now + (sim_time_t)(p->blind_s * 1e6);
}

/* Plans the next detection after one at blind_until: the same burst if it is still going on
 * when the sensor wakes, else the first detection of the next burst. */
static void plan_next(const struct dev_motion_params *p, struct motion_state *s,
                      struct sim_dev_env *env) {
  sim_time_t wake =
      s->blind_until_us + (sim_time_t)(dev_rng_range(env->rng, 0, p->retrigger_jitter_s) * 1e6);
  if (wake < s->burst_end_us) {
    s->next_motion_us = wake;
    return;
  }
  sim_time_t from = s->burst_end_us > env->now ? s->burst_end_us : env->now;
  uint64_t wall = env->wall_ms + (from - env->now) / 1000;
  s->next_motion_us = from + dev_burst_gap(&p->bursts, wall, env->rng);
  if (s->next_motion_us < s->blind_until_us)
    s->next_motion_us = s->blind_until_us;
  s->burst_end_us = s->next_motion_us + dev_burst_length(&p->bursts, env->rng);
}

static void set_next(struct motion_state *s, struct sim_dev_env *env) {
  sim_time_t hb = dev__us(s->next_hb_s);
  env->next = hb < s->next_motion_us ? hb : s->next_motion_us;
}

static void motion_join(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                        int rejoin) {
  const struct dev_motion_params *p = m->params;
  struct motion_state *s = st_of(d);
  if (rejoin && s->init) {
    if (s->next_motion_us <= env->now)
      s->next_motion_us = env->now + 1;
    if (dev__us(s->next_hb_s) <= env->now)
      s->next_hb_s = dev__sec(env->now) + 1;
    set_next(s, env);
    return;
  }
  memset(s, 0, sizeof *s);
  s->init = 1;
  s->power_on = 1;
  s->batt_uv = dev_battery_fresh(&p->c.battery, env->rng);
  s->room_pct = (uint16_t)(5 + sim_rng_below(env->rng, 96));
  /* Legacy devices report modelId and the heartbeat in one frame right after joining. */
  heartbeat(m, d, env, 1);
  s->burst_end_us = env->now;
  s->blind_until_us = env->now;
  plan_next(p, s, env);
  s->next_hb_s = dev__next_hb(&p->c, env, 1);
  set_next(s, env);
}

static void motion_tick(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env) {
  const struct dev_motion_params *p = m->params;
  struct motion_state *s = st_of(d);
  if (env->due >= s->next_motion_us) {
    detect(p, d, env);
    plan_next(p, s, env);
  }
  if (dev__sec(env->due) >= s->next_hb_s) {
    heartbeat(m, d, env, 0);
    s->next_hb_s = dev__next_hb(&p->c, env, 0);
  }
  set_next(s, env);
}

/* "motion": someone walks by now. A sensor still blind from its last report does not see it
 * (the event happened; the device stays silent, as the real one does). */
static int motion_trigger(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                          const char *event) {
  const struct dev_motion_params *p = m->params;
  struct motion_state *s = st_of(d);
  if (strcmp(event, "motion") != 0)
    return SIM_ENOTFOUND;
  if (env->now >= s->blind_until_us) {
    detect(p, d, env);
    if (s->next_motion_us < s->blind_until_us)
      s->next_motion_us = s->blind_until_us;
    set_next(s, env);
  }
  return 0;
}

const struct sim_model_ops dev_motion_ops = {
    .join = motion_join,
    .tick = motion_tick,
    .command = NULL, /* legacy sleepy sensors ignore commands (deCONZ issue #42) */
    .trigger = motion_trigger,
};
