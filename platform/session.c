/* Connections and hubrpc sessions: sending, the handshake (Hello, Challenge, Auth, Welcome), the
 * state machine and the sequencing rules, accepting and closing.
 *
 * A session (struct plat_session) per connection is small: no buffers besides the frame reader's
 * partial frame, and the decoded Hello while the handshake is under way.
 *
 * Closing: a session that must end (protocol error, timeout, replaced) is moved to the closing
 * list after its Error frame is queued; a check handle closes it once the transport has handed
 * the Error to the kernel (sim_conn_pending() == 0), or after a short cap. Sessions are never
 * freed inside the frame callback, so the frame reader is never freed under its own feet.
 *
 * Hostile peers: connections still in their handshake are few and short-lived for real hubs,
 * so they are capped (the oldest gives way to a new one), and a descriptor reserve keeps the
 * store and the admin port working when sockets run out; a hub that does not read is cut off
 * after a small send queue; the idle timer counts complete frames only. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform/automation.h"
#include "platform/platform.h"
#include "platform/server_internal.h"
#include "platform/store.h"
#include "sim/core/err.h"
#include "sim/core/log.h"
#include "sim/core/rng.h"
#include "sim/transport/tls.h"
#include "sim/wire/auth.h"
#include "sim/wire/frame.h"
#include "sim/wire/hubrpc.h"

#define CLOSE_CAP_MS 1000u

/* ---------------------------------------------------------------- sending and closing */

/* Encodes env into the server's scratch buffer and queues it on s. A hub that lets more than
 * sendq_max bytes pile up does not read (Acks, Heartbeat answers and commands all wait for it):
 * it is cut off with an Error rather than let it hold the platform's memory (SIM_EFULL). */
int plat__sess_send(struct plat_session *s, const sim_envelope *env) {
  struct plat_server *srv = s->srv;
  if (sim_conn_pending(s->conn) > srv->cfg.sendq_max) {
    srv->c.sendq_overflows++;
    sim_log_limited(&srv->log_sendq, PLAT_LOG_EVERY_MS, SIM_LOG_WARN,
                    "platform: hub %s does not read: more than %u bytes wait for it; session "
                    "closed",
                    s->hub ? s->hub->id : "-", srv->cfg.sendq_max);
    plat__sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_UNSPECIFIED,
                    "send queue full: the hub does not read");
    return SIM_EFULL;
  }
  srv->out.len = 0;
  int rc = sim_hubrpc_encode(&srv->out, env);
  if (rc)
    return rc;
  rc = sim_conn_send(s->conn, srv->out.data, srv->out.len);
  if (rc)
    return rc;
  srv->c.frames_out++;
  srv->c.bytes_out += srv->out.len;
  return 0;
}

/* Sends Error{code, reason} (when code >= 0) and starts closing s. Idempotent. */
void plat__sess_fail(struct plat_session *s, int code, const char *reason) {
  struct plat_server *srv = s->srv;
  if (s->state == PLAT_S_CLOSING)
    return;
  if (code >= 0) {
    srv->out.len = 0;
    if (sim_hubrpc_put_error(&srv->out, (Hubrpc__V1__ErrorCode)code, reason) == 0 &&
        sim_conn_send(s->conn, srv->out.data, srv->out.len) == 0) {
      srv->c.frames_out++;
      srv->c.bytes_out += srv->out.len;
    }
    if (code < PLAT_ERROR_CODES)
      srv->c.errors_sent[code]++;
    SIM_LOGD("platform: session %s: error %d: %s", s->hub ? s->hub->id : "-", code, reason);
  }
  plat__sess_close(s);
}

static void list_remove(struct plat_slist *l, struct plat_session *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    l->head = s->next;
  if (s->next)
    s->next->prev = s->prev;
  else
    l->tail = s->prev;
  s->prev = s->next = NULL;
  l->n--;
}

/* At the tail: the head is the oldest. */
static void list_push(struct plat_slist *l, struct plat_session *s) {
  s->next = NULL;
  s->prev = l->tail;
  if (l->tail)
    l->tail->next = s;
  else
    l->head = s;
  l->tail = s;
  l->n++;
}

static struct plat_slist *list_of(struct plat_server *srv, const struct plat_session *s) {
  return s->state == PLAT_S_CLOSING ? &srv->closing
         : s->state == PLAT_S_OPEN  ? &srv->live
                                    : &srv->hs;
}

/* Detaches s from its hub and from the bookkeeping of open sessions. */
static void sess_detach(struct plat_session *s) {
  struct plat_server *srv = s->srv;
  if (s->state == PLAT_S_OPEN)
    srv->c.sessions_open--;
  if (s->paused) {
    s->paused = 0;
    srv->c.sessions_paused--;
  }
  if (s->hub && s->hub->sess == s)
    s->hub->sess = NULL;
  s->hub = NULL;
  sim_hubrpc_free(s->hello);
  s->hello = NULL;
}

void plat__sess_close(struct plat_session *s) {
  struct plat_server *srv = s->srv;
  if (s->state == PLAT_S_CLOSING)
    return;
  list_remove(list_of(srv, s), s);
  sess_detach(s);
  s->state = PLAT_S_CLOSING;
  list_push(&srv->closing, s);
  s->deadline_ms = plat__mono_ms(srv) + (srv->stopping ? PLAT_STOP_CAP_MS : CLOSE_CAP_MS);
  if (srv->started && !uv_is_active((uv_handle_t *)&srv->reaper))
    uv_check_start(&srv->reaper, plat__reap_cb);
}

static void sess_free(struct plat_session *s) {
  s->srv->c.sessions_closed++;
  sim_frame_reader_fini(&s->reader);
  free(s);
}

/* Closes the connections of closing sessions whose Error has left (or whose cap expired). */
void plat__reap_cb(uv_check_t *h) {
  struct plat_server *srv = h->data;
  uint64_t now = plat__mono_ms(srv);
  struct plat_session *s = srv->closing.head, *next;
  for (; s; s = next) {
    next = s->next;
    if (sim_conn_pending(s->conn) == 0 || now >= s->deadline_ms) {
      list_remove(&srv->closing, s);
      sim_conn_close(s->conn);
      sess_free(s);
    }
  }
  if (!srv->closing.head) {
    uv_check_stop(&srv->reaper);
    if (srv->stopping)
      plat__stop_finish(srv);
  }
}

/* ---------------------------------------------------------------- handshake and messages */

/* Random bytes: from the seed when the run must repeat, else from the system. */
static int plat_random(struct plat_server *srv, void *p, size_t n) {
  if (!srv->cfg.seed)
    return sim_auth_random(p, n);
  uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    b[i] = (uint8_t)sim_rng_u32(&srv->rng);
  return 0;
}

/* The hub_id rule (docs/protocol.md): the Hello's, and the one a rule or timer names. */
int plat__valid_hub_id(const char *id) {
  size_t n = strlen(id);
  if (n < 1 || n > SIM_HUBRPC_HUB_ID_MAX)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char ch = id[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '.' || ch == '_' || ch == ':' || ch == '-'))
      return 0;
  }
  return 1;
}

/* Mutual TLS: a hub that presented a verified client certificate is that certificate's hub
 * (its CN) and no other; a hub that once authenticated with a certificate needs it again, and
 * with --auth cert every hub needs one. A bound session may then authenticate with the
 * certificate alone (on_auth). 0, or -1 when the session failed. */
static int cert_bind(struct plat_session *s, const char *hub_id) {
  struct plat_server *srv = s->srv;
  char cid[SIM_HUBRPC_HUB_ID_MAX + 1];
  char why[200];
  int rc = sim_tls_conn_peer_hub(s->conn, cid, sizeof cid);
  if (rc == 1 && strcmp(cid, hub_id) == 0) {
    s->cert = 1;
    return 0;
  }
  if (rc == 0) {
    const struct plat_hub *h = plat__hub_find(srv, hub_id);
    if (srv->cfg.auth == PLAT_AUTH_CERT)
      snprintf(why, sizeof why,
               "hub %s presented no client certificate: this platform accepts client "
               "certificates only (--auth cert)",
               hub_id);
    else if (!h || !h->cert)
      return 0;
    else
      snprintf(why, sizeof why, "hub %s authenticates with its client certificate", hub_id);
  } else if (rc == 1) {
    snprintf(why, sizeof why, "client certificate is for hub %s, not %s", cid, hub_id);
  } else {
    snprintf(why, sizeof why,
             "client certificate names no usable hub id (its CN and any SAN URI "
             "urn:hubsim:hub:ID must name one valid hub)");
  }
  srv->c.cert_refused++;
  SIM_LOGW("platform: refused a Hello for hub %s: %s", hub_id, why);
  plat__sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_AUTH_FAILED, why);
  return -1;
}

/* Handles Hello. Returns 1 when env is kept by the session (until Auth). */
static int on_hello(struct plat_session *s, sim_envelope *env) {
  const Hubrpc__V1__Hello *h = env->hello;
  if (h->proto_version != SIM_HUBRPC_VERSION) {
    plat__sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_UNSUPPORTED_VERSION, "supported: 1");
    return 0;
  }
  if (!h->hub_id || !plat__valid_hub_id(h->hub_id)) {
    plat__sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_INVALID_FIELD,
                    "hub_id: 1..64 bytes of [A-Za-z0-9._:-]");
    return 0;
  }
  if (h->client_nonce.len != SIM_HUBRPC_NONCE_LEN) {
    plat__sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_INVALID_FIELD,
                    "client_nonce: exactly 16 bytes");
    return 0;
  }
  if (cert_bind(s, h->hub_id))
    return 0;
  if (plat_random(s->srv, s->server_nonce, sizeof(s->server_nonce))) {
    plat__sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_UNSPECIFIED, "no random bytes");
    return 0;
  }
  Hubrpc__V1__Challenge ch = HUBRPC__V1__CHALLENGE__INIT;
  ch.server_nonce.data = s->server_nonce;
  ch.server_nonce.len = sizeof(s->server_nonce);
  sim_envelope out = HUBRPC__V1__ENVELOPE__INIT;
  out.body_case = HUBRPC__V1__ENVELOPE__BODY_CHALLENGE;
  out.challenge = &ch;
  if (plat__sess_send(s, &out)) {
    plat__sess_close(s);
    return 0;
  }
  s->hello = env;
  s->state = PLAT_S_AUTH;
  return 1;
}

static void on_auth(struct plat_session *s, const Hubrpc__V1__Auth *a) {
  struct plat_server *srv = s->srv;
  const Hubrpc__V1__Hello *hello = s->hello->hello;
  uint8_t secret[32], mac[32];
  const char *why = "wrong mac";
  int ok;
  if (a->mac.len == 0) {
    /* The certificate alone: only on a session bound to this hub's verified certificate. */
    ok = s->cert && srv->cfg.auth != PLAT_AUTH_KEY;
    why = s->cert ? "no mac: this platform authenticates with the fleet key (--auth key)"
                  : "no certificate for this hub and no mac";
  } else {
    /* A mac that is sent is checked, with or without a certificate. */
    ok = a->mac.len == SIM_HUBRPC_MAC_LEN &&
         sim_auth_hub_secret(srv->fleet_key, srv->fleet_key_len, hello->hub_id, secret) == 0 &&
         sim_auth_mac(secret, hello->client_nonce.data, s->server_nonce, mac) == 0 &&
         (sim_auth_equal(mac, a->mac.data, sizeof(mac)) ||
          (srv->cfg.defects & PLAT_DEFECT_ACCEPT_BAD_MAC));
  }
  if (!ok) {
    srv->c.auth_failed++;
    sim_log_limited(&srv->log_auth, PLAT_LOG_EVERY_MS, SIM_LOG_WARN,
                    "platform: refused the Auth of hub %s: %s", hello->hub_id, why);
    plat__sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_AUTH_FAILED, why);
    return;
  }
  srv->c.auth_ok++;
  if (a->mac.len == 0)
    srv->c.auth_cert_only++;
  struct plat_hub *h = plat__hub_find(srv, hello->hub_id);
  int known = h != NULL;
  if (!h && !(h = plat__hub_add(srv, hello->hub_id))) {
    plat__sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_UNSPECIFIED, "out of memory");
    return;
  }
  uint64_t now = plat__wall_ms(srv);
  if (known && h->boot_id != hello->boot_id && h->dirty)
    plat__flush(srv); /* settle the boot being left: its Ack, or its resend */
  if (h->sess && h->sess != s) {
    srv->c.duplicate_sessions++;
    plat__sess_fail(h->sess, HUBRPC__V1__ERROR_CODE__ERROR_DUPLICATE_SESSION,
                    "a newer session of this hub replaced this one");
  }
  if (!known) {
    h->boot_id = hello->boot_id;
    h->received = h->stored = 0;
  } else if (h->boot_id != hello->boot_id) {
    plat__hub_change_boot(srv, h, hello->boot_id, now);
  }
  if (s->cert) {
    h->cert = 1;
    srv->c.sessions_cert_bound++;
    SIM_LOGI("platform: session of hub %s bound to its client certificate's hub id", h->id);
  }
  h->sess = s;
  s->hub = h;
  s->acked = s->rx_top = h->stored;
  /* A failed write abandoned the group: the commit timer reports it. */
  plat_store_hub_seen(srv->store, h->id, h->boot_id, h->stored, hello->model, hello->firmware, now);
  plat__arm_commit(srv);
  if (plat_random(srv, &s->session_id, sizeof(s->session_id)))
    s->session_id = sim_rng_u32(&srv->rng);
  Hubrpc__V1__Welcome w = HUBRPC__V1__WELCOME__INIT;
  w.session_id = s->session_id;
  w.heartbeat_s = srv->cfg.heartbeat_s;
  w.server_time_ms = now;
  w.acked_seq = h->stored;
  w.max_window = srv->cfg.max_window;
  sim_envelope out = HUBRPC__V1__ENVELOPE__INIT;
  out.body_case = HUBRPC__V1__ENVELOPE__BODY_WELCOME;
  out.welcome = &w;
  sim_hubrpc_free(s->hello);
  s->hello = NULL;
  list_remove(&srv->hs, s);
  s->state = PLAT_S_OPEN;
  list_push(&srv->live, s);
  srv->c.sessions_open++;
  s->last_rx_ms = plat__mono_ms(srv);
  if (plat__sess_send(s, &out)) {
    plat__sess_close(s);
    return;
  }
  if (srv->store_state != PLAT_STORE_OK)
    plat__sess_pause(s); /* its Welcome is honest (acked_seq = stored); its data must wait */
}

/* Applies the sequencing rules to seq. Returns 1: new, 0: duplicate (acked, not stored),
 * -1: the session failed. */
static int seq_check(struct plat_session *s, uint64_t seq) {
  struct plat_server *srv = s->srv;
  struct plat_hub *h = s->hub;
  char why[96];
  if (seq == 0) {
    plat__sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_INVALID_FIELD, "seq: starts at 1");
    return -1;
  }
  if (seq > s->rx_top)
    s->rx_top = seq;
  if (seq <= h->received && (srv->cfg.defects & PLAT_DEFECT_NO_DEDUP)) {
    h->received = seq; /* the defect: the last seq seen, not the highest, is kept */
    plat__mark_dirty(srv, h);
    return 0;
  }
  if (seq <= h->received) {
    srv->c.seq_duplicate++;
    plat__mark_dirty(srv, h); /* a resend of stored data still gets its Ack */
    return 0;
  }
  if (seq > h->received + 1) {
    snprintf(why, sizeof(why), "expected seq %llu, got %llu", (unsigned long long)h->received + 1,
             (unsigned long long)seq);
    plat__sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_BAD_SEQUENCE, why);
    return -1;
  }
  if (seq > s->acked + srv->cfg.max_window && !(srv->cfg.defects & PLAT_DEFECT_IGNORE_WINDOW)) {
    snprintf(why, sizeof(why), "seq %llu beyond acked %llu + window %u", (unsigned long long)seq,
             (unsigned long long)s->acked, srv->cfg.max_window);
    plat__sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_WINDOW_EXCEEDED, why);
    return -1;
  }
  return 1;
}

/* Ends the handling of a new sequenced message after its store write. */
static void seq_accept(struct plat_session *s, uint64_t seq, int store_rc) {
  if (store_rc) {
    plat__sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_UNSPECIFIED, "store failure, resend");
    /* The whole group was abandoned (store.h): settle it now, so that every hub with data in
     * it is told, and the store's trouble begins. */
    plat__flush(s->srv);
    return;
  }
  s->hub->received = seq;
  plat__mark_dirty(s->srv, s->hub);
  if (s->srv->cfg.defects & PLAT_DEFECT_ACK_BEFORE_COMMIT) {
    Hubrpc__V1__Ack ack = HUBRPC__V1__ACK__INIT;
    ack.up_to_seq = seq;
    sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
    env.body_case = HUBRPC__V1__ENVELOPE__BODY_ACK;
    env.ack = &ack;
    if (plat__sess_send(s, &env) == 0)
      s->acked = seq;
  }
}

static void on_open_msg(struct plat_session *s, const sim_envelope *env) {
  struct plat_server *srv = s->srv;
  struct plat_hub *h = s->hub;
  uint64_t now = plat__wall_ms(srv);
  int r;
  switch (env->body_case) {
  case HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT: {
    srv->c.heartbeats++;
    Hubrpc__V1__Heartbeat hb = HUBRPC__V1__HEARTBEAT__INIT;
    hb.time_ms = now;
    sim_envelope out = HUBRPC__V1__ENVELOPE__INIT;
    out.body_case = HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT;
    out.heartbeat = &hb;
    if (plat__sess_send(s, &out))
      plat__sess_close(s);
    break;
  }
  case HUBRPC__V1__ENVELOPE__BODY_REPORT:
    r = seq_check(s, env->report->seq);
    if (r == 0)
      srv->c.reports_duplicate++;
    if (r == 1) {
      srv->c.reports_new++;
      int src = plat_store_report(srv->store, h->id, h->boot_id, env->report, now);
      if (src == 0)
        srv->group_reports++; /* before seq_accept: it may commit the group */
      seq_accept(s, env->report->seq, src);
      /* Automations see the Report once it is accepted into the store's group. */
      if (src == 0 && srv->autom)
        plat__auto_report(srv, env->report);
    }
    break;
  case HUBRPC__V1__ENVELOPE__BODY_DEVICE_JOINED: {
    const Hubrpc__V1__DeviceJoined *j = env->device_joined;
    if (seq_check(s, j->seq) != 1)
      break;
    srv->c.joined++;
    if (j->model && strcmp(j->model, PLAT_TOGGLE_MODEL) == 0) {
      uint8_t ep = 1;
      for (size_t i = 0; i < j->n_endpoints; i++)
        for (size_t k = 0; k < j->endpoints[i]->n_in_clusters; k++)
          if (j->endpoints[i]->in_clusters[k] == 0x0006 && ep == 1 && j->endpoints[i]->id <= 0xFF)
            ep = (uint8_t)j->endpoints[i]->id;
      plat__plug_set(srv, j->device, h, ep);
    }
    seq_accept(s, j->seq, plat_store_joined(srv->store, h->id, j, now));
    break;
  }
  case HUBRPC__V1__ENVELOPE__BODY_DEVICE_LEFT: {
    const Hubrpc__V1__DeviceLeft *l = env->device_left;
    if (seq_check(s, l->seq) != 1)
      break;
    srv->c.left++;
    plat__plug_set(srv, l->device, NULL, 0);
    seq_accept(s, l->seq, plat_store_left(srv->store, h->id, l, now));
    break;
  }
  case HUBRPC__V1__ENVELOPE__BODY_COMMAND_RESULT: {
    const Hubrpc__V1__CommandResult *cr = env->command_result;
    if (seq_check(s, cr->seq) != 1)
      break;
    int known = 0;
    int rc = plat_store_cmd_result(srv->store, h->id, cr, now, &known);
    plat__cmd_result(srv, cr, known);
    seq_accept(s, cr->seq, rc);
    break;
  }
  default:
    plat__sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_UNEXPECTED_MESSAGE,
                    sim_hubrpc_body_name(env->body_case));
    break;
  }
}

/* Handles one decoded envelope. Returns 1 when the session keeps env. */
static int dispatch(struct plat_session *s, sim_envelope *env) {
  struct plat_server *srv = s->srv;
  char why[64];
  switch (env->body_case) {
  case HUBRPC__V1__ENVELOPE__BODY_ERROR: {
    uint32_t code = (uint32_t)env->error->code;
    srv->c.errors_received[code < PLAT_ERROR_CODES ? code : 0]++;
    SIM_LOGD("platform: hub error %u: %s", code, env->error->reason ? env->error->reason : "");
    plat__sess_close(s);
    return 0;
  }
  case HUBRPC__V1__ENVELOPE__BODY_GOODBYE:
    plat__sess_close(s);
    return 0;
  case HUBRPC__V1__ENVELOPE__BODY_CHALLENGE:
  case HUBRPC__V1__ENVELOPE__BODY_WELCOME:
  case HUBRPC__V1__ENVELOPE__BODY_ACK:
  case HUBRPC__V1__ENVELOPE__BODY_COMMAND:
  case HUBRPC__V1__ENVELOPE__BODY_PERMIT_JOIN:
    snprintf(why, sizeof(why), "%s is a platform message", sim_hubrpc_body_name(env->body_case));
    plat__sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_UNEXPECTED_MESSAGE, why);
    return 0;
  default:
    break;
  }
  switch (s->state) {
  case PLAT_S_HELLO:
    if (env->body_case == HUBRPC__V1__ENVELOPE__BODY_HELLO)
      return on_hello(s, env);
    break;
  case PLAT_S_AUTH:
    if (env->body_case == HUBRPC__V1__ENVELOPE__BODY_AUTH) {
      on_auth(s, env->auth);
      return 0;
    }
    break;
  case PLAT_S_OPEN:
    if (env->body_case != HUBRPC__V1__ENVELOPE__BODY_HELLO &&
        env->body_case != HUBRPC__V1__ENVELOPE__BODY_AUTH) {
      on_open_msg(s, env);
      return 0;
    }
    break;
  default:
    return 0;
  }
  snprintf(why, sizeof(why), "%s not allowed %s", sim_hubrpc_body_name(env->body_case),
           s->state == PLAT_S_OPEN ? "after the handshake" : "before the handshake ends");
  plat__sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_UNEXPECTED_MESSAGE, why);
  return 0;
}

static int on_frame(void *arg, const uint8_t *body, size_t len) {
  struct plat_session *s = arg;
  struct plat_server *srv = s->srv;
  srv->c.frames_in++;
  /* Only a complete frame shows the hub alive: bytes dripped one at a time must not keep a
   * session (and its descriptor) forever. */
  s->last_rx_ms = plat__mono_ms(srv);
  sim_envelope *env = NULL;
  /* Every message but a Hello (kept until the Auth) is handled before the next frame is read:
   * it is decoded into the server's arena and the arena is reset afterwards. */
  int in_arena = s->state != PLAT_S_HELLO && !srv->arena_in_use;
  srv->arena_in_use |= in_arena;
  int rc = sim_hubrpc_decode_in(body, len, in_arena ? &srv->arena.pa : NULL, &env);
  if (rc) {
    plat__sess_fail(s, sim_hubrpc_error_code(rc),
                    rc == SIM_EUNKNOWN_MSG ? "envelope without a known body"
                                           : "undecodable envelope");
  } else if (!dispatch(s, env) && !in_arena) {
    sim_hubrpc_free(env);
  }
  if (in_arena) {
    plat_arena_reset(&srv->arena);
    srv->arena_in_use = 0;
  }
  if (rc)
    return rc;
  /* Stop feeding once the session ends: later bytes of a failed peer are not ours to read. */
  return s->state == PLAT_S_CLOSING ? SIM_ECLOSED : 0;
}

static void conn_data_cb(struct sim_conn *c, const uint8_t *p, size_t n, void *user) {
  struct plat_session *s = user;
  struct plat_server *srv = s->srv;
  srv->c.bytes_in += n;
  if (s->state == PLAT_S_CLOSING)
    return;
  /* A TLS ClientHello (a handshake record: 0x16 0x03) where a Hello belongs is a hub speaking
   * TLS to a plain port; no hubrpc frame starts so (field 0 is no protobuf field). Named here,
   * and the Error frame that follows is plaintext, which the hub's TLS names in turn. */
  if (s->state == PLAT_S_HELLO && n >= 2 && p[0] == 0x16 && p[1] == 0x03) {
    sim_log_limited(&srv->log_tls, PLAT_LOG_EVERY_MS, SIM_LOG_WARN,
                    "platform: a TLS ClientHello on this plain hubrpc:// port: the hub should "
                    "connect with hubrpc://, or the platform listen on hubrpcs://");
    plat__sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_MALFORMED_FRAME,
                    "TLS ClientHello on a plain hubrpc:// port");
    return;
  }
  int rc = sim_frame_reader_feed(&s->reader, p, n, on_frame, s);
  if (rc && s->state != PLAT_S_CLOSING) {
    /* A framing error: the frame callback fails the session itself for everything else. */
    plat__sess_fail(s, sim_hubrpc_error_code(rc),
                    rc == SIM_ETOOBIG      ? "declared frame length above 65536"
                    : rc == SIM_EMALFORMED ? "bad frame length varint"
                                           : "frame reader failure");
  }
}

static void conn_closed_cb(struct sim_conn *c, int err, void *user) {
  struct plat_session *s = user;
  struct plat_server *srv = s->srv;
  list_remove(list_of(srv, s), s);
  if (s->state != PLAT_S_CLOSING)
    sess_detach(s);
  sess_free(s);
  if (srv->stopping && !srv->closing.head && !srv->live.head && !srv->hs.head)
    plat__stop_finish(srv);
}

static const struct sim_conn_cbs conn_cbs = {
    .connect_cb = NULL,
    .data_cb = conn_data_cb,
    .closed_cb = conn_closed_cb,
};

/* ---------------------------------------------------------------- accepting and sweeping */

/* The lowest free descriptor number, -1 when unknown. Descriptors are handed out lowest first,
 * so when it is at or above (limit - reserve) at most reserve of them are left. */
static long lowest_free_fd(struct plat_server *srv) {
  int fd = fcntl(uv_backend_fd(srv->loop), F_DUPFD_CLOEXEC, 0);
  if (fd < 0)
    return errno == EMFILE ? LONG_MAX : -1;
  close(fd);
  return fd;
}

/* Closes a connection still in its handshake at once, to free its descriptor and its place for
 * a new one. The oldest goes first: a real hub finishes its handshake within a round trip or
 * two, so the oldest are the idle and the slow; an attacker filling the handshakes with idle
 * sockets only pushes out its own. (Refusing the new connection instead would let idle sockets
 * lock every hub out for the 10 s handshake time.) */
static void sess_evict(struct plat_session *s, const char *why) {
  struct plat_server *srv = s->srv;
  srv->c.handshakes_evicted++;
  plat__sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_UNSPECIFIED, why);
  list_remove(&srv->closing, s);
  sim_conn_close(s->conn); /* the Error went to the kernel if it could: tcp writes at once */
  sess_free(s);
}

/* Closes the oldest connection still in its handshake to make room for a new one: first one
 * still in its TLS handshake (it has shown less than one that finished it, and its owner, the
 * session layer, never saw it), else the oldest hubrpc handshake. 0 when there was none. */
static int evict_oldest(struct plat_server *srv, const char *why) {
  if (sim_transport_tls_evict_oldest(srv->t)) {
    srv->c.handshakes_evicted++;
    return 1;
  }
  if (!srv->hs.head)
    return 0;
  sess_evict(srv->hs.head, why);
  return 1;
}

/* Room for one more connection in its handshake: the descriptor reserve and --max-unauth,
 * counting hubrpc handshakes and, over TLS, connections still in their TLS handshake alike.
 * 0 to go on, -1 when the new connection must be closed (descriptors short, nothing to
 * evict). */
static int make_room(struct plat_server *srv) {
  if (srv->check_fds) {
    uint64_t reserve = srv->cfg.fd_reserve;
    long low = lowest_free_fd(srv);
    if (low >= 0 && srv->fd_limit > reserve && (uint64_t)low >= srv->fd_limit - reserve &&
        !evict_oldest(srv, "too many connections: the oldest handshake gives way")) {
      srv->c.conns_refused++;
      sim_log_limited(&srv->log_fd, PLAT_LOG_EVERY_MS, SIM_LOG_WARN,
                      "platform: connection refused: descriptors are down to the %llu kept "
                      "for the store and the admin port (limit %llu, --fd-reserve)",
                      (unsigned long long)reserve, (unsigned long long)srv->fd_limit);
      return -1;
    }
  }
  size_t n = srv->hs.n + sim_transport_tls_handshaking(srv->t);
  if (n >= srv->cfg.max_unauth) {
    sim_log_limited(&srv->log_evict, PLAT_LOG_EVERY_MS, SIM_LOG_WARN,
                    "platform: %zu connections in their handshake (--max-unauth): the oldest "
                    "is closed for each new one",
                    n);
    evict_oldest(srv, "too many connections in their handshake: the oldest gives way");
  }
  return 0;
}

int plat__tls_admit(void *arg) {
  struct plat_server *srv = arg;
  return srv->stopping ? -1 : make_room(srv);
}

void plat__accept_cb(struct sim_listener *l, struct sim_conn *c, void *user) {
  struct plat_server *srv = user;
  if (srv->stopping || make_room(srv)) {
    sim_conn_close(c);
    return;
  }
  struct plat_session *s = calloc(1, sizeof(*s));
  if (!s) {
    sim_conn_close(c);
    return;
  }
  s->srv = srv;
  s->conn = c;
  s->state = PLAT_S_HELLO;
  s->accepted_ms = s->last_rx_ms = plat__mono_ms(srv);
  sim_frame_reader_init(&s->reader, SIM_FRAME_MAX);
  if (sim_conn_start(c, &conn_cbs, s)) {
    sim_frame_reader_fini(&s->reader);
    free(s);
    sim_conn_close(c);
    return;
  }
  list_push(&srv->hs, s);
  srv->c.sessions_accepted++;
}

/* Sends Heartbeat{platform time} on s. */
static void send_heartbeat(struct plat_session *s) {
  Hubrpc__V1__Heartbeat hb = HUBRPC__V1__HEARTBEAT__INIT;
  hb.time_ms = plat__wall_ms(s->srv);
  sim_envelope out = HUBRPC__V1__ENVELOPE__INIT;
  out.body_case = HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT;
  out.heartbeat = &hb;
  if (plat__sess_send(s, &out))
    plat__sess_close(s);
}

/* Handshake and idle timeouts; Heartbeats to paused sessions (from the server's sweep). */
void plat__sess_sweep(struct plat_server *srv, uint64_t now) {
  uint64_t idle = plat__hb_ms(srv) * 3u;
  struct plat_session *s, *next;
  int no_timeout = (srv->cfg.defects & PLAT_DEFECT_NO_TIMEOUT) != 0;
  /* In age order: the first that is not due ends the walk. */
  for (s = srv->hs.head; s && !no_timeout && now - s->accepted_ms >= PLAT_HANDSHAKE_MS; s = next) {
    next = s->next;
    srv->c.handshake_timeouts++;
    plat__sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_TIMEOUT, "handshake not completed in 10 s");
  }
  for (s = srv->live.head; s; s = next) {
    next = s->next;
    if (s->paused) {
      /* Not read, so its Heartbeats are not answered: ours keep its idle timer quiet. */
      if (now >= s->deadline_ms) {
        s->deadline_ms = now + plat__hb_ms(srv);
        send_heartbeat(s);
      }
    } else if (now - s->last_rx_ms >= idle && !no_timeout) {
      srv->c.idle_timeouts++;
      plat__sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_TIMEOUT,
                      "no complete frame received for 3 heartbeats");
    }
  }
}
