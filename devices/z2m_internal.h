/* What the rooms of the zigbee2mqtt profile share (internal to devices/: dev__z2m prefix).
 *
 * devices/z2m_defs.c loads the definitions (devices/z2m/models.json) and finds exposes;
 * devices/z2m_map.c holds the per-model conversion tables; devices/z2m_state.c applies them to
 * frames; devices/z2m_cmd.c to /set and /get; devices/z2m_bridge.c builds the bridge messages.
 * Everything here is borrowed from the loaded definitions, which live as long as the process. */
#ifndef DEVICES_Z2M_INTERNAL_H
#define DEVICES_Z2M_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/z2m.h"

/* How a decoded ZCL value becomes a state key (zigbee2mqtt's fromZigbee converters). */
enum dev_z2m_conv {
  DEV_Z2M_NUM = 1, /* raw / div + add, rounded to dec decimals */
  DEV_Z2M_BOOL,    /* raw != 0 (== 0 with inv) -> the expose's value_on / value_off */
  DEV_Z2M_BIT,     /* bit `bit` of raw -> value_on / value_off */
  DEV_Z2M_ENUM,    /* raw -> a name of map "n=name,..."; no key when unmapped */
  DEV_Z2M_LUX,     /* ZCL illuminance: 10^((raw - 1) / 10000) lx, rounded */
  DEV_Z2M_BATT,    /* raw / div mV -> percent on the model's voltageToPercentage line */
  DEV_Z2M_BYTE,    /* byte `bit` of a string value -> a name of map */
  DEV_Z2M_IS,      /* raw == div -> value_on, else value_off */
  DEV_Z2M_AXIS,    /* the signed 16-bit word `bit` (0..2) of raw: an accelerometer axis */
  DEV_Z2M_ANGLE,   /* the angle in degrees of axis `bit` against the plane of the other two */
};

/* One conversion: which value of which frame, and the key it sets. */
struct dev_z2m_rule {
  uint8_t ep;       /* 0: any endpoint */
  uint16_t cluster; /* the frame's cluster */
  uint16_t attr;    /* the attribute id */
  int16_t tag;      /* -1: the attribute itself; else a member of its Xiaomi TLV list */
  const char *prop; /* the state key (an expose property) */
  uint8_t conv;     /* enum dev_z2m_conv */
  double div, add;  /* DEV_Z2M_NUM, DEV_Z2M_BATT (div 0 means 1) */
  int8_t dec;       /* DEV_Z2M_NUM: decimals kept */
  uint8_t bit;      /* DEV_Z2M_BIT, DEV_Z2M_BYTE; DEV_Z2M_BOOL: 1 inverts */
  const char *map;  /* DEV_Z2M_ENUM, DEV_Z2M_BYTE: "n=name,..." */
};

/* How a /set key becomes a ZCL command (zigbee2mqtt's toZigbee converters). */
enum dev_z2m_act {
  DEV_Z2M_SET_ONOFF = 1, /* genOnOff off / on / toggle */
  DEV_Z2M_SET_LEVEL,     /* genLevelCtrl moveToLevelWithOnOff (level, transition 0) */
  DEV_Z2M_SET_CT,        /* lightingColorCtrl moveToColorTemp (mireds, transition 0) */
  DEV_Z2M_SET_WRITE,     /* Write Attributes of one attribute */
  DEV_Z2M_SET_COVER,     /* OPEN / CLOSE: write 100 / 0 as below; STOP: windowCovering stop */
};

struct dev_z2m_setrule {
  const char *prop;
  uint8_t act; /* enum dev_z2m_act */
  uint8_t ep;
  uint16_t cluster, attr, mfr; /* DEV_Z2M_SET_WRITE, DEV_Z2M_SET_COVER */
  uint8_t type;                /* ZCL type of the written value */
  double mul;                  /* numeric values: written as value * mul (0 means 1) */
  const char *map;             /* enum and binary values: "name=n,..." */
};

/* The tables of one Zigbee model id. */
struct dev_z2m_table {
  const char *model_id;
  const struct dev_z2m_rule *rules;
  size_t n_rules;
  const struct dev_z2m_setrule *sets;
  size_t n_sets;
};

/* The table of model_id, or NULL (the model has a definition but publishes linkquality only). */
const struct dev_z2m_table *dev__z2m_table(const char *model_id);
/* Every table: *n gets the count (tests). */
const struct dev_z2m_table *dev__z2m_tables(size_t *n);

struct dev_z2m_model {
  const char *model_id;
  json_t *bridge;                    /* the bridge/devices element without the per-device fields */
  json_t *definition;                /* bridge.definition */
  json_t *ha;                        /* the Home Assistant discovery configs (array) */
  double batt_min_mv, batt_max_mv;   /* voltageToPercentage; 0, 0 when the model has none */
  const struct dev_z2m_table *table; /* may be NULL */
  /* The distinct keys of the table's rules, and each rule's index among them: a device's
   * cache has one slot per key. */
  const char **keys;
  uint8_t *rule_key;
  size_t n_keys;
};

/* The most keys one model's table may have. */
#define DEV_Z2M_KEYS_MAX 64

/* The generic expose (binary, numeric, enum, text...) whose property is prop, looking into the
 * features of specific exposes (light, switch, cover, climate...), or NULL. Borrowed. */
json_t *dev__z2m_expose(const struct dev_z2m_model *zm, const char *prop);

/* The number of map (n=name,... or name=n,...) whose name is name: 0 with *v, or SIM_ENOTFOUND.
 * dev__z2m_map_name() does the reverse for "n=name" maps: the name of n into out. */
int dev__z2m_map_num(const char *map, const char *name, double *v);
int dev__z2m_map_name(const char *map, double n, char *out, size_t cap);

/* The coordinator's bridge/devices element and the linkquality expose. Borrowed. */
json_t *dev__z2m_coordinator(void);
json_t *dev__z2m_linkquality(void);

/* Compact JSON text with sorted keys, as zigbee2mqtt serialises; NULL on out of memory. */
char *dev__z2m_dump(const json_t *j);

/* "0x" and 16 lower-case hex digits; out has 19 bytes. */
void dev__z2m_ieee(uint64_t ieee, char out[19]);

#endif
