/* The catalogue loader's reading of YAML nodes: errors that name FILE:LINE and the key path,
 * mappings with a fixed set of keys, and typed values (numbers, integers, durations, strings,
 * enumerations, pairs, ZCL types, hex), each checked against the limits of devices/cat_types.h so
 * that a value that loads is never cut or clamped later. */
#include "devices/cat_load_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sim/core/err.h"
#include "sim/core/hex.h"
#include "sim/core/utf8.h"
#include "sim/wire/zcl.h"

int dev_cat__node_line(const yaml_node_t *n) {
  return n ? (int)n->start_mark.line + 1 : 0;
}

/* Fills the error with the node's line and "path: reason". Returns SIM_EINVAL. */
int dev_cat__fail(struct cat_ld *x, const yaml_node_t *n, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (x->err) {
    snprintf(x->err->file, sizeof(x->err->file), "%s", x->file);
    x->err->line = dev_cat__node_line(n);
    /* Built in a buffer that always fits, then cut to the reason's size. */
    char full[sizeof(x->path) + sizeof(msg) + 4];
    snprintf(full, sizeof(full), "%s%s%s", x->path, x->plen ? ": " : "", msg);
    snprintf(x->err->reason, sizeof(x->err->reason), "%.*s", (int)sizeof(x->err->reason) - 1, full);
  }
  return SIM_EINVAL;
}

int dev_cat__fail_oom(struct cat_ld *x) {
  x->oom = 1;
  if (x->err) {
    snprintf(x->err->file, sizeof(x->err->file), "%s", x->file);
    x->err->line = 0;
    snprintf(x->err->reason, sizeof(x->err->reason), "out of memory");
  }
  return SIM_ENOMEM;
}

/* Path handling: push returns the old length, pop restores it. */
size_t dev_cat__push_key(struct cat_ld *x, const char *key) {
  size_t old = x->plen;
  int n = snprintf(x->path + x->plen, sizeof(x->path) - x->plen, "%s%s", x->plen ? "." : "", key);
  if (n > 0)
    x->plen = strnlen(x->path, sizeof(x->path) - 1);
  return old;
}

size_t dev_cat__push_idx(struct cat_ld *x, size_t i) {
  size_t old = x->plen;
  int n = snprintf(x->path + x->plen, sizeof(x->path) - x->plen, "[%zu]", i);
  if (n > 0)
    x->plen = strnlen(x->path, sizeof(x->path) - 1);
  return old;
}

void dev_cat__pop(struct cat_ld *x, size_t old) {
  x->plen = old;
  x->path[old] = '\0';
}

char *dev_cat__strdup(struct cat_ld *x, const char *s) {
  size_t n = strlen(s);
  char *p = dev_cat__alloc(&x->ar, n + 1);
  if (!p)
    return NULL;
  memcpy(p, s, n + 1);
  return p;
}
/* ---- mappings: allowed keys, lookup ------------------------------------------------------- */

/* Checks that n is a mapping whose keys are scalars, all in allowed (NULL-terminated), none
 * twice. what names the mapping in the message ("a mapping"). */
int dev_cat__check_map(struct cat_ld *x, const yaml_node_t *n, const char *const *allowed) {
  if (!n || n->type != YAML_MAPPING_NODE)
    return dev_cat__fail(x, n, "expected a mapping");
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
    yaml_node_t *k = node(x, p->key);
    if (!is_scalar(k))
      return dev_cat__fail(x, k, "keys must be plain names");
    int ok = 0;
    for (const char *const *a = allowed; *a; a++)
      if (strcmp(sc(k), *a) == 0)
        ok = 1;
    if (!ok)
      return dev_cat__fail(x, k, "unknown key \"%s\"", sc(k));
    for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++)
      if (strcmp(sc(node(x, q->key)), sc(k)) == 0)
        return dev_cat__fail(x, k, "key \"%s\" given twice", sc(k));
  }
  return 0;
}

/* The value of key in mapping n (already checked), or NULL. */
yaml_node_t *dev_cat__get(struct cat_ld *x, const yaml_node_t *n, const char *key) {
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
    yaml_node_t *k = node(x, p->key);
    if (strcmp(sc(k), key) == 0)
      return node(x, p->value);
  }
  return NULL;
}

int dev_cat__require(struct cat_ld *x, const yaml_node_t *map, const char *key, yaml_node_t **out) {
  *out = dev_cat__get(x, map, key);
  if (!*out)
    return dev_cat__fail(x, map, "missing required key \"%s\"", key);
  return 0;
}

/* ---- scalars ------------------------------------------------------------------------------ */

/* A number: decimal (integer, fraction, exponent) or 0x hexadecimal, with an optional sign.
 * 0, -1 (not a number) or DEV_CAT__NUM_TOO_BIG (beyond DEV_CAT_NUMBER_MAX in magnitude). */
int dev_cat__parse_number(const char *s, double *out) {
  size_t len = strlen(s);
  if (len == 0 || len > 63)
    return -1;
  const char *p = s;
  int neg = 0;
  if (*p == '+' || *p == '-')
    neg = *p++ == '-';
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
    if (!p[2] || strlen(p + 2) > 16)
      return -1;
    for (const char *q = p + 2; *q; q++)
      if (!isxdigit((unsigned char)*q))
        return -1;
    unsigned long long v = strtoull(p + 2, NULL, 16);
    if ((double)v > DEV_CAT_NUMBER_MAX)
      return DEV_CAT__NUM_TOO_BIG;
    *out = neg ? -(double)v : (double)v;
    return 0;
  }
  const char *q = p;
  int digits = 0;
  while (isdigit((unsigned char)*q))
    q++, digits++;
  if (*q == '.') {
    q++;
    while (isdigit((unsigned char)*q))
      q++, digits++;
  }
  if (!digits)
    return -1;
  if (*q == 'e' || *q == 'E') {
    q++;
    if (*q == '+' || *q == '-')
      q++;
    if (!isdigit((unsigned char)*q))
      return -1;
    while (isdigit((unsigned char)*q))
      q++;
  }
  if (*q)
    return -1;
  double v = strtod(s, NULL);
  if (!(fabs(v) <= DEV_CAT_NUMBER_MAX))
    return DEV_CAT__NUM_TOO_BIG; /* inf from an exponent such as 1e999 included */
  *out = v;
  return 0;
}

int dev_cat__num(struct cat_ld *x, const yaml_node_t *n, double *out) {
  if (!is_scalar(n))
    return dev_cat__fail(x, n, "expected a number");
  int r = dev_cat__parse_number(sc(n), out);
  if (r == DEV_CAT__NUM_TOO_BIG)
    return dev_cat__fail(x, n, "%s is beyond %g, the largest number a catalogue takes", sc(n),
                         DEV_CAT_NUMBER_MAX);
  if (r != 0)
    return dev_cat__fail(x, n, "expected a number, got \"%s\"", sc(n));
  return 0;
}

/* An integer in [lo, hi]. */
int dev_cat__inum(struct cat_ld *x, const yaml_node_t *n, double lo, double hi, double *out) {
  int r = dev_cat__num(x, n, out);
  if (r)
    return r;
  if (*out != floor(*out))
    return dev_cat__fail(x, n, "expected an integer, got \"%s\"", sc(n));
  if (*out < lo || *out > hi)
    return dev_cat__fail(x, n, "%s is out of range [%.0f, %.0f]", sc(n), lo, hi);
  return 0;
}

/* Optional / required keyed variants: the path names the key while its value is read. */
int dev_cat__key_num(struct cat_ld *x, const yaml_node_t *map, const char *key, int req, double def,
                     double *out) {
  yaml_node_t *v = dev_cat__get(x, map, key);
  if (!v) {
    if (req)
      return dev_cat__fail(x, map, "missing required key \"%s\"", key);
    *out = def;
    return 0;
  }
  size_t o = dev_cat__push_key(x, key);
  int r = dev_cat__num(x, v, out);
  dev_cat__pop(x, o);
  return r;
}

/* A non-negative number. */
int dev_cat__key_pos(struct cat_ld *x, const yaml_node_t *map, const char *key, int req, double def,
                     double *out) {
  int r = dev_cat__key_num(x, map, key, req, def, out);
  if (r)
    return r;
  if (*out < 0) {
    size_t o = dev_cat__push_key(x, key);
    r = dev_cat__fail(x, dev_cat__get(x, map, key), "must not be negative");
    dev_cat__pop(x, o);
  }
  return r;
}

/* Fails unless v, read under key, is at most max; unit names max's unit in the message. */
int dev_cat__at_most(struct cat_ld *x, const yaml_node_t *map, const char *key, double v,
                     double max, const char *unit) {
  if (v <= max)
    return 0;
  size_t o = dev_cat__push_key(x, key);
  int r = dev_cat__fail(x, dev_cat__get(x, map, key), "%.15g is more than %.15g %s", v, max, unit);
  dev_cat__pop(x, o);
  return r;
}

/* A fixed duration in seconds: 0..DEV_CAT_DURATION_MAX_S. */
int dev_cat__key_dur(struct cat_ld *x, const yaml_node_t *map, const char *key, int req, double def,
                     double *out) {
  int r = dev_cat__key_pos(x, map, key, req, def, out);
  return r ? r
           : dev_cat__at_most(x, map, key, *out, DEV_CAT_DURATION_MAX_S,
                              "s (10 days, the longest duration)");
}

/* The mean of a random (exponential) gap in seconds: 0..DEV_CAT_MEAN_MAX_S. */
int dev_cat__key_mean(struct cat_ld *x, const yaml_node_t *map, const char *key, int req,
                      double def, double *out) {
  int r = dev_cat__key_pos(x, map, key, req, def, out);
  return r ? r : dev_cat__at_most(x, map, key, *out, DEV_CAT_MEAN_MAX_S, "s (about a century)");
}

int dev_cat__key_int(struct cat_ld *x, const yaml_node_t *map, const char *key, int req, double def,
                     double lo, double hi, double *out) {
  yaml_node_t *v = dev_cat__get(x, map, key);
  if (!v) {
    if (req)
      return dev_cat__fail(x, map, "missing required key \"%s\"", key);
    *out = def;
    return 0;
  }
  size_t o = dev_cat__push_key(x, key);
  int r = dev_cat__inum(x, v, lo, hi, out);
  dev_cat__pop(x, o);
  return r;
}

int dev_cat__key_u8(struct cat_ld *x, const yaml_node_t *map, const char *key, int req, uint8_t def,
                    uint8_t *out) {
  double d;
  int r = dev_cat__key_int(x, map, key, req, def, 0, 255, &d);
  if (!r)
    *out = (uint8_t)d;
  return r;
}

int dev_cat__key_u16(struct cat_ld *x, const yaml_node_t *map, const char *key, int req,
                     uint16_t def, uint16_t *out) {
  double d;
  int r = dev_cat__key_int(x, map, key, req, def, 0, 65535, &d);
  if (!r)
    *out = (uint16_t)d;
  return r;
}

int dev_cat__key_bool(struct cat_ld *x, const yaml_node_t *map, const char *key, int req, int def,
                      uint8_t *out) {
  yaml_node_t *v = dev_cat__get(x, map, key);
  if (!v) {
    if (req)
      return dev_cat__fail(x, map, "missing required key \"%s\"", key);
    *out = (uint8_t)def;
    return 0;
  }
  size_t o = dev_cat__push_key(x, key);
  int r = 0;
  if (is_scalar(v) && strcmp(sc(v), "true") == 0)
    *out = 1;
  else if (is_scalar(v) && strcmp(sc(v), "false") == 0)
    *out = 0;
  else if (is_scalar(v))
    r = dev_cat__fail(x, v, "expected true or false, got \"%s\"", sc(v));
  else
    r = dev_cat__fail(x, v, "expected true or false");
  dev_cat__pop(x, o);
  return r;
}

/* The first bytes of s for a message, cut at a character boundary, with "..." when cut. */
const char *dev_cat__clip(const char *s, char buf[48]) {
  if (strlen(s) <= 40)
    return s;
  size_t n = sim_utf8_copy(buf, 33, s);
  memcpy(buf + n, "...", 4);
  return buf;
}

/* Checks a string scalar: not empty, no NUL or other control character (it would cut or
 * garble every line it is printed on), at most max bytes. why says where the limit comes from
 * (may be NULL). The path must name the key. */
int dev_cat__check_str(struct cat_ld *x, const yaml_node_t *v, size_t max, const char *why) {
  char cb[48];
  if (!is_scalar(v))
    return dev_cat__fail(x, v, "expected a string");
  size_t len = v->data.scalar.length;
  if (len == 0)
    return dev_cat__fail(x, v, "must not be empty");
  if (strlen(sc(v)) != len)
    return dev_cat__fail(x, v, "contains a NUL byte");
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)sc(v)[i];
    if (ch < 0x20 || ch == 0x7F) /* not echoed: it would garble the message too */
      return dev_cat__fail(x, v, "contains a control character (byte 0x%02X at offset %zu)", ch, i);
  }
  if (len > max)
    return dev_cat__fail(x, v, "\"%s\" is %zu bytes long, more than the %zu allowed%s%s",
                         dev_cat__clip(sc(v), cb), len, max, why ? " " : "", why ? why : "");
  return 0;
}

/* A string, copied into the arena; max: longest allowed length in bytes, why: see check_str. */
int dev_cat__key_str(struct cat_ld *x, const yaml_node_t *map, const char *key, int req, size_t max,
                     const char *why, const char **out) {
  yaml_node_t *v = dev_cat__get(x, map, key);
  if (!v) {
    if (req)
      return dev_cat__fail(x, map, "missing required key \"%s\"", key);
    *out = NULL;
    return 0;
  }
  size_t o = dev_cat__push_key(x, key);
  int r = dev_cat__check_str(x, v, max, why);
  if (!r && !(*out = dev_cat__strdup(x, sc(v))))
    r = dev_cat__fail_oom(x);
  dev_cat__pop(x, o);
  return r;
}

/* One of words (NULL-terminated); *out = its index. */
int dev_cat__key_enum(struct cat_ld *x, const yaml_node_t *map, const char *key, int req, int def,
                      const char *const *words, int *out) {
  yaml_node_t *v = dev_cat__get(x, map, key);
  if (!v) {
    if (req)
      return dev_cat__fail(x, map, "missing required key \"%s\"", key);
    *out = def;
    return 0;
  }
  size_t o = dev_cat__push_key(x, key);
  int r = 0;
  char list[160] = "";
  size_t n = 0;
  /* An empty word holds index 0 of a table indexed by an enum starting at 1: never matched. */
  for (int i = 0, shown = 0; words[i]; i++) {
    if (!*words[i])
      continue;
    if (is_scalar(v) && strcmp(sc(v), words[i]) == 0) {
      *out = i;
      dev_cat__pop(x, o);
      return 0;
    }
    n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
                          shown++ ? (words[i + 1] ? ", " : " or ") : "", words[i]);
    if (n >= sizeof(list))
      n = sizeof(list) - 1;
  }
  if (is_scalar(v))
    r = dev_cat__fail(x, v, "expected %s, got \"%s\"", list, sc(v));
  else
    r = dev_cat__fail(x, v, "expected %s", list);
  dev_cat__pop(x, o);
  return r;
}

/* [lo, hi] with lo <= hi. */
static int pair(struct cat_ld *x, const yaml_node_t *v, double out[2]) {
  if (!v || v->type != YAML_SEQUENCE_NODE ||
      v->data.sequence.items.top - v->data.sequence.items.start != 2)
    return dev_cat__fail(x, v, "expected [min, max]");
  for (int i = 0; i < 2; i++) {
    int r = dev_cat__num(x, node(x, v->data.sequence.items.start[i]), &out[i]);
    if (r)
      return r;
  }
  if (out[0] > out[1])
    return dev_cat__fail(x, v, "expected [min, max] with min <= max");
  return 0;
}

int dev_cat__key_pair(struct cat_ld *x, const yaml_node_t *map, const char *key, int req, double d0,
                      double d1, double out[2]) {
  yaml_node_t *v = dev_cat__get(x, map, key);
  if (!v) {
    if (req)
      return dev_cat__fail(x, map, "missing required key \"%s\"", key);
    out[0] = d0;
    out[1] = d1;
    return 0;
  }
  size_t o = dev_cat__push_key(x, key);
  int r = pair(x, v, out);
  dev_cat__pop(x, o);
  return r;
}

/* ---- ZCL types, hex ----------------------------------------------------------------------- */

/* Octet and character strings: the catalogue's two types of variable size. */
int dev_cat__type_is_string(uint8_t t) {
  return sim_zcl_type_len_size(t) != 0;
}

int dev_cat__key_type(struct cat_ld *x, const yaml_node_t *map, const char *key, int fixed_only,
                      uint8_t *out) {
  yaml_node_t *v;
  int r = dev_cat__require(x, map, key, &v);
  if (r)
    return r;
  size_t o = dev_cat__push_key(x, key);
  r = 0;
  if (!is_scalar(v)) {
    r = dev_cat__fail(x, v, "expected a ZCL type name");
    goto done;
  }
  int t = sim_zcl_type_from_name(sc(v));
  if (t < 0)
    r = dev_cat__fail(x, v, "unknown ZCL type \"%s\"", sc(v));
  else if (fixed_only && dev_cat__type_is_string((uint8_t)t))
    r = dev_cat__fail(x, v, "%s is not a fixed-size numeric type", sc(v));
  else
    *out = (uint8_t)t;
done:
  dev_cat__pop(x, o);
  return r;
}

int dev_cat__hexbytes(struct cat_ld *x, const yaml_node_t *v, struct dev_cat_bytes *out) {
  if (!is_scalar(v))
    return dev_cat__fail(x, v, "expected a hex string");
  const char *s = sc(v);
  size_t n;
  int r = sim_hex_decode(s, strlen(s), 0, out->b, DEV_CAT_BYTES_MAX, &n);
  if (r == SIM_EMALFORMED)
    return dev_cat__fail(x, v, "\"%s\" is not hex", s);
  if (r == SIM_EINVAL)
    return dev_cat__fail(x, v, "\"%s\" is not an even number of hex digits", s);
  if (r)
    return dev_cat__fail(x, v, "\"%s\" is longer than %d bytes", s, DEV_CAT_BYTES_MAX);
  out->n = (uint8_t)n;
  return 0;
}

/* The head of a model's list of up to 255 entries (attributes, commands, triggers): checks
 * that seq is such a list and allocates *n elements of size bytes in *arr. 0 or the error. */
int dev_cat__list_head(struct cat_ld *x, const yaml_node_t *seq, const char *what, size_t size,
                       void **arr, uint8_t *n) {
  if (!is_seq(seq) || seq_len(seq) > 255)
    return dev_cat__fail(x, seq, "expected a list of at most 255 %s", what);
  *n = (uint8_t)seq_len(seq);
  *arr = dev_cat__alloc(&x->ar, (*n ? *n : 1) * size);
  return *arr ? 0 : dev_cat__fail_oom(x);
}

int dev_cat__check_name(struct cat_ld *x, const yaml_node_t *v, const char *s) {
  if (!*s)
    return dev_cat__fail(x, v, "a name must not be empty");
  if (strlen(s) >= DEV_CAT_NAME_MAX)
    return dev_cat__fail(x, v, "\"%s\" is longer than %d characters", s, DEV_CAT_NAME_MAX - 1);
  for (const char *p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_')
      return dev_cat__fail(x, v, "\"%s\": names are letters, digits and _", s);
  return 0;
}
