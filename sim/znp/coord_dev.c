/* Devices joining the emulated coordinator (see coord.h): the join indications a Z-Stack
 * coordinator sends its host, and the descriptors answered for a joined device from its model.
 * Network addresses are drawn the stochastic way Zigbee PRO assigns them (a hash of the IEEE
 * address, probing on a collision), so a device keeps its address across runs. */
#include "sim/znp/coord_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/core/err.h"
#include "sim/core/hash.h"
#include "sim/fleet/model.h"

const struct sim_znp_dev *sim_znp_coord_device(const struct sim_znp_coord *c, uint16_t nwk) {
  for (size_t i = 0; i < c->ndevs; i++)
    if (c->devs[i].nwk == nwk)
      return &c->devs[i];
  return NULL;
}

struct sim_znp_dev *sim__znp_dev_by_ieee(struct sim_znp_coord *c, uint64_t ieee) {
  for (size_t i = 0; i < c->ndevs; i++)
    if (c->devs[i].ieee == ieee)
      return &c->devs[i];
  return NULL;
}

/* MAC capability flags of the announcement: allocate address (0x80), receiver on when idle
 * (0x08, not for a sleepy device), mains powered (0x04), full-function device (0x02, routers). */
static uint8_t capabilities(const struct sim_model *m) {
  uint8_t cap = 0x80;
  if (m->logical_type == SIM_LOGICAL_ROUTER)
    cap |= 0x02;
  if (m->power_source == SIM_POWER_MAINS)
    cap |= 0x04;
  if (!m->sleepy)
    cap |= 0x08;
  return cap;
}

void sim__znp_dev_node_desc(const struct sim_znp_dev *d, struct sim_znp_node_desc *out) {
  const struct sim_model *m = d->model;
  /* Buffer and transfer sizes of a Zigbee 2007 end device or router (the legacy Aqara node
   * descriptor carries 0x7F and 0x0064); server mask 0: no server role. */
  *out = (struct sim_znp_node_desc){.logical = m->logical_type == SIM_LOGICAL_ROUTER ? 1 : 2,
                                    .mac_cap = capabilities(m),
                                    .manufacturer = m->manufacturer_code,
                                    .max_buf = 0x7F,
                                    .max_in = 0x0064,
                                    .server_mask = 0x0000,
                                    .max_out = 0x0064};
}

int sim__znp_dev_ep(const struct sim_znp_dev *d, uint8_t ep, struct sim_znp_ep *out) {
  const struct sim_model *m = d->model;
  for (uint8_t i = 0; i < m->n_endpoints; i++) {
    const struct sim_model_endpoint *e = &m->endpoints[i];
    if (e->id != ep)
      continue;
    memset(out, 0, sizeof *out);
    out->ep = e->id;
    out->profile = e->profile;
    out->device = e->device_id;
    out->version = 1;
    /* The catalogue bounds an endpoint at 32 + 32 clusters, within one answer's 117. */
    out->nin = e->n_in;
    out->nout = e->n_out;
    memcpy(out->in, e->in, e->n_in * sizeof e->in[0]);
    memcpy(out->out, e->out, e->n_out * sizeof e->out[0]);
    return 0;
  }
  return SIM_ENOTFOUND;
}

/* ---- The device's behaviour: the model's ops on the device record ---- */

/* What the emit callback needs: the coordinator and which device speaks. */
struct dev_engine {
  struct sim_znp_coord *c;
  size_t idx;
};

/* A frame from the device goes to the host over the radio (coord_radio.c). */
static int dev_emit(struct sim_dev_env *env, uint8_t endpoint, uint16_t cluster, const uint8_t *zcl,
                    size_t len) {
  struct dev_engine *e = env->engine;
  struct sim_znp_coord *c = e->c;
  struct sim_znp_dev *d = &c->devs[e->idx];
  if (!sim__znp_ctl_in_range(c, d)) { /* lost on the air: nobody hears it */
    c->stats.device_frames_lost++;
    return 0;
  }
  return sim__znp_radio_up(c, d, endpoint, cluster, zcl, len);
}

/* The world as device d sees it for one call of its behaviour: now is the input's time, due
 * the intended time of the wakeup (now for a join or a command), next its scheduled wakeup. The
 * devices' clock is the coordinator's: device time is monotonic milliseconds in µs (no
 * --speedup here). */
static void dev_env(struct sim_znp_coord *c, size_t idx, sim_time_t due, struct dev_engine *e,
                    struct sim_dev_env *env) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t wall = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
  sim_time_t now = SIM_MS(c->now_ms);
  uint64_t late_ms = now > due ? (now - due) / 1000u : 0;
  *e = (struct dev_engine){.c = c, .idx = idx};
  *env = (struct sim_dev_env){.rng = &c->rng,
                              .now = now,
                              .due = due,
                              .wall_ms = wall > late_ms ? wall - late_ms : wall,
                              .eui64 = c->devs[idx].ieee,
                              .next = c->devs[idx].next,
                              .emit = dev_emit,
                              .engine = e};
}

static void announce(struct sim_znp_coord *c, struct sim_znp_dev *d) {
  struct sim_znp_frame f;
  sim_znp_mt_device_annce_ind(&f, d->nwk, d->nwk, d->ieee, capabilities(d->model));
  sim__znp_emit(c, &f);
}

/* The model's join: what the real device sends right after joining (a legacy Aqara device: its
 * model id and heartbeat in one genBasic report), and its first wakeup. */
static void run_join(struct sim_znp_coord *c, struct sim_znp_dev *d, sim_time_t due) {
  const struct sim_model *m = d->model;
  d->join_pending = SIM_ZNP_JOIN_DONE;
  d->next = 0;
  if (!m->ops || !m->ops->join)
    return;
  struct dev_engine e;
  struct sim_dev_env env;
  dev_env(c, (size_t)(d - c->devs), due, &e, &env);
  m->ops->join(m, &d->sd, &env, d->rejoin);
  d->next = env.next;
}

void sim_znp_coord_tick(struct sim_znp_coord *c, uint64_t now_ms) {
  c->now_ms = now_ms;
  sim_time_t now = SIM_MS(now_ms);
  sim__znp_radio_tick(c, now);
  for (size_t i = 0; i < c->ndevs; i++) {
    struct sim_znp_dev *d = &c->devs[i];
    const struct sim_model *m = d->model;
    if (d->join_pending == SIM_ZNP_JOIN_ANNOUNCE && d->join_at <= now) {
      announce(c, d);
      d->join_pending = SIM_ZNP_JOIN_FRAMES;
      d->join_at += SIM_MS(c->join_delay_ms);
    }
    if (d->join_pending == SIM_ZNP_JOIN_FRAMES && d->join_at <= now)
      run_join(c, d, d->join_at);
    if (d->join_pending != SIM_ZNP_JOIN_DONE)
      continue;
    if (!m->ops || !m->ops->tick)
      continue;
    /* A wakeup that leaves the next one due again is followed, a bounded number of times. */
    for (int n = 0; n < SIM_ZNP_TICK_CATCH_UP && d->next != 0 && d->next <= now; n++) {
      struct dev_engine e;
      struct sim_dev_env env;
      sim_time_t due = d->next;
      dev_env(c, i, due, &e, &env);
      env.next = 0;
      m->ops->tick(m, &d->sd, &env);
      /* A behaviour that schedules no later than the wakeup it handles would spin: moved on by
       * one millisecond, as a timer cannot fire twice at the same instant. */
      d->next = env.next != 0 && env.next <= due ? due + SIM_MS(1) : env.next;
    }
    if (d->next != 0 && d->next <= now) /* still behind after the catch-up: resume from now */
      d->next = now + SIM_MS(1);
  }
}

uint64_t sim_znp_coord_next_due(const struct sim_znp_coord *c) {
  uint64_t best = UINT64_MAX;
  for (size_t i = 0; i <= c->ndevs; i++) {
    sim_time_t t = i == c->ndevs             ? sim__znp_radio_next_due(c)
                   : c->devs[i].join_pending ? c->devs[i].join_at
                                             : c->devs[i].next;
    if (t != 0 && (t + 999u) / 1000u < best)
      best = (t + 999u) / 1000u;
  }
  return best;
}

int sim__znp_dev_zcl(struct sim_znp_coord *c, struct sim_znp_dev *d, uint8_t ep, uint16_t cluster,
                     const uint8_t *zcl, size_t len) {
  /* ZCL header: frame control, manufacturer code when bit 2 is set, sequence number, command */
  size_t hdr = len > 0 && (zcl[0] & 0x04) ? 5 : 3;
  if (len < hdr)
    return SIM_EMALFORMED;
  const struct sim_model *m = d->model;
  if (!m->ops || !m->ops->command)
    return 0;
  struct sim_dev_cmd cmd = {.endpoint = ep,
                            .cluster = cluster,
                            .command = zcl[hdr - 1],
                            .global = (zcl[0] & 0x03) == 0,
                            .manufacturer_code = hdr == 5 ? (uint16_t)(zcl[1] | zcl[2] << 8) : 0,
                            .payload = zcl + hdr,
                            .len = len - hdr};
  struct dev_engine e;
  struct sim_dev_env env;
  dev_env(c, (size_t)(d - c->devs), SIM_MS(c->now_ms), &e, &env);
  /* A real device answers with the request's sequence number; the behaviour answers with the
   * device's next one, so it is lent the request's for this call. */
  uint8_t own = d->sd.tsn;
  d->sd.tsn = zcl[hdr - 2];
  uint32_t latency_us = 0;
  m->ops->command(m, &d->sd, &env, &cmd, &latency_us);
  d->sd.tsn = own;
  d->next = env.next; /* a command may schedule its actuation's end, or a report */
  return 0;
}

void sim__znp_dev_remove(struct sim_znp_coord *c, struct sim_znp_dev *d) {
  sim__znp_tables_left(c, d->ieee);
  size_t i = (size_t)(d - c->devs);
  memmove(&c->devs[i], &c->devs[i + 1], (c->ndevs - i - 1) * sizeof *d);
  c->ndevs--;
}

/* A free network address for ieee: 0x0001..0xFFF7, derived from the address, probing on. */
static uint16_t pick_nwk(const struct sim_znp_coord *c, uint64_t ieee) {
  uint64_t h = sim_hash_mix64(ieee);
  for (;;) {
    uint16_t nwk = (uint16_t)(1 + h % 0xFFF7);
    if (!sim_znp_coord_device(c, nwk))
      return nwk;
    h++; /* at most SIM_ZNP_MAX_DEVICES addresses are taken, so this ends */
  }
}

int sim_znp_coord_join(struct sim_znp_coord *c, const struct sim_model *m, uint64_t ieee,
                       uint64_t now_ms, uint16_t *nwk) {
  if (c->state != SIM_ZNP_DEV_ZB_COORD || !sim_znp_coord_permit_open(c, now_ms))
    return SIM_EUNEXPECTED;
  c->now_ms = now_ms;
  struct sim_znp_dev *d = sim__znp_dev_by_ieee(c, ieee);
  int rejoin = 1;
  if (!d) {
    if (c->ndevs >= SIM_ZNP_MAX_DEVICES)
      return SIM_EFULL;
    if (c->ndevs == c->cap_devs) {
      size_t cap = c->cap_devs ? 2 * c->cap_devs : 16;
      struct sim_znp_dev *p = realloc(c->devs, cap * sizeof *p);
      if (!p)
        return SIM_ENOMEM;
      c->devs = p;
      c->cap_devs = cap;
    }
    d = &c->devs[c->ndevs];
    *d = (struct sim_znp_dev){.ieee = ieee, .nwk = pick_nwk(c, ieee), .model = m};
    int idx = sim_model_find(m->model_id);
    d->sd.model = idx >= 0 ? (uint16_t)idx : 0;
    c->ndevs++;
    rejoin = 0;
  }
  sim__znp_tables_joined(c, d);
  struct sim_znp_frame f;
  sim_znp_mt_tc_dev_ind(&f, d->nwk, ieee, 0x0000);
  sim__znp_emit(c, &f);
  d->rejoin = (uint8_t)rejoin;
  /* Joining, the device polls fast and stays awake for the host's interview. */
  d->awake_until = SIM_MS(now_ms + 2ull * c->join_delay_ms + c->radio.awake_join_ms);
  d->pairing_until = d->awake_until;
  if (c->join_delay_ms > 0) {
    d->join_pending = SIM_ZNP_JOIN_ANNOUNCE;
    d->join_at = SIM_MS(now_ms + c->join_delay_ms);
  } else {
    announce(c, d);
    run_join(c, d, SIM_MS(now_ms));
  }
  if (nwk)
    *nwk = d->nwk;
  return 0;
}
