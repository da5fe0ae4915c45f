/* The generic device behaviour: interprets a model's compiled catalogue tables
 * (devices/cat_types.h, docs/catalog.md). Nothing about a particular product is here. This file is
 * the device's state over time; devices/generic_zcl.c answers platform commands and encodes values
 * (devices/generic_internal.h is what the two share).
 *
 * State: every stateful piece lives in sim_device.state at the offsets the loader assigned.
 * Times in state take 32 bits each and are read relative to the device's clock (section "device
 * time" below), so runs of any length work without growing the state. Per-device constants
 * (walk offsets, loads, sampling phases, the base link quality...) come from a hash of the IEEE
 * address and a salt, so they cost no state.
 *
 * Time: everything a tick decides uses env->due (the intended time), not env->now, so a late
 * wakeup behaves exactly like a punctual one and the same seed gives the same frames.
 *
 * Order within a wakeup (deterministic): energy integration, channels in table order, meters
 * whose switch changed, then attributes in table order (event reports, change reports), then
 * the heartbeat. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "devices/behaviour.h"
#include "devices/cat_types.h"
#include "devices/common.h"
#include "devices/generic_internal.h"
#include "devices/xiaomi.h"
#include "devices/zcl_enc.h"
#include "sim/core/err.h"
#include "sim/core/log.h"
#include "sim/wire/zcl.h"

/* Salts of the per-device constants. */
enum {
  SALT_WALK_OFF = 1,
  SALT_PHASE,
  SALT_ROOM,
  SALT_LOAD,
  SALT_CONST,
  SALT_NOISE,
  SALT_LQI = 0x10001,
  SALT_DEVTEMP,
};

/* ---- state access ------------------------------------------------------------------------ */

static float get_f(const struct sim_device *d, uint16_t off) {
  float v = 0;
  if (off != DEV_CAT_NO_OFF)
    memcpy(&v, d->state.b + off, sizeof v);
  return v;
}
static void set_f(struct sim_device *d, uint16_t off, double v) {
  /* Out of a float's range the conversion is undefined in C; a derived value (a product of
   * channels) may get there. */
  float f = (float)(v > FLT_MAX ? FLT_MAX : v < -FLT_MAX ? -FLT_MAX : v);
  if (off != DEV_CAT_NO_OFF)
    memcpy(d->state.b + off, &f, sizeof f);
}
static uint32_t get_u32(const struct sim_device *d, uint16_t off) {
  uint32_t v = DEV_T_NONE;
  if (off != DEV_CAT_NO_OFF)
    memcpy(&v, d->state.b + off, sizeof v);
  return v;
}
static void set_u32(struct sim_device *d, uint16_t off, uint32_t v) {
  if (off != DEV_CAT_NO_OFF)
    memcpy(d->state.b + off, &v, sizeof v);
}
static uint16_t get_u16(const struct sim_device *d, uint16_t off) {
  uint16_t v = 0;
  if (off != DEV_CAT_NO_OFF)
    memcpy(&v, d->state.b + off, sizeof v);
  return v;
}
static void set_u16(struct sim_device *d, uint16_t off, uint16_t v) {
  if (off != DEV_CAT_NO_OFF)
    memcpy(d->state.b + off, &v, sizeof v);
}
static double get_d(const struct sim_device *d, uint16_t off) {
  double v = 0;
  if (off != DEV_CAT_NO_OFF)
    memcpy(&v, d->state.b + off, sizeof v);
  return v;
}
static void set_d(struct sim_device *d, uint16_t off, double v) {
  if (off != DEV_CAT_NO_OFF)
    memcpy(d->state.b + off, &v, sizeof v);
}

/* ---- device time ------------------------------------------------------------------------- */

/* The device's clock is env->due in whole milliseconds, 64 bits (dev_ms_t). The state keeps
 * times in 32 bits, which as plain milliseconds would wrap after 49.7 days: `--speedup 1e6`
 * gets there in four seconds. They are therefore read relative to the current time, and each
 * kind is stored so that 32 bits always suffice:
 *
 * - A deadline (next detection, transition, arrival, toggle, heartbeat) is never far in the
 *   past when it is read: the device wakes at its earliest deadline. Up to T_MS_AHEAD (~23
 *   days) ahead it is stored as milliseconds modulo 2^31 and read as the one time congruent to
 *   it in [now - T_LATE_MS, now - T_LATE_MS + 2^31): exact, as before. Further ahead (the rare
 *   events of the catalogue wait months) it is stored as seconds modulo 2^31 with the top bit
 *   set, rounded up (never early), read the same way; that reaches about 68 years, so a wait is
 *   no longer cut short at 46 days, which made a "once in 3 months" event come every 36 days on
 *   average. DEV_T_NONE (all ones) is never a stored deadline.
 * - A stamp of the past (last report, last energy integration) is milliseconds modulo 2^32 and
 *   read as an age below 2^32 ms. Ages are only compared with durations of at most 10 days (the
 *   loader's bound), so refresh_stamps() moves a stamp older than T_AGE_MAX up to T_AGE_MAX,
 *   and a device with stamps wakes at least every T_KEEP_MS (set_next), so no age ever wraps.
 *
 * In the first 2^30 ms (12.4 days) of device time the frames and their times are exactly what
 * plain 32-bit milliseconds gave; later, a wait beyond ~23 days is rounded up to a whole second
 * and a device with stamps wakes (silently) after 12.4 days without any other wakeup. */

#define T_S_FLAG 0x80000000u
#define T_SPAN 0x80000000u   /* 2^31: the range of both deadline forms */
#define T_LATE_MS (1u << 27) /* a deadline read this long after it (~37 h) is still past */
#define T_LATE_S (1u << 17)  /* the same in seconds */
#define T_MS_AHEAD (T_SPAN - T_LATE_MS - 1)
#define T_S_AHEAD (T_SPAN - T_LATE_S - 1)
#define T_AGE_MAX (1u << 30) /* ~12.4 days, above every duration the loader accepts */
#define T_KEEP_MS (1u << 30)

static dev_ms_t ms_of(sim_time_t t) {
  return t / 1000u;
}

/* The 32-bit form of the deadline `at`, read at `now` or later (at >= now). */
uint32_t dev__dl_put(dev_ms_t now, dev_ms_t at) {
  if (at < now)
    at = now;
  if (at - now <= T_MS_AHEAD)
    return (uint32_t)(at % T_SPAN);
  dev_ms_t now_s = now / 1000, s = (at + 999) / 1000;
  if (s - now_s > T_S_AHEAD)
    s = now_s + T_S_AHEAD;
  uint32_t v = T_S_FLAG | (uint32_t)(s % T_SPAN);
  return v == DEV_T_NONE ? T_S_FLAG | (uint32_t)((s + 1) % T_SPAN) : v;
}

/* The deadline v (not DEV_T_NONE) read at now. */
dev_ms_t dev__dl_get(dev_ms_t now, uint32_t v) {
  if (!(v & T_S_FLAG)) {
    dev_ms_t base = now > T_LATE_MS ? now - T_LATE_MS : 0;
    return base + ((v - (uint32_t)(base % T_SPAN)) % T_SPAN);
  }
  dev_ms_t now_s = now / 1000, base = now_s > T_LATE_S ? now_s - T_LATE_S : 0;
  return (base + (((v & ~T_S_FLAG) - (uint32_t)(base % T_SPAN)) % T_SPAN)) * 1000;
}

/* The age in ms of a stamp written with stamp_of(). */
static uint32_t stamp_age(dev_ms_t now, uint32_t v) {
  return (uint32_t)now - v;
}
static uint32_t stamp_of(dev_ms_t t) {
  return (uint32_t)t;
}

/* `from` plus s seconds, at least 1 ms later; waits beyond what a deadline holds are cut there
 * (about 68 years). */
static dev_ms_t after_s(dev_ms_t from, double s) {
  double ms = ceil(s * 1000.0);
  if (!(ms >= 1))
    ms = 1;
  if (ms > (double)T_S_AHEAD * 1000.0)
    ms = (double)T_S_AHEAD * 1000.0;
  return from + (dev_ms_t)ms;
}

/* Unix ms at device ms t: from the env's start of device time when it has one (then a value
 * at t does not depend on when it is computed: devices/generic_lazy.c), else from its (due,
 * wall_ms) pair. */
static uint64_t wall_at(const struct sim_dev_env *env, dev_ms_t t) {
  if (env->wall0_ms)
    return env->wall0_ms + t;
  return env->wall_ms + t - ms_of(env->due);
}

static double hash_unit(uint64_t eui, uint32_t salt) {
  uint64_t x = eui ^ ((uint64_t)salt * 0xD1B54A32D192ED03ull);
  sim_splitmix64(&x);
  return (double)(sim_splitmix64(&x) >> 11) * 0x1p-53;
}
static uint32_t salt_ch(int ch, int what) {
  return (uint32_t)(ch + 1) << 8 | (uint32_t)what;
}

static double clampd(double v, double lo, double hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

static int is_day(double h, double start, double end) {
  return start <= end ? (h >= start && h < end) : (h >= start || h < end);
}

static double log_uniform(struct sim_rng *r, double lo, double hi) {
  if (lo <= 0 || hi <= lo)
    return lo > 0 ? lo : hi;
  return exp(dev_rng_range(r, log(lo), log(hi)));
}

/* ---- channel helpers --------------------------------------------------------------------- */

static const struct dev_cat_model *cat_of(const struct sim_model *m) {
  return m->params;
}

static int find_kind(const struct dev_cat_model *cm, uint8_t kind) {
  for (int i = 0; i < cm->n_ch; i++)
    if (cm->ch[i].kind == kind)
      return i;
  return -1;
}

static double sample_period_s(const struct dev_cat_channel *c) {
  switch (c->kind) {
  case DEV_CH_WALK:
    return c->p.walk.sample_s;
  case DEV_CH_DAYLIGHT:
    return c->p.daylight.sample_s;
  case DEV_CH_METER:
    return c->p.meter.sample_s;
  default:
    return 0;
  }
}

/* Sampled channels sample at phase + k * period (ms grid). The phase is per device, shared by
 * its channels: one sensor chip measures temperature, humidity and pressure together, and the
 * device wakes once for all of them, not once each. */
static uint32_t sample_phase_ms(const struct dev__run *r, uint32_t period_ms) {
  return (uint32_t)(r->phase_u * period_ms);
}
static int sample_due(const struct dev__run *r, uint32_t period_ms, dev_ms_t t) {
  uint32_t ph = sample_phase_ms(r, period_ms);
  return t >= ph && (t - ph) % period_ms == 0;
}
static dev_ms_t next_sample(const struct dev__run *r, uint32_t period_ms, dev_ms_t t) {
  uint32_t ph = sample_phase_ms(r, period_ms);
  if (t < ph)
    return ph;
  return ph + ((t - ph) / period_ms + 1) * period_ms;
}
static uint32_t period_ms_of(const struct dev_cat_channel *c) {
  /* Rounded to the nearest ms, at least 1, at most 2^32 - 1. The cast truncates a positive
   * value: no libm call on a path taken for every stepped sample. */
  double s = sample_period_s(c);
  if (!(s > 0))
    return 0;
  if (s >= 4294967.0)
    return UINT32_MAX;
  uint32_t ms = (uint32_t)(s * 1000.0 + 0.5);
  return ms ? ms : 1;
}

static double meter_load(const struct dev_cat_channel *c, uint64_t eui, int ch) {
  double lo = c->p.meter.load_min_w, hi = c->p.meter.load_max_w;
  double u = hash_unit(eui, salt_ch(ch, SALT_LOAD));
  if (lo > 0 && hi > lo)
    return exp(log(lo) + u * (log(hi) - log(lo)));
  return lo + u * (hi - lo);
}

static double battery_mv(const struct dev_cat_model *cm, const struct sim_device *d) {
  int b = find_kind(cm, DEV_CH_BATTERY_MV);
  if (!cm->has_battery || b < 0)
    return cm->has_battery ? cm->battery.fresh_max_mv : 0;
  return get_u32(d, cm->ch[b].off) / 1000.0;
}
double dev__gen_battery_pct(const struct dev_cat_model *cm, const struct sim_device *d) {
  if (!cm->has_battery)
    return 100;
  double lo = cm->battery.pct_min_mv, hi = cm->battery.pct_max_mv;
  if (hi <= lo)
    return 100;
  return clampd((battery_mv(cm, d) - lo) / (hi - lo) * 100.0, 0, 100);
}

static double value_at(const struct dev_cat_model *cm, const struct sim_device *d,
                       const struct sim_dev_env *env, int ch, int depth);

static double operand(const struct dev_cat_model *cm, const struct sim_device *d,
                      const struct sim_dev_env *env, const struct dev_cat_operand *o, int depth) {
  return o->ch >= 0 ? value_at(cm, d, env, o->ch, depth + 1) : o->k;
}

/* Where a travelling actuator is at t (ms): it left its stored value towards target and
 * arrives at `arrival`, moving at (max - min) / travel_s. */
static double act_now(const struct dev_cat_channel *c, const struct sim_device *d, dev_ms_t t) {
  double v0 = get_f(d, c->off), tgt = get_f(d, c->off_a);
  uint32_t raw = get_u32(d, c->off_b);
  if (raw == DEV_T_NONE || v0 == tgt)
    return v0;
  dev_ms_t arr = dev__dl_get(t, raw);
  if (t >= arr)
    return tgt;
  if (c->p.act.travel_s <= 0)
    return v0;
  double speed = (c->p.act.max - c->p.act.min) / c->p.act.travel_s / 1000.0; /* per ms */
  double left = speed * (double)(arr - t);
  double v = tgt > v0 ? tgt - left : tgt + left;
  return tgt > v0 ? clampd(v, v0, tgt) : clampd(v, tgt, v0);
}

static double device_temp(const struct dev_cat_model *cm, const struct sim_device *d,
                          const struct sim_dev_env *env, int depth) {
  double t =
      cm->device_temp_base + cm->device_temp_spread * (2 * hash_unit(env->eui64, SALT_DEVTEMP) - 1);
  if (cm->device_temp_power >= 0)
    t += cm->device_temp_per_w * value_at(cm, d, env, cm->device_temp_power, depth + 1);
  return t;
}

static double value_at(const struct dev_cat_model *cm, const struct sim_device *d,
                       const struct sim_dev_env *env, int ch, int depth) {
  if (ch < 0 || ch >= cm->n_ch || depth > 8)
    return 0;
  const struct dev_cat_channel *c = &cm->ch[ch];
  dev_ms_t t = ms_of(env->due);
  switch (c->kind) {
  case DEV_CH_WALK:
  case DEV_CH_DAYLIGHT:
  case DEV_CH_BURSTS:
  case DEV_CH_TWO_STATE:
  case DEV_CH_METER:
    return get_f(d, c->off);
  case DEV_CH_ACTUATOR:
    return act_now(c, d, t);
  case DEV_CH_ENERGY: {
    /* Up to now without touching state: the power has been constant since the last
     * integration. */
    uint32_t age = c->off_a != DEV_CAT_NO_OFF ? stamp_age(t, get_u32(d, c->off_a)) : 0;
    double kwh = get_d(d, c->off);
    if (age > 0) {
      double w = value_at(cm, d, env, c->p.energy.of, depth + 1);
      if (w > 0)
        kwh += w * (double)age / 3.6e9;
    }
    return kwh;
  }
  case DEV_CH_DERIVE: {
    double a = operand(cm, d, env, &c->p.derive.a, depth);
    double b = operand(cm, d, env, &c->p.derive.b, depth);
    switch (c->p.derive.op) {
    case DEV_OP_ADD:
      return a + b;
    case DEV_OP_SUB:
      return a - b;
    case DEV_OP_MUL:
      return a * b;
    case DEV_OP_DIV:
      return b != 0 ? a / b : 0;
    default:
      return 0;
    }
  }
  case DEV_CH_CONST:
    return c->p.konst.lo +
           (c->p.konst.hi - c->p.konst.lo) * hash_unit(env->eui64, salt_ch(ch, SALT_CONST));
  case DEV_CH_DIRECTION: {
    const struct dev_cat_channel *a =
        c->p.dir.of >= 0 && c->p.dir.of < cm->n_ch ? &cm->ch[c->p.dir.of] : NULL;
    if (!a || a->kind != DEV_CH_ACTUATOR)
      return c->p.dir.stopped;
    double now = act_now(a, d, t), tgt = get_f(d, a->off_a);
    if (now == tgt)
      return c->p.dir.stopped;
    return tgt > now ? c->p.dir.opening : c->p.dir.closing;
  }
  case DEV_CH_BATTERY_MV:
    return cm->has_battery ? get_u32(d, c->off) / 1000.0 : 0;
  case DEV_CH_BATTERY_PCT:
    return dev__gen_battery_pct(cm, d);
  case DEV_CH_BATTERY_LOW:
    return cm->has_battery && dev__gen_battery_pct(cm, d) < cm->battery.low_pct;
  case DEV_CH_DEVICE_TEMP:
    return device_temp(cm, d, env, depth);
  case DEV_CH_POWER_ON:
    return get_u16(d, c->off);
  case DEV_CH_TRIGGERS:
    return c->off != DEV_CAT_NO_OFF ? get_u32(d, c->off) : 0;
  case DEV_CH_PARENT:
    return 0; /* every device is a direct child of the hub */
  case DEV_CH_LQI:
    return d->lqi;
  case DEV_CH_UPTIME:
    return (double)(env->due / 1000000u);
  default:
    return 0;
  }
}

double dev_generic_value(const struct dev_cat_model *cm, const struct sim_device *d,
                         const struct sim_dev_env *env, int ch) {
  return value_at(cm, d, env, ch, 0);
}

/* ---- frames ------------------------------------------------------------------------------ */

static uint8_t first_ep(const struct sim_model *m) {
  return m->n_endpoints ? m->endpoints[0].id : 1;
}

/* Every frame the device sends: link quality drifts around its base, the battery pays. */
void dev__gen_emit_frame(const struct dev_cat_model *cm, struct sim_device *d,
                         struct sim_dev_env *env, uint8_t ep, uint16_t cluster,
                         const struct dev_zcl_w *w) {
  if (w->err) {
    /* Only a catalogue the loader should have refused gets here; say so once. */
    static int warned;
    if (!warned++)
      SIM_LOGE("devices: %s: frame for cluster 0x%04x does not encode: %s", cm->m.model_id, cluster,
               sim_strerror(w->err));
    return;
  }
  double lo = cm->lqi_min, hi = cm->lqi_max > cm->lqi_min ? cm->lqi_max : cm->lqi_min;
  double base = lo + (hi - lo) * hash_unit(env->eui64, SALT_LQI);
  double l = d->lqi + 0.2 * (base - d->lqi) + cm->lqi_drift * dev_rng_normal(env->rng);
  d->lqi = (uint8_t)clampd(round(l), 0, 255);
  env->emit(env, ep, cluster, w->p, w->len);
  int b = find_kind(cm, DEV_CH_BATTERY_MV);
  if (cm->has_battery && b >= 0) {
    uint32_t uv = get_u32(d, cm->ch[b].off);
    double empty = cm->battery.empty_mv * 1000.0;
    double n = uv - cm->battery.per_frame_uv;
    set_u32(d, cm->ch[b].off, (uint32_t)(n > empty ? n : (uv > empty ? empty : uv)));
  }
}

static void put_record(struct dev_zcl_w *w, const struct dev_cat_model *cm,
                       const struct sim_device *d, const struct sim_dev_env *env,
                       const struct dev_cat_attr *a) {
  dev_zcl_put_le(w, a->attr, 2);
  dev_zcl_put_le(w, a->v.type, 1);
  dev__gen_put_value(w, cm, d, env, &a->v);
}

/* One attribute report, with the records of its same_frame attributes (or the IAS Zone Status
 * Change Notification). */
static void report_attr(const struct dev_cat_model *cm, struct sim_device *d,
                        struct sim_dev_env *env, const struct dev_cat_attr *a) {
  uint8_t buf[DEV_ZCL_FRAME_MAX];
  struct dev_zcl_w w;
  if (a->as_zone_status) {
    /* Cluster specific, server to client, default response disabled: 19 tsn 00. */
    dev_zcl_w_init(&w, buf, sizeof buf);
    dev_zcl_put_cmd_header(&w, 0, d->tsn++, 0x00, 1);
    struct dev_cat_value v = a->v;
    v.type = 0x19; /* bitmap16 */
    dev__gen_put_value(&w, cm, d, env, &v);
    dev_zcl_put_le(&w, 0, 1); /* extended status */
    dev_zcl_put_le(&w, 0, 1); /* zone id */
    dev_zcl_put_le(&w, 0, 2); /* delay */
  } else {
    dev__frame_begin(&w, buf, sizeof buf, d, a->mfr, SIM_ZCL_CMD_REPORT_ATTR);
    put_record(&w, cm, d, env, a);
    for (uint8_t i = 0; i < a->n_same; i++)
      put_record(&w, cm, d, env, &cm->attr[a->same[i]]);
  }
  dev__gen_emit_frame(cm, d, env, a->ep, a->cluster, &w);
  if (a->report == DEV_REP_CHANGE && a->off_last != DEV_CAT_NO_OFF) {
    set_f(d, a->off_last, dev__gen_raw_value(cm, d, env, &a->v));
    set_u32(d, (uint16_t)(a->off_last + 4), stamp_of(ms_of(env->due)));
  }
}

/* The heartbeat record (attr id, type, length, TLVs), values from the channels. */
static void put_heartbeat(struct dev_zcl_w *w, const struct dev_cat_model *cm,
                          const struct sim_device *d, const struct sim_dev_env *env) {
  struct dev_hb_tag tags[256];
  const struct dev_cat_heartbeat *hb = &cm->hb;
  for (uint8_t i = 0; i < hb->n_tags; i++) {
    const struct dev_cat_tag *t = &hb->tags[i];
    tags[i].tag = t->tag;
    tags[i].type = t->v.type;
    tags[i].k = dev__gen_wire_num(cm, d, &t->v, dev__gen_raw_value(cm, d, env, &t->v));
  }
  struct dev_hb_layout l = {hb->cluster, hb->attr, hb->type, tags, hb->n_tags};
  size_t at = w->len + 3; /* attr id (2), type (1), then the length byte */
  dev_xiaomi_put_hb(w, &l);
  if (hb->length_adjust && !dev_zcl_w_err(w) && at < w->len)
    w->p[at] = (uint8_t)(w->p[at] + hb->length_adjust);
}

static void send_heartbeat(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                           int with_model_id) {
  const struct dev_cat_model *cm = cat_of(m);
  uint8_t buf[DEV_ZCL_FRAME_MAX];
  struct dev_zcl_w w;
  dev__frame_begin(&w, buf, sizeof buf, d, DEV_LUMI_MFR_CODE, SIM_ZCL_CMD_REPORT_ATTR);
  if (with_model_id)
    dev_zcl_attr_cstr(&w, 0x0005, m->model_id);
  if (cm->hb.present)
    put_heartbeat(&w, cm, d, env);
  dev__gen_emit_frame(cm, d, env, first_ep(m), with_model_id ? 0x0000 : cm->hb.cluster, &w);
}

/* ---- behaviours -------------------------------------------------------------------------- */

/* Deadlines of this wakeup's device (see "device time"). */
static void dl_set(struct dev__run *r, uint16_t off, dev_ms_t at) {
  set_u32(r->d, off, dev__dl_put(r->t, at));
}
/* The deadline at off, or 0 when none is set. Deadlines are never 0: the earliest is 1 ms. */
static dev_ms_t dl_at(const struct dev__run *r, uint16_t off) {
  uint32_t v = get_u32(r->d, off);
  return v == DEV_T_NONE ? 0 : dev__dl_get(r->t, v);
}
static int dl_due(const struct dev__run *r, uint16_t off) {
  dev_ms_t at = dl_at(r, off);
  return at && at <= r->t;
}

static void fire(struct dev__run *r, int ch, int count) {
  r->fired[ch] = 1;
  r->any_fired = 1;
  if (count) {
    int k = find_kind(r->cm, DEV_CH_TRIGGERS);
    if (k >= 0 && r->cm->ch[k].off != DEV_CAT_NO_OFF)
      set_u32(r->d, r->cm->ch[k].off, get_u32(r->d, r->cm->ch[k].off) + 1);
  }
  if (r->cm->n_chain)
    dev__run_chains(r, ch);
}

static double round_step(double v, double step) {
  return step > 0 ? round(v / step) * step : v;
}

static double walk_level(const struct dev__run *r, const struct dev_cat_channel *c) {
  if (c->p.walk.toward < 0)
    return c->p.walk.base;
  return value_at(r->cm, r->d, r->env, c->p.walk.toward, 1);
}

static void walk_sample(struct dev__run *r, int ch, int init) {
  const struct dev_cat_channel *c = &r->cm->ch[ch];
  double off = c->p.walk.spread * (2 * hash_unit(r->env->eui64, salt_ch(ch, SALT_WALK_OFF)) - 1);
  uint64_t wall = wall_at(r->env, r->t);
  double level = walk_level(r, c);
  if (!init && c->p.walk.toward >= 0 && c->p.walk.toward_rate > 0) {
    /* The level follows its target at toward_rate per hour; the previous level is what the
     * stored value says once the cycle, deviation and offset are taken out. */
    double dt_h = c->p.walk.sample_s / 3600.0;
    uint64_t prev_wall = wall - (uint64_t)(c->p.walk.sample_s * 1000);
    double prev = get_f(r->d, c->off) -
                  c->p.walk.daily_amp * dev_daily_cycle(prev_wall, c->p.walk.peak_hour) -
                  get_f(r->d, c->off_a) - off;
    level = level + (prev - level) * exp(-c->p.walk.toward_rate * dt_h);
  }
  struct dev_walk p = {level + off,      c->p.walk.daily_amp, c->p.walk.peak_hour, c->p.walk.sigma,
                       c->p.walk.revert, c->p.walk.min,       c->p.walk.max};
  float x = get_f(r->d, c->off_a);
  double v;
  if (init) {
    x = dev_walk_init(&p, r->env->rng);
    v = dev_walk_value(&p, x, wall);
  } else {
    double z = dev_noise_normal(r->env->eui64, salt_ch(ch, SALT_NOISE), r->t);
    v = dev_walk_step(&p, &x, c->p.walk.sample_s, wall, z);
  }
  set_f(r->d, c->off_a, x);
  set_f(r->d, c->off, v);
}

static void daylight_sample(struct dev__run *r, int ch) {
  const struct dev_cat_channel *c = &r->cm->ch[ch];
  double room = 1 - c->p.daylight.spread * hash_unit(r->env->eui64, salt_ch(ch, SALT_ROOM));
  double day = dev_daylight(wall_at(r->env, r->t), c->p.daylight.sunrise_h, c->p.daylight.sunset_h);
  double night =
      c->p.daylight.night_lx * dev_noise_unit(r->env->eui64, salt_ch(ch, SALT_NOISE), r->t);
  double lx = c->p.daylight.max_lx * day * room + night;
  set_f(r->d, c->off, lx);
}

static void meter_sample(struct dev__run *r, int ch) {
  const struct dev_cat_channel *c = &r->cm->ch[ch];
  int on = 0;
  for (uint8_t i = 0; i < c->p.meter.n_on; i++)
    if (value_at(r->cm, r->d, r->env, c->p.meter.on[i], 1) != 0)
      on = 1;
  double w = c->p.meter.standby_w;
  if (on) {
    double z = dev_noise_normal(r->env->eui64, salt_ch(ch, SALT_NOISE), r->t);
    double noise = c->p.meter.noise_pct / 100.0 * z;
    w = meter_load(c, r->env->eui64, ch) * (1 + clampd(noise, -0.5, 0.5));
  }
  set_f(r->d, c->off, w > 0 ? w : 0);
}

/* Brings every energy channel up to now with the power drawn since its last integration. */
static void integrate(struct dev__run *r) {
  for (int i = 0; i < r->cm->n_ch; i++) {
    const struct dev_cat_channel *c = &r->cm->ch[i];
    if (c->kind != DEV_CH_ENERGY)
      continue;
    set_d(r->d, c->off, value_at(r->cm, r->d, r->env, i, 0));
    set_u32(r->d, c->off_a, stamp_of(r->t));
  }
}

static double bursts_gap_s(const struct dev_cat_channel *c, uint64_t wall, struct sim_rng *rng) {
  double h = dev_hour_of_day(wall);
  double mean = is_day(h, c->p.bursts.day_start_h, c->p.bursts.day_end_h) ? c->p.bursts.gap_day_s
                                                                          : c->p.bursts.gap_night_s;
  return dev_rng_exp(rng, mean > 0 ? mean : 1);
}

static double bursts_draw(const struct dev_cat_channel *c, struct sim_rng *rng) {
  uint8_t n = c->p.bursts.n_values;
  if (n == 0)
    return 1;
  double total = 0;
  for (uint8_t i = 0; i < n; i++)
    total += c->p.bursts.weights[i] > 0 ? c->p.bursts.weights[i] : 0;
  if (total <= 0)
    return c->p.bursts.values[0];
  double u = sim_rng_unit(rng) * total;
  for (uint8_t i = 0; i < n; i++) {
    double wgt = c->p.bursts.weights[i] > 0 ? c->p.bursts.weights[i] : 0;
    if (u < wgt)
      return c->p.bursts.values[i];
    u -= wgt;
  }
  return c->p.bursts.values[n - 1];
}

/* Plans the first detection of the next burst, starting at `from`. */
static void bursts_plan_burst(struct dev__run *r, const struct dev_cat_channel *c, dev_ms_t from,
                              dev_ms_t not_before) {
  dev_ms_t next = after_s(from, bursts_gap_s(c, wall_at(r->env, from), r->env->rng));
  if (next < not_before)
    next = not_before;
  dev_ms_t end = next;
  if (c->p.bursts.length_s > 0)
    end = after_s(next, dev_rng_exp(r->env->rng, c->p.bursts.length_s));
  dl_set(r, c->off_a, next);
  dl_set(r, c->off_b, end);
}

/* A detection at r->t with value v; plans the next one. */
static void bursts_detect(struct dev__run *r, int ch, double v) {
  const struct dev_cat_channel *c = &r->cm->ch[ch];
  set_f(r->d, c->off, v);
  fire(r, ch, 1);
  dev_ms_t blind_until = after_s(r->t, c->p.bursts.blind_s);
  if (c->p.bursts.reset_s > 0)
    dl_set(r, c->off_c, after_s(r->t, c->p.bursts.reset_s));
  dev_ms_t end = dl_at(r, c->off_b); /* 0: none */
  /* Continuing activity is seen again after the blind time; never more than once a second. */
  double again = c->p.bursts.blind_s + dev_rng_range(r->env->rng, 0, c->p.bursts.retrigger_s);
  dev_ms_t wake = after_s(r->t, again > 1 ? again : 1);
  if (c->p.bursts.length_s > 0 && wake < end) {
    dl_set(r, c->off_a, wake);
    return;
  }
  dev_ms_t from = end > r->t ? end : r->t;
  bursts_plan_burst(r, c, from, blind_until);
}

/* Blind after the last detection? Known only when the channel resets (its reset time tells
 * when the last detection was). */
static int bursts_blind(const struct dev__run *r, const struct dev_cat_channel *c) {
  if (c->p.bursts.reset_s <= 0 || c->p.bursts.blind_s <= 0)
    return 0;
  dev_ms_t reset = dl_at(r, c->off_c);
  if (!reset)
    return 0;
  double last = (double)reset - c->p.bursts.reset_s * 1000.0;
  return (double)r->t < last + c->p.bursts.blind_s * 1000.0;
}

static void two_state_schedule(struct dev__run *r, const struct dev_cat_channel *c, int active) {
  double s;
  if (active) {
    s = log_uniform(r->env->rng, c->p.two.hold_min_s, c->p.two.hold_max_s);
  } else {
    double h = dev_hour_of_day(wall_at(r->env, r->t));
    double mean = is_day(h, c->p.two.day_start_h, c->p.two.day_end_h) ? c->p.two.gap_day_s
                                                                      : c->p.two.gap_night_s;
    s = dev_rng_exp(r->env->rng, mean > 0 ? mean : 1);
  }
  dl_set(r, c->off_a, after_s(r->t, s));
}

static void local_schedule(struct dev__run *r, const struct dev_cat_channel *c) {
  if (c->p.act.local_s > 0)
    dl_set(r, c->off_c, after_s(r->t, dev_rng_exp(r->env->rng, c->p.act.local_s)));
  else
    set_u32(r->d, c->off_c, DEV_T_NONE);
}

/* Sets an actuator's target: it takes effect at r->t + delay_ms (and travels from there). */
static void act_set(struct dev__run *r, int ch, double target, uint32_t delay_ms) {
  const struct dev_cat_channel *c = &r->cm->ch[ch];
  target = clampd(round_step(target, c->p.act.step), c->p.act.min, c->p.act.max);
  double cur = act_now(c, r->d, r->t);
  set_f(r->d, c->off, cur); /* a moving actuator re-plans from where it is */
  set_f(r->d, c->off_a, target);
  dev_ms_t arr = r->t + delay_ms;
  if (c->p.act.travel_s > 0 && c->p.act.max > c->p.act.min) {
    double s = fabs(target - cur) / (c->p.act.max - c->p.act.min) * c->p.act.travel_s;
    if (s > 0)
      arr = after_s(arr, s);
  }
  if (arr <= r->t) {
    /* No latency (a trigger): the change is now. */
    set_f(r->d, c->off, target);
    set_u32(r->d, c->off_b, DEV_T_NONE);
    fire(r, ch, 0);
    return;
  }
  /* Pending until the arrival, even when the value does not change: the device confirms the
   * state after the latency, as real ones do. */
  dl_set(r, c->off_b, arr);
}

static void act_stop(struct dev__run *r, int ch) {
  const struct dev_cat_channel *c = &r->cm->ch[ch];
  double cur = act_now(c, r->d, r->t);
  set_f(r->d, c->off, cur);
  set_f(r->d, c->off_a, cur);
  set_u32(r->d, c->off_b, DEV_T_NONE);
  fire(r, ch, 0);
}

/* Applies an action to channel ch now (triggers) or after delay_ms (commands, actuators). */
void dev__run_apply(struct dev__run *r, uint8_t action, int ch, double k, uint32_t delay_ms) {
  if (ch < 0 || ch >= r->cm->n_ch)
    return;
  const struct dev_cat_channel *c = &r->cm->ch[ch];
  double cur = value_at(r->cm, r->d, r->env, ch, 0);
  if (c->kind == DEV_CH_ACTUATOR) {
    double base = get_f(r->d, c->off_a); /* toggles act on the state once earlier commands land */
    switch (action) {
    case DEV_DO_STOP:
      act_stop(r, ch);
      return;
    case DEV_DO_ON:
      k = 1;
      break;
    case DEV_DO_OFF:
      k = 0;
      break;
    case DEV_DO_TOGGLE:
      k = base == 0;
      break;
    default:
      break;
    }
    act_set(r, ch, k, delay_ms);
    return;
  }
  if (c->kind == DEV_CH_BURSTS && action == DEV_DO_DETECT) {
    if (!bursts_blind(r, c)) {
      bursts_detect(r, ch, isnan(k) ? bursts_draw(c, r->env->rng) : k);
    }
    return;
  }
  switch (action) {
  case DEV_DO_ON:
    k = 1;
    break;
  case DEV_DO_OFF:
    k = 0;
    break;
  case DEV_DO_TOGGLE:
    k = cur == 0;
    break;
  case DEV_DO_DETECT:
    if (isnan(k))
      k = 1;
    break;
  default:
    break;
  }
  if (c->off == DEV_CAT_NO_OFF)
    return;
  if (c->kind == DEV_CH_TWO_STATE) {
    if (k == cur)
      return;
    set_f(r->d, c->off, k);
    int active = k != c->p.two.idle;
    fire(r, ch, active);
    two_state_schedule(r, c, active);
    return;
  }
  set_f(r->d, c->off, k);
  if (c->kind == DEV_CH_BURSTS) {
    fire(r, ch, 1);
    if (c->p.bursts.reset_s > 0)
      dl_set(r, c->off_c, after_s(r->t, c->p.bursts.reset_s));
  }
}

/* Meters whose switch fired are resampled at once. */
static void meters_follow(struct dev__run *r) {
  for (int i = 0; i < r->cm->n_ch; i++) {
    const struct dev_cat_channel *c = &r->cm->ch[i];
    if (c->kind != DEV_CH_METER)
      continue;
    for (uint8_t k = 0; k < c->p.meter.n_on; k++)
      if (c->p.meter.on[k] >= 0 && r->fired[c->p.meter.on[k]]) {
        meter_sample(r, i);
        break;
      }
  }
}

/* Event reports: the attributes whose event channel fired (their own, the actuator a direction
 * follows, or the one named by `with`), in table order. */
static void report_events(struct dev__run *r) {
  if (!r->any_fired)
    return;
  for (uint8_t i = 0; i < r->cm->n_attr; i++) {
    const struct dev_cat_attr *a = &r->cm->attr[i];
    if (a->report != DEV_REP_EVENT)
      continue;
    int ch = a->event_ch;
    if (ch >= 0 && ch < r->cm->n_ch && r->fired[ch])
      report_attr(r->cm, r->d, r->env, a);
  }
}

static double change_threshold(const struct dev_cat_attr *a, double last) {
  double pct = a->change_pct / 100.0 * fabs(last);
  return a->change > pct ? a->change : pct;
}

static int change_pending(const struct dev__run *r, const struct dev_cat_attr *a, double *x) {
  double last = get_f(r->d, a->off_last);
  *x = dev__gen_raw_value(r->cm, r->d, r->env, &a->v);
  double thr = change_threshold(a, last);
  double delta = fabs(*x - last);
  return thr > 0 ? delta >= thr - 1e-9 : delta > 0;
}

/* Change reports that are due; only those an event lets out at once (`at_once_with`) when
 * at_once_only (after a command or a trigger). */
static void report_changes(struct dev__run *r, int at_once_only) {
  for (uint8_t i = 0; i < r->cm->n_attr; i++) {
    const struct dev_cat_attr *a = &r->cm->attr[i];
    if (a->report != DEV_REP_CHANGE || a->off_last == DEV_CAT_NO_OFF)
      continue;
    int now = a->at_once_ch >= 0 && r->fired[a->at_once_ch];
    if (at_once_only && !now)
      continue;
    double since = stamp_age(r->t, get_u32(r->d, (uint16_t)(a->off_last + 4))) / 1000.0;
    double x;
    int changed = change_pending(r, a, &x);
    if ((changed && (since >= a->min_s || now)) ||
        (!at_once_only && a->max_s > 0 && since >= a->max_s))
      report_attr(r->cm, r->d, r->env, a);
  }
}

/* Keeps the earliest of the times seen (0: none). */
static void consider(dev_ms_t *best, dev_ms_t t) {
  if (t && (!*best || t < *best))
    *best = t;
}

/* A stamp older than T_AGE_MAX becomes exactly that old: ages are only compared with
 * durations of at most 10 days, so nothing changes but that the age cannot wrap. */
static void refresh_stamps(struct dev__run *r) {
  const struct dev_cat_model *cm = r->cm;
  uint32_t oldest = stamp_of(r->t - T_AGE_MAX);
  for (uint8_t i = 0; i < cm->n_attr; i++) {
    const struct dev_cat_attr *a = &cm->attr[i];
    uint16_t off = (uint16_t)(a->off_last + 4);
    if (a->report == DEV_REP_CHANGE && a->off_last != DEV_CAT_NO_OFF &&
        stamp_age(r->t, get_u32(r->d, off)) > T_AGE_MAX)
      set_u32(r->d, off, oldest);
  }
}

/* The earliest pending time, strictly after r->t: the next wakeup of a device that wakes for
 * every sample (0: none). */
dev_ms_t dev__run_next(const struct dev__run *r) {
  const struct dev_cat_model *cm = r->cm;
  dev_ms_t best = 0;
  for (int i = 0; i < cm->n_ch; i++) {
    const struct dev_cat_channel *c = &cm->ch[i];
    uint32_t per = period_ms_of(c);
    if (per)
      consider(&best, next_sample(r, per, r->t));
    switch (c->kind) {
    case DEV_CH_BURSTS:
      consider(&best, dl_at(r, c->off_a));
      consider(&best, dl_at(r, c->off_c)); /* the reset, when the channel has one */
      break;
    case DEV_CH_TWO_STATE:
      consider(&best, dl_at(r, c->off_a));
      break;
    case DEV_CH_ACTUATOR:
      consider(&best, dl_at(r, c->off_b));
      consider(&best, dl_at(r, c->off_c)); /* the next local toggle, when it has them */
      break;
    default:
      break;
    }
  }
  for (uint8_t i = 0; i < cm->n_attr; i++) {
    const struct dev_cat_attr *a = &cm->attr[i];
    if (a->report != DEV_REP_CHANGE || a->off_last == DEV_CAT_NO_OFF)
      continue;
    dev_ms_t last_t = r->t - stamp_age(r->t, get_u32(r->d, (uint16_t)(a->off_last + 4)));
    if (a->max_s > 0)
      consider(&best, after_s(last_t, a->max_s));
    double x;
    if (a->min_s > 0 && change_pending(r, a, &x))
      consider(&best, after_s(last_t, a->min_s));
  }
  if (cm->hb.present)
    consider(&best, dl_at(r, cm->hb.off_next));
  if (cm->keeps_stamps)
    consider(&best, r->t + T_KEEP_MS); /* even when nothing else is due: see refresh_stamps */
  if (best && best <= r->t)
    best = r->t + 1;
  return best;
}

/* Sets the next wakeup: the next sample at which the device sends, or another deadline. */
static void set_next(struct dev__run *r) {
  dev__lazy_plan(r, dev__run_next(r), 1);
}

void dev__run_init(struct dev__run *r, const struct sim_model *m, struct sim_device *d,
                   struct sim_dev_env *env) {
  r->m = m;
  r->cm = cat_of(m);
  r->d = d;
  r->env = env;
  r->t = ms_of(env->due);
  r->phase_u = r->cm->sampled ? hash_unit(env->eui64, SALT_PHASE) : 0;
  memset(r->fired, 0, r->cm->n_ch); /* channels only: a run is set up for every stepped sample */
  r->any_fired = 0;
  r->depth = 0;
  r->steps = 0;
}

static void heartbeat_schedule(struct dev__run *r, int first) {
  const struct dev_cat_heartbeat *hb = &r->cm->hb;
  if (!hb->present)
    return;
  double period = dev_rng_range(r->env->rng, hb->period_min_s, hb->period_max_s);
  if (first)
    period *= sim_rng_unit(r->env->rng);
  dl_set(r, hb->off_next, after_s(r->t, period));
  /* Self-discharge, paid ahead for the period just drawn. */
  int b = find_kind(r->cm, DEV_CH_BATTERY_MV);
  if (!first && r->cm->has_battery && b >= 0 && r->cm->battery.per_day_uv > 0) {
    double uv = get_u32(r->d, r->cm->ch[b].off) - r->cm->battery.per_day_uv * period / 86400.0;
    double empty = r->cm->battery.empty_mv * 1000.0;
    set_u32(r->d, r->cm->ch[b].off, (uint32_t)(uv > empty ? uv : empty));
  }
}

/* ---- ops --------------------------------------------------------------------------------- */

static int state_blank(const struct dev_cat_model *cm, const struct sim_device *d) {
  for (uint16_t i = 0; i < cm->state_bytes && i < SIM_DEV_STATE_BYTES; i++)
    if (d->state.b[i])
      return 0;
  return 1;
}

static void first_join(struct dev__run *r) {
  const struct dev_cat_model *cm = r->cm;
  struct sim_device *d = r->d;
  memset(d->state.b, 0, SIM_DEV_STATE_BYTES);
  /* Nothing scheduled anywhere until a behaviour says so. */
  for (int i = 0; i < cm->n_ch; i++) {
    const struct dev_cat_channel *c = &cm->ch[i];
    if (c->kind == DEV_CH_BURSTS || c->kind == DEV_CH_TWO_STATE || c->kind == DEV_CH_ACTUATOR) {
      set_u32(d, c->off_a, DEV_T_NONE);
      set_u32(d, c->off_b, DEV_T_NONE);
      set_u32(d, c->off_c, DEV_T_NONE);
    }
  }
  double lo = cm->lqi_min, hi = cm->lqi_max > cm->lqi_min ? cm->lqi_max : cm->lqi_min;
  d->lqi = (uint8_t)clampd(round(lo + (hi - lo) * hash_unit(r->env->eui64, SALT_LQI)), 0, 255);
  /* Pass 1: state set directly (battery, counters, actuators, events). */
  for (int i = 0; i < cm->n_ch; i++) {
    const struct dev_cat_channel *c = &cm->ch[i];
    switch (c->kind) {
    case DEV_CH_BATTERY_MV:
      if (cm->has_battery)
        set_u32(d, c->off,
                (uint32_t)llround(1000.0 * dev_rng_range(r->env->rng, cm->battery.fresh_min_mv,
                                                         cm->battery.fresh_max_mv)));
      break;
    case DEV_CH_POWER_ON:
      set_u16(d, c->off, 1);
      break;
    case DEV_CH_ACTUATOR: {
      double v = clampd(round_step(c->p.act.initial, c->p.act.step), c->p.act.min, c->p.act.max);
      set_f(d, c->off, v);
      set_f(d, c->off_a, v);
      local_schedule(r, c);
      break;
    }
    case DEV_CH_TWO_STATE:
      set_f(d, c->off, c->p.two.idle);
      two_state_schedule(r, c, 0);
      break;
    case DEV_CH_BURSTS:
      set_f(d, c->off, c->p.bursts.reset_s > 0 ? c->p.bursts.reset : 0);
      bursts_plan_burst(r, c, r->t, r->t);
      break;
    default:
      break;
    }
  }
  /* Pass 2: sampled quantities (a walk may follow an actuator), then meters, then energy. */
  for (int i = 0; i < cm->n_ch; i++) {
    if (cm->ch[i].kind == DEV_CH_WALK)
      walk_sample(r, i, 1);
    else if (cm->ch[i].kind == DEV_CH_DAYLIGHT)
      daylight_sample(r, i);
  }
  for (int i = 0; i < cm->n_ch; i++)
    if (cm->ch[i].kind == DEV_CH_METER)
      meter_sample(r, i);
  for (int i = 0; i < cm->n_ch; i++) {
    const struct dev_cat_channel *c = &cm->ch[i];
    if (c->kind == DEV_CH_ENERGY) {
      set_d(d, c->off, dev_rng_range(r->env->rng, 0, c->p.energy.initial_kwh_max));
      set_u32(d, c->off_a, stamp_of(r->t));
    }
  }
  for (uint8_t i = 0; i < cm->n_attr; i++) {
    const struct dev_cat_attr *a = &cm->attr[i];
    if (a->report == DEV_REP_CHANGE && a->off_last != DEV_CAT_NO_OFF) {
      set_f(d, a->off_last, dev__gen_raw_value(cm, d, r->env, &a->v));
      set_u32(d, (uint16_t)(a->off_last + 4), stamp_of(r->t));
    }
  }
  heartbeat_schedule(r, 1);
}

void dev__run_catch_up(struct dev__run *r) {
  if (state_blank(r->cm, r->d)) {
    first_join(r); /* an event before the join: the device starts from its initial state */
    return;
  }
  dev__lazy_catch_up(r, 1);
  refresh_stamps(r);
  integrate(r);
}

void dev__run_finish(struct dev__run *r) {
  meters_follow(r);
  report_events(r);
  report_changes(r, 1);
  set_next(r);
}

static void generic_join(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                         int rejoin) {
  struct dev__run r;
  dev__run_init(&r, m, d, env);
  const struct dev_cat_model *cm = r.cm;
  if (!rejoin || state_blank(cm, d)) {
    first_join(&r);
  } else {
    dev__lazy_catch_up(&r, 1);
    refresh_stamps(&r);
    integrate(&r);
    int k = find_kind(cm, DEV_CH_POWER_ON);
    if (k >= 0)
      set_u16(d, cm->ch[k].off, (uint16_t)(get_u16(d, cm->ch[k].off) + 1));
  }
  /* What the device says right after joining. */
  if (cm->legacy_join)
    send_heartbeat(m, d, env, 1);
  for (uint8_t i = 0; i < cm->n_attr; i++)
    if (cm->attr[i].on_join)
      report_attr(cm, d, env, &cm->attr[i]);
  /* No look ahead at a join: a fleet's devices join together, and the first sample spreads
   * their planning over a sampling period instead. */
  dev__lazy_plan(&r, dev__run_next(&r), 0);
}

void dev__run_tick(struct dev__run *r) {
  const struct dev_cat_model *cm = r->cm;
  struct sim_device *d = r->d;
  struct sim_dev_env *env = r->env;
  refresh_stamps(r);
  integrate(r);
  for (int i = 0; i < cm->n_ch; i++) {
    const struct dev_cat_channel *c = &cm->ch[i];
    uint32_t per = period_ms_of(c);
    int due = per && sample_due(r, per, r->t);
    switch (c->kind) {
    case DEV_CH_WALK:
      if (due)
        walk_sample(r, i, 0);
      break;
    case DEV_CH_DAYLIGHT:
      if (due)
        daylight_sample(r, i);
      break;
    case DEV_CH_METER:
      if (due)
        meter_sample(r, i);
      break;
    case DEV_CH_BURSTS: {
      if (dl_due(r, c->off_a)) {
        bursts_detect(r, i, bursts_draw(c, env->rng));
      } else if (dl_due(r, c->off_c)) {
        /* (reset_s may have been set to 0 since this was scheduled: then no reset) */
        set_u32(d, c->off_c, DEV_T_NONE);
        if (c->p.bursts.reset_s > 0 && get_f(d, c->off) != c->p.bursts.reset) {
          set_f(d, c->off, c->p.bursts.reset);
          if (c->p.bursts.reset_event)
            fire(r, i, 0);
        }
      }
      break;
    }
    case DEV_CH_TWO_STATE:
      if (dl_due(r, c->off_a)) {
        int active = get_f(d, c->off) == c->p.two.idle;
        set_f(d, c->off, active ? c->p.two.active : c->p.two.idle);
        fire(r, i, active);
        two_state_schedule(r, c, active);
      }
      break;
    case DEV_CH_ACTUATOR:
      if (dl_due(r, c->off_b)) {
        set_f(d, c->off, get_f(d, c->off_a));
        set_u32(d, c->off_b, DEV_T_NONE);
        fire(r, i, 0);
      }
      if (dl_due(r, c->off_c) && c->p.act.local_s <= 0) {
        set_u32(d, c->off_c, DEV_T_NONE); /* local_s set to 0 since: no more toggles */
      } else if (dl_due(r, c->off_c)) {
        /* Someone presses the button: at once, from the state it is in. */
        double v = act_now(c, d, r->t) == 0;
        set_f(d, c->off, v);
        set_f(d, c->off_a, v);
        set_u32(d, c->off_b, DEV_T_NONE);
        fire(r, i, 0);
        local_schedule(r, c);
      }
      break;
    default:
      break;
    }
  }
  meters_follow(r);
  report_events(r);
  report_changes(r, 0);
  if (cm->hb.present && dl_due(r, cm->hb.off_next)) {
    send_heartbeat(r->m, d, env, 0);
    heartbeat_schedule(r, 0);
  }
}

/* The timer fired: the samples the device did not wake for are stepped first (they send
 * nothing), then this wakeup's own work. */
static void generic_tick(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env) {
  struct dev__run r;
  dev__run_init(&r, m, d, env);
  dev__lazy_catch_up(&r, 0);
  dev__run_tick(&r);
  set_next(&r);
}

static int generic_trigger(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                           const char *event) {
  struct dev__run r;
  dev__run_init(&r, m, d, env);
  const struct dev_cat_model *cm = r.cm;
  const struct dev_cat_trigger *t = NULL;
  for (uint8_t i = 0; i < cm->n_trig; i++)
    if (strcmp(cm->trig[i].name, event) == 0) {
      t = &cm->trig[i];
      break;
    }
  if (!t)
    return SIM_ENOTFOUND;
  dev__run_catch_up(&r);
  dev__run_apply(&r, t->action, t->ch, t->k, 0);
  dev__run_finish(&r);
  return 0;
}

const struct sim_model_ops dev_generic_ops = {
    .join = generic_join,
    .tick = generic_tick,
    .command = dev__gen_command,
    .trigger = generic_trigger,
};
