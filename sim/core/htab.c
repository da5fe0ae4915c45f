#include "sim/core/htab.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"
#include "sim/core/hash.h"

#define HTAB_MIN_CAP 16

static size_t home(const struct sim_htab *t, uint64_t key) {
  return (size_t)sim_hash_mix64(key) & (t->cap - 1);
}

void sim_htab_init_str(struct sim_htab *t, const char *(*key_of)(const void *val)) {
  memset(t, 0, sizeof(*t));
  t->key_of = key_of;
}

void sim_htab_fini(struct sim_htab *t) {
  free(t->slot);
  t->slot = NULL;
  t->cap = t->n = 0;
}

/* The slot holding key (str: the string whose hash key is), or the empty slot where it would
 * go. The table is never full, so the probe ends. */
static size_t find(const struct sim_htab *t, uint64_t key, const char *str) {
  size_t mask = t->cap - 1;
  for (size_t i = home(t, key);; i = (i + 1) & mask) {
    const struct sim_htab_slot *s = &t->slot[i];
    if (!s->val || (s->key == key && (!str || strcmp(t->key_of(s->val), str) == 0)))
      return i;
  }
}

int sim_htab_reserve(struct sim_htab *t, size_t n) {
  if (n <= t->cap / 2)
    return 0;
  size_t ncap = t->cap ? t->cap : HTAB_MIN_CAP;
  while (n > ncap / 2) {
    if (ncap > SIZE_MAX / 2 / sizeof(struct sim_htab_slot))
      return SIM_ENOMEM;
    ncap *= 2;
  }
  struct sim_htab_slot *ns = calloc(ncap, sizeof(*ns));
  if (!ns)
    return SIM_ENOMEM;
  struct sim_htab old = *t;
  t->slot = ns;
  t->cap = ncap;
  /* Every key is distinct already: each goes to the first empty slot from its home. */
  for (size_t i = 0; i < old.cap; i++) {
    if (!old.slot[i].val)
      continue;
    size_t j = home(t, old.slot[i].key);
    while (ns[j].val)
      j = (j + 1) & (ncap - 1);
    ns[j] = old.slot[i];
  }
  free(old.slot);
  return 0;
}

static void *get(const struct sim_htab *t, uint64_t key, const char *str) {
  if (!t->n)
    return NULL;
  return t->slot[find(t, key, str)].val;
}

static int put(struct sim_htab *t, uint64_t key, const char *str, void *val) {
  assert(val);
  if (t->cap) {
    struct sim_htab_slot *s = &t->slot[find(t, key, str)];
    if (s->val) {
      s->val = val;
      return 0;
    }
  }
  int rc = sim_htab_reserve(t, t->n + 1);
  if (rc)
    return rc;
  struct sim_htab_slot *s = &t->slot[find(t, key, str)];
  s->key = key;
  s->val = val;
  t->n++;
  return 0;
}

/* Linear probing without tombstones: after emptying slot i, each entry of the run that
 * follows moves back into the hole when its home is not between the hole and where it sits
 * (cyclically), so that every entry stays reachable from its home. */
static void *del(struct sim_htab *t, uint64_t key, const char *str) {
  if (!t->n)
    return NULL;
  size_t mask = t->cap - 1, i = find(t, key, str);
  void *val = t->slot[i].val;
  if (!val)
    return NULL;
  for (size_t j = (i + 1) & mask; t->slot[j].val; j = (j + 1) & mask) {
    size_t h = home(t, t->slot[j].key);
    int stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
    if (!stays) {
      t->slot[i] = t->slot[j];
      i = j;
    }
  }
  t->slot[i].val = NULL;
  t->n--;
  return val;
}

void *sim_htab_get(const struct sim_htab *t, uint64_t key) {
  return get(t, key, NULL);
}

void *sim_htab_get_str(const struct sim_htab *t, const char *key) {
  return get(t, sim_hash_str(key), key);
}

int sim_htab_put(struct sim_htab *t, uint64_t key, void *val) {
  return put(t, key, NULL, val);
}

int sim_htab_put_str(struct sim_htab *t, const char *key, void *val) {
  assert(t->key_of && strcmp(t->key_of(val), key) == 0);
  return put(t, sim_hash_str(key), key, val);
}

void *sim_htab_del(struct sim_htab *t, uint64_t key) {
  return del(t, key, NULL);
}

void *sim_htab_del_str(struct sim_htab *t, const char *key) {
  return del(t, sim_hash_str(key), key);
}

void *sim_htab_next(const struct sim_htab *t, size_t *it) {
  for (; *it < t->cap; (*it)++)
    if (t->slot[*it].val)
      return t->slot[(*it)++].val;
  return NULL;
}
