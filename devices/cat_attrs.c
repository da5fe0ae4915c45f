/* The catalogue loader: what a model exposes and reacts to: attributes and their values, the
 * heartbeat, commands and triggers. */
#include "devices/cat_load_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "devices/xiaomi.h"
#include "devices/zcl_enc.h"
#include "sim/core/err.h"
#include "sim/wire/zcl.h"

/* ---- values (attributes and heartbeat tags) ----------------------------------------------- */

static const char *const encode_names[] = {"linear", "not", "log_lux", "zone_status", "map", NULL};

/* value, scale, offset, encode, bit, map of an attribute or a tag; v->type is set. */
static int parse_value(struct cat_ld *x, const struct dev_cat_model *cm, const yaml_node_t *m,
                       struct dev_cat_value *v, int is_tag) {
  int r, enc;
  yaml_node_t *val;
  v->ch = -1;
  v->scale = 1;
  if ((r = dev_cat__require(x, m, "value", &val)) ||
      (r = dev_cat__key_num(x, m, "scale", 0, 1, &v->scale)) ||
      (r = dev_cat__key_num(x, m, "offset", 0, 0, &v->offset)) ||
      (r = dev_cat__key_enum(x, m, "encode", 0, DEV_ENC_LINEAR, encode_names, &enc)))
    return r;
  v->encode = (uint8_t)enc;
  size_t o = dev_cat__push_key(x, "value");
  int hex = 0;
  if (val->type == YAML_MAPPING_NODE) {
    static const char *const keys[] = {"const", "hex", NULL};
    if ((r = dev_cat__check_map(x, val, keys)))
      goto out;
    if (map_len(val) != 1) {
      r = dev_cat__fail(x, val, "expected a channel name, {const: N} or {hex: \"..\"}");
      goto out;
    }
    yaml_node_t *k;
    if ((k = dev_cat__get(x, val, "const"))) {
      size_t o2 = dev_cat__push_key(x, "const");
      r = dev_cat__num(x, k, &v->k);
      dev_cat__pop(x, o2);
    } else {
      k = dev_cat__get(x, val, "hex");
      size_t o2 = dev_cat__push_key(x, "hex");
      if (is_tag)
        r = dev_cat__fail(x, k, "heartbeat tags take numbers only");
      else if (!dev_cat__type_is_string(v->type))
        r = dev_cat__fail(x, k, "hex is only for the string types octstr and string");
      else
        r = dev_cat__hexbytes(x, k, &v->hex);
      dev_cat__pop(x, o2);
      hex = 1;
    }
    if (r)
      goto out;
  } else if (is_scalar(val)) {
    if ((r = dev_cat__chref(x, cm, val, &v->ch)))
      goto out;
  } else {
    r = dev_cat__fail(x, val, "expected a channel name, {const: N} or {hex: \"..\"}");
    goto out;
  }
  dev_cat__pop(x, o);

  yaml_node_t *bit = dev_cat__get(x, m, "bit"), *map = dev_cat__get(x, m, "map"),
              *encn = dev_cat__get(x, m, "encode");
  if (hex) {
    if (encn)
      return dev_cat__fail(x, encn, "encode: not with a hex value");
    v->encode = DEV_ENC_HEX;
  } else if (dev_cat__type_is_string(v->type) && v->encode != DEV_ENC_MAP) {
    return dev_cat__fail(x, m, "a %s attribute needs value: {hex: \"..\"} or encode: map",
                         v->type == 0x41 ? "octstr" : "string");
  } else if (!dev_cat__type_is_string(v->type) && v->encode == DEV_ENC_MAP) {
    return dev_cat__fail(x, encn, "encode: map is only for the string types octstr and string");
  }
  if (v->encode == DEV_ENC_ZONE_STATUS) {
    uint8_t b;
    if (v->type != 0x19)
      return dev_cat__fail(x, encn, "encode: zone_status needs type bitmap16");
    if ((r = dev_cat__key_u8(x, m, "bit", 1, 0, &b)))
      return r;
    if (b > 15) {
      o = dev_cat__push_key(x, "bit");
      r = dev_cat__fail(x, bit, "%u is out of range [0, 15]", b);
      dev_cat__pop(x, o);
      return r;
    }
    v->bit = b;
  } else if (bit) {
    o = dev_cat__push_key(x, "bit");
    r = dev_cat__fail(x, bit, "only with encode: zone_status");
    dev_cat__pop(x, o);
    return r;
  }
  if (v->encode == DEV_ENC_MAP) {
    if (v->ch < 0)
      return dev_cat__fail(x, val, "encode: map needs a channel value");
    if (!map)
      return dev_cat__fail(x, m, "missing required key \"map\"");
    o = dev_cat__push_key(x, "map");
    if (map->type != YAML_MAPPING_NODE || map_len(map) == 0 || map_len(map) > DEV_CAT_MAP_MAX) {
      r = dev_cat__fail(x, map, "expected a mapping of 1 to %d entries VALUE: \"HEX\"",
                        DEV_CAT_MAP_MAX);
      goto out;
    }
    v->n_map = (uint8_t)map_len(map);
    for (size_t i = 0; i < v->n_map; i++) {
      yaml_node_pair_t *p = &map->data.mapping.pairs.start[i];
      if ((r = dev_cat__num(x, node(x, p->key), &v->map_key[i])))
        goto out;
      for (size_t j = 0; j < i; j++)
        if (v->map_key[j] == v->map_key[i]) {
          r = dev_cat__fail(x, node(x, p->key), "value %s given twice", sc(node(x, p->key)));
          goto out;
        }
      size_t o2 = dev_cat__push_key(x, sc(node(x, p->key)));
      r = dev_cat__hexbytes(x, node(x, p->value), &v->map_val[i]);
      dev_cat__pop(x, o2);
      if (r)
        goto out;
    }
    dev_cat__pop(x, o);
  } else if (map) {
    o = dev_cat__push_key(x, "map");
    r = dev_cat__fail(x, map, "only with encode: map");
    goto out;
  }
  return 0;
out:
  dev_cat__pop(x, o);
  return r;
}

/* ---- attributes --------------------------------------------------------------------------- */

static int has_ep(const struct dev_cat_model *cm, uint8_t ep) {
  for (uint8_t i = 0; i < cm->m.n_endpoints; i++)
    if (cm->m.endpoints[i].id == ep)
      return 1;
  return 0;
}

static int key_ep(struct cat_ld *x, const struct dev_cat_model *cm, const yaml_node_t *m, int req,
                  uint8_t *out) {
  int r = dev_cat__key_u8(x, m, "ep", req, 0, out);
  if (r || (!req && !dev_cat__get(x, m, "ep")))
    return r;
  if (!has_ep(cm, *out)) {
    size_t o = dev_cat__push_key(x, "ep");
    r = dev_cat__fail(x, dev_cat__get(x, m, "ep"), "endpoint %u is not declared in endpoints",
                      *out);
    dev_cat__pop(x, o);
  }
  return r;
}

static int parse_report(struct cat_ld *x, const struct dev_cat_model *cm, const yaml_node_t *m,
                        struct dev_cat_attr *a) {
  yaml_node_t *rep = dev_cat__get(x, m, "report");
  int r = 0;
  a->report = DEV_REP_NONE;
  a->event_ch = -1;
  a->at_once_ch = -1;
  if (!rep)
    return 0;
  size_t o = dev_cat__push_key(x, "report");
  if (is_scalar(rep) && strcmp(sc(rep), "none") == 0) {
    a->report = DEV_REP_NONE;
  } else if (is_scalar(rep) && strcmp(sc(rep), "event") == 0) {
    a->report = DEV_REP_EVENT;
    if (a->v.ch < 0) {
      r = dev_cat__fail(x, rep, "event reports need a channel value");
    } else {
      const struct dev_cat_channel *ch = &cm->ch[a->v.ch];
      if (ch->kind == DEV_CH_DIRECTION)
        a->event_ch = ch->p.dir.of;
      else if (!ch->is_event)
        r = dev_cat__fail(x, rep,
                          "channel \"%s\" (%s) has no events (report: {with: CHANNEL} sends it "
                          "with another channel's events)",
                          ch->name, dev_cat__kind_name(ch->kind));
      else
        a->event_ch = a->v.ch;
    }
  } else if (rep->type == YAML_MAPPING_NODE && dev_cat__get(x, rep, "with")) {
    static const char *const keys[] = {"with", NULL};
    a->report = DEV_REP_EVENT;
    if (!(r = dev_cat__check_map(x, rep, keys)) &&
        !(r = dev_cat__chref(x, cm, dev_cat__get(x, rep, "with"), &a->event_ch))) {
      const struct dev_cat_channel *ch = &cm->ch[a->event_ch];
      if (!ch->is_event)
        r = dev_cat__fail(x, dev_cat__get(x, rep, "with"),
                          "with: channel \"%s\" (%s) has no events", ch->name,
                          dev_cat__kind_name(ch->kind));
    }
  } else if (rep->type == YAML_MAPPING_NODE) {
    static const char *const keys[] = {"change", "change_pct",   "min_s",
                                       "max_s",  "at_once_with", NULL};
    a->report = DEV_REP_CHANGE;
    if ((r = dev_cat__check_map(x, rep, keys)) ||
        (r = dev_cat__key_pos(x, rep, "change", 0, 0, &a->change)) ||
        (r = dev_cat__key_pos(x, rep, "change_pct", 0, 0, &a->change_pct)) ||
        (r = dev_cat__key_dur(x, rep, "min_s", 0, 0, &a->min_s)) ||
        (r = dev_cat__key_dur(x, rep, "max_s", 0, 0, &a->max_s)) ||
        (r = dev_cat__key_chref(x, cm, rep, "at_once_with", 0, &a->at_once_ch)))
      goto out;
    if (a->at_once_ch >= 0 && !cm->ch[a->at_once_ch].is_event) {
      r = dev_cat__fail(x, dev_cat__get(x, rep, "at_once_with"),
                        "at_once_with: model %s: channel \"%s\" (%s) has no events", cm->m.model_id,
                        cm->ch[a->at_once_ch].name, dev_cat__kind_name(cm->ch[a->at_once_ch].kind));
      goto out;
    }
    if (a->max_s > 0 && a->min_s > a->max_s)
      r = dev_cat__fail(x, rep, "min_s must not be above max_s");
    else if (a->v.ch < 0 && a->max_s <= 0)
      r = dev_cat__fail(x, rep, "a constant value is reported only with max_s > 0");
  } else if (is_scalar(rep)) {
    r = dev_cat__fail(
        x, rep,
        "expected none, event, {with: CHANNEL} or {change, change_pct, min_s, max_s}, "
        "got \"%s\"",
        sc(rep));
  } else {
    r = dev_cat__fail(
        x, rep, "expected none, event, {with: CHANNEL} or {change, change_pct, min_s, max_s}");
  }
out:
  dev_cat__pop(x, o);
  return r;
}

static int parse_attr(struct cat_ld *x, struct dev_cat_model *cm, struct dev_cat_attr *a,
                      const yaml_node_t *m) {
  static const char *const keys[] = {"name", "ep",       "cluster",    "attr",   "type",
                                     "mfr",  "value",    "scale",      "offset", "encode",
                                     "bit",  "map",      "unit",       "report", "on_join",
                                     "as",   "writable", "same_frame", NULL};
  static const char *const as_names[] = {"", "zone_status_change", NULL};
  int r, as;
  const char *name, *unit;
  if ((r = dev_cat__check_map(x, m, keys)) ||
      (r = dev_cat__key_str(x, m, "name", 1, DEV_CAT_NAME_MAX - 1, NULL, &name)) ||
      (r = key_ep(x, cm, m, 1, &a->ep)) ||
      (r = dev_cat__key_u16(x, m, "cluster", 1, 0, &a->cluster)) ||
      (r = dev_cat__key_u16(x, m, "attr", 1, 0, &a->attr)) ||
      (r = dev_cat__key_type(x, m, "type", 0, &a->v.type)) ||
      (r = dev_cat__key_u16(x, m, "mfr", 0, 0, &a->mfr)) ||
      (r = dev_cat__key_str(x, m, "unit", 0, sizeof(a->unit) - 1, NULL, &unit)) ||
      (r = parse_value(x, cm, m, &a->v, 0)) || (r = parse_report(x, cm, m, a)) ||
      (r = dev_cat__key_bool(x, m, "on_join", 0, 0, &a->on_join)) ||
      (r = dev_cat__key_enum(x, m, "as", 0, 0, as_names, &as)) ||
      (r = dev_cat__key_bool(x, m, "writable", 0, 0, &a->writable)))
    return r;
  snprintf(a->name, sizeof(a->name), "%s", name);
  if (unit)
    snprintf(a->unit, sizeof(a->unit), "%s", unit);
  if (dev_cat__get(x, m, "as") && as == 0) {
    size_t o = dev_cat__push_key(x, "as");
    r = dev_cat__fail(x, dev_cat__get(x, m, "as"), "expected zone_status_change");
    dev_cat__pop(x, o);
    return r;
  }
  a->as_zone_status = as == 1;
  if (a->as_zone_status && (a->cluster != 0x0500 || a->v.type != 0x19))
    return dev_cat__fail(x, dev_cat__get(x, m, "as"),
                         "as: zone_status_change needs cluster 0x0500 and type bitmap16");
  if (a->writable) {
    if (a->v.ch < 0 || cm->ch[a->v.ch].kind != DEV_CH_ACTUATOR)
      return dev_cat__fail(x, dev_cat__get(x, m, "writable"),
                           "writable: the value must be an actuator channel");
    if (dev_cat__type_is_string(a->v.type))
      return dev_cat__fail(x, dev_cat__get(x, m, "writable"), "writable: not for string types");
    if (a->v.encode == DEV_ENC_LINEAR && a->v.scale == 0)
      return dev_cat__fail(x, dev_cat__get(x, m, "scale"),
                           "scale: 0 cannot be undone for a write (writable)");
  }
  return 0;
}

int dev_cat__parse_attrs(struct cat_ld *x, struct dev_cat_model *cm, const yaml_node_t *model) {
  yaml_node_t *as = dev_cat__get(x, model, "attributes");
  if (!as)
    return 0;
  int r = 0;
  size_t o = dev_cat__push_key(x, "attributes");
  void *arr;
  if ((r = dev_cat__list_head(x, as, "attributes", sizeof(*cm->attr), &arr, &cm->n_attr)))
    goto out;
  cm->attr = arr;
  for (size_t i = 0; i < cm->n_attr; i++) {
    yaml_node_t *m = node(x, as->data.sequence.items.start[i]);
    size_t o2 = dev_cat__push_idx(x, i);
    struct dev_cat_attr *a = &cm->attr[i];
    r = parse_attr(x, cm, a, m);
    for (size_t j = 0; !r && j < i; j++)
      if (cm->attr[j].ep == a->ep && cm->attr[j].cluster == a->cluster &&
          cm->attr[j].attr == a->attr)
        r = dev_cat__fail(
            x, m, "endpoint %u cluster 0x%04X attribute 0x%04X listed twice (attributes[%zu])",
            a->ep, a->cluster, a->attr, j);
    dev_cat__pop(x, o2);
    if (r)
      goto out;
  }
out:
  dev_cat__pop(x, o);
  return r;
}

/* ---- heartbeat ---------------------------------------------------------------------------- */

int dev_cat__parse_heartbeat(struct cat_ld *x, struct dev_cat_model *cm, const yaml_node_t *model) {
  static const char *const keys[] = {"format", "period_s", "tags", "length_adjust", NULL};
  static const char *const tag_keys[] = {"tag",    "type",   "value", "scale",
                                         "offset", "encode", "bit",   NULL};
  static const char *const formats[] = {"ff01", "00f7", NULL};
  yaml_node_t *hb = dev_cat__get(x, model, "heartbeat"), *tags;
  if (!hb)
    return 0;
  int r, fmt;
  double period[2], adjust;
  size_t o = dev_cat__push_key(x, "heartbeat");
  if ((r = dev_cat__check_map(x, hb, keys)) ||
      (r = dev_cat__key_enum(x, hb, "format", 1, 0, formats, &fmt)) ||
      (r = dev_cat__key_pair(x, hb, "period_s", 1, 0, 0, period)) ||
      (r = dev_cat__require(x, hb, "tags", &tags)) ||
      (r = dev_cat__key_int(x, hb, "length_adjust", 0, 0, -1, 1, &adjust)))
    goto out;
  cm->hb.length_adjust = (int8_t)adjust;
  if ((r = dev_cat__at_most(x, hb, "period_s", period[1], DEV_CAT_DURATION_MAX_S,
                            "s (10 days, the longest duration)")))
    goto out;
  if (period[0] <= 0) {
    size_t o2 = dev_cat__push_key(x, "period_s");
    r = dev_cat__fail(x, dev_cat__get(x, hb, "period_s"), "must be positive");
    dev_cat__pop(x, o2);
    goto out;
  }
  cm->hb.present = 1;
  cm->hb.cluster = fmt == 0 ? 0x0000 : 0xFCC0;
  cm->hb.attr = fmt == 0 ? 0xFF01 : 0x00F7;
  cm->hb.type = fmt == 0 ? 0x42 : 0x41;
  cm->hb.period_min_s = period[0];
  cm->hb.period_max_s = period[1];
  size_t o2 = dev_cat__push_key(x, "tags");
  if (!is_seq(tags) || seq_len(tags) == 0 || seq_len(tags) > 255) {
    r = dev_cat__fail(x, tags, "expected a list of 1 to 255 tags");
    dev_cat__pop(x, o2);
    goto out;
  }
  cm->hb.n_tags = (uint8_t)seq_len(tags);
  cm->hb.tags = dev_cat__alloc(&x->ar, cm->hb.n_tags * sizeof(*cm->hb.tags));
  if (!cm->hb.tags) {
    r = dev_cat__fail_oom(x);
    dev_cat__pop(x, o2);
    goto out;
  }
  for (size_t i = 0; i < cm->hb.n_tags; i++) {
    yaml_node_t *m = node(x, tags->data.sequence.items.start[i]);
    struct dev_cat_tag *t = &cm->hb.tags[i];
    size_t o3 = dev_cat__push_idx(x, i);
    if (!(r = dev_cat__check_map(x, m, tag_keys)) &&
        !(r = dev_cat__key_u8(x, m, "tag", 1, 0, &t->tag)) &&
        !(r = dev_cat__key_type(x, m, "type", 1, &t->v.type)))
      r = parse_value(x, cm, m, &t->v, 1);
    for (size_t j = 0; !r && j < i; j++)
      if (cm->hb.tags[j].tag == t->tag)
        r = dev_cat__fail(x, m, "tag 0x%02X listed twice", t->tag);
    dev_cat__pop(x, o3);
    if (r) {
      dev_cat__pop(x, o2);
      goto out;
    }
  }
  /* The record goes out in one frame with the Xiaomi header (5 bytes); one that does not fit
   * would never be sent. */
  size_t bytes = 5 + dev_cat__hb_record_bytes(&cm->hb);
  if (bytes > DEV_ZCL_FRAME_MAX)
    r = dev_cat__fail(x, tags,
                      "the heartbeat frame would take %zu bytes, more than the %d of a ZCL frame",
                      bytes, DEV_ZCL_FRAME_MAX);
  dev_cat__pop(x, o2);
out:
  dev_cat__pop(x, o);
  return r;
}

/* ---- commands, triggers ------------------------------------------------------------------- */

static const char *const action_names[] = {"",    "set",  "on",     "off", "toggle",
                                           "arg", "stop", "detect", NULL};

int dev_cat__parse_commands(struct cat_ld *x, struct dev_cat_model *cm, const yaml_node_t *model) {
  static const char *const keys[] = {"ep",    "cluster", "command", "do", "channel",
                                     "value", "arg",     "then",    NULL};
  static const char *const arg_keys[] = {"offset", "type", "scale", NULL};
  yaml_node_t *cs = dev_cat__get(x, model, "commands");
  if (!cs)
    return 0;
  int r = 0;
  size_t o = dev_cat__push_key(x, "commands");
  void *arr;
  if ((r = dev_cat__list_head(x, cs, "commands", sizeof(*cm->cmd), &arr, &cm->n_cmd)))
    goto out;
  cm->cmd = arr;
  for (size_t i = 0; i < cm->n_cmd; i++) {
    yaml_node_t *m = node(x, cs->data.sequence.items.start[i]);
    struct dev_cat_command *c = &cm->cmd[i];
    size_t o2 = dev_cat__push_idx(x, i);
    int act;
    c->arg_scale = 1;
    if ((r = dev_cat__check_map(x, m, keys)) || (r = key_ep(x, cm, m, 0, &c->ep)) ||
        (r = dev_cat__key_u16(x, m, "cluster", 1, 0, &c->cluster)) ||
        (r = dev_cat__key_u8(x, m, "command", 1, 0, &c->command)) ||
        (r = dev_cat__key_enum(x, m, "do", 1, 0, action_names, &act)) ||
        (r = dev_cat__key_chref(x, cm, m, "channel", 1, &c->ch)))
      goto item;
    yaml_node_t *don = dev_cat__get(x, m, "do"), *val = dev_cat__get(x, m, "value"),
                *arg = dev_cat__get(x, m, "arg");
    if (act == 0 || act == DEV_DO_DETECT) {
      size_t o3 = dev_cat__push_key(x, "do");
      r = dev_cat__fail(x, don, "expected on, off, toggle, set, arg or stop, got \"%s\"", sc(don));
      dev_cat__pop(x, o3);
      goto item;
    }
    c->action = (uint8_t)act;
    if (cm->ch[c->ch].kind != DEV_CH_ACTUATOR) {
      size_t o3 = dev_cat__push_key(x, "channel");
      r = dev_cat__fail(x, dev_cat__get(x, m, "channel"), "\"%s\" is not an actuator",
                        cm->ch[c->ch].name);
      dev_cat__pop(x, o3);
      goto item;
    }
    if (act == DEV_DO_SET) {
      if ((r = dev_cat__key_num(x, m, "value", 1, 0, &c->k)))
        goto item;
    } else if (val) {
      size_t o3 = dev_cat__push_key(x, "value");
      r = dev_cat__fail(x, val, "only with do: set");
      dev_cat__pop(x, o3);
      goto item;
    }
    if (act == DEV_DO_ARG) {
      double off;
      if ((r = dev_cat__require(x, m, "arg", &arg)))
        goto item;
      size_t o3 = dev_cat__push_key(x, "arg");
      if (!(r = dev_cat__check_map(x, arg, arg_keys)) &&
          !(r = dev_cat__key_int(x, arg, "offset", 1, 0, 0, 255, &off)) &&
          !(r = dev_cat__key_type(x, arg, "type", 1, &c->arg_type)) &&
          !(r = dev_cat__key_num(x, arg, "scale", 0, 1, &c->arg_scale))) {
        c->arg_off = (uint8_t)off;
        if (c->arg_scale == 0)
          r = dev_cat__fail(x, dev_cat__get(x, arg, "scale"), "scale: must not be 0");
      }
      dev_cat__pop(x, o3);
      if (r)
        goto item;
    } else if (arg) {
      size_t o3 = dev_cat__push_key(x, "arg");
      r = dev_cat__fail(x, arg, "only with do: arg");
      dev_cat__pop(x, o3);
      goto item;
    }
    if ((r = dev_cat__parse_then(x, cm, m, c)))
      goto item;
    for (size_t j = 0; j < i; j++)
      if (cm->cmd[j].cluster == c->cluster && cm->cmd[j].command == c->command &&
          (cm->cmd[j].ep == c->ep || !cm->cmd[j].ep || !c->ep)) {
        r = dev_cat__fail(x, m, "cluster 0x%04X command 0x%02X listed twice (commands[%zu])",
                          c->cluster, c->command, j);
        goto item;
      }
  item:
    dev_cat__pop(x, o2);
    if (r)
      goto out;
  }
out:
  dev_cat__pop(x, o);
  return r;
}

int dev_cat__parse_triggers(struct cat_ld *x, struct dev_cat_model *cm, const yaml_node_t *model) {
  static const char *const keys[] = {"name", "do", "channel", "value", NULL};
  yaml_node_t *ts = dev_cat__get(x, model, "triggers");
  if (!ts)
    return 0;
  int r = 0;
  size_t o = dev_cat__push_key(x, "triggers");
  void *arr;
  if ((r = dev_cat__list_head(x, ts, "triggers", sizeof(*cm->trig), &arr, &cm->n_trig)))
    goto out;
  cm->trig = arr;
  for (size_t i = 0; i < cm->n_trig; i++) {
    yaml_node_t *m = node(x, ts->data.sequence.items.start[i]);
    struct dev_cat_trigger *t = &cm->trig[i];
    size_t o2 = dev_cat__push_idx(x, i);
    const char *name;
    int act;
    if ((r = dev_cat__check_map(x, m, keys)) ||
        (r = dev_cat__key_str(x, m, "name", 1, DEV_CAT_NAME_MAX - 1, NULL, &name)))
      goto item;
    {
      size_t o3 = dev_cat__push_key(x, "name");
      r = dev_cat__check_name(x, dev_cat__get(x, m, "name"), name);
      dev_cat__pop(x, o3);
      if (r)
        goto item;
    }
    snprintf(t->name, sizeof(t->name), "%s", name);
    if ((r = dev_cat__key_enum(x, m, "do", 1, 0, action_names, &act)) ||
        (r = dev_cat__key_chref(x, cm, m, "channel", 1, &t->ch)))
      goto item;
    if (act == 0 || act == DEV_DO_ARG || act == DEV_DO_STOP) {
      size_t o3 = dev_cat__push_key(x, "do");
      r = dev_cat__fail(x, dev_cat__get(x, m, "do"),
                        "expected set, on, off, toggle or detect, got \"%s\"",
                        sc(dev_cat__get(x, m, "do")));
      dev_cat__pop(x, o3);
      goto item;
    }
    t->action = (uint8_t)act;
    const struct dev_cat_channel *ch = &cm->ch[t->ch];
    if (act == DEV_DO_DETECT ? ch->kind != DEV_CH_BURSTS : !ch->is_event) {
      size_t o3 = dev_cat__push_key(x, "channel");
      r = dev_cat__fail(x, dev_cat__get(x, m, "channel"), "\"%s\" (%s) cannot be %s by a trigger",
                        ch->name, dev_cat__kind_name(ch->kind),
                        act == DEV_DO_DETECT ? "detected" : "set");
      dev_cat__pop(x, o3);
      goto item;
    }
    t->k = act == DEV_DO_DETECT ? NAN : 0;
    if (act == DEV_DO_SET || act == DEV_DO_DETECT) {
      if ((r = dev_cat__key_num(x, m, "value", act == DEV_DO_SET, t->k, &t->k)))
        goto item;
    } else if (dev_cat__get(x, m, "value")) {
      size_t o3 = dev_cat__push_key(x, "value");
      r = dev_cat__fail(x, dev_cat__get(x, m, "value"), "only with do: set or detect");
      dev_cat__pop(x, o3);
      goto item;
    }
    for (size_t j = 0; j < i; j++)
      if (strcmp(cm->trig[j].name, t->name) == 0) {
        r = dev_cat__fail(x, m, "trigger \"%s\" listed twice", t->name);
        goto item;
      }
  item:
    dev_cat__pop(x, o2);
    if (r)
      goto out;
  }
out:
  dev_cat__pop(x, o);
  return r;
}
