/* Bytes from a platform never crash a hub. A test peer on loopback TCP answers hub 0 of a
 * two-hub fleet with one kind of bad input after its Hello, and runs a correct session with hub
 * 1. For each kind, hub 0 must send the documented Error and close (or just close, when the
 * peer already did), and hub 1 must stay online with its reports acknowledged. */
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

#include "devices/catalog.h"
#include "sim/core/err.h"
#include "sim/fleet/fleet.h"
#include "sim/wire/auth.h"
#include "sim/wire/frame.h"
#include "sim/wire/hubrpc.h"

enum bad {
  BAD_GARBAGE,
  BAD_TOO_LARGE,
  BAD_UNKNOWN,
  BAD_OUT_OF_ORDER,
  BAD_NONCE,
  BAD_TRUNCATED_CLOSE,
  BAD_ACK_ABOVE,
  BAD_FORGET, /* acknowledges, drops the connection, then claims it never stored anything */
};

struct peer_conn {
  struct sim_conn *c;
  struct sim_frame_reader rd;
  int hub; /* 0 or 1 */
  uint8_t cn[16];
  uint64_t received; /* highest seq received */
  int close_me;      /* close once the frame reader has returned */
  int conn_no;       /* hub 0: which of its connections this is (1, 2, ...) */
};

static struct {
  enum bad mode;
  int error_code;     /* first Error code received from hub 0, -1 none */
  int hub0_closed;    /* hub 0 closed a connection after its Error */
  uint64_t hub1_acks; /* Acks sent to hub 1 */
  uint64_t hub0_hellos;
  uint64_t hub0_boot[4];       /* boot_id of hub 0's first Hellos */
  uint64_t hub0_acked;         /* messages of hub 0 acknowledged on its first connection */
  uint64_t hub0_first_seq_new; /* first seq hub 0 sent on its third connection */
  uint64_t hub0_new_acks;
  struct sim_listener *l;
  struct sim_buf out;
} T;

static const uint8_t key[] = "hubsim-demo-fleet-key";

static void send_env(struct peer_conn *p, const sim_env *env) {
  T.out.len = 0;
  assert_int_equal(sim_hubrpc_encode(&T.out, env), 0);
  sim_conn_send(p->c, T.out.data, T.out.len);
}

static void send_challenge(struct peer_conn *p, size_t nonce_len) {
  static uint8_t sn[32];
  Hubrpc__V1__Challenge ch = HUBRPC__V1__CHALLENGE__INIT;
  ch.server_nonce.data = sn;
  ch.server_nonce.len = nonce_len;
  sim_env env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_CHALLENGE;
  env.challenge = &ch;
  send_env(p, &env);
}

static void send_welcome(struct peer_conn *p) {
  Hubrpc__V1__Welcome w = HUBRPC__V1__WELCOME__INIT;
  w.session_id = 1;
  w.heartbeat_s = 30;
  w.max_window = 256;
  sim_env env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_WELCOME;
  env.welcome = &w;
  send_env(p, &env);
}

static void send_ack(struct peer_conn *p, uint64_t up_to) {
  Hubrpc__V1__Ack a = HUBRPC__V1__ACK__INIT;
  a.up_to_seq = up_to;
  sim_env env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_ACK;
  env.ack = &a;
  send_env(p, &env);
}

static void misbehave(struct peer_conn *p) {
  switch (T.mode) {
  case BAD_GARBAGE: {
    const uint8_t g[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
    sim_conn_send(p->c, g, sizeof(g));
    break;
  }
  case BAD_TOO_LARGE: {
    const uint8_t g[] = {0x81, 0x80, 0x04}; /* declares 65537 bytes */
    sim_conn_send(p->c, g, sizeof(g));
    break;
  }
  case BAD_UNKNOWN: {
    const uint8_t g[] = {0x03, 0x9A, 0x06, 0x00}; /* field 99, empty */
    sim_conn_send(p->c, g, sizeof(g));
    break;
  }
  case BAD_OUT_OF_ORDER:
    send_welcome(p); /* before any Challenge */
    break;
  case BAD_NONCE:
    send_challenge(p, 5);
    break;
  case BAD_TRUNCATED_CLOSE: {
    const uint8_t g[] = {0x10, 0x12, 0x03}; /* 16 bytes declared, 2 sent */
    sim_conn_send(p->c, g, sizeof(g));
    p->close_me = 1;
    return;
  }
  case BAD_ACK_ABOVE:
  case BAD_FORGET:
    send_challenge(p, 16); /* a proper session first */
    break;
  }
}

static int on_frame(void *arg, const uint8_t *body, size_t len) {
  struct peer_conn *p = arg;
  sim_env *env = NULL;
  assert_int_equal(sim_hubrpc_decode(body, len, &env), 0);
  switch (env->body_case) {
  case HUBRPC__V1__ENVELOPE__BODY_HELLO:
    p->hub = strcmp(env->hello->hub_id, "bad-000000") == 0 ? 0 : 1;
    assert_int_equal(env->hello->client_nonce.len, 16);
    memcpy(p->cn, env->hello->client_nonce.data, 16);
    if (p->hub == 0) {
      if (T.hub0_hellos < 4)
        T.hub0_boot[T.hub0_hellos] = env->hello->boot_id;
      T.hub0_hellos++;
      p->conn_no = (int)T.hub0_hellos;
      sim_hubrpc_free(env);
      misbehave(p);
      return p->close_me;
    }
    send_challenge(p, 16);
    break;
  case HUBRPC__V1__ENVELOPE__BODY_AUTH: {
    uint8_t secret[32], mac[32], sn[16] = {0};
    sim_auth_hub_secret(key, sizeof(key) - 1, p->hub ? "bad-000001" : "bad-000000", secret);
    sim_auth_mac(secret, p->cn, sn, mac);
    assert_int_equal(env->auth->mac.len, 32);
    assert_memory_equal(env->auth->mac.data, mac, 32);
    send_welcome(p);
    if (p->hub == 0 && T.mode == BAD_ACK_ABOVE)
      send_ack(p, 1000000);
    break;
  }
  case HUBRPC__V1__ENVELOPE__BODY_REPORT:
  case HUBRPC__V1__ENVELOPE__BODY_DEVICE_JOINED:
  case HUBRPC__V1__ENVELOPE__BODY_COMMAND_RESULT: {
    uint64_t seq = env->body_case == HUBRPC__V1__ENVELOPE__BODY_REPORT ? env->report->seq
                   : env->body_case == HUBRPC__V1__ENVELOPE__BODY_DEVICE_JOINED
                       ? env->device_joined->seq
                       : env->command_result->seq;
    if (p->hub == 1) {
      assert_int_equal(seq, p->received + 1);
      p->received = seq;
      send_ack(p, seq);
      T.hub1_acks++;
    } else if (T.mode == BAD_FORGET && p->conn_no == 1) {
      send_ack(p, seq);
      if (++T.hub0_acked == 3)
        p->close_me = 1; /* a crash right after acknowledging three messages */
    } else if (T.mode == BAD_FORGET && p->conn_no >= 3) {
      if (!T.hub0_first_seq_new)
        T.hub0_first_seq_new = seq;
      send_ack(p, seq);
      T.hub0_new_acks++;
    }
    break;
  }
  case HUBRPC__V1__ENVELOPE__BODY_ERROR:
    if (p->hub == 0 && T.error_code < 0)
      T.error_code = (int)env->error->code;
    break;
  default:
    break;
  }
  sim_hubrpc_free(env);
  return p->close_me; /* stop reading once the connection is to close */
}

static void on_data(struct sim_conn *c, const uint8_t *d, size_t n, void *user) {
  struct peer_conn *p = user;
  sim_frame_reader_feed(&p->rd, d, n, on_frame, p);
  if (p->close_me) {
    sim_conn_close(c);
    sim_frame_reader_fini(&p->rd);
    free(p);
    T.hub0_closed++;
  }
}

static void on_closed(struct sim_conn *c, int err, void *user) {
  struct peer_conn *p = user;
  if (p->hub == 0 && T.error_code >= 0)
    T.hub0_closed++;
  sim_frame_reader_fini(&p->rd);
  free(p);
}

static const struct sim_conn_cbs peer_cbs = {NULL, on_data, on_closed};

static void on_accept(struct sim_listener *l, struct sim_conn *c, void *user) {
  struct peer_conn *p = calloc(1, sizeof(*p));
  p->c = c;
  p->hub = -1;
  sim_frame_reader_init(&p->rd, SIM_FRAME_MAX);
  assert_int_equal(sim_conn_start(c, &peer_cbs, p), 0);
}

static int done;
static struct sim_fleet *F;

static void on_tick(uv_timer_t *t) {
  static struct sim_fleet_stats st;
  sim_fleet_stats(F, &st);
  int hub0_done = T.mode == BAD_TRUNCATED_CLOSE ? T.hub0_hellos >= 2
                  : T.mode == BAD_FORGET        ? T.hub0_new_acks >= 3
                                                : T.hub0_closed >= 1;
  if (hub0_done && st.hubs_by_state[SIM_HUB_OPEN] >= 1 && T.hub1_acks >= 5)
    done = 1;
  if (done || uv_hrtime() > *(uint64_t *)t->data)
    uv_stop(t->loop);
}

static void stopped(struct sim_fleet *f, void *arg) {
  *(int *)arg = 1;
}

static void run_mode(enum bad mode, int want_code, const char *want_reason) {
  memset(&T, 0, sizeof(T));
  T.mode = mode;
  T.error_code = -1;
  done = 0;
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct sim_transport *t;
  assert_int_equal(sim_transport_tcp_new(&loop, &t), 0);
  struct sim_addr a = {"127.0.0.1", 0};
  assert_int_equal(sim_transport_listen(t, &a, on_accept, NULL, &T.l), 0);
  static struct sim_fleet_config cfg;
  sim_fleet_config_default(&cfg);
  cfg.hubs = 2;
  cfg.devices_per_hub = 4;
  cfg.platform.port = sim_listener_port(T.l);
  snprintf(cfg.hub_prefix, sizeof(cfg.hub_prefix), "bad-");
  cfg.n_mix = 1;
  cfg.mix_model[0] = (uint16_t)sim_model_find("lumi.plug.maeu01");
  cfg.mix_weight[0] = 1;
  assert_int_equal(sim_fleet_new(&loop, t, &cfg, &F), 0);
  assert_int_equal(sim_fleet_start(F), 0);
  uv_timer_t tick;
  uint64_t deadline = uv_hrtime() + 10ull * 1000000000ull;
  uv_timer_init(&loop, &tick);
  tick.data = &deadline;
  uv_timer_start(&tick, on_tick, 10, 10);
  uv_run(&loop, UV_RUN_DEFAULT);
  static struct sim_fleet_stats st;
  sim_fleet_stats(F, &st);
  int stop = 0;
  sim_fleet_stop(F, stopped, &stop);
  sim_listener_close(T.l);
  uv_close((uv_handle_t *)&tick, NULL);
  for (int i = 0; i < 50 && !stop; i++)
    uv_run(&loop, UV_RUN_ONCE);
  uv_run(&loop, UV_RUN_NOWAIT);
  sim_fleet_free(F);
  sim_transport_free(t);
  uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&loop), 0);
  sim_buf_fini(&T.out);

  if (mode == BAD_FORGET) {
    /* Three acknowledged messages forgotten; a new boot sequence delivers the rest from 1. */
    assert_int_equal(st.forgotten, 3);
    assert_int_equal(T.hub0_boot[0], T.hub0_boot[1]);
    assert_true(T.hub0_boot[2] != T.hub0_boot[1]);
    assert_int_equal(T.hub0_first_seq_new, 1);
  }
  int found = 0;
  for (size_t i = 0; i < st.n_errors; i++)
    if (strcmp(st.errors[i].name, want_reason) == 0)
      found = 1;
  if (!done || T.error_code != want_code || !found) {
    for (size_t i = 0; i < st.n_errors; i++)
      printf("  error %s=%llu\n", st.errors[i].name, (unsigned long long)st.errors[i].count);
    fail_msg("mode %d: done %d, error code %d (want %d), hub0 closed %d, hub1 acks %llu, "
             "reason %s %s",
             (int)mode, done, T.error_code, want_code, T.hub0_closed,
             (unsigned long long)T.hub1_acks, want_reason, found ? "counted" : "missing");
  }
}

static void test_garbage(void **s) {
  (void)s;
  run_mode(BAD_GARBAGE, HUBRPC__V1__ERROR_CODE__ERROR_MALFORMED_FRAME, "MALFORMED");
}
static void test_too_large(void **s) {
  (void)s;
  run_mode(BAD_TOO_LARGE, HUBRPC__V1__ERROR_CODE__ERROR_FRAME_TOO_LARGE, "TOOBIG");
}
static void test_unknown(void **s) {
  (void)s;
  run_mode(BAD_UNKNOWN, HUBRPC__V1__ERROR_CODE__ERROR_UNKNOWN_MESSAGE, "UNKNOWN_MSG");
}
static void test_out_of_order(void **s) {
  (void)s;
  run_mode(BAD_OUT_OF_ORDER, HUBRPC__V1__ERROR_CODE__ERROR_UNEXPECTED_MESSAGE, "UNEXPECTED");
}
static void test_bad_nonce(void **s) {
  (void)s;
  run_mode(BAD_NONCE, HUBRPC__V1__ERROR_CODE__ERROR_INVALID_FIELD, "INVAL");
}
static void test_truncated_close(void **s) {
  (void)s;
  run_mode(BAD_TRUNCATED_CLOSE, -1, "closed by peer");
}
static void test_platform_forgets(void **s) {
  (void)s;
  run_mode(BAD_FORGET, -1, "platform:forgot_acknowledged");
}
static void test_ack_above(void **s) {
  (void)s;
  run_mode(BAD_ACK_ABOVE, HUBRPC__V1__ERROR_CODE__ERROR_INVALID_FIELD, "INVAL");
}

static int setup(void **state) {
  (void)state;
  return dev_catalog_register_all() < 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_garbage),   cmocka_unit_test(test_too_large),
      cmocka_unit_test(test_unknown),   cmocka_unit_test(test_out_of_order),
      cmocka_unit_test(test_bad_nonce), cmocka_unit_test(test_truncated_close),
      cmocka_unit_test(test_ack_above), cmocka_unit_test(test_platform_forgets),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
