/* Automations of the reference platform: rules and daily timers, as an app defines them.
 *
 * Rules are looked up by the reporting device: a hash table keyed by EUI-64 leads to each
 * device's rules, so a Report costs one lookup and a walk over that device's rules whatever the
 * number of rules (a scenario may define one per hub of a large fleet). The rules also sit in
 * an array in id order, for listing.
 *
 * Timers keep their next occurrence as Unix ms by the server's wall clock (virtual time on a
 * virtual clock). One server timer (PLAT_T_AUTO) is armed at the earliest of them; when it
 * fires, every timer whose time has come runs once and moves to its next occurrence strictly
 * in the future. A wheel timer on a virtual clock lands exactly on the due millisecond, so a
 * virtual run fires at the same virtual instant every time. On a real clock libuv's monotonic
 * timer may wake a little before the wall clock reaches the time (then it re-arms for the
 * remainder), and the wait is capped so that a stepped system clock is noticed within a minute.
 *
 * Commands go through plat_server_command: same ids, tracking, timeouts and counters as an
 * app's. Nothing here is persisted: automations are defined by the run that uses them.
 *
 * Loops: a rule whose command makes a device report what triggers the rule again fires for
 * ever. Where that is plain from the rules alone (a command in cluster C to device B is taken
 * to make B report cluster C, and every rule on the way back has no condition), rule_add
 * refuses it; a loop through conditions may or may not happen, so such a rule is kept with a
 * warning. Whatever slips through is cut at run time: each rule fires at most rule_rate times
 * a second on average (a token bucket of twice that), and the matches beyond are counted. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/automation.h"
#include "platform/platform.h"
#include "platform/server_internal.h"
#include "sim/core/err.h"
#include "sim/core/hex.h"
#include "sim/core/htab.h"
#include "sim/core/log.h"

#define DAY_MS 86400000ull
#define PAYLOAD_MAX 1024u
/* Longest wait of the real-clock timer before it looks at the wall clock again. */
#define REAL_ARM_CAP_MS 60000u
/* A change of (wall - loop) time above this is a clock jump, not jitter of the loop's cached
 * time against gettimeofday. */
#define CLOCK_JUMP_MS 2000
/* The loop check at rule_add visits at most this many rules: the work of one admin line stays
 * bounded however many rules exist. */
#define LOOP_SEARCH_MAX 10000u

struct auto_action {
  char hub_id[SIM_HUBRPC_HUB_ID_MAX + 1];
  uint64_t eui64;
  uint16_t cluster, mfr_code;
  uint8_t endpoint, command, global;
  uint8_t *payload; /* owned; NULL when len == 0 */
  size_t len;
};

struct auto_rule {
  uint64_t id;
  struct auto_rule *hnext; /* the next rule triggered by the same device, in id order */
  uint64_t when;
  uint16_t cluster, attr;
  uint8_t op; /* enum plat_rule_op */
  double value;
  struct auto_action then;
  uint64_t fired, sent, offline, limited;
  double tokens;     /* firings it may make now (rate limit) */
  uint64_t stamp_ms; /* loop time tokens was computed at; 0: not yet */
  uint32_t mark;     /* loop check: visited in search number mark */
  uint8_t warned;    /* its rate limit was logged */
};

struct auto_timer {
  uint64_t id;
  uint8_t hour, minute;
  uint64_t next_ms; /* next occurrence, Unix ms; 0 until computed (at the server's start) */
  struct auto_action then;
  uint64_t fired, sent, offline;
};

struct plat_auto {
  struct auto_rule **rules; /* id order */
  size_t nrules, rules_cap;
  struct sim_htab by_when;    /* when-EUI-64 -> its first rule (the others follow by hnext) */
  struct auto_timer **timers; /* id order */
  size_t ntimers, timers_cap;
  uint64_t last_rule_id, last_timer_id;
  int64_t wall_offset; /* wall - loop ms when the timers' times were last computed */
  uint32_t search;     /* number of the last loop check (auto_rule.mark) */
  struct sim_log_limit log_limited;
};

/* ---------------------------------------------------------------- helpers */

static struct plat_auto *auto_get(struct plat_server *srv) {
  if (!srv->autom)
    srv->autom = calloc(1, sizeof(*srv->autom));
  return srv->autom;
}

/* Checks and copies an action. 0, SIM_EINVAL (why names the field) or SIM_ENOMEM. */
static int action_copy(struct auto_action *dst, const struct plat_action *src, const char *what,
                       char *why, size_t cap) {
  const char *bad = !src->hub_id || !plat__valid_hub_id(src->hub_id)        ? "hub_id"
                    : src->endpoint > 0xFF                                  ? "endpoint"
                    : src->cluster > 0xFFFF                                 ? "cluster"
                    : src->command > 0xFF                                   ? "command"
                    : src->mfr_code > 0xFFFF                                ? "mfr_code"
                    : src->len > PAYLOAD_MAX || (src->len && !src->payload) ? "payload"
                                                                            : NULL;
  if (bad) {
    snprintf(why, cap, "%s: bad action %s", what, bad);
    return SIM_EINVAL;
  }
  memset(dst, 0, sizeof(*dst));
  snprintf(dst->hub_id, sizeof(dst->hub_id), "%s", src->hub_id);
  dst->eui64 = src->eui64;
  dst->endpoint = (uint8_t)src->endpoint;
  dst->cluster = (uint16_t)src->cluster;
  dst->command = (uint8_t)src->command;
  dst->global = src->global ? 1 : 0;
  dst->mfr_code = (uint16_t)src->mfr_code;
  if (src->len) {
    dst->payload = malloc(src->len);
    if (!dst->payload)
      return SIM_ENOMEM;
    memcpy(dst->payload, src->payload, src->len);
    dst->len = src->len;
  }
  return 0;
}

/* Sends the action's command. 1: sent, 0: the target hub is offline, -1: another failure. */
static int action_run(struct plat_server *srv, const struct auto_action *a) {
  int rc = plat_server_command(srv, a->hub_id, a->eui64, a->endpoint, a->cluster, a->command,
                               a->payload, a->len, a->global, a->mfr_code, NULL);
  if (rc == 0)
    return 1;
  /* SIM_ECLOSED: the send failed, so the session is closing; for the rule it is offline too. */
  if (rc == SIM_ENOTFOUND || rc == SIM_ECLOSED)
    return 0;
  SIM_LOGW("platform: automation command to %016llx failed: %s", (unsigned long long)a->eui64,
           sim_strerror(rc));
  return -1;
}

/* Makes room for one more pointer in arr (a typed pointer array): 0 or SIM_ENOMEM in rc. */
#define GROW_ONE(arr, n, cap, rc)                                                                  \
  do {                                                                                             \
    if ((n) == (cap)) {                                                                            \
      size_t ncap_ = (cap) ? (cap)*2 : 16;                                                         \
      void *p_ = realloc((arr), ncap_ * sizeof(*(arr)));                                           \
      if (!p_) {                                                                                   \
        (rc) = SIM_ENOMEM;                                                                         \
      } else {                                                                                     \
        (arr) = p_;                                                                                \
        (cap) = ncap_;                                                                             \
      }                                                                                            \
    }                                                                                              \
  } while (0)

/* ---------------------------------------------------------------- rules */

/* Looks for a chain of rules from the node (eui, cluster) back to (to_eui, to_cluster), where
 * a rule leads from its trigger (when, cluster) to its command's (then.eui64, then.cluster);
 * only_any: through rules without a condition only. Breadth first, iterative, at most
 * LOOP_SEARCH_MAX rules. On 1 (found) path holds the rule ids, "3 -> 5" ("" when the node is
 * the target itself); 0: none; -1: gave up (too many rules to look at). */
static int find_chain(struct plat_auto *a, uint64_t eui, uint16_t cluster, uint64_t to_eui,
                      uint16_t to_cluster, int only_any, char *path, size_t cap) {
  path[0] = 0;
  if (eui == to_eui && cluster == to_cluster)
    return 1;
  if (!a->nrules)
    return 0;
  size_t qcap = a->nrules < LOOP_SEARCH_MAX ? a->nrules : LOOP_SEARCH_MAX;
  struct step {
    struct auto_rule *r;
    size_t parent; /* index in q, SIZE_MAX for the first step */
  } *q = malloc(qcap * sizeof(*q));
  if (!q)
    return -1;
  uint32_t mark = ++a->search;
  size_t head = 0, tail = 0, parent = SIZE_MAX;
  int found = 0;
  for (;;) {
    /* Every rule triggered by the node (eui, cluster), among the device's rules. */
    struct auto_rule *r = sim_htab_get(&a->by_when, eui);
    for (; r && found == 0; r = r->hnext) {
      if (r->when != eui || r->cluster != cluster || r->mark == mark ||
          (only_any && r->op != PLAT_RULE_ANY))
        continue;
      if (tail == qcap) {
        found = -1;
        break;
      }
      r->mark = mark;
      q[tail++] = (struct step){r, parent};
      if (r->then.eui64 == to_eui && r->then.cluster == to_cluster)
        found = 1;
    }
    if (found || head == tail)
      break;
    parent = head;
    eui = q[head].r->then.eui64;
    cluster = q[head].r->then.cluster;
    head++;
  }
  if (found == 1) {
    /* Walk back from the last step to the first, then print in order. */
    size_t ids[64], n = 0;
    for (size_t i = tail - 1; i != SIZE_MAX && n < 64; i = q[i].parent)
      ids[n++] = (size_t)q[i].r->id;
    size_t o = 0;
    for (size_t k = n; k-- > 0 && o + 24 < cap;)
      o += (size_t)snprintf(path + o, cap - o, "%s%zu", k + 1 == n ? "" : " -> ", ids[k]);
  }
  free(q);
  return found;
}

int plat__rule_add(struct plat_server *srv, const struct plat_rule *r, uint64_t *id, char *why,
                   size_t cap) {
  why[0] = 0;
  if (!srv || !r)
    return SIM_EINVAL;
  const char *bad = r->cluster > 0xFFFF                             ? "cluster"
                    : r->attr > 0xFFFF                              ? "attr"
                    : r->op > PLAT_RULE_GT                          ? "op"
                    : r->op != PLAT_RULE_ANY && !isfinite(r->value) ? "value"
                                                                    : NULL;
  if (bad) {
    snprintf(why, cap, "rule: bad %s", bad);
    return SIM_EINVAL;
  }
  struct plat_auto *a = auto_get(srv);
  if (!a)
    return SIM_ENOMEM;
  if (a->nrules >= srv->cfg.max_rules) {
    snprintf(why, cap, "too many rules: at most %u (--max-rules)", srv->cfg.max_rules);
    return SIM_EFULL;
  }
  struct auto_rule *ru = calloc(1, sizeof(*ru));
  if (!ru)
    return SIM_ENOMEM;
  int rc = action_copy(&ru->then, &r->then, "rule", why, cap);
  if (!rc)
    GROW_ONE(a->rules, a->nrules, a->rules_cap, rc);
  if (!rc)
    rc = sim_htab_reserve(&a->by_when, a->nrules + 1); /* the put below cannot fail */
  if (rc) {
    free(ru->then.payload);
    free(ru);
    return rc;
  }
  /* From what the new rule's command makes report, back to what triggers it. */
  char path[192];
  uint16_t then_cl = (uint16_t)r->then.cluster, when_cl = (uint16_t)r->cluster;
  int loop = r->op == PLAT_RULE_ANY ? find_chain(a, r->then.eui64, then_cl, r->when_eui64, when_cl,
                                                 1, path, sizeof path)
                                    : 0;
  if (loop == 1) {
    snprintf(why, cap,
             "rule loop: its command to %016llx (cluster %04x) can make that device report "
             "what triggers this rule again%s%s, with no condition on the way; give a rule a "
             "condition (=N, <N, >N) or drop the loop",
             (unsigned long long)r->then.eui64, then_cl, path[0] ? ", through rules " : "", path);
    free(ru->then.payload);
    free(ru);
    return SIM_EINVAL;
  }
  loop = find_chain(a, r->then.eui64, then_cl, r->when_eui64, when_cl, 0, path, sizeof path);
  if (loop == 1)
    snprintf(why, cap,
             "may loop: its command can lead back to its own trigger%s%s when the conditions "
             "hold; such a loop is cut at %g firings a second per rule",
             path[0] ? " through rules " : "", path, srv->cfg.rule_rate);
  ru->id = ++a->last_rule_id;
  ru->when = r->when_eui64;
  ru->cluster = (uint16_t)r->cluster;
  ru->attr = (uint16_t)r->attr;
  ru->op = (uint8_t)r->op;
  ru->value = r->op == PLAT_RULE_ANY ? 0 : r->value;
  a->rules[a->nrules++] = ru;
  /* Appended at the end of the device's rules: they fire in id order. */
  struct auto_rule *last = sim_htab_get(&a->by_when, ru->when);
  if (!last) {
    (void)sim_htab_put(&a->by_when, ru->when, ru); /* reserved above: cannot fail */
  } else {
    while (last->hnext)
      last = last->hnext;
    last->hnext = ru;
  }
  if (id)
    *id = ru->id;
  return 0;
}

int plat_server_rule_add(struct plat_server *srv, const struct plat_rule *r, uint64_t *id) {
  char why[256];
  int rc = plat__rule_add(srv, r, id, why, sizeof why);
  if (rc && why[0])
    SIM_LOGE("platform: %s", why);
  else if (!rc && why[0])
    SIM_LOGW("platform: rule %llu %s", (unsigned long long)(id ? *id : 0), why);
  return rc;
}

int plat_server_rule_remove(struct plat_server *srv, uint64_t id) {
  struct plat_auto *a = srv->autom;
  if (!a)
    return SIM_ENOTFOUND;
  for (size_t i = 0; i < a->nrules; i++) {
    struct auto_rule *ru = a->rules[i];
    if (ru->id != id)
      continue;
    struct auto_rule *first = sim_htab_get(&a->by_when, ru->when);
    if (first != ru) {
      while (first->hnext != ru)
        first = first->hnext;
      first->hnext = ru->hnext;
    } else if (ru->hnext) {
      (void)sim_htab_put(&a->by_when, ru->when, ru->hnext); /* a replacement cannot fail */
    } else {
      sim_htab_del(&a->by_when, ru->when);
    }
    memmove(&a->rules[i], &a->rules[i + 1], (a->nrules - i - 1) * sizeof(*a->rules));
    a->nrules--;
    free(ru->then.payload);
    free(ru);
    return 0;
  }
  return SIM_ENOTFOUND;
}

/* The attribute's value compared with the rule's. Integers compare exactly against an integral
 * rule value (no rounding through double); otherwise as doubles. */
static int value_matches(const struct auto_rule *ru, const Hubrpc__V1__Attribute *at) {
  if (ru->op == PLAT_RULE_ANY)
    return 1;
  double v = ru->value, x;
  /* 2^63: the first double out of int64 range. */
  int integral =
      v >= -9223372036854775808.0 && v < 9223372036854775808.0 && v == (double)(int64_t)v;
  switch (at->value_case) {
  case HUBRPC__V1__ATTRIBUTE__VALUE_INT_VALUE:
    if (ru->op == PLAT_RULE_EQ)
      return integral && at->int_value == (int64_t)v;
    x = (double)at->int_value;
    break;
  case HUBRPC__V1__ATTRIBUTE__VALUE_UINT_VALUE:
    if (ru->op == PLAT_RULE_EQ)
      return integral && v >= 0 && at->uint_value == (uint64_t)(int64_t)v;
    x = (double)at->uint_value;
    break;
  case HUBRPC__V1__ATTRIBUTE__VALUE_FLOAT_VALUE:
    x = at->float_value;
    break;
  case HUBRPC__V1__ATTRIBUTE__VALUE_BOOL_VALUE:
    x = at->bool_value ? 1.0 : 0.0;
    break;
  default:
    return 0; /* strings, bytes, no value: not numeric */
  }
  return ru->op == PLAT_RULE_EQ ? x == v : ru->op == PLAT_RULE_LT ? x < v : x > v;
}

/* Takes one firing from the rule's token bucket: 1 when it may fire now. The bucket holds
 * twice the rate (at least one) and refills at the rate, on the server's loop clock (virtual
 * time on a virtual clock, so a virtual run stays repeatable). */
static int rule_take(struct plat_server *srv, struct auto_rule *ru) {
  double rate = srv->cfg.rule_rate, burst = rate * 2 < 1 ? 1 : rate * 2;
  uint64_t now = plat__mono_ms(srv);
  if (!ru->stamp_ms) {
    ru->tokens = burst;
  } else if (now > ru->stamp_ms) {
    ru->tokens += (double)(now - ru->stamp_ms) * rate / 1000.0;
    if (ru->tokens > burst)
      ru->tokens = burst;
  }
  ru->stamp_ms = now ? now : 1;
  if (ru->tokens < 1)
    return 0;
  ru->tokens -= 1;
  return 1;
}

void plat__auto_report(struct plat_server *srv, const Hubrpc__V1__Report *r) {
  struct plat_auto *a = srv->autom;
  if (!a || !a->nrules)
    return;
  struct auto_rule *ru = sim_htab_get(&a->by_when, r->device);
  for (; ru; ru = ru->hnext) {
    if (ru->when != r->device || ru->cluster != r->cluster)
      continue;
    size_t i = 0;
    for (; i < r->n_attributes; i++)
      if (r->attributes[i]->id == ru->attr && value_matches(ru, r->attributes[i]))
        break;
    if (i == r->n_attributes)
      continue;
    if (!rule_take(srv, ru)) {
      ru->limited++;
      srv->c.rules_limited++;
      sim_log_limited(&a->log_limited, 10000, SIM_LOG_WARN,
                      "platform: rule %llu matches more than %g times a second (a loop?): "
                      "matches beyond that are dropped and counted (rules_limited)",
                      (unsigned long long)ru->id, srv->cfg.rule_rate);
      continue;
    }
    ru->fired++;
    srv->c.rules_fired++;
    int sent = action_run(srv, &ru->then);
    if (sent == 1) {
      ru->sent++;
      srv->c.rule_commands++;
    } else if (sent == 0) {
      ru->offline++;
      srv->c.rule_target_offline++;
    }
  }
}

/* ---------------------------------------------------------------- timers */

/* The first occurrence of hour:minute UTC strictly after now_ms. */
static uint64_t next_occurrence(uint64_t now_ms, unsigned hour, unsigned minute) {
  uint64_t at = now_ms / DAY_MS * DAY_MS + ((uint64_t)hour * 60u + minute) * 60000u;
  return at > now_ms ? at : at + DAY_MS;
}

void plat__auto_arm(struct plat_server *srv, int recompute) {
  struct plat_auto *a = srv->autom;
  if (!a || !plat__timers_live(srv))
    return;
  uint64_t now = plat__wall_ms(srv);
  if (recompute) {
    a->wall_offset = (int64_t)(now - plat__mono_ms(srv));
    for (size_t i = 0; i < a->ntimers; i++)
      a->timers[i]->next_ms = next_occurrence(now, a->timers[i]->hour, a->timers[i]->minute);
  }
  uint64_t next = UINT64_MAX;
  for (size_t i = 0; i < a->ntimers; i++)
    if (a->timers[i]->next_ms < next)
      next = a->timers[i]->next_ms;
  if (next == UINT64_MAX) {
    plat__timer_stop(srv, PLAT_T_AUTO);
    return;
  }
  plat__timer_start_wall(srv, PLAT_T_AUTO, next, REAL_ARM_CAP_MS);
}

void plat__auto_check_clock(struct plat_server *srv) {
  struct plat_auto *a = srv->autom;
  if (!a || !a->ntimers || !plat__timers_live(srv))
    return;
  int64_t off = (int64_t)(plat__wall_ms(srv) - plat__mono_ms(srv));
  int64_t d = off - a->wall_offset;
  if (d > CLOCK_JUMP_MS || d < -CLOCK_JUMP_MS) {
    /* Expected once on a virtual clock (the driver sets the wall-clock origin when the server's
     * scheduler is registered); worth telling on a real one (the system clock was stepped). */
    if (srv->is_virtual)
      SIM_LOGD("platform: virtual wall clock origin moved by %lld ms: timers rescheduled",
               (long long)d);
    else
      SIM_LOGI("platform: wall clock moved by %lld ms: timers rescheduled", (long long)d);
    plat__auto_arm(srv, 1);
  }
}

void plat__auto_timer_cb(struct plat_server *srv) {
  struct plat_auto *a = srv->autom;
  if (!a)
    return;
  uint64_t now = plat__wall_ms(srv);
  for (size_t i = 0; i < a->ntimers; i++) {
    struct auto_timer *t = a->timers[i];
    if (!t->next_ms || t->next_ms > now)
      continue;
    /* Strictly after now: once per day even when the clock jumped over several days. */
    t->next_ms = next_occurrence(now, t->hour, t->minute);
    t->fired++;
    srv->c.timers_fired++;
    int sent = action_run(srv, &t->then);
    if (sent == 1) {
      t->sent++;
      srv->c.timer_commands++;
    } else if (sent == 0) {
      t->offline++;
      srv->c.timer_target_offline++;
    }
  }
  plat__auto_arm(srv, 0);
}

int plat__timer_add(struct plat_server *srv, const struct plat_timer *t, uint64_t *id, char *why,
                    size_t cap) {
  why[0] = 0;
  if (!srv || !t)
    return SIM_EINVAL;
  if (t->hour > 23 || t->minute > 59) {
    snprintf(why, cap, "timer: bad time %u:%u (00:00..23:59)", t->hour, t->minute);
    return SIM_EINVAL;
  }
  struct plat_auto *a = auto_get(srv);
  if (!a)
    return SIM_ENOMEM;
  if (a->ntimers >= srv->cfg.max_timers) {
    snprintf(why, cap, "too many timers: at most %u (--max-timers)", srv->cfg.max_timers);
    return SIM_EFULL;
  }
  plat__auto_check_clock(srv); /* times computed now must agree with the existing ones */
  struct auto_timer *ti = calloc(1, sizeof(*ti));
  if (!ti)
    return SIM_ENOMEM;
  int rc = action_copy(&ti->then, &t->then, "timer", why, cap);
  if (!rc)
    GROW_ONE(a->timers, a->ntimers, a->timers_cap, rc);
  if (rc) {
    free(ti->then.payload);
    free(ti);
    return rc;
  }
  ti->id = ++a->last_timer_id;
  ti->hour = (uint8_t)t->hour;
  ti->minute = (uint8_t)t->minute;
  a->timers[a->ntimers++] = ti;
  if (plat__timers_live(srv)) {
    if (a->ntimers == 1)
      a->wall_offset = (int64_t)(plat__wall_ms(srv) - plat__mono_ms(srv));
    ti->next_ms = next_occurrence(plat__wall_ms(srv), ti->hour, ti->minute);
    plat__auto_arm(srv, 0);
  }
  if (id)
    *id = ti->id;
  return 0;
}

int plat_server_timer_add(struct plat_server *srv, const struct plat_timer *t, uint64_t *id) {
  char why[256];
  int rc = plat__timer_add(srv, t, id, why, sizeof why);
  if (rc && why[0])
    SIM_LOGE("platform: %s", why);
  return rc;
}

int plat_server_timer_remove(struct plat_server *srv, uint64_t id) {
  struct plat_auto *a = srv->autom;
  if (!a)
    return SIM_ENOTFOUND;
  for (size_t i = 0; i < a->ntimers; i++) {
    struct auto_timer *t = a->timers[i];
    if (t->id != id)
      continue;
    memmove(&a->timers[i], &a->timers[i + 1], (a->ntimers - i - 1) * sizeof(*a->timers));
    a->ntimers--;
    free(t->then.payload);
    free(t);
    plat__auto_arm(srv, 0);
    return 0;
  }
  return SIM_ENOTFOUND;
}

/* ---------------------------------------------------------------- listing, freeing */

static json_t *eui_json(uint64_t eui) {
  char b[17];
  snprintf(b, sizeof(b), "%016llx", (unsigned long long)eui);
  return json_string(b);
}

static json_t *action_json(const struct auto_action *a) {
  char hex[2 * PAYLOAD_MAX + 1];
  sim_hex_encode(hex, a->payload, a->len, 0);
  json_t *o = json_object();
  if (!o)
    return NULL;
  json_object_set_new(o, "hub_id", json_string(a->hub_id));
  json_object_set_new(o, "eui64", eui_json(a->eui64));
  json_object_set_new(o, "endpoint", json_integer(a->endpoint));
  json_object_set_new(o, "cluster", json_integer(a->cluster));
  json_object_set_new(o, "command", json_integer(a->command));
  json_object_set_new(o, "payload", json_string(hex));
  if (a->global)
    json_object_set_new(o, "global", json_true());
  if (a->mfr_code)
    json_object_set_new(o, "mfr_code", json_integer(a->mfr_code));
  return o;
}

static void add_counts(json_t *o, uint64_t fired, uint64_t sent, uint64_t offline) {
  json_object_set_new(o, "fired", json_integer((json_int_t)fired));
  json_object_set_new(o, "sent", json_integer((json_int_t)sent));
  json_object_set_new(o, "offline", json_integer((json_int_t)offline));
}

static char *dump(json_t *o) {
  char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  return s;
}

char *plat_server_rules_json(struct plat_server *srv) {
  static const char *ops[] = {"*", "=", "<", ">"};
  struct plat_auto *a = srv->autom;
  json_t *arr = json_array();
  for (size_t i = 0; a && arr && i < a->nrules; i++) {
    const struct auto_rule *ru = a->rules[i];
    json_t *when = json_object(), *o = json_object();
    if (!when || !o) {
      json_decref(when);
      json_decref(o);
      json_decref(arr);
      return NULL;
    }
    json_object_set_new(when, "eui64", eui_json(ru->when));
    json_object_set_new(when, "cluster", json_integer(ru->cluster));
    json_object_set_new(when, "attr", json_integer(ru->attr));
    json_object_set_new(when, "op", json_string(ops[ru->op]));
    if (ru->op != PLAT_RULE_ANY)
      json_object_set_new(when, "value", json_real(ru->value));
    json_object_set_new(o, "id", json_integer((json_int_t)ru->id));
    json_object_set_new(o, "when", when);
    json_object_set_new(o, "then", action_json(&ru->then));
    add_counts(o, ru->fired, ru->sent, ru->offline);
    json_object_set_new(o, "limited", json_integer((json_int_t)ru->limited));
    json_array_append_new(arr, o);
  }
  return arr ? dump(json_pack("{s:o}", "rules", arr)) : NULL;
}

char *plat_server_timers_json(struct plat_server *srv) {
  struct plat_auto *a = srv->autom;
  plat__auto_check_clock(srv); /* next_ms as the wall clock reads now */
  json_t *arr = json_array();
  for (size_t i = 0; a && arr && i < a->ntimers; i++) {
    const struct auto_timer *t = a->timers[i];
    char at[8];
    snprintf(at, sizeof(at), "%02u:%02u", t->hour, t->minute);
    json_t *o = json_object();
    if (!o) {
      json_decref(arr);
      return NULL;
    }
    json_object_set_new(o, "id", json_integer((json_int_t)t->id));
    json_object_set_new(o, "at", json_string(at));
    json_object_set_new(o, "then", action_json(&t->then));
    json_object_set_new(o, "next_ms", json_integer((json_int_t)t->next_ms));
    add_counts(o, t->fired, t->sent, t->offline);
    json_array_append_new(arr, o);
  }
  return arr ? dump(json_pack("{s:o}", "timers", arr)) : NULL;
}

void plat__auto_free(struct plat_auto *a) {
  if (!a)
    return;
  for (size_t i = 0; i < a->nrules; i++) {
    free(a->rules[i]->then.payload);
    free(a->rules[i]);
  }
  for (size_t i = 0; i < a->ntimers; i++) {
    free(a->timers[i]->then.payload);
    free(a->timers[i]);
  }
  free(a->rules);
  sim_htab_fini(&a->by_when);
  free(a->timers);
  free(a);
}
