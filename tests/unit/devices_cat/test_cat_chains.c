/* The catalogue keys that tie attributes and channels together (devices/cat_chains.c,
 * devices/cat_validate.c): `same_frame` of an attribute, `then` of a command and `chains` of a
 * model are loaded into their tables, and every bad use is refused with the file, the line,
 * the key path and the model. */
#include "cat_test.h"

/* Lines 16-19: two actuators, an event channel and a walk, for the cases below. */
#define CH_HEAD                                                                                    \
  MIN_HEAD "    channels:\n"                                                                       \
           "      a: {actuator: {min: 0, max: 1, initial: 0}}\n"                                   \
           "      b: {actuator: {min: 0, max: 2, initial: 0}}\n"                                   \
           "      w: {walk: {base: 1, daily_amp: 1, peak_hour: 1, sigma: 1, revert: 1, min: 0,\n"  \
           "                 max: 9, spread: 0, sample_s: 60}}\n"

/* Lines 16-23: three attributes of one cluster, for same_frame. */
#define ATTR_HEAD                                                                                  \
  CH_HEAD "    attributes:\n"                                                                      \
          "      - {name: m, ep: 1, cluster: 0x0403, attr: 0, type: int16, value: w,\n"            \
          "         report: {change: 1}, on_join: true"

static const char *const ATTR_TAIL = "}\n"
                                     "      - {name: s, ep: 1, cluster: 0x0403, attr: 0x14, type: "
                                     "int8, value: {const: -1}}\n"
                                     "      - {name: v, ep: 1, cluster: 0x0403, attr: 0x10, type: "
                                     "int16, value: w, scale: 10}\n";

static void expect_attr_error(const char *same, const char *want) {
  char text[2048];
  snprintf(text, sizeof text, "%s, same_frame: %s%s", ATTR_HEAD, same, ATTR_TAIL);
  expect_error("f.yaml", text, want);
}

/* Loads text into c, which must accept it; its model t.min. */
static const struct dev_cat_model *load_ok(struct dev_cat *c, const char *text) {
  struct dev_cat_error e;
  if (add(c, "f.yaml", text, &e) != 0)
    fail_msg("%s:%d: %s", e.file, e.line, e.reason);
  const struct dev_cat_model *cm = dev_cat_find(c, "t.min");
  assert_non_null(cm);
  return cm;
}

static void test_same_frame_loads(void **state) {
  (void)state;
  char text[2048];
  snprintf(text, sizeof text, "%s, same_frame: [0x14, 0x10]%s", ATTR_HEAD, ATTR_TAIL);
  struct dev_cat *c = dev_cat_new();
  const struct dev_cat_model *cm = load_ok(c, text);
  assert_int_equal(cm->attr[0].n_same, 2);
  assert_int_equal(cm->attr[0].same[0], 1);
  assert_int_equal(cm->attr[0].same[1], 2);
  assert_int_equal(cm->attr[1].in_frame_of, 1);
  assert_int_equal(cm->attr[2].in_frame_of, 1);
  dev_cat_free(c);
}

static void test_same_frame_errors(void **state) {
  (void)state;
  expect_attr_error("[0x15]", "f.yaml:23: attributes[0].same_frame[0]: model t.min: 0x0015 is "
                              "not an attribute of endpoint 1 cluster 0x0403");
  expect_attr_error("[0]", "f.yaml:23: attributes[0].same_frame[0]: model t.min: 0x0000 is "
                           "the attribute itself");
  expect_attr_error("[0x14, 0x14]", "f.yaml:23: attributes[0].same_frame[1]: model t.min: "
                                    "0x0014 is already sent in another attribute's frame");
  expect_attr_error("0x14", "f.yaml:23: attributes[0].same_frame: model t.min: expected a list "
                            "of 1 to 4 attribute ids");
  expect_attr_error("[1, 2, 3, 4, 5]", "f.yaml:23: attributes[0].same_frame: model t.min: "
                                       "expected a list of 1 to 4 attribute ids");
  expect_attr_error("[x]", "f.yaml:23: attributes[0].same_frame[0]: expected a number, got \"x\"");
  /* The listed attribute reported by itself; the attribute never reported; another mfr. */
  expect_error("f.yaml",
               CH_HEAD "    attributes:\n"
                       "      - {name: m, ep: 1, cluster: 6, attr: 0, type: bool, value: a,\n"
                       "         report: event, same_frame: [1]}\n"
                       "      - {name: n, ep: 1, cluster: 6, attr: 1, type: bool, value: a,\n"
                       "         on_join: true}\n",
               "f.yaml:23: attributes[0].same_frame[0]: model t.min: 0x0001 is reported by "
               "itself (report, on_join or same_frame): an attribute sent in another's frame has "
               "none of them");
  expect_error("f.yaml",
               CH_HEAD "    attributes:\n"
                       "      - {name: m, ep: 1, cluster: 6, attr: 0, type: bool, value: a,\n"
                       "         same_frame: [1]}\n"
                       "      - {name: n, ep: 1, cluster: 6, attr: 1, type: bool, value: a}\n",
               "f.yaml:23: attributes[0].same_frame: model t.min: attribute 0x0000 is never "
               "reported (no report, no on_join)");
  expect_error("f.yaml",
               CH_HEAD "    attributes:\n"
                       "      - {name: m, ep: 1, cluster: 6, attr: 0, type: bool, value: a,\n"
                       "         report: event, same_frame: [1]}\n"
                       "      - {name: n, ep: 1, cluster: 6, attr: 1, type: bool, value: a,\n"
                       "         mfr: 0x115F}\n",
               "f.yaml:23: attributes[0].same_frame[0]: model t.min: 0x0001 has another "
               "manufacturer code (mfr) than 0x0000");
}

static void test_then_and_chains_load(void **state) {
  (void)state;
  const char *text =
      CH_HEAD "      e: {bursts: {gap_day_s: 60, gap_night_s: 60, day_h: [7, 23],\n"
              "                   length_s: 0, blind_s: 1, retrigger_s: 0, values: [1]}}\n"
              "    commands:\n"
              "      - {cluster: 8, command: 4, do: arg, channel: b,\n"
              "         arg: {offset: 0, type: uint8},\n"
              "         then: [{do: follow, channel: a}]}\n"
              "    chains:\n"
              "      - {when: e, do: toggle, channel: a, if: {e: 1, b: 2}}\n"
              "      - {when: a, do: set, channel: b, value: 2}\n";
  struct dev_cat *c = dev_cat_new();
  const struct dev_cat_model *cm = load_ok(c, text);
  int a = dev_cat_channel_find(cm, "a"), b = dev_cat_channel_find(cm, "b");
  assert_int_equal(cm->cmd[0].n_then, 1);
  assert_int_equal(cm->cmd[0].then[0].action, DEV_DO_FOLLOW);
  assert_int_equal(cm->cmd[0].then[0].ch, a);
  assert_int_equal(cm->n_chain, 2);
  assert_int_equal(cm->chain[0].when, dev_cat_channel_find(cm, "e"));
  assert_int_equal(cm->chain[0].s.action, DEV_DO_TOGGLE);
  assert_int_equal(cm->chain[0].s.n_cond, 2);
  assert_int_equal(cm->chain[0].s.cond[1].ch, b);
  assert_true(cm->chain[0].s.cond[1].k == 2);
  assert_int_equal(cm->chain[1].s.action, DEV_DO_SET);
  assert_true(cm->chain[1].s.k == 2);
  dev_cat_free(c);
}

static void test_then_errors(void **state) {
  (void)state;
  expect_error("f.yaml",
               CH_HEAD "    commands:\n"
                       "      - {cluster: 6, command: 1, do: on, channel: a,\n"
                       "         then: [{do: follow, channel: b}]}\n",
               "f.yaml:23: commands[0].then[0]: model t.min: do: follow needs a command that "
               "sets a value (do: set or arg)");
  expect_error("f.yaml",
               CH_HEAD "    commands:\n"
                       "      - {cluster: 6, command: 1, do: on, channel: a,\n"
                       "         then: [{do: on, channel: w}]}\n",
               "f.yaml:23: commands[0].then[0].channel: model t.min: \"w\" (walk) is not an "
               "actuator: a step changes an actuator");
  expect_error("f.yaml",
               CH_HEAD "    commands:\n"
                       "      - {cluster: 6, command: 1, do: on, channel: a,\n"
                       "         then: [{do: off, channel: a}]}\n",
               "f.yaml:23: commands[0].then[0]: model t.min: the step changes \"a\", the "
               "command's own channel");
  expect_error("f.yaml",
               CH_HEAD "    commands:\n"
                       "      - {cluster: 6, command: 1, do: on, channel: a,\n"
                       "         then: [{do: on, channel: b}, {do: on, channel: b},\n"
                       "                {do: on, channel: b}]}\n",
               "f.yaml:23: commands[0].then: model t.min: expected a list of 1 to 2 steps");
  expect_error("f.yaml",
               CH_HEAD "    commands:\n"
                       "      - {cluster: 6, command: 1, do: on, channel: a,\n"
                       "         then: [{do: on, channel: b, valeu: 1}]}\n",
               "f.yaml:23: commands[0].then[0]: unknown key \"valeu\"");
  expect_error("f.yaml",
               CH_HEAD "    commands:\n"
                       "      - {cluster: 6, command: 1, do: on, channel: a,\n"
                       "         then: [{do: on, channel: b, value: 1}]}\n",
               "f.yaml:23: commands[0].then[0].value: model t.min: only with do: set");
}

static void test_chain_errors(void **state) {
  (void)state;
  expect_error("f.yaml",
               CH_HEAD "    chains:\n"
                       "      - {when: w, do: on, channel: a}\n",
               "f.yaml:22: chains[0].when: model t.min: channel \"w\" (walk) has no events");
  /* A loop through two chains, and one onto itself. */
  expect_error("f.yaml",
               CH_HEAD "    chains:\n"
                       "      - {when: a, do: set, channel: b, value: 1}\n"
                       "      - {when: b, do: toggle, channel: a}\n",
               "f.yaml:22: chains: model t.min: an event of channel \"a\" leads back to \"a\" "
               "through the chains (a loop that would never end)");
  expect_error("f.yaml",
               CH_HEAD "    chains:\n"
                       "      - {when: b, do: toggle, channel: b}\n",
               "f.yaml:22: chains: model t.min: an event of channel \"b\" leads back to \"b\" "
               "through the chains (a loop that would never end)");
  expect_error("f.yaml",
               CH_HEAD "    chains:\n"
                       "      - {when: a, do: arg, channel: b}\n",
               "f.yaml:22: chains[0].do: expected set, on, off, toggle or follow, got \"arg\"");
  expect_error("f.yaml",
               CH_HEAD "    chains:\n"
                       "      - {when: a, do: on, channel: b, if: {zz: 1}}\n",
               "f.yaml:22: chains[0].if: unknown channel \"zz\"");
  expect_error("f.yaml",
               CH_HEAD "    chains:\n"
                       "      - {when: a, do: on, channel: b, if: {a: 1, b: 1, w: 1}}\n",
               "f.yaml:22: chains[0].if: model t.min: expected a mapping of 1 to 2 conditions "
               "CHANNEL: VALUE");
  expect_error("f.yaml",
               CH_HEAD "    chains:\n"
                       "      - {when: a, do: on, channel: b, if: {a: x}}\n",
               "f.yaml:22: chains[0].if.a: expected a number, got \"x\"");
  expect_error("f.yaml",
               CH_HEAD "    chains:\n"
                       "      - {when: a, do: on, channel: b, if: {a: 1, a: 2}}\n",
               "f.yaml:22: chains[0].if: model t.min: channel \"a\" named twice");
  expect_error("f.yaml", CH_HEAD "    chains: {when: a}\n",
               "f.yaml:21: chains: model t.min: expected a list of at most 32 chains");
}

/* report: {..., at_once_with: CHANNEL} loads with an event channel, is refused with another. */
static void test_at_once_with(void **state) {
  (void)state;
  const char *text =
      CH_HEAD "    attributes:\n"
              "      - {name: p, ep: 1, cluster: 0x0B04, attr: 0x050B, type: int16,\n"
              "         value: w, report: {change: 2, min_s: 5, at_once_with: a}}\n";
  struct dev_cat *c = dev_cat_new();
  const struct dev_cat_model *cm = load_ok(c, text);
  assert_int_equal(cm->attr[0].at_once_ch, dev_cat_channel_find(cm, "a"));
  dev_cat_free(c);
  expect_error("f.yaml",
               CH_HEAD "    attributes:\n"
                       "      - {name: p, ep: 1, cluster: 0x0B04, attr: 0x050B, type: int16,\n"
                       "         value: w, report: {change: 2, min_s: 5, at_once_with: w}}\n",
               "f.yaml:23: attributes[0].report: at_once_with: model t.min: channel \"w\" (walk) "
               "has no events");
  expect_error("f.yaml",
               CH_HEAD "    attributes:\n"
                       "      - {name: p, ep: 1, cluster: 0x0B04, attr: 0x050B, type: int16,\n"
                       "         value: w, report: {change: 2, min_s: 5, at_once_with: zz}}\n",
               "f.yaml:23: attributes[0].report.at_once_with: unknown channel \"zz\"");
}

/* More chains than DEV_CAT_CHAINS_MAX are refused, exactly DEV_CAT_CHAINS_MAX load. */
static void test_chain_limit(void **state) {
  (void)state;
  for (int n = DEV_CAT_CHAINS_MAX; n <= DEV_CAT_CHAINS_MAX + 1; n++) {
    char text[8192];
    size_t len = (size_t)snprintf(text, sizeof text, "%s    chains:\n", CH_HEAD);
    for (int i = 0; i < n; i++)
      len += (size_t)snprintf(text + len, sizeof text - len,
                              "      - {when: a, do: set, channel: b, value: %d}\n", i % 3);
    struct dev_cat *c = dev_cat_new();
    struct dev_cat_error e;
    int r = add(c, "f.yaml", text, &e);
    if (n == DEV_CAT_CHAINS_MAX) {
      assert_int_equal(r, 0);
    } else {
      assert_int_equal(r, SIM_EINVAL);
      assert_string_equal(e.reason, "chains: model t.min: expected a list of at most 32 chains");
    }
    dev_cat_free(c);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_frame_loads),     cmocka_unit_test(test_same_frame_errors),
      cmocka_unit_test(test_then_and_chains_load), cmocka_unit_test(test_then_errors),
      cmocka_unit_test(test_chain_errors),         cmocka_unit_test(test_chain_limit),
      cmocka_unit_test(test_at_once_with),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
