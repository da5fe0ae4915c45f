/* The scheduler on a real libuv loop: every timer fires once, in order of its tick (a timer
 * never fires before one whose tick is earlier), never before its intended time, and the loop
 * ends when the wheel is empty and the handles are closed. The run is bounded by a watchdog
 * timer, not by a wall-clock assertion. Lag is printed, never asserted (speed is for bench/). */
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
#define SPREAD_US 300000 /* the timers are due within the first 300 ms */
#define WATCHDOG_MS 30000

static struct {
  struct sim_sched s;
  uv_timer_t watchdog;
  int fired[N];
  int early;
  size_t count;
  /* Order: the tick of the previous firing, and the first firing whose tick was earlier. */
  uint64_t last_tick;
  size_t out_of_order;
  uint32_t ooo_id;
  uint64_t ooo_tick, ooo_after;
  int timed_out;
  struct sim_hist lag;
} T;

static void end_run(void) {
  sim_sched_close(&T.s, NULL);
  uv_close((uv_handle_t *)&T.watchdog, NULL);
}

static void on_fire(void *arg, uint32_t id, sim_time_t due) {
  (void)arg;
  sim_time_t now = sim_sched_now(&T.s);
  if (now < due)
    T.early++;
  /* The tick a due time belongs to is rounded up: a timer never fires before its due time. */
  uint64_t tick = (due + SIM_WHEEL_TICK_US - 1) >> SIM_WHEEL_TICK_SHIFT;
  if (T.count > 0 && tick < T.last_tick && T.out_of_order++ == 0) {
    T.ooo_id = id;
    T.ooo_tick = tick;
    T.ooo_after = T.last_tick;
  }
  T.last_tick = tick;
  sim_hist_record(&T.lag, now - due);
  T.fired[id]++;
  if (++T.count == N)
    end_run();
}

/* Ends a run whose timers did not all fire (the scheduler would otherwise keep the loop
 * alive for ever), so that the test fails with a count instead of hanging. */
static void on_watchdog(uv_timer_t *t) {
  (void)t;
  T.timed_out = 1;
  end_run();
}

static void test_real_clock(void **state) {
  (void)state;
  memset(&T, 0, sizeof(T));
  sim_hist_init(&T.lag);
  uv_loop_t loop;
  uv_loop_init(&loop);
  assert_int_equal(sim_sched_init(&T.s, &loop, 0, N, on_fire, NULL), 0);
  assert_int_equal(uv_timer_init(&loop, &T.watchdog), 0);
  assert_int_equal(uv_timer_start(&T.watchdog, on_watchdog, WATCHDOG_MS, 0), 0);
  struct sim_rng rng;
  sim_rng_seed(&rng, 9, 0);
  sim_time_t now = sim_sched_now(&T.s);
  /* Added in random order of due time, so that firing in order of addition (or of id) is not
   * firing in order of ticks. */
  for (uint32_t i = 0; i < N; i++)
    sim_wheel_add(&T.s.wheel, i, now + sim_rng_below(&rng, SPREAD_US));
  uv_run(&loop, UV_RUN_DEFAULT); /* ends once every timer fired (or the watchdog) */
  assert_int_equal(uv_loop_close(&loop), 0);
  if (T.timed_out)
    fail_msg("only %zu of %u timers fired within %d ms", T.count, N, WATCHDOG_MS);
  assert_int_equal(T.count, N);
  for (uint32_t i = 0; i < N; i++)
    assert_int_equal(T.fired[i], 1);
  if (T.out_of_order)
    fail_msg("%zu timers fired after a timer of a later tick; the first: timer %u of tick %llu "
             "after one of tick %llu",
             T.out_of_order, T.ooo_id, (unsigned long long)T.ooo_tick,
             (unsigned long long)T.ooo_after);
  assert_int_equal(T.early, 0);
  printf("lag p50 %.3f ms p99 %.3f ms max %.3f ms over %u timers\n",
         sim_hist_quantile(&T.lag, 0.5) / 1000.0, sim_hist_quantile(&T.lag, 0.99) / 1000.0,
         T.lag.max / 1000.0, N);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_real_clock)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
