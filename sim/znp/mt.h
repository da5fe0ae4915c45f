/* Monitor-and-test (MT) commands of a Z-Stack ZNP coordinator: the subsystems and command ids,
 * the table of commands this emulator knows, a bounded reader and writer of MT payloads, and
 * the encoders and decoders of the commands it serves.
 *
 * Sources for the layouts: TI's "Z-Stack Monitor and Test API" (SWRA198) and the MT
 * definitions zigbee-herdsman's zstack adapter uses (src/adapter/z-stack/znp/definition.ts);
 * integers are little-endian, IEEE addresses 8 bytes least significant first.
 *
 * Pure functions; no allocation; any thread. */
#ifndef SIM_ZNP_MT_H
#define SIM_ZNP_MT_H

#include <stddef.h>
#include <stdint.h>

#include "sim/znp/unpi.h"

enum sim_znp_subsys {
  SIM_ZNP_RES0 = 0, /* RPC errors */
  SIM_ZNP_SYS = 1,
  SIM_ZNP_MAC = 2,
  SIM_ZNP_NWK = 3,
  SIM_ZNP_AF = 4,
  SIM_ZNP_ZDO = 5,
  SIM_ZNP_SAPI = 6,
  SIM_ZNP_UTIL = 7,
  SIM_ZNP_DEBUG = 8,
  SIM_ZNP_APP = 9,
  SIM_ZNP_APP_CNF = 15,
  SIM_ZNP_GP = 21,
};

/* Command ids (CMD1), by subsystem. */
enum {
  SIM_ZNP_SYS_RESET_REQ = 0x00, /* AREQ */
  SIM_ZNP_SYS_PING = 0x01,
  SIM_ZNP_SYS_VERSION = 0x02,
  SIM_ZNP_SYS_GET_EXT_ADDR = 0x04,
  SIM_ZNP_SYS_OSAL_NV_ITEM_INIT = 0x07,
  SIM_ZNP_SYS_OSAL_NV_READ = 0x08,
  SIM_ZNP_SYS_OSAL_NV_WRITE = 0x09,
  SIM_ZNP_SYS_STACK_TUNE = 0x0F,
  SIM_ZNP_SYS_OSAL_NV_DELETE = 0x12,
  SIM_ZNP_SYS_OSAL_NV_LENGTH = 0x13,
  SIM_ZNP_SYS_OSAL_NV_READ_EXT = 0x1C,
  SIM_ZNP_SYS_OSAL_NV_WRITE_EXT = 0x1D,
  SIM_ZNP_SYS_NV_CREATE = 0x30,
  SIM_ZNP_SYS_NV_DELETE = 0x31,
  SIM_ZNP_SYS_NV_LENGTH = 0x32,
  SIM_ZNP_SYS_NV_READ = 0x33,
  SIM_ZNP_SYS_NV_WRITE = 0x34,
  SIM_ZNP_SYS_RESET_IND = 0x80, /* AREQ */

  SIM_ZNP_AF_REGISTER = 0x00,
  SIM_ZNP_AF_DATA_REQUEST = 0x01,
  SIM_ZNP_AF_DATA_REQUEST_EXT = 0x02,
  SIM_ZNP_AF_DATA_CONFIRM = 0x80, /* AREQ */
  SIM_ZNP_AF_INCOMING_MSG = 0x81, /* AREQ */

  SIM_ZNP_ZDO_NWK_ADDR_REQ = 0x00,
  SIM_ZNP_ZDO_IEEE_ADDR_REQ = 0x01,
  SIM_ZNP_ZDO_NODE_DESC_REQ = 0x02,
  SIM_ZNP_ZDO_SIMPLE_DESC_REQ = 0x04,
  SIM_ZNP_ZDO_ACTIVE_EP_REQ = 0x05,
  SIM_ZNP_ZDO_BIND_REQ = 0x21,
  SIM_ZNP_ZDO_UNBIND_REQ = 0x22,
  SIM_ZNP_ZDO_MGMT_LQI_REQ = 0x31,
  SIM_ZNP_ZDO_MGMT_RTG_REQ = 0x32,
  SIM_ZNP_ZDO_MGMT_LEAVE_REQ = 0x34,
  SIM_ZNP_ZDO_MGMT_PERMIT_JOIN_REQ = 0x36,
  SIM_ZNP_ZDO_STARTUP_FROM_APP = 0x40,
  SIM_ZNP_ZDO_EXT_ROUTE_DISC = 0x45,
  SIM_ZNP_ZDO_EXT_FIND_GROUP = 0x4A,
  SIM_ZNP_ZDO_EXT_ADD_GROUP = 0x4B,
  SIM_ZNP_ZDO_EXT_NWK_INFO = 0x50,
  SIM_ZNP_ZDO_NWK_ADDR_RSP = 0x80,         /* AREQ */
  SIM_ZNP_ZDO_IEEE_ADDR_RSP = 0x81,        /* AREQ */
  SIM_ZNP_ZDO_NODE_DESC_RSP = 0x82,        /* AREQ */
  SIM_ZNP_ZDO_SIMPLE_DESC_RSP = 0x84,      /* AREQ */
  SIM_ZNP_ZDO_ACTIVE_EP_RSP = 0x85,        /* AREQ */
  SIM_ZNP_ZDO_BIND_RSP = 0xA1,             /* AREQ */
  SIM_ZNP_ZDO_UNBIND_RSP = 0xA2,           /* AREQ */
  SIM_ZNP_ZDO_MGMT_LQI_RSP = 0xB1,         /* AREQ */
  SIM_ZNP_ZDO_MGMT_RTG_RSP = 0xB2,         /* AREQ */
  SIM_ZNP_ZDO_MGMT_LEAVE_RSP = 0xB4,       /* AREQ */
  SIM_ZNP_ZDO_MGMT_PERMIT_JOIN_RSP = 0xB6, /* AREQ */
  SIM_ZNP_ZDO_STATE_CHANGE_IND = 0xC0,     /* AREQ */
  SIM_ZNP_ZDO_END_DEVICE_ANNCE_IND = 0xC1, /* AREQ */
  SIM_ZNP_ZDO_LEAVE_IND = 0xC9,            /* AREQ */
  SIM_ZNP_ZDO_TC_DEV_IND = 0xCA,           /* AREQ */
  SIM_ZNP_ZDO_PERMIT_JOIN_IND = 0xCB,      /* AREQ */

  SIM_ZNP_UTIL_GET_DEVICE_INFO = 0x00,
  SIM_ZNP_UTIL_LED_CONTROL = 0x0A,

  SIM_ZNP_APP_CNF_BDB_START_COMMISSIONING = 0x05,
  SIM_ZNP_APP_CNF_BDB_SET_CHANNEL = 0x08,
  SIM_ZNP_APP_CNF_BDB_COMMISSIONING_NOTIFICATION = 0x80, /* AREQ */
};

/* Status bytes (Z-Stack's ZStatus_t and NV codes) the emulator answers with. */
enum {
  SIM_ZNP_ST_SUCCESS = 0x00,
  SIM_ZNP_ST_FAILURE = 0x01,
  SIM_ZNP_ST_INVALID_PARAMETER = 0x02,
  SIM_ZNP_ST_NV_ITEM_UNINIT = 0x09,
  SIM_ZNP_ST_NV_OPER_FAILED = 0x0A,
  SIM_ZNP_ST_NV_BAD_ITEM_LEN = 0x0C,
  SIM_ZNP_ST_ZDP_NOT_ACTIVE = 0x83,
  SIM_ZNP_ST_APS_DUPLICATE_ENTRY = 0xB8,
  SIM_ZNP_ST_NWK_NO_ROUTE = 0xCD,
  SIM_ZNP_ST_MAC_NO_ACK = 0xE9,               /* no MAC ack after every retry */
  SIM_ZNP_ST_MAC_TRANSACTION_EXPIRED = 0xF0,  /* a sleepy child did not poll in time */
  SIM_ZNP_ST_MAC_TRANSACTION_OVERFLOW = 0xF1, /* the indirect queue is full */
};

/* RPC error codes of an SRSP in subsystem RES0, command 0 (MT_RPC_ERR_*). */
enum { SIM_ZNP_RPC_ERR_SUBSYSTEM = 1, SIM_ZNP_RPC_ERR_COMMAND_ID = 2, SIM_ZNP_RPC_ERR_LENGTH = 4 };

/* Device states of ZDO_STATE_CHANGE_IND and UTIL_GET_DEVICE_INFO (devStates_t). */
enum { SIM_ZNP_DEV_HOLD = 0, SIM_ZNP_DEV_COORD_STARTING = 8, SIM_ZNP_DEV_ZB_COORD = 9 };

/* A command the emulator knows: name for logs, and the type the host sends it as (SREQ or
 * AREQ) or the emulator emits it as. */
struct sim_znp_cmd_info {
  uint8_t subsys, cmd, type;
  const char *name;
};
/* The known command of that subsystem, id and type, or NULL. */
const struct sim_znp_cmd_info *sim_znp_mt_find(uint8_t subsys, uint8_t cmd, uint8_t type);
/* "SYS", "ZDO", ...; "?" for a number without a name. */
const char *sim_znp_subsys_name(uint8_t subsys);

/* A bounded reader of one frame's data: a short read sets err and yields zeros. */
struct sim_znp_rd {
  const uint8_t *p;
  size_t n, off;
  int err; /* 1 once a read went past the end */
};
void sim_znp_rd_init(struct sim_znp_rd *r, const struct sim_znp_frame *f);
uint8_t sim_znp_rd_u8(struct sim_znp_rd *r);
uint16_t sim_znp_rd_u16(struct sim_znp_rd *r);
uint32_t sim_znp_rd_u32(struct sim_znp_rd *r);
/* n bytes, borrowed from the frame; NULL (and err) when fewer are left. */
const uint8_t *sim_znp_rd_bytes(struct sim_znp_rd *r, size_t n);

/* A bounded writer into a frame: writing past SIM_ZNP_MAX_DATA sets err and drops the bytes. */
struct sim_znp_wr {
  struct sim_znp_frame *f;
  int err;
};
void sim_znp_wr_start(struct sim_znp_wr *w, struct sim_znp_frame *f, uint8_t type, uint8_t subsys,
                      uint8_t cmd);
void sim_znp_wr_u8(struct sim_znp_wr *w, uint8_t v);
void sim_znp_wr_u16(struct sim_znp_wr *w, uint16_t v);
void sim_znp_wr_u32(struct sim_znp_wr *w, uint32_t v);
void sim_znp_wr_bytes(struct sim_znp_wr *w, const uint8_t *p, size_t n);
/* ieee is the 64-bit address; written least significant byte first. */
void sim_znp_wr_ieee(struct sim_znp_wr *w, uint64_t ieee);

/* ---- Encoders: each fills *f whole. ---- */

struct sim_znp_version {
  uint8_t transport, product, major, minor, maint;
  uint32_t revision;
};
/* SRSP with a single status byte (most SREQs of SYS, AF, ZDO, UTIL and APP_CNF answer so). */
void sim_znp_mt_status_rsp(struct sim_znp_frame *f, uint8_t subsys, uint8_t cmd, uint8_t status);
/* SRSP RES0/0 for a request the firmware cannot serve: code, then the request's CMD0, CMD1. */
void sim_znp_mt_rpc_error(struct sim_znp_frame *f, uint8_t code, uint8_t req_cmd0,
                          uint8_t req_cmd1);
void sim_znp_mt_ping_rsp(struct sim_znp_frame *f, uint16_t capabilities);
void sim_znp_mt_version_rsp(struct sim_znp_frame *f, const struct sim_znp_version *v);
void sim_znp_mt_ext_addr_rsp(struct sim_znp_frame *f, uint64_t ieee);
/* SYS_RESET_IND: reason (0 power-up, 1 external, 2 watchdog), then the version's numbers. */
void sim_znp_mt_reset_ind(struct sim_znp_frame *f, uint8_t reason, const struct sim_znp_version *v);
void sim_znp_mt_state_change_ind(struct sim_znp_frame *f, uint8_t state);
void sim_znp_mt_device_info_rsp(struct sim_znp_frame *f, uint64_t ieee, uint16_t nwk,
                                uint8_t state);
struct sim_znp_nwk_info {
  uint16_t nwk, pan, parent;
  uint8_t state, channel;
  uint64_t ext_pan, parent_ieee;
};
void sim_znp_mt_ext_nwk_info_rsp(struct sim_znp_frame *f, const struct sim_znp_nwk_info *i);
/* SYS_OSAL_NV_READ(_EXT) and SYS_NV_READ answers: status, len, value. n <= 248. */
void sim_znp_mt_nv_read_rsp(struct sim_znp_frame *f, uint8_t cmd, uint8_t status, const uint8_t *p,
                            size_t n);

/* An application endpoint as AF_REGISTER gives it and ZDO_SIMPLE_DESC_RSP returns it. The
 * cluster lists are bounded so that the simple descriptor answer fits one frame:
 * 16 + 2 * (nin + nout) <= 250. */
#define SIM_ZNP_EP_MAX_CLUSTERS 117
struct sim_znp_ep {
  uint8_t ep, version, latency;
  uint16_t profile, device;
  uint8_t nin, nout;
  uint16_t in[SIM_ZNP_EP_MAX_CLUSTERS], out[SIM_ZNP_EP_MAX_CLUSTERS];
};
/* AF_REGISTER request data into *ep: 0, SIM_EMALFORMED (short or trailing bytes) or SIM_ETOOBIG
 * (more clusters than a simple descriptor answer can carry). */
int sim_znp_mt_parse_af_register(const struct sim_znp_frame *f, struct sim_znp_ep *ep);

/* AF_DATA_REQUEST and AF_DATA_REQUEST_EXT, the same fields. Address modes (afAddrMode_t):
 * 1 group, 2 16-bit, 3 64-bit, 15 broadcast; AF_DATA_REQUEST is always 16-bit. */
struct sim_znp_af_req {
  uint8_t mode;
  uint64_t dst; /* 16-bit address, group, or IEEE address */
  uint8_t dst_ep, src_ep;
  uint16_t dst_pan, cluster;
  uint8_t transid, options, radius;
  uint16_t len;
  const uint8_t *data; /* borrowed from the frame */
};
/* 0 or SIM_EMALFORMED (short, or len disagrees with the bytes that follow). */
int sim_znp_mt_parse_af_data(const struct sim_znp_frame *f, struct sim_znp_af_req *req);
/* AF_DATA_CONFIRM: status, source endpoint, transaction id. */
void sim_znp_mt_af_data_confirm(struct sim_znp_frame *f, uint8_t status, uint8_t ep,
                                uint8_t transid);

/* AF_INCOMING_MSG: a frame from a device to one of the coordinator's endpoints. */
struct sim_znp_af_in {
  uint16_t group, cluster, src;
  uint8_t src_ep, dst_ep, broadcast, lqi, security;
  uint32_t timestamp;
  uint8_t trans_seq;
  const uint8_t *data; /* borrowed */
  size_t len;
};
/* The largest data AF_INCOMING_MSG carries in one frame (250 less its 17 bytes of fields). */
#define SIM_ZNP_AF_IN_MAX 233
/* 0, or SIM_ETOOBIG above SIM_ZNP_AF_IN_MAX (the frame is left unwritten). */
int sim_znp_mt_af_incoming(struct sim_znp_frame *f, const struct sim_znp_af_in *in);

/* ZDO answers (AREQ): source address, then the ZDP response payload. */
void sim_znp_mt_active_ep_rsp(struct sim_znp_frame *f, uint16_t src, uint8_t status, uint16_t nwk,
                              const uint8_t *eps, size_t n);
/* ep NULL: a failure status with an empty descriptor. */
void sim_znp_mt_simple_desc_rsp(struct sim_znp_frame *f, uint16_t src, uint8_t status, uint16_t nwk,
                                const struct sim_znp_ep *ep);
/* A node descriptor (Zigbee 2.3.2.3): 13 bytes on the wire. */
struct sim_znp_node_desc {
  uint8_t logical; /* 0 coordinator, 1 router, 2 end device */
  uint8_t mac_cap; /* MAC capability flags, as in the device announcement */
  uint16_t manufacturer;
  uint8_t max_buf;
  uint16_t max_in, server_mask, max_out;
};
void sim_znp_mt_node_desc_rsp(struct sim_znp_frame *f, uint16_t src, uint8_t status, uint16_t nwk,
                              const struct sim_znp_node_desc *d);
/* ZDO_TC_DEV_IND: a device joined through parent. */
void sim_znp_mt_tc_dev_ind(struct sim_znp_frame *f, uint16_t nwk, uint64_t ieee, uint16_t parent);
/* ZDO_END_DEVICE_ANNCE_IND: source, the announced address, IEEE address, capabilities. */
void sim_znp_mt_device_annce_ind(struct sim_znp_frame *f, uint16_t src, uint16_t nwk, uint64_t ieee,
                                 uint8_t capabilities);
void sim_znp_mt_permit_join_rsp(struct sim_znp_frame *f, uint16_t src, uint8_t status);
/* A ZDO answer that is only the source address and a status (AREQ cmd: ZDO_BIND_RSP,
 * ZDO_UNBIND_RSP, ZDO_MGMT_LEAVE_RSP, ZDO_MGMT_PERMIT_JOIN_RSP). */
void sim_znp_mt_zdo_status_ind(struct sim_znp_frame *f, uint8_t cmd, uint16_t src, uint8_t status);
/* ZDO_NWK_ADDR_RSP or ZDO_IEEE_ADDR_RSP (cmd): status, IEEE address, network address, then, in
 * Z-Stack's order, start index and the number of associated devices (none listed). */
void sim_znp_mt_addr_rsp(struct sim_znp_frame *f, uint8_t cmd, uint8_t status, uint64_t ieee,
                         uint16_t nwk);
/* ZDO_LEAVE_IND: the device src (ieee) left; request 0: it announced its leaving. */
void sim_znp_mt_leave_ind(struct sim_znp_frame *f, uint16_t src, uint64_t ieee, uint8_t rejoin);
void sim_znp_mt_permit_join_ind(struct sim_znp_frame *f, uint8_t duration);
/* A neighbour table entry of Mgmt_Lqi_rsp (Zigbee 2.4.4.4.2): 22 bytes on the wire. */
struct sim_znp_neighbor {
  uint64_t ext_pan, ieee;
  uint16_t nwk;
  uint8_t device_type;  /* 0 coordinator, 1 router, 2 end device */
  uint8_t rx_on;        /* 0 off when idle, 1 on, 2 unknown */
  uint8_t relationship; /* 0 parent, 1 child, 2 sibling, 3 none, 4 previous child */
  uint8_t permit_join;  /* 0 no, 1 yes, 2 unknown */
  uint8_t depth, lqi;
};
/* A routing table entry of Mgmt_Rtg_rsp: 5 bytes. status: 0 active ... 4 inactive. */
struct sim_znp_route {
  uint16_t dst;
  uint8_t status, many_to_one;
  uint16_t next_hop;
};
/* The most entries one answer carries: the page a host asks for with its start index. */
#define SIM_ZNP_LQI_PAGE 3
#define SIM_ZNP_RTG_PAGE 10
/* ZDO_MGMT_LQI_RSP: source, status, the table's entries, start index, then n entries (at most
 * SIM_ZNP_LQI_PAGE; none unless status is 0). */
void sim_znp_mt_lqi_rsp(struct sim_znp_frame *f, uint16_t src, uint8_t status, uint8_t total,
                        uint8_t start, const struct sim_znp_neighbor *n, size_t count);
/* ZDO_MGMT_RTG_RSP: the same with routes (at most SIM_ZNP_RTG_PAGE). */
void sim_znp_mt_rtg_rsp(struct sim_znp_frame *f, uint16_t src, uint8_t status, uint8_t total,
                        uint8_t start, const struct sim_znp_route *r, size_t count);

/* APP_CNF_BDB_COMMISSIONING_NOTIFICATION: status, mode, remaining modes. */
void sim_znp_mt_bdb_notification(struct sim_znp_frame *f, uint8_t status, uint8_t mode,
                                 uint8_t remaining);

#endif
