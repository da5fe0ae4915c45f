/* `hubsim run --platform mqtt://HOST:PORT` (and mqtts://): the hubrpc profile through an MQTT
 * broker. The flags of the broker connection, the hubs' transport (tcp or tls under the
 * profile's stream, sim/mqtt/stream.h), the serving side for --embedded-platform, and the
 * optional observer subscription that counts what the broker delivered on the uplink topics
 * (docs/mqtt.md section 7, docs/summary.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/parse.h"
#include "app/run_certs.h"
#include "app/run_internal.h"
#include "sim/core/err.h"
#include "sim/core/keyfile.h"
#include "sim/mqtt/client.h"
#include "sim/mqtt/stream.h"
#include "sim/transport/tls.h"

#define MQ_VERSION APP_RUN_MQTT_VERSION
#define MQ_QOS (APP_RUN_MQTT_FIRST + 1)
#define MQ_USER (APP_RUN_MQTT_FIRST + 2)
#define MQ_PASS (APP_RUN_MQTT_FIRST + 3)
#define MQ_KEEPALIVE (APP_RUN_MQTT_FIRST + 4)
#define MQ_PREFIX (APP_RUN_MQTT_FIRST + 5)
#define MQ_OBSERVE (APP_RUN_MQTT_FIRST + 6)
#define MQ_EMBEDDED (APP_RUN_MQTT_FIRST + 7)

const struct option app_run_mqtt_longopts[APP_RUN_MQTT_NOPTS] = {
    {"mqtt-version", required_argument, 0, MQ_VERSION},
    {"mqtt-qos", required_argument, 0, MQ_QOS},
    {"mqtt-user", required_argument, 0, MQ_USER},
    {"mqtt-password-file", required_argument, 0, MQ_PASS},
    {"mqtt-keepalive", required_argument, 0, MQ_KEEPALIVE},
    {"mqtt-prefix", required_argument, 0, MQ_PREFIX},
    {"mqtt-observe", no_argument, 0, MQ_OBSERVE},
    {"embedded-platform", no_argument, 0, MQ_EMBEDDED},
};

/* The password outlives the parse, for the whole run. */
static char passbuf[257];

int app_run_mqtt_flag(struct run_opts *o, int c, const char *v) {
  struct app_mqtt_opts *m = &o->mq;
  if (c < APP_RUN_MQTT_FIRST || c >= APP_RUN_MQTT_FIRST + APP_RUN_MQTT_NOPTS)
    return APP_RUN_NOT_MINE;
  unsigned bit = 1u << (c - APP_RUN_MQTT_FIRST);
  char name[40];
  snprintf(name, sizeof name, "--%s", app_run_mqtt_longopts[c - APP_RUN_MQTT_FIRST].name);
  if (m->given & bit)
    return app_run_bad(name, v ? v : "", "given twice");
  m->given |= bit;
  switch (c) {
  case MQ_VERSION:
    if (strcmp(v, "3.1.1") == 0)
      m->version = 4;
    else if (strcmp(v, "5") == 0)
      m->version = 5;
    else
      return app_run_bad(name, v, "expected 3.1.1 or 5");
    break;
  case MQ_QOS:
    if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
      return app_run_bad(name, v, "expected 0 or 1 (the hubrpc profile does not use QoS 2)");
    m->qos = v[0] - '0';
    break;
  case MQ_USER:
    if (!*v || strlen(v) > 65535)
      return app_run_bad(name, v, "expected 1 to 65535 bytes");
    m->user = v;
    break;
  case MQ_PASS:
    m->pass_file = v;
    break;
  case MQ_KEEPALIVE: {
    double s;
    if (app_parse_duration(v, 1, 65535, &s) || s < 1 || s != (double)(uint32_t)s)
      return app_run_bad(name, v, "expected whole seconds from 1 to 65535 (30, 30s, 2m)");
    m->keepalive = (uint16_t)s;
    break;
  }
  case MQ_PREFIX:
    if (!*v || strlen(v) >= 64 || strpbrk(v, "+#") || v[strlen(v) - 1] == '/')
      return app_run_bad(name, v, "expected 1 to 63 bytes of a topic, without + or # or a final /");
    m->prefix = v;
    break;
  case MQ_OBSERVE:
    m->observe = 1;
    break;
  case MQ_EMBEDDED:
    m->embedded = 1;
    break;
  }
  return APP_RUN_GO_ON;
}

int app_run_mqtt_platform(struct run_opts *o, const char *url, int *code) {
  const char *why = NULL;
  int tls = 0;
  int rc = sim_mqtt_url_parse(url, 1, &o->mq.broker, &tls, &why);
  if (rc == SIM_ENOTFOUND)
    return 0;
  *code = rc ? app_run_bad("--platform", url, why) : APP_RUN_GO_ON;
  if (!rc) {
    o->mq.on = 1;
    o->tls = tls;
  }
  return 1;
}

int app_run_mqtt_check(struct run_opts *o) {
  struct app_mqtt_opts *m = &o->mq;
  if (!m->version)
    m->version = 5;
  if (!(m->given & (1u << (MQ_QOS - APP_RUN_MQTT_FIRST))))
    m->qos = 1;
  if (!m->given)
    return APP_RUN_GO_ON;
  if (!m->on) {
    for (int i = 0; i < APP_RUN_MQTT_NOPTS; i++)
      if (m->given & (1u << i)) {
        char name[40];
        snprintf(name, sizeof name, "--%s", app_run_mqtt_longopts[i].name);
        return app_run_bad(name, "", "is for a broker: it needs --platform mqtt://HOST:PORT");
      }
  }
  if (m->pass_file && !m->user)
    return app_run_bad("--mqtt-password-file", m->pass_file, "needs --mqtt-user NAME");
  if (m->pass_file) {
    size_t n = 0;
    const char *why = NULL;
    if (sim_keyfile_read(m->pass_file, (uint8_t *)passbuf, sizeof passbuf - 1, &n, &why)) {
      fprintf(stderr, "hubsim run: --mqtt-password-file '%s': %s\n", m->pass_file, why);
      return 2;
    }
    passbuf[n] = '\0';
    if (strlen(passbuf) != n) {
      fprintf(stderr, "hubsim run: --mqtt-password-file '%s': the password holds a NUL byte\n",
              m->pass_file);
      return 2;
    }
    m->password = passbuf;
  }
  return APP_RUN_GO_ON;
}

int app_run_mqtt_control_only(int c) {
  return c == MQ_OBSERVE || c == MQ_EMBEDDED;
}

/* ---- the transports ---- */

struct app_mqtt {
  uv_loop_t *loop;
  struct sim_transport *inner, *t;
  struct sim_fleet *const *fleet;
  struct app_hub_certs *certs;
  struct app_record *record; /* --record: the capture between the stream and tls; NULL */
  /* The observer. */
  struct sim_mqtt_client *obs;
  char filter[96];
  int obs_subscribed, obs_failed, obs_dropped;
  uint64_t observed;
  int qos0;         /* the hubs publish with QoS 0: the broker acknowledges nothing */
  uv_timer_t grace; /* after the fleet: until the observer has seen what was sent */
  int grace_on, grace_closed;
  uint64_t grace_until, grace_idle, grace_last;
};

/* The hub id of a connect's user pointer (a hub of the fleet). */
static int mq_hub_id(void *ctx, void *user, char *out, size_t cap) {
  struct app_mqtt *m = ctx;
  uint32_t i;
  if (!m->fleet || !*m->fleet || sim_fleet_hub_of(*m->fleet, user, &i))
    return SIM_ENOTFOUND;
  sim_fleet_hub_id(*m->fleet, i, out, cap);
  return 0;
}

/* --hub-certs over mqtts://: the tls transport sees the MQTT client, the stream knows its hub. */
static const struct sim_tls_identity *mq_identity(void *ctx, void *inner_user) {
  struct app_mqtt *m = ctx;
  if (inner_user == m->obs)
    return NULL;                   /* the observer is no hub */
  if (m->record && m->record->cap) /* the capture's connection: its owner is the client */
    inner_user = rec_capture_user(m->record->cap, inner_user);
  void *hub = sim_mqtt_stream_conn_user(inner_user);
  return hub ? app_hub_certs_get(m->certs, hub) : NULL;
}

static int mq_make(uv_loop_t *loop, const struct run_opts *o, struct app_mqtt *m, int hubs) {
  int rc;
  if (o->tls) {
    struct sim_tls_config tc = {.ca_file = o->tls_ca, .insecure = o->tls_insecure};
    const char *why = NULL;
    if (hubs && o->hub_certs) {
      tc.identity = mq_identity;
      tc.identity_ctx = m;
    }
    if ((rc = sim_transport_tls_new(loop, &tc, &m->inner, &why))) {
      fprintf(stderr, "hubsim run: %s %s\n",
              o->tls_ca ? "--ca:" : "TLS:", why ? why : sim_strerror(rc));
      return why ? 2 : 3;
    }
  } else if ((rc = sim_transport_tcp_new(loop, &m->inner))) {
    fprintf(stderr, "hubsim run: tcp transport: %s\n", sim_strerror(rc));
    return 3;
  }
  /* --record: the hubs' MQTT bytes, under the stream (the observer's are not recorded). */
  struct sim_transport *hubs_inner = m->inner;
  m->record = hubs ? o->record : NULL;
  if (hubs && o->record && (rc = app_record_wrap(o->record, m->inner, &hubs_inner))) {
    fprintf(stderr, "hubsim run: --record: %s\n", sim_strerror(rc));
    return 3;
  }
  struct sim_mqtt_stream_config sc = {.inner = hubs_inner,
                                      .prefix = o->mq.prefix,
                                      .version = o->mq.version,
                                      .username = o->mq.user,
                                      .password = o->mq.password,
                                      .hub_id = hubs ? mq_hub_id : NULL,
                                      .hub_id_ctx = m,
                                      .qos0 = hubs && o->mq.qos == 0,
                                      .keepalive = o->mq.keepalive};
  if ((rc = sim_transport_mqtt_new(loop, &sc, &m->t))) {
    fprintf(stderr, "hubsim run: MQTT transport: %s\n", sim_strerror(rc));
    return 3;
  }
  return 0;
}

static int mq_new(uv_loop_t *loop, const struct run_opts *o, struct sim_fleet *const *fleet,
                  struct app_hub_certs *certs, int hubs, struct app_mqtt **out) {
  struct app_mqtt *m = calloc(1, sizeof *m);
  if (!m) {
    fprintf(stderr, "hubsim run: %s\n", sim_strerror(SIM_ENOMEM));
    return 3;
  }
  m->loop = loop;
  m->qos0 = o->mq.qos == 0;
  m->fleet = fleet;
  m->certs = certs;
  int code = mq_make(loop, o, m, hubs);
  if (code) {
    app_run_mqtt_free(m);
    return code;
  }
  *out = m;
  return 0;
}

int app_run_mqtt_new(uv_loop_t *loop, const struct run_opts *o, struct sim_fleet *const *fleet,
                     struct app_hub_certs *certs, struct app_mqtt **out) {
  return mq_new(loop, o, fleet, certs, 1, out);
}

int app_run_mqtt_serve_new(uv_loop_t *loop, const struct run_opts *o, struct app_mqtt **out) {
  return mq_new(loop, o, NULL, NULL, 0, out);
}

struct sim_transport *app_run_mqtt_transport(struct app_mqtt *m) {
  return m->t;
}

/* ---- the observer ---- */

static void obs_connected(struct sim_mqtt_client *c, int session_present, void *user) {
  (void)session_present;
  struct app_mqtt *m = user;
  if (sim_mqtt_client_subscribe(c, m->filter, 1, NULL))
    m->obs_failed = 1;
}

static void obs_closed(struct sim_mqtt_client *c, int err, void *user) {
  struct app_mqtt *m = user;
  if (!m->obs_subscribed)
    m->obs_failed = 1;
  m->obs_dropped = 1;
  fprintf(stderr, "hubsim run: --mqtt-observe: the observer's broker connection ended: %s\n",
          sim_mqtt_client_why(c)[0] ? sim_mqtt_client_why(c) : sim_strerror(err));
}

/* Counts application frames only: an empty payload is the end of a connection, not a frame. */
static void obs_message(struct sim_mqtt_client *c, const struct sim_mqtt_msg *msg, void *user) {
  (void)c;
  struct app_mqtt *m = user;
  if (msg->len)
    m->observed++;
}

static void obs_subscribed(struct sim_mqtt_client *c, uint16_t pid, const uint8_t *codes, size_t n,
                           void *user) {
  (void)c;
  (void)pid;
  struct app_mqtt *m = user;
  if (n >= 1 && codes[0] < 0x80)
    m->obs_subscribed = 1;
  else
    m->obs_failed = 1;
}

static const struct sim_mqtt_client_cbs obs_cbs = {obs_connected, obs_closed, obs_message, NULL,
                                                   obs_subscribed};

int app_run_mqtt_observe(struct app_mqtt *m, uv_loop_t *loop, const struct run_opts *o) {
  char cid[64];
  snprintf(cid, sizeof cid, "hubsim-observer-%d", (int)getpid());
  snprintf(m->filter, sizeof m->filter, "%s/+/+/up", o->mq.prefix ? o->mq.prefix : "hubrpc/v1");
  /* Its own receive window is wide so that a burst of uplinks is not held back by it. */
  struct sim_mqtt_client_opts co = {.client_id = cid,
                                    .version = o->mq.version,
                                    .clean = 1,
                                    .keepalive = 30,
                                    .username = o->mq.user,
                                    .password = o->mq.password,
                                    .receive_max = 65535};
  uv_timer_init(loop, &m->grace);
  m->grace.data = m;
  int rc = sim_mqtt_client_new(loop, &co, &obs_cbs, m, &m->obs);
  if (!rc)
    rc = sim_mqtt_client_connect(m->obs, m->inner, &o->mq.broker);
  if (rc) {
    fprintf(stderr, "hubsim run: --mqtt-observe: %s\n", sim_strerror(rc));
    return 3;
  }
  uint64_t deadline = uv_hrtime() + 10 * (uint64_t)1000000000;
  while (!m->obs_subscribed && !m->obs_failed && uv_hrtime() < deadline)
    uv_run(loop, UV_RUN_ONCE);
  if (!m->obs_subscribed) {
    const char *why = sim_mqtt_client_why(m->obs);
    fprintf(stderr,
            "hubsim run: --mqtt-observe: the broker did not accept the subscription to %s%s%s\n",
            m->filter, why[0] ? ": " : " within 10 s", why);
    return 3;
  }
  return 0;
}

struct sim_transport *app_run_mqtt_inner(struct app_mqtt *m) {
  return m->inner;
}

void app_run_mqtt_info(struct app_mqtt *m, const struct run_opts *o, struct rec_mqtt *out) {
  memset(out, 0, sizeof *out);
  out->profile = "hubrpc";
  out->version = o->mq.version;
  out->qos = o->mq.qos;
  if (!m)
    return;
  if (o->workers <= 1) {
    static struct sim_mqtt_stream_stats st;
    sim_mqtt_stream_stats(m->t, &st);
    out->have_sent = 1;
    out->frames_sent = st.frames_sent;
    out->frames_acked = st.frames_acked;
    out->broker_failures = st.broker_failures;
    out->last_error = st.last_error;
  }
  if (m->obs) {
    out->observer = 1;
    out->observer_ok = m->obs_subscribed && !m->obs_dropped;
    out->observed = m->observed;
  }
}

#define OBS_IDLE_NS                                                                                \
  5000000000ull                   /* nanoseconds without a new delivery before the observer ends   \
                                   */
#define OBS_MAX_NS 30000000000ull /* nanoseconds the observer stays after the fleet at most */

static void on_grace_closed(uv_handle_t *h) {
  struct app_mqtt *m = h->data;
  m->grace_closed = 1;
}

static void obs_end(struct app_mqtt *m) {
  sim_mqtt_client_disconnect(m->obs);
  uv_close((uv_handle_t *)&m->grace, on_grace_closed);
  m->grace_on = 2;
}

/* The last frames of the fleet are still on their way through the broker when it stops: the
 * observer stays until it has seen as many as were acknowledged, once no hub waits for an
 * acknowledgement any more (when this process knows: no workers), or until 5 s pass without a
 * new one (30 s at most). A broker busy with thousands of hubs' last frames and disconnects at
 * once can leave its subscriber without a delivery for more than a second or two while the
 * last publish is still on its way. */
static void on_grace(uv_timer_t *h) {
  struct app_mqtt *m = h->data;
  struct sim_mqtt_stream_stats st;
  uint64_t now = uv_hrtime();
  sim_mqtt_stream_stats(m->t, &st);
  if (m->observed != m->grace_last) {
    m->grace_last = m->observed;
    m->grace_idle = now + 2000000000u;
  }
  /* What the broker acknowledged it delivers; with QoS 0 nothing is acknowledged. */
  uint64_t due = m->qos0 ? st.frames_sent : st.frames_acked;
  if ((due && m->observed >= due && !st.lingering) || now >= m->grace_until ||
      now >= m->grace_idle || !sim_mqtt_client_connected(m->obs))
    obs_end(m);
}

void app_run_mqtt_stop(struct app_mqtt *m) {
  if (!m || !m->obs || m->grace_on)
    return;
  m->grace_on = 1;
  m->grace_until = uv_hrtime() + OBS_MAX_NS;
  m->grace_idle = uv_hrtime() + OBS_IDLE_NS;
  m->grace_last = m->observed;
  uv_timer_start(&m->grace, on_grace, 0, 20);
}

void app_run_mqtt_free(struct app_mqtt *m) {
  if (!m)
    return;
  if (m->obs && m->grace_on != 2) {
    uv_close((uv_handle_t *)&m->grace, on_grace_closed);
    uv_run(m->loop, UV_RUN_NOWAIT);
  }
  if (m->obs)
    sim_mqtt_client_free(m->obs);
  if (m->t)
    sim_transport_free(m->t);
  /* The stream's clients and its reaper close their handles first: then the inner transport. */
  uv_run(m->loop, UV_RUN_NOWAIT);
  if (m->inner)
    sim_transport_free(m->inner);
  uv_run(m->loop, UV_RUN_NOWAIT);
  free(m);
}
