/* The coordinator's ZDO and AF commands (see coord.h): network start and information, its own
 * descriptors (answered from the AF registrations), groups, permit join, route discovery.
 * Requests to other addresses fail with NWK_NO_ROUTE until devices can join. */
#include "sim/znp/coord_internal.h"

#include <string.h>

#include "sim/core/err.h"
#include "sim/fleet/model.h"

#define COORD_NWK 0x0000
/* The coordinator's node descriptor: logical type coordinator; MAC alternate PAN coordinator,
 * FFD, mains, receiver on, allocates addresses; manufacturer code 0 (Texas Instruments' Z-Stack
 * sample applications); server mask: primary trust centre, stack compliance revision 22. */
static const struct sim_znp_node_desc coord_node_desc = {.logical = 0,
                                                         .mac_cap = 0x8F,
                                                         .manufacturer = 0x0000,
                                                         .max_buf = 0x50,
                                                         .max_in = 0x00A0,
                                                         .server_mask = 0x2C01,
                                                         .max_out = 0x00A0};

static const struct sim_znp_ep *find_ep(const struct sim_znp_coord *c, uint8_t ep) {
  for (size_t i = 0; i < c->neps; i++)
    if (c->eps[i].ep == ep)
      return &c->eps[i];
  return NULL;
}

/* AF_DATA_REQUEST(_EXT): SRSP, then AF_DATA_CONFIRM with the transaction id. A unicast to a
 * joined device crosses the radio (coord_radio.c); one out of range is never acknowledged
 * (MAC_NO_ACK). Broadcasts and groups are sent (no device acts on them yet); a unicast to any
 * other address finds no route (0xCD). */
static enum sim__znp_handled af_data(struct sim_znp_coord *c, const struct sim_znp_frame *f) {
  struct sim_znp_af_req req;
  if (sim_znp_mt_parse_af_data(f, &req) != 0)
    return SIM__ZNP_MALFORMED;
  struct sim_znp_frame out;
  uint8_t st = find_ep(c, req.src_ep) ? SIM_ZNP_ST_SUCCESS : SIM_ZNP_ST_INVALID_PARAMETER;
  sim__znp_status(c, SIM_ZNP_AF, f->cmd, st);
  if (st != SIM_ZNP_ST_SUCCESS)
    return SIM__ZNP_DONE;
  struct sim_znp_dev *d = req.mode == 2 && req.dst < 0xFFF8
                              ? (struct sim_znp_dev *)sim_znp_coord_device(c, (uint16_t)req.dst)
                              : NULL;
  if (d && sim__znp_ctl_in_range(c, d)) { /* over the radio: confirmed when it reaches the
                                           * device, or fails to */
    sim__znp_radio_down(c, d, &req);
    return SIM__ZNP_DONE;
  }
  /* A device out of range (link loss, no network) never acknowledges: MAC_NO_ACK. */
  int reaches = d || req.mode == 0x0F || req.mode == 0x01 || (req.mode == 2 && req.dst >= 0xFFF8) ||
                (req.mode == 2 && req.dst == COORD_NWK) || (req.mode == 3 && req.dst == c->ieee);
  uint8_t cst = !reaches ? SIM_ZNP_ST_NWK_NO_ROUTE
                : d      ? SIM__ZNP_ST_MAC_NO_ACK
                         : SIM_ZNP_ST_SUCCESS;
  sim_znp_mt_af_data_confirm(&out, cst, req.src_ep, req.transid);
  sim__znp_emit(c, &out);
  return SIM__ZNP_DONE;
}

enum sim__znp_handled sim__znp_af(struct sim_znp_coord *c, const struct sim_znp_frame *f) {
  if (f->cmd == SIM_ZNP_AF_DATA_REQUEST || f->cmd == SIM_ZNP_AF_DATA_REQUEST_EXT)
    return af_data(c, f);
  if (f->cmd != SIM_ZNP_AF_REGISTER)
    return SIM__ZNP_UNKNOWN;
  struct sim_znp_ep ep;
  int rc = sim_znp_mt_parse_af_register(f, &ep);
  if (rc == SIM_EMALFORMED)
    return SIM__ZNP_MALFORMED;
  uint8_t st = SIM_ZNP_ST_SUCCESS;
  if (rc != 0 || ep.ep == 0 || ep.ep == 0xFF)
    st = SIM_ZNP_ST_INVALID_PARAMETER;
  else if (find_ep(c, ep.ep))
    st = SIM_ZNP_ST_APS_DUPLICATE_ENTRY;
  else if (c->neps >= SIM_ZNP_MAX_EPS)
    st = SIM_ZNP_ST_FAILURE;
  else
    c->eps[c->neps++] = ep;
  sim__znp_status(c, SIM_ZNP_AF, f->cmd, st);
  return SIM__ZNP_DONE;
}

/* ZDO_STARTUP_FROM_APP: status 0 (restored from NV) or 1 (a new network), then the state
 * changes. */
static void startup(struct sim_znp_coord *c) {
  int formed = 0;
  if (c->state != SIM_ZNP_DEV_ZB_COORD) {
    /* Answer first: the state changes follow the SRSP on a real stack. */
    const struct sim_znp_nv_item *nib = sim_znp_nv_get(&c->nv, SIM_ZNP_NV_NIB);
    formed = !(nib && nib->len == SIM_ZNP_NIB_LEN);
  }
  sim__znp_status(c, SIM_ZNP_ZDO, SIM_ZNP_ZDO_STARTUP_FROM_APP, formed ? 1 : 0);
  if (c->state != SIM_ZNP_DEV_ZB_COORD)
    sim__znp_start_network(c);
}

static void ext_nwk_info(struct sim_znp_coord *c) {
  struct sim_znp_nwk_info i = {.nwk = 0xFFFE, .pan = 0xFFFF, .parent = 0xFFFE, .state = c->state};
  if (c->state == SIM_ZNP_DEV_ZB_COORD &&
      sim__znp_nwk_params(c, &i.pan, &i.channel, &i.ext_pan) == 0)
    i.nwk = COORD_NWK;
  struct sim_znp_frame out;
  sim_znp_mt_ext_nwk_info_rsp(&out, &i);
  sim__znp_emit(c, &out);
}

/* ZDO_EXT_FIND_GROUP / ZDO_EXT_ADD_GROUP: the APS group table of the coordinator's endpoints. */
static enum sim__znp_handled group(struct sim_znp_coord *c, const struct sim_znp_frame *f) {
  struct sim_znp_rd r;
  sim_znp_rd_init(&r, f);
  uint8_t ep = sim_znp_rd_u8(&r);
  uint16_t g = sim_znp_rd_u16(&r);
  if (r.err)
    return SIM__ZNP_MALFORMED;
  size_t i = 0;
  while (i < c->ngroups && !(c->groups[i].ep == ep && c->groups[i].group == g))
    i++;
  struct sim_znp_frame out;
  struct sim_znp_wr w;
  if (f->cmd == SIM_ZNP_ZDO_EXT_FIND_GROUP) {
    sim_znp_wr_start(&w, &out, SIM_ZNP_SRSP, SIM_ZNP_ZDO, f->cmd);
    sim_znp_wr_u8(&w, i < c->ngroups ? SIM_ZNP_ST_SUCCESS : SIM_ZNP_ST_FAILURE);
    sim_znp_wr_u16(&w, g);
    sim_znp_wr_u8(&w, 0); /* no group name */
  } else {
    uint8_t st = SIM_ZNP_ST_SUCCESS;
    if (i < c->ngroups)
      st = SIM_ZNP_ST_APS_DUPLICATE_ENTRY;
    else if (c->ngroups >= SIM_ZNP_MAX_GROUPS)
      st = SIM_ZNP_ST_FAILURE;
    else {
      c->groups[c->ngroups].ep = ep;
      c->groups[c->ngroups].group = g;
      c->ngroups++;
    }
    sim_znp_mt_status_rsp(&out, SIM_ZNP_ZDO, f->cmd, st);
  }
  sim__znp_emit(c, &out);
  return SIM__ZNP_DONE;
}

/* ZDO_MGMT_PERMIT_JOIN_REQ: address mode, destination, duration (s), TC significance. The
 * coordinator opens its own window for any destination that includes it (a broadcast, itself,
 * or 0xFFFC which Z-Stack reads as "the coordinator only"); a unicast to it also gets its
 * Mgmt_Permit_Joining_rsp. */
static enum sim__znp_handled permit_join(struct sim_znp_coord *c, const struct sim_znp_frame *f) {
  struct sim_znp_rd r;
  sim_znp_rd_init(&r, f);
  uint8_t mode = sim_znp_rd_u8(&r);
  uint16_t dst = sim_znp_rd_u16(&r);
  uint8_t duration = sim_znp_rd_u8(&r);
  sim_znp_rd_u8(&r);
  if (r.err)
    return SIM__ZNP_MALFORMED;
  int broadcast = mode == 0x0F || dst >= 0xFFF8;
  struct sim_znp_frame out;
  if (!broadcast && dst != COORD_NWK) {
    sim__znp_status(c, SIM_ZNP_ZDO, f->cmd, SIM_ZNP_ST_NWK_NO_ROUTE);
    return SIM__ZNP_DONE;
  }
  sim__znp_status(c, SIM_ZNP_ZDO, f->cmd, SIM_ZNP_ST_SUCCESS);
  c->permit_forever = duration == 0xFF;
  c->permit_until_ms = c->now_ms + (uint64_t)duration * 1000u;
  if (mode != 0x0F) {
    sim_znp_mt_permit_join_rsp(&out, COORD_NWK, SIM_ZNP_ST_SUCCESS);
    sim__znp_emit(c, &out);
  }
  sim_znp_mt_permit_join_ind(&out, duration);
  sim__znp_emit(c, &out);
  return SIM__ZNP_DONE;
}

/* Descriptors of a joined device, answered from its model (the AREQ comes from the device). */
static void device_descriptor(struct sim_znp_coord *c, const struct sim_znp_dev *d, uint8_t cmd,
                              uint8_t epn) {
  struct sim_znp_frame out;
  if (cmd == SIM_ZNP_ZDO_NODE_DESC_REQ) {
    struct sim_znp_node_desc nd;
    sim__znp_dev_node_desc(d, &nd);
    sim_znp_mt_node_desc_rsp(&out, d->nwk, SIM_ZNP_ST_SUCCESS, d->nwk, &nd);
  } else if (cmd == SIM_ZNP_ZDO_ACTIVE_EP_REQ) {
    uint8_t eps[SIM_ZNP_MAX_EPS];
    size_t n = 0;
    for (; n < SIM_ZNP_MAX_EPS && n < d->model->n_endpoints; n++)
      eps[n] = d->model->endpoints[n].id;
    sim_znp_mt_active_ep_rsp(&out, d->nwk, SIM_ZNP_ST_SUCCESS, d->nwk, eps, n);
  } else {
    struct sim_znp_ep ep;
    int rc = sim__znp_dev_ep(d, epn, &ep);
    sim_znp_mt_simple_desc_rsp(&out, d->nwk,
                               rc == 0 ? SIM_ZNP_ST_SUCCESS : SIM_ZNP_ST_ZDP_NOT_ACTIVE, d->nwk,
                               rc == 0 ? &ep : NULL);
  }
  sim__znp_emit(c, &out);
}

/* Node, active endpoint and simple descriptor requests: for the coordinator itself (from its
 * AF registrations) or for a joined device (from its model). The SRSP (status) comes first,
 * then the ZDO answer as an AREQ from the node asked. Other addresses find no route. */
static enum sim__znp_handled descriptor(struct sim_znp_coord *c, const struct sim_znp_frame *f) {
  struct sim_znp_rd r;
  sim_znp_rd_init(&r, f);
  uint16_t dst = sim_znp_rd_u16(&r);
  uint16_t nwk = sim_znp_rd_u16(&r);
  uint8_t epn = f->cmd == SIM_ZNP_ZDO_SIMPLE_DESC_REQ ? sim_znp_rd_u8(&r) : 0;
  if (r.err)
    return SIM__ZNP_MALFORMED;
  struct sim_znp_dev *d = dst == nwk ? (struct sim_znp_dev *)sim_znp_coord_device(c, nwk) : NULL;
  if (d) {
    sim__znp_status(c, SIM_ZNP_ZDO, f->cmd, SIM_ZNP_ST_SUCCESS);
    if (!sim__znp_ctl_zdo_lost(c, d))
      device_descriptor(c, d, f->cmd, epn);
    return SIM__ZNP_DONE;
  }
  if (dst != COORD_NWK || nwk != COORD_NWK) {
    sim__znp_status(c, SIM_ZNP_ZDO, f->cmd, SIM_ZNP_ST_NWK_NO_ROUTE);
    return SIM__ZNP_DONE;
  }
  sim__znp_status(c, SIM_ZNP_ZDO, f->cmd, SIM_ZNP_ST_SUCCESS);
  struct sim_znp_frame out;
  if (f->cmd == SIM_ZNP_ZDO_NODE_DESC_REQ) {
    sim_znp_mt_node_desc_rsp(&out, COORD_NWK, SIM_ZNP_ST_SUCCESS, COORD_NWK, &coord_node_desc);
  } else if (f->cmd == SIM_ZNP_ZDO_ACTIVE_EP_REQ) {
    uint8_t eps[SIM_ZNP_MAX_EPS];
    for (size_t i = 0; i < c->neps; i++)
      eps[i] = c->eps[i].ep;
    sim_znp_mt_active_ep_rsp(&out, COORD_NWK, SIM_ZNP_ST_SUCCESS, COORD_NWK, eps, c->neps);
  } else {
    const struct sim_znp_ep *ep = find_ep(c, epn);
    sim_znp_mt_simple_desc_rsp(&out, COORD_NWK, ep ? SIM_ZNP_ST_SUCCESS : SIM_ZNP_ST_ZDP_NOT_ACTIVE,
                               COORD_NWK, ep);
  }
  sim__znp_emit(c, &out);
  return SIM__ZNP_DONE;
}

static uint64_t rd_ieee(struct sim_znp_rd *r);

/* The start of bind, unbind and leave requests: the destination, then an IEEE address. */
static uint16_t rd_dst_ieee(struct sim_znp_rd *r, const struct sim_znp_frame *f, uint64_t *ieee) {
  sim_znp_rd_init(r, f);
  uint16_t dst = sim_znp_rd_u16(r);
  *ieee = rd_ieee(r);
  return dst;
}

static uint64_t rd_ieee(struct sim_znp_rd *r) {
  const uint8_t *p = sim_znp_rd_bytes(r, 8);
  uint64_t v = 0;
  for (int i = 7; p && i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

/* ZDO_IEEE_ADDR_REQ (network address, request type, start index) and ZDO_NWK_ADDR_REQ (IEEE
 * address, ...): the node asked answers with both its addresses. An IEEE address request to
 * an unknown address finds no route; a network address request is a broadcast that nobody
 * answers when no node has that IEEE address. */
static enum sim__znp_handled addr_req(struct sim_znp_coord *c, const struct sim_znp_frame *f) {
  struct sim_znp_rd r;
  sim_znp_rd_init(&r, f);
  uint16_t nwk = 0;
  uint64_t ieee = 0;
  if (f->cmd == SIM_ZNP_ZDO_IEEE_ADDR_REQ)
    nwk = sim_znp_rd_u16(&r);
  else
    ieee = rd_ieee(&r);
  sim_znp_rd_u8(&r);
  sim_znp_rd_u8(&r);
  if (r.err)
    return SIM__ZNP_MALFORMED;
  const struct sim_znp_dev *d = f->cmd == SIM_ZNP_ZDO_IEEE_ADDR_REQ ? sim_znp_coord_device(c, nwk)
                                                                    : sim__znp_dev_by_ieee(c, ieee);
  int coord = f->cmd == SIM_ZNP_ZDO_IEEE_ADDR_REQ ? nwk == COORD_NWK : ieee == c->ieee;
  if (!d && !coord && f->cmd == SIM_ZNP_ZDO_IEEE_ADDR_REQ) {
    sim__znp_status(c, SIM_ZNP_ZDO, f->cmd, SIM_ZNP_ST_NWK_NO_ROUTE);
    return SIM__ZNP_DONE;
  }
  sim__znp_status(c, SIM_ZNP_ZDO, f->cmd, SIM_ZNP_ST_SUCCESS);
  if (d || coord) {
    struct sim_znp_frame out;
    sim_znp_mt_addr_rsp(&out, (uint8_t)(f->cmd | 0x80), SIM_ZNP_ST_SUCCESS, d ? d->ieee : c->ieee,
                        d ? d->nwk : COORD_NWK);
    sim__znp_emit(c, &out);
  }
  return SIM__ZNP_DONE;
}

/* A joined device's ZDO answer of only its address and success (cmd: the answer's AREQ). */
static void device_ok(struct sim_znp_coord *c, uint8_t cmd, uint16_t src) {
  struct sim_znp_frame out;
  sim_znp_mt_zdo_status_ind(&out, cmd, src, SIM_ZNP_ST_SUCCESS);
  sim__znp_emit(c, &out);
}

/* ZDO_BIND_REQ / ZDO_UNBIND_REQ: destination (the device holding the binding), source IEEE
 * address, endpoint, cluster, destination address mode, address (8 bytes, a group in the first
 * two) and endpoint. A joined device accepts the binding (its reports go to the coordinator
 * anyway) and answers success; another address finds no route. */
static enum sim__znp_handled bind_req(struct sim_znp_coord *c, const struct sim_znp_frame *f) {
  struct sim_znp_rd r;
  uint64_t src;
  uint16_t dst = rd_dst_ieee(&r, f, &src);
  sim_znp_rd_u8(&r);
  sim_znp_rd_u16(&r);
  uint8_t mode = sim_znp_rd_u8(&r);
  sim_znp_rd_bytes(&r, mode == 3 ? 9 : 2);
  if (r.err)
    return SIM__ZNP_MALFORMED;
  const struct sim_znp_dev *d = sim_znp_coord_device(c, dst);
  sim__znp_status(c, SIM_ZNP_ZDO, f->cmd, d ? SIM_ZNP_ST_SUCCESS : SIM_ZNP_ST_NWK_NO_ROUTE);
  if (d)
    device_ok(c, (uint8_t)(f->cmd | 0x80), dst);
  return SIM__ZNP_DONE;
}

/* ZDO_MGMT_LEAVE_REQ: destination, the IEEE address of the device to leave, options (rejoin,
 * remove children). The device answers, announces its leaving and is forgotten. */
static enum sim__znp_handled mgmt_leave(struct sim_znp_coord *c, const struct sim_znp_frame *f) {
  struct sim_znp_rd r;
  uint64_t ieee;
  uint16_t dst = rd_dst_ieee(&r, f, &ieee);
  uint8_t opts = sim_znp_rd_u8(&r);
  if (r.err)
    return SIM__ZNP_MALFORMED;
  struct sim_znp_dev *d = (struct sim_znp_dev *)sim_znp_coord_device(c, dst);
  if (d && ieee != 0 && ieee != d->ieee)
    d = NULL; /* a parent asked to remove a child: no device here has children */
  sim__znp_status(c, SIM_ZNP_ZDO, f->cmd, d ? SIM_ZNP_ST_SUCCESS : SIM_ZNP_ST_NWK_NO_ROUTE);
  if (!d)
    return SIM__ZNP_DONE;
  device_ok(c, SIM_ZNP_ZDO_MGMT_LEAVE_RSP, dst);
  struct sim_znp_frame out;
  sim_znp_mt_leave_ind(&out, dst, d->ieee, (opts & 0x80) ? 1 : 0);
  sim__znp_emit(c, &out);
  sim__znp_dev_remove(c, d);
  return SIM__ZNP_DONE;
}

enum sim__znp_handled sim__znp_zdo(struct sim_znp_coord *c, const struct sim_znp_frame *f) {
  switch (f->cmd) {
  case SIM_ZNP_ZDO_STARTUP_FROM_APP:
    if (f->len < 2)
      return SIM__ZNP_MALFORMED;
    startup(c);
    return SIM__ZNP_DONE;
  case SIM_ZNP_ZDO_EXT_NWK_INFO:
    ext_nwk_info(c);
    return SIM__ZNP_DONE;
  case SIM_ZNP_ZDO_EXT_FIND_GROUP:
  case SIM_ZNP_ZDO_EXT_ADD_GROUP:
    return group(c, f);
  case SIM_ZNP_ZDO_MGMT_PERMIT_JOIN_REQ:
    return permit_join(c, f);
  case SIM_ZNP_ZDO_NODE_DESC_REQ:
  case SIM_ZNP_ZDO_ACTIVE_EP_REQ:
  case SIM_ZNP_ZDO_SIMPLE_DESC_REQ:
    return descriptor(c, f);
  case SIM_ZNP_ZDO_NWK_ADDR_REQ:
  case SIM_ZNP_ZDO_IEEE_ADDR_REQ:
    return addr_req(c, f);
  case SIM_ZNP_ZDO_BIND_REQ:
  case SIM_ZNP_ZDO_UNBIND_REQ:
    return bind_req(c, f);
  case SIM_ZNP_ZDO_MGMT_LEAVE_REQ:
    return mgmt_leave(c, f);
  case SIM_ZNP_ZDO_MGMT_LQI_REQ:
  case SIM_ZNP_ZDO_MGMT_RTG_REQ:
    return sim__znp_mgmt_table(c, f);
  case SIM_ZNP_ZDO_EXT_ROUTE_DISC:
    if (f->len < 4)
      return SIM__ZNP_MALFORMED;
    sim__znp_status(c, SIM_ZNP_ZDO, f->cmd, SIM_ZNP_ST_SUCCESS);
    return SIM__ZNP_DONE;
  default:
    return SIM__ZNP_UNKNOWN;
  }
}
