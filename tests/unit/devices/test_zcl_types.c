/* Every ZCL data type the device catalogue uses (docs/catalog.md "ZCL type names"), byte for
 * byte through the device encoder (devices/zcl_enc.c) and back through the hub-side decoder
 * (sim/wire/zcl.c); the response helpers; and the Xiaomi heartbeat examples of
 * tests/data/aqara-zigbee.json rebuilt tag by tag with dev_xiaomi_put_hb. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "devices/xiaomi.h"
#include "devices/zcl_enc.h"
#include "sim/core/err.h"
#include "sim/core/hex.h"
#include "sim/wire/zcl.h"

/* Parses "0A FF ..." or "0aff..." into out; returns the byte count. */
static size_t unhex(const char *s, uint8_t *out, size_t cap) {
  size_t n = 0;
  assert_int_equal(sim_hex_decode(s, strlen(s), SIM_HEX_SPACED, out, cap, &n), 0);
  return n;
}

static void expect_raw(const uint8_t *p, size_t len, const char *hex, const char *what) {
  uint8_t want[512];
  size_t n = unhex(hex, want, sizeof want);
  if (len != n || memcmp(p, want, n) != 0) {
    fprintf(stderr, "%s\ngot:  ", what);
    for (size_t i = 0; i < len; i++)
      fprintf(stderr, "%02X", p[i]);
    fprintf(stderr, "\nwant: %s\n", hex);
  }
  assert_int_equal(len, n);
  assert_memory_equal(p, want, n);
}

static void expect_bytes(const struct dev_zcl_w *w, const char *hex, const char *what) {
  assert_int_equal(w->err, 0);
  expect_raw(w->p, w->len, hex, what);
}

#define W(name)                                                                                    \
  uint8_t name##_buf[512];                                                                         \
  struct dev_zcl_w name;                                                                           \
  dev_zcl_w_init(&name, name##_buf, sizeof name##_buf)

/* Wraps one encoded value in a report frame (18 00 0A, attr 0x0000, type) and decodes it. */
/* A whole heartbeat frame: 1C 5F 11 tsn 0A, then the record. 0 or the writer's error. */
static int hb_frame(struct dev_zcl_w *w, uint8_t tsn, const struct dev_hb_layout *l) {
  dev_zcl_put_header(w, DEV_LUMI_MFR_CODE, tsn, 0x0A);
  dev_xiaomi_put_hb(w, l);
  return w->err;
}

static struct sim_zcl_attr decode_one(uint8_t type, const uint8_t *val, size_t n) {
  uint8_t frame[600];
  size_t k = 0;
  frame[k++] = 0x18;
  frame[k++] = 0x00;
  frame[k++] = 0x0A;
  frame[k++] = 0x00;
  frame[k++] = 0x00;
  frame[k++] = type;
  assert_true(k + n <= sizeof frame);
  memcpy(frame + k, val, n);
  k += n;
  struct sim_zcl_attr out[2];
  size_t top = 0, total = 0;
  assert_int_equal(sim_zcl_decode_attrs(0x0402, frame, k, out, 2, &top, &total), 0);
  assert_int_equal(top, 1);
  assert_int_equal(total, 1);
  assert_int_equal(out[0].type, type);
  /* Every strict prefix of the frame is malformed, never read past. */
  for (size_t cut = 0; cut < k; cut++) {
    int rc = sim_zcl_decode_attrs(0x0402, frame, cut, out, 2, &top, &total);
    if (cut == 3) /* header only: a report with no records */
      assert_int_equal(rc, 0);
    else
      assert_int_equal(rc, SIM_EMALFORMED);
  }
  sim_zcl_decode_attrs(0x0402, frame, k, out, 2, &top, &total);
  return out[0];
}

/* The decoded value as a double, whatever its kind. */
static double attr_value(const struct sim_zcl_attr *a) {
  switch (a->kind) {
  case SIM_ZCL_KIND_BOOL:
    return a->v.b;
  case SIM_ZCL_KIND_UINT:
    return (double)a->v.u;
  case SIM_ZCL_KIND_INT:
    return (double)a->v.i;
  case SIM_ZCL_KIND_FLOAT:
    return a->v.f;
  default:
    fail_msg("type 0x%02x is not numeric", a->type);
    return 0;
  }
}

struct num_case {
  const char *type; /* catalogue name */
  double v;         /* encoded with dev_zcl_put_num */
  const char *hex;  /* the value bytes */
  double back;      /* what the hub decodes */
};

static const struct num_case num_cases[] = {
    /* bool: any non-zero value is true */
    {"bool", 0, "00", 0},
    {"bool", 1, "01", 1},
    {"bool", 5, "01", 1},
    {"bool", -1, "01", 1},
    {"bool", 0.2, "01", 1},
    /* bitmaps */
    {"bitmap8", 0, "00", 0},
    {"bitmap8", 0xA5, "A5", 0xA5},
    {"bitmap8", 255, "FF", 255},
    {"bitmap8", 256, "FF", 255}, /* clamp */
    {"bitmap8", -1, "00", 0},
    {"bitmap16", 0x0009, "0900", 9},
    {"bitmap16", 65535, "FFFF", 65535},
    {"bitmap16", 70000, "FFFF", 65535},
    {"bitmap32", 0xDEADBEEF, "EFBEADDE", 0xDEADBEEF},
    {"bitmap32", 4294967295.0, "FFFFFFFF", 4294967295.0},
    {"bitmap32", 5e9, "FFFFFFFF", 4294967295.0},
    /* unsigned */
    {"uint8", 0, "00", 0},
    {"uint8", 255, "FF", 255},
    {"uint8", 2.5, "03", 3}, /* round half away from zero */
    {"uint8", 2.49, "02", 2},
    {"uint8", 300, "FF", 255},
    {"uint8", -5, "00", 0},
    {"uint8", -0.4, "00", 0},
    {"uint8", NAN, "FF", 255}, /* ZCL invalid value */
    {"uint16", 2915, "630B", 2915},
    {"uint16", 65535, "FFFF", 65535},
    {"uint16", 65535.4, "FFFF", 65535},
    {"uint16", 65535.6, "FFFF", 65535},
    {"uint16", 1.5, "0200", 2},
    {"uint16", 21.455 * 100, "6208", 2146},
    {"uint24", 0x123456, "563412", 0x123456},
    {"uint24", 16777215, "FFFFFF", 16777215},
    {"uint24", 16777216, "FFFFFF", 16777215},
    {"uint24", -1, "000000", 0},
    {"uint32", 98125, "4D7F0100", 98125},
    {"uint32", 4294967295.0, "FFFFFFFF", 4294967295.0},
    {"uint32", 1e12, "FFFFFFFF", 4294967295.0},
    {"uint40", 1, "0100000000", 1},
    {"uint40", 327680, "0000050000", 327680},
    {"uint40", 1099511627775.0, "FFFFFFFFFF", 1099511627775.0},
    {"uint40", 2e12, "FFFFFFFFFF", 1099511627775.0},
    {"uint48", 123456, "40E201000000", 123456},
    {"uint48", 281474976710655.0, "FFFFFFFFFFFF", 281474976710655.0},
    {"uint48", 3e14, "FFFFFFFFFFFF", 281474976710655.0},
    /* signed: two's complement, sign in the top byte's high bit */
    {"int8", 35, "23", 35},
    {"int8", -1, "FF", -1},
    {"int8", -128, "80", -128},
    {"int8", 127, "7F", 127},
    {"int8", -200, "80", -128},
    {"int8", 200, "7F", 127},
    {"int8", -2.5, "FD", -3},  /* half away from zero */
    {"int8", NAN, "80", -128}, /* ZCL invalid value */
    {"int16", 1910, "7607", 1910},
    {"int16", -2150.4, "9AF7", -2150},
    {"int16", -2150.5, "99F7", -2151},
    {"int16", 32767, "FF7F", 32767},
    {"int16", -32768, "0080", -32768},
    {"int16", -32769, "0080", -32768},
    {"int16", 40000, "FF7F", 32767},
    {"int16", -0.5, "FFFF", -1},
    {"int24", -1, "FFFFFF", -1},
    {"int24", -123456, "C01DFE", -123456},
    {"int24", 123456, "40E201", 123456},
    {"int24", -8388608, "000080", -8388608},
    {"int24", 8388607, "FFFF7F", 8388607},
    {"int24", 9e6, "FFFF7F", 8388607},
    {"int24", -9e6, "000080", -8388608},
    {"int32", 98125, "4D7F0100", 98125},
    {"int32", -98125, "B380FEFF", -98125},
    {"int32", -2147483648.0, "00000080", -2147483648.0},
    {"int32", 2147483647.0, "FFFFFF7F", 2147483647.0},
    {"int32", 3e9, "FFFFFF7F", 2147483647.0},
    {"int32", -3e9, "00000080", -2147483648.0},
    /* enums */
    {"enum8", 0, "00", 0},
    {"enum8", 2, "02", 2},
    {"enum8", 255, "FF", 255},
    {"enum8", 256, "FF", 255},
    {"enum16", 0x1234, "3412", 0x1234},
    {"enum16", 65535, "FFFF", 65535},
    /* single: IEEE 754 binary32, little endian */
    {"float", 0.25, "0000803E", 0.25},
    {"float", 1.0, "0000803F", 1.0},
    {"float", -1.5, "0000C0BF", -1.5},
    {"float", 0.1, "CDCCCC3D", (double)0.1f},
    {"float", 17.5034, "F7068C41", (double)17.5034f}, /* nearest single */
    {"float", 0x1.180e14p+4, "0A078C41", 0x1.180e14p+4},
    {"float", 1e39, "FFFF7F7F", FLT_MAX}, /* clamp */
    {"float", -1e39, "FFFF7FFF", -FLT_MAX},
    /* double: IEEE 754 binary64, little endian */
    {"double", 0.1, "9A9999999999B93F", 0.1},
    {"double", -2.5, "00000000000004C0", -2.5},
    {"double", 1e300, "9C7500883CE4377E", 1e300},
    {"double", 0x1.19d732p+11, "00000020739DA140", 0x1.19d732p+11},
};

static void test_numeric_types(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof num_cases / sizeof num_cases[0]; i++) {
    const struct num_case *c = &num_cases[i];
    int type = sim_zcl_type_from_name(c->type);
    assert_true(type > 0);
    assert_string_equal(sim_zcl_type_name((uint8_t)type), c->type);
    char what[96];
    snprintf(what, sizeof what, "case %zu: %s %g", i, c->type, c->v);
    W(w);
    dev_zcl_put_num(&w, (uint8_t)type, c->v);
    expect_bytes(&w, c->hex, what);
    assert_int_equal((int)w.len, sim_zcl_type_size((uint8_t)type));
    struct sim_zcl_attr a = decode_one((uint8_t)type, w.p, w.len);
    double got = attr_value(&a);
    if (got != c->back) {
      fprintf(stderr, "%s: decoded %.17g, want %.17g\n", what, got, c->back);
      fail();
    }
  }
}

/* Integer widths the decoder must sign-extend or keep unsigned. */
static void test_integer_decoding(void **state) {
  (void)state;
  /* int24 sign extension in the decoder, at both edges. */
  uint8_t neg[3] = {0x00, 0x00, 0x80}, pos[3] = {0xFF, 0xFF, 0x7F};
  struct sim_zcl_attr a = decode_one(SIM_ZCL_T_INT24, neg, 3);
  assert_int_equal(a.v.i, -8388608);
  a = decode_one(SIM_ZCL_T_INT24, pos, 3);
  assert_int_equal(a.v.i, 8388607);
  uint8_t b32[4] = {0x01, 0x00, 0x00, 0x80};
  a = decode_one(SIM_ZCL_T_BITMAP32, b32, 4);
  assert_int_equal(a.kind, SIM_ZCL_KIND_UINT);
  assert_true(a.v.u == 0x80000001u);
}

static void test_strings(void **state) {
  (void)state;
  W(w);
  dev_zcl_put_str(&w, SIM_ZCL_T_OCTSTR, "", 0);
  expect_bytes(&w, "00", "empty octstr");
  W(o);
  const uint8_t raw[] = {0x01, 0x02, 0xFF, 0x00};
  dev_zcl_put_str(&o, SIM_ZCL_T_OCTSTR, raw, sizeof raw);
  expect_bytes(&o, "04 0102FF00", "octstr");
  struct sim_zcl_attr a = decode_one(SIM_ZCL_T_OCTSTR, o.p, o.len);
  assert_int_equal(a.kind, SIM_ZCL_KIND_OCTETS);
  assert_int_equal(a.len, 4);
  assert_memory_equal(a.data, raw, 4);

  W(s);
  dev_zcl_put_str(&s, SIM_ZCL_T_STRING, "lumi.weather", 12);
  expect_bytes(&s, "0C 6C756D692E77656174686572", "string");
  a = decode_one(SIM_ZCL_T_STRING, s.p, s.len);
  assert_int_equal(a.kind, SIM_ZCL_KIND_STRING);
  assert_int_equal(a.len, 12);
  assert_memory_equal(a.data, "lumi.weather", 12);

  /* 254 bytes is the longest short string; 255 (0xFF means "invalid") is refused. */
  char long_s[255];
  memset(long_s, 'x', sizeof long_s);
  W(l);
  dev_zcl_put_str(&l, SIM_ZCL_T_STRING, long_s, 254);
  assert_int_equal(l.err, 0);
  assert_int_equal(l.len, 255);
  assert_int_equal(l.p[0], 254);
  a = decode_one(SIM_ZCL_T_STRING, l.p, l.len);
  assert_int_equal(a.len, 254);
  W(t);
  dev_zcl_put_str(&t, SIM_ZCL_T_STRING, long_s, 255);
  assert_int_equal(t.err, SIM_EINVAL);
  /* A string type is not a number. */
  W(n);
  dev_zcl_put_num(&n, SIM_ZCL_T_STRING, 1);
  assert_int_equal(n.err, SIM_EINVAL);
  /* A 0xFF length from a peer is an empty (invalid) string, not 255 bytes. */
  uint8_t inv[1] = {0xFF};
  a = decode_one(SIM_ZCL_T_OCTSTR, inv, 1);
  assert_int_equal(a.len, 0);
}

static void test_type_names(void **state) {
  (void)state;
  static const char *names[] = {"bool",   "bitmap8", "bitmap16", "bitmap32", "uint8",
                                "uint16", "uint24",  "uint32",   "uint40",   "uint48",
                                "int8",   "int16",   "int24",    "int32",    "enum8",
                                "enum16", "float",   "double",   "octstr",   "string"};
  static const uint8_t ids[] = {0x10, 0x18, 0x19, 0x1B, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25,
                                0x28, 0x29, 0x2A, 0x2B, 0x30, 0x31, 0x39, 0x3A, 0x41, 0x42};
  for (size_t i = 0; i < sizeof ids; i++) {
    assert_int_equal(sim_zcl_type_from_name(names[i]), ids[i]);
    assert_string_equal(sim_zcl_type_name(ids[i]), names[i]);
  }
  assert_int_equal(sim_zcl_type_from_name("uint17"), -1);
  assert_int_equal(sim_zcl_type_from_name(""), -1);
  assert_int_equal(sim_zcl_type_from_name(NULL), -1);
  assert_null(sim_zcl_type_name(0x38));
  /* Printed names of other types a decoder may meet; none for the rest. */
  assert_string_equal(sim_zcl_type_label(0x38), "semi");
  assert_string_equal(sim_zcl_type_label(0x44), "long_string");
  assert_string_equal(sim_zcl_type_label(0x21), "uint16");
  assert_null(sim_zcl_type_label(0x08));
  assert_null(sim_zcl_type_label(0x48));
  assert_int_equal(sim_zcl_type_from_name("semi"), -1);
  /* The length ahead of a string's value. */
  assert_int_equal(sim_zcl_type_len_size(0x41), 1);
  assert_int_equal(sim_zcl_type_len_size(0x42), 1);
  assert_int_equal(sim_zcl_type_len_size(0x43), 2);
  assert_int_equal(sim_zcl_type_len_size(0x44), 2);
  assert_int_equal(sim_zcl_type_len_size(0x4C), 0);
  assert_int_equal(sim_zcl_type_len_size(0x21), 0);
}

static void test_headers_and_responses(void **state) {
  (void)state;
  struct sim_zcl_header h;
  W(a);
  dev_zcl_put_cmd_header(&a, 0, 7, 0x00, 0);
  expect_bytes(&a, "09 07 00", "cluster-specific");
  W(b);
  dev_zcl_put_cmd_header(&b, 0, 7, 0x02, 1);
  expect_bytes(&b, "19 07 02", "cluster-specific, no default rsp");
  assert_int_equal(sim_zcl_parse_header(b.p, b.len, &h), 0);
  assert_int_equal(h.frame_control, 0x19);
  assert_int_equal(h.command, 2);
  W(c);
  dev_zcl_put_cmd_header(&c, DEV_LUMI_MFR_CODE, 0xFE, 0x00, 1);
  expect_bytes(&c, "1D 5F11 FE 00", "cluster-specific, mfr");
  assert_int_equal(sim_zcl_parse_header(c.p, c.len, &h), 0);
  assert_int_equal(h.manufacturer_code, 0x115F);
  assert_int_equal(h.tsn, 0xFE);
  assert_int_equal(h.header_len, 5);
  W(d);
  dev_zcl_put_cmd_header(&d, DEV_LUMI_MFR_CODE, 1, 0x00, 0);
  expect_bytes(&d, "0D 5F11 01 00", "cluster-specific, mfr, default rsp");
  /* A cluster-specific frame has no attribute records for the hub. */
  struct sim_zcl_attr out[4];
  size_t top = 9, total = 9;
  dev_zcl_put_le(&c, 0x0A, 1);
  assert_int_equal(sim_zcl_decode_attrs(0x0006, c.p, c.len, out, 4, &top, &total), 0);
  assert_int_equal(top, 0);

  struct sim_zcl_status st[4];
  size_t ns = 0;
  W(e);
  dev_zcl_default_rsp(&e, 0, 0x42, 0x01, 0x00);
  expect_bytes(&e, "18 42 0B 01 00", "default rsp");
  assert_int_equal(sim_zcl_decode_status(e.p, e.len, st, 4, &ns), 0);
  assert_int_equal(ns, 1);
  assert_int_equal(st[0].command, 0x01);
  assert_int_equal(st[0].status, 0x00);
  W(f);
  dev_zcl_default_rsp(&f, DEV_LUMI_MFR_CODE, 0x42, 0x05, 0x81);
  expect_bytes(&f, "1C 5F11 42 0B 05 81", "default rsp, mfr");
  assert_int_equal(sim_zcl_decode_status(f.p, f.len, st, 4, &ns), 0);
  assert_int_equal(st[0].command, 0x05);
  assert_int_equal(st[0].status, 0x81);

  /* Read Attributes Response: success records and a failed one, which the hub skips. */
  uint8_t r[64];
  size_t rn = unhex("18 05 01 0000 00 29 6608 0100 86 0500 00 42 0C 6C756D692E77656174686572"
                    " 0700 00 30 03 1000 00 2A FEFFFF 5500 00 39 0000803F",
                    r, sizeof r);
  assert_int_equal(sim_zcl_decode_attrs(0x0402, r, rn, out, 4, &top, &total), SIM_EFULL);
  struct sim_zcl_attr big[8];
  assert_int_equal(sim_zcl_decode_attrs(0x0402, r, rn, big, 8, &top, &total), 0);
  assert_int_equal(top, 5);
  assert_int_equal(big[0].id, 0x0000);
  assert_int_equal(big[0].v.i, 2150);
  assert_int_equal(big[1].id, 0x0005);
  assert_int_equal(big[1].len, 12);
  assert_int_equal(big[2].v.u, 3);
  assert_int_equal(big[3].v.i, -2);
  assert_true(big[4].v.f == 1.0);

  /* Write Attributes Response: all ok, then failed records. */
  W(wa);
  dev_zcl_put_header(&wa, 0, 6, SIM_ZCL_CMD_WRITE_ATTR_RSP);
  dev_zcl_put_all_ok(&wa);
  expect_bytes(&wa, "18 06 04 00", "write rsp ok");
  assert_int_equal(sim_zcl_decode_status(wa.p, wa.len, st, 4, &ns), 0);
  assert_int_equal(ns, 1);
  assert_int_equal(st[0].status, 0);
  assert_int_equal(st[0].attr, 0xFFFF);
  W(wb);
  dev_zcl_put_header(&wb, DEV_LUMI_MFR_CODE, 6, SIM_ZCL_CMD_WRITE_ATTR_RSP);
  dev_zcl_write_rsp_rec(&wb, 0x86, 0x0001);
  dev_zcl_write_rsp_rec(&wb, 0x88, 0xFFF0);
  expect_bytes(&wb, "1C 5F11 06 04 86 0100 88 F0FF", "write rsp failed");
  assert_int_equal(sim_zcl_decode_status(wb.p, wb.len, st, 4, &ns), 0);
  assert_int_equal(ns, 2);
  assert_int_equal(st[1].status, 0x88);
  assert_int_equal(st[1].attr, 0xFFF0);

  /* Configure Reporting Response. */
  W(ca);
  dev_zcl_put_header(&ca, 0, 7, SIM_ZCL_CMD_CONFIG_REPORT_RSP);
  dev_zcl_put_all_ok(&ca);
  expect_bytes(&ca, "18 07 07 00", "config rsp ok");
  uint8_t cb[8];
  size_t cbn = unhex("18 07 07 8C 00 0000", cb, sizeof cb); /* a failed record */
  assert_int_equal(sim_zcl_decode_status(cb, cbn, st, 4, &ns), 0);
  assert_int_equal(ns, 1);
  assert_int_equal(st[0].status, 0x8C);
  assert_int_equal(st[0].direction, 0);
  assert_int_equal(st[0].attr, 0);

  /* Malformed status frames from a peer. */
  static const char *bad[] = {"18 06 04",    "18 06 04 86 01",    "18 06 04 01",
                              "18 01 0B 01", "18 01 0B 01 00 00", "18 07 07 8C 00 00",
                              "1C 5F"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint8_t p[16];
    size_t n = unhex(bad[i], p, sizeof p);
    assert_int_equal(sim_zcl_decode_status(p, n, st, 4, &ns), SIM_EMALFORMED);
  }
  assert_int_equal(sim_zcl_decode_status(wb.p, wb.len, st, 1, &ns), SIM_EFULL);
}

/* ---- Xiaomi heartbeats: the examples of aqara-zigbee.json -------------------------------- */

#define T(tag_, type_, k_)                                                                         \
  { .tag = (tag_), .type = (type_), .k = (k_) }

static const struct dev_hb_tag weather_tags[] = {
    T(0x01, 0x21, 2915), T(0x04, 0x21, 5032), T(0x05, 0x21, 12157), T(0x06, 0x24, 1),
    T(0x64, 0x29, 5),    T(0x65, 0x21, 7523), T(0x66, 0x2B, 98125), T(0x0A, 0x21, 56919),
};
static const struct dev_hb_tag motion_tags[] = {
    T(0x01, 0x21, 2965), T(0x03, 0x28, 22),    T(0x04, 0x21, 12712), T(0x05, 0x21, 68),
    T(0x06, 0x24, 1),    T(0x0A, 0x21, 48764), T(0x64, 0x10, 0),     T(0x0B, 0x21, 9),
};
static const struct dev_hb_tag wleak_tags[] = {
    T(0x01, 0x21, 3285),   T(0x03, 0x28, 33),  T(0x04, 0x21, 5032), T(0x05, 0x21, 43),
    T(0x06, 0x24, 327680), T(0x08, 0x21, 516), T(0x0A, 0x21, 0),    T(0x64, 0x10, 0),
};
static const struct dev_hb_tag gas_tags[] = {
    T(0x05, 0x21, 1), T(0x08, 0x21, 270), T(0x09, 0x21, 512), T(0x0A, 0x21, 22681),
    T(0x0B, 0x20, 0), T(0x0C, 0x20, 1),   T(0x9A, 0x20, 0),   T(0x9F, 0x20, 2),
    T(0xA0, 0x21, 0), T(0xA1, 0x20, 0),   T(0xA2, 0x20, 0),   T(0xA3, 0x20, 0),
    T(0xA4, 0x20, 0), T(0xA5, 0x20, 0),   T(0xA6, 0x20, 0),
};
/* The example's decimals (17.5034, 2254.72, 0.003543, 0.016569) are rounded renderings of the
 * singles on the wire; the layout carries the exact singles. */
static const struct dev_hb_tag switch_tags[] = {
    T(0x03, 0x28, 35),
    T(0x05, 0x21, 46),
    T(0x08, 0x21, 4654),
    T(0x09, 0x21, 4096),
    T(0x64, 0x10, 0),
    T(0x65, 0x10, 0),
    T(0x6E, 0x20, 0),
    T(0x6F, 0x20, 0),
    T(0x94, 0x20, 2),
    T(0x95, 0x39, 0x1.180e14p+4),
    T(0x96, 0x39, 0x1.19d732p+11),
    T(0x97, 0x39, 0x1.d06p-9),
    T(0x98, 0x39, 0x1.0f77p-6),
    T(0x9B, 0x21, 0),
    T(0x9C, 0x20, 1),
    T(0x0A, 0x21, 0),
    T(0x0C, 0x28, 0),
};
static const struct dev_hb_tag trv_tags[] = {
    T(0x03, 0x28, 23), T(0x05, 0x21, 4),  T(0x0A, 0x21, 3847), T(0x0D, 0x23, 2073),
    T(0x11, 0x23, 1),  T(0x65, 0x20, 0),  T(0x66, 0x29, 1910), T(0x67, 0x29, 1900),
    T(0x68, 0x23, 0),  T(0x69, 0x20, 99), T(0x6A, 0x20, 0),
};

#define LAYOUT(tags_, legacy_)                                                                     \
  {                                                                                                \
    .cluster = (legacy_) ? 0x0000 : 0xFCC0, .attr = (legacy_) ? 0xFF01 : 0x00F7,                   \
    .type = (legacy_) ? 0x42 : 0x41, .tags = (tags_), .n_tags = sizeof(tags_) / sizeof((tags_)[0]) \
  }

/* Decodes a heartbeat frame built with hb_frame() and checks every member against the
 * layout (tag, type, value). */
static void check_hb_decodes(const struct dev_hb_layout *l, const double *expect_values) {
  W(w);
  assert_int_equal(hb_frame(&w, 0x21, l), 0);
  struct sim_zcl_attr out[40];
  size_t top = 0, total = 0;
  assert_int_equal(sim_zcl_decode_attrs(l->cluster, w.p, w.len, out, 40, &top, &total), 0);
  assert_int_equal(top, 1);
  assert_int_equal(out[0].id, l->attr);
  assert_int_equal(out[0].type, l->type);
  assert_int_equal(out[0].n_members, l->n_tags);
  assert_int_equal(total, 1 + l->n_tags);
  for (uint8_t i = 0; i < l->n_tags; i++) {
    const struct sim_zcl_attr *m = &out[out[0].first_member + i];
    assert_int_equal(m->id, l->tags[i].tag);
    assert_int_equal(m->type, l->tags[i].type);
    double want = expect_values ? expect_values[i] : l->tags[i].k;
    double got = attr_value(m);
    if (m->kind == SIM_ZCL_KIND_FLOAT)
      assert_true(fabs(got - want) <= 1e-4 * fabs(want) + 1e-9);
    else
      assert_true(got == want);
  }
}

static void test_hb_weather(void **state) {
  (void)state;
  const struct dev_hb_layout l = LAYOUT(weather_tags, 1);
  W(w);
  dev_xiaomi_put_hb(&w, &l);
  expect_bytes(&w,
               "01FF42250121630B0421A81305217D2F06240100000000642905006521631D662B4D7F01000A2157DE",
               "lumi.weather heartbeat");
  check_hb_decodes(&l, NULL);
}

static void test_hb_motion(void **state) {
  (void)state;
  const struct dev_hb_layout l = LAYOUT(motion_tags, 1);
  W(w);
  dev_zcl_attr_cstr(&w, 0x0005, "lumi.sensor_motion.aq2");
  dev_xiaomi_put_hb(&w, &l);
  expect_bytes(&w,
               "050042166C756D692E73656E736F725F6D6F74696F6E2E61713201FF42210121950B0328160421A831"
               "05214400062401000000000A217CBE6410000B210900",
               "lumi.sensor_motion.aq2 join records");
  check_hb_decodes(&l, NULL);
}

static void test_hb_wleak_frame(void **state) {
  (void)state;
  const struct dev_hb_layout l = LAYOUT(wleak_tags, 1);
  static const char *hex = "1C5F11030A050042156C756D692E73656E736F725F776C65616B2E61713101FF4222"
                           "0121D50C0328210421A81305212B0006240000050000082104020A210000641000";
  W(w);
  dev_zcl_put_header(&w, DEV_LUMI_MFR_CODE, 3, SIM_ZCL_CMD_REPORT_ATTR);
  dev_zcl_attr_cstr(&w, 0x0005, "lumi.sensor_wleak.aq1");
  dev_xiaomi_put_hb(&w, &l);
  /* The real frame's length byte says 0x22 (34) but 33 bytes follow (ZHA tolerates +-1). The
   * encoder writes the true length; every other byte is the real frame's. */
  uint8_t real[100];
  size_t n = unhex(hex, real, sizeof real);
  assert_int_equal(w.err, 0);
  assert_int_equal(w.len, n);
  assert_int_equal(real[33], 0x22);
  assert_int_equal(w.p[33], 0x21);
  real[33] = 0x21;
  assert_memory_equal(w.p, real, n);
  real[33] = 0x22;
  /* Both decode to modelId, then the list with its 8 members. */
  struct sim_zcl_attr out[16];
  size_t top = 0, total = 0;
  assert_int_equal(sim_zcl_decode_attrs(0x0000, real, n, out, 16, &top, &total), 0);
  assert_int_equal(top, 2);
  assert_int_equal(out[1].n_members, 8);
  assert_int_equal(out[out[1].first_member + 7].id, 0x64);
  assert_int_equal(sim_zcl_decode_attrs(0x0000, w.p, w.len, out, 16, &top, &total), 0);
  assert_int_equal(top, 2);
  assert_int_equal(out[0].id, 0x0005);
  assert_int_equal(out[0].len, 21);
  assert_memory_equal(out[0].data, "lumi.sensor_wleak.aq1", 21);
  assert_int_equal(out[1].n_members, 8);
  assert_int_equal(out[out[1].first_member + 4].id, 0x06);
  assert_true(out[out[1].first_member + 4].v.u == 327680);
  assert_int_equal(out[out[1].first_member + 5].v.u, 516);
  assert_int_equal(out[out[1].first_member + 7].v.b, 0);
  check_hb_decodes(&l, NULL);
}

static void test_hb_gas(void **state) {
  (void)state;
  const struct dev_hb_layout l = LAYOUT(gas_tags, 0);
  W(w);
  dev_xiaomi_put_hb(&w, &l);
  /* The example is the 0x00F7 value: the record adds F700 41 and the length (50). */
  expect_bytes(&w,
               "F70041 32 0521010008210E01092100020A2199580B20000C20019A20009F2002A0210000A12000"
               "A22000A32000A42000A52000A62000",
               "lumi.sensor_gas.acn02 0x00F7");
  check_hb_decodes(&l, NULL);
}

static void test_hb_switch(void **state) {
  (void)state;
  const struct dev_hb_layout l = LAYOUT(switch_tags, 1);
  /* The example declares 0x44 (68) bytes and carries one stray trailing 00 (a real-world
   * quirk): the encoder produces the 68 declared bytes, and the hub decodes the real frame
   * with its stray byte too. */
  static const char *real = "01FF424403282305212E0008212E12092100106410006510006E20006F2000942002"
                            "95390A078C41963999EB0C4597390030683B983980BB873C9B2100009C20010A21"
                            "00000C280000";
  uint8_t want[200];
  size_t n = unhex(real, want, sizeof want);
  W(w);
  dev_xiaomi_put_hb(&w, &l);
  assert_int_equal(w.err, 0);
  assert_int_equal(w.len, n - 1);
  assert_int_equal(want[n - 1], 0x00);
  assert_memory_equal(w.p, want, n - 1);
  check_hb_decodes(&l, NULL);
  /* The real frame, stray byte included, decodes to the same 17 members. */
  uint8_t frame[220] = {0x1C, 0x5F, 0x11, 0x00, 0x0A};
  memcpy(frame + 5, want, n);
  struct sim_zcl_attr out[24];
  size_t top = 0, total = 0;
  assert_int_equal(sim_zcl_decode_attrs(0x0000, frame, 5 + n, out, 24, &top, &total), 0);
  assert_int_equal(top, 1);
  assert_int_equal(out[0].n_members, 17);
  static const double decoded[] = {35,      46,      4654,     4096,     0, 0, 0, 0, 2,
                                   17.5034, 2254.72, 0.003543, 0.016569, 0, 1, 0, 0};
  for (int i = 0; i < 17; i++) {
    const struct sim_zcl_attr *m = &out[out[0].first_member + i];
    assert_int_equal(m->id, switch_tags[i].tag);
    double got = attr_value(m);
    assert_true(fabs(got - decoded[i]) <= 1e-4 * fabs(decoded[i]) + 1e-9);
  }
}

static void test_hb_trv(void **state) {
  (void)state;
  const struct dev_hb_layout l = LAYOUT(trv_tags, 0);
  W(w);
  dev_xiaomi_put_hb(&w, &l);
  expect_bytes(&w,
               "F70041 2E 032817052104000A21070F0D23190800001123010000006520006629760767296C0768"
               "23000000006920636A2000",
               "lumi.airrtc.agl001 0x00F7");
  check_hb_decodes(&l, NULL);
}

/* Heartbeat values as a model passes them (scaled, not yet whole): they round and clamp. */
static void test_hb_round_and_clamp(void **state) {
  (void)state;
  static const struct dev_hb_tag tags[] = {
      T(0x01, 0x21, 3012.6), T(0x64, 0x29, -1234.5), T(0x65, 0x21, 70000), /* clamps to 65535 */
      T(0x66, 0x2B, 101325), T(0x03, 0x28, -300),                          /* clamps to -128 */
  };
  const struct dev_hb_layout l = LAYOUT(tags, 1);
  W(w);
  dev_xiaomi_put_hb(&w, &l);
  expect_bytes(&w, "01FF42 15 0121C50B 64292DFB 6521FFFF 662BCD8B0100 032880",
               "heartbeat values rounded and clamped");
}

/* Whatever a peer sends, the decoder returns 0 or an error and never reads past the buffer
 * (ASan checks the reads: every frame lives in an exactly sized heap block). */
static void test_decoder_survives_noise(void **state) {
  (void)state;
  uint64_t x = 0x9E3779B97F4A7C15ull;
  static const uint8_t heads[][3] = {{0x18, 0x01, 0x0A}, {0x18, 0x01, 0x01}, {0x1C, 0x5F, 0x11},
                                     {0x18, 0x01, 0x04}, {0x18, 0x01, 0x07}, {0x18, 0x01, 0x0B}};
  static const uint16_t clusters[] = {0x0000, 0xFCC0, 0x0402};
  struct sim_zcl_attr out[32];
  struct sim_zcl_status st[8];
  for (int it = 0; it < 200000; it++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    size_t n = (size_t)(x % 48);
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    uint64_t y = x;
    for (size_t i = 0; i < n; i++) {
      y = y * 6364136223846793005ull + 1442695040888963407ull;
      uint8_t b = (uint8_t)(y >> 56);
      /* Bias towards the types and tags that matter, so the deep paths are reached. */
      if ((y >> 20) % 4 == 0)
        b = (uint8_t[]){0x42, 0x41, 0x4C, 0x22, 0x2A, 0x3A, 0x01, 0xFF}[(y >> 8) % 8];
      p[i] = b;
    }
    if (n >= 3 && it % 2)
      memcpy(p, heads[(x >> 32) % 6], 3);
    if (n >= 8 && it % 3 == 0) { /* a Xiaomi list record */
      p[0] = 0x18, p[3] = 0x01, p[4] = 0xFF, p[5] = 0x42;
      p[2] = 0x0A;
    }
    size_t top = 0, total = 0, ns = 0;
    int rc = sim_zcl_decode_attrs(clusters[it % 3], p, n, out, 32, &top, &total);
    assert_true(rc == 0 || rc == SIM_EMALFORMED || rc == SIM_EFULL);
    if (rc == 0)
      assert_true(top <= total && total <= 32);
    rc = sim_zcl_decode_status(p, n, st, 8, &ns);
    assert_true(rc == 0 || rc == SIM_EMALFORMED || rc == SIM_EFULL);
    free(p);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_numeric_types),
      cmocka_unit_test(test_integer_decoding),
      cmocka_unit_test(test_strings),
      cmocka_unit_test(test_type_names),
      cmocka_unit_test(test_headers_and_responses),
      cmocka_unit_test(test_hb_weather),
      cmocka_unit_test(test_hb_motion),
      cmocka_unit_test(test_hb_wleak_frame),
      cmocka_unit_test(test_hb_gas),
      cmocka_unit_test(test_hb_switch),
      cmocka_unit_test(test_hb_trv),
      cmocka_unit_test(test_hb_round_and_clamp),
      cmocka_unit_test(test_decoder_survives_noise),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
