/* Hubs as zigbee2mqtt bridges: one MQTT client per hub, the bridge messages on connect, a state
 * message per device whenever one of its frames changes its state, and /set and /get commands
 * executed on the device through the fleet's command path.
 *
 * Accounting (docs/summary.md): a state message counts as a report; sent when the client took it
 * (QoS 1: into its window or the queue behind it, resent by the client after a reconnect; QoS 0:
 * written), acked when the broker's PUBACK accepted it. Every other message (bridge, availability,
 * discovery, logging) goes at QoS 0, so each PUBACK the client reports is a state message's and
 * needs no table of tokens. While a hub is not connected its devices' changes only mark the
 * device: the state message goes out on connect, carrying the whole cached state. */
#include "app/z2m_hub.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "devices/z2m.h"
#include "scenarios/scn.h"
#include "sim/core/err.h"
#include "sim/core/hash.h"
#include "sim/core/log.h"
#include "sim/mqtt/client.h"
#include "sim/mqtt/stream.h"

#define ZDEV_DIRTY 1u  /* a state message is due (changed while offline) */
#define ZDEV_JOINEV 2u /* its join events are due */
#define ZDEV_JOINED 4u /* in the hub's network */
#define ZDEV_NODEF 8u  /* no zigbee2mqtt definition: no state messages */
#define NAME_CAP 24    /* "0x" + 16 hex digits + NUL */
#define TOPIC_CAP (APP_Z2M_BASE_MAX + 64 + 256)

struct zhub {
  struct app_z2m *z;
  struct sim_mqtt_client *c;
  struct dev_z2m_dev *zd; /* per device slot */
  uint8_t *flags;         /* ZDEV_* per device slot */
  char *base;
  char id[40];
  uint32_t idx;
  uint32_t n_devs;
  uint32_t outstanding; /* QoS 1 state messages taken, not yet answered */
  uint8_t up;           /* CONNACK seen: the bridge is online */
  uint8_t fifo_broken;  /* a push found no memory: no ack latency until outstanding is 0 */
  /* Per device slot: the intended time of the first change not yet published (ZDEV_DIRTY). */
  sim_time_t *since;
  /* The intended times of the outstanding QoS 1 state messages, oldest first (outstanding of
   * them from fifo_head, a ring of fifo_cap): a broker answers a connection's QoS 1 PUBLISHes
   * in the order it received them (MQTT 3.1.1 4.6, 5.0 4.6), and a resend after a reconnect
   * keeps that order, so each PUBACK answers the oldest. */
  sim_time_t *fifo;
  uint32_t fifo_cap, fifo_head;
};

struct app_z2m {
  uv_loop_t *loop;
  struct sim_transport *t;
  struct app_z2m_opts o;
  char *url, *base, *user, *pass;
  struct sim_fleet *f;
  struct zhub *hubs;
  uint32_t n_hubs;
  uint64_t cmd_id;
  struct sim_log_limit why_lim;
  /* Counts for the summary (docs/summary.md, "the zigbee2mqtt profile"). */
  uint64_t generated, sent, acked, dropped, lost_power;
  uint64_t msgs_out, bytes_out, msgs_in, bytes_in;
};

/* ---- names and topics ---- */

int app_z2m_broker(const char *url, struct sim_addr *out) {
  const char *why = NULL;
  int tls = 0;
  return sim_mqtt_url_parse(url, 1, out, &tls, &why) ? SIM_EINVAL : 0;
}

const char *app_z2m_base_problem(const char *pattern, uint64_t hubs) {
  if (!*pattern || strlen(pattern) > APP_Z2M_BASE_MAX)
    return "expected 1 to 200 bytes";
  if (strpbrk(pattern, "+#"))
    return "a base topic has no wildcards (+ or #)";
  if (pattern[0] == '/' || pattern[strlen(pattern) - 1] == '/' || strstr(pattern, "//"))
    return "a base topic has no empty level";
  if (hubs > 1 && !strstr(pattern, "{hub}"))
    return "every hub needs its own base topic: put {hub} (the hub id) in it";
  return NULL;
}

/* The pattern with every {hub} replaced by id; NULL on out of memory. */
static char *base_of(const char *pattern, const char *id) {
  size_t n = 0, il = strlen(id);
  for (const char *p = pattern; *p; p++)
    n += strncmp(p, "{hub}", 5) == 0 ? (p += 4, il) : 1u;
  char *out = malloc(n + 1), *o = out;
  if (!out)
    return NULL;
  for (const char *p = pattern; *p; p++) {
    if (strncmp(p, "{hub}", 5) == 0) {
      memcpy(o, id, il);
      o += il;
      p += 4;
    } else {
      *o++ = *p;
    }
  }
  *o = '\0';
  return out;
}

static void devinfo(struct zhub *zh, uint32_t slot, struct dev_z2m_devinfo *out) {
  struct sim_device_info di;
  sim_fleet_device_info(zh->z->f, zh->idx, slot, &di);
  out->ieee = di.eui64;
  out->nwk = (uint16_t)(1u + (sim_hash_mix64(di.eui64) % 0xFFF6u)); /* 0x0000 is the hub */
  out->friendly_name = NULL; /* zigbee2mqtt names a new device by its IEEE address */
  out->model_id = di.model ? di.model->model_id : "";
}

static void hubinfo(struct zhub *zh, struct dev_z2m_hubinfo *out) {
  uint64_t h = sim_hash_str(zh->id);
  out->base_topic = zh->base;
  out->coordinator = 0x00124B0000000000ull | (h & 0xFFFFFFFFFFull);
  out->pan_id = (uint16_t)(1u + (h >> 40) % 0xFFFEu);
  out->channel = 11;
  out->mqtt_server = zh->z->url;
  out->permit_join = 0;
}

static const char *dev_name(struct zhub *zh, uint32_t slot, char *buf) {
  struct dev_z2m_devinfo d;
  devinfo(zh, slot, &d);
  return dev_z2m_name(&d, buf, NAME_CAP);
}

/* ---- publishing ---- */

/* Publishes under <base>/sub (sub NULL: full is the whole topic) and frees payload. QoS 0
 * messages need a connection; they are dropped without one (the next connect republishes what
 * matters). */
static int publish(struct zhub *zh, const char *sub, char *payload, int qos, int retain) {
  char topic[TOPIC_CAP];
  if (!payload)
    return SIM_ENOMEM;
  int n = snprintf(topic, sizeof topic, "%s/%s", zh->base, sub);
  int rc = SIM_ETOOBIG;
  size_t len = strlen(payload);
  if (n > 0 && (size_t)n < sizeof topic)
    rc = sim_mqtt_client_publish(zh->c, topic, payload, len, qos, retain, NULL);
  if (rc == 0) {
    zh->z->msgs_out++;
    zh->z->bytes_out += len;
  }
  free(payload);
  return rc;
}

/* An error line on bridge/logging, as zigbee2mqtt logs a refused command. */
static void log_error(struct zhub *zh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_error(struct zhub *zh, const char *fmt, ...) {
  struct dev_z2m_err e;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e.message, sizeof e.message, fmt, ap);
  va_end(ap);
  publish(zh, "bridge/logging", dev_z2m_err_json(&e), 0, 0);
}

/* Appends intended to the hub's ring of outstanding state messages (before outstanding counts
 * it). On no memory the ring is given up until it empties. */
static void fifo_push(struct zhub *zh, sim_time_t intended) {
  if (zh->fifo_broken)
    return;
  if (zh->outstanding == zh->fifo_cap) {
    uint32_t ncap = zh->fifo_cap ? zh->fifo_cap * 2 : 4;
    sim_time_t *n = malloc(ncap * sizeof *n);
    if (!n) {
      zh->fifo_broken = 1;
      return;
    }
    for (uint32_t i = 0; i < zh->outstanding; i++)
      n[i] = zh->fifo[(zh->fifo_head + i) % zh->fifo_cap];
    free(zh->fifo);
    zh->fifo = n;
    zh->fifo_cap = ncap;
    zh->fifo_head = 0;
  }
  zh->fifo[(zh->fifo_head + zh->outstanding) % zh->fifo_cap] = intended;
}

/* The state message of device slot, counted as a report; intended is when the change it
 * carries was meant to leave (the frame's, or the first unpublished change's). */
static void publish_state(struct zhub *zh, uint32_t slot, sim_time_t intended) {
  struct app_z2m *z = zh->z;
  char name[NAME_CAP];
  zh->flags[slot] &= (uint8_t)~ZDEV_DIRTY;
  z->generated++;
  int rc = publish(zh, dev_name(zh, slot, name), dev_z2m_dev_state(&zh->zd[slot]), z->o.qos, 0);
  if (rc) {
    z->dropped++;
    sim_fleet_uplink_count(z->f, rc == SIM_EFULL ? "mqtt:queue_full" : sim_errname(rc));
    return;
  }
  z->sent++;
  sim_fleet_uplink_latency(z->f, 0, intended);
  if (z->o.qos) {
    fifo_push(zh, intended);
    zh->outstanding++;
  }
}

/* bridge/devices: the devices in the network now. */
static void publish_devices(struct zhub *zh) {
  struct dev_z2m_devinfo *d = calloc(zh->n_devs ? zh->n_devs : 1, sizeof *d);
  struct dev_z2m_hubinfo hi;
  size_t n = 0;
  if (!d)
    return;
  hubinfo(zh, &hi);
  for (uint32_t s = 0; s < zh->n_devs; s++)
    if (zh->flags[s] & ZDEV_JOINED)
      devinfo(zh, s, &d[n++]);
  publish(zh, "bridge/devices", dev_z2m_bridge_devices(&hi, d, n), 0, 1);
  free(d);
}

static void publish_join_events(struct zhub *zh, uint32_t slot) {
  struct dev_z2m_devinfo d;
  devinfo(zh, slot, &d);
  zh->flags[slot] &= (uint8_t)~ZDEV_JOINEV;
  publish(zh, "bridge/event", dev_z2m_bridge_event(DEV_Z2M_EV_JOINED, &d), 0, 0);
  publish(zh, "bridge/event", dev_z2m_bridge_event(DEV_Z2M_EV_INTERVIEW_STARTED, &d), 0, 0);
  publish(zh, "bridge/event", dev_z2m_bridge_event(DEV_Z2M_EV_INTERVIEW_SUCCESSFUL, &d), 0, 0);
}

static void publish_availability(struct zhub *zh, uint32_t slot, int online) {
  char sub[NAME_CAP + 16], name[NAME_CAP];
  snprintf(sub, sizeof sub, "%s/availability", dev_name(zh, slot, name));
  publish(zh, sub, dev_z2m_state_json(online), 0, 1);
}

static void publish_discovery(struct zhub *zh, uint32_t slot) {
  struct dev_z2m_devinfo d;
  struct dev_z2m_hubinfo hi;
  devinfo(zh, slot, &d);
  hubinfo(zh, &hi);
  size_t n = dev_z2m_ha_count(&d);
  for (size_t i = 0; i < n; i++) {
    char *topic = NULL, *payload = NULL;
    if (dev_z2m_ha_config(&hi, &d, i, 1, &topic, &payload) == 0 &&
        sim_mqtt_client_publish(zh->c, topic, payload, strlen(payload), 0, 1, NULL) == 0) {
      zh->z->msgs_out++;
      zh->z->bytes_out += strlen(payload);
    }
    free(topic);
    free(payload);
  }
}

/* ---- commands ---- */

struct known_ctx {
  struct zhub *zh;
  uint32_t slot;
};

static int known(void *arg, const char *name) {
  struct known_ctx *k = arg;
  char buf[NAME_CAP];
  for (uint32_t s = 0; s < k->zh->n_devs; s++)
    if ((k->zh->flags[s] & ZDEV_JOINED) && strcmp(dev_name(k->zh, s, buf), name) == 0) {
      k->slot = s;
      return 1;
    }
  return 0;
}

/* A /set or /get for one of the hub's devices: executed, or refused on bridge/logging. */
static void on_command(struct zhub *zh, const struct sim_mqtt_msg *m) {
  struct known_ctx k = {zh, 0};
  struct dev_z2m_topic tp;
  if (dev_z2m_parse_topic(zh->base, m->topic, m->topic_len, known, &k, &tp))
    return; /* not a command for a device of this hub: zigbee2mqtt ignores it too */
  struct dev_z2m_cmds cmds;
  struct dev_z2m_err err;
  const struct dev_z2m_dev *zd = &zh->zd[k.slot];
  const char *ep = tp.endpoint[0] ? tp.endpoint : NULL, *attr = tp.attr[0] ? tp.attr : NULL;
  int rc;
  if (zh->flags[k.slot] & ZDEV_NODEF)
    rc = SIM_ENOTFOUND;
  else if (tp.set)
    rc = dev_z2m_parse_set(zd, tp.name, ep, attr, (const char *)m->payload, m->len, &cmds, &err);
  else
    rc = dev_z2m_parse_get(zd, tp.name, ep, attr, (const char *)m->payload, m->len, &cmds, &err);
  if (rc == SIM_ENOTFOUND) {
    log_error(zh, "z2m: No converter available for '%s' (%s is not supported)", tp.name,
              tp.set ? "set" : "get");
    sim_fleet_uplink_count(zh->z->f, "z2m:command_refused");
    return;
  }
  if (rc) {
    publish(zh, "bridge/logging", dev_z2m_err_json(&err), 0, 0);
    sim_fleet_uplink_count(zh->z->f, "z2m:command_refused");
    return;
  }
  for (size_t i = 0; i < cmds.n; i++)
    if (sim_fleet_device_command(zh->z->f, zh->idx, k.slot, &cmds.c[i].cmd, ++zh->z->cmd_id)) {
      log_error(zh, "z2m: Publish to '%s' failed: the device is not in the network", tp.name);
      break;
    }
}

/* ---- the client's callbacks ---- */

static void subscribe_commands(struct zhub *zh) {
  static const char *const forms[] = {"+/set",   "+/get",   "+/+/set",   "+/+/get",
                                      "+/set/+", "+/get/+", "+/+/set/+", "+/+/get/+"};
  char filter[TOPIC_CAP];
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    snprintf(filter, sizeof filter, "%s/%s", zh->base, forms[i]);
    sim_mqtt_client_subscribe(zh->c, filter, 1, NULL);
  }
}

/* The bridge comes online, in zigbee2mqtt's order (docs/zigbee2mqtt.md, "Bridge messages"). */
static void on_connected(struct sim_mqtt_client *c, int session_present, void *user) {
  struct zhub *zh = user;
  struct dev_z2m_hubinfo hi;
  (void)c;
  (void)session_present;
  zh->up = 1;
  hubinfo(zh, &hi);
  publish(zh, "bridge/state", dev_z2m_state_json(1), 0, 1);
  subscribe_commands(zh);
  publish(zh, "bridge/info", dev_z2m_bridge_info(&hi), 0, 1);
  publish_devices(zh);
  for (uint32_t s = 0; s < zh->n_devs; s++)
    if (zh->flags[s] & ZDEV_JOINEV)
      publish_join_events(zh, s);
  for (uint32_t s = 0; s < zh->n_devs; s++)
    if (zh->flags[s] & ZDEV_JOINED)
      publish_availability(zh, s, 1);
  for (uint32_t s = 0; s < zh->n_devs; s++)
    if ((zh->flags[s] & (ZDEV_DIRTY | ZDEV_JOINED)) == (ZDEV_DIRTY | ZDEV_JOINED))
      publish_state(zh, s, zh->since[s]);
  if (zh->z->o.discovery)
    for (uint32_t s = 0; s < zh->n_devs; s++)
      if (zh->flags[s] & ZDEV_JOINED)
        publish_discovery(zh, s);
  sim_fleet_uplink_opened(zh->z->f, zh->idx);
}

static void on_closed(struct sim_mqtt_client *c, int err, void *user) {
  struct zhub *zh = user;
  const char *why = sim_mqtt_client_why(c);
  zh->up = 0;
  if (why && *why)
    sim_log_limited(&zh->z->why_lim, 1000, SIM_LOG_WARN, "hub %s: MQTT: %s", zh->id, why);
  sim_fleet_uplink_ended(zh->z->f, zh->idx, err ? err : SIM_ECLOSED, err ? NULL : "mqtt:closed");
}

static void on_message(struct sim_mqtt_client *c, const struct sim_mqtt_msg *m, void *user) {
  struct zhub *zh = user;
  (void)c;
  zh->z->msgs_in++;
  zh->z->bytes_in += m->len;
  on_command(zh, m);
}

static void on_done(struct sim_mqtt_client *c, uint64_t token, int status, uint8_t reason,
                    void *user) {
  struct zhub *zh = user;
  (void)c;
  (void)token;
  (void)reason;
  if (!zh->outstanding)
    return; /* not a state message of this run's accounting (none other is QoS 1) */
  int known = !zh->fifo_broken;
  sim_time_t intended = known ? zh->fifo[zh->fifo_head] : 0;
  if (known)
    zh->fifo_head = (zh->fifo_head + 1) % zh->fifo_cap;
  if (--zh->outstanding == 0)
    zh->fifo_broken = 0;
  if (status == 0) {
    zh->z->acked++;
    if (known)
      sim_fleet_uplink_latency(zh->z->f, 1, intended);
  } else {
    sim_fleet_uplink_count(zh->z->f, "mqtt:puback_refused");
  }
}

static const struct sim_mqtt_client_cbs client_cbs = {
    .connected_cb = on_connected,
    .closed_cb = on_closed,
    .message_cb = on_message,
    .done_cb = on_done,
};

/* ---- the driver's operations ---- */

static int z_attach(void *arg, struct sim_fleet *f) {
  struct app_z2m *z = arg;
  z->f = f;
  z->n_hubs = sim_fleet_hub_count(f);
  z->hubs = calloc(z->n_hubs, sizeof *z->hubs);
  if (!z->hubs)
    return SIM_ENOMEM;
  uint32_t dph = sim_fleet_devices_per_hub(f);
  for (uint32_t i = 0; i < z->n_hubs; i++) {
    struct zhub *zh = &z->hubs[i];
    zh->z = z;
    zh->idx = i;
    sim_fleet_hub_id(f, i, zh->id, sizeof zh->id);
    zh->base = base_of(z->o.base, zh->id);
    zh->zd = calloc(dph, sizeof *zh->zd);
    zh->flags = calloc(dph, 1);
    zh->since = calloc(dph, sizeof *zh->since);
    if (!zh->base || !zh->zd || !zh->flags || !zh->since)
      return SIM_ENOMEM;
    for (uint32_t s = 0; s < dph; s++) {
      struct sim_device_info di;
      if (sim_fleet_device_info(f, i, s, &di) || !di.model)
        break;
      zh->n_devs = s + 1;
      int rc = dev_z2m_dev_init(&zh->zd[s], di.model->model_id);
      if (rc == SIM_ENOTFOUND)
        zh->flags[s] |= ZDEV_NODEF;
      else if (rc)
        return rc;
    }
  }
  return 0;
}

static int z_connect(void *arg, uint32_t hub) {
  struct app_z2m *z = arg;
  struct zhub *zh = &z->hubs[hub];
  if (!zh->c) {
    char will[TOPIC_CAP];
    snprintf(will, sizeof will, "%s/bridge/state", zh->base);
    static const char offline[] = "{\"state\":\"offline\"}";
    struct sim_mqtt_client_opts o = {
        .client_id = zh->id,
        .version = z->o.version ? z->o.version : 4, /* zigbee2mqtt's default (mqtt.version) */
        .clean = 1,
        .keepalive = z->o.keepalive ? z->o.keepalive : 60, /* and its mqtt.keepalive */
        .username = z->o.username,
        .password = z->o.password,
        .will_topic = will,
        .will_payload = offline,
        .will_len = sizeof offline - 1,
        .will_qos = 1,
        .will_retain = 1,
    };
    int rc = sim_mqtt_client_new(z->loop, &o, &client_cbs, zh, &zh->c);
    if (rc)
      return rc;
  }
  return sim_mqtt_client_connect(zh->c, z->t, &z->o.broker);
}

static void z_close(void *arg, uint32_t hub, enum sim_uplink_close how) {
  struct app_z2m *z = arg;
  struct zhub *zh = &z->hubs[hub];
  if (!zh->c)
    return;
  if (how == SIM_UPLINK_STOP && zh->up) {
    /* A graceful end, as zigbee2mqtt stops: offline, then DISCONNECT (the broker drops the
     * will). */
    publish(zh, "bridge/state", dev_z2m_state_json(0), 0, 1);
    sim_mqtt_client_disconnect(zh->c);
  } else {
    sim_mqtt_client_abort(zh->c); /* the broker publishes the will */
  }
  zh->up = 0;
  if (how == SIM_UPLINK_ABORT)
    return;
  if (how == SIM_UPLINK_POWER) {
    /* The hub's memory is gone: what the client held, and the devices' cached states. */
    z->lost_power += zh->outstanding;
    zh->outstanding = 0;
    zh->fifo_head = 0;
    zh->fifo_broken = 0;
    for (uint32_t s = 0; s < zh->n_devs; s++) {
      if (zh->flags[s] & ZDEV_NODEF)
        continue;
      struct sim_device_info di;
      sim_fleet_device_info(z->f, hub, s, &di);
      dev_z2m_dev_fini(&zh->zd[s]);
      if (dev_z2m_dev_init(&zh->zd[s], di.model->model_id))
        zh->flags[s] |= ZDEV_NODEF;
      zh->flags[s] &= (uint8_t)~ZDEV_DIRTY;
    }
  }
  /* Stop and power cut free the client (never from its own callbacks: the fleet calls these
   * from its timers, the control surface or the end of the run). */
  sim_mqtt_client_free(zh->c);
  zh->c = NULL;
}

static void z_joined(void *arg, uint32_t hub, uint32_t slot, int rejoin) {
  struct zhub *zh = &((struct app_z2m *)arg)->hubs[hub];
  (void)rejoin;
  zh->flags[slot] |= ZDEV_JOINED | ZDEV_JOINEV;
  if (!zh->up)
    return; /* published on connect */
  publish_devices(zh);
  publish_join_events(zh, slot);
  publish_availability(zh, slot, 1);
  if (zh->z->o.discovery)
    publish_discovery(zh, slot);
}

static void z_left(void *arg, uint32_t hub, uint32_t slot) {
  struct zhub *zh = &((struct app_z2m *)arg)->hubs[hub];
  zh->flags[slot] &= (uint8_t) ~(ZDEV_JOINED | ZDEV_JOINEV | ZDEV_DIRTY);
  if (!zh->up)
    return;
  struct dev_z2m_devinfo d;
  devinfo(zh, slot, &d);
  publish(zh, "bridge/event", dev_z2m_bridge_event(DEV_Z2M_EV_LEAVE, &d), 0, 0);
  publish_devices(zh);
}

static void z_frame(void *arg, uint32_t hub, uint32_t slot, uint8_t lqi, uint8_t endpoint,
                    uint16_t cluster, const uint8_t *zcl, size_t len, sim_time_t intended) {
  struct zhub *zh = &((struct app_z2m *)arg)->hubs[hub];
  int changed = 0;
  if (zh->flags[slot] & ZDEV_NODEF)
    return;
  if (dev_z2m_dev_frame(&zh->zd[slot], lqi, endpoint, cluster, zcl, len, &changed)) {
    sim_fleet_uplink_count(zh->z->f, "device:undecodable_zcl");
    return;
  }
  if (!changed)
    return;
  if (zh->up) {
    publish_state(zh, slot, intended);
  } else if (!(zh->flags[slot] & ZDEV_DIRTY)) {
    zh->flags[slot] |= ZDEV_DIRTY;
    zh->since[slot] = intended;
  }
}

static void z_result(void *arg, uint32_t hub, uint32_t slot, uint64_t cmd_id, int unknown,
                     uint32_t zcl_status) {
  struct zhub *zh = &((struct app_z2m *)arg)->hubs[hub];
  char name[NAME_CAP], why[64];
  (void)cmd_id;
  if (!unknown && zcl_status == 0)
    return;
  if (unknown)
    snprintf(why, sizeof why, "the device left the network");
  else
    snprintf(why, sizeof why, "the device answered ZCL status 0x%02" PRIx32, zcl_status);
  if (zh->up)
    log_error(zh, "z2m: Publish to '%s' failed: %s", dev_name(zh, slot, name), why);
}

static uint64_t z_held(void *arg, uint32_t hub) {
  return ((struct app_z2m *)arg)->hubs[hub].outstanding;
}

static void z_stats(void *arg, struct sim_fleet_stats *out) {
  struct app_z2m *z = arg;
  struct sim_seq_counts *k = &out->kind[SIM_SEQ_REPORT];
  k->generated += z->generated;
  k->sent += z->sent;
  k->acked += z->acked;
  k->dropped += z->dropped;
  /* QoS 1 messages in flight when the power went: sent, gone with the hub's memory. */
  out->lost_power += z->lost_power;
  out->lost_power_sent += z->lost_power;
  out->frames_out += z->msgs_out;
  out->bytes_out += z->bytes_out;
  out->frames_in += z->msgs_in;
  out->bytes_in += z->bytes_in;
}

static int z_scn_command(void *arg, const struct scn_device_ref *dev, uint8_t ep, uint16_t cluster,
                         uint8_t command, const uint8_t *payload, size_t len, uint64_t *cmd_id) {
  struct app_z2m *z = arg;
  struct sim_dev_cmd dc = {
      .endpoint = ep, .cluster = cluster, .command = command, .payload = payload, .len = len};
  uint64_t id = ++z->cmd_id;
  int rc = sim_fleet_device_command(z->f, dev->hub, dev->slot, &dc, id);
  if (rc == 0 && cmd_id)
    *cmd_id = id;
  return rc;
}

void app_z2m_ops(struct app_z2m *z, struct scn_platform_ops *ops) {
  memset(ops, 0, sizeof *ops);
  ops->arg = z;
  ops->command = z_scn_command;
}

static const struct sim_fleet_uplink z2m_uplink = {
    .name = "zigbee2mqtt",
    .attach = z_attach,
    .connect = z_connect,
    .close = z_close,
    .joined = z_joined,
    .left = z_left,
    .frame = z_frame,
    .result = z_result,
    .held = z_held,
    .stats = z_stats,
};

const struct sim_fleet_uplink *app_z2m_uplink(void) {
  return &z2m_uplink;
}

int app_z2m_new(uv_loop_t *loop, struct sim_transport *t, const struct app_z2m_opts *opts,
                struct app_z2m **out) {
  struct app_z2m *z = calloc(1, sizeof *z);
  if (!z)
    return SIM_ENOMEM;
  z->loop = loop;
  z->t = t;
  z->o = *opts;
  z->url = strdup(opts->url ? opts->url : "");
  z->base = strdup(opts->base ? opts->base : APP_Z2M_BASE_DEFAULT);
  z->user = opts->username ? strdup(opts->username) : NULL;
  z->pass = opts->password ? strdup(opts->password) : NULL;
  if (!z->url || !z->base || (opts->username && !z->user) || (opts->password && !z->pass) ||
      dev_z2m_load()) {
    app_z2m_free(z);
    return SIM_ENOMEM;
  }
  z->o.url = z->url;
  z->o.base = z->base;
  z->o.username = z->user;
  z->o.password = z->pass;
  *out = z;
  return 0;
}

void app_z2m_free(struct app_z2m *z) {
  if (!z)
    return;
  for (uint32_t i = 0; z->hubs && i < z->n_hubs; i++) {
    struct zhub *zh = &z->hubs[i];
    if (zh->c)
      sim_mqtt_client_free(zh->c); /* only after a failed start: the fleet's stop frees them */
    for (uint32_t s = 0; zh->zd && s < zh->n_devs; s++)
      if (!(zh->flags[s] & ZDEV_NODEF))
        dev_z2m_dev_fini(&zh->zd[s]);
    free(zh->zd);
    free(zh->flags);
    free(zh->since);
    free(zh->fifo);
    free(zh->base);
  }
  free(z->hubs);
  free(z->url);
  free(z->base);
  free(z->user);
  if (z->pass) {
    explicit_bzero(z->pass, strlen(z->pass));
    free(z->pass);
  }
  free(z);
}
