/* The platform's side of a scenario: platform.command sends a command through the reference
 * platform; platform.automation and platform.timer declare its rules, installed when the run
 * starts (or at once when declared later). docs/scenarios.md is the reference for scripts. */
#include <inttypes.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenarios/scn_internal.h"
#include "sim/core/dur.h"
#include "sim/core/err.h"
#include "sim/core/hex.h"

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
  if (scn_opt_number(L, idx, "ep", what, &d)) {
    if (d < 0 || d > 255 || d != floor(d))
      scn_raise(L, "%s: ep must be in 0..255", what);
    *ep = (uint8_t)d;
  }
  if (!scn_opt_number(L, idx, "cluster", what, &d) || d < 0 || d > 0xFFFF || d != floor(d))
    scn_raise(L, "%s: cluster (0..0xFFFF) is required", what);
  *cluster = (uint16_t)d;
  if (!scn_opt_number(L, idx, "command", what, &d) || d < 0 || d > 0xFF || d != floor(d))
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

int scn_api_platform_command(lua_State *L) {
  struct scn *s = scn_from_L(L);
  uint32_t hub, slot;
  scn_need_fleet(L, s, "platform.command");
  check_device(L, 1, "platform.command", &hub, &slot);
  luaL_checktype(L, 2, LUA_TTABLE);
  static const char *const keys[] = {"ep", "cluster", "command", "payload", NULL};
  scn_check_keys(L, 2, "platform.command", keys);
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
  scn_check_keys(L, c, what, keys);
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

int scn_api_platform_automation(lua_State *L) {
  struct scn *s = scn_from_L(L);
  const char *what = "platform.automation";
  scn_check_table(L, 1, what);
  static const char *const keys[] = {"when", "command", NULL};
  scn_check_keys(L, 1, what, keys);
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
  scn_check_keys(L, w, what, wk);
  lua_getfield(L, w, "device");
  check_device(L, -1, what, &pr_tmp.r.when.hub, &pr_tmp.r.when.slot);
  lua_pop(L, 1);
  double d;
  if (!scn_opt_number(L, w, "cluster", what, &d) || d < 0 || d > 0xFFFF || d != floor(d))
    scn_raise(L, "%s: when.cluster (0..0xFFFF) is required", what);
  pr_tmp.r.when_cluster = (uint16_t)d;
  if (!scn_opt_number(L, w, "attr", what, &d) || d < 0 || d > 0xFFFF || d != floor(d))
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

int scn_api_platform_timer(lua_State *L) {
  struct scn *s = scn_from_L(L);
  const char *what = "platform.timer";
  scn_check_table(L, 1, what);
  static const char *const keys[] = {"at", "command", NULL};
  scn_check_keys(L, 1, what, keys);
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
