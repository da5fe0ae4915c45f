/* The hubrpc profile as a transport (stream.h). A hub-side connection owns one MQTT client; a
 * listener owns one MQTT client shared by the connections it accepted, found by their
 * "HUB/EPOCH" key in a hash table.
 *
 * An MQTT client must not be freed inside its own callbacks, and a connection often ends inside
 * one (a close from the broker, an empty payload): a client that is done is aborted at once (so
 * no callback of it runs again) and freed from a zero-delay timer, the reaper.
 *
 * A hub that closes its connection lingers, as a careful MQTT client does: its last publishes
 * (a Goodbye, the empty payload that ends the connection) are acknowledged before DISCONNECT,
 * for at most LINGER_MS, so that what it sent is counted as acknowledged when the broker did. */
#include "sim/mqtt/stream.h"

#include <arpa/inet.h>
#include <openssl/rand.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim/core/buf.h"
#include "sim/core/err.h"
#include "sim/core/htab.h"
#include "sim/core/log.h"
#include "sim/mqtt/client.h"
#include "sim/transport/internal.h"
#include "sim/wire/frame.h"

/* Bytes held for a paused connection before it is closed as too slow. */
#define HELD_MAX (4u << 20)
/* A listener's reconnect backoff: b doubles from the first to the last, each wait uniform in
 * [b/2, b], so that platforms cut off together do not return to the broker together. */
#define BACKOFF_FIRST_MS 500u
#define BACKOFF_MAX_MS 30000u
/* How long a closed hub connection waits for the broker to acknowledge its last publishes. */
#define LINGER_MS 2000u

struct mtrans {
  struct sim_transport base;
  struct sim_mqtt_stream_config cfg;
  char prefix[64];
  char *username, *password;
  uint64_t connects;
  struct sim_mqtt_stream_stats st;
  uv_timer_t reaper;
  struct sim_buf dead; /* struct sim_mqtt_client * to free */
  uv_timer_t linger;   /* ends lingering connections past their time */
  struct mconn *lingering;
  int open_handles; /* reaper and linger: t is freed when both have closed */
};

struct mlist;

/* ST_CLOSING: closed by its owner, waiting for its last acknowledgements (no callback). */
enum { ST_CONNECTING, ST_OPEN, ST_CLOSING };
enum { KIND_CONN = 1, KIND_LIST };

/* kind follows base in both, at the same offset (checked below): an MQTT client's user pointer
 * is one or the other, and sim_mqtt_stream_conn_user() tells them apart by it. */
struct mconn {
  struct sim_conn base;
  int kind;
  struct mtrans *t;
  struct mlist *l;             /* platform side: the listener; NULL on the hub side */
  struct sim_mqtt_client *cli; /* hub side: its own client */
  const struct sim_conn_cbs *cbs;
  void *user;
  int state, paused;
  char key[96];            /* HUB/EPOCH */
  char up[176], down[176]; /* topics */
  struct sim_buf out, held;
  uint64_t bye;                /* ST_CLOSING: the token of the empty publish */
  uint64_t linger_until;       /* ST_CLOSING: loop time (ms) at which it gives up */
  struct mconn *lprev, *lnext; /* ST_CLOSING: in t->lingering */
};

struct mlist {
  struct sim_listener base;
  int kind;
  struct mtrans *t;
  struct sim_mqtt_client *cli;
  sim_accept_cb cb;
  void *user;
  struct sim_htab conns;
  struct sim_addr broker;
  uv_timer_t retry; /* the reconnect backoff */
  uint32_t backoff_ms;
  uint64_t drops, reconnects;
  uint16_t port;
  int closed, ready;
};

_Static_assert(offsetof(struct mconn, kind) == offsetof(struct mlist, kind),
               "kind must be at the same offset in both");

/* ---- the reaper ---- */

static void on_reap(uv_timer_t *h) {
  struct mtrans *t = h->data;
  struct sim_mqtt_client **v = (struct sim_mqtt_client **)t->dead.data;
  size_t n = t->dead.len / sizeof *v;
  for (size_t i = 0; i < n; i++)
    sim_mqtt_client_free(v[i]);
  t->dead.len = 0;
}

static void reap(struct mtrans *t, struct sim_mqtt_client *c, int disconnect) {
  if (disconnect)
    sim_mqtt_client_disconnect(c);
  else
    sim_mqtt_client_abort(c);
  if (sim_buf_append(&t->dead, &c, sizeof c) != 0) {
    sim_mqtt_client_free(c); /* no memory to defer: safe outside callbacks, rare */
    return;
  }
  uv_timer_start(&t->reaper, on_reap, 0, 0);
}

/* ---- connections, both sides ---- */

static const char *mconn_key(const void *v) {
  return ((const struct mconn *)v)->key;
}

static struct mconn *mconn_new(struct mtrans *t, const char *hub, const char *epoch) {
  struct mconn *mc = calloc(1, sizeof *mc);
  if (!mc)
    return NULL;
  mc->base.t = &t->base;
  mc->kind = KIND_CONN;
  mc->t = t;
  snprintf(mc->key, sizeof mc->key, "%s/%s", hub, epoch);
  snprintf(mc->up, sizeof mc->up, "%s/%s/up", t->prefix, mc->key);
  snprintf(mc->down, sizeof mc->down, "%s/%s/down", t->prefix, mc->key);
  sim_buf_init(&mc->out);
  sim_buf_init(&mc->held);
  return mc;
}

static void mconn_free(struct mconn *mc) {
  sim_buf_fini(&mc->out);
  sim_buf_fini(&mc->held);
  free(mc);
}

static void list_maybe_free(struct mlist *l);

/* Forgets mc on its side (the hub's client reaped, or the listener's table entry dropped) and
 * frees it. No callback. */
static void linger_unlink(struct mconn *mc) {
  struct mtrans *t = mc->t;
  if (mc->lprev)
    mc->lprev->lnext = mc->lnext;
  else
    t->lingering = mc->lnext;
  if (mc->lnext)
    mc->lnext->lprev = mc->lprev;
  mc->lprev = mc->lnext = NULL;
  t->st.lingering--;
  if (!t->lingering)
    uv_timer_stop(&t->linger);
}

static void mconn_drop(struct mconn *mc, int disconnect) {
  if (mc->state == ST_CLOSING)
    linger_unlink(mc);
  if (mc->l) {
    struct mlist *l = mc->l;
    sim_htab_del_str(&l->conns, mc->key);
    mconn_free(mc);
    list_maybe_free(l);
    return;
  }
  if (mc->cli)
    reap(mc->t, mc->cli, disconnect);
  mconn_free(mc);
}

/* The transport ended mc: closed_cb once (if the owner has it), then it is freed. */
static void mconn_end(struct mconn *mc, int err) {
  if (mc->state == ST_OPEN && mc->cbs && mc->cbs->closed_cb)
    mc->cbs->closed_cb(&mc->base, err, mc->user);
  mconn_drop(mc, 0);
}

/* A frame's body from the broker: the varint prefix back on, then data_cb (or held). */
static void mconn_frame(struct mconn *mc, const uint8_t *p, size_t n) {
  if (n > SIM_FRAME_MAX) {
    mconn_end(mc, SIM_ETOOBIG);
    return;
  }
  uint8_t hdr[5];
  size_t h = sim_frame_put_len(hdr, n);
  if (mc->paused || mc->state != ST_OPEN) {
    if (mc->held.len + h + n > HELD_MAX || sim_buf_append(&mc->held, hdr, h) ||
        sim_buf_append(&mc->held, p, n)) {
      mconn_end(mc, SIM_EFULL);
      return;
    }
    mc->t->st.frames_received++;
    return;
  }
  mc->t->st.frames_received++;
  struct sim_buf b;
  sim_buf_init(&b);
  if (sim_buf_append(&b, hdr, h) || sim_buf_append(&b, p, n)) {
    sim_buf_fini(&b);
    mconn_end(mc, SIM_ENOMEM);
    return;
  }
  mc->cbs->data_cb(&mc->base, b.data, b.len, mc->user);
  sim_buf_fini(&b);
}

static struct sim_mqtt_client *mconn_client(const struct mconn *mc) {
  return mc->l ? mc->l->cli : mc->cli;
}

/* Opens an MQTT client of this transport to the broker at dst: the caller's client id, will
 * and queue, the transport's version and credentials. *out only on success. */
static int open_client(struct mtrans *t, struct sim_mqtt_client_opts *o,
                       const struct sim_mqtt_client_cbs *cbs, void *user,
                       const struct sim_addr *dst, struct sim_mqtt_client **out) {
  o->version = t->cfg.version;
  o->clean = 1;
  o->keepalive = t->cfg.keepalive ? t->cfg.keepalive : 30;
  o->username = t->username;
  o->password = t->password;
  o->inflight_max = 64;
  struct sim_mqtt_client *c = NULL;
  int rc = sim_mqtt_client_new(t->base.loop, o, cbs, user, &c);
  if (!rc && (rc = sim_mqtt_client_connect(c, t->cfg.inner, dst)) != 0)
    sim_mqtt_client_free(c);
  if (!rc)
    *out = c;
  return rc;
}

/* ---- the hub side ---- */

static void hub_connected(struct sim_mqtt_client *c, int session_present, void *user) {
  (void)session_present;
  struct mconn *mc = user;
  int rc = sim_mqtt_client_subscribe(c, mc->down, 1, NULL);
  if (rc) { /* an abort alone would call back no one: the connect fails here */
    mc->cbs->connect_cb(&mc->base, rc, mc->user);
    mconn_drop(mc, 0);
  }
}

static void hub_subscribed(struct sim_mqtt_client *c, uint16_t pid, const uint8_t *codes, size_t n,
                           void *user) {
  (void)c;
  (void)pid;
  struct mconn *mc = user;
  if (mc->state != ST_CONNECTING)
    return;
  if (n < 1 || codes[0] >= 0x80) {
    mc->t->st.broker_failures++;
    snprintf(mc->t->st.last_error, sizeof mc->t->st.last_error,
             "broker refused the subscription to %.100s (0x%02x)", mc->down, n ? codes[0] : 0);
    mc->cbs->connect_cb(&mc->base, SIM_EPEER, mc->user);
    mconn_drop(mc, 1);
    return;
  }
  mc->state = ST_OPEN;
  mc->cbs->connect_cb(&mc->base, 0, mc->user);
}

/* Keeps the sentence of a hub-side broker failure for the run's summary. */
static void note_failure(struct mtrans *t, struct sim_mqtt_client *c, int err) {
  const char *why = sim_mqtt_client_why(c);
  t->st.broker_failures++;
  if (why && *why)
    snprintf(t->st.last_error, sizeof t->st.last_error, "%s", why);
  else
    snprintf(t->st.last_error, sizeof t->st.last_error, "%s", sim_strerror(err));
}

static void hub_closed(struct sim_mqtt_client *c, int err, void *user) {
  struct mconn *mc = user;
  if (err)
    note_failure(mc->t, c, err);
  if (mc->state == ST_CLOSING) {
    mconn_drop(mc, 0); /* what it still waited for stays unacknowledged */
    return;
  }
  if (mc->state == ST_CONNECTING) {
    mc->cbs->connect_cb(&mc->base, err ? err : SIM_ECLOSED, mc->user);
    mconn_drop(mc, 0);
    return;
  }
  mconn_end(mc, err ? err : SIM_ECLOSED);
}

static void hub_message(struct sim_mqtt_client *c, const struct sim_mqtt_msg *m, void *user) {
  (void)c;
  struct mconn *mc = user;
  if (mc->state == ST_CLOSING || strcmp(m->topic, mc->down) != 0)
    return;
  if (m->len == 0) {
    mconn_end(mc, 0); /* the platform closed the connection */
    return;
  }
  mconn_frame(mc, m->payload, m->len);
}

/* Counts what the broker acknowledged (the empty publish that ends a connection is no frame);
 * a lingering connection disconnects once nothing of it waits any more. */
static void hub_done(struct sim_mqtt_client *c, uint64_t token, int status, uint8_t reason,
                     void *user) {
  (void)reason;
  struct mconn *mc = user;
  int closing = mc->state == ST_CLOSING;
  if (status == 0 && !(closing && token == mc->bye))
    mc->t->st.frames_acked++;
  if (closing) {
    struct sim_mqtt_client_stats cs;
    sim_mqtt_client_stats(c, &cs);
    if (!cs.inflight && !cs.queued)
      mconn_drop(mc, 1);
  }
}

static const struct sim_mqtt_client_cbs hub_cbs = {hub_connected, hub_closed, hub_message, hub_done,
                                                   hub_subscribed};

static void new_epoch(char out[17]) {
  uint8_t r[8];
  if (RAND_bytes(r, sizeof r) != 1) {
    uint64_t x = uv_hrtime();
    memcpy(r, &x, sizeof r);
  }
  for (int i = 0; i < 8; i++)
    snprintf(out + 2 * i, 3, "%02x", r[i]);
}

static int id_ok(const char *s) {
  return s[0] && !strpbrk(s, "/+#");
}

static int mt_connect(struct sim_transport *base, const struct sim_addr *dst,
                      const struct sim_addr *src, const struct sim_conn_cbs *cbs, void *user,
                      struct sim_conn **out) {
  (void)src;
  struct mtrans *t = (struct mtrans *)base;
  char hub[64] = "", epoch[17];
  t->connects++;
  if (!t->cfg.hub_id || t->cfg.hub_id(t->cfg.hub_id_ctx, user, hub, sizeof hub) != 0 || !id_ok(hub))
    snprintf(hub, sizeof hub, "hub-%llu", (unsigned long long)t->connects);
  new_epoch(epoch);
  struct mconn *mc = mconn_new(t, hub, epoch);
  if (!mc)
    return SIM_ENOMEM;
  mc->cbs = cbs;
  mc->user = user;
  /* The client id is the hub id, as a broker that authorizes devices by it expects; the epoch
   * keeps connections apart. A reconnect takes over the broker's session of the last one. */
  struct sim_mqtt_client_opts o = {
      .client_id = hub, .will_topic = mc->up, .will_payload = "", .will_qos = 1, .queue_max = 4096};
  int rc = open_client(t, &o, &hub_cbs, mc, dst, &mc->cli);
  if (rc) {
    mconn_free(mc);
    return rc;
  }
  *out = &mc->base;
  return 0;
}

/* ---- the platform side ---- */

static void on_list_retry_closed(uv_handle_t *h) {
  free(h->data);
}

static void list_maybe_free(struct mlist *l) {
  if (!l->closed || l->conns.n)
    return;
  if (l->cli)
    reap(l->t, l->cli, 1);
  sim_htab_fini(&l->conns);
  uv_timer_stop(&l->retry);
  uv_close((uv_handle_t *)&l->retry, on_list_retry_closed);
}

/* A uniform draw in [lo, hi]. */
static uint32_t jitter(uint32_t lo, uint32_t hi) {
  uint32_t r;
  if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
    r = (uint32_t)uv_hrtime();
  return lo + (hi > lo ? r % (hi - lo + 1) : 0);
}

static void on_list_retry(uv_timer_t *h) {
  struct mlist *l = h->data;
  if (l->closed)
    return;
  int rc = sim_mqtt_client_connect(l->cli, l->t->cfg.inner, &l->broker);
  if (rc) { /* no callback follows a failed call: try again later */
    uint32_t b = l->backoff_ms;
    l->backoff_ms = b * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b * 2;
    uv_timer_start(&l->retry, on_list_retry, jitter(b / 2, b), 0);
  }
}

static void plat_connected(struct sim_mqtt_client *c, int session_present, void *user) {
  (void)session_present;
  struct mlist *l = user;
  char filter[96];
  snprintf(filter, sizeof filter, "%s/+/+/up", l->t->prefix);
  if (sim_mqtt_client_subscribe(c, filter, 1, NULL) != 0)
    sim_mqtt_client_abort(c);
}

/* The broker connection ended: every connection of it goes (the platform's session state of
 * each is gone with it), and each hub that may still be connected to the broker is told so by
 * an empty payload on its downlink, queued until the broker is back, so that it reconnects and
 * resends what was not acknowledged. Then the listener reconnects with backoff. */
static void plat_closed(struct sim_mqtt_client *c, int err, void *user) {
  struct mlist *l = user;
  struct mconn *mc;
  size_t it = 0;
  l->ready = 0;
  l->drops++;
  while ((mc = sim_htab_next(&l->conns, &it)) != NULL) {
    int last = l->closed && l->conns.n == 1;                   /* then list_maybe_free frees l */
    sim_mqtt_client_publish(c, mc->down, NULL, 0, 1, 0, NULL); /* SIM_EFULL: the hub times out */
    mconn_end(mc, err ? err : SIM_ECLOSED);
    if (last)
      return;
    it = 0; /* the table changed */
  }
  if (l->closed)
    return;
  uint32_t b = l->backoff_ms;
  l->backoff_ms = b * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b * 2;
  uint32_t wait = jitter(b / 2, b);
  SIM_LOGW("mqtt: listener's broker connection to %s:%u lost (%s); reconnecting in %u ms",
           l->broker.host, l->broker.port, sim_mqtt_client_why(c), wait);
  uv_timer_start(&l->retry, on_list_retry, wait, 0);
}

/* Splits PREFIX/HUB/EPOCH/up into hub and epoch; 0 when it has that form. */
static int parse_up(const struct mlist *l, const char *topic, char *hub, size_t hcap, char *epoch,
                    size_t ecap) {
  size_t pl = strlen(l->t->prefix);
  if (strncmp(topic, l->t->prefix, pl) != 0 || topic[pl] != '/')
    return -1;
  const char *h = topic + pl + 1, *e = strchr(h, '/');
  if (!e || (size_t)(e - h) >= hcap || e == h)
    return -1;
  const char *u = strchr(e + 1, '/');
  if (!u || strcmp(u, "/up") != 0 || (size_t)(u - e - 1) >= ecap || u == e + 1)
    return -1;
  snprintf(hub, hcap, "%.*s", (int)(e - h), h);
  snprintf(epoch, ecap, "%.*s", (int)(u - e - 1), e + 1);
  return 0;
}

static void plat_message(struct sim_mqtt_client *c, const struct sim_mqtt_msg *m, void *user) {
  (void)c;
  struct mlist *l = user;
  char hub[64], epoch[32], key[96];
  if (parse_up(l, m->topic, hub, sizeof hub, epoch, sizeof epoch))
    return;
  snprintf(key, sizeof key, "%s/%s", hub, epoch);
  struct mconn *mc = sim_htab_get_str(&l->conns, key);
  if (mc) {
    if (m->len == 0)
      mconn_end(mc, 0); /* the hub closed, or its will */
    else
      mconn_frame(mc, m->payload, m->len);
    return;
  }
  /* The end of a connection we never saw, a first frame above the limit (a hostile
   * publisher's: no connection is made for it), or no memory: dropped. */
  if (m->len == 0 || m->len > SIM_FRAME_MAX || l->closed || !(mc = mconn_new(l->t, hub, epoch)))
    return;
  mc->l = l;
  if (sim_htab_put_str(&l->conns, mc->key, mc)) {
    mconn_free(mc);
    return;
  }
  mconn_frame(mc, m->payload, m->len); /* held until the owner starts it */
  if (sim_htab_get_str(&l->conns, key) != mc)
    return; /* it could not be held (no memory) and is gone: the owner never sees it */
  l->cb(&l->base, &mc->base, l->user);
  /* The owner started or closed it; only a started one is still in the table. */
  mc = sim_htab_get_str(&l->conns, key);
  if (mc && mc->held.len && !mc->paused) {
    struct sim_buf held = mc->held;
    sim_buf_init(&mc->held);
    mc->cbs->data_cb(&mc->base, held.data, held.len, mc->user);
    sim_buf_fini(&held);
  }
}

static void plat_subscribed(struct sim_mqtt_client *c, uint16_t pid, const uint8_t *codes, size_t n,
                            void *user) {
  (void)pid;
  struct mlist *l = user;
  if (n >= 1 && codes[0] < 0x80) {
    if (l->drops) {
      l->reconnects++;
      SIM_LOGI("mqtt: listener subscribed again at %s:%u", l->broker.host, l->broker.port);
    }
    l->ready = 1;
    l->backoff_ms = BACKOFF_FIRST_MS;
  } else
    sim_mqtt_client_abort(c); /* refused: the listener accepts nothing */
}

static const struct sim_mqtt_client_cbs plat_cbs = {plat_connected, plat_closed, plat_message, NULL,
                                                    plat_subscribed};

int sim_mqtt_stream_listening(const struct sim_listener *base) {
  return base->t->ops == &sim__transport_mqtt_ops && ((const struct mlist *)base)->ready;
}

void sim_mqtt_stream_stats(const struct sim_transport *base, struct sim_mqtt_stream_stats *out) {
  if (base->ops == &sim__transport_mqtt_ops)
    *out = ((const struct mtrans *)base)->st;
  else
    memset(out, 0, sizeof *out);
}

void sim_mqtt_stream_listener_stats(const struct sim_listener *base, uint64_t *drops,
                                    uint64_t *reconnects) {
  const struct mlist *l = (const struct mlist *)base;
  int mine = base->t->ops == &sim__transport_mqtt_ops;
  *drops = mine ? l->drops : 0;
  *reconnects = mine ? l->reconnects : 0;
}

void *sim_mqtt_stream_conn_user(void *inner_user) {
  void *u = sim_mqtt_client_user(inner_user);
  if (!u || *(const int *)((const char *)u + offsetof(struct mconn, kind)) != KIND_CONN)
    return NULL;
  return ((struct mconn *)u)->user;
}

static int mt_listen(struct sim_transport *base, const struct sim_addr *addr, sim_accept_cb cb,
                     void *user, struct sim_listener **out) {
  struct mtrans *t = (struct mtrans *)base;
  struct mlist *l = calloc(1, sizeof *l);
  if (!l)
    return SIM_ENOMEM;
  l->base.t = base;
  l->kind = KIND_LIST;
  l->t = t;
  l->cb = cb;
  l->user = user;
  l->port = addr->port;
  l->broker = *addr;
  l->backoff_ms = BACKOFF_FIRST_MS;
  sim_htab_init_str(&l->conns, mconn_key);
  char epoch[17], cid[64];
  new_epoch(epoch);
  snprintf(cid, sizeof cid, "hubsim-platform-%s", epoch);
  /* One client takes every hub's uplink: a wide receive window lets the broker stream to it
   * instead of queueing (and, past its queue limit, dropping) what waits behind the window. */
  /* skip_oversized: anyone may publish on the uplink topics, and over 3.1.1 the broker does not
   * know our packet limit (docs/mqtt.md section 6). */
  struct sim_mqtt_client_opts o = {
      .client_id = cid, .queue_max = 1u << 20, .receive_max = 65535, .skip_oversized = 1};
  int rc = open_client(t, &o, &plat_cbs, l, addr, &l->cli);
  if (rc) {
    free(l);
    return rc;
  }
  uv_timer_init(base->loop, &l->retry);
  l->retry.data = l;
  *out = &l->base;
  return 0;
}

static void mt_listener_close(struct sim_listener *base) {
  struct mlist *l = (struct mlist *)base;
  l->closed = 1;
  list_maybe_free(l);
}

static uint16_t mt_listener_port(const struct sim_listener *base) {
  return ((const struct mlist *)base)->port;
}

/* ---- the connection calls ---- */

static int mt_start(struct sim_conn *base, const struct sim_conn_cbs *cbs, void *user) {
  struct mconn *mc = (struct mconn *)base;
  mc->cbs = cbs;
  mc->user = user;
  mc->state = ST_OPEN;
  return 0;
}

/* Cuts the bytes sent into frames and publishes each frame's body. */
static int mt_send(struct sim_conn *base, const void *p, size_t n) {
  struct mconn *mc = (struct mconn *)base;
  struct sim_mqtt_client *c = mconn_client(mc);
  if (mc->state != ST_OPEN || !c)
    return SIM_ECLOSED;
  int rc = sim_buf_append(&mc->out, p, n);
  while (!rc) {
    size_t hdr, body;
    rc = sim_frame_peek(mc->out.data, mc->out.len, SIM_FRAME_MAX, &hdr, &body);
    if (rc == SIM_EAGAIN || (rc == 0 && mc->out.len < hdr + body))
      return 0;
    if (rc)
      break;
    if (body == 0) {
      rc = SIM_EINVAL; /* an empty payload means the end of the connection */
      break;
    }
    rc = sim_mqtt_client_publish(c, mc->l ? mc->down : mc->up, mc->out.data + hdr, body,
                                 mc->t->cfg.qos0 ? 0 : 1, 0, NULL);
    if (!rc)
      mc->t->st.frames_sent++;
    sim_buf_consume(&mc->out, hdr + body);
  }
  return rc;
}

static int mt_pause(struct sim_conn *base, int paused) {
  struct mconn *mc = (struct mconn *)base;
  if (mc->state != ST_OPEN)
    return SIM_ECLOSED;
  mc->paused = paused != 0;
  if (!mc->paused && mc->held.len) {
    struct sim_buf held = mc->held;
    sim_buf_init(&mc->held);
    mc->cbs->data_cb(&mc->base, held.data, held.len, mc->user);
    sim_buf_fini(&held);
  }
  return 0;
}

static size_t mt_pending(const struct sim_conn *base) {
  return ((const struct mconn *)base)->out.len;
}

static void on_linger(uv_timer_t *h) {
  struct mtrans *t = h->data;
  uint64_t now = uv_now(t->base.loop);
  for (struct mconn *mc = t->lingering, *next; mc; mc = next) {
    next = mc->lnext;
    if (now >= mc->linger_until)
      mconn_drop(mc, 1);
  }
}

/* Publishes the empty payload that ends the connection at the other side, then forgets it: at
 * once on the platform side (its client is shared), after the broker has acknowledged the
 * hub's last publishes on the hub side (at most LINGER_MS). The owner hears no more of it. */
static void mt_close(struct sim_conn *base) {
  struct mconn *mc = (struct mconn *)base;
  struct sim_mqtt_client *c = mconn_client(mc);
  if (mc->state == ST_OPEN && c && sim_mqtt_client_connected(c)) {
    int rc = sim_mqtt_client_publish(c, mc->l ? mc->down : mc->up, NULL, 0, 1, 0, &mc->bye);
    if (!rc && !mc->l) {
      struct mtrans *t = mc->t;
      mc->state = ST_CLOSING;
      mc->cbs = NULL;
      mc->user = NULL;
      mc->linger_until = uv_now(t->base.loop) + LINGER_MS;
      mc->lprev = NULL;
      mc->lnext = t->lingering;
      if (t->lingering)
        t->lingering->lprev = mc;
      else
        uv_timer_start(&t->linger, on_linger, 100, 100);
      t->lingering = mc;
      t->st.lingering++;
      return;
    }
  }
  mconn_drop(mc, 1);
}

const struct sim_transport_ops sim__transport_mqtt_ops = {
    "mqtt",   mt_connect, mt_listen, mt_start,          mt_send,
    mt_pause, mt_pending, mt_close,  mt_listener_close, mt_listener_port,
};

/* ---- the transport ---- */

int sim_transport_mqtt_new(uv_loop_t *loop, const struct sim_mqtt_stream_config *cfg,
                           struct sim_transport **out) {
  if (!cfg->inner)
    return SIM_EINVAL;
  const char *prefix = cfg->prefix ? cfg->prefix : "hubrpc/v1";
  if (!prefix[0] || strlen(prefix) >= 64 || strpbrk(prefix, "+#"))
    return SIM_EINVAL;
  struct mtrans *t = calloc(1, sizeof *t);
  if (!t)
    return SIM_ENOMEM;
  t->base.ops = &sim__transport_mqtt_ops;
  t->base.loop = loop;
  t->cfg = *cfg;
  t->cfg.version = cfg->version ? cfg->version : 5;
  snprintf(t->prefix, sizeof t->prefix, "%s", prefix);
  t->username = cfg->username ? strdup(cfg->username) : NULL;
  t->password = cfg->password ? strdup(cfg->password) : NULL;
  if ((cfg->username && !t->username) || (cfg->password && !t->password)) {
    free(t->username);
    free(t->password);
    free(t);
    return SIM_ENOMEM;
  }
  sim_buf_init(&t->dead);
  uv_timer_init(loop, &t->reaper);
  t->reaper.data = t;
  uv_timer_init(loop, &t->linger);
  t->linger.data = t;
  t->open_handles = 2;
  *out = &t->base;
  return 0;
}

static void on_reaper_closed(uv_handle_t *h) {
  struct mtrans *t = h->data;
  if (--t->open_handles)
    return;
  sim_buf_fini(&t->dead);
  free(t->username);
  free(t->password);
  free(t);
}

void sim__transport_mqtt_free(struct sim_transport *base) {
  struct mtrans *t = (struct mtrans *)base;
  while (t->lingering)
    mconn_drop(t->lingering, 1);
  on_reap(&t->reaper);
  uv_close((uv_handle_t *)&t->reaper, on_reaper_closed);
  uv_close((uv_handle_t *)&t->linger, on_reaper_closed);
}

/* ---- URLs ---- */

int sim_mqtt_url_parse(const char *url, unsigned port_min, struct sim_addr *out, int *tls,
                       const char **why) {
  int s = strncasecmp(url, "mqtts://", 8) == 0;
  if (!s && strncasecmp(url, "mqtt://", 7) != 0)
    return SIM_ENOTFOUND;
  const char *hp = url + (s ? 8 : 7);
  const char *colon = strrchr(hp, ':');
  struct sim_addr a = {0};
  struct in_addr ip;
  char *end = NULL;
  unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
  if (!colon || colon == hp || (size_t)(colon - hp) >= sizeof a.host || !end || end == colon + 1 ||
      (*end && strcmp(end, "/") != 0) || colon[1] < '0' || colon[1] > '9' || port > 65535 ||
      port < port_min) {
    *why = "expected mqtt://HOST:PORT or mqtts://HOST:PORT with a port";
    return SIM_EINVAL;
  }
  memcpy(a.host, hp, (size_t)(colon - hp));
  if (inet_pton(AF_INET, a.host, &ip) != 1) {
    *why = "HOST must be an IPv4 address such as 127.0.0.1 (names are not resolved)";
    return SIM_EINVAL;
  }
  a.port = (uint16_t)port;
  *out = a;
  *tls = s;
  return 0;
}
