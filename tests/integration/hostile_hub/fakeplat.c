#include "fakeplat.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"
#include "sim/wire/auth.h"

struct fp_conn {
  struct fakeplat *fp;
  struct sim_conn *c;
  struct sim_frame_reader rd;
  struct fp_conn *next; /* every open connection, for fp_stop */
  int hub;              /* 0 victim, 1 neighbour, -1 before its Hello */
  unsigned no;          /* ordinal among the hub's connections */
  uint8_t cn[16];
  int hostile;  /* the victim's first connection: the case acts on it */
  int open;     /* a Welcome was sent */
  int close_me; /* close once the read returns */
  int trickle;
  int muted;           /* no Acks, no Heartbeat answers */
  uint64_t rx_top;     /* highest seq received on this connection (or the Welcome's acked_seq) */
  uint64_t acked_sent; /* highest up_to_seq sent on this connection */
  struct sim_buf out;  /* trickled bytes not written yet */
};

static void failf(struct fakeplat *fp, const char *fmt, ...) {
  if (fp->fail[0])
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(fp->fail, sizeof(fp->fail), fmt, ap);
  va_end(ap);
}

struct fp_hub *fp_hub_of(const struct fp_conn *p) {
  return p->hub >= 0 ? &p->fp->hub[p->hub] : NULL;
}

unsigned fp_conn_no(const struct fp_conn *p) {
  return p->no;
}

void fp_send(struct fp_conn *p, const void *bytes, size_t n) {
  if (!p->c)
    return;
  if (p->trickle) {
    sim_buf_append(&p->out, bytes, n);
    return;
  }
  sim_conn_send(p->c, bytes, n);
}

void fp_send_env(struct fp_conn *p, const sim_envelope *env) {
  struct sim_buf b;
  sim_buf_init(&b);
  if (sim_hubrpc_encode(&b, env) == 0)
    fp_send(p, b.data, b.len);
  else
    failf(p->fp, "the fake platform could not encode a %s", sim_hubrpc_body_name(env->body_case));
  sim_buf_fini(&b);
}

void fp_send_challenge(struct fp_conn *p, size_t nonce_len) {
  static uint8_t sn[32]; /* zeros: the fake platform checks the mac against them */
  Hubrpc__V1__Challenge ch = HUBRPC__V1__CHALLENGE__INIT;
  ch.server_nonce.data = sn;
  ch.server_nonce.len = nonce_len;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_CHALLENGE;
  env.challenge = &ch;
  fp_send_env(p, &env);
}

void fp_send_welcome(struct fp_conn *p, uint32_t heartbeat_s, uint64_t acked_seq,
                     uint32_t max_window) {
  Hubrpc__V1__Welcome w = HUBRPC__V1__WELCOME__INIT;
  w.session_id = 1;
  w.heartbeat_s = heartbeat_s;
  w.acked_seq = acked_seq;
  w.max_window = max_window;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_WELCOME;
  env.welcome = &w;
  fp_send_env(p, &env);
}

void fp_send_ack(struct fp_conn *p, uint64_t up_to) {
  Hubrpc__V1__Ack a = HUBRPC__V1__ACK__INIT;
  a.up_to_seq = up_to;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_ACK;
  env.ack = &a;
  fp_send_env(p, &env);
  if (up_to > p->acked_sent)
    p->acked_sent = up_to;
}

void fp_close_soon(struct fp_conn *p) {
  p->close_me = 1;
}

void fp_trickle(struct fp_conn *p) {
  p->trickle = 1;
}

void fp_mute(struct fp_conn *p) {
  p->muted = 1;
}

int fp_hub_online(const struct fp_hub *h) {
  return h->live && h->live->open && h->live->c;
}

/* The Ack a correct platform owes p now: what is received in order, but never above what this
 * session has sent (docs/protocol.md 4.9). 0 when none is owed. */
static uint64_t ack_owed(const struct fp_conn *p) {
  const struct fp_hub *h = fp_hub_of(p);
  if (!h || !p->open || p->muted)
    return 0;
  uint64_t up = h->received < p->rx_top ? h->received : p->rx_top;
  return up > p->acked_sent ? up : 0;
}

static void conn_free(struct fp_conn *p) {
  struct fakeplat *fp = p->fp;
  for (struct fp_conn **pp = &fp->conn_list; *pp; pp = &(*pp)->next) {
    if (*pp == p) {
      *pp = p->next;
      break;
    }
  }
  struct fp_hub *h = fp_hub_of(p);
  if (h && h->live == p)
    h->live = NULL;
  sim_frame_reader_fini(&p->rd);
  sim_buf_fini(&p->out);
  fp->conns--;
  free(p);
}

static void on_hello(struct fp_conn *p, const Hubrpc__V1__Hello *m) {
  struct fakeplat *fp = p->fp;
  p->hub = -1;
  for (int i = 0; i < 2; i++)
    if (m->hub_id && strcmp(m->hub_id, fp->hub[i].id) == 0)
      p->hub = i;
  if (p->hub < 0 || m->client_nonce.len != 16) {
    failf(fp, "a Hello from an unknown hub '%s'", m->hub_id ? m->hub_id : "");
    p->close_me = 1;
    return;
  }
  struct fp_hub *h = &fp->hub[p->hub];
  memcpy(p->cn, m->client_nonce.data, 16);
  p->no = ++h->hellos;
  h->live = p;
  if (m->boot_id != h->boot) { /* a new boot: a new sequence (docs/protocol.md 7.4) */
    h->boot = m->boot_id;
    h->received = 0;
    h->boots++;
  }
  p->hostile = p->hub == 0 && p->no == (fp->c->act_on_reconnect_after ? 2u : 1u);
  if (p->hostile && fp->c->when == FP_AT_HELLO && fp->c->act)
    fp->c->act(p);
  else
    fp_send_challenge(p, 16);
}

void fp_open_session(struct fp_conn *p, uint32_t heartbeat_s) {
  struct fp_hub *h = fp_hub_of(p);
  fp_send_welcome(p, heartbeat_s, h->received, 256);
  p->open = 1;
  p->rx_top = p->acked_sent = h->received;
  h->opens++;
}

static void on_auth(struct fp_conn *p, const Hubrpc__V1__Auth *m) {
  struct fakeplat *fp = p->fp;
  struct fp_hub *h = fp_hub_of(p);
  if (!h) {
    failf(fp, "an Auth before a Hello");
    return;
  }
  uint8_t secret[32], mac[32], sn[16] = {0};
  sim_auth_hub_secret(fp->key, fp->key_len, h->id, secret);
  sim_auth_mac(secret, p->cn, sn, mac);
  if (m->mac.len != 32 || memcmp(m->mac.data, mac, 32) != 0)
    failf(fp, "hub %s sent a wrong mac", h->id);
  if (p->hostile && fp->c->when == FP_AT_AUTH && fp->c->act) {
    fp->c->act(p);
    return;
  }
  fp_open_session(p, 30);
  if (p->hostile && fp->c->when == FP_AT_OPEN && fp->c->act)
    fp->c->act(p);
}

static void on_sequenced(struct fp_conn *p, const sim_envelope *env, uint64_t seq) {
  struct fakeplat *fp = p->fp;
  struct fp_hub *h = fp_hub_of(p);
  if (!h || !p->open) {
    /* A hub may send only once its session is open; a Welcome of the case counts. */
    if (!(p->hostile && fp->c->when == FP_AT_AUTH))
      failf(fp, "a sequenced %s before the Welcome", sim_hubrpc_body_name(env->body_case));
    if (!h)
      return;
  }
  if (seq > p->rx_top)
    p->rx_top = seq;
  if (seq <= h->received) {
    h->duplicates++;
    return;
  }
  if (seq != h->received + 1) {
    h->gaps++;
    failf(fp, "hub %s skipped from seq %llu to %llu", h->id, (unsigned long long)h->received,
          (unsigned long long)seq);
    return;
  }
  h->received = seq;
  if (env->body_case == HUBRPC__V1__ENVELOPE__BODY_DEVICE_JOINED && h->n_joined < 16)
    h->joined[h->n_joined++] = env->device_joined->device;
  if (env->body_case == HUBRPC__V1__ENVELOPE__BODY_REPORT) {
    h->reports++;
    unsigned k = 0;
    while (k < h->n_joined && h->joined[k] != env->report->device)
      k++;
    if (k == h->n_joined && h->n_joined < 16 && h->boots == 1)
      failf(fp, "hub %s reported device %016llx (seq %llu) before its DeviceJoined", h->id,
            (unsigned long long)env->report->device, (unsigned long long)seq);
  }
  if (env->body_case == HUBRPC__V1__ENVELOPE__BODY_COMMAND_RESULT) {
    h->results++;
    h->last_cmd_id = env->command_result->cmd_id;
    h->last_cmd_status = (int)env->command_result->status;
  }
  if (p->hub == 0 && p->no == 1 && fp->c->act_on_reconnect_after &&
      h->received >= fp->c->act_on_reconnect_after) {
    fp_send_ack(p, h->received);
    p->close_me = 1; /* served correctly; the case acts on the next connection */
  }
  if (p->hostile && fp->c->forget_after && h->received >= fp->c->forget_after) {
    fp_send_ack(p, h->received);
    h->received = 0; /* the store went back in time */
    p->close_me = 1;
  }
}

static int on_frame(void *arg, const uint8_t *body, size_t len) {
  struct fp_conn *p = arg;
  struct fakeplat *fp = p->fp;
  sim_envelope *env = NULL;
  if (sim_hubrpc_decode(body, len, &env)) {
    failf(fp, "a hub sent a frame that does not decode (%zu bytes)", len);
    return SIM_EMALFORMED;
  }
  switch (env->body_case) {
  case HUBRPC__V1__ENVELOPE__BODY_HELLO:
    on_hello(p, env->hello);
    break;
  case HUBRPC__V1__ENVELOPE__BODY_AUTH:
    on_auth(p, env->auth);
    break;
  case HUBRPC__V1__ENVELOPE__BODY_REPORT:
    on_sequenced(p, env, env->report->seq);
    break;
  case HUBRPC__V1__ENVELOPE__BODY_DEVICE_JOINED:
    on_sequenced(p, env, env->device_joined->seq);
    break;
  case HUBRPC__V1__ENVELOPE__BODY_DEVICE_LEFT:
    on_sequenced(p, env, env->device_left->seq);
    break;
  case HUBRPC__V1__ENVELOPE__BODY_COMMAND_RESULT:
    on_sequenced(p, env, env->command_result->seq);
    break;
  case HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT:
    if (!p->muted) {
      Hubrpc__V1__Heartbeat hb = HUBRPC__V1__HEARTBEAT__INIT;
      hb.time_ms = env->heartbeat->time_ms;
      sim_envelope out = HUBRPC__V1__ENVELOPE__INIT;
      out.body_case = HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT;
      out.heartbeat = &hb;
      fp_send_env(p, &out);
    }
    break;
  case HUBRPC__V1__ENVELOPE__BODY_ERROR: {
    struct fp_hub *h = fp_hub_of(p);
    if (h) {
      h->errors_rx++;
      if (p->hostile && h->first_error < 0)
        h->first_error = (int)env->error->code;
    }
    break;
  }
  case HUBRPC__V1__ENVELOPE__BODY_GOODBYE:
    break;
  default:
    failf(fp, "a hub sent %s", sim_hubrpc_body_name(env->body_case));
    break;
  }
  sim_hubrpc_free(env);
  return p->close_me; /* stop reading once the connection is to close */
}

static void on_data(struct sim_conn *c, const uint8_t *d, size_t n, void *user) {
  struct fp_conn *p = user;
  (void)c;
  int rc = sim_frame_reader_feed(&p->rd, d, n, on_frame, p);
  if (rc && rc != 1)
    failf(p->fp, "framing error from a hub: %s", sim_strerror(rc));
  if (p->close_me || rc) {
    sim_conn_close(p->c);
    p->c = NULL;
    conn_free(p);
    return;
  }
  uint64_t up = ack_owed(p);
  if (up && !p->trickle)
    fp_send_ack(p, up);
}

static void on_closed(struct sim_conn *c, int err, void *user) {
  struct fp_conn *p = user;
  (void)c;
  (void)err;
  struct fp_hub *h = fp_hub_of(p);
  if (h && p->hostile)
    h->first_closed_by_hub = 1;
  p->c = NULL;
  conn_free(p);
}

static const struct sim_conn_cbs fp_cbs = {NULL, on_data, on_closed};

static void on_accept(struct sim_listener *l, struct sim_conn *c, void *user) {
  struct fakeplat *fp = user;
  (void)l;
  struct fp_conn *p = calloc(1, sizeof(*p));
  if (!p) {
    sim_conn_close(c);
    return;
  }
  p->fp = fp;
  p->c = c;
  p->hub = -1;
  sim_frame_reader_init(&p->rd, SIM_FRAME_MAX);
  sim_buf_init(&p->out);
  p->next = fp->conn_list;
  fp->conn_list = p;
  fp->conns++;
  if (sim_conn_start(c, &fp_cbs, p)) {
    sim_conn_close(c);
    p->c = NULL;
    conn_free(p);
  }
}

/* Every millisecond: one byte for each trickled connection, and its coalesced Ack once the
 * bytes before it are out. */
static void on_tick(uv_timer_t *t) {
  struct fakeplat *fp = t->data;
  for (struct fp_conn *p = fp->conn_list; p; p = p->next) {
    if (!p->trickle || !p->c)
      continue;
    if (p->out.len == 0) {
      uint64_t up = ack_owed(p);
      if (up)
        fp_send_ack(p, up); /* queued into out */
    }
    if (p->out.len) {
      sim_conn_send(p->c, p->out.data, 1);
      sim_buf_consume(&p->out, 1);
    }
  }
}

int fp_start(struct fakeplat *fp, uv_loop_t *loop, const struct fp_case *c, const char *victim_id,
             const char *good_id) {
  static const uint8_t key[] = "hubsim-demo-fleet-key";
  memset(fp, 0, sizeof(*fp));
  fp->loop = loop;
  fp->c = c;
  fp->key = key;
  fp->key_len = sizeof(key) - 1;
  snprintf(fp->hub[0].id, sizeof(fp->hub[0].id), "%s", victim_id);
  snprintf(fp->hub[1].id, sizeof(fp->hub[1].id), "%s", good_id);
  fp->hub[0].first_error = fp->hub[1].first_error = -1;
  int rc = sim_transport_tcp_new(loop, &fp->t);
  if (rc)
    return rc;
  struct sim_addr a = {"127.0.0.1", 0};
  if ((rc = sim_transport_listen(fp->t, &a, on_accept, fp, &fp->l))) {
    sim_transport_free(fp->t);
    return rc;
  }
  fp->port = sim_listener_port(fp->l);
  uv_timer_init(loop, &fp->tick);
  fp->tick.data = fp;
  uv_timer_start(&fp->tick, on_tick, 1, 1);
  return 0;
}

static void tick_closed(uv_handle_t *h) {
  (void)h;
}

void fp_stop(struct fakeplat *fp) {
  while (fp->conn_list) {
    struct fp_conn *p = fp->conn_list;
    if (p->c)
      sim_conn_close(p->c);
    p->c = NULL;
    conn_free(p);
  }
  uv_close((uv_handle_t *)&fp->tick, tick_closed);
  sim_listener_close(fp->l);
  uv_run(fp->loop, UV_RUN_NOWAIT);
  sim_transport_free(fp->t);
  uv_run(fp->loop, UV_RUN_NOWAIT);
}
