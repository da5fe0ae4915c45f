/* MT command table, payload reader and writer, encoders and decoders: see mt.h. */
#include "sim/znp/mt.h"

#include <assert.h>
#include <string.h>

#include "sim/core/err.h"

#define S SIM_ZNP_SREQ
#define A SIM_ZNP_AREQ
/* What the emulator serves (SREQ, and the AREQ reset) and what it emits (AREQ), for the logs
 * and to tell a known command from one answered as unsupported. */
static const struct sim_znp_cmd_info cmds[] = {
    {SIM_ZNP_SYS, SIM_ZNP_SYS_RESET_REQ, A, "SYS_RESET_REQ"},
    {SIM_ZNP_SYS, SIM_ZNP_SYS_PING, S, "SYS_PING"},
    {SIM_ZNP_SYS, SIM_ZNP_SYS_VERSION, S, "SYS_VERSION"},
    {SIM_ZNP_SYS, SIM_ZNP_SYS_GET_EXT_ADDR, S, "SYS_GET_EXT_ADDR"},
    {SIM_ZNP_SYS, SIM_ZNP_SYS_OSAL_NV_ITEM_INIT, S, "SYS_OSAL_NV_ITEM_INIT"},
    {SIM_ZNP_SYS, SIM_ZNP_SYS_OSAL_NV_READ, S, "SYS_OSAL_NV_READ"},
    {SIM_ZNP_SYS, SIM_ZNP_SYS_OSAL_NV_WRITE, S, "SYS_OSAL_NV_WRITE"},
    {SIM_ZNP_SYS, SIM_ZNP_SYS_STACK_TUNE, S, "SYS_STACK_TUNE"},
    {SIM_ZNP_SYS, SIM_ZNP_SYS_OSAL_NV_DELETE, S, "SYS_OSAL_NV_DELETE"},
    {SIM_ZNP_SYS, SIM_ZNP_SYS_OSAL_NV_LENGTH, S, "SYS_OSAL_NV_LENGTH"},
    {SIM_ZNP_SYS, SIM_ZNP_SYS_OSAL_NV_READ_EXT, S, "SYS_OSAL_NV_READ_EXT"},
    {SIM_ZNP_SYS, SIM_ZNP_SYS_OSAL_NV_WRITE_EXT, S, "SYS_OSAL_NV_WRITE_EXT"},
    {SIM_ZNP_SYS, SIM_ZNP_SYS_NV_CREATE, S, "SYS_NV_CREATE"},
    {SIM_ZNP_SYS, SIM_ZNP_SYS_NV_DELETE, S, "SYS_NV_DELETE"},
    {SIM_ZNP_SYS, SIM_ZNP_SYS_NV_LENGTH, S, "SYS_NV_LENGTH"},
    {SIM_ZNP_SYS, SIM_ZNP_SYS_NV_READ, S, "SYS_NV_READ"},
    {SIM_ZNP_SYS, SIM_ZNP_SYS_NV_WRITE, S, "SYS_NV_WRITE"},
    {SIM_ZNP_SYS, SIM_ZNP_SYS_RESET_IND, A, "SYS_RESET_IND"},
    {SIM_ZNP_AF, SIM_ZNP_AF_REGISTER, S, "AF_REGISTER"},
    {SIM_ZNP_AF, SIM_ZNP_AF_DATA_REQUEST, S, "AF_DATA_REQUEST"},
    {SIM_ZNP_AF, SIM_ZNP_AF_DATA_REQUEST_EXT, S, "AF_DATA_REQUEST_EXT"},
    {SIM_ZNP_AF, SIM_ZNP_AF_DATA_CONFIRM, A, "AF_DATA_CONFIRM"},
    {SIM_ZNP_AF, SIM_ZNP_AF_INCOMING_MSG, A, "AF_INCOMING_MSG"},
    {SIM_ZNP_ZDO, SIM_ZNP_ZDO_NODE_DESC_REQ, S, "ZDO_NODE_DESC_REQ"},
    {SIM_ZNP_ZDO, SIM_ZNP_ZDO_SIMPLE_DESC_REQ, S, "ZDO_SIMPLE_DESC_REQ"},
    {SIM_ZNP_ZDO, SIM_ZNP_ZDO_ACTIVE_EP_REQ, S, "ZDO_ACTIVE_EP_REQ"},
    {SIM_ZNP_ZDO, SIM_ZNP_ZDO_MGMT_PERMIT_JOIN_REQ, S, "ZDO_MGMT_PERMIT_JOIN_REQ"},
    {SIM_ZNP_ZDO, SIM_ZNP_ZDO_MGMT_LQI_REQ, S, "ZDO_MGMT_LQI_REQ"},
    {SIM_ZNP_ZDO, SIM_ZNP_ZDO_MGMT_RTG_REQ, S, "ZDO_MGMT_RTG_REQ"},
    {SIM_ZNP_ZDO, SIM_ZNP_ZDO_MGMT_LQI_RSP, A, "ZDO_MGMT_LQI_RSP"},
    {SIM_ZNP_ZDO, SIM_ZNP_ZDO_MGMT_RTG_RSP, A, "ZDO_MGMT_RTG_RSP"},
    {SIM_ZNP_ZDO, SIM_ZNP_ZDO_STARTUP_FROM_APP, S, "ZDO_STARTUP_FROM_APP"},
    {SIM_ZNP_ZDO, SIM_ZNP_ZDO_EXT_ROUTE_DISC, S, "ZDO_EXT_ROUTE_DISC"},
    {SIM_ZNP_ZDO, SIM_ZNP_ZDO_EXT_FIND_GROUP, S, "ZDO_EXT_FIND_GROUP"},
    {SIM_ZNP_ZDO, SIM_ZNP_ZDO_EXT_ADD_GROUP, S, "ZDO_EXT_ADD_GROUP"},
    {SIM_ZNP_ZDO, SIM_ZNP_ZDO_EXT_NWK_INFO, S, "ZDO_EXT_NWK_INFO"},
    {SIM_ZNP_ZDO, SIM_ZNP_ZDO_NODE_DESC_RSP, A, "ZDO_NODE_DESC_RSP"},
    {SIM_ZNP_ZDO, SIM_ZNP_ZDO_SIMPLE_DESC_RSP, A, "ZDO_SIMPLE_DESC_RSP"},
    {SIM_ZNP_ZDO, SIM_ZNP_ZDO_ACTIVE_EP_RSP, A, "ZDO_ACTIVE_EP_RSP"},
    {SIM_ZNP_ZDO, SIM_ZNP_ZDO_MGMT_PERMIT_JOIN_RSP, A, "ZDO_MGMT_PERMIT_JOIN_RSP"},
    {SIM_ZNP_ZDO, SIM_ZNP_ZDO_STATE_CHANGE_IND, A, "ZDO_STATE_CHANGE_IND"},
    {SIM_ZNP_ZDO, SIM_ZNP_ZDO_END_DEVICE_ANNCE_IND, A, "ZDO_END_DEVICE_ANNCE_IND"},
    {SIM_ZNP_ZDO, SIM_ZNP_ZDO_TC_DEV_IND, A, "ZDO_TC_DEV_IND"},
    {SIM_ZNP_ZDO, SIM_ZNP_ZDO_PERMIT_JOIN_IND, A, "ZDO_PERMIT_JOIN_IND"},
    {SIM_ZNP_UTIL, SIM_ZNP_UTIL_GET_DEVICE_INFO, S, "UTIL_GET_DEVICE_INFO"},
    {SIM_ZNP_UTIL, SIM_ZNP_UTIL_LED_CONTROL, S, "UTIL_LED_CONTROL"},
    {SIM_ZNP_APP_CNF, SIM_ZNP_APP_CNF_BDB_START_COMMISSIONING, S,
     "APP_CNF_BDB_START_COMMISSIONING"},
    {SIM_ZNP_APP_CNF, SIM_ZNP_APP_CNF_BDB_SET_CHANNEL, S, "APP_CNF_BDB_SET_CHANNEL"},
    {SIM_ZNP_APP_CNF, SIM_ZNP_APP_CNF_BDB_COMMISSIONING_NOTIFICATION, A,
     "APP_CNF_BDB_COMMISSIONING_NOTIFICATION"},
};
#undef S
#undef A

const struct sim_znp_cmd_info *sim_znp_mt_find(uint8_t subsys, uint8_t cmd, uint8_t type) {
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
    if (cmds[i].subsys == subsys && cmds[i].cmd == cmd && cmds[i].type == type)
      return &cmds[i];
  return NULL;
}

const char *sim_znp_subsys_name(uint8_t subsys) {
  switch (subsys) {
  case SIM_ZNP_RES0:
    return "RES0";
  case SIM_ZNP_SYS:
    return "SYS";
  case SIM_ZNP_MAC:
    return "MAC";
  case SIM_ZNP_NWK:
    return "NWK";
  case SIM_ZNP_AF:
    return "AF";
  case SIM_ZNP_ZDO:
    return "ZDO";
  case SIM_ZNP_SAPI:
    return "SAPI";
  case SIM_ZNP_UTIL:
    return "UTIL";
  case SIM_ZNP_DEBUG:
    return "DEBUG";
  case SIM_ZNP_APP:
    return "APP";
  case SIM_ZNP_APP_CNF:
    return "APP_CNF";
  case SIM_ZNP_GP:
    return "GP";
  default:
    return "?";
  }
}

void sim_znp_rd_init(struct sim_znp_rd *r, const struct sim_znp_frame *f) {
  *r = (struct sim_znp_rd){.p = f->data, .n = f->len};
}

const uint8_t *sim_znp_rd_bytes(struct sim_znp_rd *r, size_t n) {
  if (r->err || n > r->n - r->off) {
    r->err = 1;
    return NULL;
  }
  const uint8_t *p = r->p + r->off;
  r->off += n;
  return p;
}

uint8_t sim_znp_rd_u8(struct sim_znp_rd *r) {
  const uint8_t *p = sim_znp_rd_bytes(r, 1);
  return p ? p[0] : 0;
}

uint16_t sim_znp_rd_u16(struct sim_znp_rd *r) {
  const uint8_t *p = sim_znp_rd_bytes(r, 2);
  return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

uint32_t sim_znp_rd_u32(struct sim_znp_rd *r) {
  const uint8_t *p = sim_znp_rd_bytes(r, 4);
  return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24 : 0;
}

void sim_znp_wr_start(struct sim_znp_wr *w, struct sim_znp_frame *f, uint8_t type, uint8_t subsys,
                      uint8_t cmd) {
  assert(w && f);
  f->type = type;
  f->subsys = subsys;
  f->cmd = cmd;
  f->len = 0;
  *w = (struct sim_znp_wr){.f = f};
}

void sim_znp_wr_bytes(struct sim_znp_wr *w, const uint8_t *p, size_t n) {
  if (w->err || n > (size_t)SIM_ZNP_MAX_DATA - w->f->len) {
    w->err = 1;
    return;
  }
  if (n > 0)
    memcpy(w->f->data + w->f->len, p, n);
  w->f->len = (uint8_t)(w->f->len + n);
}

void sim_znp_wr_u8(struct sim_znp_wr *w, uint8_t v) {
  sim_znp_wr_bytes(w, &v, 1);
}

void sim_znp_wr_u16(struct sim_znp_wr *w, uint16_t v) {
  uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
  sim_znp_wr_bytes(w, b, 2);
}

void sim_znp_wr_u32(struct sim_znp_wr *w, uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  sim_znp_wr_bytes(w, b, 4);
}

void sim_znp_wr_ieee(struct sim_znp_wr *w, uint64_t ieee) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++)
    b[i] = (uint8_t)(ieee >> (8 * i));
  sim_znp_wr_bytes(w, b, 8);
}

/* A frame of one data byte: status answers and one-byte indications. */
static void frame_u8(struct sim_znp_frame *f, uint8_t type, uint8_t subsys, uint8_t cmd,
                     uint8_t v) {
  struct sim_znp_wr w;
  sim_znp_wr_start(&w, f, type, subsys, cmd);
  sim_znp_wr_u8(&w, v);
}

void sim_znp_mt_status_rsp(struct sim_znp_frame *f, uint8_t subsys, uint8_t cmd, uint8_t status) {
  frame_u8(f, SIM_ZNP_SRSP, subsys, cmd, status);
}

void sim_znp_mt_rpc_error(struct sim_znp_frame *f, uint8_t code, uint8_t req_cmd0,
                          uint8_t req_cmd1) {
  struct sim_znp_wr w;
  sim_znp_wr_start(&w, f, SIM_ZNP_SRSP, SIM_ZNP_RES0, 0);
  sim_znp_wr_u8(&w, code);
  sim_znp_wr_u8(&w, req_cmd0);
  sim_znp_wr_u8(&w, req_cmd1);
}

void sim_znp_mt_ping_rsp(struct sim_znp_frame *f, uint16_t capabilities) {
  struct sim_znp_wr w;
  sim_znp_wr_start(&w, f, SIM_ZNP_SRSP, SIM_ZNP_SYS, SIM_ZNP_SYS_PING);
  sim_znp_wr_u16(&w, capabilities);
}

void sim_znp_mt_version_rsp(struct sim_znp_frame *f, const struct sim_znp_version *v) {
  struct sim_znp_wr w;
  sim_znp_wr_start(&w, f, SIM_ZNP_SRSP, SIM_ZNP_SYS, SIM_ZNP_SYS_VERSION);
  uint8_t b[5] = {v->transport, v->product, v->major, v->minor, v->maint};
  sim_znp_wr_bytes(&w, b, 5);
  sim_znp_wr_u32(&w, v->revision);
}

void sim_znp_mt_ext_addr_rsp(struct sim_znp_frame *f, uint64_t ieee) {
  struct sim_znp_wr w;
  sim_znp_wr_start(&w, f, SIM_ZNP_SRSP, SIM_ZNP_SYS, SIM_ZNP_SYS_GET_EXT_ADDR);
  sim_znp_wr_ieee(&w, ieee);
}

void sim_znp_mt_reset_ind(struct sim_znp_frame *f, uint8_t reason,
                          const struct sim_znp_version *v) {
  struct sim_znp_wr w;
  sim_znp_wr_start(&w, f, SIM_ZNP_AREQ, SIM_ZNP_SYS, SIM_ZNP_SYS_RESET_IND);
  /* reason, transport revision, product, major, minor, hardware revision */
  uint8_t b[6] = {reason, v->transport, v->product, v->major, v->minor, v->maint};
  sim_znp_wr_bytes(&w, b, 6);
}

void sim_znp_mt_state_change_ind(struct sim_znp_frame *f, uint8_t state) {
  frame_u8(f, SIM_ZNP_AREQ, SIM_ZNP_ZDO, SIM_ZNP_ZDO_STATE_CHANGE_IND, state);
}

void sim_znp_mt_device_info_rsp(struct sim_znp_frame *f, uint64_t ieee, uint16_t nwk,
                                uint8_t state) {
  struct sim_znp_wr w;
  sim_znp_wr_start(&w, f, SIM_ZNP_SRSP, SIM_ZNP_UTIL, SIM_ZNP_UTIL_GET_DEVICE_INFO);
  sim_znp_wr_u8(&w, SIM_ZNP_ST_SUCCESS);
  sim_znp_wr_ieee(&w, ieee);
  sim_znp_wr_u16(&w, nwk);
  sim_znp_wr_u8(&w, 0x07); /* device types this image can be: coordinator, router, end device */
  sim_znp_wr_u8(&w, state);
  sim_znp_wr_u8(&w, 0); /* associated devices: none listed */
}

void sim_znp_mt_ext_nwk_info_rsp(struct sim_znp_frame *f, const struct sim_znp_nwk_info *i) {
  struct sim_znp_wr w;
  sim_znp_wr_start(&w, f, SIM_ZNP_SRSP, SIM_ZNP_ZDO, SIM_ZNP_ZDO_EXT_NWK_INFO);
  sim_znp_wr_u16(&w, i->nwk);
  sim_znp_wr_u8(&w, i->state);
  sim_znp_wr_u16(&w, i->pan);
  sim_znp_wr_u16(&w, i->parent);
  sim_znp_wr_ieee(&w, i->ext_pan);
  sim_znp_wr_ieee(&w, i->parent_ieee);
  sim_znp_wr_u8(&w, i->channel);
}

void sim_znp_mt_nv_read_rsp(struct sim_znp_frame *f, uint8_t cmd, uint8_t status, const uint8_t *p,
                            size_t n) {
  assert(n <= SIM_ZNP_MAX_DATA - 2);
  struct sim_znp_wr w;
  sim_znp_wr_start(&w, f, SIM_ZNP_SRSP, SIM_ZNP_SYS, cmd);
  sim_znp_wr_u8(&w, status);
  sim_znp_wr_u8(&w, (uint8_t)n);
  sim_znp_wr_bytes(&w, p, n);
}

int sim_znp_mt_parse_af_register(const struct sim_znp_frame *f, struct sim_znp_ep *ep) {
  struct sim_znp_rd r;
  sim_znp_rd_init(&r, f);
  memset(ep, 0, sizeof *ep);
  ep->ep = sim_znp_rd_u8(&r);
  ep->profile = sim_znp_rd_u16(&r);
  ep->device = sim_znp_rd_u16(&r);
  ep->version = sim_znp_rd_u8(&r);
  ep->latency = sim_znp_rd_u8(&r);
  ep->nin = sim_znp_rd_u8(&r);
  if (ep->nin > SIM_ZNP_EP_MAX_CLUSTERS)
    return SIM_ETOOBIG;
  for (unsigned i = 0; i < ep->nin; i++)
    ep->in[i] = sim_znp_rd_u16(&r);
  ep->nout = sim_znp_rd_u8(&r);
  if (r.err)
    return SIM_EMALFORMED;
  if (ep->nin + ep->nout > SIM_ZNP_EP_MAX_CLUSTERS)
    return SIM_ETOOBIG;
  for (unsigned i = 0; i < ep->nout; i++)
    ep->out[i] = sim_znp_rd_u16(&r);
  if (r.err || r.off != r.n)
    return SIM_EMALFORMED;
  return 0;
}

int sim_znp_mt_parse_af_data(const struct sim_znp_frame *f, struct sim_znp_af_req *req) {
  struct sim_znp_rd r;
  sim_znp_rd_init(&r, f);
  memset(req, 0, sizeof *req);
  int ext = f->cmd == SIM_ZNP_AF_DATA_REQUEST_EXT;
  if (ext) {
    req->mode = sim_znp_rd_u8(&r);
    const uint8_t *a = sim_znp_rd_bytes(&r, 8);
    for (int i = 7; a && i >= 0; i--)
      req->dst = req->dst << 8 | a[i];
    req->dst_ep = sim_znp_rd_u8(&r);
    req->dst_pan = sim_znp_rd_u16(&r);
  } else {
    req->mode = 2;
    req->dst = sim_znp_rd_u16(&r);
    req->dst_ep = sim_znp_rd_u8(&r);
  }
  req->src_ep = sim_znp_rd_u8(&r);
  req->cluster = sim_znp_rd_u16(&r);
  req->transid = sim_znp_rd_u8(&r);
  req->options = sim_znp_rd_u8(&r);
  req->radius = sim_znp_rd_u8(&r);
  req->len = ext ? sim_znp_rd_u16(&r) : sim_znp_rd_u8(&r);
  req->data = sim_znp_rd_bytes(&r, req->len);
  if (r.err || r.off != r.n)
    return SIM_EMALFORMED;
  return 0;
}

void sim_znp_mt_af_data_confirm(struct sim_znp_frame *f, uint8_t status, uint8_t ep,
                                uint8_t transid) {
  struct sim_znp_wr w;
  sim_znp_wr_start(&w, f, SIM_ZNP_AREQ, SIM_ZNP_AF, SIM_ZNP_AF_DATA_CONFIRM);
  sim_znp_wr_u8(&w, status);
  sim_znp_wr_u8(&w, ep);
  sim_znp_wr_u8(&w, transid);
}

int sim_znp_mt_af_incoming(struct sim_znp_frame *f, const struct sim_znp_af_in *in) {
  if (in->len > SIM_ZNP_AF_IN_MAX)
    return SIM_ETOOBIG;
  struct sim_znp_wr w;
  sim_znp_wr_start(&w, f, SIM_ZNP_AREQ, SIM_ZNP_AF, SIM_ZNP_AF_INCOMING_MSG);
  sim_znp_wr_u16(&w, in->group);
  sim_znp_wr_u16(&w, in->cluster);
  sim_znp_wr_u16(&w, in->src);
  uint8_t b[5] = {in->src_ep, in->dst_ep, in->broadcast, in->lqi, in->security};
  sim_znp_wr_bytes(&w, b, sizeof b);
  sim_znp_wr_u32(&w, in->timestamp);
  sim_znp_wr_u8(&w, in->trans_seq);
  sim_znp_wr_u8(&w, (uint8_t)in->len);
  sim_znp_wr_bytes(&w, in->data, in->len);
  return 0;
}

/* Opens a ZDO answer: AREQ, source address, status, address of interest. */
static void zdo_rsp(struct sim_znp_wr *w, struct sim_znp_frame *f, uint8_t cmd, uint16_t src,
                    uint8_t status, uint16_t nwk) {
  sim_znp_wr_start(w, f, SIM_ZNP_AREQ, SIM_ZNP_ZDO, cmd);
  sim_znp_wr_u16(w, src);
  sim_znp_wr_u8(w, status);
  sim_znp_wr_u16(w, nwk);
}

void sim_znp_mt_active_ep_rsp(struct sim_znp_frame *f, uint16_t src, uint8_t status, uint16_t nwk,
                              const uint8_t *eps, size_t n) {
  struct sim_znp_wr w;
  zdo_rsp(&w, f, SIM_ZNP_ZDO_ACTIVE_EP_RSP, src, status, nwk);
  sim_znp_wr_u8(&w, (uint8_t)n);
  sim_znp_wr_bytes(&w, eps, n);
  assert(!w.err);
}

void sim_znp_mt_simple_desc_rsp(struct sim_znp_frame *f, uint16_t src, uint8_t status, uint16_t nwk,
                                const struct sim_znp_ep *ep) {
  struct sim_znp_wr w;
  zdo_rsp(&w, f, SIM_ZNP_ZDO_SIMPLE_DESC_RSP, src, status, nwk);
  if (!ep) {
    sim_znp_wr_u8(&w, 0);
    return;
  }
  sim_znp_wr_u8(&w, (uint8_t)(8 + 2 * (ep->nin + ep->nout))); /* the descriptor's length */
  sim_znp_wr_u8(&w, ep->ep);
  sim_znp_wr_u16(&w, ep->profile);
  sim_znp_wr_u16(&w, ep->device);
  sim_znp_wr_u8(&w, ep->version);
  sim_znp_wr_u8(&w, ep->nin);
  for (unsigned i = 0; i < ep->nin; i++)
    sim_znp_wr_u16(&w, ep->in[i]);
  sim_znp_wr_u8(&w, ep->nout);
  for (unsigned i = 0; i < ep->nout; i++)
    sim_znp_wr_u16(&w, ep->out[i]);
  assert(!w.err); /* the cluster bound of struct sim_znp_ep keeps it within one frame */
}

void sim_znp_mt_node_desc_rsp(struct sim_znp_frame *f, uint16_t src, uint8_t status, uint16_t nwk,
                              const struct sim_znp_node_desc *d) {
  struct sim_znp_wr w;
  zdo_rsp(&w, f, SIM_ZNP_ZDO_NODE_DESC_RSP, src, status, nwk);
  sim_znp_wr_u8(&w, d->logical); /* no complex or user descriptor */
  sim_znp_wr_u8(&w, 0x40);       /* APS flags 0, frequency band 2.4 GHz */
  sim_znp_wr_u8(&w, d->mac_cap);
  sim_znp_wr_u16(&w, d->manufacturer);
  sim_znp_wr_u8(&w, d->max_buf);
  sim_znp_wr_u16(&w, d->max_in);
  sim_znp_wr_u16(&w, d->server_mask);
  sim_znp_wr_u16(&w, d->max_out);
  sim_znp_wr_u8(&w, 0x00); /* descriptor capabilities */
}

void sim_znp_mt_tc_dev_ind(struct sim_znp_frame *f, uint16_t nwk, uint64_t ieee, uint16_t parent) {
  struct sim_znp_wr w;
  sim_znp_wr_start(&w, f, SIM_ZNP_AREQ, SIM_ZNP_ZDO, SIM_ZNP_ZDO_TC_DEV_IND);
  sim_znp_wr_u16(&w, nwk);
  sim_znp_wr_ieee(&w, ieee);
  sim_znp_wr_u16(&w, parent);
}

void sim_znp_mt_device_annce_ind(struct sim_znp_frame *f, uint16_t src, uint16_t nwk, uint64_t ieee,
                                 uint8_t capabilities) {
  struct sim_znp_wr w;
  sim_znp_wr_start(&w, f, SIM_ZNP_AREQ, SIM_ZNP_ZDO, SIM_ZNP_ZDO_END_DEVICE_ANNCE_IND);
  sim_znp_wr_u16(&w, src);
  sim_znp_wr_u16(&w, nwk);
  sim_znp_wr_ieee(&w, ieee);
  sim_znp_wr_u8(&w, capabilities);
}

void sim_znp_mt_permit_join_rsp(struct sim_znp_frame *f, uint16_t src, uint8_t status) {
  sim_znp_mt_zdo_status_ind(f, SIM_ZNP_ZDO_MGMT_PERMIT_JOIN_RSP, src, status);
}

void sim_znp_mt_zdo_status_ind(struct sim_znp_frame *f, uint8_t cmd, uint16_t src, uint8_t status) {
  struct sim_znp_wr w;
  sim_znp_wr_start(&w, f, SIM_ZNP_AREQ, SIM_ZNP_ZDO, cmd);
  sim_znp_wr_u16(&w, src);
  sim_znp_wr_u8(&w, status);
}

void sim_znp_mt_addr_rsp(struct sim_znp_frame *f, uint8_t cmd, uint8_t status, uint64_t ieee,
                         uint16_t nwk) {
  struct sim_znp_wr w;
  sim_znp_wr_start(&w, f, SIM_ZNP_AREQ, SIM_ZNP_ZDO, cmd);
  sim_znp_wr_u8(&w, status);
  sim_znp_wr_ieee(&w, ieee);
  sim_znp_wr_u16(&w, nwk);
  static const uint8_t no_assoc[2] = {0, 0}; /* start index 0, no associated devices listed */
  sim_znp_wr_bytes(&w, no_assoc, sizeof no_assoc);
}

void sim_znp_mt_leave_ind(struct sim_znp_frame *f, uint16_t src, uint64_t ieee, uint8_t rejoin) {
  /* The fields of ZDO_TC_DEV_IND with parent 0: the source, its IEEE address, then request 0
   * (the device's own announcement) and no children removed; then rejoin. */
  sim_znp_mt_tc_dev_ind(f, src, ieee, 0x0000);
  f->cmd = SIM_ZNP_ZDO_LEAVE_IND;
  f->data[f->len++] = rejoin;
}

void sim_znp_mt_permit_join_ind(struct sim_znp_frame *f, uint8_t duration) {
  frame_u8(f, SIM_ZNP_AREQ, SIM_ZNP_ZDO, SIM_ZNP_ZDO_PERMIT_JOIN_IND, duration);
}

void sim_znp_mt_bdb_notification(struct sim_znp_frame *f, uint8_t status, uint8_t mode,
                                 uint8_t remaining) {
  struct sim_znp_wr w;
  sim_znp_wr_start(&w, f, SIM_ZNP_AREQ, SIM_ZNP_APP_CNF,
                   SIM_ZNP_APP_CNF_BDB_COMMISSIONING_NOTIFICATION);
  sim_znp_wr_u8(&w, status);
  sim_znp_wr_u8(&w, mode);
  sim_znp_wr_u8(&w, remaining);
}

/* The head of a Mgmt_Lqi_rsp or Mgmt_Rtg_rsp: a failure carries only its status. */
static int table_rsp_head(struct sim_znp_wr *w, struct sim_znp_frame *f, uint8_t cmd, uint16_t src,
                          uint8_t status, uint8_t total, uint8_t start, size_t count) {
  sim_znp_wr_start(w, f, SIM_ZNP_AREQ, SIM_ZNP_ZDO, cmd);
  sim_znp_wr_u16(w, src);
  sim_znp_wr_u8(w, status);
  if (status != SIM_ZNP_ST_SUCCESS)
    return 0;
  sim_znp_wr_u8(w, total);
  sim_znp_wr_u8(w, start);
  sim_znp_wr_u8(w, (uint8_t)count);
  return 1;
}

void sim_znp_mt_lqi_rsp(struct sim_znp_frame *f, uint16_t src, uint8_t status, uint8_t total,
                        uint8_t start, const struct sim_znp_neighbor *n, size_t count) {
  assert(count <= SIM_ZNP_LQI_PAGE);
  struct sim_znp_wr w;
  if (!table_rsp_head(&w, f, SIM_ZNP_ZDO_MGMT_LQI_RSP, src, status, total, start, count))
    return;
  for (size_t i = 0; i < count; i++) {
    sim_znp_wr_ieee(&w, n[i].ext_pan);
    sim_znp_wr_ieee(&w, n[i].ieee);
    sim_znp_wr_u16(&w, n[i].nwk);
    sim_znp_wr_u8(&w, (uint8_t)((n[i].device_type & 0x03) | (n[i].rx_on & 0x03) << 2 |
                                (n[i].relationship & 0x07) << 4));
    sim_znp_wr_u8(&w, n[i].permit_join & 0x03);
    sim_znp_wr_u8(&w, n[i].depth);
    sim_znp_wr_u8(&w, n[i].lqi);
  }
}

void sim_znp_mt_rtg_rsp(struct sim_znp_frame *f, uint16_t src, uint8_t status, uint8_t total,
                        uint8_t start, const struct sim_znp_route *r, size_t count) {
  assert(count <= SIM_ZNP_RTG_PAGE);
  struct sim_znp_wr w;
  if (!table_rsp_head(&w, f, SIM_ZNP_ZDO_MGMT_RTG_RSP, src, status, total, start, count))
    return;
  for (size_t i = 0; i < count; i++) {
    sim_znp_wr_u16(&w, r[i].dst);
    sim_znp_wr_u8(&w, (uint8_t)((r[i].status & 0x07) | (r[i].many_to_one ? 0x10 : 0)));
    sim_znp_wr_u16(&w, r[i].next_hop);
  }
}
