/* ZCL type table, header parser and the hub-side decoder of attribute records.
 *
 * Everything here reads bytes that a hub received over the air, so every read is preceded by a
 * length check against the end of the buffer: a short or odd frame is the sender's fault and
 * yields SIM_EMALFORMED, never an out-of-bounds read and never an assert. */
#include "sim/wire/zcl.h"

#include <math.h>
#include <string.h>

#include "sim/core/err.h"

/* Every ZCL data type hubsim knows, by type id: its fixed size (0: variable, with a length or
 * count ahead of the value), its kind, the bytes of a string's length prefix, and its name.
 * Types missing here (arrays, sets, bags, nodata...) are unknown: a record using them cannot
 * be skipped safely, so the decoder rejects the frame rather than guessing.
 *
 * Names: a `cat` one is a type name of the device catalogue (docs/catalog.md "ZCL type names",
 * what the loader accepts and `hubsim devices` prints); the others are only printed, for the
 * few other types a decoder may meet. This is the one table: the catalogue loader, the encoder,
 * the decoder and `hubsim devices` all read it. */
struct zcl_type {
  int8_t size;
  uint8_t kind;     /* enum sim_zcl_kind; SIM_ZCL_KIND_UNKNOWN: not in the table */
  uint8_t len_size; /* strings: 1 or 2 */
  uint8_t cat;      /* name is a catalogue type name */
  const char *name;
};

static const struct zcl_type zcl_types[256] = {
    [0x08] = {1, SIM_ZCL_KIND_UINT, 0, 0, NULL}, /* data8..data64 */
    [0x09] = {2, SIM_ZCL_KIND_UINT, 0, 0, NULL},
    [0x0A] = {3, SIM_ZCL_KIND_UINT, 0, 0, NULL},
    [0x0B] = {4, SIM_ZCL_KIND_UINT, 0, 0, NULL},
    [0x0C] = {5, SIM_ZCL_KIND_UINT, 0, 0, NULL},
    [0x0D] = {6, SIM_ZCL_KIND_UINT, 0, 0, NULL},
    [0x0E] = {7, SIM_ZCL_KIND_UINT, 0, 0, NULL},
    [0x0F] = {8, SIM_ZCL_KIND_UINT, 0, 0, NULL},
    [0x10] = {1, SIM_ZCL_KIND_BOOL, 0, 1, "bool"},
    [0x18] = {1, SIM_ZCL_KIND_UINT, 0, 1, "bitmap8"},
    [0x19] = {2, SIM_ZCL_KIND_UINT, 0, 1, "bitmap16"},
    [0x1A] = {3, SIM_ZCL_KIND_UINT, 0, 0, "bitmap24"},
    [0x1B] = {4, SIM_ZCL_KIND_UINT, 0, 1, "bitmap32"},
    [0x1C] = {5, SIM_ZCL_KIND_UINT, 0, 0, NULL}, /* bitmap40..bitmap64 */
    [0x1D] = {6, SIM_ZCL_KIND_UINT, 0, 0, NULL},
    [0x1E] = {7, SIM_ZCL_KIND_UINT, 0, 0, NULL},
    [0x1F] = {8, SIM_ZCL_KIND_UINT, 0, 0, NULL},
    [0x20] = {1, SIM_ZCL_KIND_UINT, 0, 1, "uint8"},
    [0x21] = {2, SIM_ZCL_KIND_UINT, 0, 1, "uint16"},
    [0x22] = {3, SIM_ZCL_KIND_UINT, 0, 1, "uint24"},
    [0x23] = {4, SIM_ZCL_KIND_UINT, 0, 1, "uint32"},
    [0x24] = {5, SIM_ZCL_KIND_UINT, 0, 1, "uint40"},
    [0x25] = {6, SIM_ZCL_KIND_UINT, 0, 1, "uint48"},
    [0x26] = {7, SIM_ZCL_KIND_UINT, 0, 0, "uint56"},
    [0x27] = {8, SIM_ZCL_KIND_UINT, 0, 0, "uint64"},
    [0x28] = {1, SIM_ZCL_KIND_INT, 0, 1, "int8"},
    [0x29] = {2, SIM_ZCL_KIND_INT, 0, 1, "int16"},
    [0x2A] = {3, SIM_ZCL_KIND_INT, 0, 1, "int24"},
    [0x2B] = {4, SIM_ZCL_KIND_INT, 0, 1, "int32"},
    [0x2C] = {5, SIM_ZCL_KIND_INT, 0, 0, NULL}, /* int40..int64 */
    [0x2D] = {6, SIM_ZCL_KIND_INT, 0, 0, NULL},
    [0x2E] = {7, SIM_ZCL_KIND_INT, 0, 0, NULL},
    [0x2F] = {8, SIM_ZCL_KIND_INT, 0, 0, NULL},
    [0x30] = {1, SIM_ZCL_KIND_UINT, 0, 1, "enum8"},
    [0x31] = {2, SIM_ZCL_KIND_UINT, 0, 1, "enum16"},
    [0x38] = {2, SIM_ZCL_KIND_FLOAT, 0, 0, "semi"},
    [0x39] = {4, SIM_ZCL_KIND_FLOAT, 0, 1, "float"}, /* single precision */
    [0x3A] = {8, SIM_ZCL_KIND_FLOAT, 0, 1, "double"},
    [0x41] = {0, SIM_ZCL_KIND_OCTETS, 1, 1, "octstr"},
    [0x42] = {0, SIM_ZCL_KIND_STRING, 1, 1, "string"},
    [0x43] = {0, SIM_ZCL_KIND_OCTETS, 2, 0, "long_octstr"},
    [0x44] = {0, SIM_ZCL_KIND_STRING, 2, 0, "long_string"},
    [0x4C] = {0, SIM_ZCL_KIND_STRUCT, 0, 0, "struct"},
    [0xE0] = {4, SIM_ZCL_KIND_UINT, 0, 0, NULL}, /* time of day, date, UTC time */
    [0xE1] = {4, SIM_ZCL_KIND_UINT, 0, 0, NULL},
    [0xE2] = {4, SIM_ZCL_KIND_UINT, 0, 0, NULL},
    [0xE8] = {2, SIM_ZCL_KIND_UINT, 0, 0, NULL}, /* cluster id, attribute id */
    [0xE9] = {2, SIM_ZCL_KIND_UINT, 0, 0, NULL},
    [0xEA] = {4, SIM_ZCL_KIND_UINT, 0, 0, NULL},    /* BACnet OID */
    [0xF0] = {8, SIM_ZCL_KIND_UINT, 0, 0, NULL},    /* IEEE address */
    [0xF1] = {16, SIM_ZCL_KIND_OCTETS, 0, 0, NULL}, /* 128-bit security key: opaque bytes */
};

const char *sim_zcl_type_name(uint8_t type) {
  return zcl_types[type].cat ? zcl_types[type].name : NULL;
}

const char *sim_zcl_type_label(uint8_t type) {
  return zcl_types[type].name;
}

int sim_zcl_type_from_name(const char *name) {
  if (!name)
    return -1;
  for (int t = 0; t < 256; t++)
    if (zcl_types[t].cat && strcmp(zcl_types[t].name, name) == 0)
      return t;
  return -1;
}

int sim_zcl_type_size(uint8_t type) {
  return zcl_types[type].kind == SIM_ZCL_KIND_UNKNOWN ? -1 : zcl_types[type].size;
}

enum sim_zcl_kind sim_zcl_type_kind(uint8_t type) {
  return (enum sim_zcl_kind)zcl_types[type].kind;
}

int sim_zcl_type_len_size(uint8_t type) {
  return zcl_types[type].len_size;
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
  struct zcl_type ti = zcl_types[type];
  if (ti.kind == SIM_ZCL_KIND_UNKNOWN)
    ti.size = -1;
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
  if (sim_zcl_type_len_size(type) == 1) {
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
  if (sim_zcl_type_len_size(type) == 2) {
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
