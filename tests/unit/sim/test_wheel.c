/* The timer wheel against a brute-force reference: every timer fires exactly once, never
 * before its due time, no later than the advance that passes its tick, and cancelled timers
 * never fire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "sim/core/rng.h"
#include "sim/loop/wheel.h"

#define N 20000

struct ref {
  sim_time_t due[N];
  int pending[N];
  int fired[N];
  sim_time_t now;
  int early;
  int late;
  size_t count;
};

static void fire_cb(void *arg, uint32_t id, sim_time_t due) {
  struct ref *r = arg;
  if (!r->pending[id] || due != r->due[id])
    r->late++; /* fired something not pending, or with another due time */
  if (due > r->now)
    r->early++;
  r->pending[id] = 0;
  r->fired[id]++;
  r->count++;
}

static void test_random_schedule(void **state) {
  (void)state;
  static struct ref r;
  memset(&r, 0, sizeof(r));
  struct sim_wheel w;
  assert_int_equal(sim_wheel_init(&w, N, 0, fire_cb, &r), 0);
  struct sim_rng rng;
  sim_rng_seed(&rng, 42, 0);
  /* Horizons from microseconds to four days, so every level and the overflow list are used. */
  static const sim_time_t spans[] = {100, SIM_MS(20), SIM_SEC(10), SIM_SEC(3600),
                                     SIM_SEC(4 * 86400)};
  for (uint32_t i = 0; i < N; i++) {
    sim_time_t d = (sim_time_t)(sim_rng_unit(&rng) * (double)spans[i % 5]);
    r.due[i] = d;
    r.pending[i] = 1;
    sim_wheel_add(&w, i, d);
  }
  for (uint32_t i = 0; i < N; i += 7) { /* cancel some */
    sim_wheel_cancel(&w, i);
    r.pending[i] = 0;
  }
  for (uint32_t i = 1; i < N; i += 11) { /* reschedule some */
    r.due[i] = r.due[i] / 2 + 5;
    r.pending[i] = 1;
    sim_wheel_add(&w, i, r.due[i]);
  }
  size_t steps = 0;
  while (sim_wheel_next(&w) != UINT64_MAX && steps < 10000000) {
    sim_time_t nx = sim_wheel_next(&w);
    /* Advance in uneven steps, sometimes past the next event, sometimes exactly to it. */
    r.now = (steps % 3 == 0) ? nx : nx + (sim_time_t)sim_rng_below(&rng, 5000);
    sim_wheel_advance(&w, r.now);
    for (uint32_t i = 0; i < N; i += 997)
      if (r.pending[i] && r.due[i] + SIM_WHEEL_TICK_US <= r.now)
        r.late++;
    steps++;
  }
  assert_int_equal(r.early, 0);
  assert_int_equal(r.late, 0);
  for (uint32_t i = 0; i < N; i++) {
    assert_int_equal(r.pending[i], 0);
    assert_true(r.fired[i] <= 1);
    if (i % 7 == 0 && i % 11 != 1)
      assert_int_equal(r.fired[i], 0);
    else
      assert_int_equal(r.fired[i], 1);
  }
  assert_int_equal(w.active, 0);
  sim_wheel_fini(&w);
}

struct chain {
  struct sim_wheel *w;
  int n;
  sim_time_t last;
  int order_ok;
  int fired2;
};

/* A callback that re-adds itself and cancels a neighbour while the expired list drains. */
static void chain_cb(void *arg, uint32_t id, sim_time_t due) {
  struct chain *c = arg;
  if (due < c->last)
    c->order_ok = 0;
  c->last = due;
  c->n++;
  if (id == 0 && c->n < 1000)
    sim_wheel_add(c->w, 0, due + 1000);
  if (id == 1)
    sim_wheel_cancel(c->w, 2);
  if (id == 2)
    c->fired2++;
}

static void test_callbacks_modify(void **state) {
  (void)state;
  struct sim_wheel w;
  struct chain c = {&w, 0, 0, 1, 0};
  assert_int_equal(sim_wheel_init(&w, 4, 0, chain_cb, &c), 0);
  sim_wheel_add(&w, 1, 500);
  sim_wheel_add(&w, 2, 5000);
  sim_wheel_add(&w, 0, 100);
  sim_wheel_advance(&w, SIM_SEC(2));
  assert_int_equal(c.n, 1000); /* 999 of id 0, one of id 1, none of id 2 */
  assert_int_equal(c.fired2, 0);
  assert_true(c.order_ok);
  assert_false(sim_wheel_pending(&w, 2));
  assert_int_equal(w.active, 0);
  sim_wheel_fini(&w);
}

static void test_past_due_fires_next_advance(void **state) {
  (void)state;
  struct sim_wheel w;
  static struct ref r;
  memset(&r, 0, sizeof(r));
  assert_int_equal(sim_wheel_init(&w, 2, SIM_SEC(100), fire_cb, &r), 0);
  r.now = SIM_SEC(100);
  r.due[0] = SIM_SEC(1);
  r.pending[0] = 1;
  sim_wheel_add(&w, 0, SIM_SEC(1));
  assert_int_equal(sim_wheel_next(&w), (SIM_SEC(100) >> SIM_WHEEL_TICK_SHIFT)
                                           << SIM_WHEEL_TICK_SHIFT);
  assert_int_equal(sim_wheel_advance(&w, r.now), 1);
  assert_int_equal(r.fired[0], 1);
  sim_wheel_fini(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_schedule),
      cmocka_unit_test(test_callbacks_modify),
      cmocka_unit_test(test_past_due_fires_next_advance),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
