/* Helpers shared by the behaviours. */
#include "devices/common.h"

#include <string.h>

#include "devices/behaviour.h"
#include "sim/core/err.h"
#include "sim/core/log.h"
#include "sim/wire/zcl.h"

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

uint32_t dev__next_hb(const struct dev_common_params *c, struct sim_dev_env *env, int first) {
  double period = dev_rng_range(env->rng, c->hb_min_s, c->hb_max_s);
  if (first)
    period *= sim_rng_unit(env->rng);
  uint32_t s = (uint32_t)period;
  return dev__sec(env->now) + (s ? s : 1);
}

uint32_t dev__latency(const struct dev_common_params *c, struct sim_dev_env *env) {
  uint32_t span = c->latency_max_us > c->latency_min_us ? c->latency_max_us - c->latency_min_us : 0;
  return c->latency_min_us + (span ? sim_rng_below(env->rng, span + 1) : 0);
}

int dev__read_basic(const struct sim_model *m, uint16_t attr, struct dev_zcl_w *w) {
  const struct dev_common_params *c = m->params;
  switch (attr) {
  case 0x0000: /* zclVersion */
    dev_zcl_put_le(w, 0x20, 1);
    dev_zcl_put_le(w, c->zcl_version, 1);
    return 0;
  case 0x0004: /* manufacturerName */
    dev_zcl_put_le(w, 0x42, 1);
    dev_zcl_put_str(w, 0x42, m->manufacturer, strlen(m->manufacturer));
    return 0;
  case 0x0005: /* modelId */
    dev_zcl_put_le(w, 0x42, 1);
    dev_zcl_put_str(w, 0x42, m->model_id, strlen(m->model_id));
    return 0;
  case 0x0007: /* powerSource: 0x01 mains single phase, 0x03 battery */
    dev_zcl_put_le(w, 0x30, 1);
    dev_zcl_put_le(w, m->power_source == SIM_POWER_MAINS ? 0x01 : 0x03, 1);
    return 0;
  default:
    return DEV_ZCL_UNSUP_ATTRIBUTE;
  }
}

/* Read Attributes: the payload is a list of LE16 attribute ids; the response carries one record
 * per id, unsupported ones with status 0x86. The request's tsn is not part of sim_dev_cmd, so
 * the response takes the device's next tsn (see docs/devices.md). */
static int read_attrs(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                      const struct sim_dev_cmd *cmd, dev__read_fn read) {
  if (cmd->len % 2 != 0 || (cmd->len && !cmd->payload))
    return DEV_ZCL_MALFORMED;
  uint8_t buf[DEV_ZCL_FRAME_MAX];
  struct dev_zcl_w w;
  dev__frame_begin(&w, buf, sizeof buf, d, cmd->manufacturer_code, SIM_ZCL_CMD_READ_ATTR_RSP);
  for (size_t i = 0; i + 1 < cmd->len; i += 2) {
    uint16_t id = (uint16_t)(cmd->payload[i] | cmd->payload[i + 1] << 8);
    size_t rec = w.len;
    dev_zcl_put_le(&w, id, 2);
    size_t mark = w.len;
    dev_zcl_put_le(&w, 0, 1); /* status SUCCESS */
    int st = read(m, d, env, cmd->cluster, id, &w);
    if (w.err == SIM_EFULL) {
      /* Too many ids for one frame: answer the records that fit, as devices do. */
      w.len = rec;
      w.err = 0;
      break;
    }
    if (st) {
      w.len = mark;
      dev_zcl_put_le(&w, (uint64_t)st, 1);
    }
  }
  if (w.err)
    return DEV_ZCL_MALFORMED;
  dev__emit(d, env, cmd->endpoint, cmd->cluster, &w);
  return DEV_ZCL_SUCCESS;
}

int dev__global_command(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                        const struct sim_dev_cmd *cmd, dev__read_fn read) {
  switch (cmd->command) {
  case SIM_ZCL_CMD_READ_ATTR:
    return read_attrs(m, d, env, cmd, read);
  case 0x06: /* Configure Reporting: accepted; the device keeps its own reporting rules */
    return DEV_ZCL_SUCCESS;
  default:
    return DEV_ZCL_UNSUP_GENERAL_CMD;
  }
}
