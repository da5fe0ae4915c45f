/* What the two halves of the MQTT codec share: a bounds-checked reader over a packet's bytes,
 * the MQTT 5 property table, and the checks of strings. Internal to sim/mqtt. */
#ifndef SIM_MQTT_CODEC_INTERNAL_H
#define SIM_MQTT_CODEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sim/mqtt/codec.h"

/* A cursor over p[0..n): every read checks the bounds and, on failure, sets why. */
struct sim__mqtt_rd {
  const uint8_t *p;
  size_t n, off;
  enum sim_mqtt_perr why;
};

int sim__mqtt_fail(struct sim__mqtt_rd *rd, enum sim_mqtt_perr why);
int sim__mqtt_rd_u8(struct sim__mqtt_rd *rd, uint8_t *v);
int sim__mqtt_rd_u16(struct sim__mqtt_rd *rd, uint16_t *v);
int sim__mqtt_rd_u32(struct sim__mqtt_rd *rd, uint32_t *v);
int sim__mqtt_rd_varint(struct sim__mqtt_rd *rd, uint32_t *v);
/* Binary data: a two-byte length, then the bytes. */
int sim__mqtt_rd_bin(struct sim__mqtt_rd *rd, struct sim_mqtt_bytes *v);
/* A UTF-8 string: as binary, then well-formed UTF-8 without U+0000. */
int sim__mqtt_rd_str(struct sim__mqtt_rd *rd, struct sim_mqtt_bytes *v);

/* 1 when p[0..n) is well-formed UTF-8 without U+0000 (MQTT 5 1.5.4, 3.1.1 1.5.3). */
int sim__mqtt_utf8_ok(const uint8_t *p, size_t n);

/* Bytes of the variable byte integer of v (v < 2^28). */
size_t sim__mqtt_varint_len(uint32_t v);
/* Writes v as a variable byte integer; returns the bytes used (1..4). */
size_t sim__mqtt_put_varint(uint8_t *out, uint32_t v);

/* Where properties sit: a packet type's bit, or SIM__MQTT_WILL for a will's properties. */
#define SIM__MQTT_WILL 0

/* Reads a property length and the properties of a packet of type where (or a will) into out
 * (zeroed first). 0 or SIM_EMALFORMED with rd->why set. */
int sim__mqtt_props_decode(struct sim__mqtt_rd *rd, int where, struct sim_mqtt_props *out);
/* Appends the property length and the properties present in p. SIM_EINVAL for a property that
 * may not sit there or a bad value; SIM_ENOMEM. On failure out may hold a partial write: the
 * caller truncates. */
int sim__mqtt_props_encode(struct sim_buf *out, int where, const struct sim_mqtt_props *p);

#endif
