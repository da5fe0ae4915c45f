/* A device's zigbee2mqtt state: frames in, the JSON state message out. Each frame is decoded
 * with the hub's own ZCL decoder (sim/wire/zcl.c, Xiaomi TLV lists included) and every value a
 * rule of the model's table selects (devices/z2m_map.c) becomes a key, merged into the cache as
 * zigbee2mqtt's cache_state does. Keys starting with "action" are not cached: they appear in the
 * next state message only, as in zigbee2mqtt 2.x.
 *
 * The cache is one slot per key of the model: a number, or a JSON value borrowed from the
 * definitions (a binary expose's value_on / value_off, an enum's value), so a device costs a
 * few hundred bytes and the JSON object exists only while a message is built. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "devices/z2m_internal.h"
#include "sim/core/err.h"
#include "sim/wire/zcl.h"

/* Attribute records and TLV members of one frame: a frame is at most ~100 bytes, and the
 * longest Xiaomi list has 17 members. */
#define Z2M_ATTRS_MAX 64

/* A cached value: j (borrowed from the definitions) when set, else the number x; unknown
 * when j is NULL and x is NaN. */
struct z2m_slot {
  const json_t *j;
  double x;
};

static void slot_clear(struct z2m_slot *sl) {
  sl->j = NULL;
  sl->x = NAN;
}

int dev_z2m_dev_init(struct dev_z2m_dev *zd, const char *model_id) {
  memset(zd, 0, sizeof *zd);
  zd->zm = dev_z2m_find(model_id);
  if (!zd->zm)
    return SIM_ENOTFOUND;
  size_t n = zd->zm->n_keys;
  struct z2m_slot *sl = calloc(n ? n : 1, sizeof *sl);
  if (!sl) {
    zd->zm = NULL;
    return SIM_ENOMEM;
  }
  for (size_t i = 0; i < n; i++)
    slot_clear(&sl[i]);
  zd->slots = sl;
  return 0;
}

void dev_z2m_dev_fini(struct dev_z2m_dev *zd) {
  free(zd->slots);
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
static const json_t *binary_value(const struct dev_z2m_model *zm, const char *prop, int on) {
  json_t *v = json_object_get(dev__z2m_expose(zm, prop), on ? "value_on" : "value_off");
  return v ? v : on ? json_true() : json_false();
}

/* The expose's own JSON for a name: one of an enum's values, or a binary's value_on /
 * value_off; NULL when the expose has no such value (then nothing is published). */
static const json_t *named_value(const struct dev_z2m_model *zm, const char *prop,
                                 const char *name) {
  json_t *e = dev__z2m_expose(zm, prop), *x;
  size_t i;
  json_array_foreach(json_object_get(e, "values"), i, x) {
    if (json_is_string(x) && strcmp(json_string_value(x), name) == 0)
      return x;
  }
  const char *keys[] = {"value_on", "value_off"};
  for (int k = 0; k < 2; k++) {
    x = json_object_get(e, keys[k]);
    if (json_is_string(x) && strcmp(json_string_value(x), name) == 0)
      return x;
  }
  return NULL;
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

static double angle_of(double raw, int axis) {
  double a[3] = {axis_of(raw, 0), axis_of(raw, 1), axis_of(raw, 2)};
  double me = a[axis], o1 = a[(axis + 1) % 3], o2 = a[(axis + 2) % 3];
  double den = sqrt(o1 * o1 + o2 * o2);
  if (den == 0)
    return me > 0 ? 90 : me < 0 ? -90 : 0;
  return round(atan(me / den) * 180 / M_PI);
}

/* The key's value under rule r into *sl; 0, or -1 when the rule yields nothing for v. */
static int convert(const struct dev_z2m_model *zm, const struct dev_z2m_rule *r,
                   const struct z2m_val *v, struct z2m_slot *sl) {
  double div = r->div != 0 ? r->div : 1;
  char name[64];
  sl->j = NULL;
  switch (r->conv) {
  case DEV_Z2M_NUM:
    sl->x = round_to(v->x / div + r->add, r->dec);
    return 0;
  case DEV_Z2M_BOOL:
    sl->j = binary_value(zm, r->prop, (v->x != 0) != (r->bit != 0));
    return 0;
  case DEV_Z2M_BIT:
    sl->j = binary_value(zm, r->prop, ((uint64_t)v->x >> r->bit) & 1);
    return 0;
  case DEV_Z2M_IS:
    sl->j = binary_value(zm, r->prop, v->x == r->div);
    return 0;
  case DEV_Z2M_ENUM:
  case DEV_Z2M_BYTE: {
    double key = v->x;
    if (r->conv == DEV_Z2M_BYTE) {
      if (!v->data || v->len <= r->bit)
        return -1;
      key = v->data[r->bit];
    }
    if (dev__z2m_map_name(r->map, key, name, sizeof name) != 0)
      return -1;
    sl->j = named_value(zm, r->prop, name);
    return sl->j ? 0 : -1;
  }
  case DEV_Z2M_LUX:
    sl->x = round(pow(10, (v->x - 1) / 10000));
    return 0;
  case DEV_Z2M_BATT:
    if (zm->batt_max_mv <= zm->batt_min_mv)
      return -1; /* zigbee2mqtt computes no percentage without the model's line */
    sl->x = (v->x / div - zm->batt_min_mv) / (zm->batt_max_mv - zm->batt_min_mv) * 100;
    sl->x = round(fmin(100, fmax(0, sl->x)));
    return 0;
  case DEV_Z2M_AXIS:
    sl->x = axis_of(v->x, r->bit);
    return 0;
  case DEV_Z2M_ANGLE:
    sl->x = angle_of(v->x, r->bit);
    return 0;
  default:
    return -1;
  }
}

static int is_action(const char *prop) {
  return strncmp(prop, "action", 6) == 0;
}

/* Applies every rule selecting (ep, cluster, attr, tag) to v. */
static void apply(struct dev_z2m_dev *zd, uint8_t ep, uint16_t cluster, uint16_t attr, int tag,
                  const struct z2m_val *v, int *changed) {
  const struct dev_z2m_table *t = zd->zm->table;
  struct z2m_slot *slots = zd->slots;
  for (size_t i = 0; t && i < t->n_rules; i++) {
    const struct dev_z2m_rule *r = &t->rules[i];
    if (r->cluster != cluster || r->attr != attr || r->tag != tag || (r->ep && r->ep != ep))
      continue;
    struct z2m_slot sl;
    if (convert(zd->zm, r, v, &sl) != 0 || (!sl.j && !isfinite(sl.x)))
      continue;
    slots[zd->zm->rule_key[i]] = sl;
    *changed = 1;
  }
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
      apply(zd, ep, cluster, 0x0002, -1, &v, &ch);
    }
  } else {
    struct sim_zcl_attr a[Z2M_ATTRS_MAX];
    size_t n_top = 0, n_total = 0;
    rc = sim_zcl_decode_attrs(cluster, zcl, len, a, Z2M_ATTRS_MAX, &n_top, &n_total);
    if (rc != 0)
      return rc == SIM_EFULL ? SIM_EMALFORMED : rc;
    for (size_t i = 0; i < n_top; i++) {
      struct z2m_val v = val_of(&a[i]);
      apply(zd, ep, cluster, a[i].id, -1, &v, &ch);
      for (size_t m = 0; m < a[i].n_members; m++) {
        size_t k = (size_t)a[i].first_member + m;
        if (k >= n_total)
          break;
        struct z2m_val mv = val_of(&a[k]);
        apply(zd, ep, cluster, a[i].id, a[k].id, &mv, &ch);
      }
    }
  }
  zd->lqi = lqi;
  zd->seen = 1;
  if (changed)
    *changed = ch;
  return 0;
}

/* The JSON of a known slot (a new reference), or NULL. */
static json_t *slot_json(const struct z2m_slot *sl) {
  if (sl->j)
    return json_incref((json_t *)sl->j);
  return isfinite(sl->x) ? num_json(sl->x) : NULL;
}

char *dev_z2m_dev_state(struct dev_z2m_dev *zd) {
  struct z2m_slot *slots = zd->slots;
  json_t *msg = json_object();
  char *out = NULL;
  if (!msg || !slots)
    goto done;
  for (size_t k = 0; k < zd->zm->n_keys; k++) {
    json_t *v = slot_json(&slots[k]);
    if (v && json_object_set_new(msg, zd->zm->keys[k], v) != 0)
      goto done;
  }
  if (json_object_set_new(msg, "linkquality", json_integer(zd->lqi)) != 0)
    goto done;
  out = dev__z2m_dump(msg);
  for (size_t k = 0; out && k < zd->zm->n_keys; k++)
    if (is_action(zd->zm->keys[k]))
      slot_clear(&slots[k]); /* not cached: published once */
done:
  json_decref(msg);
  return out;
}

char *dev_z2m_dev_get(const struct dev_z2m_dev *zd, const char *key) {
  const struct z2m_slot *slots = zd->slots;
  for (size_t k = 0; slots && k < zd->zm->n_keys; k++) {
    if (strcmp(zd->zm->keys[k], key) != 0)
      continue;
    json_t *v = slot_json(&slots[k]);
    char *s = v ? dev__z2m_dump(v) : NULL;
    json_decref(v);
    return s;
  }
  return NULL;
}
