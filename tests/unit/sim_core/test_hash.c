/* sim/core/hash.h: the published FNV-1a test values, and the mixing function's values, which
 * the radio's per-device draws and (through the 32-bit hash of the hub prefix) every device's
 * EUI-64 depend on: a change here changes what a seeded run produces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "sim/core/hash.h"

static void test_fnv(void **state) {
  (void)state;
  assert_true(sim_hash_fnv64(SIM_HASH_FNV64_INIT, "", 0) == 0xCBF29CE484222325ull);
  assert_true(sim_hash_str("a") == 0xAF63DC4C8601EC8Cull);
  assert_true(sim_hash_str("foobar") == 0x85944171F73967E8ull);
  /* Piece by piece is the same as at once. */
  assert_true(sim_hash_fnv64(sim_hash_fnv64(SIM_HASH_FNV64_INIT, "foo", 3), "bar", 3) ==
              sim_hash_str("foobar"));
  assert_int_equal(sim_hash_fnv32("", 0), 0x811C9DC5u);
  assert_int_equal(sim_hash_fnv32("a", 1), 0xE40C292Cu);
  assert_int_equal(sim_hash_fnv32("foobar", 6), 0xBF9CF968u);
  /* The default hub prefix's share of every device's EUI-64. */
  assert_int_equal(sim_hash_fnv32("hub-", 4) & 0xFFFFFF, 0x959BD3u);
}

static void test_mix(void **state) {
  (void)state;
  assert_true(sim_hash_mix64(0) == 0);
  assert_true(sim_hash_mix64(1) == 0xB456BCFC34C2CB2Cull);
  assert_true(sim_hash_mix64(0x00158D0000000001ull) == 0x67C5FC5B76971A8Full);
  /* Keys that differ in one middle bit land far apart in the low bits. */
  int same = 0;
  for (uint64_t i = 0; i < 1024; i++)
    same += (sim_hash_mix64(0x00158D0000000000ull | i << 16) & 1023) == (i & 1023);
  assert_true(same < 16);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_fnv), cmocka_unit_test(test_mix)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
