/* The emulated ZNP coordinator: life cycle, frame dispatch, the SYS, UTIL and APP_CNF commands
 * and the network's formation (see coord.h). ZDO and AF are in coord_zdo.c.
 *
 * The version it reports is Z-Stack 3.x.0 (product 1), revision 20230507: zigbee-herdsman
 * treats that product as its best-supported one (16 requests in flight, BDB commissioning,
 * the extended NV tables), and from revision 20211029 on it leaves the LED to the firmware, so
 * a permit join sends no LED commands. */
#include "sim/znp/coord_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "sim/core/err.h"

static const struct sim_znp_version version = {
    .transport = 2, .product = 1, .major = 2, .minor = 7, .maint = 1, .revision = 20230507};

/* Capabilities of SYS_PING: the MT subsystems a Z-Stack 3.x.0 ZNP image is built with. */
#define PING_CAPABILITIES 0x0659

/* Z-Stack's default pre-configured network key (ZCD_NV_PRECFGKEY in a factory image). */
static const uint8_t default_key[16] = {0x01, 0x03, 0x05, 0x07, 0x09, 0x0B, 0x0D, 0x0F,
                                        0x00, 0x02, 0x04, 0x06, 0x08, 0x0A, 0x0C, 0x0D};

void sim__znp_emit(struct sim_znp_coord *c, const struct sim_znp_frame *f) {
  uint8_t out[SIM_ZNP_MAX_FRAME];
  size_t n = 0;
  if (sim_znp_frame_encode(f, out, sizeof out, &n) != 0 || c->send(c->send_ctx, out, n) != 0) {
    c->stats.send_errors++;
    return;
  }
  c->stats.frames_out++;
}

void sim__znp_status(struct sim_znp_coord *c, uint8_t subsys, uint8_t cmd, uint8_t status) {
  struct sim_znp_frame f;
  sim_znp_mt_status_rsp(&f, subsys, cmd, status);
  sim__znp_emit(c, &f);
}

static uint64_t le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

static void put_le(uint8_t *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

/* Saves NV; a failure is counted and logged, and the caller answers with a failure status. */
static int nv_save(struct sim_znp_coord *c) {
  int rc = sim_znp_nv_save(&c->nv);
  if (rc != 0) {
    c->stats.nv_errors++;
    SIM_LOGE("znp: cannot write the NV file '%s': %s", c->nv.path, sim_strerror(rc));
  }
  return rc;
}

int sim__znp_nv_save(struct sim_znp_coord *c) {
  return nv_save(c);
}

/* The items of a factory-new image that a host reads before it writes any. Existing items stay;
 * the IEEE address and the trust-centre link key seed are made once and kept across resets. */
static int nv_defaults(struct sim_znp_coord *c) {
  uint8_t b[SIM_ZNP_NWKKEY_LEN] = {0};
  if (!sim_znp_nv_get(&c->nv, SIM_ZNP_NV_EXTADDR)) {
    uint8_t r[4] = {0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
      return SIM_EIO;
    uint64_t ieee = 0x00124B0000000000ull | (uint64_t)r[0] << 24 | (uint64_t)r[1] << 16 |
                    (uint64_t)r[2] << 8 | r[3];
    put_le(b, ieee, 8);
    sim_znp_nv_set(&c->nv, SIM_ZNP_NV_EXTADDR, b, 8);
  }
  if (!sim_znp_nv_get(&c->nv, SIM_ZNP_NV_TCLK_SEED)) {
    uint8_t seed[16];
    if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed)
      return SIM_EIO;
    sim_znp_nv_set(&c->nv, SIM_ZNP_NV_TCLK_SEED, seed, sizeof seed);
  }
  const struct sim_znp_nv_item *ext = sim_znp_nv_get(&c->nv, SIM_ZNP_NV_EXTADDR);
  if (!ext || ext->len != 8)
    return SIM_EMALFORMED;
  c->ieee = le64(ext->data);
  uint8_t extb[8]; /* a copy: ext->data may move as items are added */
  memcpy(extb, ext->data, 8);
  memset(b, 0, sizeof b);
  struct {
    uint16_t id;
    const uint8_t *p;
    size_t n;
  } items[] = {
      {SIM_ZNP_NV_NWKKEY, b, SIM_ZNP_NWKKEY_LEN},
      {SIM_ZNP_NV_STARTUP_OPTION, b, 1},
      {SIM_ZNP_NV_LOGICAL_TYPE, b, 1},
      {SIM_ZNP_NV_ZDO_DIRECT_CB, b, 1},
      {SIM_ZNP_NV_PANID, (const uint8_t *)"\xff\xff", 2},
      {SIM_ZNP_NV_CHANLIST, (const uint8_t *)"\x00\x08\x00\x00", 4}, /* channel 11 */
      {SIM_ZNP_NV_EXTENDED_PAN_ID, extb, 8},
      {SIM_ZNP_NV_PRECFGKEY, default_key, 16},
      {SIM_ZNP_NV_PRECFGKEYS_ENABLE, b, 1},
  };
  for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
    if (sim_znp_nv_get(&c->nv, items[i].id))
      continue;
    int rc = sim_znp_nv_create(&c->nv, items[i].id, (uint16_t)items[i].n, items[i].p, items[i].n);
    if (rc != 0)
      return rc;
  }
  /* The device tables; a file written before they were kept gets empty ones. */
  return sim_znp_nv_get(&c->nv, SIM_ZNP_NV_APS_LINK_KEY_TABLE) ? 0 : sim__znp_tables_reset(c);
}

int sim_znp_coord_init(struct sim_znp_coord *c, const char *nv_path, sim_znp_send_fn send,
                       void *ctx, char *why, size_t cap) {
  assert(c && send && why && cap > 0);
  memset(c, 0, sizeof *c);
  c->send = send;
  c->send_ctx = ctx;
  c->version = version;
  c->state = SIM_ZNP_DEV_HOLD;
  sim_znp_reader_init(&c->rd);
  sim_rng_seed(&c->rng, 0x5A4E50, 1); /* ZNP: the devices' behaviour, the same every run */
  int rc = sim_znp_nv_open(&c->nv, nv_path, why, cap);
  if (rc != 0)
    return rc;
  rc = nv_defaults(c);
  if (rc != 0) {
    snprintf(why, cap, "its items are inconsistent (EXTADDR must be 8 bytes): %s",
             sim_strerror(rc));
    goto fail;
  }
  rc = sim_znp_nv_save(&c->nv);
  if (rc != 0) {
    snprintf(why, cap, "cannot write it: %s", sim_strerror(rc));
    goto fail;
  }
  return 0;
fail:
  sim_znp_nv_fini(&c->nv);
  return rc;
}

void sim_znp_coord_fini(struct sim_znp_coord *c) {
  if (!c)
    return;
  sim_znp_nv_fini(&c->nv);
  sim__znp_radio_fini(c);
  free(c->devs);
  c->devs = NULL;
  c->ndevs = c->cap_devs = 0;
}

void sim_znp_coord_reconnect(struct sim_znp_coord *c) {
  sim_znp_reader_init(&c->rd);
}

int sim_znp_coord_permit_open(const struct sim_znp_coord *c, uint64_t now_ms) {
  return c->permit_forever || now_ms < c->permit_until_ms;
}

/* ---- The network ---- */

int sim__znp_nwk_params(const struct sim_znp_coord *c, uint16_t *pan, uint8_t *channel,
                        uint64_t *ext_pan) {
  const struct sim_znp_nv_item *nib = sim_znp_nv_get(&c->nv, SIM_ZNP_NV_NIB);
  if (!nib || nib->len != SIM_ZNP_NIB_LEN)
    return SIM_ENOTFOUND;
  *channel = nib->data[22];
  *pan = (uint16_t)(nib->data[33] | nib->data[34] << 8);
  *ext_pan = le64(nib->data + 53);
  return 0;
}

/* An NV item of exactly n bytes, or NULL. */
static const uint8_t *nv_fixed(const struct sim_znp_coord *c, uint16_t id, size_t n) {
  const struct sim_znp_nv_item *it = sim_znp_nv_get(&c->nv, id);
  return it && it->len == n ? it->data : NULL;
}

/* Z-Stack's nwkIB_t, packed, for a coordinator that formed a network (field offsets follow
 * zigbee-herdsman's structs/entries/nib.ts, the same struct Z-Stack writes). */
static void build_nib(uint8_t nib[SIM_ZNP_NIB_LEN], uint16_t pan, uint8_t channel,
                      uint32_t chanmask, const uint8_t ext_pan[8], uint64_t ieee) {
  static const uint8_t head[20] = {0x00, 0x05, 0x02, 0x14, 0x0F, 0x10, 0x00, 0x1E, 0x00, 0x00,
                                   0x00, 0x01, 0x05, 0x01, 0x8F, 0x07, 0x00, 0x02, 0x05, 0x3C};
  memset(nib, 0, SIM_ZNP_NIB_LEN);
  memcpy(nib, head, sizeof head); /* timeouts, depth, security level 5, capabilities */
  nib[22] = channel;              /* nwkDevAddress 0x0000 at 20 */
  put_le(nib + 25, ieee, 8);      /* nwkCoordAddress 0x0000 at 23 */
  put_le(nib + 33, pan, 2);
  nib[35] = 0x08; /* nwkState: a running coordinator */
  put_le(nib + 36, chanmask, 4);
  nib[40] = 0x0F; /* beacon order: non-beacon network */
  nib[41] = 0x0F; /* superframe order */
  nib[42] = 0x04; /* scan duration */
  memcpy(nib + 53, ext_pan, 8);
  nib[61] = 1;    /* nwkKeyLoaded */
  nib[98] = 0x0F; /* link status period */
  nib[99] = 0x03; /* router age limit */
  nib[101] = 1;   /* many-to-one concentrator */
  nib[102] = 0x1E;
  nib[103] = 0x0F;
  nib[104] = 1;
}

/* Forms a network from the commissioning items a host wrote: PAN id (0xFFFF: pick one),
 * extended PAN id, channel (the BDB primary mask, else CHANLIST; the lowest channel in it),
 * network key (PRECFGKEY). Writes the NIB and the key items and saves NV. */
static int form_network(struct sim_znp_coord *c) {
  const uint8_t *p = nv_fixed(c, SIM_ZNP_NV_PANID, 2);
  uint16_t pan = p ? (uint16_t)(p[0] | p[1] << 8) : 0xFFFF;
  if (pan == 0xFFFF || pan == 0) {
    uint8_t r[2] = {0x1A, 0x62};
    if (getrandom(r, 2, 0) != 2)
      return SIM_EIO;
    pan = (uint16_t)(1 + ((r[0] | r[1] << 8) % 0xFFF0));
  }
  p = nv_fixed(c, SIM_ZNP_NV_CHANLIST, 4);
  uint32_t mask = c->bdb_primary;
  if (!mask && p)
    mask = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  mask &= 0x07FFF800u; /* channels 11..26 */
  uint8_t channel = 11;
  while (mask && !(mask & (1u << channel)))
    channel++;
  if (!mask)
    mask = 1u << 11;
  uint8_t ext_pan[8];
  p = nv_fixed(c, SIM_ZNP_NV_EXTENDED_PAN_ID, 8);
  if (p)
    memcpy(ext_pan, p, 8);
  else
    put_le(ext_pan, c->ieee, 8);
  const uint8_t *key = nv_fixed(c, SIM_ZNP_NV_PRECFGKEY, 16);
  if (!key)
    key = default_key;
  uint8_t nwkkey[SIM_ZNP_NWKKEY_LEN] = {0}; /* sequence 0, key, frame counter 0 */
  memcpy(nwkkey + 1, key, 16);
  uint8_t nib[SIM_ZNP_NIB_LEN];
  build_nib(nib, pan, channel, mask, ext_pan, c->ieee);
  int rc = sim_znp_nv_set(&c->nv, SIM_ZNP_NV_NWKKEY, nwkkey, sizeof nwkkey);
  if (rc == 0)
    rc = sim_znp_nv_set(&c->nv, SIM_ZNP_NV_NWK_ACTIVE_KEY_INFO, nwkkey, 17);
  if (rc == 0)
    rc = sim_znp_nv_set(&c->nv, SIM_ZNP_NV_NWK_ALTERN_KEY_INFO, nwkkey, 17);
  if (rc == 0)
    rc = sim_znp_nv_set(&c->nv, SIM_ZNP_NV_NIB, nib, sizeof nib);
  if (rc == 0)
    rc = nv_save(c);
  if (rc == 0)
    SIM_LOGI("znp: formed network PAN 0x%04x on channel %u", pan, channel);
  return rc;
}

int sim__znp_start_network(struct sim_znp_coord *c) {
  int formed = 0;
  if (!nv_fixed(c, SIM_ZNP_NV_NIB, SIM_ZNP_NIB_LEN)) {
    if (form_network(c) != 0)
      return SIM_EIO;
    formed = 1;
  }
  struct sim_znp_frame f;
  if (c->state != SIM_ZNP_DEV_ZB_COORD) {
    sim_znp_mt_state_change_ind(&f, SIM_ZNP_DEV_COORD_STARTING);
    sim__znp_emit(c, &f);
    c->state = SIM_ZNP_DEV_ZB_COORD;
    c->starts++;
  }
  sim_znp_mt_state_change_ind(&f, SIM_ZNP_DEV_ZB_COORD);
  sim__znp_emit(c, &f);
  return formed;
}

/* SYS_RESET_REQ: the startup options act (bit 1 clears the network state, bit 0 the
 * configuration, as ZCD_STARTOPT_DEFAULT_NETWORK_STATE / _CONFIG_STATE do) and are cleared;
 * run-time state goes; SYS_RESET_IND follows. */
static void reset(struct sim_znp_coord *c) {
  const uint8_t *opt = nv_fixed(c, SIM_ZNP_NV_STARTUP_OPTION, 1);
  uint8_t o = opt ? opt[0] : 0;
  if (o & 0x01) {
    /* Back to the factory items, except the device's identity. */
    for (size_t i = c->nv.n; i-- > 0;) {
      uint16_t id = c->nv.items[i].id;
      if (id != SIM_ZNP_NV_EXTADDR && id != SIM_ZNP_NV_TCLK_SEED)
        sim_znp_nv_delete(&c->nv, id);
    }
  }
  if (o & 0x02) {
    c->ndevs = 0; /* a new network knows none of the old one's devices */
    sim_znp_nv_delete(&c->nv, SIM_ZNP_NV_NIB);
    sim_znp_nv_delete(&c->nv, SIM_ZNP_NV_NWK_ACTIVE_KEY_INFO);
    sim_znp_nv_delete(&c->nv, SIM_ZNP_NV_NWK_ALTERN_KEY_INFO);
    sim_znp_nv_delete(&c->nv, SIM_ZNP_NV_NWKKEY);
  }
  if (o & 0x03) {
    sim_znp_nv_set(&c->nv, SIM_ZNP_NV_STARTUP_OPTION, (const uint8_t *)"", 1);
    if (sim__znp_tables_reset(c) != 0 || nv_defaults(c) != 0)
      c->stats.nv_errors++;
    nv_save(c);
  }
  sim__znp_reset_ram(c, 0x00);
}

void sim__znp_reset_ram(struct sim_znp_coord *c, uint8_t reason) {
  /* The firmware reads its IEEE address at boot: a host may have written another one (a
   * restored backup does). */
  const uint8_t *ext = nv_fixed(c, SIM_ZNP_NV_EXTADDR, 8);
  if (ext)
    c->ieee = le64(ext);
  c->state = SIM_ZNP_DEV_HOLD;
  c->neps = 0;
  c->ngroups = 0;
  c->nair = 0; /* the radio's queues live in RAM: held frames and frames in flight are gone */
  c->permit_forever = 0;
  c->permit_until_ms = 0;
  c->bdb_primary = c->bdb_secondary = 0;
  struct sim_znp_frame f;
  sim_znp_mt_reset_ind(&f, reason, &c->version);
  sim__znp_emit(c, &f);
}

/* ---- SYS: NV items ---- */

/* SYS_OSAL_NV_READ (offset u8) and SYS_OSAL_NV_READ_EXT (offset u16): what fits one answer. */
static enum sim__znp_handled nv_read(struct sim_znp_coord *c, const struct sim_znp_frame *f) {
  struct sim_znp_rd r;
  sim_znp_rd_init(&r, f);
  uint16_t id = sim_znp_rd_u16(&r);
  size_t off = f->cmd == SIM_ZNP_SYS_OSAL_NV_READ ? sim_znp_rd_u8(&r) : sim_znp_rd_u16(&r);
  if (r.err)
    return SIM__ZNP_MALFORMED;
  const struct sim_znp_nv_item *it = sim_znp_nv_get(&c->nv, id);
  struct sim_znp_frame out;
  if (!it)
    sim_znp_mt_nv_read_rsp(&out, f->cmd, SIM_ZNP_ST_NV_ITEM_UNINIT, NULL, 0);
  else if (off > it->len)
    sim_znp_mt_nv_read_rsp(&out, f->cmd, SIM_ZNP_ST_NV_OPER_FAILED, NULL, 0);
  else {
    size_t n = it->len - off;
    if (n > SIM_ZNP_MAX_DATA - 2)
      n = SIM_ZNP_MAX_DATA - 2;
    sim_znp_mt_nv_read_rsp(&out, f->cmd, SIM_ZNP_ST_SUCCESS, it->data + off, n);
  }
  sim__znp_emit(c, &out);
  return SIM__ZNP_DONE;
}

/* SYS_OSAL_NV_WRITE (offset u8, len u8) and SYS_OSAL_NV_WRITE_EXT (offset u16, len u16). */
static enum sim__znp_handled nv_write(struct sim_znp_coord *c, const struct sim_znp_frame *f) {
  struct sim_znp_rd r;
  sim_znp_rd_init(&r, f);
  uint16_t id = sim_znp_rd_u16(&r);
  int ext = f->cmd == SIM_ZNP_SYS_OSAL_NV_WRITE_EXT;
  size_t off = ext ? sim_znp_rd_u16(&r) : sim_znp_rd_u8(&r);
  size_t n = ext ? sim_znp_rd_u16(&r) : sim_znp_rd_u8(&r);
  const uint8_t *p = sim_znp_rd_bytes(&r, n);
  if (r.err)
    return SIM__ZNP_MALFORMED;
  int rc = sim_znp_nv_write(&c->nv, id, off, p, n);
  uint8_t st = rc == SIM_ENOTFOUND ? SIM_ZNP_ST_NV_ITEM_UNINIT
               : rc == SIM_ETOOBIG ? SIM_ZNP_ST_NV_BAD_ITEM_LEN
               : rc != 0           ? SIM_ZNP_ST_NV_OPER_FAILED
               : nv_save(c) != 0   ? SIM_ZNP_ST_NV_OPER_FAILED
                                   : SIM_ZNP_ST_SUCCESS;
  sim__znp_status(c, SIM_ZNP_SYS, f->cmd, st);
  return SIM__ZNP_DONE;
}

/* SYS_OSAL_NV_ITEM_INIT: NV_ITEM_UNINIT (0x09) when the item was created, SUCCESS when it
 * existed, as osal_nv_item_init() answers. */
static enum sim__znp_handled nv_init(struct sim_znp_coord *c, const struct sim_znp_frame *f) {
  struct sim_znp_rd r;
  sim_znp_rd_init(&r, f);
  uint16_t id = sim_znp_rd_u16(&r);
  uint16_t len = sim_znp_rd_u16(&r);
  uint8_t initlen = sim_znp_rd_u8(&r);
  const uint8_t *init = sim_znp_rd_bytes(&r, initlen);
  if (r.err || initlen > len)
    return SIM__ZNP_MALFORMED;
  int rc = sim_znp_nv_create(&c->nv, id, len, init, initlen);
  uint8_t st = rc == SIM_EEXISTS ? SIM_ZNP_ST_SUCCESS
               : rc != 0         ? SIM_ZNP_ST_NV_OPER_FAILED
               : nv_save(c) != 0 ? SIM_ZNP_ST_NV_OPER_FAILED
                                 : SIM_ZNP_ST_NV_ITEM_UNINIT;
  sim__znp_status(c, SIM_ZNP_SYS, f->cmd, st);
  return SIM__ZNP_DONE;
}

static enum sim__znp_handled nv_delete(struct sim_znp_coord *c, const struct sim_znp_frame *f) {
  struct sim_znp_rd r;
  sim_znp_rd_init(&r, f);
  uint16_t id = sim_znp_rd_u16(&r);
  uint16_t len = sim_znp_rd_u16(&r);
  if (r.err)
    return SIM__ZNP_MALFORMED;
  const struct sim_znp_nv_item *it = sim_znp_nv_get(&c->nv, id);
  uint8_t st = !it              ? SIM_ZNP_ST_NV_ITEM_UNINIT
               : it->len != len ? SIM_ZNP_ST_NV_BAD_ITEM_LEN
                                : SIM_ZNP_ST_SUCCESS;
  if (st == SIM_ZNP_ST_SUCCESS) {
    sim_znp_nv_delete(&c->nv, id);
    if (nv_save(c) != 0)
      st = SIM_ZNP_ST_NV_OPER_FAILED;
  }
  sim__znp_status(c, SIM_ZNP_SYS, f->cmd, st);
  return SIM__ZNP_DONE;
}

/* SYS_OSAL_NV_LENGTH: a legacy item's length, 0 when it does not exist. */
static enum sim__znp_handled nv_length(struct sim_znp_coord *c, const struct sim_znp_frame *f) {
  struct sim_znp_rd r;
  sim_znp_rd_init(&r, f);
  struct sim_znp_frame out;
  struct sim_znp_wr w;
  uint16_t id = sim_znp_rd_u16(&r);
  if (r.err)
    return SIM__ZNP_MALFORMED;
  const struct sim_znp_nv_item *it = sim_znp_nv_get(&c->nv, id);
  sim_znp_wr_start(&w, &out, SIM_ZNP_SRSP, SIM_ZNP_SYS, f->cmd);
  sim_znp_wr_u16(&w, it ? it->len : 0);
  sim__znp_emit(c, &out);
  return SIM__ZNP_DONE;
}

/* ---- SYS, UTIL, APP_CNF ---- */

static enum sim__znp_handled sys(struct sim_znp_coord *c, const struct sim_znp_frame *f) {
  struct sim_znp_frame out;
  switch (f->cmd) {
  case SIM_ZNP_SYS_PING:
    sim_znp_mt_ping_rsp(&out, PING_CAPABILITIES);
    break;
  case SIM_ZNP_SYS_VERSION:
    sim_znp_mt_version_rsp(&out, &c->version);
    break;
  case SIM_ZNP_SYS_GET_EXT_ADDR:
    sim_znp_mt_ext_addr_rsp(&out, c->ieee);
    break;
  case SIM_ZNP_SYS_STACK_TUNE: {
    /* Transmit power and the like: accepted, echoed, not modelled. */
    if (f->len < 2)
      return SIM__ZNP_MALFORMED;
    sim_znp_mt_status_rsp(&out, SIM_ZNP_SYS, f->cmd, f->data[1]);
    break;
  }
  case SIM_ZNP_SYS_OSAL_NV_READ:
  case SIM_ZNP_SYS_OSAL_NV_READ_EXT:
    return nv_read(c, f);
  case SIM_ZNP_SYS_OSAL_NV_WRITE:
  case SIM_ZNP_SYS_OSAL_NV_WRITE_EXT:
    return nv_write(c, f);
  case SIM_ZNP_SYS_OSAL_NV_ITEM_INIT:
    return nv_init(c, f);
  case SIM_ZNP_SYS_OSAL_NV_DELETE:
    return nv_delete(c, f);
  case SIM_ZNP_SYS_OSAL_NV_LENGTH:
    return nv_length(c, f);
  case SIM_ZNP_SYS_NV_CREATE:
  case SIM_ZNP_SYS_NV_DELETE:
  case SIM_ZNP_SYS_NV_LENGTH:
  case SIM_ZNP_SYS_NV_READ:
  case SIM_ZNP_SYS_NV_WRITE:
    return sim__znp_sys_nv(c, f);
  default:
    return SIM__ZNP_UNKNOWN;
  }
  sim__znp_emit(c, &out);
  return SIM__ZNP_DONE;
}

static enum sim__znp_handled util(struct sim_znp_coord *c, const struct sim_znp_frame *f) {
  struct sim_znp_frame out;
  switch (f->cmd) {
  case SIM_ZNP_UTIL_GET_DEVICE_INFO:
    sim_znp_mt_device_info_rsp(&out, c->ieee, c->state == SIM_ZNP_DEV_ZB_COORD ? 0x0000 : 0xFFFE,
                               c->state);
    break;
  case SIM_ZNP_UTIL_LED_CONTROL:
    if (f->len < 2)
      return SIM__ZNP_MALFORMED;
    sim_znp_mt_status_rsp(&out, SIM_ZNP_UTIL, f->cmd, SIM_ZNP_ST_SUCCESS);
    break;
  default:
    return SIM__ZNP_UNKNOWN;
  }
  sim__znp_emit(c, &out);
  return SIM__ZNP_DONE;
}

/* APP_CNF: the BDB channel masks, and commissioning. Formation (mode bit 0x04) forms or
 * restores the network; the SRSP goes first, then the state changes and the notification. */
static enum sim__znp_handled app_cnf(struct sim_znp_coord *c, const struct sim_znp_frame *f) {
  struct sim_znp_rd r;
  sim_znp_rd_init(&r, f);
  struct sim_znp_frame out;
  switch (f->cmd) {
  case SIM_ZNP_APP_CNF_BDB_SET_CHANNEL: {
    uint8_t primary = sim_znp_rd_u8(&r);
    uint32_t mask = sim_znp_rd_u32(&r);
    if (r.err)
      return SIM__ZNP_MALFORMED;
    if (primary)
      c->bdb_primary = mask;
    else
      c->bdb_secondary = mask;
    sim__znp_status(c, SIM_ZNP_APP_CNF, f->cmd, SIM_ZNP_ST_SUCCESS);
    return SIM__ZNP_DONE;
  }
  case SIM_ZNP_APP_CNF_BDB_START_COMMISSIONING: {
    uint8_t mode = sim_znp_rd_u8(&r);
    if (r.err)
      return SIM__ZNP_MALFORMED;
    sim__znp_status(c, SIM_ZNP_APP_CNF, f->cmd, SIM_ZNP_ST_SUCCESS);
    uint8_t status = 0; /* BDB_COMMISSIONING_SUCCESS */
    if ((mode & 0x04) && sim__znp_start_network(c) < 0)
      status = 0x08; /* BDB_COMMISSIONING_FORMATION_FAILURE */
    sim_znp_mt_bdb_notification(&out, status, mode & 0x04 ? 0x04 : mode, 0);
    sim__znp_emit(c, &out);
    return SIM__ZNP_DONE;
  }
  default:
    return SIM__ZNP_UNKNOWN;
  }
}

/* ---- Dispatch ---- */

static void log_once(struct sim_znp_coord *c, const struct sim_znp_frame *f, const char *what) {
  uint8_t *bits = &c->logged[f->subsys & 31][f->cmd >> 3];
  uint8_t bit = (uint8_t)(1u << (f->cmd & 7));
  if (*bits & bit)
    return;
  *bits |= bit;
  SIM_LOGW("znp: %s %s (subsystem %u) command 0x%02x: %s (logged once)",
           f->type == SIM_ZNP_SREQ   ? "SREQ"
           : f->type == SIM_ZNP_AREQ ? "AREQ"
                                     : "frame",
           sim_znp_subsys_name(f->subsys), f->subsys, f->cmd, what);
}

static void dispatch(struct sim_znp_coord *c, const struct sim_znp_frame *f) {
  enum sim__znp_handled h = SIM__ZNP_UNKNOWN;
  if (f->type == SIM_ZNP_AREQ) {
    /* The only AREQ a host sends a coordinator here is the reset. */
    if (f->subsys == SIM_ZNP_SYS && f->cmd == SIM_ZNP_SYS_RESET_REQ)
      reset(c);
    else
      log_once(c, f, "not served, ignored");
    return;
  }
  if (f->type != SIM_ZNP_SREQ) {
    log_once(c, f, "a host sends only SREQ and AREQ frames; ignored");
    return;
  }
  switch (f->subsys) {
  case SIM_ZNP_SYS:
    h = sys(c, f);
    break;
  case SIM_ZNP_UTIL:
    h = util(c, f);
    break;
  case SIM_ZNP_APP_CNF:
    h = app_cnf(c, f);
    break;
  case SIM_ZNP_ZDO:
    h = sim__znp_zdo(c, f);
    break;
  case SIM_ZNP_AF:
    h = sim__znp_af(c, f);
    break;
  default:
    break;
  }
  if (h == SIM__ZNP_DONE)
    return;
  /* Z-Stack's MT answers an SREQ it cannot serve with an RPC error SRSP (mt.c,
   * MT_BuildAndSendZToolResponse with MT_RPC_ERR_*) rather than silence, so the host's request
   * fails at once instead of timing out. */
  uint8_t cmd0 = (uint8_t)(f->type << 5 | f->subsys);
  struct sim_znp_frame out;
  if (h == SIM__ZNP_MALFORMED) {
    c->stats.malformed++;
    SIM_LOGW("znp: SREQ %s 0x%02x with a malformed payload of %u bytes: RPC length error",
             sim_znp_subsys_name(f->subsys), f->cmd, f->len);
    sim_znp_mt_rpc_error(&out, SIM_ZNP_RPC_ERR_LENGTH, cmd0, f->cmd);
  } else {
    c->stats.unsupported++;
    int known_subsys = f->subsys == SIM_ZNP_SYS || f->subsys == SIM_ZNP_UTIL ||
                       f->subsys == SIM_ZNP_APP_CNF || f->subsys == SIM_ZNP_ZDO ||
                       f->subsys == SIM_ZNP_AF;
    log_once(c, f, "not served, answered with an RPC error");
    sim_znp_mt_rpc_error(
        &out, known_subsys ? SIM_ZNP_RPC_ERR_COMMAND_ID : SIM_ZNP_RPC_ERR_SUBSYSTEM, cmd0, f->cmd);
  }
  sim__znp_emit(c, &out);
}

void sim_znp_coord_input(struct sim_znp_coord *c, const uint8_t *p, size_t n, uint64_t now_ms) {
  assert(c && (p || n == 0));
  c->now_ms = now_ms;
  struct sim_znp_frame f;
  for (;;) {
    const char *why = NULL;
    int rc = sim_znp_reader_next(&c->rd, &p, &n, &f, &why);
    if (rc == SIM_EAGAIN)
      return;
    if (rc != 0) {
      c->stats.bad_frames++;
      sim_log_limited(&c->bad_log, 10000, SIM_LOG_WARN, "znp: frame from the host dropped: %s",
                      why ? why : sim_strerror(rc));
      continue;
    }
    c->stats.frames_in++;
    dispatch(c, &f);
  }
}
