/* The reference platform over real loopback tcp, driven by raw hubrpc clients.
 *
 * The server runs on the test's own libuv loop; the clients are plain sockets that run the
 * loop (UV_RUN_NOWAIT) while they wait, so both sides make progress in one thread and every
 * wait is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <sqlite3.h>

#include "platform/platform.h"
#include "sim/core/err.h"
#include "sim/wire/frame.h"
#include "support/hubclient.h"

#define KEY "test-fleet-key"
#define T_MS 3000

struct fx {
  uv_loop_t loop;
  struct sim_transport *t;
  struct plat_server *srv;
  char dir[64];
  char db[128];
  uint16_t port;
  uint32_t window;
  uint32_t heartbeat_s;
  double command_rate;
  int stopped;
};

static void stopped_cb(struct plat_server *srv, void *arg) {
  struct fx *f = arg;
  f->stopped = 1;
}

static void server_up(struct fx *f) {
  struct plat_config cfg = {0};
  cfg.listen = "hubrpc://127.0.0.1:0";
  cfg.db_path = f->db;
  cfg.fleet_key = (const uint8_t *)KEY;
  cfg.fleet_key_len = strlen(KEY);
  cfg.max_window = f->window;
  cfg.heartbeat_s = f->heartbeat_s ? f->heartbeat_s : 30;
  cfg.command_rate = f->command_rate;
  assert_int_equal(plat_server_new(&f->loop, f->t, &cfg, &f->srv), 0);
  assert_int_equal(plat_server_start(f->srv), 0);
  f->port = plat_server_port(f->srv);
  assert_true(f->port != 0);
  f->stopped = 0;
}

/* Runs the loop until *flag or the time is up. */
static void run_until(uv_loop_t *loop, int *flag, int ms) {
  uint64_t deadline = uv_hrtime() + (uint64_t)ms * 1000000ull;
  while (!*flag && uv_hrtime() < deadline) {
    uv_run(loop, UV_RUN_ONCE); /* blocks until the next event: the server's timers tick */
  }
}

static void server_down(struct fx *f) {
  if (!f->srv)
    return;
  assert_int_equal(plat_server_stop(f->srv, stopped_cb, f), 0);
  run_until(&f->loop, &f->stopped, 5000);
  assert_true(f->stopped);
  plat_server_free(f->srv);
  f->srv = NULL;
}

static int fx_setup_cfg(void **state, uint32_t window, uint32_t heartbeat_s, double rate) {
  struct fx *f = calloc(1, sizeof(*f));
  snprintf(f->dir, sizeof(f->dir), "/tmp/hubsim-plat-XXXXXX");
  if (!mkdtemp(f->dir))
    return -1;
  snprintf(f->db, sizeof(f->db), "%s/p.db", f->dir);
  f->window = window;
  f->heartbeat_s = heartbeat_s;
  f->command_rate = rate;
  uv_loop_init(&f->loop);
  if (sim_transport_tcp_new(&f->loop, &f->t))
    return -1;
  server_up(f);
  *state = f;
  return 0;
}

static int fx_setup(void **state) {
  return fx_setup_cfg(state, 0, 0, 0);
}
static int fx_setup_small_window(void **state) {
  return fx_setup_cfg(state, 4, 0, 0);
}
static int fx_setup_fast_heartbeat(void **state) {
  return fx_setup_cfg(state, 0, 1, 0);
}
static int fx_setup_toggles(void **state) {
  return fx_setup_cfg(state, 0, 0, 50);
}

static int fx_teardown(void **state) {
  struct fx *f = *state;
  server_down(f);
  for (int i = 0; i < 200 && uv_loop_alive(&f->loop); i++)
    uv_run(&f->loop, UV_RUN_NOWAIT);
  sim_transport_free(f->t);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  uv_loop_close(&f->loop);
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
  if (system(cmd)) {
  }
  free(f);
  return 0;
}

static void good_hub(struct fx *f, struct hubclient *c, const char *id) {
  assert_int_equal(hubclient_connect(c, f->port, &f->loop), 0);
  assert_int_equal(hubclient_handshake(c, id, KEY, strlen(KEY), 0x1234, T_MS), 0);
}

/* The well-behaved hub still gets its reports acknowledged. */
static void good_hub_works(struct hubclient *c) {
  uint64_t seq = c->next_seq;
  assert_int_equal(hubclient_report(c, 0, 0x00158d0001020304ull, 0x0402, 2150), 0);
  assert_int_equal(hubclient_wait_ack(c, seq, T_MS, NULL), 0);
}

static struct plat_counters counters(struct fx *f) {
  struct plat_counters c;
  plat_server_counters(f->srv, &c);
  return c;
}

/* Sends raw bytes on a fresh connection and expects Error{code} and a close, while a
 * second, well-behaved hub keeps working. */
static void bad_input(struct fx *f, const void *p, size_t n, int code) {
  struct hubclient good, bad;
  good_hub(f, &good, "good-hub");
  assert_int_equal(hubclient_connect(&bad, f->port, &f->loop), 0);
  assert_int_equal(hubclient_send_raw(&bad, p, n), 0);
  assert_int_equal(hubclient_expect_error(&bad, T_MS), code);
  assert_int_equal(hubclient_wait_closed(&bad, T_MS), 0);
  good_hub_works(&good);
  assert_true(counters(f).errors_sent[code] >= 1);
  hubclient_close(&bad);
  hubclient_close(&good);
}

/* ---------------------------------------------------------------- tests */

static void test_handshake_ok(void **state) {
  struct fx *f = *state;
  struct hubclient c;
  good_hub(f, &c, "hub-1");
  assert_int_equal(c.acked_seq, 0);
  assert_int_equal(c.heartbeat_s, 30);
  assert_int_equal(c.max_window, PLAT_DEFAULT_WINDOW);
  assert_true(c.session_id != 0);
  struct plat_counters k = counters(f);
  assert_int_equal(k.auth_ok, 1);
  assert_int_equal(k.sessions_open, 1);
  /* Heartbeats are answered. */
  Hubrpc__V1__Heartbeat hb = HUBRPC__V1__HEARTBEAT__INIT;
  hb.time_ms = 1;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT;
  env.heartbeat = &hb;
  assert_int_equal(hubclient_send(&c, &env), 0);
  sim_envelope *r = NULL;
  assert_int_equal(hubclient_expect(&c, HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT, T_MS, &r, NULL), 0);
  assert_true(r->heartbeat->time_ms > 1600000000000ull);
  sim_hubrpc_free(r);
  hubclient_close(&c);
}

static void test_wrong_mac(void **state) {
  struct fx *f = *state;
  struct hubclient good, c;
  good_hub(f, &good, "good-hub");
  assert_int_equal(hubclient_connect(&c, f->port, &f->loop), 0);
  assert_int_equal(hubclient_hello(&c, "hub-2", 1, T_MS), 0);
  uint8_t mac[32] = {1, 2, 3};
  assert_int_equal(hubclient_auth(&c, KEY, strlen(KEY), mac), 0);
  assert_int_equal(hubclient_expect_error(&c, T_MS), HUBRPC__V1__ERROR_CODE__ERROR_AUTH_FAILED);
  assert_int_equal(hubclient_wait_closed(&c, T_MS), 0);
  hubclient_close(&c);
  /* The right MAC from the wrong fleet key fails the same way. */
  assert_int_equal(hubclient_connect(&c, f->port, &f->loop), 0);
  assert_int_equal(hubclient_hello(&c, "hub-2", 1, T_MS), 0);
  assert_int_equal(hubclient_auth(&c, "other-key", 9, NULL), 0);
  assert_int_equal(hubclient_expect_error(&c, T_MS), HUBRPC__V1__ERROR_CODE__ERROR_AUTH_FAILED);
  hubclient_close(&c);
  good_hub_works(&good);
  assert_int_equal(counters(f).auth_failed, 2);
  hubclient_close(&good);
}

static void test_truncated_then_close(void **state) {
  struct fx *f = *state;
  struct hubclient good, c;
  good_hub(f, &good, "good-hub");
  assert_int_equal(hubclient_connect(&c, f->port, &f->loop), 0);
  uint8_t p[12] = {100, 0x0a, 0x05};
  assert_int_equal(hubclient_send_raw(&c, p, sizeof(p)), 0);
  uint64_t closed = counters(f).sessions_closed;
  for (int i = 0; i < 50; i++)
    uv_run(&f->loop, UV_RUN_NOWAIT);
  hubclient_close(&c);
  good_hub_works(&good);
  for (int i = 0; i < 2000 && counters(f).sessions_closed == closed; i++)
    uv_run(&f->loop, UV_RUN_ONCE);
  assert_int_equal(counters(f).sessions_closed, closed + 1);
  good_hub_works(&good);
  hubclient_close(&good);
}

static void test_frame_too_large(void **state) {
  uint8_t p[5];
  size_t n = sim_frame_put_len(p, SIM_FRAME_MAX + 1);
  bad_input(*state, p, n, HUBRPC__V1__ERROR_CODE__ERROR_FRAME_TOO_LARGE);
}

static void test_varint_too_long(void **state) {
  uint8_t p[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
  bad_input(*state, p, sizeof(p), HUBRPC__V1__ERROR_CODE__ERROR_MALFORMED_FRAME);
}

static void test_unknown_message(void **state) {
  /* An Envelope holding only field 99 (varint 1): valid protobuf, no known body. */
  uint8_t p[] = {0x03, 0x98, 0x06, 0x01};
  bad_input(*state, p, sizeof(p), HUBRPC__V1__ERROR_CODE__ERROR_UNKNOWN_MESSAGE);
}

static void test_garbage(void **state) {
  uint8_t p[] = {0x05, 0xff, 0xff, 0xff, 0xff, 0xff};
  bad_input(*state, p, sizeof(p), HUBRPC__V1__ERROR_CODE__ERROR_MALFORMED_FRAME);
}

static void test_report_before_auth(void **state) {
  struct fx *f = *state;
  Hubrpc__V1__Report r = HUBRPC__V1__REPORT__INIT;
  r.seq = 1;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_REPORT;
  env.report = &r;
  struct sim_buf b;
  sim_buf_init(&b);
  assert_int_equal(sim_hubrpc_encode(&b, &env), 0);
  bad_input(f, b.data, b.len, HUBRPC__V1__ERROR_CODE__ERROR_UNEXPECTED_MESSAGE);
  /* The same after Hello, before Auth; and a platform-only message (Ack) from a hub. */
  struct hubclient c;
  assert_int_equal(hubclient_connect(&c, f->port, &f->loop), 0);
  assert_int_equal(hubclient_hello(&c, "hub-3", 1, T_MS), 0);
  assert_int_equal(hubclient_send_raw(&c, b.data, b.len), 0);
  assert_int_equal(hubclient_expect_error(&c, T_MS),
                   HUBRPC__V1__ERROR_CODE__ERROR_UNEXPECTED_MESSAGE);
  hubclient_close(&c);
  struct hubclient o;
  good_hub(f, &o, "hub-4");
  Hubrpc__V1__Ack ack = HUBRPC__V1__ACK__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_ACK;
  env.ack = &ack;
  assert_int_equal(hubclient_send(&o, &env), 0);
  assert_int_equal(hubclient_expect_error(&o, T_MS),
                   HUBRPC__V1__ERROR_CODE__ERROR_UNEXPECTED_MESSAGE);
  hubclient_close(&o);
  sim_buf_fini(&b);
}

static void test_hello_fields(void **state) {
  struct fx *f = *state;
  struct hubclient c;
  /* A bad hub_id. */
  assert_int_equal(hubclient_connect(&c, f->port, &f->loop), 0);
  assert_int_equal(hubclient_hello(&c, "bad hub!", 1, T_MS), SIM_EPEER);
  hubclient_close(&c);
  /* A wrong version. */
  assert_int_equal(hubclient_connect(&c, f->port, &f->loop), 0);
  uint8_t nonce[16] = {0};
  Hubrpc__V1__Hello h = HUBRPC__V1__HELLO__INIT;
  h.proto_version = 2;
  h.hub_id = "hub-5";
  h.client_nonce.data = nonce;
  h.client_nonce.len = sizeof(nonce);
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_HELLO;
  env.hello = &h;
  assert_int_equal(hubclient_send(&c, &env), 0);
  sim_envelope *e = NULL;
  assert_int_equal(hubclient_expect(&c, HUBRPC__V1__ENVELOPE__BODY_ERROR, T_MS, &e, NULL), 0);
  assert_int_equal(e->error->code, HUBRPC__V1__ERROR_CODE__ERROR_UNSUPPORTED_VERSION);
  assert_string_equal(e->error->reason, "supported: 1");
  sim_hubrpc_free(e);
  hubclient_close(&c);
  /* A short nonce. */
  assert_int_equal(hubclient_connect(&c, f->port, &f->loop), 0);
  h.proto_version = 1;
  h.client_nonce.len = 8;
  assert_int_equal(hubclient_send(&c, &env), 0);
  assert_int_equal(hubclient_expect_error(&c, T_MS), HUBRPC__V1__ERROR_CODE__ERROR_INVALID_FIELD);
  hubclient_close(&c);
  assert_int_equal(counters(f).errors_sent[HUBRPC__V1__ERROR_CODE__ERROR_INVALID_FIELD], 2);
}

static int64_t db_count(struct fx *f, const char *sql) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *s;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return v;
}

static void test_ack_after_commit(void **state) {
  struct fx *f = *state;
  struct hubclient c;
  good_hub(f, &c, "hub-ack");
  for (int i = 0; i < 10; i++)
    assert_int_equal(hubclient_report(&c, 0, 0x00158d00000000aaull, 0x0402, 2000 + i), 0);
  uint64_t got = 0;
  assert_int_equal(hubclient_wait_ack(&c, 1, T_MS, &got), 0);
  /* Whatever the Ack covers is readable from another connection at the moment it arrives. */
  char sql[160];
  snprintf(sql, sizeof(sql),
           "SELECT count(*) FROM reports WHERE hub_id = 'hub-ack' AND seq <= %llu",
           (unsigned long long)got);
  assert_int_equal(db_count(f, sql), (int64_t)got);
  if (got < 10)
    assert_int_equal(hubclient_wait_ack(&c, 10, T_MS, &got), 0);
  assert_int_equal(got, 10);
  assert_int_equal(db_count(f, "SELECT count(*) FROM reports WHERE hub_id = 'hub-ack'"), 10);
  assert_int_equal(db_count(f, "SELECT value FROM device_state WHERE eui64 = 0x00158d00000000aa "
                               "AND cluster = 1026 AND attr = 0"),
                   2009);
  assert_int_equal(db_count(f, "SELECT stored_seq FROM hubs WHERE hub_id = 'hub-ack'"), 10);
  struct plat_counters k = counters(f);
  assert_int_equal(k.reports_new, 10);
  assert_true(k.commits >= 1);
  char *dev = plat_server_admin(f->srv, "device 00158d00000000aa");
  assert_non_null(strstr(dev, "\"value\":2009"));
  free(dev);
  hubclient_close(&c);
}

static void test_duplicates(void **state) {
  struct fx *f = *state;
  struct hubclient c;
  good_hub(f, &c, "hub-dup");
  for (int i = 0; i < 5; i++)
    assert_int_equal(hubclient_report(&c, 0, 0x42, 0x0006, i), 0);
  assert_int_equal(hubclient_wait_ack(&c, 5, T_MS, NULL), 0);
  /* Resend 3..5 as a hub does after a lost Ack: acknowledged again, stored once. */
  for (uint64_t s = 3; s <= 5; s++)
    assert_int_equal(hubclient_report(&c, s, 0x42, 0x0006, 99), 0);
  uint64_t got = 0;
  assert_int_equal(hubclient_wait_ack(&c, 5, T_MS, &got), 0);
  assert_int_equal(got, 5);
  struct plat_counters k = counters(f);
  assert_int_equal(k.reports_new, 5);
  assert_int_equal(k.reports_duplicate, 3);
  assert_int_equal(db_count(f, "SELECT count(*) FROM reports WHERE hub_id = 'hub-dup'"), 5);
  /* A new session of the same boot resumes from Welcome.acked_seq. */
  hubclient_close(&c);
  good_hub(f, &c, "hub-dup");
  assert_int_equal(c.acked_seq, 5);
  hubclient_close(&c);
}

static void test_seq_gap(void **state) {
  struct fx *f = *state;
  struct hubclient good, c;
  good_hub(f, &good, "good-hub");
  good_hub(f, &c, "hub-gap");
  assert_int_equal(hubclient_report(&c, 1, 0x43, 0x0006, 1), 0);
  assert_int_equal(hubclient_report(&c, 3, 0x43, 0x0006, 1), 0);
  assert_int_equal(hubclient_expect_error(&c, T_MS), HUBRPC__V1__ERROR_CODE__ERROR_BAD_SEQUENCE);
  assert_int_equal(hubclient_wait_closed(&c, T_MS), 0);
  hubclient_close(&c);
  good_hub_works(&good);
  /* The seq accepted before the gap was stored; the hub resumes from it. */
  good_hub(f, &c, "hub-gap");
  assert_int_equal(c.acked_seq, 1);
  hubclient_close(&c);
  hubclient_close(&good);
}

static void test_window_exceeded(void **state) {
  struct fx *f = *state;
  struct hubclient c;
  good_hub(f, &c, "hub-win");
  assert_int_equal(c.max_window, 4);
  /* Five reports in one write: no commit (and no Ack) can happen between them. */
  struct sim_buf b;
  sim_buf_init(&b);
  for (uint64_t s = 1; s <= 5; s++) {
    Hubrpc__V1__Report r = HUBRPC__V1__REPORT__INIT;
    r.seq = s;
    r.device = 0x44;
    sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
    env.body_case = HUBRPC__V1__ENVELOPE__BODY_REPORT;
    env.report = &r;
    assert_int_equal(sim_hubrpc_encode(&b, &env), 0);
  }
  assert_int_equal(hubclient_send_raw(&c, b.data, b.len), 0);
  sim_buf_fini(&b);
  assert_int_equal(hubclient_expect_error(&c, T_MS), HUBRPC__V1__ERROR_CODE__ERROR_WINDOW_EXCEEDED);
  hubclient_close(&c);
}

static void test_duplicate_session(void **state) {
  struct fx *f = *state;
  struct hubclient a, b;
  good_hub(f, &a, "hub-twice");
  good_hub(f, &b, "hub-twice");
  assert_int_equal(hubclient_expect_error(&a, T_MS),
                   HUBRPC__V1__ERROR_CODE__ERROR_DUPLICATE_SESSION);
  assert_int_equal(hubclient_wait_closed(&a, T_MS), 0);
  good_hub_works(&b);
  assert_int_equal(counters(f).sessions_open, 1);
  hubclient_close(&a);
  hubclient_close(&b);
}

static void test_restart_keeps_acked(void **state) {
  struct fx *f = *state;
  struct hubclient c;
  good_hub(f, &c, "hub-restart");
  for (int i = 0; i < 7; i++)
    assert_int_equal(hubclient_report(&c, 0, 0x45, 0x0006, i), 0);
  assert_int_equal(hubclient_wait_ack(&c, 7, T_MS, NULL), 0);
  hubclient_close(&c);
  server_down(f);
  server_up(f);
  good_hub(f, &c, "hub-restart"); /* same boot_id (0x1234) */
  assert_int_equal(c.acked_seq, 7);
  good_hub_works(&c);
  hubclient_close(&c);
  /* A new boot starts a new sequence. */
  assert_int_equal(hubclient_connect(&c, f->port, &f->loop), 0);
  assert_int_equal(hubclient_handshake(&c, "hub-restart", KEY, strlen(KEY), 0x9999, T_MS), 0);
  assert_int_equal(c.acked_seq, 0);
  good_hub_works(&c);
  hubclient_close(&c);
}

static void send_result(struct hubclient *c, uint64_t cmd_id, int status) {
  Hubrpc__V1__CommandResult r = HUBRPC__V1__COMMAND_RESULT__INIT;
  r.seq = c->next_seq++;
  r.cmd_id = cmd_id;
  r.status = status;
  r.device_latency_ms = 12;
  r.device = 0x00158d0000000b0bull;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_COMMAND_RESULT;
  env.command_result = &r;
  assert_int_equal(hubclient_send(c, &env), 0);
  assert_int_equal(hubclient_wait_ack(c, r.seq, T_MS, NULL), 0);
}

static void test_commands(void **state) {
  struct fx *f = *state;
  struct hubclient c;
  uint64_t id = 0, id2 = 0;
  assert_int_equal(plat_server_command(f->srv, "hub-cmd", 1, 1, 6, 2, NULL, 0, 0, 0, &id),
                   SIM_ENOTFOUND);
  good_hub(f, &c, "hub-cmd");
  uint8_t payload[] = {0x01, 0x02};
  assert_int_equal(plat_server_command(f->srv, "hub-cmd", 0x00158d0000000b0bull, 1, 0x0006, 0x02,
                                       payload, sizeof(payload), 0, 0, &id),
                   0);
  sim_envelope *e = NULL;
  assert_int_equal(hubclient_expect(&c, HUBRPC__V1__ENVELOPE__BODY_COMMAND, T_MS, &e, NULL), 0);
  assert_int_equal(e->command->cmd_id, id);
  assert_int_equal(e->command->device, 0x00158d0000000b0bull);
  assert_int_equal(e->command->cluster, 0x0006);
  assert_int_equal(e->command->command, 0x02);
  assert_int_equal(e->command->zcl_payload.len, 2);
  assert_true(e->command->issued_ms > 0);
  sim_hubrpc_free(e);
  send_result(&c, id, HUBRPC__V1__COMMAND_STATUS__COMMAND_OK);
  /* Through the admin line protocol, in process; ids are monotonic. */
  char *r = plat_server_admin(f->srv, "command hub-cmd 00158d0000000b0b 1 0006 01");
  assert_non_null(strstr(r, "\"cmd_id\""));
  free(r);
  assert_int_equal(hubclient_expect(&c, HUBRPC__V1__ENVELOPE__BODY_COMMAND, T_MS, &e, NULL), 0);
  id2 = e->command->cmd_id;
  assert_true(id2 > id);
  sim_hubrpc_free(e);
  send_result(&c, id2, HUBRPC__V1__COMMAND_STATUS__COMMAND_UNSUPPORTED);
  send_result(&c, 99999, HUBRPC__V1__COMMAND_STATUS__COMMAND_OK);
  struct plat_counters k = counters(f);
  assert_int_equal(k.commands_sent, 2);
  assert_int_equal(k.commands_ok, 1);
  assert_int_equal(k.commands_failed, 1);
  assert_int_equal(k.command_results_unknown, 1);
  assert_int_equal(db_count(f, "SELECT count(*) FROM commands WHERE result_status = 0"), 2);
  /* Malformed admin lines get an error and never crash. */
  const char *bad[] = {"",
                       "bogus",
                       "command",
                       "command hub-cmd zz 1 6 2",
                       "command x 1 999 6 2",
                       "command hub-cmd 1 1 6 2 abc",
                       "device",
                       "device 12345678901234567",
                       "device 77",
                       "stats extra",
                       "\xff\xfe",
                       "command \xff 1 1 6 2"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    r = plat_server_admin(f->srv, bad[i]);
    assert_non_null(r);
    assert_non_null(strstr(r, "\"error\""));
    free(r);
  }
  r = plat_server_admin(f->srv, "stats");
  assert_non_null(strstr(r, "\"commands_ok\":1"));
  free(r);
  /* The ids survive a restart. */
  hubclient_close(&c);
  server_down(f);
  server_up(f);
  good_hub(f, &c, "hub-cmd");
  uint64_t id3 = 0;
  assert_int_equal(plat_server_command(f->srv, "hub-cmd", 1, 1, 6, 2, NULL, 0, 0, 0, &id3), 0);
  assert_true(id3 > id2);
  hubclient_close(&c);
}

static void test_device_join_and_toggle_target(void **state) {
  struct fx *f = *state;
  struct hubclient c;
  good_hub(f, &c, "hub-join");
  Hubrpc__V1__DeviceJoined j = HUBRPC__V1__DEVICE_JOINED__INIT;
  j.seq = c.next_seq++;
  j.device = 0x54ef441000000001ull;
  j.model = "lumi.plug.maeu01";
  j.manufacturer = "LUMI";
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_DEVICE_JOINED;
  env.device_joined = &j;
  assert_int_equal(hubclient_send(&c, &env), 0);
  assert_int_equal(hubclient_wait_ack(&c, j.seq, T_MS, NULL), 0);
  assert_int_equal(db_count(f, "SELECT count(*) FROM devices WHERE model = 'lumi.plug.maeu01' "
                               "AND left = 0"),
                   1);
  Hubrpc__V1__DeviceLeft l = HUBRPC__V1__DEVICE_LEFT__INIT;
  l.seq = c.next_seq++;
  l.device = j.device;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_DEVICE_LEFT;
  env.device_left = &l;
  assert_int_equal(hubclient_send(&c, &env), 0);
  assert_int_equal(hubclient_wait_ack(&c, l.seq, T_MS, NULL), 0);
  assert_int_equal(db_count(f, "SELECT count(*) FROM devices WHERE left = 0"), 0);
  struct plat_counters k = counters(f);
  assert_int_equal(k.joined, 1);
  assert_int_equal(k.left, 1);
  hubclient_close(&c);
}

/* Sends a DeviceJoined (join != 0) or DeviceLeft of eui with its ts_ms, without waiting. */
static void send_membership(struct hubclient *c, int join, uint64_t eui, uint64_t ts_ms) {
  Hubrpc__V1__DeviceJoined j = HUBRPC__V1__DEVICE_JOINED__INIT;
  Hubrpc__V1__DeviceLeft l = HUBRPC__V1__DEVICE_LEFT__INIT;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  if (join) {
    j.seq = c->next_seq++;
    j.device = eui;
    j.model = "lumi.sensor_ht.agl02";
    j.manufacturer = "LUMI";
    j.ts_ms = ts_ms;
    env.body_case = HUBRPC__V1__ENVELOPE__BODY_DEVICE_JOINED;
    env.device_joined = &j;
  } else {
    l.seq = c->next_seq++;
    l.device = eui;
    l.ts_ms = ts_ms;
    env.body_case = HUBRPC__V1__ENVELOPE__BODY_DEVICE_LEFT;
    env.device_left = &l;
  }
  assert_int_equal(hubclient_send(c, &env), 0);
}

/* devices.last_seen_ms is written once per device when its group commits, not once per Report:
 * it is still the arrival of the device's latest Report, and a leave that follows Reports in
 * the same group keeps its own time (it is not overwritten by theirs at the commit). */
static void test_last_seen(void **state) {
  struct fx *f = *state;
  struct hubclient c;
  const uint64_t eui = 0x00158d0000007777ull;
  good_hub(f, &c, "hub-seen");
  send_membership(&c, 1, eui, 1000);
  assert_int_equal(hubclient_wait_ack(&c, c.next_seq - 1, T_MS, NULL), 0);
  const char *sql = "SELECT last_seen_ms FROM devices WHERE eui64 = 0x00158d0000007777";
  /* The join's time, then a wall clock past it, so that the Reports' time differs from it. */
  int64_t joined_ms = db_count(f, sql), now_ms = 0;
  for (int i = 0; i < 1000000 && now_ms <= joined_ms; i++) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  }
  assert_true(now_ms > joined_ms);
  for (int i = 0; i < 3; i++)
    assert_int_equal(hubclient_report(&c, 0, eui, 0x0402, 2100 + i), 0);
  assert_int_equal(hubclient_wait_ack(&c, c.next_seq - 1, T_MS, NULL), 0);
  assert_true(db_count(f, sql) >= now_ms);
  char *dev = plat_server_admin(f->srv, "device 00158d0000007777");
  char want[64];
  snprintf(want, sizeof want, "\"last_seen_ms\":%lld", (long long)db_count(f, sql));
  assert_non_null(strstr(dev, want));
  free(dev);
  /* A Report and then a leave, sent together: one group, most likely. */
  assert_int_equal(hubclient_report(&c, 0, eui, 0x0402, 2200), 0);
  send_membership(&c, 0, eui, 5);
  assert_int_equal(hubclient_wait_ack(&c, c.next_seq - 1, T_MS, NULL), 0);
  assert_int_equal(db_count(f, sql), 5);
  hubclient_close(&c);
}

static void test_idle_timeout(void **state) {
  struct fx *f = *state;
  struct hubclient c, quiet;
  good_hub(f, &c, "hub-idle");
  assert_int_equal(c.heartbeat_s, 1);
  /* A hub that never completes its handshake is not affected by the idle rule (10 s). */
  assert_int_equal(hubclient_connect(&quiet, f->port, &f->loop), 0);
  /* Nothing for 3 heartbeats (3 s): Error{TIMEOUT}, then the close. */
  assert_int_equal(hubclient_expect_error(&c, 6000), HUBRPC__V1__ERROR_CODE__ERROR_TIMEOUT);
  assert_int_equal(hubclient_wait_closed(&c, T_MS), 0);
  assert_int_equal(counters(f).idle_timeouts, 1);
  assert_int_equal(counters(f).handshake_timeouts, 0);
  hubclient_close(&c);
  hubclient_close(&quiet);
}

static void test_background_toggles(void **state) {
  struct fx *f = *state;
  struct hubclient c;
  good_hub(f, &c, "hub-plug");
  Hubrpc__V1__DeviceJoined j = HUBRPC__V1__DEVICE_JOINED__INIT;
  j.seq = c.next_seq++;
  j.device = 0x54ef441000000002ull;
  j.model = PLAT_TOGGLE_MODEL;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_DEVICE_JOINED;
  env.device_joined = &j;
  assert_int_equal(hubclient_send(&c, &env), 0);
  /* At 50/s a toggle comes within a few hundred ms. */
  sim_envelope *e = NULL;
  assert_int_equal(hubclient_expect(&c, HUBRPC__V1__ENVELOPE__BODY_COMMAND, T_MS, &e, NULL), 0);
  assert_int_equal(e->command->device, j.device);
  assert_int_equal(e->command->cluster, 0x0006);
  assert_int_equal(e->command->command, 0x02);
  assert_int_equal(e->command->zcl_payload.len, 0);
  assert_int_equal(e->command->endpoint, 1);
  sim_hubrpc_free(e);
  assert_true(counters(f).commands_sent >= 1);
  hubclient_close(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_handshake_ok, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_wrong_mac, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_truncated_then_close, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_frame_too_large, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_varint_too_long, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_unknown_message, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_garbage, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_report_before_auth, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_hello_fields, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_ack_after_commit, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_duplicates, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_seq_gap, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_window_exceeded, fx_setup_small_window, fx_teardown),
      cmocka_unit_test_setup_teardown(test_duplicate_session, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_restart_keeps_acked, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_commands, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_device_join_and_toggle_target, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_last_seen, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_idle_timeout, fx_setup_fast_heartbeat, fx_teardown),
      cmocka_unit_test_setup_teardown(test_background_toggles, fx_setup_toggles, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
