/* Sampling a catalogue model: one device of it stepped alone, without engine or network, for
 * `hubsim devices sample` and tests. The model comes from the process-wide catalogue
 * (devices/cat_global.h), loaded on first use. */
#ifndef DEVICES_CAT_SAMPLE_H
#define DEVICES_CAT_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "sim/fleet/model.h"

/* One frame a sampled device sent. zcl is borrowed for the duration of the callback. */
struct dev_sample_frame {
  int index;        /* 0, 1, ... */
  sim_time_t t;     /* engine time of the emit (microseconds since the sample started) */
  uint64_t wall_ms; /* Unix time in ms */
  uint8_t endpoint;
  uint16_t cluster;
  const uint8_t *zcl; /* whole ZCL frame, header included */
  size_t len;
  uint8_t tsn; /* the frame's transaction sequence number */
  /* The device right after it sent the frame, for reading channel values (dev_generic_value);
   * borrowed for the duration of the callback. */
  const struct sim_model *model;
  const struct sim_device *dev;
  const struct sim_dev_env *env;
};

/* Returns 0 to go on, non-zero to stop the sample. */
typedef int (*dev_sample_cb)(void *arg, const struct dev_sample_frame *f);

struct dev_sample_opts {
  const char *model_id;
  uint64_t seed;
  int max_frames;         /* stop after this many frames (<= 0: no limit) */
  sim_time_t duration;    /* stop at this engine time (0: no limit; then max_frames must be) */
  uint64_t start_wall_ms; /* Unix time at engine time 0 (0: 2026-01-01T00:00:00Z) */
};

/* Steps one device of model_id alone, without engine or network: joins it at time 0 and runs
 * its wakeups in order, calling cb for every frame it emits (join frames included), until
 * max_frames or duration is reached or the device schedules nothing more.
 * Returns the number of frames, SIM_ENOTFOUND (unknown model), SIM_EINVAL (no limit given).
 * The same seed gives the same frames, byte for byte. */
int dev_sample_run(const struct dev_sample_opts *o, dev_sample_cb cb, void *arg);

/* dev_sample_run() with count frames at most and no time limit. */
int dev_sample(const char *model_id, uint64_t seed, int count, dev_sample_cb cb, void *arg);

#endif
