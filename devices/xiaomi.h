/* Xiaomi/Aqara heartbeat TLV lists (genBasic 0xFF01 char string on legacy devices, 0xFCC0
 * 0x00F7 octet string on Zigbee 3.0 ones): tag | ZCL type | little-endian value, repeated.
 *
 * A heartbeat is described by data: a layout lists the tags in the order the real device sends
 * them, each with its ZCL type and where its value comes from (enum dev_hb_src). A model fills
 * a value array indexed by source and the builder encodes it, so a catalogue file can describe
 * a new device's heartbeat without code. */
#ifndef DEVICES_XIAOMI_H
#define DEVICES_XIAOMI_H

#include <stdint.h>

#include "devices/zcl_enc.h"

/* The manufacturer code in the ZCL header of every Xiaomi manufacturer-specific frame. */
#define DEV_LUMI_MFR_CODE 0x115F

/* Where a tag's value comes from. Units are those of the wire value (after the tag's scale). */
enum dev_hb_src {
  DEV_HB_CONST = 0,    /* dev_hb_tag.k */
  DEV_HB_BATTERY_MV,   /* battery voltage, mV */
  DEV_HB_DEVICE_TEMP,  /* chip temperature, degC */
  DEV_HB_POWER_ON,     /* power-on count (z2m: power_outage_count = value - 1) */
  DEV_HB_TRIGGERS,     /* event counter (tag 0x06) */
  DEV_HB_PARENT,       /* "path": parent NWK address */
  DEV_HB_TEMP_C100,    /* temperature, 0.01 degC */
  DEV_HB_HUMIDITY_100, /* relative humidity, 0.01 % */
  DEV_HB_PRESSURE_PA,  /* pressure, Pa */
  DEV_HB_OCCUPANCY,    /* 0/1 */
  DEV_HB_ILLUMINANCE,  /* lx */
  DEV_HB_ONOFF,        /* 0/1 */
  DEV_HB_ENERGY_KWH,   /* kWh */
  DEV_HB_VOLTAGE_DV,   /* 0.1 V */
  DEV_HB_CURRENT_MA,   /* mA */
  DEV_HB_POWER_W,      /* W */
  DEV_HB_SRC_COUNT
};

struct dev_hb_tag {
  uint8_t tag;
  uint8_t type; /* ZCL type id of the value; fixed size only */
  uint8_t src;  /* enum dev_hb_src */
  double k;     /* the value for DEV_HB_CONST */
};

struct dev_hb_layout {
  uint16_t cluster; /* 0x0000 (legacy) or 0xFCC0 (Zigbee 3.0) */
  uint16_t attr;    /* 0xFF01 or 0x00F7 */
  uint8_t type;     /* 0x42 (legacy) or 0x41 */
  const struct dev_hb_tag *tags;
  uint8_t n_tags;
};

/* Writes one attribute record (attr id, type, length byte, TLVs) with values[src] for each tag.
 * Errors are left in w (SIM_EFULL, SIM_EINVAL for a list longer than 254 bytes). */
void dev_xiaomi_put_hb(struct dev_zcl_w *w, const struct dev_hb_layout *l, const double *values);

#endif
