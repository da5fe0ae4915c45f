/* Bad scripts: each is refused with SIM_EINVAL and an error naming FILE:LINE, whether it is a
 * syntax error, a runtime error, an unknown metric or device model, an endless loop, a memory
 * bomb or an attempt to reach io or os. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "scenarios/scn.h"
#include "sim/core/err.h"

/* Loads text as path with the given limits (0: default) and returns the formatted error. */
static int load(const char *path, const char *text, size_t mem, uint64_t insns, char *msg,
                size_t cap) {
  struct scn_limits lim;
  scn_limits_default(&lim);
  if (mem)
    lim.memory_bytes = mem;
  if (insns)
    lim.instructions_per_call = insns;
  struct scn *s = NULL;
  struct scn_error err;
  int rc = scn_load(path, text, strlen(text), &lim, &s, &err);
  msg[0] = 0;
  if (rc == 0) {
    scn_free(s);
  } else {
    assert_null(s);
    scn_error_format(&err, msg, cap);
    printf("    %s\n", msg);
  }
  return rc;
}

static void expect_error(const char *text, const char *prefix, const char *contains) {
  char msg[1024];
  assert_int_equal(load("bad.lua", text, 0, 0, msg, sizeof msg), SIM_EINVAL);
  if (strncmp(msg, prefix, strlen(prefix)) != 0)
    fail_msg("wanted prefix '%s' in '%s'", prefix, msg);
  if (contains && !strstr(msg, contains))
    fail_msg("wanted '%s' in '%s'", contains, msg);
}

static void test_syntax_error(void **state) {
  (void)state;
  expect_error("scenario{name = 'x'}\nlocal x = = 1\n", "bad.lua:2: ", "unexpected symbol");
}

static void test_runtime_error(void **state) {
  (void)state;
  expect_error("local t = nil\n\nlocal y = t.x\n", "bad.lua:3: ", "attempt to index a nil value");
  /* error() inside a function names the function's line, not the caller's */
  expect_error("local function f()\n  error('boom')\nend\nf()\n", "bad.lua:2: ", "boom");
  /* an error object that is not a string still gets a position */
  expect_error("\nerror({})\n", "bad.lua:2: ", "error object is a table value");
}

static void test_unknown_metric(void **state) {
  (void)state;
  expect_error("expect('reports.acked', '>', 0)\nexpect('no.such.metric', '<', 1)\n",
               "bad.lua:2: ", "unknown metric 'no.such.metric'");
  expect_error("\n\nexpect('report.rtt.p99', '=<', '250ms')\n", "bad.lua:3: ", "bad operator '=<'");
  expect_error("expect('reports.lost', '==', '5m')\n", "bad.lua:1: ", "not a time metric");
}

static void test_unknown_model(void **state) {
  (void)state;
  expect_error("scenario{name = 'm'}\nfleet{hubs = 2,\n  mix = {['lumi.weather'] = 1, "
               "['lumi.no_such_thing'] = 2}}\n",
               "bad.lua:2: ", "unknown device model 'lumi.no_such_thing'");
  expect_error("fleet{hubs = 2, mix = 'lumi.nope:1'}\n",
               "bad.lua:1: ", "unknown device model 'lumi.nope'");
  expect_error("\nset_param{model = 'lumi.nope', channel = 'temperature', value = 1}\n",
               "bad.lua:2: ", "unknown device model 'lumi.nope'");
}

static void test_endless_loop(void **state) {
  (void)state;
  char msg[1024];
  assert_int_equal(load("loop.lua", "local n = 0\nwhile true do\n  n = n + 1\nend\n", 0, 1000000,
                        msg, sizeof msg),
                   SIM_EINVAL);
  assert_true(strncmp(msg, "loop.lua:", 9) == 0);
  assert_non_null(strstr(msg, "instruction budget of 1000000 exceeded"));
  int line = atoi(msg + 9);
  assert_true(line >= 2 && line <= 4);
  /* the script's own pcall cannot swallow it */
  assert_int_equal(load("loop.lua",
                        "for i = 1, 1e9 do\n  pcall(function() while true do end end)\nend\n", 0,
                        1000000, msg, sizeof msg),
                   SIM_EINVAL);
  assert_non_null(strstr(msg, "instruction budget of 1000000 exceeded"));
  assert_true(strncmp(msg, "loop.lua:", 9) == 0);
}

static void test_memory_bomb(void **state) {
  (void)state;
  char msg[1024];
  assert_int_equal(load("bomb.lua",
                        "local t = {}\nfor i = 1, 1e9 do\n  t[i] = string.rep('x', 1000) .. i\n"
                        "end\n",
                        (size_t)8 << 20, 0, msg, sizeof msg),
                   SIM_EINVAL);
  assert_non_null(strstr(msg, "memory limit of 8 MiB exceeded"));
  assert_true(strncmp(msg, "bomb.lua:2: ", 12) == 0 || strncmp(msg, "bomb.lua:3: ", 12) == 0);
  /* one huge allocation */
  assert_int_equal(load("bomb.lua", "\nlocal s = string.rep('x', 1 << 30)\n", (size_t)8 << 20, 0,
                        msg, sizeof msg),
                   SIM_EINVAL);
  assert_non_null(strstr(msg, "memory limit of 8 MiB exceeded"));
  assert_true(strncmp(msg, "bomb.lua:", 9) == 0);
  /* inside pcall: still fatal */
  assert_int_equal(load("bomb.lua",
                        "local ok = pcall(function()\n  local t = {}\n  for i = 1, 1e9 do t[i] = "
                        "{i} end\nend)\nlog('survived')\n",
                        (size_t)8 << 20, 0, msg, sizeof msg),
                   SIM_EINVAL);
  assert_non_null(strstr(msg, "memory limit of 8 MiB exceeded"));
}

static void test_io_access(void **state) {
  (void)state;
  expect_error("scenario{name = 'x'}\nlocal f = io.open('/etc/passwd')\n",
               "bad.lua:2: ", "attempt to index a nil value (global 'io')");
  expect_error("\n\nlocal f = require('io')\n", "bad.lua:3: ", "global 'require'");
  expect_error("dofile('/etc/passwd')\n", "bad.lua:1: ", "global 'dofile'");
  expect_error("load('return 1')()\n", "bad.lua:1: ", "global 'load'");
  expect_error("local d = string.dump(function() end)\n", "bad.lua:1: ", "field 'dump'");
  expect_error("local x = ('x'):dump()\n", "bad.lua:1: ", "method 'dump'");
}

static void test_os_access(void **state) {
  (void)state;
  expect_error("os.execute('touch /tmp/hubsim-pwned')\n",
               "bad.lua:1: ", "attempt to index a nil value (global 'os')");
  expect_error("\nlocal t = os.time()\n", "bad.lua:2: ", "global 'os'");
  expect_error("debug.sethook()\n", "bad.lua:1: ", "global 'debug'");
  expect_error("package.loadlib('x', 'y')\n", "bad.lua:1: ", "global 'package'");
  expect_error("collectgarbage()\n", "bad.lua:1: ", "global 'collectgarbage'");
  expect_error("math.randomseed(os and 1 or 2)\n", "bad.lua:1: ", "field 'randomseed'");
}

static void test_long_path(void **state) {
  (void)state;
  char path[200];
  snprintf(path, sizeof path, "/tmp/%0120d/scenarios/x.lua", 0);
  char msg[1024];
  assert_int_equal(load(path, "\n\nlocal x = nil + 1\n", 0, 0, msg, sizeof msg), SIM_EINVAL);
  char want[256];
  snprintf(want, sizeof want, "%s:3: ", path);
  if (strncmp(msg, want, strlen(want)) != 0)
    fail_msg("wanted '%s' in '%s'", want, msg);
  assert_int_equal(load(path, "\nlocal x = = 1\n", 0, 0, msg, sizeof msg), SIM_EINVAL);
  snprintf(want, sizeof want, "%s:2: ", path);
  if (strncmp(msg, want, strlen(want)) != 0)
    fail_msg("wanted '%s' in '%s'", want, msg);
}

static void test_file_not_found(void **state) {
  (void)state;
  struct scn *s = NULL;
  struct scn_error err;
  assert_int_equal(scn_load("/nonexistent/x.lua", NULL, 0, NULL, &s, &err), SIM_EINVAL);
  assert_string_equal(err.file, "/nonexistent/x.lua");
  assert_int_equal(err.line, 0);
}

static void test_fleet_actions_need_a_fleet(void **state) {
  (void)state;
  expect_error("\nhubs{all = true}:disconnect()\n", "bad.lua:2: ", "running fleet");
  expect_error("at('10s', function() end)\nafter('forever', function() end)\n",
               "bad.lua:2: ", "bad duration 'forever'");
  expect_error("every('1s', function() end, {cnt = 3})\n", "bad.lua:1: ", "unknown field 'cnt'");
  expect_error("fleet{hubs = 2, colour = 'red'}\n", "bad.lua:1: ", "unknown field 'colour'");
}

static void test_good_script_loads(void **state) {
  (void)state;
  char msg[1024];
  assert_int_equal(load("good.lua",
                        "scenario{name = 'g', duration = '10m', clock = 'virtual', seed = 3}\n"
                        "fleet{hubs = 4, devices_per_hub = 3, mix = 'all'}\n"
                        "local ok, e = pcall(error, 'caught')\n"
                        "assert(not ok and e == 'caught')\n"
                        "local t = {} for i = 1, 1000 do t[i] = math.random(100) end\n"
                        "at('1m', function() log('one minute, %d', 1) end)\n"
                        "every('10s', function(n) end, {count = 3})\n"
                        "expect('report.rtt.p99', '<', '250ms')\n",
                        0, 0, msg, sizeof msg),
                   0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_syntax_error),
      cmocka_unit_test(test_runtime_error),
      cmocka_unit_test(test_unknown_metric),
      cmocka_unit_test(test_unknown_model),
      cmocka_unit_test(test_endless_loop),
      cmocka_unit_test(test_memory_bomb),
      cmocka_unit_test(test_io_access),
      cmocka_unit_test(test_os_access),
      cmocka_unit_test(test_long_path),
      cmocka_unit_test(test_file_not_found),
      cmocka_unit_test(test_fleet_actions_need_a_fleet),
      cmocka_unit_test(test_good_script_loads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
