/* conform/steps.c: the shell hooks of hubsim conform. conform_hook_expand() replaces {hub} and
 * {eui64} with single-quoted words and refuses to overflow; conform_hook() runs /bin/sh -c,
 * keeps the output as one printable line for the reason, fails the case on a non-zero exit or
 * past --max-wait, and ends when the hook exits even if a process it left holds the pipe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "conform/conform.h"

static void expand(void **state) {
  (void)state;
  char out[128];
  assert_int_equal(conform_hook_expand("cmd {hub} {eui64} {hub}{x}", "cf-a.b:c_d",
                                       0x00158d00c0ffee01ull, out, sizeof(out)),
                   0);
  assert_string_equal(out, "cmd 'cf-a.b:c_d' '00158d00c0ffee01' 'cf-a.b:c_d'{x}");
  /* A quote in the value cannot end the word: '\'' */
  assert_int_equal(conform_hook_expand("{hub}", "a'b", 1, out, sizeof(out)), 0);
  assert_string_equal(out, "'a'\\''b'");
  assert_int_equal(conform_hook_expand("{hub};", "; rm -rf x", 1, out, sizeof(out)), 0);
  assert_string_equal(out, "'; rm -rf x';");
  /* Too long for out: refused, never cut. */
  assert_int_equal(conform_hook_expand("echo {eui64}", "h", 1, out, 20), -1);
  assert_int_equal(conform_hook_expand("0123456789012345678901234", "h", 1, out, 20), -1);
}

/* A case context with --max-wait ms. */
static void ctx(struct conform_ctx *x, struct conform_opts *o, uint32_t max_wait_ms) {
  memset(o, 0, sizeof(*o));
  o->timeout_ms = 1000;
  o->max_wait_ms = max_wait_ms;
  memset(x, 0, sizeof(*x));
  x->o = o;
  x->verdict = CONFORM_PASS;
}

/* Runs cmd as a hook under --max-wait ms: it must fail the case with a reason holding a and b. */
static void hook_fails(uint32_t max_wait_ms, const char *cmd, const char *a, const char *b) {
  struct conform_ctx x;
  struct conform_opts o;
  char out[64];
  ctx(&x, &o, max_wait_ms);
  assert_int_equal(conform_hook(&x, "--restart-cmd", cmd, out, sizeof(out)), -1);
  assert_int_equal(x.verdict, CONFORM_FAIL);
  assert_non_null(strstr(x.why, a));
  assert_non_null(strstr(x.why, b));
}

/* Runs cmd as a hook under --max-wait ms: it must pass with out as its output. */
static void hook_passes(uint32_t max_wait_ms, const char *cmd, char *out, size_t cap) {
  struct conform_ctx x;
  struct conform_opts o;
  ctx(&x, &o, max_wait_ms);
  assert_int_equal(conform_hook(&x, "--command-cmd", cmd, out, cap), 0);
  assert_int_equal(x.verdict, CONFORM_PASS);
}

static void run(void **state) {
  (void)state;
  char out[64];
  hook_passes(10000, "printf 'cmd_id 7\\n'", out, sizeof(out));
  assert_string_equal(out, "cmd_id 7");
  /* Output on stderr and a non-zero status: the case fails, the reason holds both. */
  hook_fails(10000, "echo 'hub not online' >&2; exit 3", "exit status 3", "hub not online");
  /* Control characters become spaces; output past cap - 1 bytes is dropped. */
  hook_passes(10000, "printf 'a\\tb\\033c\\n'; head -c 5000 /dev/zero | tr '\\0' y", out,
              sizeof(out));
  assert_int_equal(strlen(out), sizeof(out) - 1);
  assert_memory_equal(out, "a b c yyy", 9);
}

static void bounded(void **state) {
  (void)state;
  char out[64];
  /* Past --max-wait: killed, the case fails naming the flag and keeping the output. */
  hook_fails(300, "echo started; exec sleep 30", "did not end within --max-wait", "started");
  /* A daemon left behind holds the pipe for 5 s; the hook's own exit ends the wait, so a
   * --max-wait of 2 s is enough. */
  hook_passes(2000, "sleep 5 & echo up", out, sizeof(out));
  assert_string_equal(out, "up");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(expand),
      cmocka_unit_test(run),
      cmocka_unit_test(bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
