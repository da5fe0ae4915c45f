/* Clocks. Engine time (sim_time_t) is microseconds since the clock started; every scheduled
 * event keeps its intended time in it.
 *   real:    monotonic time (uv_hrtime), for load tests against any platform;
 *   virtual: discrete-event time that only moves when the scheduler jumps it. */
#ifndef SIM_LOOP_CLOCK_H
#define SIM_LOOP_CLOCK_H

#include <stdint.h>

typedef uint64_t sim_time_t;

#define SIM_US(x) ((sim_time_t)(x))
#define SIM_MS(x) ((sim_time_t)(x)*1000u)
#define SIM_SEC(x) ((sim_time_t)(x)*1000000u)

struct sim_clock {
  int is_virtual;
  uint64_t start_ns;      /* real: uv_hrtime() at start */
  uint64_t start_wall_us; /* Unix time in µs at start, for wall-clock stamps */
  sim_time_t vnow;        /* virtual: current time */
};

void sim_clock_init(struct sim_clock *c, int is_virtual);
sim_time_t sim_clock_now(const struct sim_clock *c);
/* Virtual clocks only: moves time forward to t (never backwards). */
void sim_clock_set(struct sim_clock *c, sim_time_t t);
/* Unix time in ms at engine time t. */
uint64_t sim_clock_wall_ms(const struct sim_clock *c, sim_time_t t);

#endif
