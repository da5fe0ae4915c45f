/* The decoders of sim/wire against hostile input: Attribute nesting beyond the limit of
 * docs/protocol.md 3.4 (which overflowed protobuf-c's recursive unpack), the nesting scan never
 * refusing what protobuf-c accepts, large flat frames, Error reasons that stay well-formed UTF-8
 * when they are cut, and the ZCL decoder's own nesting (structs, Xiaomi TLV lists) staying at
 * the one level it supports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "sim/core/err.h"
#include "sim/core/utf8.h"
#include "sim/wire/frame.h"
#include "sim/wire/hubrpc.h"
#include "sim/wire/zcl.h"
#include "support/wirebuild.h"

/* The body of the one frame in b. */
static void body_of(const struct sim_buf *b, const uint8_t **body, size_t *len) {
  size_t hdr;
  assert_int_equal(sim_frame_peek(b->data, b->len, SIM_FRAME_MAX, &hdr, len), 0);
  assert_int_equal(hdr + *len, b->len);
  *body = b->data + hdr;
}

static unsigned depth_of(const Hubrpc__V1__Attribute *a) {
  unsigned d = 1;
  while (a->n_members) {
    a = a->members[0];
    d++;
  }
  return d;
}

/* The frame of the crash: ~8,800 levels in ~30 KB. It is refused as malformed, not unpacked. */
static void test_deep_frame_refused(void **state) {
  (void)state;
  struct sim_buf b;
  sim_buf_init(&b);
  assert_int_equal(wb_deep_report(&b, 8800, 0, 0), 0);
  printf("8,800 levels: %zu bytes\n", b.len);
  assert_true(b.len > 25000 && b.len < 35000);
  const uint8_t *body;
  size_t len;
  body_of(&b, &body, &len);
  sim_envelope *env = NULL;
  assert_int_equal(sim_hubrpc_check_nesting(body, len), SIM_EMALFORMED);
  assert_int_equal(sim_hubrpc_decode(body, len, &env), SIM_EMALFORMED);
  assert_null(env);
  sim_buf_fini(&b);

  /* The same with every members key in a two-byte form, which protobuf-c reads as field 9. */
  sim_buf_init(&b);
  assert_int_equal(wb_deep_report(&b, 8800, 1, 0), 0);
  body_of(&b, &body, &len);
  assert_int_equal(sim_hubrpc_decode(body, len, &env), SIM_EMALFORMED);
  sim_buf_fini(&b);

  /* As deep as the frame limit allows. */
  unsigned deepest = 8800;
  while (wb_deep_report_size(deepest + 1000))
    deepest += 1000;
  sim_buf_init(&b);
  assert_int_equal(wb_deep_report(&b, deepest, 0, 0), 0);
  body_of(&b, &body, &len);
  printf("%u levels: %zu bytes\n", deepest, b.len);
  assert_int_equal(sim_hubrpc_decode(body, len, &env), SIM_EMALFORMED);
  sim_buf_fini(&b);
}

/* Levels 1 .. the limit decode (and the tree has that depth); one more is refused. */
static void test_depth_limit(void **state) {
  (void)state;
  for (unsigned d = 1; d <= SIM_HUBRPC_ATTR_DEPTH_MAX + 1; d++) {
    for (int long_keys = 0; long_keys < 2; long_keys++) {
      struct sim_buf b;
      sim_buf_init(&b);
      assert_int_equal(wb_deep_report(&b, d, long_keys, 0), 0);
      const uint8_t *body;
      size_t len;
      body_of(&b, &body, &len);
      sim_envelope *env = NULL;
      int rc = sim_hubrpc_decode(body, len, &env);
      if (d <= SIM_HUBRPC_ATTR_DEPTH_MAX) {
        assert_int_equal(rc, 0);
        assert_int_equal(env->body_case, HUBRPC__V1__ENVELOPE__BODY_REPORT);
        assert_int_equal(env->report->n_attributes, 1);
        assert_int_equal(depth_of(env->report->attributes[0]), d);
        sim_hubrpc_free(env);
      } else {
        assert_int_equal(rc, SIM_EMALFORMED);
      }
      sim_buf_fini(&b);
    }
  }
}

/* Nesting inside a field the receiver does not know is opaque bytes: never unpacked, so it is
 * no danger, and the Envelope simply has no known body. */
static void test_deep_in_unknown_field(void **state) {
  (void)state;
  struct sim_buf b;
  sim_buf_init(&b);
  assert_int_equal(wb_deep_unknown(&b, 8800), 0);
  const uint8_t *body;
  size_t len;
  body_of(&b, &body, &len);
  sim_envelope *env = NULL;
  assert_int_equal(sim_hubrpc_decode(body, len, &env), SIM_EUNKNOWN_MSG);
  sim_buf_fini(&b);
}

/* A valid Report with nested attributes (a Xiaomi TLV list: 2 levels, plus deeper ones up to the
 * limit), encoded with protobuf-c. */
static void encode_nested_report(struct sim_buf *b) {
  static Hubrpc__V1__Attribute at[SIM_HUBRPC_ATTR_DEPTH_MAX + 3];
  static Hubrpc__V1__Attribute *pat[SIM_HUBRPC_ATTR_DEPTH_MAX + 3];
  static const Hubrpc__V1__Attribute init = HUBRPC__V1__ATTRIBUTE__INIT;
  size_t n = SIM_HUBRPC_ATTR_DEPTH_MAX;
  for (size_t i = 0; i < n + 2; i++) {
    at[i] = init;
    at[i].id = (uint32_t)(0xFF01 + i);
    at[i].zcl_type = 0x21;
    at[i].value_case = HUBRPC__V1__ATTRIBUTE__VALUE_UINT_VALUE;
    at[i].uint_value = 1000 + i;
    pat[i] = &at[i];
  }
  for (size_t i = 0; i + 1 < n; i++) { /* a chain 0 -> 1 -> ... -> n-1: n levels */
    at[i].n_members = 1;
    at[i].members = &pat[i + 1];
  }
  Hubrpc__V1__Report r = HUBRPC__V1__REPORT__INIT;
  r.seq = 7;
  r.device = 0x00158d0001a2b3c4ull;
  r.cluster = 0;
  r.n_attributes = 3; /* the chain, and two flat ones */
  Hubrpc__V1__Attribute *top[3] = {pat[0], pat[n], pat[n + 1]};
  r.attributes = top;
  static const uint8_t zcl[] = {0x18, 0x01, 0x0A, 0x01, 0xFF, 0x42, 0x00};
  r.zcl_frame.data = (uint8_t *)zcl;
  r.zcl_frame.len = sizeof(zcl);
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_REPORT;
  env.report = &r;
  assert_int_equal(sim_hubrpc_encode(b, &env), 0);
}

/* The scan refuses nothing that protobuf-c accepts: for every truncation and many byte
 * mutations of a valid nested Report (all within the depth limit, so unpacking is safe), a body
 * the scan calls malformed is one protobuf-c fails to unpack too. */
static void test_scan_agrees_with_protobuf_c(void **state) {
  (void)state;
  struct sim_buf b;
  sim_buf_init(&b);
  encode_nested_report(&b);
  const uint8_t *body;
  size_t len;
  body_of(&b, &body, &len);
  sim_envelope *env = NULL;
  assert_int_equal(sim_hubrpc_decode(body, len, &env), 0);
  sim_hubrpc_free(env);
  uint8_t *m = malloc(len);
  size_t refused = 0, checked = 0;
  for (size_t cut = 0; cut <= len; cut++) {
    int scan = sim_hubrpc_check_nesting(body, cut);
    sim_envelope *e = hubrpc__v1__envelope__unpack(NULL, cut, body);
    if (scan) {
      refused++;
      assert_null(e);
    }
    if (e)
      hubrpc__v1__envelope__free_unpacked(e, NULL);
    checked++;
  }
  static const uint8_t vals[] = {0x00, 0x01, 0x08, 0x0A, 0x2A, 0x32, 0x4A, 0x7F, 0x80, 0xCA, 0xFF};
  for (size_t i = 0; i < len; i++) {
    for (size_t v = 0; v < sizeof(vals); v++) {
      memcpy(m, body, len);
      m[i] = vals[v];
      int scan = sim_hubrpc_check_nesting(m, len);
      sim_envelope *e = hubrpc__v1__envelope__unpack(NULL, len, m);
      if (scan) {
        refused++;
        if (e)
          fail_msg("byte %zu = 0x%02x: the scan refuses a body protobuf-c accepts", i, vals[v]);
      }
      if (e)
        hubrpc__v1__envelope__free_unpacked(e, NULL);
      checked++;
    }
  }
  printf("%zu bodies checked, %zu refused by the scan (all refused by protobuf-c too)\n", checked,
         refused);
  assert_true(refused > 0);
  free(m);
  sim_buf_fini(&b);
}

/* 10,000 Attributes side by side are flat, not deep: they decode. */
static void test_many_attributes(void **state) {
  (void)state;
  enum { N = 10000 };
  Hubrpc__V1__Attribute *a = calloc(N, sizeof(*a));
  Hubrpc__V1__Attribute **pa = calloc(N, sizeof(*pa));
  static const Hubrpc__V1__Attribute init = HUBRPC__V1__ATTRIBUTE__INIT;
  for (size_t i = 0; i < N; i++) {
    a[i] = init;
    a[i].id = (uint32_t)i;
    pa[i] = &a[i];
  }
  Hubrpc__V1__Report r = HUBRPC__V1__REPORT__INIT;
  r.seq = 1;
  r.n_attributes = N;
  r.attributes = pa;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_REPORT;
  env.report = &r;
  struct sim_buf b;
  sim_buf_init(&b);
  assert_int_equal(sim_hubrpc_encode(&b, &env), 0);
  const uint8_t *body;
  size_t len;
  body_of(&b, &body, &len);
  sim_envelope *out = NULL;
  assert_int_equal(sim_hubrpc_decode(body, len, &out), 0);
  assert_int_equal(out->report->n_attributes, N);
  assert_int_equal(out->report->attributes[N - 1]->id, N - 1);
  sim_hubrpc_free(out);
  sim_buf_fini(&b);
  free(a);
  free(pa);
}

static const char *reason_of(const struct sim_buf *b, sim_envelope **env) {
  const uint8_t *body;
  size_t len;
  body_of(b, &body, &len);
  assert_int_equal(sim_hubrpc_decode(body, len, env), 0);
  assert_int_equal((*env)->body_case, HUBRPC__V1__ENVELOPE__BODY_ERROR);
  return (*env)->error->reason;
}

static int utf8_ok(const char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    size_t l = sim_utf8_seq((const uint8_t *)s + i, n - i);
    if (!l)
      return 0;
    i += l;
  }
  return 1;
}

/* A reason longer than 256 bytes is cut on a character boundary, and bytes that are not UTF-8
 * are replaced: the Error frame stays parseable by runtimes that check UTF-8. */
static void test_error_reason_utf8(void **state) {
  (void)state;
  char long3[400] = "";
  for (int i = 0; i < 100; i++)
    strcat(long3, "\xE2\x82\xAC"); /* 300 bytes of U+20AC; 256 falls inside the 86th */
  struct sim_buf b;
  sim_buf_init(&b);
  assert_int_equal(sim_hubrpc_put_error(&b, HUBRPC__V1__ERROR_CODE__ERROR_UNSPECIFIED, long3), 0);
  sim_envelope *env = NULL;
  const char *r = reason_of(&b, &env);
  assert_int_equal(strlen(r), 255);
  assert_true(utf8_ok(r));
  sim_hubrpc_free(env);

  b.len = 0;
  char ascii[300];
  memset(ascii, 'x', sizeof(ascii) - 1);
  ascii[sizeof(ascii) - 1] = '\0';
  assert_int_equal(sim_hubrpc_put_error(&b, HUBRPC__V1__ERROR_CODE__ERROR_UNSPECIFIED, ascii), 0);
  r = reason_of(&b, &env);
  assert_int_equal(strlen(r), SIM_HUBRPC_REASON_MAX);
  sim_hubrpc_free(env);

  b.len = 0;
  assert_int_equal(sim_hubrpc_put_error(&b, HUBRPC__V1__ERROR_CODE__ERROR_UNSPECIFIED,
                                        "bad \xFF\xC0\x80 byte \xED\xA0\x80 \xF0\x9F\x98\x80"),
                   0);
  r = reason_of(&b, &env);
  assert_string_equal(r, "bad ??? byte ??? \xF0\x9F\x98\x80");
  sim_hubrpc_free(env);
  sim_buf_fini(&b);
}

static void test_utf8_seq(void **state) {
  (void)state;
  static const struct {
    const char *s;
    size_t want;
  } cases[] = {
      {"a", 1},
      {"\xC3\xA9", 2},
      {"\xE2\x82\xAC", 3},
      {"\xF0\x9F\x98\x80", 4},
      {"\x80", 0},
      {"\xC0\xAF", 0},
      {"\xE0\x80\xAF", 0},
      {"\xED\xA0\x80", 0},
      {"\xF4\x90\x80\x80", 0},
      {"\xE2\x82", 0},
      {"\xEF\xBF\xBF", 3},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    assert_int_equal(sim_utf8_seq((const uint8_t *)cases[i].s, strlen(cases[i].s)), cases[i].want);
  char out[4];
  assert_int_equal(sim_utf8_copy(out, sizeof(out), "ab\xE2\x82\xAC"), 2); /* no half euro */
  assert_string_equal(out, "ab");
  assert_int_equal(sim_utf8_copy(out, 1, "abc"), 0);
  assert_int_equal(sim_utf8_copy(out, sizeof(out), NULL), 0);
}

/* The ZCL decoder recurses once at most: a struct's elements, a TLV list's entries. A struct in
 * a struct, or in a TLV list, is refused rather than followed. */
static void test_zcl_nesting_bounded(void **state) {
  (void)state;
  struct sim_zcl_attr out[32];
  size_t top, total;
  /* Report Attributes: attr 0x0001, struct of 1 element, the element a struct of 1 uint8. */
  static const uint8_t nested[] = {0x18, 0x01, 0x0A, 0x01, 0x00, 0x4C, 0x01,
                                   0x00, 0x4C, 0x01, 0x00, 0x20, 0x05};
  assert_int_equal(sim_zcl_decode_attrs(0x0006, nested, sizeof(nested), out, 32, &top, &total),
                   SIM_EMALFORMED);
  /* One level is fine: attr 0x0001, struct of 2 elements (uint8 5, bool 1). */
  static const uint8_t flat[] = {0x18, 0x01, 0x0A, 0x01, 0x00, 0x4C,
                                 0x02, 0x00, 0x20, 0x05, 0x10, 0x01};
  assert_int_equal(sim_zcl_decode_attrs(0x0006, flat, sizeof(flat), out, 32, &top, &total), 0);
  assert_int_equal(top, 1);
  assert_int_equal(out[0].n_members, 2);
  /* A Xiaomi TLV list (0xFF01, char string) whose entry claims to be a struct. */
  static const uint8_t tlv[] = {0x18, 0x01, 0x0A, 0x01, 0xFF, 0x42, 0x06,
                                0x01, 0x4C, 0x01, 0x00, 0x20, 0x05};
  assert_int_equal(sim_zcl_decode_attrs(0x0000, tlv, sizeof(tlv), out, 32, &top, &total),
                   SIM_EMALFORMED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_deep_frame_refused),
      cmocka_unit_test(test_depth_limit),
      cmocka_unit_test(test_deep_in_unknown_field),
      cmocka_unit_test(test_scan_agrees_with_protobuf_c),
      cmocka_unit_test(test_many_attributes),
      cmocka_unit_test(test_error_reason_utf8),
      cmocka_unit_test(test_utf8_seq),
      cmocka_unit_test(test_zcl_nesting_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
