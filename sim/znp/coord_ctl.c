/* Control of the emulated coordinator's radio side (see coord.h): what a scenario script makes
 * happen on the air or to the radio itself, as opposed to what the host asks for. Each op
 * sends the host what a Z-Stack coordinator sends when the same thing happens to a real
 * network: the radio's own permit-join window, a device leaving or rejoining on its own, a
 * device out of range, a reset the host did not ask for, a device that answers part of an
 * interview only. */
#include "sim/znp/coord_internal.h"

#include "sim/core/err.h"

const struct sim_znp_dev *sim_znp_coord_device_ieee(const struct sim_znp_coord *c, uint64_t ieee) {
  return sim__znp_dev_by_ieee((struct sim_znp_coord *)c, ieee);
}

int sim__znp_ctl_in_range(const struct sim_znp_coord *c, const struct sim_znp_dev *d) {
  return c->state == SIM_ZNP_DEV_ZB_COORD && c->now_ms >= d->lost_until_ms;
}

/* A count asked for before d joined becomes d's. */
static void take_pending(struct sim_znp_coord *c, struct sim_znp_dev *d) {
  for (size_t i = 0; i < c->ndrop_pending; i++) {
    if (c->drop_pending[i].ieee != d->ieee)
      continue;
    d->drop_zdo = c->drop_pending[i].n;
    c->drop_pending[i] = c->drop_pending[--c->ndrop_pending];
    return;
  }
}

int sim__znp_ctl_zdo_lost(struct sim_znp_coord *c, struct sim_znp_dev *d) {
  if (!sim__znp_ctl_in_range(c, d))
    return 1;
  if (c->ndrop_pending)
    take_pending(c, d);
  if (d->drop_zdo == 0)
    return 0;
  d->drop_zdo--;
  return 1;
}

int sim_znp_coord_ctl_permit(struct sim_znp_coord *c, unsigned seconds, uint64_t now_ms) {
  if (c->state != SIM_ZNP_DEV_ZB_COORD)
    return SIM_EUNEXPECTED;
  if (seconds > 254)
    return SIM_EINVAL; /* 255 is "for ever" on the air; a button opens a window */
  c->now_ms = now_ms;
  c->permit_forever = 0;
  c->permit_until_ms = now_ms + (uint64_t)seconds * 1000u;
  struct sim_znp_frame f;
  sim_znp_mt_permit_join_ind(&f, (uint8_t)seconds);
  sim__znp_emit(c, &f);
  return 0;
}

int sim_znp_coord_ctl_leave(struct sim_znp_coord *c, uint64_t ieee, uint64_t now_ms) {
  struct sim_znp_dev *d = sim__znp_dev_by_ieee(c, ieee);
  if (!d)
    return SIM_ENOTFOUND;
  c->now_ms = now_ms;
  /* A device that leaves by itself broadcasts its leave; a host hears it only while the
   * network runs. The device is gone from the network either way. */
  if (c->state == SIM_ZNP_DEV_ZB_COORD) {
    struct sim_znp_frame f;
    sim_znp_mt_leave_ind(&f, d->nwk, d->ieee, 0);
    sim__znp_emit(c, &f);
  }
  sim__znp_dev_remove(c, d);
  return 0;
}

int sim_znp_coord_ctl_rejoin(struct sim_znp_coord *c, uint64_t ieee, uint64_t now_ms) {
  struct sim_znp_dev *d = sim__znp_dev_by_ieee(c, ieee);
  if (!d)
    return SIM_ENOTFOUND;
  if (c->state != SIM_ZNP_DEV_ZB_COORD)
    return SIM_EUNEXPECTED;
  /* The trust centre lets a device it knows back in whether joining is permitted or not;
   * sim_znp_coord_join() checks the window for new devices, so it is lent one for this call. */
  int forever = c->permit_forever;
  c->permit_forever = 1;
  int rc = sim_znp_coord_join(c, d->model, ieee, now_ms, NULL);
  c->permit_forever = forever;
  return rc;
}

int sim_znp_coord_ctl_link_loss(struct sim_znp_coord *c, uint64_t ieee, uint64_t until_ms) {
  struct sim_znp_dev *d = sim__znp_dev_by_ieee(c, ieee);
  if (!d)
    return SIM_ENOTFOUND;
  d->lost_until_ms = until_ms;
  return 0;
}

int sim_znp_coord_ctl_drop_zdo(struct sim_znp_coord *c, uint64_t ieee, uint32_t n) {
  struct sim_znp_dev *d = sim__znp_dev_by_ieee(c, ieee);
  if (d) {
    d->drop_zdo = n;
    return 0;
  }
  size_t i = 0;
  while (i < c->ndrop_pending && c->drop_pending[i].ieee != ieee)
    i++;
  if (i == c->ndrop_pending) {
    if (c->ndrop_pending >= SIM_ZNP_MAX_DROP_PENDING)
      return SIM_EFULL;
    c->ndrop_pending++;
  }
  c->drop_pending[i].ieee = ieee;
  c->drop_pending[i].n = n;
  return 0;
}

void sim_znp_coord_ctl_reset(struct sim_znp_coord *c, uint8_t reason, uint64_t now_ms) {
  c->now_ms = now_ms;
  sim__znp_reset_ram(c, reason);
}
