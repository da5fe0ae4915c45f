/* The NV tables that hold a Z-Stack 3.x.0 coordinator's devices (see coord.h): the address
 * manager table, the trust-centre link key (TCLK) table, the APS link key data table and the
 * network security material table, extended items of system ZSTACK with one entry per sub id;
 * and the security manager table, a legacy item. A real coordinator writes a device's entries
 * when it joins and empties them when it leaves, and a host reads them for its backup and
 * writes them back to restore one (zigbee-herdsman's adapter-backup), so the layouts are
 * Z-Stack's, packed as on the CC253x builds whose NWKKEY is 21 bytes.
 *
 * Only the entries that differ from an empty one are stored in the NV file; the tables keep
 * their capacity whatever the host does, as on the firmware, where they are created whole. */
#include "sim/znp/coord_internal.h"

#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"
#include "sim/core/hash.h"
#include "sim/core/log.h"

#define ADDRMGR_LEN 11 /* user, network address, IEEE address */
#define TCLK_LEN 19    /* tx and rx frame counters, IEEE address, attributes, type, seed shift */
#define APS_KEY_LEN 24 /* key, tx and rx frame counters */
#define SEC_MAT_LEN 12 /* frame counter, extended PAN id */
#define SECMGR_ENTRY_LEN 5

/* Address manager users (AddrMgr.h): a child that associated with us, and one with a key. */
#define ADDRMGR_USER_ASSOC 0x01
#define ADDRMGR_USER_SECURITY 0x02
/* TCLK key attributes (ZDSecMgr): a device of a Zigbee PRO release before R21 that joined with
 * the default link key; the catalogue's devices are such devices. */
#define TCLK_NON_R21_JOINED 0x03

struct xtable {
  uint16_t item, cap;
  uint8_t len;
  uint8_t empty[APS_KEY_LEN]; /* an entry nobody uses */
};

static const struct xtable xtables[] = {
    /* user 0, network address 0xFFFF, IEEE address all ones */
    {SIM_ZNP_NVX_ADDRMGR,
     SIM_ZNP_ADDRMGR_CAP,
     ADDRMGR_LEN,
     {0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
    {SIM_ZNP_NVX_TCLK_TABLE, SIM_ZNP_TCLK_CAP, TCLK_LEN, {0}},
    {SIM_ZNP_NVX_APS_KEY_DATA_TABLE, SIM_ZNP_APS_KEY_CAP, APS_KEY_LEN, {0}},
    {SIM_ZNP_NVX_NWK_SEC_MATERIAL_TABLE, SIM_ZNP_SEC_MATERIAL_CAP, SEC_MAT_LEN, {0}},
};

static const struct xtable *xtable_of(uint8_t sys, uint16_t item, uint16_t sub) {
  if (sys != SIM_ZNP_NV_SYS_ZSTACK)
    return NULL;
  for (size_t i = 0; i < sizeof xtables / sizeof xtables[0]; i++)
    if (xtables[i].item == item)
      return sub < xtables[i].cap ? &xtables[i] : NULL;
  return NULL;
}

/* An extended item as the host sees it: a table entry (stored, or empty), a legacy item
 * reached through item 0, or a stored item. */
struct xview {
  const uint8_t *data;
  size_t len;
  const struct xtable *t; /* the table of a table entry */
  int legacy;             /* a legacy item */
};

static int xlookup(const struct sim_znp_coord *c, uint8_t sys, uint16_t item, uint16_t sub,
                   struct xview *v) {
  memset(v, 0, sizeof *v);
  if (sys == SIM_ZNP_NV_SYS_ZSTACK && item == SIM_ZNP_NVX_LEGACY) {
    const struct sim_znp_nv_item *it = sim_znp_nv_get(&c->nv, sub);
    if (!it)
      return SIM_ENOTFOUND;
    *v = (struct xview){.data = it->data, .len = it->len, .legacy = 1};
    return 0;
  }
  const struct sim_znp_nv_xitem *x = sim_znp_nv_xget(&c->nv, sys, item, sub);
  v->t = xtable_of(sys, item, sub);
  if (v->t && (!x || x->len != v->t->len)) {
    v->data = v->t->empty;
    v->len = v->t->len;
    return 0;
  }
  if (!x)
    return SIM_ENOTFOUND;
  v->data = x->data;
  v->len = x->len;
  return 0;
}

/* Stores a table entry or an item; a table entry equal to the empty one is not kept. */
static int xstore(struct sim_znp_coord *c, uint8_t sys, uint16_t item, uint16_t sub,
                  const struct xview *v, const uint8_t *p, size_t n) {
  if (v->legacy)
    return sim_znp_nv_set(&c->nv, sub, p, n);
  if (v->t && n == v->t->len && memcmp(p, v->t->empty, n) == 0) {
    sim_znp_nv_xdelete(&c->nv, sys, item, sub);
    return 0;
  }
  return sim_znp_nv_xset(&c->nv, sys, item, sub, p, n);
}

/* SYS_NV_READ: system, item, sub id, offset (u16), length (u8) → status, length, value. */
static void nv_read(struct sim_znp_coord *c, const struct xview *v, int found, size_t off,
                    size_t n) {
  struct sim_znp_frame out;
  if (!found)
    sim_znp_mt_nv_read_rsp(&out, SIM_ZNP_SYS_NV_READ, SIM_ZNP_ST_NV_ITEM_UNINIT, NULL, 0);
  else if (off > v->len || n > v->len - off || n > SIM_ZNP_MAX_DATA - 2)
    sim_znp_mt_nv_read_rsp(&out, SIM_ZNP_SYS_NV_READ, SIM_ZNP_ST_NV_BAD_ITEM_LEN, NULL, 0);
  else
    sim_znp_mt_nv_read_rsp(&out, SIM_ZNP_SYS_NV_READ, SIM_ZNP_ST_SUCCESS, v->data + off, n);
  sim__znp_emit(c, &out);
}

/* SYS_NV_WRITE: ... offset (u16), length (u8), value, within the item's length. */
static uint8_t nv_write(struct sim_znp_coord *c, uint8_t sys, uint16_t item, uint16_t sub,
                        const struct xview *v, size_t off, const uint8_t *p, size_t n) {
  if (off > v->len || n > v->len - off)
    return SIM_ZNP_ST_NV_BAD_ITEM_LEN;
  uint8_t buf[SIM_ZNP_NV_MAX_LEN];
  if (v->len > sizeof buf)
    return SIM_ZNP_ST_NV_OPER_FAILED;
  size_t len = v->len;
  if (len > 0)
    memcpy(buf, v->data, len);
  if (n > 0)
    memcpy(buf + off, p, n);
  if (len == 0 || memcmp(buf, v->data, len) == 0)
    return SIM_ZNP_ST_SUCCESS; /* as it was: a restore rewrites every entry, most unchanged */
  if (xstore(c, sys, item, sub, v, buf, len) != 0 || sim__znp_nv_save(c) != 0)
    return SIM_ZNP_ST_NV_OPER_FAILED;
  return SIM_ZNP_ST_SUCCESS;
}

/* SYS_NV_CREATE (..., length u32): an item of zeros; one that exists with that length stays
 * (every table entry exists already). SYS_NV_DELETE: a table entry is emptied, an item goes. */
static uint8_t nv_create_delete(struct sim_znp_coord *c, uint8_t cmd, uint8_t sys, uint16_t item,
                                uint16_t sub, const struct xview *v, int found, uint32_t len) {
  int rc;
  if (cmd == SIM_ZNP_SYS_NV_CREATE) {
    if (found)
      return v->len == len ? SIM_ZNP_ST_SUCCESS : SIM_ZNP_ST_NV_BAD_ITEM_LEN;
    int legacy = sys == SIM_ZNP_NV_SYS_ZSTACK && item == SIM_ZNP_NVX_LEGACY;
    if (len > (legacy ? SIM_ZNP_NV_MAX_LEN : SIM_ZNP_NV_MAX_XLEN))
      return SIM_ZNP_ST_NV_BAD_ITEM_LEN;
    if (legacy)
      rc = sim_znp_nv_create(&c->nv, sub, (uint16_t)len, NULL, 0);
    else {
      uint8_t zeros[SIM_ZNP_NV_MAX_XLEN] = {0};
      rc = sim_znp_nv_xset(&c->nv, sys, item, sub, zeros, len);
    }
  } else {
    if (!found)
      return SIM_ZNP_ST_NV_ITEM_UNINIT;
    if (v->legacy)
      rc = sim_znp_nv_delete(&c->nv, sub);
    else {
      rc = sim_znp_nv_xdelete(&c->nv, sys, item, sub);
      rc = rc == SIM_ENOTFOUND && v->t ? 0 : rc; /* an empty entry stays empty */
    }
  }
  if (rc != 0 || sim__znp_nv_save(c) != 0)
    return SIM_ZNP_ST_NV_OPER_FAILED;
  return SIM_ZNP_ST_SUCCESS;
}

enum sim__znp_handled sim__znp_sys_nv(struct sim_znp_coord *c, const struct sim_znp_frame *f) {
  struct sim_znp_rd r;
  sim_znp_rd_init(&r, f);
  uint8_t sys = sim_znp_rd_u8(&r);
  uint16_t item = sim_znp_rd_u16(&r);
  uint16_t sub = sim_znp_rd_u16(&r);
  uint32_t len = 0;
  size_t off = 0;
  const uint8_t *p = NULL;
  if (f->cmd == SIM_ZNP_SYS_NV_CREATE)
    len = sim_znp_rd_u32(&r);
  if (f->cmd == SIM_ZNP_SYS_NV_READ || f->cmd == SIM_ZNP_SYS_NV_WRITE) {
    off = sim_znp_rd_u16(&r);
    len = sim_znp_rd_u8(&r);
  }
  if (f->cmd == SIM_ZNP_SYS_NV_WRITE)
    p = sim_znp_rd_bytes(&r, len);
  if (r.err || r.off != f->len)
    return SIM__ZNP_MALFORMED;
  struct xview v;
  int found = xlookup(c, sys, item, sub, &v) == 0;
  struct sim_znp_frame out;
  struct sim_znp_wr w;
  switch (f->cmd) {
  case SIM_ZNP_SYS_NV_LENGTH:
    sim_znp_wr_start(&w, &out, SIM_ZNP_SRSP, SIM_ZNP_SYS, f->cmd);
    sim_znp_wr_u32(&w, found ? (uint32_t)v.len : 0);
    sim__znp_emit(c, &out);
    break;
  case SIM_ZNP_SYS_NV_READ:
    nv_read(c, &v, found, off, len);
    break;
  case SIM_ZNP_SYS_NV_WRITE:
    sim__znp_status(c, SIM_ZNP_SYS, f->cmd,
                    found ? nv_write(c, sys, item, sub, &v, off, p, len)
                          : SIM_ZNP_ST_NV_ITEM_UNINIT);
    break;
  default:
    sim__znp_status(c, SIM_ZNP_SYS, f->cmd,
                    nv_create_delete(c, f->cmd, sys, item, sub, &v, found, len));
    break;
  }
  return SIM__ZNP_DONE;
}

/* ---- Joined devices ---- */

static uint64_t get_le(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

static void set_le(uint8_t *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

/* The entry of table t (by item) that holds ieee at offset at, else the first one free (as
 * free says), else -1. */
static int entry_for(const struct sim_znp_coord *c, uint16_t item, size_t at, uint64_t ieee,
                     int (*is_free)(const uint8_t *e)) {
  int free_at = -1;
  const struct xtable *t = xtable_of(SIM_ZNP_NV_SYS_ZSTACK, item, 0);
  for (uint16_t i = 0; t && i < t->cap; i++) {
    struct xview v;
    xlookup(c, SIM_ZNP_NV_SYS_ZSTACK, item, i, &v);
    if (is_free(v.data)) {
      if (free_at < 0)
        free_at = i;
    } else if (get_le(v.data + at, 8) == ieee)
      return i;
  }
  return free_at;
}

/* As zigbee-herdsman's occupancy tests: an address manager entry is used when its user is set
 * and its IEEE address is neither all zeros nor all ones; a TCLK entry when its address is not
 * all zeros. */
static int addrmgr_free(const uint8_t *e) {
  uint64_t ieee = get_le(e + 3, 8);
  return e[0] == 0 || ieee == 0 || ieee == UINT64_MAX;
}

static int tclk_free(const uint8_t *e) {
  return get_le(e + 8, 8) == 0;
}

/* Writes entry sub of table item (p: ADDRMGR_LEN or TCLK_LEN bytes); 1 when it changed. */
static int put_entry(struct sim_znp_coord *c, uint16_t item, int sub, const uint8_t *p) {
  struct xview v;
  xlookup(c, SIM_ZNP_NV_SYS_ZSTACK, item, (uint16_t)sub, &v);
  if (memcmp(v.data, p, v.len) == 0)
    return 0;
  if (xstore(c, SIM_ZNP_NV_SYS_ZSTACK, item, (uint16_t)sub, &v, p, v.len) != 0)
    c->stats.nv_errors++;
  return 1;
}

void sim__znp_tables_joined(struct sim_znp_coord *c, const struct sim_znp_dev *d) {
  int a = entry_for(c, SIM_ZNP_NVX_ADDRMGR, 3, d->ieee, addrmgr_free);
  int k = entry_for(c, SIM_ZNP_NVX_TCLK_TABLE, 8, d->ieee, tclk_free);
  if (a < 0 || k < 0) {
    if (c->stats.table_full++ == 0)
      SIM_LOGW("znp: device %016llx joined, but the NV address manager or TCLK table is full "
               "(%d entries): it is not kept across a restart",
               (unsigned long long)d->ieee, SIM_ZNP_ADDRMGR_CAP);
    return;
  }
  uint8_t am[ADDRMGR_LEN];
  am[0] = ADDRMGR_USER_ASSOC | ADDRMGR_USER_SECURITY;
  set_le(am + 1, d->nwk, 2);
  set_le(am + 3, d->ieee, 8);
  /* Frame counters from 0; the seed shift is the device's own, drawn from its address. */
  uint8_t tk[TCLK_LEN] = {0};
  set_le(tk + 8, d->ieee, 8);
  tk[16] = TCLK_NON_R21_JOINED;
  tk[18] = (uint8_t)(sim_hash_mix64(d->ieee) & 0x0F);
  int changed = put_entry(c, SIM_ZNP_NVX_ADDRMGR, a, am);
  changed |= put_entry(c, SIM_ZNP_NVX_TCLK_TABLE, k, tk);
  if (changed)
    sim__znp_nv_save(c);
}

void sim__znp_tables_left(struct sim_znp_coord *c, uint64_t ieee) {
  int changed = 0;
  int a = entry_for(c, SIM_ZNP_NVX_ADDRMGR, 3, ieee, addrmgr_free);
  struct xview v;
  if (a >= 0 && xlookup(c, SIM_ZNP_NV_SYS_ZSTACK, SIM_ZNP_NVX_ADDRMGR, (uint16_t)a, &v) == 0 &&
      !addrmgr_free(v.data))
    changed |= put_entry(c, SIM_ZNP_NVX_ADDRMGR, a, xtables[0].empty);
  int k = entry_for(c, SIM_ZNP_NVX_TCLK_TABLE, 8, ieee, tclk_free);
  if (k >= 0 && xlookup(c, SIM_ZNP_NV_SYS_ZSTACK, SIM_ZNP_NVX_TCLK_TABLE, (uint16_t)k, &v) == 0 &&
      !tclk_free(v.data))
    changed |= put_entry(c, SIM_ZNP_NVX_TCLK_TABLE, k, xtables[1].empty);
  if (changed)
    sim__znp_nv_save(c);
}

int sim__znp_tables_reset(struct sim_znp_coord *c) {
  sim_znp_nv_xclear(&c->nv);
  sim_znp_nv_delete(&c->nv, SIM_ZNP_NV_APS_LINK_KEY_TABLE);
  /* The security manager table: a count of used entries (u16), then entries of an address
   * manager index, a key NV id and an authentication option; 0xFFFE: no device. */
  uint8_t t[2 + SIM_ZNP_APS_KEY_CAP * SECMGR_ENTRY_LEN] = {0};
  for (size_t i = 0; i < SIM_ZNP_APS_KEY_CAP; i++) {
    t[2 + i * SECMGR_ENTRY_LEN] = 0xFE;
    t[3 + i * SECMGR_ENTRY_LEN] = 0xFF;
  }
  return sim_znp_nv_create(&c->nv, SIM_ZNP_NV_APS_LINK_KEY_TABLE, sizeof t, t, sizeof t);
}

/* The network address the address manager table gives ieee, or -1 when it lists no such
 * device. */
static int listed_nwk(const struct sim_znp_coord *c, uint64_t ieee) {
  int a = entry_for(c, SIM_ZNP_NVX_ADDRMGR, 3, ieee, addrmgr_free);
  struct xview v;
  if (a < 0 || xlookup(c, SIM_ZNP_NV_SYS_ZSTACK, SIM_ZNP_NVX_ADDRMGR, (uint16_t)a, &v) != 0 ||
      addrmgr_free(v.data))
    return -1;
  return (int)get_le(v.data + 1, 2);
}

int sim_znp_coord_resume(struct sim_znp_coord *c, const struct sim_model *m, uint64_t ieee,
                         uint64_t now_ms) {
  if (c->state != SIM_ZNP_DEV_ZB_COORD)
    return SIM_EUNEXPECTED;
  if (sim__znp_dev_by_ieee(c, ieee))
    return 0;
  int nwk = listed_nwk(c, ieee);
  if (nwk < 0 || nwk >= 0xFFF8 || nwk == 0 || sim_znp_coord_device(c, (uint16_t)nwk))
    return SIM_ENOTFOUND;
  if (c->ndevs >= SIM_ZNP_MAX_DEVICES)
    return SIM_EFULL;
  if (c->ndevs >= c->cap_devs) {
    size_t want = c->cap_devs < 16 ? 16 : c->cap_devs * 2;
    struct sim_znp_dev *grown = realloc(c->devs, want * sizeof *grown);
    if (!grown)
      return SIM_ENOMEM;
    c->devs = grown;
    c->cap_devs = want;
  }
  c->now_ms = now_ms;
  struct sim_znp_dev *d = &c->devs[c->ndevs++];
  int idx = sim_model_find(m->model_id);
  /* Its behaviour starts as after a rejoin, through the joining's last step (the device's
   * first frames), which the coordinator's tick runs when due. */
  *d = (struct sim_znp_dev){.ieee = ieee,
                            .nwk = (uint16_t)nwk,
                            .model = m,
                            .join_pending = SIM_ZNP_JOIN_FRAMES,
                            .join_at = SIM_MS(now_ms + c->join_delay_ms),
                            .rejoin = 1};
  d->sd.model = idx >= 0 ? (uint16_t)idx : 0;
  return 0;
}
