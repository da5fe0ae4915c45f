/* The hub-side decoder (sim/wire/zcl.c): round trips through the device encoder, Xiaomi TLV
 * members, and malformed input: every prefix of valid frames, mutations and random bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "devices/xiaomi.h"
#include "devices/zcl_enc.h"
#include "sim/core/err.h"
#include "sim/core/rng.h"
#include "sim/wire/zcl.h"

#define CAP 64

static void test_header(void **state) {
  (void)state;
  struct sim_zcl_header h;
  const uint8_t std[] = {0x18, 0x07, 0x0A};
  assert_int_equal(sim_zcl_parse_header(std, 3, &h), 0);
  assert_int_equal(h.header_len, 3);
  assert_int_equal(h.tsn, 7);
  assert_int_equal(h.command, 0x0A);
  assert_int_equal(h.manufacturer_code, 0);
  const uint8_t mfr[] = {0x1C, 0x5F, 0x11, 0x09, 0x0A};
  assert_int_equal(sim_zcl_parse_header(mfr, 5, &h), 0);
  assert_int_equal(h.header_len, 5);
  assert_int_equal(h.manufacturer_code, 0x115F);
  assert_int_equal(h.tsn, 9);
  assert_int_equal(sim_zcl_parse_header(mfr, 4, &h), SIM_EMALFORMED);
  assert_int_equal(sim_zcl_parse_header(std, 2, &h), SIM_EMALFORMED);
  const uint8_t reserved[] = {0x1A, 0x01, 0x0A};
  assert_int_equal(sim_zcl_parse_header(reserved, 3, &h), SIM_EMALFORMED);
}

static void test_type_table(void **state) {
  (void)state;
  assert_int_equal(sim_zcl_type_size(0x10), 1);
  assert_int_equal(sim_zcl_type_size(0x25), 6);
  assert_int_equal(sim_zcl_type_size(0x2B), 4);
  assert_int_equal(sim_zcl_type_size(0x38), 2);
  assert_int_equal(sim_zcl_type_size(0x39), 4);
  assert_int_equal(sim_zcl_type_size(0x42), 0);
  assert_int_equal(sim_zcl_type_size(0x4C), 0);
  assert_int_equal(sim_zcl_type_size(0xF0), 8);
  assert_int_equal(sim_zcl_type_size(0x48), -1);
  assert_int_equal(sim_zcl_type_size(0xFF), -1);
  assert_int_equal(sim_zcl_type_kind(0x18), SIM_ZCL_KIND_UINT);
  assert_int_equal(sim_zcl_type_kind(0x29), SIM_ZCL_KIND_INT);
  assert_int_equal(sim_zcl_type_kind(0x41), SIM_ZCL_KIND_OCTETS);
  assert_int_equal(sim_zcl_type_kind(0x44), SIM_ZCL_KIND_STRING);
  assert_int_equal(sim_zcl_type_kind(0x4C), SIM_ZCL_KIND_STRUCT);
  assert_int_equal(sim_zcl_type_kind(0x3A), SIM_ZCL_KIND_FLOAT);
}

/* A report with one record of most types, built with the device encoder. Record ends are
 * written to ends[] (frame offsets) for the prefix test. */
static size_t build_mixed(uint8_t *buf, size_t cap, size_t *ends, size_t *n_ends) {
  struct dev_zcl_w w;
  size_t k = 0;
  dev_zcl_w_init(&w, buf, cap);
  dev_zcl_put_header(&w, 0, 42, 0x0A);
  ends[k++] = w.len;
  dev_zcl_attr_uint(&w, 0x0001, 0x10, 1);
  ends[k++] = w.len;
  dev_zcl_attr_uint(&w, 0x0002, 0x20, 200);
  ends[k++] = w.len;
  dev_zcl_attr_uint(&w, 0x0003, 0x22, 0xABCDEF);
  ends[k++] = w.len;
  dev_zcl_attr_uint(&w, 0x0004, 0x25, 0x0000123456789ABCull);
  ends[k++] = w.len;
  dev_zcl_attr_int(&w, 0x0005, 0x28, -5);
  ends[k++] = w.len;
  dev_zcl_attr_int(&w, 0x0006, 0x29, -2150);
  ends[k++] = w.len;
  dev_zcl_attr_int(&w, 0x0007, 0x2A, -70000);
  ends[k++] = w.len;
  dev_zcl_attr_int(&w, 0x0008, 0x2F, -3);
  ends[k++] = w.len;
  dev_zcl_attr_float(&w, 0x0009, 0x39, 17.5);
  ends[k++] = w.len;
  dev_zcl_attr_float(&w, 0x000A, 0x38, -2.0);
  ends[k++] = w.len;
  dev_zcl_attr_float(&w, 0x000B, 0x3A, 0.1);
  ends[k++] = w.len;
  dev_zcl_attr_cstr(&w, 0x000C, "LUMI");
  ends[k++] = w.len;
  dev_zcl_attr_str(&w, 0x000D, 0x41, "\x00\x01\x02", 3);
  ends[k++] = w.len;
  dev_zcl_attr_str(&w, 0x000E, 0x44, "long", 4);
  ends[k++] = w.len;
  dev_zcl_attr_uint(&w, 0x000F, 0x18, 0x81);
  ends[k++] = w.len;
  dev_zcl_attr_uint(&w, 0x0010, 0xF0, 0x00158D0001020304ull);
  ends[k++] = w.len;
  /* A struct of two elements: uint16 3000 and bool true (the Mija 0xFF02 style). */
  dev_zcl_put_le(&w, 0x0011, 2);
  dev_zcl_put_le(&w, 0x4C, 1);
  dev_zcl_put_le(&w, 2, 2);
  dev_zcl_put_le(&w, 0x21, 1);
  dev_zcl_put_le(&w, 3000, 2);
  dev_zcl_put_le(&w, 0x10, 1);
  dev_zcl_put_le(&w, 1, 1);
  ends[k++] = w.len;
  assert_int_equal(w.err, 0);
  *n_ends = k;
  return w.len;
}

static void test_round_trip_types(void **state) {
  (void)state;
  uint8_t buf[256];
  size_t ends[32], n_ends;
  size_t n = build_mixed(buf, sizeof buf, ends, &n_ends);
  struct sim_zcl_attr a[CAP];
  size_t top = 0, total = 0;
  assert_int_equal(sim_zcl_decode_attrs(0x0006, buf, n, a, CAP, &top, &total), 0);
  assert_int_equal(top, 17);
  assert_int_equal(total, 19); /* the struct's two elements */
  assert_int_equal(a[0].id, 1);
  assert_int_equal(a[0].kind, SIM_ZCL_KIND_BOOL);
  assert_true(a[0].v.b);
  assert_int_equal(a[1].v.u, 200);
  assert_int_equal(a[2].v.u, 0xABCDEF);
  assert_int_equal(a[3].v.u, 0x123456789ABCull);
  assert_int_equal(a[4].kind, SIM_ZCL_KIND_INT);
  assert_int_equal(a[4].v.i, -5);
  assert_int_equal(a[5].v.i, -2150);
  assert_int_equal(a[6].v.i, -70000);
  assert_int_equal(a[7].v.i, -3);
  assert_true(a[8].v.f == 17.5);
  assert_true(a[9].v.f == -2.0);
  assert_true(a[10].v.f == 0.1);
  assert_int_equal(a[11].kind, SIM_ZCL_KIND_STRING);
  assert_int_equal(a[11].len, 4);
  assert_memory_equal(a[11].data, "LUMI", 4);
  assert_int_equal(a[12].kind, SIM_ZCL_KIND_OCTETS);
  assert_int_equal(a[12].len, 3);
  assert_memory_equal(a[12].data, "\x00\x01\x02", 3);
  assert_int_equal(a[13].len, 4);
  assert_memory_equal(a[13].data, "long", 4);
  assert_int_equal(a[14].v.u, 0x81);
  assert_int_equal(a[15].v.u, 0x00158D0001020304ull);
  assert_int_equal(a[16].kind, SIM_ZCL_KIND_STRUCT);
  assert_int_equal(a[16].n_members, 2);
  assert_int_equal(a[16].first_member, 17);
  assert_int_equal(a[17].v.u, 3000);
  assert_true(a[18].v.b);
  /* Cap too small: SIM_EFULL, for top-level records and for members. */
  assert_int_equal(sim_zcl_decode_attrs(0x0006, buf, n, a, 10, &top, &total), SIM_EFULL);
  assert_int_equal(sim_zcl_decode_attrs(0x0006, buf, n, a, 18, &top, &total), SIM_EFULL);
}

static const struct sim_zcl_attr *member(const struct sim_zcl_attr *a, const struct sim_zcl_attr *p,
                                         uint16_t tag) {
  for (uint16_t i = 0; i < p->n_members; i++)
    if (a[p->first_member + i].id == tag)
      return &a[p->first_member + i];
  fail_msg("tag 0x%02x missing", tag);
  return NULL;
}

/* Heartbeat layouts as the catalogue's models send them (devices/catalog/), written out here so
 * that the encoder is tested on its own. */
static const struct dev_hb_tag ht_agl02_tags[] = {
    {0x01, 0x21, DEV_HB_BATTERY_MV, 0},  {0x03, 0x28, DEV_HB_DEVICE_TEMP, 0},
    {0x05, 0x21, DEV_HB_POWER_ON, 0},    {0x08, 0x21, DEV_HB_CONST, 25},
    {0x64, 0x29, DEV_HB_TEMP_C100, 0},   {0x65, 0x21, DEV_HB_HUMIDITY_100, 0},
    {0x66, 0x2B, DEV_HB_PRESSURE_PA, 0},
};
static const struct dev_hb_layout ht_agl02_hb = {0xFCC0, 0x00F7, 0x41, ht_agl02_tags, 7};
static const struct dev_hb_tag motion_aq2_tags[] = {
    {0x01, 0x21, DEV_HB_BATTERY_MV, 0}, {0x03, 0x28, DEV_HB_DEVICE_TEMP, 0},
    {0x04, 0x21, DEV_HB_CONST, 12712},  {0x05, 0x21, DEV_HB_POWER_ON, 0},
    {0x06, 0x24, DEV_HB_TRIGGERS, 0},   {0x0A, 0x21, DEV_HB_PARENT, 0},
    {0x64, 0x10, DEV_HB_OCCUPANCY, 0},  {0x0B, 0x21, DEV_HB_ILLUMINANCE, 0},
};
static const struct dev_hb_layout motion_aq2_hb = {0x0000, 0xFF01, 0x42, motion_aq2_tags, 8};

static size_t motion_join_frame(uint8_t *buf, size_t cap) {
  double v[DEV_HB_SRC_COUNT] = {0};
  v[DEV_HB_BATTERY_MV] = 2965;
  v[DEV_HB_DEVICE_TEMP] = 22;
  v[DEV_HB_POWER_ON] = 68;
  v[DEV_HB_TRIGGERS] = 1;
  v[DEV_HB_PARENT] = 48764;
  v[DEV_HB_ILLUMINANCE] = 9;
  struct dev_zcl_w w;
  dev_zcl_w_init(&w, buf, cap);
  dev_zcl_put_header(&w, DEV_LUMI_MFR_CODE, 3, 0x0A);
  dev_zcl_attr_cstr(&w, 0x0005, "lumi.sensor_motion.aq2");
  dev_xiaomi_put_hb(&w, &motion_aq2_hb, v);
  assert_int_equal(w.err, 0);
  return w.len;
}

static void test_xiaomi_members(void **state) {
  (void)state;
  uint8_t buf[128];
  size_t n = motion_join_frame(buf, sizeof buf);
  struct sim_zcl_attr a[CAP];
  size_t top, total;
  assert_int_equal(sim_zcl_decode_attrs(0x0000, buf, n, a, CAP, &top, &total), 0);
  assert_int_equal(top, 2);
  assert_int_equal(total, 10);
  assert_int_equal(a[0].id, 0x0005);
  assert_int_equal(a[0].len, 22);
  assert_int_equal(a[1].id, 0xFF01);
  assert_int_equal(a[1].n_members, 8);
  assert_int_equal(member(a, &a[1], 0x01)->v.u, 2965);
  assert_int_equal(member(a, &a[1], 0x03)->v.i, 22);
  assert_int_equal(member(a, &a[1], 0x04)->v.u, 12712);
  assert_int_equal(member(a, &a[1], 0x05)->v.u, 68);
  assert_int_equal(member(a, &a[1], 0x06)->v.u, 1);
  assert_int_equal(member(a, &a[1], 0x0A)->v.u, 48764);
  assert_false(member(a, &a[1], 0x64)->v.b);
  assert_int_equal(member(a, &a[1], 0x0B)->v.u, 9);
  /* The same attribute on another cluster is just a string. */
  assert_int_equal(sim_zcl_decode_attrs(0x0006, buf, n, a, CAP, &top, &total), 0);
  assert_int_equal(total, 2);
  assert_int_equal(a[1].n_members, 0);

  /* 0x00F7 on 0xFCC0: the T1 heartbeat with floats and int32. */
  double v[DEV_HB_SRC_COUNT] = {0};
  v[DEV_HB_BATTERY_MV] = 3012;
  v[DEV_HB_TEMP_C100] = -512;
  v[DEV_HB_HUMIDITY_100] = 4520;
  v[DEV_HB_PRESSURE_PA] = 98125;
  struct dev_zcl_w w;
  dev_zcl_w_init(&w, buf, sizeof buf);
  assert_int_equal(dev_xiaomi_hb_frame(&w, 1, &ht_agl02_hb, v), 0);
  assert_int_equal(sim_zcl_decode_attrs(0xFCC0, buf, w.len, a, CAP, &top, &total), 0);
  assert_int_equal(top, 1);
  assert_int_equal(a[0].n_members, 7);
  assert_int_equal(member(a, &a[0], 0x64)->v.i, -512);
  assert_int_equal(member(a, &a[0], 0x65)->v.u, 4520);
  assert_int_equal(member(a, &a[0], 0x66)->v.i, 98125);
  assert_int_equal(member(a, &a[0], 0x08)->v.u, 25);

  /* A stray trailing byte inside the list (seen on real devices) is tolerated. */
  const uint8_t quirk[] = {0x1C, 0x5F, 0x11, 0x01, 0x0A, 0x01, 0xFF,
                           0x42, 0x05, 0x01, 0x21, 0xD5, 0x0C, 0x00};
  assert_int_equal(sim_zcl_decode_attrs(0x0000, quirk, sizeof quirk, a, CAP, &top, &total), 0);
  assert_int_equal(total, 2);
  assert_int_equal(a[1].v.u, 3285);
  /* A truncated member is not. */
  const uint8_t bad[] = {0x1C, 0x5F, 0x11, 0x01, 0x0A, 0x01, 0xFF, 0x42, 0x03, 0x01, 0x21, 0xD5};
  assert_int_equal(sim_zcl_decode_attrs(0x0000, bad, sizeof bad, a, CAP, &top, &total),
                   SIM_EMALFORMED);
}

static void test_read_rsp_and_other_commands(void **state) {
  (void)state;
  /* Read Attributes Response: 0x0000 ok (bool 1), 0x0001 unsupported (0x86), 0x4000 ok. */
  const uint8_t rsp[] = {0x18, 0x05, 0x01, 0x00, 0x00, 0x00, 0x10, 0x01, 0x01,
                         0x00, 0x86, 0x00, 0x40, 0x00, 0x21, 0x34, 0x12};
  struct sim_zcl_attr a[CAP];
  size_t top, total;
  assert_int_equal(sim_zcl_decode_attrs(0x0006, rsp, sizeof rsp, a, CAP, &top, &total), 0);
  assert_int_equal(top, 2);
  assert_int_equal(a[0].id, 0x0000);
  assert_true(a[0].v.b);
  assert_int_equal(a[1].id, 0x4000);
  assert_int_equal(a[1].v.u, 0x1234);
  /* A cluster-specific command (toggle) and a default response decode to nothing. */
  const uint8_t toggle[] = {0x01, 0x05, 0x02};
  assert_int_equal(sim_zcl_decode_attrs(0x0006, toggle, 3, a, CAP, &top, &total), 0);
  assert_int_equal(total, 0);
  const uint8_t cs_report[] = {0x19, 0x05, 0x0A, 0x00, 0x00, 0x10, 0x01};
  assert_int_equal(sim_zcl_decode_attrs(0x0006, cs_report, sizeof cs_report, a, CAP, &top, &total),
                   0);
  assert_int_equal(total, 0);
  /* Unknown type in a report: the record cannot be skipped. */
  const uint8_t unk[] = {0x18, 0x05, 0x0A, 0x00, 0x00, 0xFE, 0x01};
  assert_int_equal(sim_zcl_decode_attrs(0x0006, unk, sizeof unk, a, CAP, &top, &total),
                   SIM_EMALFORMED);
}

/* Decodes p[0..n) from an exact-size heap copy, so that AddressSanitizer sees any read past
 * the end, and checks the output's invariants when it succeeds. */
static int decode_checked(uint16_t cluster, const uint8_t *p, size_t n) {
  uint8_t *copy = malloc(n ? n : 1);
  assert_non_null(copy);
  if (n)
    memcpy(copy, p, n);
  struct sim_zcl_attr a[CAP];
  size_t top = 999, total = 999;
  int rc = sim_zcl_decode_attrs(cluster, copy, n, a, CAP, &top, &total);
  assert_true(rc == 0 || rc == SIM_EMALFORMED || rc == SIM_EFULL);
  if (rc == 0) {
    assert_true(top <= total && total <= CAP);
    for (size_t i = 0; i < total; i++) {
      if (a[i].data) {
        assert_true(a[i].data >= copy && a[i].data + a[i].len <= copy + n);
      }
      if (i < top && a[i].n_members) {
        assert_true(a[i].first_member >= top);
        assert_true((size_t)a[i].first_member + a[i].n_members <= total);
      }
    }
  }
  free(copy);
  return rc;
}

/* Every prefix of a valid frame decodes successfully exactly when it ends between records. */
static void check_prefixes(uint16_t cluster, const uint8_t *buf, size_t n, const size_t *ends,
                           size_t n_ends) {
  for (size_t len = 0; len <= n; len++) {
    int at_end = 0;
    for (size_t i = 0; i < n_ends; i++)
      at_end |= ends[i] == len;
    int rc = decode_checked(cluster, buf, len);
    if (at_end)
      assert_int_equal(rc, 0);
    else
      assert_int_equal(rc, SIM_EMALFORMED);
  }
}

static void test_every_prefix(void **state) {
  (void)state;
  uint8_t buf[256];
  size_t ends[32], n_ends;
  size_t n = build_mixed(buf, sizeof buf, ends, &n_ends);
  check_prefixes(0x0006, buf, n, ends, n_ends);
  n = motion_join_frame(buf, sizeof buf);
  /* Header (5), modelId record (3 + 1 + 22), heartbeat record (whole frame). */
  size_t mends[] = {5, 31, n};
  check_prefixes(0x0000, buf, n, mends, 3);
}

static void test_garbage(void **state) {
  (void)state;
  struct sim_rng r;
  sim_rng_seed(&r, 12345, 0);
  uint8_t buf[96];
  int ok = 0, bad = 0;
  for (int i = 0; i < 20000; i++) {
    size_t n = sim_rng_below(&r, sizeof buf + 1);
    for (size_t j = 0; j < n; j++)
      buf[j] = (uint8_t)sim_rng_u32(&r);
    /* Half the time, make it look like a report so the record parser gets exercised. */
    if (n >= 3 && (i & 1)) {
      buf[0] = (i & 2) ? 0x18 : 0x1C;
      buf[(buf[0] & 0x04) && n >= 5 ? 4 : 2] = 0x0A;
    }
    uint16_t cluster = (i & 4) ? 0x0000 : 0xFCC0;
    *(decode_checked(cluster, buf, n) == 0 ? &ok : &bad) += 1;
  }
  assert_true(bad > 0);
  /* Mutations of a valid frame: one random byte changed, many times. */
  uint8_t frame[128];
  size_t fn = motion_join_frame(frame, sizeof frame);
  for (int i = 0; i < 20000; i++) {
    memcpy(buf, frame, fn);
    int flips = 1 + (int)sim_rng_below(&r, 3);
    for (int k = 0; k < flips; k++)
      buf[sim_rng_below(&r, (uint32_t)fn)] = (uint8_t)sim_rng_u32(&r);
    *(decode_checked(0x0000, buf, fn) == 0 ? &ok : &bad) += 1;
  }
  assert_true(ok > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_header),
      cmocka_unit_test(test_type_table),
      cmocka_unit_test(test_round_trip_types),
      cmocka_unit_test(test_xiaomi_members),
      cmocka_unit_test(test_read_rsp_and_other_commands),
      cmocka_unit_test(test_every_prefix),
      cmocka_unit_test(test_garbage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
