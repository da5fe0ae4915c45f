/* The air between devices and their hub: per-hop delay and loss with MAC retries, and the
 * indirect delivery of commands to sleepy end devices (held by the hub until the device polls).
 *
 * Frames and commands that must wait live in a fixed pool of air slots, each with its own timer
 * in the scheduler's wheel (ids after the devices' and hubs'). The pool is allocated the first
 * time something has to wait, so a fleet without radio delay and without sleepy commands pays
 * nothing. When the pool is full, a frame goes through undelayed and a command times out; both
 * are counted (air_full), never silent. */
#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"
#include "sim/core/hash.h"
#include "sim/fleet/fleet_internal.h"

enum { AIR_UP = 1, AIR_DOWN, AIR_EXPIRE, AIR_HUB };

struct air_slot {
  uint8_t kind;
  uint8_t endpoint;
  uint8_t lqi;
  uint8_t command;
  uint8_t global;
  uint8_t pad;
  uint16_t cluster;
  uint16_t mfr;
  uint16_t len;
  uint32_t hub;
  uint32_t dev_slot;
  sim_time_t intended; /* up: when the device sent it; down: when the hub received it */
  uint64_t wall_ms;    /* up: the device's timestamp */
  uint64_t cmd_id;
  uint8_t data[SIM_AIR_FRAME_MAX];
};

int sim__radio_enabled(const struct sim_fleet *f) {
  return f->cfg.radio_hops > 0 && (f->cfg.radio_hop_delay > 0 || f->cfg.radio_loss > 0);
}

uint32_t sim__radio_slots(const struct sim_fleet_config *cfg, uint32_t n_devs) {
  if (cfg->air_slots)
    return cfg->air_slots;
  uint32_t n = n_devs / 4;
  return n < 1024 ? 1024 : n;
}

static int air_alloc(struct sim_fleet *f, uint32_t *out) {
  if (!f->air) {
    f->air = calloc(f->air_cap, sizeof(*f->air));
    f->air_free = malloc(f->air_cap * sizeof(*f->air_free));
    if (!f->air || !f->air_free) {
      free(f->air);
      free(f->air_free);
      f->air = NULL;
      f->air_free = NULL;
      return SIM_ENOMEM;
    }
    for (uint32_t i = 0; i < f->air_cap; i++)
      f->air_free[i] = f->air_cap - 1 - i;
    f->n_air_free = f->air_cap;
  }
  if (!f->n_air_free) {
    f->st.air_full++;
    return SIM_EFULL;
  }
  *out = f->air_free[--f->n_air_free];
  return 0;
}

static void air_release(struct sim_fleet *f, uint32_t i) {
  f->air[i].kind = 0;
  f->air_free[f->n_air_free++] = i;
}

static uint32_t air_timer(const struct sim_fleet *f, uint32_t i) {
  return f->n_devs + f->n_hubs + i;
}

#define NEVER ((sim_time_t)-1)

/* The time one crossing of the device's hops takes, or NEVER when every attempt of a hop
 * failed. The device's distance from the hub is fixed by its address. */
static sim_time_t crossing(struct sim_fleet *f, struct hub *h, uint64_t eui) {
  uint32_t hops = 1 + (uint32_t)(sim_hash_mix64(eui ^ 0x40905ull) % f->cfg.radio_hops);
  sim_time_t t = 0;
  for (uint32_t k = 0; k < hops; k++) {
    int tries = 1;
    while (f->cfg.radio_loss > 0 && sim_rng_unit(&h->rng) < f->cfg.radio_loss) {
      if (tries == 1 + SIM_RADIO_RETRIES)
        return NEVER;
      tries++;
      f->st.radio_retries++;
    }
    t += f->cfg.radio_hop_delay * tries;
  }
  return t;
}

int sim__radio_uplink(struct sim_fleet *f, struct hub *h, uint32_t dev_slot, uint64_t eui,
                      uint8_t lqi, uint8_t endpoint, uint16_t cluster, const uint8_t *zcl,
                      size_t len, uint64_t wall_ms, sim_time_t intended) {
  sim_time_t d = crossing(f, h, eui);
  if (d == NEVER) {
    f->st.radio_lost++;
    return 0; /* the device's MAC gave up; the hub never saw it */
  }
  uint32_t i;
  if (d == 0 || len > SIM_AIR_FRAME_MAX || air_alloc(f, &i))
    return sim__fleet_report(f, h, dev_slot, eui, lqi, endpoint, cluster, zcl, len, wall_ms,
                             intended);
  struct air_slot *a = &f->air[i];
  a->kind = AIR_UP;
  a->hub = h->idx;
  a->dev_slot = dev_slot;
  a->endpoint = endpoint;
  a->cluster = cluster;
  a->lqi = lqi;
  a->len = (uint16_t)len;
  memcpy(a->data, zcl, len);
  a->wall_ms = wall_ms;
  a->intended = intended;
  sim_wheel_add(&f->sched.wheel, air_timer(f, i), sim_sched_now(&f->sched) + d);
  return 0;
}

/* When a sleepy device next asks its parent for data, in engine time after `now`, or NEVER
 * when it will not within the hold time. */
static sim_time_t next_poll(struct sim_fleet *f, const struct sim_model *m, uint64_t eui,
                            uint32_t id, sim_time_t now) {
  sim_time_t hold = f->cfg.sleepy_hold ? f->cfg.sleepy_hold : 3600 * (sim_time_t)1000000;
  double sp = f->cfg.speedup > 0 ? f->cfg.speedup : 1.0;
  sim_time_t hold_engine = (sim_time_t)((double)hold / sp);
  if (m->poll_ms) {
    /* Polls fall on a per-device phase of the poll period, in device time. */
    uint64_t period = (uint64_t)m->poll_ms * 1000u;
    uint64_t phase = sim_hash_mix64(eui ^ 0x9011ull) % period;
    uint64_t dnow = (uint64_t)((double)now * sp);
    uint64_t k = dnow >= phase ? (dnow - phase) / period + 1 : 0;
    uint64_t at_dev = phase + k * period;
    return (sim_time_t)((double)at_dev / sp) + 1;
  }
  /* No poll timer: a sleepy end device polls right after it transmits, at its next wakeup. */
  if (!sim_wheel_pending(&f->sched.wheel, id))
    return NEVER;
  sim_time_t due = f->sched.wheel.timers[id].due;
  if (due > now + hold_engine)
    return NEVER;
  if (due < now)
    due = now;
  return due + 1;
}

int sim__radio_downlink(struct sim_fleet *f, struct hub *h, uint32_t dev_slot,
                        const struct sim_dev_cmd *dc, uint64_t cmd_id, uint64_t eui) {
  struct sim_device *d = dev_at(f, h, dev_slot);
  const struct sim_model *m = sim_model_get(d->model);
  int sleepy = m->sleepy;
  int radio = sim__radio_enabled(f);
  if (!sleepy && !radio)
    return 0;
  sim_time_t now = sim_sched_now(&f->sched);
  sim_time_t at = now;
  if (radio) {
    sim_time_t c = crossing(f, h, eui);
    if (c == NEVER) {
      sim__fleet_command_result(f, h, cmd_id, eui, HUBRPC__V1__COMMAND_STATUS__COMMAND_TIMEOUT, 0,
                                0);
      return 1;
    }
    at += c;
  }
  int kind = AIR_DOWN;
  if (sleepy) {
    uint32_t id = h->idx * f->cfg.devices_per_hub + dev_slot;
    sim_time_t p = next_poll(f, m, eui, id, at);
    if (p == NEVER) {
      /* It will not poll in time: the hub gives up when its hold time runs out. */
      sim_time_t hold = f->cfg.sleepy_hold ? f->cfg.sleepy_hold : 3600 * (sim_time_t)1000000;
      at = now + (sim_time_t)((double)hold / (f->cfg.speedup > 0 ? f->cfg.speedup : 1.0));
      kind = AIR_EXPIRE;
    } else {
      at = p;
      f->st.cmds_held++;
    }
  }
  if (at == now && kind == AIR_DOWN)
    return 0;
  uint32_t i;
  if (dc->len > SIM_AIR_FRAME_MAX || air_alloc(f, &i)) {
    sim__fleet_command_result(f, h, cmd_id, eui, HUBRPC__V1__COMMAND_STATUS__COMMAND_TIMEOUT, 0, 0);
    return 1;
  }
  struct air_slot *a = &f->air[i];
  a->kind = (uint8_t)kind;
  a->hub = h->idx;
  a->dev_slot = dev_slot;
  a->endpoint = dc->endpoint;
  a->cluster = dc->cluster;
  a->command = dc->command;
  a->global = dc->global;
  a->mfr = dc->manufacturer_code;
  a->len = (uint16_t)dc->len;
  if (dc->len)
    memcpy(a->data, dc->payload, dc->len);
  a->cmd_id = cmd_id;
  a->intended = now;
  sim_wheel_add(&f->sched.wheel, air_timer(f, i), at);
  return 1;
}

static void deliver(struct sim_fleet *f, uint32_t i) {
  struct air_slot *a = &f->air[i];
  struct hub *h = &f->hubs[a->hub];
  uint64_t eui = sim_fleet_device_eui64(f, a->hub, a->dev_slot);
  sim_time_t now = sim_sched_now(&f->sched);
  switch (a->kind) {
  case AIR_UP:
    if (h->powered_off) {
      f->st.radio_lost++; /* it reached a hub with no power */
      break;
    }
    sim__fleet_report(f, h, a->dev_slot, eui, a->lqi, a->endpoint, a->cluster, a->data, a->len,
                      a->wall_ms, a->intended);
    break;
  case AIR_DOWN: {
    if (h->powered_off) {
      f->st.cmds_expired++; /* the hub lost it with its power; the platform times it out */
      break;
    }
    struct sim_dev_cmd dc = {
        .endpoint = a->endpoint,
        .cluster = a->cluster,
        .command = a->command,
        .global = a->global,
        .manufacturer_code = a->mfr,
        .payload = a->data,
        .len = a->len,
    };
    sim__fleet_exec_command(f, h, a->dev_slot, &dc, a->cmd_id, eui, now - a->intended);
    break;
  }
  case AIR_HUB:
    sim__fleet_hub_event(f, h, a->command);
    break;
  case AIR_EXPIRE:
    f->st.cmds_expired++;
    if (h->powered_off)
      break; /* nobody left to answer */
    sim__fleet_command_result(f, h, a->cmd_id, eui, HUBRPC__V1__COMMAND_STATUS__COMMAND_TIMEOUT, 0,
                              (uint32_t)((double)(now - a->intended) *
                                         (f->cfg.speedup > 0 ? f->cfg.speedup : 1.0) / 1000));
    break;
  default:
    break;
  }
  air_release(f, i);
}

int sim__radio_hub_timer(struct sim_fleet *f, uint32_t hub, int what, sim_time_t at) {
  uint32_t i;
  int rc = air_alloc(f, &i);
  if (rc)
    return rc;
  struct air_slot *a = &f->air[i];
  a->kind = AIR_HUB;
  a->hub = hub;
  a->command = (uint8_t)what;
  sim_wheel_add(&f->sched.wheel, air_timer(f, i), at);
  return 0;
}

void sim__radio_fire(struct sim_fleet *f, uint32_t i) {
  if (i < f->air_cap && f->air && f->air[i].kind)
    deliver(f, i);
}

void sim__radio_flush(struct sim_fleet *f) {
  if (!f->air)
    return;
  /* The run ends: frames in the air arrive now (they were sent), and held commands are given
   * up on, each answered. */
  for (uint32_t i = 0; i < f->air_cap; i++) {
    struct air_slot *a = &f->air[i];
    if (!a->kind)
      continue;
    sim_wheel_cancel(&f->sched.wheel, air_timer(f, i));
    if (a->kind == AIR_DOWN)
      a->kind = AIR_EXPIRE;
    deliver(f, i);
  }
}

void sim__radio_free(struct sim_fleet *f) {
  free(f->air);
  free(f->air_free);
  f->air = NULL;
  f->air_free = NULL;
}
