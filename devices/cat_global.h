/* The process-wide device catalogue: the built-in files (and any --catalog directories) loaded
 * once, its models registered with the engine's model registry, which borrows them: once
 * loaded, the catalogue lives as long as the process. Control part only: call these before any
 * loop runs, from one thread. */
#ifndef DEVICES_CAT_GLOBAL_H
#define DEVICES_CAT_GLOBAL_H

#include <stddef.h>

#include "devices/cat_load.h"
#include "devices/cat_types.h"
#include "sim/fleet/model.h"

/* The process-wide catalogue used by the engine: loads the built-in files and then every
 * directory in dirs (may be NULL), and registers every model with sim_model_register().
 * Idempotent after the first success. 0 or an error with *err filled. */
int dev_cat_global_init(const char *const *dirs, size_t n_dirs, struct dev_cat_error *err);
/* The process-wide catalogue, or NULL before dev_cat_global_init(). */
const struct dev_cat *dev_cat_global(void);

/* Loads the process-wide catalogue (the built-in devices/catalog/ files: dev_cat_global_init)
 * and registers every model with sim_model_register(). Idempotent: models already in the
 * registry are skipped. 0 or an error; a malformed catalogue file is reported on stderr as
 * FILE:LINE: reason. Call at start, before any loop runs. */
int dev_catalog_register_all(void);

/* The catalogue's models (loading the catalogue on first use). n is set to their count (0 when
 * the catalogue does not load); the array is static. */
const struct sim_model *const *dev_catalog_models(size_t *n);
/* A catalogue model by modelId, or NULL. */
const struct sim_model *dev_catalog_find(const char *model_id);

#endif
