/* Helpers shared by the behaviours. */
#include "devices/common.h"

void dev__frame_begin(struct dev_zcl_w *w, uint8_t *buf, size_t cap, struct sim_device *d,
                      uint16_t manufacturer_code, uint8_t command) {
  dev_zcl_w_init(w, buf, cap);
  dev_zcl_put_header(w, manufacturer_code, d->tsn++, command);
}
