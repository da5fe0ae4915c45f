/* sim/core/dur.c: the one duration grammar of the command line. What parses is finite and
 * means what it says; what does not ("1e308", hex, signs, spaces) is refused. Also the one
 * grammar of a time of day (HH:MM). */
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

/* Times of day: H:MM or HH:MM, 00:00..23:59, nothing else. */
static void test_hhmm(void **state) {
  (void)state;
  static const struct {
    const char *text;
    unsigned h, m;
  } ok[] = {{"00:00", 0, 0}, {"0:00", 0, 0}, {"7:05", 7, 5}, {"07:05", 7, 5}, {"23:59", 23, 59}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    unsigned h = 99, m = 99;
    if (sim_dur_parse_hhmm(ok[i].text, &h, &m) != 0 || h != ok[i].h || m != ok[i].m)
      fail_msg("'%s': got %u:%u", ok[i].text, h, m);
  }
  static const char *bad[] = {"",      ":",     "7:5",   "07:5",   "007:05", "0700",  "24:00",
                              "07:60", " 7:05", "7:05 ", "+7:05",  "-0:00",  "7: 05", "7:05:00",
                              "ab:cd", "07:0x", "7h05",  "07:005", "99:99",  ":05"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    unsigned h = 99, m = 99;
    if (sim_dur_parse_hhmm(bad[i], &h, &m) != SIM_EINVAL || h != 99 || m != 99)
      fail_msg("'%s' was accepted as %u:%u", bad[i], h, m);
  }
  unsigned h, m;
  assert_int_equal(sim_dur_parse_hhmm(NULL, &h, &m), SIM_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_accepted),
                                     cmocka_unit_test(test_refused), cmocka_unit_test(test_hhmm)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
