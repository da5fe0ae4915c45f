/* Every catalogue model over 24 simulated hours (dev_sample_run: direct stepping, no engine, no
 * network). Prints one line per model with its frame counts and battery, and checks that each
 * behaves like the real product: battery models send about as many frames as the real ones
 * (the heartbeat about hourly plus on-change/events) and their voltage falls; mains models
 * report in their documented units and ranges. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "devices/cat.h"
#include "devices/catalog.h"
#include "sim/core/err.h"
#include "sim/wire/zcl.h"

#define HOUR SIM_SEC(3600)
#define CAP 64

struct day {
  const struct dev_cat_model *cm;
  int frames, heartbeats, reports, events, other;
  int bad_decode, bad_tsn, bad_header;
  uint8_t last_tsn;
  int first_mv, last_mv, mv_rises; /* as the heartbeat reports it (whole mV) */
  double first_bat, last_bat;      /* the device's own battery channel (sub-mV) */
  int bat_rises;
  double ch_energy_last;
  int ch_energy_falls, ch_power_bad, ch_volt_bad, ch_checks;
  /* mains units, decoded per the catalogue's scaling */
  double power_min, power_max;
  int power_n;
  double volt_min, volt_max;
  int volt_n;
  double kwh_last;
  int kwh_n, kwh_falls;
};

static const struct dev_cat_attr *attr_of(const struct dev_cat_model *cm, uint16_t cluster,
                                          uint16_t id) {
  for (uint8_t i = 0; i < cm->n_attr; i++)
    if (cm->attr[i].cluster == cluster && cm->attr[i].attr == id)
      return &cm->attr[i];
  return NULL;
}

static double num_of(const struct sim_zcl_attr *a) {
  switch (a->kind) {
  case SIM_ZCL_KIND_INT:
    return (double)a->v.i;
  case SIM_ZCL_KIND_FLOAT:
    return a->v.f;
  case SIM_ZCL_KIND_BOOL:
    return a->v.b;
  default:
    return (double)a->v.u;
  }
}

/* A value in channel units, by the attribute's linear scaling. */
static double unscaled(const struct dev_cat_attr *at, double wire) {
  double s = at->v.scale != 0 ? at->v.scale : 1;
  return (wire - at->v.offset) / s;
}

static void unit_value(struct day *s, const char *unit, double v) {
  if (strcmp(unit, "W") == 0) {
    s->power_min = s->power_n ? fmin(s->power_min, v) : v;
    s->power_max = s->power_n ? fmax(s->power_max, v) : v;
    s->power_n++;
  } else if (strcmp(unit, "V") == 0) {
    s->volt_min = s->volt_n ? fmin(s->volt_min, v) : v;
    s->volt_max = s->volt_n ? fmax(s->volt_max, v) : v;
    s->volt_n++;
  } else if (strcmp(unit, "kWh") == 0) {
    if (s->kwh_n && v < s->kwh_last - 1e-6)
      s->kwh_falls++;
    s->kwh_last = v;
    s->kwh_n++;
  }
}

/* The device's channels right after a frame: battery, and the units of the mains channels
 * (meters in W within their load range, energy in kWh never falling, a voltage ~230 V). */
static void check_channels(struct day *s, const struct dev_sample_frame *f) {
  const struct dev_cat_model *cm = s->cm;
  for (int c = 0; c < cm->n_ch; c++) {
    const struct dev_cat_channel *ch = &cm->ch[c];
    double v = dev_generic_value(cm, f->dev, f->env, c);
    switch (ch->kind) {
    case DEV_CH_BATTERY_MV:
      if (s->first_bat == 0)
        s->first_bat = v;
      if (s->last_bat && v > s->last_bat + 1e-9)
        s->bat_rises++;
      s->last_bat = v;
      break;
    case DEV_CH_METER:
      if (v < 0 || v > fmax(ch->p.meter.load_max_w * 1.6, ch->p.meter.standby_w) + 1e-6)
        s->ch_power_bad++;
      s->ch_checks++;
      break;
    case DEV_CH_ENERGY:
      if (s->ch_checks && v < s->ch_energy_last - 1e-9)
        s->ch_energy_falls++;
      s->ch_energy_last = v;
      s->ch_checks++;
      break;
    default:
      if (strcmp(ch->name, "voltage") == 0) {
        if (v < 200 || v > 255)
          s->ch_volt_bad++;
        s->ch_checks++;
      }
      break;
    }
  }
}

static int collect(void *arg, const struct dev_sample_frame *f) {
  struct day *s = arg;
  check_channels(s, f);
  if (s->frames > 0 && f->tsn != (uint8_t)(s->last_tsn + 1))
    s->bad_tsn++;
  s->last_tsn = f->tsn;
  s->frames++;
  struct sim_zcl_header h;
  if (sim_zcl_parse_header(f->zcl, f->len, &h) != 0) {
    s->bad_header++;
    return 0;
  }
  if (h.frame_control & SIM_ZCL_FC_CLUSTER_SPECIFIC) {
    s->events++; /* IAS zone status change notifications */
    return 0;
  }
  if (h.command != SIM_ZCL_CMD_REPORT_ATTR) {
    s->other++;
    return 0;
  }
  struct sim_zcl_attr a[CAP];
  size_t top, total;
  if (sim_zcl_decode_attrs(f->cluster, f->zcl, f->len, a, CAP, &top, &total) != 0 || top == 0) {
    s->bad_decode++;
    return 0;
  }
  int hb = 0;
  for (size_t i = 0; i < top; i++) {
    if (!a[i].n_members) {
      const struct dev_cat_attr *at = attr_of(s->cm, f->cluster, a[i].id);
      if (at && at->v.encode == DEV_ENC_LINEAR)
        unit_value(s, at->unit, unscaled(at, num_of(&a[i])));
      continue;
    }
    hb = 1;
    for (uint16_t j = 0; j < a[i].n_members; j++) {
      const struct sim_zcl_attr *m = &a[a[i].first_member + j];
      if (m->id == 0x01 && s->cm->has_battery) {
        int mv = (int)m->v.u;
        if (s->first_mv == 0)
          s->first_mv = mv;
        if (s->last_mv && mv > s->last_mv)
          s->mv_rises++;
        s->last_mv = mv;
      }
    }
  }
  if (hb)
    s->heartbeats++;
  else
    s->reports++;
  return 0;
}

/* Frames a day the real products send, per category: the heartbeat (50-60 min) gives 24-29;
 * on-change reports and events come on top. The bounds leave room for a busy day and are
 * stated here so a change of behaviour shows up as a failure, not a silent drift:
 *   climate sensors: every 0.5 degC / 2 %RH / 1 hPa with a 10 s floor: 10..400 reports;
 *   motion, vibration: bursts by day, a few at night: 5..1500 reports;
 *   contact, leak, smoke, gas, buttons: rare events (a few a day, maybe none): 0..200;
 *   illuminance: lux on change: 5..600;
 *   battery actuators (thermostat, lock): 0..400. */
static void battery_bounds(const char *cat, int *lo, int *hi) {
  *lo = 0;
  *hi = 400;
  if (strstr(cat, "temperature") || strstr(cat, "climate") || strstr(cat, "weather")) {
    *lo = 10;
  } else if (strstr(cat, "motion") || strstr(cat, "vibration")) {
    *lo = 5;
    *hi = 1500;
  } else if (strstr(cat, "illuminance")) {
    *lo = 5;
    *hi = 600;
  } else if (strstr(cat, "contact") || strstr(cat, "leak") || strstr(cat, "smoke") ||
             strstr(cat, "gas") || strstr(cat, "button")) {
    *hi = 200;
  }
}

static void test_every_model_one_day(void **state) {
  (void)state;
  size_t n;
  const struct sim_model *const *ms = dev_catalog_models(&n);
  assert_true(n >= 3);
  int failures = 0;
  for (size_t i = 0; i < n; i++) {
    const struct dev_cat_model *cm = ms[i]->params;
    struct day s;
    memset(&s, 0, sizeof s);
    s.cm = cm;
    struct dev_sample_opts o = {.model_id = ms[i]->model_id, .seed = 7, .duration = 24 * HOUR};
    int got = dev_sample_run(&o, collect, &s);
    printf("# %-24s %-28s %-7s 24h: %5d frames, %2d heartbeats, %4d reports, %3d events",
           ms[i]->model_id, cm->category, cm->has_battery ? "battery" : "mains", s.frames,
           s.heartbeats, s.reports, s.events);
    if (cm->has_battery)
      printf(", battery %.2f -> %.2f mV (reported %d -> %d)", s.first_bat, s.last_bat, s.first_mv,
             s.last_mv);
    if (s.power_n)
      printf(", power %.1f..%.1f W", s.power_min, s.power_max);
    if (s.volt_n)
      printf(", %.1f..%.1f V", s.volt_min, s.volt_max);
    if (s.kwh_n)
      printf(", energy %.3f kWh", s.kwh_last);
    printf("\n");
    int bad = 0;
#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      printf("#   FAIL %s: %s\n", ms[i]->model_id, #cond);                                         \
      bad = 1;                                                                                     \
    }                                                                                              \
  } while (0)
    CHECK(got == s.frames);
    CHECK(s.bad_decode == 0 && s.bad_tsn == 0 && s.bad_header == 0);
    if (cm->hb.present) {
      /* Hourly-ish heartbeat (period 50..60 min in the facts); +1 for a legacy join frame. */
      double mean = (cm->hb.period_min_s + cm->hb.period_max_s) / 2;
      int want = (int)(86400 / mean);
      CHECK(s.heartbeats >= want - 4 && s.heartbeats <= want + 3);
    }
    if (cm->has_battery) {
      int lo, hi;
      battery_bounds(cm->category, &lo, &hi);
      CHECK(s.reports + s.events >= lo && s.reports + s.events <= hi);
      /* ~11 uV a frame: well under a millivolt a day, so the fall is checked on the device's
       * own voltage; the reported whole millivolts never rise. */
      CHECK(s.first_bat >= cm->battery.fresh_min_mv - 1 && s.first_bat <= cm->battery.fresh_max_mv);
      CHECK(s.last_bat < s.first_bat);
      CHECK(s.bat_rises == 0);
      CHECK(s.mv_rises == 0);
    } else {
      CHECK(s.frames >= 24); /* mains devices report at least hourly */
      if (s.power_n)
        for (int c = 0; c < cm->n_ch; c++)
          if (cm->ch[c].kind == DEV_CH_METER) {
            CHECK(s.power_min >= 0);
            CHECK(s.power_max <= cm->ch[c].p.meter.load_max_w * 1.6 + 1);
          }
      if (s.volt_n)
        CHECK(s.volt_min >= 200 && s.volt_max <= 255);
      CHECK(s.kwh_falls == 0);
      CHECK(s.ch_energy_falls == 0 && s.ch_power_bad == 0 && s.ch_volt_bad == 0);
    }
    failures += bad;
  }
  assert_int_equal(failures, 0);
}

/* A week: the voltage of every battery model with a heartbeat keeps falling. */
static void test_battery_week(void **state) {
  (void)state;
  size_t n;
  const struct sim_model *const *ms = dev_catalog_models(&n);
  for (size_t i = 0; i < n; i++) {
    const struct dev_cat_model *cm = ms[i]->params;
    if (!cm->has_battery || !cm->hb.present)
      continue;
    struct day s;
    memset(&s, 0, sizeof s);
    s.cm = cm;
    struct dev_sample_opts o = {.model_id = ms[i]->model_id, .seed = 3, .duration = 7 * 24 * HOUR};
    dev_sample_run(&o, collect, &s);
    printf("# %-24s 7 days: %5d frames, battery %.2f -> %.2f mV (reported %d -> %d)\n",
           ms[i]->model_id, s.frames, s.first_bat, s.last_bat, s.first_mv, s.last_mv);
    assert_true(s.last_bat < s.first_bat);
    if (s.first_mv) /* the heartbeat carries the voltage (tag 0x01): a week shows in whole mV */
      assert_true(s.last_mv < s.first_mv);
    assert_int_equal(s.mv_rises, 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_model_one_day),
      cmocka_unit_test(test_battery_week),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
