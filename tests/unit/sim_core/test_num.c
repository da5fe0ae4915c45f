/* sim/core/num.c: the numbers of the command line. Plain decimal text in range parses to what
 * it says; signs, exponents, hex, spaces, "inf" and "nan" are refused and nothing is written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <math.h>

#include "sim/core/err.h"
#include "sim/core/num.h"

static void test_u64(void **state) {
  (void)state;
  uint64_t v = 0;
  assert_int_equal(sim_num_parse_u64("0", 0, 10, &v), 0);
  assert_int_equal(v, 0);
  assert_int_equal(sim_num_parse_u64("007", 0, 10, &v), 0);
  assert_int_equal(v, 7);
  assert_int_equal(sim_num_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
  assert_true(v == UINT64_MAX);
  static const char *bad[] = {"",
                              "+5",
                              "-5",
                              " 5",
                              "5 ",
                              "1e3",
                              "0x10",
                              "5.",
                              "5.0",
                              "inf",
                              "nan",
                              "x",
                              "18446744073709551616",
                              "000000000000000000001"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    v = 42;
    if (sim_num_parse_u64(bad[i], 0, UINT64_MAX, &v) != SIM_EINVAL || v != 42)
      fail_msg("'%s' was accepted as %llu", bad[i], (unsigned long long)v);
  }
  assert_int_equal(sim_num_parse_u64("11", 1, 10, &v), SIM_EINVAL);
  assert_int_equal(sim_num_parse_u64("0", 1, 10, &v), SIM_EINVAL);
}

static void test_double(void **state) {
  (void)state;
  double v = -1;
  assert_int_equal(sim_num_parse_double("2.5", 0, 10, &v), 0);
  assert_true(v == 2.5);
  assert_int_equal(sim_num_parse_double("0.01", 0.01, 10, &v), 0);
  assert_int_equal(sim_num_parse_double("100000", 0, 100000, &v), 0);
  static const char *bad[] = {"",   "+1", "-1",  " 1",  "1 ",  "1e3",   "0x10", "0x1p-1",
                              ".5", "5.", "inf", "nan", "1,5", "1.2.3", "1.5x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    v = 42;
    if (sim_num_parse_double(bad[i], 0, 1e9, &v) != SIM_EINVAL || v != 42)
      fail_msg("'%s' was accepted as %g", bad[i], v);
  }
  assert_int_equal(sim_num_parse_double("100000.5", 0, 100000, &v), SIM_EINVAL);
  assert_int_equal(sim_num_parse_double("0.001", 0.01, 1, &v), SIM_EINVAL);
  /* Far too many digits: refused, never an infinity. */
  assert_int_equal(sim_num_parse_double("1234567890123456789012345678901", 0, INFINITY, &v),
                   SIM_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_u64), cmocka_unit_test(test_double)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
