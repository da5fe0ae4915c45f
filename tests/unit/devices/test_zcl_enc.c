/* The ZCL encoder and the Xiaomi heartbeat builder, byte for byte. Values go through
 * dev_zcl_put_num(), the one entry point the models use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "devices/xiaomi.h"
#include "devices/zcl_enc.h"
#include "sim/core/err.h"
#include "sim/core/hex.h"

/* Parses "0A FF ..." or "0aff..." into out; returns the byte count. */
static size_t unhex(const char *s, uint8_t *out, size_t cap) {
  size_t n = 0;
  assert_int_equal(sim_hex_decode(s, strlen(s), SIM_HEX_SPACED, out, cap, &n), 0);
  return n;
}

static void expect_bytes(const struct dev_zcl_w *w, const char *hex) {
  uint8_t want[512];
  size_t n = unhex(hex, want, sizeof want);
  assert_int_equal(w->err, 0);
  if (w->len != n || memcmp(w->p, want, n) != 0) {
    fprintf(stderr, "got:  ");
    for (size_t i = 0; i < w->len; i++)
      fprintf(stderr, "%02X", w->p[i]);
    fprintf(stderr, "\nwant: %s\n", hex);
  }
  assert_int_equal(w->len, n);
  assert_memory_equal(w->p, want, n);
}

#define W(name)                                                                                    \
  uint8_t name##_buf[256];                                                                         \
  struct dev_zcl_w name;                                                                           \
  dev_zcl_w_init(&name, name##_buf, sizeof name##_buf)

/* An attribute record (id, type, value) as a model writes one. */
static void attr(struct dev_zcl_w *w, uint16_t id, uint8_t type, double v) {
  dev_zcl_put_le(w, id, 2);
  dev_zcl_put_le(w, type, 1);
  dev_zcl_put_num(w, type, v);
}

/* A whole heartbeat frame: 1C 5F 11 tsn 0A, then the record. 0 or the writer's error. */
static int hb_frame(struct dev_zcl_w *w, uint8_t tsn, const struct dev_hb_layout *l) {
  dev_zcl_put_header(w, DEV_LUMI_MFR_CODE, tsn, 0x0A);
  dev_xiaomi_put_hb(w, l);
  return w->err;
}

static void test_integer_types(void **state) {
  (void)state;
  struct {
    uint8_t type;
    uint64_t u;
    const char *hex;
  } uc[] = {
      {0x20, 0xAB, "AB"},
      {0x21, 0x1234, "3412"},
      {0x22, 0x123456, "563412"},
      {0x23, 0x12345678, "78563412"},
      {0x24, 1, "0100000000"},
      {0x25, 0x010203040506ull, "060504030201"},
      {0x27, 0x0102030405060700ull, "0007060504030201"} /* exact as a double */,
      {0x10, 1, "01"},
      {0x18, 0x81, "81"},
      {0x19, 0xBEEF, "EFBE"},
      {0x30, 7, "07"},
      {0x31, 0x0102, "0201"},
      {0x08, 0x5A, "5A"},
      {0xE8, 0x0402, "0204"},
      {0xF0, 0x00158D0001020304ull, "04030201008D1500"},
      {0x20, 0x1FF, "FF"}, /* clamped to the type's range */
  };
  for (size_t i = 0; i < sizeof uc / sizeof uc[0]; i++) {
    W(w);
    dev_zcl_put_num(&w, uc[i].type, (double)uc[i].u);
    expect_bytes(&w, uc[i].hex);
  }
  struct {
    uint8_t type;
    int64_t i;
    const char *hex;
  } ic[] = {
      {0x28, -1, "FF"},           {0x28, 33, "21"},
      {0x29, -2, "FEFF"},         {0x29, 2150, "6608"},
      {0x2A, -1, "FFFFFF"},       {0x2B, -100000, "6079FEFF"},
      {0x2B, 101325, "CD8B0100"}, {0x2F, -2, "FEFFFFFFFFFFFFFF"},
  };
  for (size_t i = 0; i < sizeof ic / sizeof ic[0]; i++) {
    W(w);
    dev_zcl_put_num(&w, ic[i].type, (double)ic[i].i);
    expect_bytes(&w, ic[i].hex);
  }
}

static void test_float_and_string_types(void **state) {
  (void)state;
  struct {
    uint8_t type;
    double f;
    const char *hex;
  } fc[] = {
      {0x39, 1.0, "0000803F"},  {0x39, 17.5, "00008C41"},
      {0x39, -2.0, "000000C0"}, {0x38, 1.0, "003C"},
      {0x38, -2.0, "00C0"},     {0x38, 65504.0, "FF7B"},
      {0x38, 0.5, "0038"},      {0x38, 1e9, "007C"},
      {0x38, 0.0, "0000"},      {0x3A, 1.0, "000000000000F03F"},
  };
  for (size_t i = 0; i < sizeof fc / sizeof fc[0]; i++) {
    W(w);
    dev_zcl_put_num(&w, fc[i].type, fc[i].f);
    expect_bytes(&w, fc[i].hex);
  }
  W(s1);
  dev_zcl_put_str(&s1, 0x42, "abc", 3);
  expect_bytes(&s1, "03616263");
  W(s2);
  dev_zcl_put_str(&s2, 0x41, "\x01\x02", 2);
  expect_bytes(&s2, "020102");
  W(s3);
  dev_zcl_put_str(&s3, 0x44, "ab", 2);
  expect_bytes(&s3, "02006162");
  W(s4);
  dev_zcl_put_str(&s4, 0x42, "", 0);
  expect_bytes(&s4, "00");
}

static void test_num_rounds_and_clamps(void **state) {
  (void)state;
  W(w);
  dev_zcl_put_num(&w, 0x20, 300);  /* clamp to 255 */
  dev_zcl_put_num(&w, 0x20, -5);   /* clamp to 0 */
  dev_zcl_put_num(&w, 0x28, -200); /* clamp to -128 */
  dev_zcl_put_num(&w, 0x21, 2.6);  /* round */
  dev_zcl_put_num(&w, 0x29, -2150.4);
  dev_zcl_put_num(&w, 0x10, 5); /* bool */
  dev_zcl_put_num(&w, 0x39, 0.25);
  expect_bytes(&w, "FF 00 80 0300 9AF7 01 0000803E");
}

static void test_records_and_headers(void **state) {
  (void)state;
  W(w);
  dev_zcl_put_header(&w, 0, 5, 0x0A);
  attr(&w, 0x0000, 0x29, 2150);
  expect_bytes(&w, "18 05 0A 0000 29 6608");
  W(m);
  dev_zcl_put_header(&m, DEV_LUMI_MFR_CODE, 0x03, 0x0A);
  dev_zcl_attr_cstr(&m, 0x0005, "lumi.sensor_wleak.aq1");
  expect_bytes(&m, "1C 5F11 03 0A 0500 42 15 6C756D692E73656E736F725F776C65616B2E617131");
  W(u);
  attr(&u, 0x0000, 0x25, 123456);
  attr(&u, 0x0055, 0x39, 1.0);
  attr(&u, 0x050B, 0x29, 99.6);
  expect_bytes(&u, "0000 25 40E201000000 5500 39 0000803F 0B05 29 6400");
}

static void test_writer_errors(void **state) {
  (void)state;
  uint8_t buf[3];
  struct dev_zcl_w w;
  dev_zcl_w_init(&w, buf, sizeof buf);
  dev_zcl_put_num(&w, 0x21, 1);
  assert_int_equal(w.err, 0);
  dev_zcl_put_num(&w, 0x21, 1); /* does not fit */
  assert_int_equal(dev_zcl_w_err(&w), SIM_EFULL);
  assert_int_equal(w.len, 2);
  dev_zcl_put_num(&w, 0x20, 1); /* sticky: would fit, still refused */
  assert_int_equal(w.len, 2);

  W(t);
  dev_zcl_put_num(&t, 0x42, 1); /* not a numeric type */
  assert_int_equal(t.err, SIM_EINVAL);
  W(t2);
  dev_zcl_put_num(&t2, 0x48, 1); /* array: unknown to the encoder */
  assert_int_equal(t2.err, SIM_EINVAL);
  W(t3);
  char big[300] = {0};
  dev_zcl_put_str(&t3, 0x42, big, 255);
  assert_int_equal(t3.err, SIM_EINVAL);
}

/* Heartbeat layouts as the catalogue's models send them (devices/catalog/), with values, written
 * out here so that the encoder is tested on its own. */

/* The T1 heartbeat: 1C 5F 11 tsn 0A, F7 00 41 len, tags 01 03 05 08 64 65 66. */
static void test_t1_heartbeat_bytes(void **state) {
  (void)state;
  static const struct dev_hb_tag tags[] = {
      {0x01, 0x21, 3012}, {0x03, 0x28, 22},   {0x05, 0x21, 1},      {0x08, 0x21, 25},
      {0x64, 0x29, 2150}, {0x65, 0x21, 4520}, {0x66, 0x2B, 101325},
  };
  static const struct dev_hb_layout hb = {0xFCC0, 0x00F7, 0x41, tags, 7};
  W(w);
  assert_int_equal(hb_frame(&w, 7, &hb), 0);
  expect_bytes(&w, "1C 5F11 07 0A  F700 41 1D"
                   " 01 21 C40B  03 28 16  05 21 0100  08 21 1900"
                   " 64 29 6608  65 21 A811  66 2B CD8B0100");
}

/* The plug heartbeat carries floats: 17.5 kWh, 230.0 V (as 2300 x 0.1 V), 43 mA, 10 W. */
static void test_plug_heartbeat_bytes(void **state) {
  (void)state;
  static const struct dev_hb_tag tags[] = {
      {0x03, 0x28, 30},   {0x05, 0x21, 2},    {0x08, 0x21, 30}, {0x64, 0x10, 1},
      {0x95, 0x39, 17.5}, {0x96, 0x39, 2300}, {0x97, 0x39, 43}, {0x98, 0x39, 10},
  };
  static const struct dev_hb_layout hb = {0xFCC0, 0x00F7, 0x41, tags, 8};
  W(w);
  assert_int_equal(hb_frame(&w, 0, &hb), 0);
  expect_bytes(&w, "1C 5F11 00 0A  F700 41 26"
                   " 03 28 1E  05 21 0200  08 21 1E00  64 10 01"
                   " 95 39 00008C41  96 39 00C00F45  97 39 00002C42  98 39 00002041");
}

/* The legacy join report of lumi.sensor_motion.aq2: the attribute records of the real frame in
 * aqara-zigbee.json (example_hex, from ZHA's tests) must come out byte for byte from the
 * model's own heartbeat layout, given the values decoded from it. */
static void test_motion_example_hex(void **state) {
  (void)state;
  const char *example = "050042166C756D692E73656E736F725F6D6F74696F6E2E61713201FF42210121950B03"
                        "28160421A83105214400062401000000000A217CBE6410000B210900";
  static const struct dev_hb_tag tags[] = {
      {0x01, 0x21, 2965}, {0x03, 0x28, 22},    {0x04, 0x21, 12712}, {0x05, 0x21, 68},
      {0x06, 0x24, 1},    {0x0A, 0x21, 48764}, {0x64, 0x10, 0},     {0x0B, 0x21, 9},
  };
  static const struct dev_hb_layout hb = {0x0000, 0xFF01, 0x42, tags, 8};
  W(w);
  dev_zcl_attr_cstr(&w, 0x0005, "lumi.sensor_motion.aq2");
  dev_xiaomi_put_hb(&w, &hb);
  expect_bytes(&w, example);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_integer_types),         cmocka_unit_test(test_float_and_string_types),
      cmocka_unit_test(test_num_rounds_and_clamps), cmocka_unit_test(test_records_and_headers),
      cmocka_unit_test(test_writer_errors),         cmocka_unit_test(test_t1_heartbeat_bytes),
      cmocka_unit_test(test_plug_heartbeat_bytes),  cmocka_unit_test(test_motion_example_hex),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
