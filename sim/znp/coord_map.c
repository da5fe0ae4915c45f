/* The network map a host draws (zigbee2mqtt's networkmap): ZDO_MGMT_LQI_REQ and
 * ZDO_MGMT_RTG_REQ, answered for the coordinator and for joined routers in pages from the start
 * index the host gives, as Z-Stack answers them. Every device joins the coordinator directly,
 * so the coordinator's neighbours are its children, a router's only neighbour is its parent,
 * the coordinator, which it reaches by the many-to-one route of a concentrator, and the
 * coordinator has a route to each router. An end device has no such tables and answers
 * NOT_SUPPORTED. */
#include "sim/znp/coord_internal.h"

#include "sim/fleet/model.h"

#define ZDP_NOT_SUPPORTED 0x84
#define TABLE_MAX 255 /* the entry count of an answer is one byte */

/* A device's link quality as the coordinator last heard it (its radio's, else the best). */
static uint8_t lqi_of(const struct sim_znp_dev *d) {
  return d->sd.lqi ? d->sd.lqi : 0xFF;
}

static int is_router(const struct sim_znp_dev *d) {
  return d->model->logical_type == SIM_LOGICAL_ROUTER;
}

/* Neighbour i of node (NULL: the coordinator); how many there are. */
static size_t neighbors(const struct sim_znp_coord *c, const struct sim_znp_dev *node, size_t i,
                        uint64_t ext_pan, struct sim_znp_neighbor *out) {
  if (node) {
    *out = (struct sim_znp_neighbor){.ext_pan = ext_pan,
                                     .ieee = c->ieee,
                                     .nwk = 0x0000,
                                     .device_type = 0,
                                     .rx_on = 1,
                                     .relationship = 0, /* parent */
                                     .permit_join = sim_znp_coord_permit_open(c, c->now_ms) ? 1 : 0,
                                     .depth = 0,
                                     .lqi = lqi_of(node)};
    return 1;
  }
  size_t total = c->ndevs < TABLE_MAX ? c->ndevs : TABLE_MAX;
  if (i < total) {
    const struct sim_znp_dev *d = &c->devs[i];
    *out = (struct sim_znp_neighbor){.ext_pan = ext_pan,
                                     .ieee = d->ieee,
                                     .nwk = d->nwk,
                                     .device_type = is_router(d) ? 1 : 2,
                                     .rx_on = d->model->sleepy ? 0 : 1,
                                     .relationship = 1, /* child */
                                     .permit_join = 2,  /* not known from here */
                                     .depth = 1,
                                     .lqi = lqi_of(d)};
  }
  return total;
}

/* Route i of node (NULL: the coordinator); how many there are. */
static size_t routes(const struct sim_znp_coord *c, const struct sim_znp_dev *node, size_t i,
                     struct sim_znp_route *out) {
  if (node) {
    *out = (struct sim_znp_route){.dst = 0x0000, .status = 0, .many_to_one = 1, .next_hop = 0};
    return 1;
  }
  size_t n = 0;
  for (size_t k = 0; k < c->ndevs && n < TABLE_MAX; k++) {
    if (!is_router(&c->devs[k]))
      continue;
    if (n == i)
      *out = (struct sim_znp_route){.dst = c->devs[k].nwk, .next_hop = c->devs[k].nwk};
    n++;
  }
  return n;
}

enum sim__znp_handled sim__znp_mgmt_table(struct sim_znp_coord *c, const struct sim_znp_frame *f) {
  struct sim_znp_rd r;
  sim_znp_rd_init(&r, f);
  uint16_t dst = sim_znp_rd_u16(&r);
  uint8_t start = sim_znp_rd_u8(&r);
  if (r.err)
    return SIM__ZNP_MALFORMED;
  const struct sim_znp_dev *node = dst == 0x0000 ? NULL : sim_znp_coord_device(c, dst);
  if (dst != 0x0000 && !node) {
    sim__znp_status(c, SIM_ZNP_ZDO, f->cmd, SIM_ZNP_ST_NWK_NO_ROUTE);
    return SIM__ZNP_DONE;
  }
  sim__znp_status(c, SIM_ZNP_ZDO, f->cmd, SIM_ZNP_ST_SUCCESS);
  struct sim_znp_frame out;
  int lqi = f->cmd == SIM_ZNP_ZDO_MGMT_LQI_REQ;
  if (node && !is_router(node)) {
    if (lqi)
      sim_znp_mt_lqi_rsp(&out, dst, ZDP_NOT_SUPPORTED, 0, 0, NULL, 0);
    else
      sim_znp_mt_rtg_rsp(&out, dst, ZDP_NOT_SUPPORTED, 0, 0, NULL, 0);
    sim__znp_emit(c, &out);
    return SIM__ZNP_DONE;
  }
  uint16_t pan = 0;
  uint8_t channel = 0;
  uint64_t ext_pan = 0;
  sim__znp_nwk_params(c, &pan, &channel, &ext_pan);
  if (lqi) {
    struct sim_znp_neighbor page[SIM_ZNP_LQI_PAGE], skip;
    size_t total = neighbors(c, node, 0, ext_pan, &skip), n = 0;
    for (; n < SIM_ZNP_LQI_PAGE && start + n < total; n++)
      neighbors(c, node, start + n, ext_pan, &page[n]);
    sim_znp_mt_lqi_rsp(&out, dst, SIM_ZNP_ST_SUCCESS, (uint8_t)total, start, page, n);
  } else {
    struct sim_znp_route page[SIM_ZNP_RTG_PAGE], skip;
    size_t total = routes(c, node, 0, &skip), n = 0;
    for (; n < SIM_ZNP_RTG_PAGE && start + n < total; n++)
      routes(c, node, start + n, &page[n]);
    sim_znp_mt_rtg_rsp(&out, dst, SIM_ZNP_ST_SUCCESS, (uint8_t)total, start, page, n);
  }
  sim__znp_emit(c, &out);
  return SIM__ZNP_DONE;
}
