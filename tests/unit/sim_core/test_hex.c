/* sim/core/hex.c: bytes to hex text and back. Exact text in both cases and with spaces; the
 * decoder's rules in their documented order, with nothing written for a text it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"
#include "sim/core/hex.h"

static const uint8_t bytes[] = {0x00, 0x0a, 0xbc, 0xff, 0x5f, 0x11};

static void test_encode(void **state) {
  (void)state;
  char out[32];
  assert_int_equal(sim_hex_encode(out, bytes, sizeof bytes, 0), 12);
  assert_string_equal(out, "000abcff5f11");
  assert_int_equal(sim_hex_encode(out, bytes, sizeof bytes, SIM_HEX_UPPER), 12);
  assert_string_equal(out, "000ABCFF5F11");
  assert_int_equal(sim_hex_encode(out, bytes, sizeof bytes, SIM_HEX_UPPER | SIM_HEX_SPACED), 17);
  assert_string_equal(out, "00 0A BC FF 5F 11");
  assert_int_equal(sim_hex_encode(out, bytes, 1, SIM_HEX_SPACED), 2);
  assert_string_equal(out, "00");
  assert_int_equal(sim_hex_encode(out, bytes, 0, SIM_HEX_SPACED), 0);
  assert_string_equal(out, "");
  /* sim_hex_size is exactly what encode writes, the NUL included. */
  for (size_t n = 0; n <= sizeof bytes; n++)
    for (unsigned f = 0; f < 4; f++)
      assert_int_equal(sim_hex_size(n, f), sim_hex_encode(out, bytes, n, f) + 1);
  char *s = sim_hex_dup(bytes, 3, 0);
  assert_non_null(s);
  assert_string_equal(s, "000abc");
  free(s);
}

static void test_decode(void **state) {
  (void)state;
  uint8_t out[8];
  size_t n = 99;
  const char *t = "000aBCfF5f11";
  assert_int_equal(sim_hex_decode(t, strlen(t), 0, out, sizeof out, &n), 0);
  assert_int_equal(n, 6);
  assert_memory_equal(out, bytes, 6);
  t = "00 0A  BCFF 5F11";
  assert_int_equal(sim_hex_decode(t, strlen(t), SIM_HEX_SPACED, out, sizeof out, &n), 0);
  assert_int_equal(n, 6);
  assert_memory_equal(out, bytes, 6);
  assert_int_equal(sim_hex_decode("", 0, 0, out, 0, &n), 0);
  assert_int_equal(n, 0);

  /* Refused, in the order of the rules; nothing written. */
  static const struct {
    const char *text;
    unsigned flags;
    size_t cap;
    int err;
  } bad[] = {
      {"0g", 0, 8, SIM_EMALFORMED},
      {"0x10", 0, 8, SIM_EMALFORMED},
      {"00 11", 0, 8, SIM_EMALFORMED},
      {"0 011", SIM_HEX_SPACED, 8, SIM_EMALFORMED},
      {"00\t11", SIM_HEX_SPACED, 8, SIM_EMALFORMED},
      {"0g0", 0, 1, SIM_EMALFORMED},
      {"000", 0, 8, SIM_EINVAL},
      {"000", 0, 1, SIM_EINVAL},
      {"001122", 0, 2, SIM_ETOOBIG},
      {"-1", 0, 8, SIM_EMALFORMED},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memset(out, 0x77, sizeof out);
    n = 99;
    int rc = sim_hex_decode(bad[i].text, strlen(bad[i].text), bad[i].flags, out, bad[i].cap, &n);
    if (rc != bad[i].err)
      fail_msg("'%s': %s, want %s", bad[i].text, sim_errname(rc), sim_errname(bad[i].err));
    assert_int_equal(n, 99);
    assert_int_equal(out[0], 0x77);
  }
  /* The length given counts, not a NUL: a NUL inside the text is not a digit. */
  assert_int_equal(sim_hex_decode("ab\0c", 4, 0, out, sizeof out, &n), SIM_EMALFORMED);
  assert_int_equal(sim_hex_decode("abcd", 2, 0, out, sizeof out, &n), 0);
  assert_int_equal(n, 1);
}

static void test_round_trip(void **state) {
  (void)state;
  uint8_t all[256], back[256];
  for (int i = 0; i < 256; i++)
    all[i] = (uint8_t)i;
  char text[3 * 256 + 1];
  for (unsigned f = 0; f < 4; f++) {
    size_t len = sim_hex_encode(text, all, sizeof all, f), n = 0;
    assert_int_equal(sim_hex_decode(text, len, f & SIM_HEX_SPACED, back, sizeof back, &n), 0);
    assert_int_equal(n, 256);
    assert_memory_equal(back, all, 256);
  }
  for (int c = 0; c < 256; c++) {
    int want = c >= '0' && c <= '9'   ? c - '0'
               : c >= 'a' && c <= 'f' ? c - 'a' + 10
               : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                      : -1;
    assert_int_equal(sim_hex_digit(c), want);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_encode), cmocka_unit_test(test_decode),
                                     cmocka_unit_test(test_round_trip)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
