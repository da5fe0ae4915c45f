/* The catalogue loader (devices/cat_load.c) on hostile input: what it refuses (strings, frames,
 * numbers, counts, read chains, nesting, anchors, size), with the limit named, in bounded time. */
#include "cat_test.h"

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_string_limits),   cmocka_unit_test(test_frame_limits),
      cmocka_unit_test(test_number_limits),   cmocka_unit_test(test_id_and_count_limits),
      cmocka_unit_test(test_too_many_models), cmocka_unit_test(test_read_chains),
      cmocka_unit_test(test_nesting),         cmocka_unit_test(test_anchors),
      cmocka_unit_test(test_text_too_long),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
