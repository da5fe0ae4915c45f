/* The catalogue loader (devices/cat_load.c): a valid file becomes the right tables, and every
 * kind of malformed file is refused with the exact "FILE:LINE: reason". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "devices/cat_global.h"
#include "devices/cat_load.h"
#include "devices/cat_types.h"
#include "devices/generic.h"
#include "sim/core/err.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static int add(struct dev_cat *c, const char *name, const char *text, struct dev_cat_error *e) {
  return dev_cat_add_text(c, name, text, strlen(text), e);
}

/* Loads text into a fresh catalogue, expects it refused with exactly `want` ("file:line: reason")
 * and the catalogue left empty. */
static void expect_error(const char *name, const char *text, const char *want) {
  struct dev_cat *c = dev_cat_new();
  assert_non_null(c);
  struct dev_cat_error e;
  int r = add(c, name, text, &e);
  char got[600];
  snprintf(got, sizeof(got), "%s:%d: %s", e.file, e.line, e.reason);
  if (r != SIM_EINVAL || strcmp(got, want) != 0)
    print_error("got  r=%d \"%s\"\nwant r=%d \"%s\"\n", r, got, SIM_EINVAL, want);
  assert_int_equal(r, SIM_EINVAL);
  assert_string_equal(got, want);
  assert_int_equal(c->n_models, 0);
  assert_int_equal(c->n_hubs, 0);
  dev_cat_free(c);
}

/* A minimal valid mains model; lines 1-15. Tests append model keys from line 16. */
#define MIN_HEAD                                                                                   \
  "models:\n"                                                                                      \
  "  - id: t.min\n"                                                                                \
  "    vendor: V\n"                                                                                \
  "    vendor_model: VM\n"                                                                         \
  "    description: D\n"                                                                           \
  "    category: c\n"                                                                              \
  "    manufacturer: LUMI\n"                                                                       \
  "    manufacturer_code: 0x115F\n"                                                                \
  "    ieee_oui: 0x54EF44\n"                                                                       \
  "    power: mains\n"                                                                             \
  "    logical_type: router\n"                                                                     \
  "    sleepy: false\n"                                                                            \
  "    join: announce\n"                                                                           \
  "    endpoints:\n"                                                                               \
  "      - {id: 1, profile: 0x0104, device_id: 0x0100, in: [0x0000, 0x0006], out: []}\n"

/* One model of every channel kind (lines counted in comments where tests rely on them). */
static const char valid_yaml[] =
    "# a test family\n"
    "models:\n"
    "  - id: t.all\n" /* line 3 */
    "    aliases: [t.all.b, t.all.c]\n"
    "    vendor: Aqara\n"
    "    vendor_model: TEST01LM\n"
    "    description: Everything at once\n"
    "    category: test\n"
    "    manufacturer: LUMI\n"
    "    manufacturer_code: 0x1037\n"
    "    ieee_oui: 0x00158D\n"
    "    power: battery\n"
    "    logical_type: end_device\n"
    "    sleepy: true\n"
    "    poll_s: 7.5\n"
    "    zcl_version: 3\n"
    "    sw_build: \"1.2.3\"\n"
    "    join: legacy\n"
    "    endpoints:\n"
    "      - {id: 1, profile: 0x0104, device_id: 0x5F01, in: [0x0000, 0x0402, 0xFCC0],\n"
    "         out: [0x0019]}\n"
    "      - {id: 2, profile: 260, device_id: 0x0202}\n"
    "    battery: {fresh_mv: [3000, 3100], empty_mv: 2700, per_frame_uv: 11,\n"
    "              percent_mv: [2850, 3000], low_pct: 10}\n"
    "    device_temp: {base: 30, power: power, per_w: 0.5}\n"
    "    channels:\n"
    "      temperature: {walk: {base: 21.5, daily_amp: 1.5, peak_hour: 16, sigma: 0.3,\n"
    "                    revert: 0.5, min: -20, max: 60, spread: 1.5, sample_s: 60,\n"
    "                    toward: position, toward_rate: 2}}\n"
    "      lux: {daylight: {max_lx: 800, night_lx: 2, sunrise_h: 7, sunset_h: 19,\n"
    "                       spread: 0.5, sample_s: 300}}\n"
    "      occupancy: {bursts: {gap_day_s: 1800, gap_night_s: 7200, day_h: [7, 23],\n"
    "                  length_s: 60, blind_s: 60, retrigger_s: 10, values: [1, 2],\n"
    "                  weights: [3, 1]}}\n"
    "      open: {two_state: {idle: 0, active: 1, gap_day_s: 14400, gap_night_s: 86400,\n"
    "                         day_h: [7, 23], hold_s: [5, 600]}}\n"
    "      position: {actuator: {min: 0, max: 100, initial: 0x32, travel_s: 30, step: 1}}\n"
    "      power: {meter: {on: [position], load_w: [20, 60], noise_pct: 2, standby_w: 0.4,\n"
    "                      sample_s: 10}}\n"
    "      energy: {energy: {of: power, initial_kwh: 5}}\n"
    "      current: {derive: {op: div, a: power, b: voltage}}\n"
    "      voltage: {const: {range: [225, 235]}}\n"
    "      moving: {direction: {of: position, stopped: 2, opening: 1, closing: 0}}\n"
    "    attributes:\n"
    "      - {name: measuredValue, ep: 1, cluster: 0x0402, attr: 0x0000, type: int16,\n"
    "         value: temperature, scale: 100, unit: degC,\n"
    "         report: {change: 0.5, min_s: 10, max_s: 3600}}\n"
    "      - {name: occupancy, ep: 1, cluster: 0x0406, attr: 0x0000, type: bitmap8,\n"
    "         value: occupancy, report: event, on_join: true}\n"
    "      - {name: zoneStatus, ep: 1, cluster: 0x0500, attr: 0x0002, type: bitmap16, value: "
    "open,\n"
    "         encode: zone_status, bit: 0, report: event, as: zone_status_change}\n"
    "      - {name: mode, ep: 2, cluster: 0xFCC0, attr: 0x0009, mfr: 0x115F, type: octstr,\n"
    "         value: open, encode: map, map: {0: \"00\", 1: \"0A0B\"}}\n"
    "      - {name: ident, ep: 1, cluster: 0xFCC0, attr: 0x00FF, type: string,\n"
    "         value: {hex: \"414243\"}}\n"
    "      - {name: lux, ep: 1, cluster: 0x0400, attr: 0x0000, type: uint16, value: lux,\n"
    "         encode: log_lux, report: {change_pct: 10, max_s: 600}}\n"
    "      - {name: pos, ep: 1, cluster: 0x0102, attr: 0x0008, type: uint8, value: position,\n"
    "         writable: true, report: event}\n"
    "      - {name: fw, ep: 1, cluster: 0x0000, attr: 0x0006, type: float, value: {const: -1.5}}\n"
    "    heartbeat:\n"
    "      format: 00f7\n"
    "      period_s: [3000, 3600]\n"
    "      tags:\n"
    "        - {tag: 0x01, type: uint16, value: battery_mv}\n"
    "        - {tag: 0x03, type: int8, value: device_temp}\n"
    "        - {tag: 0x04, type: uint16, value: {const: 5032}}\n"
    "        - {tag: 0x64, type: bool, value: open, encode: not}\n"
    "        - {tag: 0x95, type: float, value: energy, scale: 1000}\n"
    "    commands:\n"
    "      - {cluster: 0x0102, command: 0x00, do: on, channel: position}\n"
    "      - {cluster: 0x0102, command: 0x01, do: off, channel: position}\n"
    "      - {cluster: 0x0102, command: 0x02, do: stop, channel: position}\n"
    "      - {cluster: 0x0102, command: 0x05, do: arg, channel: position,\n"
    "         arg: {offset: 0, type: uint8, scale: 2.55}}\n"
    "      - {ep: 2, cluster: 0x0006, command: 0x02, do: toggle, channel: position}\n"
    "      - {cluster: 0x0006, command: 0x42, do: set, channel: position, value: 10}\n"
    "    triggers:\n"
    "      - {name: open, do: set, channel: open, value: 1}\n"
    "      - {name: motion, do: detect, channel: occupancy}\n"
    "      - {name: motion2, do: detect, channel: occupancy, value: 2}\n"
    "      - {name: flip, do: toggle, channel: position}\n"
    "hubs:\n"
    "  - {id: lumi.gateway.aqcn02, aliases: [lumi.gateway.x], name: \"Aqara Hub E1\",\n"
    "     vendor_model: ZHWG16LM, firmware: \"4.0.1_0030\", max_devices: 128}\n";

/* Marks [off, off + n) in used, failing on overlap or overflow of the state budget. */
static void take(uint8_t *used, uint16_t off, size_t n, size_t bytes) {
  if (off == DEV_CAT_NO_OFF)
    return;
  assert_true(off + n <= bytes);
  assert_true(off + n <= SIM_DEV_STATE_BYTES);
  for (size_t i = off; i < off + n; i++) {
    assert_int_equal(used[i], 0);
    used[i] = 1;
  }
}

static const struct dev_cat_channel *ch(const struct dev_cat_model *cm, const char *name) {
  int i = dev_cat_channel_find(cm, name);
  assert_true(i >= 0);
  return &cm->ch[i];
}

/* ---- the valid file ----------------------------------------------------------------------- */

static void test_valid(void **state) {
  (void)state;
  struct dev_cat *c = dev_cat_new();
  struct dev_cat_error e;
  int r = add(c, "all.yaml", valid_yaml, &e);
  if (r)
    print_error("%s:%d: %s\n", e.file, e.line, e.reason);
  assert_int_equal(r, 0);
  assert_int_equal(c->n_models, 3);
  assert_int_equal(c->n_hubs, 2);

  const struct dev_cat_model *cm = dev_cat_find(c, "t.all");
  assert_non_null(cm);
  assert_string_equal(cm->m.model_id, "t.all");
  assert_string_equal(cm->m.manufacturer, "LUMI");
  assert_string_equal(cm->m.vendor_model, "TEST01LM");
  assert_string_equal(cm->m.description, "Everything at once");
  assert_string_equal(cm->vendor, "Aqara");
  assert_string_equal(cm->category, "test");
  assert_string_equal(cm->sw_build, "1.2.3");
  assert_string_equal(cm->source_file, "all.yaml");
  assert_int_equal(cm->source_line, 3);
  assert_int_equal(cm->m.power_source, SIM_POWER_BATTERY);
  assert_int_equal(cm->m.logical_type, SIM_LOGICAL_END_DEVICE);
  assert_int_equal(cm->m.sleepy, 1);
  assert_int_equal(cm->m.poll_ms, 7500);
  assert_int_equal(cm->m.manufacturer_code, 0x1037);
  assert_int_equal(cm->m.ieee_oui, 0x00158D);
  assert_ptr_equal(cm->m.ops, &dev_generic_ops);
  assert_ptr_equal(cm->m.params, cm);
  assert_int_equal(cm->alias_of_first, 0);
  assert_int_equal(cm->zcl_version, 3);
  assert_int_equal(cm->app_version, 1);
  assert_int_equal(cm->hw_version, 1);
  assert_int_equal(cm->legacy_join, 1);
  assert_true(cm->poll_s == 7.5);
  /* defaults */
  assert_true(cm->latency_min_ms == 20 && cm->latency_max_ms == 60);
  assert_true(cm->lqi_min == 120 && cm->lqi_max == 255 && cm->lqi_drift == 2);
  assert_true(cm->device_temp_base == 30 && cm->device_temp_spread == 3);
  assert_true(cm->device_temp_per_w == 0.5);
  assert_int_equal(cm->device_temp_power, dev_cat_channel_find(cm, "power"));
  assert_int_equal(cm->has_battery, 1);
  assert_true(cm->battery.fresh_min_mv == 3000 && cm->battery.fresh_max_mv == 3100);
  assert_true(cm->battery.empty_mv == 2700 && cm->battery.per_frame_uv == 11);
  assert_true(cm->battery.per_day_uv == 0 && cm->battery.low_pct == 10);
  assert_true(cm->battery.pct_min_mv == 2850 && cm->battery.pct_max_mv == 3000);

  /* endpoints */
  assert_int_equal(cm->m.n_endpoints, 2);
  assert_int_equal(cm->m.endpoints[0].id, 1);
  assert_int_equal(cm->m.endpoints[0].profile, 0x0104);
  assert_int_equal(cm->m.endpoints[0].device_id, 0x5F01);
  assert_int_equal(cm->m.endpoints[0].n_in, 3);
  assert_int_equal(cm->m.endpoints[0].in[2], 0xFCC0);
  assert_int_equal(cm->m.endpoints[0].n_out, 1);
  assert_int_equal(cm->m.endpoints[0].out[0], 0x0019);
  assert_int_equal(cm->m.endpoints[1].profile, 260);
  assert_int_equal(cm->m.endpoints[1].n_in, 0);

  /* channels: 10 declared + 9 built-ins (battery model) */
  assert_int_equal(cm->n_ch, 19);
  assert_int_equal(ch(cm, "temperature")->kind, DEV_CH_WALK);
  assert_true(ch(cm, "temperature")->p.walk.base == 21.5);
  assert_true(ch(cm, "temperature")->p.walk.sample_s == 60);
  assert_int_equal(ch(cm, "temperature")->p.walk.toward, dev_cat_channel_find(cm, "position"));
  assert_true(ch(cm, "temperature")->p.walk.toward_rate == 2);
  assert_int_equal(ch(cm, "lux")->kind, DEV_CH_DAYLIGHT);
  assert_true(ch(cm, "lux")->p.daylight.sunset_h == 19);
  const struct dev_cat_channel *occ = ch(cm, "occupancy");
  assert_int_equal(occ->kind, DEV_CH_BURSTS);
  assert_int_equal(occ->is_event, 1);
  assert_int_equal(occ->p.bursts.n_values, 2);
  assert_true(occ->p.bursts.values[1] == 2 && occ->p.bursts.weights[0] == 3);
  assert_true(occ->p.bursts.day_start_h == 7 && occ->p.bursts.day_end_h == 23);
  assert_int_equal(occ->off_c, DEV_CAT_NO_OFF); /* no reset_s */
  assert_int_equal(ch(cm, "open")->kind, DEV_CH_TWO_STATE);
  assert_true(ch(cm, "open")->p.two.hold_min_s == 5 && ch(cm, "open")->p.two.hold_max_s == 600);
  assert_int_equal(ch(cm, "position")->kind, DEV_CH_ACTUATOR);
  assert_true(ch(cm, "position")->p.act.initial == 50);
  assert_int_equal(ch(cm, "power")->kind, DEV_CH_METER);
  assert_int_equal(ch(cm, "power")->p.meter.n_on, 1);
  assert_int_equal(ch(cm, "power")->p.meter.on[0], dev_cat_channel_find(cm, "position"));
  assert_true(ch(cm, "power")->p.meter.load_min_w == 20);
  assert_int_equal(ch(cm, "energy")->kind, DEV_CH_ENERGY);
  assert_int_equal(ch(cm, "energy")->off % 8, 0);
  assert_true(ch(cm, "energy")->p.energy.initial_kwh_max == 5);
  assert_int_equal(ch(cm, "current")->kind, DEV_CH_DERIVE);
  assert_int_equal(ch(cm, "current")->p.derive.op, DEV_OP_DIV);
  assert_int_equal(ch(cm, "current")->p.derive.b.ch, dev_cat_channel_find(cm, "voltage"));
  assert_int_equal(ch(cm, "current")->off, DEV_CAT_NO_OFF);
  assert_int_equal(ch(cm, "voltage")->kind, DEV_CH_CONST);
  assert_true(ch(cm, "voltage")->p.konst.lo == 225 && ch(cm, "voltage")->p.konst.hi == 235);
  assert_int_equal(ch(cm, "moving")->kind, DEV_CH_DIRECTION);
  assert_true(ch(cm, "moving")->p.dir.stopped == 2);
  assert_int_equal(ch(cm, "battery_mv")->kind, DEV_CH_BATTERY_MV);
  assert_int_equal(ch(cm, "battery_pct")->kind, DEV_CH_BATTERY_PCT);
  assert_int_equal(ch(cm, "uptime_s")->kind, DEV_CH_UPTIME);
  assert_int_equal(ch(cm, "lqi")->kind, DEV_CH_LQI);
  assert_int_equal(dev_cat_channel_find(cm, "nope"), -1);

  /* attributes */
  assert_int_equal(cm->n_attr, 8);
  assert_string_equal(cm->attr[0].name, "measuredValue");
  assert_int_equal(cm->attr[0].v.type, 0x29);
  assert_true(cm->attr[0].v.scale == 100 && cm->attr[0].v.offset == 0);
  assert_string_equal(cm->attr[0].unit, "degC");
  assert_int_equal(cm->attr[0].report, DEV_REP_CHANGE);
  assert_true(cm->attr[0].change == 0.5 && cm->attr[0].min_s == 10 && cm->attr[0].max_s == 3600);
  assert_int_equal(cm->attr[1].report, DEV_REP_EVENT);
  assert_int_equal(cm->attr[1].on_join, 1);
  assert_int_equal(cm->attr[1].off_last, DEV_CAT_NO_OFF);
  assert_int_equal(cm->attr[2].v.encode, DEV_ENC_ZONE_STATUS);
  assert_int_equal(cm->attr[2].as_zone_status, 1);
  assert_int_equal(cm->attr[3].v.encode, DEV_ENC_MAP);
  assert_int_equal(cm->attr[3].mfr, 0x115F);
  assert_int_equal(cm->attr[3].v.n_map, 2);
  assert_int_equal(cm->attr[3].v.map_val[1].n, 2);
  assert_int_equal(cm->attr[3].v.map_val[1].b[1], 0x0B);
  assert_int_equal(cm->attr[3].report, DEV_REP_NONE);
  assert_int_equal(cm->attr[4].v.encode, DEV_ENC_HEX);
  assert_int_equal(cm->attr[4].v.ch, -1);
  assert_int_equal(cm->attr[4].v.hex.n, 3);
  assert_memory_equal(cm->attr[4].v.hex.b, "ABC", 3);
  assert_int_equal(cm->attr[5].v.encode, DEV_ENC_LOG_LUX);
  assert_true(cm->attr[5].change_pct == 10);
  assert_int_equal(cm->attr[6].writable, 1);
  assert_int_equal(cm->attr[7].v.ch, -1);
  assert_true(cm->attr[7].v.k == -1.5);
  assert_int_equal(cm->attr[7].v.type, 0x39);

  /* heartbeat: 00f7 */
  assert_int_equal(cm->hb.present, 1);
  assert_int_equal(cm->hb.cluster, 0xFCC0);
  assert_int_equal(cm->hb.attr, 0x00F7);
  assert_int_equal(cm->hb.type, 0x41);
  assert_int_equal(cm->hb.n_tags, 5);
  assert_int_equal(cm->hb.tags[0].tag, 0x01);
  assert_int_equal(cm->hb.tags[0].v.ch, dev_cat_channel_find(cm, "battery_mv"));
  assert_int_equal(cm->hb.tags[2].v.ch, -1);
  assert_true(cm->hb.tags[2].v.k == 5032);
  assert_int_equal(cm->hb.tags[3].v.encode, DEV_ENC_NOT);
  assert_int_equal(cm->hb.tags[4].v.type, 0x39);

  /* commands, triggers */
  assert_int_equal(cm->n_cmd, 6);
  assert_int_equal(cm->cmd[3].action, DEV_DO_ARG);
  assert_int_equal(cm->cmd[3].arg_type, 0x20);
  assert_true(cm->cmd[3].arg_scale == 2.55);
  assert_true(cm->cmd[0].arg_scale == 1);
  assert_int_equal(cm->cmd[4].ep, 2);
  assert_int_equal(cm->cmd[4].action, DEV_DO_TOGGLE);
  assert_int_equal(cm->cmd[5].action, DEV_DO_SET);
  assert_true(cm->cmd[5].k == 10);
  assert_int_equal(cm->n_trig, 4);
  assert_string_equal(cm->trig[1].name, "motion");
  assert_int_equal(cm->trig[1].action, DEV_DO_DETECT);
  assert_true(cm->trig[1].k != cm->trig[1].k); /* NaN: drawn */
  assert_true(cm->trig[2].k == 2);
  assert_true(cm->trig[0].k == 1);

  /* state: every stateful piece disjoint and inside the budget */
  assert_true(cm->state_bytes > 0 && cm->state_bytes <= SIM_DEV_STATE_BYTES);
  uint8_t used[SIM_DEV_STATE_BYTES] = {0};
  for (int i = 0; i < cm->n_ch; i++) {
    const struct dev_cat_channel *k = &cm->ch[i];
    size_t n = k->kind == DEV_CH_ENERGY ? 8 : k->kind == DEV_CH_POWER_ON ? 2 : 4;
    take(used, k->off, n, cm->state_bytes);
    take(used, k->off_a, 4, cm->state_bytes);
    take(used, k->off_b, 4, cm->state_bytes);
    take(used, k->off_c, 4, cm->state_bytes);
    if (k->off != DEV_CAT_NO_OFF)
      assert_int_equal(k->off % n, 0);
  }
  for (int i = 0; i < cm->n_attr; i++)
    take(used, cm->attr[i].off_last, 8, cm->state_bytes);
  take(used, cm->hb.off_next, 4, cm->state_bytes);
  /* stored: walk 8, daylight 4, bursts 12, two_state 8, actuator 12, meter 4, energy 12,
   * battery 4, 2 change reports 16, heartbeat 4, counters 6 (+2 to a multiple of 4) */
  assert_int_equal(cm->state_bytes, 92);
  assert_int_not_equal(ch(cm, "power_on")->off, DEV_CAT_NO_OFF);
  assert_int_not_equal(ch(cm, "triggers")->off, DEV_CAT_NO_OFF);
  assert_int_equal(ch(cm, "battery_pct")->off, DEV_CAT_NO_OFF);

  /* aliases: models of their own sharing the tables */
  const struct dev_cat_model *b = dev_cat_find(c, "t.all.c");
  assert_non_null(b);
  assert_ptr_not_equal(b, cm);
  assert_string_equal(b->m.model_id, "t.all.c");
  assert_int_equal(b->alias_of_first, 1);
  assert_ptr_equal(b->m.params, b);
  assert_ptr_equal(b->ch, cm->ch);
  assert_ptr_equal(b->attr, cm->attr);
  assert_ptr_equal(b->m.endpoints, cm->m.endpoints);
  assert_int_equal(b->state_bytes, cm->state_bytes);
  assert_null(dev_cat_find(c, "t.nope"));

  /* hubs, aliases included */
  const struct dev_cat_hub *h = dev_cat_find_hub(c, "lumi.gateway.aqcn02");
  assert_non_null(h);
  assert_string_equal(h->name, "Aqara Hub E1");
  assert_string_equal(h->vendor_model, "ZHWG16LM");
  assert_string_equal(h->firmware, "4.0.1_0030");
  assert_int_equal(h->max_devices, 128);
  h = dev_cat_find_hub(c, "lumi.gateway.x");
  assert_non_null(h);
  assert_string_equal(h->model_id, "lumi.gateway.x");
  assert_int_equal(h->max_devices, 128);
  assert_null(dev_cat_find_hub(c, "t.all"));
  dev_cat_free(c);
}

/* Heartbeat ff01, a mains model: no battery channels, defaults of value and lqi. */
static void test_mains_ff01(void **state) {
  (void)state;
  struct dev_cat *c = dev_cat_new();
  struct dev_cat_error e;
  int r = add(c, "m.yaml",
              MIN_HEAD "    latency_ms: [100, 250]\n"
                       "    lqi: {range: [60, 90]}\n"
                       "    channels:\n"
                       "      state: {actuator: {min: 0, max: 1, initial: 1, local_s: 86400}}\n"
                       "    heartbeat:\n"
                       "      format: ff01\n"
                       "      period_s: [3000, 3600]\n"
                       "      tags:\n"
                       "        - {tag: 0x64, type: bool, value: state}\n"
                       "        - {tag: 5, type: uint16, value: power_on}\n"
                       "        - {tag: 0x0A, type: uint16, value: parent}\n",
              &e);
  if (r)
    print_error("%s:%d: %s\n", e.file, e.line, e.reason);
  assert_int_equal(r, 0);
  const struct dev_cat_model *cm = dev_cat_find(c, "t.min");
  assert_non_null(cm);
  assert_int_equal(cm->has_battery, 0);
  assert_int_equal(cm->m.power_source, SIM_POWER_MAINS);
  assert_int_equal(cm->m.logical_type, SIM_LOGICAL_ROUTER);
  assert_int_equal(cm->m.sleepy, 0);
  assert_int_equal(cm->m.poll_ms, 0);
  assert_int_equal(cm->legacy_join, 0);
  assert_int_equal(dev_cat_channel_find(cm, "battery_mv"), -1);
  assert_int_equal(cm->n_ch, 1 + 6);
  assert_true(cm->latency_min_ms == 100 && cm->latency_max_ms == 250);
  assert_true(cm->lqi_min == 60 && cm->lqi_max == 90 && cm->lqi_drift == 2);
  assert_true(cm->device_temp_base == 25 && cm->device_temp_spread == 3);
  assert_int_equal(cm->device_temp_power, -1);
  assert_int_equal(cm->hb.cluster, 0x0000);
  assert_int_equal(cm->hb.attr, 0xFF01);
  assert_int_equal(cm->hb.type, 0x42);
  assert_int_equal(cm->hb.tags[0].v.type, 0x10);
  assert_true(cm->hb.tags[0].v.scale == 1);
  assert_int_equal(cm->hb.tags[1].tag, 5);
  /* actuator with local toggles 16, heartbeat 4, counters 6 (+2) */
  assert_int_equal(cm->state_bytes, 28);
  assert_int_not_equal(ch(cm, "state")->off_c, DEV_CAT_NO_OFF);
  assert_int_equal(cm->n_attr, 0);
  assert_int_equal(cm->n_cmd, 0);
  assert_int_equal(cm->n_trig, 0);
  dev_cat_free(c);
}

/* Every ZCL type name maps to its id. */
static void test_type_names(void **state) {
  (void)state;
  static const struct {
    const char *name;
    int id;
  } t[] = {{"bool", 0x10},   {"bitmap8", 0x18}, {"bitmap16", 0x19}, {"bitmap32", 0x1B},
           {"uint8", 0x20},  {"uint16", 0x21},  {"uint24", 0x22},   {"uint32", 0x23},
           {"uint40", 0x24}, {"uint48", 0x25},  {"int8", 0x28},     {"int16", 0x29},
           {"int24", 0x2A},  {"int32", 0x2B},   {"enum8", 0x30},    {"enum16", 0x31},
           {"float", 0x39},  {"double", 0x3A},  {"octstr", 0x41},   {"string", 0x42}};
  for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
    char text[2048];
    int str = t[i].id == 0x41 || t[i].id == 0x42;
    snprintf(text, sizeof(text),
             MIN_HEAD "    attributes:\n"
                      "      - {name: a, ep: 1, cluster: 6, attr: 0, type: %s, value: %s}\n",
             t[i].name, str ? "{hex: \"\"}" : "{const: 0}");
    struct dev_cat *c = dev_cat_new();
    struct dev_cat_error e;
    int r = add(c, "t.yaml", text, &e);
    if (r)
      print_error("%s: %s:%d: %s\n", t[i].name, e.file, e.line, e.reason);
    assert_int_equal(r, 0);
    assert_int_equal(c->models[0]->attr[0].v.type, t[i].id);
    dev_cat_free(c);
  }
}

/* Decimal, fraction, exponent, hex, signs. */
static void test_numbers(void **state) {
  (void)state;
  struct dev_cat *c = dev_cat_new();
  struct dev_cat_error e;
  int r = add(c, "n.yaml",
              MIN_HEAD "    channels:\n"
                       "      k: {const: {range: [-0x10, 1.5e3]}}\n"
                       "      j: {const: {range: [+7, 0XfF]}}\n",
              &e);
  assert_int_equal(r, 0);
  const struct dev_cat_model *cm = c->models[0];
  assert_true(ch(cm, "k")->p.konst.lo == -16 && ch(cm, "k")->p.konst.hi == 1500);
  assert_true(ch(cm, "j")->p.konst.lo == 7 && ch(cm, "j")->p.konst.hi == 255);
  dev_cat_free(c);
  expect_error("n.yaml", MIN_HEAD "    channels:\n      k: {const: {range: [0x, 1]}}\n",
               "n.yaml:17: channels.k.const.range: expected a number, got \"0x\"");
  expect_error("n.yaml", MIN_HEAD "    channels:\n      k: {const: {range: [.inf, 1]}}\n",
               "n.yaml:17: channels.k.const.range: expected a number, got \".inf\"");
  expect_error("n.yaml", MIN_HEAD "    zcl_version: 1.5\n",
               "n.yaml:16: zcl_version: expected an integer, got \"1.5\"");
  expect_error("n.yaml", MIN_HEAD "    zcl_version: 256\n",
               "n.yaml:16: zcl_version: 256 is out of range [0, 255]");
}

/* ---- malformed files ---------------------------------------------------------------------- */

static void test_syntax_error(void **state) {
  (void)state;
  expect_error("bad.yaml", "models:\n  - id: x\n    vendor: [a, b\n",
               "bad.yaml:4: syntax error: did not find expected ',' or ']' while parsing a flow "
               "sequence");
  expect_error(
      "tab.yaml", "models:\n  - id: x\n   vendor: V\n",
      "tab.yaml:3: syntax error: did not find expected '-' indicator while parsing a block "
      "collection");
  expect_error("empty.yaml", "",
               "empty.yaml:0: empty file: expected a mapping with models "
               "and/or hubs");
  expect_error("utf.yaml", "hubs:\n  - {id: \"\xff\"}\n",
               "utf.yaml:2: syntax error: invalid leading UTF-8 octet");
  expect_error("two.yaml", "hubs: []\n---\nhubs: []\n",
               "two.yaml:2: a catalogue file holds one YAML document");
}

static void test_unknown_key(void **state) {
  (void)state;
  expect_error("k.yaml", MIN_HEAD "    colour: red\n", "k.yaml:16: unknown key \"colour\"");
  expect_error("k.yaml",
               MIN_HEAD "    attributes:\n"
                        "      - {name: a, ep: 1, cluster: 6, attr: 0, type: bool, value: {const: "
                        "0}}\n"
                        "      - {name: b, ep: 1, cluster: 6, attr: 1, type: bool, value: {const: "
                        "0},\n"
                        "         reprot: event}\n",
               "k.yaml:19: attributes[1]: unknown key \"reprot\"");
  expect_error("k.yaml", "modles: []\n", "k.yaml:1: unknown key \"modles\"");
  expect_error("k.yaml", MIN_HEAD "    sleepy: true\n", "k.yaml:16: key \"sleepy\" given twice");
}

static void test_missing_key(void **state) {
  (void)state;
  /* MIN_HEAD without its manufacturer line */
  expect_error("m.yaml",
               "models:\n"
               "  - id: t.min\n"
               "    vendor: V\n"
               "    vendor_model: VM\n"
               "    description: D\n"
               "    category: c\n"
               "    manufacturer_code: 0x115F\n"
               "    ieee_oui: 0x54EF44\n"
               "    power: mains\n"
               "    logical_type: router\n"
               "    sleepy: false\n"
               "    join: announce\n"
               "    endpoints: [{id: 1, profile: 0x0104, device_id: 0x0100}]\n",
               "m.yaml:2: missing required key \"manufacturer\"");
  expect_error("m.yaml",
               MIN_HEAD "    channels:\n"
                        "      t: {walk: {base: 1, daily_amp: 1, peak_hour: 1, sigma: 1,\n"
                        "                 revert: 1, min: 0, max: 2, spread: 0}}\n",
               "m.yaml:17: channels.t.walk: missing required key \"sample_s\"");
  expect_error("m.yaml",
               MIN_HEAD "    attributes:\n"
                        "      - {name: a, ep: 1, cluster: 6, attr: 0, value: {const: 0}}\n",
               "m.yaml:17: attributes[0]: missing required key \"type\"");
  expect_error("m.yaml",
               "models:\n"
               "  - id: t.bat\n"
               "    vendor: V\n"
               "    vendor_model: VM\n"
               "    description: D\n"
               "    category: c\n"
               "    manufacturer: LUMI\n"
               "    manufacturer_code: 0x115F\n"
               "    ieee_oui: 0x54EF44\n"
               "    power: battery\n"
               "    logical_type: end_device\n"
               "    sleepy: true\n"
               "    join: announce\n"
               "    endpoints: [{id: 1, profile: 0x0104, device_id: 0x0100}]\n",
               "m.yaml:2: missing required key \"poll_s\"");
}

static void test_unknown_type(void **state) {
  (void)state;
  expect_error("contact.yaml",
               MIN_HEAD "    attributes:\n"
                        "      - {name: a, ep: 1, cluster: 6, attr: 0, type: bool, value: {const: "
                        "0}}\n"
                        "      - {name: b, ep: 1, cluster: 6, attr: 1, type: bool, value: {const: "
                        "0}}\n"
                        "      - {name: c, ep: 1, cluster: 6, attr: 2, type: uint17,\n"
                        "         value: {const: 0}}\n",
               "contact.yaml:19: attributes[2].type: unknown ZCL type \"uint17\"");
}

static void test_unknown_channel(void **state) {
  (void)state;
  expect_error("c.yaml",
               MIN_HEAD "    attributes:\n"
                        "      - {name: t, ep: 1, cluster: 0x0402, attr: 0, type: int16,\n"
                        "         value: temprature}\n",
               "c.yaml:18: attributes[0].value: unknown channel \"temprature\"");
  expect_error("c.yaml",
               MIN_HEAD "    channels:\n"
                        "      e: {energy: {of: pwr}}\n",
               "c.yaml:17: channels.e.energy.of: unknown channel \"pwr\"");
  expect_error("c.yaml",
               MIN_HEAD "    channels:\n"
                        "      d: {derive: {op: mul, a: 2, b: x}}\n",
               "c.yaml:17: channels.d.derive.b: unknown channel \"x\"");
  expect_error("c.yaml",
               MIN_HEAD "    channels:\n"
                        "      p: {meter: {on: [s], load_w: [1, 2], noise_pct: 0, standby_w: 0,\n"
                        "                  sample_s: 1}}\n",
               "c.yaml:17: channels.p.meter.on: unknown channel \"s\"");
  expect_error("c.yaml",
               MIN_HEAD "    commands:\n"
                        "      - {cluster: 6, command: 1, do: on, channel: state}\n",
               "c.yaml:17: commands[0].channel: unknown channel \"state\"");
  expect_error("c.yaml",
               MIN_HEAD "    triggers:\n"
                        "      - {name: x, do: detect, channel: motion}\n",
               "c.yaml:17: triggers[0].channel: unknown channel \"motion\"");
  /* a built-in that only battery models have */
  expect_error("c.yaml",
               MIN_HEAD "    heartbeat:\n"
                        "      format: ff01\n"
                        "      period_s: [1, 2]\n"
                        "      tags:\n"
                        "        - {tag: 1, type: uint16, value: battery_mv}\n",
               "c.yaml:20: heartbeat.tags[0].value: unknown channel \"battery_mv\" (the model "
               "has no battery)");
  /* derive cycle */
  expect_error("c.yaml",
               MIN_HEAD "    channels:\n"
                        "      a: {derive: {op: add, a: b, b: 1}}\n"
                        "      b: {derive: {op: add, a: a, b: 1}}\n",
               "c.yaml:17: channels: derive channel \"a\" depends on itself");
}

static void test_duplicate_id(void **state) {
  (void)state;
  struct dev_cat *c = dev_cat_new();
  struct dev_cat_error e;
  assert_int_equal(add(c, "a.yaml", MIN_HEAD, &e), 0);
  assert_int_equal(c->n_models, 1);
  /* the same id in a second file */
  int r = add(c, "b.yaml", "# b\n" MIN_HEAD, &e);
  assert_int_equal(r, SIM_EINVAL);
  char got[600];
  snprintf(got, sizeof(got), "%s:%d: %s", e.file, e.line, e.reason);
  assert_string_equal(got, "b.yaml:3: id: duplicate model id \"t.min\" (first defined at "
                           "a.yaml:2)");
  assert_int_equal(c->n_models, 1); /* unchanged */
  /* an alias naming it */
  r = add(c, "c.yaml",
          "models:\n"
          "  - id: t.other\n"
          "    aliases: [t.x, t.min]\n"
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
          "    endpoints: [{id: 1, profile: 0x0104, device_id: 0x0100}]\n",
          &e);
  assert_int_equal(r, SIM_EINVAL);
  snprintf(got, sizeof(got), "%s:%d: %s", e.file, e.line, e.reason);
  assert_string_equal(got, "c.yaml:3: aliases[1]: duplicate model id \"t.min\" (first defined at "
                           "a.yaml:2)");
  assert_int_equal(c->n_models, 1);
  assert_null(dev_cat_find(c, "t.other"));
  assert_null(dev_cat_find(c, "t.x"));
  dev_cat_free(c);
  /* within one file, and a hub twice */
  expect_error("d.yaml", MIN_HEAD "  - {id: t.min}\n",
               "d.yaml:16: id: duplicate model id \"t.min\" (first defined at d.yaml:2)");
  expect_error("h.yaml",
               "hubs:\n"
               "  - {id: h1, name: H, vendor_model: V, firmware: \"1\", max_devices: 2}\n"
               "  - {id: h1, name: H, vendor_model: V, firmware: \"1\", max_devices: 2}\n",
               "h.yaml:3: hubs[1].id: duplicate hub id \"h1\" (first defined at h.yaml:2)");
}

static void test_bad_hex(void **state) {
  (void)state;
  expect_error("x.yaml",
               MIN_HEAD "    attributes:\n"
                        "      - {name: a, ep: 1, cluster: 0, attr: 0xFF, type: string,\n"
                        "         value: {hex: \"0A0\"}}\n",
               "x.yaml:18: attributes[0].value.hex: \"0A0\" is not an even number of hex digits");
  expect_error("x.yaml",
               MIN_HEAD "    attributes:\n"
                        "      - {name: a, ep: 1, cluster: 0, attr: 0xFF, type: octstr,\n"
                        "         value: {hex: \"0G\"}}\n",
               "x.yaml:18: attributes[0].value.hex: \"0G\" is not hex");
  expect_error("x.yaml",
               MIN_HEAD
               "    attributes:\n"
               "      - {name: a, ep: 1, cluster: 0, attr: 0xFF, type: octstr, value: "
               "{hex:\n"
               "          \"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
               "20\"}}\n",
               "x.yaml:18: attributes[0].value.hex: "
               "\"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20\" is longer "
               "than 32 bytes");
  expect_error("x.yaml",
               MIN_HEAD
               "    channels:\n"
               "      s: {actuator: {min: 0, max: 1, initial: 0}}\n"
               "    attributes:\n"
               "      - {name: a, ep: 1, cluster: 0xFCC0, attr: 1, type: octstr, value: s,\n"
               "         encode: map, map: {0: \"00\", 1: \"1\"}}\n",
               "x.yaml:20: attributes[0].map.1: \"1\" is not an even number of hex digits");
  expect_error("x.yaml",
               MIN_HEAD "    attributes:\n"
                        "      - {name: a, ep: 1, cluster: 6, attr: 0, type: uint8,\n"
                        "         value: {hex: \"00\"}}\n",
               "x.yaml:18: attributes[0].value.hex: hex is only for the string types octstr and "
               "string");
}

static void test_state_too_large(void **state) {
  (void)state;
  char text[8192];
  size_t n = (size_t)snprintf(text, sizeof(text), "%s    channels:\n", MIN_HEAD);
  /* 12 walks of 8 bytes = 96, plus the counters (4 + 2, rounded up to 8): 104 */
  for (int i = 0; i < 12; i++)
    n += (size_t)snprintf(text + n, sizeof(text) - n,
                          "      w%d: {walk: {base: 1, daily_amp: 1, peak_hour: 1, sigma: 1, "
                          "revert: 1, min: 0, max: 2, spread: 0, sample_s: 60}}\n",
                          i);
  expect_error("big.yaml", text,
               "big.yaml:2: model \"t.min\" needs 104 bytes of per-device state, more than the 96 "
               "available");
  /* 11 walks fit: 88 + 8 */
  char *cut = strstr(text, "      w11:");
  assert_non_null(cut);
  *cut = '\0';
  struct dev_cat *c = dev_cat_new();
  struct dev_cat_error e;
  assert_int_equal(add(c, "ok.yaml", text, &e), 0);
  assert_int_equal(c->models[0]->state_bytes, 96);
  dev_cat_free(c);
}

static void test_not_a_number(void **state) {
  (void)state;
  expect_error("n.yaml", MIN_HEAD "    hw_version: two\n",
               "n.yaml:16: hw_version: expected a number, got \"two\"");
  expect_error("n.yaml",
               MIN_HEAD "    channels:\n"
                        "      t: {walk: {base: warm, daily_amp: 1, peak_hour: 1, sigma: 1,\n"
                        "                 revert: 1, min: 0, max: 2, spread: 0, sample_s: 1}}\n",
               "n.yaml:17: channels.t.walk.base: expected a number, got \"warm\"");
  expect_error("n.yaml", MIN_HEAD "    latency_ms: [20, {a: 1}]\n",
               "n.yaml:16: latency_ms: expected a number");
  expect_error("n.yaml",
               MIN_HEAD "    attributes:\n"
                        "      - {name: a, ep: 1, cluster: 6, attr: 0, type: bool, value: {const: "
                        "0},\n"
                        "         on_join: yes}\n",
               "n.yaml:18: attributes[0].on_join: expected true or false, got \"yes\"");
  expect_error("n.yaml",
               "hubs:\n  - {id: h, name: H, vendor_model: V, firmware: \"1\", "
               "max_devices: lots}\n",
               "n.yaml:2: hubs[0].max_devices: expected a number, got \"lots\"");
  expect_error("n.yaml", MIN_HEAD "    lqi: {range: [1, 2], drift: [3]}\n",
               "n.yaml:16: lqi.drift: expected a number");
}

static void test_heartbeat_string_tag(void **state) {
  (void)state;
  expect_error("h.yaml",
               MIN_HEAD "    heartbeat:\n"
                        "      format: 00f7\n"
                        "      period_s: [3000, 3600]\n"
                        "      tags:\n"
                        "        - {tag: 0x03, type: int8, value: device_temp}\n"
                        "        - {tag: 0x05, type: string, value: {const: 1}}\n",
               "h.yaml:21: heartbeat.tags[1].type: string is not a fixed-size numeric type");
  expect_error("h.yaml",
               MIN_HEAD "    heartbeat:\n"
                        "      format: ff02\n"
                        "      period_s: [3000, 3600]\n"
                        "      tags: [{tag: 1, type: uint8, value: {const: 1}}]\n",
               "h.yaml:17: heartbeat.format: expected ff01 or 00f7, got \"ff02\"");
  expect_error("h.yaml",
               MIN_HEAD "    heartbeat:\n"
                        "      format: ff01\n"
                        "      period_s: [3000, 3600]\n"
                        "      tags: [{tag: 1, type: uint8, value: {const: 1}},\n"
                        "             {tag: 1, type: uint8, value: {const: 2}}]\n",
               "h.yaml:20: heartbeat.tags[1]: tag 0x01 listed twice");
}

/* A few more checks of meaning, each with its message. */
static void test_semantics(void **state) {
  (void)state;
  expect_error("s.yaml", MIN_HEAD "    power: battery\n", "s.yaml:16: key \"power\" given twice");
  expect_error("s.yaml",
               MIN_HEAD "    attributes:\n"
                        "      - {name: a, ep: 3, cluster: 6, attr: 0, type: bool, value: {const: "
                        "0}}\n",
               "s.yaml:17: attributes[0].ep: endpoint 3 is not declared in endpoints");
  expect_error(
      "s.yaml",
      MIN_HEAD "    channels:\n"
               "      t: {const: {range: [1, 2]}}\n"
               "    attributes:\n"
               "      - {name: a, ep: 1, cluster: 6, attr: 0, type: bool, value: t,\n"
               "         report: event}\n",
      "s.yaml:20: attributes[0].report: channel \"t\" (const) has no events (report: {with: "
      "CHANNEL} sends it with another channel's events)");
  expect_error("s.yaml",
               MIN_HEAD "    channels:\n"
                        "      t: {const: {range: [1, 2]}}\n"
                        "    commands:\n"
                        "      - {cluster: 6, command: 1, do: on, channel: t}\n",
               "s.yaml:19: commands[0].channel: \"t\" is not an actuator");
  expect_error("s.yaml",
               MIN_HEAD "    channels:\n"
                        "      t: {wlak: {}}\n",
               "s.yaml:17: channels.t: unknown behaviour \"wlak\" (walk, daylight, bursts, "
               "two_state, actuator, meter, energy, derive, const or direction)");
  expect_error("s.yaml",
               MIN_HEAD "    channels:\n"
                        "      lqi: {const: {range: [1, 2]}}\n",
               "s.yaml:17: channels: \"lqi\" is a built-in channel");
  expect_error("s.yaml", MIN_HEAD "    poll_s: 5\n", "s.yaml:16: poll_s: only for sleepy: true");
  expect_error("s.yaml",
               "models:\n  - id: t\n    vendor: V\n    vendor_model: VM\n    description: D\n"
               "    category: c\n    manufacturer: LUMI\n    manufacturer_code: 1\n"
               "    ieee_oui: 1\n    power: solar\n",
               "s.yaml:10: power: expected mains or battery, got \"solar\"");
  expect_error("s.yaml",
               MIN_HEAD "    channels:\n"
                        "      s: {actuator: {min: 0, max: 1, initial: 0}}\n"
                        "    commands:\n"
                        "      - {cluster: 6, command: 1, do: flip, channel: s}\n",
               "s.yaml:19: commands[0].do: expected set, on, off, toggle, arg, stop or detect, "
               "got \"flip\"");
  expect_error("s.yaml",
               MIN_HEAD "    attributes:\n"
                        "      - {name: a, ep: 1, cluster: 0x500, attr: 2, type: bitmap8,\n"
                        "         value: {const: 0}, encode: zone_status, bit: 0}\n",
               "s.yaml:18: attributes[0]: encode: zone_status needs type bitmap16");
  expect_error("s.yaml",
               MIN_HEAD "    attributes:\n"
                        "      - {name: a, ep: 1, cluster: 0, attr: 5, type: string,\n"
                        "         value: {const: 0}}\n",
               "s.yaml:17: attributes[0]: a string attribute needs value: {hex: \"..\"} or "
               "encode: map");
  expect_error("s.yaml",
               MIN_HEAD "    channels:\n"
                        "      s: {actuator: {min: 0, max: 1, initial: 0}}\n"
                        "    triggers:\n"
                        "      - {name: x, do: detect, channel: s}\n",
               "s.yaml:19: triggers[0].channel: \"s\" (actuator) cannot be detected by a "
               "trigger");
}

/* ---- directories -------------------------------------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void rm_dir(const char *dir, const char *const *names, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
    unlink(path);
  }
  rmdir(dir);
}

static void test_add_dir(void **state) {
  (void)state;
  char dir[] = "/tmp/hubsim-cat-XXXXXX";
  assert_non_null(mkdtemp(dir));
  /* b.yaml refers to nothing in a.yaml, but a.yaml must come first: it defines t.min, which
   * b.yaml's hub does not clash with; the order shows in c->models. */
  write_file(dir, "b.yaml", MIN_HEAD);
  write_file(dir, "a.yaml",
             "models:\n"
             "  - id: t.a\n"
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
             "    endpoints: [{id: 1, profile: 0x0104, device_id: 0x0100}]\n");
  write_file(dir, "notes.txt", "not a catalogue file: ignored\n");
  struct dev_cat *c = dev_cat_new();
  struct dev_cat_error e;
  int r = dev_cat_add_dir(c, dir, &e);
  if (r)
    print_error("%s:%d: %s\n", e.file, e.line, e.reason);
  assert_int_equal(r, 0);
  assert_int_equal(c->n_models, 2);
  assert_string_equal(c->models[0]->m.model_id, "t.a");
  assert_string_equal(c->models[1]->m.model_id, "t.min");
  char want[600];
  snprintf(want, sizeof(want), "%s/b.yaml", dir);
  assert_string_equal(c->models[1]->source_file, want);

  /* the same directory again: every id is a duplicate, named with its path and line */
  r = dev_cat_add_dir(c, dir, &e);
  assert_int_equal(r, SIM_EINVAL);
  snprintf(want, sizeof(want), "%s/a.yaml", dir);
  assert_string_equal(e.file, want);
  assert_int_equal(e.line, 2);
  assert_int_equal(c->n_models, 2);
  dev_cat_free(c);

  /* a broken file stops the directory with its name */
  write_file(dir, "c.yaml", "models: [\n");
  c = dev_cat_new();
  r = dev_cat_add_dir(c, dir, &e);
  assert_int_equal(r, SIM_EINVAL);
  snprintf(want, sizeof(want), "%s/c.yaml", dir);
  assert_string_equal(e.file, want);
  assert_int_equal(c->n_models, 2); /* a.yaml and b.yaml were added before */
  dev_cat_free(c);

  static const char *const names[] = {"a.yaml", "b.yaml", "c.yaml", "notes.txt"};
  rm_dir(dir, names, 4);

  /* a missing directory */
  c = dev_cat_new();
  r = dev_cat_add_dir(c, dir, &e);
  assert_int_equal(r, SIM_ENOTFOUND);
  assert_string_equal(e.file, dir);
  assert_int_equal(e.line, 0);
  assert_string_equal(e.reason, "cannot read the catalogue directory: No such file or directory");
  assert_int_equal(c->n_models, 0);
  dev_cat_free(c);
}

/* ---- hostile input: what the loader refuses, and in bounded time -------------------------- */

/* Text of n bytes (heap, NUL-terminated). */
static char *text_buf(size_t n) {
  char *t = malloc(n + 1);
  assert_non_null(t);
  t[n] = '\0';
  return t;
}

/* Every string is checked against what the wire and the hub carry; the reason names the limit. */
static void test_string_limits(void **state) {
  (void)state;
  char yaml[2048], id[301];
  memset(id, 'a', 300);
  memcpy(id, "lumi.", 5);
  id[300] = '\0';
  /* MIN_HEAD with the id replaced (line 2) */
  snprintf(yaml, sizeof yaml, "%s", MIN_HEAD);
  char *at = strstr(yaml, "t.min");
  assert_non_null(at);
  char text[4096];
  snprintf(text, sizeof text, "%.*s%s%s", (int)(at - yaml), yaml, id, at + 5);
  expect_error("id.yaml", text,
               "id.yaml:2: id: \"lumi.aaaaaaaaaaaaaaaaaaaaaaaaaaa...\" is 300 bytes long, more "
               "than the 32 allowed (a ZCL modelIdentifier)");
  /* 32 bytes is the limit, and it loads */
  id[32] = '\0';
  snprintf(text, sizeof text, "%.*s%s%s", (int)(at - yaml), yaml, id, at + 5);
  struct dev_cat *c = dev_cat_new();
  struct dev_cat_error e;
  assert_int_equal(add(c, "id.yaml", text, &e), 0);
  assert_string_equal(c->models[0]->m.model_id, id);
  dev_cat_free(c);
  id[33] = '\0';
  id[32] = 'a';
  snprintf(text, sizeof text, "%.*s%s%s", (int)(at - yaml), yaml, id, at + 5);
  expect_error("id.yaml", text,
               "id.yaml:2: id: \"lumi.aaaaaaaaaaaaaaaaaaaaaaaaaaaa\" is 33 bytes long, more than "
               "the 32 allowed (a ZCL modelIdentifier)");
  expect_error("a.yaml", MIN_HEAD "    aliases: [t.b, \"0123456789012345678901234567890123\"]\n",
               "a.yaml:16: aliases[1]: \"0123456789012345678901234567890123\" is 34 bytes long, "
               "more than the 32 allowed (a ZCL modelIdentifier)");
  expect_error("a.yaml", MIN_HEAD "    aliases: [\"\"]\n",
               "a.yaml:16: aliases[0]: must not be empty");
  expect_error("s.yaml", MIN_HEAD "    sw_build: \"1.2.3.4.5.6.7.8.9\"\n",
               "s.yaml:16: sw_build: \"1.2.3.4.5.6.7.8.9\" is 17 bytes long, more than the 16 "
               "allowed (a ZCL swBuildId)");
  expect_error("v.yaml", MIN_HEAD "    vendor: \"A\\x01B\"\n",
               "v.yaml:16: key \"vendor\" given twice");
  expect_error("v.yaml", "models:\n  - id: t.c\n    vendor: \"A\\x01B\"\n",
               "v.yaml:3: vendor: contains a control character (byte 0x01 at offset 1)");
  expect_error("v.yaml", "models:\n  - id: \"t\\nc\"\n",
               "v.yaml:2: id: contains a control character (byte 0x0A at offset 1)");
  expect_error("h.yaml",
               "hubs:\n  - {id: h.1, name: N, vendor_model: V, max_devices: 1,\n"
               "     firmware: \"0123456789012345678901234567890123456789012345678901234567890123"
               "4\"}\n",
               "h.yaml:3: hubs[0].firmware: \"01234567890123456789012345678901...\" is 65 bytes "
               "long, more than the 64 allowed");
}

/* A legacy model sends its model id and its heartbeat in one frame right after joining; a
 * heartbeat or an id that would not fit the frame is refused (the frame would never go out). */
static void test_frame_limits(void **state) {
  (void)state;
  char text[4096];
  size_t n = (size_t)snprintf(text, sizeof text,
                              MIN_HEAD "    heartbeat:\n      format: ff01\n"
                                       "      period_s: [3000, 3600]\n      tags:\n");
  /* 15 uint48 tags: 4 + 15 * 8 = 124 bytes of record, 129 with the header */
  for (int i = 0; i < 15; i++)
    n += (size_t)snprintf(text + n, sizeof text - n,
                          "        - {tag: %d, type: uint48, value: {const: 1}}\n", i + 1);
  expect_error("hb.yaml", text,
               "hb.yaml:20: heartbeat.tags: the heartbeat frame would take 129 bytes, more than "
               "the 128 of a ZCL frame");
  /* 12 of them fit (105 bytes); with join: legacy and a 32-byte id the join frame is 141 */
  char *cut = strstr(text, "        - {tag: 13,");
  assert_non_null(cut);
  *cut = '\0';
  char legacy[4096];
  snprintf(legacy, sizeof legacy, "%s", text);
  char *j = strstr(legacy, "join: announce");
  assert_non_null(j);
  memcpy(j, "join: legacy  ", 14);
  char *id = strstr(legacy, "t.min");
  assert_non_null(id);
  char big[4096];
  snprintf(big, sizeof big, "%.*s%s%s", (int)(id - legacy), legacy,
           "t.0123456789012345678901234567", id + 5);
  expect_error("j.yaml", big,
               "j.yaml:2: id: \"t.0123456789012345678901234567\": the join frame of a legacy model "
               "(modelId and heartbeat) would take 139 bytes, more than the 128 of a ZCL frame");
  struct dev_cat *c = dev_cat_new();
  struct dev_cat_error e;
  assert_int_equal(add(c, "j.yaml", legacy, &e), 0); /* "t.min": 5 + 9 + 100 = 114 */
  dev_cat_free(c);
}

/* Numbers: finite, at most 1e15 in magnitude, and every duration within what the device
 * clock and the engine take. */
static void test_number_limits(void **state) {
  (void)state;
  expect_error("n.yaml", MIN_HEAD "    channels:\n      k: {const: {range: [0, 1e16]}}\n",
               "n.yaml:17: channels.k.const.range: 1e16 is beyond 1e+15, the largest number a "
               "catalogue takes");
  expect_error("n.yaml", MIN_HEAD "    channels:\n      k: {const: {range: [-1e999, 1]}}\n",
               "n.yaml:17: channels.k.const.range: -1e999 is beyond 1e+15, the largest number a "
               "catalogue takes");
  expect_error("n.yaml", MIN_HEAD "    channels:\n      k: {const: {range: [.nan, 1]}}\n",
               "n.yaml:17: channels.k.const.range: expected a number, got \".nan\"");
  expect_error("n.yaml",
               MIN_HEAD "    channels:\n      k: {derive: {op: add, a: 1, b: 0x10000000000000}}\n",
               "n.yaml:17: channels.k.derive.b: 0x10000000000000 is beyond 1e+15, the largest "
               "number a catalogue takes");
  expect_error("n.yaml", MIN_HEAD "    latency_ms: [0, 700000]\n",
               "n.yaml:16: latency_ms: 700000 is more than 600000 ms (10 minutes)");
  expect_error("n.yaml",
               MIN_HEAD "    channels:\n"
                        "      d: {two_state: {idle: 0, active: 1, gap_day_s: 1, gap_night_s: 1,\n"
                        "          day_h: [7, 23], hold_s: [1, 900000]}}\n",
               "n.yaml:18: channels.d.two_state.hold_s: 900000 is more than 864000 s (10 days, the "
               "longest duration)");
  expect_error("n.yaml",
               MIN_HEAD
               "    channels:\n"
               "      d: {two_state: {idle: 0, active: 1, gap_day_s: 4e9, gap_night_s: 1,\n"
               "          day_h: [7, 23], hold_s: [1, 2]}}\n",
               "n.yaml:17: channels.d.two_state.gap_day_s: 4000000000 is more than 3150000000 s "
               "(about a century)");
  expect_error("n.yaml",
               MIN_HEAD
               "    channels:\n"
               "      t: {walk: {base: 1, daily_amp: 1, peak_hour: 1, sigma: 1,\n"
               "                 revert: 1, min: 0, max: 2, spread: 0, sample_s: 0.0001}}\n",
               "n.yaml:18: channels.t.walk.sample_s: must be at least 0.001 (one millisecond)");
  expect_error("n.yaml",
               MIN_HEAD "    channels:\n"
                        "      b: {bursts: {gap_day_s: 1, gap_night_s: 1, day_h: [7, 23],\n"
                        "          length_s: 0, blind_s: -1, retrigger_s: 0, values: [1]}}\n",
               "n.yaml:18: channels.b.bursts.blind_s: must not be negative");
  expect_error("n.yaml",
               "models:\n  - id: t.b\n    vendor: V\n    vendor_model: VM\n    description: D\n"
               "    category: c\n    manufacturer: LUMI\n    manufacturer_code: 1\n"
               "    ieee_oui: 1\n    power: battery\n    logical_type: end_device\n"
               "    sleepy: true\n    join: announce\n    poll_s: 864001\n",
               "n.yaml:14: poll_s: 864001 is more than 864000 s (10 days, the longest duration)");
  expect_error("n.yaml",
               MIN_HEAD "    channels:\n      s: {actuator: {min: 0, max: 1, initial: 0}}\n"
                        "    attributes:\n"
                        "      - {name: a, ep: 1, cluster: 6, attr: 0, type: uint8, value: s,\n"
                        "         scale: 0, writable: true}\n",
               "n.yaml:20: attributes[0]: scale: 0 cannot be undone for a write (writable)");
}

/* Ids and counts: endpoints as Zigbee numbers them and as DeviceJoined carries them. */
static void test_id_and_count_limits(void **state) {
  (void)state;
  static const char *const head =
      "models:\n  - id: t.e\n    vendor: V\n    vendor_model: VM\n    description: D\n"
      "    category: c\n    manufacturer: LUMI\n    manufacturer_code: 1\n    ieee_oui: 1\n"
      "    power: mains\n    logical_type: router\n    sleepy: false\n    join: announce\n";
  char text[8192];
  snprintf(text, sizeof text, "%s    endpoints: [{id: 0, profile: 1, device_id: 1}]\n", head);
  expect_error("e.yaml", text, "e.yaml:14: endpoints[0].id: 0 is out of range [1, 242]");
  snprintf(text, sizeof text, "%s    endpoints: [{id: 241, profile: 1, device_id: 1}]\n", head);
  expect_error("e.yaml", text,
               "e.yaml:14: endpoints[0].id: 241 is reserved (application endpoints are 1..240, "
               "242 is Green Power)");
  snprintf(text, sizeof text, "%s    endpoints: [{id: 243, profile: 1, device_id: 1}]\n", head);
  expect_error("e.yaml", text, "e.yaml:14: endpoints[0].id: 243 is out of range [1, 242]");
  /* beyond a byte: the id was converted to uint8_t before the error was seen (undefined) */
  snprintf(text, sizeof text, "%s    endpoints: [{id: 482, profile: 1, device_id: 1}]\n", head);
  expect_error("e.yaml", text, "e.yaml:14: endpoints[0].id: 482 is out of range [1, 242]");
  size_t n = (size_t)snprintf(text, sizeof text, "%s    endpoints:\n", head);
  for (int i = 1; i <= 9; i++)
    n += (size_t)snprintf(text + n, sizeof text - n, "      - {id: %d, profile: 1, device_id: 1}\n",
                          i);
  expect_error("e.yaml", text,
               "e.yaml:15: endpoints: expected a list of 1 to 8 endpoints (what DeviceJoined "
               "carries)");
  n = (size_t)snprintf(text, sizeof text,
                       "%s    endpoints: [{id: 1, profile: 1, device_id: 1, in: [", head);
  for (int i = 0; i < 33; i++)
    n += (size_t)snprintf(text + n, sizeof text - n, "%s%d", i ? ", " : "", i);
  snprintf(text + n, sizeof text - n, "]}]\n");
  expect_error("e.yaml", text,
               "e.yaml:14: endpoints[0].in: expected a list of at most 32 cluster ids (what "
               "DeviceJoined carries)");
  snprintf(text, sizeof text,
           "%s    endpoints: [{id: 1, profile: 1, device_id: 1, in: [0x10000]}]\n", head);
  expect_error("e.yaml", text, "e.yaml:14: endpoints[0].in[0]: 0x10000 is out of range [0, 65535]");
  expect_error("l.yaml", "models: []\n", "l.yaml:1: the file defines no model and no hub");
  expect_error("l.yaml", "hubs: []\nmodels: []\n",
               "l.yaml:1: the file defines no model and no hub");
}

/* The engine registers at most 256 model ids: the 257th is refused where it is defined. */
static void test_too_many_models(void **state) {
  (void)state;
  size_t cap = 300 * 260, n = 0;
  char *t = text_buf(cap);
  n += (size_t)snprintf(t + n, cap - n, "models:\n");
  for (int i = 0; i < 257; i++)
    n += (size_t)snprintf(t + n, cap - n,
                          "  - {id: m%d, vendor: V, vendor_model: VM, description: D, category: c,"
                          " manufacturer: L, manufacturer_code: 1, ieee_oui: 1, power: mains,"
                          " logical_type: router, sleepy: false, join: announce,"
                          " endpoints: [{id: 1, profile: 1, device_id: 1}]}\n",
                          i);
  expect_error("many.yaml", t,
               "many.yaml:258: id: model id \"m256\": the catalogue already holds 256 model ids, "
               "the most the engine can register");
  free(t);
}

/* Channels read through one another: a chain longer than the engine follows is refused, a cycle
 * through an energy channel too, and a deep tree of derives that share operands is checked in
 * linear time (it took 2^n steps). */
static void test_read_chains(void **state) {
  (void)state;
  alarm(60); /* fails, rather than hangs, should the check be exponential again */
  char text[8192];
  size_t n = (size_t)snprintf(text, sizeof text, "%s    channels:\n", MIN_HEAD);
  for (int i = 0; i < 60; i++)
    n += (size_t)snprintf(text + n, sizeof text - n,
                          "      c%d: {derive: {op: add, a: c%d, b: c%d}}\n", i, i + 1, i + 1);
  snprintf(text + n, sizeof text - n, "      c60: {const: {range: [1, 2]}}\n");
  expect_error("d.yaml", text,
               "d.yaml:17: channels: channel \"c0\" reads a chain of 61 channels (derive, energy, "
               "device_temp), more than 8");
  n = (size_t)snprintf(text, sizeof text, "%s    channels:\n", MIN_HEAD);
  for (int i = 0; i < 7; i++)
    n += (size_t)snprintf(text + n, sizeof text - n,
                          "      c%d: {derive: {op: add, a: c%d, b: c%d}}\n", i, i + 1, i + 1);
  snprintf(text + n, sizeof text - n, "      c7: {const: {range: [1, 2]}}\n");
  struct dev_cat *c = dev_cat_new();
  struct dev_cat_error e;
  assert_int_equal(add(c, "d.yaml", text, &e), 0); /* 8 channels: the most */
  dev_cat_free(c);
  expect_error("d.yaml",
               MIN_HEAD "    channels:\n"
                        "      p: {derive: {op: mul, a: e, b: 2}}\n"
                        "      e: {energy: {of: p}}\n",
               "d.yaml:17: channels: derive channel \"p\" depends on itself");
  expect_error("d.yaml",
               MIN_HEAD "    device_temp: {power: p}\n"
                        "    channels:\n"
                        "      p: {derive: {op: mul, a: device_temp, b: 2}}\n",
               "d.yaml:18: channels: derive channel \"p\" depends on itself");
  alarm(0);
}

/* Nesting is bounded while the document is built, before libyaml's scanner can spend time
 * quadratic in it: a megabyte of "[" is refused at once, with its line and column. */
static void test_nesting(void **state) {
  (void)state;
  alarm(60); /* the unbounded loader took minutes on this input */
  size_t n = DEV_CAT_FILE_MAX;
  char *t = text_buf(n);
  memcpy(t, "models: ", 8);
  memset(t + 8, '[', n / 2 - 8);
  memset(t + n / 2, ']', n - n / 2);
  struct dev_cat *c = dev_cat_new();
  struct dev_cat_error e;
  assert_int_equal(dev_cat_add_text(c, "deep.yaml", t, n, &e), SIM_EINVAL);
  assert_string_equal(e.file, "deep.yaml");
  assert_int_equal(e.line, 1);
  assert_string_equal(e.reason, "nesting deeper than 32 levels (column 40)");
  dev_cat_free(c);
  free(t);
  /* block style counts the same way; 32 levels are still parsed (and refused by the schema) */
  char text[8192];
  size_t k = 0;
  for (int d = 0; d < 33; d++)
    k += (size_t)snprintf(text + k, sizeof text - k, "%*sk:\n", d, "");
  snprintf(text + k, sizeof text - k, "%*s1\n", 33, "");
  expect_error("block.yaml", text, "block.yaml:33: nesting deeper than 32 levels (column 33)");
  char *last = strstr(text, "                               k:\n"); /* the 32nd level */
  assert_non_null(last);
  snprintf(last, sizeof text - (size_t)(last - text), "%*s1\n", 31, "");
  expect_error("block.yaml", text, "block.yaml:1: unknown key \"k\"");
  alarm(0);
}

/* Anchors and aliases work as in libyaml's loader; an alias must follow its anchor's node. */
static void test_anchors(void **state) {
  (void)state;
  struct dev_cat *c = dev_cat_new();
  struct dev_cat_error e;
  int r = add(c, "a.yaml",
              "models:\n"
              "  - &m {id: t.a, vendor: V, vendor_model: VM, description: D, category: c,\n"
              "        manufacturer: L, manufacturer_code: 1, ieee_oui: 1, power: mains,\n"
              "        logical_type: router, sleepy: false, join: announce,\n"
              "        endpoints: &eps [{id: 1, profile: 1, device_id: 1}]}\n"
              "  - {id: t.b, vendor: V, vendor_model: VM, description: D, category: c,\n"
              "     manufacturer: L, manufacturer_code: 1, ieee_oui: 1, power: mains,\n"
              "     logical_type: router, sleepy: false, join: announce, endpoints: *eps}\n",
              &e);
  if (r)
    print_error("%s:%d: %s\n", e.file, e.line, e.reason);
  assert_int_equal(r, 0);
  assert_int_equal(c->n_models, 2);
  assert_int_equal(c->models[1]->m.endpoints[0].id, 1);
  dev_cat_free(c);
  expect_error("a.yaml", "models: *nothing\n",
               "a.yaml:1: alias *nothing: no complete node has that anchor before it (column 9)");
  expect_error("a.yaml", "models: &x [*x]\n",
               "a.yaml:1: alias *x: no complete node has that anchor before it (column 13)");
  expect_error("a.yaml", "models: [&x 1, &x 2]\n",
               "a.yaml:1: anchor &x is defined twice (column 16)");
}

/* A text longer than a catalogue file may be is refused before it is parsed. */
static void test_text_too_long(void **state) {
  (void)state;
  size_t n = DEV_CAT_FILE_MAX + 1;
  char *t = text_buf(n);
  memset(t, '#', n);
  struct dev_cat *c = dev_cat_new();
  struct dev_cat_error e;
  assert_int_equal(dev_cat_add_text(c, "big.yaml", t, n, &e), SIM_EINVAL);
  char got[600];
  snprintf(got, sizeof got, "%s:%d: %s", e.file, e.line, e.reason);
  assert_string_equal(got, "big.yaml:0: 1048577 bytes, more than the 1048576 a catalogue file may "
                           "have");
  dev_cat_free(c);
  free(t);
}

/* Paths that are not regular files are refused by what they are, without being read: a FIFO
 * (which blocked the start for ever), a device (/dev/zero filled the memory), a directory (said
 * "Input/output error"); a file over the limit by its size. A symbolic link to a regular file
 * is followed. */
static void test_file_kinds(void **state) {
  (void)state;
  alarm(60); /* a FIFO opened for reading blocks until a writer comes: fail, never hang */
  char dir[] = "/tmp/hubsim-cat-kinds-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char p[600], q[600], want[700];
  struct dev_cat_error e;
  struct dev_cat *c = dev_cat_new();

  snprintf(p, sizeof p, "%s/fifo.yaml", dir);
  assert_int_equal(mkfifo(p, 0600), 0);
  assert_int_equal(dev_cat_add_file(c, p, &e), SIM_EINVAL);
  assert_string_equal(e.file, p);
  assert_int_equal(e.line, 0);
  assert_string_equal(e.reason, "is a FIFO, not a regular file");
  unlink(p);

  snprintf(p, sizeof p, "%s/zero.yaml", dir);
  assert_int_equal(symlink("/dev/zero", p), 0);
  assert_int_equal(dev_cat_add_file(c, p, &e), SIM_EINVAL);
  assert_string_equal(e.reason, "is a character device, not a regular file");
  unlink(p);

  snprintf(p, sizeof p, "%s/sub.yaml", dir);
  assert_int_equal(mkdir(p, 0700), 0);
  assert_int_equal(dev_cat_add_file(c, p, &e), SIM_EINVAL);
  assert_string_equal(e.reason, "is a directory, not a regular file");
  /* the same through a directory listing */
  assert_int_equal(dev_cat_add_dir(c, dir, &e), SIM_EINVAL);
  assert_string_equal(e.file, p);
  assert_string_equal(e.reason, "is a directory, not a regular file");
  rmdir(p);

  snprintf(p, sizeof p, "%s/big.yaml", dir);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  assert_int_equal(ftruncate(fileno(f), 2 * DEV_CAT_FILE_MAX), 0);
  fclose(f);
  assert_int_equal(dev_cat_add_file(c, p, &e), SIM_EINVAL);
  assert_string_equal(e.reason, "is 2097152 bytes, more than the 1048576 a catalogue file may "
                                "have");
  unlink(p);

  snprintf(p, sizeof p, "%s/gone.yaml", dir);
  assert_int_equal(symlink("/nonexistent/hubsim", p), 0);
  assert_int_equal(dev_cat_add_file(c, p, &e), SIM_EINVAL);
  assert_string_equal(e.reason, "cannot read the catalogue file: No such file or directory");
  unlink(p);

  /* a link to a regular file is a file */
  snprintf(q, sizeof q, "%s/real.txt", dir);
  write_file(dir, "real.txt", MIN_HEAD);
  snprintf(p, sizeof p, "%s/link.yaml", dir);
  assert_int_equal(symlink(q, p), 0);
  assert_int_equal(dev_cat_add_dir(c, dir, &e), 0);
  assert_int_equal(c->n_models, 1);
  snprintf(want, sizeof want, "%s", p);
  assert_string_equal(c->models[0]->source_file, want);
  unlink(p);
  unlink(q);
  dev_cat_free(c);
  rmdir(dir);
  alarm(0);
}

/* A directory holds at most 512 catalogue files. */
static void test_dir_file_count(void **state) {
  (void)state;
  char dir[] = "/tmp/hubsim-cat-many-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char name[64];
  for (int i = 0; i <= DEV_CAT_DIR_FILES_MAX; i++) {
    snprintf(name, sizeof name, "f%04d.yaml", i);
    write_file(dir, name, "hubs: []\n");
  }
  struct dev_cat *c = dev_cat_new();
  struct dev_cat_error e;
  assert_int_equal(dev_cat_add_dir(c, dir, &e), SIM_EINVAL);
  assert_string_equal(e.file, dir);
  assert_string_equal(e.reason, "more than 512 *.yaml files in one catalogue directory");
  dev_cat_free(c);
  for (int i = 0; i <= DEV_CAT_DIR_FILES_MAX; i++) {
    char p[600];
    snprintf(p, sizeof p, "%s/f%04d.yaml", dir, i);
    unlink(p);
  }
  rmdir(dir);
}

/* The built-in catalogue (devices/catalog/ at build time) loads without error, and every model
 * fits its state budget. */
static void test_builtin(void **state) {
  (void)state;
  struct dev_cat *c = dev_cat_new();
  struct dev_cat_error e;
  int r = dev_cat_add_builtin(c, &e);
  if (r)
    print_error("%s:%d: %s\n", e.file, e.line, e.reason);
  assert_int_equal(r, 0);
  for (size_t i = 0; i < c->n_models; i++) {
    const struct dev_cat_model *cm = c->models[i];
    assert_true(cm->state_bytes <= SIM_DEV_STATE_BYTES);
    assert_ptr_equal(cm->m.ops, &dev_generic_ops);
    assert_ptr_equal(dev_cat_find(c, cm->m.model_id), cm);
    print_message("  %-28s %-16s %3u B of state  %s:%d\n", cm->m.model_id, cm->m.vendor_model,
                  cm->state_bytes, cm->source_file, cm->source_line);
  }
  dev_cat_free(c);
}

/* One hub is the default (`default: true`): the built-in catalogue has one, an alias never is,
 * and a second default in the same catalogue is refused with where the first one is. */
static void test_default_hub(void **state) {
  (void)state;
  struct dev_cat *c = dev_cat_new();
  struct dev_cat_error e;
  assert_null(dev_cat_default_hub(c));
  assert_null(dev_cat_default_hub(NULL));
  assert_int_equal(dev_cat_add_builtin(c, &e), 0);
  const struct dev_cat_hub *d = dev_cat_default_hub(c);
  assert_non_null(d);
  assert_ptr_equal(dev_cat_find_hub(c, d->model_id), d);
  size_t n = 0;
  for (size_t i = 0; i < c->n_hubs; i++)
    n += c->hubs[i].is_default;
  assert_int_equal(n, 1);
  /* a second default, in another file */
  assert_int_equal(add(c, "d.yaml",
                       "hubs:\n"
                       "  - {id: h.d, name: N, vendor_model: V, firmware: \"1\", max_devices: 1,\n"
                       "     default: true}\n",
                       &e),
                   SIM_EINVAL);
  char want[400], got[600];
  snprintf(want, sizeof want,
           "d.yaml:3: hubs[0].default: the default hub is already \"%s\" (defined at %s:%d)",
           d->model_id, d->source_file, d->source_line);
  snprintf(got, sizeof got, "%s:%d: %s", e.file, e.line, e.reason);
  assert_string_equal(got, want);
  assert_ptr_equal(dev_cat_default_hub(c), d);
  dev_cat_free(c);

  c = dev_cat_new();
  assert_int_equal(add(c, "a.yaml",
                       "hubs:\n"
                       "  - {id: h.1, aliases: [h.2], name: N, vendor_model: V, firmware: \"1\",\n"
                       "     max_devices: 1, default: true}\n"
                       "  - {id: h.3, name: N, vendor_model: V, firmware: \"1\", max_devices: 1,\n"
                       "     default: false}\n",
                       &e),
                   0);
  assert_string_equal(dev_cat_default_hub(c)->model_id, "h.1");
  assert_false(dev_cat_find_hub(c, "h.2")->is_default);
  assert_false(dev_cat_find_hub(c, "h.3")->is_default);
  dev_cat_free(c);
  expect_error("t.yaml",
               "hubs:\n"
               "  - {id: h.1, name: N, vendor_model: V, firmware: \"1\", max_devices: 1,\n"
               "     default: true}\n"
               "  - {id: h.2, name: N, vendor_model: V, firmware: \"1\", max_devices: 1,\n"
               "     default: true}\n",
               "t.yaml:5: hubs[1].default: the default hub is already \"h.1\" (defined at "
               "t.yaml:2)");
  expect_error("t.yaml",
               "hubs:\n"
               "  - {id: h.1, name: N, vendor_model: V, firmware: \"1\", max_devices: 1,\n"
               "     default: yes}\n",
               "t.yaml:3: hubs[0].default: expected true or false, got \"yes\"");
}

/* The process-wide catalogue registers its models once. */
static void test_global(void **state) {
  (void)state;
  sim_model_reset();
  struct dev_cat_error e;
  int r = dev_cat_global_init(NULL, 0, &e);
  if (r)
    print_error("%s:%d: %s\n", e.file, e.line, e.reason);
  assert_int_equal(r, 0);
  const struct dev_cat *g = dev_cat_global();
  assert_non_null(g);
  assert_int_equal(sim_model_count(), g->n_models);
  for (size_t i = 0; i < g->n_models; i++)
    assert_ptr_equal(sim_model_get((uint16_t)sim_model_find(g->models[i]->m.model_id)),
                     &g->models[i]->m);
  assert_int_equal(dev_cat_global_init(NULL, 0, &e), 0); /* idempotent */
  assert_ptr_equal(dev_cat_global(), g);
  assert_int_equal(sim_model_count(), g->n_models);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid),           cmocka_unit_test(test_mains_ff01),
      cmocka_unit_test(test_type_names),      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_syntax_error),    cmocka_unit_test(test_unknown_key),
      cmocka_unit_test(test_missing_key),     cmocka_unit_test(test_unknown_type),
      cmocka_unit_test(test_unknown_channel), cmocka_unit_test(test_duplicate_id),
      cmocka_unit_test(test_bad_hex),         cmocka_unit_test(test_state_too_large),
      cmocka_unit_test(test_not_a_number),    cmocka_unit_test(test_heartbeat_string_tag),
      cmocka_unit_test(test_semantics),       cmocka_unit_test(test_add_dir),
      cmocka_unit_test(test_builtin),         cmocka_unit_test(test_global),
      cmocka_unit_test(test_string_limits),   cmocka_unit_test(test_frame_limits),
      cmocka_unit_test(test_number_limits),   cmocka_unit_test(test_id_and_count_limits),
      cmocka_unit_test(test_too_many_models), cmocka_unit_test(test_read_chains),
      cmocka_unit_test(test_nesting),         cmocka_unit_test(test_anchors),
      cmocka_unit_test(test_text_too_long),   cmocka_unit_test(test_file_kinds),
      cmocka_unit_test(test_dir_file_count),  cmocka_unit_test(test_default_hub),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
