/* ZCL encoder. All multi-byte values are little endian, as ZCL requires. */
#include "devices/zcl_enc.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "sim/core/err.h"
#include "sim/wire/zcl.h"

void dev_zcl_w_init(struct dev_zcl_w *w, uint8_t *buf, size_t cap) {
  w->p = buf;
  w->cap = cap;
  w->len = 0;
  w->err = 0;
}

/* Reserves n bytes, or records SIM_EFULL and returns NULL. */
static uint8_t *w_take(struct dev_zcl_w *w, size_t n) {
  if (w->err)
    return NULL;
  if (w->cap - w->len < n) {
    w->err = SIM_EFULL;
    return NULL;
  }
  uint8_t *q = w->p + w->len;
  w->len += n;
  return q;
}

void dev_zcl_put_le(struct dev_zcl_w *w, uint64_t v, int size) {
  uint8_t *q = w_take(w, (size_t)size);
  if (!q)
    return;
  for (int i = 0; i < size; i++, v >>= 8)
    q[i] = (uint8_t)v;
}

void dev_zcl_put_bytes(struct dev_zcl_w *w, const void *p, size_t n) {
  uint8_t *q = w_take(w, n);
  if (q && n)
    memcpy(q, p, n);
}

void dev_zcl_put_header(struct dev_zcl_w *w, uint16_t manufacturer_code, uint8_t tsn,
                        uint8_t command) {
  uint8_t fc = SIM_ZCL_FC_SERVER_TO_CLIENT | SIM_ZCL_FC_DISABLE_DEFAULT_RSP;
  if (manufacturer_code) {
    dev_zcl_put_le(w, fc | SIM_ZCL_FC_MANUFACTURER, 1);
    dev_zcl_put_le(w, manufacturer_code, 2);
  } else {
    dev_zcl_put_le(w, fc, 1);
  }
  dev_zcl_put_le(w, tsn, 1);
  dev_zcl_put_le(w, command, 1);
}

void dev_zcl_put_cmd_header(struct dev_zcl_w *w, uint16_t manufacturer_code, uint8_t tsn,
                            uint8_t command, int disable_default_rsp) {
  uint8_t fc = SIM_ZCL_FC_CLUSTER_SPECIFIC | SIM_ZCL_FC_SERVER_TO_CLIENT;
  if (disable_default_rsp)
    fc |= SIM_ZCL_FC_DISABLE_DEFAULT_RSP;
  if (manufacturer_code) {
    dev_zcl_put_le(w, fc | SIM_ZCL_FC_MANUFACTURER, 1);
    dev_zcl_put_le(w, manufacturer_code, 2);
  } else {
    dev_zcl_put_le(w, fc, 1);
  }
  dev_zcl_put_le(w, tsn, 1);
  dev_zcl_put_le(w, command, 1);
}

void dev_zcl_default_rsp(struct dev_zcl_w *w, uint16_t manufacturer_code, uint8_t tsn,
                         uint8_t command, uint8_t status) {
  /* A Default Response is never itself answered, hence "default response disabled". */
  dev_zcl_put_header(w, manufacturer_code, tsn, SIM_ZCL_CMD_DEFAULT_RSP);
  dev_zcl_put_le(w, command, 1);
  dev_zcl_put_le(w, status, 1);
}

static void set_err(struct dev_zcl_w *w, int err) {
  if (!w->err)
    w->err = err;
}

/* Fixed size of a numeric type, or sets SIM_EINVAL and returns 0. */
static int num_size(struct dev_zcl_w *w, uint8_t type) {
  int sz = sim_zcl_type_size(type);
  enum sim_zcl_kind k = sim_zcl_type_kind(type);
  if (sz <= 0 || k == SIM_ZCL_KIND_OCTETS || k == SIM_ZCL_KIND_UNKNOWN) {
    set_err(w, SIM_EINVAL);
    return 0;
  }
  return sz;
}

/* Round-to-nearest-even conversion to IEEE 754 half precision (ZCL semi). */
static uint16_t double_to_half(double d) {
  uint16_t sign = signbit(d) ? 0x8000 : 0;
  d = fabs(d);
  if (isnan(d))
    return 0x7E00;
  if (d >= 65520.0)
    return sign | 0x7C00;
  if (d < ldexp(1, -24) / 2)
    return sign;
  int e;
  double m = frexp(d, &e); /* d = m * 2^e, m in [0.5, 1) */
  if (e < -13) {           /* subnormal: units of 2^-24 */
    return sign | (uint16_t)nearbyint(ldexp(d, 24));
  }
  uint32_t mant = (uint32_t)nearbyint(ldexp(m, 11)); /* 1024..2048 */
  if (mant == 2048) {
    mant = 1024;
    e++;
  }
  if (e + 14 >= 31)
    return sign | 0x7C00;
  return sign | (uint16_t)((e + 14) << 10) | (uint16_t)(mant & 0x3FF);
}

/* A float type's value (0x38 half, 0x39 single, 0x3A double). */
static void put_float(struct dev_zcl_w *w, uint8_t type, double f) {
  if (type == 0x38) {
    dev_zcl_put_le(w, double_to_half(f), 2);
  } else if (type == 0x39) {
    /* Out of a single's range the conversion is undefined in C: clamp, as integers are. */
    if (f > FLT_MAX)
      f = FLT_MAX;
    else if (f < -FLT_MAX)
      f = -FLT_MAX;
    float s = (float)f;
    uint32_t u;
    memcpy(&u, &s, sizeof u);
    dev_zcl_put_le(w, u, 4);
  } else { /* 0x3A */
    uint64_t u;
    memcpy(&u, &f, sizeof u);
    dev_zcl_put_le(w, u, 8);
  }
}

void dev_zcl_put_str(struct dev_zcl_w *w, uint8_t type, const void *p, size_t n) {
  /* A length of all ones (0xFF, 0xFFFF) means "invalid value" in ZCL, so it is not a length. */
  int ls = sim_zcl_type_len_size(type);
  if (!ls || n >= ((size_t)1 << (8 * ls)) - 1) {
    set_err(w, SIM_EINVAL);
    return;
  }
  dev_zcl_put_le(w, n, ls);
  dev_zcl_put_bytes(w, p, n);
}

void dev_zcl_put_num(struct dev_zcl_w *w, uint8_t type, double v) {
  int sz = num_size(w, type);
  if (!sz)
    return;
  switch (sim_zcl_type_kind(type)) {
  case SIM_ZCL_KIND_FLOAT:
    put_float(w, type, v);
    return;
  case SIM_ZCL_KIND_INT: {
    double lim = ldexp(1, sz * 8 - 1);
    double r = round(v);
    if (!(r >= -lim)) /* also catches NaN: the most negative value is ZCL's "invalid" */
      r = -lim;
    if (r > lim - 1)
      r = lim - 1;
    dev_zcl_put_le(w, (uint64_t)(int64_t)r, sz);
    return;
  }
  case SIM_ZCL_KIND_BOOL:
    dev_zcl_put_le(w, v != 0, 1);
    return;
  default: {
    double lim = ldexp(1, sz * 8) - 1;
    double r = round(v);
    if (isnan(r))
      r = lim; /* all ones: ZCL's "invalid value" */
    if (!(r >= 0))
      r = 0;
    if (r > lim)
      r = lim;
    /* uint64 values near 2^64 do not survive a double anyway; models avoid 64-bit tags. */
    dev_zcl_put_le(w, sz == 8 && r >= 0x1p63 ? UINT64_MAX : (uint64_t)r, sz);
    return;
  }
  }
}

static void put_attr_head(struct dev_zcl_w *w, uint16_t id, uint8_t type) {
  dev_zcl_put_le(w, id, 2);
  dev_zcl_put_le(w, type, 1);
}

void dev_zcl_attr_cstr(struct dev_zcl_w *w, uint16_t id, const char *s) {
  put_attr_head(w, id, 0x42);
  dev_zcl_put_str(w, 0x42, s, strlen(s));
}

void dev_zcl_put_all_ok(struct dev_zcl_w *w) {
  dev_zcl_put_le(w, SIM_ZCL_STATUS_SUCCESS, 1);
}

void dev_zcl_write_rsp_rec(struct dev_zcl_w *w, uint8_t status, uint16_t id) {
  dev_zcl_put_le(w, status, 1);
  dev_zcl_put_le(w, id, 2);
}
