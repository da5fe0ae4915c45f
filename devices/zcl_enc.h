/* The device-side ZCL encoder: frame headers and attribute records written into a caller's
 * buffer, bounds-checked.
 *
 * A writer carries a sticky error: once a write does not fit, every later write is a no-op and
 * dev_zcl_w_err() returns SIM_EFULL, so a model encodes a whole frame and checks once. The
 * buffer is borrowed from the caller for the writer's lifetime. Type ids are those of
 * sim/wire/zcl.h (the decoder shares the same table). */
#ifndef DEVICES_ZCL_ENC_H
#define DEVICES_ZCL_ENC_H

#include <stddef.h>
#include <stdint.h>

/* The largest ZCL frame a model builds (an APS payload is at most ~80 bytes unfragmented;
 * 128 leaves room for the legacy join frame with modelId and a long heartbeat). */
#define DEV_ZCL_FRAME_MAX 128

struct dev_zcl_w {
  uint8_t *p;
  size_t cap;
  size_t len;
  int err; /* 0 or SIM_EFULL / SIM_EINVAL, sticky */
};

void dev_zcl_w_init(struct dev_zcl_w *w, uint8_t *buf, size_t cap);
static inline int dev_zcl_w_err(const struct dev_zcl_w *w) {
  return w->err;
}

/* Raw little-endian integer of size bytes (1..8). */
void dev_zcl_put_le(struct dev_zcl_w *w, uint64_t v, int size);
void dev_zcl_put_bytes(struct dev_zcl_w *w, const void *p, size_t n);

/* Header of a global command sent by a device (server -> client, default response disabled):
 * 18 tsn cmd, or 1C mc_lo mc_hi tsn cmd when manufacturer_code != 0. */
void dev_zcl_put_header(struct dev_zcl_w *w, uint16_t manufacturer_code, uint8_t tsn,
                        uint8_t command);

/* One value of type (no attribute id). The value argument that matches the type's kind is
 * used: unsigned/bitmap/enum/data/bool -> u, signed -> i, float -> f. Integers are truncated to
 * the type's width; an unknown or variable-length type sets SIM_EINVAL. */
void dev_zcl_put_uint(struct dev_zcl_w *w, uint8_t type, uint64_t u);
void dev_zcl_put_int(struct dev_zcl_w *w, uint8_t type, int64_t i);
void dev_zcl_put_float(struct dev_zcl_w *w, uint8_t type, double f);
/* Octet or char string (0x41/0x42: n <= 254; 0x43/0x44: n <= 65534), length prefix included. */
void dev_zcl_put_str(struct dev_zcl_w *w, uint8_t type, const void *p, size_t n);
/* Any numeric type from a double (rounded to nearest for integer types, clamped to the type's
 * range): what the data-driven heartbeat builder uses. */
void dev_zcl_put_num(struct dev_zcl_w *w, uint8_t type, double v);

/* Attribute records: id (LE16), type, value. */
void dev_zcl_attr_uint(struct dev_zcl_w *w, uint16_t id, uint8_t type, uint64_t u);
void dev_zcl_attr_int(struct dev_zcl_w *w, uint16_t id, uint8_t type, int64_t i);
void dev_zcl_attr_float(struct dev_zcl_w *w, uint16_t id, uint8_t type, double f);
void dev_zcl_attr_str(struct dev_zcl_w *w, uint16_t id, uint8_t type, const void *p, size_t n);
void dev_zcl_attr_cstr(struct dev_zcl_w *w, uint16_t id, const char *s); /* type 0x42 */
void dev_zcl_attr_num(struct dev_zcl_w *w, uint16_t id, uint8_t type, double v);

#endif
