/* Xiaomi/Aqara heartbeat TLV lists (genBasic 0xFF01 char string on legacy devices, 0xFCC0
 * 0x00F7 octet string on Zigbee 3.0 ones): tag | ZCL type | little-endian value, repeated.
 *
 * A heartbeat is described by data: a layout lists the tags in the order the real device sends
 * them, each with its ZCL type and its value, so a catalogue file can describe a new device's
 * heartbeat without code (the generic model fills the values from its channels). */
#ifndef DEVICES_XIAOMI_H
#define DEVICES_XIAOMI_H

#include <stdint.h>

#include "devices/zcl_enc.h"

/* The manufacturer code in the ZCL header of every Xiaomi manufacturer-specific frame. */
#define DEV_LUMI_MFR_CODE 0x115F

struct dev_hb_tag {
  uint8_t tag;
  uint8_t type; /* ZCL type id of the value; fixed size only */
  double k;     /* the value in wire units (after the tag's scale); rounded and clamped to type */
};

struct dev_hb_layout {
  uint16_t cluster; /* 0x0000 (legacy) or 0xFCC0 (Zigbee 3.0) */
  uint16_t attr;    /* 0xFF01 or 0x00F7 */
  uint8_t type;     /* 0x42 (legacy) or 0x41 */
  const struct dev_hb_tag *tags;
  uint8_t n_tags;
};

/* Writes one attribute record (attr id, type, length byte, TLVs) with each tag's value. Errors
 * are left in w (SIM_EFULL, SIM_EINVAL for a list longer than 254 bytes). */
void dev_xiaomi_put_hb(struct dev_zcl_w *w, const struct dev_hb_layout *l);

#endif
