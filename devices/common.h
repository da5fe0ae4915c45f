/* Helpers shared by the behaviours in devices/ (internal to the library: dev__ prefix). */
#ifndef DEVICES_COMMON_H
#define DEVICES_COMMON_H

#include <stdint.h>

#include "devices/zcl_enc.h"
#include "sim/fleet/model.h"

#define DEV__US_PER_S 1000000u

static inline uint32_t dev__sec(sim_time_t t) {
  return (uint32_t)(t / DEV__US_PER_S);
}
static inline sim_time_t dev__us(uint32_t s) {
  return (sim_time_t)s * DEV__US_PER_S;
}

/* Starts a device-originated global frame: 18 tsn cmd (or 1C lo hi tsn cmd when mfr != 0),
 * taking the device's next transaction sequence number. */
void dev__frame_begin(struct dev_zcl_w *w, uint8_t *buf, size_t cap, struct sim_device *d,
                      uint16_t manufacturer_code, uint8_t command);

/* Emits w's frame from endpoint/cluster. Drops it when encoding failed (a model bug: logged
 * once). Returns the emit result, or the encoder's error. */
int dev__emit(struct sim_device *d, struct sim_dev_env *env, uint8_t endpoint, uint16_t cluster,
              const struct dev_zcl_w *w);

#endif
