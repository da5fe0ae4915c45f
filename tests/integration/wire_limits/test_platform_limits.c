/* The reference platform (`hubsim platform`, a child process) at the limits of hubrpc: a raw
 * client sends what a hostile hub would, before and after authenticating, and the platform
 * answers with the documented Error and closes, keeps serving a correct hub, and exits 0 when
 * told to stop (a crash would show as a signal).
 *
 * The deep frame is the one that overflowed protobuf-c's recursive unpack: 8,800 levels of
 * Attribute.members in 30 KB, sent before any authentication. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "sim/core/err.h"
#include "sim/wire/frame.h"
#include "sim/wire/hubrpc.h"
#include "support/hubclient.h"
#include "support/platproc.h"
#include "support/wirebuild.h"

static const char key[] = "hubsim-demo-fleet-key";
static struct platproc P;
static char db[256];

static int setup(void **state) {
  (void)state;
  const char *tmp = getenv("TMPDIR");
  snprintf(db, sizeof(db), "%s/hubsim-test-limits-%d.db", tmp && *tmp ? tmp : "/tmp",
           (int)getpid());
  unlink(db);
  const char *extra[] = {"--commit-ms", "2", NULL};
  return platproc_start(&P, db, 0, extra) != 0;
}

static int teardown(void **state) {
  (void)state;
  int st = platproc_stop(&P);
  printf("hubsim platform exited with %d\n", st);
  char side[300];
  unlink(db);
  snprintf(side, sizeof(side), "%s-wal", db);
  unlink(side);
  snprintf(side, sizeof(side), "%s-shm", db);
  unlink(side);
  snprintf(side, sizeof(side), "%s.log", db);
  unlink(side);
  snprintf(side, sizeof(side), "%s.ready", db);
  unlink(side);
  return st != 0; /* 128 + signal after a crash */
}

/* A correct hub still gets a whole session: handshake, a Report, its Ack. */
static void correct_hub_served(const char *hub_id) {
  struct hubclient c;
  assert_int_equal(hubclient_connect(&c, P.port, NULL), 0);
  assert_int_equal(hubclient_handshake(&c, hub_id, key, sizeof(key) - 1, 42, 5000), 0);
  assert_int_equal(hubclient_report(&c, 0, 0x00158d0000000001ull, 0x0402, 2150), 0);
  uint64_t got = 0;
  assert_int_equal(hubclient_wait_ack(&c, c.next_seq - 1, 5000, &got), 0);
  hubclient_close(&c);
}

/* Sends frame, expects Error{code} and the close. */
static void refused(struct hubclient *c, const struct sim_buf *frame, int code) {
  assert_int_equal(hubclient_send_raw(c, frame->data, frame->len), 0);
  assert_int_equal(hubclient_expect_error(c, 5000), code);
  assert_int_equal(hubclient_wait_closed(c, 5000), 0);
}

static void test_deep_frame_before_auth(void **state) {
  (void)state;
  struct sim_buf b;
  sim_buf_init(&b);
  assert_int_equal(wb_deep_report(&b, 8800, 0, 0), 0);
  printf("deep frame: 8,800 levels, %zu bytes\n", b.len);
  struct hubclient c;
  assert_int_equal(hubclient_connect(&c, P.port, NULL), 0);
  refused(&c, &b, HUBRPC__V1__ERROR_CODE__ERROR_MALFORMED_FRAME);
  hubclient_close(&c);
  sim_buf_fini(&b);
  correct_hub_served("lim-000001");
}

static void test_deep_frame_after_auth(void **state) {
  (void)state;
  struct sim_buf b;
  sim_buf_init(&b);
  assert_int_equal(wb_deep_report(&b, 8800, 1, 0), 0); /* two-byte members keys */
  struct hubclient c;
  assert_int_equal(hubclient_connect(&c, P.port, NULL), 0);
  assert_int_equal(hubclient_handshake(&c, "lim-000002", key, sizeof(key) - 1, 7, 5000), 0);
  refused(&c, &b, HUBRPC__V1__ERROR_CODE__ERROR_MALFORMED_FRAME);
  hubclient_close(&c);
  sim_buf_fini(&b);
  correct_hub_served("lim-000002");
}

/* At the depth limit a Report is stored and acknowledged; one level more is refused. */
static void test_nesting_limit(void **state) {
  (void)state;
  for (unsigned extra = 0; extra < 2; extra++) {
    struct hubclient c;
    assert_int_equal(hubclient_connect(&c, P.port, NULL), 0);
    assert_int_equal(hubclient_handshake(&c, "lim-000003", key, sizeof(key) - 1, 100 + extra, 5000),
                     0);
    struct sim_buf f;
    sim_buf_init(&f);
    assert_int_equal(wb_deep_report(&f, SIM_HUBRPC_ATTR_DEPTH_MAX + extra, 0, 1), 0);
    if (extra == 0) {
      assert_int_equal(hubclient_send_raw(&c, f.data, f.len), 0);
      uint64_t got = 0;
      assert_int_equal(hubclient_wait_ack(&c, 1, 5000, &got), 0);
      assert_int_equal(got, 1);
    } else {
      refused(&c, &f, HUBRPC__V1__ERROR_CODE__ERROR_MALFORMED_FRAME);
    }
    hubclient_close(&c);
    sim_buf_fini(&f);
  }
}

/* A frame of exactly 65536 bytes of body is valid; a declared 65537 is refused at once. */
static void test_frame_size_limit(void **state) {
  (void)state;
  struct hubclient c;
  assert_int_equal(hubclient_connect(&c, P.port, NULL), 0);
  assert_int_equal(hubclient_handshake(&c, "lim-000004", key, sizeof(key) - 1, 9, 5000), 0);
  static uint8_t zcl[SIM_FRAME_MAX];
  zcl[0] = 0x18;
  zcl[2] = 0x0A;
  Hubrpc__V1__Report r = HUBRPC__V1__REPORT__INIT;
  r.seq = 1;
  r.device = 0x00158d0000000004ull;
  r.zcl_frame.data = zcl;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_REPORT;
  env.report = &r;
  for (r.zcl_frame.len = SIM_FRAME_MAX;
       hubrpc__v1__envelope__get_packed_size(&env) > SIM_FRAME_MAX;)
    r.zcl_frame.len--;
  assert_int_equal(hubrpc__v1__envelope__get_packed_size(&env), SIM_FRAME_MAX);
  assert_int_equal(hubclient_send(&c, &env), 0);
  uint64_t got = 0;
  assert_int_equal(hubclient_wait_ack(&c, 1, 5000, &got), 0);
  struct sim_buf b;
  sim_buf_init(&b);
  const uint8_t over[] = {0x81, 0x80, 0x04}; /* 65537, and no body: decided on the prefix */
  sim_buf_append(&b, over, sizeof(over));
  refused(&c, &b, HUBRPC__V1__ERROR_CODE__ERROR_FRAME_TOO_LARGE);
  hubclient_close(&c);
  sim_buf_fini(&b);
}

/* Five length bytes with the continuation bit: refused without waiting for a sixth. */
static void test_prefix_5_bytes(void **state) {
  (void)state;
  struct hubclient c;
  assert_int_equal(hubclient_connect(&c, P.port, NULL), 0);
  struct sim_buf b;
  sim_buf_init(&b);
  const uint8_t five[] = {0x80, 0x80, 0x80, 0x80, 0x80};
  sim_buf_append(&b, five, sizeof(five));
  refused(&c, &b, HUBRPC__V1__ERROR_CODE__ERROR_MALFORMED_FRAME);
  hubclient_close(&c);
  sim_buf_fini(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_deep_frame_before_auth), cmocka_unit_test(test_deep_frame_after_auth),
      cmocka_unit_test(test_nesting_limit),          cmocka_unit_test(test_frame_size_limit),
      cmocka_unit_test(test_prefix_5_bytes),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
