/* A device's zigbee2mqtt state: frames in, the JSON state message out. Each frame is decoded
 * with the hub's own ZCL decoder (sim/wire/zcl.c, Xiaomi TLV lists included) and every value a
 * rule of the model's table selects (devices/z2m_map.c) becomes a key, merged into the cache as
 * zigbee2mqtt's cache_state does. Keys starting with "action" are not cached: they appear in the
 * next state message only, as in zigbee2mqtt 2.x. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "devices/z2m_internal.h"
#include "sim/core/err.h"
#include "sim/wire/zcl.h"

/* Attribute records and TLV members of one frame: a frame is at most ~100 bytes, and the
 * longest Xiaomi list has 17 members. */
#define Z2M_ATTRS_MAX 64

int dev_z2m_dev_init(struct dev_z2m_dev *zd, const char *model_id) {
  memset(zd, 0, sizeof *zd);
  zd->zm = dev_z2m_find(model_id);
  if (!zd->zm)
    return SIM_ENOTFOUND;
  zd->cache = json_object();
  zd->pending = json_object();
  if (!zd->cache || !zd->pending) {
    dev_z2m_dev_fini(zd);
    return SIM_ENOMEM;
  }
  return 0;
}

void dev_z2m_dev_fini(struct dev_z2m_dev *zd) {
  json_decref(zd->cache);
  json_decref(zd->pending);
  memset(zd, 0, sizeof *zd);
}

/* Rounds x to dec decimals, as zigbee-herdsman-converters' precisionRound. */
static double round_to(double x, int dec) {
  double p = pow(10, dec);
  return round(x * p) / p;
}

/* A number as JSON: an integer when it is one, as JavaScript prints it. */
static json_t *num_json(double x) {
  if (x == floor(x) && fabs(x) < 9e15)
    return json_integer((json_int_t)x);
  return json_real(x);
}

/* The expose's value_on / value_off for a binary key; true / false when it has none. */
static json_t *binary_json(const struct dev_z2m_model *zm, const char *prop, int on) {
  json_t *e = dev__z2m_expose(zm, prop);
  json_t *v = json_object_get(e, on ? "value_on" : "value_off");
  return v ? json_incref(v) : json_boolean(on);
}

struct z2m_val {
  double x;            /* numeric value */
  const uint8_t *data; /* string value, or NULL */
  size_t len;
};

static double axis_of(double raw, int i) {
  uint64_t u = (uint64_t)raw;
  return (double)(int16_t)(uint16_t)(u >> (16 * i));
}

/* The key's value under rule r, or NULL when the rule yields nothing for this value. */
static json_t *convert(const struct dev_z2m_model *zm, const struct dev_z2m_rule *r,
                       const struct z2m_val *v) {
  double div = r->div != 0 ? r->div : 1;
  char name[64];
  switch (r->conv) {
  case DEV_Z2M_NUM:
    return num_json(round_to(v->x / div + r->add, r->dec));
  case DEV_Z2M_BOOL:
    return binary_json(zm, r->prop, (v->x != 0) != (r->bit != 0));
  case DEV_Z2M_BIT:
    return binary_json(zm, r->prop, ((uint64_t)v->x >> r->bit) & 1);
  case DEV_Z2M_IS:
    return binary_json(zm, r->prop, v->x == r->div);
  case DEV_Z2M_ENUM:
    return dev__z2m_map_name(r->map, v->x, name, sizeof name) == 0 ? json_string(name) : NULL;
  case DEV_Z2M_BYTE:
    if (!v->data || v->len <= r->bit)
      return NULL;
    return dev__z2m_map_name(r->map, v->data[r->bit], name, sizeof name) == 0 ? json_string(name)
                                                                              : NULL;
  case DEV_Z2M_LUX:
    return num_json(round(pow(10, (v->x - 1) / 10000)));
  case DEV_Z2M_BATT: {
    if (zm->batt_max_mv <= zm->batt_min_mv)
      return NULL; /* zigbee2mqtt computes no percentage without the model's line */
    double pct = (v->x / div - zm->batt_min_mv) / (zm->batt_max_mv - zm->batt_min_mv) * 100;
    return num_json(round(fmin(100, fmax(0, pct))));
  }
  case DEV_Z2M_AXIS:
    return num_json(axis_of(v->x, r->bit));
  case DEV_Z2M_ANGLE: {
    double a[3] = {axis_of(v->x, 0), axis_of(v->x, 1), axis_of(v->x, 2)};
    double me = a[r->bit], o1 = a[(r->bit + 1) % 3], o2 = a[(r->bit + 2) % 3];
    double den = sqrt(o1 * o1 + o2 * o2);
    if (den == 0)
      return num_json(me > 0 ? 90 : me < 0 ? -90 : 0);
    return num_json(round(atan(me / den) * 180 / M_PI));
  }
  default:
    return NULL;
  }
}

static int is_action(const char *prop) {
  return strncmp(prop, "action", 6) == 0;
}

/* Applies every rule selecting (ep, cluster, attr, tag) to v. */
static int apply(struct dev_z2m_dev *zd, uint8_t ep, uint16_t cluster, uint16_t attr, int tag,
                 const struct z2m_val *v, int *changed) {
  const struct dev_z2m_table *t = zd->zm->table;
  for (size_t i = 0; t && i < t->n_rules; i++) {
    const struct dev_z2m_rule *r = &t->rules[i];
    if (r->cluster != cluster || r->attr != attr || r->tag != tag || (r->ep && r->ep != ep))
      continue;
    json_t *j = convert(zd->zm, r, v);
    if (!j)
      continue;
    if (json_object_set_new(is_action(r->prop) ? zd->pending : zd->cache, r->prop, j) != 0)
      return SIM_ENOMEM;
    *changed = 1;
  }
  return 0;
}

static struct z2m_val val_of(const struct sim_zcl_attr *a) {
  struct z2m_val v = {0};
  switch (a->kind) {
  case SIM_ZCL_KIND_BOOL:
    v.x = a->v.b != 0;
    break;
  case SIM_ZCL_KIND_UINT:
    v.x = (double)a->v.u;
    break;
  case SIM_ZCL_KIND_INT:
    v.x = (double)a->v.i;
    break;
  case SIM_ZCL_KIND_FLOAT:
    v.x = a->v.f;
    break;
  default:
    v.data = a->data;
    v.len = a->len;
    break;
  }
  return v;
}

int dev_z2m_dev_frame(struct dev_z2m_dev *zd, uint8_t lqi, uint8_t ep, uint16_t cluster,
                      const uint8_t *zcl, size_t len, int *changed) {
  struct sim_zcl_header h;
  int ch = 0;
  int rc = sim_zcl_parse_header(zcl, len, &h);
  if (rc != 0)
    return SIM_EMALFORMED;
  if (h.frame_control & SIM_ZCL_FC_CLUSTER_SPECIFIC) {
    /* IAS Zone Status Change Notification: the zone status, as if attribute 0x0002 were
     * reported (zigbee2mqtt's ias converters read both). */
    if (cluster == 0x0500 && h.command == 0x00) {
      if (len < h.header_len + 2)
        return SIM_EMALFORMED;
      struct z2m_val v = {.x = zcl[h.header_len] | zcl[h.header_len + 1] << 8};
      rc = apply(zd, ep, cluster, 0x0002, -1, &v, &ch);
    }
  } else {
    struct sim_zcl_attr a[Z2M_ATTRS_MAX];
    size_t n_top = 0, n_total = 0;
    rc = sim_zcl_decode_attrs(cluster, zcl, len, a, Z2M_ATTRS_MAX, &n_top, &n_total);
    if (rc != 0)
      return rc == SIM_EFULL ? SIM_EMALFORMED : rc;
    for (size_t i = 0; i < n_top && rc == 0; i++) {
      struct z2m_val v = val_of(&a[i]);
      rc = apply(zd, ep, cluster, a[i].id, -1, &v, &ch);
      for (size_t m = 0; m < a[i].n_members && rc == 0; m++) {
        size_t k = (size_t)a[i].first_member + m;
        if (k >= n_total)
          break;
        struct z2m_val mv = val_of(&a[k]);
        rc = apply(zd, ep, cluster, a[i].id, a[k].id, &mv, &ch);
      }
    }
  }
  if (rc != 0)
    return rc;
  zd->lqi = lqi;
  zd->seen = 1;
  if (changed)
    *changed = ch;
  return 0;
}

char *dev_z2m_dev_state(struct dev_z2m_dev *zd) {
  json_t *msg = json_deep_copy(zd->cache);
  char *out = NULL;
  if (!msg || json_object_update(msg, zd->pending) != 0 ||
      json_object_set_new(msg, "linkquality", json_integer(zd->lqi)) != 0)
    goto done;
  out = dev__z2m_dump(msg);
  if (out)
    json_object_clear(zd->pending);
done:
  json_decref(msg);
  return out;
}

char *dev_z2m_dev_get(const struct dev_z2m_dev *zd, const char *key) {
  json_t *v = json_object_get(zd->cache, key);
  if (!v)
    v = json_object_get(zd->pending, key);
  return v ? dev__z2m_dump(v) : NULL;
}
