/* /set and /get payloads into device commands. A payload is bounded (length, then nesting)
 * before jansson sees it; every key is checked against the model's exposes (access bits, type,
 * range, enum values) and then turned into the ZCL command zigbee2mqtt's toZigbee converter
 * sends (devices/z2m_map.c), which is what a hubrpc Command carries to a device
 * (struct sim_dev_cmd). Errors read like zigbee2mqtt's log lines, for <base>/bridge/logging. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/z2m_internal.h"
#include "sim/core/err.h"
#include "sim/wire/zcl.h"

/* Attribute and endpoint names in topics: zigbee2mqtt's are short words. */
#define Z2M_PROP_MAX 64

__attribute__((format(printf, 2, 3))) static int fail(struct dev_z2m_err *err, const char *fmt,
                                                      ...) {
  va_list ap;
  int n = snprintf(err->message, sizeof err->message, "z2m: ");
  va_start(ap, fmt);
  vsnprintf(err->message + n, sizeof err->message - (size_t)n, fmt, ap);
  va_end(ap);
  return SIM_EINVAL;
}

/* The payload quoted in a message: at most 40 bytes, printable ASCII only. */
static void quote(char *out, size_t cap, const char *p, size_t len) {
  size_t o = 0;
  for (size_t i = 0; i < len && o + 4 < cap && i < 40; i++)
    out[o++] = isprint((unsigned char)p[i]) ? p[i] : '?';
  if (len > 40 && o + 4 < cap) {
    memcpy(out + o, "...", 3);
    o += 3;
  }
  out[o] = 0;
}

/* The deepest nesting of objects and arrays outside strings, counted without recursion and
 * stopping past max. */
static int nesting(const char *p, size_t len, int max) {
  int depth = 0, in_str = 0;
  for (size_t i = 0; i < len; i++) {
    char c = p[i];
    if (in_str) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_str = 0;
    } else if (c == '"') {
      in_str = 1;
    } else if (c == '{' || c == '[') {
      if (++depth > max)
        return depth;
    } else if (c == '}' || c == ']') {
      depth--;
    }
  }
  return depth < 0 ? 0 : depth;
}

/* A bare word zigbee2mqtt reads as {"state": word} (any case). */
static int bare_state(const char *p, size_t len, char *out, size_t cap) {
  static const char *const words[] = {"ON",    "OFF",  "TOGGLE", "OPEN",
                                      "CLOSE", "STOP", "LOCK",   "UNLOCK"};
  if (len == 0 || len >= cap)
    return 0;
  for (size_t i = 0; i < len; i++)
    out[i] = (char)toupper((unsigned char)p[i]);
  out[len] = 0;
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (strcmp(out, words[i]) == 0)
      return 1;
  return 0;
}

/* The payload as a key -> value object, or NULL with *err filled. */
static json_t *payload_object(const char *name, const char *attr, const char *p, size_t len,
                              struct dev_z2m_err *err) {
  char q[64], word[8];
  quote(q, sizeof q, p, len);
  if (len > DEV_Z2M_PAYLOAD_MAX) {
    fail(err, "Invalid message for '%s': %zu bytes, more than %d", name, len, DEV_Z2M_PAYLOAD_MAX);
    return NULL;
  }
  if (nesting(p, len, DEV_Z2M_DEPTH_MAX) > DEV_Z2M_DEPTH_MAX) {
    fail(err, "Invalid message '%s' for '%s': nested deeper than %d", q, name, DEV_Z2M_DEPTH_MAX);
    return NULL;
  }
  json_error_t je;
  json_t *v = json_loadb(p, len, JSON_DECODE_ANY, &je);
  if (attr) { /* <name>/set/<attr>: the payload is the value, JSON or plain text */
    if (!v)
      v = json_stringn(p, len);
    json_t *o = v ? json_object() : NULL;
    if (!o || json_object_set_new(o, attr, v) != 0) {
      json_decref(o);
      fail(err, "Invalid message '%s' for '%s': not UTF-8 text", q, name);
      return NULL;
    }
    return o;
  }
  if (!v && bare_state(p, len, word, sizeof word))
    return json_pack("{ss}", "state", word);
  if (!json_is_object(v)) {
    fail(err, "Invalid message '%s' for '%s': %s", q, name, v ? "not a JSON object" : je.text);
    json_decref(v);
    return NULL;
  }
  return v;
}

static const struct dev_z2m_setrule *set_rule(const struct dev_z2m_model *zm, const char *prop) {
  const struct dev_z2m_table *t = zm->table;
  for (size_t i = 0; t && i < t->n_sets; i++)
    if (strcmp(t->sets[i].prop, prop) == 0)
      return &t->sets[i];
  return NULL;
}

/* Checks v against expose e: its type, its range or its values. NULL when it fits, else why. */
static const char *check_value(const json_t *e, const json_t *v) {
  const char *type = json_string_value(json_object_get(e, "type"));
  if (!type)
    return "the expose has no type";
  if (strcmp(type, "binary") == 0) {
    const char *keys[] = {"value_on", "value_off", "value_toggle"};
    for (int i = 0; i < 3; i++) {
      json_t *x = json_object_get(e, keys[i]);
      if (x && json_equal(x, (json_t *)v))
        return NULL;
    }
    return "not one of value_on, value_off, value_toggle";
  }
  if (strcmp(type, "numeric") == 0) {
    if (!json_is_number(v))
      return "not a number";
    double x = json_number_value(v);
    json_t *lo = json_object_get(e, "value_min"), *hi = json_object_get(e, "value_max");
    if ((lo && x < json_number_value(lo)) || (hi && x > json_number_value(hi)))
      return "out of range (value_min..value_max)";
    return NULL;
  }
  if (strcmp(type, "enum") == 0) {
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(e, "values"), i, x) {
      if (json_equal(x, (json_t *)v))
        return NULL;
    }
    return "not one of the values";
  }
  if (strcmp(type, "text") == 0)
    return json_is_string(v) ? NULL : "not a string";
  return "a composite value is not accepted";
}

static void put_le(uint8_t *b, size_t *n, uint64_t v, int size) {
  for (int i = 0; i < size; i++)
    b[(*n)++] = (uint8_t)(v >> (8 * i));
}

/* Appends one command; its payload is bytes[0..n). */
static struct dev_z2m_cmd *add_cmd(struct dev_z2m_cmds *out, uint8_t ep, uint16_t cluster,
                                   uint8_t command, int global, uint16_t mfr) {
  if (out->n >= DEV_Z2M_CMDS_MAX)
    return NULL;
  struct dev_z2m_cmd *c = &out->c[out->n++];
  memset(c, 0, sizeof *c);
  c->cmd = (struct sim_dev_cmd){.endpoint = ep,
                                .cluster = cluster,
                                .command = command,
                                .global = (uint8_t)global,
                                .manufacturer_code = mfr,
                                .payload = c->bytes};
  return c;
}

/* Write Attributes of rule r's attribute with x. NULL, or why not. */
static const char *put_write(struct dev_z2m_cmds *out, const struct dev_z2m_setrule *r, double x) {
  double lo = 0, hi = 0;
  int size = 0;
  switch (r->type) {
  case 0x10:
    size = 1, lo = 0, hi = 1;
    break;
  case 0x20:
    size = 1, lo = 0, hi = 255;
    break;
  case 0x23:
    size = 4, lo = 0, hi = 4294967295.0;
    break;
  case 0x29:
    size = 2, lo = -32768, hi = 32767;
    break;
  case 0x39:
    size = 4, lo = -3.4e38, hi = 3.4e38;
    break;
  default:
    return "no encoding for the attribute's type";
  }
  if (!(x >= lo && x <= hi))
    return "out of the range the device's attribute holds";
  struct dev_z2m_cmd *c = add_cmd(out, r->ep, r->cluster, SIM_ZCL_CMD_WRITE_ATTR, 1, r->mfr);
  if (!c)
    return "too many commands";
  size_t n = 0;
  put_le(c->bytes, &n, r->attr, 2);
  c->bytes[n++] = r->type;
  if (r->type == 0x39) {
    float f = (float)x;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    put_le(c->bytes, &n, u, 4);
  } else {
    put_le(c->bytes, &n, (uint64_t)(int64_t)llround(x), size);
  }
  c->cmd.len = n;
  return NULL;
}

/* The number a map gives value v (a string, or true / false), or why not. */
static const char *mapped(const char *map, const json_t *v, double *x) {
  const char *s = json_is_string(v)  ? json_string_value(v)
                  : json_is_true(v)  ? "true"
                  : json_is_false(v) ? "false"
                                     : NULL;
  if (!map || !s || dev__z2m_map_num(map, s, x) != 0)
    return "not a value the device takes";
  return NULL;
}

/* The command(s) of one checked key. NULL, or why not. */
static const char *encode_set(struct dev_z2m_cmds *out, const struct dev_z2m_model *zm,
                              const struct dev_z2m_setrule *r, const json_t *v) {
  json_t *e = dev__z2m_expose(zm, r->prop);
  double x = 0;
  struct dev_z2m_cmd *c;
  switch (r->act) {
  case DEV_Z2M_SET_ONOFF: {
    int cmd = json_equal((json_t *)v, json_object_get(e, "value_on"))    ? 1
              : json_equal((json_t *)v, json_object_get(e, "value_off")) ? 0
                                                                         : 2;
    return add_cmd(out, r->ep, 0x0006, (uint8_t)cmd, 0, 0) ? NULL : "too many commands";
  }
  case DEV_Z2M_SET_LEVEL:
  case DEV_Z2M_SET_CT: {
    int lvl = r->act == DEV_Z2M_SET_LEVEL;
    c = add_cmd(out, r->ep, r->cluster, lvl ? 0x04 : 0x0A, 0, 0);
    if (!c)
      return "too many commands";
    size_t n = 0;
    put_le(c->bytes, &n, (uint64_t)llround(json_number_value(v)), lvl ? 1 : 2);
    put_le(c->bytes, &n, 0, 2); /* transition time: at once */
    c->cmd.len = n;
    return NULL;
  }
  case DEV_Z2M_SET_COVER:
  case DEV_Z2M_SET_WRITE: {
    /* A cover's STOP is a command; OPEN and CLOSE write a position like any value. */
    if (r->act == DEV_Z2M_SET_COVER && json_is_string(v) &&
        strcmp(json_string_value(v), "STOP") == 0)
      return add_cmd(out, r->ep, 0x0102, 0x02, 0, 0) ? NULL : "too many commands";
    const char *why = r->map ? mapped(r->map, v, &x) : NULL;
    if (why)
      return why;
    if (!r->map)
      x = json_number_value(v) * (r->mul != 0 ? r->mul : 1);
    return put_write(out, r, x);
  }
  default:
    return "no converter";
  }
}

/* The property a key names: key, or key_<endpoint> for <name>/<endpoint>/set. */
static int prop_of(char *out, const char *key, const char *endpoint) {
  int n = endpoint ? snprintf(out, Z2M_PROP_MAX, "%s_%s", key, endpoint)
                   : snprintf(out, Z2M_PROP_MAX, "%s", key);
  return n > 0 && n < Z2M_PROP_MAX;
}

/* The Read Attributes command for prop: the attribute its state rule reads. */
static const char *encode_get(struct dev_z2m_cmds *out, const struct dev_z2m_model *zm,
                              const char *prop) {
  const struct dev_z2m_table *t = zm->table;
  for (size_t i = 0; t && i < t->n_rules; i++) {
    const struct dev_z2m_rule *r = &t->rules[i];
    if (r->tag != -1 || strcmp(r->prop, prop) != 0)
      continue;
    uint16_t mfr = r->cluster == 0xFCC0 || (r->cluster == 0 && r->attr >= 0xFF00) ? 0x115F : 0;
    struct dev_z2m_cmd *c =
        add_cmd(out, r->ep ? r->ep : 1, r->cluster, SIM_ZCL_CMD_READ_ATTR, 1, mfr);
    if (!c)
      return "too many commands";
    size_t n = 0;
    put_le(c->bytes, &n, r->attr, 2);
    c->cmd.len = n;
    return NULL;
  }
  return "the simulated device has no attribute for it";
}

static int parse(const struct dev_z2m_dev *zd, int set, const char *name, const char *endpoint,
                 const char *attr, const char *payload, size_t len, struct dev_z2m_cmds *out,
                 struct dev_z2m_err *err) {
  out->n = 0;
  if (!zd->zm)
    return SIM_ENOTFOUND;
  if (!payload)
    len = 0;
  json_t *o = payload_object(name, attr, payload ? payload : "", len, err);
  if (!o)
    return SIM_EINVAL;
  int rc = 0;
  const char *key;
  json_t *v;
  char prop[Z2M_PROP_MAX];
  json_object_foreach(o, key, v) {
    char *vs = dev__z2m_dump(v);
    json_t *e = prop_of(prop, key, endpoint) ? dev__z2m_expose(zd->zm, prop) : NULL;
    int bit = set ? 2 : 4;
    const char *why = NULL;
    const struct dev_z2m_setrule *r = set ? set_rule(zd->zm, prop) : NULL;
    if (!e || !(json_integer_value(json_object_get(e, "access")) & bit))
      rc = fail(err, "No converter available for '%s' on '%s': (%.64s)", key, name, vs ? vs : "?");
    else if (set && (why = check_value(e, v)) != NULL)
      rc = fail(err, "Publish 'set' '%s' to '%s' failed: '%.64s' is %s", key, name, vs ? vs : "?",
                why);
    else if (set && !r)
      rc = fail(err, "Publish 'set' '%s' to '%s' failed: the simulated device does not take it",
                key, name);
    else if ((why = set ? encode_set(out, zd->zm, r, v) : encode_get(out, zd->zm, prop)) != NULL)
      rc = fail(err, "Publish '%s' '%s' to '%s' failed: %s", set ? "set" : "get", key, name, why);
    free(vs);
    if (rc != 0)
      break;
  }
  json_decref(o);
  if (rc != 0)
    out->n = 0;
  return rc;
}

int dev_z2m_parse_set(const struct dev_z2m_dev *zd, const char *friendly_name,
                      const char *topic_endpoint, const char *topic_attr, const char *payload,
                      size_t len, struct dev_z2m_cmds *out, struct dev_z2m_err *err) {
  return parse(zd, 1, friendly_name, topic_endpoint, topic_attr, payload, len, out, err);
}

int dev_z2m_parse_get(const struct dev_z2m_dev *zd, const char *friendly_name,
                      const char *topic_endpoint, const char *topic_attr, const char *payload,
                      size_t len, struct dev_z2m_cmds *out, struct dev_z2m_err *err) {
  return parse(zd, 0, friendly_name, topic_endpoint, topic_attr, payload, len, out, err);
}

/* Copies p[0..n) into out (cap bytes) as a string; 0 or SIM_EINVAL when it does not fit or
 * holds a NUL. */
static int copy_part(char *out, size_t cap, const char *p, size_t n) {
  if (n >= cap || memchr(p, 0, n))
    return SIM_EINVAL;
  memcpy(out, p, n);
  out[n] = 0;
  return 0;
}

int dev_z2m_parse_topic(const char *base, const char *topic, size_t len,
                        int (*known)(void *arg, const char *name), void *arg,
                        struct dev_z2m_topic *out) {
  size_t bl = strlen(base);
  if (len <= bl + 1 || memcmp(topic, base, bl) != 0 || topic[bl] != '/')
    return SIM_ENOTFOUND;
  const char *rest = topic + bl + 1, *end = topic + len;
  if ((size_t)(end - rest) >= 6 && memcmp(rest, "bridge", 6) == 0)
    return SIM_ENOTFOUND;
  /* The lazy (.+?): the first "/set" or "/get" after at least one byte, ending the topic or
   * followed by "/" and at least one byte. */
  const char *cut = NULL;
  for (const char *q = rest + 1; q + 4 <= end && !cut; q++) {
    if (q[0] != '/' || (memcmp(q + 1, "set", 3) != 0 && memcmp(q + 1, "get", 3) != 0))
      continue;
    if (q + 4 == end || (q[4] == '/' && q + 5 < end))
      cut = q;
  }
  if (!cut)
    return SIM_ENOTFOUND;
  memset(out, 0, sizeof *out);
  out->set = cut[1] == 's';
  if (cut + 4 < end && copy_part(out->attr, sizeof out->attr, cut + 5, (size_t)(end - cut - 5)))
    return SIM_EINVAL;
  if (copy_part(out->name, sizeof out->name, rest, (size_t)(cut - rest)))
    return SIM_EINVAL;
  if (known(arg, out->name))
    return 0;
  char *slash = strrchr(out->name, '/');
  if (!slash || slash[1] == 0 || strlen(slash + 1) >= sizeof out->endpoint)
    return SIM_ENOTFOUND;
  *slash = 0;
  if (!known(arg, out->name))
    return SIM_ENOTFOUND;
  memcpy(out->endpoint, slash + 1, strlen(slash + 1) + 1);
  return 0;
}

char *dev_z2m_err_json(const struct dev_z2m_err *err) {
  json_t *j = json_pack("{ssss}", "level", "error", "message", err->message);
  char *s = j ? dev__z2m_dump(j) : NULL;
  json_decref(j);
  return s;
}
