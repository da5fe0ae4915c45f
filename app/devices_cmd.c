/* `hubsim devices list|show|sample`: what the catalogue holds and what its models send.
 *
 * Everything printed comes from the loaded catalogue (devices/cat_types.h) and, for `sample`, from
 * the frames the generic behaviour emits, decoded with the same hub-side decoder (sim/wire/zcl.h)
 * a hub uses before it forwards a report: what this command shows is what a platform receives.
 * Output formats are documented in docs/devices-cli.md; the JSON field names are an interface. */
#include "app/devices_cmd.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/devices_links.h"
#include "app/parse.h"
#include "devices/cat_global.h"
#include "devices/cat_load.h"
#include "devices/cat_sample.h"
#include "devices/cat_types.h"
#include "sim/core/err.h"
#include "sim/core/hex.h"
#include "sim/wire/zcl.h"
#include "sim/wire/zcl_names.h"

#define DEVICES_MAX_DIRS 16
#define DEVICES_DEFAULT_COUNT 20

/* ---- names ------------------------------------------------------------------------------- */

/* The type's name in the one ZCL type table (sim/wire/zcl.c): the catalogue's names
 * (docs/catalog.md) and the few other types a decoder may meet; "unknown" for the rest. */
static const char *type_name(uint8_t t) {
  const char *n = sim_zcl_type_label(t);
  return n ? n : "unknown";
}

/* A global command's name, "global" for one without a name. */
static const char *global_cmd_name(uint8_t c) {
  const char *n = sim_zcl_global_cmd_name(c);
  return n ? n : "global";
}

static const char *encode_name(uint8_t e) {
  static const char *const n[] = {"linear", "not", "log_lux", "zone_status", "map", "hex"};
  return e < sizeof n / sizeof n[0] ? n[e] : "?";
}

static const char *report_name(uint8_t r) {
  return r == DEV_REP_CHANGE ? "change" : r == DEV_REP_EVENT ? "event" : "none";
}

static const char *channel_kind_name(uint8_t k) {
  static const char *const n[] = {"?",           "walk",        "daylight",    "bursts",
                                  "two_state",   "actuator",    "meter",       "energy",
                                  "derive",      "const",       "direction",   "battery_mv",
                                  "battery_pct", "battery_low", "device_temp", "power_on",
                                  "triggers",    "parent",      "lqi",         "uptime_s"};
  return k < sizeof n / sizeof n[0] ? n[k] : "?";
}

static const char *power_name(uint8_t p) {
  return p == SIM_POWER_BATTERY ? "battery" : p == SIM_POWER_MAINS ? "mains" : "unknown";
}

static const char *logical_name(uint8_t l) {
  return l == SIM_LOGICAL_ROUTER       ? "router"
         : l == SIM_LOGICAL_END_DEVICE ? "end_device"
                                       : "unknown";
}

static const char *channel_name(const struct dev_cat_model *cm, int ch) {
  return ch >= 0 && ch < cm->n_ch ? cm->ch[ch].name : NULL;
}

/* The catalogue's name for an attribute a frame carries, or NULL. */
static const char *attr_name(const struct dev_cat_model *cm, uint8_t ep, uint16_t cluster,
                             uint16_t attr) {
  if (cm->hb.present && cluster == cm->hb.cluster && attr == cm->hb.attr)
    return "heartbeat";
  const char *any = NULL;
  for (int i = 0; i < cm->n_attr; i++) {
    const struct dev_cat_attr *a = &cm->attr[i];
    if (a->cluster == cluster && a->attr == attr) {
      if (a->ep == ep)
        return a->name;
      if (!any)
        any = a->name;
    }
  }
  if (any)
    return any;
  return cluster == 0x0000 ? sim_zcl_basic_attr_name(attr) : NULL;
}

static const struct dev_cat_tag *hb_tag(const struct dev_cat_model *cm, uint16_t tag) {
  for (int i = 0; i < cm->hb.n_tags; i++)
    if (cm->hb.tags[i].tag == tag)
      return &cm->hb.tags[i];
  return NULL;
}

static void iso_time(char *out, size_t cap, uint64_t wall_ms) {
  time_t t = (time_t)(wall_ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char b[32];
  strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, cap, "%s.%03uZ", b, (unsigned)(wall_ms % 1000));
}

/* ---- options ----------------------------------------------------------------------------- */

enum { SUB_LIST, SUB_SHOW, SUB_SAMPLE };
static const char *const sub_names[] = {"list", "show", "sample"};

struct dopts {
  int sub;
  int json;
  const char *dirs[DEVICES_MAX_DIRS];
  size_t n_dirs;
  const char *model;
  uint64_t seed;
  int count;       /* 0: none given */
  double duration; /* seconds; 0: none given */
};

static void usage_top(FILE *out) {
  fprintf(out,
          "usage: hubsim devices list [--json] [--catalog DIR]...\n"
          "       hubsim devices show MODEL [--json] [--catalog DIR]...\n"
          "       hubsim devices sample MODEL [--seed N] [--count N] [--duration D] [--json]\n"
          "                             [--catalog DIR]...\n"
          "\n"
          "The device models hubsim simulates (the built-in catalogue, devices/catalog/*.yaml,\n"
          "plus the *.yaml files of every --catalog DIR) and the frames they send.\n"
          "`hubsim devices COMMAND --help` describes a command. See docs/devices-cli.md.\n");
}

static void usage_sub(FILE *out, int sub) {
  switch (sub) {
  case SUB_LIST:
    fprintf(out, "usage: hubsim devices list [--json] [--catalog DIR]...\n"
                 "\n"
                 "Every device model id (aliases included) with its vendor model, category, power\n"
                 "source, Zigbee logical type and whether it sleeps; then the hub models.\n"
                 "\n"
                 "flags:\n"
                 "  --json          one JSON document {models:[...], hubs:[...]}\n"
                 "  --catalog DIR   also load the *.yaml catalogue files of DIR (repeatable)\n"
                 "  -h, --help      this text\n");
    break;
  case SUB_SHOW:
    fprintf(out,
            "usage: hubsim devices show MODEL [--json] [--catalog DIR]...\n"
            "\n"
            "Everything the catalogue says about MODEL: identity, node descriptor facts,\n"
            "endpoints and clusters, attributes (ids, types, scaling, units, reporting), the\n"
            "heartbeat and its TLV tags, commands, triggers, battery, per-device state bytes.\n"
            "\n"
            "flags:\n"
            "  --json          one JSON document\n"
            "  --catalog DIR   also load the *.yaml catalogue files of DIR (repeatable)\n"
            "  -h, --help      this text\n");
    break;
  default:
    fprintf(out,
            "usage: hubsim devices sample MODEL [--seed N] [--count N] [--duration D] [--json]\n"
            "                             [--catalog DIR]...\n"
            "\n"
            "Steps one device of MODEL alone (no network) from the moment it joins and prints\n"
            "every frame it sends: time, endpoint, cluster, the decoded ZCL (command,\n"
            "attributes, Xiaomi TLV members) and the raw ZCL frame in hex.\n"
            "\n"
            "flags:\n"
            "  --seed N        random seed (default 1): the same seed gives the same frames\n"
            "  --count N       stop after N frames (default %d when --duration is not given)\n"
            "  --duration D    stop at simulated time D (30s, 5m, 2h, 1d...)\n"
            "  --json          one JSON document {model, seed, frames:[...]}\n"
            "  --catalog DIR   also load the *.yaml catalogue files of DIR (repeatable)\n"
            "  -h, --help      this text\n",
            DEVICES_DEFAULT_COUNT);
    break;
  }
}

static int bad(int sub, const char *flag, const char *value, const char *why) {
  if (value)
    fprintf(stderr, "hubsim devices %s: %s '%s': %s (see hubsim devices %s --help)\n",
            sub_names[sub], flag, value, why, sub_names[sub]);
  else
    fprintf(stderr, "hubsim devices %s: %s: %s (see hubsim devices %s --help)\n", sub_names[sub],
            flag, why, sub_names[sub]);
  return 2;
}

/* Returns -1 to go on, else the exit code (help printed, or a usage error). */
static int parse(int argc, char **argv, struct dopts *o) {
  /* argv[0] = "devices", argv[1] = the subcommand */
  o->seed = 1;
  unsigned seen = 0; /* value flags given so far: each at most once (--catalog repeats) */
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char *val = NULL;
    char flag[64];
    /* --flag=value is accepted as well as --flag value */
    const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
    if (eq && (size_t)(eq - a) < sizeof flag) {
      memcpy(flag, a, (size_t)(eq - a));
      flag[eq - a] = 0;
      val = eq + 1;
      a = flag;
    }
    int takes = strcmp(a, "--catalog") == 0 || strcmp(a, "--seed") == 0 ||
                strcmp(a, "--count") == 0 || strcmp(a, "--duration") == 0;
    if (takes && !val) {
      if (i + 1 >= argc)
        return bad(o->sub, a, NULL, "expects a value");
      val = argv[++i];
    } else if (!takes && val) {
      return bad(o->sub, a, NULL, "takes no value");
    }
    unsigned bit = strcmp(a, "--seed") == 0       ? 1u
                   : strcmp(a, "--count") == 0    ? 2u
                   : strcmp(a, "--duration") == 0 ? 4u
                   : strcmp(a, "--json") == 0     ? 8u
                                                  : 0u;
    if (bit & seen)
      return bad(o->sub, a, val, "given twice");
    seen |= bit;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage_sub(stdout, o->sub);
      return 0;
    } else if (strcmp(a, "--json") == 0) {
      o->json = 1;
    } else if (strcmp(a, "--catalog") == 0) {
      if (!*val)
        return bad(o->sub, a, val, "expected a directory");
      if (o->n_dirs >= DEVICES_MAX_DIRS)
        return bad(o->sub, a, val, "at most 16 catalogue directories");
      o->dirs[o->n_dirs++] = val;
    } else if (o->sub == SUB_SAMPLE && strcmp(a, "--seed") == 0) {
      if (app_parse_u64(val, 0, UINT64_MAX, &o->seed) != 0)
        return bad(o->sub, a, val, "expected a whole number");
    } else if (o->sub == SUB_SAMPLE && strcmp(a, "--count") == 0) {
      uint64_t n;
      if (app_parse_u64(val, 1, 10000000, &n) != 0)
        return bad(o->sub, a, val, "expected a whole number from 1 to 10000000");
      o->count = (int)n;
    } else if (o->sub == SUB_SAMPLE && strcmp(a, "--duration") == 0) {
      double s;
      /* At most 49 days (docs/devices-cli.md): a longer sample is more frames than anyone
       * reads, and the bound keeps the duration in microseconds far from overflow. */
      if (app_parse_duration(val, 1, 49.0 * 86400, &s) != 0 || s <= 0)
        return bad(o->sub, a, val, "expected a positive duration up to 49d, such as 30s, 2h, 1d");
      o->duration = s;
    } else if (a[0] == '-' && a[1]) {
      return bad(o->sub, a, NULL, "unknown flag");
    } else if (o->sub != SUB_LIST && !o->model) {
      o->model = a;
    } else {
      return bad(o->sub, a, NULL, "unexpected argument");
    }
  }
  if (o->sub != SUB_LIST && !o->model) {
    fprintf(stderr, "hubsim devices %s: MODEL is missing (see hubsim devices list)\n",
            sub_names[o->sub]);
    return 2;
  }
  return -1;
}

static int load(const struct dopts *o) {
  struct dev_cat_error err;
  memset(&err, 0, sizeof err);
  int rc = dev_cat_global_init(o->n_dirs ? o->dirs : NULL, o->n_dirs, &err);
  if (rc != 0) {
    if (err.file[0] && err.line > 0)
      fprintf(stderr, "%s:%d: %s\n", err.file, err.line, err.reason);
    else if (err.file[0])
      fprintf(stderr, "%s: %s\n", err.file, err.reason[0] ? err.reason : sim_strerror(rc));
    else
      fprintf(stderr, "hubsim devices: cannot load the catalogue: %s\n",
              err.reason[0] ? err.reason : sim_strerror(rc));
    return rc == SIM_ENOMEM ? 3 : 2;
  }
  return 0;
}

static const struct dev_cat_model *find_model(const struct dopts *o) {
  const struct dev_cat_model *cm = dev_cat_find(dev_cat_global(), o->model);
  if (!cm)
    fprintf(stderr, "hubsim devices %s: unknown model \"%s\" (see hubsim devices list)\n",
            sub_names[o->sub], o->model);
  return cm;
}

/* The first id of a model registered under an alias (they share their tables), or NULL. */
static const char *alias_of(const struct dev_cat *c, const struct dev_cat_model *cm) {
  if (!cm->alias_of_first)
    return NULL;
  for (size_t i = 0; i < c->n_models; i++) {
    const struct dev_cat_model *x = c->models[i];
    if (!x->alias_of_first && x->attr == cm->attr && x->ch == cm->ch && x->hb.tags == cm->hb.tags)
      return x->m.model_id;
  }
  return NULL;
}

static int print_json(json_t *doc) {
  if (!doc) {
    fprintf(stderr, "hubsim devices: out of memory\n");
    return 3;
  }
  int rc = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  json_decref(doc);
  fputc('\n', stdout);
  return rc == 0 ? 0 : 3;
}

static json_t *real_or_null(double v) {
  return isfinite(v) ? json_real(v) : json_null();
}

/* ---- list -------------------------------------------------------------------------------- */

static int cmd_list(const struct dopts *o) {
  const struct dev_cat *c = dev_cat_global();
  if (o->json) {
    json_t *doc = json_object(), *ms = json_array(), *hs = json_array();
    for (size_t i = 0; i < c->n_models; i++) {
      const struct dev_cat_model *cm = c->models[i];
      const char *al = alias_of(c, cm);
      json_array_append_new(ms, json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:s, s:s, s:b, s:s?}",
                                          "id", cm->m.model_id, "vendor_model", cm->m.vendor_model,
                                          "description", cm->m.description, "category",
                                          cm->category, "manufacturer", cm->m.manufacturer, "power",
                                          power_name(cm->m.power_source), "logical_type",
                                          logical_name(cm->m.logical_type), "sleepy",
                                          cm->m.sleepy ? 1 : 0, "alias_of", al));
    }
    for (size_t i = 0; i < c->n_hubs; i++) {
      const struct dev_cat_hub *h = &c->hubs[i];
      json_array_append_new(hs, json_pack("{s:s, s:s?, s:s?, s:s?, s:I}", "id", h->model_id, "name",
                                          h->name, "vendor_model", h->vendor_model, "firmware",
                                          h->firmware, "max_devices", (json_int_t)h->max_devices));
    }
    json_object_set_new(doc, "models", ms);
    json_object_set_new(doc, "hubs", hs);
    return print_json(doc);
  }
  printf("%-28s %-16s %-30s %-8s %-10s %s\n", "MODEL", "VENDOR_MODEL", "CATEGORY", "POWER", "TYPE",
         "SLEEPY");
  for (size_t i = 0; i < c->n_models; i++) {
    const struct dev_cat_model *cm = c->models[i];
    const char *al = alias_of(c, cm);
    printf("%-28s %-16s %-30s %-8s %-10s %s", cm->m.model_id,
           cm->m.vendor_model ? cm->m.vendor_model : "-", cm->category ? cm->category : "-",
           power_name(cm->m.power_source), logical_name(cm->m.logical_type),
           cm->m.sleepy ? "yes" : "no");
    if (al)
      printf("  (alias of %s)", al);
    printf("\n");
  }
  printf("\n%-28s %-12s %-8s %s\n", "HUB", "FIRMWARE", "DEVICES", "NAME (VENDOR MODEL)");
  for (size_t i = 0; i < c->n_hubs; i++) {
    const struct dev_cat_hub *h = &c->hubs[i];
    printf("%-28s %-12s %-8u %s (%s)\n", h->model_id, h->firmware ? h->firmware : "-",
           (unsigned)h->max_devices, h->name ? h->name : "",
           h->vendor_model ? h->vendor_model : "-");
  }
  return 0;
}

/* ---- show -------------------------------------------------------------------------------- */

static json_t *value_json(const struct dev_cat_model *cm, const struct dev_cat_value *v) {
  json_t *o = json_object();
  const char *ch = channel_name(cm, v->ch);
  if (ch)
    json_object_set_new(o, "channel", json_string(ch));
  else
    json_object_set_new(o, "const", real_or_null(v->k));
  json_object_set_new(o, "type", json_integer(v->type));
  json_object_set_new(o, "type_name", json_string(type_name(v->type)));
  json_object_set_new(o, "encode", json_string(encode_name(v->encode)));
  json_object_set_new(o, "scale", real_or_null(v->scale));
  json_object_set_new(o, "offset", real_or_null(v->offset));
  if (v->encode == DEV_ENC_ZONE_STATUS)
    json_object_set_new(o, "bit", json_integer(v->bit));
  if (v->encode == DEV_ENC_HEX) {
    char h[DEV_CAT_BYTES_MAX * 2 + 1];
    sim_hex_encode(h, v->hex.b, v->hex.n, SIM_HEX_UPPER);
    json_object_set_new(o, "hex", json_string(h));
  }
  if (v->encode == DEV_ENC_MAP) {
    json_t *m = json_array();
    for (int i = 0; i < v->n_map; i++) {
      char h[DEV_CAT_BYTES_MAX * 2 + 1];
      sim_hex_encode(h, v->map_val[i].b, v->map_val[i].n, SIM_HEX_UPPER);
      json_array_append_new(m, json_pack("{s:f, s:s}", "key", v->map_key[i], "hex", h));
    }
    json_object_set_new(o, "map", m);
  }
  return o;
}

/* Text: "temperature x100", "const 5032", "contact (not)"... */
static void value_text(char *out, size_t cap, const struct dev_cat_model *cm,
                       const struct dev_cat_value *v) {
  const char *ch = channel_name(cm, v->ch);
  int n = ch ? snprintf(out, cap, "%s", ch) : snprintf(out, cap, "const %g", v->k);
  if (n < 0 || (size_t)n >= cap)
    return;
  size_t used = (size_t)n;
  if (v->encode != DEV_ENC_LINEAR) {
    n = snprintf(out + used, cap - used, " (%s", encode_name(v->encode));
    if (n > 0 && (size_t)n < cap - used)
      used += (size_t)n;
    if (v->encode == DEV_ENC_ZONE_STATUS) {
      n = snprintf(out + used, cap - used, " bit %u", v->bit);
      if (n > 0 && (size_t)n < cap - used)
        used += (size_t)n;
    }
    if (v->encode == DEV_ENC_HEX && v->hex.n * 2 + used + 2 < cap) {
      out[used++] = ' ';
      used += sim_hex_encode(out + used, v->hex.b, v->hex.n, SIM_HEX_UPPER);
    }
    if (used + 1 < cap) {
      out[used++] = ')';
      out[used] = 0;
    }
  }
  if (v->scale != 1 && v->offset != 0)
    snprintf(out + used, cap - used, " x%g %+g", v->scale, v->offset);
  else if (v->scale != 1)
    snprintf(out + used, cap - used, " x%g", v->scale);
  else if (v->offset != 0)
    snprintf(out + used, cap - used, " %+g", v->offset);
}

/* Who the model is: ids, vendor, source, power and radio. */
static void show_identity_json(json_t *o, const struct dev_cat_model *cm) {
  const struct dev_cat *c = dev_cat_global();
  const struct sim_model *m = &cm->m;
  json_object_set_new(o, "id", json_string(m->model_id));
  const char *al = alias_of(c, cm);
  json_object_set_new(o, "alias_of", al ? json_string(al) : json_null());
  json_t *aliases = json_array();
  for (size_t i = 0; i < c->n_models; i++) {
    const struct dev_cat_model *x = c->models[i];
    if (x != cm && x->source_file && cm->source_file && x->source_line == cm->source_line &&
        strcmp(x->source_file, cm->source_file) == 0)
      json_array_append_new(aliases, json_string(x->m.model_id));
  }
  json_object_set_new(o, "other_ids", aliases);
  json_object_set_new(o, "manufacturer",
                      m->manufacturer ? json_string(m->manufacturer) : json_null());
  json_object_set_new(o, "vendor_model",
                      m->vendor_model ? json_string(m->vendor_model) : json_null());
  json_object_set_new(o, "description", m->description ? json_string(m->description) : json_null());
  json_object_set_new(o, "category", cm->category ? json_string(cm->category) : json_null());
  json_object_set_new(o, "source",
                      json_pack("{s:s?, s:i}", "file", cm->source_file, "line", cm->source_line));
  json_object_set_new(o, "manufacturer_code", json_integer(m->manufacturer_code));
  json_object_set_new(o, "ieee_oui", json_integer((json_int_t)m->ieee_oui));
  json_object_set_new(o, "power", json_string(power_name(m->power_source)));
  json_object_set_new(o, "logical_type", json_string(logical_name(m->logical_type)));
  json_object_set_new(o, "sleepy", json_boolean(m->sleepy));
  json_object_set_new(o, "poll_s", real_or_null(cm->poll_s));
  json_object_set_new(o, "zcl_version", json_integer(cm->zcl_version));
  json_object_set_new(o, "app_version", json_integer(cm->app_version));
  json_object_set_new(o, "hw_version", json_integer(cm->hw_version));
  json_object_set_new(o, "sw_build", cm->sw_build ? json_string(cm->sw_build) : json_null());
  json_object_set_new(o, "join", json_string(cm->legacy_join ? "legacy" : "announce"));
  json_object_set_new(o, "latency_ms", json_pack("[f, f]", cm->latency_min_ms, cm->latency_max_ms));
  json_object_set_new(
      o, "lqi",
      json_pack("{s:[f, f], s:f}", "range", cm->lqi_min, cm->lqi_max, "drift", cm->lqi_drift));
}

/* Its endpoints and their clusters, and its behaviour channels. */
static void show_endpoints_json(json_t *o, const struct dev_cat_model *cm) {
  const struct sim_model *m = &cm->m;
  json_t *eps = json_array();
  for (int i = 0; i < m->n_endpoints; i++) {
    const struct sim_model_endpoint *e = &m->endpoints[i];
    json_t *in = json_array(), *out = json_array();
    for (int k = 0; k < e->n_in; k++)
      json_array_append_new(in, json_integer(e->in[k]));
    for (int k = 0; k < e->n_out; k++)
      json_array_append_new(out, json_integer(e->out[k]));
    json_array_append_new(eps,
                          json_pack("{s:i, s:i, s:i, s:o, s:o}", "id", e->id, "profile", e->profile,
                                    "device_id", e->device_id, "in", in, "out", out));
  }
  json_object_set_new(o, "endpoints", eps);

  json_t *chs = json_array();
  for (int i = 0; i < cm->n_ch; i++)
    json_array_append_new(chs, json_pack("{s:s, s:s, s:b}", "name", cm->ch[i].name, "kind",
                                         channel_kind_name(cm->ch[i].kind), "event",
                                         cm->ch[i].is_event ? 1 : 0));
  json_object_set_new(o, "channels", chs);
}

/* The attributes it reports and how. */
static void show_attrs_json(json_t *o, const struct dev_cat_model *cm) {
  json_t *attrs = json_array();
  for (int i = 0; i < cm->n_attr; i++) {
    const struct dev_cat_attr *a = &cm->attr[i];
    json_t *j = json_object();
    json_object_set_new(j, "name", json_string(a->name));
    json_object_set_new(j, "ep", json_integer(a->ep));
    json_object_set_new(j, "cluster", json_integer(a->cluster));
    json_object_set_new(j, "attr", json_integer(a->attr));
    json_object_set_new(j, "type", json_integer(a->v.type));
    json_object_set_new(j, "type_name", json_string(type_name(a->v.type)));
    json_object_set_new(j, "mfr", json_integer(a->mfr));
    json_object_set_new(j, "unit", a->unit[0] ? json_string(a->unit) : json_null());
    json_object_set_new(j, "value", value_json(cm, &a->v));
    json_t *rep = json_object();
    json_object_set_new(rep, "mode", json_string(report_name(a->report)));
    if (a->report == DEV_REP_CHANGE) {
      json_object_set_new(rep, "change", real_or_null(a->change));
      json_object_set_new(rep, "change_pct", real_or_null(a->change_pct));
      json_object_set_new(rep, "min_s", real_or_null(a->min_s));
      json_object_set_new(rep, "max_s", real_or_null(a->max_s));
    }
    json_object_set_new(j, "report", rep);
    json_object_set_new(j, "on_join", json_boolean(a->on_join));
    json_object_set_new(j, "as_zone_status", json_boolean(a->as_zone_status));
    json_object_set_new(j, "writable", json_boolean(a->writable));
    app_devices_attr_links_json(j, cm, a);
    json_array_append_new(attrs, j);
  }
  json_object_set_new(o, "attributes", attrs);
}

/* The Xiaomi heartbeat (null for a model without one). */
static void show_heartbeat_json(json_t *o, const struct dev_cat_model *cm) {
  if (cm->hb.present) {
    json_t *hb = json_object(), *tags = json_array();
    json_object_set_new(hb, "format", json_string(cm->hb.attr == 0xFF01 ? "ff01" : "00f7"));
    json_object_set_new(hb, "cluster", json_integer(cm->hb.cluster));
    json_object_set_new(hb, "attr", json_integer(cm->hb.attr));
    json_object_set_new(hb, "type", json_integer(cm->hb.type));
    json_object_set_new(hb, "type_name", json_string(type_name(cm->hb.type)));
    json_object_set_new(hb, "manufacturer_code", json_integer(0x115F));
    json_object_set_new(hb, "period_s",
                        json_pack("[f, f]", cm->hb.period_min_s, cm->hb.period_max_s));
    for (int i = 0; i < cm->hb.n_tags; i++) {
      const struct dev_cat_tag *t = &cm->hb.tags[i];
      json_t *v = value_json(cm, &t->v);
      json_object_set_new(v, "tag", json_integer(t->tag));
      json_array_append_new(tags, v);
    }
    json_object_set_new(hb, "tags", tags);
    json_object_set_new(o, "heartbeat", hb);
  } else {
    json_object_set_new(o, "heartbeat", json_null());
  }
}

/* What commands and scenario triggers do to it. */
static void show_actions_json(json_t *o, const struct dev_cat_model *cm) {
  json_t *cmds = json_array();
  for (int i = 0; i < cm->n_cmd; i++) {
    const struct dev_cat_command *k = &cm->cmd[i];
    json_t *j = json_pack("{s:i, s:i, s:i, s:s, s:s?}", "ep", k->ep, "cluster", k->cluster,
                          "command", k->command, "do", dev_cat_action_name(k->action), "channel",
                          channel_name(cm, k->ch));
    if (k->action == DEV_DO_SET || k->action == DEV_DO_DETECT)
      json_object_set_new(j, "value", real_or_null(k->k));
    if (k->action == DEV_DO_ARG)
      json_object_set_new(j, "arg",
                          json_pack("{s:i, s:i, s:s, s:f}", "offset", k->arg_off, "type",
                                    k->arg_type, "type_name", type_name(k->arg_type), "scale",
                                    k->arg_scale));
    app_devices_cmd_links_json(j, cm, k);
    json_array_append_new(cmds, j);
  }
  json_object_set_new(o, "commands", cmds);

  json_t *trigs = json_array();
  for (int i = 0; i < cm->n_trig; i++) {
    const struct dev_cat_trigger *t = &cm->trig[i];
    json_t *j = json_pack("{s:s, s:s, s:s?}", "name", t->name, "do", dev_cat_action_name(t->action),
                          "channel", channel_name(cm, t->ch));
    if (t->action == DEV_DO_SET || t->action == DEV_DO_DETECT)
      json_object_set_new(j, "value", real_or_null(t->k));
    json_array_append_new(trigs, j);
  }
  json_object_set_new(o, "triggers", trigs);
}

static json_t *show_json(const struct dev_cat_model *cm) {
  json_t *o = json_object();
  show_identity_json(o, cm);
  show_endpoints_json(o, cm);
  show_attrs_json(o, cm);
  show_heartbeat_json(o, cm);
  show_actions_json(o, cm);
  app_devices_chains_json(o, cm);
  if (cm->has_battery) {
    const struct dev_cat_battery *b = &cm->battery;
    json_object_set_new(o, "battery",
                        json_pack("{s:[f, f], s:f, s:f, s:f, s:[f, f], s:f}", "fresh_mv",
                                  b->fresh_min_mv, b->fresh_max_mv, "empty_mv", b->empty_mv,
                                  "per_frame_uv", b->per_frame_uv, "per_day_uv", b->per_day_uv,
                                  "percent_mv", b->pct_min_mv, b->pct_max_mv, "low_pct",
                                  b->low_pct));
  } else {
    json_object_set_new(o, "battery", json_null());
  }
  json_object_set_new(o, "state_bytes", json_integer(cm->state_bytes));
  json_object_set_new(o, "state_budget", json_integer(SIM_DEV_STATE_BYTES));
  return o;
}

static void print_clusters(const uint16_t *c, int n) {
  if (n == 0)
    printf(" -");
  for (int k = 0; k < n; k++) {
    const char *nm = sim_zcl_cluster_name(c[k]);
    printf(" 0x%04X%s%s%s", c[k], nm ? "(" : "", nm ? nm : "", nm ? ")" : "");
  }
  printf("\n");
}

static void show_text(const struct dev_cat_model *cm) {
  const struct dev_cat *c = dev_cat_global();
  const struct sim_model *m = &cm->m;
  const char *al = alias_of(c, cm);
  printf("%s", m->model_id);
  if (al)
    printf(" (alias of %s)", al);
  printf("\n  vendor model   %s\n  description    %s\n  category       %s\n",
         m->vendor_model ? m->vendor_model : "-", m->description ? m->description : "-",
         cm->category ? cm->category : "-");
  printf("  manufacturer   %s\n", m->manufacturer ? m->manufacturer : "-");
  if (cm->source_file)
    printf("  defined in     %s:%d\n", cm->source_file, cm->source_line);
  printf("node descriptor\n  manufacturer code 0x%04X\n  IEEE OUI       %02X:%02X:%02X\n",
         m->manufacturer_code, (unsigned)(m->ieee_oui >> 16) & 0xFF,
         (unsigned)(m->ieee_oui >> 8) & 0xFF, (unsigned)m->ieee_oui & 0xFF);
  printf("  power          %s\n  logical type   %s\n  sleepy         %s",
         power_name(m->power_source), logical_name(m->logical_type), m->sleepy ? "yes" : "no");
  if (m->sleepy && cm->poll_s > 0)
    printf(" (polls its parent every %gs)", cm->poll_s);
  else if (m->sleepy)
    printf(" (never polls: commands cannot reach it)");
  printf("\n  genBasic       zclVersion %u, applicationVersion %u, hwVersion %u, swBuildId %s\n",
         cm->zcl_version, cm->app_version, cm->hw_version, cm->sw_build ? cm->sw_build : "-");
  printf("  join           %s\n",
         cm->legacy_join ? "legacy (genBasic modelId + heartbeat in one report)" : "announce");
  printf("  command latency %g..%g ms; link quality %g..%g (drift %g)\n", cm->latency_min_ms,
         cm->latency_max_ms, cm->lqi_min, cm->lqi_max, cm->lqi_drift);
  printf("endpoints\n");
  for (int i = 0; i < m->n_endpoints; i++) {
    const struct sim_model_endpoint *e = &m->endpoints[i];
    printf("  %u  profile 0x%04X  device 0x%04X\n     in: ", e->id, e->profile, e->device_id);
    print_clusters(e->in, e->n_in);
    printf("     out:");
    print_clusters(e->out, e->n_out);
  }
  printf("attributes\n");
  for (int i = 0; i < cm->n_attr; i++) {
    const struct dev_cat_attr *a = &cm->attr[i];
    const char *cn = sim_zcl_cluster_name(a->cluster);
    char val[160];
    value_text(val, sizeof val, cm, &a->v);
    printf("  ep %u  0x%04X %-24s 0x%04X %-20s %s(0x%02X)", a->ep, a->cluster, cn ? cn : "",
           a->attr, a->name, type_name(a->v.type), a->v.type);
    if (a->mfr)
      printf(" mfr 0x%04X", a->mfr);
    printf("\n       value %s", val);
    if (a->unit[0])
      printf(" [%s]", a->unit);
    if (a->report == DEV_REP_CHANGE)
      printf("; report on change %g", a->change);
    if (a->report == DEV_REP_CHANGE && a->change_pct > 0)
      printf(" or %g%%", a->change_pct);
    if (a->report == DEV_REP_CHANGE)
      printf(", min %gs, max %gs", a->min_s, a->max_s);
    else if (a->report == DEV_REP_EVENT)
      printf("; report every event");
    else
      printf("; read only");
    if (a->as_zone_status)
      printf(" (as IAS zone status change notification)");
    if (a->on_join)
      printf("; on join");
    if (a->writable)
      printf("; writable");
    app_devices_attr_links_text(cm, a);
    printf("\n");
  }
  if (cm->hb.present) {
    printf("heartbeat\n  cluster 0x%04X attr 0x%04X type %s(0x%02X), manufacturer code 0x115F, "
           "every %g..%gs\n",
           cm->hb.cluster, cm->hb.attr, type_name(cm->hb.type), cm->hb.type, cm->hb.period_min_s,
           cm->hb.period_max_s);
    for (int i = 0; i < cm->hb.n_tags; i++) {
      const struct dev_cat_tag *t = &cm->hb.tags[i];
      char val[160];
      value_text(val, sizeof val, cm, &t->v);
      printf("  tag 0x%02X  %s(0x%02X)  %s\n", t->tag, type_name(t->v.type), t->v.type, val);
    }
  } else {
    printf("heartbeat\n  none\n");
  }
  printf("commands\n");
  if (cm->n_cmd == 0)
    printf("  none\n");
  for (int i = 0; i < cm->n_cmd; i++) {
    const struct dev_cat_command *k = &cm->cmd[i];
    const char *cn = sim_zcl_cluster_name(k->cluster);
    const char *ch = channel_name(cm, k->ch);
    printf("  0x%04X %-24s cmd 0x%02X  %s %s", k->cluster, cn ? cn : "", k->command,
           dev_cat_action_name(k->action), ch ? ch : "-");
    if (k->action == DEV_DO_SET)
      printf(" = %g", k->k);
    if (k->action == DEV_DO_ARG)
      printf(" = payload[%u] %s / %g", k->arg_off, type_name(k->arg_type), k->arg_scale);
    if (k->ep)
      printf(" (ep %u only)", k->ep);
    app_devices_cmd_links_text(cm, k);
    printf("\n");
  }
  printf("triggers\n");
  if (cm->n_trig == 0)
    printf("  none\n");
  for (int i = 0; i < cm->n_trig; i++) {
    const struct dev_cat_trigger *t = &cm->trig[i];
    const char *ch = channel_name(cm, t->ch);
    printf("  %-16s %s %s", t->name, dev_cat_action_name(t->action), ch ? ch : "-");
    if (t->action == DEV_DO_SET)
      printf(" = %g", t->k);
    printf("\n");
  }
  app_devices_chains_text(cm);
  if (cm->has_battery) {
    const struct dev_cat_battery *b = &cm->battery;
    printf("battery\n  fresh %g..%g mV, empty %g mV, %g uV per frame, %g uV per day; percent "
           "linear %g..%g mV, low below %g%%\n",
           b->fresh_min_mv, b->fresh_max_mv, b->empty_mv, b->per_frame_uv, b->per_day_uv,
           b->pct_min_mv, b->pct_max_mv, b->low_pct);
  }
  printf("channels\n");
  for (int i = 0; i < cm->n_ch; i++)
    printf("  %-20s %s%s\n", cm->ch[i].name, channel_kind_name(cm->ch[i].kind),
           cm->ch[i].is_event ? " (events)" : "");
  printf("state\n  %u of %d bytes per device\n", cm->state_bytes, SIM_DEV_STATE_BYTES);
}

static int cmd_show(const struct dopts *o) {
  const struct dev_cat_model *cm = find_model(o);
  if (!cm)
    return 2;
  if (o->json)
    return print_json(show_json(cm));
  show_text(cm);
  return 0;
}

/* ---- sample ------------------------------------------------------------------------------ */

#define SAMPLE_ATTRS_MAX 256

struct sampler {
  const struct dev_cat_model *cm;
  int json;
  json_t *frames;
  int failed; /* out of memory */
};

static json_t *attr_value_json(const struct sim_zcl_attr *a) {
  switch (a->kind) {
  case SIM_ZCL_KIND_BOOL:
    return json_boolean(a->v.b);
  case SIM_ZCL_KIND_UINT:
    return a->v.u <= (uint64_t)INT64_MAX ? json_integer((json_int_t)a->v.u)
                                         : json_real((double)a->v.u);
  case SIM_ZCL_KIND_INT:
    return json_integer((json_int_t)a->v.i);
  case SIM_ZCL_KIND_FLOAT:
    return real_or_null(a->v.f);
  case SIM_ZCL_KIND_STRING: {
    /* A char string is text on a real device, but the Xiaomi heartbeat hides binary TLVs in
     * one: only printable ASCII becomes a JSON string, anything else is null (see "hex"). */
    for (uint16_t i = 0; i < a->len; i++)
      if (a->data[i] < 0x20 || a->data[i] > 0x7E)
        return json_null();
    return json_stringn((const char *)a->data, a->len);
  }
  default:
    return json_null();
  }
}

static void attr_value_text(char *out, size_t cap, const struct sim_zcl_attr *a) {
  switch (a->kind) {
  case SIM_ZCL_KIND_BOOL:
    snprintf(out, cap, "%s", a->v.b ? "true" : "false");
    return;
  case SIM_ZCL_KIND_UINT:
    snprintf(out, cap, "%llu", (unsigned long long)a->v.u);
    return;
  case SIM_ZCL_KIND_INT:
    snprintf(out, cap, "%lld", (long long)a->v.i);
    return;
  case SIM_ZCL_KIND_FLOAT:
    snprintf(out, cap, "%.9g", a->v.f);
    return;
  default:
    break;
  }
  int printable = a->kind == SIM_ZCL_KIND_STRING;
  for (uint16_t i = 0; printable && i < a->len; i++)
    if (a->data[i] < 0x20 || a->data[i] > 0x7E)
      printable = 0;
  if (printable) {
    snprintf(out, cap, "\"%.*s\"", (int)a->len, (const char *)a->data);
    return;
  }
  /* binary content: octets, structs, and char strings that hide binary (the heartbeat) */
  if ((size_t)a->len * 2 + 3 < cap) {
    out[0] = '[';
    sim_hex_encode(out + 1, a->data, a->len, SIM_HEX_UPPER);
    strcat(out, "]");
  } else {
    snprintf(out, cap, "[%u bytes]", a->len);
  }
}

/* The engineering value of a wire value, when the catalogue says how (linear encoding of a
 * channel): what a platform should display. */
static int scaled(const struct dev_cat_value *v, const struct sim_zcl_attr *a, double *out) {
  if (v->encode != DEV_ENC_LINEAR || v->ch < 0 || v->scale == 0)
    return 0;
  double w;
  if (a->kind == SIM_ZCL_KIND_UINT)
    w = (double)a->v.u;
  else if (a->kind == SIM_ZCL_KIND_INT)
    w = (double)a->v.i;
  else if (a->kind == SIM_ZCL_KIND_FLOAT)
    w = a->v.f;
  else if (a->kind == SIM_ZCL_KIND_BOOL)
    w = a->v.b;
  else
    return 0;
  if (v->scale == 1 && v->offset == 0)
    return 0;
  *out = (w - v->offset) / v->scale;
  return 1;
}

static const struct dev_cat_attr *cat_attr(const struct dev_cat_model *cm, uint8_t ep,
                                           uint16_t cluster, uint16_t attr) {
  const struct dev_cat_attr *any = NULL;
  for (int i = 0; i < cm->n_attr; i++) {
    const struct dev_cat_attr *a = &cm->attr[i];
    if (a->cluster == cluster && a->attr == attr) {
      if (a->ep == ep)
        return a;
      if (!any)
        any = a;
    }
  }
  return any;
}

/* A sample frame decoded as a hub decodes it, for both outputs. */
struct decoded {
  struct sim_zcl_header h;
  int hrc, drc; /* the header's and the attributes' decoding: 0 or an error */
  struct sim_zcl_attr attrs[SAMPLE_ATTRS_MAX];
  size_t n_top, n_total;
  int specific; /* a cluster-specific command (no attribute records) */
  int zone;     /* an IAS Zone Status Change Notification */
  const char *cluster_name;
  const uint8_t *payload; /* after the header; NULL when the header is undecodable */
  size_t plen;
  char iso[40];
};

static void frame_decode(const struct dev_sample_frame *f, struct decoded *d) {
  d->hrc = sim_zcl_parse_header(f->zcl, f->len, &d->h);
  d->n_top = d->n_total = 0;
  d->drc = d->hrc == 0 ? sim_zcl_decode_attrs(f->cluster, f->zcl, f->len, d->attrs,
                                              SAMPLE_ATTRS_MAX, &d->n_top, &d->n_total)
                       : d->hrc;
  d->specific = d->hrc == 0 && (d->h.frame_control & SIM_ZCL_FC_CLUSTER_SPECIFIC);
  d->cluster_name = sim_zcl_cluster_name(f->cluster);
  d->payload = d->hrc == 0 ? f->zcl + d->h.header_len : NULL;
  d->plen = d->hrc == 0 ? f->len - d->h.header_len : 0;
  /* IAS Zone Status Change Notification (the only cluster-specific command a catalogue model
   * sends): zoneStatus u16, extendedStatus u8, zoneId u8, delay u16 */
  d->zone = d->specific && f->cluster == 0x0500 && d->h.command == 0x00 && d->plen >= 6;
  iso_time(d->iso, sizeof d->iso, f->wall_ms);
}

/* The TLV members of a struct attribute (the Xiaomi heartbeat), named from the catalogue. */
static json_t *members_json(const struct dev_cat_model *cm, const struct decoded *d,
                            const struct sim_zcl_attr *a) {
  json_t *tl = json_array();
  for (uint16_t k = 0; k < a->n_members; k++) {
    const struct sim_zcl_attr *t = &d->attrs[a->first_member + k];
    const struct dev_cat_tag *ct = hb_tag(cm, t->id);
    json_t *jt = json_object();
    double sv;
    json_object_set_new(jt, "tag", json_integer(t->id));
    const char *tn = ct ? channel_name(cm, ct->v.ch) : NULL;
    json_object_set_new(jt, "name", tn ? json_string(tn) : json_null());
    json_object_set_new(jt, "type", json_integer(t->type));
    json_object_set_new(jt, "type_name", json_string(type_name(t->type)));
    json_object_set_new(jt, "value", attr_value_json(t));
    if (ct && scaled(&ct->v, t, &sv))
      json_object_set_new(jt, "scaled", real_or_null(sv));
    json_array_append_new(tl, jt);
  }
  return tl;
}

/* One attribute record of a frame, as JSON. */
static json_t *attr_json(const struct dev_cat_model *cm, const struct dev_sample_frame *f,
                         const struct decoded *d, const struct sim_zcl_attr *a) {
  const char *nm = attr_name(cm, f->endpoint, f->cluster, a->id);
  json_t *ja = json_object();
  json_object_set_new(ja, "id", json_integer(a->id));
  json_object_set_new(ja, "name", nm ? json_string(nm) : json_null());
  json_object_set_new(ja, "type", json_integer(a->type));
  json_object_set_new(ja, "type_name", json_string(type_name(a->type)));
  json_object_set_new(ja, "value", attr_value_json(a));
  if (a->kind == SIM_ZCL_KIND_STRING || a->kind == SIM_ZCL_KIND_OCTETS ||
      a->kind == SIM_ZCL_KIND_STRUCT) {
    char *vh = sim_hex_dup(a->data, a->len, SIM_HEX_UPPER);
    json_object_set_new(ja, "hex", vh ? json_string(vh) : json_null());
    free(vh);
  }
  const struct dev_cat_attr *ca = cat_attr(cm, f->endpoint, f->cluster, a->id);
  double sv;
  if (ca && scaled(&ca->v, a, &sv)) {
    json_object_set_new(ja, "scaled", real_or_null(sv));
    json_object_set_new(ja, "unit", ca->unit[0] ? json_string(ca->unit) : json_null());
  } else if (ca && ca->unit[0]) {
    json_object_set_new(ja, "unit", json_string(ca->unit));
  }
  if (a->n_members)
    json_object_set_new(ja, "tlv", members_json(cm, d, a));
  return ja;
}

/* The frame's header fields, as JSON (only when the header decodes). */
static void header_json(json_t *j, const struct decoded *d) {
  const struct sim_zcl_header *h = &d->h;
  json_object_set_new(j, "frame_control", json_integer(h->frame_control));
  json_object_set_new(j, "manufacturer_code",
                      (h->frame_control & SIM_ZCL_FC_MANUFACTURER)
                          ? json_integer(h->manufacturer_code)
                          : json_null());
  json_object_set_new(j, "tsn", json_integer(h->tsn));
  json_object_set_new(j, "cluster_specific", json_boolean(d->specific));
  json_object_set_new(j, "command", json_integer(h->command));
  json_object_set_new(j, "command_name",
                      json_string(d->zone       ? "zone_status_change_notification"
                                  : d->specific ? "cluster_specific"
                                                : global_cmd_name(h->command)));
}

/* One frame as an element of the JSON array (docs/devices-cli.md). */
static int frame_json(struct sampler *s, const struct dev_sample_frame *f,
                      const struct decoded *d) {
  json_t *j = json_object();
  char *fh = sim_hex_dup(f->zcl, f->len, SIM_HEX_UPPER);
  json_object_set_new(j, "index", json_integer(f->index));
  json_object_set_new(j, "t_us", json_integer((json_int_t)f->t));
  json_object_set_new(j, "wall_ms", json_integer((json_int_t)f->wall_ms));
  json_object_set_new(j, "time", json_string(d->iso));
  json_object_set_new(j, "endpoint", json_integer(f->endpoint));
  json_object_set_new(j, "cluster", json_integer(f->cluster));
  json_object_set_new(j, "cluster_name",
                      d->cluster_name ? json_string(d->cluster_name) : json_null());
  json_object_set_new(j, "frame_hex", fh ? json_string(fh) : json_null());
  free(fh);
  if (d->hrc == 0)
    header_json(j, d);
  if (d->drc != 0)
    json_object_set_new(j, "decode_error", json_string(sim_strerror(d->drc)));
  json_t *as = json_array();
  for (size_t i = 0; d->drc == 0 && !d->specific && i < d->n_top; i++)
    json_array_append_new(as, attr_json(s->cm, f, d, &d->attrs[i]));
  json_object_set_new(j, "attributes", as);
  if (d->specific && d->payload) {
    char *ph = sim_hex_dup(d->payload, d->plen, SIM_HEX_UPPER);
    json_object_set_new(j, "payload_hex", ph ? json_string(ph) : json_null());
    free(ph);
  }
  if (d->zone) {
    const uint8_t *p = d->payload;
    unsigned zs = p[0] | (unsigned)p[1] << 8;
    json_object_set_new(j, "zone_status",
                        json_pack("{s:i, s:i, s:i, s:i}", "zone_status", (int)zs, "extended_status",
                                  p[2], "zone_id", p[3], "delay", p[4] | p[5] << 8));
  }
  if (json_array_append_new(s->frames, j) != 0)
    s->failed = 1;
  return s->failed;
}

/* One attribute record of a frame, as text lines (its TLV members indented below it). */
static void attr_text(const struct dev_cat_model *cm, const struct dev_sample_frame *f,
                      const struct decoded *d, const struct sim_zcl_attr *a) {
  const char *nm = attr_name(cm, f->endpoint, f->cluster, a->id);
  char val[600];
  if (a->n_members)
    snprintf(val, sizeof val, "(%u TLV members)", a->n_members);
  else
    attr_value_text(val, sizeof val, a);
  printf("    0x%04X %-20s %s(0x%02X) = %s", a->id, nm ? nm : "", type_name(a->type), a->type, val);
  const struct dev_cat_attr *ca = cat_attr(cm, f->endpoint, f->cluster, a->id);
  double sv;
  if (ca && scaled(&ca->v, a, &sv))
    printf("  -> %g %s", sv, ca->unit);
  else if (ca && ca->unit[0])
    printf(" %s", ca->unit);
  printf("\n");
  for (uint16_t k = 0; k < a->n_members; k++) {
    const struct sim_zcl_attr *t = &d->attrs[a->first_member + k];
    const struct dev_cat_tag *ct = hb_tag(cm, t->id);
    const char *tn = ct ? channel_name(cm, ct->v.ch) : NULL;
    attr_value_text(val, sizeof val, t);
    printf("      tag 0x%02X %-16s %s(0x%02X) = %s", t->id, tn ? tn : "", type_name(t->type),
           t->type, val);
    if (ct && scaled(&ct->v, t, &sv))
      printf("  -> %g", sv);
    printf("\n");
  }
}

/* One frame as text (docs/devices-cli.md). */
static int frame_text(struct sampler *s, const struct dev_sample_frame *f,
                      const struct decoded *d) {
  const struct sim_zcl_header *h = &d->h;
  printf("#%d  +%.3fs  %s  ep %u  cluster 0x%04X %s\n", f->index, (double)f->t / 1e6, d->iso,
         f->endpoint, f->cluster, d->cluster_name ? d->cluster_name : "");
  if (d->hrc != 0) {
    printf("    undecodable header (%s)\n", sim_strerror(d->hrc));
  } else {
    printf("    %s 0x%02X",
           d->zone       ? "zone status change notification"
           : d->specific ? "cluster command"
                         : global_cmd_name(h->command),
           h->command);
    if (h->frame_control & SIM_ZCL_FC_MANUFACTURER)
      printf("  manufacturer 0x%04X", h->manufacturer_code);
    printf("  tsn %u  fc 0x%02X\n", h->tsn, h->frame_control);
  }
  if (d->drc != 0 && d->hrc == 0)
    printf("    attributes undecodable (%s)\n", sim_strerror(d->drc));
  for (size_t i = 0; d->drc == 0 && !d->specific && i < d->n_top; i++)
    attr_text(s->cm, f, d, &d->attrs[i]);
  const uint8_t *p = d->payload;
  if (d->zone)
    printf("    zoneStatus 0x%04X  extendedStatus 0x%02X  zoneId %u  delay %u\n",
           p[0] | (unsigned)p[1] << 8, p[2], p[3], p[4] | (unsigned)p[5] << 8);
  else if (d->specific && p && d->plen) {
    char *ph = sim_hex_dup(p, d->plen, SIM_HEX_UPPER | SIM_HEX_SPACED);
    printf("    payload %s\n", ph ? ph : "?");
    free(ph);
  }
  char *fh = sim_hex_dup(f->zcl, f->len, SIM_HEX_UPPER | SIM_HEX_SPACED);
  printf("    zcl %s\n", fh ? fh : "?");
  free(fh);
  return 0;
}

static int on_frame(void *arg, const struct dev_sample_frame *f) {
  struct sampler *s = arg;
  struct decoded d;
  frame_decode(f, &d);
  return s->json ? frame_json(s, f, &d) : frame_text(s, f, &d);
}

static int cmd_sample(const struct dopts *o) {
  const struct dev_cat_model *cm = find_model(o);
  if (!cm)
    return 2;
  struct dev_sample_opts so = {
      .model_id = cm->m.model_id,
      .seed = o->seed,
      .max_frames = o->count ? o->count : (o->duration > 0 ? 0 : DEVICES_DEFAULT_COUNT),
      .duration = (sim_time_t)llround(o->duration * 1e6),
  };
  struct sampler s = {.cm = cm, .json = o->json};
  if (o->json) {
    s.frames = json_array();
    if (!s.frames)
      return print_json(NULL);
  } else {
    printf("%s  seed %llu  (frames as the hub receives them; times since the device joined)\n",
           cm->m.model_id, (unsigned long long)o->seed);
  }
  int n = dev_sample_run(&so, on_frame, &s);
  if (n < 0) {
    json_decref(s.frames);
    fprintf(stderr, "hubsim devices sample: %s: %s\n", cm->m.model_id, sim_strerror(n));
    return n == SIM_ENOTFOUND || n == SIM_EINVAL ? 2 : 3;
  }
  if (s.failed) {
    json_decref(s.frames);
    return print_json(NULL);
  }
  if (o->json) {
    json_t *doc = json_object();
    json_object_set_new(doc, "model", json_string(cm->m.model_id));
    json_object_set_new(doc, "seed", json_integer((json_int_t)o->seed));
    json_object_set_new(doc, "start_wall_ms", json_integer(1767225600000LL));
    json_object_set_new(doc, "count", json_integer(n));
    json_object_set_new(doc, "frames", s.frames);
    return print_json(doc);
  }
  printf("%d frame%s\n", n, n == 1 ? "" : "s");
  return 0;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

int app_devices_main(int argc, char **argv) {
  if (argc < 2) {
    usage_top(stderr);
    return 2;
  }
  const char *sub = argv[1];
  if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
    usage_top(stdout);
    return 0;
  }
  struct dopts o;
  memset(&o, 0, sizeof o);
  if (strcmp(sub, "list") == 0)
    o.sub = SUB_LIST;
  else if (strcmp(sub, "show") == 0)
    o.sub = SUB_SHOW;
  else if (strcmp(sub, "sample") == 0)
    o.sub = SUB_SAMPLE;
  else {
    fprintf(stderr, "hubsim devices: unknown command '%s' (try hubsim devices --help)\n", sub);
    return 2;
  }
  int rc = parse(argc, argv, &o);
  if (rc >= 0)
    return rc;
  rc = load(&o);
  if (rc != 0)
    return rc;
  switch (o.sub) {
  case SUB_LIST:
    return cmd_list(&o);
  case SUB_SHOW:
    return cmd_show(&o);
  default:
    return cmd_sample(&o);
  }
}
