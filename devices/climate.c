/* The climate sensor behaviour: temperature, humidity and (optionally) pressure as random walks
 * on a daily cycle, measured every sample_s, reported on change beyond a threshold, plus the
 * Xiaomi heartbeat with a random phase.
 *
 * Wire format (docs/devices.md):
 *   0x0402/0x0000 int16, 0.01 degC;  0x0405/0x0000 uint16, 0.01 %RH;
 *   0x0403: {0x0000 int16 hPa, 0x0014 int8 scale = -1, 0x0010 int16 scaledValue in 0.1 hPa},
 *   one frame per cluster, header 18 tsn 0A. */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "devices/common.h"
#include "sim/wire/zcl.h"

struct climate_state {
  uint32_t next_hb_s;
  uint32_t next_sample_s;
  uint32_t batt_uv;
  float wt, wh, wp; /* walk deviations */
  int16_t rep_t;    /* last reported values, wire units */
  uint16_t rep_h;
  int16_t rep_p; /* 0.1 hPa */
  uint16_t power_on;
  int8_t off_t, off_h; /* per-device level offsets, units of 0.05 */
  uint8_t init;
};
static_assert(sizeof(struct climate_state) <= SIM_DEV_STATE_BYTES, "climate state too big");

static struct climate_state *st_of(struct sim_device *d) {
  return (struct climate_state *)(void *)d->state.b;
}

struct climate_now {
  int16_t t;  /* 0.01 degC */
  uint16_t h; /* 0.01 % */
  int16_t p;  /* 0.1 hPa */
};

static struct climate_now measure(const struct dev_climate_params *p, const struct climate_state *s,
                                  uint64_t wall_ms) {
  struct climate_now n;
  double t = dev_walk_value(&p->temp, s->wt, wall_ms) + s->off_t * 0.05;
  double h = dev_walk_value(&p->hum, s->wh, wall_ms) + s->off_h * 0.05;
  h = h < 0 ? 0 : h > 100 ? 100 : h;
  double pr = p->has_pressure ? dev_walk_value(&p->press, s->wp, wall_ms) : 0;
  n.t = (int16_t)lround(t * 100);
  n.h = (uint16_t)lround(h * 100);
  n.p = (int16_t)lround(pr * 10);
  return n;
}

static void emit(const struct dev_climate_params *p, struct sim_device *d, struct sim_dev_env *env,
                 uint16_t cluster, const struct dev_zcl_w *w) {
  dev__emit(d, env, p->c.endpoint, cluster, w);
  dev_battery_tx(&p->c.battery, &st_of(d)->batt_uv);
}

static void report_temp(const struct dev_climate_params *p, struct sim_device *d,
                        struct sim_dev_env *env, int16_t t) {
  uint8_t buf[DEV_ZCL_FRAME_MAX];
  struct dev_zcl_w w;
  dev__frame_begin(&w, buf, sizeof buf, d, 0, SIM_ZCL_CMD_REPORT_ATTR);
  dev_zcl_attr_int(&w, 0x0000, 0x29, t);
  emit(p, d, env, 0x0402, &w);
  st_of(d)->rep_t = t;
}

static void report_hum(const struct dev_climate_params *p, struct sim_device *d,
                       struct sim_dev_env *env, uint16_t h) {
  uint8_t buf[DEV_ZCL_FRAME_MAX];
  struct dev_zcl_w w;
  dev__frame_begin(&w, buf, sizeof buf, d, 0, SIM_ZCL_CMD_REPORT_ATTR);
  dev_zcl_attr_uint(&w, 0x0000, 0x21, h);
  emit(p, d, env, 0x0405, &w);
  st_of(d)->rep_h = h;
}

/* Pressure: measuredValue in hPa for hosts that read the basic attribute, and scaledValue with
 * its scale in the same frame, because zigbee-herdsman-converters computes
 * scaledValue / 10^scale / 100 from the scale it has stored for the endpoint. */
static void put_pressure(struct dev_zcl_w *w, int16_t p10) {
  dev_zcl_attr_int(w, 0x0000, 0x29, (p10 >= 0 ? p10 + 5 : p10 - 5) / 10);
  dev_zcl_attr_int(w, 0x0014, 0x28, -1);
  dev_zcl_attr_int(w, 0x0010, 0x29, p10);
}

static void report_press(const struct dev_climate_params *p, struct sim_device *d,
                         struct sim_dev_env *env, int16_t p10) {
  uint8_t buf[DEV_ZCL_FRAME_MAX];
  struct dev_zcl_w w;
  dev__frame_begin(&w, buf, sizeof buf, d, 0, SIM_ZCL_CMD_REPORT_ATTR);
  put_pressure(&w, p10);
  emit(p, d, env, 0x0403, &w);
  st_of(d)->rep_p = p10;
}

static void hb_values(const struct climate_state *s, struct climate_now n, double *v) {
  memset(v, 0, sizeof(double) * DEV_HB_SRC_COUNT);
  v[DEV_HB_BATTERY_MV] = s->batt_uv / 1000;
  v[DEV_HB_DEVICE_TEMP] = lround(n.t / 100.0);
  v[DEV_HB_POWER_ON] = s->power_on;
  v[DEV_HB_TEMP_C100] = n.t;
  v[DEV_HB_HUMIDITY_100] = n.h;
  v[DEV_HB_PRESSURE_PA] = n.p * 10.0;
}

static void heartbeat(const struct dev_climate_params *p, struct sim_device *d,
                      struct sim_dev_env *env, const struct sim_model *m, int with_model_id) {
  struct climate_state *s = st_of(d);
  double v[DEV_HB_SRC_COUNT];
  hb_values(s, measure(p, s, env->wall_ms), v);
  uint8_t buf[DEV_ZCL_FRAME_MAX];
  struct dev_zcl_w w;
  dev__frame_begin(&w, buf, sizeof buf, d, DEV_LUMI_MFR_CODE, SIM_ZCL_CMD_REPORT_ATTR);
  if (with_model_id)
    dev_zcl_attr_cstr(&w, 0x0005, m->model_id);
  dev_xiaomi_put_hb(&w, &p->c.hb, v);
  emit(p, d, env, p->c.hb.cluster, &w);
}

static void set_next(struct climate_state *s, struct sim_dev_env *env) {
  uint32_t n = s->next_hb_s < s->next_sample_s ? s->next_hb_s : s->next_sample_s;
  env->next = dev__us(n);
}

static void climate_join(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                         int rejoin) {
  const struct dev_climate_params *p = m->params;
  struct climate_state *s = st_of(d);
  uint32_t now_s = dev__sec(env->now);
  if (rejoin && s->init) {
    /* A rejoin after a hub restart: the device kept its state and its timers; only make sure
     * none lies in the past. */
    if (s->next_sample_s <= now_s)
      s->next_sample_s = now_s + 1;
    if (s->next_hb_s <= now_s)
      s->next_hb_s = now_s + 1;
    set_next(s, env);
    return;
  }
  memset(s, 0, sizeof *s);
  s->init = 1;
  s->power_on = 1;
  s->batt_uv = dev_battery_fresh(&p->c.battery, env->rng);
  s->wt = dev_walk_init(&p->temp, env->rng);
  s->wh = dev_walk_init(&p->hum, env->rng);
  s->wp = p->has_pressure ? dev_walk_init(&p->press, env->rng) : 0;
  s->off_t = (int8_t)lround(dev_rng_range(env->rng, -1, 1) * p->device_offset_temp / 0.05);
  s->off_h = (int8_t)lround(dev_rng_range(env->rng, -1, 1) * p->device_offset_hum / 0.05);
  struct climate_now n = measure(p, s, env->wall_ms);
  if (p->c.legacy_join)
    heartbeat(p, d, env, m, 1);
  report_temp(p, d, env, n.t);
  report_hum(p, d, env, n.h);
  if (p->has_pressure)
    report_press(p, d, env, n.p);
  s->next_sample_s = now_s + (uint32_t)p->sample_s;
  s->next_hb_s = dev__next_hb(&p->c, env, 1);
  set_next(s, env);
}

static void climate_tick(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env) {
  const struct dev_climate_params *p = m->params;
  struct climate_state *s = st_of(d);
  uint32_t due_s = dev__sec(env->due);
  if (due_s >= s->next_sample_s) {
    dev_walk_step(&p->temp, &s->wt, p->sample_s, env->wall_ms, env->rng);
    dev_walk_step(&p->hum, &s->wh, p->sample_s, env->wall_ms, env->rng);
    if (p->has_pressure)
      dev_walk_step(&p->press, &s->wp, p->sample_s, env->wall_ms, env->rng);
    struct climate_now n = measure(p, s, env->wall_ms);
    if (abs(n.t - s->rep_t) >= lround(p->temp_step * 100))
      report_temp(p, d, env, n.t);
    if (abs((int)n.h - (int)s->rep_h) >= lround(p->hum_step * 100))
      report_hum(p, d, env, n.h);
    if (p->has_pressure && abs(n.p - s->rep_p) >= lround(p->press_step * 10))
      report_press(p, d, env, n.p);
    s->next_sample_s += (uint32_t)p->sample_s;
    if (s->next_sample_s <= due_s) /* woken late: skip, do not catch up */
      s->next_sample_s = due_s + (uint32_t)p->sample_s;
  }
  if (due_s >= s->next_hb_s) {
    heartbeat(p, d, env, m, 0);
    s->next_hb_s = dev__next_hb(&p->c, env, 0);
  }
  set_next(s, env);
}

static int climate_read(const struct sim_model *m, const struct sim_device *d,
                        struct sim_dev_env *env, uint16_t cluster, uint16_t attr,
                        struct dev_zcl_w *w) {
  const struct dev_climate_params *p = m->params;
  const struct climate_state *s = (const struct climate_state *)(const void *)d->state.b;
  (void)env;
  switch ((uint32_t)cluster << 16 | attr) {
  case 0x00010020: /* genPowerCfg batteryVoltage, 100 mV */
    dev_zcl_put_le(w, 0x20, 1);
    dev_zcl_put_le(w, (s->batt_uv + 50000) / 100000, 1);
    return 0;
  case 0x04020000:
    dev_zcl_put_le(w, 0x29, 1);
    dev_zcl_put_int(w, 0x29, s->rep_t);
    return 0;
  case 0x04050000:
    dev_zcl_put_le(w, 0x21, 1);
    dev_zcl_put_uint(w, 0x21, s->rep_h);
    return 0;
  }
  if (cluster == 0x0403 && p->has_pressure) {
    uint8_t tmp[16];
    struct dev_zcl_w t;
    dev_zcl_w_init(&t, tmp, sizeof tmp);
    put_pressure(&t, s->rep_p);
    /* put_pressure wrote three records: 0x0000 (5 bytes), 0x0014 (4), 0x0010 (5). */
    if (attr == 0x0000)
      dev_zcl_put_bytes(w, tmp + 2, 3);
    else if (attr == 0x0014)
      dev_zcl_put_bytes(w, tmp + 7, 2);
    else if (attr == 0x0010)
      dev_zcl_put_bytes(w, tmp + 11, 3);
    else
      return DEV_ZCL_UNSUP_ATTRIBUTE;
    return 0;
  }
  if (cluster == 0x0000)
    return dev__read_basic(m, attr, w);
  return DEV_ZCL_UNSUP_ATTRIBUTE;
}

static int climate_command(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                           const struct sim_dev_cmd *cmd, uint32_t *latency_us) {
  const struct dev_climate_params *p = m->params;
  *latency_us = dev__latency(&p->c, env);
  if (cmd->global)
    return dev__global_command(m, d, env, cmd, climate_read);
  return DEV_ZCL_UNSUP_CLUSTER_CMD;
}

const struct sim_model_ops dev_climate_ops = {
    .join = climate_join,
    .tick = climate_tick,
    .command = climate_command,
    .trigger = NULL,
};
