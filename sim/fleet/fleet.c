/* The fleet: hub sessions of hubrpc v1 (docs/protocol.md) and the devices behind them.
 *
 * Data path of one report: the wheel fires a device timer -> the model emits a ZCL frame ->
 * the hub decodes its attributes, wraps frame and attributes in a sequenced Report and appends
 * the encoded frame to its queue -> at the end of the loop iteration (uv_check) every hub with
 * new frames writes them in one send -> the platform's Ack releases them and records latency.
 *
 * A hub's queue holds the encoded frames of every sequenced message it has not seen
 * acknowledged, oldest first, so a resend after a reconnect is the same bytes again. */
#include "sim/fleet/fleet.h"
#include "sim/fleet/fleet_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/buf.h"
#include "sim/core/err.h"
#include "sim/core/hash.h"
#include "sim/core/log.h"
#include "sim/core/rng.h"
#include "sim/wire/auth.h"
#include "sim/wire/frame.h"
#include "sim/wire/hubrpc.h"
#include "sim/wire/zcl.h"

#define HANDSHAKE_TIMEOUT SIM_SEC(10)
#define BACKOFF_BASE SIM_MS(500)
#define BACKOFF_MAX SIM_SEC(30)
/* On the real clock a wakeup also runs the events due within this many µs (sim_sched_set_early):
 * thousands of device samples a second then share wakeups instead of each paying for one, and
 * none runs late for it. Small beside what a device's timing means (a sample a second early by
 * at most this much), and what runs early is stamped with the moment it ran. */
#ifndef SIM_FLEET_EARLY_US
#define SIM_FLEET_EARLY_US 2000u
#endif

static const struct sim_conn_cbs hub_cbs;

const char *sim_hub_state_name(enum sim_hub_state s) {
  static const char *names[] = {"idle", "connecting", "handshake", "online", "backoff", "stopped"};
  return s < SIM_HUB_NSTATES ? names[s] : "?";
}

void sim_fleet_config_default(struct sim_fleet_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->hubs = 10;
  cfg->shards = 1;
  cfg->devices_per_hub = 5;
  cfg->seed = 1;
  snprintf(cfg->hub_prefix, sizeof(cfg->hub_prefix), "hub-");
  static const char key[] = "hubsim-demo-fleet-key";
  memcpy(cfg->fleet_key, key, sizeof(key) - 1);
  cfg->fleet_key_len = sizeof(key) - 1;
  snprintf(cfg->platform.host, sizeof(cfg->platform.host), "127.0.0.1");
  cfg->platform.port = 7800;
  cfg->queue_max = 4096;
  cfg->speedup = 1.0;
  /* hub_model stays NULL: the engine knows no hub models (hubsim run takes one from the
   * device catalogue). */
  cfg->hub_firmware = "hubsim-"
                      "0.1.0";
}

/* Random bytes for nonces and boot ids: from the system, or on a virtual clock from the seed,
 * so that a virtual run repeats byte for byte. Never from a hub's own generator, which belongs
 * to its devices' behaviour. */
static int fleet_random(struct sim_fleet *f, void *p, size_t n) {
  if (!f->cfg.virtual_clock)
    return sim_auth_random(p, n);
  uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    b[i] = (uint8_t)sim_rng_u32(&f->nonce_rng);
  return 0;
}

/* ---- counting ---- */

void sim__fleet_count_error(struct sim_fleet *f, const char *name) {
  struct sim_fleet_stats *st = &f->st;
  for (size_t i = 0; i < st->n_errors; i++) {
    if (strcmp(st->errors[i].name, name) == 0) {
      st->errors[i].count++;
      return;
    }
  }
  if (st->n_errors < SIM_FLEET_MAX_REASONS) {
    snprintf(st->errors[st->n_errors].name, sizeof(st->errors[0].name), "%s", name);
    st->errors[st->n_errors++].count = 1;
  }
}

static const char *peer_error_name(Hubrpc__V1__ErrorCode code) {
  const ProtobufCEnumValue *v =
      protobuf_c_enum_descriptor_get_value(&hubrpc__v1__error_code__descriptor, (int)code);
  return v ? v->name : "ERROR_UNKNOWN_CODE";
}

/* ---- identity ---- */

int sim_fleet_hub_of(const struct sim_fleet *f, const void *user, uint32_t *hub) {
  uintptr_t u = (uintptr_t)user, base = (uintptr_t)f->hubs;
  if (!f->hubs || u < base || u >= base + (uintptr_t)f->n_hubs * sizeof *f->hubs ||
      (u - base) % sizeof *f->hubs)
    return SIM_ENOTFOUND;
  *hub = (uint32_t)((u - base) / sizeof *f->hubs);
  return 0;
}

void sim_fleet_config_hub_id(const struct sim_fleet_config *cfg, uint32_t global, char *out,
                             size_t cap) {
  if (cfg->hub_name) {
    cfg->hub_name(cfg->hub_name_arg, global, out, cap);
    return;
  }
  snprintf(out, cap, "%s%06" PRIu32, cfg->hub_prefix, global);
}

void sim_fleet_hub_id(const struct sim_fleet *f, uint32_t hub, char *out, size_t cap) {
  sim_fleet_config_hub_id(&f->cfg, hub_global(f, hub), out, cap);
}

/* IEEE address: the model's OUI, then 24 bits naming the hub (mixed with the prefix so that two
 * fleets with different prefixes do not collide), then 16 bits of slot. Reversible, so a
 * command finds its device without a table. */
uint64_t sim_fleet_device_eui64(const struct sim_fleet *f, uint32_t hub, uint32_t slot) {
  const struct sim_model *m =
      sim_model_get(f->devs[(size_t)hub * f->cfg.devices_per_hub + slot].model);
  uint64_t oui = m ? m->ieee_oui : 0x00158D;
  uint32_t g = hub_global(f, hub);
  return (oui << 40) | ((uint64_t)((g ^ f->prefix_hash) & 0xFFFFFF) << 16) | (slot & 0xFFFF);
}

/* ---- queue of sequenced frames ---- */

static int meta_push(struct hub *h, uint32_t len, uint8_t kind, sim_time_t intended) {
  uint32_t n = queued_frames(h);
  if (n == h->meta_cap) {
    uint32_t cap = h->meta_cap ? h->meta_cap * 2 : 8;
    struct frame_meta *m = malloc((size_t)cap * sizeof(*m));
    if (!m)
      return SIM_ENOMEM;
    for (uint32_t i = 0; i < n; i++)
      m[i] = h->meta[(h->meta_head + i) % h->meta_cap];
    free(h->meta);
    h->meta = m;
    h->meta_cap = cap;
    h->meta_head = 0;
  }
  struct frame_meta *fm = &h->meta[(h->meta_head + n) % h->meta_cap];
  fm->intended = intended;
  fm->len = len;
  fm->kind = kind;
  return 0;
}

static void mark_dirty(struct sim_fleet *f, struct hub *h) {
  if (h->dirty || h->state != SIM_HUB_OPEN)
    return;
  h->dirty = 1;
  f->dirty[f->n_dirty++] = h->idx;
}

/* Appends one sequenced message; msg's seq field must point at seq_field. */
int sim__fleet_enqueue(struct sim_fleet *f, struct hub *h, sim_envelope *env, uint64_t *seq_field,
                       enum sim_seq_kind kind, sim_time_t intended) {
  struct sim_seq_counts *c = &f->st.kind[kind];
  c->generated++;
  if (queued_frames(h) >= f->cfg.queue_max) {
    c->dropped++;
    return SIM_EFULL;
  }
  *seq_field = h->next_seq;
  size_t before = h->q.len;
  int rc = sim_hubrpc_encode(&h->q, env);
  if (rc == 0)
    rc = meta_push(h, (uint32_t)(h->q.len - before), (uint8_t)kind, intended);
  if (rc) {
    h->q.len = before;
    c->dropped++;
    sim__fleet_count_error(f, sim_errname(rc));
    return rc;
  }
  h->next_seq++;
  mark_dirty(f, h);
  return 0;
}

/* Releases every frame up to seq (acknowledged), recording latencies. */
static void release(struct sim_fleet *f, struct hub *h, uint64_t up_to, sim_time_t now) {
  size_t bytes = 0;
  while (h->acked < up_to) {
    struct frame_meta *fm = meta_at(h, h->acked + 1);
    f->st.kind[fm->kind].acked++;
    if (fm->kind == SIM_SEQ_REPORT)
      if (fm->intended >= f->cfg.warmup)
        sim_hist_record(&f->st.ack_latency, now > fm->intended ? now - fm->intended : 0);
    bytes += fm->len;
    h->meta_head = (h->meta_head + 1) % h->meta_cap;
    h->acked++;
  }
  h->q_off += bytes;
  h->sent_bytes = h->sent_bytes > bytes ? h->sent_bytes - bytes : 0;
  if (h->q_off == h->q.len) {
    h->q.len = h->q_off = 0;
    /* Everything is acknowledged: give back what a burst (the boot, an outage) made the queue
     * grow to. A steady hub keeps a small buffer, so this is not a free per report. */
    if (h->q.cap > 512)
      sim_buf_fini(&h->q);
    if (h->meta_cap > 8) {
      free(h->meta);
      h->meta = NULL;
      h->meta_cap = 0;
      h->meta_head = 0;
    }
  } else if (h->q_off > 4096 && h->q_off * 2 > h->q.len) {
    sim_buf_consume(&h->q, h->q_off);
    h->q_off = 0;
  }
}

/* Writes every queued frame the window allows, in one send. Frames are counted only once the
 * transport has taken them. */
static void flush(struct sim_fleet *f, struct hub *h) {
  if (h->state != SIM_HUB_OPEN || !h->conn)
    return;
  if (h->write_delay) {
    /* A delay-writes fault: what is queued now leaves write_delay later. */
    sim_time_t now = sim_sched_now(&f->sched);
    if (now < h->delay_until) {
      if (!h->flush_pending &&
          sim__radio_hub_timer(f, h->idx, SIM_HUB_EV_FLUSH, now + h->write_delay) == 0)
        h->flush_pending = 1;
      if (h->flush_pending)
        return;
    }
  }
  uint64_t last = h->next_seq - 1;
  if (last > h->acked + h->max_window)
    last = h->acked + h->max_window;
  if (last <= h->sent)
    return;
  size_t bytes = 0;
  for (uint64_t s = h->sent + 1; s <= last; s++)
    bytes += meta_at(h, s)->len;
  int rc = sim_conn_send(h->conn, h->q.data + h->q_off + h->sent_bytes, bytes);
  if (rc) {
    sim__fleet_count_error(f, sim_errname(rc));
    return; /* the close callback follows; the frames stay queued */
  }
  sim_time_t now = sim_sched_now(&f->sched);
  for (uint64_t s = h->sent + 1; s <= last; s++) {
    struct frame_meta *fm = meta_at(h, s);
    if (s > h->max_sent) {
      f->st.kind[fm->kind].sent++;
      if (fm->kind == SIM_SEQ_REPORT && fm->intended >= f->cfg.warmup)
        sim_hist_record(&f->st.send_lag, now > fm->intended ? now - fm->intended : 0);
    } else {
      f->st.kind[fm->kind].resent++;
    }
  }
  f->st.frames_out += last - h->sent;
  f->st.bytes_out += bytes;
  h->sent_bytes += bytes;
  h->sent = last;
  if (last > h->max_sent)
    h->max_sent = last;
}

/* ---- unsequenced frames ---- */

static int send_env(struct sim_fleet *f, struct hub *h, const sim_envelope *env) {
  if (!h->conn)
    return SIM_ECLOSED;
  f->scratch.len = 0;
  int rc = sim_hubrpc_encode(&f->scratch, env);
  if (rc)
    return rc;
  f->st.frames_out++;
  f->st.bytes_out += f->scratch.len;
  return sim_conn_send(h->conn, f->scratch.data, f->scratch.len);
}

static void send_error(struct sim_fleet *f, struct hub *h, int err, const char *reason) {
  if (!h->conn)
    return;
  f->scratch.len = 0;
  if (sim_hubrpc_put_error(&f->scratch, sim_hubrpc_error_code(err), reason) == 0) {
    f->st.frames_out++;
    f->st.bytes_out += f->scratch.len;
    sim_conn_send(h->conn, f->scratch.data, f->scratch.len);
  }
}

/* ---- session lifecycle ---- */

/* The session ended, for reason (a SIM_E* code, or 0 for an orderly end): back off and retry. */
static void session_ended(struct sim_fleet *f, struct hub *h, int reason, const char *what) {
  if (h->conn) {
    sim_conn_close(h->conn);
    h->conn = NULL;
  }
  if (h->drv_live) {
    h->drv_live = 0;
    f->cfg.uplink->close(f->cfg.uplink_arg, h->idx, SIM_UPLINK_ABORT);
  }
  if (h->state == SIM_HUB_OPEN)
    f->st.disconnects++;
  if (what)
    sim__fleet_count_error(f, what);
  else if (reason)
    sim__fleet_count_error(f, sim_errname(reason));
  h->sent = h->acked; /* everything unacknowledged goes again in the next session */
  h->sent_bytes = 0;
  h->got_challenge = 0;
  h->stash.len = 0; /* what a stalled hub had not read belonged to that session */
  /* The frame reader may be mid-feed (this can run from its callback): it is reset when the
   * next connection starts, not here. */
  if (f->stopping) {
    h->state = SIM_HUB_STOPPED;
    sim_wheel_cancel(&f->sched.wheel, hub_timer(f, h));
    return;
  }
  if (h->offline || h->powered_off) {
    h->state = SIM_HUB_STOPPED; /* until connected or powered again */
    sim_wheel_cancel(&f->sched.wheel, hub_timer(f, h));
    return;
  }
  /* Jittered exponential backoff: uniform in [b/2, b], b doubling from 0.5 s up to 30 s. */
  sim_time_t b = BACKOFF_BASE << (h->fails < 6 ? h->fails : 6);
  if (b > BACKOFF_MAX)
    b = BACKOFF_MAX;
  if (h->fails < 255)
    h->fails++;
  sim_time_t delay = b / 2 + (sim_time_t)(sim_rng_unit(&h->rng) * (double)(b / 2));
  h->state = SIM_HUB_BACKOFF;
  sim_wheel_add(&f->sched.wheel, hub_timer(f, h), sim_sched_now(&f->sched) + delay);
}

static void fail_session(struct sim_fleet *f, struct hub *h, int err, const char *reason) {
  send_error(f, h, err, reason);
  session_ended(f, h, err, NULL);
}

static void send_hello(struct sim_fleet *f, struct hub *h) {
  char id[SIM_HUBRPC_HUB_ID_MAX + 1];
  sim_fleet_hub_id(f, h->idx, id, sizeof(id));
  if (fleet_random(f, h->client_nonce, sizeof(h->client_nonce)))
    for (size_t i = 0; i < sizeof(h->client_nonce); i++)
      h->client_nonce[i] = (uint8_t)sim_rng_u32(&h->rng);
  Hubrpc__V1__Hello hello = HUBRPC__V1__HELLO__INIT;
  hello.proto_version = SIM_HUBRPC_VERSION;
  hello.hub_id = id;
  hello.model = (char *)f->cfg.hub_model;
  hello.firmware = (char *)f->cfg.hub_firmware;
  hello.client_nonce.data = h->client_nonce;
  hello.client_nonce.len = sizeof(h->client_nonce);
  hello.boot_id = h->boot_id;
  hello.device_count = f->cfg.devices_per_hub;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_HELLO;
  env.hello = &hello;
  int rc = send_env(f, h, &env);
  if (rc)
    session_ended(f, h, rc, NULL);
}

static void on_connect(struct sim_conn *c, int status, void *user) {
  struct hub *h = user;
  struct sim_fleet *f = h->f;
  if (status < 0) {
    h->conn = NULL; /* the transport has freed it */
    session_ended(f, h, status, NULL);
    return;
  }
  h->state = SIM_HUB_HANDSHAKE;
  h->last_rx = sim_sched_now(&f->sched);
  send_hello(f, h);
}

void sim__fleet_hub_connect(struct sim_fleet *f, struct hub *h) {
  if (h->offline || h->powered_off) {
    h->state = SIM_HUB_STOPPED;
    sim_wheel_cancel(&f->sched.wheel, hub_timer(f, h));
    return;
  }
  const struct sim_addr *src =
      f->cfg.n_bind ? &f->cfg.bind[hub_global(f, h->idx) % f->cfg.n_bind] : NULL;
  sim_time_t now = sim_sched_now(&f->sched);
  f->st.connects++;
  h->connect_start = now;
  sim_frame_reader_fini(&h->rd);
  sim_frame_reader_init(&h->rd, SIM_FRAME_MAX);
  h->state = SIM_HUB_CONNECTING;
  sim_wheel_add(&f->sched.wheel, hub_timer(f, h), now + HANDSHAKE_TIMEOUT);
  if (f->cfg.uplink) {
    int drc = f->cfg.uplink->connect(f->cfg.uplink_arg, h->idx);
    if (drc)
      session_ended(f, h, drc, NULL);
    else
      h->drv_live = 1;
    return;
  }
  int rc = sim_conn_connect(f->t, &f->cfg.platform, src, &hub_cbs, h, &h->conn);
  if (rc) {
    h->conn = NULL;
    session_ended(f, h, rc, NULL);
  }
}

/* Sets the seq field of a sequenced message. */
static void set_seq(sim_envelope *env, uint64_t seq) {
  switch (env->body_case) {
  case HUBRPC__V1__ENVELOPE__BODY_REPORT:
    env->report->seq = seq;
    break;
  case HUBRPC__V1__ENVELOPE__BODY_DEVICE_JOINED:
    env->device_joined->seq = seq;
    break;
  case HUBRPC__V1__ENVELOPE__BODY_DEVICE_LEFT:
    env->device_left->seq = seq;
    break;
  case HUBRPC__V1__ENVELOPE__BODY_COMMAND_RESULT:
    env->command_result->seq = seq;
    break;
  default:
    break;
  }
}

int sim_fleet_hub_send(struct sim_fleet *f, uint32_t hub, sim_envelope *env, sim_time_t intended,
                       uint64_t *seq) {
  /* The kind of each sequenced message, by its body (0: not sequenced). */
  static const uint8_t kind_of[] = {[HUBRPC__V1__ENVELOPE__BODY_REPORT] = 1 + SIM_SEQ_REPORT,
                                    [HUBRPC__V1__ENVELOPE__BODY_DEVICE_JOINED] = 1 + SIM_SEQ_JOINED,
                                    [HUBRPC__V1__ENVELOPE__BODY_DEVICE_LEFT] = 1 + SIM_SEQ_LEFT,
                                    [HUBRPC__V1__ENVELOPE__BODY_COMMAND_RESULT] =
                                        1 + SIM_SEQ_RESULT};
  if (hub >= f->n_hubs)
    return SIM_ENOTFOUND;
  if ((size_t)env->body_case >= sizeof kind_of || !kind_of[env->body_case])
    return SIM_EINVAL;
  struct hub *h = &f->hubs[hub];
  uint64_t s = 0;
  /* The message's own seq field is set here; the enqueue writes the same number into s. */
  set_seq(env, h->next_seq);
  int rc =
      sim__fleet_enqueue(f, h, env, &s, (enum sim_seq_kind)(kind_of[env->body_case] - 1), intended);
  if (rc == 0)
    *seq = s;
  return rc;
}

/* The platform no longer has messages it acknowledged (its store went back in time). They are
 * gone for good: counted as forgotten by the platform. So that what the hub still holds can be
 * delivered, the hub starts a new boot sequence: a new boot_id, and every queued frame
 * renumbered from 1 (re-encoded: the seq varint may change length). Frames that had been sent
 * before count as resent when they go again. 0, or an error after which the queue is intact. */
static int restart_sequence(struct sim_fleet *f, struct hub *h) {
  struct sim_buf nq;
  sim_buf_init(&nq);
  uint32_t n = queued_frames(h);
  size_t off = h->q_off;
  for (uint32_t i = 0; i < n; i++) {
    struct frame_meta *fm = meta_at(h, h->acked + 1 + i);
    size_t hdr, body;
    sim_envelope *env = NULL;
    int rc = sim_frame_peek(h->q.data + off, fm->len, SIM_FRAME_MAX, &hdr, &body);
    if (rc == 0)
      rc = sim_hubrpc_decode(h->q.data + off + hdr, body, &env);
    if (rc) {
      sim_buf_fini(&nq);
      return rc;
    }
    set_seq(env, i + 1u);
    rc = sim_hubrpc_encode(&nq, env);
    sim_hubrpc_free(env);
    if (rc) {
      sim_buf_fini(&nq);
      return rc;
    }
    off += fm->len;
  }
  /* Second pass: the new lengths, now that nothing can fail. */
  size_t pos = 0;
  for (uint32_t i = 0; i < n; i++) {
    size_t hdr, body;
    sim_frame_peek(nq.data + pos, nq.len - pos, SIM_FRAME_MAX, &hdr, &body);
    meta_at(h, h->acked + 1 + i)->len = (uint32_t)(hdr + body);
    pos += hdr + body;
  }
  sim_buf_fini(&h->q);
  h->q = nq;
  h->q_off = 0;
  uint64_t were_sent = h->max_sent > h->acked ? h->max_sent - h->acked : 0;
  h->acked = 0;
  h->sent = 0;
  h->sent_bytes = 0;
  h->max_sent = were_sent;
  h->next_seq = (uint64_t)n + 1u;
  if (fleet_random(f, &h->boot_id, sizeof(h->boot_id)))
    h->boot_id ^= ((uint64_t)sim_rng_u32(&h->rng) << 32) | sim_rng_u32(&h->rng);
  return 0;
}

/* A session opened (a Welcome, or an uplink driver's): counted, with its handshake time. */
static void count_opened(struct sim_fleet *f, struct hub *h, sim_time_t now) {
  f->st.sessions++;
  if (!h->opened_once) {
    h->opened_once = 1;
    if (++f->st.hubs_ever_online == f->n_hubs)
      f->st.all_online_at = now;
  }
  sim_hist_record(&f->st.handshake, now - h->connect_start);
}

/* A Welcome: the session opens. Returns 0, or SIM_ECLOSED when the Welcome ended the session
 * (an Error sent, or the platform's loss detected), so that nothing after it is read. */
static int on_welcome(struct sim_fleet *f, struct hub *h, const Hubrpc__V1__Welcome *w) {
  sim_time_t now = sim_sched_now(&f->sched);
  /* Every field is checked before acked_seq is believed: a Welcome that is invalid says nothing
   * about what the platform has stored, so it must not count as the platform's loss (nor start
   * a new boot sequence). */
  if (w->heartbeat_s == 0) {
    fail_session(f, h, SIM_EINVAL, "welcome.heartbeat_s must be at least 1");
    return SIM_ECLOSED;
  }
  if (w->max_window == 0) {
    fail_session(f, h, SIM_EINVAL, "welcome.max_window must be at least 1");
    return SIM_ECLOSED;
  }
  if (w->acked_seq > h->max_sent) {
    fail_session(f, h, SIM_EINVAL, "welcome.acked_seq is above the last seq sent in this boot");
    return SIM_ECLOSED;
  }
  if (w->acked_seq < h->acked) {
    f->st.forgotten += h->acked - w->acked_seq;
    int rc = restart_sequence(f, h);
    session_ended(f, h, rc, rc ? NULL : "platform:forgot_acknowledged");
    return SIM_ECLOSED;
  }
  /* Stored before the last connection dropped: the Ack was lost, the data was not. */
  if (w->acked_seq > h->acked)
    release(f, h, w->acked_seq, now);
  h->heartbeat_s = w->heartbeat_s;
  h->max_window = w->max_window;
  h->state = SIM_HUB_OPEN;
  h->fails = 0;
  h->sent = h->acked;
  h->sent_bytes = 0;
  count_opened(f, h, now);
  sim_wheel_add(&f->sched.wheel, hub_timer(f, h), now + SIM_SEC(h->heartbeat_s));
  mark_dirty(f, h);
  return 0;
}

/* Recognises the common form of an Ack envelope: field 7 holding only field 1 (up_to_seq) as a
 * varint. Acks are most of what a hub receives, and this skips protobuf-c's allocating unpack;
 * any other form (extra fields, long forms) goes through the general decoder. */
static int ack_fast(const uint8_t *b, size_t n, uint64_t *up_to) {
  if (n < 2 || b[0] != 0x3A || (b[1] & 0x80) || (size_t)b[1] + 2 != n)
    return 0;
  if (n == 2) {
    *up_to = 0;
    return 1;
  }
  if (b[2] != 0x08)
    return 0;
  uint64_t v = 0;
  for (size_t i = 3, sh = 0; i < n && sh < 64; i++, sh += 7) {
    v |= (uint64_t)(b[i] & 0x7F) << sh;
    if (!(b[i] & 0x80)) {
      if (i + 1 != n)
        return 0;
      *up_to = v;
      return 1;
    }
  }
  return 0;
}

/* An Ack: releases what it covers. Returns 0 or SIM_ECLOSED after failing the session. */
static int on_ack(struct sim_fleet *f, struct hub *h, uint64_t up_to, sim_time_t now) {
  if (h->state != SIM_HUB_OPEN) {
    fail_session(f, h, SIM_EUNEXPECTED, "ack not allowed here");
    return SIM_ECLOSED;
  }
  if (up_to > h->sent) {
    fail_session(f, h, SIM_EINVAL, "ack.up_to_seq is above the last seq sent");
    return SIM_ECLOSED;
  }
  if (up_to > h->acked) {
    release(f, h, up_to, now);
    mark_dirty(f, h); /* the window moved */
  }
  return 0;
}

/* One frame from the platform. Returns 0, or an error after which the caller closes:
 * SIM_ECLOSED when the session has already ended here, so that the frame reader stops and
 * nothing the platform sent after the frame that ended it is acted on. */
static int on_frame(void *arg, const uint8_t *body, size_t len) {
  struct hub *h = arg;
  struct sim_fleet *f = h->f;
  sim_envelope *env = NULL;
  if (!h->conn)
    return SIM_ECLOSED; /* the session ended earlier in this read */
  f->st.frames_in++;
  uint64_t up_to;
  if (ack_fast(body, len, &up_to)) {
    sim_time_t now = sim_sched_now(&f->sched);
    if (f->obs_rx) {
      Hubrpc__V1__Ack ack = HUBRPC__V1__ACK__INIT;
      sim_envelope a = HUBRPC__V1__ENVELOPE__INIT;
      ack.up_to_seq = up_to;
      a.body_case = HUBRPC__V1__ENVELOPE__BODY_ACK;
      a.ack = &ack;
      f->obs_rx(f->obs_rx_arg, h->idx, &a);
    }
    h->last_rx = now;
    return on_ack(f, h, up_to, now);
  }
  int rc = sim_hubrpc_decode(body, len, &env);
  if (rc) {
    fail_session(f, h, rc, rc == SIM_EUNKNOWN_MSG ? "unknown message" : "malformed frame");
    return SIM_ECLOSED;
  }
  sim_time_t now = sim_sched_now(&f->sched);
  h->last_rx = now;
  if (f->obs_rx)
    f->obs_rx(f->obs_rx_arg, h->idx, env);
  rc = 0;
  switch (env->body_case) {
  case HUBRPC__V1__ENVELOPE__BODY_CHALLENGE:
    if (h->state != SIM_HUB_HANDSHAKE || h->got_challenge) {
      rc = SIM_EUNEXPECTED;
      break;
    }
    if (env->challenge->server_nonce.len != SIM_HUBRPC_NONCE_LEN) {
      rc = SIM_EINVAL;
      break;
    }
    {
      char id[SIM_HUBRPC_HUB_ID_MAX + 1];
      uint8_t secret[32], mac[32];
      sim_fleet_hub_id(f, h->idx, id, sizeof(id));
      /* No fleet key: the hub authenticates with its client certificate alone, an empty mac
       * (docs/protocol.md section 6). */
      if (f->cfg.fleet_key_len &&
          (sim_auth_hub_secret(f->cfg.fleet_key, f->cfg.fleet_key_len, id, secret) ||
           sim_auth_mac(secret, h->client_nonce, env->challenge->server_nonce.data, mac))) {
        rc = SIM_EIO;
        break;
      }
      Hubrpc__V1__Auth auth = HUBRPC__V1__AUTH__INIT;
      auth.mac.data = f->cfg.fleet_key_len ? mac : NULL;
      auth.mac.len = f->cfg.fleet_key_len ? sizeof(mac) : 0;
      sim_envelope out = HUBRPC__V1__ENVELOPE__INIT;
      out.body_case = HUBRPC__V1__ENVELOPE__BODY_AUTH;
      out.auth = &auth;
      h->got_challenge = 1;
      rc = send_env(f, h, &out);
    }
    break;
  case HUBRPC__V1__ENVELOPE__BODY_WELCOME:
    if (h->state != SIM_HUB_HANDSHAKE || !h->got_challenge) {
      rc = SIM_EUNEXPECTED;
      break;
    }
    if (on_welcome(f, h, env->welcome)) {
      sim_hubrpc_free(env);
      return SIM_ECLOSED;
    }
    break;
  case HUBRPC__V1__ENVELOPE__BODY_ACK:
    rc = on_ack(f, h, env->ack->up_to_seq, now);
    sim_hubrpc_free(env);
    return rc;
  case HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT:
    if (h->state != SIM_HUB_OPEN)
      rc = SIM_EUNEXPECTED;
    break;
  case HUBRPC__V1__ENVELOPE__BODY_COMMAND:
    if (h->state != SIM_HUB_OPEN) {
      rc = SIM_EUNEXPECTED;
      break;
    }
    sim__fleet_on_command(f, h, env->command);
    break;
  case HUBRPC__V1__ENVELOPE__BODY_PERMIT_JOIN:
    if (h->state != SIM_HUB_OPEN)
      rc = SIM_EUNEXPECTED;
    /* Every device of this fleet is already in the network; nothing waits to join. */
    break;
  case HUBRPC__V1__ENVELOPE__BODY_ERROR: {
    char name[48];
    snprintf(name, sizeof(name), "peer:%s", peer_error_name(env->error->code));
    /* A refused authentication is a setup mistake (a key, a certificate): its reason says
     * which, so it is shown, not only counted. */
    if (env->error->code == HUBRPC__V1__ERROR_CODE__ERROR_AUTH_FAILED && env->error->reason &&
        *env->error->reason) {
      char id[SIM_HUBRPC_HUB_ID_MAX + 1];
      sim_fleet_hub_id(f, h->idx, id, sizeof(id));
      sim_log_limited(&f->auth_lim, 1000, SIM_LOG_WARN,
                      "hub %s: the platform refused its authentication: %.200s", id,
                      env->error->reason);
    }
    session_ended(f, h, SIM_EPEER, name);
    sim_hubrpc_free(env);
    return SIM_ECLOSED;
  }
  case HUBRPC__V1__ENVELOPE__BODY_GOODBYE:
    session_ended(f, h, 0, "peer:goodbye");
    sim_hubrpc_free(env);
    return SIM_ECLOSED;
  default:
    rc = SIM_EUNEXPECTED;
    break;
  }
  if (rc) {
    char reason[64];
    snprintf(reason, sizeof(reason), "%s not allowed here", sim_hubrpc_body_name(env->body_case));
    fail_session(f, h, rc, rc == SIM_EUNEXPECTED ? reason : sim_strerror(rc));
    rc = SIM_ECLOSED;
  } else if (!h->conn) {
    rc = SIM_ECLOSED; /* the handler ended the session: read nothing more */
  }
  sim_hubrpc_free(env);
  return rc;
}

void sim__fleet_feed(struct sim_fleet *f, struct hub *h, const uint8_t *p, size_t n) {
  int rc = sim_frame_reader_feed(&h->rd, p, n, on_frame, h);
  if (rc && rc != SIM_ECLOSED)
    fail_session(f, h, rc, rc == SIM_ETOOBIG ? "frame too large" : "malformed frame");
}

static void on_data(struct sim_conn *c, const uint8_t *p, size_t n, void *user) {
  struct hub *h = user;
  struct sim_fleet *f = h->f;
  (void)c;
  f->st.bytes_in += n;
  if (h->stalled) {
    if (sim_buf_append(&h->stash, p, n))
      fail_session(f, h, SIM_ENOMEM, "stalled hub out of memory");
    return;
  }
  /* A TLS alert record (0x15 0x03) where the Challenge belongs: the platform speaks TLS on this
   * port (no hubrpc frame starts so: field 0 is no protobuf field). */
  if (h->state == SIM_HUB_HANDSHAKE && !h->got_challenge && n >= 2 && p[0] == 0x15 &&
      p[1] == 0x03) {
    session_ended(f, h, SIM_EPEER, "platform speaks TLS: use hubrpcs://");
    return;
  }
  int rc = sim_frame_reader_feed(&h->rd, p, n, on_frame, h);
  if (rc && rc != SIM_ECLOSED)
    fail_session(f, h, rc, rc == SIM_ETOOBIG ? "frame too large" : "malformed frame");
}

static void on_closed(struct sim_conn *c, int err, void *user) {
  struct hub *h = user;
  h->conn = NULL; /* freed by the transport */
  session_ended(h->f, h, err, err ? NULL : "closed by peer");
}

static const struct sim_conn_cbs hub_cbs = {on_connect, on_data, on_closed};

/* ---- timers ---- */

static void hub_fire(struct sim_fleet *f, struct hub *h, sim_time_t due) {
  sim_time_t now = sim_sched_now(&f->sched);
  switch (h->state) {
  case SIM_HUB_IDLE:
    sim__fleet_hub_boot(f, h);
    break;
  case SIM_HUB_BACKOFF:
    sim__fleet_hub_connect(f, h);
    break;
  case SIM_HUB_CONNECTING:
  case SIM_HUB_HANDSHAKE:
    fail_session(f, h, SIM_ETIMEOUT, "handshake timed out");
    break;
  case SIM_HUB_OPEN: {
    if (now - h->last_rx > 3 * SIM_SEC(h->heartbeat_s)) {
      fail_session(f, h, SIM_ETIMEOUT, "nothing received for 3 heartbeat periods");
      break;
    }
    Hubrpc__V1__Heartbeat hb = HUBRPC__V1__HEARTBEAT__INIT;
    hb.time_ms = (uint64_t)((int64_t)sim_clock_wall_ms(&f->sched.clock, now) + h->skew_ms);
    sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
    env.body_case = HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    f->st.heartbeats_sent++;
    if (send_env(f, h, &env) == 0)
      sim_wheel_add(&f->sched.wheel, hub_timer(f, h), due + SIM_SEC(h->heartbeat_s));
    break;
  }
  default:
    break;
  }
}

static void on_fire(void *arg, uint32_t id, sim_time_t due) {
  struct sim_fleet *f = arg;
  if (id < f->n_devs)
    sim__fleet_device_fire(f, id, due);
  else if (id < f->n_devs + f->n_hubs)
    hub_fire(f, &f->hubs[id - f->n_devs], due);
  else
    sim__radio_fire(f, id - f->n_devs - f->n_hubs);
}

/* End of a loop iteration: every hub with new frames writes them, one send per hub. */
static void on_check(uv_check_t *c) {
  sim_fleet_flush(c->data);
}

int sim_fleet_flush(struct sim_fleet *f) {
  uint32_t n = f->n_dirty;
  for (uint32_t i = 0; i < f->n_dirty; i++) {
    struct hub *h = &f->hubs[f->dirty[i]];
    h->dirty = 0;
    flush(f, h);
  }
  f->n_dirty = 0;
  return n != 0;
}

/* ---- lifecycle ---- */

int sim_fleet_new(uv_loop_t *loop, struct sim_transport *t, const struct sim_fleet_config *cfg,
                  struct sim_fleet **out) {
  if (!cfg->hubs || !cfg->devices_per_hub || cfg->devices_per_hub > 65535 || !cfg->n_mix ||
      cfg->hubs > 0xFFFFFF)
    return SIM_EINVAL;
  for (size_t i = 0; i < cfg->n_mix; i++)
    if (!sim_model_get(cfg->mix_model[i]))
      return SIM_EINVAL;
  int rc = SIM_ENOMEM;
  struct sim_fleet *f = calloc(1, sizeof(*f));
  if (!f)
    return SIM_ENOMEM;
  f->loop = loop;
  f->t = t;
  f->cfg = *cfg;
  if (!f->cfg.hub_model)
    f->cfg.hub_model = "";
  if (!f->cfg.hub_firmware)
    f->cfg.hub_firmware = "hubsim-0.1.0";
  if (!f->cfg.queue_max)
    f->cfg.queue_max = 4096;
  if (!(f->cfg.speedup > 0))
    f->cfg.speedup = 1.0;
  if (!f->cfg.shards)
    f->cfg.shards = 1;
  if (f->cfg.shard >= f->cfg.shards || f->cfg.shard >= cfg->hubs) {
    rc = SIM_EINVAL;
    goto fail;
  }
  f->n_hubs = (cfg->hubs - f->cfg.shard + f->cfg.shards - 1) / f->cfg.shards;
  uint64_t nd = (uint64_t)f->n_hubs * cfg->devices_per_hub;
  if (nd + f->n_hubs >= UINT32_MAX) {
    rc = SIM_EINVAL;
    goto fail;
  }
  f->n_devs = (uint32_t)nd;
  f->hubs = calloc(f->n_hubs, sizeof(*f->hubs));
  f->devs = calloc(f->n_devs, sizeof(*f->devs));
  f->dirty = calloc(f->n_hubs, sizeof(*f->dirty));
  if (!f->hubs || !f->devs || !f->dirty)
    goto fail;
  f->prefix_hash = sim_hash_fnv32(f->cfg.hub_prefix, strlen(f->cfg.hub_prefix)) & 0xFFFFFF;
  double wsum = 0;
  for (size_t i = 0; i < cfg->n_mix; i++)
    wsum += cfg->mix_weight[i] > 0 ? cfg->mix_weight[i] : 0;
  if (wsum <= 0) {
    rc = SIM_EINVAL;
    goto fail;
  }
  struct sim_rng boot;
  sim_rng_seed(&boot, cfg->seed ^ 0xB007B007ull, 0);
  sim_rng_seed(&f->nonce_rng, cfg->seed ^ 0x4E04CEull, cfg->shard);
  for (uint32_t i = 0; i < f->n_hubs; i++) {
    struct hub *h = &f->hubs[i];
    h->f = f;
    h->idx = i;
    h->next_seq = 1;
    h->max_window = 1;
    h->heartbeat_s = 30;
    sim_rng_seed(&h->rng, cfg->seed, hub_global(f, i));
    /* boot_id: fresh per run (a hub process boot), so a platform keeping its store across runs
     * sees a new sequence instead of duplicates. */
    if (fleet_random(f, &h->boot_id, sizeof(h->boot_id)))
      h->boot_id = ((uint64_t)sim_rng_u32(&boot) << 32) | sim_rng_u32(&boot);
    sim_frame_reader_init(&h->rd, SIM_FRAME_MAX);
    sim_buf_init(&h->stash);
    h->n_devs = cfg->devices_per_hub;
    if (cfg->devices_of_hub) {
      uint32_t n = cfg->devices_of_hub(cfg->devices_arg, hub_global(f, i));
      h->n_devs = n < cfg->devices_per_hub ? n : cfg->devices_per_hub;
    }
    for (uint32_t s = 0; s < cfg->devices_per_hub; s++) {
      struct sim_device *d = &f->devs[(size_t)i * cfg->devices_per_hub + s];
      double x = sim_rng_unit(&h->rng) * wsum, acc = 0;
      size_t k = 0;
      for (; k + 1 < cfg->n_mix; k++) {
        acc += cfg->mix_weight[k] > 0 ? cfg->mix_weight[k] : 0;
        if (x < acc)
          break;
      }
      d->hub = i;
      d->model = cfg->mix_model[k];
    }
  }
  if (cfg->uplink && (rc = cfg->uplink->attach(cfg->uplink_arg, f)) != 0)
    goto fail;
  f->air_cap = sim__radio_slots(cfg, f->n_devs);
  rc = sim_sched_init(&f->sched, loop, cfg->virtual_clock, f->n_devs + f->n_hubs + f->air_cap,
                      on_fire, f);
  if (rc)
    goto fail;
  sim_sched_set_early(&f->sched, SIM_FLEET_EARLY_US);
  f->open_handles = 1;
  uv_check_init(loop, &f->check);
  f->check.data = f;
  uv_check_start(&f->check, on_check);
  sim_buf_init(&f->scratch);
  sim_hist_init(&f->st.ack_latency);
  sim_hist_init(&f->st.send_lag);
  sim_hist_init(&f->st.handshake);
  sim_hist_init(&f->st.tick_lag);
  *out = f;
  return 0;
fail:
  free(f->hubs);
  free(f->devs);
  free(f->dirty);
  free(f);
  return rc;
}

int sim_fleet_start(struct sim_fleet *f) {
  sim_time_t now = sim_sched_now(&f->sched);
  for (uint32_t i = 0; i < f->n_hubs; i++) {
    sim_time_t at = now;
    if (f->cfg.ramp > 0)
      at += (sim_time_t)((double)hub_global(f, i) * 1e6 / f->cfg.ramp);
    sim_wheel_add(&f->sched.wheel, f->n_devs + i, at);
  }
  return 0;
}

void sim_fleet_quiesce(struct sim_fleet *f) {
  f->quiesced = 1;
  for (uint32_t id = 0; id < f->n_devs; id++)
    sim_wheel_cancel(&f->sched.wheel, id);
  sim__radio_flush(f);
}

static void maybe_stopped(struct sim_fleet *f) {
  if (--f->open_handles == 0 && f->stop_cb)
    f->stop_cb(f, f->stop_arg);
}

static void on_check_closed(uv_handle_t *h) {
  maybe_stopped(((uv_check_t *)h)->data);
}
static void on_sched_closed(struct sim_sched *s) {
  maybe_stopped((struct sim_fleet *)((char *)s - offsetof(struct sim_fleet, sched)));
}

void sim_fleet_stop(struct sim_fleet *f, void (*cb)(struct sim_fleet *f, void *arg), void *arg) {
  f->stopping = 1;
  if (!f->quiesced)
    sim__radio_flush(f);
  f->quiesced = 1;
  f->stop_cb = cb;
  f->stop_arg = arg;
  on_check(&f->check); /* last writes, then goodbye */
  for (uint32_t i = 0; i < f->n_hubs; i++) {
    struct hub *h = &f->hubs[i];
    if (h->conn && h->state == SIM_HUB_OPEN) {
      Hubrpc__V1__Goodbye g = HUBRPC__V1__GOODBYE__INIT;
      g.reason = "run finished";
      sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
      env.body_case = HUBRPC__V1__ENVELOPE__BODY_GOODBYE;
      env.goodbye = &g;
      send_env(f, h, &env);
    }
    if (h->conn) {
      sim_conn_close(h->conn);
      h->conn = NULL;
    }
    if (f->cfg.uplink) {
      h->drv_live = 0;
      f->cfg.uplink->close(f->cfg.uplink_arg, i, SIM_UPLINK_STOP);
    }
    h->state = SIM_HUB_STOPPED;
  }
  f->open_handles = 2;
  uv_close((uv_handle_t *)&f->check, on_check_closed);
  sim_sched_close(&f->sched, on_sched_closed);
}

void sim_fleet_free(struct sim_fleet *f) {
  if (!f)
    return;
  for (uint32_t i = 0; i < f->n_hubs; i++) {
    sim_buf_fini(&f->hubs[i].q);
    sim_buf_fini(&f->hubs[i].stash);
    free(f->hubs[i].meta);
    sim_frame_reader_fini(&f->hubs[i].rd);
  }
  sim_buf_fini(&f->scratch);
  sim__radio_free(f);
  free(f->hubs);
  free(f->devs);
  free(f->dirty);
  free(f);
}

void sim_fleet_stats(const struct sim_fleet *f, struct sim_fleet_stats *out) {
  *out = f->st;
  out->now = sim_sched_now((struct sim_sched *)&f->sched);
  out->hubs = f->n_hubs;
  out->devices = 0;
  for (uint32_t i = 0; i < f->n_hubs; i++)
    out->devices += f->hubs[i].n_devs;
  memset(out->hubs_by_state, 0, sizeof(out->hubs_by_state));
  out->in_flight = 0;
  out->queued = 0;
  out->hubs_off_by_run = 0;
  out->held_by_off_hubs = 0;
  for (uint32_t i = 0; i < f->n_hubs; i++) {
    const struct hub *h = &f->hubs[i];
    out->hubs_by_state[h->state]++;
    /* max_sent <= next_seq - 1 always: in flight = sent but unacknowledged, queued = never sent */
    uint64_t sent_top = h->max_sent > h->acked ? h->max_sent : h->acked;
    uint64_t drv = f->cfg.uplink ? f->cfg.uplink->held(f->cfg.uplink_arg, i) : 0;
    out->in_flight += sent_top - h->acked + drv;
    out->queued += h->next_seq - 1 - sent_top;
    if (h->offline || h->powered_off) {
      out->hubs_off_by_run++;
      out->held_by_off_hubs += h->next_seq - 1 - h->acked + drv;
    }
  }
  if (f->cfg.uplink)
    f->cfg.uplink->stats(f->cfg.uplink_arg, out);
}

void sim_fleet_stats_merge(struct sim_fleet_stats *dst, const struct sim_fleet_stats *src) {
  int all_dst = dst->hubs && dst->hubs_ever_online == dst->hubs;
  int all_src = src->hubs && src->hubs_ever_online == src->hubs;
  if (src->now > dst->now)
    dst->now = src->now;
  dst->hubs += src->hubs;
  dst->devices += src->devices;
  for (int i = 0; i < SIM_HUB_NSTATES; i++)
    dst->hubs_by_state[i] += src->hubs_by_state[i];
  for (int k = 0; k < SIM_SEQ_NKINDS; k++) {
    dst->kind[k].generated += src->kind[k].generated;
    dst->kind[k].dropped += src->kind[k].dropped;
    dst->kind[k].sent += src->kind[k].sent;
    dst->kind[k].resent += src->kind[k].resent;
    dst->kind[k].acked += src->kind[k].acked;
  }
  dst->in_flight += src->in_flight;
  dst->lost_power += src->lost_power;
  dst->lost_power_sent += src->lost_power_sent;
  dst->power_cuts += src->power_cuts;
  dst->faults += src->faults;
  dst->hubs_off_by_run += src->hubs_off_by_run;
  dst->held_by_off_hubs += src->held_by_off_hubs;
  dst->forgotten += src->forgotten;
  dst->queued += src->queued;
  dst->connects += src->connects;
  dst->sessions += src->sessions;
  dst->disconnects += src->disconnects;
  dst->heartbeats_sent += src->heartbeats_sent;
  dst->commands_received += src->commands_received;
  dst->commands_ok += src->commands_ok;
  dst->commands_failed += src->commands_failed;
  dst->radio_lost += src->radio_lost;
  dst->radio_retries += src->radio_retries;
  dst->cmds_held += src->cmds_held;
  dst->cmds_expired += src->cmds_expired;
  dst->air_full += src->air_full;
  dst->frames_out += src->frames_out;
  dst->frames_in += src->frames_in;
  dst->bytes_out += src->bytes_out;
  dst->bytes_in += src->bytes_in;
  dst->hubs_ever_online += src->hubs_ever_online;
  if (all_dst && all_src)
    dst->all_online_at =
        src->all_online_at > dst->all_online_at ? src->all_online_at : dst->all_online_at;
  else
    dst->all_online_at = 0;
  sim_hist_merge(&dst->ack_latency, &src->ack_latency);
  sim_hist_merge(&dst->send_lag, &src->send_lag);
  sim_hist_merge(&dst->handshake, &src->handshake);
  sim_hist_merge(&dst->tick_lag, &src->tick_lag);
  for (size_t i = 0; i < src->n_errors; i++) {
    size_t j = 0;
    while (j < dst->n_errors && strcmp(dst->errors[j].name, src->errors[i].name) != 0)
      j++;
    if (j == dst->n_errors) {
      if (dst->n_errors == SIM_FLEET_MAX_REASONS)
        continue;
      dst->errors[dst->n_errors++] = src->errors[i];
    } else {
      dst->errors[j].count += src->errors[i].count;
    }
  }
}

sim_time_t sim_fleet_now(const struct sim_fleet *f) {
  return sim_sched_now((struct sim_sched *)&f->sched);
}

struct sim_sched *sim_fleet_sched(struct sim_fleet *f) {
  return &f->sched;
}

void sim_fleet_drop_hub(struct sim_fleet *f, uint32_t hub) {
  if (hub < f->n_hubs && hub_live(&f->hubs[hub]))
    session_ended(f, &f->hubs[hub], 0, "fault:drop");
}

/* ---- for uplink drivers (uplink.h) ---- */

void sim_fleet_uplink_opened(struct sim_fleet *f, uint32_t hub) {
  struct hub *h = &f->hubs[hub];
  sim_time_t now = sim_sched_now(&f->sched);
  h->state = SIM_HUB_OPEN;
  h->fails = 0;
  count_opened(f, h, now);
  /* The driver keeps its session alive itself: no connect timeout, no heartbeat timer. */
  sim_wheel_cancel(&f->sched.wheel, hub_timer(f, h));
}

void sim_fleet_uplink_count(struct sim_fleet *f, const char *name) {
  sim__fleet_count_error(f, name);
}

void sim_fleet_uplink_latency(struct sim_fleet *f, int acked, sim_time_t intended) {
  if (intended < f->cfg.warmup)
    return;
  sim_time_t now = sim_sched_now(&f->sched);
  sim_hist_record(acked ? &f->st.ack_latency : &f->st.send_lag,
                  now > intended ? now - intended : 0);
}

void sim_fleet_uplink_ended(struct sim_fleet *f, uint32_t hub, int reason, const char *what) {
  struct hub *h = &f->hubs[hub];
  if (!h->drv_live)
    return;
  h->drv_live = 0; /* the driver's session is already gone: no close for it */
  session_ended(f, h, reason, what);
}

/* ---- for control.c ---- */

void sim__fleet_session_end(struct sim_fleet *f, struct hub *h, int reason, const char *what) {
  session_ended(f, h, reason, what);
}

void sim__fleet_flush(struct sim_fleet *f, struct hub *h) {
  flush(f, h);
}

void sim__fleet_mark_dirty(struct sim_fleet *f, struct hub *h) {
  mark_dirty(f, h);
}

/* A hub process boot: a new boot id and an empty sequence (what the old boot held is gone). */
void sim__fleet_new_boot(struct sim_fleet *f, struct hub *h) {
  uint64_t old = h->boot_id;
  if (fleet_random(f, &h->boot_id, sizeof(h->boot_id)) || h->boot_id == old)
    h->boot_id = old ^ (((uint64_t)sim_rng_u32(&h->rng) << 32) | sim_rng_u32(&h->rng));
  sim_buf_fini(&h->q);
  h->q_off = 0;
  free(h->meta);
  h->meta = NULL;
  h->meta_cap = 0;
  h->meta_head = 0;
  h->next_seq = 1;
  h->acked = 0;
  h->sent = 0;
  h->max_sent = 0;
  h->sent_bytes = 0;
}
