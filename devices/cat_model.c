/* The catalogue loader: one model (identity, power, endpoints, battery, link quality, chip
 * temperature) and its aliases, built from its parts (devices/cat_channels.c, cat_attrs.c) and
 * checked as a whole (cat_validate.c). */
#include "devices/cat_load_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "devices/generic.h"
#include "sim/core/err.h"

/* ---- endpoints ---------------------------------------------------------------------------- */

static int cluster_list(struct cat_ld *x, const yaml_node_t *m, const char *key,
                        const uint16_t **out, uint8_t *n) {
  yaml_node_t *v = dev_cat__get(x, m, key);
  *out = NULL;
  *n = 0;
  if (!v)
    return 0;
  int r = 0;
  size_t o = dev_cat__push_key(x, key);
  if (!is_seq(v) || seq_len(v) > DEV_CAT_CLUSTERS_MAX) {
    r = dev_cat__fail(x, v, "expected a list of at most %d cluster ids (what DeviceJoined carries)",
                      DEV_CAT_CLUSTERS_MAX);
    goto out;
  }
  *n = (uint8_t)seq_len(v);
  uint16_t *l = dev_cat__alloc(&x->ar, (*n ? *n : 1) * sizeof(*l));
  if (!l) {
    r = dev_cat__fail_oom(x);
    goto out;
  }
  for (size_t i = 0; i < *n; i++) {
    double d;
    size_t o2 = dev_cat__push_idx(x, i);
    r = dev_cat__inum(x, node(x, v->data.sequence.items.start[i]), 0, 65535, &d);
    dev_cat__pop(x, o2);
    if (r)
      goto out;
    l[i] = (uint16_t)d;
  }
  *out = l;
out:
  dev_cat__pop(x, o);
  return r;
}

/* Zigbee application endpoints are 1..240; 242 is the Green Power proxy endpoint real Zigbee
 * 3.0 devices announce. 241 and 243..254 are reserved, 0 is the device object, 255 broadcast. */
static int ep_id(struct cat_ld *x, const yaml_node_t *m, double id) {
  if (id != 241)
    return 0;
  size_t o = dev_cat__push_key(x, "id");
  int r = dev_cat__fail(x, dev_cat__get(x, m, "id"),
                        "241 is reserved (application endpoints are 1..240, 242 is "
                        "Green Power)");
  dev_cat__pop(x, o);
  return r;
}

static int parse_endpoints(struct cat_ld *x, struct dev_cat_model *cm, const yaml_node_t *model) {
  static const char *const keys[] = {"id", "profile", "device_id", "in", "out", NULL};
  yaml_node_t *eps;
  int r = dev_cat__require(x, model, "endpoints", &eps);
  if (r)
    return r;
  size_t o = dev_cat__push_key(x, "endpoints");
  if (!is_seq(eps) || seq_len(eps) == 0 || seq_len(eps) > DEV_CAT_ENDPOINTS_MAX) {
    r = dev_cat__fail(x, eps, "expected a list of 1 to %d endpoints (what DeviceJoined carries)",
                      DEV_CAT_ENDPOINTS_MAX);
    goto out;
  }
  size_t n = seq_len(eps);
  struct sim_model_endpoint *e = dev_cat__alloc(&x->ar, n * sizeof(*e));
  if (!e) {
    r = dev_cat__fail_oom(x);
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *m = node(x, eps->data.sequence.items.start[i]);
    size_t o2 = dev_cat__push_idx(x, i);
    double id = 0;
    if (!(r = dev_cat__check_map(x, m, keys)) &&
        !(r = dev_cat__key_int(x, m, "id", 1, 0, 1, 242, &id)) && !(r = ep_id(x, m, id)) &&
        !(r = dev_cat__key_u16(x, m, "profile", 1, 0, &e[i].profile)) &&
        !(r = dev_cat__key_u16(x, m, "device_id", 1, 0, &e[i].device_id)) &&
        !(r = cluster_list(x, m, "in", &e[i].in, &e[i].n_in)))
      r = cluster_list(x, m, "out", &e[i].out, &e[i].n_out);
    if (!r) /* (an id out of range is still in `id`: converting it would be undefined) */
      e[i].id = (uint8_t)id;
    for (size_t j = 0; !r && j < i; j++)
      if (e[j].id == e[i].id)
        r = dev_cat__fail(x, m, "endpoint %u listed twice", e[i].id);
    dev_cat__pop(x, o2);
    if (r)
      goto out;
  }
  cm->m.endpoints = e;
  cm->m.n_endpoints = (uint8_t)n;
out:
  dev_cat__pop(x, o);
  return r;
}

/* ---- battery, lqi, device_temp ------------------------------------------------------------ */

static int parse_battery(struct cat_ld *x, struct dev_cat_model *cm, const yaml_node_t *model) {
  static const char *const keys[] = {
      "fresh_mv", "empty_mv", "per_frame_uv", "per_day_uv", "percent_mv", "low_pct", NULL};
  yaml_node_t *b = dev_cat__get(x, model, "battery");
  int r = 0;
  if (!cm->has_battery) {
    if (b)
      return dev_cat__fail(x, b, "battery: only for power: battery");
    return 0;
  }
  if (!b)
    return dev_cat__fail(x, model, "missing required key \"battery\" (power: battery)");
  struct dev_cat_battery *bt = &cm->battery;
  double fresh[2], pct[2];
  size_t o = dev_cat__push_key(x, "battery");
  if ((r = dev_cat__check_map(x, b, keys)) ||
      (r = dev_cat__key_pair(x, b, "fresh_mv", 1, 0, 0, fresh)) ||
      (r = dev_cat__key_pos(x, b, "empty_mv", 1, 0, &bt->empty_mv)) ||
      (r = dev_cat__key_pos(x, b, "per_frame_uv", 1, 0, &bt->per_frame_uv)) ||
      (r = dev_cat__key_pos(x, b, "per_day_uv", 0, 0, &bt->per_day_uv)) ||
      (r = dev_cat__key_pair(x, b, "percent_mv", 1, 0, 0, pct)) ||
      (r = dev_cat__key_pos(x, b, "low_pct", 1, 0, &bt->low_pct)))
    goto out;
  bt->fresh_min_mv = fresh[0];
  bt->fresh_max_mv = fresh[1];
  bt->pct_min_mv = pct[0];
  bt->pct_max_mv = pct[1];
  /* The voltage is kept as microvolts in 32 bits. */
  if ((r = dev_cat__at_most(x, b, "fresh_mv", fresh[1], DEV_CAT_BATTERY_MAX_MV, "mV")) ||
      (r = dev_cat__at_most(x, b, "percent_mv", pct[1], DEV_CAT_BATTERY_MAX_MV, "mV")))
    goto out;
  if (bt->empty_mv > bt->fresh_min_mv)
    r = dev_cat__fail(x, b, "empty_mv must not be above fresh_mv");
  else if (pct[0] >= pct[1])
    r = dev_cat__fail(x, dev_cat__get(x, b, "percent_mv"),
                      "percent_mv: expected [min, max] with min < max");
  else if (bt->low_pct > 100)
    r = dev_cat__fail(x, dev_cat__get(x, b, "low_pct"), "low_pct: must be in [0, 100]");
out:
  dev_cat__pop(x, o);
  return r;
}

static int parse_lqi(struct cat_ld *x, struct dev_cat_model *cm, const yaml_node_t *model) {
  static const char *const keys[] = {"range", "drift", NULL};
  yaml_node_t *l = dev_cat__get(x, model, "lqi");
  double rg[2] = {120, 255};
  cm->lqi_min = 120;
  cm->lqi_max = 255;
  cm->lqi_drift = 2;
  if (!l)
    return 0;
  int r;
  size_t o = dev_cat__push_key(x, "lqi");
  if (!(r = dev_cat__check_map(x, l, keys)) &&
      !(r = dev_cat__key_pair(x, l, "range", 0, 120, 255, rg)) &&
      !(r = dev_cat__key_pos(x, l, "drift", 0, 2, &cm->lqi_drift))) {
    if (rg[0] < 0 || rg[1] > 255)
      r = dev_cat__fail(x, dev_cat__get(x, l, "range"), "range: must be within [0, 255]");
    cm->lqi_min = rg[0];
    cm->lqi_max = rg[1];
  }
  dev_cat__pop(x, o);
  return r;
}

/* device_temp's `power` names a channel, so it is read after the channels. */
static int parse_device_temp(struct cat_ld *x, struct dev_cat_model *cm, const yaml_node_t *model) {
  static const char *const keys[] = {"base", "spread", "power", "per_w", NULL};
  yaml_node_t *d = dev_cat__get(x, model, "device_temp");
  cm->device_temp_base = 25;
  cm->device_temp_spread = 3;
  cm->device_temp_per_w = 0;
  cm->device_temp_power = -1;
  if (!d)
    return 0;
  int r;
  size_t o = dev_cat__push_key(x, "device_temp");
  if (!(r = dev_cat__check_map(x, d, keys)) &&
      !(r = dev_cat__key_num(x, d, "base", 0, 25, &cm->device_temp_base)) &&
      !(r = dev_cat__key_pos(x, d, "spread", 0, 3, &cm->device_temp_spread)) &&
      !(r = dev_cat__key_chref(x, cm, d, "power", 0, &cm->device_temp_power)))
    r = dev_cat__key_num(x, d, "per_w", 0, 0, &cm->device_temp_per_w);
  dev_cat__pop(x, o);
  return r;
}

/* ---- models ------------------------------------------------------------------------------- */

/* Where model_id is already defined (this file or the catalogue), or NULL. */
static const struct dev_cat_model *find_loaded(struct cat_ld *x, const char *id) {
  const struct dev_cat_model *m = dev_cat_find(x->c, id);
  if (m)
    return m;
  for (size_t i = 0; i < x->n_models; i++)
    if (strcmp(x->models[i]->m.model_id, id) == 0)
      return x->models[i];
  return NULL;
}

static int add_model_ptr(struct cat_ld *x, struct dev_cat_model *cm) {
  if (x->n_models == x->cap_models) {
    size_t cap = x->cap_models ? 2 * x->cap_models : 16;
    struct dev_cat_model **p = realloc(x->models, cap * sizeof(*p));
    if (!p)
      return dev_cat__fail_oom(x);
    x->models = p;
    x->cap_models = cap;
  }
  x->models[x->n_models++] = cm;
  return 0;
}

#define ID_WHY "(a ZCL modelIdentifier)"

/* A model id (or alias) about to be added: not defined yet, and room for it in the registry.
 * Checking the count first keeps the search bounded. */
static int new_id(struct cat_ld *x, const yaml_node_t *v, const char *id) {
  if (x->c->n_models + x->n_models >= DEV_CAT_MODELS_MAX)
    return dev_cat__fail(x, v,
                         "model id \"%s\": the catalogue already holds %d model ids, the most the "
                         "engine can register",
                         id, DEV_CAT_MODELS_MAX);
  const struct dev_cat_model *prev = find_loaded(x, id);
  if (!prev)
    return 0;
  return dev_cat__fail(x, v, "duplicate model id \"%s\" (first defined at %s:%d)", id,
                       prev->source_file, prev->source_line);
}
int dev_cat__parse_model(struct cat_ld *x, const yaml_node_t *m) {
  static const char *const keys[] = {
      "id",          "aliases",     "vendor",       "vendor_model",
      "description", "category",    "manufacturer", "manufacturer_code",
      "ieee_oui",    "power",       "logical_type", "sleepy",
      "poll_s",      "zcl_version", "app_version",  "hw_version",
      "sw_build",    "join",        "latency_ms",   "endpoints",
      "battery",     "lqi",         "device_temp",  "channels",
      "attributes",  "heartbeat",   "commands",     "triggers",
      "chains",      NULL};
  static const char *const powers[] = {"mains", "battery", NULL};
  static const char *const logical[] = {"router", "end_device", NULL};
  static const char *const joins[] = {"announce", "legacy", NULL};
  int r, power, lt, join;
  double mc, oui, lat[2];
  struct dev_cat_model *cm = dev_cat__alloc(&x->ar, sizeof(*cm));
  if (!cm)
    return dev_cat__fail_oom(x);
  if ((r = dev_cat__check_map(x, m, keys)) ||
      (r = dev_cat__key_str(x, m, "id", 1, DEV_CAT_ID_MAX, ID_WHY, &cm->m.model_id)))
    return r;
  cm->source_file = dev_cat__strdup(x, x->file);
  if (!cm->source_file)
    return dev_cat__fail_oom(x);
  cm->source_line = dev_cat__node_line(m);
  {
    size_t o = dev_cat__push_key(x, "id");
    r = new_id(x, dev_cat__get(x, m, "id"), cm->m.model_id);
    dev_cat__pop(x, o);
    if (r)
      return r;
  }
  if ((r = dev_cat__key_str(x, m, "vendor", 1, DEV_CAT_LABEL_MAX, NULL, &cm->vendor)) ||
      (r = dev_cat__key_str(x, m, "vendor_model", 1, DEV_CAT_LABEL_MAX, NULL,
                            &cm->m.vendor_model)) ||
      (r = dev_cat__key_str(x, m, "description", 1, DEV_CAT_DESCRIPTION_MAX, NULL,
                            &cm->m.description)) ||
      (r = dev_cat__key_str(x, m, "category", 1, DEV_CAT_LABEL_MAX, NULL, &cm->category)) ||
      (r = dev_cat__key_str(x, m, "manufacturer", 1, DEV_CAT_ID_MAX, "(a ZCL manufacturerName)",
                            &cm->m.manufacturer)) ||
      (r = dev_cat__key_int(x, m, "manufacturer_code", 1, 0, 0, 0xFFFF, &mc)) ||
      (r = dev_cat__key_int(x, m, "ieee_oui", 1, 0, 0, 0xFFFFFF, &oui)) ||
      (r = dev_cat__key_enum(x, m, "power", 1, 0, powers, &power)) ||
      (r = dev_cat__key_enum(x, m, "logical_type", 1, 0, logical, &lt)) ||
      (r = dev_cat__key_bool(x, m, "sleepy", 1, 0, &cm->m.sleepy)) ||
      (r = dev_cat__key_u8(x, m, "zcl_version", 0, 1, &cm->zcl_version)) ||
      (r = dev_cat__key_u8(x, m, "app_version", 0, 1, &cm->app_version)) ||
      (r = dev_cat__key_u8(x, m, "hw_version", 0, 1, &cm->hw_version)) ||
      (r = dev_cat__key_str(x, m, "sw_build", 0, DEV_CAT_SW_BUILD_MAX, "(a ZCL swBuildId)",
                            &cm->sw_build)) ||
      (r = dev_cat__key_enum(x, m, "join", 1, 0, joins, &join)) ||
      (r = dev_cat__key_pair(x, m, "latency_ms", 0, 20, 60, lat)))
    return r;
  cm->m.manufacturer_code = (uint16_t)mc;
  cm->m.ieee_oui = (uint32_t)oui;
  cm->m.power_source = power ? SIM_POWER_BATTERY : SIM_POWER_MAINS;
  cm->has_battery = power == 1;
  cm->m.logical_type = lt ? SIM_LOGICAL_END_DEVICE : SIM_LOGICAL_ROUTER;
  cm->legacy_join = join == 1;
  cm->latency_min_ms = lat[0];
  cm->latency_max_ms = lat[1];
  if (lat[0] < 0)
    return dev_cat__fail(x, dev_cat__get(x, m, "latency_ms"), "latency_ms: must not be negative");
  if ((r = dev_cat__at_most(x, m, "latency_ms", lat[1], DEV_CAT_LATENCY_MAX_MS, "ms (10 minutes)")))
    return r;
  if (cm->m.sleepy) {
    if ((r = dev_cat__key_dur(x, m, "poll_s", 1, 0, &cm->poll_s)))
      return r;
    cm->m.poll_ms = (uint32_t)llround(cm->poll_s * 1000);
    if (cm->m.logical_type != SIM_LOGICAL_END_DEVICE)
      return dev_cat__fail(x, dev_cat__get(x, m, "sleepy"), "sleepy: only end devices sleep");
  } else if (dev_cat__get(x, m, "poll_s")) {
    return dev_cat__fail(x, dev_cat__get(x, m, "poll_s"), "poll_s: only for sleepy: true");
  }
  if ((r = parse_battery(x, cm, m)) || (r = parse_lqi(x, cm, m)) ||
      (r = parse_endpoints(x, cm, m)) || (r = dev_cat__parse_channels(x, cm, m)) ||
      (r = parse_device_temp(x, cm, m)) || (r = dev_cat__parse_attrs(x, cm, m)) ||
      (r = dev_cat__parse_same_frames(x, cm, m)) || (r = dev_cat__parse_heartbeat(x, cm, m)) ||
      (r = dev_cat__parse_commands(x, cm, m)) || (r = dev_cat__parse_triggers(x, cm, m)) ||
      (r = dev_cat__parse_chains(x, cm, m)) || (r = dev_cat__check_chains(x, cm, m)) ||
      (r = dev_cat__check_reads(x, cm, m)))
    return r;
  {
    size_t o = dev_cat__push_key(x, "id");
    r = dev_cat__join_frame_fits(x, cm, dev_cat__get(x, m, "id"), cm->m.model_id);
    dev_cat__pop(x, o);
    if (r)
      return r;
  }
  size_t bytes = dev_cat__layout(cm);
  if (bytes > SIM_DEV_STATE_BYTES)
    return dev_cat__fail(x, m,
                         "model \"%s\" needs %zu bytes of per-device state, more than the %d "
                         "available",
                         cm->m.model_id, bytes, SIM_DEV_STATE_BYTES);
  cm->state_bytes = (uint16_t)bytes;
  cm->m.ops = &dev_generic_ops;
  cm->m.params = cm;
  if ((r = add_model_ptr(x, cm)))
    return r;

  yaml_node_t *al = dev_cat__get(x, m, "aliases");
  if (!al)
    return 0;
  size_t o = dev_cat__push_key(x, "aliases");
  if (!is_seq(al)) {
    r = dev_cat__fail(x, al, "expected a list of model ids");
    goto out;
  }
  for (size_t i = 0; i < seq_len(al); i++) {
    yaml_node_t *v = node(x, al->data.sequence.items.start[i]);
    size_t o2 = dev_cat__push_idx(x, i);
    if (!(r = dev_cat__check_str(x, v, DEV_CAT_ID_MAX, ID_WHY)) && !(r = new_id(x, v, sc(v))))
      r = dev_cat__join_frame_fits(x, cm, v, sc(v));
    struct dev_cat_model *am = NULL;
    if (!r && !(am = dev_cat__alloc(&x->ar, sizeof(*am))))
      r = dev_cat__fail_oom(x);
    if (!r) {
      *am = *cm;
      am->alias_of_first = 1;
      am->m.params = am;
      if (!(am->m.model_id = dev_cat__strdup(x, sc(v))))
        r = dev_cat__fail_oom(x);
    }
    if (!r)
      r = add_model_ptr(x, am);
    dev_cat__pop(x, o2);
    if (r)
      goto out;
  }
out:
  dev_cat__pop(x, o);
  return r;
}
