/* The scenario engine: the sandboxed Lua state, error reporting, the script's lifecycle.
 *
 * Sandbox: only the safe part of base, string, table and math is opened; io, os, debug,
 * package, coroutine, every way to load code and __gc finalizers are absent. Every call into the
 * script (the top level, each callback) runs under three limits, checked by a count hook:
 *  - the instruction budget (lim.instructions_per_call), charged with Lua instructions and with
 *    the work of the C functions the script can reach: bytes allocated (one unit per 64), the
 *    steps of the pattern matcher (scn_pattern.c), the copies of string.rep, the elements the
 *    table functions go over. So a C function that would run for minutes (a backtracking
 *    pattern, table.move over 2^62 elements) ends with the same error as an endless loop;
 *  - a wall-clock deadline (lim.seconds_per_call), for what no count sees (a loop comparing two
 *    long strings, say);
 *  - SIGINT and SIGTERM: the call installs its own handler for both while it runs, so Ctrl-C
 *    ends a script that would otherwise hold the loop; a signal that arrives during a call that
 *    completes anyway is raised again once the process's own handlers are back.
 * Finalizers (__gc) are refused by setmetatable because Lua runs them with hooks disabled (no
 * limit would hold in one), at any allocation and at lua_close.
 *
 * Memory: an allocation that would cross the ceiling is first refused, so that Lua runs an
 * emergency collection and retries; if the retry still crosses it, it is granted within a small
 * slack and the state is marked: the next hook (a few instructions later) raises "memory limit
 * exceeded" as an ordinary error, which carries the line. Only an allocation larger than the
 * slack fails outright (Lua's memory error, which names no line: the line of the innermost Lua
 * function when it was refused is used). Either way the error is fatal: the sandbox's pcall
 * does not catch it. */
#include <errno.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "devices/cat_global.h"
#include "scenarios/scn_internal.h"
#include "sim/core/err.h"

#define SCN_HOOK_EVERY 100
#define SCN_MEM_SLACK (4u << 20)
#define SCN_ALLOC_UNIT_SHIFT 6 /* a unit of budget per 64 bytes allocated */

/* ---- state access -------------------------------------------------------------------------- */

struct scn *scn_from_L(lua_State *L) {
  struct scn *s;
  memcpy(&s, lua_getextraspace(L), sizeof s);
  return s;
}

sim_time_t scn_engine_now(const struct scn *s) {
  if (s->in_callback)
    return s->cb_now;
  if (s->sched_open)
    return sim_sched_now(&s->sched);
  return 0;
}

void scn_limits_default(struct scn_limits *l) {
  l->memory_bytes = (size_t)64 << 20;
  l->instructions_per_call = 100000000u;
  l->seconds_per_call = 10;
}

/* ---- signals during a call ----------------------------------------------------------------- */

/* The signal that arrived while a call ran (0: none). One per process: calls into scripts run on
 * the loop thread, one at a time. */
static volatile sig_atomic_t scn_signal_seen;

static void on_signal(int sig) {
  scn_signal_seen = sig;
}

struct sig_save {
  struct sigaction intr, term;
};

/* Catches SIGINT and SIGTERM for the length of a call (a signal the process ignores stays
 * ignored); sig_release() puts the process's own handlers back. */
static void sig_catch(struct sig_save *save) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  scn_signal_seen = 0;
  sigaction(SIGINT, &sa, &save->intr);
  if (save->intr.sa_handler == SIG_IGN)
    sigaction(SIGINT, &save->intr, NULL);
  sigaction(SIGTERM, &sa, &save->term);
  if (save->term.sa_handler == SIG_IGN)
    sigaction(SIGTERM, &save->term, NULL);
}

static void sig_release(const struct sig_save *save) {
  sigaction(SIGINT, &save->intr, NULL);
  sigaction(SIGTERM, &save->term, NULL);
}

static const char *sig_name(int sig) {
  return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

/* ---- allocator and hook -------------------------------------------------------------------- */

static void *scn_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  struct scn *s = ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    s->mem_used -= old;
    return NULL;
  }
  if (nsize > old && s->mem_used - old + nsize > s->lim.memory_bytes) {
    size_t after = s->mem_used - old + nsize;
    /* A second try of the same request after Lua's emergency collection: grant it within the
     * slack and let the hook raise the error with its line. */
    if (s->refused_ptr == ptr && s->refused_size == nsize && s->running &&
        after <= s->lim.memory_bytes + SCN_MEM_SLACK) {
      s->refused_ptr = NULL;
      s->refused_size = 0;
      s->mem_hit = 1;
    } else {
      /* Lua's memory error names no line: remember the script's (reading the stack allocates
       * nothing). */
      if (s->running && s->L)
        s->mem_line = scn_current_line(s->L);
      s->refused_ptr = ptr;
      s->refused_size = nsize;
      return NULL;
    }
  }
  void *p = realloc(ptr, nsize);
  if (!p)
    return NULL;
  s->mem_used = s->mem_used - old + nsize;
  /* Allocating is work too: a loop copying large strings costs its bytes, not its few
   * instructions. The hook raises the budget error. */
  if (s->running && nsize > old)
    s->insn_used += (nsize - old) >> SCN_ALLOC_UNIT_SHIFT;
  return p;
}

void scn_mem_message(const struct scn *s, char *buf, size_t cap) {
  size_t mib = s->lim.memory_bytes >> 20;
  if (mib << 20 == s->lim.memory_bytes)
    snprintf(buf, cap, "memory limit of %zu MiB exceeded", mib);
  else
    snprintf(buf, cap, "memory limit of %.2f MiB exceeded",
             (double)s->lim.memory_bytes / 1048576.0);
}

static void budget_error(lua_State *L, struct scn *s, const char *what) {
  s->budget_hit = 1;
  if (what)
    scn_raise(L, "instruction budget of %" PRIu64 " exceeded (%s)", s->lim.instructions_per_call,
              what);
  scn_raise(L, "instruction budget of %" PRIu64 " exceeded", s->lim.instructions_per_call);
}

/* Ends the call when SIGINT/SIGTERM arrived or its deadline passed; check_clock: read the clock
 * (costs more than the rest). */
static void limits_check(lua_State *L, struct scn *s, int check_clock) {
  if (scn_signal_seen) {
    s->limit_hit = 1;
    scn_raise(L, "interrupted by %s while the script was running", sig_name(scn_signal_seen));
  }
  if (check_clock && uv_hrtime() > s->deadline_ns) {
    s->limit_hit = 1;
    scn_raise(L, "time limit of %g s per call exceeded", s->lim.seconds_per_call);
  }
}

static void scn_hook(lua_State *L, lua_Debug *ar) {
  struct scn *s = scn_from_L(L);
  if (lua_getinfo(L, "l", ar) && ar->currentline > 0)
    s->budget_line = ar->currentline;
  s->insn_used += SCN_HOOK_EVERY;
  if (s->mem_hit) {
    char m[96];
    scn_mem_message(s, m, sizeof m);
    s->mem_fatal = 1;
    scn_raise(L, "%s", m);
  }
  if (s->insn_used > s->lim.instructions_per_call)
    budget_error(L, s, NULL);
  limits_check(L, s, 1); /* the clock costs ~20 ns: nothing next to the hook itself */
}

uint64_t scn_work_left(lua_State *L) {
  struct scn *s = scn_from_L(L);
  return s->insn_used < s->lim.instructions_per_call ? s->lim.instructions_per_call - s->insn_used
                                                     : 0;
}

void scn_work_charge(lua_State *L, uint64_t units, const char *what) {
  struct scn *s = scn_from_L(L);
  uint64_t left = scn_work_left(L);
  s->insn_used += units < left ? units : left + 1;
  if (units > left)
    budget_error(L, s, what);
}

void scn_work_poll(lua_State *L) {
  limits_check(L, scn_from_L(L), 1);
}

int scn_current_line(lua_State *L) {
  lua_Debug ar;
  for (int level = 0; level < 64 && lua_getstack(L, level, &ar); level++) {
    if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0)
      return ar.currentline;
  }
  return 0;
}

int scn_raise(lua_State *L, const char *fmt, ...) {
  struct scn *s = scn_from_L(L);
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  int line = scn_current_line(L);
  if (line > 0)
    lua_pushfstring(L, "%s:%d: %s", s->short_src, line, msg);
  else
    lua_pushstring(L, msg);
  return lua_error(L);
}

/* ---- errors -------------------------------------------------------------------------------- */

/* Splits "SHORT_SRC:LINE: rest" into line and rest; other texts keep line 0. */
static void parse_message(const struct scn *s, const char *msg, struct scn_error *err) {
  size_t n = strlen(s->short_src);
  snprintf(err->file, sizeof err->file, "%s", s->path);
  err->line = 0;
  if (n && strncmp(msg, s->short_src, n) == 0 && msg[n] == ':') {
    char *end;
    long line = strtol(msg + n + 1, &end, 10);
    if (end != msg + n + 1 && end[0] == ':' && line > 0) {
      err->line = (int)line;
      msg = end + 1;
      while (*msg == ' ')
        msg++;
    }
  }
  snprintf(err->message, sizeof err->message, "%s", msg);
}

/* Message handler: gives every error object a text carrying the innermost Lua line. */
static int msgh(lua_State *L) {
  struct scn *s = scn_from_L(L);
  const char *msg = lua_tostring(L, 1);
  if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      msg = lua_tostring(L, -1);
    else
      msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  size_t n = strlen(s->short_src);
  if (n && strncmp(msg, s->short_src, n) == 0 && msg[n] == ':')
    return 1;
  int line = scn_current_line(L);
  if (line > 0)
    lua_pushfstring(L, "%s:%d: %s", s->short_src, line, msg);
  else
    lua_pushstring(L, msg);
  return 1;
}

int scn_pcall(struct scn *s, int nargs, struct scn_error *err) {
  lua_State *L = s->L;
  int base = lua_gettop(L) - nargs; /* the function's index */
  lua_pushcfunction(L, msgh);
  lua_insert(L, base);
  s->insn_used = 0;
  s->mem_line = 0;
  double secs = s->lim.seconds_per_call > 0 ? s->lim.seconds_per_call : 10;
  s->deadline_ns = uv_hrtime() + (uint64_t)(secs * 1e9);
  struct sig_save save;
  sig_catch(&save);
  s->running = 1;
  int rc = lua_pcall(L, nargs, 0, base);
  s->running = 0;
  sig_release(&save);
  int sig = scn_signal_seen;
  scn_signal_seen = 0;
  if (rc == LUA_OK) {
    lua_remove(L, base);
    /* The call ended before it saw the signal: it is the process's, give it back. */
    if (sig)
      raise(sig);
    return 0;
  }
  if (rc == LUA_ERRMEM || s->mem_fatal) {
    char m[96];
    scn_mem_message(s, m, sizeof m);
    snprintf(err->file, sizeof err->file, "%s", s->path);
    /* a memory error raised by Lua itself carries no position: the line when the allocation
     * was refused, else the last line the hook saw */
    const char *msg = lua_tostring(L, -1);
    struct scn_error tmp;
    parse_message(s, msg ? msg : "", &tmp);
    err->line = tmp.line ? tmp.line : s->mem_line ? s->mem_line : s->budget_line;
    snprintf(err->message, sizeof err->message, "%s", m);
  } else {
    const char *msg = lua_tostring(L, -1);
    parse_message(s, msg ? msg : "error", err);
  }
  lua_settop(L, base - 1);
  s->mem_fatal = 1; /* a state that failed once runs nothing more */
  return SIM_EINVAL;
}

int scn_error_format(const struct scn_error *e, char *buf, size_t cap) {
  if (e->line > 0)
    return snprintf(buf, cap, "%s:%d: %s", e->file, e->line, e->message);
  return snprintf(buf, cap, "%s: %s", e->file, e->message);
}

static void set_error(struct scn_error *err, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_error(struct scn_error *err, const char *file, int line, const char *fmt, ...) {
  snprintf(err->file, sizeof err->file, "%s", file);
  err->line = line;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
}

/* ---- the sandbox --------------------------------------------------------------------------- */

/* pcall that catches the script's own errors but never a budget or memory error. */
static int safe_pcall(lua_State *L) {
  struct scn *s = scn_from_L(L);
  luaL_checkany(L, 1);
  int rc = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
  if (rc == LUA_ERRMEM || s->mem_hit || s->mem_fatal || s->budget_hit || s->limit_hit) {
    if (rc == LUA_ERRMEM)
      s->mem_fatal = 1;
    return lua_error(L); /* the error object is on top */
  }
  lua_pushboolean(L, rc == LUA_OK);
  lua_insert(L, 1);
  return lua_gettop(L);
}

/* setmetatable(t, mt) as the base library's, but a metatable with a __gc field is refused: Lua
 * runs finalizers with hooks off (no budget, deadline or Ctrl-C would hold in one), whenever an
 * allocation makes the collector run and at lua_close. A __gc added to the metatable later
 * marks nothing (Lua decides at setmetatable), so this one check is enough. */
static int safe_setmetatable(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int t = lua_type(L, 2);
  luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
  if (t == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    int has_gc = lua_rawget(L, 2) != LUA_TNIL;
    lua_pop(L, 1);
    if (has_gc)
      scn_raise(L, "setmetatable: __gc finalizers are not available in scenarios (they would "
                   "run outside the script's limits)");
  }
  if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
    return luaL_error(L, "cannot change a protected metatable");
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

/* string.rep: the library's copies the string n times, one memcpy each, even when it is empty:
 * string.rep("", 2^62) never returns. An empty result is returned at once; any other costs its
 * n copies (the allocator charges the bytes), unless it cannot fit in the memory ceiling, where
 * the library's own allocation fails with the memory error. */
static int safe_rep(lua_State *L) {
  struct scn *s = scn_from_L(L);
  size_t l, lsep;
  luaL_checklstring(L, 1, &l);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_optlstring(L, 3, "", &lsep);
  if (n <= 0 || (l == 0 && lsep == 0)) {
    lua_pushliteral(L, "");
    return 1;
  }
  if ((uint64_t)n <= s->lim.memory_bytes / (l + lsep))
    scn_work_charge(L, (uint64_t)n, "string.rep");
  lua_settop(L, 3);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, 3, 1);
  return 1;
}

/* The table functions loop in C over as many elements as they are given. Each wrapper charges
 * that many units of budget before it calls the library's function (upvalue 1), so a loop over
 * a large table costs its size, not its few instructions: table.move its range (the library's
 * copies e - f + 1 elements however many exist: table.move({}, 1, 2^62, 2) runs for
 * centuries), the others the table's length (table.sort n log n). Elements reached through
 * metamethods run Lua code, which counts by itself. */
static uint64_t raw_length(lua_State *L) {
  return lua_type(L, 1) == LUA_TTABLE ? (uint64_t)lua_rawlen(L, 1) : 0;
}

static int call_original(lua_State *L) {
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}

static int safe_move(lua_State *L) {
  lua_Integer f = luaL_checkinteger(L, 2);
  lua_Integer e = luaL_checkinteger(L, 3);
  luaL_checkinteger(L, 4);
  if (e >= f) {
    uint64_t n = (uint64_t)e - (uint64_t)f + 1u;
    scn_work_charge(L, n ? n : UINT64_MAX, "table.move");
  }
  return call_original(L);
}

static int safe_by_length(lua_State *L) {
  scn_work_charge(L, raw_length(L) + 1, lua_tostring(L, lua_upvalueindex(2)));
  return call_original(L);
}

static int safe_sort(lua_State *L) {
  uint64_t n = raw_length(L), log2n = 1;
  while (log2n < 64 && (n >> log2n))
    log2n++;
  scn_work_charge(L, n * log2n + 1, "table.sort");
  return call_original(L);
}

/* Replaces table[name] (on the table at the top of the stack) by fn with the original as
 * upvalue 1 and the name shown in the budget error as upvalue 2. */
static void wrap_field(lua_State *L, const char *name, const char *shown, lua_CFunction fn) {
  lua_getfield(L, -1, name);
  lua_pushstring(L, shown);
  lua_pushcclosure(L, fn, 2);
  lua_setfield(L, -2, name);
}

/* The script's `table` is a copy of the library's with the wrappers: the library's own table
 * keeps the originals (the script cannot reach it), so their argument errors still name
 * "table.insert" and so on. */
static void open_table(lua_State *L) {
  lua_newtable(L);
  lua_getglobal(L, LUA_TABLIBNAME);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_settable(L, -5);
  }
  lua_pop(L, 1);
  wrap_field(L, "move", "table.move", safe_move);
  wrap_field(L, "insert", "table.insert", safe_by_length);
  wrap_field(L, "remove", "table.remove", safe_by_length);
  wrap_field(L, "concat", "table.concat", safe_by_length);
  wrap_field(L, "unpack", "table.unpack", safe_by_length);
  wrap_field(L, "sort", "table.sort", safe_sort);
  lua_setglobal(L, LUA_TABLIBNAME);
}

static void drop_field(lua_State *L, const char *table, const char *name) {
  if (lua_getglobal(L, table) == LUA_TTABLE) {
    lua_pushnil(L);
    lua_setfield(L, -2, name);
  }
  lua_pop(L, 1);
}

void scn_seed_random(struct scn *s, uint64_t seed) {
  lua_State *L = s->L;
  /* math.randomseed was removed from the sandbox; the original is kept in the registry */
  if (lua_getfield(L, LUA_REGISTRYINDEX, "hubsim.randomseed") == LUA_TFUNCTION) {
    lua_pushinteger(L, (lua_Integer)(seed & 0x7FFFFFFFFFFFFFFFull));
    lua_pushinteger(L, 0x5CE0);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK)
      lua_pop(L, 1);
  } else {
    lua_pop(L, 1);
  }
}

static void open_sandbox(struct scn *s) {
  lua_State *L = s->L;
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
  lua_pop(L, 4);
  static const char *const gone[] = {"dofile", "loadfile", "load",  "require",    "collectgarbage",
                                     "rawset", "xpcall",   "print", "loadstring", NULL};
  for (size_t i = 0; gone[i]; i++) {
    lua_pushnil(L);
    lua_setglobal(L, gone[i]);
  }
  lua_pushcfunction(L, safe_pcall);
  lua_setglobal(L, "pcall");
  lua_pushcfunction(L, safe_setmetatable);
  lua_setglobal(L, "setmetatable");
  drop_field(L, LUA_STRLIBNAME, "dump");
  /* string is also the strings' metatable's __index (("x"):rep()): changed in place */
  if (lua_getglobal(L, LUA_STRLIBNAME) == LUA_TTABLE) {
    wrap_field(L, "rep", "string.rep", safe_rep);
    scn_pattern_open(L); /* find, match, gmatch, gsub: bounded */
  }
  lua_pop(L, 1);
  open_table(L);
  if (lua_getglobal(L, LUA_MATHLIBNAME) == LUA_TTABLE) {
    lua_getfield(L, -1, "randomseed");
    lua_setfield(L, LUA_REGISTRYINDEX, "hubsim.randomseed");
    lua_pushnil(L);
    lua_setfield(L, -2, "randomseed");
  }
  lua_pop(L, 1);
}

/* ---- load ---------------------------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len, struct scn_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    set_error(err, path, 0, "cannot open: %s", strerror(errno));
    return NULL;
  }
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0)
      break;
    if (n > SCN_MAX_SCRIPT_BYTES) {
      free(buf);
      fclose(f);
      set_error(err, path, 0, "the script is larger than %u MiB, the most a scenario may be",
                SCN_MAX_SCRIPT_BYTES >> 20);
      return NULL;
    }
    if (n == cap) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  int bad = ferror(f);
  fclose(f);
  if (!buf || bad) {
    free(buf);
    set_error(err, path, 0, "cannot read");
    return NULL;
  }
  *len = n;
  return buf;
}

static void default_name(struct scn *s) {
  const char *b = strrchr(s->path, '/');
  b = b ? b + 1 : s->path;
  size_t n = strlen(b);
  if (n > 4 && strcmp(b + n - 4, ".lua") == 0)
    n -= 4;
  s->s_name = malloc(n + 1);
  if (s->s_name) {
    memcpy(s->s_name, b, n);
    s->s_name[n] = 0;
  }
  s->cfg.name = s->s_name;
}

static int load(const char *path, const char *text, size_t len, const struct scn_limits *lim,
                scn_open_fn open, void *arg, struct scn **out, struct scn_error *err) {
  struct scn_error dummy;
  if (!err)
    err = &dummy;
  memset(err, 0, sizeof *err);
  *out = NULL;
  if (!path)
    path = "scenario";
  char *owned = NULL;
  if (!text) {
    owned = read_file(path, &len, err);
    if (!owned)
      return SIM_EINVAL;
    text = owned;
  }
  if (len > SCN_MAX_SCRIPT_BYTES) {
    free(owned);
    set_error(err, path, 0, "the script is larger than %u MiB, the most a scenario may be",
              SCN_MAX_SCRIPT_BYTES >> 20);
    return SIM_EINVAL;
  }
  struct scn *s = calloc(1, sizeof *s);
  if (!s) {
    free(owned);
    set_error(err, path, 0, "out of memory");
    return SIM_ENOMEM;
  }
  if (lim)
    s->lim = *lim;
  else
    scn_limits_default(&s->lim);
  if (!s->lim.memory_bytes)
    s->lim.memory_bytes = (size_t)64 << 20;
  if (!s->lim.instructions_per_call)
    s->lim.instructions_per_call = 100000000u;
  if (!(s->lim.seconds_per_call > 0) || !isfinite(s->lim.seconds_per_call))
    s->lim.seconds_per_call = 10;
  snprintf(s->path, sizeof s->path, "%s", path);
  s->cfg.ramp = -1;
  s->cfg.clock_virtual = -1;
  sim_hist_init(&s->automation);
  s->stats = malloc(sizeof *s->stats);
  s->L = lua_newstate(scn_alloc, s);
  if (!s->L || !s->stats) {
    free(owned);
    set_error(err, path, 0, "out of memory");
    scn_free(s);
    return SIM_ENOMEM;
  }
  memcpy(lua_getextraspace(s->L), &s, sizeof s);
  (void)dev_catalog_register_all(); /* model ids must be known; idempotent */
  open_sandbox(s);
  scn_api_open(s->L);
  s->embed_arg = arg;
  if (open)
    open(s->L, arg);
  scn_seed_random(s, 1);
  lua_sethook(s->L, scn_hook, LUA_MASKCOUNT, SCN_HOOK_EVERY);

  /* the chunk's name in messages is Lua's short form of "@path" */
  char chunk[300];
  snprintf(chunk, sizeof chunk, "@%s", path);
  int rc = luaL_loadbufferx(s->L, text, len, chunk, "t");
  free(owned);
  {
    lua_Debug ar;
    lua_pushvalue(s->L, -1);
    if (rc == LUA_OK && lua_getinfo(s->L, ">S", &ar))
      snprintf(s->short_src, sizeof s->short_src, "%s", ar.short_src);
    else
      lua_pop(s->L, 1);
  }
  if (rc != LUA_OK) {
    /* no function to ask: name the chunk the way Lua does (luaO_chunkid: a path too long
     * keeps its tail after "...") */
    size_t n = strlen(path), keep = LUA_IDSIZE - 4;
    if (n + 1 <= LUA_IDSIZE)
      snprintf(s->short_src, sizeof s->short_src, "%s", path);
    else
      snprintf(s->short_src, sizeof s->short_src, "...%s", path + n - keep);
    if (rc == LUA_ERRMEM) {
      char m[96];
      scn_mem_message(s, m, sizeof m);
      set_error(err, path, 0, "%s", m);
    } else {
      const char *msg = lua_tostring(s->L, -1);
      parse_message(s, msg ? msg : "syntax error", err);
    }
    scn_free(s);
    return SIM_EINVAL;
  }
  rc = scn_pcall(s, 0, err);
  if (rc) {
    scn_free(s);
    return rc;
  }
  if (!s->cfg.name)
    default_name(s);
  *out = s;
  return 0;
}

int scn_load(const char *path, const char *text, size_t len, const struct scn_limits *lim,
             struct scn **out, struct scn_error *err) {
  return load(path, text, len, lim, NULL, NULL, out, err);
}

int scn_load_embedded(const char *path, const struct scn_limits *lim, scn_open_fn open, void *arg,
                      struct scn **out, struct scn_error *err) {
  return load(path, NULL, 0, lim, open, arg, out, err);
}

void *scn_embed_arg(lua_State *L) {
  return scn_from_L(L)->embed_arg;
}

uint32_t scn_pending(const struct scn *s) {
  return s->n_steps - s->n_free;
}

const struct scn_config *scn_config(const struct scn *s) {
  return &s->cfg;
}

void scn_set_seed(struct scn *s, uint64_t seed) {
  s->seed_override = seed;
  s->has_seed_override = 1;
}

uint64_t scn_seed(const struct scn *s) {
  if (s->has_seed_override)
    return s->seed_override;
  return s->cfg.seed ? s->cfg.seed : 1;
}

uint32_t scn_devices_of_hub(const struct scn *s, uint64_t seed, uint32_t g) {
  const struct scn_config *c = &s->cfg;
  struct sim_rng r;
  sim_rng_seed(&r, seed, 0xD9E0000000ull + g);
  switch (c->dph_kind) {
  case SCN_DPH_RANGE:
    if (c->dph_max <= c->dph_min)
      return c->dph_min;
    return c->dph_min + sim_rng_below(&r, c->dph_max - c->dph_min + 1);
  case SCN_DPH_NORMAL: {
    /* Box-Muller, one draw per hub */
    double u1 = sim_rng_unit(&r), u2 = sim_rng_unit(&r);
    if (u1 < 1e-12)
      u1 = 1e-12;
    double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    double v = c->dph_mean + c->dph_sd * z;
    if (v < c->dph_min)
      v = c->dph_min;
    if (v > c->dph_max)
      v = c->dph_max;
    return (uint32_t)(v + 0.5);
  }
  default:
    return c->dph;
  }
}

/* ---- log ----------------------------------------------------------------------------------- */

/* The log keeps at most SCN_MAX_LOG lines and SCN_MAX_LOG_BYTES bytes (a script that logs in a
 * loop must not take memory without limit: the log is outside the Lua state's ceiling). Its last
 * line then says so; later lines are counted, not kept. */
void scn_logf(struct scn *s, const char *fmt, ...) {
  if (s->log_full) {
    s->log_dropped++;
    return;
  }
  if (s->n_log == s->cap_log) {
    size_t cap = s->cap_log ? s->cap_log * 2 : 64;
    char **nl = realloc(s->log, cap * sizeof *nl);
    if (!nl) {
      s->log_dropped++;
      return;
    }
    s->log = nl;
    s->cap_log = cap;
  }
  char line[SCN_LOG_LINE];
  sim_time_t now = scn_engine_now(s);
  int n = snprintf(line, sizeof line, "%10.3f ", (double)now / 1e6);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  size_t len = strlen(line) + 1;
  if (s->n_log + 1 >= SCN_MAX_LOG || s->log_bytes + len + SCN_LOG_LINE > SCN_MAX_LOG_BYTES) {
    s->log_full = 1;
    s->log_dropped++;
    snprintf(line + n, sizeof line - (size_t)n,
             "the scenario log is full (%zu lines): later lines are not kept", s->n_log);
    len = strlen(line) + 1;
  }
  char *copy = strdup(line);
  if (!copy) {
    s->log_dropped++;
    return;
  }
  s->log_bytes += len;
  s->log[s->n_log++] = copy;
}

size_t scn_log(const struct scn *s, const char *const **lines) {
  *lines = (const char *const *)s->log;
  return s->n_log;
}

const char *scn_phase(const struct scn *s) {
  return s->phase;
}

int scn_failed(const struct scn *s, struct scn_error *err) {
  if (s->failed && err)
    *err = s->fail_err;
  return s->failed;
}

struct sim_sched *scn_sched(struct scn *s) {
  return s->sched_open ? &s->sched : NULL;
}

/* ---- start / free -------------------------------------------------------------------------- */

static int check_platform_metrics(struct scn *s, struct scn_error *err) {
  for (size_t i = 0; i < s->n_exp; i++) {
    struct scn_expectation *e = &s->exp[i];
    if (strncmp(e->metric, "platform.", 9) != 0)
      continue;
    double v;
    if (!s->has_ops || !s->ops.metric) {
      set_error(err, e->file, e->line, "metric '%s': this platform offers no metrics", e->metric);
      return SIM_EINVAL;
    }
    if (s->ops.metric(s->ops.arg, e->metric + 9, &v) == SIM_ENOTFOUND) {
      set_error(err, e->file, e->line, "unknown metric '%s': the platform does not report it",
                e->metric);
      return SIM_EINVAL;
    }
  }
  return 0;
}

/* Whether s may start; else *err says why. */
static int startable(struct scn *s, struct scn_error *err) {
  memset(err, 0, sizeof *err);
  if (s->started || s->mem_fatal || s->stopping) {
    set_error(err, s->path, 0, "scenario already started or failed");
    return SIM_EINVAL;
  }
  return 0;
}

/* Opens the scheduler on loop: on clock (shared with the fleet) when given, else on a real
 * clock of its own that starts now. */
static int sched_open(struct scn *s, uv_loop_t *loop, const struct sim_clock *clock,
                      struct scn_error *err) {
  uint32_t cap = s->n_steps + 64;
  int rc =
      sim_sched_init(&s->sched, loop, clock ? clock->is_virtual : 0, cap, scn_timeline_fire, s);
  if (rc) {
    set_error(err, s->path, 0, "scheduler: %s", sim_strerror(rc));
    return rc;
  }
  /* engine time is the fleet's: share its clock (a vdriver keeps virtual ones in step) */
  if (clock)
    s->sched.clock = *clock;
  s->sched_open = 1;
  s->started = 1;
  scn_seed_random(s, scn_seed(s));
  return 0;
}

/* The entries the top level declared go on the wheel. */
static void timeline_schedule(struct scn *s) {
  for (uint32_t i = 0; i < s->n_steps; i++)
    if (s->steps[i].ref != LUA_NOREF)
      sim_wheel_add(&s->sched.wheel, i, s->steps[i].due);
  scn_logf(s, "scenario %s started (seed %" PRIu64 ")", s->cfg.name ? s->cfg.name : "",
           scn_seed(s));
}

int scn_start(struct scn *s, struct sim_fleet *f, const struct scn_platform_ops *p,
              struct scn_error *err) {
  struct scn_error dummy;
  if (!err)
    err = &dummy;
  int rc = startable(s, err);
  if (rc)
    return rc;
  s->fleet = f;
  if (p) {
    s->ops = *p;
    s->has_ops = 1;
  }
  rc = check_platform_metrics(s, err);
  if (rc)
    return rc;
  struct sim_sched *fs = sim_fleet_sched(f);
  rc = sched_open(s, fs->loop, &fs->clock, err);
  if (rc)
    return rc;
  scn_observe_install(s);
  rc = scn_platform_install(s, err);
  if (rc)
    return rc;
  timeline_schedule(s);
  return 0;
}

int scn_start_clock(struct scn *s, uv_loop_t *loop, struct scn_error *err) {
  struct scn_error dummy;
  if (!err)
    err = &dummy;
  int rc = startable(s, err);
  if (rc == 0)
    rc = sched_open(s, loop, NULL, err);
  if (rc == 0)
    timeline_schedule(s);
  return rc;
}

static void free_rest(struct scn *s) {
  for (size_t i = 0; i < s->n_log; i++)
    free(s->log[i]);
  free(s->log);
  free(s->steps);
  free(s->free_steps);
  free(s->rules);
  free(s->stats);
  free(s->s_name);
  free(s->s_desc);
  free(s->s_hub_model);
  free(s->s_mix);
  free(s->s_prefix);
  free(s->s_key);
  free(s);
}

static void sched_closed(struct sim_sched *sc) {
  struct scn *s = (struct scn *)((char *)sc - offsetof(struct scn, sched));
  s->sched_closed = 1;
  if (s->free_pending)
    free_rest(s);
}

void scn_stop(struct scn *s) {
  if (!s)
    return;
  /* The fleet may be freed after this: forget it (the last figures stay in s->stats). */
  if (s->fleet && s->started)
    sim_fleet_observe(s->fleet, NULL, NULL, NULL);
  s->fleet = NULL;
  if (!s->sched_open || s->stopping)
    return;
  s->stopping = 1;
  for (uint32_t i = 0; i < s->n_steps; i++) {
    if (s->steps[i].ref != LUA_NOREF && s->L)
      luaL_unref(s->L, LUA_REGISTRYINDEX, s->steps[i].ref);
    s->steps[i].ref = LUA_NOREF;
  }
  s->n_free = 0;
  /* the wheel is emptied at once (a vdriver still polling it finds nothing); on a real clock
   * the handles close with the loop's next turn */
  sim_sched_close(&s->sched, sched_closed);
}

void scn_free(struct scn *s) {
  if (!s)
    return;
  if (s->fleet && s->started)
    sim_fleet_observe(s->fleet, NULL, NULL, NULL);
  scn_stop(s);
  if (s->L)
    lua_close(s->L);
  s->L = NULL;
  if (s->sched_open && !s->sched_closed) {
    s->free_pending = 1; /* freed by sched_closed once libuv closed the handles */
    return;
  }
  free_rest(s);
}
