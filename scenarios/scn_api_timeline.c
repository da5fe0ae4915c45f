/* The script's timeline: at, after and every schedule Lua functions on the engine clock;
 * phase, now and log read and mark it. docs/scenarios.md is the reference for scripts. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenarios/scn_internal.h"

int scn_step_add(struct scn *s, int fn_idx, sim_time_t due, sim_time_t period, sim_time_t to,
                 uint64_t count) {
  lua_State *L = s->L;
  uint32_t id;
  if (s->n_free) {
    id = s->free_steps[--s->n_free];
  } else {
    if (s->n_steps >= SCN_MAX_STEPS)
      scn_raise(L, "more than %u timeline entries pending", SCN_MAX_STEPS);
    if (s->n_steps == s->cap_steps) {
      uint32_t cap = s->cap_steps ? s->cap_steps * 2 : 64;
      /* The timeline's entries (and their timers) count against the state's memory ceiling:
       * a script scheduling in a loop must not take memory outside it. */
      size_t more = (size_t)(cap - s->cap_steps) *
                    (sizeof(struct scn_step) + sizeof(uint32_t) + sizeof(struct sim_timer));
      if (s->mem_used + more > s->lim.memory_bytes) {
        char m[96];
        scn_mem_message(s, m, sizeof m);
        s->mem_fatal = 1;
        scn_raise(L, "%s (%u timeline entries)", m, s->n_steps);
      }
      s->mem_used += more;
      struct scn_step *ns = realloc(s->steps, cap * sizeof *ns);
      if (!ns)
        scn_raise(L, "out of memory");
      s->steps = ns;
      uint32_t *nf = realloc(s->free_steps, cap * sizeof *nf);
      if (!nf)
        scn_raise(L, "out of memory");
      s->free_steps = nf;
      s->cap_steps = cap;
    }
    if (s->sched_open && !s->stopping && s->n_steps + 1 > s->sched.wheel.cap &&
        sim_wheel_grow(&s->sched.wheel, s->cap_steps) != 0)
      scn_raise(L, "out of memory");
    id = s->n_steps++;
    s->steps[id].ref = LUA_NOREF;
  }
  lua_pushvalue(L, fn_idx);
  struct scn_step *st = &s->steps[id];
  st->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  st->due = due;
  st->period = period;
  st->to = to;
  st->count_left = count;
  st->fired = 0;
  st->line = scn_current_line(L);
  if (s->sched_open && !s->stopping)
    sim_wheel_add(&s->sched.wheel, id, due);
  return (int)id;
}

static void step_free(struct scn *s, uint32_t id) {
  struct scn_step *st = &s->steps[id];
  if (st->ref == LUA_NOREF)
    return;
  if (s->L)
    luaL_unref(s->L, LUA_REGISTRYINDEX, st->ref);
  st->ref = LUA_NOREF;
  s->free_steps[s->n_free++] = id;
}

void scn_timeline_fire(void *arg, uint32_t id, sim_time_t due) {
  struct scn *s = arg;
  if (s->failed || s->stopping || !s->L || id >= s->n_steps || s->steps[id].ref == LUA_NOREF)
    return;
  lua_State *L = s->L;
  struct scn_step *st = &s->steps[id];
  lua_rawgeti(L, LUA_REGISTRYINDEX, st->ref);
  lua_pushinteger(L, (lua_Integer)st->fired + 1);
  s->in_callback = 1;
  s->cb_now = due;
  s->steps_run++;
  struct scn_error err;
  int rc = scn_pcall(s, 1, &err);
  s->in_callback = 0;
  if (rc) {
    s->failed = 1;
    s->fail_err = err;
    char m[sizeof err.message + 300];
    scn_error_format(&err, m, sizeof m);
    scn_logf(s, "error: %s", m);
    for (uint32_t i = 0; i < s->n_steps; i++) {
      if (s->steps[i].ref != LUA_NOREF) {
        sim_wheel_cancel(&s->sched.wheel, i);
        step_free(s, i);
      }
    }
    return;
  }
  st = &s->steps[id]; /* the array may have moved */
  st->fired++;
  if (st->period) {
    if (st->count_left != UINT64_MAX)
      st->count_left--;
    sim_time_t next = due + st->period;
    if (st->count_left > 0 && next <= st->to) {
      st->due = next;
      sim_wheel_add(&s->sched.wheel, id, next);
      return;
    }
  }
  step_free(s, id);
}

static sim_time_t base_time(struct scn *s) {
  return s->in_callback ? s->cb_now : 0;
}

int scn_api_at(lua_State *L) {
  struct scn *s = scn_from_L(L);
  double t = scn_check_duration(L, 1, "at", 0);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  sim_time_t due = scn_to_us(t);
  if (s->in_callback && due < s->cb_now)
    due = s->cb_now; /* a time already past runs at once */
  scn_step_add(s, 2, due, 0, UINT64_MAX, 1);
  return 0;
}

int scn_api_after(lua_State *L) {
  struct scn *s = scn_from_L(L);
  double t = scn_check_duration(L, 1, "after", 0);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  scn_step_add(s, 2, base_time(s) + scn_to_us(t), 0, UINT64_MAX, 1);
  return 0;
}

int scn_api_every(lua_State *L) {
  struct scn *s = scn_from_L(L);
  double p = scn_check_duration(L, 1, "every", 0);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (p < 0.001)
    scn_raise(L, "every: the period must be at least 1ms");
  sim_time_t period = scn_to_us(p);
  sim_time_t first = base_time(s) + period, to = UINT64_MAX;
  uint64_t count = UINT64_MAX;
  if (!lua_isnoneornil(L, 3)) {
    static const char *const keys[] = {"from", "to", "count", NULL};
    luaL_checktype(L, 3, LUA_TTABLE);
    scn_check_keys(L, 3, "every", keys);
    double d;
    if (scn_opt_duration(L, 3, "from", "every", &d, 0))
      first = scn_to_us(d);
    if (scn_opt_duration(L, 3, "to", "every", &d, 0))
      to = scn_to_us(d);
    if (scn_opt_number(L, 3, "count", "every", &d)) {
      if (d < 1 || d != floor(d) || d > 9007199254740992.0)
        scn_raise(L, "every: count must be a whole number from 1 to 2^53");
      count = (uint64_t)d;
    }
  }
  if (s->in_callback && first < s->cb_now)
    first = s->cb_now;
  if (first > to)
    return 0;
  scn_step_add(s, 2, first, period, to, count);
  return 0;
}

int scn_api_phase(lua_State *L) {
  struct scn *s = scn_from_L(L);
  size_t len;
  const char *n = luaL_checklstring(L, 1, &len);
  if (len >= sizeof s->phase || strlen(n) != len)
    scn_raise(L, "phase: the name is %zu bytes long: at most %zu, without NUL", len,
              sizeof s->phase - 1);
  snprintf(s->phase, sizeof s->phase, "%s", n);
  scn_logf(s, "phase %s", s->phase);
  return 0;
}

int scn_api_now(lua_State *L) {
  struct scn *s = scn_from_L(L);
  lua_pushnumber(L, (double)scn_engine_now(s) / 1e6);
  return 1;
}

int scn_api_log(lua_State *L) {
  struct scn *s = scn_from_L(L);
  int n = lua_gettop(L);
  if (n == 0)
    return 0;
  lua_getglobal(L, "string");
  lua_getfield(L, -1, "format");
  lua_remove(L, -2);
  lua_insert(L, 1);
  lua_call(L, n, 1);
  scn_logf(s, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "");
  return 0;
}
