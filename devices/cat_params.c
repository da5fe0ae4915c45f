/* Behaviour parameters of the process-wide catalogue changed at run time (scenarios:
 * dev_cat_set_param). */
#include "devices/cat_params.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "devices/cat_global.h"
#include "devices/cat_types.h"
#include "sim/core/err.h"

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
  const struct dev_cat *g = dev_cat_global();
  if (!g || !model_id || !channel || !param)
    return SIM_ENOTFOUND;
  struct dev_cat_model *cm = NULL;
  for (size_t i = 0; i < g->n_models; i++)
    if (strcmp(g->models[i]->m.model_id, model_id) == 0)
      cm = g->models[i];
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
