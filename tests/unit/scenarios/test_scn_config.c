/* What a script declares: durations, scenario{}, fleet{} (counts, distributions, mix), ramp{},
 * expectations as written, and the devices-per-hub draw. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "scenarios/scn.h"
#include "sim/core/err.h"

static struct scn *load_ok(const char *text) {
  struct scn *s = NULL;
  struct scn_error err;
  int rc = scn_load("cfg.lua", text, strlen(text), NULL, &s, &err);
  if (rc) {
    char m[1024];
    scn_error_format(&err, m, sizeof m);
    fail_msg("load failed: %s", m);
  }
  return s;
}

static void test_durations(void **state) {
  (void)state;
  static const struct {
    const char *t;
    double s;
  } good[] = {{"250ms", 0.25}, {"30s", 30},   {"5m", 300},     {"24h", 86400},
              {"1d", 86400},   {"1.5s", 1.5}, {"1h30m", 5400}, {"-5m", -300},
              {"0", 0},        {" 2s ", 2},   {"100us", 1e-4}, {"10", 10}};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    double v = -1;
    assert_int_equal(scn_parse_duration(good[i].t, &v), 0);
    assert_true(v == good[i].s || (v - good[i].s < 1e-12 && good[i].s - v < 1e-12));
  }
  static const char *const bad[] = {"",   "s",     "10x",  "ten seconds", "5 m s", "1e3s?", "--5s",
                                    "m5", "10 5s", "1e3s", "1e308s",      "0x10s", "inf"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    double v;
    if (scn_parse_duration(bad[i], &v) == 0)
      fail_msg("'%s' parsed as %g", bad[i], v);
  }
}

/* The longest values each field takes still load. */
static void test_limits_that_load(void **state) {
  (void)state;
  struct scn *s = load_ok("scenario{name = string.rep('n', 128), description = string.rep('d', "
                          "1024),\n  duration = '3650d', speedup = 1000000}\n"
                          "fleet{hubs = 16777215, devices_per_hub = 128, hub_model = "
                          "'lumi.gateway.aqcn02',\n  prefix = 'a.b_c:d-EFGHIJKLMNOPQRS', key = "
                          "string.rep('k', 128),\n  mix = 'lumi.plug:1e9,lumi.weather:0.5', "
                          "ramp = 1e7}\n"
                          "phase(string.rep('p', 63))\n"
                          "every('1s', function() end, {count = 2^53, to = '3650d'})\n");
  const struct scn_config *c = scn_config(s);
  assert_int_equal(strlen(c->name), 128);
  assert_int_equal(strlen(c->fleet_key), 128);
  assert_string_equal(c->prefix, "a.b_c:d-EFGHIJKLMNOPQRS");
  assert_true(c->duration_s == 3650.0 * 86400);
  scn_free(s);
}

static void test_scenario_and_fleet(void **state) {
  (void)state;
  struct scn *s = load_ok("scenario{name = 'cfg-test', description = 'a test', duration = '2h',\n"
                          "  clock = 'virtual', seed = 42, speedup = 10}\n"
                          "fleet{hubs = 100, hub_model = 'lumi.gateway.aqcn02',\n"
                          "  devices_per_hub = 12, prefix = 'lab-', key = 'k3y',\n"
                          "  mix = {['lumi.weather'] = 2, ['lumi.sensor_magnet.aq2'] = 1}}\n"
                          "ramp{rate = 50}\n");
  const struct scn_config *c = scn_config(s);
  assert_string_equal(c->name, "cfg-test");
  assert_string_equal(c->description, "a test");
  assert_true(c->duration_s == 7200);
  assert_int_equal(c->clock_virtual, 1);
  assert_int_equal(c->seed, 42);
  assert_true(c->speedup == 10);
  assert_int_equal(c->has_fleet, 1);
  assert_int_equal(c->hubs, 100);
  assert_string_equal(c->hub_model, "lumi.gateway.aqcn02");
  assert_int_equal(c->dph_kind, SCN_DPH_FIXED);
  assert_int_equal(c->dph, 12);
  assert_string_equal(c->prefix, "lab-");
  assert_string_equal(c->fleet_key, "k3y");
  /* sorted by model id, whatever the table's order */
  assert_string_equal(c->mix, "lumi.sensor_magnet.aq2:1,lumi.weather:2");
  assert_true(c->ramp == 50);
  assert_int_equal(scn_seed(s), 42);
  scn_set_seed(s, 7);
  assert_int_equal(scn_seed(s), 7);
  scn_free(s);
}

static void test_defaults(void **state) {
  (void)state;
  struct scn *s = load_ok("log('nothing declared')\n");
  const struct scn_config *c = scn_config(s);
  assert_string_equal(c->name, "cfg"); /* the file's base name */
  assert_null(c->description);
  assert_int_equal(c->has_fleet, 0);
  assert_int_equal(c->clock_virtual, -1);
  assert_true(c->ramp < 0);
  assert_true(c->duration_s == 0);
  assert_null(c->mix);
  const char *const *lines;
  assert_int_equal(scn_log(s, &lines), 1);
  assert_non_null(strstr(lines[0], "nothing declared"));
  scn_free(s);
}

static void test_devices_per_hub(void **state) {
  (void)state;
  struct scn *s = load_ok("fleet{hubs = 10, devices_per_hub = {5, 9}}\n");
  const struct scn_config *c = scn_config(s);
  assert_int_equal(c->dph_kind, SCN_DPH_RANGE);
  assert_int_equal(c->dph_min, 5);
  assert_int_equal(c->dph_max, 9);
  int seen[10] = {0};
  for (uint32_t g = 0; g < 2000; g++) {
    uint32_t n = scn_devices_of_hub(s, 1, g);
    assert_true(n >= 5 && n <= 9);
    seen[n]++;
    assert_int_equal(n, scn_devices_of_hub(s, 1, g));
  }
  for (int n = 5; n <= 9; n++)
    assert_true(seen[n] > 200);
  scn_free(s);

  s = load_ok("fleet{hubs = 10, devices_per_hub = {mean = 20, sd = 4, min = 10, max = 30}}\n");
  c = scn_config(s);
  assert_int_equal(c->dph_kind, SCN_DPH_NORMAL);
  double sum = 0;
  for (uint32_t g = 0; g < 4000; g++) {
    uint32_t n = scn_devices_of_hub(s, 9, g);
    assert_true(n >= 10 && n <= 30);
    sum += n;
  }
  assert_true(sum / 4000 > 19.5 && sum / 4000 < 20.5);
  assert_int_equal(c->dph_max, 30);
  scn_free(s);

  s = load_ok("fleet{devices_per_hub = 7, mix = 'all'}\n");
  assert_int_equal(scn_devices_of_hub(s, 1, 3), 7);
  assert_string_equal(scn_config(s)->mix, "all");
  scn_free(s);
}

static void test_expectations_as_written(void **state) {
  (void)state;
  struct scn *s = load_ok("expect('report.rtt.p99', '<', '250ms')\n"
                          "expect('reports.lost', '==', 0)\n"
                          "expect('hubs.online', '>=', 0.99, {after = '2m'})\n"
                          "expect('automation.latency.p50', '<=', '1.5s')\n"
                          "expect('platform.reports_stored', '>', 10)\n");
  struct scn_results r;
  scn_finish(s, &r); /* no fleet: nothing measured */
  assert_int_equal(r.n_exp, 5);
  assert_string_equal(r.exp[0].metric, "report.rtt.p99");
  assert_string_equal(r.exp[0].op, "<");
  assert_true(r.exp[0].threshold == 250);
  assert_string_equal(r.exp[0].threshold_text, "250ms");
  assert_string_equal(r.exp[0].unit, "ms");
  assert_int_equal(r.exp[0].line, 1);
  assert_string_equal(r.exp[0].file, "cfg.lua");
  assert_true(r.exp[1].threshold == 0);
  assert_string_equal(r.exp[1].threshold_text, "0");
  assert_true(r.exp[2].after_s == 120);
  assert_string_equal(r.exp[2].threshold_text, "0.99");
  assert_int_equal(r.exp[2].line, 3);
  assert_true(r.exp[3].threshold == 1500);
  for (size_t i = 0; i < r.n_exp; i++)
    assert_int_equal(r.exp[i].verdict, SCN_NO_DATA);
  assert_int_equal(r.passed, 0);
  assert_int_equal(r.failed, 5);
  scn_free(s);
}

static void test_bad_config(void **state) {
  (void)state;
  static const struct {
    const char *text, *want;
  } bad[] = {
      {"scenario{clock = 'sundial'}\n", "cfg.lua:1: scenario: clock must be"},
      {"scenario{duration = '10 parsecs'}\n", "bad duration '10 parsecs'"},
      {"\nfleet{hubs = -1}\n", "cfg.lua:2: fleet: hubs must be"},
      {"fleet{hub_model = 'lumi.gateway.nope'}\n", "unknown hub model 'lumi.gateway.nope'"},
      {"fleet{devices_per_hub = {9, 5}}\n", "devices_per_hub needs integers"},
      {"ramp{}\n", "ramp: rate"},
      {"scenario('x')\n", "scenario needs a table"},
      /* every input checked when the script loads, naming the field (each once failed only
       * when the run started, or not at all) */
      {"\nfleet{hubs = 2, mix = 'lumi.plug'}\n", "cfg.lua:2: fleet: devices_per_hub is required"},
      {"fleet{hubs = 2, devices_per_hub = 0}\n", "devices_per_hub must be a whole number from 1"},
      {"fleet{devices_per_hub = {0, 0}}\n", "max >= 1"},
      {"fleet{devices_per_hub = 200, hub_model = 'lumi.gateway.aqcn02'}\n",
       "devices_per_hub 200 is more than hub_model lumi.gateway.aqcn02 accepts (128)"},
      {"fleet{devices_per_hub = 2, key = ''}\n", "fleet: key is 0 bytes long: it must be 1 to 128"},
      {"fleet{devices_per_hub = 2, key = string.rep('k', 129)}\n", "key is 129 bytes long"},
      {"fleet{devices_per_hub = 2, key = 'a\\0b'}\n", "fleet: key holds a NUL byte (at byte 2)"},
      {"fleet{devices_per_hub = 2, prefix = 'abcdefghijklmnopqrstuvwx'}\n",
       "fleet: prefix is 24 bytes long: it must be 0 to 23"},
      {"fleet{devices_per_hub = 2, prefix = 'a b'}\n", "prefix 'a b' may hold only letters"},
      {"fleet{devices_per_hub = 2, hubs = 16777216}\n", "hubs must be a positive integer, at most"},
      {"fleet{devices_per_hub = 2, mix = 'lumi.plug:0'}\n", "mix weight '0' of 'lumi.plug'"},
      {"fleet{devices_per_hub = 2, mix = 'lumi.plug:inf'}\n", "mix weight 'inf' of 'lumi.plug'"},
      {"fleet{devices_per_hub = 2, mix = 'lumi.plug:nan'}\n", "mix weight 'nan' of 'lumi.plug'"},
      {"fleet{devices_per_hub = 2, mix = 'lumi.plug:1x'}\n", "mix weight '1x' of 'lumi.plug'"},
      {"fleet{devices_per_hub = 2, mix = ',lumi.plug'}\n", "has an empty model id"},
      {"fleet{devices_per_hub = 2, mix = string.rep('lumi.plug,', 200)}\n",
       "mix is 2000 bytes long"},
      {"fleet{devices_per_hub = 2, mix = {['lumi.plug'] = 1/0}}\n", "mix weight of 'lumi.plug'"},
      {"fleet{devices_per_hub = 2, ramp = 1e300}\n", "fleet: ramp must be from 0 to"},
      {"scenario{duration = 0}\n", "scenario: duration must be longer than 0"},
      {"scenario{duration = '5000d'}\n", "scenario duration: '5000d' is longer than 3650 days"},
      {"scenario{duration = '1e308s'}\n", "bad duration '1e308s'"},
      {"scenario{duration = 1e300}\n", "scenario duration: 1e+300 s is longer than 3650 days"},
      {"scenario{duration = '1e400d'}\n", "bad duration '1e400d'"},
      {"scenario{speedup = 1e300}\n", "scenario: speedup must be from 0.001 to 1000000"},
      {"scenario{name = ''}\n", "scenario: name is 0 bytes long"},
      {"scenario{name = 'two\\nlines'}\n", "scenario: name holds a control character (byte 4)"},
      {"scenario{name = string.rep('n', 129)}\n", "scenario: name is 129 bytes long"},
      {"scenario{description = string.rep('d', 1025)}\n", "description is 1025 bytes long"},
      {"scenario{clock = 1}\n", "scenario: clock must be"},
      {"at('5000d', function() end)\n", "at: '5000d' is longer than 3650 days"},
      {"after(1e300, function() end)\n", "after: 1e+300 s is longer than 3650 days"},
      {"every('1s', function() end, {count = 1e300})\n", "every: count must be a whole number"},
      {"every('1s', function() end, {to = '99999d'})\n", "every to: '99999d' is longer"},
      {"expect('report.rtt.p99', '<', '5000d')\n", "expect: duration '5000d' is longer"},
      {"expect('hubs.online', '>=', 1, {after = 1e300})\n", "expect after: 1e+300 s is longer"},
      {"expect('hubs.online', '>=', 0/0)\n", "expect: the value must be finite"},
      {"phase(string.rep('p', 64))\n", "phase: the name is 64 bytes long: at most 63"},
      {"platform.automation{when = {device = {hub = 0, slot = 0}, cluster = 6, attr = 0,\n"
       "  equals = 0/0}, command = {device = {hub = 1, slot = 0}, cluster = 6, command = 1}}\n",
       "when.equals must be a finite number or a boolean"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct scn *s = NULL;
    struct scn_error err;
    assert_int_equal(scn_load("cfg.lua", bad[i].text, strlen(bad[i].text), NULL, &s, &err),
                     SIM_EINVAL);
    char m[1024];
    scn_error_format(&err, m, sizeof m);
    if (!strstr(m, bad[i].want))
      fail_msg("'%s': wanted '%s' in '%s'", bad[i].text, bad[i].want, m);
    assert_int_equal(strncmp(m, "cfg.lua:", 8), 0);
  }
}

static void test_set_param(void **state) {
  (void)state;
  struct scn *s = load_ok("set_param{model = 'lumi.weather', channel = 'temperature',\n"
                          "  param = 'base', value = 25}\n"
                          "set_param{model = 'lumi.weather', channel = 'temperature', value = "
                          "21.5}\n");
  const char *const *lines;
  size_t n = scn_log(s, &lines);
  assert_int_equal(n, 2);
  assert_non_null(strstr(lines[0], "set_param lumi.weather temperature.base = 25"));
  scn_free(s);
  static const struct {
    const char *text, *want;
  } bad[] = {
      {"\nset_param{model = 'lumi.weather', channel = 'colour', value = 1}\n",
       "cfg.lua:2: set_param: model 'lumi.weather' has no parameter 'base' on channel 'colour'"},
      {"set_param{model = 'lumi.weather', channel = 'temperature', param = 'sample_s', "
       "value = -1}\n",
       "cfg.lua:1: set_param: lumi.weather.temperature.sample_s = -1 refused"},
      {"set_param{model = 'lumi.weather', channel = 'temperature'}\n",
       "cfg.lua:1: set_param: value"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct scn_error err;
    s = NULL;
    assert_int_equal(scn_load("cfg.lua", bad[i].text, strlen(bad[i].text), NULL, &s, &err),
                     SIM_EINVAL);
    char m[1024];
    scn_error_format(&err, m, sizeof m);
    if (strncmp(m, bad[i].want, strlen(bad[i].want)) != 0)
      fail_msg("wanted '%s' in '%s'", bad[i].want, m);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_durations),
      cmocka_unit_test(test_scenario_and_fleet),
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_devices_per_hub),
      cmocka_unit_test(test_expectations_as_written),
      cmocka_unit_test(test_bad_config),
      cmocka_unit_test(test_limits_that_load),
      cmocka_unit_test(test_set_param),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
