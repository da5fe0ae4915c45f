/* The catalogue loader: the YAML files of devices/catalog/ (docs/catalog.md) into the tables of
 * cat.h.
 *
 * A file is read with a bounded read (regular files only, DEV_CAT_FILE_MAX bytes at most) and
 * parsed with libyaml's event API into a libyaml document whose nesting is bounded while it is
 * built (compose()), so every node keeps its line and an error can name FILE:LINE and the key
 * path (`attributes[2].type`). Everything a file produces is built in a private arena and list,
 * and joined to the catalogue only when the whole file is valid: a failed load leaves the
 * catalogue as it was.
 *
 * Every string, number and count is checked against what the rest of hubsim can carry (the
 * limits of cat.h), so that a file that loads never has a piece silently cut, clamped or
 * dropped later. No step is quadratic in the file: lists are bounded before they are searched.
 *
 * Each model's per-device state is laid out here, once, so the behaviour engine (generic.c) only
 * reads offsets: 8-byte values first (energy), then 4-byte ones, then the 16-bit counters. */
#include "devices/cat.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "devices/xiaomi.h"
#include "devices/zcl_enc.h"
#include "sim/core/err.h"
#include "sim/core/hex.h"
#include "sim/wire/zcl.h"

/* The generated cat_builtin.c (cmake/embed.cmake): file i of the built-in catalogue, or
 * NULL past the last one. */
const char *dev_cat__builtin_file(size_t i, const char **name, size_t *len);

/* ---- arena -------------------------------------------------------------------------------- */

/* Loader allocations live until dev_cat_free(): chunks in a list, never moved, so pointers
 * into them (the registry borrows struct sim_model) stay valid. */
struct cat_chunk {
  struct cat_chunk *next;
  size_t size, used;
  max_align_t data[];
};

struct cat_arena {
  struct cat_chunk *head;
};

#define CAT_CHUNK 16384

static void *ar_alloc(struct cat_arena *a, size_t n) {
  n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
  if (n == 0)
    n = sizeof(max_align_t);
  struct cat_chunk *k = a->head;
  if (!k || k->size - k->used < n) {
    size_t size = n > CAT_CHUNK ? n : CAT_CHUNK;
    k = calloc(1, sizeof(*k) + size);
    if (!k)
      return NULL;
    k->size = size;
    k->next = a->head;
    a->head = k;
  }
  void *p = (char *)k->data + k->used;
  k->used += n;
  return p;
}

static void ar_free(struct cat_arena *a) {
  struct cat_chunk *k = a->head;
  while (k) {
    struct cat_chunk *next = k->next;
    free(k);
    k = next;
  }
  a->head = NULL;
}

/* Moves every chunk of from into to. */
static void ar_join(struct cat_arena *to, struct cat_arena *from) {
  if (!from->head)
    return;
  struct cat_chunk *last = from->head;
  while (last->next)
    last = last->next;
  last->next = to->head;
  to->head = from->head;
  from->head = NULL;
}

/* ---- the loader's context ----------------------------------------------------------------- */

struct ld {
  const char *file;
  yaml_document_t *doc;
  struct dev_cat_error *err;
  const struct dev_cat *c; /* for duplicates against what is already loaded */
  struct cat_arena ar;
  char path[200]; /* key path of the node being read, for messages */
  size_t plen;
  int oom;
  /* what this file adds */
  struct dev_cat_model **models;
  size_t n_models, cap_models;
  struct dev_cat_hub *hubs;
  size_t n_hubs, cap_hubs;
};

#define CAT_FAIL SIM_EINVAL

static int node_line(const yaml_node_t *n) {
  return n ? (int)n->start_mark.line + 1 : 0;
}

/* Fills the error with the node's line and "path: reason". Returns SIM_EINVAL. */
static int fail(struct ld *x, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct ld *x, const yaml_node_t *n, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (x->err) {
    snprintf(x->err->file, sizeof(x->err->file), "%s", x->file);
    x->err->line = node_line(n);
    /* Built in a buffer that always fits, then cut to the reason's size. */
    char full[sizeof(x->path) + sizeof(msg) + 4];
    snprintf(full, sizeof(full), "%s%s%s", x->path, x->plen ? ": " : "", msg);
    snprintf(x->err->reason, sizeof(x->err->reason), "%.*s", (int)sizeof(x->err->reason) - 1, full);
  }
  return CAT_FAIL;
}

static int fail_oom(struct ld *x) {
  x->oom = 1;
  if (x->err) {
    snprintf(x->err->file, sizeof(x->err->file), "%s", x->file);
    x->err->line = 0;
    snprintf(x->err->reason, sizeof(x->err->reason), "out of memory");
  }
  return SIM_ENOMEM;
}

/* Path handling: push returns the old length, pop restores it. */
static size_t push_key(struct ld *x, const char *key) {
  size_t old = x->plen;
  int n = snprintf(x->path + x->plen, sizeof(x->path) - x->plen, "%s%s", x->plen ? "." : "", key);
  if (n > 0)
    x->plen = strnlen(x->path, sizeof(x->path) - 1);
  return old;
}

static size_t push_idx(struct ld *x, size_t i) {
  size_t old = x->plen;
  int n = snprintf(x->path + x->plen, sizeof(x->path) - x->plen, "[%zu]", i);
  if (n > 0)
    x->plen = strnlen(x->path, sizeof(x->path) - 1);
  return old;
}

static void pop(struct ld *x, size_t old) {
  x->plen = old;
  x->path[old] = '\0';
}

static yaml_node_t *node(struct ld *x, int id) {
  return yaml_document_get_node(x->doc, id);
}

static const char *sc(const yaml_node_t *n) {
  return (const char *)n->data.scalar.value;
}

static int is_scalar(const yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE;
}

static char *ar_strdup(struct ld *x, const char *s) {
  size_t n = strlen(s);
  char *p = ar_alloc(&x->ar, n + 1);
  if (!p)
    return NULL;
  memcpy(p, s, n + 1);
  return p;
}

/* ---- mappings: allowed keys, lookup ------------------------------------------------------- */

/* Checks that n is a mapping whose keys are scalars, all in allowed (NULL-terminated), none
 * twice. what names the mapping in the message ("a mapping"). */
static int check_map(struct ld *x, const yaml_node_t *n, const char *const *allowed) {
  if (!n || n->type != YAML_MAPPING_NODE)
    return fail(x, n, "expected a mapping");
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
    yaml_node_t *k = node(x, p->key);
    if (!is_scalar(k))
      return fail(x, k, "keys must be plain names");
    int ok = 0;
    for (const char *const *a = allowed; *a; a++)
      if (strcmp(sc(k), *a) == 0)
        ok = 1;
    if (!ok)
      return fail(x, k, "unknown key \"%s\"", sc(k));
    for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++)
      if (strcmp(sc(node(x, q->key)), sc(k)) == 0)
        return fail(x, k, "key \"%s\" given twice", sc(k));
  }
  return 0;
}

/* The value of key in mapping n (already checked), or NULL. */
static yaml_node_t *get(struct ld *x, const yaml_node_t *n, const char *key) {
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
    yaml_node_t *k = node(x, p->key);
    if (strcmp(sc(k), key) == 0)
      return node(x, p->value);
  }
  return NULL;
}

static int require(struct ld *x, const yaml_node_t *map, const char *key, yaml_node_t **out) {
  *out = get(x, map, key);
  if (!*out)
    return fail(x, map, "missing required key \"%s\"", key);
  return 0;
}

/* ---- scalars ------------------------------------------------------------------------------ */

/* A number: decimal (integer, fraction, exponent) or 0x hexadecimal, with an optional sign.
 * 0, -1 (not a number) or NUM_TOO_BIG (beyond DEV_CAT_NUMBER_MAX in magnitude). */
#define NUM_TOO_BIG (-2)
static int parse_number(const char *s, double *out) {
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
      return NUM_TOO_BIG;
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
    return NUM_TOO_BIG; /* inf from an exponent such as 1e999 included */
  *out = v;
  return 0;
}

static int num(struct ld *x, const yaml_node_t *n, double *out) {
  if (!is_scalar(n))
    return fail(x, n, "expected a number");
  int r = parse_number(sc(n), out);
  if (r == NUM_TOO_BIG)
    return fail(x, n, "%s is beyond %g, the largest number a catalogue takes", sc(n),
                DEV_CAT_NUMBER_MAX);
  if (r != 0)
    return fail(x, n, "expected a number, got \"%s\"", sc(n));
  return 0;
}

/* An integer in [lo, hi]. */
static int inum(struct ld *x, const yaml_node_t *n, double lo, double hi, double *out) {
  int r = num(x, n, out);
  if (r)
    return r;
  if (*out != floor(*out))
    return fail(x, n, "expected an integer, got \"%s\"", sc(n));
  if (*out < lo || *out > hi)
    return fail(x, n, "%s is out of range [%.0f, %.0f]", sc(n), lo, hi);
  return 0;
}

/* Optional / required keyed variants: the path names the key while its value is read. */
static int key_num(struct ld *x, const yaml_node_t *map, const char *key, int req, double def,
                   double *out) {
  yaml_node_t *v = get(x, map, key);
  if (!v) {
    if (req)
      return fail(x, map, "missing required key \"%s\"", key);
    *out = def;
    return 0;
  }
  size_t o = push_key(x, key);
  int r = num(x, v, out);
  pop(x, o);
  return r;
}

/* A non-negative number. */
static int key_pos(struct ld *x, const yaml_node_t *map, const char *key, int req, double def,
                   double *out) {
  int r = key_num(x, map, key, req, def, out);
  if (r)
    return r;
  if (*out < 0) {
    size_t o = push_key(x, key);
    r = fail(x, get(x, map, key), "must not be negative");
    pop(x, o);
  }
  return r;
}

/* Fails unless v, read under key, is at most max; unit names max's unit in the message. */
static int at_most(struct ld *x, const yaml_node_t *map, const char *key, double v, double max,
                   const char *unit) {
  if (v <= max)
    return 0;
  size_t o = push_key(x, key);
  int r = fail(x, get(x, map, key), "%.15g is more than %.15g %s", v, max, unit);
  pop(x, o);
  return r;
}

/* A fixed duration in seconds: 0..DEV_CAT_DURATION_MAX_S. */
static int key_dur(struct ld *x, const yaml_node_t *map, const char *key, int req, double def,
                   double *out) {
  int r = key_pos(x, map, key, req, def, out);
  return r ? r
           : at_most(x, map, key, *out, DEV_CAT_DURATION_MAX_S,
                     "s (10 days, the longest duration)");
}

/* The mean of a random (exponential) gap in seconds: 0..DEV_CAT_MEAN_MAX_S. */
static int key_mean(struct ld *x, const yaml_node_t *map, const char *key, int req, double def,
                    double *out) {
  int r = key_pos(x, map, key, req, def, out);
  return r ? r : at_most(x, map, key, *out, DEV_CAT_MEAN_MAX_S, "s (about a century)");
}

static int key_int(struct ld *x, const yaml_node_t *map, const char *key, int req, double def,
                   double lo, double hi, double *out) {
  yaml_node_t *v = get(x, map, key);
  if (!v) {
    if (req)
      return fail(x, map, "missing required key \"%s\"", key);
    *out = def;
    return 0;
  }
  size_t o = push_key(x, key);
  int r = inum(x, v, lo, hi, out);
  pop(x, o);
  return r;
}

static int key_u8(struct ld *x, const yaml_node_t *map, const char *key, int req, uint8_t def,
                  uint8_t *out) {
  double d;
  int r = key_int(x, map, key, req, def, 0, 255, &d);
  if (!r)
    *out = (uint8_t)d;
  return r;
}

static int key_u16(struct ld *x, const yaml_node_t *map, const char *key, int req, uint16_t def,
                   uint16_t *out) {
  double d;
  int r = key_int(x, map, key, req, def, 0, 65535, &d);
  if (!r)
    *out = (uint16_t)d;
  return r;
}

static int key_bool(struct ld *x, const yaml_node_t *map, const char *key, int req, int def,
                    uint8_t *out) {
  yaml_node_t *v = get(x, map, key);
  if (!v) {
    if (req)
      return fail(x, map, "missing required key \"%s\"", key);
    *out = (uint8_t)def;
    return 0;
  }
  size_t o = push_key(x, key);
  int r = 0;
  if (is_scalar(v) && strcmp(sc(v), "true") == 0)
    *out = 1;
  else if (is_scalar(v) && strcmp(sc(v), "false") == 0)
    *out = 0;
  else if (is_scalar(v))
    r = fail(x, v, "expected true or false, got \"%s\"", sc(v));
  else
    r = fail(x, v, "expected true or false");
  pop(x, o);
  return r;
}

/* The first bytes of s for a message, cut at a character boundary, with "..." when cut. */
static const char *clip(const char *s, char buf[48]) {
  size_t n = strlen(s);
  if (n <= 40)
    return s;
  n = 32;
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
    n--;
  snprintf(buf, 48, "%.*s...", (int)n, s);
  return buf;
}

/* Checks a string scalar: not empty, no NUL or other control character (it would cut or
 * garble every line it is printed on), at most max bytes. why says where the limit comes from
 * (may be NULL). The path must name the key. */
static int check_str(struct ld *x, const yaml_node_t *v, size_t max, const char *why) {
  char cb[48];
  if (!is_scalar(v))
    return fail(x, v, "expected a string");
  size_t len = v->data.scalar.length;
  if (len == 0)
    return fail(x, v, "must not be empty");
  if (strlen(sc(v)) != len)
    return fail(x, v, "contains a NUL byte");
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)sc(v)[i];
    if (ch < 0x20 || ch == 0x7F) /* not echoed: it would garble the message too */
      return fail(x, v, "contains a control character (byte 0x%02X at offset %zu)", ch, i);
  }
  if (len > max)
    return fail(x, v, "\"%s\" is %zu bytes long, more than the %zu allowed%s%s", clip(sc(v), cb),
                len, max, why ? " " : "", why ? why : "");
  return 0;
}

/* A string, copied into the arena; max: longest allowed length in bytes, why: see check_str. */
static int key_str(struct ld *x, const yaml_node_t *map, const char *key, int req, size_t max,
                   const char *why, const char **out) {
  yaml_node_t *v = get(x, map, key);
  if (!v) {
    if (req)
      return fail(x, map, "missing required key \"%s\"", key);
    *out = NULL;
    return 0;
  }
  size_t o = push_key(x, key);
  int r = check_str(x, v, max, why);
  if (!r && !(*out = ar_strdup(x, sc(v))))
    r = fail_oom(x);
  pop(x, o);
  return r;
}

/* One of words (NULL-terminated); *out = its index. */
static int key_enum(struct ld *x, const yaml_node_t *map, const char *key, int req, int def,
                    const char *const *words, int *out) {
  yaml_node_t *v = get(x, map, key);
  if (!v) {
    if (req)
      return fail(x, map, "missing required key \"%s\"", key);
    *out = def;
    return 0;
  }
  size_t o = push_key(x, key);
  int r = 0;
  char list[160] = "";
  size_t n = 0;
  /* An empty word holds index 0 of a table indexed by an enum starting at 1: never matched. */
  for (int i = 0, shown = 0; words[i]; i++) {
    if (!*words[i])
      continue;
    if (is_scalar(v) && strcmp(sc(v), words[i]) == 0) {
      *out = i;
      pop(x, o);
      return 0;
    }
    n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
                          shown++ ? (words[i + 1] ? ", " : " or ") : "", words[i]);
    if (n >= sizeof(list))
      n = sizeof(list) - 1;
  }
  if (is_scalar(v))
    r = fail(x, v, "expected %s, got \"%s\"", list, sc(v));
  else
    r = fail(x, v, "expected %s", list);
  pop(x, o);
  return r;
}

/* [lo, hi] with lo <= hi. */
static int pair(struct ld *x, const yaml_node_t *v, double out[2]) {
  if (!v || v->type != YAML_SEQUENCE_NODE ||
      v->data.sequence.items.top - v->data.sequence.items.start != 2)
    return fail(x, v, "expected [min, max]");
  for (int i = 0; i < 2; i++) {
    int r = num(x, node(x, v->data.sequence.items.start[i]), &out[i]);
    if (r)
      return r;
  }
  if (out[0] > out[1])
    return fail(x, v, "expected [min, max] with min <= max");
  return 0;
}

static int key_pair(struct ld *x, const yaml_node_t *map, const char *key, int req, double d0,
                    double d1, double out[2]) {
  yaml_node_t *v = get(x, map, key);
  if (!v) {
    if (req)
      return fail(x, map, "missing required key \"%s\"", key);
    out[0] = d0;
    out[1] = d1;
    return 0;
  }
  size_t o = push_key(x, key);
  int r = pair(x, v, out);
  pop(x, o);
  return r;
}

static size_t seq_len(const yaml_node_t *n) {
  return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static size_t map_len(const yaml_node_t *n) {
  return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

static int is_seq(const yaml_node_t *n) {
  return n && n->type == YAML_SEQUENCE_NODE;
}

/* ---- ZCL types, hex ----------------------------------------------------------------------- */

/* Octet and character strings: the catalogue's two types of variable size. */
static int type_is_string(uint8_t t) {
  return sim_zcl_type_len_size(t) != 0;
}

static int key_type(struct ld *x, const yaml_node_t *map, const char *key, int fixed_only,
                    uint8_t *out) {
  yaml_node_t *v;
  int r = require(x, map, key, &v);
  if (r)
    return r;
  size_t o = push_key(x, key);
  r = 0;
  if (!is_scalar(v)) {
    r = fail(x, v, "expected a ZCL type name");
    goto done;
  }
  int t = sim_zcl_type_from_name(sc(v));
  if (t < 0)
    r = fail(x, v, "unknown ZCL type \"%s\"", sc(v));
  else if (fixed_only && type_is_string((uint8_t)t))
    r = fail(x, v, "%s is not a fixed-size numeric type", sc(v));
  else
    *out = (uint8_t)t;
done:
  pop(x, o);
  return r;
}

static int hexbytes(struct ld *x, const yaml_node_t *v, struct dev_cat_bytes *out) {
  if (!is_scalar(v))
    return fail(x, v, "expected a hex string");
  const char *s = sc(v);
  size_t n;
  int r = sim_hex_decode(s, strlen(s), 0, out->b, DEV_CAT_BYTES_MAX, &n);
  if (r == SIM_EMALFORMED)
    return fail(x, v, "\"%s\" is not hex", s);
  if (r == SIM_EINVAL)
    return fail(x, v, "\"%s\" is not an even number of hex digits", s);
  if (r)
    return fail(x, v, "\"%s\" is longer than %d bytes", s, DEV_CAT_BYTES_MAX);
  out->n = (uint8_t)n;
  return 0;
}

/* ---- channels ----------------------------------------------------------------------------- */

static const struct {
  const char *name;
  uint8_t kind;
  uint8_t battery; /* exists only in models with a battery */
} builtins[] = {
    {"battery_mv", DEV_CH_BATTERY_MV, 1},   {"battery_pct", DEV_CH_BATTERY_PCT, 1},
    {"battery_low", DEV_CH_BATTERY_LOW, 1}, {"device_temp", DEV_CH_DEVICE_TEMP, 0},
    {"power_on", DEV_CH_POWER_ON, 0},       {"triggers", DEV_CH_TRIGGERS, 0},
    {"parent", DEV_CH_PARENT, 0},           {"lqi", DEV_CH_LQI, 0},
    {"uptime_s", DEV_CH_UPTIME, 0},
};
#define N_BUILTINS (sizeof(builtins) / sizeof(builtins[0]))

static const char *const kind_names[] = {
    [DEV_CH_WALK] = "walk",           [DEV_CH_DAYLIGHT] = "daylight", [DEV_CH_BURSTS] = "bursts",
    [DEV_CH_TWO_STATE] = "two_state", [DEV_CH_ACTUATOR] = "actuator", [DEV_CH_METER] = "meter",
    [DEV_CH_ENERGY] = "energy",       [DEV_CH_DERIVE] = "derive",     [DEV_CH_CONST] = "const",
    [DEV_CH_DIRECTION] = "direction",
};

static const char *kind_name(uint8_t k) {
  return k < sizeof(kind_names) / sizeof(kind_names[0]) && kind_names[k] ? kind_names[k]
                                                                         : "built-in";
}

/* A channel reference: a scalar naming a channel of cm. */
static int chref(struct ld *x, const struct dev_cat_model *cm, const yaml_node_t *v, int16_t *out) {
  if (!is_scalar(v))
    return fail(x, v, "expected a channel name");
  int i = dev_cat_channel_find(cm, sc(v));
  if (i < 0) {
    for (size_t b = 0; b < N_BUILTINS; b++)
      if (builtins[b].battery && strcmp(builtins[b].name, sc(v)) == 0)
        return fail(x, v, "unknown channel \"%s\" (the model has no battery)", sc(v));
    return fail(x, v, "unknown channel \"%s\"", sc(v));
  }
  *out = (int16_t)i;
  return 0;
}

static int key_chref(struct ld *x, const struct dev_cat_model *cm, const yaml_node_t *map,
                     const char *key, int req, int16_t *out) {
  yaml_node_t *v = get(x, map, key);
  if (!v) {
    if (req)
      return fail(x, map, "missing required key \"%s\"", key);
    *out = -1;
    return 0;
  }
  size_t o = push_key(x, key);
  int r = chref(x, cm, v, out);
  pop(x, o);
  return r;
}

/* A derive operand: a channel name or a number. */
static int key_operand(struct ld *x, const struct dev_cat_model *cm, const yaml_node_t *map,
                       const char *key, struct dev_cat_operand *out) {
  yaml_node_t *v;
  int r = require(x, map, key, &v);
  if (r)
    return r;
  size_t o = push_key(x, key);
  out->ch = -1;
  out->k = 0;
  int pn = is_scalar(v) ? parse_number(sc(v), &out->k) : -1;
  if (pn == 0)
    r = 0;
  else if (pn == NUM_TOO_BIG)
    r = num(x, v, &out->k);
  else
    r = chref(x, cm, v, &out->ch);
  pop(x, o);
  return r;
}

static int check_name(struct ld *x, const yaml_node_t *v, const char *s) {
  if (!*s)
    return fail(x, v, "a name must not be empty");
  if (strlen(s) >= DEV_CAT_NAME_MAX)
    return fail(x, v, "\"%s\" is longer than %d characters", s, DEV_CAT_NAME_MAX - 1);
  for (const char *p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_')
      return fail(x, v, "\"%s\": names are letters, digits and _", s);
  return 0;
}

static int parse_day_h(struct ld *x, const yaml_node_t *m, double *start, double *end) {
  double d[2];
  int r = key_pair(x, m, "day_h", 1, 0, 0, d);
  if (r)
    return r;
  if (d[0] < 0 || d[1] > 24) {
    size_t o = push_key(x, "day_h");
    r = fail(x, get(x, m, "day_h"), "hours must be in [0, 24]");
    pop(x, o);
    return r;
  }
  *start = d[0];
  *end = d[1];
  return 0;
}

/* A sampling period: the device clock counts milliseconds, so at least 0.001 s. */
static int parse_sample(struct ld *x, const yaml_node_t *m, double *out) {
  int r = key_dur(x, m, "sample_s", 1, 0, out);
  if (!r && *out < 0.001) {
    size_t o = push_key(x, "sample_s");
    r = fail(x, get(x, m, "sample_s"),
             *out <= 0 ? "must be positive" : "must be at least 0.001 (one millisecond)");
    pop(x, o);
  }
  return r;
}

/* The parameters of one declared channel; the path is at `channels.NAME.KIND`. */
static int parse_channel(struct ld *x, struct dev_cat_model *cm, struct dev_cat_channel *ch,
                         const yaml_node_t *m) {
  int r;
  int self = (int)(ch - cm->ch);
  switch (ch->kind) {
  case DEV_CH_WALK: {
    static const char *const keys[] = {"base",     "daily_amp", "peak_hour",   "sigma",
                                       "revert",   "min",       "max",         "spread",
                                       "sample_s", "toward",    "toward_rate", NULL};
    if ((r = check_map(x, m, keys)))
      return r;
    if ((r = key_num(x, m, "base", 1, 0, &ch->p.walk.base)) ||
        (r = key_num(x, m, "daily_amp", 1, 0, &ch->p.walk.daily_amp)) ||
        (r = key_num(x, m, "peak_hour", 1, 0, &ch->p.walk.peak_hour)) ||
        (r = key_pos(x, m, "sigma", 1, 0, &ch->p.walk.sigma)) ||
        (r = key_pos(x, m, "revert", 1, 0, &ch->p.walk.revert)) ||
        (r = key_num(x, m, "min", 1, 0, &ch->p.walk.min)) ||
        (r = key_num(x, m, "max", 1, 0, &ch->p.walk.max)) ||
        (r = key_pos(x, m, "spread", 1, 0, &ch->p.walk.spread)) ||
        (r = parse_sample(x, m, &ch->p.walk.sample_s)) ||
        (r = key_chref(x, cm, m, "toward", 0, &ch->p.walk.toward)) ||
        (r = key_pos(x, m, "toward_rate", 0, 0, &ch->p.walk.toward_rate)))
      return r;
    if (ch->p.walk.min > ch->p.walk.max)
      return fail(x, m, "min must not be above max");
    if (ch->p.walk.toward == self) {
      size_t o = push_key(x, "toward");
      r = fail(x, get(x, m, "toward"), "a channel cannot follow itself");
      pop(x, o);
      return r;
    }
    return 0;
  }
  case DEV_CH_DAYLIGHT: {
    static const char *const keys[] = {"max_lx", "night_lx", "sunrise_h", "sunset_h",
                                       "spread", "sample_s", NULL};
    if ((r = check_map(x, m, keys)))
      return r;
    if ((r = key_pos(x, m, "max_lx", 1, 0, &ch->p.daylight.max_lx)) ||
        (r = key_pos(x, m, "night_lx", 1, 0, &ch->p.daylight.night_lx)) ||
        (r = key_pos(x, m, "sunrise_h", 1, 0, &ch->p.daylight.sunrise_h)) ||
        (r = key_pos(x, m, "sunset_h", 1, 0, &ch->p.daylight.sunset_h)) ||
        (r = key_pos(x, m, "spread", 1, 0, &ch->p.daylight.spread)) ||
        (r = parse_sample(x, m, &ch->p.daylight.sample_s)))
      return r;
    if (ch->p.daylight.sunrise_h >= ch->p.daylight.sunset_h || ch->p.daylight.sunset_h > 24)
      return fail(x, m, "expected sunrise_h < sunset_h <= 24");
    if (ch->p.daylight.spread > 1)
      return fail(x, m, "spread must be in [0, 1]");
    return 0;
  }
  case DEV_CH_BURSTS: {
    static const char *const keys[] = {"gap_day_s", "gap_night_s", "day_h",       "length_s",
                                       "blind_s",   "retrigger_s", "values",      "weights",
                                       "reset_s",   "reset",       "reset_event", NULL};
    if ((r = check_map(x, m, keys)))
      return r;
    if ((r = key_mean(x, m, "gap_day_s", 1, 0, &ch->p.bursts.gap_day_s)) ||
        (r = key_mean(x, m, "gap_night_s", 1, 0, &ch->p.bursts.gap_night_s)) ||
        (r = parse_day_h(x, m, &ch->p.bursts.day_start_h, &ch->p.bursts.day_end_h)) ||
        (r = key_mean(x, m, "length_s", 1, 0, &ch->p.bursts.length_s)) ||
        (r = key_dur(x, m, "blind_s", 1, 0, &ch->p.bursts.blind_s)) ||
        (r = key_dur(x, m, "retrigger_s", 1, 0, &ch->p.bursts.retrigger_s)) ||
        (r = key_dur(x, m, "reset_s", 0, 0, &ch->p.bursts.reset_s)) ||
        (r = key_num(x, m, "reset", 0, 0, &ch->p.bursts.reset)) ||
        (r = key_bool(x, m, "reset_event", 0, 0, &ch->p.bursts.reset_event)))
      return r;
    if (ch->p.bursts.gap_day_s <= 0 || ch->p.bursts.gap_night_s <= 0)
      return fail(x, m, "gap_day_s and gap_night_s must be positive");
    yaml_node_t *vals, *w = get(x, m, "weights");
    if ((r = require(x, m, "values", &vals)))
      return r;
    size_t o = push_key(x, "values");
    if (!is_seq(vals) || seq_len(vals) == 0 || seq_len(vals) > 8) {
      r = fail(x, vals, "expected a list of 1 to 8 numbers");
      pop(x, o);
      return r;
    }
    ch->p.bursts.n_values = (uint8_t)seq_len(vals);
    for (size_t i = 0; i < ch->p.bursts.n_values; i++) {
      if ((r = num(x, node(x, vals->data.sequence.items.start[i]), &ch->p.bursts.values[i]))) {
        pop(x, o);
        return r;
      }
      ch->p.bursts.weights[i] = 1;
    }
    pop(x, o);
    if (w) {
      o = push_key(x, "weights");
      if (!is_seq(w) || seq_len(w) != ch->p.bursts.n_values) {
        r = fail(x, w, "expected a list of %u numbers, one per value", ch->p.bursts.n_values);
        pop(x, o);
        return r;
      }
      double sum = 0;
      for (size_t i = 0; i < ch->p.bursts.n_values; i++) {
        yaml_node_t *e = node(x, w->data.sequence.items.start[i]);
        if ((r = num(x, e, &ch->p.bursts.weights[i]))) {
          pop(x, o);
          return r;
        }
        if (ch->p.bursts.weights[i] < 0) {
          r = fail(x, e, "must not be negative");
          pop(x, o);
          return r;
        }
        sum += ch->p.bursts.weights[i];
      }
      if (sum <= 0)
        r = fail(x, w, "at least one weight must be positive");
      pop(x, o);
      if (r)
        return r;
    }
    return 0;
  }
  case DEV_CH_TWO_STATE: {
    static const char *const keys[] = {"idle",  "active", "gap_day_s", "gap_night_s",
                                       "day_h", "hold_s", NULL};
    double hold[2];
    if ((r = check_map(x, m, keys)))
      return r;
    if ((r = key_num(x, m, "idle", 1, 0, &ch->p.two.idle)) ||
        (r = key_num(x, m, "active", 1, 0, &ch->p.two.active)) ||
        (r = key_mean(x, m, "gap_day_s", 1, 0, &ch->p.two.gap_day_s)) ||
        (r = key_mean(x, m, "gap_night_s", 1, 0, &ch->p.two.gap_night_s)) ||
        (r = parse_day_h(x, m, &ch->p.two.day_start_h, &ch->p.two.day_end_h)) ||
        (r = key_pair(x, m, "hold_s", 1, 0, 0, hold)) ||
        (r = at_most(x, m, "hold_s", hold[1], DEV_CAT_DURATION_MAX_S,
                     "s (10 days, the longest duration)")))
      return r;
    if (ch->p.two.gap_day_s <= 0 || ch->p.two.gap_night_s <= 0)
      return fail(x, m, "gap_day_s and gap_night_s must be positive");
    if (hold[0] <= 0) {
      size_t o = push_key(x, "hold_s");
      r = fail(x, get(x, m, "hold_s"), "must be positive (log-uniform)");
      pop(x, o);
      return r;
    }
    ch->p.two.hold_min_s = hold[0];
    ch->p.two.hold_max_s = hold[1];
    return 0;
  }
  case DEV_CH_ACTUATOR: {
    static const char *const keys[] = {"min",     "max",  "initial", "travel_s",
                                       "local_s", "step", NULL};
    if ((r = check_map(x, m, keys)))
      return r;
    if ((r = key_num(x, m, "min", 1, 0, &ch->p.act.min)) ||
        (r = key_num(x, m, "max", 1, 0, &ch->p.act.max)) ||
        (r = key_num(x, m, "initial", 1, 0, &ch->p.act.initial)) ||
        (r = key_dur(x, m, "travel_s", 0, 0, &ch->p.act.travel_s)) ||
        (r = key_mean(x, m, "local_s", 0, 0, &ch->p.act.local_s)) ||
        (r = key_pos(x, m, "step", 0, 0, &ch->p.act.step)))
      return r;
    if (ch->p.act.min > ch->p.act.max)
      return fail(x, m, "min must not be above max");
    if (ch->p.act.initial < ch->p.act.min || ch->p.act.initial > ch->p.act.max)
      return fail(x, m, "initial must be in [min, max]");
    if (ch->p.act.local_s > 0 && (ch->p.act.min != 0 || ch->p.act.max != 1))
      return fail(x, m, "local_s is only for 0/1 actuators (min 0, max 1)");
    return 0;
  }
  case DEV_CH_METER: {
    static const char *const keys[] = {"on", "load_w", "noise_pct", "standby_w", "sample_s", NULL};
    double load[2];
    if ((r = check_map(x, m, keys)))
      return r;
    yaml_node_t *on;
    if ((r = require(x, m, "on", &on)))
      return r;
    size_t o = push_key(x, "on");
    if (!is_seq(on) || seq_len(on) == 0 || seq_len(on) > 4) {
      r = fail(x, on, "expected a list of 1 to 4 channel names");
      pop(x, o);
      return r;
    }
    ch->p.meter.n_on = (uint8_t)seq_len(on);
    for (size_t i = 0; i < ch->p.meter.n_on; i++)
      if ((r = chref(x, cm, node(x, on->data.sequence.items.start[i]), &ch->p.meter.on[i]))) {
        pop(x, o);
        return r;
      }
    pop(x, o);
    if ((r = key_pair(x, m, "load_w", 1, 0, 0, load)) ||
        (r = key_pos(x, m, "noise_pct", 1, 0, &ch->p.meter.noise_pct)) ||
        (r = key_pos(x, m, "standby_w", 1, 0, &ch->p.meter.standby_w)) ||
        (r = parse_sample(x, m, &ch->p.meter.sample_s)))
      return r;
    if (load[0] <= 0) {
      o = push_key(x, "load_w");
      r = fail(x, get(x, m, "load_w"), "must be positive (log-uniform)");
      pop(x, o);
      return r;
    }
    ch->p.meter.load_min_w = load[0];
    ch->p.meter.load_max_w = load[1];
    return 0;
  }
  case DEV_CH_ENERGY: {
    static const char *const keys[] = {"of", "initial_kwh", NULL};
    if ((r = check_map(x, m, keys)) || (r = key_chref(x, cm, m, "of", 1, &ch->p.energy.of)) ||
        (r = key_pos(x, m, "initial_kwh", 0, 0, &ch->p.energy.initial_kwh_max)))
      return r;
    if (ch->p.energy.of == self) {
      size_t o = push_key(x, "of");
      r = fail(x, get(x, m, "of"), "a channel cannot integrate itself");
      pop(x, o);
    }
    return r;
  }
  case DEV_CH_DERIVE: {
    static const char *const keys[] = {"op", "a", "b", NULL};
    static const char *const ops[] = {"", "add", "sub", "mul", "div", NULL};
    int op;
    if ((r = check_map(x, m, keys)) || (r = key_enum(x, m, "op", 1, 0, ops, &op)) ||
        (r = key_operand(x, cm, m, "a", &ch->p.derive.a)) ||
        (r = key_operand(x, cm, m, "b", &ch->p.derive.b)))
      return r;
    if (op == 0) {
      size_t o = push_key(x, "op");
      r = fail(x, get(x, m, "op"), "expected add, sub, mul or div");
      pop(x, o);
      return r;
    }
    ch->p.derive.op = (uint8_t)op;
    return 0;
  }
  case DEV_CH_CONST: {
    static const char *const keys[] = {"range", NULL};
    double rg[2];
    if ((r = check_map(x, m, keys)) || (r = key_pair(x, m, "range", 1, 0, 0, rg)))
      return r;
    ch->p.konst.lo = rg[0];
    ch->p.konst.hi = rg[1];
    return 0;
  }
  case DEV_CH_DIRECTION: {
    static const char *const keys[] = {"of", "stopped", "opening", "closing", NULL};
    if ((r = check_map(x, m, keys)) || (r = key_chref(x, cm, m, "of", 1, &ch->p.dir.of)) ||
        (r = key_num(x, m, "stopped", 1, 0, &ch->p.dir.stopped)) ||
        (r = key_num(x, m, "opening", 1, 0, &ch->p.dir.opening)) ||
        (r = key_num(x, m, "closing", 1, 0, &ch->p.dir.closing)))
      return r;
    const struct dev_cat_channel *of = &cm->ch[ch->p.dir.of];
    if (of->kind != DEV_CH_ACTUATOR || of->p.act.travel_s <= 0) {
      size_t o = push_key(x, "of");
      r = fail(x, get(x, m, "of"), "\"%s\" is not an actuator with travel_s", of->name);
      pop(x, o);
    }
    return r;
  }
  }
  return fail(x, m, "internal: unknown channel kind");
}

/* channels: a mapping NAME -> {KIND: {...}}. Built-in channels follow the declared ones. Names
 * are collected first so that a channel may refer to one declared after it; a direction's
 * actuator is parsed before the direction (second pass) so its travel is known. */
static int parse_channels(struct ld *x, struct dev_cat_model *cm, const yaml_node_t *model) {
  yaml_node_t *chs = get(x, model, "channels");
  size_t nd = 0;
  int r;
  size_t o = push_key(x, "channels");
  if (chs) {
    if (chs->type != YAML_MAPPING_NODE) {
      r = fail(x, chs, "expected a mapping of channel names");
      goto out;
    }
    nd = map_len(chs);
  }
  size_t total = nd + N_BUILTINS;
  if (total > 255) {
    r = fail(x, chs, "too many channels (at most %zu)", 255 - N_BUILTINS);
    goto out;
  }
  cm->ch = ar_alloc(&x->ar, total * sizeof(*cm->ch));
  if (!cm->ch) {
    r = fail_oom(x);
    goto out;
  }
  for (size_t i = 0; i < nd; i++) {
    yaml_node_pair_t *p = &chs->data.mapping.pairs.start[i];
    yaml_node_t *k = node(x, p->key), *v = node(x, p->value);
    if (!is_scalar(k)) {
      r = fail(x, k, "expected a channel name");
      goto out;
    }
    if ((r = check_name(x, k, sc(k))))
      goto out;
    for (size_t b = 0; b < N_BUILTINS; b++)
      if (strcmp(builtins[b].name, sc(k)) == 0) {
        r = fail(x, k, "\"%s\" is a built-in channel", sc(k));
        goto out;
      }
    for (size_t j = 0; j < i; j++)
      if (strcmp(cm->ch[j].name, sc(k)) == 0) {
        r = fail(x, k, "channel \"%s\" declared twice", sc(k));
        goto out;
      }
    struct dev_cat_channel *ch = &cm->ch[i];
    snprintf(ch->name, sizeof(ch->name), "%s", sc(k));
    size_t o2 = push_key(x, sc(k));
    if (!v || v->type != YAML_MAPPING_NODE || map_len(v) != 1) {
      r = fail(x, v, "expected exactly one behaviour, e.g. {walk: {...}}");
      pop(x, o2);
      goto out;
    }
    yaml_node_t *kk = node(x, v->data.mapping.pairs.start[0].key);
    ch->kind = 0;
    for (uint8_t kd = DEV_CH_WALK; kd <= DEV_CH_DIRECTION; kd++)
      if (is_scalar(kk) && strcmp(sc(kk), kind_names[kd]) == 0)
        ch->kind = kd;
    if (!ch->kind) {
      r = fail(x, kk,
               "unknown behaviour \"%s\" (walk, daylight, bursts, two_state, actuator, meter, "
               "energy, derive, const or direction)",
               is_scalar(kk) ? sc(kk) : "?");
      pop(x, o2);
      goto out;
    }
    ch->is_event =
        ch->kind == DEV_CH_BURSTS || ch->kind == DEV_CH_TWO_STATE || ch->kind == DEV_CH_ACTUATOR;
    pop(x, o2);
  }
  cm->n_ch = (uint8_t)nd;
  for (size_t b = 0; b < N_BUILTINS; b++) {
    if (builtins[b].battery && !cm->has_battery)
      continue;
    struct dev_cat_channel *ch = &cm->ch[cm->n_ch++];
    snprintf(ch->name, sizeof(ch->name), "%s", builtins[b].name);
    ch->kind = builtins[b].kind;
  }
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < nd; i++) {
      struct dev_cat_channel *ch = &cm->ch[i];
      if ((ch->kind == DEV_CH_DIRECTION) != (pass == 1))
        continue;
      yaml_node_t *v = node(x, chs->data.mapping.pairs.start[i].value);
      size_t o2 = push_key(x, ch->name);
      size_t o3 = push_key(x, kind_name(ch->kind));
      r = parse_channel(x, cm, ch, node(x, v->data.mapping.pairs.start[0].value));
      pop(x, o3);
      pop(x, o2);
      if (r)
        goto out;
    }
  r = 0;
out:
  pop(x, o);
  return r;
}

/* The channels whose values reading channel ch reads (generic.c value_at): a derive's
 * operands, an energy channel's power, the chip temperature's power. Returns their count. */
static int reads_of(const struct dev_cat_model *cm, int ch, int out[2]) {
  const struct dev_cat_channel *c = &cm->ch[ch];
  int n = 0;
  switch (c->kind) {
  case DEV_CH_DERIVE:
    if (c->p.derive.a.ch >= 0)
      out[n++] = c->p.derive.a.ch;
    if (c->p.derive.b.ch >= 0)
      out[n++] = c->p.derive.b.ch;
    break;
  case DEV_CH_ENERGY:
    out[n++] = c->p.energy.of;
    break;
  case DEV_CH_DEVICE_TEMP:
    if (cm->device_temp_power >= 0)
      out[n++] = cm->device_temp_power;
    break;
  default:
    break;
  }
  return n;
}

/* Depth-first search with memory (state 0 new, 1 on the current path, 2 done; len[] the
 * longest chain from a done channel), so the work is linear in the channels however the reads
 * are shared. Returns the longest chain starting at ch, or -1 - k when channel k lies on a
 * cycle. The recursion is at most n_ch deep (each level puts a new channel on the path), and
 * n_ch <= 255. */
static int read_chain(const struct dev_cat_model *cm, int ch, uint8_t *state, uint8_t *len) {
  if (state[ch] == 1)
    return -1 - ch;
  if (state[ch] == 2)
    return len[ch];
  state[ch] = 1;
  int deps[2], n = reads_of(cm, ch, deps), best = 1;
  for (int i = 0; i < n; i++) {
    int r = read_chain(cm, deps[i], state, len);
    if (r < 0)
      return r;
    if (r + 1 > best)
      best = r + 1 > 255 ? 255 : r + 1;
  }
  state[ch] = 2;
  len[ch] = (uint8_t)best;
  return best;
}

/* Reading a channel must end, and within the engine's bound on nested reads
 * (DEV_CAT_READ_DEPTH), so that no value is cut short at run time. */
static int check_reads(struct ld *x, const struct dev_cat_model *cm, const yaml_node_t *model) {
  uint8_t state[256] = {0}, len[256] = {0};
  for (int i = 0; i < cm->n_ch; i++) {
    int r = read_chain(cm, i, state, len);
    if (r >= 0 && r <= DEV_CAT_READ_DEPTH)
      continue;
    size_t o = push_key(x, "channels");
    if (r < 0)
      r = fail(x, get(x, model, "channels"), "%s channel \"%s\" depends on itself",
               kind_name(cm->ch[-1 - r].kind), cm->ch[-1 - r].name);
    else
      r = fail(x, get(x, model, "channels"),
               "channel \"%s\" reads a chain of %d channels (derive, energy, device_temp), more "
               "than %d",
               cm->ch[i].name, r, DEV_CAT_READ_DEPTH);
    pop(x, o);
    return r;
  }
  return 0;
}

/* ---- values (attributes and heartbeat tags) ----------------------------------------------- */

static const char *const encode_names[] = {"linear", "not", "log_lux", "zone_status", "map", NULL};

/* value, scale, offset, encode, bit, map of an attribute or a tag; v->type is set. */
static int parse_value(struct ld *x, const struct dev_cat_model *cm, const yaml_node_t *m,
                       struct dev_cat_value *v, int is_tag) {
  int r, enc;
  yaml_node_t *val;
  v->ch = -1;
  v->scale = 1;
  if ((r = require(x, m, "value", &val)) || (r = key_num(x, m, "scale", 0, 1, &v->scale)) ||
      (r = key_num(x, m, "offset", 0, 0, &v->offset)) ||
      (r = key_enum(x, m, "encode", 0, DEV_ENC_LINEAR, encode_names, &enc)))
    return r;
  v->encode = (uint8_t)enc;
  size_t o = push_key(x, "value");
  int hex = 0;
  if (val->type == YAML_MAPPING_NODE) {
    static const char *const keys[] = {"const", "hex", NULL};
    if ((r = check_map(x, val, keys)))
      goto out;
    if (map_len(val) != 1) {
      r = fail(x, val, "expected a channel name, {const: N} or {hex: \"..\"}");
      goto out;
    }
    yaml_node_t *k;
    if ((k = get(x, val, "const"))) {
      size_t o2 = push_key(x, "const");
      r = num(x, k, &v->k);
      pop(x, o2);
    } else {
      k = get(x, val, "hex");
      size_t o2 = push_key(x, "hex");
      if (is_tag)
        r = fail(x, k, "heartbeat tags take numbers only");
      else if (!type_is_string(v->type))
        r = fail(x, k, "hex is only for the string types octstr and string");
      else
        r = hexbytes(x, k, &v->hex);
      pop(x, o2);
      hex = 1;
    }
    if (r)
      goto out;
  } else if (is_scalar(val)) {
    if ((r = chref(x, cm, val, &v->ch)))
      goto out;
  } else {
    r = fail(x, val, "expected a channel name, {const: N} or {hex: \"..\"}");
    goto out;
  }
  pop(x, o);

  yaml_node_t *bit = get(x, m, "bit"), *map = get(x, m, "map"), *encn = get(x, m, "encode");
  if (hex) {
    if (encn)
      return fail(x, encn, "encode: not with a hex value");
    v->encode = DEV_ENC_HEX;
  } else if (type_is_string(v->type) && v->encode != DEV_ENC_MAP) {
    return fail(x, m, "a %s attribute needs value: {hex: \"..\"} or encode: map",
                v->type == 0x41 ? "octstr" : "string");
  } else if (!type_is_string(v->type) && v->encode == DEV_ENC_MAP) {
    return fail(x, encn, "encode: map is only for the string types octstr and string");
  }
  if (v->encode == DEV_ENC_ZONE_STATUS) {
    uint8_t b;
    if (v->type != 0x19)
      return fail(x, encn, "encode: zone_status needs type bitmap16");
    if ((r = key_u8(x, m, "bit", 1, 0, &b)))
      return r;
    if (b > 15) {
      o = push_key(x, "bit");
      r = fail(x, bit, "%u is out of range [0, 15]", b);
      pop(x, o);
      return r;
    }
    v->bit = b;
  } else if (bit) {
    o = push_key(x, "bit");
    r = fail(x, bit, "only with encode: zone_status");
    pop(x, o);
    return r;
  }
  if (v->encode == DEV_ENC_MAP) {
    if (v->ch < 0)
      return fail(x, val, "encode: map needs a channel value");
    if (!map)
      return fail(x, m, "missing required key \"map\"");
    o = push_key(x, "map");
    if (map->type != YAML_MAPPING_NODE || map_len(map) == 0 || map_len(map) > DEV_CAT_MAP_MAX) {
      r = fail(x, map, "expected a mapping of 1 to %d entries VALUE: \"HEX\"", DEV_CAT_MAP_MAX);
      goto out;
    }
    v->n_map = (uint8_t)map_len(map);
    for (size_t i = 0; i < v->n_map; i++) {
      yaml_node_pair_t *p = &map->data.mapping.pairs.start[i];
      if ((r = num(x, node(x, p->key), &v->map_key[i])))
        goto out;
      for (size_t j = 0; j < i; j++)
        if (v->map_key[j] == v->map_key[i]) {
          r = fail(x, node(x, p->key), "value %s given twice", sc(node(x, p->key)));
          goto out;
        }
      size_t o2 = push_key(x, sc(node(x, p->key)));
      r = hexbytes(x, node(x, p->value), &v->map_val[i]);
      pop(x, o2);
      if (r)
        goto out;
    }
    pop(x, o);
  } else if (map) {
    o = push_key(x, "map");
    r = fail(x, map, "only with encode: map");
    goto out;
  }
  return 0;
out:
  pop(x, o);
  return r;
}

/* ---- attributes --------------------------------------------------------------------------- */

static int has_ep(const struct dev_cat_model *cm, uint8_t ep) {
  for (uint8_t i = 0; i < cm->m.n_endpoints; i++)
    if (cm->m.endpoints[i].id == ep)
      return 1;
  return 0;
}

static int key_ep(struct ld *x, const struct dev_cat_model *cm, const yaml_node_t *m, int req,
                  uint8_t *out) {
  int r = key_u8(x, m, "ep", req, 0, out);
  if (r || (!req && !get(x, m, "ep")))
    return r;
  if (!has_ep(cm, *out)) {
    size_t o = push_key(x, "ep");
    r = fail(x, get(x, m, "ep"), "endpoint %u is not declared in endpoints", *out);
    pop(x, o);
  }
  return r;
}

static int parse_report(struct ld *x, const struct dev_cat_model *cm, const yaml_node_t *m,
                        struct dev_cat_attr *a) {
  yaml_node_t *rep = get(x, m, "report");
  int r = 0;
  a->report = DEV_REP_NONE;
  a->event_ch = -1;
  if (!rep)
    return 0;
  size_t o = push_key(x, "report");
  if (is_scalar(rep) && strcmp(sc(rep), "none") == 0) {
    a->report = DEV_REP_NONE;
  } else if (is_scalar(rep) && strcmp(sc(rep), "event") == 0) {
    a->report = DEV_REP_EVENT;
    if (a->v.ch < 0) {
      r = fail(x, rep, "event reports need a channel value");
    } else {
      const struct dev_cat_channel *ch = &cm->ch[a->v.ch];
      if (ch->kind == DEV_CH_DIRECTION)
        a->event_ch = ch->p.dir.of;
      else if (!ch->is_event)
        r = fail(x, rep,
                 "channel \"%s\" (%s) has no events (report: {with: CHANNEL} sends it "
                 "with another channel's events)",
                 ch->name, kind_name(ch->kind));
      else
        a->event_ch = a->v.ch;
    }
  } else if (rep->type == YAML_MAPPING_NODE && get(x, rep, "with")) {
    static const char *const keys[] = {"with", NULL};
    a->report = DEV_REP_EVENT;
    if (!(r = check_map(x, rep, keys)) && !(r = chref(x, cm, get(x, rep, "with"), &a->event_ch))) {
      const struct dev_cat_channel *ch = &cm->ch[a->event_ch];
      if (!ch->is_event)
        r = fail(x, get(x, rep, "with"), "with: channel \"%s\" (%s) has no events", ch->name,
                 kind_name(ch->kind));
    }
  } else if (rep->type == YAML_MAPPING_NODE) {
    static const char *const keys[] = {"change", "change_pct", "min_s", "max_s", NULL};
    a->report = DEV_REP_CHANGE;
    if ((r = check_map(x, rep, keys)) || (r = key_pos(x, rep, "change", 0, 0, &a->change)) ||
        (r = key_pos(x, rep, "change_pct", 0, 0, &a->change_pct)) ||
        (r = key_dur(x, rep, "min_s", 0, 0, &a->min_s)) ||
        (r = key_dur(x, rep, "max_s", 0, 0, &a->max_s)))
      goto out;
    if (a->max_s > 0 && a->min_s > a->max_s)
      r = fail(x, rep, "min_s must not be above max_s");
    else if (a->v.ch < 0 && a->max_s <= 0)
      r = fail(x, rep, "a constant value is reported only with max_s > 0");
  } else if (is_scalar(rep)) {
    r = fail(x, rep,
             "expected none, event, {with: CHANNEL} or {change, change_pct, min_s, max_s}, "
             "got \"%s\"",
             sc(rep));
  } else {
    r = fail(x, rep, "expected none, event, {with: CHANNEL} or {change, change_pct, min_s, max_s}");
  }
out:
  pop(x, o);
  return r;
}

static int parse_attr(struct ld *x, struct dev_cat_model *cm, struct dev_cat_attr *a,
                      const yaml_node_t *m) {
  static const char *const keys[] = {"name",  "ep",     "cluster", "attr",   "type",     "mfr",
                                     "value", "scale",  "offset",  "encode", "bit",      "map",
                                     "unit",  "report", "on_join", "as",     "writable", NULL};
  static const char *const as_names[] = {"", "zone_status_change", NULL};
  int r, as;
  const char *name, *unit;
  if ((r = check_map(x, m, keys)) ||
      (r = key_str(x, m, "name", 1, DEV_CAT_NAME_MAX - 1, NULL, &name)) ||
      (r = key_ep(x, cm, m, 1, &a->ep)) || (r = key_u16(x, m, "cluster", 1, 0, &a->cluster)) ||
      (r = key_u16(x, m, "attr", 1, 0, &a->attr)) || (r = key_type(x, m, "type", 0, &a->v.type)) ||
      (r = key_u16(x, m, "mfr", 0, 0, &a->mfr)) ||
      (r = key_str(x, m, "unit", 0, sizeof(a->unit) - 1, NULL, &unit)) ||
      (r = parse_value(x, cm, m, &a->v, 0)) || (r = parse_report(x, cm, m, a)) ||
      (r = key_bool(x, m, "on_join", 0, 0, &a->on_join)) ||
      (r = key_enum(x, m, "as", 0, 0, as_names, &as)) ||
      (r = key_bool(x, m, "writable", 0, 0, &a->writable)))
    return r;
  snprintf(a->name, sizeof(a->name), "%s", name);
  if (unit)
    snprintf(a->unit, sizeof(a->unit), "%s", unit);
  if (get(x, m, "as") && as == 0) {
    size_t o = push_key(x, "as");
    r = fail(x, get(x, m, "as"), "expected zone_status_change");
    pop(x, o);
    return r;
  }
  a->as_zone_status = as == 1;
  if (a->as_zone_status && (a->cluster != 0x0500 || a->v.type != 0x19))
    return fail(x, get(x, m, "as"),
                "as: zone_status_change needs cluster 0x0500 and type bitmap16");
  if (a->writable) {
    if (a->v.ch < 0 || cm->ch[a->v.ch].kind != DEV_CH_ACTUATOR)
      return fail(x, get(x, m, "writable"), "writable: the value must be an actuator channel");
    if (type_is_string(a->v.type))
      return fail(x, get(x, m, "writable"), "writable: not for string types");
    if (a->v.encode == DEV_ENC_LINEAR && a->v.scale == 0)
      return fail(x, get(x, m, "scale"), "scale: 0 cannot be undone for a write (writable)");
  }
  return 0;
}

/* The head of a model's list of up to 255 entries (attributes, commands, triggers): checks
 * that seq is such a list and allocates *n elements of size bytes in *arr. 0 or the error. */
static int list_head(struct ld *x, const yaml_node_t *seq, const char *what, size_t size,
                     void **arr, uint8_t *n) {
  if (!is_seq(seq) || seq_len(seq) > 255)
    return fail(x, seq, "expected a list of at most 255 %s", what);
  *n = (uint8_t)seq_len(seq);
  *arr = ar_alloc(&x->ar, (*n ? *n : 1) * size);
  return *arr ? 0 : fail_oom(x);
}

static int parse_attrs(struct ld *x, struct dev_cat_model *cm, const yaml_node_t *model) {
  yaml_node_t *as = get(x, model, "attributes");
  if (!as)
    return 0;
  int r = 0;
  size_t o = push_key(x, "attributes");
  void *arr;
  if ((r = list_head(x, as, "attributes", sizeof(*cm->attr), &arr, &cm->n_attr)))
    goto out;
  cm->attr = arr;
  for (size_t i = 0; i < cm->n_attr; i++) {
    yaml_node_t *m = node(x, as->data.sequence.items.start[i]);
    size_t o2 = push_idx(x, i);
    struct dev_cat_attr *a = &cm->attr[i];
    r = parse_attr(x, cm, a, m);
    for (size_t j = 0; !r && j < i; j++)
      if (cm->attr[j].ep == a->ep && cm->attr[j].cluster == a->cluster &&
          cm->attr[j].attr == a->attr)
        r = fail(x, m, "endpoint %u cluster 0x%04X attribute 0x%04X listed twice (attributes[%zu])",
                 a->ep, a->cluster, a->attr, j);
    pop(x, o2);
    if (r)
      goto out;
  }
out:
  pop(x, o);
  return r;
}

/* ---- heartbeat ---------------------------------------------------------------------------- */

/* Bytes of the heartbeat's attribute record: attr id, type, length byte and its TLVs. */
static size_t hb_record_bytes(const struct dev_cat_heartbeat *hb) {
  size_t n = 4;
  for (uint8_t i = 0; i < hb->n_tags; i++)
    n += 2 + (size_t)sim_zcl_type_size(hb->tags[i].v.type);
  return n;
}

static int parse_heartbeat(struct ld *x, struct dev_cat_model *cm, const yaml_node_t *model) {
  static const char *const keys[] = {"format", "period_s", "tags", "length_adjust", NULL};
  static const char *const tag_keys[] = {"tag",    "type",   "value", "scale",
                                         "offset", "encode", "bit",   NULL};
  static const char *const formats[] = {"ff01", "00f7", NULL};
  yaml_node_t *hb = get(x, model, "heartbeat"), *tags;
  if (!hb)
    return 0;
  int r, fmt;
  double period[2], adjust;
  size_t o = push_key(x, "heartbeat");
  if ((r = check_map(x, hb, keys)) || (r = key_enum(x, hb, "format", 1, 0, formats, &fmt)) ||
      (r = key_pair(x, hb, "period_s", 1, 0, 0, period)) || (r = require(x, hb, "tags", &tags)) ||
      (r = key_int(x, hb, "length_adjust", 0, 0, -1, 1, &adjust)))
    goto out;
  cm->hb.length_adjust = (int8_t)adjust;
  if ((r = at_most(x, hb, "period_s", period[1], DEV_CAT_DURATION_MAX_S,
                   "s (10 days, the longest duration)")))
    goto out;
  if (period[0] <= 0) {
    size_t o2 = push_key(x, "period_s");
    r = fail(x, get(x, hb, "period_s"), "must be positive");
    pop(x, o2);
    goto out;
  }
  cm->hb.present = 1;
  cm->hb.cluster = fmt == 0 ? 0x0000 : 0xFCC0;
  cm->hb.attr = fmt == 0 ? 0xFF01 : 0x00F7;
  cm->hb.type = fmt == 0 ? 0x42 : 0x41;
  cm->hb.period_min_s = period[0];
  cm->hb.period_max_s = period[1];
  size_t o2 = push_key(x, "tags");
  if (!is_seq(tags) || seq_len(tags) == 0 || seq_len(tags) > 255) {
    r = fail(x, tags, "expected a list of 1 to 255 tags");
    pop(x, o2);
    goto out;
  }
  cm->hb.n_tags = (uint8_t)seq_len(tags);
  cm->hb.tags = ar_alloc(&x->ar, cm->hb.n_tags * sizeof(*cm->hb.tags));
  if (!cm->hb.tags) {
    r = fail_oom(x);
    pop(x, o2);
    goto out;
  }
  for (size_t i = 0; i < cm->hb.n_tags; i++) {
    yaml_node_t *m = node(x, tags->data.sequence.items.start[i]);
    struct dev_cat_tag *t = &cm->hb.tags[i];
    size_t o3 = push_idx(x, i);
    if (!(r = check_map(x, m, tag_keys)) && !(r = key_u8(x, m, "tag", 1, 0, &t->tag)) &&
        !(r = key_type(x, m, "type", 1, &t->v.type)))
      r = parse_value(x, cm, m, &t->v, 1);
    for (size_t j = 0; !r && j < i; j++)
      if (cm->hb.tags[j].tag == t->tag)
        r = fail(x, m, "tag 0x%02X listed twice", t->tag);
    pop(x, o3);
    if (r) {
      pop(x, o2);
      goto out;
    }
  }
  /* The record goes out in one frame with the Xiaomi header (5 bytes); one that does not fit
   * would never be sent. */
  size_t bytes = 5 + hb_record_bytes(&cm->hb);
  if (bytes > DEV_ZCL_FRAME_MAX)
    r = fail(x, tags, "the heartbeat frame would take %zu bytes, more than the %d of a ZCL frame",
             bytes, DEV_ZCL_FRAME_MAX);
  pop(x, o2);
out:
  pop(x, o);
  return r;
}

/* ---- commands, triggers ------------------------------------------------------------------- */

static const char *const action_names[] = {"",    "set",  "on",     "off", "toggle",
                                           "arg", "stop", "detect", NULL};

static int parse_commands(struct ld *x, struct dev_cat_model *cm, const yaml_node_t *model) {
  static const char *const keys[] = {"ep",      "cluster", "command", "do",
                                     "channel", "value",   "arg",     NULL};
  static const char *const arg_keys[] = {"offset", "type", "scale", NULL};
  yaml_node_t *cs = get(x, model, "commands");
  if (!cs)
    return 0;
  int r = 0;
  size_t o = push_key(x, "commands");
  void *arr;
  if ((r = list_head(x, cs, "commands", sizeof(*cm->cmd), &arr, &cm->n_cmd)))
    goto out;
  cm->cmd = arr;
  for (size_t i = 0; i < cm->n_cmd; i++) {
    yaml_node_t *m = node(x, cs->data.sequence.items.start[i]);
    struct dev_cat_command *c = &cm->cmd[i];
    size_t o2 = push_idx(x, i);
    int act;
    c->arg_scale = 1;
    if ((r = check_map(x, m, keys)) || (r = key_ep(x, cm, m, 0, &c->ep)) ||
        (r = key_u16(x, m, "cluster", 1, 0, &c->cluster)) ||
        (r = key_u8(x, m, "command", 1, 0, &c->command)) ||
        (r = key_enum(x, m, "do", 1, 0, action_names, &act)) ||
        (r = key_chref(x, cm, m, "channel", 1, &c->ch)))
      goto item;
    yaml_node_t *don = get(x, m, "do"), *val = get(x, m, "value"), *arg = get(x, m, "arg");
    if (act == 0 || act == DEV_DO_DETECT) {
      size_t o3 = push_key(x, "do");
      r = fail(x, don, "expected on, off, toggle, set, arg or stop, got \"%s\"", sc(don));
      pop(x, o3);
      goto item;
    }
    c->action = (uint8_t)act;
    if (cm->ch[c->ch].kind != DEV_CH_ACTUATOR) {
      size_t o3 = push_key(x, "channel");
      r = fail(x, get(x, m, "channel"), "\"%s\" is not an actuator", cm->ch[c->ch].name);
      pop(x, o3);
      goto item;
    }
    if (act == DEV_DO_SET) {
      if ((r = key_num(x, m, "value", 1, 0, &c->k)))
        goto item;
    } else if (val) {
      size_t o3 = push_key(x, "value");
      r = fail(x, val, "only with do: set");
      pop(x, o3);
      goto item;
    }
    if (act == DEV_DO_ARG) {
      double off;
      if ((r = require(x, m, "arg", &arg)))
        goto item;
      size_t o3 = push_key(x, "arg");
      if (!(r = check_map(x, arg, arg_keys)) &&
          !(r = key_int(x, arg, "offset", 1, 0, 0, 255, &off)) &&
          !(r = key_type(x, arg, "type", 1, &c->arg_type)) &&
          !(r = key_num(x, arg, "scale", 0, 1, &c->arg_scale))) {
        c->arg_off = (uint8_t)off;
        if (c->arg_scale == 0)
          r = fail(x, get(x, arg, "scale"), "scale: must not be 0");
      }
      pop(x, o3);
      if (r)
        goto item;
    } else if (arg) {
      size_t o3 = push_key(x, "arg");
      r = fail(x, arg, "only with do: arg");
      pop(x, o3);
      goto item;
    }
    for (size_t j = 0; j < i; j++)
      if (cm->cmd[j].cluster == c->cluster && cm->cmd[j].command == c->command &&
          (cm->cmd[j].ep == c->ep || !cm->cmd[j].ep || !c->ep)) {
        r = fail(x, m, "cluster 0x%04X command 0x%02X listed twice (commands[%zu])", c->cluster,
                 c->command, j);
        goto item;
      }
  item:
    pop(x, o2);
    if (r)
      goto out;
  }
out:
  pop(x, o);
  return r;
}

static int parse_triggers(struct ld *x, struct dev_cat_model *cm, const yaml_node_t *model) {
  static const char *const keys[] = {"name", "do", "channel", "value", NULL};
  yaml_node_t *ts = get(x, model, "triggers");
  if (!ts)
    return 0;
  int r = 0;
  size_t o = push_key(x, "triggers");
  void *arr;
  if ((r = list_head(x, ts, "triggers", sizeof(*cm->trig), &arr, &cm->n_trig)))
    goto out;
  cm->trig = arr;
  for (size_t i = 0; i < cm->n_trig; i++) {
    yaml_node_t *m = node(x, ts->data.sequence.items.start[i]);
    struct dev_cat_trigger *t = &cm->trig[i];
    size_t o2 = push_idx(x, i);
    const char *name;
    int act;
    if ((r = check_map(x, m, keys)) ||
        (r = key_str(x, m, "name", 1, DEV_CAT_NAME_MAX - 1, NULL, &name)))
      goto item;
    {
      size_t o3 = push_key(x, "name");
      r = check_name(x, get(x, m, "name"), name);
      pop(x, o3);
      if (r)
        goto item;
    }
    snprintf(t->name, sizeof(t->name), "%s", name);
    if ((r = key_enum(x, m, "do", 1, 0, action_names, &act)) ||
        (r = key_chref(x, cm, m, "channel", 1, &t->ch)))
      goto item;
    if (act == 0 || act == DEV_DO_ARG || act == DEV_DO_STOP) {
      size_t o3 = push_key(x, "do");
      r = fail(x, get(x, m, "do"), "expected set, on, off, toggle or detect, got \"%s\"",
               sc(get(x, m, "do")));
      pop(x, o3);
      goto item;
    }
    t->action = (uint8_t)act;
    const struct dev_cat_channel *ch = &cm->ch[t->ch];
    if (act == DEV_DO_DETECT ? ch->kind != DEV_CH_BURSTS : !ch->is_event) {
      size_t o3 = push_key(x, "channel");
      r = fail(x, get(x, m, "channel"), "\"%s\" (%s) cannot be %s by a trigger", ch->name,
               kind_name(ch->kind), act == DEV_DO_DETECT ? "detected" : "set");
      pop(x, o3);
      goto item;
    }
    t->k = act == DEV_DO_DETECT ? NAN : 0;
    if (act == DEV_DO_SET || act == DEV_DO_DETECT) {
      if ((r = key_num(x, m, "value", act == DEV_DO_SET, t->k, &t->k)))
        goto item;
    } else if (get(x, m, "value")) {
      size_t o3 = push_key(x, "value");
      r = fail(x, get(x, m, "value"), "only with do: set or detect");
      pop(x, o3);
      goto item;
    }
    for (size_t j = 0; j < i; j++)
      if (strcmp(cm->trig[j].name, t->name) == 0) {
        r = fail(x, m, "trigger \"%s\" listed twice", t->name);
        goto item;
      }
  item:
    pop(x, o2);
    if (r)
      goto out;
  }
out:
  pop(x, o);
  return r;
}

/* ---- endpoints ---------------------------------------------------------------------------- */

static int cluster_list(struct ld *x, const yaml_node_t *m, const char *key, const uint16_t **out,
                        uint8_t *n) {
  yaml_node_t *v = get(x, m, key);
  *out = NULL;
  *n = 0;
  if (!v)
    return 0;
  int r = 0;
  size_t o = push_key(x, key);
  if (!is_seq(v) || seq_len(v) > DEV_CAT_CLUSTERS_MAX) {
    r = fail(x, v, "expected a list of at most %d cluster ids (what DeviceJoined carries)",
             DEV_CAT_CLUSTERS_MAX);
    goto out;
  }
  *n = (uint8_t)seq_len(v);
  uint16_t *l = ar_alloc(&x->ar, (*n ? *n : 1) * sizeof(*l));
  if (!l) {
    r = fail_oom(x);
    goto out;
  }
  for (size_t i = 0; i < *n; i++) {
    double d;
    size_t o2 = push_idx(x, i);
    r = inum(x, node(x, v->data.sequence.items.start[i]), 0, 65535, &d);
    pop(x, o2);
    if (r)
      goto out;
    l[i] = (uint16_t)d;
  }
  *out = l;
out:
  pop(x, o);
  return r;
}

/* Zigbee application endpoints are 1..240; 242 is the Green Power proxy endpoint real Zigbee
 * 3.0 devices announce. 241 and 243..254 are reserved, 0 is the device object, 255 broadcast. */
static int ep_id(struct ld *x, const yaml_node_t *m, double id) {
  if (id != 241)
    return 0;
  size_t o = push_key(x, "id");
  int r = fail(x, get(x, m, "id"),
               "241 is reserved (application endpoints are 1..240, 242 is "
               "Green Power)");
  pop(x, o);
  return r;
}

static int parse_endpoints(struct ld *x, struct dev_cat_model *cm, const yaml_node_t *model) {
  static const char *const keys[] = {"id", "profile", "device_id", "in", "out", NULL};
  yaml_node_t *eps;
  int r = require(x, model, "endpoints", &eps);
  if (r)
    return r;
  size_t o = push_key(x, "endpoints");
  if (!is_seq(eps) || seq_len(eps) == 0 || seq_len(eps) > DEV_CAT_ENDPOINTS_MAX) {
    r = fail(x, eps, "expected a list of 1 to %d endpoints (what DeviceJoined carries)",
             DEV_CAT_ENDPOINTS_MAX);
    goto out;
  }
  size_t n = seq_len(eps);
  struct sim_model_endpoint *e = ar_alloc(&x->ar, n * sizeof(*e));
  if (!e) {
    r = fail_oom(x);
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *m = node(x, eps->data.sequence.items.start[i]);
    size_t o2 = push_idx(x, i);
    double id = 0;
    if (!(r = check_map(x, m, keys)) && !(r = key_int(x, m, "id", 1, 0, 1, 242, &id)) &&
        !(r = ep_id(x, m, id)) && !(r = key_u16(x, m, "profile", 1, 0, &e[i].profile)) &&
        !(r = key_u16(x, m, "device_id", 1, 0, &e[i].device_id)) &&
        !(r = cluster_list(x, m, "in", &e[i].in, &e[i].n_in)))
      r = cluster_list(x, m, "out", &e[i].out, &e[i].n_out);
    if (!r) /* (an id out of range is still in `id`: converting it would be undefined) */
      e[i].id = (uint8_t)id;
    for (size_t j = 0; !r && j < i; j++)
      if (e[j].id == e[i].id)
        r = fail(x, m, "endpoint %u listed twice", e[i].id);
    pop(x, o2);
    if (r)
      goto out;
  }
  cm->m.endpoints = e;
  cm->m.n_endpoints = (uint8_t)n;
out:
  pop(x, o);
  return r;
}

/* ---- battery, lqi, device_temp ------------------------------------------------------------ */

static int parse_battery(struct ld *x, struct dev_cat_model *cm, const yaml_node_t *model) {
  static const char *const keys[] = {
      "fresh_mv", "empty_mv", "per_frame_uv", "per_day_uv", "percent_mv", "low_pct", NULL};
  yaml_node_t *b = get(x, model, "battery");
  int r = 0;
  if (!cm->has_battery) {
    if (b)
      return fail(x, b, "battery: only for power: battery");
    return 0;
  }
  if (!b)
    return fail(x, model, "missing required key \"battery\" (power: battery)");
  struct dev_cat_battery *bt = &cm->battery;
  double fresh[2], pct[2];
  size_t o = push_key(x, "battery");
  if ((r = check_map(x, b, keys)) || (r = key_pair(x, b, "fresh_mv", 1, 0, 0, fresh)) ||
      (r = key_pos(x, b, "empty_mv", 1, 0, &bt->empty_mv)) ||
      (r = key_pos(x, b, "per_frame_uv", 1, 0, &bt->per_frame_uv)) ||
      (r = key_pos(x, b, "per_day_uv", 0, 0, &bt->per_day_uv)) ||
      (r = key_pair(x, b, "percent_mv", 1, 0, 0, pct)) ||
      (r = key_pos(x, b, "low_pct", 1, 0, &bt->low_pct)))
    goto out;
  bt->fresh_min_mv = fresh[0];
  bt->fresh_max_mv = fresh[1];
  bt->pct_min_mv = pct[0];
  bt->pct_max_mv = pct[1];
  /* The voltage is kept as microvolts in 32 bits. */
  if ((r = at_most(x, b, "fresh_mv", fresh[1], DEV_CAT_BATTERY_MAX_MV, "mV")) ||
      (r = at_most(x, b, "percent_mv", pct[1], DEV_CAT_BATTERY_MAX_MV, "mV")))
    goto out;
  if (bt->empty_mv > bt->fresh_min_mv)
    r = fail(x, b, "empty_mv must not be above fresh_mv");
  else if (pct[0] >= pct[1])
    r = fail(x, get(x, b, "percent_mv"), "percent_mv: expected [min, max] with min < max");
  else if (bt->low_pct > 100)
    r = fail(x, get(x, b, "low_pct"), "low_pct: must be in [0, 100]");
out:
  pop(x, o);
  return r;
}

static int parse_lqi(struct ld *x, struct dev_cat_model *cm, const yaml_node_t *model) {
  static const char *const keys[] = {"range", "drift", NULL};
  yaml_node_t *l = get(x, model, "lqi");
  double rg[2] = {120, 255};
  cm->lqi_min = 120;
  cm->lqi_max = 255;
  cm->lqi_drift = 2;
  if (!l)
    return 0;
  int r;
  size_t o = push_key(x, "lqi");
  if (!(r = check_map(x, l, keys)) && !(r = key_pair(x, l, "range", 0, 120, 255, rg)) &&
      !(r = key_pos(x, l, "drift", 0, 2, &cm->lqi_drift))) {
    if (rg[0] < 0 || rg[1] > 255)
      r = fail(x, get(x, l, "range"), "range: must be within [0, 255]");
    cm->lqi_min = rg[0];
    cm->lqi_max = rg[1];
  }
  pop(x, o);
  return r;
}

/* device_temp's `power` names a channel, so it is read after the channels. */
static int parse_device_temp(struct ld *x, struct dev_cat_model *cm, const yaml_node_t *model) {
  static const char *const keys[] = {"base", "spread", "power", "per_w", NULL};
  yaml_node_t *d = get(x, model, "device_temp");
  cm->device_temp_base = 25;
  cm->device_temp_spread = 3;
  cm->device_temp_per_w = 0;
  cm->device_temp_power = -1;
  if (!d)
    return 0;
  int r;
  size_t o = push_key(x, "device_temp");
  if (!(r = check_map(x, d, keys)) && !(r = key_num(x, d, "base", 0, 25, &cm->device_temp_base)) &&
      !(r = key_pos(x, d, "spread", 0, 3, &cm->device_temp_spread)) &&
      !(r = key_chref(x, cm, d, "power", 0, &cm->device_temp_power)))
    r = key_num(x, d, "per_w", 0, 0, &cm->device_temp_per_w);
  pop(x, o);
  return r;
}

/* ---- state layout ------------------------------------------------------------------------- */

/* Offsets into sim_device.state, as documented in cat.h: 8-byte values first, then 4-byte,
 * then the 16-bit counter, so no padding is needed between groups. Returns the bytes used. */
static size_t layout(struct dev_cat_model *cm) {
  size_t off = 0;
#define TAKE(field, n)                                                                             \
  do {                                                                                             \
    (field) = (uint16_t)off;                                                                       \
    off += (n);                                                                                    \
  } while (0)
  for (uint8_t i = 0; i < cm->n_ch; i++) {
    struct dev_cat_channel *ch = &cm->ch[i];
    ch->off = ch->off_a = ch->off_b = ch->off_c = DEV_CAT_NO_OFF;
    if (ch->kind == DEV_CH_ENERGY)
      TAKE(ch->off, 8);
  }
  for (uint8_t i = 0; i < cm->n_ch; i++) {
    struct dev_cat_channel *ch = &cm->ch[i];
    switch (ch->kind) {
    case DEV_CH_WALK:
      TAKE(ch->off, 4);
      TAKE(ch->off_a, 4);
      break;
    case DEV_CH_DAYLIGHT:
    case DEV_CH_METER:
    case DEV_CH_BATTERY_MV:
      TAKE(ch->off, 4);
      break;
    case DEV_CH_BURSTS:
      TAKE(ch->off, 4);
      TAKE(ch->off_a, 4);
      TAKE(ch->off_b, 4);
      if (ch->p.bursts.reset_s > 0)
        TAKE(ch->off_c, 4);
      break;
    case DEV_CH_TWO_STATE:
      TAKE(ch->off, 4);
      TAKE(ch->off_a, 4);
      break;
    case DEV_CH_ACTUATOR:
      TAKE(ch->off, 4);
      TAKE(ch->off_a, 4);
      TAKE(ch->off_b, 4);
      if (ch->p.act.local_s > 0)
        TAKE(ch->off_c, 4);
      break;
    case DEV_CH_ENERGY:
      TAKE(ch->off_a, 4);
      break;
    case DEV_CH_TRIGGERS: /* 32 bits: a busy sensor passes 65,535 events within months */
      TAKE(ch->off, 4);
      break;
    default:
      break;
    }
  }
  for (uint8_t i = 0; i < cm->n_attr; i++) {
    cm->attr[i].off_last = DEV_CAT_NO_OFF;
    if (cm->attr[i].report == DEV_REP_CHANGE)
      TAKE(cm->attr[i].off_last, 8);
  }
  cm->hb.off_next = DEV_CAT_NO_OFF;
  if (cm->hb.present)
    TAKE(cm->hb.off_next, 4);
  for (uint8_t i = 0; i < cm->n_ch; i++) {
    struct dev_cat_channel *ch = &cm->ch[i];
    if (ch->kind == DEV_CH_POWER_ON) /* 16 bits, as the real devices' tag 0x05 */
      TAKE(ch->off, 2);
  }
#undef TAKE
  return (off + 3) / 4 * 4;
}

/* ---- models, hubs ------------------------------------------------------------------------- */

/* Where model_id is already defined (this file or the catalogue), or NULL. */
static const struct dev_cat_model *find_loaded(struct ld *x, const char *id) {
  const struct dev_cat_model *m = dev_cat_find(x->c, id);
  if (m)
    return m;
  for (size_t i = 0; i < x->n_models; i++)
    if (strcmp(x->models[i]->m.model_id, id) == 0)
      return x->models[i];
  return NULL;
}

static int add_model_ptr(struct ld *x, struct dev_cat_model *cm) {
  if (x->n_models == x->cap_models) {
    size_t cap = x->cap_models ? 2 * x->cap_models : 16;
    struct dev_cat_model **p = realloc(x->models, cap * sizeof(*p));
    if (!p)
      return fail_oom(x);
    x->models = p;
    x->cap_models = cap;
  }
  x->models[x->n_models++] = cm;
  return 0;
}

#define ID_WHY "(a ZCL modelIdentifier)"

/* A model id (or alias) about to be added: not defined yet, and room for it in the registry.
 * Checking the count first keeps the search bounded. */
static int new_id(struct ld *x, const yaml_node_t *v, const char *id) {
  if (x->c->n_models + x->n_models >= DEV_CAT_MODELS_MAX)
    return fail(x, v,
                "model id \"%s\": the catalogue already holds %d model ids, the most the "
                "engine can register",
                id, DEV_CAT_MODELS_MAX);
  const struct dev_cat_model *prev = find_loaded(x, id);
  if (!prev)
    return 0;
  return fail(x, v, "duplicate model id \"%s\" (first defined at %s:%d)", id, prev->source_file,
              prev->source_line);
}

/* A legacy model sends its model id and its heartbeat in one frame right after joining
 * (generic.c send_heartbeat): header with manufacturer code (5), the modelId record (4 + id)
 * and the heartbeat record. A frame that does not fit is never sent, so it is refused here. */
static int join_frame_fits(struct ld *x, const struct dev_cat_model *cm, const yaml_node_t *v,
                           const char *id) {
  if (!cm->legacy_join)
    return 0;
  size_t n = 5 + 4 + strlen(id) + (cm->hb.present ? hb_record_bytes(&cm->hb) : 0);
  if (n <= DEV_ZCL_FRAME_MAX)
    return 0;
  char cb[48];
  return fail(x, v,
              "\"%s\": the join frame of a legacy model (modelId and heartbeat) would take %zu "
              "bytes, more than the %d of a ZCL frame",
              clip(id, cb), n, DEV_ZCL_FRAME_MAX);
}

static int parse_model(struct ld *x, const yaml_node_t *m) {
  static const char *const keys[] = {
      "id",          "aliases",     "vendor",       "vendor_model",
      "description", "category",    "manufacturer", "manufacturer_code",
      "ieee_oui",    "power",       "logical_type", "sleepy",
      "poll_s",      "zcl_version", "app_version",  "hw_version",
      "sw_build",    "join",        "latency_ms",   "endpoints",
      "battery",     "lqi",         "device_temp",  "channels",
      "attributes",  "heartbeat",   "commands",     "triggers",
      NULL};
  static const char *const powers[] = {"mains", "battery", NULL};
  static const char *const logical[] = {"router", "end_device", NULL};
  static const char *const joins[] = {"announce", "legacy", NULL};
  int r, power, lt, join;
  double mc, oui, lat[2];
  struct dev_cat_model *cm = ar_alloc(&x->ar, sizeof(*cm));
  if (!cm)
    return fail_oom(x);
  if ((r = check_map(x, m, keys)) ||
      (r = key_str(x, m, "id", 1, DEV_CAT_ID_MAX, ID_WHY, &cm->m.model_id)))
    return r;
  cm->source_file = ar_strdup(x, x->file);
  if (!cm->source_file)
    return fail_oom(x);
  cm->source_line = node_line(m);
  {
    size_t o = push_key(x, "id");
    r = new_id(x, get(x, m, "id"), cm->m.model_id);
    pop(x, o);
    if (r)
      return r;
  }
  if ((r = key_str(x, m, "vendor", 1, DEV_CAT_LABEL_MAX, NULL, &cm->vendor)) ||
      (r = key_str(x, m, "vendor_model", 1, DEV_CAT_LABEL_MAX, NULL, &cm->m.vendor_model)) ||
      (r = key_str(x, m, "description", 1, DEV_CAT_DESCRIPTION_MAX, NULL, &cm->m.description)) ||
      (r = key_str(x, m, "category", 1, DEV_CAT_LABEL_MAX, NULL, &cm->category)) ||
      (r = key_str(x, m, "manufacturer", 1, DEV_CAT_ID_MAX, "(a ZCL manufacturerName)",
                   &cm->m.manufacturer)) ||
      (r = key_int(x, m, "manufacturer_code", 1, 0, 0, 0xFFFF, &mc)) ||
      (r = key_int(x, m, "ieee_oui", 1, 0, 0, 0xFFFFFF, &oui)) ||
      (r = key_enum(x, m, "power", 1, 0, powers, &power)) ||
      (r = key_enum(x, m, "logical_type", 1, 0, logical, &lt)) ||
      (r = key_bool(x, m, "sleepy", 1, 0, &cm->m.sleepy)) ||
      (r = key_u8(x, m, "zcl_version", 0, 1, &cm->zcl_version)) ||
      (r = key_u8(x, m, "app_version", 0, 1, &cm->app_version)) ||
      (r = key_u8(x, m, "hw_version", 0, 1, &cm->hw_version)) ||
      (r = key_str(x, m, "sw_build", 0, DEV_CAT_SW_BUILD_MAX, "(a ZCL swBuildId)",
                   &cm->sw_build)) ||
      (r = key_enum(x, m, "join", 1, 0, joins, &join)) ||
      (r = key_pair(x, m, "latency_ms", 0, 20, 60, lat)))
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
    return fail(x, get(x, m, "latency_ms"), "latency_ms: must not be negative");
  if ((r = at_most(x, m, "latency_ms", lat[1], DEV_CAT_LATENCY_MAX_MS, "ms (10 minutes)")))
    return r;
  if (cm->m.sleepy) {
    if ((r = key_dur(x, m, "poll_s", 1, 0, &cm->poll_s)))
      return r;
    cm->m.poll_ms = (uint32_t)llround(cm->poll_s * 1000);
    if (cm->m.logical_type != SIM_LOGICAL_END_DEVICE)
      return fail(x, get(x, m, "sleepy"), "sleepy: only end devices sleep");
  } else if (get(x, m, "poll_s")) {
    return fail(x, get(x, m, "poll_s"), "poll_s: only for sleepy: true");
  }
  if ((r = parse_battery(x, cm, m)) || (r = parse_lqi(x, cm, m)) ||
      (r = parse_endpoints(x, cm, m)) || (r = parse_channels(x, cm, m)) ||
      (r = parse_device_temp(x, cm, m)) || (r = parse_attrs(x, cm, m)) ||
      (r = parse_heartbeat(x, cm, m)) || (r = parse_commands(x, cm, m)) ||
      (r = parse_triggers(x, cm, m)) || (r = check_reads(x, cm, m)))
    return r;
  {
    size_t o = push_key(x, "id");
    r = join_frame_fits(x, cm, get(x, m, "id"), cm->m.model_id);
    pop(x, o);
    if (r)
      return r;
  }
  size_t bytes = layout(cm);
  if (bytes > SIM_DEV_STATE_BYTES)
    return fail(x, m,
                "model \"%s\" needs %zu bytes of per-device state, more than the %d "
                "available",
                cm->m.model_id, bytes, SIM_DEV_STATE_BYTES);
  cm->state_bytes = (uint16_t)bytes;
  cm->m.ops = &dev_generic_ops;
  cm->m.params = cm;
  if ((r = add_model_ptr(x, cm)))
    return r;

  yaml_node_t *al = get(x, m, "aliases");
  if (!al)
    return 0;
  size_t o = push_key(x, "aliases");
  if (!is_seq(al)) {
    r = fail(x, al, "expected a list of model ids");
    goto out;
  }
  for (size_t i = 0; i < seq_len(al); i++) {
    yaml_node_t *v = node(x, al->data.sequence.items.start[i]);
    size_t o2 = push_idx(x, i);
    if (!(r = check_str(x, v, DEV_CAT_ID_MAX, ID_WHY)) && !(r = new_id(x, v, sc(v))))
      r = join_frame_fits(x, cm, v, sc(v));
    struct dev_cat_model *am = NULL;
    if (!r && !(am = ar_alloc(&x->ar, sizeof(*am))))
      r = fail_oom(x);
    if (!r) {
      *am = *cm;
      am->alias_of_first = 1;
      am->m.params = am;
      if (!(am->m.model_id = ar_strdup(x, sc(v))))
        r = fail_oom(x);
    }
    if (!r)
      r = add_model_ptr(x, am);
    pop(x, o2);
    if (r)
      goto out;
  }
out:
  pop(x, o);
  return r;
}

static const struct dev_cat_hub *find_hub_loaded(struct ld *x, const char *id) {
  const struct dev_cat_hub *h = dev_cat_find_hub(x->c, id);
  if (h)
    return h;
  for (size_t i = 0; i < x->n_hubs; i++)
    if (strcmp(x->hubs[i].model_id, id) == 0)
      return &x->hubs[i];
  return NULL;
}

static int add_hub(struct ld *x, const yaml_node_t *v, const struct dev_cat_hub *h) {
  if (x->c->n_hubs + x->n_hubs >= DEV_CAT_HUBS_MAX)
    return fail(x, v, "hub id \"%s\": the catalogue already holds %d hub ids, the most it takes",
                h->model_id, DEV_CAT_HUBS_MAX);
  const struct dev_cat_hub *prev = find_hub_loaded(x, h->model_id);
  if (prev)
    return fail(x, v, "duplicate hub id \"%s\" (first defined at %s:%d)", h->model_id,
                prev->source_file, prev->source_line);
  if (x->n_hubs == x->cap_hubs) {
    size_t cap = x->cap_hubs ? 2 * x->cap_hubs : 8;
    struct dev_cat_hub *p = realloc(x->hubs, cap * sizeof(*p));
    if (!p)
      return fail_oom(x);
    x->hubs = p;
    x->cap_hubs = cap;
  }
  x->hubs[x->n_hubs++] = *h;
  return 0;
}

static int parse_hub(struct ld *x, const yaml_node_t *m) {
  static const char *const keys[] = {"id",       "aliases",     "name", "vendor_model",
                                     "firmware", "max_devices", NULL};
  struct dev_cat_hub h = {0};
  double maxd;
  int r;
  if ((r = check_map(x, m, keys)) ||
      (r = key_str(x, m, "id", 1, DEV_CAT_ID_MAX, NULL, &h.model_id)) ||
      (r = key_str(x, m, "name", 1, DEV_CAT_HUB_LABEL_MAX, NULL, &h.name)) ||
      (r = key_str(x, m, "vendor_model", 1, DEV_CAT_HUB_LABEL_MAX, NULL, &h.vendor_model)) ||
      (r = key_str(x, m, "firmware", 1, DEV_CAT_HUB_LABEL_MAX, NULL, &h.firmware)) ||
      (r = key_int(x, m, "max_devices", 1, 0, 1, UINT32_MAX, &maxd)))
    return r;
  h.max_devices = (uint32_t)maxd;
  h.source_line = node_line(m);
  if (!(h.source_file = ar_strdup(x, x->file)))
    return fail_oom(x);
  size_t o = push_key(x, "id");
  r = add_hub(x, get(x, m, "id"), &h);
  pop(x, o);
  if (r)
    return r;
  yaml_node_t *al = get(x, m, "aliases");
  if (!al)
    return 0;
  o = push_key(x, "aliases");
  if (!is_seq(al))
    r = fail(x, al, "expected a list of hub model ids");
  for (size_t i = 0; !r && i < seq_len(al); i++) {
    yaml_node_t *v = node(x, al->data.sequence.items.start[i]);
    size_t o2 = push_idx(x, i);
    if ((r = check_str(x, v, DEV_CAT_ID_MAX, NULL)))
      ;
    else if (!(h.model_id = ar_strdup(x, sc(v))))
      r = fail_oom(x);
    else
      r = add_hub(x, v, &h);
    pop(x, o2);
  }
  pop(x, o);
  return r;
}

static int parse_list(struct ld *x, const yaml_node_t *root, const char *key,
                      int (*one)(struct ld *, const yaml_node_t *)) {
  yaml_node_t *l = get(x, root, key);
  if (!l)
    return 0;
  int r = 0;
  size_t o = push_key(x, key);
  if (!is_seq(l)) {
    r = fail(x, l, "expected a list");
    pop(x, o);
    return r;
  }
  pop(x, o);
  for (size_t i = 0; i < seq_len(l); i++) {
    yaml_node_t *m = node(x, l->data.sequence.items.start[i]);
    /* Errors inside a model are named relative to it (`attributes[2].type`), its line says
     * which one; errors of the list item itself say models[i]. */
    if (!m || m->type != YAML_MAPPING_NODE) {
      o = push_key(x, key);
      push_idx(x, i);
      r = fail(x, m, "expected a mapping");
      pop(x, o);
      return r;
    }
    if (strcmp(key, "hubs") == 0) {
      o = push_key(x, key);
      push_idx(x, i);
      r = one(x, m);
      pop(x, o);
    } else {
      r = one(x, m);
    }
    if (r)
      return r;
  }
  return 0;
}

/* ---- the catalogue ------------------------------------------------------------------------ */

struct dev_cat *dev_cat_new(void) {
  struct dev_cat *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  c->arena = calloc(1, sizeof(struct cat_arena));
  if (!c->arena) {
    free(c);
    return NULL;
  }
  return c;
}

void dev_cat_free(struct dev_cat *c) {
  if (!c)
    return;
  ar_free(c->arena);
  free(c->arena);
  free(c->models);
  free(c->hubs);
  free(c);
}

/* Joins what x built to c; fails only on out of memory, leaving c unchanged. */
static int commit(struct dev_cat *c, struct ld *x) {
  if (x->n_models) {
    struct dev_cat_model **m = realloc(c->models, (c->n_models + x->n_models) * sizeof(*m));
    if (!m)
      return fail_oom(x);
    c->models = m;
  }
  if (x->n_hubs) {
    struct dev_cat_hub *h = realloc(c->hubs, (c->n_hubs + x->n_hubs) * sizeof(*h));
    if (!h)
      return fail_oom(x);
    c->hubs = h;
  }
  if (x->n_models)
    memcpy(c->models + c->n_models, x->models, x->n_models * sizeof(*x->models));
  if (x->n_hubs)
    memcpy(c->hubs + c->n_hubs, x->hubs, x->n_hubs * sizeof(*x->hubs));
  c->n_models += x->n_models;
  c->n_hubs += x->n_hubs;
  ar_join(c->arena, &x->ar);
  return 0;
}

/* ---- composing the document from parser events --------------------------------------------- */

/* libyaml's own loader (yaml_parser_load) nests without bound, and its scanner keeps one entry
 * per open flow collection that it walks at every token, so a deeply nested file costs time
 * quadratic in its size (a megabyte of "[" ran for minutes). compose() builds the same
 * document from parser events and refuses a collection nested deeper than DEV_CAT_DEPTH_MAX
 * before opening it; the parser only ever reads a bounded distance ahead of the events it
 * returns, so the scanner's bookkeeping stays bounded too. Anchors (&a) and aliases (*a) work
 * as in libyaml's loader, except that an alias must follow the end of its anchor's node (so a
 * node never contains itself). */

struct compose_level {
  int node;     /* the open sequence or mapping */
  int key;      /* mapping: the key waiting for its value, or 0 */
  char *anchor; /* its anchor (owned by the event, moved here), or NULL */
};

struct compose_anchor {
  char *name;
  int node;
};

struct composer {
  struct compose_level stack[DEV_CAT_DEPTH_MAX];
  int depth;
  struct compose_anchor anchors[DEV_CAT_ANCHORS_MAX];
  int n_anchors;
};

/* Fails at the event's position: FILE:LINE and the column in the reason. */
static int fail_at(struct ld *x, const yaml_mark_t *mk, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(struct ld *x, const yaml_mark_t *mk, const char *fmt, ...) {
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  int r = fail(x, NULL, "%s (column %zu)", msg, mk->column + 1);
  if (x->err)
    x->err->line = (int)mk->line + 1;
  return r;
}

static int syntax_error(struct ld *x, const yaml_parser_t *p, const char *text, size_t len) {
  if (p->error == YAML_MEMORY_ERROR)
    return fail_oom(x);
  int r = fail(x, NULL, "syntax error: %s%s%s", p->problem ? p->problem : "invalid YAML",
               p->context ? " " : "", p->context ? p->context : "");
  if (x->err) {
    x->err->line = (int)p->problem_mark.line + 1;
    if (p->error == YAML_READER_ERROR) {
      /* Encoding errors carry a byte offset, not a mark. */
      x->err->line = 1;
      for (size_t i = 0; i < p->problem_offset && i < len; i++)
        x->err->line += text[i] == '\n';
    }
  }
  return r;
}

static void set_mark(yaml_document_t *doc, int id, const yaml_event_t *ev) {
  yaml_node_t *n = yaml_document_get_node(doc, id);
  n->start_mark = ev->start_mark;
  n->end_mark = ev->end_mark;
}

/* Puts node id where the open collection expects it. The root is the first node added. */
static int attach(struct composer *k, yaml_document_t *doc, int id) {
  if (k->depth == 0)
    return 1;
  struct compose_level *l = &k->stack[k->depth - 1];
  yaml_node_t *n = yaml_document_get_node(doc, l->node);
  if (n->type == YAML_SEQUENCE_NODE)
    return yaml_document_append_sequence_item(doc, l->node, id);
  if (!l->key) {
    l->key = id;
    return 1;
  }
  int ok = yaml_document_append_mapping_pair(doc, l->node, l->key, id);
  l->key = 0;
  return ok;
}

/* Records anchor name (taken: freed here or with the composer) for node id. */
static int add_anchor(struct ld *x, struct composer *k, char *name, int id, const yaml_mark_t *mk) {
  if (!name)
    return 0;
  int r = 0;
  for (int i = 0; i < k->n_anchors && !r; i++)
    if (strcmp(k->anchors[i].name, name) == 0)
      r = fail_at(x, mk, "anchor &%s is defined twice", name);
  if (!r && k->n_anchors == DEV_CAT_ANCHORS_MAX)
    r = fail_at(x, mk, "more than %d anchors", DEV_CAT_ANCHORS_MAX);
  if (r) {
    free(name);
    return r;
  }
  k->anchors[k->n_anchors].name = name;
  k->anchors[k->n_anchors++].node = id;
  return 0;
}

static void composer_fini(struct composer *k) {
  for (int i = 0; i < k->depth; i++)
    free(k->stack[i].anchor);
  for (int i = 0; i < k->n_anchors; i++)
    free(k->anchors[i].name);
}

/* Reads one document's events (after its DOCUMENT-START) into doc, which is initialised. */
static int compose_nodes(struct ld *x, yaml_parser_t *p, yaml_document_t *doc, const char *text,
                         size_t len) {
  struct composer k;
  yaml_event_t ev;
  int r = 0;
  k.depth = 0;
  k.n_anchors = 0;
  for (;;) {
    if (!yaml_parser_parse(p, &ev)) {
      r = syntax_error(x, p, text, len);
      break;
    }
    int id = 0, done = 0;
    char *anchor = NULL;
    switch (ev.type) {
    case YAML_SCALAR_EVENT:
      if (ev.data.scalar.length > INT_MAX) {
        r = fail_at(x, &ev.start_mark, "a scalar of %zu bytes", ev.data.scalar.length);
        break;
      }
      id = yaml_document_add_scalar(doc, NULL, ev.data.scalar.value, (int)ev.data.scalar.length,
                                    ev.data.scalar.style);
      anchor = (char *)ev.data.scalar.anchor;
      ev.data.scalar.anchor = NULL;
      break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
      int seq = ev.type == YAML_SEQUENCE_START_EVENT;
      if (k.depth == DEV_CAT_DEPTH_MAX) {
        r = fail_at(x, &ev.start_mark, "nesting deeper than %d levels", DEV_CAT_DEPTH_MAX);
        break;
      }
      id = seq ? yaml_document_add_sequence(doc, NULL, ev.data.sequence_start.style)
               : yaml_document_add_mapping(doc, NULL, ev.data.mapping_start.style);
      anchor = (char *)(seq ? ev.data.sequence_start.anchor : ev.data.mapping_start.anchor);
      if (seq)
        ev.data.sequence_start.anchor = NULL;
      else
        ev.data.mapping_start.anchor = NULL;
      break;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
      /* The collection is complete: its anchor may be used from now on. */
      struct compose_level *l = &k.stack[--k.depth];
      char *a = l->anchor;
      l->anchor = NULL;
      r = add_anchor(x, &k, a, l->node, &ev.start_mark);
      break;
    }
    case YAML_ALIAS_EVENT: {
      const char *name = (const char *)ev.data.alias.anchor;
      for (int i = 0; i < k.n_anchors && !id; i++)
        if (strcmp(k.anchors[i].name, name) == 0)
          id = k.anchors[i].node;
      if (!id)
        r = fail_at(x, &ev.start_mark, "alias *%s: no complete node has that anchor before it",
                    name);
      else if (!attach(&k, doc, id))
        r = fail_oom(x);
      id = 0;
      break;
    }
    case YAML_DOCUMENT_END_EVENT:
      done = 1;
      break;
    default: /* nothing else comes inside a document */
      break;
    }
    if (!r && (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_SEQUENCE_START_EVENT ||
               ev.type == YAML_MAPPING_START_EVENT)) {
      if (!id || !attach(&k, doc, id)) {
        r = fail_oom(x);
      } else {
        set_mark(doc, id, &ev);
        if (ev.type == YAML_SCALAR_EVENT) {
          r = add_anchor(x, &k, anchor, id, &ev.start_mark);
        } else {
          k.stack[k.depth].node = id;
          k.stack[k.depth].key = 0;
          k.stack[k.depth++].anchor = anchor;
        }
        anchor = NULL;
      }
    }
    free(anchor);
    yaml_event_delete(&ev);
    if (r || done)
      break;
  }
  composer_fini(&k);
  return r;
}

/* Parses text into *doc: one document, at most DEV_CAT_DEPTH_MAX deep. *have_doc says whether
 * *doc must be deleted. */
static int compose(struct ld *x, const char *text, size_t len, yaml_document_t *doc,
                   int *have_doc) {
  yaml_parser_t parser;
  yaml_event_t ev;
  int r = 0, docs = 0;
  *have_doc = 0;
  if (!yaml_parser_initialize(&parser))
    return fail_oom(x);
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  for (;;) {
    if (!yaml_parser_parse(&parser, &ev)) {
      r = syntax_error(x, &parser, text, len);
      break;
    }
    yaml_event_type_t type = ev.type;
    yaml_mark_t mark = ev.start_mark;
    yaml_event_delete(&ev);
    if (type == YAML_STREAM_END_EVENT)
      break;
    if (type != YAML_DOCUMENT_START_EVENT)
      continue;
    if (docs++) {
      r = fail(x, NULL, "a catalogue file holds one YAML document");
      if (x->err)
        x->err->line = (int)mark.line + 1;
      break;
    }
    if (!yaml_document_initialize(doc, NULL, NULL, NULL, 1, 1)) {
      r = fail_oom(x);
      break;
    }
    *have_doc = 1;
    if ((r = compose_nodes(x, &parser, doc, text, len)))
      break;
  }
  yaml_parser_delete(&parser);
  return r;
}

int dev_cat_add_text(struct dev_cat *c, const char *name, const char *text, size_t len,
                     struct dev_cat_error *err) {
  struct ld x = {.file = name ? name : "(catalogue)", .err = err, .c = c};
  yaml_document_t doc;
  int r, have_doc = 0;
  if (err)
    memset(err, 0, sizeof(*err));
  if (len > DEV_CAT_FILE_MAX) {
    r = fail(&x, NULL, "%zu bytes, more than the %d a catalogue file may have", len,
             DEV_CAT_FILE_MAX);
    goto done;
  }
  if ((r = compose(&x, text, len, &doc, &have_doc)))
    goto done;
  x.doc = &doc;
  yaml_node_t *root = have_doc ? yaml_document_get_root_node(&doc) : NULL;
  if (!root) {
    r = fail(&x, NULL, "empty file: expected a mapping with models and/or hubs");
    goto done;
  }
  static const char *const keys[] = {"models", "hubs", NULL};
  if ((r = check_map(&x, root, keys)))
    goto done;
  if (!get(&x, root, "models") && !get(&x, root, "hubs")) {
    r = fail(&x, root, "expected a mapping with models and/or hubs");
    goto done;
  }
  if ((r = parse_list(&x, root, "models", parse_model)) ||
      (r = parse_list(&x, root, "hubs", parse_hub)))
    goto done;
  if (x.n_models == 0 && x.n_hubs == 0) {
    /* An empty list is valid YAML, but a file that adds nothing is a mistake to report. */
    r = fail(&x, root, "the file defines no model and no hub");
    goto done;
  }
  r = commit(c, &x);
done:
  if (have_doc)
    yaml_document_delete(&doc);
  ar_free(&x.ar);
  free(x.models);
  free(x.hubs);
  return r;
}

/* ---- files and directories ---------------------------------------------------------------- */

static int file_error(struct dev_cat_error *err, const char *file, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int file_error(struct dev_cat_error *err, const char *file, int rc, const char *fmt, ...) {
  if (err) {
    memset(err, 0, sizeof(*err));
    snprintf(err->file, sizeof(err->file), "%s", file);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
    va_end(ap);
  }
  return rc;
}

static int dir_error(struct dev_cat_error *err, const char *file, int code, const char *what) {
  return file_error(err, file, code == ENOMEM ? SIM_ENOMEM : SIM_ENOTFOUND, "%s: %s", what,
                    strerror(code));
}

/* What a file that is not a regular file is, for the message. */
static const char *file_kind(mode_t m) {
  if (S_ISDIR(m))
    return "a directory";
  if (S_ISFIFO(m))
    return "a FIFO";
  if (S_ISCHR(m))
    return "a character device";
  if (S_ISBLK(m))
    return "a block device";
  if (S_ISSOCK(m))
    return "a socket";
  return "not a regular file";
}

/* Reads the regular file path, at most DEV_CAT_FILE_MAX bytes, into a heap buffer. stat()
 * first, so a device or a FIFO is refused without being opened at all; then open() without
 * blocking (a FIFO swapped in meanwhile cannot hang the start) and fstat() again, because the
 * path may have changed in between. The read stops one byte past the limit, so a file that
 * grows, or lies about its size (/proc), is still bounded. */
static int read_file(const char *path, char **out, size_t *len, struct dev_cat_error *err) {
  struct stat st;
  char *buf = NULL;
  int fd = -1, r = 0;
  if (stat(path, &st) != 0)
    return file_error(err, path, errno == ENOMEM ? SIM_ENOMEM : SIM_EINVAL,
                      "cannot read the catalogue file: %s", strerror(errno));
  if (!S_ISREG(st.st_mode))
    return file_error(err, path, SIM_EINVAL, "is %s, not a regular file", file_kind(st.st_mode));
  fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    return file_error(err, path, errno == ENOMEM ? SIM_ENOMEM : SIM_EINVAL,
                      "cannot read the catalogue file: %s", strerror(errno));
  if (fstat(fd, &st) != 0) {
    r = file_error(err, path, SIM_EINVAL, "cannot read the catalogue file: %s", strerror(errno));
    goto done;
  }
  if (!S_ISREG(st.st_mode)) {
    r = file_error(err, path, SIM_EINVAL, "is %s, not a regular file", file_kind(st.st_mode));
    goto done;
  }
  if (st.st_size > DEV_CAT_FILE_MAX) {
    r = file_error(err, path, SIM_EINVAL,
                   "is %lld bytes, more than the %d a catalogue file may "
                   "have",
                   (long long)st.st_size, DEV_CAT_FILE_MAX);
    goto done;
  }
  size_t cap = (size_t)st.st_size + 1, n = 0;
  buf = malloc(cap + 1);
  if (!buf) {
    r = file_error(err, path, SIM_ENOMEM, "out of memory");
    goto done;
  }
  for (;;) {
    if (n == cap) {
      if (cap > DEV_CAT_FILE_MAX) {
        r = file_error(err, path, SIM_EINVAL, "is more than the %d bytes a catalogue file may have",
                       DEV_CAT_FILE_MAX);
        goto done;
      }
      size_t nc = cap * 2 > (size_t)DEV_CAT_FILE_MAX + 1 ? (size_t)DEV_CAT_FILE_MAX + 1 : cap * 2;
      char *nb = realloc(buf, nc + 1);
      if (!nb) {
        r = file_error(err, path, SIM_ENOMEM, "out of memory");
        goto done;
      }
      buf = nb;
      cap = nc;
    }
    ssize_t got = read(fd, buf + n, cap - n);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      r = file_error(err, path, SIM_EINVAL, "cannot read the catalogue file: %s", strerror(errno));
      goto done;
    }
    if (got == 0)
      break;
    n += (size_t)got;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  buf = NULL;
done:
  free(buf);
  close(fd);
  return r;
}

int dev_cat_add_file(struct dev_cat *c, const char *path, struct dev_cat_error *err) {
  char *text = NULL;
  size_t len = 0;
  if (err)
    memset(err, 0, sizeof(*err));
  int r = read_file(path, &text, &len, err);
  if (r)
    return r;
  r = dev_cat_add_text(c, path, text, len, err);
  free(text);
  return r;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int dev_cat_add_dir(struct dev_cat *c, const char *dir, struct dev_cat_error *err) {
  DIR *d = opendir(dir);
  if (!d)
    return dir_error(err, dir, errno, "cannot read the catalogue directory");
  char **names = NULL;
  size_t n = 0, cap = 0;
  int r = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (e->d_name[0] == '.' || l <= 5 || strcmp(e->d_name + l - 5, ".yaml") != 0)
      continue;
    if (n == DEV_CAT_DIR_FILES_MAX) {
      r = file_error(err, dir, SIM_EINVAL, "more than %d *.yaml files in one catalogue directory",
                     DEV_CAT_DIR_FILES_MAX);
      goto done;
    }
    if (n == cap) {
      cap = cap ? 2 * cap : 16;
      char **p = realloc(names, cap * sizeof(*p));
      if (!p) {
        r = dir_error(err, dir, ENOMEM, "listing");
        goto done;
      }
      names = p;
    }
    if (!(names[n] = strdup(e->d_name))) {
      r = dir_error(err, dir, ENOMEM, "listing");
      goto done;
    }
    n++;
  }
  if (n)
    qsort(names, n, sizeof(*names), cmp_names);
  for (size_t i = 0; i < n && !r; i++) {
    char path[4096];
    int pl = snprintf(path, sizeof(path), "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/",
                      names[i]);
    if (pl < 0 || (size_t)pl >= sizeof(path)) {
      r = file_error(err, dir, SIM_EINVAL, "the path of %s is longer than %zu bytes", names[i],
                     sizeof(path) - 1);
      break;
    }
    r = dev_cat_add_file(c, path, err);
  }
done:
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  closedir(d);
  return r;
}

int dev_cat_add_builtin(struct dev_cat *c, struct dev_cat_error *err) {
  const char *name;
  size_t len;
  const char *text;
  for (size_t i = 0; (text = dev_cat__builtin_file(i, &name, &len)); i++) {
    char path[256];
    snprintf(path, sizeof(path), "devices/catalog/%s", name);
    int r = dev_cat_add_text(c, path, text, len, err);
    if (r)
      return r;
  }
  return 0;
}

const struct dev_cat_model *dev_cat_find(const struct dev_cat *c, const char *model_id) {
  if (!c || !model_id)
    return NULL;
  for (size_t i = 0; i < c->n_models; i++)
    if (strcmp(c->models[i]->m.model_id, model_id) == 0)
      return c->models[i];
  return NULL;
}

const struct dev_cat_hub *dev_cat_find_hub(const struct dev_cat *c, const char *model_id) {
  if (!c || !model_id)
    return NULL;
  for (size_t i = 0; i < c->n_hubs; i++)
    if (strcmp(c->hubs[i].model_id, model_id) == 0)
      return &c->hubs[i];
  return NULL;
}

int dev_cat_channel_find(const struct dev_cat_model *cm, const char *name) {
  if (!cm || !name)
    return -1;
  for (int i = 0; i < cm->n_ch; i++)
    if (strcmp(cm->ch[i].name, name) == 0)
      return i;
  return -1;
}

/* ---- the process-wide catalogue ----------------------------------------------------------- */

static struct dev_cat *g_cat;

int dev_cat_global_init(const char *const *dirs, size_t n_dirs, struct dev_cat_error *err) {
  if (g_cat)
    return 0;
  struct dev_cat *c = dev_cat_new();
  int r;
  if (err)
    memset(err, 0, sizeof(*err));
  if (!c) {
    if (err)
      snprintf(err->reason, sizeof(err->reason), "out of memory");
    return SIM_ENOMEM;
  }
  if ((r = dev_cat_add_builtin(c, err)))
    goto fail;
  for (size_t i = 0; i < n_dirs; i++)
    if (dirs[i] && (r = dev_cat_add_dir(c, dirs[i], err)))
      goto fail;
  /* Check everything before registering anything: the registry cannot forget a model, and it
   * borrows them, so a half-registered catalogue could never be freed. */
  if (sim_model_count() + c->n_models > SIM_MODEL_MAX) {
    r = SIM_EFULL;
    if (err)
      snprintf(err->reason, sizeof(err->reason),
               "%zu catalogue models do not fit the model registry (%d)", c->n_models,
               SIM_MODEL_MAX);
    goto fail;
  }
  for (size_t i = 0; i < c->n_models; i++)
    if (sim_model_find(c->models[i]->m.model_id) >= 0) {
      r = SIM_EEXISTS;
      if (err) {
        snprintf(err->file, sizeof(err->file), "%s", c->models[i]->source_file);
        err->line = c->models[i]->source_line;
        snprintf(err->reason, sizeof(err->reason), "model id \"%s\" is already registered",
                 c->models[i]->m.model_id);
      }
      goto fail;
    }
  for (size_t i = 0; i < c->n_models; i++) {
    r = sim_model_register(&c->models[i]->m);
    if (r < 0) {
      /* Checked above, so this cannot happen; the registry already borrows the first models,
       * so the catalogue is kept (leaked) rather than freed under it. */
      if (err)
        snprintf(err->reason, sizeof(err->reason), "registering \"%s\": %s",
                 c->models[i]->m.model_id, sim_strerror(r));
      return r;
    }
  }
  g_cat = c;
  return 0;
fail:
  dev_cat_free(c);
  return r;
}

const struct dev_cat *dev_cat_global(void) {
  return g_cat;
}

/* ---- parameters changed at run time (scenarios) ------------------------------------------ */

struct param_ref {
  uint8_t kind;
  const char *name;
  size_t off;   /* offset of the double inside struct dev_cat_channel */
  int positive; /* 1: must be > 0 (a period); 2: must be >= 0 */
};

#define PREF(kind, name, member, pos)                                                              \
  { kind, name, offsetof(struct dev_cat_channel, p.member), pos }

static const struct param_ref params[] = {
    PREF(DEV_CH_WALK, "base", walk.base, 0),
    PREF(DEV_CH_WALK, "daily_amp", walk.daily_amp, 0),
    PREF(DEV_CH_WALK, "peak_hour", walk.peak_hour, 0),
    PREF(DEV_CH_WALK, "sigma", walk.sigma, 2),
    PREF(DEV_CH_WALK, "revert", walk.revert, 2),
    PREF(DEV_CH_WALK, "min", walk.min, 0),
    PREF(DEV_CH_WALK, "max", walk.max, 0),
    PREF(DEV_CH_WALK, "spread", walk.spread, 2),
    PREF(DEV_CH_WALK, "sample_s", walk.sample_s, 1),
    PREF(DEV_CH_WALK, "toward_rate", walk.toward_rate, 2),
    PREF(DEV_CH_DAYLIGHT, "max_lx", daylight.max_lx, 2),
    PREF(DEV_CH_DAYLIGHT, "night_lx", daylight.night_lx, 2),
    PREF(DEV_CH_DAYLIGHT, "sunrise_h", daylight.sunrise_h, 2),
    PREF(DEV_CH_DAYLIGHT, "sunset_h", daylight.sunset_h, 2),
    PREF(DEV_CH_DAYLIGHT, "spread", daylight.spread, 2),
    PREF(DEV_CH_DAYLIGHT, "sample_s", daylight.sample_s, 1),
    PREF(DEV_CH_BURSTS, "gap_day_s", bursts.gap_day_s, 1),
    PREF(DEV_CH_BURSTS, "gap_night_s", bursts.gap_night_s, 1),
    PREF(DEV_CH_BURSTS, "length_s", bursts.length_s, 2),
    PREF(DEV_CH_BURSTS, "blind_s", bursts.blind_s, 2),
    PREF(DEV_CH_BURSTS, "retrigger_s", bursts.retrigger_s, 2),
    PREF(DEV_CH_BURSTS, "reset_s", bursts.reset_s, 2),
    PREF(DEV_CH_TWO_STATE, "gap_day_s", two.gap_day_s, 1),
    PREF(DEV_CH_TWO_STATE, "gap_night_s", two.gap_night_s, 1),
    PREF(DEV_CH_TWO_STATE, "hold_min_s", two.hold_min_s, 1),
    PREF(DEV_CH_TWO_STATE, "hold_max_s", two.hold_max_s, 1),
    PREF(DEV_CH_ACTUATOR, "min", act.min, 0),
    PREF(DEV_CH_ACTUATOR, "max", act.max, 0),
    PREF(DEV_CH_ACTUATOR, "travel_s", act.travel_s, 2),
    PREF(DEV_CH_ACTUATOR, "local_s", act.local_s, 2),
    PREF(DEV_CH_METER, "load_min_w", meter.load_min_w, 1),
    PREF(DEV_CH_METER, "load_max_w", meter.load_max_w, 1),
    PREF(DEV_CH_METER, "noise_pct", meter.noise_pct, 2),
    PREF(DEV_CH_METER, "standby_w", meter.standby_w, 2),
    PREF(DEV_CH_METER, "sample_s", meter.sample_s, 1),
};

int dev_cat_set_param(const char *model_id, const char *channel, const char *param, double value) {
  if (!g_cat || !model_id || !channel || !param)
    return SIM_ENOTFOUND;
  struct dev_cat_model *cm = NULL;
  for (size_t i = 0; i < g_cat->n_models; i++)
    if (strcmp(g_cat->models[i]->m.model_id, model_id) == 0)
      cm = g_cat->models[i];
  if (!cm)
    return SIM_ENOTFOUND;
  int ch = dev_cat_channel_find(cm, channel);
  if (ch < 0)
    return SIM_ENOTFOUND;
  struct dev_cat_channel *c = &cm->ch[ch];
  for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
    if (params[i].kind != c->kind || strcmp(params[i].name, param) != 0)
      continue;
    if (!isfinite(value) || (params[i].positive == 1 && value <= 0) ||
        (params[i].positive == 2 && value < 0))
      return SIM_EINVAL;
    *(double *)(void *)((char *)c + params[i].off) = value;
    return 0;
  }
  return SIM_ENOTFOUND;
}
