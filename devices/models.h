/* Device models: generic behaviours (a climate sensor, a motion sensor, a metering plug) that
 * are parameterised by data, and the concrete models built from them.
 *
 * A concrete model is a `const struct sim_model` whose `params` points at one of the parameter
 * structs below and whose `ops` is the behaviour's ops table. The catalogue (devices/catalog.h)
 * registers them. A data-driven catalogue fills the same structs from files and reuses the ops
 * tables unchanged. All parameter structs start with struct dev_common_params. */
#ifndef DEVICES_MODELS_H
#define DEVICES_MODELS_H

#include <stdint.h>

#include "devices/behaviour.h"
#include "devices/xiaomi.h"
#include "sim/fleet/model.h"

/* What every model has: the reporting endpoint, genBasic facts, the heartbeat and the battery. */
struct dev_common_params {
  uint8_t endpoint;    /* application endpoint that reports */
  uint8_t zcl_version; /* genBasic 0x0000 */
  uint8_t legacy_join; /* 1: report genBasic {0x0005 modelId, heartbeat} right after joining */
  double hb_min_s, hb_max_s; /* heartbeat period, drawn per period in [min, max] */
  struct dev_hb_layout hb;
  struct dev_battery battery;              /* per_tx_uv == 0 and fresh == 0: mains powered */
  uint32_t latency_min_us, latency_max_us; /* radio + actuation latency of commands */
};

/* Temperature / humidity / pressure sensor. */
struct dev_climate_params {
  struct dev_common_params c;
  double sample_s;       /* how often the device measures */
  struct dev_walk temp;  /* degC */
  struct dev_walk hum;   /* %RH */
  struct dev_walk press; /* hPa; ignored when has_pressure == 0 */
  uint8_t has_pressure;
  double temp_step, hum_step, press_step; /* on-change reporting thresholds (same units) */
  double device_offset_temp;              /* per-device spread of the level (uniform +-, degC) */
  double device_offset_hum;               /* same, %RH */
};

/* Occupancy sensor with illuminance. */
struct dev_motion_params {
  struct dev_common_params c;
  struct dev_bursts bursts;
  double blind_s;            /* re-trigger blind time after a report */
  double retrigger_jitter_s; /* continuing motion is seen this long (uniform 0..) after blind */
  double lux_day_max;        /* illuminance at noon in the brightest room */
  double lux_night;          /* at night (uniform 0..) */
  double sunrise_h, sunset_h;
};

/* Switchable metering plug (router). */
struct dev_plug_params {
  struct dev_common_params c;
  double sample_s;               /* power measurement period */
  double load_min_w, load_max_w; /* appliance power, log-uniform per device */
  double load_noise_pct;         /* walk of the load around its nominal value, percent sd */
  double toggle_mean_s;          /* mean time between local (button / appliance) toggles, 0: none */
  double power_step_w;           /* activePower on-change threshold: max(step_w, step_pct) */
  double power_step_pct;
  double report_min_s, report_max_s; /* activePower / energy reporting limits */
  uint32_t energy_step_wh;           /* currentSummDelivered reported when it moved this much */
  double mains_v;                    /* nominal voltage */
  double device_temp_c;              /* chip temperature with no load */
};

extern const struct sim_model_ops dev_climate_ops;
extern const struct sim_model_ops dev_motion_ops;
extern const struct sim_model_ops dev_plug_ops;

/* The concrete models (devices/lumi.c). */
extern const struct sim_model dev_lumi_sensor_ht_agl02;
extern const struct sim_model dev_lumi_sensor_motion_aq2;
extern const struct sim_model dev_lumi_plug_maeu01;

#endif
