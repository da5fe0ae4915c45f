/* The virtual-clock driver: discrete-event time for a fleet, the reference platform and the
 * scenario in one libuv loop over the mem transport.
 *
 * Time stands still while anything can run: the driver runs the loop without blocking until the
 * transport has nothing left to deliver (every frame written has been read, answered and its
 * answer read), then jumps every registered scheduler's clock to the earliest timer of any of
 * them and fires it. Nothing real-time is involved, so a run is a pure function of its inputs:
 * the same seed gives the same events, byte for byte, however fast the machine is.
 *
 * The driver borrows the schedulers (created with is_virtual = 1) and the loop; it owns
 * nothing. One thread. */
#ifndef SIM_LOOP_VDRIVER_H
#define SIM_LOOP_VDRIVER_H

#include <stddef.h>
#include <uv.h>

#include "sim/loop/sched.h"

#define SIM_VDRIVER_MAX_SCHEDS 8

/* Whether the loop has work that must run before time may move (frames in flight). */
typedef int (*sim_vdriver_busy_fn)(void *arg);

/* Immediate work done without the loop (no system call): deliver queued frames, write what is
 * queued. Non-zero when it did something. */
typedef int (*sim_vdriver_pump_fn)(void *arg);

struct sim_vdriver {
  uv_loop_t *loop;
  sim_vdriver_pump_fn pump;
  void *pump_arg;
  sim_time_t loop_at; /* virtual time of the last full loop turn */
  struct sim_sched *scheds[SIM_VDRIVER_MAX_SCHEDS];
  size_t n_scheds;
  sim_vdriver_busy_fn busy;
  void *busy_arg;
  sim_time_t now;
  /* Unix time (µs) at virtual time 0, given to every registered clock so wall-clock stamps
   * repeat too. Default 2026-01-01T00:00:00Z; set it before adding schedulers. */
  uint64_t start_wall_us;
  uint64_t jumps; /* times the clock moved */
  uint64_t spins; /* loop turns run */
};

/* busy may be NULL (then the loop is run once per step). */
void sim_vdriver_init(struct sim_vdriver *d, uv_loop_t *loop, sim_vdriver_busy_fn busy,
                      void *busy_arg);
/* With a pump, settling runs it (and the due timers) until neither has work, and turns the
 * loop itself (one epoll round) only once per millisecond of virtual time, and before time
 * moves when the pump found nothing: the loop's other handles (closes, a UI) still run, and a
 * simulated day does not cost millions of system calls. */
void sim_vdriver_set_pump(struct sim_vdriver *d, sim_vdriver_pump_fn pump, void *arg);
/* Registers a virtual scheduler; its clock is set to the driver's time. 0 or SIM_EFULL /
 * SIM_EINVAL (not virtual). */
int sim_vdriver_add(struct sim_vdriver *d, struct sim_sched *s);
void sim_vdriver_remove(struct sim_vdriver *d, struct sim_sched *s);
/* Runs the loop until nothing is in flight. SIM_ELIVELOCK when it would not settle within a
 * bounded number of turns (a livelock: something answers itself forever). */
int sim_vdriver_settle(struct sim_vdriver *d);
/* The earliest timer of every scheduler, UINT64_MAX when none. */
sim_time_t sim_vdriver_next(const struct sim_vdriver *d);
/* Settles, then moves time to min(next timer, until) and fires what is due there, and settles
 * again. Returns 1 when time reached `until` (nothing earlier is left), 0 when it stopped at an
 * earlier event, or a negative error. */
int sim_vdriver_step(struct sim_vdriver *d, sim_time_t until);
/* Steps until `until`, or until stop(arg) returns non-zero (checked after every step; may be
 * NULL). 0 or a negative error. */
int sim_vdriver_run(struct sim_vdriver *d, sim_time_t until, int (*stop)(void *arg), void *arg);

#endif
