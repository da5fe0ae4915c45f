/* Helpers shared by the behaviours. */
#include "devices/common.h"

#include "sim/core/err.h"
#include "sim/core/log.h"

void dev__frame_begin(struct dev_zcl_w *w, uint8_t *buf, size_t cap, struct sim_device *d,
                      uint16_t manufacturer_code, uint8_t command) {
  dev_zcl_w_init(w, buf, cap);
  dev_zcl_put_header(w, manufacturer_code, d->tsn++, command);
}

int dev__emit(struct sim_device *d, struct sim_dev_env *env, uint8_t endpoint, uint16_t cluster,
              const struct dev_zcl_w *w) {
  (void)d;
  if (w->err) {
    /* Only a model bug gets here (frames have fixed, small layouts); say so once. */
    static int warned;
    if (!warned++)
      SIM_LOGE("devices: frame for cluster 0x%04x does not encode: %s", cluster,
               sim_strerror(w->err));
    return w->err;
  }
  return env->emit(env, endpoint, cluster, w->p, w->len);
}
