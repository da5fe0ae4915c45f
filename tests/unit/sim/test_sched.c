/* The scheduler on a real libuv loop: timers fire, in order of their ticks, never before their
 * intended time, and the loop ends when the wheel is empty and the handles are closed. Lag is
 * printed, never asserted (speed is for bench/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <uv.h>

#include "sim/core/hist.h"
#include "sim/core/rng.h"
#include "sim/loop/sched.h"

#define N 2000

static struct {
  struct sim_sched s;
  int fired[N];
  int early;
  size_t count;
  struct sim_hist lag;
} T;

static void on_fire(void *arg, uint32_t id, sim_time_t due) {
  (void)arg;
  sim_time_t now = sim_sched_now(&T.s);
  if (now < due)
    T.early++;
  sim_hist_record(&T.lag, now - due);
  T.fired[id]++;
  if (++T.count == N)
    sim_sched_close(&T.s, NULL);
}

static void test_real_clock(void **state) {
  (void)state;
  memset(&T, 0, sizeof(T));
  sim_hist_init(&T.lag);
  uv_loop_t loop;
  uv_loop_init(&loop);
  assert_int_equal(sim_sched_init(&T.s, &loop, 0, N, on_fire, NULL), 0);
  struct sim_rng rng;
  sim_rng_seed(&rng, 9, 0);
  sim_time_t now = sim_sched_now(&T.s);
  for (uint32_t i = 0; i < N; i++) /* spread over 300 ms */
    sim_wheel_add(&T.s.wheel, i, now + sim_rng_below(&rng, 300000));
  uint64_t t0 = uv_hrtime();
  uv_run(&loop, UV_RUN_DEFAULT); /* ends once every timer fired and the handles closed */
  double took = (double)(uv_hrtime() - t0) / 1e9;
  assert_int_equal(uv_loop_close(&loop), 0);
  assert_int_equal(T.count, N);
  assert_int_equal(T.early, 0);
  for (uint32_t i = 0; i < N; i++)
    assert_int_equal(T.fired[i], 1);
  assert_true(took < 30); /* a bound on the test itself, not a speed claim */
  printf("lag p50 %.3f ms p99 %.3f ms max %.3f ms over %u timers\n",
         sim_hist_quantile(&T.lag, 0.5) / 1000.0, sim_hist_quantile(&T.lag, 0.99) / 1000.0,
         T.lag.max / 1000.0, N);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_real_clock)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
