/* The process-wide catalogue: the built-in files and any --catalog directories, loaded once and
 * registered with the engine's model registry. */
#include "devices/cat_global.h"

#include <stdio.h>
#include <string.h>

#include "sim/core/err.h"

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

/* ---- the catalogue as engine models -------------------------------------------------------- */

int dev_catalog_register_all(void) {
  struct dev_cat_error err;
  memset(&err, 0, sizeof err);
  int rc = dev_cat_global_init(NULL, 0, &err);
  if (rc < 0) {
    if (err.file[0])
      fprintf(stderr, "%s:%d: %s\n", err.file, err.line, err.reason);
    else
      fprintf(stderr, "device catalogue: %s\n", err.reason[0] ? err.reason : sim_strerror(rc));
    return rc;
  }
  /* The catalogue loads once per process; a registry emptied since (tests) gets the models
   * again. */
  const struct dev_cat *c = dev_cat_global();
  for (size_t i = 0; c && i < c->n_models; i++) {
    if (sim_model_find(c->models[i]->m.model_id) >= 0)
      continue;
    rc = sim_model_register(&c->models[i]->m);
    if (rc < 0)
      return rc;
  }
  return 0;
}

/* The global catalogue's models as sim_model pointers (built once; the catalogue is never
 * freed once registered). */
static const struct sim_model *model_list[SIM_MODEL_MAX];
static size_t model_n;

static const struct dev_cat *catalogue(void) {
  const struct dev_cat *c = dev_cat_global();
  if (!c) {
    /* Loading registers the models too: the registry borrows them for good. */
    if (dev_catalog_register_all() < 0)
      return NULL;
    c = dev_cat_global();
  }
  return c;
}

const struct sim_model *const *dev_catalog_models(size_t *n) {
  const struct dev_cat *c = catalogue();
  if (c && model_n == 0) {
    for (size_t i = 0; i < c->n_models && i < SIM_MODEL_MAX; i++)
      model_list[i] = &c->models[i]->m;
    model_n = c->n_models < SIM_MODEL_MAX ? c->n_models : SIM_MODEL_MAX;
  }
  *n = c ? model_n : 0;
  return model_list;
}

const struct sim_model *dev_catalog_find(const char *model_id) {
  const struct dev_cat *c = catalogue();
  const struct dev_cat_model *cm = c ? dev_cat_find(c, model_id) : NULL;
  return cm ? &cm->m : NULL;
}
