/* The checks a script's values pass before the engine takes them: durations (the grammar of
 * sim/core/dur.h with a sign), the fields of declaration tables (known keys, types, lengths,
 * alphabets) and device models. Each check raises a Lua error naming the call and the field; none
 * returns bad values. */
#include <ctype.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/cat_types.h"
#include "scenarios/scn_internal.h"
#include "sim/core/dur.h"
#include "sim/core/err.h"

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

sim_time_t scn_to_us(double seconds) {
  if (seconds <= 0)
    return 0;
  if (seconds > 1e12)
    return (sim_time_t)1e18;
  return (sim_time_t)llround(seconds * 1e6);
}

/* ---- table field helpers ------------------------------------------------------------------- */

/* Raises for any key of the table at idx not in allowed (a NULL-terminated list). */
void scn_check_keys(lua_State *L, int idx, const char *what, const char *const *allowed) {
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

void scn_check_table(lua_State *L, int idx, const char *what) {
  if (lua_type(L, idx) != LUA_TTABLE)
    scn_raise(L, "%s needs a table: %s{...}", what, what);
}

static int hub_id_char(int c) {
  return isalnum(c) || c == '.' || c == '_' || c == ':' || c == '-';
}

/* The string field name of the table at idx, copied (NULL when absent): min..max bytes of the
 * kind given, else an error naming the field. */
char *scn_dup_field_text(lua_State *L, int idx, const char *name, const char *what, size_t min,
                         size_t max, enum scn_text_kind kind) {
  int t = lua_getfield(L, idx, name);
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
    if (kind == SCN_TEXT_PRINTABLE && (c < 0x20 || c == 0x7F))
      scn_raise(L, "%s: %s holds a control character (byte %zu)", what, name, i + 1);
    if (kind == SCN_TEXT_HUB_ID && !hub_id_char(c))
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

int scn_opt_number(lua_State *L, int idx, const char *name, const char *what, double *out) {
  int t = lua_getfield(L, idx, name);
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

int scn_opt_duration(lua_State *L, int idx, const char *name, const char *what, double *out,
                     int allow_negative) {
  if (lua_getfield(L, idx, name) == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  char w[96];
  snprintf(w, sizeof w, "%s %s", what, name);
  *out = scn_check_duration(L, -1, w, allow_negative);
  lua_pop(L, 1);
  return 1;
}

void scn_replace(char **slot, char *v) {
  free(*slot);
  *slot = v;
}

void scn_check_model(lua_State *L, const char *what, const char *id) {
  if (sim_model_find(id) < 0)
    scn_raise(L, "%s: unknown device model '%s'", what, id);
}
