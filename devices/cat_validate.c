/* The catalogue loader's checks across the parts of one model, made once they are all read:
 * chains of channels read through one another end and stay within DEV_CAT_READ_DEPTH, chains
 * between channels (`chains`) do not lead back to where they started, a legacy
 * join frame fits a ZCL frame, and the per-device state is laid out (which refuses a model whose
 * state does not fit). */
#include "devices/cat_load_internal.h"

#include <string.h>

#include "devices/xiaomi.h"
#include "devices/zcl_enc.h"
#include "sim/core/err.h"
#include "sim/wire/zcl.h"

/* The channels whose values reading channel ch reads (generic.c value_at): a derive's
 * operands, an energy channel's power, the chip temperature's power. Returns their count. */
static int reads_of(const struct dev_cat_model *cm, int ch, int out[2]) {
  const struct dev_cat_channel *c = &cm->ch[ch];
  int n = 0;
  switch (c->kind) {
  case DEV_CH_DERIVE:
    if (c->p.derive.a.ch >= 0)
      out[n++] = c->p.derive.a.ch;
    if (c->p.derive.b.ch >= 0)
      out[n++] = c->p.derive.b.ch;
    break;
  case DEV_CH_ENERGY:
    out[n++] = c->p.energy.of;
    break;
  case DEV_CH_DEVICE_TEMP:
    if (cm->device_temp_power >= 0)
      out[n++] = cm->device_temp_power;
    break;
  default:
    break;
  }
  return n;
}

/* Depth-first search with memory (state 0 new, 1 on the current path, 2 done; len[] the
 * longest chain from a done channel), so the work is linear in the channels however the reads
 * are shared. Returns the longest chain starting at ch, or -1 - k when channel k lies on a
 * cycle. The recursion is at most n_ch deep (each level puts a new channel on the path), and
 * n_ch <= 255. */
static int read_chain(const struct dev_cat_model *cm, int ch, uint8_t *state, uint8_t *len) {
  if (state[ch] == 1)
    return -1 - ch;
  if (state[ch] == 2)
    return len[ch];
  state[ch] = 1;
  int deps[2], n = reads_of(cm, ch, deps), best = 1;
  for (int i = 0; i < n; i++) {
    int r = read_chain(cm, deps[i], state, len);
    if (r < 0)
      return r;
    if (r + 1 > best)
      best = r + 1 > 255 ? 255 : r + 1;
  }
  state[ch] = 2;
  len[ch] = (uint8_t)best;
  return best;
}

/* Reading a channel must end, and within the engine's bound on nested reads
 * (DEV_CAT_READ_DEPTH), so that no value is cut short at run time. */
int dev_cat__check_reads(struct cat_ld *x, const struct dev_cat_model *cm,
                         const yaml_node_t *model) {
  uint8_t state[256] = {0}, len[256] = {0};
  for (int i = 0; i < cm->n_ch; i++) {
    int r = read_chain(cm, i, state, len);
    if (r >= 0 && r <= DEV_CAT_READ_DEPTH)
      continue;
    size_t o = dev_cat__push_key(x, "channels");
    if (r < 0)
      r = dev_cat__fail(x, dev_cat__get(x, model, "channels"),
                        "%s channel \"%s\" depends on itself",
                        dev_cat__kind_name(cm->ch[-1 - r].kind), cm->ch[-1 - r].name);
    else
      r = dev_cat__fail(
          x, dev_cat__get(x, model, "channels"),
          "channel \"%s\" reads a chain of %d channels (derive, energy, device_temp), more "
          "than %d",
          cm->ch[i].name, r, DEV_CAT_READ_DEPTH);
    dev_cat__pop(x, o);
    return r;
  }
  return 0;
}

/* Bytes of the heartbeat's attribute record: attr id, type, length byte and its TLVs. */
size_t dev_cat__hb_record_bytes(const struct dev_cat_heartbeat *hb) {
  size_t n = 4;
  for (uint8_t i = 0; i < hb->n_tags; i++)
    n += 2 + (size_t)sim_zcl_type_size(hb->tags[i].v.type);
  return n;
}

/* A legacy model sends its model id and its heartbeat in one frame right after joining
 * (generic.c send_heartbeat): header with manufacturer code (5), the modelId record (4 + id)
 * and the heartbeat record. A frame that does not fit is never sent, so it is refused here. */
int dev_cat__join_frame_fits(struct cat_ld *x, const struct dev_cat_model *cm, const yaml_node_t *v,
                             const char *id) {
  if (!cm->legacy_join)
    return 0;
  size_t n = 5 + 4 + strlen(id) + (cm->hb.present ? dev_cat__hb_record_bytes(&cm->hb) : 0);
  if (n <= DEV_ZCL_FRAME_MAX)
    return 0;
  char cb[48];
  return dev_cat__fail(
      x, v,
      "\"%s\": the join frame of a legacy model (modelId and heartbeat) would take %zu "
      "bytes, more than the %d of a ZCL frame",
      dev_cat__clip(id, cb), n, DEV_ZCL_FRAME_MAX);
}

/* ---- state layout ------------------------------------------------------------------------- */

/* Offsets into sim_device.state, as documented in cat_types.h: 8-byte values first, then 4-byte,
 * then the 16-bit counter, so no padding is needed between groups. Returns the bytes used. */
size_t dev_cat__layout(struct dev_cat_model *cm) {
  size_t off = 0;
  cm->sampled = cm->keeps_stamps = 0;
  for (uint8_t i = 0; i < cm->n_ch; i++) {
    uint8_t k = cm->ch[i].kind;
    cm->sampled |= k == DEV_CH_WALK || k == DEV_CH_DAYLIGHT || k == DEV_CH_METER;
    cm->keeps_stamps |= k == DEV_CH_ENERGY;
  }
  for (uint8_t i = 0; i < cm->n_attr; i++)
    cm->keeps_stamps |= cm->attr[i].report == DEV_REP_CHANGE;
#define TAKE(field, n)                                                                             \
  do {                                                                                             \
    (field) = (uint16_t)off;                                                                       \
    off += (n);                                                                                    \
  } while (0)
  for (uint8_t i = 0; i < cm->n_ch; i++) {
    struct dev_cat_channel *ch = &cm->ch[i];
    ch->off = ch->off_a = ch->off_b = ch->off_c = DEV_CAT_NO_OFF;
    if (ch->kind == DEV_CH_ENERGY)
      TAKE(ch->off, 8);
  }
  for (uint8_t i = 0; i < cm->n_ch; i++) {
    struct dev_cat_channel *ch = &cm->ch[i];
    switch (ch->kind) {
    case DEV_CH_WALK:
      TAKE(ch->off, 4);
      TAKE(ch->off_a, 4);
      break;
    case DEV_CH_DAYLIGHT:
    case DEV_CH_METER:
    case DEV_CH_BATTERY_MV:
      TAKE(ch->off, 4);
      break;
    case DEV_CH_BURSTS:
      TAKE(ch->off, 4);
      TAKE(ch->off_a, 4);
      TAKE(ch->off_b, 4);
      if (ch->p.bursts.reset_s > 0)
        TAKE(ch->off_c, 4);
      break;
    case DEV_CH_TWO_STATE:
      TAKE(ch->off, 4);
      TAKE(ch->off_a, 4);
      break;
    case DEV_CH_ACTUATOR:
      TAKE(ch->off, 4);
      TAKE(ch->off_a, 4);
      TAKE(ch->off_b, 4);
      if (ch->p.act.local_s > 0)
        TAKE(ch->off_c, 4);
      break;
    case DEV_CH_ENERGY:
      TAKE(ch->off_a, 4);
      break;
    case DEV_CH_TRIGGERS: /* 32 bits: a busy sensor passes 65,535 events within months */
      TAKE(ch->off, 4);
      break;
    default:
      break;
    }
  }
  for (uint8_t i = 0; i < cm->n_attr; i++) {
    cm->attr[i].off_last = DEV_CAT_NO_OFF;
    if (cm->attr[i].report == DEV_REP_CHANGE)
      TAKE(cm->attr[i].off_last, 8);
  }
  cm->hb.off_next = DEV_CAT_NO_OFF;
  if (cm->hb.present)
    TAKE(cm->hb.off_next, 4);
  for (uint8_t i = 0; i < cm->n_ch; i++) {
    struct dev_cat_channel *ch = &cm->ch[i];
    if (ch->kind == DEV_CH_POWER_ON) /* 16 bits, as the real devices' tag 0x05 */
      TAKE(ch->off, 2);
  }
#undef TAKE
  return (off + 3) / 4 * 4;
}

/* Depth-first search over "an event of channel A takes a step on channel B" (state 0 new, 1 on
 * the path, 2 done). Returns -1 - k when channel k lies on a cycle, else 0. The recursion is at
 * most n_ch deep (each level puts a new channel on the path), and n_ch <= 255. */
static int chain_cycle(const struct dev_cat_model *cm, int ch, uint8_t *state) {
  if (state[ch] == 1)
    return -1 - ch;
  if (state[ch] == 2)
    return 0;
  state[ch] = 1;
  for (uint8_t i = 0; i < cm->n_chain; i++) {
    if (cm->chain[i].when != ch)
      continue;
    int r = chain_cycle(cm, cm->chain[i].s.ch, state);
    if (r < 0)
      return r;
  }
  state[ch] = 2;
  return 0;
}

/* A chain that leads back to where it started would never end: refused, so that a change at
 * run time causes at most n_chain steps in a row. The message names the model: the same
 * channel names mean other things in other models. */
int dev_cat__check_chains(struct cat_ld *x, const struct dev_cat_model *cm,
                          const yaml_node_t *model) {
  uint8_t state[256] = {0};
  for (uint8_t i = 0; i < cm->n_chain; i++) {
    int c = chain_cycle(cm, cm->chain[i].when, state);
    if (c < 0) {
      size_t o = dev_cat__push_key(x, "chains");
      int r = dev_cat__fail(x, dev_cat__get(x, model, "chains"),
                            "model %s: an event of channel \"%s\" leads back to \"%s\" through "
                            "the chains (a loop that would never end)",
                            cm->m.model_id, cm->ch[-1 - c].name, cm->ch[-1 - c].name);
      dev_cat__pop(x, o);
      return r;
    }
  }
  return 0;
}
