#include "sim/loop/clock.h"

#include <time.h>
#include <uv.h>

void sim_clock_init(struct sim_clock *c, int is_virtual) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  c->is_virtual = is_virtual;
  c->start_ns = uv_hrtime();
  c->start_wall_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
  c->vnow = 0;
}

sim_time_t sim_clock_now(const struct sim_clock *c) {
  if (c->is_virtual)
    return c->vnow;
  return (uv_hrtime() - c->start_ns) / 1000u;
}

void sim_clock_set(struct sim_clock *c, sim_time_t t) {
  if (t > c->vnow)
    c->vnow = t;
}

uint64_t sim_clock_wall_ms(const struct sim_clock *c, sim_time_t t) {
  return (c->start_wall_us + t) / 1000u;
}
