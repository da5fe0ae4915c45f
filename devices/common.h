/* Helpers shared by the behaviours in devices/ (internal to the library: dev__ prefix). */
#ifndef DEVICES_COMMON_H
#define DEVICES_COMMON_H

#include <stdint.h>

#include "devices/models.h"
#include "devices/zcl_enc.h"
#include "sim/fleet/model.h"

#define DEV__US_PER_S 1000000u

static inline uint32_t dev__sec(sim_time_t t) {
  return (uint32_t)(t / DEV__US_PER_S);
}
static inline sim_time_t dev__us(uint32_t s) {
  return (sim_time_t)s * DEV__US_PER_S;
}

/* Starts a device-originated global frame: 18 tsn cmd (or 1C 5F 11 tsn cmd when mfr != 0),
 * taking the device's next transaction sequence number. */
void dev__frame_begin(struct dev_zcl_w *w, uint8_t *buf, size_t cap, struct sim_device *d,
                      uint16_t manufacturer_code, uint8_t command);

/* Emits w's frame from endpoint/cluster. Drops it silently when encoding failed (a model bug:
 * logged once). Returns the emit result, or the encoder's error. */
int dev__emit(struct sim_device *d, struct sim_dev_env *env, uint8_t endpoint, uint16_t cluster,
              const struct dev_zcl_w *w);

/* Next heartbeat time in whole seconds: now + a period drawn in [hb_min, hb_max]; first = 1
 * draws a random phase within the first period instead. */
uint32_t dev__next_hb(const struct dev_common_params *c, struct sim_dev_env *env, int first);

/* Radio latency of a command, drawn in [latency_min, latency_max]. */
uint32_t dev__latency(const struct dev_common_params *c, struct sim_dev_env *env);

/* Attribute lookup used by Read Attributes: writes type and value of (cluster, attr) into w and
 * returns 0, or returns 0x86 (UNSUPPORTED_ATTRIBUTE). */
typedef int (*dev__read_fn)(const struct sim_model *m, const struct sim_device *d,
                            struct sim_dev_env *env, uint16_t cluster, uint16_t attr,
                            struct dev_zcl_w *w);

/* genBasic attributes every model answers (zclVersion, manufacturerName, modelId,
 * powerSource). */
int dev__read_basic(const struct sim_model *m, uint16_t attr, struct dev_zcl_w *w);

/* Handles the global commands models share: Read Attributes (answered with a Read Attributes
 * Response through env->emit), Configure Reporting (accepted; see docs/devices.md). Returns the
 * ZCL status: 0, 0x80 MALFORMED_COMMAND, 0x82 UNSUP_GENERAL_COMMAND. */
int dev__global_command(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                        const struct sim_dev_cmd *cmd, dev__read_fn read);

#define DEV_ZCL_SUCCESS 0x00
#define DEV_ZCL_MALFORMED 0x80
#define DEV_ZCL_UNSUP_CLUSTER_CMD 0x81
#define DEV_ZCL_UNSUP_GENERAL_CMD 0x82
#define DEV_ZCL_UNSUP_ATTRIBUTE 0x86

#endif
