/* The catalogue loader (devices/cat_load.c): a valid file becomes the right tables, with the
 * defaults the format gives, type names and numbers as docs/catalog.md writes them. */
#include "cat_test.h"

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

/* Identity, power, defaults and the battery. */
static void check_identity(const struct dev_cat_model *cm) {
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
}

/* Endpoints and their clusters. */
static void check_endpoints(const struct dev_cat_model *cm) {
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
}

/* The ten declared channels, one of each kind, and the built-ins of a battery model. */
static void check_channels(const struct dev_cat_model *cm) {
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
}

/* Attributes: types, encodings, reports. */
static void check_attributes(const struct dev_cat_model *cm) {
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
}

/* The 00f7 heartbeat and its tags. */
static void check_heartbeat(const struct dev_cat_model *cm) {
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
}

/* Commands and triggers. */
static void check_commands(const struct dev_cat_model *cm) {
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
}

/* State: every stateful piece disjoint and inside the budget. */
static void check_state(const struct dev_cat_model *cm) {
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
}

/* Aliases: models of their own sharing the tables. */
static void check_aliases(const struct dev_cat *c, const struct dev_cat_model *cm) {
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
}

/* Hubs, aliases included. */
static void check_hubs(const struct dev_cat *c) {
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
}

/* One model of every kind of piece, its aliases and two hubs: every value read as written. */
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
  check_identity(cm);
  check_endpoints(cm);
  check_channels(cm);
  check_attributes(cm);
  check_heartbeat(cm);
  check_commands(cm);
  check_state(cm);
  check_aliases(c, cm);
  check_hubs(c);
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid),
      cmocka_unit_test(test_mains_ff01),
      cmocka_unit_test(test_type_names),
      cmocka_unit_test(test_numbers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
