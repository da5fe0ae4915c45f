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

/* Header of a cluster-specific command sent by a device (server -> client): 09 tsn cmd, or
 * 19 tsn cmd when disable_default_rsp; with manufacturer_code != 0 the manufacturer bit is set
 * (0D / 1D) and mc_lo mc_hi follow the frame control. */
void dev_zcl_put_cmd_header(struct dev_zcl_w *w, uint16_t manufacturer_code, uint8_t tsn,
                            uint8_t command, int disable_default_rsp);

/* A whole Default Response frame (global 0x0B) answering command `command` of a request, with
 * transaction number tsn (a real device echoes the request's; the generic model, which is not
 * given it, takes its own next one): 18 tsn 0B command status, or 1C mc_lo mc_hi ... when the
 * request was manufacturer-specific. */
void dev_zcl_default_rsp(struct dev_zcl_w *w, uint16_t manufacturer_code, uint8_t tsn,
                         uint8_t command, uint8_t status);

/* Octet or char string (0x41/0x42: n <= 254; 0x43/0x44: n <= 65534), length prefix included;
 * any other type sets SIM_EINVAL. */
void dev_zcl_put_str(struct dev_zcl_w *w, uint8_t type, const void *p, size_t n);
/* Any numeric type from a double: what the data-driven catalogue uses. Integer types are rounded
 * half away from zero (C round(), as docs/catalog.md says) and clamped to the type's range;
 * NaN becomes the ZCL "invalid value" (all ones for unsigned types, the most negative value for
 * signed ones); bool is value != 0; float/double keep the value (single rounds to nearest, half
 * to nearest even). An unknown or variable-length type sets SIM_EINVAL. */
void dev_zcl_put_num(struct dev_zcl_w *w, uint8_t type, double v);

/* Attribute record of a char string (type 0x42): id (LE16), type, length, bytes. */
void dev_zcl_attr_cstr(struct dev_zcl_w *w, uint16_t id, const char *s);

/* Write Attributes Response (0x04) and Configure Reporting Response (0x07) payloads, after a
 * dev_zcl_put_header(.., 0x04 / 0x07). When every record succeeded the payload is the single
 * status byte 00 (dev_zcl_put_all_ok); otherwise one write record per failed attribute: status
 * id(LE16). */
void dev_zcl_put_all_ok(struct dev_zcl_w *w);
void dev_zcl_write_rsp_rec(struct dev_zcl_w *w, uint8_t status, uint16_t id);

#endif
