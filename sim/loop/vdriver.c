#include "sim/loop/vdriver.h"

#include <stdint.h>

#include "sim/core/err.h"

/* Turns of the loop allowed without time moving before the driver calls it a livelock. A
 * real exchange settles in a handful (frame, answer, ack); the largest fleets queue many
 * deliveries per turn, not many turns. */
#define SETTLE_MAX_TURNS 100000

void sim_vdriver_init(struct sim_vdriver *d, uv_loop_t *loop, sim_vdriver_busy_fn busy,
                      void *busy_arg) {
  d->loop = loop;
  d->pump = NULL;
  d->pump_arg = NULL;
  d->loop_at = 0;
  d->n_scheds = 0;
  d->busy = busy;
  d->busy_arg = busy_arg;
  d->now = 0;
  d->start_wall_us = 1767225600ull * 1000000u; /* 2026-01-01T00:00:00Z */
  d->jumps = 0;
  d->spins = 0;
}

int sim_vdriver_add(struct sim_vdriver *d, struct sim_sched *s) {
  if (!s->clock.is_virtual)
    return SIM_EINVAL;
  if (d->n_scheds == SIM_VDRIVER_MAX_SCHEDS)
    return SIM_EFULL;
  sim_clock_set(&s->clock, d->now);
  s->clock.start_wall_us = d->start_wall_us;
  d->scheds[d->n_scheds++] = s;
  return 0;
}

void sim_vdriver_remove(struct sim_vdriver *d, struct sim_sched *s) {
  for (size_t i = 0; i < d->n_scheds; i++) {
    if (d->scheds[i] == s) {
      d->scheds[i] = d->scheds[--d->n_scheds];
      return;
    }
  }
}

void sim_vdriver_set_pump(struct sim_vdriver *d, sim_vdriver_pump_fn pump, void *arg) {
  d->pump = pump;
  d->pump_arg = arg;
}

/* Runs the pump and the timers due now until neither has work. 0 or SIM_ELIVELOCK. */
static int pump_settle(struct sim_vdriver *d) {
  for (int turns = 0; turns < SETTLE_MAX_TURNS; turns++) {
    int did = d->pump(d->pump_arg);
    for (size_t i = 0; i < d->n_scheds; i++) {
      if (sim_wheel_next(&d->scheds[i]->wheel) <= d->now) {
        sim_sched_poll(d->scheds[i]);
        did = 1;
      }
    }
    if (!did)
      return 0;
  }
  return SIM_ELIVELOCK;
}

int sim_vdriver_settle(struct sim_vdriver *d) {
  if (d->pump) {
    int rc = pump_settle(d);
    if (rc || d->now < d->loop_at + 1000)
      return rc;
    d->loop_at = d->now; /* a full loop turn once per virtual millisecond */
  }
  for (int turns = 0; turns < SETTLE_MAX_TURNS; turns++) {
    uv_run(d->loop, UV_RUN_NOWAIT);
    d->spins++;
    if (d->pump) {
      int rc = pump_settle(d);
      if (rc)
        return rc;
    }
    /* Timers due now (an answer scheduled with zero delay) run before time moves. */
    int fired = 0;
    for (size_t i = 0; i < d->n_scheds; i++) {
      if (sim_wheel_next(&d->scheds[i]->wheel) <= d->now) {
        sim_sched_poll(d->scheds[i]);
        fired = 1;
      }
    }
    if (!fired && !(d->busy && d->busy(d->busy_arg)))
      return 0;
  }
  return SIM_ELIVELOCK;
}

sim_time_t sim_vdriver_next(const struct sim_vdriver *d) {
  sim_time_t next = UINT64_MAX;
  for (size_t i = 0; i < d->n_scheds; i++) {
    sim_time_t t = sim_wheel_next(&d->scheds[i]->wheel);
    if (t < next)
      next = t;
  }
  return next;
}

int sim_vdriver_step(struct sim_vdriver *d, sim_time_t until) {
  int rc = sim_vdriver_settle(d);
  if (rc)
    return rc;
  sim_time_t next = sim_vdriver_next(d);
  int reached = next >= until;
  sim_time_t t = reached ? until : next;
  if (t > d->now) {
    d->now = t;
    d->jumps++;
  }
  for (size_t i = 0; i < d->n_scheds; i++) {
    sim_clock_set(&d->scheds[i]->clock, d->now);
    sim_sched_poll(d->scheds[i]);
  }
  rc = sim_vdriver_settle(d);
  if (rc)
    return rc;
  return reached && sim_vdriver_next(d) > until ? 1 : 0;
}

int sim_vdriver_run(struct sim_vdriver *d, sim_time_t until, int (*stop)(void *arg), void *arg) {
  for (;;) {
    int rc = sim_vdriver_step(d, until);
    if (rc < 0)
      return rc;
    if (rc == 1 || (stop && stop(arg)))
      return 0;
  }
}
