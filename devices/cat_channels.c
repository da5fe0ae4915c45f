/* The catalogue loader: a model's channels (docs/catalog.md "Channels"), the declared ones and
 * the built-ins, each behaviour's parameters read and checked by its own function. */
#include "devices/cat_load_internal.h"

#include <stdio.h>
#include <string.h>

#include "sim/core/err.h"

/* ---- channels ----------------------------------------------------------------------------- */

static const struct {
  const char *name;
  uint8_t kind;
  uint8_t battery; /* exists only in models with a battery */
} builtins[] = {
    {"battery_mv", DEV_CH_BATTERY_MV, 1},   {"battery_pct", DEV_CH_BATTERY_PCT, 1},
    {"battery_low", DEV_CH_BATTERY_LOW, 1}, {"device_temp", DEV_CH_DEVICE_TEMP, 0},
    {"power_on", DEV_CH_POWER_ON, 0},       {"triggers", DEV_CH_TRIGGERS, 0},
    {"parent", DEV_CH_PARENT, 0},           {"lqi", DEV_CH_LQI, 0},
    {"uptime_s", DEV_CH_UPTIME, 0},
};
#define N_BUILTINS (sizeof(builtins) / sizeof(builtins[0]))

static const char *const kind_names[] = {
    [DEV_CH_WALK] = "walk",           [DEV_CH_DAYLIGHT] = "daylight", [DEV_CH_BURSTS] = "bursts",
    [DEV_CH_TWO_STATE] = "two_state", [DEV_CH_ACTUATOR] = "actuator", [DEV_CH_METER] = "meter",
    [DEV_CH_ENERGY] = "energy",       [DEV_CH_DERIVE] = "derive",     [DEV_CH_CONST] = "const",
    [DEV_CH_DIRECTION] = "direction",
};

const char *dev_cat__kind_name(uint8_t k) {
  return k < sizeof(kind_names) / sizeof(kind_names[0]) && kind_names[k] ? kind_names[k]
                                                                         : "built-in";
}

/* A channel reference: a scalar naming a channel of cm. */
int dev_cat__chref(struct cat_ld *x, const struct dev_cat_model *cm, const yaml_node_t *v,
                   int16_t *out) {
  if (!is_scalar(v))
    return dev_cat__fail(x, v, "expected a channel name");
  int i = dev_cat_channel_find(cm, sc(v));
  if (i < 0) {
    for (size_t b = 0; b < N_BUILTINS; b++)
      if (builtins[b].battery && strcmp(builtins[b].name, sc(v)) == 0)
        return dev_cat__fail(x, v, "unknown channel \"%s\" (the model has no battery)", sc(v));
    return dev_cat__fail(x, v, "unknown channel \"%s\"", sc(v));
  }
  *out = (int16_t)i;
  return 0;
}

int dev_cat__key_chref(struct cat_ld *x, const struct dev_cat_model *cm, const yaml_node_t *map,
                       const char *key, int req, int16_t *out) {
  yaml_node_t *v = dev_cat__get(x, map, key);
  if (!v) {
    if (req)
      return dev_cat__fail(x, map, "missing required key \"%s\"", key);
    *out = -1;
    return 0;
  }
  size_t o = dev_cat__push_key(x, key);
  int r = dev_cat__chref(x, cm, v, out);
  dev_cat__pop(x, o);
  return r;
}

/* A derive operand: a channel name or a number. */
static int key_operand(struct cat_ld *x, const struct dev_cat_model *cm, const yaml_node_t *map,
                       const char *key, struct dev_cat_operand *out) {
  yaml_node_t *v;
  int r = dev_cat__require(x, map, key, &v);
  if (r)
    return r;
  size_t o = dev_cat__push_key(x, key);
  out->ch = -1;
  out->k = 0;
  int pn = is_scalar(v) ? dev_cat__parse_number(sc(v), &out->k) : -1;
  if (pn == 0)
    r = 0;
  else if (pn == DEV_CAT__NUM_TOO_BIG)
    r = dev_cat__num(x, v, &out->k);
  else
    r = dev_cat__chref(x, cm, v, &out->ch);
  dev_cat__pop(x, o);
  return r;
}

static int parse_day_h(struct cat_ld *x, const yaml_node_t *m, double *start, double *end) {
  double d[2];
  int r = dev_cat__key_pair(x, m, "day_h", 1, 0, 0, d);
  if (r)
    return r;
  if (d[0] < 0 || d[1] > 24) {
    size_t o = dev_cat__push_key(x, "day_h");
    r = dev_cat__fail(x, dev_cat__get(x, m, "day_h"), "hours must be in [0, 24]");
    dev_cat__pop(x, o);
    return r;
  }
  *start = d[0];
  *end = d[1];
  return 0;
}

/* A sampling period: the device clock counts milliseconds, so at least 0.001 s. */
static int parse_sample(struct cat_ld *x, const yaml_node_t *m, double *out) {
  int r = dev_cat__key_dur(x, m, "sample_s", 1, 0, out);
  if (!r && *out < 0.001) {
    size_t o = dev_cat__push_key(x, "sample_s");
    r = dev_cat__fail(x, dev_cat__get(x, m, "sample_s"),
                      *out <= 0 ? "must be positive" : "must be at least 0.001 (one millisecond)");
    dev_cat__pop(x, o);
  }
  return r;
}

/* walk: a random walk on a daily cycle. */
static int parse_walk(struct cat_ld *x, struct dev_cat_model *cm, struct dev_cat_channel *ch,
                      const yaml_node_t *m) {
  int r;
  int self = (int)(ch - cm->ch);
  static const char *const keys[] = {"base",     "daily_amp", "peak_hour",   "sigma",
                                     "revert",   "min",       "max",         "spread",
                                     "sample_s", "toward",    "toward_rate", NULL};
  if ((r = dev_cat__check_map(x, m, keys)))
    return r;
  if ((r = dev_cat__key_num(x, m, "base", 1, 0, &ch->p.walk.base)) ||
      (r = dev_cat__key_num(x, m, "daily_amp", 1, 0, &ch->p.walk.daily_amp)) ||
      (r = dev_cat__key_num(x, m, "peak_hour", 1, 0, &ch->p.walk.peak_hour)) ||
      (r = dev_cat__key_pos(x, m, "sigma", 1, 0, &ch->p.walk.sigma)) ||
      (r = dev_cat__key_pos(x, m, "revert", 1, 0, &ch->p.walk.revert)) ||
      (r = dev_cat__key_num(x, m, "min", 1, 0, &ch->p.walk.min)) ||
      (r = dev_cat__key_num(x, m, "max", 1, 0, &ch->p.walk.max)) ||
      (r = dev_cat__key_pos(x, m, "spread", 1, 0, &ch->p.walk.spread)) ||
      (r = parse_sample(x, m, &ch->p.walk.sample_s)) ||
      (r = dev_cat__key_chref(x, cm, m, "toward", 0, &ch->p.walk.toward)) ||
      (r = dev_cat__key_pos(x, m, "toward_rate", 0, 0, &ch->p.walk.toward_rate)))
    return r;
  if (ch->p.walk.min > ch->p.walk.max)
    return dev_cat__fail(x, m, "min must not be above max");
  if (ch->p.walk.toward == self) {
    size_t o = dev_cat__push_key(x, "toward");
    r = dev_cat__fail(x, dev_cat__get(x, m, "toward"), "a channel cannot follow itself");
    dev_cat__pop(x, o);
    return r;
  }
  return 0;
}

/* daylight: illuminance following the sun. */
static int parse_daylight(struct cat_ld *x, struct dev_cat_model *cm, struct dev_cat_channel *ch,
                          const yaml_node_t *m) {
  (void)cm;
  int r;
  static const char *const keys[] = {"max_lx", "night_lx", "sunrise_h", "sunset_h",
                                     "spread", "sample_s", NULL};
  if ((r = dev_cat__check_map(x, m, keys)))
    return r;
  if ((r = dev_cat__key_pos(x, m, "max_lx", 1, 0, &ch->p.daylight.max_lx)) ||
      (r = dev_cat__key_pos(x, m, "night_lx", 1, 0, &ch->p.daylight.night_lx)) ||
      (r = dev_cat__key_pos(x, m, "sunrise_h", 1, 0, &ch->p.daylight.sunrise_h)) ||
      (r = dev_cat__key_pos(x, m, "sunset_h", 1, 0, &ch->p.daylight.sunset_h)) ||
      (r = dev_cat__key_pos(x, m, "spread", 1, 0, &ch->p.daylight.spread)) ||
      (r = parse_sample(x, m, &ch->p.daylight.sample_s)))
    return r;
  if (ch->p.daylight.sunrise_h >= ch->p.daylight.sunset_h || ch->p.daylight.sunset_h > 24)
    return dev_cat__fail(x, m, "expected sunrise_h < sunset_h <= 24");
  if (ch->p.daylight.spread > 1)
    return dev_cat__fail(x, m, "spread must be in [0, 1]");
  return 0;
}

/* bursts: Poisson bursts of detections. */
static int parse_bursts(struct cat_ld *x, struct dev_cat_model *cm, struct dev_cat_channel *ch,
                        const yaml_node_t *m) {
  (void)cm;
  int r;
  static const char *const keys[] = {"gap_day_s", "gap_night_s", "day_h",       "length_s",
                                     "blind_s",   "retrigger_s", "values",      "weights",
                                     "reset_s",   "reset",       "reset_event", NULL};
  if ((r = dev_cat__check_map(x, m, keys)))
    return r;
  if ((r = dev_cat__key_mean(x, m, "gap_day_s", 1, 0, &ch->p.bursts.gap_day_s)) ||
      (r = dev_cat__key_mean(x, m, "gap_night_s", 1, 0, &ch->p.bursts.gap_night_s)) ||
      (r = parse_day_h(x, m, &ch->p.bursts.day_start_h, &ch->p.bursts.day_end_h)) ||
      (r = dev_cat__key_mean(x, m, "length_s", 1, 0, &ch->p.bursts.length_s)) ||
      (r = dev_cat__key_dur(x, m, "blind_s", 1, 0, &ch->p.bursts.blind_s)) ||
      (r = dev_cat__key_dur(x, m, "retrigger_s", 1, 0, &ch->p.bursts.retrigger_s)) ||
      (r = dev_cat__key_dur(x, m, "reset_s", 0, 0, &ch->p.bursts.reset_s)) ||
      (r = dev_cat__key_num(x, m, "reset", 0, 0, &ch->p.bursts.reset)) ||
      (r = dev_cat__key_bool(x, m, "reset_event", 0, 0, &ch->p.bursts.reset_event)))
    return r;
  if (ch->p.bursts.gap_day_s <= 0 || ch->p.bursts.gap_night_s <= 0)
    return dev_cat__fail(x, m, "gap_day_s and gap_night_s must be positive");
  yaml_node_t *vals, *w = dev_cat__get(x, m, "weights");
  if ((r = dev_cat__require(x, m, "values", &vals)))
    return r;
  size_t o = dev_cat__push_key(x, "values");
  if (!is_seq(vals) || seq_len(vals) == 0 || seq_len(vals) > 8) {
    r = dev_cat__fail(x, vals, "expected a list of 1 to 8 numbers");
    dev_cat__pop(x, o);
    return r;
  }
  ch->p.bursts.n_values = (uint8_t)seq_len(vals);
  for (size_t i = 0; i < ch->p.bursts.n_values; i++) {
    if ((r = dev_cat__num(x, node(x, vals->data.sequence.items.start[i]),
                          &ch->p.bursts.values[i]))) {
      dev_cat__pop(x, o);
      return r;
    }
    ch->p.bursts.weights[i] = 1;
  }
  dev_cat__pop(x, o);
  if (w) {
    o = dev_cat__push_key(x, "weights");
    if (!is_seq(w) || seq_len(w) != ch->p.bursts.n_values) {
      r = dev_cat__fail(x, w, "expected a list of %u numbers, one per value",
                        ch->p.bursts.n_values);
      dev_cat__pop(x, o);
      return r;
    }
    double sum = 0;
    for (size_t i = 0; i < ch->p.bursts.n_values; i++) {
      yaml_node_t *e = node(x, w->data.sequence.items.start[i]);
      if ((r = dev_cat__num(x, e, &ch->p.bursts.weights[i]))) {
        dev_cat__pop(x, o);
        return r;
      }
      if (ch->p.bursts.weights[i] < 0) {
        r = dev_cat__fail(x, e, "must not be negative");
        dev_cat__pop(x, o);
        return r;
      }
      sum += ch->p.bursts.weights[i];
    }
    if (sum <= 0)
      r = dev_cat__fail(x, w, "at least one weight must be positive");
    dev_cat__pop(x, o);
    if (r)
      return r;
  }
  return 0;
}

/* two_state: rare two-state events. */
static int parse_two_state(struct cat_ld *x, struct dev_cat_model *cm, struct dev_cat_channel *ch,
                           const yaml_node_t *m) {
  (void)cm;
  int r;
  static const char *const keys[] = {"idle",  "active", "gap_day_s", "gap_night_s",
                                     "day_h", "hold_s", NULL};
  double hold[2];
  if ((r = dev_cat__check_map(x, m, keys)))
    return r;
  if ((r = dev_cat__key_num(x, m, "idle", 1, 0, &ch->p.two.idle)) ||
      (r = dev_cat__key_num(x, m, "active", 1, 0, &ch->p.two.active)) ||
      (r = dev_cat__key_mean(x, m, "gap_day_s", 1, 0, &ch->p.two.gap_day_s)) ||
      (r = dev_cat__key_mean(x, m, "gap_night_s", 1, 0, &ch->p.two.gap_night_s)) ||
      (r = parse_day_h(x, m, &ch->p.two.day_start_h, &ch->p.two.day_end_h)) ||
      (r = dev_cat__key_pair(x, m, "hold_s", 1, 0, 0, hold)) ||
      (r = dev_cat__at_most(x, m, "hold_s", hold[1], DEV_CAT_DURATION_MAX_S,
                            "s (10 days, the longest duration)")))
    return r;
  if (ch->p.two.gap_day_s <= 0 || ch->p.two.gap_night_s <= 0)
    return dev_cat__fail(x, m, "gap_day_s and gap_night_s must be positive");
  if (hold[0] <= 0) {
    size_t o = dev_cat__push_key(x, "hold_s");
    r = dev_cat__fail(x, dev_cat__get(x, m, "hold_s"), "must be positive (log-uniform)");
    dev_cat__pop(x, o);
    return r;
  }
  ch->p.two.hold_min_s = hold[0];
  ch->p.two.hold_max_s = hold[1];
  return 0;
}

/* actuator: state set by commands. */
static int parse_actuator(struct cat_ld *x, struct dev_cat_model *cm, struct dev_cat_channel *ch,
                          const yaml_node_t *m) {
  (void)cm;
  int r;
  static const char *const keys[] = {"min", "max", "initial", "travel_s", "local_s", "step", NULL};
  if ((r = dev_cat__check_map(x, m, keys)))
    return r;
  if ((r = dev_cat__key_num(x, m, "min", 1, 0, &ch->p.act.min)) ||
      (r = dev_cat__key_num(x, m, "max", 1, 0, &ch->p.act.max)) ||
      (r = dev_cat__key_num(x, m, "initial", 1, 0, &ch->p.act.initial)) ||
      (r = dev_cat__key_dur(x, m, "travel_s", 0, 0, &ch->p.act.travel_s)) ||
      (r = dev_cat__key_mean(x, m, "local_s", 0, 0, &ch->p.act.local_s)) ||
      (r = dev_cat__key_pos(x, m, "step", 0, 0, &ch->p.act.step)))
    return r;
  if (ch->p.act.min > ch->p.act.max)
    return dev_cat__fail(x, m, "min must not be above max");
  if (ch->p.act.initial < ch->p.act.min || ch->p.act.initial > ch->p.act.max)
    return dev_cat__fail(x, m, "initial must be in [min, max]");
  if (ch->p.act.local_s > 0 && (ch->p.act.min != 0 || ch->p.act.max != 1))
    return dev_cat__fail(x, m, "local_s is only for 0/1 actuators (min 0, max 1)");
  return 0;
}

/* meter: power drawn while any of its `on` channels is non-zero. */
static int parse_meter(struct cat_ld *x, struct dev_cat_model *cm, struct dev_cat_channel *ch,
                       const yaml_node_t *m) {
  int r;
  static const char *const keys[] = {"on", "load_w", "noise_pct", "standby_w", "sample_s", NULL};
  double load[2];
  if ((r = dev_cat__check_map(x, m, keys)))
    return r;
  yaml_node_t *on;
  if ((r = dev_cat__require(x, m, "on", &on)))
    return r;
  size_t o = dev_cat__push_key(x, "on");
  if (!is_seq(on) || seq_len(on) == 0 || seq_len(on) > 4) {
    r = dev_cat__fail(x, on, "expected a list of 1 to 4 channel names");
    dev_cat__pop(x, o);
    return r;
  }
  ch->p.meter.n_on = (uint8_t)seq_len(on);
  for (size_t i = 0; i < ch->p.meter.n_on; i++)
    if ((r = dev_cat__chref(x, cm, node(x, on->data.sequence.items.start[i]),
                            &ch->p.meter.on[i]))) {
      dev_cat__pop(x, o);
      return r;
    }
  dev_cat__pop(x, o);
  if ((r = dev_cat__key_pair(x, m, "load_w", 1, 0, 0, load)) ||
      (r = dev_cat__key_pos(x, m, "noise_pct", 1, 0, &ch->p.meter.noise_pct)) ||
      (r = dev_cat__key_pos(x, m, "standby_w", 1, 0, &ch->p.meter.standby_w)) ||
      (r = parse_sample(x, m, &ch->p.meter.sample_s)))
    return r;
  if (load[0] <= 0) {
    o = dev_cat__push_key(x, "load_w");
    r = dev_cat__fail(x, dev_cat__get(x, m, "load_w"), "must be positive (log-uniform)");
    dev_cat__pop(x, o);
    return r;
  }
  ch->p.meter.load_min_w = load[0];
  ch->p.meter.load_max_w = load[1];
  return 0;
}

/* energy: the integral of a power channel. */
static int parse_energy(struct cat_ld *x, struct dev_cat_model *cm, struct dev_cat_channel *ch,
                        const yaml_node_t *m) {
  int r;
  int self = (int)(ch - cm->ch);
  static const char *const keys[] = {"of", "initial_kwh", NULL};
  if ((r = dev_cat__check_map(x, m, keys)) ||
      (r = dev_cat__key_chref(x, cm, m, "of", 1, &ch->p.energy.of)) ||
      (r = dev_cat__key_pos(x, m, "initial_kwh", 0, 0, &ch->p.energy.initial_kwh_max)))
    return r;
  if (ch->p.energy.of == self) {
    size_t o = dev_cat__push_key(x, "of");
    r = dev_cat__fail(x, dev_cat__get(x, m, "of"), "a channel cannot integrate itself");
    dev_cat__pop(x, o);
  }
  return r;
}

/* derive: a op b, computed when read. */
static int parse_derive(struct cat_ld *x, struct dev_cat_model *cm, struct dev_cat_channel *ch,
                        const yaml_node_t *m) {
  int r;
  static const char *const keys[] = {"op", "a", "b", NULL};
  static const char *const ops[] = {"", "add", "sub", "mul", "div", NULL};
  int op;
  if ((r = dev_cat__check_map(x, m, keys)) || (r = dev_cat__key_enum(x, m, "op", 1, 0, ops, &op)) ||
      (r = key_operand(x, cm, m, "a", &ch->p.derive.a)) ||
      (r = key_operand(x, cm, m, "b", &ch->p.derive.b)))
    return r;
  if (op == 0) {
    size_t o = dev_cat__push_key(x, "op");
    r = dev_cat__fail(x, dev_cat__get(x, m, "op"), "expected add, sub, mul or div");
    dev_cat__pop(x, o);
    return r;
  }
  ch->p.derive.op = (uint8_t)op;
  return 0;
}

/* const: a per-device constant. */
static int parse_const(struct cat_ld *x, struct dev_cat_model *cm, struct dev_cat_channel *ch,
                       const yaml_node_t *m) {
  (void)cm;
  int r;
  static const char *const keys[] = {"range", NULL};
  double rg[2];
  if ((r = dev_cat__check_map(x, m, keys)) || (r = dev_cat__key_pair(x, m, "range", 1, 0, 0, rg)))
    return r;
  ch->p.konst.lo = rg[0];
  ch->p.konst.hi = rg[1];
  return 0;
}

/* direction: the movement of an actuator with travel. */
static int parse_direction(struct cat_ld *x, struct dev_cat_model *cm, struct dev_cat_channel *ch,
                           const yaml_node_t *m) {
  int r;
  static const char *const keys[] = {"of", "stopped", "opening", "closing", NULL};
  if ((r = dev_cat__check_map(x, m, keys)) ||
      (r = dev_cat__key_chref(x, cm, m, "of", 1, &ch->p.dir.of)) ||
      (r = dev_cat__key_num(x, m, "stopped", 1, 0, &ch->p.dir.stopped)) ||
      (r = dev_cat__key_num(x, m, "opening", 1, 0, &ch->p.dir.opening)) ||
      (r = dev_cat__key_num(x, m, "closing", 1, 0, &ch->p.dir.closing)))
    return r;
  const struct dev_cat_channel *of = &cm->ch[ch->p.dir.of];
  if (of->kind != DEV_CH_ACTUATOR || of->p.act.travel_s <= 0) {
    size_t o = dev_cat__push_key(x, "of");
    r = dev_cat__fail(x, dev_cat__get(x, m, "of"), "\"%s\" is not an actuator with travel_s",
                      of->name);
    dev_cat__pop(x, o);
  }
  return r;
}

/* The parameters of one declared channel; the path is at `channels.NAME.KIND`. */
static int parse_channel(struct cat_ld *x, struct dev_cat_model *cm, struct dev_cat_channel *ch,
                         const yaml_node_t *m) {
  switch (ch->kind) {
  case DEV_CH_WALK:
    return parse_walk(x, cm, ch, m);
  case DEV_CH_DAYLIGHT:
    return parse_daylight(x, cm, ch, m);
  case DEV_CH_BURSTS:
    return parse_bursts(x, cm, ch, m);
  case DEV_CH_TWO_STATE:
    return parse_two_state(x, cm, ch, m);
  case DEV_CH_ACTUATOR:
    return parse_actuator(x, cm, ch, m);
  case DEV_CH_METER:
    return parse_meter(x, cm, ch, m);
  case DEV_CH_ENERGY:
    return parse_energy(x, cm, ch, m);
  case DEV_CH_DERIVE:
    return parse_derive(x, cm, ch, m);
  case DEV_CH_CONST:
    return parse_const(x, cm, ch, m);
  case DEV_CH_DIRECTION:
    return parse_direction(x, cm, ch, m);
  }
  return dev_cat__fail(x, m, "internal: unknown channel kind");
}

/* channels: a mapping NAME -> {KIND: {...}}. Built-in channels follow the declared ones. Names
 * are collected first so that a channel may refer to one declared after it; a direction's
 * actuator is parsed before the direction (second pass) so its travel is known. */
int dev_cat__parse_channels(struct cat_ld *x, struct dev_cat_model *cm, const yaml_node_t *model) {
  yaml_node_t *chs = dev_cat__get(x, model, "channels");
  size_t nd = 0;
  int r;
  size_t o = dev_cat__push_key(x, "channels");
  if (chs) {
    if (chs->type != YAML_MAPPING_NODE) {
      r = dev_cat__fail(x, chs, "expected a mapping of channel names");
      goto out;
    }
    nd = map_len(chs);
  }
  size_t total = nd + N_BUILTINS;
  if (total > 255) {
    r = dev_cat__fail(x, chs, "too many channels (at most %zu)", 255 - N_BUILTINS);
    goto out;
  }
  cm->ch = dev_cat__alloc(&x->ar, total * sizeof(*cm->ch));
  if (!cm->ch) {
    r = dev_cat__fail_oom(x);
    goto out;
  }
  for (size_t i = 0; i < nd; i++) {
    yaml_node_pair_t *p = &chs->data.mapping.pairs.start[i];
    yaml_node_t *k = node(x, p->key), *v = node(x, p->value);
    if (!is_scalar(k)) {
      r = dev_cat__fail(x, k, "expected a channel name");
      goto out;
    }
    if ((r = dev_cat__check_name(x, k, sc(k))))
      goto out;
    for (size_t b = 0; b < N_BUILTINS; b++)
      if (strcmp(builtins[b].name, sc(k)) == 0) {
        r = dev_cat__fail(x, k, "\"%s\" is a built-in channel", sc(k));
        goto out;
      }
    for (size_t j = 0; j < i; j++)
      if (strcmp(cm->ch[j].name, sc(k)) == 0) {
        r = dev_cat__fail(x, k, "channel \"%s\" declared twice", sc(k));
        goto out;
      }
    struct dev_cat_channel *ch = &cm->ch[i];
    snprintf(ch->name, sizeof(ch->name), "%s", sc(k));
    size_t o2 = dev_cat__push_key(x, sc(k));
    if (!v || v->type != YAML_MAPPING_NODE || map_len(v) != 1) {
      r = dev_cat__fail(x, v, "expected exactly one behaviour, e.g. {walk: {...}}");
      dev_cat__pop(x, o2);
      goto out;
    }
    yaml_node_t *kk = node(x, v->data.mapping.pairs.start[0].key);
    ch->kind = 0;
    for (uint8_t kd = DEV_CH_WALK; kd <= DEV_CH_DIRECTION; kd++)
      if (is_scalar(kk) && strcmp(sc(kk), kind_names[kd]) == 0)
        ch->kind = kd;
    if (!ch->kind) {
      r = dev_cat__fail(
          x, kk,
          "unknown behaviour \"%s\" (walk, daylight, bursts, two_state, actuator, meter, "
          "energy, derive, const or direction)",
          is_scalar(kk) ? sc(kk) : "?");
      dev_cat__pop(x, o2);
      goto out;
    }
    ch->is_event =
        ch->kind == DEV_CH_BURSTS || ch->kind == DEV_CH_TWO_STATE || ch->kind == DEV_CH_ACTUATOR;
    dev_cat__pop(x, o2);
  }
  cm->n_ch = (uint8_t)nd;
  for (size_t b = 0; b < N_BUILTINS; b++) {
    if (builtins[b].battery && !cm->has_battery)
      continue;
    struct dev_cat_channel *ch = &cm->ch[cm->n_ch++];
    snprintf(ch->name, sizeof(ch->name), "%s", builtins[b].name);
    ch->kind = builtins[b].kind;
  }
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < nd; i++) {
      struct dev_cat_channel *ch = &cm->ch[i];
      if ((ch->kind == DEV_CH_DIRECTION) != (pass == 1))
        continue;
      yaml_node_t *v = node(x, chs->data.mapping.pairs.start[i].value);
      size_t o2 = dev_cat__push_key(x, ch->name);
      size_t o3 = dev_cat__push_key(x, dev_cat__kind_name(ch->kind));
      r = parse_channel(x, cm, ch, node(x, v->data.mapping.pairs.start[0].value));
      dev_cat__pop(x, o3);
      dev_cat__pop(x, o2);
      if (r)
        goto out;
    }
  r = 0;
out:
  dev_cat__pop(x, o);
  return r;
}
