/* The sandbox's pattern functions (scenarios/scn_pattern.c) against Lua's own: patterns.lua
 * runs once in the scenario sandbox and once in a plain Lua state with the standard library,
 * and the two logs must be the same line for line (matches, captures, positions, replacements,
 * and which calls fail). Then the bounds: patterns that backtrack for ages end with the budget
 * error and the script's line, quickly, whether called from find, match, gmatch or gsub, and
 * inside pcall. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "scenarios/scn.h"
#include "sim/core/err.h"

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  buf[n] = 0;
  *len = (size_t)n;
  return buf;
}

/* log() of the plain state: appends string.format(...) to the table in the registry. */
static int plain_log(lua_State *L) {
  int n = lua_gettop(L);
  lua_getglobal(L, "string");
  lua_getfield(L, -1, "format");
  lua_remove(L, -2);
  lua_insert(L, 1);
  lua_call(L, n, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, "test.log");
  lua_insert(L, -2);
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  return 0;
}

static void test_same_results_as_lua(void **state) {
  (void)state;
  size_t len;
  char *text = slurp(SCN_TEST_DIR "/patterns.lua", &len);

  /* the sandbox */
  struct scn_limits lim;
  scn_limits_default(&lim);
  lim.instructions_per_call = 2000000000u;
  lim.seconds_per_call = 600;
  struct scn *s = NULL;
  struct scn_error err;
  int rc = scn_load("patterns.lua", text, len, &lim, &s, &err);
  if (rc) {
    char m[1024];
    scn_error_format(&err, m, sizeof m);
    fail_msg("sandbox: %s", m);
  }
  const char *const *lines;
  size_t n = scn_log(s, &lines);

  /* Lua's own library */
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, "test.log");
  lua_register(L, "log", plain_log);
  lua_register(L, "scenario", plain_log); /* unused, keeps the globals alike */
  if (luaL_loadbuffer(L, text, len, "@patterns.lua") || lua_pcall(L, 0, 0, 0))
    fail_msg("plain: %s", lua_tostring(L, -1));
  lua_getfield(L, LUA_REGISTRYINDEX, "test.log");
  size_t m = lua_rawlen(L, -1);
  printf("  %zu results from the sandbox, %zu from Lua's library\n", n, m);
  assert_true(m > 40000);
  assert_int_equal(n, m);
  size_t differ = 0;
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    const char *want = lua_tostring(L, -1);
    const char *got = lines[i] + strspn(lines[i], " "); /* after the engine time */
    got = strchr(got, ' ');
    if (got)
      got++;
    if (!got || strcmp(got, want) != 0) {
      if (differ++ < 20)
        printf("  line %zu:\n    sandbox: %s\n    library: %s\n", i + 1, got ? got : "?", want);
    }
    lua_pop(L, 1);
  }
  assert_int_equal(differ, 0);
  lua_close(L);
  scn_free(s);
  free(text);
}

/* Loads text; returns the formatted error ("" when it loaded). */
static int load(const char *text, uint64_t insns, char *msg, size_t cap) {
  struct scn_limits lim;
  scn_limits_default(&lim);
  if (insns)
    lim.instructions_per_call = insns;
  struct scn *s = NULL;
  struct scn_error err;
  int rc = scn_load("pat.lua", text, strlen(text), &lim, &s, &err);
  msg[0] = 0;
  if (rc == 0)
    scn_free(s);
  else
    scn_error_format(&err, msg, cap);
  printf("    %s\n", rc ? msg : "(loaded)");
  return rc;
}

static void expect_budget(const char *text, const char *prefix, const char *fn) {
  char msg[1024];
  assert_int_equal(load(text, 0, msg, sizeof msg), SIM_EINVAL);
  if (strncmp(msg, prefix, strlen(prefix)) != 0 || !strstr(msg, "instruction budget") ||
      !strstr(msg, fn))
    fail_msg("wanted '%s...instruction budget...(%s...)', got '%s'", prefix, fn, msg);
}

static void test_backtracking_is_bounded(void **state) {
  (void)state;
  expect_budget("local s = string.rep('a', 3000)\n\nlocal x = s:find('.-.-.-.-.-.-.-b')\n",
                "pat.lua:3: ", "string.find");
  expect_budget("local s = string.rep('a', 3000)\nlocal x = string.match(s, '(.-)(.-)(.-)b')\n",
                "pat.lua:2: ", "string.match");
  expect_budget("for w in string.gmatch(string.rep('a', 5000), 'a-a-a-a-b') do end\n",
                "pat.lua:1: ", "string.gmatch");
  expect_budget("local s = string.gsub(string.rep('a', 100000), '(a*)*b', 'x')\n",
                "pat.lua:1: ", "string.gsub");
  /* a long plain search that matches almost everywhere: linear, no error */
  char msg[1024];
  assert_int_equal(load("local s = string.rep('a', 4000000)\n"
                        "assert(s:find(string.rep('a', 1000000) .. 'b', 1, true) == nil)\n"
                        "assert(s:find(string.rep('a', 1000000) .. 'b') == nil)\n"
                        "assert(select(2, s:gsub('a+', '')) == 1)\n"
                        "assert(#s:gsub('a', 'bb') == 8000000)\n",
                        0, msg, sizeof msg),
                   0);
  /* the script's pcall does not catch it */
  expect_budget("local ok = pcall(string.find, string.rep('a', 3000), '.-.-.-.-.-.-.-b')\n"
                "log('survived')\n",
                "pat.lua:1: ", "string.find");
  /* nor does a replacement function running out of budget escape it */
  assert_int_equal(load("local s = string.rep('a', 100)\n"
                        "s:gsub('a', function() while true do end end)\n",
                        1000000, msg, sizeof msg),
                   SIM_EINVAL);
  assert_non_null(strstr(msg, "instruction budget of 1000000 exceeded"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_results_as_lua),
      cmocka_unit_test(test_backtracking_is_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
