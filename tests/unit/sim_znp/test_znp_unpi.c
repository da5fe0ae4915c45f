/* UNPI framing (sim/znp/unpi.h): the frame check, encoding, a stream of frames read back
 * across every split into two and three pieces, and the two refusals (bad FCS, bad length),
 * each named and each followed by a resynchronised reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "sim/core/err.h"
#include "sim/znp/unpi.h"

/* SYS_PING SREQ and its SRSP (capabilities 0x0659), as TI's MT API document frames them. */
static const uint8_t ping_req[] = {0xFE, 0x00, 0x21, 0x01, 0x20};
static const uint8_t ping_rsp[] = {0xFE, 0x02, 0x61, 0x01, 0x59, 0x06, 0x3D};

static void test_fcs_and_encode(void **state) {
  (void)state;
  assert_int_equal(sim_znp_fcs(ping_rsp + 1, 5), 0x3D);
  struct sim_znp_frame f = {.type = SIM_ZNP_SRSP, .subsys = 1, .cmd = 1, .len = 2};
  f.data[0] = 0x59;
  f.data[1] = 0x06;
  uint8_t out[SIM_ZNP_MAX_FRAME];
  size_t n = 0;
  assert_int_equal(sim_znp_frame_encode(&f, out, sizeof out, &n), 0);
  assert_int_equal(n, sizeof ping_rsp);
  assert_memory_equal(out, ping_rsp, n);
  assert_int_equal(sim_znp_frame_encode(&f, out, 6, &n), SIM_ETOOBIG);
}

/* A stream: a boot-loader skip byte, a ping, the largest frame (250 data bytes), the answer. */
static size_t build_stream(uint8_t *s, struct sim_znp_frame *big) {
  size_t n = 0;
  s[n++] = 0xEF;
  memcpy(s + n, ping_req, sizeof ping_req);
  n += sizeof ping_req;
  *big = (struct sim_znp_frame){.type = SIM_ZNP_AREQ, .subsys = 4, .cmd = 0x81, .len = 250};
  for (int i = 0; i < 250; i++)
    big->data[i] = (uint8_t)(i * 7 + 0xFE); /* many SOF-looking bytes inside */
  size_t m = 0;
  assert_int_equal(sim_znp_frame_encode(big, s + n, SIM_ZNP_MAX_FRAME, &m), 0);
  n += m;
  memcpy(s + n, ping_rsp, sizeof ping_rsp);
  return n + sizeof ping_rsp;
}

/* Feeds the pieces [0,a) [a,b) [b,n) and checks the three frames, in order. */
static void read_split(const uint8_t *s, size_t n, size_t a, size_t b,
                       const struct sim_znp_frame *big) {
  struct sim_znp_reader r;
  sim_znp_reader_init(&r);
  struct sim_znp_frame got[4];
  int k = 0;
  size_t cuts[4] = {0, a, b, n};
  for (int piece = 0; piece < 3; piece++) {
    const uint8_t *p = s + cuts[piece];
    size_t len = cuts[piece + 1] - cuts[piece];
    for (int guard = 0; guard < 10; guard++) {
      assert_true(k < 4);
      int rc = sim_znp_reader_next(&r, &p, &len, &got[k], NULL);
      if (rc == SIM_EAGAIN)
        break;
      assert_int_equal(rc, 0);
      k++;
    }
    assert_int_equal(len, 0);
  }
  if (k != 3)
    fail_msg("split %zu/%zu: %d frames, want 3", a, b, k);
  assert_int_equal(got[0].type, SIM_ZNP_SREQ);
  assert_int_equal(got[0].subsys, 1);
  assert_int_equal(got[0].cmd, 1);
  assert_int_equal(got[0].len, 0);
  assert_int_equal(got[1].len, 250);
  assert_memory_equal(got[1].data, big->data, 250);
  assert_int_equal(got[2].type, SIM_ZNP_SRSP);
  assert_int_equal(got[2].data[0], 0x59);
  assert_int_equal(r.skipped, 1);
  assert_int_equal(r.frames, 3);
}

static void test_every_split(void **state) {
  (void)state;
  uint8_t s[400];
  struct sim_znp_frame big;
  size_t n = build_stream(s, &big);
  for (size_t a = 0; a <= n; a++)
    read_split(s, n, a, a, &big);
  /* Three pieces: every pair of cuts would be 70,000 runs; every 3rd cut keeps it quick while
   * still cutting inside each field of each frame. */
  for (size_t a = 0; a <= n; a++)
    for (size_t b = a; b <= n; b += (b < 20 || b > n - 20) ? 1 : 3)
      read_split(s, n, a, b, &big);
}

static void test_bad_fcs(void **state) {
  (void)state;
  uint8_t s[32];
  memcpy(s, ping_rsp, sizeof ping_rsp);
  s[6] ^= 0x01; /* the FCS */
  memcpy(s + 7, ping_req, sizeof ping_req);
  struct sim_znp_reader r;
  sim_znp_reader_init(&r);
  const uint8_t *p = s;
  size_t n = 12;
  struct sim_znp_frame f;
  const char *why = NULL;
  assert_int_equal(sim_znp_reader_next(&r, &p, &n, &f, &why), SIM_EMALFORMED);
  assert_non_null(why);
  assert_non_null(strstr(why, "bad FCS"));
  assert_int_equal(r.bad_fcs, 1);
  assert_int_equal(sim_znp_reader_next(&r, &p, &n, &f, &why), 0);
  assert_int_equal(f.cmd, 1);
  assert_int_equal(f.type, SIM_ZNP_SREQ);
  assert_int_equal(sim_znp_reader_next(&r, &p, &n, &f, &why), SIM_EAGAIN);
}

/* LEN 251 is refused at once (before any data arrives): the reader never waits for or keeps
 * bytes past the MT limit, and finds the frame after. */
static void test_bad_length(void **state) {
  (void)state;
  uint8_t s[16] = {0xFE, 0xFB, 0x21, 0x01};
  memcpy(s + 4, ping_req, sizeof ping_req);
  struct sim_znp_reader r;
  sim_znp_reader_init(&r);
  const uint8_t *p = s;
  size_t n = 9;
  struct sim_znp_frame f;
  const char *why = NULL;
  assert_int_equal(sim_znp_reader_next(&r, &p, &n, &f, &why), SIM_ETOOBIG);
  assert_non_null(strstr(why, "bad length"));
  assert_int_equal(n, 7); /* decided on the LEN byte */
  assert_int_equal(sim_znp_reader_next(&r, &p, &n, &f, &why), 0);
  assert_int_equal(f.subsys, 1);
  assert_int_equal(r.bad_len, 1);
  assert_int_equal(r.skipped, 3); /* the refused LEN, then 0x21 0x01 */
}

/* A refused frame may hide a good one inside it: a bad FCS over bytes that contain a whole
 * ping is dropped from its first SOF only, and the ping inside is read. */
static void test_frame_inside_refused_frame(void **state) {
  (void)state;
  uint8_t s[16] = {0xFE, 0x05, 0x21, 0x01};
  memcpy(s + 4, ping_req, sizeof ping_req);
  s[9] = 0x00; /* a wrong FCS for the outer frame of 5 data bytes */
  struct sim_znp_reader r;
  sim_znp_reader_init(&r);
  const uint8_t *p = s;
  size_t n = 10;
  struct sim_znp_frame f;
  assert_int_equal(sim_znp_reader_next(&r, &p, &n, &f, NULL), SIM_EMALFORMED);
  assert_int_equal(sim_znp_reader_next(&r, &p, &n, &f, NULL), 0);
  assert_int_equal(f.cmd, 1);
  assert_int_equal(f.len, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fcs_and_encode),
      cmocka_unit_test(test_every_split),
      cmocka_unit_test(test_bad_fcs),
      cmocka_unit_test(test_bad_length),
      cmocka_unit_test(test_frame_inside_refused_frame),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
