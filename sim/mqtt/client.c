/* The MQTT client session (client.h). One struct per client; the publishes waiting for an
 * answer sit in a singly linked in-flight list in the order they were sent (so that a resend
 * after a reconnect keeps their order, as MQTT 4.6 asks), the ones behind the window in a queue.
 * The window is small (Receive Maximum, tens), so a packet identifier is matched by walking it.
 *
 * Timers: one uv_timer_t per client, waiting for the CONNACK while connecting, then ticking at
 * half the keepalive to send PINGREQ after an idle half keepalive and to notice a PINGRESP that
 * did not come. */
#include "sim/mqtt/client.h"

#include <assert.h>
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"
#include "sim/core/log.h"
#include "sim/mqtt/codec.h"

enum cstate { ST_IDLE, ST_CONNECTING, ST_CONNACK, ST_UP };

/* An outgoing QoS 1/2 publish: topic then payload in data. stage: 0 queued, 1 waiting for
 * PUBACK or PUBREC, 2 (QoS 2) waiting for PUBCOMP. */
struct out_msg {
  struct out_msg *next;
  uint64_t token;
  uint16_t pid, topic_len;
  uint8_t qos, retain, stage;
  size_t len;
  uint8_t data[];
};

struct sim_mqtt_client {
  uv_loop_t *loop;
  uv_timer_t timer;
  struct sim_mqtt_client_opts o; /* strings below are our copies */
  struct sim_mqtt_client_cbs cbs;
  void *user;
  struct sim_conn *conn;
  enum cstate st;
  struct sim_mqtt_reader rd;
  struct out_msg *infl, *infl_tail, *q, *q_tail;
  size_t n_infl, n_q;
  uint16_t window, alias_limit, n_alias;
  uint32_t peer_max_packet;
  struct sim_log_limit log_big;      /* oversized messages dropped: one line per 10 s */
  uint8_t peer_max_qos, peer_retain; /* 5: the CONNACK's Maximum QoS, Retain Available */
  char **aliases;
  uint16_t next_pid;
  uint64_t next_token;
  uint16_t *qos2_in; /* incoming QoS 2 packet ids waiting for PUBREL (made at the first) */
  uint16_t n_qos2_in;
  uint64_t last_send_ms, ping_sent_ms;
  int ping_out;
  uint32_t ka_ms, pingresp_ms; /* this connection's keepalive and PINGRESP wait */
  struct sim_mqtt_client_stats stats;
  /* The last error as a sentence: WHY_CAP bytes made at the first error, so that thousands of
   * healthy clients do not each carry a buffer they never use. */
  char *why;
};

#define WHY_CAP 256u

static const struct sim_conn_cbs conn_cbs;

static char *dup_str(const char *s) {
  if (!s)
    return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

static int topic_ok(const char *t, int wildcards) {
  size_t n = strlen(t);
  if (n == 0 || n > 65535)
    return 0;
  if (!wildcards && strpbrk(t, "+#"))
    return 0;
  struct sim_buf b;
  sim_buf_init(&b);
  int ok = sim_mqtt_list_add(&b, t, -1) == 0; /* the codec's UTF-8 rule */
  sim_buf_fini(&b);
  return ok;
}

/* ---- sending ---- */

#define OUT_KEEP 512u /* the encode buffer's capacity kept between packets */

/* The encode buffer is the thread's, not the client's: a packet is encoded and handed to the
 * transport, which copies or writes it before sim_conn_send() returns, so no client needs the
 * bytes afterwards. With ten thousand idle connections a buffer each would be a few hundred
 * bytes per hub for nothing. enc_busy covers a send made from inside another send (a transport
 * callback that runs inside sim_conn_send): that one encodes into a buffer of its own. The
 * key's destructor gives the buffer back when a thread that used it ends. */
static _Thread_local struct sim_buf enc_buf;
static _Thread_local int enc_busy;
static pthread_key_t enc_key;
static pthread_once_t enc_once = PTHREAD_ONCE_INIT;

static void enc_thread_end(void *unused) {
  (void)unused;
  sim_buf_fini(&enc_buf);
}

static void enc_key_make(void) {
  if (pthread_key_create(&enc_key, enc_thread_end) != 0)
    enc_key = 0; /* without a key the buffer is kept until the process ends */
}

static int send_pkt(struct sim_mqtt_client *c, const struct sim_mqtt_packet *pkt) {
  if (!c->conn)
    return SIM_ECLOSED;
  struct sim_buf own, *out = &own;
  sim_buf_init(&own);
  if (!enc_busy) {
    if (!enc_buf.data) {
      pthread_once(&enc_once, enc_key_make);
      pthread_setspecific(enc_key, &enc_buf);
    }
    out = &enc_buf;
    enc_busy = 1;
  }
  out->len = 0;
  int rc = sim_mqtt_encode(out, pkt, c->o.version);
  if (!rc)
    rc = sim_conn_send(c->conn, out->data, out->len);
  if (!rc)
    c->last_send_ms = uv_now(c->loop);
  /* A buffer grown for a large packet (a bridge's device list, a discovery config) is given
   * back rather than kept for packets sent once. */
  if (out == &own || out->cap > OUT_KEEP)
    sim_buf_fini(out);
  if (out == &enc_buf)
    enc_busy = 0;
  return rc;
}

static int send_ack(struct sim_mqtt_client *c, int type, uint16_t pid) {
  struct sim_mqtt_packet pkt = {.type = (uint8_t)type, .packet_id = pid};
  return send_pkt(c, &pkt);
}

/* The alias of topic on this connection: an existing one (*fresh 0), a new one (*fresh 1), or 0
 * when aliases are off or all taken. */
static uint16_t alias_for(struct sim_mqtt_client *c, const char *topic, size_t n, int *fresh) {
  *fresh = 0;
  for (uint16_t i = 0; i < c->n_alias; i++)
    if (strlen(c->aliases[i]) == n && memcmp(c->aliases[i], topic, n) == 0)
      return (uint16_t)(i + 1);
  if (c->n_alias >= c->alias_limit)
    return 0;
  char *copy = malloc(n + 1);
  if (!copy)
    return 0;
  memcpy(copy, topic, n);
  copy[n] = '\0';
  c->aliases[c->n_alias++] = copy;
  *fresh = 1;
  return c->n_alias;
}

static int send_publish(struct sim_mqtt_client *c, const char *topic, size_t topic_len,
                        const uint8_t *payload, size_t len, int qos, int retain, uint16_t pid,
                        int dup) {
  struct sim_mqtt_packet pkt = {.type = SIM_MQTT_PUBLISH, .qos = (uint8_t)qos};
  pkt.retain = (uint8_t)(retain != 0);
  pkt.dup = (uint8_t)(dup != 0);
  pkt.packet_id = pid;
  pkt.topic = (struct sim_mqtt_bytes){(const uint8_t *)topic, (uint16_t)topic_len};
  pkt.payload = payload;
  pkt.payload_len = len;
  int fresh;
  uint16_t alias = c->alias_limit ? alias_for(c, topic, topic_len, &fresh) : 0;
  if (alias) {
    sim_mqtt_set(&pkt.props, SIM_MQTT_P_TOPIC_ALIAS);
    pkt.props.topic_alias = alias;
    if (!fresh) {
      pkt.topic.n = 0; /* the broker knows the topic by its alias (5.0 3.3.2.3.4) */
      c->stats.aliased++;
    }
  }
  return send_pkt(c, &pkt);
}

static int send_msg(struct sim_mqtt_client *c, struct out_msg *m, int dup) {
  if (m->stage == 2) {
    struct sim_mqtt_packet rel = {.type = SIM_MQTT_PUBREL, .packet_id = m->pid};
    return send_pkt(c, &rel);
  }
  return send_publish(c, (const char *)m->data, m->topic_len, m->data + m->topic_len, m->len,
                      m->qos, m->retain, m->pid, dup);
}

static int pid_in_use(const struct sim_mqtt_client *c, uint16_t pid) {
  for (const struct out_msg *m = c->infl; m; m = m->next)
    if (m->pid == pid)
      return 1;
  return 0;
}

static uint16_t new_pid(struct sim_mqtt_client *c) {
  for (unsigned i = 0; i < 65536u; i++) {
    if (++c->next_pid == 0)
      c->next_pid = 1;
    if (!pid_in_use(c, c->next_pid))
      return c->next_pid;
  }
  return 0; /* unreachable: the window is below 65,535 */
}

/* Appends m to a list (the in-flight one keeps the order of sending, for resends, 4.6). */
static void list_push(struct out_msg **head, struct out_msg **tail, size_t *n, struct out_msg *m) {
  m->next = NULL;
  if (*tail)
    (*tail)->next = m;
  else
    *head = m;
  *tail = m;
  (*n)++;
}

/* Moves queued publishes into the window while it has room. */
static void pump(struct sim_mqtt_client *c) {
  while (c->st == ST_UP && c->q && c->n_infl < c->window) {
    struct out_msg *m = c->q;
    c->q = m->next;
    if (!c->q)
      c->q_tail = NULL;
    c->n_q--;
    m->next = NULL;
    m->pid = new_pid(c);
    m->stage = 1;
    list_push(&c->infl, &c->infl_tail, &c->n_infl, m);
    c->stats.published++;
    if (send_msg(c, m, 0))
      return; /* the transport reports the end through closed_cb; m stays in flight */
  }
}

/* ---- ending a connection ---- */

static void clear_aliases(struct sim_mqtt_client *c) {
  for (uint16_t i = 0; i < c->n_alias; i++)
    free(c->aliases[i]);
  c->n_alias = 0;
  c->alias_limit = 0;
}

/* Ends the connection without a callback. */
static void close_quiet(struct sim_mqtt_client *c) {
  if (c->conn)
    sim_conn_close(c->conn);
  c->conn = NULL;
  c->st = ST_IDLE;
  uv_timer_stop(&c->timer);
  c->ping_out = 0;
  clear_aliases(c);
  sim_mqtt_reader_fini(&c->rd);
  sim_mqtt_reader_init(&c->rd, c->o.max_packet, c->o.version);
  c->rd.skip_big = c->o.skip_oversized;
}

/* Ends the connection for err, keeps the sentence, and tells the owner. */
static void fail(struct sim_mqtt_client *c, int err, const char *fmt, ...) {
  if (!c->why)
    c->why = malloc(WHY_CAP); /* without memory the sentence is lost, not the close */
  if (c->why) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, WHY_CAP, fmt, ap);
    va_end(ap);
  }
  close_quiet(c);
  if (c->cbs.closed_cb)
    c->cbs.closed_cb(c, err, c->user);
}

/* ---- timers ---- */

static void on_tick(uv_timer_t *t) {
  struct sim_mqtt_client *c = t->data;
  uint64_t now = uv_now(c->loop);
  if (c->st == ST_CONNACK) {
    fail(c, SIM_ETIMEOUT, "no CONNACK within %u ms", (unsigned)c->o.connack_ms);
    return;
  }
  if (c->st != ST_UP)
    return;
  if (c->ping_out) {
    if (now - c->ping_sent_ms >= c->pingresp_ms)
      fail(c, SIM_ETIMEOUT, "no PINGRESP within %u ms", (unsigned)c->pingresp_ms);
    return;
  }
  if (now - c->last_send_ms >= c->ka_ms / 2) {
    struct sim_mqtt_packet ping = {.type = SIM_MQTT_PINGREQ};
    if (send_pkt(c, &ping) == 0) {
      c->ping_out = 1;
      c->ping_sent_ms = now;
      c->stats.pings++;
    }
  }
}

static void start_keepalive(struct sim_mqtt_client *c) {
  if (c->ka_ms == 0)
    return;
  c->pingresp_ms = c->o.pingresp_ms ? c->o.pingresp_ms : c->ka_ms;
  uint64_t tick = c->ka_ms / 2 < c->pingresp_ms / 2 ? c->ka_ms / 2 : c->pingresp_ms / 2;
  if (tick < 20)
    tick = 20;
  uv_timer_start(&c->timer, on_tick, tick, tick);
}

/* ---- receiving ---- */

static void complete(struct sim_mqtt_client *c, struct out_msg *m, uint8_t reason) {
  int status = reason >= 0x80 ? SIM_EPEER : 0;
  if (status)
    c->stats.refused++;
  else
    c->stats.acked++;
  uint64_t token = m->token;
  free(m);
  if (c->cbs.done_cb)
    c->cbs.done_cb(c, token, status, reason, c->user);
}

/* Unlinks and returns the in-flight publish with pid at stage, NULL if none. */
static struct out_msg *take_infl(struct sim_mqtt_client *c, uint16_t pid, int qos, int stage) {
  struct out_msg *prev = NULL;
  for (struct out_msg *m = c->infl; m; prev = m, m = m->next) {
    if (m->pid != pid)
      continue;
    if (m->qos != qos || m->stage != stage)
      return NULL;
    if (prev)
      prev->next = m->next;
    else
      c->infl = m->next;
    if (c->infl_tail == m)
      c->infl_tail = prev;
    c->n_infl--;
    m->next = NULL;
    return m;
  }
  return NULL;
}

static void on_ack(struct sim_mqtt_client *c, const struct sim_mqtt_packet *p) {
  struct out_msg *m;
  switch (p->type) {
  case SIM_MQTT_PUBACK:
    if ((m = take_infl(c, p->packet_id, 1, 1)))
      complete(c, m, p->reason);
    break;
  case SIM_MQTT_PUBREC:
    if (!(m = take_infl(c, p->packet_id, 2, 1)))
      break;
    if (p->reason >= 0x80) {
      complete(c, m, p->reason);
      break;
    }
    /* Back into the window, now waiting for PUBCOMP, at the tail (the order of PUBRELs is
     * the order of PUBRECs, 4.6). */
    m->stage = 2;
    list_push(&c->infl, &c->infl_tail, &c->n_infl, m);
    send_msg(c, m, 0);
    return;
  default: /* PUBCOMP */
    if ((m = take_infl(c, p->packet_id, 2, 2)))
      complete(c, m, p->reason);
    break;
  }
  pump(c);
}

static int qos2_find(const struct sim_mqtt_client *c, uint16_t pid) {
  for (uint16_t i = 0; i < c->n_qos2_in; i++)
    if (c->qos2_in[i] == pid)
      return i;
  return -1;
}

static int deliver_publish(struct sim_mqtt_client *c, const struct sim_mqtt_packet *p);

/* An incoming PUBLISH: delivered once, acknowledged as its QoS asks (QoS 2 delivered on arrival
 * and its packet id kept until PUBREL, so a resent copy is acknowledged, not delivered again). */
static int on_publish(struct sim_mqtt_client *c, const struct sim_mqtt_packet *p) {
  if (sim_mqtt_has(&p->props, SIM_MQTT_P_TOPIC_ALIAS)) {
    fail(c, SIM_EMALFORMED, "broker used a topic alias (we allow none)");
    return 1;
  }
  if (p->qos == 2) {
    if (qos2_find(c, p->packet_id) >= 0) {
      send_ack(c, SIM_MQTT_PUBREC, p->packet_id);
      return 0;
    }
    if (c->n_qos2_in >= c->o.receive_max) {
      fail(c, SIM_EWINDOW, "broker exceeded our Receive Maximum of %u", c->o.receive_max);
      return 1;
    }
    if (!c->qos2_in && !(c->qos2_in = calloc(c->o.receive_max, sizeof *c->qos2_in))) {
      fail(c, SIM_ENOMEM, "out of memory for incoming QoS 2 packet ids");
      return 1;
    }
    c->qos2_in[c->n_qos2_in++] = p->packet_id;
  }
  if (p->oversized) {
    c->stats.oversized++;
    sim_log_limited(&c->log_big, 10000, SIM_LOG_WARN,
                    "mqtt: a message of %zu bytes (above our limit of %zu) on %.*s dropped",
                    p->oversized, c->o.max_packet, (int)(p->topic.n > 80 ? 80 : p->topic.n),
                    (const char *)p->topic.p);
  } else if (deliver_publish(c, p))
    return 1;
  if (c->st != ST_UP)
    return 1; /* the owner ended the connection in its callback */
  if (p->qos == 1)
    send_ack(c, SIM_MQTT_PUBACK, p->packet_id);
  else if (p->qos == 2)
    send_ack(c, SIM_MQTT_PUBREC, p->packet_id);
  return 0;
}

/* An incoming PUBLISH to the owner's message_cb; 1 when out of memory (the client failed). */
static int deliver_publish(struct sim_mqtt_client *c, const struct sim_mqtt_packet *p) {
  char small[256];
  char *topic = p->topic.n < sizeof small ? small : malloc((size_t)p->topic.n + 1);
  if (!topic) {
    fail(c, SIM_ENOMEM, "out of memory for a topic of %u bytes", p->topic.n);
    return 1;
  }
  memcpy(topic, p->topic.p, p->topic.n);
  topic[p->topic.n] = '\0';
  struct sim_mqtt_msg msg = {topic,  p->topic.n, p->payload, p->payload_len,
                             p->qos, p->retain,  p->dup};
  c->stats.received++;
  if (c->cbs.message_cb)
    c->cbs.message_cb(c, &msg, c->user);
  if (topic != small)
    free(topic);
  return 0;
}

static void on_pubrel(struct sim_mqtt_client *c, uint16_t pid) {
  int i = qos2_find(c, pid);
  if (i >= 0)
    c->qos2_in[i] = c->qos2_in[--c->n_qos2_in];
  send_ack(c, SIM_MQTT_PUBCOMP, pid); /* also for an unknown id: the broker's resend */
}

static void lower(char *s) {
  for (; *s; s++)
    *s = (char)tolower((unsigned char)*s);
}

/* A refusing CONNACK: the error code and its sentence. */
static void refused(struct sim_mqtt_client *c, uint8_t code) {
  char name[64];
  snprintf(name, sizeof name, "%s", sim_mqtt_reason_name(SIM_MQTT_CONNACK, c->o.version, code));
  lower(name);
  int auth = c->o.version == SIM_MQTT_V5 ? (code == 0x86 || code == 0x87 || code == 0x8C)
                                         : (code == 4 || code == 5);
  if (c->o.version == SIM_MQTT_V5)
    fail(c, auth ? SIM_EAUTH : SIM_EPEER, "broker refused CONNECT: %s (0x%02x)", name, code);
  else
    fail(c, auth ? SIM_EAUTH : SIM_EPEER, "broker refused CONNECT: %s (%u)", name, code);
}

/* The CONNACK that accepts: the broker's limits, then the resend of what is still in flight:
 * with the session kept, each unanswered PUBLISH again with DUP set and each PUBREL again
 * (4.4); without it, each publish anew. */
static void on_connack(struct sim_mqtt_client *c, const struct sim_mqtt_packet *p) {
  c->stats.connacks++;
  c->stats.last_connack = p->reason;
  if (p->reason) {
    refused(c, p->reason);
    return;
  }
  c->st = ST_UP;
  uv_timer_stop(&c->timer);
  c->window = c->o.inflight_max;
  c->peer_max_packet = 0;
  c->peer_max_qos = 2;
  c->peer_retain = 1;
  c->alias_limit = 0;
  if (c->o.version == SIM_MQTT_V5) {
    const struct sim_mqtt_props *pr = &p->props;
    if (sim_mqtt_has(pr, SIM_MQTT_P_RECEIVE_MAX) && pr->receive_max < c->window)
      c->window = pr->receive_max;
    if (sim_mqtt_has(pr, SIM_MQTT_P_MAX_PACKET_SIZE))
      c->peer_max_packet = pr->max_packet_size;
    if (sim_mqtt_has(pr, SIM_MQTT_P_TOPIC_ALIAS_MAX))
      c->alias_limit = pr->topic_alias_max < c->o.alias_max ? pr->topic_alias_max : c->o.alias_max;
    if (sim_mqtt_has(pr, SIM_MQTT_P_MAX_QOS))
      c->peer_max_qos = pr->max_qos;
    if (sim_mqtt_has(pr, SIM_MQTT_P_RETAIN_AVAILABLE))
      c->peer_retain = pr->retain_available;
    if (sim_mqtt_has(pr, SIM_MQTT_P_SERVER_KEEPALIVE))
      c->ka_ms = (uint32_t)pr->server_keepalive * 1000u;
  }
  for (struct out_msg *m = c->infl; m; m = m->next) {
    if (p->session_present) {
      c->stats.resent_dup++;
      send_msg(c, m, m->stage == 1);
    } else {
      m->stage = 1;
      c->stats.resent_new++;
      send_msg(c, m, 0);
    }
  }
  start_keepalive(c);
  pump(c);
  if (c->cbs.connected_cb)
    c->cbs.connected_cb(c, p->session_present, c->user);
}

static int on_packet(void *arg, const struct sim_mqtt_packet *p) {
  struct sim_mqtt_client *c = arg;
  if (c->st == ST_CONNACK) {
    if (p->type != SIM_MQTT_CONNACK) {
      fail(c, SIM_EUNEXPECTED, "broker sent %s before CONNACK", sim_mqtt_type_name(p->type));
      return 1;
    }
    on_connack(c, p);
    return c->st == ST_UP ? 0 : 1;
  }
  switch (p->type) {
  case SIM_MQTT_PUBLISH:
    return on_publish(c, p);
  case SIM_MQTT_PUBACK:
  case SIM_MQTT_PUBREC:
  case SIM_MQTT_PUBCOMP:
    on_ack(c, p);
    break;
  case SIM_MQTT_PUBREL:
    on_pubrel(c, p->packet_id);
    break;
  case SIM_MQTT_SUBACK:
    if (c->cbs.subscribed_cb)
      c->cbs.subscribed_cb(c, p->packet_id, p->list, p->count, c->user);
    break;
  case SIM_MQTT_UNSUBACK:
    break;
  case SIM_MQTT_PINGRESP:
    c->ping_out = 0;
    c->stats.pingresps++;
    break;
  case SIM_MQTT_DISCONNECT: {
    char name[64];
    snprintf(name, sizeof name, "%s", sim_mqtt_reason_name(p->type, c->o.version, p->reason));
    lower(name);
    fail(c, SIM_EPEER, "broker sent DISCONNECT: %s (0x%02x)", name, p->reason);
    return 1;
  }
  default:
    fail(c, SIM_EUNEXPECTED, "broker sent %s, which a broker never sends to a client",
         sim_mqtt_type_name(p->type));
    return 1;
  }
  return c->st == ST_UP ? 0 : 1;
}

/* ---- transport callbacks ---- */

static void send_connect(struct sim_mqtt_client *c) {
  struct sim_mqtt_packet pkt = {.type = SIM_MQTT_CONNECT};
  struct sim_mqtt_connect *k = &pkt.connect;
#define STRB(s) ((struct sim_mqtt_bytes){(const uint8_t *)(s), (uint16_t)strlen(s)})
  k->clean = (uint8_t)(c->o.clean != 0);
  k->keepalive = c->o.keepalive;
  k->client_id = STRB(c->o.client_id);
  if (c->o.will_topic) {
    k->will = 1;
    k->will_qos = (uint8_t)c->o.will_qos;
    k->will_retain = (uint8_t)(c->o.will_retain != 0);
    k->will_topic = STRB(c->o.will_topic);
    k->will_payload = (struct sim_mqtt_bytes){c->o.will_payload, (uint16_t)c->o.will_len};
  }
  if (c->o.username) {
    k->has_username = 1;
    k->username = STRB(c->o.username);
  }
  if (c->o.password) {
    k->has_password = 1;
    k->password = STRB(c->o.password);
  }
#undef STRB
  if (c->o.version == SIM_MQTT_V5) {
    struct sim_mqtt_props *pr = &pkt.props;
    sim_mqtt_set(pr, SIM_MQTT_P_RECEIVE_MAX);
    pr->receive_max = c->o.receive_max;
    sim_mqtt_set(pr, SIM_MQTT_P_MAX_PACKET_SIZE);
    pr->max_packet_size = (uint32_t)c->o.max_packet;
    if (c->o.session_expiry) {
      sim_mqtt_set(pr, SIM_MQTT_P_SESSION_EXPIRY);
      pr->session_expiry = c->o.session_expiry;
    }
  }
  send_pkt(c, &pkt);
}

static void on_connect(struct sim_conn *conn, int status, void *user) {
  struct sim_mqtt_client *c = user;
  if (status < 0) {
    c->conn = NULL;
    fail(c, status, "connect to the broker failed: %s", sim_strerror(status));
    return;
  }
  c->conn = conn;
  c->st = ST_CONNACK;
  c->ka_ms = (uint32_t)c->o.keepalive * 1000u;
  send_connect(c);
  uv_timer_start(&c->timer, on_tick, c->o.connack_ms, 0);
}

static void on_data(struct sim_conn *conn, const uint8_t *p, size_t n, void *user) {
  (void)conn;
  struct sim_mqtt_client *c = user;
  int rc = sim_mqtt_reader_feed(&c->rd, p, n, on_packet, c);
  if (rc < 0 && c->conn) {
    const char *type = c->rd.type_seen ? sim_mqtt_type_name(c->rd.type_seen) : "type 0";
    if (rc == SIM_ETOOBIG)
      fail(c, rc, "broker sent a packet larger than %zu bytes (%s)", c->rd.max, type);
    else if (rc == SIM_EMALFORMED)
      fail(c, rc, "broker sent a malformed packet: %s (%s)", sim_mqtt_perr_name(c->rd.why), type);
    else
      fail(c, rc, "reading from the broker failed: %s", sim_strerror(rc));
  }
}

static void on_closed(struct sim_conn *conn, int err, void *user) {
  (void)conn;
  struct sim_mqtt_client *c = user;
  c->conn = NULL;
  if (err)
    fail(c, err, "connection to the broker lost: %s", sim_strerror(err));
  else
    fail(c, SIM_ECLOSED, "the broker closed the connection");
}

static const struct sim_conn_cbs conn_cbs = {on_connect, on_data, on_closed};

/* ---- the public calls ---- */

static void free_copies(struct sim_mqtt_client *c) {
  free((char *)c->o.client_id);
  free((char *)c->o.will_topic);
  free((void *)c->o.will_payload);
  free((char *)c->o.username);
  free((char *)c->o.password);
  free(c->aliases);
  free(c->qos2_in);
  free(c->why);
}

static int opts_check(const struct sim_mqtt_client_opts *o) {
  if (!o->client_id || (o->version != SIM_MQTT_V311 && o->version != SIM_MQTT_V5))
    return SIM_EINVAL;
  if (o->will_topic &&
      (!topic_ok(o->will_topic, 0) || o->will_qos < 0 || o->will_qos > 2 || o->will_len > 65535))
    return SIM_EINVAL;
  if (o->version == SIM_MQTT_V311 && o->password && !o->username)
    return SIM_EINVAL;
  return 0;
}

int sim_mqtt_client_new(uv_loop_t *loop, const struct sim_mqtt_client_opts *opts,
                        const struct sim_mqtt_client_cbs *cbs, void *user,
                        struct sim_mqtt_client **out) {
  struct sim_mqtt_client_opts o = *opts;
  if (o.version == 0)
    o.version = SIM_MQTT_V5;
  int rc = opts_check(&o);
  if (rc)
    return rc;
  o.inflight_max = o.inflight_max ? o.inflight_max : 20;
  o.queue_max = o.queue_max ? o.queue_max : 1000;
  o.receive_max = o.receive_max ? o.receive_max : 32;
  o.connack_ms = o.connack_ms ? o.connack_ms : 10000;
  if (o.max_packet == 0 || o.max_packet > SIM_MQTT_PACKET_LIMIT)
    o.max_packet = o.max_packet ? SIM_MQTT_PACKET_LIMIT : SIM_MQTT_PACKET_DEFAULT;
  struct sim_mqtt_client *c = calloc(1, sizeof *c);
  if (!c)
    return SIM_ENOMEM;
  c->o = o;
  c->o.client_id = dup_str(o.client_id);
  c->o.will_topic = dup_str(o.will_topic);
  c->o.username = dup_str(o.username);
  c->o.password = dup_str(o.password);
  if (o.will_topic) {
    void *wp = malloc(o.will_len + 1);
    if (wp && o.will_len)
      memcpy(wp, o.will_payload, o.will_len);
    c->o.will_payload = wp;
  }
  c->aliases = o.alias_max ? calloc(o.alias_max, sizeof *c->aliases) : NULL;
  if (!c->o.client_id || (o.will_topic && (!c->o.will_topic || !c->o.will_payload)) ||
      (o.username && !c->o.username) || (o.password && !c->o.password) ||
      (o.alias_max && !c->aliases)) {
    free_copies(c);
    free(c);
    return SIM_ENOMEM;
  }
  c->loop = loop;
  if (cbs)
    c->cbs = *cbs;
  c->user = user;
  sim_mqtt_reader_init(&c->rd, o.max_packet, o.version);
  c->rd.skip_big = o.skip_oversized;
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  *out = c;
  return 0;
}

static void free_list(struct out_msg *m) {
  while (m) {
    struct out_msg *next = m->next;
    free(m);
    m = next;
  }
}

static void on_timer_closed(uv_handle_t *h) {
  free(h->data);
}

void sim_mqtt_client_free(struct sim_mqtt_client *c) {
  if (!c)
    return;
  close_quiet(c);
  free_list(c->infl);
  free_list(c->q);
  sim_mqtt_reader_fini(&c->rd);
  free_copies(c);
  uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

int sim_mqtt_client_connect(struct sim_mqtt_client *c, struct sim_transport *t,
                            const struct sim_addr *dst) {
  if (c->st != ST_IDLE)
    return SIM_EEXISTS;
  if (c->o.clean)
    c->n_qos2_in = 0; /* a clean session forgets the broker's unfinished QoS 2 */
  struct sim_conn *conn = NULL;
  int rc = sim_conn_connect(t, dst, NULL, &conn_cbs, c, &conn);
  if (rc)
    return rc;
  if (c->st == ST_IDLE) { /* connect_cb has not run from inside the call */
    c->conn = conn;
    c->st = ST_CONNECTING;
  }
  c->stats.connects++;
  if (c->why)
    c->why[0] = '\0';
  return 0;
}

void sim_mqtt_client_disconnect(struct sim_mqtt_client *c) {
  if (c->st == ST_UP) {
    struct sim_mqtt_packet d = {.type = SIM_MQTT_DISCONNECT};
    send_pkt(c, &d);
  }
  close_quiet(c);
}

void sim_mqtt_client_abort(struct sim_mqtt_client *c) {
  close_quiet(c);
}

int sim_mqtt_client_publish(struct sim_mqtt_client *c, const char *topic, const void *payload,
                            size_t len, int qos, int retain, uint64_t *token) {
  if (qos < 0 || qos > 2 || !topic_ok(topic, 0) || (len && !payload))
    return SIM_EINVAL;
  /* What the broker said it does not support would end the connection (5.0 3.2.2.3.4-5). */
  if (c->st == ST_UP && (qos > c->peer_max_qos || (retain && !c->peer_retain)))
    return SIM_EINVAL;
  size_t tl = strlen(topic);
  /* The packet's size at most: fixed header 5, topic 2 + tl, id 2, properties 4 + alias 3. */
  size_t size = 5 + 2 + tl + 2 + 7 + len;
  if (size > SIM_MQTT_PACKET_LIMIT || (c->peer_max_packet && size > c->peer_max_packet))
    return SIM_ETOOBIG;
  if (qos == 0) {
    if (c->st != ST_UP)
      return SIM_ECLOSED;
    c->stats.published++;
    return send_publish(c, topic, tl, payload, len, 0, retain, 0, 0);
  }
  if (c->n_q >= c->o.queue_max)
    return SIM_EFULL;
  struct out_msg *m = malloc(sizeof *m + tl + len);
  if (!m)
    return SIM_ENOMEM;
  memset(m, 0, sizeof *m);
  m->token = ++c->next_token;
  m->topic_len = (uint16_t)tl;
  m->qos = (uint8_t)qos;
  m->retain = (uint8_t)(retain != 0);
  m->len = len;
  memcpy(m->data, topic, tl);
  if (len)
    memcpy(m->data + tl, payload, len);
  list_push(&c->q, &c->q_tail, &c->n_q, m);
  if (token)
    *token = m->token;
  pump(c);
  return 0;
}

int sim_mqtt_client_subscribe(struct sim_mqtt_client *c, const char *filter, int qos,
                              uint16_t *packet_id) {
  if (qos < 0 || qos > 2 || !topic_ok(filter, 1))
    return SIM_EINVAL;
  if (c->st != ST_UP)
    return SIM_ECLOSED;
  struct sim_buf list;
  sim_buf_init(&list);
  int rc = sim_mqtt_list_add(&list, filter, qos);
  struct sim_mqtt_packet pkt = {.type = SIM_MQTT_SUBSCRIBE, .packet_id = new_pid(c)};
  pkt.list = list.data;
  pkt.list_len = list.len;
  if (!rc)
    rc = send_pkt(c, &pkt);
  sim_buf_fini(&list);
  if (!rc && packet_id)
    *packet_id = pkt.packet_id;
  return rc;
}

void *sim_mqtt_client_user(const struct sim_mqtt_client *c) {
  return c->user;
}

int sim_mqtt_client_connected(const struct sim_mqtt_client *c) {
  return c->st == ST_UP;
}

void sim_mqtt_client_stats(const struct sim_mqtt_client *c, struct sim_mqtt_client_stats *out) {
  *out = c->stats;
  out->inflight = c->n_infl;
  out->queued = c->n_q;
}

const char *sim_mqtt_client_why(const struct sim_mqtt_client *c) {
  return c->why ? c->why : "";
}
