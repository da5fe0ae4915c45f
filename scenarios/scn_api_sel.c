/* Selections: hubs{} and devices{} pick parts of the running fleet into a userdata whose
 * methods act on each entry (disconnect, power_cut, fault, trigger, join, ...).
 * docs/scenarios.md is the reference for scripts. */
#include <inttypes.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenarios/scn_internal.h"
#include "sim/core/err.h"

#define SEL_META "hubsim.selection"

enum { SEL_HUBS = 0, SEL_DEVICES = 1 };

struct scn_sel {
  uint32_t kind;
  uint32_t n;   /* entries used */
  uint32_t v[]; /* hubs: hub index; devices: hub, slot pairs */
};

void scn_need_fleet(lua_State *L, struct scn *s, const char *what) {
  if (!s->started || !s->fleet)
    scn_raise(L, "%s works on the running fleet: call it from at(), after() or every()", what);
}

static const char *state_name(enum sim_hub_state st) {
  const char *n = sim_hub_state_name(st);
  return n ? n : "?";
}

static void push_hub(lua_State *L, struct scn *s, uint32_t h) {
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, h);
  lua_setfield(L, -2, "index");
  char id[64];
  sim_fleet_hub_id(s->fleet, h, id, sizeof id);
  lua_pushstring(L, id);
  lua_setfield(L, -2, "id");
  enum sim_hub_state st = sim_fleet_hub_state(s->fleet, h);
  lua_pushstring(L, state_name(st));
  lua_setfield(L, -2, "state");
  lua_pushboolean(L, st == SIM_HUB_OPEN);
  lua_setfield(L, -2, "online");
  uint32_t n = 0, dph = sim_fleet_devices_per_hub(s->fleet);
  for (uint32_t j = 0; j < dph; j++) {
    struct sim_device_info di;
    if (sim_fleet_device_info(s->fleet, h, j, &di) == 0 && di.model)
      n++;
  }
  lua_pushinteger(L, n);
  lua_setfield(L, -2, "devices");
}

static void push_device(lua_State *L, struct scn *s, uint32_t h, uint32_t slot,
                        const struct sim_device_info *di) {
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, h);
  lua_setfield(L, -2, "hub");
  lua_pushinteger(L, slot);
  lua_setfield(L, -2, "slot");
  char eui[24];
  snprintf(eui, sizeof eui, "0x%016" PRIx64, di->eui64);
  lua_pushstring(L, eui);
  lua_setfield(L, -2, "eui");
  if (di->model)
    lua_pushstring(L, di->model->model_id);
  else
    lua_pushnil(L);
  lua_setfield(L, -2, "model");
  lua_pushboolean(L, di->joined);
  lua_setfield(L, -2, "joined");
}

static void push_item(lua_State *L, struct scn *s, const struct scn_sel *sel, uint32_t i) {
  if (sel->kind == SEL_HUBS) {
    push_hub(L, s, sel->v[i]);
  } else {
    struct sim_device_info di;
    memset(&di, 0, sizeof di);
    sim_fleet_device_info(s->fleet, sel->v[2 * i], sel->v[2 * i + 1], &di);
    push_device(L, s, sel->v[2 * i], sel->v[2 * i + 1], &di);
  }
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}
static int cmp_pair(const void *a, const void *b) {
  const uint32_t *x = a, *y = b;
  if (x[0] != y[0])
    return (x[0] > y[0]) - (x[0] < y[0]);
  return (x[1] > y[1]) - (x[1] < y[1]);
}

/* Keeps round(share * n) of the entries, drawn by the scenario's seed; index order kept. */
static void apply_share(struct scn *s, struct scn_sel *sel, double share) {
  uint32_t width = sel->kind == SEL_HUBS ? 1 : 2;
  uint32_t k = (uint32_t)llround(share * sel->n);
  if (k >= sel->n)
    return;
  struct sim_rng r;
  sim_rng_seed(&r, scn_seed(s), 0x5E1EC7000000ull + s->sel_counter++);
  for (uint32_t i = 0; i < k; i++) {
    uint32_t j = i + sim_rng_below(&r, sel->n - i);
    for (uint32_t w = 0; w < width; w++) {
      uint32_t t = sel->v[i * width + w];
      sel->v[i * width + w] = sel->v[j * width + w];
      sel->v[j * width + w] = t;
    }
  }
  sel->n = k;
  qsort(sel->v, k, width * sizeof(uint32_t), width == 1 ? cmp_u32 : cmp_pair);
}

static double opt_share(lua_State *L, int idx, const char *what) {
  double share = -1;
  if (scn_opt_number(L, idx, "share", what, &share) && (share < 0 || share > 1))
    scn_raise(L, "%s: share must be in [0, 1]", what);
  return share;
}

/* Calls the predicate at pred with the item on top of the stack (popped); its truth. */
static int predicate(lua_State *L, int pred) {
  lua_pushvalue(L, pred);
  lua_insert(L, -2);
  lua_call(L, 1, 1);
  int ok = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return ok;
}

static struct scn_sel *new_sel(lua_State *L, uint32_t kind, size_t cap_entries) {
  size_t width = kind == SEL_HUBS ? 1 : 2;
  struct scn_sel *sel =
      lua_newuserdatauv(L, sizeof *sel + cap_entries * width * sizeof(uint32_t), 0);
  sel->kind = kind;
  sel->n = 0;
  luaL_setmetatable(L, SEL_META);
  return sel;
}

int scn_api_hubs(lua_State *L) {
  struct scn *s = scn_from_L(L);
  scn_need_fleet(L, s, "hubs{}");
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
    lua_pushboolean(L, 1);
    lua_setfield(L, 1, "all");
  }
  scn_check_table(L, 1, "hubs");
  static const char *const keys[] = {"all", "share", "list", "where", "state", NULL};
  scn_check_keys(L, 1, "hubs", keys);
  uint32_t nh = sim_fleet_hub_count(s->fleet);
  double share = opt_share(L, 1, "hubs");
  int pred = 0;
  if (lua_getfield(L, 1, "where") == LUA_TFUNCTION)
    pred = lua_gettop(L);
  else if (!lua_isnil(L, -1))
    scn_raise(L, "hubs: where must be a function(h)");
  const char *want_state = NULL;
  if (lua_getfield(L, 1, "state") != LUA_TNIL) {
    want_state = lua_tostring(L, -1);
    int known = 0;
    for (int st = 0; want_state && st < SIM_HUB_NSTATES && !known; st++)
      known = strcmp(want_state, state_name((enum sim_hub_state)st)) == 0;
    if (!known)
      scn_raise(L,
                "hubs: unknown state '%s' (idle, connecting, handshake, online, backoff, "
                "stopped)",
                want_state ? want_state : "?");
  }
  int has_list = lua_getfield(L, 1, "list") != LUA_TNIL;
  int list = lua_gettop(L);
  size_t cap = has_list ? lua_rawlen(L, list) : nh;
  struct scn_sel *sel = new_sel(L, SEL_HUBS, cap);
  int sel_idx = lua_gettop(L);
  if (has_list) {
    if (lua_type(L, list) != LUA_TTABLE)
      scn_raise(L, "hubs: list must be a table of hub indices {0, 1, ...}");
    for (size_t i = 1; i <= cap; i++) {
      lua_rawgeti(L, list, (lua_Integer)i);
      int isnum;
      lua_Integer h = lua_tointegerx(L, -1, &isnum);
      lua_pop(L, 1);
      if (!isnum || h < 0 || h >= (lua_Integer)nh)
        scn_raise(L, "hubs: list entry %zu is not a hub index in 0..%u", i, nh ? nh - 1 : 0);
      sel->v[sel->n++] = (uint32_t)h;
    }
  } else {
    for (uint32_t h = 0; h < nh; h++)
      sel->v[sel->n++] = h;
  }
  uint32_t kept = 0;
  for (uint32_t i = 0; i < sel->n; i++) {
    uint32_t h = sel->v[i];
    if (want_state && strcmp(state_name(sim_fleet_hub_state(s->fleet, h)), want_state) != 0)
      continue;
    if (pred) {
      push_hub(L, s, h);
      if (!predicate(L, pred))
        continue;
    }
    sel->v[kept++] = h;
  }
  sel->n = kept;
  if (share >= 0)
    apply_share(s, sel, share);
  lua_pushvalue(L, sel_idx);
  return 1;
}

int scn_api_devices(lua_State *L) {
  struct scn *s = scn_from_L(L);
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  scn_check_table(L, 1, "devices");
  static const char *const keys[] = {"all", "model", "share", "where", "hub", "joined", NULL};
  scn_check_keys(L, 1, "devices", keys);
  const struct sim_model *want = NULL;
  if (lua_getfield(L, 1, "model") != LUA_TNIL) {
    const char *m = lua_tostring(L, -1);
    if (!m)
      scn_raise(L, "devices: model must be a model id string");
    int idx = sim_model_find(m);
    if (idx < 0)
      scn_raise(L, "devices: unknown device model '%s'", m);
    want = sim_model_get((uint16_t)idx);
  }
  scn_need_fleet(L, s, "devices{}");
  double share = opt_share(L, 1, "devices");
  int pred = 0;
  if (lua_getfield(L, 1, "where") == LUA_TFUNCTION)
    pred = lua_gettop(L);
  else if (!lua_isnil(L, -1))
    scn_raise(L, "devices: where must be a function(d)");
  uint32_t nh = sim_fleet_hub_count(s->fleet), dph = sim_fleet_devices_per_hub(s->fleet);
  uint32_t h0 = 0, h1 = nh;
  double d;
  if (scn_opt_number(L, 1, "hub", "devices", &d)) {
    if (d < 0 || d >= nh || d != floor(d))
      scn_raise(L, "devices: hub %g is not a hub index in 0..%u", d, nh ? nh - 1 : 0);
    h0 = (uint32_t)d;
    h1 = h0 + 1;
  }
  int joined = -1;
  if (lua_getfield(L, 1, "joined") != LUA_TNIL)
    joined = lua_toboolean(L, -1);
  lua_pop(L, 1);
  struct scn_sel *sel = new_sel(L, SEL_DEVICES, (size_t)(h1 - h0) * dph);
  int sel_idx = lua_gettop(L);
  for (uint32_t h = h0; h < h1; h++) {
    for (uint32_t j = 0; j < dph; j++) {
      struct sim_device_info di;
      if (sim_fleet_device_info(s->fleet, h, j, &di) != 0 || !di.model)
        continue;
      if (want && di.model != want && strcmp(di.model->model_id, want->model_id) != 0)
        continue;
      if (joined >= 0 && (di.joined != 0) != joined)
        continue;
      if (pred) {
        push_device(L, s, h, j, &di);
        if (!predicate(L, pred))
          continue;
      }
      sel->v[2 * sel->n] = h;
      sel->v[2 * sel->n + 1] = j;
      sel->n++;
    }
  }
  if (share >= 0)
    apply_share(s, sel, share);
  lua_pushvalue(L, sel_idx);
  return 1;
}

static struct scn_sel *check_sel(lua_State *L) {
  return luaL_checkudata(L, 1, SEL_META);
}

static struct scn_sel *check_kind(lua_State *L, uint32_t kind, const char *what) {
  struct scn_sel *sel = check_sel(L);
  if (sel->kind != kind)
    scn_raise(L, "%s works on a %s selection", what, kind == SEL_HUBS ? "hubs{}" : "devices{}");
  struct scn *s = scn_from_L(L);
  scn_need_fleet(L, s, what);
  return sel;
}

static int sel_count(lua_State *L) {
  lua_pushinteger(L, check_sel(L)->n);
  return 1;
}

static int sel_each(lua_State *L) {
  struct scn *s = scn_from_L(L);
  struct scn_sel *sel = check_sel(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  scn_need_fleet(L, s, "each()");
  for (uint32_t i = 0; i < sel->n; i++) {
    lua_pushvalue(L, 2);
    push_item(L, s, sel, i);
    lua_call(L, 1, 0);
  }
  return 0;
}

static int sel_index(lua_State *L) {
  struct scn *s = scn_from_L(L);
  struct scn_sel *sel = check_sel(L);
  if (lua_type(L, 2) == LUA_TNUMBER) {
    int isint;
    lua_Integer i = lua_tointegerx(L, 2, &isint);
    if (!isint || i < 1 || i > (lua_Integer)sel->n) {
      lua_pushnil(L);
      return 1;
    }
    scn_need_fleet(L, s, "a selection");
    push_item(L, s, sel, (uint32_t)(i - 1));
    return 1;
  }
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, "methods");
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  return 1;
}

static int sel_len(lua_State *L) {
  lua_pushinteger(L, check_sel(L)->n);
  return 1;
}

typedef int (*hub_action)(struct sim_fleet *f, uint32_t hub);

static int hub_power_off(struct sim_fleet *f, uint32_t h) {
  return sim_fleet_hub_power(f, h, 0);
}
static int hub_power_on(struct sim_fleet *f, uint32_t h) {
  return sim_fleet_hub_power(f, h, 1);
}

static int hubs_do(lua_State *L, const char *what, hub_action fn) {
  struct scn *s = scn_from_L(L);
  struct scn_sel *sel = check_kind(L, SEL_HUBS, what);
  uint32_t ok = 0;
  for (uint32_t i = 0; i < sel->n; i++)
    if (fn(s->fleet, sel->v[i]) == 0)
      ok++;
  s->actions++;
  scn_logf(s, "%s: %u of %u hubs", what, ok, sel->n);
  lua_pushinteger(L, ok);
  return 1;
}

static int sel_disconnect(lua_State *L) {
  return hubs_do(L, "disconnect", sim_fleet_hub_disconnect);
}
static int sel_connect(lua_State *L) {
  return hubs_do(L, "connect", sim_fleet_hub_connect);
}
static int sel_power_cut(lua_State *L) {
  return hubs_do(L, "power_cut", hub_power_off);
}
static int sel_restore(lua_State *L) {
  return hubs_do(L, "restore", hub_power_on);
}

static int sel_fault(lua_State *L) {
  struct scn *s = scn_from_L(L);
  struct scn_sel *sel = check_kind(L, SEL_HUBS, "fault");
  luaL_checktype(L, 2, LUA_TTABLE);
  static const char *const keys[] = {"drop", "stall_reads", "delay_writes", "for_",
                                     "for",  "malformed",   "clock_skew",   NULL};
  scn_check_keys(L, 2, "fault", keys);
  double dur = 30, d;
  if (!scn_opt_duration(L, 2, "for_", "fault", &dur, 0))
    scn_opt_duration(L, 2, "for", "fault", &dur, 0);
  int kinds = 0;
  const char *kind = NULL;
  double stall = 0, delay = 0, skew = 0;
  lua_getfield(L, 2, "drop");
  if (lua_toboolean(L, -1))
    kinds++, kind = "drop";
  lua_getfield(L, 2, "malformed");
  if (lua_toboolean(L, -1))
    kinds++, kind = "malformed";
  lua_pop(L, 2);
  if (scn_opt_duration(L, 2, "stall_reads", "fault", &d, 0))
    kinds++, kind = "stall_reads", stall = d;
  if (scn_opt_duration(L, 2, "delay_writes", "fault", &d, 0))
    kinds++, kind = "delay_writes", delay = d;
  if (scn_opt_duration(L, 2, "clock_skew", "fault", &d, 1))
    kinds++, kind = "clock_skew", skew = d;
  if (kinds != 1)
    scn_raise(L, "fault: give exactly one of drop, stall_reads, delay_writes, malformed, "
                 "clock_skew");
  uint32_t ok = 0;
  for (uint32_t i = 0; i < sel->n; i++) {
    uint32_t h = sel->v[i];
    int rc = 0;
    if (strcmp(kind, "drop") == 0) {
      rc = sim_fleet_hub_state(s->fleet, h) == SIM_HUB_OPEN ? 0 : SIM_EINVAL;
      if (!rc)
        sim_fleet_drop_hub(s->fleet, h);
    } else if (strcmp(kind, "malformed") == 0) {
      rc = sim_fleet_hub_send_malformed(s->fleet, h);
    } else if (strcmp(kind, "stall_reads") == 0) {
      rc = sim_fleet_hub_stall_reads(s->fleet, h, scn_to_us(stall));
    } else if (strcmp(kind, "delay_writes") == 0) {
      rc = sim_fleet_hub_delay_writes(s->fleet, h, scn_to_us(delay), scn_to_us(dur));
    } else {
      rc = sim_fleet_hub_skew_clock(s->fleet, h, (int64_t)llround(skew * 1000.0));
    }
    if (rc == 0)
      ok++;
  }
  s->actions++;
  scn_logf(s, "fault %s: %u of %u hubs", kind, ok, sel->n);
  lua_pushinteger(L, ok);
  return 1;
}

static int sel_trigger(lua_State *L) {
  struct scn *s = scn_from_L(L);
  struct scn_sel *sel = check_kind(L, SEL_DEVICES, "trigger");
  const char *ev = luaL_checkstring(L, 2);
  uint32_t ok = 0, unknown = 0;
  for (uint32_t i = 0; i < sel->n; i++) {
    int rc = sim_fleet_trigger(s->fleet, sel->v[2 * i], sel->v[2 * i + 1], ev);
    if (rc == 0)
      ok++;
    else if (rc == SIM_ENOTFOUND)
      unknown++;
  }
  s->triggers_ok += ok;
  s->triggers_unknown += unknown;
  s->actions++;
  scn_logf(s, "trigger %s: %u of %u devices (%u without that event)", ev, ok, sel->n, unknown);
  lua_pushinteger(L, ok);
  return 1;
}

static int devices_do(lua_State *L, const char *what,
                      int (*fn)(struct sim_fleet *, uint32_t, uint32_t)) {
  struct scn *s = scn_from_L(L);
  struct scn_sel *sel = check_kind(L, SEL_DEVICES, what);
  uint32_t ok = 0;
  for (uint32_t i = 0; i < sel->n; i++)
    if (fn(s->fleet, sel->v[2 * i], sel->v[2 * i + 1]) == 0)
      ok++;
  s->actions++;
  scn_logf(s, "%s: %u of %u devices", what, ok, sel->n);
  lua_pushinteger(L, ok);
  return 1;
}

static int sel_join(lua_State *L) {
  return devices_do(L, "join", sim_fleet_device_join);
}
static int sel_remove(lua_State *L) {
  return devices_do(L, "remove", sim_fleet_device_leave);
}

static int sel_tostring(lua_State *L) {
  struct scn_sel *sel = check_sel(L);
  lua_pushfstring(L, "selection of %d %s", (int)sel->n, sel->kind == SEL_HUBS ? "hubs" : "devices");
  return 1;
}

void scn_selection_open(lua_State *L) {
  static const luaL_Reg methods[] = {{"count", sel_count},
                                     {"each", sel_each},
                                     {"disconnect", sel_disconnect},
                                     {"connect", sel_connect},
                                     {"power_cut", sel_power_cut},
                                     {"restore", sel_restore},
                                     {"fault", sel_fault},
                                     {"trigger", sel_trigger},
                                     {"join", sel_join},
                                     {"remove", sel_remove},
                                     {NULL, NULL}};
  luaL_newmetatable(L, SEL_META);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "methods");
  lua_pushcfunction(L, sel_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, sel_len);
  lua_setfield(L, -2, "__len");
  lua_pushcfunction(L, sel_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable"); /* scripts cannot reach or change it */
  lua_pop(L, 1);
}
