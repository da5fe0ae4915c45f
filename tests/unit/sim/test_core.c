/* sim/core and sim/wire basics: histogram accuracy and merge, framing limits, codec errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "sim/core/err.h"
#include "sim/core/hist.h"
#include "sim/wire/frame.h"
#include "sim/wire/hubrpc.h"

static void test_hist(void **state) {
  (void)state;
  static struct sim_hist a, b;
  sim_hist_init(&a);
  sim_hist_init(&b);
  for (uint64_t v = 1; v <= 100000; v++)
    sim_hist_record(v % 2 ? &a : &b, v);
  sim_hist_merge(&a, &b);
  assert_int_equal(a.count, 100000);
  assert_int_equal(a.min, 1);
  assert_int_equal(a.max, 100000);
  uint64_t p50 = sim_hist_quantile(&a, 0.5), p99 = sim_hist_quantile(&a, 0.99);
  assert_true(p50 >= 50000 && p50 <= 50000 * 1.01);
  assert_true(p99 >= 99000 && p99 <= 99000 * 1.01);
  assert_int_equal(sim_hist_quantile(&a, 1.0), 100000);
}

/* Counts past 2^32 in one bucket: a day of 100,000 hubs records tens of billions of tick lags,
 * nearly all of them 0. Recording that many takes minutes, so the counts are set as a merge of
 * long runs would leave them. */
static void test_hist_wide(void **state) {
  (void)state;
  static struct sim_hist a, b;
  sim_hist_init(&a);
  sim_hist_record(&a, 5);
  sim_hist_record(&a, 900);
  int five = -1;
  for (int i = 0; i < (int)SIM_HIST_BUCKETS && five < 0; i++)
    if (a.buckets[i])
      five = i;
  assert_true(five >= 0);
  const uint64_t big = 3000000000u;
  a.buckets[five] = big;
  a.count = big + 1;
  b = a;
  sim_hist_merge(&a, &b);
  assert_int_equal(a.count, 2 * big + 2);
  assert_int_equal(a.buckets[five], 2 * big);
  assert_int_equal(sim_hist_count_le(&a, 5), 2 * big);
  assert_int_equal(sim_hist_quantile(&a, 0.5), 5);
  assert_int_equal(sim_hist_quantile(&a, 1.0), 900);
  static struct sim_hist d;
  sim_hist_diff(&a, &b, &d);
  assert_int_equal(d.count, big + 1);
  assert_int_equal(d.buckets[five], big);
}

static int count_cb(void *arg, const uint8_t *body, size_t len) {
  size_t *n = arg;
  (void)body;
  *n += len + 1000;
  return 0;
}

static void test_frame_reader(void **state) {
  (void)state;
  uint8_t hdr[5];
  assert_int_equal(sim_frame_put_len(hdr, 300), 2);
  assert_int_equal(hdr[0], 0xAC);
  assert_int_equal(hdr[1], 0x02);
  size_t h, body;
  uint8_t big[] = {0x81, 0x80, 0x04}; /* 65537 */
  assert_int_equal(sim_frame_peek(big, 3, SIM_FRAME_MAX, &h, &body), SIM_ETOOBIG);
  uint8_t six[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
  assert_int_equal(sim_frame_peek(six, 6, SIM_FRAME_MAX, &h, &body), SIM_EMALFORMED);
  assert_int_equal(sim_frame_peek(six, 3, SIM_FRAME_MAX, &h, &body), SIM_EAGAIN);
  /* Two frames fed a byte at a time come out whole. */
  uint8_t stream[] = {3, 'a', 'b', 'c', 0, 2, 'x', 'y'};
  struct sim_frame_reader r;
  sim_frame_reader_init(&r, SIM_FRAME_MAX);
  size_t n = 0;
  for (size_t i = 0; i < sizeof(stream); i++)
    assert_int_equal(sim_frame_reader_feed(&r, stream + i, 1, count_cb, &n), 0);
  assert_int_equal(n, 3 + 0 + 2 + 3000);
  sim_frame_reader_fini(&r);
}

static void test_codec(void **state) {
  (void)state;
  struct sim_buf b;
  sim_buf_init(&b);
  Hubrpc__V1__Ack ack = HUBRPC__V1__ACK__INIT;
  ack.up_to_seq = 300;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_ACK;
  env.ack = &ack;
  assert_int_equal(sim_hubrpc_encode(&b, &env), 0);
  /* len 5 | field 7 len-delimited (0x3A) len 3 | field 1 varint (0x08) 300 = AC 02 */
  const uint8_t want[] = {0x05, 0x3A, 0x03, 0x08, 0xAC, 0x02};
  assert_int_equal(b.len, sizeof(want));
  assert_memory_equal(b.data, want, sizeof(want));
  sim_envelope *out = NULL;
  assert_int_equal(sim_hubrpc_decode(b.data + 1, b.len - 1, &out), 0);
  assert_int_equal(out->body_case, HUBRPC__V1__ENVELOPE__BODY_ACK);
  assert_int_equal(out->ack->up_to_seq, 300);
  sim_hubrpc_free(out);
  const uint8_t unknown[] = {0xA2, 0x06, 0x00}; /* field 100, empty */
  assert_int_equal(sim_hubrpc_decode(unknown, sizeof(unknown), &out), SIM_EUNKNOWN_MSG);
  assert_int_equal(sim_hubrpc_decode(unknown, 0, &out), SIM_EUNKNOWN_MSG);
  const uint8_t garbage[] = {0xFF, 0xFF, 0xFF, 0xFF};
  assert_int_equal(sim_hubrpc_decode(garbage, sizeof(garbage), &out), SIM_EMALFORMED);
  sim_buf_fini(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hist),
      cmocka_unit_test(test_hist_wide),
      cmocka_unit_test(test_frame_reader),
      cmocka_unit_test(test_codec),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
