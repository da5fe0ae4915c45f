/* string.find, string.match, string.gmatch and string.gsub for the sandbox: Lua 5.4's pattern
 * language (the reference manual, section 6.4.1), matched by a backtracking matcher that counts
 * its steps.
 *
 * Why not the library's: its matcher backtracks without any bound on time. A pattern such as
 * ".-.-.-.-.-.-.-b" against 3000 bytes takes about n^7 steps, all inside one C call where the
 * count hook never runs, so neither the instruction budget nor Ctrl-C could end it. Here every
 * step (a character tried, a backtrack, a byte compared by a back-reference or a plain search)
 * is a unit of the running call's budget: a pattern that needs more than the budget has left
 * ends with the budget error and the script's line, and the deadline and SIGINT are polled
 * every few thousand steps. Recursion (captures, '?', the expansions of '*', '+' and '-') is
 * bounded by MAX_DEPTH, checked before each level, as the library bounds it.
 *
 * The results are the library's: the same matches, captures, positions and replacement rules,
 * including the corner cases (a ']' first in a set, '^' that anchors only at the start of find,
 * match and gsub patterns, an empty match not repeated at the position of the previous one in
 * gmatch and gsub). tests/unit/scenarios/test_scn_pattern.c compares the two on many cases. */
/* memmem is a GNU extension: the build defines _GNU_SOURCE. */
#include <ctype.h>
#include <lauxlib.h>
#include <lua.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "scenarios/scn_internal.h"

#define MAX_CAPTURES 32
#define MAX_DEPTH 200
#define POLL_EVERY 4096u /* steps between two looks at the clock and the signals */
#define CAP_OPEN (-1)
#define CAP_POSITION (-2)

struct matcher {
  lua_State *L;
  const char *what;    /* "string.find"... for the budget's message */
  const char *s0, *se; /* the subject */
  const char *pe;      /* end of the pattern */
  int depth;           /* levels of recursion left */
  int n_cap;
  struct {
    const char *at;
    ptrdiff_t len; /* CAP_OPEN, CAP_POSITION or the length */
  } cap[MAX_CAPTURES];
  uint64_t steps; /* spent and not charged yet */
  uint64_t left;  /* what the budget allowed when they started */
};

/* ---- accounting ---------------------------------------------------------------------------- */

static void charge(struct matcher *m) {
  uint64_t n = m->steps;
  m->steps = 0;
  scn_work_charge(m->L, n, m->what);
  m->left = scn_work_left(m->L);
}

static void step(struct matcher *m, uint64_t n) {
  m->steps += n;
  if (m->steps > m->left)
    charge(m); /* raises */
  if ((m->steps & (POLL_EVERY - 1)) < n)
    scn_work_poll(m->L);
}

static void init_matcher(struct matcher *m, lua_State *L, const char *what, const char *s,
                         size_t ls, const char *p, size_t lp) {
  m->L = L;
  m->what = what;
  m->s0 = s;
  m->se = s + ls;
  m->pe = p + lp;
  m->steps = 0;
  m->left = scn_work_left(L);
}

static void reset(struct matcher *m) {
  m->depth = MAX_DEPTH;
  m->n_cap = 0;
}

/* ---- pattern items ------------------------------------------------------------------------- */

/* Whether c is in class cl (the letter after '%'): an upper-case letter is the complement; any
 * other character stands for itself. */
static int in_class(int c, int cl) {
  int r;
  switch (tolower(cl)) {
  case 'a':
    r = isalpha(c);
    break;
  case 'c':
    r = iscntrl(c);
    break;
  case 'd':
    r = isdigit(c);
    break;
  case 'g':
    r = isgraph(c);
    break;
  case 'l':
    r = islower(c);
    break;
  case 'p':
    r = ispunct(c);
    break;
  case 's':
    r = isspace(c);
    break;
  case 'u':
    r = isupper(c);
    break;
  case 'w':
    r = isalnum(c);
    break;
  case 'x':
    r = isxdigit(c);
    break;
  case 'z': /* the zero byte: deprecated, still understood */
    r = c == 0;
    break;
  default:
    return cl == c;
  }
  if (isupper(cl))
    r = !r;
  return r != 0;
}

/* p is at '['; returns the position after the ']' that closes the set. The first character
 * (after an optional '^') belongs to the set even when it is ']'; '%' takes the next one. */
static const char *set_end(struct matcher *m, const char *p) {
  p++;
  if (p < m->pe && *p == '^')
    p++;
  do {
    if (p >= m->pe)
      luaL_error(m->L, "malformed pattern (missing ']')");
    if (*p++ == '%' && p < m->pe)
      p++;
  } while (p >= m->pe || *p != ']');
  return p + 1;
}

/* Whether c is in the set from '[' at p to its ']' at close. */
static int in_set(int c, const char *p, const char *close) {
  int member = 1;
  p++;
  if (*p == '^') {
    member = 0;
    p++;
  }
  while (p < close) {
    if (*p == '%') {
      if (in_class(c, (unsigned char)p[1]))
        return member;
      p += 2;
    } else if (p + 2 < close && p[1] == '-') {
      if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2])
        return member;
      p += 3;
    } else {
      if ((unsigned char)*p == c)
        return member;
      p++;
    }
  }
  return !member;
}

/* The end of the single-character item at p (a character, '.', '%x' or a set). */
static const char *item_end(struct matcher *m, const char *p) {
  if (*p == '%') {
    if (p + 1 >= m->pe)
      luaL_error(m->L, "malformed pattern (ends with '%%')");
    return p + 2;
  }
  if (*p == '[')
    return set_end(m, p);
  return p + 1;
}

/* Whether the subject character at s matches the item p..ep. */
static int item_matches(const struct matcher *m, const char *s, const char *p, const char *ep) {
  if (s >= m->se)
    return 0;
  int c = (unsigned char)*s;
  switch (*p) {
  case '.':
    return 1;
  case '%':
    return in_class(c, (unsigned char)p[1]);
  case '[':
    return in_set(c, p, ep - 1);
  default:
    return (unsigned char)*p == c;
  }
}

/* ---- matching ------------------------------------------------------------------------------ */

static const char *match(struct matcher *m, const char *s, const char *p);

/* '*' and '+': as many as possible, then give back one at a time. */
static const char *longest(struct matcher *m, const char *s, const char *p, const char *ep) {
  size_t n = 0;
  while (item_matches(m, s + n, p, ep)) {
    step(m, 1);
    n++;
  }
  for (;;) {
    const char *r = match(m, s + n, ep + 1);
    if (r)
      return r;
    if (n == 0)
      return NULL;
    n--;
  }
}

/* '-': as few as possible, one more at a time. */
static const char *shortest(struct matcher *m, const char *s, const char *p, const char *ep) {
  for (;;) {
    const char *r = match(m, s, ep + 1);
    if (r)
      return r;
    if (!item_matches(m, s, p, ep))
      return NULL;
    step(m, 1);
    s++;
  }
}

static const char *open_capture(struct matcher *m, const char *s, const char *p, ptrdiff_t kind) {
  if (m->n_cap >= MAX_CAPTURES)
    luaL_error(m->L, "too many captures");
  m->cap[m->n_cap].at = s;
  m->cap[m->n_cap].len = kind;
  m->n_cap++;
  const char *r = match(m, s, p);
  if (!r)
    m->n_cap--;
  return r;
}

static const char *close_capture(struct matcher *m, const char *s, const char *p) {
  int l = m->n_cap - 1;
  while (l >= 0 && m->cap[l].len != CAP_OPEN)
    l--;
  if (l < 0)
    luaL_error(m->L, "invalid pattern capture");
  m->cap[l].len = s - m->cap[l].at;
  const char *r = match(m, s, p);
  if (!r)
    m->cap[l].len = CAP_OPEN;
  return r;
}

/* %bxy at p (pointing at x): a string that starts with x and ends with the y that balances it. */
static const char *balanced(struct matcher *m, const char *s, const char *p) {
  if (p + 1 >= m->pe)
    luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
  if (s >= m->se || *s != p[0])
    return NULL;
  int depth = 1;
  while (++s < m->se) {
    step(m, 1);
    if (*s == p[1]) {
      if (--depth == 0)
        return s + 1;
    } else if (*s == p[0]) {
      depth++;
    }
  }
  return NULL;
}

/* %1..%9: the text of a closed capture again. */
static const char *back_reference(struct matcher *m, const char *s, int digit) {
  int l = digit - '1';
  if (l < 0 || l >= m->n_cap || m->cap[l].len == CAP_OPEN)
    luaL_error(m->L, "invalid capture index %%%d in pattern", l + 1);
  if (m->cap[l].len == CAP_POSITION)
    return NULL; /* a position is no text */
  size_t len = (size_t)m->cap[l].len;
  step(m, len / 16 + 1);
  if ((size_t)(m->se - s) >= len && memcmp(m->cap[l].at, s, len) == 0)
    return s + len;
  return NULL;
}

/* Matches pattern p..pe at subject position s: the end of the match, or NULL. Items without a
 * choice (a plain character, an anchor, a frontier) loop here; a choice recurses. */
static const char *match_items(struct matcher *m, const char *s, const char *p) {
  for (;;) {
    step(m, 1);
    if (p == m->pe)
      return s;
    switch (*p) {
    case '(':
      if (p + 1 < m->pe && p[1] == ')')
        return open_capture(m, s, p + 2, CAP_POSITION);
      return open_capture(m, s, p + 1, CAP_OPEN);
    case ')':
      return close_capture(m, s, p + 1);
    case '$':
      if (p + 1 == m->pe)
        return s == m->se ? s : NULL;
      break; /* a '$' elsewhere is a character */
    case '%':
      if (p + 1 < m->pe && p[1] == 'b') {
        s = balanced(m, s, p + 2);
        if (!s)
          return NULL;
        p += 4;
        continue;
      }
      if (p + 1 < m->pe && p[1] == 'f') {
        p += 2;
        if (p >= m->pe || *p != '[')
          luaL_error(m->L, "missing '[' after '%%f' in pattern");
        const char *ep = set_end(m, p);
        int before = s == m->s0 ? 0 : (unsigned char)s[-1];
        int here = s < m->se ? (unsigned char)*s : 0;
        if (in_set(before, p, ep - 1) || !in_set(here, p, ep - 1))
          return NULL;
        p = ep;
        continue;
      }
      if (p + 1 < m->pe && isdigit((unsigned char)p[1])) {
        s = back_reference(m, s, (unsigned char)p[1]);
        if (!s)
          return NULL;
        p += 2;
        continue;
      }
      break;
    default:
      break;
    }
    const char *ep = item_end(m, p);
    int q = ep < m->pe ? *ep : 0;
    if (q == '?') {
      if (item_matches(m, s, p, ep)) {
        const char *r = match(m, s + 1, ep + 1);
        if (r)
          return r;
      }
      p = ep + 1;
      continue;
    }
    if (q == '+')
      return item_matches(m, s, p, ep) ? longest(m, s + 1, p, ep) : NULL;
    if (q == '*')
      return longest(m, s, p, ep);
    if (q == '-')
      return shortest(m, s, p, ep);
    if (!item_matches(m, s, p, ep))
      return NULL;
    s++;
    p = ep;
  }
}

static const char *match(struct matcher *m, const char *s, const char *p) {
  if (m->depth == 0)
    luaL_error(m->L, "pattern too complex (more than %d nested items)", MAX_DEPTH);
  m->depth--;
  const char *r = match_items(m, s, p);
  m->depth++;
  return r;
}

/* ---- results ------------------------------------------------------------------------------- */

/* Pushes capture i of the match s..e; without captures, capture 0 is the whole match. */
static void push_capture(struct matcher *m, int i, const char *s, const char *e) {
  if (i >= m->n_cap) {
    if (i != 0)
      luaL_error(m->L, "invalid capture index %%%d", i + 1);
    lua_pushlstring(m->L, s, (size_t)(e - s));
    return;
  }
  if (m->cap[i].len == CAP_OPEN)
    luaL_error(m->L, "unfinished capture");
  if (m->cap[i].len == CAP_POSITION)
    lua_pushinteger(m->L, (lua_Integer)(m->cap[i].at - m->s0) + 1);
  else
    lua_pushlstring(m->L, m->cap[i].at, (size_t)m->cap[i].len);
}

/* Pushes every capture (s NULL: none for a match without captures, as find wants); returns how
 * many. */
static int push_captures(struct matcher *m, const char *s, const char *e) {
  int n = m->n_cap == 0 && s ? 1 : m->n_cap;
  luaL_checkstack(m->L, n, "too many captures");
  for (int i = 0; i < n; i++)
    push_capture(m, i, s, e);
  return n;
}

/* A 1-based start position as the string functions take it, as a 0-based offset (may be
 * len + 1 or more: past the end). */
static size_t start_offset(lua_Integer pos, size_t len) {
  if (pos > 0)
    return (size_t)pos - 1;
  if (pos == 0 || pos < -(lua_Integer)len)
    return 0;
  return len + (size_t)pos;
}

static int has_specials(const char *p, size_t lp) {
  for (size_t i = 0; i < lp; i++)
    if (p[i] && strchr("^$*+?.([%-", p[i]))
      return 1;
  return 0;
}

/* ---- the functions ------------------------------------------------------------------------- */

static int find_or_match(lua_State *L, int find) {
  size_t ls, lp;
  const char *s = luaL_checklstring(L, 1, &ls);
  const char *p = luaL_checklstring(L, 2, &lp);
  size_t init = start_offset(luaL_optinteger(L, 3, 1), ls);
  if (init > ls) {
    lua_pushnil(L);
    return 1;
  }
  struct matcher m;
  init_matcher(&m, L, find ? "string.find" : "string.match", s, ls, p, lp);
  if (find && (lua_toboolean(L, 4) || !has_specials(p, lp))) {
    /* a plain search: glibc's memmem is linear in the lengths */
    step(&m, (ls - init) / 16 + 1);
    const char *r = memmem(s + init, ls - init, p, lp);
    charge(&m);
    if (!r) {
      lua_pushnil(L);
      return 1;
    }
    lua_pushinteger(L, (lua_Integer)(r - s) + 1);
    lua_pushinteger(L, (lua_Integer)(r - s + (ptrdiff_t)lp));
    return 2;
  }
  int anchored = lp > 0 && *p == '^';
  if (anchored)
    p++;
  for (const char *at = s + init;; at++) {
    reset(&m);
    const char *e = match(&m, at, p);
    if (e) {
      charge(&m);
      if (!find)
        return push_captures(&m, at, e);
      lua_pushinteger(L, (lua_Integer)(at - s) + 1);
      lua_pushinteger(L, (lua_Integer)(e - s));
      return push_captures(&m, NULL, NULL) + 2;
    }
    if (anchored || at == m.se)
      break;
  }
  charge(&m);
  lua_pushnil(L);
  return 1;
}

static int l_find(lua_State *L) {
  return find_or_match(L, 1);
}

static int l_match(lua_State *L) {
  return find_or_match(L, 0);
}

/* gmatch's state between calls: offsets into the subject (upvalue 1); the pattern is upvalue 2. */
struct gmatch_state {
  size_t next;     /* where the next search starts */
  size_t last_end; /* end of the last match; SIZE_MAX: none yet */
};

static int gmatch_next(lua_State *L) {
  size_t ls, lp;
  const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
  const char *p = lua_tolstring(L, lua_upvalueindex(2), &lp);
  struct gmatch_state *g = lua_touserdata(L, lua_upvalueindex(3));
  if (g->next > ls)
    return 0;
  struct matcher m;
  init_matcher(&m, L, "string.gmatch", s, ls, p, lp);
  for (const char *at = s + g->next;; at++) {
    reset(&m);
    const char *e = match(&m, at, p);
    if (e && (size_t)(e - s) != g->last_end) {
      g->next = g->last_end = (size_t)(e - s);
      charge(&m);
      return push_captures(&m, at, e);
    }
    if (at == m.se)
      break;
  }
  g->next = ls + 1;
  charge(&m);
  return 0;
}

static int l_gmatch(lua_State *L) {
  size_t ls;
  luaL_checklstring(L, 1, &ls);
  luaL_checkstring(L, 2);
  size_t init = start_offset(luaL_optinteger(L, 3, 1), ls);
  lua_settop(L, 2);
  struct gmatch_state *g = lua_newuserdatauv(L, sizeof *g, 0);
  g->next = init > ls ? ls + 1 : init;
  g->last_end = SIZE_MAX;
  lua_pushcclosure(L, gmatch_next, 3);
  return 1;
}

/* Appends the replacement string (argument 3) for the match s..e: '%0' is the match, '%1'..'%9'
 * its captures, '%%' a '%'. */
static void add_string(struct matcher *m, luaL_Buffer *b, const char *s, const char *e) {
  size_t l;
  const char *r = lua_tolstring(m->L, 3, &l);
  for (size_t i = 0; i < l; i++) {
    if (r[i] != '%') {
      luaL_addchar(b, r[i]);
      continue;
    }
    i++;
    if (i < l && r[i] == '%') {
      luaL_addchar(b, '%');
    } else if (i < l && r[i] == '0') {
      luaL_addlstring(b, s, (size_t)(e - s));
    } else if (i < l && isdigit((unsigned char)r[i])) {
      push_capture(m, r[i] - '1', s, e);
      luaL_tolstring(m->L, -1, NULL);
      lua_remove(m->L, -2);
      luaL_addvalue(b);
    } else {
      luaL_error(m->L, "invalid use of '%%' in replacement string");
    }
  }
}

/* Appends the replacement of the match s..e; 1 when it changed the text. */
static int add_value(struct matcher *m, luaL_Buffer *b, const char *s, const char *e, int type) {
  lua_State *L = m->L;
  if (type == LUA_TFUNCTION) {
    charge(m); /* the function's own instructions count from here */
    lua_pushvalue(L, 3);
    int n = push_captures(m, s, e);
    lua_call(L, n, 1);
    m->left = scn_work_left(L);
  } else if (type == LUA_TTABLE) {
    charge(m);
    push_capture(m, 0, s, e);
    lua_gettable(L, 3);
    m->left = scn_work_left(L);
  } else {
    add_string(m, b, s, e);
    return 1;
  }
  if (!lua_toboolean(L, -1)) {
    lua_pop(L, 1);
    luaL_addlstring(b, s, (size_t)(e - s)); /* false or nil: the match stays */
    return 0;
  }
  if (!lua_isstring(L, -1))
    return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
  luaL_addvalue(b);
  return 1;
}

static int l_gsub(lua_State *L) {
  size_t ls, lp;
  const char *s = luaL_checklstring(L, 1, &ls);
  const char *p = luaL_checklstring(L, 2, &lp);
  int type = lua_type(L, 3);
  lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
  luaL_argexpected(
      L, type == LUA_TNUMBER || type == LUA_TSTRING || type == LUA_TFUNCTION || type == LUA_TTABLE,
      3, "string/function/table");
  struct matcher m;
  init_matcher(&m, L, "string.gsub", s, ls, p, lp);
  int anchored = lp > 0 && *p == '^';
  if (anchored)
    p++;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  const char *at = s, *last_end = NULL;
  lua_Integer n = 0;
  int changed = 0;
  while (n < max) {
    reset(&m);
    const char *e = match(&m, at, p);
    if (e && e != last_end) {
      n++;
      changed |= add_value(&m, &b, at, e, type);
      at = last_end = e;
    } else if (at < m.se) {
      luaL_addchar(&b, *at++);
    } else {
      break;
    }
    if (anchored)
      break;
  }
  charge(&m);
  if (!changed) {
    lua_pushvalue(L, 1);
  } else {
    luaL_addlstring(&b, at, (size_t)(m.se - at));
    luaL_pushresult(&b);
  }
  lua_pushinteger(L, n);
  return 2;
}

void scn_pattern_open(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"find", l_find}, {"match", l_match}, {"gmatch", l_gmatch}, {"gsub", l_gsub}, {NULL, NULL}};
  luaL_setfuncs(L, fns, 0);
}
