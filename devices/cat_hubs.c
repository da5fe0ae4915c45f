/* The catalogue loader: hub (gateway) models and their aliases. */
#include "devices/cat_load_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"

static const struct dev_cat_hub *find_hub_loaded(struct cat_ld *x, const char *id) {
  const struct dev_cat_hub *h = dev_cat_find_hub(x->c, id);
  if (h)
    return h;
  for (size_t i = 0; i < x->n_hubs; i++)
    if (strcmp(x->hubs[i].model_id, id) == 0)
      return &x->hubs[i];
  return NULL;
}

/* The hub marked `default: true` in this file or the catalogue, or NULL. */
static const struct dev_cat_hub *find_default_loaded(struct cat_ld *x) {
  const struct dev_cat_hub *h = dev_cat_default_hub(x->c);
  for (size_t i = 0; !h && i < x->n_hubs; i++)
    if (x->hubs[i].is_default)
      h = &x->hubs[i];
  return h;
}

static int add_hub(struct cat_ld *x, const yaml_node_t *v, const struct dev_cat_hub *h) {
  if (x->c->n_hubs + x->n_hubs >= DEV_CAT_HUBS_MAX)
    return dev_cat__fail(x, v,
                         "hub id \"%s\": the catalogue already holds %d hub ids, the most it takes",
                         h->model_id, DEV_CAT_HUBS_MAX);
  const struct dev_cat_hub *prev = find_hub_loaded(x, h->model_id);
  if (prev)
    return dev_cat__fail(x, v, "duplicate hub id \"%s\" (first defined at %s:%d)", h->model_id,
                         prev->source_file, prev->source_line);
  if (x->n_hubs == x->cap_hubs) {
    size_t cap = x->cap_hubs ? 2 * x->cap_hubs : 8;
    struct dev_cat_hub *p = realloc(x->hubs, cap * sizeof(*p));
    if (!p)
      return dev_cat__fail_oom(x);
    x->hubs = p;
    x->cap_hubs = cap;
  }
  x->hubs[x->n_hubs++] = *h;
  return 0;
}

int dev_cat__parse_hub(struct cat_ld *x, const yaml_node_t *m) {
  static const char *const keys[] = {"id",       "aliases",     "name",    "vendor_model",
                                     "firmware", "max_devices", "default", NULL};
  struct dev_cat_hub h = {0};
  double maxd;
  int r;
  if ((r = dev_cat__check_map(x, m, keys)) ||
      (r = dev_cat__key_str(x, m, "id", 1, DEV_CAT_ID_MAX, NULL, &h.model_id)) ||
      (r = dev_cat__key_str(x, m, "name", 1, DEV_CAT_HUB_LABEL_MAX, NULL, &h.name)) ||
      (r = dev_cat__key_str(x, m, "vendor_model", 1, DEV_CAT_HUB_LABEL_MAX, NULL,
                            &h.vendor_model)) ||
      (r = dev_cat__key_str(x, m, "firmware", 1, DEV_CAT_HUB_LABEL_MAX, NULL, &h.firmware)) ||
      (r = dev_cat__key_int(x, m, "max_devices", 1, 0, 1, UINT32_MAX, &maxd)) ||
      (r = dev_cat__key_bool(x, m, "default", 0, 0, &h.is_default)))
    return r;
  /* One default: the hub model `hubsim run` announces without --hub-model. A second one would
   * make the choice depend on the order files load in. */
  const struct dev_cat_hub *prev = h.is_default ? find_default_loaded(x) : NULL;
  if (prev) {
    size_t o = dev_cat__push_key(x, "default");
    r = dev_cat__fail(x, dev_cat__get(x, m, "default"),
                      "the default hub is already \"%s\" (defined at %s:%d)", prev->model_id,
                      prev->source_file, prev->source_line);
    dev_cat__pop(x, o);
    return r;
  }
  h.max_devices = (uint32_t)maxd;
  h.source_line = dev_cat__node_line(m);
  if (!(h.source_file = dev_cat__strdup(x, x->file)))
    return dev_cat__fail_oom(x);
  size_t o = dev_cat__push_key(x, "id");
  r = add_hub(x, dev_cat__get(x, m, "id"), &h);
  dev_cat__pop(x, o);
  if (r)
    return r;
  yaml_node_t *al = dev_cat__get(x, m, "aliases");
  if (!al)
    return 0;
  h.is_default = 0; /* the default is the id, not its aliases */
  o = dev_cat__push_key(x, "aliases");
  if (!is_seq(al))
    r = dev_cat__fail(x, al, "expected a list of hub model ids");
  for (size_t i = 0; !r && i < seq_len(al); i++) {
    yaml_node_t *v = node(x, al->data.sequence.items.start[i]);
    size_t o2 = dev_cat__push_idx(x, i);
    if ((r = dev_cat__check_str(x, v, DEV_CAT_ID_MAX, NULL)))
      ;
    else if (!(h.model_id = dev_cat__strdup(x, sc(v))))
      r = dev_cat__fail_oom(x);
    else
      r = add_hub(x, v, &h);
    dev_cat__pop(x, o2);
  }
  dev_cat__pop(x, o);
  return r;
}
