/* Bad scripts: each is refused with SIM_EINVAL and an error naming FILE:LINE, whether it is a
 * syntax error, a runtime error, an unknown metric or device model, an endless loop, a memory
 * bomb or an attempt to reach io or os. And scripts that once hung hubsim inside a C function
 * or a finalizer, where no count hook runs: each now ends with an error naming its line, by the
 * instruction budget (the C functions' work is charged to it), the wall-clock limit or
 * SIGINT. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* A __gc finalizer runs with Lua's hooks off: refused when the metatable is set. */
static void test_no_finalizers(void **state) {
  (void)state;
  expect_error(
      "scenario{name = 'g'}\n\nsetmetatable({}, {__gc = function() while true do end end})\n",
      "bad.lua:3: ", "__gc finalizers are not available");
  /* even a placeholder, which would let a finalizer be put in later */
  expect_error("local mt = {__gc = true}\nlocal t = setmetatable({}, mt)\n", "bad.lua:2: ", "__gc");
  /* the rest of setmetatable is as the library's */
  expect_error("setmetatable(1, {})\n", "bad.lua:1: ", "table expected");
  expect_error("local t = setmetatable({}, {__metatable = 'no'})\nsetmetatable(t, {})\n",
               "bad.lua:2: ", "cannot change a protected metatable");
  char msg[1024];
  assert_int_equal(load("ok.lua",
                        "local mt = {__index = function(t, k) return k * 2 end}\n"
                        "local t = setmetatable({}, mt)\nassert(t[21] == 42)\n"
                        "assert(getmetatable(t) == mt)\nassert(setmetatable(t, nil) == t)\n"
                        "assert(getmetatable(t) == nil)\n"
                        "mt.__gc = function() end -- too late to mark anything: harmless\n",
                        0, 0, msg, sizeof msg),
                   0);
}

/* C functions whose loops no hook sees, each with a script that used to hang. */
static void test_c_functions_are_bounded(void **state) {
  (void)state;
  char msg[1024];
  /* an empty string repeated 2^62 times: nothing to copy, returned at once */
  assert_int_equal(load("rep.lua",
                        "assert(string.rep('', math.maxinteger) == '')\n"
                        "assert(('x'):rep(0) == '' and ('x'):rep(3, ',') == 'x,x,x')\n"
                        "assert(string.rep('', 5, '') == '')\n",
                        0, 0, msg, sizeof msg),
                   0);
  /* a billion copies of one byte: the budget, before the copying starts */
  assert_int_equal(
      load("rep.lua", "\nlocal s = string.rep('x', 50000000, '')\n", 0, 1000000, msg, sizeof msg),
      SIM_EINVAL);
  assert_true(strncmp(msg, "rep.lua:2: instruction budget of 1000000 exceeded (string.rep)", 63) ==
              0);
  /* more than the memory ceiling: the memory error, with its line */
  assert_int_equal(load("rep.lua", "\n\nlocal s = ('x'):rep(1e9)\n", 0, 0, msg, sizeof msg),
                   SIM_EINVAL);
  assert_true(strncmp(msg, "rep.lua:3: memory limit", 23) == 0);
  /* table.move over 2^62 elements */
  assert_int_equal(
      load("move.lua", "table.move({}, 1, math.maxinteger - 1, 2)\n", 0, 0, msg, sizeof msg),
      SIM_EINVAL);
  assert_true(
      strncmp(msg, "move.lua:1: instruction budget of 100000000 exceeded (table.move)", 65) == 0);
  /* loops over large tables cost their size */
  assert_int_equal(load("concat.lua",
                        "local t = {}\nfor i = 1, 100000 do t[i] = 'x' end\n"
                        "while true do local s = table.concat(t) end\n",
                        0, 10000000, msg, sizeof msg),
                   SIM_EINVAL);
  assert_non_null(strstr(msg, "concat.lua:3: instruction budget of 10000000 exceeded"));
  assert_int_equal(load("sort.lua",
                        "local t = {}\nfor i = 1, 100000 do t[i] = -i end\n"
                        "while true do table.sort(t) end\n",
                        0, 10000000, msg, sizeof msg),
                   SIM_EINVAL);
  assert_non_null(strstr(msg, "sort.lua:3: instruction budget of 10000000 exceeded"));
  /* the library's argument errors keep their names */
  expect_error("table.insert(nil, 1)\n", "bad.lua:1: ", "bad argument #1 to 'table.insert'");
  /* and the functions still work */
  assert_int_equal(
      load("table.lua",
           "local t = {3, 1, 2}\ntable.sort(t)\nassert(table.concat(t, ',') == '1,2,3')\n"
           "table.insert(t, 1, 0)\nassert(table.remove(t) == 3)\n"
           "assert(select('#', table.unpack(t)) == 3)\n"
           "local u = table.move(t, 1, 3, 2, {})\nassert(u[4] == 2)\n",
           0, 0, msg, sizeof msg),
      0);
}

/* What no count sees (comparing two long strings is one instruction): the wall-clock limit.
 * The whole script is on line 3, so the line does not depend on how far a slow machine got
 * when the limit struck. */
static void test_time_limit(void **state) {
  (void)state;
  struct scn_limits lim;
  scn_limits_default(&lim);
  lim.seconds_per_call = 0.5;
  const char *text = "local a, b\n-- one comparison of two long strings a turn: no count sees it\n"
                     "a = string.rep('a', 8000000) b = string.rep('a', 8000000) while a == b do "
                     "end\n";
  struct scn *s = NULL;
  struct scn_error err;
  assert_int_equal(scn_load("slow.lua", text, strlen(text), &lim, &s, &err), SIM_EINVAL);
  char msg[1024];
  scn_error_format(&err, msg, sizeof msg);
  printf("    %s\n", msg);
  assert_string_equal(msg, "slow.lua:3: time limit of 0.5 s per call exceeded");
}

/* SIGINTs that reached the test's own handler (sent while no call was running). */
static volatile sig_atomic_t own_sigints;
static void count_sigint(int sig) {
  (void)sig;
  own_sigints++;
}

static _Atomic int call_over;

/* Sends SIGINT once the script's call has put its own handler in place of the test's (so that
 * the signal reaches the running call, however long the machine took to get there), and again
 * every few milliseconds until the call is over: one that lands as a call ends goes to the
 * test's handler, harmlessly. Bounded: 30 s. */
static void *send_sigint(void *arg) {
  (void)arg;
  for (int i = 0; i < 30000 && !call_over; i++) {
    struct sigaction cur;
    sigaction(SIGINT, NULL, &cur);
    if (cur.sa_handler != count_sigint)
      kill(getpid(), SIGINT);
    usleep(1000);
  }
  return NULL;
}

/* SIGINT while the script runs ends the call at once, with its line; the process's own
 * handler is back afterwards. The whole script runs on line 3, so the line does not depend on
 * when the signal lands (in string.rep or in the loop no count sees). */
static void test_sigint_ends_a_call(void **state) {
  (void)state;
  struct sigaction own = {.sa_handler = count_sigint}, old;
  sigemptyset(&own.sa_mask);
  assert_int_equal(sigaction(SIGINT, &own, &old), 0);
  own_sigints = 0;
  call_over = 0;
  struct scn_limits lim;
  scn_limits_default(&lim);
  lim.seconds_per_call = 600;
  const char *text = "local a, b\n-- one comparison of two long strings a turn: no count sees it\n"
                     "a = string.rep('a', 8000000) b = string.rep('a', 8000000) while a == b do "
                     "end\n";
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, send_sigint, NULL), 0);
  struct scn *s = NULL;
  struct scn_error err;
  int rc = scn_load("spin.lua", text, strlen(text), &lim, &s, &err);
  call_over = 1;
  pthread_join(th, NULL);
  struct sigaction after;
  sigaction(SIGINT, NULL, &after);
  sigaction(SIGINT, &old, NULL);
  assert_int_equal(rc, SIM_EINVAL);
  char msg[1024];
  scn_error_format(&err, msg, sizeof msg);
  printf("    %s (%d SIGINT to the test's own handler)\n", msg, (int)own_sigints);
  assert_string_equal(msg, "spin.lua:3: interrupted by SIGINT while the script was running");
  assert_true(after.sa_handler == count_sigint);
}

/* What the engine keeps for a script outside the Lua state (the timeline, the log) is bounded
 * too: timeline entries count against the memory ceiling, and the log keeps at most 8 MiB,
 * its last line saying it is full. */
static void test_engine_memory_is_bounded(void **state) {
  (void)state;
  char msg[1024];
  assert_int_equal(load("steps.lua", "local f = function() end\nfor i = 1, 1e7 do at(i, f) end\n",
                        (size_t)8 << 20, 0, msg, sizeof msg),
                   SIM_EINVAL);
  assert_non_null(strstr(msg, "steps.lua:2: memory limit of 8 MiB exceeded"));
  /* and pcall does not catch it */
  assert_int_equal(load("steps.lua",
                        "local f = function() end\n"
                        "pcall(function() for i = 1, 1e7 do at(i, f) end end)\nlog('survived')\n",
                        (size_t)8 << 20, 0, msg, sizeof msg),
                   SIM_EINVAL);
  assert_non_null(strstr(msg, "memory limit of 8 MiB exceeded"));

  const char *text = "local x = string.rep('x', 600)\nfor i = 1, 100000 do log('%s', x) end\n";
  struct scn *s = NULL;
  struct scn_error err;
  assert_int_equal(scn_load("log.lua", text, strlen(text), NULL, &s, &err), 0);
  const char *const *lines;
  size_t n = scn_log(s, &lines);
  size_t bytes = 0;
  for (size_t i = 0; i < n; i++)
    bytes += strlen(lines[i]) + 1;
  printf("    %zu lines, %zu bytes; the last: %.80s\n", n, bytes, lines[n - 1]);
  assert_true(bytes <= (8u << 20));
  assert_true(n < 100000);
  assert_non_null(strstr(lines[n - 1], "the scenario log is full"));
  scn_free(s);
}

static void test_script_size_limit(void **state) {
  (void)state;
  size_t n = (1u << 20) + 1;
  char *text = malloc(n + 1);
  assert_non_null(text);
  memset(text, ' ', n);
  text[n] = 0;
  struct scn *s = NULL;
  struct scn_error err;
  assert_int_equal(scn_load("big.lua", text, n, NULL, &s, &err), SIM_EINVAL);
  char msg[1024];
  scn_error_format(&err, msg, sizeof msg);
  printf("    %s\n", msg);
  assert_non_null(strstr(msg, "big.lua: the script is larger than 1 MiB"));
  /* exactly 1 MiB is fine */
  assert_int_equal(scn_load("big.lua", text, n - 1, NULL, &s, &err), 0);
  scn_free(s);
  free(text);
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
      cmocka_unit_test(test_no_finalizers),
      cmocka_unit_test(test_c_functions_are_bounded),
      cmocka_unit_test(test_time_limit),
      cmocka_unit_test(test_sigint_ends_a_call),
      cmocka_unit_test(test_engine_memory_is_bounded),
      cmocka_unit_test(test_script_size_limit),
      cmocka_unit_test(test_good_script_loads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
