/* sim/core/htab.c: the hash table against a plain array that knows the answer, through adds,
 * replacements and deletes that leave long probe runs behind (the deletes move entries back,
 * so every key must stay reachable); string keys held in their values; iteration; reserve. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/hash.h"
#include "sim/core/htab.h"
#include "sim/core/rng.h"

#define KEYS 2048

static int item[KEYS]; /* the values are pointers to these */

static void check_all(const struct sim_htab *t, int *const *ref, uint64_t base) {
  size_t n = 0;
  for (uint64_t k = 0; k < KEYS; k++) {
    void *v = sim_htab_get(t, base + k * 0x10000);
    if (v != ref[k])
      fail_msg("key %llu: %p, want %p", (unsigned long long)k, v, (void *)ref[k]);
    n += ref[k] != NULL;
  }
  assert_int_equal(t->n, n);
  /* Iteration visits each entry once. */
  size_t it = 0, seen = 0;
  for (void *v; (v = sim_htab_next(t, &it));) {
    assert_true((int *)v >= item && (int *)v < item + KEYS);
    seen++;
  }
  assert_int_equal(seen, n);
}

static void test_numbers(void **state) {
  (void)state;
  /* EUI-64-like keys: one prefix, the varying part in the middle bits. */
  const uint64_t base = 0x00158D0000000000ull;
  static int *ref[KEYS];
  memset(ref, 0, sizeof ref);
  struct sim_htab t = {0};
  assert_null(sim_htab_get(&t, base));
  assert_null(sim_htab_del(&t, base));
  uint64_t rng = 42;
  for (int round = 0; round < 200000; round++) {
    uint64_t r = sim_splitmix64(&rng);
    uint64_t k = r % KEYS;
    uint64_t key = base + k * 0x10000;
    if ((r >> 32) % 3) {
      int *v = &item[(r >> 40) % KEYS];
      assert_int_equal(sim_htab_put(&t, key, v), 0);
      ref[k] = v;
    } else {
      assert_ptr_equal(sim_htab_del(&t, key), ref[k]);
      ref[k] = NULL;
    }
    if (round % 20000 == 0)
      check_all(&t, ref, base);
  }
  check_all(&t, ref, base);
  /* Empty it completely, then use it again. */
  for (uint64_t k = 0; k < KEYS; k++) {
    assert_ptr_equal(sim_htab_del(&t, base + k * 0x10000), ref[k]);
    ref[k] = NULL;
  }
  check_all(&t, ref, base);
  assert_int_equal(sim_htab_put(&t, 7, &item[0]), 0);
  assert_ptr_equal(sim_htab_get(&t, 7), &item[0]);
  sim_htab_fini(&t);
  assert_null(sim_htab_get(&t, 7));
  assert_int_equal(t.n, 0);
  sim_htab_fini(&t);
}

static void test_reserve(void **state) {
  (void)state;
  struct sim_htab t = {0};
  assert_int_equal(sim_htab_reserve(&t, 1000), 0);
  size_t cap = t.cap;
  assert_true(cap >= 2000);
  for (uint64_t k = 0; k < 1000; k++)
    assert_int_equal(sim_htab_put(&t, k, &item[k]), 0);
  assert_int_equal(t.cap, cap);                       /* no growth within what was reserved */
  assert_int_equal(sim_htab_put(&t, 5, &item[6]), 0); /* a replacement adds nothing */
  assert_int_equal(t.n, 1000);
  assert_ptr_equal(sim_htab_get(&t, 5), &item[6]);
  sim_htab_fini(&t);
}

/* Probe runs that wrap around the end of the smallest table (16 slots): keys whose home is one
 * of the last slots or the first, every one of them deleted in turn. */
static void test_wrap(void **state) {
  (void)state;
  static const size_t homes[8] = {14, 15, 15, 15, 0, 0, 1, 1};
  uint64_t keys[8];
  for (size_t i = 0; i < 8; i++) {
    uint64_t k = 1;
    while (((size_t)sim_hash_mix64(k) & 15) != homes[i] || (i && k <= keys[i - 1]))
      k++;
    keys[i] = k;
  }
  for (size_t gone = 0; gone < 8; gone++) {
    for (size_t order = 0; order < 2; order++) {
      struct sim_htab t = {0};
      for (size_t i = 0; i < 8; i++) {
        size_t k = order ? 7 - i : i;
        assert_int_equal(sim_htab_put(&t, keys[k], &item[k]), 0);
      }
      assert_int_equal(t.cap, 16);
      assert_ptr_equal(sim_htab_del(&t, keys[gone]), &item[gone]);
      for (size_t i = 0; i < 8; i++)
        assert_ptr_equal(sim_htab_get(&t, keys[i]), i == gone ? NULL : &item[i]);
      sim_htab_fini(&t);
    }
  }
}

struct named {
  int n;
  char id[24];
};

static const char *named_id(const void *v) {
  return ((const struct named *)v)->id;
}

static void test_strings(void **state) {
  (void)state;
  enum { N = 5000 };
  struct named *h = calloc(N, sizeof(*h));
  assert_non_null(h);
  struct sim_htab t;
  sim_htab_init_str(&t, named_id);
  for (int i = 0; i < N; i++) {
    h[i].n = i;
    snprintf(h[i].id, sizeof h[i].id, "hub-%06d", i);
    assert_int_equal(sim_htab_put_str(&t, h[i].id, &h[i]), 0);
  }
  assert_int_equal(t.n, N);
  char key[24];
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof key, "hub-%06d", i); /* an equal string, not the same pointer */
    struct named *got = sim_htab_get_str(&t, key);
    assert_non_null(got);
    assert_int_equal(got->n, i);
  }
  assert_null(sim_htab_get_str(&t, "hub-"));
  assert_null(sim_htab_get_str(&t, "hub-0000001"));
  for (int i = 0; i < N; i += 2)
    assert_ptr_equal(sim_htab_del_str(&t, h[i].id), &h[i]);
  assert_null(sim_htab_del_str(&t, h[0].id));
  for (int i = 0; i < N; i++) {
    struct named *got = sim_htab_get_str(&t, h[i].id);
    assert_ptr_equal(got, i % 2 ? &h[i] : NULL);
  }
  assert_int_equal(t.n, N / 2);
  sim_htab_fini(&t);
  free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_numbers), cmocka_unit_test(test_reserve),
                                     cmocka_unit_test(test_wrap), cmocka_unit_test(test_strings)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
