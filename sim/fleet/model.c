#include "sim/fleet/model.h"

#include <string.h>

#include "sim/core/err.h"

static const struct sim_model *models[SIM_MODEL_MAX];
static size_t n_models;

int sim_model_register(const struct sim_model *m) {
  if (!m || !m->model_id || !m->ops)
    return SIM_EINVAL;
  if (sim_model_find(m->model_id) >= 0)
    return SIM_EEXISTS;
  if (n_models >= SIM_MODEL_MAX)
    return SIM_EFULL;
  models[n_models] = m;
  return (int)n_models++;
}

const struct sim_model *sim_model_get(uint16_t idx) {
  return idx < n_models ? models[idx] : NULL;
}

int sim_model_find(const char *model_id) {
  for (size_t i = 0; i < n_models; i++)
    if (strcmp(models[i]->model_id, model_id) == 0)
      return (int)i;
  return SIM_ENOTFOUND;
}

size_t sim_model_count(void) {
  return n_models;
}

void sim_model_reset(void) {
  n_models = 0;
}
