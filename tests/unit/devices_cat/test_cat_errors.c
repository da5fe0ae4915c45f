/* The catalogue loader (devices/cat_load.c): every kind of malformed file is refused with the
 * exact "FILE:LINE: reason" and the catalogue left as it was. */
#include "cat_test.h"

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_syntax_error),    cmocka_unit_test(test_unknown_key),
      cmocka_unit_test(test_missing_key),     cmocka_unit_test(test_unknown_type),
      cmocka_unit_test(test_unknown_channel), cmocka_unit_test(test_duplicate_id),
      cmocka_unit_test(test_bad_hex),         cmocka_unit_test(test_state_too_large),
      cmocka_unit_test(test_not_a_number),    cmocka_unit_test(test_heartbeat_string_tag),
      cmocka_unit_test(test_semantics),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
