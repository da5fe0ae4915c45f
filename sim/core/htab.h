/* A hash table of pointers, keyed by a 64-bit number or by a string: open addressing with
 * linear probing, at most half full, deletion without tombstones (the entries after a deleted
 * one move back), so that a table that sees many adds and deletes never slows down.
 *
 *   struct sim_htab by_eui = {0};                   keyed by uint64_t: zeroed is empty
 *   sim_htab_put(&by_eui, eui64, dev);
 *   struct dev *d = sim_htab_get(&by_eui, eui64);
 *
 *   struct sim_htab by_id;                          keyed by strings held in the values
 *   sim_htab_init_str(&by_id, hub_id_of);           hub_id_of(h) returns h->id
 *   sim_htab_put_str(&by_id, h->id, h);
 *
 * A table holds pointers it does not own (never NULL: NULL means "not there"); a string key is
 * the value's own, given back by the key_of callback, so it must stay in the value unchanged
 * while the value is in the table. Numbers are spread by sim_hash_mix64 and strings by FNV-1a:
 * neither is keyed, so keys chosen by a peer can be made to collide (the table stays correct
 * and only slows down). A table belongs to one thread at a time; nothing blocks. Adding or
 * deleting moves entries: finish an iteration (sim_htab_next) before changing the table. */
#ifndef SIM_CORE_HTAB_H
#define SIM_CORE_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct sim_htab_slot {
  uint64_t key; /* the number, or the hash of the string */
  void *val;    /* NULL: empty */
};

struct sim_htab {
  struct sim_htab_slot *slot;             /* cap slots; NULL until the first add */
  size_t cap;                             /* 0 or a power of two */
  size_t n;                               /* entries */
  const char *(*key_of)(const void *val); /* string tables: the key held in val */
};

/* A table keyed by strings: key_of(val) is the key of every value put in it. (A table keyed
 * by numbers needs no init: all zero is an empty one.) */
void sim_htab_init_str(struct sim_htab *t, const char *(*key_of)(const void *val));
/* Frees the slots (not the values); the table is empty and can be used again. */
void sim_htab_fini(struct sim_htab *t);

/* The value under key, or NULL. */
void *sim_htab_get(const struct sim_htab *t, uint64_t key);
void *sim_htab_get_str(const struct sim_htab *t, const char *key);

/* Puts val (not NULL) under key, replacing what was there. 0, or SIM_ENOMEM when the table
 * had to grow and could not (it is then unchanged). */
int sim_htab_put(struct sim_htab *t, uint64_t key, void *val);
/* key must be key_of(val). */
int sim_htab_put_str(struct sim_htab *t, const char *key, void *val);

/* Removes key; returns its value, or NULL when it was not there. */
void *sim_htab_del(struct sim_htab *t, uint64_t key);
void *sim_htab_del_str(struct sim_htab *t, const char *key);

/* Makes room for n entries in all, so that adding up to that many cannot fail. 0 or
 * SIM_ENOMEM. */
int sim_htab_reserve(struct sim_htab *t, size_t n);

/* Iteration in no particular order: start with *it = 0; each call returns the next value and
 * advances *it, NULL at the end. */
void *sim_htab_next(const struct sim_htab *t, size_t *it);

#endif
