/* Devices joining the emulated coordinator (see coord.h): the join indications a Z-Stack
 * coordinator sends its host, and the descriptors answered for a joined device from its model.
 * Network addresses are drawn the stochastic way Zigbee PRO assigns them (a hash of the IEEE
 * address, probing on a collision), so a device keeps its address across runs. */
#include "sim/znp/coord_internal.h"

#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"
#include "sim/core/hash.h"
#include "sim/fleet/model.h"

const struct sim_znp_dev *sim_znp_coord_device(const struct sim_znp_coord *c, uint16_t nwk) {
  for (size_t i = 0; i < c->ndevs; i++)
    if (c->devs[i].nwk == nwk)
      return &c->devs[i];
  return NULL;
}

static struct sim_znp_dev *by_ieee(struct sim_znp_coord *c, uint64_t ieee) {
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
  struct sim_znp_dev *d = by_ieee(c, ieee);
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
    c->ndevs++;
  }
  struct sim_znp_frame f;
  sim_znp_mt_tc_dev_ind(&f, d->nwk, ieee, 0x0000);
  sim__znp_emit(c, &f);
  sim_znp_mt_device_annce_ind(&f, d->nwk, d->nwk, ieee, capabilities(m));
  sim__znp_emit(c, &f);
  if (nwk)
    *nwk = d->nwk;
  return 0;
}
