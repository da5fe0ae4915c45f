/* Bytes from a platform never crash a hub, and never cost a well-behaved hub anything.
 *
 * A fake platform (fakeplat.c) on loopback TCP serves a fleet of two hubs in this process. The
 * victim, hub 0, meets one hostile case on its first connection (garbage, frames over the limit
 * or nested too deep, Welcomes with fields out of range, a platform that trickles one byte at a
 * time or never speaks again, a huge valid frame, ...); its neighbour, hub 1, gets a correct
 * session throughout. For each case:
 *   - the victim answers as docs/protocol.md says (the Error code of the case, then its close,
 *     or no Error where none is due), counts the reason, and reconnects where it must;
 *   - the neighbour never reconnects and sends no Error;
 *   - both deliver every Report they generated, in order (nothing lost, no gap);
 *   - the process is still here (a crash fails the whole executable). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <uv.h>

#include "devices/cat_global.h"
#include "fakeplat.h"
#include "sim/core/err.h"
#include "sim/fleet/fleet.h"
#include "support/wirebuild.h"

static struct {
  uv_loop_t loop;
  struct fakeplat fp;
  struct sim_fleet *f;
  const struct fp_case *c;
  uint64_t generated[2]; /* Reports generated per hub (the fleet's observer) */
  int quiesced;
  int done;
  uint64_t deadline;
  struct sim_fleet_stats st;
} T;

#define VICTIM "bad-000000"
#define GOOD "bad-000001"

/* ---- the cases' acts ---- */

static void send_raw(struct fp_conn *p, const uint8_t *b, size_t n) {
  fp_send(p, b, n);
}

static void act_garbage(struct fp_conn *p) {
  static const uint8_t g[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
  send_raw(p, g, sizeof(g));
}

static void act_too_large(struct fp_conn *p) {
  static const uint8_t g[] = {0x81, 0x80, 0x04}; /* declares 65537 bytes */
  send_raw(p, g, sizeof(g));
}

static void act_prefix_5(struct fp_conn *p) {
  /* Five bytes with the continuation bit and nothing after: the receiver must not wait. */
  static const uint8_t g[] = {0x80, 0x80, 0x80, 0x80, 0x80};
  send_raw(p, g, sizeof(g));
}

static void act_unknown(struct fp_conn *p) {
  static const uint8_t g[] = {0x03, 0x9A, 0x06, 0x00}; /* field 99, empty */
  send_raw(p, g, sizeof(g));
}

static void act_welcome_early(struct fp_conn *p) {
  fp_send_welcome(p, 30, 0, 256); /* before any Challenge */
}

static void act_bad_nonce(struct fp_conn *p) {
  fp_send_challenge(p, 5);
}

static void act_truncated_close(struct fp_conn *p) {
  static const uint8_t g[] = {0x10, 0x12, 0x03}; /* 16 bytes declared, 2 sent */
  send_raw(p, g, sizeof(g));
  fp_close_soon(p);
}

static void act_ack_above(struct fp_conn *p) {
  fp_send_ack(p, 1000000);
}

static void send_deep(struct fp_conn *p, unsigned depth) {
  struct sim_buf b;
  sim_buf_init(&b);
  assert_int_equal(wb_deep_report(&b, depth, 0, 0), 0);
  send_raw(p, b.data, b.len);
  sim_buf_fini(&b);
}

static void act_deep(struct fp_conn *p) {
  send_deep(p, 8800); /* 30 KB: overflowed the stack of protobuf-c's unpack */
}

static void act_depth_at_limit(struct fp_conn *p) {
  send_deep(p, SIM_HUBRPC_ATTR_DEPTH_MAX); /* decodes: then it is a Report in the wrong direction */
}

static void act_depth_over_limit(struct fp_conn *p) {
  send_deep(p, SIM_HUBRPC_ATTR_DEPTH_MAX + 1);
}

static void act_welcome_hb0(struct fp_conn *p) {
  fp_send_welcome(p, 0, 0, 256);
}

static void act_welcome_window0(struct fp_conn *p) {
  fp_send_welcome(p, 30, 0, 0);
}

static void act_welcome_empty(struct fp_conn *p) {
  static const uint8_t g[] = {0x02, 0x22, 0x00}; /* Welcome with every field absent */
  send_raw(p, g, sizeof(g));
}

static void act_welcome_acked_above(struct fp_conn *p) {
  fp_send_welcome(p, 30, 1000000, 256);
}

/* Frames that follow a bad Welcome in the same read must not be acted on: the session is over. */
static void act_welcome_hb0_then_more(struct fp_conn *p) {
  static const uint8_t more[] = {0x02, 0x3A, 0x00,                    /* Ack{0} */
                                 0x02, 0x22, 0x00,                    /* Welcome{} */
                                 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}; /* garbage */
  struct sim_buf b;
  sim_buf_init(&b);
  Hubrpc__V1__Welcome w = HUBRPC__V1__WELCOME__INIT;
  w.max_window = 256;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_WELCOME;
  env.welcome = &w;
  assert_int_equal(sim_hubrpc_encode(&b, &env), 0);
  sim_buf_append(&b, more, sizeof(more));
  send_raw(p, b.data, b.len); /* one write */
  sim_buf_fini(&b);
}

static void act_garbage_after_welcome(struct fp_conn *p) {
  static const uint8_t g[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
  fp_open_session(p, 30);
  send_raw(p, g, sizeof(g));
}

static void act_welcome_twice(struct fp_conn *p) {
  fp_open_session(p, 30);
  fp_send_welcome(p, 30, 0, 256);
}

static void act_trickle(struct fp_conn *p) {
  fp_trickle(p); /* the whole session, one byte a millisecond */
  fp_send_challenge(p, 16);
}

static void act_silence(struct fp_conn *p) {
  fp_open_session(p, 1); /* heartbeat_s 1: the hub gives up after 3 to 4 s of silence */
  fp_mute(p);
}

static void act_peer_error(struct fp_conn *p) {
  char reason[400];
  memset(reason, 0xFF, sizeof(reason) - 1); /* not UTF-8, and longer than 256 bytes */
  reason[sizeof(reason) - 1] = '\0';
  Hubrpc__V1__Error e = HUBRPC__V1__ERROR__INIT;
  e.code = 99; /* a code this version does not know */
  e.reason = reason;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_ERROR;
  env.error = &e;
  fp_send_env(p, &env);
}

static void send_command(struct fp_conn *p, uint64_t id, uint32_t endpoint, size_t payload) {
  static uint8_t zp[SIM_FRAME_MAX];
  Hubrpc__V1__Command c = HUBRPC__V1__COMMAND__INIT;
  c.cmd_id = id;
  c.device = sim_fleet_device_eui64(T.f, 0, 0);
  c.endpoint = endpoint;
  c.cluster = 0x0006;
  c.command = 0x02;
  c.zcl_payload.data = zp;
  c.zcl_payload.len = payload;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_COMMAND;
  env.command = &c;
  if (payload > 100) { /* grow the payload until the body is exactly at the limit */
    while (hubrpc__v1__envelope__get_packed_size(&env) < SIM_FRAME_MAX)
      c.zcl_payload.len++;
    while (hubrpc__v1__envelope__get_packed_size(&env) > SIM_FRAME_MAX)
      c.zcl_payload.len--;
    assert_int_equal(hubrpc__v1__envelope__get_packed_size(&env), SIM_FRAME_MAX);
  }
  fp_send_env(p, &env);
}

static void act_command_at_limit(struct fp_conn *p) {
  send_command(p, 4242, 1, SIM_FRAME_MAX - 64); /* a 65536-byte body: valid */
}

static int done_command_at_limit(const struct fp_conn *p) {
  (void)p;
  return T.fp.hub[0].last_cmd_id == 4242;
}

static void act_command_out_of_range(struct fp_conn *p) {
  send_command(p, 77, 300, 0); /* endpoint 300 does not exist on Zigbee */
}

static int done_command_out_of_range(const struct fp_conn *p) {
  (void)p;
  return T.fp.hub[0].last_cmd_id == 77 &&
         T.fp.hub[0].last_cmd_status == HUBRPC__V1__COMMAND_STATUS__COMMAND_UNKNOWN_DEVICE;
}

static void act_many_attributes(struct fp_conn *p) {
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
  fp_send_env(p, &env); /* decodes (flat), then: a Report is not for a hub */
  free(a);
  free(pa);
}

static void act_flood(struct fp_conn *p) {
  /* 20,000 frames in one write: PermitJoin and Heartbeat alternately. */
  static const uint8_t pj[] = {0x04, 0x62, 0x02, 0x08, 0x3C}, hb[] = {0x04, 0x2A, 0x02, 0x08, 0x01};
  struct sim_buf b;
  sim_buf_init(&b);
  for (int i = 0; i < 10000; i++) {
    sim_buf_append(&b, pj, sizeof(pj));
    sim_buf_append(&b, hb, sizeof(hb));
  }
  send_raw(p, b.data, b.len);
  sim_buf_fini(&b);
}

/* ---- the run ---- */

static void on_report(void *arg, uint32_t hub, uint32_t slot, uint8_t endpoint, uint16_t cluster,
                      const uint8_t *zcl, size_t len, sim_time_t intended) {
  (void)arg, (void)slot, (void)endpoint, (void)cluster, (void)zcl, (void)len, (void)intended;
  if (hub < 2)
    T.generated[hub]++;
}

static int victim_done(void) {
  const struct fp_case *c = T.c;
  const struct fp_hub *v = &T.fp.hub[0];
  if (c->want_code >= 0 && v->first_error != c->want_code)
    return 0;
  if (c->reconnects && v->hellos < 2)
    return 0;
  if (c->done && !c->done(NULL))
    return 0;
  return fp_hub_online(v);
}

static int drained(void) {
  for (int i = 0; i < 2; i++)
    if (!fp_hub_online(&T.fp.hub[i]) || T.fp.hub[i].reports != T.generated[i])
      return 0;
  return T.st.in_flight == 0 && T.st.queued == 0;
}

static void on_tick(uv_timer_t *t) {
  sim_fleet_stats(T.f, &T.st);
  if (!T.quiesced && victim_done() && fp_hub_online(&T.fp.hub[1]) && T.generated[1] >= 5) {
    sim_fleet_quiesce(T.f); /* no new reports: let everything generated arrive */
    T.quiesced = 1;
  }
  if (T.quiesced && drained())
    T.done = 1;
  if (T.done || uv_hrtime() > T.deadline)
    uv_stop(t->loop);
}

static void stopped(struct sim_fleet *f, void *arg) {
  (void)f;
  *(int *)arg = 1;
}

static uint64_t errors_named(const char *name) {
  for (size_t i = 0; i < T.st.n_errors; i++)
    if (strcmp(T.st.errors[i].name, name) == 0)
      return T.st.errors[i].count;
  return 0;
}

static void run_case(const struct fp_case *c) {
  memset(&T, 0, sizeof(T));
  T.c = c;
  assert_int_equal(uv_loop_init(&T.loop), 0);
  assert_int_equal(fp_start(&T.fp, &T.loop, c, VICTIM, GOOD), 0);
  struct sim_transport *t;
  assert_int_equal(sim_transport_tcp_new(&T.loop, &t), 0);
  static struct sim_fleet_config cfg;
  sim_fleet_config_default(&cfg);
  cfg.hubs = 2;
  cfg.devices_per_hub = 4;
  cfg.platform.port = T.fp.port;
  cfg.speedup = 60; /* reports flow within the second */
  snprintf(cfg.hub_prefix, sizeof(cfg.hub_prefix), "bad-");
  cfg.n_mix = 1;
  cfg.mix_model[0] = (uint16_t)sim_model_find("lumi.plug.maeu01");
  cfg.mix_weight[0] = 1;
  assert_int_equal(sim_fleet_new(&T.loop, t, &cfg, &T.f), 0);
  sim_fleet_observe(T.f, on_report, NULL, NULL);
  assert_int_equal(sim_fleet_start(T.f), 0);
  uv_timer_t tick;
  T.deadline = uv_hrtime() + 20ull * 1000000000ull;
  uv_timer_init(&T.loop, &tick);
  uv_timer_start(&tick, on_tick, 10, 10);
  uv_run(&T.loop, UV_RUN_DEFAULT);
  sim_fleet_stats(T.f, &T.st);
  int stop = 0;
  sim_fleet_stop(T.f, stopped, &stop);
  uv_close((uv_handle_t *)&tick, NULL);
  for (int i = 0; i < 100 && !stop; i++)
    uv_run(&T.loop, UV_RUN_ONCE);
  fp_stop(&T.fp);
  sim_fleet_free(T.f);
  sim_transport_free(t);
  uv_run(&T.loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&T.loop), 0);

  const struct fp_hub *v = &T.fp.hub[0], *g = &T.fp.hub[1];
  printf("%-26s victim: Error %d, %u connections, %llu/%llu reports; neighbour: %u "
         "connection(s), %llu/%llu reports\n",
         c->name, v->first_error, v->hellos, (unsigned long long)v->reports,
         (unsigned long long)T.generated[0], g->hellos, (unsigned long long)g->reports,
         (unsigned long long)T.generated[1]);
  if (!T.done) {
    for (size_t i = 0; i < T.st.n_errors; i++)
      printf("  counted %s = %llu\n", T.st.errors[i].name,
             (unsigned long long)T.st.errors[i].count);
    fail_msg("%s: not done in time (victim: first error %d, %u hellos, online %d; neighbour "
             "online %d; quiesced %d; %s)",
             c->name, v->first_error, v->hellos, fp_hub_online(v), fp_hub_online(g), T.quiesced,
             T.fp.fail[0] ? T.fp.fail : "no violation");
  }
  if (T.fp.fail[0])
    fail_msg("%s: %s", c->name, T.fp.fail);
  /* The victim answered as the case says. */
  assert_int_equal(v->first_error, c->want_code);
  if (c->want_code >= 0)
    assert_true(v->first_closed_by_hub);
  if (c->reconnects)
    assert_true(v->hellos >= 2);
  else
    assert_int_equal(v->hellos, 1);
  if (c->want_reason && !errors_named(c->want_reason))
    fail_msg("%s: the fleet did not count '%s'", c->name, c->want_reason);
  /* Each of the victim's connections but the last ended once, for one counted reason: what
   * follows a hostile frame in the same read is not acted on. */
  uint64_t counted = 0;
  for (size_t i = 0; i < T.st.n_errors; i++)
    counted += T.st.errors[i].count;
  if (counted != v->hellos - 1u) {
    for (size_t i = 0; i < T.st.n_errors; i++)
      printf("  counted %s = %llu\n", T.st.errors[i].name,
             (unsigned long long)T.st.errors[i].count);
    fail_msg("%s: %llu session ends counted for %u connections", c->name,
             (unsigned long long)counted, v->hellos);
  }
  /* Only a platform that really forgot makes the hub count a loss and start a new boot. */
  if (!c->forget_after)
    assert_int_equal(T.st.forgotten, 0);
  /* The neighbour noticed nothing; nobody lost anything. */
  assert_int_equal(g->hellos, 1);
  assert_int_equal(g->errors_rx, 0);
  assert_int_equal(g->gaps + v->gaps, 0);
  assert_int_equal(g->reports, T.generated[1]);
  assert_int_equal(v->reports, T.generated[0]);
}

/* One test per case; the case is named after the test, without its "test_" prefix. */
#define CASE(fn, ...)                                                                              \
  static void fn(void **s) {                                                                       \
    (void)s;                                                                                       \
    static const struct fp_case c = {#fn + 5, __VA_ARGS__};                                        \
    run_case(&c);                                                                                  \
  }

enum {
  MALFORMED = HUBRPC__V1__ERROR_CODE__ERROR_MALFORMED_FRAME,
  TOO_LARGE = HUBRPC__V1__ERROR_CODE__ERROR_FRAME_TOO_LARGE,
  UNKNOWN = HUBRPC__V1__ERROR_CODE__ERROR_UNKNOWN_MESSAGE,
  UNEXPECTED = HUBRPC__V1__ERROR_CODE__ERROR_UNEXPECTED_MESSAGE,
  INVALID = HUBRPC__V1__ERROR_CODE__ERROR_INVALID_FIELD,
  TIMEOUT = HUBRPC__V1__ERROR_CODE__ERROR_TIMEOUT,
};

/* name, when, act, Error the victim sends, reason counted, reconnects, forget_after,
 * act_on_reconnect_after, done */
CASE(test_garbage, FP_AT_HELLO, act_garbage, MALFORMED, "MALFORMED", 1, 0, 0, NULL)
CASE(test_prefix_too_large, FP_AT_HELLO, act_too_large, TOO_LARGE, "TOOBIG", 1, 0, 0, NULL)
CASE(test_prefix_5_bytes_no_wait, FP_AT_HELLO, act_prefix_5, MALFORMED, "MALFORMED", 1, 0, 0, NULL)
CASE(test_unknown_message, FP_AT_HELLO, act_unknown, UNKNOWN, "UNKNOWN_MSG", 1, 0, 0, NULL)
CASE(test_welcome_before_challenge, FP_AT_HELLO, act_welcome_early, UNEXPECTED, "UNEXPECTED", 1, 0,
     0, NULL)
CASE(test_challenge_bad_nonce, FP_AT_HELLO, act_bad_nonce, INVALID, "INVAL", 1, 0, 0, NULL)
CASE(test_truncated_then_close, FP_AT_HELLO, act_truncated_close, -1, "closed by peer", 1, 0, 0,
     NULL)
CASE(test_deep_nesting_in_handshake, FP_AT_HELLO, act_deep, MALFORMED, "MALFORMED", 1, 0, 0, NULL)
CASE(test_deep_nesting_when_open, FP_AT_OPEN, act_deep, MALFORMED, "MALFORMED", 1, 0, 0, NULL)
CASE(test_nesting_at_limit, FP_AT_OPEN, act_depth_at_limit, UNEXPECTED, "UNEXPECTED", 1, 0, 0, NULL)
CASE(test_nesting_over_limit, FP_AT_OPEN, act_depth_over_limit, MALFORMED, "MALFORMED", 1, 0, 0,
     NULL)
CASE(test_welcome_heartbeat_0, FP_AT_AUTH, act_welcome_hb0, INVALID, "INVAL", 1, 0, 0, NULL)
CASE(test_welcome_window_0, FP_AT_AUTH, act_welcome_window0, INVALID, "INVAL", 1, 0, 0, NULL)
CASE(test_welcome_all_absent, FP_AT_AUTH, act_welcome_empty, INVALID, "INVAL", 1, 0, 0, NULL)
CASE(test_welcome_acked_above, FP_AT_AUTH, act_welcome_acked_above, INVALID, "INVAL", 1, 0, 0, NULL)
CASE(test_welcome_0_then_more, FP_AT_AUTH, act_welcome_hb0_then_more, INVALID, "INVAL", 1, 0, 0,
     NULL)
CASE(test_garbage_after_welcome, FP_AT_AUTH, act_garbage_after_welcome, MALFORMED, "MALFORMED", 1,
     0, 0, NULL)
CASE(test_welcome_twice, FP_AT_AUTH, act_welcome_twice, UNEXPECTED, "UNEXPECTED", 1, 0, 0, NULL)
CASE(test_ack_above_sent, FP_AT_OPEN, act_ack_above, INVALID, "INVAL", 1, 0, 0, NULL)
CASE(test_platform_forgets, FP_AT_OPEN, NULL, -1, "platform:forgot_acknowledged", 1, 3, 0, NULL)
CASE(test_trickle_one_byte, FP_AT_HELLO, act_trickle, -1, NULL, 0, 0, 0, NULL)
CASE(test_silent_platform, FP_AT_AUTH, act_silence, TIMEOUT, "TIMEOUT", 1, 0, 0, NULL)
CASE(test_peer_error_unknown_code, FP_AT_OPEN, act_peer_error, -1, "peer:ERROR_UNKNOWN_CODE", 1, 0,
     0, NULL)
CASE(test_command_at_frame_limit, FP_AT_OPEN, act_command_at_limit, -1, NULL, 0, 0, 0,
     done_command_at_limit)
CASE(test_command_out_of_range, FP_AT_OPEN, act_command_out_of_range, -1, NULL, 0, 0, 0,
     done_command_out_of_range)
CASE(test_10000_attributes, FP_AT_OPEN, act_many_attributes, UNEXPECTED, "UNEXPECTED", 1, 0, 0,
     NULL)
/* After a reconnect the hub has acknowledged messages; an invalid Welcome (all fields absent,
 * so acked_seq 0) must be refused as invalid, not believed as a platform that lost them. */
CASE(test_welcome_all_absent_after_acks, FP_AT_AUTH, act_welcome_empty, INVALID, "INVAL", 1, 0, 3,
     NULL)
CASE(test_20000_frames_in_one_write, FP_AT_OPEN, act_flood, -1, NULL, 0, 0, 0, NULL)

static int setup(void **state) {
  (void)state;
  return dev_catalog_register_all() < 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_prefix_too_large),
      cmocka_unit_test(test_prefix_5_bytes_no_wait),
      cmocka_unit_test(test_unknown_message),
      cmocka_unit_test(test_welcome_before_challenge),
      cmocka_unit_test(test_challenge_bad_nonce),
      cmocka_unit_test(test_truncated_then_close),
      cmocka_unit_test(test_deep_nesting_in_handshake),
      cmocka_unit_test(test_deep_nesting_when_open),
      cmocka_unit_test(test_nesting_at_limit),
      cmocka_unit_test(test_nesting_over_limit),
      cmocka_unit_test(test_welcome_heartbeat_0),
      cmocka_unit_test(test_welcome_window_0),
      cmocka_unit_test(test_welcome_all_absent),
      cmocka_unit_test(test_welcome_acked_above),
      cmocka_unit_test(test_welcome_0_then_more),
      cmocka_unit_test(test_garbage_after_welcome),
      cmocka_unit_test(test_welcome_twice),
      cmocka_unit_test(test_ack_above_sent),
      cmocka_unit_test(test_platform_forgets),
      cmocka_unit_test(test_trickle_one_byte),
      cmocka_unit_test(test_silent_platform),
      cmocka_unit_test(test_peer_error_unknown_code),
      cmocka_unit_test(test_command_at_frame_limit),
      cmocka_unit_test(test_command_out_of_range),
      cmocka_unit_test(test_10000_attributes),
      cmocka_unit_test(test_20000_frames_in_one_write),
      cmocka_unit_test(test_welcome_all_absent_after_acks),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
