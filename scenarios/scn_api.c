/* The script's global functions: the declarations (scenario, fleet, ramp), behaviour
 * parameters and the registration of every global. The timeline is in scn_api_timeline.c,
 * selections in scn_api_sel.c, platform actions in scn_api_platform.c, the checks of values in
 * scn_check.c and expectations in scn_metrics.c. docs/scenarios.md is the reference for
 * scripts. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/cat_global.h"
#include "devices/cat_params.h"
#include "devices/cat_types.h"
#include "scenarios/scn_internal.h"
#include "sim/core/err.h"

/* ---- scenario, fleet, ramp ----------------------------------------------------------------- */

static int api_scenario(lua_State *L) {
  struct scn *s = scn_from_L(L);
  static const char *const keys[] = {"name", "description", "duration", "clock",
                                     "seed", "speedup",     NULL};
  scn_check_table(L, 1, "scenario");
  scn_check_keys(L, 1, "scenario", keys);
  char *v = scn_dup_field_text(L, 1, "name", "scenario", 1, SCN_MAX_NAME, SCN_TEXT_PRINTABLE);
  if (v) {
    scn_replace(&s->s_name, v);
    s->cfg.name = s->s_name;
  }
  v = scn_dup_field_text(L, 1, "description", "scenario", 0, SCN_MAX_DESCRIPTION, SCN_TEXT_ANY);
  if (v) {
    scn_replace(&s->s_desc, v);
    s->cfg.description = s->s_desc;
  }
  double d;
  if (scn_opt_duration(L, 1, "duration", "scenario", &d, 0)) {
    if (!(d > 0))
      scn_raise(L, "scenario: duration must be longer than 0");
    s->cfg.duration_s = d;
  }
  if (lua_getfield(L, 1, "clock") != LUA_TNIL) {
    const char *c = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    if (c && strcmp(c, "virtual") == 0)
      s->cfg.clock_virtual = 1;
    else if (c && strcmp(c, "real") == 0)
      s->cfg.clock_virtual = 0;
    else
      scn_raise(L, "scenario: clock must be \"virtual\" or \"real\"");
  }
  lua_pop(L, 1);
  if (scn_opt_number(L, 1, "seed", "scenario", &d)) {
    if (d < 1 || d != floor(d) || d > 9.0e15)
      scn_raise(L, "scenario: seed must be a positive integer");
    s->cfg.seed = (uint64_t)d;
    scn_seed_random(s, s->has_seed_override ? s->seed_override : s->cfg.seed);
  }
  if (scn_opt_number(L, 1, "speedup", "scenario", &d)) {
    if (d < 0.001 || d > 1e6)
      scn_raise(L, "scenario: speedup must be from 0.001 to 1000000 (as --speedup)");
    s->cfg.speedup = d;
  }
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* mix = "all" or {["model"] = weight, ...}: "MODEL:W,..." sorted by model (pairs() order is
 * not stable from run to run). */
static char *parse_mix(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TSTRING) {
    size_t len;
    const char *m = lua_tolstring(L, idx, &len);
    if (strcmp(m, "all") == 0)
      return strdup("all");
    /* a single model id, or "MODEL:W,..." as on the command line; each part checked here, as
     * the app will read it */
    char buf[SCN_MAX_MIX_TEXT];
    if (len >= sizeof buf || strlen(m) != len)
      scn_raise(L, "fleet: mix is %zu bytes long: at most %zu, without NUL", len, sizeof buf - 1);
    memcpy(buf, m, len + 1);
    size_t n = 0;
    for (char *p = buf, *end; p; p = end) {
      end = strchr(p, ',');
      if (end)
        *end++ = 0;
      char *colon = strrchr(p, ':');
      if (colon) {
        *colon = 0;
        char *e;
        double w = strtod(colon + 1, &e);
        if (e == colon + 1 || *e || !(w > 0) || w > 1e9)
          scn_raise(L, "fleet: mix weight '%s' of '%s' must be a number > 0 and at most 1e9",
                    colon + 1, p);
      }
      if (!*p)
        scn_raise(L, "fleet: mix '%s' has an empty model id (write \"MODEL:W,MODEL:W\")", m);
      scn_check_model(L, "fleet mix", p);
      if (++n > SIM_FLEET_MAX_MIX)
        scn_raise(L, "fleet: at most %d models in a mix", SIM_FLEET_MAX_MIX);
    }
    return strdup(m);
  }
  if (lua_type(L, idx) != LUA_TTABLE)
    scn_raise(L, "fleet: mix must be \"all\" or a table {[\"model\"] = weight}");
  idx = lua_absindex(L, idx);
  const char *names[SIM_FLEET_MAX_MIX];
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      scn_raise(L, "fleet: mix keys are model ids");
    const char *k = lua_tostring(L, -2);
    scn_check_model(L, "fleet mix", k);
    if (lua_type(L, -1) != LUA_TNUMBER || !(lua_tonumber(L, -1) > 0) || lua_tonumber(L, -1) > 1e9)
      scn_raise(L, "fleet: mix weight of '%s' must be a number > 0 and at most 1e9", k);
    if (n == SIM_FLEET_MAX_MIX)
      scn_raise(L, "fleet: at most %d models in a mix", SIM_FLEET_MAX_MIX);
    names[n++] = k; /* the key stays referenced by the table */
    lua_pop(L, 1);
  }
  if (!n)
    scn_raise(L, "fleet: mix is empty");
  qsort(names, n, sizeof names[0], cmp_str);
  size_t cap = 1;
  for (size_t i = 0; i < n; i++)
    cap += strlen(names[i]) + 40;
  if (cap > SCN_MAX_MIX_TEXT)
    scn_raise(L, "fleet: mix names too many models for one line (%zu bytes)", cap);
  char *out = malloc(cap);
  if (!out)
    scn_raise(L, "out of memory");
  size_t len = 0;
  out[0] = 0;
  for (size_t i = 0; i < n; i++) {
    lua_getfield(L, idx, names[i]);
    len += (size_t)snprintf(out + len, cap - len, "%s%s:%.17g", i ? "," : "", names[i],
                            lua_tonumber(L, -1));
    lua_pop(L, 1);
  }
  return out;
}

static int api_fleet(lua_State *L) {
  struct scn *s = scn_from_L(L);
  static const char *const keys[] = {"hubs", "hub_model", "devices_per_hub", "mix", "prefix", "key",
                                     "ramp", NULL};
  scn_check_table(L, 1, "fleet");
  scn_check_keys(L, 1, "fleet", keys);
  double d;
  if (scn_opt_number(L, 1, "hubs", "fleet", &d)) {
    if (d < 1 || d != floor(d) || d > SCN_MAX_HUBS)
      scn_raise(L, "fleet: hubs must be a positive integer, at most %u", SCN_MAX_HUBS);
    s->cfg.hubs = (uint32_t)d;
  }
  char *v = scn_dup_field_text(L, 1, "hub_model", "fleet", 1, 128, SCN_TEXT_PRINTABLE);
  if (v) {
    const struct dev_cat *c = dev_cat_global();
    if (c && !dev_cat_find_hub(c, v)) {
      free(v);
      lua_getfield(L, 1, "hub_model");
      scn_raise(L, "fleet: unknown hub model '%s'", lua_tostring(L, -1));
    }
    scn_replace(&s->s_hub_model, v);
    s->cfg.hub_model = s->s_hub_model;
  }
  int t = lua_getfield(L, 1, "devices_per_hub");
  if (t == LUA_TNUMBER) {
    d = lua_tonumber(L, -1);
    if (d < 1 || d != floor(d) || d > 65535)
      scn_raise(L, "fleet: devices_per_hub must be a whole number from 1 to 65535");
    s->cfg.dph_kind = SCN_DPH_FIXED;
    s->cfg.dph = (uint32_t)d;
  } else if (t == LUA_TTABLE) {
    int top = lua_gettop(L);
    double lo = 0, hi = 0, mean = 0, sd = 0;
    if (lua_rawlen(L, top) == 2) {
      lua_rawgeti(L, top, 1);
      lua_rawgeti(L, top, 2);
      if (!lua_isnumber(L, -2) || !lua_isnumber(L, -1))
        scn_raise(L, "fleet: devices_per_hub = {min, max} takes two numbers");
      lo = lua_tonumber(L, -2);
      hi = lua_tonumber(L, -1);
      lua_pop(L, 2);
      s->cfg.dph_kind = SCN_DPH_RANGE;
    } else {
      static const char *const dk[] = {"mean", "sd", "min", "max", NULL};
      scn_check_keys(L, top, "fleet devices_per_hub", dk);
      if (!scn_opt_number(L, top, "mean", "fleet devices_per_hub", &mean))
        scn_raise(L, "fleet: devices_per_hub is a number, {min, max} or {mean=, sd=, min=, "
                     "max=}");
      scn_opt_number(L, top, "sd", "fleet devices_per_hub", &sd);
      if (!scn_opt_number(L, top, "min", "fleet devices_per_hub", &lo))
        lo = 0;
      if (!scn_opt_number(L, top, "max", "fleet devices_per_hub", &hi))
        hi = ceil(mean + 4 * sd);
      if (sd < 0)
        scn_raise(L, "fleet: devices_per_hub sd must be >= 0");
      s->cfg.dph_kind = SCN_DPH_NORMAL;
    }
    if (lo < 0 || hi < lo || hi > 65535 || hi < 1 || lo != floor(lo) || hi != floor(hi))
      scn_raise(L, "fleet: devices_per_hub needs integers 0 <= min <= max <= 65535, max >= 1");
    s->cfg.dph_min = (uint32_t)lo;
    s->cfg.dph_max = (uint32_t)hi;
    s->cfg.dph_mean = mean;
    s->cfg.dph_sd = sd;
    s->cfg.dph = (uint32_t)hi;
  } else if (t != LUA_TNIL) {
    scn_raise(L, "fleet: devices_per_hub is a number, {min, max} or {mean=, sd=, min=, max=}");
  }
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "mix") != LUA_TNIL) {
    char *m = parse_mix(L, -1);
    if (!m)
      scn_raise(L, "out of memory");
    scn_replace(&s->s_mix, m);
    s->cfg.mix = s->s_mix;
  }
  lua_pop(L, 1);
  /* A hub id is the prefix and up to 8 digits: the protocol allows [A-Za-z0-9._:-]. */
  v = scn_dup_field_text(L, 1, "prefix", "fleet", 0, SCN_MAX_PREFIX, SCN_TEXT_HUB_ID);
  if (v) {
    scn_replace(&s->s_prefix, v);
    s->cfg.prefix = s->s_prefix;
  }
  /* The fleet key is what --fleet-key takes: 1 to 128 bytes. */
  v = scn_dup_field_text(L, 1, "key", "fleet", 1, SCN_MAX_KEY, SCN_TEXT_ANY);
  if (v) {
    scn_replace(&s->s_key, v);
    s->cfg.fleet_key = s->s_key;
  }
  if (scn_opt_number(L, 1, "ramp", "fleet", &d)) {
    if (d < 0 || d > 1e7)
      scn_raise(L, "fleet: ramp must be from 0 to 10000000 hubs per second");
    s->cfg.ramp = d;
  }
  /* Without it the fleet would have no devices (the app has no default for a fleet{}). */
  uint32_t most = s->cfg.dph_kind == SCN_DPH_FIXED ? s->cfg.dph : s->cfg.dph_max;
  if (most == 0)
    scn_raise(L, "fleet: devices_per_hub is required: a number, {min, max} or {mean=, sd=, "
                 "min=, max=}");
  if (s->cfg.hub_model) {
    const struct dev_cat *c = dev_cat_global();
    const struct dev_cat_hub *h = c ? dev_cat_find_hub(c, s->cfg.hub_model) : NULL;
    if (h && most > h->max_devices)
      scn_raise(L, "fleet: devices_per_hub %u is more than hub_model %s accepts (%u)", most,
                h->model_id, h->max_devices);
  }
  s->cfg.has_fleet = 1;
  return 0;
}

static int api_ramp(lua_State *L) {
  struct scn *s = scn_from_L(L);
  static const char *const keys[] = {"rate", NULL};
  scn_check_table(L, 1, "ramp");
  scn_check_keys(L, 1, "ramp", keys);
  double d;
  if (!scn_opt_number(L, 1, "rate", "ramp", &d) || d < 0 || d > 1e7)
    scn_raise(L, "ramp: rate (hubs per second, 0 to 10000000) is required");
  s->cfg.ramp = d;
  return 0;
}

/* ---- behaviour parameters ------------------------------------------------------------------ */

static int api_set_param(lua_State *L) {
  struct scn *s = scn_from_L(L);
  scn_check_table(L, 1, "set_param");
  static const char *const keys[] = {"model", "channel", "param", "value", NULL};
  scn_check_keys(L, 1, "set_param", keys);
  lua_getfield(L, 1, "model");
  lua_getfield(L, 1, "channel");
  lua_getfield(L, 1, "param");
  const char *model = lua_tostring(L, -3), *ch = lua_tostring(L, -2), *param = lua_tostring(L, -1);
  if (!model || !ch)
    scn_raise(L, "set_param: model and channel are required");
  if (!param)
    param = "base";
  double v;
  if (!scn_opt_number(L, 1, "value", "set_param", &v))
    scn_raise(L, "set_param: value (a number) is required");
  scn_check_model(L, "set_param", model);
  int rc = dev_cat_set_param(model, ch, param, v);
  if (rc == SIM_ENOTFOUND)
    scn_raise(L, "set_param: model '%s' has no parameter '%s' on channel '%s'", model, param, ch);
  if (rc)
    scn_raise(L, "set_param: %s.%s.%s = %g refused: %s", model, ch, param, v, sim_strerror(rc));
  s->actions++;
  scn_logf(s, "set_param %s %s.%s = %g", model, ch, param, v);
  return 0;
}

/* ---- registration -------------------------------------------------------------------------- */

void scn_api_open(lua_State *L) {
  static const luaL_Reg globals[] = {{"scenario", api_scenario},   {"fleet", api_fleet},
                                     {"ramp", api_ramp},           {"at", scn_api_at},
                                     {"after", scn_api_after},     {"every", scn_api_every},
                                     {"phase", scn_api_phase},     {"now", scn_api_now},
                                     {"log", scn_api_log},         {"hubs", scn_api_hubs},
                                     {"devices", scn_api_devices}, {"set_param", api_set_param},
                                     {"expect", scn_api_expect},   {NULL, NULL}};
  lua_pushglobaltable(L);
  luaL_setfuncs(L, globals, 0);
  lua_pop(L, 1);
  static const luaL_Reg plat[] = {{"command", scn_api_platform_command},
                                  {"automation", scn_api_platform_automation},
                                  {"timer", scn_api_platform_timer},
                                  {NULL, NULL}};
  luaL_newlib(L, plat);
  lua_setglobal(L, "platform");
  scn_selection_open(L);
}
