/* The devices behind each hub: the environment a model runs in, what a device sends (decoded
 * by the hub into a Report next to the raw ZCL frame), joining and leaving the hub's network,
 * platform commands and physical events. Device time may run faster than engine time
 * (--speedup); everything a model sees is in device time, every timer in engine time. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"
#include "sim/core/hist.h"
#include "sim/core/rng.h"
#include "sim/core/utf8.h"
#include "sim/fleet/fleet.h"
#include "sim/fleet/fleet_internal.h"
#include "sim/wire/hubrpc.h"
#include "sim/wire/zcl.h"

#define MAX_ATTRS 64

static int device_of_eui(const struct sim_fleet *f, const struct hub *h, uint64_t eui,
                         uint32_t *slot) {
  uint32_t hubpart = (uint32_t)(eui >> 16) & 0xFFFFFF;
  uint32_t s = (uint32_t)(eui & 0xFFFF);
  if (hubpart != ((hub_global(f, h->idx) ^ f->prefix_hash) & 0xFFFFFF) || s >= h->n_devs)
    return SIM_ENOTFOUND;
  if (sim_fleet_device_eui64(f, h->idx, s) != eui)
    return SIM_ENOTFOUND;
  *slot = s;
  return 0;
}

/* 1 when p[0..n) is valid UTF-8. Protobuf runtimes other than protobuf-c reject a string
 * field that is not, so such ZCL character strings (the Xiaomi 0xFF01 TLV list is one) are
 * forwarded in bytes_value instead. */
static int utf8_valid(const uint8_t *p, size_t n) {
  for (size_t i = 0, k; i < n; i += k)
    if (!(k = sim_utf8_seq(p + i, n - i)))
      return 0;
  return 1;
}

/* Converts decoded ZCL attributes into protobuf ones; strings are copied (NUL-terminated) into
 * text. Returns the number of top-level attributes. */
static size_t to_proto(const struct sim_zcl_attr *za, size_t n_top, Hubrpc__V1__Attribute *pa,
                       Hubrpc__V1__Attribute **pp, char *text, size_t text_cap) {
  static const Hubrpc__V1__Attribute init = HUBRPC__V1__ATTRIBUTE__INIT;
  size_t used = 0;
  /* All entries (top-level and members) are converted; members are linked afterwards. */
  size_t total = n_top;
  for (size_t i = 0; i < n_top; i++)
    if (za[i].n_members && (size_t)za[i].first_member + za[i].n_members > total)
      total = (size_t)za[i].first_member + za[i].n_members;
  for (size_t i = 0; i < total; i++) {
    Hubrpc__V1__Attribute *a = &pa[i];
    *a = init;
    a->id = za[i].id;
    a->zcl_type = za[i].type;
    switch (za[i].kind) {
    case SIM_ZCL_KIND_BOOL:
      a->value_case = HUBRPC__V1__ATTRIBUTE__VALUE_BOOL_VALUE;
      a->bool_value = za[i].v.b != 0;
      break;
    case SIM_ZCL_KIND_UINT:
      a->value_case = HUBRPC__V1__ATTRIBUTE__VALUE_UINT_VALUE;
      a->uint_value = za[i].v.u;
      break;
    case SIM_ZCL_KIND_INT:
      a->value_case = HUBRPC__V1__ATTRIBUTE__VALUE_INT_VALUE;
      a->int_value = za[i].v.i;
      break;
    case SIM_ZCL_KIND_FLOAT:
      a->value_case = HUBRPC__V1__ATTRIBUTE__VALUE_FLOAT_VALUE;
      a->float_value = za[i].v.f;
      break;
    case SIM_ZCL_KIND_STRING:
      if (used + za[i].len + 1 <= text_cap && utf8_valid(za[i].data, za[i].len) &&
          !memchr(za[i].data, 0, za[i].len)) {
        memcpy(text + used, za[i].data, za[i].len);
        text[used + za[i].len] = 0;
        a->value_case = HUBRPC__V1__ATTRIBUTE__VALUE_STRING_VALUE;
        a->string_value = text + used;
        used += za[i].len + 1u;
        break;
      }
      /* Not text after all (or too long for the buffer): forward the bytes. */
      a->value_case = HUBRPC__V1__ATTRIBUTE__VALUE_BYTES_VALUE;
      a->bytes_value.data = (uint8_t *)za[i].data;
      a->bytes_value.len = za[i].len;
      break;
    default:
      a->value_case = HUBRPC__V1__ATTRIBUTE__VALUE_BYTES_VALUE;
      a->bytes_value.data = (uint8_t *)za[i].data;
      a->bytes_value.len = za[i].len;
      break;
    }
    pp[i] = a;
  }
  for (size_t i = 0; i < n_top; i++) {
    if (za[i].n_members) {
      pa[i].n_members = za[i].n_members;
      pa[i].members = &pp[za[i].first_member];
    }
  }
  return n_top;
}

int sim__fleet_report(struct sim_fleet *f, struct hub *h, uint32_t slot, uint64_t eui, uint8_t lqi,
                      uint8_t endpoint, uint16_t cluster, const uint8_t *zcl, size_t len,
                      uint64_t wall_ms, sim_time_t intended) {
  if (f->obs_report)
    f->obs_report(f->obs_arg, h->idx, slot, endpoint, cluster, zcl, len, intended);
  if (f->cfg.uplink) {
    f->cfg.uplink->frame(f->cfg.uplink_arg, h->idx, slot, lqi, endpoint, cluster, zcl, len,
                         intended);
    return 0;
  }
  struct sim_zcl_attr za[MAX_ATTRS];
  Hubrpc__V1__Attribute pa[MAX_ATTRS];
  Hubrpc__V1__Attribute *pp[MAX_ATTRS];
  char text[1024];
  size_t n_top = 0, n_total = 0;
  struct sim_zcl_header hdr;
  int rc = sim_zcl_parse_header(zcl, len, &hdr);
  if (rc == 0)
    rc = sim_zcl_decode_attrs(cluster, zcl, len, za, MAX_ATTRS, &n_top, &n_total);
  if (rc) {
    /* A model produced a frame its own hub cannot read: a bug worth counting, not a crash. */
    sim__fleet_count_error(f, "device:undecodable_zcl");
    n_top = 0;
    hdr.manufacturer_code = 0;
  }
  to_proto(za, n_top, pa, pp, text, sizeof(text));
  Hubrpc__V1__Report rep = HUBRPC__V1__REPORT__INIT;
  rep.device = eui;
  rep.endpoint = endpoint;
  rep.cluster = cluster;
  rep.n_attributes = n_top;
  rep.attributes = pp;
  rep.zcl_frame.data = (uint8_t *)zcl;
  rep.zcl_frame.len = len;
  rep.lqi = lqi;
  rep.ts_ms = (uint64_t)((int64_t)wall_ms + h->skew_ms); /* the hub stamps it with its clock */
  rep.manufacturer_code = hdr.manufacturer_code;
  sim_envelope out = HUBRPC__V1__ENVELOPE__INIT;
  out.body_case = HUBRPC__V1__ENVELOPE__BODY_REPORT;
  out.report = &rep;
  return sim__fleet_enqueue(f, h, &out, &rep.seq, SIM_SEQ_REPORT, intended);
}

static int emit_frame(struct sim_dev_env *env, uint8_t endpoint, uint16_t cluster,
                      const uint8_t *zcl, size_t len) {
  struct emit_ctx *ctx = env->engine;
  struct sim_fleet *f = ctx->f;
  uint32_t slot = (uint32_t)(ctx->d - dev_at(f, ctx->h, 0));
  ctx->d->activity++;
  if (sim__radio_enabled(f))
    return sim__radio_uplink(f, ctx->h, slot, env->eui64, ctx->d->lqi, endpoint, cluster, zcl, len,
                             env->wall_ms, ctx->made);
  return sim__fleet_report(f, ctx->h, slot, env->eui64, ctx->d->lqi, endpoint, cluster, zcl, len,
                           env->wall_ms, ctx->made);
}

/* Models live in device time: engine time x speedup. */
static inline sim_time_t to_dev(const struct sim_fleet *f, sim_time_t t) {
  return f->cfg.speedup == 1.0 ? t : (sim_time_t)((double)t * f->cfg.speedup);
}
static inline sim_time_t to_engine(const struct sim_fleet *f, sim_time_t t) {
  return f->cfg.speedup == 1.0 ? t : (sim_time_t)ceil((double)t / f->cfg.speedup);
}

static void env_setup(struct sim_fleet *f, struct hub *h, uint32_t slot, sim_time_t due,
                      struct emit_ctx *ctx, struct sim_dev_env *env) {
  ctx->f = f;
  ctx->h = h;
  ctx->d = dev_at(f, h, slot);
  uint32_t id = h->idx * f->cfg.devices_per_hub + slot;
  env->rng = &h->rng;
  env->now = to_dev(f, sim_sched_now(&f->sched));
  env->due = to_dev(f, due);
  /* A wakeup the scheduler fired ahead of its time (sim_sched_set_early) makes its frames now:
   * they are stamped, and their latency measured, from now, never from the later due time. */
  sim_time_t now = sim_sched_now(&f->sched);
  ctx->made = due > now ? now : due;
  env->wall_ms = sim_clock_wall_ms(&f->sched.clock, ctx->made);
  env->wall0_ms = sim_clock_wall_ms(&f->sched.clock, 0);
  env->eui64 = sim_fleet_device_eui64(f, h->idx, slot);
  env->next = sim_wheel_pending(&f->sched.wheel, id) ? to_dev(f, f->sched.wheel.timers[id].due) : 0;
  ctx->due = due;
  env->emit = emit_frame;
  env->engine = ctx;
}

/* Schedules the model's next wakeup. It must lie strictly after this one in engine time: a
 * model asking for "now" again (or a rounding of device time) would otherwise fire forever
 * without time moving. */
static void env_finish(struct sim_fleet *f, uint32_t id, const struct emit_ctx *ctx,
                       const struct sim_dev_env *env) {
  if (f->quiesced || !env->next) {
    sim_wheel_cancel(&f->sched.wheel, id);
    f->devs[id].flags &= (uint8_t)~SIM_DEV_PAUSED;
    return;
  }
  sim_time_t at = to_engine(f, env->next);
  if (at <= ctx->due)
    at = ctx->due + 1;
  if (f->paused) {
    /* Device time stands still: the wakeup waits for the resume (sim_fleet_pause). */
    sim_wheel_cancel(&f->sched.wheel, id);
    f->sched.wheel.timers[id].due = at;
    f->devs[id].flags |= SIM_DEV_PAUSED;
    return;
  }
  sim_wheel_add(&f->sched.wheel, id, at);
}

static void queue_joined(struct sim_fleet *f, struct hub *h, uint32_t slot, int rejoin,
                         sim_time_t now) {
  struct sim_device *d = dev_at(f, h, slot);
  const struct sim_model *m = sim_model_get(d->model);
  Hubrpc__V1__Endpoint eps[8], *epp[8];
  uint32_t clusters[8][2][32];
  size_t n_ep = m->n_endpoints < 8 ? m->n_endpoints : 8;
  for (size_t i = 0; i < n_ep; i++) {
    const struct sim_model_endpoint *me = &m->endpoints[i];
    static const Hubrpc__V1__Endpoint init = HUBRPC__V1__ENDPOINT__INIT;
    eps[i] = init;
    eps[i].id = me->id;
    eps[i].profile = me->profile;
    eps[i].device_id = me->device_id;
    size_t ni = me->n_in < 32 ? me->n_in : 32, no = me->n_out < 32 ? me->n_out : 32;
    for (size_t k = 0; k < ni; k++)
      clusters[i][0][k] = me->in[k];
    for (size_t k = 0; k < no; k++)
      clusters[i][1][k] = me->out[k];
    eps[i].n_in_clusters = ni;
    eps[i].in_clusters = clusters[i][0];
    eps[i].n_out_clusters = no;
    eps[i].out_clusters = clusters[i][1];
    epp[i] = &eps[i];
  }
  Hubrpc__V1__DeviceJoined j = HUBRPC__V1__DEVICE_JOINED__INIT;
  j.device = sim_fleet_device_eui64(f, h->idx, slot);
  j.nwk = (uint16_t)(sim_rng_u32(&h->rng) % 0xFFF7u) + 1u; /* 0x0000 is the coordinator */
  j.model = (char *)m->model_id;
  j.manufacturer = (char *)m->manufacturer;
  j.power_source = m->power_source == SIM_POWER_BATTERY ? HUBRPC__V1__POWER_SOURCE__POWER_BATTERY
                                                        : HUBRPC__V1__POWER_SOURCE__POWER_MAINS;
  j.logical_type = m->logical_type == SIM_LOGICAL_ROUTER
                       ? HUBRPC__V1__LOGICAL_TYPE__LOGICAL_ROUTER
                       : HUBRPC__V1__LOGICAL_TYPE__LOGICAL_END_DEVICE;
  j.n_endpoints = n_ep;
  j.endpoints = epp;
  j.ts_ms = (uint64_t)((int64_t)sim_clock_wall_ms(&f->sched.clock, now) + h->skew_ms);
  j.rejoin = rejoin != 0;
  j.manufacturer_code = m->manufacturer_code;
  sim_envelope out = HUBRPC__V1__ENVELOPE__INIT;
  out.body_case = HUBRPC__V1__ENVELOPE__BODY_DEVICE_JOINED;
  out.device_joined = &j;
  sim__fleet_enqueue(f, h, &out, &j.seq, SIM_SEQ_JOINED, now);
}

static void device_join(struct sim_fleet *f, struct hub *h, uint32_t slot, int rejoin,
                        sim_time_t now);

/* The hub boots: its devices join its network (and announce themselves), then it connects. */
void sim__fleet_hub_boot(struct sim_fleet *f, struct hub *h) {
  sim_time_t now = sim_sched_now(&f->sched);
  /* Connect first: the devices' join frames wait in the queue for the session anyway, and
   * encoding them while the handshake is in flight shortens the ramp. */
  sim__fleet_hub_connect(f, h);
  if (!h->joined) {
    h->joined = 1;
    for (uint32_t s = 0; s < h->n_devs; s++) {
      dev_at(f, h, s)->lqi = (uint8_t)(120 + sim_rng_below(&h->rng, 136));
      device_join(f, h, s, 0, now);
    }
  }
}

/* Power restored: the hub boots and every device that was in its network rejoins. */
void sim__fleet_hub_reboot(struct sim_fleet *f, struct hub *h) {
  sim_time_t now = sim_sched_now(&f->sched);
  sim__fleet_hub_connect(f, h);
  h->joined = 1;
  for (uint32_t s = 0; s < h->n_devs; s++) {
    struct sim_device *d = dev_at(f, h, s);
    if (d->flags & SIM_DEV_ANNOUNCED)
      device_join(f, h, s, 1, now);
  }
}

/* A device joins (or rejoins) the network of a booted hub: announce, then the model's join. */
static void device_join(struct sim_fleet *f, struct hub *h, uint32_t slot, int rejoin,
                        sim_time_t now) {
  struct sim_device *d = dev_at(f, h, slot);
  const struct sim_model *m = sim_model_get(d->model);
  if (f->cfg.uplink)
    f->cfg.uplink->joined(f->cfg.uplink_arg, h->idx, slot, rejoin);
  else
    queue_joined(f, h, slot, rejoin, now);
  d->flags |= SIM_DEV_JOINED | SIM_DEV_ANNOUNCED;
  struct emit_ctx ctx;
  struct sim_dev_env env;
  env_setup(f, h, slot, now, &ctx, &env);
  m->ops->join(m, d, &env, rejoin);
  env_finish(f, h->idx * f->cfg.devices_per_hub + slot, &ctx, &env);
}

int sim_fleet_device_leave(struct sim_fleet *f, uint32_t hub, uint32_t slot) {
  if (hub >= f->n_hubs || slot >= f->hubs[hub].n_devs)
    return SIM_ENOTFOUND;
  struct hub *h = &f->hubs[hub];
  struct sim_device *d = dev_at(f, h, slot);
  if (!(d->flags & SIM_DEV_JOINED))
    return SIM_EINVAL;
  d->flags &= (uint8_t)~SIM_DEV_JOINED;
  sim_wheel_cancel(&f->sched.wheel, hub * f->cfg.devices_per_hub + slot);
  if (f->cfg.uplink) {
    f->cfg.uplink->left(f->cfg.uplink_arg, hub, slot);
    return 0;
  }
  sim_time_t now = sim_sched_now(&f->sched);
  Hubrpc__V1__DeviceLeft l = HUBRPC__V1__DEVICE_LEFT__INIT;
  l.device = sim_fleet_device_eui64(f, hub, slot);
  l.ts_ms = (uint64_t)((int64_t)sim_clock_wall_ms(&f->sched.clock, now) + h->skew_ms);
  sim_envelope out = HUBRPC__V1__ENVELOPE__INIT;
  out.body_case = HUBRPC__V1__ENVELOPE__BODY_DEVICE_LEFT;
  out.device_left = &l;
  return sim__fleet_enqueue(f, h, &out, &l.seq, SIM_SEQ_LEFT, now);
}

int sim_fleet_device_join(struct sim_fleet *f, uint32_t hub, uint32_t slot) {
  if (hub >= f->n_hubs || slot >= f->hubs[hub].n_devs)
    return SIM_ENOTFOUND;
  struct hub *h = &f->hubs[hub];
  if (dev_at(f, h, slot)->flags & SIM_DEV_JOINED)
    return SIM_EEXISTS;
  if (!h->joined)
    return SIM_EINVAL; /* the hub has not booted: its devices join when it does */
  device_join(f, h, slot, 1, sim_sched_now(&f->sched));
  return 0;
}

void sim__fleet_device_fire(struct sim_fleet *f, uint32_t id, sim_time_t due) {
  uint32_t hub = id / f->cfg.devices_per_hub, slot = id % f->cfg.devices_per_hub;
  struct hub *h = &f->hubs[hub];
  struct sim_device *d = &f->devs[id];
  const struct sim_model *m = sim_model_get(d->model);
  struct emit_ctx ctx;
  struct sim_dev_env env;
  env_setup(f, h, slot, due, &ctx, &env);
  env.next = 0;
  sim_time_t now = sim_sched_now(&f->sched);
  if (due >= f->cfg.warmup)
    sim_hist_record(&f->st.tick_lag, now > due ? now - due : 0);
  m->ops->tick(m, d, &env);
  env_finish(f, id, &ctx, &env);
}

void sim__fleet_command_result(struct sim_fleet *f, struct hub *h, uint64_t cmd_id, uint64_t eui,
                               Hubrpc__V1__CommandStatus status, uint32_t zcl_status,
                               uint32_t latency_ms) {
  if (f->cfg.uplink) {
    uint32_t slot;
    if (status == HUBRPC__V1__COMMAND_STATUS__COMMAND_OK)
      f->st.commands_ok++;
    else
      f->st.commands_failed++;
    if (f->cfg.uplink->result && device_of_eui(f, h, eui, &slot) == 0)
      f->cfg.uplink->result(f->cfg.uplink_arg, h->idx, slot, cmd_id,
                            status == HUBRPC__V1__COMMAND_STATUS__COMMAND_UNKNOWN_DEVICE,
                            zcl_status);
    return;
  }
  Hubrpc__V1__CommandResult r = HUBRPC__V1__COMMAND_RESULT__INIT;
  r.cmd_id = cmd_id;
  r.status = status;
  r.zcl_status = zcl_status;
  r.device_latency_ms = latency_ms;
  r.device = eui;
  sim_envelope out = HUBRPC__V1__ENVELOPE__INIT;
  out.body_case = HUBRPC__V1__ENVELOPE__BODY_COMMAND_RESULT;
  out.command_result = &r;
  sim_time_t now = sim_sched_now(&f->sched);
  sim__fleet_enqueue(f, h, &out, &r.seq, SIM_SEQ_RESULT, now);
  if (status == HUBRPC__V1__COMMAND_STATUS__COMMAND_OK)
    f->st.commands_ok++;
  else
    f->st.commands_failed++;
}

void sim__fleet_on_command(struct sim_fleet *f, struct hub *h, const Hubrpc__V1__Command *cmd) {
  uint32_t slot;
  f->st.commands_received++;
  if (device_of_eui(f, h, cmd->device, &slot) || cmd->endpoint > 255 || cmd->cluster > 0xFFFF ||
      cmd->command > 255) {
    sim__fleet_command_result(f, h, cmd->cmd_id, cmd->device,
                              HUBRPC__V1__COMMAND_STATUS__COMMAND_UNKNOWN_DEVICE, 0, 0);
    return;
  }
  struct sim_device *d = dev_at(f, h, slot);
  const struct sim_model *m = sim_model_get(d->model);
  if (!(d->flags & SIM_DEV_JOINED)) {
    sim__fleet_command_result(f, h, cmd->cmd_id, cmd->device,
                              HUBRPC__V1__COMMAND_STATUS__COMMAND_UNKNOWN_DEVICE, 0, 0);
    return;
  }
  if (!m->ops->command) {
    sim__fleet_command_result(f, h, cmd->cmd_id, cmd->device,
                              HUBRPC__V1__COMMAND_STATUS__COMMAND_UNSUPPORTED,
                              SIM_ZCL_STATUS_UNSUP_CLUSTER_COMMAND, 0);
    return;
  }
  struct sim_dev_cmd dc = {
      .endpoint = (uint8_t)cmd->endpoint,
      .cluster = (uint16_t)cmd->cluster,
      .command = (uint8_t)cmd->command,
      .global = cmd->global ? 1 : 0,
      .manufacturer_code = (uint16_t)cmd->manufacturer_code,
      .payload = cmd->zcl_payload.data,
      .len = cmd->zcl_payload.len,
  };
  if (sim__radio_downlink(f, h, slot, &dc, cmd->cmd_id, cmd->device))
    return;
  sim__fleet_exec_command(f, h, slot, &dc, cmd->cmd_id, cmd->device, 0);
}

void sim__fleet_exec_command(struct sim_fleet *f, struct hub *h, uint32_t slot,
                             const struct sim_dev_cmd *dc, uint64_t cmd_id, uint64_t eui,
                             sim_time_t waited) {
  struct sim_device *d = dev_at(f, h, slot);
  const struct sim_model *m = sim_model_get(d->model);
  if (!(d->flags & SIM_DEV_JOINED)) {
    /* It left the network while the command was on its way. */
    sim__fleet_command_result(f, h, cmd_id, eui, HUBRPC__V1__COMMAND_STATUS__COMMAND_UNKNOWN_DEVICE,
                              0, 0);
    return;
  }
  struct emit_ctx ctx;
  struct sim_dev_env env;
  sim_time_t now = sim_sched_now(&f->sched);
  if (f->obs_command)
    f->obs_command(f->obs_arg, h->idx, slot, dc, now);
  env_setup(f, h, slot, now, &ctx, &env);
  uint32_t latency_us = 0;
  int zs = m->ops->command(m, d, &env, dc, &latency_us);
  env_finish(f, h->idx * f->cfg.devices_per_hub + slot, &ctx, &env);
  Hubrpc__V1__CommandStatus st = HUBRPC__V1__COMMAND_STATUS__COMMAND_OK;
  if (zs < 0 || zs > 255) {
    st = HUBRPC__V1__COMMAND_STATUS__COMMAND_MALFORMED;
    zs = SIM_ZCL_STATUS_MALFORMED_COMMAND;
  } else if (zs != SIM_ZCL_STATUS_SUCCESS) {
    st = HUBRPC__V1__COMMAND_STATUS__COMMAND_UNSUPPORTED;
  }
  /* The wait (radio, the device's poll) in device time, as the device's own latency is. */
  uint64_t total_us = (uint64_t)to_dev(f, waited) + latency_us;
  sim__fleet_command_result(f, h, cmd_id, eui, st, (uint32_t)zs,
                            (uint32_t)((total_us + 999) / 1000));
}

int sim_fleet_device_command(struct sim_fleet *f, uint32_t hub, uint32_t slot,
                             const struct sim_dev_cmd *dc, uint64_t cmd_id) {
  if (hub >= f->n_hubs || slot >= f->hubs[hub].n_devs)
    return SIM_ENOTFOUND;
  struct hub *h = &f->hubs[hub];
  if (!(dev_at(f, h, slot)->flags & SIM_DEV_JOINED))
    return SIM_ENOTFOUND;
  f->st.commands_received++;
  uint64_t eui = sim_fleet_device_eui64(f, hub, slot);
  if (!sim_model_get(dev_at(f, h, slot)->model)->ops->command) {
    sim__fleet_command_result(f, h, cmd_id, eui, HUBRPC__V1__COMMAND_STATUS__COMMAND_UNSUPPORTED,
                              SIM_ZCL_STATUS_UNSUP_CLUSTER_COMMAND, 0);
    return 0;
  }
  if (!sim__radio_downlink(f, h, slot, dc, cmd_id, eui))
    sim__fleet_exec_command(f, h, slot, dc, cmd_id, eui, 0);
  return 0;
}

int sim_fleet_trigger(struct sim_fleet *f, uint32_t hub, uint32_t slot, const char *event) {
  if (hub >= f->n_hubs || slot >= f->hubs[hub].n_devs)
    return SIM_ENOTFOUND;
  struct hub *h = &f->hubs[hub];
  struct sim_device *d = dev_at(f, h, slot);
  const struct sim_model *m = sim_model_get(d->model);
  if (!m->ops->trigger || !(d->flags & SIM_DEV_JOINED))
    return SIM_ENOTFOUND;
  struct emit_ctx ctx;
  struct sim_dev_env env;
  sim_time_t now = sim_sched_now(&f->sched);
  env_setup(f, h, slot, now, &ctx, &env);
  int rc = m->ops->trigger(m, d, &env, event);
  env_finish(f, hub * f->cfg.devices_per_hub + slot, &ctx, &env);
  return rc;
}
