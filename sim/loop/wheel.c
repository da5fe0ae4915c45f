#include "sim/loop/wheel.h"

#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"

#define LIST_EXPIRED (SIM_WHEEL_LEVELS * SIM_WHEEL_SLOTS)
#define LIST_OVERFLOW (LIST_EXPIRED + 1)

/* Ticks round up, so that a timer never fires before its due time. */
static inline uint64_t tick_of(sim_time_t t) {
  return (t + SIM_WHEEL_TICK_US - 1) >> SIM_WHEEL_TICK_SHIFT;
}

int sim_wheel_init(struct sim_wheel *w, uint32_t cap, sim_time_t start, sim_wheel_fire_cb fire,
                   void *arg) {
  memset(w, 0, sizeof(*w));
  for (size_t i = 0; i < sizeof(w->head) / sizeof(w->head[0]); i++)
    w->head[i] = SIM_WHEEL_NONE;
  w->now_tick = start >> SIM_WHEEL_TICK_SHIFT;
  w->expired_tail = SIM_WHEEL_NONE;
  w->fire = fire;
  w->arg = arg;
  return sim_wheel_grow(w, cap ? cap : 1);
}

void sim_wheel_fini(struct sim_wheel *w) {
  free(w->timers);
  w->timers = NULL;
  w->cap = 0;
  /* Left as an empty wheel: a driver that still polls it finds nothing to do. */
  for (size_t i = 0; i < sizeof(w->head) / sizeof(w->head[0]); i++)
    w->head[i] = SIM_WHEEL_NONE;
  memset(w->bits, 0, sizeof(w->bits));
  w->expired_tail = SIM_WHEEL_NONE;
  w->active = 0;
}

int sim_wheel_grow(struct sim_wheel *w, uint32_t cap) {
  if (cap <= w->cap)
    return 0;
  struct sim_timer *t = realloc(w->timers, (size_t)cap * sizeof(*t));
  if (!t)
    return SIM_ENOMEM;
  memset(t + w->cap, 0, (size_t)(cap - w->cap) * sizeof(*t));
  w->timers = t;
  w->cap = cap;
  return 0;
}

static void set_bit(struct sim_wheel *w, uint32_t list) {
  if (list < LIST_EXPIRED)
    w->bits[list / SIM_WHEEL_SLOTS][(list % SIM_WHEEL_SLOTS) / 64] |= 1ull << (list % 64);
}

static void clear_bit(struct sim_wheel *w, uint32_t list) {
  if (list < LIST_EXPIRED)
    w->bits[list / SIM_WHEEL_SLOTS][(list % SIM_WHEEL_SLOTS) / 64] &= ~(1ull << (list % 64));
}

static void link_into(struct sim_wheel *w, uint32_t id, uint32_t list) {
  struct sim_timer *t = &w->timers[id];
  t->where = list + 1;
  if (list == LIST_EXPIRED) {
    /* The expired list is a FIFO: timers fire in the order they expired, which keeps the
     * virtual clock deterministic and lets callbacks add and cancel freely while it drains. */
    t->next = SIM_WHEEL_NONE;
    t->prev = w->expired_tail;
    if (w->expired_tail != SIM_WHEEL_NONE)
      w->timers[w->expired_tail].next = id;
    else
      w->head[list] = id;
    w->expired_tail = id;
    return;
  }
  t->prev = SIM_WHEEL_NONE;
  t->next = w->head[list];
  if (t->next != SIM_WHEEL_NONE)
    w->timers[t->next].prev = id;
  w->head[list] = id;
  set_bit(w, list);
}

static void unlink_timer(struct sim_wheel *w, uint32_t id) {
  struct sim_timer *t = &w->timers[id];
  uint32_t list = t->where - 1;
  if (t->prev != SIM_WHEEL_NONE)
    w->timers[t->prev].next = t->next;
  else
    w->head[list] = t->next;
  if (t->next != SIM_WHEEL_NONE)
    w->timers[t->next].prev = t->prev;
  else if (list == LIST_EXPIRED)
    w->expired_tail = t->prev;
  if (w->head[list] == SIM_WHEEL_NONE)
    clear_bit(w, list);
  t->where = 0;
  t->next = t->prev = SIM_WHEEL_NONE;
}

/* Places an unlinked timer in the list its due tick belongs to, relative to now_tick. */
static void place(struct sim_wheel *w, uint32_t id) {
  uint64_t tk = tick_of(w->timers[id].due);
  if (tk <= w->now_tick) {
    link_into(w, id, LIST_EXPIRED);
    return;
  }
  uint64_t diff = tk ^ w->now_tick;
  for (int lvl = 0; lvl < SIM_WHEEL_LEVELS; lvl++) {
    if (diff < (1ull << (8 * (lvl + 1)))) {
      uint32_t slot = (uint32_t)(tk >> (8 * lvl)) & 0xFF;
      link_into(w, id, (uint32_t)lvl * SIM_WHEEL_SLOTS + slot);
      return;
    }
  }
  link_into(w, id, LIST_OVERFLOW);
}

void sim_wheel_add(struct sim_wheel *w, uint32_t id, sim_time_t due) {
  struct sim_timer *t = &w->timers[id];
  if (t->where)
    unlink_timer(w, id);
  else
    w->active++;
  t->due = due;
  place(w, id);
}

void sim_wheel_cancel(struct sim_wheel *w, uint32_t id) {
  if (!w->timers[id].where)
    return;
  unlink_timer(w, id);
  w->active--;
}

/* First set bit at index > from in a 256-bit map, or -1. */
static int next_bit(const uint64_t bits[4], int from) {
  int i = from + 1;
  while (i < SIM_WHEEL_SLOTS) {
    uint64_t word = bits[i / 64] >> (i % 64);
    if (word)
      return i + __builtin_ctzll(word);
    i = (i / 64 + 1) * 64;
  }
  return -1;
}

/* The next tick > now_tick at which a slot must be processed, or UINT64_MAX. A level-0 slot
 * holds timers of that exact tick; a higher slot is processed (cascaded) when the clock reaches
 * its first tick. Lower levels always come first, so the first hit is the answer. */
static uint64_t next_tick(const struct sim_wheel *w) {
  for (int lvl = 0; lvl < SIM_WHEEL_LEVELS; lvl++) {
    int shift = 8 * lvl;
    int digit = (int)((w->now_tick >> shift) & 0xFF);
    int b = next_bit(w->bits[lvl], digit);
    if (b >= 0) {
      uint64_t hi = w->now_tick >> (shift + 8) << (shift + 8);
      return hi | ((uint64_t)b << shift);
    }
  }
  if (w->head[LIST_OVERFLOW] != SIM_WHEEL_NONE) {
    uint64_t best = UINT64_MAX;
    for (uint32_t id = w->head[LIST_OVERFLOW]; id != SIM_WHEEL_NONE; id = w->timers[id].next) {
      uint64_t tk = tick_of(w->timers[id].due);
      if (tk < best)
        best = tk;
    }
    /* Re-placing happens when the clock crosses the top level's range, at the latest. */
    uint64_t top = (w->now_tick >> 32 << 32) + (1ull << 32);
    return best < top ? top : best;
  }
  return UINT64_MAX;
}

sim_time_t sim_wheel_next(const struct sim_wheel *w) {
  if (w->head[LIST_EXPIRED] != SIM_WHEEL_NONE)
    return w->now_tick << SIM_WHEEL_TICK_SHIFT;
  uint64_t tk = next_tick(w);
  return tk == UINT64_MAX ? UINT64_MAX : tk << SIM_WHEEL_TICK_SHIFT;
}

int sim_wheel_has_expired(const struct sim_wheel *w) {
  return w->head[LIST_EXPIRED] != SIM_WHEEL_NONE;
}

/* Moves every timer of list to where it belongs now. */
static void replace_list(struct sim_wheel *w, uint32_t list) {
  uint32_t id = w->head[list];
  w->head[list] = SIM_WHEEL_NONE;
  clear_bit(w, list);
  while (id != SIM_WHEEL_NONE) {
    uint32_t next = w->timers[id].next;
    w->timers[id].where = 0;
    place(w, id);
    id = next;
  }
}

/* The clock has reached tick tk: cascade the slots that start here, from the top down, then
 * expire level 0. */
static void process_tick(struct sim_wheel *w, uint64_t tk) {
  w->now_tick = tk;
  if ((tk & 0xFFFFFFFFull) == 0 && w->head[LIST_OVERFLOW] != SIM_WHEEL_NONE)
    replace_list(w, LIST_OVERFLOW);
  for (int lvl = SIM_WHEEL_LEVELS - 1; lvl >= 1; lvl--) {
    int shift = 8 * lvl;
    if (tk & ((1ull << shift) - 1))
      continue;
    uint32_t list = (uint32_t)lvl * SIM_WHEEL_SLOTS + (uint32_t)((tk >> shift) & 0xFF);
    if (w->head[list] != SIM_WHEEL_NONE)
      replace_list(w, list);
  }
  uint32_t l0 = (uint32_t)(tk & 0xFF);
  if (w->head[l0] != SIM_WHEEL_NONE)
    replace_list(w, l0); /* everything here is due: it lands in the expired list */
}

/* Fires the expired list, one timer at a time from its head. */
static size_t fire_expired(struct sim_wheel *w) {
  size_t fired = 0;
  while (w->head[LIST_EXPIRED] != SIM_WHEEL_NONE) {
    uint32_t id = w->head[LIST_EXPIRED];
    unlink_timer(w, id);
    w->active--;
    w->fire(w->arg, id, w->timers[id].due);
    fired++;
  }
  return fired;
}

size_t sim_wheel_advance(struct sim_wheel *w, sim_time_t now) {
  uint64_t target = now >> SIM_WHEEL_TICK_SHIFT;
  size_t fired = fire_expired(w);
  for (;;) {
    uint64_t tk = next_tick(w);
    if (tk == UINT64_MAX || tk > target)
      break;
    process_tick(w, tk);
    fired += fire_expired(w);
  }
  if (target > w->now_tick)
    w->now_tick = target;
  return fired;
}
