/* A hierarchical timing wheel: O(1) add and cancel, millions of entries, one per device.
 *
 * Timers live in an array owned by the wheel and are named by index (uint32_t id): a device's
 * timer is its index, so nothing is allocated per device and no libuv handle exists per device.
 * Every timer keeps its intended time (due, in µs); the wheel resolves it to ticks of
 * SIM_WHEEL_TICK_US and never fires a timer before its due time.
 *
 * Layout: four levels of 256 slots. A timer goes to the level of the highest 8-bit digit in
 * which its tick differs from the current tick, so it moves down a level only when the clock
 * reaches the start of its slot: each timer is touched at most four times. Bitmaps of occupied
 * slots let the wheel jump straight to the next tick that has work, which makes idle gaps (and
 * virtual time) cost nothing. Timers beyond 2^32 ticks (about 3 days) wait in an overflow list.
 *
 * Not thread-safe: one wheel per loop. */
#ifndef SIM_LOOP_WHEEL_H
#define SIM_LOOP_WHEEL_H

#include <stddef.h>
#include <stdint.h>

#include "sim/loop/clock.h"

#define SIM_WHEEL_TICK_SHIFT 6 /* 64 µs ticks */
#define SIM_WHEEL_TICK_US (1u << SIM_WHEEL_TICK_SHIFT)
#define SIM_WHEEL_LEVELS 4
#define SIM_WHEEL_SLOTS 256
#define SIM_WHEEL_NONE UINT32_MAX

struct sim_timer {
  sim_time_t due; /* intended time, µs */
  uint32_t next;  /* list links (ids); SIM_WHEEL_NONE at the ends */
  uint32_t prev;
  uint32_t where; /* list the timer is in: 0 idle, else 1 + list index */
  uint32_t pad;
};

/* Fires one timer: it is already unlinked (idle) and may be re-added from the callback. */
typedef void (*sim_wheel_fire_cb)(void *arg, uint32_t id, sim_time_t due);

struct sim_wheel {
  struct sim_timer *timers;
  uint32_t cap;
  uint64_t now_tick; /* every tick <= now_tick has been processed */
  uint32_t head[SIM_WHEEL_LEVELS * SIM_WHEEL_SLOTS + 2]; /* + expired list + overflow list */
  uint64_t bits[SIM_WHEEL_LEVELS][SIM_WHEEL_SLOTS / 64];
  uint32_t expired_tail;
  size_t active; /* timers currently scheduled */
  sim_wheel_fire_cb fire;
  void *arg;
};

/* cap timers, all idle; now_tick starts at the tick of start. 0 or SIM_ENOMEM. */
int sim_wheel_init(struct sim_wheel *w, uint32_t cap, sim_time_t start, sim_wheel_fire_cb fire,
                   void *arg);
void sim_wheel_fini(struct sim_wheel *w);
/* Grows the timer array to at least cap ids; existing timers keep their ids. */
int sim_wheel_grow(struct sim_wheel *w, uint32_t cap);

/* Schedules timer id at due (re-schedules it if it was pending). A due time in the past fires
 * at the next sim_wheel_advance(). */
void sim_wheel_add(struct sim_wheel *w, uint32_t id, sim_time_t due);
/* Cancels timer id; nothing happens if it is idle. */
void sim_wheel_cancel(struct sim_wheel *w, uint32_t id);
static inline int sim_wheel_pending(const struct sim_wheel *w, uint32_t id) {
  return w->timers[id].where != 0;
}

/* Fires, in tick order, every timer due at or before now. Returns the number fired. */
size_t sim_wheel_advance(struct sim_wheel *w, sim_time_t now);
/* Earliest time at which the wheel has work (a timer to fire or to move down a level), or
 * UINT64_MAX when empty. The work may be a cascade that fires nothing: callers sleep until then
 * and call sim_wheel_advance(). */
sim_time_t sim_wheel_next(const struct sim_wheel *w);
/* 1 when timers already due wait to be fired (added at or before the wheel's time). */
int sim_wheel_has_expired(const struct sim_wheel *w);

#endif
