/* The admin line protocol: one request per line, one JSON reply line. Served over plain TCP
 * with libuv directly (not through struct sim_transport, which may be the in-memory one for
 * hubs), and callable in process through plat_server_admin(). Input is untrusted: every
 * malformed line gets {"error":...}, an overlong line closes the client.
 *
 * The bytes of a conversation go through plat__admin_feed, which knows nothing of sockets (the
 * fuzzer feeds it directly): line splitting, the line limit and the token check live there.
 * The tcp side adds what only sockets have: a cap on clients, their idle time, and a cap on
 * replies queued for a client that does not read. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/automation.h"
#include "platform/platform.h"
#include "platform/server_internal.h"
#include "platform/store.h"
#include "sim/core/dur.h"
#include "sim/core/err.h"
#include "sim/core/hex.h"
#include "sim/core/log.h"
#include "sim/wire/auth.h"

#define ADMIN_LINE_MAX 4096u
/* Replies waiting for a client that does not read: past this, it is closed. */
#define ADMIN_WQ_MAX (1u << 20)

struct plat_admin_client {
  uv_tcp_t tcp;
  struct plat_admin_client *prev, *next;
  struct plat_server *srv;
  struct plat_admin_conv conv;
  uint64_t last_ms; /* loop time of the accept or of the last complete line */
  int closing;
};

struct plat_admin {
  uv_tcp_t tcp;
  struct plat_admin_client *clients;
  unsigned nclients;
  uint16_t port;
};

/* ---------------------------------------------------------------- JSON */

static const char *error_name(int code) {
  const ProtobufCEnumValue *v =
      protobuf_c_enum_descriptor_get_value(&hubrpc__v1__error_code__descriptor, code);
  if (!v)
    return "UNKNOWN";
  return strncmp(v->name, "ERROR_", 6) == 0 ? v->name + 6 : v->name;
}

static json_t *errors_json(const uint64_t *v) {
  json_t *o = json_object();
  for (int i = 0; i < PLAT_ERROR_CODES; i++)
    if (v[i])
      json_object_set_new(o, error_name(i), json_integer((json_int_t)v[i]));
  return o;
}

char *plat_counters_json(const struct plat_counters *c) {
  json_t *o = json_object();
  if (!o)
    return NULL;
#define F(name) json_object_set_new(o, #name, json_integer((json_int_t)c->name))
  F(sessions_accepted);
  F(sessions_open);
  F(sessions_closed);
  F(auth_ok);
  F(auth_failed);
  F(handshake_timeouts);
  F(idle_timeouts);
  F(duplicate_sessions);
  F(sessions_cert_bound);
  F(cert_refused);
  F(auth_cert_only);
  F(frames_in);
  F(frames_out);
  F(bytes_in);
  F(bytes_out);
  F(reports_new);
  F(reports_committed);
  F(reports_duplicate);
  F(seq_duplicate);
  F(joined);
  F(left);
  F(rows_committed);
  F(commits);
  F(commit_failures);
  F(acks_sent);
  F(heartbeats);
  F(commands_sent);
  F(commands_ok);
  F(commands_failed);
  F(commands_timed_out);
  F(command_results_unknown);
  F(command_results_late);
  F(hubs_known);
  F(rules_fired);
  F(rule_commands);
  F(rule_target_offline);
  F(rules_limited);
  F(timers_fired);
  F(timer_commands);
  F(timer_target_offline);
  F(conns_refused);
  F(handshakes_evicted);
  F(sendq_overflows);
  F(boot_returns);
  F(store_failures);
  F(sessions_paused);
  F(admin_refused);
  F(admin_idle_closed);
  F(admin_auth_failed);
#undef F
  static const char *const store_states[] = {"ok", "failing", "lost"};
  json_object_set_new(o, "store",
                      json_string(c->store_state < 3 ? store_states[c->store_state] : "?"));
  json_object_set_new(o, "errors_sent", errors_json(c->errors_sent));
  json_object_set_new(o, "errors_received", errors_json(c->errors_received));
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return s;
}

static char *reply_error(const char *fmt, const char *arg) {
  char msg[256];
  snprintf(msg, sizeof(msg), fmt, arg ? arg : "");
  /* Echoed input may be anything; JSON strings must be valid UTF-8, so keep printable ASCII. */
  for (char *p = msg; *p; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
      *p = '?';
  json_t *o = json_pack("{s:s}", "error", msg);
  char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  return s;
}

/* Parses hex (optionally 0x-prefixed) into *out, at most max. 0 or -1. */
static int parse_hex(const char *t, uint64_t max, uint64_t *out) {
  if (!t || !*t)
    return -1;
  if (t[0] == '0' && (t[1] == 'x' || t[1] == 'X'))
    t += 2;
  if (!*t || strlen(t) > 16)
    return -1;
  for (const char *p = t; *p; p++)
    if (sim_hex_digit((unsigned char)*p) < 0)
      return -1;
  unsigned long long v = strtoull(t, NULL, 16);
  if (v > max)
    return -1;
  *out = v;
  return 0;
}

static int parse_dec(const char *t, uint64_t max, uint64_t *out) {
  if (!t || !*t || strlen(t) > 10)
    return -1;
  for (const char *p = t; *p; p++)
    if (*p < '0' || *p > '9')
      return -1;
  unsigned long long v = strtoull(t, NULL, 10);
  if (v > max)
    return -1;
  *out = v;
  return 0;
}

/* Parses PAYLOADHEX into buf (cap bytes). 0 or -1. */
static int parse_payload(const char *p, uint8_t *buf, size_t cap, size_t *len) {
  return sim_hex_decode(p, strlen(p), 0, buf, cap, len) ? -1 : 0;
}

static char *reply_id(const char *key, uint64_t id) {
  json_t *o = json_pack("{s:I}", key, (json_int_t)id);
  char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  return s;
}

/* Parses "THEN_HUB THEN_EUI64HEX ENDPOINT CLUSTERHEX COMMANDHEX [PAYLOADHEX]" (n is 5 or 6
 * tokens) into a (whose pointers point into tok and payload). NULL, or the error reply. */
static char *parse_action(char **tok, int n, struct plat_action *a, uint8_t *payload, size_t cap) {
  uint64_t eui, ep, cl, cmd;
  memset(a, 0, sizeof(*a));
  size_t hl = strlen(tok[0]);
  int hub_ok = hl >= 1 && hl <= SIM_HUBRPC_HUB_ID_MAX;
  for (size_t i = 0; hub_ok && i < hl; i++) {
    char ch = tok[0][i];
    hub_ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '.' || ch == '_' || ch == ':' || ch == '-';
  }
  if (!hub_ok)
    return reply_error("bad THEN_HUB '%.64s' (1..64 of [A-Za-z0-9._:-])", tok[0]);
  if (parse_hex(tok[1], UINT64_MAX, &eui))
    return reply_error("bad THEN_EUI64HEX '%.64s'", tok[1]);
  if (parse_dec(tok[2], 255, &ep))
    return reply_error("bad ENDPOINT '%.64s' (0..255)", tok[2]);
  if (parse_hex(tok[3], 0xFFFF, &cl))
    return reply_error("bad CLUSTERHEX '%.64s' (0..ffff)", tok[3]);
  if (parse_hex(tok[4], 0xFF, &cmd))
    return reply_error("bad COMMANDHEX '%.64s' (0..ff)", tok[4]);
  if (n == 6 && parse_payload(tok[5], payload, cap, &a->len))
    return reply_error("bad PAYLOADHEX '%.64s' (even number of hex digits, <= 1024 bytes)", tok[5]);
  a->hub_id = tok[0];
  a->eui64 = eui;
  a->endpoint = (uint32_t)ep;
  a->cluster = (uint32_t)cl;
  a->command = (uint32_t)cmd;
  a->payload = a->len ? payload : NULL;
  return NULL;
}

#define RULE_USAGE                                                                                 \
  "usage: rule add WHEN_EUI64HEX CLUSTERHEX ATTRHEX [=VALUE|<VALUE|>VALUE|*] THEN_HUB "            \
  "THEN_EUI64HEX ENDPOINT CLUSTERHEX COMMANDHEX [PAYLOADHEX] | rule del ID%s"
#define TIMER_USAGE                                                                                \
  "usage: timer add HH:MM THEN_HUB THEN_EUI64HEX ENDPOINT CLUSTERHEX COMMANDHEX [PAYLOADHEX] | "   \
  "timer del ID%s"

/* Parses a condition token: "*", or "=V", "<V", ">V" with V a number (decimal, 0x hex, or
 * true/false). 0 or -1. */
static int parse_cond(const char *t, struct plat_rule *r) {
  if (strcmp(t, "*") == 0) {
    r->op = PLAT_RULE_ANY;
    return 0;
  }
  r->op = t[0] == '=' ? PLAT_RULE_EQ : t[0] == '<' ? PLAT_RULE_LT : PLAT_RULE_GT;
  const char *v = t + 1;
  if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
    r->value = v[0] == 't';
    return 0;
  }
  if (!*v || strlen(v) > 40)
    return -1;
  char *end = NULL;
  errno = 0;
  double d = strtod(v, &end);
  if (*end || errno || !isfinite(d))
    return -1;
  r->value = d;
  return 0;
}

static int is_cond(const char *t) {
  return strcmp(t, "*") == 0 || t[0] == '=' || t[0] == '<' || t[0] == '>';
}

static char *admin_del(int (*rm)(struct plat_server *, uint64_t), struct plat_server *srv,
                       const char *what, char **tok, int n) {
  uint64_t id;
  if (n != 3 || parse_dec(tok[2], UINT32_MAX, &id))
    return reply_error(strcmp(what, "rule") == 0 ? RULE_USAGE : TIMER_USAGE, "");
  if (rm(srv, id))
    return reply_error(strcmp(what, "rule") == 0 ? "no rule %.32s" : "no timer %.32s", tok[2]);
  return reply_id("removed", id);
}

static char *admin_rule(struct plat_server *srv, char **tok, int n) {
  if (n >= 2 && strcmp(tok[1], "del") == 0)
    return admin_del(plat_server_rule_remove, srv, "rule", tok, n);
  if (n < 2 || strcmp(tok[1], "add") != 0)
    return reply_error(RULE_USAGE, "");
  struct plat_rule r = {0};
  uint64_t eui, cl, attr, id;
  uint8_t payload[1024];
  int k = n > 5 && is_cond(tok[5]) ? 6 : 5;
  if (n - k < 5 || n - k > 6)
    return reply_error(RULE_USAGE, "");
  if (parse_hex(tok[2], UINT64_MAX, &eui))
    return reply_error("bad WHEN_EUI64HEX '%.64s'", tok[2]);
  if (parse_hex(tok[3], 0xFFFF, &cl))
    return reply_error("bad CLUSTERHEX '%.64s' (0..ffff)", tok[3]);
  if (parse_hex(tok[4], 0xFFFF, &attr))
    return reply_error("bad ATTRHEX '%.64s' (0..ffff)", tok[4]);
  if (k == 6 && parse_cond(tok[5], &r))
    return reply_error("bad VALUE '%.64s' (=N, <N or >N with N a number or true/false, or *)",
                       tok[5]);
  char *err = parse_action(tok + k, n - k, &r.then, payload, sizeof(payload));
  if (err)
    return err;
  r.when_eui64 = eui;
  r.cluster = (uint32_t)cl;
  r.attr = (uint32_t)attr;
  char why[256];
  int rc = plat__rule_add(srv, &r, &id, why, sizeof why);
  if (rc)
    return reply_error("%s", why[0] ? why : sim_strerror(rc));
  if (!why[0])
    return reply_id("rule_id", id);
  /* A rule that may trigger itself through conditions is kept (its rate limit cuts a loop),
   * and the reply says so. */
  json_t *o = json_pack("{s:I,s:s}", "rule_id", (json_int_t)id, "warning", why);
  char *out = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  return out;
}

static char *admin_timer(struct plat_server *srv, char **tok, int n) {
  if (n >= 2 && strcmp(tok[1], "del") == 0)
    return admin_del(plat_server_timer_remove, srv, "timer", tok, n);
  if (n < 2 || strcmp(tok[1], "add") != 0 || n < 8 || n > 9)
    return reply_error(TIMER_USAGE, "");
  struct plat_timer t = {0};
  uint8_t payload[1024];
  uint64_t id;
  unsigned h, m;
  if (sim_dur_parse_hhmm(tok[2], &h, &m))
    return reply_error("bad time '%.64s' (HH:MM, 00:00..23:59 UTC)", tok[2]);
  char *err = parse_action(tok + 3, n - 3, &t.then, payload, sizeof(payload));
  if (err)
    return err;
  t.hour = h;
  t.minute = m;
  char why[256];
  int rc = plat__timer_add(srv, &t, &id, why, sizeof why);
  if (rc)
    return reply_error("%s", why[0] ? why : sim_strerror(rc));
  return reply_id("timer_id", id);
}

static char *admin_command(struct plat_server *srv, char **tok, int n) {
  uint64_t eui, ep, cl, cmd, id;
  uint8_t payload[1024];
  size_t plen = 0;
  if (n < 6 || n > 7)
    return reply_error("usage: command HUB_ID EUI64HEX ENDPOINT CLUSTERHEX COMMANDHEX "
                       "[PAYLOADHEX]%s",
                       "");
  if (parse_hex(tok[2], UINT64_MAX, &eui))
    return reply_error("bad EUI64HEX '%.64s'", tok[2]);
  if (parse_dec(tok[3], 255, &ep))
    return reply_error("bad ENDPOINT '%.64s' (0..255)", tok[3]);
  if (parse_hex(tok[4], 0xFFFF, &cl))
    return reply_error("bad CLUSTERHEX '%.64s'", tok[4]);
  if (parse_hex(tok[5], 0xFF, &cmd))
    return reply_error("bad COMMANDHEX '%.64s'", tok[5]);
  if (n == 7) {
    const char *p = tok[6];
    size_t len = strlen(p);
    if (len % 2 || len / 2 > sizeof(payload))
      return reply_error("bad PAYLOADHEX '%.64s' (even number of hex digits, <= 1024 bytes)", p);
    if (sim_hex_decode(p, len, 0, payload, sizeof(payload), &plen))
      return reply_error("bad PAYLOADHEX '%.64s'", p);
  }
  int rc = plat_server_command(srv, tok[1], eui, (uint32_t)ep, (uint32_t)cl, (uint32_t)cmd, payload,
                               plen, 0, 0, &id);
  if (rc == SIM_ENOTFOUND)
    return reply_error("hub '%.64s' is not online", tok[1]);
  if (rc)
    return reply_error("%s", sim_strerror(rc));
  json_t *o = json_pack("{s:I}", "cmd_id", (json_int_t)id);
  char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  return s;
}

/* ---------------------------------------------------------------- device state */

/* A stored value as JSON: octet strings as lower-case hex, the form the admin protocol takes
 * them in. */
static json_t *cell_json(const struct plat_store_cell *c) {
  switch (c->kind) {
  case PLAT_CELL_INT:
    return json_integer(c->i);
  case PLAT_CELL_REAL:
    return json_real(c->r);
  case PLAT_CELL_TEXT:
    return json_stringn(c->p, c->n);
  case PLAT_CELL_BLOB: {
    char *hex = sim_hex_dup(c->p, c->n, 0);
    if (!hex)
      return json_null();
    json_t *j = json_string(hex);
    free(hex);
    return j;
  }
  default:
    return json_null();
  }
}

struct device_doc {
  json_t *root, *attrs;
};

static void device_row_cb(void *arg, const struct plat_store_cell *col) {
  struct device_doc *doc = arg;
  static const char *const names[PLAT_STORE_DEVICE_COLS] = {"hub_id",    "model",   "manufacturer",
                                                            "joined_ms", "left_ms", "last_seen_ms"};
  for (int i = 0; i < PLAT_STORE_DEVICE_COLS; i++)
    json_object_set_new(doc->root, names[i], cell_json(&col[i]));
}

static void device_state_cb(void *arg, const struct plat_store_latest *row) {
  struct device_doc *doc = arg;
  json_t *o = json_object();
  json_object_set_new(o, "endpoint", json_integer(row->endpoint));
  json_object_set_new(o, "cluster", json_integer(row->cluster));
  json_object_set_new(o, "attr", json_integer(row->attr));
  if (row->member >= 0)
    json_object_set_new(o, "member", json_integer(row->member));
  json_object_set_new(o, "zcl_type", json_integer(row->zcl_type));
  json_object_set_new(o, "value", cell_json(&row->value));
  json_object_set_new(o, "ts_ms", json_integer(row->ts_ms));
  json_array_append_new(doc->attrs, o);
}

/* The reply to `device EUI64HEX`: the device's latest state as a JSON object text (malloc'ed,
 * taken by the caller) in *out: eui64, its row's fields, then attributes. SIM_ENOTFOUND when
 * the store knows nothing of it. */
static int device_json(struct plat_store *st, uint64_t eui64, char **out) {
  char eui[17];
  snprintf(eui, sizeof(eui), "%016llx", (unsigned long long)eui64);
  struct device_doc doc = {json_object(), json_array()};
  json_object_set_new(doc.root, "eui64", json_string(eui));
  int rc = plat_store_device_read(st, eui64, device_row_cb, device_state_cb, &doc);
  if (rc == 0) {
    json_object_set_new(doc.root, "attributes", doc.attrs);
    doc.attrs = NULL;
    *out = json_dumps(doc.root, JSON_COMPACT);
    rc = *out ? 0 : SIM_ENOMEM;
  }
  json_decref(doc.attrs);
  json_decref(doc.root);
  return rc;
}

char *plat_server_admin(struct plat_server *srv, const char *line) {
  char buf[ADMIN_LINE_MAX + 1];
  if (!line)
    return reply_error("empty request%s", "");
  if (strlen(line) > ADMIN_LINE_MAX)
    return reply_error("line longer than 4096 bytes%s", "");
  snprintf(buf, sizeof(buf), "%s", line);
  char *tok[16], *save = NULL;
  int n = 0;
  for (char *t = strtok_r(buf, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
    if (n == 16)
      return reply_error("too many arguments%s", "");
    tok[n++] = t;
  }
  if (n == 0)
    return reply_error("empty request%s", "");
  if (strcmp(tok[0], "stats") == 0 && n == 1) {
    struct plat_counters c;
    plat_server_counters(srv, &c);
    return plat_counters_json(&c);
  }
  if (strcmp(tok[0], "command") == 0)
    return admin_command(srv, tok, n);
  if (strcmp(tok[0], "rule") == 0)
    return admin_rule(srv, tok, n);
  if (strcmp(tok[0], "timer") == 0)
    return admin_timer(srv, tok, n);
  if ((strcmp(tok[0], "rules") == 0 || strcmp(tok[0], "timers") == 0) && n == 1)
    return tok[0][0] == 'r' ? plat_server_rules_json(srv) : plat_server_timers_json(srv);
  if (strcmp(tok[0], "device") == 0) {
    uint64_t eui;
    if (n != 2 || parse_hex(tok[1], UINT64_MAX, &eui))
      return reply_error("usage: device EUI64HEX%s", "");
    char *out = NULL;
    int rc = device_json(plat__store(srv), eui, &out);
    if (rc == SIM_ENOTFOUND)
      return reply_error("unknown device %.32s", tok[1]);
    if (rc)
      return reply_error("%s", sim_strerror(rc));
    return out;
  }
  return reply_error("unknown request '%.64s' (stats, command, device, rule, rules, timer, timers)",
                     tok[0]);
}

/* ---------------------------------------------------------------- conversations */

static char *reply_auth_ok(void) {
  return strdup("{\"auth\":\"ok\"}");
}

/* 1 when token is the configured one. Both sides go through HMAC under a random key first, so
 * the comparison is of two 32-byte digests in constant time whatever the lengths. */
static int token_ok(struct plat_server *srv, const char *token) {
  uint8_t a[32], b[32];
  return sim_auth_hub_secret(srv->admin_key, sizeof srv->admin_key, token, a) == 0 &&
         sim_auth_hub_secret(srv->admin_key, sizeof srv->admin_key, srv->admin_token, b) == 0 &&
         sim_auth_equal(a, b, sizeof a);
}

/* Answers one line of a conversation. 1: the conversation ends after this reply. */
static int conv_line(struct plat_server *srv, struct plat_admin_conv *cv, const char *line,
                     plat_admin_reply_fn reply, void *arg) {
  char first[8] = {0};
  const char *p = line + strspn(line, " \t\r");
  size_t fl = strcspn(p, " \t\r");
  if (fl < sizeof first)
    memcpy(first, p, fl);
  if (strcmp(first, "auth") == 0) {
    if (!srv->admin_token) {
      reply(arg, reply_auth_ok()); /* nothing to check: every client may ask */
      return 0;
    }
    char tok[PLAT_ADMIN_TOKEN_MAX + 2] = {0};
    const char *t = p + fl + strspn(p + fl, " \t\r");
    size_t tl = strcspn(t, " \t\r");
    int one = t[tl + strspn(t + tl, " \t\r")] == 0; /* exactly one argument */
    if (tl >= 1 && tl <= PLAT_ADMIN_TOKEN_MAX && one) {
      memcpy(tok, t, tl);
      if (token_ok(srv, tok)) {
        cv->authed = 1;
        reply(arg, reply_auth_ok());
        return 0;
      }
    }
    srv->c.admin_auth_failed++;
    reply(arg, reply_error("auth failed%s", ""));
    return 1;
  }
  if (!cv->authed) {
    srv->c.admin_auth_failed++;
    reply(arg, reply_error("auth required: the first line must be 'auth TOKEN'%s", ""));
    return 1;
  }
  reply(arg, srv->admin_route ? srv->admin_route(srv->admin_route_arg, line)
                              : plat_server_admin(srv, line));
  return 0;
}

int plat__admin_feed(struct plat_server *srv, struct plat_admin_conv *cv, const uint8_t *p,
                     size_t n, plat_admin_reply_fn reply, void *arg, unsigned *lines) {
  unsigned count = 0;
  int end = 0;
  if (!srv->admin_token)
    cv->authed = 1;
  if (n && sim_buf_append(&cv->in, p, n))
    return SIM_ENOMEM;
  size_t off = 0;
  while (!end) {
    uint8_t *nl = cv->in.len > off ? memchr(cv->in.data + off, '\n', cv->in.len - off) : NULL;
    if (!nl)
      break;
    size_t len = (size_t)(nl - (cv->in.data + off));
    count++;
    if (len > ADMIN_LINE_MAX) {
      reply(arg, reply_error("line longer than 4096 bytes%s", ""));
      end = 1;
      break;
    }
    char line[ADMIN_LINE_MAX + 1];
    memcpy(line, cv->in.data + off, len);
    line[len] = 0;
    off += len + 1;
    if (memchr(line, 0, len)) {
      reply(arg, reply_error("NUL byte in request%s", ""));
      end = !cv->authed;
      continue;
    }
    end = conv_line(srv, cv, line, reply, arg);
  }
  sim_buf_consume(&cv->in, off);
  if (!end && cv->in.len > ADMIN_LINE_MAX) {
    reply(arg, reply_error("line longer than 4096 bytes%s", ""));
    end = 1;
  }
  if (end)
    cv->in.len = 0;
  if (lines)
    *lines = count;
  return end;
}

void plat__admin_conv_fini(struct plat_admin_conv *cv) {
  sim_buf_fini(&cv->in);
}

/* ---------------------------------------------------------------- tcp */

static void client_closed_cb(uv_handle_t *h) {
  struct plat_admin_client *cl = h->data;
  struct plat_server *srv = cl->srv;
  plat__admin_conv_fini(&cl->conv);
  free(cl);
  srv->admin_handles--;
  plat__maybe_stopped(srv);
}

static void client_close(struct plat_admin_client *cl) {
  if (cl->closing)
    return;
  cl->closing = 1;
  struct plat_admin *a = cl->srv->admin;
  if (cl->prev)
    cl->prev->next = cl->next;
  else
    a->clients = cl->next;
  if (cl->next)
    cl->next->prev = cl->prev;
  a->nclients--;
  uv_close((uv_handle_t *)&cl->tcp, client_closed_cb);
}

static void write_cb(uv_write_t *w, int status) {
  (void)status;
  free(w->data);
  free(w);
}

/* Queues one reply line (takes json). A client that lets a megabyte of replies wait does not
 * read them: it is closed rather than let it hold the platform's memory. */
static void client_reply(void *arg, char *json) {
  struct plat_admin_client *cl = arg;
  if (!json)
    return;
  if (cl->closing || cl->tcp.write_queue_size > ADMIN_WQ_MAX) {
    free(json);
    client_close(cl);
    return;
  }
  size_t n = strlen(json);
  char *p = realloc(json, n + 2);
  uv_write_t *w = malloc(sizeof(*w));
  if (!p || !w) {
    free(p ? p : json);
    free(w);
    return;
  }
  p[n] = '\n';
  p[n + 1] = 0;
  w->data = p;
  uv_buf_t b = uv_buf_init(p, (unsigned)(n + 1));
  if (uv_write(w, (uv_stream_t *)&cl->tcp, &b, 1, write_cb)) {
    free(p);
    free(w);
  }
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  static char slab[8192]; /* one loop thread: the read is consumed before the next alloc */
  (void)h;
  (void)hint;
  buf->base = slab;
  buf->len = sizeof(slab);
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  struct plat_admin_client *cl = st->data;
  if (n < 0) {
    client_close(cl);
    return;
  }
  if (n == 0 || cl->closing)
    return;
  unsigned lines = 0;
  int rc = plat__admin_feed(cl->srv, &cl->conv, (const uint8_t *)buf->base, (size_t)n, client_reply,
                            cl, &lines);
  if (lines)
    cl->last_ms = plat__mono_ms(cl->srv);
  if (rc)
    client_close(cl);
}

static void connection_cb(uv_stream_t *server, int status) {
  struct plat_server *srv = server->data;
  struct plat_admin *a = srv->admin;
  if (status < 0 || !a)
    return;
  struct plat_admin_client *cl = calloc(1, sizeof(*cl));
  if (!cl)
    return;
  cl->srv = srv;
  cl->last_ms = plat__mono_ms(srv);
  uv_tcp_init(srv->loop, &cl->tcp);
  cl->tcp.data = cl;
  srv->admin_handles++;
  cl->next = a->clients;
  if (a->clients)
    a->clients->prev = cl;
  a->clients = cl;
  a->nclients++;
  if (uv_accept(server, (uv_stream_t *)&cl->tcp)) {
    client_close(cl);
    return;
  }
  if (a->nclients > PLAT_ADMIN_CLIENTS_MAX) {
    srv->c.admin_refused++;
    client_reply(cl,
                 reply_error("too many admin clients (%s); try again later", "at most 32 at once"));
    client_close(cl);
    return;
  }
  if (uv_read_start((uv_stream_t *)&cl->tcp, alloc_cb, read_cb))
    client_close(cl);
}

void plat__admin_sweep(struct plat_server *srv, uint64_t now_ms) {
  struct plat_admin *a = srv->admin;
  if (!a)
    return;
  uint64_t idle = (uint64_t)srv->cfg.admin_idle_s * 1000u;
  struct plat_admin_client *cl = a->clients, *next;
  for (; cl; cl = next) {
    next = cl->next;
    /* Without its token a client gets the handshake's 10 s, not the idle time. */
    uint64_t limit = cl->conv.authed || !srv->admin_token ? idle : PLAT_ADMIN_AUTH_MS;
    if (now_ms - cl->last_ms >= limit) {
      srv->c.admin_idle_closed++;
      client_reply(cl,
                   reply_error("closed: nothing received for %s",
                               cl->conv.authed || !srv->admin_token ? "the idle time (--admin-idle)"
                                                                    : "10 s without 'auth TOKEN'"));
      client_close(cl);
    }
  }
}

static void listener_closed_cb(uv_handle_t *h) {
  struct plat_server *srv = h->data;
  free(srv->admin);
  srv->admin = NULL;
  srv->admin_handles--;
  plat__maybe_stopped(srv);
}

int plat__admin_start(struct plat_server *srv) {
  struct plat_admin *a = calloc(1, sizeof(*a));
  if (!a)
    return SIM_ENOMEM;
  struct sockaddr_in sa;
  int rc = uv_ip4_addr(srv->admin_addr.host, srv->admin_addr.port, &sa);
  if (rc) {
    SIM_LOGE("platform: bad admin address %s", srv->admin_addr.host);
    free(a);
    return SIM_EINVAL;
  }
  uv_tcp_init(srv->loop, &a->tcp);
  a->tcp.data = srv;
  srv->admin = a;
  srv->admin_handles++;
  if ((rc = uv_tcp_bind(&a->tcp, (const struct sockaddr *)&sa, 0)) ||
      (rc = uv_listen((uv_stream_t *)&a->tcp, 64, connection_cb))) {
    SIM_LOGE("platform: cannot listen for admin on %s:%u: %s", srv->admin_addr.host,
             srv->admin_addr.port, uv_strerror(rc));
    uv_close((uv_handle_t *)&a->tcp, listener_closed_cb);
    return rc;
  }
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  if (uv_tcp_getsockname(&a->tcp, (struct sockaddr *)&ss, &len) == 0)
    a->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return 0;
}

void plat__admin_stop(struct plat_server *srv) {
  struct plat_admin *a = srv->admin;
  if (!a || uv_is_closing((uv_handle_t *)&a->tcp))
    return;
  while (a->clients)
    client_close(a->clients);
  uv_close((uv_handle_t *)&a->tcp, listener_closed_cb);
}

uint16_t plat_server_admin_port(const struct plat_server *srv) {
  return srv->admin ? srv->admin->port : 0;
}
