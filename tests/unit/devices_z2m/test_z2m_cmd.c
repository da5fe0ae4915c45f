/* /set and /get of the zigbee2mqtt profile: a /set on a plug, a light and a curtain becomes the
 * ZCL commands hubsim executes for a hubrpc Command, the device executes them, and its own
 * reports bring the next state message to the new value; /get becomes a read whose response
 * updates the state. Bad payloads (not JSON, nested deep, too long, wrong types, out of range,
 * unknown or read-only keys, random bytes) are refused with a zigbee2mqtt-style error and no
 * command, and never crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "z2m_test.h"

#include "sim/wire/zcl.h"

/* Parses payload as /set (or /get) for the rig's device and runs the commands on it, then
 * lets the device run for run_s seconds (an actuator's latency and travel). */
static void set_and_run(struct rig *r, int set, const char *endpoint, const char *attr,
                        const char *payload, int run_s) {
  struct dev_z2m_cmds cmds;
  struct dev_z2m_err err;
  int rc =
      set ? dev_z2m_parse_set(&r->zd, "dev", endpoint, attr, payload, strlen(payload), &cmds, &err)
          : dev_z2m_parse_get(&r->zd, "dev", endpoint, attr, payload, strlen(payload), &cmds, &err);
  if (rc != 0)
    fail_msg("%s %s: %s", set ? "set" : "get", payload, err.message);
  assert_true(cmds.n >= 1);
  sim_time_t t0 = r->env.now;
  for (size_t i = 0; i < cmds.n; i++) {
    uint32_t lat = 0;
    int st = r->m->ops->command(r->m, &r->dev, &r->env, &cmds.c[i].cmd, &lat);
    if (st != SIM_ZCL_STATUS_SUCCESS)
      fail_msg("%s: command %zu (cluster 0x%04x cmd 0x%02x) answered ZCL status 0x%02x", payload, i,
               cmds.c[i].cmd.cluster, cmds.c[i].cmd.command, st);
  }
  rig_run_until(r, t0 + SIM_SEC(run_s));
}

/* A device of model_id, joined and settled for 10 s. */
static void start(struct rig *r, const char *model_id, uint64_t seed) {
  assert_int_equal(rig_init(r, model_id, seed), 0);
  rig_run_until(r, SIM_SEC(10));
}

/* The cached value of key as JSON text, compared. */
static void assert_key(struct rig *r, const char *key, const char *want) {
  char *got = dev_z2m_dev_get(&r->zd, key);
  if (!got || strcmp(got, want) != 0)
    fail_msg("%s: %s, want %s", key, got ? got : "(none)", want);
  free(got);
}

/* The next state message carries key=want. */
static void assert_in_state(struct rig *r, const char *key, json_t *want) {
  char *msg = dev_z2m_dev_state(&r->zd);
  assert_non_null(msg);
  json_t *j = json_loads(msg, 0, NULL);
  if (!json_equal(json_object_get(j, key), want))
    fail_msg("state message %s has no %s as wanted", msg, key);
  json_decref(j);
  json_decref(want);
  free(msg);
}

static void test_plug(void **state) {
  (void)state;
  struct rig r;
  start(&r, "lumi.plug.maeu01", 1);
  assert_key(&r, "state", "\"ON\"");
  set_and_run(&r, 1, NULL, NULL, "{\"state\":\"OFF\"}", 5);
  assert_key(&r, "state", "\"OFF\"");
  assert_in_state(&r, "state", json_string("OFF"));
  set_and_run(&r, 1, NULL, NULL, "toggle", 5); /* a bare word is {"state": word} */
  assert_in_state(&r, "state", json_string("ON"));
  set_and_run(&r, 1, NULL, "state", "OFF", 5); /* <name>/set/state OFF */
  assert_in_state(&r, "state", json_string("OFF"));
  /* /get {"state":""}: a read of genOnOff onOff, answered and converted. */
  struct dev_z2m_cmds cmds;
  struct dev_z2m_err err;
  assert_int_equal(dev_z2m_parse_get(&r.zd, "dev", NULL, NULL, "{\"state\":\"\"}", 12, &cmds, &err),
                   0);
  assert_int_equal(cmds.n, 1);
  assert_int_equal(cmds.c[0].cmd.cluster, 0x0006);
  assert_int_equal(cmds.c[0].cmd.global, 1);
  assert_int_equal(cmds.c[0].cmd.command, SIM_ZCL_CMD_READ_ATTR);
  assert_int_equal(cmds.c[0].cmd.len, 2);
  int before = r.changed;
  set_and_run(&r, 0, NULL, NULL, "{\"state\":\"\"}", 1);
  assert_true(r.changed > before);
  assert_key(&r, "state", "\"OFF\"");
  rig_fini(&r);
}

static void test_light(void **state) {
  (void)state;
  struct rig r;
  start(&r, "lumi.light.aqcn02", 2);
  set_and_run(&r, 1, NULL, NULL, "{\"state\":\"ON\",\"brightness\":128,\"color_temp\":300}", 5);
  assert_key(&r, "state", "\"ON\"");
  assert_key(&r, "brightness", "128");
  assert_key(&r, "color_temp", "300");
  assert_in_state(&r, "brightness", json_integer(128));
  set_and_run(&r, 1, NULL, NULL, "{\"brightness\":1}", 5);
  assert_in_state(&r, "brightness", json_integer(1));
  rig_fini(&r);
}

static void test_curtain(void **state) {
  (void)state;
  struct rig r;
  start(&r, "lumi.curtain", 3);
  set_and_run(&r, 1, NULL, NULL, "{\"position\":50}", 60);
  assert_key(&r, "position", "50");
  assert_in_state(&r, "position", json_integer(50));
  set_and_run(&r, 1, NULL, NULL, "{\"state\":\"CLOSE\"}", 60);
  assert_in_state(&r, "position", json_integer(0));
  /* OPEN, then STOP 10 s into the 40 s travel: it stops on the way. */
  set_and_run(&r, 1, NULL, NULL, "{\"state\":\"OPEN\"}", 10);
  set_and_run(&r, 1, NULL, NULL, "{\"state\":\"STOP\"}", 60);
  char *pos = dev_z2m_dev_get(&r.zd, "position");
  assert_non_null(pos);
  int p = atoi(pos);
  free(pos);
  if (p <= 0 || p >= 100)
    fail_msg("position %d after a stop halfway", p);
  /* /get {"position":""}: a read of genAnalogOutput presentValue brings the same position. */
  int before = r.changed;
  set_and_run(&r, 0, NULL, NULL, "{\"position\":\"\"}", 1);
  assert_true(r.changed > before);
  char want[16];
  snprintf(want, sizeof want, "%d", p);
  assert_key(&r, "position", want);
  rig_fini(&r);
}

/* <name>/right/set {"state":"ON"} is {"state_right":"ON"}: genOnOff on, endpoint 2. */
static void test_endpoint(void **state) {
  (void)state;
  struct rig r;
  start(&r, "lumi.ctrl_ln2.aq1", 4);
  set_and_run(&r, 1, "right", NULL, "{\"state\":\"ON\"}", 5);
  assert_key(&r, "state_right", "\"ON\"");
  set_and_run(&r, 1, NULL, NULL, "{\"state_right\":\"OFF\"}", 5);
  assert_key(&r, "state_right", "\"OFF\"");
  rig_fini(&r);
}

/* Refused with SIM_EINVAL, no command, an error message containing want. */
static void refused(struct dev_z2m_dev *zd, int set, const char *attr, const char *p, size_t len,
                    const char *want) {
  struct dev_z2m_cmds cmds = {.n = 99};
  struct dev_z2m_err err = {{0}};
  int rc = set ? dev_z2m_parse_set(zd, "hall/bulb", NULL, attr, p, len, &cmds, &err)
               : dev_z2m_parse_get(zd, "hall/bulb", NULL, attr, p, len, &cmds, &err);
  if (rc != SIM_EINVAL || cmds.n != 0)
    fail_msg("%.60s: rc %d, %zu commands", p, rc, cmds.n);
  if (!strstr(err.message, want) || strncmp(err.message, "z2m: ", 5) != 0)
    fail_msg("%.60s: message \"%s\", want \"%s\"", p, err.message, want);
  char *j = dev_z2m_err_json(&err);
  json_t *o = json_loads(j, 0, NULL);
  assert_string_equal(json_string_value(json_object_get(o, "level")), "error");
  json_decref(o);
  free(j);
}

static void test_bad_payloads(void **state) {
  (void)state;
  struct dev_z2m_dev light, plug, magnet;
  assert_int_equal(dev_z2m_dev_init(&light, "lumi.light.aqcn02"), 0);
  assert_int_equal(dev_z2m_dev_init(&plug, "lumi.plug.maeu01"), 0);
  assert_int_equal(dev_z2m_dev_init(&magnet, "lumi.sensor_magnet.aq2"), 0);
#define R(zd, p, want) refused(zd, 1, NULL, p, strlen(p), want)
  R(&light, "garbage{", "Invalid message");
  R(&light, "", "Invalid message");
  R(&light, "[1,2]", "not a JSON object");
  R(&light, "{\"state\":5}", "is not one of value_on");
  R(&light, "{\"state\":\"on\"}", "is not one of value_on");
  R(&light, "{\"brightness\":\"x\"}", "not a number");
  R(&light, "{\"brightness\":300}", "out of range");
  R(&light, "{\"brightness\":-1}", "out of range");
  R(&light, "{\"brightness\":{\"a\":1}}", "not a number");
  R(&light, "{\"foo\":1}", "No converter available for 'foo' on 'hall/bulb'");
  R(&light, "{\"state\":\"ON\",\"foo\":1}", "No converter available for 'foo'");
  R(&light, "{\"device_temperature\":20}", "No converter available"); /* read only */
  R(&plug, "{\"power\":5}", "No converter available");                /* read only */
  R(&magnet, "{\"identify\":\"identify\"}", "does not take it");      /* not simulated */
  refused(&light, 1, "state", "\xff\xfe", 2, "Invalid message");
  refused(&light, 1, NULL, "{\"state\":\"ON\"}\0x", 16, "Invalid message");
  refused(&light, 0, NULL, "{\"power_outage_memory\":\"\"}", 26, "No converter available");
  refused(&plug, 0, NULL, "{\"linkquality\":\"\"}", 18, "No converter available");
  /* Nested 2,000 deep and 5,000 bytes long: refused before jansson sees them. */
  static char deep[4001], huge[5001 + 16];
  memset(deep, '[', 2000);
  memset(deep + 2000, ']', 2000);
  R(&light, deep, "nested deeper than 4");
  snprintf(huge, sizeof huge, "{\"state\":\"%0*d\"}", 5000, 0);
  R(&light, huge, "more than 4096");
#undef R
  /* Random payloads of JSON-ish bytes: an error or commands, never a crash. */
  static const char alphabet[] = "{}[]\":,0123456789.-eE truefalsnONOFstatebrightnes\\u\xff";
  struct sim_rng rng;
  sim_rng_seed(&rng, 5, 1);
  char buf[128];
  int ok = 0;
  for (int i = 0; i < 20000; i++) {
    size_t len = sim_rng_below(&rng, sizeof buf);
    for (size_t k = 0; k < len; k++)
      buf[k] = alphabet[sim_rng_below(&rng, sizeof alphabet - 1)];
    struct dev_z2m_cmds cmds;
    struct dev_z2m_err err;
    int rc = dev_z2m_parse_set(&light, "hall/bulb", NULL, NULL, buf, len, &cmds, &err);
    assert_true(rc == 0 || rc == SIM_EINVAL);
    ok += rc == 0;
  }
  print_message("%d of 20000 random payloads parsed\n", ok);
  /* Mutations of valid payloads: a byte changed, dropped or doubled, a few times over. */
  static const char *const valid[] = {"{\"state\":\"ON\",\"brightness\":128}",
                                      "{\"color_temp\":300}", "{\"state\":\"TOGGLE\"}", "off"};
  ok = 0;
  for (int i = 0; i < 20000; i++) {
    const char *v = valid[i % 4];
    size_t len = strlen(v);
    memcpy(buf, v, len);
    for (uint32_t k = 0, n = 1 + sim_rng_below(&rng, 3); k < n && len > 0; k++) {
      size_t at = sim_rng_below(&rng, (uint32_t)len);
      uint32_t op = sim_rng_below(&rng, 3);
      if (op == 0)
        buf[at] = (char)sim_rng_u32(&rng);
      else if (op == 1)
        memmove(buf + at, buf + at + 1, --len - at);
      else if (len + 1 < sizeof buf)
        memmove(buf + at + 1, buf + at, len++ - at);
    }
    struct dev_z2m_cmds cmds;
    struct dev_z2m_err err;
    int rc = dev_z2m_parse_set(&light, "hall/bulb", NULL, NULL, buf, len, &cmds, &err);
    assert_true(rc == 0 || rc == SIM_EINVAL);
    assert_true(rc != 0 || (cmds.n >= 1 && cmds.n <= DEV_Z2M_CMDS_MAX));
    ok += rc == 0;
  }
  print_message("%d of 20000 mutated payloads parsed\n", ok);
  assert_true(ok > 0);
  dev_z2m_dev_fini(&light);
  dev_z2m_dev_fini(&plug);
  dev_z2m_dev_fini(&magnet);
}

static int known_name(void *arg, const char *name) {
  (void)arg;
  return strcmp(name, "kitchen/plug") == 0 || strcmp(name, "hall/double_switch") == 0 ||
         strcmp(name, "0x00158d0000a00013") == 0;
}

/* Topics as zigbee2mqtt splits them: name with slashes, endpoint, attribute, and what is not a
 * device command. */
static void test_topics(void **state) {
  (void)state;
  struct dev_z2m_topic t;
#define TOPIC(s) dev_z2m_parse_topic("zigbee2mqtt", s, strlen(s), known_name, NULL, &t)
  assert_int_equal(TOPIC("zigbee2mqtt/kitchen/plug/set"), 0);
  assert_int_equal(t.set, 1);
  assert_string_equal(t.name, "kitchen/plug");
  assert_string_equal(t.endpoint, "");
  assert_string_equal(t.attr, "");
  assert_int_equal(TOPIC("zigbee2mqtt/kitchen/plug/set/state"), 0);
  assert_string_equal(t.attr, "state");
  assert_int_equal(TOPIC("zigbee2mqtt/kitchen/plug/get"), 0);
  assert_int_equal(t.set, 0);
  assert_int_equal(TOPIC("zigbee2mqtt/hall/double_switch/right/set"), 0);
  assert_string_equal(t.name, "hall/double_switch");
  assert_string_equal(t.endpoint, "right");
  assert_int_equal(TOPIC("zigbee2mqtt/0x00158d0000a00013/get/battery"), 0);
  assert_string_equal(t.name, "0x00158d0000a00013");
  assert_string_equal(t.attr, "battery");
  assert_int_equal(TOPIC("zigbee2mqtt/kitchen/plug"), SIM_ENOTFOUND); /* its state */
  assert_int_equal(TOPIC("zigbee2mqtt/kitchen/plug/availability"), SIM_ENOTFOUND);
  assert_int_equal(TOPIC("zigbee2mqtt/bridge/request/permit_join"), SIM_ENOTFOUND);
  assert_int_equal(TOPIC("zigbee2mqtt/nobody/set"), SIM_ENOTFOUND);
  assert_int_equal(TOPIC("zigbee2mqtt/kitchen/plug/settings"), SIM_ENOTFOUND);
  assert_int_equal(TOPIC("zigbee2mqtt/set"), SIM_ENOTFOUND);
  assert_int_equal(TOPIC("hub0002/kitchen/plug/set"), SIM_ENOTFOUND);
  assert_int_equal(TOPIC("zigbee2mqtt"), SIM_ENOTFOUND);
  assert_int_equal(TOPIC(""), SIM_ENOTFOUND);
  static char longname[400];
  snprintf(longname, sizeof longname, "zigbee2mqtt/%0300d/set", 0);
  assert_int_equal(TOPIC(longname), SIM_EINVAL);
  assert_int_equal(
      dev_z2m_parse_topic("zigbee2mqtt", "zigbee2mqtt/kitchen/plug/set", 20, known_name, NULL, &t),
      SIM_ENOTFOUND); /* cut short: no /set */
#undef TOPIC
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plug),         cmocka_unit_test(test_light),
      cmocka_unit_test(test_curtain),      cmocka_unit_test(test_endpoint),
      cmocka_unit_test(test_bad_payloads), cmocka_unit_test(test_topics),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
