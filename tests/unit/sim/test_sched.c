/* The scheduler on a real libuv loop: every timer fires once, in order of its tick (a timer
 * never fires before one whose tick is earlier), never before its intended time (or, with an
 * early window, never more than the window before it), and the loop ends when the wheel is empty
 * and the handles are closed. The run is bounded by a watchdog
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
  int fired[N + 1]; /* N: the timer added from inside a firing */
  int early;
  sim_time_t window, max_early;
  int added;
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
  if (now < due) {
    T.early++;
    if (due - now > T.max_early)
      T.max_early = due - now;
  }
  if (T.window && !T.added) {
    /* Due inside the window this wakeup fires ahead: the wheel's clock already passed it. */
    T.added = 1;
    sim_wheel_add(&T.s.wheel, N, now + T.window / 4);
  }
  /* The tick a due time belongs to is rounded up: a timer never fires before its due time. */
  uint64_t tick = (due + SIM_WHEEL_TICK_US - 1) >> SIM_WHEEL_TICK_SHIFT;
  if (T.count > 0 && tick < T.last_tick && T.out_of_order++ == 0) {
    T.ooo_id = id;
    T.ooo_tick = tick;
    T.ooo_after = T.last_tick;
  }
  T.last_tick = tick;
  sim_hist_record(&T.lag, now > due ? now - due : 0);
  T.fired[id]++;
  if (++T.count == N + (T.window != 0))
    end_run();
}

/* Ends a run whose timers did not all fire (the scheduler would otherwise keep the loop
 * alive for ever), so that the test fails with a count instead of hanging. */
static void on_watchdog(uv_timer_t *t) {
  (void)t;
  T.timed_out = 1;
  end_run();
}

static void run_real_clock(sim_time_t window) {
  memset(&T, 0, sizeof(T));
  T.window = window;
  sim_hist_init(&T.lag);
  uv_loop_t loop;
  uv_loop_init(&loop);
  assert_int_equal(sim_sched_init(&T.s, &loop, 0, N + 1, on_fire, NULL), 0);
  sim_sched_set_early(&T.s, window);
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
  uint32_t n = N + (window != 0);
  if (T.timed_out)
    fail_msg("only %zu of %u timers fired within %d ms", T.count, n, WATCHDOG_MS);
  assert_int_equal(T.count, n);
  for (uint32_t i = 0; i < n; i++)
    assert_int_equal(T.fired[i], 1);
  if (T.out_of_order)
    fail_msg("%zu timers fired after a timer of a later tick; the first: timer %u of tick %llu "
             "after one of tick %llu",
             T.out_of_order, T.ooo_id, (unsigned long long)T.ooo_tick,
             (unsigned long long)T.ooo_after);
  if (!window)
    assert_int_equal(T.early, 0);
  else if (T.max_early > window)
    fail_msg("a timer fired %llu us before its time, more than the window of %llu us",
             (unsigned long long)T.max_early, (unsigned long long)window);
  printf("window %llu us: lag p50 %.3f ms p99 %.3f ms max %.3f ms over %u timers, %d early "
         "(at most %.3f ms)\n",
         (unsigned long long)window, sim_hist_quantile(&T.lag, 0.5) / 1000.0,
         sim_hist_quantile(&T.lag, 0.99) / 1000.0, T.lag.max / 1000.0, n, T.early,
         T.max_early / 1000.0);
}

static void test_real_clock(void **state) {
  (void)state;
  run_real_clock(0);
}

/* 2,000 timers within 300 ms are a few per millisecond: with a 2 ms window most wakeups fire
 * some ahead of time, none more than 2 ms ahead, each exactly once and in tick order. */
static void test_real_clock_early(void **state) {
  (void)state;
  run_real_clock(2000);
  assert_true(T.early > 0);
}

/* The virtual clock fires every event at its own time: the window is ignored. */
static void test_virtual_clock_no_early(void **state) {
  (void)state;
  struct sim_sched s;
  uv_loop_t loop;
  uv_loop_init(&loop);
  assert_int_equal(sim_sched_init(&s, &loop, 1, 4, on_fire, NULL), 0);
  sim_sched_set_early(&s, 2000);
  assert_int_equal(s.early, 0);
  sim_sched_close(&s, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_real_clock),
                                     cmocka_unit_test(test_real_clock_early),
                                     cmocka_unit_test(test_virtual_clock_no_early)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
