/* NV items of the emulated coordinator: see nv.h. A sorted array, because a coordinator has a
 * hundred items at most and the file is written sorted anyway. */
#include "sim/znp/nv.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"
#include "sim/core/hex.h"
#include "sim/core/wfile.h"

/* Index of id, or of where it would go (*found 0). */
static size_t find(const struct sim_znp_nv *nv, uint16_t id, int *found) {
  size_t lo = 0, hi = nv->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (nv->items[mid].id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = lo < nv->n && nv->items[lo].id == id;
  return lo;
}

const struct sim_znp_nv_item *sim_znp_nv_get(const struct sim_znp_nv *nv, uint16_t id) {
  int found;
  size_t i = find(nv, id, &found);
  return found ? &nv->items[i] : NULL;
}

int sim_znp_nv_create(struct sim_znp_nv *nv, uint16_t id, uint16_t len, const uint8_t *init,
                      size_t initlen) {
  int found;
  size_t i = find(nv, id, &found);
  if (found)
    return SIM_EEXISTS;
  if (len > SIM_ZNP_NV_MAX_LEN)
    return SIM_ETOOBIG;
  if (nv->n >= SIM_ZNP_NV_MAX_ITEMS)
    return SIM_EFULL;
  uint8_t *data = NULL;
  if (len > 0) {
    data = calloc(len, 1);
    if (!data)
      return SIM_ENOMEM;
    if (init)
      memcpy(data, init, initlen < len ? initlen : len);
  }
  memmove(&nv->items[i + 1], &nv->items[i], (nv->n - i) * sizeof nv->items[0]);
  nv->items[i] = (struct sim_znp_nv_item){.id = id, .len = len, .data = data};
  nv->n++;
  return 0;
}

int sim_znp_nv_write(struct sim_znp_nv *nv, uint16_t id, size_t off, const uint8_t *p, size_t n) {
  int found;
  size_t i = find(nv, id, &found);
  if (!found)
    return SIM_ENOTFOUND;
  struct sim_znp_nv_item *it = &nv->items[i];
  if (off > it->len || n > it->len - off)
    return SIM_ETOOBIG;
  if (n > 0)
    memcpy(it->data + off, p, n);
  return 0;
}

int sim_znp_nv_set(struct sim_znp_nv *nv, uint16_t id, const uint8_t *p, size_t n) {
  if (n > SIM_ZNP_NV_MAX_LEN)
    return SIM_ETOOBIG;
  const struct sim_znp_nv_item *it = sim_znp_nv_get(nv, id);
  if (it && it->len != n)
    sim_znp_nv_delete(nv, id);
  if (!sim_znp_nv_get(nv, id)) {
    int rc = sim_znp_nv_create(nv, id, (uint16_t)n, p, n);
    return rc;
  }
  return sim_znp_nv_write(nv, id, 0, p, n);
}

int sim_znp_nv_delete(struct sim_znp_nv *nv, uint16_t id) {
  int found;
  size_t i = find(nv, id, &found);
  if (!found)
    return SIM_ENOTFOUND;
  free(nv->items[i].data);
  memmove(&nv->items[i], &nv->items[i + 1], (nv->n - i - 1) * sizeof nv->items[0]);
  nv->n--;
  return 0;
}

void sim_znp_nv_clear(struct sim_znp_nv *nv) {
  for (size_t i = 0; i < nv->n; i++)
    free(nv->items[i].data);
  nv->n = 0;
  sim_znp_nv_xclear(nv);
}

/* ---- Extended items ---- */

static uint64_t xkey(uint8_t sys, uint16_t item, uint16_t sub) {
  return (uint64_t)sys << 32 | (uint64_t)item << 16 | sub;
}

static size_t xfind(const struct sim_znp_nv *nv, uint64_t key, int *found) {
  size_t lo = 0, hi = nv->nx;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    const struct sim_znp_nv_xitem *x = &nv->x[mid];
    if (xkey(x->sys, x->item, x->sub) < key)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = lo < nv->nx && xkey(nv->x[lo].sys, nv->x[lo].item, nv->x[lo].sub) == key;
  return lo;
}

const struct sim_znp_nv_xitem *sim_znp_nv_xget(const struct sim_znp_nv *nv, uint8_t sys,
                                               uint16_t item, uint16_t sub) {
  int found;
  size_t i = xfind(nv, xkey(sys, item, sub), &found);
  return found ? &nv->x[i] : NULL;
}

int sim_znp_nv_xset(struct sim_znp_nv *nv, uint8_t sys, uint16_t item, uint16_t sub,
                    const uint8_t *p, size_t n) {
  if (n > SIM_ZNP_NV_MAX_XLEN)
    return SIM_ETOOBIG;
  int found;
  size_t i = xfind(nv, xkey(sys, item, sub), &found);
  if (!found && nv->nx >= SIM_ZNP_NV_MAX_XITEMS)
    return SIM_EFULL;
  uint8_t *data = NULL;
  if (n > 0) {
    if (!(data = malloc(n)))
      return SIM_ENOMEM;
    memcpy(data, p, n);
  }
  if (found) {
    free(nv->x[i].data);
    nv->x[i].data = data;
    nv->x[i].len = (uint16_t)n;
    return 0;
  }
  if (nv->nx == nv->capx) {
    size_t cap = nv->capx ? 2 * nv->capx : 64;
    struct sim_znp_nv_xitem *x = realloc(nv->x, cap * sizeof *x);
    if (!x) {
      free(data);
      return SIM_ENOMEM;
    }
    nv->x = x;
    nv->capx = cap;
  }
  memmove(&nv->x[i + 1], &nv->x[i], (nv->nx - i) * sizeof nv->x[0]);
  nv->x[i] = (struct sim_znp_nv_xitem){
      .sys = sys, .item = item, .sub = sub, .len = (uint16_t)n, .data = data};
  nv->nx++;
  return 0;
}

int sim_znp_nv_xdelete(struct sim_znp_nv *nv, uint8_t sys, uint16_t item, uint16_t sub) {
  int found;
  size_t i = xfind(nv, xkey(sys, item, sub), &found);
  if (!found)
    return SIM_ENOTFOUND;
  free(nv->x[i].data);
  memmove(&nv->x[i], &nv->x[i + 1], (nv->nx - i - 1) * sizeof nv->x[0]);
  nv->nx--;
  return 0;
}

void sim_znp_nv_xclear(struct sim_znp_nv *nv) {
  for (size_t i = 0; i < nv->nx; i++)
    free(nv->x[i].data);
  free(nv->x);
  nv->x = NULL;
  nv->nx = nv->capx = 0;
}

/* The key of a line: a legacy item "IIII", or an extended one "SS.IIII.SSSS" (system, item,
 * sub id), each in hex. */
struct line_key {
  int ext;
  uint8_t sys;
  uint16_t id, sub; /* id: the legacy id, or the extended item id */
  char name[16];    /* as the line spells it, for messages */
};

static uint16_t be16(const uint8_t *b) {
  return (uint16_t)(b[0] << 8 | b[1]);
}

/* The key at the start of line (len characters) into *k; its length, or 0 when malformed. */
static size_t parse_key(const char *line, size_t len, struct line_key *k) {
  uint8_t b[5];
  size_t n = 0;
  memset(k, 0, sizeof *k);
  k->ext = len > 2 && line[2] == '.';
  size_t klen = k->ext ? 12 : 4;
  if (len < klen || (len > klen && line[klen] != ' '))
    return 0;
  if (!k->ext) {
    if (sim_hex_decode(line, 4, 0, b, 2, &n) != 0)
      return 0;
    k->id = be16(b);
  } else {
    if (line[7] != '.' || sim_hex_decode(line, 2, 0, b, 1, &n) != 0 ||
        sim_hex_decode(line + 3, 4, 0, b + 1, 2, &n) != 0 ||
        sim_hex_decode(line + 8, 4, 0, b + 3, 2, &n) != 0)
      return 0;
    k->sys = b[0];
    k->id = be16(b + 1);
    k->sub = be16(b + 3);
  }
  memcpy(k->name, line, klen);
  k->name[klen] = '\0';
  return klen;
}

/* One line "IIII HEX" or "SS.IIII.SSSS HEX" into nv; 0 or an error with the problem in why. */
static int load_line(struct sim_znp_nv *nv, char *line, char *why, size_t cap) {
  size_t len = strcspn(line, "\r\n");
  line[len] = '\0';
  if (len == 0 || line[0] == '#')
    return 0;
  struct line_key k;
  size_t klen = parse_key(line, len, &k);
  if (klen == 0) {
    snprintf(why, cap, "expected an item id of 4 hex digits%s, a space and a hex value",
             len > 2 && line[2] == '.' ? " (extended: SS.IIII.SSSS)" : "");
    return SIM_EMALFORMED;
  }
  if (k.ext ? sim_znp_nv_xget(nv, k.sys, k.id, k.sub) != NULL : sim_znp_nv_get(nv, k.id) != NULL) {
    snprintf(why, cap, "item %s appears twice", k.name);
    return SIM_EMALFORMED;
  }
  uint8_t val[SIM_ZNP_NV_MAX_LEN];
  size_t max = k.ext ? SIM_ZNP_NV_MAX_XLEN : SIM_ZNP_NV_MAX_LEN, n = 0;
  const char *hex = len > klen ? line + klen + 1 : "";
  int rc = sim_hex_decode(hex, strlen(hex), 0, val, max, &n);
  if (rc == SIM_ETOOBIG) {
    snprintf(why, cap, "item %s is longer than %zu bytes", k.name, max);
    return rc;
  }
  if (rc != 0) {
    snprintf(why, cap, "item %s: the value is not hex with an even number of digits", k.name);
    return SIM_EMALFORMED;
  }
  rc = k.ext ? sim_znp_nv_xset(nv, k.sys, k.id, k.sub, val, n)
             : sim_znp_nv_create(nv, k.id, (uint16_t)n, val, n);
  if (rc == SIM_EFULL)
    snprintf(why, cap, "more than %d %sitems", k.ext ? SIM_ZNP_NV_MAX_XITEMS : SIM_ZNP_NV_MAX_ITEMS,
             k.ext ? "extended " : "");
  else if (rc != 0)
    snprintf(why, cap, "%s", sim_strerror(rc));
  return rc;
}

int sim_znp_nv_open(struct sim_znp_nv *nv, const char *path, char *why, size_t cap) {
  assert(nv && why && cap > 0);
  memset(nv, 0, sizeof *nv);
  why[0] = '\0';
  if (!path)
    return 0;
  nv->path = strdup(path);
  if (!nv->path)
    return SIM_ENOMEM;
  FILE *fp = fopen(path, "r");
  if (!fp) {
    if (errno == ENOENT)
      return 0;
    int rc = -errno;
    snprintf(why, cap, "cannot open: %s", strerror(errno));
    free(nv->path);
    nv->path = NULL;
    return rc;
  }
  /* A line holds at most 4 + 1 + 2 * SIM_ZNP_NV_MAX_LEN characters and its end. */
  char line[2 * SIM_ZNP_NV_MAX_LEN + 16];
  unsigned lineno = 0;
  int rc = 0;
  char sub[160];
  while (fgets(line, sizeof line, fp)) {
    lineno++;
    if (!strchr(line, '\n') && !feof(fp)) {
      snprintf(why, cap, "line %u: longer than an item of %d bytes", lineno, SIM_ZNP_NV_MAX_LEN);
      rc = SIM_ETOOBIG;
      break;
    }
    rc = load_line(nv, line, sub, sizeof sub);
    if (rc != 0) {
      snprintf(why, cap, "line %u: %s", lineno, sub);
      break;
    }
  }
  if (rc == 0 && ferror(fp)) {
    snprintf(why, cap, "read error");
    rc = SIM_EIO;
  }
  fclose(fp);
  if (rc != 0) {
    sim_znp_nv_clear(nv);
    free(nv->path);
    nv->path = NULL;
  }
  return rc;
}

void sim_znp_nv_fini(struct sim_znp_nv *nv) {
  if (!nv)
    return;
  sim_znp_nv_clear(nv);
  free(nv->path);
  nv->path = NULL;
}

int sim_znp_nv_save(const struct sim_znp_nv *nv) {
  if (!nv->path)
    return 0;
  struct sim_wfile w;
  int rc = sim_wfile_open(&w, nv->path);
  if (rc != 0)
    return rc;
  fputs("# hubsim ZNP coordinator NV items: id and value in hex, one a line\n", w.fp);
  char hex[2 * SIM_ZNP_NV_MAX_LEN + 1];
  for (size_t i = 0; i < nv->n; i++) {
    sim_hex_encode(hex, nv->items[i].data, nv->items[i].len, 0);
    fprintf(w.fp, "%04x %s\n", nv->items[i].id, hex);
  }
  for (size_t i = 0; i < nv->nx; i++) {
    const struct sim_znp_nv_xitem *x = &nv->x[i];
    sim_hex_encode(hex, x->data, x->len, 0);
    fprintf(w.fp, "%02x.%04x.%04x %s\n", x->sys, x->item, x->sub, hex);
  }
  return sim_wfile_commit(&w);
}
