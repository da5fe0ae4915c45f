/* The script's API: declarations (scenario, fleet, ramp), the timeline (at, after, every,
 * phase, now, log), selections of hubs and devices with their actions, behaviour parameters
 * and platform-side actions. Expectations are in scn_metrics.c. docs/scenarios.md is the
 * reference for scripts. */
#include <ctype.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/cat_global.h"
#include "devices/cat_params.h"
#include "devices/cat_types.h"
#include "scenarios/scn_int.h"
#include "sim/core/dur.h"
#include "sim/core/err.h"
#include "sim/core/hex.h"

#define SEL_META "hubsim.selection"

/* ---- durations ----------------------------------------------------------------------------- */

/* The grammar is sim/core/dur.h's, the one every flag uses; scripts add only what a script
 * needs around it: a sign (clock skews go back in time) and spaces at either end. */
int scn_parse_duration(const char *text, double *seconds) {
  char buf[64];
  const char *p = text;
  double sign = 1;
  while (isspace((unsigned char)*p))
    p++;
  if (*p == '-' || *p == '+')
    sign = *p++ == '-' ? -1 : 1;
  size_t n = strlen(p);
  while (n && isspace((unsigned char)p[n - 1]))
    n--;
  if (n == 0 || n >= sizeof buf)
    return SIM_EINVAL;
  memcpy(buf, p, n);
  buf[n] = 0;
  double v;
  if (sim_dur_parse(buf, 1.0, &v))
    return SIM_EINVAL;
  *seconds = sign * v;
  return 0;
}

/* Every duration a script writes is at most SCN_MAX_DURATION_S long (either sign): beyond, the
 * conversions to engine time (µs in 64 bits) and to milliseconds would overflow, and no run
 * lasts that long. */
static void check_duration_range(lua_State *L, const char *what, double v, const char *text) {
  if (fabs(v) > SCN_MAX_DURATION_S) {
    if (text)
      scn_raise(L, "%s: '%s' is longer than %.0f days, the longest duration a script may write",
                what, text, SCN_MAX_DURATION_S / 86400);
    scn_raise(L, "%s: %g s is longer than %.0f days, the longest duration a script may write", what,
              v, SCN_MAX_DURATION_S / 86400);
  }
}

double scn_check_duration(lua_State *L, int idx, const char *what, int allow_negative) {
  double v;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    v = lua_tonumber(L, idx);
    if (!isfinite(v) || (v < 0 && !allow_negative))
      scn_raise(L, "%s: bad duration %g", what, v);
    check_duration_range(L, what, v, NULL);
    return v;
  }
  if (lua_type(L, idx) == LUA_TSTRING) {
    const char *t = lua_tostring(L, idx);
    if (scn_parse_duration(t, &v) || (v < 0 && !allow_negative))
      scn_raise(L, "%s: bad duration '%s' (write e.g. \"250ms\", \"30s\", \"5m\", \"24h\", \"1d\")",
                what, t);
    check_duration_range(L, what, v, t);
    return v;
  }
  scn_raise(L, "%s: a duration is a number of seconds or a string like \"30s\", not %s", what,
            luaL_typename(L, idx));
  return 0;
}

static sim_time_t to_us(double seconds) {
  if (seconds <= 0)
    return 0;
  if (seconds > 1e12)
    return (sim_time_t)1e18;
  return (sim_time_t)llround(seconds * 1e6);
}

/* ---- table field helpers ------------------------------------------------------------------- */

/* Raises for any key of the table at idx not in allowed (a NULL-terminated list). */
static void check_keys(lua_State *L, int idx, const char *what, const char *const *allowed) {
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) {
      scn_raise(L, "%s: unexpected positional value", what);
    }
    const char *k = lua_tostring(L, -1);
    int ok = 0;
    for (size_t i = 0; allowed[i] && !ok; i++)
      ok = strcmp(k, allowed[i]) == 0;
    if (!ok)
      scn_raise(L, "%s: unknown field '%s'", what, k);
  }
}

static void check_table(lua_State *L, int idx, const char *what) {
  if (lua_type(L, idx) != LUA_TTABLE)
    scn_raise(L, "%s needs a table: %s{...}", what, what);
}

static int field_type(lua_State *L, int idx, const char *name) {
  return lua_getfield(L, idx, name);
}

/* What a text field may hold. */
enum text_kind {
  TEXT_ANY,       /* any bytes but NUL (C strings carry it) */
  TEXT_PRINTABLE, /* and no control character: it is printed on one line */
  TEXT_HUB_ID,    /* the hub id's alphabet, as the protocol has it: [A-Za-z0-9._:-] */
};

static int hub_id_char(int c) {
  return isalnum(c) || c == '.' || c == '_' || c == ':' || c == '-';
}

/* The string field name of the table at idx, copied (NULL when absent): min..max bytes of the
 * kind given, else an error naming the field. */
static char *dup_field_text(lua_State *L, int idx, const char *name, const char *what, size_t min,
                            size_t max, enum text_kind kind) {
  int t = field_type(L, idx, name);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return NULL;
  }
  if (t != LUA_TSTRING)
    scn_raise(L, "%s: %s must be a string", what, name);
  size_t n;
  const char *v = lua_tolstring(L, -1, &n);
  if (n < min || n > max) {
    if (min == max)
      scn_raise(L, "%s: %s is %zu bytes long: it must be %zu", what, name, n, max);
    scn_raise(L, "%s: %s is %zu bytes long: it must be %zu to %zu", what, name, n, min, max);
  }
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)v[i];
    if (c == 0)
      scn_raise(L, "%s: %s holds a NUL byte (at byte %zu)", what, name, i + 1);
    if (kind == TEXT_PRINTABLE && (c < 0x20 || c == 0x7F))
      scn_raise(L, "%s: %s holds a control character (byte %zu)", what, name, i + 1);
    if (kind == TEXT_HUB_ID && !hub_id_char(c))
      scn_raise(L,
                "%s: %s '%s' may hold only letters, digits and . _ : - (hub ids start with "
                "it); byte %zu is not one",
                what, name, v, i + 1);
  }
  char *r = strdup(v);
  lua_pop(L, 1);
  if (!r)
    scn_raise(L, "out of memory");
  return r;
}

static int opt_number(lua_State *L, int idx, const char *name, const char *what, double *out) {
  int t = field_type(L, idx, name);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  if (t != LUA_TNUMBER)
    scn_raise(L, "%s: %s must be a number", what, name);
  *out = lua_tonumber(L, -1);
  lua_pop(L, 1);
  if (!isfinite(*out))
    scn_raise(L, "%s: %s must be finite", what, name);
  return 1;
}

static int opt_duration(lua_State *L, int idx, const char *name, const char *what, double *out,
                        int allow_negative) {
  if (field_type(L, idx, name) == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  char w[96];
  snprintf(w, sizeof w, "%s %s", what, name);
  *out = scn_check_duration(L, -1, w, allow_negative);
  lua_pop(L, 1);
  return 1;
}

static void replace(char **slot, char *v) {
  free(*slot);
  *slot = v;
}

static void check_model(lua_State *L, const char *what, const char *id) {
  if (sim_model_find(id) < 0)
    scn_raise(L, "%s: unknown device model '%s'", what, id);
}

/* ---- scenario, fleet, ramp ----------------------------------------------------------------- */

static int api_scenario(lua_State *L) {
  struct scn *s = scn_from_L(L);
  static const char *const keys[] = {"name", "description", "duration", "clock",
                                     "seed", "speedup",     NULL};
  check_table(L, 1, "scenario");
  check_keys(L, 1, "scenario", keys);
  char *v = dup_field_text(L, 1, "name", "scenario", 1, SCN_MAX_NAME, TEXT_PRINTABLE);
  if (v) {
    replace(&s->s_name, v);
    s->cfg.name = s->s_name;
  }
  v = dup_field_text(L, 1, "description", "scenario", 0, SCN_MAX_DESCRIPTION, TEXT_ANY);
  if (v) {
    replace(&s->s_desc, v);
    s->cfg.description = s->s_desc;
  }
  double d;
  if (opt_duration(L, 1, "duration", "scenario", &d, 0)) {
    if (!(d > 0))
      scn_raise(L, "scenario: duration must be longer than 0");
    s->cfg.duration_s = d;
  }
  if (field_type(L, 1, "clock") != LUA_TNIL) {
    const char *c = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    if (c && strcmp(c, "virtual") == 0)
      s->cfg.clock_virtual = 1;
    else if (c && strcmp(c, "real") == 0)
      s->cfg.clock_virtual = 0;
    else
      scn_raise(L, "scenario: clock must be \"virtual\" or \"real\"");
  }
  lua_pop(L, 1);
  if (opt_number(L, 1, "seed", "scenario", &d)) {
    if (d < 1 || d != floor(d) || d > 9.0e15)
      scn_raise(L, "scenario: seed must be a positive integer");
    s->cfg.seed = (uint64_t)d;
    scn_seed_random(s, s->has_seed_override ? s->seed_override : s->cfg.seed);
  }
  if (opt_number(L, 1, "speedup", "scenario", &d)) {
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
      check_model(L, "fleet mix", p);
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
    check_model(L, "fleet mix", k);
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
  check_table(L, 1, "fleet");
  check_keys(L, 1, "fleet", keys);
  double d;
  if (opt_number(L, 1, "hubs", "fleet", &d)) {
    if (d < 1 || d != floor(d) || d > SCN_MAX_HUBS)
      scn_raise(L, "fleet: hubs must be a positive integer, at most %u", SCN_MAX_HUBS);
    s->cfg.hubs = (uint32_t)d;
  }
  char *v = dup_field_text(L, 1, "hub_model", "fleet", 1, 128, TEXT_PRINTABLE);
  if (v) {
    const struct dev_cat *c = dev_cat_global();
    if (c && !dev_cat_find_hub(c, v)) {
      free(v);
      lua_getfield(L, 1, "hub_model");
      scn_raise(L, "fleet: unknown hub model '%s'", lua_tostring(L, -1));
    }
    replace(&s->s_hub_model, v);
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
      check_keys(L, top, "fleet devices_per_hub", dk);
      if (!opt_number(L, top, "mean", "fleet devices_per_hub", &mean))
        scn_raise(L, "fleet: devices_per_hub is a number, {min, max} or {mean=, sd=, min=, "
                     "max=}");
      opt_number(L, top, "sd", "fleet devices_per_hub", &sd);
      if (!opt_number(L, top, "min", "fleet devices_per_hub", &lo))
        lo = 0;
      if (!opt_number(L, top, "max", "fleet devices_per_hub", &hi))
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
    replace(&s->s_mix, m);
    s->cfg.mix = s->s_mix;
  }
  lua_pop(L, 1);
  /* A hub id is the prefix and up to 8 digits: the protocol allows [A-Za-z0-9._:-]. */
  v = dup_field_text(L, 1, "prefix", "fleet", 0, SCN_MAX_PREFIX, TEXT_HUB_ID);
  if (v) {
    replace(&s->s_prefix, v);
    s->cfg.prefix = s->s_prefix;
  }
  /* The fleet key is what --fleet-key takes: 1 to 128 bytes. */
  v = dup_field_text(L, 1, "key", "fleet", 1, SCN_MAX_KEY, TEXT_ANY);
  if (v) {
    replace(&s->s_key, v);
    s->cfg.fleet_key = s->s_key;
  }
  if (opt_number(L, 1, "ramp", "fleet", &d)) {
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
  check_table(L, 1, "ramp");
  check_keys(L, 1, "ramp", keys);
  double d;
  if (!opt_number(L, 1, "rate", "ramp", &d) || d < 0 || d > 1e7)
    scn_raise(L, "ramp: rate (hubs per second, 0 to 10000000) is required");
  s->cfg.ramp = d;
  return 0;
}

/* ---- the timeline -------------------------------------------------------------------------- */

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

static int api_at(lua_State *L) {
  struct scn *s = scn_from_L(L);
  double t = scn_check_duration(L, 1, "at", 0);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  sim_time_t due = to_us(t);
  if (s->in_callback && due < s->cb_now)
    due = s->cb_now; /* a time already past runs at once */
  scn_step_add(s, 2, due, 0, UINT64_MAX, 1);
  return 0;
}

static int api_after(lua_State *L) {
  struct scn *s = scn_from_L(L);
  double t = scn_check_duration(L, 1, "after", 0);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  scn_step_add(s, 2, base_time(s) + to_us(t), 0, UINT64_MAX, 1);
  return 0;
}

static int api_every(lua_State *L) {
  struct scn *s = scn_from_L(L);
  double p = scn_check_duration(L, 1, "every", 0);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (p < 0.001)
    scn_raise(L, "every: the period must be at least 1ms");
  sim_time_t period = to_us(p);
  sim_time_t first = base_time(s) + period, to = UINT64_MAX;
  uint64_t count = UINT64_MAX;
  if (!lua_isnoneornil(L, 3)) {
    static const char *const keys[] = {"from", "to", "count", NULL};
    luaL_checktype(L, 3, LUA_TTABLE);
    check_keys(L, 3, "every", keys);
    double d;
    if (opt_duration(L, 3, "from", "every", &d, 0))
      first = to_us(d);
    if (opt_duration(L, 3, "to", "every", &d, 0))
      to = to_us(d);
    if (opt_number(L, 3, "count", "every", &d)) {
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

static int api_phase(lua_State *L) {
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

static int api_now(lua_State *L) {
  struct scn *s = scn_from_L(L);
  lua_pushnumber(L, (double)scn_engine_now(s) / 1e6);
  return 1;
}

static int api_log(lua_State *L) {
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

/* ---- selections ---------------------------------------------------------------------------- */

enum { SEL_HUBS = 0, SEL_DEVICES = 1 };

struct scn_sel {
  uint32_t kind;
  uint32_t n;   /* entries used */
  uint32_t v[]; /* hubs: hub index; devices: hub, slot pairs */
};

static void need_fleet(lua_State *L, struct scn *s, const char *what) {
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
  if (opt_number(L, idx, "share", what, &share) && (share < 0 || share > 1))
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

static int api_hubs(lua_State *L) {
  struct scn *s = scn_from_L(L);
  need_fleet(L, s, "hubs{}");
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
    lua_pushboolean(L, 1);
    lua_setfield(L, 1, "all");
  }
  check_table(L, 1, "hubs");
  static const char *const keys[] = {"all", "share", "list", "where", "state", NULL};
  check_keys(L, 1, "hubs", keys);
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

static int api_devices(lua_State *L) {
  struct scn *s = scn_from_L(L);
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  check_table(L, 1, "devices");
  static const char *const keys[] = {"all", "model", "share", "where", "hub", "joined", NULL};
  check_keys(L, 1, "devices", keys);
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
  need_fleet(L, s, "devices{}");
  double share = opt_share(L, 1, "devices");
  int pred = 0;
  if (lua_getfield(L, 1, "where") == LUA_TFUNCTION)
    pred = lua_gettop(L);
  else if (!lua_isnil(L, -1))
    scn_raise(L, "devices: where must be a function(d)");
  uint32_t nh = sim_fleet_hub_count(s->fleet), dph = sim_fleet_devices_per_hub(s->fleet);
  uint32_t h0 = 0, h1 = nh;
  double d;
  if (opt_number(L, 1, "hub", "devices", &d)) {
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
  need_fleet(L, s, what);
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
  need_fleet(L, s, "each()");
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
    need_fleet(L, s, "a selection");
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
  check_keys(L, 2, "fault", keys);
  double dur = 30, d;
  if (!opt_duration(L, 2, "for_", "fault", &dur, 0))
    opt_duration(L, 2, "for", "fault", &dur, 0);
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
  if (opt_duration(L, 2, "stall_reads", "fault", &d, 0))
    kinds++, kind = "stall_reads", stall = d;
  if (opt_duration(L, 2, "delay_writes", "fault", &d, 0))
    kinds++, kind = "delay_writes", delay = d;
  if (opt_duration(L, 2, "clock_skew", "fault", &d, 1))
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
      rc = sim_fleet_hub_stall_reads(s->fleet, h, to_us(stall));
    } else if (strcmp(kind, "delay_writes") == 0) {
      rc = sim_fleet_hub_delay_writes(s->fleet, h, to_us(delay), to_us(dur));
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

static void open_selection(lua_State *L) {
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

/* ---- behaviour parameters ------------------------------------------------------------------ */

static int api_set_param(lua_State *L) {
  struct scn *s = scn_from_L(L);
  check_table(L, 1, "set_param");
  static const char *const keys[] = {"model", "channel", "param", "value", NULL};
  check_keys(L, 1, "set_param", keys);
  lua_getfield(L, 1, "model");
  lua_getfield(L, 1, "channel");
  lua_getfield(L, 1, "param");
  const char *model = lua_tostring(L, -3), *ch = lua_tostring(L, -2), *param = lua_tostring(L, -1);
  if (!model || !ch)
    scn_raise(L, "set_param: model and channel are required");
  if (!param)
    param = "base";
  double v;
  if (!opt_number(L, 1, "value", "set_param", &v))
    scn_raise(L, "set_param: value (a number) is required");
  check_model(L, "set_param", model);
  int rc = dev_cat_set_param(model, ch, param, v);
  if (rc == SIM_ENOTFOUND)
    scn_raise(L, "set_param: model '%s' has no parameter '%s' on channel '%s'", model, param, ch);
  if (rc)
    scn_raise(L, "set_param: %s.%s.%s = %g refused: %s", model, ch, param, v, sim_strerror(rc));
  s->actions++;
  scn_logf(s, "set_param %s %s.%s = %g", model, ch, param, v);
  return 0;
}

/* ---- platform actions ---------------------------------------------------------------------- */

int scn_device_ref_fill(struct scn *s, uint32_t hub, uint32_t slot, struct scn_device_ref *r) {
  if (hub >= sim_fleet_hub_count(s->fleet) || slot >= sim_fleet_devices_per_hub(s->fleet))
    return SIM_ENOTFOUND;
  r->hub = hub;
  r->slot = slot;
  r->eui64 = sim_fleet_device_eui64(s->fleet, hub, slot);
  sim_fleet_hub_id(s->fleet, hub, r->hub_id, sizeof r->hub_id);
  return 0;
}

/* A device argument: a device table {hub=, slot=} (as selections give), at idx. */
static void check_device(lua_State *L, int idx, const char *what, uint32_t *hub, uint32_t *slot) {
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) != LUA_TTABLE)
    scn_raise(L, "%s: a device is a table {hub=N, slot=N} (devices{}[i] gives one)", what);
  lua_getfield(L, idx, "hub");
  lua_getfield(L, idx, "slot");
  int a, b;
  lua_Integer h = lua_tointegerx(L, -2, &a), sl = lua_tointegerx(L, -1, &b);
  lua_pop(L, 2);
  if (!a || !b || h < 0 || sl < 0 || h > UINT32_MAX || sl > UINT32_MAX)
    scn_raise(L, "%s: a device needs integer hub and slot fields", what);
  *hub = (uint32_t)h;
  *slot = (uint32_t)sl;
}

/* The command fields of a table at idx: ep, cluster, command, payload (hex text). */
static void check_command(lua_State *L, int idx, const char *what, uint8_t *ep, uint16_t *cluster,
                          uint8_t *command, uint8_t *payload, size_t *len) {
  double d;
  *ep = 1;
  if (opt_number(L, idx, "ep", what, &d)) {
    if (d < 0 || d > 255 || d != floor(d))
      scn_raise(L, "%s: ep must be in 0..255", what);
    *ep = (uint8_t)d;
  }
  if (!opt_number(L, idx, "cluster", what, &d) || d < 0 || d > 0xFFFF || d != floor(d))
    scn_raise(L, "%s: cluster (0..0xFFFF) is required", what);
  *cluster = (uint16_t)d;
  if (!opt_number(L, idx, "command", what, &d) || d < 0 || d > 0xFF || d != floor(d))
    scn_raise(L, "%s: command (0..0xFF) is required", what);
  *command = (uint8_t)d;
  *len = 0;
  if (lua_getfield(L, idx, "payload") != LUA_TNIL) {
    size_t n;
    const char *p = lua_tolstring(L, -1, &n);
    if (!p || lua_type(L, -1) != LUA_TSTRING || n % 2 || n / 2 > 64)
      scn_raise(L, "%s: payload is a hex string of at most 64 bytes (\"0102\")", what);
    if (sim_hex_decode(p, n, 0, payload, 64, len))
      scn_raise(L, "%s: payload '%s' is not hex", what, p);
  }
  lua_pop(L, 1);
}

static int api_platform_command(lua_State *L) {
  struct scn *s = scn_from_L(L);
  uint32_t hub, slot;
  need_fleet(L, s, "platform.command");
  check_device(L, 1, "platform.command", &hub, &slot);
  luaL_checktype(L, 2, LUA_TTABLE);
  static const char *const keys[] = {"ep", "cluster", "command", "payload", NULL};
  check_keys(L, 2, "platform.command", keys);
  uint8_t ep, cmd, payload[64];
  uint16_t cluster;
  size_t len;
  check_command(L, 2, "platform.command", &ep, &cluster, &cmd, payload, &len);
  if (!s->has_ops || !s->ops.command)
    scn_raise(L, "platform.command: this platform offers no commands");
  struct scn_device_ref ref;
  if (scn_device_ref_fill(s, hub, slot, &ref))
    scn_raise(L, "platform.command: no device at hub %u slot %u", hub, slot);
  uint64_t id = 0;
  int rc = s->ops.command(s->ops.arg, &ref, ep, cluster, cmd, payload, len, &id);
  s->actions++;
  if (rc < 0) {
    scn_logf(s, "command to %s/%u failed: %s", ref.hub_id, slot, sim_strerror(rc));
    lua_pushnil(L);
    lua_pushstring(L, sim_strerror(rc));
    return 2;
  }
  scn_logf(s, "command %u/0x%04x/0x%02x to %s/%u", ep, cluster, cmd, ref.hub_id, slot);
  lua_pushinteger(L, (lua_Integer)id);
  return 1;
}

static void rule_target(lua_State *L, int idx, const char *what, struct scn_device_ref *then,
                        uint8_t *ep, uint16_t *cluster, uint8_t *cmd, uint8_t *payload,
                        size_t *len) {
  if (lua_getfield(L, idx, "command") != LUA_TTABLE)
    scn_raise(L, "%s: command = {device=, ep=, cluster=, command=, payload=} is required", what);
  int c = lua_gettop(L);
  static const char *const keys[] = {"device", "ep", "cluster", "command", "payload", NULL};
  check_keys(L, c, what, keys);
  lua_getfield(L, c, "device");
  check_device(L, -1, what, &then->hub, &then->slot);
  lua_pop(L, 1);
  check_command(L, c, what, ep, cluster, cmd, payload, len);
  lua_pop(L, 1);
}

static int install_rule(struct scn *s, struct scn_prule *pr, struct scn_error *err) {
  if (!s->has_ops || !s->ops.rule_add) {
    snprintf(err->file, sizeof err->file, "%s", s->path);
    err->line = pr->line;
    snprintf(err->message, sizeof err->message,
             "platform.automation: this platform offers no automations");
    return SIM_EINVAL;
  }
  if (scn_device_ref_fill(s, pr->r.when.hub, pr->r.when.slot, &pr->r.when) ||
      scn_device_ref_fill(s, pr->r.then.hub, pr->r.then.slot, &pr->r.then)) {
    snprintf(err->file, sizeof err->file, "%s", s->path);
    err->line = pr->line;
    snprintf(err->message, sizeof err->message,
             "platform.automation: a device is outside the fleet");
    return SIM_EINVAL;
  }
  int rc = s->ops.rule_add(s->ops.arg, &pr->r, &pr->id);
  if (rc < 0) {
    snprintf(err->file, sizeof err->file, "%s", s->path);
    err->line = pr->line;
    snprintf(err->message, sizeof err->message, "platform.automation: refused: %s",
             sim_strerror(rc));
    return SIM_EINVAL;
  }
  scn_logf(s, "automation %" PRIu64 ": %s/%u 0x%04x/0x%04x -> %s/%u 0x%04x/0x%02x", pr->id,
           pr->r.when.hub_id, pr->r.when.slot, pr->r.when_cluster, pr->r.when_attr,
           pr->r.then.hub_id, pr->r.then.slot, pr->r.then_cluster, pr->r.then_command);
  return 0;
}

static int install_timer(struct scn *s, struct scn_ptimer *pt, struct scn_error *err) {
  snprintf(err->file, sizeof err->file, "%s", s->path);
  err->line = pt->line;
  if (!s->has_ops || !s->ops.timer_add) {
    snprintf(err->message, sizeof err->message, "platform.timer: this platform offers no timers");
    return SIM_EINVAL;
  }
  if (scn_device_ref_fill(s, pt->t.then.hub, pt->t.then.slot, &pt->t.then)) {
    snprintf(err->message, sizeof err->message, "platform.timer: the device is outside the fleet");
    return SIM_EINVAL;
  }
  uint64_t id;
  int rc = s->ops.timer_add(s->ops.arg, &pt->t, &id);
  if (rc < 0) {
    snprintf(err->message, sizeof err->message, "platform.timer: refused: %s", sim_strerror(rc));
    return SIM_EINVAL;
  }
  scn_logf(s, "timer %" PRIu64 ": %02u:%02u -> %s/%u 0x%04x/0x%02x", id, pt->t.hour, pt->t.minute,
           pt->t.then.hub_id, pt->t.then.slot, pt->t.then_cluster, pt->t.then_command);
  return 0;
}

int scn_platform_install(struct scn *s, struct scn_error *err) {
  for (size_t i = 0; i < s->n_rules; i++) {
    int rc = install_rule(s, &s->rules[i], err);
    if (rc)
      return rc;
  }
  for (size_t i = 0; i < s->n_timers; i++) {
    int rc = install_timer(s, &s->timers[i], err);
    if (rc)
      return rc;
  }
  return 0;
}

static void raise_err(lua_State *L, const struct scn_error *e) {
  scn_raise(L, "%s", e->message);
}

static int api_platform_automation(lua_State *L) {
  struct scn *s = scn_from_L(L);
  const char *what = "platform.automation";
  check_table(L, 1, what);
  static const char *const keys[] = {"when", "command", NULL};
  check_keys(L, 1, what, keys);
  if (s->n_rules == SCN_MAX_RULES)
    scn_raise(L, "%s: at most %d automations", what, SCN_MAX_RULES);
  if (!s->rules) {
    s->rules = calloc(SCN_MAX_RULES, sizeof *s->rules);
    if (!s->rules)
      scn_raise(L, "out of memory");
  }
  struct scn_prule pr_tmp;
  struct scn_prule *pr = &s->rules[s->n_rules];
  memset(&pr_tmp.r, 0, sizeof pr_tmp.r);
  if (lua_getfield(L, 1, "when") != LUA_TTABLE)
    scn_raise(L, "%s: when = {device=, cluster=, attr=, equals=} is required", what);
  int w = lua_gettop(L);
  static const char *const wk[] = {"device", "cluster", "attr", "equals", NULL};
  check_keys(L, w, what, wk);
  lua_getfield(L, w, "device");
  check_device(L, -1, what, &pr_tmp.r.when.hub, &pr_tmp.r.when.slot);
  lua_pop(L, 1);
  double d;
  if (!opt_number(L, w, "cluster", what, &d) || d < 0 || d > 0xFFFF || d != floor(d))
    scn_raise(L, "%s: when.cluster (0..0xFFFF) is required", what);
  pr_tmp.r.when_cluster = (uint16_t)d;
  if (!opt_number(L, w, "attr", what, &d) || d < 0 || d > 0xFFFF || d != floor(d))
    scn_raise(L, "%s: when.attr (0..0xFFFF) is required", what);
  pr_tmp.r.when_attr = (uint16_t)d;
  if (lua_getfield(L, w, "equals") != LUA_TNIL) {
    if (lua_type(L, -1) == LUA_TBOOLEAN)
      pr_tmp.r.value = lua_toboolean(L, -1);
    else if (lua_type(L, -1) == LUA_TNUMBER && isfinite(lua_tonumber(L, -1)))
      pr_tmp.r.value = lua_tonumber(L, -1);
    else
      scn_raise(L, "%s: when.equals must be a finite number or a boolean", what);
    pr_tmp.r.has_value = 1;
  }
  lua_pop(L, 2);
  rule_target(L, 1, what, &pr_tmp.r.then, &pr_tmp.r.then_ep, &pr_tmp.r.then_cluster,
              &pr_tmp.r.then_command, pr_tmp.r.payload, &pr_tmp.r.payload_len);
  memset(pr, 0, sizeof *pr);
  pr->r = pr_tmp.r;
  pr->line = scn_current_line(L);
  if (s->started) {
    struct scn_error e;
    if (install_rule(s, pr, &e))
      raise_err(L, &e);
  }
  s->n_rules++;
  return 0;
}

static int api_platform_timer(lua_State *L) {
  struct scn *s = scn_from_L(L);
  const char *what = "platform.timer";
  check_table(L, 1, what);
  static const char *const keys[] = {"at", "command", NULL};
  check_keys(L, 1, what, keys);
  if (s->n_timers == SCN_MAX_TIMERS)
    scn_raise(L, "%s: at most %d timers", what, SCN_MAX_TIMERS);
  struct scn_ptimer pt;
  memset(&pt, 0, sizeof pt);
  lua_getfield(L, 1, "at");
  const char *at = lua_tostring(L, -1);
  unsigned hh = 0, mm = 0;
  if (!at || lua_type(L, -1) != LUA_TSTRING || sim_dur_parse_hhmm(at, &hh, &mm))
    scn_raise(L, "%s: at must be \"HH:MM\" (UTC), e.g. \"07:00\"", what);
  lua_pop(L, 1);
  pt.t.hour = (uint8_t)hh;
  pt.t.minute = (uint8_t)mm;
  rule_target(L, 1, what, &pt.t.then, &pt.t.then_ep, &pt.t.then_cluster, &pt.t.then_command,
              pt.t.payload, &pt.t.payload_len);
  pt.line = scn_current_line(L);
  if (s->started) {
    struct scn_error e;
    if (install_timer(s, &pt, &e))
      raise_err(L, &e);
  }
  s->timers[s->n_timers++] = pt;
  return 0;
}

/* ---- registration -------------------------------------------------------------------------- */

void scn_api_open(lua_State *L) {
  static const luaL_Reg globals[] = {{"scenario", api_scenario}, {"fleet", api_fleet},
                                     {"ramp", api_ramp},         {"at", api_at},
                                     {"after", api_after},       {"every", api_every},
                                     {"phase", api_phase},       {"now", api_now},
                                     {"log", api_log},           {"hubs", api_hubs},
                                     {"devices", api_devices},   {"set_param", api_set_param},
                                     {"expect", scn_api_expect}, {NULL, NULL}};
  lua_pushglobaltable(L);
  luaL_setfuncs(L, globals, 0);
  lua_pop(L, 1);
  static const luaL_Reg plat[] = {{"command", api_platform_command},
                                  {"automation", api_platform_automation},
                                  {"timer", api_platform_timer},
                                  {NULL, NULL}};
  luaL_newlib(L, plat);
  lua_setglobal(L, "platform");
  open_selection(L);
}
