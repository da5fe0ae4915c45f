/* The generic model's ZCL side: how a catalogue value is put on the wire, and how a platform
 * command is answered (Read Attributes, Write Attributes, Configure Reporting, the catalogue's
 * cluster commands with their Default Response). The state a command changes is the business
 * of devices/generic.c, reached through devices/generic_internal.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "devices/behaviour.h"
#include "devices/cat_types.h"
#include "devices/common.h"
#include "devices/generic_internal.h"
#include "devices/zcl_enc.h"
#include "sim/core/err.h"
#include "sim/wire/zcl.h"

/* ---- encoding ---------------------------------------------------------------------------- */

static int is_string_type(uint8_t type) {
  return sim_zcl_type_len_size(type) != 0;
}

/* The channel-unit value of v (before encoding). */
double dev__gen_raw_value(const struct dev_cat_model *cm, const struct sim_device *d,
                          const struct sim_dev_env *env, const struct dev_cat_value *v) {
  return v->ch >= 0 ? dev_generic_value(cm, d, env, v->ch) : v->k;
}

/* The wire number of a numeric value. */
double dev__gen_wire_num(const struct dev_cat_model *cm, const struct sim_device *d,
                         const struct dev_cat_value *v, double x) {
  switch (v->encode) {
  case DEV_ENC_NOT:
    return x == 0;
  case DEV_ENC_LOG_LUX:
    return round(10000.0 * log10(x > 1 ? x : 1)) + 1;
  case DEV_ENC_ZONE_STATUS: {
    double s = (x != 0) ? ldexp(1, v->bit) : 0;
    if (cm->has_battery && dev__gen_battery_pct(cm, d) < cm->battery.low_pct)
      s += (x != 0 && v->bit == 3) ? 0 : 8;
    return s;
  }
  default:
    return x * v->scale + v->offset;
  }
}

/* Writes the value of v (without type id) into w. */
void dev__gen_put_value(struct dev_zcl_w *w, const struct dev_cat_model *cm,
                        const struct sim_device *d, const struct sim_dev_env *env,
                        const struct dev_cat_value *v) {
  double x = dev__gen_raw_value(cm, d, env, v);
  if (v->encode == DEV_ENC_HEX || v->encode == DEV_ENC_MAP) {
    const struct dev_cat_bytes *b = &v->hex;
    if (v->encode == DEV_ENC_MAP) {
      static const struct dev_cat_bytes none = {{0}, 0};
      b = &none;
      for (uint8_t i = 0; i < v->n_map; i++)
        if (fabs(v->map_key[i] - x) < 1e-9) {
          b = &v->map_val[i];
          break;
        }
    }
    if (is_string_type(v->type))
      dev_zcl_put_str(w, v->type, b->b, b->n);
    else
      dev_zcl_put_bytes(w, b->b, b->n);
    return;
  }
  dev_zcl_put_num(w, v->type, dev__gen_wire_num(cm, d, v, x));
}

/* ---- commands ---------------------------------------------------------------------------- */

static const struct dev_cat_attr *find_attr(const struct dev_cat_model *cm, uint8_t ep,
                                            uint16_t cluster, uint16_t id) {
  const struct dev_cat_attr *any = NULL;
  for (uint8_t i = 0; i < cm->n_attr; i++) {
    const struct dev_cat_attr *a = &cm->attr[i];
    if (a->cluster != cluster || a->attr != id)
      continue;
    if (a->ep == ep)
      return a;
    if (!any)
      any = a;
  }
  return any;
}

/* Writes type and value of a readable attribute and returns SIM_ZCL_STATUS_SUCCESS, or returns
 * SIM_ZCL_STATUS_UNSUPPORTED_ATTRIBUTE. */
static int read_one(const struct dev_cat_model *cm, const struct sim_device *d,
                    const struct sim_dev_env *env, uint8_t ep, uint16_t cluster, uint16_t id,
                    struct dev_zcl_w *w) {
  const struct dev_cat_attr *a = find_attr(cm, ep, cluster, id);
  if (a) {
    dev_zcl_put_le(w, a->v.type, 1);
    dev__gen_put_value(w, cm, d, env, &a->v);
    return SIM_ZCL_STATUS_SUCCESS;
  }
  if (cluster != 0x0000)
    return SIM_ZCL_STATUS_UNSUPPORTED_ATTRIBUTE;
  const struct sim_model *m = &cm->m;
  switch (id) {
  case 0x0000:
  case 0x0001:
  case 0x0003:
    dev_zcl_put_le(w, 0x20, 1);
    dev_zcl_put_le(w, id == 0 ? cm->zcl_version : id == 1 ? cm->app_version : cm->hw_version, 1);
    return SIM_ZCL_STATUS_SUCCESS;
  case 0x0004:
    dev_zcl_put_le(w, 0x42, 1);
    dev_zcl_put_str(w, 0x42, m->manufacturer, strlen(m->manufacturer));
    return SIM_ZCL_STATUS_SUCCESS;
  case 0x0005:
    dev_zcl_put_le(w, 0x42, 1);
    dev_zcl_put_str(w, 0x42, m->model_id, strlen(m->model_id));
    return SIM_ZCL_STATUS_SUCCESS;
  case 0x0007: /* powerSource: 0x01 mains single phase, 0x03 battery */
    dev_zcl_put_le(w, 0x30, 1);
    dev_zcl_put_le(w, m->power_source == SIM_POWER_BATTERY ? 0x03 : 0x01, 1);
    return SIM_ZCL_STATUS_SUCCESS;
  case 0x4000:
    if (!cm->sw_build)
      return SIM_ZCL_STATUS_UNSUPPORTED_ATTRIBUTE;
    dev_zcl_put_le(w, 0x42, 1);
    dev_zcl_put_str(w, 0x42, cm->sw_build, strlen(cm->sw_build));
    return SIM_ZCL_STATUS_SUCCESS;
  default:
    return SIM_ZCL_STATUS_UNSUPPORTED_ATTRIBUTE;
  }
}

/* Read Attributes: one record per id, unsupported ones with status UNSUPPORTED_ATTRIBUTE. The
 * request's tsn is not part of sim_dev_cmd, so the response takes the device's next tsn
 * (docs/devices.md). */
static int read_attrs(struct dev__run *r, const struct sim_dev_cmd *cmd) {
  if (cmd->len % 2 != 0 || (cmd->len && !cmd->payload))
    return SIM_ZCL_STATUS_MALFORMED_COMMAND;
  uint8_t buf[DEV_ZCL_FRAME_MAX];
  struct dev_zcl_w w;
  dev__frame_begin(&w, buf, sizeof buf, r->d, cmd->manufacturer_code, SIM_ZCL_CMD_READ_ATTR_RSP);
  for (size_t i = 0; i + 1 < cmd->len; i += 2) {
    uint16_t id = (uint16_t)(cmd->payload[i] | cmd->payload[i + 1] << 8);
    size_t rec = w.len;
    dev_zcl_put_le(&w, id, 2);
    size_t mark = w.len;
    dev_zcl_put_le(&w, SIM_ZCL_STATUS_SUCCESS, 1);
    int st = read_one(r->cm, r->d, r->env, cmd->endpoint, cmd->cluster, id, &w);
    if (w.err == SIM_EFULL) {
      /* Too many ids for one frame: answer the records that fit, as devices do. */
      w.len = rec;
      w.err = 0;
      break;
    }
    if (st != SIM_ZCL_STATUS_SUCCESS) {
      w.len = mark;
      dev_zcl_put_le(&w, (uint64_t)st, 1);
    }
  }
  if (w.err)
    return SIM_ZCL_STATUS_MALFORMED_COMMAND;
  dev__gen_emit_frame(r->cm, r->d, r->env, cmd->endpoint, cmd->cluster, &w);
  return SIM_ZCL_STATUS_SUCCESS;
}

/* Decodes a numeric ZCL value of type at p (n bytes available) into *v; returns its size, 0 for
 * a non-numeric type, -1 when too short. */
static int read_num(uint8_t type, const uint8_t *p, size_t n, double *v) {
  int sz = sim_zcl_type_size(type);
  enum sim_zcl_kind k = sim_zcl_type_kind(type);
  if (sz <= 0 || k == SIM_ZCL_KIND_OCTETS || k == SIM_ZCL_KIND_UNKNOWN)
    return 0;
  if ((size_t)sz > n)
    return -1;
  uint64_t u = 0;
  for (int i = 0; i < sz; i++)
    u |= (uint64_t)p[i] << (8 * i);
  if (k == SIM_ZCL_KIND_FLOAT) {
    if (sz == 4) {
      uint32_t b = (uint32_t)u;
      float f;
      memcpy(&f, &b, sizeof f);
      *v = f;
    } else if (sz == 8) {
      double f;
      memcpy(&f, &u, sizeof f);
      *v = f;
    } else {
      return 0; /* half precision is never writable in the catalogue */
    }
  } else if (k == SIM_ZCL_KIND_INT) {
    if (sz < 8 && (u >> (8 * sz - 1)) & 1)
      u |= ~0ull << (8 * sz);
    *v = (double)(int64_t)u;
  } else {
    *v = (double)u;
  }
  return sz;
}

/* Write Attributes (0x02, 0x03 undivided, 0x05 no response). */
static int write_attrs(struct dev__run *r, const struct sim_dev_cmd *cmd, uint32_t delay_ms) {
  uint8_t buf[DEV_ZCL_FRAME_MAX];
  struct dev_zcl_w w;
  int first_err = SIM_ZCL_STATUS_SUCCESS;
  dev__frame_begin(&w, buf, sizeof buf, r->d, cmd->manufacturer_code, SIM_ZCL_CMD_WRITE_ATTR_RSP);
  size_t off = 0;
  if (cmd->len && !cmd->payload)
    return SIM_ZCL_STATUS_MALFORMED_COMMAND;
  while (off < cmd->len) {
    if (cmd->len - off < 3)
      return SIM_ZCL_STATUS_MALFORMED_COMMAND;
    uint16_t id = (uint16_t)(cmd->payload[off] | cmd->payload[off + 1] << 8);
    uint8_t type = cmd->payload[off + 2];
    off += 3;
    double v = 0;
    int sz = read_num(type, cmd->payload + off, cmd->len - off, &v);
    size_t used;
    if (sz < 0)
      return SIM_ZCL_STATUS_MALFORMED_COMMAND;
    if (sz == 0) { /* a string: skip it by its length prefix */
      int hs = type == 0x43 || type == 0x44 ? 2 : 1;
      if (!is_string_type(type) || cmd->len - off < (size_t)hs)
        return SIM_ZCL_STATUS_MALFORMED_COMMAND;
      size_t sl = cmd->payload[off] | (hs == 2 ? (size_t)cmd->payload[off + 1] << 8 : 0);
      if (cmd->len - off - (size_t)hs < sl)
        return SIM_ZCL_STATUS_MALFORMED_COMMAND;
      used = (size_t)hs + sl;
    } else {
      used = (size_t)sz;
    }
    off += used;
    const struct dev_cat_attr *a = find_attr(r->cm, cmd->endpoint, cmd->cluster, id);
    int st = SIM_ZCL_STATUS_SUCCESS;
    if (!a)
      st = SIM_ZCL_STATUS_UNSUPPORTED_ATTRIBUTE;
    else if (!a->writable || a->v.ch < 0)
      st = SIM_ZCL_STATUS_READ_ONLY;
    else if (type != a->v.type)
      st = SIM_ZCL_STATUS_INVALID_DATA_TYPE;
    else if (sz == 0 || (a->v.encode != DEV_ENC_LINEAR && a->v.encode != DEV_ENC_NOT))
      st = SIM_ZCL_STATUS_INVALID_VALUE;
    if (!st) {
      double x = a->v.encode == DEV_ENC_NOT
                     ? (v == 0)
                     : (v - a->v.offset) / (a->v.scale != 0 ? a->v.scale : 1);
      dev__run_apply(r, DEV_DO_SET, a->v.ch, x, delay_ms);
    } else {
      if (!first_err)
        first_err = st;
      dev_zcl_write_rsp_rec(&w, (uint8_t)st, id);
    }
  }
  if (cmd->command != 0x05) {
    if (!first_err)
      dev_zcl_put_all_ok(&w); /* all succeeded: one status byte */
    dev__gen_emit_frame(r->cm, r->d, r->env, cmd->endpoint, cmd->cluster, &w);
  }
  return first_err;
}

/* The Default Response to a cluster command. Its tsn is the device's next one, as for every
 * response here (the request's is not part of sim_dev_cmd). */
static void default_response(struct dev__run *r, const struct sim_dev_cmd *cmd, int status) {
  uint8_t buf[16];
  struct dev_zcl_w w;
  dev_zcl_w_init(&w, buf, sizeof buf);
  dev_zcl_default_rsp(&w, cmd->manufacturer_code, r->d->tsn++, cmd->command, (uint8_t)status);
  dev__gen_emit_frame(r->cm, r->d, r->env, cmd->endpoint, cmd->cluster, &w);
}

static double arg_value(const struct dev_cat_command *c, const struct sim_dev_cmd *cmd, int *ok) {
  double v = 0;
  *ok = 0;
  if (!cmd->payload || c->arg_off > cmd->len)
    return 0;
  int sz = read_num(c->arg_type, cmd->payload + c->arg_off, cmd->len - c->arg_off, &v);
  if (sz <= 0)
    return 0;
  *ok = 1;
  return v / (c->arg_scale != 0 ? c->arg_scale : 1);
}

int dev__gen_command(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                     const struct sim_dev_cmd *cmd, uint32_t *latency_us) {
  struct dev__run r;
  dev__run_init(&r, m, d, env);
  const struct dev_cat_model *cm = r.cm;
  double lat_ms = dev_rng_range(env->rng, cm->latency_min_ms,
                                cm->latency_max_ms > cm->latency_min_ms ? cm->latency_max_ms
                                                                        : cm->latency_min_ms);
  uint32_t delay_ms = (uint32_t)llround(lat_ms > 0 ? lat_ms : 0);
  *latency_us = delay_ms * 1000u;
  dev__run_catch_up(&r);
  int st;
  if (cmd->global) {
    switch (cmd->command) {
    case SIM_ZCL_CMD_READ_ATTR:
      st = read_attrs(&r, cmd);
      break;
    case SIM_ZCL_CMD_WRITE_ATTR:
    case 0x03: /* undivided */
    case 0x05: /* no response */
      st = write_attrs(&r, cmd, delay_ms);
      break;
    case 0x06: { /* Configure Reporting: accepted; the device keeps its own reporting rules */
      uint8_t buf[16];
      struct dev_zcl_w w;
      dev__frame_begin(&w, buf, sizeof buf, d, cmd->manufacturer_code,
                       SIM_ZCL_CMD_CONFIG_REPORT_RSP);
      dev_zcl_put_all_ok(&w);
      dev__gen_emit_frame(cm, d, env, cmd->endpoint, cmd->cluster, &w);
      st = SIM_ZCL_STATUS_SUCCESS;
      break;
    }
    default:
      st = SIM_ZCL_STATUS_UNSUP_GENERAL_COMMAND;
      break;
    }
  } else {
    const struct dev_cat_command *c = NULL;
    for (uint8_t i = 0; i < cm->n_cmd; i++) {
      const struct dev_cat_command *x = &cm->cmd[i];
      if (x->cluster == cmd->cluster && x->command == cmd->command &&
          (x->ep == 0 || x->ep == cmd->endpoint)) {
        c = x;
        break;
      }
    }
    if (!c) {
      st = SIM_ZCL_STATUS_UNSUP_CLUSTER_COMMAND;
    } else {
      double k = c->k;
      int ok = 1;
      if (c->action == DEV_DO_ARG)
        k = arg_value(c, cmd, &ok);
      if (!ok) {
        st = SIM_ZCL_STATUS_MALFORMED_COMMAND;
      } else {
        dev__run_apply(&r, c->action == DEV_DO_ARG ? DEV_DO_SET : c->action, c->ch, k, delay_ms);
        for (uint8_t i = 0; i < c->n_then && i < DEV_CAT_THEN_MAX; i++)
          dev__run_step(&r, &c->then[i], k, delay_ms);
        st = SIM_ZCL_STATUS_SUCCESS;
      }
    }
    default_response(&r, cmd, st);
  }
  dev__run_finish(&r);
  return st;
}
