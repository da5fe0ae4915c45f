/* The scheduler: one timing wheel driven by one libuv loop.
 *
 * Real clock: a timerfd (CLOCK_MONOTONIC, the clock of uv_hrtime) armed at the wheel's next
 * deadline with microsecond precision, watched by one uv_poll_t; libuv's own timers only have
 * millisecond resolution, which alone would eat the send-lag budget.
 * Virtual clock: no handles; the owner jumps the clock and calls sim_sched_poll() (the
 * discrete-event driver comes with the scenario engine).
 *
 * Owned by the caller; sim_sched_close() closes the handles, and the struct may be freed after
 * the loop has run the close callbacks (after close_cb). */
#ifndef SIM_LOOP_SCHED_H
#define SIM_LOOP_SCHED_H

#include <uv.h>

#include "sim/loop/clock.h"
#include "sim/loop/wheel.h"

/* Wakeups are rounded up to this grid, so that events due close together fire in one wakeup
 * (one epoll round, one batch of writes) instead of one each. Nothing fires before its time;
 * the grid adds at most this much lag, which the lag figures include. */
#ifndef SIM_SCHED_GRID_US
#define SIM_SCHED_GRID_US 256u
#endif

struct sim_sched {
  uv_loop_t *loop;
  struct sim_clock clock;
  struct sim_wheel wheel;
  uv_poll_t poll;
  uv_prepare_t prepare;
  int tfd;
  sim_time_t armed; /* deadline the timerfd is armed for, UINT64_MAX when disarmed */
  int open_handles;
  void (*close_cb)(struct sim_sched *s);
  sim_time_t early; /* sim_sched_set_early() */
};

/* cap timer ids; fire runs for each due timer with its intended time. 0 or a negative error. */
int sim_sched_init(struct sim_sched *s, uv_loop_t *loop, int is_virtual, uint32_t cap,
                   sim_wheel_fire_cb fire, void *arg);
static inline sim_time_t sim_sched_now(const struct sim_sched *s) {
  return sim_clock_now(&s->clock);
}
/* Real clock only: a wakeup also fires the timers due within the next us microseconds, so that
 * events due close together cost one wakeup rather than one each, without the lag a coarser
 * grid would add. The loop still wakes for the first of them on time; the others run up to us
 * early, and their fire callback sees a due time later than sim_sched_now(): an owner that
 * stamps what it makes with the due time must use the earlier of the two (the moment it really
 * made it). 0 (the default) fires nothing early. */
static inline void sim_sched_set_early(struct sim_sched *s, sim_time_t us) {
  s->early = s->clock.is_virtual ? 0 : us;
}
/* Fires everything due now (used after bursts of work to keep lag low). */
void sim_sched_poll(struct sim_sched *s);
/* Closes the handles; close_cb (may be NULL) runs once they are closed. The wheel is freed. */
void sim_sched_close(struct sim_sched *s, void (*close_cb)(struct sim_sched *s));

#endif
