/* The metering plug behaviour: a relay (genOnOff) switched by platform commands and now and then
 * by hand, an appliance behind it drawing a noisy, per-device load, an energy meter integrating
 * that power, and reporting within min/max intervals on change, plus the 0xFCC0 heartbeat.
 *
 * Wire format (docs/devices.md): 0x0006/0x0000 bool; 0x0B04/0x050B int16 W (acPowerMultiplier
 * = acPowerDivisor = 1); 0x0702/0x0000 uint48 Wh (multiplier 1, divisor 1000: kWh);
 * header 18 tsn 0A. */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "devices/common.h"
#include "sim/wire/zcl.h"

#define PLUG_ON 0x01
#define PLUG_PENDING 0x02    /* a switch command is in flight (radio + relay latency) */
#define PLUG_PENDING_ON 0x04 /* its target state */
#define PLUG_INIT 0x08
#define PLUG_ENERGY_DIRTY 0x10 /* energy moved by energy_step_wh since the last report */

struct plug_state {
  sim_time_t next_sample_us;
  uint64_t energy_mj;
  uint32_t next_hb_s;
  uint32_t last_integ_ms; /* engine time in ms, modulo 2^32: differences stay exact */
  uint32_t last_power_rep_s;
  uint32_t last_energy_rep_s;
  uint16_t load_w;
  int16_t rep_power_w;
  uint16_t power_on;
  uint8_t flags;
  int8_t load_walk; /* deviation of the load from nominal, percent */
};
static_assert(sizeof(struct plug_state) <= SIM_DEV_STATE_BYTES, "plug state too big");

static struct plug_state *st_of(struct sim_device *d) {
  return (struct plug_state *)(void *)d->state.b;
}
static const struct plug_state *cst_of(const struct sim_device *d) {
  return (const struct plug_state *)(const void *)d->state.b;
}

static double power_w(const struct plug_state *s) {
  if (!(s->flags & PLUG_ON))
    return 0;
  return s->load_w * (1 + s->load_walk / 100.0);
}

/* Brings the energy meter up to now with the power drawn since the last integration. */
static void integrate(const struct dev_plug_params *p, struct plug_state *s,
                      struct sim_dev_env *env) {
  uint32_t now_ms = (uint32_t)(env->now / 1000);
  uint32_t dt = now_ms - s->last_integ_ms;
  uint64_t before = dev_energy_wh(s->energy_mj) / p->energy_step_wh;
  dev_energy_add(&s->energy_mj, power_w(s), dt);
  s->last_integ_ms = now_ms;
  if (dev_energy_wh(s->energy_mj) / p->energy_step_wh != before)
    s->flags |= PLUG_ENERGY_DIRTY;
}

static void emit(const struct dev_plug_params *p, struct sim_device *d, struct sim_dev_env *env,
                 uint16_t cluster, const struct dev_zcl_w *w) {
  dev__emit(d, env, p->c.endpoint, cluster, w);
}

static void report_onoff(const struct dev_plug_params *p, struct sim_device *d,
                         struct sim_dev_env *env) {
  uint8_t buf[DEV_ZCL_FRAME_MAX];
  struct dev_zcl_w w;
  dev__frame_begin(&w, buf, sizeof buf, d, 0, SIM_ZCL_CMD_REPORT_ATTR);
  dev_zcl_attr_uint(&w, 0x0000, 0x10, st_of(d)->flags & PLUG_ON ? 1 : 0);
  emit(p, d, env, 0x0006, &w);
}

static void report_power(const struct dev_plug_params *p, struct sim_device *d,
                         struct sim_dev_env *env) {
  struct plug_state *s = st_of(d);
  int16_t pw = (int16_t)lround(power_w(s));
  uint8_t buf[DEV_ZCL_FRAME_MAX];
  struct dev_zcl_w w;
  dev__frame_begin(&w, buf, sizeof buf, d, 0, SIM_ZCL_CMD_REPORT_ATTR);
  dev_zcl_attr_int(&w, 0x050B, 0x29, pw);
  emit(p, d, env, 0x0B04, &w);
  s->rep_power_w = pw;
  s->last_power_rep_s = dev__sec(env->now);
}

static void report_energy(const struct dev_plug_params *p, struct sim_device *d,
                          struct sim_dev_env *env) {
  struct plug_state *s = st_of(d);
  uint8_t buf[DEV_ZCL_FRAME_MAX];
  struct dev_zcl_w w;
  dev__frame_begin(&w, buf, sizeof buf, d, 0, SIM_ZCL_CMD_REPORT_ATTR);
  dev_zcl_attr_uint(&w, 0x0000, 0x25, dev_energy_wh(s->energy_mj));
  emit(p, d, env, 0x0702, &w);
  s->flags &= (uint8_t)~PLUG_ENERGY_DIRTY;
  s->last_energy_rep_s = dev__sec(env->now);
}

static double device_temp(const struct dev_plug_params *p, const struct plug_state *s) {
  return p->device_temp_c + power_w(s) / 200.0; /* the relay and shunt warm up under load */
}

static void heartbeat(const struct dev_plug_params *p, struct sim_device *d,
                      struct sim_dev_env *env) {
  struct plug_state *s = st_of(d);
  double v[DEV_HB_SRC_COUNT];
  memset(v, 0, sizeof v);
  double volts = p->mains_v * dev_rng_range(env->rng, 0.98, 1.02);
  double watts = power_w(s);
  v[DEV_HB_DEVICE_TEMP] = lround(device_temp(p, s));
  v[DEV_HB_POWER_ON] = s->power_on;
  v[DEV_HB_ONOFF] = s->flags & PLUG_ON ? 1 : 0;
  v[DEV_HB_ENERGY_KWH] = (double)s->energy_mj / 3.6e9;
  v[DEV_HB_VOLTAGE_DV] = round(volts * 10);
  v[DEV_HB_CURRENT_MA] = round(watts / volts * 1000);
  v[DEV_HB_POWER_W] = round(watts * 100) / 100;
  uint8_t buf[DEV_ZCL_FRAME_MAX];
  struct dev_zcl_w w;
  dev__frame_begin(&w, buf, sizeof buf, d, DEV_LUMI_MFR_CODE, SIM_ZCL_CMD_REPORT_ATTR);
  dev_xiaomi_put_hb(&w, &p->c.hb, v);
  emit(p, d, env, p->c.hb.cluster, &w);
}

static void set_next(struct plug_state *s, struct sim_dev_env *env) {
  sim_time_t hb = dev__us(s->next_hb_s);
  env->next = hb < s->next_sample_us ? hb : s->next_sample_us;
}

static void plug_join(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                      int rejoin) {
  const struct dev_plug_params *p = m->params;
  struct plug_state *s = st_of(d);
  if (rejoin && (s->flags & PLUG_INIT)) {
    integrate(p, s, env);
    if (s->next_sample_us <= env->now)
      s->next_sample_us = env->now + 1;
    if (dev__us(s->next_hb_s) <= env->now)
      s->next_hb_s = dev__sec(env->now) + 1;
    report_onoff(p, d, env);
    set_next(s, env);
    return;
  }
  memset(s, 0, sizeof *s);
  s->flags = PLUG_INIT;
  if (sim_rng_unit(env->rng) < 0.7)
    s->flags |= PLUG_ON;
  /* Appliances span three orders of magnitude: draw the load log-uniformly. */
  s->load_w =
      (uint16_t)lround(exp(dev_rng_range(env->rng, log(p->load_min_w), log(p->load_max_w))));
  s->power_on = 1;
  s->last_integ_ms = (uint32_t)(env->now / 1000);
  report_onoff(p, d, env);
  report_power(p, d, env);
  report_energy(p, d, env);
  s->next_sample_us = env->now + (sim_time_t)(p->sample_s * 1e6);
  s->next_hb_s = dev__next_hb(&p->c, env, 1);
  set_next(s, env);
}

static void sample(const struct dev_plug_params *p, struct sim_device *d, struct sim_dev_env *env) {
  struct plug_state *s = st_of(d);
  uint32_t now_s = dev__sec(env->now);
  integrate(p, s, env);
  /* The load wanders: mean-reverting steps of a few percent. */
  double walk = s->load_walk * 0.8 + dev_rng_normal(env->rng) * p->load_noise_pct * 0.6;
  s->load_walk = (int8_t)lround(walk < -50 ? -50 : walk > 50 ? 50 : walk);
  if (p->toggle_mean_s > 0 && sim_rng_unit(env->rng) < p->sample_s / p->toggle_mean_s) {
    s->flags ^= PLUG_ON;
    report_onoff(p, d, env);
  }
  int pw = (int)lround(power_w(s));
  int delta = abs(pw - s->rep_power_w);
  double step = fmax(p->power_step_w, fabs((double)s->rep_power_w) * p->power_step_pct / 100);
  uint32_t since_p = now_s - s->last_power_rep_s;
  if ((delta >= step && since_p >= p->report_min_s) || since_p >= p->report_max_s)
    report_power(p, d, env);
  uint32_t since_e = now_s - s->last_energy_rep_s;
  if (((s->flags & PLUG_ENERGY_DIRTY) && since_e >= p->report_min_s) || since_e >= p->report_max_s)
    report_energy(p, d, env);
}

static void plug_tick(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env) {
  const struct dev_plug_params *p = m->params;
  struct plug_state *s = st_of(d);
  if (s->flags & PLUG_PENDING) {
    /* The command's latency is over: the relay switches now, and the device says so. */
    integrate(p, s, env);
    int on = (s->flags & PLUG_PENDING_ON) != 0;
    s->flags &= (uint8_t) ~(PLUG_PENDING | PLUG_PENDING_ON | PLUG_ON);
    if (on)
      s->flags |= PLUG_ON;
    report_onoff(p, d, env);
  }
  if (env->due >= s->next_sample_us) {
    sample(p, d, env);
    s->next_sample_us = env->due + (sim_time_t)(p->sample_s * 1e6);
  }
  if (dev__sec(env->due) >= s->next_hb_s) {
    heartbeat(p, d, env);
    s->next_hb_s = dev__next_hb(&p->c, env, 0);
  }
  set_next(s, env);
}

static int plug_read(const struct sim_model *m, const struct sim_device *d, struct sim_dev_env *env,
                     uint16_t cluster, uint16_t attr, struct dev_zcl_w *w) {
  const struct dev_plug_params *p = m->params;
  const struct plug_state *s = cst_of(d);
  (void)env;
  uint8_t type;
  double v;
  switch ((uint32_t)cluster << 16 | attr) {
  case 0x00060000:
    type = 0x10, v = s->flags & PLUG_ON ? 1 : 0;
    break;
  case 0x00020000: /* genDeviceTempCfg currentTemperature, degC */
    type = 0x29, v = round(device_temp(p, s));
    break;
  case 0x07020000:
    type = 0x25, v = (double)dev_energy_wh(s->energy_mj);
    break;
  case 0x07020300: /* unitOfMeasure: kWh */
    type = 0x30, v = 0;
    break;
  case 0x07020301: /* multiplier */
    type = 0x22, v = 1;
    break;
  case 0x07020302: /* divisor: the summation counts Wh */
    type = 0x22, v = 1000;
    break;
  case 0x0B04050B:
    type = 0x29, v = round(power_w(s));
    break;
  case 0x0B040604: /* acPowerMultiplier */
  case 0x0B040605: /* acPowerDivisor */
    type = 0x21, v = 1;
    break;
  default:
    if (cluster == 0x0000)
      return dev__read_basic(m, attr, w);
    return DEV_ZCL_UNSUP_ATTRIBUTE;
  }
  dev_zcl_put_le(w, type, 1);
  dev_zcl_put_num(w, type, v);
  return 0;
}

static int plug_command(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                        const struct sim_dev_cmd *cmd, uint32_t *latency_us) {
  const struct dev_plug_params *p = m->params;
  struct plug_state *s = st_of(d);
  *latency_us = dev__latency(&p->c, env);
  if (cmd->global)
    return dev__global_command(m, d, env, cmd, plug_read);
  if (cmd->cluster != 0x0006 || cmd->command > 0x02)
    return DEV_ZCL_UNSUP_CLUSTER_CMD;
  /* Toggle acts on the state the relay will have once earlier commands land. */
  int cur =
      (s->flags & PLUG_PENDING) ? (s->flags & PLUG_PENDING_ON) != 0 : (s->flags & PLUG_ON) != 0;
  int target = cmd->command == 0x02 ? !cur : cmd->command == 0x01;
  s->flags =
      (uint8_t)((s->flags & ~PLUG_PENDING_ON) | PLUG_PENDING | (target ? PLUG_PENDING_ON : 0));
  sim_time_t at = env->now + *latency_us;
  if (at < s->next_sample_us)
    s->next_sample_us = at; /* sampling early is harmless; the period restarts from there */
  set_next(s, env);
  return DEV_ZCL_SUCCESS;
}

const struct sim_model_ops dev_plug_ops = {
    .join = plug_join,
    .tick = plug_tick,
    .command = plug_command,
    .trigger = NULL,
};
