/* `hubsim znp --script FILE`: the radio side on a timeline (see znp_script.h). The script runs
 * in the scenario engine (scenarios/scn.h, loaded with scn_load_embedded): the same sandbox,
 * limits, durations, at/after/every and log; the fleet's globals are taken away and a `radio`
 * table drives the coordinators through sim_znp_coord_ctl_* (sim/znp/coord.h). Every call
 * happens from a timeline callback on the coordinators' loop, so the host sees its effects in
 * the order a real radio would send them. docs/hil.md ("Scenario control") is the reference. */
#include "app/znp_script.h"

#include <inttypes.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/znp_cmd.h"
#include "devices/cat_global.h"
#include "scenarios/scn.h"
#include "sim/core/err.h"

#define ZNP_SCRIPT_MAX_COORDS 64
#define DEV_META "hubsim.znp.device"
/* How often the script's log, failure and end are looked at: what a test waits for comes out
 * within this much of happening. */
#define POLL_MS 20

struct app_znp_script {
  struct scn *scn;
  uv_loop_t *loop; /* NULL until started: radio.* then refuses */
  struct sim_znp_server *srv[ZNP_SCRIPT_MAX_COORDS];
  int n;
  uv_timer_t poll;
  int poll_open;
  size_t printed; /* log lines printed so far */
  int done, failed;
};

/* A device handle in the script: which coordinator, which address; the rest is read live. */
struct dev_handle {
  int k;
  uint64_t ieee;
  const struct sim_model *m;
};

/* ---- helpers ---- */

static struct app_znp_script *running(lua_State *L, const char *what) {
  struct app_znp_script *sc = scn_embed_arg(L);
  if (!sc->loop)
    luaL_error(L,
               "%s works only from at(), after() or every(): the coordinators start after "
               "the script's top level",
               what);
  return sc;
}

static uint64_t now_ms(const struct app_znp_script *sc) {
  return uv_now(sc->loop);
}

static struct sim_znp_coord *coord(struct app_znp_script *sc, int k) {
  return sim_znp_server_coord(sc->srv[k]);
}

/* The coordinator a call names: nothing (0), a number K, or {coordinator=K, ...} (the other
 * keys allowed are in more, NULL-terminated). */
static int coord_arg(lua_State *L, struct app_znp_script *sc, int idx, const char *what,
                     const char *const *more) {
  lua_Integer k = 0;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    if (!lua_isinteger(L, idx))
      luaL_error(L, "%s: the coordinator is a whole number", what);
    k = lua_tointeger(L, idx);
  } else if (lua_type(L, idx) == LUA_TTABLE) {
    const char *keys[8] = {"coordinator"};
    for (int i = 0; more && more[i] && i < 6; i++)
      keys[i + 1] = more[i];
    scn_check_keys(L, idx, what, keys);
    if (lua_getfield(L, idx, "coordinator") != LUA_TNIL) {
      if (!lua_isinteger(L, -1))
        luaL_error(L, "%s: coordinator must be a whole number", what);
      k = lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
  } else if (!lua_isnoneornil(L, idx)) {
    luaL_error(L, "%s: expected a coordinator number or a table, got %s", what,
               luaL_typename(L, idx));
  }
  if (k < 0 || k >= sc->n)
    luaL_error(L, "%s: coordinator %d: there is no such coordinator (0 to %d)", what, (int)k,
               sc->n - 1);
  return (int)k;
}

static void push_device(lua_State *L, int k, uint64_t ieee, const struct sim_model *m) {
  struct dev_handle *h = lua_newuserdatauv(L, sizeof *h, 0);
  *h = (struct dev_handle){.k = k, .ieee = ieee, .m = m};
  luaL_setmetatable(L, DEV_META);
}

/* An operation's outcome: true, or false and why (the state of the network, not a mistake in
 * the script: a device that has not joined yet, a network the host has not started). */
static int outcome(lua_State *L, int rc, const char *why) {
  if (rc == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushboolean(L, 0);
  lua_pushstring(L, why);
  return 2;
}

/* Whether the i-th queued device of srv is queued for the first time (a device that left and
 * joins again is queued again). */
static int first_in_queue(const struct sim_znp_server *srv, size_t i, uint64_t ieee) {
  const struct sim_model *m = NULL;
  uint64_t other = 0;
  for (size_t j = 0; j < i; j++)
    if (sim_znp_server_queued(srv, j, &m, &other), other == ieee)
      return 0;
  return 1;
}

/* How many distinct devices of model m srv has queued (--device ones first). */
static uint64_t queued_of_model(const struct sim_znp_server *srv, const struct sim_model *m) {
  const struct sim_model *qm = NULL;
  uint64_t ieee = 0, nth = 0;
  size_t n = sim_znp_server_queued(srv, 0, &qm, &ieee);
  for (size_t i = 0; i < n; i++) {
    sim_znp_server_queued(srv, i, &qm, &ieee);
    nth += qm == m && first_in_queue(srv, i, ieee);
  }
  return nth;
}

/* ---- radio.* ---- */

/* radio.device(model [, {coordinator=K}]): a catalogue device that joins when joining is
 * permitted, as a --device one does. */
static int radio_device(lua_State *L) {
  struct app_znp_script *sc = running(L, "radio.device");
  const char *id = luaL_checkstring(L, 1);
  const struct sim_model *m = dev_catalog_find(id);
  if (!m)
    return luaL_error(L, "radio.device: '%s' is no model of the catalogue (hubsim devices list)",
                      id);
  int k = coord_arg(L, sc, 2, "radio.device", NULL);
  uint64_t ieee = app_znp_device_ieee(m, queued_of_model(sc->srv[k], m), (unsigned)k);
  if (sim_znp_server_add_device(sc->srv[k], m, ieee) != 0)
    return luaL_error(L, "radio.device: coordinator %d has %d devices queued, the most it takes", k,
                      SIM_ZNP_SERVER_MAX_PENDING);
  scn_logf(sc->scn, "coordinator %d: device 0x%016" PRIx64 " (%s) added", k, ieee, id);
  sim_znp_server_kick(sc->srv[k]);
  push_device(L, k, ieee, m);
  return 1;
}

/* radio.devices([{coordinator=K}]): every device queued on K, joined or not, in queue order. */
static int radio_devices(lua_State *L) {
  struct app_znp_script *sc = running(L, "radio.devices");
  int k = coord_arg(L, sc, 1, "radio.devices", NULL);
  const struct sim_model *m = NULL;
  uint64_t ieee = 0;
  size_t n = sim_znp_server_queued(sc->srv[k], 0, &m, &ieee);
  lua_createtable(L, (int)n, 0);
  lua_Integer out = 0;
  for (size_t i = 0; i < n; i++) {
    sim_znp_server_queued(sc->srv[k], i, &m, &ieee);
    if (!first_in_queue(sc->srv[k], i, ieee))
      continue; /* a device queued again (it left and joins again) is listed once */
    push_device(L, k, ieee, m);
    lua_rawseti(L, -2, ++out);
  }
  return 1;
}

/* radio.permit_join(D [, {coordinator=K}]): the radio opens its network for D (1 s to 254 s,
 * rounded up to whole seconds). */
static int radio_permit_join(lua_State *L) {
  struct app_znp_script *sc = running(L, "radio.permit_join");
  double d = scn_check_duration(L, 1, "radio.permit_join", 0);
  int k = coord_arg(L, sc, 2, "radio.permit_join", NULL);
  double secs = ceil(d - 1e-9);
  if (!(secs >= 1 && secs <= 254)) {
    char t[32]; /* luaL_error has no %g */
    snprintf(t, sizeof t, "%g", d);
    return luaL_error(L, "radio.permit_join: %s s: the radio opens its network for 1 s to 254 s",
                      t);
  }
  int rc = sim_znp_coord_ctl_permit(coord(sc, k), (unsigned)secs, now_ms(sc));
  if (rc == 0) {
    scn_logf(sc->scn, "coordinator %d: joining permitted for %u s", k, (unsigned)secs);
    sim_znp_server_kick(sc->srv[k]);
  }
  return outcome(L, rc, "no network runs (the host has not started it)");
}

/* radio.close_join([{coordinator=K}]) */
static int radio_close_join(lua_State *L) {
  struct app_znp_script *sc = running(L, "radio.close_join");
  int k = coord_arg(L, sc, 1, "radio.close_join", NULL);
  int rc = sim_znp_coord_ctl_permit(coord(sc, k), 0, now_ms(sc));
  if (rc == 0)
    scn_logf(sc->scn, "coordinator %d: joining closed", k);
  return outcome(L, rc, "no network runs (the host has not started it)");
}

/* radio.reset([K or {coordinator=K, reason="power"|"watchdog"}]) */
static int radio_reset(lua_State *L) {
  struct app_znp_script *sc = running(L, "radio.reset");
  static const char *const more[] = {"reason", NULL};
  int k = coord_arg(L, sc, 1, "radio.reset", more);
  uint8_t reason = 0x00; /* power-up */
  if (lua_istable(L, 1) && lua_getfield(L, 1, "reason") != LUA_TNIL) {
    const char *r = lua_tostring(L, -1);
    if (r && strcmp(r, "watchdog") == 0)
      reason = 0x02;
    else if (!r || strcmp(r, "power") != 0)
      return luaL_error(L, "radio.reset: reason must be \"power\" or \"watchdog\"");
  }
  sim_znp_coord_ctl_reset(coord(sc, k), reason, now_ms(sc));
  scn_logf(sc->scn, "coordinator %d: reset (%s)", k, reason ? "watchdog" : "power");
  sim_znp_server_kick(sc->srv[k]);
  lua_pushboolean(L, 1);
  return 1;
}

/* radio.status([K or {coordinator=K}]): what a script may wait for, e.g. the host having started
 * its network and registered its endpoints: {network=, endpoints=, devices=, permit_join=}. */
static int radio_status(lua_State *L) {
  struct app_znp_script *sc = running(L, "radio.status");
  int k = coord_arg(L, sc, 1, "radio.status", NULL);
  const struct sim_znp_coord *c = coord(sc, k);
  lua_createtable(L, 0, 4);
  lua_pushboolean(L, c->state == SIM_ZNP_DEV_ZB_COORD);
  lua_setfield(L, -2, "network");
  lua_pushinteger(L, (lua_Integer)c->neps);
  lua_setfield(L, -2, "endpoints");
  lua_pushinteger(L, (lua_Integer)c->ndevs);
  lua_setfield(L, -2, "devices");
  lua_pushboolean(L, sim_znp_coord_permit_open(c, now_ms(sc)));
  lua_setfield(L, -2, "permit_join");
  return 1;
}

/* ---- device handles ---- */

static struct dev_handle *dev_check(lua_State *L, const char *what) {
  struct dev_handle *h = luaL_testudata(L, 1, DEV_META);
  if (!h)
    luaL_error(L, "%s: call it on a device (dev:%s(...))", what, strchr(what, ':') + 1);
  return h;
}

static int dev_leave(lua_State *L) {
  struct dev_handle *h = dev_check(L, "device:leave");
  struct app_znp_script *sc = running(L, "device:leave");
  int rc = sim_znp_coord_ctl_leave(coord(sc, h->k), h->ieee, now_ms(sc));
  if (rc == 0)
    scn_logf(sc->scn, "coordinator %d: device 0x%016" PRIx64 " left", h->k, h->ieee);
  return outcome(L, rc, "the device has not joined");
}

/* A joined device rejoins at once (no permit needed); one that left joins again when joining
 * is permitted, as a new device would. */
static int dev_rejoin(lua_State *L) {
  struct dev_handle *h = dev_check(L, "device:rejoin");
  struct app_znp_script *sc = running(L, "device:rejoin");
  struct sim_znp_coord *c = coord(sc, h->k);
  if (sim_znp_coord_device_ieee(c, h->ieee)) {
    int rc = sim_znp_coord_ctl_rejoin(c, h->ieee, now_ms(sc));
    if (rc == 0)
      scn_logf(sc->scn, "coordinator %d: device 0x%016" PRIx64 " rejoined", h->k, h->ieee);
    sim_znp_server_kick(sc->srv[h->k]);
    return outcome(L, rc, "no network runs (the host has not started it)");
  }
  if (sim_znp_server_add_device(sc->srv[h->k], h->m, h->ieee) != 0)
    return outcome(L, SIM_EFULL, "the coordinator's join queue is full");
  scn_logf(sc->scn, "coordinator %d: device 0x%016" PRIx64 " joins again when permitted", h->k,
           h->ieee);
  sim_znp_server_kick(sc->srv[h->k]);
  return outcome(L, 0, NULL);
}

static int dev_link_loss(lua_State *L) {
  struct dev_handle *h = dev_check(L, "device:link_loss");
  struct app_znp_script *sc = running(L, "device:link_loss");
  double d = scn_check_duration(L, 2, "device:link_loss", 0);
  uint64_t ms = (uint64_t)ceil(d * 1000.0);
  int rc = sim_znp_coord_ctl_link_loss(coord(sc, h->k), h->ieee, now_ms(sc) + ms);
  if (rc == 0)
    scn_logf(sc->scn, "coordinator %d: device 0x%016" PRIx64 " out of range for %g s", h->k,
             h->ieee, d);
  return outcome(L, rc, "the device has not joined");
}

static int dev_fail_interview(lua_State *L) {
  struct dev_handle *h = dev_check(L, "device:fail_interview");
  struct app_znp_script *sc = running(L, "device:fail_interview");
  lua_Integer n = luaL_checkinteger(L, 2);
  if (n < 0 || n > 1000000)
    return luaL_error(L, "device:fail_interview: %d: the count is 0 to 1000000", (int)n);
  int rc = sim_znp_coord_ctl_drop_zdo(coord(sc, h->k), h->ieee, (uint32_t)n);
  if (rc == 0)
    scn_logf(sc->scn, "coordinator %d: device 0x%016" PRIx64 " drops its next %d ZDO answers", h->k,
             h->ieee, (int)n);
  return outcome(L, rc, "too many devices not joined yet with interview failures");
}

static int dev_index(lua_State *L) {
  struct dev_handle *h = luaL_checkudata(L, 1, DEV_META);
  const char *key = luaL_checkstring(L, 2);
  struct app_znp_script *sc = scn_embed_arg(L);
  const struct sim_znp_dev *d =
      sc->loop ? sim_znp_coord_device_ieee(coord(sc, h->k), h->ieee) : NULL;
  if (strcmp(key, "model") == 0) {
    lua_pushstring(L, h->m->model_id);
  } else if (strcmp(key, "ieee") == 0) {
    char b[24];
    snprintf(b, sizeof b, "0x%016" PRIx64, h->ieee);
    lua_pushstring(L, b);
  } else if (strcmp(key, "nwk") == 0) {
    if (d)
      lua_pushinteger(L, d->nwk);
    else
      lua_pushnil(L);
  } else if (strcmp(key, "joined") == 0) {
    lua_pushboolean(L, d != NULL);
  } else if (strcmp(key, "coordinator") == 0) {
    lua_pushinteger(L, h->k);
  } else {
    luaL_getmetafield(L, 1, "methods");
    lua_getfield(L, -1, key);
  }
  return 1;
}

static int dev_tostring(lua_State *L) {
  struct dev_handle *h = luaL_checkudata(L, 1, DEV_META);
  char b[160];
  snprintf(b, sizeof b, "device 0x%016" PRIx64 " (%s) on coordinator %d", h->ieee, h->m->model_id,
           h->k);
  lua_pushstring(L, b);
  return 1;
}

/* The sandbox's globals for a coordinator script: radio, the device type; not the fleet's. */
static void open_radio(lua_State *L, void *arg) {
  (void)arg;
  static const char *const fleet[] = {"scenario", "fleet",    "ramp",   "set_param", "hubs",
                                      "devices",  "platform", "expect", NULL};
  for (size_t i = 0; fleet[i]; i++) {
    lua_pushnil(L);
    lua_setglobal(L, fleet[i]);
  }
  static const luaL_Reg radio[] = {{"device", radio_device},
                                   {"devices", radio_devices},
                                   {"permit_join", radio_permit_join},
                                   {"close_join", radio_close_join},
                                   {"reset", radio_reset},
                                   {"status", radio_status},
                                   {NULL, NULL}};
  luaL_newlib(L, radio);
  lua_setglobal(L, "radio");
  static const luaL_Reg methods[] = {{"leave", dev_leave},
                                     {"rejoin", dev_rejoin},
                                     {"link_loss", dev_link_loss},
                                     {"fail_interview", dev_fail_interview},
                                     {NULL, NULL}};
  static const luaL_Reg meta[] = {
      {"__index", dev_index}, {"__tostring", dev_tostring}, {NULL, NULL}};
  luaL_newmetatable(L, DEV_META);
  luaL_setfuncs(L, meta, 0);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "methods");
  lua_pushboolean(L, 0); /* getmetatable(dev) shows no methods to change */
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
}

/* ---- life cycle ---- */

int app_znp_script_load(const char *path, struct app_znp_script **out, char *why, size_t cap) {
  *out = NULL;
  struct app_znp_script *sc = calloc(1, sizeof *sc);
  if (!sc) {
    snprintf(why, cap, "%s: out of memory", path);
    return SIM_ENOMEM;
  }
  struct scn_error err;
  int rc = scn_load_embedded(path, NULL, open_radio, sc, &sc->scn, &err);
  if (rc != 0) {
    scn_error_format(&err, why, cap);
    free(sc);
    return rc;
  }
  *out = sc;
  return 0;
}

static void print_log(struct app_znp_script *sc) {
  const char *const *lines;
  size_t n = scn_log(sc->scn, &lines);
  for (; sc->printed < n; sc->printed++) {
    const char *l = lines[sc->printed];
    while (*l == ' ')
      l++;
    printf("script %s\n", l);
  }
}

static void poll_cb(uv_timer_t *t) {
  struct app_znp_script *sc = t->data;
  print_log(sc);
  struct scn_error err;
  if (scn_failed(sc->scn, &err)) {
    char m[sizeof err.message + 300];
    scn_error_format(&err, m, sizeof m);
    fprintf(stderr, "hubsim znp: script %s\n", m);
    sc->failed = 1;
    uv_timer_stop(t);
    uv_stop(sc->loop);
  } else if (!sc->done && scn_pending(sc->scn) == 0) {
    printf("script done\n");
    sc->done = 1;
    uv_timer_stop(t);
  }
  fflush(stdout);
}

int app_znp_script_start(struct app_znp_script *sc, uv_loop_t *loop,
                         struct sim_znp_server *const *servers, int n, char *why, size_t cap) {
  if (n < 1 || n > ZNP_SCRIPT_MAX_COORDS) {
    snprintf(why, cap, "the script drives 1 to %d coordinators", ZNP_SCRIPT_MAX_COORDS);
    return SIM_EINVAL;
  }
  sc->loop = loop;
  sc->n = n;
  memcpy(sc->srv, servers, (size_t)n * sizeof *servers);
  struct scn_error err;
  int rc = scn_start_clock(sc->scn, loop, &err);
  if (rc != 0) {
    scn_error_format(&err, why, cap);
    return rc;
  }
  uv_timer_init(loop, &sc->poll);
  sc->poll.data = sc;
  sc->poll_open = 1;
  uv_timer_start(&sc->poll, poll_cb, 0, POLL_MS);
  return 0;
}

int app_znp_script_failed(const struct app_znp_script *sc) {
  return sc && sc->failed;
}

static void poll_closed_cb(uv_handle_t *h) {
  free(h->data);
}

void app_znp_script_free(struct app_znp_script *sc) {
  if (!sc)
    return;
  scn_stop(sc->scn);
  scn_free(sc->scn);
  sc->scn = NULL;
  if (sc->poll_open && !uv_is_closing((uv_handle_t *)&sc->poll))
    uv_close((uv_handle_t *)&sc->poll, poll_closed_cb);
  else if (!sc->poll_open)
    free(sc);
}
