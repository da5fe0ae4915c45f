/* Internal to the catalogue loader (devices/cat_load.c and the cat_*.c files it is split into):
 * the loader's context and the helpers its files share. Not for use outside the loader.
 *
 * Conventions of every parse and check function here: x is the context of the file being
 * loaded; nodes are borrowed from x->doc; the key path (x->path) names where a value is read,
 * pushed with dev_cat__push_key()/dev_cat__push_idx() and restored with dev_cat__pop(). A
 * function returns 0, or SIM_EINVAL with x->err filled by dev_cat__fail() (FILE:LINE, the path
 * and the reason), or SIM_ENOMEM (dev_cat__fail_oom()). Everything allocated goes into x->ar. */
#ifndef DEVICES_CAT_LOAD_INTERNAL_H
#define DEVICES_CAT_LOAD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "devices/cat_load.h"
#include "devices/cat_types.h"

/* ---- the arena (cat_load.c) -------------------------------------------------------------- */

/* Loader allocations live until dev_cat_free(): chunks in a list, never moved, so pointers
 * into them (the registry borrows struct sim_model) stay valid. */
struct cat_chunk;
struct cat_arena {
  struct cat_chunk *head;
};

/* n bytes, zeroed and aligned for any type, or NULL on out of memory. */
void *dev_cat__alloc(struct cat_arena *a, size_t n);

/* ---- the loader's context ---------------------------------------------------------------- */

struct cat_ld {
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

/* ---- nodes ------------------------------------------------------------------------------- */

static inline yaml_node_t *node(struct cat_ld *x, int id) {
  return yaml_document_get_node(x->doc, id);
}

/* A scalar's text (n must be a scalar). */
static inline const char *sc(const yaml_node_t *n) {
  return (const char *)n->data.scalar.value;
}

static inline int is_scalar(const yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE;
}

static inline int is_seq(const yaml_node_t *n) {
  return n && n->type == YAML_SEQUENCE_NODE;
}

static inline size_t seq_len(const yaml_node_t *n) {
  return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static inline size_t map_len(const yaml_node_t *n) {
  return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

/* ---- reading nodes: errors, key paths, typed values (cat_yaml.c) ------------------------- */

/* dev_cat__parse_number(): beyond DEV_CAT_NUMBER_MAX in magnitude (-1: not a number). */
#define DEV_CAT__NUM_TOO_BIG (-2)

int dev_cat__fail(struct cat_ld *x, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int dev_cat__node_line(const yaml_node_t *n);
int dev_cat__fail_oom(struct cat_ld *x);
size_t dev_cat__push_key(struct cat_ld *x, const char *key);
size_t dev_cat__push_idx(struct cat_ld *x, size_t i);
void dev_cat__pop(struct cat_ld *x, size_t old);
char *dev_cat__strdup(struct cat_ld *x, const char *s);
int dev_cat__check_map(struct cat_ld *x, const yaml_node_t *n, const char *const *allowed);
yaml_node_t *dev_cat__get(struct cat_ld *x, const yaml_node_t *n, const char *key);
int dev_cat__require(struct cat_ld *x, const yaml_node_t *map, const char *key, yaml_node_t **out);
int dev_cat__parse_number(const char *s, double *out);
int dev_cat__num(struct cat_ld *x, const yaml_node_t *n, double *out);
int dev_cat__inum(struct cat_ld *x, const yaml_node_t *n, double lo, double hi, double *out);
int dev_cat__key_num(struct cat_ld *x, const yaml_node_t *map, const char *key, int req, double def,
                     double *out);
int dev_cat__key_pos(struct cat_ld *x, const yaml_node_t *map, const char *key, int req, double def,
                     double *out);
int dev_cat__at_most(struct cat_ld *x, const yaml_node_t *map, const char *key, double v,
                     double max, const char *unit);
int dev_cat__key_dur(struct cat_ld *x, const yaml_node_t *map, const char *key, int req, double def,
                     double *out);
int dev_cat__key_mean(struct cat_ld *x, const yaml_node_t *map, const char *key, int req,
                      double def, double *out);
int dev_cat__key_int(struct cat_ld *x, const yaml_node_t *map, const char *key, int req, double def,
                     double lo, double hi, double *out);
int dev_cat__key_u8(struct cat_ld *x, const yaml_node_t *map, const char *key, int req, uint8_t def,
                    uint8_t *out);
int dev_cat__key_u16(struct cat_ld *x, const yaml_node_t *map, const char *key, int req,
                     uint16_t def, uint16_t *out);
int dev_cat__key_bool(struct cat_ld *x, const yaml_node_t *map, const char *key, int req, int def,
                      uint8_t *out);
const char *dev_cat__clip(const char *s, char buf[48]);
int dev_cat__check_str(struct cat_ld *x, const yaml_node_t *v, size_t max, const char *why);
int dev_cat__key_str(struct cat_ld *x, const yaml_node_t *map, const char *key, int req, size_t max,
                     const char *why, const char **out);
int dev_cat__key_enum(struct cat_ld *x, const yaml_node_t *map, const char *key, int req, int def,
                      const char *const *words, int *out);
int dev_cat__key_pair(struct cat_ld *x, const yaml_node_t *map, const char *key, int req, double d0,
                      double d1, double out[2]);
int dev_cat__type_is_string(uint8_t t);
int dev_cat__key_type(struct cat_ld *x, const yaml_node_t *map, const char *key, int fixed_only,
                      uint8_t *out);
int dev_cat__hexbytes(struct cat_ld *x, const yaml_node_t *v, struct dev_cat_bytes *out);
int dev_cat__list_head(struct cat_ld *x, const yaml_node_t *seq, const char *what, size_t size,
                       void **arr, uint8_t *n);
int dev_cat__check_name(struct cat_ld *x, const yaml_node_t *v, const char *s);

/* ---- text to a document (cat_compose.c) -------------------------------------------------- */

int dev_cat__compose(struct cat_ld *x, const char *text, size_t len, yaml_document_t *doc,
                     int *have_doc);

/* ---- the parts of a file ----------------------------------------------------------------- */

/* cat_channels.c */
const char *dev_cat__kind_name(uint8_t k);
int dev_cat__chref(struct cat_ld *x, const struct dev_cat_model *cm, const yaml_node_t *v,
                   int16_t *out);
int dev_cat__key_chref(struct cat_ld *x, const struct dev_cat_model *cm, const yaml_node_t *map,
                       const char *key, int req, int16_t *out);
int dev_cat__parse_channels(struct cat_ld *x, struct dev_cat_model *cm, const yaml_node_t *model);
/* cat_attrs.c */
int dev_cat__parse_attrs(struct cat_ld *x, struct dev_cat_model *cm, const yaml_node_t *model);
int dev_cat__parse_heartbeat(struct cat_ld *x, struct dev_cat_model *cm, const yaml_node_t *model);
int dev_cat__parse_commands(struct cat_ld *x, struct dev_cat_model *cm, const yaml_node_t *model);
int dev_cat__parse_triggers(struct cat_ld *x, struct dev_cat_model *cm, const yaml_node_t *model);
/* cat_chains.c: `same_frame` after every attribute is read; a command's `then`; `chains` after
 * commands and triggers. */
int dev_cat__parse_same_frames(struct cat_ld *x, struct dev_cat_model *cm,
                               const yaml_node_t *model);
int dev_cat__parse_then(struct cat_ld *x, const struct dev_cat_model *cm, const yaml_node_t *m,
                        struct dev_cat_command *c);
int dev_cat__parse_chains(struct cat_ld *x, struct dev_cat_model *cm, const yaml_node_t *model);
/* cat_model.c, cat_hubs.c: one item of the file's models or hubs list. */
int dev_cat__parse_model(struct cat_ld *x, const yaml_node_t *m);
int dev_cat__parse_hub(struct cat_ld *x, const yaml_node_t *m);

/* ---- checks across a model (cat_validate.c) ---------------------------------------------- */

int dev_cat__check_reads(struct cat_ld *x, const struct dev_cat_model *cm,
                         const yaml_node_t *model);
int dev_cat__check_chains(struct cat_ld *x, const struct dev_cat_model *cm,
                          const yaml_node_t *model);
size_t dev_cat__hb_record_bytes(const struct dev_cat_heartbeat *hb);
int dev_cat__join_frame_fits(struct cat_ld *x, const struct dev_cat_model *cm, const yaml_node_t *v,
                             const char *id);
size_t dev_cat__layout(struct dev_cat_model *cm);

#endif
