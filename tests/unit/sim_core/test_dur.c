/* sim/core/dur.c: the one duration grammar of the command line. What parses is finite and
 * means what it says; what does not ("1e308", hex, signs, spaces) is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <math.h>

#include "sim/core/dur.h"
#include "sim/core/err.h"

static void test_accepted(void **state) {
  (void)state;
  static const struct {
    const char *text;
    double unit, want;
  } ok[] = {
      {"30s", 1, 30},      {"5m", 1, 300},       {"2h", 1, 7200},     {"1d", 1, 86400},
      {"250ms", 1, 0.25},  {"500us", 1, 0.0005}, {"1h30m", 1, 5400},  {"1.5m", 1, 90},
      {"0", 1, 0},         {"12", 1, 12},        {"50", 0.001, 0.05}, {"0.5s", 0.001, 0.5},
      {"1m0.5s", 1, 60.5}, {"007s", 1, 7},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    double v = -1;
    if (sim_dur_parse(ok[i].text, ok[i].unit, &v) != 0 || fabs(v - ok[i].want) > 1e-12)
      fail_msg("'%s': got %g, want %g", ok[i].text, v, ok[i].want);
  }
}

static void test_refused(void **state) {
  (void)state;
  static const char *bad[] = {"",     "1e308", "1e3s",  "0x10s", "inf",  "nan",  "-5s", "+5s",
                              " 5s",  "5s ",   "5 s",   "s",     ".5s",  "5.s",  "5x",  "5ss",
                              "10 5", "5m30",  "1..2s", "5S",    "1,5s", "\t1s", "ms"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    double v = 42;
    if (sim_dur_parse(bad[i], 1, &v) != SIM_EINVAL || v != 42)
      fail_msg("'%s' was accepted as %g", bad[i], v);
  }
  /* Far too many digits for any duration: refused, never an infinity. */
  double v;
  assert_int_equal(sim_dur_parse("1234567890123456789012345678901s", 1, &v), SIM_EINVAL);
  assert_int_equal(sim_dur_parse("999999999999999999999999999999d", 1, &v), 0);
  assert_true(isfinite(v));
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_accepted),
                                     cmocka_unit_test(test_refused)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
