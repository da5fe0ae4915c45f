/* The control surface of a running fleet: what scenarios and UIs do to hubs (disconnect,
 * power, faults) and what they read (hub state, device info), plus the observers.
 *
 * Faults are hubsim's own, at the hub's application layer, so they need no kernel support and
 * work over any transport: a stalled hub keeps what arrives unread, a delayed hub holds its
 * writes, a malformed frame is written raw, a skewed clock moves the timestamps the hub sends. */
#include <string.h>

#include "sim/core/err.h"
#include "sim/fleet/fleet.h"
#include "sim/fleet/fleet_internal.h"

static struct hub *hub_at(struct sim_fleet *f, uint32_t hub) {
  return hub < f->n_hubs ? &f->hubs[hub] : NULL;
}

uint32_t sim_fleet_hub_count(const struct sim_fleet *f) {
  return f->n_hubs;
}

uint32_t sim_fleet_devices_per_hub(const struct sim_fleet *f) {
  return f->cfg.devices_per_hub;
}

enum sim_hub_state sim_fleet_hub_state(const struct sim_fleet *f, uint32_t hub) {
  return hub < f->n_hubs ? (enum sim_hub_state)f->hubs[hub].state : SIM_HUB_STOPPED;
}

int sim_fleet_device_info(const struct sim_fleet *f, uint32_t hub, uint32_t slot,
                          struct sim_device_info *out) {
  memset(out, 0, sizeof(*out));
  if (hub >= f->n_hubs || slot >= f->cfg.devices_per_hub)
    return SIM_ENOTFOUND;
  const struct hub *h = &f->hubs[hub];
  if (slot >= h->n_devs)
    return 0; /* an empty slot: model NULL */
  const struct sim_device *d = &f->devs[(size_t)hub * f->cfg.devices_per_hub + slot];
  out->model = sim_model_get(d->model);
  out->eui64 = sim_fleet_device_eui64(f, hub, slot);
  out->joined = (d->flags & SIM_DEV_JOINED) != 0;
  out->lqi = d->lqi;
  out->activity = d->activity;
  out->dev = d;
  return 0;
}

int sim_fleet_hub_disconnect(struct sim_fleet *f, uint32_t hub) {
  struct hub *h = hub_at(f, hub);
  if (!h)
    return SIM_ENOTFOUND;
  if (h->offline || h->powered_off)
    return SIM_EINVAL;
  h->offline = 1;
  f->st.faults++;
  if (hub_live(h)) {
    sim__fleet_session_end(f, h, 0, "fault:disconnect");
  } else if (h->state == SIM_HUB_BACKOFF || h->state == SIM_HUB_CONNECTING ||
             h->state == SIM_HUB_HANDSHAKE) {
    h->state = SIM_HUB_STOPPED;
    sim_wheel_cancel(&f->sched.wheel, hub_timer(f, h));
  }
  return 0;
}

int sim_fleet_hub_connect(struct sim_fleet *f, uint32_t hub) {
  struct hub *h = hub_at(f, hub);
  if (!h)
    return SIM_ENOTFOUND;
  if (h->powered_off || f->stopping)
    return SIM_EINVAL;
  h->offline = 0;
  h->fails = 0;
  if (h->state == SIM_HUB_STOPPED || h->state == SIM_HUB_BACKOFF)
    sim__fleet_hub_connect(f, h);
  return 0; /* idle hubs connect when they boot; connected ones are left alone */
}

int sim_fleet_hub_power(struct sim_fleet *f, uint32_t hub, int on) {
  struct hub *h = hub_at(f, hub);
  if (!h)
    return SIM_ENOTFOUND;
  if (f->stopping || (on != 0) == !h->powered_off)
    return SIM_EINVAL;
  if (!on) {
    f->st.power_cuts++;
    h->powered_off = 1;
    if (f->cfg.uplink) /* what the driver's hub held goes with its memory, connected or not */
      f->cfg.uplink->close(f->cfg.uplink_arg, hub, SIM_UPLINK_POWER);
    if (hub_live(h)) {
      sim__fleet_session_end(f, h, 0, "power:cut");
    } else {
      h->state = SIM_HUB_STOPPED;
      sim_wheel_cancel(&f->sched.wheel, hub_timer(f, h));
    }
    h->stalled = 0;
    h->stash.len = 0;
    h->write_delay = 0;
    /* Everything the hub held in memory is gone: unacknowledged and unsent alike. Those sent
     * are kept apart so that the summary's `lost` (sent, neither acked nor held) excludes them. */
    f->st.lost_power += h->next_seq - 1 - h->acked;
    f->st.lost_power_sent += (h->max_sent > h->acked ? h->max_sent : h->acked) - h->acked;
    sim__fleet_new_boot(f, h);
    /* The devices go dark with it (same circuit): no timers, out of the network. */
    for (uint32_t s = 0; s < h->n_devs; s++) {
      struct sim_device *d = dev_at(f, h, s);
      sim_wheel_cancel(&f->sched.wheel, h->idx * f->cfg.devices_per_hub + s);
      d->flags &= (uint8_t)~SIM_DEV_JOINED;
    }
    return 0;
  }
  h->powered_off = 0;
  h->fails = 0;
  if (h->joined) {
    sim__fleet_hub_reboot(f, h);
  } else {
    /* It had not booted yet: it boots now. */
    h->state = SIM_HUB_IDLE;
    sim_wheel_add(&f->sched.wheel, hub_timer(f, h), sim_sched_now(&f->sched));
  }
  return 0;
}

int sim_fleet_hub_stall_reads(struct sim_fleet *f, uint32_t hub, sim_time_t dur) {
  struct hub *h = hub_at(f, hub);
  if (!h)
    return SIM_ENOTFOUND;
  if (h->powered_off || h->stalled || f->cfg.uplink)
    return SIM_EINVAL;
  int rc = sim__radio_hub_timer(f, hub, SIM_HUB_EV_UNSTALL, sim_sched_now(&f->sched) + dur);
  if (rc)
    return rc;
  h->stalled = 1;
  f->st.faults++;
  return 0;
}

int sim_fleet_hub_delay_writes(struct sim_fleet *f, uint32_t hub, sim_time_t delay,
                               sim_time_t dur) {
  struct hub *h = hub_at(f, hub);
  if (!h)
    return SIM_ENOTFOUND;
  if (h->powered_off || !delay || f->cfg.uplink)
    return SIM_EINVAL;
  sim_time_t now = sim_sched_now(&f->sched);
  int rc = sim__radio_hub_timer(f, hub, SIM_HUB_EV_UNDELAY, now + dur);
  if (rc)
    return rc;
  h->write_delay = delay;
  h->delay_until = now + dur;
  f->st.faults++;
  return 0;
}

int sim_fleet_hub_send_malformed(struct sim_fleet *f, uint32_t hub) {
  struct hub *h = hub_at(f, hub);
  if (!h)
    return SIM_ENOTFOUND;
  if (!h->conn || h->state != SIM_HUB_OPEN)
    return SIM_EINVAL;
  /* A varint length of 2^31 - 1: far above the 65536-byte limit, so the platform must refuse
   * it at once rather than wait for a body. */
  static const uint8_t bad[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x0A, 0x00};
  f->st.faults++;
  f->st.frames_out++;
  f->st.bytes_out += sizeof bad;
  return sim_conn_send(h->conn, bad, sizeof bad);
}

int sim_fleet_hub_skew_clock(struct sim_fleet *f, uint32_t hub, int64_t skew_ms) {
  struct hub *h = hub_at(f, hub);
  if (!h)
    return SIM_ENOTFOUND;
  if (skew_ms > INT32_MAX || skew_ms < INT32_MIN)
    return SIM_EINVAL;
  h->skew_ms = (int32_t)skew_ms;
  f->st.faults++;
  return 0;
}

void sim_fleet_observe(struct sim_fleet *f, sim_report_observer report,
                       sim_command_observer command, void *arg) {
  f->obs_report = report;
  f->obs_command = command;
  f->obs_arg = arg;
}

void sim_fleet_observe_rx(struct sim_fleet *f, sim_rx_observer rx, void *arg) {
  f->obs_rx = rx;
  f->obs_rx_arg = arg;
}

void sim__fleet_hub_event(struct sim_fleet *f, struct hub *h, int what) {
  switch (what) {
  case SIM_HUB_EV_UNSTALL:
    if (!h->stalled)
      break;
    h->stalled = 0;
    if (h->stash.len && h->conn) {
      /* Replay what arrived meanwhile; the stash is detached first because processing it may
       * end the session (which clears the stash). */
      struct sim_buf b = h->stash;
      sim_buf_init(&h->stash);
      sim__fleet_feed(f, h, b.data, b.len);
      sim_buf_fini(&b);
    }
    h->stash.len = 0;
    break;
  case SIM_HUB_EV_FLUSH:
    h->flush_pending = 0;
    if (h->write_delay) {
      sim_time_t keep = h->delay_until;
      h->delay_until = 0; /* let this flush through */
      sim__fleet_flush(f, h);
      h->delay_until = keep;
    }
    break;
  case SIM_HUB_EV_UNDELAY:
    h->write_delay = 0;
    h->delay_until = 0;
    sim__fleet_mark_dirty(f, h);
    break;
  default:
    break;
  }
}

int sim_fleet_pause(struct sim_fleet *f, int on) {
  if (f->quiesced || (on != 0) == (f->paused != 0))
    return SIM_EINVAL;
  sim_time_t now = sim_sched_now(&f->sched);
  if (on) {
    f->paused = 1;
    f->paused_at = now;
    for (uint32_t id = 0; id < f->n_devs; id++) {
      if (sim_wheel_pending(&f->sched.wheel, id)) {
        sim_wheel_cancel(&f->sched.wheel, id); /* the timer keeps its due time */
        f->devs[id].flags |= SIM_DEV_PAUSED;
      }
    }
    return 0;
  }
  f->paused = 0;
  sim_time_t shift = now - f->paused_at;
  for (uint32_t id = 0; id < f->n_devs; id++) {
    struct sim_device *d = &f->devs[id];
    if (d->flags & SIM_DEV_PAUSED) {
      d->flags &= (uint8_t)~SIM_DEV_PAUSED;
      sim_wheel_add(&f->sched.wheel, id, f->sched.wheel.timers[id].due + shift);
    }
  }
  return 0;
}

int sim_fleet_paused(const struct sim_fleet *f) {
  return f->paused;
}
