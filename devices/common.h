/* Helpers shared by the behaviours in devices/ (internal to the library: dev__ prefix). */
#ifndef DEVICES_COMMON_H
#define DEVICES_COMMON_H

#include <stdint.h>

#include "devices/zcl_enc.h"
#include "sim/fleet/model.h"

/* Starts a device-originated global frame: 18 tsn cmd (or 1C lo hi tsn cmd when mfr != 0),
 * taking the device's next transaction sequence number. */
void dev__frame_begin(struct dev_zcl_w *w, uint8_t *buf, size_t cap, struct sim_device *d,
                      uint16_t manufacturer_code, uint8_t command);

#endif
