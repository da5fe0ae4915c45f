/* ZCL type table, header parser and the hub-side decoder of attribute records.
 *
 * Everything here reads bytes that a hub received over the air, so every read is preceded by a
 * length check against the end of the buffer: a short or odd frame is the sender's fault and
 * yields SIM_EMALFORMED, never an out-of-bounds read and never an assert. */
#include "sim/wire/zcl.h"

#include <math.h>
#include <string.h>

#include "sim/core/err.h"

/* Per type id: fixed size (0 = variable, -1 = unknown to us) and kind. Types we cannot size
 * (arrays, sets, bags, nodata) are unknown: a record using them cannot be skipped safely, so the
 * decoder rejects the frame rather than guessing. */
struct zcl_type_info {
  int8_t size;
  uint8_t kind;
};

static struct zcl_type_info zcl_type_info(uint8_t t) {
  struct zcl_type_info ti = {-1, SIM_ZCL_KIND_UNKNOWN};
  if (t >= 0x08 && t <= 0x0F) { /* data8..data64 */
    ti.size = (int8_t)(t - 0x08 + 1);
    ti.kind = SIM_ZCL_KIND_UINT;
  } else if (t == 0x10) {
    ti.size = 1;
    ti.kind = SIM_ZCL_KIND_BOOL;
  } else if (t >= 0x18 && t <= 0x1F) { /* bitmap8..bitmap64 */
    ti.size = (int8_t)(t - 0x18 + 1);
    ti.kind = SIM_ZCL_KIND_UINT;
  } else if (t >= 0x20 && t <= 0x27) { /* uint8..uint64 */
    ti.size = (int8_t)(t - 0x20 + 1);
    ti.kind = SIM_ZCL_KIND_UINT;
  } else if (t >= 0x28 && t <= 0x2F) { /* int8..int64 */
    ti.size = (int8_t)(t - 0x28 + 1);
    ti.kind = SIM_ZCL_KIND_INT;
  } else if (t == 0x30 || t == 0x31) { /* enum8, enum16 */
    ti.size = (int8_t)(t - 0x30 + 1);
    ti.kind = SIM_ZCL_KIND_UINT;
  } else if (t == 0x38) { /* semi-precision float */
    ti.size = 2;
    ti.kind = SIM_ZCL_KIND_FLOAT;
  } else if (t == 0x39) {
    ti.size = 4;
    ti.kind = SIM_ZCL_KIND_FLOAT;
  } else if (t == 0x3A) {
    ti.size = 8;
    ti.kind = SIM_ZCL_KIND_FLOAT;
  } else if (t == 0x41 || t == 0x43) {
    ti.size = 0;
    ti.kind = SIM_ZCL_KIND_OCTETS;
  } else if (t == 0x42 || t == 0x44) {
    ti.size = 0;
    ti.kind = SIM_ZCL_KIND_STRING;
  } else if (t == 0x4C) {
    ti.size = 0;
    ti.kind = SIM_ZCL_KIND_STRUCT;
  } else if (t >= 0xE0 && t <= 0xE2) { /* time of day, date, UTC time */
    ti.size = 4;
    ti.kind = SIM_ZCL_KIND_UINT;
  } else if (t == 0xE8 || t == 0xE9) { /* cluster id, attribute id */
    ti.size = 2;
    ti.kind = SIM_ZCL_KIND_UINT;
  } else if (t == 0xEA) { /* BACnet OID */
    ti.size = 4;
    ti.kind = SIM_ZCL_KIND_UINT;
  } else if (t == 0xF0) { /* IEEE address */
    ti.size = 8;
    ti.kind = SIM_ZCL_KIND_UINT;
  } else if (t == 0xF1) { /* 128-bit security key: fixed size, opaque bytes */
    ti.size = 16;
    ti.kind = SIM_ZCL_KIND_OCTETS;
  }
  return ti;
}

/* The catalogue's type names (docs/catalog.md), in one table so the loader, `hubsim devices`
 * and the tests agree. */
static const struct {
  const char *name;
  uint8_t type;
} zcl_type_names[] = {
    {"bool", 0x10},   {"bitmap8", 0x18}, {"bitmap16", 0x19}, {"bitmap32", 0x1B}, {"uint8", 0x20},
    {"uint16", 0x21}, {"uint24", 0x22},  {"uint32", 0x23},   {"uint40", 0x24},   {"uint48", 0x25},
    {"int8", 0x28},   {"int16", 0x29},   {"int24", 0x2A},    {"int32", 0x2B},    {"enum8", 0x30},
    {"enum16", 0x31}, {"float", 0x39},   {"double", 0x3A},   {"octstr", 0x41},   {"string", 0x42},
};

const char *sim_zcl_type_name(uint8_t type) {
  for (size_t i = 0; i < sizeof zcl_type_names / sizeof zcl_type_names[0]; i++)
    if (zcl_type_names[i].type == type)
      return zcl_type_names[i].name;
  return NULL;
}

int sim_zcl_type_from_name(const char *name) {
  if (!name)
    return -1;
  for (size_t i = 0; i < sizeof zcl_type_names / sizeof zcl_type_names[0]; i++)
    if (strcmp(zcl_type_names[i].name, name) == 0)
      return zcl_type_names[i].type;
  return -1;
}

int sim_zcl_type_size(uint8_t type) {
  return zcl_type_info(type).size;
}

enum sim_zcl_kind sim_zcl_type_kind(uint8_t type) {
  return (enum sim_zcl_kind)zcl_type_info(type).kind;
}

int sim_zcl_parse_header(const uint8_t *p, size_t n, struct sim_zcl_header *h) {
  if (!p || n < 3)
    return SIM_EMALFORMED;
  uint8_t fc = p[0];
  /* Frame types 2 and 3 are reserved by the ZCL specification. */
  if ((fc & 0x03) > 1)
    return SIM_EMALFORMED;
  size_t hl = (fc & SIM_ZCL_FC_MANUFACTURER) ? 5 : 3;
  if (n < hl)
    return SIM_EMALFORMED;
  h->frame_control = fc;
  h->manufacturer_code = (fc & SIM_ZCL_FC_MANUFACTURER) ? (uint16_t)(p[1] | p[2] << 8) : 0;
  h->tsn = p[hl - 2];
  h->command = p[hl - 1];
  h->header_len = hl;
  return 0;
}

static uint64_t rd_le(const uint8_t *p, int size) {
  uint64_t v = 0;
  for (int i = size - 1; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

/* IEEE 754 half precision to double; handles subnormals, infinities and NaN. */
static double half_to_double(uint16_t h) {
  int e = (h >> 10) & 0x1F;
  int m = h & 0x3FF;
  double v;
  if (e == 0)
    v = ldexp(m, -24);
  else if (e == 31)
    v = m ? NAN : INFINITY;
  else
    v = ldexp(m + 1024, e - 25);
  return (h & 0x8000) ? -v : v;
}

/* Decodes one value of type at p[0..n) into a (kind, v, data, len); *used gets its encoded
 * size. Structs are decoded only as opaque element bytes here (see decode_struct_members).
 * 0 or SIM_EMALFORMED. */
static int decode_value(uint8_t type, const uint8_t *p, size_t n, struct sim_zcl_attr *a,
                        size_t *used) {
  struct zcl_type_info ti = zcl_type_info(type);
  a->type = type;
  a->kind = ti.kind;
  a->v.u = 0;
  a->data = NULL;
  a->len = 0;
  a->first_member = 0;
  a->n_members = 0;
  if (ti.size < 0)
    return SIM_EMALFORMED;
  if (ti.size > 0) {
    size_t sz = (size_t)ti.size;
    if (n < sz)
      return SIM_EMALFORMED;
    switch (ti.kind) {
    case SIM_ZCL_KIND_BOOL:
      a->v.b = p[0] != 0;
      break;
    case SIM_ZCL_KIND_UINT:
      a->v.u = rd_le(p, ti.size);
      break;
    case SIM_ZCL_KIND_INT: {
      uint64_t u = rd_le(p, ti.size);
      if (ti.size < 8 && (u >> (ti.size * 8 - 1)) & 1)
        u |= ~0ull << (ti.size * 8); /* sign-extend */
      a->v.i = (int64_t)u;
      break;
    }
    case SIM_ZCL_KIND_FLOAT:
      if (ti.size == 2) {
        a->v.f = half_to_double((uint16_t)rd_le(p, 2));
      } else if (ti.size == 4) {
        uint32_t u = (uint32_t)rd_le(p, 4);
        float f;
        memcpy(&f, &u, sizeof f);
        a->v.f = f;
      } else {
        uint64_t u = rd_le(p, 8);
        double d;
        memcpy(&d, &u, sizeof d);
        a->v.f = d;
      }
      break;
    default: /* fixed-size opaque (security key) */
      a->data = p;
      a->len = (uint16_t)sz;
      break;
    }
    *used = sz;
    return 0;
  }
  /* Variable length. 0xFF / 0xFFFF mean "invalid value" in ZCL: an empty value. */
  if (type == 0x41 || type == 0x42) {
    if (n < 1)
      return SIM_EMALFORMED;
    size_t l = p[0] == 0xFF ? 0 : p[0];
    if (n - 1 < l)
      return SIM_EMALFORMED;
    a->data = p + 1;
    a->len = (uint16_t)l;
    *used = 1 + l;
    return 0;
  }
  if (type == 0x43 || type == 0x44) {
    if (n < 2)
      return SIM_EMALFORMED;
    size_t l = (size_t)(p[0] | p[1] << 8);
    if (l == 0xFFFF)
      l = 0;
    if (n - 2 < l)
      return SIM_EMALFORMED;
    a->data = p + 2;
    a->len = (uint16_t)l;
    *used = 2 + l;
    return 0;
  }
  if (type == 0x4C) {
    if (n < 2)
      return SIM_EMALFORMED;
    size_t count = (size_t)(p[0] | p[1] << 8);
    if (count == 0xFFFF)
      count = 0;
    size_t off = 2;
    for (size_t i = 0; i < count; i++) {
      if (off >= n)
        return SIM_EMALFORMED;
      uint8_t et = p[off++];
      /* Nested structs are not used by any device we model; refusing them keeps this
       * function free of recursion on untrusted input. */
      if (et == 0x4C)
        return SIM_EMALFORMED;
      struct sim_zcl_attr tmp;
      size_t u = 0;
      int rc = decode_value(et, p + off, n - off, &tmp, &u);
      if (rc)
        return rc;
      off += u;
    }
    if (off - 2 > UINT16_MAX)
      return SIM_EMALFORMED;
    a->data = p + 2;
    a->len = (uint16_t)(off - 2);
    a->v.u = count;
    *used = off;
    return 0;
  }
  return SIM_EMALFORMED;
}

/* Is attribute a a Xiaomi TLV list (as zigbee-herdsman/-converters recognise them)? */
static int is_xiaomi_tlv(uint16_t cluster, const struct sim_zcl_attr *a) {
  if (cluster == 0x0000 && a->id == 0xFF01 && a->type == 0x42)
    return 1;
  if (cluster == 0xFCC0 && a->id == 0x00F7 && a->type == 0x41)
    return 1;
  return 0;
}

/* Appends the TLV members of a Xiaomi list (tag | type | value)... to out[*k..cap).
 * Real devices sometimes add one stray trailing byte (zigbee-herdsman skips it), so a single
 * leftover byte is tolerated; anything else that does not parse is malformed. */
static int decode_tlv_members(const uint8_t *p, size_t n, struct sim_zcl_attr *out, size_t cap,
                              size_t *k) {
  size_t off = 0;
  while (off < n) {
    if (n - off == 1)
      break;
    uint8_t tag = p[off], type = p[off + 1];
    off += 2;
    if (type == 0x4C)
      return SIM_EMALFORMED;
    if (*k >= cap)
      return SIM_EFULL;
    struct sim_zcl_attr *m = &out[*k];
    size_t used = 0;
    int rc = decode_value(type, p + off, n - off, m, &used);
    if (rc)
      return rc;
    m->id = tag;
    off += used;
    (*k)++;
  }
  return 0;
}

/* Appends the elements of a ZCL struct as members, numbered 0, 1, ... in id. */
static int decode_struct_members(const struct sim_zcl_attr *s, struct sim_zcl_attr *out, size_t cap,
                                 size_t *k) {
  const uint8_t *p = s->data;
  size_t n = s->len, off = 0;
  for (uint64_t i = 0; i < s->v.u; i++) {
    if (off >= n)
      return SIM_EMALFORMED;
    uint8_t et = p[off++];
    if (*k >= cap)
      return SIM_EFULL;
    size_t used = 0;
    int rc = decode_value(et, p + off, n - off, &out[*k], &used);
    if (rc)
      return rc;
    out[*k].id = (uint16_t)i;
    off += used;
    (*k)++;
  }
  return 0;
}

int sim_zcl_decode_attrs(uint16_t cluster, const uint8_t *p, size_t n, struct sim_zcl_attr *out,
                         size_t cap, size_t *n_top, size_t *n_total) {
  struct sim_zcl_header h;
  int rc = sim_zcl_parse_header(p, n, &h);
  if (rc)
    return rc;
  int is_report = 0, is_read_rsp = 0;
  if (!(h.frame_control & SIM_ZCL_FC_CLUSTER_SPECIFIC)) {
    is_report = h.command == SIM_ZCL_CMD_REPORT_ATTR;
    is_read_rsp = h.command == SIM_ZCL_CMD_READ_ATTR_RSP;
  }
  size_t k = 0;
  size_t off = h.header_len;
  if (is_report || is_read_rsp) {
    while (off < n) {
      if (n - off < 2)
        return SIM_EMALFORMED;
      uint16_t id = (uint16_t)(p[off] | p[off + 1] << 8);
      off += 2;
      if (is_read_rsp) {
        if (off >= n)
          return SIM_EMALFORMED;
        uint8_t status = p[off++];
        if (status != 0)
          continue; /* no type and value follow a failed record */
      }
      if (off >= n)
        return SIM_EMALFORMED;
      uint8_t type = p[off++];
      if (k >= cap)
        return SIM_EFULL;
      size_t used = 0;
      out[k].id = id;
      out[k].type = type;
      int xiaomi = is_xiaomi_tlv(cluster, &out[k]);
      if (xiaomi && off < n && p[off] != 0xFF && (size_t)p[off] == n - off) {
        /* A real Xiaomi list whose length byte claims one byte more than the frame holds
         * (lumi.sensor_wleak.aq1 does this; ZHA tolerates +-1): take what is there. */
        rc = decode_value(type, p + off, n - off, &out[k], &used);
        if (rc == SIM_EMALFORMED) {
          out[k].data = p + off + 1;
          out[k].len = (uint16_t)(n - off - 1);
          used = n - off;
          rc = 0;
        }
      } else {
        rc = decode_value(type, p + off, n - off, &out[k], &used);
      }
      if (rc)
        return rc;
      out[k].id = id;
      off += used;
      k++;
      /* ... or one stray byte after the list (a lumi.ctrl_ln2 frame ends with a 00 the length
       * byte does not count): skipped, as zigbee-herdsman does. */
      if (xiaomi && n - off == 1)
        off = n;
    }
  }
  size_t top = k;
  for (size_t i = 0; i < top; i++) {
    struct sim_zcl_attr *a = &out[i];
    size_t first = k;
    if (is_xiaomi_tlv(cluster, a))
      rc = decode_tlv_members(a->data, a->len, out, cap, &k);
    else if (a->kind == SIM_ZCL_KIND_STRUCT)
      rc = decode_struct_members(a, out, cap, &k);
    else
      continue;
    if (rc)
      return rc;
    if (k - first > UINT16_MAX || first > UINT16_MAX)
      return SIM_EFULL;
    a->first_member = (uint16_t)first;
    a->n_members = (uint16_t)(k - first);
  }
  *n_top = top;
  *n_total = k;
  return 0;
}

int sim_zcl_decode_status(const uint8_t *p, size_t n, struct sim_zcl_status *out, size_t cap,
                          size_t *n_out) {
  struct sim_zcl_header h;
  int rc = sim_zcl_parse_header(p, n, &h);
  if (rc)
    return rc;
  *n_out = 0;
  if (h.frame_control & SIM_ZCL_FC_CLUSTER_SPECIFIC)
    return 0;
  const uint8_t *q = p + h.header_len;
  size_t len = n - h.header_len, k = 0;
  switch (h.command) {
  case SIM_ZCL_CMD_DEFAULT_RSP:
    if (len != 2)
      return SIM_EMALFORMED;
    if (cap < 1)
      return SIM_EFULL;
    out[0] = (struct sim_zcl_status){.status = q[1], .command = q[0]};
    *n_out = 1;
    return 0;
  case SIM_ZCL_CMD_WRITE_ATTR_RSP:
  case SIM_ZCL_CMD_CONFIG_REPORT_RSP: {
    /* All successful: one status byte and no attribute id. */
    if (len == 1) {
      if (q[0] != 0)
        return SIM_EMALFORMED;
      if (cap < 1)
        return SIM_EFULL;
      out[0] = (struct sim_zcl_status){.status = 0, .command = h.command, .attr = 0xFFFF};
      *n_out = 1;
      return 0;
    }
    size_t rec = h.command == SIM_ZCL_CMD_WRITE_ATTR_RSP ? 3 : 4;
    if (len == 0 || len % rec != 0)
      return SIM_EMALFORMED;
    for (size_t off = 0; off < len; off += rec) {
      if (k >= cap)
        return SIM_EFULL;
      struct sim_zcl_status *s = &out[k++];
      s->status = q[off];
      s->command = h.command;
      s->direction = rec == 4 ? q[off + 1] : 0;
      s->attr = (uint16_t)(q[off + rec - 2] | q[off + rec - 1] << 8);
    }
    *n_out = k;
    return 0;
  }
  default:
    return 0;
  }
}
