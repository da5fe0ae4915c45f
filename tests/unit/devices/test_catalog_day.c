/* Every catalogue model over 24 simulated hours (dev_sample_run: direct stepping, no engine, no
 * network). Prints one line per model with its frame counts and battery, and checks that each
 * behaves like the real product: battery models send about as many frames as the real ones
 * (the heartbeat about hourly plus on-change/events) and their voltage falls; mains models
 * report in their documented units and ranges; every attribute reported on change keeps the
 * catalogue's min_s and max_s. Then the rates of the spontaneous events (button presses, doors,
 * leaks, smoke, local toggles...) over many device-days, against bounds taken from the
 * catalogue's gaps: a single day of a rare-event device may hold no event at all, so that is
 * where those models get lower bounds that can fail. */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "devices/cat_global.h"
#include "devices/cat_sample.h"
#include "devices/cat_types.h"
#include "devices/generic.h"
#include "sim/core/err.h"
#include "sim/wire/zcl.h"

#define HOUR SIM_SEC(3600)
#define DAY_S 86400.0
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
  /* Per catalogue attribute: how many times it was reported (records of Report Attributes,
   * and IAS zone status change notifications for an attribute reported as one). */
  int attr_n[256];
};

/* The index of the catalogue attribute (endpoint, cluster, id), or -1. */
static int attr_index(const struct dev_cat_model *cm, uint8_t ep, uint16_t cluster, uint16_t id) {
  for (uint8_t i = 0; i < cm->n_attr; i++)
    if (cm->attr[i].ep == ep && cm->attr[i].cluster == cluster && cm->attr[i].attr == id)
      return i;
  return -1;
}

static const struct dev_cat_attr *attr_of(const struct dev_cat_model *cm, uint8_t ep,
                                          uint16_t cluster, uint16_t id) {
  int i = attr_index(cm, ep, cluster, id);
  return i < 0 ? NULL : &cm->attr[i];
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
    for (uint8_t i = 0; i < s->cm->n_attr; i++)
      if (s->cm->attr[i].as_zone_status && s->cm->attr[i].ep == f->endpoint &&
          s->cm->attr[i].cluster == f->cluster)
        s->attr_n[i]++;
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
    int ai = attr_index(s->cm, f->endpoint, f->cluster, a[i].id);
    if (ai >= 0)
      s->attr_n[ai]++;
    if (!a[i].n_members) {
      const struct dev_cat_attr *at = attr_of(s->cm, f->endpoint, f->cluster, a[i].id);
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

/* What the catalogue promises for an attribute reported on change over one day from the
 * join: a report at least every max_s (so at least DAY_S / max_s of them, less one for the
 * millisecond rounding of the deadlines), and never two within min_s of each other (nor within
 * max_s, which also forces one), so at most DAY_S / that gap, plus the first one and the
 * report at joining. 0 and INT_MAX where the catalogue sets no such time. */
static void change_bounds(const struct dev_cat_attr *a, int *lo, int *hi) {
  *lo = a->max_s > 0 ? (int)(DAY_S / a->max_s) - 1 : 0;
  double gap = a->min_s > 0 && a->max_s > 0 ? fmin(a->min_s, a->max_s) : a->min_s;
  *hi = gap > 0 ? (int)(DAY_S / gap) + 1 + a->on_join : INT_MAX;
}

/* Reports and events (heartbeats apart) a battery model sends in a day. Upper bounds, per
 * category, leave room for a busy day and are stated here so that a change of behaviour shows
 * up as a failure, not a silent drift:
 *   climate sensors: every 0.5 degC / 2 %RH / 1 hPa with a 10 s floor: at most 400;
 *   motion, vibration: bursts by day, a few at night: at most 1500;
 *   illuminance: lux on change: at most 600;
 *   contact, leak, smoke, gas, buttons: rare events (a few a day, maybe none): at most 200;
 *   battery actuators (thermostat, lock): at most 400.
 * Lower bounds: what the catalogue forces in any day, the max_s reports of its attributes
 * reported on change (change_bounds: the thermostat's room temperature at least hourly, 23);
 * and where the sensed quantity moves every day by more than the reporting threshold: a
 * climate sensor's daily cycle crosses its 0.5 degC / 2 %RH steps (at least 10), motion and
 * light follow the household's day (at least 5). A day without a press, an opened door or a
 * leak is a normal day, so the event-only models have no lower bound here: their event rates
 * are bounded over many device-days in test_event_rates instead. */
static void battery_bounds(const struct dev_cat_model *cm, int *lo, int *hi) {
  const char *cat = cm->category;
  *lo = 0;
  for (uint8_t k = 0; k < cm->n_attr; k++)
    if (cm->attr[k].report == DEV_REP_CHANGE) {
      int l, h;
      change_bounds(&cm->attr[k], &l, &h);
      *lo += l;
    }
  *hi = 400;
  if (strstr(cat, "temperature") || strstr(cat, "climate") || strstr(cat, "weather")) {
    *lo = *lo > 10 ? *lo : 10;
  } else if (strstr(cat, "motion") || strstr(cat, "vibration")) {
    *lo = *lo > 5 ? *lo : 5;
    *hi = 1500;
  } else if (strstr(cat, "illuminance")) {
    *lo = *lo > 5 ? *lo : 5;
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
    for (uint8_t k = 0; k < cm->n_attr; k++) {
      if (cm->attr[k].report != DEV_REP_CHANGE)
        continue;
      int lo, hi;
      change_bounds(&cm->attr[k], &lo, &hi);
      if (s.attr_n[k] < lo || s.attr_n[k] > hi) {
        printf(
            "#   FAIL %s: %s reported %d times in 24 h; min_s %.0f and max_s %.0f allow %d..%d\n",
            ms[i]->model_id, cm->attr[k].name, s.attr_n[k], cm->attr[k].min_s, cm->attr[k].max_s,
            lo, hi);
        bad = 1;
      }
    }
    if (cm->hb.present) {
      /* A heartbeat every period_s, drawn in [min, max] (50..60 min for every Aqara battery
       * device in tests/data/aqara-zigbee.json): at least one per longest period in a day;
       * at most one per shortest period, one more in a legacy join frame, and one for the
       * first period starting at the join. */
      int hb_lo = (int)(DAY_S / cm->hb.period_max_s);
      int hb_hi = (int)(DAY_S / cm->hb.period_min_s) + 2;
      CHECK(s.heartbeats >= hb_lo && s.heartbeats <= hb_hi);
    }
    if (cm->has_battery) {
      int lo, hi;
      battery_bounds(cm, &lo, &hi);
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

/* ---- event rates over many device-days ------------------------------------------------ */

/* Device-days per model in test_event_rates are chosen so that the slowest rate still expects
 * this many events (its 5-sigma band then stays clear of 0), within this cap. */
#define RATE_EVENTS_MIN 100.0
#define RATE_DEVICE_DAYS_MAX 40000

/* The spontaneous events of channel c as the catalogue draws them, or 0 when it draws none
 * this test can bound:
 *  - bursts of one detection each (length_s 0, no reset event): idle gaps exponential with the
 *    mean gap_day_s or gap_night_s, whichever the hour says when the gap is drawn, and never
 *    within blind_s of the last detection: one event per gap;
 *  - two-state channels: the same gaps while idle, then a hold of at most hold_max_s: two
 *    events per cycle (active, then idle again);
 *  - 0/1 actuators toggled by hand every local_s on average (exponential): one event each.
 * Every gap is an Exp(1) draw scaled by a mean between *fast_s and *slow_s less the extra time
 * (blind or hold), so over T seconds the gaps that end number at least as many as a Poisson
 * process of rate 1 / *slow_s yields and at most as many as one of rate 1 / *fast_s. */
static int event_rate(const struct dev_cat_model *cm, const struct dev_cat_channel *c,
                      double *fast_s, double *slow_s, int *per_gap) {
  (void)cm;
  if (c->kind == DEV_CH_BURSTS && c->p.bursts.length_s == 0 &&
      !(c->p.bursts.reset_s > 0 && c->p.bursts.reset_event)) {
    *fast_s = fmin(c->p.bursts.gap_day_s, c->p.bursts.gap_night_s);
    *slow_s = fmax(c->p.bursts.gap_day_s, c->p.bursts.gap_night_s) + c->p.bursts.blind_s;
    *per_gap = 1;
    return 1;
  }
  if (c->kind == DEV_CH_TWO_STATE) {
    *fast_s = fmin(c->p.two.gap_day_s, c->p.two.gap_night_s);
    *slow_s = fmax(c->p.two.gap_day_s, c->p.two.gap_night_s) + c->p.two.hold_max_s;
    *per_gap = 2;
    return 1;
  }
  if (c->kind == DEV_CH_ACTUATOR && c->p.act.local_s > 0) {
    *fast_s = *slow_s = c->p.act.local_s;
    *per_gap = 1;
    return 1;
  }
  return 0;
}

/* The 5-sigma band of a Poisson count of mean mu: outside it with a probability below 1e-6. */
static double poisson_lo(double mu) {
  return fmax(0, floor(mu - 5 * sqrt(mu)));
}
static double poisson_hi(double mu) {
  return ceil(mu + 5 * sqrt(mu)) + 1;
}

/* Every model with such channels, one device per seed for a day each, as many device-days as
 * its rarest channel needs: each channel's reports (of the attributes its events send, less
 * the one report each of them makes at joining) must lie between the bounds event_rate()
 * gives, widened to 5 sigma. A single day may show no press at all; thousands of device-days
 * may not, and a rate off by a unit (hours for seconds) or a channel that never fires fails. */
static void test_event_rates(void **state) {
  (void)state;
  size_t n;
  const struct sim_model *const *ms = dev_catalog_models(&n);
  int channels = 0, failures = 0;
  for (size_t i = 0; i < n; i++) {
    const struct dev_cat_model *cm = ms[i]->params;
    double slowest = 0;
    for (int c = 0; c < cm->n_ch; c++) {
      double fast, slow;
      int per;
      if (event_rate(cm, &cm->ch[c], &fast, &slow, &per))
        slowest = fmax(slowest, slow);
    }
    if (slowest == 0)
      continue;
    int days = (int)ceil(RATE_EVENTS_MIN * slowest / DAY_S);
    if (days > RATE_DEVICE_DAYS_MAX)
      fail_msg("%s: its rarest event would need %d device-days (more than %d): lower "
               "RATE_EVENTS_MIN or raise the cap",
               ms[i]->model_id, days, RATE_DEVICE_DAYS_MAX);
    static struct day s;
    static int total[256];
    memset(total, 0, sizeof total);
    for (int d = 0; d < days; d++) {
      memset(&s, 0, sizeof s);
      s.cm = cm;
      struct dev_sample_opts o = {
          .model_id = ms[i]->model_id, .seed = 1000 + (uint64_t)d, .duration = 24 * HOUR};
      assert_true(dev_sample_run(&o, collect, &s) > 0);
      for (uint8_t k = 0; k < cm->n_attr; k++)
        total[k] += s.attr_n[k];
    }
    for (int c = 0; c < cm->n_ch; c++) {
      double fast, slow;
      int per;
      if (!event_rate(cm, &cm->ch[c], &fast, &slow, &per))
        continue;
      /* The attributes the channel's events send, and what they sent besides: at joining. */
      int n_attrs = 0;
      long got = 0;
      for (uint8_t k = 0; k < cm->n_attr; k++)
        if (cm->attr[k].report == DEV_REP_EVENT && cm->attr[k].event_ch == c) {
          n_attrs++;
          got += total[k] - (cm->attr[k].on_join ? days : 0);
        }
      if (n_attrs == 0)
        continue; /* events nobody reports */
      double t = DAY_S * days;
      /* Gaps ended: Poisson-bounded. Events: per_gap of them per gap at most; at least one
       * (a two-state device may end its day active: one event of that cycle, not two). */
      double lo = poisson_lo(t / slow) * n_attrs;
      double hi = poisson_hi(t / fast) * per * n_attrs;
      channels++;
      int ok = got >= lo && got <= hi;
      printf("# %-24s %-13s %5d device-days: %6ld reports, bounds %.0f..%.0f (mean gap %.0f..%.0f "
             "s, %d event%s a gap, %d attribute%s)%s\n",
             ms[i]->model_id, cm->ch[c].name, days, got, lo, hi, fast, slow, per,
             per > 1 ? "s" : "", n_attrs, n_attrs > 1 ? "s" : "", ok ? "" : "  FAIL");
      failures += !ok;
    }
  }
  assert_true(channels >= 10);
  assert_int_equal(failures, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_model_one_day),
      cmocka_unit_test(test_battery_week),
      cmocka_unit_test(test_event_rates),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
